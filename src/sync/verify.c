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

/* One folder's two sides, as read for the comparison. */
struct vfolder {
	struct store_msg_list msgs;    /* the source's, sorted by UID */
	struct store_copy_list copies; /* the target's, sorted by ref */
	unsigned char *claimed;	       /* copies[i] matched a message */
	struct state_item *done;       /* the journal's copied items */
	size_t n_done;
	uint32_t *settled; /* the journal's settled UIDs */
	size_t n_settled;
	struct store_msg **queue; /* copies to hash (--deep) */
	const char **queue_ref;
	size_t nq;
};

static void vfolder_release(struct vfolder *v)
{
	free(v->queue);
	free(v->queue_ref);
	free(v->claimed);
	free(v->settled);
	state_items_free(v->done, v->n_done);
	store_copy_list_free(&v->copies);
	store_msg_list_free(&v->msgs);
}

/* Both sides afresh, and what the journal says of the folder. */
static int verify_read(struct vctx *c, const char *src_name,
		       const char *dst_name, struct vfolder *v, struct err *err)
{
	struct store_folder_status fs;
	struct state_folder jf;

	if (state_folder_open(c->st, c->user_id, src_name, NULL, &jf, err) <
		    0 ||
	    c->src->ops->select(c->src, src_name, &fs, err) < 0)
		return -1;
	if (fs.messages > 0 &&
	    c->src->ops->fetch_meta(c->src, 1, 0, 0, &v->msgs, NULL, err) < 0)
		return -1;
	if (v->msgs.n > 1)
		qsort(v->msgs.v, v->msgs.n, sizeof(*v->msgs.v),
		      msg_cmp_uid_val);
	if (state_done_items(c->st, jf.id, &v->done, &v->n_done, err) < 0 ||
	    state_settled_uids(c->st, jf.id, &v->settled, &v->n_settled, err) <
		    0 ||
	    c->dst->ops->list_copies(c->dst, dst_name, &v->copies, err) < 0)
		return -1;
	if (v->copies.n > 1)
		qsort(v->copies.v, v->copies.n, sizeof(*v->copies.v), cmp_copy);
	v->claimed = xcalloc(v->copies.n + 1, 1);
	v->queue = xcalloc(v->msgs.n + 1, sizeof(*v->queue));
	v->queue_ref = xcalloc(v->msgs.n + 1, sizeof(*v->queue_ref));
	return 0;
}

/* The copy of m, whose journal item is it: the one the journal names,
 * else one of the same size and date nobody claimed (a copy found on
 * resume without a name, a file renamed by a flag change made on the
 * target); NULL if none. */
static struct store_copy *find_copy(struct vfolder *v,
				    const struct store_msg *m,
				    const struct state_item *it)
{
	struct store_copy key, *cp = NULL;
	size_t k;

	if (it->ref != NULL && it->ref[0] != '\0') {
		key.ref = it->ref;
		cp = v->copies.n == 0 ? NULL
				      : bsearch(&key, v->copies.v, v->copies.n,
						sizeof(*v->copies.v), cmp_copy);
		if (cp != NULL && v->claimed[cp - v->copies.v])
			cp = NULL;
	}
	if (cp == NULL)
		for (k = 0; k < v->copies.n; k++)
			if (!v->claimed[k] && v->copies.v[k].size == m->size &&
			    v->copies.v[k].internaldate == m->internaldate) {
				cp = &v->copies.v[k];
				break;
			}
	return cp;
}

/* Each source message against the journal and the target's copies:
 * copied, skipped, missing or altered; the copies nobody claimed are
 * extra.  With --deep, the copies to hash are queued. */
static void verify_match(struct vctx *c, struct verify_folder *f,
			 struct vfolder *v)
{
	size_t i, d = 0, s = 0;

	for (i = 0; i < v->msgs.n; i++) {
		struct store_msg *m = &v->msgs.v[i];
		const struct state_item *it = NULL;
		struct store_copy *cp;
		if (i > 0 && v->msgs.v[i - 1].uid == m->uid)
			continue; /* a repeated answer */
		f->source++;
		while (d < v->n_done && v->done[d].uid < m->uid)
			d++;
		if (d < v->n_done && v->done[d].uid == m->uid)
			it = &v->done[d];
		if (it == NULL) {
			while (s < v->n_settled && v->settled[s] < m->uid)
				s++;
			if (s < v->n_settled && v->settled[s] == m->uid)
				f->skipped++;
			else
				note_missing(f, m->uid);
			continue;
		}
		cp = find_copy(v, m, it);
		if (cp == NULL) {
			note_missing(f, m->uid);
			continue;
		}
		v->claimed[cp - v->copies.v] = 1;
		if (cp->size != m->size ||
		    cp->internaldate != m->internaldate) {
			note_altered(f, m->uid);
			continue;
		}
		f->copied++;
		if (c->deep) {
			v->queue[v->nq] = m;
			v->queue_ref[v->nq++] = cp->ref;
		}
	}
	for (i = 0; i < v->copies.n; i++)
		if (!v->claimed[i])
			f->extra++;
}

/* --deep: the queued messages' bytes hashed on both sides (the source's
 * in one FETCH, the target's copies read back) and compared. */
static int verify_deep(struct vctx *c, const char *dst_name,
		       struct verify_folder *f, struct vfolder *v,
		       struct err *err)
{
	struct vhash h;
	struct store_body_sink sink = {vh_begin, vh_data, vh_end, NULL};
	size_t nq = v->nq, i;
	unsigned char(*tsha)[32];
	unsigned char *thave;
	int ret;

	memset(&h, 0, sizeof(h));
	h.msgs = v->queue;
	h.n = nq;
	h.sha = xcalloc(nq, sizeof(*h.sha));
	h.have = xcalloc(nq, 1);
	h.cur = nq;
	h.md = EVP_MD_CTX_new();
	sink.ctx = &h;
	ret = c->src->ops->fetch_bodies(
		c->src, (const struct store_msg *const *)v->queue, nq, &sink,
		err);
	/* and the target's copies, read back */
	tsha = xcalloc(nq, sizeof(*tsha));
	thave = xcalloc(nq, 1);
	if (ret == 0)
		ret = c->dst->ops->hash_copies(c->dst, dst_name, v->queue_ref,
					       nq, tsha, thave, err);
	for (i = 0; ret == 0 && i < nq; i++) {
		if (!h.have[i]) {
			/* gone from the source meanwhile */
			f->copied--;
			note_missing(f, v->queue[i]->uid);
		} else if (!thave[i]) {
			f->copied--;
			note_missing(f, v->queue[i]->uid);
		} else if (memcmp(h.sha[i], tsha[i], 32) != 0) {
			f->copied--;
			note_altered(f, v->queue[i]->uid);
		}
	}
	free(tsha);
	free(thave);
	EVP_MD_CTX_free(h.md);
	free(h.sha);
	free(h.have);
	return ret;
}

static int verify_folder(struct vctx *c, const char *src_name,
			 const char *dst_name, struct verify_folder *f,
			 struct err *err)
{
	struct vfolder v;
	int ret = -1;

	memset(&v, 0, sizeof(v));
	f->src = xstrdup(src_name);
	f->dst = xstrdup(dst_name);
	if (verify_read(c, src_name, dst_name, &v, err) < 0)
		goto out;
	verify_match(c, f, &v);
	if (c->deep && v.nq > 0 && verify_deep(c, dst_name, f, &v, err) < 0)
		goto out;
	ret = 0;
out:
	vfolder_release(&v);
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
