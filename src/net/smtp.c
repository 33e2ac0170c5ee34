/* smtp.c - see smtp.h.  libcurl speaks SMTP (EHLO, STARTTLS, AUTH, MAIL,
 * RCPT, DATA with dot-stuffing); this file only sets it up and classes its
 * errors. */
#include "net/smtp.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "util/buf.h"
#include "util/xalloc.h"

int smtp_global_init(struct err *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return err_set(err, ERR_LOCAL, EC_NONE,
			       "cannot initialise libcurl: %s",
			       curl_easy_strerror(rc));
	return 0;
}

int smtp_parse_server(const char *arg, struct smtp_server *s, struct err *err)
{
	const char *colon, *host = arg;
	size_t hlen;
	char *end;
	unsigned long port;

	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		host = arg + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		colon = strrchr(arg, ':');
		if (colon == NULL || memchr(arg, ':', (size_t)(colon - arg)))
			goto bad;
		hlen = (size_t)(colon - arg);
	}
	if (hlen == 0 || hlen > 253 || colon[1] < '0' || colon[1] > '9')
		goto bad;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		goto bad;
	{
		size_t i;
		for (i = 0; i < hlen; i++) {
			unsigned char c = (unsigned char)host[i];
			/* a name or an address: nothing that would change
			 * the URL it goes into */
			if (!((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			      (c == ':' && arg[0] == '[')))
				goto bad;
		}
	}
	free(s->host);
	s->host = xstrndup(host, hlen);
	s->port = (unsigned)port;
	return 0;
bad:
	return err_set(err, ERR_USAGE, EC_NONE,
		       "--smtp-server %s: give HOST:PORT, e.g. "
		       "smtp.contoso.com:587 or [2001:db8::25]:25",
		       arg);
}

int smtp_parse_security(const char *name)
{
	if (strcmp(name, "none") == 0)
		return SMTP_SEC_NONE;
	if (strcmp(name, "ssl") == 0)
		return SMTP_SEC_SSL;
	if (strcmp(name, "tls") == 0)
		return SMTP_SEC_TLS;
	return -1;
}

const char *smtp_security_name(enum smtp_security sec)
{
	switch (sec) {
	case SMTP_SEC_NONE: return "none";
	case SMTP_SEC_SSL: return "ssl";
	case SMTP_SEC_TLS: return "tls";
	}
	return "?";
}

int smtp_address_ok(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	const char *p;

	if (at == NULL || at == addr || at[1] == '\0' || strlen(addr) > 254)
		return 0;
	for (p = addr; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || strchr("<>()[],;:\"\\", c))
			return 0;
		if (c == '@' && p != at)
			return 0;
	}
	return 1;
}

struct reader {
	const char *p;
	size_t left;
	const _Atomic int *cancel;
};

static size_t read_cb(char *out, size_t size, size_t nitems, void *ctx)
{
	struct reader *r = ctx;
	size_t n = size * nitems;

	if (n > r->left)
		n = r->left;
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

static int progress_cb(void *ctx, curl_off_t dlt, curl_off_t dln,
		       curl_off_t ult, curl_off_t uln)
{
	struct reader *r = ctx;

	(void)dlt;
	(void)dln;
	(void)ult;
	(void)uln;
	return r->cancel != NULL && atomic_load(r->cancel) ? 1 : 0;
}

/* The error of a failed exchange: its class from curl's code and the
 * server's last reply code. */
static int send_error(const struct smtp_server *s, CURLcode rc, long reply,
		      const char *detail, struct err *err)
{
	enum err_class cls = ERR_TRANSIENT;
	enum err_code code = EC_PROTOCOL;
	const char *what = curl_easy_strerror(rc);
	const char *advice = "the report waits and is retried";

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST: code = EC_RESOLVE; break;
	case CURLE_COULDNT_CONNECT: code = EC_REFUSED; break;
	case CURLE_OPERATION_TIMEDOUT: code = EC_TIMEOUT; break;
	case CURLE_ABORTED_BY_CALLBACK:
		code = EC_NONE;
		what = "cancelled: serve is stopping";
		advice = "the report is sent by the next serve";
		break;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR: code = EC_RESET; break;
	case CURLE_LOGIN_DENIED:
		cls = ERR_AUTH;
		code = EC_AUTHFAIL;
		advice = "check --smtp-user and --smtp-password-file; the "
			 "report waits and is retried";
		break;
	case CURLE_USE_SSL_FAILED:
		cls = ERR_CONNECT;
		code = EC_NO_STARTTLS;
		what = "the server offers no STARTTLS";
		advice = "use --smtp-security ssl (port 465) if it has TLS; "
			 "the report waits and is retried";
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		cls = ERR_CONNECT;
		code = EC_CERT;
		advice = "check the server's certificate or --smtp-ca-file; "
			 "the report waits and is retried";
		break;
	case CURLE_SSL_CONNECT_ERROR:
		cls = ERR_CONNECT;
		code = EC_TLS;
		break;
	default: break;
	}
	/* the server's refusal: 4xx is temporary, 5xx needs a person */
	if (reply >= 500 && reply < 600 && cls == ERR_TRANSIENT) {
		cls = ERR_CONNECT;
		code = EC_NO;
	}
	/* curl's own words are the more precise (address, port, reply),
	 * unless this file has better ones */
	if (detail[0] && what == curl_easy_strerror(rc))
		what = detail;
	if (reply >= 400)
		return err_set(err, cls, code,
			       "SMTP server %s:%u: %s (reply %ld): %s", s->host,
			       s->port, what, reply, advice);
	return err_set(err, cls, code, "SMTP server %s:%u: %s: %s", s->host,
		       s->port, what, advice);
}

int smtp_send(const struct smtp_server *s, const char *from,
	      const char *const *rcpt, size_t n, const char *msg, size_t len,
	      const _Atomic int *cancel, struct err *err)
{
	struct reader r = {msg, len, cancel};
	struct curl_slist *to = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct buf url = BUF_INIT, mfrom = BUF_INIT;
	CURL *c;
	CURLcode rc;
	long reply = 0;
	size_t i;
	int ret = -1;

	if (n == 0)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "a report with no recipient");
	c = curl_easy_init();
	if (c == NULL)
		return err_set(err, ERR_LOCAL, EC_NONE,
			       "cannot create a libcurl handle");
	buf_addf(&url, "%s://%s%s%s:%u/",
		 s->security == SMTP_SEC_SSL ? "smtps" : "smtp",
		 strchr(s->host, ':') ? "[" : "", s->host,
		 strchr(s->host, ':') ? "]" : "", s->port);
	buf_addf(&mfrom, "<%s>", from);
	for (i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "<%s>", rcpt[i]);
		to = curl_slist_append(to, b.p);
		buf_release(&b);
	}
	curl_easy_setopt(c, CURLOPT_URL, url.p);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
			 (long)(s->timeout_s ? s->timeout_s : 30));
	curl_easy_setopt(
		c, CURLOPT_CONNECTTIMEOUT,
		(long)(s->timeout_s && s->timeout_s < 10 ? s->timeout_s : 10));
	if (s->security != SMTP_SEC_NONE)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (s->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	if (s->user != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD,
				 s->password ? s->password : "");
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, mfrom.p);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &r);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		ret = 0;
	} else {
		errbuf[strcspn(errbuf, "\r\n")] = '\0';
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
		send_error(s, rc, reply, errbuf, err);
	}
	/* the password is in libcurl's handle: cleanup frees it */
	curl_easy_cleanup(c);
	curl_slist_free_all(to);
	buf_release(&url);
	buf_release(&mfrom);
	return ret;
}

void smtp_server_release(struct smtp_server *s)
{
	free(s->host);
	free(s->user);
	free(s->ca_file);
	if (s->password != NULL) {
		OPENSSL_cleanse(s->password, strlen(s->password));
		free(s->password);
	}
	memset(s, 0, sizeof(*s));
}
