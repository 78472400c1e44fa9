/*
 * metrics.c: hsi-api's counters and GET /metrics (see metrics.h).
 *
 * Request counts are labelled by route pattern (never the raw path, so a
 * client cannot mint series), method and status. They live in a fixed
 * open-addressing table whose slots are claimed with one compare-and-swap
 * and counted with fetch-add, so the two HTTP threads never wait on each
 * other or on a scrape. Durations go into one histogram per route with
 * Prometheus's default buckets; its sum is kept in microseconds, an
 * integer, because C11 has no portable atomic add for doubles.
 */
#include "metrics.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "error.h"
#include "events.h"
#include "reply.h"
#include "routes.h"
#include "server.h"
#include "sse.h"

#define SERIES_BITS 12
_Static_assert((1u << SERIES_BITS) == HSI_METRICS_SERIES,
    "the series table is a power of two");
#define STATUS_BITS 10 /* statuses up to 999 */
#define METHOD_BITS 3

/* Methods by name; anything else counts as "other" (the last). */
static const char *const method_names[]
    = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other" };
#define N_METHODS ((int) (sizeof(method_names) / sizeof(method_names[0])))

/* Upper bounds of the duration buckets, in seconds; +Inf follows. */
static const double bucket_s[]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define N_BUCKETS ((int) (sizeof(bucket_s) / sizeof(bucket_s[0])))

typedef struct {
	_Atomic uint32_t key; /* 0: free; else route, method and status */
	_Atomic uint64_t n;
} series;

typedef struct {
	_Atomic uint64_t bucket[N_BUCKETS + 1]; /* not cumulative */
	_Atomic uint64_t sum_us;
} histogram;

struct hsi_metrics {
	const hsi_route **route; /* every route; index n_routes: none */
	int               n_routes;
	histogram        *hist; /* n_routes + 1 */
	double            start_time_s;
	_Atomic uint64_t  rate_limited;
	_Atomic uint64_t  unlabelled;
	series            series[HSI_METRICS_SERIES];
};

int
hsi_metrics_alloc(const hsi_route *const *routes, hsi_metrics **out)
{
	int n = 0;
	for (int t = 0; routes != NULL && routes[t] != NULL; t++) {
		for (const hsi_route *r = routes[t]; r->method != NULL; r++) {
			n++;
		}
	}
	hsi_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL
	    || (m->route = calloc((size_t) n + 1, sizeof(*m->route))) == NULL
	    || (m->hist = calloc((size_t) n + 1, sizeof(*m->hist))) == NULL) {
		hsi_metrics_free(m);
		return HSI_ENOMEM;
	}
	for (int t = 0; routes != NULL && routes[t] != NULL; t++) {
		for (const hsi_route *r = routes[t]; r->method != NULL; r++) {
			m->route[m->n_routes++] = r;
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_time_s = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
	*out            = m;
	return 0;
}

void
hsi_metrics_free(hsi_metrics *m)
{
	if (m == NULL) {
		return;
	}
	free(m->route);
	free(m->hist);
	free(m);
}

/* The route's index; n_routes for none (or one not in the tables). */
static int
route_index(const hsi_metrics *m, const hsi_route *route)
{
	for (int i = 0; route != NULL && i < m->n_routes; i++) {
		if (m->route[i] == route) {
			return i;
		}
	}
	return m->n_routes;
}

static uint32_t
method_index(const char *method)
{
	uint32_t i = 0;
	while (i + 1 < (uint32_t) N_METHODS
	    && (method == NULL || strcmp(method, method_names[i]) != 0)) {
		i++;
	}
	return i;
}

static void
add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Counts one request of series key, claiming a slot on first use. */
static void
count_series(hsi_metrics *m, uint32_t key)
{
	uint32_t h = (key * 2654435761u) >> (32 - SERIES_BITS);
	for (uint32_t i = 0; i < HSI_METRICS_SERIES; i++) {
		series  *s = &m->series[(h + i) & (HSI_METRICS_SERIES - 1)];
		uint32_t k
		    = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == 0
		    && atomic_compare_exchange_strong_explicit(&s->key, &k,
		        key, memory_order_acq_rel, memory_order_acquire)) {
			k = key; /* claimed; else k is what another put */
		}
		if (k == key) {
			add(&s->n, 1);
			return;
		}
	}
	add(&m->unlabelled, 1);
}

void
hsi_metrics_request(hsi_metrics *m, const hsi_route *route, const char *method,
    unsigned status, double seconds)
{
	if (m == NULL) {
		return;
	}
	uint32_t r   = (uint32_t) route_index(m, route);
	uint32_t key = (r + 1) << (METHOD_BITS + STATUS_BITS)
	    | method_index(method) << STATUS_BITS
	    | (status < 1000 ? status : 999);
	count_series(m, key);
	int b = 0;
	while (b < N_BUCKETS && seconds > bucket_s[b]) {
		b++;
	}
	histogram *h = &m->hist[r];
	add(&h->bucket[b], 1);
	add(&h->sum_us,
	    seconds > 0 ? (uint64_t) llround(seconds * 1e6) : (uint64_t) 0);
	if (status == 429) {
		add(&m->rate_limited, 1);
	}
}

static uint64_t
get(const _Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static void
header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format wants (\\, \", \n). */
static void
label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"') {
			fputc('\\', f);
			fputc(*v, f);
		} else if (*v == '\n') {
			fputs("\\n", f);
		} else {
			fputc(*v, f);
		}
	}
}

static const char *
route_name(const hsi_metrics *m, uint32_t r)
{
	return r < (uint32_t) m->n_routes ? m->route[r]->pattern : "other";
}

typedef struct {
	uint32_t key;
	uint64_t n;
} sample;

static int
by_key(const void *a, const void *b)
{
	uint32_t x = ((const sample *) a)->key, y = ((const sample *) b)->key;
	return x < y ? -1 : x > y;
}

static void
render_requests(FILE *f, const hsi_metrics *m, sample *snap)
{
	size_t k = 0;
	header(f, "hsi_api_requests_total", "counter",
	    "Requests answered, by route pattern (\"other\": no route "
	    "matched), method and status (0: no answer was sent).");
	for (int i = 0; i < HSI_METRICS_SERIES; i++) {
		snap[k].key = atomic_load_explicit(
		    &m->series[i].key, memory_order_acquire);
		snap[k].n = get(&m->series[i].n);
		k += snap[k].key != 0 && snap[k].n > 0;
	}
	qsort(snap, k, sizeof(snap[0]), by_key);
	for (size_t i = 0; i < k; i++) {
		uint32_t key = snap[i].key;
		fputs("hsi_api_requests_total{route=\"", f);
		label(f,
		    route_name(m, (key >> (METHOD_BITS + STATUS_BITS)) - 1));
		fprintf(f, "\",method=\"%s\",status=\"%u\"} %llu\n",
		    method_names[(key >> STATUS_BITS)
		        & ((1u << METHOD_BITS) - 1)],
		    key & ((1u << STATUS_BITS) - 1),
		    (unsigned long long) snap[i].n);
	}
}

static void
render_histograms(FILE *f, const hsi_metrics *m)
{
	header(f, "hsi_api_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its completion, by route "
	    "pattern.");
	for (int r = 0; r <= m->n_routes; r++) {
		const histogram *h = &m->hist[r];
		uint64_t         cum[N_BUCKETS + 1], total = 0;
		for (int b = 0; b <= N_BUCKETS; b++) {
			total += get(&h->bucket[b]);
			cum[b] = total;
		}
		if (total == 0) {
			continue;
		}
		for (int b = 0; b <= N_BUCKETS; b++) {
			fputs(
			    "hsi_api_request_duration_seconds_bucket{route=\"",
			    f);
			label(f, route_name(m, (uint32_t) r));
			if (b < N_BUCKETS) {
				fprintf(f, "\",le=\"%g\"} ", bucket_s[b]);
			} else {
				fputs("\",le=\"+Inf\"} ", f);
			}
			fprintf(f, "%llu\n", (unsigned long long) cum[b]);
		}
		fputs("hsi_api_request_duration_seconds_sum{route=\"", f);
		label(f, route_name(m, (uint32_t) r));
		fprintf(f, "\"} %.6f\n", (double) get(&h->sum_us) / 1e6);
		fputs("hsi_api_request_duration_seconds_count{route=\"", f);
		label(f, route_name(m, (uint32_t) r));
		fprintf(f, "\"} %llu\n", (unsigned long long) total);
	}
}

static void
render_counters(FILE *f, const hsi_metrics *m)
{
	header(f, "hsi_api_requests_unlabelled_total", "counter",
	    "Requests counted only here: the series table was full.");
	fprintf(f, "hsi_api_requests_unlabelled_total %llu\n",
	    (unsigned long long) get(&m->unlabelled));
	header(f, "hsi_api_rate_limited_total", "counter",
	    "Requests refused by the rate limit (429).");
	fprintf(f, "hsi_api_rate_limited_total %llu\n",
	    (unsigned long long) get(&m->rate_limited));
	header(f, "hsi_api_start_time_seconds", "gauge",
	    "Start time of the process, in seconds since the Unix epoch.");
	fprintf(f, "hsi_api_start_time_seconds %.3f\n", m->start_time_s);
}

/* The nng links and the gateway's outbox per agency (sender.h). */
static void
render_links(FILE *f, const hsi_metrics_gauges *g)
{
	const struct {
		const char *name;
		int         pipes;
	} links[] = {
		{ "scorer_events", g->link_scorer_events },
		{ "scorer_ingest", g->link_scorer_ingest },
		{ "scorer_acks", g->link_scorer_acks },
		{ "alerter_events", g->link_alerter_events },
	};
	header(f, "hsi_api_nng_link_up", "gauge",
	    "1 when the nng link is connected (see /readyz), 0 when not.");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i].pipes >= 0) {
			fprintf(f, "hsi_api_nng_link_up{link=\"%s\"} %d\n",
			    links[i].name, links[i].pipes > 0);
		}
	}
	header(f, "hsi_api_gateway_outbox_parts", "gauge",
	    "Submission parts committed by the gateway and not yet "
	    "acknowledged by the scorer, per agency.");
	for (size_t i = 0; i < g->n_agencies; i++) {
		fputs("hsi_api_gateway_outbox_parts{agency=\"", f);
		label(f, g->agencies[i].agency);
		fprintf(f, "\"} %llu\n",
		    (unsigned long long) g->agencies[i].pending_parts);
	}
	header(f, "hsi_api_gateway_link_stalled", "gauge",
	    "1 when parts wait and the scorer has not acknowledged the "
	    "agency's gateway node for 5 s.");
	for (size_t i = 0; i < g->n_agencies; i++) {
		fputs("hsi_api_gateway_link_stalled{agency=\"", f);
		label(f, g->agencies[i].agency);
		fprintf(f, "\"} %d\n", g->agencies[i].stalled);
	}
	header(f, "hsi_api_gateway_last_ack_age_seconds", "gauge",
	    "Seconds since the scorer last acknowledged the agency's gateway "
	    "node (absent: not since the gateway started).");
	for (size_t i = 0; i < g->n_agencies; i++) {
		long long heard = g->agencies[i].last_heard_ms;
		if (heard <= 0) {
			continue;
		}
		fputs("hsi_api_gateway_last_ack_age_seconds{agency=\"", f);
		label(f, g->agencies[i].agency);
		fprintf(f, "\"} %.3f\n",
		    heard < g->now_ms ? (double) (g->now_ms - heard) / 1e3
		                      : 0.0);
	}
}

static void
render_gauges(FILE *f, const hsi_metrics_gauges *g)
{
	header(f, "hsi_api_db_pool_connections_in_use", "gauge",
	    "PostgreSQL connections of the pool held by requests now.");
	fprintf(f, "hsi_api_db_pool_connections_in_use %d\n", g->pool_in_use);
	header(f, "hsi_api_db_pool_connections_max", "gauge",
	    "Size of the PostgreSQL connection pool.");
	fprintf(f, "hsi_api_db_pool_connections_max %d\n", g->pool_size);
	header(f, "hsi_api_cache_hits_total", "counter",
	    "Index answers served from the response cache.");
	fprintf(f, "hsi_api_cache_hits_total %llu\n", g->cache_hits);
	header(f, "hsi_api_cache_misses_total", "counter",
	    "Index answers built from the database (not in the cache).");
	fprintf(f, "hsi_api_cache_misses_total %llu\n", g->cache_misses);
	header(f, "hsi_api_sse_clients", "gauge",
	    "Server-Sent Events streams open now.");
	fprintf(f, "hsi_api_sse_clients %lld\n", g->sse_clients);
	render_links(f, g);
}

int
hsi_metrics_render(
    const hsi_metrics *m, const hsi_metrics_gauges *g, char **out, size_t *len)
{
	char   *text = NULL;
	size_t  n    = 0;
	sample *snap = m ? calloc(HSI_METRICS_SERIES, sizeof(*snap)) : NULL;
	FILE   *f    = m == NULL || snap ? open_memstream(&text, &n) : NULL;
	if (f == NULL) {
		free(snap);
		return HSI_ENOMEM;
	}
	if (m != NULL) {
		render_requests(f, m, snap);
		render_histograms(f, m);
		render_counters(f, m);
	}
	render_gauges(f, g);
	int failed = ferror(f);
	failed |= fclose(f);
	free(snap);
	if (failed) {
		free(text);
		return HSI_ENOMEM;
	}
	*out = text;
	*len = n;
	return 0;
}

static int
get_metrics(hsi_call *c)
{
	const hsi_server  *srv = hsi_call_server(c);
	hsi_metrics_gauges g;
	char              *text;
	size_t             len;
	memset(&g, 0, sizeof(g));
	hsi_pool_usage(srv->pool, &g.pool_in_use, &g.pool_size);
	hsi_cache_counts(srv->cache, &g.cache_hits, &g.cache_misses);
	g.sse_clients
	    = srv->sse ? (long long) hsi_sse_hub_clients(srv->sse) : 0;
	hsi_events_links(
	    srv->events, &g.link_scorer_events, &g.link_alerter_events);
	hsi_sender_links(
	    srv->sender, &g.link_scorer_ingest, &g.link_scorer_acks);
	/* One entry per agency with a gateway node: at most the catalog's
	 * agencies, far below this. */
	hsi_sender_agency ags[256];
	size_t            n = hsi_sender_agencies(srv->sender, ags, 256);
	g.agencies          = ags;
	g.n_agencies        = n < 256 ? n : 256;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	g.now_ms = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int rv   = hsi_metrics_render(srv->metrics, &g, &text, &len);
	if (rv != 0) {
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return hsi_reply_queue(c, MHD_HTTP_OK, resp);
}

/* Open like the probes: a scraper on the operators' network sends no
 * token, no query worth refusing, and an Accept of its own. */
const hsi_route hsi_routes_metrics[] = {
	{ .method    = "GET",
	    .pattern = "/metrics",
	    .handler = get_metrics,
	    .access  = HSI_ACCESS_OPEN,
	    .flags   = HSI_ROUTE_ANY_QUERY | HSI_ROUTE_NO_LIMIT
	        | HSI_ROUTE_ANY_ACCEPT },
	HSI_ROUTE_END,
};
