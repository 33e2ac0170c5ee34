/* parse.h - incremental IMAP response parser (RFC 9051 / 3501 syntax).
 *
 * The parser is fed bytes as they arrive, split anywhere; it returns
 * IMAP_PARSE_NEED_MORE without losing its place, IMAP_PARSE_DONE when a
 * whole response is parsed, or IMAP_PARSE_ERROR with a one-line reason.
 * No I/O policy here: the caller owns the socket.
 *
 * Limits: a line (the bytes outside literals) may be at most max_line
 * bytes, lists nest at most max_depth deep, a literal's size must fit in
 * 63 bits and at most max_literal.  Literals up to inline_literal_max
 * bytes are kept in the response; larger ones are handed to the literal
 * sink in chunks as they arrive, so a 35 MB BODY[] never sits in memory.
 * The line and the kept literals together may be at most max_response
 * bytes, so one response cannot hold more than that however many small
 * literals it has (streamed literals do not count: they are not held).
 *
 * The parse tree lives in an arena owned by the parser and is valid until
 * the next imap_parser_feed() after DONE (or imap_parser_reset()). */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum imap_parse_result {
	IMAP_PARSE_ERROR = -1,
	IMAP_PARSE_DONE = 0,
	IMAP_PARSE_NEED_MORE = -2,
};

enum imap_arg_type {
	IMAP_ARG_ATOM,	  /* includes numbers, \Flags, BODY[...]<n> */
	IMAP_ARG_STRING,  /* quoted string, unescaped */
	IMAP_ARG_LITERAL, /* literal kept in memory (str holds the bytes) */
	IMAP_ARG_LITERAL_STREAMED, /* literal sent to the sink; size only */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	int literal8;	       /* ~{n} */
	struct slice str;      /* ATOM, STRING, LITERAL (NUL-terminated) */
	uint64_t literal_size; /* LITERAL, LITERAL_STREAMED */
	struct imap_arg *list; /* LIST: list_count children */
	size_t list_count;
};

enum imap_resp_kind {
	IMAP_RESP_UNTAGGED,	/* "* ..." */
	IMAP_RESP_TAGGED,	/* "A12 OK ..." */
	IMAP_RESP_CONTINUATION, /* "+ ..." */
};

enum imap_status {
	IMAP_STATUS_NONE, /* not a status response (e.g. * 3 FETCH) */
	IMAP_STATUS_OK,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
	IMAP_STATUS_BYE,
	IMAP_STATUS_PREAUTH,
};

struct imap_resp {
	enum imap_resp_kind kind;
	struct slice tag;	 /* TAGGED only */
	enum imap_status status; /* OK/NO/BAD/BYE/PREAUTH, else NONE */
	/* Status responses and continuations: the optional [CODE args]
	 * and the human text after it. */
	struct slice code;	/* e.g. "UIDVALIDITY", empty if none */
	struct slice code_args; /* raw text after the code name, up to ']' */
	struct slice text;
	/* Other untagged responses: every token after "*", e.g.
	 * "* 3 FETCH (...)" gives args {ATOM "3", ATOM "FETCH", LIST}. */
	struct imap_arg *args;
	size_t arg_count;
};

/* Where big literals go.  begin() is called when a literal larger than
 * inline_literal_max starts; the parser passes the response parsed so
 * far (args of the untagged response up to here, e.g. "3" "FETCH" and the
 * partial list) and the atom just before the literal in its list (e.g.
 * "BINARY[]"), or an empty slice.  Then data() gets every byte in order,
 * in chunks, and end() once.  Any callback returning <0 aborts parsing
 * with IMAP_PARSE_ERROR (the caller's reason is kept in its own context).
 * Without a sink, a literal over inline_literal_max is an error. */
struct imap_literal_sink {
	int (*begin)(void *ctx, const struct imap_resp *partial,
		     struct slice key, uint64_t size, int literal8);
	int (*data)(void *ctx, const char *p, size_t len);
	int (*end)(void *ctx);
	void *ctx;
};

struct imap_parser_limits {
	size_t max_line;	   /* default 1 MiB */
	unsigned max_depth;	   /* default 64 */
	uint64_t max_literal;	   /* default 2 GiB */
	size_t inline_literal_max; /* default 32 KiB */
	size_t max_response;	   /* line + kept literals, default 2 MiB */
};

struct imap_parser;

/* limits may be NULL for defaults. */
struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits);
void imap_parser_destroy(struct imap_parser **pp);
void imap_parser_set_sink(struct imap_parser *p,
			  const struct imap_literal_sink *sink);
/* Forget any partial response (after a reconnect). */
void imap_parser_reset(struct imap_parser *p);

/* Feed up to len bytes.  *consumed_r says how many were used (the caller
 * drops them from its buffer).  On DONE, *resp_r points at the response;
 * bytes after it are not consumed, feed them again.  On NEED_MORE every
 * byte given was consumed or kept; feed more when it arrives.  On ERROR,
 * imap_parser_error() says why; the parser must be reset before reuse. */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data,
					size_t len, size_t *consumed_r,
					const struct imap_resp **resp_r);
const char *imap_parser_error(const struct imap_parser *p);

/* Helpers for walking a parse tree. */
int imap_arg_is_atom(const struct imap_arg *a,
		     const char *word); /* case-insensitive */
/* ATOM, STRING or LITERAL as a C string (NULL for NIL/LIST/STREAMED). */
const char *imap_arg_str(const struct imap_arg *a);
int imap_arg_u64(const struct imap_arg *a, uint64_t *val_r);

#endif
