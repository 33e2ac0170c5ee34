/* runner.h - batches as work: run the users that are due, each in its own
 * thread with its own state handle, at most max-concurrent-migrations
 * initial syncs (max-concurrent-incremental-syncs incremental ones) per
 * source endpoint, and keep user and batch statuses true. */
#ifndef SCHED_RUNNER_H
#define SCHED_RUNNER_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "sync/mailbox.h"
#include "util/err.h"

enum job_end {
	JOB_SYNCED = 1,
	JOB_FAILED = -1,
	/* this process is ending: not run, or cut short; the user resumes
	 * on the next sync or serve */
	JOB_INTERRUPTED = 2
};

struct endpoint;

struct sched_job {
	int64_t user_id;
	int64_t batch_id;
	int64_t source_id;
	char *email;
	int incremental;
	struct sync_progress prog;
	time_t started;	      /* 0 while queued */
	_Atomic int finished; /* 0 or one of enum job_end */
	char error[600];
	int error_class; /* enum err_class of error, once JOB_FAILED */
	pthread_t thread;
	int joined;
	const char *state_path;
	/* the run's endpoints (sched/endpoint.h), shared by its workers;
	 * NULL with ep_err set when one could not be made */
	struct endpoint *src_ep, *dst_ep;
	struct err ep_err;
	_Atomic int stop; /* this job: global stop or its user
			   * stopped from another process */
};

struct sched_opts {
	const char *state_path;
	const char *batch; /* NULL: every started batch */
	/* serve: a Synced user is synced again once its last sync is this
	 * old (seconds); 0 (sync): when every user of a batch is Synced,
	 * all of them at once. */
	unsigned incremental_interval;
	const _Atomic int *stop;
	/* called about 5 times a second from the calling thread */
	void (*tick)(void *ctx, struct sched_job *jobs, size_t n, int final);
	void *ctx;
};

/* Run until every due user is Synced or Failed.  synced_r and failed_r count
 * this run's outcomes.  ERR_USAGE for a batch that cannot run (unknown,
 * not started). */
int sched_run(const struct sched_opts *o, unsigned *synced_r,
	      unsigned *failed_r, struct err *err);

/* A claim's owner is "pid<N>-..." (a worker of process N): alive while
 * that process exists.  Another form counts as alive. */
int sched_owner_alive(const char *owner);

/* What it takes to open a user's two sides and apply its batch's folder
 * filters and limits outside the scheduler (imapmig verify): ep and opt
 * are filled and stay valid until sched_sides_free().  The sides borrow
 * st, which must outlive them. */
struct sched_sides;
struct sched_sides *sched_sides_load(struct state *st, int64_t user_id,
				     struct sync_endpoints *ep,
				     struct sync_options *opt, struct err *err);
void sched_sides_free(struct sched_sides **sp);

#endif
