/*
 * format_test.c: JSON lines, SDMX-CSV and the choice of reader, against
 * the embedded catalog for real agencies: MOE (edu_dropout, annual
 * 0..100; edu_years_schooling, annual 0..20) in JSON lines and MOL
 * (eco_unemployment, quarterly 0..50; eco_social_security, monthly) in
 * SDMX-CSV. Valid files in the spellings agencies use (BE years, Thai
 * digits, TH-50), every error code at its line and column, duplicates
 * across rows, the dispatcher for each extension, and the rows of the
 * gateway's JSON body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "csv.h"
#include "format.h"
#include "validate.h"

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
static hsi_batch  batch;
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

typedef int (*reader_fn)(
    const hsi_catalog *, const char *, const char *, size_t, hsi_batch *);

static hsi_batch *
run_len(reader_fn fn, const char *agency, const char *text, size_t len)
{
	hsi_batch_init(&batch);
	live   = &batch;
	int rv = fn(cat, agency, text, len, &batch);
	if (rv != 0) {
		fail_msg("reader: %s", hsi_strerror(rv));
	}
	return &batch;
}

static hsi_batch *
jsonl(const char *text)
{
	return run_len(hsi_validate_jsonl, "MOE", text, strlen(text));
}

static hsi_batch *
sdmx(const char *text)
{
	return run_len(hsi_validate_sdmx, "MOL", text, strlen(text));
}

static hsi_batch *
file(const char *agency, const char *name, const char *text)
{
	hsi_batch_init(&batch);
	live = &batch;
	int rv
	    = hsi_validate_file(cat, agency, name, text, strlen(text), &batch);
	if (rv != 0) {
		fail_msg("hsi_validate_file: %s", hsi_strerror(rv));
	}
	return &batch;
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

static void
no_issues(const hsi_batch *b)
{
	if (b->n_issues != 0) {
		dump(b);
		fail_msg("%zu issues", b->n_issues);
	}
	assert_int_equal(b->file_error, 0);
	assert_int_equal(b->bad_rows, 0);
}

/* The issue on line row has this code, column and field. */
static const hsi_issue *
expect_issue(const hsi_batch *b, uint32_t row, const char *code, uint32_t col,
    const char *field)
{
	for (size_t i = 0; i < b->n_issues; i++) {
		const hsi_issue *is = &b->issues[i];
		if (is->row != row) {
			continue;
		}
		if (strcmp(is->code, code) != 0 || (col != 0 && is->col != col)
		    || (field != NULL && strcmp(is->field, field) != 0)) {
			fail_msg("line %u: want %s col %u field %s, got %s "
			         "col %u field %s (%s)",
			    row, code, col, field ? field : "*", is->code,
			    is->col, is->field, is->msg);
		}
		assert_true(strlen(is->msg) > 10);
		return is;
	}
	dump(b);
	fail_msg("no issue on line %u", row);
	return NULL;
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

#define DROP "{\"indicator\": \"edu_dropout\", "

static void
test_jsonl_valid(void **state)
{
	(void) state;
	hsi_batch *b = jsonl(
	    "\xEF\xBB\xBF" DROP "\"area\": \"TH-50\", \"period\": \"2567\", "
	    "\"value\": 1.25}\r\n" /* 1 */
	    DROP "\"area\": \"10\", \"period\": \"2023\", \"value\": "
	    "\"๑๒.๕\", \"status\": \"E\", \"note\": \"หมายเหตุ: "
	    "ข้อมูลจาก สพฐ.\"}\r\n" /* 2 */
	    "\r\n"
	    "   \n" /* 3, 4: blank */
	    DROP "\"area\": \"RN\", \"period\": \"2024\", \"value\": null, "
	    "\"status\": \"M\"}\n" /* 5 */
	    "{\"period\": \"๒๕๖๖\", \"area\": \"TH\", \"indicator\": "
	    "\"edu_years_schooling\", \"value\": 9, \"note\": null}\n" DROP
	    "\"area\": \"96\", \"period\": \"2024\", \"value\": "
	    "\"12.5\"}\n" /* 7 */
	    DROP "\"area\": \"96\", \"period\": \"2023\", \"status\": "
	    "\"M\"}\n" /* 8: no value at all */
	    DROP "\"area\": \"95\", \"period\": \"2024\", \"value\": "
	    "0.00001}"); /* 9: no final newline */
	no_issues(b);
	assert_int_equal(b->rows, 7);
	assert_int_equal(b->n_obs, 7);

	const hsi_obs *o = obs_at(b, 1);
	assert_string_equal(o->indicator, "edu_dropout");
	assert_string_equal(o->area, "50");
	assert_string_equal(o->period, "2024"); /* BE 2567 */
	assert_true(o->has_value && o->value == 1.25);
	assert_int_equal(o->status, 'A');
	assert_null(o->note);

	o = obs_at(b, 2);
	assert_true(o->has_value && o->value == 12.5); /* Thai digits */
	assert_int_equal(o->status, 'E');
	assert_string_equal(o->note, "หมายเหตุ: ข้อมูลจาก สพฐ.");

	o = obs_at(b, 5);
	assert_int_equal(o->has_value, 0);
	assert_int_equal(o->status, 'M');

	o = obs_at(b, 6);
	assert_string_equal(o->indicator, "edu_years_schooling");
	assert_string_equal(o->period, "2023");
	assert_true(o->value == 9);
	assert_null(o->note);

	assert_true(obs_at(b, 7)->value == 12.5);
	assert_int_equal(obs_at(b, 8)->status, 'M');
	/* A number %.17g would write with an exponent still arrives. */
	assert_true(obs_at(b, 9)->value == 0.00001);
}

static void
test_jsonl_errors(void **state)
{
	(void) state;
	hsi_batch *b = jsonl(
	    /* 1: trailing comma, seen at the closing brace (col 73) */
	    DROP
	    "\"area\": \"50\", \"period\": \"2024\", \"value\": 1,}\n"
	    /* 2 */
	    "[\"edu_dropout\", \"50\", \"2024\", 1]\n"
	    /* 3: "unit" starts at column 74; "x" is not reported */
	    DROP "\"area\": \"50\", \"period\": \"2024\", \"value\": 1, "
	    "\"unit\": \"%\", \"x\": 1}\n"
	    /* 4: the number 12 is at column 15 */
	    "{\"indicator\": 12, \"area\": \"50\", \"period\": "
	    "\"2024\", \"value\": 1}\n"
	    /* 5: value true at column 71 */
	    DROP "\"area\": \"51\", \"period\": \"2024\", \"value\": true}\n"
	    /* 6: a TIS-620 byte after "ก", at column 40 */
	    DROP "\"area\": \"ก\xA1\", \"period\": \"2024\", \"value\": 1}\n"
	    /* 7 */
	    DROP "\"area\": \"52\", \"area\": \"53\", \"period\": \"2024\", "
	    "\"value\": 1}\n"
	    /* 8: value "1,5" at column 71 goes to the value check */
	    DROP "\"area\": \"54\", \"period\": \"2024\", \"value\": "
	    "\"1,5\"}\n"
	    /* 9: area "99" at column 38 */
	    DROP "\"area\": \"99\", \"period\": \"2024\", \"value\": 1}\n"
	    /* 10: a quarter for an annual indicator */
	    DROP "\"area\": \"55\", \"period\": \"2024-Q1\", \"value\": 1}\n"
	    /* 11: status M with a value */
	    DROP "\"area\": \"56\", \"period\": \"2024\", \"value\": 1, "
	    "\"status\": \"M\"}\n"
	    /* 12: a scalar */
	    "42\n"
	    /* 13: status as a number */
	    DROP "\"area\": \"57\", \"period\": \"2024\", \"value\": 1, "
	    "\"status\": 1}\n"
	    /* 14: another agency's indicator */
	    "{\"indicator\": \"eco_unemployment\", \"area\": \"58\", "
	    "\"period\": \"2024Q1\", \"value\": 1}\n"
	    /* 15: a good row after all that */
	    DROP "\"area\": \"60\", \"period\": \"2024\", \"value\": 2}\n"
	    /* 16, 17: out of range, absurdly and plainly (col 71) */
	    DROP
	    "\"area\": \"61\", \"period\": \"2024\", \"value\": 1e300}\n" DROP
	    "\"area\": \"62\", \"period\": \"2024\", \"value\": 100.5}\n");
	expect_issue(b, 1, "E_JSON", 73, NULL);
	const hsi_issue *is = expect_issue(b, 2, "E_JSON", 1, NULL);
	assert_non_null(strstr(is->msg, "not a JSON object"));
	is = expect_issue(b, 3, "E_UNKNOWN_FIELD", 74, "key");
	assert_string_equal(is->value, "unit");
	assert_non_null(strstr(is->msg, "indicator, area, period"));
	expect_issue(b, 4, "E_TYPE", 15, "indicator");
	expect_issue(b, 5, "E_TYPE", 71, "value");
	expect_issue(b, 6, "E_ENCODING", 40, NULL);
	is = expect_issue(b, 7, "E_JSON", 0, NULL);
	assert_non_null(strstr(is->msg, "duplicate"));
	expect_issue(b, 8, "E_VALUE", 71, "value");
	expect_issue(b, 9, "E_UNKNOWN_AREA", 38, "area");
	expect_issue(b, 10, "E_PERIOD_FREQ", 0, "period");
	expect_issue(b, 11, "E_STATUS", 0, NULL);
	expect_issue(b, 12, "E_JSON", 1, NULL);
	is = expect_issue(b, 13, "E_TYPE", 0, "status");
	assert_non_null(strstr(is->msg, "\"status\": \"E\""));
	expect_issue(b, 14, "E_NOT_OWNER", 15, "indicator");
	is = expect_issue(b, 16, "E_VALUE_RANGE", 71, "value");
	assert_string_equal(is->value, "1e+300");
	is = expect_issue(b, 17, "E_VALUE_RANGE", 71, "value");
	assert_string_equal(is->value, "100.5");
	assert_int_equal(b->n_issues, 16);
	assert_int_equal(b->rows, 17);
	assert_int_equal(b->bad_rows, 16);
	assert_int_equal(b->n_obs, 1);
	assert_int_equal(b->file_error, 0);
	assert_string_equal(obs_at(b, 15)->area, "60");
}

static void
test_jsonl_long_line_nul(void **state)
{
	(void) state;
	size_t n   = HSI_JSONL_LINE_MAX + 100;
	char  *buf = malloc(n + 200);
	assert_non_null(buf);
	/* Line 1: a note long enough to pass the line limit. */
	int k = snprintf(buf, 200, "%s", DROP "\"note\": \"");
	memset(buf + k, 'x', n);
	k += (int) n;
	k += snprintf(buf + k, 200,
	    "\"}\n" DROP "\"area\": \"50\", \"period\": \"2024\", "
	    "\"value\": 1}\n");
	hsi_batch *b = run_len(hsi_validate_jsonl, "MOE", buf, (size_t) k);
	expect_issue(b, 1, "E_TOO_LONG", 1, NULL);
	assert_int_equal(b->n_obs, 1);
	assert_int_equal(obs_at(b, 2)->value, 1);
	hsi_batch_fini(b);
	live = NULL;
	free(buf);

	/* UTF-16 text: NUL bytes, named for what they mean. */
	static const char utf16[] = "{\0\"\0i\0";
	b = run_len(hsi_validate_jsonl, "MOE", utf16, sizeof utf16 - 1);
	const hsi_issue *is = expect_issue(b, 1, "E_ENCODING", 2, NULL);
	assert_non_null(strstr(is->msg, "UTF-16"));
}

static void
test_jsonl_duplicate(void **state)
{
	(void) state;
	/* TH-50 and 50, 2567 and 2024: the same key once canonical. */
	hsi_batch       *b  = jsonl(DROP
	           "\"area\": \"TH-50\", \"period\": \"2567\", \"value\": 1}\n" DROP
	           "\"area\": \"51\", \"period\": \"2024\", \"value\": 2}\n" DROP
	           "\"area\": \"50\", \"period\": \"2024\", \"value\": 3}\n");
	const hsi_issue *is = expect_issue(b, 3, "E_DUPLICATE", 0, NULL);
	assert_non_null(strstr(is->msg, "line 1"));
	assert_int_equal(b->n_obs, 1);
	assert_string_equal(b->obs[0].area, "51");
	assert_int_equal(b->bad_rows, 2);
}

#define SHDR                                                                  \
	"STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,TIME_PERIOD,"       \
	"OBS_VALUE,OBS_STATUS,COMMENT\r\n"
#define DF "dataflow,HSI:DF_HSI(1.0),"

static void
test_sdmx_valid(void **state)
{
	(void) state;
	hsi_batch *b
	    = sdmx("\xEF\xBB\xBF" SHDR                                /* 1 */
	            DF "I,eco_unemployment,TH-50,2024-Q1,1.2,A,\r\n"  /* 2 */
	        DF "A,eco_unemployment,50,2024-Q2,1.3,E,\"a, b\"\r\n" /* 3 */
	        DF "R,eco_unemployment,10,2567-Q3,๑.๕,,\r\n"          /* 4 */
	        DF ",eco_unemployment,RN,2024-Q4,NaN,M,ไม่มีข้อมูล\r\n"   /* 5 */
	           "datastructure,HSI:DSD_HSI(1.0),I,eco_social_security,TH,"
	           "2024-03,45.5,P,\r\n"                  /* 6 */
	        DF "I,eco_unemployment,11,2024Q1,2\r\n"); /* 7: short row */
	no_issues(b);
	assert_int_equal(b->rows, 6);
	assert_int_equal(b->n_obs, 6);

	const hsi_obs *o = obs_at(b, 2);
	assert_string_equal(o->indicator, "eco_unemployment");
	assert_string_equal(o->area, "50");
	assert_string_equal(o->period, "2024Q1");
	assert_true(o->value == 1.2);
	assert_int_equal(o->status, 'A');
	assert_null(o->note);

	o = obs_at(b, 3);
	assert_string_equal(o->period, "2024Q2");
	assert_int_equal(o->status, 'E');
	assert_string_equal(o->note, "a, b");

	o = obs_at(b, 4);
	assert_string_equal(o->period, "2024Q3");
	assert_true(o->value == 1.5);

	o = obs_at(b, 5);
	assert_int_equal(o->has_value, 0);
	assert_int_equal(o->status, 'M');
	assert_string_equal(o->note, "ไม่มีข้อมูล");

	o = obs_at(b, 6);
	assert_string_equal(o->indicator, "eco_social_security");
	assert_string_equal(o->period, "2024-03");
	assert_int_equal(o->status, 'P');
	assert_string_equal(obs_at(b, 7)->area, "11");
}

/* Columns in any order after STRUCTURE, no ACTION, NOTE for COMMENT. */
static void
test_sdmx_column_order(void **state)
{
	(void) state;
	hsi_batch *b = sdmx("STRUCTURE,OBS_VALUE,TIME_PERIOD,NOTE,REF_AREA,"
	                    "OBS_STATUS,INDICATOR,STRUCTURE_ID\n"
	                    "dataflow,3.5,2024-Q1,หมายเหตุ,TH-10,,"
	                    "eco_unemployment,HSI:DF_HSI(1.0)\n");
	no_issues(b);
	const hsi_obs *o = obs_at(b, 2);
	assert_string_equal(o->area, "10");
	assert_string_equal(o->period, "2024Q1");
	assert_true(o->value == 3.5);
	assert_string_equal(o->note, "หมายเหตุ");
}

static void
test_sdmx_action(void **state)
{
	(void) state;
	/* ACTION is column 26 of each row (after "dataflow,HSI:DF_HSI(1.0),").
	 */
	hsi_batch       *b  = sdmx(SHDR /* 1 */
	               DF
	           "D,eco_unemployment,50,2024-Q1,1,A,\n"     /* 2 */
	           DF "X,eco_unemployment,51,2024-Q1,1,A,\n"  /* 3 */
	           DF "i,eco_unemployment,52,2024-Q1,1,A,\n"  /* 4 */
	           DF "II,eco_unemployment,53,2024-Q1,1,A,\n" /* 5 */
	           ",HSI:DF_HSI(1.0),I,eco_unemployment,54,2024-Q1,1,A,\n" /* 6 */
	           DF "I,eco_unemployment,55,2024-Q1,1,A,\n"); /* 7 */
	const hsi_issue *is = expect_issue(b, 2, "E_ACTION", 26, "action");
	assert_string_equal(is->value, "D");
	assert_non_null(strstr(is->msg, "deletion is not supported"));
	assert_non_null(strstr(is->msg, "status M"));
	expect_issue(b, 3, "E_ACTION", 26, "action");
	expect_issue(b, 4, "E_ACTION", 26, "action");
	expect_issue(b, 5, "E_ACTION", 26, "action");
	expect_issue(b, 6, "E_FIELD_EMPTY", 1, "structure");
	assert_int_equal(b->n_issues, 5);
	assert_int_equal(b->bad_rows, 5);
	assert_int_equal(b->n_obs, 1);
	assert_string_equal(obs_at(b, 7)->area, "55");
}

static void
test_sdmx_row_errors(void **state)
{
	(void) state;
	hsi_batch *b = sdmx(SHDR                           /* 1 */
	        DF "I,eco_unemployment,50,2024,1,A,\n"     /* 2 */
	    DF "I,eco_unemployment,50,2024-Q1,abc,A,\n"    /* 3 */
	    DF "I,eco_unemployment,50,2024-Q2,1,A,x,y\n"   /* 4 */
	    DF "I,eco_unemployment,50,2024-Q3,\"1\"x,A,\n" /* 5 */
	    DF "I,eco_unemployment,50,2024-Q4,,A,\n"       /* 6 */
	    DF "I,edu_dropout,50,2024,1,A,\n");            /* 7 */
	/* TIME_PERIOD is column 48, OBS_VALUE on line 3 column 56. */
	expect_issue(b, 2, "E_PERIOD_FREQ", 48, "period");
	expect_issue(b, 3, "E_VALUE", 56, "value");
	expect_issue(b, 4, "E_FIELD_COUNT", 0, NULL);
	expect_issue(b, 5, "E_CSV_QUOTE", 0, NULL);
	expect_issue(b, 6, "E_VALUE_MISSING", 0, "value");
	expect_issue(b, 7, "E_NOT_OWNER", 28, "indicator");
	assert_int_equal(b->n_obs, 0);
	assert_int_equal(b->rows, 6);
	assert_int_equal(b->bad_rows, 6);
}

static void
test_sdmx_header(void **state)
{
	(void) state;
	hsi_batch       *b  = sdmx("STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,"
	                                  "REF_AREA,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\n" DF
	                           "I,eco_unemployment,50,2024-Q1,1,PC\n");
	const hsi_issue *is = expect_issue(b, 1, "E_HEADER", 72, "header");
	assert_string_equal(is->value, "UNIT_MEASURE");
	assert_int_equal(b->file_error, 1);
	assert_int_equal(b->n_obs, 0);
	assert_int_equal(b->rows, 0);
	hsi_batch_fini(b);

	b  = sdmx("STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,"
	           "TIME_PERIOD\n" DF "I,eco_unemployment,50,2024-Q1\n");
	is = expect_issue(b, 1, "E_HEADER", 1, "header");
	assert_string_equal(is->value, "OBS_VALUE");
	assert_int_equal(b->file_error, 1);
	assert_int_equal(b->n_obs, 0);
	hsi_batch_fini(b);

	b = sdmx("STRUCTURE,STRUCTURE_ID,INDICATOR,REF_AREA,TIME_PERIOD,"
	         "OBS_VALUE,COMMENT,NOTE\n");
	expect_issue(b, 1, "E_HEADER", 73, "header");
	hsi_batch_fini(b);

	b  = sdmx("DATAFLOW,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE\n"
	           "HSI:DF_HSI(1.0),eco_unemployment,50,2024-Q1,1\n");
	is = expect_issue(b, 1, "E_HEADER", 1, "header");
	assert_non_null(strstr(is->msg, "SDMX-CSV 1.0"));
	assert_int_equal(b->file_error, 1);
	hsi_batch_fini(b);

	b  = sdmx("STRUCTURE;STRUCTURE_ID;INDICATOR\n");
	is = expect_issue(b, 1, "E_HEADER", 1, "header");
	assert_non_null(strstr(is->msg, "commas"));
	hsi_batch_fini(b);

	b = sdmx("");
	expect_issue(b, 1, "E_HEADER", 1, "header");
	assert_int_equal(b->file_error, 1);
}

static void
test_sdmx_duplicate(void **state)
{
	(void) state;
	hsi_batch *b
	    = sdmx(SHDR DF "I,eco_unemployment,TH-50,2024-Q1,1,A,\n" DF
	                   "I,eco_unemployment,51,2024-Q1,1,A,\n" DF
	                   "R,eco_unemployment,50,2024Q1,2,A,\n");
	const hsi_issue *is = expect_issue(b, 4, "E_DUPLICATE", 0, NULL);
	assert_non_null(strstr(is->msg, "line 2"));
	assert_int_equal(b->n_obs, 1);
	assert_string_equal(b->obs[0].area, "51");
}

static void
test_dispatch(void **state)
{
	(void) state;
	const char *jl = DROP "\"area\": \"50\", \"period\": \"2024\", "
	                      "\"value\": 1}\n";
	hsi_batch  *b  = file("MOE", "inbox/moe-2024.jsonl", jl);
	no_issues(b);
	assert_int_equal(b->n_obs, 1);
	hsi_batch_fini(b);

	b = file("MOE", "MOE-2024.NDJSON", jl);
	no_issues(b);
	assert_int_equal(b->n_obs, 1);
	hsi_batch_fini(b);

	/* The JSON text in a .csv goes to the agency CSV reader. */
	b = file("MOE", "moe.csv", jl);
	expect_issue(b, 1, "E_CSV_QUOTE", 0, NULL);
	hsi_batch_fini(b);

	b = file("MOE", "moe.csv",
	    "indicator,area,period,value\nedu_dropout,TH-50,2567,1.5\n");
	no_issues(b);
	assert_int_equal(b->n_obs, 1);
	hsi_batch_fini(b);

	/* SDMX-CSV behind a BOM, and with every header quoted. */
	b = file("MOL", "mol.Csv",
	    "\xEF\xBB\xBF" SHDR DF "I,eco_unemployment,50,2024-Q1,1,A,\n");
	no_issues(b);
	assert_int_equal(b->n_obs, 1);
	hsi_batch_fini(b);

	b = file("MOL", "mol.csv",
	    "\"STRUCTURE\",\"STRUCTURE_ID\",\"INDICATOR\",\"REF_AREA\","
	    "\"TIME_PERIOD\",\"OBS_VALUE\"\n"
	    "\"dataflow\",\"HSI:DF_HSI(1.0)\",\"eco_unemployment\",\"50\","
	    "\"2024-Q1\",\"1\"\n");
	no_issues(b);
	assert_int_equal(b->n_obs, 1);
	hsi_batch_fini(b);

	static const char *const refused[]
	    = { "moe.xlsx", "moe", "dir.v2/moe", "moe.csv.gz", ".jsonl" };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		b = file("MOE", refused[i], jl);
		const hsi_issue *is
		    = expect_issue(b, 0, "E_FORMAT", 0, "file");
		assert_non_null(strstr(is->msg, "unknown file type"));
		assert_int_equal(b->file_error, 1);
		assert_int_equal(b->n_obs, 0);
		assert_int_equal(b->n_issues, 1);
		hsi_batch_fini(b);
	}
	b = file("MOE", NULL, jl);
	expect_issue(b, 0, "E_FORMAT", 0, "file");
}

/* The size guard is checked before a byte is read. */
static void
test_too_big(void **state)
{
	(void) state;
	static const char small[] = "{}";
	size_t            len     = (size_t) HSI_FILE_MAX_BYTES + 1;
	hsi_batch        *b = run_len(hsi_validate_jsonl, "MOE", small, len);
	expect_issue(b, 0, "E_FILE_TOO_BIG", 0, "file");
	assert_int_equal(b->file_error, 1);
	hsi_batch_fini(b);
	b = run_len(hsi_validate_sdmx, "MOL", small, len);
	expect_issue(b, 0, "E_FILE_TOO_BIG", 0, "file");
	assert_int_equal(b->file_error, 1);
}

/* An empty JSON lines file is like a CSV file with only a header. */
static void
test_jsonl_empty(void **state)
{
	(void) state;
	hsi_batch *b = jsonl("\xEF\xBB\xBF\r\n\n");
	no_issues(b);
	assert_int_equal(b->rows, 0);
	assert_int_equal(b->n_obs, 0);
}

/* Messages are cut between characters, never inside one. */
static void
test_clip(void **state)
{
	char out[8];
	(void) state;
	hsi_utf8_clip("abc", out, sizeof out);
	assert_string_equal(out, "abc");
	hsi_utf8_clip("abcdefgh", out, sizeof out);
	assert_string_equal(out, "abcd...");
	hsi_utf8_clip("กขค", out, sizeof out); /* 9 bytes */
	assert_string_equal(out, "ก...");
	hsi_utf8_clip("aกขค", out, sizeof out);
	assert_string_equal(out, "aก...");
	hsi_utf8_clip("abกขค", out, sizeof out);
	assert_string_equal(out, "ab...");
}

/* So many bad lines that the issues stop at the cap. */
static void
test_jsonl_issue_cap(void **state)
{
	(void) state;
	size_t n   = HSI_MAX_ISSUES + 10;
	char  *buf = malloc(n * 3 + 200);
	assert_non_null(buf);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + k, "[]\n", 3);
		k += 3;
	}
	k += (size_t) sprintf(buf + k, "%s",
	    DROP "\"area\": \"50\", \"period\": \"2024\", \"value\": 1}\n");
	hsi_batch *b = run_len(hsi_validate_jsonl, "MOE", buf, k);
	free(buf);
	assert_int_equal(b->n_issues, HSI_MAX_ISSUES);
	assert_int_equal(b->truncated, 1);
	assert_int_equal(b->rows, n + 1);
	assert_int_equal(b->bad_rows, n); /* the last line is still good */
	assert_int_equal(b->n_obs, 1);
}

/* The gateway's JSON body: rows[] read as JSON lines, item i as row
 * i + 1, no columns. */
static void
test_json_rows(void **state)
{
	(void) state;
	json_error_t je;
	json_t      *rows = json_loads(
	         "[" DROP "\"area\": \"TH-50\", \"period\": \"2567\", "
	              "\"value\": 1.25}," /* 1 */
	         DROP "\"area\": \"10\", \"period\": \"2023\", \"value\": "
	              "\"๑๒.๕\", \"status\": \"E\", \"note\": null}," /* 2 */
	         DROP
	         "\"area\": \"99\", \"period\": \"2024\", \"value\": 1}," /* 3 */
	         DROP "\"area\": \"10\", \"period\": 2024, \"value\": 1}," /* 4 */
	         "[1, 2]," /* 5 */
	         DROP
	         "\"area\": \"50\", \"period\": \"2024\", \"value\": 2}," /* 6 */
	         DROP "\"area\": \"96\", \"period\": \"2024\", \"value\": "
	              "true}]", /* 7 */
	         0, &je);
	assert_non_null(rows);
	hsi_batch_init(&batch);
	live = &batch;
	assert_int_equal(hsi_validate_json_rows(cat, "MOE", rows, &batch), 0);
	json_decref(rows);
	hsi_batch *b = &batch;
	assert_int_equal(b->rows, 7);
	assert_int_equal(b->n_obs, 1); /* row 2; rows 1 and 6 are one key */
	assert_int_equal(b->bad_rows, 6);
	assert_true(obs_at(b, 2)->value == 12.5);
	assert_null(obs_at(b, 2)->note);
	expect_issue(b, 3, "E_UNKNOWN_AREA", 0, "area");
	expect_issue(b, 4, "E_TYPE", 0, "period");
	expect_issue(b, 5, "E_JSON", 0, NULL);
	expect_issue(b, 6, "E_DUPLICATE", 0, "indicator");
	expect_issue(b, 7, "E_TYPE", 0, "value");
	for (size_t i = 0; i < b->n_issues; i++) {
		if (strcmp(b->issues[i].code, "E_DUPLICATE") != 0) {
			assert_int_equal(b->issues[i].col, 0); /* no text */
		}
	}
}

#define T(f) cmocka_unit_test_teardown(f, batch_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_jsonl_valid),
		T(test_jsonl_errors),
		T(test_jsonl_long_line_nul),
		T(test_jsonl_duplicate),
		T(test_jsonl_empty),
		T(test_jsonl_issue_cap),
		T(test_sdmx_valid),
		T(test_sdmx_column_order),
		T(test_sdmx_action),
		T(test_sdmx_row_errors),
		T(test_sdmx_header),
		T(test_sdmx_duplicate),
		T(test_dispatch),
		T(test_too_big),
		T(test_clip),
		T(test_json_rows),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
