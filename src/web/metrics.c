/* metrics.c - GET /metrics (Prometheus text format 0.0.4) and GET
 * /healthz, both without the token: counts and names of batches and
 * endpoints, never a secret.
 *
 * The counters come from the state (what `batch get --json` and `user
 * get --json` show, summed per batch), so they survive restarts and count
 * what other processes did too; errors_total counts the failed passes
 * this serve ran, by error class; connections_open counts the running
 * jobs' connections (one at the source, one at an IMAP target). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/views.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "web/internal.h"

enum MHD_Result web_healthz(struct web *w, struct MHD_Connection *c)
{
	struct err err = ERR_INIT;
	struct state *st = web_state_get(w, &err);
	int64_t v;
	long long age = (long long)time(NULL) - atomic_load(&w->heartbeat);
	int state_ok = st != NULL && state_data_version(st, &v, &err) == 0;
	int alive = age <= (long long)w->alive_seconds;
	json_t *j;

	web_state_put(w, st);
	j = json_pack("{s:s,s:s}", "state", state_ok ? "ok" : "unreachable",
		      "scheduler", alive ? "alive" : "stalled");
	if (!alive)
		json_object_set_new(j, "scheduler_last_tick_seconds_ago",
				    json_integer(age));
	return web_reply_json(c, state_ok && alive ? 200 : 503, j);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addch(b, '\\');
		if (*s == '\n') {
			buf_addstr(b, "\\n");
			continue;
		}
		buf_addch(b, *s);
	}
}

static void help(struct buf *b, const char *name, const char *type,
		 const char *text)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static const char *const reasons[] = {"BadItem", "LargeItem", "OverItemLimit",
				      "Uncopyable"};
#define NREASONS 4

struct bstat {
	struct state_batch b;
	struct state_batch_counts c;
	unsigned by_status[USER_STATUS_N + 1];
	uint64_t skipped[NREASONS];
	uint64_t throttled;
};

/* User u's skipped items into s, by reason (view_skipped_kind()). */
static void count_skipped(struct state *st, const struct state_user *u,
			  struct bstat *s)
{
	struct state_skipped *sk = NULL;
	struct err err = ERR_INIT;
	size_t nsk = 0, m, r;

	if (state_skipped_list(st, u->id, &sk, &nsk, &err) < 0)
		return;
	for (m = 0; m < nsk; m++)
		for (r = 0; r < NREASONS; r++)
			if (strcmp(view_skipped_kind(&sk[m]), reasons[r]) == 0)
				s->skipped[r]++;
	state_skipped_free(sk, nsk);
}

/* Batch s->b's counts, its users by status, their throttled seconds and
 * skipped items; *queued_r counts its Queued users too.  A state that
 * does not answer leaves zeros. */
static void count_batch(struct state *st, struct bstat *s, unsigned *queued_r)
{
	struct state_user *u = NULL;
	struct err err = ERR_INIT;
	size_t nu = 0, k;

	if (state_batch_counts(st, s->b.id, &s->c, &err) < 0)
		err_clear(&err);
	if (state_user_list(st, s->b.id, NULL, &u, &nu, &err) < 0)
		return;
	for (k = 0; k < nu; k++) {
		int us = user_status_parse(u[k].status);
		s->by_status[us < 0 ? USER_STATUS_N : us]++;
		if (us == USER_QUEUED)
			(*queued_r)++;
		s->throttled += u[k].seconds_throttled;
		if (u[k].items_skipped != 0 || u[k].bad_items != 0)
			count_skipped(st, &u[k], s);
	}
	state_users_free(u, nu);
}

static uint64_t items_synced(const struct bstat *s)
{
	return s->c.items_synced;
}

static uint64_t bytes_synced(const struct bstat *s)
{
	return s->c.bytes_synced;
}

static uint64_t throttled(const struct bstat *s)
{
	return s->throttled;
}

/* One counter with a value per batch: NAME{batch="B"} get(batch). */
static void per_batch(struct buf *b, const char *name, const struct bstat *bs,
		      size_t nb, uint64_t (*get)(const struct bstat *))
{
	size_t i;

	for (i = 0; i < nb; i++) {
		buf_addf(b, "%s{batch=\"", name);
		label(b, bs[i].b.name);
		buf_addf(b, "\"} %llu\n", (unsigned long long)get(&bs[i]));
	}
}

/* The users of each batch by status (Unknown only when there are some). */
static void users_by_status(struct buf *b, const struct bstat *bs, size_t nb)
{
	size_t i, k;

	help(b, "imapmig_users", "gauge",
	     "Migration users by batch and status.");
	for (i = 0; i < nb; i++)
		for (k = 0; k <= USER_STATUS_N; k++) {
			if (k == USER_STATUS_N && bs[i].by_status[k] == 0)
				continue;
			buf_addstr(b, "imapmig_users{batch=\"");
			label(b, bs[i].b.name);
			buf_addf(b, "\",status=\"%s\"} %u\n",
				 k < USER_STATUS_N ? user_status_name(k)
						   : "Unknown",
				 bs[i].by_status[k]);
		}
}

/* The counters of the batches' users. */
static void batch_counters(struct buf *b, const struct bstat *bs, size_t nb)
{
	size_t i, k;

	help(b, "imapmig_items_synced_total", "counter",
	     "Items copied to the target (as batch get's items_synced).");
	per_batch(b, "imapmig_items_synced_total", bs, nb, items_synced);
	help(b, "imapmig_bytes_synced_total", "counter",
	     "Bytes of the copies the target confirmed (as batch get's "
	     "bytes_synced).");
	per_batch(b, "imapmig_bytes_synced_total", bs, nb, bytes_synced);
	help(b, "imapmig_items_skipped_total", "counter",
	     "Items skipped, by reason (BadItem, LargeItem, OverItemLimit, "
	     "Uncopyable).");
	for (i = 0; i < nb; i++)
		for (k = 0; k < NREASONS; k++) {
			buf_addstr(b, "imapmig_items_skipped_total{batch=\"");
			label(b, bs[i].b.name);
			buf_addf(b, "\",reason=\"%s\"} %llu\n", reasons[k],
				 (unsigned long long)bs[i].skipped[k]);
		}
	help(b, "imapmig_throttled_seconds_total", "counter",
	     "Seconds the source kept the batch's users waiting.");
	per_batch(b, "imapmig_throttled_seconds_total", bs, nb, throttled);
}

/* What this serve's jobs did and hold (web_tick's snapshot): failed
 * passes by error class, connections by endpoint. */
static void job_counters(struct web *w, struct buf *b, const struct bstat *bs,
			 size_t nb, const struct state_endpoint *ev, size_t ne)
{
	size_t i, j, k;

	help(b, "imapmig_errors_total", "counter",
	     "Failed passes this serve ran, by error class.");
	pthread_mutex_lock(&w->jobs_lock);
	for (k = ERR_MESSAGE; k <= ERR_LOCAL; k++)
		buf_addf(b, "imapmig_errors_total{class=\"%s\"} %llu\n",
			 err_class_name((enum err_class)k),
			 (unsigned long long)w->errors[k]);
	help(b, "imapmig_connections_open", "gauge",
	     "Connections the running jobs hold, by endpoint.");
	for (k = 0; k < ne; k++) {
		unsigned open = 0;
		for (j = 0; j < w->njobs; j++) {
			int64_t target = 0;
			for (i = 0; i < nb; i++)
				if (bs[i].b.id == w->jobs[j].batch_id)
					target = bs[i].b.target_id;
			if (w->jobs[j].source_id == ev[k].id ||
			    (target == ev[k].id &&
			     ev[k].kind == STATE_EP_TARGET_IMAP))
				open++;
		}
		buf_addstr(b, "imapmig_connections_open{endpoint=\"");
		label(b, ev[k].name);
		buf_addf(b, "\"} %u\n", open);
	}
	pthread_mutex_unlock(&w->jobs_lock);
}

enum MHD_Result web_metrics(struct web *w, struct MHD_Connection *c)
{
	struct err err = ERR_INIT;
	struct state *st = web_state_get(w, &err);
	struct state_batch *bv = NULL;
	struct state_endpoint *ev = NULL;
	struct bstat *bs = NULL;
	size_t nb = 0, ne = 0, i;
	struct buf b = BUF_INIT;
	unsigned queued = 0;
	char *text;
	size_t len;

	if (st == NULL)
		return web_reply_error(c, 503, "state store: %s", err.msg);
	if (state_batch_list(st, &bv, &nb, &err) < 0 ||
	    state_endpoint_list(st, &ev, &ne, &err) < 0) {
		web_state_put(w, st);
		return web_reply_error(c, 503, "state store: %s", err.msg);
	}
	bs = xcalloc(nb + 1, sizeof(*bs));
	for (i = 0; i < nb; i++) {
		bs[i].b = bv[i];
		count_batch(st, &bs[i], &queued);
	}
	free(bv);
	users_by_status(&b, bs, nb);
	batch_counters(&b, bs, nb);
	job_counters(w, &b, bs, nb, ev, ne);
	help(&b, "imapmig_queue_length", "gauge",
	     "Users waiting for a free connection of their endpoint "
	     "(Queued).");
	buf_addf(&b, "imapmig_queue_length %u\n", queued);

	for (i = 0; i < nb; i++)
		state_batch_release(&bs[i].b);
	free(bs);
	for (i = 0; i < ne; i++)
		state_endpoint_release(&ev[i]);
	free(ev);
	web_state_put(w, st);
	text = buf_detach(&b, &len);
	return web_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
			 text, len, 0);
}
