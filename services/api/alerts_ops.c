/*
 * alerts_ops.c: what the alert endpoints (alerts.c, silences.c) share:
 * common/alertops.h run on the request's connection, its refusals turned
 * into problems, the person acting, audit_log, and answers.
 *
 * alertops is shared with hsictl alerts and hsi-alerter, so all three
 * accept and refuse the same inputs with the same words. What the
 * endpoints add is HTTP: the person acting is the calling token's label;
 * every write is recorded in audit_log; the POSTs honour Idempotency-Key
 * (idempotency.h); and alertops' error codes become problems: a bad
 * input 400 naming the parameter or body field, HSI_ENOENT 404,
 * HSI_ESTATE 409 conflict, HSI_EDB 503 (hsi_call_run answers it).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "db.h"
#include "error.h"
#include "log.h"
#include "reply.h"

/* ---- answers ----------------------------------------------------------- */

/* Queues body (copied) as type, with Cache-Control: no-store (every
 * answer here changes with the next action) and headers (name/value
 * pairs ending in NULL, or NULL). */
int
hsi_alerts_send_bytes(hsi_call *c, unsigned status, const char *type,
    const char *body, size_t len, const char *const *headers)
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
char *
hsi_alerts_dump(json_t *j)
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
int
hsi_alerts_problem(hsi_call *c, unsigned status, const char *slug,
    const char *title, const char *parameter, const char *field,
    const char *detail)
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

int
hsi_alerts_internal(hsi_call *c, const char *detail)
{
	return hsi_alerts_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
	    "internal", "Internal error", NULL, NULL, detail);
}

/* Queues 200 with j (stolen) as JSON. */
int
hsi_alerts_send_json(hsi_call *c, json_t *j)
{
	char *body = hsi_alerts_dump(j);
	int   rv   = body ? hsi_alerts_send_bytes(
	                 c, MHD_HTTP_OK, HSI_ALERTS_JSON, body, strlen(body), NULL)
	                  : hsi_alerts_internal(c, "out of memory");
	free(body);
	return rv;
}

/* ---- alertops, through the request's connection ------------------------ */

/* For hsi_call_run: safe to repeat after a reconnect (each alertops
 * write is one statement or one transaction). */
int
hsi_alerts_run(PGconn *db, void *arg)
{
	hsi_alerts_op *o = arg;
	size_t         n = sizeof(o->err);
	json_decref(o->out);
	o->out = NULL;
	switch (o->op) {
	case HSI_ALERTS_OP_LIST:
		return hsi_alert_list(db, o->filter, &o->out, o->err, n);
	case HSI_ALERTS_OP_SHOW:
		return hsi_alert_show(db, o->fp, &o->out, o->err, n);
	case HSI_ALERTS_OP_ACK:
		return hsi_alert_ack(db, o->fp, o->by, o->comment, o->expires,
		    &o->out, o->err, n);
	case HSI_ALERTS_OP_UNACK:
		return hsi_alert_unack(db, o->fp, o->by, &o->out, o->err, n);
	case HSI_ALERTS_OP_SILENCES:
		return hsi_silence_list(db, o->all, &o->out, o->err, n);
	case HSI_ALERTS_OP_SILENCE_ADD:
		return hsi_silence_add(db, o->spec, &o->id, o->err, n);
	case HSI_ALERTS_OP_SILENCE_EXPIRE:
		return hsi_silence_expire(db, o->id, o->by, o->err, n);
	}
	return HSI_EINVAL;
}

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
int
hsi_alerts_refusal(hsi_call *c, int rv, const hsi_alerts_op *o,
    const hsi_alerts_place *places, const char *not_found)
{
	char        field[64] = "";
	const char *param     = NULL;
	if (rv == HSI_EDB) {
		return rv;
	}
	if (rv == HSI_ENOENT) {
		return hsi_alerts_problem(c, MHD_HTTP_NOT_FOUND, "not-found",
		    "Not found", NULL, NULL, not_found);
	}
	if (rv == HSI_ESTATE) {
		return hsi_alerts_problem(c, MHD_HTTP_CONFLICT, "conflict",
		    "Conflict", NULL, NULL, o->err);
	}
	if (rv != HSI_EINVAL && rv != HSI_ERANGE && rv != HSI_ETOOBIG
	    && rv != HSI_EENCODING) {
		hsi_log_error("alert operation failed", "{s:s, s:s}", "error",
		    hsi_strerror(rv), "detail", o->err);
		return hsi_alerts_internal(
		    c, "the operation failed (logged); try again");
	}
	size_t len = strcspn(o->err, ": ");
	for (const hsi_alerts_place *p = places; p && p->subject; p++) {
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
	return hsi_alerts_problem(c, MHD_HTTP_BAD_REQUEST,
	    rv == HSI_ETOOBIG && field[0] ? "too-long"
	        : field[0]                ? "invalid-field"
	                                  : "invalid-parameter",
	    field[0] ? "Invalid field" : "Invalid parameter", param, field,
	    o->err);
}

/* ---- who acts, and the audit log --------------------------------------- */

/* The calling token's label: the person named in alert events, silences
 * and audit_log (the contract's "by" and "created_by"). */
int
hsi_alerts_actor(hsi_call *c, char out[HSI_ALERTS_LABEL_MAX])
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
		snprintf(out, HSI_ALERTS_LABEL_MAX, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return found
	    ? 0
	    : hsi_alerts_internal(c, "the token vanished while in use");
}

/*
 * Records a write in audit_log: actor (the token's label), action,
 * target, detail (stolen) with the token's id added. The write itself is
 * done and answered whatever happens here (alertops commits on its own),
 * so a failure is logged, not answered.
 */
void
hsi_alerts_audit(hsi_call *c, const char *who, const char *action,
    const char *target, json_t *detail)
{
	PGconn *db;
	json_object_set_new(
	    detail, "token_id", json_integer(hsi_call_principal(c)->token_id));
	char       *d    = hsi_alerts_dump(detail);
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
int
hsi_alerts_write_done(hsi_call *c, const hsi_idem *k, unsigned status,
    json_t *j, const char *location)
{
	char *body = hsi_alerts_dump(j);
	if (body == NULL) {
		return hsi_alerts_internal(
		    c, "out of memory; the change was made");
	}
	const char *h[3] = { location ? "Location" : NULL, location, NULL };
	hsi_idem_keep(c, k, status, HSI_ALERTS_JSON, body, location);
	int rv = hsi_alerts_send_bytes(
	    c, status, HSI_ALERTS_JSON, body, strlen(body), h);
	free(body);
	return rv;
}
