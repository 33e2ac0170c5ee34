/* util.c - helpers shared by the subcommands. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "sched/views.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/escape.h"
#include "util/xalloc.h"

struct cli_globals cli_globals;

int cli_usage_error(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	fprintf(stderr, "imapmig: %s\n", esc(b.p));
	buf_release(&b);
	return 2;
}

/* Terminal columns of code point c: 2 for East Asian wide and emoji, 0
 * for combining marks, else 1. */
static int cp_width(unsigned c)
{
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0xfe00 && c <= 0xfe0f))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) ||
	    (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

const char *cli_pad(const char *s, size_t width, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cols = 0, o = 0;

	while (*p && o + 8 < size) {
		unsigned c = *p;
		size_t len = 1, k;
		int w;
		if (c >= 0xf0 && p[1] && p[2] && p[3]) {
			c = (c & 7u) << 18 | (p[1] & 63u) << 12 |
			    (p[2] & 63u) << 6 | (p[3] & 63u);
			len = 4;
		} else if (c >= 0xe0 && p[1] && p[2]) {
			c = (c & 15u) << 12 | (p[1] & 63u) << 6 | (p[2] & 63u);
			len = 3;
		} else if (c >= 0xc0 && p[1]) {
			c = (c & 31u) << 6 | (p[1] & 63u);
			len = 2;
		}
		w = cp_width(c);
		if (cols + (size_t)w > width)
			break;
		for (k = 0; k < len; k++)
			out[o++] = (char)p[k];
		p += len;
		cols += (size_t)w;
	}
	while (cols < width && o + 1 < size) {
		out[o++] = ' ';
		cols++;
	}
	out[o] = '\0';
	return out;
}

/* One CSV field, RFC 4180 quoting.  A field a spreadsheet would run as a
 * formula (=, +, -, @ first: a subject from a stranger's mail) gets a
 * leading apostrophe. */
static void csv_field(FILE *out, const char *s)
{
	const char *p;

	fputc('"', out);
	if (strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0')
		fputc('\'', out);
	for (p = s; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

void cli_print_csv(FILE *out, const json_t *rows)
{
	const json_t *first = json_array_get(rows, 0), *v, *row;
	const char *key;
	size_t i;
	int k;

	if (first == NULL)
		return;
	k = 0;
	json_object_foreach((json_t *)first, key, v)
	{
		if (json_is_array(v) || json_is_object(v))
			continue;
		if (k++)
			fputc(',', out);
		csv_field(out, key);
	}
	fputs("\r\n", out);
	json_array_foreach(rows, i, row)
	{
		k = 0;
		json_object_foreach((json_t *)first, key, v)
		{
			const json_t *x = json_object_get(row, key);
			char num[32];
			if (json_is_array(v) || json_is_object(v))
				continue;
			if (k++)
				fputc(',', out);
			if (json_is_string(x)) {
				csv_field(out, json_string_value(x));
			} else if (json_is_integer(x)) {
				snprintf(num, sizeof(num), "%lld",
					 (long long)json_integer_value(x));
				fputs(num, out);
			} else if (json_is_real(x)) {
				fprintf(out, "%.3f", json_real_value(x));
			} else if (json_is_boolean(x)) {
				fputs(json_is_true(x) ? "true" : "false", out);
			}
		}
		fputs("\r\n", out);
	}
}

int cli_bad_option(const char *cmd, const char *arg, const char *help)
{
	/* cmd NULL: the options before the command, said with no prefix */
	const char *sep = cmd != NULL ? ": " : "";
	size_t n;

	if (cmd == NULL)
		cmd = "";
	/* never an option's value: it could be a password */
	if (arg == NULL || arg[0] != '-')
		return cli_usage_error("%s%sunknown option: see '%s'", cmd, sep,
				       help);
	n = strcspn(arg, "=");
	if (strncmp(arg, "--pass", n < 6 ? 6 : n) == 0 ||
	    (n > 2 && strncmp(arg, "--password", n) == 0))
		return cli_usage_error(
			"%s%s%.*s: a password is never taken on the command "
			"line (every user can read it in /proc): give "
			"--password-file F, or type it when asked",
			cmd, sep, (int)n, arg);
	return cli_usage_error("%s%sunknown option %.*s: see '%s'", cmd, sep,
			       (int)n, arg, help);
}

int cli_confirm(const char *cmd, int yes, const char *question)
{
	char line[16];

	if (yes)
		return 1;
	if (!isatty(STDIN_FILENO)) {
		cli_usage_error("%s: %s Not asked, as no terminal can answer: "
				"add --yes",
				cmd, question);
		return -1;
	}
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) != NULL &&
	    (strcmp(line, "y\n") == 0 || strcmp(line, "Y\n") == 0 ||
	     strcasecmp(line, "yes\n") == 0))
		return 1;
	fprintf(stderr, "imapmig: %s: nothing done\n", cmd);
	return 0;
}

int cli_fail(const char *cmd, const struct err *err)
{
	fprintf(stderr, "imapmig: %s: %s\n", cmd, esc(err->msg));
	return err_exit_code(err);
}

char *cli_json_dumps(const struct json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));
	struct buf b = BUF_INIT;
	size_t i;

	if (s == NULL)
		return NULL;
	/* Jansson escapes only what JSON requires (below 0x20): DEL and the
	 * C1 controls (U+0080..U+009F) would reach a terminal raw.  In JSON
	 * text such bytes are only ever inside strings. */
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x7f) {
			buf_addstr(&b, "\\u007F");
		} else if (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			buf_addf(&b, "\\u%04X", (unsigned char)s[i + 1]);
			i++;
		} else {
			buf_addch(&b, (char)c);
		}
	}
	free(s);
	return buf_detach(&b, NULL);
}

/* Leading decimal digits of *s as a number no greater than max, *s moved
 * past them; -1 if there is no digit or the number passes max (strtoll
 * would also take spaces, a sign, and say nothing of a narrower range). */
static int parse_digits(const char **s, unsigned long long max,
			unsigned long long *v_r)
{
	const char *p = *s;
	unsigned long long v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*s = p;
	*v_r = v;
	return 0;
}

int cli_parse_port(const char *s)
{
	unsigned long long v;

	if (parse_digits(&s, 65535, &v) < 0 || *s != '\0' || v < 1)
		return -1;
	return (int)v;
}

const char *cli_state_path(void)
{
	return cli_globals.state_path && cli_globals.state_path[0]
		       ? cli_globals.state_path
		       : state_default_path();
}

struct state *cli_state_open(const char *cmd, int *code_r)
{
	struct err err = ERR_INIT;
	struct state *st = state_open(cli_state_path(), &err);

	/* 2 for a state or key file we do not trust, 1 for a broken one */
	if (st == NULL)
		*code_r = cli_fail(cmd, &err);
	return st;
}

long long cli_parse_count(const char *s)
{
	unsigned long long v;

	if (parse_digits(&s, LLONG_MAX, &v) < 0 || *s != '\0')
		return -1;
	return (long long)v;
}

long long cli_parse_size(const char *s)
{
	unsigned long long v, mul = 1, frac = 0;
	const char *fs = NULL, *fe = NULL;

	/* digits[.digits][K|M|G[B|iB]], exact (no strtod: it takes "inf",
	 * "1e300" and hex, and rounds past 2^53) */
	if (parse_digits(&s, LLONG_MAX, &v) < 0)
		return -1;
	if (*s == '.') {
		fs = ++s;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
		fe = s;
	}
	if (*s == 'K' || *s == 'k')
		mul = 1024;
	else if (*s == 'M' || *s == 'm')
		mul = 1024 * 1024;
	else if (*s == 'G' || *s == 'g')
		mul = 1024ull * 1024 * 1024;
	else if (*s != '\0')
		return -1;
	if (*s != '\0' && s[1] != '\0' && strcmp(s + 1, "B") != 0 &&
	    strcmp(s + 1, "iB") != 0)
		return -1;
	if (v > (unsigned long long)LLONG_MAX / mul)
		return -1;
	v *= mul;
	/* whole bytes of 0.<fraction> * mul: floor((d + floor(rest)) / 10)
	 * from the last digit back is exact, and stays below 10 * mul */
	while (fe != fs) {
		fe--;
		frac = ((unsigned long long)(*fe - '0') * mul + frac) / 10;
	}
	v += frac;
	if (v > (unsigned long long)LLONG_MAX)
		return -1;
	return (long long)v;
}

/* Seconds in one unit of a suffix: h, m, s or none (seconds), and d if
 * days is set; 0 for anything else. */
static unsigned long long unit_seconds(const char *suffix, int days)
{
	if (strcmp(suffix, "h") == 0)
		return 3600;
	if (strcmp(suffix, "m") == 0)
		return 60;
	if (strcmp(suffix, "s") == 0 || *suffix == '\0')
		return 1;
	if (days && strcmp(suffix, "d") == 0)
		return 86400;
	return 0;
}

long long cli_parse_time(const char *s)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%S",
		"%Y-%m-%d %H:%M:%S",
		"%Y-%m-%d %H:%M",
		"%Y-%m-%d",
		NULL,
	};
	struct tm tm;
	const char *end = NULL;
	long long t;
	size_t k;

	if (strcmp(s, "now") == 0)
		return (long long)time(NULL);
	if (s[0] == '+') {
		const char *e = s + 1;
		unsigned long long v, mul;
		long long now = (long long)time(NULL);
		if (parse_digits(&e, LLONG_MAX, &v) < 0 ||
		    (mul = unit_seconds(e, 0)) == 0)
			return -1;
		if (v > (unsigned long long)(LLONG_MAX - now) / mul)
			return -1; /* past the end of time */
		return now + (long long)(v * mul);
	}
	for (k = 0; end == NULL && formats[k] != NULL; k++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[k], &tm);
	}
	if (end == NULL || !(*end == '\0' || strcmp(end, "Z") == 0 ||
			     strcmp(end, " UTC") == 0))
		return -1;
	t = (long long)timegm(&tm);
	return t < 0 ? -1 : t; /* before 1970: not a time imapmig keeps */
}

long long cli_parse_duration(const char *s)
{
	unsigned long long v, mul;

	if (parse_digits(&s, UINT_MAX, &v) < 0 || v == 0 ||
	    (mul = unit_seconds(s, 1)) == 0)
		return -1;
	/* the scheduler holds seconds in an unsigned int */
	if (v > UINT_MAX / mul)
		return -1;
	return (long long)(v * mul);
}

const char *cli_fmt_time(long long t, int slot)
{
	return view_fmt_time(t, slot);
}
