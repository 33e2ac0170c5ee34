/* parse.c - incremental IMAP response parser; see parse.h.
 *
 * A byte-driven state machine: every state can stop at the end of the
 * input and continue with the next feed, so input split anywhere parses
 * the same.  The tree is built in frames, one per open list; open lists
 * are linked into their parents at all times (refresh_chain), so a
 * literal sink sees the response parsed so far, UID included. */
#include "imap/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

enum pstate {
	S_TAG,	/* reading the tag, "*" or "+" */
	S_WORD, /* first word after the tag */
	S_TEXT, /* resp-text up to CRLF */
	S_ARGS, /* between arguments */
	S_ATOM,
	S_QUOTED,
	S_QUOTED_ESC,
	S_LIT_SIZE, /* inside {...} */
	S_LIT_CR,   /* after '}', expecting CRLF */
	S_LIT_DATA,
	S_EOL_LF, /* saw CR at end of line, expecting LF */
	S_DONE,
	S_ERROR,
};

struct frame {
	struct imap_arg *items;
	size_t n, cap;
	size_t owner; /* index in the parent frame */
};

struct imap_parser {
	struct imap_parser_limits lim;
	struct imap_literal_sink sink;
	int have_sink;
	enum pstate state;
	struct imap_resp resp;
	struct buf tok; /* current token / text */
	struct buf tag;
	size_t line_len;
	uint64_t kept_len; /* bytes of the literals kept in this response */
	int atom_brackets; /* depth of [...] inside an atom */
	/* literal */
	uint64_t lit_size, lit_left;
	int lit8, lit_streamed, lit_digits;
	/* tree */
	struct frame *frames;
	unsigned depth, frames_cap;
	/* everything to free at reset */
	void **pool;
	size_t pool_n, pool_cap;
	char errmsg[160];
};

static void pool_add(struct imap_parser *p, void *ptr)
{
	if (p->pool_n == p->pool_cap) {
		p->pool_cap = p->pool_cap ? p->pool_cap * 2 : 32;
		p->pool = xrealloc(p->pool, p->pool_cap * sizeof(void *));
	}
	p->pool[p->pool_n++] = ptr;
}

static void pool_clear(struct imap_parser *p)
{
	size_t i;

	for (i = 0; i < p->pool_n; i++)
		free(p->pool[i]);
	p->pool_n = 0;
}

static void clear_response(struct imap_parser *p)
{
	unsigned i;

	pool_clear(p);
	for (i = 0; i < p->frames_cap; i++) {
		free(p->frames[i].items);
		memset(&p->frames[i], 0, sizeof(p->frames[i]));
	}
	p->depth = 0;
	memset(&p->resp, 0, sizeof(p->resp));
	buf_reset(&p->tok);
	buf_reset(&p->tag);
	p->line_len = 0;
	p->kept_len = 0;
	p->atom_brackets = 0;
	p->state = S_TAG;
}

struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->lim.max_line = 1024 * 1024;
	p->lim.max_depth = 64;
	p->lim.max_literal = 2ull << 30;
	p->lim.inline_literal_max = 32 * 1024;
	p->lim.max_response = 2 * 1024 * 1024;
	if (limits != NULL) {
		if (limits->max_line)
			p->lim.max_line = limits->max_line;
		if (limits->max_depth)
			p->lim.max_depth = limits->max_depth;
		if (limits->max_literal)
			p->lim.max_literal = limits->max_literal;
		p->lim.inline_literal_max = limits->inline_literal_max;
		if (limits->max_response)
			p->lim.max_response = limits->max_response;
	}
	buf_init(&p->tok, p->lim.max_line + 1);
	buf_init(&p->tag, 64);
	p->frames_cap = p->lim.max_depth + 1;
	p->frames = xcalloc(p->frames_cap, sizeof(*p->frames));
	p->state = S_TAG;
	return p;
}

void imap_parser_destroy(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	unsigned i;

	if (p == NULL)
		return;
	*pp = NULL;
	pool_clear(p);
	free(p->pool);
	for (i = 0; i < p->frames_cap; i++)
		free(p->frames[i].items);
	free(p->frames);
	buf_release(&p->tok);
	buf_release(&p->tag);
	free(p);
}

void imap_parser_set_sink(struct imap_parser *p,
			  const struct imap_literal_sink *sink)
{
	if (sink == NULL) {
		p->have_sink = 0;
		memset(&p->sink, 0, sizeof(p->sink));
	} else {
		p->have_sink = 1;
		p->sink = *sink;
	}
}

void imap_parser_reset(struct imap_parser *p)
{
	clear_response(p);
	p->errmsg[0] = '\0';
}

const char *imap_parser_error(const struct imap_parser *p)
{
	return p->errmsg[0] ? p->errmsg : "no error";
}

static enum imap_parse_result fail(struct imap_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static enum imap_parse_result fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
	va_end(ap);
	p->state = S_ERROR;
	return IMAP_PARSE_ERROR;
}

/* Point every open list's parent entry at its current items. */
static void refresh_chain(struct imap_parser *p)
{
	unsigned d;

	for (d = 1; d <= p->depth; d++) {
		struct imap_arg *owner =
			&p->frames[d - 1].items[p->frames[d].owner];
		owner->list = p->frames[d].items;
		owner->list_count = p->frames[d].n;
	}
	p->resp.args = p->frames[0].items;
	p->resp.arg_count = p->frames[0].n;
}

static struct imap_arg *push_arg(struct imap_parser *p, enum imap_arg_type t)
{
	struct frame *f = &p->frames[p->depth];
	struct imap_arg *a;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->items = xrealloc(f->items, f->cap * sizeof(*f->items));
		if (p->depth > 0)
			refresh_chain(p);
	}
	a = &f->items[f->n++];
	memset(a, 0, sizeof(*a));
	a->type = t;
	return a;
}

/* A NUL-terminated copy of the token, owned by the pool. */
static struct slice keep_token(struct imap_parser *p)
{
	char *s = xmalloc(p->tok.len + 1);

	memcpy(s, p->tok.p, p->tok.len);
	s[p->tok.len] = '\0';
	pool_add(p, s);
	return slice_of(s, p->tok.len);
}

static int tok_add(struct imap_parser *p, char c)
{
	return buf_addch(&p->tok, c);
}

static void finish_atom(struct imap_parser *p)
{
	struct imap_arg *a;

	if (p->tok.len == 3 && strncasecmp(p->tok.p, "NIL", 3) == 0) {
		push_arg(p, IMAP_ARG_NIL);
	} else {
		struct slice s = keep_token(p);
		a = push_arg(p, IMAP_ARG_ATOM);
		a->str = s;
	}
	buf_reset(&p->tok);
}

static enum imap_status status_of(const char *w, size_t n)
{
	static const struct {
		const char *w;
		enum imap_status s;
	} t[] = {{"OK", IMAP_STATUS_OK},
		 {"NO", IMAP_STATUS_NO},
		 {"BAD", IMAP_STATUS_BAD},
		 {"BYE", IMAP_STATUS_BYE},
		 {"PREAUTH", IMAP_STATUS_PREAUTH}};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strlen(t[i].w) == n && strncasecmp(w, t[i].w, n) == 0)
			return t[i].s;
	return IMAP_STATUS_NONE;
}

/* resp-text: "[CODE args] text" or "text". */
static void finish_text(struct imap_parser *p)
{
	struct slice all = keep_token(p);
	const char *s = all.p, *end = all.p + all.len;

	while (s < end && *s == ' ')
		s++;
	p->resp.code = slice_of(s, 0);
	p->resp.code_args = slice_of(s, 0);
	if (s < end && *s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));
		if (close != NULL) {
			const char *c = s + 1, *sp;
			sp = memchr(c, ' ', (size_t)(close - c));
			if (sp != NULL) {
				p->resp.code = slice_of(c, (size_t)(sp - c));
				p->resp.code_args = slice_of(
					sp + 1, (size_t)(close - sp - 1));
			} else {
				p->resp.code = slice_of(c, (size_t)(close - c));
				p->resp.code_args = slice_of(close, 0);
			}
			s = close + 1;
			while (s < end && *s == ' ')
				s++;
		}
	}
	while (end > s && (end[-1] == ' ' || end[-1] == '\r'))
		end--;
	p->resp.text = slice_of(s, (size_t)(end - s));
	buf_reset(&p->tok);
}

static enum imap_parse_result line_done(struct imap_parser *p)
{
	if (p->state == S_TEXT) {
		finish_text(p);
	} else if (p->depth > 0) {
		return fail(p,
			    "unbalanced parentheses: %u list(s) not closed "
			    "at end of line",
			    p->depth);
	}
	refresh_chain(p);
	p->state = S_DONE;
	return IMAP_PARSE_DONE;
}

static enum imap_parse_result response_too_big(struct imap_parser *p)
{
	return fail(p, "server response over %zu bytes", p->lim.max_response);
}

static enum imap_parse_result literal_start(struct imap_parser *p)
{
	struct slice key = slice_of("", 0);
	struct frame *f = &p->frames[p->depth];

	if (p->lit_size > p->lim.max_literal)
		return fail(p,
			    "literal of %llu bytes is over the %llu-byte "
			    "limit",
			    (unsigned long long)p->lit_size,
			    (unsigned long long)p->lim.max_literal);
	p->lit_left = p->lit_size;
	buf_reset(&p->tok);
	if (p->lit_size <= p->lim.inline_literal_max) {
		p->lit_streamed = 0;
		/* Checked before the bytes arrive: nothing is held past
		 * the limit.  lit_size <= inline_literal_max, no overflow. */
		if (p->line_len + p->kept_len + p->lit_size >
		    p->lim.max_response)
			return response_too_big(p);
		p->kept_len += p->lit_size;
		if (buf_grow(&p->tok, (size_t)p->lit_size) < 0)
			return fail(p, "literal too large for memory");
		return IMAP_PARSE_NEED_MORE;
	}
	if (!p->have_sink)
		return fail(p, "literal of %llu bytes and no place to put it",
			    (unsigned long long)p->lit_size);
	p->lit_streamed = 1;
	if (f->n > 0 && f->items[f->n - 1].type == IMAP_ARG_ATOM)
		key = f->items[f->n - 1].str;
	refresh_chain(p);
	if (p->sink.begin(p->sink.ctx, &p->resp, key, p->lit_size, p->lit8) < 0)
		return fail(p, "literal refused by its sink");
	return IMAP_PARSE_NEED_MORE;
}

static enum imap_parse_result literal_end(struct imap_parser *p)
{
	struct imap_arg *a;

	if (p->lit_streamed) {
		a = push_arg(p, IMAP_ARG_LITERAL_STREAMED);
		if (p->sink.end(p->sink.ctx) < 0)
			return fail(p, "literal refused by its sink");
	} else {
		struct slice s = keep_token(p);
		a = push_arg(p, IMAP_ARG_LITERAL);
		a->str = s;
		buf_reset(&p->tok);
	}
	a->literal_size = p->lit_size;
	a->literal8 = p->lit8;
	p->state = S_ARGS;
	return IMAP_PARSE_NEED_MORE;
}

/* Consume bytes of a literal's data straight from the input. */
static enum imap_parse_result
literal_data(struct imap_parser *p, const char *data, size_t len, size_t *used)
{
	size_t n = len < p->lit_left ? len : (size_t)p->lit_left;

	if (n > 0) {
		if (p->lit_streamed) {
			if (p->sink.data(p->sink.ctx, data, n) < 0)
				return fail(p, "literal refused by its sink");
		} else {
			buf_add(&p->tok, data, n);
		}
		p->lit_left -= n;
		*used += n;
	}
	if (p->lit_left == 0)
		return literal_end(p);
	return IMAP_PARSE_NEED_MORE;
}

static int is_atom_end(char c)
{
	return c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n' ||
	       c == '{' || c == '"';
}

/* The reader of the state (below).  A reader whose token ends at c
 * (an atom at ' ', the word at '(') sets the next state and hands c on
 * to it with dispatch(): the byte is counted against the limits once. */
static enum imap_parse_result dispatch(struct imap_parser *p, char c);

/* S_TAG: the tag, "*" or "+", up to the first space. */
static enum imap_parse_result read_tag(struct imap_parser *p, char c)
{
	if (c == ' ' || c == '\r' || c == '\n') {
		if (p->tag.len == 0)
			return fail(p, "response without a tag");
		if (p->tag.len == 1 && p->tag.p[0] == '*') {
			p->resp.kind = IMAP_RESP_UNTAGGED;
		} else if (p->tag.len == 1 && p->tag.p[0] == '+') {
			/* "+", "+\r\n" or "+ text": a CR is dropped in
			 * S_TEXT, so only a bare LF ends the line here */
			p->resp.kind = IMAP_RESP_CONTINUATION;
			p->state = S_TEXT;
			return c == '\n' ? line_done(p) : IMAP_PARSE_NEED_MORE;
		} else {
			struct slice s;
			buf_reset(&p->tok);
			buf_add(&p->tok, p->tag.p, p->tag.len);
			s = keep_token(p);
			buf_reset(&p->tok);
			p->resp.kind = IMAP_RESP_TAGGED;
			p->resp.tag = s;
		}
		if (c != ' ')
			return fail(p, "response ends after its tag");
		p->state = S_WORD;
		return IMAP_PARSE_NEED_MORE;
	}
	if ((unsigned char)c < 0x21 || c == '(' || c == ')' || c == '{' ||
	    c == '"' || c == '%' || c == '\\')
		return fail(p, "invalid character 0x%02x in a tag",
			    (unsigned char)c);
	if (buf_addch(&p->tag, c) < 0)
		return fail(p, "tag too long");
	return IMAP_PARSE_NEED_MORE;
}

/* The first word after the tag ended (c is a space, CR or LF): a status
 * response goes on with its text, anything else with its arguments. */
static enum imap_parse_result word_done(struct imap_parser *p, char c)
{
	enum imap_status st = status_of(p->tok.p, p->tok.len);

	if (st != IMAP_STATUS_NONE) {
		p->resp.status = st;
		buf_reset(&p->tok);
		p->state = S_TEXT;
		return c == '\n' ? line_done(p) : IMAP_PARSE_NEED_MORE;
	}
	if (p->resp.kind == IMAP_RESP_TAGGED)
		return fail(p, "tagged response is not OK, NO or BAD");
	finish_atom(p);
	p->state = S_ARGS;
	if (c == '\r') {
		p->state = S_EOL_LF;
		return IMAP_PARSE_NEED_MORE;
	}
	if (c == '\n')
		return line_done(p);
	return IMAP_PARSE_NEED_MORE;
}

/* S_WORD: the first word after the tag ("OK", "3", "CAPABILITY"). */
static enum imap_parse_result read_word(struct imap_parser *p, char c)
{
	if (c == ' ' || c == '\r' || c == '\n') {
		if (p->tok.len == 0 && c == ' ')
			return IMAP_PARSE_NEED_MORE; /* extra space */
		return word_done(p, c);
	}
	if (p->tok.len == 0 && p->resp.kind == IMAP_RESP_UNTAGGED &&
	    (c == '(' || c == '"' || c == '{' || c == ')')) {
		/* "* (...)": no word, the arguments start at once */
		p->state = S_ARGS;
		return dispatch(p, c);
	}
	if (tok_add(p, c) < 0)
		return fail(p, "word too long");
	return IMAP_PARSE_NEED_MORE;
}

/* S_TEXT: a status response's or continuation's text, up to LF. */
static enum imap_parse_result read_text(struct imap_parser *p, char c)
{
	if (c == '\n')
		return line_done(p);
	if (c == '\r')
		return IMAP_PARSE_NEED_MORE; /* dropped; LF ends */
	if (tok_add(p, c) < 0)
		return fail(p, "response text too long");
	return IMAP_PARSE_NEED_MORE;
}

/* S_EOL_LF: after a CR that ended the arguments. */
static enum imap_parse_result read_eol_lf(struct imap_parser *p, char c)
{
	if (c == '\n')
		return line_done(p);
	return fail(p, "CR not followed by LF");
}

/* '(' in S_ARGS: a new list, its items go into a new frame. */
static enum imap_parse_result list_open(struct imap_parser *p)
{
	if (p->depth + 1 > p->lim.max_depth)
		return fail(p, "lists nested deeper than %u", p->lim.max_depth);
	push_arg(p, IMAP_ARG_LIST);
	p->depth++;
	p->frames[p->depth].n = 0;
	p->frames[p->depth].owner = p->frames[p->depth - 1].n - 1;
	refresh_chain(p);
	return IMAP_PARSE_NEED_MORE;
}

/* ')' in S_ARGS: the innermost list is complete. */
static enum imap_parse_result list_close(struct imap_parser *p)
{
	if (p->depth == 0)
		return fail(p, "')' without '('");
	refresh_chain(p);
	/* The items array now belongs to the tree. */
	pool_add(p, p->frames[p->depth].items);
	p->frames[p->depth].items = NULL;
	p->frames[p->depth].n = 0;
	p->frames[p->depth].cap = 0;
	p->depth--;
	return IMAP_PARSE_NEED_MORE;
}

/* S_ARGS: between arguments; c starts the next one (Dovecot's
 * imap_parser_read_arg()). */
static enum imap_parse_result read_args(struct imap_parser *p, char c)
{
	switch (c) {
	case ' ': return IMAP_PARSE_NEED_MORE;
	case '\r': p->state = S_EOL_LF; return IMAP_PARSE_NEED_MORE;
	case '\n': return line_done(p);
	case '(': return list_open(p);
	case ')': return list_close(p);
	case '"':
		buf_reset(&p->tok);
		p->state = S_QUOTED;
		return IMAP_PARSE_NEED_MORE;
	case '~':
		p->lit8 = 1;
		p->lit_digits = -1; /* expecting '{' */
		p->lit_size = 0;
		p->state = S_LIT_SIZE;
		return IMAP_PARSE_NEED_MORE;
	case '{':
		p->lit8 = 0;
		p->lit_digits = 0;
		p->lit_size = 0;
		p->state = S_LIT_SIZE;
		return IMAP_PARSE_NEED_MORE;
	default:
		buf_reset(&p->tok);
		p->atom_brackets = 0;
		p->state = S_ATOM;
		return dispatch(p, c);
	}
}

/* S_ATOM: an atom, NIL or number; "[...]" inside it may hold anything
 * but a line end (BODY[HEADER.FIELDS (A B)]<0> is one atom). */
static enum imap_parse_result read_atom(struct imap_parser *p, char c)
{
	if (p->atom_brackets > 0) {
		if (c == '\r' || c == '\n')
			return fail(p, "unterminated '[' in an atom");
		if (c == '[')
			p->atom_brackets++;
		else if (c == ']')
			p->atom_brackets--;
		if (tok_add(p, c) < 0)
			return fail(p, "atom too long");
		return IMAP_PARSE_NEED_MORE;
	}
	if (is_atom_end(c)) {
		finish_atom(p);
		p->state = S_ARGS;
		return dispatch(p, c);
	}
	if ((unsigned char)c < 0x20 || (unsigned char)c == 0x7f)
		return fail(p, "control character 0x%02x in an atom",
			    (unsigned char)c);
	if (c == '[')
		p->atom_brackets++;
	if (tok_add(p, c) < 0)
		return fail(p, "atom too long");
	return IMAP_PARSE_NEED_MORE;
}

/* S_QUOTED: a quoted string, unescaped as it is read. */
static enum imap_parse_result read_quoted(struct imap_parser *p, char c)
{
	if (c == '\\') {
		p->state = S_QUOTED_ESC;
		return IMAP_PARSE_NEED_MORE;
	}
	if (c == '"') {
		struct slice s = keep_token(p);
		struct imap_arg *a = push_arg(p, IMAP_ARG_STRING);
		a->str = s;
		buf_reset(&p->tok);
		p->state = S_ARGS;
		return IMAP_PARSE_NEED_MORE;
	}
	if (c == '\r' || c == '\n')
		return fail(p, "line ends inside a quoted string");
	if (tok_add(p, c) < 0)
		return fail(p, "quoted string too long");
	return IMAP_PARSE_NEED_MORE;
}

/* S_QUOTED_ESC: the byte after a backslash in a quoted string. */
static enum imap_parse_result read_quoted_esc(struct imap_parser *p, char c)
{
	if (c == '\r' || c == '\n')
		return fail(p, "line ends inside a quoted string");
	p->state = S_QUOTED;
	if (tok_add(p, c) < 0)
		return fail(p, "quoted string too long");
	return IMAP_PARSE_NEED_MORE;
}

/* S_LIT_SIZE: "{123}" or "{123+}", after "~" for a literal8. */
static enum imap_parse_result read_literal_size(struct imap_parser *p, char c)
{
	if (p->lit_digits < 0) {
		if (c != '{')
			return fail(p, "'~' not followed by '{'");
		p->lit_digits = 0;
		return IMAP_PARSE_NEED_MORE;
	}
	if (c >= '0' && c <= '9') {
		unsigned d = (unsigned)(c - '0');
		if (p->lit_size > (UINT64_C(0x7fffffffffffffff) - d) / 10)
			return fail(p, "literal size too large");
		p->lit_size = p->lit_size * 10 + d;
		p->lit_digits++;
		return IMAP_PARSE_NEED_MORE;
	}
	if (c == '+' && p->lit_digits > 0)
		return IMAP_PARSE_NEED_MORE;
	if (c == '}' && p->lit_digits > 0) {
		p->state = S_LIT_CR;
		return IMAP_PARSE_NEED_MORE;
	}
	return fail(p, "invalid literal size");
}

/* S_LIT_CR: the CRLF after "}"; then the literal's bytes follow. */
static enum imap_parse_result read_literal_crlf(struct imap_parser *p, char c)
{
	if (c == '\r')
		return IMAP_PARSE_NEED_MORE;
	if (c == '\n') {
		p->state = S_LIT_DATA;
		if (literal_start(p) == IMAP_PARSE_ERROR)
			return IMAP_PARSE_ERROR;
		if (p->lit_size == 0)
			return literal_end(p);
		return IMAP_PARSE_NEED_MORE;
	}
	return fail(p, "literal size not followed by CRLF");
}

/* The reader of the parser's state. */
static enum imap_parse_result dispatch(struct imap_parser *p, char c)
{
	switch (p->state) {
	case S_TAG: return read_tag(p, c);
	case S_WORD: return read_word(p, c);
	case S_TEXT: return read_text(p, c);
	case S_EOL_LF: return read_eol_lf(p, c);
	case S_ARGS: return read_args(p, c);
	case S_ATOM: return read_atom(p, c);
	case S_QUOTED: return read_quoted(p, c);
	case S_QUOTED_ESC: return read_quoted_esc(p, c);
	case S_LIT_SIZE: return read_literal_size(p, c);
	case S_LIT_CR: return read_literal_crlf(p, c);
	case S_LIT_DATA: /* imap_parser_feed() calls literal_data() */
	case S_DONE:
	case S_ERROR: break;
	}
	return fail(p, "internal parser state error");
}

/* One byte outside a literal's data: the line limits, then the state's
 * reader. */
static enum imap_parse_result step(struct imap_parser *p, char c)
{
	if (c == '\0')
		return fail(p, "NUL byte in a response line");
	if (++p->line_len > p->lim.max_line)
		return fail(p, "response line longer than %zu bytes",
			    p->lim.max_line);
	if (p->line_len + p->kept_len > p->lim.max_response)
		return response_too_big(p);
	return dispatch(p, c);
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data,
					size_t len, size_t *consumed_r,
					const struct imap_resp **resp_r)
{
	size_t i = 0;

	*consumed_r = 0;
	*resp_r = NULL;
	if (p->state == S_ERROR)
		return IMAP_PARSE_ERROR;
	if (p->state == S_DONE)
		clear_response(p);
	while (i < len) {
		enum imap_parse_result r;

		if (p->state == S_LIT_DATA) {
			size_t used = 0;
			r = literal_data(p, data + i, len - i, &used);
			i += used;
		} else {
			r = step(p, data[i]);
			i++;
		}
		if (r == IMAP_PARSE_ERROR) {
			*consumed_r = i;
			return r;
		}
		if (r == IMAP_PARSE_DONE) {
			*consumed_r = i;
			*resp_r = &p->resp;
			return r;
		}
	}
	*consumed_r = i;
	return IMAP_PARSE_NEED_MORE;
}

int imap_arg_is_atom(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && slice_ieq(a->str, word);
}

const char *imap_arg_str(const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_STRING:
	case IMAP_ARG_LITERAL: return a->str.p;
	default: return NULL;
	}
}

int imap_arg_u64(const struct imap_arg *a, uint64_t *val_r)
{
	unsigned long long v;

	if (a->type != IMAP_ARG_ATOM || slice_to_u64(a->str, &v) < 0)
		return -1;
	*val_r = v;
	return 0;
}
