/* secret.c - see secret.h. */
#include "state/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int secret_file_check(int fd, const char *path, const char *what,
		      int private_read, struct err *err)
{
	struct stat sb;
	mode_t bad = private_read ? 077 : 022;

	if (fstat(fd, &sb) < 0)
		return err_set(err, ERR_LOCAL, EC_IO, "cannot stat %s %s: %s",
			       what, path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return err_set(err, ERR_USAGE, EC_IO,
			       "%s %s is not a regular file: put the %s "
			       "itself there",
			       what, path, what);
	if (sb.st_uid != geteuid())
		return err_set(err, ERR_USAGE, EC_IO,
			       "%s is owned by uid %lu, not by uid %lu who "
			       "runs imapmig: check nobody replaced it, then "
			       "chown %lu %s",
			       path, (unsigned long)sb.st_uid,
			       (unsigned long)geteuid(),
			       (unsigned long)geteuid(), path);
	if (sb.st_mode & bad)
		return err_set(err, ERR_USAGE, EC_IO,
			       "%s is %s by group or others (mode %04o): "
			       "chmod 600 %s",
			       path, sb.st_mode & 022 ? "writable" : "readable",
			       (unsigned)(sb.st_mode & 07777), path);
	return 0;
}

int secret_key_load(const char *path, struct secret_key *key, struct err *err)
{
	struct stat sb;
	int fd;
	ssize_t n;

	snprintf(key->path, sizeof(key->path), "%s", path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (RAND_bytes(key->k, sizeof(key->k)) != 1)
			return err_set(err, ERR_LOCAL, EC_IO,
				       "no randomness for a key");
		/* O_EXCL: never through a symbolic link, never a file
		 * someone else put there first. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			fchmod(fd, 0600);
			n = write(fd, key->k, sizeof(key->k));
			if (n != (ssize_t)sizeof(key->k) || fsync(fd) < 0) {
				close(fd);
				unlink(path);
				return err_set(err, ERR_LOCAL, EC_IO,
					       "cannot write key file %s: %s",
					       path, strerror(errno));
			}
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return err_set(err, ERR_LOCAL, EC_IO,
				       "cannot create key file %s: %s", path,
				       strerror(errno));
		/* lost a race */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 && errno == ELOOP)
		return err_set(err, ERR_USAGE, EC_IO,
			       "key file %s is a symbolic link: put the key "
			       "file itself there (chmod 600), or name it "
			       "with IMAPMIG_KEY_FILE",
			       path);
	if (fd < 0)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "cannot read key file %s: %s", path,
			       strerror(errno));
	/* Checked on the descriptor we read: nothing can be swapped in
	 * between.  A key others can read gives away every password. */
	if (secret_file_check(fd, path, "key file", 1, err) < 0 ||
	    fstat(fd, &sb) < 0) {
		close(fd);
		return -1;
	}
	if (sb.st_size != (off_t)sizeof(key->k)) {
		close(fd);
		return err_set(err, ERR_USAGE, EC_IO,
			       "key file %s is %lld bytes, not %zu: it is "
			       "damaged or not a key; restore it from a backup",
			       path, (long long)sb.st_size, sizeof(key->k));
	}
	n = read(fd, key->k, sizeof(key->k));
	close(fd);
	if (n != (ssize_t)sizeof(key->k))
		return err_set(err, ERR_LOCAL, EC_IO,
			       "cannot read key file %s: %s", path,
			       n < 0 ? strerror(errno) : "short read");
	return 0;
}

int secret_seal(const struct secret_key *key, const char *plain, size_t len,
		struct buf *out, struct err *err)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[12], tag[16];
	int n = 0, ret = -1;
	size_t off;

	if (ctx == NULL || RAND_bytes(nonce, sizeof(nonce)) != 1)
		goto out;
	buf_addch(out, 1);
	buf_add(out, nonce, sizeof(nonce));
	off = out->len;
	buf_grow(out, len + 16);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->k, nonce) !=
		    1 ||
	    EVP_EncryptUpdate(ctx, (unsigned char *)out->p + off, &n,
			      (const unsigned char *)plain, (int)len) != 1)
		goto out;
	out->len = off + (size_t)n;
	if (EVP_EncryptFinal_ex(ctx, (unsigned char *)out->p + out->len, &n) !=
		    1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	out->len += (size_t)n;
	buf_add(out, tag, sizeof(tag));
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (ret < 0)
		err_set(err, ERR_LOCAL, EC_IO, "cannot encrypt a password");
	return ret;
}

int secret_open(const struct secret_key *key, const void *blob, size_t len,
		struct buf *out, struct err *err)
{
	const unsigned char *b = blob;
	EVP_CIPHER_CTX *ctx;
	int n = 0, ok = 0;
	size_t clen;

	if (len < 1 + 12 + 16 || b[0] != 1)
		return err_set(err, ERR_LOCAL, EC_IO,
			       "a stored password is damaged");
	clen = len - 1 - 12 - 16;
	ctx = EVP_CIPHER_CTX_new();
	buf_reset(out);
	buf_grow(out, clen + 16);
	if (ctx != NULL &&
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->k, b + 1) ==
		    1 &&
	    EVP_DecryptUpdate(ctx, (unsigned char *)out->p, &n, b + 13,
			      (int)clen) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
				(void *)(b + 13 + clen)) == 1) {
		int m = 0;
		out->len = (size_t)n;
		ok = EVP_DecryptFinal_ex(
			     ctx, (unsigned char *)out->p + out->len, &m) == 1;
		out->len += (size_t)(ok ? m : 0);
	}
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(out->p, out->len);
		buf_reset(out);
		return err_set(err, ERR_LOCAL, EC_IO,
			       "cannot decrypt a stored password: the key file "
			       "%s does not match this state (was it "
			       "replaced?)",
			       key->path);
	}
	out->p[out->len] = '\0';
	return 0;
}
