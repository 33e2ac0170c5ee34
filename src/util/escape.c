/* escape.c - terminal-safe text; see escape.h. */
#include "util/escape.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if p[0] does not
 * start one.  RFC 3629: no overlong forms, no surrogates, <= U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int buf_add_escaped(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0;

	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);
		int bad = n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)) ||
			  (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0);
		size_t j;

		if (!bad) {
			i += n;
			continue;
		}
		if (n == 0)
			n = 1;
		if (buf_add(b, s + start, i - start) < 0)
			return -1;
		for (j = 0; j < n; j++)
			if (buf_addf(b, "\\x%02x", p[i + j]) < 0)
				return -1;
		i += n;
		start = i;
	}
	return buf_add(b, s + start, i - start);
}

const char *esc_n(const char *s, size_t len)
{
	static __thread char slots[ESC_SLOTS][ESC_MAX];
	static __thread unsigned next;
	char *out = slots[next++ % ESC_SLOTS];
	struct buf b = BUF_INIT;
	size_t cut;

	if (s == NULL)
		len = 0;
	buf_add_escaped(&b, s ? s : "", len);
	if (b.len < ESC_MAX) {
		memcpy(out, b.p, b.len + 1);
		buf_release(&b);
		return out;
	}
	/* Cut at a character (escapes are ASCII) and say so. */
	cut = ESC_MAX - 4;
	while (cut > 0 && ((unsigned char)b.p[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(out, b.p, cut);
	memcpy(out + cut, "...", 4);
	buf_release(&b);
	return out;
}

const char *esc(const char *s)
{
	return esc_n(s, s ? strlen(s) : 0);
}
