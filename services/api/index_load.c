/*
 * index_load.c: where a period's results come from (see index.h).
 *
 * Current results are what the scorer stored in score_area, one row per
 * area with the node values in arrays in tree post-order; the snapshot
 * of the nation, regions and provinces is cached per (period,
 * methodology asked) and tagged "m<version>-s<event seq>". The scorer
 * replaces a period in one transaction with one sequence number and then
 * announces it, and events.c drops the period's entries when the
 * announcement arrives, so a cached snapshot is the stored one until
 * then.
 *
 * Results as of a date are computed, not looked up: score_area keeps
 * only the latest computation of each period, so no stored row says what
 * the index was before a revision. They are computed like `hsictl score
 * --as-of` (docs/methodology.md §5): the methodology active then, the
 * latest revision of every value recorded by then, the same engine.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "error.h"
#include "index.h"
#include "log.h"
#include "panel.h"
#include "scoredb.h"

/* Cache keys: the snapshot under the version asked (0: the active one),
 * the rendered /v1/index body under -1 - version, so both are dropped
 * with their period. */
static int
body_key(int version)
{
	return -1 - version;
}

typedef struct {
	const hsi_iload_req *req;
	hsi_iload           *out;
	unsigned             levels;
} job;

/* After a failed statement: HSI_EDB when the connection is gone (503,
 * and hsi_call_run retries once), else HSI_EIO (a 500). */
static int
db_failed(PGconn *db)
{
	return PQstatus(db) != CONNECTION_OK ? HSI_EDB : HSI_EIO;
}

static int
query(PGconn *db, const char *what, const char *sql, int n,
    const char *const *params, PGresult **out)
{
	*out = hsi_db_query(db, what, sql, n, params);
	return *out ? 0 : db_failed(db);
}

/* The methodology (asked, or active now or at as_of); cat fills what a
 * document leaves out (NULL: stored documents are complete). */
static int
load_method(PGconn *db, int version, const char *as_of, const hsi_catalog *cat,
    hsi_method **m, char *detail, size_t size)
{
	char err[300];
	int  rv
	    = hsi_scoredb_method(db, version, as_of, cat, m, err, sizeof(err));
	if (rv == HSI_ENOENT) {
		if (version > 0) {
			snprintf(detail, size,
			    "methodology version %d does not exist; list "
			    "/v1/methodologies",
			    version);
		} else if (as_of != NULL) {
			snprintf(detail, size,
			    "no methodology was active at %s, so there are no "
			    "results as of then",
			    as_of);
		} else {
			snprintf(detail, size,
			    "no methodology has been activated yet, so there "
			    "are no results; activate one or pass "
			    "methodology=N");
		}
		return HSI_ENOENT;
	}
	if (rv == HSI_EDB) {
		return db_failed(db);
	}
	if (rv != 0) {
		hsi_log_error("index: stored methodology does not parse",
		    "{s:s}", "error", err);
	}
	return rv;
}

double
hsi_iload_num(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col)
	    ? NAN
	    : strtod(PQgetvalue(r, row, col), NULL);
}

/* "{nation,region}" for $n::text[]. */
static void
levels_array(unsigned levels, char *out, size_t size)
{
	static const char *const names[]
	    = { "nation", "region", "province", "district", "subdistrict" };
	size_t n = 0;
	out[n++] = '{';
	for (unsigned i = 0; i < 5; i++) {
		if (levels & (1u << i)) {
			n += (size_t) snprintf(out + n, size - n, "%s%s",
			    n > 1 ? "," : "", names[i]);
		}
	}
	snprintf(out + n, size - n, "}");
}

int
hsi_iload_method(PGconn *db, int version, const char *as_of, hsi_method **m,
    char *detail, size_t detail_size)
{
	return load_method(db, version, as_of, NULL, m, detail, detail_size);
}

int
hsi_iload_query(PGconn *db, const char *what, const char *sql, int n,
    const char *const *params, PGresult **out)
{
	return query(db, what, sql, n, params, out);
}

/* The period's index year under m, or HSI_ENOENT with a detail when the
 * period is of the other kind (FY2024 under calendar years). */
static int
index_year(const hsi_method *m, const char *period, int *year, hsi_iload *out)
{
	hsi_period pe;
	char       label[HSI_PERIOD_MAX];
	if (hsi_period_parse(period, strlen(period), &pe, NULL) != 0) {
		return HSI_EINVAL;
	}
	hsi_year_label(m, pe.year, label, sizeof(label));
	if (strcmp(label, period) != 0) {
		snprintf(out->detail, sizeof(out->detail),
		    "methodology %d has %s index years: ask for period=%s, "
		    "not %s",
		    m->version, m->fiscal_index ? "fiscal" : "calendar", label,
		    period);
		return HSI_ENOENT;
	}
	*year = pe.year;
	return 0;
}

static void
no_scores(const hsi_iload_req *req, const hsi_method *m, hsi_iload *out)
{
	snprintf(out->detail, sizeof(out->detail),
	    "there are no scores for period %s under methodology %d%s%s",
	    req->period, m->version, req->as_of ? " as of " : "",
	    req->as_of ? req->as_of : "");
}

/* The areas of the snapshot, in code order (byte order, as the binary
 * search in index_snap.c compares). */
static int
load_areas(PGconn *db, const job *j, PGresult **out)
{
	char lv[80];
	levels_array(j->levels, lv, sizeof(lv));
	const char *p[2] = { lv, j->req->area };
	return query(db, "index areas",
	    "SELECT code, level, parent, name_th, name_en FROM area "
	    "WHERE level = ANY($1::text[]) OR code = $2 "
	    "ORDER BY code COLLATE \"C\"",
	    2, p, out);
}

/* Names for the nodes the methodology leaves unnamed: the catalog's
 * indicators and dimensions. */
static int
name_nodes(PGconn *db, const hsi_method *m, hsi_isnap_builder *b)
{
	PGresult *r;
	int       rv = query(db, "index node names",
	          "SELECT code, name_th, name_en, false FROM indicator UNION ALL "
	                "SELECT code, name_th, name_en, true FROM dimension",
	          0, NULL, &r);
	for (int k = 0; rv == 0 && k < PQntuples(r); k++) {
		int is_group = PQgetvalue(r, k, 3)[0] == 't';
		for (size_t i = 0; i < m->n_nodes; i++) {
			if (m->nodes[i].is_group == is_group
			    && strcmp(m->nodes[i].code, PQgetvalue(r, k, 0))
			        == 0) {
				hsi_isnap_name_node(b, i, PQgetvalue(r, k, 1),
				    PQgetvalue(r, k, 2));
			}
		}
	}
	PQclear(r);
	return rv;
}

/* Begins a snapshot of the areas in r, named. */
static int
begin(PGconn *db, const job *j, const hsi_method *m, PGresult *areas,
    hsi_isnap_builder *b)
{
	int rv = hsi_isnap_begin(
	    b, m, (size_t) PQntuples(areas), j->req->period, j->req->as_of);
	for (int a = 0; rv == 0 && a < PQntuples(areas); a++) {
		hsi_isnap_set_area(b, (size_t) a, PQgetvalue(areas, a, 0),
		    PQgetvalue(areas, a, 1),
		    PQgetisnull(areas, a, 2) ? NULL : PQgetvalue(areas, a, 2),
		    PQgetvalue(areas, a, 3), PQgetvalue(areas, a, 4));
	}
	return rv == 0 ? name_nodes(db, m, b) : rv;
}

/* Row index of code in the sorted areas, or -1. */
static int
area_row(PGresult *areas, const char *code)
{
	int lo = 0, hi = PQntuples(areas);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int cmp = strcmp(PQgetvalue(areas, mid, 0), code);
		if (cmp == 0) {
			return mid;
		}
		if (cmp < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

/* ---- current: score_area -------------------------------------------------
 */

enum {
	S_AREA,
	S_SEQ,
	S_LEN,
	S_ORD,
	S_V,
	S_RAW,
	S_COV,
	S_RANK,
	S_BAND,
	S_D,
	S_RD,
	S_CT,
	S_IMP
};

static const char sql_cells[]
    = "SELECT s.area, s.event_seq, array_length(s.value, 1), u.o, u.v, "
      "u.r, u.c, u.k, u.b, u.d, u.kd, u.ct, u.i "
      "FROM score_area s JOIN area a ON a.code = s.area, "
      "unnest(s.value, s.raw, s.coverage, s.rank, s.band, s.delta, "
      "s.rank_delta, s.contribution, s.imputed) WITH ORDINALITY "
      "AS u(v, r, c, k, b, d, kd, ct, i, o) "
      "WHERE s.methodology = $1::int AND s.period = $2 "
      "AND (a.level = ANY($3::text[]) OR s.area = $4)";

static void
stored_cell(hsi_isnap_builder *b, PGresult *r, int k, hsi_isnap_cell *cell)
{
	cell->value        = hsi_iload_num(r, k, S_V);
	cell->raw          = hsi_iload_num(r, k, S_RAW);
	cell->coverage     = hsi_iload_num(r, k, S_COV);
	cell->delta        = hsi_iload_num(r, k, S_D);
	cell->contribution = hsi_iload_num(r, k, S_CT);
	cell->rank
	    = PQgetisnull(r, k, S_RANK) ? 0 : atoi(PQgetvalue(r, k, S_RANK));
	cell->rank_delta = PQgetisnull(r, k, S_RD)
	    ? HSI_ISNAP_NO_RANK_DELTA
	    : atoi(PQgetvalue(r, k, S_RD));
	cell->band       = (int8_t) (PQgetisnull(r, k, S_BAND)
	              ? -1
	              : hsi_isnap_band_index(b, PQgetvalue(r, k, S_BAND)));
	cell->imputed    = (int8_t) (PQgetisnull(r, k, S_IMP)
	           ? -1
	           : PQgetvalue(r, k, S_IMP)[0] == 't');
}

/* The highest event sequence of (p[0] methodology, p[1] period), or
 * HSI_ENOENT when the period has no results. */
static int
period_seq(PGconn *db, const char *const *p, uint64_t *seq)
{
	PGresult *r;
	int       rv = query(db, "index period seq",
	          "SELECT max(event_seq) FROM score_area "
	                "WHERE methodology = $1::int AND period = $2",
	          2, p, &r);
	if (rv != 0) {
		return rv;
	}
	rv = PQgetisnull(r, 0, 0) ? HSI_ENOENT : 0;
	if (rv == 0) {
		*seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	return rv;
}

/* Fills b's cells from the stored rows; *seq gets the highest event
 * sequence. HSI_ENOENT when the period has no results (areas without
 * any keep null cells). */
static int
stored_cells(PGconn *db, const job *j, const hsi_method *m, PGresult *areas,
    hsi_isnap_builder *b, uint64_t *seq)
{
	char mv[16], lv[80];
	snprintf(mv, sizeof(mv), "%d", m->version);
	levels_array(j->levels, lv, sizeof(lv));
	const char *p[4] = { mv, j->req->period, lv, j->req->area };
	PGresult   *r;
	int         rv = query(db, "index cells", sql_cells, 4, p, &r);
	if (rv != 0) {
		return rv;
	}
	*seq = 0;
	if (PQntuples(r) == 0) {
		/* None of these areas: does the period have results? */
		PQclear(r);
		return period_seq(db, p, seq);
	}
	for (int k = 0; rv == 0 && k < PQntuples(r); k++) {
		int  a   = area_row(areas, PQgetvalue(r, k, S_AREA));
		long ord = atol(PQgetvalue(r, k, S_ORD));
		if (atol(PQgetvalue(r, k, S_LEN)) != (long) m->n_nodes
		    || ord < 1 || ord > (long) m->n_nodes) {
			hsi_log_error("index: score arrays do not match the "
			              "methodology",
			    "{s:i, s:s}", "methodology", m->version, "period",
			    j->req->period);
			rv = HSI_ESTATE;
			break;
		}
		if (a >= 0) {
			stored_cell(b, r, k,
			    hsi_isnap_cell_mut(
			        b, (size_t) a, (size_t) ord - 1));
		}
		uint64_t s = strtoull(PQgetvalue(r, k, S_SEQ), NULL, 10);
		*seq       = s > *seq ? s : *seq;
	}
	PQclear(r);
	return rv;
}

static int
load_stored(PGconn *db, void *arg)
{
	job              *j     = arg;
	hsi_iload        *out   = j->out;
	hsi_method       *m     = NULL;
	PGresult         *areas = NULL;
	hsi_isnap_builder b;
	uint64_t          seq;
	int               year, rv;
	memset(&b, 0, sizeof(b));
	free(out->snap); /* a second run, after a reconnect */
	out->snap = NULL;
	if ((rv = load_method(db, j->req->version, NULL, NULL, &m, out->detail,
	         sizeof(out->detail)))
	        != 0
	    || (rv = index_year(m, j->req->period, &year, out)) != 0
	    || (rv = load_areas(db, j, &areas)) != 0
	    || (rv = begin(db, j, m, areas, &b)) != 0) {
		goto out;
	}
	rv = stored_cells(db, j, m, areas, &b, &seq);
	if (rv == HSI_ENOENT) {
		no_scores(j->req, m, out);
	}
	if (rv == 0
	    && (rv = hsi_isnap_finish(&b, seq, &out->snap, &out->len)) == 0) {
		snprintf(out->etag, sizeof(out->etag), "\"m%d-s%llu\"",
		    m->version, (unsigned long long) seq);
	}
out:
	hsi_isnap_abort(&b);
	PQclear(areas);
	hsi_method_free(m);
	return rv;
}

/* ---- as of a date: the engine ---------------------------------------------
 */

typedef struct {
	hsi_catalog  *cat;
	hsi_method   *m;
	hsi_areas     ar;
	hsi_pobs     *obs;
	size_t        n_obs;
	hsi_col_rule *rules;
	hsi_panel     p;
	hsi_result    r;
} engine_run;

static void
engine_fini(engine_run *e)
{
	hsi_result_fini(&e->r);
	hsi_panel_fini(&e->p);
	free(e->rules);
	free(e->obs);
	hsi_areas_fini(&e->ar);
	hsi_method_free(e->m);
	hsi_catalog_free(e->cat);
	memset(e, 0, sizeof(*e));
}

/* Everything hsictl score --db-url --as-of --period does before its
 * output, for year. */
static int
compute(PGconn *db, const job *j, int year, engine_run *e, hsi_iload *out)
{
	char              err[512];
	int               first, last, rv;
	const hsi_method *m = e->m;
	if ((rv = hsi_scoredb_areas(
	         db, m->rank_level, &e->ar, err, sizeof(err)))
	    != 0) {
		hsi_log_error("index: areas", "{s:s}", "error", err);
		return rv == HSI_EDB ? db_failed(db) : rv;
	}
	if ((rv = hsi_scoredb_years(db, m, &first, &last)) != 0 || year < first
	    || year > last) {
		if (rv == HSI_EDB) {
			return db_failed(db);
		}
		no_scores(j->req, m, out);
		return HSI_ENOENT;
	}
	if (!m->uses_panel) {
		int from = year - 1 - m->max_carry;
		first    = from > first ? from : first;
		last     = year;
	}
	if ((rv = hsi_scoredb_load(db, m, &e->ar, first, last, j->req->as_of,
	         &e->obs, &e->n_obs))
	    != 0) {
		return rv == HSI_EDB ? db_failed(db) : rv;
	}
	e->rules = malloc((m->n_leaves + 1) * sizeof(hsi_col_rule));
	if (e->rules == NULL) {
		return HSI_ENOMEM;
	}
	hsi_col_rules(m, e->cat, e->rules);
	if ((rv = hsi_panel_build(&e->ar, m->n_leaves, e->rules, e->obs,
	         e->n_obs, first, last, &e->p))
	        != 0
	    || (rv = hsi_result_init(&e->r, m, &e->p, 1)) != 0
	    || (rv = hsi_engine_run(m, &e->ar, &e->p, &e->r)) != 0) {
		return rv;
	}
	size_t y = (size_t) (year - e->p.first_year);
	if (year < e->p.first_year || y >= e->p.n_years
	    || !e->p.year_present[y]) {
		no_scores(j->req, m, out);
		return HSI_ENOENT;
	}
	return 0;
}

/* Area ea's results of year index y into snapshot area a. */
static void
computed_cells(
    const engine_run *e, size_t y, size_t ea, size_t a, hsi_isnap_builder *b)
{
	const hsi_method *m = e->m;
	const hsi_result *r = &e->r;
	size_t            N = m->n_nodes, G = m->n_groups;
	size_t            ya = y * e->p.n_areas + ea;
	for (size_t i = 0; i < N; i++) {
		const hsi_mnode *n    = &m->nodes[i];
		hsi_isnap_cell  *cell = hsi_isnap_cell_mut(b, a, i);
		cell->value           = r->score[ya * N + i];
		cell->coverage        = hsi_result_coverage(r, m, ya, i);
		cell->delta           = hsi_result_delta(r, y, ea, i);
		cell->contribution = r->contrib ? r->contrib[ya * N + i] : NAN;
		if (!n->is_group) {
			cell->raw
			    = hsi_result_raw(r, &e->p, ya, (size_t) n->col);
			cell->imputed = (int8_t) hsi_result_imputed(
			    r, ya, (size_t) n->col);
			continue;
		}
		size_t          g  = ya * G + (size_t) n->group_ord;
		const hsi_band *bd = isnan(cell->value)
		    ? NULL
		    : hsi_method_band(m, hsi_round(cell->value, m->decimals));
		cell->rank         = r->rank[g];
		cell->rank_delta
		    = r->rank_change && r->rank_change[g] != HSI_NO_RANK_CHANGE
		    ? r->rank_change[g]
		    : HSI_ISNAP_NO_RANK_DELTA;
		cell->band = (int8_t) (bd ? bd - m->bands : -1);
	}
}

/* The latest score event of the period under m recorded by as_of: what
 * the scorer had announced then (0: nothing yet). */
static int
as_of_seq(PGconn *db, const job *j, int version, uint64_t *seq)
{
	char mv[16];
	snprintf(mv, sizeof(mv), "%d", version);
	const char *p[3] = { mv, j->req->period, j->req->as_of };
	PGresult   *r;
	int         rv = query(db, "index as_of seq",
	            "SELECT coalesce(max(seq), 0) FROM score_event WHERE "
	                    "methodology = $1::int AND period = $2 AND created_at <= "
	                    "$3::timestamptz",
	            3, p, &r);
	if (rv == 0) {
		*seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	return rv;
}

static int
load_as_of(PGconn *db, void *arg)
{
	job              *j     = arg;
	hsi_iload        *out   = j->out;
	PGresult         *areas = NULL;
	hsi_isnap_builder b;
	engine_run        e;
	uint64_t          seq = 0;
	int               year, rv;
	memset(&b, 0, sizeof(b));
	memset(&e, 0, sizeof(e));
	free(out->snap);
	out->snap = NULL;
	/* The catalog first: it gives the roll-up rules, and fills what a
	 * stored methodology leaves out, as in hsictl. An empty catalog is
	 * no catalog (the built-in rules). */
	char err[512];
	rv = hsi_catalog_load_db(db, &e.cat, err, sizeof(err));
	if (rv == HSI_EDB) {
		rv = db_failed(db);
		goto out;
	}
	if ((rv = load_method(db, j->req->version, j->req->as_of, e.cat, &e.m,
	         out->detail, sizeof(out->detail)))
	        != 0
	    || (rv = index_year(e.m, j->req->period, &year, out)) != 0
	    || (rv = compute(db, j, year, &e, out)) != 0
	    || (rv = as_of_seq(db, j, e.m->version, &seq)) != 0
	    || (rv = load_areas(db, j, &areas)) != 0
	    || (rv = begin(db, j, e.m, areas, &b)) != 0) {
		goto out;
	}
	size_t y = (size_t) (year - e.p.first_year);
	for (int a = 0; a < PQntuples(areas); a++) {
		int ea = hsi_areas_find(&e.ar, PQgetvalue(areas, a, 0));
		if (ea >= 0) {
			computed_cells(&e, y, (size_t) ea, (size_t) a, &b);
		}
	}
	rv = hsi_isnap_finish(&b, seq, &out->snap, &out->len);
out:
	hsi_isnap_abort(&b);
	PQclear(areas);
	engine_fini(&e);
	return rv;
}

/* ---- the cache -----------------------------------------------------------
 */

static int
cached_snapshot(hsi_cache *cache, const hsi_iload_req *req, hsi_iload *out)
{
	char  *blob;
	size_t len;
	if (hsi_cache_get(
	        cache, req->period, req->version, &blob, &len, out->etag)
	    != 0) {
		return HSI_ENOENT;
	}
	if (!hsi_isnap_valid(blob, len)) {
		free(blob); /* not ours: another module's entry */
		return HSI_ENOENT;
	}
	out->snap = (hsi_isnap *) blob;
	out->len  = len;
	return 0;
}

int
hsi_iload_get(hsi_call *c, const hsi_iload_req *req, hsi_iload *out)
{
	hsi_cache *cache   = hsi_call_server(c)->cache;
	int        current = req->as_of == NULL;
	int        cached  = current && req->area == NULL
	    && (req->levels & ~HSI_ILEVEL_INDEX) == 0;
	job j = { req, out, cached ? HSI_ILEVEL_INDEX : req->levels };
	memset(out, 0, sizeof(*out));
	out->gen = hsi_cache_generation(cache);
	if (cached && cached_snapshot(cache, req, out) == 0) {
		return 0;
	}
	int rv = hsi_call_run(c, current ? load_stored : load_as_of, &j);
	if (rv != 0) {
		free(out->snap);
		out->snap = NULL;
		return rv;
	}
	if (cached) {
		hsi_cache_put(cache, out->gen, req->period, req->version,
		    (const char *) out->snap, out->len, out->etag);
	}
	return 0;
}

int
hsi_iload_body_get(hsi_call *c, const char *period, int version, char **body,
    size_t *len, char *etag)
{
	hsi_cache *cache = hsi_call_server(c)->cache;
	if (hsi_cache_get(cache, period, body_key(version), body, len, etag)
	    != 0) {
		return HSI_ENOENT;
	}
	if (*len == 0 || (*body)[0] != '{') {
		free(*body);
		return HSI_ENOENT;
	}
	return 0;
}

void
hsi_iload_body_put(hsi_call *c, uint64_t gen, const char *period, int version,
    const char *body, size_t len, const char *etag)
{
	hsi_cache_put(hsi_call_server(c)->cache, gen, period,
	    body_key(version), body, len, etag);
}
