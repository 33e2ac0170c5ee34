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

#include <limits.h>

#include "cli/cli.h"
#include "cli/opts.h"
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
	const char *from, *password_file, *user, *ca_file;
	int security; /* -1: by the port */
};

/* --smtp-server HOST:PORT, --smtp-security and --smtp-from, checked as
 * they are read (cli/opts.h callbacks on struct serve_smtp). */
static int smtp_server_opt(void *field, const char *value, const char *cmd)
{
	struct serve_smtp *o = field;
	struct err err = ERR_INIT;

	if (smtp_parse_server(value, &o->server, &err) < 0)
		return cli_fail(cmd, &err);
	return 0;
}

static int smtp_security_opt(void *field, const char *value, const char *cmd)
{
	struct serve_smtp *o = field;

	o->security = smtp_parse_security(value);
	if (o->security < 0)
		return cli_usage_error("%s: --smtp-security %s: give none, ssl "
				       "or tls",
				       cmd, value);
	return 0;
}

static int smtp_from_opt(void *field, const char *value, const char *cmd)
{
	struct serve_smtp *o = field;

	if (!smtp_address_ok(value))
		return cli_usage_error("%s: --smtp-from %s: give an address, "
				       "e.g. imapmig@contoso.com",
				       cmd, value);
	o->from = value;
	return 0;
}

/* Check the --smtp-* options together and read the password: 0 or an
 * exit code. */
static int serve_smtp_check(struct serve_smtp *o)
{
	struct err err = ERR_INIT;

	/* the last one given, as the options' table keeps them */
	if (o->user != NULL)
		o->server.user = xstrdup(o->user);
	if (o->ca_file != NULL)
		o->server.ca_file = xstrdup(o->ca_file);
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

/* ---- the options ---- */

struct serve_args {
	long long interval;
	struct web_opts wo;
	struct serve_smtp smtp;
};

static const struct opt serve_table[] = {
	OPT_NUMBER("incremental-interval", DURATION, struct serve_args,
		   interval, "24h", 1, LLONG_MAX, NULL,
		   "time between a user's incremental syncs"),
	OPT_STRING("listen", struct serve_args, wo.listen, "ADDR:PORT",
		   "serve the dashboard and API, e.g. 127.0.0.1:8025"),
	OPT_STRING("tls-cert", struct serve_args, wo.tls_cert, "PEM",
		   "HTTPS: the certificate (with --tls-key)"),
	OPT_STRING("tls-key", struct serve_args, wo.tls_key, "PEM",
		   "HTTPS: its private key"),
	OPT_STRING("api-token-file", struct serve_args, wo.token_file, "F",
		   "the API token (default: api-token beside the state)"),
	OPT_CALLBACK("smtp-server", struct serve_args, smtp, smtp_server_opt,
		     "HOST:PORT", "mail each batch's reports through it"),
	OPT_CALLBACK("smtp-security", struct serve_args, smtp,
		     smtp_security_opt, "none|ssl|tls",
		     "default: tls, ssl on port 465"),
	OPT_STRING("smtp-user", struct serve_args, smtp.user, "U",
		   "log in to the SMTP server as U"),
	OPT_STRING("smtp-password-file", struct serve_args, smtp.password_file,
		   "F", "its password, first line"),
	OPT_CALLBACK("smtp-from", struct serve_args, smtp, smtp_from_opt,
		     "ADDR", "the reports' sender"),
	OPT_STRING("smtp-ca-file", struct serve_args, smtp.ca_file, "F",
		   "CA certificates for the SMTP server"),
	OPT_END(),
};

static const struct opts_cmd serve_cmd = {
	.name = "serve",
	.group = "serve",
	.usage = "serve [--incremental-interval 24h] [--listen 127.0.0.1:8025\n"
		 "           [--tls-cert PEM --tls-key PEM] [--api-token-file "
		 "F]]\n"
		 "  [--smtp-server HOST:PORT [--smtp-security none|ssl|tls] "
		 "[--smtp-user U --smtp-password-file F]\n"
		 "   --smtp-from ADDR [--smtp-ca-file F]]",
	.opts = serve_table,
};

/* The options, checked together: 0, or what opts_parse() returned, or
 * the exit code (OPTS_EXIT() of the result is the exit code). */
static int serve_parse(struct serve_args *a, int argc, char **argv)
{
	struct err err = ERR_INIT;
	int nargs, rc;

	rc = opts_parse(&serve_cmd, a, argc, argv, &nargs);
	if (rc != 0)
		return rc;
	if (a->wo.listen == NULL &&
	    (a->wo.tls_cert || a->wo.tls_key || a->wo.token_file))
		return cli_usage_error("serve: --tls-cert, --tls-key and "
				       "--api-token-file go with --listen");
	if (a->wo.listen != NULL && web_opts_check(&a->wo, &err) < 0)
		return cli_fail("serve", &err);
	return serve_smtp_check(&a->smtp);
}

/* ---- running ---- */

/* One serve per state: the lock "<state>.serve.lock", held while it
 * runs, with its pid in it.  The descriptor, or -1 (the error printed). */
static int serve_lock(char **lockpath)
{
	int fd;

	*lockpath = xasprintf("%s.serve.lock", cli_state_path());
	fd = open(*lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "?";
		if (fd >= 0) {
			ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			close(fd);
		}
		fprintf(stderr,
			"imapmig: serve: another imapmig serve (pid %s) "
			"runs on %s: stop it first, or give another --state\n",
			pid, cli_state_path());
		free(*lockpath);
		*lockpath = NULL;
		return -1;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", (int)getpid());
	return fd;
}

/* What serve holds while it runs, released by serve_end(). */
struct serve_run {
	struct web *web;
	struct notify_service *notify;
	struct state *watch; /* notices new work while the loop naps */
	char *lockpath;
	int lock_fd;
};

static void serve_end(struct serve_run *r, struct serve_smtp *smtp)
{
	state_close(&r->watch);
	web_stop(&r->web);
	notify_stop(&r->notify);
	smtp_server_release(&smtp->server);
	free(r->lockpath);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
}

/* The log's first lines: where, how often, the dashboard's address. */
static void serve_log_start(const struct serve_args *a, struct web *web)
{
	/* a service's log: what it did, with times; -q keeps warnings
	 * and errors, -v adds debug */
	log_set_timestamps(1);
	if (log_get_level() < LOG_INFO)
		log_set_level(cli_globals.quiet ? LOG_WARN : LOG_INFO);
	log_info("serve: scheduling on %s, incremental syncs every %lld s",
		 cli_state_path(), a->interval);
	if (web != NULL)
		log_info("serve: dashboard and API on %s://%s/ (token in %s)",
			 a->wo.tls_cert ? "https" : "http", web_address(web),
			 a->wo.token_file ? a->wo.token_file
					  : "api-token beside "
					    "the state");
}

/* Nap up to 5 s (the incremental timer's resolution), or until the
 * state changes from seen. */
static void serve_nap(struct serve_run *r, int64_t seen)
{
	struct err err = ERR_INIT;
	int64_t now = 0;
	int i;

	for (i = 0; i < 20 && !atomic_load(&serve_stop); i++) {
		web_tick(r->web, NULL, 0);
		if (r->watch != NULL &&
		    state_data_version(r->watch, &now, &err) == 0 &&
		    now != seen)
			break;
		err_clear(&err);
		usleep(250000);
	}
}

/* Run the scheduler until SIGTERM or SIGINT: 0, or the exit code of an
 * error that waiting does not mend. */
static int serve_loop(struct serve_run *r, unsigned interval)
{
	struct sched_opts o;
	struct err err = ERR_INIT;

	memset(&o, 0, sizeof(o));
	o.state_path = cli_state_path();
	o.stop = &serve_stop;
	o.incremental_interval = interval;
	o.tick = log_tick;
	o.ctx = r->web;
	while (!atomic_load(&serve_stop)) {
		unsigned synced = 0, failed = 0;
		int64_t seen = 0;
		/* read before the run: what is committed while it runs (its
		 * own workers' writes too) makes one more, cheap, pass */
		if (r->watch != NULL)
			state_data_version(r->watch, &seen, &err);
		err_clear(&err);
		if (sched_run(&o, &synced, &failed, &err) < 0) {
			/* bad input (a state or key file not trusted)
			 * does not mend by waiting: a person must act */
			if (err.cls == ERR_USAGE)
				return cli_fail("serve", &err);
			log_error("serve: %s", err.msg);
			err_clear(&err);
		}
		serve_nap(r, seen);
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args a = {.interval = 24 * 3600, .smtp.security = -1};
	struct serve_run r = {.lock_fd = -1};
	struct err err = ERR_INIT;
	int rc;

	rc = serve_parse(&a, argc, argv);
	if (rc == 0 && (r.lock_fd = serve_lock(&r.lockpath)) < 0)
		rc = 1;
	if (rc != 0) {
		smtp_server_release(&a.smtp.server);
		return OPTS_EXIT(rc);
	}
	if (a.wo.listen != NULL) {
		a.wo.state_path = cli_state_path();
		r.web = web_start(&a.wo, &err);
		if (r.web == NULL) {
			serve_end(&r, &a.smtp);
			return cli_fail("serve", &err);
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	serve_log_start(&a, r.web);
	rc = serve_notify_start(&a.smtp, &r.notify);
	if (rc != 0) {
		serve_end(&r, &a.smtp);
		return rc;
	}
	/* A handle of its own to notice new work while it naps: a 'batch
	 * start', 'batch set --sync-now' or new users from another process
	 * commit to the state, and serve runs again within 250 ms. */
	r.watch = state_open(cli_state_path(), &err);
	if (r.watch == NULL) {
		log_warn("serve: %s; new work is seen every 5 s", err.msg);
		err_clear(&err);
	}
	rc = serve_loop(&r, (unsigned)a.interval);
	serve_end(&r, &a.smtp);
	if (rc == 0)
		log_info("serve: stopped cleanly");
	return rc;
}
