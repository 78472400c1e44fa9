/*
 * index.h: GET /v1/index (its route is hsi_routes_index, in routes.h):
 * the composite index, its rank and coverage and the seven dimension
 * scores of the nation, each region and each province for one period
 * under one methodology, read from the score table, cached per (period,
 * methodology) and tagged with the highest score event sequence.
 */
#ifndef HSI_API_INDEX_H
#define HSI_API_INDEX_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Most rows one body is built from (77 provinces x 8 is ~600). */
#define HSI_INDEX_MAX_ROWS 200000

/*
 * The active methodology (latest activated_at) into *out. Returns 0,
 * HSI_ENOENT (none activated) or HSI_EDB.
 */
int hsi_index_active_methodology(PGconn *db, int *out);

/*
 * Builds the JSON body for period (canonical) and methodology. On success
 * returns 0, *body (heap, NUL-terminated, caller frees), *len and
 * *event_seq (the highest event_seq of the rows used). Returns HSI_ENOENT
 * when there are no scores, HSI_EDB, HSI_ETOOBIG or HSI_ENOMEM.
 */
int hsi_index_build(PGconn *db, const char *period, int methodology,
    char **body, size_t *len, uint64_t *event_seq);

#endif
