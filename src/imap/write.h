/* write.h - building IMAP commands: atoms, quoted strings and literals
 * chosen correctly for any value.
 *
 * A command is a byte buffer with "wait points": after a synchronizing
 * literal's "{n}\r\n" the client must wait for the server's "+" before
 * sending the rest.  With LITERAL+ (or LITERAL- for literals up to 4096
 * bytes) literals are sent as "{n+}" and there are no wait points, so the
 * command can be pipelined. */
#ifndef IMAP_WRITE_H
#define IMAP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum imap_literal_mode {
	IMAP_LITERAL_SYNC,  /* {n} then wait for "+" */
	IMAP_LITERAL_PLUS,  /* LITERAL+: {n+} always */
	IMAP_LITERAL_MINUS, /* LITERAL-: {n+} up to 4096 bytes, else {n} */
};

struct imap_cmdbuf {
	struct buf b;  /* the bytes, without tag and final CRLF */
	size_t *waits; /* offsets just after "{n}\r\n", as many as needed */
	unsigned n_waits, cap_waits;
	enum imap_literal_mode literal_mode;
	int utf8_ok;   /* UTF8=ACCEPT enabled: 8-bit in quoted */
	int sensitive; /* redact arguments in the protocol trace */
};

void imap_cmdbuf_init(struct imap_cmdbuf *cb, enum imap_literal_mode mode);
void imap_cmdbuf_release(struct imap_cmdbuf *cb);
/* Mark the end of the bytes so far as a wait point: what follows is sent
 * only after the server's "+" (AUTHENTICATE without SASL-IR). */
void imap_cmd_wait_point(struct imap_cmdbuf *cb);

/* Raw text, e.g. "UID FETCH 1:* (FLAGS)". */
void imap_cmd_raw(struct imap_cmdbuf *cb, const char *text);
void imap_cmd_rawf(struct imap_cmdbuf *cb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An astring: atom when every byte is an ASTRING-CHAR, else a quoted
 * string when it has no CR, LF, NUL or 8-bit byte (with \ and " escaped),
 * else a literal.  An empty value is "". */
void imap_cmd_astring(struct imap_cmdbuf *cb, const char *s, size_t len);
/* A string (never an atom): quoted or literal. */
void imap_cmd_string(struct imap_cmdbuf *cb, const char *s, size_t len);
/* A mailbox name given in UTF-8: "INBOX" case-insensitively becomes
 * INBOX; anything else is encoded to modified UTF-7 and written as an
 * astring.  Returns -1 if the name is not valid UTF-8. */
int imap_cmd_mailbox(struct imap_cmdbuf *cb, const char *utf8);
/* A literal header "{n}\r\n" / "{n+}\r\n" / "~{n}..." for data the caller
 * sends itself (APPEND bodies); literal8 for binary data. */
void imap_cmd_literal_header(struct imap_cmdbuf *cb, uint64_t n, int literal8);

/* Modified UTF-7 (RFC 3501 5.1.3).  Append the converted name to out; -1
 * on invalid input (bad UTF-8; a non-canonical or broken encoding). */
int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out);
int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out);

#endif
