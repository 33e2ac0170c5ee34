/* sqlite_report.c - what reports read (state.h): skipped items, folders,
 * the last verify of a user; in SQLite. */
#include "state/sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

int state_skipped_list(struct state *st, int64_t user_id,
		       struct state_skipped **v_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT folder, uid, size, subject, sender,"
			       " date, reason, bad FROM skipped WHERE"
			       " user_id=? ORDER BY id",
			       err);
	struct state_skipped *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].folder = sq_col_str(s, 0);
		v[n].uid = (uint32_t)sqlite3_column_int64(s, 1);
		v[n].size = (uint64_t)sqlite3_column_int64(s, 2);
		v[n].subject = sq_col_str(s, 3);
		v[n].sender = sq_col_str(s, 4);
		v[n].date = sq_col_str(s, 5);
		v[n].reason = sq_col_str(s, 6);
		v[n].bad = sqlite3_column_int(s, 7);
		n++;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "list skipped", err);
}

void state_skipped_free(struct state_skipped *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].folder);
		free(v[i].subject);
		free(v[i].sender);
		free(v[i].date);
		free(v[i].reason);
	}
	free(v);
}

int state_folder_list(struct state *st, int64_t user_id,
		      struct state_folder_row **v_r, size_t *n_r,
		      struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT src, dst, uidvalidity, last_uid,"
			       " messages, items_synced FROM folders WHERE"
			       " user_id=? ORDER BY src",
			       err);
	struct state_folder_row *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].src = sq_col_str(s, 0);
		v[n].dst = sq_col_str(s, 1);
		v[n].uidvalidity = (uint32_t)sqlite3_column_int64(s, 2);
		v[n].last_uid = (uint32_t)sqlite3_column_int64(s, 3);
		v[n].messages = (uint32_t)sqlite3_column_int64(s, 4);
		v[n].items_synced = (uint64_t)sqlite3_column_int64(s, 5);
		n++;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "list folders", err);
}

void state_folder_rows_free(struct state_folder_row *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].src);
		free(v[i].dst);
	}
	free(v);
}

int state_verify_record(struct state *st, int64_t user_id,
			const struct state_verify *v, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "INSERT OR REPLACE INTO verify(user_id, at,"
			       " deep, compared, missing, altered)"
			       " VALUES (?,?,?,?,?,?)",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	sq_bind_i64(s, 2, (sqlite3_int64)v->at);
	sq_bind_int(s, 3, v->deep);
	sq_bind_i64(s, 4, (sqlite3_int64)v->compared);
	sq_bind_i64(s, 5, (sqlite3_int64)v->missing);
	sq_bind_i64(s, 6, (sqlite3_int64)v->altered);
	return sq_run(st, s, "record verify", err);
}

int state_verify_get(struct state *st, int64_t user_id, struct state_verify *v,
		     struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT at, deep, compared, missing, altered"
			       " FROM verify WHERE user_id=?",
			       err);
	int rc;

	memset(v, 0, sizeof(*v));
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v->at = (time_t)sqlite3_column_int64(s, 0);
		v->deep = sqlite3_column_int(s, 1);
		v->compared = (uint64_t)sqlite3_column_int64(s, 2);
		v->missing = (uint64_t)sqlite3_column_int64(s, 3);
		v->altered = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_error(st, "read verify", err);
	return 0;
}
