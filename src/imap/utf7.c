/* utf7.c - modified UTF-7 mailbox names (RFC 3501 5.1.3).
 *
 * Encoding is done by hand: it is short, and glibc's UTF-7-IMAP
 * converter (2.36) is not on every libc this may be built with.
 * Decoding is strict: a name that is not the one canonical encoding of
 * its text (e.g. base64 for printable ASCII, bad padding, "&" left open,
 * two base64 runs back to back, U+0000) is refused, so two different wire names
 * never map to one folder. */
#include "imap/write.h"

#include <stdint.h>
#include <string.h>

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* One UTF-8 code point; -1 on invalid input (overlong, surrogate, >max). */
static int utf8_next(const unsigned char *s, size_t len, size_t *i,
		     uint32_t *cp_r)
{
	unsigned char c = s[*i];
	uint32_t cp;
	size_t n, k;

	if (c < 0x80) {
		*cp_r = c;
		(*i)++;
		return 0;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 1;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		cp = c & 0x07;
	} else {
		return -1;
	}
	for (k = 1; k <= n; k++) {
		if (*i + k >= len || (s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
	    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	*cp_r = cp;
	return 0;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		buf_addch(out, (char)cp);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, b, 4);
	}
}

int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		uint32_t bits = 0;
		int nbits = 0;

		if (s[i] >= 0x20 && s[i] < 0x7f) {
			if (s[i] == '&')
				buf_addstr(out, "&-");
			else
				buf_addch(out, (char)s[i]);
			i++;
			continue;
		}
		if (s[i] == 0)
			return -1;
		/* a run of non-printable characters, as UTF-16 in base64 */
		buf_addch(out, '&');
		while (i < len && !(s[i] >= 0x20 && s[i] < 0x7f)) {
			uint16_t u[2];
			int nu, k;
			if (s[i] == 0 || utf8_next(s, len, &i, &cp) < 0)
				return -1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				u[0] = (uint16_t)(0xd800 | (cp >> 10));
				u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				u[0] = (uint16_t)cp;
				nu = 1;
			}
			for (k = 0; k < nu; k++) {
				bits = (bits << 16) | u[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_addch(out,
						  b64[(bits >> nbits) & 0x3f]);
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0)
			buf_addch(out, b64[(bits << (6 - nbits)) & 0x3f]);
		buf_addch(out, '-');
	}
	return 0;
}

static int b64_val(unsigned char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, run_end = (size_t)-1;

	while (i < len) {
		uint32_t bits = 0, hi = 0;
		int nbits = 0, units = 0;

		if (s[i] < 0x20 || s[i] >= 0x7f)
			return -1;
		if (s[i] != '&') {
			buf_addch(out, (char)s[i++]);
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			buf_addch(out, '&');
			i++;
			continue;
		}
		/* a run right after a run: the encoder writes one run */
		if (i - 1 == run_end)
			return -1;
		for (;;) {
			int v;
			if (i >= len)
				return -1; /* "&" left open */
			if (s[i] == '-') {
				i++;
				break;
			}
			v = b64_val(s[i++]);
			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				uint32_t u;
				nbits -= 16;
				u = (bits >> nbits) & 0xffff;
				bits &= (1u << nbits) - 1;
				units++;
				if (hi) {
					if (u < 0xdc00 || u > 0xdfff)
						return -1;
					put_utf8(out,
						 0x10000 +
							 ((hi - 0xd800) << 10) +
							 (u - 0xdc00));
					hi = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					hi = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return -1;
				} else if ((u >= 0x20 && u < 0x7f) || u == 0) {
					/* plain ASCII must be plain; a NUL
					 * would cut the name short */
					return -1;
				} else {
					put_utf8(out, u);
				}
			}
		}
		/* leftover bits must be padding zeros, fewer than 6 */
		if (units == 0 || hi || nbits >= 6 || bits != 0)
			return -1;
		run_end = i;
	}
	return 0;
}
