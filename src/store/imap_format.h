/* imap_format.h - IMAP values the store reads and writes, pure (no I/O,
 * no session): the date-time of INTERNALDATE ("17-Jul-1996 02:44:25
 * -0700", RFC 3501), FLAGS lists, PERMANENTFLAGS, and the header fields
 * a report shows. */
#ifndef STORE_IMAP_FORMAT_H
#define STORE_IMAP_FORMAT_H

#include <stddef.h>
#include <time.h>

#include "imap/parse.h"
#include "store/store.h"
#include "util/buf.h"

/* Parse s into UTC seconds and the zone in minutes east of UTC; -1 on
 * anything that is not a valid date-time. */
int imap_parse_internaldate(const char *s, time_t *t_r, int *tz_min_r);
/* Format t (UTC seconds) in the zone tz_min (minutes east). */
void imap_format_internaldate(time_t t, int tz_min, char *out, size_t size);

/* A FETCH's FLAGS list into m->flags (enum store_msg_flags) and
 * m->keywords (space-separated, NULL if none; the old value is freed).
 * Other system flags (\Recent...) are left out. */
void imap_flags_parse(const struct imap_arg *list, struct store_msg *m);
/* The flags of m as a parenthesised list for APPEND or STORE, appended
 * to out.  A keyword that is not an atom cannot be sent and is left out.
 * keep: the keywords the target folder stores (PERMANENTFLAGS without
 * \*), NULL for any; the others are left out too, and named once each in
 * dropped_r (may be NULL) for a warning. */
void imap_flags_format(const struct store_msg *m, const char *keep,
		       struct buf *out, struct buf *dropped_r);
/* The resp-text-code args of PERMANENTFLAGS, "(\Seen $Label1 \*)": *any_r
 * is 1 if \* is there (any keyword can be made), *keywords_r (caller
 * frees; "" if none) the keywords listed, space-separated. */
void imap_permanentflags_parse(const char *p, size_t len, int *any_r,
			       char **keywords_r);
/* Subject, From and Date of a message header (h[0..len), as
 * BODY[HEADER.FIELDS (SUBJECT FROM DATE)] returns it): vals[0..2] get a
 * copy of the first value of each, blanks and CR trimmed; a value already
 * set, or a field not found, is left as it is.  A folded continuation
 * line is not joined. */
void imap_header_summary(const char *h, size_t len, char *vals[3]);

#endif
