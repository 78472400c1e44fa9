/*
 * envelope.c: the signed Envelope (see envelope.h for the why).
 */
#include "envelope.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "net.h"

/* ---- MAC over a fixed encoding ----------------------------------------- */

typedef struct {
	unsigned char *buf;
	size_t         len, cap;
	int            failed;
} macbuf;

static void
mb_put(macbuf *b, const void *p, size_t n)
{
	/* An empty payload arrives as (NULL, 0): memcpy must not see it. */
	if (b->failed || n == 0) {
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n) {
			cap *= 2;
		}
		unsigned char *nb = realloc(b->buf, cap);
		if (nb == NULL) {
			b->failed = 1;
			return;
		}
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void
mb_u64(macbuf *b, uint64_t v)
{
	unsigned char be[8];
	for (int i = 7; i >= 0; i--) {
		be[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
	mb_put(b, be, 8);
}

/* Length-prefixed, so ("ab","c") and ("a","bc") encode differently. */
static void
mb_bytes(macbuf *b, const void *p, size_t n)
{
	mb_u64(b, n);
	mb_put(b, p, n);
}

static void
mb_str(macbuf *b, const char *s)
{
	mb_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

void
hsi_envelope_mac(const char *topic, const Hsi__Envelope *env,
    const unsigned char *key, size_t key_len, unsigned char out[32])
{
	macbuf b = { 0 };
	mb_put(&b, "HSI-ENVELOPE-MAC-1", 18);
	mb_str(&b, topic);
	mb_u64(&b, env->protocol_version);
	mb_str(&b, env->agency);
	mb_str(&b, env->node_id);
	mb_u64(&b, env->epoch);
	mb_u64(&b, env->seq);
	mb_u64(&b, (uint64_t) env->sent_unix_ms);
	mb_str(&b, env->key_id);
	mb_u64(&b, (uint64_t) env->payload_type);
	mb_bytes(&b, env->payload.data, env->payload.len);
	unsigned int olen = 32;
	if (b.failed
	    || HMAC(EVP_sha256(), key, (int) key_len, b.buf, b.len, out, &olen)
	        == NULL) {
		/* Out of memory: a MAC of zeros never verifies against a
		 * real one, so failure is safe (refusal), never acceptance. */
		memset(out, 0, 32);
	}
	free(b.buf);
}

int
hsi_envelope_seal(const char *topic, Hsi__Envelope *env, const hsi_key *key,
    unsigned char **out, size_t *out_len)
{
	static char   empty[] = "";
	unsigned char mac[32];

	env->protocol_version = HSI_PROTOCOL_VERSION;
	env->key_id           = key ? (char *) key->id : empty;
	env->hmac.data        = NULL;
	env->hmac.len         = 0;
	if (key != NULL) {
		hsi_envelope_mac(topic, env, key->secret, HSI_KEY_BYTES, mac);
		env->hmac.data = mac;
		env->hmac.len  = sizeof(mac);
	}
	size_t tlen = strlen(topic);
	size_t plen = hsi__envelope__get_packed_size(env);
	if (tlen + 1 + plen > HSI_NET_MAX_MSG_BYTES) {
		env->hmac.data = NULL; /* never leave our stack behind */
		env->hmac.len  = 0;
		return HSI_ETOOBIG;
	}
	unsigned char *buf = malloc(tlen + 1 + plen);
	if (buf == NULL) {
		env->hmac.data = NULL;
		env->hmac.len  = 0;
		return HSI_ENOMEM;
	}
	memcpy(buf, topic, tlen);
	buf[tlen] = '\n';
	hsi__envelope__pack(env, buf + tlen + 1);
	env->hmac.data = NULL;
	env->hmac.len  = 0;
	*out           = buf;
	*out_len       = tlen + 1 + plen;
	return 0;
}

int
hsi_envelope_publish(
    nng_socket s, const char *topic, Hsi__Envelope *env, const hsi_key *key)
{
	unsigned char *wire;
	size_t         len;
	int            rv = hsi_envelope_seal(topic, env, key, &wire, &len);
	if (rv == 0) {
		rv = hsi_net_send(s, NULL, wire, len);
		free(wire);
	}
	return rv;
}

int
hsi_envelope_verify(
    const char *topic, const Hsi__Envelope *env, const hsi_key *key)
{
	unsigned char mac[32];
	if (env->hmac.len != sizeof(mac) || key == NULL) {
		return HSI_EAUTH;
	}
	hsi_envelope_mac(topic, env, key->secret, HSI_KEY_BYTES, mac);
	return CRYPTO_memcmp(mac, env->hmac.data, sizeof(mac)) == 0
	    ? 0
	    : HSI_EAUTH;
}

/* ---- capped unpacking --------------------------------------------------- */

/*
 * Every block carries its size in a header so the free side can give the
 * budget back; the budget itself lives on the unpacking caller's stack and
 * only the alloc side needs it.
 */
typedef struct {
	size_t used, cap;
} budget;

#define HDR 16

static void *
capped_alloc(void *data, size_t size)
{
	budget *b = data;
	if (size > b->cap || b->used + size + HDR > b->cap) {
		return NULL;
	}
	unsigned char *p = malloc(size + HDR);
	if (p == NULL) {
		return NULL;
	}
	b->used += size + HDR;
	return p + HDR;
}

static void
capped_free(void *data, void *ptr)
{
	(void) data;
	if (ptr != NULL) {
		free((unsigned char *) ptr - HDR);
	}
}

static ProtobufCAllocator free_only = { capped_alloc, capped_free, NULL };

ProtobufCMessage *
hsi_pb_unpack(
    const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
	/* protobuf-c needs somewhat more than the wire size (pointers,
	 * repeated arrays); 16x plus a floor is ample for honest input and
	 * bounds a hostile one. */
	budget             b     = { 0, 16 * len + 64 * 1024 };
	ProtobufCAllocator alloc = { capped_alloc, capped_free, &b };
	if (len > HSI_NET_MAX_MSG_BYTES) {
		return NULL;
	}
	return protobuf_c_message_unpack(desc, &alloc, len, data);
}

void
hsi_pb_free(ProtobufCMessage *msg)
{
	if (msg != NULL) {
		protobuf_c_message_free_unpacked(msg, &free_only);
	}
}

int
hsi_envelope_open(const unsigned char *body, size_t len, Hsi__Envelope **out)
{
	ProtobufCMessage *m
	    = hsi_pb_unpack(&hsi__envelope__descriptor, body, len);
	if (m == NULL) {
		return HSI_EPROTO;
	}
	*out = (Hsi__Envelope *) m;
	return 0;
}

void
hsi_envelope_free(Hsi__Envelope *env)
{
	hsi_pb_free((ProtobufCMessage *) env);
}

/* ---- keys --------------------------------------------------------------- */

void
hsi_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i]     = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
hsi_unhex(const char *in, unsigned char *out, size_t n)
{
	if (strlen(in) != 2 * n) {
		return HSI_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return HSI_EINVAL;
		}
		out[i] = (unsigned char) (hi << 4 | lo);
	}
	return 0;
}

int
hsi_key_load(const char *path, hsi_key *out, char *err, size_t err_size)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		if (jerr.line > 0) {
			snprintf(err, err_size,
			    "%s:%d:%d: the key file is not valid JSON: %s",
			    path, jerr.line, jerr.column, jerr.text);
		} else {
			snprintf(err, err_size,
			    "%s: cannot read the key file: %s (the central "
			    "team "
			    "makes one with 'hsictl key rotate AGENCY --out "
			    "FILE')",
			    path, jerr.text);
		}
		return HSI_EIO;
	}
	const char *agency = NULL, *id = NULL, *secret = NULL;
	int         rv = 0;
	hsi_key     k;
	memset(&k, 0, sizeof(k));
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:s, s:s, s:s}",
	        "agency", &agency, "key_id", &id, "secret", &secret)
	    != 0) {
		snprintf(err, err_size,
		    "%s: key file must be {\"agency\", \"key_id\", "
		    "\"secret\"}: %s",
		    path, jerr.text);
		rv = HSI_EINVAL;
	} else if (strlen(agency) >= sizeof(k.agency)
	    || strlen(id) > HSI_KEY_ID_MAX) {
		snprintf(err, err_size, "%s: agency or key_id too long", path);
		rv = HSI_EINVAL;
	} else if (hsi_unhex(secret, k.secret, HSI_KEY_BYTES) != 0) {
		snprintf(err, err_size,
		    "%s: field secret must be 64 hex digits (32 bytes); make "
		    "a "
		    "new key with 'hsictl key rotate AGENCY'",
		    path);
		rv = HSI_EINVAL;
	} else {
		strcpy(k.agency, agency);
		strcpy(k.id, id);
		*out = k;
	}
	json_decref(root);
	return rv;
}

int
hsi_key_save(const char *path, const hsi_key *key, char *err, size_t err_size)
{
	char hex[2 * HSI_KEY_BYTES + 1];
	hsi_hex(key->secret, HSI_KEY_BYTES, hex);
	json_t *o = json_pack("{s:s, s:s, s:s}", "agency", key->agency,
	    "key_id", key->id, "secret", hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (o == NULL) {
		return HSI_ENOMEM;
	}
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL) {
		return HSI_ENOMEM;
	}
	/* Written to a temporary name and renamed, so a node reloading on
	 * SIGHUP never sees half a file. */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rv = 0;
	/* A stale temporary file would keep its old mode through O_TRUNC,
	 * and a planted symlink would redirect the secret: start afresh. */
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, err_size, "%s: cannot write key file: %s", tmp,
		    strerror(errno));
		rv = HSI_EIO;
	} else {
		size_t  len = strlen(text);
		ssize_t w   = write(fd, text, len);
		if (w != (ssize_t) len || write(fd, "\n", 1) != 1
		    || fsync(fd) != 0) {
			snprintf(err, err_size, "%s: write failed: %s", tmp,
			    strerror(errno));
			rv = HSI_EIO;
		}
		close(fd);
		if (rv == 0 && rename(tmp, path) != 0) {
			snprintf(err, err_size, "%s: rename failed: %s", path,
			    strerror(errno));
			rv = HSI_EIO;
		}
	}
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	return rv;
}
