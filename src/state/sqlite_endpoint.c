/* sqlite_endpoint.c - endpoints (state.h), in SQLite. */
#include "state/sqlite_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

const char *state_ep_kind_name(enum state_ep_kind k)
{
	switch (k) {
	case STATE_EP_SOURCE_IMAP: return "imap-source";
	case STATE_EP_TARGET_IMAP: return "imap";
	case STATE_EP_TARGET_MAILDIR: return "maildir";
	}
	return "?";
}

#define EP_COLS                                                                \
	"id, name, kind, host, port, security, authentication,"                \
	" login_template, authzid_template, password, token_command,"          \
	" path_template, ca_file, accept_untrusted, max_migrations,"           \
	" max_incremental, created, oauth_token_url, oauth_client_id,"         \
	" oauth_client_secret, oauth_scope, oauth_service_account,"            \
	" oauth_ca_file"

static int ep_read(struct state *st, sqlite3_stmt *s, struct state_endpoint *e,
		   struct err *err)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(s, 0);
	e->name = sq_col_str(s, 1);
	e->kind = (enum state_ep_kind)sqlite3_column_int(s, 2);
	e->host = sq_col_str(s, 3);
	e->port = (unsigned)sqlite3_column_int(s, 4);
	e->security = sq_col_str(s, 5);
	e->authentication = sq_col_str(s, 6);
	e->login_template = sq_col_str(s, 7);
	e->authzid_template = sq_col_str(s, 8);
	if (sq_col_secret(st, s, 9, &e->password, err) < 0)
		return -1;
	e->token_command = sq_col_str(s, 10);
	e->path_template = sq_col_str(s, 11);
	e->ca_file = sq_col_str(s, 12);
	e->accept_untrusted = sqlite3_column_int(s, 13);
	e->max_migrations = (unsigned)sqlite3_column_int(s, 14);
	e->max_incremental = (unsigned)sqlite3_column_int(s, 15);
	e->created = (time_t)sqlite3_column_int64(s, 16);
	e->oauth_token_url = sq_col_str(s, 17);
	e->oauth_client_id = sq_col_str(s, 18);
	if (sq_col_secret(st, s, 19, &e->oauth_client_secret, err) < 0 ||
	    sq_col_secret(st, s, 21, &e->oauth_service_account, err) < 0)
		return -1;
	e->oauth_scope = sq_col_str(s, 20);
	e->oauth_ca_file = sq_col_str(s, 22);
	return 0;
}

static int ep_bind(struct state *st, sqlite3_stmt *s,
		   const struct state_endpoint *e, struct err *err)
{
	sq_bind_str(s, 1, e->name);
	sq_bind_int(s, 2, (int)e->kind);
	sq_bind_str(s, 3, e->host);
	sq_bind_int(s, 4, (int)e->port);
	sq_bind_str(s, 5, e->security);
	sq_bind_str(s, 6, e->authentication);
	sq_bind_str(s, 7, e->login_template);
	sq_bind_str(s, 8, e->authzid_template);
	if (sq_bind_secret(st, s, 9, e->password, err) < 0)
		return -1;
	sq_bind_str(s, 10, e->token_command);
	sq_bind_str(s, 11, e->path_template);
	sq_bind_str(s, 12, e->ca_file);
	sq_bind_int(s, 13, e->accept_untrusted);
	sq_bind_int(s, 14, (int)e->max_migrations);
	sq_bind_int(s, 15, (int)e->max_incremental);
	sq_bind_i64(s, 16, (sqlite3_int64)e->created);
	sq_bind_str(s, 17, e->oauth_token_url);
	sq_bind_str(s, 18, e->oauth_client_id);
	if (sq_bind_secret(st, s, 19, e->oauth_client_secret, err) < 0 ||
	    sq_bind_secret(st, s, 21, e->oauth_service_account, err) < 0)
		return -1;
	sq_bind_str(s, 20, e->oauth_scope);
	sq_bind_str(s, 22, e->oauth_ca_file);
	return 0;
}

int state_endpoint_add(struct state *st, struct state_endpoint *e,
		       struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "INSERT INTO endpoints(name, kind, host,"
			       " port, security, authentication,"
			       " login_template, authzid_template, password,"
			       " token_command, path_template, ca_file,"
			       " accept_untrusted, max_migrations,"
			       " max_incremental, created, oauth_token_url,"
			       " oauth_client_id, oauth_client_secret,"
			       " oauth_scope, oauth_service_account,"
			       " oauth_ca_file) VALUES (?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       err);

	if (s == NULL)
		return -1;
	if (e->created == 0)
		e->created = time(NULL);
	if (ep_bind(st, s, e, err) < 0) {
		sqlite3_finalize(s);
		return -1;
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		int c = sqlite3_errcode(st->db);
		sqlite3_finalize(s);
		if (c == SQLITE_CONSTRAINT)
			return err_set(err, ERR_USAGE, EC_NONE,
				       "an endpoint named %s already exists: "
				       "choose another --name, or change it "
				       "with 'endpoint set'",
				       e->name);
		return sq_error(st, "add endpoint", err);
	}
	e->id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return 0;
}

static int ep_get(struct state *st, const char *where, const char *name,
		  int64_t id, struct state_endpoint *out, struct err *err)
{
	char sql[512];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT " EP_COLS " FROM endpoints WHERE %s",
		 where);
	s = sq_prep(st, sql, err);
	if (s == NULL)
		return -1;
	if (name != NULL)
		sq_bind_str(s, 1, name);
	else
		sq_bind_i64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = ep_read(st, s, out, err);
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sq_error(st, "get endpoint", err);
	if (name != NULL)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "no endpoint named %s: see 'imapmig endpoint "
			       "get'",
			       name);
	return err_set(err, ERR_LOCAL, EC_NONE, "endpoint %lld is gone",
		       (long long)id);
}

int state_endpoint_get(struct state *st, const char *name,
		       struct state_endpoint *out, struct err *err)
{
	return ep_get(st, "name = ?", name, 0, out, err);
}

int state_endpoint_get_id(struct state *st, int64_t id,
			  struct state_endpoint *out, struct err *err)
{
	return ep_get(st, "id = ?", NULL, id, out, err);
}

int state_endpoint_list(struct state *st, struct state_endpoint **v_r,
			size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "SELECT " EP_COLS " FROM endpoints ORDER BY"
			       " name",
			       err);
	struct state_endpoint *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		if (ep_read(st, s, &v[n++], err) < 0) {
			sqlite3_finalize(s);
			while (n > 0)
				state_endpoint_release(&v[--n]);
			free(v);
			return -1;
		}
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : sq_error(st, "list endpoints", err);
}

int state_endpoint_update(struct state *st, const struct state_endpoint *e,
			  struct err *err)
{
	sqlite3_stmt *s = sq_prep(st,
			       "UPDATE endpoints SET name=?, kind=?,"
			       " host=?, port=?, security=?, authentication=?,"
			       " login_template=?, authzid_template=?,"
			       " password=?, token_command=?, path_template=?,"
			       " ca_file=?, accept_untrusted=?,"
			       " max_migrations=?, max_incremental=?,"
			       " created=?, oauth_token_url=?,"
			       " oauth_client_id=?, oauth_client_secret=?,"
			       " oauth_scope=?, oauth_service_account=?,"
			       " oauth_ca_file=? WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	if (ep_bind(st, s, e, err) < 0) {
		sqlite3_finalize(s);
		return -1;
	}
	sq_bind_i64(s, 23, e->id);
	return sq_run(st, s, "update endpoint", err);
}

int state_endpoint_remove(struct state *st, const char *name, struct err *err)
{
	struct state_endpoint e;
	sqlite3_stmt *s;
	char *batch = NULL;

	if (state_endpoint_get(st, name, &e, err) < 0)
		return -1;
	s = sq_prep(st,
		 "SELECT name FROM batches WHERE source_id=? OR"
		 " target_id=? LIMIT 1",
		 err);
	if (s == NULL) {
		state_endpoint_release(&e);
		return -1;
	}
	sq_bind_i64(s, 1, e.id);
	sq_bind_i64(s, 2, e.id);
	if (sqlite3_step(s) == SQLITE_ROW)
		batch = sq_col_str(s, 0);
	sqlite3_finalize(s);
	if (batch != NULL) {
		err_set(err, ERR_USAGE, EC_NONE,
			"endpoint %s is used by batch %s: remove the batch "
			"first",
			name, batch);
		free(batch);
		state_endpoint_release(&e);
		return -1;
	}
	s = sq_prep(st, "DELETE FROM endpoints WHERE id=?", err);
	if (s != NULL)
		sq_bind_i64(s, 1, e.id);
	state_endpoint_release(&e);
	return sq_run(st, s, "remove endpoint", err);
}

void state_endpoint_release(struct state_endpoint *e)
{
	free(e->name);
	free(e->host);
	free(e->security);
	free(e->authentication);
	free(e->login_template);
	free(e->authzid_template);
	sq_wipe_free(&e->password);
	free(e->token_command);
	free(e->oauth_token_url);
	free(e->oauth_client_id);
	sq_wipe_free(&e->oauth_client_secret);
	free(e->oauth_scope);
	sq_wipe_free(&e->oauth_service_account);
	free(e->oauth_ca_file);
	free(e->path_template);
	free(e->ca_file);
	memset(e, 0, sizeof(*e));
}
