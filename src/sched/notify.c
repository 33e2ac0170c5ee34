/* notify.c - serve's notification emails; see notify.h and
 * docs/internals/sched.md. */
#include "sched/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/status.h"
#include "util/log.h"
#include "util/xalloc.h"

/* ---- pure: what is due ---- */

static int has_text(const char *s)
{
	for (; s != NULL && *s; s++)
		if (*s != ' ' && *s != ',' && *s != ';' && *s != '\t')
			return 1;
	return 0;
}

int notify_due(const struct state_batch *b, const struct state_report_marks *m,
	       unsigned pending, unsigned total, time_t now,
	       unsigned daily_seconds, time_t *expected_r)
{
	int bs = batch_status_parse(b->status);
	time_t last;

	*expected_r = 0;
	if (!has_text(b->notification_emails))
		return -1;
	if (batch_status_completed(bs))
		return m->completed == 0 ? STATE_REPORT_COMPLETED : -1;
	if (b->initial_done == 0 || bs < 0 || bs == BATCH_CREATED ||
	    bs == BATCH_REMOVING || bs == BATCH_COMPLETING)
		return -1;
	if (m->initial == 0) {
		/* a stop also ends a run with initial_done set: the report
		 * waits until every user has been through its first pass */
		if (pending > 0 || total == 0)
			return -1;
		return STATE_REPORT_INITIAL;
	}
	if (!batch_status_runnable(bs) || !b->allow_incremental)
		return -1;
	last = m->daily > m->initial ? m->daily : m->initial;
	if (now - last < (time_t)daily_seconds)
		return -1;
	*expected_r = m->daily;
	return STATE_REPORT_DAILY;
}

unsigned notify_backoff(unsigned attempts, unsigned base, unsigned max)
{
	unsigned long long d = base;
	unsigned i;

	for (i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d > max ? max : (unsigned)d;
}

/* ---- the service ---- */

struct notify_service {
	struct notify_config c;
	const char *domain; /* of the sender, for Message-IDs */
	pthread_t thread;
	_Atomic int stop;
	/* "id\tlist" of batches whose addresses were warned about */
	char **warned;
	size_t n_warned;
};

/* Log once per batch and list that some addresses are not valid. */
static void warn_addresses(struct notify_service *sv,
			   const struct state_batch *b, const char *bad,
			   size_t good)
{
	char *key =
		xasprintf("%lld\t%s", (long long)b->id, b->notification_emails);
	size_t i;

	for (i = 0; i < sv->n_warned; i++)
		if (strcmp(sv->warned[i], key) == 0) {
			free(key);
			return;
		}
	sv->warned =
		xrealloc(sv->warned, (sv->n_warned + 1) * sizeof(*sv->warned));
	sv->warned[sv->n_warned++] = key;
	log_warn("serve: batch %s: --notification-emails: not an address: "
		 "%s: %s; give the batch valid addresses",
		 b->name, bad,
		 good ? "reports go to the others" : "no report is sent");
}

static int queue_report(struct notify_service *sv, struct state *st,
			const struct state_batch *b, enum state_report kind,
			time_t expected, const char *rcpt, time_t now)
{
	struct state_user *users = NULL;
	struct notify_user *nu = NULL;
	struct state_notification n;
	struct buf subject = BUF_INIT, body = BUF_INIT;
	struct notify_report r;
	struct err err = ERR_INIT;
	size_t nusers = 0, i, listed = 0;
	int ret = -1;

	(void)sv;
	if (state_report_users(st, b->id, &users, &nusers, &err) < 0)
		goto out;
	nu = xcalloc(nusers + 1, sizeof(*nu));
	for (i = 0; i < nusers; i++) {
		struct state_skipped *sk = NULL;
		size_t nsk = 0;
		nu[i].u = &users[i];
		if (users[i].items_skipped == 0 || listed > NOTIFY_MAX_SKIPPED)
			continue;
		if (state_skipped_list(st, users[i].id, &sk, &nsk, &err) < 0)
			goto out;
		nu[i].skipped = sk;
		nu[i].n_skipped = nsk;
		listed += nsk;
	}
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.b = b;
	r.users = nu;
	r.n_users = nusers;
	r.now = now;
	notify_report_text(&r, &subject, &body);
	memset(&n, 0, sizeof(n));
	n.batch_id = b->id;
	n.kind = kind;
	n.recipients = (char *)rcpt;
	n.subject = subject.p;
	n.body = body.p;
	ret = state_notification_queue(st, &n, expected, now, &err);
	if (ret > 0)
		log_info("serve: batch %s: %s report queued for %s", b->name,
			 state_report_name(kind), rcpt);
out:
	if (ret < 0)
		log_warn("serve: batch %s: %s report not queued: %s; tried "
			 "again in a few seconds",
			 b->name, state_report_name(kind), err.msg);
	for (i = 0; nu != NULL && i < nusers; i++)
		state_skipped_free((struct state_skipped *)nu[i].skipped,
				   nu[i].n_skipped);
	free(nu);
	state_users_free(users, nusers);
	buf_release(&subject);
	buf_release(&body);
	return ret;
}

/* Queue the reports that are due. */
static void scan(struct notify_service *sv, struct state *st, time_t now)
{
	struct state_batch *bs = NULL;
	struct err err = ERR_INIT;
	size_t nb = 0, i;

	if (state_batch_list(st, &bs, &nb, &err) < 0) {
		log_debug("serve: notifications: %s", err.msg);
		return;
	}
	for (i = 0; i < nb && !atomic_load(&sv->stop); i++) {
		const struct state_batch *b = &bs[i];
		struct state_report_marks m;
		unsigned pending = 0, total = 0;
		struct buf bad = BUF_INIT, list = BUF_INIT;
		char **rcpt = NULL;
		size_t nr, k;
		time_t expected;
		int kind;
		if (!has_text(b->notification_emails))
			continue;
		if (state_report_marks_get(st, b->id, &m, &err) < 0)
			break;
		if (m.initial == 0 && b->initial_done != 0 &&
		    state_report_pending(st, b->id, &pending, &total, &err) < 0)
			break;
		kind = notify_due(b, &m, pending, total, now,
				  sv->c.daily_seconds, &expected);
		if (kind < 0)
			continue;
		nr = notify_recipients(b->notification_emails, &rcpt, &bad);
		if (bad.len > 0)
			warn_addresses(sv, b, bad.p, nr);
		for (k = 0; k < nr; k++)
			buf_addf(&list, "%s%s", k ? "," : "", rcpt[k]);
		if (nr > 0)
			queue_report(sv, st, b, (enum state_report)kind,
				     expected, list.p, now);
		notify_recipients_free(rcpt);
		buf_release(&bad);
		buf_release(&list);
	}
	for (i = 0; i < nb; i++)
		state_batch_release(&bs[i]);
	free(bs);
}

/* The server has report x: mark it so, whatever it takes (the state may
 * be busy for a while); failing that, it may be sent again. */
static void mark_sent(struct state *st, const struct state_notification *x)
{
	struct err e2 = ERR_INIT;
	int tries;

	for (tries = 0; tries < 50; tries++) {
		err_clear(&e2);
		if (state_notification_sent(st, x->id, time(NULL), &e2) == 0)
			break;
		usleep(100000);
	}
	if (tries == 50)
		log_error("serve: report %lld was sent but "
			  "not marked so: %s; it may be sent "
			  "again",
			  (long long)x->id, e2.msg);
}

/* Send queued report x: 0 sent (or cut short by the stop), -1 it failed
 * and waits for its next attempt. */
static int send_one(struct notify_service *sv, struct state *st,
		    const struct state_notification *x)
{
	struct err err = ERR_INIT;
	struct buf msg = BUF_INIT;
	struct notify_mail m;
	char **rcpt = NULL;
	char *mid;
	size_t nr;
	int rc, ret = 0;

	nr = notify_recipients(x->recipients, &rcpt, NULL);
	mid = xasprintf("imapmig.%s.%lld.%lld@%s", state_report_name(x->kind),
			(long long)x->id, (long long)x->created, sv->domain);
	memset(&m, 0, sizeof(m));
	m.from = sv->c.from;
	m.to = (const char *const *)rcpt;
	m.subject = x->subject ? x->subject : "imapmig report";
	m.body = x->body;
	m.date = x->created;
	m.message_id = mid;
	notify_message(&m, &msg);
	rc = smtp_send(sv->c.smtp, sv->c.from, (const char *const *)rcpt, nr,
		       msg.p, msg.len, &sv->stop, &err);
	if (rc == 0) {
		mark_sent(st, x);
		log_info("serve: sent \"%s\" to %s", m.subject, x->recipients);
	} else if (!atomic_load(&sv->stop)) {
		unsigned wait = notify_backoff(x->attempts + 1,
					       sv->c.retry_seconds, 15 * 60);
		struct err e2 = ERR_INIT;
		if (state_notification_failed(st, x->id, err.msg,
					      time(NULL) + wait, &e2) < 0)
			log_debug("serve: notifications: %s", e2.msg);
		ret = -1;
		log_warn("serve: \"%s\" to %s not sent (attempt %u): "
			 "%s; next attempt in %u s",
			 m.subject, x->recipients, x->attempts + 1, err.msg,
			 wait);
	}
	free(mid);
	buf_release(&msg);
	notify_recipients_free(rcpt);
	return ret;
}

/* Hand the due reports to the SMTP server, each batch's in the order
 * queued: one that waits (for its next attempt, or because it failed just
 * now) holds back the later ones of its batch, so that a daily report never
 * arrives before the initial one it follows. */
static void send_due(struct notify_service *sv, struct state *st, time_t now)
{
	struct state_notification *v = NULL;
	struct err err = ERR_INIT;
	int64_t *held = NULL;
	size_t n = 0, nheld = 0, i, k;

	if (state_notifications_unsent(st, 64, &v, &n, &err) < 0) {
		log_debug("serve: notifications: %s", err.msg);
		return;
	}
	held = xcalloc(n + 1, sizeof(*held));
	for (i = 0; i < n && !atomic_load(&sv->stop); i++) {
		const struct state_notification *x = &v[i];
		for (k = 0; k < nheld && held[k] != x->batch_id; k++)
			;
		if (k < nheld)
			continue;
		if (x->next_attempt > now || send_one(sv, st, x) < 0)
			held[nheld++] = x->batch_id;
	}
	free(held);
	state_notifications_free(v, n);
}

static void *notify_main(void *arg)
{
	struct notify_service *sv = arg;
	struct state *st = NULL;
	time_t next_scan = 0;
	int warned = 0;

	while (!atomic_load(&sv->stop)) {
		time_t now = time(NULL);
		int i;
		if (st == NULL) {
			struct err err = ERR_INIT;
			st = state_open(sv->c.state_path, &err);
			if (st == NULL && !warned++)
				log_warn("serve: notifications: %s; tried "
					 "again every 5 s",
					 err.msg);
		}
		if (st != NULL) {
			if (now >= next_scan) {
				scan(sv, st, now);
				next_scan = now + 2;
			}
			send_due(sv, st, now);
		}
		for (i = 0; i < (st ? 5 : 50) && !atomic_load(&sv->stop); i++)
			usleep(100000);
	}
	state_close(&st);
	return NULL;
}

static unsigned env_seconds(const char *name, unsigned dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (v == NULL || *v == '\0')
		return dflt;
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n == 0 || n > 86400 * 366)
		return dflt;
	return (unsigned)n;
}

struct notify_service *notify_start(const struct notify_config *c,
				    struct err *err)
{
	struct notify_service *sv = xcalloc(1, sizeof(*sv));
	int rc;

	sv->c = *c;
	if (sv->c.daily_seconds == 0)
		sv->c.daily_seconds =
			env_seconds("IMAPMIG_TEST_DAILY_SECONDS", 24 * 3600);
	if (sv->c.retry_seconds == 0)
		sv->c.retry_seconds =
			env_seconds("IMAPMIG_TEST_RETRY_SECONDS", 30);
	sv->domain = strrchr(c->from, '@') ? strrchr(c->from, '@') + 1
					   : "imapmig.invalid";
	rc = pthread_create(&sv->thread, NULL, notify_main, sv);
	if (rc != 0) {
		free(sv);
		err_set(err, ERR_LOCAL, EC_NONE,
			"cannot start the notification thread: %s",
			strerror(rc));
		return NULL;
	}
	return sv;
}

void notify_stop(struct notify_service **sp)
{
	struct notify_service *sv = *sp;
	size_t i;

	if (sv == NULL)
		return;
	atomic_store(&sv->stop, 1);
	pthread_join(sv->thread, NULL);
	for (i = 0; i < sv->n_warned; i++)
		free(sv->warned[i]);
	free(sv->warned);
	free(sv);
	*sp = NULL;
}
