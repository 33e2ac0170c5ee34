/* mailbox_limits.c - skipped items and the limits (--max-message-size,
 * --max-items); see mailbox_priv.h. */
#include "sync/mailbox_priv.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/xalloc.h"

/* ---- skipped items ---- */

int mailbox_skip_item(struct run *r, const struct store_msg *m,
		      const char *reason, int bad, struct err *err)
{
	char *subject = NULL, *from = NULL, *date = NULL;
	struct err ferr = ERR_INIT;
	int ret;

	/* The report wants what a person recognises; a failure to get it
	 * must not stop the migration. */
	if (r->src->ops->fetch_summary(r->src, m->uid, &subject, &from, &date,
				       &ferr) < 0 &&
	    ferr.cls != ERR_MESSAGE && ferr.cls != ERR_FOLDER) {
		*err = ferr;
		ret = -1;
		goto out;
	}
	ret = state_item_skip(r->st, r->user_id, r->folder_id, m, reason, bad,
			      subject, from, date, err);
	if (ret == 0) {
		r->res->items_skipped++;
		atomic_fetch_add(&r->prog->items_skipped, 1);
		if (bad)
			r->res->bad_items++;
	}
out:
	free(subject);
	free(from);
	free(date);
	return ret;
}

/* ---- the item limit: keep the newest max_items ---- */

/* A date as the limit compares it: seconds since 1970 in 32 bits (mail
 * dated before 1970 counts as of 1970, after 2106 as of 2106). */
static uint32_t date_key(time_t t)
{
	if (t <= 0)
		return 0;
	if ((uint64_t)t >= UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)t;
}

/* Is m over the item limit (older than the newest max_items)?  Counts the
 * ties at the cutoff second as they are let through. */
static int over_item_limit(struct run *r, const struct store_msg *m)
{
	uint32_t key = date_key(m->internaldate);

	if (!r->has_cutoff || key > r->cutoff)
		return 0;
	if (key < r->cutoff || r->cutoff_ties == 0)
		return 1;
	r->cutoff_ties--;
	return 0;
}

/* One message of the to-do list against the limits: *keep 1 if it goes
 * on, else it is reported.  big[0..nb) (sorted) are the UIDs whose
 * RFC822.SIZE is over the size limit, over[] whether each really is. */
static int limit_one(struct run *r, struct store_msg *m, const uint32_t *big,
		     size_t nb, const unsigned char *over, int *keep,
		     struct err *err)
{
	char reason[160];

	*keep = 0;
	if (m->size > r->opt->max_message_size) {
		const uint32_t *hit =
			bsearch(&m->uid, big, nb, sizeof(*big), cmp_u32);
		if (hit != NULL && !over[hit - big]) {
			log_warn("user %lld: %s UID %u: the server says %llu "
				 "bytes, but it is not over the limit: "
				 "copying it",
				 (long long)r->user_id, r->fe->src, m->uid,
				 (unsigned long long)m->size);
			*keep = 1;
			return 0;
		}
	}
	if (m->size > r->opt->max_message_size) {
		snprintf(reason, sizeof(reason),
			 "large item: %llu bytes, over the %llu-byte limit",
			 (unsigned long long)m->size,
			 (unsigned long long)r->opt->max_message_size);
		return mailbox_skip_item(r, m, reason, 0, err);
	}
	if (over_item_limit(r, m)) {
		snprintf(reason, sizeof(reason),
			 "over the %llu-item limit (older items are not "
			 "migrated)",
			 (unsigned long long)r->opt->max_items);
		return mailbox_skip_item(r, m, reason, 0, err);
	}
	*keep = 1;
	return 0;
}

/* Limits first: a large item is skipped and reported, never cut.
 * RFC822.SIZE is only a claim: one byte past the limit must exist. */
int mailbox_apply_limits(struct run *r, struct store_msg **todo, size_t *n,
			 struct err *err)
{
	size_t n_todo = *n, k = 0, nb = 0, i;
	uint32_t *big = xcalloc(n_todo + 1, sizeof(*big));
	unsigned char *over = xcalloc(n_todo + 1, 1);
	int ret = 0;

	for (i = 0; i < n_todo; i++)
		if (todo[i]->size > r->opt->max_message_size)
			big[nb++] = todo[i]->uid;
	if (nb > 1)
		qsort(big, nb, sizeof(*big), cmp_u32);
	if (nb > 0 &&
	    r->src->ops->size_over(r->src, big, nb, r->opt->max_message_size,
				   over, err) < 0)
		ret = -1;
	for (i = 0; ret == 0 && i < n_todo; i++) {
		int keep = 0;
		if (stop_requested(r)) {
			/* each report costs a round trip */
			r->res->stopped = 1;
			ret = 1;
			break;
		}
		ret = limit_one(r, todo[i], big, nb, over, &keep, err);
		if (ret == 0 && keep)
			todo[k++] = todo[i];
	}
	if (ret == 0)
		*n = k;
	free(big);
	free(over);
	return ret;
}

/* The newest max_items of the mailbox, without holding its dates: the
 * cutoff second is found by counting.  One listing pass counts messages
 * per day (49,711 counters for 1970-2106), which gives the day where the
 * max_items-th newest falls; a second pass counts that day's messages per
 * second (86,400 counters), which gives the second and how many of its
 * messages are still allowed (ties: the first met, in folder and UID
 * order, go).  Memory: 540 KB and one window, whatever the mailbox's
 * size; cost: two listings more, only for a mailbox over the limit. */
#define DAY_SECS 86400u
#define N_DAYS	 (UINT32_MAX / DAY_SECS + 1)

/* day UINT32_MAX: count per day; else count that day's messages per
 * second */
static int count_dates(struct run *r, const struct sync_plan *plan,
		       uint32_t day, uint32_t *counts, struct err *err)
{
	struct store_msg_list msgs = {0};
	size_t i, j;
	int ret = 0;

	for (i = 0; ret == 0 && i < plan->n; i++) {
		struct store_folder_status fs;
		struct window w;
		if (plan->v[i].dst == NULL || plan->v[i].noselect)
			continue;
		r->fe = &plan->v[i];
		ret = r->src->ops->select(r->src, plan->v[i].src, &fs, err);
		if (ret < 0 || fs.messages == 0)
			continue;
		mailbox_window_start(&w, 1, &fs);
		while (ret == 0 && !w.done) {
			if (stop_requested(r)) {
				ret = err_set(err, ERR_TRANSIENT, EC_NONE,
					      "stopped while counting the "
					      "messages for the item limit");
				break;
			}
			ret = mailbox_window_next(r, &w, &fs, &msgs, err);
			for (j = 0; ret == 0 && j < msgs.n; j++) {
				uint32_t key = date_key(msgs.v[j].internaldate);
				if (day == UINT32_MAX)
					counts[key / DAY_SECS]++;
				else if (key / DAY_SECS == day)
					counts[key % DAY_SECS]++;
			}
		}
	}
	r->fe = NULL;
	store_msg_list_free(&msgs);
	return ret;
}

int mailbox_compute_cutoff(struct run *r, const struct sync_plan *plan,
			   struct err *err)
{
	uint32_t *counts = NULL, d, s;
	uint64_t total = 0, need;
	size_t i;
	int ret = -1;

	r->has_cutoff = 0;
	/* The listing's counters (LIST-STATUS), else one EXAMINE per
	 * folder, count the mailbox; only a mailbox over the limit pays for
	 * reading every message's date. */
	for (i = 0; i < plan->n; i++) {
		struct store_folder_status fs;
		if (plan->v[i].dst == NULL || plan->v[i].noselect)
			continue;
		if (plan->v[i].has_status) {
			total += plan->v[i].status.messages;
			continue;
		}
		if (r->src->ops->select(r->src, plan->v[i].src, &fs, err) < 0)
			return -1;
		total += fs.messages;
	}
	atomic_store(&r->prog->items_total, total);
	if (total <= r->opt->max_items)
		return 0;
	counts = xcalloc(N_DAYS, sizeof(*counts));
	if (count_dates(r, plan, UINT32_MAX, counts, err) < 0)
		goto out;
	need = r->opt->max_items;
	for (d = N_DAYS; d > 0 && counts[d - 1] < need; d--)
		need -= counts[d - 1];
	if (d == 0) { /* not over the limit after all */
		ret = 0;
		goto out;
	}
	d--;
	free(counts);
	counts = xcalloc(DAY_SECS, sizeof(*counts));
	if (count_dates(r, plan, d, counts, err) < 0)
		goto out;
	for (s = DAY_SECS; s > 0 && counts[s - 1] < need; s--)
		need -= counts[s - 1];
	/* the day held fewer than the first count said (mail expunged
	 * meanwhile): all of it goes */
	r->cutoff = d * DAY_SECS + (s > 0 ? s - 1 : 0);
	r->cutoff_ties = need;
	r->has_cutoff = 1;
	atomic_store(&r->prog->items_total, r->opt->max_items);
	ret = 0;
out:
	free(counts);
	return ret;
}
