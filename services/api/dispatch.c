/*
 * dispatch.c: the request pipeline of hsi-api (see dispatch.h).
 *
 * Refusals come as early as the information allows and in an order that
 * leaks least: a caller without a valid token learns that, not whether
 * its query was right; rate limiting comes before the access check, so
 * guessing tokens costs an anonymous caller its quota too.
 *
 * A body that grows past its limit mid-upload (chunked) cannot be
 * answered then: libmicrohttpd queues responses only before the body or
 * after it. The rest is counted and dropped, and 413 goes out after the
 * last byte; past twice the limit the connection is simply closed.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "call_int.h"
#include "error.h"
#include "log.h"
#include "reply.h"
#include "text.h"

long long
hsi_dispatch_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result
result(hsi_call *c)
{
	return c->status != 0 ? MHD_YES : MHD_NO;
}

static enum MHD_Result
count_length(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void) kind;
	(void) value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		(*(int *) cls)++;
	}
	return MHD_YES;
}

/* Two lengths, or a length and chunking, is how requests are smuggled
 * past proxies: refused outright. 1 when refused. */
static int
refuse_framing(hsi_call *c)
{
	int n = 0;
	MHD_get_connection_values(c->conn, MHD_HEADER_KIND, count_length, &n);
	if (n > 1
	    || (n == 1
	        && hsi_call_header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING))) {
		hsi_reply_problem(c, MHD_HTTP_BAD_REQUEST, "bad-request",
		    "Bad request",
		    "conflicting Content-Length/Transfer-Encoding headers: "
		    "send one Content-Length, or chunked encoding alone");
		return 1;
	}
	return 0;
}

/* 1 if the request announces a body. */
static int
has_body(const hsi_call *c)
{
	const char *cl = hsi_call_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return hsi_call_header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL
	    || (cl != NULL && strcmp(cl, "0") != 0);
}

static void
refuse_too_large(hsi_call *c, size_t max)
{
	char detail[300];
	snprintf(detail, sizeof(detail),
	    "the body is over %zu bytes, the most %.16s %.100s takes: split "
	    "it into several requests",
	    max, c->method, c->route ? c->route->pattern : "this path");
	hsi_reply_problem(c, MHD_HTTP_CONTENT_TOO_LARGE, "payload-too-large",
	    "Request body too large", detail);
}

/* slug no-route: no operation has this path; not-found: no such file. */
static void
not_found(hsi_call *c, const char *slug)
{
	char text[HSI_SHOWN_MAX + 4], detail[300];
	hsi_text_shown(text, sizeof(text), c->path, strlen(c->path));
	snprintf(detail, sizeof(detail),
	    "nothing at %s; the API is under /v1/ (e.g. "
	    "/v1/index?period=2024): check the path against openapi.yaml",
	    text);
	hsi_reply_problem(c, MHD_HTTP_NOT_FOUND, slug,
	    strcmp(slug, "no-route") == 0 ? "No such path" : "Not found",
	    detail);
}

static void
not_allowed(hsi_call *c, const char *allow)
{
	char detail[200], text[HSI_SHOWN_MAX + 4];
	hsi_text_shown(text, sizeof(text), c->path, strlen(c->path));
	snprintf(detail, sizeof(detail), "%s takes %s only", text, allow);
	const char *const h[] = { MHD_HTTP_HEADER_ALLOW, allow, NULL };
	hsi_problem       p   = { .status = MHD_HTTP_METHOD_NOT_ALLOWED,
		        .slug             = "method-not-allowed",
		        .title            = "Method not allowed",
		        .detail           = detail };
	hsi_reply_problem_ex(c, &p, h);
}

/* No route: 404 under /v1, else a static file for GET and HEAD. */
static void
no_route(hsi_call *c)
{
	int         fd;
	uint64_t    size;
	const char *type;
	if (c->match.kind == HSI_MATCH_METHOD) {
		not_allowed(c, c->match.allow);
	} else if (strncmp(c->path, "/v1/", 4) == 0
	    || strcmp(c->path, "/v1") == 0) {
		not_found(c, "no-route");
	} else if (strcmp(c->method, "GET") != 0
	    && strcmp(c->method, "HEAD") != 0) {
		not_allowed(c, "GET, HEAD");
	} else if (c->srv->files == NULL
	    || hsi_files_lookup(c->srv->files, c->path, &fd, &size, &type)
	        != 0) {
		not_found(c, "not-found");
	} else {
		hsi_reply_file(c, fd, size, type);
	}
}

static void
unauthorized(hsi_call *c, const char *why)
{
	const char *const h[]
	    = { MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer", NULL };
	hsi_problem p = { .status = MHD_HTTP_UNAUTHORIZED,
		.slug             = "unauthorized",
		.title            = "Unauthorized",
		.detail           = why };
	hsi_reply_problem_ex(c, &p, h);
}

/* 1 when refused (429). */
static int
rate_limited(hsi_call *c)
{
	char key[HSI_RATELIMIT_KEY_MAX + 1], secs[16], detail[200];
	int  retry;
	if (c->who.role != HSI_ROLE_ANON) {
		snprintf(key, sizeof(key), "t:%lld", c->who.token_id);
	} else {
		snprintf(key, sizeof(key), "ip:%.60s", c->addr);
	}
	if (hsi_ratelimit_take(
	        c->srv->limiter, key, hsi_dispatch_now_ms(), &retry)
	    == 0) {
		return 0;
	}
	snprintf(secs, sizeof(secs), "%d", retry);
	snprintf(detail, sizeof(detail),
	    "too many requests from this %s: retry after %d s (see "
	    "Retry-After), and spread requests out",
	    c->who.role != HSI_ROLE_ANON ? "token" : "address", retry);
	const char *const h[] = { MHD_HTTP_HEADER_RETRY_AFTER, secs, NULL };
	hsi_problem       p   = { .status = MHD_HTTP_TOO_MANY_REQUESTS,
		        .slug             = "rate-limited",
		        .title            = "Too many requests",
		        .detail           = detail };
	hsi_reply_problem_ex(c, &p, h);
	return 1;
}

/* Token, rate limit, access. 1 when refused. */
static int
check_caller(hsi_call *c)
{
	const hsi_route *r = c->route;
	if (r->access == HSI_ACCESS_OPEN) {
		return 0;
	}
	int rv = hsi_call_authenticate(c);
	if (rv == HSI_EDB) {
		return 1;
	}
	if (!(r->flags & HSI_ROUTE_NO_LIMIT) && rate_limited(c)) {
		return 1;
	}
	if (rv == HSI_EAUTH) {
		unauthorized(c, HSI_AUTH_REFUSED);
		return 1;
	}
	unsigned st
	    = hsi_auth_allows(&c->who, r->access, c->srv->public_reads);
	if (st == MHD_HTTP_UNAUTHORIZED) {
		unauthorized(c,
		    "this request needs a token: send "
		    "Authorization: Bearer <token>");
	} else if (st != 0) {
		char        detail[200];
		const char *role = hsi_auth_role_name(c->who.role);
		snprintf(detail, sizeof(detail),
		    "%s %s token cannot do this: %s needs %s",
		    role[0] != '\0' && strchr("aeiou", role[0]) != NULL ? "an"
		                                                        : "a",
		    role, r->pattern,
		    r->access == HSI_ACCESS_ADMIN
		        ? "an admin token"
		        : "an agency or admin token");
		hsi_reply_problem(
		    c, MHD_HTTP_FORBIDDEN, "forbidden", "Forbidden", detail);
	}
	return st != 0;
}

static int
negotiate(hsi_call *c)
{
	const char *accept = hsi_call_header(c, MHD_HTTP_HEADER_ACCEPT);
	int         csv    = (c->route->flags & HSI_ROUTE_CSV) != 0;
	if ((c->route->flags & HSI_ROUTE_ANY_ACCEPT)
	    || hsi_negotiate_format(accept, csv, &c->format) == 0) {
		return 0;
	}
	hsi_reply_problem(c, MHD_HTTP_NOT_ACCEPTABLE, "not-acceptable",
	    "Not acceptable",
	    csv ? "this endpoint answers application/json or text/csv: "
	          "accept one of them"
	        : "this endpoint answers application/json only: accept it "
	          "(or */*)");
	return 1;
}

typedef struct {
	hsi_query     *q;
	hsi_query_err *err;
	int            rv;
} collect;

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	collect *a = cls;
	(void) kind;
	a->rv = hsi_query_add(a->q, key, key_size, value, value_size, a->err);
	return a->rv == 0 ? MHD_YES : MHD_NO;
}

static void
refuse_query(hsi_call *c, const hsi_query_err *e)
{
	static const struct {
		const char *slug, *title;
	} titles[]    = { { "unknown-parameter", "Unknown query parameter" },
		   { "duplicate-parameter", "Duplicate query parameter" },
		   { "missing-parameter", "Missing query parameter" },
		   { "query-too-large", "Query too large" } };
	hsi_problem p = { .status = e->status,
		.slug             = e->slug,
		.title            = "Invalid query parameter",
		.detail           = e->detail,
		.parameter        = e->param[0] ? e->param : NULL };
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
		if (strcmp(titles[i].slug, e->slug) == 0) {
			p.title = titles[i].title;
		}
	}
	hsi_reply_problem_ex(c, &p, NULL);
}

/* Path placeholders, then the query. 1 when refused. */
static int
parse_values(hsi_call *c)
{
	hsi_query_err e;
	collect       a = { &c->q, &e, 0 };
	hsi_query_init(&c->q, c->route->query);
	for (int i = 0; i < c->match.n_params; i++) {
		const hsi_path_param *pp = &c->match.param[i];
		const hsi_qparam     *d
		    = hsi_router_param_decl(c->route, pp->name, pp->name_len);
		if (hsi_query_set(&c->q, d, pp->value, pp->value_len, &e)
		    != 0) {
			refuse_query(c, &e);
			return 1;
		}
	}
	if (!(c->route->flags & HSI_ROUTE_ANY_QUERY)) {
		MHD_get_connection_values_n(
		    c->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
		if (a.rv != 0 || hsi_query_finish(&c->q, &e) != 0) {
			refuse_query(c, &e);
			return 1;
		}
	}
	return 0;
}

/* Everything before the handler. 1 when answered (refused or static). */
static int
prepare(hsi_call *c)
{
	c->prepared = 1;
	if (c->route == NULL) {
		no_route(c);
		return 1;
	}
	return check_caller(c) || negotiate(c) || parse_values(c);
}

static enum MHD_Result
run_handler(hsi_call *c)
{
	int rv = c->route->handler(c);
	hsi_call_release_db(c);
	if (c->status == 0 && !c->queue_failed) {
		hsi_log_error("handler gave no answer", "{s:s, s:s, s:i}",
		    "method", c->method, "route", c->route->pattern, "rv", rv);
		hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "Internal error",
		    "the server could not answer (logged); tell the "
		    "operators if it persists");
	}
	return result(c);
}

/* Content-Length over max: refuse before reading. 1 when refused. */
static int
announced_too_large(hsi_call *c, size_t max)
{
	const char *cl = hsi_call_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL || strspn(cl, "0123456789") != strlen(cl)
	    || strlen(cl) > 18 || strtoull(cl, NULL, 10) <= max) {
		return 0;
	}
	refuse_too_large(c, max);
	return 1;
}

/* The first call: everything that must be said before a body. */
static enum MHD_Result
first_call(hsi_call *c)
{
	if (refuse_framing(c)) {
		return result(c);
	}
	if (c->path_too_long) {
		hsi_reply_problem(c, MHD_HTTP_URI_TOO_LONG, "uri-too-long",
		    "URI too long",
		    "the path is too long: no resource has one");
		return result(c);
	}
	hsi_router_match(c->srv->routes, c->method, c->path, &c->match);
	c->route = c->match.route;
	if (c->route != NULL && c->route->body_max_bytes > 0) {
		hsi_body_init(&c->body, c->route->body_max_bytes);
		int refused = announced_too_large(c, c->route->body_max_bytes)
		    || prepare(c);
		/* A slow upload must not hold one of the few connections
		 * the token check took: the handler takes one again. */
		hsi_call_release_db(c);
		return refused ? result(c) : MHD_YES; /* the body follows */
	}
	if (!has_body(c)) {
		return MHD_YES; /* answer on the next call */
	}
	if (c->route == NULL) {
		no_route(c);
	} else {
		hsi_reply_problem(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body-not-allowed", "Request body not allowed",
		    "this request takes no body; send the parameters in the "
		    "query string");
	}
	return result(c);
}

static enum MHD_Result
upload(hsi_call *c, const char *data, size_t *size)
{
	int rv = hsi_body_append(&c->body, data, *size);
	*size  = 0;
	if (rv == HSI_ENOMEM || c->body.over_bytes > c->body.max_bytes) {
		hsi_log_warn("request body refused", "{s:s, s:s}", "path",
		    c->path, "why",
		    rv == HSI_ENOMEM ? "out of memory" : "far over the limit");
		return MHD_NO;
	}
	return MHD_YES;
}

enum MHD_Result
hsi_dispatch(const hsi_server *srv, struct MHD_Connection *conn,
    const char *url, const char *method, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	hsi_call *c = *con_cls;
	if (c == NULL) {
		if ((c = hsi_call_alloc(srv, conn, method, url)) == NULL) {
			return MHD_NO;
		}
		*con_cls = c;
		return first_call(c);
	}
	if (c->status != 0) {
		*upload_data_size = 0; /* answered already; drop the rest */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		return upload(c, upload_data, upload_data_size);
	}
	if (!c->prepared && prepare(c)) {
		return result(c);
	}
	if (c->body.over_bytes > 0) {
		refuse_too_large(c, c->body.max_bytes);
		return result(c);
	}
	return run_handler(c);
}

void
hsi_dispatch_completed(void **con_cls, enum MHD_RequestTerminationCode toe)
{
	hsi_call *c = *con_cls;
	if (c == NULL) {
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ms = (double) (now.tv_sec - c->start.tv_sec) * 1e3
	    + (double) (now.tv_nsec - c->start.tv_nsec) / 1e6;
	hsi_log_debug("request", "{s:s, s:s, s:i, s:f, s:i, s:I}", "method",
	    c->method, "path", c->path, "status", (int) c->status, "ms", ms,
	    "termination", (int) toe, "token", (json_int_t) c->who.token_id);
	hsi_metrics_request(
	    c->srv->metrics, c->route, c->method, c->status, ms / 1e3);
	hsi_call_free(c);
	*con_cls = NULL;
}
