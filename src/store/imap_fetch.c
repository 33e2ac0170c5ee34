/* imap_fetch.c - the IMAP source's bodies and what reads them: bodies
 * from one UID FETCH per batch of messages, pipelined, streamed literal
 * chunk by literal chunk into the caller's sink; a report's header fields;
 * the NUL check; the size probe.
 *
 * Bodies are fetched with BODY.PEEK[], the stored bytes -- except that an
 * IMAP4rev1 literal cannot carry NUL, and Dovecot serves NUL as 0x80 there.
 * BINARY.PEEK[] is not a raw fetch: RFC 3516 has the server undo every
 * part's Content-Transfer-Encoding.  So BINARY.PEEK[] is used only for a
 * message whose BINARY.SIZE[] equals its RFC822.SIZE: decoding base64
 * always shrinks a part and decoding quoted-printable never grows one, so
 * equal sizes mean nothing was decoded and BINARY[] is the stored bytes,
 * NUL included.  The metadata FETCH (imap_source.c) asks for
 * BINARY.SIZE[] to know. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/seqset.h"
#include "store/identity_parts.h"
#include "store/imap_format.h"
#include "store/imap_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

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

	(void)literal8;
	is->in_body = 0;
	is->in_header = 0;
	is->in_scan = 0;
	if (is->sink == NULL ||
	    !(slice_ieq(key, "BODY[]") || slice_ieq(key, "BINARY[]"))) {
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
				ims_resp_uid(ims_partial_items(partial)));
			is->in_scan = is->nc->cur < is->nc->n;
		}
		return 0;
	}
	is->body_uid = ims_partial_uid(partial);
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
