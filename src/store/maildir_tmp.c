/* maildir_tmp.c - removing the partial files that dead runs left in tmp/
 * (maildir.h): this program's "imapmig.<pid>.<base>" files whose writer is
 * gone or that are older than 36 hours, and nothing else. */
#include "store/maildir_priv.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/escape.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Dovecot's rule for a stale file in tmp/ */
#define TMP_STALE_SECS (36 * 3600)

/* Is the tmp/ file name one this program wrote, and is it abandoned: its
 * writer (this host, another pid) no longer runs, or it is older than
 * 36 hours?  A file of a living writer, or not ours, is left alone. */
static int tmp_abandoned(const struct maildir *md, const char *name,
			 time_t mtime, time_t now)
{
	const char *p = name + strlen(TMP_PREFIX);
	size_t nl = strlen(name), hl = strlen(md->host);
	char *end;
	long pid;

	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
		return 0;
	pid = strtol(p, &end, 10);
	if (end == p || *end != '.' || pid <= 0)
		return 0;
	if (now - mtime > TMP_STALE_SECS)
		return 1;
	/* a pid says something only on the host that wrote the file */
	if (nl < hl + 1 || name[nl - hl - 1] != '.' ||
	    strcmp(name + nl - hl, md->host) != 0)
		return 0;
	if (pid == (long)getpid())
		return 0; /* another handle of this process: alive */
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Remove the abandoned partial files (tmp_abandoned) of dir/tmp/. */
static void tmp_clean_dir(struct maildir *md, const char *dir, time_t now)
{
	struct buf file = BUF_INIT;
	size_t plen;
	DIR *d;
	struct dirent *de;

	buf_addf(&file, "%s/tmp/", dir);
	plen = file.len;
	d = opendir(file.p);
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct stat sb;
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		buf_setlen(&file, plen);
		buf_addstr(&file, de->d_name);
		if (lstat(file.p, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    !tmp_abandoned(md, de->d_name, sb.st_mtime, now))
			continue;
		if (unlink(file.p) == 0)
			log_info("removed %s, a partial message an "
				 "interrupted run left behind",
				 esc(file.p));
		else if (errno != ENOENT)
			log_warn(
				"cannot remove %s, a partial message an "
				"interrupted run left behind: %s (it is "
				"never visible to a reader; remove it by hand)",
				esc(file.p), strerror(errno));
	}
	if (d != NULL)
		closedir(d);
	buf_release(&file);
}

/* tmp/ of the root and of each folder. */
void md_tmp_clean(struct maildir *md)
{
	time_t now = time(NULL);
	DIR *d;
	struct dirent *de;

	tmp_clean_dir(md, md->root, now);
	d = opendir(md->root);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *dir;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		dir = xasprintf("%s/%s", md->root, de->d_name);
		tmp_clean_dir(md, dir, now);
		free(dir);
	}
	closedir(d);
}
