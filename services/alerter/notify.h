/*
 * notify.h: at-least-once delivery of alert notifications to receivers
 * (receivers.h) from the PostgreSQL table notification_outbox.
 *
 * hsi_notify_enqueue runs inside the evaluation's transaction (eval.c),
 * so a committed alert transition always has its outbox rows and a
 * rolled-back one never has: a crash neither loses nor doubles a
 * notification. Each row's notification_id is "<alert_event.seq>-<name>",
 * stable across retries and restarts; receivers drop repeats by it.
 *
 * The delivery thread (hsi_notify_start) has its own connection and never
 * holds the evaluation's lock, so a slow receiver never delays
 * evaluation. Per receiver it sends the oldest undelivered row when it is
 * due, holding the row's lock (FOR UPDATE SKIP LOCKED) during the request:
 * on 2xx it marks the row delivered, otherwise it records the error and
 * backs off (1 s doubling to 5 min, +-20% jitter). Rows of one receiver go
 * out in order, so a resolution never overtakes its firing, and a
 * receiver that is down costs one request per backoff step, not one per
 * queued row.
 */
#ifndef HSI_ALERTER_NOTIFY_H
#define HSI_ALERTER_NOTIFY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "eval.h"
#include "rules.h"

#define HSI_NOTIFY_BACKOFF_MIN_MS 1000
#define HSI_NOTIFY_BACKOFF_MAX_MS 300000
#define HSI_NOTIFY_POLL_MS 1000             /* re-check for due retries */
#define HSI_NOTIFY_MAX_PAYLOAD (256 * 1024) /* bytes of one payload */

typedef struct hsi_notify hsi_notify;

/*
 * Inserts one notification_outbox row per transition and receiver of rules
 * into db's open transaction (the caller commits or rolls back). The
 * payload is the exact JSON to send: Alertmanager's webhook format
 * version "4" for a webhook, an API v2 alert list for an alertmanager
 * receiver. A row that already exists is left alone. Returns 0 (at once
 * when rules has no receivers), HSI_EDB, HSI_ETOOBIG or HSI_ENOMEM.
 */
int hsi_notify_enqueue(
    PGconn *db, const hsi_rules *rules, const hsi_transition *t, size_t n);

/*
 * Connects to db_url and starts the delivery thread for rules' receivers
 * (rules stays the caller's and must outlive the thread). Returns 0 and
 * *out, or HSI_EDB / HSI_ENOMEM with err saying what failed.
 */
int hsi_notify_start(const char *db_url, const hsi_rules *rules,
    hsi_notify **out, char *err, size_t err_size);

/* Tells the delivery thread new rows may be due (after a commit). NULL ok. */
void hsi_notify_wake(hsi_notify *n);

/*
 * Stops the thread: a request in flight is abandoned (its row stays
 * undelivered and goes out after a restart), then joins, closes and frees
 * n. Returns within about a second. NULL ok.
 */
void hsi_notify_stop(hsi_notify *n);

/*
 * Alertmanager forgets an alert nobody re-sends within its
 * resolve_timeout (5 min by default), as Prometheus re-sends every
 * evaluation. So every receiver's repush_ms (receivers.h) the delivery
 * thread posts the alerts that are firing, notified and not held to each
 * alertmanager receiver again, HSI_NOTIFY_REPUSH_BATCH per request.
 */
#define HSI_NOTIFY_REPUSH_BATCH 500

/* The query for that ($1 limit, $2 offset): labels, annotations, startsAt. */
extern const char hsi_notify_sql_firing[];

/* Rows of hsi_notify_sql_firing as an API v2 alert list, or NULL. */
json_t *hsi_notify_am_alerts(PGresult *r);

/* Writes "sha256=" and the hex HMAC-SHA256 of body under key into out
 * (at least 72 bytes): the X-HSI-Signature header's value. */
void hsi_notify_sign(const unsigned char *key, size_t key_len,
    const char *body, size_t len, char *out);

#endif
