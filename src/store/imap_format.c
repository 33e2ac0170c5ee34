/* imap_format.c - INTERNALDATE parsing and formatting; see imap_format.h. */
#include "store/imap_format.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
