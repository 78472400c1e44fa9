/*
 * query.c: collecting and checking query parameters (see query.h): the
 * limits, unknown and repeated names, required ones, and the canonical
 * form written back into cursors and Link headers. What a value of each
 * type may look like is qtype.c's business.
 */
#include "query.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "qtype.h"
#include "text.h"

void
hsi_query_init(hsi_query *q, const hsi_qparam *spec)
{
	q->spec        = spec;
	q->n           = 0;
	q->bytes       = 0;
	q->given       = 0;
	q->n_item_pool = 0;
	q->used        = 0;
}

char *
hsi_query_copy(hsi_query *q, const char *s, size_t len)
{
	if (len + 1 > sizeof(q->arena) - q->used) {
		return NULL;
	}
	char *d = q->arena + q->used;
	memcpy(d, s, len);
	d[len] = '\0';
	q->used += len + 1;
	return d;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void
hsi_query_fail(hsi_query_err *err, const char *slug, const char *param,
    const char *fmt, ...)
{
	va_list ap;
	err->slug   = slug;
	err->status = 400;
	snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
	hsi_text_trim(err->param);
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	hsi_text_trim(err->detail);
}

static const hsi_qparam *
find_param(const hsi_qparam *spec, const char *key, size_t klen)
{
	for (const hsi_qparam *p = spec; p != NULL && p->name != NULL; p++) {
		if (strlen(p->name) == klen
		    && memcmp(p->name, key, klen) == 0) {
			return p;
		}
	}
	return NULL;
}

/* "period (required), methodology" into out, for "takes ..." texts. */
static void
list_params(const hsi_qparam *spec, char *out, size_t size)
{
	size_t n = 0;
	out[0]   = '\0';
	for (const hsi_qparam *p = spec; p != NULL && p->name != NULL; p++) {
		int w = snprintf(out + n, size - n, "%s%s%s", n ? ", " : "",
		    p->name,
		    (p->flags & HSI_QP_REQUIRED) ? " (required)" : "");
		if (w < 0 || (size_t) w >= size - n) {
			break;
		}
		n += (size_t) w;
	}
}

static int
refuse_unknown(
    const hsi_query *q, const char *key, size_t klen, hsi_query_err *err)
{
	char shown[HSI_SHOWN_MAX + 4], takes[300];
	hsi_text_shown(shown, sizeof(shown), key, klen);
	list_params(q->spec, takes, sizeof(takes));
	if (klen == 0) {
		hsi_query_fail(err, "unknown-parameter", "",
		    "the query holds a parameter without a name "
		    "(\"=value\" or \"&&\"): send name=value pairs; this "
		    "endpoint takes %s",
		    takes[0] ? takes : "no query parameters");
		return HSI_EINVAL;
	}
	hsi_query_fail(err, "unknown-parameter", shown,
	    "unknown query parameter '%s': %s%s", shown,
	    takes[0] ? "this endpoint takes " : "",
	    takes[0] ? takes : "this endpoint takes no query parameters");
	return HSI_EINVAL;
}

/* Size and count limits, before anything is looked at. p: the declared
 * parameter of the key, or NULL; named when its value makes the query
 * too long (a repeated one, most often). */
static int
check_limits(hsi_query *q, const hsi_qparam *p, size_t klen, size_t vlen,
    hsi_query_err *err)
{
	q->given++;
	q->bytes += klen + vlen + 2; /* '=' and '&' */
	if (q->given > HSI_QUERY_MAX_PARAMS) {
		hsi_query_fail(err, "query-too-large", "",
		    "the query has more than %d parameters: send at most %d",
		    HSI_QUERY_MAX_PARAMS, HSI_QUERY_MAX_PARAMS);
		return HSI_ETOOBIG;
	}
	if (q->bytes > HSI_QUERY_MAX_BYTES) {
		hsi_query_fail(err, "query-too-large", p ? p->name : "",
		    "the query is longer than %d bytes: send fewer or "
		    "shorter values (lists are capped per parameter anyway)",
		    HSI_QUERY_MAX_BYTES);
		err->status = 414;
		return HSI_ETOOBIG;
	}
	return 0;
}

static int
repeats(const hsi_qparam *p)
{
	return (p->flags & HSI_QP_REPEAT) && p->type != HSI_QT_LIST
	    && p->type != HSI_QT_CURSOR;
}

static int
max_repeat(const hsi_qparam *p)
{
	return p->max_repeat > 0 ? p->max_repeat : HSI_QUERY_REPEAT_MAX;
}

static hsi_qvalue *
value_of(hsi_query *q, const hsi_qparam *p)
{
	for (int i = 0; i < q->n; i++) {
		if (q->v[i].param == p) {
			return &q->v[i];
		}
	}
	return NULL;
}

/* A repeated parameter given once more than it may be. */
static int
check_repeat(hsi_query *q, const hsi_qparam *p, hsi_query_err *err)
{
	const hsi_qvalue *v = value_of(q, p);
	if (v != NULL && v->n_items >= max_repeat(p)) {
		hsi_query_fail(err, "query-too-large", p->name,
		    "query parameter '%s' is given more than %d times: give "
		    "it at most %d times",
		    p->name, max_repeat(p), max_repeat(p));
		return HSI_ETOOBIG;
	}
	return 0;
}

/* Room in the item pool for every value of a repeated parameter, its
 * first (v->text) in the first slot. */
static int
reserve_repeats(hsi_query *q, hsi_qvalue *v, hsi_query_err *err)
{
	int max = max_repeat(v->param);
	if (q->n_item_pool + max > HSI_QUERY_ITEMS_MAX) {
		hsi_query_fail(err, "query-too-large", v->param->name,
		    "too many values in the query: send fewer");
		return HSI_ETOOBIG;
	}
	q->item_pool[q->n_item_pool] = v->text;
	v->items                     = &q->item_pool[q->n_item_pool];
	v->n_items                   = 1;
	q->n_item_pool += max;
	return 0;
}

/* Checks one value of p and stores it. */
static int
store(hsi_query *q, const hsi_qparam *p, const char *value, size_t vlen,
    hsi_query_err *err)
{
	hsi_qvalue v;
	if (q->n >= HSI_QUERY_MAX_VALUES) {
		hsi_query_fail(err, "query-too-large", p->name,
		    "too many parameters: send at most %d",
		    HSI_QUERY_MAX_PARAMS);
		return HSI_ETOOBIG;
	}
	if (value == NULL) {
		value = ""; /* "?name" without '=' */
	}
	memset(&v, 0, sizeof(v));
	v.param = p;
	int rv  = hsi_qtype_parse(q, p, value, vlen, &v, err);
	if (rv == 0 && repeats(p)) {
		rv = reserve_repeats(q, &v, err);
	}
	if (rv == 0) {
		q->v[q->n++] = v;
	}
	return rv;
}

/* One more value of a repeated parameter (check_repeat said it fits):
 * checked like the first, its text in the slot reserve_repeats kept. */
static int
store_repeat(hsi_query *q, hsi_qvalue *first, const char *value, size_t vlen,
    hsi_query_err *err)
{
	hsi_qvalue v;
	memset(&v, 0, sizeof(v));
	v.param = first->param;
	int rv  = hsi_qtype_parse(
	     q, first->param, value ? value : "", vlen, &v, err);
	if (rv == 0) {
		q->item_pool[(first->items - q->item_pool) + first->n_items++]
		    = v.text;
	}
	return rv;
}

int
hsi_query_add(hsi_query *q, const char *key, size_t klen, const char *value,
    size_t vlen, hsi_query_err *err)
{
	const hsi_qparam *p
	    = klen > HSI_QUERY_NAME_MAX || memchr(key, '\0', klen) != NULL
	    ? NULL
	    : find_param(q->spec, key, klen);
	int rv = p != NULL && repeats(p) ? check_repeat(q, p, err) : 0;
	if (rv == 0) {
		rv = check_limits(q, p, klen, value ? vlen : 0, err);
	}
	if (rv != 0) {
		return rv;
	}
	if (p == NULL) {
		return refuse_unknown(q, key, klen, err);
	}
	hsi_qvalue *earlier = value_of(q, p);
	if (earlier != NULL && repeats(p)) {
		return store_repeat(q, earlier, value, value ? vlen : 0, err);
	}
	if (earlier != NULL) {
		hsi_query_fail(err, "duplicate-parameter", p->name,
		    "query parameter '%s' is given more than once: give it "
		    "once%s",
		    p->name,
		    p->type == HSI_QT_LIST ? " (several values go in one, "
		                             "separated by commas)"
		                           : "");
		return HSI_EINVAL;
	}
	return store(q, p, value, value ? vlen : 0, err);
}

int
hsi_query_set(hsi_query *q, const hsi_qparam *p, const char *value,
    size_t vlen, hsi_query_err *err)
{
	return store(q, p, value, vlen, err);
}

int
hsi_query_finish(hsi_query *q, hsi_query_err *err)
{
	for (const hsi_qparam *p = q->spec; p != NULL && p->name != NULL;
	     p++) {
		if ((p->flags & HSI_QP_REQUIRED)
		    && hsi_query_get(q, p->name) == NULL) {
			hsi_query_fail(err, "missing-parameter", p->name,
			    "query parameter '%s' is required: send e.g. "
			    "%s=%s",
			    p->name, p->name, p->example ? p->example : "...");
			return HSI_EINVAL;
		}
	}
	return 0;
}

const hsi_qvalue *
hsi_query_get(const hsi_query *q, const char *name)
{
	for (int i = 0; i < q->n; i++) {
		if (strcmp(q->v[i].param->name, name) == 0) {
			return &q->v[i];
		}
	}
	return NULL;
}

long long
hsi_query_int(const hsi_query *q, const char *name, long long def)
{
	const hsi_qvalue *v = hsi_query_get(q, name);
	return v ? v->i : def;
}

const char *
hsi_query_text(const hsi_query *q, const char *name)
{
	const hsi_qvalue *v = hsi_query_get(q, name);
	return v ? v->text : NULL;
}

/* "&name=value" (no '&' first), value percent-encoded, after out's text:
 * 0 or HSI_ETOOBIG. */
static int
append_pair(char *out, size_t size, const char *name, const char *value)
{
	size_t n = strlen(out);
	if (n + strlen(name) + 3 > size) {
		return HSI_ETOOBIG;
	}
	snprintf(out + n, size - n, "%s%s=", n ? "&" : "", name);
	return hsi_text_urlencode(out, size, value, 0) != 0 ? HSI_ETOOBIG : 0;
}

int
hsi_query_canon(const hsi_query *q, int scope_only, char *out, size_t size)
{
	if (size == 0) {
		return HSI_ETOOBIG;
	}
	out[0] = '\0';
	for (const hsi_qparam *p = q->spec; p != NULL && p->name != NULL;
	     p++) {
		const hsi_qvalue *v = hsi_query_get(q, p->name);
		if (v == NULL || p->type == HSI_QT_CURSOR
		    || (scope_only && (p->flags & HSI_QP_PAGING))) {
			continue;
		}
		int n_values = repeats(p) ? v->n_items : 1;
		for (int i = 0; i < n_values; i++) {
			if (append_pair(out, size, p->name,
			        repeats(p) ? v->items[i] : v->text)
			    != 0) {
				return HSI_ETOOBIG;
			}
		}
	}
	return 0;
}

int
hsi_query_pg_array(const hsi_qvalue *v, char *out, size_t size)
{
	size_t n = 0;
	if (size < 3) {
		return HSI_ETOOBIG;
	}
	out[n++] = '{';
	for (int i = 0; i < v->n_items; i++) {
		const char *s = v->items[i];
		if (n + 2 * strlen(s) + 4 >= size) {
			return HSI_ETOOBIG;
		}
		if (i > 0) {
			out[n++] = ',';
		}
		out[n++] = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\') {
				out[n++] = '\\';
			}
			out[n++] = *s;
		}
		out[n++] = '"';
	}
	out[n++] = '}';
	out[n]   = '\0';
	return 0;
}
