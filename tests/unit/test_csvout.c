/* test_csvout.c - reports as CSV (cli_print_csv): RFC 4180 quoting, and
 * no field a spreadsheet would run as a formula. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <jansson.h>

#include "cli/cli.h"

static void test_quoting_and_formulas(void **state)
{
	json_t *rows = json_array(), *a = json_object(), *b = json_object();
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	json_object_set_new(a, "subject", json_string("=HYPERLINK(\"x\")"));
	json_object_set_new(a, "size", json_integer(12));
	json_object_set_new(a, "nested", json_array());
	json_object_set_new(b, "subject", json_string("say \"hi\", then"));
	json_object_set_new(b, "size", json_integer(3));
	json_array_append_new(rows, a);
	json_array_append_new(rows, b);
	cli_print_csv(f, rows);
	fclose(f);
	assert_string_equal(out, "\"subject\",\"size\"\r\n"
				 "\"'=HYPERLINK(\"\"x\"\")\",12\r\n"
				 "\"say \"\"hi\"\", then\",3\r\n");
	free(out);
	json_decref(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting_and_formulas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
