/* utf7.c - modified UTF-7 mailbox names (RFC 3501 5.1.3).
 *
 * The conversion itself is glibc's iconv "UTF-7-IMAP" (glibc >= 2.36).
 * iconv is not strict enough on its own, so both directions add checks:
 *
 * - UTF-8 in: iconv refuses overlongs and surrogates, but we validate
 *   first anyway (and refuse NUL, which no mailbox name can hold) so the
 *   rule does not depend on the libc's leniency.
 * - Modified UTF-7 in: glibc 2.36 accepts "&AGE-" (base64 for a plain
 *   'a'), an "&" run left open at the end ("&U,BTFw"), two adjacent runs
 *   ("&AOQ-&AOQ-") and "&AAA-" (a NUL).  Each is a second spelling of a
 *   name that has a canonical one, so two wire names could map to one
 *   folder.  We accept a name only if re-encoding its decoded text gives
 *   back exactly the same bytes (what Dovecot's imap_utf7_is_valid does),
 *   which refuses all of these and anything iconv itself refuses (bad
 *   padding bits, lone surrogates, 8-bit bytes).
 *
 * On failure the output buffer is left as it was: callers (the Maildir
 * store, the IMAP store) fall back to the raw name and append it to the
 * same buffer. */
#include "imap/write.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF and,
 * for mailbox names, no NUL. */
static int utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			unsigned char t = s[i + k];
			if (k == 1 ? (t < lo || t > hi) : (t & 0xc0) != 0x80)
				return 0;
		}
		i += n + 1;
	}
	return 1;
}

/* Convert with a fresh iconv handle (opening one costs microseconds and
 * keeps this thread-safe without per-thread state) and append to out.
 * -1 on any conversion error, including a missing converter. */
static int convert(const char *to, const char *from, const char *in, size_t len,
		   struct buf *out)
{
	iconv_t cd = iconv_open(to, from);
	char *ip = (char *)in; /* iconv's prototype is not const-correct */
	size_t il = len;
	int flushing = 0, ret = -1;

	if (cd == (iconv_t)-1)
		return -1;
	for (;;) {
		char tmp[256], *op = tmp;
		size_t ol = sizeof(tmp), r;

		/* after the input, one call with NULL input writes the
		 * closing '-' of a base64 run still open */
		if (!flushing)
			r = iconv(cd, &ip, &il, &op, &ol);
		else
			r = iconv(cd, NULL, NULL, &op, &ol);
		if (buf_add(out, tmp, (size_t)(op - tmp)) < 0)
			goto cleanup;
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			goto cleanup;
		}
		if (flushing)
			break;
		if (il == 0)
			flushing = 1;
	}
	ret = 0;
cleanup:
	iconv_close(cd);
	return ret;
}

int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (!utf8_valid((const unsigned char *)in, len) ||
	    convert("UTF-7-IMAP", "UTF-8", in, len, out) < 0) {
		buf_setlen(out, start);
		return -1;
	}
	return 0;
}

int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	struct buf check = BUF_INIT;
	size_t start = out->len, i;
	int ret = -1;

	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] >= 0x7f)
			goto cleanup; /* names on the wire are printable */
	if (convert("UTF-8", "UTF-7-IMAP", in, len, out) < 0)
		goto cleanup;
	/* canonical form only; see the top of the file */
	if (imap_utf8_to_mutf7(out->p + start, out->len - start, &check) < 0 ||
	    check.len != len || memcmp(check.p, in, len) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	if (ret < 0)
		buf_setlen(out, start);
	buf_release(&check);
	return ret;
}
