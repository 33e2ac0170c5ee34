/* mailbox.c - one mailbox's migration pass; see mailbox.h.  The pass
 * is split over mailbox_*.c: see mailbox_priv.h. */
#include "sync/mailbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/mailbox_priv.h"
#include "util/log.h"

void sync_progress_init(struct sync_progress *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
}

void sync_progress_set_folder(struct sync_progress *p, const char *folder)
{
	pthread_mutex_lock(&p->lock);
	snprintf(p->folder, sizeof(p->folder), "%s", folder);
	pthread_mutex_unlock(&p->lock);
}

/* ---- one search by UID ---- */

size_t mailbox_uid_find(const void *v, size_t n,
			uint32_t (*uid_at)(const void *v, size_t i),
			uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t at = uid_at(v, mid);
		if (at == uid)
			return mid;
		if (at < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

uint32_t mailbox_uid_of_msgp(const void *v, size_t i)
{
	return ((struct store_msg *const *)v)[i]->uid;
}

uint32_t mailbox_uid_of_msg(const void *v, size_t i)
{
	return ((const struct store_msg *)v)[i].uid;
}

uint32_t mailbox_uid_of_item(const void *v, size_t i)
{
	return ((const struct state_item *)v)[i].uid;
}

/* ---- the pass ---- */

/* The plan's folders, one after the other.  A folder's own trouble
 * (ERR_FOLDER) does not stop the others: the first is returned at the
 * end. */
static int copy_folders(struct run *r, const struct sync_plan *plan,
			struct err *err)
{
	struct err folder_err = ERR_INIT;
	size_t i;

	for (i = 0; i < plan->n; i++) {
		const struct sync_plan_entry *fe = &plan->v[i];
		if (stop_requested(r)) {
			r->res->stopped = 1;
			break;
		}
		if (fe->dst == NULL) {
			log_debug("user %lld: folder \"%s\" excluded",
				  (long long)r->user_id, fe->src);
			continue;
		}
		if (fe->noselect) {
			/* A parent only: its children create it anyway, so
			 * a refusal here is not worth failing over. */
			if (r->dst->ops->create(r->dst, fe->dst, err) < 0) {
				if (err->cls != ERR_FOLDER)
					return -1;
				err_clear(err);
			}
			continue;
		}
		if (mailbox_sync_folder(r, fe, err) < 0) {
			err_prefix(err, "folder \"%s\": ", fe->src);
			if (err->cls != ERR_FOLDER)
				return -1;
			/* One folder's trouble: the others still go. */
			log_warn("user %lld: %s", (long long)r->user_id,
				 err->msg);
			if (folder_err.cls == ERR_NONE)
				folder_err = *err;
			err_clear(err);
		}
		if (r->res->stopped)
			break;
	}
	if (folder_err.cls != ERR_NONE) {
		*err = folder_err;
		return -1;
	}
	return 0;
}

/* One attempt: both sides opened and listed, the plan built, the item
 * limit's cutoff found, the folders copied; both sides closed. */
static int one_attempt(struct run *r, const struct sync_endpoints *ep,
		       struct err *err)
{
	struct store_folder_list sl = {0}, tl = {0};
	struct sync_plan plan = {0};
	int ret = -1;

	atomic_store(&r->prog->phase, SYNC_PHASE_CONNECTING);
	r->src = ep->open_source(ep->ctx, err);
	if (r->src == NULL)
		return -1;
	r->dst = ep->open_target(ep->ctx, err);
	if (r->dst == NULL)
		goto out;
	r->takes_nul = r->dst->ops->takes_nul(r->dst);
	atomic_store(&r->prog->phase, SYNC_PHASE_LISTING);
	if (r->src->ops->list(r->src, &sl, err) < 0 ||
	    r->dst->ops->list(r->dst, &tl, err) < 0)
		goto out;
	sync_plan_build(&sl, &tl, r->dst->ops->delimiter(r->dst),
			&r->opt->include, &r->opt->exclude, &plan);
	if (r->opt->max_items > 0 && mailbox_compute_cutoff(r, &plan, err) < 0)
		goto out;
	atomic_store(&r->prog->phase, SYNC_PHASE_COPYING);
	ret = copy_folders(r, &plan, err);
out:
	sync_plan_release(&plan);
	store_folder_list_free(&sl);
	store_folder_list_free(&tl);
	store_target_close(&r->dst);
	store_source_close(&r->src);
	return ret;
}

/* The user's totals from earlier runs, where this run's count starts. */
static int load_totals(struct run *r, struct err *err)
{
	struct state_user u;

	if (state_user_get_id(r->st, r->user_id, &u, err) < 0)
		return -1;
	r->res->bad_items = u.bad_items;
	atomic_store(&r->prog->items_done, u.items_synced);
	atomic_store(&r->prog->bytes_synced, u.bytes_synced);
	atomic_store(&r->prog->items_skipped, u.items_skipped);
	state_user_release(&u);
	return 0;
}

/* The end of the run: what it held freed, the phase it ended in shown. */
static void run_end(struct run *r, int phase)
{
	free(r->dst_name);
	free(r->undel);
	EVP_MD_CTX_free(r->md);
	atomic_store(&r->prog->phase, phase);
}

/* A refused or dropped connection is a server restarting as often as a
 * wrong setting: worth the retries.  A refused login, a bad certificate
 * or an unknown name is not. */
static int retryable(const struct err *err)
{
	return err->cls == ERR_TRANSIENT ||
	       (err->cls == ERR_CONNECT &&
		(err->code == EC_REFUSED || err->code == EC_RESET ||
		 err->code == EC_TIMEOUT));
}

/* The first back-off: 250 ms ($IMAPMIG_TEST_BACKOFF_MS, for tests only:
 * a server that keeps failing costs a minute of waiting otherwise). */
static unsigned first_delay_ms(void)
{
	const char *e = getenv("IMAPMIG_TEST_BACKOFF_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 && v <= 250 ? (unsigned)v : 250;
}

/* Back off: the server's hint if it gave one, else *delay_ms (doubled
 * for the next time), with jitter.  Never counted as bad items. */
static void back_off(struct run *r, const struct err *err, unsigned *delay_ms)
{
	unsigned wait = err->retry_after_ms ? err->retry_after_ms : *delay_ms;

	wait += (unsigned)rand() % first_delay_ms();
	log_warn("user %lld: %s; retrying in %.1f s", (long long)r->user_id,
		 err->msg, wait / 1000.0);
	if (err->code == EC_THROTTLED)
		r->res->throttled_ms += wait;
	usleep(wait * 1000u);
	if (*delay_ms < 60000)
		*delay_ms *= 2;
}

int sync_mailbox_run(struct state *st, int64_t user_id,
		     const struct sync_endpoints *ep,
		     const struct sync_options *opt,
		     struct sync_progress *progress, struct sync_result *res,
		     struct err *err)
{
	struct run r;
	unsigned attempt, max = opt->max_attempts ? opt->max_attempts : 5;
	unsigned delay_ms = first_delay_ms(), tries_with_progress = 0;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	r.st = st;
	r.user_id = user_id;
	r.opt = opt;
	r.prog = progress;
	r.res = res;
	r.md = EVP_MD_CTX_new();
	if (load_totals(&r, err) < 0) {
		EVP_MD_CTX_free(r.md);
		return -1;
	}
	for (attempt = 1;; attempt++) {
		uint64_t before = res->items_copied + res->items_skipped;
		err_clear(err);
		if (one_attempt(&r, ep, err) == 0) {
			run_end(&r, SYNC_PHASE_DONE);
			return 0;
		}
		if (stop_requested(&r)) {
			/* a stop cut the pass anywhere (a listing, a chunk):
			 * the journal is as a kill would leave it, and the
			 * next run resumes from it */
			log_info("user %lld: stopped (%s)", (long long)user_id,
				 err->msg);
			err_clear(err);
			res->stopped = 1;
			run_end(&r, SYNC_PHASE_DONE);
			return 0;
		}
		if (!retryable(err))
			break;
		if (res->items_copied + res->items_skipped > before &&
		    ++tries_with_progress < 1000) {
			/* The attempt got somewhere: a flaky link, not a dead
			 * one.  Start counting afresh. */
			attempt = 0;
			delay_ms = first_delay_ms();
		}
		if (attempt >= max)
			break;
		back_off(&r, err, &delay_ms);
	}
	run_end(&r, SYNC_PHASE_FAILED);
	return -1;
}
