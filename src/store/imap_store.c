/* imap_store.c - IMAP as a source and as a target store (store.h): the
 * part both sides share.  One way to run a command: every command of the
 * store goes through ims_exec() (untagged handler set, run, handler unset,
 * cmdbuf released) and its outcome through ims_check(); body fetches are
 * pipelined through ims_submit() and ims_pipeline().  Then the helpers
 * that read FETCH responses.  imap_priv.h lists the other files. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/imap_priv.h"

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

const struct imap_arg *ims_partial_items(const struct imap_resp *partial)
{
	return partial->arg_count >= 3 ? &partial->args[2] : NULL;
}

uint32_t ims_partial_uid(const struct imap_resp *partial)
{
	const struct imap_arg *items = ims_partial_items(partial);
	uint32_t uid = 0;
	size_t i;

	for (i = 0; items != NULL && i + 1 < items->list_count; i += 2) {
		uint64_t n;
		if (imap_arg_is_atom(&items->list[i], "UID") &&
		    imap_arg_u64(&items->list[i + 1], &n) == 0)
			uid = (uint32_t)n;
	}
	return uid;
}

int ims_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}
