/* events.c - GET /api/v1/events: server-sent events.
 *
 * One thread watches the state (state_data_version every 250 ms; the
 * statuses of every user, diffed, when it changed) and the scheduler's
 * job snapshot (web_tick), and appends events to a bounded ring:
 *   status   - a user's status changed (by this serve, or any other
 *              process): data is the user as GET /api/v1/users shows it
 *              in the lists (view_user)
 *   batch    - a batch's status or counts changed: data is the batch
 *   removed  - a user or batch is gone: {"email"} or {"batch"}
 *   progress - every second while jobs run: {"jobs": [{email, batch,
 *              folder, items, items_total, bytes, rate, incremental}]}
 * Each has an id, one more than the last.  A client that reconnects with
 * Last-Event-ID gets the status, batch and removed events it missed
 * (progress is not replayed); if they have left the ring it gets a
 * "reset" event instead: reload the lists.  Each stream runs in its
 * connection's own thread (MHD_USE_THREAD_PER_CONNECTION) and blocks on
 * the ring's condition variable, with a comment every 15 s to keep
 * proxies and MHD's idle timeout away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/views.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "web/internal.h"

#define EV_RING	       1024
#define EV_KEEPALIVE_S 15

struct ev {
	uint64_t id;
	int replay; /* status, batch, removed: sent again on reconnect */
	char *text; /* "id: N\nevent: T\ndata: J\n\n" */
};

struct batch_seen {
	int64_t id;
	char *name;
	char *json; /* the last view sent, to see a change */
};

struct web_events {
	struct web *w;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ev ring[EV_RING];
	uint64_t next_id; /* the next event's id; the first is 1 */
	int stop;
	/* the watcher's view of the state (its thread only) */
	struct state_user_status *users;
	size_t nusers;
	struct batch_seen *batches;
	size_t nbatches;
};

static void push(struct web_events *ev, const char *type, json_t *data,
		 int replay)
{
	char *js = json_dumps(data, JSON_COMPACT);
	struct ev *e;

	json_decref(data);
	if (js == NULL)
		return;
	pthread_mutex_lock(&ev->lock);
	e = &ev->ring[ev->next_id % EV_RING];
	free(e->text);
	e->id = ev->next_id;
	e->replay = replay;
	e->text = xasprintf("id: %llu\nevent: %s\ndata: %s\n\n",
			    (unsigned long long)e->id, type, js);
	ev->next_id++;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
	free(js);
}

/* The users whose status changed since the last look: a status event
 * each; gone users a removed event.  first: remember, say nothing. */
static void diff_users(struct web_events *ev, struct state *st, int first)
{
	struct state_user_status *v = NULL;
	struct err err = ERR_INIT;
	size_t n = 0, i = 0, k = 0;

	if (state_user_statuses(st, &v, &n, &err) < 0) {
		log_debug("web: events: %s", err.msg);
		return;
	}
	/* both sorted by id (state_user_statuses reads in id order): one
	 * merge */
	while (!first && (i < n || k < ev->nusers)) {
		struct state_user_status *nu = i < n ? &v[i] : NULL;
		struct state_user_status *old =
			k < ev->nusers ? &ev->users[k] : NULL;
		if (old == NULL || (nu != NULL && nu->id < old->id)) {
			old = NULL; /* new user */
		} else if (nu == NULL || old->id < nu->id) {
			/* gone */
			push(ev, "removed",
			     json_pack("{s:I}", "user_id", (json_int_t)old->id),
			     1);
			k++;
			continue;
		}
		if (old == NULL || strcmp(old->status, nu->status) != 0) {
			struct state_user u;
			if (state_user_get_id(st, nu->id, &u, &err) == 0) {
				json_t *o = view_user(st, &u);
				json_object_set_new(o, "user_id",
						    json_integer(nu->id));
				push(ev, "status", o, 1);
				state_user_release(&u);
			}
			err_clear(&err);
		}
		if (old != NULL)
			k++;
		i++;
	}
	free(ev->users);
	ev->users = v;
	ev->nusers = n;
}

/* A batch event for each batch whose view changed (status, counts),
 * removed for each that is gone. */
static void diff_batches(struct web_events *ev, struct state *st, int first)
{
	struct state_batch *v = NULL;
	struct batch_seen *seen;
	struct err err = ERR_INIT;
	size_t n = 0, i, k;

	if (state_batch_list(st, &v, &n, &err) < 0)
		return;
	seen = xcalloc(n + 1, sizeof(*seen));
	for (i = 0; i < n; i++) {
		struct state_batch_counts c;
		json_t *o;
		seen[i].id = v[i].id;
		seen[i].name = xstrdup(v[i].name);
		if (state_batch_counts(st, v[i].id, &c, &err) < 0) {
			err_clear(&err);
			seen[i].json = xstrdup("");
			continue;
		}
		o = view_batch(st, &v[i], &c);
		seen[i].json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		if (seen[i].json == NULL)
			seen[i].json = xstrdup("");
		for (k = 0; k < ev->nbatches; k++)
			if (ev->batches[k].id == v[i].id)
				break;
		if (!first && (k == ev->nbatches ||
			       strcmp(ev->batches[k].json, seen[i].json) != 0))
			push(ev, "batch", o, 1);
		else
			json_decref(o);
	}
	for (k = 0; k < ev->nbatches; k++) {
		for (i = 0; i < n; i++)
			if (seen[i].id == ev->batches[k].id)
				break;
		if (i == n && !first)
			push(ev, "removed",
			     json_pack("{s:s}", "batch", ev->batches[k].name),
			     1);
		free(ev->batches[k].name);
		free(ev->batches[k].json);
	}
	free(ev->batches);
	ev->batches = seen;
	ev->nbatches = n;
	for (i = 0; i < n; i++)
		state_batch_release(&v[i]);
	free(v);
}

static void progress(struct web_events *ev, struct state *st)
{
	struct web *w = ev->w;
	json_t *jobs = json_array();
	size_t i;

	pthread_mutex_lock(&w->jobs_lock);
	for (i = 0; i < w->njobs; i++) {
		const struct web_job *j = &w->jobs[i];
		/* o*: a name cut inside a UTF-8 sequence (the snapshot's
		 * fixed buffers) is left out, the rest of the job stays */
		json_array_append_new(
			jobs,
			json_pack("{s:o*,s:I,s:o*,s:I,s:I,s:I,s:I,s:b}",
				  "email", json_string(j->email), "batch_id",
				  (json_int_t)j->batch_id, "folder",
				  json_string(j->folder), "items",
				  (json_int_t)j->items_done, "items_total",
				  (json_int_t)j->items_total, "bytes",
				  (json_int_t)j->bytes_done, "rate",
				  (json_int_t)j->rate, "incremental",
				  j->incremental));
	}
	pthread_mutex_unlock(&w->jobs_lock);
	/* the batch's name, for the page (outside the jobs lock) */
	for (i = 0; i < json_array_size(jobs); i++) {
		json_t *o = json_array_get(jobs, i);
		int64_t bid =
			json_integer_value(json_object_get(o, "batch_id"));
		size_t k;
		for (k = 0; k < ev->nbatches; k++)
			if (ev->batches[k].id == bid)
				json_object_set_new(
					o, "batch",
					json_string(ev->batches[k].name));
	}
	(void)st;
	if (json_array_size(jobs) == 0) {
		json_decref(jobs);
		return;
	}
	push(ev, "progress",
	     json_pack("{s:o,s:I}", "jobs", jobs, "time",
		       (json_int_t)time(NULL)),
	     0);
}

static void *watch(void *arg)
{
	struct web_events *ev = arg;
	struct err err = ERR_INIT;
	struct state *st = NULL;
	int64_t seen = -1, now;
	long long last_progress = 0;
	int first = 1;

	for (;;) {
		struct timespec ts;
		long long t;
		pthread_mutex_lock(&ev->lock);
		if (!ev->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 250 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ev->cond, &ev->lock, &ts);
		}
		if (ev->stop) {
			pthread_mutex_unlock(&ev->lock);
			break;
		}
		pthread_mutex_unlock(&ev->lock);
		if (st == NULL) {
			st = state_open(ev->w->state_path, &err);
			if (st == NULL) {
				log_debug("web: events: %s", err.msg);
				err_clear(&err);
				continue;
			}
		}
		if (state_data_version(st, &now, &err) < 0) {
			err_clear(&err);
			now = seen + 1;
		}
		if (now != seen) {
			seen = now;
			diff_users(ev, st, first);
			diff_batches(ev, st, first);
			first = 0;
		}
		t = (long long)time(NULL);
		if (t != last_progress) {
			last_progress = t;
			progress(ev, st);
		}
	}
	state_close(&st);
	return NULL;
}

struct web_events *web_events_start(struct web *w, struct err *err)
{
	struct web_events *ev = xcalloc(1, sizeof(*ev));

	ev->w = w;
	ev->next_id = 1;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_cond_init(&ev->cond, NULL);
	if (pthread_create(&ev->thread, NULL, watch, ev) != 0) {
		err_set(err, ERR_LOCAL, EC_NONE,
			"cannot start the event thread");
		web_events_free(&ev);
		return NULL;
	}
	ev->started = 1;
	return ev;
}

void web_events_shutdown(struct web_events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->stop = 1;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
	if (ev->started) {
		pthread_join(ev->thread, NULL);
		ev->started = 0;
	}
}

void web_events_free(struct web_events **evp)
{
	struct web_events *ev = *evp;
	size_t i;

	if (ev == NULL)
		return;
	web_events_shutdown(ev);
	for (i = 0; i < EV_RING; i++)
		free(ev->ring[i].text);
	for (i = 0; i < ev->nbatches; i++) {
		free(ev->batches[i].name);
		free(ev->batches[i].json);
	}
	free(ev->batches);
	free(ev->users);
	pthread_mutex_destroy(&ev->lock);
	pthread_cond_destroy(&ev->cond);
	free(ev);
	*evp = NULL;
}

/* One client's stream. */
struct stream {
	struct web_events *ev;
	uint64_t last; /* the last id sent (or skipped) */
	int replaying; /* up to replay_end, send only replayable events */
	uint64_t replay_end;
	int reset; /* the client's id is not one of this run's */
	struct buf out;
	size_t off;
};

/* Fill s->out with what is due: called with the lock held. */
static void collect(struct stream *s)
{
	struct web_events *ev = s->ev;
	uint64_t oldest = ev->next_id > EV_RING ? ev->next_id - EV_RING : 1;
	uint64_t id;

	if (s->reset || s->last + 1 < oldest) {
		s->reset = 0;
		/* missed events have left the ring */
		buf_addf(&s->out, "id: %llu\nevent: reset\ndata: {}\n\n",
			 (unsigned long long)(ev->next_id - 1));
		s->last = ev->next_id - 1;
		return;
	}
	for (id = s->last + 1; id < ev->next_id; id++) {
		const struct ev *e = &ev->ring[id % EV_RING];
		if (id > s->replay_end || e->replay)
			buf_addstr(&s->out, e->text);
		s->last = id;
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	struct web_events *ev = s->ev;
	size_t n;

	(void)pos;
	if (s->off == s->out.len) {
		struct timespec ts;
		buf_reset(&s->out);
		s->off = 0;
		pthread_mutex_lock(&ev->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += EV_KEEPALIVE_S;
		while (!ev->stop && s->last + 1 >= ev->next_id) {
			if (pthread_cond_timedwait(&ev->cond, &ev->lock, &ts) !=
			    0)
				break;
		}
		if (ev->stop) {
			pthread_mutex_unlock(&ev->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		collect(s);
		pthread_mutex_unlock(&ev->lock);
		if (s->out.len == 0)
			buf_addstr(&s->out, ": keepalive\n\n");
	}
	n = s->out.len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	buf_release(&s->out);
	free(s);
}

enum MHD_Result web_events_serve(struct web *w, struct MHD_Connection *c)
{
	struct web_events *ev = w->events;
	const char *lei = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Last-Event-ID");
	struct stream *s = xcalloc(1, sizeof(*s));
	struct MHD_Response *resp;
	enum MHD_Result ret;

	s->ev = ev;
	buf_init(&s->out, 0);
	pthread_mutex_lock(&ev->lock);
	s->last = ev->next_id - 1;
	s->replay_end = s->last;
	if (lei != NULL && *lei != '\0') {
		char *end;
		unsigned long long v = strtoull(lei, &end, 10);
		if (*end == '\0' && v < ev->next_id)
			s->last = v;
		else /* not ours: from before a restart, or garbage */
			s->reset = 1;
	}
	pthread_mutex_unlock(&ev->lock);
	/* the reconnect delay, then what was missed */
	buf_addstr(&s->out, "retry: 2000\n\n");
	if (lei != NULL && *lei != '\0') {
		pthread_mutex_lock(&ev->lock);
		collect(s);
		pthread_mutex_unlock(&ev->lock);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
						 stream_read, s, stream_free);
	if (resp == NULL) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
