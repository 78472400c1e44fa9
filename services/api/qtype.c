/*
 * qtype.c: the value checks of each query parameter type (see qtype.h).
 *
 * Every refusal quotes the value (cut short and cleaned: it is echoed in
 * JSON) and says what would be accepted, with the parameter's example
 * when it has one. Canonical text is what endpoints pass on to SQL and
 * what cursors and Link headers carry, so "2567" and "2024" are one
 * period and one listing.
 */
#include "qtype.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "text.h"

#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"
#define B64URL UPPER LOWER DIGITS "-_"

typedef struct {
	hsi_query        *q;
	const hsi_qparam *p;
	const char       *s;
	size_t            len;
	hsi_qvalue       *v;
	hsi_query_err    *err;
	int               item; /* 1-based index inside a list, or 0 */
	char              shown[HSI_SHOWN_MAX + 4];
} check;

/* "query parameter 'x'" or "item 3 of query parameter 'x'". */
static const char *
what(const check *c, char *buf, size_t size)
{
	if (c->item > 0) {
		snprintf(buf, size, "item %d of query parameter '%s'", c->item,
		    c->p->name);
	} else {
		snprintf(buf, size, "query parameter '%s'", c->p->name);
	}
	return buf;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
refuse(check *c, const char *fmt, ...)
{
	char    w[HSI_QUERY_NAME_MAX + 48], tail[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	hsi_text_trim(tail);
	hsi_query_fail(c->err, "invalid-parameter", c->p->name,
	    "%s is '%s': %s", what(c, w, sizeof(w)), c->shown, tail);
	return HSI_EINVAL;
}

static int
set_text(check *c, const char *s, size_t len)
{
	char *t = hsi_query_copy(c->q, s, len);
	if (t == NULL) {
		hsi_query_fail(c->err, "query-too-large", c->p->name,
		    "the query's values are too long together: send fewer "
		    "or shorter values");
		return HSI_ETOOBIG;
	}
	c->v->text = t;
	c->v->len  = len;
	return 0;
}

static const char *
example(const check *c, const char *def)
{
	return c->p->example ? c->p->example : def;
}

static int
check_string(check *c)
{
	size_t max = c->p->max_len ? c->p->max_len : HSI_QUERY_STRING_MAX;
	if (c->len > max) {
		return refuse(
		    c, "it is longer than %zu bytes; shorten it", max);
	}
	if (c->p->charset != NULL
	        ? !hsi_text_all_in(c->s, c->len, c->p->charset)
	        : !hsi_text_printable(c->s, c->len)) {
		return refuse(c,
		    "it holds a character that is not allowed here; send "
		    "e.g. %s",
		    example(c, "plain text"));
	}
	return set_text(c, c->s, c->len);
}

/* Digits with an optional leading '-' into *out; 0 or HSI_EINVAL. */
static int
whole_number(const char *s, size_t len, long long *out)
{
	size_t    i   = s[0] == '-' ? 1 : 0;
	long long v   = 0;
	int       neg = i == 1;
	if (len == i || len - i > 19) {
		return HSI_EINVAL;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return HSI_EINVAL;
		}
		int d = s[i] - '0';
		if (v > (LLONG_MAX - d) / 10) {
			return HSI_EINVAL;
		}
		v = v * 10 + d;
	}
	*out = neg ? -v : v;
	return 0;
}

static int
check_int(check *c)
{
	long long v;
	char      buf[24];
	int       bounded = c->p->min != 0 || c->p->max != 0;
	if (whole_number(c->s, c->len, &v) != 0
	    || (bounded && (v < c->p->min || v > c->p->max))) {
		if (bounded) {
			return refuse(c,
			    "send a whole number from %lld to %lld", c->p->min,
			    c->p->max);
		}
		return refuse(
		    c, "send a whole number such as %s", example(c, "1"));
	}
	c->v->i = v;
	snprintf(buf, sizeof(buf), "%lld", v);
	return set_text(c, buf, strlen(buf));
}

static int
check_enum(check *c)
{
	char   list[300];
	size_t n = 0;
	list[0]  = '\0';
	for (int i = 0; c->p->choices && c->p->choices[i]; i++) {
		const char *ch = c->p->choices[i];
		if (strlen(ch) == c->len && memcmp(ch, c->s, c->len) == 0) {
			c->v->i = i;
			return set_text(c, ch, c->len);
		}
		int w = snprintf(
		    list + n, sizeof(list) - n, "%s%s", i ? ", " : "", ch);
		if (w > 0 && (size_t) w < sizeof(list) - n) {
			n += (size_t) w;
		}
	}
	return refuse(c, "send one of %s", list);
}

static int
check_bool(check *c)
{
	static const char *const yes[] = { "true", "1", NULL };
	static const char *const no[]  = { "false", "0", NULL };
	for (int i = 0; yes[i]; i++) {
		if (strlen(yes[i]) == c->len
		    && memcmp(yes[i], c->s, c->len) == 0) {
			c->v->i = 1;
			return set_text(c, "true", 4);
		}
		if (strlen(no[i]) == c->len
		    && memcmp(no[i], c->s, c->len) == 0) {
			c->v->i = 0;
			return set_text(c, "false", 5);
		}
	}
	return refuse(c, "send true or false");
}

static int
one_period(check *c, const char *s, size_t len, hsi_period *p, char *canon)
{
	hsi_period_err perr;
	if (len > 64) {
		return refuse(c, "a period is at most 64 bytes; send e.g. %s",
		    example(c, "2024"));
	}
	if (hsi_period_parse(s, len, p, &perr) != 0) {
		return refuse(c, "%s; send e.g. %s", perr.msg,
		    example(c, "2024 (or 2567, FY2024, 2024Q1, 2024-03)"));
	}
	hsi_period_format(p, canon, HSI_PERIOD_MAX);
	return 0;
}

static int
check_period(check *c)
{
	char canon[HSI_PERIOD_MAX];
	int  rv = one_period(c, c->s, c->len, &c->v->period, canon);
	return rv ? rv : set_text(c, canon, strlen(canon));
}

static const char *
find_dots(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] == '.' && s[i + 1] == '.') {
			return s + i;
		}
	}
	return NULL;
}

static int
range_text(check *c, hsi_qrange *r)
{
	char buf[2 * HSI_PERIOD_MAX + 4];
	snprintf(buf, sizeof(buf), "%s..%s", r->from_text, r->to_text);
	if (r->has_from && r->has_to
	    && strcmp(r->from_text, r->to_text) == 0) {
		snprintf(buf, sizeof(buf), "%s", r->from_text);
	}
	return set_text(c, buf, strlen(buf));
}

static int
check_range(check *c)
{
	hsi_qrange *r    = &c->v->range;
	const char *dots = find_dots(c->s, c->len);
	size_t      a    = dots ? (size_t) (dots - c->s) : c->len;
	const char *b    = dots ? dots + 2 : c->s;
	size_t      bl   = dots ? c->len - a - 2 : c->len;
	long        unused;
	int         rv = 0;
	r->first_day   = LONG_MIN;
	r->last_day    = LONG_MAX;
	if (dots != NULL && a == 0 && bl == 0) {
		return refuse(c,
		    "a range needs at least one end; send "
		    "FROM..TO (e.g. 2020..2024), FROM.. or ..TO");
	}
	if (a > 0 && (rv = one_period(c, c->s, a, &r->from, r->from_text))) {
		return rv;
	}
	if (bl > 0 && (rv = one_period(c, b, bl, &r->to, r->to_text))) {
		return rv;
	}
	r->has_from = a > 0;
	r->has_to   = bl > 0;
	if (r->has_from) {
		hsi_period_range(&r->from, &r->first_day, &unused);
	}
	if (r->has_to) {
		hsi_period_range(&r->to, &unused, &r->last_day);
	}
	if (r->first_day > r->last_day) {
		return refuse(c,
		    "it ends before it starts; send FROM..TO "
		    "with FROM first");
	}
	return range_text(c, r);
}

/* len digits at s into *out; 0 or HSI_EINVAL. */
static int
digits(const char *s, size_t len, int *out)
{
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return HSI_EINVAL;
		}
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	long a = hsi_days_from_civil(y, m, 1);
	long b = m == 12 ? hsi_days_from_civil(y + 1, 1, 1)
	                 : hsi_days_from_civil(y, m + 1, 1);
	return (int) (b - a);
}

/* The offset at s ("Z", "+07:00", " 07:00") in seconds; 0 or EINVAL. */
static int
offset_secs(const char *s, size_t len, long *out)
{
	int h, m;
	if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*out = 0;
		return 0;
	}
	if (len != 6 || (s[0] != '+' && s[0] != '-' && s[0] != ' ')
	    || s[3] != ':' || digits(s + 1, 2, &h) || digits(s + 4, 2, &m)
	    || h > 23 || m > 59) {
		return HSI_EINVAL;
	}
	*out = (s[0] == '-' ? -1 : 1) * (long) (h * 3600 + m * 60);
	return 0;
}

/* Fraction ".123" at s (n bytes before the offset) in microseconds. */
static int
fraction_us(const char *s, size_t n, long *us)
{
	*us = 0;
	if (n == 0) {
		return 0;
	}
	if (s[0] != '.' || n < 2 || n > 10) {
		return HSI_EINVAL;
	}
	for (size_t i = 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return HSI_EINVAL;
		}
		if (i <= 6) {
			*us = *us * 10 + (s[i] - '0');
		}
	}
	for (size_t i = n; i <= 6; i++) {
		*us *= 10;
	}
	return 0;
}

static void
format_utc(long long secs, long us, char *canon)
{
	long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	long      rem  = (long) (secs - days * 86400);
	int       y, mo, d;
	hsi_civil_from_days((long) days, &y, &mo, &d);
	int n = snprintf(canon, HSI_QUERY_TIME_MAX,
	    "%04d-%02d-%02dT%02ld:%02ld:%02ld", y, mo, d, rem / 3600,
	    rem / 60 % 60, rem % 60);
	if (us != 0) {
		n += snprintf(canon + n, (size_t) (HSI_QUERY_TIME_MAX - n),
		    ".%06ld", us);
	}
	snprintf(canon + n, (size_t) (HSI_QUERY_TIME_MAX - n), "Z");
}

/* A bare date: its first (or last) microsecond in Bangkok (UTC+7). */
static int
bare_date(const char *s, int date_end, long long *us, char *canon)
{
	int y, mo, d;
	if (s[4] != '-' || s[7] != '-' || digits(s, 4, &y)
	    || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || y < 1900
	    || y > 2399 || mo < 1 || mo > 12 || d < 1
	    || d > days_in_month(y, mo)) {
		return HSI_EINVAL;
	}
	long long secs = (long long) hsi_days_from_civil(y, mo, d) * 86400
	    - 7 * 3600 + (date_end ? 86399 : 0);
	*us = secs * 1000000 + (date_end ? 999999 : 0);
	format_utc(secs, date_end ? 999999 : 0, canon);
	return 0;
}

int
hsi_qtype_time(
    const char *s, size_t len, int date_end, long long *us, char *canon)
{
	int  y, mo, d, h, mi, sec;
	long off, frac;
	if (len == 10) {
		return bare_date(s, date_end, us, canon);
	}
	if (len < 20 || len > 35 || s[4] != '-' || s[7] != '-'
	    || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':'
	    || s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo)
	    || digits(s + 8, 2, &d) || digits(s + 11, 2, &h)
	    || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec)) {
		return HSI_EINVAL;
	}
	size_t z = 19;
	while (z < len && s[z] != 'Z' && s[z] != 'z' && s[z] != '+'
	    && s[z] != '-' && s[z] != ' ') {
		z++;
	}
	if (z == len || fraction_us(s + 19, z - 19, &frac)
	    || offset_secs(s + z, len - z, &off) || y < 1900 || y > 2399
	    || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23
	    || mi > 59 || sec > 60) {
		return HSI_EINVAL;
	}
	long long secs = (long long) hsi_days_from_civil(y, mo, d) * 86400
	    + h * 3600 + mi * 60 + sec - off;
	*us = secs * 1000000 + frac;
	format_utc(secs, frac, canon);
	return 0;
}

static int
check_time(check *c)
{
	char canon[HSI_QUERY_TIME_MAX];
	if (hsi_qtype_time(c->s, c->len, (c->p->flags & HSI_QP_DATE_END) != 0,
	        &c->v->i, canon)
	    != 0) {
		return refuse(c,
		    "send an RFC 3339 time such as %s (in a URL write + as "
		    "%%2B), or a date (Bangkok)",
		    example(c, "2024-03-15T00:00:00+07:00"));
	}
	return set_text(c, canon, strlen(canon));
}

/* TH, R + 1-3 letters, 2, 4 or 6 digits, or TH- + 2 digits. */
static int
check_area(check *c)
{
	const char *s = c->s;
	size_t      n = c->len;
	if (n == 5 && memcmp(s, "TH-", 3) == 0) {
		s += 3, n -= 3;
	}
	int bare        = s == c->s; /* no "TH-": anything but a province */
	int digits_only = n > 0 && hsi_text_all_in(s, n, DIGITS);
	int ok          = (bare && n == 2 && memcmp(s, "TH", 2) == 0)
	    || (bare && n >= 2 && n <= 4 && s[0] == 'R'
	        && hsi_text_all_in(s + 1, n - 1, UPPER))
	    || (digits_only && (n == 2 || (bare && (n == 4 || n == 6))));
	if (!ok) {
		return refuse(c,
		    "send an area code: TH (the nation), a region "
		    "(RN, RNE, ...), a DOPA code (50, or TH-50; 4 "
		    "or 6 digits below provinces)");
	}
	return set_text(c, s, n);
}

static int
check_code(check *c)
{
	const char *first, *rest, *hint;
	size_t      max;
	switch (c->p->type) {
	case HSI_QT_INDICATOR:
		first = LOWER, rest = LOWER DIGITS "_", max = 32;
		hint = "an indicator code: a lower-case letter, then "
		       "lower-case letters, digits or _ (e.g. hlt_stunting)";
		break;
	default:
		first = UPPER, rest = UPPER DIGITS, max = 16;
		hint = "an agency code: upper-case letters and digits, "
		       "starting with a letter (e.g. DOH)";
		break;
	}
	if (c->len < 2 || c->len > max || !strchr(first, c->s[0])
	    || !hsi_text_all_in(c->s + 1, c->len - 1, rest)) {
		return refuse(c, "send %s", hint);
	}
	return set_text(c, c->s, c->len);
}

static int
check_cursor(check *c)
{
	if (c->len > HSI_QUERY_CURSOR_MAX
	    || !hsi_text_all_in(c->s, c->len, B64URL)) {
		return refuse(c,
		    "a cursor is opaque: send back the "
		    "next_cursor of the previous page unchanged");
	}
	return set_text(c, c->s, c->len);
}

static int check_one(check *c);

static int
add_item(check *c, const char *s, size_t len, int index)
{
	hsi_qvalue iv;
	hsi_qparam ip = *c->p;
	check      ic = *c;
	ip.type       = c->p->item;
	memset(&iv, 0, sizeof(iv));
	ic.p    = &ip;
	ic.s    = s;
	ic.len  = len;
	ic.v    = &iv;
	ic.item = index;
	hsi_text_shown(ic.shown, sizeof(ic.shown), s, len);
	if (len == 0) {
		return refuse(&ic,
		    "list items cannot be empty; separate "
		    "values with single commas");
	}
	int rv = check_one(&ic);
	if (rv != 0) {
		return rv;
	}
	if (c->q->n_item_pool >= HSI_QUERY_ITEMS_MAX) {
		hsi_query_fail(c->err, "query-too-large", c->p->name,
		    "the query's lists hold more than %d items together",
		    HSI_QUERY_ITEMS_MAX);
		return HSI_ETOOBIG;
	}
	c->q->item_pool[c->q->n_item_pool++] = iv.text;
	c->v->n_items++;
	return 0;
}

static int
check_list(check *c)
{
	int max = c->p->max_items ? c->p->max_items : HSI_QUERY_LIST_MAX;
	int n   = 0, rv;
	if (c->p->item == HSI_QT_LIST || c->p->item == HSI_QT_CURSOR
	    || c->p->item == HSI_QT_PERIOD_RANGE) {
		return refuse(c,
		    "this parameter is declared wrongly "
		    "(a bug in the server)");
	}
	c->v->items = &c->q->item_pool[c->q->n_item_pool];
	for (size_t i = 0; c->len > 0 && i <= c->len; n++) {
		size_t e = i;
		while (e < c->len && c->s[e] != ',') {
			e++;
		}
		if (n >= max) {
			return refuse(c,
			    "it has more than %d items; send at "
			    "most %d, separated by commas",
			    max, max);
		}
		if ((rv = add_item(c, c->s + i, e - i, n + 1)) != 0) {
			return rv;
		}
		i = e + 1;
	}
	return set_text(c, c->s, c->len);
}

static int
check_one(check *c)
{
	switch (c->p->type) {
	case HSI_QT_STRING:
		return check_string(c);
	case HSI_QT_INT:
		return check_int(c);
	case HSI_QT_ENUM:
		return check_enum(c);
	case HSI_QT_BOOL:
		return check_bool(c);
	case HSI_QT_PERIOD:
		return check_period(c);
	case HSI_QT_PERIOD_RANGE:
		return check_range(c);
	case HSI_QT_TIME:
		return check_time(c);
	case HSI_QT_AREA:
		return check_area(c);
	case HSI_QT_INDICATOR:
	case HSI_QT_AGENCY:
		return check_code(c);
	case HSI_QT_LIST:
		return check_list(c);
	case HSI_QT_CURSOR:
		return check_cursor(c);
	}
	return refuse(c,
	    "this parameter has an unknown type (a bug in the "
	    "server)");
}

int
hsi_qtype_parse(hsi_query *q, const hsi_qparam *p, const char *s, size_t vlen,
    hsi_qvalue *v, hsi_query_err *err)
{
	check c = { q, p, s, vlen, v, err, 0, "" };
	hsi_text_shown(c.shown, sizeof(c.shown), s, vlen);
	if (memchr(s, '\0', vlen) != NULL) {
		return refuse(&c, "it holds a NUL byte (%%00); remove it");
	}
	if (vlen == 0 && !(p->flags & HSI_QP_EMPTY_OK)) {
		return refuse(&c, "it is empty; send e.g. %s=%s", p->name,
		    example(&c, "..."));
	}
	if (vlen == 0 && p->type == HSI_QT_LIST) {
		return set_text(&c, "", 0);
	}
	return check_one(&c);
}
