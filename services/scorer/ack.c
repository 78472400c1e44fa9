/*
 * ack.c: acknowledgements and verdicts back to the nodes.
 *
 * An ack is cumulative (every seq up to acked_seq is durable here) and is
 * re-published about once a second for every node heard from in the last
 * ten minutes: a lost ack then costs a second, not a resend of the whole
 * window, and doubles as the node's heartbeat. Each ack also carries the
 * verdicts of that node's files that the node has not yet confirmed, so a
 * verdict is never lost with an ack.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "scorer_int.h"

#define MAX_VERDICTS_PER_ACK 16

typedef struct {
	Hsi__FileVerdict    v[MAX_VERDICTS_PER_ACK];
	Hsi__FileVerdict   *pv[MAX_VERDICTS_PER_ACK];
	Hsi__RowRejection **rej[MAX_VERDICTS_PER_ACK];
	size_t              n;
	PGresult           *res; /* owns the strings */
	json_t             *json[MAX_VERDICTS_PER_ACK];
} verdicts;

static void
verdicts_fini(verdicts *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		for (size_t k = 0; k < vs->v[i].n_rejections; k++) {
			free(vs->rej[i][k]);
		}
		free(vs->rej[i]);
		json_decref(vs->json[i]);
	}
	PQclear(vs->res);
}

/* Rebuilds one verdict's rejections from the JSON stored with it. */
static void
load_rejections(verdicts *vs, size_t i, const char *text)
{
	json_t *arr = json_loads(text, 0, NULL);
	size_t  n   = json_is_array(arr) ? json_array_size(arr) : 0;
	vs->json[i] = arr;
	vs->rej[i]  = calloc(n + 1, sizeof(Hsi__RowRejection *));
	if (vs->rej[i] == NULL) {
		return;
	}
	for (size_t k = 0; k < n; k++) {
		json_t            *o = json_array_get(arr, k);
		Hsi__RowRejection *r = calloc(1, sizeof(*r));
		if (r == NULL) {
			break;
		}
		hsi__row_rejection__init(r);
		r->row
		    = (uint32_t) json_integer_value(json_object_get(o, "row"));
		r->code
		    = (char *) json_string_value(json_object_get(o, "code"));
		r->field
		    = (char *) json_string_value(json_object_get(o, "field"));
		r->message = (char *) json_string_value(
		    json_object_get(o, "message"));
		if (!r->code || !r->field || !r->message) {
			free(r);
			break;
		}
		vs->rej[i][vs->v[i].n_rejections++] = r;
	}
	vs->v[i].rejections = vs->rej[i];
}

static int
load_verdicts(hsi_scorer *s, const char *agency, const char *node,
    const char *epoch, verdicts *vs)
{
	memset(vs, 0, sizeof(*vs));
	const char *p[3] = { agency, node, epoch };
	vs->res          = hsi_db_query(s->db, "unconfirmed verdicts",
	             "SELECT file_id, state, imported, updated, ignored, rejected, "
	                      "rejections::text FROM ingest_file WHERE agency = $1 AND "
	                      "node_id = $2 AND epoch = $3 AND confirmed_at IS NULL "
	                      "ORDER BY applied_at LIMIT 16",
	             3, p);
	if (vs->res == NULL) {
		return HSI_EDB;
	}
	PGresult *r = vs->res;
	for (int i = 0; i < PQntuples(r) && vs->n < MAX_VERDICTS_PER_ACK;
	     i++) {
		Hsi__FileVerdict *v = &vs->v[vs->n];
		hsi__file_verdict__init(v);
		v->file_id  = PQgetvalue(r, i, 0);
		v->state    = PQgetvalue(r, i, 1);
		v->imported = (uint32_t) atol(PQgetvalue(r, i, 2));
		v->updated  = (uint32_t) atol(PQgetvalue(r, i, 3));
		v->ignored  = (uint32_t) atol(PQgetvalue(r, i, 4));
		v->rejected = (uint32_t) atol(PQgetvalue(r, i, 5));
		load_rejections(vs, vs->n, PQgetvalue(r, i, 6));
		vs->pv[vs->n] = v;
		vs->n++;
	}
	return 0;
}

void
hsi_scorer_publish_ack(hsi_scorer *s, const hsi_key *key, const char *agency,
    const char *node, uint64_t epoch, uint64_t acked, const char *refusal)
{
	char es[24];
	snprintf(es, sizeof(es), "%" PRId64, (int64_t) epoch);
	verdicts vs;
	if (load_verdicts(s, agency, node, es, &vs) != 0) {
		verdicts_fini(&vs);
		return;
	}
	Hsi__Ack ack        = HSI__ACK__INIT;
	ack.agency          = (char *) agency;
	ack.node_id         = (char *) node;
	ack.epoch           = epoch;
	ack.acked_seq       = acked;
	ack.catalog_version = s->cat->version;
	ack.refusal         = (char *) (refusal ? refusal : "");
	ack.n_verdicts      = vs.n;
	ack.verdicts        = vs.pv;
	size_t   len        = hsi__ack__get_packed_size(&ack);
	uint8_t *buf        = malloc(len + 1);
	if (buf != NULL) {
		hsi__ack__pack(&ack, buf);
		char topic[HSI_TOPIC_MAX];
		snprintf(topic, sizeof(topic), "ack.%s", agency);
		Hsi__Envelope out = HSI__ENVELOPE__INIT;
		out.agency        = (char *) agency;
		out.node_id       = "scorer";
		out.epoch         = epoch;
		out.seq           = acked;
		out.sent_unix_ms  = hsi_now_ms();
		out.payload_type  = HSI__PAYLOAD_TYPE__ACK;
		out.payload.data  = buf;
		out.payload.len   = len;
		hsi_envelope_publish(s->events, topic, &out, key);
		free(buf);
	}
	verdicts_fini(&vs);
}

void
hsi_scorer_heartbeat(hsi_scorer *s)
{
	PGresult *r = hsi_db_query(s->db, "active nodes",
	    "SELECT agency, node_id, epoch, last_seq, coalesce(key_id, '') "
	    "FROM node_progress WHERE updated_at > now() - interval '10 "
	    "minutes' OR EXISTS (SELECT 1 FROM ingest_file f WHERE "
	    "f.agency = node_progress.agency AND f.node_id = "
	    "node_progress.node_id AND f.epoch = node_progress.epoch AND "
	    "f.confirmed_at IS NULL)",
	    0, NULL);
	if (r == NULL) {
		return;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const char    *agency = PQgetvalue(r, i, 0);
		const hsi_key *key
		    = hsi_scorer_find_key(s, agency, PQgetvalue(r, i, 4), 0);
		if (key == NULL) {
			key = hsi_scorer_find_key(s, agency, NULL, 0);
		}
		if (key == NULL) {
			continue; /* every key retired: nothing to sign with */
		}
		hsi_scorer_publish_ack(s, key, agency, PQgetvalue(r, i, 1),
		    (uint64_t) atoll(PQgetvalue(r, i, 2)),
		    (uint64_t) atoll(PQgetvalue(r, i, 3)), NULL);
	}
	PQclear(r);
}

/* File ids are ours (hex and '-'), checked before they go into an array
 * literal, so no quoting is needed or possible. */
static int
id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 79) {
		return 0;
	}
	for (const char *p = id; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
		        || *p == '-')) {
			return 0;
		}
	}
	return 1;
}

void
hsi_scorer_node_status(
    hsi_scorer *s, const Hsi__Envelope *env, const Hsi__NodeStatus *st)
{
	char   arr[16 * 81 + 3] = "{";
	size_t used             = 1;
	for (size_t i = 0; i < st->n_verdicts_received && i < 16; i++) {
		const char *id = st->verdicts_received[i];
		if (!id_ok(id)) {
			continue;
		}
		used += (size_t) snprintf(arr + used, sizeof(arr) - used,
		    "%s%s", used > 1 ? "," : "", id);
	}
	snprintf(arr + used, sizeof(arr) - used, "}");
	char es[24];
	snprintf(es, sizeof(es), "%" PRId64, (int64_t) env->epoch);
	const char *p[4] = { env->agency, env->node_id, es, arr };
	hsi_db_exec(s->db, "confirm verdicts",
	    "UPDATE ingest_file SET confirmed_at = now() WHERE agency = $1 "
	    "AND node_id = $2 AND epoch = $3 AND file_id = ANY($4::text[]) "
	    "AND confirmed_at IS NULL",
	    4, p);
}
