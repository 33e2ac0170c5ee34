/* status.h - what a user and a batch are doing, and the one table of how a
 * user's status moves.  The journal stores statuses by name, in the
 * procedure's words (Queued, Syncing, Synced, ...); the code compares only
 * these enums. */
#ifndef IMAPMIG_STATE_STATUS_H
#define IMAPMIG_STATE_STATUS_H

enum user_status {
	USER_QUEUED,
	USER_SYNCING,	   /* the initial sync */
	USER_INCR_SYNCING, /* an incremental sync */
	USER_SYNCED,
	USER_FAILED,
	USER_INCR_FAILED,
	USER_STOPPED,
	USER_COMPLETED,
	USER_STATUS_N
};

/* What happens to a user. */
enum user_event {
	USER_START,	  /* user start, batch start */
	USER_STOP,	  /* user stop, batch stop */
	USER_AGAIN,	  /* batch set --sync-now, batch complete */
	USER_RUN,	  /* a sync pass begins */
	USER_RUN_OK,	  /* it ended well */
	USER_RUN_FAILED,  /* it failed */
	USER_RUN_STOPPED, /* it was stopped */
	USER_FINAL,	  /* the batch's last sync is done */
	/* the process running it was told to end (SIGTERM, Ctrl-C): the
	 * user goes back to where the next run picks it up */
	USER_RUN_INTERRUPTED,
	USER_EVENT_N
};

/* How statuses count (batch counts, grades). */
enum status_class {
	CLASS_QUEUED,
	CLASS_SYNCING,
	CLASS_SYNCED,
	CLASS_FAILED,
	CLASS_STOPPED,
	CLASS_COMPLETED
};

const char *user_status_name(enum user_status s);
/* The status named so (names older versions wrote included), or -1. */
int user_status_parse(const char *name);
/* The status event e takes status s to; -1 if e does not apply to s (the
 * status stays).  s may be -1 (unknown): nothing applies. */
int user_status_next(int s, enum user_event e);
enum status_class user_status_class(int s);

enum batch_status {
	BATCH_CREATED,
	BATCH_SYNCING,
	BATCH_SYNCED,
	BATCH_SYNCED_WITH_ERRORS,
	BATCH_STOPPED,
	BATCH_COMPLETING,
	BATCH_COMPLETED,
	BATCH_COMPLETED_WITH_ERRORS,
	BATCH_REMOVING,
	BATCH_STATUS_N
};

const char *batch_status_name(enum batch_status s);
int batch_status_parse(const char *name); /* or -1 */
/* Completed or CompletedWithErrors: it never syncs again. */
int batch_status_completed(int s);
/* Started and neither stopped, completed nor being removed: its users
 * may be synced. */
int batch_status_runnable(int s);

#endif
