/* http.c - the HTTP server of `serve --listen`: libmicrohttpd, the token
 * and cookie checks, the cross-site rules, the body cap, static assets
 * and the dispatch to the API (docs/internals/web.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/escape.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "web/assets.h"
#include "web/internal.h"

const struct web_asset *web_asset_find(const char *name)
{
	unsigned i;

	for (i = 0; i < web_assets_n; i++)
		if (strcmp(web_assets[i].name, name) == 0)
			return &web_assets[i];
	return NULL;
}

/* ---- state handles ---- */

struct state *web_state_get(struct web *w, struct err *err)
{
	struct state *st = NULL;

	pthread_mutex_lock(&w->pool_lock);
	if (w->npool > 0)
		st = w->pool[--w->npool];
	pthread_mutex_unlock(&w->pool_lock);
	if (st == NULL)
		st = state_open(w->state_path, err);
	return st;
}

void web_state_put(struct web *w, struct state *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&w->pool_lock);
	if (w->npool < WEB_POOL_MAX) {
		w->pool[w->npool++] = st;
		st = NULL;
	}
	pthread_mutex_unlock(&w->pool_lock);
	state_close(&st);
}

/* ---- replies ---- */

/* What every answer carries: nothing cached, nothing sniffed, never in
 * a frame, no referrer leaves. */
static void common_headers(struct MHD_Response *resp, const char *type)
{
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(
			resp, "Content-Security-Policy",
			"default-src 'self'; img-src 'self' data:; "
			"frame-ancestors 'none'; base-uri 'none'; "
			"form-action 'self'");
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result web_reply(struct MHD_Connection *c, unsigned status,
			  const char *type, const void *data, size_t len,
			  int copy)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)data,
		copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);

	if (resp == NULL)
		return MHD_NO;
	common_headers(resp, type);
	return queue(c, status, resp);
}

enum MHD_Result web_reply_json(struct MHD_Connection *c, unsigned status,
			       json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	size_t len;

	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	len = strlen(s);
	return web_reply(c, status, "application/json", s, len, 0);
}

enum MHD_Result web_reply_error(struct MHD_Connection *c, unsigned status,
				const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	j = json_pack("{s:s}", "error", b.p);
	buf_release(&b);
	return web_reply_json(c, status, j);
}

enum MHD_Result web_reply_err(struct MHD_Connection *c, const struct err *e)
{
	unsigned status = 500;

	if (e->cls == ERR_USAGE)
		status = strncmp(e->msg, "no ", 3) == 0 ? 404 : 400;
	return web_reply_error(c, status, "%s", e->msg);
}

/* ---- checks ---- */

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* 1 the Origin header names this server, 0 it names another, -1 none. */
static int origin_same(struct web *w, struct MHD_Connection *c)
{
	const char *origin = header(c, "Origin"), *host = header(c, "Host");
	const char *scheme = w->tls ? "https://" : "http://";
	size_t n = strlen(scheme);

	if (origin == NULL)
		return -1;
	if (host == NULL || strncasecmp(origin, scheme, n) != 0)
		return 0;
	return strcasecmp(origin + n, host) == 0;
}

/* NULL if a state-changing request may go on, else why not.  A browser
 * says where a request comes from (Origin, Sec-Fetch-Site); a request
 * from another site is refused whatever it carries.  One authenticated
 * by the cookie alone must show it comes from the page: the same Origin,
 * or the X-Imapmig header that no cross-site form can set. */
static const char *cross_site(struct web *w, struct MHD_Connection *c,
			      int cookie_auth)
{
	const char *sfs = header(c, "Sec-Fetch-Site");
	int same = origin_same(w, c);

	if (sfs != NULL && strcasecmp(sfs, "same-origin") != 0 &&
	    strcasecmp(sfs, "none") != 0)
		return "cross-site request refused (Sec-Fetch-Site)";
	if (same == 0)
		return "cross-site request refused: its Origin is not this "
		       "server";
	if (cookie_auth && same != 1 && header(c, "X-Imapmig") == NULL)
		return "request refused: a request authenticated by the "
		       "cookie needs the X-Imapmig header or this server's "
		       "Origin";
	return NULL;
}

/* 1 the Bearer token is right, 2 the session cookie is, 0 neither. */
static int authenticated(struct web *w, struct MHD_Connection *c)
{
	const char *a = header(c, "Authorization");
	const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
							 "imapmig_session");

	if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
		a += 7;
		while (*a == ' ')
			a++;
		return web_token_ok(w, a, strlen(a)) ? 1 : 0;
	}
	if (cookie != NULL && web_session_ok(w, cookie))
		return 2;
	return 0;
}

static int is_write(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static int is_get(const char *method)
{
	return !is_write(method);
}

enum MHD_Result web_reply_405(struct MHD_Connection *c, const char *allow)
{
	char *s = NULL;
	json_t *j =
		json_pack("{s:s}", "error", "method not allowed on this route");
	struct MHD_Response *resp;

	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(s), s,
					       MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return MHD_NO;
	common_headers(resp, "application/json");
	MHD_add_response_header(resp, "Allow", allow);
	return queue(c, 405, resp);
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *name)
{
	const struct web_asset *a = web_asset_find(name);
	struct MHD_Response *resp;

	if (a == NULL)
		return web_reply_error(c, 404, "no asset named %s", name);
	resp = MHD_create_response_from_buffer(a->len, (void *)a->data,
					       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	common_headers(resp, a->type);
	return queue(c, 200, resp);
}

/* The token from a login body: JSON {"token": T} or a form token=T. */
static char *login_token(struct MHD_Connection *c, struct web_req *r)
{
	const char *type = header(c, "Content-Type");
	char *tok = NULL;

	if (type != NULL &&
	    strncasecmp(type, "application/x-www-form-urlencoded", 33) == 0) {
		char *p = r->body.p;
		while (p != NULL && *p) {
			char *amp = strchr(p, '&');
			if (amp != NULL)
				*amp = '\0';
			if (strncmp(p, "token=", 6) == 0) {
				char *v = p + 6, *q;
				for (q = v; *q; q++)
					if (*q == '+')
						*q = ' ';
				MHD_http_unescape(v);
				tok = xstrdup(v);
				break;
			}
			p = amp ? amp + 1 : NULL;
		}
	} else {
		json_error_t je;
		json_t *j = json_loadb(r->body.p, r->body.len, 0, &je);
		const char *key;
		json_t *v;
		if (j == NULL || !json_is_object(j)) {
			json_decref(j);
			return NULL;
		}
		json_object_foreach(j, key, v)
		{
			if (strcmp(key, "token") == 0 && json_is_string(v))
				tok = xstrdup(json_string_value(v));
		}
		json_decref(j);
	}
	return tok;
}

static enum MHD_Result login(struct web *w, struct MHD_Connection *c,
			     struct web_req *r)
{
	const char *type = header(c, "Content-Type");
	int form =
		type != NULL &&
		strncasecmp(type, "application/x-www-form-urlencoded", 33) == 0;
	char *tok = login_token(c, r);
	struct MHD_Response *resp;
	char cookie[200];
	int ok;

	OPENSSL_cleanse(r->body.p, r->body.len);
	if (tok == NULL)
		return web_reply_error(c, 400,
				       "login: give {\"token\": \"...\"} or a "
				       "form field token");
	ok = web_token_ok(w, tok, strlen(tok));
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	if (!ok)
		return web_reply_error(c, 401,
				       "login: wrong token: see "
				       "<state dir>/api-token");
	snprintf(cookie, sizeof(cookie),
		 "imapmig_session=%s; HttpOnly; SameSite=Strict; Path=/%s",
		 w->session, w->tls ? "; Secure" : "");
	if (form) {
		resp = MHD_create_response_from_buffer(0, (void *)"",
						       MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		common_headers(resp, "text/plain");
		MHD_add_response_header(resp, "Location", "/");
		MHD_add_response_header(resp, "Set-Cookie", cookie);
		return queue(c, 303, resp);
	}
	{
		char *s = xstrdup("{\"ok\":true}");
		resp = MHD_create_response_from_buffer(strlen(s), s,
						       MHD_RESPMEM_MUST_FREE);
	}
	if (resp == NULL)
		return MHD_NO;
	common_headers(resp, "application/json");
	MHD_add_response_header(resp, "Set-Cookie", cookie);
	return queue(c, 200, resp);
}

static enum MHD_Result logout(struct MHD_Connection *c)
{
	struct MHD_Response *resp;
	char *s = xstrdup("{\"ok\":true}");

	resp = MHD_create_response_from_buffer(strlen(s), s,
					       MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return MHD_NO;
	common_headers(resp, "application/json");
	MHD_add_response_header(resp, "Set-Cookie",
				"imapmig_session=; HttpOnly; SameSite=Strict; "
				"Path=/; Max-Age=0");
	return queue(c, 200, resp);
}

/* On loopback, the Host a browser sends must name this server: a page of
 * another site whose name was made to resolve to 127.0.0.1 (DNS
 * rebinding) is its own origin and would pass the Origin checks. */
static int host_ok(struct web *w, struct MHD_Connection *c)
{
	const char *host = header(c, "Host");
	const char *names[] = {"127.0.0.1", "localhost", "[::1]", w->bind_ip};
	size_t i;

	if (!w->loopback)
		return 1;
	if (host == NULL)
		return 1; /* HTTP/1.0: no browser */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		if (strncasecmp(host, names[i], n) == 0 &&
		    (host[n] == '\0' ||
		     (host[n] == ':' && strcmp(host + n + 1, w->port) == 0)))
			return 1;
	}
	return 0;
}

static enum MHD_Result dispatch(struct web *w, struct MHD_Connection *c,
				const char *url, const char *method,
				struct web_req *r)
{
	const char *why;
	int auth;

	if (!host_ok(w, c))
		return web_reply_error(c, 403,
				       "Host header does not name this server: "
				       "use http://127.0.0.1:%s/",
				       w->port);

	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
		if (!is_get(method))
			return web_reply_405(c, "GET, HEAD");
		return serve_asset(c, "index.html");
	}
	if (strncmp(url, "/assets/", 8) == 0) {
		if (!is_get(method))
			return web_reply_405(c, "GET, HEAD");
		if (strchr(url + 8, '/') != NULL)
			return web_reply_error(c, 404, "no such asset");
		return serve_asset(c, url + 8);
	}
	if (strcmp(url, "/healthz") == 0) {
		if (!is_get(method))
			return web_reply_405(c, "GET, HEAD");
		return web_healthz(w, c);
	}
	if (strcmp(url, "/metrics") == 0) {
		if (!is_get(method))
			return web_reply_405(c, "GET, HEAD");
		return web_metrics(w, c);
	}
	if (strcmp(url, "/api/v1/login") == 0 ||
	    strcmp(url, "/api/v1/logout") == 0) {
		if (strcmp(method, "POST") != 0)
			return web_reply_405(c, "POST");
		why = cross_site(w, c, 0);
		if (why != NULL)
			return web_reply_error(c, 403, "%s", why);
		return strcmp(url, "/api/v1/login") == 0 ? login(w, c, r)
							 : logout(c);
	}
	if (strncmp(url, "/api/", 5) != 0)
		return web_reply_error(c, 404, "no route %s", url);
	auth = authenticated(w, c);
	if (auth == 0) {
		struct MHD_Response *resp;
		char *s = xstrdup(
			"{\"error\":\"missing or wrong API token: send "
			"'Authorization: Bearer TOKEN' (the token is in "
			"<state dir>/api-token) or sign in on the page\"}");
		resp = MHD_create_response_from_buffer(strlen(s), s,
						       MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			return MHD_NO;
		common_headers(resp, "application/json");
		MHD_add_response_header(resp, "WWW-Authenticate",
					"Bearer realm=\"imapmig\"");
		return queue(c, 401, resp);
	}
	r->cookie_auth = auth == 2;
	if (is_write(method)) {
		why = cross_site(w, c, r->cookie_auth);
		if (why != NULL)
			return web_reply_error(c, 403, "%s", why);
	}
	if (strncmp(url, "/api/v1/", 8) != 0 && strcmp(url, "/api/v1") != 0)
		return web_reply_error(c, 404, "no route %s", url);
	return web_api(w, c, method, url + 7, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct web *w = cls;
	struct web_req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		const char *cl = header(c, "Content-Length");
		/* only a new batch carries a CSV */
		size_t max = strcmp(url, "/api/v1/batches") == 0
				     ? WEB_BODY_MAX
				     : WEB_SMALL_BODY_MAX;
		r = xcalloc(1, sizeof(*r));
		buf_init(&r->body, max);
		*con_cls = r;
		/* refused before a byte of it is read: MHD answers and
		 * closes the connection */
		if (cl != NULL && strtoull(cl, NULL, 10) > max) {
			r->too_big = 1;
			return web_reply_error(
				c, 413,
				"request body of %s bytes is over the limit "
				"of %zu bytes",
				cl, max);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (r->too_big) {
			*upload_size = 0;
			return MHD_YES;
		}
		if (buf_add(&r->body, upload, *upload_size) < 0) {
			/* chunked and past the cap: MHD can answer only
			 * before the body or after all of it; read no more,
			 * close the connection */
			log_info("web: a chunked request body passed %zu "
				 "bytes: connection closed",
				 r->body.max);
			return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return MHD_YES;
	return dispatch(w, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct web_req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	OPENSSL_cleanse(r->body.p, r->body.len);
	buf_release(&r->body);
	free(r);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	(void)cls;
	buf_vaddf(&b, fmt, ap);
	while (b.len > 0 && b.p[b.len - 1] == '\n')
		buf_setlen(&b, b.len - 1);
	log_debug("web: %s", b.p);
	buf_release(&b);
}

/* ---- start and stop ---- */

static char *read_pem(const char *path, const char *what, struct err *err)
{
	struct buf b = BUF_INIT_MAX(1024 * 1024);
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		err_set(err, ERR_USAGE, EC_IO, "cannot read %s %s: %s", what,
			path, strerror(errno));
		return NULL;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&b, chunk, (size_t)n) < 0)
			break;
	close(fd);
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (n != 0 || strstr(b.p, "-----BEGIN ") == NULL) {
		OPENSSL_cleanse(b.p, b.len);
		buf_release(&b);
		err_set(err, ERR_USAGE, EC_IO,
			"%s %s: not a PEM file (or over 1 MiB): give the PEM "
			"file",
			what, path);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* "HOST:PORT" or "[V6]:PORT" into sa; *loopback_r says if it is. */
static int parse_listen(const char *s, struct sockaddr_storage *sa,
			socklen_t *len_r, int *v6_r, int *loopback_r,
			struct err *err)
{
	char host[256];
	const char *colon, *h = s;
	size_t hl;
	long port;
	char *end;
	struct addrinfo hints, *ai = NULL;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535 ||
	    errno != 0)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (strcmp(host, "localhost") != 0)
		hints.ai_flags |= AI_NUMERICHOST;
	else
		hints.ai_family = AF_INET;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
		goto bad;
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len_r = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (sa->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		in->sin_port = htons((uint16_t)port);
		*v6_r = 0;
		*loopback_r = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		in6->sin6_port = htons((uint16_t)port);
		*v6_r = 1;
		*loopback_r = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
bad:
	return err_set(err, ERR_USAGE, EC_NONE,
		       "--listen %s: give an address and port such as "
		       "127.0.0.1:8025 or [::1]:8025",
		       esc(s));
}

struct web *web_start(const struct web_opts *o, struct err *err)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int v6 = 0, loopback = 0;
	unsigned flags;
	char *token_path = NULL;
	struct web *w;
	const union MHD_DaemonInfo *info;
	char ip[INET6_ADDRSTRLEN];

	if (parse_listen(o->listen, &sa, &salen, &v6, &loopback, err) < 0)
		return NULL;
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		err_set(err, ERR_USAGE, EC_NONE,
			"--tls-cert and --tls-key go together");
		return NULL;
	}
	if (!loopback && o->tls_cert == NULL) {
		err_set(err, ERR_USAGE, EC_NONE,
			"--listen %s is not a loopback address: the "
			"token would cross the network in plaintext; give "
			"--tls-cert and --tls-key, or listen on 127.0.0.1",
			esc(o->listen));
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->pool_lock, NULL);
	pthread_mutex_init(&w->jobs_lock, NULL);
	w->state_path = xstrdup(o->state_path);
	w->alive_seconds = o->alive_seconds ? o->alive_seconds : 60;
	atomic_store(&w->heartbeat, (long long)time(NULL));
	if (o->token_file != NULL) {
		if (web_token_load(w, o->token_file, 0, err) < 0)
			goto fail;
	} else {
		char *dir = xstrdup(o->state_path), *slash = strrchr(dir, '/');
		if (slash != NULL)
			*slash = '\0';
		token_path = xasprintf("%s/api-token", slash ? dir : ".");
		free(dir);
		if (web_token_load(w, token_path, 1, err) < 0)
			goto fail;
	}
	if (o->tls_cert != NULL) {
		w->cert_pem = read_pem(o->tls_cert, "--tls-cert", err);
		if (w->cert_pem == NULL)
			goto fail;
		w->key_pem = read_pem(o->tls_key, "--tls-key", err);
		if (w->key_pem == NULL)
			goto fail;
		w->tls = 1;
	}
	w->events = web_events_start(w, err);
	if (w->events == NULL)
		goto fail;
	flags = MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (w->tls)
		flags |= MHD_USE_TLS;
	if (w->tls)
		w->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, w,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			MHD_OPTION_CONNECTION_LIMIT,
			(unsigned)WEB_MAX_CONNECTIONS,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
			MHD_OPTION_HTTPS_MEM_CERT, w->cert_pem,
			MHD_OPTION_HTTPS_MEM_KEY, w->key_pem, MHD_OPTION_END);
	else
		w->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, w,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			MHD_OPTION_CONNECTION_LIMIT,
			(unsigned)WEB_MAX_CONNECTIONS,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_END);
	if (w->daemon == NULL) {
		err_set(err, w->tls ? ERR_USAGE : ERR_LOCAL, EC_NONE,
			"cannot listen on %s%s: is the port in use%s?",
			esc(o->listen), w->tls ? " with TLS" : "",
			w->tls ? ", or the certificate and key not a pair"
			       : "");
		goto fail;
	}
	info = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (v6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr,
			  ip, sizeof(ip));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, ip,
			  sizeof(ip));
	snprintf(w->address, sizeof(w->address), v6 ? "[%s]:%u" : "%s:%u", ip,
		 info != NULL ? (unsigned)info->port : 0);
	snprintf(w->port, sizeof(w->port), "%u",
		 info != NULL ? (unsigned)info->port : 0);
	snprintf(w->bind_ip, sizeof(w->bind_ip), v6 ? "[%s]" : "%s", ip);
	w->loopback = loopback;
	free(token_path);
	return w;
fail:
	free(token_path);
	web_stop(&w);
	return NULL;
}

void web_stop(struct web **wp)
{
	struct web *w = *wp;
	size_t i;

	if (w == NULL)
		return;
	atomic_store(&w->stopping, 1);
	/* the event streams end first, or the daemon would wait for them */
	web_events_shutdown(w->events);
	if (w->daemon != NULL)
		MHD_stop_daemon(w->daemon);
	web_events_free(&w->events);
	for (i = 0; i < w->npool; i++)
		state_close(&w->pool[i]);
	if (w->key_pem != NULL) {
		OPENSSL_cleanse(w->key_pem, strlen(w->key_pem));
		free(w->key_pem);
	}
	free(w->cert_pem);
	free(w->jobs);
	free(w->counted);
	free(w->state_path);
	OPENSSL_cleanse(w->token_hash, sizeof(w->token_hash));
	OPENSSL_cleanse(w->session, sizeof(w->session));
	pthread_mutex_destroy(&w->pool_lock);
	pthread_mutex_destroy(&w->jobs_lock);
	free(w);
	*wp = NULL;
}

const char *web_address(const struct web *w)
{
	return w->address;
}

void web_heartbeat(struct web *w)
{
	if (w != NULL)
		atomic_store(&w->heartbeat, (long long)time(NULL));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void web_tick(struct web *w, struct sched_job *jobs, size_t n)
{
	struct web_job *v;
	long long ms = now_ms(), now = (long long)time(NULL);
	size_t i, k = 0, m;

	if (w == NULL)
		return;
	web_heartbeat(w);
	v = xcalloc(n + 1, sizeof(*v));
	pthread_mutex_lock(&w->jobs_lock);
	if (n != w->ncounted) {
		free(w->counted);
		w->counted = xcalloc(n + 1, sizeof(*w->counted));
		w->ncounted = n;
	}
	for (i = 0; i < n; i++) {
		int cls = jobs[i].error_class;
		if (atomic_load(&jobs[i].finished) != JOB_FAILED ||
		    w->counted[i] == jobs[i].started)
			continue;
		w->counted[i] = jobs[i].started;
		if (cls <= ERR_NONE || cls > ERR_LOCAL)
			cls = ERR_LOCAL;
		w->errors[cls]++;
	}
	for (i = 0; i < n; i++) {
		struct sched_job *j = &jobs[i];
		struct web_job *x = &v[k];
		if (j->started == 0 || atomic_load(&j->finished) != 0)
			continue;
		x->user_id = j->user_id;
		x->batch_id = j->batch_id;
		x->source_id = j->source_id;
		snprintf(x->email, sizeof(x->email), "%s", j->email);
		pthread_mutex_lock(&j->prog.lock);
		snprintf(x->folder, sizeof(x->folder), "%s", j->prog.folder);
		pthread_mutex_unlock(&j->prog.lock);
		x->incremental = j->incremental;
		x->items_done = atomic_load(&j->prog.items_done);
		x->items_total = atomic_load(&j->prog.items_total);
		x->bytes_done = atomic_load(&j->prog.bytes_done);
		x->started = (long long)j->started;
		/* the rate over the last two seconds or more */
		for (m = 0; m < w->njobs; m++)
			if (w->jobs[m].user_id == x->user_id)
				break;
		if (m < w->njobs) {
			const struct web_job *o = &w->jobs[m];
			x->rate = o->rate;
			x->sample_bytes = o->sample_bytes;
			x->sample_ms = o->sample_ms;
		} else {
			x->rate = now > x->started
					  ? (double)x->bytes_done /
						    (double)(now - x->started)
					  : 0;
			x->sample_bytes = x->bytes_done;
			x->sample_ms = ms;
		}
		if (x->bytes_done < x->sample_bytes) { /* a new pass */
			x->sample_bytes = x->bytes_done;
			x->sample_ms = ms;
		}
		if (ms - x->sample_ms >= 2000) {
			x->rate = (double)(x->bytes_done - x->sample_bytes) *
				  1000.0 / (double)(ms - x->sample_ms);
			x->sample_bytes = x->bytes_done;
			x->sample_ms = ms;
		}
		k++;
	}
	free(w->jobs);
	w->jobs = v;
	w->njobs = k;
	w->jobs_at = now;
	pthread_mutex_unlock(&w->jobs_lock);
}
