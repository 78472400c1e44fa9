/*
 * csvout.c: JSON items to CSV (see csvout.h).
 */
#include "csvout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct {
	char  *data;
	size_t len, cap;
	int    failed; /* HSI_ENOMEM or HSI_ETOOBIG */
} sbuf;

static void
put(sbuf *b, const char *s, size_t n)
{
	if (b->failed) {
		return;
	}
	if (b->len + n + 1 > HSI_CSVOUT_MAX_BYTES) {
		b->failed = HSI_ETOOBIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		char *d = realloc(b->data, cap);
		if (d == NULL) {
			b->failed = HSI_ENOMEM;
			return;
		}
		b->data = d;
		b->cap  = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
put_cell(sbuf *b, const char *s, size_t n)
{
	if (n == 0
	    || (strcspn(s, ",\"\r\n") == n && s[0] != ' '
	        && s[n - 1] != ' ')) {
		put(b, s, n);
		return;
	}
	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		put(b, s[i] == '"' ? "\"\"" : s + i, s[i] == '"' ? 2 : 1);
	}
	put(b, "\"", 1);
}

/* The value at a dotted path ("dimensions.health") of obj, or NULL. */
static const json_t *
lookup(const json_t *obj, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k != NULL;
	     k = strtok_r(NULL, ".", &save)) {
		obj = json_is_object(obj) ? json_object_get(obj, k) : NULL;
	}
	return obj;
}

static void
put_value(sbuf *b, const json_t *v)
{
	char num[40];
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		put_cell(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		put(b, num, strlen(num));
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		put(b, num, strlen(num));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		put(b, json_is_true(v) ? "true" : "false",
		    json_is_true(v) ? 4 : 5);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY: {
		char *s
		    = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
		if (s == NULL) {
			b->failed = HSI_ENOMEM;
			return;
		}
		put_cell(b, s, strlen(s));
		free(s);
		break;
	}
	case JSON_NULL:
		break;
	}
}

int
hsi_csvout_items(
    const json_t *items, const char *const *columns, char **out, size_t *len)
{
	sbuf    b = { NULL, 0, 0, 0 };
	size_t  i;
	json_t *item;
	for (int c = 0; columns[c] != NULL; c++) {
		put(&b, ",", c ? 1 : 0);
		put_cell(&b, columns[c], strlen(columns[c]));
	}
	put(&b, "\r\n", 2);
	json_array_foreach(items, i, item)
	{
		for (int c = 0; columns[c] != NULL; c++) {
			put(&b, ",", c ? 1 : 0);
			put_value(&b, lookup(item, columns[c]));
		}
		put(&b, "\r\n", 2);
	}
	if (b.failed) {
		free(b.data);
		return b.failed;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}
