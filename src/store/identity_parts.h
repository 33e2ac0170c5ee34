/* identity_parts.h - the BODYSTRUCTURE walker of store/imap_fetch.c,
 * exposed for the unit tests and fuzz/fuzz_bodystructure.c. */
#ifndef STORE_IDENTITY_PARTS_H
#define STORE_IDENTITY_PARTS_H

#include "imap/parse.h"
#include "util/buf.h"

/* Append to out, space-separated, "<part>:<size>" ("1.2:3000") for every
 * leaf part of the BODYSTRUCTURE b whose transfer encoding BINARY[]
 * leaves as it is (none, 7bit, 8bit, binary); a message/rfc822 part is
 * entered; a size the server does not give is UINT64_MAX.  Call with
 * prefix "" and depth 0. */
void store_identity_parts(const struct imap_arg *b, const char *prefix,
			  struct buf *out, unsigned depth);

#endif
