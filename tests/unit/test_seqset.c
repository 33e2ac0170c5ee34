/* test_seqset.c - UID sets: building with a byte cap (every piece under
 * it, nothing lost), parsing what servers send (strict), counting and
 * expanding without overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"

static void test_build(void **state)
{
	static const uint32_t uids[] = {1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 100};
	static const uint32_t top[] = {4294967294u, 4294967295u};
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(seqset_build(uids, 11, 1000, &b), 11);
	assert_string_equal(b.p, "1:5,7,9:12,100");
	buf_reset(&b);
	/* "1:5,7" is 5 bytes; ",9:12" would make 10 */
	assert_int_equal(seqset_build(uids, 11, 9, &b), 6);
	assert_string_equal(b.p, "1:5,7");
	buf_reset(&b);
	assert_int_equal(seqset_build(uids, 11, 10, &b), 10);
	assert_string_equal(b.p, "1:5,7,9:12");
	buf_reset(&b);
	/* always at least one, even over the cap */
	assert_int_equal(seqset_build(uids + 10, 1, 1, &b), 1);
	assert_string_equal(b.p, "100");
	buf_reset(&b);
	assert_int_equal(seqset_build(uids, 0, 100, &b), 0);
	assert_string_equal(b.p, "");
	/* the cap counts from where the set starts, not the buffer */
	buf_addstr(&b, "UID FETCH ");
	assert_int_equal(seqset_build(uids, 11, 3, &b), 5);
	assert_string_equal(b.p, "UID FETCH 1:5");
	buf_reset(&b);
	assert_int_equal(seqset_build(top, 2, 100, &b), 2);
	assert_string_equal(b.p, "4294967294:4294967295");
	buf_release(&b);
}

/* Build a big scattered set in pieces of at most cap bytes, parse each
 * piece back: every UID once, in order, no piece over the cap. */
static void test_build_split_roundtrip(void **state)
{
	enum { N = 20000 };
	uint32_t *uids = malloc(N * sizeof(*uids)), u = 0;
	size_t i, done = 0, pieces = 0;
	const size_t cap = 200;

	(void)state;
	srand(7);
	for (i = 0; i < N; i++) {
		u += 1 + (rand() % 3 == 0 ? (uint32_t)rand() % 50000 : 0);
		uids[i] = u;
	}
	while (done < N) {
		struct buf b = BUF_INIT;
		struct seqset_range *r;
		uint32_t *back;
		size_t nr, nb, used;
		const char *error;

		used = seqset_build(uids + done, N - done, cap, &b);
		assert_true(used > 0);
		assert_true(b.len <= cap);
		assert_int_equal(seqset_parse(b.p, b.len, 0, &r, &nr, &error),
				 0);
		assert_int_equal(seqset_count(r, nr), used);
		assert_int_equal(seqset_expand(r, nr, used, &back, &nb), 0);
		assert_int_equal(nb, used);
		assert_memory_equal(back, uids + done, used * sizeof(*back));
		free(back);
		free(r);
		buf_release(&b);
		done += used;
		pieces++;
	}
	assert_true(pieces > 10);
	free(uids);
}

static void test_parse(void **state)
{
	struct seqset_range *r;
	size_t n;
	const char *error = NULL;

	(void)state;
	assert_int_equal(seqset_parse("1:5,7,9:12", 10, 0, &r, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].lo, 1);
	assert_int_equal(r[0].hi, 5);
	assert_int_equal(r[1].lo, 7);
	assert_int_equal(r[1].hi, 7);
	assert_int_equal(r[2].lo, 9);
	assert_int_equal(r[2].hi, 12);
	assert_int_equal(seqset_count(r, n), 10);
	free(r);
	/* "5:3" means 3:5; order of ranges is kept (COPYUID pairs them) */
	assert_int_equal(seqset_parse("20,5:3", 6, 0, &r, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].lo, 20);
	assert_int_equal(r[1].lo, 3);
	assert_int_equal(r[1].hi, 5);
	free(r);
	/* '*' is the given highest UID */
	assert_int_equal(seqset_parse("3:*", 3, 42, &r, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].lo, 3);
	assert_int_equal(r[0].hi, 42);
	free(r);
	assert_int_equal(seqset_parse("*:50", 4, 42, &r, &n, &error), 0);
	assert_int_equal(r[0].lo, 42);
	assert_int_equal(r[0].hi, 50);
	free(r);
	/* the largest number; no trailing NUL needed */
	assert_int_equal(seqset_parse("4294967295,9", 10, 0, &r, &n, &error),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].lo, 4294967295u);
	free(r);
	/* overflow-safe count: the whole UID space, many times */
	assert_int_equal(seqset_parse("1:4294967295,1:4294967295", 25, 0, &r,
				      &n, &error),
			 0);
	assert_true(seqset_count(r, n) == 2 * 4294967295ull);
	free(r);
}

static void test_parse_refuses(void **state)
{
	static const struct {
		const char *s;
		uint32_t star;
	} bad[] = {
		{"", 0},	   {"0", 0},	      {"1:0", 0},
		{"0:5", 0},	   {"01", 0},	      {"1,01", 0},
		{"1,", 0},	   {",1", 0},	      {"1,,2", 0},
		{"1::2", 0},	   {"1:", 0},	      {":1", 0},
		{"1:2:3", 0},	   {"1 2", 0},	      {" 1", 0},
		{"1-3", 0},	   {"a", 0},	      {"-1", 0},
		{"+1", 0},	   {"4294967296", 0}, {"99999999999999999999", 0},
		{"*", 0},	   {"1:*", 0},	      {"**", 7},
		{"1:*:2", 7},	   {"1\n", 0},	      {"1;2", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seqset_range *r = (void *)1;
		size_t n = 99;
		const char *error = NULL;
		if (seqset_parse(bad[i].s, strlen(bad[i].s), bad[i].star, &r,
				 &n, &error) != -1)
			fail_msg("accepted \"%s\"", bad[i].s);
		assert_null(r);
		assert_int_equal(n, 0);
		assert_non_null(error);
	}
}

static void test_expand(void **state)
{
	static const struct seqset_range whole[] = {{1, 4294967295u}};
	static const struct seqset_range top[] = {{4294967294u, 4294967295u},
						  {3, 3}};
	uint32_t *v = (void *)1;
	size_t n = 99;

	(void)state;
	/* a hostile set is refused before any allocation */
	assert_int_equal(seqset_expand(whole, 1, 100000, &v, &n), -1);
	assert_null(v);
	assert_int_equal(n, 0);
	/* the top of the range ends the loop (no wrap to 0) */
	assert_int_equal(seqset_expand(top, 2, 3, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 4294967294u);
	assert_int_equal(v[1], 4294967295u);
	assert_int_equal(v[2], 3);
	free(v);
	assert_int_equal(seqset_expand(top, 2, 2, &v, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_split_roundtrip),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
