/*
 * reply.h: answering an hsi_call. Errors are RFC 9457 problem details
 * (application/problem+json) with a stable type (HSI_PROBLEM_BASE +
 * slug, listed in docs/api-internals.md), a title, the status, a detail
 * that says what was wrong and what to do, and, where they apply, the
 * query or path parameter, the body field (a JSON pointer), the row of
 * an uploaded table, and the line and column of a JSON syntax error.
 *
 * Successful reads go through hsi_reply_json / hsi_reply_page, which set
 * a strong ETag, answer 304 when If-None-Match matches it, and set
 * Cache-Control (no-cache: revalidate each time; private as well when
 * reads need a token). Every function returns 0 once the response
 * asked for is queued; non-zero when it could not be: a 500 problem went
 * out instead (the page was too large), or nothing at all (out of memory:
 * the connection is closed). Either way the handler just returns it.
 */
#ifndef HSI_API_REPLY_H
#define HSI_API_REPLY_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "cursor.h"

/* Base of the problem type URIs. */
#define HSI_PROBLEM_BASE "https://hsi.example/problems/"

/* As etag: make a strong ETag from the body's bytes. */
#define HSI_ETAG_AUTO ""

/* One problem. Only status, slug, title and detail are required; 0 and
 * NULL members are left out of the answer. */
typedef struct {
	unsigned    status;
	const char *slug;      /* stable: "invalid-parameter" */
	const char *title;     /* short, the same for every use of slug */
	const char *detail;    /* what was wrong, and what to do */
	const char *parameter; /* query or path parameter */
	const char *field;     /* JSON pointer into the request body */
	long        row;       /* 1-based row of an uploaded table */
	int         line;      /* 1-based position of a syntax error */
	int         column;
	json_t     *errors; /* ProblemItem array (borrowed), e.g. the
	                     * invalid rows of a submission */
	json_t *checks;     /* readiness checks object (borrowed) */
} hsi_problem;

/* Queues problem p, with extra headers (NULL, or name/value pairs ending
 * in NULL: { "Allow", "GET, HEAD", NULL }). */
int hsi_reply_problem_ex(
    hsi_call *c, const hsi_problem *p, const char *const *headers);

/* hsi_reply_problem_ex without the optional members and headers. */
int hsi_reply_problem(hsi_call *c, unsigned status, const char *slug,
    const char *title, const char *detail);

/* 503 "unavailable": the database cannot be reached. */
int hsi_reply_unavailable(hsi_call *c);

/*
 * Queues len bytes of JSON text (copied). etag: NULL (none),
 * HSI_ETAG_AUTO (from the bytes) or a quoted tag ("\"m1-s5\""). With a
 * tag, a GET or HEAD whose If-None-Match matches gets 304 instead.
 */
int hsi_reply_json_text(hsi_call *c, unsigned status, const char *body,
    size_t len, const char *etag);

/* hsi_reply_json_text of body, dumped compact with 17 significant digits;
 * body is stolen (decref'd), success or not. */
int hsi_reply_json(
    hsi_call *c, unsigned status, json_t *body, const char *etag);

/*
 * A page of a listing (items is stolen): JSON {"items":[...],
 * "next_cursor":"..." or null}, or, when the call's format is CSV, the
 * items as CSV under columns (required for HSI_ROUTE_CSV routes; dotted
 * paths reach into nested objects). With next (the sort key of the last
 * item sent, when there may be more), next_cursor is encoded for this
 * listing and a Link: <...>; rel="next" header points at the next page.
 * etag as for hsi_reply_json_text (a CSV answer gets its own tag).
 */
int hsi_reply_page(hsi_call *c, json_t *items, const hsi_cursor *next,
    const char *const *columns, const char *etag);

/* 304 Not Modified with etag and Cache-Control. */
int hsi_reply_not_modified(hsi_call *c, const char *etag);

/* A file: on return MHD owns fd, success or not. */
int hsi_reply_file(
    hsi_call *c, int fd, uint64_t size, const char *content_type);

/* Queues resp (which may be NULL: out of memory) and destroys it: for
 * responses the helpers do not build (streams). */
int hsi_reply_queue(hsi_call *c, unsigned status, struct MHD_Response *resp);

#endif
