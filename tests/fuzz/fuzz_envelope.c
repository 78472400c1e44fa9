/*
 * fuzz_envelope.c: libFuzzer target for what a subscriber does with a
 * message from the network: hsi_net_split, hsi_envelope_open and
 * hsi_envelope_verify under a fixed key, then the payload decoders
 * (ObservationBatch, Ack, CatalogSnapshot) through the capped allocator,
 * and a decoded snapshot turned into a catalog. Nothing may crash or
 * leak; a refusal is the only other outcome.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "envelope.h"
#include "error.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const hsi_key key = {
	.agency = "DOH",
	.id     = "DOH-20261123-ab12",
	.secret = { 1, 8, 15, 22, 29, 36, 43, 50, 57, 64, 71, 78, 85, 92, 99,
	    106, 113, 120, 127, 134, 141, 148, 155, 162, 169, 176, 183, 190,
	    197, 204, 211, 218 },
};

static void
payloads(const uint8_t *p, size_t len)
{
	ProtobufCMessage *m;
	m = hsi_pb_unpack(&hsi__observation_batch__descriptor, p, len);
	if (m != NULL) {
		const Hsi__ObservationBatch *b = (Hsi__ObservationBatch *) m;
		for (size_t i = 0; i < b->n_observations; i++) {
			if (b->observations[i] == NULL
			    || b->observations[i]->indicator == NULL) {
				abort();
			}
		}
		hsi_pb_free(m);
	}
	hsi_pb_free(hsi_pb_unpack(&hsi__ack__descriptor, p, len));
	m = hsi_pb_unpack(&hsi__catalog_snapshot__descriptor, p, len);
	if (m != NULL) {
		hsi_catalog *c = NULL;
		if (hsi_catalog_from_snapshot(
		        (const Hsi__CatalogSnapshot *) m, &c)
		    == 0) {
			/* Look-ups on what was kept must find it. */
			for (size_t i = 0; i < c->n_ind; i++) {
				if (hsi_catalog_indicator(c, c->ind[i].code)
				    == NULL) {
					abort();
				}
			}
			hsi_catalog_free(c);
		}
		hsi_pb_free(m);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               body_len;
	Hsi__Envelope       *env = NULL;

	if (hsi_net_split(data, size, topic, &body, &body_len) != 0) {
		return 0;
	}
	if (strlen(topic) >= HSI_TOPIC_MAX || body_len > size) {
		abort();
	}
	if (hsi_envelope_open(body, body_len, &env) != 0) {
		/* Let the payload decoders see raw input too. */
		payloads(body, body_len);
		return 0;
	}
	int rv = hsi_envelope_verify(topic, env, &key);
	if (rv != 0 && rv != HSI_EAUTH) {
		abort();
	}
	payloads(env->payload.data, env->payload.len);
	hsi_envelope_free(env);
	return 0;
}
