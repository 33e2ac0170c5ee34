/* status.c - user and batch statuses; see status.h. */
#include "state/status.h"

#include <string.h>

static const char *const user_names[USER_STATUS_N] = {
	[USER_QUEUED] = "Queued",
	[USER_SYNCING] = "Syncing",
	[USER_INCR_SYNCING] = "IncrementalSyncing",
	[USER_SYNCED] = "Synced",
	[USER_FAILED] = "Failed",
	[USER_INCR_FAILED] = "IncrementalFailed",
	[USER_STOPPED] = "Stopped",
	[USER_COMPLETED] = "Completed",
};

/* next[status][event]: the one table.  -1: the event does not apply. */
#define NO (-1)
static const signed char next[USER_STATUS_N][USER_EVENT_N] = {
	/*                    START        STOP          AGAIN        RUN
	 *                    RUN_OK       RUN_FAILED    RUN_STOPPED  FINAL
	 *                    RUN_INTERRUPTED */
	[USER_QUEUED] = {USER_QUEUED, USER_STOPPED, NO, USER_SYNCING, NO, NO,
			 USER_STOPPED, NO, NO},
	[USER_SYNCING] = {USER_SYNCING, USER_STOPPED, NO, NO, USER_SYNCED,
			  USER_FAILED, USER_STOPPED, NO, USER_QUEUED},
	[USER_INCR_SYNCING] = {USER_INCR_SYNCING, USER_STOPPED, NO, NO,
			       USER_SYNCED, USER_INCR_FAILED, USER_STOPPED, NO,
			       USER_SYNCED},
	[USER_SYNCED] = {USER_SYNCED, USER_STOPPED, USER_QUEUED,
			 USER_INCR_SYNCING, NO, NO, USER_STOPPED,
			 USER_COMPLETED, NO},
	[USER_FAILED] = {USER_QUEUED, USER_FAILED, NO, NO, NO, NO, NO, NO, NO},
	[USER_INCR_FAILED] = {USER_QUEUED, USER_INCR_FAILED, NO, NO, NO, NO, NO,
			      NO, NO},
	[USER_STOPPED] = {USER_QUEUED, USER_STOPPED, NO, NO, NO, NO,
			  USER_STOPPED, NO, NO},
	[USER_COMPLETED] = {NO, NO, NO, NO, NO, NO, NO, NO, NO},
};
#undef NO

/* Index of name in names[0..n), or -1. */
static int find_name(const char *const *names, int n, const char *name)
{
	int i;

	for (i = 0; name != NULL && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *user_status_name(enum user_status s)
{
	return (unsigned)s < USER_STATUS_N ? user_names[s] : "Unknown";
}

int user_status_parse(const char *name)
{
	int i = find_name(user_names, USER_STATUS_N, name);

	if (i >= 0 || name == NULL)
		return i;
	/* written by older versions */
	if (strcmp(name, "IncrementalSynced") == 0)
		return USER_SYNCED;
	if (strcmp(name, "Stopping") == 0)
		return USER_STOPPED;
	if (strcmp(name, "Created") == 0)
		return USER_QUEUED;
	return -1;
}

int user_status_next(int s, enum user_event e)
{
	if (s < 0 || s >= USER_STATUS_N || (unsigned)e >= USER_EVENT_N)
		return -1;
	return next[s][e];
}

enum status_class user_status_class(int s)
{
	switch (s) {
	case USER_QUEUED: return CLASS_QUEUED;
	case USER_SYNCED: return CLASS_SYNCED;
	case USER_FAILED:
	case USER_INCR_FAILED: return CLASS_FAILED;
	case USER_STOPPED: return CLASS_STOPPED;
	case USER_COMPLETED: return CLASS_COMPLETED;
	default: return CLASS_SYNCING; /* syncing, or unknown: busy */
	}
}

static const char *const batch_names[BATCH_STATUS_N] = {
	[BATCH_CREATED] = "Created",
	[BATCH_SYNCING] = "Syncing",
	[BATCH_SYNCED] = "Synced",
	[BATCH_SYNCED_WITH_ERRORS] = "SyncedWithErrors",
	[BATCH_STOPPED] = "Stopped",
	[BATCH_COMPLETING] = "Completing",
	[BATCH_COMPLETED] = "Completed",
	[BATCH_COMPLETED_WITH_ERRORS] = "CompletedWithErrors",
	[BATCH_REMOVING] = "Removing",
};

const char *batch_status_name(enum batch_status s)
{
	return (unsigned)s < BATCH_STATUS_N ? batch_names[s] : "Unknown";
}

int batch_status_parse(const char *name)
{
	return find_name(batch_names, BATCH_STATUS_N, name);
}

int batch_status_completed(int s)
{
	return s == BATCH_COMPLETED || s == BATCH_COMPLETED_WITH_ERRORS;
}

int batch_status_runnable(int s)
{
	return s >= 0 && s != BATCH_CREATED && s != BATCH_STOPPED &&
	       !batch_status_completed(s) && s != BATCH_REMOVING;
}
