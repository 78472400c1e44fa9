/*
 * alerts.c: the alert endpoints of hsi-api (openapi.yaml, tag alerts),
 * and the route table of the `alerts` module (modules.def), which lists
 * the silences of silences.c too:
 *
 *   GET    /v1/alerts                        listAlerts (pages, CSV)
 *   GET    /v1/alerts/{fingerprint}          getAlert, with its events
 *   POST   /v1/alerts/{fingerprint}/ack      ackAlert (admin)
 *   DELETE /v1/alerts/{fingerprint}/ack      unackAlert (admin)
 *
 * A thin layer over common/alertops.h; alerts_ops.c says what the HTTP
 * side adds (the person acting, audit_log, Idempotency-Key, problems).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "csvout.h"
#include "error.h"
#include "reply.h"
#include "routes.h"
#include "text.h"

#define CSV_TYPE "text/csv; charset=utf-8; header=present"
#define MATCH_TEXT_MAX 330 /* MatcherText: name, operator, value */
#define QS_MAX (4 * HSI_QUERY_MAX_BYTES)

static const hsi_alerts_place ack_places[] = {
	{ "fingerprint", "fingerprint", NULL },
	{ "comment", NULL, "/comment" },
	{ "expires", NULL, "/expires" },
	{ NULL, NULL, NULL },
};

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
		return hsi_alerts_problem(c, MHD_HTTP_BAD_REQUEST,
		    "invalid-parameter", "Invalid parameter", "fingerprint",
		    NULL, d);
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
	hsi_alerts_op o = { .op = HSI_ALERTS_OP_SHOW };
	char          nf[160];
	int           rv = path_fp(c, &o.fp);
	if (rv != 0) {
		return rv;
	}
	fp_not_found(o.fp, nf, sizeof(nf));
	if ((rv = hsi_call_run(c, hsi_alerts_run, &o)) != 0) {
		return hsi_alerts_refusal(c, rv, &o, ack_places, nf);
	}
	return hsi_alerts_send_json(c, o.out);
}

static const hsi_jfield ack_fields[] = {
	{ .name    = "comment",
	    .type  = HSI_JT_STRING,
	    .flags = HSI_JF_REQUIRED,
	    .max   = HSI_ALERTS_TEXT_BYTES },
	{ .name   = "expires",
	    .type = HSI_JT_STRING,
	    .max  = HSI_ALERTS_TIME_BYTES },
	{ .name = NULL },
};

/* POST (ack) and DELETE (unack) of /v1/alerts/{fingerprint}/ack. */
static int
ack_or_unack(hsi_call *c, int ack)
{
	hsi_alerts_op o
	    = { .op = ack ? HSI_ALERTS_OP_ACK : HSI_ALERTS_OP_UNACK };
	json_t  *body = NULL;
	hsi_idem k;
	char     who[HSI_ALERTS_LABEL_MAX], nf[160];
	int      rv = path_fp(c, &o.fp);
	if (rv != 0 || (ack && (rv = hsi_call_body_json(c, ack_fields, &body)))
	    || (ack && (rv = hsi_idem_claim(c, &k)))) {
		json_decref(body);
		return rv;
	}
	if (!ack) {
		hsi_idem_init(&k);
	}
	o.comment = json_string_value(json_object_get(body, "comment"));
	o.expires = json_string_value(json_object_get(body, "expires"));
	fp_not_found(o.fp, nf, sizeof(nf));
	if ((rv = hsi_alerts_actor(c, who)) == 0) {
		o.by = who;
		if ((rv = hsi_call_run(c, hsi_alerts_run, &o)) != 0) {
			rv = hsi_alerts_refusal(c, rv, &o, ack_places, nf);
		}
	}
	if (rv == 0) {
		const char *fp
		    = json_string_value(json_object_get(o.out, "fingerprint"));
		json_t *acked = json_object_get(o.out, "acked");
		hsi_alerts_audit(c, who, ack ? "alert.ack" : "alert.unack", fp,
		    ack ? json_pack("{s:O?, s:O?}", "comment",
		        json_object_get(acked, "comment"), "expires",
		        json_object_get(acked, "expires"))
		        : json_object());
		rv    = hsi_alerts_write_done(c, &k, MHD_HTTP_OK, o.out, NULL);
		o.out = NULL;
	} else {
		hsi_idem_release(c, &k);
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
 * explode, at most HSI_MATCHERS_MAX): a repeated parameter of the
 * pipeline's strict query (HSI_QP_REPEAT), whose canonical form keeps
 * the matchers in the order given. The cursor is bound to state, rule
 * and the matchers.
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
	{ .name         = "match",
	    .type       = HSI_QT_STRING,
	    .flags      = HSI_QP_REPEAT,
	    .max_len    = MATCH_TEXT_MAX,
	    .max_repeat = HSI_MATCHERS_MAX,
	    .example    = "area=55" },
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
	const hsi_query *q;
	hsi_matchers    *m;
	char             scope[QS_MAX + 64];
	hsi_cursor       after;
} list_args;

/* The matchers of the query (each already a string of the right size). */
static int
list_matchers(hsi_call *c, list_args *a)
{
	char              why[HSI_ALERTS_ERR_MAX], d[HSI_ALERTS_ERR_MAX + 64];
	const hsi_qvalue *v = hsi_query_get(a->q, "match");
	for (int i = 0; v != NULL && i < v->n_items; i++) {
		if (hsi_matchers_add_text(a->m, v->items[i], why, sizeof(why))
		    != 0) {
			snprintf(d, sizeof(d),
			    "query parameter 'match' is not valid: %s", why);
			hsi_text_trim(d);
			return hsi_alerts_problem(c, MHD_HTTP_BAD_REQUEST,
			    "invalid-parameter", "Invalid query parameter",
			    "match", NULL, d);
		}
	}
	return 0;
}

/* The matchers, the listing's scope and the cursor. */
static int
list_parse(hsi_call *c, list_args *a)
{
	char canon[QS_MAX], detail[400] = "empty cursor";
	a->q = hsi_call_query(c);
	hsi_cursor_init(&a->after);
	if (hsi_matchers_alloc(&a->m) != 0) {
		return hsi_alerts_internal(c, "out of memory");
	}
	int rv = list_matchers(c, a);
	if (rv != 0) {
		return rv;
	}
	if (hsi_query_canon(a->q, 1, canon, sizeof(canon)) != 0) {
		return hsi_alerts_problem(c, MHD_HTTP_URI_TOO_LONG,
		    "query-too-large", "Query too large", NULL, NULL,
		    "the query is too long; send fewer values");
	}
	snprintf(a->scope, sizeof(a->scope), "GET /v1/alerts?%s", canon);
	const char *cur = hsi_query_text(a->q, "cursor");
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
		return hsi_alerts_problem(c, MHD_HTTP_BAD_REQUEST,
		    "invalid-cursor", "Invalid cursor", "cursor", NULL,
		    detail);
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
	char qs[QS_MAX];
	if (hsi_query_canon(a->q, 0, qs, sizeof(qs)) != 0) {
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
	size_t   limit = (size_t) hsi_query_int(a->q, "limit", 100);
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
		body = hsi_alerts_dump(json_pack("{s:O, s:s?}", "items", items,
		    "next_cursor", link ? cursor : NULL));
		len  = body ? strlen(body) : 0;
		rv   = body ? 0 : HSI_ENOMEM;
	}
	if (rv == 0) {
		const char *h[]
		    = { "Vary", "Accept", link ? "Link" : NULL, link, NULL };
		rv = hsi_alerts_send_bytes(c, MHD_HTTP_OK,
		    csv ? CSV_TYPE : HSI_ALERTS_JSON, body, len, h);
		goto sent;
	}
out:
	rv = hsi_alerts_internal(c,
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
		return hsi_alerts_internal(c, "out of memory");
	}
	int rv = list_parse(c, a);
	if (rv == 0) {
		/* Every alert that passes (alertops caps it), then the page:
		 * the matchers are regexes run here, not in SQL. */
		hsi_alert_filter f = { .state = hsi_query_text(a->q, "state"),
			.rule                 = hsi_query_text(a->q, "rule"),
			.matchers             = a->m,
			.limit                = HSI_ALERT_LIST_MAX };
		hsi_alerts_op o = { .op = HSI_ALERTS_OP_LIST, .filter = &f };
		if ((rv = hsi_call_run(c, hsi_alerts_run, &o)) != 0) {
			rv = hsi_alerts_refusal(c, rv, &o, NULL, "");
		} else {
			rv = send_alert_page(c, a, o.out);
		}
		json_decref(o.out);
	}
	hsi_matchers_free(a->m);
	free(a);
	return rv;
}

/* ---- routes ------------------------------------------------------------ */

#define WRITE_BODY_MAX 65536 /* x-hsi-max-body-bytes */

const hsi_route hsi_routes_alerts[] = {
	{ .method    = "GET",
	    .pattern = "/v1/alerts",
	    .handler = get_alerts,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = list_query,
	    .flags   = HSI_ROUTE_CSV },
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
	    .handler = hsi_silences_get_list,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = hsi_silences_query },
	{ .method           = "POST",
	    .pattern        = "/v1/silences",
	    .handler        = hsi_silences_post,
	    .access         = HSI_ACCESS_ADMIN,
	    .body_max_bytes = WRITE_BODY_MAX },
	{ .method    = "GET",
	    .pattern = "/v1/silences/{id}",
	    .handler = hsi_silences_get_one,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = hsi_silences_path },
	{ .method    = "DELETE",
	    .pattern = "/v1/silences/{id}",
	    .handler = hsi_silences_delete,
	    .access  = HSI_ACCESS_ADMIN,
	    .path    = hsi_silences_path },
	HSI_ROUTE_END,
};
