/*
 * fuzz_config.c: libFuzzer target for hsi_config_load. The input is the
 * JSON config file (written to one temporary file reused across runs),
 * and, split at newlines, the command-line options. A load must succeed
 * with every value in range, or fail with a message; hsi_config_fini must
 * leave nothing behind.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
	char  *name;
	long   port;
	int    verbose;
	double ratio;
	char  *url;
} fcfg;

static const hsi_cfg_opt opts[] = {
	{ "name", HSI_CFG_STR, offsetof(fcfg, name), "node", "name", 0, 0 },
	{ "port", HSI_CFG_INT, offsetof(fcfg, port), "8080", "port", 1,
	    65535 },
	{ "verbose", HSI_CFG_BOOL, offsetof(fcfg, verbose), "false", "v", 0,
	    0 },
	{ "ratio", HSI_CFG_DBL, offsetof(fcfg, ratio), "0.5", "ratio", 0, 0 },
	{ "db_url", HSI_CFG_STR, offsetof(fcfg, url), NULL, "url", 0, 0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};

static char path[64];
static int  fd = -1;

static void
cleanup(void)
{
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void
check(int rv, const fcfg *c, const char *err, size_t err_size)
{
	if (rv == 0) {
		if (c->port < 1 || c->port > 65535
		    || (c->verbose != 0 && c->verbose != 1)
		    || c->name == NULL) {
			abort();
		}
	} else if (err[0] == '\0' || strlen(err) >= err_size) {
		/* ENOMEM is the one error without a message. */
		if (rv != HSI_ENOMEM) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fcfg c;
	char err[512];
	if (fd < 0) {
		strcpy(path, "/tmp/hsi_fuzz_config_XXXXXX");
		if ((fd = mkstemp(path)) < 0) {
			abort();
		}
		atexit(cleanup);
	}
	if (ftruncate(fd, 0) != 0
	    || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t) size)) {
		abort();
	}
	memset(&c, 0, sizeof c);
	err[0] = '\0';
	int rv = hsi_config_load(opts, &c, path, 0, NULL, err, sizeof err);
	check(rv, &c, err, sizeof err);
	hsi_config_fini(opts, &c);

	/* The same bytes as options, one per line (at most 16). */
	char *copy = malloc(size + 1);
	char *argv[16];
	int   argc = 0;
	if (copy == NULL) {
		return 0;
	}
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy, *nl; p != NULL && argc < 16; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL) {
			*nl++ = '\0';
		}
		argv[argc++] = p;
	}
	memset(&c, 0, sizeof c);
	err[0] = '\0';
	rv     = hsi_config_load(opts, &c, NULL, argc, argv, err, sizeof err);
	check(rv, &c, err, sizeof err);
	hsi_config_fini(opts, &c);
	free(copy);
	return 0;
}
