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

/* How a token command ended. */
struct cmd_end {
	int timed_out, too_big, exited, status;
	int wait_errno; /* when it did not exit: why waitpid failed */
};

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

/* Run argv with stdin and stderr on /dev/null and stdout into a pipe, in
 * a process group of its own, so a timeout kills what it started too.
 * 0 with *pid_r and *fd_r (the pipe's end to read), or -1 with err. */
static int cmd_spawn(const char *label, char **argv, pid_t *pid_r, int *fd_r,
		     struct err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int pfd[2] = {-1, -1};
	pid_t pid = -1;
	int rc;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "%s: token command: pipe: %s", label,
			       strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		return err_set(err, ERR_USAGE, EC_IO,
			       "%s: token command %s cannot be run: %s (give "
			       "a program on PATH or its full path; no shell "
			       "is used)",
			       label, argv[0], strerror(rc));
	}
	*pid_r = pid;
	*fd_r = pfd[0];
	return 0;
}

/* The command's output into out, until it closes its stdout, the deadline
 * passes (*timed_out_r) or out's cap is reached (*too_big_r). */
static void cmd_read(int fd, long long deadline, struct buf *out,
		     int *timed_out_r, int *too_big_r)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		long long left = deadline - oauth_mono_ms();
		ssize_t n;

		if (left <= 0) {
			*timed_out_r = 1;
			break;
		}
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents == 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(out, buf, (size_t)n) < 0) {
			*too_big_r = 1;
			break;
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* The command's exit, still within the deadline: 1 with *status_r; 0
 * when the deadline passed (*timed_out_r) or waitpid failed (errno). */
static int cmd_wait(pid_t pid, long long deadline, int *status_r,
		    int *timed_out_r)
{
	for (;;) {
		pid_t r = waitpid(pid, status_r, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
		if (oauth_mono_ms() >= deadline) {
			*timed_out_r = 1;
			return 0;
		}
		usleep(5000);
	}
}

/* How the command ended, as the error it is: 0 when it exited with 0
 * within its time and output caps (its output can then be read). */
static int cmd_outcome(const char *label, const char *prog, const char *email,
		       unsigned timeout_ms, const struct cmd_end *e,
		       struct err *err)
{
	if (e->timed_out)
		return err_set(err, ERR_TRANSIENT, EC_TIMEOUT,
			       "%s: token command %s for %s did not finish "
			       "within %u ms and was killed",
			       label, prog, email,
			       timeout_ms ? timeout_ms : 30000);
	if (e->too_big)
		return err_set(err, ERR_CONNECT, EC_TOO_BIG,
			       "%s: token command %s for %s printed more than "
			       "%d bytes and was killed",
			       label, prog, email, OAUTH_MAX_RESPONSE);
	if (!e->exited)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "%s: token command %s for %s: waitpid: %s",
			       label, prog, email, strerror(e->wait_errno));
	if (WIFSIGNALED(e->status))
		return err_set(err, ERR_AUTH, EC_AUTHFAIL,
			       "%s: token command %s for %s was killed by "
			       "signal %d (its output is not shown: it may "
			       "hold secrets)",
			       label, prog, email, WTERMSIG(e->status));
	if (WEXITSTATUS(e->status) != 0)
		return err_set(err, ERR_AUTH, EC_AUTHFAIL,
			       "%s: token command %s for %s exited with status "
			       "%d (its output is not shown: it may hold "
			       "secrets; run it by hand to see why)",
			       label, prog, email, WEXITSTATUS(e->status));
	return 0;
}

int oauth_cmd_fetch(const char *label, const char *template, const char *email,
		    unsigned timeout_ms, struct oauth_fetched *f,
		    struct err *err)
{
	struct buf out = BUF_INIT_MAX(OAUTH_MAX_RESPONSE);
	struct cmd_end e = {0, 0, 0, 0, 0};
	char **argv = NULL;
	long long deadline;
	pid_t pid = -1;
	int fd = -1, rc = -1;

	memset(f, 0, sizeof(*f));
	if (oauth_argv_split(template, email, &argv, NULL, err) < 0) {
		err_prefix(err, "%s: ", label);
		return -1;
	}
	if (cmd_spawn(label, argv, &pid, &fd, err) == 0) {
		deadline = oauth_mono_ms() + (timeout_ms ? timeout_ms : 30000);
		cmd_read(fd, deadline, &out, &e.timed_out, &e.too_big);
		/* stdout closed: wait for the exit, still within the
		 * deadline */
		if (!e.timed_out && !e.too_big) {
			e.exited = cmd_wait(pid, deadline, &e.status,
					    &e.timed_out);
			e.wait_errno = errno;
		}
		/* a command that outlived its deadline is killed with its
		 * group (it is not reaped yet, so its pid cannot be anyone
		 * else's) */
		if (!e.exited)
			kill_reap(pid);
		close(fd);
		if (cmd_outcome(label, argv[0], email, timeout_ms, &e, err) ==
		    0)
			rc = oauth_cmd_parse_output(label, argv[0], email, &out,
						    f, err);
	}
	OPENSSL_cleanse(out.p, out.cap);
	buf_release(&out);
	oauth_argv_free(argv);
	return rc;
}
