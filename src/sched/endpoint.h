/* endpoint.h - connecting and logging in to a saved IMAP endpoint, one way
 * for the runner, verify and test-server.
 *
 * A struct endpoint is made once per endpoint per run and shared by every
 * worker thread of the run: it owns the endpoint's OAuth2 token source
 * (auth/oauth.h), so that one cache of tokens serves the whole run and a
 * tenant-wide token is fetched once, not once per mailbox.
 *
 * Logins by the endpoint's --authentication:
 *   basic        LOGIN user password
 *   plain        AUTHENTICATE PLAIN [authzid] user password
 *   xoauth2 / oauthbearer
 *                a token for the mailbox (creds->email) from the token
 *                source, then AUTHENTICATE; a refused token is dropped
 *                from the cache and ONE renewed token is tried, then the
 *                login fails (ERR_AUTH: the user fails, no retry storm).
 *                A BYE that says the token expired (or
 *                AUTHENTICATIONFAILED) drops the token too, so the
 *                reconnect that follows (a transient error) renews it.
 *
 * Token-source failures keep their class (oauth.h), except that an
 * unreachable token endpoint (ERR_CONNECT) is never retried by the sync
 * engine: its code is cleared.  With client credentials (one token for the
 * tenant) a refused grant is remembered for the run: the next mailbox
 * fails with the same line without asking the token endpoint again. */
#ifndef SCHED_ENDPOINT_H
#define SCHED_ENDPOINT_H

#include <time.h>

#include "auth/oauth.h"
#include "imap/client.h"
#include "state/state.h"
#include "util/err.h"

struct endpoint;

/* Copies what it needs of e (which may be released afterwards).  For an
 * OAuth endpoint, creates its token source: ERR_USAGE if the settings
 * cannot work (see oauth_create()). */
struct endpoint *endpoint_create(const struct state_endpoint *e,
				 struct err *err);
void endpoint_destroy(struct endpoint **epp);

const char *endpoint_name(const struct endpoint *ep);
/* The token source's kind, OAUTH_NONE for a password endpoint. */
enum oauth_kind endpoint_oauth_kind(const struct endpoint *ep);
/* Token requests (or command runs) so far. */
unsigned long endpoint_token_requests(const struct endpoint *ep);

/* Connect with the endpoint's server, port, security and trust.  label
 * names the connection in the trace ("src", "dst"); timeout_ms 0: 120 s. */
struct imap_client *endpoint_connect(const struct endpoint *ep,
				     const char *label,
				     unsigned long long max_bytes_per_second,
				     int timeout_ms, struct err *err);

struct endpoint_creds {
	const char *user;     /* the LOGIN/SASL user, sent verbatim */
	const char *authzid;  /* plain: authorization identity, or NULL */
	const char *password; /* basic/plain; unused with OAuth */
	const char *email;    /* OAuth: the mailbox the token is for */
};

struct endpoint_login_info {
	const char *method;	/* "LOGIN", "AUTHENTICATE XOAUTH2", ... */
	time_t token_expires;	/* OAuth: 0 if the source did not say */
	unsigned token_refused; /* OAuth: tokens the server refused */
};

/* Log in on c as the endpoint says.  info (may be NULL) tells how.
 * Errors: ERR_AUTH (EC_AUTHFAIL) for refused credentials or token,
 * ERR_USAGE for a missing password, else the class of the failure. */
int endpoint_login(struct endpoint *ep, struct imap_client *c,
		   const struct endpoint_creds *cr,
		   struct endpoint_login_info *info, struct err *err);

#endif
