/* imap_format.c - IMAP values the store reads and writes, pure: the
 * date-time of INTERNALDATE, FLAGS, PERMANENTFLAGS, header fields; see
 * imap_format.h. */
#include "store/imap_format.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The local times a date-time can say: years 1900 to 9999. */
#define T_MIN  (-2208988800LL)	/* 01-Jan-1900 00:00:00 */
#define T_MAX  (253402300799LL) /* 31-Dec-9999 23:59:59 */
#define TZ_MAX (23 * 60 + 59)

_Static_assert(sizeof(time_t) >= 8, "time_t must hold years to 9999");

/* Exactly n decimal digits at *s (no sign, no space); advances *s. */
static int digits(const char **s, int n, int *v_r)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(*s)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*v_r = v;
	return 0;
}

static int expect(const char **s, char c)
{
	if (**s != c)
		return -1;
	(*s)++;
	return 0;
}

/* RFC 3501 date-time without the quotes: "17-Jul-1996 02:44:25 -0700";
 * the day may be one digit or space-padded.  Every field is read as a
 * fixed number of digits, so nothing can overflow; the zone is "+" or
 * "-" and hhmm up to 2359. */
int imap_parse_internaldate(const char *s, time_t *t_r, int *tz_min_r)
{
	struct tm tm;
	int day, year, hh, mm, ss, zh, zm, m, sign, tz;
	time_t t;

	while (*s == ' ')
		s++;
	/* s[1] is read only when s[0] is a digit, not the end */
	if (digits(&s,
		   isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])
			   ? 2
			   : 1,
		   &day) < 0 ||
	    expect(&s, '-') < 0)
		return -1;
	for (m = 0; m < 12; m++)
		if (strncasecmp(s, months[m], 3) == 0)
			break;
	if (m == 12)
		return -1;
	s += 3;
	if (expect(&s, '-') < 0 || digits(&s, 4, &year) < 0 ||
	    expect(&s, ' ') < 0 || digits(&s, 2, &hh) < 0 ||
	    expect(&s, ':') < 0 || digits(&s, 2, &mm) < 0 ||
	    expect(&s, ':') < 0 || digits(&s, 2, &ss) < 0 ||
	    expect(&s, ' ') < 0)
		return -1;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (digits(&s, 2, &zh) < 0 || digits(&s, 2, &zm) < 0 || *s != '\0')
		return -1;
	/* 31-Apr is taken as 1-May (as timegm does) rather than refused:
	 * a refused date leaves the message out of the listing. */
	if (year < 1900 || day < 1 || day > 31 || hh > 23 || mm > 59 ||
	    ss > 60 || zh > 23 || zm > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = m;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	if (t > T_MAX) /* 31-Dec-9999 23:59:60 */
		return -1;
	tz = sign * (zh * 60 + zm);
	*tz_min_r = tz;
	*t_r = t - (time_t)tz * 60;
	return 0;
}

/* Not from the parser, a zone out of range is taken as +0000 and a time
 * out of range as the epoch: what is formatted always parses again. */
void imap_format_internaldate(time_t t, int tz_min, char *out, size_t size)
{
	struct tm tm;
	time_t local = 0;
	int a;

	if (tz_min < -TZ_MAX || tz_min > TZ_MAX)
		tz_min = 0;
	if (t >= T_MIN - TZ_MAX * 60 && t <= T_MAX + TZ_MAX * 60)
		local = t + (time_t)tz_min * 60;
	if (local < T_MIN || local > T_MAX) {
		local = 0;
		tz_min = 0;
	}
	if (gmtime_r(&local, &tm) == NULL) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = 70;
		tz_min = 0;
	}
	a = tz_min < 0 ? -tz_min : tz_min;
	snprintf(out, size, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d",
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, tz_min < 0 ? '-' : '+', a / 60, a % 60);
}

/* ---- flags ---- */

void imap_flags_parse(const struct imap_arg *list, struct store_msg *m)
{
	struct buf kw = BUF_INIT;
	size_t i;

	m->flags = 0;
	for (i = 0; i < list->list_count; i++) {
		const char *f = imap_arg_str(&list->list[i]);
		if (f == NULL)
			continue;
		if (strcasecmp(f, "\\Seen") == 0)
			m->flags |= STORE_SEEN;
		else if (strcasecmp(f, "\\Answered") == 0)
			m->flags |= STORE_ANSWERED;
		else if (strcasecmp(f, "\\Flagged") == 0)
			m->flags |= STORE_FLAGGED;
		else if (strcasecmp(f, "\\Draft") == 0)
			m->flags |= STORE_DRAFT;
		else if (strcasecmp(f, "\\Deleted") == 0)
			m->flags |= STORE_DELETED;
		else if (f[0] != '\\') {
			if (kw.len)
				buf_addch(&kw, ' ');
			buf_addstr(&kw, f);
		}
	}
	free(m->keywords);
	m->keywords = kw.len ? buf_detach(&kw, NULL) : NULL;
	buf_release(&kw);
}

/* Does the space-separated list have the word p[0..n)? */
static int word_in(const char *list, const char *p, size_t n)
{
	const char *w = list;

	while (w != NULL && *w) {
		const char *e = strchr(w, ' ');
		size_t len = e ? (size_t)(e - w) : strlen(w);
		if (len == n && strncasecmp(w, p, n) == 0)
			return 1;
		w = e ? e + 1 : NULL;
	}
	return 0;
}

/* A keyword is an atom; anything else cannot be sent. */
static int keyword_ok(const char *p, size_t n)
{
	size_t j;
	int ok = n > 0;

	for (j = 0; j < n && ok; j++)
		ok = (unsigned char)p[j] > 0x20 && (unsigned char)p[j] < 0x7f &&
		     !strchr("(){%*\"\\]", p[j]);
	return ok;
}

void imap_flags_format(const struct store_msg *m, const char *keep,
		       struct buf *out, struct buf *dropped_r)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sys[] = {{STORE_SEEN, "\\Seen"},
		   {STORE_ANSWERED, "\\Answered"},
		   {STORE_FLAGGED, "\\Flagged"},
		   {STORE_DRAFT, "\\Draft"},
		   {STORE_DELETED, "\\Deleted"}};
	const char *p = m->keywords != NULL ? m->keywords : "";
	int first = 1;
	size_t i;

	buf_addch(out, '(');
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (!(m->flags & sys[i].bit))
			continue;
		buf_addf(out, "%s%s", first ? "" : " ", sys[i].name);
		first = 0;
	}
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int ok = keyword_ok(p, n);
		if (ok && keep != NULL && !word_in(keep, p, n)) {
			/* the target would refuse or drop it */
			if (dropped_r != NULL && !word_in(dropped_r->p, p, n)) {
				if (dropped_r->len)
					buf_addch(dropped_r, ' ');
				buf_add(dropped_r, p, n);
			}
			ok = 0;
		}
		if (ok) {
			buf_addf(out, "%s%.*s", first ? "" : " ", (int)n, p);
			first = 0;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	buf_addch(out, ')');
}

void imap_permanentflags_parse(const char *p, size_t len, int *any_r,
			       char **keywords_r)
{
	struct buf kw = BUF_INIT;
	const char *e = p + len;

	*any_r = 0;
	while (p < e) {
		const char *w;
		while (p < e && (*p == ' ' || *p == '(' || *p == ')'))
			p++;
		w = p;
		while (p < e && *p != ' ' && *p != ')')
			p++;
		if (p - w == 2 && w[0] == '\\' && w[1] == '*')
			*any_r = 1;
		else if (p > w && w[0] != '\\') {
			if (kw.len)
				buf_addch(&kw, ' ');
			buf_add(&kw, w, (size_t)(p - w));
		}
	}
	*keywords_r = buf_detach(&kw, NULL);
	buf_release(&kw);
}

/* ---- header fields ---- */

void imap_header_summary(const char *h, size_t len, char *vals[3])
{
	const char *end = h + len;

	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		const char *colon;
		size_t n = eol ? (size_t)(eol - h) : (size_t)(end - h);
		int idx = -1;
		colon = memchr(h, ':', n);
		if (colon != NULL) {
			size_t kl = (size_t)(colon - h);
			if (kl == 7 && strncasecmp(h, "Subject", 7) == 0)
				idx = 0;
			else if (kl == 4 && strncasecmp(h, "From", 4) == 0)
				idx = 1;
			else if (kl == 4 && strncasecmp(h, "Date", 4) == 0)
				idx = 2;
		}
		if (idx >= 0 && vals[idx] == NULL) {
			const char *vs = colon + 1;
			size_t vl = n - (size_t)(vs - h);
			while (vl && (*vs == ' ' || *vs == '\t'))
				vs++, vl--;
			while (vl && (vs[vl - 1] == '\r' || vs[vl - 1] == ' '))
				vl--;
			vals[idx] = xstrndup(vs, vl);
		}
		h = eol ? eol + 1 : end;
	}
}
