/* client_auth.c - logging in (client.h): LOGIN, AUTHENTICATE PLAIN, and
 * XOAUTH2 / OAUTHBEARER with a bearer token.  Every command here is
 * sensitive: traced as its tag and name only, its buffers sized once and
 * wiped after the answer. */
#include "imap/client_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <jansson.h>

#include "util/xalloc.h"

/* After a successful login: the tagged OK may carry the new
 * capabilities; otherwise ask, since they often change. */
static int after_auth(struct imap_client *c, const struct imap_result *res,
		      struct err *err)
{
	c->authenticated = 1;
	if (strcasecmp(res->code, "CAPABILITY") == 0)
		return 0;
	return client_refresh_caps(c, err);
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

static char *b64_encode(const void *raw, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
	return out;
}

static int authenticate(struct imap_client *c, const char *mech,
			const char *user, const unsigned char *raw,
			size_t raw_len, struct err *err)
{
	struct imap_cmdbuf cb;
	struct imap_result res;
	char *b64 = b64_encode(raw, raw_len);
	int ret;

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
	ret = client_send_bytes(c, line, n + 2, 1, 0, err);
	OPENSSL_cleanse(line, n + 2);
	free(line);
	if (ret == 0)
		ret = client_flush(c, err);
	return ret;
}

/* The server offers no AUTH=<mech>: a setting to change, naming the
 * OAuth2 mechanisms it does offer. */
static int oauth_not_offered(struct imap_client *c, const char *name,
			     struct err *err)
{
	int xoauth2 = imap_client_has_cap(c, "AUTH=XOAUTH2");
	int bearer = imap_client_has_cap(c, "AUTH=OAUTHBEARER");

	return err_set(err, ERR_CONNECT, EC_PROTOCOL,
		       "%s:%u does not offer AUTHENTICATE %s (it "
		       "offers:%s%s%s): choose --authentication %s",
		       c->host, c->port, name, xoauth2 ? " XOAUTH2" : "",
		       bearer ? " OAUTHBEARER" : "",
		       xoauth2 || bearer ? "" : " no OAuth2 mechanism",
		       xoauth2	? "xoauth2 for this endpoint"
		       : bearer ? "oauthbearer for this endpoint"
				: "another login method, or check the "
				  "server's auth_mechanisms");
}

/* The initial client response, base64 (caller wipes and frees): XOAUTH2's
 * "user=U^Aauth=Bearer T^A^A" or RFC 7628's
 * "n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A".  The plain form is wiped. */
static char *oauth_initial_response(const struct imap_client *c,
				    enum imap_sasl_oauth mech, const char *user,
				    const char *token)
{
	struct buf raw = BUF_INIT;
	char *b64;

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
	return b64;
}

/* Where an OAuth2 exchange stands. */
struct oauth_exchange {
	enum imap_sasl_oauth mech;
	const char *b64; /* the initial response */
	int sent;	 /* the initial response went out */
	int challenged;	 /* the error challenge came and was answered */
	char status[80]; /* the error challenge's status */
};

/* A continuation of the exchange: the first asks for the initial
 * response (without SASL-IR), a later one is the error challenge. */
static int oauth_continue(struct imap_client *c, struct oauth_exchange *ex,
			  struct err *err)
{
	if (!ex->sent) {
		ex->sent = 1;
		return sasl_respond(c, ex->b64, err);
	}
	if (!ex->challenged) {
		ex->challenged = 1;
		challenge_status(c->cont, ex->status, sizeof(ex->status));
		OPENSSL_cleanse(c->cont, sizeof(c->cont));
		return sasl_respond(
			c, ex->mech == IMAP_SASL_XOAUTH2 ? "" : "AQ==", err);
	}
	/* a second challenge: end the exchange (RFC 3501 6.2.2's "*"
	 * cancels) */
	return sasl_respond(c, "*", err);
}

/* The AUTHENTICATE command has gone out: read until its tagged answer
 * (in *res), answering every continuation, which now belongs to the
 * command ic. */
static int oauth_exchange(struct imap_client *c, struct imap_cmd *ic,
			  const struct imap_result *res,
			  struct oauth_exchange *ex, struct err *err)
{
	c->awaiting_cont = ic;
	while (res->status == IMAP_STATUS_NONE) {
		c->got_cont = 0;
		if (client_read_one(c, err) < 0)
			return -1;
		if (c->got_cont && oauth_continue(c, ex, err) < 0)
			return -1;
	}
	return 0;
}

/* The error of a refused token, with the challenge's status. */
static int oauth_refused(struct imap_client *c, const struct imap_result *res,
			 const char *user, const char *name, const char *status,
			 struct err *err)
{
	if (imap_result_to_err(res, ERR_AUTH, "login", err) < 0 &&
	    err->cls == ERR_TRANSIENT)
		return -1;
	return err_set(err, ERR_AUTH, EC_AUTHFAIL,
		       "user %s: %s refused by %s:%u: status %s (%s%s%s%s)",
		       user, name, c->host, c->port,
		       status[0] ? status : "not given",
		       res->code[0] ? "[" : "", res->code,
		       res->code[0] ? "] " : "", res->text);
}

int imap_client_auth_oauth(struct imap_client *c, enum imap_sasl_oauth mech,
			   const char *user, const char *token, struct err *err)
{
	const char *name = imap_sasl_oauth_name(mech);
	struct oauth_exchange ex;
	struct imap_cmdbuf cb;
	struct imap_result res;
	struct imap_cmd *ic;
	char cap[32];
	char *b64;
	int ret = -1;

	if (client_check_usable(c, err) < 0)
		return -1;
	snprintf(cap, sizeof(cap), "AUTH=%s", name);
	if (!imap_client_has_cap(c, cap))
		return oauth_not_offered(c, name, err);
	b64 = oauth_initial_response(c, mech, user, token);
	memset(&ex, 0, sizeof(ex));
	ex.mech = mech;
	ex.b64 = b64;

	imap_client_cmdbuf_init(c, &cb);
	cb.sensitive = 1;
	buf_grow(&cb.b, strlen(b64) + 32);
	imap_cmd_rawf(&cb, "AUTHENTICATE %s", name);
	if (imap_client_has_cap(c, "SASL-IR")) {
		imap_cmd_raw(&cb, " ");
		imap_cmd_raw(&cb, b64);
		ex.sent = 1;
	}
	memset(&res, 0, sizeof(res));
	res.status = IMAP_STATUS_NONE;
	c->in_auth = 1;
	ic = client_cmd_new(c, client_store_result, &res, 1);
	if (client_send_cmd(c, ic, &cb, 1, err) < 0 ||
	    client_flush(c, err) < 0 ||
	    oauth_exchange(c, ic, &res, &ex, err) < 0)
		goto out;
	ret = 0;
out:
	if (c->awaiting_cont == ic)
		c->awaiting_cont = NULL;
	c->in_auth = 0;
	OPENSSL_cleanse(c->cont, sizeof(c->cont));
	if (ret < 0)
		client_forget_result(c, &res);
	wipe_sensitive(c, &cb);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	if (ret < 0)
		return -1;
	if (res.status == IMAP_STATUS_OK)
		return after_auth(c, &res, err);
	return oauth_refused(c, &res, user, name, ex.status, err);
}
