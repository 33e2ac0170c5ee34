/* maildir_store.c - the Maildir++ target behind store.h, over the writer
 * in maildir.[ch].  A message is confirmed once its file is fsynced and
 * renamed into cur/ (and the directory fsynced): only then does the sync
 * engine record it as copied.  Each file name carries the source
 * message's tag, so a resumed run finds what an interrupted one wrote. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/maildir.h"
#include "store/store.h"
#include "util/xalloc.h"

struct md_pending {
	char *name;
	store_append_cb *cb;
	void *ctx;
};

struct maildir_target {
	struct store_target t;
	struct maildir *md;
	/* committed, waiting for the directory sync that confirms them */
	struct md_pending *pending;
	size_t n_pending;
	struct maildir_msg *msg; /* being written */
	const struct store_msg *meta;
	uint64_t left;
};

static int md_list(struct store_target *t, struct store_folder_list *out,
		   struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;
	char **names = NULL;
	size_t n = 0, i;

	if (maildir_folder_list(mt->md, &names, &n, err) < 0)
		return -1;
	out->v = xcalloc(n + 1, sizeof(*out->v));
	out->n = 0;
	out->v[out->n].name = xstrdup("INBOX");
	out->v[out->n++].special = STORE_SPECIAL_INBOX;
	for (i = 0; i < n; i++) {
		if (strcasecmp(names[i], "INBOX") == 0) {
			free(names[i]);
			continue;
		}
		out->v[out->n].name = names[i];
		out->v[out->n].special =
			strchr(names[i], '/') == NULL
				? store_special_from_name(names[i])
				: STORE_SPECIAL_NONE;
		out->n++;
	}
	free(names);
	return 0;
}

static int md_create(struct store_target *t, const char *folder,
		     struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	return maildir_folder_create(mt->md, folder, err);
}

static int md_append_begin(struct store_target *t, const char *folder,
			   const struct store_msg *m, uint64_t size,
			   const char *tag, struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	mt->msg = maildir_msg_begin(mt->md, folder, tag, err);
	if (mt->msg == NULL)
		return -1;
	mt->meta = m;
	mt->left = size;
	return 0;
}

static int md_append_data(struct store_target *t, const char *p, size_t len,
			  struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	if (len > mt->left)
		return err_set(err, ERR_MESSAGE, EC_PROTOCOL,
			       "message longer than announced");
	mt->left -= len;
	return maildir_msg_write(mt->msg, p, len, err);
}

/* Keywords as an array of pointers into a copy of the string. */
static size_t split_keywords(const char *kw, char **copy_r, const char ***v_r)
{
	char *c, *save = NULL, *tok;
	const char **v = NULL;
	size_t n = 0;

	*copy_r = NULL;
	*v_r = NULL;
	if (kw == NULL)
		return 0;
	c = xstrdup(kw);
	for (tok = strtok_r(c, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = tok;
	}
	*copy_r = c;
	*v_r = v;
	return n;
}

static int md_append_end(struct store_target *t, store_append_cb *cb, void *ctx,
			 struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;
	const struct store_msg *m = mt->meta;
	char *kwcopy, *name = NULL;
	const char **kw;
	size_t nkw;
	int ret;

	if (mt->left != 0) {
		maildir_msg_abort(&mt->msg);
		return err_set(err, ERR_MESSAGE, EC_PROTOCOL,
			       "message shorter than announced");
	}
	nkw = split_keywords(m->keywords, &kwcopy, &kw);
	ret = maildir_msg_commit(&mt->msg, m->flags, kw, nkw, m->internaldate,
				 &name, err);
	free(kw);
	free(kwcopy);
	if (ret < 0) {
		/* One message could not be written (e.g. a name the file
		 * system refuses): record it; a full disk is ERR_LOCAL and
		 * stops the run. */
		return -1;
	}
	/* confirmed at the next flush, after one fsync of the directory
	 * for the whole group */
	mt->pending = xrealloc(mt->pending,
			       (mt->n_pending + 1) * sizeof(*mt->pending));
	mt->pending[mt->n_pending].name = name;
	mt->pending[mt->n_pending].cb = cb;
	mt->pending[mt->n_pending].ctx = ctx;
	mt->n_pending++;
	return 0;
}

static void md_append_abort(struct store_target *t)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	maildir_msg_abort(&mt->msg);
}

static int md_flush(struct store_target *t, unsigned max_pending,
		    struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;
	size_t i;

	if (mt->n_pending <= max_pending)
		return 0;
	if (maildir_sync_dirs(mt->md, err) < 0)
		return -1; /* not confirmed: resume looks them up */
	for (i = 0; i < mt->n_pending; i++) {
		mt->pending[i].cb(mt->pending[i].ctx, mt->pending[i].name,
				  NULL);
		free(mt->pending[i].name);
	}
	mt->n_pending = 0;
	return 0;
}

static int md_find(struct store_target *t, const char *folder, const char *tag,
		   uint64_t size, const unsigned char *sha256,
		   const char *const *claimed, size_t n_claimed, char **ref_r,
		   int *found_r, struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	*found_r = 0;
	if (maildir_find_tag(mt->md, folder, tag, ref_r, err) < 0)
		return -1;
	/* A renumbered source folder (new UIDVALIDITY) gives new tags:
	 * then only the same bytes identify the copy. */
	if (*ref_r == NULL && sha256 != NULL &&
	    maildir_find_content(mt->md, folder, size, sha256, claimed,
				 n_claimed, ref_r, err) < 0)
		return -1;
	*found_r = *ref_r != NULL;
	return 0;
}

static int md_takes_nul(struct store_target *t)
{
	(void)t;
	return 1;
}

static int md_keeps_bytes(struct store_target *t)
{
	(void)t;
	return 1;
}

static int md_set_flags(struct store_target *t, const char *folder,
			const char *ref, const struct store_msg *m,
			char **new_ref_r, struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;
	char *kwcopy;
	const char **kw;
	size_t nkw = split_keywords(m->keywords, &kwcopy, &kw);
	int ret;

	*new_ref_r = NULL;
	if (ref == NULL || ref[0] == '\0') {
		free(kw);
		free(kwcopy);
		return 0; /* found on resume, name unknown: left as is */
	}
	ret = maildir_set_flags(mt->md, folder, ref, m->flags, kw, nkw,
				new_ref_r, err);
	free(kw);
	free(kwcopy);
	return ret;
}

static int md_check(struct store_target *t, const char *folder, const char *ref,
		    uint64_t size, const unsigned char *sha256, int *same_r,
		    struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;
	unsigned char h[32];
	int ret;

	(void)size;
	*same_r = 0;
	if (ref == NULL || ref[0] == '\0')
		return 0;
	ret = maildir_file_sha256(mt->md, folder, ref, h, err);
	if (ret < 0)
		return -1;
	*same_r = ret == 0 && memcmp(h, sha256, 32) == 0;
	return 0;
}

static int md_hash_copies(struct store_target *t, const char *folder,
			  const char *const *refs, size_t n,
			  unsigned char (*sha_r)[32], unsigned char *have_r,
			  struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;
	size_t i;

	for (i = 0; i < n; i++) {
		int ret = maildir_file_sha256(mt->md, folder, refs[i], sha_r[i],
					      err);
		if (ret < 0)
			return -1;
		have_r[i] = ret == 0;
	}
	return 0;
}

static int md_list_copies(struct store_target *t, const char *folder,
			  struct store_copy_list *out, struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	return maildir_list_msgs(mt->md, folder, out, err);
}

static int md_withdraw(struct store_target *t, const char *folder,
		       const char *ref, struct err *err)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	return maildir_remove(mt->md, folder, ref, err);
}

static char md_delimiter(struct store_target *t)
{
	(void)t;
	return '.';
}

static void md_close(struct store_target *t)
{
	struct maildir_target *mt = (struct maildir_target *)t;

	maildir_msg_abort(&mt->msg);
	/* unconfirmed copies stay in flight in the journal */
	while (mt->n_pending > 0)
		free(mt->pending[--mt->n_pending].name);
	free(mt->pending);
	maildir_close(&mt->md);
	free(mt);
}

static const struct store_target_ops maildir_target_ops = {
	.list = md_list,
	.create = md_create,
	.append_begin = md_append_begin,
	.append_data = md_append_data,
	.append_end = md_append_end,
	.append_abort = md_append_abort,
	.flush = md_flush,
	.find = md_find,
	.takes_nul = md_takes_nul,
	.keeps_bytes = md_keeps_bytes,
	.set_flags = md_set_flags,
	.check = md_check,
	.list_copies = md_list_copies,
	.hash_copies = md_hash_copies,
	.withdraw = md_withdraw,
	.close = md_close,
	.delimiter = md_delimiter,
};

struct store_target *store_maildir_target_create(const char *root,
						 struct err *err)
{
	struct maildir_target *mt = xcalloc(1, sizeof(*mt));

	mt->t.ops = &maildir_target_ops;
	mt->md = maildir_open(root, 1, err);
	if (mt->md == NULL) {
		free(mt);
		return NULL;
	}
	maildir_set_deferred_sync(mt->md, 1);
	return &mt->t;
}
