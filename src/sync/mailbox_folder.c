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

/* ---- one window ---- */

/* What of the window is neither copied nor reported: *todo_r (the caller
 * frees it), in UID order. */
static int window_todo(struct run *r, struct store_msg_list *msgs,
		       const struct window *w, struct store_msg ***todo_r,
		       size_t *n_r, struct err *err)
{
	struct store_msg **todo;
	uint32_t *done_uids = NULL;
	size_t n_todo = 0, n_done = 0, d = 0, i;

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
	*todo_r = todo;
	*n_r = n_todo;
	return 0;
}

/* The to-do list (sorted by UID) copied in chunks of at most CHUNK_MSGS
 * messages and CHUNK_BYTES (or one bigger message).  Returns 1 when a
 * stop ended it. */
static int copy_in_chunks(struct run *r, struct store_msg **todo, size_t n_todo,
			  struct err *err)
{
	size_t i = 0;

	while (i < n_todo) {
		size_t n = 0;
		uint64_t bytes = 0;
		if (stop_requested(r)) {
			r->res->stopped = 1;
			return 1;
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
				return 1;
			}
			return -1;
		}
		i += n;
	}
	return 0;
}

/* last_uid's progress over the window: over the settled messages, in UID
 * order, up to the first that is not (then *gap). */
static int window_progress(struct run *r, struct store_msg_list *msgs,
			   const struct window *w, uint32_t *last, int *gap,
			   struct err *err)
{
	uint32_t *done_uids = NULL;
	size_t n_done = 0, d = 0, i;

	if (*gap)
		return 0;
	if (state_settled_uids_in(r->st, r->folder_id, w->lo, w->hi, &done_uids,
				  &n_done, err) < 0)
		return -1;
	for (i = 0; i < msgs->n && !*gap; i++) {
		while (d < n_done && done_uids[d] < msgs->v[i].uid)
			d++;
		if (d == n_done || done_uids[d] != msgs->v[i].uid)
			*gap = 1;
		else
			*last = msgs->v[i].uid;
	}
	free(done_uids);
	return 0;
}

/* One window of a folder: the interrupted run's items settled, then what
 * is neither copied nor reported goes, in chunks.  *last and *gap carry
 * last_uid's progress (see folder_finish) from window to window. */
static int copy_window(struct run *r, struct store_msg_list *msgs,
		       const struct window *w, int first_contact,
		       uint32_t *last, int *gap, struct err *err)
{
	struct store_msg **todo = NULL;
	size_t n_todo = 0;
	int ret;

	r->first_contact = first_contact;
	ret = mailbox_settle_inflight(r, msgs, w->lo, w->hi, err);
	r->first_contact = 0;
	if (ret < 0 || window_todo(r, msgs, w, &todo, &n_todo, err) < 0)
		return -1;
	ret = mailbox_apply_limits(r, todo, &n_todo, err);
	if (ret == 0) {
		if (n_todo > 1)
			qsort(todo, n_todo, sizeof(*todo), msg_cmp_uid);
		ret = copy_in_chunks(r, todo, n_todo, err);
	}
	free(todo);
	if (ret != 0) /* 1: a stop ended it */
		return ret < 0 ? -1 : 0;
	return window_progress(r, msgs, w, last, gap, err);
}

/* ---- one folder ---- */

/* One folder's pass, from step to step. */
struct folder_pass {
	struct store_folder_status fs; /* the source's, as selected */
	struct state_folder jf;	       /* the journal's, as opened */
	int renumbered;		       /* UIDVALIDITY changed since */
	int first_contact;	       /* the journal never saw it */
	uint32_t last;		       /* last_uid's progress */
	int gap;		       /* a message not settled was met */
};

/* An incremental pass over an unchanged folder costs nothing but the
 * listing: same UIDVALIDITY, no UID above the last one copied, nothing
 * left in flight.  Returns 1 for such a folder (counted). */
static int folder_unchanged(struct run *r, const struct sync_plan_entry *fe,
			    struct err *err)
{
	struct state_folder jf;
	uint32_t *infl = NULL;
	size_t ninfl = 0;

	if (!fe->has_status)
		return 0;
	if (state_folder_open(r->st, r->user_id, fe->src, NULL, &jf, err) < 0)
		return -1;
	if (jf.uidvalidity != 0 && jf.uidvalidity == fe->status.uidvalidity &&
	    (fe->status.uidnext == 0 ||
	     fe->status.uidnext <= jf.last_uid + 1) &&
	    /* flags unchanged too: only CONDSTORE can tell */
	    fe->status.highestmodseq != 0 &&
	    fe->status.highestmodseq == jf.highestmodseq) {
		if (state_inflight_uids(r->st, jf.id, &infl, &ninfl, err) < 0)
			return -1;
		free(infl);
		if (ninfl == 0) {
			r->res->folders_unchanged++;
			return 1;
		}
	}
	return 0;
}

/* The folder created on the target (or under the name it takes), opened
 * in the journal and on the source; a renumbering noted; the flags of
 * the copies brought up to date. */
static int folder_open(struct run *r, const struct sync_plan_entry *fe,
		       struct folder_pass *fp, struct err *err)
{
	struct state_folder *jf = &fp->jf;
	const struct store_folder_status *fs = &fp->fs;

	if (create_folder(r, fe, err) < 0)
		return -1;
	if (state_folder_open(r->st, r->user_id, fe->src, r->dst_name, jf,
			      err) < 0)
		return -1;
	r->folder_id = jf->id;
	fp->first_contact = jf->uidvalidity == 0;
	make_tag_prefix(fe->src, r->tag_prefix);
	if (r->src->ops->select(r->src, fe->src, &fp->fs, err) < 0)
		return -1;
	r->uidvalidity = fs->uidvalidity;
	if (jf->uidvalidity != 0 && jf->uidvalidity != fs->uidvalidity) {
		/* The source renumbered the folder: UIDs say nothing now.
		 * Everything is read again, and each message is looked up
		 * on the target before it is copied (settle_inflight). */
		log_warn("user %lld: folder \"%s\" changed UIDVALIDITY "
			 "(%u -> %u): re-reading it, matching messages "
			 "already on the target",
			 (long long)r->user_id, fe->src, jf->uidvalidity,
			 fs->uidvalidity);
		if (state_folder_renumbered(r->st, r->folder_id, err) < 0)
			return -1;
		jf->last_uid = 0;
		fp->renumbered = 1;
	}
	/* The new HIGHESTMODSEQ is recorded only once the pass is done:
	 * a pass cut short must look at the flags again.  A new UIDVALIDITY
	 * only once every message is marked as possibly on the target (a
	 * pass cut short before that must see the change again, or it would
	 * copy the whole folder again). */
	if (state_folder_update(
		    r->st, r->folder_id,
		    fp->renumbered || fp->first_contact ? jf->uidvalidity
							: fs->uidvalidity,
		    jf->last_uid, fp->renumbered ? 0 : jf->highestmodseq,
		    fs->messages, err) < 0)
		return -1;
	if (!fp->renumbered && mailbox_sync_flags(r, jf, fs, err) < 0)
		return -1;
	fp->last = jf->last_uid;
	return 0;
}

/* The folder's windows, each settled and copied.  Returns 1 when a stop
 * ended the pass. */
static int copy_pass(struct run *r, struct folder_pass *fp, struct err *err)
{
	struct store_msg_list msgs = {0};
	struct window w;
	int ret = 0;

	mailbox_window_start(&w, fp->jf.last_uid + 1, &fp->fs);
	while (!w.done) {
		if (stop_requested(r)) {
			r->res->stopped = 1;
			break;
		}
		if (mailbox_window_next(r, &w, &fp->fs, &msgs, err) < 0 ||
		    copy_window(r, &msgs, &w,
				fp->first_contact && !fp->renumbered, &fp->last,
				&fp->gap, err) < 0) {
			ret = -1;
			break;
		}
		if (r->res->stopped)
			break;
	}
	store_msg_list_free(&msgs);
	if (ret == 0 && r->res->stopped)
		ret = 1;
	return ret;
}

/* last_uid moves only over messages that are settled (copied or
 * reported), in UID order, and only when the journal accounts for every
 * message the source says the folder holds: a message the server left
 * out, refused or has yet to deliver keeps it back, so the next pass asks
 * for it again. */
static int folder_finish(struct run *r, const struct sync_plan_entry *fe,
			 const struct folder_pass *fp, struct err *err)
{
	const struct store_folder_status *fs = &fp->fs;
	uint64_t n_settled = 0;
	uint32_t last = fp->last;
	int complete, ret;

	if (state_settled_count(r->st, r->folder_id, &n_settled, err) < 0)
		return -1;
	complete = n_settled >= fs->messages;
	if (!complete) {
		last = fp->jf.last_uid;
		log_warn("user %lld: folder \"%s\": the source says it "
			 "holds %u messages, %llu are copied or "
			 "reported",
			 (long long)r->user_id, fe->src, fs->messages,
			 (unsigned long long)n_settled);
	}
	ret = state_folder_update(r->st, r->folder_id, fs->uidvalidity, last,
				  complete ? fs->highestmodseq
					   : fp->jf.highestmodseq,
				  fs->messages, err);
	if (ret == 0 && r->undelivered_now > 0)
		ret = err_set(err, ERR_TRANSIENT, EC_IO,
			      "folder \"%s\": the source did not deliver "
			      "%u message(s) it listed: asking again",
			      fe->src, r->undelivered_now);
	else if (ret == 0 && !complete)
		ret = err_set(err, ERR_TRANSIENT, EC_PROTOCOL,
			      "folder \"%s\": the source says it holds "
			      "%u messages but listed only %llu: "
			      "asking again",
			      fe->src, fs->messages,
			      (unsigned long long)n_settled);
	return ret;
}

int mailbox_sync_folder(struct run *r, const struct sync_plan_entry *fe,
			struct err *err)
{
	struct folder_pass fp;
	int ret;

	memset(&fp, 0, sizeof(fp));
	r->fe = fe;
	/* counted per folder: an empty or unchanged folder must not carry
	 * the previous folder's count into its own end */
	r->undelivered_now = 0;
	sync_progress_set_folder(r->prog, fe->src);
	free(r->dst_name);
	r->dst_name = xstrdup(fe->dst);
	ret = folder_unchanged(r, fe, err);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	if (folder_open(r, fe, &fp, err) < 0)
		return -1;
	/* an empty folder goes straight to the end: that records its new
	 * UIDVALIDITY */
	if (fp.fs.messages > 0) {
		if (fp.renumbered || fp.first_contact)
			ret = mailbox_mark_pass(r, &fp.fs, &fp.jf,
						fp.renumbered, err);
		if (ret == 0)
			ret = copy_pass(r, &fp, err);
		if (ret != 0) /* 1: a stop ended it */
			return ret < 0 ? -1 : 0;
	}
	return folder_finish(r, fe, &fp, err);
}
