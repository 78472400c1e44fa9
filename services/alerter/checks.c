/*
 * checks.c: the data rules -- late or missing data (late_data), values
 * that look wrong when they arrive (suspicious) and spikes in a daily
 * series (spike). Each reads what it needs in the evaluation's
 * transaction, decides the complete set of alerts that should be firing
 * in its scope and hands it to hsi_eval_reconcile (evalctx.h), so the
 * statistics (detect.h, quality.h) stay pure and the lifecycle is the
 * same for every rule. See docs/alerting.md, "Data rules".
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "detect.h"
#include "error.h"
#include "evalctx.h"
#include "log.h"
#include "method.h"
#include "quality.h"
#include "scoredb.h"
#include "summary.h"

/* Most alerts one rule keeps firing; beyond that the rule is mistuned
 * and the rest is logged, not alerted. */
#define CHECK_MAX_ALERTS 5000

/* Grows an array of wanted alerts. */
typedef struct {
	hsi_alert_want *w;
	size_t          n, cap;
	int             capped; /* CHECK_MAX_ALERTS reached */
} wants;

static hsi_alert_want *
wants_add(wants *ws)
{
	if (ws->n >= CHECK_MAX_ALERTS) {
		ws->capped = 1;
		return NULL;
	}
	if (ws->n == ws->cap) {
		size_t cap = ws->cap ? 2 * ws->cap : 32;
		void  *p   = realloc(ws->w, cap * sizeof(*ws->w));
		if (p == NULL) {
			return NULL;
		}
		ws->w   = p;
		ws->cap = cap;
	}
	hsi_alert_want *w = &ws->w[ws->n++];
	memset(w, 0, sizeof(*w));
	return w;
}

static void
wants_free(wants *ws)
{
	for (size_t i = 0; i < ws->n; i++) {
		json_decref(ws->w[i].labels);
		json_decref(ws->w[i].annotations);
		json_decref(ws->w[i].detail);
	}
	free(ws->w);
}

static int
reconcile(hsi_eval_ctx *c, const hsi_rule *rule, const char *label,
    const char *value, wants *ws)
{
	for (size_t i = 0; i < ws->n; i++) {
		if (ws->w[i].labels == NULL) {
			return HSI_ENOMEM; /* a json_pack failed */
		}
	}
	if (ws->capped) {
		hsi_log_warn("rule keeps only the first alerts: tune it",
		    "{s:s, s:i}", "rule", rule->name, "max", CHECK_MAX_ALERTS);
	}
	return hsi_eval_reconcile(c, rule, label, value, ws->w, ws->n);
}

/* "2025-03-31" of day number d. */
static void
day_text(long d, char *buf, size_t size)
{
	int y, m, dd;
	hsi_civil_from_days(d, &y, &m, &dd);
	snprintf(buf, size, "%04d-%02d-%02d", y, m, dd);
}

/* "31 มี.ค. 2568": Thai readers expect Buddhist-era years. */
static void
day_text_th(long d, char *buf, size_t size)
{
	static const char *const mon[]
	    = { "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.",
		      "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค." };
	int y, m, dd;
	hsi_civil_from_days(d, &y, &m, &dd);
	snprintf(buf, size, "%d %s %d", dd, mon[m - 1], y + 543);
}

/* A period in Buddhist-era years, for Thai texts ("2568Q3"). */
static void
period_th(const char *period, char *buf, size_t size)
{
	hsi_period p;
	if (hsi_period_parse(period, strlen(period), &p, NULL) != 0) {
		hsi_summary_copy(buf, size, period);
		return;
	}
	p.year += 543;
	hsi_period_format(&p, buf, size);
}

/* ---- names ------------------------------------------------------- */

/* Names of indicators and their agencies, sorted by indicator code. */
typedef struct {
	PGresult *r; /* code, name_en, name_th, agency, a.name_en, a.name_th,
	                frequency, dimension */
} names;

static int
names_load(hsi_eval_ctx *c, names *nm)
{
	nm->r = hsi_db_query(c->db, "indicator names",
	    "SELECT i.code, i.name_en, i.name_th, i.agency, a.name_en,"
	    " a.name_th, i.frequency, i.dimension FROM indicator i"
	    " JOIN agency a ON a.code = i.agency ORDER BY i.code COLLATE "
	    "\"C\"",
	    0, NULL);
	return nm->r ? 0 : HSI_EDB;
}

/* The row of r (sorted by its first nkey columns, byte order) whose
 * first nkey columns equal key, or -1. */
static int
row_find(PGresult *r, const char *const *key, int nkey)
{
	int lo = 0, hi = PQntuples(r) - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2, cmp = 0;
		for (int k = 0; cmp == 0 && k < nkey; k++) {
			cmp = strcmp(PQgetvalue(r, mid, k), key[k]);
		}
		if (cmp == 0) {
			return mid;
		}
		if (cmp < 0) {
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return -1;
}

/* Row of indicator code, or -1. */
static int
names_find(const names *nm, const char *code)
{
	const char *key[1] = { code };
	return row_find(nm->r, key, 1);
}

static const char *
names_get(const names *nm, int row, int col, const char *fallback)
{
	return row >= 0 ? PQgetvalue(nm->r, row, col) : fallback;
}

/* ---- late_data --------------------------------------------------- */

/* What one (agency, indicator) owes: its late and its soon-due periods. */
typedef struct {
	size_t first, end; /* rows of the quality result */
	int    late, soon; /* periods of each kind */
	int    late_expected, late_present;
	int    soon_expected, soon_present;
	size_t oldest_late, first_soon; /* rows */
} owed;

static int
incomplete(const hsi_rule *rule, const hsi_quality_row *q)
{
	return q->expected > 0
	    && (double) q->present
	    < rule->min_completeness * q->expected - 1e-9;
}

static json_t *
periods_json(const hsi_quality_row *rows, size_t from, size_t to,
    int want_late, const hsi_rule *rule, int64_t now)
{
	json_t *a = json_array();
	for (size_t i = from; a != NULL && i < to; i++) {
		const hsi_quality_row *q = &rows[i];
		if (!incomplete(rule, q)
		    || hsi_quality_due_passed(q, now) != want_late) {
			continue;
		}
		if (json_array_size(a) == 20) {
			break; /* the count says how many there are */
		}
		char due[16];
		day_text(q->due_day, due, sizeof(due));
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:i, s:i}", "period", q->period,
		        "due", due, "expected", q->expected, "present",
		        q->present));
	}
	return a;
}

/* One alert for the late (stage "late") or soon-due ("reminder")
 * periods of rows [o->first, o->end). */
static int
late_want(hsi_eval_ctx *c, const hsi_rule *rule, const names *nm,
    const hsi_quality_row *rows, const owed *o, int late, wants *ws)
{
	hsi_alert_want *w = wants_add(ws);
	if (w == NULL) {
		return ws->capped ? 0 : HSI_ENOMEM;
	}
	const hsi_quality_row *q
	    = &rows[late ? o->oldest_late : o->first_soon];
	int         row    = names_find(nm, q->indicator);
	const char *ind_en = names_get(nm, row, 1, q->indicator);
	const char *ind_th = names_get(nm, row, 2, q->indicator);
	const char *ag_th  = names_get(nm, row, 5, q->agency);
	int         count  = late ? o->late : o->soon;
	int         exp    = late ? o->late_expected : o->soon_expected;
	int         pres   = late ? o->late_present : o->soon_present;
	double compl       = exp > 0 ? (double) pres / exp : 0;
	char key[200], due[16], due_th[40], pth[HSI_PERIOD_MAX + 8];
	char buf[1024];
	day_text(q->due_day, due, sizeof(due));
	day_text_th(q->due_day, due_th, sizeof(due_th));
	period_th(q->period, pth, sizeof(pth));
	snprintf(key, sizeof(key), "%s|%s|%s|%s", rule->name, q->agency,
	    q->indicator, late ? "late" : "reminder");
	hsi_eval_fingerprint(key, w->t.fingerprint);
	hsi_summary_copy(w->t.kind, sizeof(w->t.kind), "late_data");
	hsi_summary_copy(w->t.area, sizeof(w->t.area), q->agency);
	hsi_summary_copy(w->t.code, sizeof(w->t.code), q->indicator);
	hsi_summary_copy(w->t.period, sizeof(w->t.period), q->period);
	w->t.value     = compl ;
	w->t.threshold = rule->min_completeness;
	if (late) {
		snprintf(buf, sizeof(buf),
		    "%s is late with %s (%s): %d period%s past due and "
		    "incomplete, oldest %s due %s; %d of %d values (%.0f%%)",
		    q->agency, ind_en, q->indicator, count,
		    count == 1 ? "" : "s", q->period, due, pres, exp,
		    100 * compl );
		hsi_summary_copy(
		    w->t.summary_en, sizeof(w->t.summary_en), buf);
		snprintf(buf, sizeof(buf),
		    "%s ส่งข้อมูล %s ล่าช้า %d ช่วงเวลา เก่าสุด %s "
		    "กำหนดส่ง %s ได้รับ %d จาก %d ค่า (ร้อยละ %.0f)",
		    ag_th, ind_th, count, pth, due_th, pres, exp,
		    100 * compl );
	} else {
		if (count == 1) {
			snprintf(buf, sizeof(buf),
			    "Reminder: %s's %s (%s) for %s is due %s; %d of "
			    "%d "
			    "values so far (%.0f%%)",
			    q->agency, ind_en, q->indicator, q->period, due,
			    pres, exp, 100 * compl );
		} else {
			snprintf(buf, sizeof(buf),
			    "Reminder: %s's %s (%s): %d periods due from %s "
			    "(%s "
			    "first); %d of %d values so far (%.0f%%)",
			    q->agency, ind_en, q->indicator, count, due,
			    q->period, pres, exp, 100 * compl );
		}
		hsi_summary_copy(
		    w->t.summary_en, sizeof(w->t.summary_en), buf);
		snprintf(buf, sizeof(buf),
		    "แจ้งเตือน: %s ครบกำหนดส่ง %s ช่วง %s วันที่ %s%s ได้รับแล้ว %d "
		    "จาก %d ค่า (ร้อยละ %.0f)",
		    ag_th, ind_th, pth, due_th, count > 1 ? " และช่วงถัดไป" : "",
		    pres, exp, 100 * compl );
	}
	hsi_summary_copy(w->t.summary_th, sizeof(w->t.summary_th), buf);
	w->labels      = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	         "alertname", rule->name, "rule", rule->name, "kind", "late_data",
	         "stage", late ? "late" : "reminder", "severity",
            late ? "warning" : "info", "agency", q->agency, "indicator",
	         q->indicator);
	w->annotations = json_pack("{s:i, s:i, s:i, s:f, s:s, s:o}",
	    late ? "late_periods" : "due_periods", count, "expected", exp,
	    "present", pres, "completeness", compl, "oldest_due", due,
	    "periods",
	    periods_json(rows, o->first, o->end, late, rule, c->now_unix));
	w->detail      = json_pack("{s:s, s:s, s:s, s:i, s:f}", "stage",
            late ? "late" : "reminder", "agency", q->agency, "period",
	         q->period, "periods", count, "completeness", compl );
	return 0;
}

static int
watched(const hsi_rule *rule, const char *agency, const char *indicator)
{
	int a = rule->n_agencies == 0, k = rule->n_indicators == 0;
	for (int i = 0; !a && i < rule->n_agencies; i++) {
		a = strcmp(rule->agencies[i], agency) == 0;
	}
	for (int i = 0; !k && i < rule->n_indicators; i++) {
		k = strcmp(rule->indicators[i], indicator) == 0;
	}
	return a && k;
}

static int
late_scan(hsi_eval_ctx *c, const hsi_rule *rule, const names *nm,
    const hsi_quality_row *rows, size_t n, wants *ws)
{
	long today = hsi_quality_day_of(c->now_unix);
	int  rv    = 0;
	for (size_t i = 0, j; rv == 0 && i < n; i = j) {
		owed o;
		memset(&o, 0, sizeof(o));
		o.first = i;
		for (j = i;
		     j < n && strcmp(rows[j].indicator, rows[i].indicator) == 0
		     && strcmp(rows[j].agency, rows[i].agency) == 0;
		     j++) {
			const hsi_quality_row *q = &rows[j];
			if (!incomplete(rule, q)) {
				continue;
			}
			if (hsi_quality_due_passed(q, c->now_unix)) {
				o.oldest_late
				    = o.late++ == 0 ? j : o.oldest_late;
				o.late_expected += q->expected;
				o.late_present += q->present;
			} else if (q->due_day <= today + rule->remind_days) {
				o.first_soon
				    = o.soon++ == 0 ? j : o.first_soon;
				o.soon_expected += q->expected;
				o.soon_present += q->present;
			}
		}
		o.end = j;
		if (!watched(rule, rows[i].agency, rows[i].indicator)) {
			continue;
		}
		if (o.late > 0) {
			rv = late_want(c, rule, nm, rows, &o, 1, ws);
		}
		if (rv == 0 && o.soon > 0 && rule->remind_days > 0) {
			rv = late_want(c, rule, nm, rows, &o, 0, ws);
		}
	}
	return rv;
}

int
hsi_check_late(hsi_eval_ctx *c, const hsi_rule *rule)
{
	hsi_quality_opts o;
	hsi_quality_defaults(&o);
	for (int f = 0; f < HSI_QUALITY_N_FREQ; f++) {
		if (rule->grace_days[f] >= 0) {
			o.grace_days[f] = rule->grace_days[f];
		}
	}
	long             today = hsi_quality_day_of(c->now_unix);
	hsi_quality_row *rows  = NULL;
	size_t           n     = 0;
	names            nm    = { NULL };
	wants            ws;
	memset(&ws, 0, sizeof(ws));
	int rv = hsi_quality_query(c->db, &o, NULL,
	    today - rule->lookback_days, today + rule->remind_days, &rows, &n);
	if (rv == 0) {
		rv = names_load(c, &nm);
	}
	if (rv == 0) {
		rv = late_scan(c, rule, &nm, rows, n, &ws);
	}
	if (rv == 0) {
		rv = reconcile(c, rule, NULL, NULL, &ws);
	}
	wants_free(&ws);
	PQclear(nm.r);
	free(rows);
	return rv;
}

/* ---- suspicious -------------------------------------------------- */

/* Observations of one index year: indicator, period, area, value, area
 * names; sorted so that one (indicator, period) is a run of rows. */
static const char sql_year_obs[]
    = "SELECT o.indicator, o.period, o.area, o.value, a.name_en, a.name_th "
      "FROM observation o JOIN area a ON a.code = o.area "
      "JOIN indicator i ON i.code = o.indicator "
      "WHERE (CASE WHEN $4 THEN o.fyear ELSE o.year END) = $1::int"
      " AND a.level = $2 AND o.value IS NOT NULL"
      " AND i.frequency <> 'daily' AND ($3 = '' OR o.indicator = $3) "
      "ORDER BY o.indicator COLLATE \"C\", o.period COLLATE \"C\","
      " o.area COLLATE \"C\"";

/* The indicator scores of a year, for the impact on the dimension. */
static const char sql_ind_scores[]
    = "SELECT s.code, s.area, s.value FROM score s "
      "JOIN area a ON a.code = s.area "
      "WHERE s.methodology = $1::int AND s.period = $2"
      " AND s.level = 'indicator' AND a.level = $3 AND s.value IS NOT NULL "
      "ORDER BY s.code COLLATE \"C\", s.area COLLATE \"C\"";

/* Row of (indicator, period, area) in r (sorted as sql_year_obs), or -1. */
static int
obs_find(PGresult *r, const char *ind, const char *period, const char *area)
{
	const char *key[3] = { ind, period, area };
	return row_find(r, key, 3);
}

/* The same period a year earlier ("2024Q3" -> "2023Q3"). */
static int
prev_period(const char *period, char *out, size_t size)
{
	hsi_period p;
	if (hsi_period_parse(period, strlen(period), &p, NULL) != 0
	    || p.year <= 1900) {
		return -1;
	}
	p.year--;
	if (p.freq == HSI_FREQ_DAY && p.sub == 2 && p.day == 29) {
		p.day = 28;
	}
	hsi_period_format(&p, out, size);
	return 0;
}

/* How an indicator moves its dimension: the product of its weight
 * shares up to the dimension (the node under the root), and the
 * dimension's code. */
typedef struct {
	hsi_method *m;
	PGresult   *scores;       /* sql_ind_scores */
	double     *xs, *scratch; /* room for every row of scores */
} impact_ctx;

static double
impact_share(const hsi_method *m, const char *code, const char **dim)
{
	int col = m != NULL ? hsi_method_col(m, code) : -1;
	if (col < 0) {
		return NAN;
	}
	int    node  = m->leaf_node[col];
	double share = 1;
	while (m->nodes[node].parent >= 0 && m->nodes[node].depth > 1) {
		const hsi_mnode *p   = &m->nodes[m->nodes[node].parent];
		double           sum = 0;
		for (int k = 0; k < p->n_children; k++) {
			sum += m->nodes[m->children[p->first_child + k]]
			           .weight;
		}
		share *= sum > 0 ? m->nodes[node].weight / sum : 0;
		node = m->nodes[node].parent;
	}
	*dim = m->nodes[node].code;
	return share;
}

/*
 * The impact of area's indicator score on its dimension score: share *
 * (score - median score of the indicator across areas), the change in
 * the dimension (to first order; exactly for arithmetic means) had the
 * area scored the median. NAN when unknown.
 */
static double
impact_of(const impact_ctx *ic, const char *code, const char *area,
    double share, double *scratch, double *xs)
{
	PGresult *r = ic->scores;
	if (r == NULL || isnan(share)) {
		return NAN;
	}
	int n = 0, from = -1, self = -1;
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(PQgetvalue(r, i, 0), code) != 0) {
			if (from >= 0) {
				break;
			}
			continue;
		}
		from = from < 0 ? i : from;
		if (strcmp(PQgetvalue(r, i, 1), area) == 0) {
			self = n;
		}
		xs[n++] = strtod(PQgetvalue(r, i, 2), NULL);
	}
	hsi_robust fit;
	int rv = self >= 0 ? hsi_robust_fit(xs, (size_t) n, scratch, 3, &fit)
	                   : HSI_EINVAL;
	if (rv == HSI_EINVAL || rv == HSI_DETECT_SKIP_FEW) {
		return NAN;
	}
	/* No spread: every area scored the same, so the median is its own. */
	return share * (xs[self] - (rv == 0 ? fit.median : xs[self]));
}

/* What the checks found about one value. */
typedef struct {
	int         fitted; /* fit holds the group's median and scale */
	hsi_robust  fit;
	double      z;
	int         zflag;
	int         has_prev; /* prev is last year's value */
	double      prev, ratio;
	int         jflag;
	double      impact; /* on the dimension dim; NAN when unknown */
	const char *dim;
} finding;

/* One suspicious value at row i of r. */
static int
suspect_want(const hsi_rule *rule, const names *nm, PGresult *r, int i,
    const finding *f, int year, wants *ws)
{
	const hsi_robust *fit = &f->fit;
	int    fitted = f->fitted, zflag = f->zflag, jflag = f->jflag;
	int    has_prev = f->has_prev;
	double z = f->z, prev = f->prev, ratio = f->ratio, impact = f->impact;
	const char     *dim = f->dim;
	hsi_alert_want *w   = wants_add(ws);
	if (w == NULL) {
		return ws->capped ? 0 : HSI_ENOMEM;
	}
	const char *ind = PQgetvalue(r, i, 0), *period = PQgetvalue(r, i, 1);
	const char *area   = PQgetvalue(r, i, 2);
	double      v      = strtod(PQgetvalue(r, i, 3), NULL);
	int         row    = names_find(nm, ind);
	const char *agency = names_get(nm, row, 3, "");
	char        key[200], yr[16], why_en[400] = "", why_th[600] = "";
	char        buf[1400], pth[HSI_PERIOD_MAX + 8];
	snprintf(
	    key, sizeof(key), "%s|%s|%s|%s", rule->name, ind, area, period);
	hsi_eval_fingerprint(key, w->t.fingerprint);
	snprintf(yr, sizeof(yr), "%d", year);
	period_th(period, pth, sizeof(pth));
	hsi_summary_copy(w->t.kind, sizeof(w->t.kind), "suspicious");
	hsi_summary_copy(w->t.area, sizeof(w->t.area), area);
	hsi_summary_copy(
	    w->t.area_en, sizeof(w->t.area_en), PQgetvalue(r, i, 4));
	hsi_summary_copy(
	    w->t.area_th, sizeof(w->t.area_th), PQgetvalue(r, i, 5));
	hsi_summary_copy(w->t.code, sizeof(w->t.code), ind);
	hsi_summary_copy(w->t.period, sizeof(w->t.period), period);
	w->t.value     = v;
	w->t.threshold = rule->z;
	if (zflag) {
		static const char *const lv[] = { "nation", "region",
			"province", "district", "subdistrict" };
		static const char *const en[] = { "nations", "regions",
			"provinces", "districts", "sub-districts" };
		static const char *const th[]
		    = { "ประเทศ", "ภาค", "จังหวัด", "อำเภอ", "ตำบล" };
		int k = 2;
		for (int j = 0; j < 5; j++) {
			k = strcmp(rule->area_level, lv[j]) == 0 ? j : k;
		}
		hsi_robust_reason(fit, v, en[k], th[k], why_en, sizeof(why_en),
		    why_th, sizeof(why_th));
	}
	if (jflag) {
		size_t le = strlen(why_en), lt = strlen(why_th);
		snprintf(why_en + le, sizeof(why_en) - le,
		    "%s%.3g× last year's %g", le ? "; " : "", ratio, prev);
		snprintf(why_th + lt, sizeof(why_th) - lt,
		    "%sเปลี่ยนไป %.3g เท่าจากปีก่อน (%g)", lt ? "; " : "", ratio,
		    prev);
	}
	snprintf(buf, sizeof(buf),
	    "Suspicious value: %s (%s) %s %s = %g: %s%s. %s, please check it.",
	    w->t.area_en, area, names_get(nm, row, 1, ind), period, v, why_en,
	    "", agency);
	hsi_summary_copy(w->t.summary_en, sizeof(w->t.summary_en), buf);
	snprintf(buf, sizeof(buf),
	    "ค่าผิดสังเกต: %s %s ช่วง %s = %g: %s โปรดให้ %s ตรวจสอบ", w->t.area_th,
	    names_get(nm, row, 2, ind), pth, v, why_th,
	    names_get(nm, row, 5, agency));
	hsi_summary_copy(w->t.summary_th, sizeof(w->t.summary_th), buf);
	w->labels = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "alertname",
	    rule->name, "rule", rule->name, "kind", "suspicious", "severity",
	    "warning", "agency", agency, "indicator", ind, "area", area,
	    "area_level", rule->area_level, "period", period, "year", yr);
	w->annotations = json_pack("{s:f, s:o, s:o, s:o, s:o, s:o}", "value",
	    v, "robust_z", fitted ? json_real(z) : json_null(), "baseline",
	    fitted ? json_pack("{s:f, s:f, s:f, s:s, s:i}", "median",
	        fit->median, "mad", fit->mad, "meanad", fit->meanad, "method",
	        fit->method, "n", (int) fit->n)
	           : json_null(),
	    "last_year", has_prev ? json_real(prev) : json_null(), "jump",
	    has_prev && isfinite(ratio) ? json_real(ratio) : json_null(),
	    "dimension_impact",
	    isnan(impact)
	        ? json_null()
	        : json_pack("{s:s, s:f}", "dimension", dim, "impact", impact));
	w->detail = json_pack("{s:b, s:b}", "robust_z", zflag, "jump", jflag);
	return 0;
}

/* Last year's value of row i of r into *pv (1), or 0 when there is none. */
static int
last_year(PGresult *r, PGresult *prev, int i, double *pv)
{
	char pp[HSI_PERIOD_MAX];
	if (prev == NULL
	    || prev_period(PQgetvalue(r, i, 1), pp, sizeof(pp)) != 0) {
		return 0;
	}
	int k = obs_find(prev, PQgetvalue(r, i, 0), pp, PQgetvalue(r, i, 2));
	if (k < 0) {
		return 0;
	}
	*pv = strtod(PQgetvalue(prev, k, 3), NULL);
	return 1;
}

/*
 * Judges the run of rows [from, to) of one (indicator, period). A jump
 * beyond jump_factor is only suspicious when it is also unusual among
 * the areas: its log ratio's robust z exceeds z. An epidemic year in
 * which every province doubles is not a data error; one province that
 * triples while the others hold still may be. (Without enough positive
 * pairs for that comparison, the factor alone decides.)
 */
static int
suspect_group(const hsi_rule *rule, const names *nm, PGresult *r,
    PGresult *prev, const impact_ctx *ic, int from, int to, double *xs,
    double *scratch, int year, wants *ws)
{
	int        n = to - from, rv = 0, nlr = 0;
	hsi_robust fit, jfit;
	double    *pv = malloc((size_t) n * 2 * sizeof(double) + 1);
	double    *lr = pv + n;
	if (pv == NULL) {
		return HSI_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		xs[i] = strtod(PQgetvalue(r, from + i, 3), NULL);
		if (!last_year(r, prev, from + i, &pv[i])) {
			pv[i] = NAN;
		} else if (pv[i] > 0 && xs[i] > 0) {
			lr[nlr++] = log(xs[i] / pv[i]);
		}
	}
	int fr = hsi_robust_fit(
	    xs, (size_t) n, scratch, (size_t) rule->min_n, &fit);
	int jr = hsi_robust_fit(
	    lr, (size_t) nlr, scratch, (size_t) rule->min_n, &jfit);
	if (hsi_detect_is_skip(fr)) {
		const char *why;
		hsi_detect_skip_reason(fr, &why, NULL);
		hsi_log_debug("robust z skipped", "{s:s, s:s, s:s, s:i, s:s}",
		    "rule", rule->name, "indicator", PQgetvalue(r, from, 0),
		    "period", PQgetvalue(r, from, 1), "values", n, "reason",
		    why);
	}
	const char *dim   = "";
	double      share = impact_share(ic->m, PQgetvalue(r, from, 0), &dim);
	for (int i = 0; rv == 0 && i < n; i++) {
		double v = xs[i], z = 0, ratio = 1, jz = 0;
		int    zflag = 0, jflag = 0, unusual = 1;
		if (fr == 0
		    && hsi_robust_check(&fit, v, rule->z, &z, &zflag) != 0) {
			zflag = 0;
		}
		if (rule->jump_factor > 0 && !isnan(pv[i])
		    && hsi_jump(pv[i], v, rule->jump_factor,
		           fr == 0 ? fit.scale : 0, &ratio, &jflag)
		        != 0) {
			jflag = 0;
		}
		if (jflag && pv[i] > 0 && v > 0) {
			/* All ratios equal (no spread): none is unusual. */
			unusual = jr == HSI_DETECT_SKIP_FEW
			    || (jr == 0
			        && hsi_robust_check(&jfit, log(v / pv[i]),
			               rule->z, &jz, &unusual)
			            == 0
			        && unusual);
		}
		jflag = jflag && unusual;
		if (!zflag && !jflag) {
			continue;
		}
		finding f = { fr == 0, fit, z, zflag, !isnan(pv[i]),
			isnan(pv[i]) ? 0 : pv[i], ratio, jflag,
			impact_of(ic, PQgetvalue(r, from + i, 0),
			    PQgetvalue(r, from + i, 2), share, ic->scratch,
			    ic->xs),
			dim };
		rv        = suspect_want(rule, nm, r, from + i, &f, year, ws);
	}
	free(pv);
	return rv;
}

static PGresult *
year_obs(hsi_eval_ctx *c, const hsi_rule *rule, int year, int fiscal)
{
	char        y[16];
	const char *p[4]
	    = { y, rule->area_level, rule->code, fiscal ? "true" : "false" };
	snprintf(y, sizeof(y), "%d", year);
	return hsi_db_query(
	    c->db, "observations of a year", sql_year_obs, 4, p);
}

int
hsi_check_suspicious(hsi_eval_ctx *c, const hsi_rule *rule, int year)
{
	int y, m, d;
	hsi_civil_from_days(hsi_quality_day_of(c->now_unix), &y, &m, &d);
	if (rule->lookback_years > 0 && year < y - rule->lookback_years) {
		return 0; /* history, not a submission to check */
	}
	int        fiscal = c->period != NULL && c->period[0] == 'F';
	PGresult  *r      = year_obs(c, rule, year, fiscal);
	PGresult  *prev   = r ? year_obs(c, rule, year - 1, fiscal) : NULL;
	names      nm     = { NULL };
	impact_ctx ic     = { NULL, NULL, NULL, NULL };
	wants      ws;
	double    *buf = NULL;
	char       err[300], yr[16];
	int        rv = r && prev ? names_load(c, &nm) : HSI_EDB;
	memset(&ws, 0, sizeof(ws));
	if (rv == 0 && c->methodology > 0
	    && hsi_scoredb_method(
	           c->db, c->methodology, NULL, NULL, &ic.m, err, sizeof(err))
	        != 0) {
		hsi_log_warn("no dimension impact: methodology not loaded",
		    "{s:i, s:s}", "methodology", c->methodology, "error", err);
		ic.m = NULL;
	}
	if (ic.m != NULL) {
		char sp[HSI_PERIOD_MAX];
		snprintf(sp, sizeof(sp), "%s%d",
		    ic.m->fiscal_index ? "FY" : "", year);
		const char *p[3] = { c->mstr, sp, rule->area_level };
		ic.scores        = hsi_db_query(
		           c->db, "indicator scores", sql_ind_scores, 3, p);
	}
	int rows = r ? PQntuples(r) : 0;
	int most = ic.scores ? PQntuples(ic.scores) : 0;
	most     = most > rows ? most : rows;
	/* xs, scratch for the group; xs, scratch again for the impact */
	if (rv == 0
	    && (buf = malloc((size_t) (most + 1) * 4 * sizeof(double)))
	        == NULL) {
		rv = HSI_ENOMEM;
	}
	if (buf != NULL) {
		ic.xs      = buf + 2 * (most + 1);
		ic.scratch = buf + 3 * (most + 1);
	}
	for (int i = 0, j; rv == 0 && i < rows; i = j) {
		for (j = i + 1; j < rows
		     && strcmp(PQgetvalue(r, j, 0), PQgetvalue(r, i, 0)) == 0
		     && strcmp(PQgetvalue(r, j, 1), PQgetvalue(r, i, 1)) == 0;
		     j++) { }
		rv = suspect_group(rule, &nm, r, prev, &ic, i, j, buf,
		    buf + (most + 1), year, &ws);
	}
	snprintf(yr, sizeof(yr), "%d", year);
	if (rv == 0) {
		rv = reconcile(c, rule, "year", yr, &ws);
	}
	wants_free(&ws);
	free(buf);
	PQclear(ic.scores);
	hsi_method_free(ic.m);
	PQclear(nm.r);
	PQclear(prev);
	PQclear(r);
	return rv;
}

/* ---- spike ------------------------------------------------------- */

static const char sql_latest_day[]
    = "SELECT max(o.period COLLATE \"C\") FROM observation o "
      "JOIN area a ON a.code = o.area WHERE o.indicator = $1 AND a.level = $2"
      " AND o.value IS NOT NULL";

static const char sql_series[]
    = "SELECT o.area, o.period, o.value, a.name_en, a.name_th "
      "FROM observation o JOIN area a ON a.code = o.area "
      "WHERE o.indicator = $1 AND a.level = $2 AND o.value IS NOT NULL"
      " AND o.period COLLATE \"C\" >= $3 AND o.period COLLATE \"C\" <= $4 "
      "ORDER BY o.area COLLATE \"C\", o.period COLLATE \"C\"";

/* Judges the last lookback_days of one area's series [from, to) of r. */
static int
spike_area(const hsi_rule *rule, const names *nm, PGresult *r, int from,
    int to, long latest, long *days, double *vals, wants *ws)
{
	hsi_spike_opts o = { rule->weeks, rule->min_weeks, rule->min_excess,
		rule->factor, rule->z };
	size_t         n = 0;
	for (int i = from; i < to; i++) {
		const char *s = PQgetvalue(r, i, 1);
		hsi_period  p;
		long        first, last;
		if (hsi_period_parse(s, strlen(s), &p, NULL) != 0
		    || p.freq != HSI_FREQ_DAY) {
			continue;
		}
		hsi_period_range(&p, &first, &last);
		days[n]   = first;
		vals[n++] = strtod(PQgetvalue(r, i, 2), NULL);
	}
	if (n == 0 || hsi_spike_check_series(days, vals, n) != 0) {
		return 0;
	}
	int row = names_find(nm, rule->code);
	int rv  = 0;
	for (size_t k = 0; rv == 0 && k < n; k++) {
		hsi_spike s;
		if (days[k] <= latest - rule->lookback_days
		    || hsi_spike_eval(days, vals, n, days[k], vals[k], &o, &s)
		        != 0
		    || !s.flagged) {
			continue;
		}
		hsi_alert_want *w = wants_add(ws);
		if (w == NULL) {
			return ws->capped ? 0 : HSI_ENOMEM;
		}
		const char *area = PQgetvalue(r, from, 0);
		char        key[200], day[16], en[600], th[900], buf[1400];
		day_text(days[k], day, sizeof(day));
		snprintf(key, sizeof(key), "%s|%s|%s", rule->name, area, day);
		hsi_eval_fingerprint(key, w->t.fingerprint);
		hsi_summary_copy(w->t.kind, sizeof(w->t.kind), "spike");
		hsi_summary_copy(w->t.area, sizeof(w->t.area), area);
		hsi_summary_copy(w->t.code, sizeof(w->t.code), rule->code);
		hsi_summary_copy(w->t.period, sizeof(w->t.period), day);
		w->t.value     = vals[k];
		w->t.threshold = s.baseline;
		hsi_spike_reason(&s, names_get(nm, row, 1, rule->code),
		    names_get(nm, row, 2, rule->code), en, sizeof(en), th,
		    sizeof(th));
		snprintf(buf, sizeof(buf), "%s (%s): %s",
		    PQgetvalue(r, from, 3), area, en);
		hsi_summary_copy(
		    w->t.summary_en, sizeof(w->t.summary_en), buf);
		snprintf(
		    buf, sizeof(buf), "%s: %s", PQgetvalue(r, from, 4), th);
		hsi_summary_copy(
		    w->t.summary_th, sizeof(w->t.summary_th), buf);
		w->labels = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "alertname",
		    rule->name, "rule", rule->name, "kind", "spike",
		    "severity", "warning", "agency", names_get(nm, row, 3, ""),
		    "indicator", rule->code, "area", area, "period", day);
		w->annotations
		    = json_pack("{s:f, s:f, s:f, s:f, s:f, s:i, s:i}", "value",
		        vals[k], "baseline", s.baseline, "spread", s.spread,
		        "excess", s.excess, "z", s.z, "weekday", s.weekday,
		        "weeks_found", s.n_same);
		w->detail
		    = json_pack("{s:f, s:f}", "ratio", s.ratio, "z", s.z);
	}
	return rv;
}

int
hsi_check_spike(hsi_eval_ctx *c, const hsi_rule *rule, int year)
{
	(void) year; /* the window follows the newest day, whatever year */
	names     nm = { NULL };
	wants     ws;
	PGresult *r    = NULL;
	long     *days = NULL;
	double   *vals = NULL;
	memset(&ws, 0, sizeof(ws));
	int rv  = names_load(c, &nm);
	int row = rv == 0 ? names_find(&nm, rule->code) : -1;
	if (rv == 0
	    && (row < 0 || strcmp(PQgetvalue(nm.r, row, 6), "daily") != 0)) {
		hsi_log_warn("spike rule needs a daily indicator: skipped",
		    "{s:s, s:s}", "rule", rule->name, "code", rule->code);
		PQclear(nm.r);
		return 0;
	}
	const char *p2[2] = { rule->code, rule->area_level };
	PGresult   *lr    = rv == 0
	         ? hsi_db_query(c->db, "latest day", sql_latest_day, 2, p2)
	         : NULL;
	hsi_period  lp;
	const char *ls
	    = lr && !PQgetisnull(lr, 0, 0) ? PQgetvalue(lr, 0, 0) : "";
	if (rv == 0 && lr == NULL) {
		rv = HSI_EDB;
	}
	if (rv == 0 && hsi_period_parse(ls, strlen(ls), &lp, NULL) == 0
	    && lp.freq == HSI_FREQ_DAY) {
		long first, latest;
		char lo[16], hi[16];
		hsi_period_range(&lp, &first, &latest);
		day_text(latest - rule->lookback_days - 7L * rule->weeks, lo,
		    sizeof(lo));
		day_text(latest, hi, sizeof(hi));
		const char *p[4] = { rule->code, rule->area_level, lo, hi };
		r  = hsi_db_query(c->db, "daily series", sql_series, 4, p);
		rv = r ? 0 : HSI_EDB;
		int rows = r ? PQntuples(r) : 0;
		days     = malloc((size_t) (rows + 1) * sizeof(*days));
		vals     = malloc((size_t) (rows + 1) * sizeof(*vals));
		if (rv == 0 && (days == NULL || vals == NULL)) {
			rv = HSI_ENOMEM;
		}
		for (int i = 0, j; rv == 0 && i < rows; i = j) {
			for (j = i + 1; j < rows
			     && strcmp(
			            PQgetvalue(r, j, 0), PQgetvalue(r, i, 0))
			         == 0;
			     j++) { }
			rv = spike_area(
			    rule, &nm, r, i, j, latest, days, vals, &ws);
		}
	}
	if (rv == 0) {
		rv = reconcile(c, rule, NULL, NULL, &ws);
	}
	wants_free(&ws);
	free(days);
	free(vals);
	PQclear(r);
	PQclear(lr);
	PQclear(nm.r);
	return rv;
}
