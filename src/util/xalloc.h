/* xalloc.h - allocation that never returns NULL: out of memory aborts,
 * as in Dovecot, git and curl.  A migration that cannot allocate a few
 * kilobytes cannot go on safely; state is committed per item, so the next
 * run resumes exactly. */
#ifndef UTIL_XALLOC_H
#define UTIL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
