/* token.c - the API token: read (or created, 0600) at start, compared in
 * constant time, and the session cookie's value derived from it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "web/internal.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A new token file: 32 random bytes as hex, 0600, never over a file
 * that appeared meanwhile. */
static int token_create(const char *path, struct err *err)
{
	unsigned char raw[32];
	char text[66];
	int fd;
	ssize_t n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return err_set(err, ERR_LOCAL, EC_NONE,
			       "cannot make an API token: no randomness");
	hex(raw, sizeof(raw), text);
	OPENSSL_cleanse(raw, sizeof(raw));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0; /* another process made it: read that one */
	if (fd < 0)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "cannot create the API token file %s: %s", path,
			       strerror(errno));
	text[64] = '\n';
	n = write(fd, text, 65);
	OPENSSL_cleanse(text, sizeof(text));
	if (n != 65 || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return err_set(err, ERR_LOCAL, EC_IO,
			       "cannot write the API token file %s: %s", path,
			       strerror(errno));
	}
	close(fd);
	return 0;
}

int web_token_load(struct web *w, const char *path, int create, struct err *err)
{
	char text[WEB_TOKEN_MAX + 2];
	unsigned char mac[32];
	unsigned maclen = sizeof(mac);
	struct stat sb;
	ssize_t n;
	size_t len, i;
	int fd, ret = -1;

	if (create && access(path, F_OK) < 0 && errno == ENOENT &&
	    token_create(path, err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(err, ERR_USAGE, EC_IO,
			       "cannot read the API token file %s: %s: give a "
			       "readable file with --api-token-file",
			       path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_set(err, ERR_USAGE, EC_IO,
			       "API token file %s is not a regular file", path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return err_set(err, ERR_USAGE, EC_IO,
			       "API token file %s is readable by others (mode "
			       "%04o): run 'chmod 600 %s'",
			       path, (unsigned)(sb.st_mode & 07777), path);
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		err_set(err, ERR_USAGE, EC_IO,
			"cannot read the API token file %s: %s", path,
			strerror(errno));
		goto out;
	}
	text[n] = '\0';
	len = strcspn(text, "\r\n");
	if (len == (size_t)n && n > WEB_TOKEN_MAX) {
		err_set(err, ERR_USAGE, EC_TOO_BIG,
			"API token in %s is longer than %d bytes", path,
			WEB_TOKEN_MAX);
		goto out;
	}
	for (i = 0; i < len; i++)
		if (text[i] <= ' ' || text[i] > '~')
			break;
	if (len < 16 || i < len) {
		err_set(err, ERR_USAGE, EC_NONE,
			"API token in %s: give at least 16 printable "
			"characters without spaces on its first line",
			path);
		goto out;
	}
	SHA256((const unsigned char *)text, len, w->token_hash);
	if (HMAC(EVP_sha256(), text, (int)len,
		 (const unsigned char *)"imapmig session", 15, mac,
		 &maclen) == NULL) {
		err_set(err, ERR_LOCAL, EC_NONE, "cannot derive the session");
		goto out;
	}
	hex(mac, 32, w->session);
	ret = 0;
out:
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(mac, sizeof(mac));
	return ret;
}

int web_token_ok(const struct web *w, const char *s, size_t len)
{
	unsigned char h[32];
	int ok;

	/* hashes of equal length: the time says nothing of the token */
	SHA256((const unsigned char *)s, len, h);
	ok = CRYPTO_memcmp(h, w->token_hash, sizeof(h)) == 0;
	return ok;
}

int web_session_ok(const struct web *w, const char *s)
{
	unsigned char a[32], b[32];

	SHA256((const unsigned char *)s, strlen(s), a);
	SHA256((const unsigned char *)w->session, strlen(w->session), b);
	return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}
