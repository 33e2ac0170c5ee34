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

#include <openssl/evp.h>

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

/* ---- pure: text ---- */

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if it
 * is not one; *cp_r gets its code point. */
static size_t utf8_seq(const unsigned char *p, size_t left, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* Append s cleaned (invalid UTF-8 as '?', controls as ' '), cut to at most
 * max bytes with "..." when longer. */
static void add_clean(struct buf *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t left = strlen((const char *)p), used = 0;

	while (left > 0) {
		uint32_t cp = 0;
		size_t n = utf8_seq(p, left, &cp);
		if (used + (n ? n : 1) > max) {
			buf_addstr(out, "...");
			return;
		}
		if (n == 0) {
			buf_addch(out, '?');
			n = 1;
		} else if (cp < 0x20 || cp == 0x7f ||
			   (cp >= 0x80 && cp < 0xa0)) {
			buf_addch(out, ' ');
		} else {
			buf_add(out, p, n);
		}
		used += n;
		p += n;
		left -= n;
	}
}

static void add_bytes(struct buf *out, uint64_t b)
{
	if (b >= 1024ull * 1024 * 1024)
		buf_addf(out, "%.2f GiB", (double)b / (1024.0 * 1024 * 1024));
	else if (b >= 1024ull * 1024)
		buf_addf(out, "%.1f MiB", (double)b / (1024.0 * 1024));
	else if (b >= 1024)
		buf_addf(out, "%.1f KiB", (double)b / 1024.0);
	else
		buf_addf(out, "%llu B", (unsigned long long)b);
}

static void add_time(struct buf *out, time_t t)
{
	struct tm tm;
	char s[64];

	if (t <= 0 || gmtime_r(&t, &tm) == NULL) {
		buf_addstr(out, "-");
		return;
	}
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S UTC", &tm);
	buf_addstr(out, s);
}

static int user_failed(const struct state_user *u)
{
	return user_status_class(user_status_parse(u->status)) == CLASS_FAILED;
}

/* "2 Synced, 1 Failed": users by status, in the order first seen in the
 * list (failed first). */
static void add_tally(struct buf *out, const struct notify_user *v,
		      const size_t *order, size_t n)
{
	size_t i, k;
	int first = 1;

	for (i = 0; i < n; i++) {
		const char *s = v[order[i]].u->status;
		unsigned c = 0;
		for (k = 0; k < i; k++)
			if (strcmp(v[order[k]].u->status, s) == 0)
				break;
		if (k < i)
			continue; /* counted already */
		for (k = i; k < n; k++)
			c += strcmp(v[order[k]].u->status, s) == 0;
		buf_addf(out, "%s%u ", first ? "" : ", ", c);
		add_clean(out, s, 40);
		first = 0;
	}
}

static const char *const report_titles[] = {
	[STATE_REPORT_INITIAL] = "initial sync finished",
	[STATE_REPORT_DAILY] = "daily report",
	[STATE_REPORT_COMPLETED] = "completed",
};

void notify_report_text(const struct notify_report *r, struct buf *subject,
			struct buf *body)
{
	const struct state_batch *b = r->b;
	size_t *order = xcalloc(r->n_users + 1, sizeof(*order));
	size_t i, k = 0, listed = 0, skipped_total = 0;
	unsigned failed = 0;
	uint64_t items = 0, skipped = 0, bad = 0, bytes = 0;

	/* failed users first, each part in the state's order */
	for (i = 0; i < r->n_users; i++)
		if (user_failed(r->users[i].u))
			order[k++] = i;
	failed = (unsigned)k;
	for (i = 0; i < r->n_users; i++)
		if (!user_failed(r->users[i].u))
			order[k++] = i;
	for (i = 0; i < r->n_users; i++) {
		const struct state_user *u = r->users[i].u;
		items += u->items_synced;
		skipped += u->items_skipped;
		bad += u->bad_items;
		bytes += u->bytes_synced;
		skipped_total += r->users[i].n_skipped;
	}

	buf_addstr(subject, "imapmig: batch ");
	add_clean(subject, b->name, 200);
	buf_addf(subject, ": %s", report_titles[r->kind]);
	if (r->kind == STATE_REPORT_COMPLETED) {
		buf_addstr(subject, " (");
		add_clean(subject, b->status, 40);
		buf_addch(subject, ')');
	} else {
		buf_addf(subject, ": %zu users, %u failed", r->n_users, failed);
	}

	buf_addstr(body, "Migration batch ");
	add_clean(body, b->name, 200);
	buf_addf(body, ": %s.\n\n", report_titles[r->kind]);
	buf_addstr(body, "Status:        ");
	add_clean(body, b->status, 40);
	buf_addf(body, "\nUsers:         %zu", r->n_users);
	if (r->n_users > 0) {
		buf_addstr(body, " (");
		add_tally(body, r->users, order, r->n_users);
		buf_addch(body, ')');
	}
	buf_addf(body,
		 "\nItems:         %llu synced, %llu skipped (%llu bad)\n"
		 "Size:          ",
		 (unsigned long long)items, (unsigned long long)skipped,
		 (unsigned long long)bad);
	add_bytes(body, bytes);
	buf_addstr(body, "\nCreated:       ");
	add_time(body, b->created);
	buf_addstr(body, "\nStarted:       ");
	add_time(body, b->started);
	buf_addstr(body, "\nInitial sync:  ");
	add_time(body, b->initial_done);
	buf_addstr(body, "\nLast synced:   ");
	add_time(body, b->last_synced);
	if (r->kind == STATE_REPORT_COMPLETED) {
		buf_addstr(body, "\nCompleted:     ");
		add_time(body, b->completed);
	}
	buf_addstr(body, "\nReport time:   ");
	add_time(body, r->now);
	buf_addf(body, "\n\nUsers (%zu, failed first)\n", r->n_users);
	for (i = 0; i < r->n_users; i++) {
		const struct state_user *u = r->users[order[i]].u;
		buf_addstr(body, "- ");
		add_clean(body, u->email, 254);
		buf_addstr(body, ": ");
		add_clean(body, u->status, 40);
		buf_addf(body, ", %llu items, ",
			 (unsigned long long)u->items_synced);
		add_bytes(body, u->bytes_synced);
		buf_addf(body, ", %llu skipped",
			 (unsigned long long)u->items_skipped);
		if (u->bad_items > 0)
			buf_addf(body, " (%llu bad)",
				 (unsigned long long)u->bad_items);
		buf_addstr(body, ", last synced ");
		add_time(body, u->last_synced);
		buf_addch(body, '\n');
		if (u->error != NULL && u->error[0] != '\0' &&
		    (user_failed(u) || r->kind != STATE_REPORT_COMPLETED)) {
			buf_addstr(body, "  Error: ");
			add_clean(body, u->error, 900);
			buf_addch(body, '\n');
		}
	}
	if (skipped_total > 0) {
		buf_addf(body, "\nSkipped items (%zu)\n", skipped_total);
		for (i = 0; i < r->n_users; i++) {
			const struct notify_user *nu = &r->users[order[i]];
			for (k = 0; k < nu->n_skipped; k++) {
				const struct state_skipped *s = &nu->skipped[k];
				if (listed >= NOTIFY_MAX_SKIPPED)
					break;
				listed++;
				buf_addstr(body, "- ");
				add_clean(body, nu->u->email, 254);
				buf_addstr(body, ": folder ");
				add_clean(body, s->folder, 200);
				buf_addstr(body, ", \"");
				add_clean(body, s->subject, 200);
				buf_addstr(body, "\" from ");
				add_clean(body, s->sender, 200);
				buf_addstr(body, ", ");
				add_clean(body, s->date, 64);
				buf_addstr(body, ", ");
				add_bytes(body, s->size);
				buf_addstr(body, ": ");
				add_clean(body, s->reason, 300);
				buf_addch(body, '\n');
			}
		}
		if (skipped_total > NOTIFY_MAX_SKIPPED)
			buf_addf(body,
				 "... and %zu more: 'imapmig user stats EMAIL "
				 "--include-skipped-items' lists them all\n",
				 skipped_total - NOTIFY_MAX_SKIPPED);
	}
	buf_addstr(body, "\n-- \nimapmig serve: 'imapmig batch get ");
	add_clean(body, b->name, 200);
	buf_addstr(body, "' and 'imapmig user get --batch ");
	add_clean(body, b->name, 200);
	buf_addstr(body, "' show the batch now.\n");
	free(order);
}

/* ---- pure: recipients ---- */

size_t notify_recipients(const char *list, char ***v_r, struct buf *bad)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;
	const char *p = list ? list : "";

	while (*p) {
		size_t len = strcspn(p, ",; \t\r\n");
		if (len > 0) {
			char *a = xstrndup(p, len);
			size_t k;
			for (k = 0; k < n && strcmp(v[k], a) != 0; k++)
				;
			if (!smtp_address_ok(a)) {
				if (bad != NULL) {
					if (bad->len)
						buf_addstr(bad, ", ");
					add_clean(bad, a, 254);
				}
				free(a);
			} else if (k < n) {
				free(a); /* listed twice: one mail */
			} else {
				v = xrealloc(v, (n + 2) * sizeof(*v));
				v[n++] = a;
				v[n] = NULL;
			}
		}
		p += len;
		if (*p)
			p++;
	}
	*v_r = v;
	return n;
}

void notify_recipients_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ---- pure: the message ---- */

static int is_ascii_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* "Subject: " and s: as is (folded at spaces) when printable ASCII, else
 * as RFC 2047 "B" encoded words of at most 42 bytes of whole characters
 * each (a line stays under 78). */
static void add_subject(struct buf *out, const char *s)
{
	size_t col = 9;

	buf_addstr(out, "Subject: ");
	if (is_ascii_text(s)) {
		/* folding turns a space into CRLF and that space: unfolded,
		 * the subject is what it was */
		int first = 1;
		for (;;) {
			size_t w = strcspn(s, " ");
			if (!first) {
				if (col + 1 + w > 78) {
					buf_addstr(out, "\r\n ");
					col = 1;
				} else {
					buf_addch(out, ' ');
					col++;
				}
			}
			buf_add(out, s, w);
			col += w;
			first = 0;
			s += w;
			if (*s != ' ')
				break;
			s++;
		}
		buf_addstr(out, "\r\n");
		return;
	}
	while (*s) {
		const unsigned char *p = (const unsigned char *)s;
		size_t left = strlen(s), take = 0;
		unsigned char enc[64];
		while (take < left) {
			uint32_t cp;
			size_t n = utf8_seq(p + take, left - take, &cp);
			if (n == 0)
				n = 1;
			if (take + n > 42)
				break;
			take += n;
		}
		EVP_EncodeBlock(enc, p, (int)take);
		if (col > 9)
			buf_addstr(out, "\r\n ");
		buf_addf(out, "=?UTF-8?B?%s?=", (const char *)enc);
		col = 70;
		s += take;
	}
	buf_addstr(out, "\r\n");
}

static void add_date(struct buf *out, time_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	gmtime_r(&t, &tm);
	buf_addf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
		 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One body line (no line end) as CRLF-ended lines of at most 998 octets,
 * broken at character boundaries; a stray CR becomes a space. */
static void add_body_line(struct buf *out, const char *p, size_t len)
{
	do {
		size_t take = 0;
		while (take < len) {
			uint32_t cp;
			size_t n = utf8_seq((const unsigned char *)p + take,
					    len - take, &cp);
			if (n == 0)
				n = 1;
			if (take + n > 998)
				break;
			take += n;
		}
		for (size_t i = 0; i < take; i++)
			buf_addch(out, p[i] == '\r' ? ' ' : p[i]);
		buf_addstr(out, "\r\n");
		p += take;
		len -= take;
	} while (len > 0);
}

void notify_message(const struct notify_mail *m, struct buf *out)
{
	const char *p = m->body;
	size_t col, i;
	int ascii = 1;

	for (i = 0; m->body[i]; i++)
		if ((unsigned char)m->body[i] >= 0x80)
			ascii = 0;
	add_date(out, m->date);
	buf_addf(out, "From: imapmig <%s>\r\n", m->from);
	buf_addstr(out, "To: ");
	col = 4;
	for (i = 0; m->to[i] != NULL; i++) {
		size_t w = strlen(m->to[i]) + (m->to[i + 1] ? 1 : 0);
		if (i > 0 && col + 1 + w > 78) {
			buf_addstr(out, "\r\n");
			col = 0;
		}
		if (i > 0) {
			buf_addch(out, ' ');
			col++;
		}
		buf_addf(out, "%s%s", m->to[i], m->to[i + 1] ? "," : "");
		col += w;
	}
	buf_addstr(out, "\r\n");
	add_subject(out, m->subject);
	buf_addf(out, "Message-ID: <%s>\r\n", m->message_id);
	buf_addf(out,
		 "Auto-Submitted: auto-generated\r\n"
		 "MIME-Version: 1.0\r\n"
		 "Content-Type: text/plain; charset=UTF-8\r\n"
		 "Content-Transfer-Encoding: %s\r\n\r\n",
		 ascii ? "7bit" : "8bit");
	while (*p) {
		size_t len = strcspn(p, "\n");
		size_t end = len;
		if (end > 0 && p[end - 1] == '\r')
			end--;
		add_body_line(out, p, end);
		p += len;
		if (*p == '\n')
			p++;
	}
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
		struct state_notification *x = &v[i];
		struct buf msg = BUF_INIT;
		struct notify_mail m;
		char **rcpt = NULL;
		char *mid;
		size_t nr;
		int rc;

		for (k = 0; k < nheld && held[k] != x->batch_id; k++)
			;
		if (k < nheld)
			continue;
		if (x->next_attempt > now) {
			held[nheld++] = x->batch_id;
			continue;
		}
		nr = notify_recipients(x->recipients, &rcpt, NULL);
		mid = xasprintf("imapmig.%s.%lld.%lld@%s",
				state_report_name(x->kind), (long long)x->id,
				(long long)x->created, sv->domain);
		memset(&m, 0, sizeof(m));
		m.from = sv->c.from;
		m.to = (const char *const *)rcpt;
		m.subject = x->subject ? x->subject : "imapmig report";
		m.body = x->body;
		m.date = x->created;
		m.message_id = mid;
		notify_message(&m, &msg);
		err_clear(&err);
		rc = smtp_send(sv->c.smtp, sv->c.from,
			       (const char *const *)rcpt, nr, msg.p, msg.len,
			       &sv->stop, &err);
		if (rc == 0) {
			int tries;
			struct err e2 = ERR_INIT;
			/* the server has it: whatever happens, record it */
			for (tries = 0; tries < 50; tries++) {
				err_clear(&e2);
				if (state_notification_sent(
					    st, x->id, time(NULL), &e2) == 0)
					break;
				usleep(100000);
			}
			if (tries == 50)
				log_error("serve: report %lld was sent but "
					  "not marked so: %s; it may be sent "
					  "again",
					  (long long)x->id, e2.msg);
			log_info("serve: sent \"%s\" to %s", m.subject,
				 x->recipients);
		} else if (!atomic_load(&sv->stop)) {
			unsigned wait = notify_backoff(
				x->attempts + 1, sv->c.retry_seconds, 15 * 60);
			struct err e2 = ERR_INIT;
			if (state_notification_failed(st, x->id, err.msg,
						      time(NULL) + wait,
						      &e2) < 0)
				log_debug("serve: notifications: %s", e2.msg);
			held[nheld++] = x->batch_id;
			log_warn("serve: \"%s\" to %s not sent (attempt %u): "
				 "%s; next attempt in %u s",
				 m.subject, x->recipients, x->attempts + 1,
				 err.msg, wait);
		}
		free(mid);
		buf_release(&msg);
		notify_recipients_free(rcpt);
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
