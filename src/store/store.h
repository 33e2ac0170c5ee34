/* store.h - mailbox stores behind one interface (isync's driver.h).
 *
 * The sync engine (sync/) sees only this interface and state/state.h;
 * it never parses IMAP.  A source store lists folders, reports a folder's
 * UIDVALIDITY/UIDNEXT, fetches message metadata and streams bodies.  A
 * target store creates folders and takes messages, streamed in chunks so
 * that memory never grows with a message's size, and confirms each one
 * (Maildir: once renamed into cur/ and fsynced; IMAP: on the tagged OK of
 * its APPEND) through a callback: only then may the engine record it as
 * copied.
 *
 * Folder names in this interface are UTF-8 with '/' between hierarchy
 * levels, relative to the mailbox root; the stores translate to their own
 * delimiter and encoding.  A level that itself contains '/' is stored
 * with '/' escaped (see store_path_*()).
 *
 * Errors use util/err.h classes: ERR_MESSAGE (skip this message),
 * ERR_FOLDER (skip this folder), ERR_TRANSIENT (reconnect, retry),
 * ERR_AUTH/ERR_CONNECT (stop this mailbox), ERR_LOCAL. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "util/buf.h"
#include "util/err.h"

enum store_msg_flags {
	STORE_SEEN = 1 << 0,
	STORE_ANSWERED = 1 << 1,
	STORE_FLAGGED = 1 << 2,
	STORE_DRAFT = 1 << 3,
	STORE_DELETED = 1 << 4,
};

enum store_special {
	STORE_SPECIAL_NONE = 0,
	STORE_SPECIAL_INBOX,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
};

struct store_folder_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint64_t highestmodseq; /* 0 without CONDSTORE */
};

struct store_folder {
	char *name;		    /* UTF-8, '/'-separated, owned */
	enum store_special special; /* from SPECIAL-USE or well-known name */
	int noselect;		    /* exists only as a parent */
	/* Filled by the listing when the server answers LIST-STATUS (one
	 * command for every folder), so an unchanged folder costs nothing
	 * more. */
	int has_status;
	struct store_folder_status status;
};

struct store_folder_list {
	struct store_folder *v;
	size_t n;
};
void store_folder_list_free(struct store_folder_list *l);

/* One message as the source describes it. */
struct store_msg {
	uint32_t uid;
	uint32_t flags;	     /* enum store_msg_flags */
	uint64_t size;	     /* RFC822.SIZE */
	time_t internaldate; /* UTC seconds */
	int tz_minutes;	     /* INTERNALDATE's zone, minutes east */
	/* BINARY.SIZE[] when the source has BINARY (RFC 3516), else 0.
	 * Equal to size only when the server's BINARY[] undoes no transfer
	 * encoding, i.e. BINARY[] is the stored bytes, NUL bytes included;
	 * otherwise the body must be fetched with BODY[]. */
	uint64_t binary_size;
	char *keywords;	  /* space-separated, NULL if none */
	char *message_id; /* NULL if absent */
};

struct store_msg_list {
	struct store_msg *v;
	size_t n, cap;
};
void store_msg_list_free(struct store_msg_list *l);

/* A message body being delivered: its bytes come in order through
 * data(); size is known before the first byte. */
struct store_body_sink {
	/* A body starts: uid and its size (the bytes that will follow, not
	 * what RFC822.SIZE said).  <0 aborts the fetch. */
	int (*begin)(void *ctx, uint32_t uid, uint64_t size);
	int (*data)(void *ctx, const char *p, size_t len);
	/* The body is complete. */
	int (*end)(void *ctx);
	void *ctx;
};

/* ---- source ---- */

struct store_source;

struct store_source_ops {
	/* Every folder of the mailbox (under the user root, if any). */
	int (*list)(struct store_source *s, struct store_folder_list *out,
		    struct err *err);
	/* Open a folder read-only. */
	int (*select)(struct store_source *s, const char *folder,
		      struct store_folder_status *st, struct err *err);
	/* Metadata of the messages with min_uid <= UID <= max_uid in the
	 * selected folder, appended to out in no set order.  At most max_n
	 * (0: no bound) are kept, the lowest UIDs: *covered_r (may be NULL)
	 * is the UID up to which out holds every message the server listed,
	 * max_uid when none was left out.  So memory stays bounded however
	 * big the folder (the engine lists it window by window). */
	int (*fetch_meta)(struct store_source *s, uint32_t min_uid,
			  uint32_t max_uid, size_t max_n,
			  struct store_msg_list *out, uint32_t *covered_r,
			  struct err *err);
	/* Stream the bodies of the given messages (of the selected folder,
	 * pipelined: no round trip per message), each exactly as the server
	 * stores it, in whatever order the server answers.  Messages that
	 * vanished meanwhile, or that the server refuses or leaves out, are
	 * simply not delivered: the caller checks what arrived. */
	int (*fetch_bodies)(struct store_source *s,
			    const struct store_msg *const *msgs, size_t n,
			    const struct store_body_sink *sink,
			    struct err *err);
	/* Flags of the messages with min_uid <= UID <= max_uid (only those
	 * changed since changedsince when it is non-zero and the server has
	 * CONDSTORE), appended to out; at most max_n (0: no bound) kept, as
	 * fetch_meta keeps them, *covered_r (may be NULL) likewise. */
	int (*fetch_flags)(struct store_source *s, uint32_t min_uid,
			   uint32_t max_uid, uint64_t changedsince,
			   size_t max_n, struct store_msg_list *out,
			   uint32_t *covered_r, struct err *err);
	/* Subject, From and Date of one message, for a report. */
	int (*fetch_summary)(struct store_source *s, uint32_t uid,
			     char **subject_r, char **from_r, char **date_r,
			     struct err *err);
	/* Is each message really over limit bytes, as its RFC822.SIZE
	 * says?  A partial fetch of the byte at offset limit tells, without
	 * transferring the message.  over_r[i]: 1 yes, 0 no (uids sorted). */
	int (*size_over)(struct store_source *s, const uint32_t *uids, size_t n,
			 uint64_t limit, unsigned char *over_r,
			 struct err *err);
	/* Messages fetched with BODY[] that hold 0x80 bytes: were some of
	 * them NUL bytes in the stored message, which an IMAP4rev1 literal
	 * cannot carry (Dovecot serves NUL as 0x80)?  has_nul_r[i] is 1 if
	 * the server shows a NUL in a part of uids[i] (sorted) that it does
	 * not transfer-decode, 0 if not or if it offers no way to tell.
	 * (A NUL in a header of a message with encoded parts stays unseen.) */
	int (*nul_check)(struct store_source *s, const uint32_t *uids, size_t n,
			 unsigned char *has_nul_r, struct err *err);
	void (*close)(struct store_source *s);
};

struct store_source {
	const struct store_source_ops *ops;
};

/* ---- target ---- */

struct store_copy {
	char *ref;
	uint64_t size;
	time_t internaldate;
};

struct store_copy_list {
	struct store_copy *v;
	size_t n, cap;
};
void store_copy_list_add(struct store_copy_list *l, const char *ref,
			 uint64_t size, time_t internaldate);
void store_copy_list_free(struct store_copy_list *l);

struct store_target;

/* Called once per appended message when the target confirms it; ref is
 * how the target names it (IMAP: "uidvalidity:uid" or "" without
 * UIDPLUS; Maildir: the file's base name).  On failure err is set and
 * ref is NULL. */
typedef void store_append_cb(void *ctx, const char *ref, const struct err *err);

/* What find_altered looks for. */
struct store_altered_query {
	uint64_t min_size, max_size;
	const unsigned char *loose_sha; /* SHA-256, store_loose_update */
	const char *const *older;	/* refs: only copies newer count */
	size_t n_older;
	const char *const *claimed; /* sorted by strcmp */
	size_t n_claimed;
};

/* The loose digest: the bytes without CR and LF, every 8-bit byte read as
 * 'X'.  What a target's rewriting of line ends and 8-bit header bytes
 * leaves unchanged.  *kept counts the bytes digested. */
void store_loose_update(EVP_MD_CTX *md, const char *p, size_t len,
			uint64_t *kept);

struct store_target_ops {
	/* Folders that exist on the target. */
	int (*list)(struct store_target *t, struct store_folder_list *out,
		    struct err *err);
	/* Create a folder (and its parents); an existing one is fine. */
	int (*create)(struct store_target *t, const char *folder,
		      struct err *err);
	/* Start a message of the given size in folder.  tag is a unique
	 * identity of the source message (e.g. "u1234.56"), recorded
	 * where the target can keep it (Maildir file name) to make resume
	 * checks exact. */
	int (*append_begin)(struct store_target *t, const char *folder,
			    const struct store_msg *m, uint64_t size,
			    const char *tag, struct err *err);
	int (*append_data)(struct store_target *t, const char *p, size_t len,
			   struct err *err);
	/* Finish the message; cb runs when the target has confirmed it
	 * (at once for Maildir, on the tagged reply for IMAP). */
	int (*append_end)(struct store_target *t, store_append_cb *cb,
			  void *ctx, struct err *err);
	/* Abandon a message begun but not ended: nothing of it may remain.
	 * (IMAP: the connection is dropped, since a literal cannot be
	 * cancelled.) */
	void (*append_abort)(struct store_target *t);
	/* Wait until at most max_pending appends are unconfirmed. */
	int (*flush)(struct store_target *t, unsigned max_pending,
		     struct err *err);
	/* Is this source message already on the target?  Used on resume
	 * for items recorded in flight and after a UIDVALIDITY change.  A
	 * match must prove identity: a copy whose name carries tag (only
	 * this program writes it, and only once the copy is complete), or
	 * a copy of exactly size bytes whose SHA-256 is sha256 (NULL: not
	 * known, so only the tag can prove it).  Copies named in claimed
	 * (refs of other items, sorted by strcmp) never count, so of two
	 * identical messages each finds its own copy.  *ref_r (caller
	 * frees) names the copy found. */
	int (*find)(struct store_target *t, const char *folder, const char *tag,
		    uint64_t size, const unsigned char *sha256,
		    const char *const *claimed, size_t n_claimed, char **ref_r,
		    int *found_r, struct err *err);
	/* After an interrupted run: a copy this program made that the
	 * target stored altered, as targets alter (line ends rewritten,
	 * 8-bit header bytes replaced).  Such a copy has the loose digest
	 * (store_loose_update) of the source bytes and between min_size and
	 * max_size bytes, is newer than every copy named in older, and is
	 * not in claimed (sorted).  NULL for a store that keeps_bytes. */
	int (*find_altered)(struct store_target *t, const char *folder,
			    const struct store_altered_query *q, char **ref_r,
			    int *found_r, struct err *err);
	/* Can the target store a message holding NUL bytes unaltered? */
	int (*takes_nul)(struct store_target *t);
	/* Does it store every message exactly as it gets it (Maildir)?  Then
	 * the engine neither hashes nor reads back what it copies there; an
	 * IMAP server may rewrite line ends or 8-bit header bytes. */
	int (*keeps_bytes)(struct store_target *t);
	/* Give the copy named ref the flags and keywords of m; *new_ref_r
	 * (caller frees) is its name afterwards (Maildir renames). */
	int (*set_flags)(struct store_target *t, const char *folder,
			 const char *ref, const struct store_msg *m,
			 char **new_ref_r, struct err *err);
	/* Read the confirmed copy ref back: *same_r is 1 if it is exactly
	 * size bytes with SHA-256 sha256 (a store that writes bytes as it
	 * gets them answers 1 without reading). */
	int (*check)(struct store_target *t, const char *folder,
		     const char *ref, uint64_t size,
		     const unsigned char *sha256, int *same_r, struct err *err);
	/* Every message of folder on the target: its ref (as append
	 * confirmations name copies), size and INTERNALDATE.  A folder that
	 * does not exist has none. */
	int (*list_copies)(struct store_target *t, const char *folder,
			   struct store_copy_list *out, struct err *err);
	/* SHA-256 of the copies refs[0..n) of folder, read back in one go:
	 * have_r[i] is 0 for a copy that is not there. */
	int (*hash_copies)(struct store_target *t, const char *folder,
			   const char *const *refs, size_t n,
			   unsigned char (*sha_r)[32], unsigned char *have_r,
			   struct err *err);
	/* Take back a copy this program made (found altered): the one
	 * deletion the engine ever asks for. */
	int (*withdraw)(struct store_target *t, const char *folder,
			const char *ref, struct err *err);
	void (*close)(struct store_target *t);
	/* Hierarchy delimiter the target uses ('/' or '.'); a folder level
	 * containing it must be renamed by the planner. */
	char (*delimiter)(struct store_target *t);
};

struct store_target {
	const struct store_target_ops *ops;
};

/* ---- construction ---- */

struct imap_client;
enum conn_security;

/* An IMAP source over a logged-in client (the store takes ownership of
 * the client).  user_root: a folder, in '/' notation, under which this
 * user's folders live ("/users/terry.adams"), or NULL. */
struct store_source *store_imap_source_create(struct imap_client *client,
					      const char *user_root,
					      struct err *err);
/* An IMAP target over a logged-in client (takes ownership). */
struct store_target *store_imap_target_create(struct imap_client *client,
					      struct err *err);
/* A Maildir++ target at root (created if missing). */
struct store_target *store_maildir_target_create(const char *root,
						 struct err *err);

static inline void store_source_close(struct store_source **sp)
{
	if (*sp != NULL)
		(*sp)->ops->close(*sp);
	*sp = NULL;
}

static inline void store_target_close(struct store_target **tp)
{
	if (*tp != NULL)
		(*tp)->ops->close(*tp);
	*tp = NULL;
}

/* Well-known special-use names ("Sent Items" -> SENT), case-insensitive. */
enum store_special store_special_from_name(const char *leaf);
const char *store_special_name(enum store_special sp);

#endif
