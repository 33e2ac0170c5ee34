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

static const char *skipped_reason(const struct state_skipped *s)
{
	if (s->bad)
		return "BadItem";
	if (strncmp(s->reason, "large item", 10) == 0)
		return "LargeItem";
	if (strncmp(s->reason, "over the ", 9) == 0)
		return "OverItemLimit";
	return "Uncopyable";
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

enum MHD_Result web_metrics(struct web *w, struct MHD_Connection *c)
{
	struct err err = ERR_INIT;
	struct state *st = web_state_get(w, &err);
	struct state_batch *bv = NULL;
	struct state_endpoint *ev = NULL;
	struct bstat *bs = NULL;
	size_t nb = 0, ne = 0, i, k;
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
		struct state_user *u = NULL;
		size_t nu = 0;
		bs[i].b = bv[i];
		if (state_batch_counts(st, bv[i].id, &bs[i].c, &err) < 0)
			err_clear(&err);
		if (state_user_list(st, bv[i].id, NULL, &u, &nu, &err) < 0) {
			err_clear(&err);
			continue;
		}
		for (k = 0; k < nu; k++) {
			int s = user_status_parse(u[k].status);
			struct state_skipped *sk = NULL;
			size_t nsk = 0, m, r;
			bs[i].by_status[s < 0 ? USER_STATUS_N : s]++;
			if (s == USER_QUEUED)
				queued++;
			bs[i].throttled += u[k].seconds_throttled;
			if (u[k].items_skipped == 0 && u[k].bad_items == 0)
				continue;
			if (state_skipped_list(st, u[k].id, &sk, &nsk, &err) <
			    0) {
				err_clear(&err);
				continue;
			}
			for (m = 0; m < nsk; m++)
				for (r = 0; r < NREASONS; r++)
					if (strcmp(skipped_reason(&sk[m]),
						   reasons[r]) == 0)
						bs[i].skipped[r]++;
			state_skipped_free(sk, nsk);
		}
		state_users_free(u, nu);
	}
	free(bv);

	help(&b, "imapmig_users", "gauge",
	     "Migration users by batch and status.");
	for (i = 0; i < nb; i++)
		for (k = 0; k <= USER_STATUS_N; k++) {
			if (k == USER_STATUS_N && bs[i].by_status[k] == 0)
				continue;
			buf_addstr(&b, "imapmig_users{batch=\"");
			label(&b, bs[i].b.name);
			buf_addf(&b, "\",status=\"%s\"} %u\n",
				 k < USER_STATUS_N ? user_status_name(k)
						   : "Unknown",
				 bs[i].by_status[k]);
		}
	help(&b, "imapmig_items_synced_total", "counter",
	     "Items copied to the target (as batch get's items_synced).");
	for (i = 0; i < nb; i++) {
		buf_addstr(&b, "imapmig_items_synced_total{batch=\"");
		label(&b, bs[i].b.name);
		buf_addf(&b, "\"} %llu\n",
			 (unsigned long long)bs[i].c.items_synced);
	}
	help(&b, "imapmig_bytes_synced_total", "counter",
	     "Bytes of the copies the target confirmed (as batch get's "
	     "bytes_synced).");
	for (i = 0; i < nb; i++) {
		buf_addstr(&b, "imapmig_bytes_synced_total{batch=\"");
		label(&b, bs[i].b.name);
		buf_addf(&b, "\"} %llu\n",
			 (unsigned long long)bs[i].c.bytes_synced);
	}
	help(&b, "imapmig_items_skipped_total", "counter",
	     "Items skipped, by reason (BadItem, LargeItem, OverItemLimit, "
	     "Uncopyable).");
	for (i = 0; i < nb; i++)
		for (k = 0; k < NREASONS; k++) {
			buf_addstr(&b, "imapmig_items_skipped_total{batch=\"");
			label(&b, bs[i].b.name);
			buf_addf(&b, "\",reason=\"%s\"} %llu\n", reasons[k],
				 (unsigned long long)bs[i].skipped[k]);
		}
	help(&b, "imapmig_throttled_seconds_total", "counter",
	     "Seconds the source kept the batch's users waiting.");
	for (i = 0; i < nb; i++) {
		buf_addstr(&b, "imapmig_throttled_seconds_total{batch=\"");
		label(&b, bs[i].b.name);
		buf_addf(&b, "\"} %llu\n", (unsigned long long)bs[i].throttled);
	}
	help(&b, "imapmig_errors_total", "counter",
	     "Failed passes this serve ran, by error class.");
	pthread_mutex_lock(&w->jobs_lock);
	for (k = ERR_MESSAGE; k <= ERR_LOCAL; k++)
		buf_addf(&b, "imapmig_errors_total{class=\"%s\"} %llu\n",
			 err_class_name((enum err_class)k),
			 (unsigned long long)w->errors[k]);
	help(&b, "imapmig_connections_open", "gauge",
	     "Connections the running jobs hold, by endpoint.");
	for (k = 0; k < ne; k++) {
		unsigned open = 0;
		size_t j;
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
		buf_addstr(&b, "imapmig_connections_open{endpoint=\"");
		label(&b, ev[k].name);
		buf_addf(&b, "\"} %u\n", open);
	}
	pthread_mutex_unlock(&w->jobs_lock);
	help(&b, "imapmig_queue_length", "gauge",
	     "Users waiting for a free connection of their endpoint "
	     "(Queued).");
	buf_addf(&b, "imapmig_queue_length %u\n", queued);

	for (i = 0; i < nb; i++)
		state_batch_release(&bs[i].b);
	free(bs);
	for (k = 0; k < ne; k++)
		state_endpoint_release(&ev[k]);
	free(ev);
	web_state_put(w, st);
	text = buf_detach(&b, &len);
	return web_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
			 text, len, 0);
}
