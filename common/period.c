/*
 * period.c: parsing, formatting and calendar arithmetic for HSI periods
 * (see period.h).
 *
 * Agencies write periods in many spellings: Buddhist-era years, Thai
 * digits, Thai prefixes, SDMX. The parser folds them into one hsi_period
 * so that nothing downstream ever sees more than the six canonical forms.
 * Parsing first checks the syntax and only then the ranges, so "1800x" is
 * reported as bad text rather than a bad year. Errors point at the byte in
 * what the agency sent, not in a folded copy, since that is what a person
 * can find in their file.
 */
#include "period.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#define INPUT_MAX 64  /* bytes; longer input is refused before any work */
#define BE_OFFSET 543 /* BE year = CE year + 543 */
#define BE_FIRST 2400 /* a bare 4-digit year from here up is BE */
#define CE_MIN 1900
#define CE_MAX 2399
#define SHOWN_MAX 48 /* bytes of the input quoted in a message */

static const char forms[]
    = "use 2024, FY2024, 2024Q1, FY2024Q1, 2024-03 or 2024-03-15";

/* The Thai prefixes; "ปีงบ" is a prefix of "ปีงบประมาณ", so order matters. */
static const char pfx_be[]     = "พ.ศ.";
static const char pfx_fiscal[] = "ปีงบประมาณ";
static const char pfx_fy[]     = "ปีงบ";

static const char *const freq_names[]
    = { "annual", "fiscal", "quarterly", "fquarterly", "monthly", "daily" };

/*
 * The trimmed input with Thai digits folded to ASCII, so the grammar below
 * only deals with one kind of digit, and for each folded byte its offset
 * in the caller's string, so errors can still name the original byte.
 */
typedef struct {
	const char     *in;          /* the caller's string */
	size_t          first, last; /* trimmed input is in[first..last) */
	char            s[INPUT_MAX + 1];
	size_t          at[INPUT_MAX + 1];
	size_t          n; /* bytes in s */
	size_t          i; /* cursor in s */
	hsi_period_err *err;
} scan;

/* What the grammar found, before any range is checked. */
typedef struct {
	hsi_freq freq;
	int      be; /* the year was marked "พ.ศ." */
	int      year, sub, day;
	size_t   year_at, sub_at, day_at; /* indexes in scan.s */
} raw_period;

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12]
	    = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/*
 * Copies s[0..n) for a message: printable ASCII and Thai letters as they
 * are, anything else as '?'. Messages end up in JSON logs and HTTP
 * answers, which must stay valid UTF-8 whatever bytes came in.
 */
static void
shown(char *dst, size_t size, const char *s, size_t n)
{
	const unsigned char *u   = (const unsigned char *) s;
	size_t               cap = size - 4; /* room for "..." and NUL */
	size_t               out = 0;
	for (size_t i = 0; i < n;) {
		int thai = i + 2 < n && u[i] == 0xE0
		    && (u[i + 1] & 0xFE) == 0xB8 && (u[i + 2] & 0xC0) == 0x80;
		size_t cl = thai ? 3 : 1;
		if (out + cl > cap) {
			memcpy(dst + out, "...", 3);
			out += 3;
			break;
		}
		if (thai) {
			memcpy(dst + out, s + i, 3);
		} else {
			dst[out] = u[i] >= 0x20 && u[i] < 0x7F ? s[i] : '?';
		}
		out += cl;
		i += cl;
	}
	dst[out] = '\0';
}

/* Fills sc->err for s[i] (i == n means the end) and returns rv. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(scan *sc, int rv, size_t i, const char *fmt, ...)
{
	if (sc->err == NULL) {
		return rv;
	}
	char    text[SHOWN_MAX + 4];
	va_list ap;
	shown(text, sizeof text, sc->in + sc->first, sc->last - sc->first);
	/* text is at most 52 bytes, so this part always fits in msg. */
	int n = snprintf(sc->err->msg, sizeof sc->err->msg,
	    "\"%s\" at byte %zu: ", text, sc->at[i]);
	va_start(ap, fmt);
	vsnprintf(sc->err->msg + n, sizeof sc->err->msg - (size_t) n, fmt, ap);
	va_end(ap);
	sc->err->offset = sc->at[i];
	return rv;
}

/*
 * For text that does not fit the grammar: quotes what is left of the input
 * from s[i] and says what was expected there (NULL: nothing).
 */
static int
fail_unexpected(scan *sc, size_t i, const char *expected)
{
	char rest[20];
	if (i == sc->n) {
		return fail(sc, HSI_EINVAL, i, "expected %s at the end; %s",
		    expected, forms);
	}
	shown(rest, sizeof rest, sc->in + sc->at[i], sc->last - sc->at[i]);
	return fail(sc, HSI_EINVAL, i, "unexpected \"%s\"%s%s; %s", rest,
	    expected != NULL ? ", expected " : "",
	    expected != NULL ? expected : "", forms);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and folds Thai digits (U+0E50..0E59, E0 B9 90..99). */
static void
fold(scan *sc, size_t len)
{
	const unsigned char *u = (const unsigned char *) sc->in;
	sc->first              = 0;
	sc->last               = len;
	while (sc->first < sc->last && is_space(sc->in[sc->first])) {
		sc->first++;
	}
	while (sc->last > sc->first && is_space(sc->in[sc->last - 1])) {
		sc->last--;
	}
	sc->n = 0;
	for (size_t k = sc->first; k < sc->last; sc->n++) {
		sc->at[sc->n] = k;
		if (k + 2 < sc->last && u[k] == 0xE0 && u[k + 1] == 0xB9
		    && u[k + 2] >= 0x90 && u[k + 2] <= 0x99) {
			sc->s[sc->n] = (char) ('0' + (u[k + 2] - 0x90));
			k += 3;
		} else {
			sc->s[sc->n] = sc->in[k++];
		}
	}
	sc->at[sc->n] = sc->last;
	sc->s[sc->n]  = '\0';
}

static int
match(scan *sc, const char *lit)
{
	size_t n = strlen(lit);
	if (sc->n - sc->i < n || memcmp(sc->s + sc->i, lit, n) != 0) {
		return 0;
	}
	sc->i += n;
	return 1;
}

/* Matches one ASCII letter in either case ("fy2024", "2024q1"). */
static int
match_ci(scan *sc, char upper)
{
	char c = sc->i < sc->n ? sc->s[sc->i] : '\0';
	if (c == upper || c == upper + ('a' - 'A')) {
		sc->i++;
		return 1;
	}
	return 0;
}

static void
skip_spaces(scan *sc)
{
	while (sc->i < sc->n && is_space(sc->s[sc->i])) {
		sc->i++;
	}
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads up to count digits; returns how many were read. */
static int
digits(scan *sc, int count, int *val)
{
	int k = 0, v = 0;
	while (k < count && sc->i < sc->n && is_digit(sc->s[sc->i])) {
		v = v * 10 + (sc->s[sc->i++] - '0');
		k++;
	}
	*val = v;
	return k;
}

/* "ปีงบประมาณ [พ.ศ.] ", "ปีงบ ", "พ.ศ. " or "FY" before the year. */
static void
parse_prefix(scan *sc, raw_period *r)
{
	if (match(sc, pfx_fiscal) || match(sc, pfx_fy)) {
		r->freq = HSI_FREQ_FISCAL;
		skip_spaces(sc);
	} else if (match_ci(sc, 'F')) {
		if (match_ci(sc, 'Y')) {
			r->freq = HSI_FREQ_FISCAL;
			return;
		}
		sc->i--; /* not "FY": let the year report it */
		return;
	}
	if (match(sc, pfx_be)) {
		r->be = 1;
		skip_spaces(sc);
	}
}

static int
parse_year(scan *sc, raw_period *r)
{
	r->year_at = sc->i;
	int k      = digits(sc, 4, &r->year);
	if (k < 4 && k > 0) {
		return fail(sc, HSI_EINVAL, r->year_at,
		    "a year needs 4 digits; %s", forms);
	}
	if (k < 4) {
		return fail_unexpected(sc, sc->i, "a 4-digit year");
	}
	if (sc->i < sc->n && is_digit(sc->s[sc->i])) {
		return fail(sc, HSI_EINVAL, sc->i,
		    "the year has more than 4 digits; %s", forms);
	}
	return 0;
}

/* "Qn" after a year; the digit is range-checked later. */
static int
parse_quarter(scan *sc, raw_period *r)
{
	r->freq   = r->freq == HSI_FREQ_FISCAL ? HSI_FREQ_FQUARTER
	                                       : HSI_FREQ_QUARTER;
	r->sub_at = sc->i;
	if (digits(sc, 1, &r->sub) != 1) {
		return fail_unexpected(sc, sc->i, "a quarter 1-4 after Q");
	}
	return 0;
}

/* After "YYYY-": "Qn", "A", "MM" or "MM-DD". Calendar forms only. */
static int
parse_dash(scan *sc, raw_period *r)
{
	if (match_ci(sc, 'Q')) {
		return parse_quarter(sc, r);
	}
	if (match_ci(sc, 'A')) {
		return 0;
	}
	r->sub_at = sc->i;
	if (digits(sc, 2, &r->sub) != 2) {
		return fail_unexpected(
		    sc, r->sub_at, "Q1-Q4, A or a 2-digit month");
	}
	r->freq = HSI_FREQ_MONTH;
	if (sc->i < sc->n && sc->s[sc->i] == '-') {
		sc->i++;
		r->day_at = sc->i;
		if (digits(sc, 2, &r->day) != 2) {
			return fail_unexpected(sc, r->day_at, "a 2-digit day");
		}
		r->freq = HSI_FREQ_DAY;
	}
	return 0;
}

static int
parse_syntax(scan *sc, raw_period *r)
{
	int rv;
	parse_prefix(sc, r);
	if ((rv = parse_year(sc, r)) != 0) {
		return rv;
	}
	if (match_ci(sc, 'Q')) {
		rv = parse_quarter(sc, r);
	} else if (r->freq != HSI_FREQ_FISCAL && sc->i < sc->n
	    && sc->s[sc->i] == '-') {
		sc->i++;
		rv = parse_dash(sc, r);
	}
	if (rv == 0 && sc->i < sc->n) {
		rv = fail_unexpected(sc, sc->i, NULL);
	}
	return rv;
}

static int
check_ranges(scan *sc, raw_period *r)
{
	int y = r->year;
	if (r->be || y >= BE_FIRST) {
		y -= BE_OFFSET;
	}
	if (y < CE_MIN || y > CE_MAX) {
		return fail(sc, HSI_ERANGE, r->year_at,
		    "year %d%s is outside %d..%d CE (%d..%d BE)", r->year,
		    r->be || r->year >= BE_FIRST ? " BE" : "", CE_MIN, CE_MAX,
		    CE_MIN + BE_OFFSET, CE_MAX + BE_OFFSET);
	}
	r->year = y;
	if ((r->freq == HSI_FREQ_QUARTER || r->freq == HSI_FREQ_FQUARTER)
	    && (r->sub < 1 || r->sub > 4)) {
		return fail(sc, HSI_ERANGE, r->sub_at,
		    "quarter %d is not 1..4", r->sub);
	}
	if (r->freq >= HSI_FREQ_MONTH && (r->sub < 1 || r->sub > 12)) {
		return fail(sc, HSI_ERANGE, r->sub_at,
		    "month %02d is not 1..12", r->sub);
	}
	if (r->freq == HSI_FREQ_DAY
	    && (r->day < 1 || r->day > days_in_month(y, r->sub))) {
		return fail(sc, HSI_ERANGE, r->day_at,
		    "day %02d is not in %04d-%02d, which has %d days", r->day,
		    y, r->sub, days_in_month(y, r->sub));
	}
	return 0;
}

int
hsi_period_parse(
    const char *s, size_t len, hsi_period *out, hsi_period_err *err)
{
	scan       sc = { .in = s, .err = err };
	raw_period r  = { .freq = HSI_FREQ_ANNUAL };
	int        rv;
	if (s == NULL || out == NULL) {
		return HSI_EINVAL;
	}
	if (len > INPUT_MAX) {
		sc.last  = len;
		sc.at[0] = INPUT_MAX;
		return fail(&sc, HSI_EINVAL, 0,
		    "too long (%zu bytes, at most %d)", len, INPUT_MAX);
	}
	fold(&sc, len);
	if (sc.n == 0) {
		return fail(
		    &sc, HSI_EINVAL, 0, "the period is empty; %s", forms);
	}
	if ((rv = parse_syntax(&sc, &r)) != 0
	    || (rv = check_ranges(&sc, &r)) != 0) {
		return rv;
	}
	out->freq = r.freq;
	out->year = r.year;
	out->sub  = r.freq >= HSI_FREQ_QUARTER ? r.sub : 0;
	out->day  = r.freq == HSI_FREQ_DAY ? r.day : 0;
	return 0;
}

void
hsi_period_format(const hsi_period *p, char *buf, size_t size)
{
	switch (p->freq) {
	case HSI_FREQ_ANNUAL:
		snprintf(buf, size, "%04d", p->year);
		return;
	case HSI_FREQ_FISCAL:
		snprintf(buf, size, "FY%04d", p->year);
		return;
	case HSI_FREQ_QUARTER:
		snprintf(buf, size, "%04dQ%d", p->year, p->sub);
		return;
	case HSI_FREQ_FQUARTER:
		snprintf(buf, size, "FY%04dQ%d", p->year, p->sub);
		return;
	case HSI_FREQ_MONTH:
		snprintf(buf, size, "%04d-%02d", p->year, p->sub);
		return;
	case HSI_FREQ_DAY:
		snprintf(buf, size, "%04d-%02d-%02d", p->year, p->sub, p->day);
		return;
	}
	if (size > 0) {
		buf[0] = '\0';
	}
}

int
hsi_freq_parse(const char *name, hsi_freq *out)
{
	for (int i = 0; name != NULL && i <= (int) HSI_FREQ_DAY; i++) {
		if (strcmp(name, freq_names[i]) == 0) {
			*out = (hsi_freq) i;
			return 0;
		}
	}
	return HSI_EINVAL;
}

const char *
hsi_freq_name(hsi_freq f)
{
	if ((int) f < 0 || f > HSI_FREQ_DAY) {
		return "unknown";
	}
	return freq_names[f];
}

/* First day of month m of year y (m may run past 12) and n months on. */
static void
month_span(int y, int m, int n, long *first_day, long *last_day)
{
	int end = m - 1 + n; /* months after January of y */
	*first_day
	    = hsi_days_from_civil(y + (m - 1) / 12, (m - 1) % 12 + 1, 1);
	*last_day = hsi_days_from_civil(y + end / 12, end % 12 + 1, 1) - 1;
}

void
hsi_period_range(const hsi_period *p, long *first_day, long *last_day)
{
	switch (p->freq) {
	case HSI_FREQ_ANNUAL:
		month_span(p->year, 1, 12, first_day, last_day);
		return;
	case HSI_FREQ_FISCAL:
		month_span(p->year - 1, 10, 12, first_day, last_day);
		return;
	case HSI_FREQ_QUARTER:
		month_span(p->year, 3 * p->sub - 2, 3, first_day, last_day);
		return;
	case HSI_FREQ_FQUARTER:
		/* FY Q1 is October of the year before; Q2..Q4 are Jan..Sep. */
		month_span(
		    p->year - 1, 3 * p->sub + 7, 3, first_day, last_day);
		return;
	case HSI_FREQ_MONTH:
		month_span(p->year, p->sub, 1, first_day, last_day);
		return;
	case HSI_FREQ_DAY:
		*first_day = hsi_days_from_civil(p->year, p->sub, p->day);
		*last_day  = *first_day;
		return;
	}
	*first_day = 0;
	*last_day  = -1;
}

int
hsi_period_index_year(const hsi_period *p, int fiscal_index)
{
	if (!fiscal_index) {
		return p->year;
	}
	switch (p->freq) {
	case HSI_FREQ_QUARTER:
		return p->sub == 4 ? p->year + 1 : p->year;
	case HSI_FREQ_MONTH:
	case HSI_FREQ_DAY:
		return p->sub >= 10 ? p->year + 1 : p->year;
	default:
		/*
		 * Fiscal forms carry their FY already. A calendar year lies
		 * in two FYs; it goes to the one holding nine of its twelve
		 * months (Jan-Sep).
		 */
		return p->year;
	}
}

int
hsi_freq_per_year(hsi_freq f, int year)
{
	switch (f) {
	case HSI_FREQ_ANNUAL:
	case HSI_FREQ_FISCAL:
		return 1;
	case HSI_FREQ_QUARTER:
	case HSI_FREQ_FQUARTER:
		return 4;
	case HSI_FREQ_MONTH:
		return 12;
	case HSI_FREQ_DAY:
		return is_leap(year) ? 366 : 365;
	}
	return 0;
}

/*
 * Howard Hinnant's days_from_civil and civil_from_days
 * (http://howardhinnant.github.io/date_algorithms.html): exact for the
 * proleptic Gregorian calendar with no tables and no loops, by counting
 * from 1 March so the leap day falls at the end of the year.
 */
long
hsi_days_from_civil(int y, int m, int d)
{
	long yy  = (long) y - (m <= 2);
	long era = (yy >= 0 ? yy : yy - 399) / 400;
	long yoe = yy - era * 400;
	long doy = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
hsi_civil_from_days(long days, int *y, int *m, int *d)
{
	long z   = days + 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp  = (5 * doy + 2) / 153;
	long mm  = mp < 10 ? mp + 3 : mp - 9;
	*d       = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m       = (int) mm;
	*y       = (int) (yoe + era * 400 + (mm <= 2));
}
