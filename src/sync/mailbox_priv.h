/* mailbox_priv.h - what the files of one mailbox's pass share.
 *
 * sync_mailbox_run() (mailbox.h) is split along its seams, around this
 * header (as Dovecot's maildir storage is, around maildir-storage.h):
 *
 *   mailbox.c         the pass: attempts with back-off, the folder loop;
 *                     the one UID search
 *   mailbox_folder.c  one folder: the unchanged check, create, the
 *                     window loop, last_uid
 *   mailbox_window.c  listing windows: metadata, flag changes, and the
 *                     first-contact marking pass
 *   mailbox_copy.c    the copy pipeline: a chunk's bodies streamed to the
 *                     target, checked, settled in the journal
 *   mailbox_resume.c  in-flight items of an interrupted run, settled
 *   mailbox_limits.c  skipped items, --max-message-size, --max-items
 *
 * Nothing here is for other modules. */
#ifndef SYNC_MAILBOX_PRIV_H
#define SYNC_MAILBOX_PRIV_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "state/state.h"
#include "store/store.h"
#include "sync/mailbox.h"
#include "sync/plan.h"
#include "util/err.h"

/* A chunk: how many messages (and bytes) are put in flight at once.
 * Big enough that one FETCH and one round of APPEND confirmations cover
 * many messages; small enough that a stop or a fault loses little
 * progress and a resume checks few in-flight items. */
#define CHUNK_MSGS  256
#define CHUNK_BYTES (48ull << 20)
/* APPENDs unconfirmed at once on an IMAP target. */
#define TARGET_PIPELINE 64

/* What a message's bytes hold that calls for a check after the copy. */
struct marks {
	unsigned has80 : 1;   /* a 0x80 byte: maybe a NUL the source hid */
	unsigned odd_eol : 1; /* a bare CR or LF: may be altered */
	unsigned hdr8 : 1;    /* 8-bit header bytes: may be altered */
	unsigned body : 1;    /* past the header section */
	char last, h_prev, h_prev2;
	uint64_t n_cr, n_lf;
};

/* One pass of sync_mailbox_run() for one user: what every step reads,
 * and the current folder and chunk. */
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

static inline int stop_requested(const struct run *r)
{
	return r->opt->stop != NULL && atomic_load(r->opt->stop);
}

/* qsort() orders: uint32_t; store_msg by UID; store_msg pointers by
 * UID. */
static inline int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static inline int msg_cmp_uid_val(const void *a, const void *b)
{
	const struct store_msg *x = a, *y = b;

	return cmp_u32(&x->uid, &y->uid);
}

static inline int msg_cmp_uid(const void *a, const void *b)
{
	return msg_cmp_uid_val(*(struct store_msg *const *)a,
			       *(struct store_msg *const *)b);
}

/* Bytes fetched with BODY[] that hold 0x80 (has80) may be a NUL the
 * server hid; not those of a message fetched with BINARY[]. */
static inline int mailbox_maybe_hid_nul(int has80, const struct store_msg *m)
{
	return has80 && !(m->binary_size != 0 && m->binary_size == m->size);
}

/* ---- one search by UID (mailbox.c) ---- */

/* The index of uid in v[0..n), sorted by UID, where uid_at(v, i) is the
 * i-th element's UID; n if it is not there. */
size_t mailbox_uid_find(const void *v, size_t n,
			uint32_t (*uid_at)(const void *v, size_t i),
			uint32_t uid);
/* uid_at for an array of struct store_msg *, of struct store_msg, of
 * struct state_item. */
uint32_t mailbox_uid_of_msgp(const void *v, size_t i);
uint32_t mailbox_uid_of_msg(const void *v, size_t i);
uint32_t mailbox_uid_of_item(const void *v, size_t i);

/* ---- one folder (mailbox_folder.c) ---- */

/* Copy one folder of the plan: 0, or -1 with err set (ERR_FOLDER: this
 * folder only). */
int mailbox_sync_folder(struct run *r, const struct sync_plan_entry *fe,
			struct err *err);

/* ---- listing windows (mailbox_window.c) ---- */

struct window {
	uint32_t max;	 /* messages held at once at most */
	uint32_t lo, hi; /* the UIDs the current window covers */
	uint32_t next;	 /* where the next window starts */
	uint32_t end;	 /* the highest UID there may be */
	uint32_t width;	 /* UIDs asked for at once */
	int done;
};

/* Start listing the folder fs describes at UID first. */
void mailbox_window_start(struct window *w, uint32_t first,
			  const struct store_folder_status *fs);
/* The next window's messages into msgs (emptied first), in UID order,
 * each UID once; [w->lo, w->hi] the UIDs it covers.  Sets w->done after
 * the last. */
int mailbox_window_next(struct run *r, struct window *w,
			const struct store_folder_status *fs,
			struct store_msg_list *msgs, struct err *err);
/* The flags of the copied messages (UID <= jf->last_uid) brought up to
 * date on the target. */
int mailbox_sync_flags(struct run *r, const struct state_folder *jf,
		       const struct store_folder_status *fs, struct err *err);
/* The first-contact (or renumbered) marking pass over the folder: its
 * messages that may already be on the target journaled in flight, so
 * that settle_inflight() looks them up.  1 when a stop cut it short. */
int mailbox_mark_pass(struct run *r, const struct store_folder_status *fs,
		      const struct state_folder *jf, int renumbered,
		      struct err *err);

/* ---- the copy pipeline (mailbox_copy.c) ---- */

/* Copy chunk[0..n) (sorted by UID, at most CHUNK_MSGS): journaled in
 * flight, bodies streamed to the target, checked, settled. */
int mailbox_copy_chunk(struct run *r, struct store_msg *const *chunk, size_t n,
		       struct err *err);
/* What a message's bytes hold (struct marks), fed as they stream. */
void mailbox_marks_update(struct marks *mk, const char *p, size_t len);
void mailbox_marks_end(struct marks *mk);

/* ---- resume (mailbox_resume.c) ---- */

/* Settle the in-flight items with lo <= UID <= hi of an interrupted run
 * against msgs, the source's listing of that window. */
int mailbox_settle_inflight(struct run *r, struct store_msg_list *msgs,
			    uint32_t lo, uint32_t hi, struct err *err);

/* ---- limits and skipped items (mailbox_limits.c) ---- */

/* Record m as skipped with its reason (bad: a bad item), with what a
 * person recognises it by. */
int mailbox_skip_item(struct run *r, const struct store_msg *m,
		      const char *reason, int bad, struct err *err);
/* The limits applied to a window's to-do list todo[0..*n): what is over
 * one is reported and leaves the list.  1 when a stop cut it short. */
int mailbox_apply_limits(struct run *r, struct store_msg **todo, size_t *n,
			 struct err *err);
/* Find the cutoff date of --max-items for the mailbox of plan. */
int mailbox_compute_cutoff(struct run *r, const struct sync_plan *plan,
			   struct err *err);

#endif
