/*
 * catalog_method.c: GET /v1/methodologies (every version, newest first),
 * /v1/methodologies/active and /v1/methodologies/{version} (one version
 * with its stored document), from the tables methodology and
 * methodology_activation. Part of the catalog module (catalog_int.h; the
 * routes are in catalog.c).
 *
 * The version in force is the one activated last, as the scorer and
 * GET /v1/index decide it (hsi_db_active_methodology): a version
 * activated again later is in force again. The document is served as
 * the scorer stored it (hsi_scoredb_method_add: format 2, catalog
 * defaults filled in), so every score of the version can be reproduced
 * from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_int.h"
#include "error.h"
#include "reply.h"

/* The version in force: SQL of one int, NULL before any activation. */
#define ACTIVE_SQL                                                            \
	"(SELECT version FROM methodology_activation "                        \
	"ORDER BY activated_at DESC, id DESC LIMIT 1)"

/* Closes to_char(<timestamptz>: RFC 3339 in UTC, with microseconds. */
#define UTC_TEXT " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* MethodologyFields of m (activations as a JSON array, oldest first) and
 * the methodologies' tag; then, for one methodology, m.doc; then
 * METHOD_FROM and a WHERE or ORDER BY. */
#define METHOD_COLUMNS                                                        \
	"SELECT m.version, m.name, to_char(m.created_at" UTC_TEXT             \
	", m.created_by, coalesce(m.version = " ACTIVE_SQL ", false), "       \
	"coalesce((SELECT json_agg(json_build_object('at', "                  \
	"to_char(a.activated_at" UTC_TEXT ", 'by', a.activated_by) "          \
	"ORDER BY a.activated_at, a.id) FROM methodology_activation a "       \
	"WHERE a.version = m.version), '[]'), " HSI_CATALOG_API_MTAG_SQL
#define METHOD_FROM " FROM methodology m "

enum {
	M_VERSION,
	M_NAME,
	M_CREATED_AT,
	M_CREATED_BY,
	M_ACTIVE,
	M_ACTIVATIONS,
	M_TAG,
	M_DOC
};

/* A JSON column parsed, or NULL. */
static json_t *
json_at(const PGresult *r, int i, int col)
{
	json_error_t e;
	return json_loads(PQgetvalue(r, i, col), 0, &e);
}

/* Row i as a MethodologySummary, or with doc a Methodology. */
static json_t *
method_json(const PGresult *r, int i, int doc)
{
	json_t *acts = json_at(r, i, M_ACTIVATIONS);
	json_t *o    = json_pack("{s:i, s:s, s:s, s:s, s:b, s:o}", "version",
	       atoi(PQgetvalue(r, i, M_VERSION)), "name",
	       PQgetvalue(r, i, M_NAME), "created_at",
	       PQgetvalue(r, i, M_CREATED_AT), "created_by",
	       PQgetvalue(r, i, M_CREATED_BY), "active",
	       PQgetvalue(r, i, M_ACTIVE)[0] == 't', "activations", acts);
	if (o != NULL && doc
	    && json_object_set_new(o, "doc", json_at(r, i, M_DOC)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int
hsi_catalog_api_list_methodologies(hsi_call *c)
{
	char tag[HSI_ETAG_MAX];
	int  done;
	int  rv = hsi_catalog_api_list_tag(
	     c, "SELECT " HSI_CATALOG_API_MTAG_SQL, tag, &done);
	if (done) {
		return rv;
	}
	PGresult *r = hsi_call_sql(c, "list methodologies",
	    METHOD_COLUMNS METHOD_FROM "ORDER BY m.version DESC", 0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	return hsi_catalog_api_rows_page(c, r, method_json, 0, NULL, tag);
}

static const char sql_active[]
    = METHOD_COLUMNS ", m.doc" METHOD_FROM "WHERE m.version = " ACTIVE_SQL;
static const char sql_version[]
    = METHOD_COLUMNS ", m.doc" METHOD_FROM "WHERE m.version = $1::int";

/* Answers the one methodology r holds, or 404 with detail. */
static int
reply_one(hsi_call *c, PGresult *r, const char *detail)
{
	if (PQntuples(r) == 0) {
		PQclear(r);
		return hsi_reply_problem(
		    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", detail);
	}
	char tag[HSI_ETAG_MAX];
	hsi_catalog_api_tag(PQgetvalue(r, 0, M_TAG), tag);
	json_t *j = method_json(r, 0, 1);
	PQclear(r);
	if (j == NULL) {
		return hsi_catalog_api_build_failed(c);
	}
	return hsi_reply_json(c, MHD_HTTP_OK, j, tag);
}

int
hsi_catalog_api_get_active_methodology(hsi_call *c)
{
	PGresult *r
	    = hsi_call_sql(c, "active methodology", sql_active, 0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	return reply_one(c, r,
	    "no methodology has been activated yet (hsi-scorer activates "
	    "one at its first start, hsictl methodology activate another); "
	    "see /v1/methodologies");
}

int
hsi_catalog_api_get_methodology(hsi_call *c)
{
	const char *version = hsi_call_text(c, "version");
	const char *p[1]    = { version };
	PGresult   *r = hsi_call_sql(c, "get methodology", sql_version, 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	char detail[160];
	snprintf(detail, sizeof(detail),
	    "no methodology version %s; see /v1/methodologies for the "
	    "stored versions",
	    version);
	return reply_one(c, r, detail);
}
