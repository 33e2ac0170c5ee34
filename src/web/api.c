/* api.c - the JSON API's routes (/api/v1/...): the CLI's --json shapes
 * (sched/views.h) and its actions (sched/actions.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sched/actions.h"
#include "sched/csv.h"
#include "sched/views.h"
#include "util/xalloc.h"
#include <openssl/crypto.h>
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

/* A size as a JSON number of bytes or a string such as "35M"; -1 if
 * neither. */
static long long json_size(const json_t *v)
{
	const char *p;
	unsigned long long n = 0, mul = 1;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	if (!json_is_string(v))
		return -1;
	p = json_string_value(v);
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (unsigned long long)(1ull << 50))
			return -1;
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (*p == 'K' || *p == 'k')
		mul = 1024;
	else if (*p == 'M' || *p == 'm')
		mul = 1024 * 1024;
	else if (*p == 'G' || *p == 'g')
		mul = 1024ull * 1024 * 1024;
	else if (*p != '\0')
		return -1;
	if (*p != '\0' && p[1] != '\0' && strcmp(p + 1, "B") != 0 &&
	    strcmp(p + 1, "iB") != 0)
		return -1;
	return (long long)(n * mul);
}

/* A time as epoch seconds or "2026-11-30 22:00" / "2026-11-30T22:00:00Z"
 * (UTC); -1 if neither. */
static long long json_time(const json_t *v)
{
	static const char *const fmts[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M", "%Y-%m-%d"};
	const char *s, *end = NULL;
	struct tm tm;
	size_t i;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, fmts[i], &tm);
		if (end != NULL && (*end == '\0' || strcmp(end, "Z") == 0 ||
				    strcmp(end, " UTC") == 0))
			return (long long)timegm(&tm);
	}
	return -1;
}

static int json_bool(const json_t *v, int *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (json_is_string(v) &&
	    (strcasecmp(json_string_value(v), "true") == 0 ||
	     strcasecmp(json_string_value(v), "false") == 0)) {
		*out = strcasecmp(json_string_value(v), "true") == 0;
		return 0;
	}
	return -1;
}

/* A CSV refused: its first error, and every row's (up to
 * CSV_MAX_ERRORS), "NAME:LINE: what" as the CLI prints them. */
static enum MHD_Result csv_refused(struct MHD_Connection *c,
				   const struct csv_report *rep,
				   const struct err *err, const char *name)
{
	json_t *j = json_object(), *lines = json_array();
	const char *p = rep->errors.p;

	while (*p) {
		const char *e = strchr(p, '\n');
		json_array_append_new(lines, json_stringn(p, (size_t)(e - p)));
		p = e + 1;
	}
	if (rep->n_errors > 1) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "%s: %s%u rows with errors: fix them; nothing was "
			 "imported",
			 name,
			 rep->n_errors >= CSV_MAX_ERRORS ? "at least " : "",
			 rep->n_errors);
		json_object_set_new(j, "error", json_string(msg));
	} else {
		json_object_set_new(j, "error", json_string(err->msg));
	}
	json_object_set_new(j, "errors", lines);
	return web_reply_json(c, 400, j);
}

/* A new batch as POST /api/v1/batches gives it: the batch's settings,
 * with `batch new`'s defaults, and what it takes to make it. */
struct new_batch {
	struct state_batch b;
	const char *name, *src, *dst, *csv, *csv_name;
	size_t csv_len;
	int autostart, allow_unknown;
};

/* A field naming the batch, its endpoints, its CSV or one of its lists:
 * 1 if key is one (*bad_r set when its value is not right), 0 if not. */
static int name_field(struct new_batch *nb, const char *key, json_t *v,
		      const char **bad_r)
{
	if (strcmp(key, "name") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			*bad_r = "give the batch's name";
		else
			nb->name = json_string_value(v);
	} else if (strcmp(key, "source_endpoint") == 0) {
		if (!json_is_string(v))
			*bad_r = "give an endpoint's name";
		else
			nb->src = json_string_value(v);
	} else if (strcmp(key, "target_endpoint") == 0) {
		if (json_is_null(v))
			nb->dst = NULL;
		else if (!json_is_string(v))
			*bad_r = "give an endpoint's name";
		else
			nb->dst = json_string_value(v);
	} else if (strcmp(key, "csv") == 0) {
		if (!json_is_string(v)) {
			*bad_r = "give the CSV's text";
		} else {
			nb->csv = json_string_value(v);
			nb->csv_len = json_string_length(v);
		}
	} else if (strcmp(key, "csv_name") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 200)
			*bad_r = "give the uploaded file's name";
		else
			nb->csv_name = json_string_value(v);
	} else if (strcmp(key, "exclude_folders") == 0 ||
		   strcmp(key, "include_folders") == 0 ||
		   strcmp(key, "notification_emails") == 0) {
		char **to = key[0] == 'e'   ? &nb->b.exclude_folders
			    : key[0] == 'i' ? &nb->b.include_folders
					    : &nb->b.notification_emails;
		if (json_is_null(v))
			return 1;
		if (!json_is_string(v))
			*bad_r = "give a comma-separated list";
		else if (json_string_length(v) > 0)
			*to = xstrdup(json_string_value(v));
	} else {
		return 0;
	}
	return 1;
}

/* A switch, a limit or a time of the batch: as name_field. */
static int option_field(struct new_batch *nb, const char *key, json_t *v,
			const char **bad_r)
{
	struct state_batch *b = &nb->b;
	long long n;

	if (strcmp(key, "autostart") == 0) {
		if (json_bool(v, &nb->autostart) < 0)
			*bad_r = "give true or false";
	} else if (strcmp(key, "allow_unknown_columns") == 0) {
		if (json_bool(v, &nb->allow_unknown) < 0)
			*bad_r = "give true or false";
	} else if (strcmp(key, "allow_incremental_syncs") == 0) {
		if (json_bool(v, &b->allow_incremental) < 0)
			*bad_r = "give true or false";
	} else if (strcmp(key, "bad_item_limit") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			*bad_r = "give a number";
		else
			b->bad_item_limit = (uint64_t)json_integer_value(v);
	} else if (strcmp(key, "max_items") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			*bad_r = "give a number above 0";
		else
			b->max_items = (uint64_t)json_integer_value(v);
	} else if (strcmp(key, "max_message_size") == 0) {
		if ((n = json_size(v)) <= 0)
			*bad_r = "give a size such as 35M or a number of bytes";
		else
			b->max_message_size = (uint64_t)n;
	} else if (strcmp(key, "max_bytes_per_second") == 0) {
		if ((n = json_size(v)) < 0)
			*bad_r = "give a rate such as 2M (bytes a second, per "
				 "mailbox), or 0 for none";
		else
			b->max_bytes_per_second = (uint64_t)n;
	} else if (strcmp(key, "start_after") == 0) {
		if (json_is_null(v))
			return 1;
		if ((n = json_time(v)) < 0)
			*bad_r = "give a UTC time such as '2026-11-30 22:00'";
		else
			b->start_after = (time_t)n;
	} else {
		return 0;
	}
	return 1;
}

/* The request's fields into nb: 0, or -1 with the error reply queued
 * (*ret_r). */
static int read_fields(struct MHD_Connection *c, json_t *j,
		       struct new_batch *nb, enum MHD_Result *ret_r)
{
	const char *key;
	json_t *v;

	json_object_foreach(j, key, v)
	{
		const char *bad = NULL;
		if (!name_field(nb, key, v, &bad) &&
		    !option_field(nb, key, v, &bad)) {
			*ret_r = web_reply_error(c, 400,
						 "unknown field \"%s\": see "
						 "docs/internals/web.md",
						 key);
			return -1;
		}
		if (bad != NULL) {
			*ret_r = web_reply_error(c, 400, "field %s: %s", key,
						 bad);
			return -1;
		}
	}
	if (nb->name == NULL || nb->src == NULL || nb->csv == NULL) {
		*ret_r = web_reply_error(c, 400,
					 "name, source_endpoint and csv are "
					 "required");
		return -1;
	}
	return 0;
}

/* The CSV read, the batch made (sched_batch_new, as `batch new`), and the
 * batch as `batch get --json` shows it, 201. */
static enum MHD_Result make_batch(struct web *w, struct MHD_Connection *c,
				  struct state *st, struct new_batch *nb)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *cb;
	enum MHD_Result ret;
	json_t *o;

	cb = csv_batch_from_mem(nb->csv, nb->csv_len, nb->csv_name,
				nb->allow_unknown, &rep, &err);
	if (cb == NULL) {
		ret = csv_refused(c, &rep, &err, nb->csv_name);
		goto out;
	}
	nb->b.name = xstrdup(nb->name);
	if (sched_batch_new(st, &nb->b, nb->src, nb->dst, nb->autostart, cb,
			    nb->csv_name, w->state_path, NULL, &err) < 0) {
		ret = web_reply_err(c, &err);
		goto out;
	}
	o = view_batches(st, nb->name, &err);
	ret = o ? web_reply_json(c, 201, o) : web_reply_err(c, &err);
out:
	csv_report_release(&rep);
	csv_batch_free(&cb);
	return ret;
}

/* POST /api/v1/batches: `batch new` from JSON. */
static enum MHD_Result post_batch(struct web *w, struct MHD_Connection *c,
				  struct web_req *r, struct state *st)
{
	struct new_batch nb;
	enum MHD_Result ret;
	json_error_t je;
	json_t *j;

	j = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		return web_reply_error(c, 400,
				       "bad JSON: %s (line %d, column %d)",
				       je.text, je.line, je.column);
	if (!json_is_object(j)) {
		json_decref(j);
		return web_reply_error(c, 400, "bad JSON: give an object");
	}
	memset(&nb, 0, sizeof(nb));
	nb.csv_name = "upload.csv";
	nb.b.allow_incremental = 1;
	nb.b.max_message_size = 35ull * 1024 * 1024;
	nb.b.max_items = 500000;
	if (read_fields(c, j, &nb, &ret) == 0)
		ret = make_batch(w, c, st, &nb);
	state_batch_release(&nb.b);
	/* the CSV held passwords */
	OPENSSL_cleanse(r->body.p, r->body.len);
	json_decref(j);
	return ret;
}

static enum MHD_Result batch_action(struct MHD_Connection *c, struct state *st,
				    const char *name, enum sched_action a,
				    unsigned flags)
{
	struct sched_action_result res;
	struct err err = ERR_INIT;
	json_t *o;

	if (sched_batch_act(st, name, a, flags, &res, &err) < 0) {
		unsigned status = res.why == SCHED_NOT_FOUND  ? 404
				  : res.why == SCHED_CONFLICT ? 409
							      : 500;
		return web_reply_error(c, status, "%s", err.msg);
	}
	if (a == SCHED_REMOVE)
		return web_reply_json(
			c, 200,
			json_pack("{s:b,s:s}", "removed", 1, "name", name));
	o = view_batches(st, name, &err);
	return o ? web_reply_json(c, 200, o) : web_reply_err(c, &err);
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

	if (n == 1 && strcmp(seg[0], "endpoints") == 0) {
		if (!get)
			return web_reply_405(c, "GET, HEAD");
		return get_endpoints(w, c, st);
	}
	if (n >= 1 && strcmp(seg[0], "batches") == 0) {
		if (n == 1) {
			if (post)
				return post_batch(w, c, r, st);
			if (!get)
				return web_reply_405(c, "GET, HEAD, POST");
			j = view_batches(st, NULL, &err);
			return j ? web_reply_json(c, 200, j)
				 : web_reply_err(c, &err);
		}
		if (n == 2) {
			if (del) {
				const char *f = MHD_lookup_connection_value(
					c, MHD_GET_ARGUMENT_KIND, "force");
				int force =
					f != NULL && (strcmp(f, "1") == 0 ||
						      strcmp(f, "true") == 0);
				return batch_action(c, st, seg[1], SCHED_REMOVE,
						    force ? SCHED_FORCE : 0);
			}
			if (!get)
				return web_reply_405(c, "GET, HEAD, DELETE");
			j = view_batches(st, seg[1], &err);
			return j ? web_reply_json(c, 200, j)
				 : web_reply_err(c, &err);
		}
		if (n == 3 && sched_action_parse(seg[2]) >= 0 &&
		    sched_action_parse(seg[2]) != SCHED_REMOVE) {
			if (!post)
				return web_reply_405(c, "POST");
			return batch_action(
				c, st, seg[1],
				(enum sched_action)sched_action_parse(seg[2]),
				0);
		}
		if (n == 3 && strcmp(seg[2], "users") == 0) {
			if (!get)
				return web_reply_405(c, "GET, HEAD");
			return get_batch_users(c, st, seg[1]);
		}
	}
	if (n == 2 && strcmp(seg[0], "users") == 0) {
		if (!get)
			return web_reply_405(c, "GET, HEAD");
		j = view_user_stats(st, seg[1], 1, 1, &err);
		return j ? web_reply_json(c, 200, j) : web_reply_err(c, &err);
	}
	return web_reply_error(c, 404, "no route /api/v1/%s%s%s",
			       n ? seg[0] : "", n > 1 ? "/" : "",
			       n > 1 ? seg[1] : "");
}

enum MHD_Result web_api(struct web *w, struct MHD_Connection *c,
			const char *method, const char *path, struct web_req *r)
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
			return web_reply_405(c, "GET, HEAD");
		return web_events_serve(w, c);
	}
	st = web_state_get(w, &err);
	if (st == NULL)
		return web_reply_error(c, 503, "state store: %s", err.msg);
	ret = route(w, c, method, n, seg, r, st);
	web_state_put(w, st);
	return ret;
}
