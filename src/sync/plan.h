/* plan.h - which source folder goes where on the target.
 *
 * Pure logic, no I/O: given the source's folders, the target's existing
 * folders and the batch's filters, decide for each source folder its
 * target name or that it is excluded.  Rules (docs/internals/sync.md,
 * "plan.c"):
 *  - INBOX goes to INBOX;
 *  - special-use folders (Sent, Drafts, Trash, Junk, Archive, from RFC
 *    6154 attributes or well-known names) go to the target's own folder
 *    of that use, or to its well-known name when the target has none;
 *  - other names keep their hierarchy; a level that contains the
 *    target's delimiter has it replaced by '_' so it never splits;
 *  - --include-folders / --exclude-folders patterns match names relative
 *    to the mailbox root, case-insensitively: "Name", "Name/" + "*" (the
 *    folder and its subtree), "#Inbox#", "#SentItems#", "#DeletedItems#",
 *    "#Drafts#", "#JunkEmail#", "#Archive#". */
#ifndef SYNC_PLAN_H
#define SYNC_PLAN_H

#include "store/store.h"

struct sync_filter {
	char **pat;
	size_t n;
};

/* Parse a comma-separated pattern list; ERR_USAGE on an empty pattern
 * or an unknown #WellKnown# name. */
int sync_filter_parse(const char *spec, struct sync_filter *f, struct err *err);
void sync_filter_release(struct sync_filter *f);
int sync_filter_match(const struct sync_filter *f, const char *folder,
		      enum store_special special);

/* Entry i is the source list's folder i.  Lean, for mailboxes of
 * 200,000 folders: src is borrowed from the source list (which must
 * outlive the plan), and dst is src itself when the name does not
 * change. */
struct sync_plan_entry {
	char *src; /* source name, '/'-separated (borrowed) */
	char *dst; /* target name; NULL when excluded */
	enum store_special special;
	int noselect;	/* create only, nothing to copy */
	int has_status; /* status below came with the listing */
	int dst_owned;	/* dst is the plan's, not src */
	struct store_folder_status status;
};

struct sync_plan {
	struct sync_plan_entry *v;
	size_t n;
};

void sync_plan_build(const struct store_folder_list *src,
		     const struct store_folder_list *dst, char target_delim,
		     const struct sync_filter *include,
		     const struct sync_filter *exclude, struct sync_plan *out);
void sync_plan_release(struct sync_plan *p);

#endif
