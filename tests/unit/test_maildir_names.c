/* test_maildir_names.c - Maildir file names and dovecot-keywords
 * (store/maildir_names.h); cases from fuzz/fuzz_maildir.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/maildir_names.h"

static void test_names(void **state)
{
	const char *name = "1764645123.M123456P4242Q7Tab_c.mail.host,S=2048:2,"
			   "FRS",
		   *t;
	struct buf b = BUF_INIT;
	size_t tl;

	(void)state;
	assert_int_equal(maildir_name_tag(name, &t, &tl), 0);
	assert_int_equal(tl, 4);
	assert_memory_equal(t, "ab_c", 4);
	assert_true(maildir_name_has_size(name, 2048));
	assert_false(maildir_name_has_size(name, 204));
	assert_false(maildir_name_has_size(name, 20480));
	assert_int_equal(maildir_name_base_len(name),
			 strlen(name) - strlen(":2,FRS"));
	assert_int_equal(maildir_name_base_len("x"), 1);
	assert_int_equal(maildir_name_tag("1.M1P1.host,S=1:2,S", &t, &tl), -1);
	maildir_tag_component("a.b/c:d,e", &b);
	assert_string_equal(b.p, "a_b_c_d_e");
	buf_release(&b);
}

static size_t read_kw(const char *text, char *kw[26])
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	size_t n = 0;

	assert_non_null(f);
	maildir_keywords_read(f, kw, &n);
	fclose(f);
	return n;
}

static void test_keywords(void **state)
{
	char *kw[26], file[3000], big[2001];
	size_t n, i;

	(void)state;
	n = read_kw("0 $Forwarded\n2 NonJunk\n26 no\n-1 no\nnospace\n", kw);
	assert_int_equal(n, 3);
	assert_string_equal(kw[0], "$Forwarded");
	assert_string_equal(kw[1], "");
	assert_string_equal(kw[2], "NonJunk");
	for (i = 0; i < n; i++)
		free(kw[i]);
	/* a keyword longer than a 1 KiB line buffer reads back whole, and
	 * its tail is not taken for another line */
	memset(big, 'k', 2000);
	big[2000] = '\0';
	memcpy(big + 1500, "7 x", 3);
	snprintf(file, sizeof(file), "0 %s\n1 $Junk\n", big);
	n = read_kw(file, kw);
	assert_int_equal(n, 2);
	assert_string_equal(kw[0], big);
	assert_string_equal(kw[1], "$Junk");
	for (i = 0; i < n; i++)
		free(kw[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_keywords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
