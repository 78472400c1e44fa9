/*
 * receivers.h: where the alerter delivers notifications (notify.h).
 *
 * Receivers are an optional top-level key of the rules file (rules.h):
 *   "receivers": [
 *     {"name":"ops","type":"webhook","url":"http://10.0.0.5/hook",
 *      "secret_file":"/run/secrets/ops_hook","timeout_ms":5000},
 *     {"name":"am","type":"alertmanager","url":"http://127.0.0.1:9093"}]
 * A webhook gets Alertmanager's webhook format (version "4") signed with
 * HMAC-SHA256 under the secret read from secret_file (required for a
 * webhook, 1 to HSI_RECEIVER_SECRET_MAX bytes, a trailing newline is not
 * part of the secret); an alertmanager receiver gets the alerts pushed to
 * url + "/api/v2/alerts", and the firing alerts again every
 * "repush_seconds" (5 to 3600, default 60; keep it well under
 * Alertmanager's resolve_timeout). Validation is as strict as for rules.
 */
#ifndef HSI_ALERTER_RECEIVERS_H
#define HSI_ALERTER_RECEIVERS_H

#include <jansson.h>
#include <stddef.h>

#define HSI_RECEIVERS_MAX 16
#define HSI_RECEIVER_NAME_MAX 64 /* bytes with NUL */
#define HSI_RECEIVER_URL_MAX 1024
#define HSI_RECEIVER_SECRET_MAX 4096
#define HSI_RECEIVER_TIMEOUT_MS 5000 /* default */
#define HSI_RECEIVER_REPUSH_S 60     /* default "repush_seconds" */

typedef enum {
	HSI_RECEIVER_WEBHOOK = 0,
	HSI_RECEIVER_ALERTMANAGER,
} hsi_receiver_type;

/* One receiver; a plain record owned by its hsi_rules. */
typedef struct {
	char              name[HSI_RECEIVER_NAME_MAX];
	hsi_receiver_type type;
	char              url[HSI_RECEIVER_URL_MAX];
	unsigned char     secret[HSI_RECEIVER_SECRET_MAX];
	size_t            secret_len; /* 0 for alertmanager */
	long              timeout_ms;
	long              repush_ms; /* alertmanager: re-send firing alerts */
} hsi_receiver;

/*
 * Validates arr (the value of "receivers"; the caller keeps it) and reads
 * every secret file. On success returns 0 and *out (n records, free with
 * free(); NULL when n is 0). Returns HSI_EINVAL, HSI_EIO or HSI_ETOOBIG
 * with err naming src, the receiver index and the key; HSI_ENOMEM.
 */
int hsi_receivers_parse(json_t *arr, const char *src, hsi_receiver **out,
    size_t *n, char *err, size_t err_size);

/* "webhook" or "alertmanager". */
const char *hsi_receiver_type_name(hsi_receiver_type type);

#endif
