/* test_imap_format.c - the pure IMAP formatting of store/imap_format.c
 * beside INTERNALDATE (test_internaldate.c): FLAGS lists read and
 * written, PERMANENTFLAGS, and the header fields of a report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "store/imap_format.h"

static struct imap_arg atom(const char *s)
{
	struct imap_arg a;

	memset(&a, 0, sizeof(a));
	a.type = IMAP_ARG_ATOM;
	a.str.p = s;
	a.str.len = strlen(s);
	return a;
}

static void test_flags_parse(void **state)
{
	struct imap_arg v[8], list;
	struct store_msg m;

	(void)state;
	v[0] = atom("\\Seen");
	v[1] = atom("\\ANSWERED");
	v[2] = atom("$Label1");
	v[3] = atom("\\Recent");
	v[4] = atom("\\flagged");
	v[5] = atom("\\Draft");
	v[6] = atom("\\Deleted");
	v[7] = atom("NonJunk");
	memset(&list, 0, sizeof(list));
	list.type = IMAP_ARG_LIST;
	list.list = v;
	list.list_count = 8;
	memset(&m, 0, sizeof(m));
	m.keywords = strdup("old");
	imap_flags_parse(&list, &m);
	assert_int_equal(m.flags, STORE_SEEN | STORE_ANSWERED | STORE_FLAGGED |
					  STORE_DRAFT | STORE_DELETED);
	assert_string_equal(m.keywords, "$Label1 NonJunk");
	/* no keyword: NULL, not "" */
	list.list_count = 2;
	imap_flags_parse(&list, &m);
	assert_int_equal(m.flags, STORE_SEEN | STORE_ANSWERED);
	assert_null(m.keywords);
}

static void test_flags_format(void **state)
{
	struct store_msg m;
	struct buf out = BUF_INIT, dropped = BUF_INIT;
	char kw[] = "$Label1 bad(kw  Junk \"q\" $Label1";

	(void)state;
	memset(&m, 0, sizeof(m));
	imap_flags_format(&m, NULL, &out, NULL);
	assert_string_equal(out.p, "()");
	buf_reset(&out);
	m.flags = STORE_SEEN | STORE_DRAFT | STORE_DELETED;
	m.keywords = kw;
	/* any keyword kept: the ones that are no atom are left out */
	imap_flags_format(&m, NULL, &out, &dropped);
	assert_string_equal(out.p,
			    "(\\Seen \\Draft \\Deleted $Label1 Junk $Label1)");
	assert_int_equal(dropped.len, 0);
	buf_reset(&out);
	/* the folder keeps only Junk: $Label1 named once in dropped */
	imap_flags_format(&m, "NonJunk junk", &out, &dropped);
	assert_string_equal(out.p, "(\\Seen \\Draft \\Deleted Junk)");
	assert_string_equal(dropped.p, "$Label1");
	buf_reset(&out);
	m.flags = 0;
	imap_flags_format(&m, "", &out, NULL);
	assert_string_equal(out.p, "()");
	buf_release(&out);
	buf_release(&dropped);
}

static void test_permanentflags(void **state)
{
	static const struct {
		const char *in;
		int any;
		const char *kw;
	} t[] = {
		{"(\\Seen \\Answered $Label1 \\*)", 1, "$Label1"},
		{"(\\Seen $A $B)", 0, "$A $B"},
		{"()", 0, ""},
		{"", 0, ""},
		{"(\\* NonJunk", 1, "NonJunk"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *kw = NULL;
		int any = -1;
		imap_permanentflags_parse(t[i].in, strlen(t[i].in), &any, &kw);
		assert_int_equal(any, t[i].any);
		assert_string_equal(kw, t[i].kw);
		free(kw);
	}
}

static void test_header_summary(void **state)
{
	static const char h[] = "subject:  Hello there \r\n"
				"X-Other: no\r\n"
				"From:\tA <a@example.org>\r\n"
				"Subject: second\r\n"
				"DATE: Mon, 1 Jan 2024 00:00:00 +0000";
	char *v[3] = {NULL, NULL, NULL};
	char *pre = strdup("kept");
	size_t i;

	(void)state;
	imap_header_summary(h, strlen(h), v);
	assert_string_equal(v[0], "Hello there");
	assert_string_equal(v[1], "A <a@example.org>");
	assert_string_equal(v[2], "Mon, 1 Jan 2024 00:00:00 +0000");
	for (i = 0; i < 3; i++) {
		free(v[i]);
		v[i] = NULL;
	}
	/* a value already found stays; a line without a colon is none */
	v[0] = pre;
	imap_header_summary("Subject: x\nFrom no colon\n", 25, v);
	assert_ptr_equal(v[0], pre);
	assert_null(v[1]);
	assert_null(v[2]);
	free(pre);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_parse),
		cmocka_unit_test(test_flags_format),
		cmocka_unit_test(test_permanentflags),
		cmocka_unit_test(test_header_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
