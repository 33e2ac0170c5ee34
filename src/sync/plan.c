/* plan.c - folder mapping and filters; see plan.h. */
#include "sync/plan.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

static const struct {
	const char *name;
	enum store_special sp;
} well_known[] = {
	{"#Inbox#", STORE_SPECIAL_INBOX},
	{"#SentItems#", STORE_SPECIAL_SENT},
	{"#DeletedItems#", STORE_SPECIAL_TRASH},
	{"#Drafts#", STORE_SPECIAL_DRAFTS},
	{"#JunkEmail#", STORE_SPECIAL_JUNK},
	{"#Archive#", STORE_SPECIAL_ARCHIVE},
};

static enum store_special well_known_of(const char *pat)
{
	size_t i;

	for (i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (strcasecmp(pat, well_known[i].name) == 0)
			return well_known[i].sp;
	return STORE_SPECIAL_NONE;
}

int sync_filter_parse(const char *spec, struct sync_filter *f, struct err *err)
{
	const char *p = spec;

	memset(f, 0, sizeof(*f));
	if (spec == NULL || spec[0] == '\0')
		return 0;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *pat;

		while (n > 0 && isspace((unsigned char)*p))
			p++, n--;
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		while (n > 0 && p[0] == '/')
			p++, n--;
		if (n == 0) {
			sync_filter_release(f);
			return err_set(err, ERR_USAGE, EC_NONE,
				       "folder list \"%s\" has an empty name: "
				       "separate names with single commas",
				       spec);
		}
		pat = xstrndup(p, n);
		if (pat[0] == '#' && pat[n - 1] == '#' && n > 1 &&
		    well_known_of(pat) == STORE_SPECIAL_NONE) {
			err_set(err, ERR_USAGE, EC_NONE,
				"unknown well-known folder %s: use #Inbox#, "
				"#SentItems#, #DeletedItems#, #Drafts#, "
				"#JunkEmail# or #Archive#",
				pat);
			free(pat);
			sync_filter_release(f);
			return -1;
		}
		f->pat = xrealloc(f->pat, (f->n + 1) * sizeof(char *));
		f->pat[f->n++] = pat;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

void sync_filter_release(struct sync_filter *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->pat[i]);
	free(f->pat);
	memset(f, 0, sizeof(*f));
}

int sync_filter_match(const struct sync_filter *f, const char *folder,
		      enum store_special special)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		const char *pat = f->pat[i];
		size_t n = strlen(pat);
		enum store_special sp = well_known_of(pat);

		if (sp != STORE_SPECIAL_NONE) {
			if (sp == special)
				return 1;
			continue;
		}
		if (n >= 2 && strcmp(pat + n - 2, "/*") == 0) {
			/* "Archive/" + "*": Archive and everything below */
			size_t base = n - 2;
			if (strncasecmp(folder, pat, base) == 0 &&
			    (folder[base] == '\0' || folder[base] == '/'))
				return 1;
			continue;
		}
		if (strcasecmp(folder, pat) == 0)
			return 1;
	}
	return 0;
}

static const char *target_special(const struct store_folder_list *dst,
				  enum store_special sp)
{
	size_t i;

	for (i = 0; dst != NULL && i < dst->n; i++)
		if (dst->v[i].special == sp && !dst->v[i].noselect)
			return dst->v[i].name;
	for (i = 0; dst != NULL && i < dst->n; i++)
		if (strchr(dst->v[i].name, '/') == NULL &&
		    store_special_from_name(dst->v[i].name) == sp)
			return dst->v[i].name;
	return store_special_name(sp);
}

/* src with the target's delimiter inside a level replaced, or NULL when
 * nothing changes. */
static char *map_name(const char *src, char delim)
{
	char *d, *p;

	if (delim == '/' || delim == '\0' || strchr(src, delim) == NULL)
		return NULL;
	d = xstrdup(src);
	for (p = d; *p; p++)
		if (*p == delim)
			*p = '_';
	return d;
}

void sync_plan_build(const struct store_folder_list *src,
		     const struct store_folder_list *dst, char target_delim,
		     const struct sync_filter *include,
		     const struct sync_filter *exclude, struct sync_plan *out)
{
	size_t i;

	out->v = xcalloc(src->n ? src->n : 1, sizeof(*out->v));
	out->n = 0;
	for (i = 0; i < src->n; i++) {
		const struct store_folder *f = &src->v[i];
		struct sync_plan_entry *e = &out->v[out->n++];
		int keep = 1;

		e->src = f->name;
		e->special = f->special;
		e->noselect = f->noselect;
		e->has_status = f->has_status;
		e->status = f->status;
		if (include != NULL && include->n > 0 &&
		    !sync_filter_match(include, f->name, f->special))
			keep = 0;
		if (exclude != NULL &&
		    sync_filter_match(exclude, f->name, f->special))
			keep = 0;
		if (!keep)
			continue;
		if (f->special == STORE_SPECIAL_INBOX)
			e->dst = xstrdup("INBOX");
		else if (f->special != STORE_SPECIAL_NONE)
			e->dst = xstrdup(target_special(dst, f->special));
		else
			e->dst = map_name(f->name, target_delim);
		e->dst_owned = e->dst != NULL;
		if (e->dst == NULL)
			e->dst = f->name;
	}
}

void sync_plan_release(struct sync_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->v[i].dst_owned)
			free(p->v[i].dst);
	free(p->v);
	memset(p, 0, sizeof(*p));
}
