/*
 * compute.c: scoring one index year from PostgreSQL and publishing it.
 *
 * Steps (docs/methodology.md): read the year's observations; roll
 * sub-annual values up to the year by each indicator's rule; roll province
 * values up to regions and the nation by each indicator's area rule
 * (unless the agency submitted those directly); score every area with the
 * engine; rank provinces; replace the year's scores and record a
 * ScoreEvent in one transaction; publish the event.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "scorer_int.h"

void
hsi_scorer_mark_dirty(hsi_scorer *s, int year)
{
	if (year < YEAR_MIN || year >= YEAR_MIN + YEAR_SPAN
	    || s->dirty[year - YEAR_MIN]) {
		return;
	}
	if (s->n_dirty == 0) {
		s->dirty_since_ms = hsi_now_ms();
	}
	s->dirty[year - YEAR_MIN] = 1;
	s->n_dirty++;
}

/* The active methodology, or version 1 made from the catalog defaults. */
int
hsi_scorer_ensure_method(hsi_scorer *s)
{
	hsi_method *m;
	int         rv = hsi_method_default(s->cat, &m);
	if (rv != 0) {
		return rv;
	}
	int       active;
	PGresult *r;
	rv = hsi_db_active_methodology(s->db, &active);
	if (rv == HSI_EDB) {
		hsi_method_free(m);
		return rv;
	}
	if (rv == 0) {
		m->version = active;
	} else {
		json_t     *j    = hsi_method_to_json(m);
		char       *doc  = json_dumps(j,
		           JSON_COMPACT | JSON_PRESERVE_ORDER
		               | JSON_REAL_PRECISION(17));
		const char *p[2] = { m->name, doc };
		json_decref(j);
		r = hsi_db_query(s->db, "create methodology",
		    "INSERT INTO methodology(name, doc, created_by, "
		    "activated_at, activated_by) VALUES ($1, $2, "
		    "'hsi-scorer', "
		    "now(), 'hsi-scorer') RETURNING version",
		    2, p);
		free(doc);
		if (r == NULL) {
			hsi_method_free(m);
			return HSI_EDB;
		}
		m->version = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	hsi_method_free(s->method);
	s->method = m;
	return 0;
}

typedef struct {
	double sum, last;
	char   last_period[HSI_PERIOD_MAX];
	int    n;
} acc;

/* Index of an area in the catalog (sorted), or -1. */
static int
area_index(const hsi_catalog *c, const char *code)
{
	const hsi_area *a = hsi_catalog_area(c, code);
	return a ? (int) (a - c->areas) : -1;
}

static double
time_rollup(const hsi_indicator *d, const acc *x)
{
	if (x->n == 0 || x->n < d->min_subperiods) {
		return NAN;
	}
	switch (d->rollup_time) {
	case HSI_TIME_MEAN:
		return x->sum / x->n;
	case HSI_TIME_SUM:
		return x->sum;
	case HSI_TIME_LAST:
		return x->last;
	}
	return NAN;
}

/* Whether province k lies below area a (its region, or the nation). */
static int
is_under(const hsi_catalog *c, size_t k, const hsi_area *a)
{
	const hsi_area *p = &c->areas[k];
	for (int depth = 0; depth < 8 && p->parent[0] != '\0'; depth++) {
		if (strcmp(p->parent, a->code) == 0) {
			return 1;
		}
		p = hsi_catalog_area(c, p->parent);
		if (p == NULL) {
			break;
		}
	}
	return 0;
}

/*
 * Fills the rows of regions and the nation that were not submitted
 * directly, from the provinces below them. Always from provinces, never
 * region to nation: a region's weight would be its whole population even
 * when only some of its provinces reported.
 */
static void
area_rollup(const hsi_catalog *c, hsi_panel *p, const unsigned char *direct)
{
	for (size_t a = 0; a < c->n_areas; a++) {
		const hsi_area *ar = &c->areas[a];
		if (ar->level == HSI_LEVEL_PROVINCE) {
			continue;
		}
		for (size_t i = 0; i < c->n_ind; i++) {
			const hsi_indicator *d = &c->ind[i];
			if (direct[a * c->n_ind + i]
			    || d->rollup_area == HSI_ROLLUP_NATIONAL) {
				continue;
			}
			double num = 0, den = 0;
			int    kids = 0, present = 0;
			for (size_t k = 0; k < c->n_areas; k++) {
				if (c->areas[k].level != HSI_LEVEL_PROVINCE
				    || !is_under(c, k, ar)) {
					continue;
				}
				kids++;
				double x = p->value[k * c->n_ind + i];
				if (isnan(x)) {
					continue;
				}
				present++;
				double w = c->areas[k].population;
				num += d->rollup_area == HSI_ROLLUP_SUM
				    ? x
				    : w * x;
				den += w;
			}
			double v = NAN;
			if (d->rollup_area == HSI_ROLLUP_SUM) {
				/* A sum with members missing would understate
				 * the total. */
				v = present == kids && kids > 0 ? num : NAN;
			} else if (den > 0) {
				v = num / den;
			}
			p->value[a * c->n_ind + i] = v;
		}
	}
}

static int
load_panel(hsi_scorer *s, int year, hsi_panel *p, unsigned char *direct)
{
	const hsi_catalog *c = s->cat;
	char               ys[16];
	snprintf(ys, sizeof(ys), "%d", year);
	const char *par[1] = { ys };
	PGresult   *r      = hsi_db_query(s->db, "load year",
            s->method->fiscal_index
	               ? "SELECT indicator, area, period, value FROM observation "
	                 "WHERE fyear = $1 AND value IS NOT NULL"
	               : "SELECT indicator, area, period, value FROM observation "
	                 "WHERE year = $1 AND value IS NOT NULL",
	           1, par);
	if (r == NULL) {
		return HSI_EDB;
	}
	size_t cells = c->n_areas * c->n_ind;
	acc   *ac    = calloc(cells + 1, sizeof(acc));
	if (ac == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const hsi_indicator *d
		    = hsi_catalog_indicator(c, PQgetvalue(r, i, 0));
		int a = area_index(c, PQgetvalue(r, i, 1));
		if (d == NULL || a < 0) {
			continue;
		}
		acc *x = &ac[(size_t) a * c->n_ind + (size_t) (d - c->ind)];
		const char *pe = PQgetvalue(r, i, 2);
		double      v  = atof(PQgetvalue(r, i, 3));
		x->sum += v;
		x->n++;
		/* Canonical periods of one frequency sort as text. */
		if (strcmp(pe, x->last_period) > 0) {
			snprintf(
			    x->last_period, sizeof(x->last_period), "%s", pe);
			x->last = v;
		}
	}
	PQclear(r);
	for (size_t a = 0; a < c->n_areas; a++) {
		for (size_t i = 0; i < c->n_ind; i++) {
			size_t k    = a * c->n_ind + i;
			p->value[k] = time_rollup(&c->ind[i], &ac[k]);
			direct[k]   = ac[k].n > 0
			    && c->areas[a].level != HSI_LEVEL_PROVINCE;
		}
	}
	free(ac);
	area_rollup(c, p, direct);
	return 0;
}

static void
fmt_num(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "\\N");
	} else {
		snprintf(buf, size, "%.17g", v);
	}
}

static int
write_scores(hsi_scorer *s, const char *period, const hsi_panel *p,
    const hsi_result *res, long long *seq_out)
{
	const hsi_method  *m = s->method;
	const hsi_catalog *c = s->cat;
	char               mv[16];
	snprintf(mv, sizeof(mv), "%d", m->version);
	const char *dp[2] = { mv, period };
	PGresult   *r;
	int         rv = hsi_db_exec(s->db, "begin", "BEGIN", 0, NULL);
	if (rv == 0) {
		rv = hsi_db_exec(s->db, "clear scores",
		    "DELETE FROM score WHERE methodology = $1 AND period = $2",
		    2, dp);
	}
	long long seq = 0;
	if (rv == 0
	    && (r = hsi_db_query(
	            s->db, "next seq", "SELECT nextval('score_seq')", 0, NULL))
	        != NULL) {
		seq = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	} else {
		rv = HSI_EDB;
	}
	if (rv == 0) {
		r  = PQexec(s->db,
		     "COPY score(methodology, period, area, level, code, "
		      "value, "
		      "raw, coverage, rank, event_seq) FROM STDIN");
		rv = PQresultStatus(r) == PGRES_COPY_IN ? 0 : HSI_EDB;
		PQclear(r);
	}
	char line[512], v[40], raw[40], cov[40], rank[16];
	for (size_t a = 0; rv == 0 && a < res->n_areas; a++) {
		for (size_t i = 0; rv == 0 && i < m->n_nodes; i++) {
			const hsi_mnode *n     = &m->nodes[i];
			size_t           k     = a * m->n_nodes + i;
			int              root  = i + 1 == m->n_nodes;
			const char      *level = root ? "index"
			         : n->is_group        ? "group"
			                              : "indicator";
			fmt_num(v, sizeof(v), res->score[k]);
			fmt_num(cov, sizeof(cov), res->coverage[k]);
			fmt_num(raw, sizeof(raw),
			    n->is_group
			        ? NAN
			        : p->value[a * p->n_ind + (size_t) n->ind]);
			if (root && res->rank[a] > 0) {
				snprintf(
				    rank, sizeof(rank), "%d", res->rank[a]);
			} else {
				snprintf(rank, sizeof(rank), "\\N");
			}
			int len = snprintf(line, sizeof(line),
			    "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%lld\n",
			    m->version, period, c->areas[a].code, level,
			    n->code, v, raw, cov, rank, seq);
			if (PQputCopyData(s->db, line, len) != 1) {
				rv = HSI_EDB;
			}
		}
	}
	if (PQputCopyEnd(s->db, rv == 0 ? NULL : "aborted") != 1) {
		rv = HSI_EDB;
	}
	while ((r = PQgetResult(s->db)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rv == 0) {
			hsi_log_error("score copy failed", "{s:s}", "error",
			    PQresultErrorMessage(r));
			rv = HSI_EDB;
		}
		PQclear(r);
	}
	if (rv == 0) {
		char ss[24];
		snprintf(ss, sizeof(ss), "%lld", seq);
		const char *ep[3] = { ss, mv, period };
		rv                = hsi_db_exec(s->db, "score event",
		                   "INSERT INTO score_event(seq, methodology, period, areas) "
		                                  "SELECT $1, $2, $3, array_agg(code ORDER BY code) FROM "
		                                  "area "
		                                  "WHERE level IN ('nation', 'region', 'province')",
		                   3, ep);
	}
	if (rv == 0) {
		rv = hsi_db_exec(s->db, "commit", "COMMIT", 0, NULL);
	}
	if (rv != 0) {
		PQclear(PQexec(s->db, "ROLLBACK"));
		return rv;
	}
	*seq_out = seq;
	return 0;
}

static void
publish_event(hsi_scorer *s, long long seq, const char *period)
{
	Hsi__ScoreEvent ev     = HSI__SCORE_EVENT__INIT;
	ev.seq                 = (uint64_t) seq;
	ev.methodology_version = (uint32_t) s->method->version;
	ev.period              = (char *) period;
	ev.computed_unix_ms    = hsi_now_ms();
	char **areas           = calloc(s->cat->n_areas + 1, sizeof(char *));
	if (areas == NULL) {
		return;
	}
	for (size_t a = 0; a < s->cat->n_areas; a++) {
		areas[a] = s->cat->areas[a].code;
	}
	ev.n_changed_areas = s->cat->n_areas;
	ev.changed_areas   = areas;
	size_t   len       = hsi__score_event__get_packed_size(&ev);
	uint8_t *buf       = malloc(len + 1);
	if (buf != NULL) {
		hsi__score_event__pack(&ev, buf);
		Hsi__Envelope env = HSI__ENVELOPE__INIT;
		env.agency        = "central";
		env.node_id       = "scorer";
		env.seq           = (uint64_t) seq;
		env.sent_unix_ms  = hsi_now_ms();
		env.payload_type  = HSI__PAYLOAD_TYPE__SCORE_EVENT;
		env.payload.data  = buf;
		env.payload.len   = len;
		hsi_envelope_publish(s->events, "score", &env, NULL);
	}
	free(buf);
	free(areas);
}

int
hsi_scorer_compute(hsi_scorer *s, int year)
{
	const hsi_catalog *c      = s->cat;
	hsi_panel          p      = { c->n_areas, c->n_ind, NULL };
	unsigned char     *direct = calloc(c->n_areas * c->n_ind + 1, 1);
	unsigned char     *mask   = calloc(c->n_areas + 1, 1);
	hsi_result         res;
	int                rv = HSI_ENOMEM;
	long long          t0 = hsi_now_ms(), seq = 0;
	char               period[HSI_PERIOD_MAX];
	snprintf(period, sizeof(period), "%s%d",
	    s->method->fiscal_index ? "FY" : "", year);
	p.value = malloc((c->n_areas * c->n_ind + 1) * sizeof(double));
	if (!direct || !mask || !p.value
	    || hsi_result_init(&res, c->n_areas, s->method->n_nodes) != 0) {
		goto out;
	}
	if ((rv = load_panel(s, year, &p, direct)) != 0) {
		hsi_result_fini(&res);
		goto out;
	}
	for (size_t a = 0; a < c->n_areas; a++) {
		mask[a] = c->areas[a].level == HSI_LEVEL_PROVINCE;
	}
	hsi_engine_score(s->method, &p, &res);
	hsi_engine_rank(s->method, &res, mask);
	rv = write_scores(s, period, &p, &res, &seq);
	hsi_result_fini(&res);
	if (rv == 0) {
		publish_event(s, seq, period);
		hsi_log_info("scored", "{s:s, s:I, s:i, s:I}", "period",
		    period, "seq", (json_int_t) seq, "methodology",
		    s->method->version, "ms",
		    (json_int_t) (hsi_now_ms() - t0));
	}
out:
	free(direct);
	free(mask);
	free(p.value);
	return rv;
}
