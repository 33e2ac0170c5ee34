/* server_opts.h - what endpoint new/set and test-server share: the
 * OAuth2 token-source options (cli/opts.h table entries) and the words of
 * --security.  Private to src/cli. */
#ifndef CLI_SERVER_OPTS_H
#define CLI_SERVER_OPTS_H

#include <strings.h>

#include "cli/opts.h"
#include "net/conn.h"

/* --security's words, in the order of security_modes. */
static const char *const security_words[] = {"none", "ssl", "tls", NULL};
static const enum conn_security security_modes[] = {CONN_SEC_NONE, CONN_SEC_SSL,
						    CONN_SEC_TLS};

/* A stored security word as the connection's mode (ssl if unknown). */
static inline enum conn_security security_mode(const char *word)
{
	int k;

	for (k = 0; security_words[k]; k++)
		if (strcasecmp(word, security_words[k]) == 0)
			return security_modes[k];
	return CONN_SEC_SSL;
}

/* The connection's mode as the stored word. */
static inline const char *security_word(enum conn_security s)
{
	int k;

	for (k = 0; security_words[k]; k++)
		if (security_modes[k] == s)
			return security_words[k];
	return "ssl";
}

struct oauth_args {
	const char *token_command, *token_url, *client_id;
	const char *client_secret_file, *scope, *service_account_file;
	const char *ca_file;
};

/* The table entries of the struct oauth_args at member m of type. */
#define OPT_OAUTH(type, m)                                                     \
	OPT_STRING("token-command", type, m.token_command, "'CMD {email}'",    \
		   "a command that prints a token"),                           \
		OPT_STRING("oauth-token-url", type, m.token_url, "URL",        \
			   "client credentials: the token endpoint"),          \
		OPT_STRING("oauth-client-id", type, m.client_id, "ID",         \
			   "client credentials: the application's id"),        \
		OPT_STRING("oauth-client-secret-file", type,                   \
			   m.client_secret_file, "F",                          \
			   "client credentials: the secret's file"),           \
		OPT_STRING("oauth-scope", type, m.scope, "S",                  \
			   "the scope the token is asked for"),                \
		OPT_STRING("oauth-service-account-file", type,                 \
			   m.service_account_file, "KEY.json",                 \
			   "a Google service account's key"),                  \
		OPT_STRING("oauth-ca-file", type, m.ca_file, "F",              \
			   "CA certificates for the token endpoint")

/* --ca-file and --accept-untrusted-certificates, into the fields ca_file
 * (const char *) and accept_untrusted (int) of type. */
#define OPT_SERVER_TLS(type)                                                   \
	OPT_STRING("ca-file", type, ca_file, "F",                              \
		   "CA certificates for the server"),                          \
		OPT_FLAG("accept-untrusted-certificates", 0, type,             \
			 accept_untrusted,                                     \
			 "do not check the server's certificate")

/* 1 if any of the OAuth2 options is given. */
static inline int oauth_args_given(const struct oauth_args *a)
{
	return a->token_command || a->token_url || a->client_id ||
	       a->client_secret_file || a->scope || a->service_account_file ||
	       a->ca_file;
}

#endif
