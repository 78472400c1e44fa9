/*
 * lifecycle.c: holds (silences, inhibition) and the sweep that re-notifies
 * (see lifecycle.h).
 */
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertops.h"
#include "db.h"
#include "error.h"
#include "eval.h"
#include "log.h"
#include "notify.h"

/* One inhibition, compiled. */
typedef struct {
	hsi_matchers      *source, *target;
	const hsi_inhibit *def;
} inhibit;

struct hsi_holds {
	hsi_silences *silences;
	PGresult     *firing; /* fingerprint, labels::text */
	json_t      **labels; /* parsed, per firing row */
	inhibit      *inh;
	size_t        ninh;
};

/* Serialises the sweep with evaluations (eval.c takes the same lock). */
#define ALERTER_LOCK "7452001"

static int
compile(const char (*text)[HSI_MATCHER_TEXT_MAX], int n, hsi_matchers **out)
{
	char err[300];
	int  rv = hsi_matchers_alloc(out);
	for (int i = 0; rv == 0 && i < n; i++) {
		rv = hsi_matchers_add_text(*out, text[i], err, sizeof(err));
	}
	return rv;
}

int
hsi_holds_load(PGconn *db, const hsi_rules *rules, hsi_holds **out)
{
	char       err[300];
	hsi_holds *h = calloc(1, sizeof(*h));
	int        rv;
	if (h == NULL) {
		return HSI_ENOMEM;
	}
	if ((rv = hsi_silence_active_load(db, &h->silences, err, sizeof(err)))
	    != 0) {
		goto fail;
	}
	h->firing = hsi_db_query(db, "firing alerts",
	    "SELECT fingerprint, labels::text FROM alert WHERE state = "
	    "'firing'",
	    0, NULL);
	if (h->firing == NULL) {
		rv = HSI_EDB;
		goto fail;
	}
	size_t nf = (size_t) PQntuples(h->firing);
	h->ninh   = hsi_rules_inhibit_count(rules);
	h->labels = calloc(nf ? nf : 1, sizeof(*h->labels));
	h->inh    = calloc(h->ninh ? h->ninh : 1, sizeof(*h->inh));
	if (h->labels == NULL || h->inh == NULL) {
		rv = HSI_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < nf; i++) {
		h->labels[i]
		    = json_loads(PQgetvalue(h->firing, (int) i, 1), 0, NULL);
	}
	for (size_t i = 0; i < h->ninh; i++) {
		const hsi_inhibit *d = hsi_rules_inhibit(rules, i);
		h->inh[i].def        = d;
		if ((rv = compile(d->source, d->n_source, &h->inh[i].source))
		        != 0
		    || (rv = compile(
		            d->target, d->n_target, &h->inh[i].target))
		        != 0) {
			goto fail;
		}
	}
	*out = h;
	return 0;
fail:
	hsi_holds_free(h);
	return rv;
}

void
hsi_holds_free(hsi_holds *h)
{
	if (h == NULL) {
		return;
	}
	for (int i = 0; h->labels != NULL && h->firing != NULL
	     && i < PQntuples(h->firing);
	     i++) {
		json_decref(h->labels[i]);
	}
	for (size_t i = 0; h->inh != NULL && i < h->ninh; i++) {
		hsi_matchers_free(h->inh[i].source);
		hsi_matchers_free(h->inh[i].target);
	}
	free(h->inh);
	free(h->labels);
	PQclear(h->firing);
	hsi_silences_free(h->silences);
	free(h);
}

/* Label values compared as JSON: the same string or the same number. */
static int
same_label(const json_t *a, const json_t *b, const char *key)
{
	const json_t *x = json_object_get(a, key),
	             *y = json_object_get(b, key);
	if (x == NULL || y == NULL) {
		return x == y;
	}
	return json_equal(x, y);
}

int
hsi_holds_check(const hsi_holds *h, const char *fp, const json_t *labels,
    char *why, size_t size)
{
	int64_t sid = hsi_silences_match(h->silences, labels);
	if (sid > 0) {
		snprintf(why, size, "silenced:%lld", (long long) sid);
		return 1;
	}
	for (size_t k = 0; k < h->ninh; k++) {
		const inhibit *in = &h->inh[k];
		if (!hsi_matchers_match(in->target, labels)) {
			continue;
		}
		for (int i = 0; i < PQntuples(h->firing); i++) {
			const json_t *src = h->labels[i];
			int           eq  = src != NULL
			    && strcmp(PQgetvalue(h->firing, i, 0), fp) != 0
			    && hsi_matchers_match(in->source, src);
			for (int e = 0; eq && e < in->def->n_equal; e++) {
				eq = same_label(
				    src, labels, in->def->equal[e]);
			}
			if (eq) {
				snprintf(why, size, "inhibited:%s",
				    PQgetvalue(h->firing, i, 0));
				return 1;
			}
		}
	}
	return 0;
}

/*
 * Firing alerts and what the sweep needs: 0 fingerprint, 1 labels, 2
 * held_by, 3 notified (bool), 4 acked (bool), 5 ack expired (bool), 6
 * repeat due (bool), 7 value.
 */
static const char sql_firing[]
    = "SELECT fingerprint, labels::text, held_by, notified_at IS NOT NULL,"
      " acked_by IS NOT NULL, acked_by IS NOT NULL AND ack_expires <= now(),"
      " $1::int > 0 AND notified_at IS NOT NULL AND notified_at <="
      " now() - $1::int * interval '1 hour', value "
      "FROM alert WHERE state = 'firing' ORDER BY fingerprint";

static const char sql_notify_event[]
    = "INSERT INTO alert_event (fingerprint, state, value, detail) "
      "VALUES ($1, 'notify', $2::float8, $3::jsonb) RETURNING seq";

static const char sql_ack_expired[]
    = "WITH a AS (UPDATE alert SET acked_by = NULL, acked_at = NULL,"
      " ack_comment = NULL, ack_expires = NULL WHERE fingerprint = $1"
      " RETURNING value) "
      "INSERT INTO alert_event (fingerprint, state, value, detail) "
      "SELECT $1, 'ack_expired', a.value, '{}'::jsonb FROM a";

static const char sql_hold[]
    = "UPDATE alert SET held_by = $2 WHERE fingerprint = $1"
      " AND held_by IS DISTINCT FROM $2";

/* Queues a notification of firing alert row i, for reason. */
static int
renotify(
    PGconn *db, const hsi_rules *rules, PGresult *r, int i, const char *reason)
{
	char        detail[160];
	const char *fp = PQgetvalue(r, i, 0);
	snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", reason);
	const char *p[3] = { fp,
		PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7), detail };
	PGresult *e = hsi_db_query(db, "notify event", sql_notify_event, 3, p);
	if (e == NULL) {
		return HSI_EDB;
	}
	hsi_transition t;
	memset(&t, 0, sizeof(t));
	t.seq   = strtoull(PQgetvalue(e, 0, 0), NULL, 10);
	t.state = "firing";
	snprintf(t.fingerprint, sizeof(t.fingerprint), "%s", fp);
	PQclear(e);
	hsi_log_info("alert notified again", "{s:s, s:s, s:I}", "fingerprint",
	    fp, "reason", reason, "seq", (json_int_t) t.seq);
	return hsi_notify_enqueue(db, rules, &t, 1);
}

/* Decides firing alert row i of r. */
static int
sweep_one(PGconn *db, const hsi_rules *rules, const hsi_holds *h, PGresult *r,
    int i, size_t *queued)
{
	const char *fp       = PQgetvalue(r, i, 0);
	int         was_held = !PQgetisnull(r, i, 2);
	int         notified = PQgetvalue(r, i, 3)[0] == 't';
	int         acked    = PQgetvalue(r, i, 4)[0] == 't';
	int         expired  = PQgetvalue(r, i, 5)[0] == 't';
	int         repeat   = PQgetvalue(r, i, 6)[0] == 't';
	char        why[120];
	const char *p[2] = { fp, why };
	int         rv;
	if (expired) {
		const char *q[1] = { fp };
		if ((rv = hsi_db_exec(
		         db, "end acknowledgement", sql_ack_expired, 1, q))
		    != 0) {
			return rv;
		}
		acked = 0;
	}
	json_t *labels = json_loads(PQgetvalue(r, i, 1), 0, NULL);
	int     held   = labels != NULL
	    && hsi_holds_check(h, fp, labels, why, sizeof(why));
	json_decref(labels);
	if (held) {
		/* The notification waits; record why for operators. */
		return hsi_db_exec(db, "hold alert", sql_hold, 2, p);
	}
	/* A hold that ends releases a notification never sent; one sent
	 * before the hold began is not sent again just for that. */
	if (was_held && notified
	    && (rv = hsi_db_exec(db, "release alert",
	            "UPDATE alert SET held_by = NULL WHERE fingerprint = $1",
	            1, p))
	        != 0) {
		return rv;
	}
	const char *reason = !notified
	    ? (was_held ? "released" : "not notified yet")
	    : expired          ? "acknowledgement expired"
	    : repeat && !acked ? "repeat"
	                       : NULL;
	if (reason == NULL) {
		return 0;
	}
	(*queued)++;
	return renotify(db, rules, r, i, reason);
}

static int
sweep_all(PGconn *db, const hsi_rules *rules, size_t *queued)
{
	char        hours[16];
	const char *p[1] = { hours };
	hsi_holds  *h    = NULL;
	int         rv;
	snprintf(hours, sizeof(hours), "%d", hsi_rules_repeat_hours(rules));
	if ((rv = hsi_db_exec(db, "begin", "BEGIN", 0, NULL)) != 0
	    || (rv = hsi_db_exec(db, "alerter lock",
	            "SELECT pg_advisory_xact_lock(" ALERTER_LOCK ")", 0, NULL))
	        != 0
	    || (rv = hsi_holds_load(db, rules, &h)) != 0) {
		return rv;
	}
	PGresult *r = hsi_db_query(db, "firing alerts", sql_firing, 1, p);
	rv          = r ? 0 : HSI_EDB;
	for (int i = 0; rv == 0 && i < PQntuples(r); i++) {
		rv = sweep_one(db, rules, h, r, i, queued);
	}
	PQclear(r);
	hsi_holds_free(h);
	return rv == 0 ? hsi_db_exec(db, "commit", "COMMIT", 0, NULL) : rv;
}

int
hsi_lifecycle_sweep(PGconn *db, const hsi_rules *rules, size_t *notified)
{
	size_t queued = 0;
	if (hsi_rules_receiver_count(rules) == 0) {
		if (notified != NULL) {
			*notified = 0;
		}
		return 0; /* nobody to notify, nothing to hold back */
	}
	int rv = sweep_all(db, rules, &queued);
	if (rv != 0) {
		PQclear(PQexec(db, "ROLLBACK"));
		queued = 0;
	}
	if (notified != NULL) {
		*notified = queued;
	}
	return rv;
}
