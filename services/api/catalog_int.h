/*
 * catalog_int.h: the inside of hsi-api's catalog module, shared by
 * catalog.c (the route table; dimensions, indicators, agencies),
 * catalog_area.c (areas) and catalog_method.c (methodologies). Nothing
 * outside these three files includes it.
 *
 * Caching: the catalog changes only when `hsictl catalog load` stores it,
 * which bumps catalog_version in the same transaction, and methodologies
 * change only by a new version or an activation. So an entity tag made
 * from those counters identifies every catalog answer, and a list can be
 * answered 304 after one tiny query, before the rows are read. The tag
 * is always read before the rows: a change in between then costs the
 * client one more download later, never a stale copy kept for good.
 */
#ifndef HSI_API_CATALOG_INT_H
#define HSI_API_CATALOG_INT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "call.h"
#include "negotiate.h"

/* SQL of one text value: the catalog's tag ("c<version>.<hex us>"), and
 * the methodologies' ("m<newest version>.<last activation>.<hex us>").
 * Either is a column of a larger statement too, so one read gives both
 * the row and its tag. */
#define HSI_CATALOG_API_TAG_SQL                                               \
	"coalesce((SELECT 'c' || version || '.' || to_hex((extract(epoch "    \
	"FROM changed_at) * 1000000)::bigint) FROM catalog_version), 'c0')"
#define HSI_CATALOG_API_MTAG_SQL                                              \
	"(SELECT 'm' || coalesce(max(version), 0) || '.' || (SELECT "         \
	"coalesce(max(id), 0) FROM methodology_activation) || '.' || "        \
	"to_hex(coalesce((extract(epoch FROM max(created_at)) * "             \
	"1000000)::bigint, 0)) FROM methodology)"

/*
 * Makes the quoted strong entity tag for raw (a value of the SQL above)
 * into tag (HSI_ETAG_MAX bytes): "\"c5.18f3...\"", or the hash of raw
 * when it is too long to stay a tag with a "-csv" variant.
 */
void hsi_catalog_api_tag(const char *raw, char *tag);

/*
 * Reads the tag of a list with sql (no parameters; one row, one text
 * column: the SQL above) into tag, and answers 304 when the client's copy
 * is current (If-None-Match, in the representation this call answers:
 * the "-csv" variant hsi_reply_page makes for CSV). *done is 1 when the
 * request has been answered (304, 503 or 500): the handler returns the
 * result as it is. Else *done is 0, the result 0, and tag is filled.
 */
int hsi_catalog_api_list_tag(
    hsi_call *c, const char *sql, char *tag, int *done);

/*
 * Queues 404 not-found: "no <what> '<code>'; see <list>" (code quoted
 * through hsi_text_shown). Returns what hsi_reply_problem does.
 */
int hsi_catalog_api_not_found(
    hsi_call *c, const char *what, const char *code, const char *list);

/*
 * Queues 500 internal when an answer could not be built (out of memory,
 * or stored text jansson refuses). Returns non-zero.
 */
int hsi_catalog_api_build_failed(hsi_call *c);

/* One row of a result as an item (flag: the handler's own, e.g. CSV). */
typedef json_t *(*hsi_catalog_api_row_fn)(const PGresult *r, int i, int flag);

/*
 * Answers the whole list r (cleared here) as one page: each row through
 * row with flag, CSV columns and tag as for hsi_reply_page. Returns what
 * hsi_reply_page does, or hsi_catalog_api_build_failed's answer.
 */
int hsi_catalog_api_rows_page(hsi_call *c, PGresult *r,
    hsi_catalog_api_row_fn row, int flag, const char *const *columns,
    const char *tag);

/* A text column as a JSON string, or null when the column is NULL. */
json_t *hsi_catalog_api_text_or_null(const PGresult *r, int row, int col);

/* The handlers of catalog_area.c and catalog_method.c (see the route
 * table in catalog.c, and openapi.yaml for what each answers). */
int hsi_catalog_api_list_areas(hsi_call *c);
int hsi_catalog_api_get_area(hsi_call *c);
int hsi_catalog_api_list_methodologies(hsi_call *c);
int hsi_catalog_api_get_active_methodology(hsi_call *c);
int hsi_catalog_api_get_methodology(hsi_call *c);

#endif
