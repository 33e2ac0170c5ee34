/* imap_target.c - IMAP as a target store: LIST, CREATE, and APPEND with
 * flags and INTERNALDATE, pipelined with LITERAL+, always as a plain
 * literal: literal8 would let Dovecot re-encode binary parts as base64.  A
 * message with NUL bytes is never sent (takes_nul() is 0): the sync engine
 * reports it instead.  APPENDUID (UIDPLUS) names the copy, once checked
 * against what SELECT said of the folder.  Reading copies back:
 * imap_copies.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/imap_format.h"
#include "store/imap_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

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
