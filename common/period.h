/*
 * period.h: the periods of HSI data (docs/periods.md).
 *
 * Canonical forms: "2024" calendar year; "FY2024" Thai fiscal year
 * (1 Oct 2023 - 30 Sep 2024, named by the year it ends in); "2024Q1"
 * calendar quarter (Jan-Mar); "FY2024Q1" fiscal quarter (Oct-Dec 2023);
 * "2024-03" month; "2024-03-15" day. All dates are Asia/Bangkok civil
 * dates; there is no time of day.
 *
 * Input may also use Buddhist-era years (BE = CE + 543) in every form
 * ("2567", "FY2567", "2567Q1", "2567-03", "2567-03-15"), the Thai
 * prefixes "พ.ศ." and "ปีงบประมาณ" / "ปีงบ", the SDMX forms "2024-Q1" and
 * "2024-A", and Thai digits (๐-๙) anywhere. A 4-digit year >= 2400 is BE;
 * 1900..2399 is CE.
 */
#ifndef HSI_PERIOD_H
#define HSI_PERIOD_H

#include <stddef.h>

typedef enum {
	HSI_FREQ_ANNUAL = 0, /* calendar year */
	HSI_FREQ_FISCAL,     /* Thai fiscal year */
	HSI_FREQ_QUARTER,    /* calendar quarter */
	HSI_FREQ_FQUARTER,   /* fiscal quarter */
	HSI_FREQ_MONTH,
	HSI_FREQ_DAY,
} hsi_freq;

typedef struct {
	hsi_freq freq;
	int      year; /* CE; for fiscal forms the year the FY ends in */
	int      sub;  /* quarter 1-4, month 1-12, 0 otherwise */
	int      day;  /* day of month for HSI_FREQ_DAY, else 0 */
} hsi_period;

/* Longest canonical form plus NUL ("FY2024Q1", "2024-03-15"). */
#define HSI_PERIOD_MAX 16

/* Parse error: what was wrong and the byte offset in the input. */
typedef struct {
	char   msg[160];
	size_t offset;
} hsi_period_err;

/*
 * Parses len bytes of s (need not be NUL-terminated; surrounding spaces
 * are ignored). On success writes *out and returns 0. On failure returns
 * HSI_EINVAL (syntax) or HSI_ERANGE (month 13, 30 Feb, year outside
 * 1900..2399 CE) and, if err is not NULL, fills it with a message that says
 * what is wrong and which forms are accepted.
 */
int hsi_period_parse(
    const char *s, size_t len, hsi_period *out, hsi_period_err *err);

/* Writes the canonical form of p to buf (at least HSI_PERIOD_MAX bytes). */
void hsi_period_format(const hsi_period *p, char *buf, size_t size);

/* Parses a frequency name ("annual", "fiscal", "quarterly", "fquarterly",
 * "monthly", "daily"); returns 0 or HSI_EINVAL. */
int         hsi_freq_parse(const char *name, hsi_freq *out);
const char *hsi_freq_name(hsi_freq f);

/*
 * First and last day of p, as days since 1970-01-01 (civil, proleptic
 * Gregorian). Fiscal year FY2024 spans 2023-10-01 .. 2024-09-30.
 */
void hsi_period_range(const hsi_period *p, long *first_day, long *last_day);

/*
 * The index year that p rolls up into. With fiscal_index 0 the index is
 * by calendar year: annual, quarter, month and day periods belong to their
 * calendar year, and a fiscal year or fiscal quarter belongs to the year
 * its fiscal year ends in. With fiscal_index 1 every period belongs to the
 * fiscal year containing it (returned as the FY's end year).
 */
int hsi_period_index_year(const hsi_period *p, int fiscal_index);

/* Number of sub-periods of freq in one year (1, 1, 4, 4, 12, 365/366
 * for year) -- for roll-up coverage. */
int hsi_freq_per_year(hsi_freq f, int year);

/* Days since 1970-01-01 of a civil date, and back. */
long hsi_days_from_civil(int y, int m, int d);
void hsi_civil_from_days(long days, int *y, int *m, int *d);

#endif
