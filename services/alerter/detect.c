/*
 * detect.c: robust z-scores, year-on-year jumps and weekly-seasonal
 * spikes (see detect.h). Everything here is a pure function of its
 * arguments, so the rules that use it can be replayed and unit-tested
 * without a database.
 */
#include "detect.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "period.h"

/* Iglewicz & Hoaglin: MAD / 0.6745 estimates sigma for normal data. */
#define MAD_TO_SIGMA 0.6745
/* IBM SPSS: 1.253314 * mean absolute deviation estimates sigma. */
#define MEANAD_TO_SIGMA 1.253314
/* 1.4826 = 1 / 0.6745, the same consistency constant for the spikes. */
#define SPIKE_MAD_TO_SIGMA 1.4826

/*
 * Caller-given names (area units, series labels) are cut to this many
 * bytes, at a character boundary, so that every text is built whole in
 * a local buffer of TEXT_MAX and only the final copy can truncate.
 */
#define NAME_MAX_BYTES 128
#define TEXT_MAX 2048

int
hsi_detect_is_skip(int code)
{
	return code == HSI_DETECT_SKIP_FEW || code == HSI_DETECT_SKIP_NO_SPREAD
	    || code == HSI_DETECT_SKIP_FEW_WEEKDAYS;
}

void
hsi_detect_skip_reason(int code, const char **en, const char **th)
{
	const char *e, *t;
	switch (code) {
	case HSI_DETECT_SKIP_FEW:
		e = "fewer values than the minimum needed to judge";
		t = "มีข้อมูลน้อยกว่าจำนวนขั้นต่ำที่ต้องใช้ในการประเมิน";
		break;
	case HSI_DETECT_SKIP_NO_SPREAD:
		e = "all values are equal, so there is no spread to judge "
		    "against";
		t = "ค่าทั้งหมดเท่ากัน จึงไม่มีการกระจายให้ใช้เปรียบเทียบ";
		break;
	case HSI_DETECT_SKIP_FEW_WEEKDAYS:
		e = "few same-weekday values in the previous weeks";
		t = "มีข้อมูลของวันเดียวกันในสัปดาห์ก่อนหน้าน้อยเกินไป";
		break;
	default:
		e = t = hsi_strerror(code);
		break;
	}
	if (en != NULL) {
		*en = e;
	}
	if (th != NULL) {
		*th = t;
	}
}

/* ---- Shared helpers ----------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}

/*
 * Median of sorted s[0..n), n > 0. Halving first is exact (barring
 * subnormals), gives the same double as (a + b) / 2 and cannot overflow.
 */
static double
median_sorted(const double *s, size_t n)
{
	if (n % 2 == 1) {
		return s[n / 2];
	}
	return s[n / 2 - 1] / 2 + s[n / 2] / 2;
}

/*
 * Sorts buf[0..n) (finite, n > 0) and leaves in it the absolute
 * deviations from the median, sorted; sets the median, their median
 * (MAD) and their mean. HSI_ERANGE if a deviation or their sum
 * overflows.
 */
static int
center_spread(
    double *buf, size_t n, double *median, double *mad, double *meanad)
{
	double m, sum = 0;
	qsort(buf, n, sizeof(*buf), cmp_double);
	m = median_sorted(buf, n);
	for (size_t i = 0; i < n; i++) {
		buf[i] = fabs(buf[i] - m);
		sum += buf[i];
	}
	if (!isfinite(sum)) {
		return HSI_ERANGE;
	}
	qsort(buf, n, sizeof(*buf), cmp_double);
	*median = m;
	*mad    = median_sorted(buf, n);
	*meanad = sum / (double) n;
	return 0;
}

/*
 * Copies src into dst (size bytes with the NUL). When it must cut, it
 * cuts before the character that does not fit, never inside it: src is
 * valid UTF-8 when the names given to us are.
 */
static void
put_text(char *dst, size_t size, const char *src)
{
	if (dst == NULL || size == 0) {
		return;
	}
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80) {
			n--;
		}
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A number for people: "412.0", "0.057"; tiny or huge ones as "%.3g". */
static void
fmt_num(char *buf, size_t size, double v)
{
	double a = fabs(v);
	if (a >= 1e15 || (a > 0 && a < 1e-4)) {
		snprintf(buf, size, "%.3g", v);
	} else if (a >= 1 || a == 0) {
		snprintf(buf, size, "%.1f", v);
	} else {
		/* Two significant digits below 1. */
		int digits = (int) ceil(-log10(a)) + 1;
		snprintf(buf, size, "%.*f", digits, v);
	}
}

/* A count: "57", or "18.5" for the median of an even number of them. */
static void
fmt_count(char *buf, size_t size, double v)
{
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, size, "%.0f", v);
	} else {
		fmt_num(buf, size, v);
	}
}

/* ---- Robust z-score ----------------------------------------------- */

int
hsi_robust_fit(
    const double *x, size_t n, double *scratch, size_t min_n, hsi_robust *out)
{
	double median, mad, meanad, scale;
	if ((x == NULL && n > 0) || scratch == NULL || out == NULL
	    || min_n < HSI_ROBUST_MIN_N_FLOOR || (n > 0 && scratch == x)) {
		return HSI_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i])) {
			return HSI_EINVAL;
		}
	}
	if (n < min_n) {
		return HSI_DETECT_SKIP_FEW;
	}
	memcpy(scratch, x, n * sizeof(*x));
	int rc = center_spread(scratch, n, &median, &mad, &meanad);
	if (rc != 0) {
		return rc;
	}
	const char *method;
	if (mad > 0) {
		scale  = mad / MAD_TO_SIGMA;
		method = "mad";
	} else if (meanad > 0) {
		/* More than half the values equal the median, but not all:
		 * MAD says nothing, the mean deviation still does. */
		scale  = MEANAD_TO_SIGMA * meanad;
		method = "meanad";
	} else {
		return HSI_DETECT_SKIP_NO_SPREAD;
	}
	if (!isfinite(scale)) {
		return HSI_ERANGE;
	}
	out->median = median;
	out->mad    = mad;
	out->meanad = meanad;
	out->scale  = scale;
	out->method = method;
	out->n      = n;
	return 0;
}

double
hsi_robust_z(const hsi_robust *fit, double v)
{
	/* Dividing by the scale (not multiplying by 0.6745 / MAD) makes a
	 * value exactly threshold * scale from the median score exactly
	 * the threshold, so the boundary is testable. */
	return (v - fit->median) / fit->scale;
}

int
hsi_robust_check(
    const hsi_robust *fit, double v, double threshold, double *z, int *flagged)
{
	if (fit == NULL || z == NULL || flagged == NULL || !isfinite(v)
	    || !isfinite(threshold) || !(threshold > 0)) {
		return HSI_EINVAL;
	}
	double zz = hsi_robust_z(fit, v);
	*z        = zz;
	*flagged  = fabs(zz) > threshold;
	return 0;
}

void
hsi_robust_reason(const hsi_robust *fit, double v, const char *unit_en,
    const char *unit_th, char *en, size_t en_size, char *th, size_t th_size)
{
	char   uen[NAME_MAX_BYTES], uth[NAME_MAX_BYTES], buf[TEXT_MAX];
	char   sv[64], sm[64], sd[64], sz[64];
	double z      = hsi_robust_z(fit, v);
	int    meanad = strcmp(fit->method, "meanad") == 0;

	put_text(uen, sizeof(uen), unit_en != NULL ? unit_en : "areas");
	put_text(uth, sizeof(uth), unit_th != NULL ? unit_th : "พื้นที่");
	fmt_num(sv, sizeof(sv), v);
	fmt_num(sm, sizeof(sm), fit->median);
	fmt_num(sd, sizeof(sd), meanad ? fit->meanad : fit->mad);
	fmt_num(sz, sizeof(sz), fabs(z));

	snprintf(buf, sizeof(buf),
	    "value %s is %s robust z %s the median %s of %zu %s (%s%s)", sv,
	    sz,
	    v > fit->median       ? "above"
	        : v < fit->median ? "below"
	                          : "from",
	    sm, fit->n, uen,
	    meanad ? "MAD 0, so scaled by the mean absolute deviation "
	           : "MAD ",
	    sd);
	put_text(en, en_size, buf);

	snprintf(buf, sizeof(buf),
	    "ค่า %s %sค่ามัธยฐาน %s ของ %zu %s %s เท่าของค่าเบี่ยงเบนแบบทนทาน "
	    "(%s%s)",
	    sv,
	    v > fit->median       ? "สูงกว่า"
	        : v < fit->median ? "ต่ำกว่า"
	                          : "ห่างจาก",
	    sm, fit->n, uth, sz,
	    meanad ? "MAD เป็น 0 จึงใช้ค่าเบี่ยงเบนสัมบูรณ์เฉลี่ย " : "MAD ", sd);
	put_text(th, th_size, buf);
}

/* ---- Year-on-year jump -------------------------------------------- */

int
hsi_jump(double prev, double cur, double factor, double min_abs, double *ratio,
    int *flagged)
{
	double r;
	int    f;
	if (ratio == NULL || flagged == NULL || !isfinite(prev)
	    || !isfinite(cur) || !isfinite(factor) || !(factor > 1)
	    || !isfinite(min_abs) || min_abs < 0) {
		return HSI_EINVAL;
	}
	if (prev == 0 && cur == 0) {
		r = 1;
		f = 0;
	} else if (prev == 0 || cur == 0) {
		/* Any quotient is infinite; only the size of the other value
		 * can tell a new series from rounding noise. */
		r = INFINITY;
		f = fabs(prev == 0 ? cur : prev) > min_abs;
	} else if ((prev > 0) == (cur > 0)) {
		double a = fabs(prev), b = fabs(cur);
		r = a > b ? a / b : b / a;
		f = r > factor;
	} else {
		double d = fabs(cur - prev);
		r        = 1 + d / fabs(prev);
		f        = r > factor && d > min_abs;
	}
	*ratio   = r;
	*flagged = f;
	return 0;
}

/* ---- Spikes ------------------------------------------------------- */

static const char *const wd_en[]
    = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const wd_en_full[] = { "Monday", "Tuesday", "Wednesday",
	"Thursday", "Friday", "Saturday", "Sunday" };
static const char *const wd_th[]      = { "วันจันทร์", "วันอังคาร", "วันพุธ", "วันพฤหัสบดี",
	     "วันศุกร์", "วันเสาร์", "วันอาทิตย์" };
static const char *const month_th[] = { "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.",
	"พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค." };

void
hsi_spike_opts_init(hsi_spike_opts *o)
{
	o->weeks      = 8;
	o->min_weeks  = 4;
	o->min_excess = 10;
	o->factor     = 2.0;
	o->z          = 4.0;
}

/* 0 = Monday .. 6 = Sunday; day 0 (1970-01-01) was a Thursday. */
static int
weekday_of(long day)
{
	return (int) (((day % 7 + 7) % 7 + 3) % 7);
}

/* Index of the first days[i] >= key in days[0..hi), or hi. */
static size_t
lower_bound(const long *days, size_t hi, long key)
{
	size_t lo = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (days[mid] < key) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static int
spike_opts_valid(const hsi_spike_opts *o)
{
	return o->weeks >= 1 && o->weeks <= HSI_SPIKE_MAX_WEEKS
	    && o->min_weeks >= 1 && o->min_weeks <= o->weeks
	    && isfinite(o->min_excess) && o->min_excess >= 0
	    && isfinite(o->factor) && o->factor >= 0 && isfinite(o->z)
	    && o->z >= 0;
}

int
hsi_spike_check_series(const long *days, const double *vals, size_t n)
{
	if (n > 0 && (days == NULL || vals == NULL)) {
		return HSI_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(vals[i]) || (i > 0 && days[i] <= days[i - 1])) {
			return HSI_EINVAL;
		}
		if (vals[i] < 0) {
			return HSI_ERANGE;
		}
	}
	return 0;
}

/*
 * Collects the values on day - 7, day - 14, ..., day - 7 * weeks into
 * hist (room for weeks), newest first; returns how many, or -HSI_EINVAL /
 * -HSI_ERANGE for a bad value. Each search is bounded by the previous
 * hit, since the targets descend.
 */
static int
same_weekdays(const long *days, const double *vals, size_t n, long day,
    int weeks, double *hist)
{
	size_t hi    = n;
	int    count = 0;
	for (int k = 1; k <= weeks && hi > 0; k++) {
		long   target = day - 7L * k;
		size_t i      = lower_bound(days, hi, target);
		if (i < hi && days[i] == target) {
			if (!isfinite(vals[i])) {
				return -HSI_EINVAL;
			}
			if (vals[i] < 0) {
				return -HSI_ERANGE;
			}
			hist[count++] = vals[i];
		}
		hi = i;
	}
	return count;
}

int
hsi_spike_eval(const long *days, const double *vals, size_t n, long day,
    double value, const hsi_spike_opts *o, hsi_spike *out)
{
	hsi_spike_opts defaults;
	double         hist[HSI_SPIKE_MAX_WEEKS], baseline, mad, meanad;
	if (o == NULL) {
		hsi_spike_opts_init(&defaults);
		o = &defaults;
	}
	if (out == NULL || (n > 0 && (days == NULL || vals == NULL))
	    || !spike_opts_valid(o) || !isfinite(value)) {
		return HSI_EINVAL;
	}
	/* Years 1..9999 keep the dates printable and day - 7 * W far
	 * from overflow. */
	if (value < 0 || day < hsi_days_from_civil(1, 1, 1)
	    || day > hsi_days_from_civil(9999, 12, 31)) {
		return HSI_ERANGE;
	}
	int count = same_weekdays(days, vals, n, day, o->weeks, hist);
	if (count < 0) {
		return -count;
	}
	if (count < o->min_weeks) {
		return HSI_DETECT_SKIP_FEW_WEEKDAYS;
	}
	int rc = center_spread(hist, (size_t) count, &baseline, &mad, &meanad);
	if (rc != 0) {
		return rc;
	}
	double spread     = SPIKE_MAD_TO_SIGMA * mad;
	double poisson_sd = sqrt(baseline > 1 ? baseline : 1);
	if (spread < poisson_sd) {
		spread = poisson_sd;
	}
	out->day      = day;
	out->weekday  = weekday_of(day);
	out->value    = value;
	out->weeks    = o->weeks;
	out->n_same   = count;
	out->baseline = baseline;
	out->mad      = mad;
	out->spread   = spread;
	out->excess   = value - baseline;
	out->ratio
	    = baseline > 0 ? value / baseline : (value > 0 ? INFINITY : 1);
	out->z          = out->excess / spread;
	out->big_excess = out->excess >= o->min_excess;
	out->big_ratio  = value >= o->factor * baseline;
	out->big_z      = out->z >= o->z;
	out->flagged    = out->big_excess && out->big_ratio && out->big_z;
	out->min_excess = o->min_excess;
	out->factor     = o->factor;
	out->z_min      = o->z;
	return 0;
}

/* Appends to buf (size bytes, *len used), clamping at the end; the
 * buffers below are sized so that it never has to. */
__attribute__((format(printf, 4, 5))) static void
appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (r > 0) {
		*len += (size_t) r;
		if (*len >= size) {
			*len = size - 1;
		}
	}
}

/* "; not a spike: excess under 10, under 2.0× the usual" and Thai. */
static void
spike_why_not(
    const hsi_spike *s, char *en, size_t en_size, char *th, size_t th_size)
{
	char        me[64], mf[64], mz[64];
	size_t      le = 0, lt = 0;
	const char *sep = " ";
	en[0] = th[0] = '\0';
	if (s->flagged) {
		return;
	}
	fmt_count(me, sizeof(me), s->min_excess);
	fmt_num(mf, sizeof(mf), s->factor);
	fmt_num(mz, sizeof(mz), s->z_min);
	appendf(en, en_size, &le, "; not a spike:");
	appendf(th, th_size, &lt, "; ไม่ถือเป็นค่าพุ่งสูง:");
	if (!s->big_excess) {
		appendf(en, en_size, &le, "%sexcess under %s", sep, me);
		appendf(th, th_size, &lt, "%sส่วนเกินน้อยกว่า %s", sep, me);
		sep = ", ";
	}
	if (!s->big_ratio) {
		appendf(en, en_size, &le, "%sunder %s× the usual", sep, mf);
		appendf(th, th_size, &lt, "%sไม่ถึง %s เท่าของค่าปกติ", sep, mf);
		sep = ", ";
	}
	if (!s->big_z) {
		appendf(en, en_size, &le, "%sunder %s spreads", sep, mz);
		appendf(
		    th, th_size, &lt, "%sไม่ถึง %s เท่าของค่าการกระจาย", sep, mz);
	}
}

void
hsi_spike_reason(const hsi_spike *s, const char *label_en,
    const char *label_th, char *en, size_t en_size, char *th, size_t th_size)
{
	char lab_en[NAME_MAX_BYTES + 2], lab_th[NAME_MAX_BYTES + 2];
	char buf[TEXT_MAX], hist_en[128], hist_th[256], rat_en[128];
	char rat_th[192], not_en[256], not_th[512], sv[64], sb[64], sx[64];
	char sr[64], sz[64];
	int  y, m, d, wd = s->weekday >= 0 && s->weekday < 7 ? s->weekday : 0;

	lab_en[0] = lab_th[0] = '\0';
	if (label_en != NULL) {
		put_text(lab_en, NAME_MAX_BYTES, label_en);
		strcat(lab_en, ": ");
	}
	if (label_th != NULL) {
		put_text(lab_th, NAME_MAX_BYTES, label_th);
		strcat(lab_th, ": ");
	}
	hsi_civil_from_days(s->day, &y, &m, &d);
	fmt_count(sv, sizeof(sv), s->value);
	fmt_count(sb, sizeof(sb), s->baseline);
	fmt_count(sx, sizeof(sx), s->excess);
	fmt_num(sr, sizeof(sr), s->ratio);
	fmt_num(sz, sizeof(sz), s->z);
	if (s->n_same == s->weeks) {
		snprintf(hist_en, sizeof(hist_en), "median of the last %d %ss",
		    s->weeks, wd_en_full[wd]);
		snprintf(hist_th, sizeof(hist_th),
		    "มัธยฐานของ%s %d สัปดาห์ก่อนหน้า", wd_th[wd], s->weeks);
	} else {
		snprintf(hist_en, sizeof(hist_en),
		    "median of %d of the last %d %ss", s->n_same, s->weeks,
		    wd_en_full[wd]);
		snprintf(hist_th, sizeof(hist_th),
		    "มัธยฐานของ%sที่มีข้อมูล %d จาก %d สัปดาห์ก่อนหน้า", wd_th[wd],
		    s->n_same, s->weeks);
	}
	if (s->baseline > 0) {
		snprintf(rat_en, sizeof(rat_en), "%s× the usual", sr);
		snprintf(rat_th, sizeof(rat_th), "เป็น %s เท่าของค่าปกติ", sr);
	} else {
		snprintf(rat_en, sizeof(rat_en), "against the usual");
		snprintf(rat_th, sizeof(rat_th), "เทียบกับค่าปกติ");
	}
	spike_why_not(s, not_en, sizeof(not_en), not_th, sizeof(not_th));

	snprintf(buf, sizeof(buf),
	    "%s%s cases on %s %04d-%02d-%02d, %s %s for a %s (%s); excess %s "
	    "= %s spreads%s",
	    lab_en, sv, wd_en[wd], y, m, d, rat_en, sb, wd_en_full[wd],
	    hist_en, sx, sz, not_en);
	put_text(en, en_size, buf);

	snprintf(buf, sizeof(buf),
	    "%s%s ราย ใน%sที่ %d %s %d %s %s ราย ของ%s (%s); ส่วนเกิน %s = "
	    "%s เท่าของค่าการกระจาย%s",
	    lab_th, sv, wd_th[wd], d, month_th[(m - 1) % 12], y + 543, rat_th,
	    sb, wd_th[wd], hist_th, sx, sz, not_th);
	put_text(th, th_size, buf);
}
