/* actions.h - what an administrator does to a batch, one set of rules
 * for the CLI (`batch start|stop|complete|remove`, `batch set --sync-now`)
 * and the web API (POST /api/v1/batches/NAME/ACTION, DELETE).
 *
 * Each loads the batch by name, checks, and commits the new statuses;
 * the scheduler (sync, serve) does the work.  Errors are ERR_USAGE with
 * a one-line message; *why_r (may be NULL) says which refusal it was, so
 * the web can choose its status code. */
#ifndef SCHED_ACTIONS_H
#define SCHED_ACTIONS_H

#include "state/state.h"

enum sched_action {
	SCHED_START,
	SCHED_STOP,
	SCHED_COMPLETE,
	SCHED_SYNC_NOW,
	SCHED_REMOVE,
};

enum sched_refusal {
	SCHED_OK,
	SCHED_NOT_FOUND, /* no batch of that name */
	SCHED_CONFLICT,	 /* not in this state: completed, users syncing,
			  * not synced since the cutover */
	SCHED_FAILED,	 /* the state store failed */
};

enum sched_action_flags {
	/* remove: even while users sync or before the cutover catch-up */
	SCHED_FORCE = 1 << 0,
	/* remove: check only, change nothing (the CLI asks first) */
	SCHED_CHECK_ONLY = 1 << 1,
};

struct sched_action_result {
	enum sched_refusal why;
	unsigned users;	   /* the batch's users */
	int completed_now; /* complete: nothing left to sync */
};

/* The action's name ("start", "sync-now") or its value, -1 if unknown. */
const char *sched_action_name(enum sched_action a);
int sched_action_parse(const char *name);

/* 0 done; -1 with err and res->why otherwise.  res may be NULL. */
int sched_batch_act(struct state *st, const char *name, enum sched_action a,
		    unsigned flags, struct sched_action_result *res,
		    struct err *err);

/* `batch new` (CLI) and POST /api/v1/batches (web): b holds the name and
 * the options (b->source_id, target_id, status filled here); source and
 * target are endpoint names, target NULL for the embedded Maildir
 * default beside state_path ("<dir>/mail/{domain}/{local}/Maildir").
 * The CSV's rows move into the state: all or nothing (a duplicate address
 * removes the batch again).  Filters and endpoints are checked before
 * anything is written; ERR_USAGE for what the administrator must fix.
 * *target_made_r (may be NULL) is set to 1 when the default target was
 * used. */
struct csv_batch;
/* The CSV's rows as Queued users (cb->n of them, to free with
 * state_users_free); the strings move out of cb. */
struct state_user *sched_users_from_csv(struct csv_batch *cb);
int sched_batch_new(struct state *st, struct state_batch *b, const char *source,
		    const char *target, int autostart, struct csv_batch *cb,
		    const char *csv_name, const char *state_path,
		    int *default_target_r, struct err *err);

#endif
