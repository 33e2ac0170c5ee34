/* csv.c - see csv.h. */
#include "cli/csv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "util/buf.h"
#include "util/xalloc.h"

enum col { C_EMAIL, C_USER, C_PASS, C_ROOT, C_TUSER, C_TPASS, C_EXTRA };

static const char *const col_names[] = {"EmailAddress",	  "UserName",
					"Password",	  "UserRoot",
					"TargetUserName", "TargetPassword"};

struct field {
	char *s;
	unsigned line;
};

struct reader {
	const char *p, *end, *name;
	unsigned line;
};

/* One record: fields into *out; 0 ok, 1 end of input, -1 error. */
static int read_record(struct reader *r, struct field **out, size_t *n_r,
		       unsigned *line_r, struct err *err)
{
	struct field *v = NULL;
	size_t n = 0;
	struct buf f = BUF_INIT;

	*line_r = r->line;
	if (r->p >= r->end)
		return 1;
	for (;;) {
		int quoted = 0;
		buf_reset(&f);
		if (r->p < r->end && *r->p == '"') {
			quoted = 1;
			r->p++;
			for (;;) {
				if (r->p >= r->end) {
					err_set(err, ERR_USAGE, EC_NONE,
						"%s:%u: a quoted field is not "
						"closed: add the missing '\"'",
						r->name, *line_r);
					goto fail;
				}
				if (*r->p == '"') {
					if (r->p + 1 < r->end &&
					    r->p[1] == '"') {
						buf_addch(&f, '"');
						r->p += 2;
						continue;
					}
					r->p++;
					break;
				}
				if (*r->p == '\n')
					r->line++;
				buf_addch(&f, *r->p++);
			}
		}
		while (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
		       !(*r->p == '\r' &&
			 (r->p + 1 == r->end || r->p[1] == '\n'))) {
			if (quoted || *r->p == '"') {
				err_set(err, ERR_USAGE, EC_NONE,
					"%s:%u: stray '\"' in a field: quote "
					"the whole field and double the quote",
					r->name, r->line);
				goto fail;
			}
			buf_addch(&f, *r->p++);
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].s = buf_detach(&f, NULL);
		v[n].line = *line_r;
		n++;
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == '\r')
			r->p++;
		if (r->p < r->end && *r->p == '\n')
			r->p++;
		r->line++;
		break;
	}
	buf_release(&f);
	*out = v;
	*n_r = n;
	return 0;
fail:
	buf_release(&f);
	while (n > 0)
		free(v[--n].s);
	free(v);
	return -1;
}

static void free_fields(struct field *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].s == NULL)
			continue; /* moved into a row */
		OPENSSL_cleanse(v[i].s, strlen(v[i].s));
		free(v[i].s);
	}
	free(v);
}

/* Offset of the first byte that is not strict UTF-8 (overlongs,
 * surrogates and code points over U+10FFFF refused) or is a NUL (which
 * would silently cut a password short), or len when all is well. */
static size_t bad_text_at(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i], lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			unsigned char t = s[i + k];
			if (k == 1 ? (t < lo || t > hi) : (t & 0xc0) != 0x80)
				return i;
		}
		i += n + 1;
	}
	return len;
}

static unsigned line_at(const char *data, size_t off)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		if (data[i] == '\n')
			line++;
	return line;
}

/* EmailAddress values seen so far, case-insensitively (ASCII, as
 * strcasecmp), so a 50,000-row file is checked in linear time. */
struct email_set {
	size_t *slot; /* row index + 1; 0 = empty */
	size_t mask, used;
};

static uint32_t email_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 16777619u;
	}
	return h;
}

/* Find rows[idx].email; if absent, add it and return -1, else return the
 * index of the earlier row with the same address. */
static long email_set_add(struct email_set *set, const struct csv_row *rows,
			  size_t idx)
{
	size_t i;

	if ((set->used + 1) * 2 > set->mask + 1) {
		struct email_set big;
		big.mask = set->mask ? set->mask * 2 + 1 : 255;
		big.slot = xcalloc(big.mask + 1, sizeof(*big.slot));
		big.used = 0;
		for (i = 0; i <= set->mask && set->slot != NULL; i++)
			if (set->slot[i] != 0)
				(void)email_set_add(&big, rows,
						    set->slot[i] - 1);
		free(set->slot);
		*set = big;
	}
	for (i = email_hash(rows[idx].email) & set->mask;;
	     i = (i + 1) & set->mask) {
		if (set->slot[i] == 0) {
			set->slot[i] = idx + 1;
			set->used++;
			return -1;
		}
		if (strcasecmp(rows[set->slot[i] - 1].email, rows[idx].email) ==
		    0)
			return (long)(set->slot[i] - 1);
	}
}

static int valid_email(const char *s)
{
	const char *at = strchr(s, '@'), *p;

	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return 0;
	if (at[1] == '\0' || strchr(at + 1, '.') == NULL || at[1] == '.' ||
	    s[strlen(s) - 1] == '.')
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == ',' || *p == '<' ||
		    *p == '>' || *p == '"' || *p == '\x7f')
			return 0;
	return 1;
}

static void row_release(struct csv_row *r)
{
	size_t i;

	free(r->email);
	free(r->username);
	if (r->password)
		OPENSSL_cleanse(r->password, strlen(r->password));
	free(r->password);
	free(r->user_root);
	free(r->target_username);
	if (r->target_password)
		OPENSSL_cleanse(r->target_password, strlen(r->target_password));
	free(r->target_password);
	for (i = 0; i < r->n_extra; i++) {
		free(r->extra[i].name);
		free(r->extra[i].value);
	}
	free(r->extra);
}

void csv_batch_free(struct csv_batch **bp)
{
	struct csv_batch *b = *bp;
	size_t i;

	if (b == NULL)
		return;
	*bp = NULL;
	for (i = 0; i < b->n; i++)
		row_release(&b->rows[i]);
	free(b->rows);
	free(b);
}

/* Map the header's columns; 0 or -1 with the error set. */
static int read_header(struct field *hdr, size_t nh, const char *name,
		       int allow_unknown, int *map, struct err *err)
{
	int have[C_EXTRA] = {0}, known = 0;
	size_t i, j;

	for (i = 0; i < nh; i++) {
		char *h = hdr[i].s;
		size_t hl = strlen(h);
		while (hl > 0 && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
			h[--hl] = '\0';
		while (*h == ' ' || *h == '\t')
			h++;
		if (h != hdr[i].s)
			memmove(hdr[i].s, h, strlen(h) + 1);
		map[i] = C_EXTRA;
		for (j = 0; j < C_EXTRA; j++)
			if (strcasecmp(hdr[i].s, col_names[j]) == 0)
				map[i] = (int)j;
		if (map[i] != C_EXTRA)
			known++;
	}
	/* A first line with no column name we know is data, not a header:
	 * say so instead of quoting its cells, one of which is a password. */
	if (known == 0)
		return err_set(
			err, ERR_USAGE, EC_NONE,
			"%s:1: no header row: the first line must name "
			"the columns, e.g. EmailAddress,UserName,Password",
			name);
	for (i = 0; i < nh; i++) {
		if (map[i] != C_EXTRA) {
			if (have[map[i]])
				return err_set(err, ERR_USAGE, EC_NONE,
					       "%s:1: column %s appears twice: "
					       "keep one",
					       name, col_names[map[i]]);
			have[map[i]] = 1;
			continue;
		}
		if (!allow_unknown)
			return err_set(err, ERR_USAGE, EC_NONE,
				       "%s:1: unknown column \"%.64s\": remove "
				       "it, or pass --allow-unknown-columns",
				       name, hdr[i].s);
		if (hdr[i].s[0] == '\0')
			return err_set(err, ERR_USAGE, EC_NONE,
				       "%s:1: column %zu has no name: name it "
				       "or remove it",
				       name, i + 1);
		/* extras are looked up by name for {Column} templates */
		for (j = 0; j < i; j++)
			if (map[j] == C_EXTRA &&
			    strcasecmp(hdr[j].s, hdr[i].s) == 0)
				return err_set(err, ERR_USAGE, EC_NONE,
					       "%s:1: column \"%.64s\" appears "
					       "twice: keep one",
					       name, hdr[i].s);
	}
	for (j = 0; j < 3; j++)
		if (!have[j])
			return err_set(err, ERR_USAGE, EC_NONE,
				       "%s:1: required column %s is missing: "
				       "the header needs "
				       "EmailAddress,UserName,Password",
				       name, col_names[j]);
	return 0;
}

/* Move one record's fields into a new row of b; the fields are taken. */
static struct csv_row *add_row(struct csv_batch *b, size_t *alloc,
			       struct field *f, size_t nf,
			       const struct field *hdr, const int *map,
			       unsigned line)
{
	struct csv_row *row;
	size_t i;

	if (b->n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 16;
		b->rows = xrealloc(b->rows, *alloc * sizeof(*b->rows));
	}
	row = &b->rows[b->n++];
	memset(row, 0, sizeof(*row));
	row->line = line;
	for (i = 0; i < nf; i++) {
		char *v = f[i].s;
		f[i].s = NULL;
		switch (map[i]) {
		case C_EMAIL: row->email = v; break;
		case C_USER: row->username = v; break;
		case C_PASS: row->password = v; break;
		case C_ROOT: row->user_root = v; break;
		case C_TUSER: row->target_username = v; break;
		case C_TPASS: row->target_password = v; break;
		default:
			row->extra = xrealloc(row->extra,
					      (row->n_extra + 1) *
						      sizeof(*row->extra));
			row->extra[row->n_extra].name = xstrdup(hdr[i].s);
			row->extra[row->n_extra].value = v;
			row->n_extra++;
		}
	}
	return row;
}

/* Check a row's required fields and address; 0 or -1 with the error. */
static int check_row(struct csv_row *row, const char *name, struct err *err)
{
	char *e = row->email;
	size_t el = strlen(e), j;

	/* spaces around an address are a spreadsheet's doing: drop them */
	while (el > 0 && e[el - 1] == ' ')
		e[--el] = '\0';
	while (*e == ' ')
		memmove(e, e + 1, strlen(e));
	for (j = 0; j < 3; j++) {
		const char *v = j == 0	 ? row->email
				: j == 1 ? row->username
					 : row->password;
		/* the column name only: never a value */
		if (v[0] == '\0')
			return err_set(err, ERR_USAGE, EC_NONE,
				       "%s:%u: %s is empty: fill it in", name,
				       row->line, col_names[j]);
	}
	if (!valid_email(row->email))
		return err_set(err, ERR_USAGE, EC_NONE,
			       "%s:%u: EmailAddress \"%.200s\" is not a valid "
			       "address: fix the row",
			       name, row->line, row->email);
	return 0;
}

struct csv_batch *csv_batch_from_mem(const char *data, size_t len,
				     const char *name, int allow_unknown,
				     struct err *err)
{
	struct reader r = {data, data + len, name, 1};
	struct csv_batch *b = xcalloc(1, sizeof(*b));
	struct email_set seen = {NULL, 0, 0};
	struct field *hdr = NULL, *f = NULL;
	size_t nh = 0, nf = 0, alloc = 0, bad;
	int *map = NULL;
	unsigned line;
	int rc;

	/* limits first, before any work proportional to the input */
	if (len > CSV_MAX_BYTES) {
		err_set(err, ERR_USAGE, EC_TOO_BIG,
			"%s: %zu bytes, over the 10 MB limit: split it into "
			"several batches",
			name, len);
		goto fail;
	}
	bad = bad_text_at(data, len);
	if (bad < len) {
		err_set(err, ERR_USAGE, EC_NONE,
			"%s:%u: %s: save the file as UTF-8 text", name,
			line_at(data, bad),
			data[bad] == '\0' ? "a NUL byte" : "not valid UTF-8");
		goto fail;
	}
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		r.p += 3;
	rc = read_record(&r, &hdr, &nh, &line, err);
	if (rc < 0)
		goto fail;
	if (rc > 0) {
		err_set(err, ERR_USAGE, EC_NONE,
			"%s:1: the file is empty: give a header row "
			"EmailAddress,UserName,Password and one row per "
			"mailbox",
			name);
		goto fail;
	}
	map = xcalloc(nh, sizeof(*map));
	if (read_header(hdr, nh, name, allow_unknown, map, err) < 0)
		goto fail;
	for (;;) {
		struct csv_row *row;
		long dup;

		rc = read_record(&r, &f, &nf, &line, err);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			break;
		if (nf == 1 && f[0].s[0] == '\0') {
			/* a blank line (the header has at least 3 columns) */
			free_fields(f, nf);
			f = NULL;
			continue;
		}
		if (nf != nh) {
			err_set(err, ERR_USAGE, EC_NONE,
				"%s:%u: %zu fields where the header has %zu: "
				"check the commas (quote fields that hold one)",
				name, line, nf, nh);
			goto fail;
		}
		if (b->n >= CSV_MAX_ROWS) {
			err_set(err, ERR_USAGE, EC_TOO_BIG,
				"%s:%u: more than %d rows: split the file into "
				"several batches",
				name, line, CSV_MAX_ROWS);
			goto fail;
		}
		row = add_row(b, &alloc, f, nf, hdr, map, line);
		free_fields(f, nf);
		f = NULL;
		if (check_row(row, name, err) < 0)
			goto fail;
		dup = email_set_add(&seen, b->rows, b->n - 1);
		if (dup >= 0) {
			err_set(err, ERR_USAGE, EC_NONE,
				"%s:%u: %.200s is already on line %u: each "
				"mailbox once per batch",
				name, line, row->email, b->rows[dup].line);
			goto fail;
		}
	}
	if (b->n == 0) {
		err_set(err, ERR_USAGE, EC_NONE,
			"%s:2: no mailboxes after the header: add one row per "
			"mailbox",
			name);
		goto fail;
	}
	free_fields(hdr, nh);
	free(map);
	free(seen.slot);
	return b;
fail:
	if (f != NULL)
		free_fields(f, nf);
	if (hdr != NULL)
		free_fields(hdr, nh);
	free(map);
	free(seen.slot);
	csv_batch_free(&b);
	return NULL;
}

struct csv_batch *csv_batch_load(const char *path, int allow_unknown,
				 struct err *err)
{
	struct stat sb;
	struct csv_batch *b = NULL;
	FILE *fp;
	char *data = NULL;
	size_t n = 0;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		err_set(err, ERR_LOCAL, EC_IO,
			"cannot read %s: %s: check --csv", path,
			strerror(errno));
		return NULL;
	}
	/* refuse a big file before reading it */
	if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_size > CSV_MAX_BYTES) {
		err_set(err, ERR_USAGE, EC_TOO_BIG,
			"%s: %lld bytes, over the 10 MB limit: split it into "
			"several batches",
			path, (long long)sb.st_size);
		goto cleanup;
	}
	/* one byte over the limit, for pipes whose size fstat cannot tell */
	data = xmalloc(CSV_MAX_BYTES + 1);
	n = fread(data, 1, CSV_MAX_BYTES + 1, fp);
	if (ferror(fp)) {
		err_set(err, ERR_LOCAL, EC_IO,
			"cannot read %s: %s: check --csv", path,
			strerror(errno));
		goto cleanup;
	}
	b = csv_batch_from_mem(data, n, path, allow_unknown, err);
cleanup:
	fclose(fp);
	if (data != NULL) {
		OPENSSL_cleanse(data, n);
		free(data);
	}
	return b;
}
