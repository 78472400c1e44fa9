/*
 * call.c: the per-request context of hsi-api (see call.h).
 *
 * A request holds at most one pooled connection, taken on first use and
 * given back as soon as its handler returns, not when MHD has finished
 * sending: the pool is as small as the thread pool, and a slow client
 * must not keep a connection from the next request.
 */
#include "call_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "db.h"
#include "error.h"
#include "log.h"
#include "reply.h"

static void
client_address(hsi_call *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	snprintf(c->addr, sizeof(c->addr), "unknown");
	if (sa != NULL && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *) sa)->sin_addr, c->addr,
		    sizeof(c->addr));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *) sa)->sin6_addr, c->addr,
		    sizeof(c->addr));
	}
}

hsi_call *
hsi_call_alloc(const hsi_server *srv, struct MHD_Connection *conn,
    const char *method, const char *url)
{
	hsi_call *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	c->srv     = srv;
	c->conn    = conn;
	c->db_slot = -1;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	snprintf(c->method, sizeof(c->method), "%s", method);
	c->path_too_long = strlen(url) >= sizeof(c->path);
	snprintf(c->path, sizeof(c->path), "%s", c->path_too_long ? "" : url);
	hsi_query_init(&c->q, NULL);
	hsi_body_init(&c->body, 0);
	if (conn != NULL) {
		client_address(c);
	}
	return c;
}

void
hsi_call_release_db(hsi_call *c)
{
	if (c->db != NULL) {
		hsi_pool_release(c->srv->pool, c->db_slot);
		c->db      = NULL;
		c->db_slot = -1;
	}
}

void
hsi_call_free(hsi_call *c)
{
	if (c == NULL) {
		return;
	}
	hsi_call_release_db(c);
	hsi_body_fini(&c->body);
	free(c);
}

const hsi_server *
hsi_call_server(const hsi_call *c)
{
	return c->srv;
}

const char *
hsi_call_method(const hsi_call *c)
{
	return c->method;
}

const char *
hsi_call_path(const hsi_call *c)
{
	return c->path;
}

const char *
hsi_call_header(const hsi_call *c, const char *name)
{
	return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

const hsi_principal *
hsi_call_principal(const hsi_call *c)
{
	return &c->who;
}

hsi_format
hsi_call_format(const hsi_call *c)
{
	return c->format;
}

const hsi_qvalue *
hsi_call_value(const hsi_call *c, const char *name)
{
	return hsi_query_get(&c->q, name);
}

const char *
hsi_call_text(const hsi_call *c, const char *name)
{
	return hsi_query_text(&c->q, name);
}

long long
hsi_call_int(const hsi_call *c, const char *name, long long def)
{
	return hsi_query_int(&c->q, name, def);
}

const hsi_query *
hsi_call_query(const hsi_call *c)
{
	return &c->q;
}

struct MHD_Connection *
hsi_call_connection(hsi_call *c)
{
	return c->conn;
}

int
hsi_call_db(hsi_call *c, PGconn **db)
{
	if (c->db == NULL) {
		c->db = hsi_pool_acquire(c->srv->pool, &c->db_slot);
		if (c->db == NULL) {
			c->db_slot = -1;
			hsi_reply_unavailable(c);
			return HSI_EDB;
		}
	}
	*db = c->db;
	return 0;
}

int
hsi_call_run(hsi_call *c, int (*fn)(PGconn *db, void *arg), void *arg)
{
	PGconn *db;
	int     rv = hsi_call_db(c, &db);
	if (rv != 0) {
		return rv;
	}
	rv = fn(db, arg);
	if (rv == HSI_EDB && hsi_pool_recover(db)) {
		rv = fn(db, arg);
	}
	if (rv == HSI_EDB) {
		hsi_reply_unavailable(c);
	}
	return rv;
}

typedef struct {
	const char        *what, *sql;
	int                n;
	const char *const *params;
	PGresult          *res;
} sql_args;

static int
run_sql(PGconn *db, void *arg)
{
	sql_args *a = arg;
	a->res      = hsi_db_query(db, a->what, a->sql, a->n, a->params);
	return a->res != NULL               ? 0
	    : PQstatus(db) != CONNECTION_OK ? HSI_EDB
	                                    : HSI_EINVAL;
}

PGresult *
hsi_call_sql(hsi_call *c, const char *what, const char *sql, int n,
    const char *const *params)
{
	sql_args a  = { what, sql, n, params, NULL };
	int      rv = hsi_call_run(c, run_sql, &a);
	if (rv == HSI_EINVAL) {
		hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "Internal error",
		    "the server failed to read the data (logged); try again, "
		    "and tell the operators if it persists");
	}
	return a.res;
}

int
hsi_call_authenticate(hsi_call *c)
{
	const char *h = hsi_call_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	PGconn     *db;
	if (h == NULL || c->who.role != HSI_ROLE_ANON) {
		return 0;
	}
	int rv = hsi_call_db(c, &db);
	if (rv != 0) {
		return rv;
	}
	rv = hsi_auth_lookup(db, h, &c->who);
	if (rv == HSI_EDB && hsi_pool_recover(db)) {
		rv = hsi_auth_lookup(db, h, &c->who);
	}
	if (rv == HSI_EDB) {
		hsi_reply_unavailable(c);
	}
	return rv;
}

/* The scope a cursor is tagged for: path and filters, not page size. */
static int
cursor_scope(const hsi_call *c, char *out, size_t size)
{
	int n = snprintf(
	    out, size, "%s %s?", c->route ? c->route->pattern : "", c->path);
	if (n < 0 || (size_t) n >= size) {
		return HSI_ETOOBIG;
	}
	return hsi_query_canon(&c->q, 1, out + n, size - (size_t) n);
}

int
hsi_call_cursor(hsi_call *c, hsi_cursor *out)
{
	char        scope[HSI_QUERY_MAX_BYTES + HSI_CALL_PATH_MAX + 256];
	char        detail[400];
	const char *text = hsi_call_text(c, "cursor");
	hsi_cursor_init(out);
	if (text == NULL) {
		return 0;
	}
	if (cursor_scope(c, scope, sizeof(scope)) != 0
	    || hsi_cursor_decode(&c->srv->cursor_key, scope, text, out, detail,
	           sizeof(detail))
	        != 0) {
		hsi_problem p = { .status = MHD_HTTP_BAD_REQUEST,
			.slug             = "invalid-cursor",
			.title            = "Invalid cursor",
			.detail           = detail,
			.parameter        = "cursor" };
		if (text[0] == '\0') {
			snprintf(detail, sizeof(detail), "empty cursor");
		}
		hsi_reply_problem_ex(c, &p, NULL);
		return HSI_EINVAL;
	}
	return 0;
}

int
hsi_call_cursor_text(
    hsi_call *c, const hsi_cursor *next, char *out, size_t size)
{
	char scope[HSI_QUERY_MAX_BYTES + HSI_CALL_PATH_MAX + 256];
	int  rv = cursor_scope(c, scope, sizeof(scope));
	return rv
	    ? rv
	    : hsi_cursor_encode(&c->srv->cursor_key, scope, next, out, size);
}

int
hsi_call_limit(const hsi_call *c)
{
	return (int) hsi_call_int(c, "limit", HSI_PAGE_DEFAULT);
}

int
hsi_call_body(hsi_call *c, const char **data, size_t *len)
{
	*data = c->body.data ? c->body.data : "";
	*len  = c->body.len;
	return 0;
}

static int
is_json_type(const char *type)
{
	size_t n = type ? strcspn(type, "; \t") : 0;
	return n == 16 && strncasecmp(type, "application/json", 16) == 0;
}

int
hsi_call_body_problem(hsi_call *c, const hsi_body_err *e)
{
	static const struct {
		const char *slug, *title;
	} titles[]    = { { "invalid-json", "Malformed JSON" },
		   { "too-deep", "JSON nested too deeply" },
		   { "unknown-field", "Unknown field" },
		   { "missing-field", "Missing field" },
		   { "wrong-type", "Wrong type" },
		   { "too-long", "Value too long" } };
	hsi_problem p = { .status = MHD_HTTP_BAD_REQUEST,
		.slug             = e->slug,
		.title            = "Invalid request body",
		.detail           = e->detail,
		.field            = e->field[0] ? e->field : NULL,
		.line             = e->line,
		.column           = e->column };
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
		if (strcmp(titles[i].slug, e->slug) == 0) {
			p.title = titles[i].title;
		}
	}
	int rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

int
hsi_call_body_json(hsi_call *c, const hsi_jfield *fields, json_t **out)
{
	hsi_body_err e;
	json_t      *root = NULL;
	if (!is_json_type(hsi_call_header(c, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		int rv = hsi_reply_problem(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported-media-type", "Unsupported media type",
		    "send the body as JSON with Content-Type: "
		    "application/json");
		return rv ? rv : HSI_EINVAL;
	}
	int rv = hsi_body_json(
	    c->body.data ? c->body.data : "", c->body.len, 0, &root, &e);
	if (rv == HSI_ENOMEM) {
		return rv;
	}
	if (rv != 0 || (rv = hsi_body_check(root, fields, &e)) != 0) {
		json_decref(root);
		return hsi_call_body_problem(c, &e);
	}
	*out = root;
	return 0;
}
