/*
 * quality_test.c: due days and due instants of every frequency (fiscal
 * years, leap years, the Bangkok day boundary), the enumeration of periods
 * by due day at the edges of a window, the window limits, --grace specs,
 * and the status and roll-up of rows. The database part of quality.c is
 * tested end to end by tests/quality/quality_test.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "period.h"
#include "quality.h"

static long
day(int y, int m, int d)
{
	return hsi_days_from_civil(y, m, d);
}

static hsi_period
per(const char *s)
{
	hsi_period     p;
	hsi_period_err e;
	if (hsi_period_parse(s, strlen(s), &p, &e) != 0) {
		fail_msg("parse %s: %s", s, e.msg);
	}
	return p;
}

static long
due(const hsi_quality_opts *o, const char *s)
{
	hsi_period p = per(s);
	return hsi_quality_due_day(o, &p);
}

/* The canonical forms of the periods of f due in [from, to], joined. */
static int
list(const hsi_quality_opts *o, hsi_freq f, long from, long to, char *buf,
    size_t size)
{
	hsi_period *ps = NULL;
	size_t      n = 0, len = 0;
	int         rv = hsi_quality_periods(o, f, from, to, &ps, &n);
	buf[0]         = '\0';
	for (size_t i = 0; rv == 0 && i < n; i++) {
		char one[HSI_PERIOD_MAX];
		hsi_period_format(&ps[i], one, sizeof(one));
		len += (size_t) snprintf(
		    buf + len, size - len, "%s%s", i ? " " : "", one);
		/* Every period listed is due inside the window. */
		long d = hsi_quality_due_day(o, &ps[i]);
		assert_true(d >= from && d <= to);
	}
	free(ps);
	return rv;
}

static void
test_defaults(void **state)
{
	(void) state;
	hsi_quality_opts o;
	memset(&o, 0xff, sizeof(o));
	hsi_quality_defaults(&o);
	assert_int_equal(o.grace_days[HSI_FREQ_ANNUAL], 90);
	assert_int_equal(o.grace_days[HSI_FREQ_FISCAL], 90);
	assert_int_equal(o.grace_days[HSI_FREQ_QUARTER], 45);
	assert_int_equal(o.grace_days[HSI_FREQ_FQUARTER], 45);
	assert_int_equal(o.grace_days[HSI_FREQ_MONTH], 30);
	assert_int_equal(o.grace_days[HSI_FREQ_DAY], 2);
}

static void
test_due_days(void **state)
{
	(void) state;
	hsi_quality_opts o;
	hsi_quality_defaults(&o);
	/* 2024-12-31 + 90; 2023-12-31 + 90 crosses 29 February. */
	assert_int_equal(due(&o, "2024"), day(2025, 3, 31));
	assert_int_equal(due(&o, "2023"), day(2024, 3, 30));
	/* FY2024 ends 2024-09-30; + 90 */
	assert_int_equal(due(&o, "FY2024"), day(2024, 12, 29));
	assert_int_equal(due(&o, "ปีงบ 2567"), day(2024, 12, 29));
	/* 2024-03-31 + 45 */
	assert_int_equal(due(&o, "2024Q1"), day(2024, 5, 15));
	assert_int_equal(due(&o, "2024Q4"), day(2025, 2, 14));
	/* FY2024Q1 is Oct-Dec 2023; FY2024Q4 ends with the FY. */
	assert_int_equal(due(&o, "FY2024Q1"), day(2024, 2, 14));
	assert_int_equal(due(&o, "FY2024Q4"), day(2024, 11, 14));
	assert_int_equal(due(&o, "2024-03"), day(2024, 4, 30));
	assert_int_equal(due(&o, "2024-12-31"), day(2025, 1, 2));
}

static void
test_leap_years(void **state)
{
	(void) state;
	hsi_quality_opts o;
	hsi_quality_defaults(&o);
	/* The last day of February, seen through a grace of 0. */
	o.grace_days[HSI_FREQ_MONTH] = 0;
	assert_int_equal(due(&o, "2024-02"), day(2024, 2, 29));
	assert_int_equal(due(&o, "2023-02"), day(2023, 2, 28));
	assert_int_equal(due(&o, "2000-02"), day(2000, 2, 29));
	assert_int_equal(due(&o, "2100-02"), day(2100, 2, 28));
	/* Grace counts days, across 29 February. */
	assert_int_equal(due(&o, "2024-02-28"), day(2024, 3, 1));
	assert_int_equal(due(&o, "2023-02-28"), day(2023, 3, 2));
	o.grace_days[HSI_FREQ_QUARTER] = 0;
	assert_int_equal(due(&o, "2024Q1"), day(2024, 3, 31));
}

static void
test_due_instant(void **state)
{
	(void) state;
	long d = day(2025, 3, 31);
	/* End of 31 March in Bangkok = 2025-03-31T17:00:00Z. */
	assert_int_equal(hsi_quality_due_unix(d), 1743440400);
	assert_int_equal(hsi_quality_day_of(hsi_quality_due_unix(d) - 1), d);
	assert_int_equal(hsi_quality_day_of(hsi_quality_due_unix(d)), d + 1);
	/* 1970-01-01 00:00 Bangkok is 1969-12-31T17:00Z. */
	assert_int_equal(hsi_quality_due_unix(-1), -25200);
	assert_int_equal(hsi_quality_day_of(0), 0);
	assert_int_equal(hsi_quality_day_of(-25200), 0);
	assert_int_equal(hsi_quality_day_of(-25201), -1);
}

static void
test_grace_parse(void **state)
{
	(void) state;
	hsi_quality_opts o;
	char             err[200];
	hsi_quality_defaults(&o);
	assert_int_equal(
	    hsi_quality_grace_parse(&o, "monthly=45", err, 200), 0);
	assert_int_equal(o.grace_days[HSI_FREQ_MONTH], 45);
	assert_int_equal(hsi_quality_grace_parse(&o, "daily=0", err, 200), 0);
	assert_int_equal(o.grace_days[HSI_FREQ_DAY], 0);
	assert_int_equal(
	    hsi_quality_grace_parse(&o, "fiscal=3660", err, 200), 0);
	assert_int_equal(o.grace_days[HSI_FREQ_FISCAL], 3660);
	static const struct {
		const char *spec, *says;
		int         rv;
	} bad[] = {
		{ "monthly", "FREQ=DAYS", HSI_EINVAL },
		{ "weekly=3", "unknown frequency 'weekly'", HSI_EINVAL },
		{ "averyveryverylongname=3", "unknown frequency", HSI_EINVAL },
		{ "=3", "unknown frequency", HSI_EINVAL },
		{ "monthly=", "not a whole number", HSI_EINVAL },
		{ "monthly=4x", "'4x' is not a whole number", HSI_EINVAL },
		{ "monthly=-1", "not a whole number", HSI_EINVAL },
		{ "monthly= 1", "not a whole number", HSI_EINVAL },
		{ "monthly=3661", "0 to 3660", HSI_ERANGE },
		{ "monthly=99999999999999999999", "not a whole", HSI_EINVAL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rv = hsi_quality_grace_parse(&o, bad[i].spec, err, 200);
		if (rv != bad[i].rv || strstr(err, bad[i].says) == NULL) {
			fail_msg(
			    "%s: rv %d, message '%s'", bad[i].spec, rv, err);
		}
	}
	/* Refusals leave the options as they were. */
	assert_int_equal(o.grace_days[HSI_FREQ_MONTH], 45);
}

static void
test_window_edges(void **state)
{
	(void) state;
	hsi_quality_opts o;
	char             b[512];
	hsi_quality_defaults(&o);
	long jan = due(&o, "2024-01"), mar = due(&o, "2024-03");
	assert_int_equal(list(&o, HSI_FREQ_MONTH, jan, mar, b, 512), 0);
	assert_string_equal(b, "2024-01 2024-02 2024-03");
	assert_int_equal(
	    list(&o, HSI_FREQ_MONTH, jan + 1, mar - 1, b, 512), 0);
	assert_string_equal(b, "2024-02");
	long y = due(&o, "2024");
	assert_int_equal(list(&o, HSI_FREQ_ANNUAL, y, y, b, 512), 0);
	assert_string_equal(b, "2024");
	assert_int_equal(list(&o, HSI_FREQ_ANNUAL, y + 1, y + 300, b, 512), 0);
	assert_string_equal(b, "");
	/* Due days in calendar 2024. */
	long from = day(2024, 1, 1), to = day(2024, 12, 31);
	assert_int_equal(list(&o, HSI_FREQ_FISCAL, from, to, b, 512), 0);
	assert_string_equal(b, "FY2024");
	assert_int_equal(list(&o, HSI_FREQ_ANNUAL, from, to, b, 512), 0);
	assert_string_equal(b, "2023");
	assert_int_equal(list(&o, HSI_FREQ_FQUARTER, from, to, b, 512), 0);
	assert_string_equal(b, "FY2024Q1 FY2024Q2 FY2024Q3 FY2024Q4");
	assert_int_equal(list(&o, HSI_FREQ_QUARTER, from, to, b, 512), 0);
	assert_string_equal(b, "2023Q4 2024Q1 2024Q2 2024Q3");
	assert_int_equal(list(&o, HSI_FREQ_MONTH, from, to, b, 512), 0);
	assert_string_equal(b,
	    "2023-12 2024-01 2024-02 2024-03 2024-04 2024-05 2024-06 "
	    "2024-07 2024-08 2024-09 2024-10 2024-11");
	/* Daily across 29 February, and without one. */
	assert_int_equal(
	    list(&o, HSI_FREQ_DAY, day(2024, 3, 1), day(2024, 3, 3), b, 512),
	    0);
	assert_string_equal(b, "2024-02-28 2024-02-29 2024-03-01");
	assert_int_equal(
	    list(&o, HSI_FREQ_DAY, day(2023, 3, 1), day(2023, 3, 3), b, 512),
	    0);
	assert_string_equal(b, "2023-02-27 2023-02-28 2023-03-01");
}

/*
 * A window of one day, the due day of p, lists exactly p: for every period
 * of FY2024 and 2024 at every frequency, so the window's first day falls in
 * every month and the period holding it is worked out right each time.
 */
static void
test_single_day_windows(void **state)
{
	(void) state;
	hsi_quality_opts o;
	char             b[64], want[HSI_PERIOD_MAX];
	hsi_quality_defaults(&o);
	long first = day(2023, 10, 1), last = day(2024, 12, 31);
	for (int f = 0; f < HSI_QUALITY_N_FREQ; f++) {
		for (long d = first; d <= last; d++) {
			int        y, m, dd;
			hsi_period p = { .freq = (hsi_freq) f };
			hsi_civil_from_days(d, &y, &m, &dd);
			p.year = f == HSI_FREQ_FISCAL || f == HSI_FREQ_FQUARTER
			    ? (m >= 10 ? y + 1 : y)
			    : y;
			p.sub  = f == HSI_FREQ_QUARTER ? (m - 1) / 3 + 1
			     : f == HSI_FREQ_FQUARTER  ? (m + 2) % 12 / 3 + 1
			     : f >= HSI_FREQ_MONTH     ? m
			                               : 0;
			p.day  = f == HSI_FREQ_DAY ? dd : 0;
			long pf, pl;
			hsi_period_range(&p, &pf, &pl);
			if (pl != d) {
				continue; /* one check per period: its last day
				           */
			}
			long due_day = hsi_quality_due_day(&o, &p);
			hsi_period_format(&p, want, sizeof(want));
			assert_int_equal(list(&o, (hsi_freq) f, due_day,
			                     due_day, b, sizeof(b)),
			    0);
			if (strcmp(b, want) != 0) {
				fail_msg("%s window %ld: got '%s', want '%s'",
				    hsi_freq_name((hsi_freq) f), due_day, b,
				    want);
			}
		}
	}
}

static void
test_year_bounds(void **state)
{
	(void) state;
	hsi_quality_opts o;
	char             b[512];
	hsi_quality_defaults(&o);
	o.grace_days[HSI_FREQ_ANNUAL] = 0;
	/* No period ends before 1900 or after 2399. */
	assert_int_equal(list(&o, HSI_FREQ_ANNUAL, day(1880, 1, 1),
	                     day(1900, 12, 31), b, 512),
	    0);
	assert_string_equal(b, "1900");
	assert_int_equal(list(&o, HSI_FREQ_FISCAL, day(2399, 1, 1),
	                     day(2410, 1, 1), b, 512),
	    0);
	assert_string_equal(b, "FY2399");
	assert_int_equal(
	    list(&o, HSI_FREQ_MONTH, day(1850, 1, 1), day(1860, 1, 1), b, 512),
	    0);
	assert_string_equal(b, "");
}

static void
test_window_limits(void **state)
{
	(void) state;
	hsi_quality_opts o;
	hsi_period      *ps   = (hsi_period *) &o;
	size_t           n    = 77;
	long             from = day(2000, 1, 1);
	hsi_quality_defaults(&o);
	/* 3660 days of daily periods, 40 years of the others. */
	assert_int_equal(hsi_quality_periods(&o, HSI_FREQ_DAY, from,
	                     from + HSI_QUALITY_DAILY_MAX_DAYS - 1, &ps, &n),
	    0);
	assert_int_equal(n, HSI_QUALITY_DAILY_MAX_DAYS);
	free(ps);
	assert_int_equal(hsi_quality_periods(&o, HSI_FREQ_MONTH, from,
	                     from + HSI_QUALITY_WINDOW_MAX_DAYS - 1, &ps, &n),
	    0);
	assert_int_equal(n, 40 * 12);
	free(ps);
	ps = (hsi_period *) &o;
	n  = 77;
	static const struct {
		hsi_freq f;
		long     len;
	} refused[] = {
		{ HSI_FREQ_DAY, HSI_QUALITY_DAILY_MAX_DAYS + 1 },
		{ HSI_FREQ_MONTH, HSI_QUALITY_WINDOW_MAX_DAYS + 1 },
		{ HSI_FREQ_ANNUAL, HSI_QUALITY_WINDOW_MAX_DAYS + 1 },
		{ HSI_FREQ_ANNUAL, 0 }, /* to before from */
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(hsi_quality_periods(&o, refused[i].f, from,
		                     from + refused[i].len - 1, &ps, &n),
		    HSI_ERANGE);
	}
	assert_int_equal(hsi_quality_periods(&o, HSI_FREQ_ANNUAL, -20000000,
	                     -20000000 + 10, &ps, &n),
	    HSI_ERANGE);
	o.grace_days[HSI_FREQ_MONTH] = 3661;
	assert_int_equal(
	    hsi_quality_periods(&o, HSI_FREQ_MONTH, from, from, &ps, &n),
	    HSI_ERANGE);
	o.grace_days[HSI_FREQ_MONTH] = -1;
	assert_int_equal(
	    hsi_quality_periods(&o, HSI_FREQ_MONTH, from, from, &ps, &n),
	    HSI_ERANGE);
	assert_int_equal(
	    hsi_quality_periods(&o, (hsi_freq) 6, from, from, &ps, &n),
	    HSI_EINVAL);
	/* Out-params are written only on success. */
	assert_ptr_equal(ps, (hsi_period *) &o);
	assert_int_equal(n, 77);
}

static hsi_quality_row
row(const char *agency, int year, int64_t due_unix, int exp, int pres,
    int on_time)
{
	hsi_quality_row r;
	memset(&r, 0, sizeof(r));
	snprintf(r.agency, sizeof(r.agency), "%s", agency);
	r.year     = year;
	r.fyear    = year + 1;
	r.due_unix = due_unix;
	r.expected = exp;
	r.present  = pres;
	r.on_time  = on_time;
	return r;
}

static void
test_status(void **state)
{
	(void) state;
	const int64_t   now = 1750000000, day_s = 86400;
	hsi_quality_row full = row("A", 2024, now + 30 * day_s, 77, 77, 0);
	hsi_quality_row past = row("A", 2024, now, 77, 76, 76);
	hsi_quality_row soon = row("A", 2024, now + 7 * day_s, 77, 0, 0);
	hsi_quality_row open = row("A", 2024, now + 7 * day_s + 1, 77, 0, 0);
	assert_string_equal(
	    hsi_quality_status_name(hsi_quality_status_of(&full, now)),
	    "complete");
	/* The due instant itself is past due ("at or before"). */
	assert_true(hsi_quality_due_passed(&past, now));
	assert_false(hsi_quality_due_passed(&past, now - 1));
	assert_int_equal(hsi_quality_status_of(&past, now), HSI_QUALITY_LATE);
	assert_int_equal(
	    hsi_quality_status_of(&past, now - 1), HSI_QUALITY_DUE_SOON);
	assert_int_equal(
	    hsi_quality_status_of(&soon, now), HSI_QUALITY_DUE_SOON);
	assert_int_equal(hsi_quality_status_of(&open, now), HSI_QUALITY_OPEN);
	assert_string_equal(hsi_quality_status_name(HSI_QUALITY_OPEN), "open");
	assert_string_equal(
	    hsi_quality_status_name((hsi_quality_status) 9), "unknown");
}

static void
test_rollup(void **state)
{
	(void) state;
	const int64_t   now    = 1750000000;
	hsi_quality_row rows[] = {
		row("DOH", 2024, now - 10, 77, 77, 70),
		row("DOH", 2024, now + 10, 77, 10, 10), /* not yet due */
		row("DOH", 2023, now - 99, 77, 50, 40),
		row("CDD", 2024, now - 10, 1, 0, 0),
		row("DOH", 2024, now - 20, 77, 76, 76), /* a second block */
	};
	hsi_quality_sum *s = NULL;
	size_t           n = 0;
	assert_int_equal(hsi_quality_rollup(rows, 5, now, 0, &s, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(s[0].agency, "CDD");
	assert_int_equal(s[0].year, 2024);
	assert_int_equal(s[0].late, 1);
	assert_string_equal(s[1].agency, "DOH");
	assert_int_equal(s[1].year, 2023);
	assert_int_equal(s[1].present, 50);
	assert_int_equal(s[1].late, 1);
	assert_string_equal(s[2].agency, "DOH");
	assert_int_equal(s[2].year, 2024);
	assert_int_equal(s[2].pairs, 3);
	assert_int_equal(s[2].expected, 231);
	assert_int_equal(s[2].present, 163);
	assert_int_equal(s[2].expected_due, 154);
	assert_int_equal(s[2].on_time, 146);
	assert_int_equal(s[2].late, 1);
	free(s);
	/* Fiscal index years; nothing in, nothing out. */
	assert_int_equal(hsi_quality_rollup(rows, 3, now, 1, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].year, 2024);
	assert_int_equal(s[1].year, 2025);
	free(s);
	assert_int_equal(hsi_quality_rollup(rows, 0, now, 0, &s, &n), 0);
	assert_int_equal(n, 0);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_due_days),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_due_instant),
		cmocka_unit_test(test_grace_parse),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_single_day_windows),
		cmocka_unit_test(test_year_bounds),
		cmocka_unit_test(test_window_limits),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_rollup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
