/* oauth_int.h - what the token sources of oauth.c share (not public).
 *
 * Each source fills a struct oauth_fetched: a token it allocated (the
 * cache takes it over and wipes it when it is dropped) and its lifetime
 * in seconds (0: the source did not say). */
#ifndef AUTH_OAUTH_INT_H
#define AUTH_OAUTH_INT_H

#include <stddef.h>

#include "auth/oauth.h"

/* Responses and command outputs larger than this are refused. */
#define OAUTH_MAX_RESPONSE (64 * 1024)
/* A token no source gave a lifetime for is reused this long at most. */
#define OAUTH_DEFAULT_LIFETIME_S 300
/* A failure that is not transient (refused grant, unusable endpoint) is
 * the answer for the same key this long, without a new request: so that
 * a wrong client secret costs one request, not one per mailbox. */
#define OAUTH_FAIL_HOLD_S 30

struct oauth_fetched {
	char *token;
	size_t token_len;
	unsigned long long lifetime_s;
};

/* Zero and free a fetched token. */
void oauth_fetched_wipe(struct oauth_fetched *f);

/* --- token command (oauth_cmd.c) --- */

/* Split `template` into argv words for `email`: whitespace separates
 * words; '...' is literal (but for placeholders); "..." keeps spaces, and a
 * backslash there escapes " and \; outside quotes a backslash escapes the next
 * character.  {email}, {local} and {domain} are replaced inside any
 * word (the value never splits a word); {{ and }} are literal braces.
 * *argv_r is a NULL-terminated array the caller frees with
 * oauth_argv_free().  -1 and ERR_USAGE on a bad template. */
int oauth_argv_split(const char *template, const char *email, char ***argv_r,
		     int *argc_r, struct err *err);
void oauth_argv_free(char **argv);
/* What a token command printed: a token of printable ASCII, then
 * optionally its lifetime (1 s to 366 days).  Pure: the fuzz target
 * calls it. */
int oauth_cmd_parse_output(const char *label, const char *prog,
			   const char *email, struct buf *out,
			   struct oauth_fetched *f, struct err *err);

/* Run the token command for `email` (no shell, stdin and stderr on
 * /dev/null, stdout captured up to OAUTH_MAX_RESPONSE, killed after
 * timeout_ms) and parse its output: a token, then optionally its
 * lifetime in seconds (same line or next).  Nothing it printed ever
 * goes into err. */
int oauth_cmd_fetch(const char *label, const char *template, const char *email,
		    unsigned timeout_ms, struct oauth_fetched *out,
		    struct err *err);

/* --- HTTPS token endpoint (oauth_http.c) --- */

/* A URL is usable if it is https://, or http:// to a loopback host. */
int oauth_url_check(const char *label, const char *what, const char *url,
		    struct err *err);

struct oauth_post {
	const char *label;
	const char *url;
	const char *ca_file;
	unsigned timeout_ms;
	/* the form body (holds secrets: wiped by the caller) */
	const char *body;
	/* for messages: "the client credentials", "the assertion for x" */
	const char *what;
	/* secrets that must never reach a message (NULL-terminated) */
	const char *const *secrets;
	/* the URL's host is loopback: no proxy */
	int loopback;
};

/* 1 if the URL's host is 127.x, ::1 or localhost. */
int oauth_url_is_loopback(const char *url);

/* POST the form and parse the token response. */
int oauth_http_fetch(const struct oauth_post *p, struct oauth_fetched *out,
		     struct err *err);

/* The answer (status, body) of a token endpoint: a token into out, or
 * the error it means.  Pure: the fuzz target calls it. */
int oauth_http_parse_answer(const struct oauth_post *p, long status,
			    long retry_after_s, struct buf *body,
			    struct oauth_fetched *out, struct err *err);

/* Append a form field name=value (value URL-encoded) to b, with '&'
 * before it unless b is empty.  b should have no cap. */
void oauth_form_add(struct buf *b, const char *name, const char *value);

/* --- service account (oauth_jwt.c) --- */

struct oauth_sa;
/* Parse the key file's JSON (client_email, private_key, token_uri). */
struct oauth_sa *oauth_sa_create(const char *label, const char *json,
				 struct err *err);
void oauth_sa_destroy(struct oauth_sa **sa);
const char *oauth_sa_token_uri(const struct oauth_sa *sa);
/* The signed JWT for sub=`email` into out (which the caller wipes). */
int oauth_sa_assertion(const struct oauth_sa *sa, const char *label,
		       const char *scope, const char *aud, const char *email,
		       time_t now, struct buf *out, struct err *err);

/* --- oauth.c --- */

/* A token of life_ms is handed out until this long before it expires:
 * a minute, or 10% of its life if that is less. */
long long oauth_renew_margin_ms(long long life_ms);

/* Milliseconds of the monotonic clock (deadlines, token lifetimes). */
long long oauth_mono_ms(void);

/* Replace every occurrence of each secret in e->msg by "***". */
void oauth_scrub(struct err *e, const char *const *secrets);

#endif
