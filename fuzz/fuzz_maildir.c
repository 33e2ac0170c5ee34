/* fuzz_maildir.c - libFuzzer target for Maildir file names and the
 * dovecot-keywords file (store/maildir_names.h).
 *
 * Byte 0 picks a mode:
 *  0: the rest is any file name (as a string): a tag found lies inside
 *     the name and holds no '.'; the base length is the whole name or
 *     ends where ":2," starts.
 *  1: the rest builds a name as maildir.c writes it (times, pid, counter,
 *     tag, host, size, flags): the tag reads back as the written tag
 *     component, the size matches and no other size does, the base ends
 *     right before ":2,<flags>".
 *  2: the rest is a dovecot-keywords file: at most 26 names, none with a
 *     newline, none NULL.
 *  3: the rest, split at newlines, is a keyword list (at most 26, no
 *     space, no NUL, like IMAP atoms): written as maildir.c writes it,
 *     it reads back the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/maildir_names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_any(const char *name)
{
	const char *t;
	size_t tl, bl, n = strlen(name);

	if (maildir_name_tag(name, &t, &tl) == 0) {
		if (t <= name || t + tl > name + n || t[tl] != '.' ||
		    memchr(t, '.', tl) != NULL)
			abort();
	}
	bl = maildir_name_base_len(name);
	if (bl > n || (bl < n && strncmp(name + bl, ":2,", 3) != 0))
		abort();
	(void)maildir_name_has_size(name, 0);
}

static uint64_t take(const uint8_t **p, const uint8_t *end, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0 && *p < end)
		v = v << 8 | *(*p)++;
	return v;
}

/* A string of up to max bytes from the input, without NUL. */
static void take_str(const uint8_t **p, const uint8_t *end, size_t max,
		     struct buf *out)
{
	size_t n = (size_t)take(p, end, 1) % (max + 1);

	while (n-- > 0 && *p < end) {
		char c = (char)*(*p)++;
		buf_addch(out, c ? c : 'x');
	}
}

static void check_built(const uint8_t *p, const uint8_t *end)
{
	static const char letters[] = "DFRSTabcdefghijklmnopqrstuvwxyz";
	struct buf tag = BUF_INIT, host = BUF_INIT, comp = BUF_INIT,
		   name = BUF_INIT;
	long long secs = (long long)(take(&p, end, 5));
	long usecs = (long)(take(&p, end, 3) % 1000000);
	int pid = (int)(take(&p, end, 3) % 4194304) + 1;
	unsigned q = (unsigned)take(&p, end, 4);
	unsigned long long sz = take(&p, end, 8), other = take(&p, end, 8);
	unsigned info = (unsigned)take(&p, end, 4);
	const char *t;
	size_t tl, i, base;

	take_str(&p, end, 60, &tag);
	take_str(&p, end, 60, &host);
	for (i = 0; i < host.len; i++)
		if (host.p[i] == '/' || host.p[i] == ':' || host.p[i] == ',')
			host.p[i] = '_'; /* as maildir_open does */
	if (host.len == 0)
		buf_addstr(&host, "localhost");
	buf_addf(&name, "%lld.M%ldP%dQ%u", secs, usecs, pid, q);
	if (tag.len > 0) {
		maildir_tag_component(tag.p, &comp);
		buf_addch(&name, 'T');
		buf_add(&name, comp.p, comp.len);
	}
	buf_addf(&name, ".%s", host.p);
	buf_addf(&name, ",S=%llu", sz);
	base = name.len;
	buf_addstr(&name, ":2,");
	for (i = 0; i < sizeof(letters) - 1; i++)
		if (info & (1u << i))
			buf_addch(&name, letters[i]);

	if (comp.len != tag.len || strpbrk(comp.p, ".:/,") != NULL)
		abort();
	if (tag.len > 0) {
		if (maildir_name_tag(name.p, &t, &tl) != 0 || tl != comp.len ||
		    memcmp(t, comp.p, tl) != 0)
			abort();
	}
	if (!maildir_name_has_size(name.p, sz))
		abort();
	if (other != sz && maildir_name_has_size(name.p, other))
		abort();
	if (maildir_name_base_len(name.p) != base)
		abort();
	check_any(name.p);
	buf_release(&tag);
	buf_release(&host);
	buf_release(&comp);
	buf_release(&name);
}

static void read_kw(const char *text, size_t len, char *kw[26], size_t *n)
{
	FILE *f = fmemopen((void *)text, len, "r");

	*n = 0;
	if (f == NULL)
		abort();
	maildir_keywords_read(f, kw, n);
	fclose(f);
	if (*n > 26)
		abort();
}

static void check_keywords_file(const uint8_t *p, size_t len)
{
	char *kw[26];
	size_t n, i;

	if (len == 0)
		return;
	read_kw((const char *)p, len, kw, &n);
	for (i = 0; i < n; i++) {
		if (kw[i] == NULL || strchr(kw[i], '\n') != NULL)
			abort();
		free(kw[i]);
	}
}

static void check_keywords_roundtrip(const uint8_t *p, size_t len)
{
	char *want[26], *kw[26];
	struct buf file = BUF_INIT;
	size_t n = 0, got, i, start = 0;

	for (i = 0; i <= len && n < 26; i++) {
		if (i < len && p[i] != '\n')
			continue;
		if (i > start && memchr(p + start, ' ', i - start) == NULL &&
		    memchr(p + start, '\0', i - start) == NULL) {
			want[n] = strndup((const char *)p + start, i - start);
			/* maildir.c never stores one keyword twice */
			size_t k;
			for (k = 0; k < n; k++)
				if (strcmp(want[k], want[n]) == 0)
					break;
			if (k == n)
				n++;
			else
				free(want[n]);
		}
		start = i + 1;
	}
	for (i = 0; i < n; i++)
		buf_addf(&file, "%zu %s\n", i, want[i]);
	if (file.len == 0) {
		buf_release(&file);
		return;
	}
	read_kw(file.p, file.len, kw, &got);
	if (got != n)
		abort();
	for (i = 0; i < n; i++) {
		if (strcmp(kw[i], want[i]) != 0)
			abort();
		free(kw[i]);
		free(want[i]);
	}
	buf_release(&file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		s = strndup((const char *)data + 1, size - 1);
		check_any(s);
		free(s);
		break;
	case 1: check_built(data + 1, data + size); break;
	case 2: check_keywords_file(data + 1, size - 1); break;
	default: check_keywords_roundtrip(data + 1, size - 1); break;
	}
	return 0;
}
