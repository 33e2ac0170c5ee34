/* cmd_test_server.c - `imapmig test-server`: the procedure's Step 1
 * ("verify that you can connect to your IMAP server"), printing what a
 * person needs to fix a connection that does not work. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
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

/* The endpoint test-server talks to: a saved one, or one made of the
 * options, with the same connect and login code as a migration. */
static int run(const struct ts_opts *o, const struct state_endpoint *se,
	       const char *password)
{
	struct endpoint *ep;
	struct endpoint_login_info info;
	struct imap_client *c;
	struct err err = ERR_INIT;
	unsigned folders = 0;
	int ret;

	row("Server", "%s:%d, security %s", o->host, o->port,
	    security_name(o->security));
	jset("server", json_string(o->host));
	jset("port", json_integer(o->port));
	jset("security", json_string(security_name(o->security)));
	ep = endpoint_create(se, &err);
	if (ep == NULL)
		return ts_fail(&err);
	c = endpoint_connect(ep, "test", 0, o->timeout_ms, &err);
	if (c == NULL) {
		endpoint_destroy(&ep);
		return ts_fail(&err);
	}
	{
		const struct conn_info *ci = imap_client_conn_info(c);
		row("Connect", "ok: %s in %.1f ms", ci->addr, ci->connect_ms);
		jset("address", json_string(ci->addr));
		jset("connect_ms", json_real(ci->connect_ms));
		print_tls(ci, o);
	}
	row("Greeting", "%s", imap_client_greeting(c));
	row("Capabilities", "%s", imap_client_capabilities(c));
	jset("greeting", json_string(imap_client_greeting(c)));
	jset("capabilities", json_string(imap_client_capabilities(c)));
	if (o->security == CONN_SEC_NONE)
		fprintf(stderr, "imapmig: warning: --security none: the "
				"connection is not encrypted; use it only on a "
				"trusted network\n");
	if (o->user == NULL) {
		imap_client_logout(&c);
		endpoint_destroy(&ep);
		row("Result", "all checks passed (no login tried: give --user "
			      "to test one)");
		return ts_done();
	}
	{
		struct endpoint_creds cr = {
			.user = o->user,
			.authzid = o->auth_plain ? o->authzid : NULL,
			.password = password,
			.email = o->email ? o->email : o->user,
		};
		ret = endpoint_login(ep, c, &cr, &info, &err);
	}
	if (endpoint_oauth_kind(ep) != OAUTH_NONE) {
		/* which source, and how long its token has left: a token
		 * that lives minutes is renewed many times in a migration */
		long left = info.token_expires
				    ? (long)(info.token_expires - time(NULL))
				    : -1;
		jset("token_source",
		     json_string(oauth_kind_name(endpoint_oauth_kind(ep))));
		jset("token_requests",
		     json_integer((json_int_t)endpoint_token_requests(ep)));
		jset("token_expires_in",
		     left >= 0 ? json_integer(left) : json_null());
		jset("token_refused", json_integer(info.token_refused));
		if (left >= 0)
			row("Token", "%s: %lu request(s), expires in %ld s",
			    oauth_kind_name(endpoint_oauth_kind(ep)),
			    endpoint_token_requests(ep), left);
		else
			row("Token", "%s: %lu request(s), lifetime not given",
			    oauth_kind_name(endpoint_oauth_kind(ep)),
			    endpoint_token_requests(ep));
	}
	if (ret < 0) {
		if (err.code == EC_AUTHFAIL &&
		    endpoint_oauth_kind(ep) == OAUTH_NONE)
			err_suffix(&err, ": check --user and the password "
					 "(for an admin login, the format the "
					 "server wants: user*admin, "
					 "user@domain\\admin, ...)");
		imap_client_destroy(&c);
		endpoint_destroy(&ep);
		return ts_fail(&err);
	}
	jset("login", json_string(o->user));
	jset("login_method", json_string(info.method));
	if (o->auth_plain && o->authzid)
		row("Login", "ok: %s as %s (%s)", o->user, o->authzid,
		    info.method);
	else
		row("Login", "ok: %s (%s)", o->user, info.method);
	imap_client_set_untagged(c, count_list, &folders);
	if (imap_client_simple(c, "LIST \"\" \"*\"", &err) < 0) {
		imap_client_destroy(&c);
		endpoint_destroy(&ep);
		return ts_fail(&err);
	}
	imap_client_set_untagged(c, NULL, NULL);
	row("Folders", "%u", folders);
	jset("folders", json_integer(folders));
	imap_client_logout(&c);
	endpoint_destroy(&ep);
	row("Result", "all checks passed");
	return ts_done();
}

static void help(void)
{
	puts("usage: imapmig test-server --remote-server HOST [--port N]\n"
	     "         [--security none|ssl|tls] [--user USER "
	     "[--password-file F]]\n"
	     "         [--authentication basic|plain [--authzid ID]]\n"
	     "         [--authentication xoauth2|oauthbearer [--email "
	     "ADDRESS] OAUTH2]\n"
	     "           OAUTH2: --oauth-token-url URL --oauth-client-id ID "
	     "--oauth-client-secret-file F\n"
	     "                   --oauth-scope S | "
	     "--oauth-service-account-file KEY.json --oauth-scope S\n"
	     "                 | --token-command 'CMD {email}'   "
	     "[--oauth-ca-file F]\n"
	     "         [--endpoint NAME (a saved endpoint instead of the "
	     "above)]\n"
	     "         [--ca-file F] [--accept-untrusted-certificates] "
	     "[--timeout SECONDS] [--json]\n\n"
	     "Without --password-file the password is read from standard "
	     "input (not with OAuth2).\n--port defaults to 993 for ssl, 143 "
	     "otherwise.  With OAuth2 the token is for --email (default: "
	     "--user).");
}

int cmd_test_server(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"remote-server", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{"security", required_argument, NULL, 's'},
		{"user", required_argument, NULL, 'u'},
		{"password-file", required_argument, NULL, 'P'},
		{"password", required_argument, NULL, 'W'},
		{"authentication", required_argument, NULL, 'a'},
		{"authzid", required_argument, NULL, 'z'},
		{"ca-file", required_argument, NULL, 'c'},
		{"accept-untrusted-certificates", no_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 't'},
		{"endpoint", required_argument, NULL, 'e'},
		{"email", required_argument, NULL, 'E'},
		{"token-command", required_argument, NULL, 'T'},
		{"oauth-token-url", required_argument, NULL, 'U'},
		{"oauth-client-id", required_argument, NULL, 'C'},
		{"oauth-client-secret-file", required_argument, NULL, 'S'},
		{"oauth-scope", required_argument, NULL, 'O'},
		{"oauth-service-account-file", required_argument, NULL, 'G'},
		{"oauth-ca-file", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct ts_opts o = {.security = CONN_SEC_SSL, .timeout_ms = 30000};
	char *password = NULL;
	const char *endpoint = NULL;
	struct state_endpoint ep;
	struct err err = ERR_INIT;
	const char *secret_file = NULL, *key_file = NULL;
	int ch, ret, oauth_opts = 0;

	o.port = 0;
	memset(&ep, 0, sizeof(ep));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': o.host = optarg; break;
		case 'p':
			o.port = cli_parse_port(optarg);
			if (o.port < 0)
				return cli_usage_error("test-server: --port "
						       "%s is not a port "
						       "number (1-65535)",
						       optarg);
			break;
		case 's':
			if (strcasecmp(optarg, "none") == 0)
				o.security = CONN_SEC_NONE;
			else if (strcasecmp(optarg, "ssl") == 0)
				o.security = CONN_SEC_SSL;
			else if (strcasecmp(optarg, "tls") == 0)
				o.security = CONN_SEC_TLS;
			else
				return cli_usage_error("test-server: "
						       "--security %s: use "
						       "none, ssl or tls",
						       optarg);
			break;
		case 'u': o.user = optarg; break;
		case 'P': o.password_file = optarg; break;
		case 'a':
			if (strcasecmp(optarg, "plain") == 0)
				o.auth_plain = 1;
			else if (strcasecmp(optarg, "xoauth2") == 0)
				o.oauth_mech = "xoauth2";
			else if (strcasecmp(optarg, "oauthbearer") == 0)
				o.oauth_mech = "oauthbearer";
			else if (strcasecmp(optarg, "basic") != 0)
				return cli_usage_error(
					"test-server: "
					"--authentication %s: "
					"use basic, plain, xoauth2 or "
					"oauthbearer",
					optarg);
			break;
		case 'E': o.email = optarg; break;
		case 'T':
			ep.token_command = xstrdup(optarg);
			oauth_opts = 1;
			break;
		case 'U':
			ep.oauth_token_url = xstrdup(optarg);
			oauth_opts = 1;
			break;
		case 'C':
			ep.oauth_client_id = xstrdup(optarg);
			oauth_opts = 1;
			break;
		case 'O':
			ep.oauth_scope = xstrdup(optarg);
			oauth_opts = 1;
			break;
		case 'A':
			ep.oauth_ca_file = xstrdup(optarg);
			oauth_opts = 1;
			break;
		case 'S':
			secret_file = optarg;
			oauth_opts = 1;
			break;
		case 'G':
			key_file = optarg;
			oauth_opts = 1;
			break;
		case 'z': o.authzid = optarg; break;
		case 'c': o.tls.ca_file = optarg; break;
		case 'k': o.tls.accept_untrusted = 1; break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 3600)
				return cli_usage_error("test-server: "
						       "--timeout %s: give "
						       "seconds, 1-3600",
						       optarg);
			o.timeout_ms = (int)v * 1000;
			break;
		}
		case 'e': endpoint = optarg; break;
		case 'h': help(); return 0;
		case 'j':
			if (jout == NULL)
				jout = json_object();
			break;
		case 'W':
			return cli_bad_option("test-server", "--password",
					      "imapmig test-server --help");
		default:
			return cli_bad_option("test-server", argv[optind - 1],
					      "imapmig test-server --help");
		}
	}
	if (optind < argc)
		return cli_usage_error("test-server: unexpected argument '%s'",
				       argv[optind]);
	if (endpoint != NULL) {
		/* A saved endpoint: its server, port, security, trust and
		 * login method (its token source too). */
		struct state *st;
		if (o.host != NULL || oauth_opts)
			return cli_usage_error(
				"test-server: give --endpoint "
				"or --remote-server (and the login options), "
				"not both");
		state_endpoint_release(&ep);
		st = cli_state_open("test-server", &ret);
		if (st == NULL)
			return ret;
		if (state_endpoint_get(st, endpoint, &ep, &err) < 0) {
			state_close(&st);
			return cli_fail("test-server", &err);
		}
		state_close(&st);
		if (ep.kind == STATE_EP_TARGET_MAILDIR) {
			state_endpoint_release(&ep);
			return cli_usage_error("test-server: endpoint %s is a "
					       "Maildir target: there is no "
					       "server to test",
					       endpoint);
		}
		o.host = ep.host;
		o.port = (int)ep.port;
		o.security =
			strcasecmp(ep.security, "none") == 0  ? CONN_SEC_NONE
			: strcasecmp(ep.security, "tls") == 0 ? CONN_SEC_TLS
							      : CONN_SEC_SSL;
		o.tls.ca_file = ep.ca_file;
		o.tls.accept_untrusted = ep.accept_untrusted;
		o.auth_plain = strcasecmp(ep.authentication, "plain") == 0;
		if (strcasecmp(ep.authentication, "xoauth2") == 0 ||
		    strcasecmp(ep.authentication, "oauthbearer") == 0)
			o.oauth_mech = ep.authentication;
	} else {
		/* the options as an endpoint */
		if (oauth_opts && o.oauth_mech == NULL) {
			state_endpoint_release(&ep);
			return cli_usage_error(
				"test-server: the --oauth-* options and "
				"--token-command need --authentication "
				"xoauth2 or oauthbearer");
		}
		ep.name = xstrdup("(given options)");
	}
	if (o.host == NULL) {
		state_endpoint_release(&ep);
		return cli_usage_error("test-server: --remote-server HOST or "
				       "--endpoint NAME is required");
	}
	if (o.port == 0)
		o.port = o.security == CONN_SEC_SSL ? 993 : 143;
	if (endpoint == NULL) {
		int n = (ep.oauth_client_id || secret_file) +
			(key_file != NULL) + (ep.token_command != NULL);
		ep.host = xstrdup(o.host);
		ep.port = (unsigned)o.port;
		ep.security = xstrdup(o.security == CONN_SEC_NONE  ? "none"
				      : o.security == CONN_SEC_TLS ? "tls"
								   : "ssl");
		ep.authentication = xstrdup(o.oauth_mech   ? o.oauth_mech
					    : o.auth_plain ? "plain"
							   : "basic");
		ep.ca_file = o.tls.ca_file ? xstrdup(o.tls.ca_file) : NULL;
		ep.accept_untrusted = o.tls.accept_untrusted;
		if (o.oauth_mech != NULL && n != 1) {
			state_endpoint_release(&ep);
			return cli_usage_error(
				"test-server: --authentication %s needs "
				"exactly one token source: client credentials "
				"(--oauth-token-url --oauth-client-id "
				"--oauth-client-secret-file --oauth-scope), "
				"--oauth-service-account-file or "
				"--token-command",
				o.oauth_mech);
		}
		if (secret_file != NULL &&
		    (ep.oauth_client_secret =
			     cli_read_password(secret_file, &err)) == NULL) {
			state_endpoint_release(&ep);
			err_prefix(&err, "--oauth-client-secret-file: ");
			return cli_fail("test-server", &err);
		}
		if (key_file != NULL &&
		    (ep.oauth_service_account =
			     cli_read_key_file(key_file, &err)) == NULL) {
			state_endpoint_release(&ep);
			return cli_fail("test-server", &err);
		}
		if (ep.oauth_client_id &&
		    (!ep.oauth_token_url || !ep.oauth_client_secret ||
		     !ep.oauth_scope)) {
			state_endpoint_release(&ep);
			return cli_usage_error(
				"test-server: client credentials need all "
				"four of --oauth-token-url, --oauth-client-id, "
				"--oauth-client-secret-file and --oauth-scope");
		}
	}
	if (o.authzid && !o.auth_plain)
		return cli_usage_error("test-server: --authzid needs "
				       "--authentication plain");
	if (o.tls.accept_untrusted)
		fprintf(stderr, "imapmig: warning: "
				"--accept-untrusted-certificates: the server's "
				"identity is not checked\n");
	if (o.user == NULL && o.oauth_mech != NULL)
		return cli_usage_error("test-server: --authentication %s needs "
				       "--user (the mailbox to log in as)",
				       o.oauth_mech);
	if (o.user != NULL && o.oauth_mech == NULL) {
		password = cli_read_password(o.password_file, &err);
		if (password == NULL) {
			state_endpoint_release(&ep);
			return cli_fail("test-server", &err);
		}
	}
	ret = run(&o, &ep, password);
	cli_password_free(&password);
	state_endpoint_release(&ep);
	return ret;
}
