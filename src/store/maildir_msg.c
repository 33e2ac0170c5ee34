/* maildir_msg.c - a message's file (maildir.h): streamed into tmp/,
 * committed into cur/ (fsync, mtime := INTERNALDATE, rename, directory
 * sync now or deferred), its flags and keywords as the info letters of
 * its name, and its removal. */
#include "store/maildir_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/xalloc.h"

struct maildir_msg *maildir_msg_begin(struct maildir *md, const char *utf8_path,
				      const char *tag, struct err *err)
{
	struct maildir_msg *m;
	struct buf dir = BUF_INIT, base = BUF_INIT, tmp = BUF_INIT;
	struct timeval tv;

	if (md_folder_dir(md, utf8_path, &dir, err) < 0) {
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
		md_sys_err(err, "cannot create", tmp.p);
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
			return md_sys_err(err, "cannot write", m->tmp_path);
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

void md_kw_clear(struct maildir *md)
{
	size_t i;

	for (i = 0; i < md->n_kw; i++)
		free(md->kw[i]);
	md->n_kw = 0;
	free(md->kw_folder);
	md->kw_folder = NULL;
}

/* Load (once per folder) and extend dovecot-keywords; letters for kws. */
static int keyword_letters(struct maildir *md, const char *dir,
			   const char *const *kws, size_t n, struct buf *out,
			   struct err *err)
{
	struct buf file = BUF_INIT, tmp = BUF_INIT;
	size_t i, k;
	int changed = 0, ret = 0;
	FILE *f;

	buf_addf(&file, "%s/dovecot-keywords", dir);
	if (md->kw_folder == NULL || strcmp(md->kw_folder, dir) != 0) {
		md_kw_clear(md);
		md->kw_folder = xstrdup(dir);
		f = fopen(file.p, "r");
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
		buf_addf(&tmp, "%s.imapmig-tmp", file.p);
		f = fopen(tmp.p, "w");
		if (f == NULL) {
			ret = md_sys_err(err, "cannot write", tmp.p);
		} else {
			for (k = 0; k < md->n_kw; k++)
				fprintf(f, "%zu %s\n", k, md->kw[k]);
			if (fclose(f) != 0 || rename(tmp.p, file.p) < 0)
				ret = md_sys_err(err, "cannot write", file.p);
		}
	}
	buf_release(&file);
	buf_release(&tmp);
	return ret;
}

static int cmp_char(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

/* The info letters of a name: the flags (STORE_* bits) as D F R S T,
 * then the keywords' letters, sorted as Maildir wants them. */
static int info_letters(struct maildir *md, const char *dir, unsigned flags,
			const char *const *keywords, size_t n_keywords,
			struct buf *info, struct err *err)
{
	if (flags & STORE_DRAFT)
		buf_addch(info, 'D');
	if (flags & STORE_FLAGGED)
		buf_addch(info, 'F');
	if (flags & STORE_ANSWERED)
		buf_addch(info, 'R');
	if (flags & STORE_SEEN)
		buf_addch(info, 'S');
	if (flags & STORE_DELETED)
		buf_addch(info, 'T');
	if (keyword_letters(md, dir, keywords, n_keywords, info, err) < 0)
		return -1;
	if (info->len > 1)
		qsort(info->p, info->len, 1, cmp_char);
	return 0;
}

/* The message's bytes made durable and dated: fsync, mtime :=
 * INTERNALDATE, close. */
static int msg_finish_file(struct maildir_msg *m, time_t internaldate,
			   struct err *err)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = internaldate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fsync(m->fd) < 0)
		return md_sys_err(err, "cannot sync", m->tmp_path);
	if (futimens(m->fd, ts) < 0)
		return md_sys_err(err, "cannot set the date of", m->tmp_path);
	if (close(m->fd) < 0) {
		m->fd = -1;
		return md_sys_err(err, "cannot write", m->tmp_path);
	}
	m->fd = -1;
	return 0;
}

/* The rename into cur/ made durable: an fsync of cur/ now, or, with
 * deferred syncs, cur/ put on the list maildir_sync_dirs() syncs. */
static int msg_sync_cur(struct maildir_msg *m, struct err *err)
{
	struct maildir *md = m->md;
	char *cur = xasprintf("%s/cur", m->dir);
	size_t k;
	int dfd, ret = 0;

	if (md->deferred) {
		for (k = 0; k < md->n_dirty; k++)
			if (strcmp(md->dirty[k], cur) == 0)
				break;
		if (k == md->n_dirty) {
			md->dirty =
				xrealloc(md->dirty, (k + 1) * sizeof(char *));
			md->dirty[md->n_dirty++] = cur;
			cur = NULL;
		}
		free(cur);
		return 0;
	}
	dfd = open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		ret = md_sys_err(err, "cannot sync", cur);
		if (dfd >= 0)
			close(dfd);
	} else {
		close(dfd);
	}
	free(cur);
	return ret;
}

int maildir_msg_commit(struct maildir_msg **mp, unsigned flags,
		       const char *const *keywords, size_t n_keywords,
		       time_t internaldate, char **name_r, struct err *err)
{
	struct maildir_msg *m = *mp;
	struct buf info = BUF_INIT, final = BUF_INIT, name = BUF_INIT;
	int ret = -1;

	*name_r = NULL;
	if (info_letters(m->md, m->dir, flags, keywords, n_keywords, &info,
			 err) < 0)
		goto out;
	buf_addf(&name, "%s,S=%llu:2,%s", m->base, m->size, info.p);
	buf_addf(&final, "%s/cur/%s", m->dir, name.p);
	if (msg_finish_file(m, internaldate, err) < 0)
		goto out;
	if (rename(m->tmp_path, final.p) < 0) {
		md_sys_err(err, "cannot move into place", final.p);
		goto out;
	}
	/* the file is in place but, if cur/ cannot be synced, may not
	 * survive a crash: report it as not confirmed; resume finds it */
	if (msg_sync_cur(m, err) < 0)
		goto out_placed;
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

int maildir_set_flags(struct maildir *md, const char *utf8_path,
		      const char *name, unsigned flags,
		      const char *const *keywords, size_t n_keywords,
		      char **new_name_r, struct err *err)
{
	struct buf dir = BUF_INIT, info = BUF_INIT, from = BUF_INIT,
		   to = BUF_INIT, base = BUF_INIT;
	int ret = -1;

	*new_name_r = NULL;
	if (md_folder_dir(md, utf8_path, &dir, err) < 0)
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
		md_sys_err(err, "cannot rename", from.p);
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

int maildir_remove(struct maildir *md, const char *utf8_path, const char *name,
		   struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	int ret = -1;

	if (md_folder_dir(md, utf8_path, &dir, err) < 0)
		goto out;
	buf_addf(&file, "%s/cur/%s", dir.p, name);
	if (unlink(file.p) < 0 && errno != ENOENT) {
		md_sys_err(err, "cannot remove", file.p);
		goto out;
	}
	md_tags_clear(md);
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
}
