/* strset.c - see strset.h. */
#include "util/strset.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/xalloc.h"

static uint64_t sip_k0, sip_k1;
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_key_init(void)
{
	uint64_t k[2];

	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
		/* no entropy source: still unpredictable enough to spread
		 * keys, if not against a patient attacker */
		k[0] = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		k[1] = (uint64_t)(uintptr_t)&k ^ 0x9e3779b97f4a7c15ull;
	}
	sip_k0 = k[0];
	sip_k1 = k[1];
}

static unsigned char fold(unsigned char c, int nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

/* SipHash-1-3 of the (case-folded) bytes of key. */
uint64_t strset_hash(const char *key, int nocase)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t v0, v1, v2, v3, m = 0;
	size_t len = 0;

	pthread_once(&sip_once, sip_key_init);
	v0 = sip_k0 ^ 0x736f6d6570736575ull;
	v1 = sip_k1 ^ 0x646f72616e646f6dull;
	v2 = sip_k0 ^ 0x6c7967656e657261ull;
	v3 = sip_k1 ^ 0x7465646279746573ull;
	for (; *p; p++) {
		m |= (uint64_t)fold(*p, nocase) << (8 * (len & 7));
		if ((++len & 7) == 0) {
			v3 ^= m;
			SIPROUND;
			v0 ^= m;
			m = 0;
		}
	}
	m |= (uint64_t)(len & 0xff) << 56;
	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static int key_eq(const char *a, const char *b, int nocase)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	while (*x && fold(*x, nocase) == fold(*y, nocase)) {
		x++;
		y++;
	}
	return *x == '\0' && *y == '\0';
}

void strset_init(struct strset *s, unsigned flags)
{
	memset(s, 0, sizeof(*s));
	s->flags = flags;
	s->hash = strset_hash;
}

/* The slot holding key, or the empty slot where it would go. */
static struct strset_slot *probe(const struct strset *s, const char *key,
				 uint64_t h)
{
	size_t mask = s->cap - 1, i = (size_t)h & mask;
	int nocase = (s->flags & STRSET_NOCASE) != 0;

	while (s->slots[i].key != NULL &&
	       (s->slots[i].hash != h || !key_eq(s->slots[i].key, key, nocase)))
		i = (i + 1) & mask;
	return &s->slots[i];
}

static void grow(struct strset *s)
{
	struct strset_slot *old = s->slots;
	size_t oldcap = s->cap, i;

	s->cap = oldcap ? 2 * oldcap : 16;
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	for (i = 0; i < oldcap; i++) {
		size_t j, mask = s->cap - 1;
		if (old[i].key == NULL)
			continue;
		/* keys are distinct: the first empty slot is theirs */
		for (j = (size_t)old[i].hash & mask; s->slots[j].key != NULL;
		     j = (j + 1) & mask)
			;
		s->slots[j] = old[i];
	}
	free(old);
}

int strset_add(struct strset *s, const char *key, size_t *idx_r)
{
	uint64_t h = s->hash(key, (s->flags & STRSET_NOCASE) != 0);
	struct strset_slot *slot;

	if (s->cap > 0) {
		slot = probe(s, key, h);
		if (slot->key != NULL) {
			if (idx_r != NULL)
				*idx_r = slot->idx;
			return 1;
		}
	}
	if (2 * (s->n + 1) > s->cap) /* at most half full */
		grow(s);
	slot = probe(s, key, h);
	slot->key = xstrdup(key);
	slot->hash = h;
	slot->idx = s->n++;
	if (idx_r != NULL)
		*idx_r = slot->idx;
	return 0;
}

int strset_find(const struct strset *s, const char *key, size_t *idx_r)
{
	const struct strset_slot *slot;

	if (s->cap == 0)
		return 0;
	slot = probe(s, key, s->hash(key, (s->flags & STRSET_NOCASE) != 0));
	if (slot->key == NULL)
		return 0;
	if (idx_r != NULL)
		*idx_r = slot->idx;
	return 1;
}

size_t strset_count(const struct strset *s)
{
	return s->n;
}

void strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->slots[i].key);
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}
