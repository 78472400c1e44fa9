/*
 * catalog.c: loading, storing and publishing the data catalog (see
 * catalog.h). Reference CSVs are parsed with the same strict reader that
 * agency files go through, so a typo in the catalog is reported with its
 * file, line and column like any other input.
 */
#include "catalog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "csv.h"
#include "db.h"
#include "error.h"

static const char *const rollup_area_names[] = { "wmean", "sum", "national" };
static const char *const rollup_time_names[] = { "mean", "sum", "last" };
static const char *const level_names[] = { "nation", "region", "province" };

const char *
hsi_rollup_area_name(hsi_rollup_area r)
{
	return rollup_area_names[r];
}

const char *
hsi_rollup_time_name(hsi_rollup_time r)
{
	return rollup_time_names[r];
}

const char *
hsi_area_level_name(hsi_area_level l)
{
	return level_names[l];
}

static int
name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], s) == 0) {
			return (int) i;
		}
	}
	return -1;
}

static int
copy_short(hsi_table *t, size_t w, char *dst, size_t size)
{
	const char *s = hsi_table_get(t, w);
	if (strlen(s) == 0 || strlen(s) >= size) {
		snprintf(t->err, t->err_size,
		    "%s:%zu: field %s: '%s' must be 1..%zu characters",
		    t->file, t->row.line, t->want[w], s, size - 1);
		return HSI_EINVAL;
	}
	strcpy(dst, s);
	return 0;
}

static int
get_double(hsi_table *t, size_t w, double *out)
{
	const char *s = hsi_table_get(t, w);
	char       *end;
	errno    = 0;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v)) {
		snprintf(t->err, t->err_size,
		    "%s:%zu: field %s: '%s' is not a number", t->file,
		    t->row.line, t->want[w], s);
		return HSI_EINVAL;
	}
	*out = v;
	return 0;
}

static void *
grow(void *arr, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap) {
		return arr;
	}
	size_t nc = *cap ? *cap * 2 : 16;
	void  *p  = realloc(arr, nc * elem);
	if (p != NULL) {
		memset((char *) p + *cap * elem, 0, (nc - *cap) * elem);
		*cap = nc;
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

/* ---- reference data ------------------------------------------------------
 */

static int
load_agencies(
    hsi_catalog *c, const struct hsi_blob *b, char *err, size_t err_size)
{
	static const char *const want[]
	    = { "code", "name_th", "name_en", "dimensions", NULL };
	hsi_table t;
	size_t    cap = 0;
	int       rv  = hsi_table_open(
	           &t, b->name, b->data, b->len, want, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		hsi_agency *a;
		c->agencies
		    = grow(c->agencies, c->n_agencies, &cap, sizeof(*a));
		if (c->agencies == NULL) {
			rv = HSI_ENOMEM;
			break;
		}
		a             = &c->agencies[c->n_agencies++];
		rv            = copy_short(&t, 0, a->code, sizeof(a->code));
		a->name_th    = xstrdup(hsi_table_get(&t, 1));
		a->name_en    = xstrdup(hsi_table_get(&t, 2));
		a->dimensions = xstrdup(hsi_table_get(&t, 3));
	}
	hsi_table_close(&t);
	return rv < 0 ? -rv : rv;
}

static int
load_dims(hsi_catalog *c, const struct hsi_blob *b, char *err, size_t err_size)
{
	static const char *const want[]
	    = { "code", "name_th", "name_en", "ord", NULL };
	hsi_table t;
	size_t    cap = 0;
	int       rv  = hsi_table_open(
	           &t, b->name, b->data, b->len, want, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		hsi_dimension *d;
		c->dims = grow(c->dims, c->n_dims, &cap, sizeof(*d));
		if (c->dims == NULL) {
			rv = HSI_ENOMEM;
			break;
		}
		d          = &c->dims[c->n_dims++];
		rv         = copy_short(&t, 0, d->code, sizeof(d->code));
		d->name_th = xstrdup(hsi_table_get(&t, 1));
		d->name_en = xstrdup(hsi_table_get(&t, 2));
		d->ord     = atoi(hsi_table_get(&t, 3));
	}
	hsi_table_close(&t);
	return rv < 0 ? -rv : rv;
}

static hsi_area *
add_area(hsi_catalog *c, size_t *cap)
{
	c->areas = grow(c->areas, c->n_areas, cap, sizeof(hsi_area));
	return c->areas ? &c->areas[c->n_areas++] : NULL;
}

static int
load_areas(hsi_catalog *c, char *err, size_t err_size)
{
	static const char *const rwant[]
	    = { "code", "key", "name_th", "name_en", NULL };
	static const char *const pwant[]
	    = { "code", "iso", "name_th", "name_en", "region", NULL };
	const struct hsi_blob *rb = hsi_blob_find(hsi_refdata, "regions.csv");
	const struct hsi_blob *pb
	    = hsi_blob_find(hsi_refdata, "provinces.csv");
	hsi_table t;
	size_t    cap = 0;
	char      keys[16][HSI_SHORT_MAX];
	size_t    nkeys = 0;

	hsi_area *nation = add_area(c, &cap);
	if (nation == NULL) {
		return HSI_ENOMEM;
	}
	strcpy(nation->code, "TH");
	nation->level   = HSI_LEVEL_NATION;
	nation->name_th = xstrdup("ประเทศไทย");
	nation->name_en = xstrdup("Thailand");
	nation->iso     = xstrdup("TH");

	int rv = hsi_table_open(
	    &t, rb->name, rb->data, rb->len, rwant, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1 && nkeys < 16) {
		hsi_area *a = add_area(c, &cap);
		if (a == NULL) {
			rv = HSI_ENOMEM;
			break;
		}
		rv = copy_short(&t, 0, a->code, sizeof(a->code));
		snprintf(
		    keys[nkeys++], HSI_SHORT_MAX, "%s", hsi_table_get(&t, 1));
		strcpy(a->parent, "TH");
		a->level   = HSI_LEVEL_REGION;
		a->name_th = xstrdup(hsi_table_get(&t, 2));
		a->name_en = xstrdup(hsi_table_get(&t, 3));
		a->iso     = xstrdup("");
	}
	hsi_table_close(&t);
	if (rv < 0 || rv > 1) {
		return rv < 0 ? -rv : rv;
	}
	size_t first_region = 1;
	rv                  = hsi_table_open(
	                     &t, pb->name, pb->data, pb->len, pwant, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		hsi_area *a = add_area(c, &cap);
		if (a == NULL) {
			rv = HSI_ENOMEM;
			break;
		}
		rv              = copy_short(&t, 0, a->code, sizeof(a->code));
		a->level        = HSI_LEVEL_PROVINCE;
		a->iso          = xstrdup(hsi_table_get(&t, 1));
		a->name_th      = xstrdup(hsi_table_get(&t, 2));
		a->name_en      = xstrdup(hsi_table_get(&t, 3));
		const char *key = hsi_table_get(&t, 4);
		for (size_t k = 0; k < nkeys; k++) {
			if (strcmp(keys[k], key) == 0) {
				strcpy(a->parent,
				    c->areas[first_region + k].code);
			}
		}
		if (a->parent[0] == '\0') {
			snprintf(err, err_size,
			    "%s:%zu: region '%s' is not in regions.csv",
			    pb->name, t.row.line, key);
			rv = HSI_EINVAL;
		}
	}
	hsi_table_close(&t);
	return rv < 0 ? -rv : rv;
}

static int
cmp_area(const void *a, const void *b)
{
	return strcmp(
	    ((const hsi_area *) a)->code, ((const hsi_area *) b)->code);
}

static int
cmp_ind(const void *a, const void *b)
{
	return strcmp(((const hsi_indicator *) a)->code,
	    ((const hsi_indicator *) b)->code);
}

static int
cmp_agency(const void *a, const void *b)
{
	return strcmp(
	    ((const hsi_agency *) a)->code, ((const hsi_agency *) b)->code);
}

void
hsi_catalog_sort(hsi_catalog *c)
{
	/* qsort's array may not be NULL, even with no elements. */
	if (c->n_areas > 0) {
		qsort(c->areas, c->n_areas, sizeof(hsi_area), cmp_area);
	}
	if (c->n_ind > 0) {
		qsort(c->ind, c->n_ind, sizeof(hsi_indicator), cmp_ind);
	}
	if (c->n_agencies > 0) {
		qsort(c->agencies, c->n_agencies, sizeof(hsi_agency),
		    cmp_agency);
	}
}

/* Region and nation populations are the sums of their provinces'. */
static void
sum_populations(hsi_catalog *c)
{
	for (int level = HSI_LEVEL_REGION; level >= HSI_LEVEL_NATION;
	     level--) {
		for (size_t i = 0; i < c->n_areas; i++) {
			hsi_area *p = &c->areas[i];
			if ((int) p->level != level) {
				continue;
			}
			p->population = 0;
			for (size_t j = 0; j < c->n_areas; j++) {
				if (strcmp(c->areas[j].parent, p->code) == 0) {
					p->population
					    += c->areas[j].population;
				}
			}
		}
	}
}

static int
load_population(hsi_catalog *c, char *err, size_t err_size)
{
	static const char *const want[] = { "code", "population", NULL };
	const struct hsi_blob   *b
	    = hsi_blob_find(hsi_refdata, "province_population.csv");
	hsi_table t;
	int       rv = hsi_table_open(
	          &t, b->name, b->data, b->len, want, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		hsi_area *a
		    = (hsi_area *) hsi_catalog_area(c, hsi_table_get(&t, 0));
		if (a == NULL) {
			snprintf(err, err_size, "%s:%zu: unknown province %s",
			    b->name, t.row.line, hsi_table_get(&t, 0));
			rv = HSI_EINVAL;
			break;
		}
		rv = get_double(&t, 1, &a->population);
	}
	hsi_table_close(&t);
	if (rv < 0) {
		return -rv;
	}
	sum_populations(c);
	return rv;
}

static int
parse_enum(
    hsi_table *t, size_t w, const char *const *names, size_t n, int *out)
{
	int i = name_index(names, n, hsi_table_get(t, w));
	if (i < 0) {
		snprintf(t->err, t->err_size,
		    "%s:%zu: field %s: '%s' is not one of the allowed values "
		    "(docs/catalog.md)",
		    t->file, t->row.line, t->want[w], hsi_table_get(t, w));
		return HSI_EINVAL;
	}
	*out = i;
	return 0;
}

static int
indicator_row(hsi_catalog *c, hsi_table *t, hsi_indicator *d)
{
	int rv = 0, v;
	if ((rv = copy_short(t, 0, d->code, sizeof(d->code)))
	    || (rv = copy_short(t, 1, d->dimension, sizeof(d->dimension)))
	    || (rv = copy_short(t, 2, d->agency, sizeof(d->agency)))) {
		return rv;
	}
	d->name_th       = xstrdup(hsi_table_get(t, 3));
	d->name_en       = xstrdup(hsi_table_get(t, 4));
	d->unit          = xstrdup(hsi_table_get(t, 5));
	d->definition_th = xstrdup(hsi_table_get(t, 17));
	d->definition_en = xstrdup(hsi_table_get(t, 18));
	d->source        = xstrdup(hsi_table_get(t, 19));
	if (hsi_freq_parse(hsi_table_get(t, 6), &d->freq) != 0) {
		snprintf(t->err, t->err_size,
		    "%s:%zu: field frequency: '%s' is not annual, fiscal, "
		    "quarterly, fquarterly, monthly or daily",
		    t->file, t->row.line, hsi_table_get(t, 6));
		return HSI_EINVAL;
	}
	if ((rv = get_double(t, 7, &d->hard_min))
	    || (rv = get_double(t, 8, &d->hard_max))
	    || (rv = parse_enum(t, 9, rollup_area_names, 3, &v))) {
		return rv;
	}
	d->rollup_area = (hsi_rollup_area) v;
	if ((rv = parse_enum(t, 10, rollup_time_names, 3, &v))) {
		return rv;
	}
	d->rollup_time = (hsi_rollup_time) v;
	double ms, dir, inidx;
	if ((rv = get_double(t, 11, &ms)) || (rv = get_double(t, 12, &dir))
	    || (rv = get_double(t, 13, &d->lo))
	    || (rv = get_double(t, 14, &d->hi))
	    || (rv = get_double(t, 15, &d->weight))
	    || (rv = get_double(t, 16, &inidx))) {
		return rv;
	}
	d->min_subperiods = (int) ms;
	d->direction      = dir < 0 ? -1 : 1;
	d->in_index       = inidx != 0;
	if (d->hard_min > d->hard_max || (d->in_index && d->lo >= d->hi)
	    || d->weight < 0) {
		snprintf(t->err, t->err_size,
		    "%s:%zu: indicator %s: need hard_min <= hard_max, lo < hi "
		    "and weight >= 0",
		    t->file, t->row.line, d->code);
		return HSI_EINVAL;
	}
	(void) c;
	return 0;
}

/* Whether ";"-separated list has item. */
static int
list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ';');
		size_t      l = e ? (size_t) (e - p) : strlen(p);
		if (l == n && strncmp(p, item, n) == 0) {
			return 1;
		}
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* The rules of docs/catalog.md that involve other tables or rows, checked
 * while the row's line is known. */
static int
check_row_refs(const hsi_catalog *c, hsi_table *t, const hsi_indicator *d)
{
	int found = 0;
	for (size_t k = 0; k < c->n_dims; k++) {
		found |= strcmp(c->dims[k].code, d->dimension) == 0;
	}
	const hsi_agency *ag  = hsi_catalog_agency(c, d->agency);
	const char       *why = NULL;
	if (!found) {
		why = "unknown dimension";
	} else if (ag == NULL) {
		why = "unknown agency (see agencies.csv)";
	} else if (ag->dimensions && !list_has(ag->dimensions, d->dimension)) {
		why = "the agency does not report on this dimension "
		      "(agencies.csv, column dimensions)";
	} else if (d->in_index
	    && (d->lo < d->hard_min || d->hi > d->hard_max)) {
		why = "goalposts lo..hi must lie within hard_min..hard_max";
	}
	for (size_t i = 0; why == NULL && i + 1 < c->n_ind; i++) {
		if (strcmp(c->ind[i].code, d->code) == 0) {
			why = "the code is listed twice";
		}
	}
	if (why != NULL) {
		snprintf(t->err, t->err_size,
		    "%s:%zu: indicator %s (dimension %s, agency %s): %s",
		    t->file, t->row.line, d->code, d->dimension, d->agency,
		    why);
		return HSI_EINVAL;
	}
	return 0;
}

static int
load_indicators(hsi_catalog *c, const char *buf, size_t len, const char *name,
    char *err, size_t err_size)
{
	static const char *const want[] = { "code", "dimension", "agency",
		"name_th", "name_en", "unit", "frequency", "hard_min",
		"hard_max", "rollup_area", "rollup_time", "min_subperiods",
		"direction", "lo", "hi", "weight", "in_index", "definition_th",
		"definition_en", "source", NULL };
	hsi_table                t;
	size_t                   cap = 0;
	int rv = hsi_table_open(&t, name, buf, len, want, err, err_size);
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		c->ind = grow(c->ind, c->n_ind, &cap, sizeof(hsi_indicator));
		if (c->ind == NULL) {
			rv = HSI_ENOMEM;
			break;
		}
		rv = indicator_row(c, &t, &c->ind[c->n_ind++]);
		if (rv == 0) {
			rv = check_row_refs(c, &t, &c->ind[c->n_ind - 1]);
		}
	}
	hsi_table_close(&t);
	return rv < 0 ? -rv : rv;
}

int
hsi_catalog_from_refdata(const char *indicators_csv, size_t len,
    const char *indicators_name, hsi_catalog **out, char *err, size_t err_size)
{
	hsi_catalog *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return HSI_ENOMEM;
	}
	const struct hsi_blob *ib
	    = hsi_blob_find(hsi_refdata, "indicators.csv");
	if (indicators_csv == NULL) {
		indicators_csv  = ib->data;
		len             = ib->len;
		indicators_name = ib->name;
	}
	int rv;
	if ((rv = load_agencies(
	         c, hsi_blob_find(hsi_refdata, "agencies.csv"), err, err_size))
	    || (rv = load_dims(c, hsi_blob_find(hsi_refdata, "dimensions.csv"),
	            err, err_size))
	    || (rv = load_areas(c, err, err_size))) {
		hsi_catalog_free(c);
		return rv;
	}
	qsort(c->areas, c->n_areas, sizeof(hsi_area), cmp_area);
	qsort(c->agencies, c->n_agencies, sizeof(hsi_agency), cmp_agency);
	if ((rv = load_population(c, err, err_size))
	    || (rv = load_indicators(
	            c, indicators_csv, len, indicators_name, err, err_size))) {
		hsi_catalog_free(c);
		return rv;
	}
	if (c->n_ind == 0) {
		snprintf(err, err_size,
		    "%s: no indicators; a catalog lists at least one under "
		    "its "
		    "header",
		    indicators_name ? indicators_name : "indicators.csv");
		hsi_catalog_free(c);
		return HSI_EINVAL;
	}
	hsi_catalog_sort(c);
	*out = c;
	return 0;
}

/* ---- look-ups ------------------------------------------------------------
 */

const hsi_indicator *
hsi_catalog_indicator(const hsi_catalog *c, const char *code)
{
	hsi_indicator key;
	if (strlen(code) >= sizeof(key.code)) {
		return NULL; /* a prefix must not match */
	}
	strcpy(key.code, code);
	return bsearch(&key, c->ind, c->n_ind, sizeof(key), cmp_ind);
}

const hsi_area *
hsi_catalog_area(const hsi_catalog *c, const char *code)
{
	hsi_area key;
	if (strlen(code) >= sizeof(key.code)) {
		return NULL;
	}
	strcpy(key.code, code);
	return bsearch(&key, c->areas, c->n_areas, sizeof(key), cmp_area);
}

const hsi_agency *
hsi_catalog_agency(const hsi_catalog *c, const char *code)
{
	hsi_agency key;
	if (strlen(code) >= sizeof(key.code)) {
		return NULL;
	}
	strcpy(key.code, code);
	return bsearch(
	    &key, c->agencies, c->n_agencies, sizeof(key), cmp_agency);
}

void
hsi_catalog_free(hsi_catalog *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->n_ind; i++) {
		hsi_indicator *d = &c->ind[i];
		free(d->name_th);
		free(d->name_en);
		free(d->unit);
		free(d->definition_th);
		free(d->definition_en);
		free(d->source);
	}
	for (size_t i = 0; i < c->n_areas; i++) {
		free(c->areas[i].name_th);
		free(c->areas[i].name_en);
		free(c->areas[i].iso);
	}
	for (size_t i = 0; i < c->n_agencies; i++) {
		free(c->agencies[i].name_th);
		free(c->agencies[i].name_en);
		free(c->agencies[i].dimensions);
	}
	for (size_t i = 0; i < c->n_dims; i++) {
		free(c->dims[i].name_th);
		free(c->dims[i].name_en);
	}
	free(c->ind);
	free(c->areas);
	free(c->agencies);
	free(c->dims);
	free(c);
}

int
hsi_agency_code_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 16 || s[0] < 'A' || s[0] > 'Z') {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z')
		        || (s[i] >= '0' && s[i] <= '9'))) {
			return 0;
		}
	}
	return 1;
}
