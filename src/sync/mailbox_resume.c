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

/* What settling a window's in-flight items holds, step to step. */
struct settle {
	struct state_item *infl; /* the journal's in-flight items */
	size_t n_infl;
	struct store_msg **want; /* those still on the source (by UID) */
	const char **placed;	 /* want[i]'s recorded ref, or NULL */
	size_t nw;
	struct hashing h;	 /* want's bytes, hashed */
	struct state_item *done; /* the items done */
	size_t n_done;
	char **claimed; /* refs other items own, sorted */
	size_t n_claimed;
	char **older; /* the refs recorded before this pass */
	size_t n_older;
	char **found;  /* want[i]'s copy on the target, or NULL */
	char **strays; /* taken back, named in claimed */
	size_t n_strays;
};

static void settle_release(struct settle *s)
{
	size_t i;

	if (s->found != NULL)
		for (i = 0; i < s->nw; i++)
			free(s->found[i]);
	free(s->found);
	free(s->claimed);
	free(s->older);
	for (i = 0; i < s->n_strays; i++)
		free(s->strays[i]);
	free(s->strays);
	state_items_free(s->done, s->n_done);
	if (s->h.md != NULL)
		EVP_MD_CTX_free(s->h.md);
	free(s->h.sha);
	free(s->h.size);
	free(s->h.have);
	if (s->h.lmd != NULL)
		EVP_MD_CTX_free(s->h.lmd);
	free(s->h.loose);
	free(s->h.kept);
	free(s->h.mk);
	state_items_free(s->infl, s->n_infl);
	free(s->want);
	free(s->placed);
}

/* The window's in-flight items that the source still has, into want
 * (with the ref recorded for each, if any); those gone from the source
 * since are forgotten. */
static int settle_collect(struct run *r, struct settle *s,
			  struct store_msg_list *msgs, uint32_t lo, uint32_t hi,
			  struct err *err)
{
	size_t i;
	int ret;

	ret = state_inflight_items_in(r->st, r->folder_id, lo, hi, &s->infl,
				      &s->n_infl, err);
	if (ret < 0 || s->n_infl == 0)
		return ret;
	s->want = xcalloc(s->n_infl, sizeof(*s->want));
	s->placed = xcalloc(s->n_infl, sizeof(*s->placed));
	for (i = 0; ret == 0 && i < s->n_infl; i++) {
		const struct state_item *it = &s->infl[i];
		size_t k = mailbox_uid_find(msgs->v, msgs->n,
					    mailbox_uid_of_msg, it->uid);
		if (k == msgs->n) { /* gone from the source since */
			ret = state_item_forget(r->st, r->folder_id, it->uid,
						err);
			continue;
		}
		s->placed[s->nw] =
			it->ref != NULL && it->ref[0] != '\0' ? it->ref : NULL;
		s->want[s->nw++] = &msgs->v[k];
	}
	return ret;
}

/* The source's bytes of every wanted item, hashed: what a copy must be. */
static int settle_hash_sources(struct run *r, struct settle *s, struct err *err)
{
	struct store_body_sink sink = {hash_begin, hash_data, hash_end, NULL};
	struct hashing *h = &s->h;
	size_t nw = s->nw, i;
	int ret;

	h->msgs = s->want;
	h->n = nw;
	h->sha = xcalloc(nw, sizeof(*h->sha));
	h->size = xcalloc(nw, sizeof(*h->size));
	h->have = xcalloc(nw, 1);
	h->loose = xcalloc(nw, sizeof(*h->loose));
	h->kept = xcalloc(nw, sizeof(*h->kept));
	h->mk = xcalloc(nw, sizeof(*h->mk));
	h->cur = nw;
	h->md = EVP_MD_CTX_new();
	h->lmd = EVP_MD_CTX_new();
	sink.ctx = h;
	ret = r->src->ops->fetch_bodies(
		r->src, (const struct store_msg *const *)s->want, nw, &sink,
		err);
	if (ret < 0)
		return ret;
	for (i = 0; i < nw; i++)
		if (!h->have[i])
			/* Unread, it cannot be checked, so it cannot be
			 * copied again either: later. */
			return err_set(err, ERR_TRANSIENT, EC_IO,
				       "the source did not deliver UID %u, "
				       "which an interrupted run had in "
				       "flight: retrying",
				       s->want[i]->uid);
	return 0;
}

/* The copies other items own: those confirmed, and those placed (sorted,
 * in claimed); the same list, as it is before this pass, in older. */
static int settle_claimed(struct run *r, struct settle *s, struct err *err)
{
	size_t i;

	if (state_done_items(r->st, r->folder_id, &s->done, &s->n_done, err) <
	    0)
		return -1;
	s->claimed = xcalloc(s->n_done + 2 * s->nw + 1, sizeof(*s->claimed));
	s->found = xcalloc(s->nw, sizeof(*s->found));
	for (i = 0; i < s->n_done; i++)
		if (s->done[i].ref != NULL && s->done[i].ref[0] != '\0')
			s->claimed[s->n_claimed++] = s->done[i].ref;
	for (i = 0; i < s->nw; i++)
		if (s->placed[i] != NULL)
			s->claimed[s->n_claimed++] = (char *)s->placed[i];
	if (s->n_claimed > 1)
		qsort(s->claimed, s->n_claimed, sizeof(*s->claimed), cmp_strp);
	s->n_older = s->n_claimed;
	s->older = xcalloc(s->n_older + 1, sizeof(*s->older));
	memcpy(s->older, s->claimed, s->n_older * sizeof(*s->older));
	return 0;
}

/* Each wanted item's copy: a placed one read back (exact, it is the copy;
 * not, taken back), any other found by its tag or its bytes among the
 * copies nobody claimed. */
static int settle_find(struct run *r, struct settle *s, struct err *err)
{
	const struct hashing *h = &s->h;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < s->nw; i++) {
		const struct store_msg *m = s->want[i];
		char tag[48], *ref = NULL;
		int hit = 0;
		if (s->placed[i] != NULL) {
			ret = r->dst->ops->check(r->dst, r->dst_name,
						 s->placed[i], h->size[i],
						 h->sha[i], &hit, err);
			if (ret == 0 && hit) {
				s->found[i] = xstrdup(s->placed[i]);
				continue;
			}
			if (ret == 0)
				ret = take_back(r, m->uid, s->placed[i], err);
			continue;
		}
		snprintf(tag, sizeof(tag), "%s%u.%u", r->tag_prefix,
			 r->uidvalidity, m->uid);
		ret = r->dst->ops->find(r->dst, r->dst_name, tag, h->size[i],
					h->sha[i],
					(const char *const *)s->claimed,
					s->n_claimed, &ref, &hit, err);
		if (ret < 0 || !hit) {
			free(ref);
			continue;
		}
		s->found[i] = ref;
		if (ref[0] != '\0') {
			s->claimed[s->n_claimed++] = ref;
			qsort(s->claimed, s->n_claimed, sizeof(*s->claimed),
			      cmp_strp);
		}
	}
	return ret;
}

/* A copy the interrupted run sent but had not recorded, which the target
 * stored altered, is found by no exact lookup: it would stay beside the
 * new copy.  Looked for by its loose digest among the unclaimed copies
 * newer than every recorded one, and taken back. */
static int settle_take_back_altered(struct run *r, struct settle *s,
				    struct err *err)
{
	const struct hashing *h = &s->h;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < s->nw; i++) {
		struct store_altered_query q;
		unsigned tries;
		if (s->found[i] != NULL || s->placed[i] != NULL ||
		    r->first_contact || r->dst->ops->find_altered == NULL ||
		    r->dst->ops->keeps_bytes(r->dst) ||
		    !(h->mk[i].odd_eol || h->mk[i].hdr8))
			continue;
		q.min_size = h->kept[i];
		q.max_size = h->kept[i] + 2 * (h->mk[i].n_cr + h->mk[i].n_lf);
		q.loose_sha = h->loose[i];
		q.older = (const char *const *)s->older;
		q.n_older = s->n_older;
		/* a copy per interrupted run, at most */
		for (tries = 0; ret == 0 && tries < 8; tries++) {
			char *ref = NULL;
			int hit = 0;
			q.claimed = (const char *const *)s->claimed;
			q.n_claimed = s->n_claimed;
			ret = r->dst->ops->find_altered(r->dst, r->dst_name, &q,
							&ref, &hit, err);
			if (ret < 0 || !hit) {
				free(ref);
				break;
			}
			ret = take_back(r, s->want[i]->uid, ref, err);
			s->claimed = xrealloc(s->claimed,
					      (s->n_claimed + 2) *
						      sizeof(*s->claimed));
			s->claimed[s->n_claimed++] = ref;
			qsort(s->claimed, s->n_claimed, sizeof(*s->claimed),
			      cmp_strp);
			s->strays =
				xrealloc(s->strays, (s->n_strays + 1) *
							    sizeof(*s->strays));
			s->strays[s->n_strays++] = ref;
		}
	}
	return ret;
}

/* A copy found of bytes that may hide a NUL is exact only if they do not:
 * the source is asked, and a copy of a message that does is not it. */
static int settle_check_nul(struct run *r, struct settle *s, struct err *err)
{
	uint32_t *nul_uids = xcalloc(s->nw, sizeof(*nul_uids));
	size_t *nul_idx = xcalloc(s->nw, sizeof(*nul_idx));
	unsigned char *has_nul = xcalloc(s->nw, 1);
	size_t n_nul = 0, i;
	int ret = 0;

	for (i = 0; i < s->nw; i++)
		if (s->found[i] != NULL &&
		    mailbox_maybe_hid_nul(s->h.mk[i].has80, s->want[i])) {
			nul_uids[n_nul] = s->want[i]->uid;
			nul_idx[n_nul++] = i;
		}
	if (n_nul > 0)
		ret = r->src->ops->nul_check(r->src, nul_uids, n_nul, has_nul,
					     err);
	for (i = 0; ret == 0 && i < n_nul; i++) {
		size_t k = nul_idx[i];
		if (!has_nul[i])
			continue;
		/* not ours to take back: left there, and the message goes
		 * the copy path, which reports it */
		if (!r->first_contact)
			ret = take_back(r, s->want[k]->uid, s->found[k], err);
		free(s->found[k]);
		s->found[k] = NULL;
	}
	free(nul_uids);
	free(nul_idx);
	free(has_nul);
	return ret;
}

/* Record: found, done; else forgotten, to be copied again. */
static int settle_record(struct run *r, struct settle *s, struct err *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < s->nw; i++) {
		const struct store_msg *m = s->want[i];
		if (s->found[i] != NULL) {
			log_info("user %lld: %s UID %u was copied before the "
				 "interruption (%s); not copying it again",
				 (long long)r->user_id, r->fe->src, m->uid,
				 s->found[i]);
			ret = state_item_found(r->st, r->user_id, r->folder_id,
					       m, s->found[i], err);
		} else {
			ret = state_item_forget(r->st, r->folder_id, m->uid,
						err);
		}
	}
	return ret;
}

/* Each in-flight item is looked up on the target: found only if a copy
 * proves to be it.  A copy placed before the interruption but not yet
 * checked (its ref recorded) is read back: exact, it is the copy; not
 * exact, it is taken back.  Any other item needs its tag, or the same
 * bytes (SHA-256 compared) in a copy no other item owns.  A found copy
 * whose source bytes may hide a NUL is checked as mailbox_copy_chunk
 * would, and taken back if it does.  Found: done.  Not found: forgotten,
 * so it is copied again.  Never a guess. */
int mailbox_settle_inflight(struct run *r, struct store_msg_list *msgs,
			    uint32_t lo, uint32_t hi, struct err *err)
{
	struct settle s;
	int ret;

	memset(&s, 0, sizeof(s));
	ret = settle_collect(r, &s, msgs, lo, hi, err);
	if (ret == 0 && s.nw > 0) {
		ret = settle_hash_sources(r, &s, err);
		if (ret == 0)
			ret = settle_claimed(r, &s, err);
		if (ret == 0)
			ret = settle_find(r, &s, err);
		if (ret == 0)
			ret = settle_take_back_altered(r, &s, err);
		if (ret == 0)
			ret = settle_check_nul(r, &s, err);
		if (ret == 0)
			ret = settle_record(r, &s, err);
	}
	settle_release(&s);
	return ret;
}
