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

static int ep_read(const struct sq_stmt *q, void *row, void *ctx,
		   struct err *err)
{
	struct state_endpoint *e = row;

	(void)ctx;
	memset(e, 0, sizeof(*e));
	e->id = sq_col_i64(q, 0);
	e->name = sq_col_str(q, 1);
	e->kind = (enum state_ep_kind)sq_col_int(q, 2);
	e->host = sq_col_str(q, 3);
	e->port = (unsigned)sq_col_int(q, 4);
	e->security = sq_col_str(q, 5);
	e->authentication = sq_col_str(q, 6);
	e->login_template = sq_col_str(q, 7);
	e->authzid_template = sq_col_str(q, 8);
	if (sq_col_secret(q, 9, &e->password, err) < 0)
		return -1;
	e->token_command = sq_col_str(q, 10);
	e->path_template = sq_col_str(q, 11);
	e->ca_file = sq_col_str(q, 12);
	e->accept_untrusted = sq_col_int(q, 13);
	e->max_migrations = (unsigned)sq_col_int(q, 14);
	e->max_incremental = (unsigned)sq_col_int(q, 15);
	e->created = (time_t)sq_col_i64(q, 16);
	e->oauth_token_url = sq_col_str(q, 17);
	e->oauth_client_id = sq_col_str(q, 18);
	if (sq_col_secret(q, 19, &e->oauth_client_secret, err) < 0 ||
	    sq_col_secret(q, 21, &e->oauth_service_account, err) < 0)
		return -1;
	e->oauth_scope = sq_col_str(q, 20);
	e->oauth_ca_file = sq_col_str(q, 22);
	return 0;
}

static int ep_bind(struct sq_stmt *q, const struct state_endpoint *e,
		   struct err *err)
{
	sq_bind_str(q, 1, e->name);
	sq_bind_int(q, 2, (int)e->kind);
	sq_bind_str(q, 3, e->host);
	sq_bind_int(q, 4, (int)e->port);
	sq_bind_str(q, 5, e->security);
	sq_bind_str(q, 6, e->authentication);
	sq_bind_str(q, 7, e->login_template);
	sq_bind_str(q, 8, e->authzid_template);
	if (sq_bind_secret(q, 9, e->password, err) < 0)
		return -1;
	sq_bind_str(q, 10, e->token_command);
	sq_bind_str(q, 11, e->path_template);
	sq_bind_str(q, 12, e->ca_file);
	sq_bind_int(q, 13, e->accept_untrusted);
	sq_bind_int(q, 14, (int)e->max_migrations);
	sq_bind_int(q, 15, (int)e->max_incremental);
	sq_bind_i64(q, 16, (int64_t)e->created);
	sq_bind_str(q, 17, e->oauth_token_url);
	sq_bind_str(q, 18, e->oauth_client_id);
	if (sq_bind_secret(q, 19, e->oauth_client_secret, err) < 0 ||
	    sq_bind_secret(q, 21, e->oauth_service_account, err) < 0)
		return -1;
	sq_bind_str(q, 20, e->oauth_scope);
	sq_bind_str(q, 22, e->oauth_ca_file);
	return 0;
}

int state_endpoint_add(struct state *st, struct state_endpoint *e,
		       struct err *err)
{
	struct sq_stmt q;

	if (sq_prep(&q, st,
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
		    err) < 0)
		return -1;
	if (e->created == 0)
		e->created = time(NULL);
	if (ep_bind(&q, e, err) < 0) {
		sq_finalize(&q);
		return -1;
	}
	if (sq_run(&q, "add endpoint", err) < 0) {
		if (sq_constraint(&q))
			return err_set(err, ERR_USAGE, EC_NONE,
				       "an endpoint named %s already exists: "
				       "choose another --name, or change it "
				       "with 'endpoint set'",
				       e->name);
		return -1;
	}
	e->id = sq_last_id(&q);
	return 0;
}

static const struct sq_table endpoints = {
	.by_name = "SELECT " EP_COLS " FROM endpoints WHERE name=?",
	.by_id = "SELECT " EP_COLS " FROM endpoints WHERE id=?",
	.noun = "endpoint",
	.no_name = "no endpoint named",
	.read = ep_read,
};

int state_endpoint_get(struct state *st, const char *name,
		       struct state_endpoint *out, struct err *err)
{
	return sq_get(st, &endpoints, name, 0, out, err);
}

int state_endpoint_get_id(struct state *st, int64_t id,
			  struct state_endpoint *out, struct err *err)
{
	return sq_get(st, &endpoints, NULL, id, out, err);
}

static void ep_free(void *v, size_t n)
{
	struct state_endpoint *e = v;
	size_t i;

	for (i = 0; i < n; i++)
		state_endpoint_release(&e[i]);
	free(e);
}

int state_endpoint_list(struct state *st, struct state_endpoint **v_r,
			size_t *n_r, struct err *err)
{
	struct sq_stmt q;
	void *v;
	int rc;

	sq_prep(&q, st, "SELECT " EP_COLS " FROM endpoints ORDER BY name", err);
	rc = sq_rows(&q, sizeof(**v_r), ep_read, NULL, ep_free, &v, n_r,
		     "list endpoints", err);
	*v_r = v;
	return rc;
}

int state_endpoint_update(struct state *st, const struct state_endpoint *e,
			  struct err *err)
{
	struct sq_stmt q;

	if (sq_prep(&q, st,
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
		    err) < 0)
		return -1;
	if (ep_bind(&q, e, err) < 0) {
		sq_finalize(&q);
		return -1;
	}
	sq_bind_i64(&q, 23, e->id);
	return sq_run(&q, "update endpoint", err);
}

/* The name of a batch that uses the endpoint, or NULL (also on an error:
 * *rc_r is then -1). */
static char *ep_used_by(struct state *st, int64_t id, int *rc_r,
			struct err *err)
{
	struct sq_stmt q;
	char *batch = NULL;

	sq_prep(&q, st,
		"SELECT name FROM batches WHERE source_id=? OR"
		" target_id=? LIMIT 1",
		err);
	sq_bind_i64(&q, 1, id);
	sq_bind_i64(&q, 2, id);
	*rc_r = sq_step(&q, "find the endpoint's batches", err);
	if (*rc_r > 0)
		batch = sq_col_str(&q, 0);
	sq_finalize(&q);
	return batch;
}

int state_endpoint_remove(struct state *st, const char *name, struct err *err)
{
	struct state_endpoint e;
	struct sq_stmt q;
	char *batch;
	int rc;

	if (state_endpoint_get(st, name, &e, err) < 0)
		return -1;
	batch = ep_used_by(st, e.id, &rc, err);
	if (rc < 0 || batch != NULL) {
		if (batch != NULL)
			err_set(err, ERR_USAGE, EC_NONE,
				"endpoint %s is used by batch %s: remove the "
				"batch first",
				name, batch);
		free(batch);
		state_endpoint_release(&e);
		return -1;
	}
	sq_prep(&q, st, "DELETE FROM endpoints WHERE id=?", err);
	sq_bind_i64(&q, 1, e.id);
	state_endpoint_release(&e);
	return sq_run(&q, "remove endpoint", err);
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
