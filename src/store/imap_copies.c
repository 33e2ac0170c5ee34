/* imap_copies.c - the IMAP target's copies read back: found by content
 * (after an interrupted run, or altered as targets alter), checked against
 * a digest, listed, hashed, and the one deletion the engine asks for.  A
 * copy is named "uidvalidity:uid" (APPENDUID). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "imap/seqset.h"
#include "store/imap_format.h"
#include "store/imap_priv.h"
#include "util/xalloc.h"

struct tfind {
	uint32_t uidvalidity;
	uint32_t *uids; /* SEARCH results */
	size_t n, cap;
	const unsigned char *want; /* SHA-256 */
	uint32_t match;		   /* UID of a copy with that digest */
	EVP_MD_CTX *md;
	uint32_t cur;
	int loose; /* compare loose digests (store_loose_update) */
};

/* "* SEARCH 3 5 8": the candidates' UIDs, into f->uids. */
static void tfind_search_result(struct tfind *f, const struct imap_resp *r)
{
	uint64_t v;
	size_t i;

	for (i = 1; i < r->arg_count; i++) {
		if (imap_arg_u64(&r->args[i], &v) < 0 || v == 0 ||
		    v > UINT32_MAX)
			continue;
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 16;
			f->uids = xrealloc(f->uids, f->cap * sizeof(*f->uids));
		}
		f->uids[f->n++] = (uint32_t)v;
	}
}

/* A body small enough to come inline: digested here (a streamed one is
 * digested by the literal sink, tfind_lit_*). */
static void tfind_inline_body(struct tfind *f, const struct imap_resp *r)
{
	const struct imap_arg *items = ims_fetch_items(r);
	const struct imap_arg *body = NULL;
	uint32_t uid = 0;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	uint64_t v;
	size_t i;

	if (items == NULL || f->want == NULL)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const char *key = imap_arg_str(&items->list[i]);
		if (key == NULL)
			continue;
		if (strcasecmp(key, "UID") == 0 &&
		    imap_arg_u64(&items->list[i + 1], &v) == 0)
			uid = (uint32_t)v;
		else if (strcasecmp(key, "BODY[]") == 0)
			body = &items->list[i + 1];
	}
	if (body == NULL || uid == 0 ||
	    (body->type != IMAP_ARG_LITERAL && body->type != IMAP_ARG_STRING))
		return; /* streamed: hashed by the sink */
	if (f->loose) {
		uint64_t kept = 0;
		EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
		store_loose_update(f->md, body->str.p, body->str.len, &kept);
		EVP_DigestFinal_ex(f->md, d, &dl);
	} else {
		EVP_Digest(body->str.p, body->str.len, d, &dl, EVP_sha256(),
			   NULL);
	}
	if (f->match == 0 && memcmp(d, f->want, 32) == 0)
		f->match = uid;
}

/* The answers of the commands that look for a copy: EXAMINE's
 * UIDVALIDITY, SEARCH's UIDs, FETCH's inline bodies. */
static void tfind_untagged(void *ctx, const struct imap_resp *r)
{
	struct tfind *f = ctx;

	if (r->kind != IMAP_RESP_UNTAGGED)
		return;
	if (r->status == IMAP_STATUS_OK && slice_ieq(r->code, "UIDVALIDITY")) {
		unsigned long long uv;
		if (slice_to_u64(r->code_args, &uv) == 0)
			f->uidvalidity = (uint32_t)uv;
		return;
	}
	if (r->status != IMAP_STATUS_NONE || r->arg_count < 1)
		return;
	if (imap_arg_is_atom(&r->args[0], "SEARCH"))
		tfind_search_result(f, r);
	else
		tfind_inline_body(f, r);
}

static int tfind_lit_begin(void *ctx, const struct imap_resp *partial,
			   struct slice key, uint64_t size, int literal8)
{
	struct tfind *f = ctx;

	(void)size;
	(void)literal8;
	f->cur = 0;
	if (!slice_ieq(key, "BODY[]"))
		return 0;
	f->cur = ims_partial_uid(partial);
	if (f->cur != 0)
		EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
	return 0;
}

static int tfind_lit_data(void *ctx, const char *p, size_t len)
{
	struct tfind *f = ctx;
	uint64_t kept = 0;

	if (f->cur != 0 && f->loose)
		store_loose_update(f->md, p, len, &kept);
	else if (f->cur != 0)
		EVP_DigestUpdate(f->md, p, len);
	return 0;
}

static int tfind_lit_end(void *ctx)
{
	struct tfind *f = ctx;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;

	if (f->cur == 0)
		return 0;
	EVP_DigestFinal_ex(f->md, d, &dl);
	if (f->match == 0 && memcmp(d, f->want, 32) == 0)
		f->match = f->cur;
	f->cur = 0;
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

/* UID FETCH set (UID BODY.PEEK[]) of the EXAMINEd folder: bodies
 * small enough to come inline go to fn(ctx), the others are streamed to
 * sink, which is unset afterwards. */
static int tfetch_bodies(struct imap_target *it, const char *set,
			 imap_untagged_callback *fn, void *ctx,
			 const struct imap_literal_sink *sink, struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	imap_client_set_sink(it->c, sink);
	imap_client_cmdbuf_init(it->c, &cb);
	imap_cmd_rawf(&cb, "UID FETCH %s (UID BODY.PEEK[])", set);
	ret = ims_exec(it->c, &cb, fn, ctx, &res, err);
	imap_client_set_sink(it->c, NULL);
	return ims_check(ret, &res, ERR_FOLDER, "UID FETCH", err);
}

/* EXAMINE folder into f (UIDVALIDITY); 1 if it exists. */
static int tfind_examine(struct imap_target *it, const char *folder,
			 struct tfind *f, struct err *err)
{
	struct buf name = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	ims_name_to_server(folder, it->nm.personal.prefix, it->nm.delim, &name);
	ims_cmd_mailbox(it->c, &cb, "EXAMINE", name.p);
	buf_release(&name);
	free(it->selected);
	it->selected = NULL;
	ret = ims_exec(it->c, &cb, tfind_untagged, f, &res, err);
	if (ret < 0)
		return -1;
	return res.status == IMAP_STATUS_OK;
}

/* In the folder f was EXAMINEd on: the copies of min..max bytes above UID
 * floor that no item claims are read back and digested (f->loose: the
 * loose digest); the first whose digest is f->want is found, named in
 * *ref_r.  The folder is closed. */
static int tfind_candidates(struct imap_target *it, struct tfind *f,
			    uint64_t min, uint64_t max, uint32_t floor,
			    const char *const *claimed, size_t n_claimed,
			    char **ref_r, int *found_r, struct err *err)
{
	struct imap_literal_sink sink = {tfind_lit_begin, tfind_lit_data,
					 tfind_lit_end, f};
	struct buf set = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	char ref[64];
	size_t i, k;
	int ret;

	imap_client_cmdbuf_init(it->c, &cb);
	imap_cmd_rawf(&cb, "UID SEARCH LARGER %llu SMALLER %llu",
		      (unsigned long long)(min ? min - 1 : 0),
		      (unsigned long long)max + 1);
	ret = ims_exec(it->c, &cb, tfind_untagged, f, &res, err);
	if (ims_check(ret, &res, ERR_FOLDER, "UID SEARCH", err) < 0)
		return -1;
	for (i = 0, k = 0; i < f->n; i++) {
		snprintf(ref, sizeof(ref), "%u:%u", f->uidvalidity, f->uids[i]);
		if (f->uids[i] > floor && !claimed_has(claimed, n_claimed, ref))
			f->uids[k++] = f->uids[i];
	}
	f->n = k;
	if (f->n > 0) {
		qsort(f->uids, f->n, sizeof(*f->uids), ims_uid_cmp);
		seqset_build(f->uids, f->n, 100000, &set);
		f->md = EVP_MD_CTX_new();
		ret = tfetch_bodies(it, set.p, tfind_untagged, f, &sink, err);
		EVP_MD_CTX_free(f->md);
		f->md = NULL;
		buf_release(&set);
		if (ret < 0)
			return -1;
	}
	if (f->match != 0) {
		snprintf(ref, sizeof(ref), "%u:%u", f->uidvalidity, f->match);
		*ref_r = xstrdup(ref);
		*found_r = 1;
	}
	return ims_simple(it->c, "CLOSE", NULL, NULL, err);
}

int ims_target_find(struct store_target *t, const char *folder, const char *tag,
		    uint64_t size, const unsigned char *sha256,
		    const char *const *claimed, size_t n_claimed, char **ref_r,
		    int *found_r, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct tfind f;
	int ret;

	(void)tag; /* an IMAP server keeps no tag of ours */
	*found_r = 0;
	*ref_r = NULL;
	if (sha256 == NULL)
		return 0; /* nothing could prove it: copy again */
	memset(&f, 0, sizeof(f));
	f.want = sha256;
	ret = tfind_examine(it, folder, &f, err);
	if (ret > 0) /* candidates: the same size; their bytes decide */
		ret = tfind_candidates(it, &f, size, size, 0, claimed,
				       n_claimed, ref_r, found_r, err);
	free(f.uids);
	return ret < 0 ? -1 : 0;
}

/* The newest of refs in UIDVALIDITY uv: copies at or below it were
 * confirmed before the interrupted work began. */
static uint32_t newest_ref(const char *const *refs, size_t n, uint32_t uv)
{
	uint32_t top = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned long ruv, ruid;
		char *end;
		if (refs[i] == NULL)
			continue;
		ruv = strtoul(refs[i], &end, 10);
		if (*end != ':' || ruv != uv)
			continue;
		ruid = strtoul(end + 1, &end, 10);
		if (*end == '\0' && ruid > top && ruid <= UINT32_MAX)
			top = (uint32_t)ruid;
	}
	return top;
}

int ims_target_find_altered(struct store_target *t, const char *folder,
			    const struct store_altered_query *q, char **ref_r,
			    int *found_r, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct tfind f;
	int ret;

	*found_r = 0;
	*ref_r = NULL;
	memset(&f, 0, sizeof(f));
	f.want = q->loose_sha;
	f.loose = 1;
	ret = tfind_examine(it, folder, &f, err);
	if (ret > 0)
		ret = tfind_candidates(
			it, &f, q->min_size, q->max_size,
			newest_ref(q->older, q->n_older, f.uidvalidity),
			q->claimed, q->n_claimed, ref_r, found_r, err);
	free(f.uids);
	return ret < 0 ? -1 : 0;
}

int ims_target_check(struct store_target *t, const char *folder,
		     const char *ref, uint64_t size,
		     const unsigned char *sha256, int *same_r, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct imap_literal_sink sink = {tfind_lit_begin, tfind_lit_data,
					 tfind_lit_end, NULL};
	struct tfind f;
	unsigned long uv, uid;
	char set[32];
	int ret;

	(void)size; /* the digest covers it */
	*same_r = 0;
	if (ref == NULL || sscanf(ref, "%lu:%lu", &uv, &uid) != 2)
		return 0; /* no APPENDUID: cannot be read back */
	memset(&f, 0, sizeof(f));
	f.want = sha256;
	sink.ctx = &f;
	ret = tfind_examine(it, folder, &f, err);
	if (ret <= 0)
		return ret;
	if (f.uidvalidity != uv)
		return ims_simple(it->c, "CLOSE", NULL, NULL, err);
	f.md = EVP_MD_CTX_new();
	snprintf(set, sizeof(set), "%lu", uid);
	ret = tfetch_bodies(it, set, tfind_untagged, &f, &sink, err);
	EVP_MD_CTX_free(f.md);
	if (ret < 0)
		return -1;
	*same_r = f.match == uid;
	return ims_simple(it->c, "CLOSE", NULL, NULL, err);
}

/* Leave the selected folder without CLOSE, which would expunge every
 * \Deleted message, others' included. */
static int target_leave(struct imap_target *it, struct err *err)
{
	return ims_simple(it->c,
			  imap_client_has_cap(it->c, "UNSELECT")
				  ? "UNSELECT"
				  : "EXAMINE INBOX",
			  NULL, NULL, err);
}

int ims_target_withdraw(struct store_target *t, const char *folder,
			const char *ref, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct buf name = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	struct tfind f;
	unsigned long uv, uid;
	int ret;

	if (ref == NULL || sscanf(ref, "%lu:%lu", &uv, &uid) != 2 ||
	    !imap_client_has_cap(it->c, "UIDPLUS"))
		return err_set(err, ERR_MESSAGE, EC_NO,
			       "cannot take the copy back (no UIDPLUS)");
	memset(&f, 0, sizeof(f));
	ims_name_to_server(folder, it->nm.personal.prefix, it->nm.delim, &name);
	ims_cmd_mailbox(it->c, &cb, "SELECT", name.p);
	buf_release(&name);
	free(it->selected);
	it->selected = NULL;
	ret = ims_exec(it->c, &cb, tfind_untagged, &f, &res, err);
	if (ims_check(ret, &res, ERR_FOLDER, "SELECT", err) < 0)
		return -1;
	free(f.uids);
	/* The UID names the copy only under the UIDVALIDITY it was given
	 * with: under another it could be anybody's message. */
	if (f.uidvalidity != uv) {
		if (target_leave(it, err) < 0)
			return -1;
		return err_set(err, ERR_MESSAGE, EC_NO,
			       "cannot take the copy back: the target "
			       "folder was renumbered");
	}
	/* Only this UID: UID EXPUNGE (UIDPLUS) never touches the other
	 * \Deleted messages of the folder. */
	imap_client_cmdbuf_init(it->c, &cb);
	imap_cmd_rawf(&cb, "UID STORE %lu +FLAGS.SILENT (\\Deleted)", uid);
	ret = ims_exec(it->c, &cb, NULL, NULL, &res, err);
	if (ims_check(ret, &res, ERR_MESSAGE, "UID STORE", err) < 0)
		return -1;
	imap_client_cmdbuf_init(it->c, &cb);
	imap_cmd_rawf(&cb, "UID EXPUNGE %lu", uid);
	ret = ims_exec(it->c, &cb, NULL, NULL, &res, err);
	if (ims_check(ret, &res, ERR_MESSAGE, "UID EXPUNGE", err) < 0)
		return -1;
	return target_leave(it, err);
}

struct tlist {
	struct imap_target *it;
	struct tfind f;
	struct store_copy_list *out;
};

static void tlist_untagged(void *ctx, const struct imap_resp *r)
{
	struct tlist *tl = ctx;
	const struct imap_arg *items;
	uint64_t uid = 0, size = 0, v;
	time_t date = 0;
	int tz = 0;
	size_t i;
	char ref[64];

	tfind_untagged(&tl->f, r); /* UIDVALIDITY */
	items = ims_fetch_items(r);
	if (items == NULL)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const char *key = imap_arg_str(&items->list[i]);
		if (key == NULL)
			continue;
		if (strcasecmp(key, "UID") == 0 &&
		    imap_arg_u64(&items->list[i + 1], &v) == 0)
			uid = v;
		else if (strcasecmp(key, "RFC822.SIZE") == 0 &&
			 imap_arg_u64(&items->list[i + 1], &v) == 0)
			size = v;
		else if (strcasecmp(key, "INTERNALDATE") == 0 &&
			 imap_arg_str(&items->list[i + 1]) != NULL)
			imap_parse_internaldate(
				imap_arg_str(&items->list[i + 1]), &date, &tz);
	}
	if (uid == 0)
		return;
	snprintf(ref, sizeof(ref), "%u:%llu", tl->f.uidvalidity,
		 (unsigned long long)uid);
	store_copy_list_add(tl->out, ref, size, date);
}

int ims_target_list_copies(struct store_target *t, const char *folder,
			   struct store_copy_list *out, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct imap_cmdbuf cb;
	struct imap_result res;
	struct tlist tl;
	int ret;

	memset(&tl, 0, sizeof(tl));
	tl.it = it;
	tl.out = out;
	ret = tfind_examine(it, folder, &tl.f, err);
	if (ret <= 0)
		return ret;
	imap_client_cmdbuf_init(it->c, &cb);
	imap_cmd_raw(&cb, "UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE)");
	ret = ims_exec(it->c, &cb, tlist_untagged, &tl, &res, err);
	free(tl.f.uids);
	if (ims_check(ret, &res, ERR_FOLDER, "UID FETCH", err) < 0)
		return -1;
	return ims_simple(it->c, "CLOSE", NULL, NULL, err);
}

/* Many copies hashed with one FETCH. */
struct thash {
	struct tfind f; /* UIDVALIDITY from EXAMINE */
	uint32_t *uids; /* sorted */
	size_t *idx;	/* uids[k] is refs[idx[k]] */
	size_t n, cur;	/* cur: k of the streamed body, or n */
	unsigned char (*sha)[32];
	unsigned char *have;
	EVP_MD_CTX *md;
};

static void thash_put(struct thash *h, size_t k, const unsigned char *d)
{
	memcpy(h->sha[h->idx[k]], d, 32);
	h->have[h->idx[k]] = 1;
}

static void thash_untagged(void *ctx, const struct imap_resp *r)
{
	struct thash *h = ctx;
	const struct imap_arg *items = ims_fetch_items(r);
	size_t i, k;

	tfind_untagged(&h->f, r);
	if (items == NULL)
		return;
	k = ims_uid_index(h->uids, h->n, ims_resp_uid(items));
	if (k == h->n)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const char *key = imap_arg_str(&items->list[i]);
		const struct imap_arg *v = &items->list[i + 1];
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dl = 0;
		if (key == NULL || strcasecmp(key, "BODY[]") != 0 ||
		    (v->type != IMAP_ARG_LITERAL && v->type != IMAP_ARG_STRING))
			continue;
		EVP_Digest(v->str.p, v->str.len, d, &dl, EVP_sha256(), NULL);
		thash_put(h, k, d);
	}
}

static int thash_begin(void *ctx, const struct imap_resp *partial,
		       struct slice key, uint64_t size, int literal8)
{
	struct thash *h = ctx;

	(void)size;
	(void)literal8;
	h->cur = h->n;
	if (!slice_ieq(key, "BODY[]"))
		return 0;
	h->cur = ims_uid_index(h->uids, h->n,
			       ims_resp_uid(ims_partial_items(partial)));
	if (h->cur < h->n)
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
	return 0;
}

static int thash_data(void *ctx, const char *p, size_t len)
{
	struct thash *h = ctx;

	if (h->cur < h->n)
		EVP_DigestUpdate(h->md, p, len);
	return 0;
}

static int thash_end(void *ctx)
{
	struct thash *h = ctx;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;

	if (h->cur < h->n) {
		EVP_DigestFinal_ex(h->md, d, &dl);
		thash_put(h, h->cur, d);
	}
	h->cur = h->n;
	return 0;
}

static int thash_cmp(const void *a, const void *b, void *ctx)
{
	const uint32_t *uids = ctx;
	uint32_t x = uids[*(const size_t *)a], y = uids[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

int ims_target_hash_copies(struct store_target *t, const char *folder,
			   const char *const *refs, size_t n,
			   unsigned char (*sha_r)[32], unsigned char *have_r,
			   struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct imap_literal_sink sink = {thash_begin, thash_data, thash_end,
					 NULL};
	struct thash h;
	struct buf set = BUF_INIT;
	uint32_t *raw;
	size_t i, m = 0;
	int ret;

	memset(have_r, 0, n);
	memset(&h, 0, sizeof(h));
	ret = tfind_examine(it, folder, &h.f, err);
	if (ret <= 0)
		return ret;
	/* refs "uidvalidity:uid" of this folder, in UID order */
	raw = xcalloc(n + 1, sizeof(*raw));
	h.idx = xcalloc(n + 1, sizeof(*h.idx));
	for (i = 0; i < n; i++) {
		unsigned long uv, uid;
		if (refs[i] != NULL &&
		    sscanf(refs[i], "%lu:%lu", &uv, &uid) == 2 &&
		    uv == h.f.uidvalidity) {
			raw[i] = (uint32_t)uid;
			h.idx[m++] = i;
		}
	}
	if (m > 1)
		qsort_r(h.idx, m, sizeof(*h.idx), thash_cmp, raw);
	h.uids = xcalloc(m + 1, sizeof(*h.uids));
	for (i = 0; i < m; i++)
		h.uids[i] = raw[h.idx[i]];
	free(raw);
	h.n = m;
	h.cur = m;
	h.sha = sha_r;
	h.have = have_r;
	ret = 0;
	if (m > 0) {
		h.md = EVP_MD_CTX_new();
		sink.ctx = &h;
		seqset_build(h.uids, m, (size_t)-1, &set);
		ret = tfetch_bodies(it, set.p, thash_untagged, &h, &sink, err);
		EVP_MD_CTX_free(h.md);
	}
	buf_release(&set);
	free(h.uids);
	free(h.idx);
	free(h.f.uids);
	if (ret < 0)
		return -1;
	return ims_simple(it->c, "CLOSE", NULL, NULL, err);
}
