/* cmd_test_server.c - `imapmig test-server`: the procedure's Step 1
 * ("verify that you can connect to your IMAP server"), printing what a
 * person needs to fix a connection that does not work. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/server_opts.h"
#include "imap/client.h"
#include "sched/endpoint.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/escape.h"
#include "util/xalloc.h"

struct ts_opts {
	const char *host;
	int port;
	enum conn_security security;
	const char *user;
	const char *password_file;
	const char *authzid;
	int auth_plain;
	const char *oauth_mech; /* "xoauth2", "oauthbearer" or NULL */
	const char *email;	/* OAuth: the mailbox the token is for */
	struct conn_tls_opts tls;
	int timeout_ms;
};

static const char *security_name(enum conn_security s)
{
	switch (s) {
	case CONN_SEC_NONE: return "none";
	case CONN_SEC_SSL: return "ssl";
	case CONN_SEC_TLS: return "tls (STARTTLS)";
	}
	return "?";
}

static void row(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One row of the report; what the server sent (greeting, capabilities,
 * certificate names) is escaped, like every row. */
static json_t *jout; /* --json: the report as one object, no rows */

static void jset(const char *key, json_t *v)
{
	if (jout != NULL)
		json_object_set_new(jout, key, v);
	else
		json_decref(v);
}

/* A failure: the one-line error on stderr, and with --json the object so
 * far with "ok": false and the error. */
static int ts_fail(const struct err *err)
{
	if (jout != NULL) {
		char *s;
		jset("ok", json_false());
		jset("error", json_string(err->msg));
		s = cli_json_dumps(jout);
		puts(s);
		free(s);
		json_decref(jout);
		jout = NULL;
	}
	return cli_fail("test-server", err);
}

static void row(const char *what, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (jout != NULL)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	printf("%-13s %s\n", what, esc(b.p));
	buf_release(&b);
	fflush(stdout);
}

static void count_list(void *ctx, const struct imap_resp *r)
{
	unsigned *n = ctx;

	if (r->status == IMAP_STATUS_NONE && r->arg_count > 0 &&
	    imap_arg_is_atom(&r->args[0], "LIST"))
		(*n)++;
}

static void print_tls(const struct conn_info *ci, const struct ts_opts *o)
{
	long days;

	jset("tls", json_boolean(ci->tls));
	if (!ci->tls)
		return;
	days = (long)((ci->cert_expires - time(NULL)) / 86400);
	jset("tls_version", json_string(ci->tls_version));
	jset("cipher", json_string(ci->cipher));
	jset("cert_subject", json_string(ci->cert_subject));
	jset("cert_issuer", json_string(ci->cert_issuer));
	jset("cert_expires", json_string(ci->cert_not_after));
	jset("cert_days_left", json_integer(days));
	jset("cert_verified", json_boolean(ci->cert_verified));
	row("TLS", "ok: %s, %s", ci->tls_version, ci->cipher);
	row("Certificate", "subject %s", ci->cert_subject);
	row("", "issuer  %s", ci->cert_issuer);
	row("", "expires %s (in %ld days)", ci->cert_not_after, days);
	/* a migration runs for weeks: an expiry in the middle stops it */
	if (ci->cert_expires != 0 && days < 30)
		fprintf(stderr,
			"imapmig: warning: the certificate of %s expires in "
			"%ld "
			"day(s), on %s: renew it before the migration ends\n",
			o->host, days, ci->cert_not_after);
	if (ci->cert_verified)
		row("", "verified: yes (%s)",
		    o->tls.ca_file ? o->tls.ca_file : "system CA store");
	else
		row("",
		    "verified: NO (%s) - accepted only because of "
		    "--accept-untrusted-certificates",
		    ci->cert_verify_msg);
}

static int ts_done(void)
{
	if (jout != NULL) {
		char *s;
		jset("ok", json_true());
		s = cli_json_dumps(jout);
		puts(s);
		free(s);
		json_decref(jout);
		jout = NULL;
	}
	return 0;
}

/* Connect: the address, TLS and certificate, greeting and capabilities
 * reported.  NULL with err set if it fails. */
static struct imap_client *ts_connect(const struct ts_opts *o,
				      struct endpoint *ep, struct err *err)
{
	const struct conn_info *ci;
	struct imap_client *c;

	c = endpoint_connect(ep, "test", 0, o->timeout_ms, err);
	if (c == NULL)
		return NULL;
	ci = imap_client_conn_info(c);
	row("Connect", "ok: %s in %.1f ms", ci->addr, ci->connect_ms);
	jset("address", json_string(ci->addr));
	jset("connect_ms", json_real(ci->connect_ms));
	print_tls(ci, o);
	row("Greeting", "%s", imap_client_greeting(c));
	row("Capabilities", "%s", imap_client_capabilities(c));
	jset("greeting", json_string(imap_client_greeting(c)));
	jset("capabilities", json_string(imap_client_capabilities(c)));
	if (o->security == CONN_SEC_NONE)
		fprintf(stderr, "imapmig: warning: --security none: the "
				"connection is not encrypted; use it only on a "
				"trusted network\n");
	return c;
}

/* Which token source, and how long its token has left: a token that
 * lives minutes is renewed many times in a migration. */
static void ts_token_report(struct endpoint *ep,
			    const struct endpoint_login_info *info)
{
	const char *kind = oauth_kind_name(endpoint_oauth_kind(ep));
	long left = info->token_expires
			    ? (long)(info->token_expires - time(NULL))
			    : -1;

	jset("token_source", json_string(kind));
	jset("token_requests",
	     json_integer((json_int_t)endpoint_token_requests(ep)));
	jset("token_expires_in", left >= 0 ? json_integer(left) : json_null());
	jset("token_refused", json_integer(info->token_refused));
	if (left >= 0)
		row("Token", "%s: %lu request(s), expires in %ld s", kind,
		    endpoint_token_requests(ep), left);
	else
		row("Token", "%s: %lu request(s), lifetime not given", kind,
		    endpoint_token_requests(ep));
}

/* Log in as --user, reported: 0, or -1 with err set. */
static int ts_login(const struct ts_opts *o, struct endpoint *ep,
		    struct imap_client *c, const char *password,
		    struct err *err)
{
	struct endpoint_login_info info;
	struct endpoint_creds cr = {
		.user = o->user,
		.authzid = o->auth_plain ? o->authzid : NULL,
		.password = password,
		.email = o->email ? o->email : o->user,
	};
	int ret = endpoint_login(ep, c, &cr, &info, err);

	if (endpoint_oauth_kind(ep) != OAUTH_NONE)
		ts_token_report(ep, &info);
	if (ret < 0) {
		if (err->code == EC_AUTHFAIL &&
		    endpoint_oauth_kind(ep) == OAUTH_NONE)
			err_suffix(err, ": check --user and the password "
					"(for an admin login, the format the "
					"server wants: user*admin, "
					"user@domain\\admin, ...)");
		return -1;
	}
	jset("login", json_string(o->user));
	jset("login_method", json_string(info.method));
	if (o->auth_plain && o->authzid)
		row("Login", "ok: %s as %s (%s)", o->user, o->authzid,
		    info.method);
	else
		row("Login", "ok: %s (%s)", o->user, info.method);
	return 0;
}

/* The folders the login sees, counted. */
static int ts_folders(struct imap_client *c, struct err *err)
{
	unsigned folders = 0;

	imap_client_set_untagged(c, count_list, &folders);
	if (imap_client_simple(c, "LIST \"\" \"*\"", err) < 0)
		return -1;
	imap_client_set_untagged(c, NULL, NULL);
	row("Folders", "%u", folders);
	jset("folders", json_integer(folders));
	return 0;
}

/* The endpoint test-server talks to: a saved one, or one made of the
 * options, with the same connect and login code as a migration. */
static int ts_run(const struct ts_opts *o, const struct state_endpoint *se,
		  const char *password)
{
	struct endpoint *ep;
	struct imap_client *c;
	struct err err = ERR_INIT;

	row("Server", "%s:%d, security %s", o->host, o->port,
	    security_name(o->security));
	jset("server", json_string(o->host));
	jset("port", json_integer(o->port));
	jset("security", json_string(security_name(o->security)));
	ep = endpoint_create(se, &err);
	if (ep == NULL)
		return ts_fail(&err);
	c = ts_connect(o, ep, &err);
	if (c == NULL) {
		endpoint_destroy(&ep);
		return ts_fail(&err);
	}
	if (o->user == NULL) {
		imap_client_logout(&c);
		endpoint_destroy(&ep);
		row("Result", "all checks passed (no login tried: give --user "
			      "to test one)");
		return ts_done();
	}
	if (ts_login(o, ep, c, password, &err) < 0 || ts_folders(c, &err) < 0) {
		imap_client_destroy(&c);
		endpoint_destroy(&ep);
		return ts_fail(&err);
	}
	imap_client_logout(&c);
	endpoint_destroy(&ep);
	row("Result", "all checks passed");
	return ts_done();
}

/* ---- the options ---- */

struct ts_args {
	const char *host, *user, *password_file, *authzid, *email;
	const char *ca_file, *endpoint;
	long long port, timeout;
	int security_i, auth_i, accept_untrusted, json;
	struct oauth_args oa;
};

static const char *const ts_auth_words[] = {"basic", "plain", "xoauth2",
					    "oauthbearer", NULL};

static const struct opt ts_table[] = {
	OPT_STRING("remote-server", struct ts_args, host, "HOST",
		   "the server to test"),
	OPT_NUMBER("port", COUNT, struct ts_args, port, "N", 1, 65535,
		   " is not a port number (1-65535)",
		   "993 for ssl, 143 otherwise"),
	OPT_CHOICE("security", struct ts_args, security_i, security_words, NULL,
		   "ssl (the default), STARTTLS, or none"),
	OPT_STRING("user", struct ts_args, user, "USER",
		   "log in as USER (else no login is tried)"),
	OPT_STRING("password-file", struct ts_args, password_file, "F",
		   "the password, first line (default: standard input)"),
	OPT_CHOICE("authentication", struct ts_args, auth_i, ts_auth_words,
		   NULL, "how to log in (basic: LOGIN)"),
	OPT_STRING("authzid", struct ts_args, authzid, "ID",
		   "PLAIN's authorization id (admin login as ID)"),
	OPT_STRING("email", struct ts_args, email, "ADDRESS",
		   "OAuth2: the mailbox the token is for (default: --user)"),
	OPT_OAUTH(struct ts_args, oa),
	OPT_STRING("endpoint", struct ts_args, endpoint, "NAME",
		   "a saved endpoint instead of the options above"),
	OPT_SERVER_TLS(struct ts_args),
	OPT_NUMBER("timeout", COUNT, struct ts_args, timeout, "SECONDS", 1,
		   3600, ": give seconds, 1-3600", "for each step (30)"),
	OPT_FLAG("json", 0, struct ts_args, json,
		 "the report as one JSON object"),
	OPT_END(),
};

static const struct opts_cmd ts_cmd = {
	.name = "test-server",
	.group = "test-server",
	.usage = "test-server --remote-server HOST [--port N] [--security "
		 "none|ssl|tls]\n"
		 "         [--user USER [--password-file F]] [options]\n"
		 "       imapmig test-server --endpoint NAME [--user USER] "
		 "[options]",
	.opts = ts_table,
	.notes = "Without --password-file the password is read from standard "
		 "input (not with\nOAuth2).  --port defaults to 993 for ssl, "
		 "143 otherwise.  With OAuth2 the\ntoken is for --email "
		 "(default: --user), from one token source:\n"
		 "  --oauth-token-url URL --oauth-client-id ID "
		 "--oauth-client-secret-file F\n"
		 "    --oauth-scope S\n"
		 "  | --oauth-service-account-file KEY.json --oauth-scope S\n"
		 "  | --token-command 'CMD {email}'",
};

/* What the options say, without a saved endpoint. */
static void ts_opts_from_args(const struct ts_args *a, struct ts_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = a->host;
	o->port = (int)a->port;
	o->security = a->security_i >= 0 ? security_modes[a->security_i]
					 : CONN_SEC_SSL;
	o->user = a->user;
	o->password_file = a->password_file;
	o->authzid = a->authzid;
	o->auth_plain = a->auth_i == 1;
	o->oauth_mech = a->auth_i >= 2 ? ts_auth_words[a->auth_i] : NULL;
	o->email = a->email;
	o->tls.ca_file = a->ca_file;
	o->tls.accept_untrusted = a->accept_untrusted;
	o->timeout_ms = a->timeout > 0 ? (int)a->timeout * 1000 : 30000;
}

/* --endpoint NAME: its server, port, security, trust and login method
 * (its token source too) into o and ep.  0, or the exit code. */
static int ts_from_saved(const struct ts_args *a, struct ts_opts *o,
			 struct state_endpoint *ep)
{
	struct err err = ERR_INIT;
	struct state *st;
	int ret;

	if (a->host != NULL || oauth_args_given(&a->oa))
		return cli_usage_error("test-server: give --endpoint or "
				       "--remote-server (and the login "
				       "options), not both");
	st = cli_state_open("test-server", &ret);
	if (st == NULL)
		return ret;
	if (state_endpoint_get(st, a->endpoint, ep, &err) < 0) {
		state_close(&st);
		return cli_fail("test-server", &err);
	}
	state_close(&st);
	if (ep->kind == STATE_EP_TARGET_MAILDIR)
		return cli_usage_error("test-server: endpoint %s is a Maildir "
				       "target: there is no server to test",
				       a->endpoint);
	o->host = ep->host;
	o->port = (int)ep->port;
	o->security = security_mode(ep->security);
	o->tls.ca_file = ep->ca_file;
	o->tls.accept_untrusted = ep->accept_untrusted;
	o->auth_plain = strcasecmp(ep->authentication, "plain") == 0;
	o->oauth_mech = NULL;
	if (strcasecmp(ep->authentication, "xoauth2") == 0 ||
	    strcasecmp(ep->authentication, "oauthbearer") == 0)
		o->oauth_mech = ep->authentication;
	return 0;
}

/* The OAuth2 options into ep: one token source, complete, its secret or
 * key read.  0, or the exit code. */
static int ts_oauth_source(const struct ts_opts *o, const struct oauth_args *oa,
			   struct state_endpoint *ep)
{
	struct err err = ERR_INIT;
	int n = (oa->client_id || oa->client_secret_file) +
		(oa->service_account_file != NULL) +
		(oa->token_command != NULL);

	if (o->oauth_mech != NULL && n != 1)
		return cli_usage_error(
			"test-server: --authentication %s needs exactly one "
			"token source: client credentials (--oauth-token-url "
			"--oauth-client-id --oauth-client-secret-file "
			"--oauth-scope), --oauth-service-account-file or "
			"--token-command",
			o->oauth_mech);
	if (oa->client_secret_file != NULL &&
	    (ep->oauth_client_secret =
		     cli_read_password(oa->client_secret_file, &err)) == NULL) {
		err_prefix(&err, "--oauth-client-secret-file: ");
		return cli_fail("test-server", &err);
	}
	if (oa->service_account_file != NULL &&
	    (ep->oauth_service_account =
		     cli_read_key_file(oa->service_account_file, &err)) == NULL)
		return cli_fail("test-server", &err);
	if (ep->oauth_client_id &&
	    (!ep->oauth_token_url || !ep->oauth_client_secret ||
	     !ep->oauth_scope))
		return cli_usage_error(
			"test-server: client credentials need all four of "
			"--oauth-token-url, --oauth-client-id, "
			"--oauth-client-secret-file and --oauth-scope");
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* The options as an endpoint, into ep.  0, or the exit code. */
static int ts_from_options(const struct ts_args *a, struct ts_opts *o,
			   struct state_endpoint *ep)
{
	if (oauth_args_given(&a->oa) && o->oauth_mech == NULL)
		return cli_usage_error("test-server: the --oauth-* options and "
				       "--token-command need --authentication "
				       "xoauth2 or oauthbearer");
	if (o->host == NULL)
		return cli_usage_error("test-server: --remote-server HOST or "
				       "--endpoint NAME is required");
	if (o->port == 0)
		o->port = o->security == CONN_SEC_SSL ? 993 : 143;
	ep->name = xstrdup("(given options)");
	ep->host = xstrdup(o->host);
	ep->port = (unsigned)o->port;
	ep->security = xstrdup(security_word(o->security));
	ep->authentication = xstrdup(o->oauth_mech   ? o->oauth_mech
				     : o->auth_plain ? "plain"
						     : "basic");
	ep->ca_file = dup_or_null(o->tls.ca_file);
	ep->accept_untrusted = o->tls.accept_untrusted;
	ep->token_command = dup_or_null(a->oa.token_command);
	ep->oauth_token_url = dup_or_null(a->oa.token_url);
	ep->oauth_client_id = dup_or_null(a->oa.client_id);
	ep->oauth_scope = dup_or_null(a->oa.scope);
	ep->oauth_ca_file = dup_or_null(a->oa.ca_file);
	return ts_oauth_source(o, &a->oa, ep);
}

/* What the login needs, checked, and the password read (not for
 * OAuth2).  0, or the exit code. */
static int ts_login_check(const struct ts_opts *o, char **password)
{
	struct err err = ERR_INIT;

	if (o->authzid && !o->auth_plain)
		return cli_usage_error("test-server: --authzid needs "
				       "--authentication plain");
	if (o->tls.accept_untrusted)
		fprintf(stderr, "imapmig: warning: "
				"--accept-untrusted-certificates: the server's "
				"identity is not checked\n");
	if (o->user == NULL && o->oauth_mech != NULL)
		return cli_usage_error("test-server: --authentication %s needs "
				       "--user (the mailbox to log in as)",
				       o->oauth_mech);
	if (o->user != NULL && o->oauth_mech == NULL) {
		*password = cli_read_password(o->password_file, &err);
		if (*password == NULL)
			return cli_fail("test-server", &err);
	}
	return 0;
}

int cmd_test_server(int argc, char **argv)
{
	struct ts_args a = {.security_i = -1, .auth_i = -1};
	struct ts_opts o;
	struct state_endpoint ep;
	char *password = NULL;
	int nargs, ret;

	ret = opts_parse(&ts_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	ts_opts_from_args(&a, &o);
	memset(&ep, 0, sizeof(ep));
	if (a.endpoint != NULL)
		ret = ts_from_saved(&a, &o, &ep);
	else
		ret = ts_from_options(&a, &o, &ep);
	if (ret == 0)
		ret = ts_login_check(&o, &password);
	if (ret == 0) {
		if (a.json)
			jout = json_object();
		ret = ts_run(&o, &ep, password);
	}
	cli_password_free(&password);
	state_endpoint_release(&ep);
	return ret;
}
