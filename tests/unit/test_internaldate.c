/* test_internaldate.c - INTERNALDATE parsing and formatting: valid dates
 * and zones, zones out of range (one that made -tz overflow), junk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "store/imap_format.h"

static void test_valid(void **state)
{
	static const struct {
		const char *in;
		time_t t;
		int tz;
		const char *out;
	} ok[] = {
		{"17-Jul-1996 02:44:25 -0700", 837596665, -420,
		 "17-Jul-1996 02:44:25 -0700"},
		{" 1-Jan-2024 00:00:00 +0000", 1704067200, 0,
		 "01-Jan-2024 00:00:00 +0000"},
		{"01-jan-2024 00:00:00 +0530", 1704067200 - 330 * 60, 330,
		 "01-Jan-2024 00:00:00 +0530"},
		{"31-Dec-1999 23:59:59 +2359", 946684799 - 1439 * 60, 1439,
		 "31-Dec-1999 23:59:59 +2359"},
		{"29-Feb-2024 12:00:00 -2359", 1709208000 + 1439 * 60, -1439,
		 "29-Feb-2024 12:00:00 -2359"},
		{"14-Nov-2023 22:13:20 -0000", 1700000000, 0,
		 "14-Nov-2023 22:13:20 +0000"},
		/* a day the month lacks rolls over, as timegm does */
		{"31-Apr-1996 02:44:25 +0000", 830918665, 0,
		 "01-May-1996 02:44:25 +0000"},
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		time_t t = 0;
		int tz = 99;
		assert_int_equal(imap_parse_internaldate(ok[i].in, &t, &tz), 0);
		assert_int_equal(t, ok[i].t);
		assert_int_equal(tz, ok[i].tz);
		imap_format_internaldate(t, tz, buf, sizeof(buf));
		assert_string_equal(buf, ok[i].out);
	}
}

/* Zones outside +-2359 (hhmm with mm < 60): refused, never overflowing.
 * -2147483648 was INT_MIN after sscanf, and -tz is undefined. */
static void test_bad_zone(void **state)
{
	static const char *const bad[] = {
		"17-Jul-1996 02:44:25 -2147483648",
		"17-Jul-1996 02:44:25 +2147483647",
		"17-Jul-1996 02:44:25 -99999999999999999999",
		"17-Jul-1996 02:44:25 +2400",
		"17-Jul-1996 02:44:25 -0060",
		"17-Jul-1996 02:44:25 +9999",
		"17-Jul-1996 02:44:25 +700",
		"17-Jul-1996 02:44:25 0700",
		"17-Jul-1996 02:44:25 +07000",
		"17-Jul-1996 02:44:25 --700",
		"17-Jul-1996 02:44:25 +-700",
		"17-Jul-1996 02:44:25 + 0700",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t = 0;
		int tz = 0;
		if (imap_parse_internaldate(bad[i], &t, &tz) != -1)
			fail_msg("accepted %s (tz %d)", bad[i], tz);
	}
}

static void test_junk(void **state)
{
	static const char *const bad[] = {
		"",
		"17-Jul-1996",
		"17-Jul-1996 02:44:25",
		"17-Jux-1996 02:44:25 +0000",
		"0-Jul-1996 02:44:25 +0000",
		"32-Jul-1996 02:44:25 +0000",
		"17-Jul-96 02:44:25 +0000",
		"17-Jul-1996 24:00:00 +0000",
		"17-Jul-1996 -1:44:25 +0000",
		"17-Jul-1996 02:-4:25 +0000",
		"17-Jul-1996 02:60:25 +0000",
		"17-Jul-1996 02:44:61 +0000",
		"-17-Jul-1996 02:44:25 +0000",
		"99999999999-Jul-1996 02:44:25 +0000",
		"17-Jul-99999999999 02:44:25 +0000",
		"17-Jul-1996 02:44:25 +0000 trailing",
		"17-Jul-1996  02:44:25 +0000",
		"17 Jul 1996 02:44:25 +0000",
		"31-Dec-9999 23:59:60 +0000",
		"31-Dec-1899 23:59:59 +0000",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t = 0;
		int tz = 0;
		if (imap_parse_internaldate(bad[i], &t, &tz) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
}

/* A zone or time that did not come from the parser is still formatted
 * as a valid date-time, never out of range of the month table. */
static void test_format_hostile(void **state)
{
	char buf[64];

	(void)state;
	imap_format_internaldate(0, INT_MIN, buf, sizeof(buf));
	assert_string_equal(buf, "01-Jan-1970 00:00:00 +0000");
	imap_format_internaldate(0, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "01-Jan-1970 00:00:00 +0000");
	imap_format_internaldate((time_t)INT64_MAX, 0, buf, sizeof(buf));
	assert_string_equal(buf, "01-Jan-1970 00:00:00 +0000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_bad_zone),
		cmocka_unit_test(test_junk),
		cmocka_unit_test(test_format_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
