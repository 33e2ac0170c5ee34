/* mailbox_window.c - a folder listed window by window: metadata, flag
 * changes, the first-contact marking; see mailbox_priv.h. */
#include "sync/mailbox_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

/* ---- a folder's listing, window by window ---- */

/* The source's listing in UID order, each UID once, and nothing at or
 * above UIDNEXT (a stray response must not move last_uid past mail that
 * has yet to arrive). */
static void normalise_listing(struct run *r, struct store_msg_list *msgs,
			      const struct store_folder_status *fs)
{
	size_t i, k = 0;

	if (msgs->n > 1)
		qsort(msgs->v, msgs->n, sizeof(*msgs->v), msg_cmp_uid_val);
	for (i = 0; i < msgs->n; i++) {
		struct store_msg *m = &msgs->v[i];
		int drop = fs->uidnext != 0 && m->uid >= fs->uidnext;
		if (!drop && k > 0 && msgs->v[k - 1].uid == m->uid)
			drop = 1; /* a repeat: the first answer stands */
		if (drop) {
			log_warn("user %lld: folder \"%s\": ignoring a "
				 "stray or repeated FETCH response for UID "
				 "%u (UIDNEXT %u)",
				 (long long)r->user_id, r->fe->src, m->uid,
				 fs->uidnext);
			free(m->keywords);
			free(m->message_id);
			continue;
		}
		msgs->v[k++] = *m;
	}
	msgs->n = k;
}

/* At most this many messages' metadata (about 60 B each, twice that
 * while the store cuts an over-full answer) are held at once, whatever the
 * folder's size: a folder is listed, planned and copied one window of
 * UIDs after the other. */
#define WINDOW_MSGS 50000u

/* IMAPMIG_WINDOW_MSGS sets a smaller bound, for the tests only (many
 * windows out of a small folder). */
static uint32_t window_msgs(void)
{
	const char *e = getenv("IMAPMIG_WINDOW_MSGS");
	unsigned long v = e != NULL ? strtoul(e, NULL, 10) : 0;

	return v >= 2 && v < WINDOW_MSGS ? (uint32_t)v : WINDOW_MSGS;
}

void mailbox_window_start(struct window *w, uint32_t first,
			  const struct store_folder_status *fs)
{
	uint64_t width;

	memset(w, 0, sizeof(*w));
	w->max = window_msgs();
	width = w->max;
	w->next = first ? first : 1;
	/* nothing at or above UIDNEXT counts (normalise_listing) */
	w->end = fs->uidnext != 0 ? fs->uidnext - 1 : UINT32_MAX;
	/* the folder's density guesses how many UIDs hold WINDOW_MSGS
	 * messages; a wrong guess costs a window more or a cut answer */
	if (fs->uidnext > 1 && fs->messages > 0 &&
	    fs->uidnext - 1 > fs->messages)
		width = (uint64_t)w->max * (fs->uidnext - 1) / fs->messages;
	w->width = width > UINT32_MAX ? UINT32_MAX : (uint32_t)width;
	w->done = w->next > w->end || w->next == 0;
}

/* The next window's messages into msgs (emptied first), in UID order,
 * each UID once; [w->lo, w->hi] the UIDs it covers.  Sets w->done after
 * the last. */
int mailbox_window_next(struct run *r, struct window *w,
			const struct store_folder_status *fs,
			struct store_msg_list *msgs, struct err *err)
{
	uint32_t hi, covered = 0;
	uint64_t grow;

	store_msg_list_free(msgs);
	hi = w->end - w->next < w->width - 1 ? w->end
					     : w->next + (w->width - 1);
	if (r->src->ops->fetch_meta(r->src, w->next, hi, w->max, msgs, &covered,
				    err) < 0)
		return -1;
	if (covered > hi)
		covered = hi;
	if (covered < w->next) {
		/* the lowest UID alone filled a window: no sane listing */
		store_msg_list_free(msgs);
		return err_set(err, ERR_FOLDER, EC_PROTOCOL,
			       "the source listed UID %u more than %u times: "
			       "check the server",
			       w->next, w->max);
	}
	w->lo = w->next;
	w->hi = covered;
	normalise_listing(r, msgs, fs);
	/* the next window: as wide as what held WINDOW_MSGS, or wider after
	 * one that held few (a sparse folder, or its end) */
	if (covered < hi) {
		w->width = covered - w->lo + 1;
	} else if (msgs->n < w->max / 2) {
		grow = msgs->n > 0 ? w->max / msgs->n : 16;
		grow = (uint64_t)w->width * (grow > 16 ? 16 : grow);
		w->width = grow > UINT32_MAX ? UINT32_MAX : (uint32_t)grow;
	}
	if (covered >= w->end)
		w->done = 1;
	else
		w->next = covered + 1;
	return 0;
}

/* ---- flag changes on messages already copied ---- */

static int kw_equal(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* One window's flag changes: cur (from the source) against what the
 * journal says each copy was given. */
static int flags_window(struct run *r, struct store_msg_list *cur, uint32_t lo,
			uint32_t hi, struct err *err)
{
	struct state_item *items = NULL;
	size_t n_items = 0, i;
	int ret = -1;

	if (cur->n == 0)
		return 0;
	if (state_done_items_in(r->st, r->folder_id, lo, hi, &items, &n_items,
				err) < 0)
		return -1;
	for (i = 0; i < cur->n; i++) {
		const struct store_msg *m = &cur->v[i];
		size_t k = mailbox_uid_find(items, n_items, mailbox_uid_of_item,
					    m->uid);
		struct state_item *it = k < n_items ? &items[k] : NULL;
		char *new_ref = NULL;
		if (it == NULL || (it->flags == m->flags &&
				   kw_equal(it->keywords, m->keywords)))
			continue;
		if (r->dst->ops->set_flags(r->dst, r->dst_name, it->ref, m,
					   &new_ref, err) < 0) {
			if (err->cls != ERR_MESSAGE)
				goto out;
			err_clear(err); /* one message: keep its old flags */
			continue;
		}
		if (state_item_set_flags(r->st, r->folder_id, m->uid, m->flags,
					 m->keywords, new_ref, err) < 0) {
			free(new_ref);
			goto out;
		}
		free(new_ref);
		r->res->flags_updated++;
	}
	ret = 0;
out:
	state_items_free(items, n_items);
	return ret;
}

/* The flags of the copied messages (UID <= last_uid), window by window
 * as the listing goes (see mailbox_window_next): memory bounded whatever the
 * folder's size, and with CONDSTORE only the changed ones come. */
int mailbox_sync_flags(struct run *r, const struct state_folder *jf,
		       const struct store_folder_status *fs, struct err *err)
{
	struct store_msg_list cur = {0};
	uint32_t lo = 1, max = window_msgs(), width = max;
	uint64_t grow;
	int ret = 0;

	if (jf->last_uid == 0)
		return 0;
	/* CONDSTORE: an unchanged HIGHESTMODSEQ means no flag changed. */
	if (fs->highestmodseq != 0 && jf->highestmodseq == fs->highestmodseq)
		return 0;
	while (ret == 0) {
		uint32_t hi = jf->last_uid - lo < width - 1 ? jf->last_uid
							    : lo + (width - 1);
		uint32_t covered = hi;
		if (stop_requested(r))
			break; /* the flags are looked at again next time */
		store_msg_list_free(&cur);
		ret = r->src->ops->fetch_flags(
			r->src, lo, hi,
			fs->highestmodseq ? jf->highestmodseq : 0, max, &cur,
			&covered, err);
		if (ret < 0)
			break;
		if (covered > hi || covered < lo)
			covered = hi;
		ret = flags_window(r, &cur, lo, covered, err);
		if (covered < hi)
			width = covered - lo + 1;
		else if (cur.n < max / 2) {
			grow = cur.n > 0 ? max / cur.n : 16;
			grow = (uint64_t)width * (grow > 16 ? 16 : grow);
			width = grow > UINT32_MAX ? UINT32_MAX : (uint32_t)grow;
		}
		if (covered >= jf->last_uid)
			break;
		lo = covered + 1;
	}
	store_msg_list_free(&cur);
	return ret;
}

/* ---- first contact: copies that may already be on the target ---- */

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return x < y ? -1 : x > y;
}

/* The dates of the copies in the target folder, sorted.  (What the
 * target holds, not the source: held whole, 8 bytes a copy.) */
static int target_dates(struct run *r, time_t **dates_r, size_t *n_r,
			struct err *err)
{
	struct store_copy_list copies = {0};
	time_t *dates = NULL;
	size_t i;
	int ret;

	*dates_r = NULL;
	*n_r = 0;
	ret = r->dst->ops->list_copies(r->dst, r->dst_name, &copies, err);
	if (ret < 0 || copies.n == 0)
		goto out;
	dates = xcalloc(copies.n, sizeof(*dates));
	for (i = 0; i < copies.n; i++)
		dates[i] = copies.v[i].internaldate;
	qsort(dates, copies.n, sizeof(*dates), cmp_time);
	*dates_r = dates;
	*n_r = copies.n;
out:
	store_copy_list_free(&copies);
	return ret;
}

/* Mark a window's messages as possibly on the target: every one (dates
 * NULL: the folder was renumbered), or each with the INTERNALDATE of a
 * copy there (a copy keeps its date).  settle_inflight() then reads each,
 * hashes it and looks it up on the target; only what is not found is
 * copied. */
static int mark_window(struct run *r, struct store_msg_list *msgs,
		       const time_t *dates, size_t n_dates, uint64_t *marked,
		       struct err *err)
{
	struct store_msg **maybe = xcalloc(msgs->n + 1, sizeof(*maybe));
	size_t n = 0, i;
	int ret = 0;

	for (i = 0; i < msgs->n; i++)
		if (dates == NULL ||
		    bsearch(&msgs->v[i].internaldate, dates, n_dates,
			    sizeof(*dates), cmp_time) != NULL)
			maybe[n++] = &msgs->v[i];
	if (n > 0)
		ret = state_items_inflight(r->st, r->user_id, r->folder_id,
					   maybe, n, err);
	*marked += n;
	free(maybe);
	return ret;
}

/* Renumbered, every message is treated as possibly on the target; met
 * for the first time, each whose date a copy there has.  Marked in a
 * listing pass of their own, window by window, before the new UIDVALIDITY
 * is recorded. */
int mailbox_mark_pass(struct run *r, const struct store_folder_status *fs,
		      const struct state_folder *jf, int renumbered,
		      struct err *err)
{
	struct store_msg_list msgs = {0};
	struct window w;
	time_t *dates = NULL;
	size_t n_dates = 0;
	uint64_t marked = 0;
	int ret = 0;

	if (!renumbered && target_dates(r, &dates, &n_dates, err) < 0)
		return -1;
	mailbox_window_start(&w, jf->last_uid + 1, fs);
	while ((renumbered || n_dates > 0) && !w.done) {
		if (stop_requested(r)) {
			r->res->stopped = 1;
			break;
		}
		if (mailbox_window_next(r, &w, fs, &msgs, err) < 0 ||
		    mark_window(r, &msgs, renumbered ? NULL : dates, n_dates,
				&marked, err) < 0) {
			ret = -1;
			break;
		}
	}
	free(dates);
	store_msg_list_free(&msgs);
	if (ret < 0)
		return -1;
	if (r->res->stopped)
		return 1;
	if (!renumbered && marked > 0)
		log_info("user %lld: folder \"%s\" already holds %zu "
			 "message(s) on the target: %llu source "
			 "message(s) of the same date are looked up "
			 "there before copying",
			 (long long)r->user_id, r->dst_name, n_dates,
			 (unsigned long long)marked);
	if (state_folder_update(
		    r->st, r->folder_id, fs->uidvalidity, jf->last_uid,
		    renumbered ? 0 : jf->highestmodseq, fs->messages, err) < 0)
		return -1;
	return 0;
}
