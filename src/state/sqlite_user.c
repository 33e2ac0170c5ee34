/* sqlite_user.c - migration users, their claims and leases (state.h), in
 * SQLite. */
#include "state/sqlite_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/xalloc.h"

#define U_COLS                                                                 \
	"id, batch_id, email, username, password, user_root,"                  \
	" target_username, target_password, extra, status, error,"             \
	" items_total, items_synced, items_skipped, bytes_synced,"             \
	" bad_items, queued_at, sync_started, sync_ended, last_synced,"        \
	" seconds_syncing, seconds_throttled, csv_line"

/* The extra CSV columns, stored as one JSON object. */
static void extra_read(const char *json, struct state_user *u)
{
	json_t *o = json ? json_loads(json, 0, NULL) : NULL;
	const char *k;
	json_t *v;

	if (o == NULL)
		return;
	u->extra = xcalloc(json_object_size(o) + 1, sizeof(*u->extra));
	json_object_foreach(o, k, v)
	{
		u->extra[u->n_extra].name = xstrdup(k);
		u->extra[u->n_extra].value = xstrdup(
			json_string_value(v) ? json_string_value(v) : "");
		u->n_extra++;
	}
	json_decref(o);
}

/* NULL when there are none; the caller frees it. */
static char *extra_json(const struct state_user *u)
{
	json_t *o;
	char *json;
	size_t k;

	if (u->n_extra == 0)
		return NULL;
	o = json_object();
	for (k = 0; k < u->n_extra; k++)
		json_object_set_new(o, u->extra[k].name,
				    json_string(u->extra[k].value));
	json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return json;
}

static int u_read(const struct sq_stmt *q, void *row, void *ctx,
		  struct err *err)
{
	struct state_user *u = row;

	(void)ctx;
	memset(u, 0, sizeof(*u));
	u->id = sq_col_i64(q, 0);
	u->batch_id = sq_col_i64(q, 1);
	u->email = sq_col_str(q, 2);
	u->username = sq_col_str(q, 3);
	if (sq_col_secret(q, 4, &u->password, err) < 0)
		return -1;
	u->user_root = sq_col_str(q, 5);
	u->target_username = sq_col_str(q, 6);
	if (sq_col_secret(q, 7, &u->target_password, err) < 0)
		return -1;
	extra_read(sq_col_text(q, 8), u);
	u->status = sq_col_str(q, 9);
	u->error = sq_col_str(q, 10);
	u->items_total = (uint64_t)sq_col_i64(q, 11);
	u->items_synced = (uint64_t)sq_col_i64(q, 12);
	u->items_skipped = (uint64_t)sq_col_i64(q, 13);
	u->bytes_synced = (uint64_t)sq_col_i64(q, 14);
	u->bad_items = (uint64_t)sq_col_i64(q, 15);
	u->queued_at = (time_t)sq_col_i64(q, 16);
	u->sync_started = (time_t)sq_col_i64(q, 17);
	u->sync_ended = (time_t)sq_col_i64(q, 18);
	u->last_synced = (time_t)sq_col_i64(q, 19);
	u->seconds_syncing = (uint64_t)sq_col_i64(q, 20);
	u->seconds_throttled = (uint64_t)sq_col_i64(q, 21);
	u->csv_line = (unsigned)sq_col_int(q, 22);
	return 0;
}

/* A user is in one batch at a time: -1 (ERR_USAGE naming the CSV row)
 * when u's email is in a batch already, or on an error; 0 otherwise. */
static int user_not_taken(struct sq_stmt *chk, const struct state_user *u,
			  const char *csv_name, struct err *err)
{
	int rc;

	sq_reset(chk);
	sq_bind_str(chk, 1, u->email);
	rc = sq_step(chk, "find the user's batch", err);
	if (rc > 0)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "%s:%u: %s is already in batch %s (a user is "
			       "in one batch at a time): remove it there "
			       "first, or drop the row",
			       csv_name ? csv_name : "input", u->csv_line,
			       u->email, sq_col_text(chk, 0));
	return rc;
}

/* Insert one user (ins: the INSERT of state_users_add).  0 or -1. */
static int user_insert(struct sq_stmt *ins, int64_t batch_id,
		       struct state_user *u, struct err *err)
{
	char *json = extra_json(u);
	int rc;

	sq_reset(ins);
	sq_bind_i64(ins, 1, batch_id);
	sq_bind_str(ins, 2, u->email);
	sq_bind_str(ins, 3, u->username);
	if (sq_bind_secret(ins, 4, u->password, err) < 0 ||
	    sq_bind_secret(ins, 7, u->target_password, err) < 0) {
		free(json);
		return -1;
	}
	sq_bind_str(ins, 5, u->user_root);
	sq_bind_str(ins, 6, u->target_username);
	sq_bind_str(ins, 8, json);
	sq_bind_str(ins, 9,
		    u->status ? u->status : user_status_name(USER_QUEUED));
	sq_bind_int(ins, 10, (int)u->csv_line);
	sq_bind_i64(ins, 11, (int64_t)time(NULL));
	rc = sq_step(ins, "add user", err);
	free(json);
	if (rc < 0)
		return -1;
	u->id = sq_last_id(ins);
	u->batch_id = batch_id;
	return 0;
}

int state_users_add(struct state *st, int64_t batch_id, struct state_user *v,
		    size_t n, const char *csv_name, struct err *err)
{
	struct sq_stmt chk, ins;
	size_t i;
	int rc;

	if (state_begin(st, err) < 0)
		return -1;
	memset(&ins, 0, sizeof(ins));
	rc = sq_prep(&chk, st,
		     "SELECT b.name FROM users u JOIN batches b ON"
		     " b.id=u.batch_id WHERE u.email=?",
		     err);
	if (rc == 0)
		rc = sq_prep(&ins, st,
			     "INSERT INTO users(batch_id, email, username,"
			     " password, user_root, target_username,"
			     " target_password, extra, status, csv_line,"
			     " queued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			     err);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = user_not_taken(&chk, &v[i], csv_name, err);
		if (rc == 0)
			rc = user_insert(&ins, batch_id, &v[i], err);
	}
	sq_finalize(&chk);
	sq_finalize(&ins);
	if (rc < 0) {
		state_rollback(st);
		return -1;
	}
	return state_commit(st, err);
}

static const struct sq_table users = {
	.by_name = "SELECT " U_COLS " FROM users WHERE email=?",
	.by_id = "SELECT " U_COLS " FROM users WHERE id=?",
	.noun = "user",
	.no_name = "no migration user",
	.read = u_read,
};

int state_user_get(struct state *st, const char *email, struct state_user *out,
		   struct err *err)
{
	return sq_get(st, &users, email, 0, out, err);
}

int state_user_get_id(struct state *st, int64_t id, struct state_user *out,
		      struct err *err)
{
	return sq_get(st, &users, NULL, id, out, err);
}

static void u_free(void *v, size_t n)
{
	state_users_free(v, n);
}

int state_user_list(struct state *st, int64_t batch_id, const char *status,
		    struct state_user **v_r, size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st,
		"SELECT " U_COLS " FROM users WHERE"
		" (?1 = 0 OR batch_id = ?1) AND"
		" (?2 IS NULL OR status = ?2) ORDER BY id",
		err);
	sq_bind_i64(&q, 1, batch_id);
	sq_bind_str(&q, 2, status);
	rc = sq_rows(&q, sizeof(**v_r), u_read, NULL, u_free, &v, n_r,
		     "list users", err);
	*v_r = v;
	return rc;
}

int state_user_set_status(struct state *st, int64_t id, const char *status,
			  const char *error, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st, "UPDATE users SET status=?, error=? WHERE id=?", err);
	sq_bind_str(&q, 1, status);
	sq_bind_str(&q, 2, error);
	sq_bind_i64(&q, 3, id);
	return sq_run(&q, "set user status", err);
}

int state_users_move(struct state *st, int64_t batch_id, enum user_event e,
		     struct err *err)
{
	struct state_user *u = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (state_user_list(st, batch_id, NULL, &u, &n, err) < 0)
		return -1;
	for (i = 0; ret == 0 && i < n; i++) {
		int from = user_status_parse(u[i].status);
		int to = user_status_next(from, e);
		if (to >= 0 && to != from)
			ret = state_user_set_status(
				st, u[i].id,
				user_status_name((enum user_status)to), NULL,
				err);
	}
	state_users_free(u, n);
	return ret;
}

int state_user_update(struct state *st, const struct state_user *u,
		      struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE users SET status=?, error=?,"
		" items_total=?, queued_at=?, sync_started=?,"
		" sync_ended=?, last_synced=?,"
		" seconds_syncing=?, seconds_throttled=?,"
		" batch_id=? WHERE id=?",
		err);
	sq_bind_str(&q, 1, u->status);
	sq_bind_str(&q, 2, u->error);
	sq_bind_i64(&q, 3, (int64_t)u->items_total);
	sq_bind_i64(&q, 4, (int64_t)u->queued_at);
	sq_bind_i64(&q, 5, (int64_t)u->sync_started);
	sq_bind_i64(&q, 6, (int64_t)u->sync_ended);
	sq_bind_i64(&q, 7, (int64_t)u->last_synced);
	sq_bind_i64(&q, 8, (int64_t)u->seconds_syncing);
	sq_bind_i64(&q, 9, (int64_t)u->seconds_throttled);
	sq_bind_i64(&q, 10, u->batch_id);
	sq_bind_i64(&q, 11, u->id);
	return sq_run(&q, "update user", err);
}

int state_user_remove(struct state *st, int64_t id, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st, "DELETE FROM users WHERE id=?", err);
	sq_bind_i64(&q, 1, id);
	return sq_run(&q, "remove user", err);
}

void state_user_release(struct state_user *u)
{
	size_t i;

	free(u->email);
	free(u->username);
	sq_wipe_free(&u->password);
	free(u->user_root);
	free(u->target_username);
	sq_wipe_free(&u->target_password);
	for (i = 0; i < u->n_extra; i++) {
		free(u->extra[i].name);
		free(u->extra[i].value);
	}
	free(u->extra);
	free(u->status);
	free(u->error);
	memset(u, 0, sizeof(*u));
}

void state_users_free(struct state_user *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		state_user_release(&v[i]);
	free(v);
}

/* ---- claims and leases ---- */

int state_user_claim(struct state *st, int64_t user_id, const char *owner,
		     unsigned lease_seconds, struct err *err)
{
	struct sq_stmt q;
	time_t now = time(NULL);

	sq_prep(&q, st,
		"UPDATE users SET claim_owner=?1,"
		" claim_until=?2 WHERE id=?3 AND"
		" (claim_owner IS NULL OR claim_owner=?1 OR"
		" claim_until < ?4)",
		err);
	sq_bind_str(&q, 1, owner);
	sq_bind_i64(&q, 2, (int64_t)(now + lease_seconds));
	sq_bind_i64(&q, 3, user_id);
	sq_bind_i64(&q, 4, (int64_t)now);
	if (sq_run(&q, "claim user", err) < 0)
		return -1;
	return sq_changes(&q) > 0 ? 1 : 0;
}

int state_user_drop_claim(struct state *st, int64_t user_id, struct err *err)
{
	struct sq_stmt q;

	sq_prep(&q, st,
		"UPDATE users SET claim_owner=NULL,"
		" claim_until=NULL WHERE id=?",
		err);
	sq_bind_i64(&q, 1, user_id);
	return sq_run(&q, "release user", err);
}

int state_user_status_get(struct state *st, int64_t user_id, char *buf,
			  size_t size, struct err *err)
{
	struct sq_stmt q;
	int rc;

	if (size > 0)
		buf[0] = '\0';
	sq_prep(&q, st, "SELECT status FROM users WHERE id=?", err);
	sq_bind_i64(&q, 1, user_id);
	rc = sq_step(&q, "read user status", err);
	if (rc > 0 && sq_col_text(&q, 0) != NULL)
		snprintf(buf, size, "%s", sq_col_text(&q, 0));
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}

static int status_read(const struct sq_stmt *q, void *row, void *ctx,
		       struct err *err)
{
	struct state_user_status *v = row;
	const char *t = sq_col_text(q, 2);

	(void)ctx;
	(void)err;
	v->id = sq_col_i64(q, 0);
	v->batch_id = sq_col_i64(q, 1);
	snprintf(v->status, sizeof(v->status), "%s", t ? t : "");
	return 0;
}

int state_user_statuses(struct state *st, struct state_user_status **v_r,
			size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st, "SELECT id, batch_id, status FROM users ORDER BY id",
		err);
	rc = sq_rows(&q, sizeof(**v_r), status_read, NULL, sq_free_plain, &v,
		     n_r, "read user statuses", err);
	*v_r = v;
	return rc;
}

/* What busy_read and orphan_read see of a user: columns (claim_owner,
 * claim_until, status) from 1. */
struct busy_ctx {
	int (*alive)(const char *owner);
	time_t now;
};

/* A worker holds the user: a live claim whose owner is alive. */
static int claim_live(const struct sq_stmt *q, const struct busy_ctx *b)
{
	const char *owner = sq_col_text(q, 1);

	return owner != NULL && (time_t)sq_col_i64(q, 2) >= b->now &&
	       b->alive(owner);
}

static int syncing(const struct sq_stmt *q)
{
	return user_status_class(user_status_parse(sq_col_text(q, 3))) ==
	       CLASS_SYNCING;
}

/* email, claim_owner, claim_until, status: the email of a busy user */
static int busy_read(const struct sq_stmt *q, void *row, void *ctx,
		     struct err *err)
{
	(void)err;
	if (!claim_live(q, ctx) && !syncing(q))
		return SQ_SKIP;
	*(char **)row = sq_col_str(q, 0);
	return 0;
}

static void strv_free(void *v, size_t n)
{
	char **s = v;

	while (n > 0)
		free(s[--n]);
	free(s);
}

int state_batch_busy_users(struct state *st, int64_t batch_id,
			   int (*alive)(const char *owner), char ***v_r,
			   size_t *n_r, struct err *err)
{
	struct busy_ctx b = {alive, time(NULL)};
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st,
		"SELECT email, claim_owner, claim_until, status"
		" FROM users WHERE batch_id=? ORDER BY id",
		err);
	sq_bind_i64(&q, 1, batch_id);
	rc = sq_rows(&q, sizeof(**v_r), busy_read, &b, strv_free, &v, n_r,
		     "list the batch's users", err);
	*v_r = v;
	return rc;
}

/* id, claim_owner, claim_until, status: the id of a user left Syncing by
 * a worker that is gone (a status this version does not know is busy) */
static int orphan_read(const struct sq_stmt *q, void *row, void *ctx,
		       struct err *err)
{
	(void)err;
	if (!syncing(q) || claim_live(q, ctx))
		return SQ_SKIP;
	*(int64_t *)row = sq_col_i64(q, 0);
	return 0;
}

int state_users_requeue_orphans(struct state *st,
				int (*alive)(const char *owner), unsigned *n_r,
				struct err *err)
{
	struct busy_ctx b = {alive, time(NULL)};
	struct sq_stmt q;
	void *v;
	int64_t *ids;
	size_t n = 0, i;

	*n_r = 0;
	sq_prep(&q, st,
		"SELECT id, claim_owner, claim_until, status FROM users", err);
	if (sq_rows(&q, sizeof(*ids), orphan_read, &b, sq_free_plain, &v, &n,
		    "list users", err) < 0)
		return -1;
	ids = v;
	for (i = 0; i < n; i++) {
		sq_prep(&q, st,
			"UPDATE users SET status='Queued', claim_owner=NULL,"
			" claim_until=NULL WHERE id=?",
			err);
		sq_bind_i64(&q, 1, ids[i]);
		if (sq_run(&q, "requeue user", err) < 0) {
			free(ids);
			return -1;
		}
	}
	free(ids);
	*n_r = (unsigned)n;
	return 0;
}
