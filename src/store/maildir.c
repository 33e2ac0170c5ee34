/* maildir.c - see maildir.h. */
#include "store/maildir.h"
#include "store/maildir_names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "imap/write.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/escape.h"
#include "util/log.h"
#include "util/xalloc.h"

struct maildir {
	char *root;
	char host[128];
	unsigned counter;
	/* tags of one folder, sorted, for find */
	char *tags_folder;
	char **tags;
	size_t n_tags;
	/* directories renamed into since the last maildir_sync_dirs() */
	int deferred;
	char **dirty;
	size_t n_dirty;
	/* keywords of one folder */
	char *kw_folder;
	char *kw[26];
	size_t n_kw;
};

struct maildir_msg {
	struct maildir *md;
	char *dir;  /* folder directory */
	char *base; /* base name without size and flags */
	char *tmp_path;
	int fd;
	unsigned long long size;
};

static int sys_err(struct err *err, const char *what, const char *path)
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
	char p[4096];
	size_t i;
	int changed = 0;

	if (mkdir_p(dir) < 0)
		return sys_err(err, "cannot create", dir);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		if (mkdir(p, 0700) == 0)
			changed = 1;
		else if (errno != EEXIST)
			return sys_err(err, "cannot create", p);
	}
	if (folder) {
		int fd;
		snprintf(p, sizeof(p), "%s/maildirfolder", dir);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return sys_err(err, "cannot create", p);
		if (fd >= 0) {
			close(fd);
			changed = 1;
		}
	}
	/* cur/ new/ tmp/ and maildirfolder must survive a crash with the
	 * folder: a folder without them is no Maildir */
	if (changed && fsync_dir(dir) < 0)
		return sys_err(err, "cannot sync", dir);
	return 0;
}

/* The partial files of this program in tmp/: "imapmig.<pid>.<base>",
 * base ending in ".<host>". */
#define TMP_PREFIX "imapmig."
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
	char tmp[4200];
	DIR *d;
	struct dirent *de;

	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	d = opendir(tmp);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char file[4500];
		struct stat sb;
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", tmp, de->d_name);
		if (lstat(file, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    !tmp_abandoned(md, de->d_name, sb.st_mtime, now))
			continue;
		if (unlink(file) == 0)
			log_info("removed %s, a partial message an "
				 "interrupted run left behind",
				 esc(file));
		else if (errno != ENOENT)
			log_warn(
				"cannot remove %s, a partial message an "
				"interrupted run left behind: %s (it is "
				"never visible to a reader; remove it by hand)",
				esc(file), strerror(errno));
	}
	closedir(d);
}

/* tmp/ of the root and of each folder. */
static void tmp_clean(struct maildir *md)
{
	time_t now = time(NULL);
	DIR *d;
	struct dirent *de;

	tmp_clean_dir(md, md->root, now);
	d = opendir(md->root);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char dir[4200];
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", md->root, de->d_name);
		tmp_clean_dir(md, dir, now);
	}
	closedir(d);
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
	tmp_clean(md);
	return md;
}

static void tags_clear(struct maildir *md)
{
	size_t i;

	for (i = 0; i < md->n_tags; i++)
		free(md->tags[i]);
	free(md->tags);
	md->tags = NULL;
	md->n_tags = 0;
	free(md->tags_folder);
	md->tags_folder = NULL;
}

static void kw_clear(struct maildir *md)
{
	size_t i;

	for (i = 0; i < md->n_kw; i++)
		free(md->kw[i]);
	md->n_kw = 0;
	free(md->kw_folder);
	md->kw_folder = NULL;
}

void maildir_close(struct maildir **mdp)
{
	struct maildir *md = *mdp;

	if (md == NULL)
		return;
	*mdp = NULL;
	tags_clear(md);
	kw_clear(md);
	while (md->n_dirty > 0)
		free(md->dirty[--md->n_dirty]);
	free(md->dirty);
	free(md->root);
	free(md);
}

/* The directory of a folder. */
static int folder_dir(struct maildir *md, const char *path, struct buf *out,
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
	char file[4096];
	struct buf want = BUF_INIT;
	FILE *f;
	char line[4096];
	int found = 0, empty = 1;

	if (subscription_line(path, &want))
		log_info("folder \"%s\" has a control character in its name: "
			 "subscribed under its escaped name",
			 esc(path));
	snprintf(file, sizeof(file), "%s/subscriptions", md->root);
	f = fopen(file, "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			empty = 0;
			if (strcmp(line, want.p) == 0)
				found = 1;
		}
		fclose(f);
	}
	if (!found) {
		f = fopen(file, "a");
		if (f != NULL) {
			if (empty)
				fputs("V\t2\n", f);
			fprintf(f, "%s\n", want.p);
			fclose(f);
		}
	}
	buf_release(&want);
}

int maildir_folder_create(struct maildir *md, const char *utf8_path,
			  struct err *err)
{
	struct buf dir = BUF_INIT;
	int ret;

	if (utf8_path[0] == '\0' || strcasecmp(utf8_path, "INBOX") == 0)
		return make_maildir(md->root, 0, err);
	ret = folder_dir(md, utf8_path, &dir, err);
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
		return errno == ENOENT ? 0
				       : sys_err(err, "cannot read", md->root);
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

void maildir_tag_component(const char *tag, struct buf *out)
{
	const char *p;

	for (p = tag; *p; p++)
		buf_addch(out,
			  (*p == '.' || *p == '/' || *p == ':' || *p == ',')
				  ? '_'
				  : *p);
}

struct maildir_msg *maildir_msg_begin(struct maildir *md, const char *utf8_path,
				      const char *tag, struct err *err)
{
	struct maildir_msg *m;
	struct buf dir = BUF_INIT, base = BUF_INIT, tmp = BUF_INIT;
	struct timeval tv;

	if (folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return NULL;
	}
	gettimeofday(&tv, NULL);
	buf_addf(&base, "%lld.M%ldP%dQ%u", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (int)getpid(), ++md->counter);
	if (tag != NULL && tag[0]) {
		buf_addch(&base, 'T');
		maildir_tag_component(tag, &base);
	}
	buf_addf(&base, ".%s", md->host);
	/* in tmp/ under a name only this program writes, with the writer's
	 * pid: a later run removes it if the writer is dead (tmp_clean) */
	buf_addf(&tmp, "%s/tmp/" TMP_PREFIX "%d.%s", dir.p, (int)getpid(),
		 base.p);
	m = xcalloc(1, sizeof(*m));
	m->md = md;
	m->fd = open(tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		sys_err(err, "cannot create", tmp.p);
		buf_release(&dir);
		buf_release(&base);
		buf_release(&tmp);
		free(m);
		return NULL;
	}
	m->dir = buf_detach(&dir, NULL);
	m->base = buf_detach(&base, NULL);
	m->tmp_path = buf_detach(&tmp, NULL);
	return m;
}

int maildir_msg_write(struct maildir_msg *m, const void *data, size_t len,
		      struct err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(m->fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return sys_err(err, "cannot write", m->tmp_path);
		}
		p += w;
		len -= (size_t)w;
		m->size += (unsigned long long)w;
	}
	return 0;
}

static void msg_free(struct maildir_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->dir);
	free(m->base);
	free(m->tmp_path);
	free(m);
}

void maildir_msg_abort(struct maildir_msg **mp)
{
	struct maildir_msg *m = *mp;

	if (m == NULL)
		return;
	*mp = NULL;
	unlink(m->tmp_path);
	msg_free(m);
}

void maildir_keywords_read(FILE *f, char *kw[26], size_t *n_kw)
{
	char *line = NULL;
	size_t cap = 0;

	/* whole lines: a fixed buffer would cut a long keyword and read its
	 * tail as a line of its own */
	while (getline(&line, &cap, f) != -1) {
		char *sp = strchr(line, ' ');
		long idx = strtol(line, NULL, 10);
		if (sp == NULL || idx < 0 || idx >= 26)
			continue;
		sp[strcspn(sp, "\n")] = '\0';
		while ((size_t)idx >= *n_kw)
			kw[(*n_kw)++] = xstrdup("");
		free(kw[idx]);
		kw[idx] = xstrdup(sp + 1);
	}
	free(line);
}

/* Load (once per folder) and extend dovecot-keywords; letters for kws. */
static int keyword_letters(struct maildir *md, const char *dir,
			   const char *const *kws, size_t n, struct buf *out,
			   struct err *err)
{
	char file[4096];
	size_t i, k;
	int changed = 0;
	FILE *f;

	if (md->kw_folder == NULL || strcmp(md->kw_folder, dir) != 0) {
		kw_clear(md);
		md->kw_folder = xstrdup(dir);
		snprintf(file, sizeof(file), "%s/dovecot-keywords", dir);
		f = fopen(file, "r");
		if (f != NULL) {
			maildir_keywords_read(f, md->kw, &md->n_kw);
			fclose(f);
		}
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < md->n_kw; k++)
			if (strcmp(md->kw[k], kws[i]) == 0)
				break;
		if (k == md->n_kw) {
			if (md->n_kw == 26)
				continue; /* Maildir has 26 letters */
			md->kw[md->n_kw++] = xstrdup(kws[i]);
			changed = 1;
		}
		buf_addch(out, (char)('a' + k));
	}
	if (changed) {
		char tmp[4200];
		snprintf(file, sizeof(file), "%s/dovecot-keywords", dir);
		snprintf(tmp, sizeof(tmp), "%s.imapmig-tmp", file);
		f = fopen(tmp, "w");
		if (f == NULL)
			return sys_err(err, "cannot write", tmp);
		for (k = 0; k < md->n_kw; k++)
			fprintf(f, "%zu %s\n", k, md->kw[k]);
		if (fclose(f) != 0 || rename(tmp, file) < 0)
			return sys_err(err, "cannot write", file);
	}
	return 0;
}

static int cmp_char(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

static int info_letters(struct maildir *md, const char *dir, unsigned flags,
			const char *const *keywords, size_t n_keywords,
			struct buf *info, struct err *err);

int maildir_msg_commit(struct maildir_msg **mp, unsigned flags,
		       const char *const *keywords, size_t n_keywords,
		       time_t internaldate, char **name_r, struct err *err)
{
	struct maildir_msg *m = *mp;
	struct buf info = BUF_INIT, final = BUF_INIT, name = BUF_INIT;
	struct timespec ts[2];
	int dfd, ret = -1;

	*name_r = NULL;
	if (flags & MD_FLAG_DRAFT)
		buf_addch(&info, 'D');
	if (flags & MD_FLAG_FLAGGED)
		buf_addch(&info, 'F');
	if (flags & MD_FLAG_ANSWERED)
		buf_addch(&info, 'R');
	if (flags & MD_FLAG_SEEN)
		buf_addch(&info, 'S');
	if (flags & MD_FLAG_DELETED)
		buf_addch(&info, 'T');
	if (keyword_letters(m->md, m->dir, keywords, n_keywords, &info, err) <
	    0)
		goto out;
	if (info.len > 1)
		qsort(info.p, info.len, 1, cmp_char);
	buf_addf(&name, "%s,S=%llu:2,%s", m->base, m->size, info.p);
	buf_addf(&final, "%s/cur/%s", m->dir, name.p);
	ts[0].tv_sec = ts[1].tv_sec = internaldate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fsync(m->fd) < 0) {
		sys_err(err, "cannot sync", m->tmp_path);
		goto out;
	}
	if (futimens(m->fd, ts) < 0) {
		sys_err(err, "cannot set the date of", m->tmp_path);
		goto out;
	}
	if (close(m->fd) < 0) {
		m->fd = -1;
		sys_err(err, "cannot write", m->tmp_path);
		goto out;
	}
	m->fd = -1;
	if (rename(m->tmp_path, final.p) < 0) {
		sys_err(err, "cannot move into place", final.p);
		goto out;
	}
	if (m->md->deferred) {
		char cur[4200];
		size_t k;
		snprintf(cur, sizeof(cur), "%s/cur", m->dir);
		for (k = 0; k < m->md->n_dirty; k++)
			if (strcmp(m->md->dirty[k], cur) == 0)
				break;
		if (k == m->md->n_dirty) {
			m->md->dirty = xrealloc(m->md->dirty,
						(k + 1) * sizeof(char *));
			m->md->dirty[m->md->n_dirty++] = xstrdup(cur);
		}
	} else {
		char cur[4200];
		snprintf(cur, sizeof(cur), "%s/cur", m->dir);
		dfd = open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			sys_err(err, "cannot sync", cur);
			if (dfd >= 0)
				close(dfd);
			/* the file is in place but may not survive a crash:
			 * report it as not confirmed; resume finds it */
			goto out_placed;
		}
		close(dfd);
	}
	*name_r = buf_detach(&name, NULL);
	ret = 0;
	goto out_placed;
out:
	unlink(m->tmp_path);
out_placed:
	buf_release(&info);
	buf_release(&final);
	buf_release(&name);
	msg_free(m);
	*mp = NULL;
	return ret;
}

static int info_letters(struct maildir *md, const char *dir, unsigned flags,
			const char *const *keywords, size_t n_keywords,
			struct buf *info, struct err *err)
{
	if (flags & MD_FLAG_DRAFT)
		buf_addch(info, 'D');
	if (flags & MD_FLAG_FLAGGED)
		buf_addch(info, 'F');
	if (flags & MD_FLAG_ANSWERED)
		buf_addch(info, 'R');
	if (flags & MD_FLAG_SEEN)
		buf_addch(info, 'S');
	if (flags & MD_FLAG_DELETED)
		buf_addch(info, 'T');
	if (keyword_letters(md, dir, keywords, n_keywords, info, err) < 0)
		return -1;
	if (info->len > 1)
		qsort(info->p, info->len, 1, cmp_char);
	return 0;
}

int maildir_set_flags(struct maildir *md, const char *utf8_path,
		      const char *name, unsigned flags,
		      const char *const *keywords, size_t n_keywords,
		      char **new_name_r, struct err *err)
{
	struct buf dir = BUF_INIT, info = BUF_INIT, from = BUF_INIT,
		   to = BUF_INIT, base = BUF_INIT;
	int ret = -1;

	*new_name_r = NULL;
	if (folder_dir(md, utf8_path, &dir, err) < 0)
		goto out;
	buf_add(&base, name, maildir_name_base_len(name));
	if (info_letters(md, dir.p, flags, keywords, n_keywords, &info, err) <
	    0)
		goto out;
	buf_addf(&from, "%s/cur/%s", dir.p, name);
	buf_addf(&to, "%s/cur/%s:2,%s", dir.p, base.p, info.p);
	if (strcmp(from.p, to.p) != 0 && rename(from.p, to.p) < 0) {
		if (errno == ENOENT) {
			/* gone (a user deleted it on the target): nothing
			 * to update */
			ret = 0;
			goto out;
		}
		sys_err(err, "cannot rename", from.p);
		goto out;
	}
	*new_name_r = xasprintf("%s:2,%s", base.p, info.p);
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&info);
	buf_release(&from);
	buf_release(&to);
	buf_release(&base);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries are "tag\tname"; a key is a bare tag. */
static int cmp_tag(const void *key, const void *entry)
{
	const char *k = *(char *const *)key, *e = *(char *const *)entry;
	size_t kl = strlen(k);
	int c = strncmp(k, e, kl);

	if (c != 0)
		return c;
	return e[kl] == '\t' ? 0 : -1;
}

int maildir_name_tag(const char *name, const char **tag_r, size_t *len_r)
{
	const char *t = strchr(name, 'T'), *e;
	/* the tag sits between "Q<n>T" and ".host" */
	const char *q = strstr(name, "Q");

	if (q == NULL || t == NULL || t < q)
		return -1;
	e = strchr(t, '.');
	if (e == NULL)
		return -1;
	*tag_r = t + 1;
	*len_r = (size_t)(e - t - 1);
	return 0;
}

int maildir_name_has_size(const char *name, unsigned long long size)
{
	char want[40];
	const char *sz;

	snprintf(want, sizeof(want), ",S=%llu", size);
	sz = strstr(name, want);
	return sz != NULL &&
	       (sz[strlen(want)] == ':' || sz[strlen(want)] == ',' ||
		sz[strlen(want)] == '\0');
}

size_t maildir_name_base_len(const char *name)
{
	const char *colon = strstr(name, ":2,");

	return colon ? (size_t)(colon - name) : strlen(name);
}

static void scan_tags(struct maildir *md, const char *dir)
{
	tags_clear(md);
	md->tags_folder = xstrdup(dir);
	{
		char p[4200];
		DIR *d;
		struct dirent *de;
		/* only ever written into cur/, complete (renamed from tmp/
		 * after an fsync) */
		snprintf(p, sizeof(p), "%s/cur", dir);
		d = opendir(p);
		if (d != NULL) {
			while ((de = readdir(d)) != NULL) {
				const char *t;
				size_t tl;
				if (maildir_name_tag(de->d_name, &t, &tl) < 0)
					continue;
				md->tags = xrealloc(md->tags,
						    (md->n_tags + 1) *
							    sizeof(char *));
				md->tags[md->n_tags++] = xasprintf(
					"%.*s\t%s", (int)tl, t, de->d_name);
			}
			closedir(d);
		}
	}
	if (md->n_tags > 1)
		qsort(md->tags, md->n_tags, sizeof(char *), cmp_str);
}

int maildir_find_tag(struct maildir *md, const char *utf8_path, const char *tag,
		     char **name_r, struct err *err)
{
	struct buf dir = BUF_INIT, want = BUF_INIT;
	const char *key;
	char **hit;

	*name_r = NULL;
	if (folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return -1;
	}
	if (md->tags_folder == NULL || strcmp(md->tags_folder, dir.p) != 0)
		scan_tags(md, dir.p);
	maildir_tag_component(tag, &want);
	key = want.p;
	hit = md->n_tags > 0 ? bsearch(&key, md->tags, md->n_tags,
				       sizeof(char *), cmp_tag)
			     : NULL;
	if (hit != NULL)
		*name_r = xstrdup(strchr(*hit, '\t') + 1);
	buf_release(&dir);
	buf_release(&want);
	return 0;
}

static int file_sha256(const char *path, unsigned char out[32])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	char chunk[65536];
	EVP_MD_CTX *md;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		EVP_DigestUpdate(md, chunk, n);
	EVP_DigestFinal_ex(md, d, &dl);
	EVP_MD_CTX_free(md);
	if (ferror(f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	memcpy(out, d, 32);
	return 0;
}

static int claimed_has(const char *const *claimed, size_t n, const char *ref)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(claimed[mid], ref);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int maildir_find_content(struct maildir *md, const char *utf8_path,
			 unsigned long long size, const unsigned char *sha256,
			 const char *const *claimed, size_t n_claimed,
			 char **name_r, struct err *err)
{
	static const char *const subs[] = {"cur", "new"};
	struct buf dir = BUF_INIT;
	size_t i;

	*name_r = NULL;
	if (folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return -1;
	}
	for (i = 0; i < 2 && *name_r == NULL; i++) {
		char p[4200];
		DIR *d;
		struct dirent *de;
		snprintf(p, sizeof(p), "%s/%s", dir.p, subs[i]);
		d = opendir(p);
		if (d == NULL)
			continue;
		while (*name_r == NULL && (de = readdir(d)) != NULL) {
			unsigned char h[32];
			char file[4500];
			if (!maildir_name_has_size(de->d_name, size))
				continue;
			if (claimed_has(claimed, n_claimed, de->d_name))
				continue;
			snprintf(file, sizeof(file), "%s/%s", p, de->d_name);
			if (file_sha256(file, h) == 0 &&
			    memcmp(h, sha256, 32) == 0)
				*name_r = xstrdup(de->d_name);
		}
		closedir(d);
	}
	buf_release(&dir);
	return 0;
}

int maildir_list_msgs(struct maildir *md, const char *utf8_path,
		      struct store_copy_list *out, struct err *err)
{
	static const char *const subs[] = {"cur", "new"};
	struct buf dir = BUF_INIT;
	size_t i;

	if (folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		char p[4200];
		DIR *d;
		struct dirent *de;
		snprintf(p, sizeof(p), "%s/%s", dir.p, subs[i]);
		d = opendir(p);
		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			char file[4500];
			struct stat sb;
			if (de->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", p, de->d_name);
			if (stat(file, &sb) < 0 || !S_ISREG(sb.st_mode))
				continue;
			store_copy_list_add(out, de->d_name,
					    (uint64_t)sb.st_size, sb.st_mtime);
		}
		closedir(d);
	}
	buf_release(&dir);
	return 0;
}

int maildir_file_sha256(struct maildir *md, const char *utf8_path,
			const char *name, unsigned char out[32],
			struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	int ret = -1;

	if (folder_dir(md, utf8_path, &dir, err) < 0)
		goto out;
	buf_addf(&file, "%s/cur/%s", dir.p, name);
	if (file_sha256(file.p, out) < 0) {
		buf_reset(&file);
		buf_addf(&file, "%s/new/%s", dir.p, name);
		if (file_sha256(file.p, out) < 0) {
			ret = 1; /* no such file */
			goto out;
		}
	}
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
}

int maildir_remove(struct maildir *md, const char *utf8_path, const char *name,
		   struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	int ret = -1;

	if (folder_dir(md, utf8_path, &dir, err) < 0)
		goto out;
	buf_addf(&file, "%s/cur/%s", dir.p, name);
	if (unlink(file.p) < 0 && errno != ENOENT) {
		sys_err(err, "cannot remove", file.p);
		goto out;
	}
	tags_clear(md);
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
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
			ret = sys_err(err, "cannot sync", d);
		if (fd >= 0)
			close(fd);
		free(d);
	}
	return ret;
}
