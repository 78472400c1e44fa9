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
	const char *format, *out; /* "csv" or "json"; NULL = stdout */
} score_opts;

/*
 * The options score and sensitivity share: their getopt_long entries
 * (SCORE_INPUT_OPTIONS, codes from SO_METH up) and their handling.
 */
enum {
	SO_METH = 0x100,
	SO_DATA,
	SO_CAT,
	SO_AREAS,
	SO_PERIOD,
	SO_FORMAT,
	SO_OUT,
	SO_DB,
	SO_ASOF,
	SO_HELP,
	SO_OWN /* first code of a command's own options */
};
#define SCORE_INPUT_OPTIONS                                                   \
	{ "methodology", required_argument, NULL, SO_METH },                  \
	    { "data", required_argument, NULL, SO_DATA },                     \
	    { "catalog", required_argument, NULL, SO_CAT },                   \
	    { "areas", required_argument, NULL, SO_AREAS },                   \
	    { "period", required_argument, NULL, SO_PERIOD },                 \
	    { "format", required_argument, NULL, SO_FORMAT },                 \
	    { "out", required_argument, NULL, SO_OUT },                       \
	    { "db-url", required_argument, NULL, SO_DB },                     \
	    { "as-of", required_argument, NULL, SO_ASOF },                    \
	{                                                                     \
		"help", no_argument, NULL, SO_HELP                            \
	}

/* Defaults: csv to stdout, the database from $HSI_DB_URL. */
void score_opts_init(score_opts *o);

/* Takes option c (with arg) if it is a shared one: 1 taken, 0 not. */
int score_opts_take(score_opts *o, int c, const char *arg);

/*
 * A whole number in [min, max] for option name, or a message on stderr
 * saying what was given and what is accepted; 0 or 2 (usage).
 */
int hsictl_long_arg(const char *cmd, const char *name, const char *s, long min,
    long max, long *out);

typedef struct {
	hsi_catalog  *cat;
	hsi_method   *m;
	hsi_areas     ar;
	hsi_pobs     *obs;
	size_t        n_obs;
	hsi_col_rule *rules;
	int           first, last;           /* index years to build */
	int           span_first, span_last; /* index years with data */
	int           only;                  /* --period's index year, or 0 */
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

/*
 * The catalog of path (an indicators CSV, at most 8 MiB) over the built-in
 * reference data, or the built-in one when path is NULL. 0, or 1 after
 * printing what was wrong.
 */
int hsictl_load_catalog(const char *path, hsi_catalog **out);

#endif
