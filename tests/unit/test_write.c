/* test_write.c - astring/string/literal choice, literal modes and wait
 * points, modified UTF-7 both ways, UID sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"
#include "imap/write.h"

static const char *astr(enum imap_literal_mode mode, const char *s, size_t len,
			unsigned *waits)
{
	static struct imap_cmdbuf cb;

	imap_cmdbuf_release(&cb);
	imap_cmdbuf_init(&cb, mode);
	imap_cmd_astring(&cb, s, len);
	*waits = cb.n_waits;
	return cb.b.p;
}

static void test_astring(void **state)
{
	unsigned w;

	(void)state;
	/* the seed's admin formats */
	assert_string_equal(astr(IMAP_LITERAL_SYNC,
				 "contoso-students/mailadmin/terry.adams", 38,
				 &w),
			    "contoso-students/mailadmin/terry.adams");
	assert_string_equal(astr(IMAP_LITERAL_SYNC,
				 "#terry.adams@contoso-students.edu#mailadmin#",
				 44, &w),
			    "#terry.adams@contoso-students.edu#mailadmin#");
	assert_string_equal(
		astr(IMAP_LITERAL_SYNC, "terry.adams*mailadmin", 21, &w),
		"\"terry.adams*mailadmin\"");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "P@ssw0rd", 8, &w),
			    "P@ssw0rd");
	/* ']' is an ASTRING-CHAR; the atom-specials are not */
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "a]b", 3, &w), "a]b");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "a\"b\\c", 5, &w),
			    "\"a\\\"b\\\\c\"");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "with space", 10, &w),
			    "\"with space\"");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "100%", 4, &w), "\"100%\"");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "(x{", 3, &w), "\"(x{\"");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "", 0, &w), "\"\"");
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "NIL", 3, &w), "\"NIL\"");
	assert_int_equal(w, 0);
	/* 8-bit, CR, LF, NUL: literals; synchronizing unless LITERAL+ */
	assert_string_equal(astr(IMAP_LITERAL_SYNC, "p\xc3\xa4ss", 5, &w),
			    "{5}\r\np\xc3\xa4ss");
	assert_int_equal(w, 1);
	assert_string_equal(astr(IMAP_LITERAL_PLUS, "p\xc3\xa4ss", 5, &w),
			    "{5+}\r\np\xc3\xa4ss");
	assert_int_equal(w, 0);
	assert_string_equal(astr(IMAP_LITERAL_PLUS, "a\r\nb", 4, &w),
			    "{4+}\r\na\r\nb");
	{
		const char *r = astr(IMAP_LITERAL_MINUS, "a\0b", 3, &w);
		assert_memory_equal(r, "{3+}\r\na\0b", 9);
		assert_int_equal(w, 0);
	}
}

static void test_literal_modes(void **state)
{
	struct imap_cmdbuf cb;
	char *big = malloc(5000);

	(void)state;
	memset(big, '\n', 5000);
	imap_cmdbuf_init(&cb, IMAP_LITERAL_MINUS);
	imap_cmd_raw(&cb, "LOGIN ");
	imap_cmd_astring(&cb, big, 5000); /* over 4096: synchronizing */
	imap_cmd_raw(&cb, " ");
	imap_cmd_astring(&cb, big, 10); /* small: non-synchronizing */
	assert_int_equal(cb.n_waits, 1);
	assert_int_equal(cb.waits[0], strlen("LOGIN {5000}\r\n"));
	assert_memory_equal(cb.b.p + 6 + 8 + 5000, " {10+}\r\n", 8);
	imap_cmdbuf_release(&cb);
	imap_cmdbuf_init(&cb, IMAP_LITERAL_SYNC);
	imap_cmd_raw(&cb, "APPEND x ");
	imap_cmd_literal_header(&cb, 123, 1);
	assert_string_equal(cb.b.p, "APPEND x ~{123}\r\n");
	assert_int_equal(cb.waits[0], cb.b.len);
	imap_cmdbuf_release(&cb);
	free(big);
}

/* Every synchronizing literal of a command is a wait point, however many
 * there are: a missed one makes the client send the literal's bytes before
 * the server's "+" (issue 8: the 17th was dropped). */
static void test_many_sync_literals(void **state)
{
	struct imap_cmdbuf cb;
	char val[16];
	size_t want[40];
	unsigned i, n = 40;

	(void)state;
	imap_cmdbuf_init(&cb, IMAP_LITERAL_SYNC);
	imap_cmd_raw(&cb, "X");
	for (i = 0; i < n; i++) {
		int len = snprintf(val, sizeof(val), "a\r\n%u", i);
		imap_cmd_raw(&cb, " ");
		imap_cmd_astring(&cb, val, (size_t)len);
		want[i] = cb.b.len - (size_t)len;
	}
	assert_int_equal(cb.n_waits, n);
	for (i = 0; i < cb.n_waits; i++) {
		assert_int_equal(cb.waits[i], want[i]);
		assert_memory_equal(cb.b.p + cb.waits[i] - 2, "\r\n", 2);
		assert_memory_equal(cb.b.p + cb.waits[i], "a\r\n", 3);
	}
	imap_cmdbuf_release(&cb);
	assert_int_equal(cb.n_waits, 0);
}

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

static void test_utf7(void **state)
{
	struct imap_cmdbuf cb;

	(void)state;
	assert_string_equal(to7("Entw\xc3\xbc"
				"rfe"),
			    "Entw&APw-rfe");
	assert_string_equal(to7("&"), "&-");
	assert_string_equal(to7("\xe5\x8f\xb0\xe5\x8c\x97"), "&U,BTFw-");
	assert_string_equal(to7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
				"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
			    "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	assert_string_equal(to7("\xf0\x9f\x98\x80"), "&2D3eAA-"); /* U+1F600 */
	assert_null(to7("\xc3"));	  /* truncated */
	assert_null(to7("\xc0\xaf"));	  /* overlong */
	assert_null(to7("\xed\xa0\x80")); /* surrogate */
	assert_string_equal(from7("Entw&APw-rfe"), "Entw\xc3\xbcrfe");
	assert_string_equal(from7("&-&-"), "&&");
	assert_string_equal(from7("&U,BTFw-"), "\xe5\x8f\xb0\xe5\x8c\x97");
	assert_string_equal(from7("&2D3eAA-"), "\xf0\x9f\x98\x80");
	assert_null(from7("&U,BTFw"));	 /* not closed */
	assert_null(from7("&AGE-"));	 /* 'a' in base64: not canonical */
	assert_null(from7("&APx-"));	 /* non-zero padding bits */
	assert_null(from7("&2D0-"));	 /* lone high surrogate */
	assert_null(from7("a\xc3\xbc")); /* raw 8-bit */
	/* two runs back to back encode as one: not canonical (fuzz_utf7) */
	assert_null(from7("&AOk-&AOk-"));
	assert_null(from7("&AOk-t&2D3eAA-&AOk--"));
	assert_string_equal(from7("&AOk-&-"), "\xc3\xa9&");
	/* U+0000 would cut the name short */
	assert_null(from7("&AAA-"));
	/* mailbox arguments */
	imap_cmdbuf_init(&cb, IMAP_LITERAL_PLUS);
	assert_int_equal(imap_cmd_mailbox(&cb, "inbox"), 0);
	imap_cmd_raw(&cb, " ");
	assert_int_equal(imap_cmd_mailbox(&cb, "Sent Items"), 0);
	imap_cmd_raw(&cb, " ");
	assert_int_equal(imap_cmd_mailbox(&cb, "Entw\xc3\xbcrfe"), 0);
	imap_cmd_raw(&cb, " ");
	assert_int_equal(imap_cmd_mailbox(&cb, "a\"b&c"), 0);
	assert_string_equal(cb.b.p,
			    "INBOX \"Sent Items\" Entw&APw-rfe \"a\\\"b&-c\"");
	assert_int_equal(imap_cmd_mailbox(&cb, "bad\xff"), -1);
	imap_cmdbuf_release(&cb);
}

static void test_utf7_roundtrip(void **state)
{
	static const uint32_t pool[] = {
		'a',  'Z',  '&',   '-',	   '/',	   '.',	   ' ',	    '~',
		0xe4, 0xfc, 0x3b1, 0x4e2d, 0x53f0, 0xfeff, 0x1f600, 0x10ffff};
	unsigned seed;

	(void)state;
	for (seed = 1; seed <= 500; seed++) {
		struct buf in = BUF_INIT, enc = BUF_INIT, dec = BUF_INIT;
		int n = 1 + rand() % 12, i;
		srand(seed);
		for (i = 0; i < n; i++) {
			uint32_t cp = pool[(unsigned)rand() %
					   (sizeof(pool) / sizeof(pool[0]))];
			char u[4];
			if (cp < 0x80) {
				buf_addch(&in, (char)cp);
			} else if (cp < 0x800) {
				u[0] = (char)(0xc0 | cp >> 6);
				u[1] = (char)(0x80 | (cp & 0x3f));
				buf_add(&in, u, 2);
			} else if (cp < 0x10000) {
				u[0] = (char)(0xe0 | cp >> 12);
				u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				u[2] = (char)(0x80 | (cp & 0x3f));
				buf_add(&in, u, 3);
			} else {
				u[0] = (char)(0xf0 | cp >> 18);
				u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
				u[3] = (char)(0x80 | (cp & 0x3f));
				buf_add(&in, u, 4);
			}
		}
		assert_int_equal(imap_utf8_to_mutf7(in.p, in.len, &enc), 0);
		for (i = 0; i < (int)enc.len; i++)
			assert_true(enc.p[i] >= 0x20 && enc.p[i] < 0x7f);
		assert_int_equal(imap_mutf7_to_utf8(enc.p, enc.len, &dec), 0);
		assert_int_equal(dec.len, in.len);
		assert_memory_equal(dec.p, in.p, in.len);
		buf_release(&in);
		buf_release(&enc);
		buf_release(&dec);
	}
}

static void test_seqset(void **state)
{
	static const uint32_t uids[] = {1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 100};
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(seqset_build(uids, 11, 1000, &b), 11);
	assert_string_equal(b.p, "1:5,7,9:12,100");
	buf_reset(&b);
	assert_int_equal(seqset_build(uids, 11, 6, &b), 6);
	assert_string_equal(b.p, "1:5,7");
	buf_reset(&b);
	assert_int_equal(seqset_build(uids + 10, 1, 1, &b), 1); /* always one */
	assert_string_equal(b.p, "100");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_astring),
		cmocka_unit_test(test_literal_modes),
		cmocka_unit_test(test_many_sync_literals),
		cmocka_unit_test(test_utf7),
		cmocka_unit_test(test_utf7_roundtrip),
		cmocka_unit_test(test_seqset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
