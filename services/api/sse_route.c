/*
 * sse_route.c: GET /v1/events, the dashboard's live feed (openapi.yaml,
 * streamEvents): Server-Sent Events `score`, `alert` and `reset`, each
 * with an id "s<score seq>.a<alert seq>" that Last-Event-ID brings back.
 *
 * The handler only decides where a stream starts and registers it with
 * the hub (sse.c); after that libmicrohttpd pulls the stream through the
 * hub's content reader, with no thread of ours. A client that comes back
 * with a Last-Event-ID the ring still covers is caught up from memory;
 * otherwise the events it missed are read from PostgreSQL (score_event
 * and alert_event, the same tables the live events were committed to),
 * up to HSI_SSE_REPLAY_MAX, and beyond that it gets `reset`: reload.
 *
 * Access is that of every read (x-hsi-roles includes public): with
 * public_reads on, browsers' EventSource, which cannot send an
 * Authorization header, needs no token; with it off a dashboard must use
 * a fetch()-based client that sends the bearer token. Tokens in the URL
 * are deliberately not accepted: URLs end up in logs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "db.h"
#include "error.h"
#include "log.h"
#include "negotiate.h"
#include "reply.h"
#include "routes.h"
#include "sse_int.h"

#define LAST_EVENT_ID "Last-Event-ID"
#define BLOCK_BYTES (16 * 1024)

static const char *const topic_names[] = { "score", "alert", NULL };

static const hsi_qparam events_query[] = {
	{ .name        = "topics",
	    .type      = HSI_QT_LIST,
	    .item      = HSI_QT_ENUM,
	    .choices   = topic_names,
	    .max_items = 2,
	    .example   = "score,alert" },
	{ .name = NULL },
};

/* One run of 1-19 digits at *p, ending in stop: 0 and *out. */
static int
digits(const char **p, char stop, uint64_t *out)
{
	size_t n = strspn(*p, "0123456789");
	if (n < 1 || n > 19 || (*p)[n] != stop) {
		return HSI_EINVAL;
	}
	*out = strtoull(*p, NULL, 10);
	*p += n + (stop != '\0');
	return 0;
}

/* "s<seq>.a<seq>" (the contract's pattern). 0 and *out, or HSI_EINVAL. */
static int
parse_id(const char *s, hsi_sse_pos *out)
{
	hsi_sse_pos pos;
	if (strlen(s) > 64 || *s++ != 's'
	    || digits(&s, '.', &pos.seq[HSI_SSE_SCORE]) != 0 || *s++ != 'a'
	    || digits(&s, '\0', &pos.seq[HSI_SSE_ALERT]) != 0) {
		return HSI_EINVAL;
	}
	*out = pos;
	return 0;
}

/* Topic bits from ?topics= (default both). */
static unsigned
topics_of(const hsi_call *c)
{
	const hsi_qvalue *v = hsi_call_value(c, "topics");
	unsigned          m = 0;
	if (v == NULL) {
		return HSI_SSE_ALL;
	}
	for (int i = 0; i < v->n_items; i++) {
		m |= strcmp(v->items[i], "score") == 0 ? 1u << HSI_SSE_SCORE
		                                       : 1u << HSI_SSE_ALERT;
	}
	return m;
}

/* ------------------------------------------------------ PostgreSQL */

static const char sql_max[]
    = "SELECT (SELECT COALESCE(max(seq), 0) FROM score_event),"
      " (SELECT COALESCE(max(seq), 0) FROM alert_event)";

static const char sql_scores[]
    = "SELECT seq, methodology, period, array_to_string(areas, ','),"
      " (extract(epoch FROM created_at) * 1000)::bigint "
      "FROM score_event WHERE seq > $1::bigint AND seq <= $2::bigint "
      "ORDER BY seq LIMIT $3::int";

/* Only transitions are streamed; acknowledgements, notifications and
 * pending alerts are alert_events too, and are skipped. Texts come from
 * the alert as it is now (alert_event keeps no copy). */
static const char sql_alerts[]
    = "SELECT e.seq, e.fingerprint, a.rule, e.state, a.labels->>'area',"
      " a.labels->>'code', COALESCE(e.detail->>'period',"
      " a.labels->>'period'), e.value, a.threshold,"
      " a.annotations->>'summary_en', a.annotations->>'summary_th',"
      " (extract(epoch FROM e.at) * 1000)::bigint "
      "FROM alert_event e JOIN alert a ON a.fingerprint = e.fingerprint "
      "WHERE e.seq > $1::bigint AND e.seq <= $2::bigint"
      " AND e.state IN ('firing', 'resolved') "
      "ORDER BY e.seq LIMIT $3::int";

typedef struct {
	unsigned           topics;
	const hsi_sse_pos *from; /* NULL: only the positions */
	hsi_sse_replay    *r;
	PGresult          *rows[HSI_SSE_TOPICS];
} replay_args;

/* The rows of topic t after from, up to db_max; 0 or HSI_EDB/EINVAL. */
static int
read_rows(PGconn *db, replay_args *a, int t)
{
	char        lo[24], hi[24], lim[16];
	const char *p[3] = { lo, hi, lim };
	snprintf(lo, sizeof(lo), "%" PRIu64, a->from->seq[t]);
	snprintf(hi, sizeof(hi), "%" PRIu64, a->r->db_max.seq[t]);
	snprintf(lim, sizeof(lim), "%d", HSI_SSE_REPLAY_MAX + 1);
	a->rows[t] = hsi_db_query(db,
	    t == HSI_SSE_SCORE ? "score events" : "alert events",
	    t == HSI_SSE_SCORE ? sql_scores : sql_alerts, 3, p);
	if (a->rows[t] == NULL) {
		return PQstatus(db) != CONNECTION_OK ? HSI_EDB : HSI_EINVAL;
	}
	return 0;
}

/* Merges the rows of both topics by time into r->events. */
static int
merge(replay_args *a)
{
	int n[HSI_SSE_TOPICS], k[HSI_SSE_TOPICS] = { 0, 0 };
	for (int t = 0; t < HSI_SSE_TOPICS; t++) {
		n[t] = a->rows[t] ? PQntuples(a->rows[t]) : 0;
	}
	if (n[0] + n[1] > HSI_SSE_REPLAY_MAX) {
		a->r->reset = 1;
		return 0;
	}
	a->r->events = calloc((size_t) (n[0] + n[1]) + 1, sizeof(void *));
	if (a->r->events == NULL) {
		return HSI_ENOMEM;
	}
	hsi_sse_event *head[HSI_SSE_TOPICS] = { NULL, NULL };
	for (;;) {
		for (int t = 0; t < HSI_SSE_TOPICS; t++) {
			while (head[t] == NULL && k[t] < n[t]) {
				head[t] = t == HSI_SSE_SCORE
				    ? hsi_sse_event_score_row(a->rows[t], k[t])
				    : hsi_sse_event_alert_row(
				        a->rows[t], k[t]);
				k[t]++;
				if (head[t] == NULL) {
					hsi_log_warn("event not replayed: "
					             "malformed row",
					    "{s:s}", "feed",
					    hsi_sse_topic_name(t));
				}
			}
		}
		if (head[0] == NULL && head[1] == NULL) {
			return 0;
		}
		int t                   = head[1] == NULL
                        || (head[0] != NULL
                            && head[0]->at_ms <= head[1]->at_ms)
		                      ? 0
		                      : 1;
		a->r->events[a->r->n++] = head[t];
		head[t]                 = NULL;
	}
}

/* hsi_call_run's function: positions, then what the client missed.
 * Safe to repeat. */
static int
read_replay(PGconn *db, void *arg)
{
	replay_args *a  = arg;
	int          rv = 0;
	hsi_sse_replay_fini(a->r);
	a->r->reset = 0;
	PGresult *m = hsi_db_query(db, "event positions", sql_max, 0, NULL);
	if (m == NULL) {
		return PQstatus(db) != CONNECTION_OK ? HSI_EDB : HSI_EINVAL;
	}
	a->r->db_max.seq[HSI_SSE_SCORE]
	    = strtoull(PQgetvalue(m, 0, 0), NULL, 10);
	a->r->db_max.seq[HSI_SSE_ALERT]
	    = strtoull(PQgetvalue(m, 0, 1), NULL, 10);
	PQclear(m);
	for (int t = 0; a->from != NULL && t < HSI_SSE_TOPICS; t++) {
		if (!(a->topics & (1u << t))) {
			continue;
		}
		if (a->from->seq[t] > a->r->db_max.seq[t]) {
			a->r->reset = 1; /* ahead of the database: restored */
		} else if (rv == 0 && a->from->seq[t] < a->r->db_max.seq[t]) {
			rv = read_rows(db, a, t);
		}
	}
	if (rv == 0 && !a->r->reset) {
		rv = merge(a);
	}
	for (int t = 0; t < HSI_SSE_TOPICS; t++) {
		PQclear(a->rows[t]);
		a->rows[t] = NULL;
	}
	return rv;
}

/* ------------------------------------------------------- the handler */

static int
unavailable(hsi_call *c, const char *detail)
{
	static const char *const h[]
	    = { MHD_HTTP_HEADER_RETRY_AFTER, "10", NULL };
	hsi_problem p  = { .status = MHD_HTTP_SERVICE_UNAVAILABLE,
		 .slug             = "unavailable",
		 .title            = "Service unavailable",
		 .detail           = detail };
	int         rv = hsi_reply_problem_ex(c, &p, h);
	return rv ? rv : HSI_ETOOBIG;
}

static int
refused_open(hsi_call *c, int rv)
{
	char detail[240];
	if (rv == HSI_ETOOBIG) {
		snprintf(detail, sizeof(detail),
		    "this gateway already serves %d event streams, the most "
		    "it holds: retry after Retry-After seconds, and close "
		    "streams you no longer show",
		    HSI_SSE_MAX_CLIENTS);
		return unavailable(c, detail);
	}
	if (rv == HSI_ECLOSED) {
		return unavailable(c,
		    "the gateway is shutting down: reconnect in a few "
		    "seconds with your Last-Event-ID");
	}
	return hsi_reply_queue(c, MHD_HTTP_OK, NULL); /* out of memory */
}

static void
stream_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* nginx and the like buffer responses unless told not to. */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
}

/* Registers the stream and queues its response. */
static int
open_stream(hsi_call *c, unsigned topics, const hsi_sse_pos *from,
    hsi_sse_replay *replay)
{
	hsi_sse_client *cl;
	int             rv = hsi_sse_client_open(hsi_call_server(c)->sse,
	                hsi_call_connection(c), topics, from, replay, &cl);
	if (rv != 0) {
		return refused_open(c, rv);
	}
	struct MHD_Response *resp
	    = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_BYTES,
	        hsi_sse_client_read, cl, hsi_sse_client_close);
	if (resp == NULL) {
		hsi_sse_client_close(cl);
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	stream_headers(resp);
	/* On failure MHD destroys resp, which closes the client. */
	return hsi_reply_queue(c, MHD_HTTP_OK, resp);
}

static int
refuse_id(hsi_call *c)
{
	hsi_problem p  = { .status = MHD_HTTP_BAD_REQUEST,
		 .slug             = "invalid-parameter",
		 .title            = "Invalid parameter",
		 .detail    = "Last-Event-ID is not an id of this stream: "
		               "send back the last id: line received "
		               "(s<digits>.a<digits>), or leave the header "
		               "out to start from now",
		 .parameter = LAST_EVENT_ID };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

static int
head_only(hsi_call *c)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    0, (void *) "", MHD_RESPMEM_PERSISTENT);
	if (resp != NULL) {
		stream_headers(resp);
	}
	return hsi_reply_queue(c, MHD_HTTP_OK, resp);
}

static int
get_events(hsi_call *c)
{
	hsi_sse_pos    from, *fromp = NULL;
	hsi_sse_plan   plan;
	hsi_sse_replay replay = { .events = NULL };
	unsigned       topics = topics_of(c);
	const char    *id     = hsi_call_header(c, LAST_EVENT_ID);
	if (!hsi_negotiate_accepts(hsi_call_header(c, MHD_HTTP_HEADER_ACCEPT),
	        "text/event-stream")) {
		return hsi_reply_problem(c, MHD_HTTP_NOT_ACCEPTABLE,
		    "not-acceptable", "Not acceptable",
		    "this endpoint answers text/event-stream only: accept "
		    "it (or */*)");
	}
	if (id != NULL && id[0] != '\0') {
		if (parse_id(id, &from) != 0) {
			return refuse_id(c);
		}
		fromp = &from;
	}
	if (strcmp(hsi_call_method(c), "HEAD") == 0) {
		return head_only(c);
	}
	hsi_sse_hub_plan(hsi_call_server(c)->sse, topics, fromp, &plan);
	if (plan.full) {
		return refused_open(c, HSI_ETOOBIG);
	}
	if (plan.need_db) {
		replay_args a = { topics, fromp, &replay, { NULL, NULL } };
		memcpy(replay.gen, plan.gen, sizeof(replay.gen));
		int rv = hsi_call_run(c, read_replay, &a);
		if (rv == HSI_EINVAL) {
			hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "internal", "Internal error",
			    "the server failed to read the events you missed "
			    "(logged); reconnect without Last-Event-ID");
		}
		if (rv != 0) {
			hsi_sse_replay_fini(&replay);
			return rv; /* 503 or 500 queued, or out of memory */
		}
	}
	hsi_log_debug("event stream opened", "{s:i, s:b, s:b, s:I, s:b}",
	    "topics", (int) topics, "last_event_id", fromp != NULL,
	    "from_database", plan.need_db, "replayed", (json_int_t) replay.n,
	    "reset", replay.reset);
	int rv = open_stream(c, topics, fromp, plan.need_db ? &replay : NULL);
	hsi_sse_replay_fini(&replay);
	return rv;
}

const hsi_route hsi_routes_sse[] = {
	{ .method    = "GET",
	    .pattern = "/v1/events",
	    .handler = get_events,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = events_query,
	    .flags   = HSI_ROUTE_ANY_ACCEPT },
	HSI_ROUTE_END,
};
