/* mailbox_copy.c - the copy pipeline: a chunk of messages streamed from
 * the source into the target, checked, and settled in the journal; see
 * mailbox_priv.h. */
#include "sync/mailbox_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

/* A stop takes effect within the chunk: before the next message, or in
 * the middle of one (its half copy is taken back).  The source's stream
 * is cut with it, so no more bytes come. */
static int sink_stop(struct run *r)
{
	if (!stop_requested(r))
		return 0;
	r->stop_cut = 1;
	r->sink_fatal = 1;
	err_set(&r->sink_err, ERR_TRANSIENT, EC_NONE,
		"stopped in the middle of a chunk");
	return -1;
}

/* The item of uid in the current chunk (sorted by UID), or NULL. */
static struct chunk_item *chunk_find(struct run *r, uint32_t uid)
{
	size_t k = mailbox_uid_find(r->chunk, r->chunk_n, mailbox_uid_of_msgp,
				    uid);

	return k < r->chunk_n ? &r->items[k] : NULL;
}

static void confirmed(void *ctx, const char *ref, const struct err *err)
{
	struct chunk_item *ci = ctx;

	if (err == NULL) {
		ci->state = CI_DONE;
		ci->ref = xstrdup(ref ? ref : "");
	} else {
		ci->state = CI_FAILED;
		ci->err = *err;
	}
}

/* ---- the body sink: source literal chunks straight to the target ---- */

static int sink_begin(void *ctx, uint32_t uid, uint64_t size)
{
	struct run *r = ctx;
	struct chunk_item *ci = chunk_find(r, uid);

	/* before the message: nothing of it reached the target */
	if (sink_stop(r) < 0)
		return -1;
	r->cur = ci;
	r->cur_discard = 1;
	r->begin_pending = 0;
	if (ci == NULL || ci->state != CI_PENDING || r->target_dropped)
		return 0; /* not asked for, a repeat, or no target: ignore */
	ci->size = size;
	if (size > r->opt->max_message_size) {
		/* The limit holds for the bytes that come, whatever
		 * RFC822.SIZE said. */
		ci->state = CI_LARGE;
		return 0;
	}
	/* The target is told about the message with its first bytes, so a
	 * NUL in a small message is seen before the target is. */
	r->cur_discard = 0;
	r->begin_pending = 1;
	return 0;
}

static int sink_start_target(struct run *r)
{
	struct chunk_item *ci = r->cur;
	const struct store_msg *m = r->chunk[ci - r->items];
	char tag[48];
	struct err err = ERR_INIT;

	r->begin_pending = 0;
	if (r->rewrites)
		EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	memset(&r->mk, 0, sizeof(r->mk));
	snprintf(tag, sizeof(tag), "%s%u.%u", r->tag_prefix, r->uidvalidity,
		 ci->uid);
	if (r->dst->ops->append_begin(r->dst, r->dst_name, m, ci->size, tag,
				      &err) < 0) {
		r->cur_discard = 1;
		if (err.cls == ERR_MESSAGE) {
			/* This message only: record and go on. */
			ci->state = CI_FAILED;
			ci->err = err;
			return 0;
		}
		r->sink_err = err;
		r->sink_fatal = 1;
		return -1;
	}
	return 0;
}

void mailbox_marks_update(struct marks *mk, const char *p, size_t len)
{
	const char *q, *end = p + len;

	if (len == 0)
		return;
	/* the header section, byte by byte (it is short): 8-bit bytes in
	 * it are what some targets rewrite (Cyrus' munge8bit) */
	for (q = p; !mk->body && q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c >= 0x80)
			mk->hdr8 = 1;
		if (c == '\n' && (mk->h_prev == '\n' ||
				  (mk->h_prev == '\r' && mk->h_prev2 == '\n')))
			mk->body = 1;
		mk->h_prev2 = mk->h_prev;
		mk->h_prev = (char)c;
	}
	if (!mk->has80 && memchr(p, 0x80, len) != NULL)
		mk->has80 = 1;
	for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
		if ((q > p ? q[-1] : mk->last) != '\r')
			mk->odd_eol = 1;
		mk->n_lf++;
	}
	for (q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++)
		mk->n_cr++;
	mk->last = p[len - 1];
}

/* At the end of the bytes: more CRs than LFs is a bare CR. */
void mailbox_marks_end(struct marks *mk)
{
	if (mk->n_cr != mk->n_lf)
		mk->odd_eol = 1;
}

static int sink_data(void *ctx, const char *p, size_t len)
{
	struct run *r = ctx;

	if (sink_stop(r) < 0) {
		/* a half copy on the target is taken back (r->cur set) */
		if (r->cur_discard || r->begin_pending)
			r->cur = NULL;
		return -1;
	}
	if (r->cur_discard)
		return 0;
	if (!r->takes_nul && memchr(p, '\0', len) != NULL) {
		/* Reported, never stored altered.  If the target has seen
		 * part of it, only dropping the connection takes it back. */
		r->cur->state = CI_NUL;
		r->cur_discard = 1;
		if (!r->begin_pending) {
			r->dst->ops->append_abort(r->dst);
			r->target_dropped = 1;
		}
		r->begin_pending = 0;
		return 0;
	}
	if (r->begin_pending && sink_start_target(r) < 0)
		return -1;
	if (r->cur_discard)
		return 0;
	if (r->dst->ops->append_data(r->dst, p, len, &r->sink_err) < 0) {
		r->sink_fatal = 1;
		return -1;
	}
	if (r->rewrites)
		EVP_DigestUpdate(r->md, p, len);
	mailbox_marks_update(&r->mk, p, len);
	atomic_fetch_add(&r->prog->bytes_done, len);
	return 0;
}

static int sink_end(void *ctx)
{
	struct run *r = ctx;
	struct chunk_item *ci = r->cur;

	if (!r->cur_discard && r->begin_pending &&
	    sink_start_target(r) < 0) /* an empty body */
		return -1;
	r->cur = NULL;
	if (r->cur_discard)
		return 0;
	{
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dl = 0;
		if (r->rewrites) {
			EVP_DigestFinal_ex(r->md, d, &dl);
			memcpy(ci->sha, d, 32);
		}
		mailbox_marks_end(&r->mk);
		ci->has80 = r->mk.has80;
		ci->odd_eol = r->mk.odd_eol;
		ci->hdr8 = r->mk.hdr8;
	}
	ci->state = CI_SENT;
	if (r->dst->ops->append_end(r->dst, confirmed, ci, &r->sink_err) < 0) {
		r->sink_fatal = 1;
		return -1;
	}
	/* Keep the target's pipeline bounded; confirmations arrive here. */
	if (r->dst->ops->flush(r->dst, TARGET_PIPELINE, &r->sink_err) < 0) {
		r->sink_fatal = 1;
		return -1;
	}
	return 0;
}

static unsigned undelivered_bump(struct run *r, uint32_t uid)
{
	size_t i;

	for (i = 0; i < r->n_undel; i++)
		if (r->undel[i].folder_id == r->folder_id &&
		    r->undel[i].uid == uid)
			return ++r->undel[i].times;
	r->undel = xrealloc(r->undel, (r->n_undel + 1) * sizeof(*r->undel));
	r->undel[r->n_undel].folder_id = r->folder_id;
	r->undel[r->n_undel].uid = uid;
	r->undel[r->n_undel].times = 1;
	r->n_undel++;
	return 1;
}

/* ---- after a chunk: copies that may not be exact ---- */

/* Two kinds of copies are checked before they count: a message fetched
 * with BODY[] holding 0x80 bytes, which may be NUL bytes the source
 * hid (a source with BINARY tells, part by part); and one with bare CR
 * or LF or with 8-bit header bytes, which a target may rewrite (read back
 * and compared: Dovecot drops bare CRs, Cyrus turns 8-bit header bytes
 * into 'X').  A copy
 * that is not exact is taken back and reported: never kept altered. */
/* Bytes fetched with BODY[] that hold 0x80 may be a NUL the server hid. */
static int maybe_hid_nul(const struct chunk_item *ci, const struct store_msg *m)
{
	return mailbox_maybe_hid_nul(ci->has80, m);
}

/* Could a target have stored other bytes than it got? */
static int maybe_rewritten(const struct run *r, const struct chunk_item *ci)
{
	return r->rewrites && (ci->odd_eol || ci->hdr8);
}

/* Could check_copies find this confirmed copy altered? */
static int maybe_altered(const struct run *r, const struct chunk_item *ci,
			 const struct store_msg *m)
{
	return ci->state == CI_DONE &&
	       (maybe_hid_nul(ci, m) || maybe_rewritten(r, ci));
}

/* Before copies are checked (and perhaps taken back), the journal learns
 * where they are: a run killed in between finds them by ref, checks them
 * and takes back what is not exact, instead of leaving it. */
static int record_placed(struct run *r, struct store_msg *const *chunk,
			 size_t n, struct err *err)
{
	uint32_t *uids = xcalloc(n + 1, sizeof(*uids));
	const char **refs = xcalloc(n + 1, sizeof(*refs));
	size_t i, k = 0;
	int ret = 0;

	for (i = 0; i < n; i++)
		if (maybe_altered(r, &r->items[i], chunk[i]) &&
		    r->items[i].ref != NULL) {
			uids[k] = chunk[i]->uid;
			refs[k++] = r->items[i].ref;
		}
	if (k > 0)
		ret = state_items_placed(r->st, r->folder_id, uids, refs, k,
					 err);
	free(uids);
	free(refs);
	return ret;
}

static int check_copies(struct run *r, struct store_msg *const *chunk, size_t n,
			struct err *err)
{
	uint32_t *uids = xcalloc(n + 1, sizeof(*uids));
	size_t *idx = xcalloc(n + 1, sizeof(*idx));
	unsigned char *has_nul = xcalloc(n + 1, 1);
	size_t i, k = 0;
	int ret = 0;

	for (i = 0; i < n; i++) {
		const struct store_msg *m = chunk[i];
		struct chunk_item *ci = &r->items[i];
		if (ci->state == CI_DONE && maybe_hid_nul(ci, m)) {
			uids[k] = m->uid;
			idx[k++] = i;
		}
	}
	if (k > 0)
		ret = r->src->ops->nul_check(r->src, uids, k, has_nul, err);
	for (i = 0; ret == 0 && i < k; i++)
		if (has_nul[i])
			r->items[idx[i]].state = CI_SRC_NUL;
	for (i = 0; ret == 0 && i < n; i++) {
		struct chunk_item *ci = &r->items[i];
		int same = 1;
		if (ci->state == CI_DONE && maybe_rewritten(r, ci)) {
			ret = r->dst->ops->check(r->dst, r->dst_name, ci->ref,
						 ci->size, ci->sha, &same, err);
			if (ret < 0)
				break;
			if (!same)
				ci->state = CI_ALTERED;
		}
		if (ci->state == CI_SRC_NUL || ci->state == CI_ALTERED) {
			log_warn("user %lld: %s UID %u: the copy is not exact; "
				 "taking it back",
				 (long long)r->user_id, r->fe->src, ci->uid);
			if (r->dst->ops->withdraw(r->dst, r->dst_name, ci->ref,
						  err) < 0) {
				if (err->cls != ERR_MESSAGE)
					return -1;
				ci->state = CI_FAILED;
				ci->err = *err;
				err_prefix(&ci->err,
					   "an altered copy is on the target "
					   "and could not be taken back: ");
				err_clear(err);
			}
		}
	}
	free(uids);
	free(idx);
	free(has_nul);
	return ret;
}

/* ---- one chunk ---- */

/* The chunk becomes the run's current one: an item per message, and the
 * sink's state afresh. */
static void chunk_begin(struct run *r, struct store_msg *const *chunk, size_t n)
{
	size_t i;

	r->chunk = chunk;
	r->chunk_n = n;
	r->items = xcalloc(n, sizeof(*r->items));
	for (i = 0; i < n; i++) {
		r->items[i].uid = chunk[i]->uid;
		r->items[i].run = r;
	}
	r->sink_fatal = 0;
	r->stop_cut = 0;
	r->target_dropped = 0;
	r->rewrites = !r->dst->ops->keeps_bytes(r->dst);
	r->cur = NULL;
	err_clear(&r->sink_err);
}

/* The chunk journaled in flight, its bodies streamed into the target and
 * every confirmation waited for.  After a failure nothing the target may
 * still answer is left pending on the items. */
static int chunk_stream(struct run *r, struct store_msg *const *chunk, size_t n,
			struct err *err)
{
	const struct store_body_sink sink = {sink_begin, sink_data, sink_end,
					     r};
	int ret;

	/* Journal first: in flight before a byte reaches the target. */
	ret = state_items_inflight(r->st, r->user_id, r->folder_id, chunk, n,
				   err);
	if (ret == 0)
		ret = r->src->ops->fetch_bodies(
			r->src, (const struct store_msg *const *)chunk, n,
			&sink, err);
	if (ret < 0 && r->sink_fatal)
		*err = r->sink_err;
	if (ret == 0 && r->target_dropped)
		ret = err_set(err, ERR_TRANSIENT, EC_RESET,
			      "target connection closed to withdraw a "
			      "message with NUL bytes; reconnecting");
	if (ret == 0)
		ret = r->dst->ops->flush(r->dst, 0, err);
	if (ret < 0 && !r->target_dropped) {
		/* The target's answers to what was sent still count; a
		 * message half sent must leave no trace.  Answers that can
		 * no longer come are given up now, while the items they
		 * name exist: dropping the connection runs their callbacks
		 * (outcome unknown), never later on freed items. */
		struct err ferr = ERR_INIT;
		if (r->cur != NULL ||
		    r->dst->ops->flush(r->dst, 0, &ferr) < 0) {
			r->dst->ops->append_abort(r->dst);
			r->target_dropped = 1;
		}
		r->cur = NULL;
	}
	return ret;
}

/* The copies that may not be exact: their refs journaled (even after a
 * failure: the confirmed copies exist), then, if all went well so far
 * (ret 0), checked.  Returns the chunk's result so far. */
static int chunk_check(struct run *r, struct store_msg *const *chunk, size_t n,
		       int ret, struct err *err)
{
	struct err perr = ERR_INIT;

	if (record_placed(r, chunk, n, &perr) < 0 && ret == 0) {
		*err = perr;
		ret = -1;
	}
	if (ret == 0)
		ret = check_copies(r, chunk, n, err);
	return ret;
}

/* Record what the target confirmed, even after a failure (failed): those
 * copies exist.  Items never begun, or refused, are not on the target;
 * items sent but unconfirmed stay in flight, to be looked up on the
 * target by the next attempt. */
static int chunk_settle(struct run *r, struct store_msg *const *chunk, size_t n,
			int failed, struct err *err)
{
	struct err jerr = ERR_INIT;
	enum state_outcome *oc;
	const char **refs;
	uint64_t bytes = 0, done = 0;
	size_t i;
	int ret = 0;

	/* What the journal records is what came, not what was announced. */
	for (i = 0; i < n; i++)
		if (r->items[i].state == CI_DONE)
			chunk[i]->size = r->items[i].size;
	oc = xcalloc(n, sizeof(*oc));
	refs = xcalloc(n, sizeof(*refs));
	for (i = 0; i < n; i++) {
		struct chunk_item *ci = &r->items[i];
		switch (ci->state) {
		case CI_DONE:
			if (failed && maybe_altered(r, ci, chunk[i])) {
				/* unchecked: the next run checks it where
				 * record_placed noted it */
				oc[i] = STATE_ITEM_KEEP;
				break;
			}
			oc[i] = STATE_ITEM_DONE;
			refs[i] = ci->ref;
			done++;
			bytes += ci->size;
			break;
		case CI_PENDING: oc[i] = STATE_ITEM_FORGET; break;
		case CI_FAILED:
		case CI_LARGE:
		case CI_NUL:
		case CI_SRC_NUL:
		case CI_ALTERED:
			/* recorded as skipped (chunk_report) */
			oc[i] = STATE_ITEM_KEEP;
			break;
		case CI_SENT: oc[i] = STATE_ITEM_KEEP; break;
		}
	}
	if (state_items_settle(r->st, r->user_id, r->folder_id, chunk, oc, refs,
			       n, &jerr) < 0) {
		*err = jerr;
		ret = -1;
	}
	free(oc);
	free(refs);
	r->res->items_copied += done;
	r->res->bytes_copied += bytes;
	atomic_fetch_add(&r->prog->items_done, done);
	atomic_fetch_add(&r->prog->bytes_synced, bytes);
	return ret;
}

/* One item of the chunk that did not go: messages the target refused one
 * by one are bad items; those over the limit or with NUL bytes the
 * target cannot take are skipped with their reason; those the source did
 * not deliver are asked for again, and reported after UNDELIVERED_TRIES. */
static int chunk_report(struct run *r, struct store_msg *orig,
			struct chunk_item *ci, struct err *err)
{
	struct store_msg m = *orig;
	char reason[700];
	int ret = 0;

	switch (ci->state) {
	case CI_FAILED:
		if (ci->err.cls != ERR_MESSAGE) {
			*err = ci->err;
			ret = -1;
			break;
		}
		snprintf(reason, sizeof(reason), "bad item: %s", ci->err.msg);
		ret = mailbox_skip_item(r, orig, reason, 1, err);
		break;
	case CI_LARGE:
		m.size = ci->size;
		snprintf(reason, sizeof(reason),
			 "large item: %llu bytes, over the %llu-byte "
			 "limit%s",
			 (unsigned long long)ci->size,
			 (unsigned long long)r->opt->max_message_size,
			 ci->size != orig->size
				 ? " (the server had announced less)"
				 : "");
		ret = mailbox_skip_item(r, &m, reason, 0, err);
		break;
	case CI_NUL:
		m.size = ci->size;
		ret = mailbox_skip_item(r, &m,
					"holds NUL bytes, which this target "
					"cannot store unaltered (an IMAP "
					"literal cannot carry NUL): not "
					"copied",
					0, err);
		break;
	case CI_SRC_NUL:
		ret = mailbox_skip_item(r, orig,
					"holds NUL bytes the source server "
					"serves only altered (as 0x80, beside "
					"transfer-encoded parts): not copied",
					0, err);
		break;
	case CI_ALTERED:
		ret = mailbox_skip_item(r, orig,
					"the target stored it altered (it "
					"rewrites bare CR or LF line endings "
					"or 8-bit header bytes): copy taken "
					"back, not copied",
					0, err);
		break;
	case CI_PENDING:
		if (r->target_dropped || r->sink_fatal)
			break; /* not asked to the end: not a fault */
		if (undelivered_bump(r, ci->uid) < UNDELIVERED_TRIES) {
			r->undelivered_now++;
			break;
		}
		snprintf(reason, sizeof(reason),
			 "bad item: the source server did not deliver "
			 "this message in %d tries (its FETCH was "
			 "refused or left it out)",
			 UNDELIVERED_TRIES);
		ret = mailbox_skip_item(r, orig, reason, 1, err);
		break;
	default: break;
	}
	return ret;
}

/* The chunk is no longer the run's current one. */
static void chunk_end(struct run *r)
{
	size_t i;

	for (i = 0; i < r->chunk_n; i++)
		free(r->items[i].ref);
	free(r->items);
	r->items = NULL;
	r->chunk = NULL;
	r->chunk_n = 0;
}

/* Past --bad-item-limit (or any bad item with a limit of 0), the user
 * fails. */
static int check_bad_item_limit(struct run *r, struct err *err)
{
	if (r->opt->bad_item_limit > 0 &&
	    r->res->bad_items > r->opt->bad_item_limit)
		return err_set(err, ERR_MESSAGE, EC_TOO_BIG,
			       "%llu bad items, more than --bad-item-limit "
			       "%llu: see 'imapmig user stats --include-"
			       "skipped-items'",
			       (unsigned long long)r->res->bad_items,
			       (unsigned long long)r->opt->bad_item_limit);
	if (r->opt->bad_item_limit == 0 && r->res->bad_items > 0)
		return err_set(err, ERR_MESSAGE, EC_TOO_BIG,
			       "%llu bad item(s) and --bad-item-limit is 0: "
			       "see 'imapmig user stats --include-skipped-"
			       "items'",
			       (unsigned long long)r->res->bad_items);
	return 0;
}

int mailbox_copy_chunk(struct run *r, struct store_msg *const *chunk, size_t n,
		       struct err *err)
{
	size_t i;
	int ret;

	chunk_begin(r, chunk, n);
	ret = chunk_stream(r, chunk, n, err);
	ret = chunk_check(r, chunk, n, ret, err);
	if (chunk_settle(r, chunk, n, ret < 0, err) < 0)
		ret = -1;
	for (i = 0; ret == 0 && i < n; i++)
		ret = chunk_report(r, chunk[i], &r->items[i], err);
	chunk_end(r);
	if (ret == 0)
		ret = check_bad_item_limit(r, err);
	return ret;
}
