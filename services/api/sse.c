/*
 * sse.c: the SSE hub (see sse.h): the ring of recent events, the open
 * streams and their queues, the content reader that suspends a stream
 * with nothing to send, and the heartbeat thread.
 *
 * Why suspend from the content reader. With libmicrohttpd's internal
 * polling threads a content reader that returns 0 is simply called again
 * at once: microhttpd.h (0.9.75) says returning zero "should only be
 * used in conjunction with MHD_suspend_connection() to avoid busy
 * waiting", and names the content reader as one of the two places where
 * suspending is safe. So the reader, under the hub's lock, either copies
 * what is queued or marks the client suspended, suspends the connection
 * and returns 0; whoever queues something next (an event, a heartbeat, a
 * drop, the stop) does it under the same lock and resumes the
 * connection if it was marked. Resume is therefore only ever called on a
 * suspended connection (anything else is undefined in libmicrohttpd), and
 * a stream costs no thread and no CPU while it waits. The lock order is
 * always hub lock -> libmicrohttpd's own locks.
 *
 * While a connection is suspended libmicrohttpd neither times it out nor
 * notices the client going away: the heartbeat every HSI_SSE_HEARTBEAT_S
 * resumes idle streams, and a write to a dead peer closes them.
 *
 * What the ring vouches for. floor.seq[t] is such that every event of
 * topic t with a sequence above it that was published is in the ring (or
 * still to come). It is unknown (FLOOR_NONE) until a stream's handler
 * has read the highest sequences from PostgreSQL, rises as events are
 * evicted, and is forgotten when a publisher reconnects (events sent
 * meanwhile were lost). A client whose Last-Event-ID is at or above the
 * floor of each topic it wants is replayed from the ring alone.
 */
#include "sse_int.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "error.h"
#include "log.h"

#define FLOOR_NONE UINT64_MAX
#define PREFIX_MAX 96 /* "id: s<20>.a<20>\nevent: score\ndata: " */
#define SNDBUF_BYTES (64 * 1024)
#define USER_TIMEOUT_MS 45000

static const char retry_text[]     = "retry: 5000\n\n";
static const char keepalive_text[] = ": keep-alive\n\n";

/* A queued item: an event with the client's position after it, or a
 * fixed text (ev NULL). */
typedef struct {
	hsi_sse_event *ev;
	const char    *text;
	hsi_sse_pos    id;
	size_t         bytes; /* counted against the client's budget */
} entry;

struct hsi_sse_client {
	hsi_sse_hub           *hub;
	struct MHD_Connection *conn;
	int                    fd;
	unsigned               topics;
	hsi_sse_pos            pos; /* of the last event queued */
	entry                 *q;   /* a ring of cap entries */
	size_t                 cap, head, n;
	size_t                 bytes; /* queued, not yet given to MHD */
	size_t                 off;   /* of q[head], given already */
	char                   prefix[PREFIX_MAX];
	size_t                 prefix_len;
	int                    suspended, dropped;
	hsi_sse_client        *prev, *next;
};

struct hsi_sse_hub {
	pthread_mutex_t mu;
	pthread_cond_t  cv; /* the heartbeat thread waits on it */
	pthread_t       thread;
	int             started, stopping;
	hsi_sse_client *clients;
	size_t          n_clients;
	hsi_sse_event  *ring[HSI_SSE_RING_EVENTS];
	size_t          ring_head, ring_n;
	int             known; /* last and floor learnt from PostgreSQL */
	hsi_sse_pos     last;  /* highest sequence heard of, per topic */
	hsi_sse_pos     floor;
	hsi_sse_pos     evicted; /* highest evicted since the last gap */
	unsigned        gen[HSI_SSE_TOPICS];
	int             connected[HSI_SSE_TOPICS];
	hsi_sse_event  *reset;
};

int
hsi_sse_hub_alloc(hsi_sse_hub **out)
{
	hsi_sse_hub *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return HSI_ENOMEM;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	for (int t = 0; t < HSI_SSE_TOPICS; t++) {
		h->floor.seq[t] = FLOOR_NONE;
	}
	h->reset = hsi_sse_event_make(HSI_SSE_RESET, 0, 0, json_object());
	if (h->reset == NULL) {
		hsi_sse_hub_free(h);
		return HSI_ENOMEM;
	}
	*out = h;
	return 0;
}

void
hsi_sse_hub_free(hsi_sse_hub *hub)
{
	if (hub == NULL) {
		return;
	}
	for (size_t i = 0; i < hub->ring_n; i++) {
		hsi_sse_event_unref(
		    hub->ring[(hub->ring_head + i) % HSI_SSE_RING_EVENTS]);
	}
	hsi_sse_event_unref(hub->reset);
	pthread_cond_destroy(&hub->cv);
	pthread_mutex_destroy(&hub->mu);
	free(hub);
}

size_t
hsi_sse_hub_clients(hsi_sse_hub *hub)
{
	pthread_mutex_lock(&hub->mu);
	size_t n = hub->n_clients;
	pthread_mutex_unlock(&hub->mu);
	return n;
}

static int
wants(const hsi_sse_client *cl, int topic)
{
	return topic == HSI_SSE_RESET || (cl->topics & (1u << topic)) != 0;
}

/* ---------------------------------------------------- client queues */

static void
wake(hsi_sse_client *cl)
{
	if (cl->suspended) {
		cl->suspended = 0;
		MHD_resume_connection(cl->conn);
	}
}

static void
pop(hsi_sse_client *cl)
{
	entry *e = &cl->q[cl->head];
	cl->bytes -= e->bytes;
	hsi_sse_event_unref(e->ev);
	e->ev    = NULL;
	cl->head = (cl->head + 1) % cl->cap;
	cl->n--;
	cl->off = 0;
}

static void
clear(hsi_sse_client *cl)
{
	while (cl->n > 0) {
		pop(cl);
	}
}

/*
 * Gives up on a client: its queue is emptied and its connection ended,
 * resumed if suspended (the reader then fails the stream), else shut
 * down under libmicrohttpd, which is waiting for the socket to drain and
 * notices the error at once. The descriptor is still open here: MHD
 * destroys the response (and so unregisters the client, under our lock)
 * before it closes the socket.
 */
static void
drop(hsi_sse_client *cl, const char *why)
{
	if (cl->dropped) {
		return;
	}
	hsi_log_warn("event stream dropped", "{s:s, s:I, s:I}", "why", why,
	    "queued_bytes", (json_int_t) cl->bytes, "queued",
	    (json_int_t) cl->n);
	cl->dropped = 1;
	clear(cl);
	if (cl->suspended) {
		wake(cl);
	} else if (cl->fd >= 0) {
		shutdown(cl->fd, SHUT_RDWR);
	}
}

/* Queues e (its event reference is taken). budget: refuse it when the
 * client is over HSI_SSE_CLIENT_MAX_BYTES behind. 0, or HSI_ETOOBIG
 * (nothing queued, the reference dropped). */
static int
push(hsi_sse_client *cl, entry e, int budget)
{
	if (cl->dropped
	    || (budget && cl->bytes + e.bytes > HSI_SSE_CLIENT_MAX_BYTES)) {
		hsi_sse_event_unref(e.ev);
		return HSI_ETOOBIG;
	}
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? 2 * cl->cap : 16;
		entry *q   = cap <= HSI_SSE_CLIENT_MAX_ENTRIES
		      ? malloc(cap * sizeof(*q))
		      : NULL;
		if (q == NULL) {
			hsi_sse_event_unref(e.ev);
			return HSI_ETOOBIG;
		}
		for (size_t i = 0; i < cl->n; i++) {
			q[i] = cl->q[(cl->head + i) % cl->cap];
		}
		free(cl->q);
		cl->q    = q;
		cl->cap  = cap;
		cl->head = 0;
	}
	cl->q[(cl->head + cl->n) % cl->cap] = e;
	cl->n++;
	cl->bytes += e.bytes;
	return 0;
}

static int
push_text(hsi_sse_client *cl, const char *text)
{
	entry e = { .text = text, .bytes = strlen(text) };
	return push(cl, e, 1);
}

/* Queues ev (a new reference) for cl if it wants it and has not had it,
 * moving the client's position. 0, or HSI_ETOOBIG. */
static int
push_event(hsi_sse_client *cl, hsi_sse_event *ev, int budget)
{
	if (!wants(cl, ev->topic)) {
		return 0;
	}
	if (ev->topic != HSI_SSE_RESET) {
		if (ev->seq <= cl->pos.seq[ev->topic]) {
			return 0; /* replayed already, or out of order */
		}
		cl->pos.seq[ev->topic] = ev->seq;
	}
	entry e = { .ev = hsi_sse_event_ref(ev),
		.id     = cl->pos,
		.bytes  = ev->len + PREFIX_MAX };
	return push(cl, e, budget);
}

/* Copies what it can of the head entry into buf; pops it when done.
 * Returns the bytes copied. */
static size_t
copy_head(hsi_sse_client *cl, char *buf, size_t max)
{
	const entry *e = &cl->q[cl->head];
	const char  *seg[3];
	size_t       len[3], nseg = 0, total = 0, n = 0, skip = cl->off;
	if (e->ev == NULL) {
		seg[nseg]   = e->text;
		len[nseg++] = strlen(e->text);
	} else {
		if (cl->off == 0) {
			int k = snprintf(cl->prefix, sizeof(cl->prefix),
			    "id: s%llu.a%llu\nevent: %s\ndata: ",
			    (unsigned long long) e->id.seq[HSI_SSE_SCORE],
			    (unsigned long long) e->id.seq[HSI_SSE_ALERT],
			    hsi_sse_topic_name(e->ev->topic));
			cl->prefix_len = (size_t) k;
		}
		seg[nseg]   = cl->prefix;
		len[nseg++] = cl->prefix_len;
		seg[nseg]   = e->ev->data;
		len[nseg++] = e->ev->len;
		seg[nseg]   = "\n\n";
		len[nseg++] = 2;
	}
	for (size_t i = 0; i < nseg; i++) {
		total += len[i];
	}
	for (size_t i = 0; i < nseg && n < max; i++) {
		if (skip >= len[i]) {
			skip -= len[i];
			continue;
		}
		size_t take = len[i] - skip;
		take        = take < max - n ? take : max - n;
		memcpy(buf + n, seg[i] + skip, take);
		n += take;
		skip = 0;
	}
	cl->off += n;
	if (cl->off == total) {
		pop(cl);
	}
	return n;
}

ssize_t
hsi_sse_client_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	hsi_sse_client *cl  = cls;
	hsi_sse_hub    *hub = cl->hub;
	size_t          n   = 0;
	(void) pos;
	pthread_mutex_lock(&hub->mu);
	if (cl->dropped) {
		pthread_mutex_unlock(&hub->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	while (n < max && cl->n > 0) {
		n += copy_head(cl, buf + n, max - n);
	}
	if (n == 0 && hub->stopping) {
		pthread_mutex_unlock(&hub->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (n == 0) {
		cl->suspended = 1;
		MHD_suspend_connection(cl->conn);
	}
	pthread_mutex_unlock(&hub->mu);
	return (ssize_t) n;
}

void
hsi_sse_client_close(void *cls)
{
	hsi_sse_client *cl = cls;
	if (cl == NULL) {
		return;
	}
	hsi_sse_hub *hub = cl->hub;
	pthread_mutex_lock(&hub->mu);
	if (cl->prev != NULL) {
		cl->prev->next = cl->next;
	} else {
		hub->clients = cl->next;
	}
	if (cl->next != NULL) {
		cl->next->prev = cl->prev;
	}
	hub->n_clients--;
	clear(cl);
	pthread_mutex_unlock(&hub->mu);
	hsi_log_debug("event stream closed", "{s:I, s:I}", "score",
	    (json_int_t) cl->pos.seq[HSI_SSE_SCORE], "alert",
	    (json_int_t) cl->pos.seq[HSI_SSE_ALERT]);
	free(cl->q);
	free(cl);
}

/* ------------------------------------------------------------- ring */

static int
covered(const hsi_sse_hub *hub, unsigned topics, const hsi_sse_pos *from)
{
	if (!hub->known) {
		return 0;
	}
	for (int t = 0; t < HSI_SSE_TOPICS; t++) {
		if ((topics & (1u << t))
		    && (hub->floor.seq[t] == FLOOR_NONE
		        || from->seq[t] < hub->floor.seq[t])) {
			return 0;
		}
	}
	return 1;
}

void
hsi_sse_hub_plan(hsi_sse_hub *hub, unsigned topics, const hsi_sse_pos *from,
    hsi_sse_plan *out)
{
	pthread_mutex_lock(&hub->mu);
	out->full = hub->n_clients >= HSI_SSE_MAX_CLIENTS;
	out->need_db
	    = from != NULL ? !covered(hub, topics, from) : !hub->known;
	memcpy(out->gen, hub->gen, sizeof(out->gen));
	pthread_mutex_unlock(&hub->mu);
}

/*
 * What PostgreSQL said (r->db_max, read after r->gen was taken): every
 * event above db_max was committed after the read, so it is in the ring
 * or still to come, unless its publisher reconnected since (the
 * generation changed) or the ring has evicted some of them already.
 */
static void
learn(hsi_sse_hub *hub, const hsi_sse_replay *r)
{
	for (int t = 0; t < HSI_SSE_TOPICS; t++) {
		uint64_t m = r->db_max.seq[t];
		if (m > hub->last.seq[t]) {
			hub->last.seq[t] = m;
		}
		if (r->gen[t] != hub->gen[t]) {
			continue;
		}
		uint64_t claim
		    = m > hub->evicted.seq[t] ? m : hub->evicted.seq[t];
		if (hub->floor.seq[t] == FLOOR_NONE
		    || claim < hub->floor.seq[t]) {
			hub->floor.seq[t] = claim;
		}
	}
	hub->known = 1;
}

static void
ring_add(hsi_sse_hub *hub, hsi_sse_event *ev)
{
	if (hub->ring_n == HSI_SSE_RING_EVENTS) {
		hsi_sse_event *old = hub->ring[hub->ring_head];
		int            t   = old->topic;
		if (old->seq > hub->evicted.seq[t]) {
			hub->evicted.seq[t] = old->seq;
		}
		if (hub->floor.seq[t] != FLOOR_NONE
		    && old->seq > hub->floor.seq[t]) {
			hub->floor.seq[t] = old->seq;
		}
		hsi_sse_event_unref(old);
		hub->ring_head = (hub->ring_head + 1) % HSI_SSE_RING_EVENTS;
		hub->ring_n--;
	}
	hub->ring[(hub->ring_head + hub->ring_n) % HSI_SSE_RING_EVENTS]
	    = hsi_sse_event_ref(ev);
	hub->ring_n++;
}

/* ------------------------------------------------------------ opening */

/* Socket options of a stream: a bounded kernel buffer (a stalled client
 * then shows as lag in its queue, where the budget sees it, instead of
 * megabytes of autotuned buffer), and a bound on unacknowledged data so
 * a vanished peer is noticed within a minute, not TCP's fifteen. */
static int
stream_socket(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci
	    = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL) {
		return -1;
	}
	int      fd  = ci->connect_fd;
	int      buf = SNDBUF_BYTES;
	unsigned ut  = USER_TIMEOUT_MS;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	return fd;
}

/* A replay, what the ring holds and two texts always fit a queue. */
_Static_assert(
    HSI_SSE_CLIENT_MAX_ENTRIES > HSI_SSE_REPLAY_MAX + HSI_SSE_RING_EVENTS + 2,
    "a new client's catch-up must fit its queue");

/* The client's starting position and what it missed, under the lock.
 * Returns 0, or HSI_ENOMEM when its queue cannot grow. */
static int
catch_up(hsi_sse_hub *hub, hsi_sse_client *cl, const hsi_sse_pos *from,
    hsi_sse_replay *r)
{
	for (int t = 0; t < HSI_SSE_TOPICS; t++) {
		uint64_t f = from != NULL ? from->seq[t] : hub->last.seq[t];
		/* A feed it does not want: start where the hub is, so a
		 * later reconnect without the filter has nothing to replay
		 * from before this stream. */
		if (!(cl->topics & (1u << t)) && hub->last.seq[t] > f) {
			f = hub->last.seq[t];
		}
		cl->pos.seq[t] = f;
	}
	int rv = push_text(cl, retry_text);
	if (r != NULL) {
		for (size_t i = 0; rv == 0 && !r->reset && i < r->n; i++) {
			rv = push_event(cl, r->events[i], 0);
		}
		/* Replayed up to what PostgreSQL had; after a reset, from
		 * there even when the client claims more (a restored
		 * database starts its sequences lower). */
		for (int t = 0; t < HSI_SSE_TOPICS; t++) {
			int mine = (cl->topics & (1u << t)) != 0;
			if (r->db_max.seq[t] > cl->pos.seq[t]
			    || (r->reset && mine)) {
				cl->pos.seq[t] = r->db_max.seq[t];
			}
		}
		if (rv == 0 && r->reset) {
			rv = push_event(cl, hub->reset, 0);
		}
	}
	for (size_t i = 0; rv == 0 && i < hub->ring_n; i++) {
		rv = push_event(cl,
		    hub->ring[(hub->ring_head + i) % HSI_SSE_RING_EVENTS], 0);
	}
	return rv != 0 ? HSI_ENOMEM : 0;
}

int
hsi_sse_client_open(hsi_sse_hub *hub, struct MHD_Connection *conn,
    unsigned topics, const hsi_sse_pos *from, hsi_sse_replay *replay,
    hsi_sse_client **out)
{
	hsi_sse_client *cl = calloc(1, sizeof(*cl));
	int             rv = 0;
	if (cl == NULL) {
		return HSI_ENOMEM;
	}
	cl->hub    = hub;
	cl->conn   = conn;
	cl->topics = topics;
	cl->fd     = stream_socket(conn);
	pthread_mutex_lock(&hub->mu);
	if (hub->stopping) {
		rv = HSI_ECLOSED;
	} else if (hub->n_clients >= HSI_SSE_MAX_CLIENTS) {
		rv = HSI_ETOOBIG;
	} else {
		if (replay != NULL) {
			learn(hub, replay);
		}
		rv = catch_up(hub, cl, from, replay);
	}
	if (rv == 0) {
		cl->next = hub->clients;
		if (hub->clients != NULL) {
			hub->clients->prev = cl;
		}
		hub->clients = cl;
		hub->n_clients++;
	}
	pthread_mutex_unlock(&hub->mu);
	if (rv != 0) {
		clear(cl);
		free(cl->q);
		free(cl);
		return rv;
	}
	*out = cl;
	return 0;
}

/* ------------------------------------------------------------ live */

static void
fan_out(hsi_sse_hub *hub, hsi_sse_event *ev)
{
	for (hsi_sse_client *cl = hub->clients; cl != NULL; cl = cl->next) {
		if (cl->dropped) {
			continue;
		}
		if (push_event(cl, ev, 1) != 0) {
			drop(cl, "too far behind (a slow reader)");
		} else {
			wake(cl);
		}
	}
}

void
hsi_sse_hub_post(hsi_sse_hub *hub, const void *msg, size_t len)
{
	hsi_sse_event *ev = NULL;
	if (hub == NULL) {
		return;
	}
	int rv = hsi_sse_event_decode(msg, len, &ev);
	if (rv == HSI_ENOENT) {
		return;
	}
	if (rv != 0) {
		hsi_log_warn("event not streamed: malformed", "{s:I, s:s}",
		    "bytes", (json_int_t) len, "error", hsi_strerror(rv));
		return;
	}
	pthread_mutex_lock(&hub->mu);
	if (!hub->stopping) {
		if (ev->seq > hub->last.seq[ev->topic]) {
			hub->last.seq[ev->topic] = ev->seq;
		}
		ring_add(hub, ev);
		fan_out(hub, ev);
	}
	pthread_mutex_unlock(&hub->mu);
	hsi_sse_event_unref(ev);
}

void
hsi_sse_hub_connected(hsi_sse_hub *hub, hsi_sse_topic topic)
{
	if (hub == NULL) {
		return;
	}
	pthread_mutex_lock(&hub->mu);
	hub->gen[topic]++;
	hub->floor.seq[topic]   = FLOOR_NONE;
	hub->evicted.seq[topic] = 0;
	int again               = hub->connected[topic];
	hub->connected[topic]   = 1;
	for (hsi_sse_client *cl = hub->clients; again && cl != NULL;
	     cl                 = cl->next) {
		if (cl->dropped || !(cl->topics & (1u << topic))) {
			continue;
		}
		if (push_event(cl, hub->reset, 1) != 0) {
			drop(cl, "too far behind (a slow reader)");
		} else {
			wake(cl);
		}
	}
	pthread_mutex_unlock(&hub->mu);
	hsi_log_info(again ? "event feed reconnected: streams reset"
	                   : "event feed connected",
	    "{s:s}", "feed", hsi_sse_topic_name((int) topic));
}

/* ------------------------------------------------------- heartbeat */

static void
heartbeat(hsi_sse_hub *hub)
{
	for (hsi_sse_client *cl = hub->clients; cl != NULL; cl = cl->next) {
		if (!cl->dropped && cl->n == 0) {
			push_text(cl, keepalive_text);
			wake(cl);
		}
	}
}

static void *
heartbeat_main(void *arg)
{
	hsi_sse_hub    *hub = arg;
	struct timespec due;
	pthread_mutex_lock(&hub->mu);
	clock_gettime(CLOCK_MONOTONIC, &due);
	while (!hub->stopping) {
		due.tv_sec += HSI_SSE_HEARTBEAT_S;
		while (!hub->stopping
		    && pthread_cond_timedwait(&hub->cv, &hub->mu, &due) == 0) {
		}
		if (!hub->stopping) {
			heartbeat(hub);
		}
	}
	pthread_mutex_unlock(&hub->mu);
	return NULL;
}

int
hsi_sse_hub_start(hsi_sse_hub *hub)
{
	if (pthread_create(&hub->thread, NULL, heartbeat_main, hub) != 0) {
		return HSI_ENOMEM;
	}
	hub->started = 1;
	return 0;
}

void
hsi_sse_hub_stop(hsi_sse_hub *hub)
{
	if (hub == NULL) {
		return;
	}
	pthread_mutex_lock(&hub->mu);
	hub->stopping = 1;
	for (hsi_sse_client *cl = hub->clients; cl != NULL; cl = cl->next) {
		wake(cl);
	}
	pthread_cond_broadcast(&hub->cv);
	pthread_mutex_unlock(&hub->mu);
	if (hub->started) {
		pthread_join(hub->thread, NULL);
		hub->started = 0;
	}
}
