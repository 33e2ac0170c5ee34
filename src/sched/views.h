/* views.h - batches, users and endpoints as JSON: the one shape that
 * `batch get --json`, `user get --json`, `user stats --json`, `endpoint
 * get --json` print and that the web API (web/) serves.  A field added
 * here shows in both.  No view carries a password, a token or a secret:
 * an endpoint says only whether a password is set.
 *
 * Every function reads through the caller's state handle and returns a
 * new jansson reference (the caller json_decref()s it). */
#ifndef SCHED_VIEWS_H
#define SCHED_VIEWS_H

#include <jansson.h>

#include "state/state.h"

/* "2026-11-25 10:00:00 UTC", or "-" for 0.  The buffer is per thread and
 * per slot (0..3): valid until the same thread formats into that slot
 * again. */
const char *view_fmt_time(long long t, int slot);

/* The data-consistency grade of a user, one rule for every command:
 * Poor - Failed, or the last 'imapmig verify' found messages missing or
 * altered; Investigate - bad items; Perfect - Synced (or Completed) with
 * every source message on the target or skipped for a stated reason;
 * Good - not finished yet.  A batch's grade is its worst user's. */
enum view_grade { GRADE_PERFECT, GRADE_GOOD, GRADE_INVESTIGATE, GRADE_POOR };
enum view_grade view_user_grade(struct state *st, const struct state_user *u);
const char *view_grade_name(enum view_grade g);

/* `batch get NAME --json`: name, status, endpoints, counts, times and
 * options. */
json_t *view_batch(struct state *st, const struct state_batch *b,
		   const struct state_batch_counts *c);
/* Every batch (name NULL) as an array, or the one named as an object;
 * -1 with err (ERR_USAGE "no batch named X") if it does not exist. */
json_t *view_batches(struct state *st, const char *name, struct err *err);

/* One element of `user get --json`. */
json_t *view_user(struct state *st, const struct state_user *u);
/* `user stats EMAIL --json`: view_user() plus, when asked, "folders"
 * (folder report) and "skipped_items" (folder, uid, subject, sender,
 * date, size, kind, reason).  NULL with err for an unknown user. */
json_t *view_user_stats(struct state *st, const char *email, int folders,
			int skipped, struct err *err);

/* A skipped item's kind (user stats' "kind", /metrics' "reason"):
 * BadItem: it failed to copy and counts against --bad-item-limit;
 * LargeItem: over --max-message-size; OverItemLimit: older than the newest
 * --max-items; Uncopyable: the source or the target cannot carry its bytes
 * exactly (NUL bytes, a target that rewrites it). */
const char *view_skipped_kind(const struct state_skipped *s);

/* One element of `endpoint get --json`. */
json_t *view_endpoint(const struct state_endpoint *e);

#endif
