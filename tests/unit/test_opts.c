/* test_opts.c - the subcommands' option parser (cli/opts.h): both
 * spellings, the exact names only, unknown and secret options, missing
 * and refused values, repeats, arguments, and the help from the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opts.h"

struct t_opts {
	const char *name, *cb;
	int json, yes, sec, format;
	long long size, count, dur;
};

static int t_cb(void *field, const char *value, const char *cmd)
{
	if (strcmp(value, "bad") == 0)
		return cli_usage_error("%s: --cb %s: not that", cmd, value);
	*(const char **)field = value;
	return 0;
}

static const char *const sec_words[] = {"none", "ssl", "tls", NULL};
static const struct opt t_table[] = {
	OPT_STRING("name", struct t_opts, name, "N", "the name"),
	OPT_FLAG("json", 0, struct t_opts, json, "print JSON"),
	OPT_FLAG("yes", 'y', struct t_opts, yes, "do not ask"),
	OPT_SET_INT("text", struct t_opts, format, 1, "as text"),
	OPT_SET_INT("csv", struct t_opts, format, 2, "as CSV"),
	OPT_NUMBER("max-size", SIZE, struct t_opts, size, "SIZE", 1, 1000000000,
		   NULL, "the largest message"),
	OPT_NUMBER("count", COUNT, struct t_opts, count, "N", 1, 10,
		   ": give 1-10", "how many"),
	OPT_NUMBER("every", DURATION, struct t_opts, dur, "TIME", 1, 1000000,
		   NULL, "how often"),
	OPT_CHOICE("security", struct t_opts, sec, sec_words, NULL,
		   "the connection's security"),
	OPT_CALLBACK("cb", struct t_opts, cb, t_cb, "X", "a callback"),
	OPT_STRING("password-file", struct t_opts, name, "F",
		   "the password's file"),
	OPT_END(),
};
static const struct opts_cmd t_cmd = {
	.name = "t run",
	.group = "t",
	.usage = "t run NAME [options]",
	.opts = t_table,
	.min_args = 1,
	.max_args = 2,
	.notes = "Notes after the options.",
};

/* What a parse printed on stdout and stderr. */
static char out_text[4096], err_text[4096];

static void slurp(FILE *f, char *dst, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(dst, 1, size - 1, f);
	dst[n] = '\0';
	fclose(f);
}

/* Parse args (NULL-terminated, without argv[0]) into *o, zeroed first,
 * with stdout and stderr caught; the arguments left in *nargs. */
static int parse(struct t_opts *o, int *nargs, char **left, ...)
{
	char *argv[32];
	int argc = 0, rc, fd1, fd2;
	FILE *f1 = tmpfile(), *f2 = tmpfile();
	va_list ap;
	const char *a;

	argv[argc++] = (char *)"run";
	va_start(ap, left);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	memset(o, 0, sizeof(*o));
	o->sec = -1;
	*nargs = -1;
	fflush(stdout);
	fflush(stderr);
	fd1 = dup(1);
	fd2 = dup(2);
	dup2(fileno(f1), 1);
	dup2(fileno(f2), 2);
	rc = opts_parse(&t_cmd, o, argc, argv, nargs);
	fflush(stdout);
	fflush(stderr);
	dup2(fd1, 1);
	dup2(fd2, 2);
	close(fd1);
	close(fd2);
	slurp(f1, out_text, sizeof(out_text));
	slurp(f2, err_text, sizeof(err_text));
	if (left != NULL && *nargs > 0)
		memcpy(left, argv, (size_t)*nargs * sizeof(*argv));
	return rc;
}

static void test_spellings(void **state)
{
	struct t_opts o;
	char *left[4];
	int n;

	(void)state;
	/* "--name value" and "--name=value", the same for every kind */
	assert_int_equal(parse(&o, &n, left, "A", "--name", "x", "--max-size",
			       "35M", "--security", "TLS", "--every", "24h",
			       "--cb", "v", NULL),
			 0);
	assert_string_equal(o.name, "x");
	assert_int_equal(o.size, 35 * 1024 * 1024);
	assert_int_equal(o.sec, 2);
	assert_int_equal(o.dur, 86400);
	assert_string_equal(o.cb, "v");
	assert_int_equal(n, 1);
	assert_string_equal(left[0], "A");
	assert_int_equal(parse(&o, &n, left, "--name=x", "--max-size=35M",
			       "--security=tls", "--every=24h", "--cb=v", "A",
			       NULL),
			 0);
	assert_string_equal(o.name, "x");
	assert_int_equal(o.size, 35 * 1024 * 1024);
	assert_int_equal(o.sec, 2);
	assert_int_equal(o.dur, 86400);
	assert_string_equal(o.cb, "v");
	/* an empty value after '=', a value that begins with '-' */
	assert_int_equal(parse(&o, &n, left, "A", "--name=", NULL), 0);
	assert_string_equal(o.name, "");
	assert_int_equal(parse(&o, &n, left, "A", "--name", "-x", NULL), 0);
	assert_string_equal(o.name, "-x");
	/* flags, a short letter, arguments anywhere, "--" */
	assert_int_equal(parse(&o, &n, left, "A", "--json", "-y", "B", NULL),
			 0);
	assert_true(o.json && o.yes);
	assert_int_equal(n, 2);
	assert_string_equal(left[1], "B");
	assert_int_equal(parse(&o, &n, left, "--", "--json", NULL), 0);
	assert_false(o.json);
	assert_string_equal(left[0], "--json");
	assert_int_equal(parse(&o, &n, left, "-", NULL), 0);
	assert_string_equal(left[0], "-");
	assert_string_equal(err_text, "");
}

static void test_repeated(void **state)
{
	struct t_opts o;
	int n;

	(void)state;
	/* the last one counts */
	assert_int_equal(parse(&o, &n, NULL, "A", "--name", "one", "--name=two",
			       "--count", "3", "--count", "4", "--json",
			       "--json", NULL),
			 0);
	assert_string_equal(o.name, "two");
	assert_int_equal(o.count, 4);
	assert_int_equal(o.json, 1);
	/* flags into one field: the last one */
	assert_int_equal(parse(&o, &n, NULL, "A", "--csv", "--text", NULL), 0);
	assert_int_equal(o.format, 1);
	assert_int_equal(parse(&o, &n, NULL, "A", "--text", "--csv", NULL), 0);
	assert_int_equal(o.format, 2);
}

static void test_unknown(void **state)
{
	struct t_opts o;
	int n;

	(void)state;
	assert_int_equal(parse(&o, &n, NULL, "A", "--nope", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: unknown option --nope: "
				      "see 'imapmig help t'\n");
	/* never a prefix: --nam is not --name, --pass not --password-file */
	assert_int_equal(parse(&o, &n, NULL, "A", "--nam", "x", NULL), 2);
	assert_non_null(strstr(err_text, "unknown option --nam:"));
	assert_int_equal(parse(&o, &n, NULL, "A", "--json2", NULL), 2);
	assert_int_equal(parse(&o, &n, NULL, "A", "-yq", NULL), 2);
	assert_non_null(strstr(err_text, "unknown option -yq:"));
	/* an unknown option's value is never printed */
	assert_int_equal(parse(&o, &n, NULL, "A", "--nope=S3cret", NULL), 2);
	assert_null(strstr(err_text, "S3cret"));
	assert_null(o.name);
}

static void test_password(void **state)
{
	static const char *const spellings[] = {"--password", "--passw",
						"--pass", "--password=S3cret"};
	struct t_opts o;
	size_t k;
	int n;

	(void)state;
	for (k = 0; k < sizeof(spellings) / sizeof(spellings[0]); k++) {
		assert_int_equal(
			parse(&o, &n, NULL, "A", spellings[k], "S3cret", NULL),
			2);
		assert_non_null(strstr(err_text, "never taken on the command "
						 "line"));
		assert_null(strstr(err_text, "S3cret"));
		assert_null(strstr(out_text, "S3cret"));
	}
	/* the option that is in the table still works */
	assert_int_equal(parse(&o, &n, NULL, "A", "--password-file", "f", NULL),
			 0);
	assert_string_equal(o.name, "f");
}

static void test_values(void **state)
{
	struct t_opts o;
	int n;

	(void)state;
	/* missing */
	assert_int_equal(parse(&o, &n, NULL, "A", "--name", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: --name needs a value: "
				      "see 'imapmig help t'\n");
	/* a flag takes none */
	assert_int_equal(parse(&o, &n, NULL, "A", "--json=1", NULL), 2);
	assert_non_null(strstr(err_text, "--json takes no value"));
	/* refused, with the table's words or the kind's */
	assert_int_equal(parse(&o, &n, NULL, "A", "--count", "11", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: --count 11: give "
				      "1-10\n");
	assert_int_equal(parse(&o, &n, NULL, "A", "--count=0", NULL), 2);
	assert_int_equal(parse(&o, &n, NULL, "A", "--count", "x", NULL), 2);
	assert_int_equal(parse(&o, &n, NULL, "A", "--max-size", "0", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: --max-size 0: give a "
				      "size such as 35M\n");
	assert_int_equal(
		parse(&o, &n, NULL, "A", "--security", "starttls", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: --security starttls: "
				      "use none, ssl or tls\n");
	assert_int_equal(parse(&o, &n, NULL, "A", "--every", "5x", NULL), 2);
	assert_int_equal(parse(&o, &n, NULL, "A", "--cb", "bad", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: --cb bad: not that\n");
	/* arguments: too many, too few */
	assert_int_equal(parse(&o, &n, NULL, "A", "B", "C", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run: unexpected argument "
				      "'C': see 'imapmig help t'\n");
	assert_int_equal(parse(&o, &n, NULL, "--json", NULL), 2);
	assert_string_equal(err_text, "imapmig: t run NAME [options]\n");
}

static void test_help(void **state)
{
	const struct opts_cmd *one[] = {&t_cmd, NULL};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct t_opts o;
	int n;

	(void)state;
	opts_help(f, one);
	fclose(f);
	assert_non_null(strstr(text, "usage: imapmig t run NAME [options]\n"));
	/* one line per option of the table, with its value's name */
	assert_non_null(strstr(text, "\n  --name N  "));
	assert_non_null(strstr(text, "the name\n"));
	assert_non_null(strstr(text, "\n  -y, --yes  "));
	assert_non_null(strstr(text, "\n  --security none|ssl|tls  "));
	assert_non_null(strstr(text, "\n  --max-size SIZE  "));
	assert_non_null(strstr(text, "the largest message\n"));
	assert_non_null(strstr(text, "\nNotes after the options.\n"));
	/* --help prints the same, on stdout */
	assert_int_equal(parse(&o, &n, NULL, "A", "--help", NULL), OPTS_HELP);
	assert_string_equal(out_text, text);
	assert_int_equal(parse(&o, &n, NULL, "-h", NULL), OPTS_HELP);
	assert_string_equal(out_text, text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
