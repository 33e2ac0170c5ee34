/* buf.h - growable byte buffers with a hard maximum (git's strbuf
 * invariants plus curl's dynbuf cap).
 *
 * Invariants: p is never NULL and is always NUL-terminated at p[len]
 * (so a buf can be used as a C string when it holds text); len < cap
 * once allocated; an append that would make len exceed max fails with
 * -1 and leaves the buffer unchanged.  max == 0 means "no cap" (use only
 * for data the program itself produces, never for network input). */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *p;
	size_t len, cap, max;
};

/* A borrowed view into someone else's bytes. */
struct slice {
	const char *p;
	size_t len;
};

extern char buf_empty_[1];
#define BUF_INIT_MAX(m)                                                        \
	{                                                                      \
		buf_empty_, 0, 0, (m)                                          \
	}
#define BUF_INIT BUF_INIT_MAX(0)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Detach the storage: the caller owns the returned string (never NULL). */
char *buf_detach(struct buf *b, size_t *len_r);
void buf_reset(struct buf *b);
/* Make room for extra more bytes; -1 if that would pass max. */
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t n);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_setlen(struct buf *b, size_t len);

static inline struct slice slice_of(const char *p, size_t len)
{
	struct slice s = {p, len};
	return s;
}
struct slice slice_cstr(const char *s);
int slice_eq(struct slice s, const char *cstr);
int slice_ieq(struct slice s, const char *cstr);
/* Parse an unsigned decimal number that fills the whole slice; -1 on
 * overflow, empty input or a non-digit. */
int slice_to_u64(struct slice s, unsigned long long *val_r);

#endif
