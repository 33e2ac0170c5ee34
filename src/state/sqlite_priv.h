/* sqlite_priv.h - what the files of the SQLite backend of state.h share.
 *
 * The backend is several files around this header (as Dovecot's
 * lib-storage/index/maildir/): sqlite_db.c opens the database, brings its
 * schema up to date and holds the statement helpers below; each other file
 * implements one part of state.h (endpoints, batches, users with their
 * claims, reports, the journal, notifications).  Nothing outside
 * src/state/sqlite_*.c includes it. */
#ifndef STATE_SQLITE_PRIV_H
#define STATE_SQLITE_PRIV_H

#include <sqlite3.h>

#include "state/secret.h"
#include "state/state.h"

/* items.state: where a message of the journal stands */
enum { ITEM_INFLIGHT = 0, ITEM_DONE = 1, ITEM_SKIPPED = 2, ITEM_FAILED = 3 };

struct state {
	sqlite3 *db;
	char *path;
	struct secret_key key;
};

/* The last error of the handle as err: a constraint is ERR_USAGE, anything
 * else ERR_LOCAL naming the state file and what was being done.  -1. */
int sq_error(struct state *st, const char *what, struct err *err);
/* Run SQL text (several statements) without results.  0 or -1. */
int sq_exec(struct state *st, const char *sql, struct err *err);
/* Wipe and free a plaintext secret; *p becomes NULL. */
void sq_wipe_free(char **p);

/* ---- one statement: prepare, bind, step, read, finalize ----
 *
 * Every bind and step is checked, without a test after each bind: the
 * first bind that fails is kept in the statement, and sq_step()/sq_run()
 * then refuse to step it and return that failure as the caller's error.  A
 * failed sq_prep() leaves s NULL with err set; binds on it do nothing, and
 * sq_step()/sq_run() return -1 without touching err again.  So
 *
 *	struct sq_stmt q;
 *	sq_prep(&q, st, "DELETE FROM users WHERE id=?", err);
 *	sq_bind_i64(&q, 1, id);
 *	return sq_run(&q, "remove user", err);
 *
 * is complete error handling. */
struct sq_stmt {
	struct state *st;
	sqlite3_stmt *s; /* NULL: the prepare failed */
	int bind_rc;	 /* SQLITE_OK, or the first failed bind's code */
	int bind_i;	 /* ... and its parameter */
	int step_rc;	 /* the last step's result (SQLITE_CONSTRAINT...) */
};

/* 0, or -1 with err set (q->s NULL). */
int sq_prep(struct sq_stmt *q, struct state *st, const char *sql,
	    struct err *err);
void sq_bind_i64(struct sq_stmt *q, int i, int64_t v);
void sq_bind_int(struct sq_stmt *q, int i, int v);
/* v NULL binds NULL; the text is copied. */
void sq_bind_str(struct sq_stmt *q, int i, const char *v);
/* plain sealed with the state's key (NULL binds NULL).  0, or -1 with err
 * set when sealing failed. */
int sq_bind_secret(struct sq_stmt *q, int i, const char *plain,
		   struct err *err);
/* One step: 1 a row, 0 done, -1 error (a failed prepare, bind or step; err
 * says what was being done).  Does not finalize. */
int sq_step(struct sq_stmt *q, const char *what, struct err *err);
/* Step to the end of the statement, then finalize it: 0 or -1. */
int sq_run(struct sq_stmt *q, const char *what, struct err *err);
/* Ready to be bound and stepped again (a statement run once per row). */
void sq_reset(struct sq_stmt *q);
/* Safe on a failed prepare, and twice. */
void sq_finalize(struct sq_stmt *q);
/* The last step failed on a constraint (UNIQUE: a name taken). */
int sq_constraint(const struct sq_stmt *q);
/* Rows changed by the last statement of the handle, and its new rowid. */
int sq_changes(const struct sq_stmt *q);
int64_t sq_last_id(const struct sq_stmt *q);

/* Columns of the current row; a NULL reads as 0 or NULL. */
int64_t sq_col_i64(const struct sq_stmt *q, int i);
int sq_col_int(const struct sq_stmt *q, int i);
const char *sq_col_text(const struct sq_stmt *q, int i); /* borrowed */
char *sq_col_str(const struct sq_stmt *q, int i);	 /* a copy */
/* Opened with the state's key into *out (NULL for NULL).  0 or -1. */
int sq_col_secret(const struct sq_stmt *q, int i, char **out, struct err *err);

/* ---- reading rows into arrays, and one row by name or by id ---- */

/* Fills row (zeroed first) from q's current row: 0 kept, SQ_SKIP not
 * wanted (nothing in row to free), -1 error (err set; row is freed by the
 * caller's free function). */
enum { SQ_SKIP = 1 };
typedef int sq_read_fn(const struct sq_stmt *q, void *row, void *ctx,
		       struct err *err);
/* Frees n rows and the array. */
typedef void sq_free_fn(void *v, size_t n);

/* For the rows of a plain array: nothing in them to free. */
void sq_free_plain(void *v, size_t n);

/* Every row of q, read into a new array of `size`-byte elements (NULL
 * when there are none); finalizes q.  On an error nothing is returned
 * (the rows read so far are freed with free_v). */
int sq_rows(struct sq_stmt *q, size_t size, sq_read_fn *read, void *ctx,
	    sq_free_fn *free_v, void **v_r, size_t *n_r, const char *what,
	    struct err *err);

/* A table whose rows are got by name (a person's word) or by id. */
struct sq_table {
	/* SELECT ... WHERE name=? (or email=?), and WHERE id=? */
	const char *by_name, *by_id;
	/* "endpoint": in "get endpoint", "endpoint 3 is gone" and
	 * "see 'imapmig endpoint get'" */
	const char *noun;
	const char *no_name; /* "no endpoint named" */
	sq_read_fn *read;
};
/* The row named name (not NULL) or numbered id into out: 0, or -1 with
 * ERR_USAGE "no endpoint named X: see 'imapmig endpoint get'" for a name
 * nobody has, ERR_LOCAL "endpoint N is gone" for an id. */
int sq_get(struct state *st, const struct sq_table *t, const char *name,
	   int64_t id, void *out, struct err *err);

#endif
