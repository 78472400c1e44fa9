/*
 * eval.h: evaluating the rules for one period against PostgreSQL.
 *
 * The alert state lives in the alert table, keyed by a fingerprint (hex
 * SHA-256 of "rule|area|code|period", or of "rule|area|code" for rules
 * whose alerts span periods, hsi_rule_spans), so evaluation is a pure function
 * of the scores and the stored state: evaluating the same period twice
 * changes nothing the second time, which is what makes duplicate and
 * replayed ScoreEvents harmless.
 */
#ifndef HSI_ALERTER_EVAL_H
#define HSI_ALERTER_EVAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "period.h"
#include "rules.h"

/* Most transitions one evaluation may produce before it gives up. */
#define HSI_EVAL_MAX_TRANSITIONS (1u << 20)

/* One state change, committed; what the alerter publishes. */
typedef struct {
	uint64_t      seq; /* alert_event.seq */
	int64_t       at_unix_ms;
	char          fingerprint[65];
	const char   *state; /* "firing" or "resolved" (static) */
	char          rule[HSI_RULE_NAME_MAX];
	char          code[HSI_RULE_NAME_MAX];
	char          period[HSI_PERIOD_MAX];
	char          area[32];
	char          area_en[128]; /* area names, for the summaries */
	char          area_th[192];
	char          what_en[160]; /* "composite index", "Health dimension" */
	char          what_th[192];
	hsi_rule_op   op;
	double        value;
	double        threshold; /* threshold rules; "drop" of deterioration */
	int           methodology;
	hsi_rule_type type;
	int           rank_fall; /* deterioration rules: the rule's */
	int           has_delta; /* deterioration: the period's change */
	double        delta;
	int           has_rank;
	int           rank_delta;
	char kind[16];        /* "score", "late_data", "suspicious", "spike" */
	char summary_en[512]; /* filled when written */
	char summary_th[768];
} hsi_transition;

/*
 * Evaluates every rule for period (canonical form) under the active
 * methodology, in one transaction: breached areas fire (insert, or
 * re-fire a resolved alert), firing areas no longer breached resolve;
 * each change writes an alert_event row. Areas without a value are left
 * as they are. Rules whose alerts span periods (hsi_rule_spans) replay
 * each area's score history of period's frequency, oldest first, up to
 * its latest period, and move the stored alert to the state that history
 * ends in: pending (breached, fewer than for_periods in a row; written
 * with an alert_event but not returned), firing, or resolved. A pending
 * alert whose breach ends is marked resolved with an event "cancelled",
 * also not returned. On success returns 0 and *out and *n (the committed
 * changes in order; free *out with free(); *out may be NULL when n is 0).
 * Returns HSI_ENOENT when no methodology is active, HSI_EDB (rolled back,
 * logged), HSI_ENOMEM or HSI_ETOOBIG.
 */
int hsi_eval_period(PGconn *db, const hsi_rules *rules, const char *period,
    hsi_transition **out, size_t *n);

/*
 * Where hsi_eval_data stands: the newest change it has seen, and per year
 * the number and newest time of the changes inside the slack window, so
 * a year is judged again only when something in it changed.
 */
#define HSI_EVAL_MARK_MAX 64
#define HSI_EVAL_MARK_SLACK_S 120
#define HSI_EVAL_MARK_YEARS 64
typedef struct {
	char mark[HSI_EVAL_MARK_MAX]; /* "" at first: every year */
	int  n;
	struct {
		int  year;
		long count;
		char newest[HSI_EVAL_MARK_MAX];
	} year[HSI_EVAL_MARK_YEARS];
} hsi_eval_mark;

/*
 * Evaluates the rules that judge submitted data (suspicious, spike) for
 * every year whose observations changed since m, and, with late set,
 * late_data, in one transaction. A transaction's updated_at is its start
 * time and one that started earlier can commit later, so the changes of
 * the last HSI_EVAL_MARK_SLACK_S before the mark are looked at again; a
 * year whose changes there are the same (count and newest time) as last
 * time is not judged again. On success m moves on. Same contract as
 * hsi_eval_period otherwise.
 */
int hsi_eval_data(PGconn *db, const hsi_rules *rules, hsi_eval_mark *m,
    int late, hsi_transition **out, size_t *n);

/* The rules version recorded in alert_rules that evaluations cite in
 * their alert_event details (0: none recorded). Set by the alerter. */
void hsi_eval_set_rules_version(int version);

/*
 * The latest period (by its last day) that has scores under the active
 * methodology, into period (HSI_PERIOD_MAX bytes), and the highest
 * event_seq of that methodology's scores. Returns 0, HSI_ENOENT (no
 * active methodology or no scores) or HSI_EDB.
 */
int hsi_eval_latest(PGconn *db, char *period, uint64_t *max_seq);

/*
 * Periods of the active methodology with scores whose event_seq is above
 * after_seq: calls fn for each (stopping at the first non-zero return,
 * which it returns) and writes the highest event_seq seen to *max_seq
 * (after_seq when none). Returns 0, HSI_EDB or fn's error.
 */
int hsi_eval_changed(PGconn *db, uint64_t after_seq, uint64_t *max_seq,
    int (*fn)(void *arg, const char *period), void *arg);

#endif
