/* test_plan.c - folder mapping and --include/--exclude-folders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sync/plan.h"

static struct store_folder_list mklist(const char *const *names,
				       const enum store_special *sp, size_t n)
{
	struct store_folder_list l;
	size_t i;

	l.v = calloc(n, sizeof(*l.v));
	l.n = n;
	for (i = 0; i < n; i++) {
		l.v[i].name = strdup(names[i]);
		l.v[i].special = sp ? sp[i] : STORE_SPECIAL_NONE;
	}
	return l;
}

static const char *dst_of(const struct sync_plan *p, const char *src)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].src, src) == 0)
			return p->v[i].dst;
	fail_msg("no plan entry for %s", src);
	return NULL;
}

static void test_filter_parse_errors(void **state)
{
	struct sync_filter f;
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(sync_filter_parse("Junk,,Archive", &f, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_int_equal(sync_filter_parse("#Nope#", &f, &err), -1);
	assert_non_null(strstr(err.msg, "#Nope#"));
	assert_int_equal(
		sync_filter_parse(" Junk , #DeletedItems#,Archive/*", &f, &err),
		0);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.pat[0], "Junk");
	sync_filter_release(&f);
}

static void test_filter_match(void **state)
{
	struct sync_filter f;
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(
		sync_filter_parse("junk,#DeletedItems#,Archive/*", &f, &err),
		0);
	assert_true(sync_filter_match(&f, "Junk", STORE_SPECIAL_NONE));
	assert_false(sync_filter_match(&f, "Junk2", STORE_SPECIAL_NONE));
	assert_true(sync_filter_match(&f, "Papierkorb", STORE_SPECIAL_TRASH));
	assert_true(sync_filter_match(&f, "Archive", STORE_SPECIAL_NONE));
	assert_true(
		sync_filter_match(&f, "archive/2019/Q1", STORE_SPECIAL_NONE));
	assert_false(sync_filter_match(&f, "Archived", STORE_SPECIAL_NONE));
	assert_false(sync_filter_match(&f, "INBOX", STORE_SPECIAL_INBOX));
	sync_filter_release(&f);
}

static void test_plan_mapping(void **state)
{
	static const char *const src_names[] = {
		"INBOX",    "Sent Items", "Deleted Items", "Work/Projects/a.b",
		"Entwürfe", "Junk",	  "Lists/Sent",
	};
	static const enum store_special src_sp[] = {
		STORE_SPECIAL_INBOX, STORE_SPECIAL_SENT,   STORE_SPECIAL_TRASH,
		STORE_SPECIAL_NONE,  STORE_SPECIAL_DRAFTS, STORE_SPECIAL_JUNK,
		STORE_SPECIAL_NONE,
	};
	static const char *const dst_names[] = {"INBOX", "Gesendet"};
	static const enum store_special dst_sp[] = {STORE_SPECIAL_INBOX,
						    STORE_SPECIAL_SENT};
	struct store_folder_list src = mklist(src_names, src_sp, 7);
	struct store_folder_list dst = mklist(dst_names, dst_sp, 2);
	struct sync_filter ex;
	struct sync_plan plan;
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(sync_filter_parse("#JunkEmail#", &ex, &err), 0);
	sync_plan_build(&src, &dst, '.', NULL, &ex, &plan);
	assert_int_equal(plan.n, 7);
	assert_string_equal(dst_of(&plan, "INBOX"), "INBOX");
	/* the target's own \Sent folder wins over the well-known name */
	assert_string_equal(dst_of(&plan, "Sent Items"), "Gesendet");
	assert_string_equal(dst_of(&plan, "Deleted Items"), "Trash");
	assert_string_equal(dst_of(&plan, "Entwürfe"), "Drafts");
	/* a '.' inside a level never splits it on a '.'-delimited target */
	assert_string_equal(dst_of(&plan, "Work/Projects/a.b"),
			    "Work/Projects/a_b");
	assert_null(dst_of(&plan, "Junk"));
	assert_string_equal(dst_of(&plan, "Lists/Sent"), "Lists/Sent");
	sync_plan_release(&plan);

	/* on a '/' target the '.' stays */
	sync_plan_build(&src, &dst, '/', NULL, NULL, &plan);
	assert_string_equal(dst_of(&plan, "Work/Projects/a.b"),
			    "Work/Projects/a.b");
	assert_string_equal(dst_of(&plan, "Junk"), "Junk");
	sync_plan_release(&plan);
	sync_filter_release(&ex);
	store_folder_list_free(&src);
	store_folder_list_free(&dst);
}

static void test_plan_include(void **state)
{
	static const char *const names[] = {"INBOX", "Work", "Work/A",
					    "Private"};
	struct store_folder_list src = mklist(names, NULL, 4);
	struct sync_filter inc;
	struct sync_plan plan;
	struct err err = ERR_INIT;

	(void)state;
	src.v[0].special = STORE_SPECIAL_INBOX;
	assert_int_equal(sync_filter_parse("#Inbox#,Work/*", &inc, &err), 0);
	sync_plan_build(&src, NULL, '/', &inc, NULL, &plan);
	assert_string_equal(dst_of(&plan, "INBOX"), "INBOX");
	assert_string_equal(dst_of(&plan, "Work/A"), "Work/A");
	assert_null(dst_of(&plan, "Private"));
	sync_plan_release(&plan);
	sync_filter_release(&inc);
	store_folder_list_free(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_parse_errors),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_plan_mapping),
		cmocka_unit_test(test_plan_include),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
