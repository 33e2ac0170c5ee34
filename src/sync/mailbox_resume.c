/* mailbox_resume.c - the in-flight items of an interrupted run, looked up
 * on the target before anything is copied again; see mailbox_priv.h. */
#include "sync/mailbox_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

/* ---- resume: in-flight items of an earlier, interrupted run ---- */

/* SHA-256 of source messages, filled by a sink. */
struct hashing {
	struct store_msg *const *msgs; /* sorted by UID */
	size_t n;
	unsigned char (*sha)[32];
	unsigned char (*loose)[32]; /* store_loose_update digests */
	uint64_t *size, *kept;
	struct marks *mk;
	unsigned char *have;
	size_t cur; /* index, or n */
	EVP_MD_CTX *md, *lmd;
};

static int hash_begin(void *ctx, uint32_t uid, uint64_t size)
{
	struct hashing *h = ctx;

	h->cur = mailbox_uid_find(h->msgs, h->n, mailbox_uid_of_msgp, uid);
	if (h->cur < h->n) {
		h->size[h->cur] = size;
		h->kept[h->cur] = 0;
		memset(&h->mk[h->cur], 0, sizeof(h->mk[h->cur]));
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
		EVP_DigestInit_ex(h->lmd, EVP_sha256(), NULL);
	}
	return 0;
}

static int hash_data(void *ctx, const char *p, size_t len)
{
	struct hashing *h = ctx;

	if (h->cur < h->n) {
		EVP_DigestUpdate(h->md, p, len);
		store_loose_update(h->lmd, p, len, &h->kept[h->cur]);
		mailbox_marks_update(&h->mk[h->cur], p, len);
	}
	return 0;
}

static int hash_end(void *ctx)
{
	struct hashing *h = ctx;
	unsigned dl = 0;

	if (h->cur < h->n) {
		EVP_DigestFinal_ex(h->md, h->sha[h->cur], &dl);
		EVP_DigestFinal_ex(h->lmd, h->loose[h->cur], &dl);
		mailbox_marks_end(&h->mk[h->cur]);
		h->have[h->cur] = 1;
	}
	h->cur = h->n;
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An interrupted run's copy that is not exact leaves the target.  If the
 * target cannot take it back, say so and go on: the item is copied again
 * and reported as the mailbox_copy_chunk check finds it. */
static int take_back(struct run *r, uint32_t uid, const char *ref,
		     struct err *err)
{
	log_warn("user %lld: %s UID %u: a copy an interrupted run made is "
		 "not exact; taking it back",
		 (long long)r->user_id, r->fe->src, uid);
	if (r->dst->ops->withdraw(r->dst, r->dst_name, ref, err) == 0)
		return 0;
	if (err->cls != ERR_MESSAGE)
		return -1;
	log_warn("user %lld: %s UID %u: %s", (long long)r->user_id, r->fe->src,
		 uid, err->msg);
	err_clear(err);
	return 0;
}

/* Each in-flight item is looked up on the target: found only if a copy
 * proves to be it.  A copy placed before the interruption but not yet
 * checked (its ref recorded) is read back: exact, it is the copy; not
 * exact, it is taken back.  Any other item needs its tag, or the same
 * bytes (SHA-256 compared) in a copy no other item owns.  A found copy
 * whose source bytes may hide a NUL is checked as mailbox_copy_chunk would, and
 * taken back if it does.  Found: done.  Not found: forgotten, so it is
 * copied again.  Never a guess. */
int mailbox_settle_inflight(struct run *r, struct store_msg_list *msgs,
			    uint32_t lo, uint32_t hi, struct err *err)
{
	const struct store_body_sink hsink = {hash_begin, hash_data, hash_end,
					      NULL};
	struct store_body_sink sink = hsink;
	struct hashing h;
	struct state_item *infl = NULL, *done = NULL;
	struct store_msg **want = NULL;
	const char **placed = NULL;
	char **claimed = NULL, **found = NULL, **older = NULL;
	char **strays = NULL; /* taken back, named in claimed */
	size_t n_older = 0, n_strays = 0;
	uint32_t *nul_uids = NULL;
	size_t *nul_idx = NULL;
	unsigned char *has_nul = NULL;
	size_t n = 0, nw = 0, n_done = 0, n_claimed = 0, n_nul = 0, i;
	int ret;

	memset(&h, 0, sizeof(h));
	ret = state_inflight_items_in(r->st, r->folder_id, lo, hi, &infl, &n,
				      err);
	if (ret < 0 || n == 0)
		goto out;
	want = xcalloc(n, sizeof(*want));
	placed = xcalloc(n, sizeof(*placed));
	for (i = 0; ret == 0 && i < n; i++) {
		size_t k = mailbox_uid_find(msgs->v, msgs->n,
					    mailbox_uid_of_msg, infl[i].uid);
		if (k == msgs->n) { /* gone from the source since */
			ret = state_item_forget(r->st, r->folder_id,
						infl[i].uid, err);
			continue;
		}
		placed[nw] = infl[i].ref != NULL && infl[i].ref[0] != '\0'
				     ? infl[i].ref
				     : NULL;
		want[nw++] = &msgs->v[k];
	}
	if (ret < 0 || nw == 0)
		goto out;
	/* The source's bytes, hashed: what a copy must be. */
	h.msgs = want;
	h.n = nw;
	h.sha = xcalloc(nw, sizeof(*h.sha));
	h.size = xcalloc(nw, sizeof(*h.size));
	h.have = xcalloc(nw, 1);
	h.loose = xcalloc(nw, sizeof(*h.loose));
	h.kept = xcalloc(nw, sizeof(*h.kept));
	h.mk = xcalloc(nw, sizeof(*h.mk));
	h.cur = nw;
	h.md = EVP_MD_CTX_new();
	h.lmd = EVP_MD_CTX_new();
	sink.ctx = &h;
	ret = r->src->ops->fetch_bodies(
		r->src, (const struct store_msg *const *)want, nw, &sink, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < nw; i++)
		if (!h.have[i]) {
			/* Unread, it cannot be checked, so it cannot be
			 * copied again either: later. */
			ret = err_set(err, ERR_TRANSIENT, EC_IO,
				      "the source did not deliver UID %u, "
				      "which an interrupted run had in "
				      "flight: retrying",
				      want[i]->uid);
			goto out;
		}
	/* Copies other items own: those confirmed, and those placed. */
	ret = state_done_items(r->st, r->folder_id, &done, &n_done, err);
	if (ret < 0)
		goto out;
	claimed = xcalloc(n_done + 2 * nw + 1, sizeof(*claimed));
	found = xcalloc(nw, sizeof(*found));
	for (i = 0; i < n_done; i++)
		if (done[i].ref != NULL && done[i].ref[0] != '\0')
			claimed[n_claimed++] = done[i].ref;
	for (i = 0; i < nw; i++)
		if (placed[i] != NULL)
			claimed[n_claimed++] = (char *)placed[i];
	if (n_claimed > 1)
		qsort(claimed, n_claimed, sizeof(*claimed), cmp_strp);
	n_older = n_claimed;
	older = xcalloc(n_older + 1, sizeof(*older));
	memcpy(older, claimed, n_older * sizeof(*older));
	for (i = 0; ret == 0 && i < nw; i++) {
		const struct store_msg *m = want[i];
		char tag[48], *ref = NULL;
		int hit = 0;
		if (placed[i] != NULL) {
			ret = r->dst->ops->check(r->dst, r->dst_name, placed[i],
						 h.size[i], h.sha[i], &hit,
						 err);
			if (ret == 0 && hit) {
				found[i] = xstrdup(placed[i]);
				continue;
			}
			if (ret == 0)
				ret = take_back(r, m->uid, placed[i], err);
			continue;
		}
		snprintf(tag, sizeof(tag), "%s%u.%u", r->tag_prefix,
			 r->uidvalidity, m->uid);
		ret = r->dst->ops->find(r->dst, r->dst_name, tag, h.size[i],
					h.sha[i], (const char *const *)claimed,
					n_claimed, &ref, &hit, err);
		if (ret < 0 || !hit) {
			free(ref);
			continue;
		}
		found[i] = ref;
		if (ref[0] != '\0') {
			claimed[n_claimed++] = ref;
			qsort(claimed, n_claimed, sizeof(*claimed), cmp_strp);
		}
	}
	/* A copy the interrupted run sent but had not recorded, which the
	 * target stored altered, is found by no exact lookup: it would stay
	 * beside the new copy.  Looked for by its loose digest among the
	 * unclaimed copies newer than every recorded one, and taken back. */
	for (i = 0; ret == 0 && i < nw; i++) {
		struct store_altered_query q;
		unsigned tries;
		if (found[i] != NULL || placed[i] != NULL || r->first_contact ||
		    r->dst->ops->find_altered == NULL ||
		    r->dst->ops->keeps_bytes(r->dst) ||
		    !(h.mk[i].odd_eol || h.mk[i].hdr8))
			continue;
		q.min_size = h.kept[i];
		q.max_size = h.kept[i] + 2 * (h.mk[i].n_cr + h.mk[i].n_lf);
		q.loose_sha = h.loose[i];
		q.older = (const char *const *)older;
		q.n_older = n_older;
		/* a copy per interrupted run, at most */
		for (tries = 0; ret == 0 && tries < 8; tries++) {
			char *ref = NULL;
			int hit = 0;
			q.claimed = (const char *const *)claimed;
			q.n_claimed = n_claimed;
			ret = r->dst->ops->find_altered(r->dst, r->dst_name, &q,
							&ref, &hit, err);
			if (ret < 0 || !hit) {
				free(ref);
				break;
			}
			ret = take_back(r, want[i]->uid, ref, err);
			claimed = xrealloc(claimed,
					   (n_claimed + 2) * sizeof(*claimed));
			claimed[n_claimed++] = ref;
			qsort(claimed, n_claimed, sizeof(*claimed), cmp_strp);
			strays = xrealloc(strays,
					  (n_strays + 1) * sizeof(*strays));
			strays[n_strays++] = ref;
		}
	}
	/* A copy of bytes that may hide a NUL is exact only if they do not. */
	nul_uids = xcalloc(nw, sizeof(*nul_uids));
	nul_idx = xcalloc(nw, sizeof(*nul_idx));
	has_nul = xcalloc(nw, 1);
	for (i = 0; ret == 0 && i < nw; i++)
		if (found[i] != NULL && h.mk[i].has80 &&
		    !(want[i]->binary_size != 0 &&
		      want[i]->binary_size == want[i]->size)) {
			nul_uids[n_nul] = want[i]->uid;
			nul_idx[n_nul++] = i;
		}
	if (ret == 0 && n_nul > 0)
		ret = r->src->ops->nul_check(r->src, nul_uids, n_nul, has_nul,
					     err);
	for (i = 0; ret == 0 && i < n_nul; i++) {
		size_t k = nul_idx[i];
		if (!has_nul[i])
			continue;
		/* not ours to take back: left there, and the message goes
		 * the copy path, which reports it */
		if (!r->first_contact)
			ret = take_back(r, want[k]->uid, found[k], err);
		free(found[k]);
		found[k] = NULL;
	}
	/* Record: found, done; else forgotten, to be copied again. */
	for (i = 0; ret == 0 && i < nw; i++) {
		if (found[i] != NULL) {
			log_info("user %lld: %s UID %u was copied before the "
				 "interruption (%s); not copying it again",
				 (long long)r->user_id, r->fe->src,
				 want[i]->uid, found[i]);
			ret = state_item_found(r->st, r->user_id, r->folder_id,
					       want[i], found[i], err);
		} else {
			ret = state_item_forget(r->st, r->folder_id,
						want[i]->uid, err);
		}
	}
out:
	if (found != NULL)
		for (i = 0; i < nw; i++)
			free(found[i]);
	free(found);
	free(claimed);
	free(older);
	for (i = 0; i < n_strays; i++)
		free(strays[i]);
	free(strays);
	free(nul_uids);
	free(nul_idx);
	free(has_nul);
	state_items_free(done, n_done);
	if (h.md != NULL)
		EVP_MD_CTX_free(h.md);
	free(h.sha);
	free(h.size);
	free(h.have);
	if (h.lmd != NULL)
		EVP_MD_CTX_free(h.lmd);
	free(h.loose);
	free(h.kept);
	free(h.mk);
	state_items_free(infl, n);
	free(want);
	free(placed);
	return ret;
}
