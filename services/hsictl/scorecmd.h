/*
 * scorecmd.h: what `hsictl score` and `hsictl sensitivity` share -- the
 * inputs of a computation read from files or from PostgreSQL.
 */
#ifndef HSICTL_SCORECMD_H
#define HSICTL_SCORECMD_H

#include <libpq-fe.h>

#include "catalog.h"
#include "engine.h"
#include "method.h"
#include "panel.h"

/* Limit of a data file for hsictl score (docs/methodology.md §7). */
#define HSICTL_DATA_MAX_BYTES (1024ull * 1024 * 1024)

typedef struct {
	const char *methodology, *data, *catalog, *areas, *period;
	const char *db_url, *as_of;
	int         version;
} score_opts;

typedef struct {
	hsi_catalog  *cat;
	hsi_method   *m;
	hsi_areas     ar;
	hsi_pobs     *obs;
	size_t        n_obs;
	hsi_col_rule *rules;
	int           first, last; /* index years to build */
	int           only;        /* --period's index year, or 0 */
	PGconn       *db;
	double        load_s;
} score_input;

/*
 * Reads the inputs (files, or the database when opts has no data file).
 * On failure prints what was wrong to stderr and returns the exit code.
 */
int  score_input_load(const score_opts *o, score_input *in);
void score_input_free(score_input *in);

/* Builds the panel and runs the engine (changes: also rank changes and
 * contributions). 0 or an hsi error. */
int score_compute(const score_input *in, const hsi_method *m, hsi_panel *p,
    hsi_result *r, int changes);

double hsictl_now_s(void);

#endif
