/*
 * router.h: hsi-api's route tables. Every endpoint module declares its
 * routes in one array that ends with HSI_ROUTE_END:
 *
 *   const hsi_route hsi_routes_catalog[] = {
 *   	{ .method = "GET", .pattern = "/v1/areas/{area}",
 *   	    .handler = get_area, .access = HSI_ACCESS_PUBLIC_READ,
 *   	    .path = area_path, .query = area_query },
 *   	HSI_ROUTE_END,
 *   };
 *
 * and routes.c lists the arrays (one line per module, in modules.def).
 * A pattern is literal segments and {name} placeholders, each matching
 * one non-empty segment; a literal wins over a placeholder at the same
 * place (/v1/index/latest before /v1/index/{period}). A GET route also
 * answers HEAD. The matcher is pure (no connection): tested directly.
 */
#ifndef HSI_API_ROUTER_H
#define HSI_API_ROUTER_H

#include <stddef.h>

#include "auth.h"
#include "query.h"

typedef struct hsi_call hsi_call;

/*
 * Answers one request. Returns 0 once a response is queued (hsi_reply_*),
 * or what an hsi_call_* or hsi_reply_* step returned when it failed: it
 * has queued a problem already, or could not (out of memory: the
 * connection is closed). Returning without a response is a bug, and the
 * client gets a 500.
 */
typedef int (*hsi_handler)(hsi_call *c);

#define HSI_ROUTE_CSV 1u       /* can answer text/csv (Accept) */
#define HSI_ROUTE_ANY_QUERY 2u /* ignores the query (health probes) */
#define HSI_ROUTE_NO_LIMIT 4u  /* not rate limited (health probes) */
/* Answers its own media type whatever Accept says (text/plain of
 * /metrics): no 406. */
#define HSI_ROUTE_ANY_ACCEPT 8u

typedef struct {
	const char       *method;  /* "GET", "POST", ...; NULL ends a table */
	const char       *pattern; /* "/v1/index/{period}/areas/{area}" */
	hsi_handler       handler;
	hsi_access        access;
	const hsi_qparam *query; /* accepted query parameters; NULL: none */
	const hsi_qparam *path;  /* every placeholder's declaration (its
	                          * type: HSI_QT_AREA, HSI_QT_PERIOD...) */
	unsigned flags;          /* HSI_ROUTE_* */
	size_t   body_max_bytes; /* 0: no request body */
} hsi_route;

#define HSI_ROUTE_END                                                         \
	{                                                                     \
		.method = NULL                                                \
	}

#define HSI_ROUTE_MAX_PARAMS 8 /* placeholders in one pattern */
_Static_assert(
    HSI_QUERY_MAX_VALUES >= HSI_QUERY_MAX_PARAMS + HSI_ROUTE_MAX_PARAMS,
    "an hsi_query holds a route's path values and a full query");
#define HSI_ROUTE_SEGMENT_MAX 128
#define HSI_ROUTE_ALLOW_MAX 64

typedef enum {
	HSI_MATCH_OK,     /* route found */
	HSI_MATCH_METHOD, /* the path exists for other methods: 405 */
	HSI_MATCH_NONE,   /* no route has this path */
} hsi_match_kind;

typedef struct {
	const char *name; /* the placeholder, in the pattern (not NUL-ended) */
	size_t      name_len;
	const char *value; /* in the path (not NUL-ended) */
	size_t      value_len;
} hsi_path_param;

typedef struct {
	hsi_match_kind   kind;
	const hsi_route *route; /* HSI_MATCH_OK */
	hsi_path_param   param[HSI_ROUTE_MAX_PARAMS];
	int              n_params;
	char             allow[HSI_ROUTE_ALLOW_MAX]; /* HSI_MATCH_METHOD:
	                                              * "GET, HEAD, POST" */
} hsi_match;

/*
 * Finds the route for method and path in tables (a NULL-terminated list
 * of route arrays). The match points into the pattern and into path,
 * which must outlive it. Always fills m->kind.
 */
void hsi_router_match(const hsi_route *const *tables, const char *method,
    const char *path, hsi_match *m);

/*
 * Checks tables once at start-up: patterns start with '/', have no empty
 * segments, placeholders are well-formed names (at most
 * HSI_ROUTE_MAX_PARAMS, each declared in .path, none also in .query), no two
 * routes share method and pattern shape, and every route has a handler.
 * Returns 0 or HSI_EINVAL with err naming the route.
 */
int hsi_router_check(
    const hsi_route *const *tables, char *err, size_t err_size);

/* The declaration of placeholder name (len bytes) in r->path, or NULL. */
const hsi_qparam *hsi_router_param_decl(
    const hsi_route *r, const char *name, size_t len);

#endif
