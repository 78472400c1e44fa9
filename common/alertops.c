/*
 * alertops.c: operators' actions on alerts (see alertops.h): matchers,
 * silences, acknowledgements, listings, and their tables for people.
 *
 * Every input is checked here before it reaches PostgreSQL, so a typo
 * gets a message naming the field and what is accepted rather than a
 * SQLSTATE; the tables' CHECKs are the last line of defence, not the
 * first. Times that depend on "now" are computed by the server, whose
 * clock hsi-alerter also uses to decide what is in force.
 */
#include "alertops.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "db.h"
#include "error.h"
#include "log.h"

#define TEXT_BY_MAX 128
#define TEXT_COMMENT_MAX 1024
#define EVENTS_MAX "1000"

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
static void
quote(const char *s, size_t len, char *out, size_t size)
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
			quote(name, name_len, q, sizeof(q));
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
			quote(value, value_len, q, sizeof(q));
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
	quote(text, len, q, sizeof(q));
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
			quote(key, strlen(key), q, sizeof(q));
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
		quote(opname, ol, q, sizeof(q));
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
static const char *
label_text(const json_t *labels, const char *name, char *buf, size_t size)
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
		const char *s = label_text(labels, mt->name, buf, sizeof(buf));
		int         hit;
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

static void
format_duration(int64_t s, char *buf, size_t size)
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
	quote(s, strlen(s), q, sizeof(q));
	format_duration(max_s, maxs, sizeof(maxs));
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
		quote(s, strlen(s), q, sizeof(q));
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
static int
parse_when(const char *what, const char *s, int64_t def_s, int64_t max_s,
    const char **at, int64_t *secs, char *err, size_t err_size)
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
		quote(s, strlen(s), q, sizeof(q));
		snprintf(err, err_size,
		    "%s: '%s' is neither a duration (90m, 2h, 3d, 1w) nor an "
		    "RFC 3339 time (2025-03-31T17:00:00+07:00)",
		    what, q);
	}
	return rv;
}

/* A person's name or a comment: 1..max characters of UTF-8 on one line,
 * not only spaces. */
static int
check_text(
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

/* ---- rows --------------------------------------------------------------- */

/* Column c of row i, NULL when SQL NULL. */
static const char *
col(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static json_t *
num_col(const PGresult *r, int i, int c)
{
	const char *s = col(r, i, c);
	double      v = s ? strtod(s, NULL) : 0;
	/* NaN and infinities have no JSON form. */
	return s && v == v && v - v == 0 ? json_real(v) : json_null();
}

static json_t *
json_col(const PGresult *r, int i, int c)
{
	const char *s = col(r, i, c);
	json_t     *j = s ? json_loads(s, 0, NULL) : NULL;
	return j ? j : json_null();
}

static int
bool_col(const PGresult *r, int i, int c)
{
	const char *s = col(r, i, c);
	return s != NULL && s[0] == 't';
}

/* Room for "YYYY-MM-DDTHH:MM:SSZ" (and a five-digit year). */
#define TIME_MAX 32

/*
 * Column c of row i, epoch seconds (extract(epoch FROM t): times leave
 * PostgreSQL so, whatever the session's time zone) as RFC 3339 UTC to the
 * second in buf (TIME_MAX bytes); NULL when SQL NULL.
 */
static const char *
time_col(const PGresult *r, int i, int c, char *buf)
{
	const char *s = col(r, i, c);
	char       *end;
	struct tm   tm;
	if (s == NULL) {
		return NULL;
	}
	/* The whole seconds, exactly: a double would round .9999995 up. */
	time_t t = (time_t) strtoll(s, &end, 10);
	t -= s[0] == '-' && *end == '.'
	    && strspn(end + 1, "0") < strlen(end + 1);
	if (gmtime_r(&t, &tm) == NULL
	    || strftime(buf, TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		return "?";
	}
	return buf;
}

#define ALERT_COLS                                                            \
	"fingerprint, rule, kind, state, labels::text, annotations::text,"    \
	" value, threshold, extract(epoch FROM starts_at),"                   \
	" extract(epoch FROM ends_at), extract(epoch FROM updated_at),"       \
	" acked_by IS NOT NULL AND (ack_expires IS NULL OR"                   \
	" ack_expires > now()), acked_by, extract(epoch FROM acked_at),"      \
	" ack_comment, extract(epoch FROM ack_expires)"

static json_t *
alert_row(const PGresult *r, int i)
{
	char    t[5][TIME_MAX];
	json_t *acked = bool_col(r, i, 11)
	    ? json_pack("{s:s?, s:s?, s:s?, s:s?}", "by", col(r, i, 12), "at",
	        time_col(r, i, 13, t[3]), "comment", col(r, i, 14), "expires",
	        time_col(r, i, 15, t[4]))
	    : json_null();
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:o}",
	    "fingerprint", col(r, i, 0), "rule", col(r, i, 1), "kind",
	    col(r, i, 2), "state", col(r, i, 3), "labels", json_col(r, i, 4),
	    "annotations", json_col(r, i, 5), "value", num_col(r, i, 6),
	    "threshold", num_col(r, i, 7), "starts_at",
	    time_col(r, i, 8, t[0]), "ends_at", time_col(r, i, 9, t[1]),
	    "updated_at", time_col(r, i, 10, t[2]), "acked", acked);
}

static int
db_fail(const char *what, char *err, size_t err_size)
{
	snprintf(err, err_size,
	    "cannot %s: database error (the log line above says which)", what);
	return HSI_EDB;
}

/* ---- silences ----------------------------------------------------------- */

static const char sql_silence_times[]
    = "SELECT s::text, e::text, extract(epoch FROM s),"
      " extract(epoch FROM e), e > s,"
      " e <= s + $4::float8 * interval '1 second', e > now() "
      "FROM (SELECT s, COALESCE($2::timestamptz,"
      " s + $3::float8 * interval '1 second') AS e"
      " FROM (SELECT COALESCE($1::timestamptz, now()) AS s) a) b";

static int
silence_spec_check(
    const hsi_silence_spec *sp, int64_t *dur, char *err, size_t err_size)
{
	int rv;
	if (hsi_matchers_count(sp->matchers) == 0) {
		snprintf(err, err_size,
		    "matchers: a silence needs 1 to %d matchers (e.g. "
		    "area=55); none would silence every alert",
		    HSI_MATCHERS_MAX);
		return HSI_EINVAL;
	}
	if ((rv = check_text(
	         "created_by", sp->created_by, TEXT_BY_MAX, err, err_size))
	    || (rv = check_text(
	            "comment", sp->comment, TEXT_COMMENT_MAX, err, err_size))
	    || (sp->starts
	        && (rv = hsi_rfc3339_check(
	                "starts", sp->starts, err, err_size)))) {
		return rv;
	}
	if ((sp->ends == NULL) == (sp->duration == NULL)) {
		snprintf(err, err_size,
		    "silence: give either an end time or a duration%s",
		    sp->ends ? ", not both" : " (e.g. 2h)");
		return HSI_EINVAL;
	}
	*dur = 0;
	return sp->ends ? hsi_rfc3339_check("ends", sp->ends, err, err_size)
	                : hsi_duration_parse("duration", sp->duration,
	                    HSI_SILENCE_MAX_S, dur, err, err_size);
}

int
hsi_silence_add(PGconn *db, const hsi_silence_spec *sp, int64_t *id, char *err,
    size_t err_size)
{
	int64_t dur;
	int     rv = silence_spec_check(sp, &dur, err, err_size);
	if (rv != 0) {
		return rv;
	}
	char dur_s[24], max_s[24], ts[TIME_MAX], te[TIME_MAX];
	snprintf(dur_s, sizeof(dur_s), "%lld", (long long) dur);
	snprintf(max_s, sizeof(max_s), "%d", HSI_SILENCE_MAX_S);
	const char *tp[4] = { sp->starts, sp->ends, dur_s, max_s };
	PGresult   *t
	    = hsi_db_query(db, "silence times", sql_silence_times, 4, tp);
	if (t == NULL) {
		return db_fail("compute the silence's times", err, err_size);
	}
	if (!bool_col(t, 0, 4) || !bool_col(t, 0, 6)) {
		snprintf(err, err_size,
		    "ends: %s is not after %s; give an end in the future, "
		    "after the start",
		    time_col(t, 0, 3, te),
		    bool_col(t, 0, 4) ? "now" : time_col(t, 0, 2, ts));
		rv = HSI_ERANGE;
	} else if (!bool_col(t, 0, 5)) {
		snprintf(err, err_size,
		    "ends: %s is more than 365 days after the start %s",
		    time_col(t, 0, 3, te), time_col(t, 0, 2, ts));
		rv = HSI_ERANGE;
	}
	json_t *mj = rv ? NULL : hsi_matchers_to_json(sp->matchers);
	char   *ms = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
	if (rv == 0 && ms == NULL) {
		snprintf(err, err_size, "out of memory");
		rv = HSI_ENOMEM;
	}
	if (rv == 0) {
		const char *p[5] = { ms, sp->created_by, sp->comment,
			PQgetvalue(t, 0, 0), PQgetvalue(t, 0, 1) };
		PGresult   *r    = hsi_db_query(db, "silence add",
		         "INSERT INTO silence (matchers, created_by, comment,"
		              " starts_at, ends_at) VALUES ($1::jsonb, $2, $3,"
		              " $4::timestamptz, $5::timestamptz) RETURNING id",
		         5, p);
		if (r == NULL) {
			rv = db_fail("store the silence", err, err_size);
		} else {
			*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		}
		PQclear(r);
	}
	free(ms);
	json_decref(mj);
	PQclear(t);
	return rv;
}

/* The matchers of a silence in the order name, op, value (jsonb keeps
 * its keys in its own order), or as stored if they do not parse. */
static json_t *
matchers_col(const PGresult *r, int i, int c)
{
	json_t       *j = json_col(r, i, c), *n = NULL;
	hsi_matchers *m;
	char          why[256];
	if (hsi_matchers_from_json(j, &m, why, sizeof(why)) == 0) {
		n = hsi_matchers_to_json(m);
		hsi_matchers_free(m);
	}
	if (n == NULL) {
		return j;
	}
	json_decref(j);
	return n;
}

static const char sql_silence_list[]
    = "SELECT id, CASE WHEN ends_at <= now() THEN 'expired'"
      " WHEN starts_at > now() THEN 'pending' ELSE 'active' END,"
      " matchers::text, created_by, comment, extract(epoch FROM starts_at),"
      " extract(epoch FROM ends_at), extract(epoch FROM created_at),"
      " expired_by FROM silence WHERE $1::bool OR ends_at > now() "
      "ORDER BY id DESC LIMIT 10000";

int
hsi_silence_list(PGconn *db, int all, json_t **out, char *err, size_t err_size)
{
	const char *p[1] = { all ? "t" : "f" };
	PGresult *r = hsi_db_query(db, "silence list", sql_silence_list, 1, p);
	if (r == NULL) {
		return db_fail("list silences", err, err_size);
	}
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < PQntuples(r); i++) {
		char    t[3][TIME_MAX];
		json_t *row = json_pack(
		    "{s:I, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s?}", "id",
		    (json_int_t) strtoll(PQgetvalue(r, i, 0), NULL, 10),
		    "status", col(r, i, 1), "matchers", matchers_col(r, i, 2),
		    "created_by", col(r, i, 3), "comment", col(r, i, 4),
		    "starts_at", time_col(r, i, 5, t[0]), "ends_at",
		    time_col(r, i, 6, t[1]), "created_at",
		    time_col(r, i, 7, t[2]), "expired_by", col(r, i, 8));
		if (json_array_append_new(a, row) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	PQclear(r);
	if (a == NULL) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}

int
hsi_silence_expire(
    PGconn *db, int64_t id, const char *by, char *err, size_t err_size)
{
	char ids[24], ended[TIME_MAX];
	int  rv = check_text("by", by, TEXT_BY_MAX, err, err_size);
	if (rv != 0) {
		return rv;
	}
	snprintf(ids, sizeof(ids), "%lld", (long long) id);
	const char *p[2] = { ids, by };
	/* The table wants ends_at > starts_at: a silence that has not
	 * started yet ends a microsecond after it "started", now. */
	PGresult *r = hsi_db_query(db, "silence expire",
	    "UPDATE silence SET ends_at = now(), expired_by = $2,"
	    " starts_at = LEAST(starts_at, now() - interval '1 microsecond') "
	    "WHERE id = $1::bigint AND ends_at > now() RETURNING id",
	    2, p);
	if (r == NULL) {
		return db_fail("expire the silence", err, err_size);
	}
	int n = PQntuples(r);
	PQclear(r);
	if (n == 1) {
		return 0;
	}
	r = hsi_db_query(db, "silence ended",
	    "SELECT extract(epoch FROM ends_at), expired_by FROM silence"
	    " WHERE id = $1::bigint",
	    1, p);
	if (r == NULL) {
		return db_fail("read the silence", err, err_size);
	}
	if (PQntuples(r) == 0) {
		snprintf(err, err_size,
		    "silence %s: no such silence (see hsictl alerts silence "
		    "list --all)",
		    ids);
		rv = HSI_ENOENT;
	} else {
		snprintf(err, err_size,
		    "silence %s: already ended at %s%s%s; nothing to expire",
		    ids, time_col(r, 0, 0, ended),
		    col(r, 0, 1) ? ", expired by " : "",
		    col(r, 0, 1) ? col(r, 0, 1) : "");
		rv = HSI_ESTATE;
	}
	PQclear(r);
	return rv;
}

struct hsi_silences {
	size_t         n;
	int64_t       *id;
	hsi_matchers **m;
};

int
hsi_silence_active_load(
    PGconn *db, hsi_silences **out, char *err, size_t err_size)
{
	PGresult *r = hsi_db_query(db, "active silences",
	    "SELECT id, matchers::text FROM silence "
	    "WHERE starts_at <= now() AND ends_at > now() ORDER BY id",
	    0, NULL);
	if (r == NULL) {
		return db_fail("read the active silences", err, err_size);
	}
	size_t        n = (size_t) PQntuples(r);
	hsi_silences *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->id = calloc(n + 1, sizeof(*s->id))) == NULL
	    || (s->m = calloc(n + 1, sizeof(*s->m))) == NULL) {
		hsi_silences_free(s);
		PQclear(r);
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	for (int i = 0; i < (int) n; i++) {
		char          why[256];
		json_t       *j  = json_loads(PQgetvalue(r, i, 1), 0, NULL);
		long long     id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		hsi_matchers *m;
		if (hsi_matchers_from_json(j, &m, why, sizeof(why)) != 0) {
			hsi_log_warn("silence not applied: its matchers do "
			             "not parse",
			    "{s:I, s:s}", "silence", (json_int_t) id, "error",
			    why);
		} else {
			s->id[s->n]  = id;
			s->m[s->n++] = m;
		}
		json_decref(j);
	}
	PQclear(r);
	*out = s;
	return 0;
}

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

/* ---- acknowledgements --------------------------------------------------- */

/* fp (8..64 hex digits, either case) in lower case into low. */
static int
fp_prefix(const char *fp, char low[65], char *err, size_t err_size)
{
	size_t      len = fp ? strlen(fp) : 0;
	const char *why = len < 8 ? "is shorter than 8 digits"
	    : len > 64            ? "is longer than 64 digits"
	                          : NULL;
	for (size_t i = 0; why == NULL && i < len; i++) {
		char c = fp[i];
		low[i] = c >= 'A' && c <= 'F' ? (char) (c - 'A' + 'a') : c;
		if (!((low[i] >= '0' && low[i] <= '9')
		        || (low[i] >= 'a' && low[i] <= 'f'))) {
			why = "is not hexadecimal";
		}
	}
	if (why != NULL) {
		char q[80];
		quote(fp ? fp : "", len, q, sizeof(q));
		snprintf(err, err_size,
		    "fingerprint: '%s' %s; give the alert's 64 hex digits or "
		    "a unique prefix of at least 8 (hsictl alerts list)",
		    q, why);
		return HSI_EINVAL;
	}
	low[len] = '\0';
	return 0;
}

/*
 * The one alert whose fingerprint starts with low (from fp_prefix) into
 * full. Errors as for hsi_alert_ack.
 */
static int
resolve_fp(
    PGconn *db, const char *low, char full[65], char *err, size_t err_size)
{
	size_t      len  = strlen(low);
	const char *p[1] = { low };
	PGresult   *r    = hsi_db_query(db, "alert by prefix",
	         "SELECT fingerprint, count(*) OVER () FROM alert"
	              " WHERE starts_with(fingerprint, $1) ORDER BY fingerprint "
	              "LIMIT 1",
	         1, p);
	if (r == NULL) {
		return db_fail("find the alert", err, err_size);
	}
	int rv = 0;
	if (PQntuples(r) == 0) {
		snprintf(err, err_size,
		    "fingerprint: no alert is %s%s (hsictl alerts list "
		    "--state all)",
		    low, len < 64 ? "..." : "");
		rv = HSI_ENOENT;
	} else if (strcmp(PQgetvalue(r, 0, 1), "1") != 0) {
		snprintf(err, err_size,
		    "fingerprint: %s... is ambiguous: %s alerts start with "
		    "it; give more digits",
		    low, PQgetvalue(r, 0, 1));
		rv = HSI_EINVAL;
	} else {
		snprintf(full, 65, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return rv;
}

static int
fetch_alert(
    PGconn *db, const char *full, json_t **out, char *err, size_t err_size)
{
	const char *p[1] = { full };
	PGresult   *r    = hsi_db_query(db, "alert",
	         "SELECT " ALERT_COLS " FROM alert WHERE fingerprint = $1", 1, p);
	if (r == NULL) {
		return db_fail("read the alert", err, err_size);
	}
	json_t *j = PQntuples(r) == 1 ? alert_row(r, 0) : NULL;
	PQclear(r);
	if (j == NULL) {
		snprintf(
		    err, err_size, "alert %s vanished or out of memory", full);
		return HSI_ENOENT;
	}
	*out = j;
	return 0;
}

static const char sql_ack_lock[]
    = "SELECT state, e::text, extract(epoch FROM e), e > now(),"
      " e <= now() + $4::float8 * interval '1 second', acked_by "
      "FROM alert, (SELECT COALESCE($2::timestamptz,"
      " now() + $3::float8 * interval '1 second') AS e) x "
      "WHERE fingerprint = $1 FOR UPDATE OF alert";

static const char sql_ack_set[]
    = "UPDATE alert SET acked_by = $2, acked_at = now(), ack_comment = $3,"
      " ack_expires = $4::timestamptz WHERE fingerprint = $1";

static const char sql_unack_set[]
    = "UPDATE alert SET acked_by = NULL, acked_at = NULL,"
      " ack_comment = NULL, ack_expires = NULL WHERE fingerprint = $1";

/* The event of an (un)acknowledgement, with the alert's value. */
static const char sql_ack_event[]
    = "INSERT INTO alert_event (fingerprint, state, value, detail) "
      "SELECT fingerprint, $2, value, $3::jsonb FROM alert "
      "WHERE fingerprint = $1";

/*
 * The state and expiry checks of an acknowledgement (lk: the locked
 * alert, sql_ack_lock's row) and its writes.
 */
static int
ack_write(PGconn *db, const char *full, const PGresult *lk, const char *by,
    const char *comment, char *err, size_t err_size)
{
	const char *state = PQgetvalue(lk, 0, 0);
	char        expires[TIME_MAX];
	time_col(lk, 0, 2, expires);
	if (strcmp(state, "firing") != 0 && strcmp(state, "pending") != 0) {
		snprintf(err, err_size,
		    "alert %.12s is %s; only a firing or pending alert can be "
		    "acknowledged",
		    full, state);
		return HSI_ESTATE;
	}
	if (!bool_col(lk, 0, 3) || !bool_col(lk, 0, 4)) {
		char maxs[16];
		format_duration(HSI_ACK_MAX_S, maxs, sizeof(maxs));
		snprintf(err, err_size,
		    "expires: %s is %s; give a time or duration up to %s "
		    "ahead",
		    expires,
		    bool_col(lk, 0, 3) ? "too far ahead" : "not in the future",
		    maxs);
		return HSI_ERANGE;
	}
	json_t *d = json_pack("{s:s, s:s, s:s}", "by", by, "comment", comment,
	    "expires", expires);
	char   *ds
	    = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	if (ds == NULL) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	const char *ps[4] = { full, by, comment, PQgetvalue(lk, 0, 1) };
	const char *pe[3] = { full, "acknowledged", ds };
	int         rv    = hsi_db_exec(db, "ack", sql_ack_set, 4, ps)
	    || hsi_db_exec(db, "ack event", sql_ack_event, 3, pe);
	free(ds);
	return rv ? db_fail("record the acknowledgement", err, err_size) : 0;
}

/* Runs an (un)acknowledgement of alert low (a prefix from fp_prefix) in
 * one transaction; comment NULL means unacknowledge. */
static int
ack_tx(PGconn *db, const char *low, const char *by, const char *comment,
    const char *at, int64_t secs, json_t **out, char *err, size_t err_size)
{
	char        full[65], secs_s[24], max_s[24];
	PGresult   *lk = NULL;
	json_t     *a  = NULL;
	int         rv;
	const char *p[4] = { full, at, secs_s, max_s };
	snprintf(secs_s, sizeof(secs_s), "%lld", (long long) secs);
	snprintf(max_s, sizeof(max_s), "%d", HSI_ACK_MAX_S);
	if (hsi_db_exec(db, "begin", "BEGIN", 0, NULL) != 0) {
		return db_fail("begin a transaction", err, err_size);
	}
	if ((rv = resolve_fp(db, low, full, err, err_size)) != 0) {
		goto out;
	}
	if ((lk = hsi_db_query(db, "lock alert", sql_ack_lock, 4, p)) == NULL
	    || PQntuples(lk) != 1) {
		rv = db_fail("lock the alert", err, err_size);
		goto out;
	}
	if (comment != NULL) {
		rv = ack_write(db, full, lk, by, comment, err, err_size);
	} else if (col(lk, 0, 5) == NULL) {
		snprintf(err, err_size,
		    "alert %.12s is not acknowledged; nothing to undo", full);
		rv = HSI_ESTATE;
	} else {
		json_t     *d     = json_pack("{s:s}", "by", by);
		char       *ds    = d ? json_dumps(d, JSON_COMPACT) : NULL;
		const char *pe[3] = { full, "unacknowledged", ds };
		json_decref(d);
		if (ds == NULL) {
			snprintf(err, err_size, "out of memory");
			rv = HSI_ENOMEM;
		} else if (hsi_db_exec(db, "unack", sql_unack_set, 1, p)
		    || hsi_db_exec(db, "unack event", sql_ack_event, 3, pe)) {
			rv = db_fail(
			    "remove the acknowledgement", err, err_size);
		}
		free(ds);
	}
	if (rv == 0 && out != NULL) {
		rv = fetch_alert(db, full, &a, err, err_size);
	}
out:
	PQclear(lk);
	if (rv == 0 && hsi_db_exec(db, "commit", "COMMIT", 0, NULL) != 0) {
		rv = db_fail("commit", err, err_size);
	}
	if (rv != 0) {
		PQclear(PQexec(db, "ROLLBACK"));
		json_decref(a);
		return rv;
	}
	if (out != NULL) {
		*out = a;
	}
	return 0;
}

int
hsi_alert_ack(PGconn *db, const char *fp, const char *by, const char *comment,
    const char *expires, json_t **out, char *err, size_t err_size)
{
	const char *at;
	char        low[65];
	int64_t     secs;
	int         rv;
	if ((rv = fp_prefix(fp, low, err, err_size))
	    || (rv = check_text("by", by, TEXT_BY_MAX, err, err_size))
	    || (rv = check_text(
	            "comment", comment, TEXT_COMMENT_MAX, err, err_size))
	    || (rv = parse_when("expires", expires, HSI_ACK_DEFAULT_S,
	            HSI_ACK_MAX_S, &at, &secs, err, err_size))) {
		return rv;
	}
	return ack_tx(db, low, by, comment, at, secs, out, err, err_size);
}

int
hsi_alert_unack(PGconn *db, const char *fp, const char *by, json_t **out,
    char *err, size_t err_size)
{
	char low[65];
	int  rv = fp_prefix(fp, low, err, err_size);
	if (rv != 0
	    || (rv = check_text("by", by, TEXT_BY_MAX, err, err_size)) != 0) {
		return rv;
	}
	return ack_tx(db, low, by, NULL, NULL, 0, out, err, err_size);
}

/* ---- listings ----------------------------------------------------------- */

static const char sql_list[]
    = "SELECT " ALERT_COLS " FROM alert "
      "WHERE ($1::text[] IS NULL OR state = ANY($1::text[]))"
      " AND ($2::text IS NULL OR rule = $2) "
      "ORDER BY updated_at DESC, fingerprint LIMIT $3::int";

int
hsi_alert_list(PGconn *db, const hsi_alert_filter *f, json_t **out, char *err,
    size_t err_size)
{
	static const struct {
		const char *name, *states;
	} states[]        = { { "active", "{firing,pending}" },
		       { "firing", "{firing}" }, { "pending", "{pending}" },
		       { "resolved", "{resolved}" }, { "all", NULL } };
	const char *state = f->state ? f->state : "active", *set = NULL;
	size_t      k;
	int         limit = f->limit ? f->limit : 100;
	for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
		if (strcmp(state, states[k].name) == 0) {
			set = states[k].states;
			break;
		}
	}
	if (k == sizeof(states) / sizeof(states[0])) {
		char q[80];
		quote(state, strlen(state), q, sizeof(q));
		snprintf(err, err_size,
		    "state: '%s' is not a state; give firing, pending, "
		    "resolved, "
		    "active (firing and pending) or all",
		    q);
		return HSI_EINVAL;
	}
	if (limit < 1 || limit > HSI_ALERT_LIST_MAX) {
		snprintf(err, err_size, "limit: %d; give 1 to %d", limit,
		    HSI_ALERT_LIST_MAX);
		return HSI_ERANGE;
	}
	/* Matchers are POSIX regexes evaluated here, so with any the limit
	 * applies after them, not in SQL. */
	int  filter = hsi_matchers_count(f->matchers) > 0;
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *p[3] = { set, f->rule, filter ? NULL : lim };
	PGresult   *r    = hsi_db_query(db, "alert list", sql_list, 3, p);
	if (r == NULL) {
		return db_fail("list alerts", err, err_size);
	}
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < PQntuples(r)
	     && json_array_size(a) < (size_t) limit;
	     i++) {
		json_t *row = alert_row(r, i);
		if (row != NULL && filter
		    && !hsi_matchers_match(
		        f->matchers, json_object_get(row, "labels"))) {
			json_decref(row);
			continue;
		}
		if (json_array_append_new(a, row) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	PQclear(r);
	if (a == NULL) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}

/* The last EVENTS_MAX events of an alert, oldest first, and how many it
 * has in all. */
static const char sql_events[]
    = "SELECT seq, state, value, extract(epoch FROM at), detail::text, n "
      "FROM (SELECT *, count(*) OVER () AS n FROM alert_event"
      " WHERE fingerprint = $1 ORDER BY seq DESC LIMIT " EVENTS_MAX ") x "
      "ORDER BY seq";

int
hsi_alert_show(
    PGconn *db, const char *fp, json_t **out, char *err, size_t err_size)
{
	char    low[65], full[65];
	json_t *a;
	int     rv = fp_prefix(fp, low, err, err_size);
	if (rv != 0 || (rv = resolve_fp(db, low, full, err, err_size)) != 0
	    || (rv = fetch_alert(db, full, &a, err, err_size)) != 0) {
		return rv;
	}
	const char *p[1] = { full };
	PGresult   *r    = hsi_db_query(db, "alert events", sql_events, 1, p);
	if (r == NULL) {
		json_decref(a);
		return db_fail("read the alert's events", err, err_size);
	}
	json_t *ev = json_array();
	for (int i = 0; ev != NULL && i < PQntuples(r); i++) {
		char    at[TIME_MAX];
		json_t *row = json_pack("{s:I, s:s, s:o, s:s, s:o}", "seq",
		    (json_int_t) strtoll(PQgetvalue(r, i, 0), NULL, 10),
		    "state", col(r, i, 1), "value", num_col(r, i, 2), "at",
		    time_col(r, i, 3, at), "detail", json_col(r, i, 4));
		if (json_array_append_new(ev, row) != 0) {
			json_decref(ev);
			ev = NULL;
		}
	}
	json_int_t total
	    = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 5), NULL, 10) : 0;
	PQclear(r);
	if (ev == NULL || json_object_set_new(a, "events", ev) != 0
	    || json_object_set_new(a, "events_total", json_integer(total))
	        != 0) {
		json_decref(a);
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}

/* ---- tables ------------------------------------------------------------- */

/* Columns a terminal gives code point c: Thai vowel and tone marks
 * above and below, and other combining marks, take none; East Asian wide
 * characters two. */
static size_t
cp_width(uint32_t c)
{
	if (c == 0x0E31 || (c >= 0x0E34 && c <= 0x0E3A)
	    || (c >= 0x0E47 && c <= 0x0E4E) || (c >= 0x0300 && c <= 0x036F)
	    || (c >= 0x200B && c <= 0x200F) || c == 0xFEFF) {
		return 0;
	}
	if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF)
	    || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF)
	    || (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6)
	    || (c >= 0x1F300 && c <= 0x1F64F)
	    || (c >= 0x20000 && c <= 0x3FFFD)) {
		return 2;
	}
	return 1;
}

/* Display width of s (valid UTF-8, as jansson's strings are). */
static size_t
text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t               w = 0;
	while (*p != '\0') {
		uint32_t c = *p++;
		int more   = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
		c &= more == 3 ? 0x07 : more == 2 ? 0x0F : more ? 0x1F : 0x7F;
		for (; more > 0 && (*p & 0xC0) == 0x80; more--) {
			c = (c << 6) | (*p++ & 0x3F);
		}
		w += cp_width(c);
	}
	return w;
}

typedef struct {
	size_t ncols, nrows, cap;
	char **cell; /* nrows * ncols, the first row the heading */
} table;

/* Adds a row (copied; a missing or empty cell shows "-", control
 * characters become spaces so a row stays one line). 0 or HSI_ENOMEM. */
static int
table_add(table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c   = realloc(t->cell, cap * t->ncols * sizeof(*c));
		if (c == NULL) {
			return HSI_ENOMEM;
		}
		t->cell = c;
		t->cap  = cap;
	}
	for (size_t j = 0; j < t->ncols; j++) {
		char *s = strdup(row[j] && row[j][0] ? row[j] : "-");
		for (char *p = s; p != NULL && *p; p++) {
			*p = (unsigned char) *p < 0x20 ? ' ' : *p;
		}
		t->cell[t->nrows * t->ncols + j] = s;
		if (s == NULL) {
			for (size_t k = 0; k < j; k++) {
				free(t->cell[t->nrows * t->ncols + k]);
			}
			return HSI_ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

/* Prints t, every column but the last padded to its widest cell, unless
 * rv (an error of table_add) is set, and frees it. rv, or 0 or HSI_EIO. */
static int
table_print(FILE *f, table *t, int rv)
{
	size_t w[16] = { 0 };
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t j = 0; j < t->ncols; j++) {
			size_t x = text_width(t->cell[i * t->ncols + j]);
			w[j]     = x > w[j] ? x : w[j];
		}
	}
	for (size_t i = 0; rv == 0 && i < t->nrows; i++) {
		for (size_t j = 0; j < t->ncols; j++) {
			const char *s = t->cell[i * t->ncols + j];
			fputs(s, f);
			if (j + 1 < t->ncols) {
				fprintf(f, "%*s",
				    (int) (w[j] - text_width(s) + 2), "");
			}
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		free(t->cell[i]);
	}
	free(t->cell);
	return rv ? rv : ferror(f) ? HSI_EIO : 0;
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *
summary(const json_t *alert)
{
	const json_t *an = json_object_get(alert, "annotations");
	const char   *th = str(an, "summary_th");
	return th && th[0] ? th : str(an, "summary");
}

static void
number(const json_t *v, char *buf, size_t size)
{
	snprintf(
	    buf, size, json_is_number(v) ? "%.4g" : "-", json_number_value(v));
}

int
hsi_alert_table_print(FILE *f, const json_t *alerts)
{
	/* AREA shows the agency for alerts about an agency (late_data). */
	static const char *const head[] = { "FINGERPRINT", "STATE", "RULE",
		"AREA", "PERIOD", "VALUE", "SINCE", "ACKED BY", "SUMMARY" };
	if (json_array_size(alerts) == 0) {
		fputs("no alerts\n", f);
		return ferror(f) ? HSI_EIO : 0;
	}
	table   t  = { .ncols = 9 };
	int     rv = table_add(&t, head);
	size_t  i;
	json_t *a;
	json_array_foreach(alerts, i, a)
	{
		const json_t *lb = json_object_get(a, "labels");
		char          fp[13], val[32], area[32], period[32];
		snprintf(fp, sizeof(fp), "%s", str(a, "fingerprint"));
		number(json_object_get(a, "value"), val, sizeof(val));
		const char *row[] = { fp, str(a, "state"), str(a, "rule"),
			json_object_get(lb, "area") != NULL
			    ? label_text(lb, "area", area, sizeof(area))
			    : label_text(lb, "agency", area, sizeof(area)),
			label_text(lb, "period", period, sizeof(period)), val,
			str(a, "starts_at"),
			str(json_object_get(a, "acked"), "by"), summary(a) };
		rv                = rv ? rv : table_add(&t, row);
	}
	return table_print(f, &t, rv);
}

int
hsi_silence_table_print(FILE *f, const json_t *silences)
{
	static const char *const head[] = { "ID", "STATUS", "STARTS", "ENDS",
		"BY", "MATCHERS", "COMMENT" };
	if (json_array_size(silences) == 0) {
		fputs("no silences\n", f);
		return ferror(f) ? HSI_EIO : 0;
	}
	table   t  = { .ncols = 7 };
	int     rv = table_add(&t, head);
	size_t  i;
	json_t *s;
	json_array_foreach(silences, i, s)
	{
		char          id[24], ms[512] = "?";
		hsi_matchers *m;
		char          why[256];
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(s, "id")));
		if (hsi_matchers_from_json(
		        json_object_get(s, "matchers"), &m, why, sizeof(why))
		    == 0) {
			hsi_matchers_format(m, ms, sizeof(ms));
			hsi_matchers_free(m);
		}
		const char *row[] = { id, str(s, "status"),
			str(s, "starts_at"), str(s, "ends_at"),
			str(s, "created_by"), ms, str(s, "comment") };
		rv                = rv ? rv : table_add(&t, row);
	}
	return table_print(f, &t, rv);
}

int
hsi_alert_show_print(FILE *f, const json_t *a)
{
	const json_t *an  = json_object_get(a, "annotations");
	const json_t *ack = json_object_get(a, "acked");
	const char   *key;
	const json_t *v;
	char          val[32], thr[32];
	number(json_object_get(a, "value"), val, sizeof(val));
	number(json_object_get(a, "threshold"), thr, sizeof(thr));
	fprintf(f,
	    "fingerprint  %s\nrule         %s (%s)\nstate        %s since "
	    "%s%s%s\nvalue        %s (threshold %s)\nupdated      %s\n",
	    str(a, "fingerprint"), str(a, "rule"), str(a, "kind"),
	    str(a, "state"), str(a, "starts_at"),
	    str(a, "ends_at") ? ", ended " : "",
	    str(a, "ends_at") ? str(a, "ends_at") : "", val, thr,
	    str(a, "updated_at"));
	fputs("labels      ", f);
	json_object_foreach((json_t *) json_object_get(a, "labels"), key, v)
	{
		char buf[32];
		fprintf(f, " %s=%s", key,
		    label_text(
		        json_object_get(a, "labels"), key, buf, sizeof(buf)));
	}
	fprintf(f, "\nsummary      %s\nsummary_en   %s\n",
	    str(an, "summary_th") ? str(an, "summary_th") : "-",
	    str(an, "summary") ? str(an, "summary") : "-");
	if (json_is_object(ack)) {
		fprintf(f, "acked        by %s at %s until %s: %s\n",
		    str(ack, "by"), str(ack, "at"), str(ack, "expires"),
		    str(ack, "comment"));
	} else {
		fputs("acked        no\n", f);
	}
	fprintf(f, "events       %" JSON_INTEGER_FORMAT "\n\n",
	    json_integer_value(json_object_get(a, "events_total")));
	static const char *const head[]
	    = { "SEQ", "AT", "EVENT", "VALUE", "DETAIL" };
	table   t  = { .ncols = 5 };
	int     rv = table_add(&t, head);
	size_t  i;
	json_t *e;
	json_array_foreach(json_object_get(a, "events"), i, e)
	{
		char  seq[24], ev[32];
		char *d = json_dumps(json_object_get(e, "detail"),
		    JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(seq, sizeof(seq), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(e, "seq")));
		number(json_object_get(e, "value"), ev, sizeof(ev));
		const char *row[]
		    = { seq, str(e, "at"), str(e, "state"), ev, d };
		rv = rv ? rv : table_add(&t, row);
		free(d);
	}
	return table_print(f, &t, rv);
}
