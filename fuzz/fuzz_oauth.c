/* fuzz_oauth.c - libFuzzer target for what the OAuth2 token sources read
 * from outside: a token endpoint's answer (status picked by the first
 * byte), a token command's output, a --token-command template split into
 * argv, and a service-account key file.  A token handed out must be
 * printable ASCII with no space; a refusal must be one line that never
 * holds the secret the request carried. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/oauth_int.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "s3cr3t-f0r-fuzz"

static void check_token(const struct oauth_fetched *f)
{
	size_t i;

	if (f->token == NULL || f->token_len == 0 ||
	    strlen(f->token) != f->token_len)
		abort();
	for (i = 0; i < f->token_len; i++)
		if ((unsigned char)f->token[i] < 0x21 ||
		    (unsigned char)f->token[i] > 0x7e)
			abort();
}

/* secret: what the input held that no message may show (the request's
 * client secret, a command's output), or NULL */
static void check_err(const struct err *e, const char *secret)
{
	if (e->cls == ERR_NONE || e->msg[0] == '\0' ||
	    strchr(e->msg, '\n') != NULL ||
	    (secret != NULL && strstr(e->msg, secret) != NULL))
		abort();
}

static void answer(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 200, 200, 400, 401, 403, 429, 500};
	static const char *const secrets[] = {SECRET, NULL};
	struct oauth_post p = {
		.label = "endpoint fuzz",
		.url = "https://login.example/token",
		.what = "the client credentials",
		.body = "client_secret=" SECRET,
		.secrets = secrets,
	};
	struct buf body = BUF_INIT_MAX(OAUTH_MAX_RESPONSE);
	struct oauth_fetched f;
	struct err err = ERR_INIT;
	long status = statuses[(data[0] >> 2) % 8];

	memset(&f, 0, sizeof(f));
	if (buf_add(&body, data + 1, size - 1) < 0) {
		buf_release(&body);
		return;
	}
	if (oauth_http_parse_answer(&p, status, 0, &body, &f, &err) == 0) {
		if (status != 200)
			abort();
		check_token(&f);
		oauth_fetched_wipe(&f);
	} else {
		/* as oauth.c does after every fetch: an endpoint that
		 * echoes the secret back does not get it printed */
		oauth_scrub(&err, secrets);
		check_err(&err, SECRET);
	}
	buf_release(&body);
}

static void output(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT_MAX(OAUTH_MAX_RESPONSE);
	struct oauth_fetched f;
	struct err err = ERR_INIT;

	memset(&f, 0, sizeof(f));
	if (buf_add(&out, data, size) < 0) {
		buf_release(&out);
		return;
	}
	if (oauth_cmd_parse_output("endpoint fuzz", "tok", "a@b.example", &out,
				   &f, &err) == 0) {
		check_token(&f);
		if (f.lifetime_s > 366ULL * 86400)
			abort();
		oauth_fetched_wipe(&f);
	} else {
		/* nothing the command printed reaches a message */
		check_err(&err, SECRET);
	}
	buf_release(&out);
}

static void split(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *email;
	char **argv = NULL;
	struct err err = ERR_INIT;
	int argc = 0, i;

	memcpy(s, data, size);
	s[size] = '\0';
	/* template NUL email: the email never splits a word */
	email = s + strlen(s);
	email = email < s + size ? email + 1 : email;
	if (oauth_argv_split(s, email, &argv, &argc, &err) == 0) {
		if (argc < 1 || argv[argc] != NULL)
			abort();
		for (i = 0; i < argc; i++)
			if (argv[i] == NULL)
				abort();
		oauth_argv_free(argv);
	} else {
		check_err(&err, NULL);
	}
	free(s);
}

static void key(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct oauth_sa *sa;
	struct err err = ERR_INIT;

	memcpy(s, data, size);
	s[size] = '\0';
	sa = oauth_sa_create("endpoint fuzz", s, &err);
	if (sa != NULL)
		oauth_sa_destroy(&sa);
	else
		check_err(&err, NULL);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0: answer(data, size); break;
	case 1: output(data + 1, size - 1); break;
	case 2: split(data + 1, size - 1); break;
	case 3: key(data + 1, size - 1); break;
	}
	return 0;
}
