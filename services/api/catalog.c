/*
 * catalog.c: the catalog endpoints of hsi-api (openapi.yaml, tag
 * catalog): GET /v1/dimensions, /v1/indicators, /v1/indicators/{code} and
 * /v1/agencies here; areas in catalog_area.c, methodologies in
 * catalog_method.c; the route table of all nine at the end.
 *
 * Everything is read from the tables `hsictl catalog load` fills
 * (services/scorer/migrations/001_base.sql). These lists are short (seven
 * dimensions, a few dozen indicators, 23 agencies), so they come whole:
 * `next_cursor` is always null. Their entity tag is the catalog version
 * (catalog_int.h), checked before any row is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_int.h"
#include "error.h"
#include "reply.h"
#include "routes.h"
#include "text.h"

void
hsi_catalog_api_tag(const char *raw, char *tag)
{
	/* Room for the quotes and a "-csv" variant within HSI_ETAG_MAX. */
	if (strlen(raw) + 7 > HSI_ETAG_MAX) {
		hsi_etag_of(raw, strlen(raw), tag);
		return;
	}
	snprintf(tag, HSI_ETAG_MAX, "\"%s\"", raw);
}

/* 1 when If-None-Match matches tag in the representation this call
 * answers; final gets the tag to send with 304. */
static int
fresh(const hsi_call *c, const char *tag, char *final)
{
	/* hsi_reply_page gives a CSV page the "-csv" variant of its tag
	 * (and the tag itself when the variant does not fit). */
	if (hsi_call_format(c) != HSI_FMT_CSV
	    || hsi_etag_variant(tag, "csv", final) != 0) {
		snprintf(final, HSI_ETAG_MAX, "%s", tag);
	}
	return hsi_etag_match(
	    hsi_call_header(c, MHD_HTTP_HEADER_IF_NONE_MATCH), final);
}

int
hsi_catalog_api_list_tag(hsi_call *c, const char *sql, char *tag, int *done)
{
	char      final[HSI_ETAG_MAX];
	PGresult *r = hsi_call_sql(c, "catalog tag", sql, 0, NULL);
	*done       = 1;
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return hsi_catalog_api_build_failed(c);
	}
	hsi_catalog_api_tag(PQgetvalue(r, 0, 0), tag);
	PQclear(r);
	if (fresh(c, tag, final)) {
		return hsi_reply_not_modified(c, final);
	}
	*done = 0;
	return 0;
}

int
hsi_catalog_api_not_found(
    hsi_call *c, const char *what, const char *code, const char *list)
{
	char shown[HSI_SHOWN_MAX + 8], detail[256];
	hsi_text_shown(shown, sizeof(shown), code, strlen(code));
	snprintf(
	    detail, sizeof(detail), "no %s '%s'; see %s", what, shown, list);
	return hsi_reply_problem(
	    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", detail);
}

int
hsi_catalog_api_rows_page(hsi_call *c, PGresult *r, hsi_catalog_api_row_fn row,
    int flag, const char *const *columns, const char *tag)
{
	json_t *items = json_array();
	for (int i = 0; items != NULL && i < PQntuples(r); i++) {
		json_t *item = row(r, i, flag);
		if (item == NULL || json_array_append_new(items, item) != 0) {
			json_decref(items);
			items = NULL;
		}
	}
	PQclear(r);
	if (items == NULL) {
		return hsi_catalog_api_build_failed(c);
	}
	return hsi_reply_page(c, items, NULL, columns, tag);
}

int
hsi_catalog_api_build_failed(hsi_call *c)
{
	int rv = hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
	    "internal", "Internal error",
	    "the server could not build the answer (out of memory, or "
	    "catalog text that is not UTF-8); try again, and tell the "
	    "operators if it persists");
	return rv ? rv : HSI_ENOMEM;
}

json_t *
hsi_catalog_api_text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null()
	                                : json_string(PQgetvalue(r, row, col));
}

static json_t *
real_at(const PGresult *r, int row, int col)
{
	return json_real(strtod(PQgetvalue(r, row, col), NULL));
}

static json_t *
int_at(const PGresult *r, int row, int col)
{
	return json_integer(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

/* The catalog's tag of a list, or 304 (hsi_catalog_api_list_tag). */
static int
list_prelude(hsi_call *c, char *tag, int *done)
{
	return hsi_catalog_api_list_tag(
	    c, "SELECT " HSI_CATALOG_API_TAG_SQL, tag, done);
}

/* ------------------------------------------------------------ dimensions */

static const char *const dimension_columns[]
    = { "code", "name_th", "name_en", "ord", NULL };

static json_t *
dimension_json(const PGresult *r, int i, int flag)
{
	(void) flag;
	return json_pack("{s:s, s:s, s:s, s:o}", "code", PQgetvalue(r, i, 0),
	    "name_th", PQgetvalue(r, i, 1), "name_en", PQgetvalue(r, i, 2),
	    "ord", int_at(r, i, 3));
}

static int
list_dimensions(hsi_call *c)
{
	char tag[HSI_ETAG_MAX];
	int  done;
	int  rv = list_prelude(c, tag, &done);
	if (done) {
		return rv;
	}
	PGresult *r = hsi_call_sql(c, "list dimensions",
	    "SELECT code, name_th, name_en, ord FROM dimension "
	    "ORDER BY ord, code COLLATE \"C\"",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	return hsi_catalog_api_rows_page(
	    c, r, dimension_json, 0, dimension_columns, tag);
}

/* ------------------------------------------------------------ indicators */

/* The columns of common/data/indicators.csv, in its order, so the CSV
 * answer loads again with `hsictl catalog load`. */
static const char *const indicator_columns[] = { "code", "dimension", "agency",
	"name_th", "name_en", "unit", "frequency", "hard_min", "hard_max",
	"rollup_area", "rollup_time", "min_subperiods", "direction", "lo",
	"hi", "weight", "in_index", "definition_th", "definition_en", "source",
	NULL };

/* The same columns, in the same order, with the indicator's dimension
 * order (for sorting) after them. */
#define INDICATOR_SELECT                                                      \
	"SELECT i.code, i.dimension, i.agency, i.name_th, i.name_en, "        \
	"i.unit, i.frequency, i.hard_min, i.hard_max, i.rollup_area, "        \
	"i.rollup_time, i.min_subperiods, i.direction, i.lo, i.hi, "          \
	"i.weight, i.in_index, i.definition_th, i.definition_en, i.source"

enum {
	I_HARD_MIN     = 7,
	I_HARD_MAX     = 8,
	I_MIN_SUBPER   = 11,
	I_DIRECTION    = 12,
	I_LO           = 13,
	I_HI           = 14,
	I_WEIGHT       = 15,
	I_IN_INDEX     = 16,
	I_N_INDICATORS = 20
};

/* Row i as an Indicator. csv: in_index as 1/0, the form the catalog
 * loader reads (it is a boolean in JSON). */
static json_t *
indicator_json(const PGresult *r, int i, int csv)
{
	json_t *o = json_object();
	for (int col = 0; o != NULL && col < I_N_INDICATORS; col++) {
		json_t *v;
		switch (col) {
		case I_HARD_MIN:
		case I_HARD_MAX:
		case I_LO:
		case I_HI:
		case I_WEIGHT:
			v = real_at(r, i, col);
			break;
		case I_MIN_SUBPER:
		case I_DIRECTION:
			v = int_at(r, i, col);
			break;
		case I_IN_INDEX: {
			int yes = PQgetvalue(r, i, col)[0] == 't';
			v       = csv ? json_integer(yes) : json_boolean(yes);
			break;
		}
		default:
			v = json_string(PQgetvalue(r, i, col));
			break;
		}
		if (json_object_set_new(o, indicator_columns[col], v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static const char *const dimension_codes[] = { "health", "living", "education",
	"economy", "services", "personal", "political", NULL };

static const hsi_qparam indicator_query[] = {
	{ .name      = "dimension",
	    .type    = HSI_QT_ENUM,
	    .choices = dimension_codes },
	{ .name = "agency", .type = HSI_QT_AGENCY, .example = "CDD" },
	{ .name = "in_index", .type = HSI_QT_BOOL },
	{ .name = NULL },
};

/* list_prelude, and whether the agency filter names an agency: an
 * unknown one is a mistake worth saying (400), not an empty list. */
static int
indicators_prelude(hsi_call *c, const char *agency, char *tag, int *done)
{
	static const char sql[] = "SELECT " HSI_CATALOG_API_TAG_SQL
	                          ", $1::text IS NULL OR EXISTS (SELECT 1 "
	                          "FROM agency WHERE code = $1)";
	const char *p[1] = { agency };
	PGresult   *r    = hsi_call_sql(c, "indicators tag", sql, 1, p);
	*done            = 1;
	if (r == NULL) {
		return HSI_EDB;
	}
	int known = PQgetvalue(r, 0, 1)[0] == 't';
	hsi_catalog_api_tag(PQgetvalue(r, 0, 0), tag);
	PQclear(r);
	if (!known) {
		char        detail[200];
		hsi_problem pr = { .status = MHD_HTTP_BAD_REQUEST,
			.slug              = "invalid-parameter",
			.title             = "Invalid query parameter",
			.detail            = detail,
			.parameter         = "agency" };
		snprintf(detail, sizeof(detail),
		    "query parameter 'agency' is '%s', which is no agency; "
		    "send a code of /v1/agencies (e.g. CDD)",
		    agency);
		int rv = hsi_reply_problem_ex(c, &pr, NULL);
		return rv ? rv : HSI_EINVAL;
	}
	char final[HSI_ETAG_MAX];
	if (fresh(c, tag, final)) {
		return hsi_reply_not_modified(c, final);
	}
	*done = 0;
	return 0;
}

static const char sql_indicators[] = INDICATOR_SELECT
    " FROM indicator i JOIN dimension d ON d.code = i.dimension "
    "WHERE ($1::text IS NULL OR i.dimension = $1) "
    "AND ($2::text IS NULL OR i.agency = $2) "
    "AND ($3::boolean IS NULL OR i.in_index = $3) "
    "ORDER BY d.ord, i.dimension COLLATE \"C\", i.code COLLATE \"C\"";

static int
list_indicators(hsi_call *c)
{
	char        tag[HSI_ETAG_MAX];
	const char *agency = hsi_call_text(c, "agency");
	int         done;
	int         rv = indicators_prelude(c, agency, tag, &done);
	if (done) {
		return rv;
	}
	const char *p[3] = { hsi_call_text(c, "dimension"), agency,
		hsi_call_text(c, "in_index") };
	PGresult *r = hsi_call_sql(c, "list indicators", sql_indicators, 3, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	return hsi_catalog_api_rows_page(c, r, indicator_json,
	    hsi_call_format(c) == HSI_FMT_CSV, indicator_columns, tag);
}

static const hsi_qparam indicator_path[] = {
	{ .name = "code", .type = HSI_QT_INDICATOR, .example = "t_health" },
	{ .name = NULL },
};

static const char sql_indicator[] = INDICATOR_SELECT
    ", " HSI_CATALOG_API_TAG_SQL " FROM indicator i WHERE i.code = $1";

static int
get_indicator(hsi_call *c)
{
	const char *code = hsi_call_text(c, "code");
	const char *p[1] = { code };
	PGresult   *r = hsi_call_sql(c, "get indicator", sql_indicator, 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		return hsi_catalog_api_not_found(
		    c, "indicator", code, "/v1/indicators");
	}
	char tag[HSI_ETAG_MAX];
	hsi_catalog_api_tag(PQgetvalue(r, 0, I_N_INDICATORS), tag);
	json_t *j = indicator_json(r, 0, 0);
	PQclear(r);
	if (j == NULL) {
		return hsi_catalog_api_build_failed(c);
	}
	return hsi_reply_json(c, MHD_HTTP_OK, j, tag);
}

/* -------------------------------------------------------------- agencies */

static const char *const agency_columns[]
    = { "code", "name_th", "name_en", "indicators", NULL };

/* Row i as an Agency; the codes it owns come comma-separated (a code
 * has no comma), and go out as an array, or joined by ';' in CSV. */
static json_t *
agency_json(const PGresult *r, int i, int csv)
{
	const char *owned = PQgetvalue(r, i, 3);
	json_t     *codes;
	if (csv) {
		char *joined = strdup(owned);
		for (char *s = joined; s != NULL && *s != '\0'; s++) {
			*s = *s == ',' ? ';' : *s;
		}
		codes = joined ? json_string(joined) : NULL;
		free(joined);
	} else {
		codes = json_array();
		for (const char *s = owned; codes != NULL && *s != '\0';) {
			size_t n = strcspn(s, ",");
			if (json_array_append_new(codes, json_stringn(s, n))
			    != 0) {
				json_decref(codes);
				codes = NULL;
			}
			s += n + (s[n] == ',');
		}
	}
	if (codes == NULL) {
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "code", PQgetvalue(r, i, 0),
	    "name_th", PQgetvalue(r, i, 1), "name_en", PQgetvalue(r, i, 2),
	    "indicators", codes);
}

static int
list_agencies(hsi_call *c)
{
	char tag[HSI_ETAG_MAX];
	int  done;
	int  rv = list_prelude(c, tag, &done);
	if (done) {
		return rv;
	}
	PGresult *r = hsi_call_sql(c, "list agencies",
	    "SELECT a.code, a.name_th, a.name_en, coalesce(string_agg("
	    "i.code, ',' ORDER BY i.code COLLATE \"C\"), '') "
	    "FROM agency a LEFT JOIN indicator i ON i.agency = a.code "
	    "GROUP BY a.code ORDER BY a.code COLLATE \"C\"",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	return hsi_catalog_api_rows_page(c, r, agency_json,
	    hsi_call_format(c) == HSI_FMT_CSV, agency_columns, tag);
}

/* ---------------------------------------------------------------- routes */

/* limit as the contract has it (components/parameters/Limit): up to
 * 10000 areas a page, 1000 when not given. */
static const char *const area_levels[]
    = { "nation", "region", "province", "district", "subdistrict", NULL };

static const hsi_qparam area_query[] = {
	{ .name = "level", .type = HSI_QT_ENUM, .choices = area_levels },
	{ .name = "parent", .type = HSI_QT_AREA, .example = "RN" },
	HSI_QPARAM_LIMIT,
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

static const hsi_qparam area_path[] = {
	{ .name = "code", .type = HSI_QT_AREA, .example = "50" },
	{ .name = NULL },
};

static const hsi_qparam methodology_path[] = {
	{ .name      = "version",
	    .type    = HSI_QT_INT,
	    .min     = 1,
	    .max     = 2147483647,
	    .example = "1" },
	{ .name = NULL },
};

const hsi_route hsi_routes_catalog[] = {
	{ .method    = "GET",
	    .pattern = "/v1/dimensions",
	    .handler = list_dimensions,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/indicators",
	    .handler = list_indicators,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = indicator_query,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/indicators/{code}",
	    .handler = get_indicator,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = indicator_path },
	{ .method    = "GET",
	    .pattern = "/v1/agencies",
	    .handler = list_agencies,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/areas",
	    .handler = hsi_catalog_api_list_areas,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = area_query,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/areas/{code}",
	    .handler = hsi_catalog_api_get_area,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = area_path },
	{ .method    = "GET",
	    .pattern = "/v1/methodologies",
	    .handler = hsi_catalog_api_list_methodologies,
	    .access  = HSI_ACCESS_PUBLIC_READ },
	{ .method    = "GET",
	    .pattern = "/v1/methodologies/active",
	    .handler = hsi_catalog_api_get_active_methodology,
	    .access  = HSI_ACCESS_PUBLIC_READ },
	{ .method    = "GET",
	    .pattern = "/v1/methodologies/{version}",
	    .handler = hsi_catalog_api_get_methodology,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = methodology_path },
	HSI_ROUTE_END,
};
