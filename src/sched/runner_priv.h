/* runner_priv.h - what runner.c (the plan and the loop) and worker.c (one
 * user's pass) share.  Not for other modules. */
#ifndef SCHED_RUNNER_PRIV_H
#define SCHED_RUNNER_PRIV_H

/* A worker thread's body: arg is its struct sched_job (runner.h), which
 * it reads and, at its end, sets finished (last: the loop joins the
 * thread once it sees it). */
void *sched_worker_main(void *arg);

#endif
