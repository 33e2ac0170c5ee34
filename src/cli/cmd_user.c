/* cmd_user.c - `imapmig user get|stats|start|stop|remove`: per-mailbox
 * status and statistics (Get-MigrationUser, Get-MigrationUserStatistics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/progress.h"
#include "cli/users.h"
#include "sched/views.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "util/escape.h"

enum user_format { FMT_TEXT = 0, FMT_JSON, FMT_CSV };

/* ---- user get ---- */

struct u_get_args {
	const char *batch, *status;
	int format;
};

static const struct opt u_get_opts[] = {
	OPT_STRING("batch", struct u_get_args, batch, "NAME",
		   "only the batch's users"),
	OPT_STRING("status", struct u_get_args, status, "S",
		   "only the users of this status"),
	OPT_SET_INT("json", struct u_get_args, format, FMT_JSON, "print JSON"),
	OPT_SET_INT("csv", struct u_get_args, format, FMT_CSV, "print CSV"),
	OPT_END(),
};

static const struct opts_cmd u_get_cmd = {
	.name = "user get",
	.group = "user",
	.usage = "user get [--batch NAME] [--status S] [EMAIL] [--json|--csv]",
	.opts = u_get_opts,
	.max_args = 1,
	.notes = "--status takes Queued, Syncing, IncrementalSyncing, Synced, "
		 "Failed,\nIncrementalFailed, Stopped or Completed, in any "
		 "case.",
};

/* --status in any case as the status's own name; NULL (the error
 * printed) if it names none: an unknown name is a mistake, not an
 * empty list. */
static const char *status_canonical(const char *status)
{
	struct buf names = BUF_INIT;
	int k;

	for (k = 0; k < USER_STATUS_N; k++)
		if (strcasecmp(status, user_status_name(k)) == 0)
			return user_status_name(k);
	for (k = 0; k < USER_STATUS_N; k++)
		buf_addf(&names, "%s%s", k ? ", " : "", user_status_name(k));
	cli_usage_error(
		"user get: --status '%s' is not a status: use one of %s",
		status, names.p);
	buf_release(&names);
	return NULL;
}

/* The users as a table, under the JSON's names. */
static void u_get_table(const struct state_user *v, size_t n)
{
	size_t i;

	printf("%-32s %-20s %12s %13s %12s  %-23s %s\n", "email", "status",
	       "items_synced", "items_skipped", "bytes_synced", "last_synced",
	       "error");
	for (i = 0; i < n; i++) {
		char size[32], pe[256];
		progress_fmt_bytes(v[i].bytes_synced, size, sizeof(size));
		printf("%s %-20s %12llu %13llu %12s  %-23s %s\n",
		       cli_pad(esc(v[i].email), 32, pe, sizeof(pe)),
		       esc(v[i].status), (unsigned long long)v[i].items_synced,
		       (unsigned long long)v[i].items_skipped, size,
		       cli_fmt_time(v[i].last_synced, 0),
		       v[i].error ? esc(v[i].error) : "");
	}
}

/* The users as the web API's JSON, or as CSV made of it. */
static void u_get_json(struct state *st, const struct state_user *v, size_t n,
		       int format)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, view_user(st, &v[i]));
	if (format == FMT_CSV) {
		cli_print_csv(stdout, arr);
	} else {
		char *s = cli_json_dumps(arr);
		puts(s);
		free(s);
	}
	json_decref(arr);
}

static int u_get(int argc, char **argv)
{
	struct u_get_args a = {0};
	const char *status = NULL;
	struct state_user *v = NULL;
	struct err err = ERR_INIT;
	struct state *st;
	size_t n = 0;
	int nargs, ret;

	ret = opts_parse(&u_get_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	if (a.status != NULL && (status = status_canonical(a.status)) == NULL)
		return 2;
	st = cli_state_open("user get", &ret);
	if (st == NULL)
		return ret;
	if (cli_users_load(st, nargs > 0 ? argv[0] : NULL, a.batch, status, &v,
			   &n, &err) < 0) {
		state_close(&st);
		return cli_fail("user get", &err);
	}
	if (a.format != FMT_TEXT)
		u_get_json(st, v, n, a.format);
	else
		u_get_table(v, n);
	state_users_free(v, n);
	state_close(&st);
	return 0;
}

/* ---- user stats ---- */

struct u_stats_args {
	int report, skipped, format;
};

static const struct opt u_stats_opts[] = {
	OPT_FLAG("include-report", 0, struct u_stats_args, report,
		 "each folder: where it goes, its messages"),
	OPT_FLAG("include-skipped-items", 0, struct u_stats_args, skipped,
		 "each message not copied, and why"),
	OPT_SET_INT("json", struct u_stats_args, format, FMT_JSON,
		    "print JSON"),
	OPT_SET_INT("csv", struct u_stats_args, format, FMT_CSV,
		    "print the skipped items as CSV"),
	OPT_END(),
};

static const struct opts_cmd u_stats_cmd = {
	.name = "user stats",
	.group = "user",
	.usage = "user stats EMAIL [--include-report] "
		 "[--include-skipped-items] [--json|--csv]",
	.opts = u_stats_opts,
	.min_args = 1,
	.max_args = 1,
};

/* What user stats shows of one user, read from the state. */
struct u_stats_data {
	struct state_user u;
	struct state_skipped *sk;
	struct state_folder_row *fr;
	size_t nsk, nfr;
	json_t *o; /* the web API's JSON */
};

static void u_stats_release(struct u_stats_data *d)
{
	json_decref(d->o);
	state_skipped_free(d->sk, d->nsk);
	state_folder_rows_free(d->fr, d->nfr);
	state_user_release(&d->u);
}

/* Read the user, its skipped items and its folders (as asked), and the
 * JSON of them; on failure what was read is released. */
static int u_stats_load(struct state *st, const char *email,
			const struct u_stats_args *a, struct u_stats_data *d,
			struct err *err)
{
	memset(d, 0, sizeof(*d));
	if (state_user_get(st, email, &d->u, err) < 0)
		return -1;
	if ((a->skipped &&
	     state_skipped_list(st, d->u.id, &d->sk, &d->nsk, err) < 0) ||
	    (a->report &&
	     state_folder_list(st, d->u.id, &d->fr, &d->nfr, err) < 0)) {
		u_stats_release(d);
		return -1;
	}
	/* the JSON (and the CSV made from it) is the web API's too */
	d->o = view_user_stats(st, email, a->report, a->skipped, err);
	if (d->o == NULL) {
		u_stats_release(d);
		return -1;
	}
	return 0;
}

/* --csv: the skipped items, one row each (the report to keep). */
static void u_stats_csv(json_t *o)
{
	json_t *sa = json_object_get(o, "skipped_items");

	if (sa == NULL || json_array_size(sa) == 0)
		/* a header even when there is nothing to list */
		fputs("\"folder\",\"uid\",\"subject\",\"sender\","
		      "\"date\",\"size\",\"kind\",\"reason\"\r\n",
		      stdout);
	else
		cli_print_csv(stdout, sa);
}

static void u_stats_folders(const struct u_stats_data *d)
{
	size_t i;

	printf("\nFolders:\n");
	for (i = 0; i < d->nfr; i++)
		printf("  %-30s -> %-30s %6u messages, %6llu copied\n",
		       esc(d->fr[i].src),
		       d->fr[i].dst ? esc(d->fr[i].dst) : "(excluded)",
		       d->fr[i].messages,
		       (unsigned long long)d->fr[i].items_synced);
}

static void u_stats_skipped(const struct u_stats_data *d)
{
	const struct state_skipped *sk = d->sk;
	char size[32];
	size_t i;

	printf("\nSkipped items:\n");
	if (d->nsk == 0)
		printf("  (none)\n");
	for (i = 0; i < d->nsk; i++) {
		progress_fmt_bytes(sk[i].size, size, sizeof(size));
		printf("  %s UID %u, %s, \"%s\" from %s, %s: %s\n",
		       esc(sk[i].folder), sk[i].uid, size, esc(sk[i].subject),
		       sk[i].sender ? esc(sk[i].sender) : "?",
		       sk[i].date ? esc(sk[i].date) : "?", esc(sk[i].reason));
	}
}

/* The statistics as "Field : value" lines (Get-MigrationUserStatistics). */
static void u_stats_text(struct state *st, const struct u_stats_data *d,
			 const struct u_stats_args *a)
{
	const struct state_user *u = &d->u;
	char size[32];

	progress_fmt_bytes(u->bytes_synced, size, sizeof(size));
	printf("Identity          : %s\n", esc(u->email));
	printf("Batch             : %s\n",
	       esc(json_string_value(json_object_get(d->o, "batch"))));
	printf("Status            : %s\n", esc(u->status));
	printf("UserName          : %s\n", esc(u->username));
	printf("ItemsSynced       : %llu\n",
	       (unsigned long long)u->items_synced);
	printf("ItemsSkipped      : %llu\n",
	       (unsigned long long)u->items_skipped);
	printf("BadItems          : %llu\n", (unsigned long long)u->bad_items);
	printf("BytesSynced       : %s\n", size);
	printf("DataConsistency   : %s\n",
	       view_grade_name(view_user_grade(st, u)));
	printf("LastSyncedTime    : %s\n", cli_fmt_time(u->last_synced, 0));
	printf("TimeSyncing       : %llu s\n",
	       (unsigned long long)u->seconds_syncing);
	printf("TimeThrottled     : %llu s\n",
	       (unsigned long long)u->seconds_throttled);
	printf("Error             : %s\n", esc(u->error));
	if (a->report)
		u_stats_folders(d);
	if (a->skipped)
		u_stats_skipped(d);
}

static int u_stats(int argc, char **argv)
{
	struct u_stats_args a = {0};
	struct u_stats_data d;
	struct err err = ERR_INIT;
	struct state *st;
	int nargs, ret;

	ret = opts_parse(&u_stats_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	if (a.format == FMT_CSV)
		a.skipped = 1;
	st = cli_state_open("user stats", &ret);
	if (st == NULL)
		return ret;
	if (u_stats_load(st, argv[0], &a, &d, &err) < 0) {
		state_close(&st);
		return cli_fail("user stats", &err);
	}
	if (a.format == FMT_CSV) {
		u_stats_csv(d.o);
	} else if (a.format == FMT_JSON) {
		char *s = cli_json_dumps(d.o);
		puts(s);
		free(s);
	} else {
		u_stats_text(st, &d, &a);
	}
	u_stats_release(&d);
	state_close(&st);
	return 0;
}

/* ---- user start, stop, remove ---- */

struct u_action_args {
	int yes;
};

static const struct opt u_remove_opts[] = {
	OPT_FLAG("yes", 'y', struct u_action_args, yes,
		 "do not ask (for scripts)"),
	OPT_END(),
};

static const struct opts_cmd u_start_cmd =
	OPTS_CMD_ONE_ARG("user start", "user", "user start EMAIL");
static const struct opts_cmd u_stop_cmd =
	OPTS_CMD_ONE_ARG("user stop", "user", "user stop EMAIL");
static const struct opts_cmd u_remove_cmd = {
	.name = "user remove",
	.group = "user",
	.usage = "user remove EMAIL [--yes]",
	.opts = u_remove_opts,
	.min_args = 1,
	.max_args = 1,
};

/* remove asks first: 0 to go on, else the exit code. */
static int u_remove_confirm(const char *cmd, const struct state_user *u,
			    int yes)
{
	char q[400];
	int ok;

	snprintf(q, sizeof(q),
		 "Remove user %s (%s) from the state? Mail on the target "
		 "stays.",
		 u->email, u->status);
	ok = cli_confirm(cmd, yes, q);
	return ok > 0 ? 0 : ok < 0 ? 2 : 1;
}

/* start or stop: the status the transition table gives, or the error. */
static int u_start_stop(struct state *st, const struct state_user *u,
			const char *cmd, int stop, struct err *err)
{
	int from = user_status_parse(u->status);
	int to = user_status_next(from, stop ? USER_STOP : USER_START);

	if (to < 0)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "user %s is %s: '%s' does not apply (a "
			       "completed user does not sync again; to migrate "
			       "it anew, put it in a new batch)",
			       u->email, u->status, cmd);
	if (to == from)
		return 0;
	return state_user_set_status(
		st, u->id, user_status_name((enum user_status)to), NULL, err);
}

static int u_action(const char *action, int argc, char **argv)
{
	const struct opts_cmd *c = strcmp(action, "remove") == 0 ? &u_remove_cmd
				   : strcmp(action, "stop") == 0 ? &u_stop_cmd
								 : &u_start_cmd;
	struct u_action_args a = {0};
	struct state_user u;
	struct err err = ERR_INIT;
	struct state *st;
	int nargs, ret;

	ret = opts_parse(c, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	st = cli_state_open(c->name, &ret);
	if (st == NULL)
		return ret;
	if (state_user_get(st, argv[0], &u, &err) < 0) {
		state_close(&st);
		return cli_fail(c->name, &err);
	}
	if (c == &u_remove_cmd) {
		ret = u_remove_confirm(c->name, &u, a.yes);
		if (ret != 0) {
			state_user_release(&u);
			state_close(&st);
			return ret;
		}
		ret = state_user_remove(st, u.id, &err);
	} else {
		ret = u_start_stop(st, &u, c->name, c == &u_stop_cmd, &err);
	}
	state_user_release(&u);
	state_close(&st);
	return ret < 0 ? cli_fail(c->name, &err) : 0;
}

int cmd_user(int argc, char **argv)
{
	static const struct opts_cmd *const actions[] = {
		&u_get_cmd,   &u_stats_cmd, &cmd_user_preview_opts,
		&u_start_cmd, &u_stop_cmd,  &u_remove_cmd,
		NULL,
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		opts_help(stdout, actions);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "get") == 0)
		return u_get(argc - 1, argv + 1);
	if (strcmp(argv[1], "stats") == 0)
		return u_stats(argc - 1, argv + 1);
	if (strcmp(argv[1], "preview") == 0)
		return cmd_user_preview(argc - 1, argv + 1);
	if (strcmp(argv[1], "start") == 0 || strcmp(argv[1], "stop") == 0 ||
	    strcmp(argv[1], "remove") == 0)
		return u_action(argv[1], argc - 1, argv + 1);
	return cli_usage_error("user: unknown action '%s': use get, stats, "
			       "preview, start, stop or remove",
			       argv[1]);
}
