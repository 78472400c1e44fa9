/*
 * alerter_test.c: the parts of hsi-alerter that need no database: strict
 * rules-file validation (each refusal names the file, rule and key), the
 * comparison operators, and the English/Thai summaries (Buddhist-era
 * years, resolved wording, UTF-8-safe truncation), and the keys of
 * hysteresis and deterioration rules. The state machine over PostgreSQL
 * is covered by tests/alerting/rules_test.py and the end-to-end test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "rules.h"
#include "summary.h"

static const char one_rule[]
    = "{\"rules\":[{\"name\":\"composite_low\",\"level\":\"index\","
      "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.45,"
      "\"area_level\":\"province\"}]}";

static void
test_default_rule(void **state)
{
	hsi_rules *rs;
	char       err[256] = "";
	(void) state;
	assert_int_equal(hsi_rules_load(NULL, &rs, err, sizeof(err)), 0);
	assert_int_equal(hsi_rules_count(rs), 1);
	const hsi_rule *r = hsi_rules_get(rs, 0);
	assert_string_equal(r->name, "composite_low");
	assert_string_equal(r->level, "index");
	assert_string_equal(r->code, "hsi");
	assert_int_equal(r->op, HSI_OP_LT);
	assert_true(r->threshold == 0.45);
	assert_string_equal(r->area_level, "province");
	assert_null(hsi_rules_get(rs, 1));
	hsi_rules_free(rs);
}

/* Parses text and expects failure with every fragment in err. */
static void
expect_refused(const char *text, const char *frag1, const char *frag2)
{
	hsi_rules *rs       = NULL;
	char       err[300] = "";
	int        rv       = hsi_rules_parse(
	                 text, strlen(text), "r.json", &rs, err, sizeof(err));
	if (rv == 0) {
		hsi_rules_free(rs);
		fail_msg("accepted: %s", text);
	}
	assert_int_equal(rv, HSI_EINVAL);
	assert_non_null(strstr(err, "r.json"));
	if (strstr(err, frag1) == NULL
	    || (frag2 != NULL && strstr(err, frag2) == NULL)) {
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, frag1,
		    frag2 ? frag2 : "");
	}
}

static void
test_strict_validation(void **state)
{
	(void) state;
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"treshold\":0.4,"
	               "\"area_level\":\"province\"}]}",
	    "rule 0", "'treshold'");
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":\"0.4\","
	               "\"area_level\":\"province\"}]}",
	    "rule 0", "'threshold'");
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.4,"
	               "\"area_level\":\"province\"},{\"name\":\"b\","
	               "\"level\":\"group\",\"code\":\"health\",\"op\":\"=<\","
	               "\"threshold\":0.4,\"area_level\":\"province\"}]}",
	    "rule 1", "'op'");
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\","
	               "\"area_level\":\"province\"}]}",
	    "rule 0", "'threshold' is required");
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"dimension\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.4,"
	               "\"area_level\":\"province\"}]}",
	    "rule 0", "'level'");
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.4,"
	               "\"area_level\":\"amphoe\"}]}",
	    "rule 0", "'area_level'");
	expect_refused("{\"rules\":[{\"name\":\"a b\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.4,"
	               "\"area_level\":\"province\"}]}",
	    "rule 0", "'name'");
	expect_refused("{\"rules\":[{\"name\":\"a\",\"level\":\"index\","
	               "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.4,"
	               "\"area_level\":\"province\"},{\"name\":\"a\","
	               "\"level\":\"index\",\"code\":\"hsi\",\"op\":\">\","
	               "\"threshold\":0.9,\"area_level\":\"region\"}]}",
	    "rule 1", "already used");
	expect_refused("{\"rules\":[], \"x\":1}", "'x'", NULL);
	expect_refused("{\"rules\":[]}", "1 to", NULL);
	expect_refused("[]", "\"rules\"", NULL);
	expect_refused("{\"rules\":[1]}", "rule 0", "object");
	expect_refused("{\"rules\":", "invalid JSON", NULL);
}

/* A rule object of one rule, with extra keys spliced in. */
#define RULE(extra)                                                           \
	"{\"rules\":[{\"name\":\"a\",\"level\":\"index\","                    \
	"\"code\":\"hsi\",\"area_level\":\"province\"" extra "}]}"

static const hsi_rule *
parse_one(const char *text, hsi_rules **rs)
{
	char err[300] = "";
	int  rv       = hsi_rules_parse(
	           text, strlen(text), "r.json", rs, err, sizeof(err));
	if (rv != 0) {
		fail_msg("refused %s: %s", text, err);
	}
	return hsi_rules_get(*rs, 0);
}

static void
test_hysteresis_keys(void **state)
{
	hsi_rules *rs;
	(void) state;
	const hsi_rule *r
	    = parse_one(RULE(",\"op\":\"<\",\"threshold\":0.4"), &rs);
	assert_int_equal(r->type, HSI_RULE_THRESHOLD);
	assert_int_equal(r->for_periods, 1);
	assert_int_equal(r->clear_periods, 1);
	assert_true(r->deadband == 0);
	assert_false(hsi_rule_spans(r)); /* today's per-period identity */
	hsi_rules_free(rs);

	r = parse_one(RULE(",\"type\":\"threshold\",\"op\":\"<\","
	                   "\"threshold\":0.4,\"for_periods\":2,"
	                   "\"clear_periods\":3,\"deadband\":0.05"),
	    &rs);
	assert_int_equal(r->for_periods, 2);
	assert_int_equal(r->clear_periods, 3);
	assert_true(r->deadband == 0.05);
	assert_true(hsi_rule_spans(r));
	/* "<" 0.4 with deadband 0.05: clears at 0.45 or more only. */
	assert_true(hsi_rule_breached(r, 0.39));
	assert_false(hsi_rule_breached(r, 0.42));
	assert_false(hsi_rule_cleared(r, 0.42));
	assert_false(hsi_rule_cleared(r, 0.449));
	assert_true(hsi_rule_cleared(r, 0.45));
	hsi_rules_free(rs);

	r = parse_one(RULE(",\"op\":\">=\",\"threshold\":0.4,"
	                   "\"deadband\":0.1"),
	    &rs);
	assert_true(hsi_rule_spans(r));
	assert_false(hsi_rule_cleared(r, 0.31));
	assert_true(hsi_rule_cleared(r, 0.29));
	hsi_rules_free(rs);

	r = parse_one(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                   "\"for_periods\":1,\"clear_periods\":1,"
	                   "\"deadband\":0"),
	    &rs);
	assert_false(hsi_rule_spans(r)); /* explicit defaults change nothing */
	hsi_rules_free(rs);
}

static void
test_deterioration_keys(void **state)
{
	hsi_rules *rs;
	(void) state;
	const hsi_rule *r = parse_one(
	    RULE(",\"type\":\"deterioration\",\"drop\":0.02"), &rs);
	assert_int_equal(r->type, HSI_RULE_DETERIORATION);
	assert_true(r->drop == 0.02);
	assert_int_equal(r->rank_fall, 0);
	assert_true(hsi_rule_spans(r));
	assert_true(hsi_rule_deteriorated(r, 1, -0.03, 0, 0));
	assert_true(hsi_rule_deteriorated(r, 1, -0.02, 1, 0));
	assert_false(hsi_rule_deteriorated(r, 1, -0.01, 1, -50));
	assert_false(hsi_rule_deteriorated(r, 0, 0, 0, 0));
	hsi_rules_free(rs);

	r = parse_one(RULE(",\"type\":\"deterioration\",\"rank_fall\":10,"
	                   "\"for_periods\":2"),
	    &rs);
	assert_true(r->drop == 0);
	assert_int_equal(r->rank_fall, 10);
	assert_int_equal(r->for_periods, 2);
	assert_true(hsi_rule_deteriorated(r, 1, -0.5, 1, -10));
	assert_false(hsi_rule_deteriorated(r, 1, -0.5, 1, -9));
	assert_false(hsi_rule_deteriorated(r, 1, -0.5, 0, 0));
	hsi_rules_free(rs);
}

static void
test_new_keys_refused(void **state)
{
	(void) state;
	expect_refused(RULE(",\"type\":\"trend\",\"op\":\"<\","
	                    "\"threshold\":0.4"),
	    "rule 0", "key 'type': 'trend'");
	expect_refused(RULE(",\"type\":1,\"op\":\"<\",\"threshold\":0.4"),
	    "rule 0", "'type' must be a string");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"for_periods\":0"),
	    "rule 0",
	    "key 'for_periods' must be a whole number from 1 to 100");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"for_periods\":101"),
	    "rule 0", "'for_periods'");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"for_periods\":1.5"),
	    "rule 0", "'for_periods'");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"clear_periods\":\"2\""),
	    "rule 0", "'clear_periods'");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"deadband\":-0.1"),
	    "rule 0", "key 'deadband' must be a number of 0 or more");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"drop\":0.1"),
	    "rule 0", "key 'drop' does not apply to a threshold rule");
	expect_refused(RULE(",\"type\":\"deterioration\",\"drop\":0.1,"
	                    "\"op\":\"<\""),
	    "rule 0", "key 'op' does not apply to a deterioration rule");
	expect_refused(RULE(",\"type\":\"deterioration\",\"drop\":0.1,"
	                    "\"deadband\":0.1"),
	    "rule 0", "key 'deadband' does not apply");
	expect_refused(RULE(",\"type\":\"deterioration\""), "rule 0",
	    "needs key 'drop' or 'rank_fall'");
	expect_refused(RULE(",\"type\":\"deterioration\",\"drop\":0"),
	    "rule 0", "key 'drop' must be a number above 0");
	expect_refused(RULE(",\"type\":\"deterioration\",\"drop\":1e300"),
	    "rule 0", "'drop'");
	expect_refused(RULE(",\"type\":\"deterioration\",\"rank_fall\":0"),
	    "rule 0",
	    "key 'rank_fall' must be a whole number from 1 to 100000");
	expect_refused(RULE(",\"type\":\"deterioration\","
	                    "\"rank_fall\":-3"),
	    "rule 0", "'rank_fall'");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,"
	                    "\"for_period\":2"),
	    "rule 0", "unknown key 'for_period'");
	expect_refused(
	    RULE(",\"threshold\":0.4"), "rule 0", "'op' is required");
}

static void
test_operators(void **state)
{
	hsi_rules *rs;
	char       err[256];
	(void) state;
	assert_int_equal(hsi_rules_parse(one_rule, strlen(one_rule), "t", &rs,
	                     err, sizeof(err)),
	    0);
	hsi_rule r = *hsi_rules_get(rs, 0);
	hsi_rules_free(rs);
	r.op = HSI_OP_LT;
	assert_true(hsi_rule_breached(&r, 0.44));
	assert_false(hsi_rule_breached(&r, 0.45));
	r.op = HSI_OP_LE;
	assert_true(hsi_rule_breached(&r, 0.45));
	assert_false(hsi_rule_breached(&r, 0.46));
	r.op = HSI_OP_GT;
	assert_true(hsi_rule_breached(&r, 0.46));
	assert_false(hsi_rule_breached(&r, 0.45));
	r.op = HSI_OP_GE;
	assert_true(hsi_rule_breached(&r, 0.45));
	assert_false(hsi_rule_breached(&r, 0.44));
	assert_string_equal(hsi_rule_op_name(HSI_OP_GE), ">=");
}

static hsi_transition
nan_2024(const char *state, const char *period)
{
	hsi_transition t;
	memset(&t, 0, sizeof(t));
	t.state = state;
	snprintf(t.area, sizeof(t.area), "55");
	snprintf(t.area_en, sizeof(t.area_en), "Nan");
	snprintf(t.area_th, sizeof(t.area_th), "น่าน");
	snprintf(t.code, sizeof(t.code), "hsi");
	snprintf(t.period, sizeof(t.period), "%s", period);
	t.op        = HSI_OP_LT;
	t.value     = 0.38123;
	t.threshold = 0.45;
	hsi_summary_what(&t, "index", NULL, NULL);
	return t;
}

static void
test_summaries(void **state)
{
	char en[256], th[256];
	(void) state;
	hsi_transition t = nan_2024("firing", "2024");
	hsi_summary_format(&t, en, sizeof(en), th, sizeof(th));
	assert_string_equal(
	    en, "Nan (55): composite index 0.3812 below 0.45 in 2024");
	assert_string_equal(th, "น่าน: ดัชนีรวม 0.3812 ต่ำกว่าเกณฑ์ 0.45 ปี 2567");

	t = nan_2024("resolved", "FY2024");
	hsi_summary_format(&t, en, sizeof(en), th, sizeof(th));
	assert_string_equal(en,
	    "Nan (55): composite index 0.3812 no longer below 0.45 in FY2024");
	assert_string_equal(
	    th, "น่าน: ดัชนีรวม 0.3812 ไม่ต่ำกว่าเกณฑ์ 0.45 แล้ว ปีงบประมาณ 2567");

	t = nan_2024("firing", "2024Q1");
	hsi_summary_what(&t, "group", "Health and food", "สุขภาพและอาหาร");
	hsi_summary_format(&t, en, sizeof(en), th, sizeof(th));
	assert_non_null(strstr(en, "Health and food dimension 0.3812"));
	assert_non_null(strstr(th, "มิติสุขภาพและอาหาร"));
	assert_non_null(strstr(th, "2567Q1"));
}

static void
test_deterioration_summaries(void **state)
{
	char en[256], th[256];
	(void) state;
	hsi_transition t = nan_2024("firing", "2024");
	t.type           = HSI_RULE_DETERIORATION;
	t.value          = 0.4265;
	t.has_delta      = 1;
	t.delta          = -0.0242;
	t.has_rank       = 1;
	t.rank_delta     = -20;
	hsi_summary_format(&t, en, sizeof(en), th, sizeof(th));
	assert_string_equal(en,
	    "Nan (55): composite index fell 0.0242 to 0.4265, down 20 ranks "
	    "in 2024");
	assert_string_equal(
	    th, "น่าน: ดัชนีรวม ลดลง 0.0242 เหลือ 0.4265 อันดับลดลง 20 ปี 2567");
	t.state = "resolved";
	hsi_summary_format(&t, en, sizeof(en), th, sizeof(th));
	assert_string_equal(
	    en, "Nan (55): composite index 0.4265 no longer falling in 2024");
	assert_string_equal(th, "น่าน: ดัชนีรวม 0.4265 ไม่ลดลงตามเกณฑ์แล้ว ปี 2567");
}

static void
test_copy_utf8_boundary(void **state)
{
	char dst[6];
	(void) state;
	/* "น่าน" is 4 characters of 3 bytes: 5 bytes fit one only. */
	hsi_summary_copy(dst, sizeof(dst), "น่าน");
	assert_string_equal(dst, "น");
	hsi_summary_copy(dst, sizeof(dst), "abc");
	assert_string_equal(dst, "abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_rule),
		cmocka_unit_test(test_strict_validation),
		cmocka_unit_test(test_hysteresis_keys),
		cmocka_unit_test(test_deterioration_keys),
		cmocka_unit_test(test_new_keys_refused),
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_summaries),
		cmocka_unit_test(test_deterioration_summaries),
		cmocka_unit_test(test_copy_utf8_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
