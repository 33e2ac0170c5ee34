/* test_write.c - the astring/string/literal choice for every awkward
 * value, the three literal modes with exact wait points, literal8
 * headers and mailbox arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "imap/write.h"

struct out {
	char bytes[256];
	size_t len;
	unsigned n_waits;
	size_t waits[IMAP_CMD_MAX_WAITS];
};

/* Write one astring (or string) into a fresh command buffer. */
static struct out write1(enum imap_literal_mode mode, int utf8_ok,
			 int as_string, const char *s, size_t len)
{
	struct imap_cmdbuf cb;
	struct out o;

	memset(&o, 0, sizeof(o));
	imap_cmdbuf_init(&cb, mode);
	cb.utf8_ok = utf8_ok;
	if (as_string)
		imap_cmd_string(&cb, s, len);
	else
		imap_cmd_astring(&cb, s, len);
	assert_true(cb.b.len < sizeof(o.bytes));
	memcpy(o.bytes, cb.b.p, cb.b.len);
	o.len = cb.b.len;
	o.n_waits = cb.n_waits;
	memcpy(o.waits, cb.waits, sizeof(o.waits));
	imap_cmdbuf_release(&cb);
	return o;
}

/* Expect value s (C string) to be written as want, with no wait point. */
static void expect(const char *s, const char *want)
{
	struct out o = write1(IMAP_LITERAL_SYNC, 0, 0, s, strlen(s));

	assert_int_equal(o.len, strlen(want));
	assert_memory_equal(o.bytes, want, o.len);
	assert_int_equal(o.n_waits, 0);
}

static void test_atoms(void **state)
{
	(void)state;
	/* the seed's UserName formats: '/', '#', '@', '.' are atom chars */
	expect("contoso-students/mailadmin/terry.adams",
	       "contoso-students/mailadmin/terry.adams");
	expect("#terry.adams@contoso-students.edu#mailadmin#",
	       "#terry.adams@contoso-students.edu#mailadmin#");
	expect("P@ssw0rd", "P@ssw0rd");
	expect("1091990", "1091990");
	/* ']' is an ASTRING-CHAR (resp-specials), though not an ATOM-CHAR */
	expect("a]b", "a]b");
	expect("~!$&'+,-.:;<=>?^_`|", "~!$&'+,-.:;<=>?^_`|");
}

static void test_quoted(void **state)
{
	(void)state;
	/* Dovecot's master-user separator is a list wildcard */
	expect("terry.adams*mailadmin", "\"terry.adams*mailadmin\"");
	expect("pa\"ss", "\"pa\\\"ss\"");
	expect("pa\\ss", "\"pa\\\\ss\"");
	expect("\\\"", "\"\\\\\\\"\"");
	expect("with space", "\"with space\"");
	expect("100%", "\"100%\"");
	expect("(x", "\"(x\"");
	expect("x)", "\"x)\"");
	expect("{5}", "\"{5}\"");
	expect("[", "[");
	expect("", "\"\"");
	expect("\t", "\"\t\""); /* a CTL, but quotable */
	expect("a\x7f", "\"a\x7f\"");
	/* NIL would read as a nil in an nstring: never an atom */
	expect("NIL", "\"NIL\"");
	expect("nil", "\"nil\"");
	expect("NILS", "NILS");
}

static void test_literals(void **state)
{
	struct out o;

	(void)state;
	/* 8-bit: literal, synchronizing by default, wait just after CRLF */
	o = write1(IMAP_LITERAL_SYNC, 0, 0, "p\xc3\xa4ssw\xc3\xb6rd", 10);
	assert_int_equal(o.len, 6 + 10);
	assert_memory_equal(o.bytes, "{10}\r\np\xc3\xa4ssw\xc3\xb6rd", o.len);
	assert_int_equal(o.n_waits, 1);
	assert_int_equal(o.waits[0], 6);
	/* ... or quoted under UTF8=ACCEPT */
	o = write1(IMAP_LITERAL_SYNC, 1, 0, "p\xc3\xa4ssw\xc3\xb6rd", 10);
	assert_memory_equal(o.bytes, "\"p\xc3\xa4ssw\xc3\xb6rd\"", 12);
	assert_int_equal(o.len, 12);
	assert_int_equal(o.n_waits, 0);
	/* ... but not Latin-1, which is not UTF-8 */
	o = write1(IMAP_LITERAL_SYNC, 1, 0, "p\xe4ss", 4);
	assert_memory_equal(o.bytes, "{4}\r\np\xe4ss", 9);
	assert_int_equal(o.n_waits, 1);
	/* CR, LF, NUL: literal in every mode, even under UTF8=ACCEPT */
	o = write1(IMAP_LITERAL_SYNC, 1, 0, "a\rb", 3);
	assert_memory_equal(o.bytes, "{3}\r\na\rb", 8);
	assert_int_equal(o.len, 8);
	o = write1(IMAP_LITERAL_PLUS, 0, 0, "a\nb", 3);
	assert_memory_equal(o.bytes, "{3+}\r\na\nb", 9);
	assert_int_equal(o.n_waits, 0);
	o = write1(IMAP_LITERAL_MINUS, 0, 0, "a\0b", 3);
	assert_int_equal(o.len, 9);
	assert_memory_equal(o.bytes, "{3+}\r\na\0b", 9);
	assert_int_equal(o.n_waits, 0);
	/* a string is never an atom */
	o = write1(IMAP_LITERAL_SYNC, 0, 1, "abc", 3);
	assert_int_equal(o.len, 5);
	assert_memory_equal(o.bytes, "\"abc\"", 5);
	o = write1(IMAP_LITERAL_SYNC, 0, 1, "", 0);
	assert_int_equal(o.len, 2);
	assert_memory_equal(o.bytes, "\"\"", 2);
}

static void test_literal_modes(void **state)
{
	struct imap_cmdbuf cb;
	char *big = malloc(5000);

	(void)state;
	memset(big, '\n', 5000);
	/* LITERAL-: non-synchronizing up to 4096 bytes only */
	imap_cmdbuf_init(&cb, IMAP_LITERAL_MINUS);
	imap_cmd_raw(&cb, "X ");
	imap_cmd_astring(&cb, big, 4097);
	imap_cmd_raw(&cb, " ");
	imap_cmd_astring(&cb, big, 4096);
	assert_int_equal(cb.n_waits, 1);
	assert_int_equal(cb.waits[0], strlen("X {4097}\r\n"));
	assert_memory_equal(cb.b.p, "X {4097}\r\n", 10);
	assert_memory_equal(cb.b.p + 10 + 4097, " {4096+}\r\n", 10);
	assert_int_equal(cb.b.len, 10 + 4097 + 10 + 4096);
	imap_cmdbuf_release(&cb);
	/* LITERAL+: always non-synchronizing, whatever the size */
	imap_cmdbuf_init(&cb, IMAP_LITERAL_PLUS);
	imap_cmd_astring(&cb, big, 5000);
	assert_int_equal(cb.n_waits, 0);
	assert_memory_equal(cb.b.p, "{5000+}\r\n", 9);
	imap_cmdbuf_release(&cb);
	/* synchronizing: two literals in one LOGIN, two exact wait points */
	imap_cmdbuf_init(&cb, IMAP_LITERAL_SYNC);
	imap_cmd_raw(&cb, "LOGIN ");
	imap_cmd_astring(&cb, "us\xc3\xa9r", 5);
	imap_cmd_raw(&cb, " ");
	imap_cmd_astring(&cb, "p\r\n", 3);
	assert_int_equal(cb.b.len,
			 strlen("LOGIN {5}\r\nus\xc3\xa9r {3}\r\np\r\n"));
	assert_string_equal(cb.b.p, "LOGIN {5}\r\nus\xc3\xa9r {3}\r\np\r\n");
	assert_int_equal(cb.n_waits, 2);
	assert_int_equal(cb.waits[0], strlen("LOGIN {5}\r\n"));
	assert_int_equal(cb.waits[1],
			 strlen("LOGIN {5}\r\nus\xc3\xa9r {3}\r\n"));
	imap_cmdbuf_release(&cb);
	assert_int_equal(cb.n_waits, 0);
	/* the limit of wait points is reachable */
	imap_cmdbuf_init(&cb, IMAP_LITERAL_SYNC);
	for (int i = 0; i < IMAP_CMD_MAX_WAITS; i++)
		imap_cmd_astring(&cb, "\n", 1);
	assert_int_equal(cb.n_waits, IMAP_CMD_MAX_WAITS);
	assert_int_equal(cb.waits[IMAP_CMD_MAX_WAITS - 1], cb.b.len - 1);
	imap_cmdbuf_release(&cb);
	free(big);
}

static void test_literal_header(void **state)
{
	static const struct {
		enum imap_literal_mode mode;
		uint64_t n;
		int literal8;
		const char *want;
		int wait;
	} cases[] = {
		{IMAP_LITERAL_SYNC, 123, 0, "{123}\r\n", 1},
		{IMAP_LITERAL_SYNC, 123, 1, "~{123}\r\n", 1},
		{IMAP_LITERAL_PLUS, 123, 1, "~{123+}\r\n", 0},
		{IMAP_LITERAL_PLUS, 0, 0, "{0+}\r\n", 0},
		{IMAP_LITERAL_MINUS, 4096, 1, "~{4096+}\r\n", 0},
		{IMAP_LITERAL_MINUS, 4097, 1, "~{4097}\r\n", 1},
		{IMAP_LITERAL_PLUS, 36700160, 1, "~{36700160+}\r\n", 0},
		{IMAP_LITERAL_SYNC, 5000000000ull, 0, "{5000000000}\r\n", 1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_cmdbuf cb;
		imap_cmdbuf_init(&cb, cases[i].mode);
		imap_cmd_raw(&cb, "APPEND x ");
		imap_cmd_literal_header(&cb, cases[i].n, cases[i].literal8);
		assert_string_equal(cb.b.p + 9, cases[i].want);
		assert_int_equal(cb.n_waits, (unsigned)cases[i].wait);
		if (cases[i].wait)
			assert_int_equal(cb.waits[0], cb.b.len);
		imap_cmdbuf_release(&cb);
	}
}

/* Write one mailbox argument; NULL when refused (and nothing written). */
static const char *mailbox(int utf8_ok, const char *name)
{
	static char out[256];
	struct imap_cmdbuf cb;
	const char *ret = out;

	imap_cmdbuf_init(&cb, IMAP_LITERAL_PLUS);
	cb.utf8_ok = utf8_ok;
	imap_cmd_raw(&cb, "SELECT ");
	if (imap_cmd_mailbox(&cb, name) < 0) {
		assert_string_equal(cb.b.p, "SELECT ");
		ret = NULL;
	} else {
		assert_true(cb.b.len - 7 < sizeof(out));
		memcpy(out, cb.b.p + 7, cb.b.len - 7 + 1);
	}
	imap_cmdbuf_release(&cb);
	return ret;
}

static void test_mailbox(void **state)
{
	(void)state;
	assert_string_equal(mailbox(0, "INBOX"), "INBOX");
	assert_string_equal(mailbox(0, "inbox"), "INBOX");
	assert_string_equal(mailbox(1, "InBoX"), "INBOX");
	assert_string_equal(mailbox(0, "INBOX/Sub"), "INBOX/Sub");
	assert_string_equal(mailbox(0, "Entw\xc3\xbcrfe"), "Entw&APw-rfe");
	assert_string_equal(mailbox(0, "&"), "&-");
	assert_string_equal(mailbox(0, "\xe5\x8f\xb0\xe5\x8c\x97"), "&U,BTFw-");
	assert_string_equal(mailbox(0, "a b"), "\"a b\"");
	assert_string_equal(mailbox(0, "\"quoted\""), "\"\\\"quoted\\\"\"");
	assert_string_equal(mailbox(0, "Archive/2023/Q1"), "Archive/2023/Q1");
	assert_string_equal(mailbox(0, "Lists.dev.imap"), "Lists.dev.imap");
	assert_string_equal(mailbox(0, "50%*"), "\"50%*\"");
	assert_string_equal(mailbox(0, "Sent Items"), "\"Sent Items\"");
	assert_string_equal(mailbox(0, "a\"b&c"), "\"a\\\"b&-c\"");
	/* a control character is encoded, so it needs no literal */
	assert_string_equal(mailbox(0, "a\tb"), "a&AAk-b");
	/* UTF8=ACCEPT: the name goes as UTF-8, quoted */
	assert_string_equal(mailbox(1, "Entw\xc3\xbcrfe"),
			    "\"Entw\xc3\xbcrfe\"");
	assert_string_equal(mailbox(1, "&"), "&");
	/* not UTF-8: refused in both modes */
	assert_null(mailbox(0, "bad\xff"));
	assert_null(mailbox(1, "bad\xff"));
	assert_null(mailbox(0, "\xc0\xaf"));
	assert_null(mailbox(1, "\xed\xa0\x80"));
}

static void test_raw(void **state)
{
	struct imap_cmdbuf cb;

	(void)state;
	imap_cmdbuf_init(&cb, IMAP_LITERAL_SYNC);
	imap_cmd_raw(&cb, "UID FETCH ");
	imap_cmd_rawf(&cb, "%u:%s (%s)", 17u, "*", "FLAGS");
	assert_string_equal(cb.b.p, "UID FETCH 17:* (FLAGS)");
	assert_int_equal(cb.n_waits, 0);
	imap_cmdbuf_release(&cb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atoms),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_modes),
		cmocka_unit_test(test_literal_header),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_raw),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
