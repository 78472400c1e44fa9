/*
 * config_test.c: hsi_config_load over a table with one option of each type:
 * defaults, the JSON file, HSI_<KEY> environment variables and "--key value"
 * / "--key=value" / "--key-with-dashes" options, in that order of
 * precedence; and every refusal with the message a person needs (file,
 * line:column, key or variable, value).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

typedef struct {
	char  *name;
	long   port;
	int    verbose;
	double ratio;
	char  *db_url;
	char  *unset; /* no default: stays NULL */
} tcfg;

static const hsi_cfg_opt opts[] = {
	{ "tst_name", HSI_CFG_STR, offsetof(tcfg, name), "node-a", "name", 0,
	    0 },
	{ "tst_port", HSI_CFG_INT, offsetof(tcfg, port), "8080", "port", 1,
	    65535 },
	{ "tst_verbose", HSI_CFG_BOOL, offsetof(tcfg, verbose), "false",
	    "verbose", 0, 0 },
	{ "tst_ratio", HSI_CFG_DBL, offsetof(tcfg, ratio), "0.5", "ratio", 0,
	    0 },
	{ "tst_db_url", HSI_CFG_STR, offsetof(tcfg, db_url),
	    "postgresql:///hsi", "database", 0, 0 },
	{ "tst_unset", HSI_CFG_STR, offsetof(tcfg, unset), NULL, "unset", 0,
	    0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};

static const char *const env_names[]
    = { "HSI_TST_NAME", "HSI_TST_PORT", "HSI_TST_VERBOSE", "HSI_TST_RATIO",
	      "HSI_TST_DB_URL", "HSI_TST_UNSET", NULL };

/* Temporary files made by a test, removed by teardown. */
static char tmp_paths[8][64];
static int  n_tmp;

static int
setup(void **state)
{
	(void) state;
	for (int i = 0; env_names[i] != NULL; i++) {
		unsetenv(env_names[i]);
	}
	n_tmp = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	for (int i = 0; i < n_tmp; i++) {
		unlink(tmp_paths[i]);
	}
	n_tmp = 0;
	for (int i = 0; env_names[i] != NULL; i++) {
		unsetenv(env_names[i]);
	}
	return 0;
}

static const char *
write_tmp(const char *data, size_t len)
{
	assert_true(n_tmp < 8);
	char *path = tmp_paths[n_tmp];
	snprintf(path, sizeof tmp_paths[0], "/tmp/hsi_config_test_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	n_tmp++;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		assert_true(w > 0);
		off += (size_t) w;
	}
	close(fd);
	return path;
}

static const char *
write_str(const char *s)
{
	return write_tmp(s, strlen(s));
}

/* Loads into a zeroed cfg; returns the code, err always terminated. */
static int
load(tcfg *c, const char *path, int argc, char **argv, char *err,
    size_t err_size)
{
	memset(c, 0, sizeof *c);
	err[0] = '\0';
	return hsi_config_load(opts, c, path, argc, argv, err, err_size);
}

static void
load_ok(tcfg *c, const char *path, int argc, char **argv)
{
	char err[512];
	int  rv = load(c, path, argc, argv, err, sizeof err);
	if (rv != 0) {
		fail_msg("hsi_config_load: %s (%s)", hsi_strerror(rv), err);
	}
}

/* Expects code rv; checks that the message names every string in want. */
static void
load_err(const char *path, int argc, char **argv, int rv, ...)
{
	tcfg    c;
	char    err[512];
	int     got = load(&c, path, argc, argv, err, sizeof err);
	va_list ap;
	if (got != rv) {
		fail_msg("want %d, got %d (%s)", rv, got, err);
	}
	va_start(ap, rv);
	for (const char *s = va_arg(ap, const char *); s != NULL;
	     s             = va_arg(ap, const char *)) {
		if (strstr(err, s) == NULL) {
			va_end(ap);
			hsi_config_fini(opts, &c);
			fail_msg(
			    "message \"%s\" does not mention \"%s\"", err, s);
		}
	}
	va_end(ap);
	hsi_config_fini(opts, &c);
}

static void
test_defaults(void **state)
{
	tcfg c;
	(void) state;
	load_ok(&c, NULL, 0, NULL);
	assert_string_equal(c.name, "node-a");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.verbose, 0);
	assert_true(c.ratio == 0.5);
	assert_string_equal(c.db_url, "postgresql:///hsi");
	assert_null(c.unset);
	hsi_config_fini(opts, &c);
	assert_null(c.name);
	assert_null(c.db_url);
}

static void
test_file_overrides_defaults(void **state)
{
	tcfg        c;
	const char *p = write_str("{\"tst_name\": \"node-b\", \"tst_port\": "
	                          "9000,\n \"tst_verbose\": true, "
	                          "\"tst_ratio\": 0.125, \"tst_unset\": "
	                          "\"set\"}\n");
	(void) state;
	load_ok(&c, p, 0, NULL);
	assert_string_equal(c.name, "node-b");
	assert_int_equal(c.port, 9000);
	assert_int_equal(c.verbose, 1);
	assert_true(c.ratio == 0.125);
	assert_string_equal(c.unset, "set");
	/* Not in the file: the default stays. */
	assert_string_equal(c.db_url, "postgresql:///hsi");
	hsi_config_fini(opts, &c);

	/* An integer is a valid double. */
	p = write_str("{\"tst_ratio\": 2}");
	load_ok(&c, p, 0, NULL);
	assert_true(c.ratio == 2.0);
	hsi_config_fini(opts, &c);
}

static void
test_env_overrides_file(void **state)
{
	tcfg        c;
	const char *p
	    = write_str("{\"tst_name\": \"from-file\", \"tst_port\": 9000, "
	                "\"tst_verbose\": false, \"tst_ratio\": 1.5}");
	(void) state;
	setenv("HSI_TST_NAME", "from-env", 1);
	setenv("HSI_TST_PORT", "9001", 1);
	setenv("HSI_TST_VERBOSE", "1", 1);
	setenv("HSI_TST_RATIO", "-2.25", 1);
	setenv("HSI_TST_DB_URL", "postgresql://env/hsi", 1);
	load_ok(&c, p, 0, NULL);
	assert_string_equal(c.name, "from-env");
	assert_int_equal(c.port, 9001);
	assert_int_equal(c.verbose, 1);
	assert_true(c.ratio == -2.25);
	assert_string_equal(c.db_url, "postgresql://env/hsi");
	hsi_config_fini(opts, &c);

	setenv("HSI_TST_VERBOSE", "false", 1);
	load_ok(&c, NULL, 0, NULL);
	assert_int_equal(c.verbose, 0);
	setenv("HSI_TST_VERBOSE", "true", 1);
	hsi_config_fini(opts, &c);
	load_ok(&c, NULL, 0, NULL);
	assert_int_equal(c.verbose, 1);
	hsi_config_fini(opts, &c);
}

static void
test_args_override_env(void **state)
{
	tcfg  c;
	char *argv[] = { "--tst_name", "from-arg", "--tst-port=9002",
		"--tst-db-url", "postgresql://arg/hsi", "--tst_verbose=false",
		"--tst-ratio", "3.75" };
	(void) state;
	setenv("HSI_TST_NAME", "from-env", 1);
	setenv("HSI_TST_PORT", "9001", 1);
	setenv("HSI_TST_DB_URL", "postgresql://env/hsi", 1);
	setenv("HSI_TST_VERBOSE", "true", 1);
	setenv("HSI_TST_RATIO", "1", 1);
	load_ok(&c, NULL, 8, argv);
	assert_string_equal(c.name, "from-arg");
	assert_int_equal(c.port, 9002);
	assert_string_equal(c.db_url, "postgresql://arg/hsi");
	assert_int_equal(c.verbose, 0);
	assert_true(c.ratio == 3.75);
	hsi_config_fini(opts, &c);

	/* The last occurrence wins; "--key=" gives an empty string. */
	char *argv2[] = { "--tst-name", "a", "--tst-name=b", "--tst-db-url=" };
	load_ok(&c, NULL, 4, argv2);
	assert_string_equal(c.name, "b");
	assert_string_equal(c.db_url, "");
	hsi_config_fini(opts, &c);

	/* A value may itself contain '=' and start with '-'. */
	char *argv3[]
	    = { "--tst-db-url=host=x dbname=y", "--tst-ratio", "-0.5" };
	load_ok(&c, NULL, 3, argv3);
	assert_string_equal(c.db_url, "host=x dbname=y");
	assert_true(c.ratio == -0.5);
	hsi_config_fini(opts, &c);
}

static void
test_precedence_order(void **state)
{
	/* name: default only; port: file; ratio: file+env;
	 * db_url: file+env+arg. Each source wins over those below it. */
	tcfg        c;
	const char *p = write_str("{\"tst_port\": 1111, \"tst_ratio\": 1.0, "
	                          "\"tst_db_url\": \"file\"}");
	char       *argv[] = { "--tst-db-url", "arg" };
	(void) state;
	setenv("HSI_TST_RATIO", "2.0", 1);
	setenv("HSI_TST_DB_URL", "env", 1);
	load_ok(&c, p, 2, argv);
	assert_string_equal(c.name, "node-a");
	assert_int_equal(c.port, 1111);
	assert_true(c.ratio == 2.0);
	assert_string_equal(c.db_url, "arg");
	hsi_config_fini(opts, &c);
	/* Without the argument, env beats the file. */
	load_ok(&c, p, 0, NULL);
	assert_string_equal(c.db_url, "env");
	hsi_config_fini(opts, &c);
	/* Without env either, the file beats the default. */
	unsetenv("HSI_TST_DB_URL");
	unsetenv("HSI_TST_RATIO");
	load_ok(&c, p, 0, NULL);
	assert_string_equal(c.db_url, "file");
	assert_true(c.ratio == 1.0);
	hsi_config_fini(opts, &c);
}

static void
test_file_unknown_key(void **state)
{
	const char *p = write_str("{\"tst_port\": 80, \"tst_prot\": 81}");
	(void) state;
	load_err(p, 0, NULL, HSI_EINVAL, p, "tst_prot", NULL);
}

static void
test_file_wrong_type(void **state)
{
	(void) state;
	load_err(write_str("{\"tst_port\": \"80\"}"), 0, NULL, HSI_EINVAL,
	    "/tmp/hsi_config_test_", "tst_port", "whole number", NULL);
	load_err(write_str("{\"tst_port\": 80.5}"), 0, NULL, HSI_EINVAL,
	    "tst_port", NULL);
	load_err(write_str("{\"tst_verbose\": 1}"), 0, NULL, HSI_EINVAL,
	    "tst_verbose", "true or false", NULL);
	load_err(write_str("{\"tst_name\": 5}"), 0, NULL, HSI_EINVAL,
	    "tst_name", "string", NULL);
	load_err(write_str("{\"tst_ratio\": \"0.5\"}"), 0, NULL, HSI_EINVAL,
	    "tst_ratio", "number", NULL);
	load_err(write_str("{\"tst_name\": null}"), 0, NULL, HSI_EINVAL,
	    "tst_name", NULL);
	/* The top level must be an object. */
	load_err(write_str("[1, 2]"), 0, NULL, HSI_EINVAL, "object", NULL);
}

static void
test_file_invalid_json(void **state)
{
	const char *p = write_str("{\n  \"tst_port\": 80,\n  oops\n}\n");
	char        want[128];
	(void) state;
	/* path:line:col, the error being on line 3. */
	snprintf(want, sizeof want, "%s:3:", p);
	load_err(p, 0, NULL, HSI_EINVAL, want, "invalid JSON", NULL);
	/* Duplicate keys are refused rather than silently last-wins. */
	p = write_str("{\"tst_port\": 80,\n\"tst_port\": 81}");
	snprintf(want, sizeof want, "%s:2:", p);
	load_err(p, 0, NULL, HSI_EINVAL, want, NULL);
	load_err(write_str(""), 0, NULL, HSI_EINVAL, "invalid JSON", NULL);
}

static void
test_int_range(void **state)
{
	tcfg  c;
	char *argv_hi[]  = { "--tst-port", "65536" };
	char *argv_lo[]  = { "--tst-port=0" };
	char *argv_ok[]  = { "--tst-port=65535" };
	char *argv_nan[] = { "--tst-port", "80x" };
	char *argv_big[] = { "--tst-port", "99999999999999999999999" };
	(void) state;
	load_err(write_str("{\"tst_port\": 70000}"), 0, NULL, HSI_ERANGE,
	    "tst_port", "70000", "1..65535", NULL);
	load_err(NULL, 2, argv_hi, HSI_ERANGE, "command line", "65536", NULL);
	load_err(NULL, 1, argv_lo, HSI_ERANGE, "tst_port", NULL);
	load_err(NULL, 2, argv_nan, HSI_EINVAL, "80x", NULL);
	load_err(NULL, 2, argv_big, HSI_EINVAL, "tst_port", NULL);
	setenv("HSI_TST_PORT", "-1", 1);
	load_err(NULL, 0, NULL, HSI_ERANGE, "HSI_TST_PORT", NULL);
	unsetenv("HSI_TST_PORT");
	load_ok(&c, NULL, 1, argv_ok);
	assert_int_equal(c.port, 65535);
	hsi_config_fini(opts, &c);
}

static void
test_bad_bool_and_double(void **state)
{
	char *argv_b[] = { "--tst-verbose", "yes" };
	char *argv_d[] = { "--tst-ratio=1.5x" };
	char *argv_e[] = { "--tst-ratio=" };
	(void) state;
	setenv("HSI_TST_VERBOSE", "TRUE", 1);
	load_err(NULL, 0, NULL, HSI_EINVAL, "HSI_TST_VERBOSE", "TRUE", NULL);
	unsetenv("HSI_TST_VERBOSE");
	load_err(NULL, 2, argv_b, HSI_EINVAL, "tst_verbose", "yes", NULL);
	load_err(NULL, 1, argv_d, HSI_EINVAL, "tst_ratio", "1.5x", NULL);
	load_err(NULL, 1, argv_e, HSI_EINVAL, "tst_ratio", NULL);
}

static void
test_unknown_option_and_missing_value(void **state)
{
	char *argv_u[]  = { "--tst-nope", "1" };
	char *argv_m[]  = { "--tst-port" };
	char *argv_p[]  = { "tst_port", "80" };
	char *argv_pf[] = { "--tst" };
	(void) state;
	load_err(NULL, 2, argv_u, HSI_EINVAL, "--tst-nope", "unknown", NULL);
	load_err(NULL, 1, argv_m, HSI_EINVAL, "--tst-port", "value", NULL);
	load_err(NULL, 2, argv_p, HSI_EINVAL, "tst_port", NULL);
	/* A prefix of a key is not the key. */
	load_err(NULL, 1, argv_pf, HSI_EINVAL, "--tst", NULL);
}

static void
test_file_size_limit(void **state)
{
	size_t n   = (size_t) HSI_CONFIG_MAX_BYTES + 1;
	char  *big = malloc(n);
	tcfg   c;
	(void) state;
	assert_non_null(big);
	/* Exactly at the limit: read and parsed. */
	memset(big, ' ', n);
	big[0]     = '{';
	big[n - 2] = '}';
	load_ok(&c, write_tmp(big, n - 1), 0, NULL);
	hsi_config_fini(opts, &c);
	/* One byte over: refused before parsing. */
	const char *p = write_tmp(big, n);
	free(big);
	load_err(p, 0, NULL, HSI_ETOOBIG, p, NULL);
}

static void
test_missing_file(void **state)
{
	(void) state;
	load_err("/tmp/hsi_config_test_does_not_exist.json", 0, NULL, HSI_EIO,
	    "/tmp/hsi_config_test_does_not_exist.json", NULL);
}

static void
test_fini_frees(void **state)
{
	tcfg        c;
	const char *p      = write_str("{\"tst_unset\": \"x\", \"tst_name\": "
	                                    "\"y\"}");
	char       *argv[] = { "--tst-name", "z", "--tst-unset", "w" };
	(void) state;
	setenv("HSI_TST_NAME", "e", 1);
	/* Each string is replaced several times: ASan reports any leak. */
	load_ok(&c, p, 4, argv);
	assert_string_equal(c.name, "z");
	assert_string_equal(c.unset, "w");
	hsi_config_fini(opts, &c);
	assert_null(c.name);
	assert_null(c.unset);
	/* Safe twice, and after a failed load holding partial values. */
	hsi_config_fini(opts, &c);
	char  err[256];
	char *bad[] = { "--tst-name", "q", "--tst-port", "0" };
	assert_int_equal(load(&c, p, 4, bad, err, sizeof err), HSI_ERANGE);
	assert_string_equal(c.name, "q");
	hsi_config_fini(opts, &c);
}

static void
test_help(void **state)
{
	char  *text = NULL;
	size_t len  = 0;
	FILE  *f    = open_memstream(&text, &len);
	(void) state;
	assert_non_null(f);
	hsi_config_help(f, "prog", "A summary.", opts);
	fclose(f);
	assert_non_null(strstr(text, "usage: prog"));
	assert_non_null(strstr(text, "A summary."));
	assert_non_null(strstr(text, "tst_db_url"));
	assert_non_null(strstr(text, "HSI_TST_DB_URL"));
	assert_non_null(strstr(text, "postgresql:///hsi"));
	assert_non_null(strstr(text, "(none)"));
	free(text);
}

static void
test_config_main(void **state)
{
	tcfg        c;
	const char *p = write_str("{\"tst_port\": 4242}");
	(void) state;

	char *help[] = { "prog", "--tst-port", "1", "--help" };
	memset(&c, 0, sizeof c);
	assert_int_equal(hsi_config_main(opts, &c, "prog", "s", 4, help), 1);
	hsi_config_fini(opts, &c);
	char *h[] = { "prog", "-h" };
	assert_int_equal(hsi_config_main(opts, &c, "prog", "s", 2, h), 1);
	hsi_config_fini(opts, &c);

	char *ok[] = { "prog", "--config", (char *) p, "--tst-name", "n" };
	memset(&c, 0, sizeof c);
	assert_int_equal(hsi_config_main(opts, &c, "prog", "s", 5, ok), 0);
	assert_int_equal(c.port, 4242);
	assert_string_equal(c.name, "n");
	hsi_config_fini(opts, &c);

	char *bad[] = { "prog", "--tst-port", "none" };
	memset(&c, 0, sizeof c);
	assert_int_equal(hsi_config_main(opts, &c, "prog", "s", 3, bad), -1);
	hsi_config_fini(opts, &c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_file_overrides_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_env_overrides_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_args_override_env, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_precedence_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_file_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_file_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_file_invalid_json, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_int_range, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_bool_and_double, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unknown_option_and_missing_value, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_file_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fini_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_config_main, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
