/*
 * ingest.c: the agency node's network side and main loop (see ingest.h
 * and docs/protocol.md).
 *
 * Parts wait in the outbox until the scorer's cumulative ack covers them.
 * They are sent within a window of WINDOW_PARTS beyond the acked point and
 * resent from that point after resend_ms without progress (go-back-N):
 * nng PUB silently drops what it cannot deliver, so this resend is the
 * whole of the reliability. When no authenticated ack or heartbeat has
 * been heard for LINK_TIMEOUT_MS the link is taken as down and only the
 * first pending part is sent, as a probe.
 */
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "ingest_int.h"
#include "log.h"
#include "net.h"
#include "validate.h"

#define O(f) offsetof(hsi_ingest_config, f)
const hsi_cfg_opt hsi_ingest_opts[] = {
	{ "agency", HSI_CFG_STR, O(agency), NULL, "agency code (required)", 0,
	    0 },
	{ "node_id", HSI_CFG_STR, O(node_id), NULL,
	    "this node's name (default: the agency code)", 0, 0 },
	{ "key_file", HSI_CFG_STR, O(key_file), NULL,
	    "key file from 'hsictl key rotate' (reloaded on SIGHUP)", 0, 0 },
	{ "scorer_url", HSI_CFG_STR, O(scorer_url), "tcp://127.0.0.1:7450",
	    "the scorer's ingest address", 0, 0 },
	{ "events_url", HSI_CFG_STR, O(events_url), "tcp://127.0.0.1:7451",
	    "the scorer's events address (acks, catalog)", 0, 0 },
	{ "inbox", HSI_CFG_STR, O(inbox), NULL,
	    "folder watched for files (required); sending/, done/ and "
	    "rejected/ are made beside it",
	    0, 0 },
	{ "state_dir", HSI_CFG_STR, O(state_dir), NULL,
	    "folder of the outbox database (default: INBOX/../state)", 0, 0 },
	{ "tls_cert", HSI_CFG_STR, O(tls_cert), NULL,
	    "PEM certificate+key for tls+tcp://", 0, 0 },
	{ "tls_ca", HSI_CFG_STR, O(tls_ca), NULL, "PEM CA for tls+tcp://", 0,
	    0 },
	{ "part_rows", HSI_CFG_INT, O(part_rows), "2000",
	    "rows per part at most", 1, 100000 },
	{ "resend_ms", HSI_CFG_INT, O(resend_ms), "1000",
	    "resend unacknowledged parts after this quiet time", 50, 600000 },
	{ "max_file_mb", HSI_CFG_INT, O(max_file_mb), "256",
	    "largest file accepted", 1, 4096 },
	{ "partial", HSI_CFG_BOOL, O(partial), "false",
	    "send the valid rows of a file that has invalid ones", 0, 0 },
	{ "dry_run", HSI_CFG_BOOL, O(dry_run), "false",
	    "submit: only validate and report", 0, 0 },
	{ "once", HSI_CFG_BOOL, O(once), "false",
	    "exit when the inbox is empty and all is acknowledged", 0, 0 },
	{ "log_level", HSI_CFG_STR, O(log_level), "info",
	    "debug, info, warn or error", 0, 0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};
#undef O

long long
hsi_ingest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
make_dir(const char *path, char *err, size_t err_size)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		snprintf(err, err_size, "cannot create folder %s: %s", path,
		    strerror(errno));
		return HSI_EIO;
	}
	return 0;
}

int
hsi_ingest_state_path(const hsi_ingest_config *cfg, char *path, size_t size)
{
	if (cfg->state_dir != NULL) {
		snprintf(path, size, "%s", cfg->state_dir);
	} else {
		snprintf(path, size, "%s/../state", cfg->inbox);
	}
	return 0;
}

static void
load_cached_catalog(hsi_ingest *n)
{
	unsigned char *snap;
	size_t         len;
	if (hsi_outbox_load_catalog(n->ob, &snap, &len) != 0) {
		return;
	}
	Hsi__CatalogSnapshot *s = (Hsi__CatalogSnapshot *) hsi_pb_unpack(
	    &hsi__catalog_snapshot__descriptor, snap, len);
	if (s != NULL && hsi_catalog_from_snapshot(s, &n->cat) == 0) {
		hsi_log_info("cached catalog loaded", "{s:i}", "version",
		    (int) n->cat->version);
	}
	hsi_pb_free((ProtobufCMessage *) s);
	free(snap);
}

int
hsi_ingest_open_outbox(const hsi_ingest_config *cfg, const char *node_id,
    hsi_outbox **ob, char *err, size_t err_size)
{
	char dir[4096], path[4200];
	hsi_ingest_state_path(cfg, dir, sizeof(dir));
	int rv = make_dir(dir, err, err_size);
	if (rv == 0) {
		snprintf(path, sizeof(path), "%s/outbox.db", dir);
		rv = hsi_outbox_open(
		    path, cfg->agency, node_id, ob, err, err_size);
	}
	return rv;
}

int
hsi_ingest_open(
    const hsi_ingest_config *cfg, hsi_ingest **out, char *err, size_t err_size)
{
	hsi_ingest *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		return HSI_ENOMEM;
	}
	n->cfg = cfg;
	snprintf(n->node_id, sizeof(n->node_id), "%s",
	    cfg->node_id ? cfg->node_id : cfg->agency);
	hsi_ingest_dirs(cfg->inbox, n->sending_dir, n->done_dir,
	    n->rejected_dir, sizeof(n->done_dir));
	int rv = hsi_key_load(cfg->key_file, &n->key, err, err_size);
	if (rv == 0 && strcmp(n->key.agency, cfg->agency) != 0) {
		snprintf(err, err_size,
		    "%s: the key belongs to agency %s, not %s", cfg->key_file,
		    n->key.agency, cfg->agency);
		rv = HSI_EINVAL;
	}
	if (rv == 0
	    && ((rv = make_dir(cfg->inbox, err, err_size))
	        || (rv = make_dir(n->sending_dir, err, err_size))
	        || (rv = make_dir(n->done_dir, err, err_size))
	        || (rv = make_dir(n->rejected_dir, err, err_size))
	        || (rv = hsi_ingest_open_outbox(
	                cfg, n->node_id, &n->ob, err, err_size)))) {
		goto fail;
	}
	if (rv != 0) {
		goto fail;
	}
	/* Reports half-written when the node was killed (report.c writes
	 * NAME.tmp, then renames): they are rewritten when needed. */
	for (const char *d = n->sending_dir; d != NULL; d = d == n->sending_dir
	         ? n->done_dir
	         : d == n->done_dir ? n->rejected_dir
	                            : NULL) {
		hsi_ingest_remove_tmp(d);
	}
	hsi_ingest_finish_answered(n);
	hsi_outbox_status st;
	hsi_outbox_status_get(n->ob, &st);
	n->acked = st.acked_seq;
	load_cached_catalog(n);
	char topic_ack[HSI_TOPIC_MAX], topic_cat[HSI_TOPIC_MAX];
	snprintf(topic_ack, sizeof(topic_ack), "ack.%s\n", cfg->agency);
	snprintf(topic_cat, sizeof(topic_cat), "catalog.%s\n", cfg->agency);
	const char *topics[] = { topic_cat, topic_ack, NULL };
	hsi_net_tls tls      = { cfg->tls_cert, NULL, cfg->tls_ca };
	if ((rv = hsi_net_pub_open(
	         &n->pub, cfg->scorer_url, 0, &tls, err, err_size))
	    != 0) {
		goto fail;
	}
	if ((rv = hsi_net_sub_open(
	         &n->sub, cfg->events_url, 0, topics, &tls, err, err_size))
	    != 0) {
		nng_close(n->pub);
		goto fail;
	}
	if ((rv = hsi_rxq_start(n->sub, 1024, &n->rxq)) != 0) {
		nng_close(n->sub);
		nng_close(n->pub);
		goto fail;
	}
	hsi_log_info("outbox open", "{s:I, s:I, s:I, s:i}", "epoch",
	    (json_int_t) st.epoch, "next_seq", (json_int_t) st.next_seq,
	    "acked_seq", (json_int_t) st.acked_seq, "pending_parts",
	    (int) st.pending_parts);
	*out = n;
	return 0;
fail:
	hsi_outbox_close(n->ob);
	free(n);
	return rv;
}

void
hsi_ingest_close(hsi_ingest *n)
{
	if (n == NULL) {
		return;
	}
	hsi_rxq_stop(n->rxq);
	/* Bounded: nng 1.5.2's close can hang (net.h). */
	hsi_net_close_bounded(n->pub, 3000);
	hsi_outbox_close(n->ob);
	hsi_catalog_free(n->cat);
	free(n);
}

/* ---- outgoing ------------------------------------------------------------
 */

static void
seal_and_send(hsi_ingest *n, uint64_t seq, Hsi__PayloadType type,
    const unsigned char *payload, size_t len)
{
	char topic[HSI_TOPIC_MAX];
	snprintf(topic, sizeof(topic), "obs.%s", n->cfg->agency);
	Hsi__Envelope env = HSI__ENVELOPE__INIT;
	env.agency        = n->cfg->agency;
	env.node_id       = n->node_id;
	env.epoch         = hsi_outbox_epoch(n->ob);
	env.seq           = seq;
	env.sent_unix_ms  = hsi_ingest_now_ms();
	env.payload_type  = type;
	env.payload.data  = (uint8_t *) payload;
	env.payload.len   = len;
	hsi_envelope_publish(n->pub, topic, &env, &n->key);
}

typedef struct {
	hsi_ingest *n;
	uint64_t    from, to; /* send seqs in (from, to] */
	int         probe;    /* link down: one part only */
	int         sent;
} send_ctx;

static void
send_one(void *arg, uint64_t seq, const unsigned char *payload, size_t len)
{
	send_ctx *c = arg;
	if (seq <= c->from || seq > c->to || (c->probe && c->sent > 0)) {
		return;
	}
	seal_and_send(
	    c->n, seq, HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, payload, len);
	c->sent++;
	if (seq > c->n->sent_hi) {
		c->n->sent_hi = seq;
	}
}

/* Sends parts within the window; from_acked: go back to the acked point
 * (a resend), else only parts never sent since the last resend. */
static void
send_window(hsi_ingest *n, int from_acked)
{
	long long now   = hsi_ingest_now_ms();
	int       probe = now - n->last_heard_ms > LINK_TIMEOUT_MS;
	send_ctx  c     = { n, from_acked ? n->acked : n->sent_hi,
		     n->acked + WINDOW_PARTS, probe, 0 };
	if (from_acked) {
		n->sent_hi = n->acked;
	}
	if (c.from >= c.to) {
		return;
	}
	hsi_outbox_pending(n->ob, WINDOW_PARTS, send_one, &c);
	if (from_acked) {
		n->last_progress_ms = now;
	}
}

static void
send_status(hsi_ingest *n, Hsi__Ack *ack)
{
	Hsi__NodeStatus st  = HSI__NODE_STATUS__INIT;
	char          **ids = calloc(ack->n_verdicts + 1, sizeof(char *));
	if (ids == NULL) {
		return;
	}
	for (size_t i = 0; i < ack->n_verdicts; i++) {
		ids[i] = ack->verdicts[i]->file_id;
	}
	st.n_verdicts_received = ack->n_verdicts;
	st.verdicts_received   = ids;
	st.acked_seq           = n->acked;
	size_t         len     = hsi__node_status__get_packed_size(&st);
	unsigned char *buf     = malloc(len + 1);
	if (buf != NULL) {
		hsi__node_status__pack(&st, buf);
		/* seq 0: a status takes no place in the sequence. */
		seal_and_send(n, 0, HSI__PAYLOAD_TYPE__NODE_STATUS, buf, len);
	}
	free(buf);
	free(ids);
}

/* ---- incoming: catalog and acks ----------------------------------------- */

/*
 * Whether env was signed with our key, or the one before a reload: 1 yes;
 * 0 it names another key (another node of the agency: not for us, ignored
 * quietly); -1 it names our key but the signature is wrong (a forgery,
 * logged).
 */
static int
signed_by_us(const hsi_ingest *n, const char *topic, const Hsi__Envelope *env)
{
	const hsi_key *k = strcmp(env->key_id, n->key.id) == 0 ? &n->key
	    : n->have_old_key && strcmp(env->key_id, n->old_key.id) == 0
	    ? &n->old_key
	    : NULL;
	if (k == NULL) {
		return 0;
	}
	return hsi_envelope_verify(topic, env, k) == 0 ? 1 : -1;
}

static void
on_catalog(hsi_ingest *n, const char *topic, const Hsi__Envelope *env)
{
	/* A forged catalog could make us accept what the scorer refuses, or
	 * refuse what it accepts. */
	int sig = signed_by_us(n, topic, env);
	if (sig <= 0) {
		if (sig < 0) {
			hsi_log_warn(
			    "catalog with bad signature ignored", NULL);
		}
		return;
	}
	Hsi__CatalogSnapshot *snap = (Hsi__CatalogSnapshot *) hsi_pb_unpack(
	    &hsi__catalog_snapshot__descriptor, env->payload.data,
	    env->payload.len);
	hsi_catalog *c;
	if (snap == NULL) {
		return;
	}
	if ((n->cat == NULL || n->cat->version != snap->version)
	    && hsi_catalog_from_snapshot(snap, &c) == 0) {
		hsi_catalog_free(n->cat);
		n->cat = c;
		/* Cached so files can be validated while the link is down. */
		hsi_outbox_save_catalog(
		    n->ob, c->version, env->payload.data, env->payload.len);
		hsi_log_info("catalog received", "{s:i, s:i}", "version",
		    (int) c->version, "indicators", (int) c->n_ind);
	}
	hsi_pb_free((ProtobufCMessage *) snap);
}

static void
record_verdicts(hsi_ingest *n, Hsi__Ack *ack)
{
	for (size_t i = 0; i < ack->n_verdicts; i++) {
		Hsi__FileVerdict *v   = ack->verdicts[i];
		size_t            len = hsi__file_verdict__get_packed_size(v);
		unsigned char    *b   = malloc(len + 1);
		char              name[256];
		if (b == NULL) {
			continue;
		}
		hsi__file_verdict__pack(v, b);
		if (hsi_outbox_verdict(n->ob, v->file_id, v->state, b, len,
		        name, sizeof(name))
		    == 1) {
			hsi_ingest_file_done(n, name, v);
		}
		free(b);
	}
	if (ack->n_verdicts > 0) {
		send_status(n, ack);
	}
}

static void
on_ack(hsi_ingest *n, const char *topic, const Hsi__Envelope *env)
{
	/* A forged ack could make us drop data never stored. */
	int sig = signed_by_us(n, topic, env);
	if (sig <= 0) {
		if (sig < 0) {
			hsi_log_warn("ack with bad signature ignored", NULL);
		}
		return;
	}
	Hsi__Ack *ack = (Hsi__Ack *) hsi_pb_unpack(
	    &hsi__ack__descriptor, env->payload.data, env->payload.len);
	if (ack == NULL) {
		return;
	}
	if (strcmp(ack->node_id, n->node_id) == 0
	    && ack->epoch == hsi_outbox_epoch(n->ob)) {
		n->last_heard_ms = hsi_ingest_now_ms();
		if (hsi_outbox_ack(n->ob, ack->acked_seq) == 1) {
			n->acked            = ack->acked_seq;
			n->last_progress_ms = n->last_heard_ms;
			send_window(n, 0);
		}
		record_verdicts(n, ack);
		if (ack->refusal[0]) {
			hsi_log_warn("the scorer refused a message", "{s:s}",
			    "reason", ack->refusal);
		}
	}
	hsi_pb_free((ProtobufCMessage *) ack);
}

static void
on_message(hsi_ingest *n, nng_msg *m)
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
	if (strncmp(topic, "catalog.", 8) == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__CATALOG_SNAPSHOT) {
		on_catalog(n, topic, env);
	} else if (strncmp(topic, "ack.", 4) == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__ACK) {
		on_ack(n, topic, env);
	}
	hsi_envelope_free(env);
}

/* ---- the loop ------------------------------------------------------------
 */

void
hsi_ingest_reload_key(hsi_ingest *n)
{
	char    err[512];
	hsi_key k;
	if (hsi_key_load(n->cfg->key_file, &k, err, sizeof(err)) != 0
	    || strcmp(k.agency, n->cfg->agency) != 0) {
		hsi_log_error("key reload failed; keeping the current key",
		    "{s:s}", "error", err);
		return;
	}
	if (strcmp(k.id, n->key.id) != 0) {
		n->old_key      = n->key;
		n->have_old_key = 1;
		n->key          = k;
		hsi_log_info("key reloaded", "{s:s}", "key_id", k.id);
	}
}

static int
all_done(hsi_ingest *n)
{
	hsi_outbox_status st;
	hsi_outbox_status_get(n->ob, &st);
	return st.pending_parts == 0 && st.pending_files == 0;
}

int
hsi_ingest_run(
    hsi_ingest *n, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
	long long waiting_log = 0;
	hsi_log_info("ready", "{s:s, s:s, s:s}", "agency", n->cfg->agency,
	    "node", n->node_id, "inbox", n->cfg->inbox);
	while (!*stop) {
		if (reload && *reload) {
			*reload = 0;
			hsi_ingest_reload_key(n);
		}
		nng_msg *m = hsi_rxq_get(n->rxq, 20);
		if (m != NULL) {
			on_message(n, m);
			nng_msg_free(m);
			continue;
		}
		long long now = hsi_ingest_now_ms();
		if (n->last_heard_ms > n->last_heard_saved_ms + 2000) {
			hsi_outbox_heard(n->ob, n->last_heard_ms);
			n->last_heard_saved_ms = n->last_heard_ms;
		}
		if (now - n->last_progress_ms >= n->cfg->resend_ms) {
			send_window(n, 1);
		}
		if (n->cat == NULL) {
			if (now - waiting_log > 5000) {
				hsi_log_info(
				    "waiting for the catalog from the "
				    "scorer",
				    "{s:s}", "events_url", n->cfg->events_url);
				waiting_log = now;
			}
			continue;
		}
		if (hsi_ingest_intake(n)) {
			send_window(n, 0);
		} else if (n->cfg->once && all_done(n)) {
			break;
		}
	}
	return n->any_rejected && n->cfg->once ? 1 : 0;
}
