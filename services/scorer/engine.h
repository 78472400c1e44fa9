/*
 * engine.h: the index computation, free of I/O so the scorer, hsictl and
 * the tests run exactly the same code (docs/methodology.md).
 *
 * A methodology is a tree: indicators are leaves, groups (dimensions,
 * sub-groups, the index) aggregate their children. It is held as a flat
 * array in post-order (children before their parent, root last), so a
 * whole area is scored in one pass over contiguous memory.
 */
#ifndef HSI_ENGINE_H
#define HSI_ENGINE_H

#include <jansson.h>
#include <stddef.h>

#include "catalog.h"

typedef enum { HSI_AGG_ARITH = 0, HSI_AGG_GEOM, HSI_AGG_HARM } hsi_agg;

typedef struct {
	char   code[HSI_CODE_MAX];
	int    is_group;
	double weight; /* within the parent */
	int    parent; /* index, -1 for the root */
	/* indicators */
	int    ind;       /* column in the panel */
	int    direction; /* +1 / -1 */
	double lo, hi;    /* goalposts */
	/* groups */
	hsi_agg agg;
	double  min_coverage; /* share of child weight that must be present */
	int     first_child, n_children; /* into hsi_method.children */
} hsi_mnode;

typedef struct hsi_method {
	int        version; /* methodology table version, 0 if unsaved */
	char       name[96];
	int        fiscal_index; /* index years are fiscal years */
	int        decimals;     /* publication rounding and ranking */
	hsi_mnode *nodes;
	size_t     n_nodes;
	int       *children;
	size_t     n_groups;
	size_t     n_leaves;
} hsi_method;

/*
 * The default methodology from the catalog's defaults: every in-index
 * indicator under its dimension (weighted arithmetic mean of goalpost
 * scores, minimum coverage 0.5), dimensions equally weighted into "hsi"
 * (arithmetic mean, minimum coverage 0.5), 4 decimals.
 */
int hsi_method_default(const hsi_catalog *cat, hsi_method **out);

/* JSON form stored in the methodology table. */
json_t *hsi_method_to_json(const hsi_method *m);

void hsi_method_free(hsi_method *m);

/*
 * A panel: annual values for n_areas x n_ind (row-major by area), NaN
 * where missing. Indicator columns follow the catalog's order.
 */
typedef struct {
	size_t  n_areas, n_ind;
	double *value;
} hsi_panel;

/* Results per area and methodology node (same row-major layout). */
typedef struct {
	size_t  n_areas, n_nodes;
	double *score;    /* [area][node], NaN = missing */
	double *coverage; /* [area][node], groups only (1 for leaves) */
	int    *rank;     /* [area], competition rank of the root; 0 = none */
} hsi_result;

int  hsi_result_init(hsi_result *r, size_t n_areas, size_t n_nodes);
void hsi_result_fini(hsi_result *r);

/* Scores every area of p. */
void hsi_engine_score(const hsi_method *m, const hsi_panel *p, hsi_result *r);

/*
 * Competition ranks (1 2 2 4) of the root score over the areas whose
 * rank_mask is non-zero, higher scores first, compared at the method's
 * published precision. Areas with a missing score get rank 0.
 */
void hsi_engine_rank(
    const hsi_method *m, hsi_result *r, const unsigned char *rank_mask);

/* Rounds x to d decimals, half away from zero (publication rounding). */
double hsi_round(double x, int d);

#endif
