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
#include <stdint.h>

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

/* One agency's gateway node as the sender last saw it (for /metrics). */
typedef struct {
	char      agency[17];
	uint64_t  pending_parts; /* committed, not yet acknowledged */
	long long last_heard_ms; /* last authenticated ack (wall clock);
	                          * 0: none since the gateway started */
	int stalled; /* parts wait and no ack for HSI_SENDER_LINK_MS */
} hsi_sender_agency;

/* Connected pipes now: the PUB dialled to the scorer's ingest socket
 * (*ingest) and the SUB dialled to its events socket for acks (*acks).
 * Safe from any thread; s NULL reads as not connected. */
void hsi_sender_links(const hsi_sender *s, int *ingest, int *acks);

/* Copies up to max agencies' state (as of the sender's last turn, at
 * most POLL_MS old) into out; returns how many there are in all. Safe
 * from any thread; s NULL has none. */
size_t hsi_sender_agencies(hsi_sender *s, hsi_sender_agency *out, size_t max);

/* Stops the thread, closes the sockets and the connection, frees s
 * (NULL ok). Parts not yet acknowledged stay in the outbox. */
void hsi_sender_stop(hsi_sender *s);

#endif
