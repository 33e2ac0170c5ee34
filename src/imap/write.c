/* write.c - command building; see write.h. */
#include "imap/write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

void imap_cmdbuf_init(struct imap_cmdbuf *cb, enum imap_literal_mode mode)
{
	memset(cb, 0, sizeof(*cb));
	buf_init(&cb->b, 0);
	cb->literal_mode = mode;
}

void imap_cmdbuf_release(struct imap_cmdbuf *cb)
{
	buf_release(&cb->b);
	free(cb->waits);
	cb->waits = NULL;
	cb->n_waits = 0;
	cb->cap_waits = 0;
}

void imap_cmd_wait_point(struct imap_cmdbuf *cb)
{
	if (cb->n_waits == cb->cap_waits) {
		cb->cap_waits = cb->cap_waits ? cb->cap_waits * 2 : 4;
		cb->waits =
			xrealloc(cb->waits, cb->cap_waits * sizeof(*cb->waits));
	}
	cb->waits[cb->n_waits++] = cb->b.len;
}

void imap_cmd_raw(struct imap_cmdbuf *cb, const char *text)
{
	buf_addstr(&cb->b, text);
}

void imap_cmd_rawf(struct imap_cmdbuf *cb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&cb->b, fmt, ap);
	va_end(ap);
}

/* ASTRING-CHAR: ATOM-CHAR or resp-specials (']'). */
static int astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\", c) == NULL;
}

static int quotable(const char *s, size_t len, int utf8_ok)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n')
			return 0;
		if (c >= 0x80 && !utf8_ok)
			return 0;
	}
	return 1;
}

void imap_cmd_literal_header(struct imap_cmdbuf *cb, uint64_t n, int literal8)
{
	int plus = cb->literal_mode == IMAP_LITERAL_PLUS ||
		   (cb->literal_mode == IMAP_LITERAL_MINUS && n <= 4096);

	buf_addf(&cb->b, "%s{%llu%s}\r\n", literal8 ? "~" : "",
		 (unsigned long long)n, plus ? "+" : "");
	if (!plus)
		imap_cmd_wait_point(cb);
}

static void literal(struct imap_cmdbuf *cb, const char *s, size_t len)
{
	imap_cmd_literal_header(cb, len, 0);
	buf_add(&cb->b, s, len);
}

static void quoted(struct imap_cmdbuf *cb, const char *s, size_t len)
{
	size_t i;

	buf_addch(&cb->b, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addch(&cb->b, '\\');
		buf_addch(&cb->b, s[i]);
	}
	buf_addch(&cb->b, '"');
}

void imap_cmd_string(struct imap_cmdbuf *cb, const char *s, size_t len)
{
	if (quotable(s, len, cb->utf8_ok))
		quoted(cb, s, len);
	else
		literal(cb, s, len);
}

void imap_cmd_astring(struct imap_cmdbuf *cb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!astring_char((unsigned char)s[i]))
			break;
	if (len > 0 && i == len && !(len == 3 && strncasecmp(s, "NIL", 3) == 0))
		buf_add(&cb->b, s, len);
	else
		imap_cmd_string(cb, s, len);
}

int imap_cmd_mailbox(struct imap_cmdbuf *cb, const char *utf8)
{
	struct buf enc = BUF_INIT;

	if (strcasecmp(utf8, "INBOX") == 0) {
		buf_addstr(&cb->b, "INBOX");
		return 0;
	}
	if (cb->utf8_ok) {
		imap_cmd_astring(cb, utf8, strlen(utf8));
		return 0;
	}
	if (imap_utf8_to_mutf7(utf8, strlen(utf8), &enc) < 0) {
		buf_release(&enc);
		return -1;
	}
	imap_cmd_astring(cb, enc.p, enc.len);
	buf_release(&enc);
	return 0;
}
