/* seqset.h - compact UID sets ("1:5,7,9:12"), both ways.
 *
 * Building: from UIDs we hold, to put in UID FETCH/STORE/COPY commands
 * without passing a server's line-length limit.  Parsing: sets servers
 * send in VANISHED, APPENDUID and COPYUID (RFC 4315, 7162), which are
 * input from the network and are validated strictly. */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* One range of a parsed set, lo <= hi (a server's "5:3" is stored as
 * 3..5, as RFC 9051 says they mean the same). */
struct seqset_range {
	uint32_t lo, hi;
};

/* Append a set built from uids (ascending, distinct, none 0) to out,
 * stopping before the set would pass max_len bytes; at least one UID is
 * always taken, so a caller looping on the return value always advances.
 * Consecutive UIDs become one "a:b" range, which is never split.
 * Returns how many UIDs were consumed (n when all fitted). */
size_t seqset_build(const uint32_t *uids, size_t n, size_t max_len,
		    struct buf *out);

/* Parse the sequence-set s[0..len) (RFC 9051: nz-numbers up to
 * 4294967295 without leading zeros, "*", "a:b", comma-separated; no
 * spaces, nothing empty).  star is the value "*" stands for (the
 * mailbox's highest UID); with star == 0 a "*" is refused.
 *
 * On success returns 0 and sets *ranges_r to a new array of *n_r >= 1
 * ranges in the order given (COPYUID pairs its two sets by position),
 * which the caller frees with free().  On error returns -1, sets
 * *ranges_r to NULL, *n_r to 0 and *error_r to a static string saying
 * what is wrong (safe to log: it never quotes the input). */
int seqset_parse(const char *s, size_t len, uint32_t star,
		 struct seqset_range **ranges_r, size_t *n_r,
		 const char **error_r);

/* How many numbers the ranges cover, overlaps counted each time (64-bit:
 * "1:4294967295" alone is 2^32 - 1, and many such ranges cannot wrap). */
uint64_t seqset_count(const struct seqset_range *ranges, size_t n);

/* Expand ranges into a new array of their numbers in order (for pairing
 * the two sets of a COPYUID).  Refuses (-1, *uids_r NULL) when there
 * would be more than max numbers, so a hostile "1:4294967295" cannot
 * make us allocate 16 GB.  The caller frees *uids_r with free(). */
int seqset_expand(const struct seqset_range *ranges, size_t n, size_t max,
		  uint32_t **uids_r, size_t *n_r);

#endif
