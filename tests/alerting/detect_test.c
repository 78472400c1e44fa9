/*
 * detect_test.c: the statistics of the data-quality rules (detect.h):
 * robust z-scores with their MAD and mean-deviation paths and skips,
 * year-on-year jumps around zero and across signs, weekly-seasonal
 * spikes checked against a brute-force scan, and the English and Thai
 * reason texts cut at every buffer size.
 *
 * Expected numbers come from an independent computation, cited where
 * they are used (Python 3's statistics.median / statistics.mean).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "error.h"
#include "period.h"

/* ---- helpers ------------------------------------------------------ */

/* Strict UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF, no truncated sequence. */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	while (*p != 0) {
		unsigned cp;
		int      more;
		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xE0) == 0xC0) {
			more = 1;
			cp   = *p & 0x1Fu;
		} else if ((*p & 0xF0) == 0xE0) {
			more = 2;
			cp   = *p & 0x0Fu;
		} else if ((*p & 0xF8) == 0xF0) {
			more = 3;
			cp   = *p & 0x07u;
		} else {
			return 0;
		}
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xC0) != 0x80) {
				return 0;
			}
			cp = (cp << 6) | (*p & 0x3Fu);
		}
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800)
		    || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF))
		    || (cp >= 0xD800 && cp <= 0xDFFF)) {
			return 0;
		}
	}
	return 1;
}

/* cmocka 1.1 compares floats only; this is for doubles. */
static void
near_at(double a, double b, double eps, const char *expr, int line)
{
	if (!(fabs(a - b) <= eps)) {
		fail_msg("line %d: %s is %.17g, want %.17g", line, expr, a, b);
	}
}
#define assert_near(a, b, eps) near_at((a), (b), (eps), #a, __LINE__)

typedef void (*reason_fn)(
    const void *ctx, char *en, size_t en_size, char *th, size_t th_size);

/*
 * Writes the reason into heap buffers of exactly 1..200 bytes (so ASan
 * sees any overrun) and checks each is NUL-terminated, valid UTF-8, a
 * prefix of the full text, and cut no more than one character short.
 */
static void
check_cuts(reason_fn fn, const void *ctx)
{
	char full_en[2048], full_th[2048];
	fn(ctx, full_en, sizeof(full_en), full_th, sizeof(full_th));
	assert_true(utf8_valid(full_en));
	assert_true(utf8_valid(full_th));
	/* The Thai texts are long enough to be cut at every size tried. */
	assert_true(strlen(full_th) > 200);
	for (size_t size = 1; size <= 200; size++) {
		char *en = malloc(size), *th = malloc(size);
		assert_non_null(en);
		assert_non_null(th);
		memset(en, 0x55, size);
		memset(th, 0x55, size);
		fn(ctx, en, size, th, size);
		const char *bufs[2]  = { en, th },
		           *fulls[2] = { full_en, full_th };
		for (int i = 0; i < 2; i++) {
			const char *b = bufs[i], *f = fulls[i];
			assert_non_null(memchr(b, '\0', size));
			size_t len = strlen(b), flen = strlen(f);
			assert_true(utf8_valid(b));
			assert_memory_equal(b, f, len);
			size_t want = flen < size - 1 ? flen : size - 1;
			assert_true(len <= want && len + 3 >= want);
			if (flen < size) {
				assert_string_equal(b, f);
			}
		}
		free(en);
		free(th);
	}
}

static int
fit(const double *x, size_t n, size_t min_n, hsi_robust *out)
{
	double scratch[64];
	assert_true(n <= 64);
	return hsi_robust_fit(x, n, scratch, min_n, out);
}

/* ---- robust z ----------------------------------------------------- */

static void
test_median_odd_even(void **state)
{
	(void) state;
	hsi_robust r;
	/* statistics.median([3, 1, 2]) == 2 */
	assert_int_equal(fit((double[]) { 3, 1, 2 }, 3, 3, &r), 0);
	assert_true(r.median == 2);
	/* statistics.median([4, 1, 3, 2]) == 2.5 */
	assert_int_equal(fit((double[]) { 4, 1, 3, 2 }, 4, 3, &r), 0);
	assert_true(r.median == 2.5);
	/* [1, 2, 3, 4, 100]: median 3, deviations [2, 1, 0, 1, 97],
	 * statistics.median of those == 1, mean == 20.2 */
	assert_int_equal(fit((double[]) { 1, 2, 3, 4, 100 }, 5, 5, &r), 0);
	assert_true(r.median == 3);
	assert_true(r.mad == 1);
	assert_near(r.meanad, 20.2, 1e-12);
	assert_int_equal(r.n, 5);
	/* Even n of deviations too: [1, 2, 4, 8]: median 3, deviations
	 * [2, 1, 1, 5] -> MAD 1.5 */
	assert_int_equal(fit((double[]) { 8, 1, 4, 2 }, 4, 3, &r), 0);
	assert_true(r.median == 3);
	assert_true(r.mad == 1.5);
}

/* Ten provinces' values of one indicator, one of them implausible. */
static const double prov10[]
    = { 120.5, 98.2, 143.0, 110.7, 412.0, 131.9, 105.3, 127.4, 115.8, 139.6 };

static void
test_mad_known(void **state)
{
	(void) state;
	hsi_robust r;
	double     z;
	int        flagged;
	/*
	 * python3: m = statistics.median(prov10) -> 123.95;
	 * statistics.median([abs(v - m) for v in prov10]) ->
	 * 14.449999999999996; statistics.mean of those -> 40.34;
	 * 0.6745 * (412 - m) / mad -> 13.445655709342565;
	 * for 98.2 -> -1.2019636678200696.
	 */
	assert_int_equal(fit(prov10, 10, HSI_ROBUST_MIN_N, &r), 0);
	assert_string_equal(r.method, "mad");
	assert_near(r.median, 123.95, 1e-12);
	assert_near(r.mad, 14.449999999999996, 1e-12);
	assert_near(r.meanad, 40.34, 1e-12);
	assert_near(r.scale, 14.449999999999996 / 0.6745, 1e-12);
	assert_near(hsi_robust_z(&r, 412.0), 13.445655709342565, 1e-9);
	assert_int_equal(
	    hsi_robust_check(&r, 412.0, HSI_ROBUST_THRESHOLD, &z, &flagged),
	    0);
	assert_true(flagged);
	assert_int_equal(
	    hsi_robust_check(&r, 98.2, HSI_ROBUST_THRESHOLD, &z, &flagged), 0);
	assert_false(flagged);
	assert_near(z, -1.2019636678200696, 1e-9);

	/*
	 * The first nine only (odd n): median 120.5, MAD
	 * 11.400000000000006, mean deviation 42.7, z(412) =
	 * 17.247083333333325 (python3, as above).
	 */
	assert_int_equal(fit(prov10, 9, HSI_ROBUST_MIN_N, &r), 0);
	assert_true(r.median == 120.5);
	assert_near(r.mad, 11.400000000000006, 1e-12);
	assert_near(r.meanad, 42.7, 1e-12);
	assert_near(hsi_robust_z(&r, 412.0), 17.247083333333325, 1e-9);
}

static void
test_meanad_fallback(void **state)
{
	(void) state;
	hsi_robust r;
	double     z;
	int        flagged;
	/*
	 * [5, 5, 5, 5, 5, 5, 9]: median 5, MAD 0; mean deviation
	 * statistics.mean([0]*6 + [4]) = 0.5714285714285714;
	 * z(9) = 4 / (1.253314 * 4 / 7) = 5.585192537544462 (python3).
	 */
	assert_int_equal(fit((double[]) { 5, 5, 5, 5, 5, 5, 9 }, 7, 5, &r), 0);
	assert_string_equal(r.method, "meanad");
	assert_true(r.median == 5);
	assert_true(r.mad == 0);
	assert_near(r.meanad, 4.0 / 7, 1e-15);
	assert_near(r.scale, 1.253314 * 4 / 7, 1e-15);
	assert_near(hsi_robust_z(&r, 9), 5.585192537544462, 1e-9);
	assert_true(hsi_robust_z(&r, 5) == 0);
	assert_int_equal(hsi_robust_check(&r, 9, 3.5, &z, &flagged), 0);
	assert_true(flagged);
	assert_int_equal(hsi_robust_check(&r, 5, 3.5, &z, &flagged), 0);
	assert_false(flagged);
}

static void
test_skips(void **state)
{
	(void) state;
	hsi_robust  r, untouched;
	const char *en, *th;
	memset(&untouched, 0x5A, sizeof(untouched));

	r = untouched;
	assert_int_equal(fit((double[]) { 7, 7, 7, 7, 7 }, 5, 5, &r),
	    HSI_DETECT_SKIP_NO_SPREAD);
	assert_memory_equal(&r, &untouched, sizeof(r));
	assert_true(hsi_detect_is_skip(HSI_DETECT_SKIP_NO_SPREAD));

	/* Four values: too few by default, enough with a minimum of 3. */
	const double four[] = { 1, 2, 3, 40 };
	assert_int_equal(
	    fit(four, 4, HSI_ROBUST_MIN_N, &r), HSI_DETECT_SKIP_FEW);
	assert_memory_equal(&r, &untouched, sizeof(r));
	assert_true(hsi_detect_is_skip(HSI_DETECT_SKIP_FEW));
	assert_int_equal(fit(four, 4, 3, &r), 0);
	assert_int_equal(fit(four, 0, 3, &r), HSI_DETECT_SKIP_FEW);
	/* A minimum below 3 is refused, not honoured. */
	assert_int_equal(fit(four, 4, 2, &r), HSI_EINVAL);

	/* Each skip has its own reason, in both languages. */
	hsi_detect_skip_reason(HSI_DETECT_SKIP_FEW, &en, &th);
	assert_non_null(strstr(en, "fewer values"));
	assert_true(utf8_valid(th) && strlen(th) > 0);
	const char *few_th = th;
	hsi_detect_skip_reason(HSI_DETECT_SKIP_NO_SPREAD, &en, &th);
	assert_non_null(strstr(en, "all values are equal"));
	assert_true(th != few_th);
	hsi_detect_skip_reason(HSI_DETECT_SKIP_FEW_WEEKDAYS, &en, NULL);
	assert_non_null(strstr(en, "same-weekday"));
	hsi_detect_skip_reason(HSI_EINVAL, &en, &th);
	assert_string_equal(en, hsi_strerror(HSI_EINVAL));
	assert_false(hsi_detect_is_skip(0));
	assert_false(hsi_detect_is_skip(HSI_EINVAL));
}

static void
test_nonfinite_refused(void **state)
{
	(void) state;
	hsi_robust r, untouched;
	double     z;
	int        flagged;
	memset(&untouched, 0x5A, sizeof(untouched));
	const double bad[] = { NAN, INFINITY, -INFINITY };
	for (int b = 0; b < 3; b++) {
		for (int at = 0; at < 6; at++) {
			double x[6] = { 1, 2, 3, 4, 5, 6 };
			x[at]       = bad[b];
			r           = untouched;
			assert_int_equal(fit(x, 6, 5, &r), HSI_EINVAL);
			assert_memory_equal(&r, &untouched, sizeof(r));
		}
	}
	/* Refused even when too few to judge: bad data is reported. */
	assert_int_equal(fit((double[]) { 1, NAN }, 2, 5, &r), HSI_EINVAL);

	assert_int_equal(fit(prov10, 10, 5, &r), 0);
	assert_int_equal(
	    hsi_robust_check(&r, NAN, 3.5, &z, &flagged), HSI_EINVAL);
	assert_int_equal(
	    hsi_robust_check(&r, INFINITY, 3.5, &z, &flagged), HSI_EINVAL);
	assert_int_equal(
	    hsi_robust_check(&r, 1, NAN, &z, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_robust_check(&r, 1, 0, &z, &flagged), HSI_EINVAL);

	/* Finite values whose deviations overflow a double. */
	const double huge[] = { -1e308, -1e308, 0, 1e308, 1e308 };
	assert_int_equal(fit(huge, 5, 5, &r), HSI_ERANGE);

	double scratch[4];
	assert_int_equal(hsi_robust_fit(NULL, 4, scratch, 3, &r), HSI_EINVAL);
	assert_int_equal(hsi_robust_fit(prov10, 4, NULL, 3, &r), HSI_EINVAL);
	assert_int_equal(
	    hsi_robust_fit(prov10, 4, scratch, 3, NULL), HSI_EINVAL);
}

static void
test_caller_array_kept(void **state)
{
	(void) state;
	double     x[10], before[10], scratch[10];
	hsi_robust r;
	memcpy(x, prov10, sizeof(x));
	memcpy(before, x, sizeof(x));
	assert_int_equal(hsi_robust_fit(x, 10, scratch, 5, &r), 0);
	assert_memory_equal(x, before, sizeof(x));
	/* The scratch buffer may not be the input itself. */
	assert_int_equal(hsi_robust_fit(x, 10, x, 5, &r), HSI_EINVAL);
	assert_memory_equal(x, before, sizeof(x));
}

static void
test_threshold_boundary(void **state)
{
	(void) state;
	/*
	 * With MAD exactly 0.6745 (the double of the constant) the scale
	 * is exactly 1, so z(v) == v - median exactly: 3.5 sits on the
	 * threshold and must not flag under "|z| > 3.5".
	 */
	const double k   = 0.6745;
	const double x[] = { -2 * k, -k, 0, k, 2 * k };
	hsi_robust   r;
	double       z;
	int          flagged;
	assert_int_equal(fit(x, 5, 5, &r), 0);
	assert_true(r.mad == k);
	assert_true(r.scale == 1.0);
	assert_int_equal(hsi_robust_check(&r, 3.5, 3.5, &z, &flagged), 0);
	assert_true(z == 3.5);
	assert_false(flagged);
	assert_int_equal(hsi_robust_check(&r, -3.5, 3.5, &z, &flagged), 0);
	assert_false(flagged);
	assert_int_equal(
	    hsi_robust_check(&r, nextafter(3.5, 4), 3.5, &z, &flagged), 0);
	assert_true(flagged);
	assert_int_equal(
	    hsi_robust_check(&r, nextafter(-3.5, -4), 3.5, &z, &flagged), 0);
	assert_true(flagged);
}

static void
robust_reason_fn(
    const void *ctx, char *en, size_t en_size, char *th, size_t th_size)
{
	(void) ctx;
	hsi_robust r;
	assert_int_equal(fit(prov10, 10, 5, &r), 0);
	hsi_robust_reason(
	    &r, 412.0, "provinces", "จังหวัด", en, en_size, th, th_size);
}

static void
robust_meanad_reason_fn(
    const void *ctx, char *en, size_t en_size, char *th, size_t th_size)
{
	(void) ctx;
	hsi_robust r;
	assert_int_equal(fit((double[]) { 5, 5, 5, 5, 5, 5, 9 }, 7, 5, &r), 0);
	hsi_robust_reason(&r, 9, NULL, NULL, en, en_size, th, th_size);
}

static void
test_robust_reason(void **state)
{
	(void) state;
	char en[512], th[512];
	/* python3: '%.1f' % z(412) -> '13.4', median -> '124.0', MAD ->
	 * '14.4' (statistics as in test_mad_known). */
	robust_reason_fn(NULL, en, sizeof(en), th, sizeof(th));
	assert_string_equal(en,
	    "value 412.0 is 13.4 robust z above the median 124.0 of 10 "
	    "provinces (MAD 14.4)");
	assert_string_equal(th,
	    "ค่า 412.0 สูงกว่าค่ามัธยฐาน 124.0 ของ 10 จังหวัด 13.4 "
	    "เท่าของค่าเบี่ยงเบนแบบทนทาน (MAD 14.4)");

	/* Below the median, and units left to the default. */
	hsi_robust r;
	assert_int_equal(fit(prov10, 10, 5, &r), 0);
	hsi_robust_reason(
	    &r, 98.2, NULL, NULL, en, sizeof(en), th, sizeof(th));
	assert_non_null(strstr(en, "1.2 robust z below the median"));
	assert_non_null(strstr(en, "of 10 areas"));
	assert_non_null(strstr(th, "ต่ำกว่าค่ามัธยฐาน"));

	/* The mean-deviation path says so; 4/7 prints as 0.57. */
	robust_meanad_reason_fn(NULL, en, sizeof(en), th, sizeof(th));
	assert_string_equal(en,
	    "value 9.0 is 5.6 robust z above the median 5.0 of 7 areas (MAD "
	    "0, so scaled by the mean absolute deviation 0.57)");
	assert_non_null(strstr(th, "ค่าเบี่ยงเบนสัมบูรณ์เฉลี่ย 0.57"));

	/* NULL buffers are allowed. */
	hsi_robust_reason(&r, 1, NULL, NULL, NULL, 0, NULL, 0);

	check_cuts(robust_reason_fn, NULL);
	check_cuts(robust_meanad_reason_fn, NULL);
}

/* ---- year-on-year jump -------------------------------------------- */

static void
test_jump(void **state)
{
	(void) state;
	static const struct {
		double prev, cur, factor, min_abs, ratio;
		int    flagged;
	} cases[] = {
		{ 10, 25, 2, 0, 2.5, 1 },        /* rise */
		{ 10, 20, 2, 0, 2.0, 0 },        /* exactly the factor */
		{ 10, 4, 2, 0, 2.5, 1 },         /* fall */
		{ 10, 5, 2, 0, 2.0, 0 },         /* exactly the factor */
		{ 10, 12, 2, 0, 1.2, 0 },        /* ordinary change */
		{ 0, 0, 2, 0, 1.0, 0 },          /* both zero */
		{ -0.0, 0, 2, 0, 1.0, 0 },       /* negative zero is zero */
		{ 0, 0.3, 2, 1, INFINITY, 0 },   /* from 0, under min_abs */
		{ 0, 250, 2, 1, INFINITY, 1 },   /* from 0, over min_abs */
		{ 250, 0, 2, 1, INFINITY, 1 },   /* to 0, over min_abs */
		{ 0, -250, 2, 1, INFINITY, 1 },  /* magnitude counts */
		{ 0, 1, 2, 1, INFINITY, 0 },     /* min_abs itself is noise */
		{ -10, -25, 2, 0, 2.5, 1 },      /* both negative, grows */
		{ -10, -4, 2, 0, 2.5, 1 },       /* both negative, shrinks */
		{ -10, -15, 2, 0, 1.5, 0 },      /* both negative, ordinary */
		{ -1, 1, 2, 0, 3.0, 1 },         /* sign change */
		{ 5, -0.01, 2, 0, 2.002, 1 },    /* sign change, just */
		{ -0.01, 0.01, 2, 0.5, 3.0, 0 }, /* wobble across 0 */
		{ -0.01, 0.01, 4, 0, 3.0, 0 },   /* under a larger factor */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double ratio   = -1;
		int    flagged = -1;
		assert_int_equal(
		    hsi_jump(cases[i].prev, cases[i].cur, cases[i].factor,
		        cases[i].min_abs, &ratio, &flagged),
		    0);
		if (isinf(cases[i].ratio)) {
			assert_true(isinf(ratio) && ratio > 0);
		} else {
			assert_near(ratio, cases[i].ratio, 1e-12);
		}
		if (flagged != cases[i].flagged) {
			fail_msg("case %zu: %g -> %g flagged %d", i,
			    cases[i].prev, cases[i].cur, flagged);
		}
	}

	double ratio   = -1;
	int    flagged = -1;
	assert_int_equal(hsi_jump(1, 2, 1, 0, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(1, 2, 0.5, 0, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(1, 2, NAN, 0, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(NAN, 2, 2, 0, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(
	    hsi_jump(1, INFINITY, 2, 0, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(1, 2, 2, -1, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(1, 2, 2, NAN, &ratio, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(1, 2, 2, 0, NULL, &flagged), HSI_EINVAL);
	assert_int_equal(hsi_jump(1, 2, 2, 0, &ratio, NULL), HSI_EINVAL);
	/* Out-params untouched on error. */
	assert_true(ratio == -1 && flagged == -1);
}

/* ---- spikes ------------------------------------------------------- */

static uint64_t rng_state;

static double
urand(void)
{
	rng_state
	    = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (rng_state >> 11) * 0x1.0p-53;
}

/* Knuth's Poisson sampler; fine for small lambda. */
static double
poisson(double lambda)
{
	double limit = exp(-lambda), p = 1;
	int    k = 0;
	do {
		k++;
		p *= urand();
	} while (p > limit);
	return (double) (k - 1);
}

/* 2025-03-03 was a Monday (python3: datetime.date(2025, 3, 3).weekday()
 * == 0; day number 20150). */
#define MON_2025_03_03 20150L

/* Eight Mondays of 18 before 2025-03-03, other days 5. */
static size_t
flat_mondays(long *days, double *vals, double monday)
{
	size_t n = 0;
	for (long d = MON_2025_03_03 - 56; d < MON_2025_03_03; d++) {
		days[n]   = d;
		vals[n++] = (d - MON_2025_03_03) % 7 == 0 ? monday : 5;
	}
	return n;
}

static void
test_spike_example(void **state)
{
	(void) state;
	long      days[64];
	double    vals[64];
	hsi_spike s;
	char      en[512], th[1024];
	size_t    n = flat_mondays(days, vals, 18);
	assert_int_equal(hsi_spike_check_series(days, vals, n), 0);
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, 57, NULL, &s), 0);
	assert_int_equal(s.weekday, 0);
	assert_int_equal(s.n_same, 8);
	assert_true(s.baseline == 18);
	assert_true(s.mad == 0);
	/* Flat history: the Poisson floor sqrt(18) is the spread;
	 * python3: 39 / math.sqrt(18) == 9.19238815542512 */
	assert_near(s.spread, sqrt(18), 1e-12);
	assert_true(s.excess == 39);
	assert_near(s.z, 9.19238815542512, 1e-9);
	assert_near(s.ratio, 57.0 / 18, 1e-12);
	assert_true(s.big_excess && s.big_ratio && s.big_z && s.flagged);

	hsi_spike_reason(
	    &s, "1300 hotline", "สายด่วน 1300", en, sizeof(en), th, sizeof(th));
	assert_string_equal(en,
	    "1300 hotline: 57 cases on Mon 2025-03-03, 3.2× the usual 18 for "
	    "a Monday (median of the last 8 Mondays); excess 39 = 9.2 "
	    "spreads");
	assert_string_equal(th,
	    "สายด่วน 1300: 57 ราย ในวันจันทร์ที่ 3 มี.ค. 2568 เป็น 3.2 "
	    "เท่าของค่าปกติ 18 ราย ของวันจันทร์ (มัธยฐานของวันจันทร์ 8 "
	    "สัปดาห์ก่อนหน้า); ส่วนเกิน 39 = 9.2 เท่าของค่าการกระจาย");

	/* The boundaries are inclusive: 36 is exactly 2x, excess 18 >= 10,
	 * 18 / sqrt(18) = 4.24 >= 4. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, 36, NULL, &s), 0);
	assert_true(s.big_ratio && s.flagged);
	/* 35: under 2x, so not a spike, and the text says why. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, 35, NULL, &s), 0);
	assert_true(s.big_excess && s.big_z);
	assert_false(s.big_ratio);
	assert_false(s.flagged);
	hsi_spike_reason(&s, NULL, NULL, en, sizeof(en), th, sizeof(th));
	assert_true(strncmp(en, "35 cases on Mon", 15) == 0);
	assert_non_null(strstr(en, "; not a spike: under 2.0× the usual"));
	assert_null(strstr(en, "excess under"));
	assert_non_null(strstr(th, "ไม่ถึง 2.0 เท่าของค่าปกติ"));
	/* 25: fails all three. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, 25, NULL, &s), 0);
	assert_false(s.big_excess || s.big_ratio || s.big_z || s.flagged);
	hsi_spike_reason(&s, "x", "x", en, sizeof(en), th, sizeof(th));
	assert_non_null(strstr(en,
	    "; not a spike: excess under 10, under 2.0× the usual, under 4.0 "
	    "spreads"));
	assert_non_null(strstr(th, "ส่วนเกินน้อยกว่า 10"));
}

static void
test_spike_flat_poisson(void **state)
{
	(void) state;
	long      days[200];
	double    vals[200];
	hsi_spike s;
	size_t    n = 0;
	rng_state   = 42;
	for (long d = 20000; d < 20140; d++) {
		days[n]   = d;
		vals[n++] = poisson(20);
	}
	assert_int_equal(hsi_spike_check_series(days, vals, n), 0);
	/* No ordinary day of the history is a spike against the weeks
	 * before it. */
	for (size_t i = 56; i < n; i++) {
		assert_int_equal(
		    hsi_spike_eval(days, vals, i, days[i], vals[i], NULL, &s),
		    0);
		assert_false(s.flagged);
	}
	/* A planted 3x day is. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, 20140, 60, NULL, &s), 0);
	assert_true(s.baseline >= 14 && s.baseline <= 26);
	assert_int_equal(s.n_same, 8);
	assert_true(s.big_excess && s.big_ratio && s.big_z && s.flagged);
}

static void
test_spike_weekly_pattern(void **state)
{
	(void) state;
	long      days[200];
	double    vals[200];
	hsi_spike s;
	size_t    n   = 0;
	double    sum = 0;
	rng_state     = 7;
	/* Ten weeks ending the Sunday before 2025-03-03: Mondays about 50,
	 * the other days about 20. */
	for (long d = MON_2025_03_03 - 70; d < MON_2025_03_03; d++) {
		days[n] = d;
		vals[n] = poisson((d - MON_2025_03_03) % 7 == 0 ? 50 : 20);
		sum += vals[n++];
	}
	/* A normal Monday is twice the average day... */
	double normal = 52;
	assert_true(normal >= 2 * (sum / (double) n));
	/* ...but not a spike against earlier Mondays. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, normal, NULL, &s),
	    0);
	assert_true(s.baseline >= 40 && s.baseline <= 60);
	assert_false(s.flagged);
	assert_false(s.big_ratio);
	/* A Tuesday of 52 is one. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03 - 6, 52, NULL, &s),
	    0);
	assert_int_equal(s.weekday, 1);
	assert_true(s.flagged);
	/* And a Monday of 120. */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, 120, NULL, &s), 0);
	assert_true(s.flagged);
}

static void
test_spike_gaps(void **state)
{
	(void) state;
	/* Mondays 1, 3, 4, 6 and 8 weeks back (10, 30, 20, 40, 50), and a
	 * few other days; weeks 2, 5 and 7 are missing. */
	const long d0 = MON_2025_03_03;
	long   days[] = { d0 - 70, d0 - 56, d0 - 50, d0 - 42, d0 - 28, d0 - 21,
		  d0 - 20, d0 - 7, d0 - 1, d0, d0 + 7 };
	double vals[] = { 900, 50, 3, 40, 20, 30, 4, 10, 6, 999, 999 };
	size_t n      = sizeof(days) / sizeof(days[0]);
	hsi_spike s;
	char      en[512], th[1024];
	assert_int_equal(hsi_spike_check_series(days, vals, n), 0);
	assert_int_equal(hsi_spike_eval(days, vals, n, d0, 100, NULL, &s), 0);
	/* statistics.median([10, 30, 20, 40, 50]) == 30, MAD == 10; the
	 * day itself, the week after and d0 - 70 (week 10) are not used. */
	assert_int_equal(s.n_same, 5);
	assert_true(s.baseline == 30);
	assert_true(s.mad == 10);
	assert_near(s.spread, 14.826, 1e-12);
	hsi_spike_reason(&s, NULL, NULL, en, sizeof(en), th, sizeof(th));
	assert_non_null(strstr(en, "(median of 5 of the last 8 Mondays)"));
	assert_non_null(strstr(th, "ที่มีข้อมูล 5 จาก 8 สัปดาห์ก่อนหน้า"));

	/* With ten weeks, d0 - 70 (the first entry) is used too. */
	hsi_spike_opts o;
	hsi_spike_opts_init(&o);
	o.weeks = 10;
	assert_int_equal(hsi_spike_eval(days, vals, n, d0, 100, &o, &s), 0);
	assert_int_equal(s.n_same, 6);
	assert_true(s.baseline == 35);
}

static void
test_spike_few(void **state)
{
	(void) state;
	const long d0     = MON_2025_03_03;
	long       days[] = { d0 - 35, d0 - 14, d0 - 13, d0 - 7 };
	double     vals[] = { 10, 12, 99, 11 };
	hsi_spike  s, untouched;
	memset(&untouched, 0x5A, sizeof(untouched));
	s = untouched;
	assert_int_equal(hsi_spike_eval(days, vals, 4, d0, 100, NULL, &s),
	    HSI_DETECT_SKIP_FEW_WEEKDAYS);
	assert_memory_equal(&s, &untouched, sizeof(s));
	assert_true(hsi_detect_is_skip(HSI_DETECT_SKIP_FEW_WEEKDAYS));
	/* An empty history too. */
	assert_int_equal(hsi_spike_eval(NULL, NULL, 0, d0, 100, NULL, &s),
	    HSI_DETECT_SKIP_FEW_WEEKDAYS);
	/* Three are enough when K is 3. */
	hsi_spike_opts o;
	hsi_spike_opts_init(&o);
	o.min_weeks = 3;
	assert_int_equal(hsi_spike_eval(days, vals, 4, d0, 100, &o, &s), 0);
	assert_int_equal(s.n_same, 3);
	assert_true(s.baseline == 11);
	/* d0 - 35 is week 5: out of reach with W = 4. */
	o.weeks = 4;
	assert_int_equal(hsi_spike_eval(days, vals, 4, d0, 100, &o, &s),
	    HSI_DETECT_SKIP_FEW_WEEKDAYS);
}

/* Brute force: scan every entry for every week. */
static int
naive_same(const long *days, const double *vals, size_t n, long day, int weeks,
    double *hist)
{
	int count = 0;
	for (int k = 1; k <= weeks; k++) {
		for (size_t i = 0; i < n; i++) {
			if (days[i] == day - 7L * k) {
				hist[count++] = vals[i];
			}
		}
	}
	return count;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}

static void
test_spike_search(void **state)
{
	(void) state;
	enum { N = 300 };
	long             days[N];
	double           vals[N], hist[HSI_SPIKE_MAX_WEEKS];
	hsi_spike        s;
	hsi_spike_opts   o;
	static const int weeks[] = { 1, 2, 3, 8, 20 };
	rng_state                = 1;
	long d                   = 19000;
	for (size_t i = 0; i < N; i++) {
		d += 1 + (long) (urand() * 5);
		days[i] = d;
		vals[i] = (double) i; /* distinct, so the median tells which */
	}
	assert_int_equal(hsi_spike_check_series(days, vals, N), 0);
	hsi_spike_opts_init(&o);
	o.min_weeks = 1;
	for (size_t w = 0; w < sizeof(weeks) / sizeof(weeks[0]); w++) {
		o.weeks = weeks[w];
		for (long day = days[0] - 10; day <= days[N - 1] + 7L * 21;
		     day++) {
			int want
			    = naive_same(days, vals, N, day, o.weeks, hist);
			int rc = hsi_spike_eval(days, vals, N, day, 0, &o, &s);
			if (want == 0) {
				assert_int_equal(
				    rc, HSI_DETECT_SKIP_FEW_WEEKDAYS);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(s.n_same, want);
			qsort(hist, (size_t) want, sizeof(double), cmp_double);
			double med = want % 2
			    ? hist[want / 2]
			    : (hist[want / 2 - 1] + hist[want / 2]) / 2;
			assert_true(s.baseline == med);
		}
	}

	/* Both ends exactly: for day 1028 and W = 3 the targets are 1021,
	 * 1014 and 1007; only the last (1021) and the first (1007) entry
	 * exist. */
	long   ends[]  = { 1007, 1009, 1012, 1016, 1021 };
	double evals[] = { 4, 100, 100, 100, 8 };
	o.weeks        = 3;
	o.min_weeks    = 2;
	assert_int_equal(hsi_spike_eval(ends, evals, 5, 1028, 0, &o, &s), 0);
	assert_int_equal(s.n_same, 2);
	assert_true(s.baseline == 6);
	/* With W = 2 only the last entry is in reach. */
	o.weeks     = 2;
	o.min_weeks = 1;
	assert_int_equal(hsi_spike_eval(ends, evals, 5, 1028, 0, &o, &s), 0);
	assert_int_equal(s.n_same, 1);
	assert_true(s.baseline == 8);
	/* A one-entry series, hit and missed. */
	assert_int_equal(hsi_spike_eval(ends, evals, 1, 1014, 0, &o, &s), 0);
	assert_true(s.baseline == 4);
	assert_int_equal(hsi_spike_eval(ends, evals, 1, 1015, 0, &o, &s),
	    HSI_DETECT_SKIP_FEW_WEEKDAYS);
}

static void
test_spike_refused(void **state)
{
	(void) state;
	long           days[64];
	double         vals[64];
	hsi_spike      s;
	hsi_spike_opts o;
	size_t         n  = flat_mondays(days, vals, 18);
	long           d0 = MON_2025_03_03;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, NAN, NULL, &s), HSI_EINVAL);
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, INFINITY, NULL, &s), HSI_EINVAL);
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, -1, NULL, &s), HSI_ERANGE);
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, NULL, NULL), HSI_EINVAL);
	assert_int_equal(
	    hsi_spike_eval(NULL, vals, n, d0, 1, NULL, &s), HSI_EINVAL);
	assert_int_equal(hsi_spike_eval(days, vals, n,
	                     hsi_days_from_civil(10000, 1, 1), 1, NULL, &s),
	    HSI_ERANGE);

	hsi_spike_opts_init(&o);
	o.weeks = 0;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, &o, &s), HSI_EINVAL);
	o.weeks = HSI_SPIKE_MAX_WEEKS + 1;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, &o, &s), HSI_EINVAL);
	hsi_spike_opts_init(&o);
	o.min_weeks = 9;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, &o, &s), HSI_EINVAL);
	hsi_spike_opts_init(&o);
	o.factor = NAN;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, &o, &s), HSI_EINVAL);
	hsi_spike_opts_init(&o);
	o.min_excess = -1;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, &o, &s), HSI_EINVAL);

	/* A bad value in the weeks looked at is refused... */
	vals[n - 7] = NAN; /* the Monday a week back */
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, NULL, &s), HSI_EINVAL);
	vals[n - 7] = -3;
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, d0, 1, NULL, &s), HSI_ERANGE);
	/* ...and found once per series by the check. */
	assert_int_equal(hsi_spike_check_series(days, vals, n), HSI_ERANGE);
	vals[n - 7] = NAN;
	assert_int_equal(hsi_spike_check_series(days, vals, n), HSI_EINVAL);
	vals[n - 7] = 18;
	assert_int_equal(hsi_spike_check_series(days, vals, n), 0);
	days[3] = days[2];
	assert_int_equal(hsi_spike_check_series(days, vals, n), HSI_EINVAL);
	days[3] = days[2] - 1;
	assert_int_equal(hsi_spike_check_series(days, vals, n), HSI_EINVAL);
	assert_int_equal(hsi_spike_check_series(NULL, NULL, 0), 0);
	assert_int_equal(hsi_spike_check_series(NULL, vals, 3), HSI_EINVAL);
}

static void
test_spike_dates(void **state)
{
	(void) state;
	/* 2024-12-30 was a Monday (python3: date(2024, 12, 30).weekday()
	 * == 0, day 20087); its Thai date is 30 ธ.ค. 2567. 1970-01-01 was
	 * a Thursday, and 1969-12-29 a Monday (negative day numbers). */
	static const struct {
		long        day;
		int         weekday;
		const char *en, *th;
	} cases[] = {
		{ 20087, 0, "on Mon 2024-12-30", "ในวันจันทร์ที่ 30 ธ.ค. 2567" },
		{ 0, 3, "on Thu 1970-01-01", "ในวันพฤหัสบดีที่ 1 ม.ค. 2513" },
		{ -3, 0, "on Mon 1969-12-29", "ในวันจันทร์ที่ 29 ธ.ค. 2512" },
		{ -4, 6, "on Sun 1969-12-28", "ในวันอาทิตย์ที่ 28 ธ.ค. 2512" },
		{ 20155, 5, "on Sat 2025-03-08", "ในวันเสาร์ที่ 8 มี.ค. 2568" },
		{ 20156, 6, "on Sun 2025-03-09", "ในวันอาทิตย์ที่ 9 มี.ค. 2568" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long      days[8];
		double    vals[8];
		hsi_spike s;
		char      en[512], th[1024];
		for (int k = 0; k < 8; k++) {
			days[k] = cases[i].day - 7L * (8 - k);
			vals[k] = 3;
		}
		assert_int_equal(
		    hsi_spike_eval(days, vals, 8, cases[i].day, 3, NULL, &s),
		    0);
		assert_int_equal(s.weekday, cases[i].weekday);
		hsi_spike_reason(
		    &s, NULL, NULL, en, sizeof(en), th, sizeof(th));
		assert_non_null(strstr(en, cases[i].en));
		assert_non_null(strstr(th, cases[i].th));
	}
}

static void
spike_reason_fn(
    const void *ctx, char *en, size_t en_size, char *th, size_t th_size)
{
	const double *value = ctx;
	long          days[64];
	double        vals[64];
	hsi_spike     s;
	size_t        n = flat_mondays(days, vals, 18);
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, *value, NULL, &s),
	    0);
	hsi_spike_reason(
	    &s, "1300 hotline", "สายด่วน 1300", en, en_size, th, th_size);
}

static void
test_spike_reason_cuts(void **state)
{
	(void) state;
	const double spike = 57, normal = 20;
	check_cuts(spike_reason_fn, &spike);
	check_cuts(spike_reason_fn, &normal);

	/* A label longer than the limit is cut at a character boundary. */
	char label[601], en[2048], th[4096];
	for (int i = 0; i < 200; i++) {
		memcpy(label + 3 * i, "ก", 3);
	}
	label[600] = '\0';
	long      days[64];
	double    vals[64];
	hsi_spike s;
	size_t    n = flat_mondays(days, vals, 18);
	assert_int_equal(
	    hsi_spike_eval(days, vals, n, MON_2025_03_03, 57, NULL, &s), 0);
	hsi_spike_reason(&s, label, label, en, sizeof(en), th, sizeof(th));
	assert_true(utf8_valid(en));
	assert_true(utf8_valid(th));
	assert_non_null(strstr(th, "ก: 57 ราย"));
	hsi_spike_reason(&s, NULL, NULL, NULL, 0, NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median_odd_even),
		cmocka_unit_test(test_mad_known),
		cmocka_unit_test(test_meanad_fallback),
		cmocka_unit_test(test_skips),
		cmocka_unit_test(test_nonfinite_refused),
		cmocka_unit_test(test_caller_array_kept),
		cmocka_unit_test(test_threshold_boundary),
		cmocka_unit_test(test_robust_reason),
		cmocka_unit_test(test_jump),
		cmocka_unit_test(test_spike_example),
		cmocka_unit_test(test_spike_flat_poisson),
		cmocka_unit_test(test_spike_weekly_pattern),
		cmocka_unit_test(test_spike_gaps),
		cmocka_unit_test(test_spike_few),
		cmocka_unit_test(test_spike_search),
		cmocka_unit_test(test_spike_refused),
		cmocka_unit_test(test_spike_dates),
		cmocka_unit_test(test_spike_reason_cuts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
