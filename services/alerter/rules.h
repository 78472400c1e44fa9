/*
 * rules.h: the alerter's threshold rules.
 *
 * A rule watches one score (level + code, e.g. index/hsi or group/health)
 * for every area of one level and breaches when the value compares to a
 * threshold with op. Rules come from a JSON file (rules_file):
 *   {"rules":[{"name":"composite_low","level":"index","code":"hsi",
 *              "op":"<","threshold":0.45,"area_level":"province"}]}
 * validated strictly (every key required, no unknown key, no duplicate
 * name), or, without a file, from the built-in default: exactly that rule.
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

/* One rule; a plain record, owned by its hsi_rules. */
typedef struct {
	char        name[HSI_RULE_NAME_MAX];
	char        level[16]; /* index, group, indicator */
	char        code[HSI_RULE_NAME_MAX];
	hsi_rule_op op;
	double      threshold;
	char        area_level[16]; /* nation, region, province, ... */
} hsi_rule;

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

/* 1 if value breaches rule, else 0. */
int hsi_rule_breached(const hsi_rule *rule, double value);

/* "<", "<=", ">", ">=". */
const char *hsi_rule_op_name(hsi_rule_op op);

#endif
