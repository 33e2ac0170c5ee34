/* oauth_jwt.c - a Google service account's signed assertion (RFC 7523).
 *
 * The key file is Google's JSON (client_email, private_key as PEM,
 * token_uri).  The assertion is a JWT: header {"alg":"RS256",
 * "typ":"JWT"}, claims {iss, scope, aud, sub, iat, exp = iat + 3600},
 * each part base64url without padding, signed RSASSA-PKCS1-v1_5 SHA-256.
 * The private key lives in an EVP_PKEY (OpenSSL frees it with its own
 * cleansing); the PEM text is wiped as soon as it is parsed. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/oauth_int.h"
#include "util/xalloc.h"

struct oauth_sa {
	char *client_email;
	char *token_uri;
	EVP_PKEY *pkey;
};

const char *oauth_sa_token_uri(const struct oauth_sa *sa)
{
	return sa->token_uri;
}

void oauth_sa_destroy(struct oauth_sa **sap)
{
	struct oauth_sa *sa = *sap;

	if (sa == NULL)
		return;
	*sap = NULL;
	free(sa->client_email);
	free(sa->token_uri);
	EVP_PKEY_free(sa->pkey);
	free(sa);
}

/* Wipe a jansson string in place (its storage is ours until decref). */
static void wipe_json_string(json_t *s)
{
	if (json_is_string(s))
		OPENSSL_cleanse((char *)json_string_value(s),
				json_string_length(s));
}

struct oauth_sa *oauth_sa_create(const char *label, const char *json,
				 struct err *err)
{
	struct oauth_sa *sa = NULL;
	json_error_t jerr;
	json_t *j = json_loads(json, 0, &jerr);
	json_t *email, *pk, *uri;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;

	if (!json_is_object(j)) {
		/* jerr.text names the position, never the content */
		err_set(err, ERR_USAGE, EC_NONE,
			"%s: the service-account key file is not JSON (line "
			"%d: %s); give the key file Google Cloud made for "
			"the service account",
			label, jerr.line, json_is_object(j) ? "" : jerr.text);
		goto out;
	}
	email = json_object_get(j, "client_email");
	pk = json_object_get(j, "private_key");
	uri = json_object_get(j, "token_uri");
	if (!json_is_string(email) || !json_is_string(pk)) {
		err_set(err, ERR_USAGE, EC_NONE,
			"%s: the service-account key file has no %s; give "
			"the JSON key file of the service account",
			label,
			!json_is_string(email) ? "client_email"
					       : "private_key");
		goto out;
	}
	bio = BIO_new_mem_buf(json_string_value(pk),
			      (int)json_string_length(pk));
	if (bio != NULL)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		err_set(err, ERR_USAGE, EC_NONE,
			"%s: the service-account key file's private_key is "
			"not an RSA private key in PEM",
			label);
		EVP_PKEY_free(pkey);
		goto out;
	}
	sa = xcalloc(1, sizeof(*sa));
	sa->pkey = pkey;
	sa->client_email = xstrdup(json_string_value(email));
	sa->token_uri =
		xstrdup(json_is_string(uri) ? json_string_value(uri)
					    : "https://oauth2.googleapis.com/"
					      "token");
out:
	BIO_free(bio);
	if (j != NULL)
		wipe_json_string(json_object_get(j, "private_key"));
	json_decref(j);
	return sa;
}

static void b64url(struct buf *out, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789-_";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 |
			     p[i + 2];

		buf_addch(out, tab[v >> 18]);
		buf_addch(out, tab[(v >> 12) & 63]);
		buf_addch(out, tab[(v >> 6) & 63]);
		buf_addch(out, tab[v & 63]);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;

		buf_addch(out, tab[v >> 18]);
		buf_addch(out, tab[(v >> 12) & 63]);
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;

		buf_addch(out, tab[v >> 18]);
		buf_addch(out, tab[(v >> 12) & 63]);
		buf_addch(out, tab[(v >> 6) & 63]);
	}
}

int oauth_sa_assertion(const struct oauth_sa *sa, const char *label,
		       const char *scope, const char *aud, const char *email,
		       time_t now, struct buf *out, struct err *err)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	json_t *claims;
	char *cj;
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = -1;

	claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss",
			   sa->client_email, "scope", scope ? scope : "", "aud",
			   aud, "sub", email, "iat", (json_int_t)now, "exp",
			   (json_int_t)now + 3600);
	cj = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	json_decref(claims);
	if (cj == NULL)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "%s: cannot make the service account's claims "
			       "for %s (not UTF-8?)",
			       label, email);
	buf_reset(out);
	b64url(out, (const unsigned char *)header, strlen(header));
	buf_addch(out, '.');
	b64url(out, (const unsigned char *)cj, strlen(cj));
	free(cj);

	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sa->pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)out->p,
			   out->len) != 1)
		goto sign_failed;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->p,
			   out->len) != 1)
		goto sign_failed;
	buf_addch(out, '.');
	b64url(out, sig, siglen);
	rc = 0;
	goto done;
sign_failed:
	err_set(err, ERR_LOCAL, EC_IO,
		"%s: cannot sign the service account's assertion (OpenSSL)",
		label);
done:
	free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}
