/*
 * apply.c: what the scorer does with one message from an agency node.
 *
 * Order matters: the HMAC is checked before the payload is parsed, the seq
 * against node_progress inside the same transaction that stages the part,
 * and a file is applied in that transaction too once all its parts are
 * staged. So a crash at any point either leaves the part unstaged (the
 * node resends it) or staged and acked -- never applied twice.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "db.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "scorer_int.h"
#include "validate.h"

typedef struct {
	Hsi__FileVerdict    verdict;
	Hsi__RowRejection **rej;
	size_t              n_rej, cap_rej;
	char                state[16];
} file_result;

int
hsi_scorer_load_keys(hsi_scorer *s)
{
	PGresult *r = hsi_db_query(s->db, "load keys",
	    "SELECT agency, key_id, encode(secret, 'hex') FROM agency_key "
	    "WHERE retired_at IS NULL OR retired_at > now() "
	    "ORDER BY created_at DESC",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	size_t   n    = (size_t) PQntuples(r);
	hsi_key *keys = calloc(n + 1, sizeof(*keys));
	if (keys == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i].agency, sizeof(keys[i].agency), "%s",
		    PQgetvalue(r, (int) i, 0));
		snprintf(keys[i].id, sizeof(keys[i].id), "%s",
		    PQgetvalue(r, (int) i, 1));
		hsi_unhex(
		    PQgetvalue(r, (int) i, 2), keys[i].secret, HSI_KEY_BYTES);
	}
	PQclear(r);
	free(s->keys);
	s->keys   = keys;
	s->n_keys = n;
	return 0;
}

const hsi_key *
hsi_scorer_find_key(
    hsi_scorer *s, const char *agency, const char *id, int reload)
{
	/* Keys are loaded newest first, so with id NULL this is the newest
	 * valid key of the agency. */
	for (size_t i = 0; i < s->n_keys; i++) {
		if ((id == NULL || strcmp(s->keys[i].id, id) == 0)
		    && strcmp(s->keys[i].agency, agency) == 0) {
			return &s->keys[i];
		}
	}
	/* A key rotated after start-up is in the database, not yet here. */
	if (reload && hsi_scorer_load_keys(s) == 0) {
		return hsi_scorer_find_key(s, agency, id, 0);
	}
	return NULL;
}

/* Text from a refused message for SQL and logs: PostgreSQL and jansson
 * both refuse invalid UTF-8, and a refusal must never be lost for it, so
 * such text is kept as hex. */
static const char *
safe_text(const char *in, char *out, size_t size)
{
	if (in == NULL) {
		return NULL;
	}
	size_t n = strlen(in);
	if (hsi_utf8_check(in, n) == 0) {
		hsi_utf8_clip(in, out, size);
		return out;
	}
	size_t k = (size - 6) / 2 < n ? (size - 6) / 2 : n;
	memcpy(out, "hex:", 4);
	hsi_hex((const unsigned char *) in, k, out + 4);
	return out;
}

static void
quarantine(hsi_scorer *s, const Hsi__Envelope *env, const char *reason,
    const char *detail, const unsigned char *msg, size_t len)
{
	s->stats_quarantined++;
	char epoch[24] = "", seq[24] = "", agency[80], node[80], det[200];
	if (env != NULL) {
		snprintf(
		    epoch, sizeof(epoch), "%" PRId64, (int64_t) env->epoch);
		snprintf(seq, sizeof(seq), "%" PRIu64, env->seq);
	}
	const char *ag
	    = env ? safe_text(env->agency, agency, sizeof(agency)) : NULL;
	const char *p[7]   = { ag,
                env ? safe_text(env->node_id, node, sizeof(node)) : NULL,
                env ? epoch : NULL, env ? seq : NULL, reason,
		  safe_text(detail, det, sizeof(det)), (const char *) msg };
	const int   fmt[7] = { 0, 0, 0, 0, 0, 0, 1 };
	const int   lens[7]
	    = { 0, 0, 0, 0, 0, 0, (int) (len > 4096 ? 4096 : len) };
	PGresult *r = PQexecParams(s->db,
	    "INSERT INTO quarantine(agency, node_id, epoch, seq, reason, "
	    "detail, message) VALUES ($1, $2, $3, $4, $5, $6, $7)",
	    7, NULL, p, lens, fmt, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		hsi_log_error("cannot record a refusal in quarantine",
		    "{s:s, s:s}", "reason", reason, "error",
		    PQresultErrorMessage(r));
	}
	PQclear(r);
	hsi_log_warn("message refused", "{s:s, s:s, s:s}", "reason", reason,
	    "agency", ag ? ag : "?", "detail", p[5] ? p[5] : "");
}

static int
add_rejection(file_result *fr, uint32_t row, const char *code,
    const char *field, const char *msg)
{
	if (fr->n_rej >= 1000) {
		return 0; /* counted in rejected, not listed */
	}
	if (fr->n_rej == fr->cap_rej) {
		size_t nc = fr->cap_rej ? fr->cap_rej * 2 : 16;
		void  *p  = realloc(fr->rej, nc * sizeof(*fr->rej));
		if (p == NULL) {
			return HSI_ENOMEM;
		}
		fr->rej     = p;
		fr->cap_rej = nc;
	}
	Hsi__RowRejection *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return HSI_ENOMEM;
	}
	hsi__row_rejection__init(r);
	r->row               = row;
	r->code              = strdup(code);
	r->field             = strdup(field);
	r->message           = strdup(msg);
	fr->rej[fr->n_rej++] = r;
	return 0;
}

static void
file_result_fini(file_result *fr)
{
	for (size_t i = 0; i < fr->n_rej; i++) {
		free(fr->rej[i]->code);
		free(fr->rej[i]->field);
		free(fr->rej[i]->message);
		free(fr->rej[i]);
	}
	free(fr->rej);
}

/* COPY text format: backslash, tab, newline and CR must be escaped. */
static void
copy_escape(char *out, size_t size, const char *in)
{
	size_t k = 0;
	for (; *in && k + 3 < size; in++) {
		char c = *in;
		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			out[k++] = '\\';
			c        = c == '\t'   ? 't'
			           : c == '\n' ? 'n'
			           : c == '\r' ? 'r'
			                       : c;
		}
		out[k++] = c;
	}
	out[k] = '\0';
}

/*
 * Re-validates every row of the staged parts (the node's catalog may be
 * older; a hostile node may skip validation), copies the valid ones into
 * the session's staging table and merges them into observation with one
 * statement that also writes the revisions and counts the outcome.
 */
/* Re-validates the rows of one part and streams the valid ones into the
 * COPY in progress; counts them in *valid and *total. */
static int
copy_batch(hsi_scorer *s, const Hsi__Envelope *env,
    const Hsi__ObservationBatch *b, file_result *fr, unsigned *valid,
    unsigned *total)
{
	char line[3 * HSI_NOTE_MAX + 256], note[2 * HSI_NOTE_MAX + 8];
	int  rv = 0;
	for (size_t k = 0; rv == 0 && k < b->n_observations; k++) {
		const Hsi__Observation *o = b->observations[k];
		hsi_obs                 ob;
		hsi_issue               iss;
		memset(&ob, 0, sizeof(ob));
		(*total)++;
		int ok = strlen(o->indicator) < sizeof(ob.indicator)
		    && strlen(o->area) < sizeof(ob.area)
		    && strlen(o->period) < sizeof(ob.period)
		    && strlen(o->note) <= HSI_NOTE_MAX
		    && strlen(o->status) == 1
		    && hsi_utf8_check(o->note, strlen(o->note)) == 0;
		if (!ok) {
			rv = add_rejection(fr, o->row, "E_FIELD", "",
			    "field too long, bad status or bad "
			    "UTF-8");
			continue;
		}
		strcpy(ob.indicator, o->indicator);
		strcpy(ob.area, o->area);
		strcpy(ob.period, o->period);
		ob.value     = o->value;
		ob.has_value = o->has_value;
		ob.status    = o->status[0];
		if (hsi_validate_obs(s->cat, env->agency, &ob, &iss)) {
			rv = add_rejection(
			    fr, o->row, iss.code, iss.field, iss.msg);
			continue;
		}
		copy_escape(note, sizeof(note), o->note);
		char val[40] = "\\N";
		if (ob.has_value) {
			snprintf(val, sizeof(val), "%.17g", ob.value);
		}
		int n = snprintf(line, sizeof(line),
		    "%s\t%s\t%s\t%d\t%d\t%s\t%c\t%s\n", ob.indicator, ob.area,
		    ob.period, ob.year, ob.fyear, val, ob.status,
		    o->note[0] ? note : "\\N");
		if (PQputCopyData(s->db, line, n) != 1) {
			rv = HSI_EDB;
		}
		(*valid)++;
		/* Marked now, scored after commit: a failed
		 * transaction at worst rescores unchanged data. */
		hsi_scorer_mark_dirty(
		    s, s->method->fiscal_index ? ob.fyear : ob.year);
	}
	return rv;
}

static int
apply_file(hsi_scorer *s, const Hsi__Envelope *env,
    const Hsi__ObservationBatch *last, int staged, file_result *fr)
{
	const char *file_id   = last->file_id;
	const char *file_name = last->file_name;
	char        epoch[24];
	snprintf(epoch, sizeof(epoch), "%" PRId64, (int64_t) env->epoch);
	const char *p[4] = { env->agency, env->node_id, epoch, file_id };
	PGresult   *r    = NULL;
	if (staged
	    && (r = hsi_db_query(s->db, "load parts",
	            "SELECT payload FROM ingest_part WHERE agency = $1 AND "
	            "node_id = $2 AND epoch = $3 AND file_id = $4 ORDER BY "
	            "part",
	            4, p))
	        == NULL) {
		return HSI_EDB;
	}
	if (hsi_db_exec(s->db, "staging table",
	        "CREATE TEMP TABLE IF NOT EXISTS stage_obs (indicator text, "
	        "area text, period text, year int, fyear int, value double "
	        "precision, status char(1), note text) ON COMMIT DELETE ROWS",
	        0, NULL)
	    != 0) {
		PQclear(r);
		return HSI_EDB;
	}
	PGresult *cr = PQexec(s->db, "COPY stage_obs FROM STDIN");
	int       rv = PQresultStatus(cr) == PGRES_COPY_IN ? 0 : HSI_EDB;
	PQclear(cr);
	unsigned valid = 0, total = 0;
	for (int i = 0; rv == 0 && r != NULL && i < PQntuples(r); i++) {
		size_t         blen;
		unsigned char *bytes = PQunescapeBytea(
		    (const unsigned char *) PQgetvalue(r, i, 0), &blen);
		Hsi__ObservationBatch *b = bytes
		    ? (Hsi__ObservationBatch *) hsi_pb_unpack(
		        &hsi__observation_batch__descriptor, bytes, blen)
		    : NULL;
		PQfreemem(bytes);
		if (b == NULL) {
			rv = HSI_EPROTO;
			break;
		}
		rv = copy_batch(s, env, b, fr, &valid, &total);
		hsi_pb_free((ProtobufCMessage *) b);
	}
	PQclear(r);
	/* The part that completed the file was never staged. */
	if (rv == 0) {
		rv = copy_batch(s, env, last, fr, &valid, &total);
	}
	if (PQputCopyEnd(s->db, rv == 0 ? NULL : "aborted") != 1) {
		rv = HSI_EDB;
	}
	while ((cr = PQgetResult(s->db)) != NULL) {
		if (PQresultStatus(cr) != PGRES_COMMAND_OK && rv == 0) {
			hsi_log_error("copy failed", "{s:s}", "error",
			    PQresultErrorMessage(cr));
			rv = HSI_EDB;
		}
		PQclear(cr);
	}
	if (rv != 0) {
		return rv;
	}
	const char *mp[3] = { env->agency, env->node_id, file_id };
	r                 = hsi_db_query(s->db, "merge observations",
	                    "WITH up AS (INSERT INTO observation AS o (indicator, area, "
	                                    "period, year, fyear, value, status, note, agency, file_id) "
	                                    "SELECT indicator, area, period, year, fyear, value, status, "
	                                    "note, $1, $3 FROM stage_obs "
	                                    "ON CONFLICT (indicator, area, period) DO UPDATE SET "
	                                    "value = EXCLUDED.value, status = EXCLUDED.status, note = "
	                                    "EXCLUDED.note, file_id = EXCLUDED.file_id, updated_at = now() "
	                                    "WHERE (o.value, o.status, o.note) IS DISTINCT FROM "
	                                    "(EXCLUDED.value, EXCLUDED.status, EXCLUDED.note) "
	                                    "RETURNING o.indicator, o.area, o.period, o.year, o.fyear, "
	                                    "o.value, o.status, o.note, (xmax = 0) AS inserted), "
	                                    "rev AS (INSERT INTO observation_revision(indicator, area, "
	                                    "period, year, fyear, value, status, note, agency, node_id, "
	                                    "file_id) "
	                                    "SELECT indicator, area, period, year, fyear, value, status, "
	                                    "note, $1, $2, $3 FROM up) "
	                                    "SELECT count(*) FILTER (WHERE inserted), "
	                                    "count(*) FILTER (WHERE NOT inserted) FROM up",
	                    3, mp);
	if (r == NULL) {
		return HSI_EDB;
	}
	fr->verdict.imported = (uint32_t) atol(PQgetvalue(r, 0, 0));
	fr->verdict.updated  = (uint32_t) atol(PQgetvalue(r, 0, 1));
	PQclear(r);
	fr->verdict.ignored
	    = valid - fr->verdict.imported - fr->verdict.updated;
	fr->verdict.rejected = total - valid;
	snprintf(fr->state, sizeof(fr->state), "applied");
	fr->verdict.state        = fr->state;
	fr->verdict.n_rejections = fr->n_rej;
	fr->verdict.rejections   = fr->rej;
	json_t *rj               = json_array();
	for (size_t i = 0; i < fr->n_rej; i++) {
		json_array_append_new(rj,
		    json_pack("{s:i, s:s, s:s, s:s}", "row",
		        (int) fr->rej[i]->row, "code", fr->rej[i]->code,
		        "field", fr->rej[i]->field, "message",
		        fr->rej[i]->message));
	}
	char *rjs = json_dumps(rj, JSON_COMPACT);
	json_decref(rj);
	char cnt[4][16];
	snprintf(cnt[0], 16, "%u", fr->verdict.imported);
	snprintf(cnt[1], 16, "%u", fr->verdict.updated);
	snprintf(cnt[2], 16, "%u", fr->verdict.ignored);
	snprintf(cnt[3], 16, "%u", fr->verdict.rejected);
	const char *vp[10] = { env->agency, env->node_id, epoch, file_id,
		file_name, cnt[0], cnt[1], cnt[2], cnt[3], rjs ? rjs : "[]" };
	rv                 = hsi_db_exec(s->db, "store verdict",
	                    "INSERT INTO ingest_file(agency, node_id, epoch, file_id, "
	                                    "file_name, state, imported, updated, ignored, rejected, "
	                                    "rejections) VALUES ($1,$2,$3,$4,$5,'applied',$6,$7,$8,$9,$10) "
	                                    "ON CONFLICT DO NOTHING",
	                    10, vp);
	free(rjs);
	if (rv == 0 && staged) {
		rv = hsi_db_exec(s->db, "drop staged parts",
		    "DELETE FROM ingest_part WHERE agency = $1 AND node_id = "
		    "$2 "
		    "AND epoch = $3 AND file_id = $4",
		    4, p);
	}
	hsi_log_info("file applied", "{s:s, s:s, s:s, s:i, s:i, s:i, s:i}",
	    "agency", env->agency, "node", env->node_id, "file", file_name,
	    "imported", (int) fr->verdict.imported, "updated",
	    (int) fr->verdict.updated, "ignored", (int) fr->verdict.ignored,
	    "rejected", (int) fr->verdict.rejected);
	return rv;
}

/* Stores one part of a file that is not complete yet. */
static int
stage_part(hsi_scorer *s, const Hsi__Envelope *env,
    const Hsi__ObservationBatch *b, const char *epoch, const char *seq)
{
	char part[16], parts[16];
	snprintf(part, sizeof(part), "%u", b->part);
	snprintf(parts, sizeof(parts), "%u", b->parts);
	size_t   plen = hsi__observation_batch__get_packed_size(b);
	uint8_t *pb   = malloc(plen + 1);
	if (pb == NULL) {
		return HSI_ENOMEM;
	}
	hsi__observation_batch__pack(b, pb);
	const char *sp[8]   = { env->agency, env->node_id, epoch, seq,
		  b->file_id, part, parts, (const char *) pb };
	const int   lens[8] = { 0, 0, 0, 0, 0, 0, 0, (int) plen };
	const int   fmts[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	PGresult   *r       = PQexecParams(s->db,
	            "INSERT INTO ingest_part(agency, node_id, epoch, seq, file_id, "
	                    "part, parts, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	            8, NULL, sp, lens, fmts, 0);
	free(pb);
	int rv = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		hsi_log_error("staging failed", "{s:s}", "error",
		    PQresultErrorMessage(r));
		rv = HSI_EDB;
	}
	PQclear(r);
	return rv;
}

/* Looks up the node's progress, locking its row for this transaction. */
static int
node_last_seq(
    hsi_scorer *s, const Hsi__Envelope *env, const char *epoch, uint64_t *last)
{
	const char *p[3] = { env->agency, env->node_id, epoch };
	PGresult   *r    = hsi_db_query(s->db, "node progress",
	         "SELECT last_seq FROM node_progress WHERE agency = $1 AND "
	              "node_id = $2 AND epoch = $3 FOR UPDATE",
	         3, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	*last = PQntuples(r) ? (uint64_t) atoll(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return 0;
}

/*
 * Stages a verified batch and applies its file when complete, all in one
 * transaction. *acked is the node's cumulative position afterwards.
 */
static int
stage_batch(hsi_scorer *s, const Hsi__Envelope *env,
    const Hsi__ObservationBatch *b, uint64_t *acked, file_result *fr)
{
	char epoch[24], seq[24];
	snprintf(epoch, sizeof(epoch), "%" PRId64, (int64_t) env->epoch);
	snprintf(seq, sizeof(seq), "%" PRIu64, env->seq);
	uint64_t last;
	int      rv = hsi_db_exec(s->db, "begin", "BEGIN", 0, NULL);
	if (rv == 0) {
		rv = node_last_seq(s, env, epoch, &last);
	}
	if (rv != 0) {
		goto out;
	}
	*acked = last;
	if (env->seq != last + 1) {
		/* A duplicate is re-acked; after a gap the node resends
		 * from last + 1 (go-back-N). Neither is staged. */
		goto out;
	}
	/* Parts already staged for this file: when this one completes it,
	 * it is applied straight from memory, never staged -- for the common
	 * one-part file that saves a write, a read and a delete. */
	long have = 0;
	if (b->parts > 1) {
		const char *cp[4]
		    = { env->agency, env->node_id, epoch, b->file_id };
		PGresult *r = hsi_db_query(s->db, "count parts",
		    "SELECT count(*) FROM ingest_part WHERE agency = $1 "
		    "AND node_id = $2 AND epoch = $3 AND file_id = $4",
		    4, cp);
		if (r == NULL) {
			rv = HSI_EDB;
			goto out;
		}
		have = atol(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	const char *np[5]
	    = { env->agency, env->node_id, epoch, seq, env->key_id };
	if ((rv = hsi_db_exec(s->db, "advance node",
	         "INSERT INTO node_progress(agency, node_id, epoch, last_seq, "
	         "key_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agency, "
	         "node_id, epoch) DO UPDATE SET last_seq = EXCLUDED.last_seq, "
	         "key_id = EXCLUDED.key_id, updated_at = now()",
	         5, np))
	    != 0) {
		goto out;
	}
	if (have + 1 == (long) b->parts) {
		fr->verdict.file_id = b->file_id;
		rv                  = apply_file(s, env, b, have > 0, fr);
	} else {
		rv = stage_part(s, env, b, epoch, seq);
	}
	if (rv == 0) {
		*acked = env->seq;
	}
out:
	if (rv == 0) {
		rv = hsi_db_exec(s->db, "commit", "COMMIT", 0, NULL);
	}
	if (rv != 0) {
		PQclear(PQexec(s->db, "ROLLBACK"));
		*acked = 0;
	}
	return rv;
}

/* Advances the node past a signed but unusable message. Returns the
 * node's cumulative position. */
static uint64_t
skip_seq(hsi_scorer *s, const Hsi__Envelope *env)
{
	char     epoch[24], seq[24];
	uint64_t last = 0;
	snprintf(epoch, sizeof(epoch), "%" PRId64, (int64_t) env->epoch);
	snprintf(seq, sizeof(seq), "%" PRIu64, env->seq);
	const char *p[5]
	    = { env->agency, env->node_id, epoch, seq, env->key_id };
	if (hsi_db_exec(s->db, "begin", "BEGIN", 0, NULL) != 0) {
		return 0;
	}
	if (node_last_seq(s, env, epoch, &last) == 0 && env->seq == last + 1
	    && hsi_db_exec(s->db, "skip seq",
	           "INSERT INTO node_progress(agency, node_id, epoch, "
	           "last_seq, key_id) VALUES ($1, $2, $3, $4, $5) ON "
	           "CONFLICT (agency, node_id, epoch) DO UPDATE SET "
	           "last_seq = EXCLUDED.last_seq, updated_at = now()",
	           5, p)
	        == 0) {
		last = env->seq;
	}
	if (hsi_db_exec(s->db, "commit", "COMMIT", 0, NULL) != 0) {
		PQclear(PQexec(s->db, "ROLLBACK"));
	}
	return last;
}

static int
check_batch(const Hsi__ObservationBatch *b, char *why, size_t size)
{
	if (b->part < 1 || b->part > b->parts || b->parts > 100000
	    || strlen(b->file_id) == 0 || strlen(b->file_id) > 80
	    || strlen(b->file_name) > 255
	    || hsi_utf8_check(b->file_name, strlen(b->file_name)) != 0) {
		snprintf(why, size, "bad part numbering or file id/name");
		return HSI_EPROTO;
	}
	return 0;
}

void
hsi_scorer_handle(hsi_scorer *s, const unsigned char *msg, size_t len)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env = NULL;
	s->stats_received++;
	if (hsi_net_split(msg, len, topic, &body, &blen) != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		s->stats_dropped++;
		quarantine(s, NULL, "undecodable", NULL, msg, len);
		return;
	}
	char want[HSI_TOPIC_MAX];
	snprintf(want, sizeof(want), "obs.%s", env->agency);
	const hsi_key *key = NULL;
	const char    *why = NULL;
	if (strcmp(topic, want) != 0
	    || hsi_catalog_agency(s->cat, env->agency) == NULL) {
		why = "topic and agency disagree, or unknown agency";
	} else if (env->protocol_version < HSI_PROTOCOL_MIN_VERSION
	    || env->protocol_version > HSI_PROTOCOL_VERSION) {
		why = "unsupported protocol version";
	} else if ((key = hsi_scorer_find_key(s, env->agency, env->key_id, 1))
	    == NULL) {
		why = "unknown or retired key id";
	} else if (hsi_envelope_verify(topic, env, key) != 0) {
		why = "bad signature";
		key = NULL; /* never ack a forgery with the agency's key */
	} else if (env->payload_type == HSI__PAYLOAD_TYPE__NODE_STATUS) {
		Hsi__NodeStatus *st = (Hsi__NodeStatus *) hsi_pb_unpack(
		    &hsi__node_status__descriptor, env->payload.data,
		    env->payload.len);
		if (st != NULL) {
			hsi_scorer_node_status(s, env, st);
			hsi_pb_free((ProtobufCMessage *) st);
		}
		hsi_envelope_free(env);
		return;
	} else if (env->payload_type != HSI__PAYLOAD_TYPE__OBSERVATION_BATCH) {
		why = "unexpected payload type";
	}
	if (why != NULL) {
		quarantine(s, env, why, NULL, msg, len);
		hsi_envelope_free(env);
		return;
	}
	Hsi__ObservationBatch *b = (Hsi__ObservationBatch *) hsi_pb_unpack(
	    &hsi__observation_batch__descriptor, env->payload.data,
	    env->payload.len);
	char detail[128];
	if (b == NULL || check_batch(b, detail, sizeof(detail)) != 0) {
		/* Signed by the agency, so it is safe to skip: quarantine it,
		 * let it take its place in the sequence and acknowledge it,
		 * or the node would resend it forever. */
		quarantine(
		    s, env, "bad batch payload", b ? detail : NULL, msg, len);
		uint64_t skipped = skip_seq(s, env);
		hsi_scorer_publish_ack(s, key, env->agency, env->node_id,
		    env->epoch, skipped, "bad batch payload (quarantined)");
		hsi_pb_free((ProtobufCMessage *) b);
		hsi_envelope_free(env);
		return;
	}
	file_result fr;
	memset(&fr, 0, sizeof(fr));
	hsi__file_verdict__init(&fr.verdict);
	uint64_t acked = 0;
	if (stage_batch(s, env, b, &acked, &fr) == 0) {
		hsi_scorer_publish_ack(s, key, env->agency, env->node_id,
		    env->epoch, acked, NULL);
	}
	file_result_fini(&fr);
	hsi_pb_free((ProtobufCMessage *) b);
	hsi_envelope_free(env);
}
