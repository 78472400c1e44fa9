/*
 * fuzz_rules.c: libFuzzer target for hsi_rules_parse (the alerter's rules
 * file: rules and receivers). A parse must fail with a message, or give
 * rules that can be read back; receivers' secret files are not read for
 * names that do not exist, so the input cannot reach the file system
 * beyond a failed open.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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
		if (hsi_rules_get(r, i) == NULL) {
			abort();
		}
	}
	hsi_rules_free(r);
	return 0;
}
