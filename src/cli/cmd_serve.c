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
#include "sched/notify.h"
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

/* ---- notification emails (--smtp-*: sched/notify.h) ---- */

struct serve_smtp {
	struct smtp_server server;
	const char *from, *password_file;
	int security; /* -1: by the port */
};

/* 1 the option at argv[*ai] was an --smtp-* one (taken), 0 not one, or
 * the exit code of a usage error (2). */
static int serve_smtp_option(struct serve_smtp *o, int argc, char **argv,
			     int *ai)
{
	const char *opt = argv[*ai], *val;
	struct err err = ERR_INIT;

	if (strncmp(opt, "--smtp-", 7) != 0)
		return 0;
	if (*ai + 1 >= argc)
		return cli_usage_error("serve: %s needs a value", opt);
	val = argv[++*ai];
	if (strcmp(opt, "--smtp-server") == 0) {
		if (smtp_parse_server(val, &o->server, &err) < 0)
			return cli_fail("serve", &err);
	} else if (strcmp(opt, "--smtp-security") == 0) {
		o->security = smtp_parse_security(val);
		if (o->security < 0)
			return cli_usage_error("serve: --smtp-security %s: "
					       "give none, ssl or tls",
					       val);
	} else if (strcmp(opt, "--smtp-user") == 0) {
		free(o->server.user);
		o->server.user = xstrdup(val);
	} else if (strcmp(opt, "--smtp-password-file") == 0) {
		o->password_file = val;
	} else if (strcmp(opt, "--smtp-from") == 0) {
		if (!smtp_address_ok(val))
			return cli_usage_error("serve: --smtp-from %s: give "
					       "an address, e.g. "
					       "imapmig@contoso.com",
					       val);
		o->from = val;
	} else if (strcmp(opt, "--smtp-ca-file") == 0) {
		free(o->server.ca_file);
		o->server.ca_file = xstrdup(val);
	} else {
		return cli_usage_error("serve: unknown option %s", opt);
	}
	return 1;
}

/* Check the --smtp-* options together and read the password: 0 or an
 * exit code. */
static int serve_smtp_check(struct serve_smtp *o)
{
	struct err err = ERR_INIT;

	if (o->server.host == NULL) {
		if (o->from || o->server.user || o->password_file ||
		    o->security >= 0 || o->server.ca_file)
			return cli_usage_error("serve: the --smtp-* options "
					       "need --smtp-server HOST:PORT");
		return 0;
	}
	if (o->from == NULL)
		return cli_usage_error("serve: --smtp-server needs --smtp-from "
				       "ADDR, the reports' sender");
	if ((o->server.user == NULL) != (o->password_file == NULL))
		return cli_usage_error("serve: --smtp-user and "
				       "--smtp-password-file go together");
	o->server.security = o->security >= 0 ? (enum smtp_security)o->security
			     : o->server.port == 465 ? SMTP_SEC_SSL
						     : SMTP_SEC_TLS;
	if (o->password_file != NULL) {
		o->server.password = cli_read_password(o->password_file, &err);
		if (o->server.password == NULL)
			return cli_fail("serve", &err);
	}
	return 0;
}

/* Start the sender (*sv stays NULL without --smtp-server): 0 or an exit
 * code. */
static int serve_notify_start(struct serve_smtp *o, struct notify_service **sv)
{
	struct notify_config nc;
	struct err err = ERR_INIT;

	*sv = NULL;
	if (o->server.host == NULL)
		return 0;
	if (smtp_global_init(&err) < 0)
		return cli_fail("serve", &err);
	if (o->server.security == SMTP_SEC_NONE)
		log_warn("serve: --smtp-security none: the reports%s cross "
			 "the network to %s:%u unencrypted",
			 o->server.user ? " and the SMTP password" : "",
			 o->server.host, o->server.port);
	memset(&nc, 0, sizeof(nc));
	nc.state_path = cli_state_path();
	nc.smtp = &o->server;
	nc.from = o->from;
	*sv = notify_start(&nc, &err);
	if (*sv == NULL)
		return cli_fail("serve", &err);
	log_info("serve: reports to each batch's notification emails via "
		 "%s:%u (%s), from %s",
		 o->server.host, o->server.port,
		 smtp_security_name(o->server.security), o->from);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	long long interval = 24 * 3600;
	struct sched_opts o;
	struct err err = ERR_INIT;
	struct state *watch;
	struct web_opts wo = {0};
	struct web *web = NULL;
	struct serve_smtp smtp = {.security = -1};
	struct notify_service *notify = NULL;
	char *lockpath;
	int ai, fd, rc;

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
		} else if ((rc = serve_smtp_option(&smtp, argc, argv, &ai))) {
			if (rc != 1)
				return rc;
		} else if (strcmp(argv[ai], "--help") == 0) {
			puts("usage: imapmig serve [--incremental-interval "
			     "24h] [--listen 127.0.0.1:8025\n"
			     "           [--tls-cert PEM --tls-key PEM] "
			     "[--api-token-file F]]\n"
			     "  [--smtp-server HOST:PORT [--smtp-security "
			     "none|ssl|tls] [--smtp-user U "
			     "--smtp-password-file F]\n"
			     "   --smtp-from ADDR [--smtp-ca-file F]]");
			return 0;
		} else {
			return cli_usage_error("serve: unexpected '%s'",
					       argv[ai]);
		}
	}
	if (wo.listen == NULL && (wo.tls_cert || wo.tls_key || wo.token_file))
		return cli_usage_error("serve: --tls-cert, --tls-key and "
				       "--api-token-file go with --listen");
	if (wo.listen != NULL && web_opts_check(&wo, &err) < 0)
		return cli_fail("serve", &err);
	rc = serve_smtp_check(&smtp);
	if (rc != 0)
		return rc;
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
			smtp_server_release(&smtp.server);
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
	rc = serve_notify_start(&smtp, &notify);
	if (rc != 0) {
		web_stop(&web);
		smtp_server_release(&smtp.server);
		free(lockpath);
		close(fd);
		return rc;
	}
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
				notify_stop(&notify);
				smtp_server_release(&smtp.server);
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
	notify_stop(&notify);
	smtp_server_release(&smtp.server);
	log_info("serve: stopped cleanly");
	free(lockpath);
	close(fd);
	return 0;
}
