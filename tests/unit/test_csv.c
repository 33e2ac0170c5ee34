/* test_csv.c - the batch CSV reader (sched/csv.h), fed from memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sched/csv.h"

/* Read text as "t.csv"; the batch, or NULL with err and rep set. */
static struct csv_batch *rd(const char *text, int allow_unknown,
			    struct csv_report *rep, struct err *err)
{
	csv_report_release(rep);
	err_clear(err);
	return csv_batch_from_mem(text, strlen(text), "t.csv", allow_unknown,
				  rep, err);
}

/* text is refused; the first error is msg (whole). */
static void refused(const char *text, int allow_unknown, const char *msg)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b = rd(text, allow_unknown, &rep, &err);

	assert_null(b);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_string_equal(err.msg, msg);
	csv_report_release(&rep);
}

static void test_header_forms(void **state)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b;

	(void)state;
	/* any order, any case, spaces around the names, CRLF */
	b = rd(" password ,EMAILADDRESS,\tUserName\r\n"
	       "s3cret,a@example.org,alice\r\n",
	       0, &rep, &err);
	assert_non_null(b);
	assert_int_equal(b->n, 1);
	assert_int_equal(b->rows[0].line, 2);
	assert_string_equal(b->rows[0].email, "a@example.org");
	assert_string_equal(b->rows[0].username, "alice");
	assert_string_equal(b->rows[0].password, "s3cret");
	assert_null(b->rows[0].user_root);
	assert_null(b->rows[0].target_username);
	csv_batch_free(&b);
	assert_null(b);
	/* every known column, LF, no line end at the end */
	b = rd("EmailAddress,UserName,Password,UserRoot,TargetUserName,"
	       "TargetPassword\n"
	       "a@example.org,alice,pw,/root,ta,tp",
	       0, &rep, &err);
	assert_non_null(b);
	assert_string_equal(b->rows[0].user_root, "/root");
	assert_string_equal(b->rows[0].target_username, "ta");
	assert_string_equal(b->rows[0].target_password, "tp");
	assert_int_equal(b->rows[0].n_extra, 0);
	csv_batch_free(&b);
	/* extra columns with allow_unknown: kept with their names */
	b = rd("EmailAddress,UserName,Password, Dept \n"
	       "a@example.org,alice,pw,Sales\n",
	       1, &rep, &err);
	assert_non_null(b);
	assert_int_equal(b->rows[0].n_extra, 1);
	assert_string_equal(b->rows[0].extra[0].name, "Dept");
	assert_string_equal(b->rows[0].extra[0].value, "Sales");
	csv_batch_free(&b);
	csv_report_release(&rep);

	refused("", 0,
		"t.csv:1: the file is empty: give a header row "
		"EmailAddress,UserName,Password and one row per mailbox");
	refused("EmailAddress,UserName\na@b.org,x\n", 0,
		"t.csv:1: required column Password is missing: the header "
		"needs EmailAddress,UserName,Password");
	refused("EmailAddress,UserName,Password,emailaddress\n", 0,
		"t.csv:1: column EmailAddress appears twice: keep one");
	refused("EmailAddress,UserName,Password,Dept\n", 0,
		"t.csv:1: unknown column \"Dept\": remove it, or pass "
		"--allow-unknown-columns");
	refused("EmailAddress,UserName,Password,\n", 1,
		"t.csv:1: column 4 has no name");
	refused("EmailAddress,UserName,Password\n\n\n", 0,
		"t.csv: no mailboxes after the header: add one row per "
		"mailbox");
}

static void test_quoting(void **state)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b;

	(void)state;
	b = rd("EmailAddress,UserName,Password\n"
	       "a@example.org,\"Smith, Al\",\"p\"\"w,\n2\"\n"
	       "\n"
	       "b@example.org,bob,\"\"\n"
	       "c@example.org,carol,x\n",
	       0, &rep, &err);
	/* b's empty password is an error: nothing is returned */
	assert_null(b);
	assert_string_equal(err.msg, "t.csv:5: Password is empty: fill it in");
	b = rd("EmailAddress,UserName,Password\n"
	       "a@example.org,\"Smith, Al\",\"p\"\"w,\n2\"\n"
	       "\n"
	       "c@example.org,carol,x\n",
	       0, &rep, &err);
	assert_non_null(b);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->rows[0].username, "Smith, Al");
	assert_string_equal(b->rows[0].password, "p\"w,\n2");
	/* a quoted line end counts: the next row is on line 5 */
	assert_int_equal(b->rows[0].line, 2);
	assert_int_equal(b->rows[1].line, 5);
	csv_batch_free(&b);
	csv_report_release(&rep);

	refused("EmailAddress,UserName,Password\na@b.org,x,\"open\n", 0,
		"t.csv:2: a quoted field is not closed: add the missing '\"'");
	refused("EmailAddress,UserName,Password\na@b.org,x\"y,z\n", 0,
		"t.csv:2: stray '\"' in a field: quote the whole field and "
		"double the quote");
	refused("EmailAddress,UserName,Password\na@b.org,\"x\"y,z\n", 0,
		"t.csv:2: stray '\"' in a field: quote the whole field and "
		"double the quote");
}

static void test_bom_utf8_separator(void **state)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b;

	(void)state;
	b = rd("\xef\xbb\xbf"
	       "EmailAddress,UserName,Password\n"
	       "j\xc3\xbcrgen@example.org,j\xc3\xbcrgen,pw\n",
	       0, &rep, &err);
	assert_non_null(b);
	assert_string_equal(b->rows[0].email, "j\xc3\xbcrgen@example.org");
	csv_batch_free(&b);
	csv_report_release(&rep);

	refused("EmailAddress;UserName;Password\na@b.org;x;y\n", 0,
		"t.csv:1: the columns are separated by ';', not ',' (a "
		"spreadsheet's regional setting): save the file as "
		"comma-separated CSV (UTF-8)");
	refused("EmailAddress,UserName,Password\na@b.org,\xff,y\n", 0,
		"t.csv: not valid UTF-8: save the file as UTF-8");
	/* overlong and truncated sequences */
	refused("EmailAddress,UserName,Password\na@b.org,\xc0\xaf,y\n", 0,
		"t.csv: not valid UTF-8: save the file as UTF-8");
	refused("EmailAddress,UserName,Password\na@b.org,x,\xe2\x82", 0,
		"t.csv: not valid UTF-8: save the file as UTF-8");
}

static void test_rows(void **state)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b;

	(void)state;
	/* the address is trimmed; the UserName is kept, with a warning */
	b = rd("EmailAddress,UserName,Password\n"
	       "  a@example.org ,\" alice\",pw\n",
	       0, &rep, &err);
	assert_non_null(b);
	assert_string_equal(b->rows[0].email, "a@example.org");
	assert_string_equal(b->rows[0].username, " alice");
	assert_int_equal(rep.n_warnings, 1);
	assert_string_equal(rep.warnings.p,
			    "t.csv:2: UserName \" alice\" begins or ends with "
			    "a space: it is sent as it is; fix the row if that "
			    "is a mistake\n");
	csv_batch_free(&b);
	csv_report_release(&rep);

	refused("EmailAddress,UserName,Password\na@b.org,x\n", 0,
		"t.csv:2: 2 fields where the header has 3: check the commas "
		"(quote fields that hold one)");
	refused("EmailAddress,UserName,Password\nnot-an-address,x,y\n", 0,
		"t.csv:2: EmailAddress \"not-an-address\" is not a valid "
		"address: fix the row");
	refused("EmailAddress,UserName,Password\na@b.org,,y\n", 0,
		"t.csv:2: UserName is empty: fill it in");
	refused("EmailAddress,UserName,Password\na@b,x,y\n", 0,
		"t.csv:2: EmailAddress \"a@b\" is not a valid address: fix "
		"the row");
}

/* A CSV with a header and field (1-based column col of 3) of n bytes of c. */
static char *with_field(size_t n, char c, int col)
{
	struct buf t = BUF_INIT;
	size_t i;

	buf_addstr(&t, "EmailAddress,UserName,Password\n");
	if (col == 1) {
		for (i = 0; i < n; i++)
			buf_addch(&t, c);
		buf_addstr(&t, "@example.org,u,p\n");
	} else {
		buf_addstr(&t, "a@example.org,");
		if (col == 3)
			buf_addstr(&t, "u,");
		for (i = 0; i < n; i++)
			buf_addch(&t, c);
		buf_addstr(&t, col == 2 ? ",p\n" : "\n");
	}
	return buf_detach(&t, NULL);
}

static void test_caps(void **state)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b;
	struct buf t = BUF_INIT;
	char *s;
	size_t i;

	(void)state;
	/* 1024 bytes is a field's limit, 1025 is over */
	s = with_field(1024, 'u', 2);
	b = rd(s, 0, &rep, &err);
	assert_non_null(b);
	csv_batch_free(&b);
	free(s);
	s = with_field(1025, 'p', 3);
	refused(s, 0, "t.csv:2: Password is 1025 bytes; the limit is 1024");
	free(s);
	/* an address: 320 bytes ("@example.org" is 12) */
	s = with_field(308, 'a', 1);
	b = rd(s, 0, &rep, &err);
	assert_non_null(b);
	csv_batch_free(&b);
	free(s);
	s = with_field(309, 'a', 1);
	refused(s, 0, "t.csv:2: EmailAddress is 321 bytes; the limit is 320");
	free(s);
	/* a column name */
	buf_addstr(&t, "EmailAddress,UserName,Password,");
	for (i = 0; i < 1025; i++)
		buf_addch(&t, 'x');
	buf_addstr(&t, "\n");
	refused(t.p, 1,
		"t.csv:1: column 4's name is 1025 bytes; the limit "
		"is 1024");
	/* 33 extra columns */
	buf_reset(&t);
	buf_addstr(&t, "EmailAddress,UserName,Password");
	for (i = 0; i < 33; i++)
		buf_addf(&t, ",X%zu", i);
	buf_addstr(&t, "\n");
	refused(t.p, 1,
		"t.csv:1: 33 extra columns; the limit is 32: drop "
		"the columns no template uses");
	/* extra names over 1 KiB together */
	buf_reset(&t);
	buf_addstr(&t, "EmailAddress,UserName,Password");
	for (i = 0; i < 3; i++) {
		buf_addstr(&t, ",");
		for (size_t k = 0; k < 400; k++)
			buf_addch(&t, (char)('a' + i));
	}
	buf_addstr(&t, "\n");
	refused(t.p, 1,
		"t.csv:1: the extra columns' names are 1200 bytes "
		"together; the limit is 1024: shorten them or drop the "
		"columns no template uses");
	/* the file's size, before anything is parsed */
	b = csv_batch_from_mem("x", CSV_MAX_BYTES + 1, "t.csv", 0, &rep, &err);
	assert_null(b);
	assert_int_equal(err.code, EC_TOO_BIG);
	assert_string_equal(err.msg, "t.csv: 10485761 bytes, over the 10 MB "
				     "limit: split it into several batches");
	/* rows: 50,000 fit, one more does not */
	buf_release(&t);
	t = (struct buf)BUF_INIT;
	buf_addstr(&t, "EmailAddress,UserName,Password\n");
	for (i = 0; i < CSV_MAX_ROWS; i++)
		buf_addf(&t, "u%zu@e.org,u,p\n", i);
	b = rd(t.p, 0, &rep, &err);
	assert_non_null(b);
	assert_int_equal(b->n, CSV_MAX_ROWS);
	csv_batch_free(&b);
	buf_addstr(&t, "last@e.org,u,p\n");
	refused(t.p, 0,
		"t.csv:50002: more than 50000 rows: split the file "
		"into several batches");
	buf_release(&t);
	csv_report_release(&rep);
}

static void test_duplicates_and_error_list(void **state)
{
	struct csv_report rep = {BUF_INIT, BUF_INIT, 0, 0};
	struct err err = ERR_INIT;
	struct csv_batch *b;
	struct buf t = BUF_INIT;
	unsigned i;

	(void)state;
	/* case-insensitive, and both lines named */
	b = rd("EmailAddress,UserName,Password\n"
	       "a@example.org,a,p\n"
	       "b@example.org,b,p\n"
	       "A@Example.ORG,c,p\n",
	       0, &rep, &err);
	assert_null(b);
	assert_string_equal(err.msg, "t.csv:4: A@Example.ORG is already on "
				     "line 2: each mailbox once per batch");
	assert_int_equal(rep.n_errors, 1);
	/* every row's error, in file order, first in err */
	b = rd("EmailAddress,UserName,Password\n"
	       "a@example.org,,p\n"
	       "bad,b,p\n"
	       "c@example.org,c\n"
	       "d@example.org,d,p\n"
	       "d@example.org,e,p\n",
	       0, &rep, &err);
	assert_null(b);
	assert_int_equal(rep.n_errors, 4);
	assert_string_equal(err.msg, "t.csv:2: UserName is empty: fill it in");
	assert_string_equal(
		rep.errors.p,
		"t.csv:2: UserName is empty: fill it in\n"
		"t.csv:3: EmailAddress \"bad\" is not a valid address: fix "
		"the row\n"
		"t.csv:4: 2 fields where the header has 3: check the commas "
		"(quote fields that hold one)\n"
		"t.csv:6: d@example.org is already on line 5: each mailbox "
		"once per batch\n");
	/* the list stops at CSV_MAX_ERRORS */
	buf_addstr(&t, "EmailAddress,UserName,Password\n");
	for (i = 0; i < 30; i++)
		buf_addstr(&t, "x,y\n");
	b = rd(t.p, 0, &rep, &err);
	assert_null(b);
	assert_int_equal(rep.n_errors, CSV_MAX_ERRORS);
	assert_non_null(strstr(rep.errors.p, "t.csv:21: 2 fields"));
	assert_null(strstr(rep.errors.p, "t.csv:22:"));
	/* a password never appears in an error */
	b = rd("EmailAddress,UserName,Password\n"
	       "a@example.org,a,hunter2,extra\n",
	       0, &rep, &err);
	assert_null(b);
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(rep.errors.p, "hunter2"));
	/* rep may be NULL */
	err_clear(&err);
	b = csv_batch_from_mem("EmailAddress,UserName,Password\nx,y,z\n", 37,
			       "t.csv", 0, NULL, &err);
	assert_null(b);
	assert_string_equal(err.msg, "t.csv:2: EmailAddress \"x\" is not a "
				     "valid address: fix the row");
	buf_release(&t);
	csv_report_release(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_forms),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_bom_utf8_separator),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_duplicates_and_error_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
