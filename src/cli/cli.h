/* cli.h - what every subcommand shares (git's builtin.h). */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdio.h>
#include "util/err.h"

/* Global options, parsed by main() before the subcommand. */
struct cli_globals {
	const char *state_path; /* --state or $IMAPMIG_STATE, may be NULL */
	int verbose;		/* -v count */
	int quiet;
};
extern struct cli_globals cli_globals;

/* Each subcommand: argv[0] is its own name; returns the exit code
 * (0 ok, 1 an operation failed, 2 bad usage or input). */
int cmd_test_server(int argc, char **argv);
int cmd_endpoint(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_verify(int argc, char **argv);

struct state;
/* Open the state store named by --state / $IMAPMIG_STATE / the default;
 * on failure prints the error, sets *code_r to the exit code (2 for a
 * state or key file that is not trusted) and returns NULL. */
struct state *cli_state_open(const char *cmd, int *code_r);
const char *cli_state_path(void);
/* "35M", "1G", "1.5k", "35MiB", "500000": bytes, exact, 0..LLONG_MAX;
 * -1 if malformed or too big. */
long long cli_parse_size(const char *s);
/* Decimal digits only, 0..LLONG_MAX; -1 if malformed or too big. */
long long cli_parse_count(const char *s);
/* "2026-11-25 10:00" or "2026-11-25T10:00:00Z" or "now" or "+2h": UTC
 * epoch, >= 0; -1 if malformed, before 1970 or past 2^63 s. */
long long cli_parse_time(const char *s);
/* "24h", "30m", "90s", "90", "2d": seconds, 1..UINT_MAX; -1 if malformed
 * or out of range. */
long long cli_parse_duration(const char *s);
/* "2026-11-25 10:00:00 UTC" or "-" for 0 (static buffer per call slot). */
const char *cli_fmt_time(long long t, int slot);

/* Print "imapmig: <msg>" on stderr; returns 2. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the error's one line on stderr; returns its exit code. */
int cli_fail(const char *cmd, const struct err *err);
/* Ask question on the terminal unless yes: 1 to go on, 0 if the answer was
 * no, -1 (with the one-line error printed) if no terminal can answer. */
int cli_confirm(const char *cmd, int yes, const char *question);
/* The error for an option the parser (cli/opts.h) does not know (exit
 * 2): names the option, never its value; --password gets told where
 * passwords go.  cmd NULL: an option before the command. */
int cli_bad_option(const char *cmd, const char *arg, const char *help);
/* s padded with spaces to width terminal columns (UTF-8 aware: a wide
 * character takes two, a combining mark none), into out; cut at a
 * character boundary if longer.  Returns out. */
const char *cli_pad(const char *s, size_t width, char *out, size_t size);
int cmd_user_preview(int argc, char **argv);
struct opts_cmd;
/* user preview's options (cmd_preview.c), for 'imapmig help user' */
extern const struct opts_cmd cmd_user_preview_opts;
/* Read a password: from file (first line, trailing CR/LF removed; "-"
 * means stdin) or, when path is NULL, one line from stdin; on a terminal
 * with a prompt on stderr and echo off (restored on SIGINT/TERM/HUP too).
 * An empty password is an ERR_USAGE error.  The result is owned by the
 * caller and should be wiped with cli_password_free(). */
char *cli_read_password(const char *path, struct err *err);
void cli_password_free(char **pw);
/* A Google service-account key file (JSON, at most 64 KiB), whole; wipe
 * it with cli_password_free().  ERR_USAGE if unreadable or empty. */
char *cli_read_key_file(const char *path, struct err *err);
struct json_t;
/* json_dumps() with a 2-space indent, and DEL and C1 controls escaped too
 * (\u007f, \u0080..): JSON that is safe to print on a terminal.  The
 * caller frees the result; NULL if jansson fails. */
char *cli_json_dumps(const struct json_t *j);
/* rows (a JSON array of objects) as CSV: a header of the first object's
 * scalar fields, then one line per object, CRLF, RFC 4180 quoting. */
void cli_print_csv(FILE *out, const struct json_t *rows);

/* Parse a port; -1 if not 1..65535. */
int cli_parse_port(const char *s);

#endif
