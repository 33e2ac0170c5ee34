/* http_reply.c - what the routes of web/ answer with: the state handle
 * pool, the headers every answer carries, JSON and error replies
 * (internal.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "web/internal.h"

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
void web_common_headers(struct MHD_Response *resp, const char *type)
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

enum MHD_Result web_queue(struct MHD_Connection *c, unsigned status,
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
	web_common_headers(resp, type);
	return web_queue(c, status, resp);
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

enum MHD_Result web_reply_json_text(struct MHD_Connection *c, unsigned status,
				    char *s, const char *name,
				    const char *value)
{
	struct MHD_Response *resp;

	if (s == NULL)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(s), s,
					       MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return MHD_NO;
	web_common_headers(resp, "application/json");
	if (name != NULL)
		MHD_add_response_header(resp, name, value);
	return web_queue(c, status, resp);
}

enum MHD_Result web_reply_405(struct MHD_Connection *c, const char *allow)
{
	json_t *j =
		json_pack("{s:s}", "error", "method not allowed on this route");
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return web_reply_json_text(c, 405, s, "Allow", allow);
}
