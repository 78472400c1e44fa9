/*
 * config.h: service configuration from, in increasing precedence, built-in
 * defaults, a JSON file (--config FILE), environment variables (HSI_ + the
 * key in upper case, e.g. db_url <- HSI_DB_URL) and command-line options
 * (--db-url VALUE or --db_url VALUE).
 *
 * A service describes its options once in a table of hsi_cfg_opt; the same
 * table drives parsing, validation and --help, so they cannot drift apart.
 */
#ifndef HSI_CONFIG_H
#define HSI_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
	HSI_CFG_STR,  /* char *, heap-owned by the config struct */
	HSI_CFG_INT,  /* long, within [min, max] */
	HSI_CFG_BOOL, /* int 0/1; "true"/"false"/"1"/"0" in env and args */
	HSI_CFG_DBL,  /* double */
} hsi_cfg_type;

typedef struct {
	const char  *key; /* JSON key, snake_case; NULL ends the table */
	hsi_cfg_type type;
	size_t       offset; /* offsetof() in the service's struct */
	const char  *def;    /* default as text; NULL = unset (NULL string) */
	const char  *help;
	long         min, max; /* for HSI_CFG_INT */
} hsi_cfg_opt;

/* Largest config file read. */
#define HSI_CONFIG_MAX_BYTES (1024 * 1024)

/*
 * Fills cfg from the table's defaults, then path (may be NULL), the
 * environment and args (the argv left after --config and --help, i.e.
 * pairs "--key value"). Returns 0, or HSI_EINVAL/HSI_EIO/HSI_ETOOBIG with a
 * message in err naming the file, line, key or variable and what to do.
 * On error cfg may hold partial values: call hsi_config_fini regardless.
 */
int hsi_config_load(const hsi_cfg_opt *opts, void *cfg, const char *path,
    int argc, char **argv, char *err, size_t err_size);

/* Frees the strings held in cfg. */
void hsi_config_fini(const hsi_cfg_opt *opts, void *cfg);

/* Prints usage: summary, every option with default, env name and help. */
void hsi_config_help(
    FILE *f, const char *prog, const char *summary, const hsi_cfg_opt *opts);

/*
 * The common main() prologue: handles --help (prints and returns 1),
 * --config FILE, the rest as option overrides. Returns 0 to go on, 1 when
 * the program should exit 0 (help shown), -1 on error (message printed to
 * stderr, exit 2).
 */
int hsi_config_main(const hsi_cfg_opt *opts, void *cfg, const char *prog,
    const char *summary, int argc, char **argv);

#endif
