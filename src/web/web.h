/* web.h - `imapmig serve --listen`: the dashboard, the JSON API, the
 * event stream and /metrics, served by libmicrohttpd beside the scheduler
 * loop (docs/internals/web.md).
 *
 * The server runs in threads of its own (one per connection, at most
 * WEB_MAX_CONNECTIONS) with a pool of state handles of its own: nothing
 * the scheduler holds is shared but the snapshot web_tick() copies. */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include <stddef.h>

#include "sched/runner.h"
#include "util/err.h"

struct web_opts {
	const char *listen; /* "127.0.0.1:8025", "[::1]:8025", "0.0.0.0:443" */
	const char *tls_cert; /* PEM files: both or neither */
	const char *tls_key;
	const char *token_file; /* NULL: "<state dir>/api-token", created */
	const char *state_path;
	/* /healthz says the scheduler is dead when it has not ticked for
	 * this many seconds (0: 60) */
	unsigned alive_seconds;
};

struct web;

/* Check the options, read or create the token, bind and start serving.
 * ERR_USAGE (exit 2) for a bad address, a non-loopback address without
 * TLS, an unreadable or too open token file, a bad certificate or key;
 * ERR_LOCAL when the port cannot be bound. */
struct web *web_start(const struct web_opts *o, struct err *err);
/* Stop serving (open event streams end) and free; *wp becomes NULL. */
void web_stop(struct web **wp);

/* The address bound, "127.0.0.1:8025" (with the port chosen by the
 * system when 0 was asked), and whether it speaks TLS. */
const char *web_address(const struct web *w);

/* The scheduler is alive: call at least every few seconds. */
void web_heartbeat(struct web *w);
/* What the scheduler's running jobs are doing (serve's tick): copied, for
 * the progress events and /metrics.  Also a heartbeat. */
void web_tick(struct web *w, struct sched_job *jobs, size_t n);

#endif
