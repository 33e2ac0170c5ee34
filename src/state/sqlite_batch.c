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

static int b_read(const struct sq_stmt *q, void *row, void *ctx,
		  struct err *err)
{
	struct state_batch *b = row;

	(void)ctx;
	(void)err;
	memset(b, 0, sizeof(*b));
	b->id = sq_col_i64(q, 0);
	b->name = sq_col_str(q, 1);
	b->source_id = sq_col_i64(q, 2);
	b->target_id = sq_col_i64(q, 3);
	b->status = sq_col_str(q, 4);
	b->exclude_folders = sq_col_str(q, 5);
	b->include_folders = sq_col_str(q, 6);
	b->allow_incremental = sq_col_int(q, 7);
	b->bad_item_limit = (uint64_t)sq_col_i64(q, 8);
	b->max_message_size = (uint64_t)sq_col_i64(q, 9);
	b->max_items = (uint64_t)sq_col_i64(q, 10);
	b->start_after = (time_t)sq_col_i64(q, 11);
	b->notification_emails = sq_col_str(q, 12);
	b->cutover = (time_t)sq_col_i64(q, 13);
	b->created = (time_t)sq_col_i64(q, 14);
	b->started = (time_t)sq_col_i64(q, 15);
	b->initial_done = (time_t)sq_col_i64(q, 16);
	b->last_synced = (time_t)sq_col_i64(q, 17);
	b->completed = (time_t)sq_col_i64(q, 18);
	b->max_bytes_per_second = (uint64_t)sq_col_i64(q, 19);
	return 0;
}

static void b_bind(struct sq_stmt *q, const struct state_batch *b)
{
	sq_bind_str(q, 1, b->name);
	sq_bind_i64(q, 2, b->source_id);
	sq_bind_i64(q, 3, b->target_id);
	sq_bind_str(q, 4, b->status);
	sq_bind_str(q, 5, b->exclude_folders);
	sq_bind_str(q, 6, b->include_folders);
	sq_bind_int(q, 7, b->allow_incremental);
	sq_bind_i64(q, 8, (int64_t)b->bad_item_limit);
	sq_bind_i64(q, 9, (int64_t)b->max_message_size);
	sq_bind_i64(q, 10, (int64_t)b->max_items);
	sq_bind_i64(q, 11, (int64_t)b->start_after);
	sq_bind_str(q, 12, b->notification_emails);
	sq_bind_i64(q, 13, (int64_t)b->cutover);
	sq_bind_i64(q, 14, (int64_t)b->created);
	sq_bind_i64(q, 15, (int64_t)b->started);
	sq_bind_i64(q, 16, (int64_t)b->initial_done);
	sq_bind_i64(q, 17, (int64_t)b->last_synced);
	sq_bind_i64(q, 18, (int64_t)b->completed);
	sq_bind_i64(q, 19, (int64_t)b->max_bytes_per_second);
}

int state_batch_add(struct state *st, struct state_batch *b, struct err *err)
{
	struct sq_stmt q;

	if (sq_prep(&q, st,
		    "INSERT INTO batches(name, source_id,"
		    " target_id, status, exclude_folders,"
		    " include_folders, allow_incremental,"
		    " bad_item_limit, max_message_size, max_items,"
		    " start_after, notification_emails, cutover,"
		    " created, started, initial_done, last_synced,"
		    " completed, max_bps) VALUES (?,?,?,?,?,?,?,?,?,"
		    "?,?,?,?,?,?,?,?,?,?)",
		    err) < 0)
		return -1;
	if (b->created == 0)
		b->created = time(NULL);
	b_bind(&q, b);
	if (sq_run(&q, "add batch", err) < 0) {
		if (sq_constraint(&q))
			return err_set(err, ERR_USAGE, EC_NONE,
				       "a batch named %s already exists: "
				       "choose another --name",
				       b->name);
		return -1;
	}
	b->id = sq_last_id(&q);
	return 0;
}

static const struct sq_table batches = {
	.by_name = "SELECT " B_COLS " FROM batches WHERE name=?",
	.by_id = "SELECT " B_COLS " FROM batches WHERE id=?",
	.noun = "batch",
	.no_name = "no batch named",
	.read = b_read,
};

int state_batch_get(struct state *st, const char *name, struct state_batch *out,
		    struct err *err)
{
	return sq_get(st, &batches, name, 0, out, err);
}

int state_batch_get_id(struct state *st, int64_t id, struct state_batch *out,
		       struct err *err)
{
	return sq_get(st, &batches, NULL, id, out, err);
}

static void b_free(void *v, size_t n)
{
	struct state_batch *b = v;
	size_t i;

	for (i = 0; i < n; i++)
		state_batch_release(&b[i]);
	free(b);
}

int state_batch_list(struct state *st, struct state_batch **v_r, size_t *n_r,
		     struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st, "SELECT " B_COLS " FROM batches ORDER BY created, id",
		err);
	rc = sq_rows(&q, sizeof(**v_r), b_read, NULL, b_free, &v, n_r,
		     "list batches", err);
	*v_r = v;
	return rc;
}

int state_batch_update(struct state *st, const struct state_batch *b,
		       struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE batches SET name=?, source_id=?,"
		" target_id=?, status=?, exclude_folders=?,"
		" include_folders=?, allow_incremental=?,"
		" bad_item_limit=?, max_message_size=?,"
		" max_items=?, start_after=?,"
		" notification_emails=?, cutover=?, created=?,"
		" started=?, initial_done=?, last_synced=?,"
		" completed=?, max_bps=? WHERE id=?",
		err);
	b_bind(&q, b);
	sq_bind_i64(&q, 20, b->id);
	return sq_run(&q, "update batch", err);
}

int state_batch_remove(struct state *st, int64_t id, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st, "DELETE FROM batches WHERE id=?", err);
	sq_bind_i64(&q, 1, id);
	return sq_run(&q, "remove batch", err);
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

/* One row of the counts query (a status and its users) added to c. */
static void counts_add(const struct sq_stmt *q, struct state_batch_counts *c)
{
	unsigned n = (unsigned)sq_col_int(q, 1);
	time_t ls = (time_t)sq_col_i64(q, 5);

	c->total += n;
	c->items_synced += (uint64_t)sq_col_i64(q, 2);
	c->items_skipped += (uint64_t)sq_col_i64(q, 3);
	c->bytes_synced += (uint64_t)sq_col_i64(q, 4);
	if (c->last_synced == (time_t)-1 || ls < c->last_synced)
		c->last_synced = ls;
	if ((time_t)sq_col_i64(q, 6) > c->newest_synced)
		c->newest_synced = (time_t)sq_col_i64(q, 6);
	switch (user_status_class(user_status_parse(sq_col_text(q, 0)))) {
	case CLASS_QUEUED: c->queued += n; break;
	case CLASS_SYNCED: c->synced += n; break;
	case CLASS_FAILED: c->failed += n; break;
	case CLASS_STOPPED: c->stopped += n; break;
	case CLASS_COMPLETED: c->completed += n; break;
	case CLASS_SYNCING: c->syncing += n; break;
	}
}

int state_batch_counts(struct state *st, int64_t batch_id,
		       struct state_batch_counts *c, struct err *err)
{
	struct sq_stmt q;
	int rc;

	memset(c, 0, sizeof(*c));
	sq_prep(&q, st,
		"SELECT status, count(*), sum(items_synced),"
		" sum(items_skipped), sum(bytes_synced),"
		" min(coalesce(last_synced, 0)),"
		" max(coalesce(last_synced, 0)) FROM users"
		" WHERE batch_id=? GROUP BY status",
		err);
	sq_bind_i64(&q, 1, batch_id);
	c->last_synced = (time_t)-1;
	while ((rc = sq_step(&q, "count users", err)) > 0)
		counts_add(&q, c);
	sq_finalize(&q);
	if (c->last_synced == (time_t)-1)
		c->last_synced = 0;
	return rc;
}
