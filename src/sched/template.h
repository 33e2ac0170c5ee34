/* template.h - expanding per-user templates such as
 * '/srv/mail/{domain}/{local}/Maildir' or '{email}*migadmin'.
 *
 * Known names: {email}, {local} (the part before the last '@'), {domain}
 * (after it, lower-cased), and any CSV column as {ColumnName}
 * (case-insensitive).  "{{" and "}}" stand for literal braces. */
#ifndef SCHED_TEMPLATE_H
#define SCHED_TEMPLATE_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct template_var {
	const char *name;
	const char *value;
};

/* Expand tmpl into out.  ERR_USAGE naming the unknown {name} or an
 * unbalanced brace.  For path templates (path != 0) a value that would
 * climb out of its place ("..", a '/' or a NUL) is refused. */
int template_expand(const char *tmpl, const char *email,
		    const struct template_var *extra, size_t n_extra, int path,
		    struct buf *out, struct err *err);

#endif
