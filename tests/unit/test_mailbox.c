/* test_mailbox.c - sync_mailbox_run() over fake stores and a real state
 * store in a temporary directory: what is copied, that a second pass
 * copies nothing, and that a message the target refuses is reported as a
 * bad item, never counted as synced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/state.h"
#include "store/store.h"
#include "sync/mailbox.h"

/* ---- the fake source: one folder, INBOX, of a few messages ---- */

#define N_SRC 4

static const char *const bodies[N_SRC] = {
	"Subject: one\r\n\r\nfirst\r\n",
	"Subject: two\r\n\r\nREFUSE me\r\n", /* the target refuses it */
	"Subject: three\r\n\r\nthird\r\n",
	"Subject: four\r\n\r\nfourth\r\n",
};

struct fake_source {
	struct store_source base;
	unsigned bodies_fetched;
	uint32_t leave_out; /* a UID whose body is not delivered */
};

static int fs_list(struct store_source *s, struct store_folder_list *out,
		   struct err *err)
{
	(void)s;
	(void)err;
	out->v = calloc(1, sizeof(*out->v));
	out->v[0].name = strdup("INBOX");
	out->v[0].special = STORE_SPECIAL_INBOX;
	out->n = 1;
	return 0;
}

static int fs_select(struct store_source *s, const char *folder,
		     struct store_folder_status *st, struct err *err)
{
	(void)s;
	(void)err;
	assert_string_equal(folder, "INBOX");
	memset(st, 0, sizeof(*st));
	st->uidvalidity = 7;
	st->uidnext = N_SRC + 1;
	st->messages = N_SRC;
	return 0;
}

static int fs_fetch_meta(struct store_source *s, uint32_t min_uid,
			 uint32_t max_uid, size_t max_n,
			 struct store_msg_list *out, uint32_t *covered_r,
			 struct err *err)
{
	uint32_t uid;

	(void)s;
	(void)max_n;
	(void)err;
	for (uid = min_uid; uid <= N_SRC && (max_uid == 0 || uid <= max_uid);
	     uid++) {
		struct store_msg *m;
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 8;
			out->v = realloc(out->v, out->cap * sizeof(*out->v));
		}
		m = &out->v[out->n++];
		memset(m, 0, sizeof(*m));
		m->uid = uid;
		m->flags = STORE_SEEN;
		m->size = strlen(bodies[uid - 1]);
		m->internaldate = 1700000000 + uid;
	}
	if (covered_r != NULL)
		*covered_r = max_uid;
	return 0;
}

static int fs_fetch_bodies(struct store_source *s,
			   const struct store_msg *const *msgs, size_t n,
			   const struct store_body_sink *sink, struct err *err)
{
	struct fake_source *f = (struct fake_source *)s;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *b = bodies[msgs[i]->uid - 1];
		if (msgs[i]->uid == f->leave_out)
			continue; /* as a server that leaves one out */
		f->bodies_fetched++;
		if (sink->begin(sink->ctx, msgs[i]->uid, strlen(b)) < 0 ||
		    sink->data(sink->ctx, b, strlen(b)) < 0 ||
		    sink->end(sink->ctx) < 0)
			return err_set(err, ERR_TRANSIENT, EC_IO, "sink");
	}
	return 0;
}

static int fs_fetch_flags(struct store_source *s, uint32_t min_uid,
			  uint32_t max_uid, uint64_t changedsince, size_t max_n,
			  struct store_msg_list *out, uint32_t *covered_r,
			  struct err *err)
{
	(void)changedsince;
	/* the flags are those of the listing: nothing changes */
	return fs_fetch_meta(s, min_uid, max_uid, max_n, out, covered_r, err);
}

static int fs_fetch_summary(struct store_source *s, uint32_t uid,
			    char **subject_r, char **from_r, char **date_r,
			    struct err *err)
{
	(void)s;
	(void)err;
	(void)uid;
	*subject_r = strdup("two");
	*from_r = strdup("a@example.org");
	*date_r = strdup("Tue, 14 Nov 2023 22:13:22 +0000");
	return 0;
}

static int fs_size_over(struct store_source *s, const uint32_t *uids, size_t n,
			uint64_t limit, unsigned char *over_r, struct err *err)
{
	(void)s;
	(void)uids;
	(void)limit;
	(void)err;
	memset(over_r, 1, n);
	return 0;
}

static int fs_nul_check(struct store_source *s, const uint32_t *uids, size_t n,
			unsigned char *has_nul_r, struct err *err)
{
	(void)s;
	(void)uids;
	(void)err;
	memset(has_nul_r, 0, n);
	return 0;
}

static void fs_close(struct store_source *s)
{
	(void)s; /* the test owns it */
}

static const struct store_source_ops fake_source_ops = {
	.list = fs_list,
	.select = fs_select,
	.fetch_meta = fs_fetch_meta,
	.fetch_bodies = fs_fetch_bodies,
	.fetch_flags = fs_fetch_flags,
	.fetch_summary = fs_fetch_summary,
	.size_over = fs_size_over,
	.nul_check = fs_nul_check,
	.close = fs_close,
};

/* ---- the fake target: records what it is given ---- */

struct fake_target {
	struct store_target base;
	char folder[64];
	char cur[256]; /* the message being appended */
	size_t cur_len;
	unsigned appended; /* confirmed */
	unsigned refused;
	uint32_t uids[16]; /* the confirmed copies' source UIDs, in order */
	struct store_copy_list copies;
	uint32_t cur_uid;
};

static int ft_list(struct store_target *t, struct store_folder_list *out,
		   struct err *err)
{
	(void)t;
	(void)err;
	memset(out, 0, sizeof(*out));
	return 0;
}

static int ft_create(struct store_target *t, const char *folder,
		     struct err *err)
{
	struct fake_target *f = (struct fake_target *)t;

	(void)err;
	snprintf(f->folder, sizeof(f->folder), "%s", folder);
	return 0;
}

static int ft_append_begin(struct store_target *t, const char *folder,
			   const struct store_msg *m, uint64_t size,
			   const char *tag, struct err *err)
{
	struct fake_target *f = (struct fake_target *)t;

	(void)size;
	(void)tag;
	(void)err;
	assert_string_equal(folder, "INBOX");
	f->cur_len = 0;
	f->cur_uid = m->uid;
	return 0;
}

static int ft_append_data(struct store_target *t, const char *p, size_t len,
			  struct err *err)
{
	struct fake_target *f = (struct fake_target *)t;

	(void)err;
	assert_true(f->cur_len + len < sizeof(f->cur));
	memcpy(f->cur + f->cur_len, p, len);
	f->cur_len += len;
	f->cur[f->cur_len] = '\0';
	return 0;
}

static int ft_append_end(struct store_target *t, store_append_cb *cb, void *ctx,
			 struct err *err)
{
	struct fake_target *f = (struct fake_target *)t;
	char ref[32];

	(void)err;
	if (strstr(f->cur, "REFUSE") != NULL) {
		struct err e = ERR_INIT;
		err_set(&e, ERR_MESSAGE, EC_NO,
			"the target refused the message (fake)");
		f->refused++;
		cb(ctx, NULL, &e);
		return 0;
	}
	snprintf(ref, sizeof(ref), "7:%u", f->appended + 1);
	f->uids[f->appended++] = f->cur_uid;
	store_copy_list_add(&f->copies, ref, f->cur_len, 0);
	cb(ctx, ref, NULL);
	return 0;
}

static void ft_append_abort(struct store_target *t)
{
	(void)t;
	fail_msg("append_abort: nothing should be abandoned");
}

static int ft_flush(struct store_target *t, unsigned max_pending,
		    struct err *err)
{
	(void)t;
	(void)max_pending;
	(void)err;
	return 0; /* every append is confirmed at once */
}

static int ft_find(struct store_target *t, const char *folder, const char *tag,
		   uint64_t size, const unsigned char *sha256,
		   const char *const *claimed, size_t n_claimed, char **ref_r,
		   int *found_r, struct err *err)
{
	(void)t;
	(void)folder;
	(void)tag;
	(void)size;
	(void)sha256;
	(void)claimed;
	(void)n_claimed;
	(void)err;
	*ref_r = NULL;
	*found_r = 0;
	return 0;
}

static int ft_yes(struct store_target *t)
{
	(void)t;
	return 1;
}

static int ft_set_flags(struct store_target *t, const char *folder,
			const char *ref, const struct store_msg *m,
			char **new_ref_r, struct err *err)
{
	(void)t;
	(void)folder;
	(void)ref;
	(void)m;
	(void)new_ref_r;
	(void)err;
	fail_msg("set_flags: no flag changed");
	return -1;
}

static int ft_check(struct store_target *t, const char *folder, const char *ref,
		    uint64_t size, const unsigned char *sha256, int *same_r,
		    struct err *err)
{
	(void)t;
	(void)folder;
	(void)ref;
	(void)size;
	(void)sha256;
	(void)err;
	*same_r = 1;
	return 0;
}

static int ft_list_copies(struct store_target *t, const char *folder,
			  struct store_copy_list *out, struct err *err)
{
	struct fake_target *f = (struct fake_target *)t;
	size_t i;

	(void)folder;
	(void)err;
	for (i = 0; i < f->copies.n; i++)
		store_copy_list_add(out, f->copies.v[i].ref,
				    f->copies.v[i].size,
				    f->copies.v[i].internaldate);
	return 0;
}

static int ft_withdraw(struct store_target *t, const char *folder,
		       const char *ref, struct err *err)
{
	(void)t;
	(void)folder;
	(void)ref;
	(void)err;
	fail_msg("withdraw: nothing should be taken back");
	return -1;
}

static void ft_close(struct store_target *t)
{
	(void)t; /* the test owns it */
}

static char ft_delimiter(struct store_target *t)
{
	(void)t;
	return '/';
}

static const struct store_target_ops fake_target_ops = {
	.list = ft_list,
	.create = ft_create,
	.append_begin = ft_append_begin,
	.append_data = ft_append_data,
	.append_end = ft_append_end,
	.append_abort = ft_append_abort,
	.flush = ft_flush,
	.find = ft_find,
	.find_altered = NULL,
	.takes_nul = ft_yes,
	.keeps_bytes = ft_yes,
	.set_flags = ft_set_flags,
	.check = ft_check,
	.list_copies = ft_list_copies,
	.withdraw = ft_withdraw,
	.close = ft_close,
	.delimiter = ft_delimiter,
};

/* ---- the fixture ---- */

struct fixture {
	char dir[64];
	char path[128];
	struct state *st;
	int64_t user_id;
	struct fake_source src;
	struct fake_target dst;
	struct sync_endpoints ep;
	struct sync_options opt;
};

static struct store_source *open_source(void *ctx, struct err *err)
{
	struct fixture *fx = ctx;

	(void)err;
	return &fx->src.base;
}

static struct store_target *open_target(void *ctx, struct err *err)
{
	struct fixture *fx = ctx;

	(void)err;
	return &fx->dst.base;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct state_endpoint src, dst;
	struct state_batch b;
	struct state_user u;
	struct err err = ERR_INIT;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_mailbox.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
	fx->st = state_open(fx->path, &err);
	if (fx->st == NULL)
		fail_msg("state_open: %s", err.msg);

	memset(&src, 0, sizeof(src));
	src.name = "Old";
	src.kind = STATE_EP_SOURCE_IMAP;
	src.host = "imap.example.org";
	src.port = 993;
	src.security = "ssl";
	src.authentication = "basic";
	src.max_migrations = 1;
	src.max_incremental = 1;
	if (state_endpoint_add(fx->st, &src, &err) < 0)
		fail_msg("endpoint: %s", err.msg);
	memset(&dst, 0, sizeof(dst));
	dst.name = "New";
	dst.kind = STATE_EP_TARGET_MAILDIR;
	dst.path_template = "/nonexistent/{local}";
	if (state_endpoint_add(fx->st, &dst, &err) < 0)
		fail_msg("endpoint: %s", err.msg);
	memset(&b, 0, sizeof(b));
	b.name = "B";
	b.source_id = src.id;
	b.target_id = dst.id;
	b.status = "Created";
	b.allow_incremental = 1;
	b.max_message_size = 1 << 20;
	b.bad_item_limit = 10;
	if (state_batch_add(fx->st, &b, &err) < 0)
		fail_msg("batch: %s", err.msg);
	memset(&u, 0, sizeof(u));
	u.email = "terry@example.org";
	u.username = "terry";
	u.password = "not-a-secret";
	u.status = "Queued";
	if (state_users_add(fx->st, b.id, &u, 1, "test.csv", &err) < 0)
		fail_msg("user: %s", err.msg);
	fx->user_id = u.id;
	if (fx->user_id == 0) {
		struct state_user got;
		if (state_user_get(fx->st, u.email, &got, &err) < 0)
			fail_msg("user get: %s", err.msg);
		fx->user_id = got.id;
		state_user_release(&got);
	}

	fx->src.base.ops = &fake_source_ops;
	fx->dst.base.ops = &fake_target_ops;
	fx->ep.open_source = open_source;
	fx->ep.open_target = open_target;
	fx->ep.ctx = fx;
	fx->opt.max_message_size = 1 << 20;
	fx->opt.bad_item_limit = 10;
	fx->opt.max_attempts = 1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char p[160];

	state_close(&fx->st);
	store_copy_list_free(&fx->dst.copies);
	snprintf(p, sizeof(p), "%s/state.db", fx->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/state.db-wal", fx->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/state.db-shm", fx->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/key", fx->dir);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int run_once(struct fixture *fx, struct sync_result *res,
		    struct err *err)
{
	struct sync_progress prog;
	int ret;

	sync_progress_init(&prog);
	ret = sync_mailbox_run(fx->st, fx->user_id, &fx->ep, &fx->opt, &prog,
			       res, err);
	pthread_mutex_destroy(&prog.lock);
	return ret;
}

/* The first pass copies every message but the refused one, in UID order;
 * the refused one is a bad item in the report, not a synced item. */
static void test_first_pass(void **state)
{
	struct fixture *fx = *state;
	struct sync_result res;
	struct err err = ERR_INIT;
	struct state_skipped *sk = NULL;
	size_t n_sk = 0;

	if (run_once(fx, &res, &err) < 0)
		fail_msg("sync_mailbox_run: %s", err.msg);
	assert_false(res.stopped);
	assert_string_equal(fx->dst.folder, "INBOX");
	assert_int_equal(fx->dst.appended, 3);
	assert_int_equal(fx->dst.uids[0], 1);
	assert_int_equal(fx->dst.uids[1], 3);
	assert_int_equal(fx->dst.uids[2], 4);
	assert_int_equal(fx->dst.refused, 1);
	assert_int_equal(res.items_copied, 3);
	assert_int_equal(res.bytes_copied, strlen(bodies[0]) +
						   strlen(bodies[2]) +
						   strlen(bodies[3]));
	assert_int_equal(res.items_skipped, 1);
	assert_int_equal(res.bad_items, 1);
	assert_int_equal(
		state_skipped_list(fx->st, fx->user_id, &sk, &n_sk, &err), 0);
	assert_int_equal(n_sk, 1);
	assert_non_null(strstr(sk[0].reason, "bad item"));
	assert_non_null(strstr(sk[0].reason, "refused"));
	state_skipped_free(sk, n_sk);
}

/* A second pass finds everything settled: nothing fetched, nothing sent,
 * the refused message not retried. */
static void test_second_pass_copies_nothing(void **state)
{
	struct fixture *fx = *state;
	struct sync_result res;
	struct err err = ERR_INIT;
	unsigned fetched;

	if (run_once(fx, &res, &err) < 0)
		fail_msg("first pass: %s", err.msg);
	fetched = fx->src.bodies_fetched;
	if (run_once(fx, &res, &err) < 0)
		fail_msg("second pass: %s", err.msg);
	assert_int_equal(fx->src.bodies_fetched, fetched);
	assert_int_equal(fx->dst.appended, 3);
	assert_int_equal(fx->dst.refused, 1);
	assert_int_equal(res.items_copied, 0);
	assert_int_equal(res.items_skipped, 0);
	assert_int_equal(res.bad_items, 1); /* of all runs */
}

/* With --bad-item-limit 0, the refusal fails the user (ERR_MESSAGE), and
 * what the target did confirm stays copied. */
static void test_refusal_over_the_limit(void **state)
{
	struct fixture *fx = *state;
	struct sync_result res;
	struct err err = ERR_INIT;

	fx->opt.bad_item_limit = 0;
	assert_int_equal(run_once(fx, &res, &err), -1);
	assert_int_equal(err.cls, ERR_MESSAGE);
	assert_non_null(strstr(err.msg, "--bad-item-limit is 0"));
	assert_int_equal(res.items_copied, 3);
	assert_int_equal(res.bad_items, 1);
}

/* A message the source did not deliver keeps last_uid back; the next
 * pass lists the folder from the start, and the journal leaves out what
 * is settled: only that message is copied. */
static void test_next_pass_copies_only_the_rest(void **state)
{
	struct fixture *fx = *state;
	struct sync_result res;
	struct err err = ERR_INIT;

	fx->src.leave_out = 3;
	assert_int_equal(run_once(fx, &res, &err), -1);
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_int_equal(fx->dst.appended, 2);
	assert_int_equal(res.items_copied, 2);
	fx->src.leave_out = 0;
	err_clear(&err);
	if (run_once(fx, &res, &err) < 0)
		fail_msg("second pass: %s", err.msg);
	assert_int_equal(res.items_copied, 1);
	assert_int_equal(res.items_skipped, 0);
	assert_int_equal(fx->dst.appended, 3);
	assert_int_equal(fx->dst.uids[2], 3);
	assert_int_equal(fx->dst.refused, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_pass, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_second_pass_copies_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_next_pass_copies_only_the_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_over_the_limit,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
