/* test_oauth_cmd.c - the token command source and the token cache
 * (auth/oauth.c, auth/oauth_cmd.c): no network needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/oauth.h"
#include "auth/oauth_int.h"

static char tmpdir[] = "/tmp/imapmig-oauth-cmd.XXXXXX";

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct oauth *make(const char *cmd, unsigned timeout_ms)
{
	struct oauth_settings set;
	struct err err = ERR_INIT;
	struct oauth *o;

	memset(&set, 0, sizeof(set));
	set.kind = OAUTH_TOKEN_COMMAND;
	set.label = "target";
	set.token_command = cmd;
	set.timeout_ms = timeout_ms;
	o = oauth_create(&set, &err);
	if (o == NULL)
		fail_msg("oauth_create: %s", err.msg);
	return o;
}

static void test_split(void **state)
{
	struct err err = ERR_INIT;
	char **argv;
	int argc;

	(void)state;
	assert_int_equal(
		oauth_argv_split("get-token --user {email} 'a b' \"c \\\" d\" "
				 "e\\ f x{local}y {domain} '' {{lit}}",
				 "Terry@Contoso.com", &argv, &argc, &err),
		0);
	assert_int_equal(argc, 10);
	assert_string_equal(argv[0], "get-token");
	assert_string_equal(argv[1], "--user");
	assert_string_equal(argv[2], "Terry@Contoso.com");
	assert_string_equal(argv[3], "a b");
	assert_string_equal(argv[4], "c \" d");
	assert_string_equal(argv[5], "e f");
	assert_string_equal(argv[6], "xTerryy");
	assert_string_equal(argv[7], "Contoso.com");
	assert_string_equal(argv[8], "");
	assert_string_equal(argv[9], "{lit}");
	assert_null(argv[10]);
	oauth_argv_free(argv);
	/* a value with spaces or quotes stays one word, uninterpreted */
	assert_int_equal(
		oauth_argv_split("t {email}", "a b'c\"@x", &argv, &argc, &err),
		0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "a b'c\"@x");
	oauth_argv_free(argv);
	/* '{email}' in single quotes is still replaced (the quotes only
	 * keep spaces together) */
	assert_int_equal(
		oauth_argv_split("t '{email} x'", "u@d", &argv, &argc, &err),
		0);
	assert_string_equal(argv[1], "u@d x");
	oauth_argv_free(argv);

	assert_int_equal(oauth_argv_split("t 'abc", "u@d", &argv, &argc, &err),
			 -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(strstr(err.msg, "unclosed"));
	assert_int_equal(
		oauth_argv_split("t {user}", "u@d", &argv, &argc, &err), -1);
	assert_non_null(strstr(err.msg, "{user}"));
	assert_int_equal(oauth_argv_split("  ", "u@d", &argv, &argc, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
}

static void test_token_and_lifetime(void **state)
{
	struct oauth *o;
	struct buf tok = BUF_INIT;
	struct err err = ERR_INIT;
	time_t exp = 0, t0 = time(NULL);

	(void)state;
	/* token and lifetime on two lines */
	o = make("sh -c 'echo \"tok-$1\"; echo 120' sh {email}", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, &exp, &err), 0);
	assert_string_equal(tok.p, "tok-a@b.c");
	assert_true(exp >= t0 + 119 && exp <= time(NULL) + 120);
	oauth_destroy(&o);
	assert_null(o);
	/* on one line; no lifetime: expires 0 */
	o = make("printf 'abc.def 77\\n'", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, &exp, &err), 0);
	assert_string_equal(tok.p, "abc.def");
	assert_true(exp >= t0 + 76);
	oauth_destroy(&o);
	o = make("echo just-a-token", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, &exp, &err), 0);
	assert_string_equal(tok.p, "just-a-token");
	assert_int_equal(exp, 0);
	oauth_destroy(&o);
	buf_release(&tok);
}

/* No shell: ; and $(...) reach the program as plain bytes. */
static void test_no_shell(void **state)
{
	struct oauth *o;
	struct buf tok = BUF_INIT;
	struct err err = ERR_INIT;
	char marker[200], cmd[400];

	(void)state;
	snprintf(marker, sizeof(marker), "%s/pwned", tmpdir);
	snprintf(cmd, sizeof(cmd), "echo tok;touch$IFS%s", marker);
	o = make(cmd, 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_non_null(strstr(tok.p, "tok;touch$IFS"));
	oauth_destroy(&o);
	snprintf(cmd, sizeof(cmd), "echo $(touch$IFS%s)", marker);
	o = make(cmd, 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_non_null(strstr(tok.p, "$(touch$IFS"));
	oauth_destroy(&o);
	assert_int_equal(access(marker, F_OK), -1);
	/* an address holding shell syntax is one harmless argument */
	o = make("echo {email}", 0);
	assert_int_equal(oauth_token(o, "x;reboot@y", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "x;reboot@y");
	oauth_destroy(&o);
	buf_release(&tok);
}

static void test_failures(void **state)
{
	struct oauth *o;
	struct buf tok = BUF_INIT;
	struct err err = ERR_INIT;
	char cmd[400], pidfile[200];
	long long t0;
	FILE *f;
	int pid = 0;

	(void)state;
	/* non-zero exit: one line, the status, none of its output */
	o = make("sh -c 'echo SECRET-OUT; echo SECRET-ERR >&2; exit 3'", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_AUTH);
	assert_non_null(strstr(err.msg,
			       "endpoint target: token command sh for a@b.c "
			       "exited with status 3"));
	assert_null(strstr(err.msg, "SECRET"));
	assert_null(strchr(err.msg, '\n'));
	oauth_destroy(&o);

	/* a timeout kills it (and what it started) and reaps it */
	snprintf(pidfile, sizeof(pidfile), "%s/pid", tmpdir);
	snprintf(cmd, sizeof(cmd), "sh -c 'echo $$ >%s; exec sleep 30'",
		 pidfile);
	o = make(cmd, 400);
	t0 = now_ms();
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_int_equal(err.code, EC_TIMEOUT);
	assert_non_null(strstr(err.msg, "did not finish within 400 ms"));
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	oauth_destroy(&o);

	/* endless output: capped, killed */
	o = make("yes SECRETSECRET", 5000);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_int_equal(err.code, EC_TOO_BIG);
	assert_null(strstr(err.msg, "SECRET"));
	oauth_destroy(&o);

	/* garbage: not shown */
	o = make("echo SECRET1 SECRET2 SECRET3", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_CONNECT);
	assert_null(strstr(err.msg, "SECRET"));
	oauth_destroy(&o);
	o = make("echo SECRET1 soon", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "lifetime"));
	assert_null(strstr(err.msg, "SECRET"));
	oauth_destroy(&o);
	o = make("true", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "printed no token"));
	oauth_destroy(&o);

	/* no such program */
	o = make("/nonexistent/get-token {email}", 0);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(
		strstr(err.msg, "/nonexistent/get-token cannot be run"));
	oauth_destroy(&o);
	buf_release(&tok);
}

/* A command that counts its runs: prints tok<N> and the lifetime. */
static struct oauth *counting(const char *life, char *counter, size_t n)
{
	char cmd[600];

	snprintf(counter, n, "%s/count.%s", tmpdir, life);
	unlink(counter);
	snprintf(cmd, sizeof(cmd),
		 "sh -c 'n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); "
		 "echo $n >%s; sleep 0.2; echo \"tok$n-$1 %s\"' sh {email}",
		 counter, counter, life);
	return make(cmd, 0);
}

static void test_cache_and_margin(void **state)
{
	struct oauth *o;
	struct buf tok = BUF_INIT;
	struct err err = ERR_INIT;
	char counter[200];

	(void)state;
	/* a 3 s token: margin 0.3 s, so it is handed out for 2.7 s */
	o = counting("3", counter, sizeof(counter));
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok1-a@b.c");
	usleep(1500 * 1000);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok1-a@b.c");
	assert_int_equal(oauth_requests(o), 1);
	/* one token per mailbox */
	assert_int_equal(oauth_token(o, "x@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok2-x@b.c");
	usleep(1600 * 1000); /* 3.1 s + the fetches: past 2.7 s */
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok3-a@b.c");
	assert_int_equal(oauth_requests(o), 3);

	/* invalidate: a stale token is ignored, the current one renews */
	oauth_invalidate(o, "a@b.c", "tok1-a@b.c");
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok3-a@b.c");
	assert_int_equal(oauth_requests(o), 3);
	oauth_invalidate(o, "a@b.c", "tok3-a@b.c");
	oauth_invalidate(o, "a@b.c", "tok3-a@b.c");
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok4-a@b.c");
	assert_int_equal(oauth_requests(o), 4);
	oauth_destroy(&o);

	/* within the margin: 2.8 s into a 3 s life, a new token */
	o = counting("3", counter, sizeof(counter));
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok1-a@b.c");
	usleep(2800 * 1000);
	assert_int_equal(oauth_token(o, "a@b.c", &tok, NULL, &err), 0);
	assert_string_equal(tok.p, "tok2-a@b.c");
	oauth_destroy(&o);
	buf_release(&tok);

	/* the margin: 10% of the life, at most a minute */
	assert_int_equal(oauth_renew_margin_ms(3000), 300);
	assert_int_equal(oauth_renew_margin_ms(300000), 30000);
	assert_int_equal(oauth_renew_margin_ms(600000), 60000);
	assert_int_equal(oauth_renew_margin_ms(3600000), 60000);
}

struct asker {
	struct oauth *o;
	const char *email;
	char token[100];
	int rc;
	struct err err;
};

static void *ask(void *arg)
{
	struct asker *a = arg;
	struct buf tok = BUF_INIT;

	err_clear(&a->err);
	a->rc = oauth_token(a->o, a->email, &tok, NULL, &a->err);
	snprintf(a->token, sizeof(a->token), "%s", tok.p);
	buf_release(&tok);
	return NULL;
}

static void run_askers(struct oauth *o, struct asker *a, int n,
		       const char *email)
{
	pthread_t th[8];
	int i;

	for (i = 0; i < n; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].o = o;
		a[i].email = email;
		assert_int_equal(pthread_create(&th[i], NULL, ask, &a[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void test_concurrent(void **state)
{
	struct oauth *o;
	struct asker a[8];
	char counter[200];
	int i;

	(void)state;
	o = counting("60", counter, sizeof(counter));
	run_askers(o, a, 8, "a@b.c");
	for (i = 0; i < 8; i++) {
		assert_int_equal(a[i].rc, 0);
		assert_string_equal(a[i].token, "tok1-a@b.c");
	}
	assert_int_equal(oauth_requests(o), 1);
	oauth_destroy(&o);

	/* a failing source: the waiters share the one failure */
	o = make("sh -c 'sleep 0.3; exit 4'", 0);
	run_askers(o, a, 8, "a@b.c");
	for (i = 0; i < 8; i++) {
		assert_int_equal(a[i].rc, -1);
		assert_int_equal(a[i].err.cls, ERR_AUTH);
		assert_non_null(strstr(a[i].err.msg, "status 4"));
	}
	assert_int_equal(oauth_requests(o), 1);
	oauth_destroy(&o);
}

static void test_create_errors(void **state)
{
	struct oauth_settings set;
	struct err err = ERR_INIT;

	(void)state;
	memset(&set, 0, sizeof(set));
	set.kind = OAUTH_TOKEN_COMMAND;
	set.label = "source";
	set.token_command = "get {mail}";
	assert_null(oauth_create(&set, &err));
	assert_int_equal(err.cls, ERR_USAGE);
	assert_non_null(
		strstr(err.msg, "endpoint source: token command: unknown"));
	set.token_command = NULL;
	assert_null(oauth_create(&set, &err));
	assert_int_equal(err.cls, ERR_USAGE);
	assert_string_equal(oauth_kind_name(OAUTH_TOKEN_COMMAND),
			    "token command");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_token_and_lifetime),
		cmocka_unit_test(test_no_shell),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_cache_and_margin),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_create_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
