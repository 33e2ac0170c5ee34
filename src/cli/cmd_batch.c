/* cmd_batch.c - `imapmig batch ...`: the procedure's Steps 4 and 6
 * (New-, Get-, Start-, Stop-, Complete-, Remove-, Set-MigrationBatch). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "sched/csv.h"
#include "state/state.h"
#include "sched/actions.h"
#include "sched/runner.h"
#include "sched/views.h"
#include "sync/plan.h"
#include "util/escape.h"
#include "util/xalloc.h"

/* The CSV, with every row's error listed (up to CSV_MAX_ERRORS) and its
 * warnings printed; then err sums up. */
static struct csv_batch *load_csv(const char *cmd, const char *path,
				  int allow_unknown, struct err *err)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct csv_batch *cb = csv_batch_load(path, allow_unknown, &rep, err);
	const struct buf *lines = cb != NULL ? &rep.warnings : &rep.errors;
	const char *p = lines->p;

	if (cb != NULL || rep.n_errors > 1) {
		while (*p) {
			const char *e = strchr(p, '\n');
			fprintf(stderr, "imapmig: %s%s: %s\n",
				cb != NULL ? "warning: " : "", cmd,
				esc_n(p, (size_t)(e - p)));
			p = e + 1;
		}
	}
	if (cb == NULL && rep.n_errors > 1)
		err_set(err, ERR_USAGE, EC_NONE,
			"%s: %s%u rows with errors (listed above): fix them; "
			"nothing was imported",
			path, rep.n_errors >= CSV_MAX_ERRORS ? "at least " : "",
			rep.n_errors);
	csv_report_release(&rep);
	return cb;
}

/* ---- batch new ---- */

struct b_new_args {
	const char *name, *src, *dst, *csv, *exclude, *include, *emails;
	int autostart, allow_unknown;
	int incremental; /* index in true_false; -1 not given */
	long long bad_item_limit, max_message_size, max_items, start_after;
	long long max_bps;
};

static const char *const true_false[] = {"true", "false", NULL};

static const struct opt b_new_opts[] = {
	OPT_STRING("name", struct b_new_args, name, "N", "the batch's name"),
	OPT_STRING("source-endpoint", struct b_new_args, src, "E",
		   "the source endpoint"),
	OPT_STRING("target-endpoint", struct b_new_args, dst, "T",
		   "the target endpoint (default: Maildir beside the state)"),
	OPT_STRING("csv", struct b_new_args, csv, "F",
		   "the users: EmailAddress,UserName,Password[,UserRoot]"),
	OPT_FLAG("autostart", 0, struct b_new_args, autostart,
		 "start the batch at once"),
	OPT_STRING("exclude-folders", struct b_new_args, exclude, "LIST",
		   "folders not to copy"),
	OPT_STRING("include-folders", struct b_new_args, include, "LIST",
		   "only these folders"),
	OPT_CHOICE("allow-incremental-syncs", struct b_new_args, incremental,
		   true_false, NULL, "incremental syncs after the initial one"),
	OPT_FLAG("allow-unknown-columns", 0, struct b_new_args, allow_unknown,
		 "ignore CSV columns imapmig does not know"),
	OPT_NUMBER("bad-item-limit", COUNT, struct b_new_args, bad_item_limit,
		   "N", 0, LLONG_MAX, NULL, "bad items a user may have (0)"),
	OPT_NUMBER("max-message-size", SIZE, struct b_new_args,
		   max_message_size, "SIZE", 1, LLONG_MAX, NULL,
		   "larger messages are skipped (35M)"),
	OPT_NUMBER("max-items", COUNT, struct b_new_args, max_items, "N", 1,
		   LLONG_MAX, ": give a number above 0",
		   "messages per user at most (500000)"),
	OPT_NUMBER("start-after", TIME, struct b_new_args, start_after, "TIME",
		   0, LLONG_MAX, NULL, "not before this time (UTC, or +2h)"),
	OPT_STRING("notification-emails", struct b_new_args, emails, "LIST",
		   "who gets the batch's reports"),
	OPT_NUMBER("max-bytes-per-second", SIZE, struct b_new_args, max_bps,
		   "RATE", 1, LLONG_MAX,
		   ": give a rate such as 2M (bytes a second, per mailbox)",
		   "bytes a second per mailbox, e.g. 2M (no limit)"),
	OPT_END(),
};

static const struct opts_cmd b_new_cmd = {
	.name = "batch new",
	.group = "batch",
	.usage = "batch new --name N --source-endpoint E --csv F [options]",
	.opts = b_new_opts,
};

/* The batch as the options describe it. */
static void b_new_fill(const struct b_new_args *a, struct state_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->allow_incremental = a->incremental != 1;
	b->bad_item_limit = (uint64_t)a->bad_item_limit;
	b->max_message_size = (uint64_t)a->max_message_size;
	b->max_items = (uint64_t)a->max_items;
	b->max_bytes_per_second = (uint64_t)a->max_bps;
	b->start_after = (time_t)a->start_after;
	if (a->exclude != NULL)
		b->exclude_folders = xstrdup(a->exclude);
	if (a->include != NULL)
		b->include_folders = xstrdup(a->include);
	if (a->emails != NULL)
		b->notification_emails = xstrdup(a->emails);
}

/* Every input checked before anything is written: the folder filters,
 * then the CSV (sched_batch_new checks the endpoints). */
static struct csv_batch *b_new_check(const struct b_new_args *a,
				     const struct state_batch *b,
				     struct err *err)
{
	struct sync_filter f;

	if (sync_filter_parse(b->exclude_folders, &f, err) < 0)
		return NULL;
	sync_filter_release(&f);
	if (sync_filter_parse(b->include_folders, &f, err) < 0)
		return NULL;
	sync_filter_release(&f);
	return load_csv("batch new", a->csv, a->allow_unknown, err);
}

/* What was made, and what to do next. */
static void b_new_print(struct state *st, const struct b_new_args *a,
			const struct state_batch *b, size_t nusers)
{
	struct err err = ERR_INIT;
	struct state_endpoint e;

	printf("Batch %s created with %zu users%s.\n", a->name, nusers,
	       a->autostart ? " and started: 'imapmig sync --batch' it, "
			      "or let a running 'imapmig serve' take it"
			    : "; 'imapmig batch start' it when ready");
	if (a->dst != NULL)
		return;
	if (state_endpoint_get_id(st, b->target_id, &e, &err) == 0) {
		printf("No --target-endpoint: mail goes to Maildir under %s "
		       "(endpoint %s).\n",
		       e.path_template, e.name);
		state_endpoint_release(&e);
	}
	err_clear(&err);
}

static int b_new(int argc, char **argv)
{
	struct b_new_args a = {
		.incremental = -1,
		.max_message_size = 35ll * 1024 * 1024,
		.max_items = 500000,
	};
	struct state_batch b;
	struct csv_batch *cb = NULL;
	struct err err = ERR_INIT;
	struct state *st = NULL;
	int nargs, ret;
	size_t nusers;

	ret = opts_parse(&b_new_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	if (a.name == NULL || a.src == NULL || a.csv == NULL)
		return cli_usage_error(
			"batch new: --name, --source-endpoint and "
			"--csv are required");
	b_new_fill(&a, &b);
	cb = b_new_check(&a, &b, &err);
	if (cb == NULL)
		goto fail;
	st = cli_state_open("batch new", &ret);
	if (st == NULL)
		goto out;
	b.name = xstrdup(a.name);
	nusers = cb->n;
	if (sched_batch_new(st, &b, a.src, a.dst, a.autostart, cb, a.csv,
			    cli_state_path(), NULL, &err) < 0)
		goto fail;
	if (!cli_globals.quiet)
		b_new_print(st, &a, &b, nusers);
	ret = 0;
	goto out;
fail:
	ret = cli_fail("batch new", &err);
out:
	csv_batch_free(&cb);
	state_batch_release(&b);
	state_close(&st);
	return ret;
}

/* ---- batch get ---- */

/* One batch as "field : value" lines, the JSON's names and values. */
static void batch_print(json_t *o)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		printf("%-22s : ", key);
		if (json_is_string(v))
			printf("%s\n", esc(json_string_value(v)));
		else if (json_is_integer(v))
			printf("%lld\n", (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			printf("%s\n", json_is_true(v) ? "true" : "false");
		else
			printf("-\n");
	}
}

struct b_get_args {
	int json;
};

static const struct opt b_get_opts[] = {
	OPT_FLAG("json", 0, struct b_get_args, json, "print JSON"),
	OPT_END(),
};

static const struct opts_cmd b_get_cmd = {
	.name = "batch get",
	.group = "batch",
	.usage = "batch get [NAME] [--json]",
	.opts = b_get_opts,
	.max_args = 1,
};

/* The batch NAME (a list of one), or every batch. */
static int b_get_load(struct state *st, const char *name,
		      struct state_batch **v_r, size_t *n_r, struct err *err)
{
	if (name == NULL)
		return state_batch_list(st, v_r, n_r, err);
	*v_r = xcalloc(1, sizeof(**v_r));
	if (state_batch_get(st, name, *v_r, err) < 0) {
		free(*v_r);
		*v_r = NULL;
		return -1;
	}
	*n_r = 1;
	return 0;
}

/* One line per batch, under a header before the first. */
static void b_get_row(const struct state_batch *b,
		      const struct state_batch_counts *c, int first)
{
	if (first)
		printf("%-20s %-20s %11s %12s %12s %12s  %s\n", "name",
		       "status", "total_count", "synced_count", "failed_count",
		       "items_synced", "last_synced");
	printf("%-20s %-20s %11u %12u %12u %12llu  %s\n", b->name, b->status,
	       c->total, c->synced, c->failed,
	       (unsigned long long)c->items_synced,
	       cli_fmt_time(b->last_synced, 0));
}

static int b_get(int argc, char **argv)
{
	struct b_get_args a = {0};
	struct state_batch *v = NULL;
	struct err err = ERR_INIT;
	struct state *st;
	const char *name;
	size_t n = 0, i;
	int nargs, ret;
	json_t *arr;

	ret = opts_parse(&b_get_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	name = nargs > 0 ? argv[0] : NULL;
	st = cli_state_open("batch get", &ret);
	if (st == NULL)
		return ret;
	if (b_get_load(st, name, &v, &n, &err) < 0) {
		state_close(&st);
		return cli_fail("batch get", &err);
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		struct state_batch_counts c;
		json_t *o;
		if (state_batch_counts(st, v[i].id, &c, &err) < 0)
			continue;
		o = view_batch(st, &v[i], &c);
		if (a.json)
			json_array_append_new(arr, json_incref(o));
		else if (name != NULL)
			batch_print(o);
		else
			b_get_row(&v[i], &c, i == 0);
		json_decref(o);
	}
	if (a.json) {
		char *s = cli_json_dumps(name ? json_array_get(arr, 0) : arr);
		puts(s ? s : "null");
		free(s);
	} else if (n == 0) {
		puts("No batches yet: create one with 'imapmig batch new'.");
	}
	json_decref(arr);
	for (i = 0; i < n; i++)
		state_batch_release(&v[i]);
	free(v);
	state_close(&st);
	return 0;
}

/* ---- batch start, stop, complete, remove ---- */

struct b_action_args {
	int force, yes;
};

static const struct opt b_remove_opts[] = {
	OPT_FLAG("force", 0, struct b_action_args, force,
		 "even while users sync, or before the cutover catch-up"),
	OPT_FLAG("yes", 'y', struct b_action_args, yes,
		 "do not ask (for scripts)"),
	OPT_END(),
};

static const struct opts_cmd b_start_cmd =
	OPTS_CMD_ONE_ARG("batch start", "batch", "batch start NAME");
static const struct opts_cmd b_stop_cmd =
	OPTS_CMD_ONE_ARG("batch stop", "batch", "batch stop NAME");
static const struct opts_cmd b_complete_cmd =
	OPTS_CMD_ONE_ARG("batch complete", "batch", "batch complete NAME");
static const struct opts_cmd b_remove_cmd = {
	.name = "batch remove",
	.group = "batch",
	.usage = "batch remove NAME [--force] [--yes]",
	.opts = b_remove_opts,
	.min_args = 1,
	.max_args = 1,
};

/* batch remove: the rules first, then the question, then the deed. */
static int b_remove(struct state *st, const char *name,
		    const struct b_action_args *a)
{
	const char *cmd = "batch remove";
	struct sched_action_result res;
	struct err err = ERR_INIT;
	char q[300];
	int ret, ok, force = a->force ? SCHED_FORCE : 0;

	ret = sched_batch_act(st, name, SCHED_REMOVE, SCHED_CHECK_ONLY | force,
			      &res, &err);
	if (ret == 0) {
		snprintf(q, sizeof(q),
			 "Remove batch %s and its %u user(s) from the state? "
			 "Mail on the target stays.",
			 name, res.users);
		ok = cli_confirm(cmd, a->yes, q);
		if (ok <= 0)
			return ok < 0 ? 2 : 1;
		ret = sched_batch_act(st, name, SCHED_REMOVE, force, &res,
				      &err);
	}
	if (ret == 0 && !cli_globals.quiet)
		printf("Batch %s removed (mail on the target is kept).\n",
		       name);
	return ret < 0 ? cli_fail(cmd, &err) : 0;
}

static int b_action(const char *action, int argc, char **argv)
{
	static const struct opts_cmd *const cmds[] = {
		[SCHED_START] = &b_start_cmd,
		[SCHED_STOP] = &b_stop_cmd,
		[SCHED_COMPLETE] = &b_complete_cmd,
		[SCHED_REMOVE] = &b_remove_cmd,
	};
	enum sched_action act = (enum sched_action)sched_action_parse(action);
	const struct opts_cmd *c = cmds[act];
	struct b_action_args a = {0};
	struct sched_action_result res;
	struct err err = ERR_INIT;
	struct state *st;
	const char *name;
	int nargs, ret;

	ret = opts_parse(c, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	name = argv[0];
	st = cli_state_open(c->name, &ret);
	if (st == NULL)
		return ret;
	if (act == SCHED_REMOVE) {
		ret = b_remove(st, name, &a);
		state_close(&st);
		return ret;
	}
	ret = sched_batch_act(st, name, act, 0, &res, &err);
	if (ret == 0 && !cli_globals.quiet) {
		if (act == SCHED_START)
			printf("Batch %s started: its users are queued. "
			       "'imapmig sync --batch %s' copies them now, or "
			       "a running 'imapmig serve' within seconds.\n",
			       name, name);
		else if (act == SCHED_COMPLETE && !res.completed_now)
			printf("Batch %s: a final incremental sync is queued; "
			       "'imapmig sync' or 'imapmig serve' runs it and "
			       "completes the batch.\n",
			       name);
	}
	state_close(&st);
	return ret < 0 ? cli_fail(c->name, &err) : 0;
}

/* ---- batch set ---- */

struct b_set_args {
	const char *csv, *exclude;
	int add, unknown, sync_now;
	long long cutover, bad, bps; /* -1: not given */
};

static const struct opt b_set_opts[] = {
	OPT_FLAG("add-users", 0, struct b_set_args, add,
		 "add the users of --csv to the batch"),
	OPT_STRING("csv", struct b_set_args, csv, "F",
		   "the users to add (with --add-users)"),
	OPT_FLAG("allow-unknown-columns", 0, struct b_set_args, unknown,
		 "ignore CSV columns imapmig does not know"),
	OPT_FLAG("sync-now", 0, struct b_set_args, sync_now,
		 "queue an incremental sync of every synced user"),
	OPT_NUMBER("cutover", TIME, struct b_set_args, cutover, "TIME", 0,
		   LLONG_MAX, ": give a UTC time or now",
		   "the cutover time (UTC, or now)"),
	OPT_STRING("exclude-folders", struct b_set_args, exclude, "LIST",
		   "folders not to copy"),
	OPT_NUMBER("bad-item-limit", COUNT, struct b_set_args, bad, "N", 0,
		   LLONG_MAX, "", "bad items a user may have"),
	/* 0 lifts the limit */
	OPT_NUMBER("max-bytes-per-second", SIZE, struct b_set_args, bps,
		   "RATE|0", 0, LLONG_MAX,
		   ": give a rate such as 2M, or 0 for none",
		   "bytes a second per mailbox; 0: no limit"),
	OPT_END(),
};

static const struct opts_cmd b_set_cmd = {
	.name = "batch set",
	.group = "batch",
	.usage = "batch set NAME [--add-users --csv F] [--sync-now] "
		 "[--cutover TIME]",
	.opts = b_set_opts,
	.min_args = 1,
	.max_args = 1,
};

/* --add-users: the CSV's users join the batch; a batch that has started
 * syncs again. */
static int b_set_add_users(struct state *st, struct state_batch *b,
			   const struct b_set_args *a, struct err *err)
{
	struct csv_batch *cb = load_csv("batch set", a->csv, a->unknown, err);
	struct state_user *u;
	size_t n;
	int bs, ret;

	if (cb == NULL)
		return -1;
	n = cb->n;
	u = sched_users_from_csv(cb);
	bs = batch_status_parse(b->status);
	ret = state_users_add(st, b->id, u, n, a->csv, err);
	if (ret == 0 && bs != BATCH_CREATED && bs != BATCH_STOPPED)
		state_batch_set_status(b, BATCH_SYNCING);
	state_users_free(u, n);
	csv_batch_free(&cb);
	return ret;
}

/* The settings given, onto b (in memory). */
static int b_set_apply(struct state_batch *b, const struct b_set_args *a,
		       struct err *err)
{
	if (a->exclude != NULL) {
		struct sync_filter f;
		int ret = sync_filter_parse(a->exclude, &f, err);
		sync_filter_release(&f);
		if (ret < 0)
			return -1;
		free(b->exclude_folders);
		b->exclude_folders = xstrdup(a->exclude);
	}
	if (a->bad >= 0)
		b->bad_item_limit = (uint64_t)a->bad;
	if (a->cutover >= 0)
		b->cutover = (time_t)a->cutover;
	if (a->bps >= 0)
		b->max_bytes_per_second = (uint64_t)a->bps;
	return 0;
}

static int b_set(int argc, char **argv)
{
	struct b_set_args a = {.cutover = -1, .bad = -1, .bps = -1};
	const char *name;
	struct state_batch b;
	struct err err = ERR_INIT;
	struct state *st;
	int nargs, ret;

	ret = opts_parse(&b_set_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	name = argv[0];
	if (a.add != (a.csv != NULL))
		return cli_usage_error("batch set: --add-users and --csv go "
				       "together");
	st = cli_state_open("batch set", &ret);
	if (st == NULL)
		return ret;
	if (state_batch_get(st, name, &b, &err) < 0) {
		state_close(&st);
		return cli_fail("batch set", &err);
	}
	if (a.add)
		ret = b_set_add_users(st, &b, &a, &err);
	if (ret == 0)
		ret = b_set_apply(&b, &a, &err);
	if (ret == 0)
		ret = state_batch_update(st, &b, &err);
	/* the same rule as the web's sync-now, after the other changes */
	if (ret == 0 && a.sync_now) {
		ret = sched_batch_act(st, name, SCHED_SYNC_NOW, 0, NULL, &err);
		if (ret == 0 && !cli_globals.quiet)
			puts("Every synced user is queued for an incremental "
			     "sync: run 'imapmig sync' (or let 'imapmig serve' "
			     "pick it up).");
	}
	state_batch_release(&b);
	state_close(&st);
	return ret < 0 ? cli_fail("batch set", &err) : 0;
}

int cmd_batch(int argc, char **argv)
{
	static const struct opts_cmd *const actions[] = {
		&b_new_cmd,	 &b_get_cmd,	&b_start_cmd, &b_stop_cmd,
		&b_complete_cmd, &b_remove_cmd, &b_set_cmd,   NULL,
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		opts_help(stdout, actions);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "new") == 0)
		return b_new(argc - 1, argv + 1);
	if (strcmp(argv[1], "get") == 0)
		return b_get(argc - 1, argv + 1);
	if (strcmp(argv[1], "set") == 0)
		return b_set(argc - 1, argv + 1);
	if (strcmp(argv[1], "start") == 0 || strcmp(argv[1], "stop") == 0 ||
	    strcmp(argv[1], "complete") == 0 || strcmp(argv[1], "remove") == 0)
		return b_action(argv[1], argc - 1, argv + 1);
	return cli_usage_error("batch: unknown action '%s': use new, get, "
			       "start, stop, complete, remove or set",
			       argv[1]);
}
