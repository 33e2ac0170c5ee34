/* sqlite_db.c - the SQLite backend of state.h: the database itself.
 *
 * WAL mode so the scheduler, CLI commands and workers read while one
 * writes; synchronous=FULL because a committed item must survive a power
 * cut (the target already has it); busy_timeout for writer contention.
 * The schema is versioned by PRAGMA user_version; each step of `migrations`
 * runs once, in a transaction.  Also here: the statement helpers every
 * sqlite_*.c file uses (sqlite_priv.h). */
#include "state/sqlite_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/xalloc.h"

static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE endpoints("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" kind INTEGER NOT NULL, host TEXT, port INTEGER, security TEXT,"
	" authentication TEXT, login_template TEXT, authzid_template TEXT,"
	" password BLOB, token_command TEXT, path_template TEXT, ca_file TEXT,"
	" accept_untrusted INTEGER, max_migrations INTEGER,"
	" max_incremental INTEGER, created INTEGER);"
	"CREATE TABLE batches("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" source_id INTEGER NOT NULL REFERENCES endpoints(id),"
	" target_id INTEGER NOT NULL REFERENCES endpoints(id),"
	" status TEXT NOT NULL, exclude_folders TEXT, include_folders TEXT,"
	" allow_incremental INTEGER, bad_item_limit INTEGER,"
	" max_message_size INTEGER, max_items INTEGER, start_after INTEGER,"
	" notification_emails TEXT, cutover INTEGER, created INTEGER,"
	" started INTEGER, initial_done INTEGER, last_synced INTEGER,"
	" completed INTEGER);"
	"CREATE TABLE users("
	" id INTEGER PRIMARY KEY,"
	" batch_id INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,"
	" email TEXT NOT NULL UNIQUE COLLATE NOCASE, username TEXT,"
	" password BLOB, user_root TEXT, target_username TEXT,"
	" target_password BLOB, extra TEXT, status TEXT NOT NULL, error TEXT,"
	" items_total INTEGER DEFAULT 0, items_synced INTEGER DEFAULT 0,"
	" items_skipped INTEGER DEFAULT 0, bytes_synced INTEGER DEFAULT 0,"
	" bad_items INTEGER DEFAULT 0, queued_at INTEGER, sync_started INTEGER,"
	" sync_ended INTEGER, last_synced INTEGER,"
	" seconds_syncing INTEGER DEFAULT 0, seconds_throttled INTEGER DEFAULT "
	"0,"
	" csv_line INTEGER, claim_owner TEXT, claim_until INTEGER);"
	"CREATE INDEX users_batch ON users(batch_id, status);"
	"CREATE TABLE folders("
	" id INTEGER PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" src TEXT NOT NULL, dst TEXT, uidvalidity INTEGER DEFAULT 0,"
	" last_uid INTEGER DEFAULT 0, highestmodseq INTEGER DEFAULT 0,"
	" messages INTEGER DEFAULT 0, items_synced INTEGER DEFAULT 0,"
	" UNIQUE(user_id, src));"
	"CREATE TABLE items("
	" folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
	" uid INTEGER NOT NULL, size INTEGER, state INTEGER NOT NULL,"
	" target_ref TEXT, PRIMARY KEY(folder_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE skipped("
	" id INTEGER PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" folder TEXT, uid INTEGER, size INTEGER, subject TEXT, sender TEXT,"
	" date TEXT, reason TEXT, bad INTEGER);"
	"CREATE INDEX skipped_user ON skipped(user_id);",
	/* 2: the flags each copy was given, for incremental flag sync */
	"ALTER TABLE items ADD COLUMN flags INTEGER DEFAULT 0;"
	"ALTER TABLE items ADD COLUMN keywords TEXT;",
	/* 3: the last 'imapmig verify' of each user */
	"CREATE TABLE verify("
	" user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	" at INTEGER, deep INTEGER, compared INTEGER, missing INTEGER,"
	" altered INTEGER);",
	/* 4: --max-bytes-per-second */
	"ALTER TABLE batches ADD COLUMN max_bps INTEGER DEFAULT 0;",
	/* 5: OAuth2 endpoints (secrets encrypted like passwords) */
	"ALTER TABLE endpoints ADD COLUMN oauth_token_url TEXT;"
	"ALTER TABLE endpoints ADD COLUMN oauth_client_id TEXT;"
	"ALTER TABLE endpoints ADD COLUMN oauth_client_secret BLOB;"
	"ALTER TABLE endpoints ADD COLUMN oauth_scope TEXT;"
	"ALTER TABLE endpoints ADD COLUMN oauth_service_account BLOB;"
	"ALTER TABLE endpoints ADD COLUMN oauth_ca_file TEXT;",
	/* 6: notification emails waiting to be sent, and when each batch's
	 * reports went out */
	"CREATE TABLE notifications("
	" id INTEGER PRIMARY KEY,"
	" batch_id INTEGER REFERENCES batches(id) ON DELETE SET NULL,"
	" kind TEXT NOT NULL, recipients TEXT NOT NULL, subject TEXT,"
	" body TEXT NOT NULL, created INTEGER NOT NULL, attempts INTEGER "
	"DEFAULT 0,"
	" next_attempt INTEGER DEFAULT 0, sent INTEGER, last_error TEXT);"
	"CREATE INDEX notifications_unsent ON notifications(id)"
	" WHERE sent IS NULL;"
	"ALTER TABLE batches ADD COLUMN initial_report INTEGER;"
	"ALTER TABLE batches ADD COLUMN daily_report INTEGER;"
	"ALTER TABLE batches ADD COLUMN completed_report INTEGER;"
	/* what happened before this version is not reported afterwards */
	"UPDATE batches SET initial_report=initial_done,"
	" daily_report=initial_done, completed_report=completed;",
};

/* ---- small helpers ---- */

int sq_error(struct state *st, const char *what, struct err *err)
{
	int code = sqlite3_errcode(st->db);

	if (code == SQLITE_CONSTRAINT)
		return err_set(err, ERR_USAGE, EC_NONE, "%s: %s", what,
			       sqlite3_errmsg(st->db));
	return err_set(err, ERR_LOCAL, EC_IO, "state store %s: %s: %s%s",
		       st->path, what, sqlite3_errmsg(st->db),
		       code == SQLITE_FULL ? " (disk full: free space and "
					     "run again)"
					   : "");
}

int sq_exec(struct state *st, const char *sql, struct err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, ERR_LOCAL, EC_IO, "state store %s: %s", st->path,
			msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

void sq_wipe_free(char **p)
{
	if (*p != NULL) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* ---- one statement ---- */

int sq_prep(struct sq_stmt *q, struct state *st, const char *sql,
	    struct err *err)
{
	memset(q, 0, sizeof(*q));
	q->st = st;
	if (sqlite3_prepare_v2(st->db, sql, -1, &q->s, NULL) != SQLITE_OK) {
		sqlite3_finalize(q->s);
		q->s = NULL;
		return sq_error(st, "prepare", err);
	}
	return 0;
}

/* Keep the first bind that failed (SQLITE_RANGE: a parameter the
 * statement does not have, a bug; SQLITE_NOMEM; SQLITE_TOOBIG). */
static void bind_check(struct sq_stmt *q, int i, int rc)
{
	if (rc != SQLITE_OK && q->bind_rc == SQLITE_OK) {
		q->bind_rc = rc;
		q->bind_i = i;
	}
}

void sq_bind_i64(struct sq_stmt *q, int i, int64_t v)
{
	if (q->s != NULL)
		bind_check(q, i, sqlite3_bind_int64(q->s, i, v));
}

void sq_bind_int(struct sq_stmt *q, int i, int v)
{
	if (q->s != NULL)
		bind_check(q, i, sqlite3_bind_int(q->s, i, v));
}

void sq_bind_str(struct sq_stmt *q, int i, const char *v)
{
	if (q->s == NULL)
		return;
	if (v == NULL)
		bind_check(q, i, sqlite3_bind_null(q->s, i));
	else
		bind_check(q, i,
			   sqlite3_bind_text(q->s, i, v, -1, SQLITE_TRANSIENT));
}

int sq_bind_secret(struct sq_stmt *q, int i, const char *plain, struct err *err)
{
	struct buf b = BUF_INIT;

	if (plain == NULL || q->s == NULL) {
		sq_bind_str(q, i, NULL);
		return 0;
	}
	if (secret_seal(&q->st->key, plain, strlen(plain), &b, err) < 0)
		return -1;
	bind_check(
		q, i,
		sqlite3_bind_blob(q->s, i, b.p, (int)b.len, SQLITE_TRANSIENT));
	buf_release(&b);
	return 0;
}

int sq_step(struct sq_stmt *q, const char *what, struct err *err)
{
	int rc;

	if (q->s == NULL)
		return -1;
	if (q->bind_rc != SQLITE_OK)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "state store %s: %s: binding parameter %d of "
			       "\"%s\": %s",
			       q->st->path, what, q->bind_i, sqlite3_sql(q->s),
			       sqlite3_errstr(q->bind_rc));
	rc = q->step_rc = sqlite3_step(q->s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sq_error(q->st, what, err);
}

int sq_run(struct sq_stmt *q, const char *what, struct err *err)
{
	int rc;

	while ((rc = sq_step(q, what, err)) > 0)
		;
	sq_finalize(q);
	return rc;
}

void sq_reset(struct sq_stmt *q)
{
	if (q->s != NULL) {
		/* its result repeats the last step's, checked already */
		sqlite3_reset(q->s);
		sqlite3_clear_bindings(q->s);
	}
}

void sq_finalize(struct sq_stmt *q)
{
	sqlite3_finalize(q->s);
	q->s = NULL;
}

int sq_constraint(const struct sq_stmt *q)
{
	return (q->step_rc & 0xff) == SQLITE_CONSTRAINT;
}

int sq_changes(const struct sq_stmt *q)
{
	return sqlite3_changes(q->st->db);
}

int64_t sq_last_id(const struct sq_stmt *q)
{
	return sqlite3_last_insert_rowid(q->st->db);
}

int64_t sq_col_i64(const struct sq_stmt *q, int i)
{
	return sqlite3_column_int64(q->s, i);
}

int sq_col_int(const struct sq_stmt *q, int i)
{
	return sqlite3_column_int(q->s, i);
}

const char *sq_col_text(const struct sq_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q->s, i);
}

char *sq_col_str(const struct sq_stmt *q, int i)
{
	const char *t = sq_col_text(q, i);

	return t ? xstrdup(t) : NULL;
}

int sq_col_secret(const struct sq_stmt *q, int i, char **out, struct err *err)
{
	const void *blob = sqlite3_column_blob(q->s, i);
	int len = sqlite3_column_bytes(q->s, i);
	struct buf b = BUF_INIT;

	*out = NULL;
	if (blob == NULL)
		return 0;
	if (secret_open(&q->st->key, blob, (size_t)len, &b, err) < 0)
		return -1;
	*out = buf_detach(&b, NULL);
	return 0;
}

/* ---- rows into arrays, one row by name or id ---- */

void sq_free_plain(void *v, size_t n)
{
	(void)n;
	free(v);
}

int sq_rows(struct sq_stmt *q, size_t size, sq_read_fn *read, void *ctx,
	    sq_free_fn *free_v, void **v_r, size_t *n_r, const char *what,
	    struct err *err)
{
	char *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	while ((rc = sq_step(q, what, err)) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * size);
		}
		memset(v + n * size, 0, size);
		rc = read(q, v + n * size, ctx, err);
		if (rc < 0) {
			n++; /* freed with the others */
			break;
		}
		if (rc != SQ_SKIP)
			n++;
	}
	sq_finalize(q);
	if (rc < 0 || n == 0) {
		if (v != NULL)
			free_v(v, n);
		return rc < 0 ? -1 : 0;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int sq_get(struct state *st, const struct sq_table *t, const char *name,
	   int64_t id, void *out, struct err *err)
{
	char what[48];
	struct sq_stmt q;
	int rc;

	snprintf(what, sizeof(what), "get %s", t->noun);
	sq_prep(&q, st, name ? t->by_name : t->by_id, err);
	if (name)
		sq_bind_str(&q, 1, name);
	else
		sq_bind_i64(&q, 1, id);
	rc = sq_step(&q, what, err);
	if (rc > 0)
		rc = t->read(&q, out, NULL, err);
	else if (rc == 0 && name)
		rc = err_set(err, ERR_USAGE, EC_NONE,
			     "%s %s: see 'imapmig %s get'", t->no_name, name,
			     t->noun);
	else if (rc == 0)
		rc = err_set(err, ERR_LOCAL, EC_NONE, "%s %lld is gone",
			     t->noun, (long long)id);
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}

/* ---- open ---- */

const char *state_default_path(void)
{
	static char *path; /* built once, kept for the process */
	const char *env = getenv("IMAPMIG_STATE");
	const char *home = getenv("HOME");

	if (env != NULL && env[0])
		return env;
	if (path == NULL)
		path = xasprintf("%s/.local/share/imapmig/state.db",
				 home ? home : ".");
	return path;
}

/* mkdir -p with mode 0700 (whatever the umask). */
static int mkdir_0700(const char *dir)
{
	if (mkdir(dir, 0700) == 0)
		chmod(dir, 0700);
	else if (errno != EEXIST)
		return -1;
	return 0;
}

static int mkdirs(const char *dir)
{
	char *tmp = xstrdup(dir), *p;
	int rc = 0;

	for (p = tmp + 1; rc == 0 && *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = mkdir_0700(tmp);
		*p = '/';
	}
	if (rc == 0)
		rc = mkdir_0700(tmp);
	free(tmp);
	return rc;
}

/* The state directory: nobody but this user (or root) may replace the
 * files in it, so the state checked below is the one SQLite opens. */
static int check_dir(const char *dir, struct err *err)
{
	struct stat sb;

	if (stat(dir, &sb) < 0)
		return err_set(err, ERR_LOCAL, EC_IO, "cannot stat %s: %s", dir,
			       strerror(errno));
	if (sb.st_uid != geteuid() && sb.st_uid != 0)
		return err_set(err, ERR_USAGE, EC_IO,
			       "state directory %s is owned by uid %lu, not by "
			       "uid %lu who runs imapmig: chown %lu %s, or "
			       "choose another with --state",
			       dir, (unsigned long)sb.st_uid,
			       (unsigned long)geteuid(),
			       (unsigned long)geteuid(), dir);
	if ((sb.st_mode & 022) && !(sb.st_mode & S_ISVTX))
		return err_set(err, ERR_USAGE, EC_IO,
			       "state directory %s is writable by group or "
			       "others (mode %04o): chmod 700 %s",
			       dir, (unsigned)(sb.st_mode & 07777), dir);
	return 0;
}

/* Open (creating 0600 if absent) and check the state file; *id_r gets
 * its device and inode.  An O_PATH descriptor: closing it does not drop
 * the POSIX locks another thread's SQLite connection holds on the file
 * (closing an ordinary descriptor would, SQLite's documented pitfall). */
static int check_state_file(const char *path, struct stat *id_r,
			    struct err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		/* new: nobody holds a lock on it yet */
		fchmod(fd, 0600);
	} else if (errno == EEXIST) {
		fd = open(path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return err_set(err, ERR_LOCAL, EC_IO,
				       "cannot open state %s: %s: check "
				       "--state",
				       path, strerror(errno));
	} else {
		return err_set(err, ERR_LOCAL, EC_IO,
			       "cannot create state %s: %s: check --state",
			       path, strerror(errno));
	}
	if (secret_file_check(fd, path, "state", 0, err) < 0 ||
	    fstat(fd, id_r) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* PRAGMA user_version: the schema steps applied.  0 or -1. */
static int schema_version(struct state *st, int *version_r, struct err *err)
{
	struct sq_stmt q;
	int rc;

	*version_r = 0;
	sq_prep(&q, st, "PRAGMA user_version", err);
	rc = sq_step(&q, "read the schema version", err);
	if (rc > 0)
		*version_r = sq_col_int(&q, 0);
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}

/* Apply schema step i (0-based) in its own transaction, unless another
 * process applied it meanwhile.  0 or -1. */
static int migrate_step(struct state *st, int i, struct err *err)
{
	char pragma[64];
	int version;

	if (sq_exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (schema_version(st, &version, err) < 0) {
		state_rollback(st);
		return -1;
	}
	if (version > i)
		return sq_exec(st, "COMMIT", err);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", i + 1);
	if (sq_exec(st, migrations[i], err) < 0 ||
	    sq_exec(st, pragma, err) < 0) {
		state_rollback(st);
		return -1;
	}
	return sq_exec(st, "COMMIT", err);
}

static int migrate(struct state *st, struct err *err)
{
	int version, i, n = (int)(sizeof(migrations) / sizeof(migrations[0]));

	if (schema_version(st, &version, err) < 0)
		return -1;
	if (version > n)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "state store %s was written by a newer imapmig "
			       "(schema %d, this one knows %d): upgrade",
			       st->path, version, n);
	for (i = version; i < n; i++)
		if (migrate_step(st, i, err) < 0)
			return -1;
	return 0;
}

struct state *state_open(const char *path, struct err *err)
{
	struct state *st = xcalloc(1, sizeof(*st));
	char *dircopy = xstrdup(path), *dir;
	const char *keyenv = getenv("IMAPMIG_KEY_FILE");
	char *keypath = NULL;
	struct stat id;

	st->path = xstrdup(path);
	dir = dirname(dircopy);
	if (mkdirs(dir) < 0) {
		err_set(err, ERR_LOCAL, EC_IO, "cannot create %s: %s", dir,
			strerror(errno));
		goto fail;
	}
	if (check_dir(dir, err) < 0 || check_state_file(path, &id, err) < 0)
		goto fail;
	keypath = xasprintf("%s/key", dir);
	if (secret_key_load(keyenv && keyenv[0] ? keyenv : keypath, &st->key,
			    err) < 0)
		goto fail;
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		err_set(err, ERR_LOCAL, EC_IO, "cannot open state %s: %s", path,
			st->db ? sqlite3_errmsg(st->db) : "no memory");
		goto fail;
	}
	{
		/* the file SQLite opened is the one checked */
		struct stat now;
		if (stat(path, &now) < 0 || now.st_dev != id.st_dev ||
		    now.st_ino != id.st_ino) {
			err_set(err, ERR_USAGE, EC_IO,
				"state %s was replaced while it was being "
				"opened: check who else writes to %s",
				path, dir);
			goto fail;
		}
	}
	sqlite3_busy_timeout(st->db, 30000);
	if (sq_exec(st,
		    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		    " PRAGMA foreign_keys=ON;",
		    err) < 0 ||
	    migrate(st, err) < 0)
		goto fail;
	free(dircopy);
	free(keypath);
	return st;
fail:
	free(dircopy);
	free(keypath);
	state_close(&st);
	return NULL;
}

void state_close(struct state **stp)
{
	struct state *st = *stp;

	if (st == NULL)
		return;
	*stp = NULL;
	sqlite3_close_v2(st->db);
	OPENSSL_cleanse(&st->key, sizeof(st->key));
	free(st->path);
	free(st);
}

int state_begin(struct state *st, struct err *err)
{
	return sq_exec(st, "BEGIN IMMEDIATE", err);
}

int state_commit(struct state *st, struct err *err)
{
	return sq_exec(st, "COMMIT", err);
}

void state_rollback(struct state *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int state_data_version(struct state *st, int64_t *v_r, struct err *err)
{
	struct sq_stmt q;
	int rc;

	*v_r = 0;
	sq_prep(&q, st, "PRAGMA data_version", err);
	rc = sq_step(&q, "read data_version", err);
	if (rc > 0)
		*v_r = sq_col_i64(&q, 0);
	else if (rc == 0)
		rc = sq_error(st, "read data_version", err);
	sq_finalize(&q);
	return rc < 0 ? -1 : 0;
}
