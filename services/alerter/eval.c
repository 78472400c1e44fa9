/*
 * eval.c: the alert state machine over PostgreSQL (see eval.h).
 *
 * Per rule, one query returns every area of the rule's level that has a
 * value, with its fingerprint (computed by PostgreSQL, so the database
 * and the code cannot disagree on it) and the alert's stored state. The
 * decision is then local: fire, resolve or leave alone. All writes of one
 * evaluation share one transaction, so a crash leaves either every
 * change or none, and the published events always match committed rows.
 */
#include "eval.h"

#include <openssl/sha.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "error.h"
#include "evalctx.h"
#include "log.h"
#include "notify.h"
#include "summary.h"

/* Where an area's alert stands, stored or as its history ends. */
enum { ST_INACTIVE = 0, ST_PENDING, ST_FIRING };

/* One observation of an area in a spanning rule's history. */
typedef struct {
	long day; /* last day of the period */
	int  row; /* in the history result */
} obs;

typedef hsi_eval_ctx eval_ctx;

static int rules_version; /* alert_rules.version, for event details */

/* Serialises alerters: two evaluating the same period at once would
 * both see "not firing" and both insert. */
#define ALERTER_LOCK "7452001"

static const char sql_rows[]
    = "SELECT x.area, x.name_en, x.name_th, x.value, x.fp, al.state "
      "FROM (SELECT a.code AS area, a.name_en, a.name_th, s.value,"
      " encode(sha256(convert_to($1::text || '|' || a.code || '|' ||"
      " s.code || '|' || s.period, 'UTF8')), 'hex') AS fp"
      " FROM score s JOIN area a ON a.code = s.area"
      " WHERE s.methodology = $2::int AND s.period = $3 AND s.level = $4"
      " AND s.code = $5 AND a.level = $6 AND s.value IS NOT NULL) x "
      "LEFT JOIN alert al ON al.fingerprint = x.fp ORDER BY x.area";

/* Spanning rules: every period of every area, oldest order decided in C
 * (periods sort by their last day, not as text). */
static const char sql_history[]
    = "SELECT x.area, x.name_en, x.name_th, x.value, x.fp, al.state,"
      " x.period, x.delta, x.rank_delta "
      "FROM (SELECT a.code AS area, a.name_en, a.name_th, s.value, s.period,"
      " s.delta, s.rank_delta, encode(sha256(convert_to($1::text || '|' ||"
      " a.code || '|' || s.code, 'UTF8')), 'hex') AS fp"
      " FROM score s JOIN area a ON a.code = s.area"
      " WHERE s.methodology = $2::int AND s.level = $3 AND s.code = $4"
      " AND a.level = $5 AND s.value IS NOT NULL) x "
      "LEFT JOIN alert al ON al.fingerprint = x.fp ORDER BY x.area";

static const char sql_pending[]
    = "INSERT INTO alert (fingerprint, rule, labels, annotations, state,"
      " value, threshold, starts_at, updated_at, kind) "
      "VALUES ($1, $2, $3::jsonb, $4::jsonb, 'pending', $5::float8,"
      " $6::float8, now(), now(), $7) "
      "ON CONFLICT (fingerprint) DO UPDATE SET labels = EXCLUDED.labels,"
      " annotations = EXCLUDED.annotations, state = 'pending',"
      " value = EXCLUDED.value, threshold = EXCLUDED.threshold,"
      " starts_at = now(), ends_at = NULL, updated_at = now()";

static const char sql_fire[]
    = "INSERT INTO alert (fingerprint, rule, labels, annotations, state,"
      " value, threshold, starts_at, updated_at, kind) "
      "VALUES ($1, $2, $3::jsonb, $4::jsonb, 'firing', $5::float8,"
      " $6::float8, now(), now(), $7) "
      "ON CONFLICT (fingerprint) DO UPDATE SET labels = EXCLUDED.labels,"
      " annotations = EXCLUDED.annotations, state = 'firing',"
      " value = EXCLUDED.value, threshold = EXCLUDED.threshold,"
      " starts_at = now(), ends_at = NULL, updated_at = now(),"
      " acked_by = NULL, acked_at = NULL, ack_comment = NULL,"
      " ack_expires = NULL, notified_at = NULL, held_by = NULL";

/* A data alert that still fires: new values and texts, no event. */
static const char sql_refresh[]
    = "UPDATE alert SET labels = $2::jsonb, annotations = $3::jsonb,"
      " value = $4::float8, threshold = $5::float8 "
      "WHERE fingerprint = $1 AND (labels <> $2::jsonb"
      " OR annotations <> $3::jsonb OR value IS DISTINCT FROM $4::float8"
      " OR threshold IS DISTINCT FROM $5::float8)";

/* The live alerts of a rule, optionally of one label value. */
static const char sql_live[]
    = "SELECT fingerprint, state, labels::text, annotations::text, value,"
      " threshold FROM alert WHERE rule = $1 AND state <> 'resolved'"
      " AND ($2 = '' OR labels->>$2 = $3) ORDER BY fingerprint";

static const char sql_resolve[]
    = "UPDATE alert SET state = 'resolved', value = $2::float8,"
      " annotations = $3::jsonb, ends_at = now(), updated_at = now() "
      "WHERE fingerprint = $1";

static const char sql_event[]
    = "INSERT INTO alert_event (fingerprint, state, value, detail) "
      "VALUES ($1, $2, $3::float8, $4::jsonb) "
      "RETURNING seq, (extract(epoch FROM at) * 1000)::bigint";

static int
active_methodology(PGconn *db, int *out)
{
	return hsi_db_active_methodology(db, out);
}

/* Names of the dimension or indicator a rule watches, for the texts. */
static void
rule_names(PGconn *db, const hsi_rule *rule, hsi_transition *t)
{
	const char *p[1] = { rule->code };
	PGresult   *r    = NULL;
	if (strcmp(rule->level, "group") == 0) {
		r = hsi_db_query(db, "dimension names",
		    "SELECT name_en, name_th FROM dimension WHERE code = $1",
		    1, p);
	} else if (strcmp(rule->level, "indicator") == 0) {
		r = hsi_db_query(db, "indicator names",
		    "SELECT name_en, name_th FROM indicator WHERE code = $1",
		    1, p);
	}
	int found = r != NULL && PQntuples(r) == 1;
	hsi_summary_what(t, rule->level, found ? PQgetvalue(r, 0, 0) : NULL,
	    found ? PQgetvalue(r, 0, 1) : NULL);
	PQclear(r);
}

/* The labels of an alert spanning periods carry the period of its
 * latest transition; resolving leaves them as they were when it fired,
 * so Alertmanager, which identifies alerts by labels, matches the two. */
static char *
labels_json(const eval_ctx *c, const hsi_rule *rule, const hsi_transition *t)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}",
	    "alertname", rule->name, "rule", rule->name, "level", rule->level,
	    "code", rule->code, "area", t->area, "area_level",
	    rule->area_level, "period", t->period, "methodology",
	    c->methodology);
	char   *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

/* summary (English, what Alertmanager shows), summary_en, summary_th,
 * and extra's keys when given. */
static char *
annotations_json(const hsi_transition *t, json_t *extra)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "summary", t->summary_en,
	    "summary_en", t->summary_en, "summary_th", t->summary_th);
	if (j != NULL && extra != NULL) {
		json_object_update_missing(j, extra);
	}
	char *s
	    = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
	json_decref(j);
	return s;
}

static char *
detail_json(const eval_ctx *c, const hsi_rule *rule, const hsi_transition *t)
{
	json_t *j = rule->type == HSI_RULE_THRESHOLD
	    ? json_pack("{s:s, s:f, s:s, s:i}", "op", hsi_rule_op_name(t->op),
	        "threshold", t->threshold, "period", t->period, "methodology",
	        c->methodology)
	    : json_pack("{s:s, s:s, s:i}", "type", "deterioration", "period",
	        t->period, "methodology", c->methodology);
	if (j != NULL && hsi_rule_spans(rule)) {
		json_object_set_new(
		    j, "for_periods", json_integer(rule->for_periods));
		json_object_set_new(
		    j, "clear_periods", json_integer(rule->clear_periods));
	}
	if (j != NULL && rule->type == HSI_RULE_THRESHOLD
	    && rule->deadband > 0) {
		json_object_set_new(j, "deadband", json_real(rule->deadband));
	}
	if (j != NULL && rule->drop > 0) {
		json_object_set_new(j, "drop", json_real(rule->drop));
	}
	if (j != NULL && rule->rank_fall > 0) {
		json_object_set_new(
		    j, "rank_fall", json_integer(rule->rank_fall));
	}
	if (j != NULL && rule->type != HSI_RULE_THRESHOLD) {
		json_object_set_new(j, "delta",
		    t->has_delta ? json_real(t->delta) : json_null());
		json_object_set_new(j, "rank_delta",
		    t->has_rank ? json_integer(t->rank_delta) : json_null());
	}
	if (j != NULL && rules_version > 0) {
		json_object_set_new(
		    j, "rules_version", json_integer(rules_version));
	}
	char *s
	    = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	return s;
}

/* Writes the alert row (labels, ann: JSON text) and its alert_event
 * (detail), and fills t's seq and time. t->state is "firing", "resolved",
 * "pending" or "cancelled" (a pending alert that did not fire: the row is
 * marked resolved). */
static int
write_alert(eval_ctx *c, const char *rule, hsi_transition *t,
    const char *labels, const char *ann, const char *detail)
{
	char value[40], thr[40];
	int  rv;
	snprintf(value, sizeof(value), "%.17g", t->value);
	snprintf(thr, sizeof(thr), "%.17g", t->threshold);
	const char *fire[7]
	    = { t->fingerprint, rule, labels, ann, value, thr, t->kind };
	const char *res[3] = { t->fingerprint, value, ann };
	if (strcmp(t->state, "firing") == 0) {
		rv = hsi_db_exec(c->db, "fire alert", sql_fire, 7, fire);
	} else if (strcmp(t->state, "pending") == 0) {
		rv = hsi_db_exec(c->db, "pend alert", sql_pending, 7, fire);
	} else {
		rv = hsi_db_exec(c->db, "resolve alert", sql_resolve, 3, res);
	}
	if (rv != 0) {
		return rv;
	}
	const char *ev[4] = { t->fingerprint, t->state, value, detail };
	PGresult   *r = hsi_db_query(c->db, "alert event", sql_event, 4, ev);
	if (r == NULL) {
		return HSI_EDB;
	}
	t->seq        = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	t->at_unix_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return 0;
}

/* A score rule's transition: texts from summary.c, labels and detail
 * from the rule. */
static int
write_transition(eval_ctx *c, const hsi_rule *rule, hsi_transition *t)
{
	hsi_summary_copy(t->kind, sizeof(t->kind), "score");
	hsi_summary_format(t, t->summary_en, sizeof(t->summary_en),
	    t->summary_th, sizeof(t->summary_th));
	char *labels = labels_json(c, rule, t);
	char *ann    = annotations_json(t, NULL);
	char *detail = detail_json(c, rule, t);
	int   rv     = labels && ann && detail
	          ? write_alert(c, rule->name, t, labels, ann, detail)
	          : HSI_ENOMEM;
	free(labels);
	free(ann);
	free(detail);
	return rv;
}

static hsi_transition *
next_slot(eval_ctx *c)
{
	if (c->n == c->cap) {
		if (c->cap >= HSI_EVAL_MAX_TRANSITIONS) {
			return NULL;
		}
		size_t cap = c->cap ? 2 * c->cap : 16;
		void  *p   = realloc(c->t, cap * sizeof(*c->t));
		if (p == NULL) {
			return NULL;
		}
		c->t   = p;
		c->cap = cap;
	}
	return &c->t[c->n];
}

/* Fills t's area and fingerprint from row i (columns 0-2 and 4 of both
 * sql_rows and sql_history). */
static void
fill_area(hsi_transition *t, PGresult *r, int i)
{
	hsi_summary_copy(t->area, sizeof(t->area), PQgetvalue(r, i, 0));
	hsi_summary_copy(t->area_en, sizeof(t->area_en), PQgetvalue(r, i, 1));
	hsi_summary_copy(t->area_th, sizeof(t->area_th), PQgetvalue(r, i, 2));
	hsi_summary_copy(
	    t->fingerprint, sizeof(t->fingerprint), PQgetvalue(r, i, 4));
}

/* Writes t; a firing or resolved t is appended to what is published. */
static int
emit(eval_ctx *c, const hsi_rule *rule, const hsi_transition *t)
{
	hsi_transition *slot = next_slot(c);
	if (slot == NULL) {
		return c->cap >= HSI_EVAL_MAX_TRANSITIONS ? HSI_ETOOBIG
		                                          : HSI_ENOMEM;
	}
	*slot  = *t;
	int rv = write_transition(c, rule, slot);
	if (rv == 0
	    && (strcmp(t->state, "firing") == 0
	        || strcmp(t->state, "resolved") == 0)) {
		c->n++;
	}
	return rv;
}

/* Decides row i of the rule's result; appends and writes a change. */
static int
decide(eval_ctx *c, const hsi_rule *rule, const hsi_transition *tmpl,
    PGresult *r, int i)
{
	double value  = strtod(PQgetvalue(r, i, 3), NULL);
	int    breach = hsi_rule_breached(rule, value);
	int    firing = !PQgetisnull(r, i, 5)
	    && strcmp(PQgetvalue(r, i, 5), "firing") == 0;
	if (breach == firing) {
		return 0; /* no change: nothing written, nothing published */
	}
	hsi_transition t = *tmpl;
	t.state          = breach ? "firing" : "resolved";
	t.value          = value;
	fill_area(&t, r, i);
	return emit(c, rule, &t);
}

static int
obs_cmp(const void *a, const void *b)
{
	const obs *x = a, *y = b;
	return (x->day > y->day) - (x->day < y->day);
}

/* Breached and cleared for history row i; fills the change into t. */
static void
judge(const hsi_rule *rule, PGresult *r, int i, hsi_transition *t, int *breach,
    int *cleared)
{
	t->value     = strtod(PQgetvalue(r, i, 3), NULL);
	t->has_delta = !PQgetisnull(r, i, 7);
	t->delta     = t->has_delta ? strtod(PQgetvalue(r, i, 7), NULL) : 0;
	t->has_rank  = !PQgetisnull(r, i, 8);
	t->rank_delta
	    = t->has_rank ? (int) strtol(PQgetvalue(r, i, 8), NULL, 10) : 0;
	hsi_summary_copy(t->period, sizeof(t->period), PQgetvalue(r, i, 6));
	if (rule->type == HSI_RULE_THRESHOLD) {
		*breach  = hsi_rule_breached(rule, t->value);
		*cleared = hsi_rule_cleared(rule, t->value);
	} else {
		*breach = hsi_rule_deteriorated(
		    rule, t->has_delta, t->delta, t->has_rank, t->rank_delta);
		*cleared = !*breach;
	}
}

/*
 * Replays one area's observations (sorted, n > 0) through the rule's
 * hysteresis; returns the state the history ends in, with t filled from
 * the latest observation. Not firing: for_periods breaches in a row fire
 * (fewer are pending, a non-breach starts over); firing: clear_periods
 * cleared periods in a row resolve (a period in the deadband or breached
 * starts over).
 */
static int
replay(const hsi_rule *rule, PGresult *r, const obs *o, size_t n,
    hsi_transition *t)
{
	int st = ST_INACTIVE, run = 0;
	for (size_t k = 0; k < n; k++) {
		int breach, cleared;
		judge(rule, r, o[k].row, t, &breach, &cleared);
		if (st != ST_FIRING) {
			run = breach ? run + 1 : 0;
			st  = !breach                   ? ST_INACTIVE
			     : run >= rule->for_periods ? ST_FIRING
			                                : ST_PENDING;
			run = st == ST_FIRING ? 0 : run;
		} else {
			run = cleared ? run + 1 : 0;
			if (run >= rule->clear_periods) {
				st  = ST_INACTIVE;
				run = 0;
			}
		}
	}
	return st;
}

/* Moves one area's stored alert (state stored) to state want. */
static int
settle(
    eval_ctx *c, const hsi_rule *rule, hsi_transition *t, int stored, int want)
{
	int rv = 0;
	if (stored == want) {
		return 0;
	}
	if (want == ST_FIRING) {
		t->state = "firing";
		return emit(c, rule, t);
	}
	if (stored == ST_FIRING) {
		t->state = "resolved";
		rv       = emit(c, rule, t);
	} else if (stored == ST_PENDING) {
		t->state = "cancelled";
		rv       = emit(c, rule, t);
	}
	if (rv == 0 && want == ST_PENDING) {
		t->state = "pending";
		rv       = emit(c, rule, t);
	}
	return rv;
}

/* Rows [from, to) of the history are one area's; evaluates it. */
static int
eval_area(eval_ctx *c, const hsi_rule *rule, const hsi_transition *tmpl,
    PGresult *r, int from, int to, hsi_freq freq, obs *o)
{
	size_t n = 0;
	for (int i = from; i < to; i++) {
		const char *s = PQgetvalue(r, i, 6);
		hsi_period  p;
		long        first, last;
		if (hsi_period_parse(s, strlen(s), &p, NULL) != 0
		    || p.freq != freq) {
			continue; /* another frequency's history */
		}
		hsi_period_range(&p, &first, &last);
		o[n].day   = last;
		o[n++].row = i;
	}
	if (n == 0) {
		return 0;
	}
	qsort(o, n, sizeof(*o), obs_cmp);
	hsi_transition t = *tmpl;
	fill_area(&t, r, from);
	int         want = replay(rule, r, o, n, &t);
	const char *st = PQgetisnull(r, from, 5) ? "" : PQgetvalue(r, from, 5);
	int         stored = strcmp(st, "firing") == 0 ? ST_FIRING
	            : strcmp(st, "pending") == 0       ? ST_PENDING
	                                               : ST_INACTIVE;
	return settle(c, rule, &t, stored, want);
}

static int
eval_spanning(eval_ctx *c, const hsi_rule *rule, const hsi_transition *tmpl)
{
	hsi_period p;
	if (hsi_period_parse(c->period, strlen(c->period), &p, NULL) != 0) {
		return 0; /* the scorer wrote it; nothing to replay against */
	}
	const char *q[5] = { rule->name, c->mstr, rule->level, rule->code,
		rule->area_level };
	PGresult   *r = hsi_db_query(c->db, "rule history", sql_history, 5, q);
	if (r == NULL) {
		return HSI_EDB;
	}
	int  rows = PQntuples(r);
	obs *o    = malloc((size_t) (rows > 0 ? rows : 1) * sizeof(*o));
	int  rv   = o ? 0 : HSI_ENOMEM;
	for (int i = 0, j; rv == 0 && i < rows; i = j) {
		for (j = i + 1; j < rows
		     && strcmp(PQgetvalue(r, j, 0), PQgetvalue(r, i, 0)) == 0;
		     j++) { }
		rv = eval_area(c, rule, tmpl, r, i, j, p.freq, o);
	}
	free(o);
	PQclear(r);
	return rv;
}

static int
eval_rule(eval_ctx *c, const hsi_rule *rule)
{
	hsi_transition tmpl;
	memset(&tmpl, 0, sizeof(tmpl));
	hsi_summary_copy(tmpl.rule, sizeof(tmpl.rule), rule->name);
	hsi_summary_copy(tmpl.code, sizeof(tmpl.code), rule->code);
	hsi_summary_copy(tmpl.period, sizeof(tmpl.period), c->period);
	tmpl.op = rule->op;
	tmpl.threshold
	    = rule->type == HSI_RULE_THRESHOLD ? rule->threshold : rule->drop;
	tmpl.methodology = c->methodology;
	tmpl.type        = rule->type;
	tmpl.rank_fall   = rule->rank_fall;
	rule_names(c->db, rule, &tmpl);
	if (hsi_rule_spans(rule)) {
		return eval_spanning(c, rule, &tmpl);
	}

	const char *p[6] = { rule->name, c->mstr, c->period, rule->level,
		rule->code, rule->area_level };
	PGresult   *r    = hsi_db_query(c->db, "rule rows", sql_rows, 6, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int rv = 0;
	for (int i = 0; rv == 0 && i < PQntuples(r); i++) {
		rv = decide(c, rule, &tmpl, r, i);
	}
	PQclear(r);
	return rv;
}

void
hsi_eval_set_rules_version(int version)
{
	rules_version = version;
}

void
hsi_eval_fingerprint(const char *text, char *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *) text, strlen(text), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
}

/* Text of a data rule's event detail: detail (an object, may be NULL)
 * with its kind and the rules version. */
static char *
detail_text(json_t *detail, const char *kind)
{
	json_t *j = detail != NULL ? json_deep_copy(detail) : json_object();
	if (j == NULL) {
		return NULL;
	}
	json_object_set_new(j, "kind", json_string(kind));
	if (rules_version > 0) {
		json_object_set_new(
		    j, "rules_version", json_integer(rules_version));
	}
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(j);
	return s;
}

/* 1 if the stored JSON text equals the object built from text. */
static int
same_json(const char *stored, const char *text)
{
	json_t *a = json_loads(stored, 0, NULL),
	       *b = json_loads(text, 0, NULL);
	int eq    = a != NULL && b != NULL && json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return eq;
}

/* 1 if live row i of r already holds what w would write: most data
 * alerts stay as they are from one evaluation to the next, and each
 * UPDATE would be a round trip. */
static int
unchanged(PGresult *r, int i, const hsi_alert_want *w, const char *labels,
    const char *ann)
{
	return !PQgetisnull(r, i, 4) && !PQgetisnull(r, i, 5)
	    && strtod(PQgetvalue(r, i, 4), NULL) == w->t.value
	    && strtod(PQgetvalue(r, i, 5), NULL) == w->t.threshold
	    && same_json(PQgetvalue(r, i, 2), labels)
	    && same_json(PQgetvalue(r, i, 3), ann);
}

/* A wanted alert: fired when it is not firing yet (live is NULL or the
 * row is pending), else refreshed if it changed. */
static int
want_one(eval_ctx *c, const hsi_rule *rule, hsi_alert_want *w, PGresult *live,
    int row)
{
	char *labels = json_dumps(w->labels, JSON_COMPACT | JSON_SORT_KEYS);
	char *ann    = annotations_json(&w->t, w->annotations);
	char *detail = detail_text(w->detail, w->t.kind);
	int   rv     = labels && ann && detail ? 0 : HSI_ENOMEM;
	int   firing
	    = live != NULL && strcmp(PQgetvalue(live, row, 1), "firing") == 0;
	if (rv == 0 && firing && unchanged(live, row, w, labels, ann)) {
		/* nothing to write */
	} else if (rv == 0 && firing) {
		char value[40], thr[40];
		snprintf(value, sizeof(value), "%.17g", w->t.value);
		snprintf(thr, sizeof(thr), "%.17g", w->t.threshold);
		const char *p[5]
		    = { w->t.fingerprint, labels, ann, value, thr };
		rv = hsi_db_exec(c->db, "refresh alert", sql_refresh, 5, p);
	} else if (rv == 0) {
		hsi_transition *slot = next_slot(c);
		if (slot == NULL) {
			rv = c->cap >= HSI_EVAL_MAX_TRANSITIONS ? HSI_ETOOBIG
			                                        : HSI_ENOMEM;
		} else {
			*slot       = w->t;
			slot->state = "firing";
			hsi_summary_copy(
			    slot->rule, sizeof(slot->rule), rule->name);
			rv = write_alert(
			    c, rule->name, slot, labels, ann, detail);
			c->n += rv == 0;
		}
	}
	free(labels);
	free(ann);
	free(detail);
	return rv;
}

/* Copies label key of labels (a string or an integer) into dst. */
static void
label_copy(json_t *labels, const char *key, char *dst, size_t size)
{
	json_t *v = json_object_get(labels, key);
	char    buf[32];
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		hsi_summary_copy(dst, size, buf);
	} else {
		hsi_summary_copy(
		    dst, size, json_is_string(v) ? json_string_value(v) : "");
	}
}

/* Resolves live alert row i of r: the data no longer show it. Its texts
 * are the firing ones, marked resolved, since the condition is gone. */
static int
resolve_row(eval_ctx *c, const hsi_rule *rule, PGresult *r, int i)
{
	json_t         *labels = json_loads(PQgetvalue(r, i, 2), 0, NULL);
	json_t         *ann    = json_loads(PQgetvalue(r, i, 3), 0, NULL);
	hsi_transition *slot   = next_slot(c);
	int             rv     = 0;
	if (slot == NULL || labels == NULL || ann == NULL) {
		rv = slot == NULL && c->cap >= HSI_EVAL_MAX_TRANSITIONS
		    ? HSI_ETOOBIG
		    : HSI_ENOMEM;
		goto out;
	}
	memset(slot, 0, sizeof(*slot));
	slot->state = "resolved";
	hsi_summary_copy(
	    slot->fingerprint, sizeof(slot->fingerprint), PQgetvalue(r, i, 0));
	hsi_summary_copy(slot->rule, sizeof(slot->rule), rule->name);
	hsi_summary_copy(
	    slot->kind, sizeof(slot->kind), hsi_rule_type_name(rule->type));
	label_copy(labels, json_object_get(labels, "area") ? "area" : "agency",
	    slot->area, sizeof(slot->area));
	label_copy(labels, "indicator", slot->code, sizeof(slot->code));
	label_copy(labels, "period", slot->period, sizeof(slot->period));
	slot->value
	    = PQgetisnull(r, i, 4) ? 0 : strtod(PQgetvalue(r, i, 4), NULL);
	const char *en = json_string_value(json_object_get(ann, "summary_en"));
	const char *th = json_string_value(json_object_get(ann, "summary_th"));
	char        buf[1024];
	snprintf(buf, sizeof(buf), "Resolved: %s", en ? en : "");
	hsi_summary_copy(slot->summary_en, sizeof(slot->summary_en), buf);
	snprintf(buf, sizeof(buf), "คลี่คลายแล้ว: %s", th ? th : "");
	hsi_summary_copy(slot->summary_th, sizeof(slot->summary_th), buf);
	json_object_set_new(ann, "summary", json_string(slot->summary_en));
	json_object_set_new(ann, "summary_en", json_string(slot->summary_en));
	json_object_set_new(ann, "summary_th", json_string(slot->summary_th));
	json_t *d    = json_pack("{s:s}", "reason", "no longer detected");
	char   *annt = json_dumps(ann, JSON_COMPACT | JSON_REAL_PRECISION(12));
	char   *detail = detail_text(d, slot->kind);
	json_decref(d);
	rv = annt && detail
	    ? write_alert(c, rule->name, slot, "", annt, detail)
	    : HSI_ENOMEM;
	c->n += rv == 0;
	free(annt);
	free(detail);
out:
	json_decref(labels);
	json_decref(ann);
	return rv;
}

static int
want_cmp(const void *a, const void *b)
{
	const hsi_alert_want *x = a, *y = b;
	return strcmp(x->t.fingerprint, y->t.fingerprint);
}

int
hsi_eval_reconcile(eval_ctx *c, const hsi_rule *rule, const char *scope_label,
    const char *scope_value, hsi_alert_want *want, size_t n)
{
	const char *p[3] = { rule->name, scope_label ? scope_label : "",
		scope_value ? scope_value : "" };
	PGresult   *r    = hsi_db_query(c->db, "live alerts", sql_live, 3, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	/* Both sides sorted by fingerprint: one merge pass. */
	if (n > 1) {
		qsort(want, n, sizeof(*want), want_cmp);
	}
	int    rows = PQntuples(r), i = 0, rv = 0;
	size_t k = 0;
	while (rv == 0 && (i < rows || k < n)) {
		int cmp = i >= rows ? 1
		    : k >= n
		    ? -1
		    : strcmp(PQgetvalue(r, i, 0), want[k].t.fingerprint);
		if (cmp < 0) {
			rv = resolve_row(c, rule, r, i++);
		} else if (cmp > 0) {
			rv = want_one(c, rule, &want[k++], NULL, 0);
		} else {
			rv = want_one(c, rule, &want[k++], r, i++);
		}
	}
	PQclear(r);
	return rv;
}

/* The score rules when c->period is set, the data rules for c->years,
 * late_data when c->late is set (hsi_eval_data). */
static int
eval_rules(eval_ctx *c, const hsi_rules *rules)
{
	for (size_t i = 0; i < hsi_rules_count(rules); i++) {
		const hsi_rule *rule = hsi_rules_get(rules, i);
		int             rv   = 0;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (hsi_rule_on_scores(rule)) {
			rv = c->period != NULL && c->methodology > 0
			    ? eval_rule(c, rule)
			    : 0;
		} else if (rule->type == HSI_RULE_LATE_DATA) {
			/* Data and the clock change it, not scores. */
			rv = c->late ? hsi_check_late(c, rule) : 0;
		} else if (rule->type == HSI_RULE_SUSPICIOUS) {
			for (size_t k = 0; rv == 0 && k < c->n_years; k++) {
				rv = hsi_check_suspicious(
				    c, rule, c->years[k]);
			}
		} else if (rule->type == HSI_RULE_SPIKE && c->n_years > 0) {
			rv = hsi_check_spike(c, rule, c->years[0]);
		}
		if (rv != 0) {
			return rv;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		hsi_log_debug("rule evaluated", "{s:s, s:s, s:f}", "rule",
		    rule->name, "type", hsi_rule_type_name(rule->type), "ms",
		    (double) (t1.tv_sec - t0.tv_sec) * 1e3
		        + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
	return 0;
}

static int
eval_all(eval_ctx *c, const hsi_rules *rules)
{
	int rv;
	if ((rv = hsi_db_exec(c->db, "begin", "BEGIN", 0, NULL)) != 0
	    || (rv = hsi_db_exec(c->db, "alerter lock",
	            "SELECT pg_advisory_xact_lock(" ALERTER_LOCK ")", 0, NULL))
	        != 0) {
		return rv;
	}
	rv = active_methodology(c->db, &c->methodology);
	if (rv == HSI_ENOENT) {
		c->methodology = 0; /* the data rules still apply */
	} else if (rv != 0) {
		return rv;
	}
	snprintf(c->mstr, sizeof(c->mstr), "%d", c->methodology);
	if ((rv = eval_rules(c, rules)) != 0) {
		return rv;
	}
	/* notifications commit with their transitions */
	if ((rv = hsi_notify_enqueue(c->db, rules, c->t, c->n)) != 0) {
		return rv;
	}
	return hsi_db_exec(c->db, "commit", "COMMIT", 0, NULL);
}

static int
eval_run(eval_ctx *c, const hsi_rules *rules, hsi_transition **out, size_t *n)
{
	int rv = eval_all(c, rules);
	if (rv != 0) {
		PQclear(PQexec(c->db, "ROLLBACK"));
		free(c->t);
		return rv;
	}
	*out = c->t;
	*n   = c->n;
	return 0;
}

int
hsi_eval_period(PGconn *db, const hsi_rules *rules, const char *period,
    hsi_transition **out, size_t *n)
{
	eval_ctx   c;
	hsi_period p;
	int        year = 0;
	memset(&c, 0, sizeof(c));
	c.db       = db;
	c.period   = period;
	c.now_unix = (int64_t) time(NULL);
	/* New scores change the suspicious values' impact on their dimension:
	 * the data rules of that year look again. */
	if (hsi_period_parse(period, strlen(period), &p, NULL) == 0
	    && (p.freq == HSI_FREQ_ANNUAL || p.freq == HSI_FREQ_FISCAL)) {
		year      = p.year;
		c.years   = &year;
		c.n_years = 1;
	}
	return eval_run(&c, rules, out, n);
}

/* 1 if year's changes in the window are those m saw last time. */
static int
seen(const hsi_eval_mark *m, int year, long count, const char *newest)
{
	for (int i = 0; i < m->n; i++) {
		if (m->year[i].year == year) {
			return m->year[i].count == count
			    && strcmp(m->year[i].newest, newest) == 0;
		}
	}
	return 0;
}

int
hsi_eval_data(PGconn *db, const hsi_rules *rules, hsi_eval_mark *m, int late,
    hsi_transition **out, size_t *n)
{
	char        slack[16];
	const char *p[2] = { m->mark[0] ? m->mark : "-infinity", slack };
	snprintf(slack, sizeof(slack), "%d", HSI_EVAL_MARK_SLACK_S);
	PGresult *r = hsi_db_query(db, "changed years",
	    "SELECT year, count(*), max(updated_at)::text,"
	    " (max(max(updated_at)) OVER ())::text FROM observation "
	    "WHERE updated_at > $1::timestamptz - $2::int * interval '1 "
	    "second' "
	    "GROUP BY year ORDER BY year",
	    2, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int  rows = PQntuples(r), k = 0;
	int *years = malloc((size_t) (rows > 0 ? rows : 1) * sizeof(*years));
	if (years == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		int year = atoi(PQgetvalue(r, i, 0));
		if (!seen(m, year, atol(PQgetvalue(r, i, 1)),
		        PQgetvalue(r, i, 2))) {
			years[k++] = year;
		}
	}
	eval_ctx c;
	memset(&c, 0, sizeof(c));
	c.db       = db;
	c.years    = years;
	c.late     = late;
	c.n_years  = (size_t) k;
	c.now_unix = (int64_t) time(NULL);
	int rv     = eval_run(&c, rules, out, n);
	free(years);
	if (rv == 0 && rows > 0) {
		snprintf(m->mark, sizeof(m->mark), "%s", PQgetvalue(r, 0, 3));
		m->n = rows < HSI_EVAL_MARK_YEARS ? rows : HSI_EVAL_MARK_YEARS;
		for (int i = 0; i < m->n; i++) {
			m->year[i].year  = atoi(PQgetvalue(r, i, 0));
			m->year[i].count = atol(PQgetvalue(r, i, 1));
			snprintf(m->year[i].newest, sizeof(m->year[i].newest),
			    "%s", PQgetvalue(r, i, 2));
		}
	}
	PQclear(r);
	return rv;
}

/* Rows of (period, max event_seq) of the active methodology's scores. */
static PGresult *
periods_since(PGconn *db, uint64_t after_seq, int *rv)
{
	int  m;
	char mstr[16], seq[24];
	if ((*rv = active_methodology(db, &m)) != 0) {
		return NULL;
	}
	snprintf(mstr, sizeof(mstr), "%d", m);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long) after_seq);
	const char *p[2] = { mstr, seq };
	PGresult   *r    = hsi_db_query(db, "changed periods",
	         "SELECT period, max(event_seq) FROM score_area "
	              "WHERE methodology = $1::int AND event_seq > $2::bigint "
	              "GROUP BY period",
	         2, p);
	*rv              = r ? 0 : HSI_EDB;
	return r;
}

int
hsi_eval_latest(PGconn *db, char *period, uint64_t *max_seq)
{
	int       rv;
	PGresult *r = periods_since(db, 0, &rv);
	if (r == NULL) {
		return rv;
	}
	long     best_day = -1;
	uint64_t seq      = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *s = PQgetvalue(r, i, 0);
		hsi_period  p;
		long        first, last;
		uint64_t    q = strtoull(PQgetvalue(r, i, 1), NULL, 10);
		seq           = q > seq ? q : seq;
		if (hsi_period_parse(s, strlen(s), &p, NULL) != 0) {
			continue; /* not ours to judge; the scorer wrote it */
		}
		hsi_period_range(&p, &first, &last);
		if (last > best_day) {
			best_day = last;
			hsi_period_format(&p, period, HSI_PERIOD_MAX);
		}
	}
	PQclear(r);
	if (best_day < 0) {
		return HSI_ENOENT;
	}
	*max_seq = seq;
	return 0;
}

int
hsi_eval_changed(PGconn *db, uint64_t after_seq, uint64_t *max_seq,
    int (*fn)(void *arg, const char *period), void *arg)
{
	int       rv;
	PGresult *r = periods_since(db, after_seq, &rv);
	if (r == NULL) {
		return rv;
	}
	uint64_t seq = after_seq;
	for (int i = 0; rv == 0 && i < PQntuples(r); i++) {
		uint64_t q = strtoull(PQgetvalue(r, i, 1), NULL, 10);
		if ((rv = fn(arg, PQgetvalue(r, i, 0))) == 0 && q > seq) {
			seq = q;
		}
	}
	PQclear(r);
	if (rv == 0) {
		*max_seq = seq;
	}
	return rv;
}
