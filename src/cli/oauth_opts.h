/* oauth_opts.h - the OAuth2 token-source options that endpoint new/set
 * and test-server share (cli/opts.h tables).  Private to src/cli. */
#ifndef CLI_OAUTH_OPTS_H
#define CLI_OAUTH_OPTS_H

#include "cli/opts.h"

struct oauth_args {
	const char *token_command, *token_url, *client_id;
	const char *client_secret_file, *scope, *service_account_file;
	const char *ca_file;
};

/* The table entries of the struct oauth_args at member m of type. */
#define OPT_OAUTH(type, m)                                                 \
	OPT_STRING("token-command", type, m.token_command, "'CMD {email}'", \
		   "a command that prints a token"),                        \
		OPT_STRING("oauth-token-url", type, m.token_url, "URL",     \
			   "client credentials: the token endpoint"),       \
		OPT_STRING("oauth-client-id", type, m.client_id, "ID",      \
			   "client credentials: the application's id"),     \
		OPT_STRING("oauth-client-secret-file", type,                \
			   m.client_secret_file, "F",                       \
			   "client credentials: the secret's file"),        \
		OPT_STRING("oauth-scope", type, m.scope, "S",               \
			   "the scope the token is asked for"),             \
		OPT_STRING("oauth-service-account-file", type,              \
			   m.service_account_file, "KEY.json",              \
			   "a Google service account's key"),               \
		OPT_STRING("oauth-ca-file", type, m.ca_file, "F",           \
			   "CA certificates for the token endpoint")

/* 1 if any of the options is given. */
static inline int oauth_args_given(const struct oauth_args *a)
{
	return a->token_command || a->token_url || a->client_id ||
	       a->client_secret_file || a->scope || a->service_account_file ||
	       a->ca_file;
}

#endif
