/*
 * alerts_int.h: what the alert endpoints share, for the `alerts` module
 * of modules.def only: alerts_ops.c (alertops through the request's
 * connection, the problems made of its refusals, who acts, audit_log and
 * answers), alerts.c (the alerts, and the route table of the whole
 * module) and silences.c (the silences, whose handlers alerts.c lists).
 * Nothing else includes it.
 */
#ifndef HSI_API_ALERTS_INT_H
#define HSI_API_ALERTS_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "alertops.h"
#include "call.h"
#include "idempotency.h"
#include "router.h"
#include "token.h"

#define HSI_ALERTS_JSON "application/json; charset=utf-8"
#define HSI_ALERTS_ERR_MAX 512
#define HSI_ALERTS_LABEL_MAX (4 * HSI_TOKEN_LABEL_MAX + 1)
#define HSI_ALERTS_TEXT_BYTES (4 * 1024) /* 1024 characters of UTF-8 */
#define HSI_ALERTS_TIME_BYTES 40         /* Timestamp, maxLength */

typedef enum {
	HSI_ALERTS_OP_LIST,
	HSI_ALERTS_OP_SHOW,
	HSI_ALERTS_OP_ACK,
	HSI_ALERTS_OP_UNACK,
	HSI_ALERTS_OP_SILENCES,
	HSI_ALERTS_OP_SILENCE_ADD,
	HSI_ALERTS_OP_SILENCE_EXPIRE,
} hsi_alerts_op_kind;

/* One call of alertops: its inputs, and what it gave or why not. */
typedef struct {
	hsi_alerts_op_kind      op;
	const char             *fp, *by, *comment, *expires;
	const hsi_alert_filter *filter;
	const hsi_silence_spec *spec;
	int64_t                 id;
	int                     all;
	json_t                 *out; /* the caller's to json_decref */
	char                    err[HSI_ALERTS_ERR_MAX];
} hsi_alerts_op;

/* Where an alertops message's subject ("comment: ...") is in the
 * request: a path parameter or a body field (a JSON pointer). Tables of
 * them end in { NULL, NULL, NULL }. */
typedef struct {
	const char *subject, *parameter, *field;
} hsi_alerts_place;

/* For hsi_call_run(c, hsi_alerts_run, op): runs op (an hsi_alerts_op)
 * and fills its out or err. Safe to repeat after a reconnect (each
 * alertops write is one statement or one transaction). */
int hsi_alerts_run(PGconn *db, void *arg);

/*
 * Answers what alertops refused (o->err says what and why): 404 with
 * not_found for HSI_ENOENT, 409 for HSI_ESTATE, 400 naming the parameter
 * or field (places, or NULL) for a bad input, 500 otherwise. HSI_EDB has
 * been answered (503) by hsi_call_run already. Returns non-zero.
 */
int hsi_alerts_refusal(hsi_call *c, int rv, const hsi_alerts_op *o,
    const hsi_alerts_place *places, const char *not_found);

/*
 * Queues a problem; returns non-zero, so that helpers can say "answered,
 * stop" the way hsi_call_* do. parameter and field may be NULL (or "").
 */
int hsi_alerts_problem(hsi_call *c, unsigned status, const char *slug,
    const char *title, const char *parameter, const char *field,
    const char *detail);

/* 500 internal with detail; returns non-zero. */
int hsi_alerts_internal(hsi_call *c, const char *detail);

/* Queues body (len bytes, copied) as type, with Cache-Control: no-store
 * (every answer here changes with the next action) and headers
 * (name/value pairs ending in NULL, or NULL). */
int hsi_alerts_send_bytes(hsi_call *c, unsigned status, const char *type,
    const char *body, size_t len, const char *const *headers);

/* Queues 200 with j (stolen, may be NULL: 500) as JSON. */
int hsi_alerts_send_json(hsi_call *c, json_t *j);

/* JSON text of j (stolen; NULL gives NULL) as hsi_reply_json writes it,
 * for the caller to free; NULL: no memory. */
char *hsi_alerts_dump(json_t *j);

/* The calling token's label into out: the person named in alert events,
 * silences and audit_log. 0, or non-zero once answered (503, 500). */
int hsi_alerts_actor(hsi_call *c, char out[HSI_ALERTS_LABEL_MAX]);

/*
 * Records a write in audit_log: actor, action, target, detail (stolen)
 * with the token's id added. The write itself is done and answered
 * whatever happens here (alertops commits on its own), so a failure is
 * logged, not answered.
 */
void hsi_alerts_audit(hsi_call *c, const char *who, const char *action,
    const char *target, json_t *detail);

/* Sends the answer of a write that succeeded (j stolen) and keeps it for
 * retries under the request's Idempotency-Key (k), if any. */
int hsi_alerts_write_done(hsi_call *c, const hsi_idem *k, unsigned status,
    json_t *j, const char *location);

/* silences.c: the handlers and declarations hsi_routes_alerts lists. */
extern const hsi_qparam hsi_silences_path[];  /* {id} */
extern const hsi_qparam hsi_silences_query[]; /* all */
int hsi_silences_get_list(hsi_call *c);       /* GET /v1/silences */
int hsi_silences_get_one(hsi_call *c);        /* GET /v1/silences/{id} */
int hsi_silences_post(hsi_call *c);           /* POST /v1/silences */
int hsi_silences_delete(hsi_call *c);         /* DELETE /v1/silences/{id} */

#endif
