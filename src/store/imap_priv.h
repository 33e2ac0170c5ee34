/* imap_priv.h - what the files of the IMAP store share (private to
 * src/store/imap_*.c; the sync engine sees only store.h).
 *
 *   imap_store.c   one way to run a command (ims_exec() and its kin), and
 *                  the FETCH-response helpers both sides use
 *   imap_names.c   namespaces, and folder names ours <-> the server's
 *                  (delimiter, modified UTF-7, the user root)
 *   imap_source.c  the source: LIST, EXAMINE, metadata and flag windows
 *   imap_fetch.c   the source's bodies (streamed to the caller's sink),
 *                  report headers, the NUL check, the size probe
 *   imap_target.c  the target: LIST, CREATE, APPEND and its APPENDUID
 *                  checks, flags
 *   imap_copies.c  the target's copies read back: find by content, check,
 *                  list, hash, withdraw
 *   imap_format.c  pure: INTERNALDATE, FLAGS, PERMANENTFLAGS, headers
 *
 * Everything is synchronous with deadlines (imap/client.h): a command
 * runs through ims_exec() and its result through ims_check(); only body
 * fetches are pipelined (ims_submit() + ims_pipeline()). */
#ifndef STORE_IMAP_PRIV_H
#define STORE_IMAP_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "imap/client.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/strset.h"

/* ---- one way to run a command (imap_store.c) ---- */

/* Run the command cb (isync's imap_exec(), Dovecot's
 * imapc_command_sendf()): its untagged responses go to fn(ctx) (fn may be
 * NULL: none wanted), and whatever happens the handler is unset and cb is
 * released.  -1: the command failed with the connection (err set); else
 * 0, and *res holds the tagged result, NO and BAD included: ims_check()
 * turns it into an error. */
int ims_exec(struct imap_client *c, struct imap_cmdbuf *cb,
	     imap_untagged_callback *fn, void *ctx, struct imap_result *res,
	     struct err *err);
/* The one conversion of a command's outcome: ret (ims_exec()'s) < 0
 * stays -1; a command never answered (cancelled: the connection went) is
 * ERR_TRANSIENT; NO and BAD become an error of class cls about what
 * (imap_result_to_err(): a busy or throttling server is ERR_TRANSIENT);
 * OK is 0. */
int ims_check(int ret, const struct imap_result *res, enum err_class cls,
	      const char *what, struct err *err);
/* A command of plain text, failing unless it says OK (ERR_FOLDER, as
 * imap_client_simple()). */
int ims_simple(struct imap_client *c, const char *text,
	       imap_untagged_callback *fn, void *ctx, struct err *err);
/* "VERB mailbox" in a new cmdbuf for c; server_name is the server's
 * spelling in UTF-8 (imap_cmd_mailbox() encodes it). */
void ims_cmd_mailbox(struct imap_client *c, struct imap_cmdbuf *cb,
		     const char *verb, const char *server_name);
/* Queue cb in the pipeline, done(ctx) (may be NULL) gets its result; cb
 * is released. */
int ims_submit(struct imap_client *c, struct imap_cmdbuf *cb,
	       imap_cmd_callback *done, void *ctx, struct err *err);
/* A pipeline of commands: submit(sctx) queues them with ims_submit(),
 * then every answer is read.  Their untagged responses go to fn(ctx); the
 * handler is unset whatever happened. */
int ims_pipeline(struct imap_client *c, imap_untagged_callback *fn, void *ctx,
		 int (*submit)(void *sctx, struct err *err), void *sctx,
		 struct err *err);

/* The FETCH response's key/value list, or NULL. */
const struct imap_arg *ims_fetch_items(const struct imap_resp *r);
/* The UID in a FETCH's key/value list, 0 if none. */
uint32_t ims_resp_uid(const struct imap_arg *items);
/* The key/value list of a FETCH response cut short before a big literal
 * (partial: what a literal sink's begin() gets), or NULL. */
const struct imap_arg *ims_partial_items(const struct imap_resp *partial);
/* The UID that such a response gave before its body: the last UID item,
 * 0 if none.  (ims_resp_uid() takes the first that fits 32 bits: the body
 * sinks have always taken the last.) */
uint32_t ims_partial_uid(const struct imap_resp *partial);
/* uid's index in v[0..n) (sorted), n if not there. */
size_t ims_uid_index(const uint32_t *v, size_t n, uint32_t uid);
/* qsort() of uint32_t, ascending. */
int ims_uid_cmp(const void *a, const void *b);

/* ---- names (imap_names.c) ---- */

struct imap_ns {
	char *prefix; /* e.g. "" or "INBOX." */
	char delim;
};

struct imap_names {
	struct imap_ns personal;
	struct imap_ns *others; /* other users' and shared prefixes */
	size_t n_others;
	char delim; /* hierarchy delimiter of the root */
};

/* The server's namespaces (NAMESPACE when offered) and its root's
 * hierarchy delimiter (LIST "" ""). */
int ims_names_load(struct imap_client *c, struct imap_names *nm,
		   struct err *err);
void ims_names_release(struct imap_names *nm);
/* A server's name (modified UTF-7, levels separated by delim) to ours:
 * UTF-8, '/' between levels, a '/' inside a level as U+2215.  1 if raw
 * was not valid modified UTF-7 (kept as it is). */
int ims_name_from_server(const char *raw, char delim, struct buf *out);
/* Ours to the server's, under prefix (INBOX stays INBOX). */
void ims_name_to_server(const char *name, const char *prefix, char delim,
			struct buf *out);
/* LIST attributes: \Noselect and the RFC 6154 special uses, into f. */
void ims_list_attrs(const struct imap_arg *attrs, struct store_folder *f);

/* ---- the source (imap_source.c, imap_fetch.c; names in imap_names.c) ---- */

struct nulcheck;

struct imap_source {
	struct store_source s;
	struct imap_client *c;
	struct imap_names nm;
	char **root; /* user root levels, server spelling */
	size_t root_n;
	/* Under a UserRoot: our name for the root folder itself ("INBOX"
	 * unless the root has an INBOX child, NULL if not selectable), and
	 * the server's spelling of that child ("INBOX", "Inbox"...). */
	char *root_self;
	char *root_inbox;
	char *selected; /* server name of the open folder */
	/* fetch state */
	struct store_folder_list *list_out;
	struct strset list_names; /* list_out's names: index = position */
	size_t list_cap;
	struct store_folder_status *st;
	struct store_msg_list *meta_out;
	uint32_t min_uid, max_uid; /* answers outside are strays */
	size_t meta_from;	   /* meta_out's entries from this call */
	size_t meta_max;	   /* keep at most this many (0: all) */
	uint32_t meta_ceiling;	   /* after a cut: only UIDs below count */
	const struct store_body_sink *sink;
	int sink_failed;
	int in_body; /* a streamed literal is in progress */
	uint32_t body_uid;
	int body_refused;      /* a body FETCH was answered NO */
	int no_binary_size;    /* BINARY.SIZE[] refused: BODY[] only */
	int want_meta;	       /* fetch_meta: answers need size and date */
	char **summary;	       /* subject, from, date */
	struct buf big_header; /* a header literal too big to be inline */
	int in_header;
	struct imap_literal_sink lsink;
	struct nulcheck *nc; /* nul_check in progress */
	int nul_scan, in_scan;
};

/* The UserRoot ("/users/terry.adams") into is->root: its levels, each in
 * the server's modified UTF-7.  ERR_USAGE if it is not UTF-8. */
int ims_root_parse(struct imap_source *is, const char *user_root,
		   struct err *err);
/* The source's raw name to ours, relative to the user's root, into name;
 * 0 if the folder is not this user's (another namespace, outside the
 * root).  The root itself gets the empty name, for ims_root_self_name(). */
int ims_source_rel_name(struct imap_source *is, const char *raw, char delim,
			struct buf *name);
/* Name the root folder that the listing left with the empty name. */
void ims_root_self_name(struct imap_source *is, struct store_folder_list *out);
/* Our folder name back to the source's spelling. */
void ims_source_server_name(struct imap_source *is, const char *folder,
			    struct buf *out);

/* Big literals of the source's session go to is's body sink (or are kept:
 * a header's start, or dropped). */
void ims_source_sink_init(struct imap_source *is);
/* store_source_ops of imap_fetch.c (see store.h). */
int ims_source_fetch_bodies(struct store_source *s,
			    const struct store_msg *const *msgs, size_t n,
			    const struct store_body_sink *sink,
			    struct err *err);
int ims_source_fetch_summary(struct store_source *s, uint32_t uid,
			     char **subject_r, char **from_r, char **date_r,
			     struct err *err);
int ims_source_nul_check(struct store_source *s, const uint32_t *uids, size_t n,
			 unsigned char *has_nul_r, struct err *err);
int ims_source_size_over(struct store_source *s, const uint32_t *uids, size_t n,
			 uint64_t limit, unsigned char *over_r,
			 struct err *err);

/* ---- the target (imap_target.c, imap_copies.c) ---- */

struct append_ctx;

/* What SELECT said of the target folder being appended to: APPENDUID
 * answers are checked against it, keywords sent only where it keeps
 * them. */
struct target_box {
	char *name; /* server name; NULL: none yet */
	uint32_t uidvalidity;
	uint32_t last_uid;  /* UIDNEXT - 1, then the last APPENDUID */
	int kw_any;	    /* PERMANENTFLAGS has \* (or was not given) */
	char *kw_keep;	    /* else: the keywords it lists */
	int bogus;	    /* an APPENDUID was garbage: none trusted now */
	struct buf dropped; /* keywords left out, warned about once */
	/* scratch for select_untagged */
	int saw_permanent;
};

struct imap_target {
	struct store_target t;
	struct imap_client *c;
	struct imap_names nm;
	uint64_t stream_left;
	struct append_ctx *pending; /* the message being streamed */
	char *selected;		    /* folder selected for flag updates */
	struct store_folder_list *list_out;
	struct target_box box;
};

/* store_target_ops of imap_copies.c (see store.h). */
int ims_target_find(struct store_target *t, const char *folder, const char *tag,
		    uint64_t size, const unsigned char *sha256,
		    const char *const *claimed, size_t n_claimed, char **ref_r,
		    int *found_r, struct err *err);
int ims_target_find_altered(struct store_target *t, const char *folder,
			    const struct store_altered_query *q, char **ref_r,
			    int *found_r, struct err *err);
int ims_target_check(struct store_target *t, const char *folder,
		     const char *ref, uint64_t size,
		     const unsigned char *sha256, int *same_r, struct err *err);
int ims_target_withdraw(struct store_target *t, const char *folder,
			const char *ref, struct err *err);
int ims_target_list_copies(struct store_target *t, const char *folder,
			   struct store_copy_list *out, struct err *err);
int ims_target_hash_copies(struct store_target *t, const char *folder,
			   const char *const *refs, size_t n,
			   unsigned char (*sha_r)[32], unsigned char *have_r,
			   struct err *err);

#endif
