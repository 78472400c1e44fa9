/*
 * fuzz_csv.c: libFuzzer target for the CSV reader. Every record of any
 * input is read (errors included, since the reader must resynchronise
 * after them); every field must be valid UTF-8 with len == strlen(ptr),
 * and every error must carry a code, a message and a line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_row(const hsi_csv_row *row)
{
	if (row->nfields == 0 || row->line == 0) {
		abort();
	}
	for (size_t i = 0; i < row->nfields; i++) {
		const hsi_csv_field *f = &row->fields[i];
		if (strlen(f->ptr) != f->len
		    || hsi_utf8_check(f->ptr, f->len) != 0
		    || f->line < row->line || f->col == 0) {
			abort();
		}
	}
}

static void
check_err(int rv, const hsi_csv_err *err)
{
	if (rv != -HSI_EINVAL && rv != -HSI_EENCODING && rv != -HSI_ETOOBIG) {
		abort();
	}
	if (err->code[0] == '\0' || err->msg[0] == '\0' || err->line == 0
	    || err->col == 0) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small limits so the fuzzer reaches them; the first byte varies
	 * them a little. */
	hsi_csv_limits lim = {
		.max_fields = 8, .max_field_bytes = 64, .max_record_bytes = 256
	};
	hsi_csv *c;
	int      rv;
	if (size > 0 && (data[0] & 1)) {
		lim = (hsi_csv_limits) { 0 }; /* defaults */
	}
	if (hsi_csv_open((const char *) data, size, &lim, &c) != 0) {
		abort();
	}
	/* Each call either ends or consumes input, so size + 1 calls are
	 * enough; more means the reader is stuck. */
	for (size_t n = 0;; n++) {
		hsi_csv_row row;
		hsi_csv_err err = { .code = "" };
		if (n > size + 1) {
			abort();
		}
		if ((rv = hsi_csv_next(c, &row, &err)) == 0) {
			break;
		}
		if (rv == 1) {
			check_row(&row);
		} else {
			check_err(rv, &err);
		}
	}
	hsi_csv_close(c);
	return 0;
}
