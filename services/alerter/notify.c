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
#include "lifecycle.h"
#include "log.h"
#include "summary.h"

/* Alertmanager's webhook and API v2 take RFC 3339 times in UTC. */
#define RFC3339(col)                                                          \
	"to_char(" col " AT TIME ZONE 'UTC', "                                \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char sql_alert[] = "SELECT labels::text, " RFC3339(
    "starts_at") ", " RFC3339("ends_at") ", annotations::text,"
                                         " notified_at IS NOT NULL"
                                         " FROM alert WHERE fingerprint = $1";

/* A firing notification queued, or held back and why. */
static const char sql_notified[]
    = "UPDATE alert SET notified_at = now(), held_by = NULL"
      " WHERE fingerprint = $1";
static const char sql_held[]
    = "UPDATE alert SET notified_at = NULL, held_by = $2"
      " WHERE fingerprint = $1";

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

/* Alertmanager's annotations are strings too: numbers become text and
 * anything else its JSON text. Returns a new object or NULL. */
static json_t *
string_annotations(const char *text)
{
	json_t     *in  = json_loads(text, 0, NULL);
	json_t     *out = json_object();
	const char *key;
	json_t     *v;
	if (in == NULL || out == NULL) {
		json_decref(in);
		json_decref(out);
		return NULL;
	}
	json_object_foreach(in, key, v)
	{
		if (json_is_null(v)) {
			continue; /* not known: left out rather than "null" */
		}
		char *s = json_is_string(v) ? strdup(json_string_value(v))
		                            : json_dumps(v,
		                                JSON_COMPACT | JSON_ENCODE_ANY
		                                    | JSON_REAL_PRECISION(12));
		if (s == NULL
		    || json_object_set_new(out, key, json_string(s))) {
			free(s);
			json_decref(in);
			json_decref(out);
			return NULL;
		}
		free(s);
	}
	json_decref(in);
	return out;
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

json_t *
hsi_notify_am_alerts(PGresult *r)
{
	json_t *arr = json_array();
	for (int i = 0; arr != NULL && i < PQntuples(r); i++) {
		json_t *labels = string_labels(PQgetvalue(r, i, 0));
		json_t *ann    = string_annotations(PQgetvalue(r, i, 1));
		json_t *a      = labels && ann
		         ? json_pack("{s:O, s:O, s:s, s:s}", "labels", labels,
		             "annotations", ann, "startsAt", PQgetvalue(r, i, 2),
		             "generatorURL", "")
		         : NULL;
		json_decref(labels);
		json_decref(ann);
		if (a == NULL || json_array_append_new(arr, a) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

const char hsi_notify_sql_firing[]
    = "SELECT labels::text, annotations::text, " RFC3339(
        "starts_at") " FROM alert WHERE state = 'firing' AND notified_at IS "
                     "NOT NULL"
                     " AND held_by IS NULL ORDER BY fingerprint LIMIT $1::int "
                     "OFFSET $2::int";

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
enqueue_rows(
    PGconn *db, const hsi_rules *rules, const hsi_transition *t, PGresult *r)
{
	json_t *labels = string_labels(PQgetvalue(r, 0, 0));
	json_t *ann    = string_annotations(PQgetvalue(r, 0, 3));
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
	return rv;
}

/* A firing transition is queued unless held (lifecycle.h); a resolution
 * only when its firing was notified. */
static int
enqueue_one(PGconn *db, const hsi_rules *rules, const hsi_holds *h,
    const hsi_transition *t)
{
	const char *p[2] = { t->fingerprint, NULL };
	char        why[120];
	PGresult   *r
	    = hsi_db_query(db, "alert for notification", sql_alert, 1, p);
	int rv = 0;
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return HSI_EDB;
	}
	int firing = strcmp(t->state, "firing") == 0;
	if (firing) {
		json_t *labels = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
		int     held   = labels != NULL
		    && hsi_holds_check(
		        h, t->fingerprint, labels, why, sizeof(why));
		json_decref(labels);
		if (held) {
			p[1] = why;
			rv   = hsi_db_exec(db, "hold alert", sql_held, 2, p);
			hsi_log_info("notification held", "{s:s, s:s}",
			    "fingerprint", t->fingerprint, "held_by", why);
			PQclear(r);
			return rv;
		}
		rv = hsi_db_exec(db, "alert notified", sql_notified, 1, p);
	} else if (PQgetvalue(r, 0, 4)[0] != 't') {
		PQclear(r);
		return 0; /* its firing was held: nobody heard of it */
	}
	if (rv == 0) {
		rv = enqueue_rows(db, rules, t, r);
	}
	PQclear(r);
	return rv;
}

int
hsi_notify_enqueue(
    PGconn *db, const hsi_rules *rules, const hsi_transition *t, size_t n)
{
	hsi_holds *h = NULL;
	if (hsi_rules_receiver_count(rules) == 0 || n == 0) {
		return 0;
	}
	int rv = hsi_holds_load(db, rules, &h);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		rv = enqueue_one(db, rules, h, &t[i]);
	}
	hsi_holds_free(h);
	return rv;
}
