/* api.c - the JSON API's routes (/api/v1/...): the CLI's --json shapes
 * (sched/views.h) and its actions (sched/actions.h). */
#include <stdlib.h>
#include <string.h>

#include "sched/views.h"
#include "util/xalloc.h"
#include "web/internal.h"

/* The path's segments after /api/v1: at most 4, each unescaped by MHD
 * already.  Returns the count; -1 if there are more. */
static int split(const char *path, char *copy, size_t size, char **seg)
{
	char *p, *save = NULL;
	int n = 0;

	snprintf(copy, size, "%s", path);
	for (p = strtok_r(copy, "/", &save); p != NULL;
	     p = strtok_r(NULL, "/", &save)) {
		if (n == 4)
			return -1;
		seg[n++] = p;
	}
	return n;
}

static enum MHD_Result get_endpoints(struct web *w, struct MHD_Connection *c,
				     struct state *st)
{
	struct state_endpoint *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0, i;
	json_t *arr;

	(void)w;
	if (state_endpoint_list(st, &v, &n, &err) < 0)
		return web_reply_err(c, &err);
	arr = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(arr, view_endpoint(&v[i]));
		state_endpoint_release(&v[i]);
	}
	free(v);
	return web_reply_json(c, 200, arr);
}

static enum MHD_Result get_batch_users(struct MHD_Connection *c,
				       struct state *st, const char *name)
{
	struct state_batch b;
	struct state_user *v = NULL;
	struct err err = ERR_INIT;
	const char *status =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
	size_t n = 0, i;
	json_t *arr;

	if (status != NULL && user_status_parse(status) < 0)
		return web_reply_error(c, 400, "status %s is not a user status",
				       status);
	if (state_batch_get(st, name, &b, &err) < 0)
		return web_reply_err(c, &err);
	if (state_user_list(st, b.id, status, &v, &n, &err) < 0) {
		state_batch_release(&b);
		return web_reply_err(c, &err);
	}
	state_batch_release(&b);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, view_user(st, &v[i]));
	state_users_free(v, n);
	return web_reply_json(c, 200, arr);
}

static enum MHD_Result route(struct web *w, struct MHD_Connection *c,
			     const char *method, int n, char **seg,
			     struct web_req *r, struct state *st)
{
	struct err err = ERR_INIT;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int post = strcmp(method, "POST") == 0;
	int del = strcmp(method, "DELETE") == 0;
	json_t *j;

	(void)r;
	(void)post;
	(void)del;
	if (n == 1 && strcmp(seg[0], "endpoints") == 0) {
		if (!get)
			return web_reply_error(c, 405, "use GET");
		return get_endpoints(w, c, st);
	}
	if (n >= 1 && strcmp(seg[0], "batches") == 0) {
		if (n == 1) {
			if (!get)
				return web_reply_error(c, 405,
						       "use GET or POST");
			j = view_batches(st, NULL, &err);
			return j ? web_reply_json(c, 200, j)
				 : web_reply_err(c, &err);
		}
		if (n == 2) {
			if (!get)
				return web_reply_error(c, 405,
						       "use GET or DELETE");
			j = view_batches(st, seg[1], &err);
			return j ? web_reply_json(c, 200, j)
				 : web_reply_err(c, &err);
		}
		if (n == 3 && strcmp(seg[2], "users") == 0) {
			if (!get)
				return web_reply_error(c, 405, "use GET");
			return get_batch_users(c, st, seg[1]);
		}
	}
	if (n == 2 && strcmp(seg[0], "users") == 0) {
		if (!get)
			return web_reply_error(c, 405, "use GET");
		j = view_user_stats(st, seg[1], 1, 1, &err);
		return j ? web_reply_json(c, 200, j) : web_reply_err(c, &err);
	}
	return web_reply_error(c, 404, "no route /api/v1/%s%s%s", n ? seg[0] : "",
			       n > 1 ? "/" : "", n > 1 ? seg[1] : "");
}

enum MHD_Result web_api(struct web *w, struct MHD_Connection *c,
			const char *method, const char *path,
			struct web_req *r)
{
	char copy[1024], *seg[4];
	struct err err = ERR_INIT;
	struct state *st;
	enum MHD_Result ret;
	int n;

	if (strlen(path) >= sizeof(copy) ||
	    (n = split(path, copy, sizeof(copy), seg)) < 0)
		return web_reply_error(c, 404, "no such route");
	if (n == 1 && strcmp(seg[0], "events") == 0) {
		if (strcmp(method, "GET") != 0)
			return web_reply_error(c, 405, "use GET");
		return web_events_serve(w, c);
	}
	st = web_state_get(w, &err);
	if (st == NULL)
		return web_reply_error(c, 503, "state store: %s", err.msg);
	ret = route(w, c, method, n, seg, r, st);
	web_state_put(w, st);
	return ret;
}
