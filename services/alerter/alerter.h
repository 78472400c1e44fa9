/*
 * alerter.h: hsi-alerter's engine. It subscribes to the scorer's "score"
 * events, evaluates the threshold rules for the period an event names
 * (eval.h), and publishes each committed alert transition as an
 * AlertEvent on its own PUB socket (topic "alert").
 *
 * ScoreEvents are triggers only: the state is in PostgreSQL. So a start
 * catches up by evaluating the latest scored period, a gap in event
 * sequence numbers re-evaluates every period scored since the last event
 * seen, and hsi_alerter_resync (called periodically) covers events nng
 * dropped at the tail, where no later event would reveal the gap.
 */
#ifndef HSI_ALERTER_H
#define HSI_ALERTER_H

#include <stddef.h>

#include "net.h"
#include "rules.h"

/* How often main() should call hsi_alerter_tick, and with clock set. */
#define HSI_ALERTER_TICK_MS 5000
#define HSI_ALERTER_RESYNC_MS 30000

typedef struct hsi_alerter hsi_alerter;

typedef struct {
	const char *db_url;        /* required */
	const char *events_url;    /* scorer events PUB, dialled by a SUB */
	const char *alerts_listen; /* our PUB, listening */
	const char *rules_path;    /* where rules came from; NULL: built-in */
	hsi_net_tls tls;           /* for tls+tcp:// events_url */
} hsi_alerter_opts;

/*
 * Connects to PostgreSQL and opens both sockets. On success the alerter
 * owns rules and *out is ready for hsi_alerter_start; on error the caller
 * still owns rules. Returns 0, or HSI_EINVAL (no db_url), HSI_EDB
 * (cannot connect) or HSI_EIO (socket) with err saying what to do.
 */
int hsi_alerter_open(const hsi_alerter_opts *opts, hsi_rules *rules,
    hsi_alerter **out, char *err, size_t err_size);

/*
 * Catches up (evaluates every rule for the latest period scored under the
 * active methodology) and starts the receive thread. Returns 0, or HSI_EDB
 * with err (e.g. the schema is missing) or HSI_ENOMEM.
 */
int hsi_alerter_start(hsi_alerter *a, char *err, size_t err_size);

/*
 * Re-evaluates every period whose scores changed since the last event
 * handled. Thread-safe with the receive thread. Returns 0 or HSI_EDB.
 */
int hsi_alerter_resync(hsi_alerter *a);

/*
 * The periodic work: the lifecycle sweep (lifecycle.h) and, with clock
 * set, a resync and the clock-driven rules (late_data). Thread-safe.
 * Returns 0, HSI_EDB or HSI_ENOMEM.
 */
int hsi_alerter_tick(hsi_alerter *a, int clock);

/*
 * Replaces the rules with rules (which the alerter then owns; the old
 * ones are freed), restarts delivery with its receivers, records the
 * new version and evaluates the latest period and the clock rules under
 * them. Returns 0, or HSI_EDB / HSI_ENOMEM with err when delivery could
 * not restart (the new rules stay in force).
 */
int hsi_alerter_reload(
    hsi_alerter *a, hsi_rules *rules, char *err, size_t err_size);

/*
 * Handles one wire message (topic '\n' Envelope): a ScoreEvent triggers an
 * evaluation of its period; anything else is logged and dropped. The
 * caller keeps msg. Thread-safe. Returns 0, HSI_EPROTO or the
 * evaluation's error.
 */
int hsi_alerter_handle(hsi_alerter *a, const void *msg, size_t len);

/* Stops the receive thread (closes the SUB socket and joins). */
void hsi_alerter_stop(hsi_alerter *a);

/* Stops if needed, closes sockets and the connection, frees a (NULL ok). */
void hsi_alerter_close(hsi_alerter *a);

#endif
