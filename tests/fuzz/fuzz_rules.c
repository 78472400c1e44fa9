/*
 * fuzz_rules.c: libFuzzer target for hsi_rules_parse (the alerter's rules
 * file: rules of every type, receivers, inhibitions, repeat_hours). A
 * parse must fail with a message, or give rules that can be read back:
 * the document text byte for byte, counts within their limits; receivers'
 * secret files are not read for names that do not exist, so the input
 * cannot reach the file system beyond a failed open.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hsi_rules *r = NULL;
	char       err[512];
	err[0] = '\0';
	if (hsi_rules_parse(
	        (const char *) data, size, "fuzz", &r, err, sizeof(err))
	    != 0) {
		if (r != NULL || err[0] == '\0') {
			abort();
		}
		return 0;
	}
	for (size_t i = 0; i < hsi_rules_count(r); i++) {
		const hsi_rule *rule = hsi_rules_get(r, i);
		if (rule == NULL || hsi_rule_type_name(rule->type)[0] == '?') {
			abort();
		}
	}
	size_t      len;
	const char *text = hsi_rules_text(r, &len);
	if (len != size || memcmp(text, data, size) != 0 || text[len] != '\0'
	    || hsi_rules_repeat_hours(r) < 0
	    || hsi_rules_repeat_hours(r) > 8760
	    || hsi_rules_inhibit_count(r) > HSI_INHIBIT_MAX) {
		abort();
	}
	for (size_t i = 0; i < hsi_rules_inhibit_count(r); i++) {
		const hsi_inhibit *h = hsi_rules_inhibit(r, i);
		if (h == NULL || h->n_source < 1
		    || h->n_source > HSI_INHIBIT_MATCHERS_MAX
		    || h->n_target < 1
		    || h->n_target > HSI_INHIBIT_MATCHERS_MAX || h->n_equal < 0
		    || h->n_equal > HSI_INHIBIT_EQUAL_MAX) {
			abort();
		}
	}
	for (size_t i = 0; i < hsi_rules_receiver_count(r); i++) {
		if (hsi_rules_receiver(r, i) == NULL) {
			abort();
		}
	}
	hsi_rules_free(r);
	return 0;
}
