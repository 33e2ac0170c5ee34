/* maildir_priv.h - what the files of the Maildir++ writer share, and
 * nothing else includes (the anchor: Dovecot's index/maildir/ around
 * maildir-storage.h).
 *
 *   maildir.c        the handle, directories, folder names, folders and
 *                    subscriptions, directory syncs
 *   maildir_msg.c    a message's file: write into tmp/, commit into cur/,
 *                    flags and keywords (the info letters), remove
 *   maildir_find.c   finding a copy again: by tag (the cached tag list of
 *                    one folder), by content, listing and hashing files
 *   maildir_tmp.c    removing the partial files dead runs left in tmp/
 *   maildir_names.c  the pure name and dovecot-keywords parsing
 *                    (maildir_names.h, unit-tested and fuzzed) */
#ifndef STORE_MAILDIR_PRIV_H
#define STORE_MAILDIR_PRIV_H

#include "store/maildir.h"
#include "store/maildir_names.h"
#include "util/buf.h"

struct maildir {
	char *root;
	char host[128];
	unsigned counter;
	/* tags of one folder, sorted, for find */
	char *tags_folder;
	char **tags;
	size_t n_tags;
	/* directories renamed into since the last maildir_sync_dirs() */
	int deferred;
	char **dirty;
	size_t n_dirty;
	/* keywords of one folder */
	char *kw_folder;
	char *kw[26];
	size_t n_kw;
};

struct maildir_msg {
	struct maildir *md;
	char *dir;  /* folder directory */
	char *base; /* base name without size and flags */
	char *tmp_path;
	int fd;
	unsigned long long size;
};

/* The partial files of this program in tmp/: "imapmig.<pid>.<base>",
 * base ending in ".<host>". */
#define TMP_PREFIX "imapmig."

/* maildir.c */

/* -1 with an ERR_LOCAL error "<what> <path>: <errno text>" (and what to do
 * on a full disk). */
int md_sys_err(struct err *err, const char *what, const char *path);
/* Append the directory of the folder path ("" or INBOX: the root) to out;
 * ERR_FOLDER for a name with an empty or dot level or not UTF-8. */
int md_folder_dir(struct maildir *md, const char *path, struct buf *out,
		  struct err *err);

/* maildir_msg.c */

/* Forget the cached keywords of a folder. */
void md_kw_clear(struct maildir *md);

/* maildir_find.c */

/* Forget the cached tag list of a folder (after a file is removed). */
void md_tags_clear(struct maildir *md);

/* maildir_tmp.c */

/* Remove the abandoned partial files in the tmp/ of the root and of each
 * folder (see maildir.h). */
void md_tmp_clean(struct maildir *md);

#endif
