/*
 * engine.h: the index computation, free of I/O, so the scorer, hsictl and
 * the tests run exactly the same code (docs/methodology.md §2-§4).
 *
 * Input: a methodology (method.h), the areas (a tree with levels and
 * populations) and a panel of annual values [year][area][column], one
 * column per leaf of the methodology. Output: for every year, area and
 * node the score, coverage, ranks of groups, change against the previous
 * year and contributions to that change.
 */
#ifndef HSI_ENGINE_H
#define HSI_ENGINE_H

#include <limits.h>
#include <math.h>
#include <stddef.h>

#include "method.h"

/* The areas scored, as a tree. Build with hsi_areas_* (panel.h). */
typedef struct {
	size_t n;
	char (*code)[HSI_SHORT_MAX];
	int           *parent; /* index or -1 */
	int           *level;  /* level id, index into level_name */
	double        *pop;    /* NaN when unknown (weight 1) */
	unsigned char *ref;    /* level is the methodology's rank_level */
	char (*level_name)[HSI_LEVEL_MAX];
	size_t n_levels;
	/* building (panel.c) */
	size_t cap;
	char (*parent_code)[HSI_SHORT_MAX];
	char (*level_code)[HSI_LEVEL_MAX];
} hsi_areas;

/*
 * Annual values: value[((y * n_areas) + a) * n_cols + c], NaN = missing,
 * for the index years first_year .. first_year + n_years - 1; a year is in
 * the panel when year_present[y] (it had at least one observation).
 */
typedef struct {
	int            first_year;
	size_t         n_years, n_areas, n_cols;
	double        *value;
	unsigned char *year_present;
} hsi_panel;

#define HSI_NO_RANK_CHANGE INT_MIN

/*
 * Results. Per node arrays are [y][a][node]; per column arrays
 * [y][a][col]; per group arrays [y][a][group_ord] (ranks: 0 = no rank).
 * Use the accessors for coverage and delta, which are derived.
 */
typedef struct {
	size_t         n_years, n_areas, n_nodes, n_cols, n_groups;
	double        *score;    /* NaN = missing */
	double        *coverage; /* groups: share of weight present */
	double        *used; /* value scored: after imputation, raw scale */
	unsigned char *imputed;
	int           *rank;
	unsigned char *has_prev; /* [y]: year y-1 is in the panel */
	/* With changes (hsi_result_init): */
	int    *rank_change; /* HSI_NO_RANK_CHANGE when undefined */
	double *contrib;     /* NaN when undefined */
} hsi_result;

/*
 * changes: also compute rank changes and contributions (the scorer and
 * hsictl do; a caller that needs scores and ranks only may skip them).
 */
int hsi_result_init(
    hsi_result *r, const hsi_method *m, const hsi_panel *p, int changes);
void hsi_result_fini(hsi_result *r);

/* Coverage of node i of row ya (= y * n_areas + a): 1/0 for leaves. */
static inline double
hsi_result_coverage(
    const hsi_result *r, const hsi_method *m, size_t ya, size_t i)
{
	const hsi_mnode *n = &m->nodes[i];
	if (!n->is_group) {
		return r->score[ya * r->n_nodes + i]
		    == r->score[ya * r->n_nodes + i];
	}
	return r->coverage[ya * r->n_groups + (size_t) n->group_ord];
}

/* The value leaf column c of row ya was scored from (raw scale). */
static inline double
hsi_result_raw(const hsi_result *r, const hsi_panel *p, size_t ya, size_t c)
{
	return r->used ? r->used[ya * r->n_cols + c]
	               : p->value[ya * r->n_cols + c];
}

static inline int
hsi_result_imputed(const hsi_result *r, size_t ya, size_t c)
{
	return r->imputed ? r->imputed[ya * r->n_cols + c] : 0;
}

/* Change of node i of area a in year y against y-1; NaN if undefined. */
static inline double
hsi_result_delta(const hsi_result *r, size_t y, size_t a, size_t i)
{
	if (!r->has_prev[y]) {
		return NAN;
	}
	size_t N = r->n_nodes, A = r->n_areas;
	return r->score[(y * A + a) * N + i]
	    - r->score[((y - 1) * A + a) * N + i];
}

/* Computes everything for every year of the panel. 0 or HSI_ENOMEM. */
int hsi_engine_run(const hsi_method *m, const hsi_areas *areas,
    const hsi_panel *p, hsi_result *r);

/* Rounds x to d decimals, half away from zero (publication rounding). */
double hsi_round(double x, int d);

#endif
