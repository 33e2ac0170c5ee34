/* strset.h - a set of strings, each remembering the order it was added in.
 *
 * Open addressing with linear probing in a power-of-two table kept at most
 * half full; a keyed hash (SipHash-1-3, one random key per process), so
 * names chosen by a server or a CSV cannot all be made to collide.  Keys
 * are copied.  With STRSET_NOCASE, keys differing only in ASCII case are
 * the same key (strcasecmp in the C locale: the CSV's rule for addresses,
 * and SQLite's COLLATE NOCASE). */
#ifndef UTIL_STRSET_H
#define UTIL_STRSET_H

#include <stddef.h>
#include <stdint.h>

#define STRSET_NOCASE 1u

struct strset_slot {
	char *key; /* NULL: empty */
	uint64_t hash;
	size_t idx;
};

struct strset {
	struct strset_slot *slots;
	size_t cap, n;
	unsigned flags;
	/* The hash; strset_init sets the keyed one.  Tests may replace it
	 * before the first add (a constant one makes every key collide). */
	uint64_t (*hash)(const char *key, int nocase);
};

void strset_init(struct strset *s, unsigned flags);
/* Add key.  0: added, *idx_r (if not NULL) gets its index: 0 for the first
 * key added, 1 for the next...  1: already there, *idx_r gets the index
 * of the key first added. */
int strset_add(struct strset *s, const char *key, size_t *idx_r);
/* 1 and *idx_r (if not NULL) if key is in the set, else 0. */
int strset_find(const struct strset *s, const char *key, size_t *idx_r);
/* How many distinct keys. */
size_t strset_count(const struct strset *s);
void strset_free(struct strset *s);
/* The default hash, exposed for tests. */
uint64_t strset_hash(const char *key, int nocase);

#endif
