/*
 * events.h: hsi-api's subscriber to the scorer's "score" events. Each
 * ScoreEvent invalidates the cached bodies of its period. Events can be
 * lost (nng drops on a full queue or while disconnected), so a gap in the
 * sequence numbers or a (re)connection drops the whole cache instead.
 */
#ifndef HSI_API_EVENTS_H
#define HSI_API_EVENTS_H

#include <stddef.h>

#include "cache.h"
#include "net.h"
#include "period.h"

typedef struct hsi_events hsi_events;

/*
 * Dials url with a SUB socket for topic "score" and starts the receive
 * thread, which invalidates entries of cache (the caller keeps cache
 * alive until hsi_events_stop returns). Returns 0, HSI_EIO with err, or
 * HSI_ENOMEM.
 */
int hsi_events_start(const char *url, const hsi_net_tls *tls, hsi_cache *cache,
    hsi_events **out, char *err, size_t err_size);

/* Closes the socket, joins the thread and frees ev (NULL ok). */
void hsi_events_stop(hsi_events *ev);

#endif
