/* worker.c - one user's pass in a thread of its own: its own state
 * handle, a claim on the user, both sides opened, the sync engine, the
 * user's status moved by how it ended (runner_priv.h).  Also
 * sched_sides_load() (runner.h), which opens the same sides for verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/client.h"
#include "sched/endpoint.h"
#include "sched/runner.h"
#include "sched/runner_priv.h"
#include "sched/template.h"
#include "state/state.h"
#include "util/log.h"
#include "util/xalloc.h"

/* What a worker needs to open both sides, loaded from the state. */
struct worker {
	struct sched_job *job;
	struct state *st;
	struct state_user u;
	struct state_batch b;
	struct state_endpoint src, dst;
	/* how to connect and log in: the run's, shared (borrowed) */
	struct endpoint *src_ep, *dst_ep;
};

/* The advice after a refused login, by what was refused. */
static void login_advice(struct err *err, const struct endpoint *ep,
			 const char *password_advice)
{
	if (err->code != EC_AUTHFAIL)
		return;
	if (endpoint_oauth_kind(ep) != OAUTH_NONE)
		err_suffix(err,
			   ": check that endpoint %s's token source grants "
			   "this mailbox IMAP access (for Microsoft 365 the "
			   "app's IMAP.AccessAsApp permission and its "
			   "mailbox permission, for Google the domain-wide "
			   "delegation of the scope)",
			   endpoint_name(ep));
	else
		err_suffix(err, "%s", password_advice);
}

/* Source side: the SASL user is the CSV's UserName (sent verbatim, as
 * with a password), and an OAuth token is for the mailbox's
 * EmailAddress (the service account's sub, the token command's
 * {email}). */
static struct store_source *open_source(void *ctx, struct err *err)
{
	struct worker *w = ctx;
	struct endpoint_creds cr = {
		.user = w->u.username,
		.password = w->u.password,
		.email = w->u.email,
	};
	struct imap_client *c;

	/* the batch's --max-bytes-per-second paces what the source sends */
	c = endpoint_connect(w->src_ep, "src", w->b.max_bytes_per_second, 0,
			     err);
	if (c == NULL)
		return NULL;
	if (endpoint_login(w->src_ep, c, &cr, NULL, err) < 0) {
		err_prefix(err, "source: ");
		login_advice(err, w->src_ep,
			     ": check the CSV's UserName and Password (and "
			     "the login format the source wants)");
		imap_client_destroy(&c);
		return NULL;
	}
	/* a stop ends even one long response (a huge LIST) at once */
	if (w->job != NULL)
		imap_client_set_stop(c, &w->job->stop);
	return store_imap_source_create(c, w->u.user_root, err);
}

static int expand(const struct worker *w, const char *tmpl, int path,
		  struct buf *out, struct err *err)
{
	struct template_var *vars = xcalloc(w->u.n_extra + 2, sizeof(*vars));
	size_t i, n = 0;
	int ret;

	for (i = 0; i < w->u.n_extra; i++) {
		vars[n].name = w->u.extra[i].name;
		vars[n++].value = w->u.extra[i].value;
	}
	if (w->u.target_username != NULL) {
		vars[n].name = "TargetUserName";
		vars[n++].value = w->u.target_username;
	}
	ret = template_expand(tmpl, w->u.email, vars, n, path, out, err);
	free(vars);
	return ret;
}

/* Target side: the SASL user is --target-login expanded ('{email}' by
 * default), the token is for the mailbox's EmailAddress. */
static struct store_target *open_target(void *ctx, struct err *err)
{
	struct worker *w = ctx;
	struct buf login = BUF_INIT, authz = BUF_INIT;
	struct store_target *t = NULL;
	struct endpoint_creds cr;
	struct imap_client *c;
	int oauth = endpoint_oauth_kind(w->dst_ep) != OAUTH_NONE;

	if (w->dst.kind == STATE_EP_TARGET_MAILDIR) {
		struct buf path = BUF_INIT;
		if (expand(w, w->dst.path_template, 1, &path, err) == 0)
			t = store_maildir_target_create(path.p, err);
		buf_release(&path);
		return t;
	}
	if (expand(w, w->dst.login_template ? w->dst.login_template : "{email}",
		   0, &login, err) < 0)
		goto out;
	memset(&cr, 0, sizeof(cr));
	cr.user = login.p;
	cr.email = w->u.email;
	cr.password =
		w->u.target_password ? w->u.target_password : w->dst.password;
	if (cr.password == NULL && !oauth) {
		err_set(err, ERR_USAGE, EC_AUTHFAIL,
			"target endpoint %s has no password and the CSV row "
			"has no TargetPassword: give one",
			w->dst.name);
		goto out;
	}
	if (w->dst.authzid_template != NULL) {
		if (expand(w, w->dst.authzid_template, 0, &authz, err) < 0)
			goto out;
		cr.authzid = authz.len ? authz.p : NULL;
	}
	c = endpoint_connect(w->dst_ep, "dst", 0, 0, err);
	if (c == NULL)
		goto out;
	if (endpoint_login(w->dst_ep, c, &cr, NULL, err) < 0) {
		err_prefix(err, "target: ");
		if (err->code == EC_AUTHFAIL && !oauth) {
			err_suffix(err,
				   ": check that the mailbox exists on the "
				   "target, and target endpoint %s's "
				   "--target-login and password%s",
				   w->dst.name,
				   w->u.target_password ? " (the CSV's "
							  "TargetPassword)"
							: "");
		} else {
			login_advice(err, w->dst_ep, "");
		}
		imap_client_destroy(&c);
		goto out;
	}
	t = store_imap_target_create(c, err);
out:
	buf_release(&login);
	buf_release(&authz);
	return t;
}

/* The user, its batch and both endpoints, from the state into w. */
static int worker_load(struct worker *w, int64_t user_id, struct err *err)
{
	if (state_user_get_id(w->st, user_id, &w->u, err) < 0 ||
	    state_batch_get_id(w->st, w->u.batch_id, &w->b, err) < 0 ||
	    state_endpoint_get_id(w->st, w->b.source_id, &w->src, err) < 0 ||
	    state_endpoint_get_id(w->st, w->b.target_id, &w->dst, err) < 0)
		return -1;
	return 0;
}

/* The batch's folder filters and limits as the sync engine takes them. */
static int batch_options(const struct state_batch *b, struct sync_options *opt,
			 struct err *err)
{
	if (sync_filter_parse(b->include_folders, &opt->include, err) < 0 ||
	    sync_filter_parse(b->exclude_folders, &opt->exclude, err) < 0)
		return -1;
	opt->max_message_size = b->max_message_size;
	opt->max_items = b->max_items;
	opt->bad_item_limit = b->bad_item_limit;
	return 0;
}

struct sched_sides {
	struct worker w;
	struct sync_options opt;
};

struct sched_sides *sched_sides_load(struct state *st, int64_t user_id,
				     struct sync_endpoints *ep,
				     struct sync_options *opt, struct err *err)
{
	struct sched_sides *sd = xcalloc(1, sizeof(*sd));

	sd->w.st = st;
	if (worker_load(&sd->w, user_id, err) < 0 ||
	    batch_options(&sd->w.b, &sd->opt, err) < 0 ||
	    (sd->w.src_ep = endpoint_create(&sd->w.src, err)) == NULL ||
	    (sd->w.dst_ep = endpoint_create(&sd->w.dst, err)) == NULL) {
		sched_sides_free(&sd);
		return NULL;
	}
	ep->open_source = open_source;
	ep->open_target = open_target;
	ep->ctx = &sd->w;
	*opt = sd->opt;
	return sd;
}

void sched_sides_free(struct sched_sides **sp)
{
	struct sched_sides *sd = *sp;

	if (sd == NULL)
		return;
	*sp = NULL;
	sync_filter_release(&sd->opt.include);
	sync_filter_release(&sd->opt.exclude);
	state_user_release(&sd->w.u);
	state_batch_release(&sd->w.b);
	state_endpoint_release(&sd->w.src);
	state_endpoint_release(&sd->w.dst);
	endpoint_destroy(&sd->w.src_ep);
	endpoint_destroy(&sd->w.dst_ep);
	free(sd);
}

/* Move u by event e (status.h's table); an event that does not apply
 * leaves the status as it is.  0 if it moved. */
static int move_user(struct state *st, struct state_user *u, enum user_event e,
		     const char *error)
{
	struct err err = ERR_INIT;
	int to = user_status_next(user_status_parse(u->status), e);

	if (to < 0)
		return -1;
	free(u->status);
	u->status = xstrdup(user_status_name((enum user_status)to));
	free(u->error);
	u->error = error ? xstrdup(error) : NULL;
	if (state_user_update(st, u, &err) < 0)
		log_error("user %s: %s", u->email, err.msg);
	return 0;
}

/* The worker's own state handle, and its claim on the user (owner
 * "pid<N>-<job>", one-hour lease).  -1 with err when another process
 * holds the user. */
static int worker_claim(struct worker *w, struct sched_job *job,
			struct err *err)
{
	char owner[64];

	w->st = state_open(job->state_path, err);
	if (w->st == NULL)
		return -1;
	snprintf(owner, sizeof(owner), "pid%d-%p", (int)getpid(), (void *)job);
	if (state_user_claim(w->st, job->user_id, owner, 3600, err) != 1) {
		if (err->cls == ERR_NONE)
			err_set(err, ERR_TRANSIENT, EC_NONE,
				"another imapmig "
				"process is migrating this user");
		return -1;
	}
	return 0;
}

/* After the pass: the counters the journal moved, reloaded; the times;
 * the user moved by how the pass ended.  Returns ret, or 0 for a pass a
 * stop ended. */
static int worker_settle(struct worker *w, struct sched_job *job, int ret,
			 const struct sync_result *res, time_t t0,
			 const struct err *err, int *interrupted_r)
{
	struct state_user fresh;
	struct err e2 = ERR_INIT;

	if (state_user_get_id(w->st, job->user_id, &fresh, &e2) == 0) {
		free(w->u.status);
		w->u.status = fresh.status;
		fresh.status = NULL;
		w->u.items_synced = fresh.items_synced;
		state_user_release(&fresh);
	}
	w->u.sync_ended = time(NULL);
	w->u.seconds_syncing += (uint64_t)(w->u.sync_ended - t0);
	w->u.seconds_throttled += res->throttled_ms / 1000;
	w->u.items_total = atomic_load(&job->prog.items_total);
	if (user_status_class(user_status_parse(w->u.status)) ==
	    CLASS_STOPPED) {
		/* stopped by 'batch stop' or 'user stop' meanwhile: it
		 * stays so */
		if (ret == 0 && !res->stopped)
			w->u.last_synced = w->u.sync_ended;
		move_user(w->st, &w->u, USER_RUN_STOPPED, NULL);
		ret = 0;
	} else if (ret == 0 && res->stopped) {
		/* this process is ending (SIGTERM, Ctrl-C): nobody stopped
		 * the user, so the next sync or serve resumes it from its
		 * journal */
		move_user(w->st, &w->u, USER_RUN_INTERRUPTED, NULL);
		*interrupted_r = 1;
	} else if (ret == 0) {
		w->u.last_synced = w->u.sync_ended;
		/* an incremental pass ends Synced too: the procedure's
		 * mailboxes stay Synced between incremental syncs */
		move_user(w->st, &w->u, USER_RUN_OK, NULL);
	} else {
		move_user(w->st, &w->u, USER_RUN_FAILED, err->msg);
	}
	return ret;
}

/* The claimed user's pass: loaded, moved to its running status, synced,
 * settled.  -1 with err when it failed; 0 when it ran, or when it was
 * stopped or moved on since the job was planned. */
static int worker_pass(struct worker *w, struct sched_job *job,
		       struct sync_options *opt, time_t t0, struct err *err,
		       int *interrupted_r)
{
	struct sync_endpoints ep = {open_source, open_target, w};
	struct sync_result res;
	int ret;

	if (worker_load(w, job->user_id, err) < 0)
		return -1;
	w->u.sync_started = t0;
	if (move_user(w->st, &w->u, USER_RUN, NULL) < 0)
		return 0; /* stopped, or moved on, since the job was planned */
	if (w->src_ep == NULL || w->dst_ep == NULL) {
		/* an endpoint this run could not set up (its token source) */
		*err = job->ep_err;
		return -1;
	}
	if (batch_options(&w->b, opt, err) < 0)
		return -1;
	opt->max_attempts = 8;
	opt->stop = &job->stop;
	ret = sync_mailbox_run(w->st, job->user_id, &ep, opt, &job->prog, &res,
			       err);
	return worker_settle(w, job, ret, &res, t0, err, interrupted_r);
}

/* The job's end: its error for the run, what the worker held freed, and
 * finished set last (the scheduler joins the thread once it is). */
static void worker_end(struct sched_job *job, struct worker *w,
		       struct sync_options *opt, int ret, int interrupted,
		       const struct err *err)
{
	if (ret < 0) {
		snprintf(job->error, sizeof(job->error), "%s", err->msg);
		job->error_class = (int)err->cls;
		log_warn("user %s: failed: %s", job->email, err->msg);
	}
	sync_filter_release(&opt->include);
	sync_filter_release(&opt->exclude);
	state_user_release(&w->u);
	state_batch_release(&w->b);
	state_endpoint_release(&w->src);
	state_endpoint_release(&w->dst);
	state_close(&w->st);
	atomic_store(&job->finished, ret < 0	   ? JOB_FAILED
				     : interrupted ? JOB_INTERRUPTED
						   : JOB_SYNCED);
}

void *sched_worker_main(void *arg)
{
	struct sched_job *job = arg;
	struct worker w;
	struct sync_options opt;
	struct err err = ERR_INIT;
	time_t t0 = time(NULL);
	int ret = -1, interrupted = 0;

	memset(&w, 0, sizeof(w));
	memset(&opt, 0, sizeof(opt));
	w.job = job;
	w.src_ep = job->src_ep;
	w.dst_ep = job->dst_ep;
	if (worker_claim(&w, job, &err) == 0) {
		struct err e2 = ERR_INIT;
		ret = worker_pass(&w, job, &opt, t0, &err, &interrupted);
		if (ret < 0 && w.u.id != 0)
			move_user(w.st, &w.u, USER_RUN_FAILED, err.msg);
		state_user_drop_claim(w.st, job->user_id, &e2);
	}
	worker_end(job, &w, &opt, ret, interrupted, &err);
	return NULL;
}
