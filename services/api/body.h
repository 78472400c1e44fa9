/*
 * body.h: request bodies for hsi-api's POST endpoints: a capped buffer
 * that libmicrohttpd's upload calls fill, a JSON parser with limits on
 * size and nesting that reports where the JSON is wrong (line, column),
 * and a checker that holds an object to a declared list of fields and
 * names the first unknown, missing or mistyped one by its JSON pointer
 * ("/observations/3/value"). Pure: no libmicrohttpd, so fuzzed too.
 */
#ifndef HSI_API_BODY_H
#define HSI_API_BODY_H

#include <jansson.h>
#include <stddef.h>

#define HSI_BODY_MAX_BYTES (8 * 1024 * 1024) /* default cap of a body */
#define HSI_BODY_MAX_DEPTH 32                /* nesting of [ and { */
#define HSI_BODY_POINTER_MAX 128             /* JSON pointer in errors */

typedef struct {
	char  *data; /* NUL-terminated; NULL until something arrives */
	size_t len;
	size_t cap;
	size_t max_bytes;
	size_t over_bytes; /* bytes beyond max_bytes, dropped */
} hsi_body;

/* Starts an empty body that may hold max_bytes. */
void hsi_body_init(hsi_body *b, size_t max_bytes);

/*
 * Appends n bytes. Returns 0; HSI_ETOOBIG when max_bytes is passed (what
 * is over is counted in over_bytes and dropped; later appends keep
 * counting); HSI_ENOMEM.
 */
int hsi_body_append(hsi_body *b, const char *data, size_t n);

/* Frees the buffer (b itself is the caller's); NULL ok. */
void hsi_body_fini(hsi_body *b);

typedef enum {
	HSI_JT_ANY,
	HSI_JT_STRING,
	HSI_JT_INTEGER,
	HSI_JT_NUMBER, /* integer or real */
	HSI_JT_BOOL,
	HSI_JT_OBJECT,
	HSI_JT_ARRAY,
} hsi_jtype;

#define HSI_JF_REQUIRED 1u /* absent: refused */
#define HSI_JF_NULLABLE 2u /* null accepted in place of the type */
#define HSI_JF_STREAM                                                         \
	4u /* a top-level ARRAY read item by item                             \
	    * (hsi_body_json_stream) */

/* One declared field of an object. A list ends with { NULL }. */
typedef struct hsi_jfield {
	const char              *name;
	hsi_jtype                type;
	unsigned                 flags; /* HSI_JF_* */
	size_t                   max;   /* STRING bytes, ARRAY items; 0: any */
	hsi_jtype                item;  /* ARRAY: type of each item */
	const struct hsi_jfield *fields; /* OBJECT, or ARRAY of OBJECT:
	                                  * their fields (NULL: any) */
} hsi_jfield;

/* Why a body was refused: the problem slug, the JSON pointer of the
 * field ("" for the whole body), where in the text (1-based; 0 when it
 * is not a syntax error) and a detail that says what to send. */
typedef struct {
	const char *slug;
	char        field[HSI_BODY_POINTER_MAX];
	int         line;
	int         column;
	char        detail[512];
} hsi_body_err;

/*
 * Parses len bytes as one JSON value, refusing nesting deeper than
 * max_depth (0: HSI_BODY_MAX_DEPTH) before jansson sees it, duplicate
 * keys, and \u0000. Returns 0 and *out (caller json_decref()s it), or
 * HSI_EINVAL with err (invalid-json, with line and column; too-deep),
 * or HSI_ENOMEM.
 */
int hsi_body_json(const char *data, size_t len, int max_depth, json_t **out,
    hsi_body_err *err);

/*
 * Holds root (an object: else wrong-type) to fields, recursively.
 * Returns 0 or HSI_EINVAL with err (unknown-field, missing-field,
 * wrong-type, too-long) naming the field by its JSON pointer. root stays
 * the caller's.
 */
int hsi_body_check(
    const json_t *root, const hsi_jfield *fields, hsi_body_err *err);

/* Called for each item of a streamed array: i counts from 0, at is its
 * JSON pointer ("/rows/3"). item is freed after the call. Non-zero stops
 * the stream and is returned. */
typedef int (*hsi_body_item_fn)(
    void *arg, const json_t *item, size_t i, const char *at);

/*
 * hsi_body_json then hsi_body_check for a body that is one object with
 * fields (max_depth as there), with memory bounded by its largest member
 * rather than its size:
 * each top-level member is parsed alone, and an ARRAY field flagged
 * HSI_JF_STREAM is parsed one item at a time, each held to the field's
 * item type and fields, handed to fn and freed (more than the field's max
 * items: too-long, as soon as one more comes). The errors are those of the
 * whole-body functions (invalid-json with line and column as jansson
 * counts them, too-deep, unknown-field, missing-field, wrong-type,
 * too-long), reported at the first fault in document order; fn may have
 * been called for earlier items by then. Returns 0, HSI_EINVAL with err,
 * HSI_ENOMEM, or fn's non-zero result.
 */
int hsi_body_json_stream(const char *data, size_t len, int max_depth,
    const hsi_jfield *fields, hsi_body_item_fn fn, void *arg,
    hsi_body_err *err);

#endif
