/* sqlite_report.c - what reports read (state.h): skipped items, folders,
 * the last verify of a user; in SQLite. */
#include "state/sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* ---- skipped items and folders ---- */

static int skipped_read(const struct sq_stmt *q, void *row, void *ctx,
			struct err *err)
{
	struct state_skipped *v = row;

	(void)ctx;
	(void)err;
	v->folder = sq_col_str(q, 0);
	v->uid = (uint32_t)sq_col_i64(q, 1);
	v->size = (uint64_t)sq_col_i64(q, 2);
	v->subject = sq_col_str(q, 3);
	v->sender = sq_col_str(q, 4);
	v->date = sq_col_str(q, 5);
	v->reason = sq_col_str(q, 6);
	v->bad = sq_col_int(q, 7);
	return 0;
}

static void skipped_free(void *v, size_t n)
{
	state_skipped_free(v, n);
}

int state_skipped_list(struct state *st, int64_t user_id,
		       struct state_skipped **v_r, size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st,
		"SELECT folder, uid, size, subject, sender,"
		" date, reason, bad FROM skipped WHERE"
		" user_id=? ORDER BY id",
		err);
	sq_bind_i64(&q, 1, user_id);
	rc = sq_rows(&q, sizeof(**v_r), skipped_read, NULL, skipped_free, &v,
		     n_r, "list skipped", err);
	*v_r = v;
	return rc;
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

static int folder_read(const struct sq_stmt *q, void *row, void *ctx,
		       struct err *err)
{
	struct state_folder_row *v = row;

	(void)ctx;
	(void)err;
	v->src = sq_col_str(q, 0);
	v->dst = sq_col_str(q, 1);
	v->uidvalidity = (uint32_t)sq_col_i64(q, 2);
	v->last_uid = (uint32_t)sq_col_i64(q, 3);
	v->messages = (uint32_t)sq_col_i64(q, 4);
	v->items_synced = (uint64_t)sq_col_i64(q, 5);
	return 0;
}

static void folders_free(void *v, size_t n)
{
	state_folder_rows_free(v, n);
}

int state_folder_list(struct state *st, int64_t user_id,
		      struct state_folder_row **v_r, size_t *n_r,
		      struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st,
		"SELECT src, dst, uidvalidity, last_uid,"
		" messages, items_synced FROM folders WHERE"
		" user_id=? ORDER BY src",
		err);
	sq_bind_i64(&q, 1, user_id);
	rc = sq_rows(&q, sizeof(**v_r), folder_read, NULL, folders_free, &v,
		     n_r, "list folders", err);
	*v_r = v;
	return rc;
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

/* ---- the last 'imapmig verify' of a user ---- */

int state_verify_record(struct state *st, int64_t user_id,
			const struct state_verify *v, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"INSERT OR REPLACE INTO verify(user_id, at,"
		" deep, compared, missing, altered)"
		" VALUES (?,?,?,?,?,?)",
		err);
	sq_bind_i64(&q, 1, user_id);
	sq_bind_i64(&q, 2, (int64_t)v->at);
	sq_bind_int(&q, 3, v->deep);
	sq_bind_i64(&q, 4, (int64_t)v->compared);
	sq_bind_i64(&q, 5, (int64_t)v->missing);
	sq_bind_i64(&q, 6, (int64_t)v->altered);
	return sq_run(&q, "record verify", err);
}

int state_verify_get(struct state *st, int64_t user_id, struct state_verify *v,
		     struct err *err)
{
	struct sq_stmt q;
	int rc;

	memset(v, 0, sizeof(*v));
	sq_prep(&q, st,
		"SELECT at, deep, compared, missing, altered"
		" FROM verify WHERE user_id=?",
		err);
	sq_bind_i64(&q, 1, user_id);
	rc = sq_step(&q, "read verify", err);
	if (rc > 0) {
		v->at = (time_t)sq_col_i64(&q, 0);
		v->deep = sq_col_int(&q, 1);
		v->compared = (uint64_t)sq_col_i64(&q, 2);
		v->missing = (uint64_t)sq_col_i64(&q, 3);
		v->altered = (uint64_t)sq_col_i64(&q, 4);
	}
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}
