/* mailbox.h - migrating one mailbox (one migration user).
 *
 * sync_mailbox_run() copies every folder of the source mailbox that the
 * plan keeps into the target, message by message, byte for byte, with
 * flags and INTERNALDATE, and records each copy in the state store's
 * journal: an item is written "in flight" before its bytes go to the
 * target and "done" only after the target confirmed it, so a run that is
 * killed at any instant resumes without losing or repeating a message
 * (in-flight items are looked up on the target before they are sent
 * again).  The same function does the initial and the incremental sync:
 * what the journal says is done is never fetched again.
 *
 * It sees the source and target only through store/store.h, and the
 * state only through state/state.h. */
#ifndef SYNC_MAILBOX_H
#define SYNC_MAILBOX_H

#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>

#include "store/store.h"
#include "sync/plan.h"
#include "util/err.h"

struct state;

/* Live progress, read by another thread (progress display, dashboard). */
struct sync_progress {
	_Atomic uint64_t items_total;
	_Atomic uint64_t items_done; /* copied this run + before */
	_Atomic uint64_t items_skipped;
	_Atomic uint64_t bytes_done; /* sent to the target this run */
	/* confirmed copies' bytes, this run + before: what user get and
	 * user stats call bytes_synced */
	_Atomic uint64_t bytes_synced;
	_Atomic int phase;    /* enum sync_phase */
	pthread_mutex_t lock; /* guards folder */
	char folder[256];
};

enum sync_phase {
	SYNC_PHASE_QUEUED,
	SYNC_PHASE_CONNECTING,
	SYNC_PHASE_LISTING,
	SYNC_PHASE_COPYING,
	SYNC_PHASE_DONE,
	SYNC_PHASE_FAILED,
};

/* How to open the two sides: functions the caller (sched/) provides, so
 * that reconnecting after a transient fault is the engine's business
 * while credentials stay the caller's. */
struct sync_endpoints {
	struct store_source *(*open_source)(void *ctx, struct err *err);
	struct store_target *(*open_target)(void *ctx, struct err *err);
	void *ctx;
};

struct sync_options {
	struct sync_filter include;
	struct sync_filter exclude;
	uint64_t max_message_size; /* bytes; larger items skipped */
	uint64_t max_items;	   /* per mailbox, newest kept */
	uint64_t bad_item_limit;   /* failed items before Failed */
	unsigned max_attempts;	   /* per run, for transient faults */
	const _Atomic int *stop;   /* set: finish the chunk and stop */
};

struct sync_result {
	int stopped;	       /* the stop flag ended the run */
	uint64_t items_copied; /* this run */
	uint64_t bytes_copied;
	uint64_t items_skipped;	    /* this run, incl. bad items */
	uint64_t bad_items;	    /* failed items, all runs */
	uint64_t throttled_ms;	    /* time waited on back-off */
	uint64_t folders_unchanged; /* skipped: nothing new */
	uint64_t flags_updated;	    /* copies given new flags */
};

void sync_progress_init(struct sync_progress *p);
void sync_progress_set_folder(struct sync_progress *p, const char *folder);

/* Run one pass for the user.  Returns 0 when every kept folder is copied
 * (Synced), -1 with err set otherwise: ERR_AUTH/ERR_CONNECT/ERR_USAGE
 * (fix and restart), ERR_TRANSIENT after max_attempts, ERR_MESSAGE when
 * the bad-item limit was passed, ERR_LOCAL for the state store. */
int sync_mailbox_run(struct state *st, int64_t user_id,
		     const struct sync_endpoints *ep,
		     const struct sync_options *opt,
		     struct sync_progress *progress, struct sync_result *res,
		     struct err *err);

#endif
