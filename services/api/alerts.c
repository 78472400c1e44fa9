/*
 * alerts.c: the alert endpoints of hsi-api (openapi.yaml, tag alerts):
 *
 *   GET    /v1/alerts                        listAlerts (pages, CSV)
 *   GET    /v1/alerts/{fingerprint}          getAlert, with its events
 *   POST   /v1/alerts/{fingerprint}/ack      ackAlert (admin)
 *   DELETE /v1/alerts/{fingerprint}/ack      unackAlert (admin)
 *   GET    /v1/silences                      listSilences
 *   POST   /v1/silences                      createSilence (admin)
 *   GET    /v1/silences/{id}                 getSilence
 *   DELETE /v1/silences/{id}                 expireSilence (admin)
 *
 * A thin layer over common/alertops.h, which hsictl alerts and
 * hsi-alerter share, so all three accept and refuse the same inputs with
 * the same words. What this file adds is HTTP: the person acting is the
 * calling token's label; every write is recorded in audit_log; the POSTs
 * honour Idempotency-Key (table api_idempotency, migration 007); and
 * alertops' error codes become problems: a bad input 400 naming the
 * parameter or body field, HSI_ENOENT 404, HSI_ESTATE 409 conflict,
 * HSI_EDB 503 (hsi_call_run answers it).
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertops.h"
#include "call.h"
#include "csvout.h"
#include "db.h"
#include "error.h"
#include "log.h"
#include "reply.h"
#include "routes.h"
#include "text.h"
#include "token.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define CSV_TYPE "text/csv; charset=utf-8; header=present"
#define ERR_MAX 512
#define LABEL_MAX (4 * HSI_TOKEN_LABEL_MAX + 1)
#define MATCH_TEXT_MAX 330 /* MatcherText: name, operator, value */
#define QS_MAX (4 * HSI_QUERY_MAX_BYTES)
#define TEXT_FIELD_BYTES (4 * 1024) /* 1024 characters of UTF-8 */
#define TIME_FIELD_BYTES 40         /* Timestamp, maxLength */
#define DURATION_BYTES 32           /* Duration, maxLength */

/* ---- answers ----------------------------------------------------------- */

/* Queues body (copied) as type, with Cache-Control: no-store (every
 * answer here changes with the next action) and headers (name/value
 * pairs ending in NULL, or NULL). */
static int
send_bytes(hsi_call *c, unsigned status, const char *type, const char *body,
    size_t len, const char *const *headers)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp != NULL) {
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		for (int i = 0; headers != NULL && headers[i] != NULL;
		     i += 2) {
			MHD_add_response_header(
			    resp, headers[i], headers[i + 1]);
		}
	}
	return hsi_reply_queue(c, status, resp);
}

/* JSON text of j (stolen), as hsi_reply_json writes it; NULL: no memory. */
static char *
dump(json_t *j)
{
	char *s
	    = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	return s;
}

/*
 * Queues a problem; returns non-zero, so that helpers can say "answered,
 * stop" the way hsi_call_* do. parameter and field may be NULL.
 */
static int
problem(hsi_call *c, unsigned status, const char *slug, const char *title,
    const char *parameter, const char *field, const char *detail)
{
	hsi_problem p  = { .status = status,
		 .slug             = slug,
		 .title            = title,
		 .detail           = detail,
		 .parameter        = parameter,
		 .field            = field && field[0] ? field : NULL };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

static int
internal(hsi_call *c, const char *detail)
{
	return problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
	    "Internal error", NULL, NULL, detail);
}

/* Queues 200 with j (stolen) as JSON. */
static int
send_json(hsi_call *c, json_t *j)
{
	char *body = dump(j);
	int   rv   = body
	        ? send_bytes(c, MHD_HTTP_OK, JSON_TYPE, body, strlen(body), NULL)
	        : internal(c, "out of memory");
	free(body);
	return rv;
}

/* ---- Idempotency-Key --------------------------------------------------- */

/*
 * openapi.yaml, "Writes": a retry with the same key and the same request
 * gets the first answer again (Idempotent-Replayed: true), the same key
 * with another request 422, and while the first still runs 409. A key
 * belongs to the token that sent it; api_idempotency (migration 007)
 * keeps it 24 hours. Only successful answers are kept: a refused write
 * changed nothing, so its retry just runs again.
 *
 * Nothing in this section knows alerts: it is meant to become its own
 * module once a second endpoint (observation submissions) needs it.
 */
#define IDEM_KEY_MAX 255
#define IDEM_STALE                                                            \
	"5 minutes" /* an unfinished claim this old is                        \
	             * taken over: its request died */

typedef struct {
	int  held; /* claimed by this request: keep or drop its answer */
	char token[24];
	char key[IDEM_KEY_MAX + 1];
} idem;

static void
idem_none(idem *k)
{
	memset(k, 0, sizeof(*k));
}

/* SHA-256 of the method, path and body, in hex: "the same request". */
static int
request_hash(hsi_call *c, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	const char *body, *method = hsi_call_method(c),
	                  *path = hsi_call_path(c);
	size_t        len;
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX   *x = EVP_MD_CTX_new();
	hsi_call_body(c, &body, &len);
	int ok = x != NULL && EVP_DigestInit_ex(x, EVP_sha256(), NULL)
	    && EVP_DigestUpdate(x, method, strlen(method) + 1)
	    && EVP_DigestUpdate(x, path, strlen(path) + 1)
	    && EVP_DigestUpdate(x, body, len)
	    && EVP_DigestFinal_ex(x, md, NULL);
	EVP_MD_CTX_free(x);
	for (int i = 0; ok && i < SHA256_DIGEST_LENGTH; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	return ok ? 0 : HSI_ENOMEM;
}

static int
in_flight(hsi_call *c)
{
	static const char *const h[] = { "Retry-After", "1", NULL };
	hsi_problem              p   = { .status = MHD_HTTP_CONFLICT,
		               .slug             = "idempotency-in-flight",
		               .title            = "Request in flight",
		               .detail = "a request with this Idempotency-Key is "
		                                        "still being processed; retry with the same "
		                                        "key in a second",
		               .parameter = "Idempotency-Key" };
	int                      rv  = hsi_reply_problem_ex(c, &p, h);
	return rv ? rv : HSI_EINVAL;
}

/* Sends the kept answer of row 0 of r (idem_earlier's columns). */
static int
idem_replay(hsi_call *c, const PGresult *r)
{
	const char *h[12], *name;
	int         n  = 0;
	json_t     *hj = json_loads(PQgetvalue(r, 0, 4), 0, NULL), *v;
	json_object_foreach(hj, name, v)
	{
		if (n < 8 && json_is_string(v)) {
			h[n++] = name;
			h[n++] = json_string_value(v);
		}
	}
	h[n++] = "Idempotent-Replayed";
	h[n++] = "true";
	h[n]   = NULL;
	int rv = send_bytes(c, (unsigned) atoi(PQgetvalue(r, 0, 1)),
	    PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
	    (size_t) PQgetlength(r, 0, 3), h);
	json_decref(hj);
	return rv;
}

/* Takes over a claim whose request died (IDEM_STALE): 1 if this request
 * now holds it, 0 if another one was quicker, HSI_EDB (answered). */
static int
idem_take_over(hsi_call *c, const char *const *p)
{
	PGresult *r = hsi_call_sql(c, "idempotency take over",
	    "UPDATE api_idempotency SET created_at = now() "
	    "WHERE token_id = $1::bigint AND key = $2 AND status IS NULL"
	    " AND created_at < now() - interval '" IDEM_STALE "' RETURNING id",
	    2, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n = PQntuples(r);
	PQclear(r);
	return n;
}

/* The key is taken already: by this same request (its answer again), by
 * another one (422), or by one still running (409). */
static int
idem_earlier(hsi_call *c, idem *k, const char *const *p)
{
	char      d[400], shown[80];
	PGresult *r  = hsi_call_sql(c, "idempotency lookup",
	     "SELECT method = $3 AND path = $4 AND request_hash = $5, status,"
	      " response_type, response_body, response_headers::text,"
	      " created_at < now() - interval '" IDEM_STALE "' "
	      "FROM api_idempotency WHERE token_id = $1::bigint AND key = $2",
	     5, p);
	int       rv = 0;
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] != 't') {
		hsi_text_shown(shown, sizeof(shown), k->key, strlen(k->key));
		snprintf(d, sizeof(d),
		    "Idempotency-Key '%s' was used in the last 24 hours for "
		    "another request (another path or body); use a new key "
		    "for a new request",
		    shown);
		rv = problem(c, MHD_HTTP_UNPROCESSABLE_CONTENT,
		    "idempotency-key-reused", "Idempotency key reused",
		    "Idempotency-Key", NULL, d);
	} else if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1)) {
		rv = idem_replay(c, r);
		rv = rv ? rv : HSI_EINVAL; /* answered: the write is not run */
	} else if (PQntuples(r) == 1 && PQgetvalue(r, 0, 5)[0] == 't'
	    && (rv = idem_take_over(c, p)) == 1) {
		k->held = 1;
		rv      = 0;
	} else if (rv == 0) {
		rv = in_flight(c);
	}
	PQclear(r);
	return rv;
}

/*
 * Before a write: with an Idempotency-Key header, claims the key for this
 * token, or answers from what an earlier request with it left. Returns 0
 * to go on (k->held: keep the answer with idem_keep, or idem_drop it), or
 * non-zero once answered.
 */
static int
idem_begin(hsi_call *c, idem *k)
{
	const char *key = hsi_call_header(c, "Idempotency-Key");
	char        hash[2 * SHA256_DIGEST_LENGTH + 1];
	size_t      len = key ? strlen(key) : 0;
	idem_none(k);
	if (key == NULL) {
		return 0;
	}
	for (size_t i = 0; i < len && len <= IDEM_KEY_MAX; i++) {
		len = key[i] < '!' || key[i] > '~' ? 0 : len;
	}
	if (len == 0 || len > IDEM_KEY_MAX) {
		return problem(c, MHD_HTTP_BAD_REQUEST, "invalid-parameter",
		    "Invalid parameter", "Idempotency-Key", NULL,
		    "header Idempotency-Key: give 1 to 255 printable ASCII "
		    "characters without spaces, e.g. a UUID");
	}
	if (request_hash(c, hash) != 0) {
		return internal(c, "out of memory");
	}
	snprintf(k->token, sizeof(k->token), "%lld",
	    hsi_call_principal(c)->token_id);
	memcpy(k->key, key, len + 1);
	const char *p[5]
	    = { k->token, k->key, hsi_call_method(c), hsi_call_path(c), hash };
	PGresult *r = hsi_call_sql(c, "idempotency expiry",
	    "DELETE FROM api_idempotency "
	    "WHERE created_at < now() - interval '24 hours'",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	PQclear(r);
	r = hsi_call_sql(c, "idempotency claim",
	    "INSERT INTO api_idempotency (token_id, key, method, path,"
	    " request_hash) VALUES ($1::bigint, $2, $3, $4, $5) "
	    "ON CONFLICT (token_id, key) DO NOTHING RETURNING id",
	    5, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	k->held = PQntuples(r) == 1;
	PQclear(r);
	return k->held ? 0 : idem_earlier(c, k, p);
}

/* After a write that succeeded: keeps its answer for retries. Failing to
 * is logged (the write is done and answered; a retry then waits for the
 * claim to go stale, and runs again). */
static void
idem_keep(hsi_call *c, const idem *k, unsigned status, const char *type,
    const char *body, const char *location)
{
	PGconn *db;
	char    st[8], *hs;
	if (!k->held) {
		return;
	}
	snprintf(st, sizeof(st), "%u", status);
	hs = dump(location ? json_pack("{s:s}", "Location", location)
	                   : json_object());
	const char *p[6] = { k->token, k->key, st, type, body, hs };
	if (hs == NULL || hsi_call_db(c, &db) != 0
	    || hsi_db_exec(db, "idempotency keep",
	           "UPDATE api_idempotency SET status = $3::int,"
	           " response_type = $4, response_body = $5,"
	           " response_headers = $6::jsonb, completed_at = now() "
	           "WHERE token_id = $1::bigint AND key = $2",
	           6, p)
	        != 0) {
		hsi_log_error(
		    "idempotent answer not kept", "{s:s}", "token", k->token);
	}
	free(hs);
}

/* After a write that was refused: frees the key (nothing changed). */
static void
idem_drop(hsi_call *c, const idem *k)
{
	PGconn     *db;
	const char *p[2] = { k->token, k->key };
	if (k->held && hsi_call_db(c, &db) == 0) {
		hsi_db_exec(db, "idempotency drop",
		    "DELETE FROM api_idempotency WHERE token_id = $1::bigint"
		    " AND key = $2 AND status IS NULL",
		    2, p);
	}
}

/* ---- alertops, through the request's connection ------------------------ */

typedef enum {
	OP_LIST,
	OP_SHOW,
	OP_ACK,
	OP_UNACK,
	OP_SILENCES,
	OP_SILENCE_ADD,
	OP_SILENCE_EXPIRE,
} op_kind;

/* One call of alertops: its inputs, and what it gave or why not. */
typedef struct {
	op_kind                 op;
	const char             *fp, *by, *comment, *expires;
	const hsi_alert_filter *filter;
	const hsi_silence_spec *spec;
	int64_t                 id;
	int                     all;
	json_t                 *out;
	char                    err[ERR_MAX];
} ops_call;

/* For hsi_call_run: safe to repeat after a reconnect (each alertops
 * write is one statement or one transaction). */
static int
run_ops(PGconn *db, void *arg)
{
	ops_call *o = arg;
	size_t    n = sizeof(o->err);
	json_decref(o->out);
	o->out = NULL;
	switch (o->op) {
	case OP_LIST:
		return hsi_alert_list(db, o->filter, &o->out, o->err, n);
	case OP_SHOW:
		return hsi_alert_show(db, o->fp, &o->out, o->err, n);
	case OP_ACK:
		return hsi_alert_ack(db, o->fp, o->by, o->comment, o->expires,
		    &o->out, o->err, n);
	case OP_UNACK:
		return hsi_alert_unack(db, o->fp, o->by, &o->out, o->err, n);
	case OP_SILENCES:
		return hsi_silence_list(db, o->all, &o->out, o->err, n);
	case OP_SILENCE_ADD:
		return hsi_silence_add(db, o->spec, &o->id, o->err, n);
	case OP_SILENCE_EXPIRE:
		return hsi_silence_expire(db, o->id, o->by, o->err, n);
	}
	return HSI_EINVAL;
}

/* Where an alertops message's subject ("comment: ...") is in the
 * request: a path parameter or a body field. */
typedef struct {
	const char *subject, *parameter, *field;
} place;

static const place ack_places[] = {
	{ "fingerprint", "fingerprint", NULL },
	{ "comment", NULL, "/comment" },
	{ "expires", NULL, "/expires" },
	{ NULL, NULL, NULL },
};

static const place silence_places[] = {
	{ "matchers", NULL, "/matchers" },
	{ "comment", NULL, "/comment" },
	{ "starts", NULL, "/starts_at" },
	{ "ends", NULL, "/ends_at" },
	{ "duration", NULL, "/duration" },
	{ NULL, NULL, NULL },
};

/*
 * The JSON pointer of "matcher N: part: ..." (hsi_matchers_from_json's
 * messages) into field: /matchers/N/name, /op or /value.
 */
static void
matcher_field(const char *err, char *field, size_t size)
{
	char         *end;
	const char   *part;
	unsigned long i = strtoul(err + 8, &end, 10);
	part            = *end == ':' ? end + 2 : "";
	snprintf(field, size, "/matchers/%lu%s", i,
	    strncmp(part, "name", 4) == 0               ? "/name"
	        : strncmp(part, "key 'op'", 8) == 0     ? "/op"
	        : strncmp(part, "value", 5) == 0        ? "/value"
	        : strncmp(part, "regex", 5) == 0        ? "/value"
	        : strncmp(part, "key 'name'", 10) == 0  ? "/name"
	        : strncmp(part, "key 'value'", 11) == 0 ? "/value"
	                                                : "");
}

/*
 * Answers what alertops refused (o->err says what and why): 404 with
 * not_found for HSI_ENOENT, 409 for HSI_ESTATE, 400 naming the parameter
 * or field for a bad input (places), 500 otherwise. HSI_EDB has been
 * answered (503) by hsi_call_run already.
 */
static int
refusal(hsi_call *c, int rv, const ops_call *o, const place *places,
    const char *not_found)
{
	char        field[64] = "";
	const char *param     = NULL;
	if (rv == HSI_EDB) {
		return rv;
	}
	if (rv == HSI_ENOENT) {
		return problem(c, MHD_HTTP_NOT_FOUND, "not-found", "Not found",
		    NULL, NULL, not_found);
	}
	if (rv == HSI_ESTATE) {
		return problem(c, MHD_HTTP_CONFLICT, "conflict", "Conflict",
		    NULL, NULL, o->err);
	}
	if (rv != HSI_EINVAL && rv != HSI_ERANGE && rv != HSI_ETOOBIG
	    && rv != HSI_EENCODING) {
		hsi_log_error("alert operation failed", "{s:s, s:s}", "error",
		    hsi_strerror(rv), "detail", o->err);
		return internal(c, "the operation failed (logged); try again");
	}
	size_t len = strcspn(o->err, ": ");
	for (const place *p = places; p && p->subject; p++) {
		if (strlen(p->subject) == len
		    && strncmp(o->err, p->subject, len) == 0) {
			param = p->parameter;
			snprintf(field, sizeof(field), "%s",
			    p->field ? p->field : "");
		}
	}
	if (strncmp(o->err, "matcher ", 8) == 0) {
		matcher_field(o->err, field, sizeof(field));
	}
	/* An end made from a duration is refused as "ends". */
	if (o->spec && o->spec->duration && strcmp(field, "/ends_at") == 0) {
		snprintf(field, sizeof(field), "/duration");
	}
	return problem(c, MHD_HTTP_BAD_REQUEST,
	    rv == HSI_ETOOBIG && field[0] ? "too-long" : "invalid-parameter",
	    field[0] ? "Invalid request body" : "Invalid parameter", param,
	    field, o->err);
}

/* ---- who acts, and the audit log --------------------------------------- */

/* The calling token's label: the person named in alert events, silences
 * and audit_log (the contract's "by" and "created_by"). */
static int
actor(hsi_call *c, char out[LABEL_MAX])
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", hsi_call_principal(c)->token_id);
	const char *p[1] = { id };
	PGresult   *r    = hsi_call_sql(c, "token label",
	         "SELECT label FROM api_token WHERE id = $1::bigint", 1, p);
	if (r == NULL) {
		return HSI_EDB; /* answered */
	}
	int found = PQntuples(r) == 1;
	if (found) {
		snprintf(out, LABEL_MAX, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return found ? 0 : internal(c, "the token vanished while in use");
}

/*
 * Records a write in audit_log: actor (the token's label), action,
 * target, detail (stolen) with the token's id added. The write itself is
 * done and answered whatever happens here (alertops commits on its own),
 * so a failure is logged, not answered.
 */
static void
audit(hsi_call *c, const char *who, const char *action, const char *target,
    json_t *detail)
{
	PGconn *db;
	json_object_set_new(
	    detail, "token_id", json_integer(hsi_call_principal(c)->token_id));
	char       *d    = dump(detail);
	const char *p[4] = { who, action, target, d };
	if (d == NULL || hsi_call_db(c, &db) != 0
	    || hsi_db_exec(db, "audit",
	           "INSERT INTO audit_log (actor, action, target, detail) "
	           "VALUES ($1, $2, $3, $4::jsonb)",
	           4, p)
	        != 0) {
		hsi_log_error("audit_log row not written", "{s:s, s:s}",
		    "action", action, "target", target);
	}
	free(d);
}

/*
 * Sends the answer of a write that succeeded (j stolen) and keeps it for
 * retries under the request's Idempotency-Key, if any.
 */
static int
write_done(
    hsi_call *c, idem *k, unsigned status, json_t *j, const char *location)
{
	char *body = dump(j);
	if (body == NULL) {
		return internal(c, "out of memory; the change was made");
	}
	const char *h[3] = { location ? "Location" : NULL, location, NULL };
	idem_keep(c, k, status, JSON_TYPE, body, location);
	int rv = send_bytes(c, status, JSON_TYPE, body, strlen(body), h);
	free(body);
	return rv;
}

/* ---- alerts ------------------------------------------------------------ */

static const hsi_qparam fp_path[] = {
	{ .name      = "fingerprint",
	    .type    = HSI_QT_STRING,
	    .max_len = 64,
	    .charset = "0123456789abcdef",
	    .example = "d5770828" },
	{ .name = NULL },
};

/* The fingerprint of the path: 8 to 64 hex digits (the route's charset
 * and max_len did the rest). */
static int
path_fp(hsi_call *c, const char **fp)
{
	char        d[256];
	const char *s = hsi_call_text(c, "fingerprint");
	if (strlen(s) < 8) {
		snprintf(d, sizeof(d),
		    "fingerprint '%s' has %zu hex digits; give the alert's "
		    "64, or a unique prefix of at least 8 (GET /v1/alerts "
		    "lists them)",
		    s, strlen(s));
		return problem(c, MHD_HTTP_BAD_REQUEST, "invalid-parameter",
		    "Invalid parameter", "fingerprint", NULL, d);
	}
	*fp = s;
	return 0;
}

static void
fp_not_found(const char *fp, char *d, size_t size)
{
	snprintf(d, size,
	    "no alert has a fingerprint starting with %s; GET "
	    "/v1/alerts?state=all lists them",
	    fp);
}

static int
get_alert(hsi_call *c)
{
	ops_call o = { .op = OP_SHOW };
	char     nf[160];
	int      rv = path_fp(c, &o.fp);
	if (rv != 0) {
		return rv;
	}
	fp_not_found(o.fp, nf, sizeof(nf));
	if ((rv = hsi_call_run(c, run_ops, &o)) != 0) {
		return refusal(c, rv, &o, ack_places, nf);
	}
	return send_json(c, o.out);
}

static const hsi_jfield ack_fields[] = {
	{ .name    = "comment",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = TEXT_FIELD_BYTES },
	{ .name = "expires", .type = HSI_JT_STRING, .max = TIME_FIELD_BYTES },
	{ .name = NULL },
};

/* POST (ack) and DELETE (unack) of /v1/alerts/{fingerprint}/ack. */
static int
ack_or_unack(hsi_call *c, int ack)
{
	ops_call o    = { .op = ack ? OP_ACK : OP_UNACK };
	json_t  *body = NULL;
	idem     k;
	char     who[LABEL_MAX], nf[160];
	int      rv = path_fp(c, &o.fp);
	if (rv != 0 || (ack && (rv = hsi_call_body_json(c, ack_fields, &body)))
	    || (ack && (rv = idem_begin(c, &k)))) {
		json_decref(body);
		return rv;
	}
	if (!ack) {
		idem_none(&k);
	}
	o.comment = json_string_value(json_object_get(body, "comment"));
	o.expires = json_string_value(json_object_get(body, "expires"));
	fp_not_found(o.fp, nf, sizeof(nf));
	if ((rv = actor(c, who)) == 0) {
		o.by = who;
		if ((rv = hsi_call_run(c, run_ops, &o)) != 0) {
			rv = refusal(c, rv, &o, ack_places, nf);
		}
	}
	if (rv == 0) {
		const char *fp
		    = json_string_value(json_object_get(o.out, "fingerprint"));
		json_t *acked = json_object_get(o.out, "acked");
		audit(c, who, ack ? "alert.ack" : "alert.unack", fp,
		    ack ? json_pack("{s:O?, s:O?}", "comment",
		        json_object_get(acked, "comment"), "expires",
		        json_object_get(acked, "expires"))
		        : json_object());
		rv    = write_done(c, &k, MHD_HTTP_OK, o.out, NULL);
		o.out = NULL;
	} else {
		idem_drop(c, &k);
	}
	json_decref(o.out);
	json_decref(body);
	return rv;
}

static int
post_ack(hsi_call *c)
{
	return ack_or_unack(c, 1);
}

static int
delete_ack(hsi_call *c)
{
	return ack_or_unack(c, 0);
}

/* ---- the alert listing ------------------------------------------------- */

/*
 * GET /v1/alerts takes match once per matcher (the contract's form
 * explode), which the pipeline's strict query refuses as a duplicate; so
 * the route reads its query itself (HSI_ROUTE_ANY_QUERY): match here,
 * everything else through the same hsi_query parser, with the same
 * refusals. The cursor is bound to state, rule and the matchers.
 */
static const char *const alert_states[]
    = { "active", "firing", "pending", "resolved", "all", NULL };
static const hsi_qparam list_query[] = {
	{ .name = "state", .type = HSI_QT_ENUM, .choices = alert_states },
	{ .name      = "rule",
	    .type    = HSI_QT_STRING,
	    .max_len = 63,
	    .charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	               "0123456789_.-",
	    .example = "composite_low" },
	{ .name      = "limit",
	    .type    = HSI_QT_INT,
	    .flags   = HSI_QP_PAGING,
	    .min     = 1,
	    .max     = HSI_ALERT_LIST_MAX,
	    .example = "100" },
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

typedef struct {
	hsi_query     q;
	hsi_query_err err;
	int           rv;
	hsi_matchers *m;
	size_t        match_bytes;
	char          match_qs[QS_MAX]; /* match=..&match=.., encoded */
	char          scope[2 * QS_MAX + 64];
	hsi_cursor    after;
} list_args;

/* Fills a->err for a refused match (detail: what, then why). */
static int
refuse_match(list_args *a, const char *slug, unsigned status, const char *what,
    const char *why)
{
	a->err.slug   = slug;
	a->err.status = status;
	snprintf(a->err.param, sizeof(a->err.param), "match");
	/* what then why, cut to fit (hsi_text_trim mends a cut character) */
	size_t cap = sizeof(a->err.detail), n = strlen(what), m = strlen(why);
	n = n < cap - 1 ? n : cap - 1;
	m = m < cap - 1 - n ? m : cap - 1 - n;
	memcpy(a->err.detail, what, n);
	memcpy(a->err.detail + n, why, m);
	a->err.detail[n + m] = '\0';
	hsi_text_trim(a->err.detail);
	return HSI_EINVAL;
}

/* One match=MATCHER of the query. */
static int
add_match(list_args *a, const char *value, size_t len)
{
	char text[MATCH_TEXT_MAX + 1], why[ERR_MAX];
	a->match_bytes += len + 7;
	if (a->q.bytes + a->match_bytes > HSI_QUERY_MAX_BYTES) {
		return refuse_match(a, "query-too-large",
		    MHD_HTTP_URI_TOO_LONG, "the query is over 4096 bytes; ",
		    "send fewer or shorter matchers");
	}
	if (value == NULL || len == 0 || len > MATCH_TEXT_MAX
	    || memchr(value, '\0', len) != NULL) {
		return refuse_match(a, "invalid-parameter",
		    MHD_HTTP_BAD_REQUEST,
		    len == 0 ? "query parameter 'match' is empty; "
		             : "query parameter 'match' is over 330 bytes or "
		               "holds a NUL byte; ",
		    "give a label matcher such as area=55, rule=~composite_.* "
		    "or agency!=CDD");
	}
	memcpy(text, value, len);
	text[len] = '\0';
	int rv    = hsi_matchers_add_text(a->m, text, why, sizeof(why));
	if (rv != 0) {
		int full = hsi_matchers_count(a->m) == HSI_MATCHERS_MAX;
		return refuse_match(a,
		    full ? "query-too-large" : "invalid-parameter",
		    MHD_HTTP_BAD_REQUEST,
		    "query parameter 'match' is not valid: ", why);
	}
	size_t n = strlen(a->match_qs);
	snprintf(a->match_qs + n, sizeof(a->match_qs) - n,
	    "%smatch=", n ? "&" : "");
	return hsi_text_urlencode(a->match_qs, sizeof(a->match_qs), text, 0)
	    ? refuse_match(a, "query-too-large", MHD_HTTP_URI_TOO_LONG,
	        "the query is too long; ", "send fewer matchers")
	    : 0;
}

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	list_args *a = cls;
	(void) kind;
	a->rv = key_size == 5 && memcmp(key, "match", 5) == 0
	    ? add_match(a, value, value_size)
	    : hsi_query_add(&a->q, key, key_size, value, value_size, &a->err);
	return a->rv == 0 ? MHD_YES : MHD_NO;
}

/* "a&b" of the non-empty ones into out: 0, or HSI_ETOOBIG (never cut:
 * a cut scope could let a cursor pass for another listing). */
static int
join_qs(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s%s%s", a, a[0] && b[0] ? "&" : "", b);
	return n < 0 || (size_t) n >= size ? HSI_ETOOBIG : 0;
}

/* The query, the listing's scope and the cursor. */
static int
list_parse(hsi_call *c, list_args *a)
{
	char canon[QS_MAX], detail[400] = "empty cursor";
	hsi_query_init(&a->q, list_query);
	hsi_cursor_init(&a->after);
	if (hsi_matchers_alloc(&a->m) != 0) {
		return internal(c, "out of memory");
	}
	MHD_get_connection_values_n(
	    hsi_call_connection(c), MHD_GET_ARGUMENT_KIND, collect_arg, a);
	if (a->rv == 0 && hsi_query_finish(&a->q, &a->err) != 0) {
		a->rv = HSI_EINVAL;
	}
	if (a->rv != 0) {
		return problem(c, a->err.status, a->err.slug,
		    "Invalid query parameter",
		    a->err.param[0] ? a->err.param : NULL, NULL,
		    a->err.detail);
	}
	if (hsi_query_canon(&a->q, 1, canon, sizeof(canon)) != 0) {
		return problem(c, MHD_HTTP_URI_TOO_LONG, "query-too-large",
		    "Query too large", NULL, NULL,
		    "the query is too long; send fewer values");
	}
	snprintf(a->scope, sizeof(a->scope), "GET /v1/alerts?");
	if (join_qs(a->scope + 15, sizeof(a->scope) - 15, canon, a->match_qs)
	    != 0) {
		return problem(c, MHD_HTTP_URI_TOO_LONG, "query-too-large",
		    "Query too large", NULL, NULL,
		    "the query is too long; send fewer values");
	}
	const char *cur = hsi_query_text(&a->q, "cursor");
	if (cur != NULL
	    && (hsi_cursor_decode(&hsi_call_server(c)->cursor_key, a->scope,
	            cur, &a->after, detail, sizeof(detail))
	            != 0
	        || a->after.n != 2 || !a->after.part[0].is_str
	        || !a->after.part[1].is_str)) {
		if (a->after.n != 0) {
			snprintf(detail, sizeof(detail),
			    "this cursor is not one of this listing; pass "
			    "next_cursor exactly as given");
		}
		return problem(c, MHD_HTTP_BAD_REQUEST, "invalid-cursor",
		    "Invalid cursor", "cursor", NULL, detail);
	}
	return 0;
}

static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Most recently updated first, then by fingerprint: the order of pages,
 * on the times as shown (whole seconds), so a cursor holding one shown
 * time and a fingerprint says exactly where the next page starts. */
static int
alert_order(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *) x, *b = *(json_t *const *) y;
	int d = strcmp(str_of(b, "updated_at"), str_of(a, "updated_at"));
	return d ? d
	         : strcmp(str_of(a, "fingerprint"), str_of(b, "fingerprint"));
}

/* The listing's flat row for CSV (x-hsi-csv-columns). */
static json_t *
alert_csv_row(const json_t *a)
{
	static const char *const same[]
	    = { "fingerprint", "state", "rule", "kind", "value", "threshold",
		      "starts_at", "ends_at", "updated_at", NULL };
	const json_t *lb = json_object_get(a, "labels");
	const json_t *an = json_object_get(a, "annotations");
	const json_t *en = json_object_get(an, "summary_en");
	json_t       *r  = json_object();
	for (int i = 0; r && same[i]; i++) {
		json_object_set(r, same[i], json_object_get(a, same[i]));
	}
	/* jansson's getters take const objects but give mutable members. */
	json_object_set(r, "area", json_object_get(lb, "area"));
	json_object_set(r, "period", json_object_get(lb, "period"));
	json_object_set(
	    r, "acked_by", json_object_get(json_object_get(a, "acked"), "by"));
	json_object_set(r, "summary_th", json_object_get(an, "summary_th"));
	json_object_set(r, "summary_en",
	    en ? json_object_get(an, "summary_en")
	       : json_object_get(an, "summary"));
	return r;
}

static const char *const alert_csv_columns[]
    = { "fingerprint", "state", "rule", "kind", "area", "period", "value",
	      "threshold", "starts_at", "ends_at", "updated_at", "acked_by",
	      "summary_th", "summary_en", NULL };

/* Link: <path?query&cursor=...>; rel="next" for cursor. */
static int
next_link(const list_args *a, const char *cursor, char *out, size_t size)
{
	char canon[QS_MAX], qs[2 * QS_MAX];
	if (hsi_query_canon(&a->q, 0, canon, sizeof(canon)) != 0) {
		return HSI_ETOOBIG;
	}
	if (join_qs(qs, sizeof(qs), canon, a->match_qs) != 0) {
		return HSI_ETOOBIG;
	}
	int n = snprintf(out, size, "</v1/alerts?%s%scursor=%s>; rel=\"next\"",
	    qs, qs[0] ? "&" : "", cursor);
	return n < 0 || (size_t) n >= size ? HSI_ETOOBIG : 0;
}

/* One page of all (every alert that passed the filters, as alertops
 * listed them) after the cursor. */
static int
send_alert_page(hsi_call *c, const list_args *a, const json_t *all)
{
	size_t   n = json_array_size(all), start = 0, i;
	size_t   limit = (size_t) hsi_query_int(&a->q, "limit", 100);
	json_t **v     = calloc(n + 1, sizeof(*v));
	json_t  *items = json_array();
	char     cursor[HSI_CURSOR_TEXT_MAX], *link = NULL, *body = NULL;
	size_t   len = 0;
	int      csv = hsi_call_format(c) == HSI_FMT_CSV, rv = HSI_ENOMEM;
	if (v == NULL || items == NULL) {
		goto out;
	}
	for (i = 0; i < n; i++) {
		v[i] = json_array_get(all, i);
	}
	qsort(v, n, sizeof(*v), alert_order);
	while (a->after.n == 2 && start < n) {
		int d = strcmp(
		    str_of(v[start], "updated_at"), a->after.part[0].s);
		if (d < 0
		    || (d == 0
		        && strcmp(str_of(v[start], "fingerprint"),
		               a->after.part[1].s)
		            > 0)) {
			break;
		}
		start++;
	}
	for (i = start; i < n && i < start + limit; i++) {
		json_array_append_new(
		    items, csv ? alert_csv_row(v[i]) : json_incref(v[i]));
	}
	if (i < n) {
		hsi_cursor next;
		hsi_cursor_init(&next);
		hsi_cursor_push_str(&next, str_of(v[i - 1], "updated_at"));
		hsi_cursor_push_str(&next, str_of(v[i - 1], "fingerprint"));
		link = malloc(3 * QS_MAX);
		if (link == NULL
		    || hsi_cursor_encode(&hsi_call_server(c)->cursor_key,
		        a->scope, &next, cursor, sizeof(cursor))
		    || next_link(a, cursor, link, 3 * QS_MAX)) {
			goto out;
		}
	}
	if (csv) {
		rv = hsi_csvout_items(items, alert_csv_columns, &body, &len);
	} else {
		body = dump(json_pack("{s:O, s:s?}", "items", items,
		    "next_cursor", link ? cursor : NULL));
		len  = body ? strlen(body) : 0;
		rv   = body ? 0 : HSI_ENOMEM;
	}
	if (rv == 0) {
		const char *h[]
		    = { "Vary", "Accept", link ? "Link" : NULL, link, NULL };
		rv = send_bytes(
		    c, MHD_HTTP_OK, csv ? CSV_TYPE : JSON_TYPE, body, len, h);
		goto sent;
	}
out:
	rv = internal(c,
	    rv == HSI_ETOOBIG ? "the page is too large to send: ask for "
	                        "fewer alerts with limit"
	                      : "out of memory; try again");
sent:
	json_decref(items);
	free(v);
	free(link);
	free(body);
	return rv;
}

static int
get_alerts(hsi_call *c)
{
	list_args *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return internal(c, "out of memory");
	}
	int rv = list_parse(c, a);
	if (rv == 0) {
		/* Every alert that passes (alertops caps it), then the page:
		 * the matchers are regexes run here, not in SQL. */
		hsi_alert_filter f = { .state = hsi_query_text(&a->q, "state"),
			.rule                 = hsi_query_text(&a->q, "rule"),
			.matchers             = a->m,
			.limit                = HSI_ALERT_LIST_MAX };
		ops_call         o = { .op = OP_LIST, .filter = &f };
		if ((rv = hsi_call_run(c, run_ops, &o)) != 0) {
			rv = refusal(c, rv, &o, NULL, "");
		} else {
			rv = send_alert_page(c, a, o.out);
		}
		json_decref(o.out);
	}
	hsi_matchers_free(a->m);
	free(a);
	return rv;
}

/* ---- silences ---------------------------------------------------------- */

static const hsi_qparam silence_path[] = {
	{ .name      = "id",
	    .type    = HSI_QT_INT,
	    .min     = 1,
	    .max     = INT64_MAX,
	    .example = "1" },
	{ .name = NULL },
};

static const hsi_qparam silences_query[] = {
	{ .name = "all", .type = HSI_QT_BOOL },
	{ .name = NULL },
};

/* Silence id as alertops lists it (expired ones too) into *out, a new
 * reference; answers 404 when there is none. */
static int
find_silence(hsi_call *c, int64_t id, json_t **out)
{
	ops_call o = { .op = OP_SILENCES, .all = 1 };
	char     nf[160];
	size_t   i;
	json_t  *s;
	snprintf(nf, sizeof(nf),
	    "no silence has id %lld; GET /v1/silences?all=true lists them",
	    (long long) id);
	int rv = hsi_call_run(c, run_ops, &o);
	if (rv != 0) {
		return refusal(c, rv, &o, NULL, nf);
	}
	json_array_foreach(o.out, i, s)
	{
		if (json_integer_value(json_object_get(s, "id")) == id) {
			*out = json_incref(s);
			json_decref(o.out);
			return 0;
		}
	}
	json_decref(o.out);
	return problem(
	    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", NULL, NULL, nf);
}

static int
get_silences(hsi_call *c)
{
	ops_call o
	    = { .op = OP_SILENCES, .all = (int) hsi_call_int(c, "all", 0) };
	int rv = hsi_call_run(c, run_ops, &o);
	if (rv != 0) {
		return refusal(c, rv, &o, NULL, "");
	}
	return send_json(
	    c, json_pack("{s:o, s:n}", "items", o.out, "next_cursor"));
}

static int
get_silence(hsi_call *c)
{
	json_t *s;
	int     rv = find_silence(c, hsi_call_int(c, "id", 0), &s);
	if (rv != 0) {
		return rv;
	}
	return send_json(c, s);
}

static const hsi_jfield matcher_fields[] = {
	{ .name    = "name",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = HSI_MATCHER_NAME_MAX },
	{ .name    = "op",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = 2 },
	{ .name    = "value",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = HSI_MATCHER_VALUE_MAX },
	{ .name = NULL },
};

static const hsi_jfield silence_fields[] = {
	{ .name     = "matchers",
	    .type   = HSI_JT_ARRAY,
	    .flags  = HSI_JF_REQUIRED,
	    .max    = HSI_MATCHERS_MAX,
	    .item   = HSI_JT_OBJECT,
	    .fields = matcher_fields },
	{ .name    = "comment",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = TEXT_FIELD_BYTES },
	{ .name   = "starts_at",
	    .type = HSI_JT_STRING,
	    .max  = TIME_FIELD_BYTES },
	{ .name = "ends_at", .type = HSI_JT_STRING, .max = TIME_FIELD_BYTES },
	{ .name = "duration", .type = HSI_JT_STRING, .max = DURATION_BYTES },
	{ .name = NULL },
};

/* The silence body into spec (pointing into body); answers 400 for what
 * the field check cannot see: the matchers themselves, and exactly one
 * of ends_at and duration. */
static int
silence_spec(
    hsi_call *c, const json_t *body, hsi_silence_spec *spec, hsi_matchers **m)
{
	ops_call o = { .op = OP_SILENCE_ADD, .spec = spec };
	int      rv;
	spec->comment  = json_string_value(json_object_get(body, "comment"));
	spec->starts   = json_string_value(json_object_get(body, "starts_at"));
	spec->ends     = json_string_value(json_object_get(body, "ends_at"));
	spec->duration = json_string_value(json_object_get(body, "duration"));
	if (spec->ends == NULL && spec->duration == NULL) {
		return problem(c, MHD_HTTP_BAD_REQUEST, "missing-field",
		    "Missing field", NULL, "/duration",
		    "give how long the silence lasts: duration (90m, 2h, "
		    "1d12h; at most 365 days) or ends_at (an RFC 3339 time)");
	}
	if (spec->ends != NULL && spec->duration != NULL) {
		return problem(c, MHD_HTTP_BAD_REQUEST, "invalid-parameter",
		    "Invalid request body", NULL, "/duration",
		    "give either ends_at or duration, not both");
	}
	rv = hsi_matchers_from_json(
	    json_object_get(body, "matchers"), m, o.err, sizeof(o.err));
	if (rv != 0) {
		*m = NULL;
		return refusal(c, rv, &o, silence_places, "");
	}
	spec->matchers = *m;
	return 0;
}

static int
post_silence(hsi_call *c)
{
	hsi_silence_spec spec = { 0 };
	hsi_matchers    *m    = NULL;
	ops_call         o    = { .op = OP_SILENCE_ADD, .spec = &spec };
	json_t          *body = NULL, *s = NULL;
	idem             k;
	char             who[LABEL_MAX], loc[48], id[24];
	int              rv = hsi_call_body_json(c, silence_fields, &body);
	if (rv != 0 || (rv = silence_spec(c, body, &spec, &m)) != 0
	    || (rv = idem_begin(c, &k)) != 0) {
		goto out;
	}
	if ((rv = actor(c, who)) == 0) {
		spec.created_by = who;
		if ((rv = hsi_call_run(c, run_ops, &o)) != 0) {
			rv = refusal(c, rv, &o, silence_places, "");
		}
	}
	if (rv == 0 && (rv = find_silence(c, o.id, &s)) == 0) {
		snprintf(id, sizeof(id), "%lld", (long long) o.id);
		snprintf(loc, sizeof(loc), "/v1/silences/%s", id);
		audit(c, who, "silence.create", id,
		    json_pack("{s:O, s:O, s:O, s:O}", "matchers",
		        json_object_get(s, "matchers"), "comment",
		        json_object_get(s, "comment"), "starts_at",
		        json_object_get(s, "starts_at"), "ends_at",
		        json_object_get(s, "ends_at")));
		rv = write_done(c, &k, MHD_HTTP_CREATED, s, loc);
	} else {
		idem_drop(c, &k);
	}
out:
	hsi_matchers_free(m);
	json_decref(body);
	return rv;
}

static int
delete_silence(hsi_call *c)
{
	ops_call o
	    = { .op = OP_SILENCE_EXPIRE, .id = hsi_call_int(c, "id", 0) };
	json_t *s;
	idem    k;
	char    who[LABEL_MAX], nf[160], id[24];
	snprintf(id, sizeof(id), "%lld", (long long) o.id);
	snprintf(nf, sizeof(nf),
	    "no silence has id %s; GET /v1/silences?all=true lists them", id);
	idem_none(&k);
	int rv = actor(c, who);
	if (rv != 0) {
		return rv;
	}
	o.by = who;
	if ((rv = hsi_call_run(c, run_ops, &o)) != 0) {
		return refusal(c, rv, &o, NULL, nf);
	}
	if ((rv = find_silence(c, o.id, &s)) != 0) {
		return rv;
	}
	audit(c, who, "silence.expire", id,
	    json_pack("{s:O}", "ends_at", json_object_get(s, "ends_at")));
	return write_done(c, &k, MHD_HTTP_OK, s, NULL);
}

/* ---- routes ------------------------------------------------------------ */

#define WRITE_BODY_MAX 65536 /* x-hsi-max-body-bytes */

const hsi_route hsi_routes_alerts[] = {
	{ .method    = "GET",
	    .pattern = "/v1/alerts",
	    .handler = get_alerts,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .flags   = HSI_ROUTE_CSV | HSI_ROUTE_ANY_QUERY },
	{ .method    = "GET",
	    .pattern = "/v1/alerts/{fingerprint}",
	    .handler = get_alert,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = fp_path },
	{ .method           = "POST",
	    .pattern        = "/v1/alerts/{fingerprint}/ack",
	    .handler        = post_ack,
	    .access         = HSI_ACCESS_ADMIN,
	    .path           = fp_path,
	    .body_max_bytes = WRITE_BODY_MAX },
	{ .method    = "DELETE",
	    .pattern = "/v1/alerts/{fingerprint}/ack",
	    .handler = delete_ack,
	    .access  = HSI_ACCESS_ADMIN,
	    .path    = fp_path },
	{ .method    = "GET",
	    .pattern = "/v1/silences",
	    .handler = get_silences,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = silences_query },
	{ .method           = "POST",
	    .pattern        = "/v1/silences",
	    .handler        = post_silence,
	    .access         = HSI_ACCESS_ADMIN,
	    .body_max_bytes = WRITE_BODY_MAX },
	{ .method    = "GET",
	    .pattern = "/v1/silences/{id}",
	    .handler = get_silence,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = silence_path },
	{ .method    = "DELETE",
	    .pattern = "/v1/silences/{id}",
	    .handler = delete_silence,
	    .access  = HSI_ACCESS_ADMIN,
	    .path    = silence_path },
	HSI_ROUTE_END,
};
