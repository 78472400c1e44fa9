/*
 * lifecycle.h: what happens to a firing alert's notifications after it
 * fires -- silences, inhibition, acknowledgements and repeats
 * (docs/alerting.md, "Silence, acknowledge, inhibit").
 *
 * A notification of a firing alert is *held* when an active silence
 * matches its labels (held_by 'silenced:<id>') or when an inhibiting
 * alert fires (held_by 'inhibited:<fingerprint>', rules.h hsi_inhibit).
 * A held alert is not notified, and its resolution is not either unless
 * the firing was. The sweep, run every few seconds, then:
 *  - notifies a firing alert whose hold has ended (the silence expired,
 *    the composite alert resolved);
 *  - ends acknowledgements whose expiry has passed (event 'ack_expired')
 *    and notifies the alert again, since it is still firing;
 *  - repeats the notification of a firing alert nobody acknowledged
 *    every repeat_hours (rules.h), as Alertmanager's repeat_interval.
 * Each of these is an alert_event 'notify' (detail {reason}) whose seq
 * makes the notification id, so a repeat is a new notification and a
 * retried one is not.
 */
#ifndef HSI_ALERTER_LIFECYCLE_H
#define HSI_ALERTER_LIFECYCLE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "rules.h"

#define HSI_LIFECYCLE_SWEEP_MS 5000 /* how often the alerter sweeps */

/* The silences in force and the firing alerts, for hold decisions. */
typedef struct hsi_holds hsi_holds;

/*
 * Loads the active silences and every firing alert's labels in db's open
 * transaction, and compiles rules' inhibitions. Returns 0 and *out, or
 * HSI_EDB / HSI_ENOMEM / HSI_EINVAL (an inhibition that does not compile;
 * rules.c checks them, so only a bug).
 */
int hsi_holds_load(PGconn *db, const hsi_rules *rules, hsi_holds **out);

/*
 * 1 when a notification of alert fp with labels is held, with why set to
 * "silenced:<id>" or "inhibited:<fingerprint of the source>"; else 0.
 * An alert never inhibits itself.
 */
int hsi_holds_check(const hsi_holds *h, const char *fp, const json_t *labels,
    char *why, size_t size);

void hsi_holds_free(hsi_holds *h);

/*
 * One sweep in its own transaction (see above). *notified (may be NULL)
 * gets how many notifications it queued. Returns 0, HSI_EDB or
 * HSI_ENOMEM (rolled back).
 */
int hsi_lifecycle_sweep(PGconn *db, const hsi_rules *rules, size_t *notified);

#endif
