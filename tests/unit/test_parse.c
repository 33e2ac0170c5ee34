/* test_parse.c - the incremental response parser: whole, byte by byte and
 * at random splits the trees must be identical; literals stream; hostile
 * input fails cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "util/buf.h"

/* ---- a tree dumper, so parses can be compared ---- */

static void dump_arg(const struct imap_arg *a, struct buf *out)
{
	size_t i;

	switch (a->type) {
	case IMAP_ARG_ATOM:
		buf_addf(out, "A<%.*s>", (int)a->str.len, a->str.p);
		break;
	case IMAP_ARG_STRING:
		buf_addf(out, "S<%.*s>", (int)a->str.len, a->str.p);
		break;
	case IMAP_ARG_LITERAL:
		buf_addf(out, "L%s%zu<", a->literal8 ? "8" : "", a->str.len);
		/* NUL shown as \0 so the dump stays one C string */
		for (i = 0; i < a->str.len; i++) {
			if (a->str.p[i] == '\0')
				buf_addstr(out, "\\0");
			else
				buf_addch(out, a->str.p[i]);
		}
		buf_addch(out, '>');
		break;
	case IMAP_ARG_LITERAL_STREAMED:
		buf_addf(out, "LS%llu", (unsigned long long)a->literal_size);
		break;
	case IMAP_ARG_NIL: buf_addstr(out, "NIL"); break;
	case IMAP_ARG_LIST:
		buf_addch(out, '(');
		for (i = 0; i < a->list_count; i++) {
			if (i)
				buf_addch(out, ' ');
			dump_arg(&a->list[i], out);
		}
		buf_addch(out, ')');
		break;
	}
}

static void dump_resp(const struct imap_resp *r, struct buf *out)
{
	size_t i;

	buf_addf(out, "[k%d t<%.*s> s%d c<%.*s> ca<%.*s> x<%.*s>", r->kind,
		 (int)r->tag.len, r->tag.p, r->status, (int)r->code.len,
		 r->code.p, (int)r->code_args.len, r->code_args.p,
		 (int)r->text.len, r->text.p);
	for (i = 0; i < r->arg_count; i++) {
		buf_addch(out, ' ');
		dump_arg(&r->args[i], out);
	}
	buf_addstr(out, "]");
}

/* Feed input split at the given points (sizes cycle through chunk[]);
 * dump every response; stop at the first error. */
static int parse_split(const char *in, size_t len, const size_t *chunk,
		       size_t nchunk, const struct imap_parser_limits *lim,
		       struct buf *out)
{
	struct imap_parser *p = imap_parser_create(lim);
	struct buf pending = BUF_INIT;
	size_t pos = 0, ci = 0;
	int ret = 0;

	while (pos < len) {
		size_t n = chunk[ci++ % nchunk];
		if (n > len - pos)
			n = len - pos;
		buf_add(&pending, in + pos, n);
		pos += n;
		for (;;) {
			const struct imap_resp *r;
			size_t used;
			enum imap_parse_result pr = imap_parser_feed(
				p, pending.p, pending.len, &used, &r);
			buf_consume(&pending, used);
			if (pr == IMAP_PARSE_DONE) {
				dump_resp(r, out);
				continue;
			}
			if (pr == IMAP_PARSE_ERROR) {
				buf_addf(out, "ERROR(%s)",
					 imap_parser_error(p));
				ret = -1;
				goto done;
			}
			break;
		}
	}
done:
	buf_release(&pending);
	imap_parser_destroy(&p);
	return ret;
}

static const char *const responses[] = {
	"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] Dovecot ready.\r\n",
	"A1 OK [UIDVALIDITY 3857529045] Completed\r\n",
	"a2 no [UNAVAILABLE] try later\r\n",
	"A3 OK [APPENDUID 38505 3955] APPEND completed\r\n",
	"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
	"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n",
	"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n",
	"* LIST () \".\" {7}\r\nfoo bar\r\n",
	"* STATUS \"x y\" (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 1 HIGHESTMODSEQ "
	"7)\r\n",
	"* 12 EXISTS\r\n",
	"* 3 EXPUNGE\r\n",
	"* 3 FETCH (UID 7 FLAGS (\\Seen $Forwarded) INTERNALDATE "
	"\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 10 BINARY[] ~{10}\r\n"
	"ab\0cd\r\nefg)\r\n",
	"* 4 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {9}\r\nSubject:x UID "
	"8)\r\n",
	"* 5 FETCH (BODY[]<0> NIL)\r\n",
	"* NAMESPACE ((\"\" \"/\")) NIL ((\"Shared/\" \"/\"))\r\n",
	"* ESEARCH (TAG \"A5\") UID ALL 1:3,5\r\n",
	"* VANISHED (EARLIER) 1:3\r\n",
	"* BYE Logging out\r\n",
	"* PREAUTH ready\r\n",
	"+ \r\n",
	"+ dXNlcg==\r\n",
	"+\r\n",
	"* LIST (\\Noselect) \"/\" \"\"\r\n",
	"* SEARCH\r\n",
	"* 1 FETCH (FLAGS () BODY[] \"q\\\"uo\\\\te\")\r\n",
	"* LIST () \"/\" \"Entw\xc3\xbcrfe\"\n",
	"* OK trailing space \r\n",
	"A9 BAD [CLIENTBUG] no such command\r\n",
};

static void test_splits_agree(void **state)
{
	struct buf all = BUF_INIT;
	size_t i, k;
	unsigned seed;

	(void)state;
	/* The responses in sequence: one buffer, many responses. */
	for (i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		size_t len = strlen(responses[i]);
		if (strstr(responses[i], "~{10}") != NULL)
			len += 1 +
			       strlen(responses[i] + len + 1); /* past NUL */
		buf_add(&all, responses[i], len);
	}
	{
		static const size_t whole[] = {1 << 20}, one[] = {1};
		struct buf a = BUF_INIT, b = BUF_INIT;
		assert_int_equal(
			parse_split(all.p, all.len, whole, 1, NULL, &a), 0);
		assert_int_equal(parse_split(all.p, all.len, one, 1, NULL, &b),
				 0);
		assert_string_equal(a.p, b.p);
		/* spot checks of the tree */
		assert_non_null(strstr(a.p,
				       "c<CAPABILITY> ca<IMAP4rev1 LITERAL+ "
				       "SASL-IR> x<Dovecot ready.>"));
		assert_non_null(strstr(
			a.p, "c<PERMANENTFLAGS> ca<(\\Deleted \\Seen \\*)>"));
		assert_non_null(strstr(a.p, "A<LIST> () S<.> L7<foo bar>"));
		assert_non_null(
			strstr(a.p, "A<BINARY[]> L810<ab\\0cd\r\nefg>"));
		assert_non_null(strstr(a.p,
				       "A<BODY[HEADER.FIELDS (SUBJECT FROM)]> "
				       "L9<Subject:x> A<UID> A<8>"));
		assert_non_null(strstr(a.p, "A<BODY[]<0>> NIL"));
		assert_non_null(strstr(a.p, "S<q\"uo\\te>"));
		assert_non_null(strstr(a.p, "S<Entw\xc3\xbcrfe>"));
		assert_non_null(
			strstr(a.p, "[k2 t<> s0 c<> ca<> x<dXNlcg==>]"));
		assert_non_null(strstr(
			a.p, "[k1 t<a2> s2 c<UNAVAILABLE> ca<> x<try later>]"));
		assert_non_null(strstr(a.p, "x<trailing space>"));
		for (seed = 1; seed <= 200; seed++) {
			size_t chunks[16];
			struct buf c = BUF_INIT;
			srand(seed);
			for (k = 0; k < 16; k++)
				chunks[k] = 1 + (size_t)rand() % 40;
			assert_int_equal(parse_split(all.p, all.len, chunks, 16,
						     NULL, &c),
					 0);
			assert_string_equal(a.p, c.p);
			buf_release(&c);
		}
		buf_release(&a);
		buf_release(&b);
	}
	buf_release(&all);
}

/* ---- streamed literals ---- */

struct sink_ctx {
	int begins, ends;
	uint64_t size;
	struct buf got;
	char key[64];
	char uid[16];
};

static int s_begin(void *ctx, const struct imap_resp *partial, struct slice key,
		   uint64_t size, int literal8)
{
	struct sink_ctx *s = ctx;
	const struct imap_arg *l;

	(void)literal8;
	s->begins++;
	s->size = size;
	snprintf(s->key, sizeof(s->key), "%.*s", (int)key.len, key.p);
	/* the partial response shows the UID that came before */
	assert_true(partial->arg_count >= 3);
	l = &partial->args[2];
	assert_int_equal(l->type, IMAP_ARG_LIST);
	assert_true(l->list_count >= 2);
	snprintf(s->uid, sizeof(s->uid), "%s", imap_arg_str(&l->list[1]));
	return 0;
}

static int s_data(void *ctx, const char *p, size_t len)
{
	struct sink_ctx *s = ctx;

	return buf_add(&s->got, p, len);
}

static int s_end(void *ctx)
{
	((struct sink_ctx *)ctx)->ends++;
	return 0;
}

static void run_stream(size_t body_len, size_t inline_max, size_t chunk,
		       struct sink_ctx *s, struct buf *dump)
{
	struct imap_parser_limits lim = {.inline_literal_max = inline_max};
	struct imap_literal_sink sink = {s_begin, s_data, s_end, s};
	struct imap_parser *p = imap_parser_create(&lim);
	struct buf in = BUF_INIT;
	size_t i, pos = 0;

	memset(s, 0, sizeof(*s));
	imap_parser_set_sink(p, &sink);
	buf_addf(&in, "* 1 FETCH (UID 5 BODY[] {%zu}\r\n", body_len);
	for (i = 0; i < body_len; i++)
		buf_addch(&in, (char)(i * 31 % 251));
	buf_addstr(&in, " FLAGS (\\Seen))\r\n* BYE x\r\n");
	while (pos < in.len) {
		const struct imap_resp *r;
		size_t used, n = chunk < in.len - pos ? chunk : in.len - pos;
		enum imap_parse_result pr;
		pr = imap_parser_feed(p, in.p + pos, n, &used, &r);
		assert_int_not_equal(pr, IMAP_PARSE_ERROR);
		pos += used;
		if (pr == IMAP_PARSE_DONE)
			dump_resp(r, dump);
	}
	imap_parser_destroy(&p);
	buf_release(&in);
}

static void test_literal_streamed(void **state)
{
	struct sink_ctx s;
	struct buf dump = BUF_INIT;
	size_t i;

	(void)state;
	run_stream(3 * 1024 * 1024 + 7, 32 * 1024, 4093, &s, &dump);
	assert_int_equal(s.begins, 1);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.size, 3 * 1024 * 1024 + 7);
	assert_string_equal(s.key, "BODY[]");
	assert_string_equal(s.uid, "5");
	assert_int_equal(s.got.len, 3 * 1024 * 1024 + 7);
	for (i = 0; i < s.got.len; i++)
		if (s.got.p[i] != (char)(i * 31 % 251))
			fail_msg("byte %zu differs", i);
	assert_non_null(
		strstr(dump.p, "A<BODY[]> LS3145735 A<FLAGS> (A<\\Seen>)"));
	assert_non_null(strstr(dump.p, "s4 c<> ca<> x<x>"));
	buf_release(&s.got);
	buf_release(&dump);

	/* exactly at the inline limit: kept; one byte over: streamed */
	run_stream(100, 100, 7, &s, &dump);
	assert_int_equal(s.begins, 0);
	assert_non_null(strstr(dump.p, "L100<"));
	buf_reset(&dump);
	run_stream(101, 100, 7, &s, &dump);
	assert_int_equal(s.begins, 1);
	assert_int_equal(s.got.len, 101);
	assert_non_null(strstr(dump.p, "LS101"));
	buf_release(&s.got);
	buf_release(&dump);
}

/* ---- hostile input ---- */

static const char *parse_error(const char *in, size_t len,
			       const struct imap_parser_limits *lim,
			       struct buf *out)
{
	static const size_t one[] = {1};

	buf_reset(out);
	if (parse_split(in, len, one, 1, lim, out) == 0)
		return NULL;
	return strstr(out->p, "ERROR(");
}

static void test_hostile(void **state)
{
	struct imap_parser_limits small = {4096, 16, 1 << 20, 64, 0};
	struct buf out = BUF_INIT, in = BUF_INIT;
	size_t i;

	(void)state;
	/* an endless line stops at the cap, not at memory's end */
	for (i = 0; i < 10000; i++)
		buf_addstr(&in, "* OK aaaaaaaaa");
	assert_non_null(parse_error(in.p, in.len, &small, &out));
	assert_non_null(strstr(out.p, "longer than 4096"));
	/* literal sizes that overflow, and one over the limit */
	assert_non_null(parse_error(
		"* 1 FETCH (BODY[] {9223372036854775808}\r\n", 41, NULL, &out));
	assert_non_null(
		parse_error("* 1 FETCH (BODY[] {18446744073709551616}\r\n", 42,
			    NULL, &out));
	assert_non_null(parse_error("* 1 FETCH (BODY[] {2000000}\r\n", 29,
				    &small, &out));
	/* no sink for a big literal */
	assert_non_null(
		parse_error("* 1 FETCH (BODY[] {100}\r\n", 25, &small, &out));
	/* deep nesting */
	buf_reset(&in);
	buf_addstr(&in, "* 1 FETCH ");
	for (i = 0; i < 10000; i++)
		buf_addch(&in, '(');
	assert_non_null(parse_error(in.p, in.len, NULL, &out));
	assert_non_null(strstr(out.p, "nested deeper"));
	/* NUL outside a literal, unbalanced parens, lone ')', bad tags */
	assert_non_null(parse_error("* OK a\0b\r\n", 10, NULL, &out));
	assert_non_null(parse_error("* 1 FETCH (UID 1\r\n", 18, NULL, &out));
	assert_non_null(parse_error("* 1 FETCH UID 1)\r\n", 18, NULL, &out));
	assert_non_null(parse_error("A(1 OK x\r\n", 10, NULL, &out));
	assert_non_null(parse_error(" OK x\r\n", 7, NULL, &out));
	assert_non_null(parse_error("A1 MAYBE x\r\n", 12, NULL, &out));
	assert_non_null(parse_error("* 1 FETCH (X \"abc\r\n", 19, NULL, &out));
	assert_non_null(parse_error("* 1 FETCH (X {abc}\r\n", 20, NULL, &out));
	/* BYE inside a literal is data: the literal ends where its size
	 * says, then the real BYE parses */
	{
		static const char bye[] =
			"* 1 FETCH (BODY[] {12}\r\n* BYE fake\r\n)\r\n"
			"* BYE real\r\n";
		static const size_t one[] = {1};
		assert_int_equal(
			parse_split(bye, sizeof(bye) - 1, one, 1, NULL, &out),
			0);
		assert_non_null(strstr(out.p, "L12<* BYE fake\r\n>"));
		assert_non_null(strstr(out.p, "x<real>"));
	}
	buf_release(&out);
	buf_release(&in);
}

/* A bare LF ends a line after an atom as it does after a string or a
 * list: the response is complete, and the next one parses (it used to be
 * dropped, the LF handed on to a finished parser). */
static void test_lf_after_atom(void **state)
{
	static const char in[] = "* 3 EXISTS\n* 4 EXISTS\r\n";
	static const size_t whole[] = {sizeof(in) - 1}, one[] = {1};
	struct imap_parser_limits lim = {.max_line = 11};
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(parse_split(in, sizeof(in) - 1, whole, 1, NULL, &out),
			 0);
	assert_string_equal(out.p, "[k0 t<> s0 c<> ca<> x<> A<3> A<EXISTS>]"
				   "[k0 t<> s0 c<> ca<> x<> A<4> A<EXISTS>]");
	buf_reset(&out);
	assert_int_equal(parse_split(in, sizeof(in) - 1, one, 1, NULL, &out),
			 0);
	assert_non_null(strstr(out.p, "A<3> A<EXISTS>]["));
	/* the LF is the line's 11th byte: within max_line 11 */
	buf_reset(&out);
	assert_int_equal(parse_split(in, 11, whole, 1, &lim, &out), 0);
	assert_string_equal(out.p, "[k0 t<> s0 c<> ca<> x<> A<3> A<EXISTS>]");
	buf_release(&out);
}

static void add_literals(struct buf *in, unsigned n, size_t size)
{
	char *x = malloc(size);
	unsigned i;

	memset(x, 'x', size);
	for (i = 0; i < n; i++) {
		buf_addf(in, " {%zu}\r\n", size);
		buf_add(in, x, size);
	}
	free(x);
}

/* One response holds at most max_response bytes of line and kept
 * literals: thousands of small literals cannot add up to gigabytes.
 * Streamed literals are not held and do not count. */
static void test_response_cap(void **state)
{
	struct imap_parser_limits lim = {.max_line = 4096,
					 .inline_literal_max = 64,
					 .max_response = 1000};
	struct imap_literal_sink sink = {s_begin, s_data, s_end, NULL};
	struct buf out = BUF_INIT, in = BUF_INIT;
	struct sink_ctx s;
	struct imap_parser *p;
	const struct imap_resp *r;
	size_t used;

	(void)state;
	/* 20 kept literals of 60 bytes: over 1000 */
	buf_addstr(&in, "* X");
	add_literals(&in, 20, 60);
	buf_addstr(&in, "\r\n");
	assert_non_null(parse_error(in.p, in.len, &lim, &out));
	assert_non_null(strstr(out.p, "server response over 1000 bytes"));
	/* 10 fit, and every response starts from zero */
	buf_reset(&in);
	buf_addstr(&in, "* X");
	add_literals(&in, 10, 60);
	buf_addstr(&in, "\r\n* Y");
	add_literals(&in, 10, 60);
	buf_addstr(&in, "\r\n");
	assert_null(parse_error(in.p, in.len, &lim, &out));
	/* a 100 kB streamed literal next to 10 kept ones */
	memset(&s, 0, sizeof(s));
	sink.ctx = &s;
	buf_reset(&in);
	buf_addstr(&in, "* 1 FETCH (UID 7 BODY[]");
	add_literals(&in, 1, 100000);
	add_literals(&in, 10, 60);
	buf_addstr(&in, ")\r\n");
	p = imap_parser_create(&lim);
	imap_parser_set_sink(p, &sink);
	assert_int_equal(imap_parser_feed(p, in.p, in.len, &used, &r),
			 IMAP_PARSE_DONE);
	assert_int_equal(used, in.len);
	assert_int_equal(s.got.len, 100000);
	assert_int_equal(r->args[2].list_count, 14);
	imap_parser_destroy(&p);
	buf_release(&s.got);
	buf_release(&out);
	buf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splits_agree),
		cmocka_unit_test(test_literal_streamed),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_lf_after_atom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
