/* template.c - see template.h. */
#include "sched/template.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int safe_path_value(const char *v)
{
	return strcmp(v, "..") != 0 && strcmp(v, ".") != 0 &&
	       strchr(v, '/') == NULL && v[0] != '\0';
}

int template_expand(const char *tmpl, const char *email,
		    const struct template_var *extra, size_t n_extra, int path,
		    struct buf *out, struct err *err)
{
	const char *at = strrchr(email, '@');
	const char *p = tmpl;

	while (*p) {
		const char *close;
		char name[128];
		struct buf val = BUF_INIT;
		size_t n, i;

		if (p[0] == '{' && p[1] == '{') {
			buf_addch(out, '{');
			p += 2;
			continue;
		}
		if (p[0] == '}' && p[1] == '}') {
			buf_addch(out, '}');
			p += 2;
			continue;
		}
		if (*p == '}')
			return err_set(err, ERR_USAGE, EC_NONE,
				       "template \"%s\" has a '}' without "
				       "'{': write }} for a brace",
				       tmpl);
		if (*p != '{') {
			buf_addch(out, *p++);
			continue;
		}
		close = strchr(p, '}');
		if (close == NULL)
			return err_set(err, ERR_USAGE, EC_NONE,
				       "template \"%s\" has a '{' without '}'",
				       tmpl);
		n = (size_t)(close - p - 1);
		if (n == 0 || n >= sizeof(name))
			return err_set(err, ERR_USAGE, EC_NONE,
				       "template \"%s\" has an empty or too "
				       "long {name}",
				       tmpl);
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (strcasecmp(name, "email") == 0) {
			buf_addstr(&val, email);
		} else if (strcasecmp(name, "local") == 0) {
			buf_add(&val, email,
				at ? (size_t)(at - email) : strlen(email));
		} else if (strcasecmp(name, "domain") == 0) {
			const char *d;
			for (d = at ? at + 1 : ""; *d; d++)
				buf_addch(&val,
					  (char)tolower((unsigned char)*d));
		} else {
			for (i = 0; i < n_extra; i++)
				if (strcasecmp(extra[i].name, name) == 0)
					break;
			if (i == n_extra)
				return err_set(err, ERR_USAGE, EC_NONE,
					       "template \"%s\": unknown "
					       "{%s}: use {email}, {local}, "
					       "{domain} or a CSV column",
					       tmpl, name);
			buf_addstr(&val, extra[i].value ? extra[i].value : "");
		}
		if (path && !safe_path_value(val.p)) {
			err_set(err, ERR_USAGE, EC_NONE,
				"{%s} of %s is \"%s\", which cannot be part "
				"of a path: fix the address or the template",
				name, email, val.p);
			buf_release(&val);
			return -1;
		}
		buf_add(out, val.p, val.len);
		buf_release(&val);
		p = close + 1;
	}
	return 0;
}
