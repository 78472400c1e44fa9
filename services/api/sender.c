/*
 * sender.c: delivery of the gateway's submissions (see sender.h).
 *
 * The same protocol as an ingest node (services/ingest/ingest.c), with
 * PostgreSQL as the outbox and one link per agency: nng PUB silently drops
 * what it cannot deliver, so the resend from the acknowledged point is the
 * whole of the reliability, and the scorer's check of (agency, node,
 * epoch, seq) makes a resent part harmless. Every ack is checked against
 * the agency's gateway keys before it is believed: a forged ack could
 * otherwise make the gateway drop parts the scorer never stored.
 *
 * One thread does everything, so the links need no lock; handlers only
 * set the wake flag.
 */
#include "sender.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "envelope.h"
#include "error.h"
#include "gwkey.h"
#include "gwoutbox.h"
#include "log.h"
#include "rxq.h"

#define POLL_MS 50         /* longest wait for a message or a wake */
#define RELOAD_MS 5000     /* nodes re-read at least this often */
#define KEYS_MS 60000      /* keys re-read (a retirement) this often */
#define KEYS_RETRY_MS 5000 /* ... or this often while no ack comes */
#define DB_RETRY_MS 1000   /* reconnection attempts */
#define MAX_VERDICTS_CONFIRMED 16

/* One agency's gateway node and what is in flight on it. */
typedef struct {
	hsi_gw_node node;
	hsi_key     keys[HSI_GWKEY_MAX]; /* [0] signs; all verify acks */
	size_t      n_keys;
	uint64_t    sent_hi; /* highest seq sent since the last resend */
	long long   last_progress_ms, last_heard_ms, keys_ms;
} gw_link;

struct hsi_sender {
	char        *db_url;
	long         resend_ms;
	PGconn      *db;
	nng_socket   pub, sub;
	hsi_rxq     *rxq;
	pthread_t    thread;
	int          started;
	atomic_int   wake, stop;
	gw_link     *links;
	size_t       n_links;
	long long    db_tried_ms, reloaded_ms;
	hsi_net_link ingest_link, ack_link;
	/* What other threads may read (hsi_sender_agencies), copied from
	 * links at the end of every turn. */
	pthread_mutex_t    shown_mu;
	hsi_sender_agency *shown;
	size_t             n_shown, cap_shown;
};

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- PostgreSQL ---------------------------------------------------------
 */

/* Whether the connection is usable; (re)connects at most once a second. */
static int
db_ready(hsi_sender *s)
{
	char      err[512];
	long long now = now_ms();
	if (s->db != NULL && PQstatus(s->db) == CONNECTION_OK) {
		return 1;
	}
	if (now - s->db_tried_ms < DB_RETRY_MS) {
		return 0;
	}
	s->db_tried_ms = now;
	if (s->db != NULL) {
		return hsi_db_ensure(s->db) == 0;
	}
	if (hsi_db_open(s->db_url, &s->db, err, sizeof(err)) != 0) {
		hsi_log_warn("sender: no database yet; will retry", "{s:s}",
		    "error", err);
		s->db = NULL;
		return 0;
	}
	return 1;
}

static gw_link *
find_link(hsi_sender *s, const char *agency)
{
	for (size_t i = 0; i < s->n_links; i++) {
		if (strcmp(s->links[i].node.agency, agency) == 0) {
			return &s->links[i];
		}
	}
	return NULL;
}

static void
load_keys(hsi_sender *s, gw_link *l)
{
	hsi_key keys[HSI_GWKEY_MAX];
	size_t  n;
	l->keys_ms = now_ms(); /* a failure is retried later, not at once */
	if (hsi_gwkey_load(s->db, l->node.agency, keys, HSI_GWKEY_MAX, &n)
	    != 0) {
		hsi_log_error("sender: no gateway key for the agency; its "
		              "submissions wait",
		    "{s:s}", "agency", l->node.agency);
		return;
	}
	hsi_gwkey_wipe(l->keys, l->n_keys);
	memcpy(l->keys, keys, n * sizeof(keys[0]));
	l->n_keys = n;
	hsi_gwkey_wipe(keys, n);
}

/* Re-reads the nodes: new agencies get a link, known ones their
 * next_seq (parts added by requests). Keys are re-read every KEYS_MS, and
 * after a wake for every link with parts waiting: a key retired since
 * (hsictl key retire) then never signs a new submission. */
static void
reload(hsi_sender *s, int woke)
{
	hsi_gw_node *nodes;
	size_t       n;
	s->reloaded_ms = now_ms();
	if (hsi_gwoutbox_nodes(s->db, &nodes, &n) != 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		gw_link *l = find_link(s, nodes[i].agency);
		if (l == NULL) {
			gw_link *nl = realloc(
			    s->links, (s->n_links + 1) * sizeof(*nl));
			if (nl == NULL) {
				break;
			}
			s->links = nl;
			l        = &s->links[s->n_links++];
			memset(l, 0, sizeof(*l));
			l->node    = nodes[i];
			l->sent_hi = nodes[i].acked_seq;
			hsi_log_info("sender: gateway node", "{s:s, s:s, s:I}",
			    "agency", l->node.agency, "node", l->node.node_id,
			    "acked_seq", (json_int_t) l->node.acked_seq);
		}
		l->node.next_seq = nodes[i].next_seq;
		if (nodes[i].acked_seq > l->node.acked_seq) {
			l->node.acked_seq = nodes[i].acked_seq;
		}
		if (l->n_keys == 0 || s->reloaded_ms - l->keys_ms > KEYS_MS
		    || (woke && l->node.acked_seq + 1 < l->node.next_seq)) {
			load_keys(s, l);
		}
	}
	free(nodes);
}

/* ---- sending --------------------------------------------------------------
 */

static void
seal_and_send(hsi_sender *s, gw_link *l, uint64_t seq, Hsi__PayloadType type,
    const unsigned char *payload, size_t len)
{
	char topic[HSI_TOPIC_MAX];
	snprintf(topic, sizeof(topic), "obs.%s", l->node.agency);
	Hsi__Envelope env = HSI__ENVELOPE__INIT;
	env.agency        = l->node.agency;
	env.node_id       = l->node.node_id;
	env.epoch         = l->node.epoch;
	env.seq           = seq;
	env.sent_unix_ms  = now_ms();
	env.payload_type  = type;
	env.payload.data  = (uint8_t *) payload;
	env.payload.len   = len;
	hsi_envelope_publish(s->pub, topic, &env, &l->keys[0]);
}

typedef struct {
	hsi_sender *s;
	gw_link    *l;
	uint64_t    to;    /* send seqs up to this one */
	int         probe; /* link down: one part only */
	int         sent;
} send_ctx;

static void
send_one(void *arg, uint64_t seq, const unsigned char *payload, size_t len)
{
	send_ctx *c = arg;
	if (seq > c->to || (c->probe && c->sent > 0)) {
		return;
	}
	seal_and_send(c->s, c->l, seq, HSI__PAYLOAD_TYPE__OBSERVATION_BATCH,
	    payload, len);
	c->sent++;
	if (seq > c->l->sent_hi) {
		c->l->sent_hi = seq;
	}
}

/* Sends l's parts within the window: from the acked point (a resend), or
 * only those not sent since the last resend. */
static void
send_window(hsi_sender *s, gw_link *l, int from_acked)
{
	long long now   = now_ms();
	uint64_t  acked = l->node.acked_seq;
	if (l->n_keys == 0) {
		return;
	}
	if (from_acked) {
		l->sent_hi          = acked;
		l->last_progress_ms = now;
	}
	send_ctx c = { s, l, acked + HSI_SENDER_WINDOW,
		now - l->last_heard_ms > HSI_SENDER_LINK_MS, 0 };
	if (l->sent_hi < acked) {
		l->sent_hi = acked;
	}
	if (l->sent_hi >= c.to || l->sent_hi + 1 >= l->node.next_seq) {
		return; /* window full, or nothing new */
	}
	/* Only what will be sent is read: one part while probing a link
	 * that is down, else up to the window's end. */
	hsi_gwoutbox_pending(s->db, l->node.agency, l->sent_hi,
	    c.probe ? 1 : (size_t) (c.to - l->sent_hi), send_one, &c);
}

/* Tells the scorer which verdicts are recorded (seq 0: a status takes no
 * place in the sequence), so it stops re-sending them. */
static void
send_status(hsi_sender *s, gw_link *l, char **ids, size_t n)
{
	Hsi__NodeStatus st     = HSI__NODE_STATUS__INIT;
	st.n_verdicts_received = n;
	st.verdicts_received   = ids;
	st.acked_seq           = l->node.acked_seq;
	size_t         len     = hsi__node_status__get_packed_size(&st);
	unsigned char *buf     = malloc(len + 1);
	if (buf != NULL) {
		hsi__node_status__pack(&st, buf);
		seal_and_send(
		    s, l, 0, HSI__PAYLOAD_TYPE__NODE_STATUS, buf, len);
	}
	free(buf);
}

/* ---- acks -----------------------------------------------------------------
 */

/* The key of l that env names: NULL when it names none of them. */
static const hsi_key *
key_named(const gw_link *l, const char *key_id)
{
	for (size_t i = 0; i < l->n_keys; i++) {
		if (strcmp(l->keys[i].id, key_id) == 0) {
			return &l->keys[i];
		}
	}
	return NULL;
}

static void
record_verdicts(hsi_sender *s, gw_link *l, const Hsi__Ack *ack)
{
	char  *ids[MAX_VERDICTS_CONFIRMED];
	size_t n = 0;
	for (size_t i = 0; i < ack->n_verdicts; i++) {
		const Hsi__FileVerdict *v = ack->verdicts[i];
		/* Confirmed only once stored: a verdict the database did not
		 * take is re-sent by the scorer with its next ack. */
		if (hsi_gwoutbox_verdict(s->db, &l->node, v) >= 0
		    && n < MAX_VERDICTS_CONFIRMED) {
			ids[n++] = v->file_id;
		}
	}
	if (n > 0) {
		send_status(s, l, ids, n);
	}
}

static void
on_ack(hsi_sender *s, const char *topic, const Hsi__Envelope *env)
{
	char     prefix[32];
	gw_link *l = find_link(s, env->agency);
	if (l == NULL) {
		return; /* an agency the gateway sends nothing for */
	}
	/* Acks for the agency's ingest nodes are signed with their keys:
	 * not for us, and not worth a look. */
	snprintf(prefix, sizeof(prefix), "%s-api-", l->node.agency);
	if (strncmp(env->key_id, prefix, strlen(prefix)) != 0) {
		return;
	}
	const hsi_key *k = key_named(l, env->key_id);
	if (k == NULL && now_ms() - l->keys_ms > KEYS_RETRY_MS) {
		load_keys(s, l); /* made by another gateway, or retired */
		k = key_named(l, env->key_id);
	}
	if (k == NULL) {
		return;
	}
	if (hsi_envelope_verify(topic, env, k) != 0) {
		hsi_log_warn("sender: ack with a bad signature ignored",
		    "{s:s}", "agency", l->node.agency);
		return;
	}
	Hsi__Ack *ack = (Hsi__Ack *) hsi_pb_unpack(
	    &hsi__ack__descriptor, env->payload.data, env->payload.len);
	if (ack == NULL) {
		return;
	}
	if (strcmp(ack->node_id, l->node.node_id) == 0
	    && ack->epoch == l->node.epoch) {
		l->last_heard_ms = now_ms();
		if (hsi_gwoutbox_ack(s->db, &l->node, ack->acked_seq) == 1) {
			l->node.acked_seq   = ack->acked_seq;
			l->last_progress_ms = l->last_heard_ms;
			send_window(s, l, 0);
		}
		record_verdicts(s, l, ack);
		if (ack->refusal[0] != '\0') {
			hsi_log_warn("sender: the scorer refused a message",
			    "{s:s, s:s}", "agency", l->node.agency, "reason",
			    ack->refusal);
		}
	}
	hsi_pb_free((ProtobufCMessage *) ack);
}

static void
on_message(hsi_sender *s, nng_msg *m)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env;
	if (hsi_net_split(nng_msg_body(m), nng_msg_len(m), topic, &body, &blen)
	        != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		return;
	}
	char want[HSI_TOPIC_MAX];
	snprintf(want, sizeof(want), "ack.%s", env->agency);
	if (strcmp(topic, want) == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__ACK) {
		on_ack(s, topic, env);
	}
	hsi_envelope_free(env);
}

/* ---- state for other threads -------------------------------------------
 */

static void
show(hsi_sender *s, long long now)
{
	pthread_mutex_lock(&s->shown_mu);
	if (s->n_links > s->cap_shown) {
		hsi_sender_agency *t
		    = realloc(s->shown, s->n_links * sizeof(*t));
		if (t != NULL) {
			s->shown     = t;
			s->cap_shown = s->n_links;
		}
	}
	s->n_shown = s->n_links < s->cap_shown ? s->n_links : s->cap_shown;
	for (size_t i = 0; i < s->n_shown; i++) {
		const gw_link     *l = &s->links[i];
		hsi_sender_agency *a = &s->shown[i];
		snprintf(a->agency, sizeof(a->agency), "%s", l->node.agency);
		a->pending_parts = l->node.next_seq > l->node.acked_seq + 1
		    ? l->node.next_seq - l->node.acked_seq - 1
		    : 0;
		a->last_heard_ms = l->last_heard_ms;
		a->stalled       = a->pending_parts > 0
		    && now - l->last_heard_ms > HSI_SENDER_LINK_MS;
	}
	pthread_mutex_unlock(&s->shown_mu);
}

void
hsi_sender_links(const hsi_sender *s, int *ingest, int *acks)
{
	*ingest = s ? hsi_net_link_pipes(&s->ingest_link) : 0;
	*acks   = s ? hsi_net_link_pipes(&s->ack_link) : 0;
}

size_t
hsi_sender_agencies(hsi_sender *s, hsi_sender_agency *out, size_t max)
{
	if (s == NULL) {
		return 0;
	}
	pthread_mutex_lock(&s->shown_mu);
	size_t n = s->n_shown;
	if (n > 0 && max > 0) {
		memcpy(out, s->shown, (n < max ? n : max) * sizeof(*out));
	}
	pthread_mutex_unlock(&s->shown_mu);
	return n;
}

/* ---- the thread -----------------------------------------------------------
 */

static void *
sender_main(void *arg)
{
	hsi_sender *s = arg;
	while (!atomic_load(&s->stop)) {
		nng_msg *m = hsi_rxq_get(s->rxq, POLL_MS);
		if (!db_ready(s)) {
			nng_msg_free(m);
			continue;
		}
		if (m != NULL) {
			on_message(s, m);
			nng_msg_free(m);
		}
		long long now  = now_ms();
		int       woke = atomic_exchange(&s->wake, 0);
		if (woke || now - s->reloaded_ms >= RELOAD_MS) {
			reload(s, woke);
		}
		for (size_t i = 0; i < s->n_links; i++) {
			gw_link *l = &s->links[i];
			if (l->node.acked_seq + 1 >= l->node.next_seq) {
				l->last_progress_ms = now; /* all acked */
				continue;
			}
			/* Parts wait and nothing is heard: the key may have
			 * been retired (hsictl key retire), and the scorer
			 * refuses what it signs without an ack. */
			if (now - l->last_heard_ms > HSI_SENDER_LINK_MS
			    && now - l->keys_ms > KEYS_RETRY_MS) {
				load_keys(s, l);
			}
			if (now - l->last_progress_ms >= s->resend_ms) {
				send_window(s, l, 1);
			} else if (woke) {
				send_window(s, l, 0);
			}
		}
		show(s, now);
	}
	return NULL;
}

int
hsi_sender_start(
    const hsi_sender_opts *opts, hsi_sender **out, char *err, size_t err_size)
{
	static const char *const topics[] = { "ack.", NULL };
	hsi_sender              *s        = calloc(1, sizeof(*s));
	if (s == NULL || (s->db_url = strdup(opts->db_url)) == NULL) {
		free(s);
		return HSI_ENOMEM;
	}
	s->resend_ms
	    = opts->resend_ms > 0 ? opts->resend_ms : HSI_SENDER_RESEND_MS;
	pthread_mutex_init(&s->shown_mu, NULL);
	int rv = hsi_net_pub_open_link(&s->pub, opts->scorer_url, 0,
	    &opts->tls, &s->ingest_link, err, err_size);
	if (rv != 0) {
		goto fail;
	}
	if ((rv = hsi_net_sub_open_link(&s->sub, opts->events_url, 0, topics,
	         &opts->tls, &s->ack_link, err, err_size))
	    != 0) {
		hsi_net_close_bounded(s->pub, 3000);
		goto fail;
	}
	if ((rv = hsi_rxq_start(s->sub, 1024, &s->rxq)) != 0
	    || pthread_create(&s->thread, NULL, sender_main, s) != 0) {
		snprintf(err, err_size, "cannot start the sender thread");
		rv = HSI_ENOMEM;
		hsi_sender_stop(s);
		return rv;
	}
	s->started = 1;
	*out       = s;
	return 0;
fail:
	pthread_mutex_destroy(&s->shown_mu);
	free(s->db_url);
	free(s);
	return rv;
}

void
hsi_sender_wake(hsi_sender *s)
{
	if (s != NULL) {
		atomic_store(&s->wake, 1);
	}
}

void
hsi_sender_stop(hsi_sender *s)
{
	if (s == NULL) {
		return;
	}
	atomic_store(&s->stop, 1);
	if (s->started) {
		pthread_join(s->thread, NULL);
	}
	int stuck = s->rxq != NULL ? hsi_rxq_stop(s->rxq)
	                           : hsi_net_close_bounded(s->sub, 3000);
	stuck |= hsi_net_close_bounded(s->pub, 3000);
	if (stuck) {
		return; /* the sockets' link counters live in s: leak it */
	}
	for (size_t i = 0; i < s->n_links; i++) {
		hsi_gwkey_wipe(s->links[i].keys, s->links[i].n_keys);
	}
	free(s->links);
	hsi_db_close(s->db);
	free(s->shown);
	pthread_mutex_destroy(&s->shown_mu);
	free(s->db_url);
	free(s);
}
