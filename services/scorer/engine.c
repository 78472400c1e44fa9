/*
 * engine.c: normalisation, aggregation and ranking (see engine.h and
 * docs/methodology.md for every formula).
 */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int
push_node(hsi_method *m, size_t *cap, hsi_mnode **out)
{
	if (m->n_nodes == *cap) {
		size_t     nc = *cap ? *cap * 2 : 64;
		hsi_mnode *p  = realloc(m->nodes, nc * sizeof(*p));
		if (p == NULL) {
			return HSI_ENOMEM;
		}
		m->nodes = p;
		*cap     = nc;
	}
	*out = &m->nodes[m->n_nodes++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* Builds the children index lists from the parent links. */
static int
link_children(hsi_method *m)
{
	m->children = calloc(m->n_nodes + 1, sizeof(int));
	if (m->children == NULL) {
		return HSI_ENOMEM;
	}
	size_t k = 0;
	for (size_t g = 0; g < m->n_nodes; g++) {
		hsi_mnode *n = &m->nodes[g];
		if (!n->is_group) {
			continue;
		}
		n->first_child = (int) k;
		for (size_t c = 0; c < g; c++) {
			if (m->nodes[c].parent == (int) g) {
				m->children[k++] = (int) c;
			}
		}
		n->n_children = (int) (k - (size_t) n->first_child);
	}
	return 0;
}

int
hsi_method_default(const hsi_catalog *cat, hsi_method **out)
{
	hsi_method *m   = calloc(1, sizeof(*m));
	size_t      cap = 0;
	int         rv  = 0;
	if (m == NULL) {
		return HSI_ENOMEM;
	}
	snprintf(m->name, sizeof(m->name), "%s",
	    "HSI default (catalog goalposts, equal dimensions)");
	m->decimals = 4;
	/* Root goes last, so its index is known only at the end: link
	 * parents in a second pass by dimension order. */
	int *dim_node = calloc(cat->n_dims + 1, sizeof(int));
	if (dim_node == NULL) {
		free(m);
		return HSI_ENOMEM;
	}
	for (size_t d = 0; rv == 0 && d < cat->n_dims; d++) {
		size_t first = m->n_nodes;
		for (size_t i = 0; rv == 0 && i < cat->n_ind; i++) {
			const hsi_indicator *ind = &cat->ind[i];
			hsi_mnode           *n;
			if (!ind->in_index
			    || strcmp(ind->dimension, cat->dims[d].code) != 0
			    || (rv = push_node(m, &cap, &n)) != 0) {
				continue;
			}
			snprintf(n->code, sizeof(n->code), "%s", ind->code);
			n->ind       = (int) i;
			n->weight    = ind->weight;
			n->direction = ind->direction;
			n->lo        = ind->lo;
			n->hi        = ind->hi;
			m->n_leaves++;
		}
		hsi_mnode *g;
		if (rv == 0 && (rv = push_node(m, &cap, &g)) == 0) {
			snprintf(
			    g->code, sizeof(g->code), "%s", cat->dims[d].code);
			g->is_group     = 1;
			g->weight       = 1;
			g->agg          = HSI_AGG_ARITH;
			g->min_coverage = 0.5;
			dim_node[d]     = (int) (m->n_nodes - 1);
			for (size_t c = first; c + 1 < m->n_nodes; c++) {
				m->nodes[c].parent = dim_node[d];
			}
			m->n_groups++;
		}
	}
	hsi_mnode *root;
	if (rv == 0 && (rv = push_node(m, &cap, &root)) == 0) {
		snprintf(root->code, sizeof(root->code), "hsi");
		root->is_group     = 1;
		root->weight       = 1;
		root->parent       = -1;
		root->agg          = HSI_AGG_ARITH;
		root->min_coverage = 0.5;
		m->n_groups++;
		for (size_t d = 0; d < cat->n_dims; d++) {
			m->nodes[dim_node[d]].parent = (int) (m->n_nodes - 1);
		}
		rv = link_children(m);
	}
	free(dim_node);
	if (rv != 0) {
		hsi_method_free(m);
		return rv;
	}
	*out = m;
	return 0;
}

static const char *const agg_names[]
    = { "arithmetic", "geometric", "harmonic" };

static json_t *
node_json(const hsi_method *m, int idx, const hsi_catalog *cat)
{
	const hsi_mnode *n = &m->nodes[idx];
	(void) cat;
	if (!n->is_group) {
		return json_pack("{s:s, s:f, s:s, s:i, s:f, s:f}", "indicator",
		    n->code, "weight", n->weight, "normalisation", "goalpost",
		    "direction", n->direction, "lo", n->lo, "hi", n->hi);
	}
	json_t *kids = json_array();
	for (int c = 0; c < n->n_children; c++) {
		json_array_append_new(
		    kids, node_json(m, m->children[n->first_child + c], cat));
	}
	return json_pack("{s:s, s:f, s:s, s:f, s:o}", "code", n->code,
	    "weight", n->weight, "aggregation", agg_names[n->agg],
	    "min_coverage", n->min_coverage, "children", kids);
}

json_t *
hsi_method_to_json(const hsi_method *m)
{
	return json_pack("{s:i, s:s, s:s, s:i, s:o}", "format", 1, "name",
	    m->name, "index_period", m->fiscal_index ? "fiscal" : "calendar",
	    "decimals", m->decimals, "tree",
	    node_json(m, (int) m->n_nodes - 1, NULL));
}

void
hsi_method_free(hsi_method *m)
{
	if (m != NULL) {
		free(m->nodes);
		free(m->children);
		free(m);
	}
}

int
hsi_result_init(hsi_result *r, size_t n_areas, size_t n_nodes)
{
	memset(r, 0, sizeof(*r));
	r->n_areas  = n_areas;
	r->n_nodes  = n_nodes;
	r->score    = malloc((n_areas * n_nodes + 1) * sizeof(double));
	r->coverage = malloc((n_areas * n_nodes + 1) * sizeof(double));
	r->rank     = calloc(n_areas + 1, sizeof(int));
	if (!r->score || !r->coverage || !r->rank) {
		hsi_result_fini(r);
		return HSI_ENOMEM;
	}
	return 0;
}

void
hsi_result_fini(hsi_result *r)
{
	free(r->score);
	free(r->coverage);
	free(r->rank);
	memset(r, 0, sizeof(*r));
}

static double
goalpost(const hsi_mnode *n, double x)
{
	double s = (x - n->lo) / (n->hi - n->lo);
	s        = s < 0 ? 0 : s > 1 ? 1 : s;
	return n->direction < 0 ? 1 - s : s;
}

/*
 * Weighted mean of the present children; weights of missing children drop
 * out (renormalise). A zero member makes a geometric or harmonic mean 0:
 * both are defined by their limit, which is what "no compensation" means.
 */
static void
aggregate(const hsi_method *m, const hsi_mnode *g, const double *sc,
    double *out, double *cov)
{
	double wsum = 0, wpresent = 0, acc = 0;
	int    zero = 0;
	for (int c = 0; c < g->n_children; c++) {
		const hsi_mnode *k
		    = &m->nodes[m->children[g->first_child + c]];
		double s = sc[m->children[g->first_child + c]];
		wsum += k->weight;
		if (isnan(s) || k->weight <= 0) {
			continue;
		}
		wpresent += k->weight;
		switch (g->agg) {
		case HSI_AGG_ARITH:
			acc += k->weight * s;
			break;
		case HSI_AGG_GEOM:
			if (s <= 0) {
				zero = 1;
			} else {
				acc += k->weight * log(s);
			}
			break;
		case HSI_AGG_HARM:
			if (s <= 0) {
				zero = 1;
			} else {
				acc += k->weight / s;
			}
			break;
		}
	}
	*cov = wsum > 0 ? wpresent / wsum : 0;
	if (wpresent <= 0 || *cov + 1e-12 < g->min_coverage) {
		*out = NAN;
		return;
	}
	if (zero) {
		*out = 0;
		return;
	}
	switch (g->agg) {
	case HSI_AGG_ARITH:
		*out = acc / wpresent;
		break;
	case HSI_AGG_GEOM:
		*out = exp(acc / wpresent);
		break;
	case HSI_AGG_HARM:
		*out = wpresent / acc;
		break;
	}
}

void
hsi_engine_score(const hsi_method *m, const hsi_panel *p, hsi_result *r)
{
	for (size_t a = 0; a < p->n_areas; a++) {
		const double *row = &p->value[a * p->n_ind];
		double       *sc  = &r->score[a * m->n_nodes];
		double       *cv  = &r->coverage[a * m->n_nodes];
		for (size_t i = 0; i < m->n_nodes; i++) {
			const hsi_mnode *n = &m->nodes[i];
			if (n->is_group) {
				aggregate(m, n, sc, &sc[i], &cv[i]);
			} else {
				double x = row[n->ind];
				sc[i]    = isnan(x) ? NAN : goalpost(n, x);
				cv[i]    = isnan(x) ? 0 : 1;
			}
		}
	}
}

double
hsi_round(double x, int d)
{
	double f = pow(10, d);
	return round(x * f) / f;
}

typedef struct {
	double v;
	size_t area;
} rank_item;

static int
cmp_desc(const void *x, const void *y)
{
	const rank_item *a = x, *b = y;
	return a->v < b->v ? 1 : a->v > b->v ? -1 : 0;
}

void
hsi_engine_rank(
    const hsi_method *m, hsi_result *r, const unsigned char *rank_mask)
{
	rank_item *v    = malloc((r->n_areas + 1) * sizeof(*v));
	size_t     n    = 0;
	size_t     root = m->n_nodes - 1;
	if (v == NULL) {
		return;
	}
	for (size_t a = 0; a < r->n_areas; a++) {
		r->rank[a] = 0;
		double s   = r->score[a * m->n_nodes + root];
		if (rank_mask[a] && !isnan(s)) {
			v[n].v      = hsi_round(s, m->decimals);
			v[n++].area = a;
		}
	}
	qsort(v, n, sizeof(*v), cmp_desc);
	for (size_t i = 0; i < n; i++) {
		r->rank[v[i].area] = (i > 0 && v[i].v == v[i - 1].v)
		    ? r->rank[v[i - 1].area]
		    : (int) i + 1;
	}
	free(v);
}
