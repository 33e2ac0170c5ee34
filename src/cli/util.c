/* util.c - helpers shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct cli_globals cli_globals;

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("imapmig: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

int cli_fail(const char *cmd, const struct err *err)
{
	fprintf(stderr, "imapmig: %s: %s\n", cmd, err->msg);
	return err_exit_code(err);
}

char *cli_read_password(const char *path, struct err *err)
{
	FILE *f = stdin;
	struct buf b = BUF_INIT_MAX(4096);
	int ch;

	if (path != NULL && strcmp(path, "-") != 0) {
		f = fopen(path, "r");
		if (f == NULL) {
			err_set(err, ERR_USAGE, EC_IO,
				"cannot read password file %s: %s: give a "
				"readable file with the password on its first "
				"line", path, strerror(errno));
			return NULL;
		}
	} else if (isatty(STDIN_FILENO)) {
		fputs("Password: ", stderr);
	}
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (buf_addch(&b, (char)ch) < 0) {
			err_set(err, ERR_USAGE, EC_TOO_BIG,
				"password in %s is longer than 4096 bytes",
				path ? path : "standard input");
			OPENSSL_cleanse(b.p, b.len);
			buf_release(&b);
			if (f != stdin)
				fclose(f);
			return NULL;
		}
	}
	if (f != stdin)
		fclose(f);
	if (b.len > 0 && b.p[b.len - 1] == '\r')
		buf_setlen(&b, b.len - 1);
	return buf_detach(&b, NULL);
}

void cli_password_free(char **pw)
{
	if (*pw == NULL)
		return;
	OPENSSL_cleanse(*pw, strlen(*pw));
	free(*pw);
	*pw = NULL;
}

int cli_parse_port(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}
