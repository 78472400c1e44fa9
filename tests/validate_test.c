/*
 * validate_test.c: hsi_validate_csv against the embedded catalog for a
 * real agency (MSDHS: srv_disability_allow, annual 0..100, and the daily
 * mon_hotline1300): a valid file in the spellings agencies use, every
 * error code at its line and column, duplicates, header problems, the
 * issue cap, and hsi_parse_value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "validate.h"

#define AGENCY "MSDHS"
#define HDR "indicator,area,period,value,status,note\n"
/* "srv_disability_allow," is 21 characters: area starts at column 22,
 * then (with area "50,") period at 25, (with "2020,") value at 30. */
#define IND "srv_disability_allow"

static hsi_catalog *cat;

static int
group_setup(void **state)
{
	char err[512];
	(void) state;
	return hsi_catalog_from_refdata(NULL, 0, NULL, &cat, err, sizeof err);
}

static int
group_teardown(void **state)
{
	(void) state;
	hsi_catalog_free(cat);
	return 0;
}

/* The batch in use, freed by batch_teardown when a test fails early. */
static hsi_batch *live;

static int
batch_teardown(void **state)
{
	(void) state;
	if (live != NULL) {
		hsi_batch_fini(live);
		live = NULL;
	}
	return 0;
}

static void
run_agency(hsi_batch *b, const char *agency, const char *text, size_t len)
{
	hsi_batch_init(b);
	live   = b;
	int rv = hsi_validate_csv(cat, agency, text, len, b);
	if (rv != 0) {
		fail_msg("hsi_validate_csv: %s", hsi_strerror(rv));
	}
}

static void
run(hsi_batch *b, const char *text)
{
	run_agency(b, AGENCY, text, strlen(text));
}

static void
dump(const hsi_batch *b)
{
	for (size_t i = 0; i < b->n_issues && i < 30; i++) {
		const hsi_issue *is = &b->issues[i];
		print_message("  %u:%u %s %s '%s': %s\n", is->row, is->col,
		    is->code, is->field, is->value, is->msg);
	}
}

static const hsi_issue *
issue_at(const hsi_batch *b, uint32_t row)
{
	for (size_t i = 0; i < b->n_issues; i++) {
		if (b->issues[i].row == row) {
			return &b->issues[i];
		}
	}
	dump(b);
	fail_msg("no issue on line %u", row);
	return NULL;
}

/* The issue on line row has this code, column and field. */
static const hsi_issue *
expect_issue(const hsi_batch *b, uint32_t row, const char *code, uint32_t col,
    const char *field)
{
	const hsi_issue *is = issue_at(b, row);
	if (strcmp(is->code, code) != 0 || (col != 0 && is->col != col)
	    || (field != NULL && strcmp(is->field, field) != 0)) {
		fail_msg("line %u: want %s col %u field %s, got %s col %u "
		         "field %s (%s)",
		    row, code, col, field ? field : "*", is->code, is->col,
		    is->field, is->msg);
	}
	assert_true(strlen(is->msg) > 10);
	return is;
}

static const hsi_obs *
obs_at(const hsi_batch *b, uint32_t row)
{
	for (size_t i = 0; i < b->n_obs; i++) {
		if (b->obs[i].row == row) {
			return &b->obs[i];
		}
	}
	dump(b);
	fail_msg("no observation from line %u", row);
	return NULL;
}

static void
test_valid_file(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	(void) state;
	run(&b,
	    "\xEF\xBB\xBF" HDR                                      /* BOM */
	        IND ",TH-50,2567,95.5,A,หมายเหตุ: ข้อมูลจาก พมจ.\r\n"  /* 2 */
	    IND ",10,๒๕๖๗,๘๘.๕,E,\r\n"                              /* 3 */
	    "mon_hotline1300,TH,2024-03-15,12,,\r\n"                /* 4 */
	    IND ",RN,2023,,M,ไม่มีข้อมูล\r\n"                           /* 5 */
	    IND ",50,พ.ศ. 2566,90,P,\"a, quoted \"\"note\"\"\"\r\n" /* 6 */
	    "\r\n" IND ",96,2024,0,A\n"); /* 8: no note column at all */
	if (b.n_issues != 0) {
		dump(&b);
	}
	assert_int_equal(b.n_issues, 0);
	assert_int_equal(b.file_error, 0);
	assert_int_equal(b.truncated, 0);
	assert_int_equal(b.rows, 6);
	assert_int_equal(b.bad_rows, 0);
	assert_int_equal(b.n_obs, 6);

	const hsi_obs *o = obs_at(&b, 2);
	assert_string_equal(o->indicator, IND);
	assert_string_equal(o->area, "50");
	assert_string_equal(o->period, "2024");
	assert_int_equal(o->year, 2024);
	assert_true(o->has_value && o->value == 95.5);
	assert_int_equal(o->status, 'A');
	assert_string_equal(o->note, "หมายเหตุ: ข้อมูลจาก พมจ.");

	o = obs_at(&b, 3);
	assert_string_equal(o->area, "10");
	assert_string_equal(o->period, "2024");
	assert_true(o->value == 88.5);
	assert_int_equal(o->status, 'E');
	assert_null(o->note);

	o = obs_at(&b, 4);
	assert_string_equal(o->indicator, "mon_hotline1300");
	assert_string_equal(o->area, "TH");
	assert_string_equal(o->period, "2024-03-15");
	assert_int_equal(o->status, 'A'); /* empty status means A */

	o = obs_at(&b, 5);
	assert_string_equal(o->area, "RN");
	assert_int_equal(o->has_value, 0);
	assert_int_equal(o->status, 'M');
	assert_string_equal(o->note, "ไม่มีข้อมูล");

	o = obs_at(&b, 6);
	assert_string_equal(o->period, "2023");
	assert_string_equal(o->note, "a, quoted \"note\"");
	assert_int_equal(o->status, 'P');

	o = obs_at(&b, 8);
	assert_true(o->has_value && o->value == 0);
	hsi_batch_fini(&b);
	assert_int_equal(b.n_obs, 0);
	assert_null(b.obs);
}

/* Period spellings of docs/periods.md that are longer than the
 * canonical form must be accepted like the short ones. */
static void
test_long_period_spellings(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	(void) state;
	run(&b, HDR "mon_hotline1300,50,๒๕๖๗-๐๓-๑๕,3,A,\n");
	if (b.n_obs != 1) {
		dump(&b);
		fail_msg("\"๒๕๖๗-๐๓-๑๕\" (a valid daily period) refused");
	}
	assert_string_equal(b.obs[0].period, "2024-03-15");
	hsi_batch_fini(&b);

	/* DOH's hlt_stunting is fiscal. */
	const char *t = HDR "hlt_stunting,50,ปีงบประมาณ ๒๕๖๗,10,A,\n";
	run_agency(&b, "DOH", t, strlen(t));
	if (b.n_obs != 1) {
		dump(&b);
		fail_msg("\"ปีงบประมาณ ๒๕๖๗\" (a valid fiscal period) refused");
	}
	assert_string_equal(b.obs[0].period, "FY2024");
	hsi_batch_fini(&b);
}

static void
test_row_errors(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	const hsi_issue *is;
	(void) state;
	run(&b,
	    HDR "nope_indicator,50,2024,1,A,\n" /* 2 */
	        "edu_dropout,50,2024,1,A,\n"    /* 3 */
	    IND ",99,2024,1,A,\n"               /* 4 */
	    IND ",50,2024x,1,A,\n"              /* 5 */
	    IND ",50,2024Q1,1,A,\n"             /* 6 */
	    IND ",50,2020,\"12,5\",A,\n"        /* 7 */
	    IND ",50,2020,abc,A,\n"             /* 8 */
	    IND ",50,2020,1e5,A,\n"             /* 9 */
	    IND ",50,2020,100.5,A,\n"           /* 10 */
	    IND ",50,2020,-1,A,\n"              /* 11 */
	    IND ",50,2020,5,X,\n"               /* 12 */
	    IND ",50,2020,5,AA,\n"              /* 13 */
	    IND ",50,2020,,A,\n"                /* 14 */
	    IND ",50,2020,5,M,\n"               /* 15 */
	    IND ",50,2020,5,A,note,extra\n"     /* 16 */
	    IND ",,2020,5\n"                    /* 17 */
	    IND ",50,2020,,,\n"                 /* 18 */
	    IND ",50,2020,50,A,\n");            /* 19: valid */

	is = expect_issue(&b, 2, "E_UNKNOWN_INDICATOR", 1, "indicator");
	assert_string_equal(is->value, "nope_indicator");
	is = expect_issue(&b, 3, "E_NOT_OWNER", 1, "indicator");
	assert_non_null(strstr(is->msg, "MOE"));
	is = expect_issue(&b, 4, "E_UNKNOWN_AREA", 22, "area");
	assert_string_equal(is->value, "99");
	/* Column of the bad character inside the period. */
	is = expect_issue(&b, 5, "E_PERIOD", 29, "period");
	assert_string_equal(is->value, "2024x");
	is = expect_issue(&b, 6, "E_PERIOD_FREQ", 25, "period");
	assert_non_null(strstr(is->msg, "annual"));
	is = expect_issue(&b, 7, "E_VALUE", 30, "value");
	assert_string_equal(is->value, "12,5");
	expect_issue(&b, 8, "E_VALUE", 30, "value");
	expect_issue(&b, 9, "E_VALUE", 30, "value");
	is = expect_issue(&b, 10, "E_VALUE_RANGE", 30, "value");
	assert_string_equal(is->value, "100.5");
	expect_issue(&b, 11, "E_VALUE_RANGE", 30, "value");
	expect_issue(&b, 12, "E_STATUS", 32, "status");
	expect_issue(&b, 13, "E_STATUS", 32, "status");
	expect_issue(&b, 14, "E_VALUE_MISSING", 30, "value");
	expect_issue(&b, 15, "E_STATUS", 0, NULL);
	expect_issue(&b, 16, "E_FIELD_COUNT", 39, NULL);
	expect_issue(&b, 17, "E_FIELD_EMPTY", 22, "area");
	expect_issue(&b, 18, "E_VALUE_MISSING", 30, "value");

	/* One issue per bad row, and only the valid row is kept. */
	assert_int_equal(b.n_issues, 17);
	assert_int_equal(b.rows, 18);
	assert_int_equal(b.bad_rows, 17);
	assert_int_equal(b.file_error, 0);
	assert_int_equal(b.n_obs, 1);
	assert_int_equal(b.obs[0].row, 19);
	hsi_batch_fini(&b);
}

/* Columns are in characters (csv.h, docs/errors.md), also after Thai
 * digits: "๒๕๖๗x" has its bad 'x' at character 5, byte 13. */
static void
test_period_error_column_in_characters(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	(void) state;
	run(&b, HDR IND ",50,๒๕๖๗x,1,A,\n");
	expect_issue(&b, 2, "E_PERIOD", 25 + 4, "period");
	hsi_batch_fini(&b);
}

static void
test_duplicates(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	(void) state;
	run(&b,
	    HDR IND ",50,2024,90\n" /* 2 */
	    IND ",TH-50,2567,91\n"  /* 3: same key once canonical */
	    IND ",10,2024,92\n"     /* 4 */
	    IND ",96,2024,1\n"      /* 5 */
	    IND ",96,2024,1\n"      /* 6 */
	    IND ",96,2024,1\n");    /* 7 */
	const hsi_issue *is = expect_issue(&b, 3, "E_DUPLICATE", 0, NULL);
	assert_non_null(strstr(is->msg, "line 2"));
	expect_issue(&b, 6, "E_DUPLICATE", 0, NULL);
	expect_issue(&b, 7, "E_DUPLICATE", 0, NULL);
	/* Every row of a duplicated key leaves the valid set. */
	assert_int_equal(b.n_obs, 1);
	assert_string_equal(b.obs[0].area, "10");
	assert_int_equal(b.rows, 6);
	assert_int_equal(b.bad_rows, 5);
	hsi_batch_fini(&b);

	/* Same indicator and area, other periods: not duplicates. */
	run(&b, HDR IND ",50,2023,1\n" IND ",50,2024,1\n" IND ",RN,2024,1\n");
	assert_int_equal(b.n_issues, 0);
	assert_int_equal(b.n_obs, 3);
	hsi_batch_fini(&b);
}

static void
test_header_errors(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	const hsi_issue *is;
	(void) state;
	run(&b, "indicator,area,period,status\n" IND ",50,2024,A\n");
	is = expect_issue(&b, 1, "E_HEADER", 0, NULL);
	assert_string_equal(is->value, "value");
	assert_int_equal(b.file_error, 1);
	assert_int_equal(b.n_obs, 0);
	hsi_batch_fini(&b);

	run(&b, "indicator,area,period,value,comment\n" IND ",50,2024,1,x\n");
	is = expect_issue(&b, 1, "E_HEADER", 29, NULL);
	assert_string_equal(is->value, "comment");
	assert_int_equal(b.file_error, 1);
	assert_int_equal(b.n_obs, 0);
	hsi_batch_fini(&b);

	/* Upper case is not the header. */
	run(&b, "Indicator,area,period,value\n");
	expect_issue(&b, 1, "E_HEADER", 1, NULL);
	assert_int_equal(b.file_error, 1);
	hsi_batch_fini(&b);

	run(&b, "");
	expect_issue(&b, 1, "E_HEADER", 0, NULL);
	assert_int_equal(b.file_error, 1);
	hsi_batch_fini(&b);

	/* A header that is not UTF-8 (a TIS-620 file). */
	run(&b, "indicator,area,period,value,\xb9\xcd\n");
	expect_issue(&b, 1, "E_ENCODING", 0, NULL);
	assert_int_equal(b.file_error, 1);
	assert_int_equal(b.n_obs, 0);
	hsi_batch_fini(&b);

	/* Columns in another order are fine. */
	run(&b, "value,period,area,indicator\n1,2024,50," IND "\n");
	assert_int_equal(b.n_issues, 0);
	assert_int_equal(b.n_obs, 1);
	hsi_batch_fini(&b);
}

static void
test_encoding_in_rows(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	(void) state;
	run(&b,
	    HDR IND ",50,2024,1,A,caf\xe9\n" /* 2 */
	    IND ",50,2023,1,A,ok\n");        /* 3 */
	const hsi_issue *is = expect_issue(&b, 2, "E_ENCODING", 0, NULL);
	assert_true(is->col >= 34);
	assert_int_equal(b.rows, 2);
	assert_int_equal(b.bad_rows, 1);
	/* The reader resynchronises: the next line is read. */
	assert_int_equal(b.n_obs, 1);
	assert_int_equal(b.obs[0].row, 3);
	/* The message must not echo the bad byte. */
	assert_null(strchr(is->msg, '\xe9'));
	hsi_batch_fini(&b);
}

static char *
many_rows(size_t bad, size_t good)
{
	size_t cap = 64 + (bad + good) * 64, k;
	char  *s   = malloc(cap);
	assert_non_null(s);
	k = (size_t) snprintf(s, cap, HDR);
	for (size_t i = 0; i < bad; i++) {
		k += (size_t) snprintf(s + k, cap - k, "nope,50,2024,1\n");
	}
	for (size_t i = 0; i < good; i++) {
		/* One key per row: days of 2024 across areas. */
		k += (size_t) snprintf(s + k, cap - k,
		    "mon_hotline1300,%zu,2024-01-%02zu,1\n", 10 + i / 28,
		    1 + i % 28);
	}
	return s;
}

static void
test_issue_cap(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	char            *s = many_rows(1200, 0);
	(void) state;
	run(&b, s);
	free(s);
	assert_int_equal(b.n_issues, HSI_MAX_ISSUES);
	assert_int_equal(b.truncated, 1);
	assert_int_equal(b.rows, 1200);
	assert_int_equal(b.bad_rows, 1200);
	assert_int_equal(b.n_obs, 0);
	hsi_batch_fini(&b);

	s = many_rows(HSI_MAX_ISSUES, 0);
	run(&b, s);
	free(s);
	assert_int_equal(b.n_issues, HSI_MAX_ISSUES);
	assert_int_equal(b.truncated, 0);
	hsi_batch_fini(&b);
}

/* bad_rows counts rows with an issue: valid rows after the cap was
 * reached are not bad (validate.c counts every row once truncated). */
static void
test_bad_rows_after_truncation(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	char            *s = many_rows(1100, 10);
	(void) state;
	run(&b, s);
	free(s);
	assert_int_equal(b.truncated, 1);
	assert_int_equal(b.rows, 1110);
	assert_int_equal(b.n_obs, 10);
	if (b.bad_rows != 1100) {
		fail_msg("bad_rows = %zu, want 1100 (10 valid rows counted "
		         "as bad)",
		    b.bad_rows);
	}
	hsi_batch_fini(&b);
}

static void
test_file_too_big(void **state)
{
	static hsi_batch b; /* static: see batch_teardown */
	(void) state;
	hsi_batch_init(&b);
	live = &b;
	/* The size is checked before anything is read. */
	hsi_validate_csv(
	    cat, AGENCY, "x", (size_t) HSI_FILE_MAX_BYTES + 1, &b);
	expect_issue(&b, 0, "E_FILE_TOO_BIG", 0, NULL);
	assert_int_equal(b.file_error, 1);
	hsi_batch_fini(&b);
}

static void
test_validate_obs(void **state)
{
	hsi_obs   o;
	hsi_issue is;
	(void) state;
	memset(&o, 0, sizeof o);
	snprintf(o.indicator, sizeof o.indicator, "mon_hotline1300");
	snprintf(o.area, sizeof o.area, "50");
	snprintf(o.period, sizeof o.period, "2024-10-01");
	o.value     = 5;
	o.has_value = 1;
	o.status    = 'A';
	assert_int_equal(hsi_validate_obs(cat, AGENCY, &o, &is), 0);
	assert_int_equal(o.year, 2024);
	assert_int_equal(o.fyear, 2025);
	assert_int_equal(hsi_validate_obs(cat, "DOH", &o, &is), HSI_EINVAL);
	assert_string_equal(is.code, "E_NOT_OWNER");
	o.value = 5001;
	assert_int_equal(hsi_validate_obs(cat, AGENCY, &o, &is), HSI_EINVAL);
	assert_string_equal(is.code, "E_VALUE_RANGE");
	o.value = NAN;
	assert_int_equal(hsi_validate_obs(cat, AGENCY, &o, &is), HSI_EINVAL);
	assert_string_equal(is.code, "E_VALUE_RANGE");
	o.value  = 5;
	o.status = 'Z';
	assert_int_equal(hsi_validate_obs(cat, AGENCY, &o, &is), HSI_EINVAL);
	assert_string_equal(is.code, "E_STATUS");
	o.status = 'A';
	snprintf(o.area, sizeof o.area, "TH-50"); /* canonical only here */
	assert_int_equal(hsi_validate_obs(cat, AGENCY, &o, &is), HSI_EINVAL);
	assert_string_equal(is.code, "E_UNKNOWN_AREA");
}

static void
accept_value(const char *s, double want)
{
	double v  = -12345;
	int    rv = hsi_parse_value(s, &v);
	if (rv != 0 || v != want) {
		fail_msg(
		    "parse \"%s\": rv %d, value %g, want %g", s, rv, v, want);
	}
}

static void
refuse_value(const char *s)
{
	double v  = 42;
	int    rv = hsi_parse_value(s, &v);
	if (rv == 0) {
		fail_msg("\"%s\" was accepted as %g", s, v);
	}
	assert_true(v == 42);
}

static void
test_parse_value(void **state)
{
	char long_num[80];
	(void) state;
	accept_value("-3.5", -3.5);
	accept_value("๑๒.๕", 12.5);
	accept_value("๐", 0);
	accept_value("+2", 2);
	accept_value("0.25", 0.25);
	accept_value("007", 7);
	accept_value(".5", 0.5);
	accept_value("5.", 5);
	accept_value("-๓", -3);
	refuse_value("");
	refuse_value(".");
	refuse_value("-");
	refuse_value("+.");
	refuse_value("1.2.3");
	refuse_value("nan");
	refuse_value("NaN");
	refuse_value("inf");
	refuse_value("-infinity");
	refuse_value("0x10");
	refuse_value("1e5");
	refuse_value("1E5");
	refuse_value("12,5");
	refuse_value("1,234");
	refuse_value(" 1");
	refuse_value("1 ");
	refuse_value("--1");
	refuse_value("๑๒,๕");
	refuse_value("1\xc2\xa0"); /* NBSP from a spreadsheet */
	memset(long_num, '1', sizeof long_num - 1);
	long_num[sizeof long_num - 1] = '\0';
	refuse_value(long_num);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_valid_file, batch_teardown),
		cmocka_unit_test_teardown(
		    test_long_period_spellings, batch_teardown),
		cmocka_unit_test_teardown(test_row_errors, batch_teardown),
		cmocka_unit_test_teardown(
		    test_period_error_column_in_characters, batch_teardown),
		cmocka_unit_test_teardown(test_duplicates, batch_teardown),
		cmocka_unit_test_teardown(test_header_errors, batch_teardown),
		cmocka_unit_test_teardown(
		    test_encoding_in_rows, batch_teardown),
		cmocka_unit_test_teardown(test_issue_cap, batch_teardown),
		cmocka_unit_test_teardown(
		    test_bad_rows_after_truncation, batch_teardown),
		cmocka_unit_test_teardown(test_file_too_big, batch_teardown),
		cmocka_unit_test_teardown(test_validate_obs, batch_teardown),
		cmocka_unit_test_teardown(test_parse_value, batch_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
