/* test_maildir.c - the Maildir++ writer (store/maildir.h): a folder name
 * with a control character cannot add lines or levels to subscriptions;
 * opening a target removes the partial files a dead run of this program
 * left in tmp/, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "store/maildir.h"
#include "util/err.h"

static char root[256];

static int setup(void **state)
{
	char tmpl[] = "/tmp/imapmig-test-maildir.XXXXXX";

	(void)state;
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(root, sizeof(root), "%s/Maildir", tmpl);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(root) - 8),
		 root);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	static char data[8192];
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = '\0';
	return data;
}

static void test_subscriptions_control_chars(void **state)
{
	struct err err = ERR_INIT;
	struct maildir *md;
	char file[512];
	struct stat sb;

	(void)state;
	md = maildir_open(root, 1, &err);
	assert_non_null(md);
	assert_int_equal(maildir_folder_create(md, "Plain", &err), 0);
	assert_int_equal(maildir_folder_create(md, "evil\nInjected", &err), 0);
	assert_int_equal(maildir_folder_create(md, "tab\there/sub", &err), 0);
	assert_int_equal(maildir_folder_create(md, "cr\rx", &err), 0);
	/* the folder exists (its name in modified UTF-7) */
	snprintf(file, sizeof(file), "%s/.evil&AAo-Injected/cur", root);
	assert_int_equal(stat(file, &sb), 0);
	maildir_close(&md);
	snprintf(file, sizeof(file), "%s/subscriptions", root);
	/* one line per folder (parents are not subscribed), levels split by
	 * a tab, control characters escaped as Dovecot does */
	assert_string_equal(slurp(file), "V\t2\n"
					 "Plain\n"
					 "evil\001nInjected\n"
					 "tab\001there\tsub\n"
					 "cr\001rx\n");
}

/* A file in dir/tmp/ with the given name and age. */
static void put(const char *dir, const char *name, time_t age)
{
	char p[2048];
	struct timeval tv[2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/tmp/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("partial", f);
	fclose(f);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age;
	tv[1] = tv[0];
	assert_int_equal(utimes(p, tv), 0);
}

static int there(const char *dir, const char *name)
{
	char p[2048];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/tmp/%s", dir, name);
	return stat(p, &sb) == 0;
}

static void test_tmp_cleanup(void **state)
{
	struct err err = ERR_INIT;
	struct maildir *md;
	char host[128], folder[512], dead_name[512], live_name[512],
		old_name[512], other_host[512], mine[512];
	const char *const foreign[] = {
		/* Dovecot's own, a user's: never ours to remove */
		"1700000000.M1P1.otherhost",
		"1700000000.M5P999999Q1T0badc0de_1_1.h",
		"imapmig.notapid.x",
		"notes.txt",
	};
	pid_t dead;
	size_t i, k;
	char *p;

	(void)state;
	md = maildir_open(root, 1, &err);
	assert_non_null(md);
	assert_int_equal(maildir_folder_create(md, "A", &err), 0);
	assert_int_equal(maildir_folder_create(md, "A/B", &err), 0);
	maildir_close(&md);
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	for (p = host; *p; p++)
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';
	/* a pid that ran and is gone */
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	snprintf(dead_name, sizeof(dead_name),
		 "imapmig.%d.1700000000.M1P%dQ1Tabc_1_2.%s", (int)dead,
		 (int)dead, host);
	snprintf(live_name, sizeof(live_name),
		 "imapmig.%d.1700000000.M1P%dQ1Tabc_1_2.%s", (int)getppid(),
		 (int)getppid(), host);
	snprintf(mine, sizeof(mine), "imapmig.%d.1700000000.M1P%dQ9.%s",
		 (int)getpid(), (int)getpid(), host);
	/* a living pid, but 37 hours old */
	snprintf(old_name, sizeof(old_name), "imapmig.%d.1600000000.M1P%dQ2.%s",
		 (int)getppid(), (int)getppid(), host);
	/* a dead pid on another host says nothing */
	snprintf(other_host, sizeof(other_host),
		 "imapmig.%d.1700000000.M1P%dQ3.not-%s", (int)dead, (int)dead,
		 host);
	for (k = 0; k < 3; k++) {
		if (k == 0)
			snprintf(folder, sizeof(folder), "%s", root);
		else
			snprintf(folder, sizeof(folder), "%s/%s", root,
				 k == 1 ? ".A" : ".A.B");
		put(folder, dead_name, 60);
		put(folder, live_name, 60);
		put(folder, old_name, 37 * 3600);
		put(folder, other_host, 60);
		put(folder, mine, 60);
		for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
			put(folder, foreign[i], 40 * 3600);
	}
	md = maildir_open(root, 1, &err);
	assert_non_null(md);
	maildir_close(&md);
	for (k = 0; k < 3; k++) {
		if (k == 0)
			snprintf(folder, sizeof(folder), "%s", root);
		else
			snprintf(folder, sizeof(folder), "%s/%s", root,
				 k == 1 ? ".A" : ".A.B");
		assert_false(there(folder, dead_name));
		assert_false(there(folder, old_name));
		assert_true(there(folder, live_name));
		assert_true(there(folder, other_host));
		assert_true(there(folder, mine));
		for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
			assert_true(there(folder, foreign[i]));
	}
}

/* A message being written sits in tmp/ under the name tmp_clean knows. */
/* A root whose cur/ would be longer than PATH_MAX: an error naming the
 * path, never a directory made at a truncated path ("<root>/c"). */
static void test_long_path(void **state)
{
	char *path = malloc(4200), *cut;
	struct err err = ERR_INIT;
	struct maildir *md;
	struct stat sb;
	size_t len;

	(void)state;
	snprintf(path, 4200, "%s", root);
	while ((len = strlen(path)) < 4093) {
		size_t n = 4093 - len - 1 > 200 ? 200 : 4093 - len - 1;
		path[len] = '/';
		memset(path + len + 1, 'd', n);
		path[len + 1 + n] = '\0';
	}
	assert_int_equal(strlen(path), 4093);
	md = maildir_open(path, 1, &err);
	assert_null(md);
	assert_non_null(strstr(err.msg, "cannot create"));
	cut = malloc(4200);
	snprintf(cut, 4200, "%s/c", path);
	assert_int_not_equal(stat(cut, &sb), 0);
	free(cut);
	free(path);
}

static void test_tmp_name(void **state)
{
	struct err err = ERR_INIT;
	struct maildir *md;
	struct maildir_msg *m;
	char prefix[64], p[512];
	struct dirent *de;
	DIR *d;
	int seen = 0;

	(void)state;
	md = maildir_open(root, 1, &err);
	assert_non_null(md);
	m = maildir_msg_begin(md, "INBOX", "abc.1.2", &err);
	assert_non_null(m);
	assert_int_equal(maildir_msg_write(m, "x", 1, &err), 0);
	snprintf(prefix, sizeof(prefix), "imapmig.%d.", (int)getpid());
	snprintf(p, sizeof(p), "%s/tmp", root);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			seen++;
	closedir(d);
	assert_int_equal(seen, 1);
	maildir_msg_abort(&m);
	maildir_close(&md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_subscriptions_control_chars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_cleanup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tmp_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_path, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
