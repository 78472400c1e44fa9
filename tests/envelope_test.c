/*
 * envelope_test.c: the signed Envelope end to end (seal, hsi_net_split,
 * open, verify), the refusals an attacker or a broken peer would meet
 * (any changed field, another key, truncation, garbage, oversize input,
 * sub-message floods against the capped allocator), key files and hex.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envelope.h"
#include "error.h"
#include "net.h"

#define TOPIC "obs.DOH"

static hsi_key
test_key(unsigned char first)
{
	hsi_key k;
	memset(&k, 0, sizeof k);
	snprintf(k.agency, sizeof k.agency, "DOH");
	snprintf(k.id, sizeof k.id, "DOH-20261123-ab12");
	for (int i = 0; i < HSI_KEY_BYTES; i++) {
		k.secret[i] = (unsigned char) (first + i * 7);
	}
	return k;
}

/* A packed ObservationBatch with one full observation (caller frees). */
static uint8_t *
batch_bytes(size_t *len)
{
	Hsi__Observation      o  = HSI__OBSERVATION__INIT;
	Hsi__Observation     *po = &o;
	Hsi__ObservationBatch b  = HSI__OBSERVATION_BATCH__INIT;
	o.indicator              = "hlt_stunting";
	o.area                   = "50";
	o.period                 = "FY2024";
	o.value                  = 12.5;
	o.has_value              = 1;
	o.status                 = "A";
	o.note                   = "หมายเหตุ";
	o.row                    = 2;
	b.file_id                = "abc123";
	b.file_name              = "doh-2024.csv";
	b.part                   = 1;
	b.parts                  = 1;
	b.catalog_version        = 7;
	b.n_observations         = 1;
	b.observations           = &po;
	b.rows_in_file           = 1;
	*len                     = hsi__observation_batch__get_packed_size(&b);
	uint8_t *buf             = malloc(*len);
	assert_non_null(buf);
	hsi__observation_batch__pack(&b, buf);
	return buf;
}

typedef struct {
	unsigned char *wire; /* topic '\n' envelope */
	size_t         wire_len;
	uint8_t       *payload;
	size_t         payload_len;
} sealed;

static sealed
seal_one(const hsi_key *key)
{
	sealed        s;
	Hsi__Envelope env = HSI__ENVELOPE__INIT;
	s.payload         = batch_bytes(&s.payload_len);
	env.agency        = "DOH";
	env.node_id       = "doh-node-1";
	env.epoch         = UINT64_C(0xfedcba9876543210);
	env.seq           = 42;
	env.sent_unix_ms  = INT64_C(1763856000123);
	env.payload_type  = HSI__PAYLOAD_TYPE__OBSERVATION_BATCH;
	env.payload.data  = s.payload;
	env.payload.len   = s.payload_len;
	assert_int_equal(
	    hsi_envelope_seal(TOPIC, &env, key, &s.wire, &s.wire_len), 0);
	/* The hmac pointed at seal's stack: it must be cleared again. */
	assert_null(env.hmac.data);
	assert_int_equal(env.hmac.len, 0);
	return s;
}

static void
sealed_free(sealed *s)
{
	free(s->wire);
	free(s->payload);
}

/* Splits and opens s; the topic goes into topic. */
static Hsi__Envelope *
split_open(const sealed *s, char topic[HSI_TOPIC_MAX])
{
	const unsigned char *body;
	size_t               body_len;
	Hsi__Envelope       *env = NULL;
	assert_int_equal(
	    hsi_net_split(s->wire, s->wire_len, topic, &body, &body_len), 0);
	assert_int_equal(body_len + strlen(topic) + 1, s->wire_len);
	assert_int_equal(hsi_envelope_open(body, body_len, &env), 0);
	return env;
}

static void
test_round_trip(void **state)
{
	hsi_key key = test_key(1);
	sealed  s   = seal_one(&key);
	char    topic[HSI_TOPIC_MAX];
	(void) state;
	Hsi__Envelope *env = split_open(&s, topic);
	assert_string_equal(topic, TOPIC);
	assert_int_equal(hsi_envelope_verify(topic, env, &key), 0);
	assert_int_equal(env->protocol_version, HSI_PROTOCOL_VERSION);
	assert_string_equal(env->agency, "DOH");
	assert_string_equal(env->node_id, "doh-node-1");
	assert_true(env->epoch == UINT64_C(0xfedcba9876543210));
	assert_int_equal(env->seq, 42);
	assert_true(env->sent_unix_ms == INT64_C(1763856000123));
	assert_string_equal(env->key_id, "DOH-20261123-ab12");
	assert_int_equal(
	    env->payload_type, HSI__PAYLOAD_TYPE__OBSERVATION_BATCH);
	assert_int_equal(env->hmac.len, 32);
	assert_int_equal(env->payload.len, s.payload_len);
	assert_memory_equal(env->payload.data, s.payload, s.payload_len);

	/* The payload unpacks to what was packed. */
	Hsi__ObservationBatch *b = (Hsi__ObservationBatch *) hsi_pb_unpack(
	    &hsi__observation_batch__descriptor, env->payload.data,
	    env->payload.len);
	assert_non_null(b);
	assert_string_equal(b->file_id, "abc123");
	assert_string_equal(b->file_name, "doh-2024.csv");
	assert_int_equal(b->catalog_version, 7);
	assert_int_equal(b->n_observations, 1);
	assert_string_equal(b->observations[0]->indicator, "hlt_stunting");
	assert_string_equal(b->observations[0]->period, "FY2024");
	assert_true(b->observations[0]->value == 12.5);
	assert_string_equal(b->observations[0]->note, "หมายเหตุ");
	assert_int_equal(b->observations[0]->row, 2);
	hsi_pb_free((ProtobufCMessage *) b);
	hsi_envelope_free(env);
	sealed_free(&s);
	hsi_envelope_free(NULL);
	hsi_pb_free(NULL);
}

static void
expect_auth_fail(const Hsi__Envelope *env, const hsi_key *key)
{
	assert_int_equal(hsi_envelope_verify(TOPIC, env, key), HSI_EAUTH);
}

/*
 * 1 when env is refused under topic and key. An envelope without payload
 * is counted as refused without calling verify: envelope.c passes a NULL
 * payload to memcpy (undefined behaviour, fatal under UBSan), which
 * test_empty_payload_mac checks on its own, last.
 */
static int
refused(const char *topic, const Hsi__Envelope *env, const hsi_key *key)
{
	if (env->payload.data == NULL) {
		return 1;
	}
	return hsi_envelope_verify(topic, env, key) == HSI_EAUTH;
}

static void
test_any_changed_field_fails(void **state)
{
	hsi_key key = test_key(1);
	sealed  s   = seal_one(&key);
	char    topic[HSI_TOPIC_MAX];
	(void) state;
	Hsi__Envelope *env = split_open(&s, topic);
	char          *saved;

	assert_int_equal(hsi_envelope_verify(TOPIC, env, &key), 0);

	saved       = env->agency;
	env->agency = "DOI";
	expect_auth_fail(env, &key);
	env->agency = "DOHX";
	expect_auth_fail(env, &key);
	env->agency = saved;

	saved        = env->node_id;
	env->node_id = "doh-node-2";
	expect_auth_fail(env, &key);
	env->node_id = saved;

	env->epoch ^= 1;
	expect_auth_fail(env, &key);
	env->epoch ^= 1;

	env->seq++;
	expect_auth_fail(env, &key);
	env->seq--;

	env->sent_unix_ms++;
	expect_auth_fail(env, &key);
	env->sent_unix_ms--;

	saved       = env->key_id;
	env->key_id = "DOH-20261123-ab13";
	expect_auth_fail(env, &key);
	env->key_id = saved;

	env->payload_type = HSI__PAYLOAD_TYPE__ACK;
	expect_auth_fail(env, &key);
	env->payload_type = HSI__PAYLOAD_TYPE__OBSERVATION_BATCH;

	env->protocol_version++;
	expect_auth_fail(env, &key);
	env->protocol_version--;

	for (size_t i = 0; i < env->payload.len; i++) {
		env->payload.data[i] ^= 0x01;
		expect_auth_fail(env, &key);
		env->payload.data[i] ^= 0x01;
	}
	env->payload.len--;
	expect_auth_fail(env, &key);
	env->payload.len++;

	env->hmac.data[31] ^= 0x80;
	expect_auth_fail(env, &key);
	env->hmac.data[31] ^= 0x80;
	env->hmac.len = 31;
	expect_auth_fail(env, &key);
	env->hmac.len = 32;

	/* Another topic: the same bytes cannot be replayed elsewhere. */
	assert_int_equal(hsi_envelope_verify("obs.DOI", env, &key), HSI_EAUTH);
	assert_int_equal(hsi_envelope_verify("ack.DOH", env, &key), HSI_EAUTH);
	assert_int_equal(hsi_envelope_verify("", env, &key), HSI_EAUTH);

	/* Everything restored: valid again. */
	assert_int_equal(hsi_envelope_verify(TOPIC, env, &key), 0);
	hsi_envelope_free(env);
	sealed_free(&s);
}

static void
test_wrong_key_fails(void **state)
{
	hsi_key key   = test_key(1);
	hsi_key other = test_key(2);
	hsi_key flip  = key;
	sealed  s     = seal_one(&key);
	char    topic[HSI_TOPIC_MAX];
	(void) state;
	flip.secret[HSI_KEY_BYTES - 1] ^= 1;
	Hsi__Envelope *env = split_open(&s, topic);
	expect_auth_fail(env, &other);
	expect_auth_fail(env, &flip);
	expect_auth_fail(env, NULL);
	hsi_envelope_free(env);
	sealed_free(&s);

	/* Sealed without a key: no MAC, never verifies. */
	Hsi__Envelope  e = HSI__ENVELOPE__INIT;
	unsigned char *out;
	size_t         out_len;
	e.agency = "DOH";
	assert_int_equal(
	    hsi_envelope_seal(TOPIC, &e, NULL, &out, &out_len), 0);
	Hsi__Envelope *o = NULL;
	assert_int_equal(hsi_envelope_open(out + strlen(TOPIC) + 1,
	                     out_len - strlen(TOPIC) - 1, &o),
	    0);
	assert_int_equal(o->hmac.len, 0);
	expect_auth_fail(o, &key);
	hsi_envelope_free(o);
	free(out);
}

/* Every flipped bit of the body is refused by open or by verify. */
static void
test_bit_flips_fail(void **state)
{
	hsi_key key = test_key(3);
	sealed  s   = seal_one(&key);
	size_t  off = strlen(TOPIC) + 1;
	(void) state;
	for (size_t i = off; i < s.wire_len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			Hsi__Envelope *env = NULL;
			s.wire[i] ^= (unsigned char) (1u << bit);
			if (hsi_envelope_open(
			        s.wire + off, s.wire_len - off, &env)
			    == 0) {
				if (!refused(TOPIC, env, &key)) {
					fail_msg("flip of bit %d of byte %zu "
					         "verified",
					    bit, i - off);
				}
				hsi_envelope_free(env);
			}
			s.wire[i] ^= (unsigned char) (1u << bit);
		}
	}
	sealed_free(&s);
}

static void
test_truncated_and_garbage(void **state)
{
	hsi_key key = test_key(1);
	sealed  s   = seal_one(&key);
	char    topic[HSI_TOPIC_MAX];
	size_t  off = strlen(TOPIC) + 1;
	(void) state;
	/* Every proper prefix: open fails, or the MAC does not match. */
	for (size_t n = 0; n < s.wire_len - off; n++) {
		unsigned char *copy = malloc(n + 1);
		assert_non_null(copy);
		memcpy(copy, s.wire + off, n);
		Hsi__Envelope *env = NULL;
		if (hsi_envelope_open(copy, n, &env) == 0) {
			assert_true(refused(TOPIC, env, &key));
			hsi_envelope_free(env);
		}
		free(copy);
	}
	/* Garbage of many lengths, from a fixed seed. */
	srand(12345);
	for (int round = 0; round < 2000; round++) {
		size_t         n   = (size_t) (rand() % 300);
		unsigned char *buf = malloc(n + 1);
		assert_non_null(buf);
		for (size_t i = 0; i < n; i++) {
			buf[i] = (unsigned char) rand();
		}
		const unsigned char *body;
		size_t               body_len;
		if (hsi_net_split(buf, n, topic, &body, &body_len) == 0) {
			assert_true(strlen(topic) < HSI_TOPIC_MAX);
			Hsi__Envelope *env = NULL;
			if (hsi_envelope_open(body, body_len, &env) == 0) {
				assert_true(refused(topic, env, &key));
				hsi_envelope_free(env);
			}
		}
		free(buf);
	}
	sealed_free(&s);
}

static void
test_net_split(void **state)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body = NULL;
	size_t               len  = 99;
	char                 msg[200];
	(void) state;
	assert_int_equal(
	    hsi_net_split("score\nxyz", 9, topic, &body, &len), 0);
	assert_string_equal(topic, "score");
	assert_int_equal(len, 3);
	assert_memory_equal(body, "xyz", 3);
	assert_int_equal(hsi_net_split("\n", 1, topic, &body, &len), 0);
	assert_string_equal(topic, "");
	assert_int_equal(len, 0);
	assert_int_equal(
	    hsi_net_split("no-newline", 10, topic, &body, &len), HSI_EPROTO);
	assert_int_equal(hsi_net_split("", 0, topic, &body, &len), HSI_EPROTO);
	/* The newline must be within HSI_TOPIC_MAX bytes (topic + NUL). */
	memset(msg, 'a', sizeof msg);
	msg[HSI_TOPIC_MAX - 1] = '\n';
	assert_int_equal(
	    hsi_net_split(msg, sizeof msg, topic, &body, &len), 0);
	assert_int_equal(strlen(topic), HSI_TOPIC_MAX - 1);
	assert_int_equal(len, sizeof msg - HSI_TOPIC_MAX);
	msg[HSI_TOPIC_MAX - 1] = 'a';
	msg[HSI_TOPIC_MAX]     = '\n';
	assert_int_equal(
	    hsi_net_split(msg, sizeof msg, topic, &body, &len), HSI_EPROTO);
}

static void
test_size_limits(void **state)
{
	hsi_key        key = test_key(1);
	Hsi__Envelope  env = HSI__ENVELOPE__INIT;
	unsigned char *out = NULL;
	size_t         out_len;
	size_t         big = (size_t) HSI_NET_MAX_MSG_BYTES;
	uint8_t       *pl  = calloc(big + 1, 1);
	(void) state;
	assert_non_null(pl);
	env.agency       = "DOH";
	env.payload.data = pl;
	env.payload.len  = big;
	/* Seal refuses what no subscriber would accept. */
	assert_int_equal(
	    hsi_envelope_seal(TOPIC, &env, &key, &out, &out_len), HSI_ETOOBIG);
	assert_null(out);
	/* seal's MAC is left in env here: see test_seal_error_clears_hmac. */
	env.hmac.data = NULL;
	env.hmac.len  = 0;

	/* Just under the limit: packs and unpacks under the cap. */
	env.payload.len = big - 4096;
	size_t   plen   = hsi__envelope__get_packed_size(&env);
	uint8_t *packed = malloc(plen + 4096);
	assert_non_null(packed);
	hsi__envelope__pack(&env, packed);
	Hsi__Envelope *o = NULL;
	assert_int_equal(hsi_envelope_open(packed, plen, &o), 0);
	assert_int_equal(o->payload.len, big - 4096);
	hsi_envelope_free(o);
	free(packed);

	/* Over HSI_NET_MAX_MSG_BYTES: refused even though well-formed. */
	env.payload.len = big;
	plen            = hsi__envelope__get_packed_size(&env);
	assert_true(plen > big);
	packed = malloc(plen);
	assert_non_null(packed);
	hsi__envelope__pack(&env, packed);
	assert_null(hsi_pb_unpack(&hsi__envelope__descriptor, packed, plen));
	o = NULL;
	assert_int_equal(hsi_envelope_open(packed, plen, &o), HSI_EPROTO);
	assert_null(o);
	free(packed);
	free(pl);
}

/*
 * On HSI_ETOOBIG seal returns with env->hmac.data still pointing at the
 * MAC in its own (dead) stack frame; packing or reading env afterwards
 * is a use after return. On success it clears the field; it should on
 * error too.
 */
static void
test_seal_error_clears_hmac(void **state)
{
	hsi_key        key = test_key(1);
	Hsi__Envelope  env = HSI__ENVELOPE__INIT;
	unsigned char *out = NULL;
	size_t         out_len;
	uint8_t       *pl = calloc(HSI_NET_MAX_MSG_BYTES, 1);
	(void) state;
	assert_non_null(pl);
	env.payload.data = pl;
	env.payload.len  = HSI_NET_MAX_MSG_BYTES;
	assert_int_equal(
	    hsi_envelope_seal(TOPIC, &env, &key, &out, &out_len), HSI_ETOOBIG);
	free(pl);
	assert_null(env.hmac.data);
	assert_int_equal(env.hmac.len, 0);
}

/* Field 6 (observations), wire type 2, length 0: an empty Observation. */
static uint8_t *
empty_obs_flood(size_t n, size_t *len)
{
	uint8_t *buf = malloc(2 * n);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		buf[2 * i]     = (6 << 3) | 2;
		buf[2 * i + 1] = 0;
	}
	*len = 2 * n;
	return buf;
}

static void
test_empty_submessage_flood(void **state)
{
	size_t   len;
	uint8_t *buf = empty_obs_flood(100000, &len);
	(void) state;
	/* 200 kB that would cost protobuf-c ~10 MB: refused by the cap. */
	ProtobufCMessage *m
	    = hsi_pb_unpack(&hsi__observation_batch__descriptor, buf, len);
	if (m != NULL) {
		/* If ever accepted, it must at least be what was sent. */
		Hsi__ObservationBatch *b = (Hsi__ObservationBatch *) m;
		assert_int_equal(b->n_observations, 100000);
		hsi_pb_free(m);
		fail_msg("100k empty sub-messages were not refused");
	}
	free(buf);

	/* A few empty ones are fine (the floor of the budget). */
	buf = empty_obs_flood(10, &len);
	m   = hsi_pb_unpack(&hsi__observation_batch__descriptor, buf, len);
	assert_non_null(m);
	assert_int_equal(((Hsi__ObservationBatch *) m)->n_observations, 10);
	hsi_pb_free(m);
	free(buf);
}

/* An honest large batch is not refused by the cap. */
static void
test_honest_batch_fits_cap(void **state)
{
	enum { N = 5000 };
	Hsi__Observation     *o  = calloc(N, sizeof *o);
	Hsi__Observation    **po = calloc(N, sizeof *po);
	Hsi__ObservationBatch b  = HSI__OBSERVATION_BATCH__INIT;
	(void) state;
	assert_non_null(o);
	assert_non_null(po);
	for (size_t i = 0; i < N; i++) {
		hsi__observation__init(&o[i]);
		o[i].indicator = "hlt_stunting";
		o[i].area      = "50";
		o[i].period    = "FY2024";
		o[i].value     = (double) i;
		o[i].has_value = 1;
		o[i].status    = "A";
		o[i].row       = (uint32_t) i + 2;
		po[i]          = &o[i];
	}
	b.file_id        = "f";
	b.n_observations = N;
	b.observations   = po;
	size_t   len     = hsi__observation_batch__get_packed_size(&b);
	uint8_t *buf     = malloc(len);
	assert_non_null(buf);
	hsi__observation_batch__pack(&b, buf);
	Hsi__ObservationBatch *u = (Hsi__ObservationBatch *) hsi_pb_unpack(
	    &hsi__observation_batch__descriptor, buf, len);
	assert_non_null(u);
	assert_int_equal(u->n_observations, N);
	assert_int_equal(u->observations[N - 1]->row, N + 1);
	hsi_pb_free((ProtobufCMessage *) u);
	free(buf);
	free(po);
	free(o);
}

/* ---- key files ---------------------------------------------------------- */

static char tmpdir[64];

static int
mkdir_setup(void **state)
{
	(void) state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/hsi_envelope_test_XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
rmdir_teardown(void **state)
{
	static const char *const names[]
	    = { "key.json", "key.json.tmp", "bad.json", NULL };
	char p[128];
	(void) state;
	for (int i = 0; names[i] != NULL; i++) {
		snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
	return 0;
}

static void
path_in_tmp(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

static void
test_key_save_load(void **state)
{
	hsi_key     key = test_key(9);
	hsi_key     got;
	char        path[128], err[512];
	struct stat st;
	(void) state;
	path_in_tmp(path, sizeof path, "key.json");
	assert_int_equal(hsi_key_save(path, &key, err, sizeof err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	memset(&got, 0xAA, sizeof got);
	assert_int_equal(hsi_key_load(path, &got, err, sizeof err), 0);
	assert_string_equal(got.agency, "DOH");
	assert_string_equal(got.id, "DOH-20261123-ab12");
	assert_memory_equal(got.secret, key.secret, HSI_KEY_BYTES);
	/* No temporary file is left behind. */
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0);

	/* Saving again replaces the key. */
	hsi_key k2 = test_key(10);
	snprintf(k2.id, sizeof k2.id, "DOH-20261124-cd34");
	assert_int_equal(hsi_key_save(path, &k2, err, sizeof err), 0);
	assert_int_equal(hsi_key_load(path, &got, err, sizeof err), 0);
	assert_string_equal(got.id, "DOH-20261124-cd34");
	assert_memory_equal(got.secret, k2.secret, HSI_KEY_BYTES);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* A stale NAME.tmp left with loose permissions (a crash, or another
 * user) must not make the key readable by others. */
static void
test_key_save_stale_tmp(void **state)
{
	hsi_key     key = test_key(9);
	char        path[128], tmp[160], err[512];
	struct stat st;
	(void) state;
	path_in_tmp(path, sizeof path, "key.json");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs("stale", f);
	fclose(f);
	assert_int_equal(chmod(tmp, 0644), 0);
	assert_int_equal(hsi_key_save(path, &key, err, sizeof err), 0);
	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 0777) != 0600) {
		fail_msg("key file written with mode %o, want 600",
		    (unsigned) (st.st_mode & 0777));
	}
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
expect_load_err(const char *text, int rv, const char *mention)
{
	char    path[128], err[512] = "";
	hsi_key got, before;
	path_in_tmp(path, sizeof path, "bad.json");
	write_file(path, text);
	memset(&got, 0x5A, sizeof got);
	before = got;
	int r  = hsi_key_load(path, &got, err, sizeof err);
	if (r != rv) {
		fail_msg("%s: want %d, got %d (%s)", text, rv, r, err);
	}
	assert_non_null(strstr(err, path));
	if (mention != NULL && strstr(err, mention) == NULL) {
		fail_msg("\"%s\" does not mention \"%s\"", err, mention);
	}
	/* Out-params are written only on success. */
	assert_memory_equal(&got, &before, sizeof got);
}

static void
test_key_load_errors(void **state)
{
	char hex64[65], hex62[63], badhex[65];
	(void) state;
	memset(hex64, 'a', 64);
	hex64[64] = '\0';
	memset(hex62, 'b', 62);
	hex62[62] = '\0';
	memcpy(badhex, hex64, sizeof badhex);
	badhex[10] = 'g';
	char text[512];

	/* A good one first, so the errors below are about their field. */
	snprintf(text, sizeof text,
	    "{\"agency\":\"DOH\",\"key_id\":\"k1\",\"secret\":\"%s\"}", hex64);
	char path[128], err[256];
	path_in_tmp(path, sizeof path, "bad.json");
	write_file(path, text);
	hsi_key got;
	assert_int_equal(hsi_key_load(path, &got, err, sizeof err), 0);
	assert_int_equal(got.secret[0], 0xaa);

	snprintf(text, sizeof text, "{\"agency\":\"DOH\",\"key_id\":\"k1\"}");
	expect_load_err(text, HSI_EINVAL, "secret");
	snprintf(text, sizeof text, "{\"agency\":\"DOH\",\"secret\":\"%s\"}",
	    hex64);
	expect_load_err(text, HSI_EINVAL, "key_id");
	snprintf(text, sizeof text,
	    "{\"agency\":\"DOH\",\"key_id\":\"k1\",\"secret\":\"%s\"}",
	    badhex);
	expect_load_err(text, HSI_EINVAL, "secret");
	snprintf(text, sizeof text,
	    "{\"agency\":\"DOH\",\"key_id\":\"k1\",\"secret\":\"%s\"}", hex62);
	expect_load_err(text, HSI_EINVAL, "64 hex");
	snprintf(text, sizeof text,
	    "{\"agency\":\"DOH\",\"key_id\":\"k1\",\"secret\":\"%s00\"}",
	    hex64);
	expect_load_err(text, HSI_EINVAL, "secret");
	snprintf(text, sizeof text,
	    "{\"agency\":\"DOH\",\"key_id\":\"k1\",\"secret\":5}");
	expect_load_err(text, HSI_EINVAL, NULL);
	/* Unknown fields are refused (JSON_STRICT). */
	snprintf(text, sizeof text,
	    "{\"agency\":\"DOH\",\"key_id\":\"k1\",\"secret\":\"%s\","
	    "\"x\":1}",
	    hex64);
	expect_load_err(text, HSI_EINVAL, NULL);
	snprintf(text, sizeof text,
	    "{\"agency\":\"ABCDEFGHIJKLMNOPQ\",\"key_id\":\"k1\","
	    "\"secret\":\"%s\"}",
	    hex64);
	expect_load_err(text, HSI_EINVAL, "too long");
	expect_load_err("{\"agency\": ", HSI_EIO, NULL);
	expect_load_err("", HSI_EIO, NULL);

	path_in_tmp(path, sizeof path, "missing.json");
	assert_int_equal(hsi_key_load(path, &got, err, sizeof err), HSI_EIO);
	assert_non_null(strstr(err, path));
}

static void
test_hex(void **state)
{
	unsigned char in[] = { 0x00, 0xff, 0x1a, 0x9c };
	unsigned char out[4];
	char          hex[9];
	(void) state;
	hsi_hex(in, 4, hex);
	assert_string_equal(hex, "00ff1a9c");
	hsi_hex(in, 0, hex);
	assert_string_equal(hex, "");
	assert_int_equal(hsi_unhex("00ff1a9c", out, 4), 0);
	assert_memory_equal(out, in, 4);
	assert_int_equal(hsi_unhex("00FF1A9C", out, 4), 0);
	assert_memory_equal(out, in, 4);
	memset(out, 0x77, sizeof out);
	assert_int_equal(hsi_unhex("00ff1a9", out, 4), HSI_EINVAL);
	assert_int_equal(hsi_unhex("00ff1a9c0", out, 4), HSI_EINVAL);
	assert_int_equal(hsi_unhex("00ff1a9g", out, 4), HSI_EINVAL);
	assert_int_equal(hsi_unhex(" 0ff1a9c", out, 4), HSI_EINVAL);
	assert_int_equal(hsi_unhex("", out, 0), 0);
	/* Round trip over every byte value. */
	unsigned char all[256], back[256];
	char          h[513];
	for (int i = 0; i < 256; i++) {
		all[i] = (unsigned char) i;
	}
	hsi_hex(all, 256, h);
	assert_int_equal(strlen(h), 512);
	assert_int_equal(hsi_unhex(h, back, 256), 0);
	assert_memory_equal(all, back, 256);
}

/*
 * An envelope with an empty payload (an Ack-less heartbeat, or a payload
 * field dropped on the wire) must seal and verify like any other. Today
 * hsi_envelope_mac calls memcpy(dst, NULL, 0) through mb_bytes -> mb_put
 * (envelope.c:47), undefined behaviour that aborts under UBSan.
 */
static void
test_empty_payload_mac(void **state)
{
	hsi_key        key = test_key(4);
	Hsi__Envelope  env = HSI__ENVELOPE__INIT;
	unsigned char *out;
	size_t         out_len;
	char           topic[HSI_TOPIC_MAX];
	(void) state;
	env.agency       = "DOH";
	env.payload_type = HSI__PAYLOAD_TYPE__ACK;
	assert_int_equal(
	    hsi_envelope_seal(TOPIC, &env, &key, &out, &out_len), 0);
	sealed         s = { out, out_len, NULL, 0 };
	Hsi__Envelope *o = split_open(&s, topic);
	assert_int_equal(o->payload.len, 0);
	assert_int_equal(hsi_envelope_verify(topic, o, &key), 0);
	hsi_envelope_free(o);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_any_changed_field_fails),
		cmocka_unit_test(test_wrong_key_fails),
		cmocka_unit_test(test_bit_flips_fail),
		cmocka_unit_test(test_truncated_and_garbage),
		cmocka_unit_test(test_net_split),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_seal_error_clears_hmac),
		cmocka_unit_test(test_empty_submessage_flood),
		cmocka_unit_test(test_honest_batch_fits_cap),
		cmocka_unit_test_setup_teardown(
		    test_key_save_load, mkdir_setup, rmdir_teardown),
		cmocka_unit_test_setup_teardown(
		    test_key_save_stale_tmp, mkdir_setup, rmdir_teardown),
		cmocka_unit_test_setup_teardown(
		    test_key_load_errors, mkdir_setup, rmdir_teardown),
		cmocka_unit_test(test_hex),
		/* Last: it aborts the run under UBSan (see above). */
		cmocka_unit_test(test_empty_payload_mac),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
