/*
 * hsictl.h: the admin and offline tool's commands, one function each, so
 * tests can call them without a process.
 */
#ifndef HSI_HSICTL_H
#define HSI_HSICTL_H

#include <stdio.h>

/* Each returns the process exit code: 0 ok, 1 failure, 2 usage error. */
int hsictl_migrate(const char *db_url);
int hsictl_key_rotate(
    const char *db_url, const char *agency, const char *out_path);
/* Retires key_id now: the scorer refuses it from then on. */
int hsictl_key_retire(const char *db_url, const char *key_id);
int hsictl_catalog_load(const char *db_url, const char *csv_path);

/*
 * Commands with their own options; argv[0] is the command name
 * (score.c, sensitivity.c, methodology.c; docs/methodology.md).
 */
int hsictl_score(int argc, char **argv);
int hsictl_sensitivity(int argc, char **argv);
int hsictl_methodology(int argc, char **argv);
/*
 * hsictl tap --events URL [--topic PREFIX]... [--count N] [--timeout-ms T]
 * (tap.c): prints each message of a PUB socket as one JSON line.
 */
int hsictl_tap(int argc, char **argv);
/*
 * hsictl quality [--agency CODE] [--from D] [--to D] [--by agency|indicator]
 * (quality.c): completeness and timeliness of the agencies' data.
 */
int hsictl_quality(int argc, char **argv);
/*
 * hsictl alerts list|show|ack|unack|silence ... (alerts.c): operators'
 * actions on alerts, over common/alertops.h.
 */
int hsictl_alerts(int argc, char **argv);
/*
 * hsictl token create|list|revoke ... (token.c): the REST gateway's API
 * tokens, over common/token.h (docs/tokens.md).
 */
int hsictl_token(int argc, char **argv);

#endif
