/* seqset.c - see seqset.h. */
#include "imap/seqset.h"

#include <stdio.h>

size_t seqset_build(const uint32_t *uids, size_t n, size_t max_len,
		    struct buf *out)
{
	size_t i = 0, start_len = out->len;

	while (i < n) {
		size_t j = i;
		char part[32];
		int len;

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
