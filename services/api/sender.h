/*
 * sender.h: the thread of hsi-api that delivers submissions to the scorer
 * exactly as an ingest node delivers files (docs/protocol.md): it
 * publishes the parts waiting in the gateway's outbox (gwoutbox.h) on the
 * scorer's ingest socket, signed with the agency's gateway key (gwkey.h),
 * within a window of HSI_SENDER_WINDOW parts beyond the acknowledged
 * point; resends from that point after resend_ms without progress
 * (go-back-N); and takes the cumulative acks and the file verdicts from
 * the scorer's events socket (topic ack.<AGENCY>), recording them in the
 * outbox and confirming the verdicts with a NodeStatus, so the scorer
 * stops re-sending them.
 *
 * It keeps a PostgreSQL connection and two nng sockets of its own, so it
 * never competes with requests for the pool. Nothing it knows lives only
 * in memory: a gateway killed at any moment resumes from the outbox.
 */
#ifndef HSI_API_SENDER_H
#define HSI_API_SENDER_H

#include <stddef.h>

#include "net.h"

#define HSI_SENDER_WINDOW 128     /* parts beyond the acked one */
#define HSI_SENDER_LINK_MS 5000   /* no ack this long: link down */
#define HSI_SENDER_RESEND_MS 1000 /* default quiet time before resend */

typedef struct hsi_sender hsi_sender;

typedef struct {
	const char *db_url;
	const char *scorer_url; /* the scorer's ingest SUB: we dial a PUB */
	const char *events_url; /* the scorer's events PUB: acks */
	hsi_net_tls tls;        /* for tls+tcp:// URLs */
	long        resend_ms;  /* 0: HSI_SENDER_RESEND_MS */
} hsi_sender_opts;

/*
 * Opens the sockets (dials retry on their own) and starts the thread,
 * which connects to PostgreSQL when it can. Strings are copied. Returns 0
 * and *out, HSI_EIO with err (a bad URL or TLS set-up), HSI_ENOMEM.
 */
int hsi_sender_start(
    const hsi_sender_opts *opts, hsi_sender **out, char *err, size_t err_size);

/* Tells the thread that parts were committed: it sends them at once
 * instead of at its next look. Safe from any thread; NULL ok. */
void hsi_sender_wake(hsi_sender *s);

/* Stops the thread, closes the sockets and the connection, frees s
 * (NULL ok). Parts not yet acknowledged stay in the outbox. */
void hsi_sender_stop(hsi_sender *s);

#endif
