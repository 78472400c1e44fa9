/*
 * server.h: what every request of hsi-api shares: the database pool, the
 * response cache, static files, the rate limiter, the cursor key, the
 * route tables and the options that shape answers. api.c owns it and
 * fills it before the HTTP daemon starts; handlers read it through
 * hsi_call_server() and never write it (it is shared by the threads).
 * A module that needs shared state of its own (an SSE hub, an outbox)
 * adds a field here and sets it up in api.c.
 */
#ifndef HSI_API_SERVER_H
#define HSI_API_SERVER_H

#include <stddef.h>

#include "cache.h"
#include "cursor.h"
#include "files.h"
#include "metrics.h"
#include "pool.h"
#include "ratelimit.h"
#include "router.h"
#include "sse.h"

struct hsi_sender;
struct hsi_events;

typedef struct {
	hsi_pool          *pool;
	hsi_cache         *cache;
	hsi_files         *files;   /* NULL: no static files */
	hsi_ratelimit     *limiter; /* NULL: no rate limit */
	hsi_metrics       *metrics; /* NULL: not counted */
	hsi_sse_hub       *sse;     /* event streams (sse.h) */
	struct hsi_sender *sender;  /* submissions (sender.h); NULL
	                             * until started */
	struct hsi_events *events;  /* score and alert events (events.h);
	                             * NULL until started */
	hsi_cursor_key          cursor_key;
	const hsi_route *const *routes; /* NULL-terminated list of tables */
	int                     public_reads;
} hsi_server;

#endif
