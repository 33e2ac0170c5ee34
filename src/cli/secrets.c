/* secrets.c - passwords, client secrets and key files, read so that no
 * copy is left behind: no stdio buffer, the terminal's echo off while a
 * password is typed, wiped when freed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "util/buf.h"

/* The terminal's settings while the password is typed with echo off,
 * restored on every way out, a signal included. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;
static struct sigaction old_int, old_term, old_hup;

static void tty_restore(void)
{
	if (tty_echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
		tty_echo_off = 0;
	}
}

static void tty_on_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tty_echo(int on)
{
	struct sigaction sa;
	struct termios t;

	if (on) {
		tty_restore();
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
		return;
	}
	if (tcgetattr(STDIN_FILENO, &tty_saved) < 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
		tty_echo_off = 1;
}

#define PASSWORD_MAX 4096

char *cli_read_password(const char *path, struct err *err)
{
	const char *from = "standard input";
	struct buf b = BUF_INIT_MAX(PASSWORD_MAX);
	int fd = STDIN_FILENO, tty = 0, ret = 0;
	char ch;

	if (path != NULL && strcmp(path, "-") != 0) {
		from = path;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err_set(err, ERR_USAGE, EC_IO,
				"cannot read password file %s: %s: give a "
				"readable file with the password on its first "
				"line",
				path, strerror(errno));
			return NULL;
		}
	} else if (isatty(STDIN_FILENO)) {
		tty = 1;
		tty_echo(0);
		fputs("Password: ", stderr);
		fflush(stderr);
	} else if (isatty(STDERR_FILENO)) {
		/* someone watches, but cannot type here: say why it waits */
		fputs("imapmig: reading the password from standard input (its "
		      "first line)\n",
		      stderr);
	}
	/* All the room at once, and no stdio: no copy of the password is
	 * left behind in a freed block or a FILE buffer. */
	buf_grow(&b, PASSWORD_MAX);
	for (;;) {
		ssize_t n = read(fd, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, ERR_USAGE, EC_IO,
				"cannot read the password from %s: %s", from,
				strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0 || ch == '\n')
			break;
		if (b.len == PASSWORD_MAX) {
			err_set(err, ERR_USAGE, EC_TOO_BIG,
				"password in %s is longer than %d bytes: give "
				"the password alone on the first line",
				from, PASSWORD_MAX);
			ret = -1;
			break;
		}
		buf_addch(&b, ch);
	}
	ch = 0;
	if (tty) {
		tty_echo(1);
		fputc('\n', stderr);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (ret == 0 && b.len > 0 && b.p[b.len - 1] == '\r')
		buf_setlen(&b, b.len - 1);
	if (ret == 0 && b.len == 0) {
		err_set(err, ERR_USAGE, EC_IO,
			"empty password from %s: give the password on the "
			"first line (--password-file F or standard input)",
			from);
		ret = -1;
	}
	if (ret < 0) {
		OPENSSL_cleanse(b.p, b.cap);
		buf_release(&b);
		return NULL;
	}
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

/* A service-account key file, whole (at most 64 KiB), read without
 * stdio so that no copy of the private key stays in a FILE buffer. */
char *cli_read_key_file(const char *path, struct err *err)
{
	struct buf b = BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		err_set(err, ERR_USAGE, EC_IO,
			"cannot read --oauth-service-account-file %s: %s: "
			"give the key file (JSON) the Google Cloud console "
			"created",
			path, strerror(errno));
		return NULL;
	}
	buf_grow(&b, 65536 + 1);
	for (;;) {
		n = read(fd, b.p + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b.len += (size_t)n;
		b.p[b.len] = '\0';
		if (b.len >= 65536)
			break;
	}
	close(fd);
	if (n < 0 || b.len == 0 || b.len >= 65536) {
		err_set(err, ERR_USAGE, EC_IO,
			"--oauth-service-account-file %s: %s: give the key "
			"file (JSON) the Google Cloud console created",
			path,
			n < 0	     ? strerror(errno)
			: b.len == 0 ? "empty"
				     : "larger than 64 KiB");
		OPENSSL_cleanse(b.p, b.cap);
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}
