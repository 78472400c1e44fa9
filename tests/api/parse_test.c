/*
 * parse_test.c: hsi-api's parsers that need no connection (the
 * hsi_api_parse library): every query parameter type with what it
 * accepts and how it refuses (slug, parameter, detail), the query's
 * limits, cursors (round trip, tampering, another listing, another key),
 * JSON bodies (syntax errors with line and column, nesting, unknown,
 * missing and mistyped fields), the body buffer's cap, Accept, ETags and
 * CSV output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "csvout.h"
#include "cursor.h"
#include "error.h"
#include "negotiate.h"
#include "query.h"

static const char *const levels[] = { "nation", "region", "province", NULL };

static const hsi_qparam spec[] = {
	{ .name = "period", .type = HSI_QT_PERIOD, .example = "2024" },
	{ .name = "years", .type = HSI_QT_PERIOD_RANGE },
	{ .name = "as_of", .type = HSI_QT_TIME, .flags = HSI_QP_DATE_END },
	{ .name = "updated_after", .type = HSI_QT_TIME },
	{ .name = "area", .type = HSI_QT_AREA },
	{ .name = "indicator", .type = HSI_QT_INDICATOR },
	{ .name = "agency", .type = HSI_QT_AGENCY },
	{ .name = "level", .type = HSI_QT_ENUM, .choices = levels },
	{ .name = "dry_run", .type = HSI_QT_BOOL },
	{ .name        = "areas",
	    .type      = HSI_QT_LIST,
	    .item      = HSI_QT_AREA,
	    .max_items = 3 },
	{ .name      = "label",
	    .type    = HSI_QT_STRING,
	    .max_len = 8,
	    .charset = "abc-" },
	{ .name = "note", .type = HSI_QT_STRING, .flags = HSI_QP_EMPTY_OK },
	{ .name = "methodology", .type = HSI_QT_INT, .min = 1, .max = 99 },
	{ .name = "offset", .type = HSI_QT_INT },
	HSI_QPARAM_LIMIT,
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

static hsi_query q;

/* Adds "key=value" pairs of qs ('&'-separated; no '=' means NULL). */
static int
add_all(const hsi_qparam *sp, const char *qs, hsi_query_err *err)
{
	char buf[8192];
	int  rv = 0;
	snprintf(buf, sizeof(buf), "%s", qs);
	hsi_query_init(&q, sp);
	for (char *save = NULL, *kv = strtok_r(buf, "&", &save);
	     kv != NULL && rv == 0; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (eq != NULL) {
			*eq = '\0';
		}
		rv = hsi_query_add(&q, kv, strlen(kv), eq ? eq + 1 : NULL,
		    eq ? strlen(eq + 1) : 0, err);
	}
	return rv ? rv : hsi_query_finish(&q, err);
}

static const char *
text_of(const char *qs, const char *name)
{
	hsi_query_err err;
	if (add_all(spec, qs, &err) != 0) {
		fail_msg("'%s' refused: %s", qs, err.detail);
	}
	const char *t = hsi_query_text(&q, name);
	assert_non_null(t);
	return t;
}

/* qs is refused with slug, naming param, and detail holds frag. */
static void
refused(const char *qs, const char *slug, const char *param, const char *frag)
{
	hsi_query_err err;
	if (add_all(spec, qs, &err) == 0) {
		fail_msg("'%s' accepted", qs);
	}
	if (strcmp(err.slug, slug) != 0 || strcmp(err.param, param) != 0
	    || strstr(err.detail, frag) == NULL) {
		fail_msg("'%s': got %s / %s / %s", qs, err.slug, err.param,
		    err.detail);
	}
}

static void
test_query_types(void **state)
{
	(void) state;
	assert_string_equal(text_of("period=2567", "period"), "2024");
	assert_string_equal(text_of("period=FY2567", "period"), "FY2024");
	assert_string_equal(
	    text_of("years=2020..2567", "years"), "2020..2024");
	assert_string_equal(text_of("years=2021..", "years"), "2021..");
	assert_string_equal(text_of("years=..2021Q2", "years"), "..2021Q2");
	assert_string_equal(text_of("years=2022", "years"), "2022");
	const hsi_qvalue *v = hsi_query_get(&q, "years");
	assert_int_equal(v->range.has_from, 1);
	assert_int_equal(v->range.has_to, 1);
	assert_true(v->range.first_day < v->range.last_day);

	assert_string_equal(
	    text_of("as_of=2024-03-15T12:00:00+07:00", "as_of"),
	    "2024-03-15T05:00:00Z");
	assert_string_equal(
	    text_of("as_of=2024-03-15T12:00:00 07:00", "as_of"),
	    "2024-03-15T05:00:00Z");
	assert_string_equal(
	    text_of("as_of=2024-01-01T00:00:00.5-01:30", "as_of"),
	    "2024-01-01T01:30:00.500000Z");
	/* A bare date: the end of that day in Bangkok for as_of, its
	 * start for updated_after. */
	assert_string_equal(text_of("as_of=2024-03-15", "as_of"),
	    "2024-03-15T16:59:59.999999Z");
	assert_string_equal(
	    text_of("updated_after=2024-03-15", "updated_after"),
	    "2024-03-14T17:00:00Z");
	assert_int_equal(
	    hsi_query_int(&q, "updated_after", 0), 1710435600LL * 1000000);
	assert_string_equal(text_of("as_of=1900-01-01T00:00:00Z", "as_of"),
	    "1900-01-01T00:00:00Z");

	assert_string_equal(text_of("area=TH-50", "area"), "50");
	assert_string_equal(text_of("area=RNE", "area"), "RNE");
	assert_string_equal(text_of("area=TH", "area"), "TH");
	assert_string_equal(text_of("area=1001", "area"), "1001");
	assert_string_equal(
	    text_of("indicator=hlt_x1", "indicator"), "hlt_x1");
	assert_string_equal(text_of("agency=DOH", "agency"), "DOH");
	assert_string_equal(text_of("level=region", "level"), "region");
	assert_int_equal(hsi_query_int(&q, "level", -1), 1);
	assert_string_equal(text_of("dry_run=1", "dry_run"), "true");
	assert_int_equal(hsi_query_int(&q, "dry_run", -1), 1);
	assert_string_equal(text_of("dry_run=false", "dry_run"), "false");
	assert_string_equal(text_of("label=ab-c", "label"), "ab-c");
	assert_string_equal(text_of("note=", "note"), "");
	assert_string_equal(text_of("note=ไทย", "note"), "ไทย");
	assert_string_equal(text_of("methodology=007", "methodology"), "7");
	assert_string_equal(text_of("offset=-12", "offset"), "-12");
	assert_string_equal(text_of("cursor=AZaz09-_", "cursor"), "AZaz09-_");

	assert_string_equal(
	    text_of("areas=10,TH-50,RN", "areas"), "10,TH-50,RN");
	v = hsi_query_get(&q, "areas");
	assert_int_equal(v->n_items, 3);
	assert_string_equal(v->items[1], "50");
	char arr[64];
	assert_int_equal(hsi_query_pg_array(v, arr, sizeof(arr)), 0);
	assert_string_equal(arr, "{\"10\",\"50\",\"RN\"}");
	assert_int_equal(hsi_query_int(&q, "limit", HSI_PAGE_DEFAULT), 1000);
}

static void
test_query_refusals(void **state)
{
	(void) state;
	refused("perod=2024", "unknown-parameter", "perod",
	    "this endpoint takes period, years");
	refused("=2024", "unknown-parameter", "", "without a name");
	refused("period=2024&period=2023", "duplicate-parameter", "period",
	    "more than once");
	refused("areas=10&areas=20", "duplicate-parameter", "areas",
	    "separated by commas");
	refused("period=", "invalid-parameter", "period", "it is empty");
	refused("period", "invalid-parameter", "period", "it is empty");
	refused("period=2024-13", "invalid-parameter", "period", "e.g. 2024");
	refused("years=2024..2020", "invalid-parameter", "years",
	    "ends before it starts");
	refused("years=..", "invalid-parameter", "years", "at least one end");
	refused("as_of=2024-03-15T12:00:00", "invalid-parameter", "as_of",
	    "RFC 3339");
	refused("as_of=2024-02-30T12:00:00Z", "invalid-parameter", "as_of",
	    "RFC 3339");
	refused("as_of=2024-03-15T24:00:00Z", "invalid-parameter", "as_of",
	    "RFC 3339");
	refused("as_of=1899-12-31T00:00:00Z", "invalid-parameter", "as_of",
	    "RFC 3339");
	refused("area=th", "invalid-parameter", "area", "an area code");
	refused("area=TH-RN", "invalid-parameter", "area", "an area code");
	refused("area=123", "invalid-parameter", "area", "an area code");
	refused(
	    "indicator=Hlt", "invalid-parameter", "indicator", "lower-case");
	refused("agency=doh", "invalid-parameter", "agency", "e.g. DOH");
	refused("level=city", "invalid-parameter", "level",
	    "one of nation, region, province");
	refused(
	    "dry_run=yes", "invalid-parameter", "dry_run", "true or false");
	refused("areas=10,,20", "invalid-parameter", "areas",
	    "item 2 of query parameter 'areas'");
	refused("areas=10,XX", "invalid-parameter", "areas", "item 2");
	refused("areas=10,20,30,40", "invalid-parameter", "areas",
	    "more than 3 items");
	refused("label=abcdabcda", "invalid-parameter", "label",
	    "longer than 8 bytes");
	refused("label=abz", "invalid-parameter", "label", "not allowed");
	refused("note=a\x01", "invalid-parameter", "note", "not allowed");
	refused("methodology=0", "invalid-parameter", "methodology",
	    "from 1 to 99");
	refused("methodology=1e3", "invalid-parameter", "methodology",
	    "from 1 to 99");
	refused("offset=99999999999999999999", "invalid-parameter", "offset",
	    "whole number");
	refused(
	    "limit=10001", "invalid-parameter", "limit", "from 1 to 10000");
	refused("cursor=a+b", "invalid-parameter", "cursor", "opaque");

	/* A value quoted in a detail is cut short and cleaned. */
	hsi_query_err err;
	hsi_query_init(&q, spec);
	assert_int_equal(
	    hsi_query_add(&q, "area", 4, "\xff\x01x", 3, &err), HSI_EINVAL);
	assert_non_null(strstr(err.detail, "'??x'"));
	assert_int_equal(hsi_query_add(&q, "period", 6,
	                     "20\0"
	                     "24",
	                     5, &err),
	    HSI_EINVAL);
	assert_non_null(strstr(err.detail, "NUL"));
	assert_int_equal(
	    hsi_query_add(&q, "peri\0d", 6, "2024", 4, &err), HSI_EINVAL);
	assert_string_equal(err.slug, "unknown-parameter");

	/* Required parameters, and an endpoint that takes none. */
	static const hsi_qparam req[] = { { .name      = "period",
		                              .type    = HSI_QT_PERIOD,
		                              .flags   = HSI_QP_REQUIRED,
		                              .example = "2024" },
		{ .name = NULL } };
	assert_int_equal(add_all(req, "", &err), HSI_EINVAL);
	assert_string_equal(err.slug, "missing-parameter");
	assert_string_equal(err.param, "period");
	assert_non_null(strstr(err.detail, "send e.g. period=2024"));
	assert_int_equal(add_all(NULL, "x=1", &err), HSI_EINVAL);
	assert_non_null(strstr(err.detail, "takes no query parameters"));
}

static void
test_query_limits(void **state)
{
	hsi_query_err err;
	(void) state;
	hsi_query_init(&q, spec);
	int rv = 0;
	for (int i = 0; i <= HSI_QUERY_MAX_PARAMS && rv != HSI_ETOOBIG; i++) {
		rv = hsi_query_add(&q, "note", 4, "x", 1, &err);
	}
	assert_int_equal(rv, HSI_ETOOBIG);
	assert_string_equal(err.slug, "query-too-large");
	assert_int_equal(err.status, 400);

	char big[HSI_QUERY_MAX_BYTES];
	memset(big, 'a', sizeof(big));
	hsi_query_init(&q, spec);
	assert_int_equal(hsi_query_add(&q, "label", 5, big, sizeof(big), &err),
	    HSI_ETOOBIG);
	assert_int_equal(err.status, 414);
	assert_string_equal(err.param, "label");

	/* The canonical query leaves out the cursor, and the page size
	 * for a cursor's scope. */
	char canon[256];
	assert_int_equal(
	    add_all(
	        spec, "limit=5&cursor=abc&period=2567&areas=10,TH-50", &err),
	    0);
	assert_int_equal(hsi_query_canon(&q, 0, canon, sizeof(canon)), 0);
	assert_string_equal(canon, "period=2024&areas=10%2CTH-50&limit=5");
	assert_int_equal(hsi_query_canon(&q, 1, canon, sizeof(canon)), 0);
	assert_string_equal(canon, "period=2024&areas=10%2CTH-50");
	assert_int_equal(hsi_query_canon(&q, 0, canon, 8), HSI_ETOOBIG);
}

/* A repeated parameter (HSI_QP_REPEAT): every value kept in order, in
 * the canonical query too; more than max_repeat refused, naming it;
 * parameters without the flag still refused as duplicates. */
static const hsi_qparam repeat_spec[] = {
	{ .name = "period", .type = HSI_QT_PERIOD },
	{ .name         = "tag",
	    .type       = HSI_QT_STRING,
	    .flags      = HSI_QP_REPEAT,
	    .max_len    = 8,
	    .max_repeat = 3 },
	{ .name = "many", .type = HSI_QT_INT, .flags = HSI_QP_REPEAT },
	{ .name = "areas", .type = HSI_QT_LIST, .item = HSI_QT_AREA },
	HSI_QPARAM_LIMIT,
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

static void
repeat_refused(
    const char *qs, const char *slug, const char *param, const char *frag)
{
	hsi_query_err err;
	if (add_all(repeat_spec, qs, &err) == 0) {
		fail_msg("'%s' accepted", qs);
	}
	if (strcmp(err.slug, slug) != 0 || strcmp(err.param, param) != 0
	    || strstr(err.detail, frag) == NULL || err.status != 400) {
		fail_msg("'%s': got %u %s / %s / %s", qs, err.status, err.slug,
		    err.param, err.detail);
	}
}

static void
test_query_repeat(void **state)
{
	hsi_query_err err;
	char          canon[256], qs[512];
	(void) state;
	assert_int_equal(
	    add_all(repeat_spec, "tag=b-2&limit=5&period=2567&tag=a-1&tag=c",
	        &err),
	    0);
	const hsi_qvalue *v = hsi_query_get(&q, "tag");
	assert_non_null(v);
	assert_int_equal(v->n_items, 3);
	assert_string_equal(v->items[0], "b-2");
	assert_string_equal(v->items[1], "a-1");
	assert_string_equal(v->items[2], "c");
	assert_string_equal(hsi_query_text(&q, "tag"), "b-2");
	assert_int_equal(hsi_query_canon(&q, 1, canon, sizeof(canon)), 0);
	assert_string_equal(canon, "period=2024&tag=b-2&tag=a-1&tag=c");
	assert_int_equal(hsi_query_canon(&q, 0, canon, sizeof(canon)), 0);
	assert_string_equal(
	    canon, "period=2024&tag=b-2&tag=a-1&tag=c&limit=5");
	assert_int_equal(hsi_query_canon(&q, 1, canon, 30), HSI_ETOOBIG);

	/* Once is a one-item list; the order is part of the scope. */
	assert_int_equal(add_all(repeat_spec, "tag=x", &err), 0);
	assert_int_equal(hsi_query_get(&q, "tag")->n_items, 1);
	assert_int_equal(add_all(repeat_spec, "tag=c&tag=a-1", &err), 0);
	assert_int_equal(hsi_query_canon(&q, 1, canon, sizeof(canon)), 0);
	assert_string_equal(canon, "tag=c&tag=a-1");

	/* Beyond max_repeat, and each value checked on its own. */
	repeat_refused("tag=a&tag=b&tag=c&tag=d", "query-too-large", "tag",
	    "query parameter 'tag' is given more than 3 times: give it at "
	    "most 3 times");
	repeat_refused("tag=a&tag=", "invalid-parameter", "tag", "empty");
	repeat_refused(
	    "tag=a&tag=abcdefghi", "invalid-parameter", "tag", "longer");

	/* Without the flag (and for lists, which take commas): still a
	 * duplicate. */
	repeat_refused("period=2024&tag=a&period=2023", "duplicate-parameter",
	    "period", "more than once");
	repeat_refused("areas=10&areas=20", "duplicate-parameter", "areas",
	    "separated by commas");

	/* The default maximum is HSI_QUERY_REPEAT_MAX, and the refusal
	 * names the parameter even where the query's own count is hit. */
	qs[0] = '\0';
	for (int i = 0; i < HSI_QUERY_REPEAT_MAX; i++) {
		size_t n = strlen(qs);
		snprintf(qs + n, sizeof(qs) - n, "%smany=%d", i ? "&" : "", i);
	}
	assert_int_equal(add_all(repeat_spec, qs, &err), 0);
	v = hsi_query_get(&q, "many");
	assert_int_equal(v->n_items, HSI_QUERY_REPEAT_MAX);
	assert_string_equal(v->items[HSI_QUERY_REPEAT_MAX - 1], "31");
	strcat(qs, "&many=32");
	repeat_refused(
	    qs, "query-too-large", "many", "given more than 32 times");
}

static void
test_cursor(void **state)
{
	hsi_cursor_key k, other;
	hsi_cursor     c, back;
	char           text[HSI_CURSOR_TEXT_MAX], detail[300];
	(void) state;
	assert_int_equal(hsi_cursor_key_random(&k), 0);
	assert_int_equal(hsi_cursor_key_hex("00112233445566778899aabbccddeeff"
	                                    "00112233445566778899aabbccddeeff",
	                     &other),
	    0);
	assert_int_equal(hsi_cursor_key_hex("0011", &other), HSI_EINVAL);
	hsi_cursor_init(&c);
	assert_int_equal(hsi_cursor_push_str(&c, "2024"), 0);
	assert_int_equal(hsi_cursor_push_int(&c, -42), 0);
	assert_int_equal(hsi_cursor_push_int(&c, LLONG_MAX), 0);
	assert_int_equal(hsi_cursor_push_str(&c, "ไทย"), 0);
	assert_int_equal(hsi_cursor_push_int(&c, 1), HSI_ETOOBIG);
	assert_int_equal(
	    hsi_cursor_encode(&k, "/v1/x?a=1", &c, text, sizeof(text)), 0);
	assert_int_equal(
	    strspn(text,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
	        "xyz0123456789-_"),
	    strlen(text));
	assert_int_equal(hsi_cursor_decode(&k, "/v1/x?a=1", text, &back,
	                     detail, sizeof(detail)),
	    0);
	assert_int_equal(back.n, 4);
	assert_string_equal(back.part[0].s, "2024");
	assert_int_equal(back.part[1].i, -42);
	assert_int_equal(back.part[2].i, LLONG_MAX);
	assert_string_equal(back.part[3].s, "ไทย");

	/* Another listing, another key, any changed character. */
	assert_int_equal(hsi_cursor_decode(&k, "/v1/x?a=2", text, &back,
	                     detail, sizeof(detail)),
	    HSI_EINVAL);
	assert_non_null(strstr(detail, "does not belong to this listing"));
	assert_int_equal(hsi_cursor_decode(&other, "/v1/x?a=1", text, &back,
	                     detail, sizeof(detail)),
	    HSI_EINVAL);
	for (size_t i = 0; text[i]; i++) {
		char t[HSI_CURSOR_TEXT_MAX];
		memcpy(t, text, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (hsi_cursor_decode(
		        &k, "/v1/x?a=1", t, &back, detail, sizeof(detail))
		    == 0) {
			fail_msg("tampered cursor at %zu accepted", i);
		}
	}
	const char *junk[]
	    = { "", "A", "!!!!", "AAAAAAAAAAAAAAAAAAAAAAAA", NULL };
	for (int i = 0; junk[i]; i++) {
		assert_int_equal(hsi_cursor_decode(&k, "s", junk[i], &back,
		                     detail, sizeof(detail)),
		    HSI_EINVAL);
		assert_true(detail[0] != '\0');
	}
	char small[8];
	assert_int_equal(
	    hsi_cursor_encode(&k, "s", &c, small, sizeof(small)), HSI_ETOOBIG);
}

/* A copy of fields with the arrays of objects streamed (HSI_JF_STREAM). */
static const hsi_jfield *
streamed(const hsi_jfield *fields)
{
	static hsi_jfield copy[16];
	size_t            i = 0;
	for (; fields[i].name != NULL && i + 1 < 16; i++) {
		copy[i] = fields[i];
		if (copy[i].type == HSI_JT_ARRAY
		    && copy[i].item == HSI_JT_OBJECT) {
			copy[i].flags |= HSI_JF_STREAM;
		}
	}
	copy[i] = (hsi_jfield) { .name = NULL };
	return copy;
}

static int
collect(void *arg, const json_t *item, size_t i, const char *at)
{
	char want[32];
	snprintf(want, sizeof(want), "/%zu", i);
	assert_true(strstr(at, want) != NULL);
	return json_array_append((json_t *) arg, (json_t *) item);
}

/* The whole-body functions and the streaming one give the same refusal:
 * slug, field, line and column. */
static void
expect_body_err(const char *text, const hsi_jfield *fields, const char *slug,
    const char *field, int line, int column)
{
	hsi_body_err e;
	json_t      *j  = NULL;
	int          rv = hsi_body_json(text, strlen(text), 4, &j, &e);
	if (rv == 0) {
		rv = hsi_body_check(j, fields, &e);
		json_decref(j);
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			json_t *items = json_array();
			rv = hsi_body_json_stream(text, strlen(text), 4,
			    streamed(fields), collect, items, &e);
			json_decref(items);
		}
		if (rv != HSI_EINVAL || strcmp(e.slug, slug) != 0
		    || strcmp(e.field, field) != 0 || e.line != line
		    || e.column != column || e.detail[0] == '\0') {
			fail_msg("%s (%s): got %d %s %s %d:%d %s", text,
			    pass ? "streamed" : "whole", rv, rv ? e.slug : "-",
			    rv ? e.field : "-", e.line, e.column,
			    rv ? e.detail : "-");
		}
	}
}

static const hsi_jfield row_fields[] = {
	{ .name    = "indicator",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED },
	{ .name = "value", .type = HSI_JT_NUMBER, .flags = HSI_JF_NULLABLE },
	{ .name = "note", .type = HSI_JT_STRING, .max = 4 },
	{ .name = NULL },
};
static const hsi_jfield top_fields[] = {
	{ .name = "mode", .type = HSI_JT_STRING, .flags = HSI_JF_REQUIRED },
	{ .name     = "rows",
	    .type   = HSI_JT_ARRAY,
	    .max    = 3,
	    .item   = HSI_JT_OBJECT,
	    .fields = row_fields },
	{ .name = "tags", .type = HSI_JT_ARRAY, .item = HSI_JT_STRING },
	{ .name = "a/b", .type = HSI_JT_BOOL },
	{ .name = NULL },
};

static int
stop_at_second(void *arg, const json_t *item, size_t i, const char *at)
{
	(void) arg;
	(void) item;
	(void) at;
	assert_true(i < 2);
	return i == 1 ? HSI_ESTATE : 0;
}

static void
test_body_json(void **state)
{
	(void) state;
	json_t      *j;
	hsi_body_err e;
	const char   ok[] = "{\"mode\":\"atomic\",\"rows\":[{\"indicator\":"
	                    "\"x\",\"value\":null}],\"tags\":[\"a\"],"
	                    "\"a/b\":true}";
	assert_int_equal(hsi_body_json(ok, strlen(ok), 0, &j, &e), 0);
	assert_int_equal(hsi_body_check(j, top_fields, &e), 0);
	/* Streamed: the same items, one at a time. */
	json_t *items = json_array();
	assert_int_equal(hsi_body_json_stream(ok, strlen(ok), 0,
	                     streamed(top_fields), collect, items, &e),
	    0);
	assert_true(json_equal(items, json_object_get(j, "rows")));
	json_decref(items);
	json_decref(j);
	/* Whitespace everywhere, an empty array, members in any order. */
	const char spaced[] = " \n{ \"rows\" : [ ] , \"mode\" : \"p\" }\r\n";
	items               = json_array();
	assert_int_equal(hsi_body_json_stream(spaced, strlen(spaced), 0,
	                     streamed(top_fields), collect, items, &e),
	    0);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	/* What the callback returns stops the stream. */
	const char three[] = "{\"mode\":\"a\",\"rows\":[{\"indicator\":\"x\"},"
	                     "{\"indicator\":\"y\"}]}";
	assert_int_equal(hsi_body_json_stream(three, strlen(three), 0,
	                     streamed(top_fields), stop_at_second, NULL, &e),
	    HSI_ESTATE);

	expect_body_err("{\"mode\":\"a\",\n  \"rows\": [{\"indicator\":"
	                "\"é\"},]}",
	    top_fields, "invalid-json", "", 2, 30);
	expect_body_err("{\"mode\":\"a\" \"rows\":[]}", top_fields,
	    "invalid-json", "", 1, 18);
	expect_body_err(
	    "{\"mode\":\"a\"} x", top_fields, "invalid-json", "", 1, 14);
	expect_body_err(
	    "{\"mode\" \"a\"}", top_fields, "invalid-json", "", 1, 11);
	expect_body_err("{\"mode\":\"a\",\"rows\":[{\"indicator\":\"x\"}",
	    top_fields, "invalid-json", "", 1, 37);
	expect_body_err("{\"mode\":\"a\",\"rows\":[{\"indicator\":\"x\"}"
	                "{\"indicator\":\"y\"}]}",
	    top_fields, "invalid-json", "", 1, 38);
	expect_body_err("{\"mode\":\"a\",\"rows\":[],\"rows\":[]}", top_fields,
	    "invalid-json", "", 1, 28);
	expect_body_err("", top_fields, "invalid-json", "", 1, 1);
	expect_body_err("{\"mode\":\"a\",\"mode\":\"b\"}", top_fields,
	    "invalid-json", "", 1, 18);
	expect_body_err(
	    "{\"m\":[[[[[1]]]]]}", top_fields, "too-deep", "", 1, 9);
	expect_body_err("[1]", top_fields, "wrong-type", "", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"mdoe\":1}", top_fields,
	    "unknown-field", "/mdoe", 0, 0);
	expect_body_err(
	    "{\"rows\":[]}", top_fields, "missing-field", "/mode", 0, 0);
	expect_body_err(
	    "{\"mode\":1}", top_fields, "wrong-type", "/mode", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"rows\":[{\"indicator\":\"x\"},"
	                "{\"indicator\":\"y\",\"value\":\"1\"}]}",
	    top_fields, "wrong-type", "/rows/1/value", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"rows\":[{\"value\":1}]}",
	    top_fields, "missing-field", "/rows/0/indicator", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"rows\":[{\"indicator\":\"x\","
	                "\"note\":\"12345\"}]}",
	    top_fields, "too-long", "/rows/0/note", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"rows\":[{\"indicator\":\"x\"},"
	                "{\"indicator\":\"x\"},{\"indicator\":\"x\"},{"
	                "\"indicator\":\"x\"}]}",
	    top_fields, "too-long", "/rows", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"tags\":[\"a\",2]}", top_fields,
	    "wrong-type", "/tags/1", 0, 0);
	expect_body_err("{\"mode\":\"a\",\"a/b\":1}", top_fields, "wrong-type",
	    "/a~1b", 0, 0);

	/* A million '[' costs one pass, not jansson's recursion. */
	size_t n    = 1000000;
	char  *deep = malloc(n);
	memset(deep, '[', n);
	assert_int_equal(hsi_body_json(deep, n, 0, &j, &e), HSI_EINVAL);
	assert_string_equal(e.slug, "too-deep");
	free(deep);
	/* Brackets inside strings do not count. */
	const char s[] = "{\"mode\":\"[[[[[[[[\\\"[[[[\"}";
	assert_int_equal(hsi_body_json(s, strlen(s), 2, &j, &e), 0);
	json_decref(j);
}

static void
test_body_buffer(void **state)
{
	hsi_body b;
	(void) state;
	hsi_body_init(&b, 10);
	assert_int_equal(hsi_body_append(&b, "12345", 5), 0);
	assert_int_equal(hsi_body_append(&b, "67890", 5), 0);
	assert_string_equal(b.data, "1234567890");
	assert_int_equal(hsi_body_append(&b, "x", 1), HSI_ETOOBIG);
	assert_int_equal(b.over_bytes, 1);
	assert_int_equal(hsi_body_append(&b, "yz", 2), HSI_ETOOBIG);
	assert_int_equal(b.over_bytes, 3);
	assert_int_equal(b.len, 10);
	hsi_body_fini(&b);
	hsi_body_fini(&b);

	hsi_body_init(&b, 4);
	assert_int_equal(hsi_body_append(&b, "123456", 6), HSI_ETOOBIG);
	assert_int_equal(b.len, 4);
	assert_int_equal(b.over_bytes, 2);
	hsi_body_fini(&b);
}

static void
test_negotiate(void **state)
{
	hsi_format f;
	(void) state;
	assert_int_equal(hsi_negotiate_format(NULL, 1, &f), 0);
	assert_int_equal(f, HSI_FMT_JSON);
	assert_int_equal(hsi_negotiate_format("text/csv", 1, &f), 0);
	assert_int_equal(f, HSI_FMT_CSV);
	assert_int_equal(hsi_negotiate_format("text/csv", 0, &f), HSI_ENOENT);
	assert_int_equal(hsi_negotiate_format("text/html,application/xhtml+"
	                                      "xml,*/*;q=0.8",
	                     0, &f),
	    0);
	assert_int_equal(f, HSI_FMT_JSON);
	assert_int_equal(hsi_negotiate_format("application/json;q=0.5, "
	                                      "text/csv;q=0.9",
	                     1, &f),
	    0);
	assert_int_equal(f, HSI_FMT_CSV);
	assert_int_equal(
	    hsi_negotiate_format("text/*, application/json;q=0", 1, &f), 0);
	assert_int_equal(f, HSI_FMT_CSV);
	assert_int_equal(hsi_negotiate_format("*/*, text/csv;q=0", 1, &f), 0);
	assert_int_equal(f, HSI_FMT_JSON);
	assert_int_equal(hsi_negotiate_format("image/png", 1, &f), HSI_ENOENT);
	assert_int_equal(
	    hsi_negotiate_format("application/json;q=x", 1, &f), HSI_ENOENT);
}

static void
test_etag(void **state)
{
	char a[HSI_ETAG_MAX], b[HSI_ETAG_MAX];
	(void) state;
	assert_true(hsi_etag_match("\"m1-s5\"", "\"m1-s5\""));
	assert_true(hsi_etag_match("W/\"x\", W/\"m1-s5\"", "\"m1-s5\""));
	assert_true(hsi_etag_match(" \"a\" ,\t\"m1-s5\" ", "\"m1-s5\""));
	assert_true(hsi_etag_match("*", "\"m1-s5\""));
	assert_false(hsi_etag_match("\"m1-s4\"", "\"m1-s5\""));
	assert_false(hsi_etag_match("\"m1-s55\"", "\"m1-s5\""));
	assert_false(hsi_etag_match("m1-s5", "\"m1-s5\""));
	assert_false(hsi_etag_match(NULL, "\"m1-s5\""));
	hsi_etag_of("abc", 3, a);
	hsi_etag_of("abd", 3, b);
	assert_int_equal(strlen(a), 35);
	assert_true(a[0] == '"' && a[1] == 'h' && a[34] == '"');
	assert_string_not_equal(a, b);
	assert_int_equal(hsi_etag_variant("\"m1-s5\"", "csv", a), 0);
	assert_string_equal(a, "\"m1-s5-csv\"");
	assert_int_equal(hsi_etag_variant("x", "csv", a), HSI_ETOOBIG);
}

static void
test_csvout(void **state)
{
	char             *out;
	size_t            len;
	const char *const cols[]
	    = { "code", "d.x", "n", "ok", "missing", NULL };
	(void) state;
	json_t *items = json_loads(
	    "[{\"code\":\"a,b\",\"d\":{\"x\":0.1},\"n\":3,\"ok\":true},"
	    "{\"code\":\"say \\\"hi\\\"\",\"d\":null,\"n\":null,"
	    "\"ok\":false,\"missing\":[1]},{\"code\":\" x\"}]",
	    0, NULL);
	assert_non_null(items);
	assert_int_equal(hsi_csvout_items(items, cols, &out, &len), 0);
	assert_string_equal(out,
	    "code,d.x,n,ok,missing\r\n"
	    "\"a,b\",0.10000000000000001,3,true,\r\n"
	    "\"say \"\"hi\"\"\",,,false,[1]\r\n"
	    "\" x\",,,,\r\n");
	assert_int_equal(len, strlen(out));
	free(out);
	json_decref(items);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_types),
		cmocka_unit_test(test_query_refusals),
		cmocka_unit_test(test_query_limits),
		cmocka_unit_test(test_query_repeat),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_body_json),
		cmocka_unit_test(test_body_buffer),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_csvout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
