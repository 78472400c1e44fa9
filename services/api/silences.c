/*
 * silences.c: the silence endpoints of hsi-api (openapi.yaml, tag
 * alerts), listed in alerts.c's route table:
 *
 *   GET    /v1/silences                      listSilences
 *   POST   /v1/silences                      createSilence (admin)
 *   GET    /v1/silences/{id}                 getSilence
 *   DELETE /v1/silences/{id}                 expireSilence (admin)
 *
 * A silence mutes the alerts whose labels match all its matchers for a
 * while; hsi-alerter reads them. Like the alerts, a thin layer over
 * common/alertops.h (see alerts_ops.c for what the HTTP side adds).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "error.h"
#include "reply.h"

#define DURATION_BYTES 32 /* Duration, maxLength */

static const hsi_alerts_place silence_places[] = {
	{ "matchers", NULL, "/matchers" },
	{ "comment", NULL, "/comment" },
	{ "starts", NULL, "/starts_at" },
	{ "ends", NULL, "/ends_at" },
	{ "duration", NULL, "/duration" },
	{ NULL, NULL, NULL },
};

const hsi_qparam hsi_silences_path[] = {
	{ .name      = "id",
	    .type    = HSI_QT_INT,
	    .min     = 1,
	    .max     = INT64_MAX,
	    .example = "1" },
	{ .name = NULL },
};

const hsi_qparam hsi_silences_query[] = {
	{ .name = "all", .type = HSI_QT_BOOL },
	{ .name = NULL },
};

/* Silence id as alertops lists it (expired ones too) into *out, a new
 * reference; answers 404 when there is none. */
static int
find_silence(hsi_call *c, int64_t id, json_t **out)
{
	hsi_alerts_op o = { .op = HSI_ALERTS_OP_SILENCES, .all = 1 };
	char          nf[160];
	size_t        i;
	json_t       *s;
	snprintf(nf, sizeof(nf),
	    "no silence has id %lld; GET /v1/silences?all=true lists them",
	    (long long) id);
	int rv = hsi_call_run(c, hsi_alerts_run, &o);
	if (rv != 0) {
		return hsi_alerts_refusal(c, rv, &o, NULL, nf);
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
	return hsi_alerts_problem(
	    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", NULL, NULL, nf);
}

int
hsi_silences_get_list(hsi_call *c)
{
	hsi_alerts_op o  = { .op = HSI_ALERTS_OP_SILENCES,
		 .all            = (int) hsi_call_int(c, "all", 0) };
	int           rv = hsi_call_run(c, hsi_alerts_run, &o);
	if (rv != 0) {
		return hsi_alerts_refusal(c, rv, &o, NULL, "");
	}
	return hsi_alerts_send_json(
	    c, json_pack("{s:o, s:n}", "items", o.out, "next_cursor"));
}

int
hsi_silences_get_one(hsi_call *c)
{
	json_t *s;
	int     rv = find_silence(c, hsi_call_int(c, "id", 0), &s);
	if (rv != 0) {
		return rv;
	}
	return hsi_alerts_send_json(c, s);
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
	    .max   = HSI_ALERTS_TEXT_BYTES },
	{ .name   = "starts_at",
	    .type = HSI_JT_STRING,
	    .max  = HSI_ALERTS_TIME_BYTES },
	{ .name   = "ends_at",
	    .type = HSI_JT_STRING,
	    .max  = HSI_ALERTS_TIME_BYTES },
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
	hsi_alerts_op o = { .op = HSI_ALERTS_OP_SILENCE_ADD, .spec = spec };
	int           rv;
	spec->comment  = json_string_value(json_object_get(body, "comment"));
	spec->starts   = json_string_value(json_object_get(body, "starts_at"));
	spec->ends     = json_string_value(json_object_get(body, "ends_at"));
	spec->duration = json_string_value(json_object_get(body, "duration"));
	if (spec->ends == NULL && spec->duration == NULL) {
		return hsi_alerts_problem(c, MHD_HTTP_BAD_REQUEST,
		    "missing-field", "Missing field", NULL, "/duration",
		    "give how long the silence lasts: duration (90m, 2h, "
		    "1d12h; at most 365 days) or ends_at (an RFC 3339 time)");
	}
	if (spec->ends != NULL && spec->duration != NULL) {
		return hsi_alerts_problem(c, MHD_HTTP_BAD_REQUEST,
		    "invalid-field", "Invalid field", NULL, "/duration",
		    "give either ends_at or duration, not both");
	}
	rv = hsi_matchers_from_json(
	    json_object_get(body, "matchers"), m, o.err, sizeof(o.err));
	if (rv != 0) {
		*m = NULL;
		return hsi_alerts_refusal(c, rv, &o, silence_places, "");
	}
	spec->matchers = *m;
	return 0;
}

int
hsi_silences_post(hsi_call *c)
{
	hsi_silence_spec spec = { 0 };
	hsi_matchers    *m    = NULL;
	hsi_alerts_op o = { .op = HSI_ALERTS_OP_SILENCE_ADD, .spec = &spec };
	json_t       *body = NULL, *s = NULL;
	hsi_idem      k;
	char          who[HSI_ALERTS_LABEL_MAX], loc[48], id[24];
	int           rv = hsi_call_body_json(c, silence_fields, &body);
	if (rv != 0 || (rv = silence_spec(c, body, &spec, &m)) != 0
	    || (rv = hsi_idem_claim(c, &k)) != 0) {
		goto out;
	}
	if ((rv = hsi_alerts_actor(c, who)) == 0) {
		spec.created_by = who;
		if ((rv = hsi_call_run(c, hsi_alerts_run, &o)) != 0) {
			rv = hsi_alerts_refusal(c, rv, &o, silence_places, "");
		}
	}
	if (rv == 0 && (rv = find_silence(c, o.id, &s)) == 0) {
		snprintf(id, sizeof(id), "%lld", (long long) o.id);
		snprintf(loc, sizeof(loc), "/v1/silences/%s", id);
		hsi_alerts_audit(c, who, "silence.create", id,
		    json_pack("{s:O, s:O, s:O, s:O}", "matchers",
		        json_object_get(s, "matchers"), "comment",
		        json_object_get(s, "comment"), "starts_at",
		        json_object_get(s, "starts_at"), "ends_at",
		        json_object_get(s, "ends_at")));
		rv = hsi_alerts_write_done(c, &k, MHD_HTTP_CREATED, s, loc);
	} else {
		hsi_idem_release(c, &k);
	}
out:
	hsi_matchers_free(m);
	json_decref(body);
	return rv;
}

int
hsi_silences_delete(hsi_call *c)
{
	hsi_alerts_op o = { .op = HSI_ALERTS_OP_SILENCE_EXPIRE,
		.id             = hsi_call_int(c, "id", 0) };
	json_t       *s;
	hsi_idem      k;
	char          who[HSI_ALERTS_LABEL_MAX], nf[160], id[24];
	snprintf(id, sizeof(id), "%lld", (long long) o.id);
	snprintf(nf, sizeof(nf),
	    "no silence has id %s; GET /v1/silences?all=true lists them", id);
	hsi_idem_init(&k);
	int rv = hsi_alerts_actor(c, who);
	if (rv != 0) {
		return rv;
	}
	o.by = who;
	if ((rv = hsi_call_run(c, hsi_alerts_run, &o)) != 0) {
		return hsi_alerts_refusal(c, rv, &o, NULL, nf);
	}
	if ((rv = find_silence(c, o.id, &s)) != 0) {
		return rv;
	}
	hsi_alerts_audit(c, who, "silence.expire", id,
	    json_pack("{s:O}", "ends_at", json_object_get(s, "ends_at")));
	return hsi_alerts_write_done(c, &k, MHD_HTTP_OK, s, NULL);
}
