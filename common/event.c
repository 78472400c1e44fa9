/* event.c: ScoreEvent decoding (see event.h). */
#include "event.h"

#include <string.h>

#include "envelope.h"
#include "error.h"
#include "net.h"
#include "period.h"

int
hsi_score_event_decode(
    const void *msg, size_t len, uint64_t *seq, char *period)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env = NULL;
	if (hsi_net_split(msg, len, topic, &body, &blen) != 0
	    || strcmp(topic, "score") != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		return HSI_EPROTO;
	}
	ProtobufCMessage *m = NULL;
	if (env->protocol_version >= HSI_PROTOCOL_MIN_VERSION
	    && env->protocol_version <= HSI_PROTOCOL_VERSION
	    && env->payload_type == HSI__PAYLOAD_TYPE__SCORE_EVENT) {
		m = hsi_pb_unpack(&hsi__score_event__descriptor,
		    env->payload.data, env->payload.len);
	}
	hsi_envelope_free(env);
	if (m == NULL) {
		return HSI_EPROTO;
	}
	Hsi__ScoreEvent *ev = (Hsi__ScoreEvent *) m;
	hsi_period       p;
	/* protobuf-c does not check UTF-8: only the canonical form our own
	 * parser writes goes on to SQL. */
	int rv = hsi_period_parse(ev->period, strlen(ev->period), &p, NULL);
	if (rv == 0) {
		hsi_period_format(&p, period, HSI_PERIOD_MAX);
		*seq = ev->seq;
	}
	hsi_pb_free(m);
	return rv == 0 ? 0 : HSI_EPROTO;
}
