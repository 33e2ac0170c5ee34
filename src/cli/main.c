/* main.c - imapmig: dispatch to a subcommand (git's git.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "util/log.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd commands[] = {
	{"test-server", cmd_test_server,
	 "check that an IMAP server answers, its TLS, and a login"},
	{"endpoint", cmd_endpoint,
	 "new/get/set/remove migration endpoints (source and target)"},
	{"batch", cmd_batch,
	 "new/get/start/stop/complete/remove/set migration batches"},
	{"user", cmd_user, "get/stats/start/stop/remove migration users"},
	{"sync", cmd_sync,
	 "run pending migrations in the foreground, with progress"},
	{"serve", cmd_serve,
	 "the scheduler: initial syncs, incremental syncs every 24h"},
	{"verify", cmd_verify,
	 "compare source and target afresh (--deep: byte for byte)"},
};

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: imapmig [--state PATH] [-v|-q] <command> [options]\n\n"
	      "commands:\n",
	      f);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fputs("\n'imapmig help <command>' (or '<command> --help') shows a "
	      "command's options.\n",
	      f);
}

static int run_help(const char *name)
{
	char *args[] = {(char *)name, (char *)"--help", NULL};
	size_t c;

	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(name, commands[c].name) == 0)
			return commands[c].fn(2, args) == 0 ? 0 : 2;
	return cli_usage_error("help: no command '%s': see 'imapmig help'",
			       name);
}

int main(int argc, char **argv)
{
	int i = 1;
	size_t c;

	/* Buffers hold passwords: no core dump may write them to disk, and
	 * not dumpable also keeps other processes of the user from reading
	 * this one's memory (ptrace, /proc/PID/mem). */
	{
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	/* A server closing the socket must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	cli_globals.state_path = getenv("IMAPMIG_STATE");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			cli_globals.state_path = argv[++i];
		} else if (strncmp(argv[i], "--state=", 8) == 0) {
			cli_globals.state_path = argv[i] + 8;
		} else if (strcmp(argv[i], "-v") == 0 ||
			   strcmp(argv[i], "--verbose") == 0) {
			cli_globals.verbose++;
		} else if (strcmp(argv[i], "-vv") == 0) {
			cli_globals.verbose += 2;
		} else if (strcmp(argv[i], "-q") == 0 ||
			   strcmp(argv[i], "--quiet") == 0) {
			cli_globals.quiet = 1;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			puts("imapmig 0.1.0");
			return 0;
		} else {
			/* never the value of "--x=value": it could be a
			 * password */
			return cli_bad_option(NULL, argv[i], "imapmig --help");
		}
	}
	if (cli_globals.quiet)
		log_set_level(LOG_ERROR);
	else if (cli_globals.verbose >= 2)
		log_set_level(LOG_TRACE);
	else if (cli_globals.verbose == 1)
		log_set_level(LOG_DEBUG);
	else
		log_set_level(LOG_WARN);
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "help") == 0) {
		/* imapmig help [COMMAND [SUBCOMMAND]] */
		if (i + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		return run_help(argv[i + 1]);
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) != 0)
			continue;
		/* --help anywhere after the command: its whole usage, the
		 * same for 'batch --help' and 'batch new --help' */
		for (int k = i + 1; k < argc; k++)
			if (strcmp(argv[k], "--help") == 0 ||
			    strcmp(argv[k], "-h") == 0)
				return run_help(argv[i]);
		return commands[c].fn(argc - i, argv + i);
	}
	return cli_usage_error("unknown command '%s': see 'imapmig --help'",
			       argv[i]);
}
