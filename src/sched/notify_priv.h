/* notify_priv.h - what the files of the notification emails share
 * (sched/notify.c: what is due and the service; notify_report.c: the
 * report's text; notify_mail.c: recipients and the message).  Not for
 * other modules. */
#ifndef SCHED_NOTIFY_PRIV_H
#define SCHED_NOTIFY_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if it
 * is not one; *cp_r gets its code point. */
size_t notify_utf8_seq(const unsigned char *p, size_t left, uint32_t *cp_r);

/* Append s cleaned (invalid UTF-8 as '?', controls as ' '), cut to at most
 * max bytes with "..." when longer. */
void notify_add_clean(struct buf *out, const char *s, size_t max);

#endif
