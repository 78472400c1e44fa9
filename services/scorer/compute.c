/*
 * compute.c: scoring one index year from PostgreSQL and publishing it.
 *
 * Steps (docs/methodology.md §2-§6): read the observations of the years
 * needed (scoredb.c), build the panel (panel.c), run the engine
 * (engine.c), replace each rescored year's scores and record a
 * score_event in one transaction, publish the ScoreEvent.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "scoredb.h"
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

/*
 * The active methodology (its stored document), or version 1 made from
 * the catalog defaults and activated. Loads the areas for its rank level.
 * If no score cites it yet, every year with data is marked dirty.
 */
int
hsi_scorer_ensure_method(hsi_scorer *s)
{
	hsi_method *m = NULL;
	char        err[512];
	int         active, rv = hsi_db_active_methodology(s->db, &active);
	if (rv == HSI_EDB) {
		return rv;
	}
	if (rv == 0) {
		rv = hsi_scoredb_method(
		    s->db, active, NULL, s->cat, &m, err, sizeof(err));
		if (rv != 0) {
			hsi_log_error("cannot load the active methodology",
			    "{s:i, s:s}", "version", active, "error", err);
			return rv;
		}
	} else {
		if ((rv = hsi_method_default(s->cat, &m)) != 0
		    || (rv = hsi_scoredb_method_add(
		            s->db, m, "hsi-scorer", &m->version))
		        != 0
		    || (rv = hsi_scoredb_method_activate(
		            s->db, m->version, "hsi-scorer"))
		        != 0) {
			hsi_method_free(m);
			return rv;
		}
	}
	hsi_areas ar;
	if ((rv = hsi_scoredb_areas(
	         s->db, m->rank_level, &ar, err, sizeof(err)))
	    != 0) {
		hsi_log_error("cannot load areas", "{s:s}", "error", err);
		hsi_method_free(m);
		return rv;
	}
	hsi_method_free(s->method);
	hsi_areas_fini(&s->areas);
	s->method = m;
	s->areas  = ar;
	char vs[16];
	snprintf(vs, sizeof(vs), "%d", m->version);
	/*
	 * Years whose data changed after their scores were written (or that
	 * have no scores): the scorer stopped or died between applying a
	 * file and scoring it, or this methodology is new. Observations are
	 * applied and scored by this one thread, one after the other, so the
	 * timestamps cannot interleave.
	 */
	const char *p[2] = { vs, m->fiscal_index ? "FY" : "" };
	PGresult   *r    = hsi_db_query(s->db, "stale years",
            m->fiscal_index
	             ? "SELECT o.y FROM (SELECT fyear AS y, max(updated_at) AS u "
	               "FROM observation GROUP BY fyear) o LEFT JOIN (SELECT "
	               "period, max(computed_at) AS c FROM score_area WHERE "
	               "methodology = $1::int GROUP BY period) s ON s.period = "
	               "$2 || o.y WHERE s.c IS NULL OR s.c < o.u"
	             : "SELECT o.y FROM (SELECT year AS y, max(updated_at) AS u "
	               "FROM observation GROUP BY year) o LEFT JOIN (SELECT "
	               "period, max(computed_at) AS c FROM score_area WHERE "
	               "methodology = $1::int GROUP BY period) s ON s.period = "
	               "$2 || o.y WHERE s.c IS NULL OR s.c < o.u",
	         2, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int stale = PQntuples(r);
	for (int i = 0; i < stale; i++) {
		hsi_scorer_mark_dirty(s, atoi(PQgetvalue(r, i, 0)));
	}
	PQclear(r);
	hsi_log_info("methodology", "{s:i, s:s, s:i}", "version", m->version,
	    "name", m->name, "stale_years", stale);
	return 0;
}

/* A different methodology was activated (hsictl methodology activate). */
int
hsi_scorer_check_method(hsi_scorer *s)
{
	int active;
	int rv = hsi_db_active_methodology(s->db, &active);
	if (rv != 0 || active == s->method->version) {
		return rv == HSI_ENOENT ? 0 : rv;
	}
	return hsi_scorer_ensure_method(s);
}

static void
publish_event(hsi_scorer *s, long long seq, const char *period)
{
	Hsi__ScoreEvent ev     = HSI__SCORE_EVENT__INIT;
	ev.seq                 = (uint64_t) seq;
	ev.methodology_version = (uint32_t) s->method->version;
	/* Every area is rescored; subscribers reload what they show. */
	ev.period           = (char *) period;
	ev.computed_unix_ms = hsi_now_ms();
	char **areas        = calloc(s->areas.n + 1, sizeof(char *));
	if (areas == NULL) {
		return;
	}
	for (size_t a = 0; a < s->areas.n; a++) {
		areas[a] = s->areas.code[a];
	}
	ev.n_changed_areas = s->areas.n;
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

/*
 * Rescores the dirty years and the years that depend on them: the next
 * year (its change), the years a value can be carried forward into, and
 * every year when a leaf normalises over the whole panel (§6).
 */
int
hsi_scorer_compute(hsi_scorer *s, const unsigned char *dirty)
{
	const hsi_method *m = s->method;
	int               first, last;
	int               rv = hsi_scoredb_years(s->db, m, &first, &last);
	if (rv != 0) {
		return rv == HSI_ENOENT ? 0 : rv;
	}
	unsigned char todo[YEAR_SPAN];
	int           lo = INT_MAX, hi = INT_MIN;
	int           reach = m->max_carry > 1 ? m->max_carry : 1;
	memset(todo, 0, sizeof(todo));
	for (int y = first; y <= last; y++) {
		int hit = m->uses_panel;
		for (int k = 0; !hit && k <= reach; k++) {
			int d = y - k;
			hit   = d >= YEAR_MIN && dirty[d - YEAR_MIN];
		}
		if (hit) {
			todo[y - YEAR_MIN] = 1;
			lo                 = y < lo ? y : lo;
			hi                 = y;
		}
	}
	if (hi == INT_MIN) {
		return 0;
	}
	long long t0   = hsi_now_ms();
	int       from = m->uses_panel ? first : lo - 1 - m->max_carry;
	from           = from < first ? first : from;
	hsi_pobs  *obs = NULL;
	size_t     n_obs;
	hsi_panel  p;
	hsi_result res;
	memset(&res, 0, sizeof(res));
	rv = hsi_scoredb_load(
	    s->db, m, &s->areas, from, hi, NULL, &obs, &n_obs);
	if (rv != 0) {
		return rv;
	}
	hsi_col_rule *rules = malloc((m->n_leaves + 1) * sizeof(*rules));
	if (rules == NULL) {
		free(obs);
		return HSI_ENOMEM;
	}
	hsi_col_rules(m, s->cat, rules);
	rv = hsi_panel_build(
	    &s->areas, m->n_leaves, rules, obs, n_obs, from, hi, &p);
	free(obs);
	free(rules);
	if (rv == 0 && (rv = hsi_result_init(&res, m, &p, 1)) == 0) {
		rv = hsi_engine_run(m, &s->areas, &p, &res);
	}
	long long t1 = hsi_now_ms();
	for (int y = lo; rv == 0 && y <= hi; y++) {
		size_t    yi = (size_t) (y - from);
		long long seq;
		char      period[HSI_PERIOD_MAX];
		if (!todo[y - YEAR_MIN] || !p.year_present[yi]) {
			continue;
		}
		hsi_year_label(m, y, period, sizeof(period));
		rv = hsi_scoredb_write(
		    s->db, m, &s->areas, &p, &res, yi, &seq);
		if (rv == 0) {
			publish_event(s, seq, period);
			hsi_log_info("scored", "{s:s, s:I, s:i}", "period",
			    period, "seq", (json_int_t) seq, "methodology",
			    m->version);
		}
	}
	hsi_log_debug("compute", "{s:i, s:i, s:I, s:I}", "from", from, "to",
	    hi, "compute_ms", (json_int_t) (t1 - t0), "total_ms",
	    (json_int_t) (hsi_now_ms() - t0));
	hsi_result_fini(&res);
	hsi_panel_fini(&p);
	return rv;
}
