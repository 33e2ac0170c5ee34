/* oauth.c - the token cache in front of the three sources.
 *
 * One entry per key: the mailbox's address for the service account and
 * the token command, "" for client credentials (one tenant token).  An
 * entry is fetched by one thread at a time: the others wait on the
 * condition variable and take its result, token or error, so that eight
 * workers starting at once cause one request, and a refused grant is
 * not asked again by each of them.  The fetch itself runs without the
 * lock, so different mailboxes fetch in parallel. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/oauth.h"
#include "auth/oauth_int.h"
#include "util/xalloc.h"

struct oauth_entry {
	struct oauth_entry *next;
	char *key;
	char *token; /* NULL: none cached */
	size_t token_len;
	long long expires_ms; /* monotonic: the end of its life */
	long long renew_ms;   /* monotonic: handed out until then */
	time_t expires_wall;  /* 0: the source gave no lifetime */
	int fetching;
	/* threads waiting for the fetch: the entry stays while they do */
	int waiters;
	/* bumped when a fetch ends; waiters compare it */
	unsigned long gen;
	/* the error of the last fetch, for the threads that waited on it
	 * and, if it is not transient, for everyone until fail_until_ms */
	int failed;
	long long fail_until_ms;
	struct err err;
};

struct oauth {
	enum oauth_kind kind;
	char *label;
	char *token_url;
	char *client_id;
	char *client_secret;
	char *scope;
	char *token_command;
	char *ca_file;
	unsigned timeout_ms;
	struct oauth_sa *sa;
	int loopback; /* token_url is on loopback */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct oauth_entry *entries;
	unsigned long requests;
};

const char *oauth_kind_name(enum oauth_kind k)
{
	switch (k) {
	case OAUTH_NONE: return "none";
	case OAUTH_CLIENT_CREDENTIALS: return "client credentials";
	case OAUTH_SERVICE_ACCOUNT: return "service account";
	case OAUTH_TOKEN_COMMAND: return "token command";
	}
	return "?";
}

long long oauth_renew_margin_ms(long long life_ms)
{
	return life_ms / 10 < 60000 ? life_ms / 10 : 60000;
}

long long oauth_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void free_secret(char **s)
{
	if (*s != NULL) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void oauth_fetched_wipe(struct oauth_fetched *f)
{
	if (f->token != NULL) {
		OPENSSL_cleanse(f->token, f->token_len);
		free(f->token);
	}
	memset(f, 0, sizeof(*f));
}

void oauth_scrub(struct err *e, const char *const *secrets)
{
	size_t i;

	if (secrets == NULL)
		return;
	for (i = 0; secrets[i] != NULL; i++) {
		size_t n = strlen(secrets[i]);
		char *p;

		if (n < 4) /* too short to tell from ordinary words */
			continue;
		while ((p = strstr(e->msg, secrets[i])) != NULL) {
			memmove(p + 3, p + n, strlen(p + n) + 1);
			memcpy(p, "***", 3);
		}
	}
}

struct oauth *oauth_create(const struct oauth_settings *set, struct err *err)
{
	struct oauth *o = xcalloc(1, sizeof(*o));
	char *label;
	char **argv = NULL;

	/* messages start "endpoint NAME: " */
	o->label = label = set->label ? xasprintf("endpoint %s", set->label)
				      : xstrdup("endpoint");
	o->kind = set->kind;
	o->timeout_ms = set->timeout_ms ? set->timeout_ms : 30000;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	o->ca_file = dup_or_null(set->ca_file);
	o->scope = dup_or_null(set->scope);

	switch (set->kind) {
	case OAUTH_CLIENT_CREDENTIALS:
		if (set->token_url == NULL || set->client_id == NULL ||
		    set->client_secret == NULL) {
			err_set(err, ERR_USAGE, EC_NONE,
				"%s: client credentials need a token URL, a "
				"client id and a client secret "
				"(--oauth-token-url, --oauth-client-id, "
				"--oauth-client-secret-file)",
				label);
			goto fail;
		}
		if (oauth_url_check(label, "token URL", set->token_url, err) <
		    0)
			goto fail;
		o->token_url = xstrdup(set->token_url);
		o->client_id = xstrdup(set->client_id);
		o->client_secret = xstrdup(set->client_secret);
		break;
	case OAUTH_SERVICE_ACCOUNT:
		if (set->service_account_json == NULL) {
			err_set(err, ERR_USAGE, EC_NONE,
				"%s: a service account needs its key file "
				"(--oauth-service-account-file)",
				label);
			goto fail;
		}
		if (set->scope == NULL || set->scope[0] == '\0') {
			err_set(err, ERR_USAGE, EC_NONE,
				"%s: a service account needs a scope "
				"(--oauth-scope https://mail.google.com/)",
				label);
			goto fail;
		}
		o->sa = oauth_sa_create(label, set->service_account_json, err);
		if (o->sa == NULL)
			goto fail;
		o->token_url =
			xstrdup(set->token_url ? set->token_url
					       : oauth_sa_token_uri(o->sa));
		if (oauth_url_check(label, "token URL", o->token_url, err) < 0)
			goto fail;
		break;
	case OAUTH_TOKEN_COMMAND:
		if (set->token_command == NULL ||
		    oauth_argv_split(set->token_command, "user@example.org",
				     &argv, NULL, err) < 0) {
			if (set->token_command == NULL)
				err_set(err, ERR_USAGE, EC_NONE,
					"token command: none given");
			err_prefix(err, "%s: ", label);
			goto fail;
		}
		oauth_argv_free(argv);
		o->token_command = xstrdup(set->token_command);
		break;
	case OAUTH_NONE:
	default:
		err_set(err, ERR_USAGE, EC_NONE, "%s: no OAuth2 token source",
			label);
		goto fail;
	}
	if (o->token_url != NULL)
		o->loopback = oauth_url_is_loopback(o->token_url);
	return o;
fail:
	oauth_destroy(&o);
	return NULL;
}

static void entry_drop_token(struct oauth_entry *e)
{
	if (e->token != NULL) {
		OPENSSL_cleanse(e->token, e->token_len);
		free(e->token);
	}
	e->token = NULL;
	e->token_len = 0;
	e->expires_ms = e->renew_ms = 0;
	e->expires_wall = 0;
}

static void entry_free(struct oauth_entry *e)
{
	entry_drop_token(e);
	free(e->key);
	free(e);
}

void oauth_destroy(struct oauth **op)
{
	struct oauth *o = *op;
	struct oauth_entry *e, *next;

	if (o == NULL)
		return;
	*op = NULL;
	for (e = o->entries; e != NULL; e = next) {
		next = e->next;
		entry_free(e);
	}
	free_secret(&o->client_secret);
	free_secret(&o->token_command);
	oauth_sa_destroy(&o->sa);
	free(o->label);
	free(o->token_url);
	free(o->client_id);
	free(o->scope);
	free(o->ca_file);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

unsigned long oauth_requests(const struct oauth *o)
{
	unsigned long n;

	pthread_mutex_lock((pthread_mutex_t *)&o->mu);
	n = o->requests;
	pthread_mutex_unlock((pthread_mutex_t *)&o->mu);
	return n;
}

/* Find the entry for key, dropping on the way those without a live
 * token that nobody is fetching or waiting for (so a long run with many
 * mailboxes keeps only the live ones).  Called with the lock held. */
static struct oauth_entry *entry_get(struct oauth *o, const char *key,
				     int create)
{
	struct oauth_entry **pp = &o->entries, *e, *found = NULL;
	long long now = oauth_mono_ms();

	while ((e = *pp) != NULL) {
		if (strcmp(e->key, key) == 0) {
			found = e;
		} else if (!e->fetching && e->waiters == 0 &&
			   (e->token == NULL || e->expires_ms <= now) &&
			   (!e->failed || e->fail_until_ms <= now)) {
			*pp = e->next;
			entry_free(e);
			continue;
		}
		pp = &e->next;
	}
	if (found == NULL && create) {
		found = xcalloc(1, sizeof(*found));
		found->key = xstrdup(key);
		found->next = o->entries;
		o->entries = found;
	}
	return found;
}

static int fetch(struct oauth *o, const char *email, struct oauth_fetched *f,
		 struct err *err)
{
	struct buf body = BUF_INIT, jwt = BUF_INIT;
	struct oauth_post p;
	const char *secrets[3] = {NULL, NULL, NULL};
	char what[400];
	int rc;

	memset(&p, 0, sizeof(p));
	p.label = o->label;
	p.url = o->token_url;
	p.ca_file = o->ca_file;
	p.timeout_ms = o->timeout_ms;
	p.loopback = o->loopback;
	p.secrets = secrets;
	switch (o->kind) {
	case OAUTH_TOKEN_COMMAND:
		return oauth_cmd_fetch(o->label, o->token_command, email,
				       o->timeout_ms, f, err);
	case OAUTH_CLIENT_CREDENTIALS:
		oauth_form_add(&body, "grant_type", "client_credentials");
		oauth_form_add(&body, "client_id", o->client_id);
		oauth_form_add(&body, "client_secret", o->client_secret);
		if (o->scope != NULL && o->scope[0] != '\0')
			oauth_form_add(&body, "scope", o->scope);
		secrets[0] = o->client_secret;
		p.what = "the client credentials";
		break;
	case OAUTH_SERVICE_ACCOUNT:
		if (oauth_sa_assertion(o->sa, o->label, o->scope, o->token_url,
				       email, time(NULL), &jwt, err) < 0) {
			OPENSSL_cleanse(jwt.p, jwt.cap);
			buf_release(&jwt);
			return -1;
		}
		oauth_form_add(&body, "grant_type",
			       "urn:ietf:params:oauth:grant-type:jwt-bearer");
		oauth_form_add(&body, "assertion", jwt.p);
		/* a signed assertion is a credential for an hour */
		secrets[0] = jwt.p;
		snprintf(what, sizeof(what),
			 "the service account's assertion for %s", email);
		p.what = what;
		break;
	default:
		return err_set(err, ERR_USAGE, EC_NONE,
			       "%s: no OAuth2 token source", o->label);
	}
	p.body = body.p;
	rc = oauth_http_fetch(&p, f, err);
	if (rc < 0)
		oauth_scrub(err, secrets);
	OPENSSL_cleanse(body.p, body.cap);
	buf_release(&body);
	OPENSSL_cleanse(jwt.p, jwt.cap);
	buf_release(&jwt);
	return rc;
}

/* e's token into token, and when it expires (wall clock, 0 unknown):
 * 0, or -1 when it does not fit.  Under o->mu. */
static int hand_out(struct oauth *o, const struct oauth_entry *e,
		    struct buf *token, time_t *expires_r, struct err *err)
{
	int rc;

	buf_reset(token);
	rc = buf_add(token, e->token, e->token_len);
	if (expires_r != NULL)
		*expires_r = e->expires_wall;
	if (rc < 0)
		return err_set(err, ERR_LOCAL, EC_TOO_BIG,
			       "%s: the token does not fit its buffer",
			       o->label);
	return 0;
}

/* Under o->mu: 1 when e answers without a request (*rc_r: its token
 * handed out, or the refusal it holds), after waiting for another
 * thread's fetch if one is running; 0 when this thread is to fetch (e is
 * then marked so). */
static int cached_or_claim(struct oauth *o, struct oauth_entry *e,
			   struct buf *token, time_t *expires_r, int *rc_r,
			   struct err *err)
{
	unsigned long gen;

	for (;;) {
		if (e->token != NULL && oauth_mono_ms() < e->renew_ms) {
			*rc_r = hand_out(o, e, token, expires_r, err);
			return 1;
		}
		if (e->failed && oauth_mono_ms() < e->fail_until_ms) {
			/* a refused grant, asked again at once (another
			 * mailbox of the same tenant): the same answer,
			 * without a request */
			*err = e->err;
			*rc_r = -1;
			return 1;
		}
		if (!e->fetching)
			break;
		/* someone fetches it: take their result */
		gen = e->gen;
		e->waiters++;
		while (e->fetching && e->gen == gen)
			pthread_cond_wait(&o->cv, &o->mu);
		e->waiters--;
		if (e->gen != gen && e->failed) {
			*err = e->err;
			*rc_r = -1;
			return 1;
		}
	}
	e->fetching = 1;
	e->failed = 0;
	entry_drop_token(e);
	o->requests++;
	return 0;
}

/* Under o->mu: this thread's fetch (rc, f) into e: the token with its
 * renewal time, handed out; or the refusal, held OAUTH_FAIL_HOLD_S
 * unless it was transient. */
static int store_result(struct oauth *o, struct oauth_entry *e, int rc,
			struct oauth_fetched *f, struct buf *token,
			time_t *expires_r, struct err *err)
{
	long long life_ms, now;

	e->fetching = 0;
	e->gen++;
	if (rc < 0) {
		e->failed = 1;
		e->err = *err;
		e->fail_until_ms =
			err->cls == ERR_TRANSIENT
				? 0
				: oauth_mono_ms() + OAUTH_FAIL_HOLD_S * 1000;
		return rc;
	}
	now = oauth_mono_ms();
	life_ms = (long long)(f->lifetime_s ? f->lifetime_s
					    : OAUTH_DEFAULT_LIFETIME_S) *
		  1000;
	e->token = f->token;
	e->token_len = f->token_len;
	f->token = NULL;
	e->expires_ms = now + life_ms;
	e->renew_ms = now + life_ms - oauth_renew_margin_ms(life_ms);
	e->expires_wall =
		f->lifetime_s ? time(NULL) + (time_t)f->lifetime_s : 0;
	return hand_out(o, e, token, expires_r, err);
}

int oauth_token(struct oauth *o, const char *email, struct buf *token,
		time_t *expires_r, struct err *err)
{
	const char *key = o->kind == OAUTH_CLIENT_CREDENTIALS ? "" : email;
	struct oauth_fetched f;
	struct oauth_entry *e;
	int rc;

	if (email == NULL || email[0] == '\0')
		return err_set(err, ERR_USAGE, EC_NONE,
			       "%s: a token needs the mailbox's address",
			       o->label);
	pthread_mutex_lock(&o->mu);
	e = entry_get(o, key, 1);
	if (cached_or_claim(o, e, token, expires_r, &rc, err)) {
		pthread_mutex_unlock(&o->mu);
		return rc;
	}
	pthread_mutex_unlock(&o->mu);

	memset(&f, 0, sizeof(f));
	rc = fetch(o, email, &f, err);

	pthread_mutex_lock(&o->mu);
	rc = store_result(o, e, rc, &f, token, expires_r, err);
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	oauth_fetched_wipe(&f);
	return rc;
}

void oauth_invalidate(struct oauth *o, const char *email, const char *token)
{
	const char *key = o->kind == OAUTH_CLIENT_CREDENTIALS ? "" : email;
	struct oauth_entry *e;

	if (email == NULL || token == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	e = entry_get(o, key, 0);
	if (e != NULL && e->token != NULL && !e->fetching &&
	    strlen(token) == e->token_len &&
	    CRYPTO_memcmp(e->token, token, e->token_len) == 0)
		entry_drop_token(e);
	pthread_mutex_unlock(&o->mu);
}
