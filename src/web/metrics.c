/* metrics.c - GET /metrics (Prometheus text format) and GET /healthz,
 * both without the token: they carry counts, never names of secrets. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum MHD_Result web_metrics(struct web *w, struct MHD_Connection *c)
{
	(void)w;
	return web_reply(c, 200, "text/plain; version=0.0.4", "", 0, 1);
}
