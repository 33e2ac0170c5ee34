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
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT coalesce(initial_report, 0),"
			       " coalesce(daily_report, 0),"
			       " coalesce(completed_report, 0)"
			       " FROM batches WHERE id=?",
			       err);
	int rc;

	memset(m, 0, sizeof(*m));
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, batch_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		m->initial = (time_t)sqlite3_column_int64(s, 0);
		m->daily = (time_t)sqlite3_column_int64(s, 1);
		m->completed = (time_t)sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_error(st, "read report marks", err);
	return 0;
}

int state_report_users(struct state *st, int64_t batch_id,
		       struct state_user **v_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT id, email, status, error, items_total,"
			       " items_synced, items_skipped, bytes_synced,"
			       " bad_items, last_synced FROM users"
			       " WHERE batch_id=? ORDER BY id",
			       err);
	struct state_user *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, batch_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_user *u;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		u = &v[n++];
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(s, 0);
		u->batch_id = batch_id;
		u->email = sq_col_str(s, 1);
		u->status = sq_col_str(s, 2);
		u->error = sq_col_str(s, 3);
		u->items_total = (uint64_t)sqlite3_column_int64(s, 4);
		u->items_synced = (uint64_t)sqlite3_column_int64(s, 5);
		u->items_skipped = (uint64_t)sqlite3_column_int64(s, 6);
		u->bytes_synced = (uint64_t)sqlite3_column_int64(s, 7);
		u->bad_items = (uint64_t)sqlite3_column_int64(s, 8);
		u->last_synced = (time_t)sqlite3_column_int64(s, 9);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_users_free(v, n);
		return sq_error(st, "list users for a report", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int state_report_pending(struct state *st, int64_t batch_id,
			 unsigned *pending_r, unsigned *total_r,
			 struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT status, count(*) FROM users"
			       " WHERE batch_id=? GROUP BY status",
			       err);
	int rc;

	*pending_r = *total_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, batch_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int us = user_status_parse(
			(const char *)sqlite3_column_text(s, 0));
		unsigned n = (unsigned)sqlite3_column_int(s, 1);
		*total_r += n;
		if (us == USER_QUEUED || us == USER_SYNCING ||
		    us == USER_STOPPED)
			*pending_r += n;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : sq_error(st, "count users", err);
}

int state_notification_queue(struct state *st, struct state_notification *n,
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
	sqlite3_stmt *s;

	if ((unsigned)n->kind > STATE_REPORT_COMPLETED)
		return err_set(err, ERR_USAGE, EC_NONE, "unknown report kind");
	if (state_begin(st, err) < 0)
		return -1;
	s = sq_prep(st, mark_sql[n->kind], err);
	if (s == NULL)
		goto fail;
	sq_bind_i64(s, 1, (sqlite3_int64)now);
	sq_bind_i64(s, 2, n->batch_id);
	sq_bind_i64(s, 3, (sqlite3_int64)expected);
	if (sq_run(st, s, "mark a report queued", err) < 0)
		goto fail;
	if (sqlite3_changes(st->db) == 0) {
		state_rollback(st);
		return 0;
	}
	s = sq_prep(st,
		 "INSERT INTO notifications(batch_id, kind, recipients,"
		 " subject, body, created, attempts, next_attempt)"
		 " VALUES(?, ?, ?, ?, ?, ?, 0, ?)",
		 err);
	if (s == NULL)
		goto fail;
	sq_bind_i64(s, 1, n->batch_id);
	sq_bind_str(s, 2, state_report_name(n->kind));
	sq_bind_str(s, 3, n->recipients ? n->recipients : "");
	sq_bind_str(s, 4, n->subject);
	sq_bind_str(s, 5, n->body ? n->body : "");
	sq_bind_i64(s, 6, (sqlite3_int64)now);
	sq_bind_i64(s, 7, (sqlite3_int64)now);
	if (sq_run(st, s, "queue a report", err) < 0)
		goto fail;
	n->id = sqlite3_last_insert_rowid(st->db);
	n->created = now;
	n->next_attempt = now;
	if (state_commit(st, err) < 0)
		goto fail;
	return 1;
fail:
	state_rollback(st);
	return -1;
}

#define N_COLS                                                                 \
	"id, coalesce(batch_id, 0), kind, recipients, subject, body, created," \
	" attempts, next_attempt, coalesce(sent, 0), last_error"

static int notifications_read(struct state *st, sqlite3_stmt *s,
			      struct state_notification **v_r, size_t *n_r,
			      struct err *err)
{
	struct state_notification *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_notification *x;
		int kind =
			report_parse((const char *)sqlite3_column_text(s, 2));
		v = xrealloc(v, (n + 1) * sizeof(*v));
		x = &v[n++];
		memset(x, 0, sizeof(*x));
		x->id = sqlite3_column_int64(s, 0);
		x->batch_id = sqlite3_column_int64(s, 1);
		x->kind =
			kind < 0 ? STATE_REPORT_DAILY : (enum state_report)kind;
		x->recipients = sq_col_str(s, 3);
		x->subject = sq_col_str(s, 4);
		x->body = sq_col_str(s, 5);
		x->created = (time_t)sqlite3_column_int64(s, 6);
		x->attempts = (unsigned)sqlite3_column_int(s, 7);
		x->next_attempt = (time_t)sqlite3_column_int64(s, 8);
		x->sent = (time_t)sqlite3_column_int64(s, 9);
		x->last_error = sq_col_str(s, 10);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_notifications_free(v, n);
		return sq_error(st, "list notifications", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int state_notifications_unsent(struct state *st, size_t max,
			       struct state_notification **v_r, size_t *n_r,
			       struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT " N_COLS " FROM notifications"
			       " WHERE sent IS NULL ORDER BY id LIMIT ?",
			       err);

	if (s != NULL)
		sq_bind_i64(s, 1, (sqlite3_int64)max);
	return notifications_read(st, s, v_r, n_r, err);
}

int state_notification_list(struct state *st, int64_t batch_id,
			    struct state_notification **v_r, size_t *n_r,
			    struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT " N_COLS " FROM notifications"
			       " WHERE ?1=0 OR batch_id=?1 ORDER BY id",
			       err);

	if (s != NULL)
		sq_bind_i64(s, 1, batch_id);
	return notifications_read(st, s, v_r, n_r, err);
}

int state_notification_sent(struct state *st, int64_t id, time_t when,
			    struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE notifications SET sent=?,"
			       " attempts=attempts+1, last_error=NULL"
			       " WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, (sqlite3_int64)when);
	sq_bind_i64(s, 2, id);
	return sq_run(st, s, "mark a report sent", err);
}

int state_notification_failed(struct state *st, int64_t id, const char *error,
			      time_t next_attempt, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE notifications SET attempts=attempts+1,"
			       " last_error=?, next_attempt=? WHERE id=?"
			       " AND sent IS NULL",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, error);
	sq_bind_i64(s, 2, (sqlite3_int64)next_attempt);
	sq_bind_i64(s, 3, id);
	return sq_run(st, s, "record a failed report", err);
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
