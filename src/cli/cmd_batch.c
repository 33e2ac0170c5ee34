/* cmd_batch.c - `imapmig batch ...`: the procedure's Steps 4 and 6
 * (New-, Get-, Start-, Stop-, Complete-, Remove-, Set-MigrationBatch). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
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

static int b_new(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"name", required_argument, NULL, 'n'},
		{"source-endpoint", required_argument, NULL, 's'},
		{"target-endpoint", required_argument, NULL, 't'},
		{"csv", required_argument, NULL, 'c'},
		{"autostart", no_argument, NULL, 'a'},
		{"exclude-folders", required_argument, NULL, 'x'},
		{"include-folders", required_argument, NULL, 'i'},
		{"allow-incremental-syncs", required_argument, NULL, 'I'},
		{"allow-unknown-columns", no_argument, NULL, 'u'},
		{"bad-item-limit", required_argument, NULL, 'b'},
		{"max-message-size", required_argument, NULL, 'm'},
		{"max-items", required_argument, NULL, 'M'},
		{"start-after", required_argument, NULL, 'S'},
		{"notification-emails", required_argument, NULL, 'e'},
		{"max-bytes-per-second", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	const char *name = NULL, *src = NULL, *dst = NULL, *csv = NULL;
	struct state_batch b;
	struct csv_batch *cb = NULL;
	struct err err = ERR_INIT;
	struct sync_filter f;
	struct state *st = NULL;
	int ch, autostart = 0, allow_unknown = 0, ret = 1;
	size_t nusers = 0;

	memset(&b, 0, sizeof(b));
	b.allow_incremental = 1;
	b.max_message_size = 35ull * 1024 * 1024;
	b.max_items = 500000;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		long long v;
		switch (ch) {
		case 'n': name = optarg; break;
		case 's': src = optarg; break;
		case 't': dst = optarg; break;
		case 'c': csv = optarg; break;
		case 'a': autostart = 1; break;
		case 'x': b.exclude_folders = xstrdup(optarg); break;
		case 'i': b.include_folders = xstrdup(optarg); break;
		case 'I':
			if (strcasecmp(optarg, "true") == 0)
				b.allow_incremental = 1;
			else if (strcasecmp(optarg, "false") == 0)
				b.allow_incremental = 0;
			else
				return cli_usage_error("batch new: "
						       "--allow-incremental-"
						       "syncs %s: use true or "
						       "false",
						       optarg);
			break;
		case 'u': allow_unknown = 1; break;
		case 'b':
			if ((v = cli_parse_count(optarg)) < 0)
				return cli_usage_error("batch new: "
						       "--bad-item-limit %s: "
						       "give a number",
						       optarg);
			b.bad_item_limit = (uint64_t)v;
			break;
		case 'm':
			if ((v = cli_parse_size(optarg)) <= 0)
				return cli_usage_error(
					"batch new: "
					"--max-message-size %s: "
					"give a size such as 35M",
					optarg);
			b.max_message_size = (uint64_t)v;
			break;
		case 'M':
			if ((v = cli_parse_count(optarg)) <= 0)
				return cli_usage_error(
					"batch new: --max-items "
					"%s: give a number above "
					"0",
					optarg);
			b.max_items = (uint64_t)v;
			break;
		case 'R':
			if ((v = cli_parse_size(optarg)) <= 0)
				return cli_usage_error(
					"batch new: --max-bytes-per-second "
					"%s: give a rate such as 2M (bytes a "
					"second, per mailbox)",
					optarg);
			b.max_bytes_per_second = (uint64_t)v;
			break;
		case 'S':
			if ((v = cli_parse_time(optarg)) < 0)
				return cli_usage_error(
					"batch new: --start-after "
					"%s: give a time such as "
					"'2026-11-30 22:00' (UTC) "
					"or +2h",
					optarg);
			b.start_after = (time_t)v;
			break;
		case 'e': b.notification_emails = xstrdup(optarg); break;
		default:
			return cli_bad_option("batch new", argv[optind - 1],
					      "imapmig batch --help");
		}
	}
	if (name == NULL || src == NULL || csv == NULL)
		return cli_usage_error(
			"batch new: --name, --source-endpoint and "
			"--csv are required");
	/* Check every input before anything is written: the folder
	 * filters, the CSV, then (sched_batch_new) the endpoints. */
	if (sync_filter_parse(b.exclude_folders, &f, &err) < 0)
		goto fail;
	sync_filter_release(&f);
	if (sync_filter_parse(b.include_folders, &f, &err) < 0)
		goto fail;
	sync_filter_release(&f);
	cb = load_csv("batch new", csv, allow_unknown, &err);
	if (cb == NULL)
		goto fail;
	st = cli_state_open("batch new", &ret);
	if (st == NULL)
		goto out;
	b.name = xstrdup(name);
	nusers = cb->n;
	if (sched_batch_new(st, &b, src, dst, autostart, cb, csv,
			    cli_state_path(), NULL, &err) < 0)
		goto fail;
	if (!cli_globals.quiet) {
		printf("Batch %s created with %zu users%s.\n", name, nusers,
		       autostart ? " and started: 'imapmig sync --batch' it, "
				   "or let a running 'imapmig serve' take it"
				 : "; 'imapmig batch start' it when ready");
		if (dst == NULL) {
			struct state_endpoint e;
			if (state_endpoint_get_id(st, b.target_id, &e, &err) ==
			    0) {
				printf("No --target-endpoint: mail goes to "
				       "Maildir under %s (endpoint %s).\n",
				       e.path_template, e.name);
				state_endpoint_release(&e);
			}
			err_clear(&err);
		}
	}
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

static int b_get(int argc, char **argv)
{
	struct state_batch *v = NULL, one;
	struct err err = ERR_INIT;
	struct state *st;
	const char *name = NULL;
	size_t n = 0, i;
	int json = 0, ai, ret;
	json_t *arr;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--json") == 0)
			json = 1;
		else if (argv[ai][0] != '-' && name == NULL)
			name = argv[ai];
		else
			return cli_usage_error("batch get: unexpected '%s'",
					       argv[ai]);
	}
	st = cli_state_open("batch get", &ret);
	if (st == NULL)
		return ret;
	arr = json_array(); /* after the early returns: not leaked */
	if (name != NULL) {
		if (state_batch_get(st, name, &one, &err) < 0) {
			state_close(&st);
			json_decref(arr);
			return cli_fail("batch get", &err);
		}
		v = xmalloc(sizeof(*v));
		v[0] = one;
		n = 1;
	} else if (state_batch_list(st, &v, &n, &err) < 0) {
		state_close(&st);
		json_decref(arr);
		return cli_fail("batch get", &err);
	}
	for (i = 0; i < n; i++) {
		struct state_batch_counts c;
		json_t *o;
		if (state_batch_counts(st, v[i].id, &c, &err) < 0)
			continue;
		o = view_batch(st, &v[i], &c);
		if (json) {
			json_array_append_new(arr, o);
			continue;
		}
		if (name != NULL) {
			batch_print(o);
		} else {
			/* one line per batch */
			if (i == 0)
				printf("%-20s %-20s %11s %12s %12s %12s  %s\n",
				       "name", "status", "total_count",
				       "synced_count", "failed_count",
				       "items_synced", "last_synced");
			printf("%-20s %-20s %11u %12u %12u %12llu  %s\n",
			       v[i].name, v[i].status, c.total, c.synced,
			       c.failed, (unsigned long long)c.items_synced,
			       cli_fmt_time(v[i].last_synced, 0));
		}
		json_decref(o);
	}
	if (json) {
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

static int b_action(const char *action, int argc, char **argv)
{
	struct sched_action_result res;
	struct err err = ERR_INIT;
	struct state *st;
	char cmd[32];
	int force = 0, yes = 0, ai, ret = 0;
	const char *name = NULL;
	enum sched_action a = (enum sched_action)sched_action_parse(action);

	snprintf(cmd, sizeof(cmd), "batch %s", action);
	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--force") == 0 && a == SCHED_REMOVE)
			force = 1;
		else if ((strcmp(argv[ai], "--yes") == 0 ||
			  strcmp(argv[ai], "-y") == 0) &&
			 a == SCHED_REMOVE)
			yes = 1;
		else if (argv[ai][0] != '-' && name == NULL)
			name = argv[ai];
		else
			return cli_usage_error("%s: unexpected '%s'", cmd,
					       argv[ai]);
	}
	if (name == NULL)
		return cli_usage_error("%s NAME", cmd);
	st = cli_state_open(cmd, &ret);
	if (st == NULL)
		return ret;
	if (a == SCHED_REMOVE) {
		char q[300];
		int ok;
		/* the rules first, then the question, then the deed */
		ret = sched_batch_act(st, name, a,
				      SCHED_CHECK_ONLY |
					      (force ? SCHED_FORCE : 0),
				      &res, &err);
		if (ret == 0) {
			snprintf(q, sizeof(q),
				 "Remove batch %s and its %u user(s) from the "
				 "state? Mail on the target stays.",
				 name, res.users);
			ok = cli_confirm(cmd, yes, q);
			if (ok <= 0) {
				state_close(&st);
				return ok < 0 ? 2 : 1;
			}
			ret = sched_batch_act(st, name, a,
					      force ? SCHED_FORCE : 0, &res,
					      &err);
		}
		if (ret == 0 && !cli_globals.quiet)
			printf("Batch %s removed (mail on the target is "
			       "kept).\n",
			       name);
		state_close(&st);
		return ret < 0 ? cli_fail(cmd, &err) : 0;
	}
	ret = sched_batch_act(st, name, a, 0, &res, &err);
	if (ret == 0 && !cli_globals.quiet) {
		if (a == SCHED_START)
			printf("Batch %s started: its users are queued. "
			       "'imapmig sync --batch %s' copies them now, or "
			       "a running 'imapmig serve' within seconds.\n",
			       name, name);
		else if (a == SCHED_COMPLETE && !res.completed_now)
			printf("Batch %s: a final incremental sync is queued; "
			       "'imapmig sync' or 'imapmig serve' runs it and "
			       "completes the batch.\n",
			       name);
	}
	state_close(&st);
	return ret < 0 ? cli_fail(cmd, &err) : 0;
}

static int b_set(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"add-users", no_argument, NULL, 'A'},
		{"csv", required_argument, NULL, 'c'},
		{"allow-unknown-columns", no_argument, NULL, 'u'},
		{"sync-now", no_argument, NULL, 'N'},
		{"cutover", required_argument, NULL, 'C'},
		{"exclude-folders", required_argument, NULL, 'x'},
		{"bad-item-limit", required_argument, NULL, 'b'},
		{"max-bytes-per-second", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	const char *name, *csv = NULL, *exclude = NULL;
	struct state_batch b;
	struct err err = ERR_INIT;
	struct state *st;
	int ch, add = 0, unknown = 0, sync_now = 0, ret = 0;
	long long cutover = -1, bad = -1, bps = -1;

	if (argc < 2 || argv[1][0] == '-')
		return cli_usage_error("batch set NAME [--add-users --csv F] "
				       "[--sync-now] [--cutover TIME]");
	name = argv[1];
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A': add = 1; break;
		case 'c': csv = optarg; break;
		case 'u': unknown = 1; break;
		case 'N': sync_now = 1; break;
		case 'C':
			if ((cutover = cli_parse_time(optarg)) < 0)
				return cli_usage_error(
					"batch set: --cutover %s: "
					"give a UTC time or now",
					optarg);
			break;
		case 'x': exclude = optarg; break;
		case 'b':
			if ((bad = cli_parse_count(optarg)) < 0)
				return cli_usage_error("batch set: "
						       "--bad-item-limit %s",
						       optarg);
			break;
		case 'R':
			/* 0 lifts the limit */
			if ((bps = cli_parse_size(optarg)) < 0)
				return cli_usage_error(
					"batch set: --max-bytes-per-second "
					"%s: give a rate such as 2M, or 0 for "
					"none",
					optarg);
			break;
		default:
			return cli_bad_option("batch set", argv[optind - 1],
					      "imapmig batch --help");
		}
	}
	if (add != (csv != NULL))
		return cli_usage_error("batch set: --add-users and --csv go "
				       "together");
	st = cli_state_open("batch set", &ret);
	if (st == NULL)
		return ret;
	if (state_batch_get(st, name, &b, &err) < 0) {
		state_close(&st);
		return cli_fail("batch set", &err);
	}
	if (add) {
		struct csv_batch *cb =
			load_csv("batch set", csv, unknown, &err);
		if (cb == NULL) {
			ret = -1;
		} else {
			size_t n = cb->n;
			struct state_user *u = sched_users_from_csv(cb);
			int bs = batch_status_parse(b.status);
			int started =
				bs != BATCH_CREATED && bs != BATCH_STOPPED;
			ret = state_users_add(st, b.id, u, n, csv, &err);
			if (ret == 0 && started)
				state_batch_set_status(&b, BATCH_SYNCING);
			state_users_free(u, n);
			csv_batch_free(&cb);
		}
	}
	if (ret == 0 && exclude != NULL) {
		struct sync_filter f;
		ret = sync_filter_parse(exclude, &f, &err);
		sync_filter_release(&f);
		if (ret == 0) {
			free(b.exclude_folders);
			b.exclude_folders = xstrdup(exclude);
		}
	}
	if (bad >= 0)
		b.bad_item_limit = (uint64_t)bad;
	if (cutover >= 0)
		b.cutover = (time_t)cutover;
	if (bps >= 0)
		b.max_bytes_per_second = (uint64_t)bps;
	if (ret == 0)
		ret = state_batch_update(st, &b, &err);
	/* the same rule as the web's sync-now, after the other changes */
	if (ret == 0 && sync_now) {
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
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: imapmig batch new --name N --source-endpoint E "
		     "[--target-endpoint T] --csv F [--autostart]\n"
		     "           [--exclude-folders LIST] [--include-folders "
		     "LIST] [--allow-incremental-syncs true|false]\n"
		     "           [--allow-unknown-columns] [--bad-item-limit "
		     "N] "
		     "[--max-message-size 35M] [--max-items 500000]\n"
		     "           [--start-after TIME] [--notification-emails "
		     "LIST] [--max-bytes-per-second 2M]\n"
		     "       imapmig batch get [NAME] [--json] | start NAME | "
		     "stop NAME | complete NAME | remove NAME [--force] "
		     "[--yes]\n"
		     "       imapmig batch set NAME [--add-users --csv F] "
		     "[--sync-now] [--cutover TIME]\n"
		     "           [--exclude-folders LIST] [--bad-item-limit N] "
		     "[--max-bytes-per-second RATE|0]");
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
