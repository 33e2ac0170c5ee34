/* notify.h - serve's notification emails: the reports a batch's
 * --notification-emails receive when its initial sync finishes, once a day
 * while incremental syncs run, and when it completes.
 *
 * Two halves.  The pure one (what is due, the report's text, the message
 * as sent) reads only what it is given, for unit tests.  The service runs
 * in a thread of its own beside the scheduler: it queues due reports in the
 * state (a report is queued once) and hands queued ones to the SMTP server
 * (net/smtp.h), marking each sent only after the server accepted it.  A
 * server that is down or slow holds up only this thread: failed sends stay
 * queued and are retried with back-off (30 s doubling to 15 min).  The
 * thread never reads a password of a user or an endpoint. */
#ifndef SCHED_NOTIFY_H
#define SCHED_NOTIFY_H

#include <stddef.h>
#include <time.h>

#include "net/smtp.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/err.h"

/* ---- pure ---- */

/* The report due for batch b now, or -1: the completion report once the
 * batch is Completed(WithErrors); the initial one once its initial sync is
 * done and none of its users is still waiting for or in its initial sync
 * or stopped (pending of total); a daily one each daily_seconds after the
 * last report while the batch runs with incremental syncs.  *expected_r
 * gets the mark state_notification_queue() must find.  A batch without
 * notification emails has none due. */
int notify_due(const struct state_batch *b, const struct state_report_marks *m,
	       unsigned pending, unsigned total, time_t now,
	       unsigned daily_seconds, time_t *expected_r);

/* A user as a report shows it, with its skipped items (may be none). */
struct notify_user {
	const struct state_user *u;
	const struct state_skipped *skipped;
	size_t n_skipped;
};

struct notify_report {
	enum state_report kind;
	const struct state_batch *b;
	const struct notify_user *users;
	size_t n_users;
	time_t now;
};

/* Most skipped items one report lists (the rest: user stats). */
#define NOTIFY_MAX_SKIPPED 100

/* The report's subject (one line) and text (UTF-8, LF line ends): the
 * batch's status and totals, then per user status, items, size and
 * skipped items, the failed users first, each with its error, then the
 * skipped items.  Text from the state (errors, subjects) is cleaned:
 * invalid UTF-8 and control characters become '?' and ' ', long fields
 * are cut. */
void notify_report_text(const struct notify_report *r, struct buf *subject,
			struct buf *body);

/* The recipients in list ("a@b, c@d;e@f"): the valid addresses (allocated,
 * *v_r NULL-terminated) and, into bad (may be NULL), the others, comma-
 * separated.  Returns how many are valid. */
size_t notify_recipients(const char *list, char ***v_r, struct buf *bad);
void notify_recipients_free(char **v);

struct notify_mail {
	const char *from;      /* address */
	const char *const *to; /* addresses, NULL-terminated */
	const char *subject;   /* UTF-8, one line */
	const char *body;      /* UTF-8, LF or CRLF line ends */
	time_t date;
	const char *message_id; /* without the angle brackets */
};

/* The RFC 5322 message: Date, From, To, Subject (RFC 2047 encoded words
 * when not ASCII), Message-ID, MIME headers for text/plain UTF-8 (8bit,
 * or 7bit when ASCII), Auto-Submitted; CRLF line ends, no line over 998
 * octets (longer ones are broken at a character boundary), header lines
 * folded near 78. */
void notify_message(const struct notify_mail *m, struct buf *out);

/* Seconds to wait after the attempts-th failed send (1, 2, ...): base
 * doubling, at most max. */
unsigned notify_backoff(unsigned attempts, unsigned base, unsigned max);

/* ---- the service ---- */

struct notify_config {
	const char *state_path;
	const struct smtp_server *smtp; /* borrowed until notify_stop() */
	const char *from;
	/* between daily reports: 24 h ($IMAPMIG_TEST_DAILY_SECONDS, for
	 * tests only, when 0) */
	unsigned daily_seconds;
	/* the first retry (then doubling to 15 min): 30 s
	 * ($IMAPMIG_TEST_RETRY_SECONDS, for tests only, when 0) */
	unsigned retry_seconds;
};

struct notify_service;

/* Start the sender thread (smtp_global_init() must have run).  NULL with
 * err set when it cannot start. */
struct notify_service *notify_start(const struct notify_config *c,
				    struct err *err);
/* Stop it (an exchange in progress is cut within a second; its report
 * stays queued) and free it; *sp becomes NULL. */
void notify_stop(struct notify_service **sp);

#endif
