/*
 * scoredb.h: the index over PostgreSQL -- areas, methodologies,
 * observations (current or as of a date) in, scores out. Used by the
 * scorer, hsictl score --db-url and the API's as_of (docs/methodology.md
 * §5-§6).
 */
#ifndef HSI_SCOREDB_H
#define HSI_SCOREDB_H

#include <libpq-fe.h>

#include "catalog.h"
#include "engine.h"
#include "panel.h"

/* The area table (with the latest population of each area). */
int hsi_scoredb_areas(PGconn *db, const char *rank_level, hsi_areas *ar,
    char *err, size_t err_size);

/*
 * Methodology `version`, or with version 0 the one active now (as_of NULL)
 * or at as_of (a timestamp PostgreSQL understands). HSI_ENOENT if there is
 * none, HSI_EINVAL if the stored document does not parse (err says why).
 */
int hsi_scoredb_method(PGconn *db, int version, const char *as_of,
    const hsi_catalog *cat, hsi_method **out, char *err, size_t err_size);

/* Stores m's filled document; *version gets its number. */
int hsi_scoredb_method_add(
    PGconn *db, const hsi_method *m, const char *who, int *version);

/* Makes version the active methodology from now on (audited). */
int hsi_scoredb_method_activate(PGconn *db, int version, const char *who);

/* The first and last index year with observations (HSI_ENOENT: none). */
int hsi_scoredb_years(PGconn *db, const hsi_method *m, int *first, int *last);

/*
 * The observations of index years first..last for the methodology's
 * leaves, current or as of as_of, resolved to areas and columns (free
 * *obs). Observations of areas or indicators not scored are skipped.
 */
int hsi_scoredb_load(PGconn *db, const hsi_method *m, const hsi_areas *ar,
    int first, int last, const char *as_of, hsi_pobs **obs, size_t *n_obs);

/*
 * Replaces the scores of panel year index yi under m->version and records
 * a score_event, in one transaction. *seq gets the event's sequence.
 */
int hsi_scoredb_write(PGconn *db, const hsi_method *m, const hsi_areas *ar,
    const hsi_panel *p, const hsi_result *r, size_t yi, long long *seq);

#endif
