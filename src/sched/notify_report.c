/* notify_report.c - the report's text (notify_report_text), and the text
 * cleaning the other parts of notify share (notify_priv.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/notify.h"
#include "sched/notify_priv.h"
#include "state/status.h"
#include "util/xalloc.h"

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if it
 * is not one; *cp_r gets its code point. */
size_t notify_utf8_seq(const unsigned char *p, size_t left, uint32_t *cp_r)
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
void notify_add_clean(struct buf *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t left = strlen((const char *)p), used = 0;

	while (left > 0) {
		uint32_t cp = 0;
		size_t n = notify_utf8_seq(p, left, &cp);
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
		notify_add_clean(out, s, 40);
		first = 0;
	}
}

static const char *const report_titles[] = {
	[STATE_REPORT_INITIAL] = "initial sync finished",
	[STATE_REPORT_DAILY] = "daily report",
	[STATE_REPORT_COMPLETED] = "completed",
};

/* The users' order in a report, failed first, each part in the state's
 * order (allocated); *failed_r gets how many failed. */
static size_t *report_order(const struct notify_report *r, unsigned *failed_r)
{
	size_t *order = xcalloc(r->n_users + 1, sizeof(*order));
	size_t i, k = 0;

	for (i = 0; i < r->n_users; i++)
		if (user_failed(r->users[i].u))
			order[k++] = i;
	*failed_r = (unsigned)k;
	for (i = 0; i < r->n_users; i++)
		if (!user_failed(r->users[i].u))
			order[k++] = i;
	return order;
}

/* "imapmig: batch NAME: what", and the status or the failed count. */
static void report_subject(const struct notify_report *r, unsigned failed,
			   struct buf *subject)
{
	buf_addstr(subject, "imapmig: batch ");
	notify_add_clean(subject, r->b->name, 200);
	buf_addf(subject, ": %s", report_titles[r->kind]);
	if (r->kind == STATE_REPORT_COMPLETED) {
		buf_addstr(subject, " (");
		notify_add_clean(subject, r->b->status, 40);
		buf_addch(subject, ')');
	} else {
		buf_addf(subject, ": %zu users, %u failed", r->n_users, failed);
	}
}

/* The batch: its status, users by status, the items and bytes of all its
 * users, its times. */
static void report_summary(const struct notify_report *r, const size_t *order,
			   struct buf *body)
{
	const struct state_batch *b = r->b;
	uint64_t items = 0, skipped = 0, bad = 0, bytes = 0;
	size_t i;

	for (i = 0; i < r->n_users; i++) {
		const struct state_user *u = r->users[i].u;
		items += u->items_synced;
		skipped += u->items_skipped;
		bad += u->bad_items;
		bytes += u->bytes_synced;
	}
	buf_addstr(body, "Migration batch ");
	notify_add_clean(body, b->name, 200);
	buf_addf(body, ": %s.\n\n", report_titles[r->kind]);
	buf_addstr(body, "Status:        ");
	notify_add_clean(body, b->status, 40);
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
}

/* One line per user, with its error (a completion report shows only the
 * failed users' errors). */
static void report_users(const struct notify_report *r, const size_t *order,
			 struct buf *body)
{
	size_t i;

	buf_addf(body, "\n\nUsers (%zu, failed first)\n", r->n_users);
	for (i = 0; i < r->n_users; i++) {
		const struct state_user *u = r->users[order[i]].u;
		buf_addstr(body, "- ");
		notify_add_clean(body, u->email, 254);
		buf_addstr(body, ": ");
		notify_add_clean(body, u->status, 40);
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
			notify_add_clean(body, u->error, 900);
			buf_addch(body, '\n');
		}
	}
}

/* One skipped item's line. */
static void report_skipped_item(const struct notify_user *nu,
				const struct state_skipped *s, struct buf *body)
{
	buf_addstr(body, "- ");
	notify_add_clean(body, nu->u->email, 254);
	buf_addstr(body, ": folder ");
	notify_add_clean(body, s->folder, 200);
	buf_addstr(body, ", \"");
	notify_add_clean(body, s->subject, 200);
	buf_addstr(body, "\" from ");
	notify_add_clean(body, s->sender, 200);
	buf_addstr(body, ", ");
	notify_add_clean(body, s->date, 64);
	buf_addstr(body, ", ");
	add_bytes(body, s->size);
	buf_addstr(body, ": ");
	notify_add_clean(body, s->reason, 300);
	buf_addch(body, '\n');
}

/* The skipped items, users in the report's order, at most
 * NOTIFY_MAX_SKIPPED of them. */
static void report_skipped(const struct notify_report *r, const size_t *order,
			   struct buf *body)
{
	size_t i, k, listed = 0, total = 0;

	for (i = 0; i < r->n_users; i++)
		total += r->users[i].n_skipped;
	if (total == 0)
		return;
	buf_addf(body, "\nSkipped items (%zu)\n", total);
	for (i = 0; i < r->n_users; i++) {
		const struct notify_user *nu = &r->users[order[i]];
		for (k = 0; k < nu->n_skipped; k++) {
			if (listed >= NOTIFY_MAX_SKIPPED)
				break;
			listed++;
			report_skipped_item(nu, &nu->skipped[k], body);
		}
	}
	if (total > NOTIFY_MAX_SKIPPED)
		buf_addf(body,
			 "... and %zu more: 'imapmig user stats EMAIL "
			 "--include-skipped-items' lists them all\n",
			 total - NOTIFY_MAX_SKIPPED);
}

void notify_report_text(const struct notify_report *r, struct buf *subject,
			struct buf *body)
{
	unsigned failed;
	size_t *order = report_order(r, &failed);

	report_subject(r, failed, subject);
	report_summary(r, order, body);
	report_users(r, order, body);
	report_skipped(r, order, body);
	buf_addstr(body, "\n-- \nimapmig serve: 'imapmig batch get ");
	notify_add_clean(body, r->b->name, 200);
	buf_addstr(body, "' and 'imapmig user get --batch ");
	notify_add_clean(body, r->b->name, 200);
	buf_addstr(body, "' show the batch now.\n");
	free(order);
}
