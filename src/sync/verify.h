/* verify.h - compare a migrated mailbox's two sides afresh.
 *
 * sync_verify() reads the source (after the batch's folder filters) and
 * the target as they are now, not as the journal remembers them: per
 * folder, each source message must be on the target - the copy the
 * journal names, of the same size and INTERNALDATE, and with deep set,
 * the same bytes (SHA-256 of the source's BODY[]/BINARY[] stream against
 * the copy read back) - or be skipped with a recorded reason.  Anything
 * else is missing or altered; copies on the target no message accounts
 * for are extra (the target's own mail, or another source folder merged
 * into it), reported but not a fault.  The state is only read. */
#ifndef SYNC_VERIFY_H
#define SYNC_VERIFY_H

#include <stdint.h>

#include "sync/mailbox.h"

struct verify_folder {
	char *src, *dst;
	uint64_t source;  /* source messages */
	uint64_t copied;  /* on the target, as they should be */
	uint64_t skipped; /* reported: too large, over the item limit, ... */
	uint64_t missing; /* neither on the target nor reported */
	uint64_t altered; /* on the target, but not the same */
	uint64_t extra;	  /* target copies no source message claims */
	uint32_t first_missing_uid, first_altered_uid;
};

struct verify_report {
	struct verify_folder *v;
	size_t n;
	int deep;
	uint64_t source, copied, skipped, missing, altered, extra;
};

int sync_verify(struct state *st, int64_t user_id,
		const struct sync_endpoints *ep, const struct sync_options *opt,
		int deep, struct verify_report *rep, struct err *err);
void verify_report_release(struct verify_report *rep);

#endif
