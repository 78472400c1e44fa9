/*
 * alertops_test.c: the parts of common/alertops.h that need no database:
 * matchers in both forms (each operator, every refusal with the parts of
 * its message), matching (absent labels, integer labels, anchored
 * regexes), the JSON round trip, durations, RFC 3339 times, and the
 * tables' alignment of Thai text.
 *
 * With HSI_TEST_DB_URL set to a scratch database (tests/alerting/
 * ops_test.py does it with its private cluster), the silences the alerter
 * loads are checked too: active ones only, oldest match first, a stored
 * silence that does not parse never applied. Without it those cases are
 * skipped; everything else over PostgreSQL is in ops_test.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertops.h"
#include "db.h"
#include "error.h"

static hsi_matchers *
parse(const char *const *texts)
{
	hsi_matchers *m;
	char          err[512] = "";
	assert_int_equal(hsi_matchers_alloc(&m), 0);
	for (; *texts != NULL; texts++) {
		if (hsi_matchers_add_text(m, *texts, err, sizeof(err)) != 0) {
			fail_msg("refused %s: %s", *texts, err);
		}
	}
	return m;
}

/* text refused with code rv and a message holding each fragment; the
 * set keeps what it had. */
static void
refused(
    hsi_matchers *m, const char *text, int rv, const char *f1, const char *f2)
{
	char   err[512] = "";
	size_t n        = hsi_matchers_count(m);
	assert_int_equal(hsi_matchers_add_text(m, text, err, sizeof(err)), rv);
	if (strstr(err, f1) == NULL || (f2 && strstr(err, f2) == NULL)) {
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, f1,
		    f2 ? f2 : "");
	}
	assert_int_equal(hsi_matchers_count(m), n);
}

static void
test_text_ops(void **state)
{
	(void) state;
	const char *const texts[]
	    = { "area=55", "level!=index", "rule=~composite_.*",
		      "period!~19[0-9]{2}", "code==x", "x=", NULL };
	hsi_matchers *m = parse(texts);
	json_t       *j = hsi_matchers_to_json(m);
	char         *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s,
	    "[{\"name\":\"area\",\"op\":\"=\",\"value\":\"55\"},"
	    "{\"name\":\"level\",\"op\":\"!=\",\"value\":\"index\"},"
	    "{\"name\":\"rule\",\"op\":\"=~\",\"value\":\"composite_.*\"},"
	    "{\"name\":\"period\",\"op\":\"!~\",\"value\":\"19[0-9]{2}\"},"
	    "{\"name\":\"code\",\"op\":\"=\",\"value\":\"=x\"},"
	    "{\"name\":\"x\",\"op\":\"=\",\"value\":\"\"}]");
	char buf[256];
	hsi_matchers_format(m, buf, sizeof(buf));
	assert_string_equal(buf,
	    "area=55, level!=index, rule=~composite_.*, period!~19[0-9]{2}, "
	    "code==x, x=");
	hsi_matchers_format(m, buf, 12);
	assert_string_equal(buf, "area=55,...");
	free(s);
	json_decref(j);
	hsi_matchers_free(m);
}

static void
test_text_refusals(void **state)
{
	hsi_matchers *m;
	char          big[400];
	(void) state;
	assert_int_equal(hsi_matchers_alloc(&m), 0);
	refused(m, "1area=5", HSI_EINVAL, "matcher 0 '1area=5': name:",
	    "'1area' is not a label name; give a letter or '_'");
	refused(
	    m, "ar-ea=5", HSI_EINVAL, "name: 'ar-ea' is not a label", NULL);
	refused(m, "=5", HSI_EINVAL, "matcher 0 '=5': name: empty", NULL);
	refused(m, "area55", HSI_EINVAL, "operator: none found",
	    "name=value, name!=value, name=~regex or name!~regex");
	refused(m, "area!5", HSI_EINVAL,
	    "operator: '!' must be followed by '=' or '~'", NULL);
	memset(big, 'a', 65);
	strcpy(big + 65, "=1");
	refused(m, big, HSI_ETOOBIG, "name: 65 bytes; at most 64", NULL);
	big[64] = '=';
	assert_int_equal(hsi_matchers_add_text(m, big, big, 0), 0);
	/* Values: 256 bytes pass, 257 do not; UTF-8 only. */
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', 257);
	big[259] = '\0';
	refused(m, big, HSI_ETOOBIG, "matcher 1 'v=xxx",
	    "value: 257 bytes; at most 256");
	big[258] = '\0';
	assert_int_equal(hsi_matchers_add_text(m, big, big, 0), 0);
	refused(m, "area=\xff", HSI_EENCODING,
	    "value: not valid UTF-8 text at byte 1", NULL);
	/* Regexes: POSIX syntax errors, and a ')' that would close our
	 * anchoring group. */
	refused(m, "area=~(", HSI_EINVAL, "matcher 2 'area=~(': regex: '('",
	    "is not a POSIX extended regular expression");
	refused(m, "area=~a{", HSI_EINVAL, "regex: 'a{'", NULL);
	refused(m, "area=~x)|(y", HSI_EINVAL, "regex: 'x)|(y'",
	    "a ')' closes no '('");
	refused(m, "area=~5)", HSI_EINVAL, "a ')' closes no '('", NULL);
	refused(m, "area=~x)|(y)", HSI_EINVAL, "a ')' closes no '('", NULL);
	refused(m, "area=~[a])", HSI_EINVAL, "a ')' closes no '('", NULL);
	refused(m, "area=~[[:digit:]])", HSI_EINVAL, "a ')' closes no", NULL);
	char ok[][32] = { "a=~[)(]", "a=~\\)", "a=~[[:digit:])]+", "a=~[]()]",
		"a=~[^)]x", "a=~(a(b)c)", "a=~[[.-.])]" };
	for (int i = 0; i < 7; i++) {
		char err[256] = "";
		if (hsi_matchers_add_text(m, ok[i], err, sizeof(err)) != 0) {
			fail_msg("refused %s: %s", ok[i], err);
		}
	}
	assert_int_equal(hsi_matchers_count(m), 9);
	/* At most 32. */
	for (int i = 9; i < HSI_MATCHERS_MAX; i++) {
		assert_int_equal(hsi_matchers_add_text(m, "a=1", big, 0), 0);
	}
	refused(
	    m, "a=1", HSI_ETOOBIG, "matcher 32 'a=1': too many", "at most 32");
	hsi_matchers_free(m);
}

static json_t *
labels(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

/* 1 when the one matcher text matches the labels text. */
static int
match1(const char *matcher, const char *lbl)
{
	const char *const t[] = { matcher, NULL };
	hsi_matchers     *m   = parse(t);
	json_t           *l   = labels(lbl);
	int               hit = hsi_matchers_match(m, l);
	json_decref(l);
	hsi_matchers_free(m);
	return hit;
}

static void
test_matching(void **state)
{
	static const char lb[]
	    = "{\"alertname\":\"composite_low\",\"rule\":\"composite_low\","
	      "\"level\":\"index\",\"code\":\"hsi\",\"area\":\"55\","
	      "\"area_level\":\"province\",\"period\":\"2024\","
	      "\"methodology\":1}";
	(void) state;
	assert_true(match1("area=55", lb));
	assert_false(match1("area=5", lb));
	assert_false(match1("area!=55", lb));
	assert_true(match1("area!=56", lb));
	/* Anchored at both ends, alternatives too. */
	assert_false(match1("area=~5", lb));
	assert_true(match1("area=~5[0-9]", lb));
	assert_false(match1("area=~5|6", lb));
	assert_true(match1("area=~55|6", lb));
	assert_false(match1("area=~.5|6", "{\"area\":\"555\"}"));
	assert_true(match1("area!~5", lb));
	assert_false(match1("rule=~composite", lb));
	assert_true(match1("rule=~composite.*", lb));
	/* Absent labels are "". */
	assert_true(match1("district=", lb));
	assert_true(match1("district!=10", lb));
	assert_true(match1("district=~.*", lb));
	assert_false(match1("district=~.+", lb));
	assert_true(match1("district!~.+", lb));
	assert_false(match1("district!=", lb));
	assert_true(match1("x=", "{\"x\":null}"));
	/* Integers compare as their decimal text. */
	assert_true(match1("methodology=1", lb));
	assert_false(match1("methodology=01", lb));
	assert_true(match1("methodology=~[0-9]+", lb));
	assert_true(match1("methodology!=2", lb));
	assert_true(match1("n=-12", "{\"n\":-12}"));
	/* Thai values compare byte for byte. */
	assert_true(match1("name=น่าน", "{\"name\":\"น่าน\"}"));
	assert_false(match1("name=นาน", "{\"name\":\"น่าน\"}"));
	/* Every matcher must match; none matches everything. */
	const char *const two[] = { "area=55", "level=index", NULL };
	hsi_matchers     *m     = parse(two);
	json_t           *l     = labels(lb);
	json_t           *l2 = labels("{\"area\":\"55\",\"level\":\"group\"}");
	assert_true(hsi_matchers_match(m, l));
	assert_false(hsi_matchers_match(m, l2));
	hsi_matchers_free(m);
	assert_int_equal(hsi_matchers_alloc(&m), 0);
	assert_true(hsi_matchers_match(m, l2));
	hsi_matchers_free(m);
	json_decref(l);
	json_decref(l2);
}

/* The JSON text refused with a message holding f1 and f2. */
static void
json_refused(const char *text, const char *f1, const char *f2)
{
	hsi_matchers *m        = NULL;
	char          err[512] = "";
	json_t       *j        = json_loads(text, JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	assert_int_not_equal(
	    hsi_matchers_from_json(j, &m, err, sizeof(err)), 0);
	assert_null(m);
	if (strstr(err, f1) == NULL || (f2 && strstr(err, f2) == NULL)) {
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, f1,
		    f2 ? f2 : "");
	}
	json_decref(j);
}

static void
test_json(void **state)
{
	(void) state;
	const char *const texts[] = { "area=55", "rule!~c.*", "methodology!=2",
		"name=น่าน", "v=", NULL };
	hsi_matchers     *a = parse(texts), *b = NULL;
	json_t           *ja       = hsi_matchers_to_json(a);
	char              err[256] = "";
	assert_int_equal(hsi_matchers_from_json(ja, &b, err, sizeof(err)), 0);
	json_t *jb = hsi_matchers_to_json(b);
	assert_true(json_equal(ja, jb));
	/* Both sets decide alike. */
	const char *const cases[] = {
		"{\"area\":\"55\",\"rule\":\"x\",\"methodology\":1,"
		"\"name\":\"น่าน\"}",
		"{\"area\":\"55\",\"rule\":\"c1\",\"methodology\":1,"
		"\"name\":\"น่าน\"}",
		"{\"area\":\"55\",\"rule\":\"x\",\"methodology\":2,"
		"\"name\":\"น่าน\"}",
	};
	for (int i = 0; i < 3; i++) {
		json_t *l = labels(cases[i]);
		assert_int_equal(hsi_matchers_match(a, l), i == 0);
		assert_int_equal(hsi_matchers_match(b, l), i == 0);
		json_decref(l);
	}
	json_decref(ja);
	json_decref(jb);
	hsi_matchers_free(a);
	hsi_matchers_free(b);

	json_refused("[{\"name\":\"a\",\"op\":\"=\",\"value\":\"1\","
	             "\"isRegex\":false}]",
	    "matcher 0: key 'isRegex' is unknown",
	    "the keys are name, op and value");
	json_refused("[{\"name\":\"a\",\"op\":\"=\",\"value\":\"1\"},"
	             "{\"name\":\"b\",\"op\":\"=\"}]",
	    "matcher 1: key 'value' is missing", NULL);
	json_refused("[{\"name\":\"a\",\"op\":\"==\",\"value\":\"1\"}]",
	    "matcher 0: key 'op': '==' is not an operator",
	    "\"=\", \"!=\", \"=~\" or \"!~\"");
	json_refused("[{\"name\":\"a\",\"op\":\"=\",\"value\":1}]",
	    "matcher 0: key 'value' must be a string", NULL);
	json_refused("[{\"name\":\"a b\",\"op\":\"=\",\"value\":\"1\"}]",
	    "matcher 0: name: 'a b' is not a label name", NULL);
	json_refused("[{\"name\":\"a\",\"op\":\"=~\",\"value\":\"(\"}]",
	    "matcher 0: regex: '('", NULL);
	json_refused("[{\"name\":\"a\",\"op\":\"=\",\"value\":\"a\\u0000b\"}]",
	    "matcher 0: value: not valid UTF-8 text at byte 2", NULL);
	json_refused("[1]", "matcher 0: must be an object", NULL);
	json_refused("[]", "matchers: give an array of 1 to 32", NULL);
	json_refused("{}", "matchers: give an array of 1 to 32", NULL);
	char big[2048] = "[";
	for (int i = 0; i <= HSI_MATCHERS_MAX; i++) {
		strcat(big,
		    i ? ",{\"name\":\"a\",\"op\":\"=\",\"value\":\"\"}"
		      : "{\"name\":\"a\",\"op\":\"=\",\"value\":\"\"}");
	}
	strcat(big, "]");
	json_refused(big, "matchers: give an array of 1 to 32", NULL);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *s;
		int64_t     want;
	} ok[] = { { "90m", 5400 }, { "2h", 7200 }, { "3d", 259200 },
		{ "1w", 604800 }, { "1d12h", 129600 }, { "45s", 45 },
		{ "365d", HSI_SILENCE_MAX_S } };
	int64_t v;
	char    err[256];
	(void) state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(hsi_duration_parse("d", ok[i].s,
		                     HSI_SILENCE_MAX_S, &v, err, sizeof(err)),
		    0);
		assert_int_equal(v, ok[i].want);
	}
	assert_int_equal(hsi_duration_parse("duration", "366d",
	                     HSI_SILENCE_MAX_S, &v, err, sizeof(err)),
	    HSI_ERANGE);
	assert_string_equal(
	    err, "duration: '366d' is longer than the maximum, 365d");
	assert_int_equal(hsi_duration_parse("expires", "31d", HSI_ACK_MAX_S,
	                     &v, err, sizeof(err)),
	    HSI_ERANGE);
	assert_non_null(strstr(err, "maximum, 30d"));
	assert_int_equal(hsi_duration_parse("d", "99999999999999999999999w",
	                     HSI_SILENCE_MAX_S, &v, err, sizeof(err)),
	    HSI_ERANGE);
	assert_int_equal(hsi_duration_parse("d", "0h", HSI_SILENCE_MAX_S, &v,
	                     err, sizeof(err)),
	    HSI_ERANGE);
	assert_non_null(strstr(err, "zero"));
	const char *bad[] = { "", "2", "h", "2x", "1.5h", "-1h", "2h ", "1y" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hsi_duration_parse("duration", bad[i],
		                     HSI_SILENCE_MAX_S, &v, err, sizeof(err)),
		    HSI_EINVAL);
		assert_non_null(strstr(err, "is not a duration"));
		assert_non_null(strstr(err, "s, m, h, d or w"));
	}
}

static void
test_times(void **state)
{
	static const char *const ok[] = { "2025-03-31T17:00:00+07:00",
		"2025-03-31T10:00:00Z", "2025-03-31t10:00:00.123z",
		"2025-03-31 10:00:00-03:30", "2024-02-29T00:00:00Z" };
	static const struct {
		const char *s, *why;
	} bad[] = { { "2025-03-31", "no time of day" },
		{ "2025-03-31T10:00:00", "no time zone" },
		{ "2025-03-31T10:00", "HH:MM:SS" },
		{ "2025-3-31T10:00:00Z", "YYYY-MM-DD" },
		{ "2025-02-29T00:00:00Z", "no such date" },
		{ "2025-04-31T00:00:00Z", "no such date" },
		{ "2025-03-31T24:00:00Z", "no such time of day" },
		{ "2025-03-31T10:00:00+7:00", "Z or +HH:MM" },
		{ "2025-03-31T10:00:00Zx", "after the time zone" },
		{ "2025-03-31T10:00:00.Z", "followed by digits" },
		{ "tomorrow", "YYYY-MM-DD" } };
	char err[256];
	(void) state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (hsi_rfc3339_check("t", ok[i], err, sizeof(err)) != 0) {
			fail_msg("refused %s: %s", ok[i], err);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    hsi_rfc3339_check("ends", bad[i].s, err, sizeof(err)),
		    HSI_EINVAL);
		if (strstr(err, bad[i].why) == NULL
		    || strncmp(err, "ends: '", 7) != 0) {
			fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].s, err,
			    bad[i].why);
		}
	}
}

/* What f printed, from the start. */
static char *
slurp(FILE *f)
{
	static char buf[4096];
	size_t      n = (size_t) ftell(f);
	rewind(f);
	assert_true(n < sizeof(buf));
	assert_int_equal(fread(buf, 1, n, f), n);
	buf[n] = '\0';
	return buf;
}

static void
test_table_thai(void **state)
{
	(void) state;
	/* "น่าน" is four code points, one a tone mark: three columns on a
	 * terminal but 12 bytes; padding by bytes would shift the rest. */
	json_t *a = labels(
	    "[{\"fingerprint\":\"0123456789abcdef\",\"state\":\"firing\","
	    "\"rule\":\"low\",\"labels\":{\"area\":\"น่าน\",\"period\":2024},"
	    "\"annotations\":{\"summary\":\"Nan low\","
	    "\"summary_th\":\"น่าน: ดัชนีรวม 0.4265 ต่ำกว่าเกณฑ์ 0.45 ปี 2567\"},"
	    "\"value\":0.4265,\"starts_at\":\"2025-03-31T10:00:00Z\","
	    "\"acked\":{\"by\":\"สมชาย\"}},"
	    "{\"fingerprint\":\"fedcba9876543210\",\"state\":\"pending\","
	    "\"rule\":\"low\",\"labels\":{\"area\":\"10\"},"
	    "\"annotations\":{\"summary\":\"Bangkok low\"},\"value\":null,"
	    "\"starts_at\":\"2025-03-31T11:00:00Z\",\"acked\":null}]");
	FILE *f = tmpfile();
	assert_int_equal(hsi_alert_table_print(f, a), 0);
	assert_string_equal(slurp(f),
	    "FINGERPRINT   STATE    RULE  AREA  PERIOD  VALUE   SINCE         "
	    " "
	    "       ACKED BY  SUMMARY\n"
	    "0123456789ab  firing   low   น่าน   2024    0.4265  "
	    "2025-03-31T10:00:00Z  สมชาย     "
	    "น่าน: ดัชนีรวม 0.4265 ต่ำกว่าเกณฑ์ 0.45 ปี 2567\n"
	    "fedcba987654  pending  low   10    -       -       "
	    "2025-03-31T11:00:00Z  -         Bangkok low\n");
	fclose(f);
	json_decref(a);
	f = tmpfile();
	a = json_array();
	assert_int_equal(hsi_alert_table_print(f, a), 0);
	assert_string_equal(slurp(f), "no alerts\n");
	fclose(f);
	json_decref(a);
}

/* ---- over PostgreSQL, when HSI_TEST_DB_URL names a scratch database -- */

static PGconn *db;

static int64_t
add_silence(const char *matcher, const char *starts, const char *dur)
{
	const char *const t[] = { matcher, NULL };
	hsi_matchers     *m   = parse(t);
	hsi_silence_spec  s   = { .matchers = m,
		   .created_by              = "test",
		   .comment                 = "alertops_test",
		   .starts                  = starts,
		   .duration                = dur };
	int64_t           id  = 0;
	char              err[256];
	if (hsi_silence_add(db, &s, &id, err, sizeof(err)) != 0) {
		fail_msg("silence %s: %s", matcher, err);
	}
	hsi_matchers_free(m);
	return id;
}

static void
test_active_silences(void **state)
{
	char          err[512];
	hsi_silences *s;
	(void) state;
	if (db == NULL) {
		skip();
	}
	int64_t a = add_silence("area=55", NULL, "1h");
	add_silence(
	    "area=~5[0-9]", "2999-01-01T00:00:00Z", "1h"); /* pending */
	int64_t c = add_silence("level=group", NULL, "1h");
	assert_int_equal(
	    hsi_silence_expire(db, c, "test", err, sizeof(err)), 0);
	assert_int_equal(
	    hsi_silence_expire(db, c, "test", err, sizeof(err)), HSI_ESTATE);
	/* Stored by hand, and not a valid matcher: never applied. */
	PGresult *r = hsi_db_query(db, "bad silence",
	    "INSERT INTO silence (matchers, created_by, comment, starts_at,"
	    " ends_at) VALUES "
	    "('[{\"name\":\"1x\",\"op\":\"=\",\"value\":\"\"}]',"
	    " 't', 't', now() - interval '1 minute', now() + interval '1 "
	    "hour')"
	    " RETURNING id",
	    0, NULL);
	assert_non_null(r);
	PQclear(r);
	int64_t d = add_silence("level=index", NULL, "1h");
	assert_int_equal(hsi_silence_active_load(db, &s, err, sizeof(err)), 0);
	assert_int_equal(hsi_silences_count(s), 2);
	json_t *l1 = labels("{\"area\":\"55\",\"level\":\"index\"}");
	json_t *l2 = labels("{\"area\":\"56\",\"level\":\"index\"}");
	json_t *l3 = labels("{\"area\":\"56\",\"level\":\"group\"}");
	assert_int_equal(hsi_silences_match(s, l1), a); /* the oldest */
	assert_int_equal(hsi_silences_match(s, l2), d);
	assert_int_equal(hsi_silences_match(s, l3), 0);
	assert_int_equal(hsi_silences_match(NULL, l3), 0);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	hsi_silences_free(s);
}

static int
db_setup(void **state)
{
	const char *url = getenv("HSI_TEST_DB_URL");
	char        err[512];
	(void) state;
	if (url == NULL || url[0] == '\0') {
		return 0;
	}
	if (hsi_db_open(url, &db, err, sizeof(err)) != 0
	    || hsi_db_migrate(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
db_teardown(void **state)
{
	(void) state;
	hsi_db_close(db);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_ops),
		cmocka_unit_test(test_text_refusals),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_table_thai),
		cmocka_unit_test(test_active_silences),
	};
	return cmocka_run_group_tests(tests, db_setup, db_teardown);
}
