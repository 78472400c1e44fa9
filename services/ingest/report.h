/*
 * report.h: the verdict of one file for the agency officer, as JSON beside
 * the file (NAME.report.json) and as text on stderr.
 */
#ifndef HSI_REPORT_H
#define HSI_REPORT_H

#include "hsi.pb-c.h"
#include "validate.h"

/*
 * Writes path (the report file) from the node's validation (b) and, when
 * the scorer answered, its verdict v (may be NULL). state is "applied",
 * "rejected" or "dry-run". Returns 0 or HSI_EIO.
 */
int hsi_report_write(const char *path, const char *file, const char *state,
    const hsi_batch *b, const Hsi__FileVerdict *v);

/* Prints each issue as "file:line:col: CODE field 'value': message". */
void hsi_report_print(const char *file, const hsi_batch *b);

#endif
