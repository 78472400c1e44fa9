/*
 * method.c: reading, checking and writing methodology documents
 * (docs/methodology.md §1). Every refusal names the JSON path.
 */
#include "method.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "error.h"

static const char *const agg_names[]
    = { "arithmetic", "geometric", "harmonic" };
static const char *const norm_names[]
    = { "goalpost", "minmax", "panel", "zscore" };

const char *
hsi_agg_name(hsi_agg a)
{
	return agg_names[a];
}

const char *
hsi_norm_name(hsi_norm n)
{
	return norm_names[n];
}

/* Parser state: the method being built and where errors go. */
typedef struct {
	hsi_method        *m;
	size_t             cap;
	const hsi_catalog *cat;
	char              *err;
	size_t             err_size;
	/* defaults */
	hsi_norm   d_norm;
	hsi_agg    d_agg;
	double     d_cov;
	hsi_impute d_imp;
	int        d_age;
} parser;

static int fail(parser *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(parser *p, const char *path, const char *fmt, ...)
{
	char    msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->err_size, "%s: %s", path, msg);
	return HSI_EINVAL;
}

static int
valid_code(const char *s, size_t min_len)
{
	size_t n = strlen(s);
	if (n < min_len || n > 32 || s[0] < 'a' || s[0] > 'z') {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		        || c == '_')) {
			return 0;
		}
	}
	return 1;
}

/* Checks that obj has only the given keys (NULL-terminated). */
static int
known_keys(
    parser *p, const char *path, const json_t *obj, const char *const *keys)
{
	const char *k;
	json_t     *v;
	json_object_foreach((json_t *) obj, k, v)
	{
		int ok = 0;
		for (size_t i = 0; keys[i] != NULL; i++) {
			ok |= strcmp(k, keys[i]) == 0;
		}
		if (!ok) {
			return fail(p, path,
			    "unknown field \"%s\"; check its spelling against "
			    "docs/methodology.md §1",
			    k);
		}
	}
	return 0;
}

static int
get_num(parser *p, const char *path, const json_t *obj, const char *key,
    double *out, int *present)
{
	json_t *v = json_object_get(obj, key);
	*present  = v != NULL;
	if (v == NULL) {
		return 0;
	}
	if (!json_is_number(v)) {
		return fail(p, path, "\"%s\" must be a number", key);
	}
	*out = json_number_value(v);
	if (!isfinite(*out)) {
		return fail(p, path, "\"%s\" must be finite", key);
	}
	return 0;
}

static int
get_str(parser *p, const char *path, const json_t *obj, const char *key,
    const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out      = NULL;
	if (v == NULL) {
		return 0;
	}
	if (!json_is_string(v)) {
		return fail(p, path, "\"%s\" must be a string", key);
	}
	*out = json_string_value(v);
	return 0;
}

static int
pick(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			return (int) i;
		}
	}
	return -1;
}

/*
 * An optional string field naming one of n choices: its index into *out,
 * untouched when the field is absent, refused (listing the choices)
 * otherwise.
 */
static int
parse_choice(parser *p, const char *path, const json_t *o, const char *key,
    const char *const *names, size_t n, int *out)
{
	const char *s;
	int         rv = get_str(p, path, o, key, &s);
	if (rv != 0 || s == NULL) {
		return rv;
	}
	int k = pick(s, names, n);
	if (k < 0) {
		char list[128] = "";
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof(list) - l, "%s%s",
			    i ? ", " : "", names[i]);
		}
		return fail(
		    p, path, "%s \"%s\" is not one of %s", key, s, list);
	}
	*out = k;
	return 0;
}

static int
parse_agg(parser *p, const char *path, const json_t *o, hsi_agg *out)
{
	int k  = (int) *out;
	int rv = parse_choice(p, path, o, "aggregation", agg_names, 3, &k);
	*out   = (hsi_agg) k;
	return rv;
}

static int
parse_norm(parser *p, const char *path, const json_t *o, hsi_norm *out)
{
	int k  = (int) *out;
	int rv = parse_choice(p, path, o, "normalisation", norm_names, 4, &k);
	*out   = (hsi_norm) k;
	return rv;
}

static int
parse_cov(parser *p, const char *path, const json_t *o, double *out)
{
	int present;
	int rv = get_num(p, path, o, "min_coverage", out, &present);
	if (rv == 0 && present && (*out < 0 || *out > 1)) {
		return fail(p, path,
		    "min_coverage %g is outside 0..1; it is the share of the "
		    "group's weight that must be present",
		    *out);
	}
	return rv;
}

static int
parse_impute(
    parser *p, const char *path, const json_t *o, hsi_impute *imp, int *age)
{
	json_t *v = json_object_get(o, "imputation");
	if (v == NULL) {
		return 0;
	}
	const char *method = NULL;
	char        sub[512];
	snprintf(sub, sizeof(sub), "%s.imputation", path);
	if (json_is_string(v)) {
		method = json_string_value(v);
	} else if (json_is_object(v)) {
		static const char *const keys[]
		    = { "method", "max_age", NULL };
		int rv = known_keys(p, sub, v, keys);
		if (rv != 0
		    || (rv = get_str(p, sub, v, "method", &method)) != 0) {
			return rv;
		}
	}
	if (method == NULL) {
		return fail(p, sub,
		    "give {\"method\": \"none\" | \"carry_forward\" | "
		    "\"region_mean\"}");
	}
	if (strcmp(method, "none") == 0) {
		*imp = HSI_IMPUTE_NONE;
	} else if (strcmp(method, "region_mean") == 0) {
		*imp = HSI_IMPUTE_REGION;
	} else if (strcmp(method, "carry_forward") == 0) {
		double a       = 0;
		int    present = 0;
		int    rv      = json_is_object(v)
		            ? get_num(p, sub, v, "max_age", &a, &present)
		            : 0;
		if (rv != 0) {
			return rv;
		}
		if (!present || a != floor(a) || a < 1 || a > 50) {
			return fail(p, sub,
			    "carry_forward needs \"max_age\": a whole number "
			    "of years from 1 to 50");
		}
		*imp = HSI_IMPUTE_CARRY;
		*age = (int) a;
	} else {
		return fail(p, sub,
		    "method \"%s\" is not one of none, carry_forward, "
		    "region_mean",
		    method);
	}
	return 0;
}

static int
push_node(parser *p, hsi_mnode **out)
{
	hsi_method *m = p->m;
	if (m->n_nodes >= HSI_METHOD_MAX_NODES) {
		return HSI_ETOOBIG;
	}
	if (m->n_nodes == p->cap) {
		size_t     nc = p->cap ? p->cap * 2 : 64;
		hsi_mnode *n  = realloc(m->nodes, nc * sizeof(*n));
		if (n == NULL) {
			return HSI_ENOMEM;
		}
		m->nodes = n;
		p->cap   = nc;
	}
	*out = &m->nodes[m->n_nodes++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int
parse_leaf(parser *p, const char *path, const json_t *o, int depth, int *idx)
{
	static const char *const keys[] = { "indicator", "weight",
		"normalisation", "lo", "hi", "direction", "log", "imputation",
		"name_th", "name_en", NULL };
	const char              *code;
	int                      rv = known_keys(p, path, o, keys);
	if (rv != 0 || (rv = get_str(p, path, o, "indicator", &code)) != 0) {
		return rv;
	}
	if (!valid_code(code, 2)) {
		return fail(p, path,
		    "indicator \"%s\" is not a valid code "
		    "([a-z][a-z0-9_]{1,31})",
		    code);
	}
	const hsi_indicator *ci
	    = p->cat ? hsi_catalog_indicator(p->cat, code) : NULL;
	hsi_mnode *n;
	if ((rv = push_node(p, &n)) != 0) {
		return rv == HSI_ETOOBIG
		    ? fail(p, path, "more than %d nodes", HSI_METHOD_MAX_NODES)
		    : rv;
	}
	snprintf(n->code, sizeof(n->code), "%s", code);
	n->depth   = depth;
	n->norm    = p->d_norm;
	n->impute  = p->d_imp;
	n->max_age = p->d_age;
	double w = 1, lo = 0, hi = 0, dir = 1;
	int    has_w, has_lo, has_hi, has_dir;
	if ((rv = get_num(p, path, o, "weight", &w, &has_w)) != 0
	    || (rv = get_num(p, path, o, "lo", &lo, &has_lo)) != 0
	    || (rv = get_num(p, path, o, "hi", &hi, &has_hi)) != 0
	    || (rv = get_num(p, path, o, "direction", &dir, &has_dir)) != 0
	    || (rv = parse_norm(p, path, o, &n->norm)) != 0
	    || (rv = parse_impute(p, path, o, &n->impute, &n->max_age)) != 0) {
		return rv;
	}
	if (ci != NULL) {
		w      = has_w ? w : ci->weight;
		lo     = has_lo ? lo : ci->lo;
		hi     = has_hi ? hi : ci->hi;
		dir    = has_dir ? dir : ci->direction;
		has_lo = has_hi = 1;
	}
	json_t *lg = json_object_get(o, "log");
	if (lg != NULL && !json_is_boolean(lg)) {
		return fail(p, path, "\"log\" must be true or false");
	}
	n->log = lg != NULL && json_is_true(lg);
	if (w < 0) {
		return fail(p, path, "weight %g is negative", w);
	}
	if (dir != 1 && dir != -1) {
		return fail(p, path,
		    "direction must be 1 (higher is better) or -1 (lower is "
		    "better)");
	}
	n->weight        = w;
	n->direction     = (int) dir;
	n->has_goalposts = has_lo && has_hi;
	n->lo            = lo;
	n->hi            = hi;
	if (n->norm == HSI_NORM_GOALPOST && !n->has_goalposts) {
		return fail(p, path,
		    "goalpost normalisation needs \"lo\" and \"hi\" (the "
		    "indicator \"%s\" is not in the catalog to supply them)",
		    code);
	}
	if (n->has_goalposts && !(lo < hi)) {
		return fail(p, path,
		    "hi must be greater than lo (%g >= %g); set the goalposts "
		    "so that lo < hi and use direction for lower-is-better",
		    lo, hi);
	}
	if (n->log && n->has_goalposts && lo <= 0) {
		return fail(p, path,
		    "with \"log\": true the goalposts must be > 0 (lo is %g)",
		    lo);
	}
	*idx = (int) (n - p->m->nodes);
	return 0;
}

static int parse_group(
    parser *p, const char *path, const json_t *o, int depth, int *idx);

static int
parse_node(parser *p, const char *path, const json_t *o, int depth, int *idx)
{
	if (!json_is_object(o)) {
		return fail(p, path, "must be an object (a group or a leaf)");
	}
	if (depth > HSI_METHOD_MAX_DEPTH) {
		return fail(p, path, "the tree is deeper than %d levels",
		    HSI_METHOD_MAX_DEPTH);
	}
	if (json_object_get(o, "indicator") != NULL) {
		return parse_leaf(p, path, o, depth, idx);
	}
	return parse_group(p, path, o, depth, idx);
}

static int
parse_group(parser *p, const char *path, const json_t *o, int depth, int *idx)
{
	static const char *const keys[] = { "code", "name_th", "name_en",
		"weight", "aggregation", "min_coverage", "children", NULL };
	const char              *code, *th, *en;
	int                      rv = known_keys(p, path, o, keys);
	if (rv != 0 || (rv = get_str(p, path, o, "code", &code)) != 0
	    || (rv = get_str(p, path, o, "name_th", &th)) != 0
	    || (rv = get_str(p, path, o, "name_en", &en)) != 0) {
		return rv;
	}
	if (code == NULL || !valid_code(code, 1)) {
		return fail(p, path,
		    "a group needs \"code\" matching [a-z][a-z0-9_]{0,31} "
		    "(a leaf needs \"indicator\")");
	}
	const json_t *kids = json_object_get(o, "children");
	if (!json_is_array(kids) || json_array_size(kids) == 0) {
		return fail(p, path,
		    "group \"%s\" needs \"children\": a non-empty array",
		    code);
	}
	double  w = 1, cov = p->d_cov;
	int     has_w;
	hsi_agg agg = p->d_agg;
	if ((rv = get_num(p, path, o, "weight", &w, &has_w)) != 0
	    || (rv = parse_agg(p, path, o, &agg)) != 0
	    || (rv = parse_cov(p, path, o, &cov)) != 0) {
		return rv;
	}
	if (w < 0) {
		return fail(p, path, "weight %g is negative", w);
	}
	size_t  i;
	json_t *k;
	json_array_foreach(kids, i, k)
	{
		char sub[512];
		int  child;
		snprintf(sub, sizeof(sub), "%s.children[%zu]", path, i);
		if ((rv = parse_node(p, sub, k, depth + 1, &child)) != 0) {
			return rv;
		}
		(void) child;
	}
	hsi_mnode *n;
	if ((rv = push_node(p, &n)) != 0) {
		return rv == HSI_ETOOBIG
		    ? fail(p, path, "more than %d nodes", HSI_METHOD_MAX_NODES)
		    : rv;
	}
	snprintf(n->code, sizeof(n->code), "%s", code);
	n->is_group     = 1;
	n->depth        = depth;
	n->weight       = w;
	n->agg          = agg;
	n->min_coverage = cov;
	n->name_th      = dup_or_null(th);
	n->name_en      = dup_or_null(en);
	*idx            = (int) (n - p->m->nodes);
	return 0;
}

/*
 * Parent links, children lists and leaf columns from the post-order array:
 * a group's children are the nodes after its previous sibling's subtree,
 * found with a stack of finished subtrees.
 */
static int
link_tree(hsi_method *m)
{
	int *stack   = malloc((m->n_nodes + 1) * sizeof(int));
	m->children  = malloc((m->n_nodes + 1) * sizeof(int));
	m->leaf_node = malloc((m->n_nodes + 1) * sizeof(int));
	if (!stack || !m->children || !m->leaf_node) {
		free(stack);
		return HSI_ENOMEM;
	}
	size_t sp = 0, k = 0;
	m->n_leaves = m->n_groups = 0;
	for (size_t i = 0; i < m->n_nodes; i++) {
		hsi_mnode *n = &m->nodes[i];
		n->parent    = -1;
		if (!n->is_group) {
			n->col                      = (int) m->n_leaves;
			m->leaf_node[m->n_leaves++] = (int) i;
			stack[sp++]                 = (int) i;
			continue;
		}
		/* Children: the finished subtrees one level deeper. */
		size_t first = sp;
		while (
		    first > 0 && m->nodes[stack[first - 1]].depth > n->depth) {
			first--;
		}
		n->first_child = (int) k;
		n->n_children  = (int) (sp - first);
		for (size_t c = first; c < sp; c++) {
			m->children[k++]          = stack[c];
			m->nodes[stack[c]].parent = (int) i;
		}
		n->group_ord = (int) m->n_groups++;
		sp           = first;
		stack[sp++]  = (int) i;
	}
	free(stack);
	return 0;
}

/* by_code: the leaf columns sorted by indicator code, for look-ups. */
typedef struct {
	const char *code;
	int         col;
} code_col;

static int
cmp_code_col(const void *a, const void *b)
{
	return strcmp(
	    ((const code_col *) a)->code, ((const code_col *) b)->code);
}

static int
index_codes(hsi_method *m)
{
	code_col *v = malloc((m->n_leaves + 1) * sizeof(*v));
	m->by_code  = malloc((m->n_leaves + 1) * sizeof(int));
	if (v == NULL || m->by_code == NULL) {
		free(v);
		return HSI_ENOMEM;
	}
	for (size_t c = 0; c < m->n_leaves; c++) {
		v[c].code = m->nodes[m->leaf_node[c]].code;
		v[c].col  = (int) c;
	}
	qsort(v, m->n_leaves, sizeof(*v), cmp_code_col);
	for (size_t c = 0; c < m->n_leaves; c++) {
		m->by_code[c] = v[c].col;
	}
	free(v);
	return 0;
}

int
hsi_method_col(const hsi_method *m, const char *code)
{
	size_t lo = 0, hi = m->n_leaves;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    col = m->by_code[mid];
		int    c   = strcmp(m->nodes[m->leaf_node[col]].code, code);
		if (c == 0) {
			return col;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

static int
check_unique(parser *p)
{
	hsi_method *m = p->m;
	for (size_t i = 0; i < m->n_nodes; i++) {
		for (size_t j = i + 1; j < m->n_nodes; j++) {
			if (strcmp(m->nodes[i].code, m->nodes[j].code) == 0) {
				return fail(p, "tree",
				    "\"%s\" appears twice; an indicator may "
				    "appear once per tree and group codes "
				    "must "
				    "differ from each other and from "
				    "indicator "
				    "codes",
				    m->nodes[i].code);
			}
		}
	}
	return 0;
}

static int
parse_bands(parser *p, const json_t *b)
{
	hsi_method *m = p->m;
	if (b == NULL) {
		return 0;
	}
	if (!json_is_array(b) || json_array_size(b) > HSI_METHOD_MAX_BANDS) {
		return fail(p, "bands", "must be an array of at most %d bands",
		    HSI_METHOD_MAX_BANDS);
	}
	m->bands = calloc(json_array_size(b) + 1, sizeof(hsi_band));
	if (m->bands == NULL) {
		return HSI_ENOMEM;
	}
	size_t  i;
	json_t *o;
	json_array_foreach(b, i, o)
	{
		static const char *const keys[]
		    = { "from", "code", "th", "en", NULL };
		char        path[64];
		const char *code, *th, *en;
		double      from = 0;
		int         has_from, rv;
		snprintf(path, sizeof(path), "bands[%zu]", i);
		if (!json_is_object(o)) {
			return fail(p, path, "must be an object");
		}
		if ((rv = known_keys(p, path, o, keys)) != 0
		    || (rv = get_num(p, path, o, "from", &from, &has_from))
		        != 0
		    || (rv = get_str(p, path, o, "code", &code)) != 0
		    || (rv = get_str(p, path, o, "th", &th)) != 0
		    || (rv = get_str(p, path, o, "en", &en)) != 0) {
			return rv;
		}
		if (!has_from || code == NULL || !valid_code(code, 1)) {
			return fail(p, path,
			    "a band needs \"from\" (a number) and \"code\" "
			    "([a-z][a-z0-9_]{0,31})");
		}
		if (i > 0 && !(from > m->bands[i - 1].from)) {
			return fail(p, path,
			    "\"from\" must be greater than the previous "
			    "band's "
			    "(%g); list bands in ascending order",
			    m->bands[i - 1].from);
		}
		hsi_band *d = &m->bands[m->n_bands++];
		d->from     = from;
		snprintf(d->code, sizeof(d->code), "%s", code);
		d->th = strdup(th ? th : code);
		d->en = strdup(en ? en : code);
		if (d->th == NULL || d->en == NULL) {
			return HSI_ENOMEM;
		}
	}
	return 0;
}

static int
parse_defaults(parser *p, const json_t *d)
{
	static const char *const keys[] = { "normalisation", "aggregation",
		"min_coverage", "imputation", NULL };
	if (d == NULL) {
		return 0;
	}
	if (!json_is_object(d)) {
		return fail(p, "defaults", "must be an object");
	}
	int rv = known_keys(p, "defaults", d, keys);
	if (rv == 0) {
		rv = parse_norm(p, "defaults", d, &p->d_norm);
	}
	if (rv == 0) {
		rv = parse_agg(p, "defaults", d, &p->d_agg);
	}
	if (rv == 0) {
		rv = parse_cov(p, "defaults", d, &p->d_cov);
	}
	if (rv == 0) {
		rv = parse_impute(p, "defaults", d, &p->d_imp, &p->d_age);
	}
	return rv;
}

int
hsi_method_from_json(const json_t *doc, const hsi_catalog *cat,
    hsi_method **out, char *err, size_t err_size)
{
	static const char *const keys[] = { "format", "name", "description",
		"index_period", "rank_level", "decimals", "rank_on", "bands",
		"defaults", "tree", "version", NULL };
	parser                   p;
	memset(&p, 0, sizeof(p));
	p.cat      = cat;
	p.err      = err;
	p.err_size = err_size;
	p.d_cov    = 0.5;
	if (!json_is_object(doc)) {
		snprintf(err, err_size,
		    "(document): a methodology is a JSON object; see "
		    "docs/methodology.md §1");
		return HSI_EINVAL;
	}
	p.m = calloc(1, sizeof(hsi_method));
	if (p.m == NULL) {
		return HSI_ENOMEM;
	}
	hsi_method *m = p.m;
	const char *name, *desc, *ip, *rl, *ro;
	double      fmt = 0, dec = 4;
	int         has_fmt, has_dec;
	int         rv = known_keys(&p, "(document)", doc, keys);
	if (rv == 0) {
		rv = get_num(&p, "format", doc, "format", &fmt, &has_fmt);
	}
	if (rv == 0 && (!has_fmt || fmt != 2)) {
		rv = fail(&p, "format",
		    "must be 2 (this engine reads methodology format 2)");
	}
	if (rv == 0 && (rv = get_str(&p, "name", doc, "name", &name)) == 0
	    && (name == NULL || name[0] == '\0'
	        || strlen(name) >= sizeof(m->name))) {
		rv = fail(&p, "name", "give a name of 1 to %zu bytes",
		    sizeof(m->name) - 1);
	}
	if (rv == 0
	    && (rv = get_str(&p, "description", doc, "description", &desc))
	        == 0) {
		snprintf(m->name, sizeof(m->name), "%s", name);
		m->description = dup_or_null(desc);
		rv = get_str(&p, "index_period", doc, "index_period", &ip);
	}
	if (rv == 0 && ip != NULL) {
		if (strcmp(ip, "fiscal") == 0) {
			m->fiscal_index = 1;
		} else if (strcmp(ip, "calendar") != 0) {
			rv = fail(&p, "index_period",
			    "must be \"calendar\" or \"fiscal\"");
		}
	}
	if (rv == 0
	    && (rv = get_str(&p, "rank_level", doc, "rank_level", &rl)) == 0) {
		rl = rl ? rl : "province";
		if (rl[0] == '\0' || strlen(rl) >= sizeof(m->rank_level)) {
			rv = fail(&p, "rank_level",
			    "give an area level such as \"province\"");
		} else {
			snprintf(
			    m->rank_level, sizeof(m->rank_level), "%s", rl);
		}
	}
	if (rv == 0
	    && (rv = get_num(&p, "decimals", doc, "decimals", &dec, &has_dec))
	        == 0
	    && (dec != floor(dec) || dec < 0 || dec > 12)) {
		rv = fail(
		    &p, "decimals", "must be a whole number from 0 to 12");
	}
	if (rv == 0 && (rv = get_str(&p, "rank_on", doc, "rank_on", &ro)) == 0
	    && ro != NULL) {
		if (strcmp(ro, "full") == 0) {
			m->rank_full = 1;
		} else if (strcmp(ro, "published") != 0) {
			rv = fail(&p, "rank_on",
			    "must be \"published\" or \"full\"");
		}
	}
	m->decimals = (int) dec;
	if (rv == 0) {
		rv = parse_defaults(&p, json_object_get(doc, "defaults"));
	}
	if (rv == 0) {
		rv = parse_bands(&p, json_object_get(doc, "bands"));
	}
	const json_t *tree = json_object_get(doc, "tree");
	int           root;
	if (rv == 0 && !json_is_object(tree)) {
		rv = fail(&p, "tree", "the root group is required");
	}
	if (rv == 0 && json_object_get(tree, "indicator") != NULL) {
		rv = fail(&p, "tree", "the root must be a group, not a leaf");
	}
	if (rv == 0) {
		rv = parse_node(&p, "tree", tree, 0, &root);
	}
	if (rv == 0) {
		rv = check_unique(&p);
	}
	if (rv == 0) {
		rv = link_tree(m);
	}
	if (rv == 0) {
		rv = index_codes(m);
	}
	if (rv == 0) {
		for (size_t i = 0; i < m->n_nodes; i++) {
			const hsi_mnode *n = &m->nodes[i];
			if (!n->is_group && n->impute == HSI_IMPUTE_CARRY
			    && n->max_age > m->max_carry) {
				m->max_carry = n->max_age;
			}
			m->uses_panel
			    |= !n->is_group && n->norm == HSI_NORM_PANEL;
		}
		*out = m;
		return 0;
	}
	if (rv == HSI_ENOMEM) {
		snprintf(err, err_size, "out of memory");
	}
	hsi_method_free(m);
	return rv;
}

int
hsi_method_parse(const char *text, size_t len, const hsi_catalog *cat,
    hsi_method **out, char *err, size_t err_size)
{
	if (len > HSI_METHOD_MAX_BYTES) {
		snprintf(err, err_size,
		    "(document): %zu bytes is over the limit of %d; a "
		    "methodology is a tree of at most %d nodes",
		    len, HSI_METHOD_MAX_BYTES, HSI_METHOD_MAX_NODES);
		return HSI_ETOOBIG;
	}
	json_error_t je;
	json_t      *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL) {
		snprintf(err, err_size, "line %d, column %d: %s", je.line,
		    je.column, je.text);
		return HSI_EINVAL;
	}
	int rv = hsi_method_from_json(doc, cat, out, err, err_size);
	json_decref(doc);
	return rv;
}

int
hsi_method_load_file(const char *path, const hsi_catalog *cat,
    hsi_method **out, char *err, size_t err_size)
{
	char  *text;
	size_t len;
	char   e[400];
	int    rv = hsi_blob_read_file(
	       path, HSI_METHOD_MAX_BYTES, &text, &len, e, sizeof(e));
	if (rv != 0) {
		snprintf(err, err_size, "%s", e);
		return rv;
	}
	rv = hsi_method_parse(text, len, cat, out, e, sizeof(e));
	if (rv != 0) {
		snprintf(err, err_size, "%s: %s", path, e);
	}
	free(text);
	return rv;
}

static int
add_band(hsi_method *m, double from, const char *code, const char *th,
    const char *en)
{
	hsi_band *b = &m->bands[m->n_bands++];
	b->from     = from;
	snprintf(b->code, sizeof(b->code), "%s", code);
	b->th = strdup(th);
	b->en = strdup(en);
	return b->th && b->en ? 0 : HSI_ENOMEM;
}

int
hsi_method_default(const hsi_catalog *cat, hsi_method **out)
{
	/* Built as a document and parsed, so the default obeys exactly the
	 * rules a methodology file does. */
	json_t *dims = json_array();
	for (size_t d = 0; d < cat->n_dims; d++) {
		json_t *kids = json_array();
		for (size_t i = 0; i < cat->n_ind; i++) {
			const hsi_indicator *ind = &cat->ind[i];
			if (!ind->in_index
			    || strcmp(ind->dimension, cat->dims[d].code)
			        != 0) {
				continue;
			}
			json_array_append_new(kids,
			    json_pack("{s:s, s:f, s:s, s:f, s:f, s:i}",
			        "indicator", ind->code, "weight", ind->weight,
			        "normalisation", "goalpost", "lo", ind->lo,
			        "hi", ind->hi, "direction", ind->direction));
		}
		if (json_array_size(kids) == 0) {
			json_decref(kids);
			continue;
		}
		json_array_append_new(dims,
		    json_pack("{s:s, s:s, s:s, s:f, s:o}", "code",
		        cat->dims[d].code, "name_th", cat->dims[d].name_th,
		        "name_en", cat->dims[d].name_en, "weight", 1.0,
		        "children", kids));
	}
	json_t *doc = json_pack(
	    "{s:i, s:s, s:s, s:s, s:i, s:s, s:{s:s, s:s, s:f}, "
	    "s:{s:s, s:s, s:s, s:o}}",
	    "format", 2, "name",
	    "HSI default (catalog goalposts, equal dimensions)",
	    "index_period", "calendar", "rank_level", "province", "decimals",
	    4, "rank_on", "published", "defaults", "normalisation", "goalpost",
	    "aggregation", "arithmetic", "min_coverage", 0.5, "tree", "code",
	    "hsi", "name_th", "ดัชนีความมั่นคงของมนุษย์", "name_en",
	    "Human Security Index", "children", dims);
	char err[256];
	int  rv = doc ? hsi_method_from_json(doc, cat, out, err, sizeof(err))
	              : HSI_ENOMEM;
	json_decref(doc);
	if (rv == 0) {
		hsi_method *m = *out;
		m->bands      = calloc(4, sizeof(hsi_band));
		if (m->bands == NULL || add_band(m, 0, "low", "ต่ำ", "Low") != 0
		    || add_band(m, 0.4, "medium", "ปานกลาง", "Medium") != 0
		    || add_band(m, 0.6, "high", "สูง", "High") != 0
		    || add_band(m, 0.8, "very_high", "สูงมาก", "Very high")
		        != 0) {
			hsi_method_free(m);
			*out = NULL;
			return HSI_ENOMEM;
		}
	}
	return rv;
}

static json_t *
node_json(const hsi_method *m, int idx)
{
	const hsi_mnode *n = &m->nodes[idx];
	json_t          *o;
	if (!n->is_group) {
		o = json_pack("{s:s, s:f, s:s, s:i}", "indicator", n->code,
		    "weight", n->weight, "normalisation", norm_names[n->norm],
		    "direction", n->direction);
		if (n->has_goalposts) {
			json_object_set_new(o, "lo", json_real(n->lo));
			json_object_set_new(o, "hi", json_real(n->hi));
		}
		if (n->log) {
			json_object_set_new(o, "log", json_true());
		}
		json_object_set_new(o, "imputation",
		    n->impute == HSI_IMPUTE_CARRY
		        ? json_pack("{s:s, s:i}", "method", "carry_forward",
		            "max_age", n->max_age)
		        : json_pack("{s:s}", "method",
		            n->impute == HSI_IMPUTE_REGION ? "region_mean"
		                                           : "none"));
		return o;
	}
	json_t *kids = json_array();
	for (int c = 0; c < n->n_children; c++) {
		json_array_append_new(
		    kids, node_json(m, m->children[n->first_child + c]));
	}
	o = json_pack("{s:s}", "code", n->code);
	if (n->name_th) {
		json_object_set_new(o, "name_th", json_string(n->name_th));
	}
	if (n->name_en) {
		json_object_set_new(o, "name_en", json_string(n->name_en));
	}
	json_object_set_new(o, "weight", json_real(n->weight));
	json_object_set_new(o, "aggregation", json_string(agg_names[n->agg]));
	json_object_set_new(o, "min_coverage", json_real(n->min_coverage));
	json_object_set_new(o, "children", kids);
	return o;
}

json_t *
hsi_method_to_json(const hsi_method *m)
{
	json_t *o = json_pack("{s:i, s:s}", "format", 2, "name", m->name);
	if (m->description) {
		json_object_set_new(
		    o, "description", json_string(m->description));
	}
	json_object_set_new(o, "index_period",
	    json_string(m->fiscal_index ? "fiscal" : "calendar"));
	json_object_set_new(o, "rank_level", json_string(m->rank_level));
	json_object_set_new(o, "decimals", json_integer(m->decimals));
	json_object_set_new(
	    o, "rank_on", json_string(m->rank_full ? "full" : "published"));
	if (m->n_bands > 0) {
		json_t *b = json_array();
		for (size_t i = 0; i < m->n_bands; i++) {
			json_array_append_new(b,
			    json_pack("{s:f, s:s, s:s, s:s}", "from",
			        m->bands[i].from, "code", m->bands[i].code,
			        "th", m->bands[i].th, "en", m->bands[i].en));
		}
		json_object_set_new(o, "bands", b);
	}
	json_object_set_new(o, "tree", node_json(m, (int) m->n_nodes - 1));
	return o;
}

const hsi_band *
hsi_method_band(const hsi_method *m, double published)
{
	const hsi_band *b = NULL;
	for (size_t i = 0; i < m->n_bands && m->bands[i].from <= published;
	     i++) {
		b = &m->bands[i];
	}
	return b;
}

void
hsi_method_free(hsi_method *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		free(m->nodes[i].name_th);
		free(m->nodes[i].name_en);
	}
	for (size_t i = 0; i < m->n_bands; i++) {
		free(m->bands[i].th);
		free(m->bands[i].en);
	}
	free(m->bands);
	free(m->description);
	free(m->nodes);
	free(m->children);
	free(m->leaf_node);
	free(m->by_code);
	free(m);
}
