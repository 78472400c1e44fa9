/*
 * quality.c: completeness and timeliness of agencies' data (quality.h,
 * docs/data-quality.md).
 *
 * The periods to look at are enumerated here in C rather than taken from
 * the observations: a period nobody reported at all is the latest data of
 * all, and it has no row to be found. The counts then come from one
 * query that receives the (indicator, period) pairs as arrays (see
 * count_sql for how it stays fast).
 */
#include "quality.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"

#define DAY_S 86400
#define BANGKOK_UTC_OFFSET_S (7 * 3600)
#define YEAR_MIN 1900 /* the years a period can have (period.h) */
#define YEAR_MAX 2399
/* Days beyond this are refused before any arithmetic can overflow. */
#define DAY_ABS_MAX 10000000L

static const int default_grace_days[HSI_QUALITY_N_FREQ]
    = { 90, 90, 45, 45, 30, 2 };

static const char *const status_names[]
    = { "complete", "late", "due_soon", "open" };

void
hsi_quality_defaults(hsi_quality_opts *o)
{
	memcpy(o->grace_days, default_grace_days, sizeof(o->grace_days));
}

/*
 * Copies at most 40 bytes of s for a message, printable ASCII only: the
 * spec may come from an HTTP query and the message may end up in JSON.
 */
static void
shown(char *dst, size_t size, const char *s, size_t len)
{
	size_t k = 0;
	for (; k < len && k + 1 < size && k < 40; k++) {
		unsigned char c = (unsigned char) s[k];
		dst[k]          = c >= 0x20 && c < 0x7F ? (char) c : '?';
	}
	dst[k] = '\0';
}

int
hsi_quality_grace_parse(
    hsi_quality_opts *o, const char *spec, char *err, size_t err_size)
{
	char        text[48], name[16];
	const char *eq = spec != NULL ? strchr(spec, '=') : NULL;
	hsi_freq    f;
	if (eq == NULL) {
		shown(text, sizeof(text), spec ? spec : "",
		    spec ? strlen(spec) : 0);
		snprintf(err, err_size,
		    "'%s' is not FREQ=DAYS; give e.g. monthly=45", text);
		return HSI_EINVAL;
	}
	size_t len = (size_t) (eq - spec);
	shown(text, sizeof(text), spec, len);
	if (len < sizeof(name)) {
		memcpy(name, spec, len);
		name[len] = '\0';
	}
	if (len >= sizeof(name) || hsi_freq_parse(name, &f) != 0) {
		snprintf(err, err_size,
		    "unknown frequency '%s'; use annual, fiscal, quarterly, "
		    "fquarterly, monthly or daily",
		    text);
		return HSI_EINVAL;
	}
	char *end;
	errno  = 0;
	long v = strtol(eq + 1, &end, 10);
	shown(text, sizeof(text), eq + 1, strlen(eq + 1));
	if (errno != 0 || end == eq + 1 || *end != '\0' || eq[1] == '-'
	    || eq[1] == '+' || eq[1] == ' ') {
		snprintf(err, err_size,
		    "%s grace '%s' is not a whole number of days; give 0 to "
		    "%d",
		    hsi_freq_name(f), text, HSI_QUALITY_GRACE_MAX_DAYS);
		return HSI_EINVAL;
	}
	if (v > HSI_QUALITY_GRACE_MAX_DAYS) {
		snprintf(err, err_size,
		    "%s grace %s days is over the limit; give 0 to %d",
		    hsi_freq_name(f), text, HSI_QUALITY_GRACE_MAX_DAYS);
		return HSI_ERANGE;
	}
	o->grace_days[f] = (int) v;
	return 0;
}

long
hsi_quality_due_day(const hsi_quality_opts *o, const hsi_period *p)
{
	long first, last;
	hsi_period_range(p, &first, &last);
	return last + o->grace_days[p->freq];
}

int64_t
hsi_quality_due_unix(long due_day)
{
	return ((int64_t) due_day + 1) * DAY_S - BANGKOK_UTC_OFFSET_S;
}

long
hsi_quality_day_of(int64_t unix_s)
{
	int64_t t = unix_s + BANGKOK_UTC_OFFSET_S;
	int64_t d = t / DAY_S;
	/* Division truncates toward zero; days before 1970 need the floor. */
	return (long) (t % DAY_S < 0 ? d - 1 : d);
}

/* The period of frequency f that holds day. */
static hsi_period
containing(hsi_freq f, long day)
{
	int        y, m, d;
	hsi_period p = { .freq = f };
	hsi_civil_from_days(day, &y, &m, &d);
	p.year = y;
	switch (f) {
	case HSI_FREQ_ANNUAL:
		break;
	case HSI_FREQ_FISCAL:
		p.year = m >= 10 ? y + 1 : y;
		break;
	case HSI_FREQ_QUARTER:
		p.sub = (m - 1) / 3 + 1;
		break;
	case HSI_FREQ_FQUARTER:
		/* FY Q1 is Oct-Dec of the year before the FY's name. */
		p.year = m >= 10 ? y + 1 : y;
		p.sub  = (m + 2) % 12 / 3 + 1;
		break;
	case HSI_FREQ_MONTH:
		p.sub = m;
		break;
	case HSI_FREQ_DAY:
		p.sub = m;
		p.day = d;
		break;
	}
	return p;
}

static int
check_window(const hsi_quality_opts *o, hsi_freq f, long from_day, long to_day)
{
	int  g   = o->grace_days[f];
	long max = f == HSI_FREQ_DAY ? HSI_QUALITY_DAILY_MAX_DAYS
	                             : HSI_QUALITY_WINDOW_MAX_DAYS;
	if (g < 0 || g > HSI_QUALITY_GRACE_MAX_DAYS || from_day > to_day
	    || from_day < -DAY_ABS_MAX || to_day > DAY_ABS_MAX
	    || to_day - from_day + 1 > max) {
		return HSI_ERANGE;
	}
	return 0;
}

int
hsi_quality_periods(const hsi_quality_opts *o, hsi_freq f, long from_day,
    long to_day, hsi_period **out, size_t *n)
{
	if ((int) f < 0 || f > HSI_FREQ_DAY) {
		return HSI_EINVAL;
	}
	int rv = check_window(o, f, from_day, to_day);
	if (rv != 0) {
		return rv;
	}
	/* The window of last days; no period ends outside YEAR_MIN..MAX. */
	long lo  = from_day - o->grace_days[f];
	long hi  = to_day - o->grace_days[f];
	long min = hsi_days_from_civil(YEAR_MIN, 1, 1);
	long max = hsi_days_from_civil(YEAR_MAX, 12, 31);
	lo       = lo < min ? min : lo;
	hi       = hi > max ? max : hi;
	if (lo > hi) {
		*out = NULL;
		*n   = 0;
		return 0;
	}
	/* Consecutive non-daily periods end at least 28 days apart. */
	size_t cap
	    = (size_t) (f == HSI_FREQ_DAY ? hi - lo + 1 : (hi - lo) / 28 + 2);
	hsi_period *ps = malloc(cap * sizeof(*ps));
	size_t      k  = 0;
	if (ps == NULL) {
		return HSI_ENOMEM;
	}
	for (hsi_period p = containing(f, lo); k < cap;) {
		long first, last;
		hsi_period_range(&p, &first, &last);
		if (last > hi) {
			break;
		}
		if (last >= lo) {
			ps[k++] = p;
		}
		p = containing(f, last + 1);
	}
	if (k == 0) {
		free(ps);
		ps = NULL;
	}
	*out = ps;
	*n   = k;
	return 0;
}

int
hsi_quality_due_passed(const hsi_quality_row *r, int64_t now_unix)
{
	return now_unix >= r->due_unix;
}

hsi_quality_status
hsi_quality_status_of(const hsi_quality_row *r, int64_t now_unix)
{
	if (r->present >= r->expected) {
		return HSI_QUALITY_COMPLETE;
	}
	if (hsi_quality_due_passed(r, now_unix)) {
		return HSI_QUALITY_LATE;
	}
	if (r->due_unix - now_unix
	    <= (int64_t) HSI_QUALITY_DUE_SOON_DAYS * DAY_S) {
		return HSI_QUALITY_DUE_SOON;
	}
	return HSI_QUALITY_OPEN;
}

const char *
hsi_quality_status_name(hsi_quality_status s)
{
	if ((int) s < 0 || s > HSI_QUALITY_OPEN) {
		return "unknown";
	}
	return status_names[s];
}

/* ---- the query ---------------------------------------------------------- */

typedef struct {
	char     code[33], agency[17];
	hsi_freq freq;
	int national; /* rollup_area 'national': reported for the nation */
} indicator;

static int
load_indicators(PGconn *db, const char *agency, indicator **out, size_t *n)
{
	const char *p[1] = { agency };
	/* Byte order (COLLATE "C"), whatever the database's locale. */
	PGresult *r = hsi_db_query(db, "quality: indicators",
	    "SELECT code, agency, frequency, rollup_area = 'national' "
	    "FROM indicator WHERE $1::text IS NULL OR agency = $1 "
	    "ORDER BY agency COLLATE \"C\", code COLLATE \"C\"",
	    1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	size_t     k   = (size_t) PQntuples(r);
	indicator *ind = calloc(k + 1, sizeof(*ind));
	if (ind == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < k; i++) {
		int row = (int) i;
		snprintf(ind[i].code, sizeof(ind[i].code), "%s",
		    PQgetvalue(r, row, 0));
		snprintf(ind[i].agency, sizeof(ind[i].agency), "%s",
		    PQgetvalue(r, row, 1));
		if (hsi_freq_parse(PQgetvalue(r, row, 2), &ind[i].freq) != 0) {
			ind[i].freq = HSI_FREQ_ANNUAL; /* the schema's CHECK */
		}
		ind[i].national = PQgetvalue(r, row, 3)[0] == 't';
	}
	PQclear(r);
	*out = ind;
	*n   = k;
	return 0;
}

/* A growable string for the array parameters. */
typedef struct {
	char  *s;
	size_t len, cap;
	int    failed;
} strbuf;

static void
sb_put(strbuf *b, const char *s, size_t len)
{
	if (b->failed) {
		return;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->len + len + 1 > cap) {
			cap *= 2;
		}
		char *ns = realloc(b->s, cap);
		if (ns == NULL) {
			b->failed = 1;
			return;
		}
		b->s   = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

/* Appends s as a quoted element of a PostgreSQL array literal. */
static void
sb_elem(strbuf *b, const char *s)
{
	sb_put(b, b->len == 0 ? "{\"" : ",\"", 2);
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			sb_put(b, "\\", 1);
		}
		sb_put(b, c, 1);
	}
	sb_put(b, "\"", 1);
}

static void
sb_close(strbuf *b)
{
	sb_put(b, b->len == 0 ? "{}" : "}", b->len == 0 ? 2 : 1);
}

/* The rows of every indicator and its periods, counts still zero. */
static int
make_rows(const hsi_quality_opts *o, const indicator *ind, size_t n_ind,
    long from_day, long to_day, hsi_quality_row **rows, size_t *n)
{
	hsi_period *per[HSI_QUALITY_N_FREQ]   = { 0 };
	size_t      n_per[HSI_QUALITY_N_FREQ] = { 0 }, total = 0;
	int         have[HSI_QUALITY_N_FREQ] = { 0 }, rv = 0;
	for (size_t i = 0; rv == 0 && i < n_ind; i++) {
		hsi_freq f = ind[i].freq;
		if (!have[f]) {
			rv = hsi_quality_periods(
			    o, f, from_day, to_day, &per[f], &n_per[f]);
			have[f] = rv == 0;
		}
		total += rv == 0 ? n_per[f] : 0;
	}
	hsi_quality_row *r = NULL;
	if (rv == 0 && total > 0 && (r = calloc(total, sizeof(*r))) == NULL) {
		rv = HSI_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; rv == 0 && i < n_ind; i++) {
		hsi_freq f = ind[i].freq;
		for (size_t j = 0; j < n_per[f]; j++, k++) {
			hsi_quality_row *w = &r[k];
			memcpy(w->agency, ind[i].agency, sizeof(w->agency));
			memcpy(
			    w->indicator, ind[i].code, sizeof(w->indicator));
			hsi_period_format(
			    &per[f][j], w->period, sizeof(w->period));
			w->freq     = f;
			w->year     = hsi_period_index_year(&per[f][j], 0);
			w->fyear    = hsi_period_index_year(&per[f][j], 1);
			w->due_day  = hsi_quality_due_day(o, &per[f][j]);
			w->due_unix = hsi_quality_due_unix(w->due_day);
		}
	}
	for (int f = 0; f < HSI_QUALITY_N_FREQ; f++) {
		free(per[f]);
	}
	if (rv != 0) {
		free(r);
		return rv;
	}
	*rows = r;
	*n    = total;
	return 0;
}

/*
 * p: the pairs. f: the first arrival of a value of every (indicator, area,
 * period) of the pairs, from one pass over the revisions that a hash of
 * the pairs filters -- measured about twice as fast on the sample data as
 * one observation_revision_key descent per present value (105k of them),
 * and no slower on a 400-day window. Each pair is crossed with the areas
 * of its level and LEFT JOINed to observation, so pairs with nothing
 * reported keep their row and count their expected values; the planner
 * picks primary-key lookups or a hash join for that side by the window's
 * size.
 */
static const char count_sql[]
    = "WITH p AS (SELECT * FROM unnest($1::text[], $2::text[], "
      "$3::text[], $4::bigint[]) "
      "WITH ORDINALITY AS p(indicator, period, level, due, i)), "
      "f AS (SELECT r.indicator, r.area, r.period, "
      "min(r.recorded_at) AS first FROM observation_revision r "
      "WHERE r.value IS NOT NULL "
      "AND (r.indicator, r.period) IN (SELECT indicator, period FROM p) "
      "GROUP BY r.indicator, r.area, r.period) "
      "SELECT p.i, count(a.code), count(o.area), "
      "count(o.area) FILTER (WHERE f.first <= to_timestamp(p.due)), "
      "floor(extract(epoch FROM max(f.first)))::bigint "
      "FROM p LEFT JOIN area a ON a.level = p.level "
      "LEFT JOIN observation o ON o.indicator = p.indicator "
      "AND o.area = a.code AND o.period = p.period AND o.status <> 'M' "
      "LEFT JOIN f ON f.indicator = o.indicator AND f.area = o.area "
      "AND f.period = o.period "
      "GROUP BY p.i ORDER BY p.i";

static int
count_rows(PGconn *db, const indicator *ind, size_t n_ind,
    hsi_quality_row *rows, size_t n)
{
	strbuf codes = { 0 }, periods = { 0 }, levels = { 0 }, dues = { 0 };
	size_t k  = 0;
	int    rv = 0;
	for (size_t i = 0; i < n_ind; i++) {
		/* rows are in indicator order, ind[i]'s periods together. */
		for (; k < n && strcmp(rows[k].indicator, ind[i].code) == 0;
		     k++) {
			char due[24];
			snprintf(due, sizeof(due), "%lld",
			    (long long) rows[k].due_unix);
			sb_elem(&codes, rows[k].indicator);
			sb_elem(&periods, rows[k].period);
			sb_elem(
			    &levels, ind[i].national ? "nation" : "province");
			sb_elem(&dues, due);
		}
	}
	sb_close(&codes);
	sb_close(&periods);
	sb_close(&levels);
	sb_close(&dues);
	if (codes.failed || periods.failed || levels.failed || dues.failed) {
		rv = HSI_ENOMEM;
		goto out;
	}
	const char *p[4] = { codes.s, periods.s, levels.s, dues.s };
	PGresult   *r = hsi_db_query(db, "quality: counts", count_sql, 4, p);
	if (r == NULL) {
		rv = HSI_EDB;
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		long at = strtol(PQgetvalue(r, i, 0), NULL, 10);
		if (at < 1 || (size_t) at > n) {
			continue; /* cannot happen: i is unnest's ordinality */
		}
		hsi_quality_row *w   = &rows[at - 1];
		w->expected          = atoi(PQgetvalue(r, i, 1));
		w->present           = atoi(PQgetvalue(r, i, 2));
		w->on_time           = atoi(PQgetvalue(r, i, 3));
		w->last_arrival_unix = PQgetisnull(r, i, 4)
		    ? 0
		    : (int64_t) strtoll(PQgetvalue(r, i, 4), NULL, 10);
	}
	PQclear(r);
out:
	free(codes.s);
	free(periods.s);
	free(levels.s);
	free(dues.s);
	return rv;
}

int
hsi_quality_query(PGconn *db, const hsi_quality_opts *o, const char *agency,
    long from_day, long to_day, hsi_quality_row **rows, size_t *n)
{
	indicator       *ind = NULL;
	hsi_quality_row *r   = NULL;
	size_t           n_ind, n_rows = 0;
	int              rv = load_indicators(db, agency, &ind, &n_ind);
	if (rv == 0 && agency != NULL && n_ind == 0) {
		rv = HSI_ENOENT;
	}
	if (rv == 0) {
		rv = make_rows(o, ind, n_ind, from_day, to_day, &r, &n_rows);
	}
	if (rv == 0 && n_rows > 0) {
		rv = count_rows(db, ind, n_ind, r, n_rows);
	}
	free(ind);
	if (rv != 0) {
		free(r);
		return rv;
	}
	*rows = r;
	*n    = n_rows;
	return 0;
}

/* ---- roll-up ------------------------------------------------------------ */

static int
sum_cmp(const void *a, const void *b)
{
	const hsi_quality_sum *x = a, *y = b;
	int                    c = strcmp(x->agency, y->agency);
	return c != 0 ? c : (x->year > y->year) - (x->year < y->year);
}

static void
sum_add(hsi_quality_sum *s, const hsi_quality_row *r, int64_t now_unix)
{
	s->pairs++;
	s->expected += r->expected;
	s->present += r->present;
	if (hsi_quality_due_passed(r, now_unix)) {
		s->expected_due += r->expected;
		s->on_time += r->on_time;
		s->late += r->present < r->expected;
	}
}

static void
sum_merge(hsi_quality_sum *s, const hsi_quality_sum *t)
{
	s->pairs += t->pairs;
	s->expected += t->expected;
	s->present += t->present;
	s->expected_due += t->expected_due;
	s->on_time += t->on_time;
	s->late += t->late;
}

int
hsi_quality_rollup(const hsi_quality_row *rows, size_t n, int64_t now_unix,
    int fiscal_index, hsi_quality_sum **out, size_t *n_out)
{
	hsi_quality_sum *s  = NULL;
	size_t           ns = 0, cap = 0, block = 0;
	for (size_t k = 0; k < n; k++) {
		const hsi_quality_row *r = &rows[k];
		int    year              = fiscal_index ? r->fyear : r->year;
		size_t j;
		/* Rows come by agency: look only in this agency's sums. */
		if (k > 0 && strcmp(r->agency, rows[k - 1].agency) != 0) {
			block = ns;
		}
		for (j = block; j < ns; j++) {
			if (s[j].year == year
			    && strcmp(s[j].agency, r->agency) == 0) {
				break;
			}
		}
		if (j == ns) {
			if (ns == cap) {
				cap = cap ? cap * 2 : 16;
				hsi_quality_sum *grown
				    = realloc(s, cap * sizeof(*s));
				if (grown == NULL) {
					free(s);
					return HSI_ENOMEM;
				}
				s = grown;
			}
			memset(&s[ns], 0, sizeof(s[ns]));
			memcpy(s[ns].agency, r->agency, sizeof(s[ns].agency));
			s[ns++].year = year;
		}
		sum_add(&s[j], r, now_unix);
	}
	/* Sorted, with the sums of an agency met in two blocks merged. */
	if (ns > 1) {
		qsort(s, ns, sizeof(*s), sum_cmp);
	}
	size_t w = 0;
	for (size_t k = 0; k < ns; k++) {
		if (w > 0 && sum_cmp(&s[w - 1], &s[k]) == 0) {
			sum_merge(&s[w - 1], &s[k]);
		} else {
			s[w++] = s[k];
		}
	}
	*out   = s;
	*n_out = w;
	return 0;
}
