/* test_notify.c - serve's reports (sched/notify.h): what is due, the text,
 * the RFC 5322 message; and the SMTP option parsing (net/smtp.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "sched/notify.h"

static struct state_batch batch(const char *status, const char *emails)
{
	struct state_batch b;

	memset(&b, 0, sizeof(b));
	b.id = 7;
	b.name = (char *)"IMAPBatch1";
	b.status = (char *)status;
	b.notification_emails = (char *)emails;
	b.allow_incremental = 1;
	b.created = 1796200000;
	b.started = 1796200010;
	b.initial_done = 1796203600;
	return b;
}

static void test_due(void **state)
{
	struct state_batch b = batch("SyncedWithErrors", "ops@contoso.edu");
	struct state_report_marks m = {0, 0, 0};
	time_t now = 1796210000, exp = -1;
	const unsigned day = 86400;

	(void)state;
	/* initial: once every user has been through its first pass */
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp),
			 STATE_REPORT_INITIAL);
	assert_int_equal(exp, 0);
	assert_int_equal(notify_due(&b, &m, 1, 3, now, day, &exp), -1);
	assert_int_equal(notify_due(&b, &m, 0, 0, now, day, &exp), -1);
	b.initial_done = 0;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	b.initial_done = 1796203600;
	/* no addresses, nothing */
	b.notification_emails = NULL;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	b.notification_emails = (char *)" , ";
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	b.notification_emails = (char *)"ops@contoso.edu";
	/* daily: a day after the last report, while incremental syncs run */
	m.initial = now - day + 1;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	m.initial = now - day;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp),
			 STATE_REPORT_DAILY);
	assert_int_equal(exp, 0);
	m.daily = now - 60;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	m.daily = now - day - 5;
	assert_int_equal(notify_due(&b, &m, 2, 3, now, day, &exp),
			 STATE_REPORT_DAILY);
	assert_int_equal(exp, now - day - 5); /* compare-and-set */
	b.allow_incremental = 0;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	b.allow_incremental = 1;
	b.status = (char *)"Stopped";
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	b.status = (char *)"Completing";
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	/* completed: once */
	b.status = (char *)"CompletedWithErrors";
	b.completed = now;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp),
			 STATE_REPORT_COMPLETED);
	assert_int_equal(exp, 0);
	m.completed = now;
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp), -1);
	/* completed before any report: the completion report stands */
	memset(&m, 0, sizeof(m));
	b.status = (char *)"Completed";
	assert_int_equal(notify_due(&b, &m, 0, 3, now, day, &exp),
			 STATE_REPORT_COMPLETED);
}

static void test_backoff(void **state)
{
	static const unsigned want[] = {30, 60, 120, 240, 480, 900, 900, 900};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(notify_backoff(i + 1, 30, 900), want[i]);
	assert_int_equal(notify_backoff(1000000, 30, 900), 900);
	assert_int_equal(notify_backoff(3, 1, 900), 4);
}

static struct state_user user(const char *email, const char *status,
			      uint64_t items, uint64_t bytes, uint64_t skipped,
			      const char *error)
{
	struct state_user u;

	memset(&u, 0, sizeof(u));
	u.email = (char *)email;
	u.status = (char *)status;
	u.items_synced = items;
	u.bytes_synced = bytes;
	u.items_skipped = skipped;
	u.error = (char *)error;
	u.last_synced = items ? 1796203600 : 0;
	return u;
}

/* The line of body that starts with prefix, or NULL. */
static const char *line_of(const char *body, const char *prefix)
{
	const char *p = body;

	while (p != NULL && *p) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static void test_report_text(void **state)
{
	struct state_batch b = batch("SyncedWithErrors", "ops@contoso.edu");
	char longerr[2000];
	struct state_user u[4];
	struct state_skipped sk[2];
	struct notify_user nu[4];
	struct notify_report r;
	struct buf subject = BUF_INIT, body = BUF_INIT;
	const char *l, *l2;
	size_t i;

	(void)state;
	memset(longerr, 'x', sizeof(longerr) - 1);
	longerr[sizeof(longerr) - 1] = '\0';
	u[0] = user("ta@contoso.edu", "Synced", 60, 520000, 2, NULL);
	u[1] = user("pc@contoso.edu", "Failed", 0, 0, 0,
		    "source: login refused\r\nBYE \x01 bad \xff byte");
	u[2] = user("ab@contoso.edu", "Synced", 60, 2 * 1024 * 1024, 0, NULL);
	u[3] = user("zz@contoso.edu", "IncrementalFailed", 5, 100, 0, longerr);
	memset(sk, 0, sizeof(sk));
	sk[0].folder = (char *)"Big";
	sk[0].subject = (char *)"Gro\xc3\x9f"
				"e Datei";
	sk[0].sender = (char *)"Ann <ann@contoso.edu>";
	sk[0].date = (char *)"Tue, 3 Mar 2020 10:00:00 +0000";
	sk[0].size = 300000;
	sk[0].reason = (char *)"large item: over the limit";
	sk[1] = sk[0];
	sk[1].subject = (char *)"second";
	memset(nu, 0, sizeof(nu));
	for (i = 0; i < 4; i++)
		nu[i].u = &u[i];
	nu[0].skipped = sk;
	nu[0].n_skipped = 2;
	memset(&r, 0, sizeof(r));
	r.kind = STATE_REPORT_INITIAL;
	r.b = &b;
	r.users = nu;
	r.n_users = 4;
	r.now = 1796203700;
	notify_report_text(&r, &subject, &body);
	assert_string_equal(subject.p, "imapmig: batch IMAPBatch1: initial "
				       "sync finished: 4 users, 2 failed");
	assert_non_null(line_of(body.p, "Status:        SyncedWithErrors\n"));
	assert_non_null(line_of(body.p, "Users:         4 (1 Failed, 1 "
					"IncrementalFailed, 2 Synced)\n"));
	assert_non_null(
		line_of(body.p, "Items:         125 synced, 2 skipped"));
	/* failed users first, in the state's order, each with its error */
	l = line_of(body.p, "- pc@contoso.edu: Failed, 0 items, 0 B, 0 "
			    "skipped, last synced -\n  Error: source: login "
			    "refused  BYE   bad ? byte\n");
	assert_non_null(l);
	l2 = line_of(body.p, "- zz@contoso.edu: IncrementalFailed, 5 items");
	assert_non_null(l2);
	assert_true(l < l2);
	l = line_of(l2, "  Error: xxxx");
	assert_non_null(l);
	assert_true(strchr(l, '\n') - l < 1000); /* cut */
	assert_non_null(strstr(l, "...\n"));
	l = line_of(body.p, "- ta@contoso.edu: Synced, 60 items, 507.8 KiB, 2 "
			    "skipped, last synced 2026-");
	assert_non_null(l);
	assert_true(l2 < l);
	assert_non_null(
		line_of(body.p, "- ab@contoso.edu: Synced, 60 items, 2.0 MiB"));
	assert_non_null(line_of(body.p, "Skipped items (2)\n"));
	assert_non_null(line_of(body.p, "- ta@contoso.edu: folder Big, "
					"\"Gro\xc3\x9f"
					"e Datei\" from Ann <ann@contoso.edu>, "
					"Tue, 3 Mar 2020 10:00:00 +0000, 293.0 "
					"KiB: large item: over the limit\n"));
	/* the completion report names the batch's final status */
	buf_reset(&subject);
	buf_reset(&body);
	b.status = (char *)"CompletedWithErrors";
	r.kind = STATE_REPORT_COMPLETED;
	notify_report_text(&r, &subject, &body);
	assert_string_equal(subject.p, "imapmig: batch IMAPBatch1: completed "
				       "(CompletedWithErrors)");
	buf_release(&subject);
	buf_release(&body);
}

/* At most NOTIFY_MAX_SKIPPED skipped items, across users; the rest
 * counted. */
static void test_report_cap(void **state)
{
	struct state_batch b = batch("Synced", "ops@contoso.edu");
	struct state_user u[3];
	struct state_skipped sk[60];
	struct notify_user nu[3];
	struct notify_report r;
	struct buf subject = BUF_INIT, body = BUF_INIT;
	const char *p;
	size_t i, n = 0;

	(void)state;
	memset(sk, 0, sizeof(sk));
	for (i = 0; i < 60; i++) {
		sk[i].folder = (char *)"INBOX";
		sk[i].reason = (char *)"large item";
	}
	u[0] = user("a@contoso.edu", "Synced", 1, 1, 60, NULL);
	u[1] = user("b@contoso.edu", "Synced", 1, 1, 60, NULL);
	u[2] = user("c@contoso.edu", "Synced", 1, 1, 60, NULL);
	for (i = 0; i < 3; i++) {
		nu[i].u = &u[i];
		nu[i].skipped = sk;
		nu[i].n_skipped = 60;
	}
	memset(&r, 0, sizeof(r));
	r.kind = STATE_REPORT_DAILY;
	r.b = &b;
	r.users = nu;
	r.n_users = 3;
	r.now = 1796203700;
	notify_report_text(&r, &subject, &body);
	for (p = body.p; (p = strstr(p, ": folder INBOX")) != NULL; p++)
		n++;
	assert_int_equal(n, NOTIFY_MAX_SKIPPED);
	assert_non_null(line_of(body.p, "Skipped items (180)\n"));
	assert_non_null(line_of(body.p, "... and 80 more: "));
	buf_release(&subject);
	buf_release(&body);
}

static void test_recipients(void **state)
{
	struct buf bad = BUF_INIT;
	char **v = NULL;

	(void)state;
	assert_int_equal(notify_recipients(" ops@contoso.edu, a@b.c;bad, "
					   "ops@contoso.edu,x y@z,\"q\"@r",
					   &v, &bad),
			 3);
	assert_string_equal(v[0], "ops@contoso.edu");
	assert_string_equal(v[1], "a@b.c");
	assert_string_equal(v[2], "y@z");
	assert_null(v[3]);
	assert_string_equal(bad.p, "bad, x, \"q\"@r");
	notify_recipients_free(v);
	assert_int_equal(notify_recipients(NULL, &v, NULL), 0);
	assert_null(v[0]);
	notify_recipients_free(v);
	buf_release(&bad);
}

/* Every line of msg ends in CRLF, none is over 998 octets; returns the
 * number of lines. */
static size_t check_lines(const char *msg)
{
	const char *p = msg;
	size_t n = 0;

	while (*p) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		assert_true(e - p <= 998);
		assert_null(memchr(p, '\n', (size_t)(e - p)));
		assert_null(memchr(p, '\r', (size_t)(e - p)));
		p = e + 2;
		n++;
	}
	return n;
}

/* The header's value, unfolded, into out. */
static void header(const char *msg, const char *name, char *out, size_t size)
{
	const char *p = line_of(msg, name);
	size_t k = 0;

	assert_non_null(p);
	p += strlen(name);
	while (*p && k + 1 < size) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (p[2] != ' ' && p[2] != '\t')
				break;
			p += 2;
			continue;
		}
		out[k++] = *p++;
	}
	out[k] = '\0';
}

static void test_message(void **state)
{
	const char *to[] = {"ops@contoso.edu", "admin@contoso.edu",
			    "a-rather-long-address-of-someone@example.org",
			    NULL};
	struct buf body = BUF_INIT, msg = BUF_INIT;
	struct notify_mail m;
	char v[4096], subj[300];
	const char *p;
	size_t i;

	(void)state;
	/* a long line of two-byte characters: broken at 998 octets, never
	 * inside a character */
	buf_addstr(&body, "first line\nx");
	for (i = 0; i < 1500; i++)
		buf_addstr(&body, "\xc3\xa9");
	buf_addstr(&body, "\n.dot line\r\nlast\n");
	memset(&m, 0, sizeof(m));
	m.from = "imapmig@contoso.edu";
	m.to = to;
	m.subject = "imapmig: batch IMAPBatch1: daily report: a subject long "
		    "enough to be folded somewhere near column 78";
	m.body = body.p;
	m.date = 1796220636; /* 2026-12-02 14:10:36 UTC, a Wednesday */
	m.message_id = "imapmig.daily.3.1796220636@contoso.edu";
	notify_message(&m, &msg);
	check_lines(msg.p);
	assert_non_null(line_of(msg.p, "Date: Wed, 02 Dec 2026 14:10:36 "
				       "+0000\r\n"));
	assert_non_null(
		line_of(msg.p, "From: imapmig <imapmig@contoso.edu>\r\n"));
	assert_non_null(line_of(msg.p, "Message-ID: "
				       "<imapmig.daily.3.1796220636@contoso."
				       "edu>\r\n"));
	assert_non_null(line_of(msg.p, "Content-Type: text/plain; "
				       "charset=UTF-8\r\n"));
	assert_non_null(line_of(msg.p, "Content-Transfer-Encoding: 8bit\r\n"));
	assert_non_null(line_of(msg.p, "Auto-Submitted: auto-generated\r\n"));
	header(msg.p, "To: ", v, sizeof(v));
	assert_string_equal(v, "ops@contoso.edu, admin@contoso.edu, "
			       "a-rather-long-address-of-someone@example.org");
	header(msg.p, "Subject: ", v, sizeof(v));
	assert_string_equal(v, m.subject);
	assert_non_null(strstr(msg.p, "\r\n ")); /* folded */
	/* the body: CRLF, the long line in two, whole characters */
	p = strstr(msg.p, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	assert_memory_equal(p, "first line\r\nx", 13);
	p = strstr(p, "\r\n") + 2;
	assert_int_equal(strstr(p, "\r\n") - p, 997); /* x + 498 * 2 */
	p = strstr(p, "\r\n") + 2;
	assert_int_equal(strstr(p, "\r\n") - p, 998); /* 499 * 2 */
	p = strstr(p, "\r\n") + 2;
	assert_int_equal(strstr(p, "\r\n") - p, 998);
	p = strstr(p, "\r\n") + 2;
	assert_int_equal(strstr(p, "\r\n") - p, 2 * (1500 - 498 - 998));
	assert_non_null(strstr(msg.p, "\r\n.dot line\r\nlast\r\n"));
	buf_release(&msg);

	/* a subject that is not ASCII: RFC 2047 words of whole characters */
	snprintf(subj, sizeof(subj), "imapmig: batch %s: completed",
		 "R\xc3\xa9sum\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-"
		 "\xe6\x97\xa5\xe6\x9c\xac-\xe6\x97\xa5\xe6\x9c\xac-"
		 "\xf0\x9f\x93\xa7-Stra\xc3\x9f"
		 "e");
	m.subject = subj;
	m.body = "ascii only\n";
	notify_message(&m, &msg);
	check_lines(msg.p);
	assert_non_null(line_of(msg.p, "Content-Transfer-Encoding: 7bit\r\n"));
	header(msg.p, "Subject: ", v, sizeof(v));
	{
		char dec[400] = "";
		size_t dl = 0;
		const char *w = v;
		while ((w = strstr(w, "=?UTF-8?B?")) != NULL) {
			const char *e = strstr(w + 10, "?=");
			unsigned char out[100];
			int n, pad = 0;
			assert_non_null(e);
			assert_true(e + 2 - w <= 75);
			n = EVP_DecodeBlock(out, (const unsigned char *)w + 10,
					    (int)(e - w - 10));
			if (e[-1] == '=')
				pad++;
			if (e[-2] == '=')
				pad++;
			assert_true(n > pad);
			n -= pad;
			/* each word holds whole characters */
			assert_true((out[0] & 0xc0) != 0x80);
			memcpy(dec + dl, out, (size_t)n);
			dl += (size_t)n;
			w = e + 2;
		}
		dec[dl] = '\0';
		assert_string_equal(dec, subj);
	}
	buf_release(&msg);
	buf_release(&body);
}

static void test_smtp_options(void **state)
{
	struct smtp_server s;
	struct err err = ERR_INIT;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(smtp_parse_server("smtp.contoso.com:587", &s, &err),
			 0);
	assert_string_equal(s.host, "smtp.contoso.com");
	assert_int_equal(s.port, 587);
	assert_int_equal(smtp_parse_server("[2001:db8::25]:25", &s, &err), 0);
	assert_string_equal(s.host, "2001:db8::25");
	assert_int_equal(s.port, 25);
	assert_int_equal(smtp_parse_server("smtp.contoso.com", &s, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_int_equal(smtp_parse_server("h:0", &s, &err), -1);
	assert_int_equal(smtp_parse_server("h:65536", &s, &err), -1);
	assert_int_equal(smtp_parse_server(":25", &s, &err), -1);
	assert_int_equal(smtp_parse_server("a:b:25", &s, &err), -1);
	assert_int_equal(smtp_parse_server("h/x@y:25", &s, &err), -1);
	assert_int_equal(smtp_parse_server("h:25x", &s, &err), -1);
	smtp_server_release(&s);
	assert_int_equal(smtp_parse_security("tls"), SMTP_SEC_TLS);
	assert_int_equal(smtp_parse_security("ssl"), SMTP_SEC_SSL);
	assert_int_equal(smtp_parse_security("none"), SMTP_SEC_NONE);
	assert_int_equal(smtp_parse_security("starttls"), -1);
	assert_true(smtp_address_ok("imapmig@contoso.com"));
	assert_false(smtp_address_ok("imapmig"));
	assert_false(smtp_address_ok("@contoso.com"));
	assert_false(smtp_address_ok("a@"));
	assert_false(smtp_address_ok("a@b@c"));
	assert_false(smtp_address_ok("a b@c"));
	assert_false(smtp_address_ok("a@b>\r\nRCPT TO:<x@y"));
	assert_false(smtp_address_ok("Name <a@b>"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_report_text),
		cmocka_unit_test(test_report_cap),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_smtp_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
