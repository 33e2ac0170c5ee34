/* fuzz_cliparse.c - libFuzzer target for the command line's numbers
 * (cli/cli.h): cli_parse_size, cli_parse_count, cli_parse_port,
 * cli_parse_time and cli_parse_duration.  The input, as a string, goes
 * to every parser (UBSan catches overflow); each result is -1 or within
 * its documented bounds, and is checked against what the string says,
 * computed independently here:
 *   size      digits[.digits][K|M|G[B|iB]], exact, 0..LLONG_MAX
 *   count     digits, 0..LLONG_MAX
 *   port      digits, 1..65535
 *   duration  digits[s|m|h|d], 1..UINT_MAX seconds
 *   time      "+N[hms]" is now + N units; anything else >= 0 or -1. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* digits from s into *v; -1 on no digit or overflow past max. */
static int digits(const char **s, unsigned __int128 max, unsigned __int128 *v)
{
	const char *p = *s;

	*v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		*v = *v * 10 + (unsigned)(*p - '0');
		if (*v > max)
			return -1;
	}
	*s = p;
	return 0;
}

static long long want_size(const char *s)
{
	unsigned __int128 ip, num = 0, den = 1, mul = 1, r, pow10_30 = 1;
	int i;

	for (i = 0; i < 30; i++)
		pow10_30 *= 10;
	const char *p = s;

	if (digits(&p, (unsigned __int128)LLONG_MAX * 1024 * 1024 * 1024, &ip) <
	    0)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		/* 30 digits are exact: 1/2^30 has 30 decimals */
		for (; *p >= '0' && *p <= '9'; p++)
			if (den < pow10_30) {
				num = num * 10 + (unsigned)(*p - '0');
				den *= 10;
			}
	}
	while (den < pow10_30) {
		num *= 10;
		den *= 10;
	}
	if (*p == 'k' || *p == 'K')
		mul = 1024;
	else if (*p == 'm' || *p == 'M')
		mul = 1024 * 1024;
	else if (*p == 'g' || *p == 'G')
		mul = 1024 * 1024 * 1024;
	if (mul > 1) {
		p++;
		if (strcmp(p, "B") == 0 || strcmp(p, "iB") == 0)
			p += strlen(p);
	}
	if (*p != '\0')
		return -1;
	r = ip * mul + num / (den / mul);
	return r > LLONG_MAX ? -1 : (long long)r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	unsigned __int128 v;
	const char *p;
	long long r, w, now;

	memcpy(s, data, size);
	s[size] = '\0';

	r = cli_parse_size(s);
	w = want_size(s);
	if (r != w)
		abort();

	r = cli_parse_count(s);
	p = s;
	w = digits(&p, LLONG_MAX, &v) == 0 && *p == '\0' ? (long long)v : -1;
	if (r != w)
		abort();

	r = cli_parse_port(s);
	p = s;
	w = digits(&p, 65535, &v) == 0 && *p == '\0' && v >= 1 ? (long long)v
							       : -1;
	if (r != w)
		abort();

	r = cli_parse_duration(s);
	p = s;
	w = -1;
	if (digits(&p, UINT_MAX, &v) == 0 && v > 0) {
		unsigned m = *p == '\0' || strcmp(p, "s") == 0 ? 1
			     : strcmp(p, "m") == 0	       ? 60
			     : strcmp(p, "h") == 0	       ? 3600
			     : strcmp(p, "d") == 0	       ? 86400
							       : 0;
		if (m && v * m <= UINT_MAX)
			w = (long long)(v * m);
	}
	if (r != w)
		abort();

	now = (long long)time(NULL);
	r = cli_parse_time(s);
	if (r < -1)
		abort();
	if (s[0] == '+') {
		p = s + 1;
		w = -1;
		if (digits(&p, LLONG_MAX, &v) == 0) {
			unsigned m = *p == '\0' || strcmp(p, "s") == 0 ? 1
				     : strcmp(p, "m") == 0	       ? 60
				     : strcmp(p, "h") == 0	       ? 3600
								       : 0;
			if (m &&
			    v * m <= (unsigned __int128)(LLONG_MAX - now - 5))
				w = now + (long long)(v * m);
		}
		if (w < 0 ? r != -1 : (r < w || r > w + 5))
			abort();
	}
	free(s);
	return 0;
}
