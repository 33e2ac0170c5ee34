/* fuzz_seqset.c - libFuzzer target for UID sets (imap/seqset.h).
 *
 * imapmig only formats sets (seqset_build); this target parses what it
 * formats with a strict parser of RFC 3501 sequence-set syntax and checks:
 * every member is 1..2^32-1, ranges are normalised (a:b with a < b,
 * ascending, never adjacent to the part before, so "3,4" or "3:4,5" never
 * appear), the set holds exactly the UIDs consumed, at least one UID is
 * consumed, the set fits max_len unless it is one part, and building
 * stops only when the next part would not fit.
 *
 * Input: 2 bytes max_len, then 4-byte little-endian numbers, turned into
 * ascending distinct nonzero UIDs (as deltas, so runs are common). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* nz-number: 1..4294967295, no leading zero. */
static const char *num(const char *p, const char *end, uint32_t *v)
{
	uint64_t x = 0;

	if (p >= end || *p < '1' || *p > '9')
		abort();
	while (p < end && *p >= '0' && *p <= '9') {
		x = x * 10 + (uint64_t)(*p++ - '0');
		if (x > UINT32_MAX)
			abort();
	}
	*v = (uint32_t)x;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t uids[512], prev = 0;
	size_t n = 0, max_len, used, k = 0, i;
	struct buf out = BUF_INIT;
	const char *p, *end;
	int64_t last = -2;

	if (size < 2)
		return 0;
	max_len = (size_t)data[0] | (size_t)data[1] << 8;
	for (i = 2; i + 4 <= size && n < 512; i += 4) {
		uint32_t d;
		memcpy(&d, data + i, 4);
		/* small deltas most of the time, huge ones sometimes */
		if (!(d & 0x80000000u))
			d = (d & 0x3) + 1;
		else
			d &= 0x7fffffffu;
		if (d == 0 || (uint64_t)prev + d > UINT32_MAX)
			break;
		prev += d;
		uids[n++] = prev;
	}
	if (n == 0)
		return 0;
	used = seqset_build(uids, n, max_len, &out);
	if (used < 1 || used > n)
		abort();
	p = out.p;
	end = out.p + out.len;
	while (p < end) {
		uint32_t a, b;
		p = num(p, end, &a);
		b = a;
		if (p < end && *p == ':') {
			p = num(p + 1, end, &b);
			if (b <= a)
				abort(); /* not normalised */
		}
		if ((int64_t)a <= last + 1)
			abort(); /* out of order, or adjacent to the part before
				  */
		for (uint64_t u = a; u <= b; u++) {
			if (k >= used || uids[k] != u)
				abort();
			k++;
		}
		last = b;
		if (p < end && *p++ != ',')
			abort();
		if (p == end && end[-1] == ',')
			abort();
	}
	if (k != used)
		abort();
	if (out.len > max_len && strchr(out.p, ',') != NULL)
		abort();
	if (used < n) {
		/* the next part (a run from uids[used]) would not fit */
		size_t j = used;
		char part[32];
		int len;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		len = j > used
			      ? snprintf(part, sizeof(part), ",%u:%u",
					 uids[used], uids[j])
			      : snprintf(part, sizeof(part), ",%u", uids[used]);
		if (out.len + (size_t)len <= max_len)
			abort();
	}
	buf_release(&out);
	return 0;
}
