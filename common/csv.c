/*
 * csv.c: a strict RFC 4180 reader over a memory buffer (see csv.h).
 *
 * Agency files are several megabytes, so each byte is looked at once: a
 * table sends the common bytes (ASCII that is not a delimiter) through a
 * tight loop, and only delimiters, quotes, line ends and non-ASCII bytes
 * leave it, the last to have their UTF-8 sequence checked in place. Fields
 * are copied, unescaped, into one buffer per reader that grows up to the
 * record limit; field pointers are made only when a record is complete,
 * because growing the buffer moves it.
 *
 * A record may not be longer than max_record_bytes in the input, not
 * counting its line end. That one cap bounds the buffer (unescaped text
 * plus one NUL per field never exceeds the raw record plus one byte) and
 * the work spent on a file with a missing closing quote.
 */
#include "csv.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define DEF_MAX_FIELDS 64
#define DEF_MAX_FIELD_BYTES 4096
#define DEF_MAX_RECORD_BYTES 65536
#define FIRST_FIELDS 16
#define FIRST_TEXT 4096

struct hsi_csv {
	const unsigned char *buf;
	size_t               len;
	size_t               pos;        /* next byte to read */
	size_t               line;       /* physical line of pos, 1-based */
	size_t               line_start; /* offset where that line starts */
	/* Column cache: col_chars characters in [line_start, col_pos). */
	size_t         col_pos;
	size_t         col_chars;
	hsi_csv_limits lim;
	hsi_csv_field *fields;
	size_t        *offs; /* field offsets in text, while building */
	size_t         fields_cap;
	char          *text; /* unescaped fields, NUL-terminated */
	size_t         text_len;
	size_t         text_cap;
};

/*
 * Bytes that end the fast loops: for unquoted fields the delimiter, the
 * quote, CR, LF, NUL and every non-ASCII byte; in quoted fields only the
 * quote, LF (to count lines), NUL and non-ASCII bytes.
 */
enum { STOP_PLAIN = 1, STOP_QUOTED = 2, STOP_BOTH = 3 };

#define HI16                                                                  \
	STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH,     \
	    STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH, \
	    STOP_BOTH, STOP_BOTH, STOP_BOTH, STOP_BOTH

static const unsigned char stop[256] = {
	['\0'] = STOP_BOTH,
	['\n'] = STOP_BOTH,
	['\r'] = STOP_PLAIN,
	['"']  = STOP_BOTH,
	[',']  = STOP_PLAIN,
	[0x80] = HI16,
	HI16,
	HI16,
	HI16,
	HI16,
	HI16,
	HI16,
	HI16,
};

/*
 * Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (Unicode 15, table 3-7: no overlongs, no surrogates, nothing above
 * U+10FFFF, no truncated sequence).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xBF;
	size_t        k;
	if (b < 0x80) {
		return 1;
	}
	if (b < 0xC2 || b > 0xF4) {
		return 0; /* continuation, overlong C0/C1, or past U+10FFFF */
	}
	k = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
	if (b == 0xE0) {
		lo = 0xA0; /* overlong */
	} else if (b == 0xED) {
		hi = 0x9F; /* surrogates */
	} else if (b == 0xF0) {
		lo = 0x90; /* overlong */
	} else if (b == 0xF4) {
		hi = 0x8F; /* past U+10FFFF */
	}
	if (n < k || s[1] < lo || s[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			return 0;
		}
	}
	return k;
}

size_t
hsi_utf8_check(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *) buf;
	size_t               i = 0;
	while (i < len) {
		uint64_t w;
		if (len - i >= 8) {
			/* memcpy, as s need not be aligned. */
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080u) == 0) {
				i += 8; /* all ASCII, the common case */
				continue;
			}
		}
		size_t k = utf8_seq(s + i, len - i);
		if (k == 0) {
			return i + 1;
		}
		i += k;
	}
	return 0;
}

static size_t
limit_or(size_t v, size_t def)
{
	return v == 0 ? def : v;
}

int
hsi_csv_open(
    const char *buf, size_t len, const hsi_csv_limits *limits, hsi_csv **out)
{
	hsi_csv *c;
	if ((buf == NULL && len > 0) || out == NULL) {
		return HSI_EINVAL;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		return HSI_ENOMEM;
	}
	c->buf                  = (const unsigned char *) buf;
	c->len                  = len;
	c->line                 = 1;
	c->lim.max_fields       = DEF_MAX_FIELDS;
	c->lim.max_field_bytes  = DEF_MAX_FIELD_BYTES;
	c->lim.max_record_bytes = DEF_MAX_RECORD_BYTES;
	if (limits != NULL) {
		c->lim.max_fields
		    = limit_or(limits->max_fields, DEF_MAX_FIELDS);
		c->lim.max_field_bytes
		    = limit_or(limits->max_field_bytes, DEF_MAX_FIELD_BYTES);
		/* Clamped so that max_record_bytes + 1 cannot overflow. */
		c->lim.max_record_bytes
		    = limit_or(limits->max_record_bytes, DEF_MAX_RECORD_BYTES);
		if (c->lim.max_record_bytes > SIZE_MAX / 2) {
			c->lim.max_record_bytes = SIZE_MAX / 2;
		}
	}
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		c->pos = c->line_start = c->col_pos = 3; /* the BOM */
	}
	*out = c;
	return 0;
}

void
hsi_csv_close(hsi_csv *c)
{
	if (c == NULL) {
		return;
	}
	free(c->fields);
	free(c->offs);
	free(c->text);
	free(c);
}

static void
new_line(hsi_csv *c, size_t start)
{
	c->line++;
	c->line_start = start;
}

/* 1-based column, in characters, of byte p on the current line. */
static size_t
col_of(hsi_csv *c, size_t p)
{
	if (c->col_pos < c->line_start || c->col_pos > p) {
		c->col_pos   = c->line_start;
		c->col_chars = 0;
	}
	for (; c->col_pos < p; c->col_pos++) {
		c->col_chars += (c->buf[c->col_pos] & 0xC0) != 0x80;
	}
	return c->col_chars + 1;
}

/* Moves past the next LF at or after pos, so reading can go on. */
static void
resync(hsi_csv *c)
{
	const void *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
	if (nl == NULL) {
		c->pos = c->len;
		return;
	}
	c->pos = (size_t) ((const unsigned char *) nl - c->buf) + 1;
	new_line(c, c->pos);
}

/* Fills *err, resynchronises and returns -rv. */
#if defined(__GNUC__)
__attribute__((format(printf, 7, 8)))
#endif
static int
fail(hsi_csv *c, hsi_csv_err *err, int rv, const char *code, size_t line,
    size_t col, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		snprintf(err->code, sizeof err->code, "%s", code);
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->line = line;
		err->col  = col;
	}
	resync(c);
	return -rv;
}

static int
fail_here(
    hsi_csv *c, hsi_csv_err *err, int rv, const char *code, const char *msg)
{
	return fail(c, err, rv, code, c->line, col_of(c, c->pos), "%s", msg);
}

static int
fail_encoding(hsi_csv *c, hsi_csv_err *err)
{
	return fail_here(c, err, HSI_EENCODING, "E_ENCODING",
	    "not valid UTF-8; save the file as UTF-8 (in Excel: Save As, "
	    "\"CSV UTF-8 (Comma delimited)\")");
}

/*
 * Reported at the record's start (a record starts a line): with a missing
 * closing quote the limit is crossed lines away from the actual mistake.
 */
static int
fail_record(hsi_csv *c, hsi_csv_err *err, size_t line)
{
	return fail(c, err, HSI_ETOOBIG, "E_TOO_LONG", line, 1,
	    "record is longer than %zu bytes; look for a quoted field "
	    "whose closing quote (\") is missing",
	    c->lim.max_record_bytes);
}

/* For append() failing: out of memory, or a bug in the record cap. */
static int
fail_alloc(hsi_csv *c, hsi_csv_err *err, int rv, const hsi_csv_field *f)
{
	return fail(c, err, rv, rv == HSI_ENOMEM ? "E_NOMEM" : "E_TOO_LONG",
	    f->line, f->col, "%s", hsi_strerror(rv));
}

/* Appends n bytes to the text buffer, growing it up to the record cap. */
static int
append(hsi_csv *c, const unsigned char *s, size_t n)
{
	if (n == 0) {
		return 0; /* text may still be NULL, which memcpy refuses */
	}
	if (c->text_cap - c->text_len < n) {
		size_t need = c->text_len + n;
		size_t cap  = c->text_cap == 0 ? FIRST_TEXT : c->text_cap;
		while (cap < need) {
			cap *= 2;
		}
		if (cap > c->lim.max_record_bytes + 1) {
			cap = c->lim.max_record_bytes + 1;
		}
		if (cap < need) {
			/* Not reached: a record within its cap fits. */
			return HSI_ETOOBIG;
		}
		char *t = realloc(c->text, cap);
		if (t == NULL) {
			return HSI_ENOMEM;
		}
		c->text     = t;
		c->text_cap = cap;
	}
	memcpy(c->text + c->text_len, s, n);
	c->text_len += n;
	return 0;
}

static int
grow_fields(hsi_csv *c)
{
	size_t cap = c->fields_cap == 0 ? FIRST_FIELDS : c->fields_cap * 2;
	if (cap > c->lim.max_fields) {
		cap = c->lim.max_fields;
	}
	hsi_csv_field *f = realloc(c->fields, cap * sizeof *f);
	if (f == NULL) {
		return HSI_ENOMEM;
	}
	c->fields = f;
	size_t *o = realloc(c->offs, cap * sizeof *o);
	if (o == NULL) {
		return HSI_ENOMEM;
	}
	c->offs       = o;
	c->fields_cap = cap;
	return 0;
}

/*
 * Steps *p over the UTF-8 sequence there. A character that straddles the
 * record limit makes the record too long; stopping there keeps every byte
 * copied within the limit, which is what bounds the text buffer. NUL is
 * valid UTF-8 but is refused: fields are C strings, and NULs in a "CSV"
 * mostly mean a UTF-16 export.
 */
static int
step_char(hsi_csv *c, size_t *p, size_t lim, size_t rec_line, hsi_csv_err *err)
{
	size_t k = utf8_seq(c->buf + *p, c->len - *p);
	c->pos   = *p;
	if (c->buf[*p] == '\0') {
		return fail_here(c, err, HSI_EENCODING, "E_ENCODING",
		    "a NUL byte: this is not a UTF-8 text file (UTF-16?); "
		    "save it as UTF-8 (in Excel: \"CSV UTF-8\")");
	}
	if (k == 0) {
		return fail_encoding(c, err);
	}
	if (*p + k > lim) {
		return fail_record(c, err, rec_line);
	}
	*p += k;
	return 0;
}

/*
 * An unquoted field: up to a delimiter, a line end, a quote (an error) or
 * the record limit.
 */
static int
read_plain(hsi_csv *c, size_t lim, size_t rec_line, hsi_csv_err *err)
{
	const unsigned char *b     = c->buf;
	size_t               start = c->pos, p = start;
	int                  rv;
	for (;;) {
		while (p < lim && (stop[b[p]] & STOP_PLAIN) == 0) {
			p++;
		}
		if (p >= lim || (b[p] < 0x80 && b[p] != '\0')) {
			break;
		}
		if ((rv = step_char(c, &p, lim, rec_line, err)) != 0) {
			return rv;
		}
	}
	rv     = append(c, b + start, p - start);
	c->pos = p;
	return rv;
}

/*
 * A quoted field, from its opening quote to just past its closing one.
 * Text is copied in runs between quotes, so a doubled quote costs one
 * copy, not one per byte.
 */
static int
read_quoted(hsi_csv *c, size_t lim, const hsi_csv_field *f, size_t rec_line,
    hsi_csv_err *err)
{
	const unsigned char *b   = c->buf;
	size_t               p   = c->pos + 1;
	size_t               run = p;
	int                  rv;
	while (p < lim) {
		unsigned char ch = b[p];
		if ((stop[ch] & STOP_QUOTED) == 0) {
			p++;
		} else if (ch == '\n') {
			new_line(c, ++p);
		} else if (ch >= 0x80 || ch == '\0') {
			if ((rv = step_char(c, &p, lim, rec_line, err)) != 0) {
				return rv;
			}
		} else {
			if ((rv = append(c, b + run, p - run)) != 0) {
				return rv;
			}
			if (p + 1 < c->len && b[p + 1] == '"') {
				run = p + 1; /* keep the second quote */
				p += 2;
				continue;
			}
			c->pos = p + 1;
			return 0;
		}
	}
	c->pos = p;
	if (lim < c->len) {
		return fail_record(c, err, rec_line);
	}
	return fail(c, err, HSI_EINVAL, "E_CSV_UNTERMINATED", f->line, f->col,
	    "a quoted field opened here is never closed; add the closing "
	    "quote (\"), and write a quote inside a field as \"\"");
}

/* After a field: a delimiter, CRLF, LF or the end of input must follow. */
static int
check_end(
    hsi_csv *c, size_t lim, int quoted, size_t rec_line, hsi_csv_err *err)
{
	size_t p = c->pos;
	if (p == c->len || c->buf[p] == ',' || c->buf[p] == '\n') {
		return 0;
	}
	if (c->buf[p] == '\r') {
		if (p + 1 < c->len && c->buf[p + 1] == '\n') {
			return 0;
		}
		return fail_here(c, err, HSI_EINVAL, "E_CSV_CR",
		    "carriage return (CR) without a line feed; save the file "
		    "with Windows (CRLF) or Unix (LF) line ends");
	}
	if (p == lim) {
		return fail_record(c, err, rec_line);
	}
	if (quoted) {
		return fail_here(c, err, HSI_EINVAL, "E_CSV_QUOTE",
		    "text after the closing quote of a field; put the whole "
		    "field in quotes and write a quote inside it as \"\"");
	}
	return fail_here(c, err, HSI_EINVAL, "E_CSV_QUOTE",
	    "a quote (\") inside an unquoted field; put the whole field in "
	    "quotes and write the quote as \"\"");
}

/* Reads field nf of the record, which must end before lim. */
static int
read_field(
    hsi_csv *c, size_t lim, size_t nf, size_t rec_line, hsi_csv_err *err)
{
	size_t start  = c->pos;
	int    quoted = start < c->len && c->buf[start] == '"';
	int    rv;
	if (start > lim) {
		return fail_record(c, err, rec_line);
	}
	if (nf == c->lim.max_fields) {
		return fail(c, err, HSI_ETOOBIG, "E_TOO_MANY_FIELDS", c->line,
		    col_of(c, start),
		    "more than %zu fields in a record; check that the "
		    "delimiter is a comma and that quoted fields are closed",
		    c->lim.max_fields);
	}
	if (nf == c->fields_cap && (rv = grow_fields(c)) != 0) {
		return fail(c, err, rv, "E_NOMEM", c->line, col_of(c, start),
		    "out of memory");
	}
	hsi_csv_field *f = &c->fields[nf];
	f->line          = c->line;
	f->col           = col_of(c, start);
	c->offs[nf]      = c->text_len;
	rv               = quoted ? read_quoted(c, lim, f, rec_line, err)
	                          : read_plain(c, lim, rec_line, err);
	if (rv == 0) {
		rv = check_end(c, lim, quoted, rec_line, err);
	}
	if (rv > 0) {
		return fail_alloc(c, err, rv, f);
	}
	if (rv < 0) {
		return rv;
	}
	f->len = c->text_len - c->offs[nf];
	if (f->len > c->lim.max_field_bytes) {
		return fail(c, err, HSI_ETOOBIG, "E_TOO_LONG", f->line, f->col,
		    "field is %zu bytes, over the limit of %zu", f->len,
		    c->lim.max_field_bytes);
	}
	if ((rv = append(c, (const unsigned char *) "", 1)) != 0) {
		return fail_alloc(c, err, rv, f);
	}
	return 0;
}

static void
skip_empty_lines(hsi_csv *c)
{
	while (c->pos < c->len) {
		if (c->buf[c->pos] == '\n') {
			new_line(c, c->pos + 1);
		} else if (c->buf[c->pos] == '\r' && c->pos + 1 < c->len
		    && c->buf[c->pos + 1] == '\n') {
			new_line(c, c->pos + 2);
		} else {
			return;
		}
		c->pos = c->line_start;
	}
}

int
hsi_csv_next(hsi_csv *c, hsi_csv_row *row, hsi_csv_err *err)
{
	size_t nf = 0, rec_line, lim;
	int    rv;
	if (c == NULL || row == NULL) {
		return -HSI_EINVAL;
	}
	skip_empty_lines(c);
	if (c->pos >= c->len) {
		return 0;
	}
	rec_line    = c->line;
	lim         = c->len - c->pos > c->lim.max_record_bytes
	            ? c->pos + c->lim.max_record_bytes
	            : c->len;
	c->text_len = 0;
	for (;;) {
		if ((rv = read_field(c, lim, nf++, rec_line, err)) != 0) {
			return rv;
		}
		if (c->pos == c->len || c->buf[c->pos] != ',') {
			break;
		}
		c->pos++;
	}
	if (c->pos < c->len) { /* at CRLF or LF: check_end saw to that */
		c->pos += c->buf[c->pos] == '\r' ? 2 : 1;
		new_line(c, c->pos);
	}
	for (size_t i = 0; i < nf; i++) {
		c->fields[i].ptr = c->text + c->offs[i];
	}
	row->nfields = nf;
	row->fields  = c->fields;
	row->line    = rec_line;
	return 1;
}

/* Reports are JSON, and jansson refuses a string with half a UTF-8
 * sequence, so text is never cut inside one. */
void
hsi_utf8_clip(const char *s, char *out, size_t size)
{
	size_t n = strlen(s);
	if (size == 0) {
		return;
	}
	if (n < size) {
		memcpy(out, s, n + 1);
		return;
	}
	if (size < 4) {
		out[0] = '\0';
		return;
	}
	n = size - 4; /* room for "..." and the NUL */
	while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80) {
		n--; /* s[n] continues a sequence: cut before it starts */
	}
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
}

/* ---- a table reader over hsi_csv ---------------------------------------- */

int
hsi_table_open(hsi_table *t, const char *file, const char *buf, size_t len,
    const char *const *want, char *err, size_t err_size)
{
	hsi_csv_err cerr;
	memset(t, 0, sizeof(*t));
	t->file     = file;
	t->want     = want;
	t->err      = err;
	t->err_size = err_size;
	while (want[t->nwant] != NULL) {
		if (++t->nwant > HSI_TABLE_MAX_COLS) {
			snprintf(err, err_size, "%s: too many columns", file);
			return HSI_EINVAL;
		}
	}
	if (hsi_csv_open(buf, len, NULL, &t->csv) != 0) {
		return HSI_ENOMEM;
	}
	if (hsi_csv_next(t->csv, &t->row, &cerr) != 1) {
		snprintf(err, err_size, "%s:1: missing header line", file);
		return HSI_EINVAL;
	}
	t->nheader = t->row.nfields;
	for (size_t w = 0; w < t->nwant; w++) {
		t->col[w] = -1;
		for (size_t f = 0; f < t->row.nfields; f++) {
			if (strcmp(t->row.fields[f].ptr,
			        want[w] + (want[w][0] == '?'))
			    == 0) {
				t->col[w] = (int) f;
			}
		}
		if (t->col[w] < 0 && want[w][0] != '?') {
			snprintf(err, err_size,
			    "%s:1: header has no column '%s'", file, want[w]);
			return HSI_EINVAL;
		}
	}
	return 0;
}

int
hsi_table_next(hsi_table *t)
{
	hsi_csv_err cerr;
	int         rv = hsi_csv_next(t->csv, &t->row, &cerr);
	if (rv < 0) {
		snprintf(t->err, t->err_size, "%s:%zu:%zu: %s", t->file,
		    cerr.line, cerr.col, cerr.msg);
		return rv;
	}
	/* Every row has exactly the header's fields: a short row would
	 * otherwise be read with the previous row's values. */
	if (rv == 1 && t->row.nfields != t->nheader) {
		snprintf(t->err, t->err_size, "%s:%zu: expected %zu fields",
		    t->file, t->row.line, t->nheader);
		return -HSI_EINVAL;
	}
	return rv;
}

const char *
hsi_table_get(const hsi_table *t, size_t w)
{
	return t->col[w] < 0 ? NULL : t->row.fields[t->col[w]].ptr;
}

void
hsi_table_close(hsi_table *t)
{
	hsi_csv_close(t->csv);
	t->csv = NULL;
}
