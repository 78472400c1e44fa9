/*
 * fuzz_token.c: libFuzzer target for hsi_token_parse, which reads the
 * Authorization header of every request to hsi-api. Any input must be
 * parsed or refused without a memory error; a refusal leaves the output
 * untouched, and a parsed token formats to a text that parses back to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char raw[HSI_TOKEN_BYTES], back[HSI_TOKEN_BYTES];
	char          text[HSI_TOKEN_TEXT_SIZE];
	char         *s = malloc(size + 1);
	if (s == NULL) {
		return 0;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	memset(raw, 0x5A, sizeof(raw));
	int rv = hsi_token_parse(s, raw);
	free(s);
	if (rv != 0) {
		for (size_t i = 0; i < sizeof(raw); i++) {
			if (rv != HSI_EAUTH || raw[i] != 0x5A) {
				abort();
			}
		}
		return 0;
	}
	hsi_token_format(raw, text);
	if (hsi_token_parse(text, back) != 0
	    || memcmp(raw, back, sizeof(raw)) != 0) {
		abort();
	}
	return 0;
}
