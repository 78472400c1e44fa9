/*
 * quality.c: the data-quality endpoints of hsi-api (openapi.yaml, tag
 * quality): who is late with their data (docs/data-quality.md).
 *
 *   GET /v1/quality        getQuality: the figures of hsictl quality, per
 *                          agency and index year or per (indicator,
 *                          period), for a window of due dates or a year
 *   GET /v1/quality/late   listLate: the pairs past due and incomplete
 *                          now, oldest due first
 *
 * Every definition (due dates, expected, present, on time, status) is
 * common/quality.c's; this file chooses the window, filters and writes
 * JSON or CSV. Both answer with the default graces and the server's
 * clock, in Asia/Bangkok like the rest of the platform's dates.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "csvout.h"
#include "error.h"
#include "log.h"
#include "period.h"
#include "quality.h"
#include "reply.h"
#include "routes.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define CSV_TYPE "text/csv; charset=utf-8; header=present"
#define DEFAULT_WINDOW_DAYS 400 /* as hsictl quality */
#define DEFAULT_LOOKBACK_DAYS 400
#define LOOKBACK_MAX_DAYS 3660

/* ---- answers ----------------------------------------------------------- */

/* Queues body (copied) as type, with Cache-Control: no-store (the
 * figures move with the clock) and Vary: Accept (JSON or CSV). */
static int
send_bytes(hsi_call *c, const char *type, const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp != NULL) {
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept");
	}
	return hsi_reply_queue(c, MHD_HTTP_OK, resp);
}

/* Queues a problem; non-zero, so helpers can say "answered, stop". */
static int
problem(hsi_call *c, unsigned status, const char *slug, const char *title,
    const char *parameter, const char *detail)
{
	hsi_problem p  = { .status = status,
		 .slug             = slug,
		 .title            = title,
		 .detail           = detail,
		 .parameter        = parameter };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

static int
bad_parameter(hsi_call *c, const char *parameter, const char *detail)
{
	return problem(c, MHD_HTTP_BAD_REQUEST, "invalid-parameter",
	    "Invalid query parameter", parameter, detail);
}

/*
 * The document (stolen) as JSON, or its rows (csv_rows, stolen too) as
 * CSV under columns when the client asked for CSV.
 */
static int
send_report(
    hsi_call *c, json_t *doc, json_t *csv_rows, const char *const *columns)
{
	char  *body = NULL;
	size_t len  = 0;
	int    rv;
	if (hsi_call_format(c) == HSI_FMT_CSV) {
		rv = csv_rows
		    ? hsi_csvout_items(csv_rows, columns, &body, &len)
		    : HSI_ENOMEM;
	} else {
		body = doc
		    ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17))
		    : NULL;
		len  = body ? strlen(body) : 0;
		rv   = body ? 0 : HSI_ENOMEM;
	}
	json_decref(doc);
	json_decref(csv_rows);
	if (rv == 0) {
		rv = send_bytes(c,
		    hsi_call_format(c) == HSI_FMT_CSV ? CSV_TYPE : JSON_TYPE,
		    body, len);
	} else {
		rv = problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "Internal error", NULL,
		    rv == HSI_ETOOBIG ? "the report is too large: narrow "
		                        "the window or choose an agency"
		                      : "out of memory; try again");
	}
	free(body);
	return rv;
}

/* ---- figures ----------------------------------------------------------- */

static void
fmt_date(long day, char *buf, size_t size)
{
	int y, m, d;
	hsi_civil_from_days(day, &y, &m, &d);
	snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
}

/* An instant in Bangkok time, "2025-04-01T00:00:00+07:00" (hsictl's). */
static void
fmt_instant(int64_t unix_s, char *buf, size_t size)
{
	long     day = hsi_quality_day_of(unix_s);
	int64_t  s   = unix_s + 7 * 3600 - (int64_t) day * 86400;
	unsigned h = (unsigned) (s / 3600) % 24u, m = (unsigned) (s / 60 % 60),
	         sec = (unsigned) (s % 60);
	char date[16];
	fmt_date(day, date, sizeof(date));
	snprintf(buf, size, "%.10sT%02u:%02u:%02u+07:00", date, h, m, sec);
}

/* num/den rounded to 4 decimals (hsictl quality's figures), NAN when
 * there is nothing to divide. */
static double
ratio(int num, int den)
{
	return den > 0 ? round((double) num / den * 10000) / 10000 : NAN;
}

/* A ratio for JSON (null for NAN) or for CSV ("0.9091", empty). */
static json_t *
jratio(double v, int csv)
{
	char buf[16];
	if (isnan(v)) {
		return csv ? json_string("") : json_null();
	}
	snprintf(buf, sizeof(buf), "%.4f", v);
	return csv ? json_string(buf) : json_real(v);
}

static double
row_timeliness(const hsi_quality_row *r, int64_t now_unix)
{
	return hsi_quality_due_passed(r, now_unix)
	    ? ratio(r->on_time, r->expected)
	    : NAN;
}

/* One (indicator, period) row (QualityIndicatorRow). */
static json_t *
row_json(const hsi_quality_row *r, int64_t now_unix, int csv)
{
	char due[16], due_at[32], last[32];
	fmt_date(r->due_day, due, sizeof(due));
	fmt_instant(r->due_unix, due_at, sizeof(due_at));
	fmt_instant(r->last_arrival_unix, last, sizeof(last));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:o, "
	                 "s:o, s:o, s:s}",
	    "agency", r->agency, "indicator", r->indicator, "frequency",
	    hsi_freq_name(r->freq), "period", r->period, "due", due, "due_at",
	    due_at, "expected", r->expected, "present", r->present, "on_time",
	    r->on_time, "completeness",
	    jratio(ratio(r->present, r->expected), csv), "timeliness",
	    jratio(row_timeliness(r, now_unix), csv), "last_arrival",
	    r->last_arrival_unix ? json_string(last) : json_null(), "status",
	    hsi_quality_status_name(hsi_quality_status_of(r, now_unix)));
}

static json_t *
rows_json(const hsi_quality_row *rows, size_t n, int64_t now_unix, int csv)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, row_json(&rows[i], now_unix, csv))
		    != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* The per agency and index year sums (QualityAgencyRow). */
static json_t *
sums_json(const hsi_quality_sum *s, size_t n, int csv)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *o
		    = json_pack("{s:s, s:i, s:i, s:i, s:i, s:o, s:i, s:i, "
		                "s:o, s:i}",
		        "agency", s[i].agency, "year", s[i].year, "pairs",
		        s[i].pairs, "expected", s[i].expected, "present",
		        s[i].present, "completeness",
		        jratio(ratio(s[i].present, s[i].expected), csv),
		        "expected_due", s[i].expected_due, "on_time",
		        s[i].on_time, "timeliness",
		        jratio(ratio(s[i].on_time, s[i].expected_due), csv),
		        "late", s[i].late);
		if (json_array_append_new(a, o) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* What hsi_quality_query is asked, and what it gave. */
typedef struct {
	hsi_quality_opts opts;
	const char      *agency; /* NULL: every agency */
	long             from_day, to_day;
	hsi_quality_row *rows;
	size_t           n;
} quality_args;

/* For hsi_call_run: a read, safe to repeat. */
static int
run_quality(PGconn *db, void *arg)
{
	quality_args *a = arg;
	free(a->rows);
	a->rows = NULL;
	a->n    = 0;
	return hsi_quality_query(
	    db, &a->opts, a->agency, a->from_day, a->to_day, &a->rows, &a->n);
}

/* Runs the query; answers its refusals (the window, the agency). */
static int
query(hsi_call *c, quality_args *a)
{
	char d[300];
	int  rv = hsi_call_run(c, run_quality, a);
	switch (rv) {
	case 0:
	case HSI_EDB: /* 503 answered */
		return rv;
	case HSI_ENOENT:
		snprintf(d, sizeof(d),
		    "agency %s owns no indicator in the catalog; GET "
		    "/v1/agencies lists the agencies",
		    a->agency ? a->agency : "?");
		return problem(
		    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", NULL, d);
	case HSI_ERANGE:
		snprintf(d, sizeof(d),
		    "the window is %ld days, and with daily indicators it "
		    "may be at most %d; narrow from..to or choose an agency",
		    a->to_day - a->from_day + 1, HSI_QUALITY_DAILY_MAX_DAYS);
		return bad_parameter(c, "from", d);
	default:
		return problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "Internal error", NULL, "the report failed; try again");
	}
}

/* ---- GET /v1/quality --------------------------------------------------- */

static const char *const by_choices[] = { "agency", "indicator", NULL };

static const hsi_qparam quality_query[] = {
	{ .name = "agency", .type = HSI_QT_AGENCY, .example = "CDD" },
	{ .name = "by", .type = HSI_QT_ENUM, .choices = by_choices },
	{ .name      = "year",
	    .type    = HSI_QT_INT,
	    .min     = 1900,
	    .max     = 2399,
	    .example = "2024" },
	{ .name = "from", .type = HSI_QT_PERIOD, .example = "2024-01-01" },
	{ .name = "to", .type = HSI_QT_PERIOD, .example = "2024-12-31" },
	{ .name = NULL },
};

static const char *const agency_columns[]
    = { "agency", "year", "pairs", "expected", "present", "completeness",
	      "expected_due", "on_time", "timeliness", "late", NULL };
static const char *const indicator_columns[]
    = { "agency", "indicator", "period", "due", "expected", "present",
	      "on_time", "completeness", "timeliness", "status", NULL };

/*
 * The window of due days: year's periods (the calendar year, a fiscal
 * period counting in the year its fiscal year ends, as the roll-up does),
 * or from..to, by default the 400 days up to today in Bangkok.
 */
static int
quality_window(hsi_call *c, quality_args *a, int64_t now_unix)
{
	const hsi_qvalue *from = hsi_call_value(c, "from");
	const hsi_qvalue *to   = hsi_call_value(c, "to");
	long              first, last;
	int               year = (int) hsi_call_int(c, "year", 0);
	char              d[300], f[16], t[16];
	if (year != 0) {
		int gmin = HSI_QUALITY_GRACE_MAX_DAYS, gmax = 0;
		if (from || to) {
			return bad_parameter(c, "year",
			    "year chooses its own periods: give year, or "
			    "from and to, not both");
		}
		for (int i = 0; i < HSI_QUALITY_N_FREQ; i++) {
			int g = a->opts.grace_days[i];
			gmin  = g < gmin ? g : gmin;
			gmax  = g > gmax ? g : gmax;
		}
		/* Its periods end from 31 December before (FY Q1) to 31
		 * December: due from then + the least grace. */
		a->from_day = hsi_days_from_civil(year - 1, 12, 31) + gmin;
		a->to_day   = hsi_days_from_civil(year, 12, 31) + gmax;
		return 0;
	}
	a->to_day = hsi_quality_day_of(now_unix);
	if (to) {
		hsi_period_range(&to->period, &first, &a->to_day);
	}
	a->from_day = a->to_day - DEFAULT_WINDOW_DAYS;
	if (from) {
		hsi_period_range(&from->period, &a->from_day, &last);
	}
	fmt_date(a->from_day, f, sizeof(f));
	fmt_date(a->to_day, t, sizeof(t));
	if (a->from_day > a->to_day) {
		snprintf(d, sizeof(d),
		    "the window starts on %s, after it ends (%s); swap from "
		    "and to",
		    f, t);
		return bad_parameter(c, from ? "from" : "to", d);
	}
	if (a->to_day - a->from_day + 1 > HSI_QUALITY_WINDOW_MAX_DAYS) {
		snprintf(d, sizeof(d),
		    "%s to %s is %ld days; give at most 40 years (%d days) "
		    "at once",
		    f, t, a->to_day - a->from_day + 1,
		    HSI_QUALITY_WINDOW_MAX_DAYS);
		return bad_parameter(c, "to", d);
	}
	return 0;
}

/* Keeps the rows of index year (calendar, a fiscal period in the year
 * its fiscal year ends): hsi_period_index_year(p, 0), as the sums. */
static size_t
keep_year(hsi_quality_row *rows, size_t n, int year)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].year == year) {
			rows[k++] = rows[i];
		}
	}
	return k;
}

/* The document and, for CSV, its rows. */
static int
quality_report(
    hsi_call *c, quality_args *a, int64_t now_unix, json_t **doc, json_t **csv)
{
	int              by_ind = hsi_call_int(c, "by", 0) == 1;
	int              year   = (int) hsi_call_int(c, "year", 0);
	hsi_quality_sum *s      = NULL;
	size_t           ns     = 0;
	char             from[16], to[16], now[32];
	if (!by_ind
	    && hsi_quality_rollup(a->rows, a->n, now_unix, 0, &s, &ns) != 0) {
		return HSI_ENOMEM;
	}
	json_t *grace = json_object();
	for (int f = 0; f < HSI_QUALITY_N_FREQ; f++) {
		json_object_set_new(grace, hsi_freq_name((hsi_freq) f),
		    json_integer(a->opts.grace_days[f]));
	}
	fmt_date(a->from_day, from, sizeof(from));
	fmt_date(a->to_day, to, sizeof(to));
	fmt_instant(now_unix, now, sizeof(now));
	*doc = json_pack("{s:s, s:s?, s:o, s:s, s:s, s:s, s:o, s:o}", "by",
	    by_ind ? "indicator" : "agency", "agency", a->agency, "year",
	    year ? json_integer(year) : json_null(), "from", from, "to", to,
	    "now", now, "grace_days", grace, "rows",
	    by_ind ? rows_json(a->rows, a->n, now_unix, 0)
	           : sums_json(s, ns, 0));
	*csv = by_ind ? rows_json(a->rows, a->n, now_unix, 1)
	              : sums_json(s, ns, 1);
	free(s);
	return 0;
}

static int
get_quality(hsi_call *c)
{
	quality_args a        = { .agency = hsi_call_text(c, "agency") };
	int64_t      now_unix = (int64_t) time(NULL);
	json_t      *doc = NULL, *csv = NULL;
	int          year = (int) hsi_call_int(c, "year", 0), rv;
	hsi_quality_defaults(&a.opts);
	if ((rv = quality_window(c, &a, now_unix)) != 0
	    || (rv = query(c, &a)) != 0) {
		free(a.rows);
		return rv;
	}
	if (year != 0) {
		a.n = keep_year(a.rows, a.n, year);
	}
	rv = quality_report(c, &a, now_unix, &doc, &csv);
	free(a.rows);
	if (rv != 0) {
		return problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "Internal error", NULL, "out of memory; try again");
	}
	return send_report(c, doc, csv,
	    hsi_call_int(c, "by", 0) == 1 ? indicator_columns
	                                  : agency_columns);
}

/* ---- GET /v1/quality/late ---------------------------------------------- */

static const hsi_qparam late_query[] = {
	{ .name = "agency", .type = HSI_QT_AGENCY, .example = "CDD" },
	{ .name      = "indicator",
	    .type    = HSI_QT_INDICATOR,
	    .example = "t_health" },
	{ .name      = "lookback_days",
	    .type    = HSI_QT_INT,
	    .min     = 1,
	    .max     = LOOKBACK_MAX_DAYS,
	    .example = "400" },
	{ .name = NULL },
};

/* Oldest due first; then agency, indicator. */
static int
late_order(const void *x, const void *y)
{
	const hsi_quality_row *a = x, *b = y;
	int d = (a->due_day > b->due_day) - (a->due_day < b->due_day);
	if (d == 0) {
		d = strcmp(a->agency, b->agency);
	}
	if (d == 0) {
		d = strcmp(a->indicator, b->indicator);
	}
	return d ? d : strcmp(a->period, b->period);
}

/*
 * The owner of indicator into *agency (buf): the query then reads that
 * agency alone. 0; -1 when another agency was asked for (nothing of
 * theirs can be late); > 0 once answered (404, 503).
 */
static int
indicator_agency(hsi_call *c, const char *indicator, const char **agency,
    char *buf, size_t size)
{
	char        d[200];
	const char *p[1] = { indicator };
	PGresult   *r    = hsi_call_sql(c, "indicator agency",
	         "SELECT agency FROM indicator WHERE code = $1", 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		snprintf(d, sizeof(d),
		    "no indicator %s in the catalog; GET /v1/indicators lists "
		    "them",
		    indicator);
		return problem(
		    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", NULL, d);
	}
	snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (*agency != NULL && strcmp(*agency, buf) != 0) {
		return -1;
	}
	*agency = buf;
	return 0;
}

static int
get_late(hsi_call *c)
{
	quality_args a         = { .agency = hsi_call_text(c, "agency") };
	const char  *indicator = hsi_call_text(c, "indicator");
	int64_t      now_unix  = (int64_t) time(NULL);
	long         lookback
	    = (long) hsi_call_int(c, "lookback_days", DEFAULT_LOOKBACK_DAYS);
	char   owner[32], now[32];
	size_t k  = 0;
	int    rv = 0;
	hsi_quality_defaults(&a.opts);
	a.to_day   = hsi_quality_day_of(now_unix);
	a.from_day = a.to_day - lookback + 1;
	if (indicator != NULL) {
		rv = indicator_agency(
		    c, indicator, &a.agency, owner, sizeof(owner));
	}
	if (rv > 0) {
		return rv; /* answered */
	}
	if (rv == 0 && (rv = query(c, &a)) != 0) {
		free(a.rows);
		return rv;
	}
	/* rv < 0: another agency owns the indicator; nothing is late. */
	for (size_t i = 0; rv == 0 && i < a.n; i++) {
		if (hsi_quality_status_of(&a.rows[i], now_unix)
		        == HSI_QUALITY_LATE
		    && (indicator == NULL
		        || strcmp(a.rows[i].indicator, indicator) == 0)) {
			a.rows[k++] = a.rows[i];
		}
	}
	if (k > 1) {
		qsort(a.rows, k, sizeof(*a.rows), late_order);
	}
	fmt_instant(now_unix, now, sizeof(now));
	json_t *doc = json_pack("{s:s, s:I, s:o}", "now", now, "lookback_days",
	    (json_int_t) lookback, "items", rows_json(a.rows, k, now_unix, 0));
	json_t *csv = rows_json(a.rows, k, now_unix, 1);
	free(a.rows);
	return send_report(c, doc, csv, indicator_columns);
}

const hsi_route hsi_routes_quality[] = {
	{ .method    = "GET",
	    .pattern = "/v1/quality",
	    .handler = get_quality,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = quality_query,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/quality/late",
	    .handler = get_late,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = late_query,
	    .flags   = HSI_ROUTE_CSV },
	HSI_ROUTE_END,
};
