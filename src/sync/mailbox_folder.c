/* mailbox_folder.c - one folder of the pass; see mailbox_priv.h. */
#include "sync/mailbox_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

static void make_tag_prefix(const char *folder, char out[16])
{
	/* FNV-1a of the source folder: two source folders merged into one
	 * target folder (Sent and Sent Items) never share a tag. */
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)folder; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(out, 16, "%08x.", h);
}

/* Create the target folder.  A target that refuses the name (Cyrus: '"';
 * Dovecot's Maildir++: '.') gets a safe spelling, then a last resort; the
 * folder report shows which name was used. */
static int create_folder(struct run *r, const struct sync_plan_entry *fe,
			 struct err *err)
{
	struct err first = ERR_INIT;
	char *p;
	int step;

	for (step = 0; step < 3; step++) {
		if (step == 1) {
			/* each level: only letters, digits, space, '-', '_'
			 * and non-ASCII stay */
			for (p = r->dst_name; *p; p++)
				if (*p != '/' && (unsigned char)*p < 0x80 &&
				    !(*p >= 'a' && *p <= 'z') &&
				    !(*p >= 'A' && *p <= 'Z') &&
				    !(*p >= '0' && *p <= '9') && *p != ' ' &&
				    *p != '-' && *p != '_')
					*p = '_';
			if (strcmp(r->dst_name, fe->dst) == 0)
				continue;
		} else if (step == 2) {
			char tag[16];
			make_tag_prefix(fe->src, tag);
			tag[8] = '\0';
			free(r->dst_name);
			r->dst_name = xasprintf("Migrated folder %s", tag);
		}
		if (r->dst->ops->create(r->dst, r->dst_name, err) == 0) {
			if (step > 0)
				log_warn("user %lld: the target refused "
					 "folder \"%s\" (%s); using \"%s\"",
					 (long long)r->user_id, fe->dst,
					 first.msg, r->dst_name);
			return 0;
		}
		if (err->cls != ERR_FOLDER)
			return -1;
		if (step == 0)
			first = *err;
		err_clear(err);
	}
	*err = first;
	return -1;
}

/* ---- one folder ---- */

/* One window of a folder: the interrupted run's items settled, then what
 * is neither copied nor reported goes, in chunks.  *last and *gap carry
 * last_uid's progress (see mailbox_sync_folder) from window to window. */
static int copy_window(struct run *r, struct store_msg_list *msgs,
		       const struct window *w, int first_contact,
		       uint32_t *last, int *gap, struct err *err)
{
	const struct sync_plan_entry *fe = r->fe;
	struct store_msg **todo = NULL;
	uint32_t *done_uids = NULL;
	size_t n_todo = 0, n_done = 0, d = 0, i;
	int ret;

	r->first_contact = first_contact;
	ret = mailbox_settle_inflight(r, msgs, w->lo, w->hi, err);
	r->first_contact = 0;
	if (ret < 0)
		return -1;
	if (state_settled_uids_in(r->st, r->folder_id, w->lo, w->hi, &done_uids,
				  &n_done, err) < 0)
		return -1;
	todo = xcalloc(msgs->n + 1, sizeof(*todo));
	/* msgs and done_uids are both in UID order */
	for (i = 0; i < msgs->n; i++) {
		while (d < n_done && done_uids[d] < msgs->v[i].uid)
			d++;
		if (d < n_done && done_uids[d] == msgs->v[i].uid)
			continue;
		todo[n_todo++] = &msgs->v[i];
	}
	free(done_uids);
	done_uids = NULL;
	/* Limits first: a large item is skipped and reported, never cut.
	 * RFC822.SIZE is only a claim: one byte past the limit must exist. */
	{
		size_t k = 0, nb = 0;
		uint32_t *big = xcalloc(n_todo + 1, sizeof(*big));
		unsigned char *over = xcalloc(n_todo + 1, 1);
		for (i = 0; i < n_todo; i++)
			if (todo[i]->size > r->opt->max_message_size)
				big[nb++] = todo[i]->uid;
		if (nb > 1)
			qsort(big, nb, sizeof(*big), cmp_u32);
		if (nb > 0 && r->src->ops->size_over(r->src, big, nb,
						     r->opt->max_message_size,
						     over, err) < 0) {
			free(big);
			free(over);
			goto fail;
		}
		for (i = 0; i < n_todo; i++) {
			struct store_msg *m = todo[i];
			char reason[160];
			if (stop_requested(r)) {
				/* each report costs a round trip */
				free(big);
				free(over);
				r->res->stopped = 1;
				free(todo);
				return 0;
			}
			if (m->size > r->opt->max_message_size) {
				const uint32_t *hit =
					bsearch(&m->uid, big, nb, sizeof(*big),
						cmp_u32);
				if (hit != NULL && !over[hit - big]) {
					log_warn("user %lld: %s UID %u: the "
						 "server says %llu bytes, but "
						 "it is not over the limit: "
						 "copying it",
						 (long long)r->user_id, fe->src,
						 m->uid,
						 (unsigned long long)m->size);
					todo[k++] = m;
					continue;
				}
			}
			if (m->size > r->opt->max_message_size) {
				snprintf(reason, sizeof(reason),
					 "large item: %llu bytes, over the "
					 "%llu-byte limit",
					 (unsigned long long)m->size,
					 (unsigned long long)
						 r->opt->max_message_size);
				if (mailbox_skip_item(r, m, reason, 0, err) <
				    0) {
					free(big);
					free(over);
					goto fail;
				}
				continue;
			}
			if (mailbox_over_item_limit(r, m)) {
				snprintf(reason, sizeof(reason),
					 "over the %llu-item limit (older "
					 "items are not migrated)",
					 (unsigned long long)r->opt->max_items);
				if (mailbox_skip_item(r, m, reason, 0, err) <
				    0) {
					free(big);
					free(over);
					goto fail;
				}
				continue;
			}
			todo[k++] = m;
		}
		n_todo = k;
		free(big);
		free(over);
	}
	if (n_todo > 1)
		qsort(todo, n_todo, sizeof(*todo), msg_cmp_uid);
	i = 0;
	while (i < n_todo) {
		size_t n = 0;
		uint64_t bytes = 0;
		if (stop_requested(r)) {
			r->res->stopped = 1;
			free(todo);
			return 0;
		}
		while (i + n < n_todo && n < CHUNK_MSGS &&
		       (n == 0 || bytes + todo[i + n]->size <= CHUNK_BYTES)) {
			bytes += todo[i + n]->size;
			n++;
		}
		if (mailbox_copy_chunk(r, todo + i, n, err) < 0) {
			if (r->stop_cut && stop_requested(r)) {
				/* what was confirmed is journaled, the rest
				 * is for the next run */
				err_clear(err);
				r->res->stopped = 1;
				free(todo);
				return 0;
			}
			goto fail;
		}
		i += n;
	}
	free(todo);
	todo = NULL;
	/* last_uid's progress: over the settled messages, in UID order,
	 * up to the first that is not */
	if (*gap)
		return 0;
	if (state_settled_uids_in(r->st, r->folder_id, w->lo, w->hi, &done_uids,
				  &n_done, err) < 0)
		return -1;
	for (i = 0, d = 0; i < msgs->n && !*gap; i++) {
		while (d < n_done && done_uids[d] < msgs->v[i].uid)
			d++;
		if (d == n_done || done_uids[d] != msgs->v[i].uid)
			*gap = 1;
		else
			*last = msgs->v[i].uid;
	}
	free(done_uids);
	return 0;
fail:
	free(todo);
	return -1;
}

int mailbox_sync_folder(struct run *r, const struct sync_plan_entry *fe,
			struct err *err)
{
	struct store_folder_status fs;
	struct store_msg_list msgs = {0};
	struct state_folder jf;
	struct window w;
	uint32_t last;
	int gap = 0, renumbered = 0, first_contact;
	int ret = -1;

	r->fe = fe;
	sync_progress_set_folder(r->prog, fe->src);
	free(r->dst_name);
	r->dst_name = xstrdup(fe->dst);
	if (fe->has_status) {
		/* An incremental pass over an unchanged folder costs nothing
		 * but the listing: same UIDVALIDITY, no UID above the last
		 * one copied, nothing left in flight. */
		uint32_t *infl = NULL;
		size_t ninfl = 0;
		if (state_folder_open(r->st, r->user_id, fe->src, NULL, &jf,
				      err) < 0)
			return -1;
		if (jf.uidvalidity != 0 &&
		    jf.uidvalidity == fe->status.uidvalidity &&
		    (fe->status.uidnext == 0 ||
		     fe->status.uidnext <= jf.last_uid + 1) &&
		    /* flags unchanged too: only CONDSTORE can tell */
		    fe->status.highestmodseq != 0 &&
		    fe->status.highestmodseq == jf.highestmodseq) {
			if (state_inflight_uids(r->st, jf.id, &infl, &ninfl,
						err) < 0)
				return -1;
			free(infl);
			if (ninfl == 0) {
				r->res->folders_unchanged++;
				return 0;
			}
		}
	}
	if (create_folder(r, fe, err) < 0)
		return -1;
	if (state_folder_open(r->st, r->user_id, fe->src, r->dst_name, &jf,
			      err) < 0)
		return -1;
	r->folder_id = jf.id;
	first_contact = jf.uidvalidity == 0;
	make_tag_prefix(fe->src, r->tag_prefix);
	if (r->src->ops->select(r->src, fe->src, &fs, err) < 0)
		return -1;
	r->uidvalidity = fs.uidvalidity;
	if (jf.uidvalidity != 0 && jf.uidvalidity != fs.uidvalidity) {
		/* The source renumbered the folder: UIDs say nothing now.
		 * Everything is read again, and each message is looked up
		 * on the target before it is copied (mailbox_settle_inflight).
		 */
		log_warn("user %lld: folder \"%s\" changed UIDVALIDITY "
			 "(%u -> %u): re-reading it, matching messages "
			 "already on the target",
			 (long long)r->user_id, fe->src, jf.uidvalidity,
			 fs.uidvalidity);
		if (state_folder_renumbered(r->st, r->folder_id, err) < 0)
			return -1;
		jf.last_uid = 0;
		renumbered = 1;
	}
	/* The new HIGHESTMODSEQ is recorded only once the pass is done:
	 * a pass cut short must look at the flags again.  A new UIDVALIDITY
	 * only once every message is marked as possibly on the target (a
	 * pass cut short before that must see the change again, or it would
	 * copy the whole folder again). */
	if (state_folder_update(r->st, r->folder_id,
				renumbered || first_contact ? jf.uidvalidity
							    : fs.uidvalidity,
				jf.last_uid, renumbered ? 0 : jf.highestmodseq,
				fs.messages, err) < 0)
		return -1;
	if (!renumbered && mailbox_sync_flags(r, &jf, &fs, err) < 0)
		return -1;
	last = jf.last_uid;
	if (fs.messages == 0)
		goto done; /* records the new UIDVALIDITY */
	r->undelivered_now = 0;
	/* Renumbered, every message is treated as possibly on the target;
	 * met for the first time, each whose date a copy there has.  Marked
	 * in a listing pass of their own, window by window, before the new
	 * UIDVALIDITY is recorded. */
	if (renumbered || first_contact) {
		time_t *dates = NULL;
		size_t n_dates = 0;
		uint64_t marked = 0;
		if (!renumbered &&
		    mailbox_target_dates(r, &dates, &n_dates, err) < 0)
			return -1;
		mailbox_window_start(&w, jf.last_uid + 1, &fs);
		while ((renumbered || n_dates > 0) && !w.done) {
			if (stop_requested(r)) {
				r->res->stopped = 1;
				break;
			}
			if (mailbox_window_next(r, &w, &fs, &msgs, err) < 0 ||
			    mailbox_mark_window(r, &msgs,
						renumbered ? NULL : dates,
						n_dates, &marked, err) < 0) {
				free(dates);
				goto out;
			}
		}
		free(dates);
		store_msg_list_free(&msgs);
		if (r->res->stopped)
			return 0;
		if (!renumbered && marked > 0)
			log_info("user %lld: folder \"%s\" already holds %zu "
				 "message(s) on the target: %llu source "
				 "message(s) of the same date are looked up "
				 "there before copying",
				 (long long)r->user_id, r->dst_name, n_dates,
				 (unsigned long long)marked);
		if (state_folder_update(r->st, r->folder_id, fs.uidvalidity,
					jf.last_uid,
					renumbered ? 0 : jf.highestmodseq,
					fs.messages, err) < 0)
			return -1;
	}
	mailbox_window_start(&w, jf.last_uid + 1, &fs);
	while (!w.done) {
		if (stop_requested(r)) {
			r->res->stopped = 1;
			break;
		}
		if (mailbox_window_next(r, &w, &fs, &msgs, err) < 0 ||
		    copy_window(r, &msgs, &w, first_contact && !renumbered,
				&last, &gap, err) < 0)
			goto out;
		if (r->res->stopped)
			break;
	}
	store_msg_list_free(&msgs);
	if (r->res->stopped)
		return 0;
done:
	/* last_uid moves only over messages that are settled (copied or
	 * reported), in UID order, and only when the journal accounts for
	 * every message the source says the folder holds: a message the
	 * server left out, refused or has yet to deliver keeps it back, so
	 * the next pass asks for it again. */
	{
		uint64_t n_settled = 0;
		int complete;
		if (state_settled_count(r->st, r->folder_id, &n_settled, err) <
		    0)
			goto out;
		complete = n_settled >= fs.messages;
		if (!complete) {
			last = jf.last_uid;
			log_warn("user %lld: folder \"%s\": the source says it "
				 "holds %u messages, %llu are copied or "
				 "reported",
				 (long long)r->user_id, fe->src, fs.messages,
				 (unsigned long long)n_settled);
		}
		ret = state_folder_update(
			r->st, r->folder_id, fs.uidvalidity, last,
			complete ? fs.highestmodseq : jf.highestmodseq,
			fs.messages, err);
		if (ret == 0 && r->undelivered_now > 0)
			ret = err_set(
				err, ERR_TRANSIENT, EC_IO,
				"folder \"%s\": the source did not deliver "
				"%u message(s) it listed: asking again",
				fe->src, r->undelivered_now);
		else if (ret == 0 && !complete)
			ret = err_set(err, ERR_TRANSIENT, EC_PROTOCOL,
				      "folder \"%s\": the source says it holds "
				      "%u messages but listed only %llu: "
				      "asking again",
				      fe->src, fs.messages,
				      (unsigned long long)n_settled);
	}
out:
	store_msg_list_free(&msgs);
	return ret;
}
