#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

char buf_empty_[1];

void buf_init(struct buf *b, size_t max)
{
	b->p = buf_empty_;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->p);
	buf_init(b, b->max);
}

char *buf_detach(struct buf *b, size_t *len_r)
{
	char *p;

	if (len_r)
		*len_r = b->len;
	p = b->cap ? b->p : xstrdup("");
	buf_init(b, b->max);
	return p;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->p[0] = '\0';
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > (size_t)-1 - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (b->max && need - 1 > b->max)
		return -1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;
	if (b->cap) {
		b->p = xrealloc(b->p, cap);
	} else {
		b->p = xmalloc(cap);
		b->p[0] = '\0';
	}
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return ret;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}

void buf_setlen(struct buf *b, size_t len)
{
	if (len > b->len)
		abort();
	b->len = len;
	b->p[len] = '\0';
}

struct slice slice_cstr(const char *s)
{
	return slice_of(s, strlen(s));
}

int slice_eq(struct slice s, const char *cstr)
{
	return strlen(cstr) == s.len && memcmp(s.p, cstr, s.len) == 0;
}

int slice_ieq(struct slice s, const char *cstr)
{
	return strlen(cstr) == s.len && strncasecmp(s.p, cstr, s.len) == 0;
}

int slice_to_u64(struct slice s, unsigned long long *val_r)
{
	unsigned long long v = 0;
	size_t i;

	if (s.len == 0)
		return -1;
	for (i = 0; i < s.len; i++) {
		unsigned d;
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		d = (unsigned)(s.p[i] - '0');
		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*val_r = v;
	return 0;
}
