/* internal.h - what the files of web/ share (not for other layers). */
#ifndef WEB_INTERNAL_H
#define WEB_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "state/state.h"
#include "util/buf.h"
#include "web/web.h"

/* A request body larger than this is refused (413) without reading on:
 * the CSV alone may be 10 MB, and JSON quoting adds a little. */
#define WEB_BODY_MAX ((size_t)12 * 1024 * 1024)
/* every other route's body (login, actions) */
#define WEB_SMALL_BODY_MAX  ((size_t)64 * 1024)
#define WEB_MAX_CONNECTIONS 64
#define WEB_POOL_MAX	    8
#define WEB_TOKEN_MAX	    512

struct web_events;

/* One running job, as web_tick() last saw it. */
struct web_job {
	int64_t user_id, batch_id, source_id, target_id;
	char email[330];
	char folder[256];
	int incremental;
	uint64_t items_done, items_total, bytes_done;
	double rate; /* bytes a second, over the last seconds */
	long long started;
	uint64_t sample_bytes; /* bytes_done at sample_ms (monotonic) */
	long long sample_ms;
};

struct web {
	struct MHD_Daemon *daemon;
	char *state_path;
	char address[80];
	char bind_ip[64], port[8];
	int loopback;
	int tls;
	char *cert_pem, *key_pem;
	/* the token and the session cookie's value derived from it
	 * (HMAC-SHA256(token, "imapmig session"), hex): the cookie never
	 * holds the token itself */
	unsigned char token_hash[32];
	char session[65];
	unsigned alive_seconds;
	_Atomic long long heartbeat;

	pthread_mutex_t pool_lock;
	struct state *pool[WEB_POOL_MAX];
	size_t npool;

	/* the scheduler's jobs (web_tick) */
	pthread_mutex_t jobs_lock;
	struct web_job *jobs;
	size_t njobs;
	long long jobs_at;
	/* failed passes seen, by error class; a job is counted once: its
	 * index in the run's array and its start time */
	uint64_t errors[ERR_LOCAL + 1];
	time_t *counted;
	size_t ncounted;

	struct web_events *events;
	_Atomic int stopping;
};

/* One request as it arrives (MHD's *con_cls). */
struct web_req {
	struct buf body;
	int too_big;
	int cookie_auth; /* authenticated by the session cookie */
};

/* ---- http_reply.c ---- */
/* A state handle of the pool (opened when the pool is empty); NULL with
 * err when the state cannot be opened.  Give it back with web_state_put. */
struct state *web_state_get(struct web *w, struct err *err);
void web_state_put(struct web *w, struct state *st);
enum MHD_Result web_reply(struct MHD_Connection *c, unsigned status,
			  const char *type, const void *data, size_t len,
			  int copy);
/* 405 with the Allow header. */
enum MHD_Result web_reply_405(struct MHD_Connection *c, const char *allow);
/* Takes the reference to j. */
enum MHD_Result web_reply_json(struct MHD_Connection *c, unsigned status,
			       json_t *j);
enum MHD_Result web_reply_error(struct MHD_Connection *c, unsigned status,
				const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error of the state or the sched layer: 404 for a name that is not
 * there, 400 for other usage errors, 500 for the rest. */
enum MHD_Result web_reply_err(struct MHD_Connection *c, const struct err *e);
/* The headers every answer carries: nothing cached, nothing sniffed,
 * never in a frame, no referrer; a page's Content-Security-Policy. */
void web_common_headers(struct MHD_Response *resp, const char *type);
/* Queue resp (NULL: MHD_NO) and drop this reference to it. */
enum MHD_Result web_queue(struct MHD_Connection *c, unsigned status,
			  struct MHD_Response *resp);
/* JSON text s (taken: MHD frees it; NULL answers MHD_NO) with one more
 * header, name: value (none when name is NULL). */
enum MHD_Result web_reply_json_text(struct MHD_Connection *c, unsigned status,
				    char *s, const char *name,
				    const char *value);

/* ---- http_route.c ---- */
/* A request header's value, or NULL. */
const char *web_header(struct MHD_Connection *c, const char *name);
/* A request whose body has arrived whole: checks, then its route. */
enum MHD_Result web_dispatch(struct web *w, struct MHD_Connection *c,
			     const char *url, const char *method,
			     struct web_req *r);

/* ---- token.c ---- */
/* Read the token file (created with a new random token, 0600, when it is
 * the default one and missing). */
int web_token_load(struct web *w, const char *path, int create,
		   struct err *err);
/* 1 if s (len bytes) is the token; constant time. */
int web_token_ok(const struct web *w, const char *s, size_t len);
/* 1 if s is the session cookie's value; constant time. */
int web_session_ok(const struct web *w, const char *s);

/* ---- api.c ---- */
/* Every /api/v1/ route but login; the caller has checked the token and
 * the cross-site rules.  path starts after "/api/v1". */
enum MHD_Result web_api(struct web *w, struct MHD_Connection *c,
			const char *method, const char *path,
			struct web_req *r);

/* ---- metrics.c ---- */
enum MHD_Result web_metrics(struct web *w, struct MHD_Connection *c);
enum MHD_Result web_healthz(struct web *w, struct MHD_Connection *c);

/* ---- events.c ---- */
struct web_events *web_events_start(struct web *w, struct err *err);
/* Streams end and the watcher stops; then the daemon can stop, then
 * web_events_free. */
void web_events_shutdown(struct web_events *ev);
void web_events_free(struct web_events **evp);
enum MHD_Result web_events_serve(struct web *w, struct MHD_Connection *c);

#endif
