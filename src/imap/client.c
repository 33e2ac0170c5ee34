/* client.c - the IMAP client session (client.h): connect, greeting,
 * STARTTLS, capabilities, settings, LOGOUT and destroy.  Commands and
 * responses: client_cmd.c; logins: client_auth.c. */
#include "imap/client_priv.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "util/xalloc.h"

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

int client_refresh_caps(struct imap_client *c, struct err *err)
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

	switch (client_next_response(c, &resp, err)) {
	case 0: break;
	case -1:
		return err_set(err, ERR_CONNECT, EC_PROTOCOL,
			       "%s:%u does not speak IMAP (bad "
			       "greeting: %s): check the port",
			       c->host, c->port, imap_parser_error(c->parser));
	default:
		/* A close before the greeting is a busy or restarting
		 * server (transient); silence is a wrong port. */
		if (err->code == EC_TIMEOUT) {
			err_prefix(err, "no IMAP greeting: ");
			err->cls = ERR_CONNECT;
		}
		return -1;
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
	client_handle_code(c, resp);
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
	return client_refresh_caps(c, err);
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
	if (c->caps == NULL && client_refresh_caps(c, err) < 0)
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

void imap_client_set_bye_hook(struct imap_client *c, imap_bye_callback *cb,
			      void *ctx, void (*ctx_free)(void *ctx))
{
	if (c->bye_free != NULL)
		c->bye_free(c->bye_ctx);
	c->bye_cb = cb;
	c->bye_ctx = ctx;
	c->bye_free = ctx_free;
}
