/* imap_source.c - IMAP as a source store: folders from LIST (SPECIAL-USE
 * when offered, LIST-STATUS's counters with them) limited to the personal
 * namespace or to the user's root, EXAMINE, and the metadata and flags of
 * a folder window by window, so that memory stays bounded whatever the
 * folder's size.  Bodies and the rest: imap_fetch.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/imap_format.h"
#include "store/imap_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

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

/* LIST-STATUS's "* STATUS name (...)": the counters of a folder listed
 * before it. */
static void list_status(struct imap_source *is, const struct imap_resp *r)
{
	struct buf name = BUF_INIT;
	const char *raw = imap_arg_str(&r->args[1]);
	size_t i;

	if (raw != NULL && ims_source_rel_name(is, raw, is->nm.delim, &name) &&
	    strset_find(&is->list_names, name.p, &i)) {
		struct store_folder *lf = &is->list_out->v[i];
		parse_status(&r->args[2], &lf->status);
		lf->has_status = 1;
	}
	buf_release(&name);
}

static void source_list_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_source *is = ctx;
	const struct imap_arg *attrs;
	const char *delim_s, *raw;
	struct store_folder f = {0};
	struct buf name = BUF_INIT;
	char delim;

	if (r->status == IMAP_STATUS_NONE && r->arg_count >= 3 &&
	    imap_arg_is_atom(&r->args[0], "STATUS") &&
	    r->args[2].type == IMAP_ARG_LIST) {
		list_status(is, r);
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

/* INBOX always exists for a personal mailbox, listed or not. */
static void list_add_inbox(struct store_folder_list *out)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		if (strcmp(out->v[i].name, "INBOX") == 0)
			return;
	out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	memset(&out->v[out->n], 0, sizeof(*out->v));
	out->v[out->n].name = xstrdup("INBOX");
	out->v[out->n].special = STORE_SPECIAL_INBOX;
	out->n++;
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
	if (is->root_n == 0)
		list_add_inbox(out);
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

/* A window's FETCH is over (ret: ims_exec()'s): at most max_n answers
 * kept (meta_cut()), *covered_r (may be NULL) says up to which UID they
 * are whole, and the window is forgotten. */
static void meta_window_end(struct imap_source *is, int ret, size_t max_n,
			    uint32_t *covered_r)
{
	if (ret == 0 && max_n != 0)
		meta_cut(is);
	if (covered_r != NULL && is->meta_ceiling != 0)
		*covered_r = is->meta_ceiling - 1;
	is->meta_max = 0;
	is->max_uid = 0;
	is->meta_ceiling = 0;
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
	meta_window_end(is, ret, max_n, covered_r);
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
	meta_window_end(is, ret, max_n, covered_r);
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
