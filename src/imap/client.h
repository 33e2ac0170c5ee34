/* client.h - an IMAP client session: connect (TLS or STARTTLS),
 * capabilities, authentication, and pipelined tagged commands.
 *
 * The session is synchronous with deadlines but never waits for one
 * command's answer before sending the next: imap_client_submit() queues
 * and writes a command and returns at once; imap_client_drain() reads
 * and dispatches responses until at most N commands remain in flight.
 * So a caller keeps the pipeline as deep as it likes (isync's
 * cmd_sendable(), Dovecot's imapc) and pays no round trip per message.
 *
 * Untagged responses go to the caller's handler; literals larger than the
 * parser's inline limit go to the caller's literal sink (parse.h).
 *
 * Errors: a broken connection, a timeout or a BYE fail every command in
 * flight and make the session unusable (ERR_TRANSIENT: reconnect and
 * retry); a tagged NO or BAD is a result, not an error, and is given to
 * the command's callback. */
#ifndef IMAP_CLIENT_H
#define IMAP_CLIENT_H

#include <stdint.h>

#include "imap/parse.h"
#include "imap/write.h"
#include "net/conn.h"
#include "util/err.h"

struct imap_client_settings {
	const char *host;
	unsigned port;
	enum conn_security security;
	struct conn_tls_opts tls;
	int timeout_ms;	   /* per read/write; 0 = 60 s */
	const char *label; /* for the protocol trace, e.g. "src" */
	/* read at most this many bytes a second on average (0: no limit) */
	unsigned long long max_bytes_per_second;
};

/* The outcome of one tagged command, copied out of the parser. */
struct imap_result {
	enum imap_status status; /* OK, NO or BAD */
	char code[64];		 /* resp-text-code name, e.g. "APPENDUID" */
	char code_args[256];
	char text[512];
};

typedef void imap_cmd_callback(void *ctx, const struct imap_result *res);
typedef void imap_untagged_callback(void *ctx, const struct imap_resp *resp);

struct imap_client;

/* Connect, run TLS as the settings ask (CONN_SEC_TLS: STARTTLS or a
 * clean error, never plaintext), read the greeting and capabilities.
 * NULL with err set on failure. */
struct imap_client *imap_client_connect(const struct imap_client_settings *set,
					struct err *err);
void imap_client_destroy(struct imap_client **cp);
/* LOGOUT politely (bounded wait), then destroy. */
void imap_client_logout(struct imap_client **cp);

const struct conn_info *imap_client_conn_info(const struct imap_client *c);
/* The greeting's text, and the capability list as the server sent it. */
const char *imap_client_greeting(const struct imap_client *c);
const char *imap_client_capabilities(const struct imap_client *c);
int imap_client_has_cap(const struct imap_client *c, const char *cap);
int imap_client_is_authenticated(const struct imap_client *c);

/* LOGIN user pass, each sent verbatim as an astring (quoted or literal as
 * needed).  ERR_AUTH on a refused login. */
int imap_client_login(struct imap_client *c, const char *user,
		      const char *password, struct err *err);
/* AUTHENTICATE PLAIN with an optional authorization identity (authzid may
 * be NULL or ""): a Cyrus admin or Dovecot master user acting as authzid. */
int imap_client_auth_plain(struct imap_client *c, const char *authzid,
			   const char *authcid, const char *password,
			   struct err *err);
enum imap_sasl_oauth {
	IMAP_SASL_XOAUTH2,     /* Google's and Microsoft's XOAUTH2 */
	IMAP_SASL_OAUTHBEARER, /* RFC 7628 */
};

/* AUTHENTICATE XOAUTH2 or OAUTHBEARER with a bearer token, the initial
 * response inline when the server offers SASL-IR, else after its "+".
 * A refused token: the server's error challenge (base64 of a JSON object
 * with a "status") is answered as the mechanism asks (an empty response
 * for XOAUTH2, "\x01" for OAUTHBEARER, RFC 7628 3.2.3), the tagged NO is
 * read, and the error is ERR_AUTH/EC_AUTHFAIL naming the user and that
 * status.  A server without AUTH=<mech> is ERR_CONNECT (EC_PROTOCOL): a
 * setting to change, not a token to renew.  The whole exchange is left
 * out of the protocol trace; the token is wiped from every buffer. */
int imap_client_auth_oauth(struct imap_client *c, enum imap_sasl_oauth mech,
			   const char *user, const char *token,
			   struct err *err);
const char *imap_sasl_oauth_name(enum imap_sasl_oauth mech);

/* Called with the text of an untagged BYE when it arrives (before the
 * session breaks): OAuth logins use it to drop a token the server says
 * expired.  ctx_free (may be NULL) is called on ctx when the client is
 * destroyed or the hook replaced. */
typedef void imap_bye_callback(void *ctx, const char *text);
void imap_client_set_bye_hook(struct imap_client *c, imap_bye_callback *cb,
			      void *ctx, void (*ctx_free)(void *ctx));

void imap_client_set_untagged(struct imap_client *c, imap_untagged_callback *cb,
			      void *ctx);
void imap_client_set_sink(struct imap_client *c,
			  const struct imap_literal_sink *sink);
/* A flag (borrowed; NULL: none) that, once set, ends whatever the client
 * is reading at the next chunk of input, mid-response included (a LIST of
 * 200,000 folders is one response): the connection is dropped, since a
 * response cut short cannot be resumed, and the command fails with
 * ERR_TRANSIENT "stopped". */
void imap_client_set_stop(struct imap_client *c, const _Atomic int *stop);
/* The stop flag is up: a response cut short was cut by us, not lost. */
int imap_client_stop_requested(const struct imap_client *c);
/* A cmdbuf set up with the literal mode this server allows. */
void imap_client_cmdbuf_init(const struct imap_client *c,
			     struct imap_cmdbuf *cb);

/* Queue the command and write it (up to its first synchronizing literal,
 * waiting for "+" as needed).  cb (may be NULL) is called once with the
 * tagged result.  The cmdbuf is copied; the caller may release it. */
int imap_client_submit(struct imap_client *c, const struct imap_cmdbuf *cmd,
		       imap_cmd_callback *cb, void *ctx, struct err *err);
/* A command whose last argument is a literal the caller streams (APPEND):
 * cmd ends with the literal header from imap_cmd_literal_header().  After
 * _begin returns 0 the caller writes exactly the literal's bytes with
 * _data and then calls _end. */
int imap_client_stream_begin(struct imap_client *c,
			     const struct imap_cmdbuf *cmd,
			     imap_cmd_callback *cb, void *ctx, struct err *err);
int imap_client_stream_data(struct imap_client *c, const void *data, size_t len,
			    struct err *err);
int imap_client_stream_end(struct imap_client *c, struct err *err);

/* Read and dispatch responses until at most max_inflight commands are
 * waiting for their tagged reply. */
int imap_client_drain(struct imap_client *c, unsigned max_inflight,
		      struct err *err);
unsigned imap_client_inflight(const struct imap_client *c);
/* Submit and wait for one command; the result goes to *res_r. */
int imap_client_run(struct imap_client *c, const struct imap_cmdbuf *cmd,
		    struct imap_result *res_r, struct err *err);
/* imap_client_run() of a plain text command, failing unless it says OK
 * (ERR_FOLDER on NO, with the server's text). */
int imap_client_simple(struct imap_client *c, const char *text,
		       struct err *err);

/* Turn a NO/BAD result into an error of the given class, recognising
 * [UNAVAILABLE], [THROTTLED] and back-off hints as ERR_TRANSIENT. */
int imap_result_to_err(const struct imap_result *res, enum err_class cls,
		       const char *what, struct err *err);

#endif
