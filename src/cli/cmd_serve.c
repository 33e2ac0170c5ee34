/* cmd_serve.c - `imapmig serve`: the long-running scheduler.  It runs the
 * initial sync of every queued user and an incremental sync of every
 * Synced user each --incremental-interval (24 hours, as the procedure
 * says), within each source endpoint's limits, until SIGTERM or SIGINT.
 *
 * One serve per state: a second is refused (an exclusive lock on
 * "<state>.serve.lock"); CLI commands run beside it, and their stops take
 * effect within seconds.
 *
 * --listen ADDR:PORT also serves the dashboard, the JSON API, the event
 * stream and /metrics (web/web.h) from threads of their own; the loop
 * here tells them what its jobs do (web_tick) and that it is alive. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "sched/runner.h"
#include "state/state.h"
#include "util/log.h"
#include "web/web.h"
#include "util/xalloc.h"

static _Atomic int serve_stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&serve_stop, 1);
}

static void log_tick(void *ctx, struct sched_job *jobs, size_t n, int final)
{
	size_t i;

	web_tick(ctx, jobs, n);
	if (!final)
		return;
	for (i = 0; i < n; i++) {
		int f = atomic_load(&jobs[i].finished);
		unsigned long long bytes =
			atomic_load(&jobs[i].prog.bytes_done);
		char mb[32];
		if (f == JOB_FAILED) {
			continue; /* the worker said why, when it failed */
		} else if (f == JOB_INTERRUPTED) {
			log_info("user %s: interrupted, resumes on the next "
				 "run",
				 jobs[i].email);
		} else if (bytes == 0 && jobs[i].incremental) {
			/* an idle mailbox's pass says nothing by default */
			log_debug("user %s: synced, nothing new",
				  jobs[i].email);
		} else {
			progress_fmt_bytes(bytes, mb, sizeof(mb));
			log_info("user %s: %s sync done: %s copied in %ld s",
				 jobs[i].email,
				 jobs[i].incremental ? "incremental"
						     : "initial",
				 mb, (long)(time(NULL) - jobs[i].started));
		}
	}
}

int cmd_serve(int argc, char **argv)
{
	long long interval = 24 * 3600;
	struct sched_opts o;
	struct err err = ERR_INIT;
	struct state *watch;
	struct web_opts wo = {0};
	struct web *web = NULL;
	char *lockpath;
	int ai, fd;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--incremental-interval") == 0 &&
		    ai + 1 < argc) {
			interval = cli_parse_duration(argv[++ai]);
			if (interval < 0)
				return cli_usage_error("serve: "
						       "--incremental-interval "
						       "%s: give e.g. 24h, 30m "
						       "or 90s",
						       argv[ai]);
		} else if (strcmp(argv[ai], "--listen") == 0 && ai + 1 < argc) {
			wo.listen = argv[++ai];
		} else if (strcmp(argv[ai], "--tls-cert") == 0 &&
			   ai + 1 < argc) {
			wo.tls_cert = argv[++ai];
		} else if (strcmp(argv[ai], "--tls-key") == 0 &&
			   ai + 1 < argc) {
			wo.tls_key = argv[++ai];
		} else if (strcmp(argv[ai], "--api-token-file") == 0 &&
			   ai + 1 < argc) {
			wo.token_file = argv[++ai];
		} else if (strcmp(argv[ai], "--help") == 0) {
			puts("usage: imapmig serve [--incremental-interval "
			     "24h] [--listen 127.0.0.1:8025\n"
			     "           [--tls-cert PEM --tls-key PEM] "
			     "[--api-token-file F]]");
			return 0;
		} else {
			return cli_usage_error("serve: unexpected '%s'",
					       argv[ai]);
		}
	}
	if (wo.listen == NULL && (wo.tls_cert || wo.tls_key || wo.token_file))
		return cli_usage_error("serve: --tls-cert, --tls-key and "
				       "--api-token-file go with --listen");
	lockpath = xasprintf("%s.serve.lock", cli_state_path());
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "?";
		if (fd >= 0) {
			ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
		}
		fprintf(stderr,
			"imapmig: serve: another imapmig serve (pid %s) "
			"runs on %s: stop it first, or give another --state\n",
			pid, cli_state_path());
		free(lockpath);
		return 1;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", (int)getpid());
	if (wo.listen != NULL) {
		wo.state_path = cli_state_path();
		web = web_start(&wo, &err);
		if (web == NULL) {
			free(lockpath);
			close(fd);
			return cli_fail("serve", &err);
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* a service's log: what it did, with times; -q keeps warnings
	 * and errors, -v adds debug */
	log_set_timestamps(1);
	if (log_get_level() < LOG_INFO)
		log_set_level(cli_globals.quiet ? LOG_WARN : LOG_INFO);
	log_info("serve: scheduling on %s, incremental syncs every %lld s",
		 cli_state_path(), interval);
	if (web != NULL)
		log_info("serve: dashboard and API on %s://%s/ (token in %s)",
			 wo.tls_cert ? "https" : "http", web_address(web),
			 wo.token_file ? wo.token_file
				       : "api-token beside "
					 "the state");
	memset(&o, 0, sizeof(o));
	o.state_path = cli_state_path();
	o.stop = &serve_stop;
	o.incremental_interval = (unsigned)interval;
	o.tick = log_tick;
	o.ctx = web;
	/* A handle of its own to notice new work while it naps: a 'batch
	 * start', 'batch set --sync-now' or new users from another process
	 * commit to the state, and serve runs again within 250 ms. */
	watch = state_open(cli_state_path(), &err);
	if (watch == NULL) {
		log_warn("serve: %s; new work is seen every 5 s", err.msg);
		err_clear(&err);
	}
	while (!atomic_load(&serve_stop)) {
		unsigned synced = 0, failed = 0;
		int64_t seen = 0, now = 0;
		int i;
		/* read before the run: what is committed while it runs (its
		 * own workers' writes too) makes one more, cheap, pass */
		if (watch != NULL)
			state_data_version(watch, &seen, &err);
		err_clear(&err);
		if (sched_run(&o, &synced, &failed, &err) < 0) {
			/* bad input (a state or key file not trusted)
			 * does not mend by waiting: a person must act */
			if (err.cls == ERR_USAGE) {
				state_close(&watch);
				web_stop(&web);
				free(lockpath);
				close(fd);
				return cli_fail("serve", &err);
			}
			log_error("serve: %s", err.msg);
			err_clear(&err);
		}
		/* nap up to 5 s (the incremental timer's resolution), or
		 * until the state changes */
		for (i = 0; i < 20 && !atomic_load(&serve_stop); i++) {
			web_tick(web, NULL, 0);
			if (watch != NULL &&
			    state_data_version(watch, &now, &err) == 0 &&
			    now != seen)
				break;
			err_clear(&err);
			usleep(250000);
		}
	}
	state_close(&watch);
	web_stop(&web);
	log_info("serve: stopped cleanly");
	free(lockpath);
	close(fd);
	return 0;
}
