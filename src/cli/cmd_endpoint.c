/* cmd_endpoint.c - `imapmig endpoint new|get|set|remove`: the procedure's
 * Step 3 (New-MigrationEndpoint), for sources and for targets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cli/cli.h"
#include "cli/server_opts.h"
#include "cli/opts.h"
#include "imap/client.h"
#include "sched/endpoint.h"
#include "sched/views.h"
#include "state/state.h"
#include "util/xalloc.h"

struct ep_opts {
	const char *name, *type, *host, *login, *authzid;
	const char *password_file, *path_template, *ca_file;
	const char *security, *auth; /* canonical words, or NULL */
	int security_i, auth_i;	     /* their index in the table; -1 */
	struct oauth_args oa;
	long long port;
	int accept_untrusted, skip_verification;
	long long max_mig, max_incr; /* -1: not given */
};

static const char *const auth_words[] = {"basic", "plain", "xoauth2",
					 "oauthbearer", NULL};

/* endpoint new and endpoint set take the same options. */
static const struct opt ep_table[] = {
	OPT_STRING("name", struct ep_opts, name, "N",
		   "the endpoint's name (set: a new name)"),
	OPT_STRING("type", struct ep_opts, type, "imap|maildir",
		   "a target endpoint (a source has no --type)"),
	OPT_STRING("remote-server", struct ep_opts, host, "H",
		   "the IMAP server's host name"),
	OPT_NUMBER("port", COUNT, struct ep_opts, port, "P", 1, 65535,
		   " is not a port number", "993 for ssl, 143 otherwise"),
	OPT_CHOICE("security", struct ep_opts, security_i, security_words, NULL,
		   "ssl (the default), STARTTLS, or none"),
	OPT_CHOICE("authentication", struct ep_opts, auth_i, auth_words, NULL,
		   "how to log in (basic: LOGIN)"),
	OPT_STRING("target-login", struct ep_opts, login, "T",
		   "a target's admin login, e.g. '{email}*migadmin'"),
	OPT_STRING("target-authzid", struct ep_opts, authzid, "T",
		   "a target's PLAIN authorization id, e.g. '{email}'"),
	OPT_STRING("password-file", struct ep_opts, password_file, "F",
		   "a target's admin password, first line (-: stdin)"),
	OPT_OAUTH(struct ep_opts, oa),
	OPT_STRING("path-template", struct ep_opts, path_template, "PATH",
		   "a Maildir target: '/srv/{domain}/{local}/Maildir'"),
	OPT_SERVER_TLS(struct ep_opts),
	OPT_FLAG("skip-verification", 0, struct ep_opts, skip_verification,
		 "save without connecting first"),
	OPT_NUMBER("max-concurrent-migrations", COUNT, struct ep_opts, max_mig,
		   "N", 1, 10000, ": give 1-10000", "mailboxes at once (100)"),
	OPT_NUMBER("max-concurrent-incremental-syncs", COUNT, struct ep_opts,
		   max_incr, "N", 1, 10000, ": give 1-10000",
		   "incremental syncs at once (20)"),
	OPT_END(),
};

struct ep_get_args {
	int json;
};

static const struct opt ep_get_opts[] = {
	OPT_FLAG("json", 0, struct ep_get_args, json, "print JSON"),
	OPT_END(),
};

static const struct opts_cmd ep_new_cmd = {
	.name = "endpoint new",
	.group = "endpoint",
	.usage = "endpoint new --name N --remote-server H [options]",
	.opts = ep_table,
	.notes =
		"A source:  endpoint new --name N --remote-server H [--port P] "
		"[--security S]\n"
		"A target:  endpoint new --name N --type maildir\n"
		"             --path-template '/srv/{domain}/{local}/Maildir'\n"
		"           endpoint new --name N --type imap --remote-server "
		"H\n"
		"             --target-login '{email}*admin' --password-file "
		"F\n"
		"             [--authentication plain --target-authzid "
		"'{email}']\n"
		"OAuth2 (--authentication xoauth2|oauthbearer), one token "
		"source:\n"
		"  --oauth-token-url URL --oauth-client-id ID "
		"--oauth-client-secret-file F\n"
		"    --oauth-scope S\n"
		"  | --oauth-service-account-file KEY.json --oauth-scope S\n"
		"  | --token-command 'CMD {email}'        [--oauth-ca-file F]",
};
static const struct opts_cmd ep_get_cmd = {
	.name = "endpoint get",
	.group = "endpoint",
	.usage = "endpoint get [NAME] [--json]",
	.opts = ep_get_opts,
	.max_args = 1,
};
static const struct opts_cmd ep_set_cmd = {
	.name = "endpoint set",
	.group = "endpoint",
	.usage = "endpoint set NAME [options]",
	.opts = ep_table,
	.min_args = 1,
	.max_args = 1,
};
static const struct opts_cmd ep_remove_cmd =
	OPTS_CMD_ONE_ARG("endpoint remove", "endpoint", "endpoint remove NAME");

/* The options of endpoint new or set into o: 0, or what opts_parse()
 * returned (OPTS_EXIT() of it is the exit code). */
static int parse_opts(const struct opts_cmd *c, int argc, char **argv,
		      struct ep_opts *o)
{
	int nargs, rc;

	memset(o, 0, sizeof(*o));
	o->security_i = o->auth_i = -1;
	o->max_mig = o->max_incr = -1;
	rc = opts_parse(c, o, argc, argv, &nargs);
	if (rc != 0)
		return rc;
	/* stored as the canonical lower-case words */
	if (o->security_i >= 0)
		o->security = security_words[o->security_i];
	if (o->auth_i >= 0)
		o->auth = auth_words[o->auth_i];
	return 0;
}

static void set_str(char **dst, const char *v)
{
	if (v == NULL)
		return;
	free(*dst);
	*dst = xstrdup(v);
}

static void wipe_str(char **p)
{
	if (*p != NULL) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

static void clear_str(char **p)
{
	free(*p);
	*p = NULL;
}

static int is_oauth(const char *auth)
{
	return auth != NULL && (strcasecmp(auth, "xoauth2") == 0 ||
				strcasecmp(auth, "oauthbearer") == 0);
}

/* A password endpoint keeps no token source. */
static void oauth_clear(struct state_endpoint *e)
{
	clear_str(&e->token_command);
	clear_str(&e->oauth_token_url);
	clear_str(&e->oauth_client_id);
	wipe_str(&e->oauth_client_secret);
	clear_str(&e->oauth_scope);
	wipe_str(&e->oauth_service_account);
	clear_str(&e->oauth_ca_file);
}

/* A token source given replaces the one stored: what belongs only to
 * the others goes. */
static void oauth_replace_source(const struct oauth_args *oa,
				 struct state_endpoint *e)
{
	int cc_opt = oa->client_id || oa->client_secret_file;

	if (cc_opt || oa->service_account_file)
		clear_str(&e->token_command);
	if (cc_opt)
		wipe_str(&e->oauth_service_account);
	if (oa->service_account_file) {
		clear_str(&e->oauth_client_id);
		wipe_str(&e->oauth_client_secret);
	}
	if (oa->token_command) {
		clear_str(&e->oauth_client_id);
		wipe_str(&e->oauth_client_secret);
		wipe_str(&e->oauth_service_account);
		clear_str(&e->oauth_token_url);
		clear_str(&e->oauth_scope);
	}
	set_str(&e->token_command, oa->token_command);
	set_str(&e->oauth_token_url, oa->token_url);
	set_str(&e->oauth_client_id, oa->client_id);
	set_str(&e->oauth_scope, oa->scope);
}

/* The files the options name, read into e: the CA file checked, the
 * client secret and the service account's key. */
static int oauth_read_files(const struct oauth_args *oa,
			    struct state_endpoint *e, struct err *err)
{
	if (oa->ca_file != NULL) {
		if (access(oa->ca_file, R_OK) != 0)
			return err_set(err, ERR_USAGE, EC_IO,
				       "cannot read --oauth-ca-file %s: %s",
				       oa->ca_file, strerror(errno));
		set_str(&e->oauth_ca_file, oa->ca_file);
	}
	if (oa->client_secret_file != NULL) {
		char *sec = cli_read_password(oa->client_secret_file, err);
		if (sec == NULL) {
			err_prefix(err, "--oauth-client-secret-file: ");
			return -1;
		}
		wipe_str(&e->oauth_client_secret);
		e->oauth_client_secret = sec;
	}
	if (oa->service_account_file != NULL) {
		char *key = cli_read_key_file(oa->service_account_file, err);
		if (key == NULL)
			return -1;
		wipe_str(&e->oauth_service_account);
		e->oauth_service_account = key;
	}
	return 0;
}

/* Exactly one token source, complete, must remain. */
static int oauth_check_source(const struct state_endpoint *e, struct err *err)
{
	int n = (e->oauth_client_id || e->oauth_client_secret) +
		(e->oauth_service_account != NULL) + (e->token_command != NULL);

	if (n != 1)
		return err_set(
			err, ERR_USAGE, EC_NONE,
			"--authentication %s needs exactly one token source, "
			"%s: client credentials (--oauth-token-url "
			"--oauth-client-id --oauth-client-secret-file "
			"--oauth-scope), --oauth-service-account-file (with "
			"--oauth-scope) or --token-command",
			e->authentication, n ? "not several" : "none given");
	if (e->oauth_client_id || e->oauth_client_secret) {
		if (!e->oauth_token_url || !e->oauth_client_id ||
		    !e->oauth_client_secret || !e->oauth_scope)
			return err_set(
				err, ERR_USAGE, EC_NONE,
				"client credentials need all four of "
				"--oauth-token-url, --oauth-client-id, "
				"--oauth-client-secret-file and --oauth-scope "
				"(missing: %s%s%s%s)",
				e->oauth_token_url ? "" : " --oauth-token-url",
				e->oauth_client_id ? "" : " --oauth-client-id",
				e->oauth_client_secret
					? ""
					: " --oauth-client-secret-file",
				e->oauth_scope ? "" : " --oauth-scope");
	} else if (e->oauth_service_account && !e->oauth_scope) {
		return err_set(err, ERR_USAGE, EC_NONE,
			       "--oauth-service-account-file needs "
			       "--oauth-scope (Gmail: "
			       "https://mail.google.com/)");
	} else if (e->token_command && (e->oauth_scope || e->oauth_token_url)) {
		return err_set(err, ERR_USAGE, EC_NONE,
			       "--token-command takes no --oauth-token-url or "
			       "--oauth-scope: the command gets the token");
	}
	return 0;
}

/* The OAuth2 options onto e: a token source given replaces the one
 * stored; then exactly one source, complete, must remain, and the token
 * source itself must take it. */
static int apply_oauth(const struct ep_opts *o, struct state_endpoint *e,
		       struct err *err)
{
	struct endpoint *ep;

	if (!is_oauth(e->authentication)) {
		if (oauth_args_given(&o->oa))
			return err_set(err, ERR_USAGE, EC_NONE,
				       "the --oauth-* options and "
				       "--token-command need --authentication "
				       "xoauth2 or oauthbearer");
		oauth_clear(e);
		return 0;
	}
	if (o->password_file != NULL)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "an OAuth2 endpoint (--authentication %s) takes "
			       "no --password-file: its token source logs in",
			       e->authentication);
	oauth_replace_source(&o->oa, e);
	if (oauth_read_files(&o->oa, e, err) < 0 ||
	    oauth_check_source(e, err) < 0)
		return -1;
	/* what the token source itself refuses (a key that does not parse,
	 * a plain http:// URL off loopback), now */
	ep = endpoint_create(e, err);
	if (ep == NULL) {
		err->cls = ERR_USAGE;
		return -1;
	}
	endpoint_destroy(&ep);
	return 0;
}

/* Apply options to e; ERR_USAGE on a bad combination. */
static int apply(struct ep_opts *o, struct state_endpoint *e, int creating,
		 struct err *err)
{
	if (o->host)
		set_str(&e->host, o->host);
	if (o->port)
		e->port = (unsigned)o->port;
	if (o->security)
		set_str(&e->security, o->security);
	if (o->auth)
		set_str(&e->authentication, o->auth);
	if (o->login)
		set_str(&e->login_template, o->login);
	if (o->authzid)
		set_str(&e->authzid_template, o->authzid);
	if (o->path_template)
		set_str(&e->path_template, o->path_template);
	if (o->ca_file)
		set_str(&e->ca_file, o->ca_file);
	if (o->accept_untrusted)
		e->accept_untrusted = 1;
	if (o->max_mig > 0)
		e->max_migrations = (unsigned)o->max_mig;
	if (o->max_incr > 0)
		e->max_incremental = (unsigned)o->max_incr;
	if (creating && e->kind != STATE_EP_TARGET_MAILDIR) {
		if (e->security == NULL)
			e->security = xstrdup("ssl");
		if (e->port == 0)
			e->port =
				strcasecmp(e->security, "ssl") == 0 ? 993 : 143;
		if (e->authentication == NULL)
			e->authentication = xstrdup("basic");
	}
	if (creating && e->max_migrations == 0)
		e->max_migrations = 100;
	if (creating && e->max_incremental == 0)
		e->max_incremental =
			e->max_migrations < 20 ? e->max_migrations : 20;
	if (e->max_incremental > e->max_migrations)
		return err_set(
			err, ERR_USAGE, EC_NONE,
			"--max-concurrent-incremental-syncs (%u) may not "
			"exceed --max-concurrent-migrations (%u)",
			e->max_incremental, e->max_migrations);
	if (e->kind == STATE_EP_TARGET_MAILDIR) {
		if (e->path_template == NULL || e->path_template[0] != '/')
			return err_set(err, ERR_USAGE, EC_NONE,
				       "a maildir endpoint needs an absolute "
				       "--path-template, e.g. "
				       "'/srv/mail/{domain}/{local}/Maildir'");
		return 0;
	}
	if (e->host == NULL)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "--remote-server HOST is required");
	if (e->kind == STATE_EP_TARGET_IMAP && e->login_template == NULL &&
	    is_oauth(e->authentication))
		e->login_template = xstrdup("{email}");
	if (e->kind == STATE_EP_TARGET_IMAP && e->login_template == NULL)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "a target IMAP endpoint needs --target-login "
			       "(e.g. '{email}*migadmin', or "
			       "'{TargetUserName}' with per-user CSV columns)");
	if (e->authzid_template != NULL &&
	    strcasecmp(e->authentication, "plain") != 0)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "--target-authzid needs --authentication plain");
	if (apply_oauth(o, e, err) < 0)
		return -1;
	if (strcasecmp(e->security, "none") == 0)
		fprintf(stderr,
			"imapmig: warning: endpoint %s uses --security "
			"none: passwords cross the network in plaintext\n",
			e->name);
	return 0;
}

static int verify(const struct state_endpoint *e, struct err *err)
{
	struct imap_client_settings set = {
		.host = e->host,
		.port = e->port,
		.security = security_mode(e->security),
		.tls = {e->ca_file, e->accept_untrusted},
		.timeout_ms = 20000,
		.label = "verify",
	};
	struct imap_client *c = imap_client_connect(&set, err);

	if (c == NULL) {
		err_prefix(err, "cannot verify the endpoint (pass "
				"--skip-verification to save it anyway): ");
		return -1;
	}
	if (is_oauth(e->authentication)) {
		char cap[32];
		snprintf(cap, sizeof(cap), "AUTH=%s",
			 strcasecmp(e->authentication, "xoauth2") == 0
				 ? "XOAUTH2"
				 : "OAUTHBEARER");
		if (!imap_client_has_cap(c, cap)) {
			err_set(err, ERR_CONNECT, EC_PROTOCOL,
				"%s:%u does not offer %s (it offers: %s): "
				"choose the --authentication it offers, or "
				"pass --skip-verification to save it anyway",
				e->host, e->port, cap,
				imap_client_capabilities(c));
			imap_client_logout(&c);
			return -1;
		}
	}
	imap_client_logout(&c);
	return 0;
}

static void ep_print(const struct state_endpoint *e)
{
	printf("Name                          : %s\n", e->name);
	printf("EndpointType                  : %s\n",
	       state_ep_kind_name(e->kind));
	if (e->kind == STATE_EP_TARGET_MAILDIR) {
		printf("PathTemplate                  : %s\n",
		       e->path_template);
	} else {
		printf("RemoteServer                  : %s\n", e->host);
		printf("Port                          : %u\n", e->port);
		printf("Security                      : %s\n", e->security);
		printf("Authentication                : %s\n",
		       e->authentication);
		if (e->login_template)
			printf("TargetLogin                   : %s\n",
			       e->login_template);
		if (e->authzid_template)
			printf("TargetAuthzid                 : %s\n",
			       e->authzid_template);
		if (e->ca_file)
			printf("CaFile                        : %s\n",
			       e->ca_file);
		if (is_oauth(e->authentication)) {
			printf("OAuthTokenSource              : %s\n",
			       e->oauth_client_id ? "client credentials"
			       : e->oauth_service_account
				       ? "service account (key set)"
				       : "token command");
			if (e->oauth_token_url)
				printf("OAuthTokenUrl                 : %s\n",
				       e->oauth_token_url);
			if (e->oauth_client_id)
				printf("OAuthClientId                 : %s\n"
				       "OAuthClientSecret             : %s\n",
				       e->oauth_client_id,
				       e->oauth_client_secret ? "(set)"
							      : "(not set)");
			if (e->oauth_scope)
				printf("OAuthScope                    : %s\n",
				       e->oauth_scope);
			if (e->token_command)
				printf("TokenCommand                  : %s\n",
				       e->token_command);
			if (e->oauth_ca_file)
				printf("OAuthCaFile                   : %s\n",
				       e->oauth_ca_file);
		}
		if (e->accept_untrusted)
			printf("AcceptUntrustedCertificates   : yes\n");
	}
	printf("MaxConcurrentMigrations       : %u\n", e->max_migrations);
	printf("MaxConcurrentIncrementalSyncs : %u\n\n", e->max_incremental);
}

static int ep_new(int argc, char **argv)
{
	struct state_endpoint e;
	struct ep_opts o;
	struct err err = ERR_INIT;
	struct state *st;
	int ret;

	if ((ret = parse_opts(&ep_new_cmd, argc, argv, &o)) != 0)
		return OPTS_EXIT(ret);
	if (o.name == NULL)
		return cli_usage_error("endpoint new: --name NAME is required");
	memset(&e, 0, sizeof(e));
	e.name = xstrdup(o.name);
	if (o.type == NULL)
		e.kind = STATE_EP_SOURCE_IMAP;
	else if (strcasecmp(o.type, "imap") == 0)
		e.kind = STATE_EP_TARGET_IMAP;
	else if (strcasecmp(o.type, "maildir") == 0)
		e.kind = STATE_EP_TARGET_MAILDIR;
	else
		return cli_usage_error("endpoint new: --type %s: use imap or "
				       "maildir (a source endpoint has no "
				       "--type)",
				       o.type);
	if (e.kind == STATE_EP_SOURCE_IMAP && (o.login || o.authzid))
		return cli_usage_error("endpoint new: --target-login is for "
				       "target endpoints (--type imap); a "
				       "source logs in with each CSV row's "
				       "UserName");
	if (apply(&o, &e, 1, &err) < 0) {
		state_endpoint_release(&e);
		return cli_fail("endpoint new", &err);
	}
	if (o.password_file != NULL) {
		e.password = cli_read_password(o.password_file, &err);
		if (e.password == NULL) {
			state_endpoint_release(&e);
			return cli_fail("endpoint new", &err);
		}
	}
	if (e.kind != STATE_EP_TARGET_MAILDIR && !o.skip_verification &&
	    verify(&e, &err) < 0) {
		state_endpoint_release(&e);
		return cli_fail("endpoint new", &err);
	}
	st = cli_state_open("endpoint new", &ret);
	if (st == NULL) {
		state_endpoint_release(&e);
		return ret;
	}
	ret = state_endpoint_add(st, &e, &err);
	state_close(&st);
	if (ret == 0 && !cli_globals.quiet)
		printf("Endpoint %s created.\n", e.name);
	state_endpoint_release(&e);
	return ret < 0 ? cli_fail("endpoint new", &err) : 0;
}

static int ep_get(int argc, char **argv)
{
	struct ep_get_args a = {0};
	struct state_endpoint *v = NULL, one;
	struct err err = ERR_INIT;
	struct state *st;
	size_t n = 0, i;
	int nargs, ret;
	const char *name;

	ret = opts_parse(&ep_get_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	name = nargs > 0 ? argv[0] : NULL;
	st = cli_state_open("endpoint get", &ret);
	if (st == NULL)
		return ret;
	if (name != NULL) {
		if (state_endpoint_get(st, name, &one, &err) < 0) {
			state_close(&st);
			return cli_fail("endpoint get", &err);
		}
		v = xmalloc(sizeof(*v));
		v[0] = one;
		n = 1;
	} else if (state_endpoint_list(st, &v, &n, &err) < 0) {
		state_close(&st);
		return cli_fail("endpoint get", &err);
	}
	state_close(&st);
	if (a.json) {
		json_t *out = name ? view_endpoint(&v[0]) : json_array();
		char *s;
		for (i = 0; !name && i < n; i++)
			json_array_append_new(out, view_endpoint(&v[i]));
		s = cli_json_dumps(out);
		puts(s);
		free(s);
		json_decref(out);
	} else {
		for (i = 0; i < n; i++)
			ep_print(&v[i]);
		if (n == 0)
			puts("No endpoints yet: create one with 'imapmig "
			     "endpoint new'.");
	}
	for (i = 0; i < n; i++)
		state_endpoint_release(&v[i]);
	free(v);
	return 0;
}

static int ep_set(int argc, char **argv)
{
	struct state_endpoint e;
	struct ep_opts o;
	struct err err = ERR_INIT;
	struct state *st;
	const char *name;
	int ret;

	if ((ret = parse_opts(&ep_set_cmd, argc, argv, &o)) != 0)
		return OPTS_EXIT(ret);
	name = argv[0];
	st = cli_state_open("endpoint set", &ret);
	if (st == NULL)
		return ret;
	if (state_endpoint_get(st, name, &e, &err) < 0)
		goto fail;
	if (o.name)
		set_str(&e.name, o.name);
	if (apply(&o, &e, 0, &err) < 0)
		goto fail_e;
	if (o.password_file != NULL) {
		char *pw = cli_read_password(o.password_file, &err);
		if (pw == NULL)
			goto fail_e;
		cli_password_free(&e.password);
		e.password = pw;
	}
	if (e.kind != STATE_EP_TARGET_MAILDIR && !o.skip_verification &&
	    (o.host || o.port || o.security || o.ca_file || o.auth) &&
	    verify(&e, &err) < 0)
		goto fail_e;
	if (state_endpoint_update(st, &e, &err) < 0)
		goto fail_e;
	state_endpoint_release(&e);
	state_close(&st);
	return 0;
fail_e:
	state_endpoint_release(&e);
fail:
	state_close(&st);
	return cli_fail("endpoint set", &err);
}

static int ep_remove(int argc, char **argv)
{
	struct err err = ERR_INIT;
	struct state *st;
	int nargs, ret;

	ret = opts_parse(&ep_remove_cmd, NULL, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	st = cli_state_open("endpoint remove", &ret);
	if (st == NULL)
		return ret;
	ret = state_endpoint_remove(st, argv[0], &err);
	state_close(&st);
	return ret < 0 ? cli_fail("endpoint remove", &err) : 0;
}

int cmd_endpoint(int argc, char **argv)
{
	static const struct opts_cmd *const actions[] = {
		&ep_new_cmd, &ep_get_cmd, &ep_set_cmd, &ep_remove_cmd, NULL,
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		opts_help(stdout, actions);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "new") == 0)
		return ep_new(argc - 1, argv + 1);
	if (strcmp(argv[1], "get") == 0)
		return ep_get(argc - 1, argv + 1);
	if (strcmp(argv[1], "set") == 0)
		return ep_set(argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return ep_remove(argc - 1, argv + 1);
	return cli_usage_error("endpoint: unknown action '%s': use new, get, "
			       "set or remove",
			       argv[1]);
}
