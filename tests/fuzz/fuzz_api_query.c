/*
 * fuzz_api_query.c: libFuzzer target for what hsi-api reads from clients
 * before any handler runs: query strings (hsi_query_add/finish over a
 * declaration with every parameter type), path values (hsi_query_set),
 * JSON bodies (hsi_body_json, hsi_body_check over nested fields),
 * cursors (hsi_cursor_decode, and encode/decode round trips), Accept and
 * If-None-Match. The first byte chooses which; the rest is the input.
 *
 * Beyond memory errors, it aborts when a refusal has no slug or detail,
 * when a detail or field is not valid UTF-8 (it goes into a JSON problem,
 * and jansson would drop it), when an accepted value's text disagrees
 * with its length, or when a cursor does not come back as it went in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "csv.h"
#include "cursor.h"
#include "error.h"
#include "negotiate.h"
#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const levels[] = { "nation", "region", "province", NULL };

static const hsi_qparam spec[] = {
	{ .name = "period", .type = HSI_QT_PERIOD, .flags = HSI_QP_REQUIRED },
	{ .name = "years", .type = HSI_QT_PERIOD_RANGE },
	{ .name = "as_of", .type = HSI_QT_TIME, .flags = HSI_QP_DATE_END },
	{ .name = "area", .type = HSI_QT_AREA },
	{ .name = "indicator", .type = HSI_QT_INDICATOR },
	{ .name = "agency", .type = HSI_QT_AGENCY },
	{ .name = "level", .type = HSI_QT_ENUM, .choices = levels },
	{ .name = "dry_run", .type = HSI_QT_BOOL },
	{ .name        = "areas",
	    .type      = HSI_QT_LIST,
	    .item      = HSI_QT_AREA,
	    .max_items = 5 },
	{ .name = "periods", .type = HSI_QT_LIST, .item = HSI_QT_PERIOD },
	{ .name      = "levels",
	    .type    = HSI_QT_LIST,
	    .item    = HSI_QT_ENUM,
	    .choices = levels,
	    .flags   = HSI_QP_EMPTY_OK },
	{ .name = "label", .type = HSI_QT_STRING, .max_len = 16 },
	{ .name      = "code",
	    .type    = HSI_QT_STRING,
	    .charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" },
	{ .name = "offset", .type = HSI_QT_INT },
	{ .name = "methodology", .type = HSI_QT_INT, .min = 1, .max = 1000 },
	HSI_QPARAM_LIMIT,
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

static const hsi_jfield row_fields[] = {
	{ .name    = "indicator",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED },
	{ .name = "area", .type = HSI_JT_STRING, .max = 8 },
	{ .name = "value", .type = HSI_JT_NUMBER, .flags = HSI_JF_NULLABLE },
	{ .name = "n", .type = HSI_JT_INTEGER },
	{ .name = "flag", .type = HSI_JT_BOOL },
	{ .name = "meta", .type = HSI_JT_ANY },
	{ .name = NULL },
};
static const hsi_jfield body_fields[] = {
	{ .name = "mode", .type = HSI_JT_STRING, .flags = HSI_JF_REQUIRED },
	{ .name     = "rows",
	    .type   = HSI_JT_ARRAY,
	    .max    = 100,
	    .item   = HSI_JT_OBJECT,
	    .fields = row_fields },
	{ .name = "tags", .type = HSI_JT_ARRAY, .item = HSI_JT_STRING },
	{ .name = "options", .type = HSI_JT_OBJECT, .fields = row_fields + 4 },
	{ .name = NULL },
};
/* The same with rows streamed (hsi_body_json_stream). */
static const hsi_jfield stream_fields[] = {
	{ .name = "mode", .type = HSI_JT_STRING, .flags = HSI_JF_REQUIRED },
	{ .name     = "rows",
	    .type   = HSI_JT_ARRAY,
	    .flags  = HSI_JF_STREAM,
	    .max    = 100,
	    .item   = HSI_JT_OBJECT,
	    .fields = row_fields },
	{ .name = "tags", .type = HSI_JT_ARRAY, .item = HSI_JT_STRING },
	{ .name = "options", .type = HSI_JT_OBJECT, .fields = row_fields + 4 },
	{ .name = NULL },
};

static void
check_text(const char *s)
{
	if (s == NULL || hsi_utf8_check(s, strlen(s)) != 0) {
		abort();
	}
}

static void
check_query_err(int rv, const hsi_query_err *e)
{
	if ((rv != HSI_EINVAL && rv != HSI_ETOOBIG) || e->slug == NULL
	    || e->detail[0] == '\0'
	    || (e->status != 400 && e->status != 414)) {
		abort();
	}
	check_text(e->detail);
	check_text(e->param);
}

static void
check_query(const hsi_query *q)
{
	char canon[4 * HSI_QUERY_MAX_BYTES + 1024];
	char arr[4 * HSI_QUERY_MAX_BYTES];
	for (int i = 0; i < q->n; i++) {
		const hsi_qvalue *v = &q->v[i];
		if (v->text == NULL || strlen(v->text) != v->len) {
			abort();
		}
		check_text(v->text);
		if (v->param->type == HSI_QT_LIST) {
			for (int k = 0; k < v->n_items; k++) {
				check_text(v->items[k]);
			}
			hsi_query_pg_array(v, arr, sizeof(arr));
		}
	}
	if (hsi_query_canon(q, 0, canon, sizeof(canon)) != 0) {
		abort(); /* the size reply.c gives it always fits */
	}
}

/* "k=v&k2&k3=v3": the bytes as libmicrohttpd would hand them over,
 * already decoded (so any byte, NUL included, may appear). */
static void
fuzz_query(const char *s, size_t n)
{
	static hsi_query q;
	hsi_query_err    err;
	int              rv = 0;
	hsi_query_init(&q, spec);
	for (size_t i = 0; i <= n && rv == 0;) {
		size_t e = i;
		while (e < n && s[e] != '&') {
			e++;
		}
		const char *eq = memchr(s + i, '=', e - i);
		size_t      kl = eq ? (size_t) (eq - s) - i : e - i;
		rv = hsi_query_add(&q, s + i, kl, eq ? eq + 1 : NULL,
		    eq ? (size_t) (s + e - eq - 1) : 0, &err);
		i  = e + 1;
	}
	if (rv == 0) {
		rv = hsi_query_finish(&q, &err);
	}
	if (rv != 0) {
		check_query_err(rv, &err);
		return;
	}
	check_query(&q);
}

/* One value against every declaration, as a path placeholder would be. */
static void
fuzz_values(const char *s, size_t n)
{
	static hsi_query q;
	hsi_query_err    err;
	for (const hsi_qparam *p = spec; p->name != NULL; p++) {
		hsi_query_init(&q, NULL);
		int rv = hsi_query_set(&q, p, s, n, &err);
		if (rv != 0) {
			check_query_err(rv, &err);
		} else {
			check_query(&q);
		}
	}
}

static int
collect(void *arg, const json_t *item, size_t i, const char *at)
{
	(void) i;
	if (at[0] != '/') {
		abort();
	}
	return json_array_append((json_t *) arg, (json_t *) item) ? HSI_ENOMEM
	                                                          : 0;
}

static void
check_err(int rv, const hsi_body_err *e)
{
	if (rv != HSI_EINVAL || e->slug == NULL || e->detail[0] == '\0'
	    || (e->field[0] != '\0' && e->field[0] != '/')) {
		abort();
	}
	check_text(e->detail);
	check_text(e->field);
}

/*
 * The whole-body parser and the streaming one (which the submission
 * endpoint uses for its rows) agree: one accepts exactly what the other
 * does, with the same rows; each refusal says what and where.
 */
static void
fuzz_body(const char *s, size_t n)
{
	hsi_body_err e, se;
	json_t      *j  = NULL;
	int          rv = hsi_body_json(s, n, 8, &j, &e);
	if (rv == 0) {
		rv = hsi_body_check(j, body_fields, &e);
	}
	json_t *items = json_array();
	int     srv   = items
	          ? hsi_body_json_stream(s, n, 8, stream_fields, collect, items, &se)
	          : HSI_ENOMEM;
	if (rv != HSI_ENOMEM && srv != HSI_ENOMEM) {
		if ((rv == 0) != (srv == 0)) {
			abort();
		}
		const json_t *rows
		    = rv == 0 ? json_object_get(j, "rows") : NULL;
		if (rv == 0
		    && (rows ? !json_equal(items, rows)
		             : json_array_size(items) != 0)) {
			abort();
		}
	}
	json_decref(items);
	json_decref(j);
	if (rv != HSI_ENOMEM && rv != 0) {
		check_err(rv, &e);
	}
	if (srv != HSI_ENOMEM && srv != 0) {
		check_err(srv, &se);
	}
}

/* Decodes the input, then builds a cursor from it and round-trips it. */
static void
fuzz_cursor(const char *s, size_t n)
{
	static const hsi_cursor_key k = { { 1, 2, 3, 4, 5, 6, 7, 8 } };
	hsi_cursor                  c, back;
	char   text[HSI_CURSOR_TEXT_MAX + 1], detail[400], part[16];
	char   enc[HSI_CURSOR_TEXT_MAX];
	size_t tl = n < HSI_CURSOR_TEXT_MAX ? n : HSI_CURSOR_TEXT_MAX;
	memcpy(text, s, tl);
	text[tl] = '\0';
	if (hsi_cursor_decode(&k, "scope", text, &back, detail, sizeof(detail))
	    != 0) {
		check_text(detail);
	}
	hsi_cursor_init(&c);
	for (size_t i = 0; i + 9 <= n && c.n < HSI_CURSOR_PARTS; i += 9) {
		if (s[i] & 1) {
			long long v;
			memcpy(&v, s + i + 1, sizeof(v));
			hsi_cursor_push_int(&c, v);
		} else {
			memcpy(part, s + i + 1, 8);
			part[8] = '\0';
			hsi_cursor_push_str(&c, part);
		}
	}
	if (hsi_cursor_encode(&k, text, &c, enc, sizeof(enc)) != 0
	    || hsi_cursor_decode(&k, text, enc, &back, detail, sizeof(detail))
	        != 0
	    || back.n != c.n) {
		abort();
	}
	for (int p = 0; p < c.n; p++) {
		if (c.part[p].is_str != back.part[p].is_str
		    || (c.part[p].is_str
		            ? strcmp(c.part[p].s, back.part[p].s) != 0
		            : c.part[p].i != back.part[p].i)) {
			abort();
		}
	}
}

static void
fuzz_headers(const char *s, size_t n)
{
	char       h[1025];
	hsi_format f;
	size_t     l = n < 1024 ? n : 1024;
	memcpy(h, s, l);
	h[l] = '\0';
	if (hsi_negotiate_format(h, 1, &f) == 0 && f != HSI_FMT_JSON
	    && f != HSI_FMT_CSV) {
		abort();
	}
	if (hsi_negotiate_format(h, 0, &f) == 0 && f != HSI_FMT_JSON) {
		abort();
	}
	hsi_etag_match(h, "\"m1-s5\"");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return 0;
	}
	const char *s = (const char *) data + 1;
	size_t      n = size - 1;
	switch (data[0] % 5) {
	case 0:
		fuzz_query(s, n);
		break;
	case 1:
		fuzz_values(s, n);
		break;
	case 2:
		fuzz_body(s, n);
		break;
	case 3:
		fuzz_cursor(s, n);
		break;
	default:
		fuzz_headers(s, n);
		break;
	}
	return 0;
}
