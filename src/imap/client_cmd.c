/* client_cmd.c - the IMAP client's command path (client.h): commands
 * out, with their tags, wait points and streamed literals; responses in,
 * parsed, traced and dispatched to the commands' callbacks. */
#include "imap/client_priv.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "util/log.h"
#include "util/xalloc.h"

static const char *label_of(const struct imap_client *c)
{
	return c->label[0] ? c->label : "imap";
}

/* Protocol trace, one line per chunk, controls escaped, long data cut. */
static void trace_bytes(const struct imap_client *c, const char *dir,
			const char *p, size_t len)
{
	char out[260];
	size_t i, o = 0;

	if (log_get_level() < LOG_TRACE)
		return;
	for (i = 0; i < len && o < sizeof(out) - 8; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '\r')
			continue;
		if (ch == '\n' && i + 1 == len)
			break;
		if (ch < 0x20 || ch >= 0x7f) {
			o += (size_t)snprintf(out + o, sizeof(out) - o,
					      "\\x%02x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	log_trace("%s %s %s%s", label_of(c), dir, out,
		  i < len && len - i > 1 ? " ..." : "");
}

static int client_break(struct imap_client *c, const struct err *why,
			struct err *err)
{
	if (!c->broken) {
		c->broken = 1;
		c->broken_err = *why;
		if (c->bye[0] && why->code != EC_PROTOCOL) {
			err_set(&c->broken_err, ERR_TRANSIENT, EC_BYE,
				"%s:%u closed the connection: %s", c->host,
				c->port, c->bye);
		}
	}
	if (err != NULL)
		*err = c->broken_err;
	return -1;
}

int client_check_usable(struct imap_client *c, struct err *err)
{
	if (c->broken) {
		*err = c->broken_err;
		return -1;
	}
	return 0;
}

static void set_caps(struct imap_client *c, const char *caps, size_t len)
{
	free(c->caps);
	c->caps = xstrndup(caps, len);
}

/* Capabilities from an untagged "* CAPABILITY a b c" response. */
static void caps_from_args(struct imap_client *c, const struct imap_resp *r)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 1; i < r->arg_count; i++) {
		const char *s = imap_arg_str(&r->args[i]);
		if (s == NULL)
			continue;
		if (b.len)
			buf_addch(&b, ' ');
		buf_addstr(&b, s);
	}
	set_caps(c, b.p, b.len);
	buf_release(&b);
}

static void copy_slice(char *dst, size_t size, struct slice s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

void client_handle_code(struct imap_client *c, const struct imap_resp *r)
{
	if (slice_ieq(r->code, "CAPABILITY"))
		set_caps(c, r->code_args.p, r->code_args.len);
}

static int dispatch(struct imap_client *c, const struct imap_resp *r,
		    struct err *err)
{
	struct imap_cmd *cmd, *prev = NULL;
	struct imap_result res;

	if (r->kind == IMAP_RESP_CONTINUATION) {
		if (c->awaiting_cont == NULL) {
			struct err e;
			err_set(&e, ERR_TRANSIENT, EC_PROTOCOL,
				"%s:%u sent an unexpected continuation",
				c->host, c->port);
			return client_break(c, &e, err);
		}
		c->got_cont = 1;
		if (c->in_auth)
			copy_slice(c->cont, sizeof(c->cont), r->text);
		return 0;
	}
	if (r->status != IMAP_STATUS_NONE)
		client_handle_code(c, r);
	if (r->kind == IMAP_RESP_UNTAGGED) {
		if (r->status == IMAP_STATUS_BYE) {
			copy_slice(c->bye, sizeof(c->bye), r->text);
			if (c->bye_cb != NULL) {
				/* the code too: "[AUTHENTICATIONFAILED]" */
				char t[sizeof(c->bye) + 80];
				snprintf(t, sizeof(t), "%s%.*s%s%s",
					 r->code.len ? "[" : "",
					 (int)(r->code.len > 64 ? 64
								: r->code.len),
					 r->code.p ? r->code.p : "",
					 r->code.len ? "] " : "", c->bye);
				c->bye_cb(c->bye_ctx, t);
			}
		} else if (r->status == IMAP_STATUS_NONE && r->arg_count > 0 &&
			   imap_arg_is_atom(&r->args[0], "CAPABILITY"))
			caps_from_args(c, r);
		if (c->untagged_cb != NULL)
			c->untagged_cb(c->untagged_ctx, r);
		return 0;
	}
	/* Tagged: find the command. */
	for (cmd = c->head; cmd != NULL; prev = cmd, cmd = cmd->next) {
		if (r->tag.len == strlen(cmd->tag) &&
		    memcmp(r->tag.p, cmd->tag, r->tag.len) == 0)
			break;
	}
	if (cmd == NULL) {
		struct err e;
		err_set(&e, ERR_TRANSIENT, EC_PROTOCOL,
			"%s:%u answered a command never sent (tag %.*s)",
			c->host, c->port,
			(int)(r->tag.len > 20 ? 20 : r->tag.len), r->tag.p);
		return client_break(c, &e, err);
	}
	if (prev == NULL)
		c->head = cmd->next;
	else
		prev->next = cmd->next;
	if (c->tail == cmd)
		c->tail = prev;
	c->inflight--;
	if (c->awaiting_cont == cmd)
		c->awaiting_cont = NULL; /* refused before the literal */

	memset(&res, 0, sizeof(res));
	res.status = r->status;
	copy_slice(res.code, sizeof(res.code), r->code);
	copy_slice(res.code_args, sizeof(res.code_args), r->code_args);
	copy_slice(res.text, sizeof(res.text), r->text);
	if (cmd->cb != NULL)
		cmd->cb(cmd->ctx, &res);
	free(cmd);
	return 0;
}

int client_next_response(struct imap_client *c, const struct imap_resp **resp_r,
			 struct err *err)
{
	for (;;) {
		enum imap_parse_result pr;
		size_t len, used = 0;
		const char *data = conn_rbuf(c->conn, &len);

		if (c->stop != NULL && atomic_load(c->stop)) {
			err_set(err, ERR_TRANSIENT, EC_NONE,
				"%s:%u: stopped while reading a response",
				c->host, c->port);
			return -2;
		}
		if (len > 0) {
			pr = imap_parser_feed(c->parser, data, len, &used,
					      resp_r);
			if (used > 0 && c->in_auth && data[0] == '+')
				log_trace("%s S: + (SASL challenge omitted)",
					  label_of(c));
			else if (used > 0)
				trace_bytes(c, "S:", data, used);
			conn_consume(c->conn, used);
			if (pr == IMAP_PARSE_DONE)
				return 0;
			if (pr == IMAP_PARSE_ERROR)
				return -1;
		}
		if (conn_fill(c->conn, err) < 0)
			return -2;
	}
}

int client_read_one(struct imap_client *c, struct err *err)
{
	const struct imap_resp *resp;
	struct err e;

	switch (client_next_response(c, &resp, err)) {
	case 0: return dispatch(c, resp, err);
	case -1:
		err_set(&e, ERR_TRANSIENT, EC_PROTOCOL,
			"malformed response from %s:%u: %s", c->host, c->port,
			imap_parser_error(c->parser));
		return client_break(c, &e, err);
	default: return client_break(c, err, err);
	}
}

int client_flush(struct imap_client *c, struct err *err)
{
	if (conn_flush(c->conn, err) < 0)
		return client_break(c, err, err);
	return 0;
}

/* A sensitive command (LOGIN, AUTHENTICATE) is traced as its tag and
 * name only: its first segment up to the second space, and nothing of
 * what follows a continuation (a literal, a SASL response). */
int client_send_bytes(struct imap_client *c, const char *p, size_t len,
		      int sensitive, int first, struct err *err)
{
	if (sensitive) {
		const char *sp = first ? memchr(p, ' ', len) : NULL;
		sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - p))
			: NULL;
		if (sp != NULL)
			trace_bytes(c, "C:", p, (size_t)(sp - p));
		log_trace("%s C: (credentials omitted)", label_of(c));
	} else {
		trace_bytes(c, "C:", p, len);
	}
	if (conn_write(c->conn, p, len, err) < 0)
		return client_break(c, err, err);
	return 0;
}

/* Wait for the "+" that lets cmd's literal go out. */
static int wait_continuation(struct imap_client *c, struct imap_cmd *cmd,
			     struct err *err)
{
	c->awaiting_cont = cmd;
	c->got_cont = 0;
	if (client_flush(c, err) < 0)
		return -1;
	while (!c->got_cont) {
		if (client_read_one(c, err) < 0)
			return -1;
		if (c->awaiting_cont != cmd && !c->got_cont)
			return 1; /* the server refused the command */
	}
	c->awaiting_cont = NULL;
	return 0;
}

struct imap_cmd *client_cmd_new(struct imap_client *c, imap_cmd_callback *cb,
				void *ctx, int sensitive)
{
	struct imap_cmd *cmd = xcalloc(1, sizeof(*cmd));

	snprintf(cmd->tag, sizeof(cmd->tag), "A%u", ++c->next_tag);
	cmd->cb = cb;
	cmd->ctx = ctx;
	cmd->sensitive = sensitive;
	if (c->tail != NULL)
		c->tail->next = cmd;
	else
		c->head = cmd;
	c->tail = cmd;
	c->inflight++;
	return cmd;
}

/* Send tag + cmd bytes, honouring wait points; with final_crlf the
 * command is complete.  Returns 1 if the server refused it early. */
int client_send_cmd(struct imap_client *c, struct imap_cmd *cmd,
		    const struct imap_cmdbuf *cb, int final_crlf,
		    struct err *err)
{
	size_t pos = 0;
	unsigned w;
	struct buf line = BUF_INIT;
	int ret;

	/* All the room at once: a grown buffer would leave a copy of a
	 * password behind in the freed block. */
	buf_grow(&line, sizeof(cmd->tag) + cb->b.len + 3);
	buf_addf(&line, "%s ", cmd->tag);
	for (w = 0; w <= cb->n_waits; w++) {
		size_t end = w < cb->n_waits ? cb->waits[w] : cb->b.len;
		buf_add(&line, cb->b.p + pos, end - pos);
		if (w == cb->n_waits && final_crlf)
			buf_add(&line, "\r\n", 2);
		ret = client_send_bytes(c, line.p, line.len, cb->sensitive,
					w == 0, err);
		OPENSSL_cleanse(line.p, line.len);
		buf_reset(&line);
		if (ret < 0)
			goto out;
		pos = end;
		if (w < cb->n_waits) {
			ret = wait_continuation(c, cmd, err);
			if (ret != 0)
				goto out;
		}
	}
	ret = 0;
out:
	buf_release(&line);
	return ret;
}

int imap_client_submit(struct imap_client *c, const struct imap_cmdbuf *cmd,
		       imap_cmd_callback *cb, void *ctx, struct err *err)
{
	struct imap_cmd *ic;

	if (client_check_usable(c, err) < 0)
		return -1;
	ic = client_cmd_new(c, cb, ctx, cmd->sensitive);
	return client_send_cmd(c, ic, cmd, 1, err) < 0 ? -1 : 0;
}

int imap_client_stream_begin(struct imap_client *c,
			     const struct imap_cmdbuf *cmd,
			     imap_cmd_callback *cb, void *ctx, struct err *err)
{
	struct imap_cmd *ic;
	int ret;

	if (client_check_usable(c, err) < 0)
		return -1;
	ic = client_cmd_new(c, cb, ctx, 0);
	ret = client_send_cmd(c, ic, cmd, 0, err);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		/* Refused before the literal (e.g. NO [TOOBIG]): the
		 * callback has had its result; nothing to stream. */
		return 1;
	}
	c->streaming = ic;
	return 0;
}

int imap_client_stream_data(struct imap_client *c, const void *data, size_t len,
			    struct err *err)
{
	if (client_check_usable(c, err) < 0)
		return -1;
	if (conn_write(c->conn, data, len, err) < 0)
		return client_break(c, err, err);
	return 0;
}

int imap_client_stream_end(struct imap_client *c, struct err *err)
{
	c->streaming = NULL;
	if (client_check_usable(c, err) < 0)
		return -1;
	return client_send_bytes(c, "\r\n", 2, 0, 0, err);
}

int imap_client_drain(struct imap_client *c, unsigned max_inflight,
		      struct err *err)
{
	if (client_check_usable(c, err) < 0)
		return -1;
	if (c->inflight > max_inflight && client_flush(c, err) < 0)
		return -1;
	while (c->inflight > max_inflight) {
		if (client_read_one(c, err) < 0)
			return -1;
	}
	return 0;
}

unsigned imap_client_inflight(const struct imap_client *c)
{
	return c->inflight;
}

void client_store_result(void *ctx, const struct imap_result *res)
{
	*(struct imap_result *)ctx = *res;
}

/* res_r lives on the caller's stack: after a failure the command must
 * never call back into it later (imap_client_destroy() calls every
 * command still in flight). */
void client_forget_result(struct imap_client *c, void *res_r)
{
	struct imap_cmd *ic;

	for (ic = c->head; ic != NULL; ic = ic->next)
		if (ic->ctx == res_r)
			ic->cb = NULL;
}

int imap_client_run(struct imap_client *c, const struct imap_cmdbuf *cmd,
		    struct imap_result *res_r, struct err *err)
{
	memset(res_r, 0, sizeof(*res_r));
	res_r->status = IMAP_STATUS_NONE;
	if (imap_client_submit(c, cmd, client_store_result, res_r, err) < 0) {
		/* e.g. the connection dropped while a literal waited for
		 * its "+": the command is queued but unanswered. */
		client_forget_result(c, res_r);
		return -1;
	}
	/* Commands complete in order, so once in-flight drops back to what
	 * it was, ours has its answer. */
	while (res_r->status == IMAP_STATUS_NONE) {
		if (imap_client_drain(c, c->inflight - 1, err) < 0) {
			client_forget_result(c, res_r);
			return -1;
		}
	}
	return 0;
}

int imap_result_to_err(const struct imap_result *res, enum err_class cls,
		       const char *what, struct err *err)
{
	const char *hint;

	if (res->status == IMAP_STATUS_OK)
		return 0;
	if (strcasecmp(res->code, "UNAVAILABLE") == 0 ||
	    strcasecmp(res->code, "THROTTLED") == 0 ||
	    strcasecmp(res->code, "INUSE") == 0 ||
	    strcasecmp(res->code, "LIMIT") == 0 ||
	    strcasestr(res->text, "throttl") != NULL ||
	    strcasestr(res->text, "Suggested Backoff Time") != NULL) {
		err_set(err, ERR_TRANSIENT, EC_THROTTLED,
			"%s: server busy: %s%s%s%s", what,
			res->code[0] ? "[" : "", res->code,
			res->code[0] ? "] " : "", res->text);
		hint = strcasestr(res->text, "Suggested Backoff Time:");
		if (hint != NULL) {
			unsigned long ms = strtoul(hint + 23, NULL, 10);
			err->retry_after_ms =
				ms > 3600000 ? 3600000 : (unsigned)ms;
		}
		return -1;
	}
	return err_set(err, cls,
		       res->status == IMAP_STATUS_BAD ? EC_BAD : EC_NO,
		       "%s: server said %s: %s%s%s%s", what,
		       res->status == IMAP_STATUS_BAD ? "BAD" : "NO",
		       res->code[0] ? "[" : "", res->code,
		       res->code[0] ? "] " : "", res->text);
}

int imap_client_simple(struct imap_client *c, const char *text, struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	imap_client_cmdbuf_init(c, &cb);
	imap_cmd_raw(&cb, text);
	ret = imap_client_run(c, &cb, &res, err);
	imap_cmdbuf_release(&cb);
	if (ret < 0)
		return -1;
	return imap_result_to_err(&res, ERR_FOLDER, text, err);
}
