/*
 * jsonl.c: the JSON lines reader (docs/formats.md). Each line is parsed on
 * its own by jansson, so one broken line is one issue and the lines after
 * it are still checked, as in the CSV reader. A line's members become the
 * text fields of hsi_validate_row, numbers included, so a value written
 * 12.5, "12.5" or "๑๒.๕" meets the very same value check.
 *
 * jansson reports no positions for members, so this file finds them in
 * the line's text itself, to give each field the column of its value.
 */
#include "format.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const keys[HSI_F_COUNT]
    = { "indicator", "area", "period", "value", "status", "note" };
static const char *const examples[HSI_F_COUNT]
    = { "hlt_stunting", "TH-50", "2567", "12.5", "E", "..." };
#define KEYS_HELP "indicator, area, period, value, status and note"

static int
key_index(const char *key)
{
	for (int k = 0; k < HSI_F_COUNT; k++) {
		if (strcmp(key, keys[k]) == 0) {
			return k;
		}
	}
	return -1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* 1-based column, in characters, of byte off of the line. */
static size_t
char_col(const char *s, size_t off)
{
	size_t col = 1;
	for (size_t i = 0; i < off; i++) {
		col += ((unsigned char) s[i] & 0xC0) != 0x80;
	}
	return col;
}

/*
 * Column of the member named key (written without escapes) at the top
 * level of the object on the line: of its value if want_value, else of the
 * key. 1 when not found; 0 without a line (hsi_validate_json_rows). Only
 * called on text jansson accepted, so strings are closed and brackets
 * balanced.
 */
static size_t
member_col(const char *s, size_t n, const char *key, int want_value)
{
	size_t klen  = strlen(key);
	int    depth = 0;
	if (s == NULL) {
		return 0; /* parsed elsewhere: no text, no columns */
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		}
		if (s[i] != '"') {
			continue;
		}
		size_t start = i, end = i + 1;
		while (end < n && s[end] != '"') {
			end += s[end] == '\\' ? 2 : 1;
		}
		if (end >= n) {
			return 1;
		}
		i        = end;
		size_t j = end + 1;
		while (j < n && is_space(s[j])) {
			j++;
		}
		if (depth != 1 || j >= n || s[j] != ':'
		    || end - start - 1 != klen
		    || memcmp(s + start + 1, key, klen) != 0) {
			continue;
		}
		if (!want_value) {
			return char_col(s, start);
		}
		for (j++; j < n && is_space(s[j]);) {
			j++;
		}
		return char_col(s, j);
	}
	return 1;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "true or false";
	case JSON_NULL:
		break;
	}
	return "null";
}

/*
 * The text hsi_parse_value reads: plain decimal, never an exponent (which
 * it refuses, rightly for CSV text). %.17g keeps every double exact; only
 * numbers below 1e-4 or from 1e17 up need the fixed form, rounded to 40
 * decimals (so 1e-45 reads as 0).
 */
static void
number_text(const json_t *v, char *buf, size_t size)
{
	if (json_is_integer(v)) {
		snprintf(
		    buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	double d = json_real_value(v);
	snprintf(buf, size, "%.17g", d);
	if (strchr(buf, 'e') == NULL) {
		return;
	}
	snprintf(buf, size, "%.40f", d);
	char *end = buf + strlen(buf);
	while (end > buf && end[-1] == '0') {
		*--end = '\0';
	}
	if (end > buf && end[-1] == '.') {
		end[-1] = '\0';
	}
}

/* Room for "%.40f" of any double below 1e40 (see take_number). */
#define NUM_MAX 96

typedef struct {
	const char   *s; /* the line, without its end */
	size_t        n;
	size_t        line;
	hsi_csv_field fv[HSI_F_COUNT];
	char          num[NUM_MAX];
	int           bad;     /* a problem was reported: do not validate */
	int           unknown; /* an unknown key was reported */
} jrow;

/* A JSON number as the value field. Beyond 1e40 the decimal text would
 * pass hsi_parse_value's length cap and be called "not a number"; no
 * indicator's range comes near, so say that instead. */
static int
take_number(hsi_batch *b, jrow *r, const json_t *v)
{
	hsi_csv_field *f = &r->fv[HSI_F_VALUE];
	if (json_is_real(v) && !(fabs(json_real_value(v)) < 1e40)) {
		char shown[32];
		r->bad = 1;
		snprintf(shown, sizeof(shown), "%g", json_real_value(v));
		return hsi_batch_issue(b, r->line, f->col, "E_VALUE_RANGE",
		    "value", shown,
		    "value %s is outside the plausible range of every "
		    "indicator; check the unit and the figure",
		    shown);
	}
	number_text(v, r->num, sizeof(r->num));
	f->ptr = r->num;
	f->len = strlen(r->num);
	return 0;
}

/*
 * Turns member key: v into its row field, or reports why it cannot. Only
 * the first unknown key of a line is reported: finding a key's column
 * scans the line, and a line of thousands of keys must stay cheap.
 */
static int
take_member(hsi_batch *b, jrow *r, const char *key, const json_t *v)
{
	int  k = key_index(key);
	char clip[48];
	if (k < 0 && r->unknown) {
		return 0;
	}
	if (k < 0) {
		r->bad     = 1;
		r->unknown = 1;
		hsi_utf8_clip(key, clip, sizeof(clip));
		return hsi_batch_issue(b, r->line,
		    member_col(r->s, r->n, key, 0), "E_UNKNOWN_FIELD", "key",
		    key,
		    "unknown key \"%s\"; the keys are " KEYS_HELP
		    " (value, status and note optional)",
		    clip);
	}
	hsi_csv_field *f = &r->fv[k];
	if (json_is_null(v)) {
		return 0; /* as if absent */
	}
	f->line = r->line;
	f->col  = member_col(r->s, r->n, key, 1);
	if (json_is_string(v)) {
		f->ptr = json_string_value(v);
		f->len = json_string_length(v);
	} else if (k == HSI_F_VALUE && json_is_number(v)) {
		return take_number(b, r, v);
	} else if (k == HSI_F_VALUE) {
		r->bad = 1;
		return hsi_batch_issue(b, r->line, f->col, "E_TYPE", key, "",
		    "value is %s; give a number (12.5), a numeric string "
		    "(\"12.5\") or null with status \"M\"",
		    type_name(v));
	} else {
		r->bad = 1;
		return hsi_batch_issue(b, r->line, f->col, "E_TYPE", key, "",
		    "%s is %s; write it as a string in quotes, e.g. "
		    "\"%s\": \"%s\"",
		    key, type_name(v), key, examples[k]);
	}
	return 0;
}

static int
read_object(hsi_batch *b, const hsi_catalog *cat, const char *agency, jrow *r,
    json_t *obj)
{
	const char *key;
	json_t     *v;
	int         rv = 0;
	json_object_foreach(obj, key, v)
	{
		if ((rv = take_member(b, r, key, v)) != 0) {
			return rv;
		}
	}
	if (r->bad) {
		return 0;
	}
	const hsi_csv_field *f[HSI_F_COUNT];
	for (int k = 0; k < HSI_F_COUNT; k++) {
		f[k] = r->fv[k].ptr ? &r->fv[k] : NULL;
	}
	return hsi_validate_row(b, cat, agency, r->line, f);
}

/* Checks what jansson would not say well (length, encoding), parses. */
static int
read_line(hsi_batch *b, const hsi_catalog *cat, const char *agency,
    const char *s, size_t n, size_t line)
{
	if (n > HSI_JSONL_LINE_MAX) {
		return hsi_batch_issue(b, line, 1, "E_TOO_LONG", "", "",
		    "the line is longer than %d bytes; put one observation "
		    "on each line",
		    HSI_JSONL_LINE_MAX);
	}
	const char *nul = memchr(s, '\0', n);
	if (nul != NULL) {
		return hsi_batch_issue(b, line,
		    char_col(s, (size_t) (nul - s)), "E_ENCODING", "", "",
		    "NUL byte: the file is probably UTF-16; save it as UTF-8");
	}
	size_t bad = hsi_utf8_check(s, n);
	if (bad != 0) {
		return hsi_batch_issue(b, line, char_col(s, bad - 1),
		    "E_ENCODING", "", "",
		    "not UTF-8; save the file as UTF-8 (iconv -f TIS-620 -t "
		    "UTF-8 converts Thai Windows text)");
	}
	json_error_t jerr;
	json_t      *obj = json_loadb(
	         s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (obj == NULL) {
		char text[128];
		hsi_utf8_clip(jerr.text, text, sizeof(text));
		return hsi_batch_issue(b, line,
		    jerr.column > 0 ? (size_t) jerr.column : 1, "E_JSON", "",
		    "",
		    "invalid JSON: %s; write one object a line, e.g. "
		    "{\"indicator\": \"...\", \"area\": \"50\", ...}",
		    text);
	}
	int rv;
	if (!json_is_object(obj)) {
		rv = hsi_batch_issue(b, line, 1, "E_JSON", "", "",
		    "the line is %s, not a JSON object; write one object a "
		    "line with the keys " KEYS_HELP,
		    type_name(obj));
	} else {
		jrow r = { .s = s, .n = n, .line = line };
		rv     = read_object(b, cat, agency, &r, obj);
	}
	json_decref(obj);
	return rv;
}

static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_space(s[i])) {
			return 0;
		}
	}
	return 1;
}

int
hsi_validate_jsonl(const hsi_catalog *cat, const char *agency, const char *buf,
    size_t len, hsi_batch *b)
{
	int    rv   = 0;
	size_t pos  = 0;
	size_t line = 0;
	if (hsi_batch_too_big(b, len, &rv)) {
		return rv;
	}
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		pos = 3; /* a BOM is not a character: columns start after it */
	}
	while (rv == 0 && pos < len) {
		const char *s  = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t      n  = nl ? (size_t) (nl - s) : len - pos;
		pos += n + (nl != NULL);
		line++;
		if (n > 0 && s[n - 1] == '\r') {
			n--;
		}
		if (blank(s, n)) {
			continue;
		}
		/* A row that added no observation was refused, whether its
		 * issue was kept or fell past the cap. */
		size_t before = b->n_obs;
		b->rows++;
		rv = read_line(b, cat, agency, s, n, line);
		if (b->n_obs == before) {
			b->bad_rows++;
		}
	}
	return rv != 0 ? rv : hsi_validate_done(b);
}

int
hsi_validate_json_rows(const hsi_catalog *cat, const char *agency,
    const json_t *rows, hsi_batch *b)
{
	int rv = 0;
	for (size_t i = 0; rv == 0 && i < json_array_size(rows); i++) {
		rv = hsi_validate_json_row(
		    cat, agency, json_array_get(rows, i), i + 1, b);
	}
	return rv != 0 ? rv : hsi_validate_done(b);
}

int
hsi_validate_json_row(const hsi_catalog *cat, const char *agency,
    const json_t *obj, size_t row, hsi_batch *b)
{
	int    rv;
	size_t before = b->n_obs;
	b->rows++;
	if (!json_is_object(obj)) {
		rv = hsi_batch_issue(b, row, 0, "E_JSON", "", "",
		    "row %zu is %s, not a JSON object; give each row "
		    "as an object with the keys " KEYS_HELP,
		    row, type_name(obj));
	} else {
		jrow r = { .s = NULL, .n = 0, .line = row };
		rv     = read_object(b, cat, agency, &r, (json_t *) obj);
	}
	if (b->n_obs == before) {
		b->bad_rows++;
	}
	return rv;
}
