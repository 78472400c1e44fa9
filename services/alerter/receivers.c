/*
 * receivers.c: validating the "receivers" of the rules file (receivers.h).
 *
 * Same spirit as rules.c: a receiver silently misread (a misspelt
 * "secret_file", a URL with a stray space) would lose notifications
 * without anyone noticing, so anything unexpected refuses the file.
 */
#include "receivers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const type_names[] = { "webhook", "alertmanager" };
static const char *const keys[]       = { "name", "type", "url", "secret_file",
	      "timeout_ms", "repush_seconds", NULL };

const char *
hsi_receiver_type_name(hsi_receiver_type type)
{
	return (unsigned) type < 2 ? type_names[type] : "?";
}

static int
known_key(const char *key)
{
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (strcmp(key, keys[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/* The name goes into notification ids and HTTP headers: plain ASCII. */
static int
plain_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= HSI_RECEIVER_NAME_MAX) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		        || c == '_' || c == '-')) {
			return 0;
		}
	}
	return 1;
}

static int
plain_url(const char *s)
{
	size_t n = strlen(s);
	if (n >= HSI_RECEIVER_URL_MAX
	    || (strncmp(s, "http://", 7) != 0
	        && strncmp(s, "https://", 8) != 0)) {
		return 0;
	}
	size_t host = strncmp(s, "http://", 7) == 0 ? 7 : 8;
	if (n == host) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c <= 0x20 || c >= 0x7f) {
			return 0;
		}
	}
	return 1;
}

static int
get_string(json_t *r, const char *key, int required, const char **out,
    const char *where, char *err, size_t err_size)
{
	json_t *v = json_object_get(r, key);
	*out      = NULL;
	if (v == NULL) {
		if (required) {
			snprintf(err, err_size, "%s: key '%s' is required",
			    where, key);
			return HSI_EINVAL;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, err_size, "%s: key '%s' must be a string", where,
		    key);
		return HSI_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

/* Reads the secret; a trailing newline (from `echo` or an editor) is
 * not part of it. */
static int
read_secret(const char *path, hsi_receiver *out, const char *where, char *err,
    size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_size,
		    "%s: key 'secret_file': cannot open '%.200s': %s", where,
		    path, strerror(errno));
		return HSI_EIO;
	}
	size_t n   = fread(out->secret, 1, sizeof(out->secret), f);
	int    bad = ferror(f);
	int    big = n == sizeof(out->secret) && fgetc(f) != EOF;
	fclose(f);
	while (n > 0
	    && (out->secret[n - 1] == '\n' || out->secret[n - 1] == '\r')) {
		n--;
	}
	if (bad || big || n == 0) {
		snprintf(err, err_size, "%s: key 'secret_file': '%.200s' %s",
		    where, path,
		    bad       ? "cannot be read"
		        : big ? "is over 4096 bytes"
		              : "is empty (the secret must be 1-4096 bytes)");
		return big ? HSI_ETOOBIG : bad ? HSI_EIO : HSI_EINVAL;
	}
	out->secret_len = n;
	return 0;
}

static int
parse_timeout(json_t *r, hsi_receiver *out, const char *where, char *err,
    size_t err_size)
{
	json_t *v       = json_object_get(r, "timeout_ms");
	out->timeout_ms = HSI_RECEIVER_TIMEOUT_MS;
	if (v == NULL) {
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 100
	    || json_integer_value(v) > 60000) {
		snprintf(err, err_size,
		    "%s: key 'timeout_ms' must be an integer from 100 to "
		    "60000 (milliseconds)",
		    where);
		return HSI_EINVAL;
	}
	out->timeout_ms = (long) json_integer_value(v);
	return 0;
}

static int
parse_repush(json_t *r, hsi_receiver *out, const char *where, char *err,
    size_t err_size)
{
	json_t *v      = json_object_get(r, "repush_seconds");
	out->repush_ms = HSI_RECEIVER_REPUSH_S * 1000L;
	if (v == NULL) {
		return 0;
	}
	if (out->type != HSI_RECEIVER_ALERTMANAGER) {
		snprintf(err, err_size,
		    "%s: key 'repush_seconds' applies to alertmanager "
		    "receivers only",
		    where);
		return HSI_EINVAL;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 5
	    || json_integer_value(v) > 3600) {
		snprintf(err, err_size,
		    "%s: key 'repush_seconds' must be an integer from 5 to "
		    "3600 (below Alertmanager's resolve_timeout, 300 by "
		    "default)",
		    where);
		return HSI_EINVAL;
	}
	out->repush_ms = (long) json_integer_value(v) * 1000L;
	return 0;
}

static int
parse_one(json_t *r, hsi_receiver *out, const char *where, char *err,
    size_t err_size)
{
	const char *key, *name, *type, *url, *secret;
	json_t     *v;
	int         rv;
	if (!json_is_object(r)) {
		snprintf(err, err_size, "%s: must be a JSON object", where);
		return HSI_EINVAL;
	}
	json_object_foreach(r, key, v)
	{
		if (!known_key(key)) {
			snprintf(err, err_size,
			    "%s: unknown key '%.40s' (allowed: name, type, "
			    "url, secret_file, timeout_ms, repush_seconds)",
			    where, key);
			return HSI_EINVAL;
		}
	}
	if ((rv = get_string(r, "name", 1, &name, where, err, err_size))
	    || (rv = get_string(r, "type", 1, &type, where, err, err_size))
	    || (rv = get_string(r, "url", 1, &url, where, err, err_size))
	    || (rv = get_string(
	            r, "secret_file", 0, &secret, where, err, err_size))
	    || (rv = parse_timeout(r, out, where, err, err_size))) {
		return rv;
	}
	if (!plain_name(name)) {
		snprintf(err, err_size,
		    "%s: key 'name': '%.80s' must be 1-63 characters of "
		    "a-z 0-9 _ -",
		    where, name);
		return HSI_EINVAL;
	}
	if (strcmp(type, "webhook") == 0) {
		out->type = HSI_RECEIVER_WEBHOOK;
	} else if (strcmp(type, "alertmanager") == 0) {
		out->type = HSI_RECEIVER_ALERTMANAGER;
	} else {
		snprintf(err, err_size,
		    "%s: key 'type': '%.40s' is not webhook or alertmanager",
		    where, type);
		return HSI_EINVAL;
	}
	if ((rv = parse_repush(r, out, where, err, err_size)) != 0) {
		return rv;
	}
	if (!plain_url(url)) {
		snprintf(err, err_size,
		    "%s: key 'url': '%.80s' must be an http:// or https:// "
		    "URL of at most 1023 printable ASCII characters",
		    where, url);
		return HSI_EINVAL;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->url, sizeof(out->url), "%s", url);
	if (out->type == HSI_RECEIVER_ALERTMANAGER) {
		if (secret != NULL) {
			snprintf(err, err_size,
			    "%s: key 'secret_file' is for webhooks "
			    "(Alertmanager does not check signatures)",
			    where);
			return HSI_EINVAL;
		}
		return 0;
	}
	if (secret == NULL) {
		snprintf(err, err_size,
		    "%s: key 'secret_file' is required for a webhook (every "
		    "notification is signed)",
		    where);
		return HSI_EINVAL;
	}
	return read_secret(secret, out, where, err, err_size);
}

int
hsi_receivers_parse(json_t *arr, const char *src, hsi_receiver **out,
    size_t *n, char *err, size_t err_size)
{
	if (!json_is_array(arr) || json_array_size(arr) > HSI_RECEIVERS_MAX) {
		snprintf(err, err_size,
		    "%s: key 'receivers' must be an array of at most %d "
		    "receivers",
		    src, HSI_RECEIVERS_MAX);
		return HSI_EINVAL;
	}
	size_t        count = json_array_size(arr);
	hsi_receiver *rs    = NULL;
	if (count > 0 && (rs = calloc(count, sizeof(*rs))) == NULL) {
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		char where[300];
		snprintf(where, sizeof(where), "%s: receiver %zu", src, i);
		int rv = parse_one(
		    json_array_get(arr, i), &rs[i], where, err, err_size);
		for (size_t j = 0; rv == 0 && j < i; j++) {
			if (strcmp(rs[j].name, rs[i].name) == 0) {
				snprintf(err, err_size,
				    "%s: key 'name': '%s' is already used by "
				    "receiver %zu (names must be unique)",
				    where, rs[i].name, j);
				rv = HSI_EINVAL;
			}
		}
		if (rv != 0) {
			free(rs);
			return rv;
		}
	}
	*out = rs;
	*n   = count;
	return 0;
}
