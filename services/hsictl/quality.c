/*
 * quality.c: hsictl quality -- completeness and timeliness of each
 * agency's data, per index year or per (indicator, period): who is late
 * with their data (docs/data-quality.md). A front over common/quality.c;
 * every definition lives there.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "db.h"
#include "error.h"
#include "hsictl.h"
#include "period.h"
#include "quality.h"
#include "scorecmd.h"

#define DEFAULT_WINDOW_DAYS 400

typedef struct {
	const char      *db_url, *agency;
	int              json, by_indicator, have_from, have_to;
	long             from_day, to_day;
	hsi_quality_opts q;
} quality_args;

static void
quality_usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl quality [--db-url URL] [--agency CODE] [--from "
	    "DATE|PERIOD]\n"
	    "                      [--to DATE|PERIOD] [--by "
	    "agency|indicator]\n"
	    "                      [--format csv|json] [--grace "
	    "FREQ=DAYS]...\n\n"
	    "Who is late with their data (docs/data-quality.md): for each "
	    "indicator and\n"
	    "period due in the window, how many of the expected values are "
	    "present, and how\n"
	    "many arrived by the due date (the period's last day + grace, end "
	    "of day in\n"
	    "Bangkok).\n\n"
	    "  --from, --to   the window of due dates: a date (2025-03-31) or "
	    "a period, from\n"
	    "                 its first day to its last (--from 2024 --to "
	    "2024); default the\n"
	    "                 %d days up to today (Bangkok); at most 40 "
	    "years, "
	    "or %d days\n"
	    "                 when a daily indicator is included\n"
	    "  --by           agency (default): a row per agency and index "
	    "year;\n"
	    "                 indicator: a row per indicator and period\n"
	    "  --grace        days after a period's end until it is due; "
	    "defaults annual=90,\n"
	    "                 fiscal=90, quarterly=45, fquarterly=45, "
	    "monthly=30, daily=2\n"
	    "  --db-url       default $HSI_DB_URL; --format: default csv\n",
	    DEFAULT_WINDOW_DAYS, HSI_QUALITY_DAILY_MAX_DAYS);
}

/* Prints "hsictl quality: " and the message; returns 2 (usage). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("hsictl quality: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (hsictl quality --help)\n", stderr);
	return 2;
}

/* A date or period for --from (its first day) or --to (its last). */
static int
parse_day(const char *name, const char *s, int last, long *day)
{
	hsi_period     p;
	hsi_period_err e;
	long           first_day, last_day;
	if (hsi_period_parse(s, strlen(s), &p, &e) != 0) {
		fprintf(stderr,
		    "hsictl quality: --%s: %s; a date like 2025-03-31 is a "
		    "period of one day\n",
		    name, e.msg);
		return 2;
	}
	hsi_period_range(&p, &first_day, &last_day);
	*day = last ? last_day : first_day;
	return 0;
}

static void
fmt_date(long day, char *buf, size_t size)
{
	int y, m, d;
	hsi_civil_from_days(day, &y, &m, &d);
	snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
}

static int
take_option(quality_args *a, int c, const char *arg)
{
	char err[256];
	switch (c) {
	case 'd':
		a->db_url = arg;
		return 0;
	case 'a':
		if (!hsi_agency_code_valid(arg)) {
			return usage_error(
			    "--agency '%s': an agency code is 2 "
			    "to 16 capital letters and digits, "
			    "e.g. DOH",
			    arg);
		}
		a->agency = arg;
		return 0;
	case 'f':
		a->have_from = 1;
		return parse_day("from", arg, 0, &a->from_day);
	case 't':
		a->have_to = 1;
		return parse_day("to", arg, 1, &a->to_day);
	case 'b':
		if (strcmp(arg, "agency") != 0
		    && strcmp(arg, "indicator") != 0) {
			return usage_error(
			    "--by '%s': give agency or indicator", arg);
		}
		a->by_indicator = strcmp(arg, "indicator") == 0;
		return 0;
	case 'o':
		if (strcmp(arg, "csv") != 0 && strcmp(arg, "json") != 0) {
			return usage_error(
			    "--format '%s': give csv or json", arg);
		}
		a->json = strcmp(arg, "json") == 0;
		return 0;
	case 'g':
		if (hsi_quality_grace_parse(&a->q, arg, err, sizeof(err))
		    != 0) {
			return usage_error("--grace '%s': %s", arg, err);
		}
		return 0;
	default:
		quality_usage(stderr);
		return 2;
	}
}

/* Today in Bangkok, and the default window: 400 days up to --to. */
static int
check_window(quality_args *a, int64_t now_unix)
{
	char from[16], to[16];
	if (!a->have_to) {
		a->to_day = hsi_quality_day_of(now_unix);
	}
	if (!a->have_from) {
		a->from_day = a->to_day - DEFAULT_WINDOW_DAYS;
	}
	fmt_date(a->from_day, from, sizeof(from));
	fmt_date(a->to_day, to, sizeof(to));
	if (a->from_day > a->to_day) {
		return usage_error(
		    "--from/--to: the window starts on %s, after "
		    "it ends (%s); swap them",
		    from, to);
	}
	if (a->to_day - a->from_day + 1 > HSI_QUALITY_WINDOW_MAX_DAYS) {
		return usage_error(
		    "--from/--to: %s to %s is %ld days; at most "
		    "40 years (%d days) at once",
		    from, to, a->to_day - a->from_day + 1,
		    HSI_QUALITY_WINDOW_MAX_DAYS);
	}
	return 0;
}

static int
parse_args(int argc, char **argv, quality_args *a, int *help)
{
	static const struct option opts[] = {
		{ "db-url", required_argument, NULL, 'd' },
		{ "agency", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },
		{ "format", required_argument, NULL, 'o' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rv;
	memset(a, 0, sizeof(*a));
	a->db_url = getenv("HSI_DB_URL");
	hsi_quality_defaults(&a->q);
	*help  = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'h') {
			*help = 1;
			return 0;
		}
		if ((rv = take_option(a, c, optarg)) != 0) {
			return rv;
		}
	}
	if (optind < argc) {
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	return 0;
}

/* ---- output ------------------------------------------------------------ */

/* num/den rounded to 4 decimals, NAN when there is nothing to divide. */
static double
ratio(int num, int den)
{
	return den > 0 ? round((double) num / den * 10000) / 10000 : NAN;
}

static json_t *
jratio(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static void
csv_ratio(FILE *f, double v)
{
	if (!isnan(v)) {
		fprintf(f, "%.4f", v);
	}
}

/* An instant as Bangkok local time, "2025-04-01T00:00:00+07:00". */
static void
fmt_instant(int64_t unix_s, char *buf, size_t size)
{
	long    day = hsi_quality_day_of(unix_s);
	int64_t s   = unix_s + 7 * 3600 - (int64_t) day * 86400;
	char    date[16];
	/* s is within the day (0..86399); the bounds tell the compiler. */
	unsigned h = (unsigned) (s / 3600) % 24u, m = (unsigned) (s / 60 % 60),
	         sec = (unsigned) (s % 60);
	fmt_date(day, date, sizeof(date));
	snprintf(buf, size, "%.10sT%02u:%02u:%02u+07:00", date, h, m, sec);
}

static double
row_timeliness(const hsi_quality_row *r, int64_t now_unix)
{
	return hsi_quality_due_passed(r, now_unix)
	    ? ratio(r->on_time, r->expected)
	    : NAN;
}

static void
rows_csv(FILE *f, const hsi_quality_row *rows, size_t n, int64_t now_unix)
{
	fputs("agency,indicator,period,due,expected,present,on_time,"
	      "completeness,timeliness,status\n",
	    f);
	for (size_t i = 0; i < n; i++) {
		const hsi_quality_row *r = &rows[i];
		char                   due[16];
		fmt_date(r->due_day, due, sizeof(due));
		fprintf(f, "%s,%s,%s,%s,%d,%d,%d,", r->agency, r->indicator,
		    r->period, due, r->expected, r->present, r->on_time);
		csv_ratio(f, ratio(r->present, r->expected));
		fputc(',', f);
		csv_ratio(f, row_timeliness(r, now_unix));
		fprintf(f, ",%s\n",
		    hsi_quality_status_name(
		        hsi_quality_status_of(r, now_unix)));
	}
}

static json_t *
rows_json(const hsi_quality_row *rows, size_t n, int64_t now_unix)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		const hsi_quality_row *r = &rows[i];
		char                   due[16], due_at[32], last[32];
		fmt_date(r->due_day, due, sizeof(due));
		fmt_instant(r->due_unix, due_at, sizeof(due_at));
		fmt_instant(r->last_arrival_unix, last, sizeof(last));
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, "
		              "s:o, s:o, s:o, s:s}",
		        "agency", r->agency, "indicator", r->indicator,
		        "frequency", hsi_freq_name(r->freq), "period",
		        r->period, "due", due, "due_at", due_at, "expected",
		        r->expected, "present", r->present, "on_time",
		        r->on_time, "completeness",
		        jratio(ratio(r->present, r->expected)), "timeliness",
		        jratio(row_timeliness(r, now_unix)), "last_arrival",
		        r->last_arrival_unix ? json_string(last) : json_null(),
		        "status",
		        hsi_quality_status_name(
		            hsi_quality_status_of(r, now_unix))));
	}
	return a;
}

static void
sums_csv(FILE *f, const hsi_quality_sum *s, size_t n)
{
	fputs("agency,year,pairs,expected,present,completeness,expected_due,"
	      "on_time,timeliness,late\n",
	    f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s,%d,%d,%d,%d,", s[i].agency, s[i].year,
		    s[i].pairs, s[i].expected, s[i].present);
		csv_ratio(f, ratio(s[i].present, s[i].expected));
		fprintf(f, ",%d,%d,", s[i].expected_due, s[i].on_time);
		csv_ratio(f, ratio(s[i].on_time, s[i].expected_due));
		fprintf(f, ",%d\n", s[i].late);
	}
}

static json_t *
sums_json(const hsi_quality_sum *s, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(a,
		    json_pack("{s:s, s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:o, "
		              "s:i}",
		        "agency", s[i].agency, "year", s[i].year, "pairs",
		        s[i].pairs, "expected", s[i].expected, "present",
		        s[i].present, "completeness",
		        jratio(ratio(s[i].present, s[i].expected)),
		        "expected_due", s[i].expected_due, "on_time",
		        s[i].on_time, "timeliness",
		        jratio(ratio(s[i].on_time, s[i].expected_due)), "late",
		        s[i].late));
	}
	return a;
}

/* The JSON document: the window and graces used, then the rows. */
static int
write_json(const quality_args *a, json_t *rows, int64_t now_unix)
{
	char    from[16], to[16], now[32];
	json_t *grace = json_object();
	for (int f = 0; f < HSI_QUALITY_N_FREQ; f++) {
		json_object_set_new(grace, hsi_freq_name((hsi_freq) f),
		    json_integer(a->q.grace_days[f]));
	}
	fmt_date(a->from_day, from, sizeof(from));
	fmt_date(a->to_day, to, sizeof(to));
	fmt_instant(now_unix, now, sizeof(now));
	json_t *doc = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:o, s:o}", "by",
	    a->by_indicator ? "indicator" : "agency", "agency", a->agency,
	    "from", from, "to", to, "now", now, "grace_days", grace, "rows",
	    rows);
	int     rv  = doc
	         ? json_dumpf(doc, stdout,
	             JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
	         : -1;
	fputc('\n', stdout);
	json_decref(doc);
	return rv;
}

static int
report(const quality_args *a, const hsi_quality_row *rows, size_t n,
    int64_t now_unix)
{
	hsi_quality_sum *s  = NULL;
	size_t           ns = 0;
	int              rv = 0;
	if (!a->by_indicator
	    && hsi_quality_rollup(rows, n, now_unix, 0, &s, &ns) != 0) {
		fprintf(stderr, "hsictl quality: out of memory\n");
		return 1;
	}
	if (a->json) {
		rv = write_json(a,
		    a->by_indicator ? rows_json(rows, n, now_unix)
		                    : sums_json(s, ns),
		    now_unix);
	} else if (a->by_indicator) {
		rows_csv(stdout, rows, n, now_unix);
	} else {
		sums_csv(stdout, s, ns);
	}
	free(s);
	if (rv != 0 || fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "hsictl quality: cannot write the output\n");
		return 1;
	}
	return 0;
}

/* Says what a refusal of hsi_quality_query means; the exit code. */
static int
query_failed(const quality_args *a, int rv)
{
	switch (rv) {
	case HSI_ENOENT:
		fprintf(stderr,
		    "hsictl quality: --agency %s owns no indicator in the "
		    "catalog (docs/catalog.md); check the code\n",
		    a->agency);
		return 1;
	case HSI_ERANGE:
		return usage_error(
		    "--from/--to: the window is %ld days, and a "
		    "daily indicator allows at most %d; narrow "
		    "it or choose an --agency",
		    a->to_day - a->from_day + 1, HSI_QUALITY_DAILY_MAX_DAYS);
	case HSI_EDB:
		fprintf(stderr,
		    "hsictl quality: cannot read the database (the error is "
		    "logged above)\n");
		return 1;
	default:
		fprintf(stderr, "hsictl quality: %s\n", hsi_strerror(rv));
		return 1;
	}
}

int
hsictl_quality(int argc, char **argv)
{
	quality_args     a;
	int              help, rv = parse_args(argc, argv, &a, &help);
	int64_t          now_unix = (int64_t) time(NULL);
	PGconn          *db;
	hsi_quality_row *rows = NULL;
	size_t           n    = 0;
	char             err[512];
	if (rv != 0 || help) {
		if (help) {
			quality_usage(stdout);
		}
		return rv;
	}
	if ((rv = check_window(&a, now_unix)) != 0) {
		return rv;
	}
	if (a.db_url == NULL) {
		return usage_error("give --db-url URL or set HSI_DB_URL");
	}
	if (hsi_db_open(a.db_url, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl quality: %s\n", err);
		return 1;
	}
	rv = hsi_quality_query(
	    db, &a.q, a.agency, a.from_day, a.to_day, &rows, &n);
	hsi_db_close(db);
	rv = rv != 0 ? query_failed(&a, rv) : report(&a, rows, n, now_unix);
	free(rows);
	return rv;
}
