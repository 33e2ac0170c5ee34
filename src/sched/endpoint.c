/* endpoint.c - see endpoint.h. */
#include "sched/endpoint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

enum ep_auth { EP_LOGIN, EP_PLAIN, EP_XOAUTH2, EP_OAUTHBEARER };

struct endpoint {
	char *name, *host, *ca_file;
	unsigned port;
	enum conn_security security;
	int accept_untrusted;
	enum ep_auth auth;
	enum oauth_kind kind;
	struct oauth *oauth;
	pthread_mutex_t lock;
	/* client credentials: a grant the token endpoint refused, kept for
	 * the run (cls ERR_NONE: none) */
	struct err refused;
};

static enum conn_security sec_of(const char *s)
{
	if (s != NULL && strcasecmp(s, "none") == 0)
		return CONN_SEC_NONE;
	if (s != NULL && strcasecmp(s, "tls") == 0)
		return CONN_SEC_TLS;
	return CONN_SEC_SSL;
}

static enum ep_auth auth_of(const char *s)
{
	if (s == NULL)
		return EP_LOGIN;
	if (strcasecmp(s, "plain") == 0)
		return EP_PLAIN;
	if (strcasecmp(s, "xoauth2") == 0)
		return EP_XOAUTH2;
	if (strcasecmp(s, "oauthbearer") == 0)
		return EP_OAUTHBEARER;
	return EP_LOGIN;
}

struct endpoint *endpoint_create(const struct state_endpoint *e,
				 struct err *err)
{
	struct endpoint *ep = xcalloc(1, sizeof(*ep));

	ep->name = xstrdup(e->name ? e->name : "?");
	ep->host = xstrdup(e->host ? e->host : "");
	ep->ca_file = e->ca_file ? xstrdup(e->ca_file) : NULL;
	ep->port = e->port;
	ep->security = sec_of(e->security);
	ep->accept_untrusted = e->accept_untrusted;
	ep->auth = auth_of(e->authentication);
	pthread_mutex_init(&ep->lock, NULL);
	if (ep->auth == EP_XOAUTH2 || ep->auth == EP_OAUTHBEARER) {
		struct oauth_settings set;
		memset(&set, 0, sizeof(set));
		set.kind = e->oauth_client_id	      ? OAUTH_CLIENT_CREDENTIALS
			   : e->oauth_service_account ? OAUTH_SERVICE_ACCOUNT
			   : e->token_command	      ? OAUTH_TOKEN_COMMAND
						      : OAUTH_NONE;
		if (set.kind == OAUTH_NONE) {
			err_set(err, ERR_USAGE, EC_NONE,
				"endpoint %s uses --authentication %s but has "
				"no token source: give --oauth-client-id "
				"(with --oauth-token-url, "
				"--oauth-client-secret-file, --oauth-scope), "
				"--oauth-service-account-file or "
				"--token-command with 'imapmig endpoint set'",
				ep->name, e->authentication);
			endpoint_destroy(&ep);
			return NULL;
		}
		set.label = ep->name;
		set.token_url = e->oauth_token_url;
		set.client_id = e->oauth_client_id;
		set.client_secret = e->oauth_client_secret;
		set.scope = e->oauth_scope;
		set.service_account_json = e->oauth_service_account;
		set.token_command = e->token_command;
		set.ca_file = e->oauth_ca_file;
		ep->kind = set.kind;
		ep->oauth = oauth_create(&set, err);
		if (ep->oauth == NULL) {
			/* its messages name the endpoint already */
			endpoint_destroy(&ep);
			return NULL;
		}
	}
	return ep;
}

void endpoint_destroy(struct endpoint **epp)
{
	struct endpoint *ep = *epp;

	if (ep == NULL)
		return;
	*epp = NULL;
	oauth_destroy(&ep->oauth);
	pthread_mutex_destroy(&ep->lock);
	free(ep->name);
	free(ep->host);
	free(ep->ca_file);
	free(ep);
}

const char *endpoint_name(const struct endpoint *ep)
{
	return ep->name;
}

enum oauth_kind endpoint_oauth_kind(const struct endpoint *ep)
{
	return ep->kind;
}

unsigned long endpoint_token_requests(const struct endpoint *ep)
{
	return ep->oauth ? oauth_requests(ep->oauth) : 0;
}

struct imap_client *endpoint_connect(const struct endpoint *ep,
				     const char *label,
				     unsigned long long max_bytes_per_second,
				     int timeout_ms, struct err *err)
{
	struct imap_client_settings set = {
		.host = ep->host,
		.port = ep->port,
		.security = ep->security,
		.tls = {ep->ca_file, ep->accept_untrusted},
		.timeout_ms = timeout_ms > 0 ? timeout_ms : 120000,
		.label = label,
		.max_bytes_per_second = max_bytes_per_second,
	};

	return imap_client_connect(&set, err);
}

/* What a BYE needs to drop the session's token. */
struct bye_watch {
	struct oauth *oauth;
	char *email;
	char *token;
	char label[64];
};

static void bye_watch_free(void *ctx)
{
	struct bye_watch *bw = ctx;

	free(bw->email);
	OPENSSL_cleanse(bw->token, strlen(bw->token));
	free(bw->token);
	free(bw);
}

static int says_token_expired(const char *text)
{
	return strcasestr(text, "expired") != NULL ||
	       strcasestr(text, "AUTHENTICATIONFAILED") != NULL;
}

static void bye_seen(void *ctx, const char *text)
{
	struct bye_watch *bw = ctx;

	if (!says_token_expired(text))
		return;
	/* the reconnect that follows (a transient error) asks for a new
	 * token; another thread's newer token is left alone */
	log_info("endpoint %s: the server ended the session of %s (token "
		 "expired): the next login renews the token",
		 bw->label, bw->email);
	oauth_invalidate(bw->oauth, bw->email, bw->token);
}

static int get_token(struct endpoint *ep, const char *email, struct buf *tok,
		     time_t *expires, struct err *err)
{
	int ret;

	pthread_mutex_lock(&ep->lock);
	if (ep->refused.cls != ERR_NONE) {
		*err = ep->refused;
		pthread_mutex_unlock(&ep->lock);
		return -1;
	}
	pthread_mutex_unlock(&ep->lock);
	ret = oauth_token(ep->oauth, email, tok, expires, err);
	if (ret == 0)
		return 0;
	if (err->cls == ERR_CONNECT || err->cls == ERR_USAGE) {
		/* a token endpoint that cannot be used is a setting to
		 * fix: the sync engine must not retry it */
		err->cls = ERR_CONNECT;
		err->code = EC_NONE;
	}
	if (ep->kind == OAUTH_CLIENT_CREDENTIALS && err->cls != ERR_TRANSIENT) {
		pthread_mutex_lock(&ep->lock);
		if (ep->refused.cls == ERR_NONE)
			ep->refused = *err;
		pthread_mutex_unlock(&ep->lock);
	}
	return -1;
}

static int oauth_login(struct endpoint *ep, struct imap_client *c,
		       const struct endpoint_creds *cr,
		       struct endpoint_login_info *info, struct err *err)
{
	enum imap_sasl_oauth mech = ep->auth == EP_OAUTHBEARER
					    ? IMAP_SASL_OAUTHBEARER
					    : IMAP_SASL_XOAUTH2;
	const char *email = cr->email ? cr->email : cr->user;
	struct buf tok = BUF_INIT;
	int attempt, ret = -1;

	if (info != NULL)
		info->method = mech == IMAP_SASL_OAUTHBEARER
				       ? "AUTHENTICATE OAUTHBEARER"
				       : "AUTHENTICATE XOAUTH2";
	for (attempt = 0; attempt < 2; attempt++) {
		time_t expires = 0;
		struct bye_watch *bw;

		buf_reset(&tok);
		if (get_token(ep, email, &tok, &expires, err) < 0) {
			err_prefix(err, "user %s: ", email);
			break;
		}
		if (info != NULL)
			info->token_expires = expires;
		/* a BYE from now on (at login or mid-session) may say the
		 * token expired */
		bw = xcalloc(1, sizeof(*bw));
		bw->oauth = ep->oauth;
		bw->email = xstrdup(email);
		bw->token = xstrdup(tok.p);
		snprintf(bw->label, sizeof(bw->label), "%s", ep->name);
		imap_client_set_bye_hook(c, bye_seen, bw, bye_watch_free);
		ret = imap_client_auth_oauth(c, mech, cr->user, tok.p, err);
		if (ret == 0 || err->code != EC_AUTHFAIL)
			break;
		/* refused: drop it, and try once with a renewed token */
		oauth_invalidate(ep->oauth, email, tok.p);
		if (info != NULL)
			info->token_refused++;
		if (attempt == 0)
			log_info("endpoint %s: %s; renewing the token once",
				 ep->name, err->msg);
	}
	OPENSSL_cleanse(tok.p, tok.len);
	buf_release(&tok);
	return ret;
}

int endpoint_login(struct endpoint *ep, struct imap_client *c,
		   const struct endpoint_creds *cr,
		   struct endpoint_login_info *info, struct err *err)
{
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (ep->auth == EP_XOAUTH2 || ep->auth == EP_OAUTHBEARER)
		return oauth_login(ep, c, cr, info, err);
	if (cr->password == NULL)
		return err_set(err, ERR_USAGE, EC_AUTHFAIL,
			       "endpoint %s has no password for %s: give one",
			       ep->name, cr->user);
	if (ep->auth == EP_PLAIN) {
		if (info != NULL)
			info->method = "AUTHENTICATE PLAIN";
		return imap_client_auth_plain(c, cr->authzid, cr->user,
					      cr->password, err);
	}
	if (info != NULL)
		info->method = "LOGIN";
	return imap_client_login(c, cr->user, cr->password, err);
}
