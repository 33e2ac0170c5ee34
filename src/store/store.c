/* store.c - what every store shares. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "util/xalloc.h"

void store_loose_update(EVP_MD_CTX *md, const char *p, size_t len,
			uint64_t *kept)
{
	char out[4096];
	size_t n = 0, i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r' || c == '\n')
			continue;
		out[n++] = c >= 0x80 ? 'X' : (char)c;
		if (n == sizeof(out)) {
			EVP_DigestUpdate(md, out, n);
			*kept += n;
			n = 0;
		}
	}
	EVP_DigestUpdate(md, out, n);
	*kept += n;
}

void store_folder_list_free(struct store_folder_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void store_msg_list_free(struct store_msg_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].keywords);
		free(l->v[i].message_id);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static const struct {
	const char *name;
	enum store_special sp;
} well_known[] = {
	{"Sent", STORE_SPECIAL_SENT},
	{"Sent Items", STORE_SPECIAL_SENT},
	{"Sent Messages", STORE_SPECIAL_SENT},
	{"Sent Mail", STORE_SPECIAL_SENT},
	{"Drafts", STORE_SPECIAL_DRAFTS},
	{"Draft", STORE_SPECIAL_DRAFTS},
	{"Trash", STORE_SPECIAL_TRASH},
	{"Deleted Items", STORE_SPECIAL_TRASH},
	{"Deleted Messages", STORE_SPECIAL_TRASH},
	{"Junk", STORE_SPECIAL_JUNK},
	{"Junk E-mail", STORE_SPECIAL_JUNK},
	{"Junk Email", STORE_SPECIAL_JUNK},
	{"Spam", STORE_SPECIAL_JUNK},
	{"Archive", STORE_SPECIAL_ARCHIVE},
	{"Archives", STORE_SPECIAL_ARCHIVE},
};

enum store_special store_special_from_name(const char *leaf)
{
	size_t i;

	if (strcasecmp(leaf, "INBOX") == 0)
		return STORE_SPECIAL_INBOX;
	for (i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (strcasecmp(leaf, well_known[i].name) == 0)
			return well_known[i].sp;
	return STORE_SPECIAL_NONE;
}

const char *store_special_name(enum store_special sp)
{
	switch (sp) {
	case STORE_SPECIAL_NONE: return NULL;
	case STORE_SPECIAL_INBOX: return "INBOX";
	case STORE_SPECIAL_SENT: return "Sent";
	case STORE_SPECIAL_DRAFTS: return "Drafts";
	case STORE_SPECIAL_TRASH: return "Trash";
	case STORE_SPECIAL_JUNK: return "Junk";
	case STORE_SPECIAL_ARCHIVE: return "Archive";
	}
	return NULL;
}

void store_copy_list_add(struct store_copy_list *l, const char *ref,
			 uint64_t size, time_t internaldate)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].ref = xstrdup(ref);
	l->v[l->n].size = size;
	l->v[l->n].internaldate = internaldate;
	l->n++;
}

void store_copy_list_free(struct store_copy_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].ref);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
