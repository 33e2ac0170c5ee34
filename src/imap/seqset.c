/* seqset.c - see seqset.h. */
#include "imap/seqset.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/xalloc.h"

size_t seqset_build(const uint32_t *uids, size_t n, size_t max_len,
		    struct buf *out)
{
	size_t i = 0, start_len = out->len;

	while (i < n) {
		size_t j = i;
		char part[32];
		int len;

		/* ascending and distinct, so uids[j] + 1 cannot wrap here */
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j > i)
			len = snprintf(part, sizeof(part), "%s%u:%u",
				       out->len > start_len ? "," : "", uids[i],
				       uids[j]);
		else
			len = snprintf(part, sizeof(part), "%s%u",
				       out->len > start_len ? "," : "",
				       uids[i]);
		if (out->len > start_len &&
		    out->len - start_len + (size_t)len > max_len)
			break;
		buf_add(out, part, (size_t)len);
		i = j + 1;
	}
	return i;
}

/* One seq-number at *pos: 1..4294967295 without leading zero, or '*'. */
static int parse_number(const char *s, size_t len, size_t *pos, uint32_t star,
			uint32_t *val_r, const char **error_r)
{
	uint64_t v = 0;
	size_t i = *pos;

	if (i < len && s[i] == '*') {
		if (star == 0) {
			*error_r = "'*' in a set where no highest UID is known";
			return -1;
		}
		*pos = i + 1;
		*val_r = star;
		return 0;
	}
	if (i >= len || s[i] < '1' || s[i] > '9') {
		*error_r = i < len && s[i] == '0'
				   ? "0 or a leading zero in a set"
				   : "a set element is not a number";
		return -1;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX) {
			*error_r = "a number in a set is over 4294967295";
			return -1;
		}
	}
	*pos = i;
	*val_r = (uint32_t)v;
	return 0;
}

int seqset_parse(const char *s, size_t len, uint32_t star,
		 struct seqset_range **ranges_r, size_t *n_r,
		 const char **error_r)
{
	struct seqset_range *v = NULL;
	size_t n = 0, alloc = 0, pos = 0;

	*ranges_r = NULL;
	*n_r = 0;
	for (;;) {
		struct seqset_range r;
		uint32_t t;

		if (parse_number(s, len, &pos, star, &r.lo, error_r) < 0)
			goto fail;
		r.hi = r.lo;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (parse_number(s, len, &pos, star, &t, error_r) < 0)
				goto fail;
			if (t < r.lo) {
				r.hi = r.lo;
				r.lo = t;
			} else {
				r.hi = t;
			}
		}
		if (n == alloc) {
			/* each range takes at least 2 input bytes, so len
			 * bounds this */
			alloc = alloc ? alloc * 2 : 8;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		v[n++] = r;
		if (pos == len)
			break;
		if (s[pos] != ',') {
			*error_r = "unexpected character in a set";
			goto fail;
		}
		pos++;
	}
	*ranges_r = v;
	*n_r = n;
	return 0;
fail:
	free(v);
	return -1;
}

uint64_t seqset_count(const struct seqset_range *ranges, size_t n)
{
	uint64_t total = 0;
	size_t i;

	/* at most 2^32 per range; n ranges cannot reach 2^64 in memory */
	for (i = 0; i < n; i++)
		total += (uint64_t)ranges[i].hi - ranges[i].lo + 1;
	return total;
}

int seqset_expand(const struct seqset_range *ranges, size_t n, size_t max,
		  uint32_t **uids_r, size_t *n_r)
{
	uint64_t total = seqset_count(ranges, n);
	uint32_t *v;
	size_t i, k = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (total > max || total > SIZE_MAX / sizeof(*v))
		return -1;
	v = xmalloc((size_t)(total ? total : 1) * sizeof(*v));
	for (i = 0; i < n; i++) {
		uint32_t u = ranges[i].lo;
		for (;;) {
			v[k++] = u;
			if (u == ranges[i].hi)
				break; /* not u <= hi: hi may be UINT32_MAX */
			u++;
		}
	}
	*uids_r = v;
	*n_r = k;
	return 0;
}
