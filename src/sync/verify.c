/* verify.c - compare both sides afresh; see verify.h. */
#include "sync/verify.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "state/state.h"
#include "sync/mailbox_priv.h"
#include "util/xalloc.h"

void verify_report_release(struct verify_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n; i++) {
		free(rep->v[i].src);
		free(rep->v[i].dst);
	}
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

static int cmp_copy(const void *a, const void *b)
{
	return strcmp(((const struct store_copy *)a)->ref,
		      ((const struct store_copy *)b)->ref);
}

/* ---- deep: the source's bytes, hashed ---- */

struct vhash {
	struct store_msg *const *msgs; /* sorted by UID */
	size_t n;
	unsigned char (*sha)[32];
	unsigned char *have;
	size_t cur;
	EVP_MD_CTX *md;
};

static int vh_begin(void *ctx, uint32_t uid, uint64_t size)
{
	struct vhash *h = ctx;

	(void)size;
	h->cur = mailbox_uid_find(h->msgs, h->n, mailbox_uid_of_msgp, uid);
	if (h->cur < h->n)
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
	return 0;
}

static int vh_data(void *ctx, const char *p, size_t len)
{
	struct vhash *h = ctx;

	if (h->cur < h->n)
		EVP_DigestUpdate(h->md, p, len);
	return 0;
}

static int vh_end(void *ctx)
{
	struct vhash *h = ctx;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;

	if (h->cur < h->n) {
		EVP_DigestFinal_ex(h->md, d, &dl);
		memcpy(h->sha[h->cur], d, 32);
		h->have[h->cur] = 1;
	}
	h->cur = h->n;
	return 0;
}

/* ---- one folder ---- */

struct vctx {
	struct state *st;
	int64_t user_id;
	struct store_source *src;
	struct store_target *dst;
	int deep;
};

static void note_missing(struct verify_folder *f, uint32_t uid)
{
	if (f->missing++ == 0)
		f->first_missing_uid = uid;
}

static void note_altered(struct verify_folder *f, uint32_t uid)
{
	if (f->altered++ == 0)
		f->first_altered_uid = uid;
}

static int verify_folder(struct vctx *c, const char *src_name,
			 const char *dst_name, struct verify_folder *f,
			 struct err *err)
{
	struct store_folder_status fs;
	struct store_msg_list msgs = {0};
	struct store_copy_list copies = {0};
	struct state_folder jf;
	struct state_item *done = NULL;
	uint32_t *settled = NULL;
	size_t n_done = 0, n_settled = 0, i, d = 0, s = 0, nq = 0;
	unsigned char *claimed = NULL;
	struct store_msg **queue = NULL;
	const char **queue_ref = NULL;
	int ret = -1;

	f->src = xstrdup(src_name);
	f->dst = xstrdup(dst_name);
	if (state_folder_open(c->st, c->user_id, src_name, NULL, &jf, err) <
		    0 ||
	    c->src->ops->select(c->src, src_name, &fs, err) < 0)
		goto out;
	if (fs.messages > 0 &&
	    c->src->ops->fetch_meta(c->src, 1, 0, 0, &msgs, NULL, err) < 0)
		goto out;
	if (msgs.n > 1)
		qsort(msgs.v, msgs.n, sizeof(*msgs.v), msg_cmp_uid_val);
	if (state_done_items(c->st, jf.id, &done, &n_done, err) < 0 ||
	    state_settled_uids(c->st, jf.id, &settled, &n_settled, err) < 0 ||
	    c->dst->ops->list_copies(c->dst, dst_name, &copies, err) < 0)
		goto out;
	if (copies.n > 1)
		qsort(copies.v, copies.n, sizeof(*copies.v), cmp_copy);
	claimed = xcalloc(copies.n + 1, 1);
	queue = xcalloc(msgs.n + 1, sizeof(*queue));
	queue_ref = xcalloc(msgs.n + 1, sizeof(*queue_ref));
	for (i = 0; i < msgs.n; i++) {
		struct store_msg *m = &msgs.v[i];
		const struct state_item *it = NULL;
		struct store_copy key, *cp = NULL;
		if (i > 0 && msgs.v[i - 1].uid == m->uid)
			continue; /* a repeated answer */
		f->source++;
		while (d < n_done && done[d].uid < m->uid)
			d++;
		if (d < n_done && done[d].uid == m->uid)
			it = &done[d];
		if (it == NULL) {
			while (s < n_settled && settled[s] < m->uid)
				s++;
			if (s < n_settled && settled[s] == m->uid)
				f->skipped++;
			else
				note_missing(f, m->uid);
			continue;
		}
		/* the copy the journal names */
		if (it->ref != NULL && it->ref[0] != '\0') {
			key.ref = it->ref;
			cp = copies.n == 0
				     ? NULL
				     : bsearch(&key, copies.v, copies.n,
					       sizeof(*copies.v), cmp_copy);
			if (cp != NULL && claimed[cp - copies.v])
				cp = NULL;
		}
		/* else one of the same size and date nobody claimed (a copy
		 * found on resume without a name, a file renamed by a flag
		 * change made on the target) */
		if (cp == NULL) {
			size_t k;
			for (k = 0; k < copies.n; k++)
				if (!claimed[k] &&
				    copies.v[k].size == m->size &&
				    copies.v[k].internaldate ==
					    m->internaldate) {
					cp = &copies.v[k];
					break;
				}
		}
		if (cp == NULL) {
			note_missing(f, m->uid);
			continue;
		}
		claimed[cp - copies.v] = 1;
		if (cp->size != m->size ||
		    cp->internaldate != m->internaldate) {
			note_altered(f, m->uid);
			continue;
		}
		f->copied++;
		if (c->deep) {
			queue[nq] = m;
			queue_ref[nq++] = cp->ref;
		}
	}
	for (i = 0; i < copies.n; i++)
		if (!claimed[i])
			f->extra++;
	if (c->deep && nq > 0) {
		struct vhash h;
		struct store_body_sink sink = {vh_begin, vh_data, vh_end, NULL};
		memset(&h, 0, sizeof(h));
		h.msgs = queue;
		h.n = nq;
		h.sha = xcalloc(nq, sizeof(*h.sha));
		h.have = xcalloc(nq, 1);
		h.cur = nq;
		h.md = EVP_MD_CTX_new();
		sink.ctx = &h;
		ret = c->src->ops->fetch_bodies(
			c->src, (const struct store_msg *const *)queue, nq,
			&sink, err);
		/* and the target's copies, read back */
		{
			unsigned char(*tsha)[32] = xcalloc(nq, sizeof(*tsha));
			unsigned char *thave = xcalloc(nq, 1);
			if (ret == 0)
				ret = c->dst->ops->hash_copies(
					c->dst, dst_name, queue_ref, nq, tsha,
					thave, err);
			for (i = 0; ret == 0 && i < nq; i++) {
				if (!h.have[i]) {
					/* gone from the source meanwhile */
					f->copied--;
					note_missing(f, queue[i]->uid);
				} else if (!thave[i]) {
					f->copied--;
					note_missing(f, queue[i]->uid);
				} else if (memcmp(h.sha[i], tsha[i], 32) != 0) {
					f->copied--;
					note_altered(f, queue[i]->uid);
				}
			}
			free(tsha);
			free(thave);
		}
		EVP_MD_CTX_free(h.md);
		free(h.sha);
		free(h.have);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	free(queue);
	free(queue_ref);
	free(claimed);
	free(settled);
	state_items_free(done, n_done);
	store_copy_list_free(&copies);
	store_msg_list_free(&msgs);
	return ret;
}

int sync_verify(struct state *st, int64_t user_id,
		const struct sync_endpoints *ep, const struct sync_options *opt,
		int deep, struct verify_report *rep, struct err *err)
{
	struct store_folder_list sl = {0}, tl = {0};
	struct state_folder_row *rows = NULL;
	struct sync_plan plan = {0};
	struct vctx c;
	size_t n_rows = 0, i, k;
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	memset(&c, 0, sizeof(c));
	rep->deep = deep;
	c.st = st;
	c.user_id = user_id;
	c.deep = deep;
	c.src = ep->open_source(ep->ctx, err);
	if (c.src == NULL)
		return -1;
	c.dst = ep->open_target(ep->ctx, err);
	if (c.dst == NULL)
		goto out;
	if (c.src->ops->list(c.src, &sl, err) < 0 ||
	    c.dst->ops->list(c.dst, &tl, err) < 0 ||
	    state_folder_list(st, user_id, &rows, &n_rows, err) < 0)
		goto out;
	sync_plan_build(&sl, &tl, c.dst->ops->delimiter(c.dst), &opt->include,
			&opt->exclude, &plan);
	rep->v = xcalloc(plan.n + 1, sizeof(*rep->v));
	for (i = 0; i < plan.n; i++) {
		const struct sync_plan_entry *fe = &plan.v[i];
		const char *dst = fe->dst;
		struct verify_folder *f;
		if (fe->dst == NULL || fe->noselect)
			continue;
		/* the name the sync used, if the target refused the plan's */
		for (k = 0; k < n_rows; k++)
			if (strcmp(rows[k].src, fe->src) == 0 &&
			    rows[k].dst != NULL)
				dst = rows[k].dst;
		f = &rep->v[rep->n++];
		if (verify_folder(&c, fe->src, dst, f, err) < 0) {
			err_prefix(err, "folder \"%s\": ", fe->src);
			goto out;
		}
		rep->source += f->source;
		rep->copied += f->copied;
		rep->skipped += f->skipped;
		rep->missing += f->missing;
		rep->altered += f->altered;
		rep->extra += f->extra;
	}
	ret = 0;
out:
	sync_plan_release(&plan);
	state_folder_rows_free(rows, n_rows);
	store_folder_list_free(&sl);
	store_folder_list_free(&tl);
	store_target_close(&c.dst);
	store_source_close(&c.src);
	return ret;
}
