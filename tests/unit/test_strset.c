/* test_strset.c - the string set (util/strset.h): order indices, the case
 * rule, many keys, forced collisions, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/strset.h"

static void test_add_find(void **state)
{
	struct strset s;
	size_t idx = 99;

	(void)state;
	strset_init(&s, 0);
	assert_int_equal(strset_find(&s, "a", &idx), 0); /* empty set */
	assert_int_equal(strset_add(&s, "a", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(strset_add(&s, "b", &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(strset_add(&s, "", &idx), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(strset_add(&s, "a", &idx), 1);
	assert_int_equal(idx, 0); /* the first one's index */
	assert_int_equal(strset_add(&s, "", NULL), 1);
	assert_int_equal(strset_find(&s, "b", &idx), 1);
	assert_int_equal(idx, 1);
	assert_int_equal(strset_find(&s, "c", NULL), 0);
	assert_int_equal(strset_count(&s), 3);
	strset_free(&s);
	assert_int_equal(strset_count(&s), 0);
	assert_int_equal(strset_find(&s, "a", NULL), 0);
	strset_free(&s); /* twice is harmless */
}

static void test_keys_are_copied(void **state)
{
	struct strset s;
	char k[16];

	(void)state;
	strset_init(&s, 0);
	snprintf(k, sizeof(k), "INBOX");
	strset_add(&s, k, NULL);
	k[0] = 'X';
	assert_int_equal(strset_find(&s, "INBOX", NULL), 1);
	assert_int_equal(strset_find(&s, k, NULL), 0);
	strset_free(&s);
}

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

/* NOCASE is strcasecmp in the C locale: ASCII letters only. */
static void test_case_rule(void **state)
{
	struct strset ci, cs;
	size_t idx;
	static const char alpha[] = {'a', 'A', 'z',    'Z',    '@',    '[',
				     '`', '{', '\xc3', '\x89', '\xa9', '.'};
	unsigned seed = 7;
	int i, j;

	(void)state;
	strset_init(&ci, STRSET_NOCASE);
	strset_init(&cs, 0);
	assert_int_equal(strset_add(&ci, "Terry.Adams@Contoso.EDU", NULL), 0);
	assert_int_equal(strset_add(&ci, "terry.adams@contoso.edu", &idx), 1);
	assert_int_equal(idx, 0);
	assert_int_equal(strset_add(&cs, "Terry.Adams@Contoso.EDU", NULL), 0);
	assert_int_equal(strset_add(&cs, "terry.adams@contoso.edu", NULL), 0);
	/* '@' (0x40) and '`' (0x60), '[' and '{' differ by 32 but are not
	 * letters; nor are the bytes of UTF-8 letters (É vs é) */
	assert_int_equal(strset_add(&ci, "@", NULL), 0);
	assert_int_equal(strset_add(&ci, "`", NULL), 0);
	assert_int_equal(strset_add(&ci, "[", NULL), 0);
	assert_int_equal(strset_add(&ci, "{", NULL), 0);
	assert_int_equal(strset_add(&ci, "\xc3\x89", NULL), 0);
	assert_int_equal(strset_add(&ci, "\xc3\xa9", NULL), 0);
	strset_free(&ci);
	strset_free(&cs);
	/* random short strings: same key in the set iff strcasecmp says so */
	for (i = 0; i < 5000; i++) {
		char a[5], b[5];
		int la = 1 + (int)(rnd(&seed) % 4), lb;
		for (j = 0; j < la; j++)
			a[j] = alpha[rnd(&seed) % sizeof(alpha)];
		a[la] = '\0';
		if (rnd(&seed) % 2) { /* a with some letters' case flipped */
			lb = la;
			for (j = 0; j < la; j++)
				b[j] = (char)((a[j] | 32) >= 'a' &&
							      (a[j] | 32) <=
								      'z' &&
							      rnd(&seed) % 2
						      ? a[j] ^ 32
						      : a[j]);
		} else {
			lb = 1 + (int)(rnd(&seed) % 4);
			for (j = 0; j < lb; j++)
				b[j] = alpha[rnd(&seed) % sizeof(alpha)];
		}
		b[lb] = '\0';
		strset_init(&ci, STRSET_NOCASE);
		strset_add(&ci, a, NULL);
		assert_int_equal(strset_add(&ci, b, NULL),
				 strcasecmp(a, b) == 0);
		strset_free(&ci);
	}
}

static void many(struct strset *s, size_t n)
{
	char k[64];
	size_t i, idx;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "user%zu@contoso.edu", i);
		assert_int_equal(strset_add(s, k, &idx), 0);
		assert_int_equal(idx, i);
		/* growth: a power of two, at most half full */
		assert_true(s->cap >= 2 * s->n);
		assert_int_equal(s->cap & (s->cap - 1), 0);
	}
	assert_int_equal(strset_count(s), n);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "USER%zu@Contoso.edu", i);
		assert_int_equal(strset_add(s, k, &idx), 1);
		assert_int_equal(idx, i);
		snprintf(k, sizeof(k), "user%zu@contoso.edu.", i);
		assert_int_equal(strset_find(s, k, NULL), 0);
	}
	assert_int_equal(strset_count(s), n);
}

static void test_many_keys(void **state)
{
	struct strset s;

	(void)state;
	strset_init(&s, STRSET_NOCASE);
	many(&s, 100000);
	strset_free(&s);
}

static uint64_t same_hash(const char *key, int nocase)
{
	(void)key;
	(void)nocase;
	return 42;
}

/* Every key in one probe chain: still right, only slower. */
static void test_collisions(void **state)
{
	struct strset s;

	(void)state;
	strset_init(&s, STRSET_NOCASE);
	s.hash = same_hash;
	many(&s, 1500);
	/* prefixes of one another are different keys */
	assert_int_equal(strset_add(&s, "ab", NULL), 0);
	assert_int_equal(strset_add(&s, "abc", NULL), 0);
	assert_int_equal(strset_add(&s, "a", NULL), 0);
	assert_int_equal(strset_add(&s, "AB", NULL), 1);
	strset_free(&s);
}

static void test_hash(void **state)
{
	(void)state;
	assert_true(strset_hash("Mixed.Case@Example.ORG", 1) ==
		    strset_hash("mixed.case@example.org", 1));
	assert_true(strset_hash("Mixed.Case@Example.ORG", 0) !=
		    strset_hash("mixed.case@example.org", 0));
	/* the length is hashed: a trailing run of NUL-like padding is not
	 * the same key */
	assert_true(strset_hash("abcdefgh", 0) != strset_hash("abcdefg", 0));
	assert_true(strset_hash("", 0) != strset_hash("a", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find),
		cmocka_unit_test(test_keys_are_copied),
		cmocka_unit_test(test_case_rule),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
