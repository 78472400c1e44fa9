/*
 * detect.h: the statistics behind the data-quality alert rules, as pure
 * functions over arrays (no database, no I/O, no allocation).
 *
 *   - Robust z-score of one value against all areas' values of one
 *     indicator and period (Iglewicz & Hoaglin's modified z, with IBM
 *     SPSS's mean-absolute-deviation fallback when MAD is 0).
 *   - Year-on-year jump between two values of one area.
 *   - Spike in a daily count series with weekly seasonality (the 1300
 *     hotline): the day against the same weekday of the previous weeks.
 *
 * Each check can decline to judge: it then returns one of the
 * HSI_DETECT_SKIP_* codes below (not an error: the data cannot support a
 * verdict) and the rule should record "skipped" with that reason.
 * Non-finite input is refused with HSI_EINVAL, never propagated into a
 * verdict. Out-params are written only when the function returns 0.
 *
 * The reason texts are for people, in English and Thai (Buddhist-era
 * years, Thai weekday and month names), written into caller buffers and
 * truncated, if they must be, at a UTF-8 character boundary.
 */
#ifndef HSI_ALERTER_DETECT_H
#define HSI_ALERTER_DETECT_H

#include <stddef.h>

/*
 * Skip codes: distinct from the project's error codes (error.h), which
 * hsi_strerror does not know; hsi_detect_skip_reason gives their texts.
 */
#define HSI_DETECT_SKIP_FEW 100          /* fewer values than the minimum */
#define HSI_DETECT_SKIP_NO_SPREAD 101    /* all values equal */
#define HSI_DETECT_SKIP_FEW_WEEKDAYS 102 /* few same-weekday values */

/* Nonzero if code is one of the HSI_DETECT_SKIP_* codes. */
int hsi_detect_is_skip(int code);

/*
 * Sets *en and *th to static texts for code: a skip reason ("fewer
 * values than the minimum needed to judge" / Thai), or for any other code
 * hsi_strerror's English text in both. Either pointer may be NULL.
 */
void hsi_detect_skip_reason(int code, const char **en, const char **th);

/* ---- Robust z-score across areas ---------------------------------- */

#define HSI_ROBUST_THRESHOLD 3.5 /* |z| above this flags (I&H) */
#define HSI_ROBUST_MIN_N 5       /* default minimum sample */
#define HSI_ROBUST_MIN_N_FLOOR 3 /* smallest minimum accepted */

/* The centre and scale of one sample, from hsi_robust_fit. */
typedef struct {
	double      median;
	double      mad;    /* median(|x_i - median|) */
	double      meanad; /* mean(|x_i - median|) */
	double      scale;  /* mad / 0.6745; 1.253314 * meanad if mad is 0 */
	const char *method; /* "mad" or "meanad" (static) */
	size_t      n;
} hsi_robust;

/*
 * Fits the median and robust scale of x[0..n). scratch must hold n
 * doubles (it is overwritten; it may not alias x); x is not reordered.
 * min_n is the smallest sample judged (HSI_ROBUST_MIN_N by default; at
 * least HSI_ROBUST_MIN_N_FLOOR). The median of an even n is the mean of
 * the two middle values.
 *
 * Returns 0 and fills *out; HSI_DETECT_SKIP_FEW when n < min_n;
 * HSI_DETECT_SKIP_NO_SPREAD when both MAD and the mean absolute deviation
 * are 0 (all values equal); HSI_EINVAL when an argument is NULL, min_n <
 * HSI_ROBUST_MIN_N_FLOOR or any x_i is NaN or infinite; HSI_ERANGE when
 * the values are so far apart that the deviations overflow a double.
 * Sorts a copy: O(n log n) time.
 */
int hsi_robust_fit(
    const double *x, size_t n, double *scratch, size_t min_n, hsi_robust *out);

/*
 * The modified z-score of v under fit: (v - median) / scale, which for
 * the MAD method is 0.6745 * (v - median) / MAD. v must be finite (a
 * non-finite v gives NaN or an infinity; hsi_robust_check refuses it).
 */
double hsi_robust_z(const hsi_robust *fit, double v);

/*
 * Computes *z = hsi_robust_z(fit, v) and *flagged = |z| > threshold
 * (strictly: a z of exactly the threshold does not flag). Returns 0, or
 * HSI_EINVAL when v is not finite, threshold is not finite and positive,
 * or a pointer is NULL.
 */
int hsi_robust_check(const hsi_robust *fit, double v, double threshold,
    double *z, int *flagged);

/*
 * Writes why v stands out, e.g.
 *   "value 412.0 is 5.8 robust z above the median 120.5 of 77 provinces
 *    (MAD 18.2)"
 *   "ค่า 412.0 สูงกว่าค่ามัธยฐาน 120.5 ของ 77 จังหวัด 5.8 เท่าของค่าเบี่ยงเบน
 *    แบบทนทาน (MAD 18.2)"
 * naming the mean absolute deviation instead when the fit used it.
 * unit_en / unit_th name the areas in the plural ("provinces",
 * "จังหวัด"); NULL gives "areas" / "พื้นที่". Either buffer may be NULL
 * (with its size 0).
 */
void hsi_robust_reason(const hsi_robust *fit, double v, const char *unit_en,
    const char *unit_th, char *en, size_t en_size, char *th, size_t th_size);

/* ---- Year-on-year jump -------------------------------------------- */

/*
 * Compares this year's value cur with last year's prev. factor (> 1,
 * e.g. 2.0) is the largest change in either direction that is not a
 * jump; min_abs (>= 0) is the smallest magnitude that counts when the
 * other value is 0. Sets *ratio to the factor observed and *flagged:
 *
 *   - both 0: ratio 1, no jump;
 *   - one 0, the other x: ratio INFINITY, a jump only if |x| > min_abs
 *     (so 0 -> 0.3 with min_abs 1 is noise, 0 -> 250 is a jump);
 *   - same sign (both positive, or both negative): ratio =
 *     max(|cur| / |prev|, |prev| / |cur|), a jump if ratio > factor, so
 *     -10 -> -25 and 10 -> 4 are jumps at factor 2 just as 10 -> 25 is;
 *   - opposite signs: there is no meaningful quotient, so the change is
 *     taken relative to |prev|: ratio = 1 + |cur - prev| / |prev| (which
 *     is cur/prev for a same-sign rise); a jump if ratio > factor and
 *     |cur - prev| > min_abs, so a wobble across 0 smaller than min_abs
 *     is not one. Any sign change has ratio > 2.
 *
 * Returns 0, or HSI_EINVAL when prev, cur, factor or min_abs is not
 * finite, factor <= 1, min_abs < 0 or a pointer is NULL.
 */
int hsi_jump(double prev, double cur, double factor, double min_abs,
    double *ratio, int *flagged);

/* ---- Spikes in a daily series with weekly seasonality ------------- */

#define HSI_SPIKE_MAX_WEEKS 104 /* longest look-back accepted */

typedef struct {
	int    weeks;      /* W: same weekday in the previous W weeks (8) */
	int    min_weeks;  /* K: how many of those must exist (4) */
	double min_excess; /* value - baseline at least this (10) */
	double factor;     /* value at least factor * baseline (2.0) */
	double z;          /* excess at least z spreads (4.0) */
} hsi_spike_opts;

/* Fills o with the defaults shown above. */
void hsi_spike_opts_init(hsi_spike_opts *o);

/* The verdict on one day, with each condition so the alert can say why. */
typedef struct {
	long   day;        /* days since 1970-01-01 */
	int    weekday;    /* 0 = Monday .. 6 = Sunday */
	double value;      /* that day's count */
	int    weeks;      /* W looked back */
	int    n_same;     /* same-weekday values found, K..W */
	double baseline;   /* their median */
	double mad;        /* their median absolute deviation */
	double spread;     /* max(1.4826 * mad, sqrt(max(baseline, 1))) */
	double excess;     /* value - baseline */
	double ratio;      /* value / baseline (1 if both 0, INFINITY if
	                      only the baseline is 0) */
	double z;          /* excess / spread */
	int    big_excess; /* excess >= min_excess */
	int    big_ratio;  /* value >= factor * baseline */
	int    big_z;      /* z >= the opts' z */
	int    flagged;    /* all three */
	double min_excess; /* the thresholds used, for the texts */
	double factor;
	double z_min;
} hsi_spike;

/*
 * Checks days[0..n) / vals[0..n) once per series, before evaluating its
 * days: days strictly ascending, every value finite and >= 0. Returns 0,
 * HSI_EINVAL (a NULL array with n > 0, a day out of order or repeated, a
 * NaN or infinite value) or HSI_ERANGE (a negative count). O(n).
 */
int hsi_spike_check_series(const long *days, const double *vals, size_t n);

/*
 * Judges value, the count of one area on day (days since 1970-01-01),
 * against that area's history days[0..n) / vals[0..n): days strictly
 * ascending, gaps allowed (hsi_spike_check_series checks that; it is not
 * re-checked here, as that would cost O(n) per day). Entries on or after
 * day are not used. Finds day - 7k for k = 1..W by binary search:
 * O(W log n).
 *
 * baseline = median of the same-weekday values found; spread =
 * 1.4826 * MAD of them, but at least sqrt(max(baseline, 1)), since
 * counts are roughly Poisson and a flat history must not make every +1 a
 * spike. flagged when excess >= min_excess, value >= factor * baseline
 * and excess / spread >= z. o may be NULL for the defaults.
 *
 * Returns 0 and fills *out; HSI_DETECT_SKIP_FEW_WEEKDAYS when fewer than
 * K same-weekday values exist; HSI_EINVAL when value or a history value
 * used is NaN or infinite, an option is out of range (weeks 1 ..
 * HSI_SPIKE_MAX_WEEKS, min_weeks 1 .. weeks, min_excess >= 0, factor and
 * z finite and >= 0) or a pointer is NULL (days and vals only if n > 0);
 * HSI_ERANGE when value or a history value used is negative, or day is
 * outside the years 1 .. 9999.
 */
int hsi_spike_eval(const long *days, const double *vals, size_t n, long day,
    double value, const hsi_spike_opts *o, hsi_spike *out);

/*
 * Writes why s is (or is not) a spike, e.g.
 *   "1300 hotline: 57 cases on Mon 2025-03-03, 3.2× the usual 18 for a
 *    Monday (median of the last 8 Mondays); excess 39 = 9.2 spreads"
 *   "สายด่วน 1300: 57 ราย ในวันจันทร์ที่ 3 มี.ค. 2568 เป็น 3.2 เท่าของค่าปกติ
 *    18 ราย ของวันจันทร์ (มัธยฐานของวันจันทร์ 8 สัปดาห์ก่อนหน้า);
 *    ส่วนเกิน 39 = 9.2 เท่าของค่าการกระจาย"
 * When s is not flagged, the text goes on to name the conditions that
 * failed ("; not a spike: excess under 10, under 2.0× the usual").
 * label_en / label_th name the series ("1300 hotline", "สายด่วน 1300");
 * NULL leaves the prefix out. Either buffer may be NULL (size 0).
 */
void hsi_spike_reason(const hsi_spike *s, const char *label_en,
    const char *label_th, char *en, size_t en_size, char *th, size_t th_size);

#endif
