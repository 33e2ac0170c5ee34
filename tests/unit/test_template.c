/* test_template.c - per-user templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sched/template.h"

static int expand(const char *t, const char *email, int path, struct buf *out,
		  struct err *err)
{
	static const struct template_var vars[] = {
		{"TargetUserName", "terry"},
		{"Dept", "../etc"},
	};
	buf_reset(out);
	return template_expand(t, email, vars, 2, path, out, err);
}

static void test_expand(void **state)
{
	struct buf out = BUF_INIT;
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(expand("/srv/mail/{domain}/{local}/Maildir",
				"Terry.Adams@Contoso.EDU", 1, &out, &err),
			 0);
	assert_string_equal(out.p, "/srv/mail/contoso.edu/Terry.Adams/Maildir");
	assert_int_equal(
		expand("{email}*migadmin", "terrya@contoso.edu", 0, &out, &err),
		0);
	assert_string_equal(out.p, "terrya@contoso.edu*migadmin");
	assert_int_equal(expand("{targetusername}", "a@b.c", 0, &out, &err), 0);
	assert_string_equal(out.p, "terry");
	assert_int_equal(expand("{{x}}", "a@b.c", 0, &out, &err), 0);
	assert_string_equal(out.p, "{x}");
	buf_release(&out);
}

static void test_errors(void **state)
{
	struct buf out = BUF_INIT;
	struct err err = ERR_INIT;

	(void)state;
	assert_int_equal(expand("{nope}", "a@b.c", 0, &out, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "{nope}"));
	assert_int_equal(expand("/x/{email", "a@b.c", 0, &out, &err), -1);
	assert_int_equal(expand("/x/}", "a@b.c", 0, &out, &err), -1);
	/* a value may not climb out of a path */
	assert_int_equal(expand("/srv/{Dept}", "a@b.c", 1, &out, &err), -1);
	assert_int_equal(expand("/srv/{local}", "..@b.c", 1, &out, &err), -1);
	assert_int_equal(expand("/srv/{Dept}", "a@b.c", 0, &out, &err), 0);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
