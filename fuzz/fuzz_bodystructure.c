/* fuzz_bodystructure.c - libFuzzer target for the BODYSTRUCTURE walker
 * of store/imap_fetch.c (store/identity_parts.h), fed through the
 * response parser: the input is wrapped as
 * "* 1 FETCH (UID 7 BODYSTRUCTURE <input>)\r\n".
 *
 * Every "<part>:<size>" the walker lists is well formed (nz-number
 * *("." nz-number), a decimal size, as submit_binary_parts reads it),
 * listed once, and names, by RFC 3501 section numbering found here
 * independently, a leaf part whose transfer encoding is none, 7BIT, 8BIT
 * or BINARY and whose size is the one the server gave (UINT64_MAX if
 * none). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/parse.h"
#include "store/identity_parts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_multi(const struct imap_arg *n)
{
	return n->type == IMAP_ARG_LIST && n->list_count > 0 &&
	       n->list[0].type == IMAP_ARG_LIST;
}

static int is_message(const struct imap_arg *n)
{
	const char *t, *s;

	if (n->type != IMAP_ARG_LIST || n->list_count <= 8 || is_multi(n))
		return 0;
	t = imap_arg_str(&n->list[0]);
	s = imap_arg_str(&n->list[1]);
	return t && s && strcasecmp(t, "MESSAGE") == 0 &&
	       strcasecmp(s, "RFC822") == 0;
}

static size_t n_children(const struct imap_arg *n)
{
	size_t k = 0;

	while (k < n->list_count && n->list[k].type == IMAP_ARG_LIST)
		k++;
	return k;
}

/* The node a section number names, or NULL. */
static const struct imap_arg *locate(const struct imap_arg *top,
				     const char *part, size_t len)
{
	const struct imap_arg *n = top;
	size_t i = 0;
	int first = 1;

	while (i < len) {
		unsigned long c = 0;
		while (i < len && part[i] != '.')
			c = c * 10 + (unsigned long)(part[i++] - '0');
		i++; /* the dot */
		if (first && !is_multi(n)) {
			/* a single-part message's body is section 1 */
			if (c != 1)
				return NULL;
		} else if (is_multi(n)) {
			if (c < 1 || c > n_children(n))
				return NULL;
			n = &n->list[c - 1];
		} else if (is_message(n)) {
			const struct imap_arg *in = &n->list[8];
			if (is_multi(in)) {
				if (c < 1 || c > n_children(in))
					return NULL;
				n = &in->list[c - 1];
			} else if (c == 1 && in->type == IMAP_ARG_LIST) {
				n = in;
			} else {
				return NULL;
			}
		} else {
			return NULL;
		}
		first = 0;
	}
	return n;
}

static void check(const struct imap_arg *bs, const char *s)
{
	const char *p = s;

	while (*p) {
		const char *start = p, *colon, *enc, *q;
		const struct imap_arg *leaf;
		unsigned long long want = UINT64_MAX, got = 0;
		uint64_t v;
		size_t plen;
		char *dup;

		/* nz-number *("." nz-number) */
		for (;;) {
			if (*p < '1' || *p > '9')
				abort();
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p != '.')
				break;
			p++;
		}
		if (*p != ':')
			abort();
		colon = p++;
		plen = (size_t)(colon - start);
		if (*p < '0' || *p > '9')
			abort();
		for (; *p >= '0' && *p <= '9'; p++) {
			if (got > (UINT64_MAX - (unsigned)(*p - '0')) / 10)
				abort();
			got = got * 10 + (unsigned)(*p - '0');
		}
		if (*p == ' ' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			abort();
		/* listed once */
		dup = strndup(start, plen + 1);
		for (q = strstr(s, dup); q != NULL; q = strstr(q + 1, dup))
			if (q != start && (q == s || q[-1] == ' '))
				abort();
		free(dup);
		leaf = locate(bs, start, plen);
		if (leaf == NULL || leaf->type != IMAP_ARG_LIST ||
		    is_multi(leaf) || is_message(leaf) || leaf->list_count == 0)
			abort();
		enc = leaf->list_count > 5 ? imap_arg_str(&leaf->list[5])
					   : NULL;
		if (enc != NULL && strcasecmp(enc, "7BIT") != 0 &&
		    strcasecmp(enc, "8BIT") != 0 &&
		    strcasecmp(enc, "BINARY") != 0)
			abort();
		if (leaf->list_count > 6 &&
		    imap_arg_u64(&leaf->list[6], &v) == 0)
			want = v;
		if (got != want)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "* 1 FETCH (UID 7 BODYSTRUCTURE ",
			  tail[] = ")\r\n";
	struct imap_parser *p;
	const struct imap_resp *r;
	size_t len = sizeof(head) - 1 + size + sizeof(tail) - 1, used, i;
	char *msg;

	if (size > 65536)
		return 0;
	msg = malloc(len);
	memcpy(msg, head, sizeof(head) - 1);
	memcpy(msg + sizeof(head) - 1, data, size);
	memcpy(msg + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	p = imap_parser_create(NULL);
	if (imap_parser_feed(p, msg, len, &used, &r) == IMAP_PARSE_DONE &&
	    r->arg_count >= 3 && r->args[2].type == IMAP_ARG_LIST) {
		const struct imap_arg *items = &r->args[2];
		for (i = 0; i + 1 < items->list_count; i += 2) {
			const char *key = imap_arg_str(&items->list[i]);
			struct buf out = BUF_INIT;
			if (key == NULL ||
			    strcasecmp(key, "BODYSTRUCTURE") != 0)
				continue;
			store_identity_parts(&items->list[i + 1], "", &out, 0);
			check(&items->list[i + 1], out.p);
			buf_release(&out);
		}
	}
	imap_parser_destroy(&p);
	free(msg);
	return 0;
}
