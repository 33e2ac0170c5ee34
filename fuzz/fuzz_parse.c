/* fuzz_parse.c - libFuzzer target for the response parser.  The first
 * byte picks the split size, so input split anywhere is explored; small
 * limits make every cap reachable; a sink checks that streamed literals
 * deliver exactly their announced size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"

struct fz_sink {
	uint64_t want, got;
	int open;
};

static int fz_begin(void *ctx, const struct imap_resp *partial,
		    struct slice key, uint64_t size, int literal8)
{
	struct fz_sink *s = ctx;

	(void)partial;
	(void)key;
	(void)literal8;
	if (s->open)
		abort();
	s->open = 1;
	s->want = size;
	s->got = 0;
	return 0;
}

static int fz_data(void *ctx, const char *p, size_t len)
{
	struct fz_sink *s = ctx;

	(void)p;
	s->got += len;
	if (!s->open || s->got > s->want)
		abort();
	return 0;
}

static int fz_end(void *ctx)
{
	struct fz_sink *s = ctx;

	if (!s->open || s->got != s->want)
		abort();
	s->open = 0;
	return 0;
}

static void walk(const struct imap_arg *a, size_t n, unsigned depth)
{
	size_t i;

	if (depth > 64)
		abort();
	for (i = 0; i < n; i++) {
		if (a[i].type == IMAP_ARG_LIST)
			walk(a[i].list, a[i].list_count, depth + 1);
		else if (imap_arg_str(&a[i]) != NULL &&
			 imap_arg_str(&a[i])[a[i].str.len] != '\0')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim = {4096, 16, 1 << 20, 64, 8192};
	struct fz_sink fs = {0, 0, 0};
	struct imap_literal_sink sink = {fz_begin, fz_data, fz_end, &fs};
	struct imap_parser *p;
	size_t pos = 1, step;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 17;
	p = imap_parser_create(&lim);
	imap_parser_set_sink(p, &sink);
	while (pos < size) {
		size_t n = step < size - pos ? step : size - pos, off = 0;
		while (off < n) {
			const struct imap_resp *r;
			size_t used;
			enum imap_parse_result pr = imap_parser_feed(
				p, (const char *)data + pos + off, n - off,
				&used, &r);
			if (used > n - off)
				abort();
			off += used;
			if (pr == IMAP_PARSE_DONE) {
				walk(r->args, r->arg_count, 0);
				continue;
			}
			if (pr == IMAP_PARSE_ERROR) {
				imap_parser_reset(p);
				fs.open = 0;
				off = n; /* drop the rest of this chunk */
			}
			break;
		}
		pos += n;
	}
	imap_parser_destroy(&p);
	return 0;
}
