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
/* A prepared statement, NULL (err set) on failure. */
sqlite3_stmt *sq_prep(struct state *st, const char *sql, struct err *err);
/* Run SQL text (several statements) without results.  0 or -1. */
int sq_exec(struct state *st, const char *sql, struct err *err);
/* Run a statement to completion; 0 ok, -1 error.  Finalizes it; s NULL
 * (a failed sq_prep) is -1 with err already set. */
int sq_run(struct state *st, sqlite3_stmt *s, const char *what,
	   struct err *err);

void sq_bind_i64(sqlite3_stmt *s, int i, sqlite3_int64 v);
void sq_bind_int(sqlite3_stmt *s, int i, int v);
void sq_bind_null(sqlite3_stmt *s, int i);
/* v NULL binds NULL; the text is copied. */
void sq_bind_str(sqlite3_stmt *s, int i, const char *v);
/* plain sealed with the state's key (NULL binds NULL).  0 or -1. */
int sq_bind_secret(struct state *st, sqlite3_stmt *s, int i,
		   const char *plain, struct err *err);
/* Column i as a new string (NULL for NULL). */
char *sq_col_str(sqlite3_stmt *s, int i);
/* Column i opened with the state's key into *out (NULL for NULL). */
int sq_col_secret(struct state *st, sqlite3_stmt *s, int i, char **out,
		  struct err *err);
/* Wipe and free a plaintext secret; *p becomes NULL. */
void sq_wipe_free(char **p);

#endif
