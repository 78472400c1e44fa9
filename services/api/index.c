/*
 * index.c: GET /v1/index bodies (see index.h). One query returns every
 * composite and dimension row of the period, already in output order
 * (nation, regions, provinces by rank then code), so building the JSON is
 * one pass with no sorting in C.
 */
#include "index.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"

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
