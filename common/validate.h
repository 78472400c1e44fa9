/*
 * validate.h: checking agency rows against the catalog. The same code runs
 * at the ingest node (offline, before anything is sent), in the API's
 * submit path and again at the scorer, so the three can never disagree
 * about what is valid. Error codes are stable (docs/errors.md).
 */
#ifndef HSI_VALIDATE_H
#define HSI_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "csv.h"
#include "period.h"

#define HSI_NOTE_MAX 1000 /* bytes */
#define HSI_MAX_ISSUES 1000
#define HSI_FILE_MAX_BYTES (256L * 1024 * 1024)

typedef struct {
	char     indicator[HSI_CODE_MAX];
	char     area[HSI_SHORT_MAX];
	char     period[HSI_PERIOD_MAX]; /* canonical */
	int      year;                   /* calendar index year */
	int      fyear;                  /* fiscal index year */
	double   value;
	int      has_value;
	char     status; /* A, E, P, M */
	char    *note;   /* heap, may be NULL */
	uint32_t row;    /* source line */
} hsi_obs;

typedef struct {
	uint32_t row;
	uint32_t col;
	char     code[28];  /* E_UNKNOWN_INDICATOR, ... */
	char     field[16]; /* indicator, area, period, value, ... */
	char     value[80]; /* the offending text (truncated) */
	char     msg[240];  /* what is wrong and what to do */
} hsi_issue;

typedef struct {
	hsi_obs   *obs;
	size_t     n_obs, cap_obs;
	hsi_issue *issues;
	size_t     n_issues, cap_issues;
	size_t     rows;        /* data rows read */
	size_t     bad_rows;    /* rows with at least one issue */
	int        truncated;   /* more issues than HSI_MAX_ISSUES */
	size_t     issues_seen; /* all problems, listed or not */
	int        file_error;  /* header or encoding: nothing usable */
	/* E_NOT_OWNER, listed or not: the gateway refuses the whole
	 * request for one, so it must know past HSI_MAX_ISSUES too */
	size_t not_owner_seen;
	size_t not_owner_first_row;
} hsi_batch;

void hsi_batch_init(hsi_batch *b);

/*
 * Records one problem (row and column 1-based, field, the offending value
 * and a message for people) for every reader of every format. Past
 * HSI_MAX_ISSUES the problem is counted (issues_seen) but not listed and
 * b->truncated is set. Text is cut between UTF-8 characters. Returns 0 or
 * HSI_ENOMEM.
 */
__attribute__((format(printf, 7, 8))) int hsi_batch_issue(hsi_batch *b,
    size_t row, size_t col, const char *code, const char *field,
    const char *value, const char *fmt, ...);
void                                      hsi_batch_fini(hsi_batch *b);

/*
 * Parses and validates an agency CSV file (header
 * indicator,area,period,value[,status,note]) for agency. Valid rows go to
 * b->obs, problems to b->issues (one per problem, with line and column).
 * Duplicated (indicator, area, period) keys in one file are all reported.
 * Returns 0 (even when rows are invalid: see b->issues) or HSI_ENOMEM /
 * HSI_ETOOBIG.
 */
int hsi_validate_csv(const hsi_catalog *cat, const char *agency,
    const char *buf, size_t len, hsi_batch *b);

/* The fields of one row, in any file format. */
enum {
	HSI_F_INDICATOR = 0,
	HSI_F_AREA,
	HSI_F_PERIOD,
	HSI_F_VALUE,
	HSI_F_STATUS,
	HSI_F_NOTE,
	HSI_F_COUNT
};

/*
 * Validates one row given as text fields (NULL where the format has
 * none; each NUL-terminated with its line and column for messages) and
 * appends it to b->obs or its problems to b->issues. This is the one row
 * check behind every format (CSV, JSON lines, SDMX-CSV). Returns 0 or
 * HSI_ENOMEM. Call hsi_validate_done once after the last row.
 */
int hsi_validate_row(hsi_batch *b, const hsi_catalog *cat, const char *agency,
    size_t line, const hsi_csv_field *const f[HSI_F_COUNT]);

/* Finishes a file: refuses every row of a duplicated key (E_DUPLICATE).
 * Returns 0 or HSI_ENOMEM. */
int hsi_validate_done(hsi_batch *b);

/*
 * Checks one observation that arrived already parsed (at the scorer):
 * indicator known and owned by agency, area known, period canonical and
 * of the indicator's frequency, value within hard bounds, status coherent.
 * Fills o->year/fyear. Returns 0, or HSI_EINVAL with *iss filled.
 */
int hsi_validate_obs(
    const hsi_catalog *cat, const char *agency, hsi_obs *o, hsi_issue *iss);

/* For every reader: refuses a file over HSI_FILE_MAX_BYTES with a file
 * issue (E_FILE_TOO_BIG); returns 1 if it did (with *rv), else 0. */
int hsi_batch_too_big(hsi_batch *b, size_t len, int *rv);

/* Parses a value: ASCII or Thai digits, optional sign and decimals. */
int hsi_parse_value(const char *s, double *out);

#endif
