/*
 * panel.h: from observations to the engine's input (docs/methodology.md
 * §2): the area tree, then annual values per area and leaf, with
 * sub-annual values rolled up to the index year and reference-level values
 * rolled up the area tree.
 */
#ifndef HSI_PANEL_H
#define HSI_PANEL_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "engine.h"
#include "period.h"

/* ---- areas ---------------------------------------------------------------
 */

/* Appends an area; parent may be "" or NULL; pop NaN when unknown. */
int hsi_areas_add(hsi_areas *ar, const char *code, const char *parent,
    const char *level, double pop);

/*
 * After the last add: sorts areas by code, resolves parents and levels,
 * marks the areas of rank_level as reference. HSI_EINVAL with err on an
 * unknown parent, a duplicate code or a cycle.
 */
int hsi_areas_link(
    hsi_areas *ar, const char *rank_level, char *err, size_t err_size);

/* The nation, regions and provinces of the catalog (linked). */
int hsi_areas_from_catalog(const hsi_catalog *cat, const char *rank_level,
    hsi_areas *ar, char *err, size_t err_size);

/*
 * An areas file: header code,parent,level,population (others ignored), at
 * most 64 MiB. Errors name file:line and the field.
 */
int hsi_areas_from_csv(const char *path, const char *rank_level, hsi_areas *ar,
    char *err, size_t err_size);

/* Index of code, or -1 (binary search; after link). */
int hsi_areas_find(const hsi_areas *ar, const char *code);

void hsi_areas_fini(hsi_areas *ar);

/* ---- panel ---------------------------------------------------------------
 */

/* How a column rolls up: over time to the year, and up the area tree. */
typedef struct {
	hsi_rollup_time time;
	int             min_sub;
	hsi_rollup_area area;
} hsi_col_rule;

/*
 * The rule of each leaf column from cat (cat may be NULL); indicators not
 * in the catalog: mean of at least 1 sub-period, population-weighted mean.
 */
void hsi_col_rules(
    const hsi_method *m, const hsi_catalog *cat, hsi_col_rule *rules);

/* One observation resolved to indices. */
typedef struct {
	int32_t area, col;
	int32_t year;  /* index year */
	int32_t order; /* sub-period order within the year (first day) */
	double  value;
} hsi_pobs;

/*
 * The panel of years first_year..last_year from obs (other years ignored).
 * Call hsi_panel_fini after, even on error.
 */
int hsi_panel_build(const hsi_areas *ar, size_t n_cols,
    const hsi_col_rule *rules, const hsi_pobs *obs, size_t n_obs,
    int first_year, int last_year, hsi_panel *p);

void hsi_panel_fini(hsi_panel *p);

/* The index year of a period under the methodology, or -1. */
int hsi_obs_year(const hsi_method *m, const hsi_period *pe);

/* Sub-period order of a period: its first day. */
int32_t hsi_obs_order(const hsi_period *pe);

/* "2024" or "FY2024": the label of index year y. */
void hsi_year_label(const hsi_method *m, int y, char *buf, size_t size);

#endif
