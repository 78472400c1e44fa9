/*
 * rules.h: the alerter's threshold rules.
 *
 * A rule watches one score (level + code, e.g. index/hsi or group/health)
 * for every area of one level and breaches when the value compares to a
 * threshold with op. Rules come from a JSON file (rules_file):
 *   {"rules":[{"name":"composite_low","level":"index","code":"hsi",
 *              "op":"<","threshold":0.45,"area_level":"province"}]}
 * validated strictly (no unknown key, no duplicate name), or, without a
 * file, from the built-in default: exactly that rule. Optional keys add
 * hysteresis ("for_periods", "clear_periods", "deadband") and a second
 * rule type, "type":"deterioration" (a year-on-year fall: "drop" on the
 * value's delta and/or "rank_fall" ranks); see docs/alerting.md, "Rules".
 * The same file may list "receivers" (receivers.h) for notifications.
 */
#ifndef HSI_ALERTER_RULES_H
#define HSI_ALERTER_RULES_H

#include <stddef.h>

#include "receivers.h"

/* Largest rules file read, and most rules in one file. */
#define HSI_RULES_MAX_BYTES (1024 * 1024)
#define HSI_RULES_MAX 256
#define HSI_RULE_NAME_MAX 64 /* bytes with NUL, for name and code */

typedef enum {
	HSI_OP_LT = 0, /* "<" */
	HSI_OP_LE,     /* "<=" */
	HSI_OP_GT,     /* ">" */
	HSI_OP_GE,     /* ">=" */
} hsi_rule_op;

typedef enum {
	HSI_RULE_THRESHOLD = 0, /* "threshold": value compared with op */
	HSI_RULE_DETERIORATION, /* "deterioration": year-on-year fall */
	HSI_RULE_LATE_DATA,     /* "late_data": data past its due date */
	HSI_RULE_SUSPICIOUS,    /* "suspicious": outliers at submission */
	HSI_RULE_SPIKE,         /* "spike": a daily series' excess */
} hsi_rule_type;

/* Limits of the optional keys (docs/alerting.md, "Rules"). */
#define HSI_RULE_PERIODS_MAX 100      /* for_periods, clear_periods */
#define HSI_RULE_RANK_FALL_MAX 100000 /* rank_fall */
#define HSI_RULE_AGENCIES_MAX 32      /* late_data "agencies" */
#define HSI_RULE_INDICATORS_MAX 64    /* late_data "indicators" */
#define HSI_RULE_DAYS_MAX 3660        /* day counts of late_data, spike */
#define HSI_INHIBIT_MAX 16            /* "inhibit" entries */
#define HSI_INHIBIT_MATCHERS_MAX 8    /* matchers of a source/target */
#define HSI_INHIBIT_EQUAL_MAX 8       /* labels of "equal" */
#define HSI_LABEL_MAX 64              /* bytes with NUL of a label name */
#define HSI_MATCHER_TEXT_MAX 330      /* name, op, value (256) and NUL */

/* One rule; a plain record, owned by its hsi_rules. */
typedef struct {
	char          name[HSI_RULE_NAME_MAX];
	hsi_rule_type type;
	char          level[16]; /* index, group, indicator */
	char          code[HSI_RULE_NAME_MAX];
	hsi_rule_op   op;             /* threshold rules */
	double        threshold;      /* threshold rules */
	char          area_level[16]; /* nation, region, province, ... */
	int           for_periods;    /* >= 1; default 1 */
	int           clear_periods;  /* >= 1; default 1 */
	double        deadband;       /* >= 0; threshold rules; default 0 */
	double        drop;      /* deterioration: > 0, or 0 when not set */
	int           rank_fall; /* deterioration: >= 1, or 0 when not set */
	/* late_data: agencies watched (none listed: all), grace days by
	 * hsi_freq (-1: the default of quality.h), reminder lead, the
	 * window of due days looked at, and the completeness below which
	 * a period is late */
	char   agencies[HSI_RULE_AGENCIES_MAX][17];
	int    n_agencies;
	char   indicators[HSI_RULE_INDICATORS_MAX][33]; /* none: all */
	int    n_indicators;
	int    grace_days[6];
	int    remind_days;
	int    lookback_days;
	double min_completeness;
	/* suspicious: robust z limit, year-on-year factor (0: off), least
	 * number of areas for a z, least |impact| on the dimension score
	 * to report (0: any). code is empty for every indicator. */
	double z;
	double jump_factor;
	int    min_n;
	int    lookback_years; /* judge years from this many back (0: all) */
	/* spike (also z above): weeks of same-weekday history, the least
	 * number of them, factor over the baseline, least excess */
	int    weeks;
	int    min_weeks;
	double factor;
	double min_excess;
} hsi_rule;

/*
 * One inhibition: while an alert matching every source matcher fires,
 * a notification of an alert matching every target matcher with the same
 * values of the equal labels is held back (Alertmanager's inhibit_rules).
 * Matchers are kept as text ("level=index") and compiled by the alerter
 * (alertops.h syntax).
 */
typedef struct {
	char source[HSI_INHIBIT_MATCHERS_MAX][HSI_MATCHER_TEXT_MAX];
	int  n_source;
	char target[HSI_INHIBIT_MATCHERS_MAX][HSI_MATCHER_TEXT_MAX];
	int  n_target;
	char equal[HSI_INHIBIT_EQUAL_MAX][HSI_LABEL_MAX];
	int  n_equal;
} hsi_inhibit;

typedef struct hsi_rules hsi_rules;

/*
 * Loads the rules file at path, or the built-in default when path is NULL.
 * Returns 0 and *out (free with hsi_rules_free), or HSI_EIO, HSI_ETOOBIG,
 * HSI_EINVAL with err naming the file, the rule index and the key.
 */
int hsi_rules_load(
    const char *path, hsi_rules **out, char *err, size_t err_size);

/*
 * Parses len bytes of JSON text; src names the input in messages. Same
 * contract as hsi_rules_load (used by it, by tests and by the fuzzer).
 */
int hsi_rules_parse(const char *text, size_t len, const char *src,
    hsi_rules **out, char *err, size_t err_size);

void hsi_rules_free(hsi_rules *rules);

size_t hsi_rules_count(const hsi_rules *rules);

/* The i-th rule (i < hsi_rules_count), valid while rules lives. */
const hsi_rule *hsi_rules_get(const hsi_rules *rules, size_t i);

/* How many receivers the file lists (0 without "receivers"). */
size_t hsi_rules_receiver_count(const hsi_rules *rules);

/* The i-th receiver (i < hsi_rules_receiver_count), valid while rules
 * lives. */
const hsi_receiver *hsi_rules_receiver(const hsi_rules *rules, size_t i);

/* The document the rules were parsed from (NUL-terminated, *len bytes),
 * recorded in alert_rules as the rules' version. */
const char *hsi_rules_text(const hsi_rules *rules, size_t *len);

/* How many inhibitions apply: the file's "inhibit", or the default one
 * (a composite alert holds back the dimension alerts of the same area and
 * methodology) when the file has none; "inhibit": [] turns it off. */
size_t             hsi_rules_inhibit_count(const hsi_rules *rules);
const hsi_inhibit *hsi_rules_inhibit(const hsi_rules *rules, size_t i);

/* Hours between repeats of a firing alert's notification while nobody
 * has acknowledged it ("repeat_hours", default 24; 0: never repeat). */
int hsi_rules_repeat_hours(const hsi_rules *rules);

/* 1 if the rule is evaluated from scores (threshold, deterioration). */
int hsi_rule_on_scores(const hsi_rule *rule);

/* "threshold", "deterioration", "late_data", "suspicious", "spike". */
const char *hsi_rule_type_name(hsi_rule_type type);

/* 1 if value breaches threshold rule rule, else 0. */
int hsi_rule_breached(const hsi_rule *rule, double value);

/* 1 if value is back on the safe side of a threshold rule's threshold by
 * at least its deadband (with deadband 0: exactly !hsi_rule_breached). */
int hsi_rule_cleared(const hsi_rule *rule, double value);

/*
 * 1 if a deterioration rule is breached by a change of delta in value and
 * of rank_delta ranks (has_delta / has_rank say whether each exists;
 * a missing change never breaches), else 0.
 */
int hsi_rule_deteriorated(const hsi_rule *rule, int has_delta, double delta,
    int has_rank, int rank_delta);

/*
 * 1 if the rule's alerts span periods: deterioration rules, and threshold
 * rules with for_periods or clear_periods above 1 or a deadband. Their
 * identity is rule|area|code and their state is replayed from the score
 * history; other rules keep one alert per rule|area|code|period.
 */
int hsi_rule_spans(const hsi_rule *rule);

/* "<", "<=", ">", ">=". */
const char *hsi_rule_op_name(hsi_rule_op op);

#endif
