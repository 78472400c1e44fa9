/*
 * engine.c: imputation, normalisation, aggregation, ranks, change and
 * contributions (docs/methodology.md §3; every formula is there).
 *
 * Laid out for 7,255 areas x 10 years x 50 nodes: every pass walks the
 * [year][area][...] arrays in memory order. Column statistics (reference
 * min/max/mean/sd, sibling means) are gathered in area-major passes
 * first; then each area's leaves and groups are scored in one go while its
 * row is in cache; ranks use a radix sort.
 */
#include "engine.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "par.h"

#define COV_TOL 1e-12
#define FLAT_TOL 1e-12

int
hsi_result_init(
    hsi_result *r, const hsi_method *m, const hsi_panel *p, int changes)
{
	memset(r, 0, sizeof(*r));
	r->n_years  = p->n_years;
	r->n_areas  = p->n_areas;
	r->n_nodes  = m->n_nodes;
	r->n_cols   = m->n_leaves;
	r->n_groups = m->n_groups;
	size_t ya   = p->n_years * p->n_areas + 1;
	r->score    = malloc(ya * m->n_nodes * sizeof(double));
	r->coverage = malloc(ya * m->n_groups * sizeof(double));
	r->rank     = malloc(ya * m->n_groups * sizeof(int));
	r->has_prev = calloc(p->n_years + 1, 1);
	int ok      = r->score && r->coverage && r->rank && r->has_prev;
	if (ok && changes) {
		r->contrib     = malloc(ya * m->n_nodes * sizeof(double));
		r->rank_change = malloc(ya * m->n_groups * sizeof(int));
		ok             = r->contrib && r->rank_change;
	}
	if (!ok) {
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
	free(r->contrib);
	free(r->used);
	free(r->imputed);
	free(r->rank);
	free(r->rank_change);
	free(r->has_prev);
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
	int *id    = malloc((ar->n + 1) * sizeof(int));
	int *first = malloc((ar->n + 1) * sizeof(int)); /* by parent */
	if (id == NULL || first == NULL) {
		free(id);
		free(first);
		return NULL;
	}
	size_t n = 0;
	for (size_t a = 0; a < ar->n; a++) {
		first[a] = -1;
	}
	for (size_t a = 0; a < ar->n; a++) {
		id[a] = -1;
		int q = ar->parent[a];
		if (q < 0) {
			continue;
		}
		/* Areas of one parent mostly share a level: look among the
		 * parent's earlier children only when levels differ. */
		int b = first[q];
		if (b < 0) {
			first[q] = (int) a;
			id[a]    = (int) n++;
			continue;
		}
		if (ar->level[b] == ar->level[a]) {
			id[a] = id[b];
			continue;
		}
		for (size_t c = (size_t) b + 1; c < a && id[a] < 0; c++) {
			if (ar->parent[c] == q
			    && ar->level[c] == ar->level[a]) {
				id[a] = id[c];
			}
		}
		if (id[a] < 0) {
			id[a] = (int) n++;
		}
	}
	free(first);
	*n_ids = n;
	return id;
}

typedef struct {
	double lo, hi;  /* goalpost (transformed), or reference min/max */
	double mu, sd;  /* zscore */
	double sum, ss; /* accumulators */
	int    n;       /* reference values present */
} col_stats;

/* One leaf, compact: what the hot loops need and nothing else. */
typedef struct {
	int    node, col;
	int    norm, impute, max_age, log;
	int    plain; /* goalposts, no log, no imputation: the fast path */
	int    dir;
	double lo, span;
} leaf_op;

/* Working memory of one run. */
typedef struct {
	const hsi_method *m;
	const hsi_areas  *ar;
	const hsi_panel  *p;
	hsi_result       *r;
	leaf_op          *lop; /* [col] */
	int              *sib;
	size_t            n_sib;
	double           *sib_sum; /* [y][sib][col] */
	int              *sib_cnt;
	col_stats        *st;     /* [y][col]; panel columns use year 0 */
	double           *cw;     /* weight of m->children[k], compact */
	int              *groups; /* group node indices, post-order */
	size_t            n_grp;
	int               any_region, any_zscore, any_stats, any_impute;
} run_ctx;

/* Sibling sums of observed values, every year (region_mean). */
static void
sibling_sums(run_ctx *x)
{
	size_t A = x->p->n_areas, C = x->p->n_cols, S = x->n_sib;
	memset(x->sib_sum, 0, x->p->n_years * S * C * sizeof(double));
	memset(x->sib_cnt, 0, x->p->n_years * S * C * sizeof(int));
	for (size_t y = 0; y < x->p->n_years; y++) {
		for (size_t a = 0; a < A; a++) {
			if (x->sib[a] < 0) {
				continue;
			}
			const double *row = &x->p->value[(y * A + a) * C];
			size_t        k   = (y * S + (size_t) x->sib[a]) * C;
			for (size_t c = 0; c < C; c++) {
				if (!isnan(row[c])) {
					x->sib_sum[k + c] += row[c];
					x->sib_cnt[k + c]++;
				}
			}
		}
	}
}

/*
 * §3.1-3.2: the value leaf column c is scored from in row (y, a), and
 * whether it was imputed; *t gets it transformed (log).
 */
static double
leaf_value(const run_ctx *x, const leaf_op *o, size_t y, size_t a,
    int *imputed, double *t)
{
	const hsi_panel *p = x->p;
	size_t           A = p->n_areas, C = p->n_cols, c = (size_t) o->col;
	double           v = p->value[(y * A + a) * C + c];
	*imputed           = 0;
	if (isnan(v) && o->impute == HSI_IMPUTE_CARRY) {
		for (int k = 1; k <= o->max_age && (size_t) k <= y; k++) {
			double e
			    = p->value[((y - (size_t) k) * A + a) * C + c];
			if (!isnan(e)) {
				v        = e;
				*imputed = 1;
				break;
			}
		}
	} else if (isnan(v) && o->impute == HSI_IMPUTE_REGION
	    && x->sib[a] >= 0) {
		size_t k = (y * x->n_sib + (size_t) x->sib[a]) * C + c;
		if (x->sib_cnt[k] > 0) {
			v        = x->sib_sum[k] / x->sib_cnt[k];
			*imputed = 1;
		}
	}
	*t = v;
	if (o->log && !isnan(v)) {
		*t = v > 0 ? log(v) : NAN;
	}
	return v;
}

/* Reference statistics of every column (§3.3), two-pass for the sd. */
static void
column_stats(run_ctx *x)
{
	const hsi_method *m = x->m;
	size_t A = x->p->n_areas, C = x->p->n_cols, Y = x->p->n_years;
	for (size_t k = 0; k < Y * C; k++) {
		col_stats *s = &x->st[k];
		memset(s, 0, sizeof(*s));
		s->lo = INFINITY;
		s->hi = -INFINITY;
	}
	for (int pass = 0; x->any_stats && pass < 1 + x->any_zscore; pass++) {
		for (size_t y = 0; y < Y; y++) {
			for (size_t a = 0; a < A; a++) {
				if (!x->ar->ref[a]) {
					continue;
				}
				for (size_t c = 0; c < C; c++) {
					const leaf_op *o = &x->lop[c];
					double         t;
					int            imp;
					if (o->norm == HSI_NORM_GOALPOST
					    || (pass == 1
					        && o->norm
					            != HSI_NORM_ZSCORE)) {
						continue;
					}
					leaf_value(x, o, y, a, &imp, &t);
					if (isnan(t)) {
						continue;
					}
					int pan = o->norm == HSI_NORM_PANEL;
					col_stats *s
					    = &x->st[(pan ? 0 : y) * C + c];
					if (pass == 1) {
						s->ss += (t - s->mu)
						    * (t - s->mu);
						continue;
					}
					s->lo = t < s->lo ? t : s->lo;
					s->hi = t > s->hi ? t : s->hi;
					s->sum += t;
					s->n++;
				}
			}
		}
		for (size_t k = 0; pass == 0 && k < Y * C; k++) {
			x->st[k].mu
			    = x->st[k].n > 0 ? x->st[k].sum / x->st[k].n : NAN;
		}
	}
	for (size_t y = 0; y < Y; y++) {
		for (size_t c = 0; c < C; c++) {
			const hsi_mnode *n = &m->nodes[m->leaf_node[c]];
			col_stats       *s = &x->st[y * C + c];
			if (n->norm == HSI_NORM_PANEL && y > 0) {
				*s = x->st[c];
			} else if (n->norm == HSI_NORM_GOALPOST) {
				s->lo = n->log ? log(n->lo) : n->lo;
				s->hi = n->log ? log(n->hi) : n->hi;
			} else if (n->norm == HSI_NORM_ZSCORE) {
				s->sd
				    = s->n >= 2 ? sqrt(s->ss / (s->n - 1)) : 0;
			}
		}
	}
}

static double
normalise(const hsi_mnode *n, const col_stats *s, double v)
{
	double u;
	if (isnan(v)) {
		return NAN;
	}
	switch (n->norm) {
	case HSI_NORM_GOALPOST:
		u = clamp01((v - s->lo) / (s->hi - s->lo));
		break;
	case HSI_NORM_MINMAX:
	case HSI_NORM_PANEL:
		if (s->n == 0) {
			return NAN;
		}
		u = s->hi == s->lo ? 0.5
		                   : clamp01((v - s->lo) / (s->hi - s->lo));
		break;
	case HSI_NORM_ZSCORE:
	default:
		if (s->n == 0) {
			return NAN;
		}
		u = s->n < 2 || s->sd == 0
		    ? 0.5
		    : 0.5 * erfc(-((v - s->mu) / s->sd) / sqrt(2.0));
		break;
	}
	return n->direction < 0 ? 1 - u : u;
}

/* §3.5: one group of one area from its children's scores in sc. */
static void
aggregate(const hsi_method *m, const double *cw, const hsi_mnode *g,
    const double *sc, double *out, double *cov)
{
	double wsum = 0, wpresent = 0, acc = 0;
	int    zero = 0;
	for (int c = 0; c < g->n_children; c++) {
		int    k = m->children[g->first_child + c];
		double w = cw[g->first_child + c], s = sc[k];
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

/* §3.1-3.5 for one row: leaves, then groups in post-order. */
static void
score_row(run_ctx *x, size_t y, size_t a)
{
	const hsi_method *m = x->m;
	size_t            N = m->n_nodes, C = m->n_leaves, G = m->n_groups;
	size_t            ya  = y * x->p->n_areas + a;
	double           *sc  = &x->r->score[ya * N];
	double           *cv  = &x->r->coverage[ya * G];
	const col_stats  *st  = &x->st[y * C];
	const double     *row = &x->p->value[ya * C];
	for (size_t c = 0; c < C; c++) {
		const leaf_op   *o = &x->lop[c];
		const hsi_mnode *n = &m->nodes[o->node];
		double           t;
		int              imp;
		if (o->plain) {
			/* §3.3 goalposts, the common case, without calls. */
			double u = clamp01((row[c] - o->lo) / o->span);
			sc[o->node]
			    = o->dir < 0 ? 1 - u : u; /* NaN stays NaN */
			if (x->r->used != NULL) {
				x->r->used[ya * C + c]    = row[c];
				x->r->imputed[ya * C + c] = 0;
			}
			continue;
		}
		double v = leaf_value(x, o, y, a, &imp, &t);
		if (x->r->used != NULL) {
			x->r->used[ya * C + c]    = v;
			x->r->imputed[ya * C + c] = (unsigned char) imp;
		}
		sc[o->node] = normalise(n, &st[c], t);
	}
	for (size_t k = 0; k < x->n_grp; k++) {
		const hsi_mnode *n = &m->nodes[x->groups[k]];
		aggregate(
		    m, x->cw, n, sc, &sc[x->groups[k]], &cv[n->group_ord]);
	}
	(void) N;
}

/*
 * Order-preserving integer key of a double, highest first: ascending
 * order of the keys is descending order of the values.
 */
static uint64_t
desc_key(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	u = (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
	return ~u;
}

typedef struct {
	uint64_t key;
	uint32_t area;
} rank_item;

/*
 * Quicksort by key with the comparison inlined (glibc's qsort calls a
 * function per comparison and was a third of the time at province scale);
 * insertion sort below 16; the smaller side first, so the stack stays
 * O(log n). Tied keys get one rank, so stability does not matter.
 */
static void
quick_sort(rank_item *v, size_t n)
{
	size_t lo_st[64], hi_st[64], sp = 0;
	lo_st[sp]   = 0;
	hi_st[sp++] = n;
	while (sp > 0) {
		size_t lo = lo_st[--sp], hi = hi_st[sp];
		while (hi - lo > 16) {
			size_t   mid = lo + (hi - lo) / 2;
			uint64_t a = v[lo].key, b = v[mid].key,
			         c   = v[hi - 1].key;
			uint64_t piv = a < b ? (b < c  ? b
			                       : a < c ? c
			                               : a)
			                     : (a < c        ? a
			                             : b < c ? c
			                                     : b);
			size_t   i = lo, j = hi - 1;
			for (;;) {
				while (v[i].key < piv) {
					i++;
				}
				while (v[j].key > piv) {
					j--;
				}
				if (i >= j) {
					break;
				}
				rank_item t = v[i];
				v[i++]      = v[j];
				v[j--]      = t;
			}
			/* [lo, j] <= piv <= [j+1, hi) */
			if (j + 1 - lo < hi - (j + 1)) {
				lo_st[sp]   = j + 1;
				hi_st[sp++] = hi;
				hi          = j + 1;
			} else {
				lo_st[sp]   = lo;
				hi_st[sp++] = j + 1;
				lo          = j + 1;
			}
		}
		for (size_t i = lo + 1; i < hi; i++) {
			rank_item t = v[i];
			size_t    k = i;
			while (k > lo && v[k - 1].key > t.key) {
				v[k] = v[k - 1];
				k--;
			}
			v[k] = t;
		}
	}
}

/*
 * Sorts (key, area) pairs by key: LSD radix sort, 11 bits a pass, with
 * the histograms of all passes counted in one read and passes whose digit
 * is the same for every key skipped; quicksort when there are few keys, where
 * clearing 2048 counters a pass would cost more than the sort.
 */
static void
sort_keys(rank_item *v, rank_item *tmp, size_t n)
{
	enum { BITS = 11, PASSES = 6, RADIX = 1 << BITS };
	if (n < 2048) {
		quick_sort(v, n);
		return;
	}
	size_t cnt[PASSES][RADIX]; /* 96 KiB: per call, threads sort too */
	memset(cnt, 0, sizeof(cnt));
	for (size_t i = 0; i < n; i++) {
		for (int p = 0; p < PASSES; p++) {
			cnt[p][(v[i].key >> (p * BITS)) & (RADIX - 1)]++;
		}
	}
	for (int p = 0; p < PASSES; p++) {
		int shift = p * BITS;
		if (cnt[p][(v[0].key >> shift) & (RADIX - 1)] == n) {
			continue;
		}
		size_t sum = 0;
		for (size_t d = 0; d < RADIX; d++) {
			size_t c  = cnt[p][d];
			cnt[p][d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			tmp[cnt[p][(v[i].key >> shift) & (RADIX - 1)]++]
			    = v[i];
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
}

/* §3.6: competition ranks of group task k (year k / n_grp) into r->rank. */
static void
rank_group(run_ctx *x, size_t task, rank_item *v)
{
	const hsi_method *m = x->m;
	hsi_result       *r = x->r;
	size_t            A = x->p->n_areas, N = m->n_nodes, G = m->n_groups;
	size_t y = task / x->n_grp, i = (size_t) x->groups[task % x->n_grp];
	const hsi_mnode *g  = &m->nodes[i];
	size_t           n  = 0;
	int             *rk = &r->rank[y * A * G + (size_t) g->group_ord];
	for (size_t a = 0; a < A; a++) {
		double s  = r->score[(y * A + a) * N + i];
		rk[a * G] = 0;
		if (x->ar->ref[a] && !isnan(s)) {
			v[n].key = desc_key(
			    m->rank_full ? s : hsi_round(s, m->decimals));
			v[n++].area = (uint32_t) a;
		}
	}
	sort_keys(v, v + A, n);
	int prev = 0;
	for (size_t k = 0; k < n; k++) {
		prev = k > 0 && v[k].key == v[k - 1].key ? prev : (int) k + 1;
		rk[(size_t) v[k].area * G] = prev;
	}
}

/* Present weight of each group in one row: Σ w_c over present children. */
static void
present_weights(const hsi_method *m, const double *sc, double *wp)
{
	for (size_t i = 0; i < m->n_nodes; i++) {
		const hsi_mnode *g = &m->nodes[i];
		if (!g->is_group) {
			continue;
		}
		double w = 0;
		for (int c = 0; c < g->n_children; c++) {
			int j = m->children[g->first_child + c];
			if (!isnan(sc[j]) && m->nodes[j].weight > 0) {
				w += m->nodes[j].weight;
			}
		}
		wp[g->group_ord] = w;
	}
}

/* ŵ of child k given its group's present weight wp. */
static double
what(const hsi_method *m, const double *sc, int k, double wp)
{
	double w = m->nodes[k].weight;
	return isnan(sc[k]) || w <= 0 || wp <= 0 ? 0 : w / wp;
}

/* §3.7: splits group g's change among its children (d[], sums to Δg). */
static void
split_change(const hsi_method *m, const hsi_mnode *g, size_t gi,
    const double *s1, const double *s0, double wp1, double wp0, double *d)
{
	double g1 = s1[gi], g0 = s0[gi], dg = g1 - g0;
	int    zero = g->agg != HSI_AGG_ARITH && (g1 <= 0 || g0 <= 0);
	int    nz   = 0;
	double L    = g1;
	if (g->agg == HSI_AGG_GEOM && !zero && g1 != g0) {
		double dl = log(g1) - log(g0);
		L         = dl == 0 ? g1 : dg / dl;
	}
	for (int c = 0; c < g->n_children; c++) {
		int    k  = m->children[g->first_child + c];
		double w1 = what(m, s1, k, wp1), w0 = what(m, s0, k, wp0);
		double a1 = isnan(s1[k]) ? 0 : s1[k];
		double a0 = isnan(s0[k]) ? 0 : s0[k];
		if (zero) {
			int present = (!isnan(s1[k]) || !isnan(s0[k]))
			    && m->nodes[k].weight > 0;
			int is0 = (!isnan(s1[k]) && s1[k] <= 0)
			    || (!isnan(s0[k]) && s0[k] <= 0);
			d[c] = present && is0 ? 1 : 0;
			nz += present && is0;
		} else if (g->agg == HSI_AGG_ARITH) {
			d[c] = w1 * a1 - w0 * a0;
		} else if (g->agg == HSI_AGG_GEOM) {
			d[c] = L
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

/* Rank changes and contributions of area a in year y (y-1 present). */
static void
change_area(
    run_ctx *x, size_t y, size_t a, double *d, double *wp1, double *wp0)
{
	const hsi_method *m = x->m;
	hsi_result       *r = x->r;
	size_t            A = x->p->n_areas, N = m->n_nodes, G = m->n_groups;
	const double     *s1 = &r->score[(y * A + a) * N];
	const double     *s0 = &r->score[((y - 1) * A + a) * N];
	double           *ct = &r->contrib[(y * A + a) * N];
	const int        *r1 = &r->rank[(y * A + a) * G];
	const int        *r0 = &r->rank[((y - 1) * A + a) * G];
	int              *rc = &r->rank_change[(y * A + a) * G];
	for (size_t i = 0; i < N; i++) {
		ct[i] = NAN;
	}
	for (size_t g = 0; g < G; g++) {
		rc[g] = r1[g] > 0 && r0[g] > 0 ? r0[g] - r1[g]
		                               : HSI_NO_RANK_CHANGE;
	}
	size_t root  = N - 1;
	double droot = s1[root] - s0[root];
	if (isnan(droot)) {
		return;
	}
	present_weights(m, s1, wp1);
	present_weights(m, s0, wp0);
	ct[root] = droot;
	/* Reverse post-order visits every parent before its children. */
	for (size_t i = N; i-- > 0;) {
		const hsi_mnode *g = &m->nodes[i];
		if (!g->is_group || isnan(ct[i])) {
			continue;
		}
		double w1 = wp1[g->group_ord], w0 = wp0[g->group_ord];
		double dg   = s1[i] - s0[i];
		int    both = !isnan(dg);
		/* The year the group is present in, for spreading by weight.
		 */
		const double *sp  = !isnan(s1[i]) ? s1 : s0;
		double        wsp = !isnan(s1[i]) ? w1 : w0;
		if (both) {
			split_change(m, g, i, s1, s0, w1, w0, d);
		}
		for (int c = 0; c < g->n_children; c++) {
			int k = m->children[g->first_child + c];
			/* Present (§3.5): a score and a weight. */
			if ((isnan(s1[k]) && isnan(s0[k]))
			    || m->nodes[k].weight <= 0) {
				continue;
			}
			if (both && fabs(dg) > FLAT_TOL) {
				ct[k] = ct[i] * d[c] / dg;
			} else {
				ct[k] = ct[i] * what(m, sp, k, wsp);
			}
		}
	}
}

/* ---- the passes, split over threads (par.h) ----------------------------- */

static int
score_rows(void *arg, size_t lo, size_t hi)
{
	run_ctx *x = arg;
	size_t   A = x->p->n_areas;
	for (size_t r = lo; r < hi; r++) {
		score_row(x, r / A, r % A);
	}
	return 0;
}

static int
rank_tasks(void *arg, size_t lo, size_t hi)
{
	run_ctx   *x = arg;
	rank_item *v = malloc((2 * x->p->n_areas + 1) * sizeof(*v));
	if (v == NULL) {
		return HSI_ENOMEM;
	}
	for (size_t t = lo; t < hi; t++) {
		rank_group(x, t, v);
	}
	free(v);
	return 0;
}

static int
change_rows(void *arg, size_t lo, size_t hi)
{
	run_ctx          *x = arg;
	const hsi_method *m = x->m;
	hsi_result       *r = x->r;
	size_t            A = x->p->n_areas, N = m->n_nodes, G = m->n_groups;
	double           *d   = malloc((N + 1) * sizeof(double));
	double           *wp1 = malloc((G + 1) * sizeof(double));
	double           *wp0 = malloc((G + 1) * sizeof(double));
	int               rv  = d && wp1 && wp0 ? 0 : HSI_ENOMEM;
	for (size_t row = lo; rv == 0 && row < hi; row++) {
		size_t y = row / A, a = row % A;
		if (r->has_prev[y]) {
			change_area(x, y, a, d, wp1, wp0);
			continue;
		}
		for (size_t i = 0; i < N; i++) {
			r->contrib[row * N + i] = NAN;
		}
		for (size_t g = 0; g < G; g++) {
			r->rank_change[row * G + g] = HSI_NO_RANK_CHANGE;
		}
	}
	free(d);
	free(wp1);
	free(wp0);
	return rv;
}

int
hsi_engine_run(const hsi_method *m, const hsi_areas *ar, const hsi_panel *p,
    hsi_result *r)
{
	size_t  A = p->n_areas, Y = p->n_years, C = p->n_cols;
	run_ctx x;
	int     rv = HSI_ENOMEM;
	memset(&x, 0, sizeof(x));
	x.m      = m;
	x.ar     = ar;
	x.p      = p;
	x.r      = r;
	x.lop    = malloc((C + 1) * sizeof(leaf_op));
	x.st     = malloc((Y * C + 1) * sizeof(col_stats));
	x.cw     = malloc((m->n_nodes + 1) * sizeof(double));
	x.groups = malloc((m->n_groups + 1) * sizeof(int));
	if (!x.lop || !x.st || !x.cw || !x.groups) {
		goto out;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const hsi_mnode *n = &m->nodes[i];
		if (n->is_group) {
			x.groups[x.n_grp++] = (int) i;
			for (int c = 0; c < n->n_children; c++) {
				int k   = n->first_child + c;
				x.cw[k] = m->nodes[m->children[k]].weight;
			}
		}
	}
	for (size_t c = 0; c < C; c++) {
		const hsi_mnode *n = &m->nodes[m->leaf_node[c]];
		x.lop[c] = (leaf_op) { m->leaf_node[c], (int) c, (int) n->norm,
			(int) n->impute, n->max_age, n->log,
			n->norm == HSI_NORM_GOALPOST && !n->log
			    && n->impute == HSI_IMPUTE_NONE,
			n->direction, n->lo, n->hi - n->lo };
		x.any_region |= n->impute == HSI_IMPUTE_REGION;
		x.any_impute |= n->impute != HSI_IMPUTE_NONE;
		x.any_zscore |= n->norm == HSI_NORM_ZSCORE;
		x.any_stats |= n->norm != HSI_NORM_GOALPOST;
	}
	if (x.any_region) {
		x.sib     = sibling_ids(ar, &x.n_sib);
		x.sib_sum = malloc((Y * x.n_sib * C + 1) * sizeof(double));
		x.sib_cnt = malloc((Y * x.n_sib * C + 1) * sizeof(int));
		if (!x.sib || !x.sib_sum || !x.sib_cnt) {
			goto out;
		}
		sibling_sums(&x);
	}
	/* The value scored is the panel's unless something is imputed. */
	free(r->used);
	free(r->imputed);
	r->used    = NULL;
	r->imputed = NULL;
	if (x.any_impute) {
		r->used    = malloc((Y * A * C + 1) * sizeof(double));
		r->imputed = malloc(Y * A * C + 1);
		if (!r->used || !r->imputed) {
			goto out;
		}
	}
	for (size_t y = 0; y < Y; y++) {
		r->has_prev[y]
		    = y > 0 && p->year_present[y] && p->year_present[y - 1];
	}
	column_stats(&x);
	if ((rv = hsi_par_for(score_rows, &x, Y * A, 16384)) == 0
	    && (rv = hsi_par_for(
	            rank_tasks, &x, Y * x.n_grp, A >= 2048 ? 2 : SIZE_MAX))
	        == 0
	    && r->contrib != NULL) {
		rv = hsi_par_for(change_rows, &x, Y * A, 16384);
	}
out:
	free(x.lop);
	free(x.st);
	free(x.cw);
	free(x.groups);
	free(x.sib);
	free(x.sib_sum);
	free(x.sib_cnt);
	return rv;
}
