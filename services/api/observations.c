/*
 * observations.c: GET /v1/observations (the current value of every
 * indicator, area and period) and GET /v1/observations/revisions (every
 * value ever accepted), filtered and paginated (openapi.yaml,
 * listObservations and listRevisions).
 *
 * Both are keyset listings over a unique, indexed key: observations in
 * primary-key order (indicator, area, period), revisions by id (oldest
 * first). A page asks for one row more than it sends; when that row
 * comes back, the key of the last row sent goes into next_cursor. Rows
 * that arrive while a client pages through land in the order where they
 * belong: behind the cursor they are not sent (updated_after finds them
 * later), ahead of it they are; no row is sent twice or skipped.
 *
 * A period range keeps the periods that lie wholly inside it: a period's
 * first day on or after period_from's first day, its last day on or
 * before period_to's last day, whatever the frequencies. So
 * period_from=2024Q1&period_to=2024Q2 holds 2024Q1 and 2024Q2, the fiscal
 * quarters FY2024Q2 and FY2024Q3 (the same months), the months January to
 * June and their days, but not 2024 (it ends after June) nor FY2024 (it
 * starts in October 2023). A bound alone works the same way: period_to=2024
 * is everything that ends by 31 December 2024, FY2025Q1 included.
 * Periods are stored as canonical text (common/period.h), so the day range
 * of each is computed in SQL from its form; the index year column (year,
 * indexed) bounds the rows first. For any period, year lies between the
 * calendar years of its first and last day, plus one for fiscal quarters
 * that end in December (FY2024Q1 is October to December 2023, year
 * 2024), which gives the bounds used below.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "error.h"
#include "log.h"
#include "period.h"
#include "reply.h"
#include "routes.h"

/* Page sizes of these two listings (openapi.yaml, Limit). */
#define OBS_LIMIT_DEFAULT HSI_PAGE_DEFAULT
#define OBS_LIMIT_MAX HSI_PAGE_MAX

#define SQL_MAX 4096
#define PARAMS_MAX 16
#define VALUE_MAX 80

/* The first and last day of the period in t.period, by its canonical
 * form: 2024, FY2024, 2024Q1, FY2024Q1, 2024-03, 2024-03-15. */
#define FIRST_DAY                                                             \
	"(CASE WHEN t.period ~ '^[0-9]{4}$' "                                 \
	"THEN make_date(left(t.period, 4)::int, 1, 1) "                       \
	"WHEN t.period ~ '^FY[0-9]{4}$' "                                     \
	"THEN make_date(substr(t.period, 3, 4)::int - 1, 10, 1) "             \
	"WHEN t.period ~ '^[0-9]{4}Q[1-4]$' "                                 \
	"THEN make_date(left(t.period, 4)::int, "                             \
	"right(t.period, 1)::int * 3 - 2, 1) "                                \
	"WHEN t.period ~ '^FY[0-9]{4}Q[1-4]$' "                               \
	"THEN (make_date(substr(t.period, 3, 4)::int - 1, 10, 1) "            \
	"+ (right(t.period, 1)::int - 1) * interval '3 months')::date "       \
	"WHEN t.period ~ '^[0-9]{4}-[0-9]{2}$' "                              \
	"THEN to_date(t.period, 'YYYY-MM') "                                  \
	"WHEN t.period ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "                     \
	"THEN to_date(t.period, 'YYYY-MM-DD') END)"
#define LAST_DAY                                                              \
	"(CASE WHEN t.period ~ '^[0-9]{4}$' "                                 \
	"THEN make_date(left(t.period, 4)::int, 12, 31) "                     \
	"WHEN t.period ~ '^FY[0-9]{4}$' "                                     \
	"THEN make_date(substr(t.period, 3, 4)::int, 9, 30) "                 \
	"WHEN t.period ~ '^[0-9]{4}Q[1-4]$' "                                 \
	"THEN (make_date(left(t.period, 4)::int, "                            \
	"right(t.period, 1)::int * 3 - 2, 1) "                                \
	"+ interval '3 months')::date - 1 "                                   \
	"WHEN t.period ~ '^FY[0-9]{4}Q[1-4]$' "                               \
	"THEN (make_date(substr(t.period, 3, 4)::int - 1, 10, 1) "            \
	"+ right(t.period, 1)::int * interval '3 months')::date - 1 "         \
	"WHEN t.period ~ '^[0-9]{4}-[0-9]{2}$' "                              \
	"THEN (to_date(t.period, 'YYYY-MM') + interval '1 month')::date - 1 " \
	"WHEN t.period ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "                     \
	"THEN to_date(t.period, 'YYYY-MM-DD') END)"
#define UTC_TEXT(col)                                                         \
	"to_char(" col " AT TIME ZONE 'UTC', "                                \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

typedef enum {
	F_TEXT, /* string, or null */
	F_REAL, /* number, or null */
	F_INT,  /* whole number */
} field_kind;

typedef struct {
	const char *name; /* JSON member and CSV column; NULL ends */
	field_kind  kind;
} field;

/* One listing: its columns (in the order of select), key and filters. */
typedef struct {
	const char        *what;      /* for the log */
	const char        *select;    /* columns and FROM, the table as t */
	const char        *time_col;  /* what updated_after compares */
	const char        *order;     /* the unique key, in order */
	int                key_parts; /* leading columns that make the key */
	int                key_int;   /* 1: one bigint part; 0: text parts */
	const field       *fields;
	const char *const *columns; /* CSV: the contract's x-hsi-csv-columns */
} listing;

#define OBS_SELECT                                                            \
	"SELECT t.indicator, t.area, t.period, t.value, t.status, t.note, "   \
	"t.agency, t.file_id, " UTC_TEXT(                                     \
	    "t.updated_at") " FROM observation t WHERE true"
#define REV_SELECT                                                            \
	"SELECT t.id, t.indicator, t.area, t.period, t.value, t.status, "     \
	"t.note, t.agency, t.node_id, t.file_id, " UTC_TEXT(                  \
	    "t.recorded_at") " FROM observation_revision t WHERE true"

static const field obs_fields[] = { { "indicator", F_TEXT },
	{ "area", F_TEXT }, { "period", F_TEXT }, { "value", F_REAL },
	{ "status", F_TEXT }, { "note", F_TEXT }, { "agency", F_TEXT },
	{ "file_id", F_TEXT }, { "updated_at", F_TEXT }, { NULL, F_TEXT } };

static const char *const obs_columns[] = { "indicator", "area", "period",
	"value", "status", "note", "agency", "file_id", "updated_at", NULL };

static const listing observations = {
	.what      = "observations",
	.select    = OBS_SELECT,
	.time_col  = "t.updated_at",
	.order     = "t.indicator, t.area, t.period",
	.key_parts = 3,
	.fields    = obs_fields,
	.columns   = obs_columns,
};

static const field rev_fields[] = { { "id", F_INT }, { "indicator", F_TEXT },
	{ "area", F_TEXT }, { "period", F_TEXT }, { "value", F_REAL },
	{ "status", F_TEXT }, { "note", F_TEXT }, { "agency", F_TEXT },
	{ "node_id", F_TEXT }, { "file_id", F_TEXT },
	{ "recorded_at", F_TEXT }, { NULL, F_TEXT } };

static const char *const rev_columns[]
    = { "id", "indicator", "area", "period", "value", "status", "note",
	      "agency", "node_id", "file_id", "recorded_at", NULL };

static const listing revisions = {
	.what      = "revisions",
	.select    = REV_SELECT,
	.time_col  = "t.recorded_at",
	.order     = "t.id",
	.key_parts = 1,
	.key_int   = 1,
	.fields    = rev_fields,
	.columns   = rev_columns,
};

/* A statement being built: SQL text, and the values of $1..$n apart
 * from it (client input never enters the text). */
typedef struct {
	char        sql[SQL_MAX];
	size_t      len;
	int         failed; /* SQL_MAX or PARAMS_MAX reached: a bug */
	int         n;
	const char *params[PARAMS_MAX];
	char        store[PARAMS_MAX][VALUE_MAX];
} stmt;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(stmt *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(s->sql + s->len, SQL_MAX - s->len, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t) w >= SQL_MAX - s->len) {
		s->failed = 1;
		return;
	}
	s->len += (size_t) w;
}

/* Binds value as the next parameter; returns its number. */
static int
bind_text(stmt *s, const char *value)
{
	if (s->n == PARAMS_MAX) {
		s->failed = 1;
		return PARAMS_MAX;
	}
	s->params[s->n] = value;
	return ++s->n;
}

/* Binds a value formatted into the statement's own store. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
bindf(stmt *s, const char *fmt, ...)
{
	va_list ap;
	if (s->n == PARAMS_MAX) {
		s->failed = 1;
		return PARAMS_MAX;
	}
	va_start(ap, fmt);
	vsnprintf(s->store[s->n], VALUE_MAX, fmt, ap);
	va_end(ap);
	return bind_text(s, s->store[s->n]);
}

static void
put_day(stmt *s, const char *op, const char *expr, long day)
{
	int y, m, d;
	hsi_civil_from_days(day, &y, &m, &d);
	put(s, " AND %s %s $%d::date", expr, op,
	    bindf(s, "%04d-%02d-%02d", y, m, d));
}

/* The period range [first_day, last_day] (either end may be open). */
static void
put_range(stmt *s, const hsi_qvalue *from, const hsi_qvalue *to)
{
	long first, last, unused;
	int  y, m, d;
	if (from != NULL) {
		hsi_period_range(&from->period, &first, &unused);
		hsi_civil_from_days(first, &y, &m, &d);
		put(s, " AND t.year >= $%d::int", bindf(s, "%d", y));
		put_day(s, ">=", FIRST_DAY, first);
	}
	if (to != NULL) {
		hsi_period_range(&to->period, &unused, &last);
		hsi_civil_from_days(last, &y, &m, &d);
		put(s, " AND t.year <= $%d::int", bindf(s, "%d", y + 1));
		put_day(s, "<=", LAST_DAY, last);
	}
}

/* The filters every listing takes, from the call's checked values. */
static void
put_filters(stmt *s, hsi_call *c, const listing *l)
{
	const char *v;
	if ((v = hsi_call_text(c, "indicator")) != NULL) {
		put(s, " AND t.indicator = $%d", bind_text(s, v));
	}
	if ((v = hsi_call_text(c, "area")) != NULL) {
		put(s, " AND t.area = $%d", bind_text(s, v));
	}
	put_range(s, hsi_call_value(c, "period_from"),
	    hsi_call_value(c, "period_to"));
	if ((v = hsi_call_text(c, "agency")) != NULL) {
		put(s,
		    " AND t.indicator IN (SELECT code FROM indicator "
		    "WHERE agency = $%d)",
		    bind_text(s, v));
	}
	if ((v = hsi_call_text(c, "updated_after")) != NULL) {
		put(s, " AND %s > $%d::timestamptz", l->time_col,
		    bind_text(s, v));
	}
}

/* Rows after the cursor's key. 0, or HSI_EINVAL when the cursor (signed
 * for this listing, so made by us) does not have this listing's shape. */
static int
put_after(stmt *s, const listing *l, const hsi_cursor *after)
{
	if (after->n == 0) {
		return 0;
	}
	if (after->n != l->key_parts) {
		return HSI_EINVAL;
	}
	if (l->key_int) {
		if (after->part[0].is_str) {
			return HSI_EINVAL;
		}
		put(s, " AND %s > $%d::bigint", l->order,
		    bindf(s, "%lld", after->part[0].i));
		return 0;
	}
	put(s, " AND (%s) > (", l->order);
	for (int i = 0; i < after->n; i++) {
		if (!after->part[i].is_str) {
			return HSI_EINVAL;
		}
		put(s, "%s$%d", i ? ", " : "", bind_text(s, after->part[i].s));
	}
	put(s, ")");
	return 0;
}

static json_t *
cell(PGresult *r, int i, int col, field_kind kind)
{
	if (PQgetisnull(r, i, col)) {
		return json_null();
	}
	const char *v = PQgetvalue(r, i, col);
	if (kind == F_INT) {
		return json_integer(strtoll(v, NULL, 10));
	}
	if (kind == F_REAL) {
		double d = strtod(v, NULL);
		return isfinite(d) ? json_real(d) : json_null();
	}
	return json_string(v);
}

/* Rows 0..n-1 of r as JSON objects; NULL when out of memory. */
static json_t *
items_of(PGresult *r, int n, const field *fields)
{
	json_t *items = json_array();
	for (int i = 0; items != NULL && i < n; i++) {
		json_t *o = json_object();
		for (int f = 0; o != NULL && fields[f].name != NULL; f++) {
			json_t *v = cell(r, i, f, fields[f].kind);
			if (v == NULL
			    || json_object_set_new(o, fields[f].name, v)) {
				json_decref(o);
				o = NULL;
			}
		}
		if (o == NULL || json_array_append_new(items, o)) {
			json_decref(items);
			items = NULL;
		}
	}
	return items;
}

/* The key of row i, for next_cursor. */
static int
key_of(PGresult *r, int i, const listing *l, hsi_cursor *next)
{
	hsi_cursor_init(next);
	for (int k = 0; k < l->key_parts; k++) {
		const char *v  = PQgetvalue(r, i, k);
		int         rv = l->key_int
		            ? hsi_cursor_push_int(next, strtoll(v, NULL, 10))
		            : hsi_cursor_push_str(next, v);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

static int
bad_cursor(hsi_call *c)
{
	hsi_problem p  = { .status = MHD_HTTP_BAD_REQUEST,
		 .slug             = "invalid-cursor",
		 .title            = "Invalid cursor",
		 .detail    = "this cursor does not belong to this listing; "
		               "start again from the first page",
		 .parameter = "cursor" };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

/* period_to before period_from: nothing could match, and that is
 * surely not what the client meant. 1 when refused. */
static int
refuse_range(hsi_call *c, int *rv)
{
	const hsi_qvalue *from = hsi_call_value(c, "period_from");
	const hsi_qvalue *to   = hsi_call_value(c, "period_to");
	long              first, last, unused;
	char              detail[200];
	if (from == NULL || to == NULL) {
		return 0;
	}
	hsi_period_range(&from->period, &first, &unused);
	hsi_period_range(&to->period, &unused, &last);
	if (first <= last) {
		return 0;
	}
	snprintf(detail, sizeof(detail),
	    "period_to %s ends before period_from %s starts: send "
	    "period_from first (e.g. period_from=2023&period_to=2024)",
	    to->text, from->text);
	hsi_problem p = { .status = MHD_HTTP_BAD_REQUEST,
		.slug             = "invalid-parameter",
		.title            = "Invalid query parameter",
		.detail           = detail,
		.parameter        = "period_to" };
	*rv           = hsi_reply_problem_ex(c, &p, NULL);
	*rv           = *rv ? *rv : HSI_EINVAL;
	return 1;
}

/* Sends n of the rows of r (one more means there is a next page). */
static int
reply_rows(hsi_call *c, const listing *l, PGresult *r, int limit)
{
	int        n    = PQntuples(r);
	int        more = n > limit;
	hsi_cursor next;
	hsi_cursor_init(&next);
	if (more && key_of(r, limit - 1, l, &next) != 0) {
		return hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "Internal error",
		    "a row's key does not fit a cursor (logged); tell the "
		    "operators");
	}
	json_t *items = items_of(r, more ? limit : n, l->fields);
	if (items == NULL) {
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	return hsi_reply_page(c, items, &next, l->columns, NULL);
}

static int
list(hsi_call *c, const listing *l)
{
	hsi_cursor after;
	stmt       s;
	PGresult  *r = NULL;
	int        rv;
	if ((rv = hsi_call_cursor(c, &after)) != 0 || refuse_range(c, &rv)) {
		return rv;
	}
	int limit = (int) hsi_call_int(c, "limit", OBS_LIMIT_DEFAULT);
	memset(&s, 0, sizeof(s));
	put(&s, "%s", l->select);
	put_filters(&s, c, l);
	if (put_after(&s, l, &after) != 0) {
		return bad_cursor(c);
	}
	put(&s, " ORDER BY %s LIMIT $%d::int", l->order,
	    bindf(&s, "%d", limit + 1));
	if (s.failed) {
		hsi_log_error(
		    "listing query too long", "{s:s}", "listing", l->what);
		return hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "Internal error",
		    "the query did not fit (a bug); tell the operators");
	}
	if ((r = hsi_call_sql(c, l->what, s.sql, s.n, s.params)) == NULL) {
		return HSI_EDB; /* 503 or 500 queued */
	}
	rv = reply_rows(c, l, r, limit);
	PQclear(r);
	return rv;
}

static int
list_observations(hsi_call *c)
{
	return list(c, &observations);
}

static int
list_revisions(hsi_call *c)
{
	return list(c, &revisions);
}

static const hsi_qparam obs_query[] = {
	{ .name      = "indicator",
	    .type    = HSI_QT_INDICATOR,
	    .example = "t_health" },
	{ .name = "area", .type = HSI_QT_AREA, .example = "TH-50" },
	{ .name = "period_from", .type = HSI_QT_PERIOD, .example = "2023" },
	{ .name = "period_to", .type = HSI_QT_PERIOD, .example = "2024" },
	{ .name = "agency", .type = HSI_QT_AGENCY, .example = "CDD" },
	{ .name      = "updated_after",
	    .type    = HSI_QT_TIME,
	    .example = "2024-03-15T00:00:00Z" },
	{ .name      = "limit",
	    .type    = HSI_QT_INT,
	    .flags   = HSI_QP_PAGING,
	    .min     = 1,
	    .max     = OBS_LIMIT_MAX,
	    .example = "1000" },
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

const hsi_route hsi_routes_observations[] = {
	{ .method    = "GET",
	    .pattern = "/v1/observations",
	    .handler = list_observations,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = obs_query,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/observations/revisions",
	    .handler = list_revisions,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = obs_query,
	    .flags   = HSI_ROUTE_CSV },
	HSI_ROUTE_END,
};
