/* client.c - IMAP client session; see client.h. */
#include "imap/client.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"

struct imap_cmd {
	struct imap_cmd *next;
	char tag[16];
	imap_cmd_callback *cb;
	void *ctx;
	int sensitive;
};

struct imap_client {
	struct conn *conn;
	struct imap_parser *parser;
	char *host;
	unsigned port;
	char label[32];
	char *greeting;
	char *caps; /* space-separated, as sent */
	int authenticated;
	unsigned next_tag;
	/* In flight, oldest first. */
	struct imap_cmd *head, *tail;
	unsigned inflight;
	/* The command whose synchronizing literal waits for "+". */
	struct imap_cmd *awaiting_cont;
	int got_cont;
	/* The command being streamed (stream_begin .. stream_end). */
	struct imap_cmd *streaming;
	char bye[256];
	int broken;
	struct err broken_err;
	imap_untagged_callback *untagged_cb;
	void *untagged_ctx;
	imap_bye_callback *bye_cb;
	void *bye_ctx;
	void (*bye_free)(void *ctx);
	/* an AUTHENTICATE exchange is under way: continuations are kept
	 * in cont (not traced), not treated as a literal's go-ahead */
	int in_auth;
	char cont[2048];
	const _Atomic int *stop; /* imap_client_set_stop() */
};

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
	if (err != NULL && err != why)
		*err = c->broken_err;
	else if (err != NULL)
		*err = c->broken_err;
	return -1;
}

static int check_usable(struct imap_client *c, struct err *err)
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

int imap_client_has_cap(const struct imap_client *c, const char *cap)
{
	size_t n = strlen(cap);
	const char *p = c->caps;

	if (p == NULL)
		return 0;
	while (*p) {
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == n && strncasecmp(p, cap, n) == 0)
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
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

static void handle_code(struct imap_client *c, const struct imap_resp *r)
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
		handle_code(c, r);
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

/* Read until one response has been dispatched. */
static int read_one(struct imap_client *c, struct err *err)
{
	for (;;) {
		const struct imap_resp *resp;
		enum imap_parse_result pr;
		size_t len, used = 0;
		const char *data = conn_rbuf(c->conn, &len);

		if (c->stop != NULL && atomic_load(c->stop)) {
			struct err e;
			err_set(&e, ERR_TRANSIENT, EC_NONE,
				"%s:%u: stopped while reading a response",
				c->host, c->port);
			return client_break(c, &e, err);
		}
		if (len > 0) {
			pr = imap_parser_feed(c->parser, data, len, &used,
					      &resp);
			if (used > 0 && c->in_auth && data[0] == '+')
				log_trace("%s S: + (SASL challenge omitted)",
					  label_of(c));
			else if (used > 0)
				trace_bytes(c, "S:", data, used);
			conn_consume(c->conn, used);
			if (pr == IMAP_PARSE_DONE)
				return dispatch(c, resp, err);
			if (pr == IMAP_PARSE_ERROR) {
				struct err e;
				err_set(&e, ERR_TRANSIENT, EC_PROTOCOL,
					"malformed response from %s:%u: %s",
					c->host, c->port,
					imap_parser_error(c->parser));
				return client_break(c, &e, err);
			}
		}
		if (conn_fill(c->conn, err) < 0)
			return client_break(c, err, err);
	}
}

static int flush(struct imap_client *c, struct err *err)
{
	if (conn_flush(c->conn, err) < 0)
		return client_break(c, err, err);
	return 0;
}

/* A sensitive command (LOGIN, AUTHENTICATE) is traced as its tag and
 * name only: its first segment up to the second space, and nothing of
 * what follows a continuation (a literal, a SASL response). */
static int send_bytes(struct imap_client *c, const char *p, size_t len,
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
	if (flush(c, err) < 0)
		return -1;
	while (!c->got_cont) {
		if (read_one(c, err) < 0)
			return -1;
		if (c->awaiting_cont != cmd && !c->got_cont)
			return 1; /* the server refused the command */
	}
	c->awaiting_cont = NULL;
	return 0;
}

static struct imap_cmd *cmd_new(struct imap_client *c, imap_cmd_callback *cb,
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
static int send_cmd(struct imap_client *c, struct imap_cmd *cmd,
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
		ret = send_bytes(c, line.p, line.len, cb->sensitive, w == 0,
				 err);
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

	if (check_usable(c, err) < 0)
		return -1;
	ic = cmd_new(c, cb, ctx, cmd->sensitive);
	return send_cmd(c, ic, cmd, 1, err) < 0 ? -1 : 0;
}

int imap_client_stream_begin(struct imap_client *c,
			     const struct imap_cmdbuf *cmd,
			     imap_cmd_callback *cb, void *ctx, struct err *err)
{
	struct imap_cmd *ic;
	int ret;

	if (check_usable(c, err) < 0)
		return -1;
	ic = cmd_new(c, cb, ctx, 0);
	ret = send_cmd(c, ic, cmd, 0, err);
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
	if (check_usable(c, err) < 0)
		return -1;
	if (conn_write(c->conn, data, len, err) < 0)
		return client_break(c, err, err);
	return 0;
}

int imap_client_stream_end(struct imap_client *c, struct err *err)
{
	c->streaming = NULL;
	if (check_usable(c, err) < 0)
		return -1;
	return send_bytes(c, "\r\n", 2, 0, 0, err);
}

int imap_client_drain(struct imap_client *c, unsigned max_inflight,
		      struct err *err)
{
	if (check_usable(c, err) < 0)
		return -1;
	if (c->inflight > max_inflight && flush(c, err) < 0)
		return -1;
	while (c->inflight > max_inflight) {
		if (read_one(c, err) < 0)
			return -1;
	}
	return 0;
}

unsigned imap_client_inflight(const struct imap_client *c)
{
	return c->inflight;
}

static void store_result(void *ctx, const struct imap_result *res)
{
	*(struct imap_result *)ctx = *res;
}

/* res_r lives on the caller's stack: after a failure the command must
 * never call back into it later (imap_client_destroy() calls every
 * command still in flight). */
static void forget_result(struct imap_client *c, void *res_r)
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
	if (imap_client_submit(c, cmd, store_result, res_r, err) < 0) {
		/* e.g. the connection dropped while a literal waited for
		 * its "+": the command is queued but unanswered. */
		forget_result(c, res_r);
		return -1;
	}
	/* Commands complete in order, so once in-flight drops back to what
	 * it was, ours has its answer. */
	while (res_r->status == IMAP_STATUS_NONE) {
		if (imap_client_drain(c, c->inflight - 1, err) < 0) {
			forget_result(c, res_r);
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

void imap_client_cmdbuf_init(const struct imap_client *c,
			     struct imap_cmdbuf *cb)
{
	enum imap_literal_mode mode = IMAP_LITERAL_SYNC;

	if (imap_client_has_cap(c, "LITERAL+"))
		mode = IMAP_LITERAL_PLUS;
	else if (imap_client_has_cap(c, "LITERAL-"))
		mode = IMAP_LITERAL_MINUS;
	imap_cmdbuf_init(cb, mode);
}

static int refresh_caps(struct imap_client *c, struct err *err)
{
	free(c->caps);
	c->caps = NULL;
	if (imap_client_simple(c, "CAPABILITY", err) < 0)
		return -1;
	if (c->caps == NULL)
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s:%u sent no CAPABILITY: is this an IMAP "
			       "server?",
			       c->host, c->port);
	return 0;
}

static int read_greeting(struct imap_client *c, struct err *err)
{
	const struct imap_resp *resp;

	for (;;) {
		size_t len, used = 0;
		const char *data = conn_rbuf(c->conn, &len);
		enum imap_parse_result pr = IMAP_PARSE_NEED_MORE;

		if (len > 0) {
			pr = imap_parser_feed(c->parser, data, len, &used,
					      &resp);
			if (used > 0)
				trace_bytes(c, "S:", data, used);
			conn_consume(c->conn, used);
		}
		if (pr == IMAP_PARSE_DONE)
			break;
		if (pr == IMAP_PARSE_ERROR)
			return err_set(err, ERR_CONNECT, EC_PROTOCOL,
				       "%s:%u does not speak IMAP (bad "
				       "greeting: %s): check the port",
				       c->host, c->port,
				       imap_parser_error(c->parser));
		if (conn_fill(c->conn, err) < 0) {
			/* A close before the greeting is a busy or restarting
			 * server (transient); silence is a wrong port. */
			if (err->code == EC_TIMEOUT) {
				err_prefix(err, "no IMAP greeting: ");
				err->cls = ERR_CONNECT;
			}
			return -1;
		}
	}
	if (resp->kind != IMAP_RESP_UNTAGGED ||
	    (resp->status != IMAP_STATUS_OK &&
	     resp->status != IMAP_STATUS_PREAUTH)) {
		if (resp->status == IMAP_STATUS_BYE)
			return err_set(err, ERR_TRANSIENT, EC_BYE,
				       "%s:%u refused the session: %.*s",
				       c->host, c->port, (int)resp->text.len,
				       resp->text.p);
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s:%u sent no IMAP greeting: check the port "
			       "and --security",
			       c->host, c->port);
	}
	c->greeting = xstrndup(resp->text.p, resp->text.len);
	c->authenticated = resp->status == IMAP_STATUS_PREAUTH;
	handle_code(c, resp);
	return 0;
}

static int starttls(struct imap_client *c, const struct conn_tls_opts *tls,
		    struct err *err)
{
	size_t pending;

	if (!imap_client_has_cap(c, "STARTTLS"))
		return err_set(err, ERR_CONNECT, EC_NO_STARTTLS,
			       "%s:%u offers no STARTTLS: use --security ssl "
			       "--port 993, or --security none only on a "
			       "trusted network",
			       c->host, c->port);
	if (imap_client_simple(c, "STARTTLS", err) < 0) {
		err->cls = ERR_CONNECT;
		return -1;
	}
	/* Anything the server sent after its OK was sent in plaintext and
	 * could have been injected by a man in the middle. */
	conn_rbuf(c->conn, &pending);
	if (pending > 0)
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s:%u sent data after STARTTLS before the TLS "
			       "handshake: refusing (possible injection)",
			       c->host, c->port);
	if (conn_start_tls(c->conn, c->host, tls, err) < 0)
		return -1;
	return refresh_caps(c, err);
}

struct imap_client *imap_client_connect(const struct imap_client_settings *set,
					struct err *err)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	int timeout = set->timeout_ms > 0 ? set->timeout_ms : 60000;

	c->host = xstrdup(set->host);
	c->port = set->port;
	snprintf(c->label, sizeof(c->label), "%s",
		 set->label ? set->label : "");
	c->parser = imap_parser_create(NULL);
	c->conn = conn_connect(set->host, set->port, timeout, err);
	if (c->conn == NULL)
		goto fail;
	conn_set_timeout(c->conn, timeout);
	conn_set_rate(c->conn, set->max_bytes_per_second);
	if (set->security == CONN_SEC_SSL &&
	    conn_start_tls(c->conn, set->host, &set->tls, err) < 0)
		goto fail;
	if (read_greeting(c, err) < 0)
		goto fail;
	if (c->caps == NULL && refresh_caps(c, err) < 0)
		goto fail;
	if (set->security == CONN_SEC_TLS && starttls(c, &set->tls, err) < 0)
		goto fail;
	return c;
fail:
	imap_client_destroy(&c);
	return NULL;
}

void imap_client_destroy(struct imap_client **cp)
{
	struct imap_client *c = *cp;
	struct imap_cmd *cmd, *next;

	if (c == NULL)
		return;
	*cp = NULL;
	/* Every command still in flight gets its callback once, with
	 * status NONE: cancelled, its outcome unknown. */
	for (cmd = c->head; cmd != NULL; cmd = next) {
		struct imap_result res;
		next = cmd->next;
		if (cmd->cb != NULL) {
			memset(&res, 0, sizeof(res));
			res.status = IMAP_STATUS_NONE;
			snprintf(res.text, sizeof(res.text),
				 "connection to %s:%u lost before the answer",
				 c->host, c->port);
			cmd->cb(cmd->ctx, &res);
		}
		free(cmd);
	}
	if (c->bye_free != NULL)
		c->bye_free(c->bye_ctx);
	OPENSSL_cleanse(c->cont, sizeof(c->cont));
	conn_destroy(&c->conn);
	imap_parser_destroy(&c->parser);
	free(c->host);
	free(c->greeting);
	free(c->caps);
	free(c);
}

void imap_client_logout(struct imap_client **cp)
{
	struct imap_client *c = *cp;
	struct err err = ERR_INIT;

	if (c == NULL)
		return;
	if (!c->broken) {
		conn_set_timeout(c->conn, 2000);
		(void)imap_client_drain(c, 0, &err);
		if (!c->broken)
			(void)imap_client_simple(c, "LOGOUT", &err);
	}
	imap_client_destroy(cp);
}

const struct conn_info *imap_client_conn_info(const struct imap_client *c)
{
	return conn_get_info(c->conn);
}

const char *imap_client_greeting(const struct imap_client *c)
{
	return c->greeting ? c->greeting : "";
}

const char *imap_client_capabilities(const struct imap_client *c)
{
	return c->caps ? c->caps : "";
}

int imap_client_is_authenticated(const struct imap_client *c)
{
	return c->authenticated;
}

void imap_client_set_untagged(struct imap_client *c, imap_untagged_callback *cb,
			      void *ctx)
{
	c->untagged_cb = cb;
	c->untagged_ctx = ctx;
}

void imap_client_set_stop(struct imap_client *c, const _Atomic int *stop)
{
	c->stop = stop;
}

int imap_client_stop_requested(const struct imap_client *c)
{
	return c != NULL && c->stop != NULL && atomic_load(c->stop);
}

void imap_client_set_sink(struct imap_client *c,
			  const struct imap_literal_sink *sink)
{
	imap_parser_set_sink(c->parser, sink);
}

/* After a successful login: the tagged OK may carry the new
 * capabilities; otherwise ask, since they often change. */
static int after_auth(struct imap_client *c, const struct imap_result *res,
		      struct err *err)
{
	c->authenticated = 1;
	if (strcasecmp(res->code, "CAPABILITY") == 0)
		return 0;
	return refresh_caps(c, err);
}

static int auth_failed(struct imap_client *c, const struct imap_result *res,
		       const char *user, struct err *err)
{
	if (imap_result_to_err(res, ERR_AUTH, "login", err) < 0 &&
	    err->cls == ERR_TRANSIENT)
		return -1;
	return err_set(err, ERR_AUTH, EC_AUTHFAIL,
		       "%s:%u refused the login of \"%s\": %s%s%s%s", c->host,
		       c->port, user, res->code[0] ? "[" : "", res->code,
		       res->code[0] ? "] " : "", res->text);
}

/* After LOGIN or AUTHENTICATE: the command's bytes, and what of them is
 * left in the connection's output buffer (all of it was sent once the
 * answer came; after an error, whatever is there). */
static void wipe_sensitive(struct imap_client *c, struct imap_cmdbuf *cb)
{
	OPENSSL_cleanse(cb->b.p, cb->b.cap ? cb->b.cap : cb->b.len);
	imap_cmdbuf_release(cb);
	if (c->conn != NULL)
		conn_wipe_sent(c->conn);
}

int imap_client_login(struct imap_client *c, const char *user,
		      const char *password, struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;
	int ret;

	if (imap_client_has_cap(c, "LOGINDISABLED"))
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s:%u refuses LOGIN on this connection "
			       "(LOGINDISABLED): use --security tls or ssl",
			       c->host, c->port);
	imap_client_cmdbuf_init(c, &cb);
	cb.sensitive = 1;
	/* Room for the worst quoting of both, so the buffer never grows
	 * (and leaves a copy behind) once the password is in it. */
	buf_grow(&cb.b, 2 * (strlen(user) + strlen(password)) + 96);
	imap_cmd_raw(&cb, "LOGIN ");
	imap_cmd_astring(&cb, user, strlen(user));
	imap_cmd_raw(&cb, " ");
	imap_cmd_astring(&cb, password, strlen(password));
	ret = imap_client_run(c, &cb, &res, err);
	wipe_sensitive(c, &cb);
	if (ret < 0)
		return -1;
	if (res.status != IMAP_STATUS_OK)
		return auth_failed(c, &res, user, err);
	return after_auth(c, &res, err);
}

static int authenticate(struct imap_client *c, const char *mech,
			const char *user, const unsigned char *raw,
			size_t raw_len, struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;
	char *b64 = xmalloc(4 * ((raw_len + 2) / 3) + 1);
	int ret;

	EVP_EncodeBlock((unsigned char *)b64, raw, (int)raw_len);
	imap_client_cmdbuf_init(c, &cb);
	cb.sensitive = 1;
	buf_grow(&cb.b, strlen(mech) + strlen(b64) + 32);
	imap_cmd_rawf(&cb, "AUTHENTICATE %s", mech);
	if (imap_client_has_cap(c, "SASL-IR")) {
		imap_cmd_raw(&cb, " ");
		imap_cmd_raw(&cb, b64[0] ? b64 : "=");
	} else {
		/* The response goes out after the server's "+". */
		imap_cmd_raw(&cb, "\r\n");
		imap_cmd_wait_point(&cb);
		imap_cmd_raw(&cb, b64);
	}
	ret = imap_client_run(c, &cb, &res, err);
	wipe_sensitive(c, &cb);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	if (ret < 0)
		return -1;
	if (res.status != IMAP_STATUS_OK)
		return auth_failed(c, &res, user, err);
	return after_auth(c, &res, err);
}

int imap_client_auth_plain(struct imap_client *c, const char *authzid,
			   const char *authcid, const char *password,
			   struct err *err)
{
	struct buf raw = BUF_INIT;
	int ret;

	if (!imap_client_has_cap(c, "AUTH=PLAIN"))
		return err_set(err, ERR_AUTH, EC_AUTHFAIL,
			       "%s:%u does not offer AUTHENTICATE PLAIN: use "
			       "--authentication basic (LOGIN), or TLS if the "
			       "server offers PLAIN only there",
			       c->host, c->port);
	buf_addstr(&raw, authzid ? authzid : "");
	buf_addch(&raw, '\0');
	buf_addstr(&raw, authcid);
	buf_addch(&raw, '\0');
	buf_addstr(&raw, password);
	ret = authenticate(c, "PLAIN",
			   authzid && authzid[0] ? authzid : authcid,
			   (const unsigned char *)raw.p, raw.len, err);
	OPENSSL_cleanse(raw.p, raw.len);
	buf_release(&raw);
	return ret;
}

void imap_client_set_bye_hook(struct imap_client *c, imap_bye_callback *cb,
			      void *ctx, void (*ctx_free)(void *ctx))
{
	if (c->bye_free != NULL)
		c->bye_free(c->bye_ctx);
	c->bye_cb = cb;
	c->bye_ctx = ctx;
	c->bye_free = ctx_free;
}

const char *imap_sasl_oauth_name(enum imap_sasl_oauth mech)
{
	return mech == IMAP_SASL_OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2";
}

/* RFC 5801's saslname: ',' and '=' escaped in the GS2 header. */
static void add_saslname(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == ',')
			buf_addstr(b, "=2C");
		else if (*s == '=')
			buf_addstr(b, "=3D");
		else
			buf_addch(b, *s);
	}
}

static char *b64_encode(const void *raw, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
	return out;
}

/* The status of an error challenge: base64 of {"status": "...", ...}
 * (RFC 7628 3.2.2; Google's and Microsoft's XOAUTH2 send the same).
 * Only the status and the scope are kept: nothing else is echoed. */
static void challenge_status(const char *b64, char *out, size_t size)
{
	size_t n = strlen(b64);
	unsigned char *raw;
	int len;
	json_t *j;
	const char *st;

	out[0] = '\0';
	if (n == 0 || n % 4 != 0 || n > 4096)
		return;
	raw = xmalloc(n / 4 * 3 + 1);
	len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (len > 0) {
		while (len > 0 && raw[len - 1] == '\0')
			len--; /* EVP_DecodeBlock keeps the padding's zeros */
		j = json_loadb((const char *)raw, (size_t)len, 0, NULL);
		st = json_string_value(json_object_get(j, "status"));
		if (st != NULL) {
			size_t i, o = 0;
			/* printable ASCII only: it goes into a message */
			for (i = 0; st[i] && o + 1 < size && i < 64; i++)
				if ((unsigned char)st[i] >= 0x20 &&
				    (unsigned char)st[i] < 0x7f)
					out[o++] = st[i];
			out[o] = '\0';
		}
		json_decref(j);
	}
	free(raw);
}

/* Send one SASL response line (already base64) after a continuation. */
static int sasl_respond(struct imap_client *c, const char *b64, struct err *err)
{
	size_t n = strlen(b64);
	char *line = xmalloc(n + 3);
	int ret;

	memcpy(line, b64, n);
	memcpy(line + n, "\r\n", 3);
	ret = send_bytes(c, line, n + 2, 1, 0, err);
	OPENSSL_cleanse(line, n + 2);
	free(line);
	if (ret == 0)
		ret = flush(c, err);
	return ret;
}

int imap_client_auth_oauth(struct imap_client *c, enum imap_sasl_oauth mech,
			   const char *user, const char *token, struct err *err)
{
	const char *name = imap_sasl_oauth_name(mech);
	struct buf raw = BUF_INIT;
	struct imap_cmdbuf cb;
	struct imap_result res;
	struct imap_cmd *ic;
	char cap[32], status[80] = "";
	char *b64;
	int sent = 0, challenged = 0, ret = -1;

	if (check_usable(c, err) < 0)
		return -1;
	snprintf(cap, sizeof(cap), "AUTH=%s", name);
	if (!imap_client_has_cap(c, cap))
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s:%u does not offer AUTHENTICATE %s (it "
			       "offers:%s%s%s): choose --authentication %s",
			       c->host, c->port, name,
			       imap_client_has_cap(c, "AUTH=XOAUTH2")
				       ? " XOAUTH2"
				       : "",
			       imap_client_has_cap(c, "AUTH=OAUTHBEARER")
				       ? " OAUTHBEARER"
				       : "",
			       imap_client_has_cap(c, "AUTH=XOAUTH2") ||
					       imap_client_has_cap(
						       c, "AUTH=OAUTHBEARER")
				       ? ""
				       : " no OAuth2 mechanism",
			       imap_client_has_cap(c, "AUTH=XOAUTH2")
				       ? "xoauth2 for this endpoint"
			       : imap_client_has_cap(c, "AUTH=OAUTHBEARER")
				       ? "oauthbearer for this endpoint"
				       : "another login method, or check the "
					 "server's auth_mechanisms");
	/* All the room at once: no grown buffer leaves a token behind. */
	buf_grow(&raw, strlen(user) * 3 + strlen(token) + strlen(c->host) + 96);
	if (mech == IMAP_SASL_XOAUTH2) {
		buf_addf(&raw, "user=%s\001auth=Bearer %s\001\001", user,
			 token);
	} else {
		buf_addstr(&raw, "n,a=");
		add_saslname(&raw, user);
		buf_addf(&raw,
			 ",\001host=%s\001port=%u\001auth=Bearer %s\001\001",
			 c->host, c->port, token);
	}
	b64 = b64_encode(raw.p, raw.len);
	OPENSSL_cleanse(raw.p, raw.len);
	buf_release(&raw);

	imap_client_cmdbuf_init(c, &cb);
	cb.sensitive = 1;
	buf_grow(&cb.b, strlen(b64) + 32);
	imap_cmd_rawf(&cb, "AUTHENTICATE %s", name);
	if (imap_client_has_cap(c, "SASL-IR")) {
		imap_cmd_raw(&cb, " ");
		imap_cmd_raw(&cb, b64);
		sent = 1;
	}
	memset(&res, 0, sizeof(res));
	res.status = IMAP_STATUS_NONE;
	c->in_auth = 1;
	ic = cmd_new(c, store_result, &res, 1);
	if (send_cmd(c, ic, &cb, 1, err) < 0 || flush(c, err) < 0)
		goto out;
	/* Continuations now belong to this command: the first asks for the
	 * initial response (without SASL-IR), a later one is the error
	 * challenge. */
	c->awaiting_cont = ic;
	while (res.status == IMAP_STATUS_NONE) {
		c->got_cont = 0;
		if (read_one(c, err) < 0)
			goto out;
		if (!c->got_cont)
			continue;
		if (!sent) {
			sent = 1;
			if (sasl_respond(c, b64, err) < 0)
				goto out;
		} else if (!challenged) {
			challenged = 1;
			challenge_status(c->cont, status, sizeof(status));
			OPENSSL_cleanse(c->cont, sizeof(c->cont));
			if (sasl_respond(
				    c, mech == IMAP_SASL_XOAUTH2 ? "" : "AQ==",
				    err) < 0)
				goto out;
		} else {
			/* a second challenge: end the exchange (RFC 3501
			 * 6.2.2's "*" cancels) */
			if (sasl_respond(c, "*", err) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	if (c->awaiting_cont == ic)
		c->awaiting_cont = NULL;
	c->in_auth = 0;
	OPENSSL_cleanse(c->cont, sizeof(c->cont));
	if (ret < 0)
		forget_result(c, &res);
	wipe_sensitive(c, &cb);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	if (ret < 0)
		return -1;
	if (res.status == IMAP_STATUS_OK)
		return after_auth(c, &res, err);
	if (imap_result_to_err(&res, ERR_AUTH, "login", err) < 0 &&
	    err->cls == ERR_TRANSIENT)
		return -1;
	return err_set(err, ERR_AUTH, EC_AUTHFAIL,
		       "user %s: %s refused by %s:%u: status %s (%s%s%s%s)",
		       user, name, c->host, c->port,
		       status[0] ? status : "not given", res.code[0] ? "[" : "",
		       res.code, res.code[0] ? "] " : "", res.text);
}
