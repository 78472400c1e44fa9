/*
 * index.c: GET /v1/index (see index.h). One query returns every
 * composite and dimension row of the period, already in output order
 * (nation, regions, provinces by rank then code), so building the JSON is
 * one pass with no sorting in C. Bodies are cached per (period,
 * methodology) until a score event for the period arrives.
 */
#include "index.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "db.h"
#include "error.h"
#include "reply.h"
#include "routes.h"

/* The seven dimensions of the revised 2023 framework, in display order;
 * every area shows all of them (null when missing), so clients never
 * have to guess whether a key is absent or unknown. */
static const char *const dimensions[] = { "health", "living", "education",
	"economy", "services", "personal", "political", NULL };

static const char sql_rows[]
    = "SELECT a.code, a.level, a.name_th, a.name_en, s.level, s.code,"
      " s.value, s.coverage, s.rank, s.event_seq "
      "FROM (SELECT s.*, max(s.rank) FILTER (WHERE s.level = 'index')"
      "  OVER (PARTITION BY s.area) AS arank FROM score s"
      "  WHERE s.methodology = $1::int AND s.period = $2"
      "  AND ((s.level = 'index' AND s.code = 'hsi') OR s.level = 'group')"
      ") s JOIN area a ON a.code = s.area "
      "WHERE a.level IN ('nation', 'region', 'province') "
      "ORDER BY CASE a.level WHEN 'nation' THEN 0 WHEN 'region' THEN 1"
      " ELSE 2 END, s.arank NULLS LAST, a.code "
      "LIMIT $3::int";

enum {
	C_AREA,
	C_ALEVEL,
	C_NAME_TH,
	C_NAME_EN,
	C_LEVEL,
	C_CODE,
	C_VALUE,
	C_COVERAGE,
	C_RANK,
	C_SEQ
};

typedef struct {
	json_t  *root;
	json_t  *regions;
	json_t  *provinces;
	json_t  *cur; /* the area being filled */
	int      cur_row;
	uint64_t seq;
} build;

int
hsi_index_active_methodology(PGconn *db, int *out)
{
	return hsi_db_active_methodology(db, out);
}

static json_t *
real_or_null(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col)
	    ? json_null()
	    : json_real(strtod(PQgetvalue(r, i, col), NULL));
}

/* Starts the object of row i's area and files it under its level. */
static int
new_area(build *b, PGresult *r, int i)
{
	const char *level = PQgetvalue(r, i, C_ALEVEL);
	int         prov  = strcmp(level, "province") == 0;
	json_t     *dims  = json_object();
	json_t     *a     = json_pack("{s:s, s:s, s:s, s:n}", "area",
	            PQgetvalue(r, i, C_AREA), "name_th", PQgetvalue(r, i, C_NAME_TH),
	            "name_en", PQgetvalue(r, i, C_NAME_EN), "composite");
	if (a == NULL || dims == NULL) {
		json_decref(a);
		json_decref(dims);
		return HSI_ENOMEM;
	}
	if (prov) {
		json_object_set_new(a, "rank", json_null());
	}
	json_object_set_new(a, "coverage", json_null());
	for (int d = 0; dimensions[d] != NULL; d++) {
		json_object_set_new(dims, dimensions[d], json_null());
	}
	json_object_set_new(a, "dimensions", dims);
	b->cur     = a;
	b->cur_row = i;
	if (prov) {
		return json_array_append_new(b->provinces, a) ? HSI_ENOMEM : 0;
	}
	if (strcmp(level, "region") == 0) {
		return json_array_append_new(b->regions, a) ? HSI_ENOMEM : 0;
	}
	return json_object_set_new(b->root, "nation", a) ? HSI_ENOMEM : 0;
}

static void
apply_row(build *b, PGresult *r, int i)
{
	const char *code = PQgetvalue(r, i, C_CODE);
	if (strcmp(PQgetvalue(r, i, C_LEVEL), "index") == 0) {
		json_object_set_new(
		    b->cur, "composite", real_or_null(r, i, C_VALUE));
		json_object_set_new(
		    b->cur, "coverage", real_or_null(r, i, C_COVERAGE));
		if (json_object_get(b->cur, "rank") != NULL
		    && !PQgetisnull(r, i, C_RANK)) {
			json_object_set_new(b->cur, "rank",
			    json_integer(atoi(PQgetvalue(r, i, C_RANK))));
		}
	} else {
		json_t *dims = json_object_get(b->cur, "dimensions");
		/* Sub-groups of the tree are not dimensions: only known
		 * keys are replaced, none added. */
		if (json_object_get(dims, code) != NULL) {
			json_object_set_new(
			    dims, code, real_or_null(r, i, C_VALUE));
		}
	}
	uint64_t seq = strtoull(PQgetvalue(r, i, C_SEQ), NULL, 10);
	if (seq > b->seq) {
		b->seq = seq;
	}
}

static int
fill(build *b, PGresult *r)
{
	int n = PQntuples(r);
	if (n == 0) {
		return HSI_ENOENT;
	}
	if (n > HSI_INDEX_MAX_ROWS) {
		return HSI_ETOOBIG;
	}
	for (int i = 0; i < n; i++) {
		if (b->cur == NULL
		    || strcmp(PQgetvalue(r, i, C_AREA),
		           PQgetvalue(r, b->cur_row, C_AREA))
		        != 0) {
			int rv = new_area(b, r, i);
			if (rv != 0) {
				return rv;
			}
		}
		apply_row(b, r, i);
	}
	json_object_set_new(
	    b->root, "event_seq", json_integer((json_int_t) b->seq));
	return 0;
}

int
hsi_index_build(PGconn *db, const char *period, int methodology, char **body,
    size_t *len, uint64_t *event_seq)
{
	char mstr[16], lim[16];
	snprintf(mstr, sizeof(mstr), "%d", methodology);
	snprintf(lim, sizeof(lim), "%d", HSI_INDEX_MAX_ROWS + 1);
	const char *p[3] = { mstr, period, lim };
	PGresult   *r    = hsi_db_query(db, "index rows", sql_rows, 3, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	build b;
	memset(&b, 0, sizeof(b));
	b.regions   = json_array();
	b.provinces = json_array();
	b.root = json_pack("{s:s, s:i, s:i, s:n, s:o, s:o}", "period", period,
	    "methodology", methodology, "event_seq", 0, "nation", "regions",
	    b.regions, "provinces", b.provinces);
	int rv = b.root ? fill(&b, r) : HSI_ENOMEM;
	PQclear(r);
	char *s = rv == 0
	    ? json_dumps(b.root, JSON_COMPACT | JSON_REAL_PRECISION(17))
	    : NULL;
	json_decref(b.root);
	if (rv == 0 && s == NULL) {
		rv = HSI_ENOMEM;
	}
	if (rv == 0) {
		*body      = s;
		*len       = strlen(s);
		*event_seq = b.seq;
	}
	return rv;
}

typedef struct {
	hsi_cache  *cache;
	const char *period;
	int         asked; /* methodology asked for; 0: the active one */
	int         methodology;
	char       *body;
	size_t      len;
	char        etag[HSI_ETAG_MAX];
} answer;

/* The methodology, then the body from the cache or the database. Safe
 * to repeat after a reconnect. */
static int
load(PGconn *db, void *arg)
{
	answer  *a = arg;
	uint64_t seq, gen;
	int      rv;
	a->methodology = a->asked;
	if (a->methodology == 0
	    && (rv = hsi_index_active_methodology(db, &a->methodology)) != 0) {
		return rv;
	}
	if (hsi_cache_get(a->cache, a->period, a->methodology, &a->body,
	        &a->len, a->etag)
	    == 0) {
		return 0;
	}
	gen = hsi_cache_generation(a->cache);
	if ((rv = hsi_index_build(
	         db, a->period, a->methodology, &a->body, &a->len, &seq))
	    != 0) {
		return rv;
	}
	snprintf(a->etag, sizeof(a->etag), "\"m%d-s%llu\"", a->methodology,
	    (unsigned long long) seq);
	hsi_cache_put(a->cache, gen, a->period, a->methodology, a->body,
	    a->len, a->etag);
	return 0;
}

static int
not_found(hsi_call *c, const answer *a)
{
	char detail[300];
	if (a->methodology == 0) {
		snprintf(detail, sizeof(detail),
		    "no methodology has been activated yet, so there is no "
		    "index; activate one or pass methodology=N");
	} else {
		snprintf(detail, sizeof(detail),
		    "there are no scores for period %s under methodology %d",
		    a->period, a->methodology);
	}
	return hsi_reply_problem(
	    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", detail);
}

/* The contract's CSV columns (openapi.yaml, getIndex); those this body
 * does not have yet (published, band, delta, rank_delta) stay empty. */
static const char *const csv_columns[] = { "period", "methodology", "area",
	"level", "name_th", "name_en", "composite", "published", "coverage",
	"rank", "band", "delta", "rank_delta", "health", "living", "education",
	"economy", "services", "personal", "political", NULL };

/* One CSV row per area: the area's members, its dimensions flattened. */
static int
add_row(json_t *items, const json_t *root, json_t *area, const char *level)
{
	json_t *row = json_deep_copy(area);
	if (row == NULL) {
		return HSI_ENOMEM;
	}
	json_object_update(row, json_object_get(area, "dimensions"));
	json_object_del(row, "dimensions");
	json_object_set(row, "period", json_object_get(root, "period"));
	json_object_set(
	    row, "methodology", json_object_get(root, "methodology"));
	json_object_set_new(row, "level", json_string(level));
	return json_array_append_new(items, row) ? HSI_ENOMEM : 0;
}

/* The body as the items of a CSV table: nation, regions, provinces. */
static json_t *
csv_items(const char *body, size_t len)
{
	static const char *const keys[]   = { "regions", "provinces" };
	static const char *const levels[] = { "region", "province" };
	json_t *root = json_loadb(body, len, 0, NULL), *items = json_array();
	int     rv = root && items ? 0 : HSI_ENOMEM;
	if (rv == 0 && json_is_object(json_object_get(root, "nation"))) {
		rv = add_row(
		    items, root, json_object_get(root, "nation"), "nation");
	}
	for (int k = 0; k < 2 && rv == 0; k++) {
		size_t  i;
		json_t *area;
		json_array_foreach(json_object_get(root, keys[k]), i, area)
		{
			if ((rv = add_row(items, root, area, levels[k]))
			    != 0) {
				break;
			}
		}
	}
	json_decref(root);
	if (rv != 0) {
		json_decref(items);
		return NULL;
	}
	return items;
}

static int
reply(hsi_call *c, const answer *a)
{
	if (hsi_call_format(c) != HSI_FMT_CSV) {
		return hsi_reply_json_text(
		    c, MHD_HTTP_OK, a->body, a->len, a->etag);
	}
	json_t *items = csv_items(a->body, a->len);
	if (items == NULL) {
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	return hsi_reply_page(c, items, NULL, csv_columns, a->etag);
}

static int
get_index(hsi_call *c)
{
	answer a;
	memset(&a, 0, sizeof(a));
	a.cache  = hsi_call_server(c)->cache;
	a.period = hsi_call_text(c, "period");
	a.asked  = (int) hsi_call_int(c, "methodology", 0);
	int rv   = hsi_call_run(c, load, &a);
	if (rv == HSI_ENOENT) {
		return not_found(c, &a);
	}
	if (rv != 0) {
		return rv == HSI_EDB ? rv : hsi_reply_unavailable(c);
	}
	rv = reply(c, &a);
	free(a.body);
	return rv;
}

static const hsi_qparam index_query[] = {
	{ .name      = "period",
	    .type    = HSI_QT_PERIOD,
	    .flags   = HSI_QP_REQUIRED,
	    .example = "2024" },
	{ .name      = "methodology",
	    .type    = HSI_QT_INT,
	    .min     = 1,
	    .max     = INT_MAX,
	    .example = "1" },
	{ .name = NULL },
};

const hsi_route hsi_routes_index[] = {
	{ .method    = "GET",
	    .pattern = "/v1/index",
	    .handler = get_index,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = index_query,
	    .flags   = HSI_ROUTE_CSV },
	HSI_ROUTE_END,
};
