/* sqlite_notify.c - notification emails and the batch reports they carry
 * (state.h), in SQLite. */
#include "state/sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

const char *state_report_name(enum state_report r)
{
	switch (r) {
	case STATE_REPORT_INITIAL: return "initial";
	case STATE_REPORT_DAILY: return "daily";
	case STATE_REPORT_COMPLETED: return "completed";
	}
	return "?";
}

static int report_parse(const char *name)
{
	int r;

	for (r = STATE_REPORT_INITIAL; r <= STATE_REPORT_COMPLETED; r++)
		if (name != NULL && strcmp(name, state_report_name(r)) == 0)
			return r;
	return -1;
}

int state_report_marks_get(struct state *st, int64_t batch_id,
			   struct state_report_marks *m, struct err *err)
{
	struct sq_stmt q;
	int rc;

	memset(m, 0, sizeof(*m));
	sq_prep(&q, st,
		"SELECT coalesce(initial_report, 0),"
		" coalesce(daily_report, 0),"
		" coalesce(completed_report, 0)"
		" FROM batches WHERE id=?",
		err);
	sq_bind_i64(&q, 1, batch_id);
	rc = sq_step(&q, "read report marks", err);
	if (rc > 0) {
		m->initial = (time_t)sq_col_i64(&q, 0);
		m->daily = (time_t)sq_col_i64(&q, 1);
		m->completed = (time_t)sq_col_i64(&q, 2);
	}
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}

/* id, email, status, error, counters, last_synced: what a report shows;
 * ctx points to the batch id */
static int report_user_read(const struct sq_stmt *q, void *row, void *ctx,
			    struct err *err)
{
	struct state_user *u = row;

	(void)err;
	u->id = sq_col_i64(q, 0);
	u->batch_id = *(const int64_t *)ctx;
	u->email = sq_col_str(q, 1);
	u->status = sq_col_str(q, 2);
	u->error = sq_col_str(q, 3);
	u->items_total = (uint64_t)sq_col_i64(q, 4);
	u->items_synced = (uint64_t)sq_col_i64(q, 5);
	u->items_skipped = (uint64_t)sq_col_i64(q, 6);
	u->bytes_synced = (uint64_t)sq_col_i64(q, 7);
	u->bad_items = (uint64_t)sq_col_i64(q, 8);
	u->last_synced = (time_t)sq_col_i64(q, 9);
	return 0;
}

static void users_free(void *v, size_t n)
{
	state_users_free(v, n);
}

int state_report_users(struct state *st, int64_t batch_id,
		       struct state_user **v_r, size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st,
		"SELECT id, email, status, error, items_total,"
		" items_synced, items_skipped, bytes_synced,"
		" bad_items, last_synced FROM users"
		" WHERE batch_id=? ORDER BY id",
		err);
	sq_bind_i64(&q, 1, batch_id);
	rc = sq_rows(&q, sizeof(**v_r), report_user_read, &batch_id, users_free,
		     &v, n_r, "list users for a report", err);
	*v_r = v;
	return rc;
}

int state_report_pending(struct state *st, int64_t batch_id,
			 unsigned *pending_r, unsigned *total_r,
			 struct err *err)
{
	struct sq_stmt q;
	int rc;

	*pending_r = *total_r = 0;
	sq_prep(&q, st,
		"SELECT status, count(*) FROM users"
		" WHERE batch_id=? GROUP BY status",
		err);
	sq_bind_i64(&q, 1, batch_id);
	while ((rc = sq_step(&q, "count users", err)) > 0) {
		int us = user_status_parse(sq_col_text(&q, 0));
		unsigned n = (unsigned)sq_col_int(&q, 1);
		*total_r += n;
		if (us == USER_QUEUED || us == USER_SYNCING ||
		    us == USER_STOPPED)
			*pending_r += n;
	}
	sq_finalize(&q);
	return rc;
}

/* Mark the batch's report of n's kind queued at now, if the mark is still
 * expected: 1 marked, 0 not (it moved), -1 error. */
static int report_mark(struct state *st, const struct state_notification *n,
		       time_t expected, time_t now, struct err *err)
{
	static const char *const mark_sql[] = {
		[STATE_REPORT_INITIAL] =
			"UPDATE batches SET initial_report=?1 WHERE id=?2"
			" AND coalesce(initial_report, 0)=?3",
		[STATE_REPORT_DAILY] =
			"UPDATE batches SET daily_report=?1 WHERE id=?2"
			" AND coalesce(daily_report, 0)=?3",
		[STATE_REPORT_COMPLETED] =
			"UPDATE batches SET completed_report=?1,"
			" initial_report=coalesce(initial_report, ?1),"
			" daily_report=?1 WHERE id=?2"
			" AND coalesce(completed_report, 0)=?3",
	};
	struct sq_stmt q;

	sq_prep(&q, st, mark_sql[n->kind], err);
	sq_bind_i64(&q, 1, (int64_t)now);
	sq_bind_i64(&q, 2, n->batch_id);
	sq_bind_i64(&q, 3, (int64_t)expected);
	if (sq_run(&q, "mark a report queued", err) < 0)
		return -1;
	return sq_changes(&q) > 0 ? 1 : 0;
}

/* Insert n into the queue, created and first tried at now.  0 or -1. */
static int notification_insert(struct state *st, struct state_notification *n,
			       time_t now, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"INSERT INTO notifications(batch_id, kind, recipients,"
		" subject, body, created, attempts, next_attempt)"
		" VALUES(?, ?, ?, ?, ?, ?, 0, ?)",
		err);
	sq_bind_i64(&q, 1, n->batch_id);
	sq_bind_str(&q, 2, state_report_name(n->kind));
	sq_bind_str(&q, 3, n->recipients ? n->recipients : "");
	sq_bind_str(&q, 4, n->subject);
	sq_bind_str(&q, 5, n->body ? n->body : "");
	sq_bind_i64(&q, 6, (int64_t)now);
	sq_bind_i64(&q, 7, (int64_t)now);
	if (sq_run(&q, "queue a report", err) < 0)
		return -1;
	n->id = sq_last_id(&q);
	n->created = now;
	n->next_attempt = now;
	return 0;
}

int state_notification_queue(struct state *st, struct state_notification *n,
			     time_t expected, time_t now, struct err *err)
{
	int rc;

	if ((unsigned)n->kind > STATE_REPORT_COMPLETED)
		return err_set(err, ERR_USAGE, EC_NONE, "unknown report kind");
	if (state_begin(st, err) < 0)
		return -1;
	rc = report_mark(st, n, expected, now, err);
	if (rc > 0 && (notification_insert(st, n, now, err) < 0 ||
		       state_commit(st, err) < 0))
		rc = -1;
	if (rc <= 0)
		state_rollback(st);
	return rc;
}

#define N_COLS                                                                 \
	"id, coalesce(batch_id, 0), kind, recipients, subject, body, created," \
	" attempts, next_attempt, coalesce(sent, 0), last_error"

static int notification_read(const struct sq_stmt *q, void *row, void *ctx,
			     struct err *err)
{
	struct state_notification *x = row;
	int kind = report_parse(sq_col_text(q, 2));

	(void)ctx;
	(void)err;
	x->id = sq_col_i64(q, 0);
	x->batch_id = sq_col_i64(q, 1);
	x->kind = kind < 0 ? STATE_REPORT_DAILY : (enum state_report)kind;
	x->recipients = sq_col_str(q, 3);
	x->subject = sq_col_str(q, 4);
	x->body = sq_col_str(q, 5);
	x->created = (time_t)sq_col_i64(q, 6);
	x->attempts = (unsigned)sq_col_int(q, 7);
	x->next_attempt = (time_t)sq_col_i64(q, 8);
	x->sent = (time_t)sq_col_i64(q, 9);
	x->last_error = sq_col_str(q, 10);
	return 0;
}

static void notifications_free(void *v, size_t n)
{
	state_notifications_free(v, n);
}

/* Every row of q (which selects N_COLS) into *v_r; finalizes q. */
static int notifications_read(struct sq_stmt *q,
			      struct state_notification **v_r, size_t *n_r,
			      struct err *err)
{
	void *v;
	int rc =
		sq_rows(q, sizeof(**v_r), notification_read, NULL,
			notifications_free, &v, n_r, "list notifications", err);

	*v_r = v;
	return rc;
}

int state_notifications_unsent(struct state *st, size_t max,
			       struct state_notification **v_r, size_t *n_r,
			       struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"SELECT " N_COLS " FROM notifications"
		" WHERE sent IS NULL ORDER BY id LIMIT ?",
		err);
	sq_bind_i64(&q, 1, (int64_t)max);
	return notifications_read(&q, v_r, n_r, err);
}

int state_notification_list(struct state *st, int64_t batch_id,
			    struct state_notification **v_r, size_t *n_r,
			    struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"SELECT " N_COLS " FROM notifications"
		" WHERE ?1=0 OR batch_id=?1 ORDER BY id",
		err);
	sq_bind_i64(&q, 1, batch_id);
	return notifications_read(&q, v_r, n_r, err);
}

int state_notification_sent(struct state *st, int64_t id, time_t when,
			    struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE notifications SET sent=?,"
		" attempts=attempts+1, last_error=NULL"
		" WHERE id=?",
		err);
	sq_bind_i64(&q, 1, (int64_t)when);
	sq_bind_i64(&q, 2, id);
	return sq_run(&q, "mark a report sent", err);
}

int state_notification_failed(struct state *st, int64_t id, const char *error,
			      time_t next_attempt, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE notifications SET attempts=attempts+1,"
		" last_error=?, next_attempt=? WHERE id=?"
		" AND sent IS NULL",
		err);
	sq_bind_str(&q, 1, error);
	sq_bind_i64(&q, 2, (int64_t)next_attempt);
	sq_bind_i64(&q, 3, id);
	return sq_run(&q, "record a failed report", err);
}

void state_notifications_free(struct state_notification *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].recipients);
		free(v[i].subject);
		free(v[i].body);
		free(v[i].last_error);
	}
	free(v);
}
