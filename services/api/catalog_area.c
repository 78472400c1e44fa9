/*
 * catalog_area.c: GET /v1/areas (a page of the area tree) and
 * GET /v1/areas/{code} (one area, its parent and children), from the
 * tables area and area_population. Part of the catalog module
 * (catalog_int.h; the routes are in catalog.c).
 *
 * Areas are the one catalog list that is paginated: sub-districts number
 * 7,255 once loaded. Pages are in the order of the tree's levels (nation
 * first) then code, so the cursor is (level rank, code). Codes compare
 * bytewise (COLLATE "C") whatever the database's locale, so the order is
 * the same on every server and the keyset comparison agrees with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_int.h"
#include "error.h"
#include "reply.h"

/* An area with its latest registered population, and the rank of its
 * level (the last column); AREA_FROM follows, after any extra column. */
#define AREA_COLUMNS                                                          \
	"SELECT a.code, a.parent, a.level, nullif(a.iso, ''), a.name_th, "    \
	"a.name_en, p.population, p.year, p.source, l.ord"
#define AREA_FROM                                                             \
	" FROM area a JOIN (VALUES ('nation', 0), ('region', 1), "            \
	"('province', 2), ('district', 3), ('subdistrict', 4)) "              \
	"AS l(level, ord) ON l.level = a.level "                              \
	"LEFT JOIN LATERAL (SELECT population, year, source "                 \
	"FROM area_population WHERE area = a.code ORDER BY year DESC "        \
	"LIMIT 1) p ON true "

enum {
	A_CODE,
	A_PARENT,
	A_LEVEL,
	A_ISO,
	A_NAME_TH,
	A_NAME_EN,
	A_POPULATION,
	A_YEAR,
	A_SOURCE,
	A_ORD,
	A_N_COLUMNS
};

static const char *const area_columns[] = { "code", "parent", "level", "iso",
	"name_th", "name_en", "population", "population_year", NULL };

/* Row i as an Area (AreaFields). csv: the population flattened into the
 * columns population and population_year. */
static json_t *
area_json(const PGresult *r, int i, int csv)
{
	json_t *pop;
	json_t *year = NULL;
	if (PQgetisnull(r, i, A_POPULATION)) {
		pop = json_null();
	} else if (csv) {
		pop = json_integer(
		    strtoll(PQgetvalue(r, i, A_POPULATION), NULL, 10));
		year = json_integer(atoi(PQgetvalue(r, i, A_YEAR)));
	} else {
		pop = json_pack("{s:i, s:I, s:o}", "year",
		    atoi(PQgetvalue(r, i, A_YEAR)), "value",
		    (json_int_t) strtoll(
		        PQgetvalue(r, i, A_POPULATION), NULL, 10),
		    "source", hsi_catalog_api_text_or_null(r, i, A_SOURCE));
	}
	json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:s, s:s, s:o}", "code",
	    PQgetvalue(r, i, A_CODE), "parent",
	    hsi_catalog_api_text_or_null(r, i, A_PARENT), "level",
	    PQgetvalue(r, i, A_LEVEL), "iso",
	    hsi_catalog_api_text_or_null(r, i, A_ISO), "name_th",
	    PQgetvalue(r, i, A_NAME_TH), "name_en",
	    PQgetvalue(r, i, A_NAME_EN), "population", pop);
	if (o != NULL && csv
	    && json_object_set_new(
	           o, "population_year", year ? year : json_null())
	        != 0) {
		json_decref(o);
		return NULL;
	}
	if (o == NULL) {
		json_decref(year);
	}
	return o;
}

/* ----------------------------------------------------------------- list */

/* 400 invalid-parameter for a parent that is no area: said plainly,
 * rather than an empty list that looks like an area without children. */
static int
unknown_parent(hsi_call *c, const char *parent)
{
	const char *p[1] = { parent };
	PGresult   *r    = hsi_call_sql(c, "area exists",
	         "SELECT EXISTS (SELECT 1 FROM area WHERE code = $1)", 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int known = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (known) {
		return 0;
	}
	char        detail[200];
	hsi_problem pr = { .status = MHD_HTTP_BAD_REQUEST,
		.slug              = "invalid-parameter",
		.title             = "Invalid query parameter",
		.detail            = detail,
		.parameter         = "parent" };
	snprintf(detail, sizeof(detail),
	    "query parameter 'parent' is '%s', which is no area; send a "
	    "code of /v1/areas (TH, a region such as RN, or a province "
	    "such as 50)",
	    parent);
	int rv = hsi_reply_problem_ex(c, &pr, NULL);
	return rv ? rv : HSI_EINVAL;
}

/* The cursor of this page: none, or (level rank, code) as list_areas
 * makes it. Returns 0, or non-zero once answered (400). */
static int
area_after(hsi_call *c, hsi_cursor *after)
{
	int rv = hsi_call_cursor(c, after);
	if (rv != 0 || after->n == 0) {
		return rv;
	}
	if (after->n != 2 || after->part[0].is_str || !after->part[1].is_str) {
		hsi_problem pr = { .status = MHD_HTTP_BAD_REQUEST,
			.slug              = "invalid-cursor",
			.title             = "Invalid cursor",
			.detail            = "this cursor is not one of this "
			                     "listing's; start again from the "
			                     "first page",
			.parameter         = "cursor" };
		rv             = hsi_reply_problem_ex(c, &pr, NULL);
		return rv ? rv : HSI_EINVAL;
	}
	return 0;
}

/* Items of r's first n rows. */
static json_t *
area_items(const PGresult *r, int n, int csv)
{
	json_t *items = json_array();
	for (int i = 0; items != NULL && i < n; i++) {
		if (json_array_append_new(items, area_json(r, i, csv)) != 0) {
			json_decref(items);
			items = NULL;
		}
	}
	return items;
}

/* $1 level, $2 parent, $3 and $4 the cursor's key, $5 the page size
 * plus one (that row says whether there is a next page). */
static const char sql_list[] = AREA_COLUMNS AREA_FROM
    "WHERE ($1::text IS NULL OR a.level = $1) "
    "AND ($2::text IS NULL OR a.parent = $2) "
    "AND ($3::int IS NULL OR (l.ord, a.code COLLATE \"C\") > "
    "($3::int, $4::text COLLATE \"C\")) "
    "ORDER BY l.ord, a.code COLLATE \"C\" LIMIT $5::int";

int
hsi_catalog_api_list_areas(hsi_call *c)
{
	char       ord[24], lim[24];
	hsi_cursor after;
	int        rv = area_after(c, &after);
	if (rv != 0) {
		return rv;
	}
	int limit = (int) hsi_call_int(c, "limit", 1000);
	snprintf(lim, sizeof(lim), "%d", limit + 1);
	snprintf(ord, sizeof(ord), "%lld", after.n ? after.part[0].i : 0);
	const char *parent = hsi_call_text(c, "parent");
	const char *p[5]   = { hsi_call_text(c, "level"), parent,
                after.n ? ord : NULL, after.n ? after.part[1].s : NULL, lim };
	PGresult   *r      = hsi_call_sql(c, "list areas", sql_list, 5, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n = PQntuples(r), more = n > limit;
	if (n == 0 && parent != NULL
	    && (rv = unknown_parent(c, parent)) != 0) {
		PQclear(r);
		return rv;
	}
	n                = more ? limit : n;
	json_t    *items = area_items(r, n, hsi_call_format(c) == HSI_FMT_CSV);
	hsi_cursor next;
	hsi_cursor_init(&next);
	if (more
	    && (hsi_cursor_push_int(&next, atoi(PQgetvalue(r, n - 1, A_ORD)))
	            != 0
	        || hsi_cursor_push_str(&next, PQgetvalue(r, n - 1, A_CODE))
	            != 0)) {
		json_decref(items);
		items = NULL;
	}
	PQclear(r);
	if (items == NULL) {
		return hsi_catalog_api_build_failed(c);
	}
	/* Tagged by content: a page holds a cursor made with this process's
	 * key, which the catalog version knows nothing of. */
	return hsi_reply_page(c, items, &next, area_columns, HSI_ETAG_AUTO);
}

/* ------------------------------------------------------------------ one */

/* The area, its tag and its children's codes, comma-separated. */
static const char sql_one[] = AREA_COLUMNS
    ", " HSI_CATALOG_API_TAG_SQL
    ", (SELECT coalesce(string_agg(k.code, ',' ORDER BY k.code COLLATE "
    "\"C\"), '') FROM area k WHERE k.parent = a.code)" AREA_FROM
    "WHERE a.code = $1";

int
hsi_catalog_api_get_area(hsi_call *c)
{
	const char *code = hsi_call_text(c, "code");
	const char *p[1] = { code };
	PGresult   *r    = hsi_call_sql(c, "get area", sql_one, 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		return hsi_catalog_api_not_found(c, "area", code, "/v1/areas");
	}
	char tag[HSI_ETAG_MAX];
	hsi_catalog_api_tag(PQgetvalue(r, 0, A_N_COLUMNS), tag);
	json_t     *o    = area_json(r, 0, 0);
	json_t     *kids = json_array();
	const char *s    = PQgetvalue(r, 0, A_N_COLUMNS + 1);
	while (kids != NULL && *s != '\0') {
		size_t n = strcspn(s, ",");
		if (json_array_append_new(kids, json_stringn(s, n)) != 0) {
			json_decref(kids);
			kids = NULL;
		}
		s += n + (s[n] == ',');
	}
	PQclear(r);
	if (o == NULL || kids == NULL
	    || json_object_set_new(o, "children", kids) != 0) {
		json_decref(o);
		json_decref(o ? NULL : kids);
		return hsi_catalog_api_build_failed(c);
	}
	return hsi_reply_json(c, MHD_HTTP_OK, o, tag);
}
