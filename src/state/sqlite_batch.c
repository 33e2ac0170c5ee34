/* sqlite_batch.c - batches and their counts (state.h), in SQLite. */
#include "state/sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define B_COLS                                                                 \
	"id, name, source_id, target_id, status, exclude_folders,"             \
	" include_folders, allow_incremental, bad_item_limit,"                 \
	" max_message_size, max_items, start_after,"                           \
	" notification_emails, cutover, created, started,"                     \
	" initial_done, last_synced, completed, max_bps"

static void b_read(sqlite3_stmt *s, struct state_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(s, 0);
	b->name = sq_col_str(s, 1);
	b->source_id = sqlite3_column_int64(s, 2);
	b->target_id = sqlite3_column_int64(s, 3);
	b->status = sq_col_str(s, 4);
	b->exclude_folders = sq_col_str(s, 5);
	b->include_folders = sq_col_str(s, 6);
	b->allow_incremental = sqlite3_column_int(s, 7);
	b->bad_item_limit = (uint64_t)sqlite3_column_int64(s, 8);
	b->max_message_size = (uint64_t)sqlite3_column_int64(s, 9);
	b->max_items = (uint64_t)sqlite3_column_int64(s, 10);
	b->start_after = (time_t)sqlite3_column_int64(s, 11);
	b->notification_emails = sq_col_str(s, 12);
	b->cutover = (time_t)sqlite3_column_int64(s, 13);
	b->created = (time_t)sqlite3_column_int64(s, 14);
	b->started = (time_t)sqlite3_column_int64(s, 15);
	b->initial_done = (time_t)sqlite3_column_int64(s, 16);
	b->last_synced = (time_t)sqlite3_column_int64(s, 17);
	b->completed = (time_t)sqlite3_column_int64(s, 18);
	b->max_bytes_per_second = (uint64_t)sqlite3_column_int64(s, 19);
}

static void b_bind(sqlite3_stmt *s, const struct state_batch *b)
{
	sq_bind_str(s, 1, b->name);
	sq_bind_i64(s, 2, b->source_id);
	sq_bind_i64(s, 3, b->target_id);
	sq_bind_str(s, 4, b->status);
	sq_bind_str(s, 5, b->exclude_folders);
	sq_bind_str(s, 6, b->include_folders);
	sq_bind_int(s, 7, b->allow_incremental);
	sq_bind_i64(s, 8, (sqlite3_int64)b->bad_item_limit);
	sq_bind_i64(s, 9, (sqlite3_int64)b->max_message_size);
	sq_bind_i64(s, 10, (sqlite3_int64)b->max_items);
	sq_bind_i64(s, 11, (sqlite3_int64)b->start_after);
	sq_bind_str(s, 12, b->notification_emails);
	sq_bind_i64(s, 13, (sqlite3_int64)b->cutover);
	sq_bind_i64(s, 14, (sqlite3_int64)b->created);
	sq_bind_i64(s, 15, (sqlite3_int64)b->started);
	sq_bind_i64(s, 16, (sqlite3_int64)b->initial_done);
	sq_bind_i64(s, 17, (sqlite3_int64)b->last_synced);
	sq_bind_i64(s, 18, (sqlite3_int64)b->completed);
	sq_bind_i64(s, 19, (sqlite3_int64)b->max_bytes_per_second);
}

int state_batch_add(struct state *st, struct state_batch *b, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "INSERT INTO batches(name, source_id,"
			       " target_id, status, exclude_folders,"
			       " include_folders, allow_incremental,"
			       " bad_item_limit, max_message_size, max_items,"
			       " start_after, notification_emails, cutover,"
			       " created, started, initial_done, last_synced,"
			       " completed, max_bps) VALUES (?,?,?,?,?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?)",
			       err);

	if (s == NULL)
		return -1;
	if (b->created == 0)
		b->created = time(NULL);
	b_bind(s, b);
	if (sqlite3_step(s) != SQLITE_DONE) {
		int c = sqlite3_errcode(st->db);
		sqlite3_finalize(s);
		if (c == SQLITE_CONSTRAINT)
			return err_set(err, ERR_USAGE, EC_NONE,
				       "a batch named %s already exists: "
				       "choose another --name",
				       b->name);
		return sq_error(st, "add batch", err);
	}
	b->id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return 0;
}

static int b_get(struct state *st, const char *name, int64_t id,
		 struct state_batch *out, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       name ? "SELECT " B_COLS " FROM batches"
				      " WHERE name=?"
				    : "SELECT " B_COLS " FROM batches"
				      " WHERE id=?",
			       err);
	int rc;

	if (s == NULL)
		return -1;
	if (name)
		sq_bind_str(s, 1, name);
	else
		sq_bind_i64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		b_read(s, out);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return sq_error(st, "get batch", err);
	if (name)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "no batch named %s: see 'imapmig batch get'",
			       name);
	return err_set(err, ERR_LOCAL, EC_NONE, "batch %lld is gone",
		       (long long)id);
}

int state_batch_get(struct state *st, const char *name, struct state_batch *out,
		    struct err *err)
{
	return b_get(st, name, 0, out, err);
}

int state_batch_get_id(struct state *st, int64_t id, struct state_batch *out,
		       struct err *err)
{
	return b_get(st, NULL, id, out, err);
}

int state_batch_list(struct state *st, struct state_batch **v_r, size_t *n_r,
		     struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT " B_COLS " FROM batches ORDER BY"
			       " created, id",
			       err);
	struct state_batch *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		b_read(s, &v[n++]);
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "list batches", err);
}

int state_batch_update(struct state *st, const struct state_batch *b,
		       struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE batches SET name=?, source_id=?,"
			       " target_id=?, status=?, exclude_folders=?,"
			       " include_folders=?, allow_incremental=?,"
			       " bad_item_limit=?, max_message_size=?,"
			       " max_items=?, start_after=?,"
			       " notification_emails=?, cutover=?, created=?,"
			       " started=?, initial_done=?, last_synced=?,"
			       " completed=?, max_bps=? WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	b_bind(s, b);
	sq_bind_i64(s, 20, b->id);
	return sq_run(st, s, "update batch", err);
}

int state_batch_remove(struct state *st, int64_t id, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st, "DELETE FROM batches WHERE id=?", err);

	if (s != NULL)
		sq_bind_i64(s, 1, id);
	return sq_run(st, s, "remove batch", err);
}

void state_batch_set_status(struct state_batch *b, enum batch_status s)
{
	free(b->status);
	b->status = xstrdup(batch_status_name(s));
}

void state_batch_release(struct state_batch *b)
{
	free(b->name);
	free(b->status);
	free(b->exclude_folders);
	free(b->include_folders);
	free(b->notification_emails);
	memset(b, 0, sizeof(*b));
}

int state_batch_counts(struct state *st, int64_t batch_id,
		       struct state_batch_counts *c, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT status, count(*), sum(items_synced),"
			       " sum(items_skipped), sum(bytes_synced),"
			       " min(coalesce(last_synced, 0)),"
			       " max(coalesce(last_synced, 0)) FROM users"
			       " WHERE batch_id=? GROUP BY status",
			       err);
	int rc;

	memset(c, 0, sizeof(*c));
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, batch_id);
	c->last_synced = (time_t)-1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(s, 0);
		unsigned n = (unsigned)sqlite3_column_int(s, 1);
		time_t ls = (time_t)sqlite3_column_int64(s, 5);
		c->total += n;
		c->items_synced += (uint64_t)sqlite3_column_int64(s, 2);
		c->items_skipped += (uint64_t)sqlite3_column_int64(s, 3);
		c->bytes_synced += (uint64_t)sqlite3_column_int64(s, 4);
		if (c->last_synced == (time_t)-1 || ls < c->last_synced)
			c->last_synced = ls;
		if ((time_t)sqlite3_column_int64(s, 6) > c->newest_synced)
			c->newest_synced = (time_t)sqlite3_column_int64(s, 6);
		switch (user_status_class(user_status_parse(status))) {
		case CLASS_QUEUED: c->queued += n; break;
		case CLASS_SYNCED: c->synced += n; break;
		case CLASS_FAILED: c->failed += n; break;
		case CLASS_STOPPED: c->stopped += n; break;
		case CLASS_COMPLETED: c->completed += n; break;
		case CLASS_SYNCING: c->syncing += n; break;
		}
	}
	sqlite3_finalize(s);
	if (c->last_synced == (time_t)-1)
		c->last_synced = 0;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "count users", err);
}
