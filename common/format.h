/*
 * format.h: the file formats agencies may submit (docs/formats.md) -- the
 * agency CSV (validate.h), JSON lines and SDMX-CSV 2.0 -- and the choice
 * between them by file name. Every reader only turns its syntax into the
 * six text fields of a row; hsi_validate_row does all checking of values,
 * so a row means the same whichever format carried it.
 *
 * All readers share the contract of hsi_validate_csv: valid rows go to
 * b->obs, each problem to b->issues with its line and column (in
 * characters), duplicated keys are refused (E_DUPLICATE), and a problem
 * that makes the whole file unusable sets b->file_error. They return 0
 * even when rows are invalid, or HSI_ENOMEM.
 */
#ifndef HSI_FORMAT_H
#define HSI_FORMAT_H

#include <jansson.h>
#include <stddef.h>

#include "catalog.h"
#include "validate.h"

/* Longest JSON line, line end excluded (as the CSV record limit). */
#define HSI_JSONL_LINE_MAX 65536 /* bytes */

/*
 * JSON lines: one object a line with the keys indicator, area, period,
 * value, status and note. value may be a number, a numeric string (Thai
 * digits too) or null; null is the same as an absent key for every key.
 * Blank lines are skipped; a UTF-8 BOM and CRLF line ends are accepted.
 * Codes: E_JSON, E_UNKNOWN_FIELD, E_TYPE, E_ENCODING, E_TOO_LONG, then
 * those of hsi_validate_row.
 */
int hsi_validate_jsonl(const hsi_catalog *cat, const char *agency,
    const char *buf, size_t len, hsi_batch *b);

/*
 * Rows already parsed from JSON (the REST gateway's application/json body,
 * {"rows": [...]}): each item of the array rows is read as one JSON line
 * would be, item i as row i + 1. Columns are 0: the text a parsed value
 * came from is not known here. rows stays the caller's.
 */
int hsi_validate_json_rows(const hsi_catalog *cat, const char *agency,
    const json_t *rows, hsi_batch *b);

/* One such row (obj, numbered row), for a caller that reads the rows one
 * at a time; it calls hsi_validate_done(b) after the last. */
int hsi_validate_json_row(const hsi_catalog *cat, const char *agency,
    const json_t *obj, size_t row, hsi_batch *b);

/*
 * SDMX-CSV 2.0: the header starts with STRUCTURE and holds STRUCTURE_ID,
 * INDICATOR, REF_AREA, TIME_PERIOD and OBS_VALUE, optionally ACTION,
 * OBS_STATUS and COMMENT or NOTE, in any order. ACTION I, A, R or empty
 * is an upsert; D and anything else are refused per row (E_ACTION). A
 * header problem is E_HEADER and sets b->file_error.
 */
int hsi_validate_sdmx(const hsi_catalog *cat, const char *agency,
    const char *buf, size_t len, hsi_batch *b);

/* 1 if a ".csv" file of these bytes is SDMX-CSV (its header starts with
 * STRUCTURE, or DATAFLOW for the SDMX-CSV 1.0 the reader explains), 0 for
 * the agency CSV. */
int hsi_format_is_sdmx(const char *buf, size_t len);

/*
 * Picks the reader by name (the extension, in any case, after the last
 * '/'): ".jsonl" or ".ndjson" JSON lines; ".csv" SDMX-CSV when the header
 * starts with STRUCTURE, else the agency CSV. Any other name (or NULL)
 * gets one E_FORMAT issue with b->file_error set.
 */
int hsi_validate_file(const hsi_catalog *cat, const char *agency,
    const char *name, const char *buf, size_t len, hsi_batch *b);

#endif
