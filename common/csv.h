/*
 * csv.h: a strict RFC 4180 reader for agency files, with limits.
 *
 * Handles a UTF-8 BOM, quoted fields with commas, doubled quotes and
 * newlines inside, CRLF or LF line ends, and a missing final newline.
 * Every field is checked to be valid UTF-8 (overlongs and surrogates are
 * refused) and to hold no NUL byte, so a field's len is its strlen().
 * Errors carry the 1-based line and column (in characters, counting from
 * the start of the physical line), so a person can find the spot in an
 * editor.
 */
#ifndef HSI_CSV_H
#define HSI_CSV_H

#include <stddef.h>

typedef struct hsi_csv hsi_csv;

typedef struct {
	size_t max_fields;       /* per record, e.g. 64 */
	size_t max_field_bytes;  /* e.g. 4096 */
	size_t max_record_bytes; /* e.g. 65536 */
} hsi_csv_limits;

typedef struct {
	const char *ptr; /* unescaped, NUL-terminated; valid until next call */
	size_t      len;
	size_t      line; /* where the field starts */
	size_t      col;
} hsi_csv_field;

typedef struct {
	size_t         nfields;
	hsi_csv_field *fields; /* owned by the reader */
	size_t         line;   /* line where the record starts */
} hsi_csv_row;

typedef struct {
	char   code[32]; /* stable: E_CSV_QUOTE, E_ENCODING, E_TOO_LONG, ... */
	char   msg[200]; /* what is wrong and what to do */
	size_t line;
	size_t col;
} hsi_csv_err;

/*
 * Opens a reader over buf[0..len) (not copied: buf must outlive the
 * reader). limits may be NULL for defaults (64 fields, 4096 bytes a field,
 * 65536 bytes a record, line end excluded); a member left 0 also takes its
 * default. Returns 0, HSI_EINVAL (buf NULL with len > 0) or HSI_ENOMEM.
 */
int hsi_csv_open(
    const char *buf, size_t len, const hsi_csv_limits *limits, hsi_csv **out);

/*
 * Reads the next record into *row. Returns 1 when a record was read, 0 at
 * end of input, or a negative hsi error (-HSI_EINVAL, -HSI_EENCODING,
 * -HSI_ETOOBIG, or -HSI_ENOMEM) with *err filled (err may be NULL); *row
 * is written only when 1 is returned. Empty lines are skipped. After an error
 * the reader resynchronises at the next line, so a caller may go on to
 * report further errors.
 */
int hsi_csv_next(hsi_csv *c, hsi_csv_row *row, hsi_csv_err *err);

void hsi_csv_close(hsi_csv *c);

/*
 * Returns 0 if buf[0..len) is valid UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF), else the 1-based index of the first bad byte.
 */
size_t hsi_utf8_check(const char *buf, size_t len);

/*
 * Copies s into out (size bytes), cutting only between UTF-8 characters
 * and marking a cut with "...": reports are JSON, and jansson refuses a
 * string that ends in half a character.
 */
void hsi_utf8_clip(const char *s, char *out, size_t size);

/*
 * A table over hsi_csv: a header line names the columns; the caller asks
 * for columns by name (a name starting with '?' is optional) and reads them
 * by position in its own list. Every row must have the header's number of
 * fields. Errors go to err as "FILE:LINE[:COL]: what".
 */
#define HSI_TABLE_MAX_COLS 24

typedef struct {
	const char        *file;
	hsi_csv           *csv;
	hsi_csv_row        row;
	int                col[HSI_TABLE_MAX_COLS]; /* wanted -> field, -1 */
	const char *const *want;
	size_t             nwant;
	size_t             nheader; /* fields in the header line */
	char              *err;
	size_t             err_size;
} hsi_table;

/* Opens over buf (which must outlive t) and reads the header. */
int hsi_table_open(hsi_table *t, const char *file, const char *buf, size_t len,
    const char *const *want, char *err, size_t err_size);

/* 1 row read, 0 end, <0 error (message in t->err). */
int hsi_table_next(hsi_table *t);

/* Wanted column w of the current row; NULL for an absent optional one. */
const char *hsi_table_get(const hsi_table *t, size_t w);

void hsi_table_close(hsi_table *t);

#endif
