/* csv.c - see csv.h. */
#include "sched/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "util/buf.h"
#include "util/strset.h"
#include "util/xalloc.h"

enum col { C_EMAIL, C_USER, C_PASS, C_ROOT, C_TUSER, C_TPASS, C_EXTRA };

static const char *const col_names[] = {"EmailAddress",	  "UserName",
					"Password",	  "UserRoot",
					"TargetUserName", "TargetPassword"};

/* A field's bytes (after the quotes are undone).  An address cannot be
 * longer than RFC 5321 allows (local part 64, '@', domain 255); the rest
 * get 1 KiB, far above any real login, password or path.  Extra columns
 * and their names too: each row keeps a copy of its extras' names. */
#define CSV_MAX_FIELD 1024
#define CSV_MAX_EMAIL 320
/* Each row copies the extra columns' names (they travel with the user to
 * the state): at most this many extras, their names CSV_MAX_FIELD bytes
 * together, so 50,000 rows cannot multiply a wide header into gigabytes. */
#define CSV_MAX_EXTRA 32

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
		OPENSSL_cleanse(v[i].s, strlen(v[i].s));
		free(v[i].s);
	}
	free(v);
}

static int valid_utf8(const char *s, size_t len)
{
	size_t i = 0, n, k;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if ((c & 0xf0) == 0xe0)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return 0;
		for (k = 1; k <= n; k++)
			if (i + k >= len ||
			    ((unsigned char)s[i + k] & 0xc0) != 0x80)
				return 0;
		i += n + 1;
	}
	return 1;
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

void csv_report_release(struct csv_report *rep)
{
	buf_release(&rep->errors);
	buf_release(&rep->warnings);
	rep->n_errors = rep->n_warnings = 0;
}

/* A row's error: the first goes to err as well; 1 once there are
 * CSV_MAX_ERRORS (stop reading). */
static int row_error(struct csv_report *rep, struct err *err, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));
static int row_error(struct csv_report *rep, struct err *err, const char *fmt,
		     ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rep->n_errors++ == 0)
		err_set(err, ERR_USAGE, EC_NONE, "%s", msg);
	buf_addf(&rep->errors, "%s\n", msg);
	return rep->n_errors >= CSV_MAX_ERRORS;
}

/* Each mailbox once per batch, addresses compared as strcasecmp does (and
 * the state's COLLATE NOCASE).  One pass through a hash set, in file
 * order: the error names the first line that repeats an earlier one, and
 * the line where that address first appeared. */
static void find_duplicates(const struct csv_batch *b, const char *name,
			    struct csv_report *rep, struct err *err)
{
	struct strset seen;
	size_t i, first;

	strset_init(&seen, STRSET_NOCASE);
	for (i = 0; i < b->n; i++) {
		if (strset_add(&seen, b->rows[i].email, &first) == 0)
			continue;
		/* indices are row numbers: every row was added in order */
		if (row_error(rep, err,
			      "%s:%u: %s is already on line %u: each mailbox "
			      "once per batch",
			      name, b->rows[i].line, b->rows[i].email,
			      b->rows[first].line))
			break;
	}
	strset_free(&seen);
}

/* What reading one file needs, from the header to the last row. */
struct parse {
	struct reader r;
	int allow_unknown;
	struct csv_report *rep;
	struct err *err;
	struct field *hdr; /* the header's names, trimmed */
	size_t nh;
	int *map; /* each column's enum col */
	struct csv_batch *b;
	size_t rows_cap;
};

/* The whole file, before a byte of it is parsed: its size, its UTF-8. */
static int check_input(const char *data, size_t len, const char *name,
		       struct err *err)
{
	if (len > CSV_MAX_BYTES)
		return err_set(err, ERR_USAGE, EC_TOO_BIG,
			       "%s: %zu bytes, over the "
			       "10 MB limit: split it into several batches",
			       name, len);
	if (!valid_utf8(data, len))
		return err_set(err, ERR_USAGE, EC_NONE,
			       "%s: not valid UTF-8: save "
			       "the file as UTF-8",
			       name);
	return 0;
}

/* Header column i: its name trimmed in place and its size checked, then
 * mapped to a known column (each once) or, with allow_unknown, counted as
 * an extra one. */
static int header_column(struct parse *p, size_t i, int *have, size_t *n_extra,
			 size_t *extra_bytes)
{
	const char *name = p->r.name;
	char *h = p->hdr[i].s;
	size_t hl = strlen(h), j;

	while (hl > 0 && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
		h[--hl] = '\0';
	while (*h == ' ' || *h == '\t') {
		h++;
		hl--;
	}
	if (hl > CSV_MAX_FIELD)
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: column %zu's name is %zu bytes; the "
			       "limit is %d",
			       name, i + 1, hl, CSV_MAX_FIELD);
	p->map[i] = C_EXTRA;
	for (j = 0; j < 6; j++)
		if (strcasecmp(h, col_names[j]) == 0)
			p->map[i] = (int)j;
	if (p->map[i] != C_EXTRA) {
		if (have[p->map[i]])
			return err_set(p->err, ERR_USAGE, EC_NONE,
				       "%s:1: column %s appears twice: keep "
				       "one",
				       name, col_names[p->map[i]]);
		have[p->map[i]] = 1;
	} else if (!p->allow_unknown) {
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: unknown column \"%s\": remove it, or "
			       "pass --allow-unknown-columns",
			       name, h);
	} else if (h[0] == '\0') {
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: column %zu has no name", name, i + 1);
	} else {
		(*n_extra)++;
		*extra_bytes += hl;
	}
	if (h != p->hdr[i].s)
		memmove(p->hdr[i].s, h, strlen(h) + 1);
	return 0;
}

/* The header row: not empty, separated by commas, every column known (or
 * allowed), the extras within their caps, the required ones there. */
static int read_header(struct parse *p)
{
	const char *name = p->r.name;
	int have[6] = {0};
	size_t i, n_extra = 0, extra_bytes = 0;
	unsigned line;
	int rc = read_record(&p->r, &p->hdr, &p->nh, &line, p->err);

	if (rc < 0)
		return -1;
	if (rc > 0)
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: the file is empty: "
			       "give a header row EmailAddress,UserName,"
			       "Password and one row per mailbox",
			       name);
	if (p->nh == 1 && strchr(p->hdr[0].s, ';') != NULL)
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: the columns are separated by ';', not "
			       "',' (a spreadsheet's regional setting): save "
			       "the file as comma-separated CSV (UTF-8)",
			       name);
	p->map = xcalloc(p->nh, sizeof(*p->map));
	for (i = 0; i < p->nh; i++)
		if (header_column(p, i, have, &n_extra, &extra_bytes) < 0)
			return -1;
	/* every row keeps a copy of the extras' names */
	if (n_extra > CSV_MAX_EXTRA)
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: %zu extra columns; the limit is %d: drop "
			       "the columns no template uses",
			       name, n_extra, CSV_MAX_EXTRA);
	if (extra_bytes > CSV_MAX_FIELD)
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s:1: the extra columns' names are %zu bytes "
			       "together; the limit is %d: shorten them or "
			       "drop the columns no template uses",
			       name, extra_bytes, CSV_MAX_FIELD);
	for (i = 0; i < 3; i++)
		if (!have[i])
			return err_set(p->err, ERR_USAGE, EC_NONE,
				       "%s:1: required column %s is missing: "
				       "the header needs EmailAddress,UserName,"
				       "Password",
				       name, col_names[i]);
	return 0;
}

/* Each field's size: the address (as it will be trimmed) 320 bytes, the
 * others 1 KiB.  0 all fit, 1 one does not (reported), -1 the error list
 * is full. */
static int check_sizes(struct parse *p, const struct field *f, size_t nf,
		       unsigned line)
{
	size_t i;

	for (i = 0; i < nf; i++) {
		const char *v = f[i].s;
		size_t vl = strlen(v);
		size_t lim =
			p->map[i] == C_EMAIL ? CSV_MAX_EMAIL : CSV_MAX_FIELD;
		if (p->map[i] == C_EMAIL) { /* as trimmed in add_row */
			while (vl > 0 && v[vl - 1] == ' ')
				vl--;
			while (vl > 0 && *v == ' ') {
				v++;
				vl--;
			}
		}
		if (vl > lim)
			return row_error(p->rep, p->err,
					 "%s:%u: %s is %zu bytes; the "
					 "limit is %zu",
					 p->r.name, line,
					 p->map[i] == C_EXTRA
						 ? p->hdr[i].s
						 : col_names[p->map[i]],
					 vl, lim)
				       ? -1
				       : 1;
	}
	return 0;
}

/* A new row of the batch from the record's fields (taken, f freed), its
 * address trimmed of spaces. */
static struct csv_row *add_row(struct parse *p, struct field *f, size_t nf,
			       unsigned line)
{
	struct csv_batch *b = p->b;
	struct csv_row *row;
	size_t i, el;
	char *e;

	if (b->n == p->rows_cap) { /* doubling: a dozen copies for 50,000 */
		p->rows_cap = p->rows_cap ? 2 * p->rows_cap : 64;
		b->rows = xrealloc(b->rows, p->rows_cap * sizeof(*b->rows));
	}
	row = &b->rows[b->n++];
	memset(row, 0, sizeof(*row));
	row->line = line;
	for (i = 0; i < nf; i++) {
		char *v = f[i].s;
		switch (p->map[i]) {
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
			row->extra[row->n_extra].name = xstrdup(p->hdr[i].s);
			row->extra[row->n_extra].value = v;
			row->n_extra++;
		}
	}
	free(f);
	e = row->email;
	el = strlen(e);
	while (el > 0 && e[el - 1] == ' ')
		e[--el] = '\0';
	while (*e == ' ')
		memmove(e, e + 1, strlen(e));
	return row;
}

/* The row's required fields are filled and its address is one: 0 yes,
 * 1 no (reported), -1 the error list is full. */
static int check_row(struct parse *p, const struct csv_row *row)
{
	const char *const req[3] = {row->email, row->username, row->password};
	size_t j;
	int bad = 0;

	for (j = 0; j < 3; j++) {
		if (req[j][0] != '\0')
			continue;
		bad = 1;
		if (row_error(p->rep, p->err, "%s:%u: %s is empty: fill it in",
			      p->r.name, row->line, col_names[j]))
			return -1;
	}
	if (row->email[0] != '\0' && !valid_email(row->email)) {
		bad = 1;
		if (row_error(p->rep, p->err,
			      "%s:%u: EmailAddress \"%s\" is not a "
			      "valid address: fix the row",
			      p->r.name, row->line, row->email))
			return -1;
	}
	return bad;
}

/* The UserName is sent verbatim, so a stray space is a login that fails:
 * said, not changed. */
static void warn_username(struct parse *p, const struct csv_row *row)
{
	const char *u = row->username;
	size_t ul = strlen(u);

	if (u[0] == ' ' || u[0] == '\t' || u[ul - 1] == ' ' ||
	    u[ul - 1] == '\t') {
		p->rep->n_warnings++;
		buf_addf(&p->rep->warnings,
			 "%s:%u: UserName \"%s\" begins or ends "
			 "with a space: it is sent as it is; "
			 "fix "
			 "the row if that is a mistake\n",
			 p->r.name, row->line, u);
	}
}

/* One record after the header (taken): a blank line is skipped, a row
 * that passes its checks joins the batch, one that does not is reported.
 * -1 to stop reading: a fatal error, or the error list is full. */
static int take_record(struct parse *p, struct field *f, size_t nf,
		       unsigned line)
{
	struct csv_row *row;
	int rc;

	if (nf == 1 && f[0].s[0] == '\0') {
		free_fields(f, nf); /* blank line */
		return 0;
	}
	if (nf != p->nh) {
		rc = row_error(p->rep, p->err,
			       "%s:%u: %zu fields where the "
			       "header has %zu: check the commas "
			       "(quote fields that hold one)",
			       p->r.name, line, nf, p->nh);
		free_fields(f, nf);
		return rc ? -1 : 0;
	}
	if (p->b->n >= CSV_MAX_ROWS) {
		free_fields(f, nf);
		return err_set(p->err, ERR_USAGE, EC_TOO_BIG,
			       "%s:%u: more than %d rows: split the file into "
			       "several batches",
			       p->r.name, line, CSV_MAX_ROWS);
	}
	rc = check_sizes(p, f, nf, line);
	if (rc != 0) {
		free_fields(f, nf);
		return rc < 0 ? -1 : 0;
	}
	row = add_row(p, f, nf, line);
	rc = check_row(p, row);
	if (rc > 0) {
		row_release(row);
		p->b->n--;
	} else if (rc == 0) {
		warn_username(p, row);
	}
	return rc < 0 ? -1 : 0;
}

/* The rows, to the end of the file. */
static int read_rows(struct parse *p)
{
	struct field *f = NULL;
	size_t nf = 0;
	unsigned line;
	int rc;

	while ((rc = read_record(&p->r, &f, &nf, &line, p->err)) == 0)
		if (take_record(p, f, nf, line) < 0)
			return -1;
	return rc < 0 ? -1 : 0;
}

/* After the last row: no address twice, no row in error, at least one. */
static int finish(struct parse *p)
{
	find_duplicates(p->b, p->r.name, p->rep, p->err);
	if (p->rep->n_errors > 0)
		return -1;
	if (p->b->n == 0)
		return err_set(p->err, ERR_USAGE, EC_NONE,
			       "%s: no mailboxes after the "
			       "header: add one row per mailbox",
			       p->r.name);
	return 0;
}

struct csv_batch *csv_batch_from_mem(const char *data, size_t len,
				     const char *name, int allow_unknown,
				     struct csv_report *rep_r, struct err *err)
{
	struct csv_report own = {BUF_INIT, BUF_INIT, 0, 0};
	struct csv_batch *b = NULL;
	struct parse p;

	memset(&p, 0, sizeof(p));
	p.r = (struct reader){data, data + len, name, 1};
	p.allow_unknown = allow_unknown;
	p.rep = rep_r != NULL ? rep_r : &own;
	p.err = err;
	p.b = xcalloc(1, sizeof(*p.b));
	if (check_input(data, len, name, err) == 0) {
		if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
			p.r.p += 3;
		if (read_header(&p) == 0 && read_rows(&p) == 0 &&
		    finish(&p) == 0) {
			b = p.b;
			p.b = NULL;
		}
	}
	csv_report_release(&own);
	if (p.hdr != NULL)
		free_fields(p.hdr, p.nh);
	free(p.map);
	csv_batch_free(&p.b);
	return b;
}

struct csv_batch *csv_batch_load(const char *path, int allow_unknown,
				 struct csv_report *rep, struct err *err)
{
	struct stat sb;
	struct csv_batch *b;
	FILE *fp;
	char *data;
	size_t n;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		err_set(err, ERR_USAGE, EC_IO,
			"cannot read %s: %s: check "
			"--csv",
			path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &sb) == 0 && (size_t)sb.st_size > CSV_MAX_BYTES) {
		fclose(fp);
		err_set(err, ERR_USAGE, EC_TOO_BIG,
			"%s: %lld bytes, over the "
			"10 MB limit: split it into several batches",
			path, (long long)sb.st_size);
		return NULL;
	}
	data = xmalloc(CSV_MAX_BYTES + 2);
	n = fread(data, 1, CSV_MAX_BYTES + 1, fp);
	fclose(fp);
	b = csv_batch_from_mem(data, n, path, allow_unknown, rep, err);
	OPENSSL_cleanse(data, n);
	free(data);
	return b;
}
