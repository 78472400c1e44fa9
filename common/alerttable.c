/*
 * alerttable.c: the tables for people of alertops.h (hsictl alerts list,
 * show and silence list): one line per alert, silence or event, columns
 * padded by display width so that Thai and other UTF-8 text lines up.
 * They print the JSON that alertops.c's listings return, and touch no
 * database.
 */
#include "alertops.h"

#include <stdlib.h>
#include <string.h>

#include "alertops_int.h"
#include "error.h"

/* ---- tables ------------------------------------------------------------- */

/* Columns a terminal gives code point c: Thai vowel and tone marks
 * above and below, and other combining marks, take none; East Asian wide
 * characters two. */
static size_t
cp_width(uint32_t c)
{
	if (c == 0x0E31 || (c >= 0x0E34 && c <= 0x0E3A)
	    || (c >= 0x0E47 && c <= 0x0E4E) || (c >= 0x0300 && c <= 0x036F)
	    || (c >= 0x200B && c <= 0x200F) || c == 0xFEFF) {
		return 0;
	}
	if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF)
	    || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF)
	    || (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6)
	    || (c >= 0x1F300 && c <= 0x1F64F)
	    || (c >= 0x20000 && c <= 0x3FFFD)) {
		return 2;
	}
	return 1;
}

/* Display width of s (valid UTF-8, as jansson's strings are). */
static size_t
text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t               w = 0;
	while (*p != '\0') {
		uint32_t c = *p++;
		int more   = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
		c &= more == 3 ? 0x07 : more == 2 ? 0x0F : more ? 0x1F : 0x7F;
		for (; more > 0 && (*p & 0xC0) == 0x80; more--) {
			c = (c << 6) | (*p++ & 0x3F);
		}
		w += cp_width(c);
	}
	return w;
}

typedef struct {
	size_t ncols, nrows, cap;
	char **cell; /* nrows * ncols, the first row the heading */
} table;

/* Adds a row (copied; a missing or empty cell shows "-", control
 * characters become spaces so a row stays one line). 0 or HSI_ENOMEM. */
static int
table_add(table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c   = realloc(t->cell, cap * t->ncols * sizeof(*c));
		if (c == NULL) {
			return HSI_ENOMEM;
		}
		t->cell = c;
		t->cap  = cap;
	}
	for (size_t j = 0; j < t->ncols; j++) {
		char *s = strdup(row[j] && row[j][0] ? row[j] : "-");
		for (char *p = s; p != NULL && *p; p++) {
			*p = (unsigned char) *p < 0x20 ? ' ' : *p;
		}
		t->cell[t->nrows * t->ncols + j] = s;
		if (s == NULL) {
			for (size_t k = 0; k < j; k++) {
				free(t->cell[t->nrows * t->ncols + k]);
			}
			return HSI_ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

/* Prints t, every column but the last padded to its widest cell, unless
 * rv (an error of table_add) is set, and frees it. rv, or 0 or HSI_EIO. */
static int
table_print(FILE *f, table *t, int rv)
{
	size_t w[16] = { 0 };
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t j = 0; j < t->ncols; j++) {
			size_t x = text_width(t->cell[i * t->ncols + j]);
			w[j]     = x > w[j] ? x : w[j];
		}
	}
	for (size_t i = 0; rv == 0 && i < t->nrows; i++) {
		for (size_t j = 0; j < t->ncols; j++) {
			const char *s = t->cell[i * t->ncols + j];
			fputs(s, f);
			if (j + 1 < t->ncols) {
				fprintf(f, "%*s",
				    (int) (w[j] - text_width(s) + 2), "");
			}
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		free(t->cell[i]);
	}
	free(t->cell);
	return rv ? rv : ferror(f) ? HSI_EIO : 0;
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *
summary(const json_t *alert)
{
	const json_t *an = json_object_get(alert, "annotations");
	const char   *th = str(an, "summary_th");
	return th && th[0] ? th : str(an, "summary");
}

static void
number(const json_t *v, char *buf, size_t size)
{
	snprintf(
	    buf, size, json_is_number(v) ? "%.4g" : "-", json_number_value(v));
}

int
hsi_alert_table_print(FILE *f, const json_t *alerts)
{
	/* AREA shows the agency for alerts about an agency (late_data). */
	static const char *const head[] = { "FINGERPRINT", "STATE", "RULE",
		"AREA", "PERIOD", "VALUE", "SINCE", "ACKED BY", "SUMMARY" };
	if (json_array_size(alerts) == 0) {
		fputs("no alerts\n", f);
		return ferror(f) ? HSI_EIO : 0;
	}
	table   t  = { .ncols = 9 };
	int     rv = table_add(&t, head);
	size_t  i;
	json_t *a;
	json_array_foreach(alerts, i, a)
	{
		const json_t *lb = json_object_get(a, "labels");
		char          fp[13], val[32], area[32], period[32];
		snprintf(fp, sizeof(fp), "%s", str(a, "fingerprint"));
		number(json_object_get(a, "value"), val, sizeof(val));
		const char *row[] = { fp, str(a, "state"), str(a, "rule"),
			json_object_get(lb, "area") != NULL
			    ? hsi_alertops_label_text(
			        lb, "area", area, sizeof(area))
			    : hsi_alertops_label_text(
			        lb, "agency", area, sizeof(area)),
			hsi_alertops_label_text(
			    lb, "period", period, sizeof(period)),
			val, str(a, "starts_at"),
			str(json_object_get(a, "acked"), "by"), summary(a) };
		rv                = rv ? rv : table_add(&t, row);
	}
	return table_print(f, &t, rv);
}

int
hsi_silence_table_print(FILE *f, const json_t *silences)
{
	static const char *const head[] = { "ID", "STATUS", "STARTS", "ENDS",
		"BY", "MATCHERS", "COMMENT" };
	if (json_array_size(silences) == 0) {
		fputs("no silences\n", f);
		return ferror(f) ? HSI_EIO : 0;
	}
	table   t  = { .ncols = 7 };
	int     rv = table_add(&t, head);
	size_t  i;
	json_t *s;
	json_array_foreach(silences, i, s)
	{
		char          id[24], ms[512] = "?";
		hsi_matchers *m;
		char          why[256];
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(s, "id")));
		if (hsi_matchers_from_json(
		        json_object_get(s, "matchers"), &m, why, sizeof(why))
		    == 0) {
			hsi_matchers_format(m, ms, sizeof(ms));
			hsi_matchers_free(m);
		}
		const char *row[] = { id, str(s, "status"),
			str(s, "starts_at"), str(s, "ends_at"),
			str(s, "created_by"), ms, str(s, "comment") };
		rv                = rv ? rv : table_add(&t, row);
	}
	return table_print(f, &t, rv);
}

int
hsi_alert_show_print(FILE *f, const json_t *a)
{
	const json_t *an  = json_object_get(a, "annotations");
	const json_t *ack = json_object_get(a, "acked");
	const char   *key;
	const json_t *v;
	char          val[32], thr[32];
	number(json_object_get(a, "value"), val, sizeof(val));
	number(json_object_get(a, "threshold"), thr, sizeof(thr));
	fprintf(f,
	    "fingerprint  %s\nrule         %s (%s)\nstate        %s since "
	    "%s%s%s\nvalue        %s (threshold %s)\nupdated      %s\n",
	    str(a, "fingerprint"), str(a, "rule"), str(a, "kind"),
	    str(a, "state"), str(a, "starts_at"),
	    str(a, "ends_at") ? ", ended " : "",
	    str(a, "ends_at") ? str(a, "ends_at") : "", val, thr,
	    str(a, "updated_at"));
	fputs("labels      ", f);
	json_object_foreach((json_t *) json_object_get(a, "labels"), key, v)
	{
		char buf[32];
		fprintf(f, " %s=%s", key,
		    hsi_alertops_label_text(
		        json_object_get(a, "labels"), key, buf, sizeof(buf)));
	}
	fprintf(f, "\nsummary      %s\nsummary_en   %s\n",
	    str(an, "summary_th") ? str(an, "summary_th") : "-",
	    str(an, "summary") ? str(an, "summary") : "-");
	if (json_is_object(ack)) {
		fprintf(f, "acked        by %s at %s until %s: %s\n",
		    str(ack, "by"), str(ack, "at"), str(ack, "expires"),
		    str(ack, "comment"));
	} else {
		fputs("acked        no\n", f);
	}
	fprintf(f, "events       %" JSON_INTEGER_FORMAT "\n\n",
	    json_integer_value(json_object_get(a, "events_total")));
	static const char *const head[]
	    = { "SEQ", "AT", "EVENT", "VALUE", "DETAIL" };
	table   t  = { .ncols = 5 };
	int     rv = table_add(&t, head);
	size_t  i;
	json_t *e;
	json_array_foreach(json_object_get(a, "events"), i, e)
	{
		char  seq[24], ev[32];
		char *d = json_dumps(json_object_get(e, "detail"),
		    JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(seq, sizeof(seq), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(e, "seq")));
		number(json_object_get(e, "value"), ev, sizeof(ev));
		const char *row[]
		    = { seq, str(e, "at"), str(e, "state"), ev, d };
		rv = rv ? rv : table_add(&t, row);
		free(d);
	}
	return table_print(f, &t, rv);
}
