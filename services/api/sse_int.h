/*
 * sse_int.h: what the SSE hub (sse.c), its events (sse_event.c) and the
 * GET /v1/events endpoint (sse_route.c) share. Nothing else includes it.
 *
 * Positions. An event's `id` is "s<score seq>.a<alert seq>": for each
 * feed, the sequence of the last event of that feed the client has been
 * given (both sequences come from PostgreSQL: score_event.seq and
 * alert_event.seq). Every client keeps its own position; a reconnecting
 * client sends it back as Last-Event-ID and gets every event whose own
 * sequence is above the component of its feed.
 */
#ifndef HSI_API_SSE_INT_H
#define HSI_API_SSE_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "sse.h"

#define HSI_SSE_RESET HSI_SSE_TOPICS /* the topic of a `reset` event */

/* Topic bits a client asks for: 1u << HSI_SSE_SCORE ... */
#define HSI_SSE_ALL ((1u << HSI_SSE_TOPICS) - 1)

typedef struct {
	uint64_t seq[HSI_SSE_TOPICS];
} hsi_sse_pos;

/* One event as it is streamed: immutable once made, shared by the ring
 * and every queue that holds it (reference counted). */
typedef struct {
	atomic_int refs;
	int        topic;  /* hsi_sse_topic, or HSI_SSE_RESET */
	uint64_t   seq;    /* in its topic's sequence; 0 for reset */
	int64_t    at_ms;  /* when it happened, for ordering a replay */
	size_t     len;    /* of data */
	char       data[]; /* one line of compact JSON, NUL-terminated */
} hsi_sse_event;

/* An event of topic holding data (stolen, success or not; dumped with
 * 17 significant digits). Returns NULL when out of memory. */
hsi_sse_event *hsi_sse_event_make(
    int topic, uint64_t seq, int64_t at_ms, json_t *data);

/* Another reference; the last hsi_sse_event_unref frees (NULL ok). */
hsi_sse_event *hsi_sse_event_ref(hsi_sse_event *e);
void           hsi_sse_event_unref(hsi_sse_event *e);

/* "score", "alert" or "reset". */
const char *hsi_sse_topic_name(int topic);

/*
 * Decodes a wire message (topic '\n' Envelope) into *out: a ScoreEvent
 * as ScoreEventData, an AlertEvent as AlertEventData (openapi.yaml).
 * Returns 0 and *out; HSI_ENOENT for an alert that is not streamed
 * (pending, cancelled); HSI_EPROTO when malformed (a field that is not
 * what the contract promises: fingerprint, period, area codes, UTF-8).
 */
int hsi_sse_event_decode(const void *msg, size_t len, hsi_sse_event **out);

/* Row i of the score replay query (sse_route.c: seq, methodology, period,
 * areas joined by commas, milliseconds), or NULL when malformed or out of
 * memory. */
hsi_sse_event *hsi_sse_event_score_row(const PGresult *r, int i);

/* Row i of the alert replay query (seq, fingerprint, rule, state, area,
 * code, period, value, threshold, summary_en, summary_th, milliseconds),
 * or NULL. */
hsi_sse_event *hsi_sse_event_alert_row(const PGresult *r, int i);

/* What a stream's handler learnt from PostgreSQL before it opens. */
typedef struct {
	hsi_sse_pos     db_max; /* highest sequences in PostgreSQL */
	unsigned        gen[HSI_SSE_TOPICS]; /* hsi_sse_plan's, before */
	hsi_sse_event **events; /* what the client missed, in order */
	size_t          n;
	int             reset; /* more than HSI_SSE_REPLAY_MAX missed */
} hsi_sse_replay;

/* Frees the replay's events and array (the struct is the caller's). */
void hsi_sse_replay_fini(hsi_sse_replay *r);

/* The hub's answer to "may this stream open, and from where?" */
typedef struct {
	int      full;    /* HSI_SSE_MAX_CLIENTS streams are open: 503 */
	int      need_db; /* the ring cannot serve it: query PostgreSQL */
	unsigned gen[HSI_SSE_TOPICS];
} hsi_sse_plan;

/*
 * Whether a stream for topics (HSI_SSE_ALL bits) starting after from
 * (NULL: from now on) can be served from the ring, or needs PostgreSQL
 * first: the positions of the hub are not known yet, or from is older
 * than the ring reaches.
 */
void hsi_sse_hub_plan(hsi_sse_hub *hub, unsigned topics,
    const hsi_sse_pos *from, hsi_sse_plan *out);

typedef struct hsi_sse_client hsi_sse_client;

/*
 * Registers a stream for conn: queues a `retry` hint, then `reset` or the
 * replayed events (replay, after hsi_sse_hub_plan's need_db; it stays
 * the caller's, the queue takes references), then what the ring holds
 * after the client's position; live events follow. Returns 0 and *out (close
 * it with hsi_sse_client_close, which the response's free callback is),
 * HSI_ETOOBIG when HSI_SSE_MAX_CLIENTS streams are open, HSI_ECLOSED
 * when the hub is stopping, or HSI_ENOMEM.
 */
int hsi_sse_client_open(hsi_sse_hub *hub, struct MHD_Connection *conn,
    unsigned topics, const hsi_sse_pos *from, hsi_sse_replay *replay,
    hsi_sse_client **out);

/* The stream's MHD_ContentReaderCallback (cls: the client): what is
 * queued, or nothing after suspending the connection. */
ssize_t hsi_sse_client_read(void *cls, uint64_t pos, char *buf, size_t max);

/* The stream's MHD_ContentReaderFreeCallback: unregisters and frees. */
void hsi_sse_client_close(void *cls);

#endif
