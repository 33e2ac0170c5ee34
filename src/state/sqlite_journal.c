/* sqlite_journal.c - the sync journal (state.h): folders and items, in
 * SQLite.  Each function is one transaction. */
#include "state/sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

int state_folder_open(struct state *st, int64_t user_id, const char *src,
		      const char *dst, struct state_folder *out,
		      struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "INSERT INTO folders(user_id, src, dst)"
			       " VALUES (?,?,?) ON CONFLICT(user_id, src) DO"
			       " UPDATE SET dst=coalesce(excluded.dst, dst)",
			       err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	sq_bind_str(s, 2, src);
	sq_bind_str(s, 3, dst);
	if (sq_run(st, s, "open folder", err) < 0)
		return -1;
	s = sq_prep(st,
		 "SELECT id, uidvalidity, last_uid, highestmodseq FROM"
		 " folders WHERE user_id=? AND src=?",
		 err);
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	sq_bind_str(s, 2, src);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		out->uidvalidity = (uint32_t)sqlite3_column_int64(s, 1);
		out->last_uid = (uint32_t)sqlite3_column_int64(s, 2);
		out->highestmodseq = (uint64_t)sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : sq_error(st, "open folder", err);
}

int state_folder_update(struct state *st, int64_t folder_id,
			uint32_t uidvalidity, uint32_t last_uid,
			uint64_t highestmodseq, uint32_t messages,
			struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE folders SET uidvalidity=?,"
			       " last_uid=?, highestmodseq=?, messages=?"
			       " WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, uidvalidity);
	sq_bind_i64(s, 2, last_uid);
	sq_bind_i64(s, 3, (sqlite3_int64)highestmodseq);
	sq_bind_i64(s, 4, messages);
	sq_bind_i64(s, 5, folder_id);
	return sq_run(st, s, "update folder", err);
}

int state_folder_renumbered(struct state *st, int64_t folder_id,
			    struct err *err)
{
	/* The folder's items are read again and matched on the target:
	 * what they counted is taken off the totals first, so nothing is
	 * counted twice, and their skipped-item rows go (they come back if
	 * they are skipped again). */
	static const char *const sql[] = {
		"UPDATE users SET"
		" items_synced=items_synced-(SELECT count(*) FROM items"
		"  WHERE folder_id=?1 AND state=1),"
		" bytes_synced=bytes_synced-(SELECT coalesce(sum(size),0)"
		"  FROM items WHERE folder_id=?1 AND state=1),"
		" items_skipped=items_skipped-(SELECT count(*) FROM items"
		"  WHERE folder_id=?1 AND state IN (2,3)),"
		" bad_items=bad_items-(SELECT count(*) FROM items"
		"  WHERE folder_id=?1 AND state=3)"
		" WHERE id=(SELECT user_id FROM folders WHERE id=?1)",
		"DELETE FROM skipped WHERE user_id=(SELECT user_id FROM folders"
		" WHERE id=?1) AND folder=(SELECT src FROM folders WHERE "
		"id=?1)",
		"UPDATE folders SET items_synced=0 WHERE id=?1",
		"DELETE FROM items WHERE folder_id=?1",
	};
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *s = sq_prep(st, sql[i], err);
		if (s == NULL)
			goto fail;
		sq_bind_i64(s, 1, folder_id);
		if (sq_run(st, s, "reset folder", err) < 0)
			goto fail;
	}
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
}

int state_items_inflight(struct state *st, int64_t user_id, int64_t folder_id,
			 struct store_msg *const *msgs, size_t n,
			 struct err *err)
{
	sqlite3_stmt *s;
	size_t i;

	(void)user_id;
	if (state_begin(st, err) < 0)
		return -1;
	s = sq_prep(st,
		 "INSERT OR REPLACE INTO items(folder_id, uid, size,"
		 " state, flags, keywords) VALUES (?,?,?,0,?,?)",
		 err);
	if (s == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		sq_bind_i64(s, 1, folder_id);
		sq_bind_i64(s, 2, msgs[i]->uid);
		sq_bind_i64(s, 3, (sqlite3_int64)msgs[i]->size);
		sq_bind_int(s, 4, (int)msgs[i]->flags);
		sq_bind_str(s, 5, msgs[i]->keywords);
		if (sqlite3_step(s) != SQLITE_DONE) {
			sq_error(st, "record items in flight", err);
			sqlite3_finalize(s);
			goto fail;
		}
	}
	sqlite3_finalize(s);
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
}

static int add_user_counts(struct state *st, int64_t user_id, int64_t folder_id,
			   uint64_t done, uint64_t bytes, uint64_t skipped,
			   uint64_t bad, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE users SET items_synced=items_synced"
			       "+?, bytes_synced=bytes_synced+?,"
			       " items_skipped=items_skipped+?,"
			       " bad_items=bad_items+? WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, (sqlite3_int64)done);
	sq_bind_i64(s, 2, (sqlite3_int64)bytes);
	sq_bind_i64(s, 3, (sqlite3_int64)skipped);
	sq_bind_i64(s, 4, (sqlite3_int64)bad);
	sq_bind_i64(s, 5, user_id);
	if (sq_run(st, s, "count items", err) < 0)
		return -1;
	if (done == 0)
		return 0;
	s = sq_prep(st,
		 "UPDATE folders SET items_synced=items_synced+? WHERE"
		 " id=?",
		 err);
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, (sqlite3_int64)done);
	sq_bind_i64(s, 2, folder_id);
	return sq_run(st, s, "count items", err);
}

int state_items_settle(struct state *st, int64_t user_id, int64_t folder_id,
		       struct store_msg *const *msgs,
		       const enum state_outcome *oc, const char *const *refs,
		       size_t n, struct err *err)
{
	sqlite3_stmt *done = NULL, *forget = NULL;
	uint64_t ndone = 0, bytes = 0;
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	done = sq_prep(st,
		    "UPDATE items SET state=1, target_ref=? WHERE"
		    " folder_id=? AND uid=?",
		    err);
	forget = sq_prep(st,
		      "DELETE FROM items WHERE folder_id=? AND uid=? AND"
		      " state=0",
		      err);
	if (done == NULL || forget == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_stmt *s;
		if (oc[i] == STATE_ITEM_KEEP)
			continue;
		if (oc[i] == STATE_ITEM_DONE) {
			s = done;
			sqlite3_reset(s);
			sq_bind_str(s, 1, refs[i] ? refs[i] : "");
			sq_bind_i64(s, 2, folder_id);
			sq_bind_i64(s, 3, msgs[i]->uid);
			ndone++;
			bytes += msgs[i]->size;
		} else {
			s = forget;
			sqlite3_reset(s);
			sq_bind_i64(s, 1, folder_id);
			sq_bind_i64(s, 2, msgs[i]->uid);
		}
		if (sqlite3_step(s) != SQLITE_DONE) {
			sq_error(st, "settle items", err);
			goto fail;
		}
	}
	sqlite3_finalize(done);
	sqlite3_finalize(forget);
	done = forget = NULL;
	if (add_user_counts(st, user_id, folder_id, ndone, bytes, 0, 0, err) <
	    0)
		goto fail;
	return state_commit(st, err);
fail:
	sqlite3_finalize(done);
	sqlite3_finalize(forget);
	state_rollback(st);
	return -1;
}

int state_item_skip(struct state *st, int64_t user_id, int64_t folder_id,
		    const struct store_msg *m, const char *reason, int bad,
		    const char *subject, const char *from, const char *date,
		    struct err *err)
{
	sqlite3_stmt *s;

	if (state_begin(st, err) < 0)
		return -1;
	s = sq_prep(st,
		 "INSERT OR REPLACE INTO items(folder_id, uid, size, state)"
		 " VALUES (?,?,?,?)",
		 err);
	if (s == NULL)
		goto fail;
	sq_bind_i64(s, 1, folder_id);
	sq_bind_i64(s, 2, m->uid);
	sq_bind_i64(s, 3, (sqlite3_int64)m->size);
	sq_bind_int(s, 4, bad ? ITEM_FAILED : ITEM_SKIPPED);
	if (sq_run(st, s, "skip item", err) < 0)
		goto fail;
	s = sq_prep(st,
		 "INSERT INTO skipped(user_id, folder, uid, size, subject,"
		 " sender, date, reason, bad) SELECT ?, src, ?, ?, ?, ?, ?, ?,"
		 " ? FROM folders WHERE id=?",
		 err);
	if (s == NULL)
		goto fail;
	sq_bind_i64(s, 1, user_id);
	sq_bind_i64(s, 2, m->uid);
	sq_bind_i64(s, 3, (sqlite3_int64)m->size);
	sq_bind_str(s, 4, subject);
	sq_bind_str(s, 5, from);
	sq_bind_str(s, 6, date);
	sq_bind_str(s, 7, reason);
	sq_bind_int(s, 8, bad);
	sq_bind_i64(s, 9, folder_id);
	if (sq_run(st, s, "skip item", err) < 0 ||
	    add_user_counts(st, user_id, folder_id, 0, 0, 1, bad ? 1 : 0, err) <
		    0)
		goto fail;
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
}

int state_item_found(struct state *st, int64_t user_id, int64_t folder_id,
		     const struct store_msg *m, const char *ref,
		     struct err *err)
{
	const enum state_outcome oc = STATE_ITEM_DONE;
	struct store_msg *mm = (struct store_msg *)m;

	if (ref == NULL)
		ref = "";
	return state_items_settle(st, user_id, folder_id, &mm, &oc, &ref, 1,
				  err);
}

int state_item_forget(struct state *st, int64_t folder_id, uint32_t uid,
		      struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "DELETE FROM items WHERE folder_id=? AND"
			       " uid=? AND state=0",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, folder_id);
	sq_bind_i64(s, 2, uid);
	return sq_run(st, s, "forget item", err);
}

/* sql binds folder_id, then (for a window) lo and hi */
static int uid_list_in(struct state *st, const char *sql, int64_t folder_id,
		       int window, uint32_t lo, uint32_t hi, uint32_t **uids_r,
		       size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st, sql, err);
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*uids_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, folder_id);
	if (window) {
		sq_bind_i64(s, 2, lo);
		sq_bind_i64(s, 3, hi);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return sq_error(st, "list items", err);
	}
	*uids_r = v;
	*n_r = n;
	return 0;
}

static int uid_list(struct state *st, const char *sql, int64_t folder_id,
		    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	return uid_list_in(st, sql, folder_id, 0, 0, 0, uids_r, n_r, err);
}

int state_settled_uids_in(struct state *st, int64_t folder_id, uint32_t lo,
			  uint32_t hi, uint32_t **uids_r, size_t *n_r,
			  struct err *err)
{
	return uid_list_in(st,
			   "SELECT uid FROM items WHERE folder_id=? AND"
			   " uid>=? AND uid<=? AND state<>0 ORDER BY uid",
			   folder_id, 1, lo, hi, uids_r, n_r, err);
}

int state_settled_count(struct state *st, int64_t folder_id, uint64_t *n_r,
			struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT count(*) FROM items WHERE folder_id=?"
			       " AND state<>0",
			       err);
	int rc;

	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, folder_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n_r = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : sq_error(st, "count items", err);
}

int state_inflight_uids(struct state *st, int64_t folder_id, uint32_t **uids_r,
			size_t *n_r, struct err *err)
{
	return uid_list(st,
			"SELECT uid FROM items WHERE folder_id=? AND"
			" state=0 ORDER BY uid",
			folder_id, uids_r, n_r, err);
}

int state_settled_uids(struct state *st, int64_t folder_id, uint32_t **uids_r,
		       size_t *n_r, struct err *err)
{
	return uid_list(st,
			"SELECT uid FROM items WHERE folder_id=? AND"
			" state<>0 ORDER BY uid",
			folder_id, uids_r, n_r, err);
}

static int items_in_state(struct state *st, int64_t folder_id, int state,
			  uint32_t lo, uint32_t hi, struct state_item **v_r,
			  size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT uid, flags, keywords, target_ref"
			       " FROM items WHERE folder_id=? AND state=?"
			       " AND uid>=? AND uid<=? ORDER BY uid",
			       err);
	struct state_item *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, folder_id);
	sq_bind_int(s, 2, state);
	sq_bind_i64(s, 3, lo);
	sq_bind_i64(s, 4, hi);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].uid = (uint32_t)sqlite3_column_int64(s, 0);
		v[n].flags = (uint32_t)sqlite3_column_int(s, 1);
		v[n].keywords = sq_col_str(s, 2);
		v[n].ref = sq_col_str(s, 3);
		n++;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "list items", err);
}

int state_done_items(struct state *st, int64_t folder_id,
		     struct state_item **v_r, size_t *n_r, struct err *err)
{
	return items_in_state(st, folder_id, 1, 0, UINT32_MAX, v_r, n_r, err);
}

int state_inflight_items(struct state *st, int64_t folder_id,
			 struct state_item **v_r, size_t *n_r, struct err *err)
{
	return items_in_state(st, folder_id, 0, 0, UINT32_MAX, v_r, n_r, err);
}

int state_done_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			uint32_t hi, struct state_item **v_r, size_t *n_r,
			struct err *err)
{
	return items_in_state(st, folder_id, 1, lo, hi, v_r, n_r, err);
}

int state_inflight_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			    uint32_t hi, struct state_item **v_r, size_t *n_r,
			    struct err *err)
{
	return items_in_state(st, folder_id, 0, lo, hi, v_r, n_r, err);
}

int state_items_placed(struct state *st, int64_t folder_id,
		       const uint32_t *uids, const char *const *refs, size_t n,
		       struct err *err)
{
	sqlite3_stmt *s;
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	s = sq_prep(st,
		 "UPDATE items SET target_ref=? WHERE folder_id=? AND uid=?"
		 " AND state=0",
		 err);
	if (s == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		sq_bind_str(s, 1, refs[i]);
		sq_bind_i64(s, 2, folder_id);
		sq_bind_i64(s, 3, uids[i]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			sq_error(st, "record where copies were placed", err);
			sqlite3_finalize(s);
			goto fail;
		}
	}
	sqlite3_finalize(s);
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
}

void state_items_free(struct state_item *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].keywords);
		free(v[i].ref);
	}
	free(v);
}

int state_item_set_flags(struct state *st, int64_t folder_id, uint32_t uid,
			 uint32_t flags, const char *keywords, const char *ref,
			 struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE items SET flags=?, keywords=?,"
			       " target_ref=coalesce(?, target_ref) WHERE"
			       " folder_id=? AND uid=?",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_int(s, 1, (int)flags);
	sq_bind_str(s, 2, keywords);
	sq_bind_str(s, 3, ref);
	sq_bind_i64(s, 4, folder_id);
	sq_bind_i64(s, 5, uid);
	return sq_run(st, s, "update item flags", err);
}
