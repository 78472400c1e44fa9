/*
 * summary.h: the one-line English and Thai texts of an alert, e.g.
 *   "Nan (55): composite index 0.3812 below 0.45 in 2024"
 *   "น่าน: ดัชนีรวม 0.3812 ต่ำกว่าเกณฑ์ 0.45 ปี 2567"
 * Thai readers expect Buddhist-era years, so the Thai text shows year+543.
 */
#ifndef HSI_ALERTER_SUMMARY_H
#define HSI_ALERTER_SUMMARY_H

#include <stddef.h>

#include "eval.h"

/*
 * Writes what the rule watches into t->what_en / t->what_th, from the
 * rule's level and code and the names of that dimension or indicator
 * (name_en / name_th, either may be NULL when unknown).
 */
void hsi_summary_what(hsi_transition *t, const char *level,
    const char *name_en, const char *name_th);

/* Formats t's summaries (NUL-terminated, truncated at a UTF-8 boundary). */
void hsi_summary_format(const hsi_transition *t, char *en, size_t en_size,
    char *th, size_t th_size);

/* Copies src into dst (size bytes with NUL), never cutting a UTF-8
 * sequence in half. */
void hsi_summary_copy(char *dst, size_t size, const char *src);

#endif
