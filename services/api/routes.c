/*
 * routes.c: request handling for hsi-api (see routes.h).
 *
 * Every error is a problem+json answer that says what was wrong and what
 * to send instead; user input quoted in one is cut short and stripped of
 * control characters and invalid UTF-8 first, because it ends up in JSON.
 */
#include "routes.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "error.h"
#include "index.h"
#include "log.h"
#include "period.h"

#define SHOWN_MAX 60

typedef struct {
	const char *period;
	const char *methodology;
	const char *dup;     /* a parameter given twice */
	const char *unknown; /* the first unknown parameter */
} query;

/* Length of the valid UTF-8 sequence at u (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *u, size_t n)
{
	size_t len = u[0] < 0x80                    ? 1
	    : (u[0] & 0xE0) == 0xC0 && u[0] >= 0xC2 ? 2
	    : (u[0] & 0xF0) == 0xE0                 ? 3
	    : (u[0] & 0xF8) == 0xF0 && u[0] <= 0xF4 ? 4
	                                            : 0;
	if (len == 0 || len > n) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			return 0;
		}
	}
	return len;
}

/* Copies s for a message: valid printable UTF-8 as is, other bytes as
 * '?', at most SHOWN_MAX bytes then "...". */
static void
shown(char *dst, size_t size, const char *s)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t               n = strlen(s), out = 0;
	size_t               cap = size - 4 < SHOWN_MAX ? size - 4 : SHOWN_MAX;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(u + i, n - i);
		if (out + (l ? l : 1) > cap) {
			memcpy(dst + out, "...", 3);
			out += 3;
			break;
		}
		if (l > 1 || (l == 1 && u[i] >= 0x20 && u[i] < 0x7F)) {
			memcpy(dst + out, s + i, l);
			out += l;
		} else {
			dst[out++] = '?';
		}
		i += l ? l : 1;
	}
	dst[out] = '\0';
}

static enum MHD_Result
collect_arg(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	query       *q    = cls;
	const char **slot = strcmp(key, "period") == 0 ? &q->period
	    : strcmp(key, "methodology") == 0          ? &q->methodology
	                                               : NULL;
	(void) kind;
	if (slot == NULL) {
		q->unknown = q->unknown ? q->unknown : key;
	} else if (*slot != NULL) {
		q->dup = key;
	} else {
		*slot = value ? value : "";
	}
	return MHD_YES;
}

static int
parse_methodology(const char *s, int *out)
{
	char *end;
	long  v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || v < 1 || v > INT_MAX) {
		return HSI_EINVAL;
	}
	*out = (int) v;
	return 0;
}

/* Checks /v1/index's query; on error fills detail and param. */
static int
check_query(struct MHD_Connection *c, char *period, int *m, char *detail,
    size_t size, char *param, size_t psize)
{
	query          q = { NULL, NULL, NULL, NULL };
	char           text[SHOWN_MAX + 4];
	hsi_period     p;
	hsi_period_err perr;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
	const char *bad = q.unknown ? q.unknown : q.dup;
	if (bad != NULL) {
		shown(param, psize, bad);
		snprintf(detail, size,
		    q.unknown
		        ? "unknown query parameter '%s': /v1/index takes "
		          "period (required) and methodology (optional)"
		        : "query parameter '%s' is given more than once; "
		          "give it once",
		    param);
		return HSI_EINVAL;
	}
	snprintf(param, psize, "period");
	if (q.period == NULL) {
		snprintf(detail, size,
		    "query parameter 'period' is required: send e.g. "
		    "?period=2024 (Buddhist-era years such as 2567 and Thai "
		    "digits are accepted too)");
		return HSI_EINVAL;
	}
	if (hsi_period_parse(q.period, strlen(q.period), &p, &perr) != 0) {
		snprintf(detail, size,
		    "period is not valid: %s; send e.g. ?period=2024",
		    perr.msg);
		return HSI_EINVAL;
	}
	hsi_period_format(&p, period, HSI_PERIOD_MAX);
	*m = 0;
	if (q.methodology != NULL && parse_methodology(q.methodology, m)) {
		snprintf(param, psize, "methodology");
		shown(text, sizeof(text), q.methodology);
		snprintf(detail, size,
		    "methodology '%s' is not a methodology version: send a "
		    "whole number such as 1, or leave it out for the active "
		    "methodology",
		    text);
		return HSI_EINVAL;
	}
	return 0;
}

int
hsi_routes_etag_match(const char *inm, const char *etag)
{
	if (inm == NULL) {
		return 0;
	}
	size_t elen = strlen(etag);
	for (const char *p = inm; *p != '\0';) {
		p += strspn(p, " \t,");
		if (*p == '*') {
			return 1;
		}
		if (strncmp(p, "W/", 2) == 0) {
			p += 2;
		}
		size_t n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
			n--;
		}
		if (n == elen && strncmp(p, etag, n) == 0) {
			return 1;
		}
		p += strcspn(p, ",");
	}
	return 0;
}

typedef struct {
	char    *body;
	size_t   len;
	char     etag[HSI_ETAG_MAX];
	int      methodology; /* resolved; 0 when none is active */
	uint64_t gen;
} index_answer;

/* With a connection held: authorisation, the methodology, then the
 * body from the cache or the database. */
static int
load_index(const hsi_routes *rt, PGconn *db, hsi_req *r, const char *period,
    index_answer *a)
{
	int      rv;
	uint64_t seq;
	if (!rt->public_reads
	    && (rv = hsi_auth_check(db,
	            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                MHD_HTTP_HEADER_AUTHORIZATION)))
	        != 0) {
		return rv;
	}
	if (a->methodology == 0
	    && (rv = hsi_index_active_methodology(db, &a->methodology)) != 0) {
		return rv;
	}
	if (hsi_cache_get(
	        rt->cache, period, a->methodology, &a->body, &a->len, a->etag)
	    == 0) {
		return 0;
	}
	a->gen = hsi_cache_generation(rt->cache);
	if ((rv = hsi_index_build(
	         db, period, a->methodology, &a->body, &a->len, &seq))
	    != 0) {
		return rv;
	}
	snprintf(a->etag, sizeof(a->etag), "\"m%d-s%llu\"", a->methodology,
	    (unsigned long long) seq);
	hsi_cache_put(rt->cache, a->gen, period, a->methodology, a->body,
	    a->len, a->etag);
	return 0;
}

static enum MHD_Result
unavailable(hsi_req *r)
{
	return hsi_reply_problem(r, MHD_HTTP_SERVICE_UNAVAILABLE,
	    "unavailable", "Service unavailable",
	    "the database cannot be reached; try again shortly", NULL);
}

static enum MHD_Result
index_error(hsi_req *r, int rv, const char *period, int methodology)
{
	char detail[300];
	if (rv == HSI_EAUTH) {
		struct MHD_Response *resp = hsi_reply_problem_new(
		    MHD_HTTP_UNAUTHORIZED, "unauthorized", "Unauthorized",
		    "reads need a token: send Authorization: Bearer <token>",
		    NULL);
		if (resp != NULL) {
			MHD_add_response_header(
			    resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
		}
		return hsi_reply_queue(r, MHD_HTTP_UNAUTHORIZED, resp);
	}
	if (rv != HSI_ENOENT) {
		return unavailable(r);
	}
	if (methodology == 0) {
		snprintf(detail, sizeof(detail),
		    "no methodology has been activated yet, so there is no "
		    "index; activate one or pass methodology=N");
	} else {
		snprintf(detail, sizeof(detail),
		    "there are no scores for period %s under methodology %d",
		    period, methodology);
	}
	return hsi_reply_problem(
	    r, MHD_HTTP_NOT_FOUND, "not-found", "Not found", detail, NULL);
}

static enum MHD_Result
get_index(const hsi_routes *rt, hsi_req *r)
{
	char         period[HSI_PERIOD_MAX], detail[400], param[SHOWN_MAX + 4];
	index_answer a;
	int          slot, rv;
	memset(&a, 0, sizeof(a));
	if (check_query(r->conn, period, &a.methodology, detail,
	        sizeof(detail), param, sizeof(param))
	    != 0) {
		return hsi_reply_problem(r, MHD_HTTP_BAD_REQUEST,
		    "invalid-parameter", "Invalid query parameter", detail,
		    param);
	}
	PGconn *db = hsi_pool_acquire(rt->pool, &slot);
	if (db == NULL) {
		return unavailable(r);
	}
	int asked = a.methodology;
	rv        = load_index(rt, db, r, period, &a);
	if (rv == HSI_EDB && hsi_pool_recover(db)) {
		a.methodology = asked;
		rv            = load_index(rt, db, r, period, &a);
	}
	hsi_pool_release(rt->pool, slot);
	if (rv != 0) {
		return index_error(r, rv, period, a.methodology);
	}
	const char *inm = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	enum MHD_Result res = hsi_routes_etag_match(inm, a.etag)
	    ? hsi_reply_not_modified(r, a.etag)
	    : hsi_reply_json(r, MHD_HTTP_OK, a.body, a.len, a.etag);
	free(a.body);
	return res;
}

static int
select_one(PGconn *db)
{
	PGresult *res = PQexec(db, "SELECT 1");
	int       ok  = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok;
}

static enum MHD_Result
get_readyz(const hsi_routes *rt, hsi_req *r)
{
	int     slot;
	PGconn *db = hsi_pool_acquire(rt->pool, &slot);
	if (db == NULL) {
		return unavailable(r);
	}
	int ok = select_one(db) || (hsi_pool_recover(db) && select_one(db));
	hsi_pool_release(rt->pool, slot);
	if (!ok) {
		return unavailable(r);
	}
	static const char body[] = "{\"status\":\"ready\"}";
	return hsi_reply_json(r, MHD_HTTP_OK, body, sizeof(body) - 1, NULL);
}

static enum MHD_Result
not_found(hsi_req *r, const char *url)
{
	char text[SHOWN_MAX + 4], detail[200];
	shown(text, sizeof(text), url);
	snprintf(detail, sizeof(detail),
	    "nothing at %s; the API is under /v1/ (e.g. "
	    "/v1/index?period=2024)",
	    text);
	return hsi_reply_problem(
	    r, MHD_HTTP_NOT_FOUND, "not-found", "Not found", detail, NULL);
}

static enum MHD_Result
get_static(const hsi_routes *rt, hsi_req *r, const char *url)
{
	int         fd;
	uint64_t    size;
	const char *type;
	if (rt->files == NULL
	    || hsi_files_lookup(rt->files, url, &fd, &size, &type) != 0) {
		return not_found(r, url);
	}
	return hsi_reply_file(r, fd, size, type);
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

int
hsi_routes_has_body(const hsi_req *r)
{
	const char *cl = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	return te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
}

/* GET and HEAD carry no body here. Ambiguous framing (two lengths, or a
 * length and chunking) is refused outright: it is how requests are
 * smuggled past proxies. */
static enum MHD_Result
refuse_body(hsi_req *r, size_t upload_size, int *refused)
{
	int         n  = 0;
	const char *cl = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_length, &n);
	*refused = 1;
	if (n > 1 || (cl != NULL && te != NULL)) {
		return hsi_reply_problem(r, MHD_HTTP_BAD_REQUEST,
		    "bad-request", "Bad request",
		    "conflicting Content-Length/Transfer-Encoding headers",
		    NULL);
	}
	if (upload_size > 0 || hsi_routes_has_body(r)) {
		return hsi_reply_problem(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body-not-allowed", "Request body not allowed",
		    "GET and HEAD requests take no body; send the parameters "
		    "in the query string",
		    NULL);
	}
	*refused = 0;
	return MHD_YES;
}

enum MHD_Result
hsi_routes_dispatch(const hsi_routes *rt, hsi_req *r, const char *url,
    const char *method, size_t upload_size)
{
	int refused;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct MHD_Response *resp
		    = hsi_reply_problem_new(MHD_HTTP_METHOD_NOT_ALLOWED,
		        "method-not-allowed", "Method not allowed",
		        "only GET and HEAD are supported", NULL);
		if (resp != NULL) {
			MHD_add_response_header(
			    resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		}
		return hsi_reply_queue(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	enum MHD_Result res = refuse_body(r, upload_size, &refused);
	if (refused) {
		return res;
	}
	if (strcmp(url, "/healthz") == 0) {
		static const char body[] = "{\"status\":\"ok\"}";
		return hsi_reply_json(
		    r, MHD_HTTP_OK, body, sizeof(body) - 1, NULL);
	}
	if (strcmp(url, "/readyz") == 0) {
		return get_readyz(rt, r);
	}
	if (strcmp(url, "/v1/index") == 0) {
		return get_index(rt, r);
	}
	if (strncmp(url, "/v1/", 4) == 0 || strcmp(url, "/v1") == 0) {
		return not_found(r, url);
	}
	return get_static(rt, r, url);
}
