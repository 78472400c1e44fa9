/*
 * catalog_db.c: the catalog in PostgreSQL and on the wire (CatalogSnapshot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "error.h"

static char *
dupcol(PGresult *r, int row, int col)
{
	return strdup(PQgetvalue(r, row, col));
}

static void
fmt_d(char *buf, size_t size, double v)
{
	snprintf(buf, size, "%.17g", v);
}

static int
store_refs(PGconn *conn, const hsi_catalog *c)
{
	for (size_t i = 0; i < c->n_agencies; i++) {
		const hsi_agency *a    = &c->agencies[i];
		const char       *p[3] = { a->code, a->name_th, a->name_en };
		if (hsi_db_exec(conn, "store agency",
		        "INSERT INTO agency(code, name_th, name_en) "
		        "VALUES ($1,$2,$3) ON CONFLICT (code) DO UPDATE SET "
		        "name_th = EXCLUDED.name_th, name_en = "
		        "EXCLUDED.name_en",
		        3, p)) {
			return HSI_EDB;
		}
	}
	for (size_t i = 0; i < c->n_dims; i++) {
		const hsi_dimension *d = &c->dims[i];
		char                 ord[16];
		snprintf(ord, sizeof(ord), "%d", d->ord);
		const char *p[4] = { d->code, d->name_th, d->name_en, ord };
		if (hsi_db_exec(conn, "store dimension",
		        "INSERT INTO dimension(code, name_th, name_en, ord) "
		        "VALUES ($1,$2,$3,$4) ON CONFLICT (code) DO UPDATE "
		        "SET "
		        "name_th = EXCLUDED.name_th, name_en = "
		        "EXCLUDED.name_en, ord = EXCLUDED.ord",
		        4, p)) {
			return HSI_EDB;
		}
	}
	/* Parents before children: the nation, then regions, provinces. */
	for (int level = HSI_LEVEL_NATION; level <= HSI_LEVEL_PROVINCE;
	     level++) {
		for (size_t i = 0; i < c->n_areas; i++) {
			const hsi_area *a = &c->areas[i];
			if ((int) a->level != level) {
				continue;
			}
			char pop[32];
			snprintf(pop, sizeof(pop), "%.0f", a->population);
			const char *p[6]
			    = { a->code, a->parent[0] ? a->parent : NULL,
				      hsi_area_level_name(a->level), a->iso,
				      a->name_th, a->name_en };
			const char *pp[2] = { a->code, pop };
			if (hsi_db_exec(conn, "store area",
			        "INSERT INTO area(code, parent, level, iso, "
			        "name_th, name_en) VALUES ($1,$2,$3,$4,$5,$6) "
			        "ON CONFLICT (code) DO UPDATE SET parent = "
			        "EXCLUDED.parent, level = EXCLUDED.level, iso "
			        "= "
			        "EXCLUDED.iso, name_th = EXCLUDED.name_th, "
			        "name_en = EXCLUDED.name_en",
			        6, p)
			    || hsi_db_exec(conn, "store population",
			        "INSERT INTO area_population(area, year, "
			        "population, source) VALUES ($1, 2020, $2, "
			        "'DOPA registered population 31 Dec 2020') "
			        "ON CONFLICT (area, year) DO UPDATE SET "
			        "population = EXCLUDED.population",
			        2, pp)) {
				return HSI_EDB;
			}
		}
	}
	return 0;
}

static int
store_indicator(PGconn *conn, const hsi_indicator *d)
{
	char hmin[32], hmax[32], ms[16], dir[8], lo[32], hi[32], w[32];
	fmt_d(hmin, sizeof(hmin), d->hard_min);
	fmt_d(hmax, sizeof(hmax), d->hard_max);
	fmt_d(lo, sizeof(lo), d->lo);
	fmt_d(hi, sizeof(hi), d->hi);
	fmt_d(w, sizeof(w), d->weight);
	snprintf(ms, sizeof(ms), "%d", d->min_subperiods);
	snprintf(dir, sizeof(dir), "%d", d->direction);
	const char *p[20] = { d->code, d->dimension, d->agency, d->name_th,
		d->name_en, d->unit, hsi_freq_name(d->freq), hmin, hmax,
		hsi_rollup_area_name(d->rollup_area),
		hsi_rollup_time_name(d->rollup_time), ms, dir, lo, hi, w,
		d->in_index ? "true" : "false", d->definition_th,
		d->definition_en, d->source };
	return hsi_db_exec(conn, "store indicator",
	    "INSERT INTO indicator(code, dimension, agency, name_th, name_en, "
	    "unit, frequency, hard_min, hard_max, rollup_area, rollup_time, "
	    "min_subperiods, direction, lo, hi, weight, in_index, "
	    "definition_th, definition_en, source) VALUES ($1,$2,$3,$4,$5,$6,"
	    "$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) "
	    "ON CONFLICT (code) DO UPDATE SET dimension = EXCLUDED.dimension, "
	    "agency = EXCLUDED.agency, name_th = EXCLUDED.name_th, name_en = "
	    "EXCLUDED.name_en, unit = EXCLUDED.unit, frequency = "
	    "EXCLUDED.frequency, hard_min = EXCLUDED.hard_min, hard_max = "
	    "EXCLUDED.hard_max, rollup_area = EXCLUDED.rollup_area, "
	    "rollup_time = EXCLUDED.rollup_time, min_subperiods = "
	    "EXCLUDED.min_subperiods, direction = EXCLUDED.direction, lo = "
	    "EXCLUDED.lo, hi = EXCLUDED.hi, weight = EXCLUDED.weight, "
	    "in_index = EXCLUDED.in_index, definition_th = "
	    "EXCLUDED.definition_th, definition_en = EXCLUDED.definition_en, "
	    "source = EXCLUDED.source",
	    20, p);
}

int
hsi_catalog_store_db(
    PGconn *conn, const hsi_catalog *c, char *err, size_t err_size)
{
	int rv = hsi_db_exec(conn, "begin", "BEGIN", 0, NULL);
	if (rv == 0) {
		rv = store_refs(conn, c);
	}
	for (size_t i = 0; rv == 0 && i < c->n_ind; i++) {
		rv = store_indicator(conn, &c->ind[i]);
	}
	if (rv == 0) {
		rv = hsi_db_exec(conn, "bump catalog version",
		    "INSERT INTO catalog_version(one, version) VALUES (true, "
		    "1) "
		    "ON CONFLICT (one) DO UPDATE SET version = "
		    "catalog_version.version + 1, changed_at = now()",
		    0, NULL);
	}
	if (rv == 0) {
		rv = hsi_db_exec(conn, "commit", "COMMIT", 0, NULL);
	}
	if (rv != 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		snprintf(err, err_size,
		    "storing the catalog failed (see the database error "
		    "logged above); nothing was changed");
	}
	return rv;
}

static int
load_areas_db(PGconn *conn, hsi_catalog *c)
{
	PGresult *r = hsi_db_query(conn, "load areas",
	    "SELECT a.code, coalesce(a.parent, ''), a.level, "
	    "coalesce(a.iso, ''), a.name_th, a.name_en, "
	    "coalesce((SELECT population FROM area_population p WHERE "
	    "p.area = a.code ORDER BY year DESC LIMIT 1), 0) "
	    "FROM area a WHERE a.level IN ('nation', 'region', 'province') "
	    "ORDER BY a.code",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n    = PQntuples(r);
	c->areas = calloc((size_t) n + 1, sizeof(hsi_area));
	if (c->areas == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		hsi_area *a = &c->areas[i];
		snprintf(a->code, sizeof(a->code), "%s", PQgetvalue(r, i, 0));
		snprintf(
		    a->parent, sizeof(a->parent), "%s", PQgetvalue(r, i, 1));
		const char *lv = PQgetvalue(r, i, 2);
		a->level       = strcmp(lv, "nation") == 0 ? HSI_LEVEL_NATION
		          : strcmp(lv, "region") == 0      ? HSI_LEVEL_REGION
		                                      : HSI_LEVEL_PROVINCE;
		a->iso         = dupcol(r, i, 3);
		a->name_th     = dupcol(r, i, 4);
		a->name_en     = dupcol(r, i, 5);
		a->population  = atof(PQgetvalue(r, i, 6));
	}
	c->n_areas = (size_t) n;
	PQclear(r);
	return 0;
}

static int
load_names_db(PGconn *conn, hsi_catalog *c)
{
	PGresult *r = hsi_db_query(conn, "load agencies",
	    "SELECT code, name_th, name_en FROM agency ORDER BY code", 0,
	    NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n       = PQntuples(r);
	c->agencies = calloc((size_t) n + 1, sizeof(hsi_agency));
	for (int i = 0; c->agencies && i < n; i++) {
		snprintf(c->agencies[i].code, HSI_SHORT_MAX, "%s",
		    PQgetvalue(r, i, 0));
		c->agencies[i].name_th = dupcol(r, i, 1);
		c->agencies[i].name_en = dupcol(r, i, 2);
	}
	c->n_agencies = c->agencies ? (size_t) n : 0;
	PQclear(r);
	r = hsi_db_query(conn, "load dimensions",
	    "SELECT code, name_th, name_en, ord FROM dimension ORDER BY ord",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	n       = PQntuples(r);
	c->dims = calloc((size_t) n + 1, sizeof(hsi_dimension));
	for (int i = 0; c->dims && i < n; i++) {
		snprintf(
		    c->dims[i].code, HSI_SHORT_MAX, "%s", PQgetvalue(r, i, 0));
		c->dims[i].name_th = dupcol(r, i, 1);
		c->dims[i].name_en = dupcol(r, i, 2);
		c->dims[i].ord     = atoi(PQgetvalue(r, i, 3));
	}
	c->n_dims = c->dims ? (size_t) n : 0;
	PQclear(r);
	return c->agencies && c->dims ? 0 : HSI_ENOMEM;
}

static int
load_indicators_db(PGconn *conn, hsi_catalog *c)
{
	PGresult *r = hsi_db_query(conn, "load indicators",
	    "SELECT code, dimension, agency, name_th, name_en, unit, "
	    "frequency, hard_min, hard_max, rollup_area, rollup_time, "
	    "min_subperiods, direction, lo, hi, weight, in_index, "
	    "definition_th, definition_en, source FROM indicator ORDER BY "
	    "code",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n  = PQntuples(r);
	c->ind = calloc((size_t) n + 1, sizeof(hsi_indicator));
	if (c->ind == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		hsi_indicator *d = &c->ind[i];
		snprintf(d->code, sizeof(d->code), "%s", PQgetvalue(r, i, 0));
		snprintf(d->dimension, sizeof(d->dimension), "%s",
		    PQgetvalue(r, i, 1));
		snprintf(
		    d->agency, sizeof(d->agency), "%s", PQgetvalue(r, i, 2));
		d->name_th = dupcol(r, i, 3);
		d->name_en = dupcol(r, i, 4);
		d->unit    = dupcol(r, i, 5);
		hsi_freq_parse(PQgetvalue(r, i, 6), &d->freq);
		d->hard_min       = atof(PQgetvalue(r, i, 7));
		d->hard_max       = atof(PQgetvalue(r, i, 8));
		const char *ra    = PQgetvalue(r, i, 9);
		d->rollup_area    = strcmp(ra, "sum") == 0 ? HSI_ROLLUP_SUM
		       : strcmp(ra, "national") == 0 ? HSI_ROLLUP_NATIONAL
		                                     : HSI_ROLLUP_WMEAN;
		const char *rt    = PQgetvalue(r, i, 10);
		d->rollup_time    = strcmp(rt, "sum") == 0 ? HSI_TIME_SUM
		       : strcmp(rt, "last") == 0           ? HSI_TIME_LAST
		                                           : HSI_TIME_MEAN;
		d->min_subperiods = atoi(PQgetvalue(r, i, 11));
		d->direction      = atoi(PQgetvalue(r, i, 12));
		d->lo             = atof(PQgetvalue(r, i, 13));
		d->hi             = atof(PQgetvalue(r, i, 14));
		d->weight         = atof(PQgetvalue(r, i, 15));
		d->in_index       = PQgetvalue(r, i, 16)[0] == 't';
		d->definition_th  = dupcol(r, i, 17);
		d->definition_en  = dupcol(r, i, 18);
		d->source         = dupcol(r, i, 19);
	}
	c->n_ind = (size_t) n;
	PQclear(r);
	return 0;
}

int
hsi_catalog_load_db(
    PGconn *conn, hsi_catalog **out, char *err, size_t err_size)
{
	hsi_catalog *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return HSI_ENOMEM;
	}
	int       rv;
	PGresult *r = hsi_db_query(conn, "catalog version",
	    "SELECT version FROM catalog_version", 0, NULL);
	if (r == NULL || PQntuples(r) == 0) {
		PQclear(r);
		free(c);
		snprintf(err, err_size,
		    "the catalog is empty: the scorer loads it at first "
		    "start, "
		    "or run 'hsictl catalog load'");
		return r == NULL ? HSI_EDB : HSI_ENOENT;
	}
	c->version = (uint32_t) atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	if ((rv = load_areas_db(conn, c)) || (rv = load_names_db(conn, c))
	    || (rv = load_indicators_db(conn, c))) {
		hsi_catalog_free(c);
		snprintf(err, err_size, "cannot load the catalog: %s",
		    hsi_strerror(rv));
		return rv;
	}
	*out = c;
	return 0;
}

/* ---- snapshot ------------------------------------------------------------
 */

int
hsi_catalog_to_snapshot(const hsi_catalog *c, uint8_t **out, size_t *len)
{
	Hsi__CatalogSnapshot    snap = HSI__CATALOG_SNAPSHOT__INIT;
	Hsi__CatalogIndicator  *ind  = calloc(c->n_ind + 1, sizeof(*ind));
	Hsi__CatalogIndicator **pind = calloc(c->n_ind + 1, sizeof(*pind));
	Hsi__CatalogArea       *ar   = calloc(c->n_areas + 1, sizeof(*ar));
	Hsi__CatalogArea      **par  = calloc(c->n_areas + 1, sizeof(*par));
	char                  **ag = calloc(c->n_agencies + 1, sizeof(char *));
	int                     rv = HSI_ENOMEM;
	if (!ind || !pind || !ar || !par || !ag) {
		goto out;
	}
	for (size_t i = 0; i < c->n_ind; i++) {
		const hsi_indicator *d = &c->ind[i];
		hsi__catalog_indicator__init(&ind[i]);
		ind[i].code      = (char *) d->code;
		ind[i].dimension = (char *) d->dimension;
		ind[i].agency    = (char *) d->agency;
		ind[i].frequency = (char *) hsi_freq_name(d->freq);
		ind[i].hard_min  = d->hard_min;
		ind[i].hard_max  = d->hard_max;
		ind[i].unit      = d->unit;
		ind[i].in_index  = d->in_index;
		pind[i]          = &ind[i];
	}
	for (size_t i = 0; i < c->n_areas; i++) {
		hsi__catalog_area__init(&ar[i]);
		ar[i].code   = (char *) c->areas[i].code;
		ar[i].parent = (char *) c->areas[i].parent;
		ar[i].level  = (char *) hsi_area_level_name(c->areas[i].level);
		par[i]       = &ar[i];
	}
	for (size_t i = 0; i < c->n_agencies; i++) {
		ag[i] = (char *) c->agencies[i].code;
	}
	snap.version      = c->version;
	snap.n_indicators = c->n_ind;
	snap.indicators   = pind;
	snap.n_areas      = c->n_areas;
	snap.areas        = par;
	snap.n_agencies   = c->n_agencies;
	snap.agencies     = ag;
	*len              = hsi__catalog_snapshot__get_packed_size(&snap);
	*out              = malloc(*len ? *len : 1);
	if (*out != NULL) {
		hsi__catalog_snapshot__pack(&snap, *out);
		rv = 0;
	}
out:
	free(ind);
	free(pind);
	free(ar);
	free(par);
	free(ag);
	return rv;
}

int
hsi_catalog_from_snapshot(const Hsi__CatalogSnapshot *s, hsi_catalog **out)
{
	hsi_catalog *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return HSI_ENOMEM;
	}
	c->version  = s->version;
	c->ind      = calloc(s->n_indicators + 1, sizeof(hsi_indicator));
	c->areas    = calloc(s->n_areas + 1, sizeof(hsi_area));
	c->agencies = calloc(s->n_agencies + 1, sizeof(hsi_agency));
	if (!c->ind || !c->areas || !c->agencies) {
		hsi_catalog_free(c);
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < s->n_indicators; i++) {
		const Hsi__CatalogIndicator *p = s->indicators[i];
		hsi_indicator               *d = &c->ind[c->n_ind];
		if (strlen(p->code) >= sizeof(d->code)
		    || strlen(p->agency) >= sizeof(d->agency)
		    || strlen(p->dimension) >= sizeof(d->dimension)
		    || hsi_freq_parse(p->frequency, &d->freq) != 0) {
			continue; /* not representable: cannot validate it */
		}
		strcpy(d->code, p->code);
		strcpy(d->agency, p->agency);
		strcpy(d->dimension, p->dimension);
		d->hard_min = p->hard_min;
		d->hard_max = p->hard_max;
		d->unit     = strdup(p->unit);
		d->in_index = p->in_index;
		c->n_ind++;
	}
	for (size_t i = 0; i < s->n_areas; i++) {
		const Hsi__CatalogArea *p = s->areas[i];
		hsi_area               *a = &c->areas[c->n_areas];
		if (strlen(p->code) >= sizeof(a->code)
		    || strlen(p->parent) >= sizeof(a->parent)) {
			continue;
		}
		strcpy(a->code, p->code);
		strcpy(a->parent, p->parent);
		a->level = strcmp(p->level, "nation") == 0 ? HSI_LEVEL_NATION
		    : strcmp(p->level, "region") == 0      ? HSI_LEVEL_REGION
		                                      : HSI_LEVEL_PROVINCE;
		c->n_areas++;
	}
	for (size_t i = 0; i < s->n_agencies; i++) {
		if (strlen(s->agencies[i]) < HSI_SHORT_MAX) {
			strcpy(
			    c->agencies[c->n_agencies++].code, s->agencies[i]);
		}
	}
	hsi_catalog_sort(c);
	*out = c;
	return 0;
}
