/* test_utf7.c - modified UTF-7 both ways: known names, every way a name
 * can be broken or non-canonical, failures leaving the output as it was,
 * and round trips of random UTF-8 (seeded, so a failure repeats). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "imap/write.h"

static const char *to7(const char *in)
{
	static struct buf b = BUF_INIT;

	buf_reset(&b);
	if (imap_utf8_to_mutf7(in, strlen(in), &b) < 0)
		return NULL;
	return b.p;
}

static const char *from7(const char *in)
{
	static struct buf b = BUF_INIT;

	buf_reset(&b);
	if (imap_mutf7_to_utf8(in, strlen(in), &b) < 0)
		return NULL;
	return b.p;
}

static void test_encode(void **state)
{
	(void)state;
	assert_string_equal(to7(""), "");
	assert_string_equal(to7("INBOX"), "INBOX");
	assert_string_equal(to7("Entw\xc3\xbcrfe"), "Entw&APw-rfe");
	assert_string_equal(to7("&"), "&-");
	assert_string_equal(to7("a&b&"), "a&-b&-");
	assert_string_equal(to7("\xe5\x8f\xb0\xe5\x8c\x97"), "&U,BTFw-");
	/* RFC 3501's own example */
	assert_string_equal(to7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
				"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
			    "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	/* a run of several non-ASCII characters is one base64 run */
	assert_string_equal(to7("\xc3\xa4\xc3\xa4"), "&AOQA5A-");
	assert_string_equal(to7("\xc3\xbc&\xc3\xbc"), "&APw-&-&APw-");
	/* outside the BMP: a surrogate pair */
	assert_string_equal(to7("\xf0\x9f\x98\x80"), "&2D3eAA-");
	/* controls are not printable, so they are encoded too */
	assert_string_equal(to7("a\x01"), "a&AAE-");
	assert_string_equal(to7("\x7f"), "&AH8-");
	assert_string_equal(to7("a b/c.d"), "a b/c.d");
}

static void test_encode_refuses(void **state)
{
	static const char *const bad[] = {
		"\xc3",		    /* truncated */
		"a\xe5\x8f",	    /* truncated at the end */
		"\xc0\xaf",	    /* overlong '/' */
		"\xe0\x80\xaf",	    /* overlong, 3 bytes */
		"\xf0\x80\x80\xaf", /* overlong, 4 bytes */
		"\xed\xa0\x80",	    /* high surrogate */
		"\xed\xbf\xbf",	    /* low surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xf5\x80\x80\x80", "\xff", "\x80", "a\xbf",
	};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		buf_addstr(&b, "keep");
		assert_int_equal(imap_utf8_to_mutf7(bad[i], strlen(bad[i]), &b),
				 -1);
		/* callers fall back to the raw name in the same buffer */
		assert_string_equal(b.p, "keep");
	}
	/* a NUL inside the given length */
	buf_reset(&b);
	assert_int_equal(imap_utf8_to_mutf7("a\0b", 3, &b), -1);
	assert_int_equal(b.len, 0);
	/* appends after what is there */
	buf_addstr(&b, "x.");
	assert_int_equal(imap_utf8_to_mutf7("\xc3\xbc", 2, &b), 0);
	assert_string_equal(b.p, "x.&APw-");
	buf_release(&b);
}

static void test_decode(void **state)
{
	(void)state;
	assert_string_equal(from7(""), "");
	assert_string_equal(from7("Entw&APw-rfe"), "Entw\xc3\xbcrfe");
	assert_string_equal(from7("&-"), "&");
	assert_string_equal(from7("&-&-"), "&&");
	assert_string_equal(from7("&U,BTFw-"), "\xe5\x8f\xb0\xe5\x8c\x97");
	assert_string_equal(from7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
			    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
			    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	assert_string_equal(from7("&2D3eAA-"), "\xf0\x9f\x98\x80");
	assert_string_equal(from7("&AOQA5A-"), "\xc3\xa4\xc3\xa4");
	assert_string_equal(from7("a&AAE-"), "a\x01");
	assert_string_equal(from7("Sent Items"), "Sent Items");
}

static void test_decode_refuses(void **state)
{
	static const char *const bad[] = {
		"&",		/* left open */
		"a&",		/* left open at the end */
		"&U,BTFw",	/* run not closed (glibc accepts this) */
		"&AOQ",		/* same */
		"&AGE-",	/* base64 for plain 'a' (glibc accepts) */
		"&ACY-",	/* base64 for '&' itself */
		"&AOQ-&AOQ-",	/* two runs where one would do (glibc ok) */
		"&AAA-",	/* a NUL (glibc accepts) */
		"&APx-",	/* non-zero padding bits */
		"&AOQA-",	/* a padding sextet too many */
		"&2D0-",	/* lone high surrogate */
		"&3gA-",	/* lone low surrogate */
		"&2D3YPQ-",	/* high surrogate then high surrogate */
		"&,-",		/* too few bits for one character */
		"&=-",		/* not a base64 character */
		"&AO/-",	/* standard base64's '/', not IMAP's ',' */
		"&AOQ-&-x&",	/* good, then left open */
		"a\xc3\xbc",	/* raw 8-bit */
		"a\tb",		/* raw control */
		"a\x7f",	/* DEL */
	};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		buf_addstr(&b, "keep");
		if (imap_mutf7_to_utf8(bad[i], strlen(bad[i]), &b) != -1)
			fail_msg("accepted \"%s\" as \"%s\"", bad[i], b.p);
		assert_string_equal(b.p, "keep");
	}
	buf_release(&b);
}

/* Append code point cp to b as UTF-8. */
static void put_utf8(struct buf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		buf_addch(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 4);
	}
}

/* A random code point: often the awkward ones, sometimes anything valid
 * (no NUL, no surrogate). */
static uint32_t random_cp(void)
{
	static const uint32_t pool[] = {
		'a',  'Z',   '&',    '-',    '/',    '.',     ' ',     '~',
		'+',  ',',   0x01,   0x7f,   0x80,   0xe4,    0xfc,    0x3b1,
		0x7ff, 0x800, 0x4e2d, 0x53f0, 0xfeff, 0xffff, 0x10000, 0x1f600,
		0x10ffff};
	uint32_t cp;

	switch (rand() % 4) {
	case 0:
		return pool[(unsigned)rand() % (sizeof(pool) / sizeof(pool[0]))];
	case 1:
		return 0x20 + (uint32_t)rand() % 0x5f; /* printable ASCII */
	default:
		do {
			cp = 1 + (uint32_t)rand() % 0x10ffff;
		} while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	}
}

static void test_roundtrip(void **state)
{
	unsigned seed;

	(void)state;
	for (seed = 1; seed <= 500; seed++) {
		struct buf in = BUF_INIT, enc = BUF_INIT, dec = BUF_INIT;
		struct buf again = BUF_INIT;
		int n, i;

		srand(seed);
		n = rand() % 20;
		for (i = 0; i < n; i++)
			put_utf8(&in, random_cp());
		if (imap_utf8_to_mutf7(in.p, in.len, &enc) != 0)
			fail_msg("seed %u: encoding refused", seed);
		for (i = 0; i < (int)enc.len; i++)
			assert_true(enc.p[i] >= 0x20 && enc.p[i] < 0x7f);
		if (imap_mutf7_to_utf8(enc.p, enc.len, &dec) != 0)
			fail_msg("seed %u: \"%s\" not decoded", seed, enc.p);
		assert_int_equal(dec.len, in.len);
		assert_memory_equal(dec.p, in.p, in.len);
		/* the encoding is deterministic */
		assert_int_equal(imap_utf8_to_mutf7(dec.p, dec.len, &again), 0);
		assert_string_equal(again.p, enc.p);
		buf_release(&in);
		buf_release(&enc);
		buf_release(&dec);
		buf_release(&again);
	}
}

/* Random printable strings rich in '&', '-' and base64: whatever the
 * decoder accepts must encode back to exactly the same bytes. */
static void test_decode_canonical(void **state)
{
	static const char alphabet[] = "&&&---AAOQUB,+w5Ea09/ ";
	unsigned seed, accepted = 0, with_run = 0;

	(void)state;
	for (seed = 1; seed <= 3000; seed++) {
		char s[16];
		struct buf dec = BUF_INIT, enc = BUF_INIT;
		int n, i;

		srand(seed);
		n = 1 + rand() % 14;
		for (i = 0; i < n; i++)
			s[i] = alphabet[(unsigned)rand() % (sizeof(alphabet) - 1)];
		s[n] = '\0';
		if (imap_mutf7_to_utf8(s, (size_t)n, &dec) == 0) {
			accepted++;
			for (i = 0; i < (int)dec.len; i++)
				if ((unsigned char)dec.p[i] >= 0x80)
					break;
			with_run += i < (int)dec.len;
			assert_int_equal(imap_utf8_to_mutf7(dec.p, dec.len, &enc),
					 0);
			assert_string_equal(enc.p, s);
		}
		buf_release(&dec);
		buf_release(&enc);
	}
	/* the generator must exercise both outcomes */
	assert_true(accepted > 100 && accepted < 3000);
	assert_true(with_run > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_decode_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
