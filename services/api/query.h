/*
 * query.h: strict query parameters for hsi-api. Each endpoint declares
 * the parameters it takes (an array of hsi_qparam ending in { NULL }) and
 * the parser refuses everything else: unknown or repeated parameters,
 * empty or over-long values, values of the wrong type or out of range,
 * and a query over HSI_QUERY_MAX_BYTES or HSI_QUERY_MAX_PARAMS. Every
 * refusal names the parameter and says what is accepted, e.g.
 *   "query parameter 'limit' is 5000: send a whole number from 1 to 1000"
 *
 * Values arrive already percent-decoded (libmicrohttpd does that), one
 * key/value at a time through hsi_query_add; path placeholders such as
 * {area} go through hsi_query_set with their own declaration, so an
 * endpoint reads path and query values the same way (hsi_query_get).
 *
 * Pure: no libmicrohttpd and no allocation (an hsi_query holds its own
 * storage), so it is fuzzed directly (tests/fuzz/fuzz_api_query.c).
 */
#ifndef HSI_API_QUERY_H
#define HSI_API_QUERY_H

#include <stddef.h>

#include "period.h"

#define HSI_QUERY_MAX_BYTES 4096 /* keys, values and separators */
#define HSI_QUERY_MAX_PARAMS 32  /* query parameters */
#define HSI_QUERY_MAX_VALUES 40  /* with path values (at most 8) */
#define HSI_QUERY_NAME_MAX 32    /* longest parameter name */
#define HSI_QUERY_STRING_MAX 256 /* default max_len of a string */
#define HSI_QUERY_LIST_MAX 100   /* default max_items of a list */
#define HSI_QUERY_REPEAT_MAX 32  /* default max_repeat (HSI_QP_REPEAT) */
#define HSI_QUERY_ITEMS_MAX 256  /* list items across all lists */
#define HSI_QUERY_CURSOR_MAX 512 /* longest cursor text */
#define HSI_QUERY_TIME_MAX 32    /* "2024-03-15T12:00:00.123456Z" + NUL */

typedef enum {
	HSI_QT_STRING,       /* max_len bytes, charset (or printable UTF-8) */
	HSI_QT_INT,          /* whole number in [min, max] */
	HSI_QT_ENUM,         /* one of choices; i = its index */
	HSI_QT_BOOL,         /* true/false/1/0; i = 0 or 1 */
	HSI_QT_PERIOD,       /* hsi_period_parse; text = canonical form */
	HSI_QT_PERIOD_RANGE, /* FROM..TO, FROM.., ..TO or one period */
	HSI_QT_TIME,         /* RFC 3339, or a date (Asia/Bangkok); text =
	                      * UTC form, i = microseconds since 1970 */
	HSI_QT_AREA,         /* TH, RN, 50 (DOPA 2, 4 or 6 digits) or TH-50;
	                      * text = the code without "TH-" */
	HSI_QT_INDICATOR,    /* [a-z][a-z0-9_]{1,31} */
	HSI_QT_AGENCY,       /* [A-Z][A-Z0-9]{1,15} */
	HSI_QT_LIST,         /* comma-separated items of type item */
	HSI_QT_CURSOR,       /* opaque base64url, HSI_QUERY_CURSOR_MAX */
} hsi_qtype;

#define HSI_QP_REQUIRED 1u /* absent: refused */
#define HSI_QP_EMPTY_OK 2u /* STRING or LIST: "" accepted */
#define HSI_QP_PAGING 4u   /* not part of a cursor's scope (limit) */
#define HSI_QP_DATE_END                                                       \
	8u /* TIME: a bare date means the end of that day                     \
	    * in Bangkok (as_of), not its start */
#define HSI_QP_REPEAT                                                         \
	16u /* may be given up to max_repeat times (an OpenAPI                \
	     * form/explode array: ?match=a&match=b); not for                 \
	     * LIST or CURSOR, whose repeats stay duplicates */

/* One declared parameter. Designated initialisers keep tables readable:
 *   { .name = "limit", .type = HSI_QT_INT, .min = 1, .max = 1000 } */
typedef struct {
	const char        *name;
	hsi_qtype          type;
	unsigned           flags;   /* HSI_QP_* */
	long long          min;     /* INT: bounds (min == max == 0: any) */
	long long          max;     /* INT */
	size_t             max_len; /* STRING and its items; 0: default */
	const char        *charset; /* STRING: allowed bytes; NULL: text */
	const char *const *choices; /* ENUM (and LIST of ENUM): NULL-ended */
	hsi_qtype          item;    /* LIST: the items' type (not LIST,
	                             * CURSOR or PERIOD_RANGE) */
	int max_items;              /* LIST; 0: HSI_QUERY_LIST_MAX */
	int max_repeat;             /* REPEAT: most values; 0:
	                             * HSI_QUERY_REPEAT_MAX */
	const char *example;        /* shown in messages: "2024" */
} hsi_qparam;

/* The standard pagination pair: limit (1..HSI_PAGE_MAX, default
 * HSI_PAGE_DEFAULT: read it with hsi_query_int) and cursor. */
#define HSI_PAGE_DEFAULT 1000 /* openapi.yaml, Limit */
#define HSI_PAGE_MAX 10000
#define HSI_QPARAM_LIMIT                                                      \
	{                                                                     \
		.name = "limit", .type = HSI_QT_INT, .flags = HSI_QP_PAGING,  \
		.min = 1, .max = HSI_PAGE_MAX, .example = "1000"              \
	}
#define HSI_QPARAM_CURSOR                                                     \
	{                                                                     \
		.name = "cursor", .type = HSI_QT_CURSOR,                      \
		.flags = HSI_QP_PAGING                                        \
	}

typedef struct {
	int        has_from, has_to;
	hsi_period from, to;
	long       first_day, last_day; /* first day of from, last of to;
	                                 * LONG_MIN / LONG_MAX when open */
	char from_text[HSI_PERIOD_MAX], to_text[HSI_PERIOD_MAX];
} hsi_qrange;

/* One value that was given. With HSI_QP_REPEAT, one for all the times
 * the parameter was given: text and the typed fields are the first
 * value's, items the canonical text of every value in the order given. */
typedef struct {
	const hsi_qparam  *param;
	const char        *text;   /* canonical text (NUL-terminated) */
	size_t             len;    /* of text */
	long long          i;      /* INT, BOOL, ENUM index, TIME in us */
	hsi_period         period; /* PERIOD */
	hsi_qrange         range;  /* PERIOD_RANGE */
	const char *const *items;  /* LIST: canonical item texts;
	                            * REPEAT: every value's text */
	int n_items;
} hsi_qvalue;

/* A parsed query (and path). Fixed size (~14 KiB), no heap. */
typedef struct {
	const hsi_qparam *spec;
	hsi_qvalue        v[HSI_QUERY_MAX_VALUES];
	int               n;
	size_t            bytes; /* query bytes seen so far */
	int               given; /* query parameters seen so far */
	const char       *item_pool[HSI_QUERY_ITEMS_MAX];
	int               n_item_pool;
	char              arena[2 * HSI_QUERY_MAX_BYTES + 1024];
	size_t            used;
} hsi_query;

/* Why a query was refused: the problem slug, its HTTP status, the
 * parameter (quoted safely) and a detail that says what to send. */
typedef struct {
	const char *slug;
	unsigned    status;
	char        param[HSI_QUERY_NAME_MAX + 8];
	char        detail[512];
} hsi_query_err;

/* Starts an empty query for spec (NULL: no parameters at all). */
void hsi_query_init(hsi_query *q, const hsi_qparam *spec);

/*
 * Adds one decoded parameter (key of klen bytes; value of vlen bytes, or
 * NULL for a key without '='; either may hold NUL bytes, which are
 * refused). Returns 0, or HSI_EINVAL / HSI_ETOOBIG with err filled (slugs
 * unknown-parameter, duplicate-parameter, invalid-parameter,
 * query-too-large: also an HSI_QP_REPEAT parameter given more than its
 * max_repeat times). q stays usable but the request should be refused.
 */
int hsi_query_add(hsi_query *q, const char *key, size_t klen,
    const char *value, size_t vlen, hsi_query_err *err);

/*
 * Validates value against p (a path placeholder's declaration: p is not
 * looked up in q's spec, nor counted in the query's limits) and stores
 * it. Returns 0 or HSI_EINVAL with err (invalid-parameter).
 */
int hsi_query_set(hsi_query *q, const hsi_qparam *p, const char *value,
    size_t vlen, hsi_query_err *err);

/* After the last add: every required parameter given? 0 or HSI_EINVAL
 * (missing-parameter). */
int hsi_query_finish(hsi_query *q, hsi_query_err *err);

/* The value of name, or NULL when it was not given (every value of an
 * HSI_QP_REPEAT parameter: items, n_items). */
const hsi_qvalue *hsi_query_get(const hsi_query *q, const char *name);

/* The whole number of name (INT, BOOL or ENUM index), or def. */
long long hsi_query_int(const hsi_query *q, const char *name, long long def);

/* The canonical text of name, or NULL. */
const char *hsi_query_text(const hsi_query *q, const char *name);

/*
 * Writes the query back in canonical form, percent-encoded, in spec
 * order: "indicator=hlt_x&period=2020..2024", the values of a repeated
 * parameter in the order given ("match=a&match=b"). Leaves out path values,
 * cursors and, when scope_only, HSI_QP_PAGING parameters (a cursor's
 * scope: the same listing whatever the page size). Returns 0 or
 * HSI_ETOOBIG.
 */
int hsi_query_canon(
    const hsi_query *q, int scope_only, char *out, size_t size);

/*
 * A LIST value as a PostgreSQL array literal ({"a","b"}) for a
 * parameterised query ($1::text[]). Returns 0 or HSI_ETOOBIG.
 */
int hsi_query_pg_array(const hsi_qvalue *v, char *out, size_t size);

#endif
