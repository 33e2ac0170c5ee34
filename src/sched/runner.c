/* runner.c - see runner.h. */
#include "sched/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/client.h"
#include "sched/endpoint.h"
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

static void *worker_main(void *arg)
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
		state_user_release_claim(w.st, job->user_id, &e2);
	}
	worker_end(job, &w, &opt, ret, interrupted, &err);
	return NULL;
}

static int batch_runnable(const struct state_batch *b)
{
	return batch_status_runnable(batch_status_parse(b->status));
}

/* The jobs of one batch: Queued users; with none and every user Synced,
 * an incremental pass of every Synced user. */
static void add_jobs(struct state *st, const struct state_batch *b,
		     unsigned interval, struct sched_job **jobs, size_t *n,
		     struct err *err)
{
	struct state_user *users = NULL;
	size_t nu = 0, i, queued = 0, synced = 0;

	if (state_user_list(st, b->id, NULL, &users, &nu, err) < 0)
		return;
	for (i = 0; i < nu; i++) {
		int s = user_status_parse(users[i].status);
		if (s == USER_QUEUED)
			queued++;
		else if (s == USER_SYNCED)
			synced++;
	}
	for (i = 0; i < nu; i++) {
		int incr = 0, s = user_status_parse(users[i].status);
		struct sched_job *j;
		if (s != USER_QUEUED) {
			if (s != USER_SYNCED || !b->allow_incremental)
				continue;
			if (interval == 0 && !(queued == 0 && synced == nu))
				continue;
			if (interval > 0 &&
			    users[i].last_synced + (time_t)interval >
				    time(NULL))
				continue;
			incr = 1;
		}
		*jobs = xrealloc(*jobs, (*n + 1) * sizeof(**jobs));
		j = &(*jobs)[(*n)++];
		memset(j, 0, sizeof(*j));
		j->user_id = users[i].id;
		j->batch_id = b->id;
		j->source_id = b->source_id;
		j->email = xstrdup(users[i].email);
		j->incremental = incr;
		sync_progress_init(&j->prog);
	}
	state_users_free(users, nu);
}

static void finish_batches(struct state *st, struct state_batch *bs, size_t nb,
			   const int *ran)
{
	size_t i;

	for (i = 0; i < nb; i++) {
		struct state_batch_counts c;
		struct err err = ERR_INIT;
		if (!ran[i] || state_batch_counts(st, bs[i].id, &c, &err) < 0)
			continue;
		if (c.queued > 0 || c.syncing > 0)
			continue;
		if (batch_status_parse(bs[i].status) == BATCH_COMPLETING) {
			/* the final incremental sync is done: no more */
			state_users_move(st, bs[i].id, USER_FINAL, &err);
			state_batch_set_status(
				&bs[i], c.failed ? BATCH_COMPLETED_WITH_ERRORS
						 : BATCH_COMPLETED);
			bs[i].completed = time(NULL);
			if (c.newest_synced > bs[i].last_synced)
				bs[i].last_synced = c.newest_synced;
			state_batch_update(st, &bs[i], &err);
			continue;
		}
		if (c.stopped > 0)
			state_batch_set_status(&bs[i], BATCH_STOPPED);
		else if (c.failed > 0)
			state_batch_set_status(&bs[i],
					       BATCH_SYNCED_WITH_ERRORS);
		else
			state_batch_set_status(&bs[i], BATCH_SYNCED);
		if (bs[i].initial_done == 0)
			bs[i].initial_done = time(NULL);
		/* when the batch last synced: a failed user does not hold
		 * it back (its own status and time say it failed) */
		if (c.newest_synced > bs[i].last_synced)
			bs[i].last_synced = c.newest_synced;
		if (!bs[i].allow_incremental && c.failed == 0)
			state_batch_set_status(&bs[i], BATCH_STOPPED);
		state_batch_update(st, &bs[i], &err);
	}
}

/* The run's endpoints, one per endpoint id, made before any worker starts
 * and destroyed after the last has ended: their token caches are shared
 * by every worker of the run. */
struct run_ep {
	int64_t id;
	struct endpoint *ep;
	struct err err;
};

static struct run_ep *run_ep_get(struct state *st, struct run_ep **v, size_t *n,
				 int64_t id)
{
	struct state_endpoint e;
	struct run_ep *r;
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i].id == id)
			return &(*v)[i];
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	r = &(*v)[(*n)++];
	memset(r, 0, sizeof(*r));
	r->id = id;
	if (state_endpoint_get_id(st, id, &e, &r->err) == 0) {
		r->ep = endpoint_create(&e, &r->err);
		state_endpoint_release(&e);
	}
	return r;
}

static void job_endpoints(struct state *st, struct run_ep **v, size_t *n,
			  struct sched_job *j, int64_t target_id)
{
	/* each lookup may move the array: copy out before the next */
	struct run_ep *r = run_ep_get(st, v, n, j->source_id);

	j->src_ep = r->ep;
	if (r->ep == NULL)
		j->ep_err = r->err;
	r = run_ep_get(st, v, n, target_id);
	j->dst_ep = r->ep;
	if (r->ep == NULL && j->src_ep != NULL)
		j->ep_err = r->err;
}

int sched_owner_alive(const char *owner)
{
	long pid;

	if (strncmp(owner, "pid", 3) != 0)
		return 1;
	pid = strtol(owner + 3, NULL, 10);
	if (pid <= 0)
		return 1;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* One sched_run(): its state handle, the batches it planned, their jobs,
 * and the run's endpoints. */
struct run {
	const struct sched_opts *o;
	struct state *st;
	struct state_batch *bs;
	size_t nb;
	int *ran; /* per batch: it has jobs in this run */
	struct sched_job *jobs;
	size_t nj, done;
	struct run_ep *eps;
	size_t neps;
	unsigned polls;
};

/* Whatever a killed run left Syncing is queued again; its journal says
 * exactly where it stopped. */
static int requeue_orphans(struct run *r, struct err *err)
{
	unsigned n = 0;

	if (state_users_requeue_orphans(r->st, sched_owner_alive, &n, err) < 0)
		return -1;
	if (n > 0)
		log_info("%u user(s) left syncing by an interrupted run "
			 "are queued again",
			 n);
	return 0;
}

/* The batches to plan: the one asked for (which must be runnable), or
 * every batch. */
static int plan_load_batches(struct run *r, struct err *err)
{
	const char *name = r->o->batch;

	if (name == NULL)
		return state_batch_list(r->st, &r->bs, &r->nb, err);
	r->bs = xcalloc(1, sizeof(*r->bs));
	if (state_batch_get(r->st, name, r->bs, err) < 0) {
		free(r->bs);
		r->bs = NULL;
		return -1;
	}
	r->nb = 1;
	if (!batch_runnable(r->bs))
		return err_set(err, ERR_USAGE, EC_NONE,
			       "batch %s is %s: run 'imapmig batch start %s' "
			       "first",
			       r->bs->name, r->bs->status, r->bs->name);
	return 0;
}

/* Batch i's jobs, with their endpoints, and the batch Syncing (a
 * Completing batch stays so). */
static int plan_batch(struct run *r, size_t i, struct err *err)
{
	struct state_batch *b = &r->bs[i];
	size_t before = r->nj, k;

	if (!batch_runnable(b))
		return 0;
	if (b->start_after > time(NULL)) {
		log_debug("batch %s starts after its --start-after time",
			  b->name);
		return 0;
	}
	add_jobs(r->st, b, r->o->incremental_interval, &r->jobs, &r->nj, err);
	if (err->cls != ERR_NONE)
		return -1;
	if (r->nj == before)
		return 0; /* nothing due in this batch */
	for (k = before; k < r->nj; k++)
		job_endpoints(r->st, &r->eps, &r->neps, &r->jobs[k],
			      b->target_id);
	r->ran[i] = 1;
	if (batch_status_parse(b->status) == BATCH_COMPLETING)
		return 0;
	state_batch_set_status(b, BATCH_SYNCING);
	if (b->started == 0)
		b->started = time(NULL);
	return state_batch_update(r->st, b, err);
}

/* The plan reads batches, then users, and writes batch statuses: one
 * transaction, so that a 'batch complete' (users and batch moved in one
 * transaction too) is seen whole or not at all, never overwritten with
 * what the batch was before it. */
static int plan(struct run *r, struct err *err)
{
	size_t i;

	if (state_begin(r->st, err) < 0)
		return -1;
	if (plan_load_batches(r, err) < 0)
		goto fail;
	r->ran = xcalloc(r->nb + 1, sizeof(*r->ran));
	for (i = 0; i < r->nb; i++)
		if (plan_batch(r, i, err) < 0)
			goto fail;
	if (state_commit(r->st, err) < 0)
		goto fail;
	return 0;
fail:
	state_rollback(r->st);
	return -1;
}

/* 1 if job j may start now: its source endpoint's limits (incremental
 * syncs are a share of its migrations, never more) leave room; 0 if not;
 * -1 with err. */
static int job_may_start(struct run *r, const struct sched_job *j,
			 struct err *err)
{
	struct state_endpoint e;
	unsigned running = 0, all = 0, limit, e_max;
	size_t k;

	if (state_endpoint_get_id(r->st, j->source_id, &e, err) < 0)
		return -1;
	limit = j->incremental ? e.max_incremental : e.max_migrations;
	e_max = e.max_migrations;
	state_endpoint_release(&e);
	for (k = 0; k < r->nj; k++) {
		const struct sched_job *x = &r->jobs[k];
		if (!x->started || x->joined || x->source_id != j->source_id)
			continue;
		all++;
		if (x->incremental == j->incremental)
			running++;
	}
	return running < (limit ? limit : 1) && all < (e_max ? e_max : 1);
}

/* Start what the limits allow; after a stop, mark what has not started
 * as interrupted instead. */
static int start_jobs(struct run *r, struct err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < r->nj; i++) {
		struct sched_job *j = &r->jobs[i];
		if (j->started != 0)
			continue;
		if (r->o->stop != NULL && atomic_load(r->o->stop)) {
			j->started = time(NULL);
			atomic_store(&j->finished, JOB_INTERRUPTED);
			snprintf(j->error, sizeof(j->error),
				 "not started: interrupted");
			j->joined = 1;
			r->done++;
			continue;
		}
		rc = job_may_start(r, j, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		j->state_path = r->o->state_path;
		j->started = time(NULL);
		if (pthread_create(&j->thread, NULL, worker_main, j) != 0) {
			j->started = 0;
			return err_set(err, ERR_LOCAL, EC_IO,
				       "cannot start a worker thread");
		}
	}
	return 0;
}

/* Join the workers that finished, counting how they ended. */
static void reap_jobs(struct run *r, unsigned *synced_r, unsigned *failed_r)
{
	size_t i;

	for (i = 0; i < r->nj; i++) {
		struct sched_job *j = &r->jobs[i];
		int f = atomic_load(&j->finished);
		if (!j->started || j->joined || f == 0)
			continue;
		pthread_join(j->thread, NULL);
		j->joined = 1;
		r->done++;
		if (f == JOB_SYNCED)
			(*synced_r)++;
		else if (f == JOB_FAILED)
			(*failed_r)++;
	}
}

/* Stops take effect at once: ours (a signal), or one written by another
 * process ('batch stop', 'user stop'), read with one indexed read per
 * running user; the workers check the flag between messages and within
 * them. */
static void poll_stops(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nj; i++) {
		struct sched_job *j = &r->jobs[i];
		char status[32];
		struct err e2 = ERR_INIT;
		if (!j->started || j->joined)
			continue;
		if (r->o->stop != NULL && atomic_load(r->o->stop))
			atomic_store(&j->stop, 1);
		if (state_user_status_get(r->st, j->user_id, status,
					  sizeof(status), &e2) < 0)
			continue; /* busy: the next poll */
		/* gone (removed with --force) or stopped */
		if (status[0] == '\0' || user_status_class(user_status_parse(
						 status)) == CLASS_STOPPED)
			atomic_store(&j->stop, 1);
	}
}

/* Everything the run holds; a worker still running is waited for. */
static void run_release(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nj; i++) {
		if (r->jobs[i].started && !r->jobs[i].joined)
			pthread_join(r->jobs[i].thread, NULL);
		free(r->jobs[i].email);
		pthread_mutex_destroy(&r->jobs[i].prog.lock);
	}
	free(r->jobs);
	for (i = 0; i < r->neps; i++)
		endpoint_destroy(&r->eps[i].ep);
	free(r->eps);
	for (i = 0; i < r->nb; i++)
		state_batch_release(&r->bs[i]);
	free(r->bs);
	free(r->ran);
	state_close(&r->st);
}

int sched_run(const struct sched_opts *o, unsigned *synced_r,
	      unsigned *failed_r, struct err *err)
{
	struct run r;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.st = state_open(o->state_path, err);
	*synced_r = *failed_r = 0;
	if (r.st == NULL)
		return -1;
	if (requeue_orphans(&r, err) < 0 || plan(&r, err) < 0)
		goto out;
	/* The loop: start what the limits allow, reap what finished. */
	while (r.done < r.nj) {
		if (start_jobs(&r, err) < 0)
			goto out;
		reap_jobs(&r, synced_r, failed_r);
		/* every 100 ms */
		if (++r.polls % 5 == 0)
			poll_stops(&r);
		if (o->tick && r.polls % 10 == 0)
			o->tick(o->ctx, r.jobs, r.nj, 0);
		/* short naps: a finished job makes room for the next at once */
		if (r.done < r.nj)
			usleep(20000);
	}
	if (o->tick)
		o->tick(o->ctx, r.jobs, r.nj, 1);
	finish_batches(r.st, r.bs, r.nb, r.ran);
	ret = 0;
out:
	run_release(&r);
	return ret;
}
