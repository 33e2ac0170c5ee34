/* oauth_cmd.c - the token command: argv from a template, no shell.
 *
 * The command is the administrator's (e.g. a script that asks a vault or
 * runs `az account get-access-token`); what it prints is a secret, and
 * so may be what it writes to its error output: neither is ever logged
 * or put in a message.  Only the program's name and its exit status are
 * reported. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/oauth_int.h"
#include "util/xalloc.h"

extern char **environ;

void oauth_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* {name} at t (t points at '{'): append its value, return its length
 * in the template, or 0 for an unknown or unclosed name. */
static size_t add_var(struct buf *w, const char *t, const char *email)
{
	const char *end = strchr(t, '}');
	const char *at = strrchr(email, '@');
	size_t n;

	if (end == NULL)
		return 0;
	n = (size_t)(end - t) + 1;
	if (n == 7 && strncmp(t, "{email}", 7) == 0)
		buf_addstr(w, email);
	else if (n == 7 && strncmp(t, "{local}", 7) == 0)
		buf_add(w, email, at ? (size_t)(at - email) : strlen(email));
	else if (n == 8 && strncmp(t, "{domain}", 8) == 0)
		buf_addstr(w, at ? at + 1 : "");
	else
		return 0;
	return n;
}

int oauth_argv_split(const char *template, const char *email, char ***argv_r,
		     int *argc_r, struct err *err)
{
	struct buf w = BUF_INIT;
	char **argv = NULL;
	size_t argc = 0, alloc = 0, n;
	const char *t = template;
	char quote = 0;
	int in_word = 0;

	*argv_r = NULL;
	for (;;) {
		char c = *t;

		if (c == '\0' || (!quote && (c == ' ' || c == '\t' ||
					     c == '\n' || c == '\r'))) {
			if (quote)
				goto unclosed;
			if (in_word) {
				if (argc + 2 > alloc) {
					alloc = alloc ? alloc * 2 : 8;
					argv = xrealloc(argv,
							alloc * sizeof(*argv));
				}
				argv[argc++] = buf_detach(&w, NULL);
				argv[argc] = NULL;
				in_word = 0;
			}
			if (c == '\0')
				break;
			t++;
			continue;
		}
		in_word = 1;
		if (quote == '\'' && c != '\'' && c != '{' && c != '}') {
			buf_addch(&w, c);
			t++;
		} else if (c == '\'' && quote != '"') {
			quote = quote ? 0 : '\'';
			t++;
		} else if (c == '"') {
			quote = quote ? 0 : '"';
			t++;
		} else if (c == '\\' && t[1] != '\0' &&
			   (!quote || t[1] == '"' || t[1] == '\\')) {
			buf_addch(&w, t[1]);
			t += 2;
		} else if (c == '{' && t[1] == '{') {
			buf_addch(&w, '{');
			t += 2;
		} else if (c == '}' && t[1] == '}') {
			buf_addch(&w, '}');
			t += 2;
		} else if (c == '{') {
			n = add_var(&w, t, email);
			if (n == 0) {
				err_set(err, ERR_USAGE, EC_NONE,
					"token command: unknown or unclosed "
					"placeholder at '%.20s' (known: "
					"{email}, {local}, {domain}; {{ for a "
					"brace)",
					t);
				goto fail;
			}
			t += n;
		} else {
			buf_addch(&w, c);
			t++;
		}
	}
	if (argc == 0) {
		err_set(err, ERR_USAGE, EC_NONE,
			"token command: the template names no command "
			"(give e.g. --token-command 'get-token {email}')");
		goto fail;
	}
	*argv_r = argv;
	if (argc_r != NULL)
		*argc_r = (int)argc;
	return 0;
unclosed:
	err_set(err, ERR_USAGE, EC_NONE,
		"token command: the template has an unclosed %c quote", quote);
fail:
	buf_release(&w);
	if (argv != NULL)
		argv[argc] = NULL;
	oauth_argv_free(argv);
	return -1;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Kill the child's process group (it leads one of its own) and reap it. */
static void kill_reap(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int oauth_cmd_parse_output(const char *label, const char *prog,
			   const char *email, struct buf *out,
			   struct oauth_fetched *f, struct err *err)
{
	char *words[3] = {NULL, NULL, NULL};
	size_t lens[3] = {0, 0, 0};
	size_t nw = 0, i = 0;
	unsigned long long life = 0;

	while (i < out->len) {
		size_t start;

		while (i < out->len && (out->p[i] == ' ' || out->p[i] == '\t' ||
					out->p[i] == '\r' || out->p[i] == '\n'))
			i++;
		if (i >= out->len)
			break;
		start = i;
		while (i < out->len && out->p[i] != ' ' && out->p[i] != '\t' &&
		       out->p[i] != '\r' && out->p[i] != '\n')
			i++;
		if (nw == 3)
			break;
		words[nw] = out->p + start;
		lens[nw] = i - start;
		nw++;
	}
	if (nw == 0)
		return err_set(err, ERR_AUTH, EC_PROTOCOL,
			       "%s: token command %s for %s printed no "
			       "token; run it by hand to see why",
			       label, prog, email);
	if (nw > 2)
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s: token command %s for %s printed more "
			       "than a token and a lifetime (output not "
			       "shown: it may hold secrets); it must print "
			       "the token, then optionally its lifetime in "
			       "seconds",
			       label, prog, email);
	for (i = 0; i < lens[0]; i++) {
		unsigned char c = (unsigned char)words[0][i];

		if (c < 0x21 || c > 0x7e)
			return err_set(err, ERR_CONNECT, EC_PROTOCOL,
				       "%s: token command %s for %s printed "
				       "a token with bytes that are not "
				       "printable ASCII",
				       label, prog, email);
	}
	if (nw == 2 && (slice_to_u64(slice_of(words[1], lens[1]), &life) < 0 ||
			life == 0 || life > 366ULL * 86400))
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s: token command %s for %s printed a "
			       "lifetime that is not a number of seconds "
			       "(1 to 31622400)",
			       label, prog, email);
	f->token = xstrndup(words[0], lens[0]);
	f->token_len = lens[0];
	f->lifetime_s = life;
	return 0;
}

int oauth_cmd_fetch(const char *label, const char *template, const char *email,
		    unsigned timeout_ms, struct oauth_fetched *f,
		    struct err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct buf out = BUF_INIT_MAX(OAUTH_MAX_RESPONSE);
	char **argv = NULL;
	const char *prog;
	char buf[4096];
	int pfd[2] = {-1, -1};
	int rc = -1, status = 0, exited = 0, too_big = 0, timed_out = 0;
	pid_t pid = -1;
	long long deadline;

	memset(f, 0, sizeof(*f));
	if (oauth_argv_split(template, email, &argv, NULL, err) < 0) {
		err_prefix(err, "%s: ", label);
		return -1;
	}
	prog = argv[0];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		err_set(err, ERR_LOCAL, EC_IO, "%s: token command: pipe: %s",
			label, strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	/* its own process group, so a timeout kills what it started too */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(&pid, prog, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	pfd[1] = -1;
	if (rc != 0) {
		pid = -1;
		rc = err_set(err, ERR_USAGE, EC_IO,
			     "%s: token command %s cannot be run: %s (give "
			     "a program on PATH or its full path; no shell "
			     "is used)",
			     label, prog, strerror(rc));
		goto out;
	}
	rc = -1;

	deadline = mono_ms() + (timeout_ms ? timeout_ms : 30000);
	for (;;) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		long long left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents == 0)
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&out, buf, (size_t)n) < 0) {
			too_big = 1;
			break;
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	/* stdout closed: wait for the exit, still within the deadline */
	while (!timed_out && !too_big) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			exited = 1;
			break;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (mono_ms() >= deadline) {
			timed_out = 1;
			break;
		}
		usleep(5000);
	}
	/* a command that outlived its deadline is killed with its group
	 * (it is not reaped yet, so its pid cannot be anyone else's) */
	if (!exited)
		kill_reap(pid);
	pid = -1;
	if (timed_out) {
		err_set(err, ERR_TRANSIENT, EC_TIMEOUT,
			"%s: token command %s for %s did not finish within "
			"%u ms and was killed",
			label, prog, email, timeout_ms ? timeout_ms : 30000);
		goto out;
	}
	if (too_big) {
		err_set(err, ERR_CONNECT, EC_TOO_BIG,
			"%s: token command %s for %s printed more than %d "
			"bytes and was killed",
			label, prog, email, OAUTH_MAX_RESPONSE);
		goto out;
	}
	if (!exited) {
		err_set(err, ERR_LOCAL, EC_IO,
			"%s: token command %s for %s: waitpid: %s", label, prog,
			email, strerror(errno));
		goto out;
	}
	if (WIFSIGNALED(status)) {
		err_set(err, ERR_AUTH, EC_AUTHFAIL,
			"%s: token command %s for %s was killed by signal %d "
			"(its output is not shown: it may hold secrets)",
			label, prog, email, WTERMSIG(status));
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		err_set(err, ERR_AUTH, EC_AUTHFAIL,
			"%s: token command %s for %s exited with status %d "
			"(its output is not shown: it may hold secrets; run "
			"it by hand to see why)",
			label, prog, email, WEXITSTATUS(status));
		goto out;
	}
	rc = oauth_cmd_parse_output(label, prog, email, &out, f, err);
out:
	if (pid > 0)
		kill_reap(pid);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	OPENSSL_cleanse(out.p, out.cap);
	buf_release(&out);
	oauth_argv_free(argv);
	return rc;
}
