/*
 * quality.h: data completeness and timeliness per agency and period --
 * "who is late with their data" (docs/data-quality.md). Used by the
 * alerter and `hsictl quality`, later by the REST gateway.
 *
 * Definitions:
 *  - Every indicator is owned by one agency and has a frequency
 *    (period.h). The due day of a period of an indicator is the last day
 *    of the period plus a grace that depends on the frequency (defaults:
 *    annual 90, fiscal 90, quarterly 45, fquarterly 45, monthly 30,
 *    daily 2 days). The due instant is the end of the due day in
 *    Asia/Bangkok (UTC+7, no DST): (due_day + 1) * 86400 - 7 * 3600
 *    seconds since the epoch.
 *  - Expected values of (indicator, period): one per area at the
 *    indicator's reporting level -- the nation when its rollup_area is
 *    'national', else every province.
 *  - Present: an observation of (indicator, area, period) with a value
 *    (status <> 'M'; 'M' means reported missing), for an expected area.
 *  - First arrival: the earliest observation_revision.recorded_at of
 *    (indicator, area, period) with a value. On time: present, and first
 *    arrival at or before the due instant. A present value with no such
 *    revision (loaded around the ingest path) is present but not on time.
 *  - completeness = present / expected; timeliness = on_time / expected,
 *    which only applies once the due instant has passed.
 *
 * Periods are chosen by their due day: a window [from_day, to_day] (days
 * since 1970-01-01) selects, for each frequency, every period whose due
 * day lies in it. Windows are bounded so no caller can ask for an
 * unbounded amount of work.
 */
#ifndef HSI_QUALITY_H
#define HSI_QUALITY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "period.h"

#define HSI_QUALITY_N_FREQ 6              /* entries of hsi_freq */
#define HSI_QUALITY_GRACE_MAX_DAYS 3660   /* a grace is 0..this */
#define HSI_QUALITY_WINDOW_MAX_DAYS 14610 /* 40 years of due days */
#define HSI_QUALITY_DAILY_MAX_DAYS 3660   /* when daily periods count */
#define HSI_QUALITY_DUE_SOON_DAYS 7       /* "due_soon" vs "open" */

typedef struct {
	int grace_days[HSI_QUALITY_N_FREQ]; /* indexed by hsi_freq */
} hsi_quality_opts;

/* Fills o with the default grace of every frequency (see above). */
void hsi_quality_defaults(hsi_quality_opts *o);

/*
 * Parses "FREQ=DAYS" ("monthly=45") and sets that frequency's grace in o.
 * Returns 0, or HSI_EINVAL (not FREQ=DAYS, unknown frequency, DAYS not a
 * whole number) or HSI_ERANGE (DAYS outside 0..3660), with a message in
 * err that says what was wrong and what is accepted; o is then unchanged.
 */
int hsi_quality_grace_parse(
    hsi_quality_opts *o, const char *spec, char *err, size_t err_size);

/* The due day of p: its last day plus the grace of its frequency. */
long hsi_quality_due_day(const hsi_quality_opts *o, const hsi_period *p);

/* The due instant of due_day: the end of that day in Bangkok (UTC+7). */
int64_t hsi_quality_due_unix(long due_day);

/* The Bangkok civil day (days since 1970-01-01) holding instant t. */
long hsi_quality_day_of(int64_t unix_s);

/*
 * The periods of frequency f whose due day lies in [from_day, to_day], in
 * due order, limited to the years periods can have (1900..2399). On
 * success *out is malloc'd (the caller free()s it; NULL when *n is 0).
 * Returns 0, HSI_ENOMEM, HSI_EINVAL for an unknown f, or HSI_ERANGE when the
 * window is backwards, longer than HSI_QUALITY_WINDOW_MAX_DAYS
 * (HSI_QUALITY_DAILY_MAX_DAYS for daily), or a grace of o is outside
 * 0..HSI_QUALITY_GRACE_MAX_DAYS.
 */
int hsi_quality_periods(const hsi_quality_opts *o, hsi_freq f, long from_day,
    long to_day, hsi_period **out, size_t *n);

/* Completeness and timeliness of one (indicator, period). */
typedef struct {
	char     agency[17];
	char     indicator[33];
	char     period[HSI_PERIOD_MAX]; /* canonical form */
	hsi_freq freq;
	int      year, fyear; /* calendar and fiscal index years */
	long     due_day;
	int64_t  due_unix;
	int      expected, present, on_time;
	int64_t  last_arrival_unix; /* latest first arrival among the
	                               present values, 0 if none */
} hsi_quality_row;

/*
 * Rows for every indicator (of agency, or of all agencies when agency is
 * NULL) and period whose due day is in [from_day, to_day], sorted by
 * agency, indicator (byte order) and due day. The counts take one
 * round trip, whatever the number of periods. On success *rows is
 * malloc'd (the caller free()s it; NULL when *n is 0).
 *
 * Returns 0; HSI_ENOENT when agency is given and owns no indicator;
 * HSI_ERANGE for a window hsi_quality_periods refuses for a frequency of
 * the selected indicators (so a daily indicator limits the window to
 * HSI_QUALITY_DAILY_MAX_DAYS); HSI_EDB (logged with the server's message);
 * HSI_ENOMEM.
 */
int hsi_quality_query(PGconn *db, const hsi_quality_opts *o,
    const char *agency, long from_day, long to_day, hsi_quality_row **rows,
    size_t *n);

/* 1 when the due instant of r has passed at now_unix, else 0. */
int hsi_quality_due_passed(const hsi_quality_row *r, int64_t now_unix);

typedef enum {
	HSI_QUALITY_COMPLETE = 0, /* every expected value is present */
	HSI_QUALITY_LATE,         /* past due and incomplete */
	HSI_QUALITY_DUE_SOON,     /* incomplete, due within 7 days */
	HSI_QUALITY_OPEN,         /* incomplete, due later */
} hsi_quality_status;

hsi_quality_status hsi_quality_status_of(
    const hsi_quality_row *r, int64_t now_unix);
/* "complete", "late", "due_soon", "open". */
const char *hsi_quality_status_name(hsi_quality_status s);

/* Rows summed per agency and index year. */
typedef struct {
	char agency[17];
	int  year;
	int  pairs;             /* (indicator, period) rows */
	int  expected, present; /* over all rows */
	int  expected_due;      /* expected of the rows past due */
	int  on_time;           /* on time, of the rows past due */
	int  late;              /* rows past due and incomplete */
} hsi_quality_sum;

/*
 * Sums rows (as hsi_quality_query returns them) per agency and index year
 * (the fiscal one with fiscal_index, else the calendar one), sorted by
 * agency and year. Timeliness of a sum is on_time / expected_due: only
 * rows whose due instant has passed at now_unix count for it. On success
 * *out is malloc'd (the caller free()s it; NULL when *n_out is 0).
 * Returns 0 or HSI_ENOMEM.
 */
int hsi_quality_rollup(const hsi_quality_row *rows, size_t n, int64_t now_unix,
    int fiscal_index, hsi_quality_sum **out, size_t *n_out);

#endif
