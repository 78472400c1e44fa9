/*
 * alertmatch.c: the parts of alertops.h that need no database: matchers
 * (parsed from text and JSON, matched, formatted), durations, RFC 3339
 * checks and the texts people give, and the set of silences in force that
 * hsi-alerter consults for every notification.
 *
 * Nothing here touches PostgreSQL, so tests/alertops_test.c exercises it
 * all without a database; the database side is in alertops.c, the tables
 * for people in alerttable.c.
 */
#include "alertops.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "alertops_int.h"
#include "csv.h"
#include "error.h"

/* ---- matchers ----------------------------------------------------------- */

enum { OP_EQ, OP_NE, OP_RE, OP_NRE };
static const char *const op_names[] = { "=", "!=", "=~", "!~" };

typedef struct {
	char    name[HSI_MATCHER_NAME_MAX + 1];
	char    value[HSI_MATCHER_VALUE_MAX + 1];
	int     op;
	regex_t re; /* compiled for =~ and !~ only */
} matcher;

struct hsi_matchers {
	size_t  n;
	matcher m[HSI_MATCHERS_MAX];
};

/* s for a message: cut to fit, and never invalid UTF-8 (the REST gateway
 * puts messages in JSON, which must be valid UTF-8). */
void
hsi_alertops_quote(const char *s, size_t len, char *out, size_t size)
{
	char tmp[HSI_MATCHER_VALUE_MAX * 2 + 1];
	len = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (hsi_utf8_check(tmp, strlen(tmp)) != 0) {
		for (char *p = tmp; *p; p++) {
			*p = (*p & 0x80) ? '?' : *p;
		}
	}
	hsi_utf8_clip(tmp, out, size);
}

int
hsi_matchers_alloc(hsi_matchers **out)
{
	hsi_matchers *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return HSI_ENOMEM;
	}
	*out = m;
	return 0;
}

void
hsi_matchers_free(hsi_matchers *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (m->m[i].op >= OP_RE) {
			regfree(&m->m[i].re);
		}
	}
	free(m);
}

size_t
hsi_matchers_count(const hsi_matchers *m)
{
	return m ? m->n : 0;
}

static int
is_name_char(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'
	    || (!first && c >= '0' && c <= '9');
}

/* The ']' that ends the bracket expression opening at p, or NULL. */
static const char *
bracket_end(const char *p)
{
	p += 1 + (p[1] == '^');
	p += *p == ']'; /* first, ']' is a member */
	for (; *p != '\0' && *p != ']'; p++) {
		if (*p == '[' && p[1] != '\0' && strchr(":=.", p[1]) != NULL) {
			const char  end[3] = { p[1], ']', '\0' };
			const char *e      = strstr(p + 2, end);
			if (e == NULL) {
				return NULL;
			}
			p = e + 1; /* [:alpha:], [=a=], [.-.] */
		}
	}
	return *p == ']' ? p : NULL;
}

/*
 * 1 when every ')' of re closes a '(' of re. glibc takes a lone ')' as a
 * literal, so without this check "x)|(y)" would close the group of our
 * ^( )$ and escape the anchors: ^(x)|(y))$.
 */
static int
parens_balanced(const char *re)
{
	int depth = 0;
	for (const char *p = re; *p != '\0'; p++) {
		if (*p == '\\') {
			p += p[1] != '\0';
		} else if (*p == '[') {
			if ((p = bracket_end(p)) == NULL) {
				return 1; /* regcomp refuses it anyway */
			}
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth-- == 0) {
			return 0;
		}
	}
	return 1;
}

/* Checks and appends one matcher; where names it in messages. */
static int
add_one(hsi_matchers *m, const char *where, const char *name, size_t name_len,
    int op, const char *value, size_t value_len, char *err, size_t err_size)
{
	char q[80];
	if (m->n == HSI_MATCHERS_MAX) {
		snprintf(err, err_size, "%s: too many matchers; at most %d",
		    where, HSI_MATCHERS_MAX);
		return HSI_ETOOBIG;
	}
	if (name_len == 0) {
		snprintf(err, err_size,
		    "%s: name: empty; give a label name such as area or rule",
		    where);
		return HSI_EINVAL;
	}
	if (name_len > HSI_MATCHER_NAME_MAX) {
		snprintf(err, err_size, "%s: name: %zu bytes; at most %d",
		    where, name_len, HSI_MATCHER_NAME_MAX);
		return HSI_ETOOBIG;
	}
	for (size_t i = 0; i < name_len; i++) {
		if (!is_name_char(name[i], i == 0)) {
			hsi_alertops_quote(name, name_len, q, sizeof(q));
			snprintf(err, err_size,
			    "%s: name: '%s' is not a label name; give a "
			    "letter or '_' then up to %d letters, digits or "
			    "'_'",
			    where, q, HSI_MATCHER_NAME_MAX - 1);
			return HSI_EINVAL;
		}
	}
	if (value_len > HSI_MATCHER_VALUE_MAX) {
		snprintf(err, err_size, "%s: value: %zu bytes; at most %d",
		    where, value_len, HSI_MATCHER_VALUE_MAX);
		return HSI_ETOOBIG;
	}
	size_t bad = memchr(value, '\0', value_len) != NULL
	    ? (size_t) ((const char *) memchr(value, '\0', value_len) - value)
	        + 1
	    : hsi_utf8_check(value, value_len);
	if (bad != 0) {
		snprintf(err, err_size,
		    "%s: value: not valid UTF-8 text at byte %zu", where, bad);
		return HSI_EENCODING;
	}
	matcher *mt = &m->m[m->n];
	memcpy(mt->name, name, name_len);
	mt->name[name_len] = '\0';
	memcpy(mt->value, value, value_len);
	mt->value[value_len] = '\0';
	mt->op               = op;
	if (op >= OP_RE) {
		char pat[HSI_MATCHER_VALUE_MAX + 8];
		snprintf(pat, sizeof(pat), "^(%s)$", mt->value);
		int rc = parens_balanced(mt->value)
		    ? regcomp(&mt->re, pat, REG_EXTENDED | REG_NOSUB)
		    : -1;
		if (rc != 0) {
			char why[128] = "a ')' closes no '('; write \\) for "
			                "a literal one";
			if (rc > 0) {
				regerror(rc, &mt->re, why, sizeof(why));
			}
			hsi_alertops_quote(value, value_len, q, sizeof(q));
			snprintf(err, err_size,
			    "%s: regex: '%s' is not a POSIX extended regular "
			    "expression (%s); e.g. 5[0-9] or composite_.*",
			    where, q, why);
			return HSI_EINVAL;
		}
	}
	m->n++;
	return 0;
}

int
hsi_matchers_add_text(
    hsi_matchers *m, const char *text, char *err, size_t err_size)
{
	char   where[128], q[80];
	size_t len = strlen(text);
	hsi_alertops_quote(text, len, q, sizeof(q));
	snprintf(where, sizeof(where), "matcher %zu '%s'", m->n, q);
	size_t      name_len = strcspn(text, "=!");
	const char *o        = text + name_len;
	int         op;
	if (o[0] == '=') {
		op = o[1] == '~' ? OP_RE : OP_EQ;
	} else if (o[0] == '!' && (o[1] == '=' || o[1] == '~')) {
		op = o[1] == '~' ? OP_NRE : OP_NE;
	} else {
		snprintf(err, err_size,
		    "%s: operator: %s; write name=value, name!=value, "
		    "name=~regex or name!~regex",
		    where,
		    o[0] == '!' ? "'!' must be followed by '=' or '~'"
		                : "none found");
		return HSI_EINVAL;
	}
	const char *v = o + strlen(op_names[op]);
	return add_one(
	    m, where, text, name_len, op, v, strlen(v), err, err_size);
}

/* The string member key of matcher object o, or a message. */
static int
json_member(const json_t *o, const char *where, const char *key,
    const char **s, size_t *len, char *err, size_t err_size)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_string(v)) {
		snprintf(err, err_size, "%s: key '%s' %s", where, key,
		    v == NULL ? "is missing" : "must be a string");
		return HSI_EINVAL;
	}
	*s   = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/* Appends matcher object o, element i of the JSON form, to m. */
static int
add_json(
    hsi_matchers *m, size_t i, const json_t *o, char *err, size_t err_size)
{
	char        where[32], q[80];
	const char *key, *name, *opname, *value;
	size_t      nl, ol, vl;
	json_t     *v;
	int         rv, op = -1;
	snprintf(where, sizeof(where), "matcher %zu", i);
	if (!json_is_object(o)) {
		snprintf(err, err_size,
		    "%s: must be an object {\"name\", \"op\", \"value\"}",
		    where);
		return HSI_EINVAL;
	}
	json_object_foreach((json_t *) o, key, v)
	{
		if (strcmp(key, "name") != 0 && strcmp(key, "op") != 0
		    && strcmp(key, "value") != 0) {
			hsi_alertops_quote(key, strlen(key), q, sizeof(q));
			snprintf(err, err_size,
			    "%s: key '%s' is unknown; the keys are name, op "
			    "and value",
			    where, q);
			return HSI_EINVAL;
		}
	}
	if ((rv = json_member(o, where, "name", &name, &nl, err, err_size))
	    || (rv = json_member(o, where, "op", &opname, &ol, err, err_size))
	    || (rv = json_member(
	            o, where, "value", &value, &vl, err, err_size))) {
		return rv;
	}
	for (int k = 0; k < 4; k++) {
		op = strcmp(opname, op_names[k]) == 0 ? k : op;
	}
	if (op < 0) {
		hsi_alertops_quote(opname, ol, q, sizeof(q));
		snprintf(err, err_size,
		    "%s: key 'op': '%s' is not an operator; give \"=\", "
		    "\"!=\", \"=~\" or \"!~\"",
		    where, q);
		return HSI_EINVAL;
	}
	return add_one(m, where, name, nl, op, value, vl, err, err_size);
}

int
hsi_matchers_from_json(
    const json_t *arr, hsi_matchers **out, char *err, size_t err_size)
{
	hsi_matchers *m;
	size_t        i;
	json_t       *o;
	int           rv = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0
	    || json_array_size(arr) > HSI_MATCHERS_MAX) {
		snprintf(err, err_size,
		    "matchers: give an array of 1 to %d objects "
		    "{\"name\", \"op\", \"value\"}",
		    HSI_MATCHERS_MAX);
		return HSI_EINVAL;
	}
	if (hsi_matchers_alloc(&m) != 0) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	json_array_foreach(arr, i, o)
	{
		if ((rv = add_json(m, i, o, err, err_size)) != 0) {
			hsi_matchers_free(m);
			return rv;
		}
	}
	*out = m;
	return 0;
}

json_t *
hsi_matchers_to_json(const hsi_matchers *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < m->n; i++) {
		const matcher *mt = &m->m[i];
		if (json_array_append_new(a,
		        json_pack("{s:s, s:s, s:s}", "name", mt->name, "op",
		            op_names[mt->op], "value", mt->value))
		    != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

void
hsi_matchers_format(const hsi_matchers *m, char *buf, size_t size)
{
	char *all = malloc(
	    m->n * (HSI_MATCHER_NAME_MAX + HSI_MATCHER_VALUE_MAX + 5) + 1);
	size_t at = 0;
	if (all == NULL || size == 0) {
		snprintf(buf, size, "%s", "");
		free(all);
		return;
	}
	all[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		const matcher *mt = &m->m[i];
		at += (size_t) sprintf(all + at, "%s%s%s%s", i ? ", " : "",
		    mt->name, op_names[mt->op], mt->value);
	}
	hsi_utf8_clip(all, buf, size);
	free(all);
}

/* The text a matcher compares for label name of labels (see the .h). */
const char *
hsi_alertops_label_text(
    const json_t *labels, const char *name, char *buf, size_t size)
{
	const json_t *v = json_object_get(labels, name);
	if (json_is_string(v)) {
		return json_string_value(v);
	}
	if (json_is_integer(v)) {
		snprintf(
		    buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, size, "%.17g", json_real_value(v));
		return buf;
	}
	return json_is_true(v) ? "true" : json_is_false(v) ? "false" : "";
}

int
hsi_matchers_match(const hsi_matchers *m, const json_t *labels)
{
	for (size_t i = 0; m != NULL && i < m->n; i++) {
		const matcher *mt = &m->m[i];
		char           buf[32];
		const char    *s = hsi_alertops_label_text(
		       labels, mt->name, buf, sizeof(buf));
		int hit;
		if (mt->op <= OP_NE) {
			hit = strcmp(s, mt->value) == 0;
		} else {
			hit = regexec(&mt->re, s, 0, NULL, 0) == 0;
		}
		if (hit != (mt->op == OP_EQ || mt->op == OP_RE)) {
			return 0;
		}
	}
	return 1;
}

/* ---- durations, times, texts -------------------------------------------- */

void
hsi_alertops_format_duration(int64_t s, char *buf, size_t size)
{
	static const struct {
		char    unit;
		int64_t s;
	} units[] = { { 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 },
		{ 'm', 60 }, { 's', 1 } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s % units[i].s == 0) {
			snprintf(buf, size, "%lld%c",
			    (long long) (s / units[i].s), units[i].unit);
			return;
		}
	}
}

static int64_t
unit_s(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 604800;
	default:
		return 0;
	}
}

int
hsi_duration_parse(const char *what, const char *s, int64_t max_s,
    int64_t *out_s, char *err, size_t err_size)
{
	char        q[80], maxs[32];
	int64_t     total = 0;
	const char *p     = s;
	hsi_alertops_quote(s, strlen(s), q, sizeof(q));
	hsi_alertops_format_duration(max_s, maxs, sizeof(maxs));
	if (*p == '\0') {
		goto bad;
	}
	while (*p != '\0') {
		int64_t v = 0, unit;
		if (*p < '0' || *p > '9') {
			goto bad;
		}
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v <= max_s ? v * 10 + (*p - '0') : v;
		}
		if ((unit = unit_s(*p++)) == 0) {
			goto bad;
		}
		if (v > max_s / unit || (total += v * unit) > max_s) {
			snprintf(err, err_size,
			    "%s: '%s' is longer than the maximum, %s", what, q,
			    maxs);
			return HSI_ERANGE;
		}
	}
	if (total == 0) {
		snprintf(err, err_size, "%s: '%s' is zero; give at least 1s",
		    what, q);
		return HSI_ERANGE;
	}
	*out_s = total;
	return 0;
bad:
	snprintf(err, err_size,
	    "%s: '%s' is not a duration; give a whole number and a unit s, "
	    "m, h, d or w (90m, 2h, 3d, 1w, 1d12h)",
	    what, q);
	return HSI_EINVAL;
}

/* n digits at *p (advanced) as *v: 1, or 0 when they are not digits. */
static int
digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9') {
			return 0;
		}
		*v = *v * 10 + (**p - '0');
	}
	return 1;
}

/* What is wrong with s as an RFC 3339 time, or NULL. */
static const char *
rfc3339_why(const char *s)
{
	static const int mdays[]
	    = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int         y, mo, d, h, mi, sec, oh, om;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo)
	    || *p++ != '-' || !digits(&p, 2, &d)) {
		return "the date must be YYYY-MM-DD";
	}
	if (*p == '\0') {
		return "no time of day; add e.g. T17:00:00+07:00";
	}
	if (*p != 'T' && *p != 't' && *p != ' ') {
		return "a 'T' must separate the date and the time of day";
	}
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)
	    || *p++ != ':' || !digits(&p, 2, &sec)) {
		return "the time of day must be HH:MM:SS";
	}
	if (*p == '.') {
		const char *f = ++p;
		while (*p >= '0' && *p <= '9') {
			p++;
		}
		if (p == f) {
			return "a '.' must be followed by digits";
		}
	}
	if (*p == '\0') {
		return "no time zone; end it with Z (UTC) or an offset such "
		       "as +07:00";
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		p++;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om)
		    || oh > 23 || om > 59) {
			return "the time zone must be Z or +HH:MM / -HH:MM";
		}
	} else {
		return "the time zone must be Z or +HH:MM / -HH:MM";
	}
	if (*p != '\0') {
		return "text after the time zone";
	}
	int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
	    || (mo == 2 && d == 29 && !leap)) {
		return "no such date";
	}
	if (h > 23 || mi > 59 || sec > 59) {
		return "no such time of day";
	}
	return NULL;
}

int
hsi_rfc3339_check(const char *what, const char *s, char *err, size_t err_size)
{
	const char *why = rfc3339_why(s);
	if (why != NULL) {
		char q[80];
		hsi_alertops_quote(s, strlen(s), q, sizeof(q));
		snprintf(err, err_size,
		    "%s: '%s' is not an RFC 3339 time: %s (e.g. "
		    "2025-03-31T17:00:00+07:00 or 2025-03-31T10:00:00Z)",
		    what, q, why);
		return HSI_EINVAL;
	}
	return 0;
}

/*
 * A duration or an RFC 3339 time for what: *at is the time (s) or NULL
 * with *secs the duration (def_s when s is NULL).
 */
int
hsi_alertops_parse_when(const char *what, const char *s, int64_t def_s,
    int64_t max_s, const char **at, int64_t *secs, char *err, size_t err_size)
{
	*at   = NULL;
	*secs = def_s;
	if (s == NULL) {
		return 0;
	}
	if (strlen(s) > 4 && s[4] == '-') {
		*at = s;
		return hsi_rfc3339_check(what, s, err, err_size);
	}
	int rv = hsi_duration_parse(what, s, max_s, secs, err, err_size);
	if (rv == HSI_EINVAL) {
		char q[80];
		hsi_alertops_quote(s, strlen(s), q, sizeof(q));
		snprintf(err, err_size,
		    "%s: '%s' is neither a duration (90m, 2h, 3d, 1w) nor an "
		    "RFC 3339 time (2025-03-31T17:00:00+07:00)",
		    what, q);
	}
	return rv;
}

/* A person's name or a comment: 1..max characters of UTF-8 on one line,
 * not only spaces. */
int
hsi_alertops_check_text(
    const char *what, const char *s, size_t max, char *err, size_t err_size)
{
	size_t len = s ? strlen(s) : 0, chars = 0, blank = 1;
	if (len == 0) {
		snprintf(err, err_size, "%s: empty; give 1 to %zu characters",
		    what, max);
		return HSI_EINVAL;
	}
	size_t bad = hsi_utf8_check(s, len);
	if (bad != 0) {
		snprintf(err, err_size, "%s: not valid UTF-8 at byte %zu",
		    what, bad);
		return HSI_EENCODING;
	}
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, err_size,
			    "%s: control character at byte %zu; write it on "
			    "one line",
			    what,
			    (size_t) (p - (const unsigned char *) s) + 1);
			return HSI_EINVAL;
		}
		chars += (*p & 0xC0) != 0x80;
		blank &= *p == ' ';
	}
	if (chars > max) {
		snprintf(err, err_size, "%s: %zu characters; at most %zu",
		    what, chars, max);
		return HSI_ETOOBIG;
	}
	if (blank) {
		snprintf(
		    err, err_size, "%s: only spaces; give some text", what);
		return HSI_EINVAL;
	}
	return 0;
}

/* ---- silences in force -------------------------------------------------- */

void
hsi_silences_free(hsi_silences *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; s->m != NULL && i < s->n; i++) {
		hsi_matchers_free(s->m[i]);
	}
	free(s->m);
	free(s->id);
	free(s);
}

size_t
hsi_silences_count(const hsi_silences *s)
{
	return s ? s->n : 0;
}

int64_t
hsi_silences_match(const hsi_silences *s, const json_t *labels)
{
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		if (hsi_matchers_match(s->m[i], labels)) {
			return s->id[i];
		}
	}
	return 0;
}
