/* opts.c - the option parser of every subcommand (cli/opts.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "util/buf.h"

/* The field an option writes, in the subcommand's struct. */
static void *field(void *base, const struct opt *o)
{
	return (char *)base + o->off;
}

/* "--name" or "--name=value" or "-y": the table's entry, or NULL. */
static const struct opt *find(const struct opt *opts, const char *arg)
{
	const struct opt *o;

	if (opts == NULL)
		return NULL;
	if (arg[1] != '-') {
		if (arg[2] != '\0')
			return NULL;
		for (o = opts; o->name; o++)
			if (o->short_name != 0 && o->short_name == arg[1])
				return o;
		return NULL;
	}
	/* the whole name, never a prefix of one */
	for (o = opts; o->name; o++) {
		size_t n = strlen(o->name);
		if (strncmp(arg + 2, o->name, n) == 0 &&
		    (arg[2 + n] == '\0' || arg[2 + n] == '='))
			return o;
	}
	return NULL;
}

/* What a refused value is told when the table says nothing. */
static void default_bad(const struct opt *o, struct buf *b)
{
	size_t k;

	switch (o->kind) {
	case OPT_KIND_COUNT: buf_addstr(b, ": give a number"); break;
	case OPT_KIND_SIZE: buf_addstr(b, ": give a size such as 35M"); break;
	case OPT_KIND_DURATION:
		buf_addstr(b, ": give e.g. 24h, 30m or 90s");
		break;
	case OPT_KIND_TIME:
		buf_addstr(b, ": give a time such as '2026-11-30 22:00' (UTC) "
			      "or +2h");
		break;
	case OPT_KIND_CHOICE:
		buf_addstr(b, ": use ");
		for (k = 0; o->choices[k]; k++)
			buf_addf(b, "%s%s",
				 k == 0		     ? ""
				 : o->choices[k + 1] ? ", "
						     : " or ",
				 o->choices[k]);
		break;
	default: break;
	}
}

static int bad_value(const struct opts_cmd *c, const struct opt *o,
		     const char *value)
{
	struct buf b = BUF_INIT;

	if (o->bad != NULL)
		buf_addstr(&b, o->bad);
	else
		default_bad(o, &b);
	cli_usage_error("%s: --%s %s%s", c->name, o->name, value, b.p);
	buf_release(&b);
	return 2;
}

static long long parse_number(enum opt_kind kind, const char *value)
{
	switch (kind) {
	case OPT_KIND_COUNT: return cli_parse_count(value);
	case OPT_KIND_SIZE: return cli_parse_size(value);
	case OPT_KIND_DURATION: return cli_parse_duration(value);
	case OPT_KIND_TIME: return cli_parse_time(value);
	default: return -1;
	}
}

/* Store the value of option o: 0, or the exit code of the error. */
static int take_value(const struct opts_cmd *c, const struct opt *o, void *base,
		      const char *value)
{
	long long v;
	int k;

	switch (o->kind) {
	case OPT_KIND_STRING: *(const char **)field(base, o) = value; return 0;
	case OPT_KIND_CHOICE:
		for (k = 0; o->choices[k]; k++)
			if (strcasecmp(value, o->choices[k]) == 0) {
				*(int *)field(base, o) = k;
				return 0;
			}
		return bad_value(c, o, value);
	case OPT_KIND_CALLBACK: return o->cb(field(base, o), value, c->name);
	default:
		v = parse_number(o->kind, value);
		if (v < 0 || v < o->min || v > o->max)
			return bad_value(c, o, value);
		*(long long *)field(base, o) = v;
		return 0;
	}
}

/* argv[*i], an option: found, given its value (the rest of the word or
 * the next one, *i moved past it) and stored.  0 or an exit code. */
static int take_option(const struct opts_cmd *c, void *base, int argc,
		       char **argv, int *i)
{
	const char *arg = argv[*i], *eq;
	const struct opt *o = find(c->opts, arg);
	char help[64];

	snprintf(help, sizeof(help), "imapmig help %s", c->group);
	if (o == NULL)
		return cli_bad_option(c->name, arg, help);
	eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
	if (o->kind == OPT_KIND_FLAG) {
		if (eq != NULL)
			return cli_usage_error("%s: --%s takes no value: see "
					       "'%s'",
					       c->name, o->name, help);
		*(int *)field(base, o) = o->value ? o->value : 1;
		return 0;
	}
	if (eq == NULL && *i + 1 >= argc)
		return cli_usage_error("%s: --%s needs a value: see '%s'",
				       c->name, o->name, help);
	return take_value(c, o, base, eq != NULL ? eq + 1 : argv[++*i]);
}

int opts_parse(const struct opts_cmd *c, void *base, int argc, char **argv,
	       int *nargs_r)
{
	int i, n = 0, only_args = 0, rc;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (only_args || arg[0] != '-' || arg[1] == '\0') {
			argv[n++] = argv[i]; /* n < i: not read again */
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_args = 1;
		} else if (strcmp(arg, "--help") == 0 ||
			   strcmp(arg, "-h") == 0) {
			const struct opts_cmd *one[] = {c, NULL};
			opts_help(stdout, one);
			return OPTS_HELP;
		} else if ((rc = take_option(c, base, argc, argv, &i)) != 0) {
			return rc;
		}
	}
	if (n > c->max_args)
		return cli_usage_error("%s: unexpected argument '%s': see "
				       "'imapmig help %s'",
				       c->name, argv[c->max_args], c->group);
	if (n < c->min_args)
		return cli_usage_error("%s", c->usage);
	*nargs_r = n;
	return 0;
}

/* "  -y, --yes" or "  --port N" or "  --security none|ssl|tls". */
static void opt_left(const struct opt *o, struct buf *b)
{
	size_t k;

	buf_addstr(b, "  ");
	if (o->short_name)
		buf_addf(b, "-%c, ", o->short_name);
	buf_addf(b, "--%s", o->name);
	if (o->kind == OPT_KIND_CHOICE) {
		for (k = 0; o->choices[k]; k++)
			buf_addf(b, "%c%s", k ? '|' : ' ', o->choices[k]);
	} else if (o->kind != OPT_KIND_FLAG) {
		buf_addf(b, " %s", o->argh ? o->argh : "VALUE");
	}
}

#define HELP_COLUMN 30
#define HELP_WIDTH  80

/* text from column col on, its words wrapped before HELP_WIDTH onto
 * lines that begin at HELP_COLUMN. */
static void help_wrap(FILE *f, const char *text, size_t col)
{
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, " ");
		if (col > HELP_COLUMN && col + 1 + n >= HELP_WIDTH) {
			fprintf(f, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (col > HELP_COLUMN) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += n;
		p += n;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}

static void opts_print(FILE *f, const struct opt *opts)
{
	const struct opt *o;

	for (o = opts; o->name; o++) {
		struct buf b = BUF_INIT;
		opt_left(o, &b);
		if (b.len + 2 > HELP_COLUMN)
			fprintf(f, "%s\n%*s", b.p, HELP_COLUMN, "");
		else
			fprintf(f, "%-*s", HELP_COLUMN, b.p);
		help_wrap(f, o->help, HELP_COLUMN);
		buf_release(&b);
	}
}

void opts_help(FILE *f, const struct opts_cmd *const *cmds)
{
	size_t k, n;

	for (n = 0; cmds[n]; n++)
		fprintf(f, "%s%s\n", n ? "       imapmig " : "usage: imapmig ",
			cmds[n]->usage);
	for (k = 0; k < n; k++) {
		const struct opts_cmd *c = cmds[k];
		size_t j;
		if (c->opts != NULL && c->opts[0].name != NULL) {
			if (n > 1)
				fprintf(f, "\n%s:\n", c->name);
			else
				fputs("\noptions:\n", f);
			/* a table two actions share is listed once */
			for (j = 0; j < k && cmds[j]->opts != c->opts; j++)
				;
			if (j < k)
				fprintf(f, "  the options of %s\n",
					cmds[j]->name);
			else
				opts_print(f, c->opts);
		}
		if (c->notes != NULL)
			fprintf(f, "\n%s\n", c->notes);
	}
}
