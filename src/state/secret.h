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

/* Load the key from path, creating it if absent. */
int secret_key_load(const char *path, struct secret_key *key, struct err *err);
int secret_seal(const struct secret_key *key, const char *plain, size_t len,
		struct buf *out, struct err *err);
/* The plaintext is NUL-terminated in out. */
int secret_open(const struct secret_key *key, const void *blob, size_t len,
		struct buf *out, struct err *err);

#endif
