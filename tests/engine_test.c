/*
 * engine_test.c: the index computation on small hand-built methodologies
 * (goalposts with clamping and direction, weighted arithmetic, geometric
 * and harmonic means with missing members, minimum coverage, competition
 * ranking on the published decimals) and the default methodology over the
 * embedded catalog, with property tests over random panels: scores stay
 * in [0,1], raising a "higher is better" value never lowers a score, and
 * permuting areas permutes results.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "engine.h"
#include "method.h"
#include "panel.h"
#include "error.h"

#define EPS 1e-12

/* ---- building methodologies by hand ------------------------------------ */

/* A node for method_new: parent index (-1 root), leaf column or -1. */
typedef struct {
	int     parent;
	int     ind; /* -1 for a group */
	double  weight;
	int     direction;
	double  lo, hi;
	hsi_agg agg;
	double  min_coverage;
} spec;

#define LEAF(p, col, w, dir, l, h)                                            \
	{                                                                     \
		p, col, w, dir, l, h, HSI_AGG_ARITH, 0                        \
	}
#define GROUP(p, w, agg, cov)                                                 \
	{                                                                     \
		p, -1, w, 0, 0, 0, agg, cov                                   \
	}

/* Builds a method from specs in post-order (children before parents). */
static hsi_method *
method_new(const spec *s, size_t n)
{
	hsi_method *m = calloc(1, sizeof *m);
	assert_non_null(m);
	m->decimals = 4;
	m->n_nodes  = n;
	snprintf(m->rank_level, sizeof m->rank_level, "province");
	m->nodes     = calloc(n, sizeof *m->nodes);
	m->children  = calloc(n + 1, sizeof *m->children);
	m->leaf_node = calloc(n + 1, sizeof *m->leaf_node);
	assert_non_null(m->nodes);
	assert_non_null(m->children);
	assert_non_null(m->leaf_node);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		hsi_mnode *d = &m->nodes[i];
		snprintf(d->code, sizeof d->code, "n%zu", i);
		d->parent   = s[i].parent;
		d->weight   = s[i].weight;
		d->is_group = s[i].ind < 0;
		if (!d->is_group) {
			d->col               = s[i].ind;
			d->direction         = s[i].direction;
			d->lo                = s[i].lo;
			d->hi                = s[i].hi;
			d->has_goalposts     = 1;
			m->leaf_node[d->col] = (int) i;
			m->n_leaves++;
			continue;
		}
		d->group_ord    = (int) m->n_groups;
		d->agg          = s[i].agg;
		d->min_coverage = s[i].min_coverage;
		d->first_child  = (int) k;
		for (size_t c = 0; c < i; c++) {
			if (s[c].parent == (int) i) {
				m->children[k++] = (int) c;
			}
		}
		d->n_children = (int) k - d->first_child;
		m->n_groups++;
	}
	return m;
}

typedef struct {
	hsi_panel         p;
	hsi_areas         ar;
	hsi_result        r;
	const hsi_method *m;
	int              *rank; /* the root's rank per area */
} run_t;

/*
 * Scores n_areas rows of n_cols values under m as one year; the areas
 * with mask[a] (all if mask is NULL) are the reference areas, ranked.
 */
static void
score_mask(run_t *t, const hsi_method *m, const double *values, size_t n_areas,
    size_t n_cols, const unsigned char *mask)
{
	char err[256];
	memset(t, 0, sizeof *t);
	t->m = m;
	for (size_t a = 0; a < n_areas; a++) {
		char code[16];
		snprintf(code, sizeof code, "A%04u", (unsigned) (a % 10000));
		assert_int_equal(
		    hsi_areas_add(&t->ar, code, NULL,
		        mask && !mask[a] ? "region" : "province", NAN),
		    0);
	}
	assert_int_equal(
	    hsi_areas_link(&t->ar, "province", err, sizeof err), 0);
	t->p.first_year   = 2024;
	t->p.n_years      = 1;
	t->p.n_areas      = n_areas;
	t->p.n_cols       = n_cols;
	t->p.value        = malloc(n_areas * n_cols * sizeof(double) + 1);
	t->p.year_present = calloc(1, 1);
	assert_non_null(t->p.value);
	assert_non_null(t->p.year_present);
	t->p.year_present[0] = 1;
	memcpy(t->p.value, values, n_areas * n_cols * sizeof(double));
	assert_int_equal(hsi_result_init(&t->r, m, &t->p, 1), 0);
	assert_int_equal(hsi_engine_run(m, &t->ar, &t->p, &t->r), 0);
	t->rank = calloc(n_areas + 1, sizeof(int));
	assert_non_null(t->rank);
	size_t g = (size_t) m->nodes[m->n_nodes - 1].group_ord;
	for (size_t a = 0; a < n_areas; a++) {
		t->rank[a] = t->r.rank[a * m->n_groups + g];
	}
}

static void
score(run_t *t, const hsi_method *m, const double *values, size_t n_areas,
    size_t n_cols)
{
	score_mask(t, m, values, n_areas, n_cols, NULL);
}

static void
run_free(run_t *t)
{
	hsi_panel_fini(&t->p);
	hsi_areas_fini(&t->ar);
	hsi_result_fini(&t->r);
	free(t->rank);
}

static double
sc(const run_t *t, size_t area, size_t node)
{
	return t->r.score[area * t->r.n_nodes + node];
}

static double
cov(const run_t *t, size_t area, size_t node)
{
	return hsi_result_coverage(&t->r, t->m, area, node);
}

static void
assert_near(double got, double want)
{
	if (!(fabs(got - want) <= 1e-9)) {
		fail_msg("got %.17g, want %.17g", got, want);
	}
}

/* ---- normalisation ------------------------------------------------------ */

static void
test_goalposts(void **state)
{
	/* Leaf 0: +1 over [10, 20]; leaf 1: -1 over [10, 20]. */
	const spec s[] = {
		LEAF(2, 0, 1, 1, 10, 20),
		LEAF(2, 1, 1, -1, 10, 20),
		GROUP(-1, 1, HSI_AGG_ARITH, 0),
	};
	const double v[] = {
		15,
		12, /* inside */
		5,
		5, /* below lo: clamped */
		25,
		30, /* above hi: clamped */
		10,
		20, /* the goalposts themselves */
		NAN,
		11, /* missing */
		-1e300,
		1e300,
	};
	hsi_method *m = method_new(s, 3);
	run_t       t;
	(void) state;
	score(&t, m, v, 6, 2);
	assert_near(sc(&t, 0, 0), 0.5);
	assert_near(sc(&t, 0, 1), 0.8);
	assert_true(sc(&t, 1, 0) == 0);
	assert_true(sc(&t, 1, 1) == 1);
	assert_true(sc(&t, 2, 0) == 1);
	assert_true(sc(&t, 2, 1) == 0);
	assert_true(sc(&t, 3, 0) == 0);
	assert_true(sc(&t, 3, 1) == 0);
	assert_true(isnan(sc(&t, 4, 0)));
	assert_true(cov(&t, 4, 0) == 0);
	assert_true(cov(&t, 4, 1) == 1);
	assert_near(sc(&t, 4, 1), 0.9);
	assert_true(sc(&t, 5, 0) == 0);
	assert_true(sc(&t, 5, 1) == 0);
	/* Root with one missing member renormalises: just leaf 1. */
	assert_near(sc(&t, 4, 2), 0.9);
	assert_near(sc(&t, 0, 2), (0.5 + 0.8) / 2);
	run_free(&t);
	hsi_method_free(m);
}

/* ---- aggregation -------------------------------------------------------- */

static void
test_weighted_mean_and_coverage(void **state)
{
	/* Goalposts [0,1], direction +1: a leaf's score is its value. */
	const spec s[] = {
		LEAF(2, 0, 1, 1, 0, 1), LEAF(2, 1, 3, 1, 0, 1),
		GROUP(6, 1, HSI_AGG_ARITH, 0.2), /* 2: "a" */
		LEAF(5, 2, 1, 1, 0, 1), LEAF(5, 3, 1, 1, 0, 1),
		GROUP(6, 1, HSI_AGG_ARITH, 0.5),  /* 5: "b" */
		GROUP(-1, 1, HSI_AGG_ARITH, 0.5), /* 6: root */
	};
	const double v[] = {
		0.2, 0.6, 0.4, 0.2, /* all present */
		0.2, NAN, 0.4, NAN, /* a: 1/4 coverage, b: 1/2 (the limit) */
		NAN, 0.6, NAN, NAN, /* b: nothing present */
		NAN, NAN, NAN, NAN, /* nothing */
	};
	hsi_method *m = method_new(s, 7);
	run_t       t;
	(void) state;
	score(&t, m, v, 4, 4);
	/* (1*0.2 + 3*0.6) / 4 */
	assert_near(sc(&t, 0, 2), 0.5);
	assert_near(sc(&t, 0, 5), 0.3);
	assert_near(sc(&t, 0, 6), 0.4);
	assert_true(cov(&t, 0, 2) == 1 && cov(&t, 0, 6) == 1);
	/* Missing weight drops out. */
	assert_near(sc(&t, 1, 2), 0.2);
	assert_near(cov(&t, 1, 2), 0.25);
	assert_near(sc(&t, 1, 5), 0.4);
	assert_near(cov(&t, 1, 5), 0.5);
	assert_near(sc(&t, 1, 6), 0.3);
	/* A group under its coverage is missing, and so drops out. */
	assert_near(sc(&t, 2, 2), 0.6);
	assert_true(isnan(sc(&t, 2, 5)));
	assert_true(cov(&t, 2, 5) == 0);
	assert_near(sc(&t, 2, 6), 0.6);
	assert_near(cov(&t, 2, 6), 0.5);
	for (size_t i = 0; i < 7; i++) {
		if (m->nodes[i].is_group) {
			assert_true(isnan(sc(&t, 3, i)));
		}
	}
	assert_int_equal(t.rank[3], 0);
	run_free(&t);

	/* Raise b's coverage need above 1/2: area 1's b becomes missing. */
	m->nodes[5].min_coverage = 0.51;
	score(&t, m, v, 4, 4);
	assert_true(isnan(sc(&t, 1, 5)));
	assert_near(sc(&t, 1, 6), 0.2);
	run_free(&t);

	/* Root needing both dimensions: area 2 (b missing) has no score. */
	m->nodes[6].min_coverage = 1;
	score(&t, m, v, 4, 4);
	assert_near(sc(&t, 0, 6), 0.4);
	assert_true(isnan(sc(&t, 2, 6)));
	assert_int_equal(t.rank[2], 0);
	assert_int_equal(t.rank[0], 1);
	run_free(&t);
	hsi_method_free(m);
}

static void
test_zero_weight_children(void **state)
{
	const spec s[] = {
		LEAF(2, 0, 0, 1, 0, 1),
		LEAF(2, 1, 0, 1, 0, 1),
		GROUP(-1, 1, HSI_AGG_ARITH, 0),
	};
	const double v[] = { 0.5, 0.5 };
	hsi_method  *m   = method_new(s, 3);
	run_t        t;
	(void) state;
	score(&t, m, v, 1, 2);
	/* No weight present: missing, not 0/0. */
	assert_true(isnan(sc(&t, 0, 2)));
	run_free(&t);
	hsi_method_free(m);
}

static void
test_geometric_and_harmonic(void **state)
{
	spec s[] = {
		LEAF(3, 0, 1, 1, 0, 1),
		LEAF(3, 1, 3, 1, 0, 1),
		LEAF(3, 2, 1, 1, 0, 1),
		GROUP(-1, 1, HSI_AGG_GEOM, 0),
	};
	const double v[] = {
		0.25, 1, NAN,    /* 0 */
		0.5, 0.5, 0.5,   /* 1: equal members: the mean is the value */
		0, 0.9, 0.9,     /* 2: a zero member */
		0.25, 1, 0.0625, /* 3 */
	};
	hsi_method *m = method_new(s, 4);
	run_t       t;
	(void) state;
	score(&t, m, v, 4, 3);
	/* exp((1*ln .25 + 3*ln 1) / 4) = .25^(1/4) */
	assert_near(sc(&t, 0, 3), pow(0.25, 0.25));
	assert_near(sc(&t, 1, 3), 0.5);
	assert_true(sc(&t, 2, 3) == 0);
	assert_near(sc(&t, 3, 3), exp((log(0.25) + log(0.0625)) / 5));
	run_free(&t);

	m->nodes[3].agg = HSI_AGG_HARM;
	score(&t, m, v, 4, 3);
	/* 4 / (1/.25 + 3/1) */
	assert_near(sc(&t, 0, 3), 4.0 / 7.0);
	assert_near(sc(&t, 1, 3), 0.5);
	assert_true(sc(&t, 2, 3) == 0);
	assert_near(sc(&t, 3, 3), 5.0 / (4 + 3 + 16));
	run_free(&t);

	/* The means are ordered: harmonic <= geometric <= arithmetic. */
	double means[3];
	for (int a = 0; a < 3; a++) {
		m->nodes[3].agg = (hsi_agg) a;
		score(&t, m, v, 4, 3);
		means[a] = sc(&t, 3, 3);
		run_free(&t);
	}
	assert_true(means[HSI_AGG_HARM] <= means[HSI_AGG_GEOM] + EPS);
	assert_true(means[HSI_AGG_GEOM] <= means[HSI_AGG_ARITH] + EPS);
	assert_true(means[HSI_AGG_HARM] < means[HSI_AGG_ARITH]);
	hsi_method_free(m);
}

/* ---- ranking ------------------------------------------------------------ */

static void
test_round(void **state)
{
	(void) state;
	/* Exactly representable halves: away from zero. */
	assert_true(hsi_round(0.5, 0) == 1);
	assert_true(hsi_round(-0.5, 0) == -1);
	assert_true(hsi_round(2.5, 0) == 3);
	assert_true(hsi_round(0.125, 2) == 0.13);
	assert_true(hsi_round(-0.125, 2) == -0.13);
	assert_true(hsi_round(0.375, 2) == 0.38);
	assert_true(hsi_round(0.30001, 4) == 0.3);
	assert_true(hsi_round(0.29999, 4) == 0.3);
	assert_true(hsi_round(0.12344, 4) == 0.1234);
	assert_true(hsi_round(0.12346, 4) == 0.1235);
	assert_true(hsi_round(1234.5, 0) == 1235);
}

static void
test_competition_rank(void **state)
{
	const spec s[] = {
		LEAF(1, 0, 1, 1, 0, 1),
		GROUP(-1, 1, HSI_AGG_ARITH, 0),
	};
	/* 0.30001 and 0.29999 both publish as 0.3000: a tie. */
	const double v[] = { 0.1, 0.30001, NAN, 0.9, 0.29999, 0.31 };
	hsi_method  *m   = method_new(s, 2);
	run_t        t;
	(void) state;
	score(&t, m, v, 6, 1);
	assert_int_equal(t.rank[3], 1);
	assert_int_equal(t.rank[5], 2);
	assert_int_equal(t.rank[1], 3);
	assert_int_equal(t.rank[4], 3);
	assert_int_equal(t.rank[0], 5);
	assert_int_equal(t.rank[2], 0);

	/* 1 2 2 4 with the tie at the top of the list. */
	unsigned char mask[6] = { 1, 1, 1, 0, 1, 0 };
	run_free(&t);
	score_mask(&t, m, v, 6, 1, mask);
	assert_int_equal(t.rank[1], 1);
	assert_int_equal(t.rank[4], 1);
	assert_int_equal(t.rank[0], 3);
	assert_int_equal(t.rank[3], 0); /* masked out */
	assert_int_equal(t.rank[5], 0);
	assert_int_equal(t.rank[2], 0); /* NaN */
	run_free(&t);

	/* More decimals: no longer a tie. */
	m->decimals = 5;
	score(&t, m, v, 6, 1);
	assert_int_equal(t.rank[1], 3);
	assert_int_equal(t.rank[4], 4);
	assert_int_equal(t.rank[0], 5);
	run_free(&t);

	/* The brief's pattern: 1 2 2 4. */
	const double w[] = { 0.8, 0.5, 0.5, 0.2 };
	m->decimals      = 4;
	score(&t, m, w, 4, 1);
	assert_int_equal(t.rank[0], 1);
	assert_int_equal(t.rank[1], 2);
	assert_int_equal(t.rank[2], 2);
	assert_int_equal(t.rank[3], 4);
	run_free(&t);
	hsi_method_free(m);
}

/* ---- the default methodology ------------------------------------------ */

static hsi_catalog *cat;
static hsi_method  *def;

static int
group_setup(void **state)
{
	char err[512];
	(void) state;
	if (hsi_catalog_from_refdata(NULL, 0, NULL, &cat, err, sizeof err)
	    != 0) {
		return -1;
	}
	return hsi_method_default(cat, &def);
}

static int
group_teardown(void **state)
{
	(void) state;
	hsi_method_free(def);
	hsi_catalog_free(cat);
	return 0;
}

static void
test_default_method(void **state)
{
	(void) state;
	assert_int_equal(def->decimals, 4);
	assert_int_equal(def->n_leaves, 40);
	assert_int_equal(def->n_groups, 8);
	assert_int_equal(def->n_nodes, 48);
	const hsi_mnode *root = &def->nodes[def->n_nodes - 1];
	assert_string_equal(root->code, "hsi");
	assert_int_equal(root->parent, -1);
	assert_int_equal(root->n_children, 7);
	for (int c = 0; c < 7; c++) {
		const hsi_mnode *d
		    = &def->nodes[def->children[root->first_child + c]];
		assert_true(d->is_group);
		assert_string_equal(d->code, cat->dims[c].code);
		assert_true(d->weight == 1);
		assert_true(d->min_coverage == 0.5);
		assert_int_equal(d->agg, HSI_AGG_ARITH);
		assert_true(d->n_children > 0);
	}
	for (size_t i = 0; i < def->n_nodes; i++) {
		const hsi_mnode *n = &def->nodes[i];
		/* Post-order: every parent comes after its children. */
		if (i + 1 < def->n_nodes) {
			assert_true(n->parent > (int) i);
			assert_true((size_t) n->parent < def->n_nodes);
		}
		if (n->is_group) {
			continue;
		}
		const hsi_indicator *d = hsi_catalog_indicator(cat, n->code);
		assert_non_null(d);
		assert_string_equal(n->code, d->code);
		assert_true(d->in_index);
		assert_int_equal(n->direction, d->direction);
		assert_true(n->lo == d->lo && n->hi == d->hi);
		assert_true(n->weight == d->weight);
		assert_string_equal(def->nodes[n->parent].code, d->dimension);
		assert_string_not_equal(n->code, "mon_hotline1300");
	}
	json_t *j = hsi_method_to_json(def);
	assert_non_null(j);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "decimals")), 4);
	json_t *tree = json_object_get(j, "tree");
	assert_string_equal(
	    json_string_value(json_object_get(tree, "code")), "hsi");
	assert_int_equal(
	    json_array_size(json_object_get(tree, "children")), 7);
	json_decref(j);
}

/* ---- properties over random panels -------------------------------------- */

static uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);

static double
uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double) (rng >> 11) / 9007199254740992.0;
}

/* Values mostly within the goalposts, some beyond, ~20% missing. */
static void
random_panel(double *v, size_t n_areas)
{
	for (size_t a = 0; a < n_areas; a++) {
		for (size_t i = 0; i < def->n_leaves; i++) {
			const hsi_mnode *d    = &def->nodes[def->leaf_node[i]];
			double           span = d->hi - d->lo;
			double x = d->lo + (uniform() * 1.4 - 0.2) * span;
			v[a * def->n_leaves + i] = uniform() < 0.2 ? NAN : x;
		}
	}
}

static void
check_bounds(const run_t *t)
{
	for (size_t k = 0; k < t->r.n_areas * t->r.n_nodes; k++) {
		double s = t->r.score[k];
		double c = hsi_result_coverage(
		    &t->r, t->m, k / t->r.n_nodes, k % t->r.n_nodes);
		if (!isnan(s) && !(s >= 0 && s <= 1)) {
			fail_msg("score %.17g at %zu", s, k);
		}
		assert_true(c >= 0 && c <= 1);
	}
}

static void
test_property_random_panels(void **state)
{
	enum { AREAS = 12, PANELS = 200 };
	size_t  n_ind = def->n_leaves;
	size_t  nn    = def->n_nodes;
	size_t  root  = nn - 1;
	double *v     = malloc(AREAS * n_ind * sizeof(double));
	double *w     = malloc(AREAS * n_ind * sizeof(double));
	size_t  perm[AREAS];
	size_t  raised = 0;
	(void) state;
	assert_non_null(v);
	assert_non_null(w);
	for (int panel = 0; panel < PANELS; panel++) {
		run_t t, u;
		random_panel(v, AREAS);
		score(&t, def, v, AREAS, n_ind);
		check_bounds(&t);

		/* Raise one present value of a direction +1 leaf (or lower
		 * one of a -1 leaf) in every area: no score goes down. */
		memcpy(w, v, AREAS * n_ind * sizeof(double));
		size_t leaf[AREAS];
		for (size_t a = 0; a < AREAS; a++) {
			size_t           l = (size_t) (uniform() * 1e9) % nn;
			const hsi_mnode *n = &def->nodes[l];
			while (n->is_group
			    || isnan(w[a * n_ind + (size_t) n->col])) {
				l = (l + 1) % nn;
				n = &def->nodes[l];
			}
			leaf[a]     = l;
			double step = uniform() * (n->hi - n->lo);
			w[a * n_ind + (size_t) n->col] += n->direction * step;
		}
		score(&u, def, w, AREAS, n_ind);
		check_bounds(&u);
		for (size_t a = 0; a < AREAS; a++) {
			assert_true(sc(&u, a, leaf[a]) >= sc(&t, a, leaf[a]));
			double before = sc(&t, a, root),
			       after  = sc(&u, a, root);
			assert_int_equal(isnan(before), isnan(after));
			if (!isnan(before)) {
				assert_true(after >= before - EPS);
				raised += after > before + EPS;
			}
		}
		run_free(&u);

		/* Permuted areas give permuted results, ranks included. */
		for (size_t a = 0; a < AREAS; a++) {
			perm[a] = a;
		}
		for (size_t a = AREAS - 1; a > 0; a--) {
			size_t b = (size_t) (uniform() * (double) (a + 1));
			size_t x = perm[a];
			perm[a]  = perm[b];
			perm[b]  = x;
		}
		for (size_t a = 0; a < AREAS; a++) {
			memcpy(&w[a * n_ind], &v[perm[a] * n_ind],
			    n_ind * sizeof(double));
		}
		score(&u, def, w, AREAS, n_ind);
		for (size_t a = 0; a < AREAS; a++) {
			for (size_t i = 0; i < nn; i++) {
				double x = sc(&u, a, i),
				       y = sc(&t, perm[a], i);
				assert_true((isnan(x) && isnan(y)) || x == y);
			}
			assert_int_equal(u.rank[a], t.rank[perm[a]]);
		}
		run_free(&u);
		run_free(&t);
	}
	/* The raises did move the composite, so the check had teeth. */
	assert_true(raised > PANELS);
	free(v);
	free(w);
}

/* Ranks over random panels are competition ranks of the rounded
 * composite: rank = 1 + number of areas with a strictly higher one. */
static void
test_property_ranks(void **state)
{
	enum { AREAS = 30 };
	double *v = malloc(AREAS * def->n_leaves * sizeof(double));
	(void) state;
	assert_non_null(v);
	for (int panel = 0; panel < 200; panel++) {
		run_t t;
		random_panel(v, AREAS);
		score(&t, def, v, AREAS, def->n_leaves);
		size_t root = def->n_nodes - 1;
		for (size_t a = 0; a < AREAS; a++) {
			double s = sc(&t, a, root);
			if (isnan(s)) {
				assert_int_equal(t.rank[a], 0);
				continue;
			}
			int higher = 0;
			for (size_t b = 0; b < AREAS; b++) {
				double o = sc(&t, b, root);
				higher += !isnan(o)
				    && hsi_round(o, 4) > hsi_round(s, 4);
			}
			assert_int_equal(t.rank[a], higher + 1);
		}
		run_free(&t);
	}
	free(v);
}

/* ---- methodology documents -----------------------------------------------
 */

static void
expect_refusal(const char *doc, const char *needle)
{
	hsi_method *m = NULL;
	char        err[512];
	int rv = hsi_method_parse(doc, strlen(doc), cat, &m, err, sizeof err);
	assert_int_not_equal(rv, 0);
	assert_null(m);
	if (strstr(err, needle) == NULL) {
		fail_msg("error '%s' does not mention '%s'", err, needle);
	}
}

static void
test_method_refusals(void **state)
{
	(void) state;
	expect_refusal("{\"format\": 1, \"name\": \"x\"}", "format");
	expect_refusal("[1]", "JSON object");
	expect_refusal("{\"format\": 2, \"name\": \"x\", \"tree\": "
	               "{\"code\": \"hsi\", \"children\": [{\"code\": "
	               "\"a\", \"children\": [{\"indicator\": \"zz_x\", "
	               "\"lo\": 5, \"hi\": 5}]}]}}",
	    "tree.children[0].children[0]: hi must be greater than lo");
	expect_refusal("{\"format\": 2, \"name\": \"x\", \"tree\": "
	               "{\"code\": \"hsi\", \"children\": [{\"indicator\": "
	               "\"zz_x\", \"normalisation\": \"zscore\", "
	               "\"imputation\": {\"method\": \"carry_forward\"}}]}}",
	    "tree.children[0].imputation: carry_forward needs");
	expect_refusal("{\"format\": 2, \"name\": \"x\", \"tree\": "
	               "{\"code\": \"hsi\", \"children\": [{\"indicator\": "
	               "\"zz_x\"}]}}",
	    "needs \"lo\" and \"hi\"");
	expect_refusal("{\"format\": 2, \"name\": \"x\", \"tree\": "
	               "{\"code\": \"hsi\", \"children\": [{\"indicator\": "
	               "\"hlt_stunting\"}, {\"indicator\": "
	               "\"hlt_stunting\"}]}}",
	    "appears twice");
	expect_refusal("{\"format\": 2, \"name\": \"x\", \"tree\": "
	               "{\"code\": \"hsi\", \"children\": [{\"indicator\": "
	               "\"hlt_stunting\", \"wieght\": 2}]}}",
	    "unknown field \"wieght\"");
	expect_refusal("{\"format\": 2, \"name\": \"x\", \"bands\": "
	               "[{\"from\": 0.5, \"code\": \"a\"}, {\"from\": 0.2, "
	               "\"code\": \"b\"}], \"tree\": {\"code\": \"hsi\", "
	               "\"children\": [{\"indicator\": \"hlt_stunting\"}]}}",
	    "bands[1]");
}

/* The stored document parses back to the same methodology. */
static void
test_method_roundtrip(void **state)
{
	(void) state;
	json_t     *j = hsi_method_to_json(def);
	char       *a = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	hsi_method *m;
	char        err[256];
	assert_int_equal(
	    hsi_method_from_json(j, NULL, &m, err, sizeof err), 0);
	json_t *k = hsi_method_to_json(m);
	char   *b = json_dumps(k, JSON_COMPACT | JSON_REAL_PRECISION(17));
	assert_string_equal(a, b);
	assert_int_equal(m->n_bands, 4);
	assert_string_equal(hsi_method_band(m, 0.45)->code, "medium");
	assert_null(hsi_method_band(m, -0.1));
	free(a);
	free(b);
	json_decref(j);
	json_decref(k);
	hsi_method_free(m);
}

/*
 * Two years by hand: zscore, carry-forward imputation, change and
 * contributions that add up to the change of the composite.
 */
static void
test_two_years(void **state)
{
	(void) state;
	const char *doc
	    = "{\"format\": 2, \"name\": \"t\", \"tree\": {\"code\": "
	      "\"hsi\", \"children\": [{\"code\": \"g\", \"aggregation\": "
	      "\"geometric\", \"children\": [{\"indicator\": \"xx\", "
	      "\"lo\": 0, \"hi\": 10}, {\"indicator\": \"yy\", "
	      "\"normalisation\": \"zscore\", \"imputation\": "
	      "{\"method\": \"carry_forward\", \"max_age\": 1}}]}, "
	      "{\"indicator\": \"zz\", \"weight\": 2, \"lo\": 0, \"hi\": "
	      "1, \"direction\": -1}]}}";
	hsi_method *m;
	char        err[256];
	assert_int_equal(
	    hsi_method_parse(doc, strlen(doc), NULL, &m, err, sizeof err), 0);
	assert_int_equal(m->n_leaves, 3);
	assert_int_equal(m->max_carry, 1);
	/* [year][area][x, y, z] */
	const double v[] = { 5, 1, 0.5, 8, 2, 0.25, 2, 3, 0.75, /* 2023 */
		6, 1, 0.5, 8, NAN, 0.5, 2, 5, 0.75 };           /* 2024 */
	hsi_areas    ar;
	memset(&ar, 0, sizeof ar);
	for (int a = 0; a < 3; a++) {
		char code[8];
		snprintf(code, sizeof code, "P%d", a);
		assert_int_equal(
		    hsi_areas_add(&ar, code, NULL, "province", NAN), 0);
	}
	assert_int_equal(hsi_areas_link(&ar, "province", err, sizeof err), 0);
	unsigned char present[2] = { 1, 1 };
	hsi_panel     p          = { 2023, 2, 3, 3, (double *) v, present };
	hsi_result    r;
	assert_int_equal(hsi_result_init(&r, m, &p, 1), 0);
	assert_int_equal(hsi_engine_run(m, &ar, &p, &r), 0);
	size_t N = m->n_nodes;
	/* 2023, P0: y's z-score over {1, 2, 3}: mean 2, sd 1: z = -1. */
	double phi = 0.5 * erfc(1 / sqrt(2.0));
	assert_true(fabs(r.score[0 * N + 1] - phi) < EPS);
	double g0 = sqrt(0.5 * phi);
	assert_true(fabs(r.score[0 * N + 2] - g0) < EPS);
	assert_true(fabs(r.score[0 * N + 4] - (g0 + 2 * 0.5) / 3) < EPS);
	/* 2024, P1: y carried forward from 2023 (2), flagged. */
	size_t k = (1 * 3 + 1) * 3 + 1;
	assert_true(r.used[k] == 2 && r.imputed[k] == 1);
	/* Change and contributions, every area. */
	for (size_t a = 0; a < 3; a++) {
		const double *c = &r.contrib[(3 + a) * N];
		double        d = hsi_result_delta(&r, 1, a, 4);
		assert_true(
		    fabs(d - (r.score[(3 + a) * N + 4] - r.score[a * N + 4]))
		    < EPS);
		assert_true(fabs(c[2] + c[3] - d) < EPS);
		assert_true(fabs(c[0] + c[1] - c[2]) < EPS);
	}
	/* z did not move for P0 and kept its weight: no contribution. */
	assert_true(fabs(r.contrib[3 * N + 3]) < EPS);
	assert_true(isnan(hsi_result_delta(&r, 0, 0, 4)));
	hsi_result_fini(&r);
	hsi_areas_fini(&ar);
	hsi_method_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_goalposts),
		cmocka_unit_test(test_weighted_mean_and_coverage),
		cmocka_unit_test(test_zero_weight_children),
		cmocka_unit_test(test_geometric_and_harmonic),
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_competition_rank),
		cmocka_unit_test(test_default_method),
		cmocka_unit_test(test_property_random_panels),
		cmocka_unit_test(test_property_ranks),
		cmocka_unit_test(test_method_refusals),
		cmocka_unit_test(test_method_roundtrip),
		cmocka_unit_test(test_two_years),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
