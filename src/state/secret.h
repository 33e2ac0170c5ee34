/* secret.h - passwords at rest: AES-256-GCM with a key file.
 *
 * Blob: version byte 1, 12-byte random nonce, ciphertext, 16-byte tag.
 * The key file holds 32 random bytes, created 0600 with O_EXCL. */
#ifndef STATE_SECRET_H
#define STATE_SECRET_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct secret_key {
	unsigned char k[32];
	char path[512];
};

/* Load the key from path, creating it (0600, O_EXCL) if absent.  A key
 * that is a symbolic link, not owned by the effective uid, readable or
 * writable by group or others, or not 32 bytes is refused (ERR_USAGE). */
int secret_key_load(const char *path, struct secret_key *key, struct err *err);
/* The trust rule for a file imapmig keeps secrets in, checked on the open
 * descriptor fd: a regular file owned by the effective uid and not
 * writable by group or others (nor readable, if private_read).  what
 * names the file in the message ("key file", "state"). */
int secret_file_check(int fd, const char *path, const char *what,
		      int private_read, struct err *err);
int secret_seal(const struct secret_key *key, const char *plain, size_t len,
		struct buf *out, struct err *err);
/* The plaintext is NUL-terminated in out. */
int secret_open(const struct secret_key *key, const void *blob, size_t len,
		struct buf *out, struct err *err);

#endif
