/* client_priv.h - what the files of the IMAP client share, and nothing
 * else includes: the session and command structures, and the steps of the
 * one command path.
 *
 *   client.c       the session: connect, greeting, STARTTLS, capabilities,
 *                  settings, LOGOUT and destroy
 *   client_cmd.c   commands out (tags, wait points, streamed literals) and
 *                  responses in (parse, trace, dispatch to the callbacks)
 *   client_auth.c  LOGIN, AUTHENTICATE PLAIN, XOAUTH2 and OAUTHBEARER */
#ifndef IMAP_CLIENT_PRIV_H
#define IMAP_CLIENT_PRIV_H

#include "imap/client.h"

struct imap_cmd {
	struct imap_cmd *next;
	char tag[16];
	imap_cmd_callback *cb;
	void *ctx;
	int sensitive;
};

struct imap_client {
	struct conn *conn;
	struct imap_parser *parser;
	char *host;
	unsigned port;
	char label[32];
	char *greeting;
	char *caps; /* space-separated, as sent */
	int authenticated;
	unsigned next_tag;
	/* In flight, oldest first. */
	struct imap_cmd *head, *tail;
	unsigned inflight;
	/* The command whose synchronizing literal waits for "+". */
	struct imap_cmd *awaiting_cont;
	int got_cont;
	/* The command being streamed (stream_begin .. stream_end). */
	struct imap_cmd *streaming;
	char bye[256];
	int broken;
	struct err broken_err;
	imap_untagged_callback *untagged_cb;
	void *untagged_ctx;
	imap_bye_callback *bye_cb;
	void *bye_ctx;
	void (*bye_free)(void *ctx);
	/* an AUTHENTICATE exchange is under way: continuations are kept
	 * in cont (not traced), not treated as a literal's go-ahead */
	int in_auth;
	char cont[2048];
	const _Atomic int *stop; /* imap_client_set_stop() */
};

/* client.c */

/* Forget the capabilities and ask for them again (after STARTTLS, after a
 * login whose OK did not carry them); ERR_CONNECT if none come. */
int client_refresh_caps(struct imap_client *c, struct err *err);

/* client_cmd.c */

/* -1 with the error that broke the session, else 0. */
int client_check_usable(struct imap_client *c, struct err *err);
/* A status response's [CAPABILITY ...] replaces the capabilities. */
void client_handle_code(struct imap_client *c, const struct imap_resp *r);
/* Feed the parser from the connection until one response is complete:
 * 0 and *resp_r (valid until the next feed); -1 if the bytes are no IMAP
 * (imap_parser_error() says why); -2 if the connection failed or the stop
 * flag is up (err says which).  Traces what it reads. */
int client_next_response(struct imap_client *c, const struct imap_resp **resp_r,
			 struct err *err);
/* client_next_response(), then dispatch the response; any failure breaks
 * the session. */
int client_read_one(struct imap_client *c, struct err *err);
int client_flush(struct imap_client *c, struct err *err);
/* Write bytes of a command; a sensitive one is traced as its tag and name
 * only (first: this is the command's first segment). */
int client_send_bytes(struct imap_client *c, const char *p, size_t len,
		      int sensitive, int first, struct err *err);
/* A new command with the next tag, queued as in flight. */
struct imap_cmd *client_cmd_new(struct imap_client *c, imap_cmd_callback *cb,
				void *ctx, int sensitive);
/* Send tag + cmd bytes, honouring wait points; with final_crlf the
 * command is complete.  Returns 1 if the server refused it early. */
int client_send_cmd(struct imap_client *c, struct imap_cmd *cmd,
		    const struct imap_cmdbuf *cb, int final_crlf,
		    struct err *err);
/* A command callback that copies the result to ctx (a struct
 * imap_result); client_forget_result() detaches it after a failure. */
void client_store_result(void *ctx, const struct imap_result *res);
void client_forget_result(struct imap_client *c, void *res_r);

#endif
