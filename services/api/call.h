/*
 * call.h: one request to hsi-api as its handler sees it (an hsi_call):
 * the path and query values already checked against the route's
 * declarations, the caller (principal), the chosen format, a database
 * connection taken from the pool on first use, the request body, and the
 * cursor of a paginated listing. Replies are in reply.h.
 *
 * Convention for every int-returning hsi_call_* and hsi_reply_*: 0 means
 * go on; anything else means the request has been answered (a problem
 * was queued) or cannot be (out of memory), and the handler returns that
 * value as it is:
 *
 *   if ((rv = hsi_call_body_json(c, fields, &root)) != 0)
 *   	return rv;
 */
#ifndef HSI_API_CALL_H
#define HSI_API_CALL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <stddef.h>

#include "auth.h"
#include "body.h"
#include "cursor.h"
#include "negotiate.h"
#include "query.h"
#include "router.h"
#include "server.h"

/* Shared state: pool, cache, options (read only). */
const hsi_server *hsi_call_server(const hsi_call *c);

/* The request's method ("HEAD" for HEAD, though a GET route answers)
 * and decoded path. */
const char *hsi_call_method(const hsi_call *c);
const char *hsi_call_path(const hsi_call *c);

/* A request header, or NULL. */
const char *hsi_call_header(const hsi_call *c, const char *name);

/* The caller: role HSI_ROLE_ANON when no token was sent. */
const hsi_principal *hsi_call_principal(const hsi_call *c);

/* The format chosen from Accept (HSI_FMT_CSV only on HSI_ROUTE_CSV). */
hsi_format hsi_call_format(const hsi_call *c);

/* A path placeholder's or query parameter's value, or NULL when it was
 * not given; its canonical text; a whole number or def. */
const hsi_qvalue *hsi_call_value(const hsi_call *c, const char *name);
const char       *hsi_call_text(const hsi_call *c, const char *name);
long long hsi_call_int(const hsi_call *c, const char *name, long long def);

/* The parsed query itself (hsi_query_canon and the like). */
const hsi_query *hsi_call_query(const hsi_call *c);

/* The connection, for what the helpers do not cover (suspend/resume). */
struct MHD_Connection *hsi_call_connection(hsi_call *c);

/*
 * The request's database connection, taken from the pool on first use
 * and given back when the handler returns. Returns 0 and *db, or HSI_EDB
 * after queueing 503 (PostgreSQL unreachable).
 */
int hsi_call_db(hsi_call *c, PGconn **db);

/*
 * Runs one parameterised statement (hsi_db_query), once more after a
 * reconnect when the connection was lost. Returns the result (caller
 * PQclear()s it), or NULL after queueing 503 (unreachable) or 500 (the
 * statement failed: logged with what).
 */
PGresult *hsi_call_sql(hsi_call *c, const char *what, const char *sql, int n,
    const char *const *params);

/*
 * Runs fn(db, arg) on the request's connection, and once more after a
 * reconnect when it returns HSI_EDB with the connection lost (fn must be
 * safe to repeat: a read, or one transaction). Returns fn's result;
 * HSI_EDB means the database failed and 503 has been queued; any other
 * non-zero result is the handler's to answer.
 */
int hsi_call_run(hsi_call *c, int (*fn)(PGconn *db, void *arg), void *arg);

/*
 * The cursor of this request, checked against this listing (path and
 * filters, not limit). Returns 0 with out->n == 0 when none was sent, 0
 * with the decoded key, or HSI_EINVAL after queueing 400 invalid-cursor.
 */
int hsi_call_cursor(hsi_call *c, hsi_cursor *out);

/* The page size asked for: limit, or HSI_PAGE_DEFAULT. */
int hsi_call_limit(const hsi_call *c);

/*
 * The request body (routes with body_max_bytes > 0; the pipeline has
 * refused bodies over it with 413). *data is NUL-terminated, owned by
 * the call. Returns 0 (an empty body is 0 with *len 0).
 */
int hsi_call_body(hsi_call *c, const char **data, size_t *len);

/*
 * The body as JSON held to fields: Content-Type must be application/json
 * (else 415), then hsi_body_json and hsi_body_check (else 400 with the
 * line and column, or the field's JSON pointer). Returns 0 and *out
 * (caller json_decref()s it), or non-zero once answered.
 */
int hsi_call_body_json(hsi_call *c, const hsi_jfield *fields, json_t **out);

/* Answers 400 for a body refused by body.h (its slug, detail, field,
 * line and column). Returns non-zero (answered). */
int hsi_call_body_problem(hsi_call *c, const hsi_body_err *e);

#endif
