/* http_route.c - one request's way through the server of `serve
 * --listen`: the Host check, static assets, /healthz and /metrics, login
 * and logout, the token or cookie, the cross-site rules, then the API
 * (docs/internals/web.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

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

/* ---- checks ---- */

const char *web_header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* 1 the Origin header names this server, 0 it names another, -1 none. */
static int origin_same(struct web *w, struct MHD_Connection *c)
{
	const char *origin = web_header(c, "Origin"),
		   *host = web_header(c, "Host");
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
	const char *sfs = web_header(c, "Sec-Fetch-Site");
	int same = origin_same(w, c);

	if (sfs != NULL && strcasecmp(sfs, "same-origin") != 0 &&
	    strcasecmp(sfs, "none") != 0)
		return "cross-site request refused (Sec-Fetch-Site)";
	if (same == 0)
		return "cross-site request refused: its Origin is not this "
		       "server";
	if (cookie_auth && same != 1 && web_header(c, "X-Imapmig") == NULL)
		return "request refused: a request authenticated by the "
		       "cookie needs the X-Imapmig header or this server's "
		       "Origin";
	return NULL;
}

/* 1 the Bearer token is right, 2 the session cookie is, 0 neither. */
static int authenticated(struct web *w, struct MHD_Connection *c)
{
	const char *a = web_header(c, "Authorization");
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
	web_common_headers(resp, a->type);
	return web_queue(c, 200, resp);
}

/* The token from a login body: JSON {"token": T} or a form token=T. */
static char *login_token(struct MHD_Connection *c, struct web_req *r)
{
	const char *type = web_header(c, "Content-Type");
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
	const char *type = web_header(c, "Content-Type");
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
		web_common_headers(resp, "text/plain");
		MHD_add_response_header(resp, "Location", "/");
		MHD_add_response_header(resp, "Set-Cookie", cookie);
		return web_queue(c, 303, resp);
	}
	return web_reply_json_text(c, 200, xstrdup("{\"ok\":true}"),
				   "Set-Cookie", cookie);
}

static enum MHD_Result logout(struct MHD_Connection *c)
{
	return web_reply_json_text(c, 200, xstrdup("{\"ok\":true}"),
				   "Set-Cookie",
				   "imapmig_session=; HttpOnly; "
				   "SameSite=Strict; Path=/; Max-Age=0");
}

/* On loopback, the Host a browser sends must name this server: a page of
 * another site whose name was made to resolve to 127.0.0.1 (DNS
 * rebinding) is its own origin and would pass the Origin checks. */
static int host_ok(struct web *w, struct MHD_Connection *c)
{
	const char *host = web_header(c, "Host");
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

enum MHD_Result web_dispatch(struct web *w, struct MHD_Connection *c,
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
	if (auth == 0)
		return web_reply_json_text(
			c, 401,
			xstrdup("{\"error\":\"missing or wrong API token: send "
				"'Authorization: Bearer TOKEN' (the token is "
				"in <state dir>/api-token) or sign in on the "
				"page\"}"),
			"WWW-Authenticate", "Bearer realm=\"imapmig\"");
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
