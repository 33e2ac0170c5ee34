/* seqset.h - compact UID sets ("1:5,7,9:12"). */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Append a set built from ascending, distinct uids to out, stopping
 * before the set would pass max_len bytes (at least one UID is always
 * taken).  Returns how many UIDs were consumed. */
size_t seqset_build(const uint32_t *uids, size_t n, size_t max_len,
		    struct buf *out);

#endif
