/*
 * reply.c: responses of hsi-api (see reply.h).
 *
 * Problem bodies are built with jansson, so client input quoted in a
 * detail is escaped properly; callers still pass it through
 * hsi_text_shown first, since jansson refuses invalid UTF-8 (we then
 * answer without the detail rather than drop the connection).
 */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call_int.h"
#include "csvout.h"
#include "error.h"
#include "log.h"
#include "text.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define CSV_TYPE "text/csv; charset=utf-8; header=present"
#define CANON_MAX (4 * HSI_QUERY_MAX_BYTES + 1024)
#define LINK_MAX (HSI_CALL_PATH_MAX * 3 + CANON_MAX + HSI_CURSOR_TEXT_MAX + 64)

int
hsi_reply_queue(hsi_call *c, unsigned status, struct MHD_Response *resp)
{
	if (c->status != 0) {
		/* Answered already: a handler bug, but the first answer
		 * stands. */
		hsi_log_error("second response refused", "{s:s, s:i}", "path",
		    c->path, "status", (int) status);
		if (resp != NULL) {
			MHD_destroy_response(resp);
		}
		return HSI_ESTATE;
	}
	if (resp == NULL) {
		c->queue_failed = 1;
		return HSI_ENOMEM;
	}
	enum MHD_Result rv = MHD_queue_response(c->conn, status, resp);
	MHD_destroy_response(resp);
	if (rv != MHD_YES) {
		c->queue_failed = 1;
		return HSI_ENOMEM;
	}
	c->status = status;
	return 0;
}

static json_t *
problem_json(const hsi_problem *p)
{
	char type[128];
	snprintf(type, sizeof(type), "%s%s", HSI_PROBLEM_BASE, p->slug);
	json_t *j = json_pack("{s:s, s:s, s:i}", "type", type, "title",
	    p->title, "status", (int) p->status);
	if (j == NULL) {
		return NULL;
	}
	/* json_string refuses invalid UTF-8: a member is then left out. */
	json_object_set_new(j, "detail", json_string(p->detail));
	if (p->parameter != NULL) {
		json_object_set_new(j, "parameter", json_string(p->parameter));
	}
	if (p->field != NULL) {
		json_object_set_new(j, "field", json_string(p->field));
	}
	if (p->row > 0) {
		json_object_set_new(j, "row", json_integer(p->row));
	}
	if (p->line > 0) {
		json_object_set_new(j, "line", json_integer(p->line));
		json_object_set_new(j, "column", json_integer(p->column));
	}
	if (p->errors != NULL) {
		json_object_set(j, "errors", p->errors);
	}
	if (p->checks != NULL) {
		json_object_set(j, "checks", p->checks);
	}
	return j;
}

int
hsi_reply_problem_ex(
    hsi_call *c, const hsi_problem *p, const char *const *headers)
{
	json_t *j    = problem_json(p);
	char   *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL) {
		return hsi_reply_queue(c, p->status, NULL);
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return hsi_reply_queue(c, p->status, NULL);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/problem+json; charset=utf-8");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	for (int i = 0; headers != NULL && headers[i] != NULL; i += 2) {
		MHD_add_response_header(resp, headers[i], headers[i + 1]);
	}
	return hsi_reply_queue(c, p->status, resp);
}

int
hsi_reply_problem(hsi_call *c, unsigned status, const char *slug,
    const char *title, const char *detail)
{
	hsi_problem p = { .status = status,
		.slug             = slug,
		.title            = title,
		.detail           = detail };
	return hsi_reply_problem_ex(c, &p, NULL);
}

int
hsi_reply_unavailable(hsi_call *c)
{
	static const char *const h[]
	    = { MHD_HTTP_HEADER_RETRY_AFTER, "5", NULL };
	hsi_problem p = { .status = MHD_HTTP_SERVICE_UNAVAILABLE,
		.slug             = "unavailable",
		.title            = "Service unavailable",
		.detail           = "the database cannot be reached right now "
		                    "and nothing was changed; retry in a few "
		                    "seconds, with backoff" };
	return hsi_reply_problem_ex(c, &p, h);
}

static void
cache_headers(hsi_call *c, struct MHD_Response *resp, const char *etag)
{
	if (etag != NULL) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    c->srv->public_reads ? "no-cache" : "private, no-cache");
	} else {
		/* Nothing to revalidate against (live lists): never stored. */
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	if (c->route != NULL && (c->route->flags & HSI_ROUTE_CSV)) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept");
	}
}

int
hsi_reply_not_modified(hsi_call *c, const char *etag)
{
	struct MHD_Response *resp
	    = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp != NULL) {
		cache_headers(c, resp, etag);
	}
	return hsi_reply_queue(c, MHD_HTTP_NOT_MODIFIED, resp);
}

/* The tag to send: etag, or one made from the bytes for HSI_ETAG_AUTO,
 * with suffix for a second representation. NULL: no tag. */
static const char *
final_etag(const char *etag, const char *body, size_t len, const char *suffix,
    char *buf)
{
	if (etag == NULL) {
		return NULL;
	}
	if (etag[0] == '\0') {
		hsi_etag_of(body, len, buf);
		return buf; /* the bytes differ per format already */
	}
	if (suffix != NULL && hsi_etag_variant(etag, suffix, buf) == 0) {
		return buf;
	}
	snprintf(buf, HSI_ETAG_MAX, "%s", etag);
	return buf;
}

static int
conditional(const hsi_call *c, unsigned status, const char *etag)
{
	return etag != NULL && status == MHD_HTTP_OK
	    && (strcmp(c->method, "GET") == 0
	        || strcmp(c->method, "HEAD") == 0)
	    && hsi_etag_match(
	        hsi_call_header(c, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
}

/* Queues body (copied) as type, or 304 when the tag matches. */
static int
send_body(hsi_call *c, unsigned status, const char *body, size_t len,
    const char *type, const char *etag)
{
	if (conditional(c, status, etag)) {
		return hsi_reply_not_modified(c, etag);
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp != NULL) {
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
		cache_headers(c, resp, etag);
	}
	return hsi_reply_queue(c, status, resp);
}

int
hsi_reply_json_text(hsi_call *c, unsigned status, const char *body, size_t len,
    const char *etag)
{
	char buf[HSI_ETAG_MAX];
	return send_body(c, status, body, len, JSON_TYPE,
	    final_etag(etag, body, len, NULL, buf));
}

int
hsi_reply_json(hsi_call *c, unsigned status, json_t *body, const char *etag)
{
	char *s = body
	    ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17))
	    : NULL;
	json_decref(body);
	if (s == NULL) {
		return hsi_reply_queue(c, status, NULL);
	}
	int rv = hsi_reply_json_text(c, status, s, strlen(s), etag);
	free(s);
	return rv;
}

/* Link: <path?query&cursor=...>; rel="next" into out. */
static int
next_link(hsi_call *c, const char *cursor, char *out, size_t size)
{
	char query[CANON_MAX];
	snprintf(out, size, "<");
	if (hsi_text_urlencode(out, size, c->path, 1) != 0
	    || hsi_query_canon(&c->q, 0, query, sizeof(query)) != 0) {
		return HSI_ETOOBIG;
	}
	size_t n = strlen(out);
	int    w = snprintf(out + n, size - n, "?%s%scursor=%s>; rel=\"next\"",
	       query, query[0] ? "&" : "", cursor);
	return w < 0 || (size_t) w >= size - n ? HSI_ETOOBIG : 0;
}

static int
page_body(hsi_call *c, json_t *items, const char *cursor,
    const char *const *columns, char **body, size_t *len)
{
	if (c->format == HSI_FMT_CSV && columns != NULL) {
		return hsi_csvout_items(items, columns, body, len);
	}
	json_t *j
	    = json_pack("{s:O, s:s?}", "items", items, "next_cursor", cursor);
	*body
	    = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	*len = *body ? strlen(*body) : 0;
	return *body ? 0 : HSI_ENOMEM;
}

static int
send_page(hsi_call *c, const char *body, size_t len, const char *link,
    const char *etag)
{
	char        buf[HSI_ETAG_MAX];
	int         csv = c->format == HSI_FMT_CSV;
	const char *tag = final_etag(etag, body, len, csv ? "csv" : NULL, buf);
	if (conditional(c, MHD_HTTP_OK, tag)) {
		return hsi_reply_not_modified(c, tag);
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp != NULL) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    csv ? CSV_TYPE : JSON_TYPE);
		cache_headers(c, resp, tag);
		if (link != NULL) {
			MHD_add_response_header(
			    resp, MHD_HTTP_HEADER_LINK, link);
		}
	}
	return hsi_reply_queue(c, MHD_HTTP_OK, resp);
}

int
hsi_reply_page(hsi_call *c, json_t *items, const hsi_cursor *next,
    const char *const *columns, const char *etag)
{
	char   cursor[HSI_CURSOR_TEXT_MAX], *body = NULL, *link = NULL;
	size_t len = 0;
	int    rv  = 0;
	if (next != NULL && next->n > 0) {
		link = malloc(LINK_MAX);
		if (link == NULL
		    || (rv = hsi_call_cursor_text(
		            c, next, cursor, sizeof(cursor)))
		        != 0
		    || (rv = next_link(c, cursor, link, LINK_MAX)) != 0) {
			hsi_log_error(
			    "next page link", "{s:s}", "path", c->path);
			rv = link ? rv : HSI_ENOMEM;
			goto out;
		}
	}
	rv = page_body(c, items, link ? cursor : NULL, columns, &body, &len);
	if (rv == 0) {
		rv = send_page(c, body, len, link, etag);
	}
out:
	if (rv != 0 && c->status == 0 && !c->queue_failed) {
		rv = hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "Internal error",
		    rv == HSI_ETOOBIG ? "the page is too large to send: ask "
		                        "for fewer items with limit"
		                      : "the server ran out of memory; try "
		                        "again");
		rv = rv ? rv : HSI_ENOMEM;
	}
	json_decref(items);
	free(body);
	free(link);
	return rv;
}

int
hsi_reply_file(hsi_call *c, int fd, uint64_t size, const char *content_type)
{
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
	if (resp == NULL) {
		close(fd);
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return hsi_reply_queue(c, MHD_HTTP_OK, resp);
}
