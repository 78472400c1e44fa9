/*
 * events.h: hsi-api's subscriber to the scorer's "score" events. Each
 * ScoreEvent invalidates the cached bodies of its period. Events can be
 * lost (nng drops on a full queue or while disconnected), so a gap in the
 * sequence numbers or a (re)connection drops the whole cache instead.
 * Score events, and the alerter's "alert" events from a second
 * subscription, also feed the event streams' hub (sse.h).
 */
#ifndef HSI_API_EVENTS_H
#define HSI_API_EVENTS_H

#include <stddef.h>

#include "cache.h"
#include "net.h"
#include "period.h"
#include "sse.h"

typedef struct hsi_events hsi_events;

/*
 * Dials url with a SUB socket for topic "score" and starts the receive
 * thread, which invalidates entries of cache and posts to hub; with
 * alerts_url (NULL: none) also dials the alerter for topic "alert" on a
 * second thread, which posts to hub. The caller keeps cache and hub
 * alive until hsi_events_stop returns. Returns 0, HSI_EIO with err, or
 * HSI_ENOMEM.
 */
int hsi_events_start(const char *url, const char *alerts_url,
    const hsi_net_tls *tls, hsi_cache *cache, hsi_sse_hub *hub,
    hsi_events **out, char *err, size_t err_size);

/* Closes the sockets, joins the threads and frees ev (NULL ok). */
void hsi_events_stop(hsi_events *ev);

/* Connected pipes now: to the scorer's events PUB (*score) and to the
 * alerter's (*alerts; -1 when no alerts address is configured). Safe
 * from any thread; ev NULL reads as not connected. */
void hsi_events_links(const hsi_events *ev, int *score, int *alerts);

#endif
