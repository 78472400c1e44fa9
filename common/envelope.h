/*
 * envelope.h: signing, packing and unpacking the protocol's Envelope.
 *
 * The HMAC-SHA256 covers a fixed byte encoding of the topic and every
 * field (hsi_envelope_mac), never the protobuf bytes, so neither field
 * reordering nor re-encoding can change what was signed, and a valid
 * payload cannot be replayed under another topic, agency or seq.
 *
 * Unpacking uses an allocator capped at a small multiple of the input
 * size: protobuf-c would otherwise let 1 MiB of empty sub-messages cost
 * ~70 MB.
 */
#ifndef HSI_ENVELOPE_H
#define HSI_ENVELOPE_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "hsi.pb-c.h"

#define HSI_PROTOCOL_VERSION 1
/* The oldest version the scorer still accepts. */
#define HSI_PROTOCOL_MIN_VERSION 1

#define HSI_KEY_BYTES 32
#define HSI_KEY_ID_MAX 48

typedef struct {
	char          agency[17];
	char          id[HSI_KEY_ID_MAX + 1];
	unsigned char secret[HSI_KEY_BYTES];
} hsi_key;

/* Computes the MAC of env (its hmac field is ignored) under topic. */
void hsi_envelope_mac(const char *topic, const Hsi__Envelope *env,
    const unsigned char *key, size_t key_len, unsigned char out[32]);

/*
 * Fills env's protocol_version, key_id and hmac, then writes
 * topic '\n' packed-envelope into a new heap buffer *out (caller frees).
 * env's other fields must be set. Returns 0 or HSI_ENOMEM/HSI_ETOOBIG.
 */
int hsi_envelope_seal(const char *topic, Hsi__Envelope *env,
    const hsi_key *key, unsigned char **out, size_t *out_len);

/*
 * Seals env under topic with key (hsi_envelope_seal) and publishes it on
 * the PUB socket s. Returns 0 or the error of either step. (PUB delivery
 * itself is best effort: see net.h.)
 */
int hsi_envelope_publish(
    nng_socket s, const char *topic, Hsi__Envelope *env, const hsi_key *key);

/*
 * Unpacks an envelope from body (after the topic) with a capped
 * allocator. Returns 0 and *out (free with hsi_envelope_free) or
 * HSI_EPROTO. Does not verify the MAC: see hsi_envelope_verify.
 */
int hsi_envelope_open(
    const unsigned char *body, size_t len, Hsi__Envelope **out);
void hsi_envelope_free(Hsi__Envelope *env);

/* Constant-time check of env's MAC under topic and key: 0 or HSI_EAUTH. */
int hsi_envelope_verify(
    const char *topic, const Hsi__Envelope *env, const hsi_key *key);

/*
 * Unpacks a payload message of type desc from data with a capped
 * allocator. Returns the message (free with hsi_pb_free) or NULL.
 */
ProtobufCMessage *hsi_pb_unpack(
    const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);
void hsi_pb_free(ProtobufCMessage *msg);

/*
 * Key files: JSON {"agency":"DOH","key_id":"DOH-20261123-ab12",
 * "secret":"<64 hex>"}; written 0600 by hsictl key rotate. Returns 0 or
 * HSI_EIO/HSI_EINVAL with err naming the file and field.
 */
int hsi_key_load(const char *path, hsi_key *out, char *err, size_t err_size);
int hsi_key_save(
    const char *path, const hsi_key *key, char *err, size_t err_size);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hsi_hex(const unsigned char *in, size_t n, char *out);
/* Parses 2n hex digits into n bytes: 0 or HSI_EINVAL. */
int hsi_unhex(const char *in, unsigned char *out, size_t n);

#endif
