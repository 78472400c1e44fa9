/*
 * period_test.c: hsi_period_parse in every accepted spelling, the refusals
 * with their codes and messages, and the calendar arithmetic behind
 * hsi_period_range and hsi_period_index_year.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "error.h"
#include "period.h"

static hsi_period
parse_ok(const char *s)
{
	hsi_period     p;
	hsi_period_err err = { .msg = "" };
	int            rv  = hsi_period_parse(s, strlen(s), &p, &err);
	if (rv != 0) {
		fail_msg(
		    "parse \"%s\": %s (%s)", s, hsi_strerror(rv), err.msg);
	}
	return p;
}

static void
expect(const char *s, hsi_freq freq, int year, int sub, int day)
{
	hsi_period p = parse_ok(s);
	assert_int_equal(p.freq, freq);
	assert_int_equal(p.year, year);
	assert_int_equal(p.sub, sub);
	assert_int_equal(p.day, day);
}

/* Returns the error struct; checks the code and that there is a message. */
static hsi_period_err
expect_err(const char *s, size_t len, int code)
{
	hsi_period     p   = { .freq = HSI_FREQ_DAY, .year = 7 };
	hsi_period_err err = { .msg = "", .offset = 999 };
	int            rv  = hsi_period_parse(s, len, &p, &err);
	if (rv != code) {
		fail_msg(
		    "parse \"%.*s\": got %d, want %d", (int) len, s, rv, code);
	}
	assert_true(strlen(err.msg) > 0);
	assert_true(err.offset <= len);
	/* Out-params are written only on success. */
	assert_int_equal(p.year, 7);
	return err;
}

static void
test_canonical_forms(void **state)
{
	(void) state;
	expect("2024", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("FY2024", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("2024Q1", HSI_FREQ_QUARTER, 2024, 1, 0);
	expect("FY2024Q4", HSI_FREQ_FQUARTER, 2024, 4, 0);
	expect("2024-03", HSI_FREQ_MONTH, 2024, 3, 0);
	expect("2024-03-15", HSI_FREQ_DAY, 2024, 3, 15);
	expect("1900", HSI_FREQ_ANNUAL, 1900, 0, 0);
	expect("2399-12-31", HSI_FREQ_DAY, 2399, 12, 31);
}

static void
test_variants(void **state)
{
	(void) state;
	expect("fy2024", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("Fy2024q2", HSI_FREQ_FQUARTER, 2024, 2, 0);
	expect("2024q3", HSI_FREQ_QUARTER, 2024, 3, 0);
	expect("2024-Q1", HSI_FREQ_QUARTER, 2024, 1, 0);
	expect("2024-q4", HSI_FREQ_QUARTER, 2024, 4, 0);
	expect("2024-A", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("2024-a", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("  2024-03 \t", HSI_FREQ_MONTH, 2024, 3, 0);
}

static void
test_buddhist_era(void **state)
{
	(void) state;
	expect("2567", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("FY2567", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("2567Q1", HSI_FREQ_QUARTER, 2024, 1, 0);
	expect("2567-03", HSI_FREQ_MONTH, 2024, 3, 0);
	expect("2567-03-15", HSI_FREQ_DAY, 2024, 3, 15);
	expect("2567-Q2", HSI_FREQ_QUARTER, 2024, 2, 0);
	expect("2443", HSI_FREQ_ANNUAL, 1900, 0, 0);
	expect("2942-12-31", HSI_FREQ_DAY, 2399, 12, 31);
	/* From 2400 a year is BE: 2400 BE is 1857 CE, too early. */
	expect_err("2400", 4, HSI_ERANGE);
	expect_err("2943", 4, HSI_ERANGE);
}

static void
test_thai_digits_and_prefixes(void **state)
{
	(void) state;
	expect("๒๕๖๗", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("๒๐๒๔-๐๓-๑๕", HSI_FREQ_DAY, 2024, 3, 15);
	expect("2๕67Q๑", HSI_FREQ_QUARTER, 2024, 1, 0);
	expect("พ.ศ. 2567", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("พ.ศ.2567-03", HSI_FREQ_MONTH, 2024, 3, 0);
	expect("พ.ศ.   ๒๕๖๗", HSI_FREQ_ANNUAL, 2024, 0, 0);
	expect("ปีงบประมาณ 2567", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("ปีงบประมาณ ๒๕๖๗", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("ปีงบประมาณ พ.ศ. 2567", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("ปีงบ 2567", HSI_FREQ_FISCAL, 2024, 0, 0);
	expect("ปีงบ2567Q1", HSI_FREQ_FQUARTER, 2024, 1, 0);
}

static void
test_be_prefix_is_explicit(void **state)
{
	(void) state;
	/* "พ.ศ." says the year is BE even below 2400: 2443 BE = 1900 CE. */
	expect("พ.ศ. 2443", HSI_FREQ_ANNUAL, 1900, 0, 0);
	expect_err("พ.ศ. 2024", strlen("พ.ศ. 2024"), HSI_ERANGE);
}

static void
test_round_trip(void **state)
{
	static const char *const in[]
	    = { "2024", "FY2024", "2024Q1", "FY2024Q1", "2024-03",
		      "2024-03-15", "1900-01-01", "FY2399Q4", "2399-12" };
	(void) state;
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		char       buf[HSI_PERIOD_MAX];
		hsi_period p = parse_ok(in[i]);
		hsi_period_format(&p, buf, sizeof buf);
		assert_string_equal(buf, in[i]);
		hsi_period q = parse_ok(buf);
		assert_memory_equal(&p, &q, sizeof p);
	}
	/* Other spellings format to the canonical form. */
	char       buf[HSI_PERIOD_MAX];
	hsi_period p = parse_ok("ปีงบประมาณ ๒๕๖๗");
	hsi_period_format(&p, buf, sizeof buf);
	assert_string_equal(buf, "FY2024");
	p = parse_ok("2567-q3");
	hsi_period_format(&p, buf, sizeof buf);
	assert_string_equal(buf, "2024Q3");
}

static void
expect_range(const char *s, int y0, int m0, int d0, int y1, int m1, int d1)
{
	hsi_period p = parse_ok(s);
	long       first, last;
	hsi_period_range(&p, &first, &last);
	assert_int_equal(first, hsi_days_from_civil(y0, m0, d0));
	assert_int_equal(last, hsi_days_from_civil(y1, m1, d1));
}

static void
test_ranges(void **state)
{
	(void) state;
	expect_range("2024", 2024, 1, 1, 2024, 12, 31);
	expect_range("FY2024", 2023, 10, 1, 2024, 9, 30);
	expect_range("FY2024Q1", 2023, 10, 1, 2023, 12, 31);
	expect_range("FY2024Q2", 2024, 1, 1, 2024, 3, 31);
	expect_range("FY2024Q3", 2024, 4, 1, 2024, 6, 30);
	expect_range("FY2024Q4", 2024, 7, 1, 2024, 9, 30);
	expect_range("2024Q1", 2024, 1, 1, 2024, 3, 31);
	expect_range("2024Q4", 2024, 10, 1, 2024, 12, 31);
	expect_range("2024-02", 2024, 2, 1, 2024, 2, 29);
	expect_range("2023-02", 2023, 2, 1, 2023, 2, 28);
	expect_range("2024-12", 2024, 12, 1, 2024, 12, 31);
	expect_range("2024-03-15", 2024, 3, 15, 2024, 3, 15);
	/* Known values, so the range is not only checked against itself. */
	assert_int_equal(hsi_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(hsi_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(hsi_days_from_civil(2023, 10, 1), 19631);
	assert_int_equal(hsi_days_from_civil(1969, 12, 31), -1);
}

static void
test_leap_years(void **state)
{
	(void) state;
	expect("2024-02-29", HSI_FREQ_DAY, 2024, 2, 29);
	expect("2567-02-29", HSI_FREQ_DAY, 2024, 2, 29);
	expect("2000-02-29", HSI_FREQ_DAY, 2000, 2, 29);
	expect_err("2023-02-29", 10, HSI_ERANGE);
	expect_err("2100-02-29", 10, HSI_ERANGE);
	expect_err("2566-02-29", 10, HSI_ERANGE);
	expect_err("2024-04-31", 10, HSI_ERANGE);
	expect_err("2024-01-00", 10, HSI_ERANGE);
	assert_int_equal(hsi_freq_per_year(HSI_FREQ_DAY, 2024), 366);
	assert_int_equal(hsi_freq_per_year(HSI_FREQ_DAY, 2023), 365);
	assert_int_equal(hsi_freq_per_year(HSI_FREQ_DAY, 1900), 365);
	assert_int_equal(hsi_freq_per_year(HSI_FREQ_DAY, 2000), 366);
}

static void
expect_index(const char *s, int calendar, int fiscal)
{
	hsi_period p = parse_ok(s);
	assert_int_equal(hsi_period_index_year(&p, 0), calendar);
	assert_int_equal(hsi_period_index_year(&p, 1), fiscal);
}

static void
test_index_year(void **state)
{
	(void) state;
	expect_index("2024", 2024, 2024);
	expect_index("FY2024", 2024, 2024);
	expect_index("FY2024Q1", 2024, 2024);
	expect_index("2024Q3", 2024, 2024);
	expect_index("2024Q4", 2024, 2025);
	expect_index("2023-11", 2023, 2024);
	expect_index("2024-03", 2024, 2024);
	expect_index("2024-09-30", 2024, 2024);
	expect_index("2024-10-01", 2024, 2025);
}

static void
test_freq_names(void **state)
{
	static const char *const names[] = { "annual", "fiscal", "quarterly",
		"fquarterly", "monthly", "daily" };
	static const int         per[]   = { 1, 1, 4, 4, 12, 365 };
	(void) state;
	for (int i = 0; i < 6; i++) {
		hsi_freq f = HSI_FREQ_DAY;
		assert_int_equal(hsi_freq_parse(names[i], &f), 0);
		assert_int_equal((int) f, i);
		assert_string_equal(hsi_freq_name(f), names[i]);
		assert_int_equal(hsi_freq_per_year(f, 2023), per[i]);
	}
	hsi_freq f = HSI_FREQ_MONTH;
	assert_int_equal(hsi_freq_parse("yearly", &f), HSI_EINVAL);
	assert_int_equal(f, HSI_FREQ_MONTH);
}

static void
test_bad_inputs(void **state)
{
	(void) state;
	hsi_period_err e;
	e = expect_err("", 0, HSI_EINVAL);
	assert_non_null(strstr(e.msg, "empty"));
	e = expect_err("   ", 3, HSI_EINVAL);
	e = expect_err("20245", 5, HSI_EINVAL);
	assert_int_equal(e.offset, 4);
	assert_non_null(strstr(e.msg, "20245"));
	e = expect_err("2024Q5", 6, HSI_ERANGE);
	assert_int_equal(e.offset, 5);
	assert_non_null(strstr(e.msg, "1..4"));
	e = expect_err("2024Q0", 6, HSI_ERANGE);
	e = expect_err("2024-13", 7, HSI_ERANGE);
	assert_int_equal(e.offset, 5);
	assert_non_null(strstr(e.msg, "month 13"));
	e = expect_err("FY", 2, HSI_EINVAL);
	assert_int_equal(e.offset, 2);
	e = expect_err("abc", 3, HSI_EINVAL);
	assert_int_equal(e.offset, 0);
	assert_non_null(strstr(e.msg, "\"abc\""));
	assert_non_null(strstr(e.msg, "FY2024Q1"));
	e = expect_err("1800", 4, HSI_ERANGE);
	assert_non_null(strstr(e.msg, "1800"));
	e = expect_err("2024x", 5, HSI_EINVAL);
	assert_int_equal(e.offset, 4);
	e = expect_err("FY2024-03", 9, HSI_EINVAL);
	assert_int_equal(e.offset, 6);
	e = expect_err("FY2024-A", 8, HSI_EINVAL);
	e = expect_err("2024-3", 6, HSI_EINVAL);
	e = expect_err("2024-03-1", 9, HSI_EINVAL);
	e = expect_err("2024Q", 5, HSI_EINVAL);
	e = expect_err("2024Q12", 7, HSI_EINVAL);
	e = expect_err("24", 2, HSI_EINVAL);
	e = expect_err("F2024", 5, HSI_EINVAL);
	e = expect_err("2024 Q1", 7, HSI_EINVAL);
	e = expect_err("2024\0", 5, HSI_EINVAL);
	e = expect_err("ปีงบ", strlen("ปีงบ"), HSI_EINVAL);
	/* Offsets count bytes of the input, Thai digits being 3 each. */
	e = expect_err("๒๕๖๗-13", strlen("๒๕๖๗-13"), HSI_ERANGE);
	assert_int_equal(e.offset, 13);
}

static void
test_too_long(void **state)
{
	char s[101];
	(void) state;
	memset(s, '2', sizeof s - 1);
	s[100]           = '\0';
	hsi_period_err e = expect_err(s, 100, HSI_EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
	/* 64 bytes is still parsed (and refused for its content). */
	memset(s, ' ', 60);
	memcpy(s + 60, "2024", 5);
	expect(s, HSI_FREQ_ANNUAL, 2024, 0, 0);
	/* len is what counts, not a NUL: "2024-03" cut to "2024". */
	hsi_period p;
	assert_int_equal(hsi_period_parse("2024-03", 4, &p, NULL), 0);
	assert_int_equal(p.freq, HSI_FREQ_ANNUAL);
	assert_int_equal(hsi_period_parse(s, 65, &p, NULL), HSI_EINVAL);
}

static void
test_messages_stay_utf8(void **state)
{
	(void) state;
	/* Invalid bytes must not be echoed into the message. */
	hsi_period_err e = expect_err("\xff\xfe"
	                              "2024",
	    6, HSI_EINVAL);
	for (const char *m = e.msg; *m != '\0'; m++) {
		assert_true((unsigned char) *m != 0xff);
	}
	assert_true(strlen(e.msg) < sizeof e.msg);
}

static void
test_civil_round_trip(void **state)
{
	long first = hsi_days_from_civil(1600, 1, 1);
	long last  = hsi_days_from_civil(2500, 12, 31);
	long prev  = 0;
	(void) state;
	for (long days = first - 1000; days <= last; days++) {
		int y, m, d;
		hsi_civil_from_days(days, &y, &m, &d);
		assert_in_range(m, 1, 12);
		assert_in_range(d, 1, 31);
		assert_int_equal(hsi_days_from_civil(y, m, d), days);
		/* Dates are strictly increasing, so no day is skipped. */
		long key = (long) y * 10000 + m * 100 + d;
		assert_true(days == first - 1000 || key > prev);
		prev = key;
	}
	int y, m, d;
	hsi_civil_from_days(0, &y, &m, &d);
	assert_true(y == 1970 && m == 1 && d == 1);
	hsi_civil_from_days(-1, &y, &m, &d);
	assert_true(y == 1969 && m == 12 && d == 31);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_forms),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_buddhist_era),
		cmocka_unit_test(test_thai_digits_and_prefixes),
		cmocka_unit_test(test_be_prefix_is_explicit),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_index_year),
		cmocka_unit_test(test_freq_names),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_messages_stay_utf8),
		cmocka_unit_test(test_civil_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
