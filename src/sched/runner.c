/* runner.c - see runner.h: the plan (which users are due) and the loop
 * that starts their workers (worker.c) within the endpoints' limits, reaps
 * them, passes stops on, and settles the batches' statuses. */
#include "sched/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/endpoint.h"
#include "sched/runner_priv.h"
#include "state/state.h"
#include "util/log.h"
#include "util/xalloc.h"

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
		if (pthread_create(&j->thread, NULL, sched_worker_main, j) !=
		    0) {
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
