/*
 * submit_body.c: the body of POST /v1/observations (see submit_int.h).
 *
 * Each format goes to the ingest node's own reader (common/format.h), so a
 * row means the same whether a node or the gateway carried it: CSV and
 * SDMX-CSV as a ".csv" file, JSON lines as a ".jsonl" file. A JSON object
 * of rows is the one form only the gateway takes: its shape is the
 * contract's ObservationBatch and is checked first like any JSON body
 * (400 naming the field by its JSON pointer), then each row goes through
 * the JSON-lines reader, item i as row i + 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "format.h"
#include "reply.h"
#include "submit_int.h"
#include "text.h"

static const char *const format_names[]
    = { "agency_csv", "sdmx_csv", "jsonl", "json" };

const char *
hsi_submit_format_name(hsi_submit_format f)
{
	return format_names[f];
}

/* Whether the parameters after the media type (";charset=utf-8;
 * header=present") allow UTF-8: a charset, if given, must be it. */
static int
utf8_params(const char *p)
{
	while ((p = strchr(p, ';')) != NULL) {
		p++;
		p += strspn(p, " \t");
		if (strncasecmp(p, "charset=", 8) == 0) {
			const char *v = p + 8;
			size_t      n = strcspn(v, "; \t");
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				v++;
				n -= 2;
			}
			return (n == 5 && strncasecmp(v, "utf-8", 5) == 0)
			    || (n == 4 && strncasecmp(v, "utf8", 4) == 0);
		}
	}
	return 1;
}

static int
media_is(const char *type, const char *want)
{
	size_t n = strcspn(type, "; \t");
	return n == strlen(want) && strncasecmp(type, want, n) == 0;
}

int
hsi_submit_format_of(hsi_call *c, hsi_submit_format *f)
{
	const char *t = hsi_call_header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *body;
	size_t      len;
	char        detail[300], shown[HSI_SHOWN_MAX + 4];
	if (t != NULL && utf8_params(t)) {
		if (media_is(t, "text/csv")) {
			hsi_call_body(c, &body, &len);
			*f = hsi_format_is_sdmx(body, len)
			    ? HSI_SUBMIT_SDMX_CSV
			    : HSI_SUBMIT_AGENCY_CSV;
			return 0;
		}
		if (media_is(t, "application/x-ndjson")) {
			*f = HSI_SUBMIT_JSONL;
			return 0;
		}
		if (media_is(t, "application/json")) {
			*f = HSI_SUBMIT_JSON;
			return 0;
		}
	}
	hsi_text_shown(shown, sizeof(shown), t ? t : "", t ? strlen(t) : 0);
	snprintf(detail, sizeof(detail),
	    "%s%s%s: send the rows as text/csv (agency CSV or SDMX-CSV), "
	    "application/x-ndjson (JSON lines) or application/json "
	    "({\"rows\": [...]}), in UTF-8",
	    t ? "Content-Type '" : "no Content-Type", t ? shown : "",
	    t ? "' is not accepted" : "");
	int rv = hsi_reply_problem(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
	    "unsupported-media-type", "Unsupported media type", detail);
	return rv ? rv : HSI_EINVAL;
}

/* ---- the JSON object of rows -------------------------------------------- */

static const hsi_jfield row_fields[] = {
	{ .name    = "indicator",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = HSI_SUBMIT_FIELD_BYTES },
	{ .name    = "area",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = HSI_SUBMIT_FIELD_BYTES },
	{ .name    = "period",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = HSI_SUBMIT_FIELD_BYTES },
	/* A number, a numeric string or null: checked in value_types. */
	{ .name = "value", .type = HSI_JT_ANY, .flags = HSI_JF_NULLABLE },
	{ .name    = "status",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_NULLABLE,
	    .max   = HSI_SUBMIT_FIELD_BYTES },
	{ .name    = "note",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_NULLABLE,
	    .max   = HSI_SUBMIT_FIELD_BYTES },
	{ .name = NULL },
};

static const hsi_jfield batch_fields[] = {
	{ .name     = "rows",
	    .type   = HSI_JT_ARRAY,
	    .flags  = HSI_JF_REQUIRED | HSI_JF_STREAM,
	    .max    = HSI_SUBMIT_JSON_ROWS,
	    .item   = HSI_JT_OBJECT,
	    .fields = row_fields },
	{ .name = NULL },
};

static int
body_refused(hsi_call *c, const char *slug, const char *title,
    const char *field, const char *detail)
{
	hsi_problem p  = { .status = MHD_HTTP_BAD_REQUEST,
		 .slug             = slug,
		 .title            = title,
		 .detail           = detail,
		 .field            = field };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

typedef struct {
	hsi_call          *c;
	const hsi_catalog *cat;
	const char        *agency;
	hsi_batch         *b;
	int                answered; /* a problem is queued */
} json_reader;

/* What the field check cannot say: each value a number, a string (of at
 * most HSI_SUBMIT_FIELD_BYTES) or null. Then the row goes through the
 * JSON-lines reader, item i as row i + 1, and is freed: memory holds one
 * row of JSON at a time, however many rows the body has. */
static int
json_row(void *arg, const json_t *row, size_t i, const char *at)
{
	json_reader  *r = arg;
	const json_t *v = json_object_get(row, "value");
	char          field[96], detail[200];
	snprintf(field, sizeof(field), "%s/value", at);
	if (v != NULL && !json_is_number(v) && !json_is_string(v)
	    && !json_is_null(v)) {
		snprintf(detail, sizeof(detail),
		    "field '%s' is neither a number, a string nor "
		    "null: send 12.5, \"12.5\", or null with status "
		    "\"M\"",
		    field);
		r->answered = 1;
		return body_refused(
		    r->c, "wrong-type", "Wrong type", field, detail);
	}
	if (json_is_string(v)
	    && json_string_length(v) > HSI_SUBMIT_FIELD_BYTES) {
		snprintf(detail, sizeof(detail),
		    "field '%s' is longer than %d bytes: shorten it", field,
		    HSI_SUBMIT_FIELD_BYTES);
		r->answered = 1;
		return body_refused(
		    r->c, "too-long", "Value too long", field, detail);
	}
	return hsi_validate_json_row(r->cat, r->agency, row, i + 1, r->b);
}

static int
read_json(
    hsi_call *c, const hsi_catalog *cat, const char *agency, hsi_batch *b)
{
	json_reader  r = { .c = c, .cat = cat, .agency = agency, .b = b };
	hsi_body_err e;
	const char  *body;
	size_t       len;
	hsi_call_body(c, &body, &len);
	int rv = hsi_body_json_stream(
	    body, len, 0, batch_fields, json_row, &r, &e);
	if (rv == 0 && b->rows == 0) {
		return body_refused(c, "invalid-field", "Invalid field",
		    "/rows",
		    "rows is empty: send at least one row ({\"indicator\": "
		    "..., \"area\": ..., \"period\": ..., \"value\": ...})");
	}
	if (rv == 0) {
		rv = hsi_validate_done(b);
	}
	if (rv == HSI_EINVAL && !r.answered) {
		return hsi_call_body_problem(c, &e);
	}
	return r.answered ? (rv ? rv : HSI_EINVAL) : rv;
}

int
hsi_submit_read(hsi_call *c, const hsi_catalog *cat, const char *agency,
    hsi_submit_format f, hsi_batch *b)
{
	const char *body;
	size_t      len;
	int         rv;
	hsi_call_body(c, &body, &len);
	switch (f) {
	case HSI_SUBMIT_AGENCY_CSV:
		rv = hsi_validate_csv(cat, agency, body, len, b);
		break;
	case HSI_SUBMIT_SDMX_CSV:
		rv = hsi_validate_sdmx(cat, agency, body, len, b);
		break;
	case HSI_SUBMIT_JSONL:
		rv = hsi_validate_jsonl(cat, agency, body, len, b);
		break;
	default:
		rv = read_json(c, cat, agency, b);
		if (rv != HSI_ENOMEM) {
			return rv;
		}
	}
	if (rv != 0) {
		/* Only out of memory: the readers report everything else
		 * as issues. */
		rv = hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "Internal error",
		    "the server ran out of memory reading the body; send "
		    "fewer rows at once");
		return rv ? rv : HSI_ENOMEM;
	}
	return 0;
}

json_t *
hsi_submit_issues(const hsi_batch *b, const char *code)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < b->n_issues; i++) {
		const hsi_issue *is = &b->issues[i];
		if (code != NULL && strcmp(is->code, code) != 0) {
			continue;
		}
		json_t *o = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s}", "row",
		    is->row > 0 ? (int) is->row : 1, "column", (int) is->col,
		    "code", is->code, "field", is->field, "value", is->value,
		    "message", is->msg);
		if (o == NULL) {
			/* Text that is not UTF-8 (jansson refuses it). */
			o = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s}", "row",
			    is->row > 0 ? (int) is->row : 1, "column",
			    (int) is->col, "code", is->code, "field", "",
			    "value", "", "message",
			    "(the message quotes bytes that are not UTF-8)");
		}
		if (o == NULL || json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
hsi_submit_send(
    hsi_call *c, unsigned status, const char *body, const char *const *headers)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp != NULL) {
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, HSI_SUBMIT_JSON_TYPE);
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		for (int i = 0; headers != NULL && headers[i] != NULL;
		     i += 2) {
			MHD_add_response_header(
			    resp, headers[i], headers[i + 1]);
		}
	}
	return hsi_reply_queue(c, status, resp);
}
