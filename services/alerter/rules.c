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

struct hsi_rules {
	hsi_receiver *recv; /* receivers.h; NULL when none */
	size_t        nrecv;
	size_t        n;
	hsi_rule      rule[];
};

static const char default_rules[]
    = "{\"rules\":[{\"name\":\"composite_low\",\"level\":\"index\","
      "\"code\":\"hsi\",\"op\":\"<\",\"threshold\":0.45,"
      "\"area_level\":\"province\"}]}";

static const char *const op_names[] = { "<", "<=", ">", ">=" };
static const char *const levels[]   = { "index", "group", "indicator", NULL };
static const char *const area_levels[]
    = { "nation", "region", "province", "district", "subdistrict", NULL };
static const char *const rule_keys[] = { "name", "type", "level", "code", "op",
	"threshold", "area_level", "for_periods", "clear_periods", "deadband",
	"drop", "rank_fall", NULL };
static const char *const types[]     = { "threshold", "deterioration", NULL };
/* Keys of one type only, refused on the other. */
static const char *const threshold_only[]
    = { "op", "threshold", "deadband", NULL };
static const char *const deterioration_only[] = { "drop", "rank_fall", NULL };

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
check_keys(json_t *r, const char *where, char *err, size_t err_size)
{
	const char *key;
	json_t     *v;
	json_object_foreach(r, key, v)
	{
		if (one_of(key, rule_keys) < 0) {
			snprintf(err, err_size,
			    "%s: unknown key '%s' (allowed: name, type, "
			    "level, code, op, threshold, area_level, "
			    "for_periods, clear_periods, deadband, drop, "
			    "rank_fall)",
			    where, key);
			return HSI_EINVAL;
		}
	}
	return 0;
}

static int
parse_names(
    json_t *r, hsi_rule *out, const char *where, char *err, size_t err_size)
{
	const char *name, *code;
	int         rv;
	if ((rv = get_string(r, "name", &name, where, err, err_size))
	    || (rv = get_string(r, "code", &code, where, err, err_size))) {
		return rv;
	}
	if (!plain_name(name, 1)) {
		snprintf(err, err_size,
		    "%s: key 'name': '%.80s' must be 1-63 characters of "
		    "A-Z a-z 0-9 _ - .",
		    where, name);
		return HSI_EINVAL;
	}
	if (!plain_name(code, 0)) {
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
		    "%s: key 'type': '%.40s' is not threshold or "
		    "deterioration",
		    where, type);
		return HSI_EINVAL;
	}
	out->type = (hsi_rule_type) t;
	const char *const *other
	    = t == HSI_RULE_THRESHOLD ? deterioration_only : threshold_only;
	for (size_t i = 0; other[i] != NULL; i++) {
		if (json_object_get(r, other[i]) != NULL) {
			snprintf(err, err_size,
			    "%s: key '%s' does not apply to a %s rule", where,
			    other[i], type);
			return HSI_EINVAL;
		}
	}
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
	if ((rv = check_keys(r, where, err, err_size))
	    || (rv = parse_names(r, out, where, err, err_size))
	    || (rv = parse_type(r, out, where, err, err_size))
	    || (rv = parse_enums(r, out, where, err, err_size))
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
		if (strcmp(key, "rules") != 0
		    && strcmp(key, "receivers") != 0) {
			snprintf(err, err_size,
			    "%s: unknown key '%.40s' (the file holds only "
			    "\"rules\" and \"receivers\")",
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
	json_t *recv = json_object_get(root, "receivers");
	int     rv   = recv == NULL ? 0
	                            : hsi_receivers_parse(recv, src, &rs->recv,
	                                &rs->nrecv, err, err_size);
	if (rv != 0) {
		free(rs);
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
	return rule->type != HSI_RULE_THRESHOLD || rule->for_periods > 1
	    || rule->clear_periods > 1 || rule->deadband > 0;
}

const char *
hsi_rule_op_name(hsi_rule_op op)
{
	return (unsigned) op < 4 ? op_names[op] : "?";
}
