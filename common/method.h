/*
 * method.h: the methodology, the index as data (docs/methodology.md §1).
 *
 * A methodology is a tree: indicators are leaves, groups (sub-groups,
 * dimensions, the index) aggregate their children. It is held as a flat
 * array in post-order (children before their parent, root last), so an
 * area is scored in one pass over contiguous memory. Leaf k (in tree
 * order) reads column k of the panel (engine.h).
 */
#ifndef HSI_METHOD_H
#define HSI_METHOD_H

#include <jansson.h>
#include <stddef.h>

#include "catalog.h"

/* Limits of a methodology document. */
#define HSI_METHOD_MAX_BYTES (1024 * 1024)
#define HSI_METHOD_MAX_NODES 10000
#define HSI_METHOD_MAX_DEPTH 16
#define HSI_METHOD_MAX_BANDS 16
#define HSI_LEVEL_MAX 24

typedef enum { HSI_AGG_ARITH = 0, HSI_AGG_GEOM, HSI_AGG_HARM } hsi_agg;

typedef enum {
	HSI_NORM_GOALPOST = 0,
	HSI_NORM_MINMAX,
	HSI_NORM_PANEL,
	HSI_NORM_ZSCORE,
} hsi_norm;

typedef enum {
	HSI_IMPUTE_NONE = 0,
	HSI_IMPUTE_CARRY,  /* carry the latest observed value forward */
	HSI_IMPUTE_REGION, /* mean of the siblings' observed values */
} hsi_impute;

typedef struct {
	char   code[HSI_CODE_MAX];
	char  *name_th, *name_en; /* groups; may be NULL */
	int    is_group;
	double weight; /* within the parent */
	int    parent; /* node index, -1 for the root */
	int    depth;  /* root 0 */
	/* leaves */
	int        col;       /* panel column */
	int        direction; /* +1 / -1 */
	double     lo, hi;    /* goalposts (untransformed) */
	int        has_goalposts;
	hsi_norm   norm;
	int        log;
	hsi_impute impute;
	int        max_age; /* carry_forward */
	/* groups */
	hsi_agg agg;
	double  min_coverage; /* share of child weight that must be present */
	int     first_child;  /* into hsi_method.children */
	int     n_children;
	int     group_ord; /* 0..n_groups-1, groups only */
} hsi_mnode;

typedef struct {
	double from;
	char   code[HSI_CODE_MAX];
	char  *th, *en;
} hsi_band;

typedef struct hsi_method {
	int        version; /* methodology table version, 0 if unsaved */
	char       name[128];
	char      *description;
	int        fiscal_index; /* index years are fiscal years */
	char       rank_level[HSI_LEVEL_MAX];
	int        decimals;  /* publication rounding */
	int        rank_full; /* rank on full precision */
	hsi_band  *bands;
	size_t     n_bands;
	hsi_mnode *nodes;
	size_t     n_nodes;
	int       *children;
	size_t     n_groups;
	size_t     n_leaves;
	int       *leaf_node; /* [col] -> node index */
	int       *by_code;   /* leaf columns in code order (hsi_method_col) */
	int        max_carry; /* largest carry_forward max_age, 0 if none */
	int        uses_panel; /* some leaf normalises over all years */
} hsi_method;

/*
 * Parses and checks a methodology document (format 2). Leaf fields left
 * out (weight, direction, lo, hi) are filled from cat's entry for the
 * indicator when cat is not NULL; anything still missing that the leaf
 * needs is an error. On error returns HSI_EINVAL (or HSI_ETOOBIG) with err
 * naming the JSON path, what is wrong and what to do.
 */
int hsi_method_parse(const char *text, size_t len, const hsi_catalog *cat,
    hsi_method **out, char *err, size_t err_size);
int hsi_method_from_json(const json_t *doc, const hsi_catalog *cat,
    hsi_method **out, char *err, size_t err_size);

/* Reads and parses a methodology file (at most HSI_METHOD_MAX_BYTES). */
int hsi_method_load_file(const char *path, const hsi_catalog *cat,
    hsi_method **out, char *err, size_t err_size);

/*
 * The default methodology from the catalog's defaults (docs/methodology.md
 * §8): every in-index indicator under its dimension, dimensions equally
 * weighted into "hsi", weighted arithmetic means, minimum coverage 0.5,
 * goalposts, 4 decimals, four bands.
 */
int hsi_method_default(const hsi_catalog *cat, hsi_method **out);

/*
 * The complete (filled) document: parsing it gives the same methodology,
 * so it is what is stored and cited.
 */
json_t *hsi_method_to_json(const hsi_method *m);

void hsi_method_free(hsi_method *m);

/* The panel column of indicator code, or -1 if it is not a leaf. */
int hsi_method_col(const hsi_method *m, const char *code);

/* The band of a published value, or NULL. */
const hsi_band *hsi_method_band(const hsi_method *m, double published);

const char *hsi_agg_name(hsi_agg a);
const char *hsi_norm_name(hsi_norm n);

#endif
