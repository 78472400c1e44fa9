/*
 * hostile_peer.c: a scripted attacker for tests/fault/fault_test.py
 * (scenario "hostile"; see tests/fault/README.md).
 *
 *   hostile_peer SCORER_URL EVENTS_URL KEYFILE_OF_AGENCY_A AGENCY_B OUT_DIR
 *
 * It holds a real key of agency A, dials the scorer's ingest address and
 * sends, each a few times (PUB drops before the pipe is up):
 *   a   an ObservationBatch of A whose HMAC is made with a random key
 *       (a2: the same under an unknown key id)
 *   b   a validly signed message whose agency and topic are then changed
 *       to B (b2: only the topic changed)
 *   c   a validly signed message whose seq is changed after signing
 *   d   a validly signed batch of A (node "hostile-d", seq 1) with one row
 *       of an indicator owned by B (must be refused: E_NOT_OWNER) and one
 *       row of A's own (A is entitled to it: applied once); sent until
 *       its ack is seen
 *   e   replays of d with the same seq
 *   f   truncated protobuf, random garbage and 0xff bytes after a valid
 *       topic, and a message with no topic at all (nng's SUB filter drops
 *       that one before the scorer sees it)
 *   i   refused messages whose node id (i) or agency and topic (i2) are
 *       not UTF-8: they must still reach the quarantine table
 *   bomb  a validly signed batch (seq 2) of ~1 MB of empty observations,
 *       which must hit the capped allocator, not the heap
 *   g   an oversized message (> 1 MiB)
 * and, for its whole life, plays man in the middle on the events side:
 *   h   it LISTENS as a PUB on a second address (written to
 *       OUT_DIR/forged_events_url), relays the real scorer's catalog there,
 *       swallows the real acks of agency A and publishes instead, for every
 *       (node, epoch, key id) it learnt from them, acks with acked_seq
 *       1..32 and 1000 and "applied" verdicts for the file ids listed in
 *       OUT_DIR/forge_file_ids, signed with a random key under the node's
 *       real key id, plus the real ack tampered (acked_seq raised, forged
 *       verdicts) under its original signature. A node pointed at that
 *       address must ignore all of it.
 *
 * Results go to OUT_DIR/hostile.json once the attacks are done and to
 * OUT_DIR/forged_stats.json every second. It stops on SIGTERM/SIGINT, when
 * OUT_DIR/stop exists, or after 240 s. Exit status: 0 when d and the bomb
 * were acknowledged by the scorer, 1 otherwise, 2 on a setup error.
 */
#include <errno.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "envelope.h"
#include "error.h"
#include "hsi.pb-c.h"
#include "net.h"
#include "rxq.h"

#define MAX_TARGETS 16
#define MAX_FORGE_IDS 16
#define LIFETIME_MS 240000

typedef struct {
	char     node_id[64];
	uint64_t epoch;
	char     key_id[HSI_KEY_ID_MAX + 1];
	uint64_t real_acked;
	/* The last real ack seen for this node (topic '\n' envelope). */
	unsigned char *real;
	size_t         real_len;
} target;

static volatile sig_atomic_t stop_flag;
static atomic_int            pipes_up, pipes_added, pipes_removed;

static const char *out_dir;
static hsi_key     key_a;
static const char *agency_b;
static nng_socket  to_scorer, forged_pub, events_sub;
static hsi_rxq    *events_q;

static target targets[MAX_TARGETS];
static size_t n_targets;
static char   forge_ids[MAX_FORGE_IDS][81];
static size_t n_forge_ids;

/* Progress of the attack, reported in hostile.json. */
static uint64_t d_epoch;
static char     d_file_id[64];
static uint64_t d_acked;
static json_t  *d_verdict;
static char     d_refusal[256];
static char     own_ind[HSI_CODE_MAX], foreign_ind[HSI_CODE_MAX];
static double   own_value = 42.25;
static long     sent_counts[16];
static long     forged_acks, tampered_acks, catalogs_relayed, real_acks;

enum {
	S_A,
	S_A2,
	S_B,
	S_B2,
	S_C,
	S_D,
	S_E,
	S_F_TRUNC,
	S_F_GARBAGE,
	S_F_FF,
	S_F_NOTOPIC,
	S_I_NODE,
	S_I_AGENCY,
	S_BOMB,
	S_G,
	S_N
};
static const char *const sent_names[S_N]
    = { "a_forged_hmac", "a2_unknown_key_id", "b_agency_changed",
	      "b2_topic_changed", "c_seq_changed", "d_batch", "e_replay",
	      "f_truncated", "f_garbage", "f_ff_bytes", "f_no_topic",
	      "i_node_not_utf8", "i_agency_not_utf8", "bomb", "g_oversized" };

static void
on_signal(int sig)
{
	(void) sig;
	stop_flag = 1;
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void) p;
	(void) arg;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&pipes_up, 1);
		atomic_fetch_add(&pipes_added, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&pipes_up, 1);
		atomic_fetch_add(&pipes_removed, 1);
	}
}

static void
random_bytes(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int) n) != 1) {
		fprintf(stderr, "hostile_peer: no randomness\n");
		exit(2);
	}
}

/* Writes text to OUT_DIR/name atomically. */
static void
write_out(const char *name, const char *text)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(
		    stderr, "hostile_peer: %s: %s\n", tmp, strerror(errno));
		return;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(
		    stderr, "hostile_peer: %s: %s\n", path, strerror(errno));
	}
}

static int
out_exists(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	return access(path, F_OK) == 0;
}

static void
send_raw(const void *data, size_t len, int what)
{
	if (hsi_net_send(to_scorer, NULL, data, len) == 0 && what >= 0) {
		sent_counts[what]++;
	}
}

/* topic '\n' packed env, without touching env's hmac. */
static unsigned char *
pack_raw(const char *topic, const Hsi__Envelope *env, size_t *len)
{
	size_t         tlen = strlen(topic);
	size_t         plen = hsi__envelope__get_packed_size(env);
	unsigned char *buf  = malloc(tlen + 1 + plen);
	if (buf == NULL) {
		return NULL;
	}
	memcpy(buf, topic, tlen);
	buf[tlen] = '\n';
	hsi__envelope__pack(env, buf + tlen + 1);
	*len = tlen + 1 + plen;
	return buf;
}

/* Packs an ObservationBatch of rows (indicator, area, period, value). */
static uint8_t *
make_batch(const char *file_id, const char *const (*rows)[3],
    const double *values, size_t n, size_t *len)
{
	Hsi__Observation  ob[4];
	Hsi__Observation *pob[4];
	for (size_t i = 0; i < n && i < 4; i++) {
		hsi__observation__init(&ob[i]);
		ob[i].indicator = (char *) rows[i][0];
		ob[i].area      = (char *) rows[i][1];
		ob[i].period    = (char *) rows[i][2];
		ob[i].value     = values[i];
		ob[i].has_value = 1;
		ob[i].status    = "A";
		ob[i].note      = "";
		ob[i].row       = (uint32_t) i + 2;
		pob[i]          = &ob[i];
	}
	Hsi__ObservationBatch b = HSI__OBSERVATION_BATCH__INIT;
	b.file_id               = (char *) file_id;
	b.file_name             = "hostile.csv";
	b.part                  = 1;
	b.parts                 = 1;
	b.catalog_version       = 1;
	b.rows_in_file          = (uint32_t) n;
	b.n_observations        = n;
	b.observations          = pob;
	*len                    = hsi__observation_batch__get_packed_size(&b);
	uint8_t *buf            = malloc(*len + 1);
	if (buf != NULL) {
		hsi__observation_batch__pack(&b, buf);
	}
	return buf;
}

static void
env_init(Hsi__Envelope *env, const char *agency, const char *node,
    uint64_t epoch, uint64_t seq, Hsi__PayloadType type, uint8_t *payload,
    size_t plen)
{
	hsi__envelope__init(env);
	env->agency       = (char *) agency;
	env->node_id      = (char *) node;
	env->epoch        = epoch;
	env->seq          = seq;
	env->sent_unix_ms = wall_ms();
	env->payload_type = type;
	env->payload.data = payload;
	env->payload.len  = plen;
}

/* Seals with key; returns the wire message or NULL. */
static unsigned char *
seal(const char *topic, Hsi__Envelope *env, const hsi_key *key, size_t *len)
{
	unsigned char *wire;
	if (hsi_envelope_seal(topic, env, key, &wire, len) != 0) {
		return NULL;
	}
	return wire;
}

/* Signs env for topic with key, then lets the caller tamper with it before
 * packing: the MAC stays the one of the untampered message. */
static void
sign_in_place(const char *topic, Hsi__Envelope *env, const hsi_key *key,
    unsigned char mac[32])
{
	env->protocol_version = HSI_PROTOCOL_VERSION;
	env->key_id           = (char *) key->id;
	hsi_envelope_mac(topic, env, key->secret, HSI_KEY_BYTES, mac);
	env->hmac.data = mac;
	env->hmac.len  = 32;
}

/* ---- events side: learning targets, relaying, forging ------------------
 */

static target *
find_target(const char *node, uint64_t epoch)
{
	for (size_t i = 0; i < n_targets; i++) {
		if (strcmp(targets[i].node_id, node) == 0
		    && targets[i].epoch == epoch) {
			return &targets[i];
		}
	}
	if (n_targets == MAX_TARGETS) {
		return NULL;
	}
	target *t = &targets[n_targets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->node_id, sizeof(t->node_id), "%s", node);
	t->epoch = epoch;
	return t;
}

static json_t *
verdict_json(const Hsi__FileVerdict *v)
{
	json_t *codes = json_array();
	for (size_t k = 0; k < v->n_rejections; k++) {
		json_array_append_new(
		    codes, json_string(v->rejections[k]->code));
	}
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:o}", "file_id",
	    v->file_id, "state", v->state, "imported", (int) v->imported,
	    "updated", (int) v->updated, "ignored", (int) v->ignored,
	    "rejected", (int) v->rejected, "codes", codes);
}

static void
on_real_ack(const char *topic, nng_msg *m, const Hsi__Envelope *env)
{
	Hsi__Ack *ack = (Hsi__Ack *) hsi_pb_unpack(
	    &hsi__ack__descriptor, env->payload.data, env->payload.len);
	if (ack == NULL) {
		return;
	}
	real_acks++;
	if (strcmp(ack->node_id, "hostile-d") == 0 && ack->epoch == d_epoch) {
		/* Ours: check it is really the scorer's, then note it. */
		if (hsi_envelope_verify(topic, env, &key_a) == 0) {
			if (ack->acked_seq > d_acked) {
				d_acked = ack->acked_seq;
			}
			if (ack->refusal[0]) {
				snprintf(d_refusal, sizeof(d_refusal), "%s",
				    ack->refusal);
			}
			for (size_t i = 0; i < ack->n_verdicts; i++) {
				if (strcmp(
				        ack->verdicts[i]->file_id, d_file_id)
				        == 0
				    && d_verdict == NULL) {
					d_verdict
					    = verdict_json(ack->verdicts[i]);
				}
			}
		}
	} else if (strncmp(ack->node_id, "hostile-", 8) != 0) {
		target *t = find_target(ack->node_id, ack->epoch);
		if (t != NULL) {
			snprintf(
			    t->key_id, sizeof(t->key_id), "%s", env->key_id);
			t->real_acked = ack->acked_seq;
			free(t->real);
			t->real_len = nng_msg_len(m);
			t->real     = malloc(t->real_len);
			if (t->real != NULL) {
				memcpy(t->real, nng_msg_body(m), t->real_len);
			}
		}
	}
	hsi_pb_free((ProtobufCMessage *) ack);
}

/* Handles one message from the real events address: the catalog (signed
 * per key by the scorer, so relayed untouched) goes to the forged address,
 * acks are swallowed (and learnt from). */
static void
on_event(nng_msg *m)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env;
	if (hsi_net_split(nng_msg_body(m), nng_msg_len(m), topic, &body, &blen)
	    != 0) {
		return;
	}
	if (strncmp(topic, "catalog.", 8) == 0) {
		if (hsi_net_send(
		        forged_pub, NULL, nng_msg_body(m), nng_msg_len(m))
		    == 0) {
			catalogs_relayed++;
		}
		return;
	}
	if (strncmp(topic, "ack.", 4) != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		return;
	}
	if (env->payload_type == HSI__PAYLOAD_TYPE__ACK) {
		on_real_ack(topic, m, env);
	}
	hsi_envelope_free(env);
}

static void
load_forge_ids(void)
{
	char path[4096], line[128];
	snprintf(path, sizeof(path), "%s/forge_file_ids", out_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return;
	}
	n_forge_ids = 0;
	while (n_forge_ids < MAX_FORGE_IDS && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		size_t len                  = strlen(line);
		if (len > 0 && len < sizeof(forge_ids[0])) {
			memcpy(forge_ids[n_forge_ids++], line, len + 1);
		}
	}
	fclose(f);
}

/* Fills verdicts (state applied, 999 imported) for the listed file ids. */
static size_t
forged_verdicts(Hsi__FileVerdict *v, Hsi__FileVerdict **pv)
{
	for (size_t i = 0; i < n_forge_ids; i++) {
		hsi__file_verdict__init(&v[i]);
		v[i].file_id  = forge_ids[i];
		v[i].state    = "applied";
		v[i].imported = 999;
		pv[i]         = &v[i];
	}
	return n_forge_ids;
}

static void
forge_for(const target *t)
{
	Hsi__FileVerdict  v[MAX_FORGE_IDS];
	Hsi__FileVerdict *pv[MAX_FORGE_IDS];
	size_t            nv = forged_verdicts(v, pv);
	char              topic[HSI_TOPIC_MAX];
	snprintf(topic, sizeof(topic), "ack.%s", key_a.agency);
	hsi_key fake;
	memset(&fake, 0, sizeof(fake));
	snprintf(fake.agency, sizeof(fake.agency), "%s", key_a.agency);
	snprintf(fake.id, sizeof(fake.id), "%s", t->key_id);
	random_bytes(fake.secret, sizeof(fake.secret));
	for (uint64_t s = 1; s <= 33; s++) {
		Hsi__Ack ack        = HSI__ACK__INIT;
		ack.agency          = key_a.agency;
		ack.node_id         = (char *) t->node_id;
		ack.epoch           = t->epoch;
		ack.acked_seq       = s == 33 ? 1000 : s;
		ack.catalog_version = 1;
		ack.refusal         = "";
		ack.n_verdicts      = nv;
		ack.verdicts        = pv;
		size_t   len        = hsi__ack__get_packed_size(&ack);
		uint8_t *buf        = malloc(len + 1);
		if (buf == NULL) {
			return;
		}
		hsi__ack__pack(&ack, buf);
		Hsi__Envelope env;
		env_init(&env, key_a.agency, "scorer", t->epoch, ack.acked_seq,
		    HSI__PAYLOAD_TYPE__ACK, buf, len);
		size_t         wlen;
		unsigned char *wire = seal(topic, &env, &fake, &wlen);
		if (wire != NULL
		    && hsi_net_send(forged_pub, NULL, wire, wlen) == 0) {
			forged_acks++;
		}
		free(wire);
		free(buf);
	}
	/* The real ack, tampered with under its original signature. */
	if (t->real == NULL) {
		return;
	}
	char                 rtopic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env;
	if (hsi_net_split(t->real, t->real_len, rtopic, &body, &blen) != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		return;
	}
	Hsi__Ack *ack = (Hsi__Ack *) hsi_pb_unpack(
	    &hsi__ack__descriptor, env->payload.data, env->payload.len);
	if (ack != NULL) {
		Hsi__Ack copy   = *ack;
		copy.acked_seq  = ack->acked_seq + 16;
		copy.n_verdicts = nv;
		copy.verdicts   = pv;
		size_t   len    = hsi__ack__get_packed_size(&copy);
		uint8_t *buf    = malloc(len + 1);
		if (buf != NULL) {
			hsi__ack__pack(&copy, buf);
			Hsi__Envelope e2 = *env;
			e2.payload.data  = buf;
			e2.payload.len   = len;
			size_t         wlen;
			unsigned char *wire = pack_raw(rtopic, &e2, &wlen);
			if (wire != NULL
			    && hsi_net_send(forged_pub, NULL, wire, wlen)
			        == 0) {
				tampered_acks++;
			}
			free(wire);
			free(buf);
		}
		hsi_pb_free((ProtobufCMessage *) ack);
	}
	hsi_envelope_free(env);
}

static void
write_stats(void)
{
	json_t *ts = json_array();
	for (size_t i = 0; i < n_targets; i++) {
		/* The epoch as text: JSON readers may lose 64-bit integers. */
		char e[24];
		snprintf(e, sizeof(e), "%llu",
		    (unsigned long long) targets[i].epoch);
		json_array_append_new(ts,
		    json_pack("{s:s, s:s, s:s, s:I}", "node_id",
		        targets[i].node_id, "epoch_text", e, "key_id",
		        targets[i].key_id, "real_acked",
		        (json_int_t) targets[i].real_acked));
	}
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:o}",
	    "forged_acks", (json_int_t) forged_acks, "tampered_acks",
	    (json_int_t) tampered_acks, "catalogs_relayed",
	    (json_int_t) catalogs_relayed, "real_acks_swallowed",
	    (json_int_t) real_acks, "forge_file_ids", (int) n_forge_ids,
	    "scorer_pipes_added", atomic_load(&pipes_added),
	    "scorer_pipes_removed", atomic_load(&pipes_removed), "targets",
	    ts);
	char   *text
	    = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	if (text != NULL) {
		write_out("forged_stats.json", text);
		free(text);
	}
	json_decref(o);
}

/* Serves the events side for ms milliseconds. */
static void
pump(long ms)
{
	static long long next_forge, next_stats;
	long long        end = now_ms() + ms;
	do {
		nng_msg *m = hsi_rxq_get(events_q, 10);
		if (m != NULL) {
			on_event(m);
			nng_msg_free(m);
		}
		long long now = now_ms();
		if (now >= next_forge) {
			load_forge_ids();
			for (size_t i = 0; i < n_targets; i++) {
				if (targets[i].key_id[0] != '\0') {
					forge_for(&targets[i]);
				}
			}
			next_forge = now + 200;
		}
		if (now >= next_stats) {
			write_stats();
			next_stats = now + 1000;
		}
	} while (now_ms() < end && !stop_flag);
}

/* ---- the attacks ----------------------------------------------------------
 */

static void
repeat(const unsigned char *wire, size_t len, int what, int times)
{
	for (int i = 0; i < times && !stop_flag; i++) {
		send_raw(wire, len, what);
		pump(60);
	}
}

static const hsi_indicator *
first_annual(const hsi_catalog *cat, const char *agency)
{
	for (size_t i = 0; i < cat->n_ind; i++) {
		if (strcmp(cat->ind[i].agency, agency) == 0
		    && cat->ind[i].freq == HSI_FREQ_ANNUAL) {
			return &cat->ind[i];
		}
	}
	return NULL;
}

static int
attack(void)
{
	char topic_a[HSI_TOPIC_MAX], topic_b[HSI_TOPIC_MAX];
	snprintf(topic_a, sizeof(topic_a), "obs.%s", key_a.agency);
	snprintf(topic_b, sizeof(topic_b), "obs.%s", agency_b);
	unsigned char rnd[16];
	char          hex[33];
	random_bytes(rnd, sizeof(rnd));
	hsi_hex(rnd, sizeof(rnd), hex);
	snprintf(d_file_id, sizeof(d_file_id), "%.24s-%.16s", hex, hex + 16);
	random_bytes(&d_epoch, sizeof(d_epoch));
	d_epoch &= 0x7fffffffffffffffULL;

	/* d's rows: B's indicator (refused) and A's own (entitled). */
	const char *const rows[2][3]
	    = { { foreign_ind, "10", "2016" }, { own_ind, "10", "2016" } };
	const double values[2] = { 1.5, own_value };
	size_t       plen;
	uint8_t     *payload = make_batch(d_file_id, rows, values, 2, &plen);
	/* a, b, c carry A's own row too, at another value: were any of them
	 * applied, observation would show it. */
	const double bad_values[2] = { 1.5, 77.75 };
	size_t       bplen;
	uint8_t     *bpayload
	    = make_batch("00ff00ff", rows + 1, bad_values + 1, 1, &bplen);
	if (payload == NULL || bpayload == NULL) {
		return 2;
	}
	Hsi__Envelope  env;
	unsigned char  mac[32];
	size_t         wlen;
	unsigned char *wire;

	/* a: HMAC made with a random key under A's real key id. */
	hsi_key fake = key_a;
	random_bytes(fake.secret, sizeof(fake.secret));
	env_init(&env, key_a.agency, "hostile-a", d_epoch + 1, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	if ((wire = seal(topic_a, &env, &fake, &wlen)) != NULL) {
		repeat(wire, wlen, S_A, 5);
		free(wire);
	}
	/* a2: the same under a key id the scorer does not know. */
	snprintf(fake.id, sizeof(fake.id), "%s-forged-key", key_a.agency);
	env_init(&env, key_a.agency, "hostile-a2", d_epoch + 2, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	if ((wire = seal(topic_a, &env, &fake, &wlen)) != NULL) {
		repeat(wire, wlen, S_A2, 5);
		free(wire);
	}
	/* b: signed for A, then agency and topic changed to B. */
	env_init(&env, key_a.agency, "hostile-b", d_epoch + 3, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	sign_in_place(topic_a, &env, &key_a, mac);
	env.agency = (char *) agency_b;
	if ((wire = pack_raw(topic_b, &env, &wlen)) != NULL) {
		repeat(wire, wlen, S_B, 5);
		free(wire);
	}
	/* b2: signed for A, only the topic changed to B. */
	env_init(&env, key_a.agency, "hostile-b2", d_epoch + 4, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	sign_in_place(topic_a, &env, &key_a, mac);
	if ((wire = pack_raw(topic_b, &env, &wlen)) != NULL) {
		repeat(wire, wlen, S_B2, 5);
		free(wire);
	}
	/* c: signed with seq 1, sent with seq 7. */
	env_init(&env, key_a.agency, "hostile-c", d_epoch + 5, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	sign_in_place(topic_a, &env, &key_a, mac);
	env.seq = 7;
	if ((wire = pack_raw(topic_a, &env, &wlen)) != NULL) {
		repeat(wire, wlen, S_C, 5);
		free(wire);
	}

	/* i: strings that are not UTF-8 (refused, but must still reach the
	 * quarantine table, which is UTF-8 text). */
	env_init(&env, key_a.agency, "hostile-i\xff\xfe", d_epoch + 6, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	if ((wire = seal(topic_a, &env, &fake, &wlen)) != NULL) {
		repeat(wire, wlen, S_I_NODE, 3);
		free(wire);
	}
	char bad_agency[32], bad_topic[HSI_TOPIC_MAX];
	snprintf(bad_agency, sizeof(bad_agency), "%s\xff", key_a.agency);
	snprintf(bad_topic, sizeof(bad_topic), "obs.%s", bad_agency);
	env_init(&env, bad_agency, "hostile-i2", d_epoch + 7, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bpayload, bplen);
	if ((wire = seal(bad_topic, &env, &fake, &wlen)) != NULL) {
		repeat(wire, wlen, S_I_AGENCY, 3);
		free(wire);
	}

	/* d: validly signed, until the scorer acknowledges it. */
	env_init(&env, key_a.agency, "hostile-d", d_epoch, 1,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, payload, plen);
	unsigned char *dwire = seal(topic_a, &env, &key_a, &wlen);
	size_t         dlen  = wlen;
	if (dwire == NULL) {
		return 2;
	}
	long long deadline = now_ms() + 60000;
	while (d_acked < 1 && now_ms() < deadline && !stop_flag) {
		send_raw(dwire, dlen, S_D);
		pump(300);
	}
	/* Wait a little for the verdict too (it rides on the heartbeat). */
	deadline = now_ms() + 5000;
	while (d_verdict == NULL && now_ms() < deadline && !stop_flag) {
		pump(100);
	}
	/* e: the same message again (same seq): a duplicate. */
	repeat(dwire, dlen, S_E, 5);

	/* f: truncated protobuf, garbage, 0xff, no topic. */
	repeat(dwire, strlen(topic_a) + 1 + (dlen - strlen(topic_a) - 1) / 2,
	    S_F_TRUNC, 3);
	unsigned char junk[300];
	memcpy(junk, topic_a, strlen(topic_a));
	junk[strlen(topic_a)] = '\n';
	size_t hdr            = strlen(topic_a) + 1;
	random_bytes(junk + hdr, sizeof(junk) - hdr);
	repeat(junk, sizeof(junk), S_F_GARBAGE, 3);
	memset(junk + hdr, 0xff, sizeof(junk) - hdr);
	repeat(junk, sizeof(junk), S_F_FF, 3);
	memset(junk, 'x', sizeof(junk));
	repeat(junk, sizeof(junk), S_F_NOTOPIC, 3);

	/* bomb: validly signed, seq 2, ~1 MB of empty observations (2 bytes
	 * each on the wire, ~100 bytes each unpacked). */
	size_t   blen = 1000000;
	uint8_t *bomb = malloc(blen);
	if (bomb == NULL) {
		return 2;
	}
	for (size_t i = 0; i + 1 < blen; i += 2) {
		bomb[i]     = 0x32; /* field 6 (observations), length-delim. */
		bomb[i + 1] = 0x00; /* empty */
	}
	env_init(&env, key_a.agency, "hostile-d", d_epoch, 2,
	    HSI__PAYLOAD_TYPE__OBSERVATION_BATCH, bomb, blen);
	unsigned char *bwire = seal(topic_a, &env, &key_a, &wlen);
	free(bomb);
	deadline = now_ms() + 60000;
	while (bwire != NULL && d_acked < 2 && now_ms() < deadline
	    && !stop_flag) {
		send_raw(bwire, wlen, S_BOMB);
		pump(500);
	}
	free(bwire);

	/* g: over the 1 MiB cap: nng must drop it (and the pipe). */
	size_t         glen = HSI_NET_MAX_MSG_BYTES + 64 * 1024;
	unsigned char *big  = malloc(glen);
	if (big != NULL) {
		memcpy(big, topic_a, strlen(topic_a));
		big[strlen(topic_a)] = '\n';
		memset(big + hdr, 0x41, glen - hdr);
		for (int i = 0; i < 3 && !stop_flag; i++) {
			send_raw(big, glen, S_G);
			pump(300);
		}
		free(big);
	}
	free(dwire);
	free(payload);
	free(bpayload);
	return d_acked >= 2 && d_verdict != NULL ? 0 : 1;
}

static void
write_result(int rv)
{
	json_t *sent = json_object();
	for (int i = 0; i < S_N; i++) {
		json_object_set_new(
		    sent, sent_names[i], json_integer(sent_counts[i]));
	}
	char e[24];
	snprintf(e, sizeof(e), "%llu", (unsigned long long) d_epoch);
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:{s:s, s:s, s:s, s:f}, "
	    "s:{s:s, s:s, s:s, s:f}, s:o, s:s, s:o, s:i, s:i}",
	    "agency", key_a.agency, "agency_b", agency_b, "node_id",
	    "hostile-d", "epoch_text", e, "file_id", d_file_id, "acked_seq",
	    (json_int_t) d_acked, "refusal", d_refusal, "own_row", "indicator",
	    own_ind, "area", "10", "period", "2016", "value", own_value,
	    "foreign_row", "indicator", foreign_ind, "area", "10", "period",
	    "2016", "value", 1.5, "verdict",
	    d_verdict ? json_incref(d_verdict) : json_null(), "result",
	    rv == 0 ? "ok" : "incomplete", "sent", sent, "scorer_pipes_added",
	    atomic_load(&pipes_added), "scorer_pipes_removed",
	    atomic_load(&pipes_removed));
	char *text
	    = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	if (text != NULL) {
		write_out("hostile.json", text);
		free(text);
	}
	json_decref(o);
}

static int
open_sockets(const char *scorer_url, const char *events_url)
{
	char err[512];
	int  rv;
	/* To the scorer: our own PUB so that the pipe callback is in place
	 * before the first connection. */
	nng_dialer d;
	if ((rv = nng_pub0_open(&to_scorer)) != 0
	    || (rv = nng_socket_set_int(to_scorer, NNG_OPT_SENDBUF, 1024)) != 0
	    || (rv = nng_pipe_notify(
	            to_scorer, NNG_PIPE_EV_ADD_POST, on_pipe, NULL))
	        != 0
	    || (rv = nng_pipe_notify(
	            to_scorer, NNG_PIPE_EV_REM_POST, on_pipe, NULL))
	        != 0
	    || (rv = nng_dialer_create(&d, to_scorer, scorer_url)) != 0) {
		fprintf(stderr, "hostile_peer: %s: %s\n", scorer_url,
		    nng_strerror(rv));
		return 2;
	}
	nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 100);
	nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 500);
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "hostile_peer: dial %s: %s\n", scorer_url,
		    nng_strerror(rv));
		return 2;
	}
	/* The forged events address: a kernel-chosen port. */
	nng_listener l;
	int          port = 0;
	if ((rv = nng_pub0_open(&forged_pub)) != 0
	    || (rv = nng_socket_set_int(forged_pub, NNG_OPT_SENDBUF, 8192))
	        != 0
	    || (rv = nng_listener_create(&l, forged_pub, "tcp://127.0.0.1:0"))
	        != 0
	    || (rv = nng_listener_start(l, 0)) != 0
	    || (rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port))
	        != 0) {
		fprintf(stderr, "hostile_peer: forged listener: %s\n",
		    nng_strerror(rv));
		return 2;
	}
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d\n", port);
	write_out("forged_events_url", url);
	/* The real events: catalog and A's acks. */
	char ack_topic[HSI_TOPIC_MAX], cat_topic[HSI_TOPIC_MAX];
	snprintf(ack_topic, sizeof(ack_topic), "ack.%s\n", key_a.agency);
	snprintf(cat_topic, sizeof(cat_topic), "catalog.%s\n", key_a.agency);
	const char *topics[] = { cat_topic, ack_topic, NULL };
	if (hsi_net_sub_open(
	        &events_sub, events_url, 0, topics, NULL, err, sizeof(err))
	        != 0
	    || hsi_rxq_start(events_sub, 4096, &events_q) != 0) {
		fprintf(stderr, "hostile_peer: %s\n", err);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char err[512];
	if (argc != 6) {
		fprintf(stderr,
		    "usage: hostile_peer SCORER_URL EVENTS_URL "
		    "KEYFILE_OF_AGENCY_A AGENCY_B OUT_DIR\n");
		return 2;
	}
	agency_b = argv[4];
	out_dir  = argv[5];
	if (hsi_key_load(argv[3], &key_a, err, sizeof(err)) != 0) {
		fprintf(stderr, "hostile_peer: %s\n", err);
		return 2;
	}
	hsi_catalog *cat;
	if (hsi_catalog_from_refdata(NULL, 0, NULL, &cat, err, sizeof(err))
	    != 0) {
		fprintf(stderr, "hostile_peer: %s\n", err);
		return 2;
	}
	const hsi_indicator *own     = first_annual(cat, key_a.agency);
	const hsi_indicator *foreign = first_annual(cat, agency_b);
	if (own == NULL || foreign == NULL) {
		fprintf(stderr,
		    "hostile_peer: %s and %s need an annual indicator each\n",
		    key_a.agency, agency_b);
		hsi_catalog_free(cat);
		return 2;
	}
	snprintf(own_ind, sizeof(own_ind), "%s", own->code);
	snprintf(foreign_ind, sizeof(foreign_ind), "%s", foreign->code);
	if (own_value > own->hard_max) {
		own_value = own->hard_max;
	}
	hsi_catalog_free(cat);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (open_sockets(argv[1], argv[2]) != 0) {
		return 2;
	}
	/* PUB drops everything until a pipe is up. */
	long long start = now_ms();
	while (atomic_load(&pipes_up) < 1 && now_ms() - start < 20000
	    && !stop_flag) {
		pump(50);
	}
	pump(200);
	int rv = attack();
	write_result(rv);
	fprintf(stderr,
	    "hostile_peer: attacks %s (d acked_seq %llu); forging acks on "
	    "the events side until stopped\n",
	    rv == 0 ? "done" : "INCOMPLETE", (unsigned long long) d_acked);
	while (!stop_flag && !out_exists("stop")
	    && now_ms() - start < LIFETIME_MS) {
		pump(200);
	}
	write_stats();
	hsi_rxq_stop(events_q);
	/* Bounded, like the services: nng 1.5.2's close can hang (net.h). */
	hsi_net_close_bounded(forged_pub, 3000);
	hsi_net_close_bounded(to_scorer, 3000);
	for (size_t i = 0; i < n_targets; i++) {
		free(targets[i].real);
	}
	json_decref(d_verdict);
	return rv;
}
