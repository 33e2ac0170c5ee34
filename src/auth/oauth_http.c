/* oauth_http.c - one POST to a token endpoint (libcurl), its answer
 * parsed with jansson.
 *
 * The request body holds the client secret or the signed assertion:
 * curl's verbose output is never turned on, and the body is wiped by
 * the caller.  The peer is always verified (CURLOPT_CAINFO names the
 * test CA when --oauth-ca-file is given), redirects are not followed,
 * and the answer is capped at OAUTH_MAX_RESPONSE. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "auth/oauth_int.h"
#include "util/xalloc.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe; run it once.  Never cleaned up:
 * the process ends first. */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void oauth_form_add(struct buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *v = (const unsigned char *)value;

	if (b->len > 0)
		buf_addch(b, '&');
	buf_addstr(b, name);
	buf_addch(b, '=');
	for (; *v; v++) {
		if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		    (*v >= '0' && *v <= '9') || *v == '-' || *v == '.' ||
		    *v == '_' || *v == '~') {
			buf_addch(b, (char)*v);
		} else {
			buf_addch(b, '%');
			buf_addch(b, hex[*v >> 4]);
			buf_addch(b, hex[*v & 15]);
		}
	}
}

static int is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "[::1]") == 0 || strncmp(host, "127.", 4) == 0;
}

int oauth_url_is_loopback(const char *url)
{
	CURLU *u;
	char *host = NULL;
	int r = 0;

	pthread_once(&curl_once, curl_init);
	u = curl_url();
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		r = is_loopback(host);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

int oauth_url_check(const char *label, const char *what, const char *url,
		    struct err *err)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	pthread_once(&curl_once, curl_init);
	u = curl_url();
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = err_set(err, ERR_USAGE, EC_NONE,
			     "%s: the %s '%.200s' is not a URL (give e.g. "
			     "https://login.microsoftonline.com/TENANT/oauth2/"
			     "v2.0/token)",
			     label, what, url);
	} else if (strcasecmp(scheme, "https") != 0 &&
		   !(strcasecmp(scheme, "http") == 0 && is_loopback(host))) {
		rc = err_set(err, ERR_USAGE, EC_NONE,
			     "%s: the %s '%.200s' must be https:// (plain "
			     "http:// only to a loopback address)",
			     label, what, url);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

struct sink {
	struct buf b;
	int too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (buf_add(&s->b, data, size * n) < 0) {
		s->too_big = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Copy a server's text for a message: printable ASCII, at most max. */
static void clean_text(char *dst, size_t dstlen, const char *src, size_t max)
{
	size_t i, j = 0;

	for (i = 0; src != NULL && src[i] && j + 1 < dstlen && i < max; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[j] = '\0';
}

static int transport_error(const struct oauth_post *p, CURLcode cc,
			   const char *detail, struct err *err)
{
	const char *what = detail[0] ? detail : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_set(err, ERR_CONNECT, EC_RESOLVE,
			       "%s: token endpoint %s cannot be reached: %s",
			       p->label, p->url, what);
	case CURLE_COULDNT_CONNECT:
		return err_set(err, ERR_CONNECT, EC_REFUSED,
			       "%s: token endpoint %s cannot be reached: %s "
			       "(check --oauth-token-url)",
			       p->label, p->url, what);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(err, ERR_TRANSIENT, EC_TIMEOUT,
			       "%s: token endpoint %s did not answer within "
			       "%u ms",
			       p->label, p->url, p->timeout_ms);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return err_set(err, ERR_CONNECT, EC_CERT,
			       "%s: token endpoint %s: its certificate is not "
			       "trusted: %s (give its CA with "
			       "--oauth-ca-file)",
			       p->label, p->url, what);
	case CURLE_SSL_CONNECT_ERROR:
		return err_set(err, ERR_CONNECT, EC_TLS,
			       "%s: token endpoint %s: TLS handshake failed: "
			       "%s",
			       p->label, p->url, what);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return err_set(err, ERR_TRANSIENT, EC_RESET,
			       "%s: token endpoint %s closed the connection: "
			       "%s",
			       p->label, p->url, what);
	default:
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s: token endpoint %s: %s", p->label, p->url,
			       what);
	}
}

/* A bearer token goes into a SASL line: printable ASCII, no spaces. */
static int token_chars_ok(const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return 0;
	return 1;
}

/* A 200 answer's JSON object: the Bearer token and its lifetime into
 * out, or -1 with err. */
static int take_token(const struct oauth_post *p, json_t *j,
		      struct oauth_fetched *out, struct err *err)
{
	json_t *tok = json_object_get(j, "access_token");
	json_t *exp = json_object_get(j, "expires_in");
	json_t *type = json_object_get(j, "token_type");
	char text[240];

	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s: token endpoint %s answered without an "
			       "access_token",
			       p->label, p->url);
	if (type != NULL &&
	    (!json_is_string(type) ||
	     strcasecmp(json_string_value(type), "bearer") != 0)) {
		clean_text(text, sizeof(text),
			   json_is_string(type) ? json_string_value(type) : "?",
			   40);
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s: token endpoint %s gave a token of type "
			       "'%s', not Bearer",
			       p->label, p->url, text);
	}
	if (!token_chars_ok(json_string_value(tok), json_string_length(tok)))
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s: token endpoint %s gave a token with "
			       "bytes that are not printable ASCII",
			       p->label, p->url);
	memset(out, 0, sizeof(*out));
	/* expires_in: a number, or (some servers) a string of one */
	if (json_is_integer(exp) && json_integer_value(exp) > 0)
		out->lifetime_s = (unsigned long long)json_integer_value(exp);
	else if (json_is_real(exp) && json_real_value(exp) >= 1)
		out->lifetime_s = (unsigned long long)json_real_value(exp);
	else if (json_is_string(exp))
		slice_to_u64(slice_cstr(json_string_value(exp)),
			     &out->lifetime_s);
	out->token_len = json_string_length(tok);
	out->token = xstrndup(json_string_value(tok), out->token_len);
	OPENSSL_cleanse((char *)json_string_value(tok),
			json_string_length(tok));
	return 0;
}

/* Any other answer as the error it is: unavailable (transient, with the
 * server's Retry-After), an OAuth error, a plain 401/403, or not a token
 * endpoint's answer at all.  Always -1. */
static int refusal(const struct oauth_post *p, long status, long retry_after_s,
		   json_t *j, struct err *err)
{
	json_t *e, *desc;
	char code[80], text[240];

	if (status == 429 || status >= 500) {
		err_set(err, ERR_TRANSIENT,
			status == 429 ? EC_THROTTLED : EC_PROTOCOL,
			"%s: token endpoint %s is unavailable (HTTP %ld); "
			"retry later",
			p->label, p->url, status);
		if (retry_after_s > 0)
			err->retry_after_ms =
				(unsigned)(retry_after_s > 3600
						   ? 3600000
						   : retry_after_s * 1000);
		return -1;
	}
	e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	if (json_is_string(e)) {
		desc = json_object_get(j, "error_description");
		clean_text(code, sizeof(code), json_string_value(e), 60);
		clean_text(text, sizeof(text),
			   json_is_string(desc) ? json_string_value(desc) : "",
			   200);
		return err_set(err, ERR_AUTH, EC_AUTHFAIL,
			       "%s: token endpoint %s refused %s: %s%s%s%s",
			       p->label, p->url, p->what, code,
			       text[0] ? " (" : "", text, text[0] ? ")" : "");
	}
	if (status == 401 || status == 403)
		return err_set(err, ERR_AUTH, EC_AUTHFAIL,
			       "%s: token endpoint %s refused %s (HTTP %ld)",
			       p->label, p->url, p->what, status);
	return err_set(err, ERR_CONNECT, EC_PROTOCOL,
		       "%s: token endpoint %s answered HTTP %ld%s (check "
		       "--oauth-token-url)",
		       p->label, p->url, status,
		       status == 200 ? " without a JSON token" : "");
}

/* The answer of a token endpoint: 200 with a token, or an OAuth error. */
int oauth_http_parse_answer(const struct oauth_post *p, long status,
			    long retry_after_s, struct buf *body,
			    struct oauth_fetched *out, struct err *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(body->p, body->len, 0, &jerr);
	int rc;

	if (status == 200 && json_is_object(j))
		rc = take_token(p, j, out, err);
	else
		rc = refusal(p, status, retry_after_s, j, err);
	json_decref(j);
	return rc;
}

int oauth_http_fetch(const struct oauth_post *p, struct oauth_fetched *out,
		     struct err *err)
{
	struct sink s = {BUF_INIT_MAX(OAUTH_MAX_RESPONSE), 0};
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	long status = 0;
	curl_off_t retry_after = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return err_set(err, ERR_LOCAL, EC_IO, "%s: libcurl: %s",
			       p->label, curl_easy_strerror(curl_init_rc));
	c = curl_easy_init();
	if (c == NULL)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "%s: libcurl: cannot make a handle", p->label);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(
		hdrs, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(c, CURLOPT_URL, p->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);
	/* a loopback endpoint (the tests') never goes through a proxy; others
	 * follow the environment (https_proxy, no_proxy) as curl does */
	if (p->loopback)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(p->body));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "imapmig");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(c);
	if (cc == CURLE_WRITE_ERROR && s.too_big) {
		err_set(err, ERR_CONNECT, EC_TOO_BIG,
			"%s: token endpoint %s answered more than %d bytes",
			p->label, p->url, OAUTH_MAX_RESPONSE);
	} else if (cc != CURLE_OK) {
		/* curl's text names hosts and system errors, never the body */
		transport_error(p, cc, errbuf, err);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after);
		rc = oauth_http_parse_answer(p, status, (long)retry_after, &s.b,
					     out, err);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	OPENSSL_cleanse(s.b.p, s.b.cap);
	buf_release(&s.b);
	OPENSSL_cleanse(errbuf, sizeof(errbuf));
	return rc;
}
