/* cmd_user.c - `imapmig user get|stats|start|stop|remove`: per-mailbox
 * status and statistics (Get-MigrationUser, Get-MigrationUserStatistics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "sched/views.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "util/escape.h"

static int u_get(int argc, char **argv)
{
	const char *batch = NULL, *status = NULL, *email = NULL;
	struct state_user *v = NULL;
	struct err err = ERR_INIT;
	struct state *st;
	int64_t batch_id = 0;
	size_t n = 0, i;
	int json = 0, ai, ret;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--json") == 0)
			json = 1;
		else if (strcmp(argv[ai], "--csv") == 0)
			json = 2;
		else if (strcmp(argv[ai], "--batch") == 0 && ai + 1 < argc)
			batch = argv[++ai];
		else if (strcmp(argv[ai], "--status") == 0 && ai + 1 < argc)
			status = argv[++ai];
		else if (argv[ai][0] != '-' && email == NULL)
			email = argv[ai];
		else
			return cli_usage_error("user get: unexpected '%s'",
					       argv[ai]);
	}
	if (status != NULL) {
		/* any case; an unknown name is a mistake, not an empty list */
		int k;
		for (k = 0; k < USER_STATUS_N; k++)
			if (strcasecmp(status, user_status_name(k)) == 0)
				break;
		if (k == USER_STATUS_N) {
			struct buf names = BUF_INIT;
			for (k = 0; k < USER_STATUS_N; k++)
				buf_addf(&names, "%s%s", k ? ", " : "",
					 user_status_name(k));
			cli_usage_error("user get: --status '%s' is not a "
					"status: use one of %s",
					status, names.p);
			buf_release(&names);
			return 2;
		}
		status = user_status_name(k);
	}
	st = cli_state_open("user get", &ret);
	if (st == NULL)
		return ret;
	if (batch != NULL) {
		struct state_batch b;
		if (state_batch_get(st, batch, &b, &err) < 0)
			goto fail;
		batch_id = b.id;
		state_batch_release(&b);
	}
	if (email != NULL) {
		v = xcalloc(1, sizeof(*v));
		if (state_user_get(st, email, v, &err) < 0) {
			free(v);
			goto fail;
		}
		n = 1;
	} else if (state_user_list(st, batch_id, status, &v, &n, &err) < 0) {
		goto fail;
	}
	if (json) {
		json_t *arr = json_array();
		char *s;
		for (i = 0; i < n; i++)
			json_array_append_new(arr, view_user(st, &v[i]));
		if (json == 2) {
			cli_print_csv(stdout, arr);
		} else {
			s = cli_json_dumps(arr);
			puts(s);
			free(s);
		}
		json_decref(arr);
	} else {
		/* the JSON's names */
		printf("%-32s %-20s %12s %13s %12s  %-23s %s\n", "email",
		       "status", "items_synced", "items_skipped",
		       "bytes_synced", "last_synced", "error");
		for (i = 0; i < n; i++) {
			char size[32];
			progress_fmt_bytes(v[i].bytes_synced, size,
					   sizeof(size));
			char pe[256];
			printf("%s %-20s %12llu %13llu %12s  %-23s %s\n",
			       cli_pad(esc(v[i].email), 32, pe, sizeof(pe)),
			       esc(v[i].status),
			       (unsigned long long)v[i].items_synced,
			       (unsigned long long)v[i].items_skipped, size,
			       cli_fmt_time(v[i].last_synced, 0),
			       v[i].error ? esc(v[i].error) : "");
		}
	}
	state_users_free(v, n);
	state_close(&st);
	return 0;
fail:
	state_close(&st);
	return cli_fail("user get", &err);
}

static int u_stats(int argc, char **argv)
{
	const char *email = NULL;
	int report = 0, skipped = 0, json = 0, ai, ret;
	struct state_user u;
	struct state_skipped *sk = NULL;
	struct state_folder_row *fr = NULL;
	size_t nsk = 0, nfr = 0, i;
	struct err err = ERR_INIT;
	struct state *st;
	json_t *o;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--include-report") == 0)
			report = 1;
		else if (strcmp(argv[ai], "--include-skipped-items") == 0)
			skipped = 1;
		else if (strcmp(argv[ai], "--json") == 0)
			json = 1;
		else if (strcmp(argv[ai], "--csv") == 0)
			json = 2;
		else if (argv[ai][0] != '-' && email == NULL)
			email = argv[ai];
		else
			return cli_usage_error("user stats: unexpected '%s'",
					       argv[ai]);
	}
	if (email == NULL)
		return cli_usage_error(
			"user stats EMAIL [--include-report] "
			"[--include-skipped-items] [--json|--csv]");
	if (json == 2)
		skipped = 1;
	st = cli_state_open("user stats", &ret);
	if (st == NULL)
		return ret;
	if (state_user_get(st, email, &u, &err) < 0 ||
	    (skipped && state_skipped_list(st, u.id, &sk, &nsk, &err) < 0) ||
	    (report && state_folder_list(st, u.id, &fr, &nfr, &err) < 0)) {
		state_close(&st);
		return cli_fail("user stats", &err);
	}
	/* the JSON (and the CSV made from it) is the web API's too */
	o = view_user_stats(st, email, report, skipped, &err);
	if (o == NULL) {
		state_skipped_free(sk, nsk);
		state_folder_rows_free(fr, nfr);
		state_user_release(&u);
		state_close(&st);
		return cli_fail("user stats", &err);
	}
	if (json == 2) {
		/* the skipped items, one row each (the report to keep) */
		json_t *sa = json_object_get(o, "skipped_items");
		if (sa == NULL || json_array_size(sa) == 0) {
			/* a header even when there is nothing to list */
			fputs("\"folder\",\"uid\",\"subject\",\"sender\","
			      "\"date\",\"size\",\"kind\",\"reason\"\r\n",
			      stdout);
		} else {
			cli_print_csv(stdout, sa);
		}
	} else if (json) {
		char *s = cli_json_dumps(o);
		puts(s);
		free(s);
	} else {
		char size[32];
		progress_fmt_bytes(u.bytes_synced, size, sizeof(size));
		printf("Identity          : %s\n", esc(u.email));
		printf("Batch             : %s\n",
		       esc(json_string_value(json_object_get(o, "batch"))));
		printf("Status            : %s\n", esc(u.status));
		printf("UserName          : %s\n", esc(u.username));
		printf("ItemsSynced       : %llu\n",
		       (unsigned long long)u.items_synced);
		printf("ItemsSkipped      : %llu\n",
		       (unsigned long long)u.items_skipped);
		printf("BadItems          : %llu\n",
		       (unsigned long long)u.bad_items);
		printf("BytesSynced       : %s\n", size);
		printf("DataConsistency   : %s\n",
		       view_grade_name(view_user_grade(st, &u)));
		printf("LastSyncedTime    : %s\n",
		       cli_fmt_time(u.last_synced, 0));
		printf("TimeSyncing       : %llu s\n",
		       (unsigned long long)u.seconds_syncing);
		printf("TimeThrottled     : %llu s\n",
		       (unsigned long long)u.seconds_throttled);
		printf("Error             : %s\n", esc(u.error));
		if (report) {
			printf("\nFolders:\n");
			for (i = 0; i < nfr; i++)
				printf("  %-30s -> %-30s %6u messages, %6llu "
				       "copied\n",
				       esc(fr[i].src),
				       fr[i].dst ? esc(fr[i].dst)
						 : "(excluded)",
				       fr[i].messages,
				       (unsigned long long)fr[i].items_synced);
		}
		if (skipped) {
			printf("\nSkipped items:\n");
			if (nsk == 0)
				printf("  (none)\n");
			for (i = 0; i < nsk; i++) {
				progress_fmt_bytes(sk[i].size, size,
						   sizeof(size));
				printf("  %s UID %u, %s, \"%s\" from %s, %s: "
				       "%s\n",
				       esc(sk[i].folder), sk[i].uid, size,
				       esc(sk[i].subject),
				       sk[i].sender ? esc(sk[i].sender) : "?",
				       sk[i].date ? esc(sk[i].date) : "?",
				       esc(sk[i].reason));
			}
		}
	}
	json_decref(o);
	state_skipped_free(sk, nsk);
	state_folder_rows_free(fr, nfr);
	state_user_release(&u);
	state_close(&st);
	return 0;
}

static int u_action(const char *action, int argc, char **argv)
{
	struct state_user u;
	struct err err = ERR_INIT;
	struct state *st;
	char cmd[32];
	const char *email = NULL;
	int ret, yes = 0, ai;

	snprintf(cmd, sizeof(cmd), "user %s", action);
	for (ai = 1; ai < argc; ai++) {
		if ((strcmp(argv[ai], "--yes") == 0 ||
		     strcmp(argv[ai], "-y") == 0) &&
		    strcmp(action, "remove") == 0)
			yes = 1;
		else if (argv[ai][0] != '-' && email == NULL)
			email = argv[ai];
		else
			return cli_usage_error("%s EMAIL%s", cmd,
					       strcmp(action, "remove") == 0
						       ? " [--yes]"
						       : "");
	}
	if (email == NULL)
		return cli_usage_error("%s EMAIL", cmd);
	st = cli_state_open(cmd, &ret);
	if (st == NULL)
		return ret;
	ret = state_user_get(st, email, &u, &err);
	if (ret == 0 && strcmp(action, "remove") == 0) {
		char q[400];
		int ok;
		snprintf(q, sizeof(q),
			 "Remove user %s (%s) from the state? Mail on the "
			 "target stays.",
			 u.email, u.status);
		ok = cli_confirm(cmd, yes, q);
		if (ok <= 0) {
			state_user_release(&u);
			state_close(&st);
			return ok < 0 ? 2 : 1;
		}
	}
	if (ret == 0) {
		int from = user_status_parse(u.status);
		int to = user_status_next(from, strcmp(action, "stop") == 0
							? USER_STOP
							: USER_START);
		if (strcmp(action, "remove") == 0)
			ret = state_user_remove(st, u.id, &err);
		else if (to < 0)
			ret = err_set(&err, ERR_USAGE, EC_NONE,
				      "user %s is %s: '%s' does not apply "
				      "(a completed user does not sync again; "
				      "to migrate it anew, put it in a new "
				      "batch)",
				      u.email, u.status, cmd);
		else if (to != from)
			ret = state_user_set_status(
				st, u.id,
				user_status_name((enum user_status)to), NULL,
				&err);
		state_user_release(&u);
	}
	state_close(&st);
	return ret < 0 ? cli_fail(cmd, &err) : 0;
}

int cmd_user(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: imapmig user get [--batch NAME] [--status S] "
		     "[EMAIL] [--json|--csv]\n"
		     "       imapmig user stats EMAIL [--include-report] "
		     "[--include-skipped-items] [--json|--csv]\n"
		     "       imapmig user preview EMAIL|--batch NAME [--json]\n"
		     "       imapmig user start|stop EMAIL\n"
		     "       imapmig user remove EMAIL [--yes]\n\n"
		     "preview connects to both sides and shows, before a "
		     "sync,\n"
		     "each source folder, the target folder it goes to (or "
		     "that\n"
		     "it is excluded), whether that exists, and the message "
		     "counts.\n--status takes Queued, Syncing, "
		     "IncrementalSyncing, Synced, Failed,\nIncrementalFailed, "
		     "Stopped or Completed, in any case.");
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
