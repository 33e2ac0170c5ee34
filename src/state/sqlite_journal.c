/* sqlite_journal.c - the sync journal (state.h): folders and items, in
 * SQLite.  Each function is one transaction. */
#include "state/sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* ---- folders ---- */

int state_folder_open(struct state *st, int64_t user_id, const char *src,
		      const char *dst, struct state_folder *out,
		      struct err *err)
{
	struct sq_stmt q;
	int rc;

	memset(out, 0, sizeof(*out));
	sq_prep(&q, st,
		"INSERT INTO folders(user_id, src, dst)"
		" VALUES (?,?,?) ON CONFLICT(user_id, src) DO"
		" UPDATE SET dst=coalesce(excluded.dst, dst)",
		err);
	sq_bind_i64(&q, 1, user_id);
	sq_bind_str(&q, 2, src);
	sq_bind_str(&q, 3, dst);
	if (sq_run(&q, "open folder", err) < 0)
		return -1;
	sq_prep(&q, st,
		"SELECT id, uidvalidity, last_uid, highestmodseq FROM"
		" folders WHERE user_id=? AND src=?",
		err);
	sq_bind_i64(&q, 1, user_id);
	sq_bind_str(&q, 2, src);
	rc = sq_step(&q, "open folder", err);
	if (rc > 0) {
		out->id = sq_col_i64(&q, 0);
		out->uidvalidity = (uint32_t)sq_col_i64(&q, 1);
		out->last_uid = (uint32_t)sq_col_i64(&q, 2);
		out->highestmodseq = (uint64_t)sq_col_i64(&q, 3);
	} else if (rc == 0) {
		rc = sq_error(st, "open folder", err);
	}
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}

int state_folder_update(struct state *st, int64_t folder_id,
			uint32_t uidvalidity, uint32_t last_uid,
			uint64_t highestmodseq, uint32_t messages,
			struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE folders SET uidvalidity=?,"
		" last_uid=?, highestmodseq=?, messages=?"
		" WHERE id=?",
		err);
	sq_bind_i64(&q, 1, uidvalidity);
	sq_bind_i64(&q, 2, last_uid);
	sq_bind_i64(&q, 3, (int64_t)highestmodseq);
	sq_bind_i64(&q, 4, messages);
	sq_bind_i64(&q, 5, folder_id);
	return sq_run(&q, "update folder", err);
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
	struct sq_stmt q;
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sq_prep(&q, st, sql[i], err);
		sq_bind_i64(&q, 1, folder_id);
		if (sq_run(&q, "reset folder", err) < 0) {
			state_rollback(st);
			return -1;
		}
	}
	return state_commit(st, err);
}

/* ---- items: in flight, settled, skipped ---- */

/* The end of a journal transaction: commit when rc is 0, else roll back
 * (err says why).  0 or -1. */
static int tx_end(struct state *st, int rc, struct err *err)
{
	if (rc < 0) {
		state_rollback(st);
		return -1;
	}
	return state_commit(st, err);
}

int state_items_inflight(struct state *st, int64_t user_id, int64_t folder_id,
			 struct store_msg *const *msgs, size_t n,
			 struct err *err)
{
	struct sq_stmt q;
	size_t i;
	int rc;

	(void)user_id;
	if (state_begin(st, err) < 0)
		return -1;
	rc = sq_prep(&q, st,
		     "INSERT OR REPLACE INTO items(folder_id, uid, size,"
		     " state, flags, keywords) VALUES (?,?,?,0,?,?)",
		     err);
	for (i = 0; rc == 0 && i < n; i++) {
		sq_reset(&q);
		sq_bind_i64(&q, 1, folder_id);
		sq_bind_i64(&q, 2, msgs[i]->uid);
		sq_bind_i64(&q, 3, (int64_t)msgs[i]->size);
		sq_bind_int(&q, 4, (int)msgs[i]->flags);
		sq_bind_str(&q, 5, msgs[i]->keywords);
		rc = sq_step(&q, "record items in flight", err);
	}
	sq_finalize(&q);
	return tx_end(st, rc, err);
}

/* The user's (and the folder's) counters grow by what a transaction
 * settled.  0 or -1. */
static int add_user_counts(struct state *st, int64_t user_id, int64_t folder_id,
			   uint64_t done, uint64_t bytes, uint64_t skipped,
			   uint64_t bad, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE users SET items_synced=items_synced"
		"+?, bytes_synced=bytes_synced+?,"
		" items_skipped=items_skipped+?,"
		" bad_items=bad_items+? WHERE id=?",
		err);
	sq_bind_i64(&q, 1, (int64_t)done);
	sq_bind_i64(&q, 2, (int64_t)bytes);
	sq_bind_i64(&q, 3, (int64_t)skipped);
	sq_bind_i64(&q, 4, (int64_t)bad);
	sq_bind_i64(&q, 5, user_id);
	if (sq_run(&q, "count items", err) < 0)
		return -1;
	if (done == 0)
		return 0;
	sq_prep(&q, st,
		"UPDATE folders SET items_synced=items_synced+? WHERE"
		" id=?",
		err);
	sq_bind_i64(&q, 1, (int64_t)done);
	sq_bind_i64(&q, 2, folder_id);
	return sq_run(&q, "count items", err);
}

/* One item of state_items_settle: done (with its ref) or forgotten. */
static int settle_one(struct sq_stmt *done, struct sq_stmt *forget,
		      int64_t folder_id, const struct store_msg *m,
		      enum state_outcome oc, const char *ref, struct err *err)
{
	struct sq_stmt *q = oc == STATE_ITEM_DONE ? done : forget;
	int i = 1;

	sq_reset(q);
	if (oc == STATE_ITEM_DONE)
		sq_bind_str(q, i++, ref ? ref : "");
	sq_bind_i64(q, i++, folder_id);
	sq_bind_i64(q, i, m->uid);
	return sq_step(q, "settle items", err);
}

int state_items_settle(struct state *st, int64_t user_id, int64_t folder_id,
		       struct store_msg *const *msgs,
		       const enum state_outcome *oc, const char *const *refs,
		       size_t n, struct err *err)
{
	struct sq_stmt done, forget;
	uint64_t ndone = 0, bytes = 0;
	size_t i;
	int rc;

	if (state_begin(st, err) < 0)
		return -1;
	rc = sq_prep(&done, st,
		     "UPDATE items SET state=1, target_ref=? WHERE"
		     " folder_id=? AND uid=?",
		     err);
	if (sq_prep(&forget, st,
		    "DELETE FROM items WHERE folder_id=? AND uid=? AND"
		    " state=0",
		    err) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++) {
		if (oc[i] == STATE_ITEM_KEEP)
			continue;
		rc = settle_one(&done, &forget, folder_id, msgs[i], oc[i],
				refs[i], err);
		if (oc[i] == STATE_ITEM_DONE) {
			ndone++;
			bytes += msgs[i]->size;
		}
	}
	sq_finalize(&done);
	sq_finalize(&forget);
	if (rc == 0)
		rc = add_user_counts(st, user_id, folder_id, ndone, bytes, 0, 0,
				     err);
	return tx_end(st, rc, err);
}

/* The item's row in the skipped-item report (folder named from its
 * folder row).  0 or -1. */
static int skipped_add(struct state *st, int64_t user_id, int64_t folder_id,
		       const struct store_msg *m, const char *reason, int bad,
		       const char *subject, const char *from, const char *date,
		       struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"INSERT INTO skipped(user_id, folder, uid, size, subject,"
		" sender, date, reason, bad) SELECT ?, src, ?, ?, ?, ?, ?, ?,"
		" ? FROM folders WHERE id=?",
		err);
	sq_bind_i64(&q, 1, user_id);
	sq_bind_i64(&q, 2, m->uid);
	sq_bind_i64(&q, 3, (int64_t)m->size);
	sq_bind_str(&q, 4, subject);
	sq_bind_str(&q, 5, from);
	sq_bind_str(&q, 6, date);
	sq_bind_str(&q, 7, reason);
	sq_bind_int(&q, 8, bad);
	sq_bind_i64(&q, 9, folder_id);
	return sq_run(&q, "skip item", err);
}

int state_item_skip(struct state *st, int64_t user_id, int64_t folder_id,
		    const struct store_msg *m, const char *reason, int bad,
		    const char *subject, const char *from, const char *date,
		    struct err *err)
{
	struct sq_stmt q;
	int rc;

	if (state_begin(st, err) < 0)
		return -1;
	sq_prep(&q, st,
		"INSERT OR REPLACE INTO items(folder_id, uid, size, state)"
		" VALUES (?,?,?,?)",
		err);
	sq_bind_i64(&q, 1, folder_id);
	sq_bind_i64(&q, 2, m->uid);
	sq_bind_i64(&q, 3, (int64_t)m->size);
	sq_bind_int(&q, 4, bad ? ITEM_FAILED : ITEM_SKIPPED);
	rc = sq_run(&q, "skip item", err);
	if (rc == 0)
		rc = skipped_add(st, user_id, folder_id, m, reason, bad,
				 subject, from, date, err);
	if (rc == 0)
		rc = add_user_counts(st, user_id, folder_id, 0, 0, 1,
				     bad ? 1 : 0, err);
	return tx_end(st, rc, err);
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
	struct sq_stmt q;

	sq_prep(&q, st,
		"DELETE FROM items WHERE folder_id=? AND"
		" uid=? AND state=0",
		err);
	sq_bind_i64(&q, 1, folder_id);
	sq_bind_i64(&q, 2, uid);
	return sq_run(&q, "forget item", err);
}

/* ---- reading the journal back ---- */

static int uid_read(const struct sq_stmt *q, void *row, void *ctx,
		    struct err *err)
{
	(void)ctx;
	(void)err;
	*(uint32_t *)row = (uint32_t)sq_col_i64(q, 0);
	return 0;
}

/* sql binds folder_id, then (for a window) lo and hi */
static int uid_list_in(struct state *st, const char *sql, int64_t folder_id,
		       int window, uint32_t lo, uint32_t hi, uint32_t **uids_r,
		       size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st, sql, err);
	sq_bind_i64(&q, 1, folder_id);
	if (window) {
		sq_bind_i64(&q, 2, lo);
		sq_bind_i64(&q, 3, hi);
	}
	rc = sq_rows(&q, sizeof(**uids_r), uid_read, NULL, sq_free_plain, &v,
		     n_r, "list items", err);
	*uids_r = v;
	return rc;
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
	struct sq_stmt q;
	int rc;

	*n_r = 0;
	sq_prep(&q, st,
		"SELECT count(*) FROM items WHERE folder_id=?"
		" AND state<>0",
		err);
	sq_bind_i64(&q, 1, folder_id);
	rc = sq_step(&q, "count items", err);
	if (rc > 0)
		*n_r = (uint64_t)sq_col_i64(&q, 0);
	else if (rc == 0)
		rc = sq_error(st, "count items", err);
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
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

static int item_read(const struct sq_stmt *q, void *row, void *ctx,
		     struct err *err)
{
	struct state_item *it = row;

	(void)ctx;
	(void)err;
	it->uid = (uint32_t)sq_col_i64(q, 0);
	it->flags = (uint32_t)sq_col_int(q, 1);
	it->keywords = sq_col_str(q, 2);
	it->ref = sq_col_str(q, 3);
	return 0;
}

static void items_free(void *v, size_t n)
{
	state_items_free(v, n);
}

static int items_in_state(struct state *st, int64_t folder_id, int state,
			  uint32_t lo, uint32_t hi, struct state_item **v_r,
			  size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st,
		"SELECT uid, flags, keywords, target_ref"
		" FROM items WHERE folder_id=? AND state=?"
		" AND uid>=? AND uid<=? ORDER BY uid",
		err);
	sq_bind_i64(&q, 1, folder_id);
	sq_bind_int(&q, 2, state);
	sq_bind_i64(&q, 3, lo);
	sq_bind_i64(&q, 4, hi);
	rc = sq_rows(&q, sizeof(**v_r), item_read, NULL, items_free, &v, n_r,
		     "list items", err);
	*v_r = v;
	return rc;
}

int state_done_items(struct state *st, int64_t folder_id,
		     struct state_item **v_r, size_t *n_r, struct err *err)
{
	return items_in_state(st, folder_id, ITEM_DONE, 0, UINT32_MAX, v_r, n_r,
			      err);
}

int state_inflight_items(struct state *st, int64_t folder_id,
			 struct state_item **v_r, size_t *n_r, struct err *err)
{
	return items_in_state(st, folder_id, ITEM_INFLIGHT, 0, UINT32_MAX, v_r,
			      n_r, err);
}

int state_done_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			uint32_t hi, struct state_item **v_r, size_t *n_r,
			struct err *err)
{
	return items_in_state(st, folder_id, ITEM_DONE, lo, hi, v_r, n_r, err);
}

int state_inflight_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			    uint32_t hi, struct state_item **v_r, size_t *n_r,
			    struct err *err)
{
	return items_in_state(st, folder_id, ITEM_INFLIGHT, lo, hi, v_r, n_r,
			      err);
}

int state_items_placed(struct state *st, int64_t folder_id,
		       const uint32_t *uids, const char *const *refs, size_t n,
		       struct err *err)
{
	struct sq_stmt q;
	size_t i;
	int rc;

	if (state_begin(st, err) < 0)
		return -1;
	rc = sq_prep(&q, st,
		     "UPDATE items SET target_ref=? WHERE folder_id=? AND"
		     " uid=? AND state=0",
		     err);
	for (i = 0; rc == 0 && i < n; i++) {
		sq_reset(&q);
		sq_bind_str(&q, 1, refs[i]);
		sq_bind_i64(&q, 2, folder_id);
		sq_bind_i64(&q, 3, uids[i]);
		rc = sq_step(&q, "record where copies were placed", err);
	}
	sq_finalize(&q);
	return tx_end(st, rc, err);
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
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE items SET flags=?, keywords=?,"
		" target_ref=coalesce(?, target_ref) WHERE"
		" folder_id=? AND uid=?",
		err);
	sq_bind_int(&q, 1, (int)flags);
	sq_bind_str(&q, 2, keywords);
	sq_bind_str(&q, 3, ref);
	sq_bind_i64(&q, 4, folder_id);
	sq_bind_i64(&q, 5, uid);
	return sq_run(&q, "update item flags", err);
}
