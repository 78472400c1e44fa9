/*
 * index.h: the index module of hsi-api (route table hsi_routes_index, in
 * routes.h): GET /v1/index, /v1/index/areas/{area},
 * /v1/index/areas/{area}/history and /v1/rankings. Shared by
 *
 *   index.c       routes, parameters, getIndex and getRankings
 *   index_area.c  getAreaResult and getAreaHistory
 *   index_load.c  where a period's results come from: the cache, the
 *                 score_area table, or the engine as of a date
 *   index_snap.c  the snapshot those results are held in
 *
 * Every answer about one period is rendered from a snapshot: the results
 * of one index year under one methodology for a set of areas, every node
 * of the tree, with what rendering needs of the methodology (node names,
 * weights, bands, decimals) and of the areas (names, levels, parents).
 * A snapshot is one block of memory with offsets instead of pointers, so
 * it goes into the response cache (cache.h) and comes out of it as it is:
 * the current results are served from memory until a ScoreEvent for
 * their period drops them.
 */
#ifndef HSI_API_INDEX_H
#define HSI_API_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "call.h"
#include "method.h"
#include "negotiate.h"

/* ---- the snapshot (index_snap.c) ----------------------------------------
 */

#define HSI_ISNAP_NULL UINT32_MAX /* a string offset that means null */
#define HSI_ISNAP_NO_RANK_DELTA INT32_MIN

/* Most areas times nodes in one snapshot (7,339 sub-districts x 48
 * nodes is ~352,000): a cap, so a methodology of 10,000 nodes over
 * every sub-district cannot take gigabytes. */
#define HSI_ISNAP_MAX_CELLS 4000000

enum { HSI_INODE_INDEX = 0, HSI_INODE_GROUP, HSI_INODE_INDICATOR };

/* Area levels as bits, for filters. */
#define HSI_ILEVEL_NATION 1u
#define HSI_ILEVEL_REGION 2u
#define HSI_ILEVEL_PROVINCE 4u
#define HSI_ILEVEL_DISTRICT 8u
#define HSI_ILEVEL_SUBDISTRICT 16u
/* The levels /v1/index lists, and those of the cached snapshot. */
#define HSI_ILEVEL_INDEX                                                      \
	(HSI_ILEVEL_NATION | HSI_ILEVEL_REGION | HSI_ILEVEL_PROVINCE)

typedef struct {
	uint32_t code, level, parent, name_th, name_en; /* strings */
	uint32_t unused;
} hsi_isnap_area;

typedef struct {
	double   weight;                 /* within its parent */
	int32_t  parent;                 /* node index, -1 for the root */
	int32_t  kind;                   /* HSI_INODE_* */
	uint32_t code, name_th, name_en; /* strings */
	uint32_t unused;
} hsi_isnap_node;

typedef struct {
	double   from;
	uint32_t code, th, en; /* strings */
	uint32_t unused;
} hsi_isnap_band;

/* One node of one area. NaN, 0, HSI_ISNAP_NO_RANK_DELTA and -1 are
 * null. */
typedef struct {
	double  value, raw, coverage, delta, contribution;
	int32_t rank;       /* 1.. or 0 */
	int32_t rank_delta; /* previous rank minus this one */
	int8_t  band;       /* index into the bands, or -1 */
	int8_t  imputed;    /* 0 or 1; -1 for groups */
	int8_t  unused[6];
} hsi_isnap_cell;

/* The head of a snapshot; the arrays and strings follow it. Areas are in
 * code order, nodes in tree post-order (the root last), cells
 * [area][node]. */
typedef struct {
	char     magic[8];
	uint64_t size_bytes; /* of the whole block */
	uint64_t seq;        /* highest score event sequence in it */
	int32_t  methodology, decimals;
	uint32_t n_areas, n_nodes, n_bands;
	uint32_t name, rank_level, period, as_of; /* strings */
	uint32_t unused;
	uint64_t off_areas, off_nodes, off_bands, off_cells, off_strings;
} hsi_isnap;

/* A string of s, or NULL for HSI_ISNAP_NULL. */
const char *hsi_isnap_str(const hsi_isnap *s, uint32_t off);

const hsi_isnap_area *hsi_isnap_area_at(const hsi_isnap *s, size_t a);
const hsi_isnap_node *hsi_isnap_node_at(const hsi_isnap *s, size_t i);
const hsi_isnap_cell *hsi_isnap_cell_at(
    const hsi_isnap *s, size_t a, size_t i);

/* Band b of s (a cell's band), or NULL when b < 0. */
const hsi_isnap_band *hsi_isnap_band_at(const hsi_isnap *s, int b);

/* The index of area code / node code, or -1. */
int hsi_isnap_find_area(const hsi_isnap *s, const char *code);
int hsi_isnap_find_node(const hsi_isnap *s, const char *code);

/* 1 when len bytes at p are a whole, consistent snapshot. */
int hsi_isnap_valid(const void *p, size_t len);

/* The HSI_ILEVEL_* bit of a level name, 0 for an unknown one. */
unsigned hsi_ilevel_bit(const char *level);

/* Building one: begin (every cell null), set areas, names and cells,
 * then finish, or abort. */
typedef struct {
	char  *fixed; /* head, areas, nodes, bands, cells */
	size_t fixed_bytes;
	char  *str; /* the string table */
	size_t str_len, str_cap;
	int    failed; /* out of memory: finish says so */
} hsi_isnap_builder;

/*
 * Starts a snapshot of n_areas areas under m for period (canonical),
 * as_of (NULL: current): the nodes, their names in m, the bands. Returns
 * 0, HSI_ETOOBIG (over HSI_ISNAP_MAX_CELLS) or HSI_ENOMEM; call
 * hsi_isnap_abort after an error too.
 */
int hsi_isnap_begin(hsi_isnap_builder *b, const hsi_method *m, size_t n_areas,
    const char *period, const char *as_of);

/* Area a's code, level, parent (NULL or "" for none) and names. */
void hsi_isnap_set_area(hsi_isnap_builder *b, size_t a, const char *code,
    const char *level, const char *parent, const char *name_th,
    const char *name_en);

/* Node i's names, where m gave none (the catalog's). */
void hsi_isnap_name_node(
    hsi_isnap_builder *b, size_t i, const char *name_th, const char *name_en);

/* The cell of area a, node i, to fill. */
hsi_isnap_cell *hsi_isnap_cell_mut(hsi_isnap_builder *b, size_t a, size_t i);

/* The index of the band with code, or -1. */
int hsi_isnap_band_index(const hsi_isnap_builder *b, const char *code);

/* Ends b: *out (heap, caller frees) of *len bytes with seq. Returns 0 or
 * HSI_ENOMEM; b is empty afterwards either way. */
int hsi_isnap_finish(
    hsi_isnap_builder *b, uint64_t seq, hsi_isnap **out, size_t *len);

void hsi_isnap_abort(hsi_isnap_builder *b);

/* ---- where results come from (index_load.c) ------------------------------
 */

typedef struct {
	const char *period;  /* canonical index year */
	int         version; /* asked; 0: the one active (then) */
	const char *as_of;   /* canonical UTC time; NULL: current */
	unsigned    levels;  /* HSI_ILEVEL_* */
	const char *area;    /* and this area (canonical), or NULL */
} hsi_iload_req;

typedef struct {
	hsi_isnap *snap; /* heap, caller frees */
	size_t     len;
	uint64_t   gen; /* cache generation read before loading */
	char       etag[HSI_ETAG_MAX]; /* "\"m1-s42\"", or "" (as_of) */
	char       detail[400];        /* HSI_ENOENT: what is missing */
} hsi_iload;

/*
 * The snapshot req asks for. Current results of HSI_ILEVEL_INDEX come
 * from the cache, or from score_area and then into the cache; other
 * current sets from score_area; with as_of, computed by the engine from
 * the revision history (docs/methodology.md §5), never cached. Returns
 * 0, HSI_ENOENT (out->detail says what is missing), HSI_EDB (503
 * queued) or another error (the caller answers 500).
 */
int hsi_iload_get(hsi_call *c, const hsi_iload_req *req, hsi_iload *out);

/*
 * Methodology version (0: the active one, now or at as_of) into *m
 * (caller frees), for the handlers that read score_area themselves.
 * Returns 0, HSI_ENOENT with detail, HSI_EDB (connection lost) or
 * another error.
 */
int hsi_iload_method(PGconn *db, int version, const char *as_of,
    hsi_method **m, char *detail, size_t detail_size);

/* hsi_db_query, with HSI_EDB only when the connection is lost (else
 * HSI_EIO): what hsi_call_run expects of its function. On success the
 * caller owns *out (PQclear). */
int hsi_iload_query(PGconn *db, const char *what, const char *sql, int n,
    const char *const *params, PGresult **out);

/* A float8 column of r as a double, NaN for NULL. */
double hsi_iload_num(const PGresult *r, int row, int col);

/* The cached /v1/index body of (period, version asked): 0 with *body
 * (heap, caller frees), *len and etag; else HSI_ENOENT. */
int hsi_iload_body_get(hsi_call *c, const char *period, int version,
    char **body, size_t *len, char *etag);

/* Caches that body, unless the cache was invalidated after gen. */
void hsi_iload_body_put(hsi_call *c, uint64_t gen, const char *period,
    int version, const char *body, size_t len, const char *etag);

/* ---- shared by the handlers (index.c) ------------------------------------
 */

/* GET /v1/index/areas/{area} and .../history (index_area.c). */
int hsi_index_get_area(hsi_call *c);
int hsi_index_get_history(hsi_call *c);

/*
 * The year of index period parameter name (canonical text; a year or a
 * fiscal year) into *year. Returns 0, or non-zero after queueing 400
 * naming the parameter.
 */
int hsi_index_year_param(hsi_call *c, const char *name, int *year);

/* 400 invalid-parameter naming name, with detail; returns as handlers
 * do. */
int hsi_index_bad_param(hsi_call *c, const char *name, const char *detail);

/* 404 not-found with detail; returns as handlers do. */
int hsi_index_not_found(hsi_call *c, const char *detail);

/* Answers a failed hsi_iload_get: 404 with its detail, nothing more for
 * HSI_EDB (503 is queued), or 500. Returns as handlers do. */
int hsi_index_load_failed(hsi_call *c, int rv, const hsi_iload *l);

/*
 * 1 when the request's If-None-Match matches etag as sent for the call's
 * format (CSV answers carry etag with "-csv"); then 304 has been queued
 * and *rv is its result.
 */
int hsi_index_not_modified(hsi_call *c, const char *etag, int *rv);

/* The json_t builders below return a new reference (NULL when out of
 * memory), which the caller owns or passes on to a stealing call. */

/* A snapshot number as JSON: null for NaN. */
json_t *hsi_index_num(double v);

/* A rank (0: null) and a rank change (HSI_ISNAP_NO_RANK_DELTA: null). */
json_t *hsi_index_rank(int32_t rank);
json_t *hsi_index_rank_delta(int32_t rank_delta);

/* The band of a cell as JSON ({code, th, en} or null). */
json_t *hsi_index_band(const hsi_isnap *s, const hsi_isnap_cell *cell);

/* {delta, rank_delta}, or null when neither exists. */
json_t *hsi_index_change(const hsi_isnap_cell *cell);

/* The members period answers start with: period, methodology,
 * methodology_name (with_name), as_of, event_seq. */
json_t *hsi_index_head(const hsi_isnap *s, int with_name);

/* round(value, decimals) as JSON, null for NaN. */
json_t *hsi_index_published(const hsi_isnap *s, double value);

/*
 * Sends doc (stolen, success or not; NULL: out of memory, the
 * connection is closed): for a CSV call an array of flat rows under columns,
 * else the JSON body; etag as for hsi_reply_json_text ("" is made from
 * the bytes, a tag gets "-csv" for CSV).
 */
int hsi_index_reply(
    hsi_call *c, json_t *doc, const char *const *columns, const char *etag);

#endif
