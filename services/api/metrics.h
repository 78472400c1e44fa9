/*
 * metrics.h: hsi-api's counters for GET /metrics (Prometheus text
 * exposition format 0.0.4). The request pipeline reports every finished
 * request (route, method, status, duration: hsi_metrics_request); the
 * SSE module reports streams opening and closing; the pool and the cache
 * are read at scrape time. Updates are relaxed C11 atomics, no lock: a
 * request pays a few atomic adds, and a scrape sees each counter whole
 * (the counters of one request may show up one scrape apart).
 *
 * Every function accepts m == NULL and then does nothing (a server built
 * without metrics, as in the pipeline tests).
 */
#ifndef HSI_API_METRICS_H
#define HSI_API_METRICS_H

#include <stddef.h>

#include "router.h"
#include "sender.h"

typedef struct hsi_metrics hsi_metrics;

/* Distinct (route, method, status) counted before the rest are only
 * counted in hsi_api_requests_unlabelled_total: far above what hsi-api
 * answers (a status list of ~20, 8 method names). */
#define HSI_METRICS_SERIES 4096

/*
 * Allocates the counters for routes (a NULL-terminated list of route
 * tables, kept: it must outlive m) and notes the process start time.
 * Returns 0 and *out, or HSI_ENOMEM.
 */
int  hsi_metrics_alloc(const hsi_route *const *routes, hsi_metrics **out);
void hsi_metrics_free(hsi_metrics *m);

/*
 * Counts one finished request: route as matched (NULL: none matched, a
 * static file or a refusal before routing), method as sent, status as
 * answered (0: none was, the client left or memory ran out), seconds
 * from its first byte to its completion. A 429 also counts as rate
 * limited.
 */
void hsi_metrics_request(hsi_metrics *m, const hsi_route *route,
    const char *method, unsigned status, double seconds);

/* What the server reads elsewhere at scrape time. */
typedef struct {
	int                pool_in_use, pool_size;
	unsigned long long cache_hits, cache_misses;
	long long          sse_clients; /* open event streams (sse.h) */
	/* nng links: connected pipes, -1 for a link not configured */
	int link_scorer_events, link_scorer_ingest, link_scorer_acks;
	int link_alerter_events;
	/* The gateway's outbox, one entry per agency (sender.h) */
	const hsi_sender_agency *agencies;
	size_t                   n_agencies;
	long long                now_ms; /* wall clock, for ack ages */
} hsi_metrics_gauges;

/*
 * The exposition text of m and g (heap, NUL-terminated: caller frees).
 * Returns 0 and *out, *len, or HSI_ENOMEM.
 */
int hsi_metrics_render(const hsi_metrics *m, const hsi_metrics_gauges *g,
    char **out, size_t *len);

#endif
