/* test_csv.c - the batch CSV: the seed's example files, every RFC 4180
 * shape, and each rejection with its exact file:line, never quoting a
 * password; the row and byte limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/csv.h"
#include "util/buf.h"

static struct csv_batch *load(const char *text, int allow_unknown)
{
	struct err err = ERR_INIT;
	struct csv_batch *b = csv_batch_from_mem(text, strlen(text), "u.csv",
						 allow_unknown, &err);

	if (b == NULL)
		fail_msg("refused: %s", err.msg);
	return b;
}

/* Expect text refused with exactly the message want (ERR_USAGE). */
static void refused(const char *text, size_t len, int allow_unknown,
		    const char *want)
{
	struct err err = ERR_INIT;
	struct csv_batch *b =
		csv_batch_from_mem(text, len, "u.csv", allow_unknown, &err);

	if (b != NULL)
		fail_msg("accepted, want \"%s\"", want);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_string_equal(err.msg, want);
	/* every password of these tests is S3cret or pw... */
	assert_null(strstr(err.msg, "S3cret"));
	assert_null(strstr(err.msg, "pw"));
}

static void refuse(const char *text, const char *want)
{
	refused(text, strlen(text), 0, want);
}

static void test_seed_files(void **state)
{
	struct csv_batch *b;

	(void)state;
	b = load("EmailAddress,UserName,Password\n"
		 "terrya@contoso.edu,terry.adams,1091990\n"
		 "annb@contoso.edu,ann.beebe,2111991\n"
		 "paulc@contoso.edu,paul.cannon,3281986\n",
		 0);
	assert_int_equal(b->n, 3);
	assert_string_equal(b->rows[0].email, "terrya@contoso.edu");
	assert_string_equal(b->rows[0].username, "terry.adams");
	assert_string_equal(b->rows[0].password, "1091990");
	assert_null(b->rows[0].user_root);
	assert_null(b->rows[0].target_username);
	assert_null(b->rows[0].target_password);
	assert_int_equal(b->rows[0].n_extra, 0);
	assert_int_equal(b->rows[0].line, 2);
	assert_string_equal(b->rows[2].email, "paulc@contoso.edu");
	assert_int_equal(b->rows[2].line, 4);
	csv_batch_free(&b);
	assert_null(b);
	/* Exchange */
	b = load("EmailAddress,UserName,Password\n"
		 "terrya@contoso.edu,contoso-students/mailadmin/terry.adams,"
		 "P@ssw0rd\n"
		 "annb@contoso.edu,contoso-students/mailadmin/ann.beebe,"
		 "P@ssw0rd\n",
		 0);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->rows[1].username,
			    "contoso-students/mailadmin/ann.beebe");
	assert_string_equal(b->rows[1].password, "P@ssw0rd");
	csv_batch_free(&b);
	/* Dovecot master user */
	b = load("EmailAddress,UserName,Password\n"
		 "terrya@contoso.edu,terry.adams*mailadmin,P@ssw0rd\n",
		 0);
	assert_string_equal(b->rows[0].username, "terry.adams*mailadmin");
	csv_batch_free(&b);
	/* Mirapoint */
	b = load("EmailAddress,UserName,Password\n"
		 "terrya@contoso.edu,#terry.adams@contoso-students.edu#"
		 "mailadmin#,P@ssw0rd\n",
		 0);
	assert_string_equal(b->rows[0].username,
			    "#terry.adams@contoso-students.edu#mailadmin#");
	csv_batch_free(&b);
	/* Courier UserRoot */
	b = load("EmailAddress,UserName,Password,UserRoot\n"
		 "terrya@contoso.edu,mailadmin,P@ssw0rd,/users/terry.adams\n"
		 "annb@contoso.edu,mailadmin,P@ssw0rd,/users/ann.beebe\n"
		 "paulc@contoso.edu,mailadmin,P@ssw0rd,/users/paul.cannon\n",
		 0);
	assert_int_equal(b->n, 3);
	assert_string_equal(b->rows[2].user_root, "/users/paul.cannon");
	csv_batch_free(&b);
}

static void test_shapes(void **state)
{
	struct csv_batch *b;

	(void)state;
	/* BOM, CRLF, header case and order shuffled, spaces in the header */
	b = load("\xef\xbb\xbfpassword , USERNAME,emailaddress\r\n"
		 "\"P@ss,\"\"w0rd\"\"\",\"contoso/mailadmin/terry\","
		 "terrya@contoso.edu\r\n"
		 "x,y,annb@contoso.edu\r\n",
		 0);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->rows[0].password, "P@ss,\"w0rd\"");
	assert_string_equal(b->rows[0].username, "contoso/mailadmin/terry");
	assert_string_equal(b->rows[0].email, "terrya@contoso.edu");
	assert_int_equal(b->rows[1].line, 3);
	csv_batch_free(&b);
	/* CR and LF inside quotes; the next row's line counts them */
	b = load("EmailAddress,UserName,Password\n"
		 "a@b.com,x,\"line1\r\nline2\nline3\"\n"
		 "c@d.com,\"\",\"\"\"\"\n",
		 1);
	assert_int_equal(b->n, 1);
	csv_batch_free(&b);
	b = load("EmailAddress,UserName,Password\n"
		 "a@b.com,x,\"line1\r\nline2\nline3\"\n"
		 "c@d.com,y,\"\"\"\"\n",
		 0);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->rows[0].password, "line1\r\nline2\nline3");
	assert_int_equal(b->rows[0].line, 2);
	assert_int_equal(b->rows[1].line, 5);
	assert_string_equal(b->rows[1].password, "\"");
	csv_batch_free(&b);
	/* last line without newline; blank lines and trailing blank lines */
	b = load("EmailAddress,UserName,Password\n\na@b.com,x,y\r\n\r\n"
		 "c@d.com,z,w",
		 0);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->rows[1].password, "w");
	assert_int_equal(b->rows[1].line, 5);
	csv_batch_free(&b);
	b = load("EmailAddress,UserName,Password\na@b.com,x,y\n\n\n\r\n", 0);
	assert_int_equal(b->n, 1);
	csv_batch_free(&b);
	/* spaces around an address are dropped; other values are kept */
	b = load("EmailAddress,UserName,Password\n  a@b.com ,  x , y \n", 0);
	assert_string_equal(b->rows[0].email, "a@b.com");
	assert_string_equal(b->rows[0].username, "  x ");
	assert_string_equal(b->rows[0].password, " y ");
	csv_batch_free(&b);
	/* non-ASCII values */
	b = load("EmailAddress,UserName,Password\n"
		 "j\xc3\xbcrgen@m\xc3\xbcller.de,j\xc3\xbcrgen,p\xc3\xa4ss\n",
		 0);
	assert_string_equal(b->rows[0].password, "p\xc3\xa4ss");
	csv_batch_free(&b);
}

static void test_optional_columns(void **state)
{
	struct csv_batch *b;

	(void)state;
	b = load("TargetPassword,EmailAddress,UserName,Password,"
		 "targetusername,UserRoot\n"
		 "tpw,a@b.com,x,pw,tu,\n",
		 0);
	assert_string_equal(b->rows[0].target_password, "tpw");
	assert_string_equal(b->rows[0].target_username, "tu");
	assert_string_equal(b->rows[0].user_root, ""); /* present, empty */
	csv_batch_free(&b);
	/* unknown columns kept by name when allowed */
	b = load("EmailAddress,Dept,UserName,Password, Cost Center\n"
		 "a@b.com,IT,x,pw,42\n"
		 "c@d.com,,y,pw,\"4,2\"\n",
		 1);
	assert_int_equal(b->rows[0].n_extra, 2);
	assert_string_equal(b->rows[0].extra[0].name, "Dept");
	assert_string_equal(b->rows[0].extra[0].value, "IT");
	assert_string_equal(b->rows[0].extra[1].name, "Cost Center");
	assert_string_equal(b->rows[0].extra[1].value, "42");
	assert_string_equal(b->rows[1].extra[0].value, "");
	assert_string_equal(b->rows[1].extra[1].value, "4,2");
	csv_batch_free(&b);
}

static void test_header_errors(void **state)
{
	(void)state;
	refuse("EmailAddress,UserName\na@b.com,x\n",
	       "u.csv:1: required column Password is missing: the header "
	       "needs EmailAddress,UserName,Password");
	refuse("UserName,Password\nx,S3cret\n",
	       "u.csv:1: required column EmailAddress is missing: the header "
	       "needs EmailAddress,UserName,Password");
	refuse("EmailAddress,UserName,Password,Dept\na@b.com,x,S3cret,IT\n",
	       "u.csv:1: unknown column \"Dept\": remove it, or pass "
	       "--allow-unknown-columns");
	refuse("EmailAddress,UserName,Password,emailaddress\n",
	       "u.csv:1: column EmailAddress appears twice: keep one");
	refused("EmailAddress,UserName,Password,Dept,DEPT\n", 40, 1,
		"u.csv:1: column \"DEPT\" appears twice: keep one");
	refused("EmailAddress,UserName,Password,\na@b.com,x,S3cret,\n", 47, 1,
		"u.csv:1: column 4 has no name: name it or remove it");
	/* a file without a header: its cells are not quoted back */
	refuse("terrya@contoso.edu,terry.adams,S3cret\n",
	       "u.csv:1: no header row: the first line must name the columns, "
	       "e.g. EmailAddress,UserName,Password");
	refuse("", "u.csv:1: the file is empty: give a header row "
		   "EmailAddress,UserName,Password and one row per mailbox");
	refuse("\xef\xbb\xbf",
	       "u.csv:1: the file is empty: give a header row "
	       "EmailAddress,UserName,Password and one row per mailbox");
	refuse("EmailAddress,UserName,Password\r\n\r\n",
	       "u.csv:2: no mailboxes after the header: add one row per "
	       "mailbox");
}

static void test_row_errors(void **state)
{
	(void)state;
	refuse("EmailAddress,UserName,Password\na@b.com,x,S3cret\n"
	       "c@d.com,,S3cret\n",
	       "u.csv:3: UserName is empty: fill it in");
	refuse("EmailAddress,UserName,Password\na@b.com,x,\n",
	       "u.csv:2: Password is empty: fill it in");
	refuse("EmailAddress,UserName,Password\n  ,x,S3cret\n",
	       "u.csv:2: EmailAddress is empty: fill it in");
	refuse("EmailAddress,UserName,Password\na@b.com,x,S3cret\n"
	       "terrya@,x,S3cret\n",
	       "u.csv:3: EmailAddress \"terrya@\" is not a valid address: fix "
	       "the row");
	/* a multi-line row is reported at the line it starts on */
	refuse("EmailAddress,UserName,Password\na@b.com,x,\"S3\ncret\"\n"
	       "c@d.com,x,S3cret\nA@B.COM,y,S3cret\n",
	       "u.csv:5: A@B.COM is already on line 2: each mailbox once per "
	       "batch");
	refuse("EmailAddress,UserName,Password\n\"a@b.com,x,S3cret\nc,d,e\n",
	       "u.csv:2: a quoted field is not closed: add the missing '\"'");
	refuse("EmailAddress,UserName,Password\na@b.com,x,S3cret\n"
	       "c@d.com,x,S3cret,extra\n",
	       "u.csv:3: 4 fields where the header has 3: check the commas "
	       "(quote fields that hold one)");
	refuse("EmailAddress,UserName,Password\na@b.com,x\n",
	       "u.csv:2: 2 fields where the header has 3: check the commas "
	       "(quote fields that hold one)");
	refuse("EmailAddress,UserName,Password\na@b.com,x,S3\"cret\n",
	       "u.csv:2: stray '\"' in a field: quote the whole field and "
	       "double the quote");
	refuse("EmailAddress,UserName,Password\na@b.com,x,\"S3\"cret\n",
	       "u.csv:2: stray '\"' in a field: quote the whole field and "
	       "double the quote");
}

static void test_bad_addresses(void **state)
{
	static const char *const bad[] = {
		"terrya@", "@contoso.edu", "terrya", "a@b@c.com", "a@localhost",
		"a@.com",  "a@b.",	   "a b@c.com", "a@b .com", "a\t@b.com",
		"a@b.com\x7f", "<a@b.com>",
	};
	static const char *const good[] = {
		"a@b.co", "terry.adams+tag@contoso-students.edu", "A@B.COM",
		"x@sub.dom.example",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128], want[256];
		snprintf(text, sizeof(text),
			 "EmailAddress,UserName,Password\n\"%s\",x,S3cret\n",
			 bad[i]);
		snprintf(want, sizeof(want),
			 "u.csv:2: EmailAddress \"%s\" is not a valid address: "
			 "fix the row",
			 bad[i]);
		refuse(text, want);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[128];
		struct csv_batch *b;
		snprintf(text, sizeof(text),
			 "EmailAddress,UserName,Password\n%s,x,S3cret\n",
			 good[i]);
		b = load(text, 0);
		assert_string_equal(b->rows[0].email, good[i]);
		csv_batch_free(&b);
	}
}

static void test_bad_bytes(void **state)
{
	(void)state;
	refuse("EmailAddress,UserName,Password\na@b.com,x,S3cret\n"
	       "c@d.com,y,\xff\xfe\n",
	       "u.csv:3: not valid UTF-8: save the file as UTF-8 text");
	/* overlong, surrogate, above U+10FFFF, truncated at the end */
	refuse("EmailAddress,UserName,Password\na@b.com,\xc0\xaf,S3cret\n",
	       "u.csv:2: not valid UTF-8: save the file as UTF-8 text");
	refuse("EmailAddress,UserName,Password\na@b.com,\xed\xa0\x80,S3\n",
	       "u.csv:2: not valid UTF-8: save the file as UTF-8 text");
	refuse("EmailAddress,UserName,Password\na@b.com,\xf4\x90\x80\x80,S\n",
	       "u.csv:2: not valid UTF-8: save the file as UTF-8 text");
	refuse("EmailAddress,UserName,Password\n\na@b.com,x,S3cret\xe2\x82",
	       "u.csv:3: not valid UTF-8: save the file as UTF-8 text");
	/* a NUL would cut the password short without a word */
	refused("EmailAddress,UserName,Password\na@b.com,x,S3\0cret\n", 48, 0,
		"u.csv:2: a NUL byte: save the file as UTF-8 text");
}

/* header + n rows "uN@contoso.edu,uN,S3cret" */
static char *many_rows(size_t n, size_t *len_r)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_addstr(&b, "EmailAddress,UserName,Password\n");
	for (i = 0; i < n; i++)
		buf_addf(&b, "u%zu@contoso.edu,u%zu,S3cret\n", i, i);
	return buf_detach(&b, len_r);
}

static void test_limits(void **state)
{
	struct err err = ERR_INIT;
	struct csv_batch *b;
	size_t len;
	char *text, *big;

	(void)state;
	text = many_rows(CSV_MAX_ROWS, &len);
	b = csv_batch_from_mem(text, len, "u.csv", 0, &err);
	assert_non_null(b);
	assert_int_equal(b->n, CSV_MAX_ROWS);
	assert_int_equal(b->rows[CSV_MAX_ROWS - 1].line, CSV_MAX_ROWS + 1);
	csv_batch_free(&b);
	free(text);
	text = many_rows(CSV_MAX_ROWS + 1, &len);
	refused(text, len, 0,
		"u.csv:50002: more than 50000 rows: split the file into "
		"several batches");
	csv_batch_free(&b);
	/* duplicates are found among many rows, naming the first */
	text[len - 1] = '\0';
	memcpy(strrchr(text, '\n') + 1, "u7@", 3);
	refused(text, len - 1, 0,
		"u.csv:50002: u7@contoso.edu is already on line 9: each "
		"mailbox once per batch");
	free(text);
	/* the size is checked before anything is parsed: this is not even
	 * UTF-8, yet the message is about the size */
	big = malloc(CSV_MAX_BYTES + 1);
	memset(big, 0xff, CSV_MAX_BYTES + 1);
	b = csv_batch_from_mem(big, CSV_MAX_BYTES + 1, "u.csv", 0, &err);
	assert_null(b);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_int_equal(err.code, EC_TOO_BIG);
	assert_string_equal(err.msg, "u.csv: 10485761 bytes, over the 10 MB "
				     "limit: split it into several batches");
	free(big);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_csv_XXXXXX";
	struct err err = ERR_INIT;
	struct csv_batch *b;
	FILE *fp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("EmailAddress,UserName,Password\na@b.com,x,S3cret\n", fp);
	fclose(fp);
	b = csv_batch_load(path, 0, &err);
	assert_non_null(b);
	assert_string_equal(b->rows[0].password, "S3cret");
	csv_batch_free(&b);
	/* refused by its size alone: a sparse 11 MB file */
	assert_int_equal(truncate(path, 11 * 1024 * 1024), 0);
	b = csv_batch_load(path, 0, &err);
	assert_null(b);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_int_equal(err.code, EC_TOO_BIG);
	assert_non_null(strstr(err.msg, ": 11534336 bytes, over the 10 MB"));
	unlink(path);
	/* unreadable: a local problem, not bad input */
	err_clear(&err);
	b = csv_batch_load(path, 0, &err);
	assert_null(b);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.code, EC_IO);
	assert_non_null(strstr(err.msg, "cannot read /tmp/test_csv_"));
	assert_non_null(strstr(err.msg, "No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_files),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_optional_columns),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_row_errors),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
