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
#include "store/identity_parts.h"
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

/* "* STATUS name (MESSAGES n UIDNEXT n UIDVALIDITY n HIGHESTMODSEQ n)" */
static void parse_status(const struct imap_arg *l,
			 struct store_folder_status *st)
{
	size_t i;

	for (i = 0; i + 1 < l->list_count; i += 2) {
		uint64_t v;
		if (imap_arg_u64(&l->list[i + 1], &v) < 0)
			continue;
		if (imap_arg_is_atom(&l->list[i], "MESSAGES"))
			st->messages = (uint32_t)v;
		else if (imap_arg_is_atom(&l->list[i], "UIDNEXT"))
			st->uidnext = (uint32_t)v;
		else if (imap_arg_is_atom(&l->list[i], "UIDVALIDITY"))
			st->uidvalidity = (uint32_t)v;
		else if (imap_arg_is_atom(&l->list[i], "HIGHESTMODSEQ"))
			st->highestmodseq = v;
	}
}

static void source_list_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	const struct imap_arg *attrs;
	const char *delim_s, *raw;
	struct store_folder f = {0};
	struct buf name = BUF_INIT;
	char delim;
	size_t i;

	if (r->status == IMAP_STATUS_NONE && r->arg_count >= 3 &&
	    imap_arg_is_atom(&r->args[0], "STATUS") &&
	    r->args[2].type == IMAP_ARG_LIST) {
		raw = imap_arg_str(&r->args[1]);
		if (raw == NULL ||
		    !ims_source_rel_name(is, raw, is->nm.delim, &name)) {
			buf_release(&name);
			return;
		}
		if (strset_find(&is->list_names, name.p, &i)) {
			struct store_folder *lf = &is->list_out->v[i];
			parse_status(&r->args[2], &lf->status);
			lf->has_status = 1;
		}
		buf_release(&name);
		return;
	}
	if (r->status != IMAP_STATUS_NONE || r->arg_count < 4 ||
	    !imap_arg_is_atom(&r->args[0], "LIST"))
		return;
	attrs = &r->args[1];
	delim_s = imap_arg_str(&r->args[2]);
	delim = delim_s ? delim_s[0] : '\0';
	raw = imap_arg_str(&r->args[3]);
	if (raw == NULL || attrs->type != IMAP_ARG_LIST)
		return;
	if (!ims_source_rel_name(is, raw, delim, &name)) {
		buf_release(&name);
		return;
	}
	ims_list_attrs(attrs, &f);
	if (strcmp(name.p, "INBOX") == 0) {
		f.special = STORE_SPECIAL_INBOX;
		if (is->root_n > 0 && is->root_inbox == NULL)
			is->root_inbox = xstrdup(raw);
	} else {
		if (f.special == STORE_SPECIAL_NONE &&
		    strchr(name.p, '/') == NULL)
			f.special = store_special_from_name(name.p);
		if (f.special == STORE_SPECIAL_INBOX)
			f.special = STORE_SPECIAL_NONE;
	}
	/* exactly its size: a buf's capacity is 64 bytes or more, and a
	 * mailbox may have 200,000 folders */
	f.name = xstrdup(name.p);
	buf_release(&name);
	/* a hash set, not a scan: 200,000 folders stay linear */
	if (strset_add(&is->list_names, f.name, NULL) == 1) {
		free(f.name);
		return;
	}
	if (is->list_out->n == is->list_cap) {
		is->list_cap = is->list_cap ? 2 * is->list_cap : 64;
		is->list_out->v =
			xrealloc(is->list_out->v, is->list_cap * sizeof(f));
	}
	is->list_out->v[is->list_out->n++] = f;
}

static int source_list(struct store_source *s, struct store_folder_list *out,
		       struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	is->list_out = out;
	strset_init(&is->list_names, 0);
	is->list_cap = out->n;
	imap_client_cmdbuf_init(is->c, &cb);
	if (imap_client_has_cap(is->c, "LIST-STATUS")) {
		/* every folder's counters in the same command */
		imap_cmd_rawf(&cb,
			      "LIST \"\" \"*\" RETURN (%sSTATUS (MESSAGES "
			      "UIDNEXT UIDVALIDITY%s))",
			      imap_client_has_cap(is->c, "SPECIAL-USE")
				      ? "SPECIAL-USE "
				      : "",
			      imap_client_has_cap(is->c, "CONDSTORE")
				      ? " HIGHESTMODSEQ"
				      : "");
	} else if (imap_client_has_cap(is->c, "LIST-EXTENDED") &&
		   imap_client_has_cap(is->c, "SPECIAL-USE")) {
		imap_cmd_raw(&cb, "LIST \"\" \"*\" RETURN (SPECIAL-USE)");
	} else {
		imap_cmd_raw(&cb, "LIST \"\" \"*\"");
	}
	ret = ims_exec(is->c, &cb, source_list_untagged, is, &res, err);
	strset_free(&is->list_names);
	if (out->n > 0 && is->list_cap > out->n) {
		/* the doubling's slack back (a quarter of the array, on
		 * average) */
		out->v = xrealloc(out->v, out->n * sizeof(*out->v));
		is->list_cap = out->n;
	}
	if (ims_check(ret, &res, ERR_AUTH, "LIST", err) < 0)
		return -1;
	if (is->root_n > 0)
		ims_root_self_name(is, out);
	if (is->root_n > 0 && out->n == 0)
		return err_set(err, ERR_AUTH, EC_NO,
			       "no folder found under UserRoot \"%s\": check "
			       "the UserRoot column and that the login may "
			       "read it",
			       is->root[0]);
	/* INBOX always exists for a personal mailbox, listed or not. */
	if (is->root_n == 0) {
		size_t i;
		for (i = 0; i < out->n; i++)
			if (strcmp(out->v[i].name, "INBOX") == 0)
				break;
		if (i == out->n) {
			out->v = xrealloc(out->v,
					  (out->n + 1) * sizeof(*out->v));
			memset(&out->v[out->n], 0, sizeof(*out->v));
			out->v[out->n].name = xstrdup("INBOX");
			out->v[out->n].special = STORE_SPECIAL_INBOX;
			out->n++;
		}
	}
	return 0;
}

static void select_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	unsigned long long v;

	if (r->kind != IMAP_RESP_UNTAGGED)
		return;
	if (r->status == IMAP_STATUS_OK && r->code.len > 0) {
		if (slice_to_u64(r->code_args, &v) < 0)
			return;
		if (slice_ieq(r->code, "UIDVALIDITY"))
			is->st->uidvalidity = (uint32_t)v;
		else if (slice_ieq(r->code, "UIDNEXT"))
			is->st->uidnext = (uint32_t)v;
		else if (slice_ieq(r->code, "HIGHESTMODSEQ"))
			is->st->highestmodseq = v;
		return;
	}
	if (r->status == IMAP_STATUS_NONE && r->arg_count >= 2 &&
	    imap_arg_is_atom(&r->args[1], "EXISTS")) {
		uint64_t n;
		if (imap_arg_u64(&r->args[0], &n) == 0)
			is->st->messages = (uint32_t)n;
	}
}

static int source_select(struct store_source *s, const char *folder,
			 struct store_folder_status *st, struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	struct buf name = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	memset(st, 0, sizeof(*st));
	ims_source_server_name(is, folder, &name);
	ims_cmd_mailbox(is->c, &cb, "EXAMINE", name.p);
	is->st = st;
	ret = ims_exec(is->c, &cb, select_untagged, is, &res, err);
	if (ret == 0 && ims_check(ret, &res, ERR_FOLDER, "EXAMINE", err) < 0) {
		err_prefix(err, "folder \"%s\": ", folder);
		ret = -1;
	}
	free(is->selected);
	is->selected = ret == 0 ? buf_detach(&name, NULL) : NULL;
	buf_release(&name);
	return ret;
}

static int meta_cmp_uid(const void *a, const void *b)
{
	const struct store_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* More answers than the caller keeps: the lowest UIDs stay, and from the
 * first UID left out on, answers are dropped as they come.  Held at most
 * twice meta_max, whatever the server sends. */
static void meta_cut(struct imap_source *is)
{
	struct store_msg_list *l = is->meta_out;
	size_t n = l->n - is->meta_from, k;
	struct store_msg *v;
	uint32_t cut;

	/* before any pointer arithmetic: l->v is NULL while the list is
	 * empty */
	if (n <= is->meta_max)
		return;
	v = l->v + is->meta_from;
	qsort(v, n, sizeof(*v), meta_cmp_uid);
	cut = v[is->meta_max].uid;
	for (k = is->meta_max; k > 0 && v[k - 1].uid == cut; k--)
		;
	for (size_t i = k; i < n; i++) {
		free(v[i].keywords);
		free(v[i].message_id);
	}
	l->n = is->meta_from + k;
	is->meta_ceiling = cut;
}

static void meta_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	const struct imap_arg *items = ims_fetch_items(r);
	struct store_msg m;
	size_t i;
	int have_uid = 0, have_size = 0, have_date = 0;

	if (items == NULL)
		return;
	memset(&m, 0, sizeof(m));
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const struct imap_arg *k = &items->list[i];
		const struct imap_arg *v = &items->list[i + 1];
		const char *key = imap_arg_str(k);
		uint64_t n;
		if (key == NULL)
			continue;
		if (strcasecmp(key, "UID") == 0 && imap_arg_u64(v, &n) == 0) {
			m.uid = (uint32_t)n;
			have_uid = 1;
		} else if (strcasecmp(key, "RFC822.SIZE") == 0 &&
			   imap_arg_u64(v, &n) == 0) {
			m.size = n;
			have_size = 1;
		} else if (strcasecmp(key, "FLAGS") == 0 &&
			   v->type == IMAP_ARG_LIST) {
			imap_flags_parse(v, &m);
		} else if (strcasecmp(key, "BINARY.SIZE[]") == 0 &&
			   imap_arg_u64(v, &n) == 0) {
			m.binary_size = n;
		} else if (strcasecmp(key, "INTERNALDATE") == 0) {
			const char *d = imap_arg_str(v);
			if (d != NULL &&
			    imap_parse_internaldate(d, &m.internaldate,
						    &m.tz_minutes) == 0)
				have_date = 1;
		}
	}
	/* A metadata answer must be whole: an unsolicited FETCH (a flag
	 * change, or a stray from a broken server) is no message. */
	if (is->want_meta && !(have_size && have_date))
		have_uid = 0;
	if (!have_uid || m.uid < is->min_uid ||
	    (is->max_uid != 0 && m.uid > is->max_uid) ||
	    (is->meta_ceiling != 0 && m.uid >= is->meta_ceiling)) {
		free(m.keywords);
		free(m.message_id);
		return;
	}
	if (is->meta_out->n == is->meta_out->cap) {
		is->meta_out->cap =
			is->meta_out->cap ? is->meta_out->cap * 2 : 256;
		is->meta_out->v = xrealloc(is->meta_out->v,
					   is->meta_out->cap * sizeof(m));
	}
	is->meta_out->v[is->meta_out->n++] = m;
	if (is->meta_max != 0 &&
	    is->meta_out->n - is->meta_from >= 2 * is->meta_max)
		meta_cut(is);
}

static int source_fetch_meta(struct store_source *s, uint32_t min_uid,
			     uint32_t max_uid, size_t max_n,
			     struct store_msg_list *out, uint32_t *covered_r,
			     struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	size_t before = out->n;
	int binsize;

	is->meta_out = out;
	is->min_uid = min_uid ? min_uid : 1;
	is->max_uid = max_uid;
	is->meta_from = before;
	is->meta_max = max_n;
	if (covered_r != NULL)
		*covered_r = max_uid;
	if (max_uid != 0 && max_uid < is->min_uid)
		return 0;
again:
	is->meta_ceiling = 0;
	binsize = imap_client_has_cap(is->c, "BINARY") && !is->no_binary_size;
	imap_client_cmdbuf_init(is->c, &cb);
	if (max_uid != 0)
		imap_cmd_rawf(&cb,
			      "UID FETCH %u:%u (UID FLAGS INTERNALDATE "
			      "RFC822.SIZE%s)",
			      is->min_uid, max_uid,
			      binsize ? " BINARY.SIZE[]" : "");
	else
		imap_cmd_rawf(&cb,
			      "UID FETCH %u:* (UID FLAGS INTERNALDATE "
			      "RFC822.SIZE%s)",
			      is->min_uid, binsize ? " BINARY.SIZE[]" : "");
	is->want_meta = 1;
	ret = ims_exec(is->c, &cb, meta_untagged, is, &res, err);
	is->want_meta = 0;
	if (ret == 0 && binsize && res.status != IMAP_STATUS_OK) {
		/* e.g. NO [UNKNOWN-CTE] for one message: ask again without
		 * BINARY.SIZE[], and fetch every body with BODY[]. */
		log_info("source refused BINARY.SIZE[] (%s %s): fetching "
			 "bodies with BODY[] only",
			 res.code, res.text);
		while (out->n > before) {
			out->n--;
			free(out->v[out->n].keywords);
			free(out->v[out->n].message_id);
		}
		is->no_binary_size = 1;
		goto again;
	}
	if (ret == 0 && max_n != 0)
		meta_cut(is);
	if (covered_r != NULL && is->meta_ceiling != 0)
		*covered_r = is->meta_ceiling - 1;
	is->meta_max = 0;
	is->max_uid = 0;
	is->meta_ceiling = 0;
	return ims_check(ret, &res, ERR_FOLDER, "UID FETCH", err);
}

static int source_fetch_flags(struct store_source *s, uint32_t min_uid,
			      uint32_t max_uid, uint64_t changedsince,
			      size_t max_n, struct store_msg_list *out,
			      uint32_t *covered_r, struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	if (covered_r != NULL)
		*covered_r = max_uid;
	if (min_uid == 0)
		min_uid = 1;
	if (max_uid == 0 || max_uid < min_uid)
		return 0;
	is->meta_out = out;
	is->min_uid = min_uid;
	is->max_uid = max_uid;
	is->meta_from = out->n;
	is->meta_max = max_n;
	is->meta_ceiling = 0;
	imap_client_cmdbuf_init(is->c, &cb);
	imap_cmd_rawf(&cb, "UID FETCH %u:%u (UID FLAGS)", min_uid, max_uid);
	if (changedsince > 0 && imap_client_has_cap(is->c, "CONDSTORE"))
		imap_cmd_rawf(&cb, " (CHANGEDSINCE %llu)",
			      (unsigned long long)changedsince);
	ret = ims_exec(is->c, &cb, meta_untagged, is, &res, err);
	if (ret == 0 && max_n != 0)
		meta_cut(is);
	if (covered_r != NULL && is->meta_ceiling != 0)
		*covered_r = is->meta_ceiling - 1;
	is->max_uid = 0;
	is->meta_max = 0;
	is->meta_ceiling = 0;
	return ims_check(ret, &res, ERR_FOLDER, "UID FETCH FLAGS", err);
}

static void source_close(struct store_source *s)
{
	struct imap_source *is = (struct imap_source *)s;
	size_t i;

	imap_client_logout(&is->c);
	ims_names_release(&is->nm);
	for (i = 0; i < is->root_n; i++)
		free(is->root[i]);
	free(is->root);
	free(is->root_self);
	free(is->root_inbox);
	free(is->selected);
	buf_release(&is->big_header);
	free(is);
}

static const struct store_source_ops imap_source_ops = {
	.list = source_list,
	.select = source_select,
	.fetch_meta = source_fetch_meta,
	.fetch_bodies = ims_source_fetch_bodies,
	.fetch_flags = source_fetch_flags,
	.fetch_summary = ims_source_fetch_summary,
	.nul_check = ims_source_nul_check,
	.size_over = ims_source_size_over,
	.close = source_close,
};

struct store_source *store_imap_source_create(struct imap_client *client,
					      const char *user_root,
					      struct err *err)
{
	struct imap_source *is = xcalloc(1, sizeof(*is));

	is->s.ops = &imap_source_ops;
	is->c = client;
	buf_init(&is->big_header, 65536);
	ims_source_sink_init(is);
	if (ims_names_load(client, &is->nm, err) < 0 ||
	    (user_root != NULL && user_root[0] != '\0' &&
	     ims_root_parse(is, user_root, err) < 0)) {
		source_close(&is->s);
		return NULL;
	}
	return &is->s;
}

struct nulcheck {
	struct imap_source *is;
	const uint32_t *uids; /* sorted */
	size_t n;
	struct buf *parts; /* per UID: "PART:SIZE PART:SIZE ..." */
	unsigned char *has_nul;
	size_t cur; /* streamed literal's index, or n */
};

/* Big literals: straight from the parser into the caller's sink. */
static int body_lit_begin(void *ctx, const struct imap_resp *partial,
			  struct slice key, uint64_t size, int literal8)
{
	struct imap_source *is = ctx;
	const struct imap_arg *items;
	size_t i;

	(void)literal8;
	is->in_body = 0;
	is->in_header = 0;
	is->in_scan = 0;
	if (is->sink == NULL ||
	    !((key.len == 6 && strncasecmp(key.p, "BODY[]", 6) == 0) ||
	      (key.len == 8 && strncasecmp(key.p, "BINARY[]", 8) == 0))) {
		/* Some other big literal: a header (keep its start for a
		 * report), a name: never a body. */
		if (key.len >= 11 &&
		    strncasecmp(key.p, "BODY[HEADER", 11) == 0) {
			buf_reset(&is->big_header);
			is->in_header = 1;
		}
		if (is->nul_scan && is->nc != NULL && key.len > 7 &&
		    strncasecmp(key.p, "BINARY[", 7) == 0) {
			is->nc->cur = ims_uid_index(
				is->nc->uids, is->nc->n,
				ims_resp_uid(partial->arg_count >= 3
						     ? &partial->args[2]
						     : NULL));
			is->in_scan = is->nc->cur < is->nc->n;
		}
		return 0;
	}
	items = partial->arg_count >= 3 ? &partial->args[2] : NULL;
	is->body_uid = 0;
	for (i = 0; items != NULL && i + 1 < items->list_count; i += 2) {
		uint64_t n;
		if (imap_arg_is_atom(&items->list[i], "UID") &&
		    imap_arg_u64(&items->list[i + 1], &n) == 0)
			is->body_uid = (uint32_t)n;
	}
	if (is->body_uid == 0) {
		log_error("server sent a message body before its UID");
		is->sink_failed = 1;
		return -1;
	}
	is->in_body = 1;
	if (is->sink->begin(is->sink->ctx, is->body_uid, size) < 0) {
		is->sink_failed = 1;
		return -1;
	}
	return 0;
}

static int body_lit_data(void *ctx, const char *p, size_t len)
{
	struct imap_source *is = ctx;

	if (is->in_scan) {
		if (memchr(p, '\0', len) != NULL)
			is->nc->has_nul[is->nc->cur] = 1;
		return 0;
	}
	if (is->in_header) {
		size_t room = 65536 - is->big_header.len;
		buf_add(&is->big_header, p, len < room ? len : room);
		return 0;
	}
	if (!is->in_body)
		return 0;
	if (is->sink->data(is->sink->ctx, p, len) < 0) {
		is->sink_failed = 1;
		return -1;
	}
	return 0;
}

static int body_lit_end(void *ctx)
{
	struct imap_source *is = ctx;

	if (!is->in_body)
		return 0; /* a header stays in big_header for its response */
	is->in_body = 0;
	if (is->sink->end(is->sink->ctx) < 0) {
		is->sink_failed = 1;
		return -1;
	}
	return 0;
}

void ims_source_sink_init(struct imap_source *is)
{
	/* Big literals go to the body sink, or are kept (a header's start)
	 * or dropped: never an error that would break the session. */
	is->lsink.begin = body_lit_begin;
	is->lsink.data = body_lit_data;
	is->lsink.end = body_lit_end;
	is->lsink.ctx = is;
	imap_client_set_sink(is->c, &is->lsink);
}

/* Small literals arrive whole in the response. */
static void body_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	const struct imap_arg *items = ims_fetch_items(r);
	const struct imap_arg *body = NULL;
	uint32_t uid = 0;
	size_t i;

	if (items == NULL || is->sink_failed)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const char *key = imap_arg_str(&items->list[i]);
		uint64_t n;
		if (key == NULL)
			continue;
		if (strcasecmp(key, "UID") == 0 &&
		    imap_arg_u64(&items->list[i + 1], &n) == 0)
			uid = (uint32_t)n;
		else if (strncasecmp(key, "BINARY[", 7) == 0 ||
			 strncasecmp(key, "BODY[]", 6) == 0)
			body = &items->list[i + 1];
	}
	if (body == NULL || uid == 0 || body->type == IMAP_ARG_LITERAL_STREAMED)
		return; /* flags update, or already streamed */
	if (body->type != IMAP_ARG_LITERAL && body->type != IMAP_ARG_STRING)
		return; /* NIL: vanished or unreadable: not delivered */
	if (is->sink->begin(is->sink->ctx, uid, body->str.len) < 0 ||
	    is->sink->data(is->sink->ctx, body->str.p, body->str.len) < 0 ||
	    is->sink->end(is->sink->ctx) < 0)
		is->sink_failed = 1;
}

static void body_fetch_done(void *ctx, const struct imap_result *res)
{
	struct imap_source *is = ctx;

	if (res->status != IMAP_STATUS_OK) {
		/* What it did not deliver, the caller sees is missing. */
		is->body_refused = 1;
		/* our sink cut the stream (a target error, a stop), the
		 * stop flag cut the response, or the source is being closed
		 * (is->c is NULL while imap_client_destroy() cancels what is
		 * in flight): the caller says why; the lost answer is no
		 * news */
		if (is->sink_failed || is->c == NULL ||
		    imap_client_stop_requested(is->c))
			return;
		log_warn("source refused a body FETCH: %s%s%s%s",
			 res->code[0] ? "[" : "", res->code,
			 res->code[0] ? "] " : "", res->text);
	}
}

static int fetch_group(struct imap_source *is, const uint32_t *uids, size_t n,
		       const char *item, struct err *err)
{
	size_t done = 0;

	while (done < n) {
		struct imap_cmdbuf cb;
		struct buf set = BUF_INIT;
		size_t used = seqset_build(uids + done, n - done, 4000, &set);
		int ret;

		imap_client_cmdbuf_init(is->c, &cb);
		imap_cmd_rawf(&cb, "UID FETCH %s (UID %s)", set.p, item);
		buf_release(&set);
		ret = ims_submit(is->c, &cb, body_fetch_done, is, err);
		if (ret < 0)
			return -1;
		done += used;
	}
	return 0;
}

/* The body FETCHes of one fetch_bodies(): BINARY.PEEK[] for the messages
 * whose BINARY[] is their stored bytes, BODY.PEEK[] for the others. */
struct body_groups {
	struct imap_source *is;
	const uint32_t *bin, *raw;
	size_t nb, nr;
};

static int submit_body_groups(void *ctx, struct err *err)
{
	struct body_groups *g = ctx;
	int ret = 0;

	if (g->nb > 0)
		ret = fetch_group(g->is, g->bin, g->nb, "BINARY.PEEK[]", err);
	if (ret == 0 && g->nr > 0)
		ret = fetch_group(g->is, g->raw, g->nr, "BODY.PEEK[]", err);
	return ret;
}

int ims_source_fetch_bodies(struct store_source *s,
			    const struct store_msg *const *msgs, size_t n,
			    const struct store_body_sink *sink, struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	uint32_t *bin = xmalloc(n * sizeof(*bin) + 1);
	uint32_t *raw = xmalloc(n * sizeof(*raw) + 1);
	size_t nb = 0, nr = 0, i;
	int has_binary = imap_client_has_cap(is->c, "BINARY");
	struct body_groups g;
	int ret;

	for (i = 0; i < n; i++) {
		if (has_binary && msgs[i]->binary_size != 0 &&
		    msgs[i]->binary_size == msgs[i]->size)
			bin[nb++] = msgs[i]->uid;
		else
			raw[nr++] = msgs[i]->uid;
	}
	is->sink = sink;
	is->sink_failed = 0;
	is->in_body = 0;
	is->body_refused = 0;
	g = (struct body_groups){is, bin, raw, nb, nr};
	ret = ims_pipeline(is->c, body_untagged, is, submit_body_groups, &g,
			   err);
	if (ret < 0 && is->sink_failed) {
		/* The sink's own error (target side) is the caller's to
		 * report; say that the source stream was cut. */
		err_set(err, ERR_TRANSIENT, EC_IO,
			"copy interrupted while streaming a message body");
	}
	if (ret == 0 && is->sink_failed)
		ret = err_set(err, ERR_TRANSIENT, EC_IO,
			      "copy interrupted while delivering a message");
	is->sink = NULL;
	free(bin);
	free(raw);
	return ret;
}

static void summary_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	const struct imap_arg *items = ims_fetch_items(r);
	size_t i;

	if (items == NULL)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const char *key = imap_arg_str(&items->list[i]);
		const struct imap_arg *v = &items->list[i + 1];
		const char *h, *end;
		if (key == NULL || strncasecmp(key, "BODY[HEADER", 11) != 0)
			continue;
		if (v->type == IMAP_ARG_LITERAL || v->type == IMAP_ARG_STRING) {
			h = v->str.p;
			end = h + v->str.len;
		} else if (v->type == IMAP_ARG_LITERAL_STREAMED) {
			/* over the inline limit: its first 64 KiB */
			h = is->big_header.p;
			end = h + is->big_header.len;
		} else {
			continue;
		}
		imap_header_summary(h, (size_t)(end - h), is->summary);
	}
}

int ims_source_fetch_summary(struct store_source *s, uint32_t uid,
			     char **subject_r, char **from_r, char **date_r,
			     struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	char *vals[3] = {NULL, NULL, NULL};
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	is->summary = vals;
	imap_client_cmdbuf_init(is->c, &cb);
	imap_cmd_rawf(&cb,
		      "UID FETCH %u (BODY.PEEK[HEADER.FIELDS (SUBJECT "
		      "FROM DATE)])",
		      uid);
	ret = ims_exec(is->c, &cb, summary_untagged, is, &res, err);
	is->summary = NULL;
	*subject_r = vals[0];
	*from_r = vals[1];
	*date_r = vals[2];
	return ims_check(ret, &res, ERR_MESSAGE, "UID FETCH", err);
}

/* Part numbers and sizes ("1.2:3000") of the leaf parts of a
 * BODYSTRUCTURE whose transfer encoding BINARY[] leaves as it is (none,
 * 7bit, 8bit, binary): there, BINARY[part] is the stored bytes and shows
 * a NUL that BODY[] turns into 0x80.  A message/rfc822 part is entered.
 * A size the server does not give is taken as UINT64_MAX. */
void store_identity_parts(const struct imap_arg *b, const char *prefix,
			  struct buf *out, unsigned depth)
{
	char num[256];
	size_t i;

	if (b->type != IMAP_ARG_LIST || b->list_count == 0 || depth > 40)
		return;
	if (b->list[0].type == IMAP_ARG_LIST) {
		unsigned k = 0;
		for (i = 0;
		     i < b->list_count && b->list[i].type == IMAP_ARG_LIST;
		     i++) {
			snprintf(num, sizeof(num), "%s%s%u", prefix,
				 prefix[0] ? "." : "", ++k);
			store_identity_parts(&b->list[i], num, out, depth + 1);
		}
		return;
	}
	{
		const char *type = imap_arg_str(&b->list[0]);
		const char *sub =
			b->list_count > 1 ? imap_arg_str(&b->list[1]) : NULL;
		const char *enc =
			b->list_count > 5 ? imap_arg_str(&b->list[5]) : NULL;
		const char *part = prefix[0] ? prefix : "1";
		if (type != NULL && sub != NULL &&
		    strcasecmp(type, "MESSAGE") == 0 &&
		    strcasecmp(sub, "RFC822") == 0 && b->list_count > 8) {
			const struct imap_arg *inner = &b->list[8];
			if (inner->type == IMAP_ARG_LIST &&
			    inner->list_count > 0 &&
			    inner->list[0].type != IMAP_ARG_LIST) {
				/* a single-part message: its body is P.1 */
				snprintf(num, sizeof(num), "%s.1", part);
				store_identity_parts(inner, num, out,
						     depth + 1);
			} else {
				store_identity_parts(inner, part, out,
						     depth + 1);
			}
			return;
		}
		if (enc == NULL || strcasecmp(enc, "7BIT") == 0 ||
		    strcasecmp(enc, "8BIT") == 0 ||
		    strcasecmp(enc, "BINARY") == 0) {
			uint64_t size = UINT64_MAX;
			if (b->list_count > 6)
				(void)imap_arg_u64(&b->list[6], &size);
			buf_addf(out, "%s%s:%llu", out->len ? " " : "", part,
				 (unsigned long long)size);
		}
	}
}

static void bs_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	struct nulcheck *nc = is->nc;
	const struct imap_arg *items = ims_fetch_items(r);
	size_t i, k;

	if (items == NULL || nc == NULL)
		return;
	k = ims_uid_index(nc->uids, nc->n, ims_resp_uid(items));
	if (k == nc->n)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const struct imap_arg *v = &items->list[i + 1];
		const char *key = imap_arg_str(&items->list[i]);
		if (key == NULL)
			continue;
		if (strcasecmp(key, "BODYSTRUCTURE") == 0) {
			buf_reset(&nc->parts[k]);
			store_identity_parts(v, "", &nc->parts[k], 0);
		} else if (strncasecmp(key, "BINARY[", 7) == 0 &&
			   (v->type == IMAP_ARG_LITERAL ||
			    v->type == IMAP_ARG_STRING) &&
			   memchr(v->str.p, '\0', v->str.len) != NULL) {
			nc->has_nul[k] = 1;
		}
	}
}

/* The parts' BINARY[] literals small enough to be kept in memory come in
 * one FETCH response per command, and the parser holds at most 2 MiB per
 * response (parse.h max_response): one command asks for at most 1 MiB
 * of parts by their BODYSTRUCTURE sizes, a bigger part alone (it is
 * streamed).  A digest of 100 parts of 30 KB is three commands. */
#define NUL_CHECK_CMD_BYTES (1024 * 1024)

static int submit_binary_parts(struct imap_source *is, uint32_t uid,
			       const char *p, struct err *err)
{
	struct imap_cmdbuf cb;
	int ret = 0;

	while (ret == 0 && *p) {
		uint64_t sum = 0;
		unsigned count = 0;

		imap_client_cmdbuf_init(is->c, &cb);
		imap_cmd_rawf(&cb, "UID FETCH %u (UID", uid);
		while (*p) {
			const char *colon = strchr(p, ':');
			char *end;
			unsigned long long size;
			if (colon == NULL)
				break; /* not from identity_parts */
			size = strtoull(colon + 1, &end, 10);
			if (count > 0 && (size > NUL_CHECK_CMD_BYTES - sum))
				break;
			imap_cmd_rawf(&cb, " BINARY.PEEK[%.*s]",
				      (int)(colon - p), p);
			sum += size < NUL_CHECK_CMD_BYTES ? size
							  : NUL_CHECK_CMD_BYTES;
			count++;
			p = end;
			while (*p == ' ')
				p++;
		}
		imap_cmd_raw(&cb, ")");
		if (count == 0) {
			imap_cmdbuf_release(&cb);
			break;
		}
		ret = ims_submit(is->c, &cb, NULL, NULL, err);
	}
	return ret;
}

/* For ims_pipeline(): every message's parts. */
static int submit_nul_parts(void *ctx, struct err *err)
{
	struct nulcheck *nc = ctx;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < nc->n; i++)
		ret = submit_binary_parts(nc->is, nc->uids[i], nc->parts[i].p,
					  err);
	return ret;
}

int ims_source_nul_check(struct store_source *s, const uint32_t *uids, size_t n,
			 unsigned char *has_nul_r, struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	struct nulcheck nc;
	struct imap_cmdbuf cb;
	struct imap_result res;
	struct buf set = BUF_INIT;
	size_t i;
	int ret = 0;

	memset(has_nul_r, 0, n);
	if (n == 0 || !imap_client_has_cap(is->c, "BINARY"))
		return 0; /* no way to tell */
	memset(&nc, 0, sizeof(nc));
	nc.is = is;
	nc.uids = uids;
	nc.n = n;
	nc.has_nul = has_nul_r;
	nc.cur = n;
	nc.parts = xcalloc(n, sizeof(*nc.parts));
	for (i = 0; i < n; i++)
		buf_init(&nc.parts[i], 2 * 1024 * 1024);
	is->nc = &nc;
	/* One command for every structure, then one per message for its
	 * parts, pipelined. */
	seqset_build(uids, n, (size_t)-1, &set);
	imap_client_cmdbuf_init(is->c, &cb);
	imap_cmd_rawf(&cb, "UID FETCH %s (UID BODYSTRUCTURE)", set.p);
	ret = ims_exec(is->c, &cb, bs_untagged, is, &res, err);
	if (ret == 0 && res.status == IMAP_STATUS_OK) {
		is->nul_scan = 1;
		ret = ims_pipeline(is->c, bs_untagged, is, submit_nul_parts,
				   &nc, err);
		is->nul_scan = 0;
	}
	is->nc = NULL;
	for (i = 0; i < n; i++)
		buf_release(&nc.parts[i]);
	free(nc.parts);
	buf_release(&set);
	return ret;
}

struct sizeprobe {
	const uint32_t *uids;
	size_t n;
	unsigned char *over;
};

static void probe_untagged(void *ctx, const struct imap_resp *r)
{
	struct sizeprobe *sp = ctx;
	const struct imap_arg *items = ims_fetch_items(r);
	size_t i, k;

	if (items == NULL)
		return;
	k = ims_uid_index(sp->uids, sp->n, ims_resp_uid(items));
	if (k == sp->n)
		return;
	for (i = 0; i + 1 < items->list_count; i += 2) {
		const char *key = imap_arg_str(&items->list[i]);
		const struct imap_arg *v = &items->list[i + 1];
		if (key == NULL || strncasecmp(key, "BODY[]<", 7) != 0)
			continue;
		/* a byte at that offset: the message is longer */
		sp->over[k] = (v->type == IMAP_ARG_LITERAL ||
			       v->type == IMAP_ARG_STRING) &&
			      v->str.len > 0;
	}
}

int ims_source_size_over(struct store_source *s, const uint32_t *uids, size_t n,
			 uint64_t limit, unsigned char *over_r, struct err *err)
{
	struct imap_source *is = (struct imap_source *)s;
	struct sizeprobe sp = {uids, n, over_r};
	struct imap_cmdbuf cb;
	struct imap_result res;
	struct buf set = BUF_INIT;
	int ret;

	memset(over_r, 0, n);
	if (n == 0)
		return 0;
	seqset_build(uids, n, (size_t)-1, &set);
	imap_client_cmdbuf_init(is->c, &cb);
	imap_cmd_rawf(&cb, "UID FETCH %s (UID BODY.PEEK[]<%llu.1>)", set.p,
		      (unsigned long long)limit);
	ret = ims_exec(is->c, &cb, probe_untagged, &sp, &res, err);
	buf_release(&set);
	return ims_check(ret, &res, ERR_FOLDER, "UID FETCH", err);
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
