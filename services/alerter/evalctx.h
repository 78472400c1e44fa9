/*
 * evalctx.h: what the alert rules share while one evaluation runs
 * (eval.c for the score rules, checks.c for the data rules): the open
 * transaction, the transitions so far, and writing alerts.
 *
 * The data rules (late_data, suspicious, spike) decide, for a scope (a
 * rule, or a rule and a label value such as year=2024), the complete set
 * of alerts that should be firing; hsi_eval_reconcile then fires what is
 * new, quietly refreshes what still fires (values and texts change, the
 * state does not, so nobody is notified again) and resolves what is no
 * longer wanted. Evaluating twice therefore changes nothing the second
 * time, as for the score rules.
 */
#ifndef HSI_ALERTER_EVALCTX_H
#define HSI_ALERTER_EVALCTX_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "eval.h"
#include "rules.h"

typedef struct {
	PGconn         *db;
	int             methodology; /* 0 when none is active */
	char            mstr[16];
	const char     *period; /* score rules' period, or NULL */
	const int      *years;  /* data rules' changed years (n_years) */
	size_t          n_years;
	int             late; /* evaluate late_data */
	int64_t         now_unix;
	hsi_transition *t;
	size_t          n, cap;
} hsi_eval_ctx;

/* One alert a data rule wants firing. t holds the texts and the values
 * (fingerprint, rule, code, area, period, value, threshold, summary_en,
 * summary_th, kind); labels (strings and integers), extra annotations
 * and the event detail are borrowed. */
typedef struct {
	hsi_transition t;
	json_t        *labels;
	json_t *annotations; /* added to summary/summary_th; may be NULL */
	json_t *detail;      /* may be NULL */
} hsi_alert_want;

/* Hex SHA-256 of text: an alert's fingerprint (out: 65 bytes). */
void hsi_eval_fingerprint(const char *text, char *out);

/*
 * Makes the live alerts of rule whose label scope_label equals
 * scope_value (every live alert of the rule when scope_label is NULL) be
 * exactly want[0..n): see the file comment. Returns 0, HSI_EDB,
 * HSI_ENOMEM or HSI_ETOOBIG.
 */
int hsi_eval_reconcile(hsi_eval_ctx *c, const hsi_rule *rule,
    const char *scope_label, const char *scope_value, hsi_alert_want *want,
    size_t n);

/* The data rules (checks.c). Each returns 0 or an error as above. */
int hsi_check_late(hsi_eval_ctx *c, const hsi_rule *rule);
int hsi_check_suspicious(hsi_eval_ctx *c, const hsi_rule *rule, int year);
int hsi_check_spike(hsi_eval_ctx *c, const hsi_rule *rule, int year);

#endif
