/*
 * csvout.h: lists of JSON objects written as CSV (RFC 4180, UTF-8, CRLF,
 * a header line), for endpoints that answer Accept: text/csv. Columns
 * are named by keys, with dots for nested objects ("dimensions.health"),
 * so one list of items serves both formats. Pure: no libmicrohttpd.
 */
#ifndef HSI_API_CSVOUT_H
#define HSI_API_CSVOUT_H

#include <jansson.h>
#include <stddef.h>

/* Most bytes of one CSV answer. */
#define HSI_CSVOUT_MAX_BYTES (64 * 1024 * 1024)

/*
 * Writes items (an array of objects; other items give empty rows) under
 * columns (NULL-terminated). Cells: strings as they are (quoted when they
 * hold a comma, quote, CR or LF, or start with a space), numbers with 17
 * significant digits as in JSON, true/false, empty for null or missing,
 * and compact JSON for arrays and objects. Returns 0 with *out (heap,
 * NUL-terminated, caller frees) and *len, or HSI_ENOMEM / HSI_ETOOBIG.
 */
int hsi_csvout_items(
    const json_t *items, const char *const *columns, char **out, size_t *len);

#endif
