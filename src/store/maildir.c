/* maildir.c - the Maildir++ writer (maildir.h): the handle, directories
 * made durable as they are created, folder names (Maildir++ and modified
 * UTF-7), folders and their subscriptions, and the deferred directory
 * syncs.  See maildir_priv.h for the other files. */
#include "store/maildir_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/write.h"
#include "util/escape.h"
#include "util/log.h"
#include "util/xalloc.h"

int md_sys_err(struct err *err, const char *what, const char *path)
{
	int e = errno;

	return err_set(err, ERR_LOCAL, EC_IO, "%s %s: %s%s", what, path,
		       strerror(e),
		       e == ENOSPC || e == EDQUOT
			       ? ": free disk space and run again (nothing is "
				 "lost: the message is copied on resume)"
			       : "");
}

/* Make the directory entries in dir durable (a new file or directory in
 * it, a rename into it). */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* fsync the parent directory of path, which was just created there. */
static int fsync_parent(const char *path)
{
	char *c = xstrdup(path), *s = strrchr(c, '/');
	int ret;

	if (s == NULL)
		ret = fsync_dir(".");
	else if (s == c)
		ret = fsync_dir("/");
	else {
		*s = '\0';
		ret = fsync_dir(c);
	}
	free(c);
	return ret;
}

/* mkdir -p; every directory it creates is made durable in its parent. */
static int mkdir_p(const char *path)
{
	if (mkdir(path, 0700) == 0)
		return fsync_parent(path);
	if (errno == EEXIST)
		return 0;
	if (errno == ENOENT) {
		char *c = xstrdup(path), *s = strrchr(c, '/');
		int r = -1;
		if (s != NULL && s != c) {
			*s = '\0';
			r = mkdir_p(c);
		}
		free(c);
		if (r < 0)
			return -1;
		if (mkdir(path, 0700) == 0)
			return fsync_parent(path);
		if (errno == EEXIST)
			return 0;
	}
	return -1;
}

static int make_maildir(const char *dir, int folder, struct err *err)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	struct buf p = BUF_INIT;
	size_t i;
	int changed = 0, ret = -1;

	if (mkdir_p(dir) < 0)
		return md_sys_err(err, "cannot create", dir);
	for (i = 0; i < 3; i++) {
		buf_reset(&p);
		buf_addf(&p, "%s/%s", dir, subs[i]);
		if (mkdir(p.p, 0700) == 0)
			changed = 1;
		else if (errno != EEXIST)
			goto fail;
	}
	if (folder) {
		int fd;
		buf_reset(&p);
		buf_addf(&p, "%s/maildirfolder", dir);
		fd = open(p.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			goto fail;
		if (fd >= 0) {
			close(fd);
			changed = 1;
		}
	}
	/* cur/ new/ tmp/ and maildirfolder must survive a crash with the
	 * folder: a folder without them is no Maildir */
	ret = 0;
	if (changed && fsync_dir(dir) < 0)
		ret = md_sys_err(err, "cannot sync", dir);
	buf_release(&p);
	return ret;
fail:
	md_sys_err(err, "cannot create", p.p);
	buf_release(&p);
	return -1;
}

struct maildir *maildir_open(const char *root, int create, struct err *err)
{
	struct maildir *md = xcalloc(1, sizeof(*md));
	char *p;

	md->root = xstrdup(root);
	if (gethostname(md->host, sizeof(md->host) - 1) < 0)
		snprintf(md->host, sizeof(md->host), "localhost");
	for (p = md->host; *p; p++)
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';
	if (create && make_maildir(root, 0, err) < 0) {
		maildir_close(&md);
		return NULL;
	}
	md_tmp_clean(md);
	return md;
}

void maildir_close(struct maildir **mdp)
{
	struct maildir *md = *mdp;

	if (md == NULL)
		return;
	*mdp = NULL;
	md_tags_clear(md);
	md_kw_clear(md);
	while (md->n_dirty > 0)
		free(md->dirty[--md->n_dirty]);
	free(md->dirty);
	free(md->root);
	free(md);
}

/* The directory of a folder. */
int md_folder_dir(struct maildir *md, const char *path, struct buf *out,
		  struct err *err)
{
	const char *p = path;

	buf_addstr(out, md->root);
	if (path[0] == '\0' || strcasecmp(path, "INBOX") == 0)
		return 0;
	buf_addstr(out, "/");
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p), i;
		struct buf enc = BUF_INIT;
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			buf_release(&enc);
			return err_set(err, ERR_FOLDER, EC_NONE,
				       "folder name \"%s\" has an empty or "
				       "dot level",
				       path);
		}
		if (imap_utf8_to_mutf7(p, n, &enc) < 0) {
			buf_release(&enc);
			return err_set(err, ERR_FOLDER, EC_NONE,
				       "folder name \"%s\" is not valid UTF-8",
				       path);
		}
		buf_addch(out, '.');
		for (i = 0; i < enc.len; i++)
			buf_addch(out, enc.p[i] == '.' ? '_' : enc.p[i]);
		buf_release(&enc);
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* A subscriptions line: the levels tab-escaped as Dovecot writes them
 * (\001 -> \0011, TAB -> \001t, CR -> \001r, LF -> \001n), separated by
 * tabs, so no name can add a line or a level.  Returns whether anything
 * had to be escaped. */
static int subscription_line(const char *path, struct buf *out)
{
	const char *p;
	int escaped = 0;

	for (p = path; *p; p++) {
		char e = *p == '\001' ? '1'
			 : *p == '\t' ? 't'
			 : *p == '\r' ? 'r'
			 : *p == '\n' ? 'n'
				      : 0;
		if (*p == '/') {
			buf_addch(out, '\t');
		} else if (e != 0) {
			buf_addch(out, '\001');
			buf_addch(out, e);
			escaped = 1;
		} else {
			buf_addch(out, *p);
		}
	}
	return escaped;
}

static void subscribe(struct maildir *md, const char *path)
{
	struct buf want = BUF_INIT, file = BUF_INIT;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int found = 0, empty = 1;

	if (subscription_line(path, &want))
		log_info("folder \"%s\" has a control character in its name: "
			 "subscribed under its escaped name",
			 esc(path));
	buf_addf(&file, "%s/subscriptions", md->root);
	f = fopen(file.p, "r");
	if (f != NULL) {
		/* whole lines: a name over a fixed buffer would never match */
		while (getline(&line, &cap, f) != -1) {
			line[strcspn(line, "\n")] = '\0';
			empty = 0;
			if (strcmp(line, want.p) == 0)
				found = 1;
		}
		fclose(f);
	}
	free(line);
	if (!found) {
		f = fopen(file.p, "a");
		if (f != NULL) {
			if (empty)
				fputs("V\t2\n", f);
			fprintf(f, "%s\n", want.p);
			fclose(f);
		}
	}
	buf_release(&want);
	buf_release(&file);
}

int maildir_folder_create(struct maildir *md, const char *utf8_path,
			  struct err *err)
{
	struct buf dir = BUF_INIT;
	int ret;

	if (utf8_path[0] == '\0' || strcasecmp(utf8_path, "INBOX") == 0)
		return make_maildir(md->root, 0, err);
	ret = md_folder_dir(md, utf8_path, &dir, err);
	if (ret == 0) {
		struct stat sb;
		int existed = stat(dir.p, &sb) == 0;
		ret = make_maildir(dir.p, 1, err);
		if (ret == 0 && !existed)
			subscribe(md, utf8_path);
	}
	buf_release(&dir);
	return ret;
}

int maildir_folder_list(struct maildir *md, char ***names_r, size_t *n_r,
			struct err *err)
{
	DIR *d = opendir(md->root);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*names_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return errno == ENOENT
			       ? 0
			       : md_sys_err(err, "cannot read", md->root);
	while ((de = readdir(d)) != NULL) {
		struct buf name = BUF_INIT, lvl = BUF_INIT;
		const char *p;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* ".A.B" -> "A/B", each level from modified UTF-7 */
		for (p = de->d_name + 1;; p++) {
			if (*p == '.' || *p == '\0') {
				if (imap_mutf7_to_utf8(lvl.p, lvl.len, &name) <
				    0)
					buf_add(&name, lvl.p, lvl.len);
				buf_reset(&lvl);
				if (*p == '\0')
					break;
				buf_addch(&name, '/');
			} else {
				buf_addch(&lvl, *p);
			}
		}
		buf_release(&lvl);
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = buf_detach(&name, NULL);
	}
	closedir(d);
	*names_r = v;
	*n_r = n;
	return 0;
}

void maildir_set_deferred_sync(struct maildir *md, int on)
{
	md->deferred = on;
}

int maildir_sync_dirs(struct maildir *md, struct err *err)
{
	int ret = 0;

	while (md->n_dirty > 0) {
		char *d = md->dirty[--md->n_dirty];
		int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if ((fd < 0 || fsync(fd) < 0) && ret == 0)
			ret = md_sys_err(err, "cannot sync", d);
		if (fd >= 0)
			close(fd);
		free(d);
	}
	return ret;
}
