/*
 * catalog_test.c: the catalog built from the embedded reference data
 * (areas and their populations, agencies, dimensions, indicators), the
 * look-ups, the refusals of a broken indicators.csv with file and line,
 * and the CatalogSnapshot round trip nodes validate against.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"

#define NATION_POPULATION 66186727.0

static hsi_catalog *
load_ref(void)
{
	hsi_catalog *c        = NULL;
	char         err[512] = "";
	int rv = hsi_catalog_from_refdata(NULL, 0, NULL, &c, err, sizeof err);
	if (rv != 0) {
		fail_msg("refdata: %s (%s)", hsi_strerror(rv), err);
	}
	return c;
}

static int
catalog_setup(void **state)
{
	*state = load_ref();
	return *state == NULL ? -1 : 0;
}

static int
catalog_teardown(void **state)
{
	hsi_catalog_free(*state);
	return 0;
}

static void
test_counts_and_dimensions(void **state)
{
	static const char *const dims[] = { "health", "living", "education",
		"economy", "services", "personal", "political" };
	const hsi_catalog       *c      = *state;
	assert_int_equal(c->n_areas, 1 + 6 + 77);
	assert_int_equal(c->n_agencies, 23);
	assert_int_equal(c->n_dims, 7);
	assert_int_equal(c->n_ind, 41);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(c->dims[i].code, dims[i]);
		assert_int_equal(c->dims[i].ord, (int) i + 1);
		assert_true(strlen(c->dims[i].name_th) > 0);
		assert_true(strlen(c->dims[i].name_en) > 0);
	}
	size_t levels[3] = { 0, 0, 0 };
	for (size_t i = 0; i < c->n_areas; i++) {
		levels[c->areas[i].level]++;
	}
	assert_int_equal(levels[HSI_LEVEL_NATION], 1);
	assert_int_equal(levels[HSI_LEVEL_REGION], 6);
	assert_int_equal(levels[HSI_LEVEL_PROVINCE], 77);
}

static void
test_area_tree_and_population(void **state)
{
	const hsi_catalog *c           = *state;
	const hsi_area    *nation      = hsi_catalog_area(c, "TH");
	double             sum_regions = 0, sum_provinces = 0;
	assert_non_null(nation);
	assert_int_equal(nation->level, HSI_LEVEL_NATION);
	assert_string_equal(nation->parent, "");
	assert_true(nation->population == NATION_POPULATION);
	for (size_t i = 0; i < c->n_areas; i++) {
		const hsi_area *a = &c->areas[i];
		if (a->level == HSI_LEVEL_REGION) {
			assert_string_equal(a->parent, "TH");
			sum_regions += a->population;
			double mine = 0;
			for (size_t j = 0; j < c->n_areas; j++) {
				if (strcmp(c->areas[j].parent, a->code) == 0) {
					assert_int_equal(c->areas[j].level,
					    HSI_LEVEL_PROVINCE);
					mine += c->areas[j].population;
				}
			}
			assert_true(mine > 0);
			assert_true(a->population == mine);
		} else if (a->level == HSI_LEVEL_PROVINCE) {
			const hsi_area *r = hsi_catalog_area(c, a->parent);
			if (r == NULL || r->level != HSI_LEVEL_REGION) {
				fail_msg("province %s: parent '%s' is not a "
				         "region",
				    a->code, a->parent);
			}
			assert_true(a->population > 0);
			assert_true(strncmp(a->iso, "TH-", 3) == 0);
			assert_string_equal(a->iso + 3, a->code);
			sum_provinces += a->population;
		}
	}
	assert_true(sum_regions == NATION_POPULATION);
	assert_true(sum_provinces == NATION_POPULATION);
}

static void
test_lookups(void **state)
{
	const hsi_catalog *c = *state;
	const hsi_area    *a = hsi_catalog_area(c, "50");
	assert_non_null(a);
	assert_string_equal(a->name_en, "Chiang Mai");
	assert_string_equal(a->name_th, "เชียงใหม่");
	assert_string_equal(a->parent, "RN");
	assert_string_equal(hsi_catalog_area(c, "10")->name_en, "Bangkok");
	assert_int_equal(hsi_catalog_area(c, "RNE")->level, HSI_LEVEL_REGION);
	assert_null(hsi_catalog_area(c, "99"));
	assert_null(hsi_catalog_area(c, ""));
	assert_null(hsi_catalog_area(c, "TH-50")); /* canonical codes only */
	assert_null(hsi_catalog_area(c, "5"));
	assert_null(hsi_catalog_area(c, "500000000000000000000000000000"));

	const hsi_agency *g = hsi_catalog_agency(c, "DOH");
	assert_non_null(g);
	assert_string_equal(g->name_en, "Department of Health");
	assert_non_null(hsi_catalog_agency(c, "ECT"));
	assert_null(hsi_catalog_agency(c, "doh"));
	assert_null(hsi_catalog_agency(c, "XYZ"));
	assert_null(hsi_catalog_agency(c, "DOHDOHDOHDOHDOHDOHDOH"));

	const hsi_indicator *d = hsi_catalog_indicator(c, "hlt_stunting");
	assert_non_null(d);
	assert_string_equal(d->agency, "DOH");
	assert_string_equal(d->dimension, "health");
	assert_int_equal(d->freq, HSI_FREQ_FISCAL);
	assert_int_equal(d->direction, -1);
	assert_true(d->lo == 5 && d->hi == 20);
	assert_true(d->hard_min == 0 && d->hard_max == 100);
	assert_int_equal(d->rollup_area, HSI_ROLLUP_WMEAN);
	assert_int_equal(d->rollup_time, HSI_TIME_LAST);
	assert_int_equal(d->in_index, 1);
	/* Quoted fields with commas arrive whole. */
	d = hsi_catalog_indicator(c, "hlt_low_birthweight");
	assert_string_equal(d->name_en, "Low birth weight (under 2,500 g)");
	d = hsi_catalog_indicator(c, "eco_new_business");
	assert_int_equal(d->rollup_time, HSI_TIME_SUM);
	assert_int_equal(d->min_subperiods, 4);
	assert_null(hsi_catalog_indicator(c, "hlt_stuntin"));
	assert_null(hsi_catalog_indicator(c, "hlt_stunting "));
	assert_null(hsi_catalog_indicator(c, ""));

	assert_string_equal(
	    hsi_rollup_area_name(HSI_ROLLUP_NATIONAL), "national");
	assert_string_equal(hsi_rollup_time_name(HSI_TIME_LAST), "last");
	assert_string_equal(
	    hsi_area_level_name(HSI_LEVEL_PROVINCE), "province");
}

static void
test_sorted_and_unique(void **state)
{
	const hsi_catalog *c = *state;
	for (size_t i = 1; i < c->n_ind; i++) {
		assert_true(strcmp(c->ind[i - 1].code, c->ind[i].code) < 0);
	}
	for (size_t i = 1; i < c->n_areas; i++) {
		assert_true(
		    strcmp(c->areas[i - 1].code, c->areas[i].code) < 0);
	}
	for (size_t i = 1; i < c->n_agencies; i++) {
		assert_true(
		    strcmp(c->agencies[i - 1].code, c->agencies[i].code) < 0);
	}
}

static void
test_indicator_coverage(void **state)
{
	const hsi_catalog *c        = *state;
	size_t             freq[6]  = { 0 };
	size_t             in_index = 0;
	for (size_t a = 0; a < c->n_agencies; a++) {
		size_t owned = 0;
		for (size_t i = 0; i < c->n_ind; i++) {
			owned += strcmp(c->ind[i].agency, c->agencies[a].code)
			    == 0;
		}
		if (owned == 0) {
			fail_msg("agency %s owns no indicator",
			    c->agencies[a].code);
		}
	}
	for (size_t i = 0; i < c->n_ind; i++) {
		const hsi_indicator *d = &c->ind[i];
		freq[d->freq]++;
		in_index += d->in_index != 0;
		assert_true(d->hard_min <= d->hard_max);
		assert_true(d->direction == 1 || d->direction == -1);
		if (d->in_index) {
			assert_true(d->lo < d->hi);
			assert_true(d->weight > 0);
		}
	}
	assert_true(freq[HSI_FREQ_FISCAL] >= 1);
	assert_true(freq[HSI_FREQ_QUARTER] >= 1);
	assert_true(freq[HSI_FREQ_MONTH] >= 1);
	assert_true(freq[HSI_FREQ_ANNUAL] >= 1);
	assert_int_equal(in_index, 40);
	const hsi_indicator *m = hsi_catalog_indicator(c, "mon_hotline1300");
	assert_non_null(m);
	assert_int_equal(m->freq, HSI_FREQ_DAY);
	assert_int_equal(m->in_index, 0);
	assert_string_equal(m->agency, "MSDHS");
}

/* ---- custom indicators.csv -------------------------------------------- */

#define HEADER                                                                \
	"code,dimension,agency,name_th,name_en,unit,frequency,hard_min,"      \
	"hard_max,rollup_area,rollup_time,min_subperiods,direction,lo,hi,"    \
	"weight,in_index,definition_th,definition_en,source\n"

/* One row; NULL arguments take a valid default. */
static void
row(char *out, size_t size, const char *code, const char *dim,
    const char *agency, const char *freq, const char *bounds, const char *goal)
{
	snprintf(out, size,
	    "%s,%s,%s,ชื่อ,Name,%%,%s,%s,wmean,last,1,1,%s,1,1,นิยาม,"
	    "Definition,Source\n",
	    code ? code : "x_ok", dim ? dim : "health",
	    agency ? agency : "DOH", freq ? freq : "annual",
	    bounds ? bounds : "0,100", goal ? goal : "10,90");
}

static hsi_catalog *
load_csv(const char *text, int want_rv, char *err, size_t err_size)
{
	hsi_catalog *c = (hsi_catalog *) (uintptr_t) 1; /* must stay */
	err[0]         = '\0';
	int rv         = hsi_catalog_from_refdata(
	            text, strlen(text), "test.csv", &c, err, err_size);
	if (rv != want_rv) {
		if (rv == 0) {
			hsi_catalog_free(c);
		}
		fail_msg("want %d, got %d (%s)", want_rv, rv, err);
	}
	if (rv != 0) {
		assert_true(c == (hsi_catalog *) (uintptr_t) 1);
		return NULL;
	}
	return c;
}

/* A file whose line 3 is bad: refused, message names test.csv:3. */
static void
expect_line3_err(const char *bad_row, const char *mention)
{
	char text[2048], good[512], err[512];
	row(good, sizeof good, "a_ok", NULL, NULL, NULL, NULL, NULL);
	snprintf(text, sizeof text, HEADER "%s%s", good, bad_row);
	load_csv(text, HSI_EINVAL, err, sizeof err);
	if (strstr(err, "test.csv:3") == NULL) {
		fail_msg("message \"%s\" does not name test.csv:3", err);
	}
	if (mention != NULL && strstr(err, mention) == NULL) {
		fail_msg(
		    "message \"%s\" does not mention \"%s\"", err, mention);
	}
}

static void
test_custom_csv_ok(void **state)
{
	char text[2048], r1[512], r2[512], err[512];
	(void) state;
	row(r1, sizeof r1, "z_last", "political", "ECT", "fquarterly", NULL,
	    NULL);
	row(r2, sizeof r2, "a_first", "health", "DOH", "daily", "-5,5",
	    "-1,1");
	snprintf(text, sizeof text, HEADER "%s%s", r1, r2);
	hsi_catalog *c = load_csv(text, 0, err, sizeof err);
	assert_int_equal(c->n_ind, 2);
	assert_string_equal(c->ind[0].code, "a_first");
	assert_int_equal(c->ind[0].freq, HSI_FREQ_DAY);
	assert_true(c->ind[0].hard_min == -5);
	assert_string_equal(c->ind[1].code, "z_last");
	assert_int_equal(c->ind[1].freq, HSI_FREQ_FQUARTER);
	/* The rest of the reference data is still there. */
	assert_int_equal(c->n_areas, 84);
	hsi_catalog_free(c);
}

static void
test_custom_csv_errors(void **state)
{
	char r[512];
	(void) state;
	row(r, sizeof r, NULL, NULL, NULL, "yearly", NULL, NULL);
	expect_line3_err(r, "yearly");
	row(r, sizeof r, NULL, NULL, NULL, NULL, NULL, "90,10");
	expect_line3_err(r, "x_ok");
	row(r, sizeof r, NULL, NULL, NULL, NULL, NULL, "50,50");
	expect_line3_err(r, NULL);
	row(r, sizeof r, NULL, NULL, NULL, NULL, "100,0", NULL);
	expect_line3_err(r, NULL);
	row(r, sizeof r, NULL, NULL, NULL, NULL, "0,abc", NULL);
	expect_line3_err(r, "abc");
	row(r, sizeof r, NULL, NULL, NULL, NULL, "0,inf", NULL);
	expect_line3_err(r, "hard_max");
	row(r, sizeof r, "", NULL, NULL, NULL, NULL, NULL);
	expect_line3_err(r, "code");
	row(r, sizeof r, "a_code_that_is_longer_than_32_chars", NULL, NULL,
	    NULL, NULL, NULL);
	expect_line3_err(r, "code");
	expect_line3_err("x_short,health,DOH\n", NULL);
}

/* Errors found after the rows are read still name the line. */
static void
test_custom_csv_reference_errors(void **state)
{
	char r[512];
	(void) state;
	row(r, sizeof r, NULL, NULL, "XYZ", NULL, NULL, NULL);
	expect_line3_err(r, "XYZ");
	row(r, sizeof r, NULL, "wellbeing", NULL, NULL, NULL, NULL);
	expect_line3_err(r, "wellbeing");
	row(r, sizeof r, "a_ok", NULL, NULL, NULL, NULL, NULL);
	expect_line3_err(r, "a_ok");
}

/* docs/catalog.md: "the owner reports on that dimension; lo < hi, both
 * within the hard bounds". */
static void
test_custom_csv_documented_rules(void **state)
{
	char r[512];
	(void) state;
	row(r, sizeof r, NULL, NULL, NULL, NULL, "0,100", "-10,50");
	expect_line3_err(r, NULL);
	row(r, sizeof r, NULL, NULL, NULL, NULL, "0,100", "10,150");
	expect_line3_err(r, NULL);
	/* DOH reports on health only (agencies.csv). */
	row(r, sizeof r, NULL, "political", "DOH", NULL, NULL, NULL);
	expect_line3_err(r, "DOH");
}

static void
test_custom_csv_header_errors(void **state)
{
	char text[2048], r[512], err[512];
	(void) state;
	row(r, sizeof r, NULL, NULL, NULL, NULL, NULL, NULL);
	/* "unit" missing from the header. */
	snprintf(text, sizeof text,
	    "code,dimension,agency,name_th,name_en,frequency,hard_min,"
	    "hard_max,rollup_area,rollup_time,min_subperiods,direction,lo,"
	    "hi,weight,in_index,definition_th,definition_en,source\n%s",
	    r);
	load_csv(text, HSI_EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "test.csv:1"));
	assert_non_null(strstr(err, "unit"));
	load_csv("", HSI_EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "test.csv"));
	/* A CSV syntax error names line and column. */
	snprintf(text, sizeof text, HEADER "%s\"x,y\n", r);
	load_csv(text, HSI_EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "test.csv:3:"));
}

/*
 * Columns may come in any order; a short row must still be refused. The
 * field-count check in table_next compares nfields with the index of the
 * LAST wanted column only, so with "source" first a one-field row passes
 * it and the other columns are read past the end of the row.
 */
static void
test_custom_csv_reordered_short_row(void **state)
{
	char text[2048], err[512];
	(void) state;
	snprintf(text, sizeof text,
	    "source,code,dimension,agency,name_th,name_en,unit,frequency,"
	    "hard_min,hard_max,rollup_area,rollup_time,min_subperiods,"
	    "direction,lo,hi,weight,in_index,definition_th,definition_en\n"
	    "Source,x_ok,health,DOH,ชื่อ,Name,%%,annual,0,100,wmean,last,1,1,"
	    "10,90,1,1,นิยาม,Definition\n"
	    "Source\n");
	load_csv(text, HSI_EINVAL, err, sizeof err);
	if (strstr(err, "test.csv:3") == NULL) {
		fail_msg("message \"%s\" does not name test.csv:3", err);
	}
}

/* Look-ups compare the whole code, not its first 32 bytes. */
static void
test_lookup_long_code(void **state)
{
	char text[2048], r[512], err[512], code[64];
	(void) state;
	memset(code, 'a', 32);
	code[32] = '\0';
	row(r, sizeof r, code, NULL, NULL, NULL, NULL, NULL);
	snprintf(text, sizeof text, HEADER "%s", r);
	hsi_catalog *c = load_csv(text, 0, err, sizeof err);
	assert_non_null(hsi_catalog_indicator(c, code));
	code[32]               = 'b';
	code[33]               = '\0';
	const hsi_indicator *d = hsi_catalog_indicator(c, code);
	hsi_catalog_free(c);
	if (d != NULL) {
		fail_msg(
		    "hsi_catalog_indicator(\"%s\") found an indicator", code);
	}
}

/* ---- snapshot ----------------------------------------------------------- */

static void
test_snapshot_round_trip(void **state)
{
	hsi_catalog *c = *state;
	uint8_t     *buf;
	size_t       len;
	c->version = 17;
	assert_int_equal(hsi_catalog_to_snapshot(c, &buf, &len), 0);
	Hsi__CatalogSnapshot *s
	    = hsi__catalog_snapshot__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(s);
	assert_int_equal(s->version, 17);
	assert_int_equal(s->n_indicators, c->n_ind);
	assert_int_equal(s->n_areas, c->n_areas);
	assert_int_equal(s->n_agencies, c->n_agencies);

	hsi_catalog *n = NULL;
	assert_int_equal(hsi_catalog_from_snapshot(s, &n), 0);
	hsi__catalog_snapshot__free_unpacked(s, NULL);
	assert_int_equal(n->version, 17);
	assert_int_equal(n->n_ind, c->n_ind);
	for (size_t i = 0; i < c->n_ind; i++) {
		const hsi_indicator *a = &c->ind[i], *b = &n->ind[i];
		assert_string_equal(a->code, b->code);
		assert_string_equal(a->agency, b->agency);
		assert_string_equal(a->dimension, b->dimension);
		assert_int_equal(a->freq, b->freq);
		assert_true(a->hard_min == b->hard_min);
		assert_true(a->hard_max == b->hard_max);
		assert_string_equal(a->unit, b->unit);
		assert_int_equal(a->in_index, b->in_index);
		assert_ptr_equal(hsi_catalog_indicator(n, a->code), b);
	}
	assert_int_equal(n->n_areas, c->n_areas);
	for (size_t i = 0; i < c->n_areas; i++) {
		assert_string_equal(c->areas[i].code, n->areas[i].code);
		assert_string_equal(c->areas[i].parent, n->areas[i].parent);
		assert_int_equal(c->areas[i].level, n->areas[i].level);
	}
	assert_int_equal(n->n_agencies, c->n_agencies);
	for (size_t i = 0; i < c->n_agencies; i++) {
		assert_string_equal(c->agencies[i].code, n->agencies[i].code);
	}
	assert_non_null(hsi_catalog_agency(n, "MSDHS"));
	assert_non_null(hsi_catalog_area(n, "96"));
	hsi_catalog_free(n);
}

/* Entries a node cannot represent are dropped, not truncated. */
static void
test_snapshot_skips_bad_entries(void **state)
{
	Hsi__CatalogSnapshot   s = HSI__CATALOG_SNAPSHOT__INIT;
	Hsi__CatalogIndicator  ind[3];
	Hsi__CatalogIndicator *pind[3];
	Hsi__CatalogArea       ar[2];
	Hsi__CatalogArea      *par[2];
	char                  *ag[2] = { "DOH", "AGENCY_CODE_TOO_LONG" };
	(void) state;
	for (int i = 0; i < 3; i++) {
		hsi__catalog_indicator__init(&ind[i]);
		ind[i].agency    = "DOH";
		ind[i].dimension = "health";
		ind[i].frequency = "annual";
		ind[i].hard_max  = 100;
		pind[i]          = &ind[i];
	}
	ind[0].code      = "b_ok";
	ind[1].code      = "c_bad_freq";
	ind[1].frequency = "weekly";
	ind[2].code      = "a_code_that_is_much_longer_than_32_chars";
	for (int i = 0; i < 2; i++) {
		hsi__catalog_area__init(&ar[i]);
		par[i] = &ar[i];
	}
	ar[0].code     = "TH";
	ar[0].level    = "nation";
	ar[1].code     = "A_VERY_LONG_AREA_CODE";
	ar[1].parent   = "TH";
	ar[1].level    = "province";
	s.n_indicators = 3;
	s.indicators   = pind;
	s.n_areas      = 2;
	s.areas        = par;
	s.n_agencies   = 2;
	s.agencies     = ag;
	hsi_catalog *c = NULL;
	assert_int_equal(hsi_catalog_from_snapshot(&s, &c), 0);
	assert_int_equal(c->n_ind, 1);
	assert_string_equal(c->ind[0].code, "b_ok");
	assert_int_equal(c->n_areas, 1);
	assert_int_equal(c->areas[0].level, HSI_LEVEL_NATION);
	assert_int_equal(c->n_agencies, 1);
	assert_null(hsi_catalog_agency(c, "AGENCY_CODE_TOO_"));
	hsi_catalog_free(c);
	hsi_catalog_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts_and_dimensions,
		    catalog_setup, catalog_teardown),
		cmocka_unit_test_setup_teardown(test_area_tree_and_population,
		    catalog_setup, catalog_teardown),
		cmocka_unit_test_setup_teardown(
		    test_lookups, catalog_setup, catalog_teardown),
		cmocka_unit_test_setup_teardown(
		    test_sorted_and_unique, catalog_setup, catalog_teardown),
		cmocka_unit_test_setup_teardown(
		    test_indicator_coverage, catalog_setup, catalog_teardown),
		cmocka_unit_test(test_custom_csv_ok),
		cmocka_unit_test(test_custom_csv_errors),
		cmocka_unit_test(test_custom_csv_reference_errors),
		cmocka_unit_test(test_custom_csv_documented_rules),
		cmocka_unit_test(test_custom_csv_header_errors),
		cmocka_unit_test(test_custom_csv_reordered_short_row),
		cmocka_unit_test(test_lookup_long_code),
		cmocka_unit_test_setup_teardown(
		    test_snapshot_round_trip, catalog_setup, catalog_teardown),
		cmocka_unit_test(test_snapshot_skips_bad_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
