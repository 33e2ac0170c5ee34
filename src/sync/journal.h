/* journal.h - what the sync engine records, in its own words.
 *
 * A thin layer over state/state.h: each function is one transaction, so
 * the order of side effects and commits that makes resume exact is
 * visible here and in mailbox.c, not spread over SQL. */
#ifndef SYNC_JOURNAL_H
#define SYNC_JOURNAL_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct state;

struct journal_folder {
	int64_t id;
	uint32_t uidvalidity;   /* 0: never selected */
	uint32_t last_uid;      /* every UID <= this is settled */
	uint64_t highestmodseq;
};

enum journal_outcome {
	JOURNAL_DONE,    /* the target confirmed the copy */
	JOURNAL_FORGET,  /* never reached the target */
	JOURNAL_KEEP,    /* unknown: stays in flight */
};

int journal_folder_open(struct state *st, int64_t user_id, const char *src,
			const char *dst, struct journal_folder *out,
			struct err *err);
int journal_folder_update(struct state *st, int64_t folder_id,
			  uint32_t uidvalidity, uint32_t last_uid,
			  uint64_t highestmodseq, uint32_t messages,
			  struct err *err);
/* UIDVALIDITY changed: forget the folder's UID-keyed items. */
int journal_folder_renumbered(struct state *st, int64_t folder_id,
			      struct err *err);

/* Record n messages in flight, before any byte goes to the target. */
int journal_items_inflight(struct state *st, int64_t user_id,
			   int64_t folder_id, struct store_msg *const *msgs,
			   size_t n, struct err *err);
/* Settle a chunk: done (with the target's ref), forgotten, or kept in
 * flight; the user's counters move with it, in the same transaction. */
int journal_items_settle(struct state *st, int64_t user_id,
			 int64_t folder_id, struct store_msg *const *msgs,
			 const enum journal_outcome *oc, const char *const *refs,
			 size_t n, struct err *err);
/* An item not copied: too large, over the item limit, or bad. */
int journal_item_skip(struct state *st, int64_t user_id, int64_t folder_id,
		      const struct store_msg *m, const char *reason, int bad,
		      const char *subject, const char *from, const char *date,
		      struct err *err);
/* An in-flight item found on the target after all. */
int journal_item_found(struct state *st, int64_t user_id, int64_t folder_id,
		       const struct store_msg *m, struct err *err);
int journal_item_forget(struct state *st, int64_t folder_id, uint32_t uid,
			struct err *err);
/* UIDs in flight / settled (done, skipped, failed), ascending; the
 * caller frees *uids_r. */
int journal_inflight(struct state *st, int64_t folder_id, uint32_t **uids_r,
		     size_t *n_r, struct err *err);
int journal_done_uids(struct state *st, int64_t folder_id, uint32_t **uids_r,
		      size_t *n_r, struct err *err);
int journal_user_counts(struct state *st, int64_t user_id,
			uint64_t *bad_items_r, struct err *err);

#endif
