/* oauth_probe.c - drives auth/oauth.h for tests/integration/
 * test_oauth_tokens.sh (a real token server there).
 *
 *   oauth_probe [source options] STEP...
 *     --token-url U --client-id ID --client-secret-file F --scope S
 *     --sa-file KEY.json --token-command T --ca-file F --timeout-ms N
 *   steps: get EMAIL | invalidate EMAIL | sleep MS | parallel N EMAIL
 *
 * For each token it prints "ok EMAIL fp=<8 hex of its SHA-256>
 * life=<seconds left> requests=<n>", never the token; a failure is
 * "fail EMAIL class=<class> code=<n>" on stdout and the message on
 * stderr.  Secrets come from files, never argv.  Exit: 0, or the
 * err_exit_code of the last failure (2 usage, 1 otherwise). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth/oauth.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL) {
		fprintf(stderr, "oauth_probe: cannot open %s\n", path);
		exit(2);
	}
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			p = realloc(p, cap);
			if (p == NULL)
				abort();
		}
		r = fread(p + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	p[n] = '\0';
	return p;
}

static void fingerprint(const char *tok, char out[9])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int i;

	SHA256((const unsigned char *)tok, strlen(tok), md);
	for (i = 0; i < 4; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* the last token handed out, per step, for `invalidate` */
static char last_email[256];
static char last_token[8192];
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static int exit_code;

static void get(struct oauth *o, const char *email)
{
	struct buf tok = BUF_INIT_MAX(8000);
	struct err err = ERR_INIT;
	time_t exp = 0;
	char fp[9];

	if (oauth_token(o, email, &tok, &exp, &err) < 0) {
		pthread_mutex_lock(&out_mu);
		printf("fail %s class=%s code=%d\n", email,
		       err_class_name(err.cls), (int)err.code);
		fprintf(stderr, "%s\n", err.msg);
		exit_code = err_exit_code(&err);
		pthread_mutex_unlock(&out_mu);
		buf_release(&tok);
		return;
	}
	fingerprint(tok.p, fp);
	pthread_mutex_lock(&out_mu);
	printf("ok %s fp=%s life=%ld requests=%lu\n", email, fp,
	       exp ? (long)(exp - time(NULL)) : -1L, oauth_requests(o));
	snprintf(last_email, sizeof(last_email), "%s", email);
	snprintf(last_token, sizeof(last_token), "%s", tok.p);
	pthread_mutex_unlock(&out_mu);
	OPENSSL_cleanse(tok.p, tok.len);
	buf_release(&tok);
}

struct par {
	struct oauth *o;
	const char *email;
};

static void *par_get(void *arg)
{
	struct par *p = arg;

	get(p->o, p->email);
	return NULL;
}

int main(int argc, char **argv)
{
	struct oauth_settings set;
	struct err err = ERR_INIT;
	struct oauth *o;
	char *secret = NULL, *sa = NULL;
	int i;

	memset(&set, 0, sizeof(set));
	set.label = "target";
	for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *v = argv[i + 1];

		if (strcmp(argv[i], "--token-url") == 0) {
			set.token_url = v;
		} else if (strcmp(argv[i], "--client-id") == 0) {
			set.client_id = v;
			set.kind = OAUTH_CLIENT_CREDENTIALS;
		} else if (strcmp(argv[i], "--client-secret-file") == 0) {
			set.client_secret = secret = slurp(v);
		} else if (strcmp(argv[i], "--scope") == 0) {
			set.scope = v;
		} else if (strcmp(argv[i], "--sa-file") == 0) {
			set.service_account_json = sa = slurp(v);
			set.kind = OAUTH_SERVICE_ACCOUNT;
		} else if (strcmp(argv[i], "--token-command") == 0) {
			set.token_command = v;
			set.kind = OAUTH_TOKEN_COMMAND;
		} else if (strcmp(argv[i], "--ca-file") == 0) {
			set.ca_file = v;
		} else if (strcmp(argv[i], "--timeout-ms") == 0) {
			set.timeout_ms = (unsigned)atoi(v);
		} else {
			fprintf(stderr, "oauth_probe: unknown option %s\n",
				argv[i]);
			return 2;
		}
	}
	o = oauth_create(&set, &err);
	if (secret != NULL) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	if (sa != NULL) {
		OPENSSL_cleanse(sa, strlen(sa));
		free(sa);
	}
	if (o == NULL) {
		printf("fail create class=%s\n", err_class_name(err.cls));
		fprintf(stderr, "%s\n", err.msg);
		return err_exit_code(&err);
	}
	printf("source %s\n", oauth_kind_name(set.kind));
	for (; i < argc; i++) {
		if (strcmp(argv[i], "get") == 0 && i + 1 < argc) {
			get(o, argv[++i]);
		} else if (strcmp(argv[i], "invalidate") == 0 && i + 1 < argc) {
			oauth_invalidate(o, argv[++i], last_token);
			printf("invalidated\n");
		} else if (strcmp(argv[i], "sleep") == 0 && i + 1 < argc) {
			usleep((useconds_t)atoi(argv[++i]) * 1000);
		} else if (strcmp(argv[i], "parallel") == 0 && i + 2 < argc) {
			int n = atoi(argv[i + 1]), k;
			pthread_t th[64];
			struct par p = {o, argv[i + 2]};

			if (n < 1 || n > 64)
				n = 8;
			for (k = 0; k < n; k++)
				pthread_create(&th[k], NULL, par_get, &p);
			for (k = 0; k < n; k++)
				pthread_join(th[k], NULL);
			i += 2;
		} else {
			fprintf(stderr, "oauth_probe: bad step %s\n", argv[i]);
			oauth_destroy(&o);
			return 2;
		}
		fflush(stdout);
	}
	printf("requests %lu\n", oauth_requests(o));
	OPENSSL_cleanse(last_token, sizeof(last_token));
	oauth_destroy(&o);
	return exit_code;
}
