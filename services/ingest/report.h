/*
 * report.h: the verdict of one file for the agency officer, as JSON beside
 * the file (NAME.report.json) and as text on the terminal. The node's own
 * findings are written when the file is committed; the scorer's verdict
 * is merged in when it arrives, possibly after a restart, so the report on
 * disk is the only state it needs.
 */
#ifndef HSI_REPORT_H
#define HSI_REPORT_H

#include <jansson.h>

#include "hsi.pb-c.h"
#include "validate.h"

/* The node's findings for file (state: "sending", "rejected",
 * "dry-run"). Returns a new object or NULL. */
json_t *hsi_report_local(
    const char *file, const char *state, const hsi_batch *b);

/* Merges the scorer's verdict into report and sets its state. */
void hsi_report_central(json_t *report, const Hsi__FileVerdict *v);

/* Writes report to path (via a temporary name): 0 or HSI_EIO. */
int hsi_report_save(const json_t *report, const char *path);

/* Prints each issue as "file:line:col: CODE field 'value': message". */
void hsi_report_print(const char *file, const hsi_batch *b);

#endif
