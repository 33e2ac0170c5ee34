/* opts.h - one option parser for every subcommand (git's parse-options.h).
 *
 * A subcommand describes its options once, in a table of struct opt; the
 * table parses the command line and prints the help.  Each option writes
 * into a struct of the subcommand's own, at the field's offset, so that a
 * table is static and 'imapmig help CMD' can print every action's table
 * without running the action.
 *
 * What the parser takes, the same in every subcommand:
 * - "--name value" and "--name=value"; a flag takes no value ("--json=1"
 *   is refused);
 * - the long names exactly: no prefix abbreviations ("--pass" is not
 *   "--password-file"), so a name never changes meaning when an option is
 *   added;
 * - "-y" where the table gives a short letter (no bundling: "-yq" is
 *   unknown);
 * - options and arguments in any order; "--" ends the options;
 * - an option given twice: the last one counts;
 * - "--help" or "-h": the command's help, from the table.
 * What it refuses, with one line on stderr and exit code 2, naming the
 * command and pointing at 'imapmig help GROUP': an unknown option (never
 * printing its value: --password gets told where passwords go), a missing
 * value, a value its kind does not take, too many or too few arguments.
 */
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

enum opt_kind {
	OPT_KIND_END = 0,
	OPT_KIND_FLAG,	   /* no value: int field set to value (or 1) */
	OPT_KIND_STRING,   /* const char * field: the value, borrowed */
	OPT_KIND_COUNT,	   /* long long field: digits, in [min, max] */
	OPT_KIND_SIZE,	   /* long long field: "35M", "1.5k", in [min, max] */
	OPT_KIND_DURATION, /* long long field: "24h", "90s": seconds */
	OPT_KIND_TIME,	   /* long long field: "2026-11-25 10:00", "+2h" */
	OPT_KIND_CHOICE,   /* int field: index in choices, any case */
	OPT_KIND_CALLBACK, /* cb(field, value, cmd) takes the value */
};

/* A callback option: 0 if the value is taken, else the exit code of the
 * one-line error it printed.  field is the option's field in the struct
 * the table writes into; cmd the command's name, for the error. */
typedef int opt_callback_fn(void *field, const char *value, const char *cmd);

struct opt {
	const char *name; /* long name, without "--"; NULL ends the table */
	char short_name;  /* 'y' for -y, or 0 */
	enum opt_kind kind;
	size_t off;	    /* the field's offset in the subcommand's struct */
	const char *argh;   /* the value's name in the help: "N", "FILE" */
	const char *help;   /* one line for the help */
	long long min, max; /* the numeric kinds: the range taken */
	const char *const *choices; /* OPT_KIND_CHOICE: NULL-terminated */
	/* a value refused: "CMD: --NAME VALUE<bad>"; NULL for the kind's */
	const char *bad;
	opt_callback_fn *cb;
	int value; /* OPT_KIND_FLAG: what it stores; 0 stores 1 */
};

#define OPT_FLAG(n, s, type, field, h)                                         \
	{                                                                      \
		.name = (n), .short_name = (s), .kind = OPT_KIND_FLAG,         \
		.off = offsetof(type, field), .help = (h)                      \
	}
/* Several flags into one field, the last given counts: --json, --csv. */
#define OPT_SET_INT(n, type, field, v, h)                                      \
	{                                                                      \
		.name = (n), .kind = OPT_KIND_FLAG,                            \
		.off = offsetof(type, field), .value = (v), .help = (h)        \
	}
#define OPT_STRING(n, type, field, a, h)                                       \
	{                                                                      \
		.name = (n), .kind = OPT_KIND_STRING,                          \
		.off = offsetof(type, field), .argh = (a), .help = (h)         \
	}
/* kind: COUNT, SIZE, DURATION or TIME; lo..hi the values taken. */
#define OPT_NUMBER(n, k, type, field, a, lo, hi, b, h)                         \
	{                                                                      \
		.name = (n), .kind = OPT_KIND_##k,                             \
		.off = offsetof(type, field), .argh = (a), .min = (lo),        \
		.max = (hi), .bad = (b), .help = (h)                           \
	}
#define OPT_CHOICE(n, type, field, words, b, h)                                \
	{                                                                      \
		.name = (n), .kind = OPT_KIND_CHOICE,                          \
		.off = offsetof(type, field), .choices = (words), .bad = (b),  \
		.help = (h)                                                    \
	}
#define OPT_CALLBACK(n, type, field, fn, a, h)                                 \
	{                                                                      \
		.name = (n), .kind = OPT_KIND_CALLBACK,                        \
		.off = offsetof(type, field), .cb = (fn), .argh = (a),         \
		.help = (h)                                                    \
	}
#define OPT_END()                                                              \
	{                                                                      \
		.name = NULL                                                   \
	}

/* One subcommand (or one action of it: "batch new"). */
struct opts_cmd {
	const char *name;  /* "batch new": every error line starts so */
	const char *group; /* "batch": what 'imapmig help' takes */
	/* the synopsis after "imapmig ", e.g. "batch start NAME"; also the
	 * error when an argument is missing */
	const char *usage;
	const struct opt *opts; /* NULL: no options */
	int min_args, max_args; /* arguments that are no option */
	const char *notes;	/* printed after the options, or NULL */
};

/* An action of one argument and no option ("batch start NAME"). */
#define OPTS_CMD_ONE_ARG(n, g, u)                                              \
	{                                                                      \
		.name = (n), .group = (g), .usage = (u), .min_args = 1,        \
		.max_args = 1                                                  \
	}

/* The parser asked for the help and printed it: exit 0. */
#define OPTS_HELP (-1)
/* The exit code for a result of opts_parse() that is not 0. */
#define OPTS_EXIT(rc) ((rc) < 0 ? 0 : (rc))

/* Parse argv[1..argc) (argv[0] is the command's name) into base.  The
 * arguments that are no option are moved, in their order, to argv[0..n),
 * n in *nargs_r.  Returns 0; OPTS_HELP after printing the help on
 * stdout; or 2 after printing the one-line error on stderr. */
int opts_parse(const struct opts_cmd *c, void *base, int argc, char **argv,
	       int *nargs_r);

/* The help of a command (or of its several actions), from the tables:
 * every synopsis ("usage: imapmig ..."), then each one's options and
 * notes.  cmds ends with NULL. */
void opts_help(FILE *f, const struct opts_cmd *const *cmds);

#endif
