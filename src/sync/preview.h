/* preview.h - what a sync would do, before it runs (imapmig user preview).
 *
 * Lists the source and the target and builds the plan exactly as a sync
 * does (sync_plan_build with the batch's folder filters): each source
 * folder, the target folder it goes to (or excluded), whether that exists
 * already, and the message count when the source gives it with its
 * listing (LIST-STATUS).  Nothing is copied and the state is not touched;
 * a Maildir target's root directory is created if missing, as the sync
 * would. */
#ifndef SYNC_PREVIEW_H
#define SYNC_PREVIEW_H

#include <stdint.h>

#include "sync/mailbox.h"

struct preview_folder {
	char *src, *dst; /* dst NULL: excluded by the batch's filters */
	int noselect;	 /* a parent only: created, nothing to copy */
	int exists;	 /* the target already has dst */
	int has_count;
	uint32_t messages;
};

struct preview_report {
	struct preview_folder *v;
	size_t n;
	uint64_t messages; /* of the folders that will be copied */
	int counts_known;  /* every such folder's count was given */
};

int sync_preview(const struct sync_endpoints *ep,
		 const struct sync_options *opt, struct preview_report *rep,
		 struct err *err);
void preview_report_release(struct preview_report *rep);

#endif
