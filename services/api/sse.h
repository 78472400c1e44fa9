/*
 * sse.h: the hub behind GET /v1/events (Server-Sent Events). It receives
 * the scorer's ScoreEvents and the alerter's AlertEvents from the events
 * threads (events.c), keeps the last HSI_SSE_RING_EVENTS of them in a
 * ring so a client that reconnects with Last-Event-ID is caught up
 * without a database query, and fans each event out to every open
 * stream's own small queue.
 *
 * Streams hold no thread: a stream whose queue is empty is suspended in
 * libmicrohttpd (MHD_suspend_connection from its content reader) and
 * resumed when something is queued for it (the daemon must run with
 * MHD_ALLOW_SUSPEND_RESUME). A client that falls more than
 * HSI_SSE_CLIENT_MAX_BYTES behind is dropped, so a slow reader never
 * holds up the others or grows memory; it reconnects with its
 * Last-Event-ID and is caught up from the ring or PostgreSQL.
 *
 * The endpoint itself is sse_route.c; sse_int.h is what it shares with
 * the hub. docs/api-internals.md ("Event streams") tells the whole story.
 */
#ifndef HSI_API_SSE_H
#define HSI_API_SSE_H

#include <stddef.h>

#define HSI_SSE_MAX_CLIENTS 128 /* open streams; beyond: 503 */
#define HSI_SSE_RING_EVENTS 512 /* recent events kept for replay */
#define HSI_SSE_REPLAY_MAX 1000 /* from PostgreSQL; beyond: reset */
#define HSI_SSE_HEARTBEAT_S 15  /* a comment line when idle */
#define HSI_SSE_CLIENT_MAX_BYTES (1u << 20) /* lag before a drop */
#define HSI_SSE_CLIENT_MAX_ENTRIES 2048     /* queued events per client */

typedef struct hsi_sse_hub hsi_sse_hub;

/* Which feed an event came from. */
typedef enum {
	HSI_SSE_SCORE = 0, /* scorer, topic "score" */
	HSI_SSE_ALERT = 1, /* alerter, topic "alert" */
} hsi_sse_topic;

#define HSI_SSE_TOPICS 2

/* An empty hub (no streams, nothing known yet). Returns 0 and *out, or
 * HSI_ENOMEM. */
int hsi_sse_hub_alloc(hsi_sse_hub **out);

/* Starts the heartbeat thread. Returns 0 or HSI_ENOMEM. */
int hsi_sse_hub_start(hsi_sse_hub *hub);

/*
 * Ends every stream (each is resumed and finishes at once) and joins the
 * heartbeat thread. Call it before MHD_stop_daemon: libmicrohttpd must
 * not be stopped with suspended connections. Streams opened afterwards
 * end at once. NULL ok.
 */
void hsi_sse_hub_stop(hsi_sse_hub *hub);

/* Frees the hub, after hsi_sse_hub_stop and MHD_stop_daemon (every
 * stream is closed by then) and after the events threads (NULL ok). */
void hsi_sse_hub_free(hsi_sse_hub *hub);

/*
 * One wire message from a subscriber thread (topic '\n' Envelope with a
 * ScoreEvent or an AlertEvent; the message stays the caller's). Malformed
 * messages are logged and dropped; alert states other than firing and
 * resolved (pending, cancelled) are not streamed. Never blocks on a
 * client.
 */
void hsi_sse_hub_post(hsi_sse_hub *hub, const void *msg, size_t len);

/*
 * The subscription to topic's publisher (re)connected: events sent while
 * it was down are lost, so the ring no longer vouches for that topic (a
 * reconnecting client is replayed from PostgreSQL) and, on a reconnect,
 * open streams get a `reset` event (reload what you show).
 */
void hsi_sse_hub_connected(hsi_sse_hub *hub, hsi_sse_topic topic);

/* Streams open now (for metrics). */
size_t hsi_sse_hub_clients(hsi_sse_hub *hub);

#endif
