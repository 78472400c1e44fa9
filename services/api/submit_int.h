/*
 * submit_int.h: what the files of the submission endpoints share
 * (submit.c: POST /v1/observations; submit_body.c: reading the body;
 * submission.c: GET /v1/submissions/{id} and the answers). Not for other
 * modules.
 */
#ifndef HSI_API_SUBMIT_INT_H
#define HSI_API_SUBMIT_INT_H

#include <jansson.h>
#include <stddef.h>

#include "call.h"
#include "catalog.h"
#include "validate.h"

#define HSI_SUBMIT_MAX_BYTES (32L * 1024 * 1024) /* x-hsi-max-body-bytes */
#define HSI_SUBMIT_JSON_ROWS 1000000             /* ObservationBatch */
#define HSI_SUBMIT_FIELD_BYTES 4096              /* ObservationRow */
#define HSI_SUBMIT_JSON_TYPE "application/json; charset=utf-8"

/* The body formats (SubmissionFormat). */
typedef enum {
	HSI_SUBMIT_AGENCY_CSV,
	HSI_SUBMIT_SDMX_CSV,
	HSI_SUBMIT_JSONL,
	HSI_SUBMIT_JSON,
} hsi_submit_format;

const char *hsi_submit_format_name(hsi_submit_format f);

/*
 * The body's format from its Content-Type (text/csv, by its header agency
 * or SDMX-CSV; application/x-ndjson; application/json), UTF-8 only.
 * Returns 0 with *f, or non-zero once 415 is answered.
 */
int hsi_submit_format_of(hsi_call *c, hsi_submit_format *f);

/*
 * Reads and validates the body in format f for agency against cat, with
 * the node's code (common/validate.h, format.h), into b (initialised by
 * the caller). A JSON body is first held to the ObservationBatch schema
 * (400 invalid-json with line and column, unknown-field, missing-field,
 * wrong-type, too-long, invalid-field). Returns 0, or non-zero once
 * answered.
 */
int hsi_submit_read(hsi_call *c, const hsi_catalog *cat, const char *agency,
    hsi_submit_format f, hsi_batch *b);

/* The issues of b as RowIssue objects (row at least 1); only those with
 * code when code is not NULL. NULL when out of memory. */
json_t *hsi_submit_issues(const hsi_batch *b, const char *code);

/* Queues body (JSON text, copied) with status, Cache-Control: no-store
 * and extra headers (name/value pairs ending in NULL, or NULL). */
int hsi_submit_send(hsi_call *c, unsigned status, const char *body,
    const char *const *headers);

/* GET /v1/submissions/{id} */
int                     hsi_submission_get(hsi_call *c);
extern const hsi_qparam hsi_submission_path[];

#endif
