/*
 * alerter_test.c: the parts of hsi-alerter that need no database: strict
 * rules-file validation (each refusal names the file, rule and key), the
 * comparison operators, and the English/Thai summaries (Buddhist-era
 * years, resolved wording, UTF-8-safe truncation), the keys of
 * hysteresis and deterioration rules, the late_data, suspicious and spike
 * rules (defaults, each key's bounds, keys of another type), and the
 * file's "inhibit", "repeat_hours", receivers' "repush_seconds" and the
 * document text kept as read. The state machine over PostgreSQL is
 * covered by tests/alerting/rules_test.py and the end-to-end test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "period.h"
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

/* One rule of each of the newer types, with extra keys spliced in. */
#define LATE(extra)                                                           \
	"{\"rules\":[{\"name\":\"l\",\"type\":\"late_data\"" extra "}]}"
#define SUSPICIOUS(extra)                                                     \
	"{\"rules\":[{\"name\":\"s\",\"type\":\"suspicious\"" extra "}]}"
#define SPIKE(extra)                                                          \
	"{\"rules\":[{\"name\":\"k\",\"type\":\"spike\","                     \
	"\"code\":\"dengue\"" extra "}]}"

/* A valid file with one threshold rule and extra top-level keys. */
#define TOP_HEAD                                                              \
	"{\"rules\":[{\"name\":\"a\",\"level\":\"index\",\"code\":\"hsi\","   \
	"\"op\":\"<\",\"threshold\":0.4,\"area_level\":\"province\"}]"
#define TOP(extra) TOP_HEAD extra "}"

/* Parses text, which must be accepted; the caller frees the rules. */
static hsi_rules *
parse_ok(const char *text)
{
	hsi_rules *rs;
	(void) parse_one(text, &rs);
	return rs;
}

/* Writes head, then n JSON strings "<letter><NN><suffix>" (distinct: A00,
 * A01, ...) separated by commas, then tail into buf; returns buf. */
static const char *
items(char *buf, size_t size, const char *head, char letter, int n,
    const char *suffix, const char *tail)
{
	size_t len = (size_t) snprintf(buf, size, "%s", head);
	for (int i = 0; i < n && len < size; i++) {
		len += (size_t) snprintf(buf + len, size - len,
		    "%s\"%c%02d%s\"", i ? "," : "", letter, i, suffix);
	}
	if (len < size) {
		len += (size_t) snprintf(buf + len, size - len, "%s", tail);
	}
	assert_true(len < size);
	return buf;
}

/* Writes head, then n copies of item separated by commas, then tail. */
static const char *
repeat(char *buf, size_t size, const char *head, const char *item, int n,
    const char *tail)
{
	size_t len = (size_t) snprintf(buf, size, "%s", head);
	for (int i = 0; i < n && len < size; i++) {
		len += (size_t) snprintf(
		    buf + len, size - len, "%s%s", i ? "," : "", item);
	}
	if (len < size) {
		len += (size_t) snprintf(buf + len, size - len, "%s", tail);
	}
	assert_true(len < size);
	return buf;
}

static void
test_late_data_keys(void **state)
{
	hsi_rules *rs;
	(void) state;
	const hsi_rule *r = parse_one(LATE(""), &rs);
	assert_int_equal(r->type, HSI_RULE_LATE_DATA);
	assert_string_equal(r->name, "l");
	assert_string_equal(r->code, "");
	assert_int_equal(r->n_agencies, 0);   /* every agency */
	assert_int_equal(r->n_indicators, 0); /* every indicator */
	for (int f = 0; f < 6; f++) {
		assert_int_equal(r->grace_days[f], -1); /* quality.h's */
	}
	assert_int_equal(r->remind_days, 14);
	assert_int_equal(r->lookback_days, 400);
	assert_true(r->min_completeness == 1.0);
	assert_false(hsi_rule_on_scores(r));
	hsi_rules_free(rs);

	r = parse_one(LATE(",\"agencies\":[\"NSO\",\"MOPH\","
	                   "\"A123456789ABCDEF\"],"
	                   "\"indicators\":[\"pov_rate\","
	                   "\"a2345678901234567890123456789012\"],"
	                   "\"grace_days\":{\"monthly\":45,\"annual\":0,"
	                   "\"daily\":3660},"
	                   "\"remind_days\":0,\"lookback_days\":1,"
	                   "\"min_completeness\":0.9"),
	    &rs);
	assert_int_equal(r->n_agencies, 3);
	assert_string_equal(r->agencies[0], "NSO");
	assert_string_equal(r->agencies[1], "MOPH");
	assert_string_equal(r->agencies[2], "A123456789ABCDEF"); /* 16 */
	assert_int_equal(r->n_indicators, 2);
	assert_string_equal(r->indicators[0], "pov_rate");
	assert_string_equal(
	    r->indicators[1], "a2345678901234567890123456789012"); /* 32 */
	assert_int_equal(r->grace_days[HSI_FREQ_MONTH], 45);
	assert_int_equal(r->grace_days[HSI_FREQ_ANNUAL], 0);
	assert_int_equal(r->grace_days[HSI_FREQ_DAY], 3660);
	assert_int_equal(r->grace_days[HSI_FREQ_FISCAL], -1);
	assert_int_equal(r->grace_days[HSI_FREQ_QUARTER], -1);
	assert_int_equal(r->grace_days[HSI_FREQ_FQUARTER], -1);
	assert_int_equal(r->remind_days, 0);
	assert_int_equal(r->lookback_days, 1);
	assert_true(r->min_completeness == 0.9);
	hsi_rules_free(rs);

	r = parse_one(LATE(",\"remind_days\":3660,\"lookback_days\":3660,"
	                   "\"min_completeness\":1,\"grace_days\":{}"),
	    &rs);
	assert_int_equal(r->remind_days, 3660);
	assert_int_equal(r->lookback_days, 3660);
	assert_true(r->min_completeness == 1.0);
	assert_int_equal(r->grace_days[HSI_FREQ_MONTH], -1);
	hsi_rules_free(rs);

	r = parse_one(LATE(",\"min_completeness\":1e-9"), &rs);
	assert_true(r->min_completeness == 1e-9);
	hsi_rules_free(rs);
}

static void
test_late_data_lists(void **state)
{
	char text[4096];
	(void) state;
	hsi_rules *rs = parse_ok(items(text, sizeof(text),
	    "{\"rules\":[{\"name\":\"l\",\"type\":\"late_data\",\"agencies\":"
	    "[",
	    'A', 32, "", "]}]}"));
	assert_int_equal(hsi_rules_get(rs, 0)->n_agencies, 32);
	assert_string_equal(hsi_rules_get(rs, 0)->agencies[31], "A31");
	hsi_rules_free(rs);
	expect_refused(
	    items(text, sizeof(text),
	        "{\"rules\":[{\"name\":\"l\",\"type\":\"late_data\","
	        "\"agencies\":[",
	        'A', 33, "", "]}]}"),
	    "rule 0", "key 'agencies' must be an array of 1 to 32");
	rs = parse_ok(items(text, sizeof(text),
	    "{\"rules\":[{\"name\":\"l\",\"type\":\"late_data\","
	    "\"indicators\":[",
	    'i', 64, "", "]}]}"));
	assert_int_equal(hsi_rules_get(rs, 0)->n_indicators, 64);
	assert_string_equal(hsi_rules_get(rs, 0)->indicators[63], "i63");
	hsi_rules_free(rs);
	expect_refused(
	    items(text, sizeof(text),
	        "{\"rules\":[{\"name\":\"l\",\"type\":\"late_data\","
	        "\"indicators\":[",
	        'i', 65, "", "]}]}"),
	    "rule 0", "key 'indicators' must be an array of 1 to 64");
}

static void
test_late_data_refused(void **state)
{
	(void) state;
	expect_refused(LATE(",\"remind_days\":-1"), "rule 0",
	    "key 'remind_days' must be a whole number from 0 to 3660");
	expect_refused(LATE(",\"remind_days\":3661"), "rule 0",
	    "key 'remind_days' must be a whole number from 0 to 3660");
	expect_refused(
	    LATE(",\"remind_days\":1.5"), "rule 0", "'remind_days'");
	expect_refused(LATE(",\"lookback_days\":0"), "rule 0",
	    "key 'lookback_days' must be a whole number from 1 to 3660");
	expect_refused(LATE(",\"lookback_days\":3661"), "rule 0",
	    "key 'lookback_days' must be a whole number from 1 to 3660");
	expect_refused(LATE(",\"min_completeness\":0"), "rule 0",
	    "key 'min_completeness' must be a number above 0");
	expect_refused(LATE(",\"min_completeness\":-0.5"), "rule 0",
	    "key 'min_completeness' must be a number above 0");
	expect_refused(LATE(",\"min_completeness\":1.0001"), "rule 0",
	    "key 'min_completeness' must be above 0 and at most 1");
	expect_refused(
	    LATE(",\"min_completeness\":90"), "rule 0", "at most 1");
	expect_refused(LATE(",\"min_completeness\":\"0.9\""), "rule 0",
	    "'min_completeness'");
	expect_refused(LATE(",\"grace_days\":{\"weekly\":7}"), "rule 0",
	    "key 'grace_days': 'weekly' is not annual, fiscal, quarterly");
	expect_refused(LATE(",\"grace_days\":{\"Monthly\":7}"), "rule 0",
	    "'Monthly' is not annual");
	expect_refused(LATE(",\"grace_days\":{\"monthly\":-1}"), "rule 0",
	    "key 'grace_days': 'monthly' must be a whole number of days "
	    "from 0 to 3660");
	expect_refused(LATE(",\"grace_days\":{\"annual\":3661}"), "rule 0",
	    "'annual' must be a whole number of days from 0 to 3660");
	expect_refused(LATE(",\"grace_days\":{\"fiscal\":1.5}"), "rule 0",
	    "'fiscal' must be a whole number");
	expect_refused(LATE(",\"grace_days\":{\"daily\":\"3\"}"), "rule 0",
	    "'daily' must be a whole number");
	expect_refused(LATE(",\"grace_days\":[30]"), "rule 0",
	    "key 'grace_days' must be an object of frequency to days");
	expect_refused(LATE(",\"agencies\":[\"nso\"]"), "rule 0",
	    "key 'agencies': item 0 must be an agency code");
	expect_refused(LATE(",\"agencies\":[\"NSO\",\"N\"]"), "rule 0",
	    "key 'agencies': item 1 must be an agency code");
	expect_refused(LATE(",\"agencies\":[\"1NSO\"]"), "rule 0",
	    "item 0 must be an agency code");
	expect_refused(LATE(",\"agencies\":[\"NS-O\"]"), "rule 0",
	    "item 0 must be an agency code");
	expect_refused(LATE(",\"agencies\":[\"A123456789ABCDEFG\"]"), "rule 0",
	    "item 0 must be an agency code"); /* 17 */
	expect_refused(LATE(",\"agencies\":[7]"), "rule 0",
	    "item 0 must be an agency code");
	expect_refused(LATE(",\"agencies\":[]"), "rule 0",
	    "key 'agencies' must be an array of 1 to 32");
	expect_refused(LATE(",\"agencies\":\"NSO\""), "rule 0",
	    "key 'agencies' must be an array");
	expect_refused(LATE(",\"indicators\":[\"Pov_rate\"]"), "rule 0",
	    "key 'indicators': item 0 must be an indicator code");
	expect_refused(LATE(",\"indicators\":[\"pov_rate\",\"pov-rate\"]"),
	    "rule 0", "key 'indicators': item 1 must be an indicator code");
	expect_refused(
	    LATE(",\"indicators\":[\"a23456789012345678901234567890123\"]"),
	    "rule 0", "item 0 must be an indicator code"); /* 33 */
	expect_refused(LATE(",\"indicators\":[\"\"]"), "rule 0",
	    "item 0 must be an indicator code");
	expect_refused(LATE(",\"indicators\":[null]"), "rule 0",
	    "item 0 must be an indicator code");
	expect_refused(LATE(",\"indicators\":[]"), "rule 0",
	    "key 'indicators' must be an array of 1 to 64");
}

static void
test_suspicious_keys(void **state)
{
	hsi_rules *rs;
	(void) state;
	const hsi_rule *r = parse_one(SUSPICIOUS(""), &rs);
	assert_int_equal(r->type, HSI_RULE_SUSPICIOUS);
	assert_string_equal(r->code, ""); /* every indicator */
	assert_string_equal(r->area_level, "province");
	assert_true(r->z == 3.5);
	assert_true(r->jump_factor == 2.0);
	assert_int_equal(r->min_n, 5);
	assert_int_equal(r->lookback_years, 2);
	assert_false(hsi_rule_on_scores(r));
	hsi_rules_free(rs);

	r = parse_one(SUSPICIOUS(",\"code\":\"pov_rate\","
	                         "\"area_level\":\"district\",\"z\":0.5,"
	                         "\"jump_factor\":0,\"min_n\":3"),
	    &rs);
	assert_string_equal(r->code, "pov_rate");
	assert_string_equal(r->area_level, "district");
	assert_true(r->z == 0.5);
	assert_true(r->jump_factor == 0); /* year-on-year check off */
	assert_int_equal(r->min_n, 3);
	hsi_rules_free(rs);

	r = parse_one(SUSPICIOUS(",\"jump_factor\":1.01,\"min_n\":100000,"
	                         "\"lookback_years\":0"),
	    &rs);
	assert_int_equal(r->lookback_years, 0); /* every year */
	assert_true(r->jump_factor == 1.01);
	assert_int_equal(r->min_n, 100000);
	hsi_rules_free(rs);

	expect_refused(SUSPICIOUS(",\"lookback_years\":101"), "rule 0",
	    "key 'lookback_years' must be a whole number from 0 to 100");
	expect_refused(SUSPICIOUS(",\"jump_factor\":1"), "rule 0",
	    "key 'jump_factor' must be above 1");
	expect_refused(SUSPICIOUS(",\"jump_factor\":0.5"), "rule 0",
	    "key 'jump_factor' must be above 1");
	expect_refused(SUSPICIOUS(",\"jump_factor\":-2"), "rule 0",
	    "key 'jump_factor' must be a number of 0 or more");
	expect_refused(SUSPICIOUS(",\"z\":0"), "rule 0",
	    "key 'z' must be a number above 0");
	expect_refused(SUSPICIOUS(",\"z\":-1"), "rule 0",
	    "key 'z' must be a number above 0");
	expect_refused(SUSPICIOUS(",\"z\":1e13"), "rule 0", "'z'");
	expect_refused(SUSPICIOUS(",\"min_n\":2"), "rule 0",
	    "key 'min_n' must be a whole number from 3 to 100000");
	expect_refused(SUSPICIOUS(",\"min_n\":100001"), "rule 0",
	    "key 'min_n' must be a whole number from 3 to 100000");
	expect_refused(SUSPICIOUS(",\"code\":\"Pov_rate\""), "rule 0",
	    "key 'code': 'Pov_rate' must be 1-63 characters");
	expect_refused(
	    SUSPICIOUS(",\"code\":\"pov rate\""), "rule 0", "key 'code'");
	expect_refused(SUSPICIOUS(",\"code\":5"), "rule 0",
	    "key 'code' must be a string");
	expect_refused(SUSPICIOUS(",\"area_level\":\"amphoe\""), "rule 0",
	    "key 'area_level': 'amphoe' is not nation");
	expect_refused(SUSPICIOUS(",\"area_level\":1"), "rule 0",
	    "key 'area_level' must be a string");
}

static void
test_spike_keys(void **state)
{
	hsi_rules *rs;
	(void) state;
	const hsi_rule *r = parse_one(SPIKE(",\"weeks\":3"), &rs);
	/* The default min_weeks (4) follows a shorter look-back. */
	assert_int_equal(r->weeks, 3);
	assert_int_equal(r->min_weeks, 3);
	hsi_rules_free(rs);
	expect_refused(SPIKE(",\"factor\":0.5"), "rule 0",
	    "key 'factor' must be 1 or more");
	r = parse_one(SPIKE(""), &rs);
	assert_int_equal(r->type, HSI_RULE_SPIKE);
	assert_string_equal(r->code, "dengue");
	assert_string_equal(r->area_level, "province");
	assert_int_equal(r->weeks, 8);
	assert_int_equal(r->min_weeks, 4);
	assert_true(r->factor == 2.0);
	assert_true(r->min_excess == 10);
	assert_true(r->z == 4);
	assert_int_equal(r->lookback_days, 14);
	assert_false(hsi_rule_on_scores(r));
	hsi_rules_free(rs);

	r = parse_one(SPIKE(",\"area_level\":\"nation\",\"weeks\":104,"
	                    "\"min_weeks\":104,\"factor\":1.5,"
	                    "\"min_excess\":0,\"z\":0,\"lookback_days\":366"),
	    &rs);
	assert_string_equal(r->area_level, "nation");
	assert_int_equal(r->weeks, 104);
	assert_int_equal(r->min_weeks, 104); /* equal to weeks is fine */
	assert_true(r->factor == 1.5);
	assert_true(r->min_excess == 0);
	assert_true(r->z == 0); /* unlike suspicious, z 0 is accepted */
	assert_int_equal(r->lookback_days, 366);
	hsi_rules_free(rs);

	r = parse_one(SPIKE(",\"weeks\":1,\"min_weeks\":1,"
	                    "\"lookback_days\":1,\"min_excess\":1e12"),
	    &rs);
	assert_int_equal(r->weeks, 1);
	assert_int_equal(r->min_weeks, 1);
	assert_int_equal(r->lookback_days, 1);
	assert_true(r->min_excess == 1e12);
	hsi_rules_free(rs);

	expect_refused("{\"rules\":[{\"name\":\"k\",\"type\":\"spike\"}]}",
	    "rule 0", "key 'code' is required");
	expect_refused(SPIKE(",\"weeks\":0"), "rule 0",
	    "key 'weeks' must be a whole number from 1 to 104");
	expect_refused(SPIKE(",\"weeks\":105"), "rule 0",
	    "key 'weeks' must be a whole number from 1 to 104");
	expect_refused(SPIKE(",\"min_weeks\":0"), "rule 0",
	    "key 'min_weeks' must be a whole number from 1 to 104");
	expect_refused(SPIKE(",\"min_weeks\":105,\"weeks\":104"), "rule 0",
	    "key 'min_weeks' must be a whole number from 1 to 104");
	expect_refused(SPIKE(",\"weeks\":5,\"min_weeks\":6"), "rule 0",
	    "key 'min_weeks' (6) must not exceed 'weeks' (5)");
	expect_refused(SPIKE(",\"factor\":0"), "rule 0",
	    "key 'factor' must be a number above 0");
	expect_refused(SPIKE(",\"factor\":-2"), "rule 0", "'factor'");
	expect_refused(SPIKE(",\"min_excess\":-1"), "rule 0",
	    "key 'min_excess' must be a number of 0 or more");
	expect_refused(
	    SPIKE(",\"min_excess\":2e12"), "rule 0", "'min_excess'");
	expect_refused(SPIKE(",\"z\":-0.5"), "rule 0",
	    "key 'z' must be a number of 0 or more");
	expect_refused(SPIKE(",\"lookback_days\":0"), "rule 0",
	    "key 'lookback_days' must be a whole number from 1 to 366");
	expect_refused(SPIKE(",\"lookback_days\":367"), "rule 0",
	    "key 'lookback_days' must be a whole number from 1 to 366");
	expect_refused(SPIKE(",\"area_level\":\"amphoe\""), "rule 0",
	    "key 'area_level': 'amphoe'");
}

static void
test_code_per_type(void **state)
{
	(void) state;
	/* Required for spike (and the score rules), optional for
	 * suspicious, refused on late_data; malformed is refused. */
	expect_refused("{\"rules\":[{\"name\":\"k\",\"type\":\"spike\","
	               "\"code\":\"Dengue\"}]}",
	    "rule 0", "key 'code': 'Dengue' must be 1-63 characters");
	expect_refused("{\"rules\":[{\"name\":\"k\",\"type\":\"spike\","
	               "\"code\":\"\"}]}",
	    "rule 0", "key 'code'");
	/* An explicit empty code is malformed for suspicious too (leaving
	 * the key out is what means every indicator). */
	expect_refused(SUSPICIOUS(",\"code\":\"\""), "rule 0", "key 'code'");
	expect_refused("{\"rules\":[{\"name\":\"k\",\"type\":\"spike\","
	               "\"code\":[\"dengue\"]}]}",
	    "rule 0", "key 'code' must be a string");
	expect_refused(LATE(",\"code\":\"pov_rate\""), "rule 0",
	    "key 'code' does not apply to a late_data rule");
	expect_refused(
	    "{\"rules\":[{\"name\":\"a b\",\"type\":\"suspicious\"}]}",
	    "rule 0", "key 'name'");
	expect_refused("{\"rules\":[{\"type\":\"late_data\"}]}", "rule 0",
	    "key 'name' is required");
}

static void
test_cross_type_keys(void **state)
{
	(void) state;
	expect_refused(LATE(",\"z\":3"), "rule 0",
	    "key 'z' does not apply to a late_data rule");
	expect_refused(LATE(",\"level\":\"index\""), "rule 0",
	    "key 'level' does not apply to a late_data rule");
	expect_refused(LATE(",\"area_level\":\"province\""), "rule 0",
	    "key 'area_level' does not apply to a late_data rule");
	expect_refused(LATE(",\"for_periods\":2"), "rule 0",
	    "key 'for_periods' does not apply to a late_data rule");
	expect_refused(SPIKE(",\"agencies\":[\"NSO\"]"), "rule 0",
	    "key 'agencies' does not apply to a spike rule");
	expect_refused(SPIKE(",\"jump_factor\":2"), "rule 0",
	    "key 'jump_factor' does not apply to a spike rule");
	expect_refused(SPIKE(",\"threshold\":0.4"), "rule 0",
	    "key 'threshold' does not apply to a spike rule");
	expect_refused(SUSPICIOUS(",\"op\":\"<\""), "rule 0",
	    "key 'op' does not apply to a suspicious rule");
	expect_refused(SUSPICIOUS(",\"weeks\":4"), "rule 0",
	    "key 'weeks' does not apply to a suspicious rule");
	expect_refused(SUSPICIOUS(",\"grace_days\":{}"), "rule 0",
	    "key 'grace_days' does not apply to a suspicious rule");
	expect_refused(RULE(",\"op\":\"<\",\"threshold\":0.4,\"z\":3"),
	    "rule 0", "key 'z' does not apply to a threshold rule");
	expect_refused(RULE(",\"type\":\"deterioration\",\"drop\":0.1,"
	                    "\"min_weeks\":2"),
	    "rule 0",
	    "key 'min_weeks' does not apply to a deterioration rule");
	expect_refused(LATE(",\"grace\":{}"), "rule 0",
	    "unknown key 'grace' (a late_data rule takes: name, type, "
	    "agencies, indicators, grace_days, remind_days, lookback_days, "
	    "min_completeness)");
	expect_refused(SUSPICIOUS(",\"zscore\":3"), "rule 0",
	    "unknown key 'zscore' (a suspicious rule takes: name, type, "
	    "code, area_level, z, jump_factor, min_n, lookback_years)");
	expect_refused(SPIKE(",\"week\":3"), "rule 0",
	    "unknown key 'week' (a spike rule takes: name, type, code, "
	    "area_level, weeks, min_weeks, factor, min_excess, z, "
	    "lookback_days)");
	expect_refused(RULE(",\"type\":\"Spike\""), "rule 0",
	    "key 'type': 'Spike' is not threshold, deterioration, "
	    "late_data, suspicious or spike");
}

static void
test_mixed_types(void **state)
{
	(void) state;
	static const char text[]
	    = "{\"rules\":["
	      "{\"name\":\"a\",\"level\":\"index\",\"code\":\"hsi\","
	      "\"op\":\"<\",\"threshold\":0.4,\"area_level\":\"province\"},"
	      "{\"name\":\"b\",\"type\":\"deterioration\",\"level\":\"index\","
	      "\"code\":\"hsi\",\"area_level\":\"province\",\"drop\":0.1},"
	      "{\"name\":\"c\",\"type\":\"late_data\"},"
	      "{\"name\":\"d\",\"type\":\"suspicious\"},"
	      "{\"name\":\"e\",\"type\":\"spike\",\"code\":\"dengue\"}]}";
	hsi_rules *rs = parse_ok(text);
	assert_int_equal(hsi_rules_count(rs), 5);
	static const hsi_rule_type want[]
	    = { HSI_RULE_THRESHOLD, HSI_RULE_DETERIORATION, HSI_RULE_LATE_DATA,
		      HSI_RULE_SUSPICIOUS, HSI_RULE_SPIKE };
	for (size_t i = 0; i < 5; i++) {
		const hsi_rule *r = hsi_rules_get(rs, i);
		assert_int_equal(r->type, want[i]);
		assert_int_equal(hsi_rule_on_scores(r), i < 2);
	}
	hsi_rules_free(rs);
	expect_refused("{\"rules\":[{\"name\":\"x\",\"type\":\"late_data\"},"
	               "{\"name\":\"x\",\"type\":\"spike\","
	               "\"code\":\"dengue\"}]}",
	    "rule 1", "'x' is already used by rule 0");
	expect_refused("{\"rules\":[{\"name\":\"x\",\"type\":\"late_data\"},"
	               "{\"name\":\"y\",\"type\":\"spike\"}]}",
	    "rule 1", "key 'code' is required");
	assert_string_equal(
	    hsi_rule_type_name(HSI_RULE_THRESHOLD), "threshold");
	assert_string_equal(
	    hsi_rule_type_name(HSI_RULE_DETERIORATION), "deterioration");
	assert_string_equal(
	    hsi_rule_type_name(HSI_RULE_LATE_DATA), "late_data");
	assert_string_equal(
	    hsi_rule_type_name(HSI_RULE_SUSPICIOUS), "suspicious");
	assert_string_equal(hsi_rule_type_name(HSI_RULE_SPIKE), "spike");
	assert_string_equal(hsi_rule_type_name((hsi_rule_type) 5), "?");
}

static void
test_inhibit_default(void **state)
{
	(void) state;
	hsi_rules *rs = parse_ok(TOP(""));
	assert_int_equal(hsi_rules_inhibit_count(rs), 1);
	const hsi_inhibit *h = hsi_rules_inhibit(rs, 0);
	assert_non_null(h);
	assert_int_equal(h->n_source, 1);
	assert_string_equal(h->source[0], "level=index");
	assert_int_equal(h->n_target, 1);
	assert_string_equal(h->target[0], "level=group");
	assert_int_equal(h->n_equal, 3);
	assert_string_equal(h->equal[0], "area");
	assert_string_equal(h->equal[1], "area_level");
	assert_string_equal(h->equal[2], "methodology");
	assert_null(hsi_rules_inhibit(rs, 1));
	hsi_rules_free(rs);

	rs = parse_ok(TOP(",\"inhibit\":[]"));
	assert_int_equal(hsi_rules_inhibit_count(rs), 0);
	assert_null(hsi_rules_inhibit(rs, 0));
	hsi_rules_free(rs);

	rs = parse_ok(TOP(",\"inhibit\":[{\"source\":[\"level=index\","
	                  "\"area=~5.*\"],\"target\":[\"level!=index\"],"
	                  "\"equal\":[\"area\",\"_x9\"]},"
	                  "{\"target\":[\"rule!~spike_.*\"],"
	                  "\"source\":[\"rule=x\"]},"
	                  "{\"source\":[\"a=\"],\"target\":[\"b=c\"],"
	                  "\"equal\":[]}]"));
	assert_int_equal(hsi_rules_inhibit_count(rs), 3);
	h = hsi_rules_inhibit(rs, 0);
	assert_int_equal(h->n_source, 2);
	assert_string_equal(h->source[0], "level=index");
	assert_string_equal(h->source[1], "area=~5.*");
	assert_int_equal(h->n_target, 1);
	assert_string_equal(h->target[0], "level!=index");
	assert_int_equal(h->n_equal, 2);
	assert_string_equal(h->equal[1], "_x9");
	h = hsi_rules_inhibit(rs, 1);
	assert_string_equal(h->source[0], "rule=x");
	assert_string_equal(h->target[0], "rule!~spike_.*");
	assert_int_equal(h->n_equal, 0); /* no "equal": any alerts */
	assert_int_equal(hsi_rules_inhibit(rs, 2)->n_equal, 0);
	assert_null(hsi_rules_inhibit(rs, 3));
	hsi_rules_free(rs);
}

static void
test_inhibit_refused(void **state)
{
	(void) state;
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level\"],"
	                   "\"target\":[\"level=group\"]}]"),
	    "inhibit 0: key 'source': item 0:", "operator: none found");
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\",\"area=~(\"]}]"),
	    "inhibit 0: key 'target': item 1:", "regex");
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"le-vel=index\"],"
	                   "\"target\":[\"level=group\"]}]"),
	    "inhibit 0: key 'source': item 0:", "not a label name");
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"]},"
	                   "{\"source\":[\"=index\"],"
	                   "\"target\":[\"level=group\"]}]"),
	    "inhibit 1: key 'source': item 0:", "name: empty");
	expect_refused(TOP(",\"inhibit\":[{\"source\":[7],"
	                   "\"target\":[\"level=group\"]}]"),
	    "inhibit 0: key 'source': item 0: must be a string", NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"],"
	                   "\"equal\":[\"area\",\"area-level\"]}]"),
	    "inhibit 0: key 'equal': item 1: must be a label name", NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"],"
	                   "\"equal\":[\"9area\"]}]"),
	    "inhibit 0: key 'equal': item 0: must be a label name", NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"],\"equal\":[\"\"]}]"),
	    "inhibit 0: key 'equal': item 0: must be a label name", NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"],\"equal\":[null]}]"),
	    "inhibit 0: key 'equal': item 0: must be a string", NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"],"
	                   "\"equal\":\"area\"}]"),
	    "inhibit 0: key 'equal' must be an array of 0 to 8", NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[],"
	                   "\"target\":[\"level=group\"]}]"),
	    "inhibit 0: key 'source' must be an array of 1 to 8 matchers",
	    NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":\"level=group\"}]"),
	    "inhibit 0: key 'target' must be an array of 1 to 8 matchers",
	    NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"],"
	                   "\"equals\":[\"area\"]}]"),
	    "inhibit 0: unknown key 'equals'",
	    "(allowed: source, target, equal)");
	expect_refused(TOP(",\"inhibit\":[{\"sources\":[\"level=index\"],"
	                   "\"target\":[\"level=group\"]}]"),
	    "inhibit 0: must be an object with keys 'source' and 'target'",
	    NULL);
	expect_refused(TOP(",\"inhibit\":[{\"source\":[\"level=index\"]}]"),
	    "inhibit 0: must be an object with keys 'source' and 'target'",
	    NULL);
	expect_refused(TOP(",\"inhibit\":[\"level=index\"]"),
	    "inhibit 0: must be an object", NULL);
	expect_refused(TOP(",\"inhibit\":{}"),
	    "key 'inhibit' must be an array of at most 16", NULL);
	expect_refused(TOP(",\"inhibit\":null"),
	    "key 'inhibit' must be an array of at most 16", NULL);
}

static void
test_inhibit_limits(void **state)
{
	char text[8192];
	(void) state;
	static const char entry[]
	    = "{\"source\":[\"level=index\"],\"target\":[\"level=group\"]}";
	hsi_rules *rs = parse_ok(repeat(
	    text, sizeof(text), TOP_HEAD ",\"inhibit\":[", entry, 16, "]}"));
	assert_int_equal(hsi_rules_inhibit_count(rs), 16);
	assert_string_equal(
	    hsi_rules_inhibit(rs, 15)->target[0], "level=group");
	assert_null(hsi_rules_inhibit(rs, 16));
	hsi_rules_free(rs);
	expect_refused(repeat(text, sizeof(text), TOP_HEAD ",\"inhibit\":[",
	                   entry, 17, "]}"),
	    "key 'inhibit' must be an array of at most 16 inhibitions", NULL);

	rs = parse_ok(items(text, sizeof(text),
	    TOP_HEAD ",\"inhibit\":[{\"target\":[\"level=group\"],"
	             "\"source\":[",
	    'l', 8, "=x", "]}]}"));
	assert_int_equal(hsi_rules_inhibit(rs, 0)->n_source, 8);
	assert_string_equal(hsi_rules_inhibit(rs, 0)->source[7], "l07=x");
	hsi_rules_free(rs);
	expect_refused(items(text, sizeof(text),
	                   TOP_HEAD ",\"inhibit\":[{\"target\":[\"a=b\"],"
	                            "\"source\":[",
	                   'l', 9, "=x", "]}]}"),
	    "inhibit 0: key 'source' must be an array of 1 to 8", NULL);
	expect_refused(items(text, sizeof(text),
	                   TOP_HEAD ",\"inhibit\":[{\"source\":[\"a=b\"],"
	                            "\"target\":[",
	                   'l', 9, "!~x", "]}]}"),
	    "inhibit 0: key 'target' must be an array of 1 to 8", NULL);

	rs = parse_ok(items(text, sizeof(text),
	    TOP_HEAD ",\"inhibit\":[{\"source\":[\"a=b\"],"
	             "\"target\":[\"c=d\"],\"equal\":[",
	    'l', 8, "", "]}]}"));
	assert_int_equal(hsi_rules_inhibit(rs, 0)->n_equal, 8);
	assert_string_equal(hsi_rules_inhibit(rs, 0)->equal[7], "l07");
	hsi_rules_free(rs);
	expect_refused(items(text, sizeof(text),
	                   TOP_HEAD ",\"inhibit\":[{\"source\":[\"a=b\"],"
	                            "\"target\":[\"c=d\"],\"equal\":[",
	                   'l', 9, "", "]}]}"),
	    "inhibit 0: key 'equal' must be an array of 0 to 8", NULL);
}

static void
test_repeat_hours(void **state)
{
	(void) state;
	hsi_rules *rs = parse_ok(TOP(""));
	assert_int_equal(hsi_rules_repeat_hours(rs), 24);
	hsi_rules_free(rs);
	rs = parse_ok(TOP(",\"repeat_hours\":0"));
	assert_int_equal(hsi_rules_repeat_hours(rs), 0); /* never repeat */
	hsi_rules_free(rs);
	rs = parse_ok(TOP(",\"repeat_hours\":8760"));
	assert_int_equal(hsi_rules_repeat_hours(rs), 8760);
	hsi_rules_free(rs);
	static const char msg[]
	    = "key 'repeat_hours' must be a whole number of hours from 0 "
	      "(never repeat) to 8760";
	expect_refused(TOP(",\"repeat_hours\":-1"), msg, NULL);
	expect_refused(TOP(",\"repeat_hours\":8761"), msg, NULL);
	expect_refused(TOP(",\"repeat_hours\":1.5"), msg, NULL);
	expect_refused(TOP(",\"repeat_hours\":\"24\""), msg, NULL);
	expect_refused(TOP(",\"repeat_hours\":null"), msg, NULL);
	expect_refused(TOP(",\"repeat_hour\":24"), "unknown key 'repeat_hour'",
	    "\"inhibit\" and \"repeat_hours\"");
}

/* A file whose one receiver is an alertmanager, with extra keys. */
#define AM(extra)                                                             \
	TOP(",\"receivers\":[{\"name\":\"am\",\"type\":\"alertmanager\","     \
	    "\"url\":\"http://127.0.0.1:9093\"" extra "}]")

static void
test_repush_seconds(void **state)
{
	(void) state;
	hsi_rules *rs = parse_ok(AM(""));
	assert_int_equal(hsi_rules_receiver_count(rs), 1);
	const hsi_receiver *rc = hsi_rules_receiver(rs, 0);
	assert_int_equal(rc->type, HSI_RECEIVER_ALERTMANAGER);
	assert_int_equal(rc->repush_ms, 60000);
	assert_int_equal(rc->secret_len, 0);
	assert_null(hsi_rules_receiver(rs, 1));
	hsi_rules_free(rs);
	rs = parse_ok(AM(",\"repush_seconds\":5"));
	assert_int_equal(hsi_rules_receiver(rs, 0)->repush_ms, 5000);
	hsi_rules_free(rs);
	rs = parse_ok(AM(",\"repush_seconds\":3600"));
	assert_int_equal(hsi_rules_receiver(rs, 0)->repush_ms, 3600000);
	hsi_rules_free(rs);
	static const char msg[]
	    = "key 'repush_seconds' must be an integer from 5 to 3600";
	expect_refused(AM(",\"repush_seconds\":4"), "receiver 0", msg);
	expect_refused(AM(",\"repush_seconds\":3601"), "receiver 0", msg);
	expect_refused(AM(",\"repush_seconds\":0"), "receiver 0", msg);
	expect_refused(AM(",\"repush_seconds\":60.5"), "receiver 0", msg);
	expect_refused(AM(",\"repush_seconds\":\"60\""), "receiver 0", msg);
	/* Refused before the secret is read, so no file is needed. */
	expect_refused(
	    TOP(",\"receivers\":[{\"name\":\"hook\","
	        "\"type\":\"webhook\",\"url\":\"http://10.0.0.5/h\","
	        "\"secret_file\":\"/nonexistent/secret\","
	        "\"repush_seconds\":60}]"),
	    "receiver 0",
	    "key 'repush_seconds' applies to alertmanager receivers only");
	expect_refused(TOP(",\"receivers\":[{\"name\":\"am\","
	                   "\"type\":\"alertmanager\","
	                   "\"url\":\"http://127.0.0.1:9093\"},"
	                   "{\"name\":\"hook\",\"type\":\"webhook\","
	                   "\"url\":\"http://10.0.0.5/h\","
	                   "\"repush_seconds\":5}]"),
	    "receiver 1", "applies to alertmanager receivers only");
	expect_refused(AM(",\"repush_second\":60"), "receiver 0",
	    "unknown key 'repush_second'");
}

/* The text of rs is exactly the len bytes at want, NUL-terminated, in a
 * copy of its own. */
static void
expect_text(const hsi_rules *rs, const char *want, size_t len)
{
	size_t      n = 0;
	const char *t = hsi_rules_text(rs, &n);
	assert_non_null(t);
	assert_int_equal(n, len);
	assert_memory_equal(t, want, len);
	assert_int_equal(t[n], '\0');
	assert_ptr_not_equal(t, want);
}

static void
test_rules_text(void **state)
{
	hsi_rules *rs;
	char       err[300] = "";
	(void) state;
	/* Spacing, key order, a \u escape and raw UTF-8 are kept as given,
	 * not re-serialised; the bytes after len are not part of it. */
	static const char text[]
	    = " {\"repeat_hours\" : 6,\n\t\"rules\":[{\"type\":\"late_data\","
	      "\"name\":\"l\"}],\"inhibit\":[{\"source\":[\"area=\\u0e19\"],"
	      "\"target\":[\"area_th=น่าน\"]}]}\r\n"
	      "TRAILING BYTES NOT PARSED";
	size_t len = (size_t) (strstr(text, "TRAILING") - text);
	assert_int_equal(
	    hsi_rules_parse(text, len, "r.json", &rs, err, sizeof(err)), 0);
	expect_text(rs, text, len);
	assert_string_equal(hsi_rules_inhibit(rs, 0)->source[0], "area=น");
	assert_string_equal(
	    hsi_rules_inhibit(rs, 0)->target[0], "area_th=น่าน");
	assert_int_equal(hsi_rules_repeat_hours(rs), 6);
	hsi_rules_free(rs);

	assert_int_equal(hsi_rules_load(NULL, &rs, err, sizeof(err)), 0);
	expect_text(rs, one_rule, strlen(one_rule));
	hsi_rules_free(rs);

	char path[] = "/tmp/alerter_test_XXXXXX";
	int  fd     = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t) len);
	assert_int_equal(close(fd), 0);
	int rv = hsi_rules_load(path, &rs, err, sizeof(err));
	unlink(path);
	if (rv != 0) {
		fail_msg("load refused: %s", err);
	}
	expect_text(rs, text, len);
	hsi_rules_free(rs);
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
		cmocka_unit_test(test_late_data_keys),
		cmocka_unit_test(test_late_data_lists),
		cmocka_unit_test(test_late_data_refused),
		cmocka_unit_test(test_suspicious_keys),
		cmocka_unit_test(test_spike_keys),
		cmocka_unit_test(test_code_per_type),
		cmocka_unit_test(test_cross_type_keys),
		cmocka_unit_test(test_mixed_types),
		cmocka_unit_test(test_inhibit_default),
		cmocka_unit_test(test_inhibit_refused),
		cmocka_unit_test(test_inhibit_limits),
		cmocka_unit_test(test_repeat_hours),
		cmocka_unit_test(test_repush_seconds),
		cmocka_unit_test(test_rules_text),
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_summaries),
		cmocka_unit_test(test_deterioration_summaries),
		cmocka_unit_test(test_copy_utf8_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
