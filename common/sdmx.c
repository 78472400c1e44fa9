/*
 * sdmx.c: the SDMX-CSV 2.0 reader (docs/formats.md), for agencies whose
 * statistical systems (.Stat Suite, Fusion Registry, NSO's) export SDMX.
 * It is the agency CSV with other column names plus two structural
 * columns, so it reuses the RFC 4180 reader and hsi_validate_row; what is
 * its own is the header, the ACTION column and SDMX's NaN.
 *
 * Only the columns HSI understands are allowed: SDMX permits custom
 * columns, but a misspelt OBS_STATUS silently ignored would turn
 * estimates into normal values, so an unknown column refuses the file.
 */
#include "format.h"

#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "error.h"

enum {
	S_STRUCTURE = 0,
	S_STRUCTURE_ID,
	S_ACTION,
	S_INDICATOR,
	S_REF_AREA,
	S_TIME_PERIOD,
	S_OBS_VALUE,
	S_OBS_STATUS,
	S_COMMENT,
	S_NOTE,
	S_COUNT
};

static const char *const col_names[S_COUNT]
    = { "STRUCTURE", "STRUCTURE_ID", "ACTION", "INDICATOR", "REF_AREA",
	      "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "COMMENT", "NOTE" };

/* Which row field each column feeds (-1: none, the structural ones). */
static const int row_field[S_COUNT]
    = { -1, -1, -1, HSI_F_INDICATOR, HSI_F_AREA, HSI_F_PERIOD, HSI_F_VALUE,
	      HSI_F_STATUS, HSI_F_NOTE, HSI_F_NOTE };

static const int required[] = { S_STRUCTURE, S_STRUCTURE_ID, S_INDICATOR,
	S_REF_AREA, S_TIME_PERIOD, S_OBS_VALUE };

#define HEADER_HELP                                                           \
	"the header must be STRUCTURE,STRUCTURE_ID[,ACTION],INDICATOR,"       \
	"REF_AREA,TIME_PERIOD,OBS_VALUE[,OBS_STATUS][,COMMENT]"

static int
header_issue(hsi_batch *b, const hsi_csv_row *row, size_t f, const char *why)
{
	char name[64];
	hsi_utf8_clip(row->fields[f].ptr, name, sizeof(name));
	b->file_error = 1;
	return hsi_batch_issue(b, row->line, row->fields[f].col, "E_HEADER",
	    "header", row->fields[f].ptr, "%s '%s'; " HEADER_HELP, why, name);
}

/* The first column names the format: say which one it is, if not ours. */
static int
check_first(hsi_batch *b, const hsi_csv_row *row)
{
	const char *first = row->fields[0].ptr;
	if (strcmp(first, "STRUCTURE") == 0) {
		return 0;
	}
	b->file_error = 1;
	return hsi_batch_issue(b, row->line, 1, "E_HEADER", "header", first,
	    strcmp(first, "DATAFLOW") == 0
	        ? "this is SDMX-CSV 1.0 (first column DATAFLOW); export "
	          "SDMX-CSV 2.0 (first column STRUCTURE) instead"
	        : "the first column must be STRUCTURE, alone and with "
	          "fields separated by commas (SDMX-CSV 2.0, without "
	          "multi-valued columns)");
}

static int
read_header(hsi_batch *b, const hsi_csv_row *row, int col[S_COUNT])
{
	int rv;
	for (int c = 0; c < S_COUNT; c++) {
		col[c] = -1;
	}
	if ((rv = check_first(b, row)) != 0 || b->file_error) {
		return rv;
	}
	for (size_t f = 0; f < row->nfields; f++) {
		int c = 0;
		while (
		    c < S_COUNT && strcmp(row->fields[f].ptr, col_names[c])) {
			c++;
		}
		if (c == S_COUNT) {
			return header_issue(b, row, f, "unknown column");
		}
		if (col[c] >= 0 || (c == S_NOTE && col[S_COMMENT] >= 0)
		    || (c == S_COMMENT && col[S_NOTE] >= 0)) {
			return header_issue(
			    b, row, f, "a second column for the same field");
		}
		col[c] = (int) f;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (col[required[i]] < 0) {
			b->file_error = 1;
			return hsi_batch_issue(b, row->line, 1, "E_HEADER",
			    "header", col_names[required[i]],
			    "the header has no column %s; " HEADER_HELP,
			    col_names[required[i]]);
		}
	}
	return 0;
}

static const hsi_csv_field *
fld(const hsi_csv_row *row, int c)
{
	return c >= 0 && (size_t) c < row->nfields ? &row->fields[c] : NULL;
}

/*
 * I (information), A (append) and R (replace) all become an upsert: the
 * platform keeps every revision, so "replace" loses nothing. D is refused:
 * a deletion would erase history an index was computed from.
 */
static int
check_action(
    hsi_batch *b, const hsi_csv_row *row, const int col[S_COUNT], int *ok)
{
	const hsi_csv_field *a = fld(row, col[S_ACTION]);
	const hsi_csv_field *s = fld(row, col[S_STRUCTURE]);
	*ok                    = 0;
	if (s == NULL || s->len == 0) {
		return hsi_batch_issue(b, row->line, s ? s->col : 1,
		    "E_FIELD_EMPTY", "structure", "",
		    "field STRUCTURE is empty; write dataflow (or "
		    "datastructure) on every row");
	}
	if (a == NULL || a->len == 0
	    || (a->len == 1 && strchr("IAR", a->ptr[0]) != NULL)) {
		*ok = 1;
		return 0;
	}
	return hsi_batch_issue(b, row->line, a->col, "E_ACTION", "action",
	    a->ptr,
	    strcmp(a->ptr, "D") == 0
	        ? "deletion is not supported; send status M to declare a "
	          "value missing, or a new value to correct one"
	        : "ACTION must be I (information), A (append), R "
	          "(replace) or empty; all three add or update the value");
}

static int
read_row(hsi_batch *b, const hsi_catalog *cat, const char *agency,
    const hsi_csv_row *row, const int col[S_COUNT], size_t ncols)
{
	const hsi_csv_field *f[HSI_F_COUNT] = { NULL };
	hsi_csv_field        empty_value;
	int                  ok, rv;
	if (row->nfields > ncols) {
		return hsi_batch_issue(b, row->line, row->fields[ncols].col,
		    "E_FIELD_COUNT", "", "",
		    "row has %zu fields but the header %zu; quote a comment "
		    "that contains commas",
		    row->nfields, ncols);
	}
	if ((rv = check_action(b, row, col, &ok)) != 0 || !ok) {
		return rv;
	}
	for (int c = 0; c < S_COUNT; c++) {
		if (row_field[c] >= 0 && col[c] >= 0) {
			f[row_field[c]] = fld(row, col[c]);
		}
	}
	/* SDMX writes a missing observation as NaN (with OBS_STATUS M). */
	const hsi_csv_field *v = f[HSI_F_VALUE];
	if (v != NULL && strcmp(v->ptr, "NaN") == 0) {
		empty_value     = *v;
		empty_value.ptr = "";
		empty_value.len = 0;
		f[HSI_F_VALUE]  = &empty_value;
	}
	return hsi_validate_row(b, cat, agency, row->line, f);
}

static int
first_row(hsi_batch *b, hsi_csv *csv, hsi_csv_row *row, int col[S_COUNT])
{
	hsi_csv_err cerr;
	int         got = hsi_csv_next(csv, row, &cerr);
	if (got > 0) {
		return read_header(b, row, col);
	}
	if (got == -HSI_ENOMEM) {
		return HSI_ENOMEM;
	}
	b->file_error = 1;
	if (got < 0) {
		return hsi_batch_issue(b, cerr.line, cerr.col, cerr.code,
		    "header", "", "%s", cerr.msg);
	}
	return hsi_batch_issue(b, 1, 1, "E_HEADER", "header", "",
	    "the file is empty; " HEADER_HELP);
}

int
hsi_validate_sdmx(const hsi_catalog *cat, const char *agency, const char *buf,
    size_t len, hsi_batch *b)
{
	hsi_csv    *csv;
	hsi_csv_row row;
	hsi_csv_err cerr;
	int         col[S_COUNT];
	int         rv = 0, got;
	if (hsi_batch_too_big(b, len, &rv)) {
		return rv;
	}
	if ((rv = hsi_csv_open(buf, len, NULL, &csv)) != 0) {
		return rv;
	}
	if ((rv = first_row(b, csv, &row, col)) != 0 || b->file_error) {
		hsi_csv_close(csv);
		return rv;
	}
	size_t ncols = row.nfields;
	while (rv == 0 && (got = hsi_csv_next(csv, &row, &cerr)) != 0) {
		size_t before = b->n_obs;
		b->rows++;
		if (got == -HSI_ENOMEM) {
			rv = HSI_ENOMEM;
		} else if (got < 0) {
			rv = hsi_batch_issue(b, cerr.line, cerr.col, cerr.code,
			    "", "", "%s", cerr.msg);
		} else {
			rv = read_row(b, cat, agency, &row, col, ncols);
		}
		if (b->n_obs == before) {
			b->bad_rows++;
		}
	}
	hsi_csv_close(csv);
	return rv != 0 ? rv : hsi_validate_done(b);
}
