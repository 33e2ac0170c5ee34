/* maildir_names.c - the pure parts of the Maildir++ writer
 * (maildir_names.h): the tag in a file name, its size and info, and the
 * dovecot-keywords file. */
#include "store/maildir_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void maildir_tag_component(const char *tag, struct buf *out)
{
	const char *p;

	for (p = tag; *p; p++)
		buf_addch(out,
			  (*p == '.' || *p == '/' || *p == ':' || *p == ',')
				  ? '_'
				  : *p);
}

int maildir_name_tag(const char *name, const char **tag_r, size_t *len_r)
{
	const char *t = strchr(name, 'T'), *e;
	/* the tag sits between "Q<n>T" and ".host" */
	const char *q = strstr(name, "Q");

	if (q == NULL || t == NULL || t < q)
		return -1;
	e = strchr(t, '.');
	if (e == NULL)
		return -1;
	*tag_r = t + 1;
	*len_r = (size_t)(e - t - 1);
	return 0;
}

int maildir_name_has_size(const char *name, unsigned long long size)
{
	char want[40];
	const char *sz;

	snprintf(want, sizeof(want), ",S=%llu", size);
	sz = strstr(name, want);
	return sz != NULL &&
	       (sz[strlen(want)] == ':' || sz[strlen(want)] == ',' ||
		sz[strlen(want)] == '\0');
}

size_t maildir_name_base_len(const char *name)
{
	const char *colon = strstr(name, ":2,");

	return colon ? (size_t)(colon - name) : strlen(name);
}

void maildir_keywords_read(FILE *f, char *kw[26], size_t *n_kw)
{
	char *line = NULL;
	size_t cap = 0;

	/* whole lines: a fixed buffer would cut a long keyword and read its
	 * tail as a line of its own */
	while (getline(&line, &cap, f) != -1) {
		char *sp = strchr(line, ' ');
		long idx = strtol(line, NULL, 10);
		if (sp == NULL || idx < 0 || idx >= 26)
			continue;
		sp[strcspn(sp, "\n")] = '\0';
		while ((size_t)idx >= *n_kw)
			kw[(*n_kw)++] = xstrdup("");
		free(kw[idx]);
		kw[idx] = xstrdup(sp + 1);
	}
	free(line);
}
