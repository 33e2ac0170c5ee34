/* test_escape.c - terminal-safe text (util/escape.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/escape.h"

static void expect(const char *in, size_t len, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(buf_add_escaped(&b, in, len), 0);
	assert_string_equal(b.p, want);
	buf_release(&b);
	assert_string_equal(esc_n(in, len), want);
}
#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, want)

static void test_plain_kept(void **state)
{
	(void)state;
	EXPECT("", "");
	EXPECT("INBOX/Sent Items", "INBOX/Sent Items");
	EXPECT("back\\slash ~", "back\\slash ~");
	/* printable UTF-8, 2 to 4 bytes, kept byte for byte */
	EXPECT("Grüße aus Köln", "Grüße aus Köln");
	EXPECT("\xc2\xa0nbsp \xe2\x82\xac \xf0\x9f\x93\xa7 \xf4\x8f\xbf\xbf",
	       "\xc2\xa0nbsp \xe2\x82\xac \xf0\x9f\x93\xa7 \xf4\x8f\xbf\xbf");
	EXPECT("\xed\x9f\xbf \xee\x80\x80", "\xed\x9f\xbf \xee\x80\x80");
}

static void test_controls(void **state)
{
	(void)state;
	/* the greeting of issue 8: a window title, then clear screen */
	EXPECT("\x1b]0;PWNED\x07\x1b[2J ready",
	       "\\x1b]0;PWNED\\x07\\x1b[2J ready");
	EXPECT("a\tb\r\nc", "a\\x09b\\x0d\\x0ac");
	expect("nul\0here", 8, "nul\\x00here");
	EXPECT("del\x7f", "del\\x7f");
	EXPECT("\x01\x1f\x20", "\\x01\\x1f ");
	/* C1 controls as UTF-8: U+0080, U+009B (CSI), U+009F */
	EXPECT("\xc2\x80|\xc2\x9b"
	       "31m|\xc2\x9f",
	       "\\xc2\\x80|\\xc2\\x9b31m|\\xc2\\x9f");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	/* a raw C1 byte (Latin-1 text, or a CSI on an 8-bit terminal) */
	EXPECT("\x9b"
	       "2J",
	       "\\x9b2J");
	EXPECT("caf\xe9", "caf\\xe9");
	/* overlong forms, surrogates, past U+10FFFF, 0xc0/0xc1, 0xf5+ */
	EXPECT("\xc0\x9b", "\\xc0\\x9b");
	EXPECT("\xe0\x80\x9b", "\\xe0\\x80\\x9b");
	EXPECT("\xf0\x80\x80\x9b", "\\xf0\\x80\\x80\\x9b");
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	EXPECT("\xf5\x80", "\\xf5\\x80");
	/* a sequence cut short, by the end or by ASCII */
	EXPECT("end\xe2\x82", "end\\xe2\\x82");
	EXPECT("\xe2\x82z", "\\xe2\\x82z");
	/* a stray continuation byte, then valid text goes on */
	EXPECT("\x80\xc3\xa4", "\\x80\xc3\xa4");
}

static void test_esc_slots_and_cut(void **state)
{
	static char big[3 * ESC_MAX];
	const char *a, *b, *c;
	size_t i, n;

	(void)state;
	a = esc("one\x1b");
	b = esc(NULL);
	c = esc("three");
	assert_string_equal(a, "one\\x1b");
	assert_string_equal(b, "");
	assert_string_equal(c, "three");
	/* too long: cut at a character, never inside "ä", ends in "..." */
	for (i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa4", 2);
	big[i] = '\0';
	a = esc(big);
	n = strlen(a);
	assert_true(n < ESC_MAX);
	assert_string_equal(a + n - 3, "...");
	assert_true(n % 2 == 1); /* whole "ä" pairs, then "..." */
	/* every control escaped even past the first slot's worth */
	memset(big, 0x1b, ESC_MAX);
	big[ESC_MAX] = '\0';
	a = esc(big);
	assert_null(strchr(a, 0x1b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_kept),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_esc_slots_and_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
