/* imap_format.h - IMAP date-time values (RFC 3501 date-time, the
 * INTERNALDATE of FETCH and APPEND): "17-Jul-1996 02:44:25 -0700". */
#ifndef STORE_IMAP_FORMAT_H
#define STORE_IMAP_FORMAT_H

#include <stddef.h>
#include <time.h>

/* Parse s into UTC seconds and the zone in minutes east of UTC; -1 on
 * anything that is not a valid date-time. */
int imap_parse_internaldate(const char *s, time_t *t_r, int *tz_min_r);
/* Format t (UTC seconds) in the zone tz_min (minutes east). */
void imap_format_internaldate(time_t t, int tz_min, char *out, size_t size);

#endif
