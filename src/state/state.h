/* state.h - everything imapmig knows between runs, behind one interface.
 *
 * The first backend is SQLite (sqlite_*.c); nothing here names SQL, so a
 * PostgreSQL backend can implement the same functions.  Each worker thread
 * opens its own handle; several processes may share one state file.
 *
 * Passwords: callers pass and receive plaintext; the store seals them with
 * AES-256-GCM (secret.h) before they reach the database, with a key file
 * beside the state (or $IMAPMIG_KEY_FILE).  Structs that hold passwords
 * wipe them in their _release().
 *
 * Errors: ERR_USAGE for what a person got wrong (unknown name, duplicate),
 * ERR_LOCAL for the database itself. */
#ifndef STATE_STATE_H
#define STATE_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"
#include "state/status.h"
#include "util/err.h"

struct state;

/* $IMAPMIG_STATE or ~/.local/share/imapmig/state.db (static storage). */
const char *state_default_path(void);
/* Open (creating file and parent directories, 0600/0700) and bring the
 * schema up to date. */
struct state *state_open(const char *path, struct err *err);
void state_close(struct state **stp);
int state_begin(struct state *st, struct err *err);
int state_commit(struct state *st, struct err *err);
void state_rollback(struct state *st);

/* ---- endpoints ---- */

enum state_ep_kind {
	STATE_EP_SOURCE_IMAP,
	STATE_EP_TARGET_IMAP,
	STATE_EP_TARGET_MAILDIR
};

struct state_endpoint {
	int64_t id;
	char *name;
	enum state_ep_kind kind;
	char *host;
	unsigned port;
	char *security;	      /* none | ssl | tls */
	char *authentication; /* basic | plain | xoauth2 | oauthbearer */
	char *login_template; /* target: how to log in as each mailbox */
	char *authzid_template;
	char *password; /* plaintext in memory only */
	/* OAuth2 (xoauth2/oauthbearer): exactly one token source, client
	 * credentials (url, id, secret, scope), a service account (its key
	 * JSON, scope) or a token command */
	char *token_command;
	char *oauth_token_url;
	char *oauth_client_id;
	char *oauth_client_secret; /* plaintext in memory only */
	char *oauth_scope;
	char *oauth_service_account; /* the key file's JSON; memory only */
	char *oauth_ca_file;
	char *path_template; /* maildir */
	char *ca_file;
	int accept_untrusted;
	unsigned max_migrations;
	unsigned max_incremental;
	time_t created;
};

int state_endpoint_add(struct state *st, struct state_endpoint *e,
		       struct err *err);
/* 0 found; -1 with ERR_USAGE "no endpoint named X" otherwise. */
int state_endpoint_get(struct state *st, const char *name,
		       struct state_endpoint *out, struct err *err);
int state_endpoint_get_id(struct state *st, int64_t id,
			  struct state_endpoint *out, struct err *err);
int state_endpoint_list(struct state *st, struct state_endpoint **v_r,
			size_t *n_r, struct err *err);
int state_endpoint_update(struct state *st, const struct state_endpoint *e,
			  struct err *err);
/* Refused while a batch uses it. */
int state_endpoint_remove(struct state *st, const char *name, struct err *err);
void state_endpoint_release(struct state_endpoint *e);
const char *state_ep_kind_name(enum state_ep_kind k);

/* ---- batches ---- */

struct state_batch {
	int64_t id;
	char *name;
	int64_t source_id, target_id;
	char *status;
	char *exclude_folders, *include_folders;
	int allow_incremental;
	uint64_t bad_item_limit, max_message_size, max_items;
	time_t start_after;
	char *notification_emails;
	time_t cutover, created, started, initial_done, last_synced, completed;
	uint64_t
		max_bytes_per_second; /* per mailbox, from the source; 0 none */
};

int state_batch_add(struct state *st, struct state_batch *b, struct err *err);
int state_batch_get(struct state *st, const char *name, struct state_batch *out,
		    struct err *err);
int state_batch_get_id(struct state *st, int64_t id, struct state_batch *out,
		       struct err *err);
int state_batch_list(struct state *st, struct state_batch **v_r, size_t *n_r,
		     struct err *err);
/* Store every field of b (by id). */
int state_batch_update(struct state *st, const struct state_batch *b,
		       struct err *err);
/* Remove the batch and all its users, folders and items. */
int state_batch_remove(struct state *st, int64_t id, struct err *err);
void state_batch_release(struct state_batch *b);
/* b->status becomes s (in memory: state_batch_update stores it). */
void state_batch_set_status(struct state_batch *b, enum batch_status s);

struct state_batch_counts {
	unsigned total, queued, syncing, synced, failed, stopped, completed;
	uint64_t items_synced, items_skipped, bytes_synced;
	time_t last_synced;   /* oldest last_synced of its users */
	time_t newest_synced; /* newest last_synced of its users */
};
int state_batch_counts(struct state *st, int64_t batch_id,
		       struct state_batch_counts *c, struct err *err);

/* ---- users ---- */

struct state_extra {
	char *name, *value;
};

struct state_user {
	int64_t id, batch_id;
	char *email, *username, *password, *user_root;
	char *target_username, *target_password;
	struct state_extra *extra;
	size_t n_extra;
	char *status, *error;
	uint64_t items_total, items_synced, items_skipped, bytes_synced;
	uint64_t bad_items;
	time_t queued_at, sync_started, sync_ended, last_synced;
	uint64_t seconds_syncing, seconds_throttled;
	unsigned csv_line;
};

/* Insert all users in one transaction, or none: an email already in any
 * batch is ERR_USAGE naming it (and file:line from csv_name/csv_line). */
int state_users_add(struct state *st, int64_t batch_id, struct state_user *v,
		    size_t n, const char *csv_name, struct err *err);
int state_user_get(struct state *st, const char *email, struct state_user *out,
		   struct err *err);
int state_user_get_id(struct state *st, int64_t id, struct state_user *out,
		      struct err *err);
/* batch_id 0: all batches; status NULL: any. */
int state_user_list(struct state *st, int64_t batch_id, const char *status,
		    struct state_user **v_r, size_t *n_r, struct err *err);
int state_user_set_status(struct state *st, int64_t id, const char *status,
			  const char *error, struct err *err);
/* Every user of the batch that event e applies to moves (status.h's
 * table); the others stay as they are. */
int state_users_move(struct state *st, int64_t batch_id, enum user_event e,
		     struct err *err);
/* Store status, error, counters and times (by id). */
int state_user_update(struct state *st, const struct state_user *u,
		      struct err *err);
int state_user_remove(struct state *st, int64_t id, struct err *err);
void state_user_release(struct state_user *u);
void state_users_free(struct state_user *v, size_t n);

/* Claim a user for a worker: succeeds only if no other live claim (lease
 * not expired) holds it. 1 claimed, 0 held elsewhere, -1 error. */
int state_user_claim(struct state *st, int64_t user_id, const char *owner,
		     unsigned lease_seconds, struct err *err);
int state_user_drop_claim(struct state *st, int64_t user_id, struct err *err);
/* A user's status alone (one indexed read, for polling): into buf, "" for
 * a user that is gone.  0 or -1. */
int state_user_status_get(struct state *st, int64_t user_id, char *buf,
			  size_t size, struct err *err);
/* Every user's id, batch and status, in id order (one read, no password
 * decrypted): what the web's event stream diffs.  The caller frees
 * *v_r (NULL when there are none). */
struct state_user_status {
	int64_t id, batch_id;
	char status[24];
};
int state_user_statuses(struct state *st, struct state_user_status **v_r,
			size_t *n_r, struct err *err);
/* The emails of the batch's users a worker holds now: a claim whose
 * lease runs and whose owner alive() says exists, or a Syncing status.
 * The caller frees each string, then the array. */
int state_batch_busy_users(struct state *st, int64_t batch_id,
			   int (*alive)(const char *owner), char ***v_r,
			   size_t *n_r, struct err *err);
/* A number that changes whenever another handle commits a change to the
 * state (SQLite's data_version): a cheap "anything new?" poll. */
int state_data_version(struct state *st, int64_t *v_r, struct err *err);
/* Users left Syncing by a worker that died (kill -9, power cut): those
 * whose claim has expired or whose owner alive() says is gone go back to
 * Queued, claim released.  *n_r counts them. */
int state_users_requeue_orphans(struct state *st,
				int (*alive)(const char *owner), unsigned *n_r,
				struct err *err);

/* ---- skipped items, for reports ---- */

struct state_skipped {
	char *folder, *subject, *sender, *date, *reason;
	uint32_t uid;
	uint64_t size;
	int bad;
};
int state_skipped_list(struct state *st, int64_t user_id,
		       struct state_skipped **v_r, size_t *n_r,
		       struct err *err);
void state_skipped_free(struct state_skipped *v, size_t n);

struct state_folder_row {
	char *src, *dst;
	uint32_t uidvalidity, last_uid, messages;
	uint64_t items_synced;
};
int state_folder_list(struct state *st, int64_t user_id,
		      struct state_folder_row **v_r, size_t *n_r,
		      struct err *err);
void state_folder_rows_free(struct state_folder_row *v, size_t n);

/* ---- the sync journal (used by sync/mailbox.c) ----
 * Each function is one transaction; the order of calls in the sync
 * engine (in flight before the target sees a byte, done only after it
 * confirmed) is what makes resume exact. */

struct state_folder {
	int64_t id;
	uint32_t uidvalidity; /* 0: never selected */
	uint32_t last_uid;    /* every UID <= this is settled */
	uint64_t highestmodseq;
};

enum state_outcome {
	STATE_ITEM_DONE,   /* the target confirmed the copy */
	STATE_ITEM_FORGET, /* never reached the target */
	STATE_ITEM_KEEP,   /* unknown: stays in flight */
};

int state_folder_open(struct state *st, int64_t user_id, const char *src,
		      const char *dst, struct state_folder *out,
		      struct err *err);
int state_folder_update(struct state *st, int64_t folder_id,
			uint32_t uidvalidity, uint32_t last_uid,
			uint64_t highestmodseq, uint32_t messages,
			struct err *err);
/* UIDVALIDITY changed: forget the folder's UID-keyed items. */
int state_folder_renumbered(struct state *st, int64_t folder_id,
			    struct err *err);
int state_items_inflight(struct state *st, int64_t user_id, int64_t folder_id,
			 struct store_msg *const *msgs, size_t n,
			 struct err *err);
int state_items_settle(struct state *st, int64_t user_id, int64_t folder_id,
		       struct store_msg *const *msgs,
		       const enum state_outcome *oc, const char *const *refs,
		       size_t n, struct err *err);
int state_item_skip(struct state *st, int64_t user_id, int64_t folder_id,
		    const struct store_msg *m, const char *reason, int bad,
		    const char *subject, const char *from, const char *date,
		    struct err *err);
/* An item in flight turned out to be on the target already, as ref. */
int state_item_found(struct state *st, int64_t user_id, int64_t folder_id,
		     const struct store_msg *m, const char *ref,
		     struct err *err);
int state_item_forget(struct state *st, int64_t folder_id, uint32_t uid,
		      struct err *err);
int state_inflight_uids(struct state *st, int64_t folder_id, uint32_t **uids_r,
			size_t *n_r, struct err *err);
int state_settled_uids(struct state *st, int64_t folder_id, uint32_t **uids_r,
		       size_t *n_r, struct err *err);
/* The same for lo <= UID <= hi only: one window of a big folder. */
int state_settled_uids_in(struct state *st, int64_t folder_id, uint32_t lo,
			  uint32_t hi, uint32_t **uids_r, size_t *n_r,
			  struct err *err);
/* How many of the folder's items are settled (done or skipped). */
int state_settled_count(struct state *st, int64_t folder_id, uint64_t *n_r,
			struct err *err);

/* Copies the target confirmed, with the flags they were given. */
struct state_item {
	uint32_t uid;
	uint32_t flags;
	char *keywords;
	char *ref;
};
int state_done_items(struct state *st, int64_t folder_id,
		     struct state_item **v_r, size_t *n_r, struct err *err);
/* The same for lo <= UID <= hi only. */
int state_done_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			uint32_t hi, struct state_item **v_r, size_t *n_r,
			struct err *err);
/* Items in flight, with the ref of the copy where one was placed. */
int state_inflight_items(struct state *st, int64_t folder_id,
			 struct state_item **v_r, size_t *n_r, struct err *err);
/* The same for lo <= UID <= hi only. */
int state_inflight_items_in(struct state *st, int64_t folder_id, uint32_t lo,
			    uint32_t hi, struct state_item **v_r, size_t *n_r,
			    struct err *err);
/* Copies confirmed but not yet checked (they may be taken back): their
 * refs recorded while the items stay in flight, so that a run killed
 * before the check finds and checks them. */
int state_items_placed(struct state *st, int64_t folder_id,
		       const uint32_t *uids, const char *const *refs, size_t n,
		       struct err *err);
void state_items_free(struct state_item *v, size_t n);
int state_item_set_flags(struct state *st, int64_t folder_id, uint32_t uid,
			 uint32_t flags, const char *keywords, const char *ref,
			 struct err *err);

/* ---- the last 'imapmig verify' of a user ---- */

struct state_verify {
	time_t at; /* 0: never verified */
	int deep;
	uint64_t compared, missing, altered;
};
int state_verify_record(struct state *st, int64_t user_id,
			const struct state_verify *v, struct err *err);
int state_verify_get(struct state *st, int64_t user_id, struct state_verify *v,
		     struct err *err);

/* ---- notification emails (serve's reports, sched/notify.c) ----
 * A report is queued once (the batch records when, per kind, in the same
 * transaction), stays in the queue until an SMTP server accepted it, and is
 * then marked sent: never lost, never sent twice. */

enum state_report {
	STATE_REPORT_INITIAL,	/* the batch's initial sync finished */
	STATE_REPORT_DAILY,	/* while incremental syncs run */
	STATE_REPORT_COMPLETED, /* the batch completed */
};
const char *state_report_name(enum state_report r);

/* When the batch's reports were queued (0: never). */
struct state_report_marks {
	time_t initial, daily, completed;
};
int state_report_marks_get(struct state *st, int64_t batch_id,
			   struct state_report_marks *m, struct err *err);

/* The batch's users, as a report shows them: email, status, error,
 * counters, times; no name or password of theirs is read. */
int state_report_users(struct state *st, int64_t batch_id,
		       struct state_user **v_r, size_t *n_r, struct err *err);

/* Of the batch's users, how many have not finished their initial sync
 * (Queued, Syncing, Stopped) and how many there are. */
int state_report_pending(struct state *st, int64_t batch_id,
			 unsigned *pending_r, unsigned *total_r,
			 struct err *err);

struct state_notification {
	int64_t id, batch_id; /* batch_id 0: the batch was removed since */
	enum state_report kind;
	char *recipients; /* "a@b,c@d" */
	char *subject, *body;
	time_t created, next_attempt, sent;
	unsigned attempts;
	char *last_error;
};

/* Queue n (batch_id, kind, recipients, subject, body; created is set to
 * now) and mark the batch's report of that kind queued at now, both in one
 * transaction, provided the mark is still expected (0 for never): 1
 * queued, 0 not (the mark moved: it was queued already), -1 error.  A
 * completion report also marks the initial and daily ones, which it
 * stands for. */
int state_notification_queue(struct state *st, struct state_notification *n,
			     time_t expected, time_t now, struct err *err);
/* Not sent, in the order queued, at most max (next_attempt says when each
 * may be tried). */
int state_notifications_unsent(struct state *st, size_t max,
			       struct state_notification **v_r, size_t *n_r,
			       struct err *err);
/* All notifications of a batch (batch_id 0: all), oldest first. */
int state_notification_list(struct state *st, int64_t batch_id,
			    struct state_notification **v_r, size_t *n_r,
			    struct err *err);
/* The server accepted it (its 250 reply): never sent again. */
int state_notification_sent(struct state *st, int64_t id, time_t when,
			    struct err *err);
/* It was not accepted: one more attempt counted, the error (one line) kept,
 * the next attempt not before next_attempt. */
int state_notification_failed(struct state *st, int64_t id, const char *error,
			      time_t next_attempt, struct err *err);
void state_notifications_free(struct state_notification *v, size_t n);

#endif
