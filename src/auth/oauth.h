/* oauth.h - OAuth2 access tokens for IMAP endpoints (XOAUTH2/OAUTHBEARER).
 *
 * Three sources, chosen by an endpoint's settings:
 *   - client credentials (RFC 6749 4.4): one token for the whole tenant,
 *     used with each mailbox's address as the SASL user (Microsoft 365
 *     app-only IMAP);
 *   - a Google service account: an RS256-signed JWT with sub=<mailbox>,
 *     exchanged by the JWT-bearer grant (RFC 7523): one token per mailbox;
 *   - a token command: argv from a template ({email}), run without a
 *     shell and with a timeout; it prints a token and optionally its
 *     lifetime in seconds.
 *
 * Tokens live in memory only.  A cached token is handed out until the
 * renewal margin before it expires (a minute, or 10% of its lifetime if
 * that is less).  One struct oauth serves every worker thread of a run:
 * the functions below are thread-safe, and two threads asking for the
 * same mailbox's token cause one request, not two.
 *
 * Errors are one line naming the token endpoint (or the command) and
 * what it said, never a secret: ERR_AUTH for a refused grant (wrong
 * client secret, key rejected, bad sub), ERR_CONNECT for an endpoint
 * that cannot be used (unreachable, bad certificate, not JSON),
 * ERR_TRANSIENT for a 5xx or a 429, ERR_USAGE for unusable settings
 * (an unreadable key file, a template without a command). */
#ifndef AUTH_OAUTH_H
#define AUTH_OAUTH_H

#include <time.h>

#include "util/buf.h"
#include "util/err.h"

enum oauth_kind {
	OAUTH_NONE = 0,
	OAUTH_CLIENT_CREDENTIALS,
	OAUTH_SERVICE_ACCOUNT,
	OAUTH_TOKEN_COMMAND,
};

struct oauth_settings {
	enum oauth_kind kind;
	/* a label for messages: the endpoint's name; messages start
	 * "endpoint NAME: " */
	const char *label;
	/* client credentials */
	const char *token_url;
	const char *client_id;
	const char *client_secret; /* plaintext, memory only */
	const char *scope;	   /* also the service account's scope */
	/* service account: the key file's JSON text (client_email,
	 * private_key, token_uri); token_url overrides its token_uri */
	const char *service_account_json;
	/* token command: a template expanded with {email} per argument */
	const char *token_command;
	/* CA file for the token endpoint's certificate; NULL: system store */
	const char *ca_file;
	/* per request or command run; 0: 30 s */
	unsigned timeout_ms;
};

struct oauth;

/* Checks the settings (a service-account key must parse, a URL must be
 * https:// unless it is on loopback); copies what it keeps. */
struct oauth *oauth_create(const struct oauth_settings *set, struct err *err);
/* Wipes every secret and token it holds. */
void oauth_destroy(struct oauth **o);

/* A token for mailbox `email`, good for at least the renewal margin:
 * from the cache, or a new one.  *expires_r (may be NULL) gets when it
 * expires (0: the source did not say). */
int oauth_token(struct oauth *o, const char *email, struct buf *token,
		time_t *expires_r, struct err *err);

/* The server refused `token` (or ended the session because it expired):
 * drop it from the cache, so that the next oauth_token() renews.  A
 * token that is no longer the cached one is ignored (another thread
 * renewed already). */
void oauth_invalidate(struct oauth *o, const char *email, const char *token);

/* Counters, for test-server and for tests: requests made to the token
 * endpoint (or command runs). */
unsigned long oauth_requests(const struct oauth *o);

const char *oauth_kind_name(enum oauth_kind k);

#endif
