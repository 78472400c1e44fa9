/*
 * events.c: cache invalidation from score events, and the feeds of the
 * event streams (see events.h). Each subscription has a thread blocked in
 * nng_recvmsg without a receive timeout (nng 1.5.2 can crash with one);
 * closing its socket is what ends it.
 */
#include "events.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "error.h"
#include "event.h"
#include "log.h"
#include "net.h"
#include "period.h"
#include "sse.h"

struct hsi_events {
	nng_socket         sock;
	hsi_cache         *cache;
	hsi_sse_hub       *hub;
	pthread_t          thread;
	unsigned long long last_seq;
	nng_socket         alerts; /* the alerter's PUB, when has_alerts */
	pthread_t          alerts_thread;
	int                has_alerts;
	hsi_net_link       score_link, alerts_link;
};

static void
handle(hsi_events *ev, const void *msg, size_t len)
{
	uint64_t seq;
	char     period[HSI_PERIOD_MAX];
	if (hsi_score_event_decode(msg, len, &seq, period) != 0) {
		hsi_log_warn("dropped a malformed score event", "{s:i}",
		    "bytes", (int) len);
		return;
	}
	hsi_sse_hub_post(ev->hub, msg, len);
	if (ev->last_seq != 0 && seq > ev->last_seq + 1) {
		hsi_log_info("score event gap: cache cleared", "{s:I, s:I}",
		    "last_seq", (json_int_t) ev->last_seq, "seq",
		    (json_int_t) seq);
		hsi_cache_invalidate(ev->cache, NULL);
	} else {
		hsi_cache_invalidate(ev->cache, period);
	}
	if (seq > ev->last_seq) {
		ev->last_seq = seq;
	}
	hsi_log_debug("score event", "{s:I, s:s}", "seq", (json_int_t) seq,
	    "period", period);
}

static void
handle_alert(hsi_events *ev, const void *msg, size_t len)
{
	hsi_sse_hub_post(ev->hub, msg, len);
}

static void
recv_loop(hsi_events *ev, nng_socket sock,
    void (*fn)(hsi_events *, const void *, size_t))
{
	for (;;) {
		nng_msg *m;
		int      rv = nng_recvmsg(sock, &m, 0);
		if (rv == NNG_ECLOSED) {
			return;
		}
		if (rv != 0) {
			hsi_log_warn("receive failed", "{s:s}", "error",
			    nng_strerror(rv));
			continue;
		}
		fn(ev, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
	}
}

static void *
recv_main(void *arg)
{
	hsi_events *ev = arg;
	recv_loop(ev, ev->sock, handle);
	return NULL;
}

static void *
alerts_main(void *arg)
{
	hsi_events *ev = arg;
	recv_loop(ev, ev->alerts, handle_alert);
	return NULL;
}

/* Events sent while we were disconnected are lost for good. */
static void
on_connect(void *arg)
{
	hsi_events *ev = arg;
	hsi_cache_invalidate(ev->cache, NULL);
	hsi_sse_hub_connected(ev->hub, HSI_SSE_SCORE);
}

static void
on_alerts_connect(void *arg)
{
	hsi_events *ev = arg;
	hsi_sse_hub_connected(ev->hub, HSI_SSE_ALERT);
}

/* The second subscription: the alerter's "alert" events, for streams. */
static int
start_alerts(hsi_events *ev, const char *url, const hsi_net_tls *tls,
    char *err, size_t err_size)
{
	static const char *const topics[] = { "alert\n", NULL };
	int                      rv;
	ev->alerts_link.on_up = on_alerts_connect;
	ev->alerts_link.arg   = ev;
	if ((rv = hsi_net_sub_open_link(&ev->alerts, url, 0, topics, tls,
	         &ev->alerts_link, err, err_size))
	    != 0) {
		return rv;
	}
	if (pthread_create(&ev->alerts_thread, NULL, alerts_main, ev) != 0) {
		nng_close(ev->alerts);
		snprintf(err, err_size, "cannot start the alerts thread");
		return HSI_ENOMEM;
	}
	ev->has_alerts = 1;
	return 0;
}

int
hsi_events_start(const char *url, const char *alerts_url,
    const hsi_net_tls *tls, hsi_cache *cache, hsi_sse_hub *hub,
    hsi_events **out, char *err, size_t err_size)
{
	static const char *const topics[] = { "score\n", NULL };
	hsi_events              *ev       = calloc(1, sizeof(*ev));
	int                      rv;
	if (ev == NULL) {
		return HSI_ENOMEM;
	}
	ev->cache            = cache;
	ev->hub              = hub;
	ev->score_link.on_up = on_connect;
	ev->score_link.arg   = ev;
	if ((rv = hsi_net_sub_open_link(&ev->sock, url, 0, topics, tls,
	         &ev->score_link, err, err_size))
	    != 0) {
		free(ev);
		return rv;
	}
	if (pthread_create(&ev->thread, NULL, recv_main, ev) != 0) {
		nng_close(ev->sock);
		free(ev);
		snprintf(err, err_size, "cannot start the events thread");
		return HSI_ENOMEM;
	}
	if (alerts_url != NULL
	    && (rv = start_alerts(ev, alerts_url, tls, err, err_size)) != 0) {
		hsi_events_stop(ev);
		return rv;
	}
	*out = ev;
	return 0;
}

void
hsi_events_links(const hsi_events *ev, int *score, int *alerts)
{
	*score  = ev ? hsi_net_link_pipes(&ev->score_link) : 0;
	*alerts = ev == NULL || !ev->has_alerts
	    ? -1
	    : hsi_net_link_pipes(&ev->alerts_link);
}

void
hsi_events_stop(hsi_events *ev)
{
	if (ev == NULL) {
		return;
	}
	/* Bounded: nng 1.5.2's close can hang (net.h); then the thread is
	 * abandoned with ev, since the process is exiting. */
	if (hsi_net_close_bounded(ev->sock, 3000) != 0
	    || (ev->has_alerts
	        && hsi_net_close_bounded(ev->alerts, 3000) != 0)) {
		return;
	}
	pthread_join(ev->thread, NULL);
	if (ev->has_alerts) {
		pthread_join(ev->alerts_thread, NULL);
	}
	free(ev);
}
