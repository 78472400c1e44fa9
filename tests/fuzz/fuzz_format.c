/*
 * fuzz_format.c: libFuzzer target for one file reader over the embedded
 * catalog (loaded once). The first byte picks the agency; the rest is the
 * file. Whatever the input, every row kept must be one the scorer would
 * accept (hsi_validate_obs agrees, period canonical, area known), every
 * line read is either kept or counted bad, issues stay within
 * HSI_MAX_ISSUES, and hsi_batch_fini frees everything.
 */
/* Built once per reader: -DHSI_FUZZ_READER=hsi_validate_jsonl (JSON lines),
 * =hsi_validate_sdmx (SDMX-CSV) or =fuzz_json_rows (the REST gateway's
 * JSON body, with HSI_FUZZ_JSON_ROWS); see tests/CMakeLists.txt. */
#ifndef HSI_FUZZ_READER
#error "define HSI_FUZZ_READER (hsi_validate_jsonl or hsi_validate_sdmx)"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "format.h"
#include "period.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hsi_catalog *cat;

static void
free_cat(void)
{
	hsi_catalog_free(cat);
}

static void
check_obs(const char *agency, const hsi_obs *o)
{
	hsi_obs    copy = *o;
	hsi_issue  iss;
	hsi_period p;
	char       canon[HSI_PERIOD_MAX];
	if (hsi_catalog_area(cat, o->area) == NULL
	    || hsi_validate_obs(cat, agency, &copy, &iss) != 0
	    || copy.year != o->year || copy.fyear != o->fyear) {
		abort();
	}
	if (hsi_period_parse(o->period, strlen(o->period), &p, NULL) != 0) {
		abort();
	}
	hsi_period_format(&p, canon, sizeof canon);
	if (strcmp(canon, o->period) != 0) {
		abort();
	}
	if (o->note != NULL && strlen(o->note) > HSI_NOTE_MAX) {
		abort();
	}
}

static void
check_batch(const char *agency, const hsi_batch *b)
{
	if (b->n_issues > HSI_MAX_ISSUES || b->bad_rows > b->rows
	    || (b->file_error && b->n_obs != 0)
	    || (!b->file_error && b->n_obs + b->bad_rows != b->rows)) {
		abort();
	}
	for (size_t i = 0; i < b->n_issues; i++) {
		const hsi_issue *is = &b->issues[i];
		if (is->code[0] == '\0' || is->msg[0] == '\0') {
			abort();
		}
	}
	for (size_t i = 0; i < b->n_obs; i++) {
		check_obs(agency, &b->obs[i]);
	}
}

#ifdef HSI_FUZZ_JSON_ROWS
#include <jansson.h>

/* The input as the gateway's body {"rows": [...]}, parsed as hsi-api
 * parses it (duplicate keys refused), its rows to the reader. */
static int
fuzz_json_rows(const hsi_catalog *c, const char *agency, const char *buf,
    size_t len, hsi_batch *b)
{
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *rows = json_object_get(root, "rows");
	int     rv   = json_is_array(rows)
	          ? hsi_validate_json_rows(c, agency, rows, b)
	          : 0;
	json_decref(root);
	return rv;
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const agencies[]
	    = { "MOE", "MOL", "DOH", "MSDHS", "NHSO", "DDC", "ECT", "NSO" };
	if (cat == NULL) {
		char err[256];
		if (hsi_catalog_from_refdata(
		        NULL, 0, NULL, &cat, err, sizeof err)
		    != 0) {
			abort();
		}
		atexit(free_cat);
	}
	if (size == 0) {
		return 0;
	}
	const char *agency = agencies[data[0] % 8];
	hsi_batch   b;
	hsi_batch_init(&b);
	int rv = HSI_FUZZ_READER(
	    cat, agency, (const char *) data + 1, size - 1, &b);
	if (rv != 0 && rv != HSI_ENOMEM) {
		abort();
	}
	if (rv == 0) {
		check_batch(agency, &b);
	}
	hsi_batch_fini(&b);
	return 0;
}
