/* write.c - command building; see write.h. */
#include "imap/write.h"

#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void imap_cmdbuf_init(struct imap_cmdbuf *cb, enum imap_literal_mode mode)
{
	memset(cb, 0, sizeof(*cb));
	buf_init(&cb->b, 0);
	cb->literal_mode = mode;
}

void imap_cmdbuf_release(struct imap_cmdbuf *cb)
{
	buf_release(&cb->b);
	cb->n_waits = 0;
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

/* 8-bit text may be quoted only under UTF8=ACCEPT, and then only when it
 * is valid UTF-8 (RFC 6855 quoted-utf8); a Latin-1 password goes as a
 * literal, which carries any bytes. */
static int quotable(const char *s, size_t len, int utf8_ok)
{
	struct buf scratch = BUF_INIT;
	size_t i;
	int eight_bit = 0, ok;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n')
			return 0;
		if (c >= 0x80)
			eight_bit = 1;
	}
	if (!eight_bit)
		return 1;
	if (!utf8_ok)
		return 0;
	/* the strict UTF-8 check lives in utf7.c; the encoder runs it */
	ok = imap_utf8_to_mutf7(s, len, &scratch) == 0;
	buf_release(&scratch);
	return ok;
}

void imap_cmd_literal_header(struct imap_cmdbuf *cb, uint64_t n, int literal8)
{
	int plus = cb->literal_mode == IMAP_LITERAL_PLUS ||
		   (cb->literal_mode == IMAP_LITERAL_MINUS && n <= 4096);

	buf_addf(&cb->b, "%s{%llu%s}\r\n", literal8 ? "~" : "",
		 (unsigned long long)n, plus ? "+" : "");
	if (!plus) {
		/* A literal without its wait point would be sent before the
		 * server's "+" and desynchronise the connection: a command
		 * with this many synchronizing literals is a bug here. */
		if (cb->n_waits >= IMAP_CMD_MAX_WAITS)
			fatalx(1,
			       "imap command with more than %d "
			       "synchronizing literals",
			       IMAP_CMD_MAX_WAITS);
		cb->waits[cb->n_waits++] = cb->b.len;
	}
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
	/* validate even when UTF-8 goes out as it is (UTF8=ACCEPT) */
	if (imap_utf8_to_mutf7(utf8, strlen(utf8), &enc) < 0) {
		buf_release(&enc);
		return -1;
	}
	if (cb->utf8_ok)
		imap_cmd_astring(cb, utf8, strlen(utf8));
	else
		imap_cmd_astring(cb, enc.p, enc.len);
	buf_release(&enc);
	return 0;
}
