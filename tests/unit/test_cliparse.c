/* test_cliparse.c - the command line's sizes, counts, ports, times and
 * durations (cli/cli.h); cases found by fuzz/fuzz_cliparse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <time.h>

#include "cli/cli.h"

static void test_size(void **state)
{
	(void)state;
	assert_int_equal(cli_parse_size("35M"), 35ll * 1024 * 1024);
	assert_int_equal(cli_parse_size("35MB"), 35ll * 1024 * 1024);
	assert_int_equal(cli_parse_size("35MiB"), 35ll * 1024 * 1024);
	assert_int_equal(cli_parse_size("1G"), 1024ll * 1024 * 1024);
	assert_int_equal(cli_parse_size("1.5k"), 1536);
	assert_int_equal(cli_parse_size("500000"), 500000);
	assert_int_equal(cli_parse_size("36700160"), 36700160);
	assert_int_equal(cli_parse_size("0"), 0);
	assert_int_equal(cli_parse_size("0.000000000931322574615478515625G"),
			 1);
	assert_int_equal(cli_parse_size("0.000000000931322574615478515624G"),
			 0);
	assert_int_equal(cli_parse_size("2.9999999999999999999999999999k"),
			 3071);
	/* exact beyond a double's 53 bits */
	assert_int_equal(cli_parse_size("9007199254740993"),
			 9007199254740993ll);
	assert_int_equal(cli_parse_size("9223372036854775807"), LLONG_MAX);
	/* overflow, and what strtod takes but a size is not */
	assert_int_equal(cli_parse_size("9223372036854775808"), -1);
	assert_int_equal(cli_parse_size("8589934592G"), -1);
	assert_int_equal(cli_parse_size("1e300"), -1);
	assert_int_equal(cli_parse_size("inf"), -1);
	assert_int_equal(cli_parse_size("nan"), -1);
	assert_int_equal(cli_parse_size("0x10"), -1);
	assert_int_equal(cli_parse_size(" 5"), -1);
	assert_int_equal(cli_parse_size("-0"), -1);
	assert_int_equal(cli_parse_size(""), -1);
	assert_int_equal(cli_parse_size("5B"), -1);
	assert_int_equal(cli_parse_size("5MX"), -1);
	assert_int_equal(cli_parse_size("."), -1);
}

static void test_count_port(void **state)
{
	(void)state;
	assert_int_equal(cli_parse_count("0"), 0);
	assert_int_equal(cli_parse_count("20"), 20);
	assert_int_equal(cli_parse_count("9223372036854775808"), -1);
	assert_int_equal(cli_parse_count(" 5"), -1);
	assert_int_equal(cli_parse_count("+5"), -1);
	assert_int_equal(cli_parse_count("-1"), -1);
	assert_int_equal(cli_parse_port("993"), 993);
	assert_int_equal(cli_parse_port("65535"), 65535);
	assert_int_equal(cli_parse_port("65536"), -1);
	assert_int_equal(cli_parse_port("0"), -1);
	assert_int_equal(cli_parse_port(" 143"), -1);
	assert_int_equal(cli_parse_port("+143"), -1);
}

static void test_time(void **state)
{
	long long now = (long long)time(NULL), t;

	(void)state;
	assert_int_equal(cli_parse_time("2026-11-25 10:00"), 1795600800ll);
	assert_int_equal(cli_parse_time("2026-11-25T10:00:00Z"), 1795600800ll);
	t = cli_parse_time("+2h");
	assert_true(t >= now + 7200 && t <= now + 7200 + 5);
	/* overflow is refused, not undefined */
	assert_int_equal(cli_parse_time("+9223372036854775807h"), -1);
	assert_int_equal(cli_parse_time("+99999999999999999999"), -1);
	assert_int_equal(cli_parse_time("+ 5"), -1);
	/* before 1970: refused, not a negative time */
	assert_int_equal(cli_parse_time("1900-01-01"), -1);
	assert_int_equal(cli_parse_time("26-11-250: 0Z"), -1);
	assert_int_equal(cli_parse_time("+-5"), -1);
}

static void test_duration(void **state)
{
	(void)state;
	assert_int_equal(cli_parse_duration("24h"), 86400);
	assert_int_equal(cli_parse_duration("30m"), 1800);
	assert_int_equal(cli_parse_duration("90s"), 90);
	assert_int_equal(cli_parse_duration("90"), 90);
	assert_int_equal(cli_parse_duration("2d"), 172800);
	assert_int_equal(cli_parse_duration("0"), -1);
	assert_int_equal(cli_parse_duration("-5m"), -1);
	assert_int_equal(cli_parse_duration("5x"), -1);
	/* no more than the scheduler can hold (unsigned seconds) */
	assert_int_equal(cli_parse_duration("4294967295"), 4294967295ll);
	assert_int_equal(cli_parse_duration("4294967296"), -1);
	assert_int_equal(cli_parse_duration("5000000000s"), -1);
	assert_int_equal(cli_parse_duration("106751991167301d"), -1);
	assert_int_equal(cli_parse_duration("99999999999999999999"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_count_port),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
