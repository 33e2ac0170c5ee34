/* maildir_find.c - finding a copy again (maildir.h): by the tag in its
 * name, through a sorted list of one folder's tags kept until the folder
 * changes or a file is removed; by size and SHA-256; and listing and
 * hashing a folder's message files. */
#include "store/maildir_priv.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "store/store.h"
#include "util/xalloc.h"

void md_tags_clear(struct maildir *md)
{
	size_t i;

	for (i = 0; i < md->n_tags; i++)
		free(md->tags[i]);
	free(md->tags);
	md->tags = NULL;
	md->n_tags = 0;
	free(md->tags_folder);
	md->tags_folder = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries are "tag\tname"; a key is a bare tag. */
static int cmp_tag(const void *key, const void *entry)
{
	const char *k = *(char *const *)key, *e = *(char *const *)entry;
	size_t kl = strlen(k);
	int c = strncmp(k, e, kl);

	if (c != 0)
		return c;
	return e[kl] == '\t' ? 0 : -1;
}

static void scan_tags(struct maildir *md, const char *dir)
{
	/* only ever written into cur/, complete (renamed from tmp/ after an
	 * fsync) */
	char *p = xasprintf("%s/cur", dir);
	DIR *d = opendir(p);
	struct dirent *de;

	md_tags_clear(md);
	md->tags_folder = xstrdup(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		const char *t;
		size_t tl;
		if (maildir_name_tag(de->d_name, &t, &tl) < 0)
			continue;
		md->tags =
			xrealloc(md->tags, (md->n_tags + 1) * sizeof(char *));
		md->tags[md->n_tags++] =
			xasprintf("%.*s\t%s", (int)tl, t, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	free(p);
	if (md->n_tags > 1)
		qsort(md->tags, md->n_tags, sizeof(char *), cmp_str);
}

int maildir_find_tag(struct maildir *md, const char *utf8_path, const char *tag,
		     char **name_r, struct err *err)
{
	struct buf dir = BUF_INIT, want = BUF_INIT;
	const char *key;
	char **hit;

	*name_r = NULL;
	if (md_folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return -1;
	}
	if (md->tags_folder == NULL || strcmp(md->tags_folder, dir.p) != 0)
		scan_tags(md, dir.p);
	maildir_tag_component(tag, &want);
	key = want.p;
	hit = md->n_tags > 0 ? bsearch(&key, md->tags, md->n_tags,
				       sizeof(char *), cmp_tag)
			     : NULL;
	if (hit != NULL)
		*name_r = xstrdup(strchr(*hit, '\t') + 1);
	buf_release(&dir);
	buf_release(&want);
	return 0;
}

static int file_sha256(const char *path, unsigned char out[32])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	char chunk[65536];
	EVP_MD_CTX *md;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		EVP_DigestUpdate(md, chunk, n);
	EVP_DigestFinal_ex(md, d, &dl);
	EVP_MD_CTX_free(md);
	if (ferror(f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	memcpy(out, d, 32);
	return 0;
}

/* Is ref in claimed (sorted by strcmp)? */
static int claimed_has(const char *const *claimed, size_t n, const char *ref)
{
	return n > 0 &&
	       bsearch(&ref, claimed, n, sizeof(*claimed), cmp_str) != NULL;
}

/* Call fn(ctx, path, name) for each entry of dir/cur/, then of dir/new/
 * (one that cannot be opened is skipped), until fn returns nonzero. */
static void each_file(const char *dir,
		      int (*fn)(void *ctx, const char *path, const char *name),
		      void *ctx)
{
	static const char *const subs[] = {"cur", "new"};
	size_t i;
	int stop = 0;

	for (i = 0; i < 2 && !stop; i++) {
		struct buf file = BUF_INIT;
		size_t plen;
		DIR *d;
		struct dirent *de;
		buf_addf(&file, "%s/%s/", dir, subs[i]);
		plen = file.len;
		d = opendir(file.p);
		while (d != NULL && !stop && (de = readdir(d)) != NULL) {
			buf_setlen(&file, plen);
			buf_addstr(&file, de->d_name);
			stop = fn(ctx, file.p, de->d_name);
		}
		if (d != NULL)
			closedir(d);
		buf_release(&file);
	}
}

struct content_search {
	unsigned long long size;
	const unsigned char *sha256;
	const char *const *claimed;
	size_t n_claimed;
	char *name; /* the hit */
};

/* each_file(): a same-size, unclaimed file with the same SHA-256. */
static int content_matches(void *ctx, const char *path, const char *name)
{
	struct content_search *cs = ctx;
	unsigned char h[32];

	if (!maildir_name_has_size(name, cs->size) ||
	    claimed_has(cs->claimed, cs->n_claimed, name))
		return 0;
	if (file_sha256(path, h) == 0 && memcmp(h, cs->sha256, 32) == 0)
		cs->name = xstrdup(name);
	return cs->name != NULL;
}

int maildir_find_content(struct maildir *md, const char *utf8_path,
			 unsigned long long size, const unsigned char *sha256,
			 const char *const *claimed, size_t n_claimed,
			 char **name_r, struct err *err)
{
	struct content_search cs = {size, sha256, claimed, n_claimed, NULL};
	struct buf dir = BUF_INIT;

	*name_r = NULL;
	if (md_folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return -1;
	}
	each_file(dir.p, content_matches, &cs);
	*name_r = cs.name;
	buf_release(&dir);
	return 0;
}

/* each_file(): a regular file, not a dot file, goes on the list. */
static int list_one(void *ctx, const char *path, const char *name)
{
	struct stat sb;

	if (name[0] == '.')
		return 0;
	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	store_copy_list_add(ctx, name, (uint64_t)sb.st_size, sb.st_mtime);
	return 0;
}

int maildir_list_msgs(struct maildir *md, const char *utf8_path,
		      struct store_copy_list *out, struct err *err)
{
	struct buf dir = BUF_INIT;

	if (md_folder_dir(md, utf8_path, &dir, err) < 0) {
		buf_release(&dir);
		return -1;
	}
	each_file(dir.p, list_one, out);
	buf_release(&dir);
	return 0;
}

int maildir_file_sha256(struct maildir *md, const char *utf8_path,
			const char *name, unsigned char out[32],
			struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	int ret = -1;

	if (md_folder_dir(md, utf8_path, &dir, err) < 0)
		goto out;
	buf_addf(&file, "%s/cur/%s", dir.p, name);
	if (file_sha256(file.p, out) < 0) {
		buf_reset(&file);
		buf_addf(&file, "%s/new/%s", dir.p, name);
		if (file_sha256(file.p, out) < 0) {
			ret = 1; /* no such file */
			goto out;
		}
	}
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
}
