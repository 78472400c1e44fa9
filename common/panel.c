/*
 * panel.c: areas and the panel of annual values (docs/methodology.md §2).
 */
#include "panel.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "csv.h"
#include "error.h"
#include "par.h"

#define AREAS_MAX_BYTES (64u * 1024 * 1024)

static int
grow(void **arr, size_t cap, size_t elem)
{
	void *p = realloc(*arr, cap * elem);
	if (p == NULL) {
		return HSI_ENOMEM;
	}
	*arr = p;
	return 0;
}

int
hsi_areas_add(hsi_areas *ar, const char *code, const char *parent,
    const char *level, double pop)
{
	if (ar->n == ar->cap) {
		size_t cap = ar->cap ? ar->cap * 2 : 128;
		if (grow((void **) &ar->code, cap, sizeof(*ar->code))
		    || grow((void **) &ar->parent_code, cap,
		        sizeof(*ar->parent_code))
		    || grow((void **) &ar->level_code, cap,
		        sizeof(*ar->level_code))
		    || grow((void **) &ar->pop, cap, sizeof(double))) {
			return HSI_ENOMEM;
		}
		ar->cap = cap;
	}
	if (strlen(code) >= HSI_SHORT_MAX
	    || (parent && strlen(parent) >= HSI_SHORT_MAX)
	    || strlen(level) >= HSI_LEVEL_MAX) {
		return HSI_ERANGE;
	}
	size_t i = ar->n++;
	snprintf(ar->code[i], HSI_SHORT_MAX, "%s", code);
	snprintf(
	    ar->parent_code[i], HSI_SHORT_MAX, "%s", parent ? parent : "");
	snprintf(ar->level_code[i], HSI_LEVEL_MAX, "%s", level);
	ar->pop[i] = pop;
	return 0;
}

typedef struct {
	char   code[HSI_SHORT_MAX];
	char   parent[HSI_SHORT_MAX];
	char   level[HSI_LEVEL_MAX];
	double pop;
} area_row;

static int
cmp_row(const void *a, const void *b)
{
	return strcmp(
	    ((const area_row *) a)->code, ((const area_row *) b)->code);
}

int
hsi_areas_find(const hsi_areas *ar, const char *code)
{
	size_t lo = 0, hi = ar->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    c   = strcmp(ar->code[mid], code);
		if (c == 0) {
			return (int) mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

int
hsi_areas_link(
    hsi_areas *ar, const char *rank_level, char *err, size_t err_size)
{
	size_t    n   = ar->n;
	area_row *row = malloc((n + 1) * sizeof(*row));
	if (row == NULL) {
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(row[i].code, ar->code[i], HSI_SHORT_MAX);
		memcpy(row[i].parent, ar->parent_code[i], HSI_SHORT_MAX);
		memcpy(row[i].level, ar->level_code[i], HSI_LEVEL_MAX);
		row[i].pop = ar->pop[i];
	}
	qsort(row, n, sizeof(*row), cmp_row);
	int rv = 0;
	if (grow((void **) &ar->parent, n + 1, sizeof(int))
	    || grow((void **) &ar->level, n + 1, sizeof(int))
	    || grow((void **) &ar->ref, n + 1, 1)
	    || grow(
	        (void **) &ar->level_name, n + 1, sizeof(*ar->level_name))) {
		free(row);
		return HSI_ENOMEM;
	}
	ar->n_levels = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(ar->code[i], row[i].code, HSI_SHORT_MAX);
		memcpy(ar->parent_code[i], row[i].parent, HSI_SHORT_MAX);
		memcpy(ar->level_code[i], row[i].level, HSI_LEVEL_MAX);
		ar->pop[i] = row[i].pop;
		if (i > 0 && strcmp(row[i].code, row[i - 1].code) == 0) {
			snprintf(err, err_size,
			    "area %s is listed twice; each area once",
			    row[i].code);
			rv = HSI_EINVAL;
		}
	}
	free(row);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		const char *pc = ar->parent_code[i];
		ar->parent[i]  = pc[0] ? hsi_areas_find(ar, pc) : -1;
		if (pc[0] && ar->parent[i] < 0) {
			snprintf(err, err_size,
			    "area %s: parent %s is not an area; list the "
			    "parent "
			    "too or leave the field empty",
			    ar->code[i], pc);
			rv = HSI_EINVAL;
		}
		size_t l = 0;
		while (l < ar->n_levels
		    && strcmp(ar->level_name[l], ar->level_code[i]) != 0) {
			l++;
		}
		if (l == ar->n_levels) {
			memcpy(ar->level_name[ar->n_levels++],
			    ar->level_code[i], HSI_LEVEL_MAX);
		}
		ar->level[i] = (int) l;
		ar->ref[i]   = strcmp(ar->level_code[i], rank_level) == 0;
	}
	/* A cycle would make roll-ups walk forever. */
	for (size_t i = 0; rv == 0 && i < n; i++) {
		int p = ar->parent[i];
		for (size_t steps = 0; p >= 0; steps++) {
			if (steps > n) {
				snprintf(err, err_size,
				    "area %s: its parents form a cycle",
				    ar->code[i]);
				rv = HSI_EINVAL;
				break;
			}
			p = ar->parent[p];
		}
	}
	return rv;
}

int
hsi_areas_from_catalog(const hsi_catalog *cat, const char *rank_level,
    hsi_areas *ar, char *err, size_t err_size)
{
	memset(ar, 0, sizeof(*ar));
	for (size_t i = 0; i < cat->n_areas; i++) {
		const hsi_area *a  = &cat->areas[i];
		int             rv = hsi_areas_add(ar, a->code, a->parent,
		                hsi_area_level_name(a->level),
                    a->population > 0 ? a->population : NAN);
		if (rv != 0) {
			return rv;
		}
	}
	return hsi_areas_link(ar, rank_level, err, err_size);
}

int
hsi_areas_from_csv(const char *path, const char *rank_level, hsi_areas *ar,
    char *err, size_t err_size)
{
	static const char *const want[]
	    = { "code", "parent", "level", "?population", NULL };
	char     *buf;
	size_t    len;
	hsi_table t;
	memset(ar, 0, sizeof(*ar));
	int rv = hsi_blob_read_file(
	    path, AREAS_MAX_BYTES, &buf, &len, err, err_size);
	if (rv != 0) {
		return rv;
	}
	rv = hsi_table_open(&t, path, buf, len, want, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		const char *code = hsi_table_get(&t, 0);
		const char *pops = hsi_table_get(&t, 3);
		double      pop  = NAN;
		char       *end;
		rv = 0;
		if (pops != NULL && pops[0] != '\0') {
			errno = 0;
			pop   = strtod(pops, &end);
			if (errno || *end || !(pop >= 0) || !isfinite(pop)) {
				snprintf(err, err_size,
				    "%s:%zu: population: '%s' is not a number "
				    ">= 0; leave it empty when unknown",
				    path, t.row.line, pops);
				rv = HSI_EINVAL;
				break;
			}
		}
		if (code[0] == '\0') {
			snprintf(err, err_size, "%s:%zu: code: empty", path,
			    t.row.line);
			rv = HSI_EINVAL;
			break;
		}
		rv = hsi_areas_add(
		    ar, code, hsi_table_get(&t, 1), hsi_table_get(&t, 2), pop);
		if (rv == HSI_ERANGE) {
			snprintf(err, err_size,
			    "%s:%zu: code and parent are at most %d bytes, "
			    "level at most %d",
			    path, t.row.line, HSI_SHORT_MAX - 1,
			    HSI_LEVEL_MAX - 1);
			rv = HSI_EINVAL;
		}
	}
	if (rv < 0) {
		rv = -rv;
	}
	hsi_table_close(&t);
	free(buf);
	if (rv == 0) {
		char e[300];
		rv = hsi_areas_link(ar, rank_level, e, sizeof(e));
		if (rv != 0) {
			snprintf(err, err_size, "%s: %s", path, e);
		}
	}
	return rv;
}

void
hsi_areas_fini(hsi_areas *ar)
{
	free(ar->code);
	free(ar->parent);
	free(ar->level);
	free(ar->pop);
	free(ar->ref);
	free(ar->level_name);
	free(ar->parent_code);
	free(ar->level_code);
	memset(ar, 0, sizeof(*ar));
}

void
hsi_col_rules(const hsi_method *m, const hsi_catalog *cat, hsi_col_rule *rules)
{
	for (size_t c = 0; c < m->n_leaves; c++) {
		const hsi_mnode     *n = &m->nodes[m->leaf_node[c]];
		const hsi_indicator *d
		    = cat ? hsi_catalog_indicator(cat, n->code) : NULL;
		rules[c].time    = d ? d->rollup_time : HSI_TIME_MEAN;
		rules[c].min_sub = d ? d->min_subperiods : 1;
		rules[c].area    = d ? d->rollup_area : HSI_ROLLUP_WMEAN;
	}
}

int
hsi_obs_year(const hsi_method *m, const hsi_period *pe)
{
	return hsi_period_index_year(pe, m->fiscal_index);
}

int32_t
hsi_obs_order(const hsi_period *pe)
{
	long first, last;
	hsi_period_range(pe, &first, &last);
	return (int32_t) first;
}

void
hsi_year_label(const hsi_method *m, int y, char *buf, size_t size)
{
	snprintf(buf, size, "%s%d", m->fiscal_index ? "FY" : "", y);
}

/*
 * Up the tree: each area above a reference area with no value of its own
 * gets the roll-up of the reference areas below it (never region to
 * nation: a region's weight would be its whole population even when only
 * some of its provinces reported).
 */
static int
area_rollup(const hsi_areas *ar, size_t C, const hsi_col_rule *rules,
    hsi_panel *p, const uint16_t *cnt)
{
	size_t A = ar->n;
	/* The areas that receive roll-ups: ancestors of reference areas. */
	int   *slot = malloc((A + 1) * sizeof(int));
	size_t n_up = 0;
	if (slot == NULL) {
		return HSI_ENOMEM;
	}
	for (size_t a = 0; a < A; a++) {
		slot[a] = -1;
	}
	for (size_t a = 0; a < A; a++) {
		for (int q = ar->ref[a] ? ar->parent[a] : -1; q >= 0;
		     q     = ar->parent[q]) {
			if (slot[q] < 0) {
				slot[q] = (int) n_up++;
			}
		}
	}
	if (n_up == 0) {
		free(slot);
		return 0;
	}
	double *num  = malloc(n_up * C * sizeof(double));
	double *den  = malloc(n_up * C * sizeof(double));
	int    *kids = malloc(n_up * C * sizeof(int));
	int    *have = malloc(n_up * C * sizeof(int));
	int     rv   = num && den && kids && have ? 0 : HSI_ENOMEM;
	for (size_t y = 0; rv == 0 && y < p->n_years; y++) {
		double *row = &p->value[y * A * C];
		memset(num, 0, n_up * C * sizeof(double));
		memset(den, 0, n_up * C * sizeof(double));
		memset(kids, 0, n_up * C * sizeof(int));
		memset(have, 0, n_up * C * sizeof(int));
		for (size_t a = 0; a < A; a++) {
			if (!ar->ref[a]) {
				continue;
			}
			double w = isnan(ar->pop[a]) ? 1 : ar->pop[a];
			for (int q = ar->parent[a]; q >= 0;
			     q     = ar->parent[q]) {
				size_t s = (size_t) slot[q] * C;
				for (size_t c = 0; c < C; c++) {
					double x = row[a * C + c];
					kids[s + c]++;
					if (isnan(x)) {
						continue;
					}
					have[s + c]++;
					num[s + c]
					    += rules[c].area == HSI_ROLLUP_SUM
					    ? x
					    : w * x;
					den[s + c] += w;
				}
			}
		}
		for (size_t a = 0; a < A; a++) {
			if (slot[a] < 0) {
				continue;
			}
			size_t s = (size_t) slot[a] * C;
			for (size_t c = 0; c < C; c++) {
				if (cnt[(y * A + a) * C + c] > 0) {
					continue; /* submitted directly */
				}
				double v = NAN;
				if (rules[c].area == HSI_ROLLUP_SUM) {
					v = have[s + c] == kids[s + c]
					        && kids[s + c] > 0
					    ? num[s + c]
					    : NAN;
				} else if (rules[c].area == HSI_ROLLUP_WMEAN
				    && den[s + c] > 0) {
					v = num[s + c] / den[s + c];
				}
				row[a * C + c] = v;
			}
		}
	}
	free(slot);
	free(num);
	free(den);
	free(kids);
	free(have);
	return rv;
}

typedef struct {
	const hsi_areas    *ar;
	size_t              C;
	const hsi_col_rule *rules;
	const hsi_pobs     *obs;
	size_t              n_obs;
	hsi_panel          *p;
	uint16_t           *cnt;
	int32_t            *ord;
	unsigned char      *multi; /* [y]: a sum over several values */
} build_ctx;

static int
cmp_pobs(const void *x, const void *y)
{
	const hsi_pobs *a = x, *b = y;
	if (a->year != b->year) {
		return a->year < b->year ? -1 : 1;
	}
	if (a->area != b->area) {
		return a->area < b->area ? -1 : 1;
	}
	if (a->col != b->col) {
		return a->col < b->col ? -1 : 1;
	}
	if (a->order != b->order) {
		return a->order < b->order ? -1 : 1;
	}
	return a->value < b->value ? -1 : a->value > b->value;
}

/*
 * Years [lo, hi) of the panel: every thread reads all observations and
 * keeps those of its own years, so the writes never overlap.
 */
static int
build_years(void *arg, size_t lo, size_t hi)
{
	build_ctx          *b     = arg;
	hsi_panel          *p     = b->p;
	const hsi_col_rule *rules = b->rules;
	size_t              A = p->n_areas, C = b->C;
	int                 y0  = p->first_year + (int) lo;
	int                 y1  = p->first_year + (int) hi;
	uint16_t           *cnt = b->cnt;
	int32_t            *ord = b->ord;
	/* First touch by a write, by the thread that owns the years: calloc
	 * would map the zero page, then copy it on the first write. */
	memset(&p->value[lo * A * C], 0, (hi - lo) * A * C * sizeof(double));
	memset(&cnt[lo * A * C], 0, (hi - lo) * A * C * sizeof(uint16_t));
	for (size_t i = 0; i < b->n_obs; i++) {
		const hsi_pobs *o = &b->obs[i];
		if (o->year < y0 || o->year >= y1) {
			continue;
		}
		size_t y = (size_t) (o->year - p->first_year);
		size_t k = (y * A + (size_t) o->area) * C + (size_t) o->col;
		p->year_present[y] = 1;
		if (rules[o->col].time == HSI_TIME_LAST) {
			if (cnt[k] == 0 || o->order > ord[k]) {
				ord[k]      = o->order;
				p->value[k] = o->value;
			}
		} else {
			p->value[k] += o->value;
		}
		if (cnt[k] < UINT16_MAX) { /* a year has at most 366 days */
			cnt[k]++;
		}
	}
	for (size_t row = lo * A; row < hi * A; row++) {
		double         *v = &p->value[row * C];
		const uint16_t *n = &cnt[row * C];
		for (size_t c = 0; c < C; c++) {
			if (n[c] > 1 && rules[c].time != HSI_TIME_LAST) {
				b->multi[row / A] = 1;
			}
			if (n[c] == 0 || n[c] < rules[c].min_sub) {
				v[c] = NAN;
			} else if (n[c] > 1
			    && rules[c].time == HSI_TIME_MEAN) {
				v[c] /= n[c];
			}
		}
	}
	return 0;
}

int
hsi_panel_build(const hsi_areas *ar, size_t C, const hsi_col_rule *rules,
    const hsi_pobs *obs, size_t n_obs, int first_year, int last_year,
    hsi_panel *p)
{
	memset(p, 0, sizeof(*p));
	if (last_year < first_year) {
		return HSI_EINVAL;
	}
	size_t A = ar->n, Y = (size_t) (last_year - first_year + 1);
	p->first_year = first_year;
	p->n_years    = Y;
	p->n_areas    = A;
	p->n_cols     = C;
	size_t cells  = Y * A * C;
	/* Cleared by the thread that fills each year (build_years): a
	 * first touch by a write, on the CPU that uses the page. */
	p->value           = malloc((cells + 1) * sizeof(double));
	p->year_present    = calloc(Y + 1, 1);
	uint16_t *cnt      = malloc((cells + 1) * sizeof(uint16_t));
	int32_t  *ord      = NULL;
	int       any_last = 0;
	for (size_t c = 0; c < C; c++) {
		any_last |= rules[c].time == HSI_TIME_LAST;
	}
	if (any_last) {
		ord = malloc((cells + 1) * sizeof(int32_t));
	}
	if (!p->value || !p->year_present || !cnt || (any_last && !ord)) {
		free(cnt);
		free(ord);
		return HSI_ENOMEM;
	}
	unsigned char *multi = calloc(Y + 1, 1);
	build_ctx      bx  = { ar, C, rules, obs, n_obs, p, cnt, ord, multi };
	int            rv  = multi ? 0 : HSI_ENOMEM;
	size_t         par = n_obs > 200000 ? 2 : SIZE_MAX;
	if (rv == 0) {
		rv = hsi_par_for(build_years, &bx, Y, par);
	}
	int again = 0;
	for (size_t y = 0; rv == 0 && y < Y; y++) {
		again |= multi[y];
	}
	if (again) {
		/*
		 * Floating-point sums depend on their order: sum sub-periods
		 * in period order, so the same data give the same bits
		 * whatever order the rows came in.
		 */
		hsi_pobs *sorted = malloc((n_obs + 1) * sizeof(*sorted));
		rv               = sorted ? 0 : HSI_ENOMEM;
		if (rv == 0) {
			memcpy(sorted, obs, n_obs * sizeof(*sorted));
			qsort(sorted, n_obs, sizeof(*sorted), cmp_pobs);
			bx.obs = sorted;
			rv     = hsi_par_for(build_years, &bx, Y, par);
		}
		free(sorted);
	}
	free(multi);
	if (rv == 0) {
		rv = area_rollup(ar, C, rules, p, cnt);
	}
	free(cnt);
	free(ord);
	return rv;
}

void
hsi_panel_fini(hsi_panel *p)
{
	free(p->value);
	free(p->year_present);
	memset(p, 0, sizeof(*p));
}
