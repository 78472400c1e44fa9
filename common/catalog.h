/*
 * catalog.h: the data catalog in memory -- agencies, dimensions, areas
 * (nation > regions > provinces, with populations) and indicators with
 * their validation bounds, roll-up rules and scoring defaults.
 *
 * The scorer owns the catalog in PostgreSQL and publishes it as a
 * CatalogSnapshot; nodes validate against their cached copy. The structs
 * are plain data on purpose: every service reads them, none mutates them
 * after loading, and a catalog is freed as a whole.
 */
#ifndef HSI_CATALOG_H
#define HSI_CATALOG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hsi.pb-c.h"
#include "period.h"

#define HSI_CODE_MAX 33 /* indicator codes: 32 chars + NUL */
#define HSI_SHORT_MAX 17

typedef enum {
	HSI_ROLLUP_WMEAN = 0, /* population-weighted mean (rates, shares) */
	HSI_ROLLUP_SUM,       /* sum (counts) */
	HSI_ROLLUP_NATIONAL,  /* only a national value exists */
} hsi_rollup_area;

typedef enum {
	HSI_TIME_MEAN = 0,
	HSI_TIME_SUM,
	HSI_TIME_LAST,
} hsi_rollup_time;

typedef enum {
	HSI_LEVEL_NATION = 0,
	HSI_LEVEL_REGION,
	HSI_LEVEL_PROVINCE,
} hsi_area_level;

typedef struct {
	char            code[HSI_CODE_MAX];
	char            dimension[HSI_SHORT_MAX];
	char            agency[HSI_SHORT_MAX];
	char           *name_th, *name_en, *unit;
	char           *definition_th, *definition_en, *source;
	hsi_freq        freq;
	double          hard_min, hard_max;
	hsi_rollup_area rollup_area;
	hsi_rollup_time rollup_time;
	int             min_subperiods;
	int             direction; /* +1 higher is better, -1 lower */
	double          lo, hi, weight;
	int             in_index;
} hsi_indicator;

typedef struct {
	char           code[HSI_SHORT_MAX];
	char           parent[HSI_SHORT_MAX]; /* "" for the nation */
	hsi_area_level level;
	char          *name_th, *name_en, *iso;
	double         population; /* latest known */
} hsi_area;

typedef struct {
	char  code[HSI_SHORT_MAX];
	char *name_th, *name_en;
	char *
	    dimensions; /* ";"-separated, from agencies.csv; NULL if unknown */
} hsi_agency;

typedef struct {
	char  code[HSI_SHORT_MAX];
	char *name_th, *name_en;
	int   ord;
} hsi_dimension;

typedef struct hsi_catalog {
	uint32_t       version;
	hsi_indicator *ind; /* sorted by code */
	size_t         n_ind;
	hsi_area      *areas; /* sorted by code */
	size_t         n_areas;
	hsi_agency    *agencies; /* sorted by code */
	size_t         n_agencies;
	hsi_dimension *dims; /* in framework order */
	size_t         n_dims;
} hsi_catalog;

/*
 * Builds the catalog from the reference data embedded in the binary
 * (the CSV files in common/data). If indicators_csv is not NULL it replaces
 * the embedded indicators.csv (hsictl catalog load FILE). On error returns
 * HSI_EINVAL with err naming the file, line and column.
 */
int hsi_catalog_from_refdata(const char *indicators_csv, size_t len,
    const char *indicators_name, hsi_catalog **out, char *err,
    size_t err_size);

/* Loads the catalog from PostgreSQL. 0 or HSI_EDB/HSI_ENOENT (empty). */
int hsi_catalog_load_db(
    PGconn *conn, hsi_catalog **out, char *err, size_t err_size);

/*
 * Writes cat into PostgreSQL in one transaction (insert or update every
 * row; indicators no longer listed are kept, since observations refer to
 * them) and bumps catalog_version. Returns 0 or HSI_EDB.
 */
int hsi_catalog_store_db(
    PGconn *conn, const hsi_catalog *cat, char *err, size_t err_size);

/* The snapshot nodes validate against: packs into *out (caller frees). */
int hsi_catalog_to_snapshot(
    const hsi_catalog *cat, uint8_t **out, size_t *len);
/* Builds a (validation-only) catalog from a snapshot. */
int hsi_catalog_from_snapshot(
    const Hsi__CatalogSnapshot *snap, hsi_catalog **out);

void hsi_catalog_free(hsi_catalog *cat);

/* Sorts areas, indicators and agencies by code (after building one by
 * hand, as tests do); the look-ups below need it. */
void hsi_catalog_sort(hsi_catalog *cat);

/* Look-ups by code; NULL when absent. */
const hsi_indicator *hsi_catalog_indicator(
    const hsi_catalog *cat, const char *code);
const hsi_area   *hsi_catalog_area(const hsi_catalog *cat, const char *code);
const hsi_agency *hsi_catalog_agency(const hsi_catalog *cat, const char *code);

/* 1 if s is an agency code: A-Z then 1-15 of A-Z 0-9 ("NSO", "DOH"). */
int hsi_agency_code_valid(const char *s);

const char *hsi_rollup_area_name(hsi_rollup_area r);
const char *hsi_rollup_time_name(hsi_rollup_time r);
const char *hsi_area_level_name(hsi_area_level l);

#endif
