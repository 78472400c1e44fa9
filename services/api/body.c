/*
 * body.c: request bodies (see body.h).
 *
 * The nesting check runs over the raw bytes before jansson does, because
 * jansson recurses once per level up to its own limit of 2048: a body of
 * a million '[' must cost one pass, not a deep stack. Buffers grow by
 * doubling but never past max_bytes, which the caller chose.
 */
#include "body.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "text.h"

void
hsi_body_init(hsi_body *b, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->max_bytes = max_bytes;
}

int
hsi_body_append(hsi_body *b, const char *data, size_t n)
{
	if (b->over_bytes > 0 || n > b->max_bytes - b->len) {
		size_t room = b->over_bytes > 0 ? 0 : b->max_bytes - b->len;
		b->over_bytes += n - room;
		n = room; /* keep what fits: nobody reads it, but len says */
		if (n == 0) {
			return HSI_ETOOBIG;
		}
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		if (cap > b->max_bytes + 1) {
			cap = b->max_bytes + 1;
		}
		char *d = realloc(b->data, cap);
		if (d == NULL) {
			return HSI_ENOMEM;
		}
		b->data = d;
		b->cap  = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return b->over_bytes > 0 ? HSI_ETOOBIG : 0;
}

void
hsi_body_fini(hsi_body *b)
{
	if (b != NULL) {
		free(b->data);
		b->data = NULL;
		b->len = b->cap = 0;
	}
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(hsi_body_err *err, const char *slug, const char *field, const char *fmt,
    ...)
{
	va_list ap;
	err->slug = slug;
	snprintf(err->field, sizeof(err->field), "%s", field);
	hsi_text_trim(err->field);
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	hsi_text_trim(err->detail);
	return HSI_EINVAL;
}

/* Refuses nesting deeper than max: one pass, strings skipped. */
static int
check_depth(const char *s, size_t len, int max, hsi_body_err *err)
{
	int depth = 0, in_str = 0, line = 1, col = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		col++;
		if (ch == '\n') {
			line++;
			col = 0;
		} else if (in_str) {
			if (ch == '\\') {
				i++, col++;
			} else if (ch == '"') {
				in_str = 0;
			}
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > max) {
				err->line   = line;
				err->column = col;
				return fail(err, "too-deep", "",
				    "the body nests arrays and objects deeper "
				    "than %d levels (line %d, column %d): "
				    "flatten it",
				    max, line, col);
			}
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 0;
}

int
hsi_body_json(const char *data, size_t len, int max_depth, json_t **out,
    hsi_body_err *err)
{
	json_error_t jerr;
	memset(err, 0, sizeof(*err));
	if (check_depth(
	        data, len, max_depth > 0 ? max_depth : HSI_BODY_MAX_DEPTH, err)
	    != 0) {
		return HSI_EINVAL;
	}
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		char text[HSI_SHOWN_MAX + 4];
		hsi_text_shown(
		    text, sizeof(text), jerr.text, strlen(jerr.text));
		err->line   = jerr.line > 0 ? jerr.line : 1;
		err->column = jerr.column > 0 ? jerr.column : 1;
		return fail(err, "invalid-json", "",
		    "the body is not valid JSON at line %d, column %d: %s; "
		    "send one JSON object (UTF-8)",
		    err->line, err->column, text);
	}
	*out = j;
	return 0;
}

static const char *
type_name(hsi_jtype t)
{
	static const char *const names[]
	    = { "any value", "a string", "a whole number", "a number",
		      "true or false", "an object", "an array" };
	return names[t];
}

static int
type_ok(const json_t *v, hsi_jtype t)
{
	switch (t) {
	case HSI_JT_ANY:
		return 1;
	case HSI_JT_STRING:
		return json_is_string(v);
	case HSI_JT_INTEGER:
		return json_is_integer(v);
	case HSI_JT_NUMBER:
		return json_is_number(v);
	case HSI_JT_BOOL:
		return json_is_boolean(v);
	case HSI_JT_OBJECT:
		return json_is_object(v);
	case HSI_JT_ARRAY:
		return json_is_array(v);
	}
	return 0;
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "a whole number";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* path + "/" + name (escaped per RFC 6901) into out. */
static void
pointer(char *out, size_t size, const char *path, const char *name)
{
	char   shown[HSI_SHOWN_MAX + 4];
	size_t n = (size_t) snprintf(out, size, "%s/", path);
	hsi_text_shown(shown, sizeof(shown), name, strlen(name));
	for (const char *p = shown; *p && n + 3 < size; p++) {
		if (*p == '~' || *p == '/') {
			out[n++] = '~';
			out[n++] = *p == '~' ? '0' : '1';
		} else {
			out[n++] = *p;
		}
	}
	out[n < size ? n : size - 1] = '\0';
	hsi_text_trim(out);
}

static int check_object(const json_t *obj, const hsi_jfield *fields,
    const char *path, hsi_body_err *err);

static int
check_value(const json_t *v, const hsi_jfield *f, hsi_jtype t,
    const char *path, hsi_body_err *err)
{
	if (json_is_null(v) && (f->flags & HSI_JF_NULLABLE)) {
		return 0;
	}
	if (!type_ok(v, t)) {
		return fail(err, "wrong-type", path,
		    "field '%s' is %s: send %s%s", path, json_kind(v),
		    type_name(t),
		    (f->flags & HSI_JF_NULLABLE) ? " or null" : "");
	}
	if (t == HSI_JT_STRING && f->max && json_string_length(v) > f->max) {
		return fail(err, "too-long", path,
		    "field '%s' is longer than %zu bytes: shorten it", path,
		    f->max);
	}
	if (t == HSI_JT_OBJECT && f->fields != NULL) {
		return check_object(v, f->fields, path, err);
	}
	if (t != HSI_JT_ARRAY) {
		return 0;
	}
	if (f->max && json_array_size(v) > f->max) {
		return fail(err, "too-long", path,
		    "array '%s' has more than %zu items: send at most %zu "
		    "(split it into several requests)",
		    path, f->max, f->max);
	}
	size_t  i;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		char at[HSI_BODY_POINTER_MAX], idx[24];
		snprintf(idx, sizeof(idx), "%zu", i);
		pointer(at, sizeof(at), path, idx);
		int rv = check_value(item, f, f->item, at, err);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

static void
list_fields(const hsi_jfield *fields, char *out, size_t size)
{
	size_t n = 0;
	out[0]   = '\0';
	for (const hsi_jfield *f = fields; f->name != NULL; f++) {
		int w = snprintf(out + n, size - n, "%s%s%s", n ? ", " : "",
		    f->name,
		    (f->flags & HSI_JF_REQUIRED) ? " (required)" : "");
		if (w < 0 || (size_t) w >= size - n) {
			break;
		}
		n += (size_t) w;
	}
}

static const hsi_jfield *
find_field(const hsi_jfield *fields, const char *name)
{
	for (const hsi_jfield *f = fields; f->name != NULL; f++) {
		if (strcmp(f->name, name) == 0) {
			return f;
		}
	}
	return NULL;
}

static int
check_object(const json_t *obj, const hsi_jfield *fields, const char *path,
    hsi_body_err *err)
{
	const char *key;
	json_t     *v;
	char        at[HSI_BODY_POINTER_MAX], takes[300];
	if (!json_is_object(obj)) {
		return fail(err, "wrong-type", path,
		    "'%s' is %s: send an object", *path ? path : "the body",
		    json_kind(obj));
	}
	json_object_foreach((json_t *) obj, key, v)
	{
		const hsi_jfield *f = find_field(fields, key);
		pointer(at, sizeof(at), path, key);
		if (f == NULL) {
			list_fields(fields, takes, sizeof(takes));
			return fail(err, "unknown-field", at,
			    "unknown field '%s': remove it; this object "
			    "takes %s",
			    at, takes[0] ? takes : "no fields");
		}
		int rv = check_value(v, f, f->type, at, err);
		if (rv != 0) {
			return rv;
		}
	}
	for (const hsi_jfield *f = fields; f->name != NULL; f++) {
		if ((f->flags & HSI_JF_REQUIRED)
		    && json_object_get(obj, f->name) == NULL) {
			pointer(at, sizeof(at), path, f->name);
			return fail(err, "missing-field", at,
			    "field '%s' is required: add it (%s)", at,
			    type_name(f->type));
		}
	}
	return 0;
}

int
hsi_body_check(const json_t *root, const hsi_jfield *fields, hsi_body_err *err)
{
	memset(err, 0, sizeof(*err));
	return check_object(root, fields, "", err);
}

/* ---- streaming: one array item at a time ------------------------------ */

/* Line and column of byte off, counted as jansson counts them (columns in
 * characters: UTF-8 continuation bytes do not count). */
static void
where(const char *s, size_t off, int *line, int *col)
{
	*line = 1;
	*col  = 0;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 0;
		} else if (((unsigned char) s[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static size_t
skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len
	    && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
		i++;
	}
	return i;
}

/* The end of the token that starts at byte off, as jansson's lexer reads
 * it: a string to its closing quote, a number or a word (true, nul...) to
 * its last character, anything else one byte. */
static size_t
token_end(const char *s, size_t len, size_t off)
{
	size_t i = off + 1;
	if (s[off] == '"') {
		while (i < len && s[i] != '"') {
			i += s[i] == '\\' ? 2 : 1;
		}
		return i < len ? i + 1 : len;
	}
	if (strchr("-0123456789", s[off]) != NULL) {
		while (i < len && strchr("0123456789.eE+-", s[i]) != NULL) {
			i++;
		}
	} else if ((s[off] >= 'a' && s[off] <= 'z')
	    || (s[off] >= 'A' && s[off] <= 'Z')) {
		while (i < len
		    && ((s[i] >= 'a' && s[i] <= 'z')
		        || (s[i] >= 'A' && s[i] <= 'Z'))) {
			i++;
		}
	}
	return i;
}

/* invalid-json for the token at byte off, with jansson's wording and its
 * position (the line and column where the token ends). */
static int
syntax(
    hsi_body_err *err, const char *s, size_t len, size_t off, const char *what)
{
	char   near[HSI_SHOWN_MAX + 4];
	size_t end = off < len ? token_end(s, len, off) : len;
	where(s, end, &err->line, &err->column);
	if (err->column == 0) {
		err->column = 1;
	}
	if (off < len) {
		hsi_text_shown(near, sizeof(near), s + off, end - off);
		return fail(err, "invalid-json", "",
		    "the body is not valid JSON at line %d, column %d: %s "
		    "near '%s'; send one JSON object (UTF-8)",
		    err->line, err->column, what, near);
	}
	return fail(err, "invalid-json", "",
	    "the body is not valid JSON at line %d, column %d: %s near end "
	    "of file; send one JSON object (UTF-8)",
	    err->line, err->column, what);
}

/* One JSON value starting at byte *i, parsed alone; *i moves past it. */
static int
one_value(
    const char *s, size_t len, size_t *i, json_t **out, hsi_body_err *err)
{
	json_error_t e;
	json_t      *v = json_loadb(s + *i, len - *i,
	         JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	         &e);
	if (v == NULL) {
		char text[HSI_SHOWN_MAX + 4];
		if (json_error_code(&e) == json_error_out_of_memory) {
			return HSI_ENOMEM;
		}
		hsi_text_shown(text, sizeof(text), e.text, strlen(e.text));
		where(s, *i + (size_t) (e.position > 0 ? e.position : 0),
		    &err->line, &err->column);
		if (err->column == 0) {
			err->column = 1;
		}
		return fail(err, "invalid-json", "",
		    "the body is not valid JSON at line %d, column %d: %s; "
		    "send one JSON object (UTF-8)",
		    err->line, err->column, text);
	}
	*i += (size_t) e.position;
	*out = v;
	return 0;
}

/* The items of the streamed array f at byte *i (just past its '['). */
static int
stream_items(const char *s, size_t len, size_t *i, const hsi_jfield *f,
    const char *path, hsi_body_item_fn fn, void *arg, hsi_body_err *err)
{
	size_t n = 0;
	*i       = skip_ws(s, len, *i);
	if (*i < len && s[*i] == ']') {
		(*i)++;
		return 0;
	}
	for (;;) {
		char    at[HSI_BODY_POINTER_MAX], idx[24];
		json_t *item;
		int     rv;
		if (f->max && n == f->max) {
			return fail(err, "too-long", path,
			    "array '%s' has more than %zu items: send at most "
			    "%zu (split it into several requests)",
			    path, f->max, f->max);
		}
		snprintf(idx, sizeof(idx), "%zu", n);
		pointer(at, sizeof(at), path, idx);
		if ((rv = one_value(s, len, i, &item, err)) != 0) {
			return rv;
		}
		rv = check_value(item, f, f->item, at, err);
		if (rv == 0) {
			rv = fn(arg, item, n, at);
		}
		json_decref(item);
		if (rv != 0) {
			return rv;
		}
		n++;
		*i = skip_ws(s, len, *i);
		if (*i < len && s[*i] == ']') {
			(*i)++;
			return 0;
		}
		if (*i >= len || s[*i] != ',') {
			return syntax(err, s, len, *i, "']' expected");
		}
		*i = skip_ws(s, len, *i + 1);
		if (*i >= len) {
			return syntax(err, s, len, *i, "']' expected");
		}
	}
}

int
hsi_body_json_stream(const char *data, size_t len, int max_depth,
    const hsi_jfield *fields, hsi_body_item_fn fn, void *arg,
    hsi_body_err *err)
{
	memset(err, 0, sizeof(*err));
	if (check_depth(
	        data, len, max_depth > 0 ? max_depth : HSI_BODY_MAX_DEPTH, err)
	    != 0) {
		return HSI_EINVAL;
	}
	size_t  i = skip_ws(data, len, 0);
	json_t *v;
	int     rv;
	if (i >= len || data[i] != '{') {
		/* Not an object: whatever it is, say so as the whole-body
		 * parser does (a syntax error, or the wrong type). */
		if ((rv = hsi_body_json(data, len, max_depth, &v, err)) != 0) {
			return rv;
		}
		rv = hsi_body_check(v, fields, err);
		json_decref(v);
		return rv != 0 ? rv
		               : syntax(err, data, len, i, "'{' expected");
	}
	/* Members seen, for duplicates and required ones (at most 32). */
	const hsi_jfield *seen[32];
	size_t            n_seen = 0;
	i                        = skip_ws(data, len, i + 1);
	if (i < len && data[i] == '}') {
		i++;
	} else {
		for (;;) {
			char    at[HSI_BODY_POINTER_MAX], takes[300];
			json_t *key;
			if (i >= len || data[i] != '"') {
				return syntax(err, data, len, i,
				    "string or '}' expected");
			}
			size_t key_at = i;
			if ((rv = one_value(data, len, &i, &key, err)) != 0) {
				return rv;
			}
			const hsi_jfield *f
			    = find_field(fields, json_string_value(key));
			pointer(at, sizeof(at), "", json_string_value(key));
			json_decref(key);
			if (f == NULL) {
				list_fields(fields, takes, sizeof(takes));
				return fail(err, "unknown-field", at,
				    "unknown field '%s': remove it; this "
				    "object takes %s",
				    at, takes[0] ? takes : "no fields");
			}
			for (size_t k = 0; k < n_seen; k++) {
				if (seen[k] == f) {
					return syntax(err, data, len, key_at,
					    "duplicate object key");
				}
			}
			if (n_seen < sizeof(seen) / sizeof(seen[0])) {
				seen[n_seen++] = f;
			}
			i = skip_ws(data, len, i);
			if (i >= len || data[i] != ':') {
				return syntax(
				    err, data, len, i, "':' expected");
			}
			i = skip_ws(data, len, i + 1);
			if ((f->flags & HSI_JF_STREAM)
			    && f->type == HSI_JT_ARRAY && i < len
			    && data[i] == '[') {
				i++;
				rv = stream_items(
				    data, len, &i, f, at, fn, arg, err);
			} else if ((rv = one_value(data, len, &i, &v, err))
			    == 0) {
				rv = check_value(v, f, f->type, at, err);
				json_decref(v);
			}
			if (rv != 0) {
				return rv;
			}
			i = skip_ws(data, len, i);
			if (i < len && data[i] == '}') {
				i++;
				break;
			}
			if (i >= len || data[i] != ',') {
				return syntax(
				    err, data, len, i, "'}' expected");
			}
			i = skip_ws(data, len, i + 1);
		}
	}
	i = skip_ws(data, len, i);
	if (i < len) {
		return syntax(err, data, len, i, "end of file expected");
	}
	for (const hsi_jfield *f = fields; f->name != NULL; f++) {
		int present = 0;
		for (size_t k = 0; k < n_seen; k++) {
			present |= seen[k] == f;
		}
		if ((f->flags & HSI_JF_REQUIRED) && !present) {
			char at[HSI_BODY_POINTER_MAX];
			pointer(at, sizeof(at), "", f->name);
			return fail(err, "missing-field", at,
			    "field '%s' is required: add it (%s)", at,
			    type_name(f->type));
		}
	}
	return 0;
}
