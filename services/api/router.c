/*
 * router.c: route matching and the start-up check of route tables (see
 * router.h).
 *
 * Matching walks every route: the tables hold tens of routes, a linear
 * walk of segment compares costs well under a microsecond, and it lets
 * one pass both pick the route and collect the methods for Allow.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

/* Methods in the order Allow lists them; others follow as found. */
static const char *const known_methods[]
    = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", NULL };

/* The segment after the '/' at *p: start and length; advances *p. */
static int
next_segment(const char **p, const char **seg, size_t *len)
{
	if (**p != '/') {
		return 0;
	}
	*seg = *p + 1;
	*len = strcspn(*seg, "/");
	*p   = *seg + *len;
	return 1;
}

static int
is_placeholder(const char *seg, size_t len)
{
	return len >= 3 && seg[0] == '{' && seg[len - 1] == '}';
}

/* 1 if path fits pattern; fills params and a rank (lower: more literal
 * segments, leftmost first) when it does. */
static int
fits(const char *pattern, const char *path, hsi_path_param *params, int *n,
    unsigned long *rank)
{
	const char *pp = pattern, *ps = path, *a, *b;
	size_t      al, bl;
	*n    = 0;
	*rank = 0;
	while (*pp != '\0' || *ps != '\0') {
		if (!next_segment(&pp, &a, &al) || !next_segment(&ps, &b, &bl)
		    || bl == 0) {
			return 0;
		}
		*rank <<= 1;
		if (!is_placeholder(a, al)) {
			if (al != bl || memcmp(a, b, al) != 0) {
				return 0;
			}
			continue;
		}
		if (*n >= HSI_ROUTE_MAX_PARAMS || bl > HSI_ROUTE_SEGMENT_MAX) {
			return 0;
		}
		params[*n] = (hsi_path_param) { a + 1, al - 2, b, bl };
		(*n)++;
		*rank |= 1;
	}
	return 1;
}

static int
method_fits(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0
	    || (strcmp(method, "HEAD") == 0
	        && strcmp(route_method, "GET") == 0);
}

static void
allow_add(char *allow, const char *method)
{
	size_t n = strlen(allow), ml = strlen(method);
	for (const char *p = allow; *p;) {
		size_t l = strcspn(p, ",");
		if (l == ml && strncmp(p, method, ml) == 0) {
			return;
		}
		p += l;
		p += strspn(p, ", ");
	}
	if (n + ml + 3 < HSI_ROUTE_ALLOW_MAX) {
		snprintf(allow + n, HSI_ROUTE_ALLOW_MAX - n, "%s%s",
		    n ? ", " : "", method);
	}
}

/* Allow in a stable order: known methods first, then the rest. */
static void
allow_sorted(const char *found, char *out)
{
	size_t fl = strlen(found);
	out[0]    = '\0';
	for (int i = 0; known_methods[i]; i++) {
		size_t ml = strlen(known_methods[i]);
		for (const char *p = found; p < found + fl;) {
			size_t l = strcspn(p, ",");
			if (l == ml && strncmp(p, known_methods[i], ml) == 0) {
				allow_add(out, known_methods[i]);
			}
			p += l;
			p += strspn(p, ", ");
		}
	}
	for (const char *p = found; *p;) {
		size_t l = strcspn(p, ",");
		char   m[24];
		snprintf(m, sizeof(m), "%.*s", (int) l, p);
		allow_add(out, m);
		p += l;
		p += strspn(p, ", ");
	}
}

void
hsi_router_match(const hsi_route *const *tables, const char *method,
    const char *path, hsi_match *m)
{
	hsi_path_param params[HSI_ROUTE_MAX_PARAMS];
	unsigned long  rank, best_rank = 0;
	int            n;
	char           found[HSI_ROUTE_ALLOW_MAX] = "";
	memset(m, 0, sizeof(*m));
	m->kind = HSI_MATCH_NONE;
	for (int t = 0; tables[t] != NULL; t++) {
		for (const hsi_route *r = tables[t]; r->method != NULL; r++) {
			if (!fits(r->pattern, path, params, &n, &rank)) {
				continue;
			}
			allow_add(found, r->method);
			if (strcmp(r->method, "GET") == 0) {
				allow_add(found, "HEAD");
			}
			if (method_fits(r->method, method)
			    && (m->route == NULL || rank < best_rank)) {
				m->route    = r;
				best_rank   = rank;
				m->n_params = n;
				memcpy(m->param, params, sizeof(params));
			}
		}
	}
	if (m->route != NULL) {
		m->kind = HSI_MATCH_OK;
	} else if (found[0] != '\0') {
		m->kind = HSI_MATCH_METHOD;
		allow_sorted(found, m->allow);
	}
}

const hsi_qparam *
hsi_router_param_decl(const hsi_route *r, const char *name, size_t len)
{
	for (const hsi_qparam *p = r->path; p != NULL && p->name != NULL;
	     p++) {
		if (strlen(p->name) == len
		    && memcmp(p->name, name, len) == 0) {
			return p;
		}
	}
	return NULL;
}

static int
declared_in(const hsi_qparam *spec, const char *name, size_t len)
{
	for (const hsi_qparam *p = spec; p != NULL && p->name != NULL; p++) {
		if (strlen(p->name) == len
		    && memcmp(p->name, name, len) == 0) {
			return 1;
		}
	}
	return 0;
}

static int
name_ok(const char *s, size_t len)
{
	if (len == 0 || len > HSI_QUERY_NAME_MAX || s[0] < 'a' || s[0] > 'z') {
		return 0;
	}
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") >= len;
}

/* One route's pattern; its shape ("/v1/areas/{}") into shape. */
static int
check_pattern(
    const hsi_route *r, char *shape, size_t size, char *err, size_t err_size)
{
	const char *p = r->pattern, *seg;
	size_t      len, n = 0;
	int         params = 0;
	shape[0]           = '\0';
	if (p == NULL || *p != '/' || r->handler == NULL) {
		snprintf(err, err_size, "route %s %s: %s", r->method,
		    p ? p : "(null)",
		    r->handler ? "the pattern must start with '/'"
		               : "no handler");
		return HSI_EINVAL;
	}
	while (next_segment(&p, &seg, &len)) {
		int ph = is_placeholder(seg, len);
		if (len == 0 || (ph && !name_ok(seg + 1, len - 2))
		    || (!ph && memchr(seg, '{', len) != NULL)) {
			snprintf(err, err_size,
			    "route %s %s: empty segment or bad placeholder "
			    "(write {name}, lower-case)",
			    r->method, r->pattern);
			return HSI_EINVAL;
		}
		if (ph
		    && (++params > HSI_ROUTE_MAX_PARAMS
		        || !declared_in(r->path, seg + 1, len - 2)
		        || declared_in(r->query, seg + 1, len - 2))) {
			snprintf(err, err_size,
			    "route %s %s: placeholder %.*s must be declared "
			    "in .path (and not in .query), at most %d per "
			    "pattern",
			    r->method, r->pattern, (int) len, seg,
			    HSI_ROUTE_MAX_PARAMS);
			return HSI_EINVAL;
		}
		int w = snprintf(shape + n, size - n, "/%.*s",
		    ph ? 2 : (int) len, ph ? "{}" : seg);
		n += w > 0 ? (size_t) w : 0;
		if (n >= size) {
			snprintf(err, err_size, "route %s: pattern too long",
			    r->pattern);
			return HSI_EINVAL;
		}
	}
	return 0;
}

int
hsi_router_check(const hsi_route *const *tables, char *err, size_t err_size)
{
	char shapes[256][160], methods[256][16];
	int  n = 0;
	for (int t = 0; tables[t] != NULL; t++) {
		for (const hsi_route *r = tables[t]; r->method != NULL; r++) {
			if (n >= 256) {
				snprintf(
				    err, err_size, "more than 256 routes");
				return HSI_EINVAL;
			}
			if (check_pattern(
			        r, shapes[n], sizeof(shapes[n]), err, err_size)
			    != 0) {
				return HSI_EINVAL;
			}
			snprintf(
			    methods[n], sizeof(methods[n]), "%s", r->method);
			for (int i = 0; i < n; i++) {
				if (strcmp(shapes[i], shapes[n]) == 0
				    && strcmp(methods[i], methods[n]) == 0) {
					snprintf(err, err_size,
					    "route %s %s is declared twice "
					    "(same method and shape %s)",
					    r->method, r->pattern, shapes[n]);
					return HSI_EINVAL;
				}
			}
			n++;
		}
	}
	return 0;
}
