/*
 * config.c: table-driven configuration (see config.h). Values from every
 * source go through one setter, so a bad value is reported the same way
 * whether it came from the file, the environment or the command line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static void *
field(void *cfg, const hsi_cfg_opt *o)
{
	return (char *) cfg + o->offset;
}

static int
set_text(const hsi_cfg_opt *o, void *cfg, const char *val, const char *src,
    char *err, size_t err_size)
{
	char *end;
	switch (o->type) {
	case HSI_CFG_STR: {
		char **p = field(cfg, o);
		char  *s = strdup(val);
		if (s == NULL) {
			return HSI_ENOMEM;
		}
		free(*p);
		*p = s;
		return 0;
	}
	case HSI_CFG_INT: {
		errno  = 0;
		long v = strtol(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0') {
			snprintf(err, err_size,
			    "%s: %s: '%s' is not a whole number", src, o->key,
			    val);
			return HSI_EINVAL;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, err_size,
			    "%s: %s: %ld is outside %ld..%ld", src, o->key, v,
			    o->min, o->max);
			return HSI_ERANGE;
		}
		*(long *) field(cfg, o) = v;
		return 0;
	}
	case HSI_CFG_BOOL:
		if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0) {
			*(int *) field(cfg, o) = 1;
		} else if (strcmp(val, "false") == 0
		    || strcmp(val, "0") == 0) {
			*(int *) field(cfg, o) = 0;
		} else {
			snprintf(err, err_size,
			    "%s: %s: '%s' is not true/false", src, o->key,
			    val);
			return HSI_EINVAL;
		}
		return 0;
	case HSI_CFG_DBL: {
		errno    = 0;
		double v = strtod(val, &end);
		if (errno != 0 || end == val || *end != '\0') {
			snprintf(err, err_size, "%s: %s: '%s' is not a number",
			    src, o->key, val);
			return HSI_EINVAL;
		}
		*(double *) field(cfg, o) = v;
		return 0;
	}
	}
	return HSI_EINVAL;
}

static int
set_json(const hsi_cfg_opt *o, void *cfg, json_t *v, const char *path,
    char *err, size_t err_size)
{
	char buf[64];
	switch (o->type) {
	case HSI_CFG_STR:
		if (!json_is_string(v)) {
			snprintf(err, err_size,
			    "%s: key '%s' must be a string", path, o->key);
			return HSI_EINVAL;
		}
		return set_text(
		    o, cfg, json_string_value(v), path, err, err_size);
	case HSI_CFG_INT:
		if (!json_is_integer(v)) {
			snprintf(err, err_size,
			    "%s: key '%s' must be a whole number", path,
			    o->key);
			return HSI_EINVAL;
		}
		snprintf(buf, sizeof(buf), "%lld",
		    (long long) json_integer_value(v));
		return set_text(o, cfg, buf, path, err, err_size);
	case HSI_CFG_BOOL:
		if (!json_is_boolean(v)) {
			snprintf(err, err_size,
			    "%s: key '%s' must be true or false", path,
			    o->key);
			return HSI_EINVAL;
		}
		*(int *) field(cfg, o) = json_is_true(v);
		return 0;
	case HSI_CFG_DBL:
		if (!json_is_number(v)) {
			snprintf(err, err_size,
			    "%s: key '%s' must be a number", path, o->key);
			return HSI_EINVAL;
		}
		*(double *) field(cfg, o) = json_number_value(v);
		return 0;
	}
	return HSI_EINVAL;
}

static const hsi_cfg_opt *
find_opt(const hsi_cfg_opt *opts, const char *key, size_t len)
{
	for (const hsi_cfg_opt *o = opts; o->key != NULL; o++) {
		if (strlen(o->key) != len) {
			continue;
		}
		/* "--db-url" and "--db_url" both name db_url. */
		size_t i;
		for (i = 0; i < len; i++) {
			char c = key[i] == '-' ? '_' : key[i];
			if (c != o->key[i]) {
				break;
			}
		}
		if (i == len) {
			return o;
		}
	}
	return NULL;
}

static int
load_file(const hsi_cfg_opt *opts, void *cfg, const char *path, char *err,
    size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_size, "%s: cannot open config file: %s",
		    path, strerror(errno));
		return HSI_EIO;
	}
	char  *buf = malloc(HSI_CONFIG_MAX_BYTES + 1);
	size_t n   = buf ? fread(buf, 1, HSI_CONFIG_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (buf == NULL) {
		return HSI_ENOMEM;
	}
	if (n > HSI_CONFIG_MAX_BYTES) {
		free(buf);
		snprintf(err, err_size,
		    "%s: config file is over %d bytes; it should be a few "
		    "hundred",
		    path, HSI_CONFIG_MAX_BYTES);
		return HSI_ETOOBIG;
	}
	json_error_t jerr;
	json_t      *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (root == NULL) {
		snprintf(err, err_size, "%s:%d:%d: invalid JSON: %s", path,
		    jerr.line, jerr.column, jerr.text);
		return HSI_EINVAL;
	}
	int rv = 0;
	if (!json_is_object(root)) {
		snprintf(err, err_size, "%s: the config must be a JSON object",
		    path);
		rv = HSI_EINVAL;
	}
	const char *key;
	json_t     *val;
	json_object_foreach(root, key, val)
	{
		if (rv != 0) {
			break;
		}
		const hsi_cfg_opt *o = find_opt(opts, key, strlen(key));
		if (o == NULL) {
			snprintf(err, err_size,
			    "%s: unknown key '%s' (see --help for the keys)",
			    path, key);
			rv = HSI_EINVAL;
			break;
		}
		rv = set_json(o, cfg, val, path, err, err_size);
	}
	json_decref(root);
	return rv;
}

int
hsi_config_load(const hsi_cfg_opt *opts, void *cfg, const char *path, int argc,
    char **argv, char *err, size_t err_size)
{
	int rv;
	for (const hsi_cfg_opt *o = opts; o->key != NULL; o++) {
		if (o->def != NULL
		    && (rv = set_text(
		            o, cfg, o->def, "default", err, err_size))
		        != 0) {
			return rv;
		}
	}
	if (path != NULL && (rv = load_file(opts, cfg, path, err, err_size))) {
		return rv;
	}
	for (const hsi_cfg_opt *o = opts; o->key != NULL; o++) {
		char   env[96] = "HSI_";
		size_t k       = 4;
		for (const char *p = o->key; *p && k + 1 < sizeof(env); p++) {
			env[k++] = (char) toupper((unsigned char) *p);
		}
		env[k]          = '\0';
		const char *val = getenv(env);
		if (val != NULL
		    && (rv = set_text(o, cfg, val, env, err, err_size)) != 0) {
			return rv;
		}
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, err_size,
			    "unexpected argument '%s' (options are --key "
			    "value; see --help)",
			    a);
			return HSI_EINVAL;
		}
		const char *eq  = strchr(a + 2, '=');
		size_t      len = eq ? (size_t) (eq - a - 2) : strlen(a + 2);
		const hsi_cfg_opt *o = find_opt(opts, a + 2, len);
		if (o == NULL) {
			snprintf(err, err_size,
			    "unknown option '%s' (see --help)", a);
			return HSI_EINVAL;
		}
		const char *val
		    = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (val == NULL) {
			snprintf(
			    err, err_size, "option '%s' needs a value", a);
			return HSI_EINVAL;
		}
		if ((rv = set_text(o, cfg, val, "command line", err, err_size))
		    != 0) {
			return rv;
		}
	}
	return 0;
}

void
hsi_config_fini(const hsi_cfg_opt *opts, void *cfg)
{
	for (const hsi_cfg_opt *o = opts; o->key != NULL; o++) {
		if (o->type == HSI_CFG_STR) {
			char **p = field(cfg, o);
			free(*p);
			*p = NULL;
		}
	}
}

void
hsi_config_help(
    FILE *f, const char *prog, const char *summary, const hsi_cfg_opt *opts)
{
	fprintf(f, "usage: %s [--config FILE] [--KEY VALUE]...\n\n%s\n\n",
	    prog, summary);
	fprintf(f, "Options (JSON key / environment variable / default):\n");
	for (const hsi_cfg_opt *o = opts; o->key != NULL; o++) {
		char   env[96] = "HSI_";
		size_t k       = 4;
		for (const char *p = o->key; *p && k + 1 < sizeof(env); p++) {
			env[k++] = (char) toupper((unsigned char) *p);
		}
		env[k] = '\0';
		fprintf(f, "  --%-20s %s\n  %-22s env %s, default %s\n",
		    o->key, o->help, "", env, o->def ? o->def : "(none)");
	}
	fprintf(f,
	    "\nPrecedence: defaults < --config file < environment < "
	    "options.\n");
}

int
hsi_config_main(const hsi_cfg_opt *opts, void *cfg, const char *prog,
    const char *summary, int argc, char **argv)
{
	const char *path  = NULL;
	char      **rest  = calloc((size_t) argc + 1, sizeof(char *));
	int         nrest = 0;
	if (rest == NULL) {
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0
		    || strcmp(argv[i], "-h") == 0) {
			hsi_config_help(stdout, prog, summary, opts);
			free(rest);
			return 1;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else {
			rest[nrest++] = argv[i];
		}
	}
	char err[512];
	int  rv
	    = hsi_config_load(opts, cfg, path, nrest, rest, err, sizeof(err));
	free(rest);
	if (rv != 0) {
		fprintf(stderr, "%s: configuration error: %s\n", prog, err);
		return -1;
	}
	return 0;
}
