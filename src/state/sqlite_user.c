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

static int u_read(struct state *st, sqlite3_stmt *s, struct state_user *u,
		  struct err *err)
{
	const char *extra;

	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(s, 0);
	u->batch_id = sqlite3_column_int64(s, 1);
	u->email = sq_col_str(s, 2);
	u->username = sq_col_str(s, 3);
	if (sq_col_secret(st, s, 4, &u->password, err) < 0)
		return -1;
	u->user_root = sq_col_str(s, 5);
	u->target_username = sq_col_str(s, 6);
	if (sq_col_secret(st, s, 7, &u->target_password, err) < 0)
		return -1;
	extra = (const char *)sqlite3_column_text(s, 8);
	if (extra != NULL) {
		json_t *o = json_loads(extra, 0, NULL);
		const char *k;
		json_t *v;
		if (o != NULL) {
			u->extra = xcalloc(json_object_size(o) + 1,
					   sizeof(*u->extra));
			json_object_foreach(o, k, v)
			{
				u->extra[u->n_extra].name = xstrdup(k);
				u->extra[u->n_extra].value =
					xstrdup(json_string_value(v)
							? json_string_value(v)
							: "");
				u->n_extra++;
			}
			json_decref(o);
		}
	}
	u->status = sq_col_str(s, 9);
	u->error = sq_col_str(s, 10);
	u->items_total = (uint64_t)sqlite3_column_int64(s, 11);
	u->items_synced = (uint64_t)sqlite3_column_int64(s, 12);
	u->items_skipped = (uint64_t)sqlite3_column_int64(s, 13);
	u->bytes_synced = (uint64_t)sqlite3_column_int64(s, 14);
	u->bad_items = (uint64_t)sqlite3_column_int64(s, 15);
	u->queued_at = (time_t)sqlite3_column_int64(s, 16);
	u->sync_started = (time_t)sqlite3_column_int64(s, 17);
	u->sync_ended = (time_t)sqlite3_column_int64(s, 18);
	u->last_synced = (time_t)sqlite3_column_int64(s, 19);
	u->seconds_syncing = (uint64_t)sqlite3_column_int64(s, 20);
	u->seconds_throttled = (uint64_t)sqlite3_column_int64(s, 21);
	u->csv_line = (unsigned)sqlite3_column_int(s, 22);
	return 0;
}

int state_users_add(struct state *st, int64_t batch_id, struct state_user *v,
		    size_t n, const char *csv_name, struct err *err)
{
	sqlite3_stmt *chk, *ins;
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	chk = sq_prep(st,
		   "SELECT b.name FROM users u JOIN batches b ON"
		   " b.id=u.batch_id WHERE u.email=?",
		   err);
	ins = sq_prep(
		st,
		"INSERT INTO users(batch_id, email, username, password,"
		" user_root, target_username, target_password, extra,"
		" status, csv_line, queued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		err);
	if (chk == NULL || ins == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		struct state_user *u = &v[i];
		char *json = NULL;
		sqlite3_reset(chk);
		sq_bind_str(chk, 1, u->email);
		if (sqlite3_step(chk) == SQLITE_ROW) {
			err_set(err, ERR_USAGE, EC_NONE,
				"%s:%u: %s is already in batch %s (a user is "
				"in one batch at a time): remove it there "
				"first, or drop the row",
				csv_name ? csv_name : "input", u->csv_line,
				u->email, sqlite3_column_text(chk, 0));
			goto fail;
		}
		if (u->n_extra > 0) {
			json_t *o = json_object();
			size_t k;
			for (k = 0; k < u->n_extra; k++)
				json_object_set_new(
					o, u->extra[k].name,
					json_string(u->extra[k].value));
			json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(o);
		}
		sqlite3_reset(ins);
		sqlite3_clear_bindings(ins);
		sq_bind_i64(ins, 1, batch_id);
		sq_bind_str(ins, 2, u->email);
		sq_bind_str(ins, 3, u->username);
		if (sq_bind_secret(st, ins, 4, u->password, err) < 0 ||
		    sq_bind_secret(st, ins, 7, u->target_password, err) < 0) {
			free(json);
			goto fail;
		}
		sq_bind_str(ins, 5, u->user_root);
		sq_bind_str(ins, 6, u->target_username);
		sq_bind_str(ins, 8, json);
		sq_bind_str(ins, 9,
			 u->status ? u->status : user_status_name(USER_QUEUED));
		sq_bind_int(ins, 10, (int)u->csv_line);
		sq_bind_i64(ins, 11, (sqlite3_int64)time(NULL));
		free(json);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			sq_error(st, "add user", err);
			goto fail;
		}
		u->id = sqlite3_last_insert_rowid(st->db);
		u->batch_id = batch_id;
	}
	sqlite3_finalize(chk);
	sqlite3_finalize(ins);
	return state_commit(st, err);
fail:
	sqlite3_finalize(chk);
	sqlite3_finalize(ins);
	state_rollback(st);
	return -1;
}

static int u_get(struct state *st, const char *email, int64_t id,
		 struct state_user *out, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       email ? "SELECT " U_COLS " FROM users"
				       " WHERE email=?"
				     : "SELECT " U_COLS " FROM users"
				       " WHERE id=?",
			       err);
	int rc;

	if (s == NULL)
		return -1;
	if (email)
		sq_bind_str(s, 1, email);
	else
		sq_bind_i64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = u_read(st, s, out, err);
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sq_error(st, "get user", err);
	if (email)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "no migration user %s: see 'imapmig user get'",
			       email);
	return err_set(err, ERR_LOCAL, EC_NONE, "user %lld is gone",
		       (long long)id);
}

int state_user_get(struct state *st, const char *email, struct state_user *out,
		   struct err *err)
{
	return u_get(st, email, 0, out, err);
}

int state_user_get_id(struct state *st, int64_t id, struct state_user *out,
		      struct err *err)
{
	return u_get(st, NULL, id, out, err);
}

int state_user_list(struct state *st, int64_t batch_id, const char *status,
		    struct state_user **v_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT " U_COLS " FROM users WHERE"
			       " (?1 = 0 OR batch_id = ?1) AND"
			       " (?2 IS NULL OR status = ?2) ORDER BY id",
			       err);
	struct state_user *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, batch_id);
	sq_bind_str(s, 2, status);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		if (u_read(st, s, &v[n++], err) < 0) {
			sqlite3_finalize(s);
			state_users_free(v, n);
			return -1;
		}
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "list users", err);
}

int state_user_set_status(struct state *st, int64_t id, const char *status,
			  const char *error, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE users SET status=?, error=? WHERE"
			       " id=?",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, status);
	sq_bind_str(s, 2, error);
	sq_bind_i64(s, 3, id);
	return sq_run(st, s, "set user status", err);
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
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE users SET status=?, error=?,"
			       " items_total=?, queued_at=?, sync_started=?,"
			       " sync_ended=?, last_synced=?,"
			       " seconds_syncing=?, seconds_throttled=?,"
			       " batch_id=? WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, u->status);
	sq_bind_str(s, 2, u->error);
	sq_bind_i64(s, 3, (sqlite3_int64)u->items_total);
	sq_bind_i64(s, 4, (sqlite3_int64)u->queued_at);
	sq_bind_i64(s, 5, (sqlite3_int64)u->sync_started);
	sq_bind_i64(s, 6, (sqlite3_int64)u->sync_ended);
	sq_bind_i64(s, 7, (sqlite3_int64)u->last_synced);
	sq_bind_i64(s, 8, (sqlite3_int64)u->seconds_syncing);
	sq_bind_i64(s, 9, (sqlite3_int64)u->seconds_throttled);
	sq_bind_i64(s, 10, u->batch_id);
	sq_bind_i64(s, 11, u->id);
	return sq_run(st, s, "update user", err);
}

int state_user_remove(struct state *st, int64_t id, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st, "DELETE FROM users WHERE id=?", err);

	if (s != NULL)
		sq_bind_i64(s, 1, id);
	return sq_run(st, s, "remove user", err);
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

int state_user_claim(struct state *st, int64_t user_id, const char *owner,
		     unsigned lease_seconds, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE users SET claim_owner=?1,"
			       " claim_until=?2 WHERE id=?3 AND"
			       " (claim_owner IS NULL OR claim_owner=?1 OR"
			       " claim_until < ?4)",
			       err);
	time_t now = time(NULL);

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, owner);
	sq_bind_i64(s, 2, (sqlite3_int64)(now + lease_seconds));
	sq_bind_i64(s, 3, user_id);
	sq_bind_i64(s, 4, (sqlite3_int64)now);
	if (sq_run(st, s, "claim user", err) < 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int state_user_release_claim(struct state *st, int64_t user_id, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE users SET claim_owner=NULL,"
			       " claim_until=NULL WHERE id=?",
			       err);

	if (s != NULL)
		sq_bind_i64(s, 1, user_id);
	return sq_run(st, s, "release user", err);
}

int state_user_status_get(struct state *st, int64_t user_id, char *buf,
			  size_t size, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st, "SELECT status FROM users WHERE id=?", err);
	int rc;

	if (size > 0)
		buf[0] = '\0';
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(buf, size, "%s",
			 (const char *)sqlite3_column_text(s, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_error(st, "read user status", err);
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

int state_user_statuses(struct state *st, struct state_user_status **v_r,
			size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(
		st, "SELECT id, batch_id, status FROM users ORDER BY id", err);
	struct state_user_status *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 2);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].id = sqlite3_column_int64(s, 0);
		v[n].batch_id = sqlite3_column_int64(s, 1);
		snprintf(v[n].status, sizeof(v[n].status), "%s", t ? t : "");
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return sq_error(st, "read user statuses", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int state_batch_busy_users(struct state *st, int64_t batch_id,
			   int (*alive)(const char *owner), char ***v_r,
			   size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT email, claim_owner, claim_until, status"
			       " FROM users WHERE batch_id=? ORDER BY id",
			       err);
	time_t now = time(NULL);
	char **v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sq_bind_i64(s, 1, batch_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(s, 1);
		time_t until = (time_t)sqlite3_column_int64(s, 2);
		int us = user_status_parse(
			(const char *)sqlite3_column_text(s, 3));
		int busy = owner != NULL && until >= now && alive(owner);
		if (!busy && user_status_class(us) != CLASS_SYNCING)
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = sq_col_str(s, 0);
	}
	if (rc != SQLITE_DONE) {
		sq_error(st, "list the batch's users", err);
		sqlite3_finalize(s);
		while (n > 0)
			free(v[--n]);
		free(v);
		return -1;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return 0;
}
int state_users_requeue_orphans(struct state *st,
				int (*alive)(const char *owner), unsigned *n_r,
				struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT id, claim_owner, claim_until,"
			       " status FROM users",
			       err);
	int64_t *ids = NULL;
	size_t n = 0, i;
	time_t now = time(NULL);

	*n_r = 0;
	if (s == NULL)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(s, 1);
		time_t until = (time_t)sqlite3_column_int64(s, 2);
		int us = user_status_parse(
			(const char *)sqlite3_column_text(s, 3));
		/* busy (or a status this version does not know) */
		if (user_status_class(us) != CLASS_SYNCING)
			continue;
		if (owner != NULL && until >= now && alive(owner))
			continue;
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	for (i = 0; i < n; i++) {
		s = sq_prep(st,
			 "UPDATE users SET status='Queued', claim_owner=NULL,"
			 " claim_until=NULL WHERE id=?",
			 err);
		if (s != NULL)
			sq_bind_i64(s, 1, ids[i]);
		if (sq_run(st, s, "requeue user", err) < 0) {
			free(ids);
			return -1;
		}
	}
	free(ids);
	*n_r = (unsigned)n;
	return 0;
}
