/*
 * notify.c: building notifications and putting them in the outbox, in
 * the evaluation's transaction (see notify.h; deliver.c sends them).
 *
 * The payload is built once, when the transition commits, and stored as
 * it will be sent: a retry days later sends the same alert with the same
 * texts, whatever happened to the alert since.
 */
#include "notify.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "summary.h"

/* Alertmanager's webhook and API v2 take RFC 3339 times in UTC. */
#define RFC3339(col)                                                          \
	"to_char(" col " AT TIME ZONE 'UTC', "                                \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char sql_alert[] = "SELECT labels::text, " RFC3339(
    "starts_at") ", " RFC3339("ends_at") " FROM alert WHERE fingerprint = $1";

static const char sql_insert[]
    = "INSERT INTO notification_outbox (notification_id, receiver,"
      " payload) VALUES ($1, $2, $3::jsonb) "
      "ON CONFLICT (notification_id) DO NOTHING";

/* Alertmanager's labels are strings only; ours carry the methodology
 * version as a number. Returns a new object or NULL. */
static json_t *
string_labels(const char *text)
{
	json_t     *in  = json_loads(text, 0, NULL);
	json_t     *out = json_object();
	const char *key;
	json_t     *v;
	if (in == NULL || out == NULL) {
		goto fail;
	}
	json_object_foreach(in, key, v)
	{
		char buf[32];
		if (json_is_string(v)) {
			if (json_object_set(out, key, v) != 0) {
				goto fail;
			}
			continue;
		}
		if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
		} else {
			snprintf(
			    buf, sizeof(buf), "%.17g", json_number_value(v));
		}
		if (json_object_set_new(out, key, json_string(buf)) != 0) {
			goto fail;
		}
	}
	json_decref(in);
	return out;
fail:
	json_decref(in);
	json_decref(out);
	return NULL;
}

static json_t *
annotations(const hsi_transition *t)
{
	char en[512], th[768];
	hsi_summary_format(t, en, sizeof(en), th, sizeof(th));
	return json_pack("{s:s, s:s, s:s}", "summary", en, "summary_en", en,
	    "summary_th", th);
}

/* One alert of a webhook payload (Alertmanager's template.Alert); its
 * endsAt is Go's zero time while firing, as Alertmanager sends it. */
static json_t *
webhook_alert(const hsi_transition *t, json_t *labels, json_t *ann,
    const char *starts, const char *ends)
{
	int resolved = strcmp(t->state, "resolved") == 0;
	return json_pack("{s:s, s:O, s:O, s:s, s:s, s:s, s:s}", "status",
	    t->state, "labels", labels, "annotations", ann, "startsAt", starts,
	    "endsAt", resolved && ends[0] ? ends : "0001-01-01T00:00:00Z",
	    "generatorURL", "", "fingerprint", t->fingerprint);
}

static json_t *
webhook_payload(const hsi_transition *t, const hsi_receiver *r, json_t *labels,
    json_t *ann, const char *starts, const char *ends)
{
	char key[120];
	snprintf(key, sizeof(key), "{}:{fingerprint=\"%s\"}", t->fingerprint);
	json_t *alert = webhook_alert(t, labels, ann, starts, ends);
	if (alert == NULL) {
		return NULL;
	}
	return json_pack(
	    "{s:s, s:s, s:i, s:s, s:s, s:O, s:O, s:O, s:s, s:[o], s:I}",
	    "version", "4", "groupKey", key, "truncatedAlerts", 0, "status",
	    t->state, "receiver", r->name, "groupLabels", labels,
	    "commonLabels", labels, "commonAnnotations", ann, "externalURL",
	    "", "alerts", alert, "hsiSeq", (json_int_t) t->seq);
}

/* Alertmanager API v2 (POST /api/v2/alerts, postableAlerts): endsAt only
 * when resolved; while firing Alertmanager applies its resolve_timeout. */
static json_t *
am_payload(const hsi_transition *t, json_t *labels, json_t *ann,
    const char *starts, const char *ends)
{
	json_t *a = json_pack("{s:O, s:O, s:s, s:s}", "labels", labels,
	    "annotations", ann, "startsAt", starts, "generatorURL", "");
	if (a != NULL && strcmp(t->state, "resolved") == 0 && ends[0]) {
		json_object_set_new(a, "endsAt", json_string(ends));
	}
	return a ? json_pack("[o]", a) : NULL;
}

static int
insert_row(PGconn *db, const hsi_transition *t, const hsi_receiver *r,
    json_t *payload)
{
	char  id[120];
	char *text
	    = json_dumps(payload, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (text == NULL) {
		return HSI_ENOMEM;
	}
	/* Every field is bounded, so this only catches a bug, but a
	 * receiver should never be sent an unbounded body. */
	if (strlen(text) > HSI_NOTIFY_MAX_PAYLOAD) {
		free(text);
		return HSI_ETOOBIG;
	}
	snprintf(
	    id, sizeof(id), "%llu-%s", (unsigned long long) t->seq, r->name);
	const char *p[3] = { id, r->name, text };
	int rv = hsi_db_exec(db, "enqueue notification", sql_insert, 3, p);
	free(text);
	return rv;
}

static int
enqueue_one(PGconn *db, const hsi_rules *rules, const hsi_transition *t)
{
	const char *p[1] = { t->fingerprint };
	PGresult   *r
	    = hsi_db_query(db, "alert for notification", sql_alert, 1, p);
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return HSI_EDB;
	}
	json_t *labels = string_labels(PQgetvalue(r, 0, 0));
	json_t *ann    = annotations(t);
	int     rv     = labels && ann ? 0 : HSI_ENOMEM;
	for (size_t i = 0; rv == 0 && i < hsi_rules_receiver_count(rules);
	     i++) {
		const hsi_receiver *rc      = hsi_rules_receiver(rules, i);
		json_t             *payload = rc->type == HSI_RECEIVER_WEBHOOK
		                ? webhook_payload(t, rc, labels, ann, PQgetvalue(r, 0, 1),
		                    PQgetvalue(r, 0, 2))
		                : am_payload(t, labels, ann, PQgetvalue(r, 0, 1),
		                    PQgetvalue(r, 0, 2));
		rv = payload ? insert_row(db, t, rc, payload) : HSI_ENOMEM;
		json_decref(payload);
	}
	json_decref(labels);
	json_decref(ann);
	PQclear(r);
	return rv;
}

int
hsi_notify_enqueue(
    PGconn *db, const hsi_rules *rules, const hsi_transition *t, size_t n)
{
	int rv = 0;
	if (hsi_rules_receiver_count(rules) == 0) {
		return 0;
	}
	for (size_t i = 0; rv == 0 && i < n; i++) {
		rv = enqueue_one(db, rules, &t[i]);
	}
	return rv;
}
