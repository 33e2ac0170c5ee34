/* cmd_sync.c - `imapmig sync [--batch NAME]`: run what is due in the
 * foreground, with a live view, until every user is Synced or Failed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/progress.h"
#include "sched/runner.h"
#include "util/xalloc.h"

static _Atomic int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

struct view_ctx {
	struct progress_view view;
	const char *title;
};

static void tick(void *ctx, struct sched_job *jobs, size_t n, int final)
{
	struct view_ctx *v = ctx;
	struct progress_row *rows = xcalloc(n + 1, sizeof(*rows));
	size_t i;

	for (i = 0; i < n; i++) {
		rows[i].email = jobs[i].email;
		rows[i].prog = &jobs[i].prog;
		rows[i].started = jobs[i].started;
		rows[i].finished = atomic_load(&jobs[i].finished);
	}
	if (!cli_globals.quiet)
		progress_view_draw(&v->view, v->title, rows, n, final);
	free(rows);
}

struct sync_args {
	const char *batch;
};

static const struct opt sync_opts[] = {
	OPT_STRING("batch", struct sync_args, batch, "NAME",
		   "only this batch's users (default: every started batch)"),
	OPT_END(),
};

static const struct opts_cmd sync_cmd = {
	.name = "sync",
	.group = "sync",
	.usage = "sync [--batch NAME]",
	.opts = sync_opts,
};

int cmd_sync(int argc, char **argv)
{
	struct sched_opts o;
	struct sync_args a = {0};
	struct view_ctx v;
	struct err err = ERR_INIT;
	unsigned synced = 0, failed = 0;
	int nargs, rc;

	rc = opts_parse(&sync_cmd, &a, argc, argv, &nargs);
	if (rc != 0)
		return OPTS_EXIT(rc);
	memset(&o, 0, sizeof(o));
	o.batch = a.batch;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	progress_view_init(&v.view, stdout);
	v.title = o.batch ? o.batch : "all batches";
	o.state_path = cli_state_path();
	o.stop = &stop_flag;
	o.tick = tick;
	o.ctx = &v;
	if (sched_run(&o, &synced, &failed, &err) < 0)
		return cli_fail("sync", &err);
	if (!cli_globals.quiet)
		printf("%u synced, %u failed%s\n", synced, failed,
		       atomic_load(&stop_flag)
			       ? " (interrupted: 'imapmig sync' again, or "
				 "'imapmig serve', resumes where it ended)"
			       : "");
	if (failed > 0)
		fprintf(stderr,
			"imapmig: sync: %u user(s) failed: see "
			"'imapmig user get%s%s'\n",
			failed, o.batch ? " --batch " : "",
			o.batch ? o.batch : "");
	return failed > 0 || atomic_load(&stop_flag) ? 1 : 0;
}
