/* notify_mail.c - the recipients of a report and the RFC 5322 message
 * that carries it (notify_recipients, notify_message). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "sched/notify.h"
#include "sched/notify_priv.h"
#include "util/xalloc.h"

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
					notify_add_clean(bad, a, 254);
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
			size_t n = notify_utf8_seq(p + take, left - take, &cp);
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
			size_t n =
				notify_utf8_seq((const unsigned char *)p + take,
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
