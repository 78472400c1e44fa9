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

/* Size and count limits, before anything is looked at. */
static int
check_limits(hsi_query *q, size_t klen, size_t vlen, hsi_query_err *err)
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
		hsi_query_fail(err, "query-too-large", "",
		    "the query is longer than %d bytes: send fewer or "
		    "shorter values (lists are capped per parameter anyway)",
		    HSI_QUERY_MAX_BYTES);
		err->status = 414;
		return HSI_ETOOBIG;
	}
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
	if (rv == 0) {
		q->v[q->n++] = v;
	}
	return rv;
}

int
hsi_query_add(hsi_query *q, const char *key, size_t klen, const char *value,
    size_t vlen, hsi_query_err *err)
{
	int rv = check_limits(q, klen, value ? vlen : 0, err);
	if (rv != 0) {
		return rv;
	}
	const hsi_qparam *p = klen > HSI_QUERY_NAME_MAX
	    ? NULL
	    : find_param(q->spec, key, klen);
	if (p == NULL || memchr(key, '\0', klen) != NULL) {
		return refuse_unknown(q, key, klen, err);
	}
	if (hsi_query_get(q, p->name) != NULL) {
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

static const hsi_qvalue *
value_of(const hsi_query *q, const hsi_qparam *p)
{
	for (int i = 0; i < q->n; i++) {
		if (q->v[i].param == p) {
			return &q->v[i];
		}
	}
	return NULL;
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
		const hsi_qvalue *v = value_of(q, p);
		if (v == NULL || p->type == HSI_QT_CURSOR
		    || (scope_only && (p->flags & HSI_QP_PAGING))) {
			continue;
		}
		size_t n = strlen(out);
		if (n + strlen(p->name) + 3 > size) {
			return HSI_ETOOBIG;
		}
		snprintf(out + n, size - n, "%s%s=", n ? "&" : "", p->name);
		if (hsi_text_urlencode(out, size, v->text, 0) != 0) {
			return HSI_ETOOBIG;
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
