/* fuzz_utf7.c - libFuzzer target for modified UTF-7 mailbox names
 * (imap/write.h, src/imap/utf7.c).
 *
 * Decoding: a wire name the decoder accepts is valid UTF-8 without NUL
 * and encodes back to exactly the same bytes (the decoding is canonical:
 * two wire names never map to one folder).
 * Encoding: valid UTF-8 without NUL always encodes, to printable ASCII,
 * and decodes back to the same bytes; anything else is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/write.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent strict UTF-8 check (no overlongs, surrogates, > 10FFFF,
 * NUL). */
static int valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k, more;

		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			more = 1, cp = s[i] & 0x1f;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			more = 2, cp = s[i] & 0x0f;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			more = 3, cp = s[i] & 0x07;
		else
			return 0;
		if (i + more >= n)
			return 0;
		for (k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf dec = BUF_INIT, enc = BUF_INIT, back = BUF_INIT;
	const char *in = (const char *)data;
	size_t i;
	int ok;

	/* wire name -> UTF-8 -> wire name */
	if (imap_mutf7_to_utf8(in, size, &dec) == 0) {
		if (!valid_utf8((const uint8_t *)dec.p, dec.len))
			abort();
		if (imap_utf8_to_mutf7(dec.p, dec.len, &enc) != 0)
			abort();
		if (enc.len != size || memcmp(enc.p, data, size) != 0)
			abort(); /* accepted a non-canonical encoding */
	}
	buf_reset(&enc);

	/* UTF-8 -> wire name -> UTF-8 */
	ok = valid_utf8(data, size);
	if (imap_utf8_to_mutf7(in, size, &enc) == 0) {
		if (!ok)
			abort(); /* encoded invalid UTF-8 */
		for (i = 0; i < enc.len; i++)
			if ((unsigned char)enc.p[i] < 0x20 ||
			    (unsigned char)enc.p[i] >= 0x7f)
				abort();
		if (imap_mutf7_to_utf8(enc.p, enc.len, &back) != 0)
			abort();
		if (back.len != size || memcmp(back.p, data, size) != 0)
			abort();
	} else if (ok) {
		abort(); /* refused valid UTF-8 */
	}
	buf_release(&dec);
	buf_release(&enc);
	buf_release(&back);
	return 0;
}
