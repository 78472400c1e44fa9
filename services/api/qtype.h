/*
 * qtype.h: what a value of each query parameter type may look like
 * (qtype.c), for query.c only; endpoints use query.h.
 */
#ifndef HSI_API_QTYPE_H
#define HSI_API_QTYPE_H

#include <stdarg.h>
#include <stddef.h>

#include "query.h"

/*
 * Checks the vlen bytes of s against p and fills v (text, len and the
 * typed fields; copies live in q's arena). Returns 0, or HSI_EINVAL /
 * HSI_ETOOBIG with err (invalid-parameter, query-too-large).
 */
int hsi_qtype_parse(hsi_query *q, const hsi_qparam *p, const char *s,
    size_t vlen, hsi_qvalue *v, hsi_query_err *err);

/* A NUL-terminated copy of len bytes of s in q's arena, or NULL (full). */
char *hsi_query_copy(hsi_query *q, const char *s, size_t len);

/* Fills err: slug, status 400, param and a printf-style detail. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void
hsi_query_fail(hsi_query_err *err, const char *slug, const char *param,
    const char *fmt, ...);

/*
 * Parses an RFC 3339 date-time (len bytes of s), or a bare date meaning
 * the start of that day in Asia/Bangkok (its last microsecond when
 * date_end): microseconds since 1970-01-01T00:00:00Z into *us and the UTC
 * form into canon (HSI_QUERY_TIME_MAX bytes). A space stands for '+'
 * before the offset, since a '+' left unencoded in a URL arrives as a
 * space. Years 1900..2399. Returns 0 or HSI_EINVAL.
 */
int hsi_qtype_time(
    const char *s, size_t len, int date_end, long long *us, char *canon);

#endif
