/* maildir.h - writing Maildir++ exactly as Dovecot 2.3 lays it out, so a
 * Dovecot pointed at the tree serves every message as is.
 *
 * INBOX is the root (cur/ new/ tmp/); folder "A/B" is the directory
 * ".A.B", each level in modified UTF-7, a '.' inside a level replaced by
 * '_' (it is the separator); each folder has a "maildirfolder" file and
 * is listed in the root's "subscriptions".  A message is written to tmp/,
 * fsynced, given its INTERNALDATE as mtime, renamed into cur/ as
 * "<secs>.M<usecs>P<pid>Q<n>T<tag>.<host>,S=<size>:2,<flags>" and the
 * directory is fsynced: only then is it confirmed.  Keywords are letters
 * a-z mapped through the folder's dovecot-keywords (26 at most; more are
 * dropped).  The tag (the source message's identity) makes a resumed run
 * find what an interrupted one wrote.
 *
 * Every directory created is fsynced in its parent.  In tmp/ a message is
 * "imapmig.<pid>.<base>": opening a target removes such files whose writer
 * is dead or that are over 36 hours old, and nothing else.  subscriptions
 * lines are tab-escaped as Dovecot writes them (a name cannot add a line).
 *
 * One handle per thread. */
#ifndef STORE_MAILDIR_H
#define STORE_MAILDIR_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

struct maildir;
struct maildir_msg;

/* Also removes the partial files dead runs left in tmp/ (see above). */
struct maildir *maildir_open(const char *root, int create, struct err *err);
/* With deferred directory syncs, a commit fsyncs the message but not its
 * directory; maildir_sync_dirs() then makes every rename since durable at
 * once (the caller confirms those messages only after it). */
void maildir_set_deferred_sync(struct maildir *md, int on);
int maildir_sync_dirs(struct maildir *md, struct err *err);
void maildir_close(struct maildir **mdp);
/* "" or "INBOX" is the root; parents are created too. */
int maildir_folder_create(struct maildir *md, const char *utf8_path,
			  struct err *err);
/* Folder names (UTF-8, '/'-separated), without INBOX; caller frees. */
int maildir_folder_list(struct maildir *md, char ***names_r, size_t *n_r,
			struct err *err);
struct maildir_msg *maildir_msg_begin(struct maildir *md, const char *utf8_path,
				      const char *tag, struct err *err);
int maildir_msg_write(struct maildir_msg *m, const void *data, size_t len,
		      struct err *err);
/* Commit: fsync, mtime, rename into cur/, fsync the directory.  flags are
 * store.h's STORE_* bits (Maildir's D F R S T).  *name_r (caller frees) is
 * the file's base name.  On failure nothing remains. */
int maildir_msg_commit(struct maildir_msg **mp, unsigned flags,
		       const char *const *keywords, size_t n_keywords,
		       time_t internaldate, char **name_r, struct err *err);
void maildir_msg_abort(struct maildir_msg **mp);
/* Give the message whose base name is name (as commit returned it) new
 * flags (STORE_* bits) and keywords: a rename within cur/.  *new_name_r (caller
 * frees). */
int maildir_set_flags(struct maildir *md, const char *utf8_path,
		      const char *name, unsigned flags,
		      const char *const *keywords, size_t n_keywords,
		      char **new_name_r, struct err *err);
/* The copy whose name carries tag (only this program writes it, once the
 * copy is complete): *name_r (caller frees) or NULL. */
int maildir_find_tag(struct maildir *md, const char *utf8_path, const char *tag,
		     char **name_r, struct err *err);
/* A file of exactly size bytes whose SHA-256 is sha256 and whose name is
 * not in claimed (sorted by strcmp): *name_r (caller frees) or NULL.
 * Reads only same-size candidates (the S= of their names). */
int maildir_find_content(struct maildir *md, const char *utf8_path,
			 unsigned long long size, const unsigned char *sha256,
			 const char *const *claimed, size_t n_claimed,
			 char **name_r, struct err *err);
struct store_copy_list;
/* Every message file of the folder (cur/ and new/): name, size, mtime. */
int maildir_list_msgs(struct maildir *md, const char *utf8_path,
		      struct store_copy_list *out, struct err *err);
/* SHA-256 of the message file name: 0, 1 if there is none, -1 error. */
int maildir_file_sha256(struct maildir *md, const char *utf8_path,
			const char *name, unsigned char out[32],
			struct err *err);
/* Remove the message named name (as commit returned it) from cur/. */
int maildir_remove(struct maildir *md, const char *utf8_path, const char *name,
		   struct err *err);

#endif
