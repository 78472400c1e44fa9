/*
 * validate.c: row validation shared by nodes, the API and the scorer.
 */
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "error.h"

/* CSV columns are the format-neutral fields, in the same order. */
enum { C_INDICATOR, C_AREA, C_PERIOD, C_VALUE, C_STATUS, C_NOTE, C_COUNT };
static const char *const col_names[C_COUNT]
    = { "indicator", "area", "period", "value", "status", "note" };

void
hsi_batch_init(hsi_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void
hsi_batch_fini(hsi_batch *b)
{
	for (size_t i = 0; i < b->n_obs; i++) {
		free(b->obs[i].note);
	}
	free(b->obs);
	free(b->issues);
	memset(b, 0, sizeof(*b));
}

__attribute__((format(printf, 7, 0))) static void
issue_fill(hsi_issue *is, size_t row, size_t col, const char *code,
    const char *field, const char *value, const char *fmt, va_list ap)
{
	memset(is, 0, sizeof(*is));
	is->row = (uint32_t) row;
	is->col = (uint32_t) col;
	snprintf(is->code, sizeof(is->code), "%s", code);
	snprintf(is->field, sizeof(is->field), "%s", field ? field : "");
	hsi_utf8_clip(value ? value : "", is->value, sizeof(is->value));
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	hsi_utf8_clip(msg, is->msg, sizeof(is->msg));
}

int
hsi_batch_issue(hsi_batch *b, size_t row, size_t col, const char *code,
    const char *field, const char *value, const char *fmt, ...)
{
	b->issues_seen++;
	if (strcmp(code, "E_NOT_OWNER") == 0 && b->not_owner_seen++ == 0) {
		b->not_owner_first_row = row;
	}
	if (b->n_issues >= HSI_MAX_ISSUES) {
		b->truncated = 1;
		return 0;
	}
	if (b->n_issues == b->cap_issues) {
		size_t     nc = b->cap_issues ? b->cap_issues * 2 : 16;
		hsi_issue *p  = realloc(b->issues, nc * sizeof(*p));
		if (p == NULL) {
			return HSI_ENOMEM;
		}
		b->issues     = p;
		b->cap_issues = nc;
	}
	va_list ap;
	va_start(ap, fmt);
	issue_fill(
	    &b->issues[b->n_issues++], row, col, code, field, value, fmt, ap);
	va_end(ap);
	return 0;
}

__attribute__((format(printf, 5, 6))) static void
set_issue(hsi_issue *is, const char *code, const char *field,
    const char *value, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	issue_fill(is, 0, 0, code, field, value, fmt, ap);
	va_end(ap);
}

/* Thai digits U+0E50..U+0E59 are E0 B9 90..99 in UTF-8. */
static int
ascii_digits(const char *s, char *out, size_t size)
{
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *) s; *p;) {
		if (k + 1 >= size) {
			return HSI_ETOOBIG;
		}
		if (p[0] == 0xE0 && p[1] == 0xB9 && p[2] >= 0x90
		    && p[2] <= 0x99) {
			out[k++] = (char) ('0' + (p[2] - 0x90));
			p += 3;
		} else {
			out[k++] = (char) *p++;
		}
	}
	out[k] = '\0';
	return 0;
}

int
hsi_parse_value(const char *s, double *out)
{
	char buf[64];
	if (ascii_digits(s, buf, sizeof(buf)) != 0) {
		return HSI_EINVAL;
	}
	/* Strictly [-+]digits[.digits]: no hex, inf, nan or exponents that
	 * strtod would take, and no thousands separators whose meaning
	 * differs between locales. */
	const char *p      = buf;
	int         digits = 0;
	if (*p == '-' || *p == '+') {
		p++;
	}
	while (*p >= '0' && *p <= '9') {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits++;
		}
	}
	if (*p != '\0' || digits == 0) {
		return HSI_EINVAL;
	}
	errno    = 0;
	double v = strtod(buf, NULL);
	if (errno != 0 || !isfinite(v)) {
		return HSI_ERANGE;
	}
	*out = v;
	return 0;
}

/* Canonical area code: "50", "TH-50" (ISO 3166-2) and "TH" accepted. */
static const hsi_area *
find_area(const hsi_catalog *cat, const char *s)
{
	char buf[HSI_SHORT_MAX];
	if (ascii_digits(s, buf, sizeof(buf)) != 0) {
		return NULL;
	}
	const hsi_area *a = hsi_catalog_area(cat, buf);
	if (a == NULL && strncmp(buf, "TH-", 3) == 0) {
		a = hsi_catalog_area(cat, buf + 3);
	}
	return a;
}

int
hsi_validate_obs(
    const hsi_catalog *cat, const char *agency, hsi_obs *o, hsi_issue *iss)
{
	const hsi_indicator *d = hsi_catalog_indicator(cat, o->indicator);
	if (d == NULL) {
		set_issue(iss, "E_UNKNOWN_INDICATOR", "indicator",
		    o->indicator,
		    "indicator '%s' is not in the catalog (version %u); check "
		    "the code against the catalog",
		    o->indicator, cat->version);
		return HSI_EINVAL;
	}
	if (strcmp(d->agency, agency) != 0) {
		set_issue(iss, "E_NOT_OWNER", "indicator", o->indicator,
		    "indicator '%s' belongs to agency %s, not %s; only the "
		    "owner may submit it",
		    o->indicator, d->agency, agency);
		return HSI_EINVAL;
	}
	if (hsi_catalog_area(cat, o->area) == NULL) {
		set_issue(iss, "E_UNKNOWN_AREA", "area", o->area,
		    "area '%s' is not a province (DOPA code such as 50 or "
		    "TH-50), region or TH",
		    o->area);
		return HSI_EINVAL;
	}
	hsi_period     p;
	hsi_period_err perr;
	if (hsi_period_parse(o->period, strlen(o->period), &p, &perr) != 0) {
		set_issue(
		    iss, "E_PERIOD", "period", o->period, "%s", perr.msg);
		return HSI_EINVAL;
	}
	if (p.freq != d->freq) {
		char canon[HSI_PERIOD_MAX];
		hsi_period_format(&p, canon, sizeof(canon));
		set_issue(iss, "E_PERIOD_FREQ", "period", o->period,
		    "indicator %s is %s but period %s is %s; send one value "
		    "per %s period",
		    d->code, hsi_freq_name(d->freq), canon,
		    hsi_freq_name(p.freq), hsi_freq_name(d->freq));
		return HSI_EINVAL;
	}
	hsi_period_format(&p, o->period, sizeof(o->period));
	o->year  = hsi_period_index_year(&p, 0);
	o->fyear = hsi_period_index_year(&p, 1);
	if (o->status != 'A' && o->status != 'E' && o->status != 'P'
	    && o->status != 'M') {
		char sv[2] = { o->status, 0 };
		set_issue(iss, "E_STATUS", "status", sv,
		    "status must be A (normal), E (estimated), P "
		    "(provisional) or M (missing)");
		return HSI_EINVAL;
	}
	if ((o->status == 'M') == (o->has_value != 0)) {
		set_issue(iss, o->has_value ? "E_STATUS" : "E_VALUE_MISSING",
		    "value", "",
		    o->has_value
		        ? "status M (missing) must have an empty value"
		        : "value is empty; give a number, or status M "
		          "if the value is not available");
		return HSI_EINVAL;
	}
	if (o->has_value
	    && (!isfinite(o->value) || o->value < d->hard_min
	        || o->value > d->hard_max)) {
		char vs[40];
		snprintf(vs, sizeof(vs), "%.17g", o->value);
		set_issue(iss, "E_VALUE_RANGE", "value", vs,
		    "value %s is outside the plausible range %g..%g %s of %s; "
		    "check the unit and the figure",
		    vs, d->hard_min, d->hard_max, d->unit ? d->unit : "",
		    d->code);
		return HSI_EINVAL;
	}
	return 0;
}

/* Characters (not bytes) in the first n bytes of s, for columns. */
static size_t
utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n && s[i]; i++) {
		c += ((unsigned char) s[i] & 0xC0) != 0x80;
	}
	return c;
}

static hsi_obs *
new_obs(hsi_batch *b)
{
	if (b->n_obs == b->cap_obs) {
		size_t   nc = b->cap_obs ? b->cap_obs * 2 : 256;
		hsi_obs *p  = realloc(b->obs, nc * sizeof(*p));
		if (p == NULL) {
			return NULL;
		}
		b->obs     = p;
		b->cap_obs = nc;
	}
	hsi_obs *o = &b->obs[b->n_obs];
	memset(o, 0, sizeof(*o));
	return o;
}

static int
read_header(hsi_batch *b, const hsi_csv_row *row, int col[C_COUNT])
{
	for (int c = 0; c < C_COUNT; c++) {
		col[c] = -1;
	}
	for (size_t f = 0; f < row->nfields; f++) {
		int known = 0;
		for (int c = 0; c < C_COUNT; c++) {
			if (strcmp(row->fields[f].ptr, col_names[c]) == 0) {
				col[c] = (int) f;
				known  = 1;
			}
		}
		if (!known) {
			b->file_error = 1;
			return hsi_batch_issue(b, row->line,
			    row->fields[f].col, "E_HEADER", "header",
			    row->fields[f].ptr,
			    "unknown column '%s'; the header must be "
			    "indicator,area,period,value[,status,note]",
			    row->fields[f].ptr);
		}
	}
	for (int c = 0; c < C_VALUE + 1; c++) {
		if (col[c] < 0) {
			b->file_error = 1;
			return hsi_batch_issue(b, row->line, 1, "E_HEADER",
			    "header", col_names[c],
			    "the header has no column '%s'; the header must "
			    "be indicator,area,period,value[,status,note]",
			    col_names[c]);
		}
	}
	return 0;
}

static const hsi_csv_field *
fld(const hsi_csv_row *row, int c)
{
	return c >= 0 && (size_t) c < row->nfields ? &row->fields[c] : NULL;
}

static int
copy_field(hsi_batch *b, size_t line, const hsi_csv_field *f, const char *name,
    char *dst, size_t size, int *bad)
{
	if (f == NULL || f->len == 0) {
		*bad = 1;
		return hsi_batch_issue(b, line, f ? f->col : 1,
		    "E_FIELD_EMPTY", name, "",
		    "field %s is empty; every row needs one", name);
	}
	if (f->len >= size) {
		*bad = 1;
		return hsi_batch_issue(b, line, f->col, "E_TOO_LONG", name,
		    f->ptr, "field %s is longer than %zu bytes", name,
		    size - 1);
	}
	memcpy(dst, f->ptr, f->len + 1);
	return 0;
}

int
hsi_validate_row(hsi_batch *b, const hsi_catalog *cat, const char *agency,
    size_t line, const hsi_csv_field *const f[HSI_F_COUNT])
{
	int      bad = 0, rv;
	char     raw_period[65]; /* any accepted spelling, before canonical */
	hsi_obs *o = new_obs(b);
	if (o == NULL) {
		return HSI_ENOMEM;
	}
	o->row = (uint32_t) line;
	if ((rv = copy_field(b, line, f[HSI_F_INDICATOR], "indicator",
	         o->indicator, sizeof(o->indicator), &bad))
	    || (rv = copy_field(b, line, f[HSI_F_AREA], "area", o->area,
	            sizeof(o->area), &bad))
	    || (rv = copy_field(b, line, f[HSI_F_PERIOD], "period", raw_period,
	            sizeof(raw_period), &bad))) {
		return rv;
	}
	if (bad) {
		return 0;
	}
	const hsi_csv_field *st = f[HSI_F_STATUS];
	o->status               = st && st->len ? st->ptr[0] : 'A';
	if (st && st->len > 1) {
		o->status = '?';
	}
	const hsi_csv_field *vf = f[HSI_F_VALUE];
	if (vf && vf->len > 0) {
		if (hsi_parse_value(vf->ptr, &o->value) != 0) {
			return hsi_batch_issue(b, line, vf->col, "E_VALUE",
			    "value", vf->ptr,
			    "'%s' is not a number; write digits with an "
			    "optional '.' decimal point and no thousands "
			    "separator (e.g. 1234.5)",
			    vf->ptr);
		}
		o->has_value = 1;
	}
	const hsi_area *a = find_area(cat, o->area);
	if (a != NULL) {
		snprintf(o->area, sizeof(o->area), "%s", a->code);
	}
	/* The period may be in any accepted form; validate_obs needs it
	 * canonical, so parse here from the raw field. */
	hsi_period     p;
	hsi_period_err perr;
	if (hsi_period_parse(raw_period, strlen(raw_period), &p, &perr) != 0) {
		return hsi_batch_issue(b, line,
		    (f[HSI_F_PERIOD] ? f[HSI_F_PERIOD]->col : 1)
		        + utf8_chars(raw_period, perr.offset),
		    "E_PERIOD", "period", raw_period, "%s", perr.msg);
	}
	hsi_period_format(&p, o->period, sizeof(o->period));
	hsi_issue iss;
	if (hsi_validate_obs(cat, agency, o, &iss) != 0) {
		int c = strcmp(iss.field, "indicator") == 0 ? HSI_F_INDICATOR
		    : strcmp(iss.field, "area") == 0        ? HSI_F_AREA
		    : strcmp(iss.field, "period") == 0      ? HSI_F_PERIOD
		    : strcmp(iss.field, "status") == 0      ? HSI_F_STATUS
		                                            : HSI_F_VALUE;
		/* Quote what the officer wrote, not our canonical form. */
		if (c == HSI_F_AREA || c == HSI_F_PERIOD) {
			hsi_utf8_clip(
			    c == HSI_F_AREA ? f[HSI_F_AREA]->ptr : raw_period,
			    iss.value, sizeof(iss.value));
		}
		return hsi_batch_issue(b, line, f[c] ? f[c]->col : 1, iss.code,
		    iss.field, iss.value, "%s", iss.msg);
	}
	const hsi_csv_field *nf = f[HSI_F_NOTE];
	if (nf && nf->len > HSI_NOTE_MAX) {
		return hsi_batch_issue(b, line, nf->col, "E_TOO_LONG", "note",
		    "", "note is longer than %d bytes", HSI_NOTE_MAX);
	}
	if (nf && nf->len > 0 && (o->note = strdup(nf->ptr)) == NULL) {
		return HSI_ENOMEM;
	}
	b->n_obs++;
	return 0;
}

static int
cmp_key(const void *x, const void *y)
{
	const hsi_obs *a = *(hsi_obs *const *) x, *b = *(hsi_obs *const *) y;
	int            c = strcmp(a->indicator, b->indicator);
	if (c == 0) {
		c = strcmp(a->area, b->area);
	}
	if (c == 0) {
		c = strcmp(a->period, b->period);
	}
	if (c == 0) {
		c = a->row < b->row ? -1 : a->row > b->row;
	}
	return c;
}

/* Both rows of a duplicated key are wrong (which one is meant?), so all
 * are reported and removed from the valid set. */
int
hsi_validate_done(hsi_batch *b)
{
	if (b->n_obs < 2) {
		return 0;
	}
	hsi_obs **v   = malloc(b->n_obs * sizeof(*v));
	char     *dup = calloc(b->n_obs, 1);
	int       rv  = 0;
	if (v == NULL || dup == NULL) {
		free(v);
		free(dup);
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < b->n_obs; i++) {
		v[i] = &b->obs[i];
	}
	qsort(v, b->n_obs, sizeof(*v), cmp_key);
	for (size_t i = 0; i + 1 < b->n_obs; i++) {
		hsi_obs *x = v[i], *y = v[i + 1];
		if (strcmp(x->indicator, y->indicator) == 0
		    && strcmp(x->area, y->area) == 0
		    && strcmp(x->period, y->period) == 0) {
			dup[x - b->obs] = dup[y - b->obs] = 1;
			char key[80];
			snprintf(key, sizeof(key), "%s/%s/%s", y->indicator,
			    y->area, y->period);
			rv = hsi_batch_issue(b, y->row, 1, "E_DUPLICATE",
			    "indicator", key,
			    "(%s, %s, %s) also appears on line %u; keep one "
			    "row per indicator, area and period",
			    y->indicator, y->area, y->period, x->row);
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < b->n_obs; i++) {
		if (dup[i]) {
			free(b->obs[i].note);
			b->bad_rows++;
		} else {
			b->obs[k++] = b->obs[i];
		}
	}
	b->n_obs = k;
	free(v);
	free(dup);
	return rv;
}

int
hsi_batch_too_big(hsi_batch *b, size_t len, int *rv)
{
	if (len <= (size_t) HSI_FILE_MAX_BYTES) {
		return 0;
	}
	b->file_error = 1;
	*rv           = hsi_batch_issue(b, 0, 0, "E_FILE_TOO_BIG", "file", "",
	              "the file is over %ld MiB; split it by year",
	              HSI_FILE_MAX_BYTES >> 20);
	return 1;
}

int
hsi_validate_csv(const hsi_catalog *cat, const char *agency, const char *buf,
    size_t len, hsi_batch *b)
{
	int rv;
	if (hsi_batch_too_big(b, len, &rv)) {
		return rv;
	}
	hsi_csv    *csv;
	hsi_csv_row row;
	hsi_csv_err cerr;
	int         col[C_COUNT];
	rv = hsi_csv_open(buf, len, NULL, &csv);
	if (rv != 0) {
		return rv;
	}
	int got = hsi_csv_next(csv, &row, &cerr);
	if (got <= 0) {
		b->file_error = 1;
		rv            = hsi_batch_issue(b, got < 0 ? cerr.line : 1,
                    got < 0 ? cerr.col : 1, got < 0 ? cerr.code : "E_HEADER",
		               "header", "", "%s",
                    got < 0 ? cerr.msg
		                       : "the file is empty; it needs the header "
		                         "indicator,area,period,value[,status,note]");
		hsi_csv_close(csv);
		return rv;
	}
	if ((rv = read_header(b, &row, col)) != 0 || b->file_error) {
		hsi_csv_close(csv);
		return rv;
	}
	while (rv == 0 && (got = hsi_csv_next(csv, &row, &cerr)) != 0) {
		size_t before = b->issues_seen;
		b->rows++;
		if (got < 0) {
			rv = hsi_batch_issue(b, cerr.line, cerr.col, cerr.code,
			    "", "", "%s", cerr.msg);
		} else if (row.nfields > (size_t) C_COUNT) {
			rv = hsi_batch_issue(b, row.line,
			    row.fields[C_COUNT].col, "E_FIELD_COUNT", "", "",
			    "row has %zu fields; expected at most %d "
			    "(quote a note that contains commas)",
			    row.nfields, C_COUNT);
		} else {
			const hsi_csv_field *f[HSI_F_COUNT];
			for (int c = 0; c < C_COUNT; c++) {
				f[c] = fld(&row, col[c]);
			}
			rv = hsi_validate_row(b, cat, agency, row.line, f);
		}
		if (b->issues_seen > before) {
			b->bad_rows++;
		}
	}
	hsi_csv_close(csv);
	return rv != 0 ? rv : hsi_validate_done(b);
}
