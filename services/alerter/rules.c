/*
 * rules.c: loading and validating threshold rules (see rules.h).
 *
 * Validation is strict on purpose: a misspelt key ("treshold") silently
 * ignored would leave a province unwatched, which is worse than refusing
 * to start. Every message names the file, the rule index and the key.
 */
#include "rules.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alertops.h"
#include "catalog.h"
#include "period.h"

struct hsi_rules {
	hsi_receiver *recv; /* receivers.h; NULL when none */
	size_t        nrecv;
	hsi_inhibit  *inhibit; /* NULL when none */
	size_t        ninhibit;
	int           repeat_hours;
	char         *text; /* the document, as read */
	size_t        text_len;
	size_t        n;
	hsi_rule      rule[];
};

/* Without "inhibit": a composite alert holds back the dimension alerts of
 * its area under the same methodology. */
static const hsi_inhibit default_inhibit = { { "level=index" }, 1,
	{ "level=group" }, 1, { "area", "area_level", "methodology" }, 3 };

static const char default_rules[]
    = "{\"rules\":[{\"name\":\"composite_low\",\"level\":\"index\","
      "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.45,"
      "\"area_level\":\"province\"}]}";

static const char *const op_names[] = { "<", "<=", ">", ">=" };
static const char *const levels[]   = { "index", "group", "indicator", NULL };
static const char *const area_levels[]
    = { "nation", "region", "province", "district", "subdistrict", NULL };
static const char *const types[] = { "threshold", "deterioration", "late_data",
	"suspicious", "spike", NULL };

/* The keys of each rule type, in hsi_rule_type order. */
static const char *const keys_threshold[]
    = { "name", "type", "level", "code", "op", "threshold", "area_level",
	      "for_periods", "clear_periods", "deadband", NULL };
static const char *const keys_deterioration[]
    = { "name", "type", "level", "code", "area_level", "for_periods",
	      "clear_periods", "drop", "rank_fall", NULL };
static const char *const keys_late[]
    = { "name", "type", "agencies", "indicators", "grace_days", "remind_days",
	      "lookback_days", "min_completeness", NULL };
static const char *const keys_suspicious[] = { "name", "type", "code",
	"area_level", "z", "jump_factor", "min_n", "lookback_years", NULL };
static const char *const keys_spike[]
    = { "name", "type", "code", "area_level", "weeks", "min_weeks", "factor",
	      "min_excess", "z", "lookback_days", NULL };
static const char *const *const type_keys[] = { keys_threshold,
	keys_deterioration, keys_late, keys_suspicious, keys_spike };

static int
one_of(const char *s, const char *const *set)
{
	for (size_t i = 0; set[i] != NULL; i++) {
		if (strcmp(s, set[i]) == 0) {
			return (int) i;
		}
	}
	return -1;
}

/* Names and codes end up in fingerprints, labels and log lines: keep them
 * to a plain ASCII alphabet so none of those needs escaping. */
static int
plain_name(const char *s, int allow_upper)
{
	size_t n = strlen(s);
	if (n == 0 || n >= HSI_RULE_NAME_MAX) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char c  = s[i];
		int  ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		    || c == '_'
		    || (allow_upper
		        && ((c >= 'A' && c <= 'Z') || c == '-' || c == '.'));
		if (!ok) {
			return 0;
		}
	}
	return 1;
}

static int
get_string(json_t *r, const char *key, const char **out, const char *where,
    char *err, size_t err_size)
{
	json_t *v = json_object_get(r, key);
	if (v == NULL) {
		snprintf(
		    err, err_size, "%s: key '%s' is required", where, key);
		return HSI_EINVAL;
	}
	if (!json_is_string(v)) {
		snprintf(err, err_size, "%s: key '%s' must be a string", where,
		    key);
		return HSI_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int
check_keys(json_t *r, hsi_rule_type type, const char *where, char *err,
    size_t err_size)
{
	const char *key;
	json_t     *v;
	json_object_foreach(r, key, v)
	{
		if (one_of(key, type_keys[type]) >= 0) {
			continue;
		}
		for (size_t t = 0; t < sizeof(type_keys) / sizeof(*type_keys);
		     t++) {
			if (one_of(key, type_keys[t]) >= 0) {
				snprintf(err, err_size,
				    "%s: key '%s' does not apply to a %s rule",
				    where, key, types[type]);
				return HSI_EINVAL;
			}
		}
		char allowed[400] = "";
		for (size_t i = 0; type_keys[type][i] != NULL; i++) {
			size_t len = strlen(allowed);
			snprintf(allowed + len, sizeof(allowed) - len, "%s%s",
			    i ? ", " : "", type_keys[type][i]);
		}
		snprintf(err, err_size,
		    "%s: unknown key '%.40s' (a %s rule takes: %s)", where,
		    key, types[type], allowed);
		return HSI_EINVAL;
	}
	return 0;
}

/* name, and code unless the rule type may go without (late_data has
 * none; suspicious without one watches every indicator). */
static int
parse_names(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	const char *name, *code = "";
	int         rv;
	int         need_code = out->type != HSI_RULE_LATE_DATA
	    && out->type != HSI_RULE_SUSPICIOUS;
	if ((rv = get_string(r, "name", &name, where, err, err_size))
	    || ((need_code || json_object_get(r, "code") != NULL)
	        && (rv
	            = get_string(r, "code", &code, where, err, err_size)))) {
		return rv;
	}
	if (!plain_name(name, 1)) {
		snprintf(err, err_size,
		    "%s: key 'name': '%.80s' must be 1-63 characters of "
		    "A-Z a-z 0-9 _ - .",
		    where, name);
		return HSI_EINVAL;
	}
	if (!plain_name(code, 0)
	    && (need_code || json_object_get(r, "code") != NULL)) {
		snprintf(err, err_size,
		    "%s: key 'code': '%.80s' must be 1-63 characters of "
		    "a-z 0-9 _ (e.g. \"hsi\", \"health\")",
		    where, code);
		return HSI_EINVAL;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->code, sizeof(out->code), "%s", code);
	return 0;
}

static int
parse_enums(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	const char *level, *op, *area_level;
	int         rv;
	if ((rv = get_string(r, "level", &level, where, err, err_size))
	    || (rv = get_string(
	            r, "area_level", &area_level, where, err, err_size))) {
		return rv;
	}
	if (out->type != HSI_RULE_THRESHOLD) {
		op = "<"; /* refused earlier if given */
	} else if ((rv = get_string(r, "op", &op, where, err, err_size))) {
		return rv;
	}
	if (one_of(level, levels) < 0) {
		snprintf(err, err_size,
		    "%s: key 'level': '%.40s' is not index, group or "
		    "indicator",
		    where, level);
		return HSI_EINVAL;
	}
	int o = -1;
	for (int i = 0; i < 4; i++) {
		if (strcmp(op, op_names[i]) == 0) {
			o = i;
		}
	}
	if (o < 0) {
		snprintf(err, err_size,
		    "%s: key 'op': '%.40s' is not one of <, <=, >, >=", where,
		    op);
		return HSI_EINVAL;
	}
	if (one_of(area_level, area_levels) < 0) {
		snprintf(err, err_size,
		    "%s: key 'area_level': '%.40s' is not nation, region, "
		    "province, district or subdistrict",
		    where, area_level);
		return HSI_EINVAL;
	}
	snprintf(out->level, sizeof(out->level), "%s", level);
	snprintf(out->area_level, sizeof(out->area_level), "%s", area_level);
	out->op = (hsi_rule_op) o;
	return 0;
}

/* Reads optional integer key into *out (untouched when absent). */
static int
get_int(json_t *r, const char *key, int lo, int hi, int *out,
    const char *where, char *err, size_t err_size)
{
	json_t *v = json_object_get(r, key);
	if (v == NULL) {
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo
	    || json_integer_value(v) > hi) {
		snprintf(err, err_size,
		    "%s: key '%s' must be a whole number from %d to %d", where,
		    key, lo, hi);
		return HSI_EINVAL;
	}
	*out = (int) json_integer_value(v);
	return 0;
}

/* Reads optional number key into *out (untouched when absent); positive
 * says whether 0 is refused. */
static int
get_num(json_t *r, const char *key, int positive, double *out,
    const char *where, char *err, size_t err_size)
{
	json_t *v = json_object_get(r, key);
	if (v == NULL) {
		return 0;
	}
	double d = json_is_number(v) ? json_number_value(v) : -1.0;
	if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 1e12
	    || (positive && d == 0)) {
		snprintf(err, err_size,
		    "%s: key '%s' must be a number %s (e.g. 0.02)", where, key,
		    positive ? "above 0" : "of 0 or more");
		return HSI_EINVAL;
	}
	*out = d;
	return 0;
}

static int
parse_type(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	const char *type = "threshold";
	int         rv;
	if (json_object_get(r, "type") != NULL
	    && (rv = get_string(r, "type", &type, where, err, err_size))) {
		return rv;
	}
	int t = one_of(type, types);
	if (t < 0) {
		snprintf(err, err_size,
		    "%s: key 'type': '%.40s' is not threshold, deterioration, "
		    "late_data, suspicious or spike",
		    where, type);
		return HSI_EINVAL;
	}
	out->type = (hsi_rule_type) t;
	return 0;
}

static int
parse_threshold(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	json_t *t = json_object_get(r, "threshold");
	if (t == NULL) {
		snprintf(
		    err, err_size, "%s: key 'threshold' is required", where);
		return HSI_EINVAL;
	}
	if (!json_is_number(t) || !isfinite(json_number_value(t))) {
		snprintf(err, err_size,
		    "%s: key 'threshold' must be a number (e.g. 0.45)", where);
		return HSI_EINVAL;
	}
	out->threshold = json_number_value(t);
	return get_num(r, "deadband", 0, &out->deadband, where, err, err_size);
}

static int
parse_deterioration(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	int rv;
	if ((rv = get_num(r, "drop", 1, &out->drop, where, err, err_size))
	    || (rv = get_int(r, "rank_fall", 1, HSI_RULE_RANK_FALL_MAX,
	            &out->rank_fall, where, err, err_size))) {
		return rv;
	}
	if (out->drop == 0 && out->rank_fall == 0) {
		snprintf(err, err_size,
		    "%s: a deterioration rule needs key 'drop' or "
		    "'rank_fall' (or both)",
		    where);
		return HSI_EINVAL;
	}
	return 0;
}

/* area_level of suspicious and spike rules: optional, default province. */
static int
parse_area_level(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	const char *area_level = "province";
	int         rv;
	if (json_object_get(r, "area_level") != NULL
	    && (rv = get_string(
	            r, "area_level", &area_level, where, err, err_size))) {
		return rv;
	}
	if (one_of(area_level, area_levels) < 0) {
		snprintf(err, err_size,
		    "%s: key 'area_level': '%.40s' is not nation, region, "
		    "province, district or subdistrict",
		    where, area_level);
		return HSI_EINVAL;
	}
	snprintf(out->area_level, sizeof(out->area_level), "%s", area_level);
	return 0;
}

static int
indicator_code(const char *s)
{
	return strlen(s) <= 32 && plain_name(s, 0);
}

/*
 * An optional list of 1..max codes under key, each accepted by valid, into
 * out (rows of width bytes) and *n; what names the codes in messages.
 */
static int
parse_codes(json_t *r, const char *key, size_t max, int (*valid)(const char *),
    const char *what, char *out, size_t width, int *n, const char *where,
    char *err, size_t err_size)
{
	json_t *a = json_object_get(r, key);
	size_t  i;
	json_t *v;
	if (a == NULL) {
		return 0;
	}
	if (!json_is_array(a) || json_array_size(a) == 0
	    || json_array_size(a) > max) {
		snprintf(err, err_size,
		    "%s: key '%s' must be an array of 1 to %zu %s codes, or "
		    "be "
		    "left out for all",
		    where, key, max, what);
		return HSI_EINVAL;
	}
	json_array_foreach(a, i, v)
	{
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		if (!valid(s)) {
			snprintf(err, err_size,
			    "%s: key '%s': item %zu must be %s %s code (%s)",
			    where, key, i,
			    what[0] == 'a' || what[0] == 'i' ? "an" : "a",
			    what,
			    valid == hsi_agency_code_valid
			        ? "A-Z then 1-15 of A-Z 0-9, e.g. \"NSO\""
			        : "1-32 of a-z 0-9 _, e.g. \"pov_rate\"");
			return HSI_EINVAL;
		}
		snprintf(out + i * width, width, "%s", s);
	}
	*n = (int) json_array_size(a);
	return 0;
}

static int
parse_grace(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	json_t     *g = json_object_get(r, "grace_days");
	const char *key;
	json_t     *v;
	if (g == NULL) {
		return 0;
	}
	if (!json_is_object(g)) {
		snprintf(err, err_size,
		    "%s: key 'grace_days' must be an object of frequency to "
		    "days (e.g. {\"annual\": 90, \"monthly\": 30})",
		    where);
		return HSI_EINVAL;
	}
	json_object_foreach(g, key, v)
	{
		hsi_freq f;
		if (hsi_freq_parse(key, &f) != 0) {
			snprintf(err, err_size,
			    "%s: key 'grace_days': '%.40s' is not annual, "
			    "fiscal, quarterly, fquarterly, monthly or daily",
			    where, key);
			return HSI_EINVAL;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0
		    || json_integer_value(v) > HSI_RULE_DAYS_MAX) {
			snprintf(err, err_size,
			    "%s: key 'grace_days': '%s' must be a whole "
			    "number of days from 0 to %d",
			    where, key, HSI_RULE_DAYS_MAX);
			return HSI_EINVAL;
		}
		out->grace_days[f] = (int) json_integer_value(v);
	}
	return 0;
}

static int
parse_late(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	int rv;
	out->remind_days      = 14;
	out->lookback_days    = 400;
	out->min_completeness = 1.0;
	if ((rv = parse_codes(r, "agencies", HSI_RULE_AGENCIES_MAX,
	         hsi_agency_code_valid, "agency", &out->agencies[0][0],
	         sizeof(out->agencies[0]), &out->n_agencies, where, err,
	         err_size))
	    || (rv = parse_codes(r, "indicators", HSI_RULE_INDICATORS_MAX,
	            indicator_code, "indicator", &out->indicators[0][0],
	            sizeof(out->indicators[0]), &out->n_indicators, where, err,
	            err_size))
	    || (rv = parse_grace(r, out, where, err, err_size))
	    || (rv = get_int(r, "remind_days", 0, HSI_RULE_DAYS_MAX,
	            &out->remind_days, where, err, err_size))
	    || (rv = get_int(r, "lookback_days", 1, HSI_RULE_DAYS_MAX,
	            &out->lookback_days, where, err, err_size))
	    || (rv = get_num(r, "min_completeness", 1, &out->min_completeness,
	            where, err, err_size))) {
		return rv;
	}
	if (out->min_completeness > 1) {
		snprintf(err, err_size,
		    "%s: key 'min_completeness' must be above 0 and at most 1 "
		    "(a share: 0.9 = 90%% of the expected values)",
		    where);
		return HSI_EINVAL;
	}
	return 0;
}

static int
parse_suspicious(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	int rv;
	out->z              = 3.5;
	out->jump_factor    = 2.0;
	out->min_n          = 5;
	out->lookback_years = 2;
	if ((rv = parse_area_level(r, out, where, err, err_size))
	    || (rv = get_int(r, "lookback_years", 0, 100, &out->lookback_years,
	            where, err, err_size))
	    || (rv = get_num(r, "z", 1, &out->z, where, err, err_size))
	    || (rv = get_num(r, "jump_factor", 0, &out->jump_factor, where,
	            err, err_size))
	    || (rv = get_int(r, "min_n", 3, 100000, &out->min_n, where, err,
	            err_size))) {
		return rv;
	}
	if (out->jump_factor != 0 && out->jump_factor <= 1) {
		snprintf(err, err_size,
		    "%s: key 'jump_factor' must be above 1 (2 = the value "
		    "doubled or halved since last year), or 0 to turn the "
		    "year-on-year check off",
		    where);
		return HSI_EINVAL;
	}
	return 0;
}

static int
parse_spike(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	int rv;
	out->weeks         = 8;
	out->min_weeks     = 4;
	out->factor        = 2.0;
	out->min_excess    = 10;
	out->z             = 4;
	out->lookback_days = 14;
	if ((rv = parse_area_level(r, out, where, err, err_size))
	    || (rv = get_int(
	            r, "weeks", 1, 104, &out->weeks, where, err, err_size))
	    || (rv = get_int(r, "min_weeks", 1, 104, &out->min_weeks, where,
	            err, err_size))
	    || (rv
	        = get_num(r, "factor", 1, &out->factor, where, err, err_size))
	    || (rv = get_num(r, "min_excess", 0, &out->min_excess, where, err,
	            err_size))
	    || (rv = get_num(r, "z", 0, &out->z, where, err, err_size))
	    || (rv = get_int(r, "lookback_days", 1, 366, &out->lookback_days,
	            where, err, err_size))) {
		return rv;
	}
	if (json_object_get(r, "min_weeks") == NULL
	    && out->min_weeks > out->weeks) {
		out->min_weeks = out->weeks; /* the default, within weeks */
	}
	if (out->factor < 1) {
		snprintf(err, err_size,
		    "%s: key 'factor' must be 1 or more (2 = at least twice "
		    "the usual count)",
		    where);
		return HSI_EINVAL;
	}
	if (out->min_weeks > out->weeks) {
		snprintf(err, err_size,
		    "%s: key 'min_weeks' (%d) must not exceed 'weeks' (%d)",
		    where, out->min_weeks, out->weeks);
		return HSI_EINVAL;
	}
	return 0;
}

static int
parse_rule(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	int rv;
	if (!json_is_object(r)) {
		snprintf(err, err_size, "%s: must be a JSON object", where);
		return HSI_EINVAL;
	}
	out->for_periods   = 1;
	out->clear_periods = 1;
	for (int f = 0; f < 6; f++) {
		out->grace_days[f] = -1;
	}
	if ((rv = parse_type(r, out, where, err, err_size))
	    || (rv = check_keys(r, out->type, where, err, err_size))
	    || (rv = parse_names(r, out, where, err, err_size))) {
		return rv;
	}
	switch (out->type) {
	case HSI_RULE_LATE_DATA:
		return parse_late(r, out, where, err, err_size);
	case HSI_RULE_SUSPICIOUS:
		return parse_suspicious(r, out, where, err, err_size);
	case HSI_RULE_SPIKE:
		return parse_spike(r, out, where, err, err_size);
	default:
		break;
	}
	if ((rv = parse_enums(r, out, where, err, err_size))
	    || (rv = get_int(r, "for_periods", 1, HSI_RULE_PERIODS_MAX,
	            &out->for_periods, where, err, err_size))
	    || (rv = get_int(r, "clear_periods", 1, HSI_RULE_PERIODS_MAX,
	            &out->clear_periods, where, err, err_size))) {
		return rv;
	}
	return out->type == HSI_RULE_THRESHOLD
	    ? parse_threshold(r, out, where, err, err_size)
	    : parse_deterioration(r, out, where, err, err_size);
}

/* A label name as Alertmanager has them: [A-Za-z_][A-Za-z0-9_]*. */
static int
label_name(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		char c  = s[i];
		int  ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		    || c == '_' || (i > 0 && c >= '0' && c <= '9');
		if (!ok) {
			return 0;
		}
	}
	return n > 0;
}

/* 0 if text is one matcher (alertops.h), else HSI_EINVAL with msg. */
static int
matcher_check(const char *text, char *msg, size_t size)
{
	hsi_matchers *m;
	if (hsi_matchers_alloc(&m) != 0) {
		snprintf(msg, size, "out of memory");
		return HSI_ENOMEM;
	}
	int rv = hsi_matchers_add_text(m, text, msg, size);
	hsi_matchers_free(m);
	return rv;
}

/* A list of 1..max matchers ("name=value", alertops.h), or of 0..max
 * label names when names is set, into out. */
static int
parse_texts(json_t *arr, const char *key, int names, size_t max, size_t width,
    char *out, int *n, const char *where, char *err, size_t err_size)
{
	size_t  i;
	json_t *v;
	if (!json_is_array(arr) || json_array_size(arr) > max
	    || (!names && json_array_size(arr) == 0)) {
		snprintf(err, err_size,
		    "%s: key '%s' must be an array of %s%zu %s", where, key,
		    names ? "0 to " : "1 to ", max,
		    names ? "label names (e.g. [\"area\"])"
		          : "matchers (e.g. [\"level=index\"])");
		return HSI_EINVAL;
	}
	json_array_foreach(arr, i, v)
	{
		const char *t
		    = json_is_string(v) ? json_string_value(v) : NULL;
		char msg[300];
		int  bad = t == NULL || strlen(t) >= width
		    || (names ? !label_name(t)
		              : matcher_check(t, msg, sizeof(msg)) != 0);
		if (bad) {
			snprintf(err, err_size, "%s: key '%s': item %zu: %s",
			    where, key, i,
			    t == NULL                ? "must be a string"
			        : names              ? "must be a label name "
			                               "([A-Za-z_][A-Za-z0-9_]*)"
			        : strlen(t) >= width ? "is too long"
			                             : msg);
			return HSI_EINVAL;
		}
		snprintf(out + i * width, width, "%s", t);
	}
	*n = (int) json_array_size(arr);
	return 0;
}

static int
parse_inhibit(
    json_t *arr, const char *src, hsi_rules *rs, char *err, size_t err_size)
{
	if (!json_is_array(arr) || json_array_size(arr) > HSI_INHIBIT_MAX) {
		snprintf(err, err_size,
		    "%s: key 'inhibit' must be an array of at most %d "
		    "inhibitions ([] turns the default off)",
		    src, HSI_INHIBIT_MAX);
		return HSI_EINVAL;
	}
	size_t n    = json_array_size(arr);
	rs->inhibit = calloc(n ? n : 1, sizeof(*rs->inhibit));
	if (rs->inhibit == NULL) {
		return HSI_ENOMEM;
	}
	rs->ninhibit = n;
	for (size_t i = 0; i < n; i++) {
		json_t      *o = json_array_get(arr, i);
		hsi_inhibit *h = &rs->inhibit[i];
		char         where[300];
		const char  *key;
		json_t      *v;
		int          rv;
		snprintf(where, sizeof(where), "%s: inhibit %zu", src, i);
		if (!json_is_object(o) || json_object_get(o, "source") == NULL
		    || json_object_get(o, "target") == NULL) {
			snprintf(err, err_size,
			    "%s: must be an object with keys 'source' and "
			    "'target' (matchers) and optionally 'equal' "
			    "(label "
			    "names)",
			    where);
			return HSI_EINVAL;
		}
		json_object_foreach(o, key, v)
		{
			if (strcmp(key, "source") && strcmp(key, "target")
			    && strcmp(key, "equal")) {
				snprintf(err, err_size,
				    "%s: unknown key '%.40s' (allowed: "
				    "source, "
				    "target, equal)",
				    where, key);
				return HSI_EINVAL;
			}
		}
		json_t *eq = json_object_get(o, "equal");
		if ((rv = parse_texts(json_object_get(o, "source"), "source",
		         0, HSI_INHIBIT_MATCHERS_MAX, HSI_MATCHER_TEXT_MAX,
		         &h->source[0][0], &h->n_source, where, err, err_size))
		    || (rv = parse_texts(json_object_get(o, "target"),
		            "target", 0, HSI_INHIBIT_MATCHERS_MAX,
		            HSI_MATCHER_TEXT_MAX, &h->target[0][0],
		            &h->n_target, where, err, err_size))
		    || (eq != NULL
		        && (rv = parse_texts(eq, "equal", 1,
		                HSI_INHIBIT_EQUAL_MAX, HSI_LABEL_MAX,
		                &h->equal[0][0], &h->n_equal, where, err,
		                err_size)))) {
			return rv;
		}
	}
	return 0;
}

/* The keys of the file besides "rules". */
static int
parse_settings(
    json_t *root, const char *src, hsi_rules *rs, char *err, size_t err_size)
{
	json_t *v;
	int     rv       = 0;
	rs->repeat_hours = 24;
	if ((v = json_object_get(root, "repeat_hours")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0
		    || json_integer_value(v) > 8760) {
			snprintf(err, err_size,
			    "%s: key 'repeat_hours' must be a whole number of "
			    "hours from 0 (never repeat) to 8760",
			    src);
			return HSI_EINVAL;
		}
		rs->repeat_hours = (int) json_integer_value(v);
	}
	if ((v = json_object_get(root, "inhibit")) != NULL
	    && (rv = parse_inhibit(v, src, rs, err, err_size)) != 0) {
		return rv;
	}
	if ((v = json_object_get(root, "receivers")) != NULL) {
		rv = hsi_receivers_parse(
		    v, src, &rs->recv, &rs->nrecv, err, err_size);
	}
	return rv;
}

static int
parse_root(
    json_t *root, const char *src, hsi_rules **out, char *err, size_t err_size)
{
	const char *key;
	json_t     *v;
	json_t     *arr
	    = json_is_object(root) ? json_object_get(root, "rules") : NULL;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "rules") != 0 && strcmp(key, "receivers") != 0
		    && strcmp(key, "inhibit") != 0
		    && strcmp(key, "repeat_hours") != 0) {
			snprintf(err, err_size,
			    "%s: unknown key '%.40s' (the file holds only "
			    "\"rules\", \"receivers\", \"inhibit\" and "
			    "\"repeat_hours\")",
			    src, key);
			return HSI_EINVAL;
		}
	}
	if (arr == NULL || !json_is_array(arr)) {
		snprintf(err, err_size,
		    "%s: must be an object whose key \"rules\" holds an "
		    "array of rules",
		    src);
		return HSI_EINVAL;
	}
	size_t n = json_array_size(arr);
	if (n == 0 || n > HSI_RULES_MAX) {
		snprintf(err, err_size, "%s: 'rules' must hold 1 to %d rules",
		    src, HSI_RULES_MAX);
		return HSI_EINVAL;
	}
	hsi_rules *rs = calloc(1, sizeof(*rs) + n * sizeof(hsi_rule));
	if (rs == NULL) {
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char where[300];
		snprintf(where, sizeof(where), "%s: rule %zu", src, i);
		int rv = parse_rule(json_array_get(arr, i), &rs->rule[i],
		    where, err, err_size);
		for (size_t j = 0; rv == 0 && j < i; j++) {
			if (strcmp(rs->rule[j].name, rs->rule[i].name) == 0) {
				snprintf(err, err_size,
				    "%s: key 'name': '%s' is already used by "
				    "rule %zu (names must be unique)",
				    where, rs->rule[i].name, j);
				rv = HSI_EINVAL;
			}
		}
		if (rv != 0) {
			free(rs);
			return rv;
		}
		rs->n = i + 1;
	}
	int rv = parse_settings(root, src, rs, err, err_size);
	if (rv != 0) {
		hsi_rules_free(rs);
		return rv;
	}
	*out = rs;
	return 0;
}

int
hsi_rules_parse(const char *text, size_t len, const char *src, hsi_rules **out,
    char *err, size_t err_size)
{
	if (len > HSI_RULES_MAX_BYTES) {
		snprintf(err, err_size, "%s: over %d bytes", src,
		    HSI_RULES_MAX_BYTES);
		return HSI_ETOOBIG;
	}
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, err_size, "%s:%d:%d: invalid JSON: %s", src,
		    jerr.line, jerr.column, jerr.text);
		return HSI_EINVAL;
	}
	int rv = parse_root(root, src, out, err, err_size);
	json_decref(root);
	if (rv == 0) {
		(*out)->text = malloc(len + 1);
		if ((*out)->text == NULL) {
			hsi_rules_free(*out);
			return HSI_ENOMEM;
		}
		memcpy((*out)->text, text, len);
		(*out)->text[len] = '\0';
		(*out)->text_len  = len;
	}
	return rv;
}

int
hsi_rules_load(const char *path, hsi_rules **out, char *err, size_t err_size)
{
	if (path == NULL) {
		return hsi_rules_parse(default_rules, strlen(default_rules),
		    "built-in rules", out, err, err_size);
	}
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_size, "%s: cannot open rules file: %s", path,
		    strerror(errno));
		return HSI_EIO;
	}
	char  *buf = malloc(HSI_RULES_MAX_BYTES + 1);
	size_t n   = buf ? fread(buf, 1, HSI_RULES_MAX_BYTES + 1, f) : 0;
	int    bad = ferror(f);
	fclose(f);
	if (buf == NULL) {
		return HSI_ENOMEM;
	}
	if (bad) {
		free(buf);
		snprintf(err, err_size, "%s: cannot read rules file", path);
		return HSI_EIO;
	}
	int rv = hsi_rules_parse(buf, n, path, out, err, err_size);
	free(buf);
	return rv;
}

void
hsi_rules_free(hsi_rules *rules)
{
	if (rules != NULL) {
		free(rules->recv);
		free(rules->inhibit);
		free(rules->text);
	}
	free(rules);
}

size_t
hsi_rules_receiver_count(const hsi_rules *rules)
{
	return rules->nrecv;
}

const hsi_receiver *
hsi_rules_receiver(const hsi_rules *rules, size_t i)
{
	return i < rules->nrecv ? &rules->recv[i] : NULL;
}

const char *
hsi_rules_text(const hsi_rules *rules, size_t *len)
{
	*len = rules->text_len;
	return rules->text;
}

size_t
hsi_rules_inhibit_count(const hsi_rules *rules)
{
	return rules->inhibit != NULL ? rules->ninhibit : 1;
}

const hsi_inhibit *
hsi_rules_inhibit(const hsi_rules *rules, size_t i)
{
	if (rules->inhibit == NULL) {
		return i == 0 ? &default_inhibit : NULL;
	}
	return i < rules->ninhibit ? &rules->inhibit[i] : NULL;
}

int
hsi_rules_repeat_hours(const hsi_rules *rules)
{
	return rules->repeat_hours;
}

int
hsi_rule_on_scores(const hsi_rule *rule)
{
	return rule->type == HSI_RULE_THRESHOLD
	    || rule->type == HSI_RULE_DETERIORATION;
}

const char *
hsi_rule_type_name(hsi_rule_type type)
{
	return (unsigned) type < 5 ? types[type] : "?";
}

size_t
hsi_rules_count(const hsi_rules *rules)
{
	return rules->n;
}

const hsi_rule *
hsi_rules_get(const hsi_rules *rules, size_t i)
{
	return i < rules->n ? &rules->rule[i] : NULL;
}

int
hsi_rule_breached(const hsi_rule *rule, double value)
{
	switch (rule->op) {
	case HSI_OP_LT:
		return value < rule->threshold;
	case HSI_OP_LE:
		return value <= rule->threshold;
	case HSI_OP_GT:
		return value > rule->threshold;
	case HSI_OP_GE:
		return value >= rule->threshold;
	}
	return 0;
}

int
hsi_rule_cleared(const hsi_rule *rule, double value)
{
	double d = rule->deadband;
	switch (rule->op) {
	case HSI_OP_LT:
		return value >= rule->threshold + d;
	case HSI_OP_LE:
		return value > rule->threshold + d;
	case HSI_OP_GT:
		return value <= rule->threshold - d;
	case HSI_OP_GE:
		return value < rule->threshold - d;
	}
	return 0;
}

int
hsi_rule_deteriorated(const hsi_rule *rule, int has_delta, double delta,
    int has_rank, int rank_delta)
{
	return (rule->drop > 0 && has_delta && delta <= -rule->drop)
	    || (rule->rank_fall > 0 && has_rank
	        && rank_delta <= -rule->rank_fall);
}

int
hsi_rule_spans(const hsi_rule *rule)
{
	return rule->type == HSI_RULE_DETERIORATION || rule->for_periods > 1
	    || rule->clear_periods > 1 || rule->deadband > 0;
}

const char *
hsi_rule_op_name(hsi_rule_op op)
{
	return (unsigned) op < 4 ? op_names[op] : "?";
}
