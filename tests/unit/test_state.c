/* test_state.c - the state store (state.h) against a temporary database:
 * endpoints, batches and users by name and by id, claims and leases, the
 * journal's rows, notifications, a failed bind, and a reopen of the
 * schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "state/sqlite_priv.h" /* the handle, to lower a limit */
#include "state/state.h"

struct fx {
	char dir[64];
	char path[128];
	struct state *st;
	int64_t src_id, dst_id, batch_id;
};

static void fx_path(const struct fx *f, const char *name, char *out,
		    size_t size)
{
	int n = snprintf(out, size, "%s/%s", f->dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

/* Run SQL on the file behind the store's back (what a test cannot do
 * through state.h: age a lease, read the schema version). */
static int64_t raw_sql(const struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = 0;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void add_endpoints_and_batch(struct fx *f)
{
	struct state_endpoint src = {0}, dst = {0};
	struct state_batch b = {0};
	struct err err = ERR_INIT;

	src.name = "Old";
	src.kind = STATE_EP_SOURCE_IMAP;
	src.host = "imap.example.org";
	src.port = 993;
	src.security = "ssl";
	src.authentication = "basic";
	src.password = "s3cret pass";
	src.max_migrations = 100;
	src.max_incremental = 20;
	assert_int_equal(state_endpoint_add(f->st, &src, &err), 0);
	dst.name = "Local";
	dst.kind = STATE_EP_TARGET_MAILDIR;
	dst.path_template = "/srv/{domain}/{local}";
	assert_int_equal(state_endpoint_add(f->st, &dst, &err), 0);
	f->src_id = src.id;
	f->dst_id = dst.id;

	b.name = "Batch1";
	b.source_id = src.id;
	b.target_id = dst.id;
	b.status = (char *)batch_status_name(BATCH_CREATED);
	b.allow_incremental = 1;
	b.bad_item_limit = 5;
	b.max_message_size = 35u << 20;
	b.max_items = 500000;
	assert_int_equal(state_batch_add(f->st, &b, &err), 0);
	assert_true(b.id > 0);
	assert_true(b.created > 0);
	f->batch_id = b.id;
}

static int64_t add_users(struct fx *f)
{
	struct state_extra extra = {"TargetUserName", "alice.t"};
	struct state_user u[2];
	struct err err = ERR_INIT;

	memset(u, 0, sizeof(u));
	u[0].email = "alice@example.org";
	u[0].username = "alice";
	u[0].password = "pw-a";
	u[0].extra = &extra;
	u[0].n_extra = 1;
	u[0].csv_line = 2;
	u[1].email = "bob@example.org";
	u[1].username = "Domain/Admin/bob";
	u[1].password = "pw-b";
	u[1].csv_line = 3;
	assert_int_equal(
		state_users_add(f->st, f->batch_id, u, 2, "users.csv", &err),
		0);
	assert_true(u[0].id > 0 && u[1].id > u[0].id);
	return u[0].id;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err err = ERR_INIT;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	fx_path(f, "state.db", f->path, sizeof(f->path));
	unsetenv("IMAPMIG_KEY_FILE");
	f->st = state_open(f->path, &err);
	if (f->st == NULL)
		fail_msg("state_open: %s", err.msg);
	add_endpoints_and_batch(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = {"state.db", "state.db-wal",
					    "state.db-shm", "key"};
	struct fx *f = *state;
	char p[160];
	size_t i;

	state_close(&f->st);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		fx_path(f, files[i], p, sizeof(p));
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_endpoints(void **state)
{
	struct fx *f = *state;
	struct state_endpoint e, by_id, dup = {0};
	struct state_endpoint *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;

	/* by name (case does not matter) and by id: the same row */
	assert_int_equal(state_endpoint_get(f->st, "old", &e, &err), 0);
	assert_int_equal(e.id, f->src_id);
	assert_string_equal(e.name, "Old");
	assert_string_equal(e.host, "imap.example.org");
	assert_int_equal(e.port, 993);
	assert_string_equal(e.password, "s3cret pass");
	assert_int_equal(e.max_incremental, 20);
	assert_int_equal(state_endpoint_get_id(f->st, f->dst_id, &by_id, &err),
			 0);
	assert_string_equal(by_id.name, "Local");
	assert_int_equal(by_id.kind, STATE_EP_TARGET_MAILDIR);
	assert_null(by_id.password);
	state_endpoint_release(&by_id);

	/* the password is sealed on disk, never stored as given */
	assert_int_equal(raw_sql(f, "SELECT count(*) FROM endpoints WHERE"
				    " instr(password, 's3cret') > 0"),
			 0);

	/* update, then read it back */
	free(e.host);
	e.host = strdup("imap2.example.org");
	assert_int_equal(state_endpoint_update(f->st, &e, &err), 0);
	state_endpoint_release(&e);
	assert_int_equal(state_endpoint_get_id(f->st, f->src_id, &e, &err), 0);
	assert_string_equal(e.host, "imap2.example.org");
	state_endpoint_release(&e);

	/* unknown name, unknown id, duplicate name */
	assert_int_equal(state_endpoint_get(f->st, "nope", &e, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "no endpoint named nope"));
	assert_int_equal(state_endpoint_get_id(f->st, 999, &e, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_non_null(strstr(err.msg, "endpoint 999 is gone"));
	dup.name = "OLD";
	dup.kind = STATE_EP_SOURCE_IMAP;
	assert_int_equal(state_endpoint_add(f->st, &dup, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "already exists"));

	assert_int_equal(state_endpoint_list(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "Local"); /* by name */
	assert_string_equal(v[1].password, "s3cret pass");
	while (n > 0)
		state_endpoint_release(&v[--n]);
	free(v);

	/* in use by a batch: refused */
	assert_int_equal(state_endpoint_remove(f->st, "Old", &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "used by batch Batch1"));
}

static void test_batches(void **state)
{
	struct fx *f = *state;
	struct state_batch b, by_id, *v = NULL;
	struct state_batch_counts c;
	size_t n = 0;
	struct err err = ERR_INIT;

	assert_int_equal(state_batch_get(f->st, "batch1", &b, &err), 0);
	assert_int_equal(b.id, f->batch_id);
	assert_int_equal(b.source_id, f->src_id);
	assert_int_equal(b.target_id, f->dst_id);
	assert_string_equal(b.status, "Created");
	assert_int_equal(b.max_message_size, 35u << 20);
	state_batch_set_status(&b, BATCH_SYNCING);
	b.cutover = 1700000000;
	assert_int_equal(state_batch_update(f->st, &b, &err), 0);
	state_batch_release(&b);

	assert_int_equal(state_batch_get_id(f->st, f->batch_id, &by_id, &err),
			 0);
	assert_string_equal(by_id.name, "Batch1");
	assert_string_equal(by_id.status, "Syncing");
	assert_int_equal(by_id.cutover, 1700000000);
	state_batch_release(&by_id);

	assert_int_equal(state_batch_get(f->st, "nope", &b, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "no batch named nope"));
	assert_int_equal(state_batch_get_id(f->st, 4242, &b, &err), -1);
	assert_non_null(strstr(err.msg, "batch 4242 is gone"));

	assert_int_equal(state_batch_list(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	state_batch_release(&v[0]);
	free(v);

	add_users(f);
	assert_int_equal(state_batch_counts(f->st, f->batch_id, &c, &err), 0);
	assert_int_equal(c.total, 2);
	assert_int_equal(c.queued, 2);

	/* removing the batch takes its users with it */
	assert_int_equal(state_batch_remove(f->st, f->batch_id, &err), 0);
	assert_int_equal(raw_sql(f, "SELECT count(*) FROM users"), 0);
	assert_int_equal(state_endpoint_remove(f->st, "Old", &err), 0);
}

static void test_users(void **state)
{
	struct fx *f = *state;
	int64_t alice = add_users(f);
	struct state_user u, by_id, dup = {0}, *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;

	assert_int_equal(state_user_get(f->st, "ALICE@example.org", &u, &err),
			 0);
	assert_int_equal(u.id, alice);
	assert_int_equal(u.batch_id, f->batch_id);
	assert_string_equal(u.username, "alice");
	assert_string_equal(u.password, "pw-a");
	assert_string_equal(u.status, "Queued");
	assert_int_equal(u.n_extra, 1);
	assert_string_equal(u.extra[0].name, "TargetUserName");
	assert_string_equal(u.extra[0].value, "alice.t");
	assert_int_equal(u.csv_line, 2);
	assert_true(u.queued_at > 0);

	u.items_total = 10;
	u.last_synced = 1700000001;
	free(u.error);
	u.error = strdup("no route");
	assert_int_equal(state_user_update(f->st, &u, &err), 0);
	state_user_release(&u);
	assert_int_equal(state_user_get_id(f->st, alice, &by_id, &err), 0);
	assert_string_equal(by_id.email, "alice@example.org");
	assert_int_equal(by_id.items_total, 10);
	assert_int_equal(by_id.last_synced, 1700000001);
	assert_string_equal(by_id.error, "no route");
	state_user_release(&by_id);

	assert_int_equal(state_user_get(f->st, "nobody@x", &u, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "no migration user nobody@x"));
	assert_int_equal(state_user_get_id(f->st, 777, &u, &err), -1);
	assert_non_null(strstr(err.msg, "user 777 is gone"));

	/* a user is in one batch at a time: the whole add is refused */
	dup.email = "Bob@Example.org";
	dup.username = "bob";
	dup.password = "x";
	dup.csv_line = 7;
	assert_int_equal(
		state_users_add(f->st, f->batch_id, &dup, 1, "more.csv", &err),
		-1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "more.csv:7:"));
	assert_non_null(strstr(err.msg, "already in batch Batch1"));

	/* statuses: one, then all the batch's through the table */
	assert_int_equal(
		state_user_set_status(f->st, alice, "Syncing", NULL, &err), 0);
	assert_int_equal(
		state_user_list(f->st, f->batch_id, "Syncing", &v, &n, &err),
		0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, alice);
	state_users_free(v, n);
	assert_int_equal(
		state_users_move(f->st, f->batch_id, USER_RUN_OK, &err), 0);
	assert_int_equal(state_user_list(f->st, 0, "Synced", &v, &n, &err), 0);
	assert_int_equal(n, 1); /* a queued user's run has not begun */
	state_users_free(v, n);

	assert_int_equal(state_user_remove(f->st, alice, &err), 0);
	assert_int_equal(state_user_list(f->st, 0, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].email, "bob@example.org");
	state_users_free(v, n);
}

static int alive_none(const char *owner)
{
	(void)owner;
	return 0;
}

static int alive_all(const char *owner)
{
	(void)owner;
	return 1;
}

static void test_claims(void **state)
{
	struct fx *f = *state;
	int64_t alice = add_users(f);
	struct state_user_status *sv = NULL;
	char status[32], **busy = NULL;
	size_t n = 0;
	unsigned requeued = 9;
	struct err err = ERR_INIT;

	assert_int_equal(state_user_claim(f->st, alice, "w1", 60, &err), 1);
	assert_int_equal(state_user_claim(f->st, alice, "w2", 60, &err), 0);
	assert_int_equal(state_user_claim(f->st, alice, "w1", 60, &err), 1);
	assert_int_equal(state_user_drop_claim(f->st, alice, &err), 0);
	assert_int_equal(state_user_claim(f->st, alice, "w2", 60, &err), 1);

	/* a lease that ran out is anybody's */
	raw_sql(f, "UPDATE users SET claim_until=1");
	assert_int_equal(state_user_claim(f->st, alice, "w3", 60, &err), 1);

	/* busy: a live claim */
	assert_int_equal(state_batch_busy_users(f->st, f->batch_id, alive_all,
						&busy, &n, &err),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(busy[0], "alice@example.org");
	free(busy[0]);
	free(busy);
	assert_int_equal(state_batch_busy_users(f->st, f->batch_id, alive_none,
						&busy, &n, &err),
			 0);
	assert_int_equal(n, 0);

	/* Syncing with a dead owner: requeued, claim released */
	assert_int_equal(
		state_user_set_status(f->st, alice, "Syncing", NULL, &err), 0);
	assert_int_equal(
		state_users_requeue_orphans(f->st, alive_all, &requeued, &err),
		0);
	assert_int_equal(requeued, 0);
	assert_int_equal(
		state_users_requeue_orphans(f->st, alive_none, &requeued, &err),
		0);
	assert_int_equal(requeued, 1);
	assert_int_equal(state_user_status_get(f->st, alice, status,
					       sizeof(status), &err),
			 0);
	assert_string_equal(status, "Queued");
	assert_int_equal(raw_sql(f, "SELECT count(*) FROM users WHERE"
				    " claim_owner IS NOT NULL"),
			 0);
	assert_int_equal(state_user_status_get(f->st, 12345, status,
					       sizeof(status), &err),
			 0);
	assert_string_equal(status, "");

	assert_int_equal(state_user_statuses(f->st, &sv, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sv[0].id, alice);
	assert_int_equal(sv[0].batch_id, f->batch_id);
	assert_string_equal(sv[1].status, "Queued");
	free(sv);
}

static void test_journal(void **state)
{
	struct fx *f = *state;
	int64_t alice = add_users(f);
	struct state_folder fo, again;
	struct store_msg m[3], *mp[3];
	enum state_outcome oc[3] = {STATE_ITEM_DONE, STATE_ITEM_FORGET,
				    STATE_ITEM_KEEP};
	const char *refs[3] = {"ref-1", NULL, NULL};
	const char *placed[1] = {"ref-3"};
	uint32_t *uids = NULL, u3 = 3;
	struct state_item *it = NULL;
	struct state_skipped *sk = NULL;
	struct state_folder_row *rows = NULL;
	struct state_user u;
	uint64_t settled = 0;
	size_t n = 0, i;
	struct err err = ERR_INIT;

	assert_int_equal(
		state_folder_open(f->st, alice, "INBOX", "INBOX", &fo, &err),
		0);
	assert_true(fo.id > 0);
	assert_int_equal(fo.uidvalidity, 0);
	memset(m, 0, sizeof(m));
	for (i = 0; i < 3; i++) {
		m[i].uid = (uint32_t)i + 1;
		m[i].size = 100 * (i + 1);
		m[i].flags = STORE_SEEN;
		mp[i] = &m[i];
	}
	m[0].keywords = "$Label1";
	assert_int_equal(state_items_inflight(f->st, alice, fo.id, mp, 3, &err),
			 0);
	assert_int_equal(state_inflight_uids(f->st, fo.id, &uids, &n, &err), 0);
	assert_int_equal(n, 3);
	free(uids);

	/* 1 done, 2 never reached the target, 3 placed but unchecked */
	assert_int_equal(state_items_placed(f->st, fo.id, &u3, placed, 1, &err),
			 0);
	assert_int_equal(
		state_items_settle(f->st, alice, fo.id, mp, oc, refs, 3, &err),
		0);
	assert_int_equal(state_done_items(f->st, fo.id, &it, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].uid, 1);
	assert_int_equal(it[0].flags, STORE_SEEN);
	assert_string_equal(it[0].keywords, "$Label1");
	assert_string_equal(it[0].ref, "ref-1");
	state_items_free(it, n);
	assert_int_equal(
		state_inflight_items_in(f->st, fo.id, 2, 3, &it, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].uid, 3);
	assert_string_equal(it[0].ref, "ref-3");
	state_items_free(it, n);

	/* 3 turns out to be there; then a skip with its report row */
	assert_int_equal(
		state_item_found(f->st, alice, fo.id, &m[2], "ref-3", &err), 0);
	m[1].size = 50u << 20;
	assert_int_equal(state_item_skip(f->st, alice, fo.id, &m[1],
					 "large item", 0, "Big", "a@b",
					 "Mon, 1 Jan 2024", &err),
			 0);
	assert_int_equal(state_settled_uids(f->st, fo.id, &uids, &n, &err), 0);
	assert_int_equal(n, 3);
	free(uids);
	assert_int_equal(
		state_settled_uids_in(f->st, fo.id, 2, 2, &uids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(uids[0], 2);
	free(uids);
	assert_int_equal(state_settled_count(f->st, fo.id, &settled, &err), 0);
	assert_int_equal(settled, 3);
	assert_int_equal(state_item_set_flags(f->st, fo.id, 1, STORE_FLAGGED,
					      NULL, NULL, &err),
			 0);
	assert_int_equal(state_done_items_in(f->st, fo.id, 1, 1, &it, &n, &err),
			 0);
	assert_int_equal(it[0].flags, STORE_FLAGGED);
	assert_string_equal(it[0].ref, "ref-1"); /* kept */
	state_items_free(it, n);

	assert_int_equal(state_skipped_list(f->st, alice, &sk, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sk[0].folder, "INBOX");
	assert_string_equal(sk[0].reason, "large item");
	assert_string_equal(sk[0].subject, "Big");
	assert_int_equal(sk[0].size, 50u << 20);
	state_skipped_free(sk, n);

	assert_int_equal(state_user_get_id(f->st, alice, &u, &err), 0);
	assert_int_equal(u.items_synced, 2);
	assert_int_equal(u.bytes_synced, 100 + 300);
	assert_int_equal(u.items_skipped, 1);
	state_user_release(&u);

	assert_int_equal(state_folder_update(f->st, fo.id, 77, 3, 9, 3, &err),
			 0);
	assert_int_equal(
		state_folder_open(f->st, alice, "INBOX", NULL, &again, &err),
		0);
	assert_int_equal(again.id, fo.id);
	assert_int_equal(again.uidvalidity, 77);
	assert_int_equal(again.last_uid, 3);
	assert_int_equal(again.highestmodseq, 9);
	assert_int_equal(state_folder_list(f->st, alice, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].dst, "INBOX"); /* NULL kept the old one */
	assert_int_equal(rows[0].items_synced, 2);
	state_folder_rows_free(rows, n);

	/* UIDVALIDITY changed: what the folder counted is taken back */
	assert_int_equal(state_folder_renumbered(f->st, fo.id, &err), 0);
	assert_int_equal(state_settled_count(f->st, fo.id, &settled, &err), 0);
	assert_int_equal(settled, 0);
	assert_int_equal(state_user_get_id(f->st, alice, &u, &err), 0);
	assert_int_equal(u.items_synced, 0);
	assert_int_equal(u.bytes_synced, 0);
	assert_int_equal(u.items_skipped, 0);
	state_user_release(&u);
	assert_int_equal(state_skipped_list(f->st, alice, &sk, &n, &err), 0);
	assert_int_equal(n, 0);
}

static void test_verify_and_notifications(void **state)
{
	struct fx *f = *state;
	struct state_verify v = {1700000100, 1, 10, 1, 2}, r;
	struct state_notification q = {0}, *nv = NULL;
	struct state_report_marks marks;
	size_t n = 0;
	int64_t alice = add_users(f);
	struct err err = ERR_INIT;

	assert_int_equal(state_verify_get(f->st, alice, &r, &err), 0);
	assert_int_equal(r.at, 0);
	assert_int_equal(state_verify_record(f->st, alice, &v, &err), 0);
	assert_int_equal(state_verify_get(f->st, alice, &r, &err), 0);
	assert_int_equal(r.at, 1700000100);
	assert_int_equal(r.deep, 1);
	assert_int_equal(r.altered, 2);

	q.batch_id = f->batch_id;
	q.kind = STATE_REPORT_INITIAL;
	q.recipients = "ops@example.org";
	q.subject = "Batch1: initial sync done";
	q.body = "body";
	assert_int_equal(state_notification_queue(f->st, &q, 0, 1000, &err), 1);
	/* queued once: the mark moved */
	assert_int_equal(state_notification_queue(f->st, &q, 0, 1001, &err), 0);
	assert_int_equal(
		state_report_marks_get(f->st, f->batch_id, &marks, &err), 0);
	assert_int_equal(marks.initial, 1000);
	assert_int_equal(marks.daily, 0);
	assert_int_equal(state_notifications_unsent(f->st, 10, &nv, &n, &err),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(nv[0].kind, STATE_REPORT_INITIAL);
	assert_string_equal(nv[0].recipients, "ops@example.org");
	state_notifications_free(nv, n);
	assert_int_equal(
		state_notification_failed(f->st, q.id, "421 busy", 2000, &err),
		0);
	assert_int_equal(state_notification_sent(f->st, q.id, 2001, &err), 0);
	assert_int_equal(state_notifications_unsent(f->st, 10, &nv, &n, &err),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(state_notification_list(f->st, 0, &nv, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nv[0].attempts, 2);
	assert_int_equal(nv[0].sent, 2001);
	assert_null(nv[0].last_error);
	state_notifications_free(nv, n);
}

/* A bind that fails (a text longer than the handle allows) is the
 * function's error: nothing is stored, the program goes on. */
static void test_bind_failure(void **state)
{
	struct fx *f = *state;
	int64_t alice = add_users(f);
	char status[32];
	struct err err = ERR_INIT;

	sqlite3_limit(f->st->db, SQLITE_LIMIT_LENGTH, 16);
	assert_int_equal(state_user_set_status(f->st, alice, "Failed",
					       "longer than sixteen bytes",
					       &err),
			 -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_non_null(strstr(err.msg, "set user status"));
	assert_non_null(strstr(err.msg, "binding parameter 2"));
	sqlite3_limit(f->st->db, SQLITE_LIMIT_LENGTH, 1000000);
	assert_int_equal(state_user_status_get(f->st, alice, status,
					       sizeof(status), &err),
			 0);
	assert_string_equal(status, "Queued");
}

static void test_reopen(void **state)
{
	struct fx *f = *state;
	struct state_user u;
	struct err err = ERR_INIT;
	int64_t version, alice = add_users(f);
	int64_t dv = -1;

	version = raw_sql(f, "PRAGMA user_version");
	assert_true(version >= 6);
	state_close(&f->st);
	assert_null(f->st);

	/* the same schema and rows, and the password still opens */
	f->st = state_open(f->path, &err);
	assert_non_null(f->st);
	assert_int_equal(raw_sql(f, "PRAGMA user_version"), version);
	assert_int_equal(state_user_get_id(f->st, alice, &u, &err), 0);
	assert_string_equal(u.password, "pw-a");
	state_user_release(&u);
	assert_int_equal(state_data_version(f->st, &dv, &err), 0);
	assert_true(dv > 0);
	state_close(&f->st);

	/* a schema from a newer imapmig is refused, not touched */
	raw_sql(f, "PRAGMA user_version=999");
	f->st = state_open(f->path, &err);
	assert_null(f->st);
	assert_non_null(strstr(err.msg, "newer imapmig"));
	assert_int_equal(raw_sql(f, "PRAGMA user_version"), 999);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_endpoints, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_and_notifications,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
