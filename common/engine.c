/*
 * engine.c: imputation, normalisation, aggregation, ranks, change and
 * contributions (docs/methodology.md §3; every formula is there).
 *
 * Order of work, for speed on 7,255 areas x 10 years: leaves column by
 * column over all years (imputation and normalisation need a whole column:
 * the reference areas' statistics, earlier years, siblings), then groups
 * area by area in post-order, then ranks per year and group, then change
 * and contributions per area.
 */
#include "engine.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define COV_TOL 1e-12
#define FLAT_TOL 1e-12

int
hsi_result_init(hsi_result *r, const hsi_method *m, const hsi_panel *p)
{
	memset(r, 0, sizeof(*r));
	r->n_years     = p->n_years;
	r->n_areas     = p->n_areas;
	r->n_nodes     = m->n_nodes;
	r->n_cols      = m->n_leaves;
	r->n_groups    = m->n_groups;
	size_t ya      = p->n_years * p->n_areas + 1;
	r->score       = malloc(ya * m->n_nodes * sizeof(double));
	r->coverage    = malloc(ya * m->n_nodes * sizeof(double));
	r->delta       = malloc(ya * m->n_nodes * sizeof(double));
	r->contrib     = malloc(ya * m->n_nodes * sizeof(double));
	r->used        = malloc(ya * m->n_leaves * sizeof(double));
	r->imputed     = malloc(ya * m->n_leaves);
	r->rank        = malloc(ya * m->n_groups * sizeof(int));
	r->rank_change = malloc(ya * m->n_groups * sizeof(int));
	if (!r->score || !r->coverage || !r->delta || !r->contrib || !r->used
	    || !r->imputed || !r->rank || !r->rank_change) {
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
	free(r->delta);
	free(r->contrib);
	free(r->used);
	free(r->imputed);
	free(r->rank);
	free(r->rank_change);
	memset(r, 0, sizeof(*r));
}

double
hsi_round(double x, int d)
{
	static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
		1e8, 1e9, 1e10, 1e11, 1e12 };
	double              f     = d >= 0 && d <= 12 ? p10[d] : pow(10, d);
	return round(x * f) / f;
}

static double
clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Sibling groups (same parent and level) for region_mean: id per area. */
static int *
sibling_ids(const hsi_areas *ar, size_t *n_ids)
{
	int *id = malloc((ar->n + 1) * sizeof(int));
	if (id == NULL) {
		return NULL;
	}
	size_t n = 0;
	for (size_t a = 0; a < ar->n; a++) {
		id[a] = -1;
		if (ar->parent[a] < 0) {
			continue;
		}
		for (size_t b = 0; b < a; b++) {
			if (ar->parent[b] == ar->parent[a]
			    && ar->level[b] == ar->level[a]) {
				id[a] = id[b];
				break;
			}
		}
		if (id[a] < 0) {
			id[a] = (int) n++;
		}
	}
	*n_ids = n;
	return id;
}

/*
 * §3.1-3.2 for one column over every year: fills r->used, r->imputed and
 * tv (the transformed value, NaN when missing).
 */
static void
impute_column(const hsi_mnode *n, const hsi_areas *ar, const hsi_panel *p,
    hsi_result *r, size_t c, const int *sib, double *sum, int *cnt,
    size_t n_sib, double *tv)
{
	size_t A = p->n_areas, C = p->n_cols;
	for (size_t y = 0; y < p->n_years; y++) {
		const double *row = &p->value[y * A * C];
		if (n->impute == HSI_IMPUTE_REGION) {
			memset(sum, 0, n_sib * sizeof(double));
			memset(cnt, 0, n_sib * sizeof(int));
			for (size_t a = 0; a < A; a++) {
				double x = row[a * C + c];
				if (sib[a] >= 0 && !isnan(x)) {
					sum[sib[a]] += x;
					cnt[sib[a]]++;
				}
			}
		}
		for (size_t a = 0; a < A; a++) {
			double        x   = row[a * C + c];
			unsigned char imp = 0;
			if (isnan(x) && n->impute == HSI_IMPUTE_CARRY) {
				for (int k = 1;
				     k <= n->max_age && (size_t) k <= y; k++) {
					double e
					    = p->value[((y - (size_t) k) * A
					                   + a)
					            * C
					        + c];
					if (!isnan(e)) {
						x   = e;
						imp = 1;
						break;
					}
				}
			} else if (isnan(x) && n->impute == HSI_IMPUTE_REGION
			    && sib[a] >= 0 && cnt[sib[a]] > 0) {
				x   = sum[sib[a]] / cnt[sib[a]];
				imp = 1;
			}
			size_t k      = (y * A + a) * C + c;
			r->used[k]    = x;
			r->imputed[k] = imp;
			double t      = x;
			if (n->log && !isnan(x)) {
				t = x > 0 ? log(x) : NAN;
			}
			tv[y * A + a] = t;
		}
	}
	(void) ar;
}

typedef struct {
	double lo, hi; /* minmax, panel, goalpost */
	double mu, sd; /* zscore */
	int    n;      /* reference values present */
} col_stats;

static void
stats(const double *tv, const hsi_areas *ar, size_t A, size_t y0, size_t y1,
    col_stats *s)
{
	double mn = INFINITY, mx = -INFINITY, sum = 0;
	int    n = 0;
	for (size_t y = y0; y < y1; y++) {
		for (size_t a = 0; a < A; a++) {
			double x = tv[y * A + a];
			if (!ar->ref[a] || isnan(x)) {
				continue;
			}
			mn = x < mn ? x : mn;
			mx = x > mx ? x : mx;
			sum += x;
			n++;
		}
	}
	s->lo = mn;
	s->hi = mx;
	s->n  = n;
	s->mu = n > 0 ? sum / n : NAN;
	s->sd = 0;
	if (n >= 2) {
		double ss = 0;
		for (size_t y = y0; y < y1; y++) {
			for (size_t a = 0; a < A; a++) {
				double x = tv[y * A + a];
				if (ar->ref[a] && !isnan(x)) {
					ss += (x - s->mu) * (x - s->mu);
				}
			}
		}
		s->sd = sqrt(ss / (n - 1));
	}
}

static double
normalise(const hsi_mnode *n, const col_stats *s, double x)
{
	double u;
	if (isnan(x)) {
		return NAN;
	}
	switch (n->norm) {
	case HSI_NORM_GOALPOST:
		u = clamp01((x - s->lo) / (s->hi - s->lo));
		break;
	case HSI_NORM_MINMAX:
	case HSI_NORM_PANEL:
		if (s->n == 0) {
			return NAN;
		}
		u = s->hi == s->lo ? 0.5
		                   : clamp01((x - s->lo) / (s->hi - s->lo));
		break;
	case HSI_NORM_ZSCORE:
	default:
		if (s->n == 0) {
			return NAN;
		}
		u = s->n < 2 || s->sd == 0
		    ? 0.5
		    : 0.5 * erfc(-((x - s->mu) / s->sd) / sqrt(2.0));
		break;
	}
	return n->direction < 0 ? 1 - u : u;
}

/* §3.3-3.4 for one column: writes the leaf's score and coverage. */
static void
score_column(const hsi_method *m, const hsi_mnode *n, size_t node,
    const hsi_areas *ar, const hsi_panel *p, hsi_result *r, const double *tv)
{
	size_t    A = p->n_areas, N = m->n_nodes;
	col_stats s = { 0 };
	if (n->norm == HSI_NORM_GOALPOST) {
		s.lo = n->log ? log(n->lo) : n->lo;
		s.hi = n->log ? log(n->hi) : n->hi;
	} else if (n->norm == HSI_NORM_PANEL) {
		stats(tv, ar, A, 0, p->n_years, &s);
	}
	for (size_t y = 0; y < p->n_years; y++) {
		if (n->norm == HSI_NORM_MINMAX || n->norm == HSI_NORM_ZSCORE) {
			stats(tv, ar, A, y, y + 1, &s);
		}
		for (size_t a = 0; a < A; a++) {
			double v = normalise(n, &s, tv[y * A + a]);
			r->score[(y * A + a) * N + node]    = v;
			r->coverage[(y * A + a) * N + node] = isnan(v) ? 0 : 1;
		}
	}
}

/* §3.5: one group of one area from its children's scores in sc. */
static void
aggregate(const hsi_method *m, const hsi_mnode *g, const double *sc,
    double *out, double *cov)
{
	double wsum = 0, wpresent = 0, acc = 0;
	int    zero = 0;
	for (int c = 0; c < g->n_children; c++) {
		int    k = m->children[g->first_child + c];
		double w = m->nodes[k].weight, s = sc[k];
		wsum += w;
		if (isnan(s) || w <= 0) {
			continue;
		}
		wpresent += w;
		if (g->agg == HSI_AGG_ARITH) {
			acc += w * s;
		} else if (s <= 0) {
			zero = 1;
		} else if (g->agg == HSI_AGG_GEOM) {
			acc += w * log(s);
		} else {
			acc += w / s;
		}
	}
	*cov = wsum > 0 ? wpresent / wsum : 0;
	if (wpresent <= 0 || *cov < g->min_coverage - COV_TOL) {
		*out = NAN;
	} else if (zero) {
		*out = 0;
	} else if (g->agg == HSI_AGG_ARITH) {
		*out = acc / wpresent;
	} else if (g->agg == HSI_AGG_GEOM) {
		*out = exp(acc / wpresent);
	} else {
		*out = wpresent / acc;
	}
}

typedef struct {
	double   key;
	uint32_t area;
} rank_item;

static int
cmp_desc(const void *x, const void *y)
{
	const rank_item *a = x, *b = y;
	return a->key < b->key ? 1 : a->key > b->key ? -1 : 0;
}

/* §3.6: competition ranks of every group, per year. */
static int
rank_all(const hsi_method *m, const hsi_areas *ar, const hsi_panel *p,
    hsi_result *r)
{
	size_t     A = p->n_areas, N = m->n_nodes, G = m->n_groups;
	rank_item *v = malloc((A + 1) * sizeof(*v));
	if (v == NULL) {
		return HSI_ENOMEM;
	}
	memset(r->rank, 0, p->n_years * A * G * sizeof(int));
	for (size_t y = 0; y < p->n_years; y++) {
		for (size_t i = 0; i < N; i++) {
			const hsi_mnode *g = &m->nodes[i];
			size_t           n = 0;
			if (!g->is_group) {
				continue;
			}
			for (size_t a = 0; a < A; a++) {
				double s = r->score[(y * A + a) * N + i];
				if (ar->ref[a] && !isnan(s)) {
					v[n].key    = m->rank_full
					       ? s
					       : hsi_round(s, m->decimals);
					v[n++].area = (uint32_t) a;
				}
			}
			qsort(v, n, sizeof(*v), cmp_desc);
			int *rk = &r->rank[y * A * G + (size_t) g->group_ord];
			for (size_t k = 0; k < n; k++) {
				int prev = k > 0
				    ? rk[(size_t) v[k - 1].area * G]
				    : 0;
				rk[(size_t) v[k].area * G]
				    = k > 0 && v[k].key == v[k - 1].key
				    ? prev
				    : (int) k + 1;
			}
		}
	}
	free(v);
	return 0;
}

/* ŵ_c of child k within g for scores sc (0 when k is not present). */
static double
what(const hsi_method *m, const hsi_mnode *g, const double *sc, int k)
{
	double wp = 0;
	for (int c = 0; c < g->n_children; c++) {
		int    j = m->children[g->first_child + c];
		double w = m->nodes[j].weight;
		if (!isnan(sc[j]) && w > 0) {
			wp += w;
		}
	}
	double w = m->nodes[k].weight;
	return isnan(sc[k]) || w <= 0 || wp <= 0 ? 0 : w / wp;
}

/* §3.7: splits group g's change among its children (d[], sums to Δg). */
static void
split_change(const hsi_method *m, const hsi_mnode *g, size_t gi,
    const double *s1, const double *s0, double *d)
{
	double g1 = s1[gi], g0 = s0[gi], dg = g1 - g0;
	int    zero = g->agg != HSI_AGG_ARITH && (g1 <= 0 || g0 <= 0);
	int    nz   = 0;
	for (int c = 0; c < g->n_children; c++) {
		int    k  = m->children[g->first_child + c];
		double w1 = what(m, g, s1, k), w0 = what(m, g, s0, k);
		double a1 = isnan(s1[k]) ? 0 : s1[k];
		double a0 = isnan(s0[k]) ? 0 : s0[k];
		if (zero) {
			int present = !isnan(s1[k]) || !isnan(s0[k]);
			int is0     = (!isnan(s1[k]) && s1[k] <= 0)
			    || (!isnan(s0[k]) && s0[k] <= 0);
			d[c] = present && is0 ? 1 : 0;
			nz += present && is0;
		} else if (g->agg == HSI_AGG_ARITH) {
			d[c] = w1 * a1 - w0 * a0;
		} else if (g->agg == HSI_AGG_GEOM) {
			double dl = log(g1) - log(g0);
			double L  = dl == 0 ? g1 : dg / dl;
			d[c]      = L
			    * ((w1 > 0 ? w1 * log(a1) : 0)
			        - (w0 > 0 ? w0 * log(a0) : 0));
		} else {
			d[c] = -g1 * g0
			    * ((w1 > 0 ? w1 / a1 : 0)
			        - (w0 > 0 ? w0 / a0 : 0));
		}
	}
	if (zero) {
		for (int c = 0; c < g->n_children; c++) {
			d[c] = nz > 0 ? d[c] * dg / nz : 0;
		}
	}
}

static void
change_area(const hsi_method *m, const hsi_panel *p, hsi_result *r, size_t y,
    size_t a, double *d)
{
	size_t        A = p->n_areas, N = m->n_nodes, G = m->n_groups;
	const double *s1 = &r->score[(y * A + a) * N];
	const double *s0 = &r->score[((y - 1) * A + a) * N];
	double       *dl = &r->delta[(y * A + a) * N];
	double       *ct = &r->contrib[(y * A + a) * N];
	const int    *r1 = &r->rank[(y * A + a) * G];
	const int    *r0 = &r->rank[((y - 1) * A + a) * G];
	int          *rc = &r->rank_change[(y * A + a) * G];
	for (size_t i = 0; i < N; i++) {
		dl[i] = s1[i] - s0[i]; /* NaN when either is missing */
		ct[i] = NAN;
	}
	for (size_t g = 0; g < G; g++) {
		rc[g] = r1[g] > 0 && r0[g] > 0 ? r0[g] - r1[g]
		                               : HSI_NO_RANK_CHANGE;
	}
	size_t root = N - 1;
	if (isnan(dl[root])) {
		return;
	}
	ct[root] = dl[root];
	/* Reverse post-order visits every parent before its children. */
	for (size_t i = N; i-- > 0;) {
		const hsi_mnode *g = &m->nodes[i];
		if (!g->is_group || isnan(ct[i])) {
			continue;
		}
		int both = !isnan(s1[i]) && !isnan(s0[i]);
		/* The year the group is present in, for spreading by weight.
		 */
		const double *sp = !isnan(s1[i]) ? s1 : s0;
		if (both) {
			split_change(m, g, i, s1, s0, d);
		}
		for (int c = 0; c < g->n_children; c++) {
			int k = m->children[g->first_child + c];
			if (isnan(s1[k]) && isnan(s0[k])) {
				continue;
			}
			if (both && fabs(dl[i]) > FLAT_TOL) {
				ct[k] = ct[i] * d[c] / dl[i];
			} else {
				ct[k] = ct[i] * what(m, g, sp, k);
			}
		}
	}
}

int
hsi_engine_run(const hsi_method *m, const hsi_areas *ar, const hsi_panel *p,
    hsi_result *r)
{
	size_t  A = p->n_areas, N = m->n_nodes, Y = p->n_years;
	size_t  n_sib = 0;
	int    *sib   = sibling_ids(ar, &n_sib);
	double *tv    = malloc((Y * A + 1) * sizeof(double));
	double *sum   = malloc((n_sib + 1) * sizeof(double));
	int    *cnt   = malloc((n_sib + 1) * sizeof(int));
	double *d     = malloc((N + 1) * sizeof(double));
	int     rv    = HSI_ENOMEM;
	if (!sib || !tv || !sum || !cnt || !d) {
		goto out;
	}
	for (size_t c = 0; c < m->n_leaves; c++) {
		size_t           node = (size_t) m->leaf_node[c];
		const hsi_mnode *n    = &m->nodes[node];
		impute_column(n, ar, p, r, c, sib, sum, cnt, n_sib, tv);
		score_column(m, n, node, ar, p, r, tv);
	}
	for (size_t ya = 0; ya < Y * A; ya++) {
		double *sc = &r->score[ya * N];
		double *cv = &r->coverage[ya * N];
		for (size_t i = 0; i < N; i++) {
			if (m->nodes[i].is_group) {
				aggregate(m, &m->nodes[i], sc, &sc[i], &cv[i]);
			}
		}
	}
	if ((rv = rank_all(m, ar, p, r)) != 0) {
		goto out;
	}
	for (size_t y = 0; y < Y; y++) {
		int prev
		    = y > 0 && p->year_present[y] && p->year_present[y - 1];
		for (size_t a = 0; a < A; a++) {
			if (prev) {
				change_area(m, p, r, y, a, d);
				continue;
			}
			for (size_t i = 0; i < N; i++) {
				r->delta[(y * A + a) * N + i]   = NAN;
				r->contrib[(y * A + a) * N + i] = NAN;
			}
			for (size_t g = 0; g < m->n_groups; g++) {
				r->rank_change[(y * A + a) * m->n_groups + g]
				    = HSI_NO_RANK_CHANGE;
			}
		}
	}
	rv = 0;
out:
	free(sib);
	free(tv);
	free(sum);
	free(cnt);
	free(d);
	return rv;
}
