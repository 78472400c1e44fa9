/*
 * fuzz_period.c: libFuzzer target for hsi_period_parse. Any input must be
 * parsed or refused without a memory error; a parsed period must format to
 * a canonical form that parses back to the same period, and a refusal must
 * come with a message and an offset inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "period.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_refusal(int rv, const hsi_period_err *err, size_t size)
{
	if (rv != HSI_EINVAL && rv != HSI_ERANGE) {
		abort();
	}
	if (err->msg[0] == '\0' || strlen(err->msg) >= sizeof err->msg
	    || err->offset > size) {
		abort();
	}
}

static void
check_round_trip(const hsi_period *p)
{
	char           buf[HSI_PERIOD_MAX];
	hsi_period     q;
	hsi_period_err err;
	long           first, last;
	hsi_period_format(p, buf, sizeof buf);
	if (hsi_period_parse(buf, strlen(buf), &q, &err) != 0
	    || memcmp(p, &q, sizeof q) != 0) {
		abort();
	}
	hsi_period_range(p, &first, &last);
	if (first > last) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hsi_period     p;
	hsi_period_err err = { .msg = "" };
	int rv = hsi_period_parse((const char *) data, size, &p, &err);
	if (rv != 0) {
		check_refusal(rv, &err, size);
		return 0;
	}
	check_round_trip(&p);
	return 0;
}
