/*
 * scoredb.c: the index over PostgreSQL (see scoredb.h).
 *
 * Scores are written with binary COPY: a sub-district period is ~350,000
 * rows, and formatting doubles as text would cost more than the whole
 * computation.
 */
#include "scoredb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"

int
hsi_scoredb_areas(PGconn *db, const char *rank_level, hsi_areas *ar, char *err,
    size_t err_size)
{
	memset(ar, 0, sizeof(*ar));
	PGresult *r = hsi_db_query(db, "load areas",
	    "SELECT a.code, coalesce(a.parent, ''), a.level, "
	    "(SELECT population FROM area_population p WHERE p.area = a.code "
	    " ORDER BY year DESC LIMIT 1) FROM area a",
	    0, NULL);
	if (r == NULL) {
		snprintf(err, err_size, "cannot read the area table");
		return HSI_EDB;
	}
	int rv = 0;
	for (int i = 0; rv == 0 && i < PQntuples(r); i++) {
		double pop
		    = PQgetisnull(r, i, 3) ? NAN : atof(PQgetvalue(r, i, 3));
		rv = hsi_areas_add(ar, PQgetvalue(r, i, 0),
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), pop);
	}
	PQclear(r);
	if (rv == 0) {
		rv = hsi_areas_link(ar, rank_level, err, err_size);
	} else {
		snprintf(err, err_size, "area table: %s", hsi_strerror(rv));
	}
	return rv;
}

int
hsi_scoredb_method(PGconn *db, int version, const char *as_of,
    const hsi_catalog *cat, hsi_method **out, char *err, size_t err_size)
{
	char        vs[16];
	const char *p[1];
	PGresult   *r;
	snprintf(vs, sizeof(vs), "%d", version);
	if (version > 0) {
		p[0] = vs;
		r    = hsi_db_query(db, "load methodology",
		       "SELECT version, doc FROM methodology WHERE version = $1",
		       1, p);
	} else {
		p[0] = as_of;
		r    = hsi_db_query(db, "load active methodology",
		       "SELECT m.version, m.doc FROM methodology_activation a "
		          "JOIN methodology m USING (version) "
		          "WHERE a.activated_at <= coalesce($1::timestamptz, now()) "
		          "ORDER BY a.activated_at DESC, a.id DESC LIMIT 1",
		       1, p);
	}
	if (r == NULL) {
		snprintf(err, err_size, "cannot read the methodology table");
		return HSI_EDB;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, err_size,
		    version > 0 ? "methodology version %s does not exist"
		                : "no methodology was active then",
		    vs);
		return HSI_ENOENT;
	}
	const char *doc = PQgetvalue(r, 0, 1);
	char        e[400];
	int rv = hsi_method_parse(doc, strlen(doc), cat, out, e, sizeof(e));
	if (rv == 0) {
		(*out)->version = atoi(PQgetvalue(r, 0, 0));
	} else {
		snprintf(err, err_size, "stored methodology %s: %s",
		    PQgetvalue(r, 0, 0), e);
	}
	PQclear(r);
	return rv;
}

int
hsi_scoredb_method_add(
    PGconn *db, const hsi_method *m, const char *who, int *version)
{
	json_t *j   = hsi_method_to_json(m);
	char   *doc = j
	      ? json_dumps(j,
	          JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
	      : NULL;
	json_decref(j);
	if (doc == NULL) {
		return HSI_ENOMEM;
	}
	const char *p[3] = { m->name, doc, who };
	PGresult   *r    = hsi_db_query(db, "store methodology",
	         "INSERT INTO methodology(name, doc, created_by) "
	              "VALUES ($1, $2, $3) RETURNING version",
	         3, p);
	free(doc);
	if (r == NULL) {
		return HSI_EDB;
	}
	*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int
hsi_scoredb_method_activate(PGconn *db, int version, const char *who)
{
	char vs[16];
	snprintf(vs, sizeof(vs), "%d", version);
	const char *p[2] = { vs, who };
	PGresult   *r    = hsi_db_query(db, "activate methodology",
	         "WITH m AS (UPDATE methodology SET activated_at = now(), "
	              "activated_by = $2 WHERE version = $1 RETURNING version), "
	              "a AS (INSERT INTO methodology_activation(version, "
	              "activated_by) SELECT version, $2 FROM m RETURNING version), "
	              "l AS (INSERT INTO audit_log(actor, action, target) "
	              "SELECT $2, 'methodology.activate', version::text FROM a) "
	              "SELECT count(*) FROM m",
	         2, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n == 1 ? 0 : HSI_ENOENT;
}

int
hsi_scoredb_years(PGconn *db, const hsi_method *m, int *first, int *last)
{
	PGresult *r = hsi_db_query(db, "year span",
	    m->fiscal_index ? "SELECT min(fyear), max(fyear) FROM observation"
	                    : "SELECT min(year), max(year) FROM observation",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	int rv = PQgetisnull(r, 0, 0) ? HSI_ENOENT : 0;
	if (rv == 0) {
		*first = atoi(PQgetvalue(r, 0, 0));
		*last  = atoi(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return rv;
}

/* A float8 in PostgreSQL's binary format (big-endian IEEE 754). */
static double
be_double(const char *p)
{
	const unsigned char *b = (const unsigned char *) p;
	uint64_t             u = 0;
	for (int i = 0; i < 8; i++) {
		u = (u << 8) | b[i];
	}
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

int
hsi_scoredb_load(PGconn *db, const hsi_method *m, const hsi_areas *ar,
    int first, int last, const char *as_of, hsi_pobs **obs, size_t *n_obs)
{
	char f[16], l[16];
	snprintf(f, sizeof(f), "%d", first);
	snprintf(l, sizeof(l), "%d", last);
	const char *p[3] = { f, l, as_of };
	const char *col  = m->fiscal_index ? "fyear" : "year";
	char        sql[512];
	if (as_of == NULL) {
		snprintf(sql, sizeof(sql),
		    "SELECT indicator, area, period, value FROM observation "
		    "WHERE %s BETWEEN $1 AND $2 AND value IS NOT NULL",
		    col);
	} else {
		/* The latest revision at as_of; a withdrawn value ('M') is
		 * the latest too, and has no value. */
		snprintf(sql, sizeof(sql),
		    "SELECT indicator, area, period, value FROM (SELECT "
		    "DISTINCT ON (indicator, area, period) indicator, area, "
		    "period, value FROM observation_revision WHERE %s BETWEEN "
		    "$1 AND $2 AND recorded_at <= $3::timestamptz ORDER BY "
		    "indicator, area, period, recorded_at DESC, id DESC) v "
		    "WHERE value IS NOT NULL",
		    col);
	}
	/* Binary results: the values arrive as IEEE doubles, no strtod;
	 * text columns are the same bytes, NUL-terminated by libpq. */
	PGresult *r
	    = PQexecParams(db, sql, as_of ? 3 : 2, NULL, p, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		hsi_log_error("load observations failed", "{s:s}", "error",
		    PQresultErrorMessage(r));
		PQclear(r);
		return HSI_EDB;
	}
	size_t    n = (size_t) PQntuples(r), k = 0;
	hsi_pobs *o = malloc((n + 1) * sizeof(*o));
	if (o == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int leaf       = hsi_method_col(m, PQgetvalue(r, (int) i, 0));
		int a          = hsi_areas_find(ar, PQgetvalue(r, (int) i, 1));
		const char *ps = PQgetvalue(r, (int) i, 2);
		hsi_period  pe;
		if (leaf < 0 || a < 0
		    || hsi_period_parse(ps, strlen(ps), &pe, NULL) != 0) {
			continue;
		}
		o[k].area  = a;
		o[k].col   = leaf;
		o[k].year  = hsi_obs_year(m, &pe);
		o[k].order = hsi_obs_order(&pe);
		o[k].value = be_double(PQgetvalue(r, (int) i, 3));
		k++;
	}
	PQclear(r);
	*obs   = o;
	*n_obs = k;
	return 0;
}

/* ---- binary COPY ---------------------------------------------------------
 */

typedef struct {
	PGconn *db;
	char   *buf;
	size_t  len, cap;
	int     failed;
} copy_buf;

static void
flush(copy_buf *b)
{
	if (b->len > 0 && !b->failed
	    && PQputCopyData(b->db, b->buf, (int) b->len) != 1) {
		b->failed = 1;
	}
	b->len = 0;
}

static void
put(copy_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		flush(b);
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void
put_u16(copy_buf *b, uint16_t v)
{
	unsigned char x[2] = { (unsigned char) (v >> 8), (unsigned char) v };
	put(b, x, 2);
}

static void
put_u32(copy_buf *b, uint32_t v)
{
	unsigned char x[4]
	    = { (unsigned char) (v >> 24), (unsigned char) (v >> 16),
		      (unsigned char) (v >> 8), (unsigned char) v };
	put(b, x, 4);
}

static void
put_u64(copy_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t) (v >> 32));
	put_u32(b, (uint32_t) v);
}

static void
put_null(copy_buf *b)
{
	put_u32(b, 0xFFFFFFFFu);
}

static void
put_int4(copy_buf *b, int v)
{
	put_u32(b, 4);
	put_u32(b, (uint32_t) v);
}

static void
put_int8(copy_buf *b, long long v)
{
	put_u32(b, 8);
	put_u64(b, (uint64_t) v);
}

static void
put_text(copy_buf *b, const char *s)
{
	size_t n = strlen(s);
	put_u32(b, (uint32_t) n);
	put(b, s, n);
}

static void
put_f8(copy_buf *b, double v)
{
	if (isnan(v)) {
		put_null(b);
		return;
	}
	uint64_t u;
	memcpy(&u, &v, 8);
	put_u32(b, 8);
	put_u64(b, u);
}

static void
put_bool(copy_buf *b, int v)
{
	unsigned char x = v ? 1 : 0;
	put_u32(b, 1);
	put(b, &x, 1);
}

/*
 * A one-dimensional binary array of n elements of type oid: the header
 * (ndim, has-nulls, element type, length, lower bound 1), then per
 * element a length (-1 for NULL) and the value. Elements are written by
 * the caller with the put_* functions above.
 */
enum { OID_BOOL = 16, OID_INT4 = 23, OID_TEXT = 25, OID_FLOAT8 = 701 };

static void
put_array_header(
    copy_buf *b, uint32_t oid, size_t n, size_t elems_bytes, int has_null)
{
	put_u32(b, (uint32_t) (20 + elems_bytes));
	put_u32(b, 1);
	put_u32(b, has_null ? 1 : 0);
	put_u32(b, oid);
	put_u32(b, (uint32_t) n);
	put_u32(b, 1);
}

/* A float8[] of n values at v[0], v[stride], ... (NaN = NULL). */
static void
put_f8_array(copy_buf *b, const double *v, size_t n, size_t stride)
{
	size_t bytes = 0;
	int    nulls = 0;
	for (size_t i = 0; i < n; i++) {
		int null = isnan(v[i * stride]);
		bytes += null ? 4 : 12;
		nulls |= null;
	}
	put_array_header(b, OID_FLOAT8, n, bytes, nulls);
	for (size_t i = 0; i < n; i++) {
		put_f8(b, v[i * stride]);
	}
}

/* An int4[] of v[0..n), the elements equal to none as NULL. */
static void
put_i4_array(copy_buf *b, const int *v, size_t n, int none)
{
	size_t bytes = 0;
	int    nulls = 0;
	for (size_t i = 0; i < n; i++) {
		bytes += v[i] == none ? 4 : 8;
		nulls |= v[i] == none;
	}
	put_array_header(b, OID_INT4, n, bytes, nulls);
	for (size_t i = 0; i < n; i++) {
		if (v[i] == none) {
			put_null(b);
		} else {
			put_int4(b, v[i]);
		}
	}
}

/* One area's row of score_area. */
static void
put_area_row(copy_buf *b, const hsi_method *m, const hsi_areas *ar,
    const hsi_panel *p, const hsi_result *r, size_t yi, size_t a,
    const char *period, long long seq, double *tmp, int *itmp,
    const char **stmp)
{
	size_t N = m->n_nodes, G = m->n_groups, ya = yi * p->n_areas + a;
	size_t bytes;
	int    nulls;
	put_u16(b, 13);
	put_int4(b, m->version);
	put_text(b, period);
	put_text(b, ar->code[a]);
	put_f8_array(b, &r->score[ya * N], N, 1);
	for (size_t i = 0; i < N; i++) {
		const hsi_mnode *n = &m->nodes[i];
		tmp[i]             = n->is_group
		                ? NAN
		                : hsi_result_raw(r, p, ya, (size_t) n->col);
	}
	put_f8_array(b, tmp, N, 1);
	for (size_t i = 0; i < N; i++) {
		tmp[i] = hsi_result_coverage(r, m, ya, i);
	}
	put_f8_array(b, tmp, N, 1);
	/* rank: groups only (ranks start at 1; 0 = none) */
	for (size_t i = 0; i < N; i++) {
		const hsi_mnode *n = &m->nodes[i];
		itmp[i] = n->is_group ? r->rank[ya * G + (size_t) n->group_ord]
		                      : 0;
	}
	put_i4_array(b, itmp, N, 0);
	/* band: groups with a score */
	bytes = 0;
	nulls = 0;
	for (size_t i = 0; i < N; i++) {
		double          v  = r->score[ya * N + i];
		const hsi_band *bd = m->nodes[i].is_group && !isnan(v)
		    ? hsi_method_band(m, hsi_round(v, m->decimals))
		    : NULL;
		stmp[i]            = bd ? bd->code : NULL;
		bytes += bd ? 4 + strlen(bd->code) : 4;
		nulls |= bd == NULL;
	}
	put_array_header(b, OID_TEXT, N, bytes, nulls);
	for (size_t i = 0; i < N; i++) {
		if (stmp[i]) {
			put_text(b, stmp[i]);
		} else {
			put_null(b);
		}
	}
	for (size_t i = 0; i < N; i++) {
		tmp[i] = hsi_result_delta(r, yi, a, i);
	}
	put_f8_array(b, tmp, N, 1);
	/* rank change: groups, where both ranks exist */
	for (size_t i = 0; i < N; i++) {
		const hsi_mnode *n = &m->nodes[i];
		itmp[i]            = n->is_group && r->rank_change
		               ? r->rank_change[ya * G + (size_t) n->group_ord]
		               : HSI_NO_RANK_CHANGE;
	}
	put_i4_array(b, itmp, N, HSI_NO_RANK_CHANGE);
	if (r->contrib) {
		put_f8_array(b, &r->contrib[ya * N], N, 1);
	} else {
		for (size_t i = 0; i < N; i++) {
			tmp[i] = NAN;
		}
		put_f8_array(b, tmp, N, 1);
	}
	/* imputed: indicators only */
	bytes = 0;
	nulls = 0;
	for (size_t i = 0; i < N; i++) {
		const hsi_mnode *n = &m->nodes[i];
		itmp[i]            = n->is_group
		               ? -1
		               : hsi_result_imputed(r, ya, (size_t) n->col);
		bytes += itmp[i] < 0 ? 4 : 5;
		nulls |= itmp[i] < 0;
	}
	put_array_header(b, OID_BOOL, N, bytes, nulls);
	for (size_t i = 0; i < N; i++) {
		if (itmp[i] < 0) {
			put_null(b);
		} else {
			put_bool(b, itmp[i]);
		}
	}
	put_int8(b, seq);
}

static int
copy_scores(PGconn *db, const hsi_method *m, const hsi_areas *ar,
    const hsi_panel *p, const hsi_result *r, size_t yi, const char *period,
    long long seq)
{
	PGresult *res = PQexec(db,
	    "COPY score_area(methodology, period, area, value, raw, coverage, "
	    "rank, band, delta, rank_delta, contribution, imputed, event_seq) "
	    "FROM STDIN (FORMAT binary)");
	int       rv  = PQresultStatus(res) == PGRES_COPY_IN ? 0 : HSI_EDB;
	PQclear(res);
	if (rv != 0) {
		return rv;
	}
	size_t       N    = m->n_nodes;
	copy_buf     b    = { db, malloc(1 << 18), 0, 1 << 18, 0 };
	double      *tmp  = malloc((N + 1) * sizeof(double));
	int         *itmp = malloc((N + 1) * sizeof(int));
	const char **stmp = malloc((N + 1) * sizeof(char *));
	if (b.buf == NULL || !tmp || !itmp || !stmp) {
		free(b.buf);
		free(tmp);
		free(itmp);
		free(stmp);
		PQputCopyEnd(db, "out of memory");
		while ((res = PQgetResult(db)) != NULL) {
			PQclear(res);
		}
		return HSI_ENOMEM;
	}
	static const char sig[] = "PGCOPY\n\377\r\n";
	put(&b, sig, 11);
	put_u32(&b, 0);
	put_u32(&b, 0);
	for (size_t a = 0; a < p->n_areas; a++) {
		put_area_row(
		    &b, m, ar, p, r, yi, a, period, seq, tmp, itmp, stmp);
	}
	put_u16(&b, 0xFFFF);
	flush(&b);
	free(b.buf);
	free(tmp);
	free(itmp);
	free(stmp);
	if (PQputCopyEnd(db, b.failed ? "aborted" : NULL) != 1) {
		b.failed = 1;
	}
	while ((res = PQgetResult(db)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !b.failed) {
			hsi_log_error("score copy failed", "{s:s}", "error",
			    PQresultErrorMessage(res));
			b.failed = 1;
		}
		PQclear(res);
	}
	return b.failed ? HSI_EDB : 0;
}

/* The nodes of m in array order, once per methodology. */
static int
store_nodes(PGconn *db, const hsi_method *m, const char *mv)
{
	json_t *codes = json_array(), *levels = json_array();
	for (size_t i = 0; i < m->n_nodes; i++) {
		const hsi_mnode *n = &m->nodes[i];
		json_array_append_new(codes, json_string(n->code));
		json_array_append_new(levels,
		    json_string(i + 1 == m->n_nodes ? "index"
		            : n->is_group           ? "group"
		                                    : "indicator"));
	}
	char *cs = json_dumps(codes, JSON_COMPACT);
	char *ls = json_dumps(levels, JSON_COMPACT);
	json_decref(codes);
	json_decref(levels);
	const char *p[3] = { mv, cs, ls };
	int         rv   = cs && ls
	              ? hsi_db_exec(db, "methodology nodes",
	                  "INSERT INTO methodology_node(methodology, ord, code, level) "
	                            "SELECT $1::int, c.ord, c.code, l.level FROM "
	                            "jsonb_array_elements_text($2::jsonb) WITH ORDINALITY "
	                            "AS c(code, ord) JOIN jsonb_array_elements_text($3::jsonb) "
	                            "WITH ORDINALITY AS l(level, ord) USING (ord) "
	                            "ON CONFLICT DO NOTHING",
	                  3, p)
	              : HSI_ENOMEM;
	free(cs);
	free(ls);
	return rv;
}

int
hsi_scoredb_write(PGconn *db, const hsi_method *m, const hsi_areas *ar,
    const hsi_panel *p, const hsi_result *r, size_t yi, long long *seq_out)
{
	char mv[16], period[HSI_PERIOD_MAX], ss[24];
	snprintf(mv, sizeof(mv), "%d", m->version);
	hsi_year_label(m, p->first_year + (int) yi, period, sizeof(period));
	const char *dp[2] = { mv, period };
	long long   seq   = 0;
	PGresult   *res;
	int         rv = hsi_db_exec(db, "begin", "BEGIN", 0, NULL);
	if (rv == 0) {
		rv = hsi_db_exec(db, "clear scores",
		    "DELETE FROM score_area WHERE methodology = $1 AND period "
		    "= $2",
		    2, dp);
	}
	if (rv == 0
	    && (res = hsi_db_query(
	            db, "next seq", "SELECT nextval('score_seq')", 0, NULL))
	        != NULL) {
		seq = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
	} else {
		rv = HSI_EDB;
	}
	if (rv == 0) {
		rv = store_nodes(db, m, mv);
	}
	if (rv == 0) {
		rv = copy_scores(db, m, ar, p, r, yi, period, seq);
	}
	if (rv == 0) {
		snprintf(ss, sizeof(ss), "%lld", seq);
		const char *ep[3] = { ss, mv, period };
		rv                = hsi_db_exec(db, "score event",
		                   "INSERT INTO score_event(seq, methodology, period, areas) "
		                                  "SELECT $1, $2, $3, array_agg(code ORDER BY code) FROM "
		                                  "area",
		                   3, ep);
	}
	if (rv == 0) {
		rv = hsi_db_exec(db, "commit", "COMMIT", 0, NULL);
	}
	if (rv != 0) {
		PQclear(PQexec(db, "ROLLBACK"));
		return rv;
	}
	*seq_out = seq;
	return 0;
}
