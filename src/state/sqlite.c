/* sqlite.c - the SQLite backend of state.h.
 *
 * WAL mode so the scheduler, CLI commands and workers read while one
 * writes; synchronous=FULL because a committed item must survive a power
 * cut (the target already has it); busy_timeout for writer contention.
 * The schema is versioned by PRAGMA user_version; each step of `migrations`
 * runs once, in a transaction. */
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "state/secret.h"
#include "util/xalloc.h"

enum { ITEM_INFLIGHT = 0, ITEM_DONE = 1, ITEM_SKIPPED = 2, ITEM_FAILED = 3 };

struct state {
	sqlite3 *db;
	char *path;
	struct secret_key key;
};

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

static int db_error(struct state *st, const char *what, struct err *err)
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

static sqlite3_stmt *prep(struct state *st, const char *sql, struct err *err)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_error(st, "prepare", err);
		return NULL;
	}
	return s;
}

static int exec_sql(struct state *st, const char *sql, struct err *err)
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

/* Run a statement to completion; 0 ok, -1 error.  Finalizes it. */
static int run(struct state *st, sqlite3_stmt *s, const char *what,
	       struct err *err)
{
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_error(st, what, err);
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

/* Every bind is checked: a failure (SQLITE_RANGE: a parameter the
 * statement does not have, SQLITE_NOMEM) is a bug or out of memory, and a
 * bug here would silently store wrong state, so it stops the program. */
static void bind_check(sqlite3_stmt *s, int i, int rc)
{
	if (rc != SQLITE_OK) {
		fprintf(stderr,
			"imapmig: internal error: binding parameter %d of "
			"\"%s\": %s\n",
			i, sqlite3_sql(s), sqlite3_errstr(rc));
		abort();
	}
}

static void b_i64(sqlite3_stmt *s, int i, sqlite3_int64 v)
{
	bind_check(s, i, sqlite3_bind_int64(s, i, v));
}

static void b_int(sqlite3_stmt *s, int i, int v)
{
	bind_check(s, i, sqlite3_bind_int(s, i, v));
}

static void b_null(sqlite3_stmt *s, int i)
{
	bind_check(s, i, sqlite3_bind_null(s, i));
}

static void b_text(sqlite3_stmt *s, int i, const char *v, int n,
		   void (*d)(void *))
{
	bind_check(s, i, sqlite3_bind_text(s, i, v, n, d));
}

static void b_blob(sqlite3_stmt *s, int i, const void *v, int n,
		   void (*d)(void *))
{
	bind_check(s, i, sqlite3_bind_blob(s, i, v, n, d));
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		b_null(s, i);
	else
		b_text(s, i, v, -1, SQLITE_TRANSIENT);
}

static char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static int bind_secret(struct state *st, sqlite3_stmt *s, int i,
		       const char *plain, struct err *err)
{
	struct buf b = BUF_INIT;

	if (plain == NULL) {
		b_null(s, i);
		return 0;
	}
	if (secret_seal(&st->key, plain, strlen(plain), &b, err) < 0)
		return -1;
	b_blob(s, i, b.p, (int)b.len, SQLITE_TRANSIENT);
	buf_release(&b);
	return 0;
}

static int col_secret(struct state *st, sqlite3_stmt *s, int i, char **out,
		      struct err *err)
{
	const void *blob = sqlite3_column_blob(s, i);
	int len = sqlite3_column_bytes(s, i);
	struct buf b = BUF_INIT;

	*out = NULL;
	if (blob == NULL)
		return 0;
	if (secret_open(&st->key, blob, (size_t)len, &b, err) < 0)
		return -1;
	*out = buf_detach(&b, NULL);
	return 0;
}

static void wipe_free(char **p)
{
	if (*p != NULL) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* ---- open ---- */

const char *state_default_path(void)
{
	static char path[1024];
	const char *env = getenv("IMAPMIG_STATE");
	const char *home = getenv("HOME");

	if (env != NULL && env[0])
		return env;
	snprintf(path, sizeof(path), "%s/.local/share/imapmig/state.db",
		 home ? home : ".");
	return path;
}

static int mkdirs(const char *dir)
{
	char tmp[1024];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) == 0)
			chmod(tmp, 0700); /* whatever the umask */
		else if (errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) == 0)
		chmod(tmp, 0700);
	else if (errno != EEXIST)
		return -1;
	return 0;
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

static int migrate(struct state *st, struct err *err)
{
	sqlite3_stmt *s = prep(st, "PRAGMA user_version", err);
	int version, i, n = (int)(sizeof(migrations) / sizeof(migrations[0]));

	if (s == NULL)
		return -1;
	sqlite3_step(s);
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version > n)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "state store %s was written by a newer imapmig "
			       "(schema %d, this one knows %d): upgrade",
			       st->path, version, n);
	for (i = version; i < n; i++) {
		char pragma[64];
		if (exec_sql(st, "BEGIN IMMEDIATE", err) < 0)
			return -1;
		/* another process may have migrated meanwhile */
		s = prep(st, "PRAGMA user_version", err);
		if (s == NULL)
			return -1;
		sqlite3_step(s);
		version = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		if (version > i) {
			exec_sql(st, "COMMIT", err);
			continue;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
			 i + 1);
		if (exec_sql(st, migrations[i], err) < 0 ||
		    exec_sql(st, pragma, err) < 0) {
			state_rollback(st);
			return -1;
		}
		if (exec_sql(st, "COMMIT", err) < 0)
			return -1;
	}
	return 0;
}

struct state *state_open(const char *path, struct err *err)
{
	struct state *st = xcalloc(1, sizeof(*st));
	char *dircopy = xstrdup(path), *dir;
	const char *keyenv = getenv("IMAPMIG_KEY_FILE");
	char keypath[1100];
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
	snprintf(keypath, sizeof(keypath), "%s/key", dir);
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
	if (exec_sql(st,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     " PRAGMA foreign_keys=ON;",
		     err) < 0 ||
	    migrate(st, err) < 0)
		goto fail;
	free(dircopy);
	return st;
fail:
	free(dircopy);
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
	return exec_sql(st, "BEGIN IMMEDIATE", err);
}

int state_commit(struct state *st, struct err *err)
{
	return exec_sql(st, "COMMIT", err);
}

void state_rollback(struct state *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- endpoints ---- */

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
	e->name = col_str(s, 1);
	e->kind = (enum state_ep_kind)sqlite3_column_int(s, 2);
	e->host = col_str(s, 3);
	e->port = (unsigned)sqlite3_column_int(s, 4);
	e->security = col_str(s, 5);
	e->authentication = col_str(s, 6);
	e->login_template = col_str(s, 7);
	e->authzid_template = col_str(s, 8);
	if (col_secret(st, s, 9, &e->password, err) < 0)
		return -1;
	e->token_command = col_str(s, 10);
	e->path_template = col_str(s, 11);
	e->ca_file = col_str(s, 12);
	e->accept_untrusted = sqlite3_column_int(s, 13);
	e->max_migrations = (unsigned)sqlite3_column_int(s, 14);
	e->max_incremental = (unsigned)sqlite3_column_int(s, 15);
	e->created = (time_t)sqlite3_column_int64(s, 16);
	e->oauth_token_url = col_str(s, 17);
	e->oauth_client_id = col_str(s, 18);
	if (col_secret(st, s, 19, &e->oauth_client_secret, err) < 0 ||
	    col_secret(st, s, 21, &e->oauth_service_account, err) < 0)
		return -1;
	e->oauth_scope = col_str(s, 20);
	e->oauth_ca_file = col_str(s, 22);
	return 0;
}

static int ep_bind(struct state *st, sqlite3_stmt *s,
		   const struct state_endpoint *e, struct err *err)
{
	bind_str(s, 1, e->name);
	b_int(s, 2, (int)e->kind);
	bind_str(s, 3, e->host);
	b_int(s, 4, (int)e->port);
	bind_str(s, 5, e->security);
	bind_str(s, 6, e->authentication);
	bind_str(s, 7, e->login_template);
	bind_str(s, 8, e->authzid_template);
	if (bind_secret(st, s, 9, e->password, err) < 0)
		return -1;
	bind_str(s, 10, e->token_command);
	bind_str(s, 11, e->path_template);
	bind_str(s, 12, e->ca_file);
	b_int(s, 13, e->accept_untrusted);
	b_int(s, 14, (int)e->max_migrations);
	b_int(s, 15, (int)e->max_incremental);
	b_i64(s, 16, (sqlite3_int64)e->created);
	bind_str(s, 17, e->oauth_token_url);
	bind_str(s, 18, e->oauth_client_id);
	if (bind_secret(st, s, 19, e->oauth_client_secret, err) < 0 ||
	    bind_secret(st, s, 21, e->oauth_service_account, err) < 0)
		return -1;
	bind_str(s, 20, e->oauth_scope);
	bind_str(s, 22, e->oauth_ca_file);
	return 0;
}

int state_endpoint_add(struct state *st, struct state_endpoint *e,
		       struct err *err)
{
	sqlite3_stmt *s = prep(st,
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
		return db_error(st, "add endpoint", err);
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
	s = prep(st, sql, err);
	if (s == NULL)
		return -1;
	if (name != NULL)
		bind_str(s, 1, name);
	else
		b_i64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = ep_read(st, s, out, err);
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_error(st, "get endpoint", err);
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
	sqlite3_stmt *s = prep(st,
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
	return rc == SQLITE_DONE ? 0 : db_error(st, "list endpoints", err);
}

int state_endpoint_update(struct state *st, const struct state_endpoint *e,
			  struct err *err)
{
	sqlite3_stmt *s = prep(st,
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
	b_i64(s, 23, e->id);
	return run(st, s, "update endpoint", err);
}

int state_endpoint_remove(struct state *st, const char *name, struct err *err)
{
	struct state_endpoint e;
	sqlite3_stmt *s;
	char *batch = NULL;

	if (state_endpoint_get(st, name, &e, err) < 0)
		return -1;
	s = prep(st,
		 "SELECT name FROM batches WHERE source_id=? OR"
		 " target_id=? LIMIT 1",
		 err);
	if (s == NULL) {
		state_endpoint_release(&e);
		return -1;
	}
	b_i64(s, 1, e.id);
	b_i64(s, 2, e.id);
	if (sqlite3_step(s) == SQLITE_ROW)
		batch = col_str(s, 0);
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
	s = prep(st, "DELETE FROM endpoints WHERE id=?", err);
	if (s != NULL)
		b_i64(s, 1, e.id);
	state_endpoint_release(&e);
	return run(st, s, "remove endpoint", err);
}

void state_endpoint_release(struct state_endpoint *e)
{
	free(e->name);
	free(e->host);
	free(e->security);
	free(e->authentication);
	free(e->login_template);
	free(e->authzid_template);
	wipe_free(&e->password);
	free(e->token_command);
	free(e->oauth_token_url);
	free(e->oauth_client_id);
	wipe_free(&e->oauth_client_secret);
	free(e->oauth_scope);
	wipe_free(&e->oauth_service_account);
	free(e->oauth_ca_file);
	free(e->path_template);
	free(e->ca_file);
	memset(e, 0, sizeof(*e));
}

/* ---- batches ---- */

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
	b->name = col_str(s, 1);
	b->source_id = sqlite3_column_int64(s, 2);
	b->target_id = sqlite3_column_int64(s, 3);
	b->status = col_str(s, 4);
	b->exclude_folders = col_str(s, 5);
	b->include_folders = col_str(s, 6);
	b->allow_incremental = sqlite3_column_int(s, 7);
	b->bad_item_limit = (uint64_t)sqlite3_column_int64(s, 8);
	b->max_message_size = (uint64_t)sqlite3_column_int64(s, 9);
	b->max_items = (uint64_t)sqlite3_column_int64(s, 10);
	b->start_after = (time_t)sqlite3_column_int64(s, 11);
	b->notification_emails = col_str(s, 12);
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
	bind_str(s, 1, b->name);
	b_i64(s, 2, b->source_id);
	b_i64(s, 3, b->target_id);
	bind_str(s, 4, b->status);
	bind_str(s, 5, b->exclude_folders);
	bind_str(s, 6, b->include_folders);
	b_int(s, 7, b->allow_incremental);
	b_i64(s, 8, (sqlite3_int64)b->bad_item_limit);
	b_i64(s, 9, (sqlite3_int64)b->max_message_size);
	b_i64(s, 10, (sqlite3_int64)b->max_items);
	b_i64(s, 11, (sqlite3_int64)b->start_after);
	bind_str(s, 12, b->notification_emails);
	b_i64(s, 13, (sqlite3_int64)b->cutover);
	b_i64(s, 14, (sqlite3_int64)b->created);
	b_i64(s, 15, (sqlite3_int64)b->started);
	b_i64(s, 16, (sqlite3_int64)b->initial_done);
	b_i64(s, 17, (sqlite3_int64)b->last_synced);
	b_i64(s, 18, (sqlite3_int64)b->completed);
	b_i64(s, 19, (sqlite3_int64)b->max_bytes_per_second);
}

int state_batch_add(struct state *st, struct state_batch *b, struct err *err)
{
	sqlite3_stmt *s = prep(st,
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
		return db_error(st, "add batch", err);
	}
	b->id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return 0;
}

static int b_get(struct state *st, const char *name, int64_t id,
		 struct state_batch *out, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       name ? "SELECT " B_COLS " FROM batches"
				      " WHERE name=?"
				    : "SELECT " B_COLS " FROM batches"
				      " WHERE id=?",
			       err);
	int rc;

	if (s == NULL)
		return -1;
	if (name)
		bind_str(s, 1, name);
	else
		b_i64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		b_read(s, out);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return db_error(st, "get batch", err);
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
	sqlite3_stmt *s = prep(st,
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
	return rc == SQLITE_DONE ? 0 : db_error(st, "list batches", err);
}

int state_batch_update(struct state *st, const struct state_batch *b,
		       struct err *err)
{
	sqlite3_stmt *s = prep(st,
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
	b_i64(s, 20, b->id);
	return run(st, s, "update batch", err);
}

int state_batch_remove(struct state *st, int64_t id, struct err *err)
{
	sqlite3_stmt *s = prep(st, "DELETE FROM batches WHERE id=?", err);

	if (s != NULL)
		b_i64(s, 1, id);
	return run(st, s, "remove batch", err);
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
	sqlite3_stmt *s = prep(st,
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
	b_i64(s, 1, batch_id);
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
	return rc == SQLITE_DONE ? 0 : db_error(st, "count users", err);
}

/* ---- users ---- */

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
	u->email = col_str(s, 2);
	u->username = col_str(s, 3);
	if (col_secret(st, s, 4, &u->password, err) < 0)
		return -1;
	u->user_root = col_str(s, 5);
	u->target_username = col_str(s, 6);
	if (col_secret(st, s, 7, &u->target_password, err) < 0)
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
	u->status = col_str(s, 9);
	u->error = col_str(s, 10);
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
	chk = prep(st,
		   "SELECT b.name FROM users u JOIN batches b ON"
		   " b.id=u.batch_id WHERE u.email=?",
		   err);
	ins = prep(
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
		bind_str(chk, 1, u->email);
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
		b_i64(ins, 1, batch_id);
		bind_str(ins, 2, u->email);
		bind_str(ins, 3, u->username);
		if (bind_secret(st, ins, 4, u->password, err) < 0 ||
		    bind_secret(st, ins, 7, u->target_password, err) < 0) {
			free(json);
			goto fail;
		}
		bind_str(ins, 5, u->user_root);
		bind_str(ins, 6, u->target_username);
		bind_str(ins, 8, json);
		bind_str(ins, 9,
			 u->status ? u->status : user_status_name(USER_QUEUED));
		b_int(ins, 10, (int)u->csv_line);
		b_i64(ins, 11, (sqlite3_int64)time(NULL));
		free(json);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			db_error(st, "add user", err);
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
	sqlite3_stmt *s = prep(st,
			       email ? "SELECT " U_COLS " FROM users"
				       " WHERE email=?"
				     : "SELECT " U_COLS " FROM users"
				       " WHERE id=?",
			       err);
	int rc;

	if (s == NULL)
		return -1;
	if (email)
		bind_str(s, 1, email);
	else
		b_i64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = u_read(st, s, out, err);
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_error(st, "get user", err);
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
	sqlite3_stmt *s = prep(st,
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
	b_i64(s, 1, batch_id);
	bind_str(s, 2, status);
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
	return rc == SQLITE_DONE ? 0 : db_error(st, "list users", err);
}

int state_user_set_status(struct state *st, int64_t id, const char *status,
			  const char *error, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "UPDATE users SET status=?, error=? WHERE"
			       " id=?",
			       err);

	if (s == NULL)
		return -1;
	bind_str(s, 1, status);
	bind_str(s, 2, error);
	b_i64(s, 3, id);
	return run(st, s, "set user status", err);
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
	sqlite3_stmt *s = prep(st,
			       "UPDATE users SET status=?, error=?,"
			       " items_total=?, queued_at=?, sync_started=?,"
			       " sync_ended=?, last_synced=?,"
			       " seconds_syncing=?, seconds_throttled=?,"
			       " batch_id=? WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	bind_str(s, 1, u->status);
	bind_str(s, 2, u->error);
	b_i64(s, 3, (sqlite3_int64)u->items_total);
	b_i64(s, 4, (sqlite3_int64)u->queued_at);
	b_i64(s, 5, (sqlite3_int64)u->sync_started);
	b_i64(s, 6, (sqlite3_int64)u->sync_ended);
	b_i64(s, 7, (sqlite3_int64)u->last_synced);
	b_i64(s, 8, (sqlite3_int64)u->seconds_syncing);
	b_i64(s, 9, (sqlite3_int64)u->seconds_throttled);
	b_i64(s, 10, u->batch_id);
	b_i64(s, 11, u->id);
	return run(st, s, "update user", err);
}

int state_user_remove(struct state *st, int64_t id, struct err *err)
{
	sqlite3_stmt *s = prep(st, "DELETE FROM users WHERE id=?", err);

	if (s != NULL)
		b_i64(s, 1, id);
	return run(st, s, "remove user", err);
}

void state_user_release(struct state_user *u)
{
	size_t i;

	free(u->email);
	free(u->username);
	wipe_free(&u->password);
	free(u->user_root);
	free(u->target_username);
	wipe_free(&u->target_password);
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
	sqlite3_stmt *s = prep(st,
			       "UPDATE users SET claim_owner=?1,"
			       " claim_until=?2 WHERE id=?3 AND"
			       " (claim_owner IS NULL OR claim_owner=?1 OR"
			       " claim_until < ?4)",
			       err);
	time_t now = time(NULL);

	if (s == NULL)
		return -1;
	bind_str(s, 1, owner);
	b_i64(s, 2, (sqlite3_int64)(now + lease_seconds));
	b_i64(s, 3, user_id);
	b_i64(s, 4, (sqlite3_int64)now);
	if (run(st, s, "claim user", err) < 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int state_user_release_claim(struct state *st, int64_t user_id, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "UPDATE users SET claim_owner=NULL,"
			       " claim_until=NULL WHERE id=?",
			       err);

	if (s != NULL)
		b_i64(s, 1, user_id);
	return run(st, s, "release user", err);
}

int state_user_status_get(struct state *st, int64_t user_id, char *buf,
			  size_t size, struct err *err)
{
	sqlite3_stmt *s = prep(st, "SELECT status FROM users WHERE id=?", err);
	int rc;

	if (size > 0)
		buf[0] = '\0';
	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(buf, size, "%s",
			 (const char *)sqlite3_column_text(s, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(st, "read user status", err);
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

int state_user_statuses(struct state *st, struct state_user_status **v_r,
			size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = prep(
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
		return db_error(st, "read user statuses", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int state_batch_busy_users(struct state *st, int64_t batch_id,
			   int (*alive)(const char *owner), char ***v_r,
			   size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = prep(st,
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
	b_i64(s, 1, batch_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(s, 1);
		time_t until = (time_t)sqlite3_column_int64(s, 2);
		int us = user_status_parse(
			(const char *)sqlite3_column_text(s, 3));
		int busy = owner != NULL && until >= now && alive(owner);
		if (!busy && user_status_class(us) != CLASS_SYNCING)
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = col_str(s, 0);
	}
	if (rc != SQLITE_DONE) {
		db_error(st, "list the batch's users", err);
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

int state_data_version(struct state *st, int64_t *v_r, struct err *err)
{
	sqlite3_stmt *s = prep(st, "PRAGMA data_version", err);

	*v_r = 0;
	if (s == NULL)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_error(st, "read data_version", err);
		sqlite3_finalize(s);
		return -1;
	}
	*v_r = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

int state_users_requeue_orphans(struct state *st,
				int (*alive)(const char *owner), unsigned *n_r,
				struct err *err)
{
	sqlite3_stmt *s = prep(st,
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
		s = prep(st,
			 "UPDATE users SET status='Queued', claim_owner=NULL,"
			 " claim_until=NULL WHERE id=?",
			 err);
		if (s != NULL)
			b_i64(s, 1, ids[i]);
		if (run(st, s, "requeue user", err) < 0) {
			free(ids);
			return -1;
		}
	}
	free(ids);
	*n_r = (unsigned)n;
	return 0;
}

/* ---- reports ---- */

int state_skipped_list(struct state *st, int64_t user_id,
		       struct state_skipped **v_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT folder, uid, size, subject, sender,"
			       " date, reason, bad FROM skipped WHERE"
			       " user_id=? ORDER BY id",
			       err);
	struct state_skipped *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].folder = col_str(s, 0);
		v[n].uid = (uint32_t)sqlite3_column_int64(s, 1);
		v[n].size = (uint64_t)sqlite3_column_int64(s, 2);
		v[n].subject = col_str(s, 3);
		v[n].sender = col_str(s, 4);
		v[n].date = col_str(s, 5);
		v[n].reason = col_str(s, 6);
		v[n].bad = sqlite3_column_int(s, 7);
		n++;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : db_error(st, "list skipped", err);
}

void state_skipped_free(struct state_skipped *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].folder);
		free(v[i].subject);
		free(v[i].sender);
		free(v[i].date);
		free(v[i].reason);
	}
	free(v);
}

int state_folder_list(struct state *st, int64_t user_id,
		      struct state_folder_row **v_r, size_t *n_r,
		      struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT src, dst, uidvalidity, last_uid,"
			       " messages, items_synced FROM folders WHERE"
			       " user_id=? ORDER BY src",
			       err);
	struct state_folder_row *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].src = col_str(s, 0);
		v[n].dst = col_str(s, 1);
		v[n].uidvalidity = (uint32_t)sqlite3_column_int64(s, 2);
		v[n].last_uid = (uint32_t)sqlite3_column_int64(s, 3);
		v[n].messages = (uint32_t)sqlite3_column_int64(s, 4);
		v[n].items_synced = (uint64_t)sqlite3_column_int64(s, 5);
		n++;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : db_error(st, "list folders", err);
}

void state_folder_rows_free(struct state_folder_row *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].src);
		free(v[i].dst);
	}
	free(v);
}

/* ---- the journal ---- */

int state_folder_open(struct state *st, int64_t user_id, const char *src,
		      const char *dst, struct state_folder *out,
		      struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "INSERT INTO folders(user_id, src, dst)"
			       " VALUES (?,?,?) ON CONFLICT(user_id, src) DO"
			       " UPDATE SET dst=coalesce(excluded.dst, dst)",
			       err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	bind_str(s, 2, src);
	bind_str(s, 3, dst);
	if (run(st, s, "open folder", err) < 0)
		return -1;
	s = prep(st,
		 "SELECT id, uidvalidity, last_uid, highestmodseq FROM"
		 " folders WHERE user_id=? AND src=?",
		 err);
	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	bind_str(s, 2, src);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		out->uidvalidity = (uint32_t)sqlite3_column_int64(s, 1);
		out->last_uid = (uint32_t)sqlite3_column_int64(s, 2);
		out->highestmodseq = (uint64_t)sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : db_error(st, "open folder", err);
}

int state_folder_update(struct state *st, int64_t folder_id,
			uint32_t uidvalidity, uint32_t last_uid,
			uint64_t highestmodseq, uint32_t messages,
			struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "UPDATE folders SET uidvalidity=?,"
			       " last_uid=?, highestmodseq=?, messages=?"
			       " WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	b_i64(s, 1, uidvalidity);
	b_i64(s, 2, last_uid);
	b_i64(s, 3, (sqlite3_int64)highestmodseq);
	b_i64(s, 4, messages);
	b_i64(s, 5, folder_id);
	return run(st, s, "update folder", err);
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
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *s = prep(st, sql[i], err);
		if (s == NULL)
			goto fail;
		b_i64(s, 1, folder_id);
		if (run(st, s, "reset folder", err) < 0)
			goto fail;
	}
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
}

int state_items_inflight(struct state *st, int64_t user_id, int64_t folder_id,
			 struct store_msg *const *msgs, size_t n,
			 struct err *err)
{
	sqlite3_stmt *s;
	size_t i;

	(void)user_id;
	if (state_begin(st, err) < 0)
		return -1;
	s = prep(st,
		 "INSERT OR REPLACE INTO items(folder_id, uid, size,"
		 " state, flags, keywords) VALUES (?,?,?,0,?,?)",
		 err);
	if (s == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		b_i64(s, 1, folder_id);
		b_i64(s, 2, msgs[i]->uid);
		b_i64(s, 3, (sqlite3_int64)msgs[i]->size);
		b_int(s, 4, (int)msgs[i]->flags);
		bind_str(s, 5, msgs[i]->keywords);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_error(st, "record items in flight", err);
			sqlite3_finalize(s);
			goto fail;
		}
	}
	sqlite3_finalize(s);
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
}

static int add_user_counts(struct state *st, int64_t user_id, int64_t folder_id,
			   uint64_t done, uint64_t bytes, uint64_t skipped,
			   uint64_t bad, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "UPDATE users SET items_synced=items_synced"
			       "+?, bytes_synced=bytes_synced+?,"
			       " items_skipped=items_skipped+?,"
			       " bad_items=bad_items+? WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	b_i64(s, 1, (sqlite3_int64)done);
	b_i64(s, 2, (sqlite3_int64)bytes);
	b_i64(s, 3, (sqlite3_int64)skipped);
	b_i64(s, 4, (sqlite3_int64)bad);
	b_i64(s, 5, user_id);
	if (run(st, s, "count items", err) < 0)
		return -1;
	if (done == 0)
		return 0;
	s = prep(st,
		 "UPDATE folders SET items_synced=items_synced+? WHERE"
		 " id=?",
		 err);
	if (s == NULL)
		return -1;
	b_i64(s, 1, (sqlite3_int64)done);
	b_i64(s, 2, folder_id);
	return run(st, s, "count items", err);
}

int state_items_settle(struct state *st, int64_t user_id, int64_t folder_id,
		       struct store_msg *const *msgs,
		       const enum state_outcome *oc, const char *const *refs,
		       size_t n, struct err *err)
{
	sqlite3_stmt *done = NULL, *forget = NULL;
	uint64_t ndone = 0, bytes = 0;
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	done = prep(st,
		    "UPDATE items SET state=1, target_ref=? WHERE"
		    " folder_id=? AND uid=?",
		    err);
	forget = prep(st,
		      "DELETE FROM items WHERE folder_id=? AND uid=? AND"
		      " state=0",
		      err);
	if (done == NULL || forget == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_stmt *s;
		if (oc[i] == STATE_ITEM_KEEP)
			continue;
		if (oc[i] == STATE_ITEM_DONE) {
			s = done;
			sqlite3_reset(s);
			bind_str(s, 1, refs[i] ? refs[i] : "");
			b_i64(s, 2, folder_id);
			b_i64(s, 3, msgs[i]->uid);
			ndone++;
			bytes += msgs[i]->size;
		} else {
			s = forget;
			sqlite3_reset(s);
			b_i64(s, 1, folder_id);
			b_i64(s, 2, msgs[i]->uid);
		}
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_error(st, "settle items", err);
			goto fail;
		}
	}
	sqlite3_finalize(done);
	sqlite3_finalize(forget);
	done = forget = NULL;
	if (add_user_counts(st, user_id, folder_id, ndone, bytes, 0, 0, err) <
	    0)
		goto fail;
	return state_commit(st, err);
fail:
	sqlite3_finalize(done);
	sqlite3_finalize(forget);
	state_rollback(st);
	return -1;
}

int state_item_skip(struct state *st, int64_t user_id, int64_t folder_id,
		    const struct store_msg *m, const char *reason, int bad,
		    const char *subject, const char *from, const char *date,
		    struct err *err)
{
	sqlite3_stmt *s;

	if (state_begin(st, err) < 0)
		return -1;
	s = prep(st,
		 "INSERT OR REPLACE INTO items(folder_id, uid, size, state)"
		 " VALUES (?,?,?,?)",
		 err);
	if (s == NULL)
		goto fail;
	b_i64(s, 1, folder_id);
	b_i64(s, 2, m->uid);
	b_i64(s, 3, (sqlite3_int64)m->size);
	b_int(s, 4, bad ? ITEM_FAILED : ITEM_SKIPPED);
	if (run(st, s, "skip item", err) < 0)
		goto fail;
	s = prep(st,
		 "INSERT INTO skipped(user_id, folder, uid, size, subject,"
		 " sender, date, reason, bad) SELECT ?, src, ?, ?, ?, ?, ?, ?,"
		 " ? FROM folders WHERE id=?",
		 err);
	if (s == NULL)
		goto fail;
	b_i64(s, 1, user_id);
	b_i64(s, 2, m->uid);
	b_i64(s, 3, (sqlite3_int64)m->size);
	bind_str(s, 4, subject);
	bind_str(s, 5, from);
	bind_str(s, 6, date);
	bind_str(s, 7, reason);
	b_int(s, 8, bad);
	b_i64(s, 9, folder_id);
	if (run(st, s, "skip item", err) < 0 ||
	    add_user_counts(st, user_id, folder_id, 0, 0, 1, bad ? 1 : 0, err) <
		    0)
		goto fail;
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
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
	sqlite3_stmt *s = prep(st,
			       "DELETE FROM items WHERE folder_id=? AND"
			       " uid=? AND state=0",
			       err);

	if (s == NULL)
		return -1;
	b_i64(s, 1, folder_id);
	b_i64(s, 2, uid);
	return run(st, s, "forget item", err);
}

/* sql binds folder_id, then (for a window) lo and hi */
static int uid_list_in(struct state *st, const char *sql, int64_t folder_id,
		       int window, uint32_t lo, uint32_t hi, uint32_t **uids_r,
		       size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = prep(st, sql, err);
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*uids_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, folder_id);
	if (window) {
		b_i64(s, 2, lo);
		b_i64(s, 3, hi);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return db_error(st, "list items", err);
	}
	*uids_r = v;
	*n_r = n;
	return 0;
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
	sqlite3_stmt *s = prep(st,
			       "SELECT count(*) FROM items WHERE folder_id=?"
			       " AND state<>0",
			       err);
	int rc;

	*n_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, folder_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n_r = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : db_error(st, "count items", err);
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

static int items_in_state(struct state *st, int64_t folder_id, int state,
			  uint32_t lo, uint32_t hi, struct state_item **v_r,
			  size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT uid, flags, keywords, target_ref"
			       " FROM items WHERE folder_id=? AND state=?"
			       " AND uid>=? AND uid<=? ORDER BY uid",
			       err);
	struct state_item *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, folder_id);
	b_int(s, 2, state);
	b_i64(s, 3, lo);
	b_i64(s, 4, hi);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].uid = (uint32_t)sqlite3_column_int64(s, 0);
		v[n].flags = (uint32_t)sqlite3_column_int(s, 1);
		v[n].keywords = col_str(s, 2);
		v[n].ref = col_str(s, 3);
		n++;
	}
	sqlite3_finalize(s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : db_error(st, "list items", err);
}

int state_done_items(struct state *st, int64_t folder_id,
		     struct state_item **v_r, size_t *n_r, struct err *err)
{
	return items_in_state(st, folder_id, 1, 0, UINT32_MAX, v_r, n_r, err);
}

int state_inflight_items(struct state *st, int64_t folder_id,
			 struct state_item **v_r, size_t *n_r, struct err *err)
{
	return items_in_state(st, folder_id, 0, 0, UINT32_MAX, v_r, n_r, err);
}

int state_done_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			uint32_t hi, struct state_item **v_r, size_t *n_r,
			struct err *err)
{
	return items_in_state(st, folder_id, 1, lo, hi, v_r, n_r, err);
}

int state_inflight_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			    uint32_t hi, struct state_item **v_r, size_t *n_r,
			    struct err *err)
{
	return items_in_state(st, folder_id, 0, lo, hi, v_r, n_r, err);
}

int state_items_placed(struct state *st, int64_t folder_id,
		       const uint32_t *uids, const char *const *refs, size_t n,
		       struct err *err)
{
	sqlite3_stmt *s;
	size_t i;

	if (state_begin(st, err) < 0)
		return -1;
	s = prep(st,
		 "UPDATE items SET target_ref=? WHERE folder_id=? AND uid=?"
		 " AND state=0",
		 err);
	if (s == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		bind_str(s, 1, refs[i]);
		b_i64(s, 2, folder_id);
		b_i64(s, 3, uids[i]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_error(st, "record where copies were placed", err);
			sqlite3_finalize(s);
			goto fail;
		}
	}
	sqlite3_finalize(s);
	return state_commit(st, err);
fail:
	state_rollback(st);
	return -1;
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
	sqlite3_stmt *s = prep(st,
			       "UPDATE items SET flags=?, keywords=?,"
			       " target_ref=coalesce(?, target_ref) WHERE"
			       " folder_id=? AND uid=?",
			       err);

	if (s == NULL)
		return -1;
	b_int(s, 1, (int)flags);
	bind_str(s, 2, keywords);
	bind_str(s, 3, ref);
	b_i64(s, 4, folder_id);
	b_i64(s, 5, uid);
	return run(st, s, "update item flags", err);
}

int state_verify_record(struct state *st, int64_t user_id,
			const struct state_verify *v, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "INSERT OR REPLACE INTO verify(user_id, at,"
			       " deep, compared, missing, altered)"
			       " VALUES (?,?,?,?,?,?)",
			       err);

	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	b_i64(s, 2, (sqlite3_int64)v->at);
	b_int(s, 3, v->deep);
	b_i64(s, 4, (sqlite3_int64)v->compared);
	b_i64(s, 5, (sqlite3_int64)v->missing);
	b_i64(s, 6, (sqlite3_int64)v->altered);
	return run(st, s, "record verify", err);
}

int state_verify_get(struct state *st, int64_t user_id, struct state_verify *v,
		     struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT at, deep, compared, missing, altered"
			       " FROM verify WHERE user_id=?",
			       err);
	int rc;

	memset(v, 0, sizeof(*v));
	if (s == NULL)
		return -1;
	b_i64(s, 1, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v->at = (time_t)sqlite3_column_int64(s, 0);
		v->deep = sqlite3_column_int(s, 1);
		v->compared = (uint64_t)sqlite3_column_int64(s, 2);
		v->missing = (uint64_t)sqlite3_column_int64(s, 3);
		v->altered = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, "read verify", err);
	return 0;
}

/* ---- notification emails ---- */

const char *state_report_name(enum state_report r)
{
	switch (r) {
	case STATE_REPORT_INITIAL: return "initial";
	case STATE_REPORT_DAILY: return "daily";
	case STATE_REPORT_COMPLETED: return "completed";
	}
	return "?";
}

static int report_parse(const char *name)
{
	int r;

	for (r = STATE_REPORT_INITIAL; r <= STATE_REPORT_COMPLETED; r++)
		if (name != NULL && strcmp(name, state_report_name(r)) == 0)
			return r;
	return -1;
}

int state_report_marks_get(struct state *st, int64_t batch_id,
			   struct state_report_marks *m, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT coalesce(initial_report, 0),"
			       " coalesce(daily_report, 0),"
			       " coalesce(completed_report, 0)"
			       " FROM batches WHERE id=?",
			       err);
	int rc;

	memset(m, 0, sizeof(*m));
	if (s == NULL)
		return -1;
	b_i64(s, 1, batch_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		m->initial = (time_t)sqlite3_column_int64(s, 0);
		m->daily = (time_t)sqlite3_column_int64(s, 1);
		m->completed = (time_t)sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, "read report marks", err);
	return 0;
}

int state_report_users(struct state *st, int64_t batch_id,
		       struct state_user **v_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT id, email, status, error, items_total,"
			       " items_synced, items_skipped, bytes_synced,"
			       " bad_items, last_synced FROM users"
			       " WHERE batch_id=? ORDER BY id",
			       err);
	struct state_user *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, batch_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_user *u;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		u = &v[n++];
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(s, 0);
		u->batch_id = batch_id;
		u->email = col_str(s, 1);
		u->status = col_str(s, 2);
		u->error = col_str(s, 3);
		u->items_total = (uint64_t)sqlite3_column_int64(s, 4);
		u->items_synced = (uint64_t)sqlite3_column_int64(s, 5);
		u->items_skipped = (uint64_t)sqlite3_column_int64(s, 6);
		u->bytes_synced = (uint64_t)sqlite3_column_int64(s, 7);
		u->bad_items = (uint64_t)sqlite3_column_int64(s, 8);
		u->last_synced = (time_t)sqlite3_column_int64(s, 9);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_users_free(v, n);
		return db_error(st, "list users for a report", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int state_report_pending(struct state *st, int64_t batch_id,
			 unsigned *pending_r, unsigned *total_r,
			 struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT status, count(*) FROM users"
			       " WHERE batch_id=? GROUP BY status",
			       err);
	int rc;

	*pending_r = *total_r = 0;
	if (s == NULL)
		return -1;
	b_i64(s, 1, batch_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int us = user_status_parse(
			(const char *)sqlite3_column_text(s, 0));
		unsigned n = (unsigned)sqlite3_column_int(s, 1);
		*total_r += n;
		if (us == USER_QUEUED || us == USER_SYNCING ||
		    us == USER_STOPPED)
			*pending_r += n;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "count users", err);
}

int state_notification_queue(struct state *st, struct state_notification *n,
			     time_t expected, time_t now, struct err *err)
{
	static const char *const mark_sql[] = {
		[STATE_REPORT_INITIAL] =
			"UPDATE batches SET initial_report=?1 WHERE id=?2"
			" AND coalesce(initial_report, 0)=?3",
		[STATE_REPORT_DAILY] =
			"UPDATE batches SET daily_report=?1 WHERE id=?2"
			" AND coalesce(daily_report, 0)=?3",
		[STATE_REPORT_COMPLETED] =
			"UPDATE batches SET completed_report=?1,"
			" initial_report=coalesce(initial_report, ?1),"
			" daily_report=?1 WHERE id=?2"
			" AND coalesce(completed_report, 0)=?3",
	};
	sqlite3_stmt *s;

	if ((unsigned)n->kind > STATE_REPORT_COMPLETED)
		return err_set(err, ERR_USAGE, EC_NONE, "unknown report kind");
	if (state_begin(st, err) < 0)
		return -1;
	s = prep(st, mark_sql[n->kind], err);
	if (s == NULL)
		goto fail;
	b_i64(s, 1, (sqlite3_int64)now);
	b_i64(s, 2, n->batch_id);
	b_i64(s, 3, (sqlite3_int64)expected);
	if (run(st, s, "mark a report queued", err) < 0)
		goto fail;
	if (sqlite3_changes(st->db) == 0) {
		state_rollback(st);
		return 0;
	}
	s = prep(st,
		 "INSERT INTO notifications(batch_id, kind, recipients,"
		 " subject, body, created, attempts, next_attempt)"
		 " VALUES(?, ?, ?, ?, ?, ?, 0, ?)",
		 err);
	if (s == NULL)
		goto fail;
	b_i64(s, 1, n->batch_id);
	bind_str(s, 2, state_report_name(n->kind));
	bind_str(s, 3, n->recipients ? n->recipients : "");
	bind_str(s, 4, n->subject);
	bind_str(s, 5, n->body ? n->body : "");
	b_i64(s, 6, (sqlite3_int64)now);
	b_i64(s, 7, (sqlite3_int64)now);
	if (run(st, s, "queue a report", err) < 0)
		goto fail;
	n->id = sqlite3_last_insert_rowid(st->db);
	n->created = now;
	n->next_attempt = now;
	if (state_commit(st, err) < 0)
		goto fail;
	return 1;
fail:
	state_rollback(st);
	return -1;
}

#define N_COLS                                                                 \
	"id, coalesce(batch_id, 0), kind, recipients, subject, body, created," \
	" attempts, next_attempt, coalesce(sent, 0), last_error"

static int notifications_read(struct state *st, sqlite3_stmt *s,
			      struct state_notification **v_r, size_t *n_r,
			      struct err *err)
{
	struct state_notification *v = NULL;
	size_t n = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_notification *x;
		int kind =
			report_parse((const char *)sqlite3_column_text(s, 2));
		v = xrealloc(v, (n + 1) * sizeof(*v));
		x = &v[n++];
		memset(x, 0, sizeof(*x));
		x->id = sqlite3_column_int64(s, 0);
		x->batch_id = sqlite3_column_int64(s, 1);
		x->kind =
			kind < 0 ? STATE_REPORT_DAILY : (enum state_report)kind;
		x->recipients = col_str(s, 3);
		x->subject = col_str(s, 4);
		x->body = col_str(s, 5);
		x->created = (time_t)sqlite3_column_int64(s, 6);
		x->attempts = (unsigned)sqlite3_column_int(s, 7);
		x->next_attempt = (time_t)sqlite3_column_int64(s, 8);
		x->sent = (time_t)sqlite3_column_int64(s, 9);
		x->last_error = col_str(s, 10);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_notifications_free(v, n);
		return db_error(st, "list notifications", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int state_notifications_unsent(struct state *st, size_t max,
			       struct state_notification **v_r, size_t *n_r,
			       struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT " N_COLS " FROM notifications"
			       " WHERE sent IS NULL ORDER BY id LIMIT ?",
			       err);

	if (s != NULL)
		b_i64(s, 1, (sqlite3_int64)max);
	return notifications_read(st, s, v_r, n_r, err);
}

int state_notification_list(struct state *st, int64_t batch_id,
			    struct state_notification **v_r, size_t *n_r,
			    struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "SELECT " N_COLS " FROM notifications"
			       " WHERE ?1=0 OR batch_id=?1 ORDER BY id",
			       err);

	if (s != NULL)
		b_i64(s, 1, batch_id);
	return notifications_read(st, s, v_r, n_r, err);
}

int state_notification_sent(struct state *st, int64_t id, time_t when,
			    struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "UPDATE notifications SET sent=?,"
			       " attempts=attempts+1, last_error=NULL"
			       " WHERE id=?",
			       err);

	if (s == NULL)
		return -1;
	b_i64(s, 1, (sqlite3_int64)when);
	b_i64(s, 2, id);
	return run(st, s, "mark a report sent", err);
}

int state_notification_failed(struct state *st, int64_t id, const char *error,
			      time_t next_attempt, struct err *err)
{
	sqlite3_stmt *s = prep(st,
			       "UPDATE notifications SET attempts=attempts+1,"
			       " last_error=?, next_attempt=? WHERE id=?"
			       " AND sent IS NULL",
			       err);

	if (s == NULL)
		return -1;
	bind_str(s, 1, error);
	b_i64(s, 2, (sqlite3_int64)next_attempt);
	b_i64(s, 3, id);
	return run(st, s, "record a failed report", err);
}

void state_notifications_free(struct state_notification *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].recipients);
		free(v[i].subject);
		free(v[i].body);
		free(v[i].last_error);
	}
	free(v);
}
