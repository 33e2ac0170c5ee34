/* escape.h - text that came from a server or a file, made safe to print
 * on a terminal: a greeting, a folder name or a subject must not move the
 * cursor, retitle the window or clear the screen.
 *
 * Escaped as \xNN (one per byte): C0 controls (0x00-0x1f, tab and newline
 * included: output stays one line per item), DEL (0x7f), C1 controls
 * (U+0080..U+009F, in UTF-8 0xc2 0x80..0x9f) and every byte that is not
 * part of valid UTF-8 (overlong forms, surrogates, past U+10FFFF, cut
 * sequences).  Valid printable UTF-8 is kept as it is.  Escape where text
 * is printed, so stored data stays exact. */
#ifndef UTIL_ESCAPE_H
#define UTIL_ESCAPE_H

#include <stddef.h>

#include "util/buf.h"

/* Append s[0..len) to b, escaped.  -1 if b's maximum would be passed. */
int buf_add_escaped(struct buf *b, const char *s, size_t len);
/* The escaped form of the string s (NULL gives ""), for printf arguments:
 * in one of ESC_SLOTS buffers of this thread, reused round-robin, so up
 * to ESC_SLOTS results of one call can be used together.  Longer than
 * ESC_MAX - 1 bytes it is cut (at a character) and ends in "...". */
#define ESC_SLOTS 8
#define ESC_MAX	  4096
const char *esc(const char *s);
/* The same for len bytes at s. */
const char *esc_n(const char *s, size_t len);

#endif
