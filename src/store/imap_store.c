/* imap_store.c - IMAP as a source and as a target store (store.h): the
 * part both sides share.  One way to run a command: every command of the
 * store goes through ims_exec() (untagged handler set, run, handler unset,
 * cmdbuf released) and its outcome through ims_check(); body fetches are
 * pipelined through ims_submit() and ims_pipeline().  Then the helpers
 * that read FETCH responses.  imap_priv.h lists the other files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "imap/seqset.h"
#include "store/imap_format.h"
#include "store/imap_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

/* ---- one way to run a command ---- */

int ims_exec(struct imap_client *c, struct imap_cmdbuf *cb,
	     imap_untagged_callback *fn, void *ctx, struct imap_result *res,
	     struct err *err)
{
	int ret;

	imap_client_set_untagged(c, fn, ctx);
	ret = imap_client_run(c, cb, res, err);
	imap_client_set_untagged(c, NULL, NULL);
	imap_cmdbuf_release(cb);
	return ret;
}

int ims_check(int ret, const struct imap_result *res, enum err_class cls,
	      const char *what, struct err *err)
{
	if (ret < 0)
		return -1;
	if (res->status == IMAP_STATUS_NONE)
		return err_set(err, ERR_TRANSIENT, EC_RESET, "%s", res->text);
	return imap_result_to_err(res, cls, what, err);
}

int ims_simple(struct imap_client *c, const char *text,
	       imap_untagged_callback *fn, void *ctx, struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;

	imap_client_cmdbuf_init(c, &cb);
	imap_cmd_raw(&cb, text);
	return ims_check(ims_exec(c, &cb, fn, ctx, &res, err), &res, ERR_FOLDER,
			 text, err);
}

void ims_cmd_mailbox(struct imap_client *c, struct imap_cmdbuf *cb,
		     const char *verb, const char *server_name)
{
	imap_client_cmdbuf_init(c, cb);
	imap_cmd_rawf(cb, "%s ", verb);
	imap_cmd_mailbox(cb, server_name);
}

int ims_submit(struct imap_client *c, struct imap_cmdbuf *cb,
	       imap_cmd_callback *done, void *ctx, struct err *err)
{
	int ret = imap_client_submit(c, cb, done, ctx, err);

	imap_cmdbuf_release(cb);
	return ret;
}

int ims_pipeline(struct imap_client *c, imap_untagged_callback *fn, void *ctx,
		 int (*submit)(void *sctx, struct err *err), void *sctx,
		 struct err *err)
{
	int ret;

	imap_client_set_untagged(c, fn, ctx);
	ret = submit(sctx, err);
	if (ret == 0)
		ret = imap_client_drain(c, 0, err);
	imap_client_set_untagged(c, NULL, NULL);
	return ret;
}

/* ---- FETCH responses ---- */

const struct imap_arg *ims_fetch_items(const struct imap_resp *r)
{
	if (r->status != IMAP_STATUS_NONE || r->arg_count < 3 ||
	    !imap_arg_is_atom(&r->args[1], "FETCH") ||
	    r->args[2].type != IMAP_ARG_LIST)
		return NULL;
	return &r->args[2];
}

size_t ims_uid_index(const uint32_t *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] == uid)
			return mid;
		if (v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

uint32_t ims_resp_uid(const struct imap_arg *items)
{
	size_t i;
	uint64_t n;

	for (i = 0; items != NULL && i + 1 < items->list_count; i += 2)
		if (imap_arg_is_atom(&items->list[i], "UID") &&
		    imap_arg_u64(&items->list[i + 1], &n) == 0 &&
		    n <= UINT32_MAX)
			return (uint32_t)n;
	return 0;
}

int ims_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct append_ctx {
	store_append_cb *cb;
	void *ctx;
	struct imap_target *it;
	/* Answered before append_end attached cb (refused early). */
	int early;
	struct err early_err;
};

static void target_list_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_target *it = ctx;
	const char *delim_s, *raw, *rel;
	struct store_folder f = {0};
	struct buf name = BUF_INIT;
	size_t plen;

	if (r->status != IMAP_STATUS_NONE || r->arg_count < 4 ||
	    !imap_arg_is_atom(&r->args[0], "LIST") ||
	    r->args[1].type != IMAP_ARG_LIST)
		return;
	delim_s = imap_arg_str(&r->args[2]);
	raw = imap_arg_str(&r->args[3]);
	if (raw == NULL)
		return;
	plen = strlen(it->nm.personal.prefix);
	rel = raw;
	if (plen && strncmp(raw, it->nm.personal.prefix, plen) == 0)
		rel = raw + plen;
	ims_list_attrs(&r->args[1], &f);
	if (strcasecmp(rel, "INBOX") == 0) {
		buf_addstr(&name, "INBOX");
		f.special = STORE_SPECIAL_INBOX;
	} else {
		ims_name_from_server(rel, delim_s ? delim_s[0] : '\0', &name);
	}
	f.name = buf_detach(&name, NULL);
	buf_release(&name);
	it->list_out->v =
		xrealloc(it->list_out->v, (it->list_out->n + 1) * sizeof(f));
	it->list_out->v[it->list_out->n++] = f;
}

static int target_list(struct store_target *t, struct store_folder_list *out,
		       struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	it->list_out = out;
	imap_client_cmdbuf_init(it->c, &cb);
	if (imap_client_has_cap(it->c, "LIST-EXTENDED") &&
	    imap_client_has_cap(it->c, "SPECIAL-USE"))
		imap_cmd_raw(&cb, "LIST \"\" \"*\" RETURN (SPECIAL-USE)");
	else
		imap_cmd_raw(&cb, "LIST \"\" \"*\"");
	ret = ims_exec(it->c, &cb, target_list_untagged, it, &res, err);
	return ims_check(ret, &res, ERR_AUTH, "LIST on the target", err);
}

static void target_box_release(struct target_box *b)
{
	free(b->name);
	free(b->kw_keep);
	buf_release(&b->dropped);
	memset(b, 0, sizeof(*b));
	buf_init(&b->dropped, 4096);
}

static void box_untagged(void *ctx, const struct imap_resp *r)
{
	struct target_box *b = ctx;
	unsigned long long v;

	if (r->kind != IMAP_RESP_UNTAGGED || r->status != IMAP_STATUS_OK ||
	    r->code.len == 0)
		return;
	if (slice_ieq(r->code, "UIDVALIDITY") &&
	    slice_to_u64(r->code_args, &v) == 0 && v <= UINT32_MAX)
		b->uidvalidity = (uint32_t)v;
	else if (slice_ieq(r->code, "UIDNEXT") &&
		 slice_to_u64(r->code_args, &v) == 0 && v >= 1 &&
		 v <= (unsigned long long)UINT32_MAX + 1)
		b->last_uid = (uint32_t)(v - 1);
	else if (slice_ieq(r->code, "PERMANENTFLAGS")) {
		/* "(\Seen \Answered $Label1 \*)": keywords, and \* */
		b->saw_permanent = 1;
		free(b->kw_keep);
		imap_permanentflags_parse(r->code_args.p, r->code_args.len,
					  &b->kw_any, &b->kw_keep);
	}
}

/* The folder the next messages go to: SELECT it (read-write: EXAMINE
 * shows no PERMANENTFLAGS) for its UIDVALIDITY, UIDNEXT and the keywords
 * it keeps, once per folder.  The appends still unconfirmed are drained
 * first, so that each APPENDUID is checked against its own folder. */
static int target_box_load(struct imap_target *it, const char *name,
			   struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	if (imap_client_drain(it->c, 0, err) < 0)
		return -1;
	target_box_release(&it->box);
	it->box.name = xstrdup(name);
	it->box.kw_any = 1; /* no PERMANENTFLAGS: any (RFC 3501) */
	ims_cmd_mailbox(it->c, &cb, "SELECT", name);
	ret = ims_exec(it->c, &cb, box_untagged, &it->box, &res, err);
	free(it->selected);
	it->selected = NULL;
	if (ret < 0)
		return -1;
	if (res.status != IMAP_STATUS_OK) {
		/* nothing learnt: APPENDUID unchecked but for its form, any
		 * keyword sent (as before) */
		log_info("target folder \"%s\": SELECT answered %s %s", name,
			 res.code, res.text);
		it->box.uidvalidity = 0;
		it->box.last_uid = 0;
		it->box.kw_any = 1;
		return 0;
	}
	it->selected = xstrdup(name);
	return 0;
}

static int target_create(struct store_target *t, const char *folder,
			 struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct buf name = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	if (strcasecmp(folder, "INBOX") == 0)
		return 0;
	ims_name_to_server(folder, it->nm.personal.prefix, it->nm.delim, &name);
	ims_cmd_mailbox(it->c, &cb, "CREATE", name.p);
	ret = ims_exec(it->c, &cb, NULL, NULL, &res, err);
	buf_release(&name);
	if (ret < 0)
		return -1;
	if (res.status == IMAP_STATUS_OK ||
	    strcasecmp(res.code, "ALREADYEXISTS") == 0 ||
	    strcasestr(res.text, "exists") != NULL)
		return 0;
	ret = ims_check(ret, &res, ERR_FOLDER, "CREATE", err);
	err_prefix(err, "target folder \"%s\": ", folder);
	return ret;
}

/* A decimal number 1..2^32-1 at *p, which moves past it. */
static int parse_u32(const char **p, uint32_t *v_r)
{
	uint64_t v = 0;
	const char *q = *p;

	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		v = v * 10 + (uint64_t)(*q - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0)
		return -1;
	*p = q;
	*v_r = (uint32_t)v;
	return 0;
}

/* An APPENDUID the copy can be addressed by: two numbers, the folder's
 * UIDVALIDITY, and a UID above every UID the folder had (a server gives
 * new messages ascending UIDs).  Anything else is garbage: this copy and
 * the folder's next ones stay unaddressed, as on a server without UIDPLUS
 * (found by content on a resume, flags not updated), never journaled under
 * a UID that may be another message's. */
static int appenduid_ok(struct imap_target *it, const char *args,
			uint32_t *uv_r, uint32_t *uid_r)
{
	struct target_box *b = it != NULL ? &it->box : NULL;
	const char *p = args;
	const char *why = NULL;

	if (b == NULL)
		return 0;
	if (b->bogus)
		return 0;
	if (parse_u32(&p, uv_r) < 0 || *p++ != ' ' ||
	    parse_u32(&p, uid_r) < 0 || *p != '\0')
		why = "not two numbers above 0";
	else if (b->uidvalidity != 0 && *uv_r != b->uidvalidity)
		why = "not the folder's UIDVALIDITY";
	else if (*uid_r <= b->last_uid)
		why = "not a new UID (UIDs the folder already had)";
	if (why == NULL) {
		b->last_uid = *uid_r;
		return 1;
	}
	b->bogus = 1;
	log_warn("target folder \"%s\": APPENDUID %.40s is %s: its "
		 "copies are not addressed by UID (found by content on a "
		 "resume, flags not updated); check the target server",
		 b->name ? b->name : "?", args, why);
	return 0;
}

/* The flags of m into cb (imap_flags_format()). */
static void cmd_flags(struct imap_cmdbuf *cb, const struct store_msg *m,
		      const char *keep, struct buf *dropped_r)
{
	struct buf fl = BUF_INIT;

	imap_flags_format(m, keep, &fl, dropped_r);
	imap_cmd_raw(cb, fl.p);
	buf_release(&fl);
}

static void append_done(void *ctx, const struct imap_result *res)
{
	struct append_ctx *ac = ctx;
	struct err err = ERR_INIT;
	char ref[64] = "";

	if (ac->cb == NULL) {
		/* Refused before the literal went out: begin reports it. */
		ac->early = 1;
		ims_check(0, res, ERR_MESSAGE, "APPEND", &ac->early_err);
		return;
	}
	if (res->status == IMAP_STATUS_OK) {
		uint32_t uv, uid;
		if (strcasecmp(res->code, "APPENDUID") == 0 &&
		    appenduid_ok(ac->it, res->code_args, &uv, &uid))
			snprintf(ref, sizeof(ref), "%u:%u", uv, uid);
		ac->cb(ac->ctx, ref, NULL);
	} else {
		ims_check(0, res, ERR_MESSAGE, "APPEND", &err);
		ac->cb(ac->ctx, NULL, &err);
	}
	free(ac);
}

static int target_append_begin(struct store_target *t, const char *folder,
			       const struct store_msg *m, uint64_t size,
			       const char *tag, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct buf name = BUF_INIT;
	struct imap_cmdbuf cb;
	char date[64];
	int ret;

	(void)tag;
	ims_name_to_server(folder, it->nm.personal.prefix, it->nm.delim, &name);
	if (it->box.name == NULL || strcmp(it->box.name, name.p) != 0) {
		if (target_box_load(it, name.p, err) < 0) {
			buf_release(&name);
			return -1;
		}
	}
	ims_cmd_mailbox(it->c, &cb, "APPEND", name.p);
	imap_cmd_raw(&cb, " ");
	{
		size_t before = it->box.dropped.len;
		cmd_flags(&cb, m, it->box.kw_any ? NULL : it->box.kw_keep,
			  &it->box.dropped);
		if (it->box.dropped.len > before)
			log_warn("target folder \"%s\" keeps no keyword %s "
				 "(PERMANENTFLAGS): copying without it",
				 folder, it->box.dropped.p + before);
	}
	imap_format_internaldate(m->internaldate, m->tz_minutes, date,
				 sizeof(date));
	imap_cmd_rawf(&cb, " \"%s\" ", date);
	/* A plain literal: with literal8 Dovecot would re-encode binary
	 * parts as base64.  No message with NUL comes here (takes_nul). */
	imap_cmd_literal_header(&cb, size, 0);
	buf_release(&name);
	/* The append_ctx is attached at append_end, when the callback is
	 * known; the command's callback reads it through this holder. */
	it->stream_left = size;
	it->pending = xcalloc(1, sizeof(*it->pending));
	it->pending->it = it;
	ret = imap_client_stream_begin(it->c, &cb, append_done, it->pending,
				       err);
	imap_cmdbuf_release(&cb);
	if (ret > 0) {
		*err = it->pending->early_err;
		err_prefix(err, "folder \"%s\": ", folder);
		free(it->pending);
		it->pending = NULL;
		return -1;
	}
	if (ret < 0) {
		/* The command is gone with the connection. */
		it->pending = NULL;
	}
	return ret;
}

static int target_append_data(struct store_target *t, const char *p, size_t len,
			      struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;

	if (len > it->stream_left)
		return err_set(err, ERR_MESSAGE, EC_PROTOCOL,
			       "message longer than announced");
	it->stream_left -= len;
	return imap_client_stream_data(it->c, p, len, err);
}

static int target_append_end(struct store_target *t, store_append_cb *cb,
			     void *ctx, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;

	if (it->stream_left != 0)
		return err_set(err, ERR_MESSAGE, EC_PROTOCOL,
			       "message shorter than announced");
	it->pending->cb = cb;
	it->pending->ctx = ctx;
	it->pending = NULL;
	return imap_client_stream_end(it->c, err);
}

static void target_append_abort(struct store_target *t)
{
	struct imap_target *it = (struct imap_target *)t;

	/* A literal cannot be taken back: drop the connection so the
	 * server discards the partial message. */
	imap_client_destroy(&it->c);
	free(it->pending);
	it->pending = NULL;
}

static int target_flush(struct store_target *t, unsigned max_pending,
			struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;

	if (it->c == NULL)
		return err_set(err, ERR_TRANSIENT, EC_RESET,
			       "target connection was dropped");
	return imap_client_drain(it->c, max_pending, err);
}

static int target_takes_nul(struct store_target *t)
{
	(void)t;
	return 0;
}

static int target_keeps_bytes(struct store_target *t)
{
	(void)t;
	return 0;
}

static int target_set_flags(struct store_target *t, const char *folder,
			    const char *ref, const struct store_msg *m,
			    char **new_ref_r, struct err *err)
{
	struct imap_target *it = (struct imap_target *)t;
	struct buf name = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	unsigned long uv, uid;
	int ret;

	*new_ref_r = NULL;
	if (ref == NULL || sscanf(ref, "%lu:%lu", &uv, &uid) != 2)
		return 0; /* no UIDPLUS when it was copied: cannot address it */
	ims_name_to_server(folder, it->nm.personal.prefix, it->nm.delim, &name);
	if (it->selected == NULL || strcmp(it->selected, name.p) != 0) {
		ims_cmd_mailbox(it->c, &cb, "SELECT", name.p);
		ret = ims_exec(it->c, &cb, NULL, NULL, &res, err);
		ret = ims_check(ret, &res, ERR_FOLDER, "SELECT", err);
		free(it->selected);
		it->selected = ret == 0 ? xstrdup(name.p) : NULL;
		if (ret < 0) {
			buf_release(&name);
			return -1;
		}
	}
	buf_release(&name);
	imap_client_cmdbuf_init(it->c, &cb);
	imap_cmd_rawf(&cb, "UID STORE %lu FLAGS.SILENT ", uid);
	cmd_flags(&cb, m,
		  it->box.name != NULL && !it->box.kw_any &&
				  strcmp(it->box.name, it->selected) == 0
			  ? it->box.kw_keep
			  : NULL,
		  NULL);
	ret = ims_exec(it->c, &cb, NULL, NULL, &res, err);
	if (ret < 0)
		return -1;
	*new_ref_r = xstrdup(ref);
	return ims_check(ret, &res, ERR_MESSAGE, "UID STORE", err);
}

static char target_delimiter(struct store_target *t)
{
	return ((struct imap_target *)t)->nm.delim;
}

static void target_close(struct store_target *t)
{
	struct imap_target *it = (struct imap_target *)t;

	imap_client_logout(&it->c);
	free(it->selected);
	free(it->pending);
	ims_names_release(&it->nm);
	target_box_release(&it->box);
	buf_release(&it->box.dropped);
	free(it);
}

static const struct store_target_ops imap_target_ops = {
	.list = target_list,
	.create = target_create,
	.append_begin = target_append_begin,
	.append_data = target_append_data,
	.append_end = target_append_end,
	.append_abort = target_append_abort,
	.flush = target_flush,
	.find = ims_target_find,
	.find_altered = ims_target_find_altered,
	.takes_nul = target_takes_nul,
	.keeps_bytes = target_keeps_bytes,
	.set_flags = target_set_flags,
	.check = ims_target_check,
	.list_copies = ims_target_list_copies,
	.hash_copies = ims_target_hash_copies,
	.withdraw = ims_target_withdraw,
	.close = target_close,
	.delimiter = target_delimiter,
};

struct store_target *store_imap_target_create(struct imap_client *client,
					      struct err *err)
{
	struct imap_target *it = xcalloc(1, sizeof(*it));

	buf_init(&it->box.dropped, 4096);

	it->t.ops = &imap_target_ops;
	it->c = client;
	if (ims_names_load(client, &it->nm, err) < 0) {
		target_close(&it->t);
		return NULL;
	}
	return &it->t;
}

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

static void tfind_untagged(void *ctx, const struct imap_resp *r)
{
	struct tfind *f = ctx;
	uint64_t v;
	size_t i;

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
	if (imap_arg_is_atom(&r->args[0], "SEARCH")) {
		for (i = 1; i < r->arg_count; i++) {
			if (imap_arg_u64(&r->args[i], &v) < 0 || v == 0 ||
			    v > UINT32_MAX)
				continue;
			if (f->n == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 16;
				f->uids = xrealloc(f->uids,
						   f->cap * sizeof(*f->uids));
			}
			f->uids[f->n++] = (uint32_t)v;
		}
		return;
	}
	{
		const struct imap_arg *items = ims_fetch_items(r);
		const struct imap_arg *body = NULL;
		uint32_t uid = 0;
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dl = 0;
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
		    (body->type != IMAP_ARG_LITERAL &&
		     body->type != IMAP_ARG_STRING))
			return; /* streamed: hashed by the sink */
		if (f->loose) {
			uint64_t kept = 0;
			EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
			store_loose_update(f->md, body->str.p, body->str.len,
					   &kept);
			EVP_DigestFinal_ex(f->md, d, &dl);
		} else {
			EVP_Digest(body->str.p, body->str.len, d, &dl,
				   EVP_sha256(), NULL);
		}
		if (f->match == 0 && memcmp(d, f->want, 32) == 0)
			f->match = uid;
	}
}

static int tfind_lit_begin(void *ctx, const struct imap_resp *partial,
			   struct slice key, uint64_t size, int literal8)
{
	struct tfind *f = ctx;
	const struct imap_arg *items;
	size_t i;

	(void)size;
	(void)literal8;
	f->cur = 0;
	if (!(key.len == 6 && strncasecmp(key.p, "BODY[]", 6) == 0))
		return 0;
	items = partial->arg_count >= 3 ? &partial->args[2] : NULL;
	for (i = 0; items != NULL && i + 1 < items->list_count; i += 2) {
		uint64_t n;
		if (imap_arg_is_atom(&items->list[i], "UID") &&
		    imap_arg_u64(&items->list[i + 1], &n) == 0)
			f->cur = (uint32_t)n;
	}
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
	if (!(key.len == 6 && strncasecmp(key.p, "BODY[]", 6) == 0))
		return 0;
	h->cur = ims_uid_index(h->uids, h->n,
			       ims_resp_uid(partial->arg_count >= 3
						    ? &partial->args[2]
						    : NULL));
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
