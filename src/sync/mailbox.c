/* mailbox.c - one mailbox's migration pass; see mailbox.h. */
#include "sync/mailbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "state/state.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A chunk: how many messages (and bytes) are put in flight at once.
 * Big enough that one FETCH and one round of APPEND confirmations cover
 * many messages; small enough that a stop or a fault loses little
 * progress and a resume checks few in-flight items. */
#define CHUNK_MSGS  256
#define CHUNK_BYTES (48ull << 20)
/* APPENDs unconfirmed at once on an IMAP target. */
#define TARGET_PIPELINE 64

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

/* What a message's bytes hold that calls for a check after the copy. */
struct marks {
	unsigned has80 : 1;   /* a 0x80 byte: maybe a NUL the source hid */
	unsigned odd_eol : 1; /* a bare CR or LF: may be altered */
	unsigned hdr8 : 1;    /* 8-bit header bytes: may be altered */
	unsigned body : 1;    /* past the header section */
	char last, h_prev, h_prev2;
	uint64_t n_cr, n_lf;
};

struct run {
	struct state *st;
	int64_t user_id;
	const struct sync_options *opt;
	struct sync_progress *prog;
	struct sync_result *res;
	struct store_source *src;
	struct store_target *dst;
	/* current folder */
	const struct sync_plan_entry *fe;
	char *dst_name; /* fe->dst, or what the target took */
	int64_t folder_id;
	uint32_t uidvalidity;
	char tag_prefix[16];
	int takes_nul; /* the target stores NUL bytes unaltered */
	/* the folder's first pass in this state: copies on the target may
	 * be anyone's, so settle_inflight() only finds, never takes back */
	int first_contact;
	/* messages the source failed to deliver, per folder and UID, over
	 * the attempts of this run */
	struct undelivered *undel;
	size_t n_undel;
	unsigned undelivered_now; /* this folder, this attempt */
	/* current chunk */
	struct store_msg *const *chunk;
	size_t chunk_n;
	struct chunk_item *items; /* parallel to chunk */
	struct chunk_item *cur;	  /* body being streamed */
	int cur_discard;
	int begin_pending;   /* append_begin waits for the first bytes */
	int target_dropped;  /* append_abort() closed the target */
	int stop_cut;	     /* a stop cut the chunk short */
	EVP_MD_CTX *md;	     /* SHA-256 of the body being streamed */
	int rewrites;	     /* the target may store other bytes than it
			      * receives (IMAP); a Maildir keeps them: its
			      * copies need neither digest nor read-back */
	struct marks mk;     /* and what is to be checked in it */
	struct err sink_err; /* a target error while streaming */
	int sink_fatal;
	int has_cutoff;	      /* the mailbox is over max_items */
	uint32_t cutoff;      /* date_key(): items older are over it */
	uint64_t cutoff_ties; /* items at cutoff still allowed */
};

/* What happened to one message of a chunk. */
struct chunk_item {
	uint32_t uid;
	enum {
		CI_PENDING, /* not delivered by the source (yet) */
		CI_SENT,    /* sent to the target, not confirmed */
		CI_DONE,    /* the target confirmed it */
		CI_FAILED,  /* the target refused it: a bad item */
		CI_LARGE,   /* more bytes arrived than the size limit */
		CI_NUL,	    /* holds NUL bytes the target cannot store */
		CI_SRC_NUL, /* the source served NUL bytes as 0x80 */
		CI_ALTERED, /* the target stored other bytes than it got */
	} state;
	uint64_t size;	       /* bytes the source delivered */
	unsigned char sha[32]; /* of those bytes */
	unsigned has80 : 1;    /* a 0x80 byte: maybe a NUL the source hid */
	unsigned odd_eol : 1;  /* a bare CR or LF: may be altered */
	unsigned hdr8 : 1;     /* 8-bit header bytes: may be altered */
	char *ref;
	struct err err;
	struct run *run;
};

struct undelivered {
	int64_t folder_id;
	uint32_t uid;
	unsigned times;
};

/* Tries before a message the source keeps not delivering is reported as
 * a bad item; until then it is a transient fault, retried with back-off. */
#define UNDELIVERED_TRIES 3

static int stop_requested(const struct run *r)
{
	return r->opt->stop != NULL && atomic_load(r->opt->stop);
}

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

static int msg_cmp_uid(const void *a, const void *b)
{
	const struct store_msg *x = *(struct store_msg *const *)a;
	const struct store_msg *y = *(struct store_msg *const *)b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int msg_cmp_uid_val(const void *a, const void *b)
{
	const struct store_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct chunk_item *chunk_find(struct run *r, uint32_t uid)
{
	size_t lo = 0, hi = r->chunk_n;

	/* the chunk is sorted by UID */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->chunk[mid]->uid == uid)
			return &r->items[mid];
		if (r->chunk[mid]->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
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

static void marks_update(struct marks *mk, const char *p, size_t len)
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
static void marks_end(struct marks *mk)
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
	marks_update(&r->mk, p, len);
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
		marks_end(&r->mk);
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

/* ---- skipped items ---- */

static int skip_item(struct run *r, const struct store_msg *m,
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
	return ci->has80 && !(m->binary_size != 0 && m->binary_size == m->size);
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

static int copy_chunk(struct run *r, struct store_msg *const *chunk, size_t n,
		      struct err *err)
{
	const struct store_body_sink sink = {sink_begin, sink_data, sink_end,
					     r};
	size_t i;
	int ret;

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
	{
		/* even after a failure: the confirmed copies exist */
		struct err perr = ERR_INIT;
		if (record_placed(r, chunk, n, &perr) < 0 && ret == 0) {
			*err = perr;
			ret = -1;
		}
	}
	if (ret == 0)
		ret = check_copies(r, chunk, n, err);
	/* What the journal records is what came, not what was announced. */
	for (i = 0; i < n; i++)
		if (r->items[i].state == CI_DONE)
			chunk[i]->size = r->items[i].size;
	/* Record what the target confirmed, even after a failure: those
	 * copies exist.  Items never begun, or refused, are not on the
	 * target; items sent but unconfirmed stay in flight, to be looked
	 * up on the target by the next attempt. */
	{
		struct err jerr = ERR_INIT;
		enum state_outcome *oc = xcalloc(n, sizeof(*oc));
		const char **refs = xcalloc(n, sizeof(*refs));
		uint64_t bytes = 0, done = 0;
		for (i = 0; i < n; i++) {
			struct chunk_item *ci = &r->items[i];
			switch (ci->state) {
			case CI_DONE:
				if (ret < 0 && maybe_altered(r, ci, chunk[i])) {
					/* unchecked: the next run checks it
					 * where record_placed noted it */
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
				/* recorded as skipped below */
				oc[i] = STATE_ITEM_KEEP;
				break;
			case CI_SENT: oc[i] = STATE_ITEM_KEEP; break;
			}
		}
		if (state_items_settle(r->st, r->user_id, r->folder_id, chunk,
				       oc, refs, n, &jerr) < 0) {
			*err = jerr;
			ret = -1;
		}
		free(oc);
		free(refs);
		r->res->items_copied += done;
		r->res->bytes_copied += bytes;
		atomic_fetch_add(&r->prog->items_done, done);
		atomic_fetch_add(&r->prog->bytes_synced, bytes);
	}
	/* Messages the target refused one by one are bad items; those
	 * over the limit or with NUL bytes the target cannot take are
	 * skipped with their reason; those the source did not deliver are
	 * asked for again, and reported after UNDELIVERED_TRIES. */
	for (i = 0; ret == 0 && i < n; i++) {
		struct chunk_item *ci = &r->items[i];
		struct store_msg m = *chunk[i];
		char reason[700];
		switch (ci->state) {
		case CI_FAILED:
			if (ci->err.cls != ERR_MESSAGE) {
				*err = ci->err;
				ret = -1;
				break;
			}
			snprintf(reason, sizeof(reason), "bad item: %s",
				 ci->err.msg);
			ret = skip_item(r, chunk[i], reason, 1, err);
			break;
		case CI_LARGE:
			m.size = ci->size;
			snprintf(reason, sizeof(reason),
				 "large item: %llu bytes, over the %llu-byte "
				 "limit%s",
				 (unsigned long long)ci->size,
				 (unsigned long long)r->opt->max_message_size,
				 ci->size != chunk[i]->size
					 ? " (the server had announced less)"
					 : "");
			ret = skip_item(r, &m, reason, 0, err);
			break;
		case CI_NUL:
			m.size = ci->size;
			ret = skip_item(r, &m,
					"holds NUL bytes, which this target "
					"cannot store unaltered (an IMAP "
					"literal cannot carry NUL): not "
					"copied",
					0, err);
			break;
		case CI_SRC_NUL:
			ret = skip_item(r, chunk[i],
					"holds NUL bytes the source server "
					"serves only altered (as 0x80, beside "
					"transfer-encoded parts): not copied",
					0, err);
			break;
		case CI_ALTERED:
			ret = skip_item(r, chunk[i],
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
			ret = skip_item(r, chunk[i], reason, 1, err);
			break;
		default: break;
		}
	}
	for (i = 0; i < n; i++)
		free(r->items[i].ref);
	free(r->items);
	r->items = NULL;
	r->chunk = NULL;
	r->chunk_n = 0;
	if (ret == 0 && r->opt->bad_item_limit > 0 &&
	    r->res->bad_items > r->opt->bad_item_limit)
		return err_set(err, ERR_MESSAGE, EC_TOO_BIG,
			       "%llu bad items, more than --bad-item-limit "
			       "%llu: see 'imapmig user stats --include-"
			       "skipped-items'",
			       (unsigned long long)r->res->bad_items,
			       (unsigned long long)r->opt->bad_item_limit);
	if (ret == 0 && r->opt->bad_item_limit == 0 && r->res->bad_items > 0)
		return err_set(err, ERR_MESSAGE, EC_TOO_BIG,
			       "%llu bad item(s) and --bad-item-limit is 0: "
			       "see 'imapmig user stats --include-skipped-"
			       "items'",
			       (unsigned long long)r->res->bad_items);
	return ret;
}

/* ---- flag changes on messages already copied ---- */

static int kw_equal(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static uint32_t window_msgs(void);

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
		size_t a = 0, b = n_items;
		struct state_item *it = NULL;
		char *new_ref = NULL;
		while (a < b) {
			size_t mid = (a + b) / 2;
			if (items[mid].uid == m->uid) {
				it = &items[mid];
				break;
			}
			if (items[mid].uid < m->uid)
				a = mid + 1;
			else
				b = mid;
		}
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
 * as the listing goes (see window_next): memory bounded whatever the
 * folder's size, and with CONDSTORE only the changed ones come. */
static int sync_flags(struct run *r, const struct state_folder *jf,
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

/* ---- one folder ---- */

/* ---- resume: in-flight items of an earlier, interrupted run ---- */

/* SHA-256 of source messages, filled by a sink. */
struct hashing {
	struct store_msg *const *msgs; /* sorted by UID */
	size_t n;
	unsigned char (*sha)[32];
	unsigned char (*loose)[32]; /* store_loose_update digests */
	uint64_t *size, *kept;
	struct marks *mk;
	unsigned char *have;
	size_t cur; /* index, or n */
	EVP_MD_CTX *md, *lmd;
};

static size_t msgp_find(struct store_msg *const *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid]->uid == uid)
			return mid;
		if (v[mid]->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

static int hash_begin(void *ctx, uint32_t uid, uint64_t size)
{
	struct hashing *h = ctx;

	h->cur = msgp_find(h->msgs, h->n, uid);
	if (h->cur < h->n) {
		h->size[h->cur] = size;
		h->kept[h->cur] = 0;
		memset(&h->mk[h->cur], 0, sizeof(h->mk[h->cur]));
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
		EVP_DigestInit_ex(h->lmd, EVP_sha256(), NULL);
	}
	return 0;
}

static int hash_data(void *ctx, const char *p, size_t len)
{
	struct hashing *h = ctx;

	if (h->cur < h->n) {
		EVP_DigestUpdate(h->md, p, len);
		store_loose_update(h->lmd, p, len, &h->kept[h->cur]);
		marks_update(&h->mk[h->cur], p, len);
	}
	return 0;
}

static int hash_end(void *ctx)
{
	struct hashing *h = ctx;
	unsigned dl = 0;

	if (h->cur < h->n) {
		EVP_DigestFinal_ex(h->md, h->sha[h->cur], &dl);
		EVP_DigestFinal_ex(h->lmd, h->loose[h->cur], &dl);
		marks_end(&h->mk[h->cur]);
		h->have[h->cur] = 1;
	}
	h->cur = h->n;
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of uid in msgs (sorted by UID), or msgs->n. */
static size_t msg_find(const struct store_msg_list *msgs, uint32_t uid)
{
	size_t lo = 0, hi = msgs->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (msgs->v[mid].uid == uid)
			return mid;
		if (msgs->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return msgs->n;
}

/* An interrupted run's copy that is not exact leaves the target.  If the
 * target cannot take it back, say so and go on: the item is copied again
 * and reported as the copy_chunk check finds it. */
static int take_back(struct run *r, uint32_t uid, const char *ref,
		     struct err *err)
{
	log_warn("user %lld: %s UID %u: a copy an interrupted run made is "
		 "not exact; taking it back",
		 (long long)r->user_id, r->fe->src, uid);
	if (r->dst->ops->withdraw(r->dst, r->dst_name, ref, err) == 0)
		return 0;
	if (err->cls != ERR_MESSAGE)
		return -1;
	log_warn("user %lld: %s UID %u: %s", (long long)r->user_id, r->fe->src,
		 uid, err->msg);
	err_clear(err);
	return 0;
}

/* Each in-flight item is looked up on the target: found only if a copy
 * proves to be it.  A copy placed before the interruption but not yet
 * checked (its ref recorded) is read back: exact, it is the copy; not
 * exact, it is taken back.  Any other item needs its tag, or the same
 * bytes (SHA-256 compared) in a copy no other item owns.  A found copy
 * whose source bytes may hide a NUL is checked as copy_chunk would, and
 * taken back if it does.  Found: done.  Not found: forgotten, so it is
 * copied again.  Never a guess. */
static int settle_inflight(struct run *r, struct store_msg_list *msgs,
			   uint32_t lo, uint32_t hi, struct err *err)
{
	const struct store_body_sink hsink = {hash_begin, hash_data, hash_end,
					      NULL};
	struct store_body_sink sink = hsink;
	struct hashing h;
	struct state_item *infl = NULL, *done = NULL;
	struct store_msg **want = NULL;
	const char **placed = NULL;
	char **claimed = NULL, **found = NULL, **older = NULL;
	char **strays = NULL; /* taken back, named in claimed */
	size_t n_older = 0, n_strays = 0;
	uint32_t *nul_uids = NULL;
	size_t *nul_idx = NULL;
	unsigned char *has_nul = NULL;
	size_t n = 0, nw = 0, n_done = 0, n_claimed = 0, n_nul = 0, i;
	int ret;

	memset(&h, 0, sizeof(h));
	ret = state_inflight_items_in(r->st, r->folder_id, lo, hi, &infl, &n,
				      err);
	if (ret < 0 || n == 0)
		goto out;
	want = xcalloc(n, sizeof(*want));
	placed = xcalloc(n, sizeof(*placed));
	for (i = 0; ret == 0 && i < n; i++) {
		size_t k = msg_find(msgs, infl[i].uid);
		if (k == msgs->n) { /* gone from the source since */
			ret = state_item_forget(r->st, r->folder_id,
						infl[i].uid, err);
			continue;
		}
		placed[nw] = infl[i].ref != NULL && infl[i].ref[0] != '\0'
				     ? infl[i].ref
				     : NULL;
		want[nw++] = &msgs->v[k];
	}
	if (ret < 0 || nw == 0)
		goto out;
	/* The source's bytes, hashed: what a copy must be. */
	h.msgs = want;
	h.n = nw;
	h.sha = xcalloc(nw, sizeof(*h.sha));
	h.size = xcalloc(nw, sizeof(*h.size));
	h.have = xcalloc(nw, 1);
	h.loose = xcalloc(nw, sizeof(*h.loose));
	h.kept = xcalloc(nw, sizeof(*h.kept));
	h.mk = xcalloc(nw, sizeof(*h.mk));
	h.cur = nw;
	h.md = EVP_MD_CTX_new();
	h.lmd = EVP_MD_CTX_new();
	sink.ctx = &h;
	ret = r->src->ops->fetch_bodies(
		r->src, (const struct store_msg *const *)want, nw, &sink, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < nw; i++)
		if (!h.have[i]) {
			/* Unread, it cannot be checked, so it cannot be
			 * copied again either: later. */
			ret = err_set(err, ERR_TRANSIENT, EC_IO,
				      "the source did not deliver UID %u, "
				      "which an interrupted run had in "
				      "flight: retrying",
				      want[i]->uid);
			goto out;
		}
	/* Copies other items own: those confirmed, and those placed. */
	ret = state_done_items(r->st, r->folder_id, &done, &n_done, err);
	if (ret < 0)
		goto out;
	claimed = xcalloc(n_done + 2 * nw + 1, sizeof(*claimed));
	found = xcalloc(nw, sizeof(*found));
	for (i = 0; i < n_done; i++)
		if (done[i].ref != NULL && done[i].ref[0] != '\0')
			claimed[n_claimed++] = done[i].ref;
	for (i = 0; i < nw; i++)
		if (placed[i] != NULL)
			claimed[n_claimed++] = (char *)placed[i];
	if (n_claimed > 1)
		qsort(claimed, n_claimed, sizeof(*claimed), cmp_strp);
	n_older = n_claimed;
	older = xcalloc(n_older + 1, sizeof(*older));
	memcpy(older, claimed, n_older * sizeof(*older));
	for (i = 0; ret == 0 && i < nw; i++) {
		const struct store_msg *m = want[i];
		char tag[48], *ref = NULL;
		int hit = 0;
		if (placed[i] != NULL) {
			ret = r->dst->ops->check(r->dst, r->dst_name, placed[i],
						 h.size[i], h.sha[i], &hit,
						 err);
			if (ret == 0 && hit) {
				found[i] = xstrdup(placed[i]);
				continue;
			}
			if (ret == 0)
				ret = take_back(r, m->uid, placed[i], err);
			continue;
		}
		snprintf(tag, sizeof(tag), "%s%u.%u", r->tag_prefix,
			 r->uidvalidity, m->uid);
		ret = r->dst->ops->find(r->dst, r->dst_name, tag, h.size[i],
					h.sha[i], (const char *const *)claimed,
					n_claimed, &ref, &hit, err);
		if (ret < 0 || !hit) {
			free(ref);
			continue;
		}
		found[i] = ref;
		if (ref[0] != '\0') {
			claimed[n_claimed++] = ref;
			qsort(claimed, n_claimed, sizeof(*claimed), cmp_strp);
		}
	}
	/* A copy the interrupted run sent but had not recorded, which the
	 * target stored altered, is found by no exact lookup: it would stay
	 * beside the new copy.  Looked for by its loose digest among the
	 * unclaimed copies newer than every recorded one, and taken back. */
	for (i = 0; ret == 0 && i < nw; i++) {
		struct store_altered_query q;
		unsigned tries;
		if (found[i] != NULL || placed[i] != NULL || r->first_contact ||
		    r->dst->ops->find_altered == NULL ||
		    r->dst->ops->keeps_bytes(r->dst) ||
		    !(h.mk[i].odd_eol || h.mk[i].hdr8))
			continue;
		q.min_size = h.kept[i];
		q.max_size = h.kept[i] + 2 * (h.mk[i].n_cr + h.mk[i].n_lf);
		q.loose_sha = h.loose[i];
		q.older = (const char *const *)older;
		q.n_older = n_older;
		/* a copy per interrupted run, at most */
		for (tries = 0; ret == 0 && tries < 8; tries++) {
			char *ref = NULL;
			int hit = 0;
			q.claimed = (const char *const *)claimed;
			q.n_claimed = n_claimed;
			ret = r->dst->ops->find_altered(r->dst, r->dst_name, &q,
							&ref, &hit, err);
			if (ret < 0 || !hit) {
				free(ref);
				break;
			}
			ret = take_back(r, want[i]->uid, ref, err);
			claimed = xrealloc(claimed,
					   (n_claimed + 2) * sizeof(*claimed));
			claimed[n_claimed++] = ref;
			qsort(claimed, n_claimed, sizeof(*claimed), cmp_strp);
			strays = xrealloc(strays,
					  (n_strays + 1) * sizeof(*strays));
			strays[n_strays++] = ref;
		}
	}
	/* A copy of bytes that may hide a NUL is exact only if they do not. */
	nul_uids = xcalloc(nw, sizeof(*nul_uids));
	nul_idx = xcalloc(nw, sizeof(*nul_idx));
	has_nul = xcalloc(nw, 1);
	for (i = 0; ret == 0 && i < nw; i++)
		if (found[i] != NULL && h.mk[i].has80 &&
		    !(want[i]->binary_size != 0 &&
		      want[i]->binary_size == want[i]->size)) {
			nul_uids[n_nul] = want[i]->uid;
			nul_idx[n_nul++] = i;
		}
	if (ret == 0 && n_nul > 0)
		ret = r->src->ops->nul_check(r->src, nul_uids, n_nul, has_nul,
					     err);
	for (i = 0; ret == 0 && i < n_nul; i++) {
		size_t k = nul_idx[i];
		if (!has_nul[i])
			continue;
		/* not ours to take back: left there, and the message goes
		 * the copy path, which reports it */
		if (!r->first_contact)
			ret = take_back(r, want[k]->uid, found[k], err);
		free(found[k]);
		found[k] = NULL;
	}
	/* Record: found, done; else forgotten, to be copied again. */
	for (i = 0; ret == 0 && i < nw; i++) {
		if (found[i] != NULL) {
			log_info("user %lld: %s UID %u was copied before the "
				 "interruption (%s); not copying it again",
				 (long long)r->user_id, r->fe->src,
				 want[i]->uid, found[i]);
			ret = state_item_found(r->st, r->user_id, r->folder_id,
					       want[i], found[i], err);
		} else {
			ret = state_item_forget(r->st, r->folder_id,
						want[i]->uid, err);
		}
	}
out:
	if (found != NULL)
		for (i = 0; i < nw; i++)
			free(found[i]);
	free(found);
	free(claimed);
	free(older);
	for (i = 0; i < n_strays; i++)
		free(strays[i]);
	free(strays);
	free(nul_uids);
	free(nul_idx);
	free(has_nul);
	state_items_free(done, n_done);
	if (h.md != NULL)
		EVP_MD_CTX_free(h.md);
	free(h.sha);
	free(h.size);
	free(h.have);
	if (h.lmd != NULL)
		EVP_MD_CTX_free(h.lmd);
	free(h.loose);
	free(h.kept);
	free(h.mk);
	state_items_free(infl, n);
	free(want);
	free(placed);
	return ret;
}

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

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- a folder's listing, window by window ---- */

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

struct window {
	uint32_t max;	 /* messages held at once at most */
	uint32_t lo, hi; /* the UIDs the current window covers */
	uint32_t next;	 /* where the next window starts */
	uint32_t end;	 /* the highest UID there may be */
	uint32_t width;	 /* UIDs asked for at once */
	int done;
};

static void window_start(struct window *w, uint32_t first,
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
static int window_next(struct run *r, struct window *w,
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

/* ---- first contact: copies that may already be on the target ---- */

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

/* ---- one folder ---- */

/* One window of a folder: the interrupted run's items settled, then what
 * is neither copied nor reported goes, in chunks.  *last and *gap carry
 * last_uid's progress (see sync_folder) from window to window. */
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
	ret = settle_inflight(r, msgs, w->lo, w->hi, err);
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
				if (skip_item(r, m, reason, 0, err) < 0) {
					free(big);
					free(over);
					goto fail;
				}
				continue;
			}
			if (over_item_limit(r, m)) {
				snprintf(reason, sizeof(reason),
					 "over the %llu-item limit (older "
					 "items are not migrated)",
					 (unsigned long long)r->opt->max_items);
				if (skip_item(r, m, reason, 0, err) < 0) {
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
		if (copy_chunk(r, todo + i, n, err) < 0) {
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

static int sync_folder(struct run *r, const struct sync_plan_entry *fe,
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
		 * on the target before it is copied (settle_inflight). */
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
	if (!renumbered && sync_flags(r, &jf, &fs, err) < 0)
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
		if (!renumbered && target_dates(r, &dates, &n_dates, err) < 0)
			return -1;
		window_start(&w, jf.last_uid + 1, &fs);
		while ((renumbered || n_dates > 0) && !w.done) {
			if (stop_requested(r)) {
				r->res->stopped = 1;
				break;
			}
			if (window_next(r, &w, &fs, &msgs, err) < 0 ||
			    mark_window(r, &msgs, renumbered ? NULL : dates,
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
	window_start(&w, jf.last_uid + 1, &fs);
	while (!w.done) {
		if (stop_requested(r)) {
			r->res->stopped = 1;
			break;
		}
		if (window_next(r, &w, &fs, &msgs, err) < 0 ||
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
		window_start(&w, 1, &fs);
		while (ret == 0 && !w.done) {
			if (stop_requested(r)) {
				ret = err_set(err, ERR_TRANSIENT, EC_NONE,
					      "stopped while counting the "
					      "messages for the item limit");
				break;
			}
			ret = window_next(r, &w, &fs, &msgs, err);
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

static int compute_cutoff(struct run *r, const struct sync_plan *plan,
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

/* ---- the pass ---- */

static int one_attempt(struct run *r, const struct sync_endpoints *ep,
		       struct err *err)
{
	struct store_folder_list sl = {0}, tl = {0};
	struct sync_plan plan = {0};
	struct err folder_err = ERR_INIT;
	size_t i;
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
	if (r->opt->max_items > 0 && compute_cutoff(r, &plan, err) < 0)
		goto out;
	atomic_store(&r->prog->phase, SYNC_PHASE_COPYING);
	for (i = 0; i < plan.n; i++) {
		const struct sync_plan_entry *fe = &plan.v[i];
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
					goto out;
				err_clear(err);
			}
			continue;
		}
		if (sync_folder(r, fe, err) < 0) {
			err_prefix(err, "folder \"%s\": ", fe->src);
			if (err->cls != ERR_FOLDER)
				goto out;
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
		goto out;
	}
	ret = 0;
out:
	sync_plan_release(&plan);
	store_folder_list_free(&sl);
	store_folder_list_free(&tl);
	store_target_close(&r->dst);
	store_source_close(&r->src);
	return ret;
}

int sync_mailbox_run(struct state *st, int64_t user_id,
		     const struct sync_endpoints *ep,
		     const struct sync_options *opt,
		     struct sync_progress *progress, struct sync_result *res,
		     struct err *err)
{
	struct run r;
	unsigned attempt, max = opt->max_attempts ? opt->max_attempts : 5;
	unsigned delay_ms = 250, tries_with_progress = 0;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	r.st = st;
	r.user_id = user_id;
	r.opt = opt;
	r.prog = progress;
	r.res = res;
	r.md = EVP_MD_CTX_new();
	{
		struct state_user u;
		if (state_user_get_id(st, user_id, &u, err) < 0)
			return -1;
		res->bad_items = u.bad_items;
		atomic_store(&progress->items_done, u.items_synced);
		atomic_store(&progress->bytes_synced, u.bytes_synced);
		atomic_store(&progress->items_skipped, u.items_skipped);
		state_user_release(&u);
	}
	for (attempt = 1;; attempt++) {
		uint64_t before = res->items_copied + res->items_skipped;
		err_clear(err);
		if (one_attempt(&r, ep, err) == 0) {
			free(r.dst_name);
			free(r.undel);
			EVP_MD_CTX_free(r.md);
			atomic_store(&progress->phase, SYNC_PHASE_DONE);
			return 0;
		}
		/* A refused or dropped connection is a server restarting
		 * as often as a wrong setting: worth the retries.  A refused
		 * login, a bad certificate or an unknown name is not. */
		if (stop_requested(&r)) {
			/* a stop cut the pass anywhere (a listing, a chunk):
			 * the journal is as a kill would leave it, and the
			 * next run resumes from it */
			log_info("user %lld: stopped (%s)", (long long)user_id,
				 err->msg);
			err_clear(err);
			res->stopped = 1;
			free(r.dst_name);
			free(r.undel);
			EVP_MD_CTX_free(r.md);
			atomic_store(&progress->phase, SYNC_PHASE_DONE);
			return 0;
		}
		if (!(err->cls == ERR_TRANSIENT ||
		      (err->cls == ERR_CONNECT &&
		       (err->code == EC_REFUSED || err->code == EC_RESET ||
			err->code == EC_TIMEOUT))))
			break;
		if (res->items_copied + res->items_skipped > before &&
		    ++tries_with_progress < 1000) {
			/* The attempt got somewhere: a flaky link, not a dead
			 * one.  Start counting afresh. */
			attempt = 0;
			delay_ms = 250;
		}
		if (attempt >= max)
			break;
		/* Back off: the server's hint if it gave one, else
		 * exponential with jitter.  Never counted as bad items. */
		{
			unsigned wait = err->retry_after_ms
						? err->retry_after_ms
						: delay_ms;
			wait += (unsigned)(rand() % 250);
			log_warn("user %lld: %s; retrying in %.1f s",
				 (long long)user_id, err->msg, wait / 1000.0);
			if (err->code == EC_THROTTLED)
				res->throttled_ms += wait;
			usleep(wait * 1000u);
			if (delay_ms < 60000)
				delay_ms *= 2;
		}
	}
	free(r.dst_name);
	free(r.undel);
	EVP_MD_CTX_free(r.md);
	atomic_store(&progress->phase, SYNC_PHASE_FAILED);
	return -1;
}
