/* imap_names.c - the IMAP store's folder names: the server's namespaces
 * and hierarchy delimiter, names ours (UTF-8, '/' between levels) <-> the
 * server's (modified UTF-7, its delimiter, its personal prefix), and a
 * source user's root (UserRoot): only folders below it, the prefix
 * stripped, the root itself as INBOX. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/imap_priv.h"
#include "util/xalloc.h"

void ims_names_release(struct imap_names *nm)
{
	size_t i;

	free(nm->personal.prefix);
	for (i = 0; i < nm->n_others; i++)
		free(nm->others[i].prefix);
	free(nm->others);
	memset(nm, 0, sizeof(*nm));
}

/* "* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL" */
static void ns_collect(struct imap_names *nm, const struct imap_arg *a,
		       int personal)
{
	size_t i;

	if (a->type != IMAP_ARG_LIST)
		return;
	for (i = 0; i < a->list_count; i++) {
		const struct imap_arg *d = &a->list[i];
		const char *pfx, *del;
		if (d->type != IMAP_ARG_LIST || d->list_count < 2)
			continue;
		pfx = imap_arg_str(&d->list[0]);
		del = imap_arg_str(&d->list[1]);
		if (pfx == NULL)
			continue;
		if (personal && nm->personal.prefix == NULL) {
			nm->personal.prefix = xstrdup(pfx);
			nm->personal.delim = del ? del[0] : '/';
		} else if (!personal && pfx[0]) {
			nm->others = xrealloc(nm->others,
					      (nm->n_others + 1) *
						      sizeof(*nm->others));
			nm->others[nm->n_others].prefix = xstrdup(pfx);
			nm->others[nm->n_others].delim = del ? del[0] : '/';
			nm->n_others++;
		}
	}
}

static void ns_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_names *nm = ctx;

	if (r->status != IMAP_STATUS_NONE || r->arg_count < 4 ||
	    !imap_arg_is_atom(&r->args[0], "NAMESPACE"))
		return;
	ns_collect(nm, &r->args[1], 1);
	ns_collect(nm, &r->args[2], 0);
	ns_collect(nm, &r->args[3], 0);
}

static void delim_untagged(void *ctx, const struct imap_resp *r)
{
	struct imap_names *nm = ctx;
	const char *d;

	if (r->status != IMAP_STATUS_NONE || r->arg_count < 4 ||
	    !imap_arg_is_atom(&r->args[0], "LIST"))
		return;
	d = imap_arg_str(&r->args[2]);
	if (d != NULL && d[0])
		nm->delim = d[0];
}

int ims_names_load(struct imap_client *c, struct imap_names *nm,
		   struct err *err)
{
	int ret = 0;

	nm->delim = '/';
	if (imap_client_has_cap(c, "NAMESPACE"))
		ret = ims_simple(c, "NAMESPACE", ns_untagged, nm, err);
	if (ret == 0)
		ret = ims_simple(c, "LIST \"\" \"\"", delim_untagged, nm, err);
	if (nm->personal.prefix == NULL) {
		nm->personal.prefix = xstrdup("");
		nm->personal.delim = nm->delim;
	}
	return ret;
}

/* Convert a server's mailbox name (modified UTF-7, levels separated by
 * delim) into ours: UTF-8 with '/' between levels; a '/' inside a level
 * becomes U+2215 DIVISION SLASH, so it can never split the name. */
int ims_name_from_server(const char *raw, char delim, struct buf *out)
{
	struct buf utf8 = BUF_INIT;
	size_t i;
	int ret = 0;

	if (imap_mutf7_to_utf8(raw, strlen(raw), &utf8) < 0) {
		/* Not valid modified UTF-7: keep the bytes as they are. */
		buf_reset(&utf8);
		buf_addstr(&utf8, raw);
		ret = 1;
	}
	for (i = 0; i < utf8.len; i++) {
		char ch = utf8.p[i];
		if (delim && ch == delim)
			buf_addch(out, '/');
		else if (ch == '/')
			buf_addstr(out, "\xe2\x88\x95");
		else
			buf_addch(out, ch);
	}
	buf_release(&utf8);
	return ret;
}

/* Ours to the server's: '/' to delim (a level holding delim has it
 * replaced by '_' -- the planner normally prevents this), U+2215 back to
 * '/' when the server's delimiter is not '/'. */
void ims_name_to_server(const char *name, const char *prefix, char delim,
			struct buf *out)
{
	const char *p;

	if (strcasecmp(name, "INBOX") == 0) {
		buf_addstr(out, "INBOX");
		return;
	}
	buf_addstr(out, prefix);
	for (p = name; *p; p++) {
		if (*p == '/') {
			buf_addch(out, delim ? delim : '/');
		} else if (delim != '/' && strncmp(p, "\xe2\x88\x95", 3) == 0) {
			buf_addch(out, '/');
			p += 2;
		} else if (*p == delim) {
			buf_addch(out, '_');
		} else {
			buf_addch(out, *p);
		}
	}
}

/* LIST attributes: \Noselect and the RFC 6154 special uses. */
void ims_list_attrs(const struct imap_arg *attrs, struct store_folder *f)
{
	static const struct {
		const char *name;
		enum store_special sp;
	} uses[] = {{"\\Sent", STORE_SPECIAL_SENT},
		    {"\\Drafts", STORE_SPECIAL_DRAFTS},
		    {"\\Trash", STORE_SPECIAL_TRASH},
		    {"\\Junk", STORE_SPECIAL_JUNK},
		    {"\\Archive", STORE_SPECIAL_ARCHIVE}};
	size_t i, k;

	for (i = 0; i < attrs->list_count; i++) {
		const char *a = imap_arg_str(&attrs->list[i]);
		if (a == NULL)
			continue;
		if (strcasecmp(a, "\\Noselect") == 0 ||
		    strcasecmp(a, "\\NonExistent") == 0)
			f->noselect = 1;
		for (k = 0; k < sizeof(uses) / sizeof(uses[0]); k++)
			if (strcasecmp(a, uses[k].name) == 0)
				f->special = uses[k].sp;
	}
}

static int root_strip(struct imap_source *is, const char *name, char delim,
		      const char **rest_r)
{
	const char *p = name;
	size_t i;

	for (i = 0; i < is->root_n; i++) {
		size_t n = strlen(is->root[i]);
		if (strncmp(p, is->root[i], n) != 0)
			return 0;
		p += n;
		if (i + 1 < is->root_n) {
			if (*p != delim)
				return 0;
			p++;
		}
	}
	if (*p == '\0') {
		*rest_r = ""; /* the root itself: named after the listing */
		return 1;
	}
	if (*p != delim)
		return 0;
	*rest_r = p + 1;
	return 1;
}

/* The source's raw name to ours, relative to the user's root; 0 if the
 * folder is not this user's (another namespace, outside the root). */
int ims_source_rel_name(struct imap_source *is, const char *raw, char delim,
			struct buf *name)
{
	const char *rel = raw;
	size_t i;

	if (is->root_n > 0) {
		if (!root_strip(is, raw, delim, &rel))
			return 0;
		if (rel[0] == '\0')
			return 1; /* the root itself: the empty name for now */
	} else {
		size_t plen = strlen(is->nm.personal.prefix);
		for (i = 0; i < is->nm.n_others; i++) {
			const char *op = is->nm.others[i].prefix;
			size_t ol = strlen(op);
			/* "Other Users/" also matches "Other Users" */
			if (strncmp(raw, op, ol) == 0 ||
			    (ol > 0 && strlen(raw) == ol - 1 &&
			     strncmp(raw, op, ol - 1) == 0))
				return 0;
		}
		if (plen > 0 && strncmp(raw, is->nm.personal.prefix, plen) == 0)
			rel = raw + plen;
		else if (plen > 0 && strcasecmp(raw, "INBOX") != 0 &&
			 strncmp(raw, is->nm.personal.prefix, plen - 1) == 0 &&
			 raw[plen - 1] == '\0')
			return 0; /* "INBOX" as the namespace's parent */
	}
	if (rel[0] == '\0')
		return 0;
	if (strcasecmp(rel, "INBOX") == 0)
		buf_addstr(name, "INBOX");
	else
		ims_name_from_server(rel, delim, name);
	return 1;
}

/* The root folder itself was listed under the empty name.  It is the
 * user's INBOX (Courier's shared tree keeps the inbox there) unless the
 * root also has an INBOX child, as Dovecot's fs layout does; then the
 * root, if it can hold mail, keeps its own last level as a name so that
 * neither folder is lost. */
void ims_root_self_name(struct imap_source *is, struct store_folder_list *out)
{
	struct buf name = BUF_INIT;
	size_t i, k;

	for (i = 0; i < out->n && out->v[i].name[0] != '\0'; i++)
		;
	if (i == out->n)
		return;
	if (is->root_inbox == NULL) {
		buf_addstr(&name, "INBOX");
		out->v[i].special = STORE_SPECIAL_INBOX;
	} else if (out->v[i].noselect) {
		free(out->v[i].name);
		out->v[i] = out->v[--out->n];
		return;
	} else {
		ims_name_from_server(is->root[is->root_n - 1], '\0', &name);
		out->v[i].special = STORE_SPECIAL_NONE;
		/* a child of the same name: "terry.adams (root)" */
		for (k = 0; k < out->n; k++) {
			if (k != i && strcmp(out->v[k].name, name.p) == 0) {
				buf_addstr(&name, " (root)");
				k = (size_t)-1;
			}
		}
	}
	free(out->v[i].name);
	out->v[i].name = buf_detach(&name, NULL);
	buf_release(&name);
	is->root_self = xstrdup(out->v[i].name);
}

/* Our folder name back to the source's spelling. */
void ims_source_server_name(struct imap_source *is, const char *folder,
			    struct buf *out)
{
	char delim = is->nm.delim ? is->nm.delim : '/';
	size_t i;

	if (is->root_n > 0) {
		if (strcmp(folder, "INBOX") == 0 && is->root_inbox != NULL) {
			buf_addstr(out, is->root_inbox);
			return;
		}
		for (i = 0; i < is->root_n; i++) {
			if (i)
				buf_addch(out, delim);
			buf_addstr(out, is->root[i]);
		}
		if (is->root_self != NULL && strcmp(folder, is->root_self) == 0)
			return;
		if (is->root_self == NULL && strcmp(folder, "INBOX") == 0)
			return;
		buf_addch(out, delim);
		ims_name_to_server(folder, "", delim, out);
		return;
	}
	ims_name_to_server(folder, is->nm.personal.prefix, delim, out);
}

int ims_root_parse(struct imap_source *is, const char *user_root,
		   struct err *err)
{
	/* "/users/terry.adams": levels in '/' notation, each encoded to
	 * modified UTF-7 as the server spells it. */
	const char *p = user_root;

	while (*p) {
		const char *e;
		struct buf enc = BUF_INIT;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if (imap_utf8_to_mutf7(p, (size_t)(e - p), &enc) < 0) {
			buf_release(&enc);
			return err_set(err, ERR_USAGE, EC_NONE,
				       "UserRoot \"%s\" is not valid UTF-8",
				       user_root);
		}
		is->root =
			xrealloc(is->root, (is->root_n + 1) * sizeof(char *));
		is->root[is->root_n++] = buf_detach(&enc, NULL);
		p = e;
	}
	return 0;
}
