/*
 * sse_event.c: the events of GET /v1/events as data (see sse_int.h):
 * ScoreEvents and AlertEvents from the wire, or their rows in PostgreSQL
 * for a replay, made into the JSON of ScoreEventData and AlertEventData
 * (openapi.yaml). Both sources go through the same two builders, so a
 * replayed event reads exactly like a live one, and both are held to
 * what the contract promises: protobuf-c checks neither UTF-8 nor the
 * form of a field, and a dashboard must never get an event it cannot
 * parse.
 */
#include "sse_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "error.h"
#include "net.h"
#include "period.h"

#define TIME_MAX 32
#define AREA_MAX 16

hsi_sse_event *
hsi_sse_event_make(int topic, uint64_t seq, int64_t at_ms, json_t *data)
{
	char *text = data != NULL
	    ? json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(17))
	    : NULL;
	json_decref(data);
	if (text == NULL) {
		return NULL;
	}
	size_t         len = strlen(text);
	hsi_sse_event *e   = malloc(sizeof(*e) + len + 1);
	if (e != NULL) {
		atomic_init(&e->refs, 1);
		e->topic = topic;
		e->seq   = seq;
		e->at_ms = at_ms;
		e->len   = len;
		memcpy(e->data, text, len + 1);
	}
	free(text);
	return e;
}

hsi_sse_event *
hsi_sse_event_ref(hsi_sse_event *e)
{
	if (e != NULL) {
		atomic_fetch_add(&e->refs, 1);
	}
	return e;
}

void
hsi_sse_event_unref(hsi_sse_event *e)
{
	if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1) {
		free(e);
	}
}

const char *
hsi_sse_topic_name(int topic)
{
	return topic == HSI_SSE_SCORE ? "score"
	    : topic == HSI_SSE_ALERT  ? "alert"
	                              : "reset";
}

void
hsi_sse_replay_fini(hsi_sse_replay *r)
{
	for (size_t i = 0; i < r->n; i++) {
		hsi_sse_event_unref(r->events[i]);
	}
	free(r->events);
	r->events = NULL;
	r->n      = 0;
}

/* RFC 3339 in UTC with milliseconds: "2026-11-24T01:00:00.123Z". */
static void
format_time(int64_t ms, char *out)
{
	time_t    s = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(out, TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(
	    out + n, TIME_MAX - n, ".%03dZ", (int) (ms - (int64_t) s * 1000));
}

/* AreaCode: TH, R + 1-3 capitals, or 2, 4 or 6 digits. */
static int
area_ok(const char *s)
{
	size_t n = strlen(s);
	if (strcmp(s, "TH") == 0) {
		return 1;
	}
	if (s[0] == 'R') {
		return n >= 2 && n <= 4
		    && strspn(s + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n - 1;
	}
	return (n == 2 || n == 4 || n == 6) && strspn(s, "0123456789") == n;
}

/* IndexPeriod: a calendar or fiscal year, canonical ("2024", "FY2024"). */
static int
index_period(const char *s, char *out)
{
	hsi_period p;
	if (s == NULL || hsi_period_parse(s, strlen(s), &p, NULL) != 0
	    || (p.freq != HSI_FREQ_ANNUAL && p.freq != HSI_FREQ_FISCAL)) {
		return HSI_EPROTO;
	}
	hsi_period_format(&p, out, HSI_PERIOD_MAX);
	return 0;
}

static int
score_event(uint64_t seq, long long methodology, const char *period,
    const char *const *areas, size_t n, int64_t at_ms, hsi_sse_event **out)
{
	char    canon[HSI_PERIOD_MAX], at[TIME_MAX];
	json_t *list = json_array();
	if (seq == 0 || methodology < 1 || methodology > 2147483647
	    || index_period(period, canon) != 0 || list == NULL) {
		json_decref(list);
		return HSI_EPROTO;
	}
	for (size_t i = 0; i < n; i++) {
		if (!area_ok(areas[i])
		    || json_array_append_new(list, json_string(areas[i]))
		        != 0) {
			json_decref(list);
			return HSI_EPROTO;
		}
	}
	format_time(at_ms, at);
	json_t *j = json_pack("{s:I, s:I, s:s, s:o, s:s}", "seq",
	    (json_int_t) seq, "methodology", (json_int_t) methodology,
	    "period", canon, "areas", list, "computed_at", at);
	if (j == NULL) {
		return HSI_EPROTO;
	}
	*out = hsi_sse_event_make(HSI_SSE_SCORE, seq, at_ms, j);
	return *out != NULL ? 0 : HSI_ENOMEM;
}

typedef struct {
	uint64_t    seq;
	const char *fingerprint, *rule, *state, *area, *code, *period;
	double      value, threshold; /* NaN: null */
	const char *summary_en, *summary_th;
	int64_t     at_ms;
} alert_fields;

static int
fingerprint_ok(const char *s)
{
	return s != NULL && strlen(s) == 64
	    && strspn(s, "0123456789abcdef") == 64;
}

static int
rule_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	return n >= 1 && n <= 63
	    && strspn(s,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	           "0123456789_.-")
	    == n;
}

/* An optional text: "" and NULL are null; more than max bytes is
 * malformed (NULL returned through *bad). */
static const char *
optional(const char *s, size_t max, int *bad)
{
	if (s == NULL || s[0] == '\0') {
		return NULL;
	}
	if (strlen(s) > max) {
		*bad = 1;
	}
	return s;
}

static json_t *
number(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static int
alert_event(const alert_fields *f, hsi_sse_event **out)
{
	char at[TIME_MAX];
	int  bad = 0;
	if (f->state == NULL
	    || (strcmp(f->state, "firing") != 0
	        && strcmp(f->state, "resolved") != 0)) {
		/* pending and cancelled are the alerter's own business */
		return f->state != NULL
		        && (strcmp(f->state, "pending") == 0
		            || strcmp(f->state, "cancelled") == 0)
		    ? HSI_ENOENT
		    : HSI_EPROTO;
	}
	const char *area   = optional(f->area, 64, &bad);
	const char *code   = optional(f->code, 64, &bad);
	const char *period = optional(f->period, HSI_PERIOD_MAX, &bad);
	if (f->seq == 0 || bad || !fingerprint_ok(f->fingerprint)
	    || !rule_ok(f->rule) || f->summary_en == NULL
	    || f->summary_th == NULL) {
		return HSI_EPROTO;
	}
	format_time(f->at_ms, at);
	json_t *j = json_pack(
	    "{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:o, s:s, s:s, s:s}",
	    "seq", (json_int_t) f->seq, "fingerprint", f->fingerprint, "rule",
	    f->rule, "state", f->state, "area", area, "code", code, "period",
	    period, "value", number(f->value), "threshold",
	    number(f->threshold), "summary_en", f->summary_en, "summary_th",
	    f->summary_th, "at", at);
	if (j == NULL) {
		return HSI_EPROTO; /* not UTF-8 */
	}
	*out = hsi_sse_event_make(HSI_SSE_ALERT, f->seq, f->at_ms, j);
	return *out != NULL ? 0 : HSI_ENOMEM;
}

/* ------------------------------------------------------------- wire */

static int
decode_score(const Hsi__Envelope *env, hsi_sse_event **out)
{
	Hsi__ScoreEvent *ev
	    = (Hsi__ScoreEvent *) hsi_pb_unpack(&hsi__score_event__descriptor,
	        env->payload.data, env->payload.len);
	if (ev == NULL) {
		return HSI_EPROTO;
	}
	int rv = score_event(ev->seq, (long long) ev->methodology_version,
	    ev->period, (const char *const *) ev->changed_areas,
	    ev->n_changed_areas, ev->computed_unix_ms, out);
	hsi_pb_free(&ev->base);
	return rv;
}

static int
decode_alert(const Hsi__Envelope *env, hsi_sse_event **out)
{
	Hsi__AlertEvent *ev
	    = (Hsi__AlertEvent *) hsi_pb_unpack(&hsi__alert_event__descriptor,
	        env->payload.data, env->payload.len);
	if (ev == NULL) {
		return HSI_EPROTO;
	}
	alert_fields f  = { .seq = ev->seq,
		 .fingerprint    = ev->fingerprint,
		 .rule           = ev->rule,
		 .state          = ev->state,
		 .area           = ev->area,
		 .code           = ev->code,
		 .period         = ev->period,
		 .value          = ev->value,
		 .threshold      = ev->threshold,
		 .summary_en     = ev->summary_en,
		 .summary_th     = ev->summary_th,
		 .at_ms          = ev->at_unix_ms };
	int          rv = alert_event(&f, out);
	hsi_pb_free(&ev->base);
	return rv;
}

int
hsi_sse_event_decode(const void *msg, size_t len, hsi_sse_event **out)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env = NULL;
	int                  rv  = HSI_EPROTO;
	if (hsi_net_split(msg, len, topic, &body, &blen) != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		return HSI_EPROTO;
	}
	/* Not signed yet (no central key, docs/protocol.md): a forged
	 * event can only make dashboards reload or show a false alert
	 * until the next refresh from PostgreSQL. */
	if (env->protocol_version < HSI_PROTOCOL_MIN_VERSION
	    || env->protocol_version > HSI_PROTOCOL_VERSION) {
		rv = HSI_EPROTO;
	} else if (strcmp(topic, "score") == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__SCORE_EVENT) {
		rv = decode_score(env, out);
	} else if (strcmp(topic, "alert") == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__ALERT_EVENT) {
		rv = decode_alert(env, out);
	}
	hsi_envelope_free(env);
	return rv;
}

/* ------------------------------------------------------- PostgreSQL */

static const char *
col(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static double
col_number(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? NAN : strtod(PQgetvalue(r, i, c), NULL);
}

hsi_sse_event *
hsi_sse_event_score_row(const PGresult *r, int i)
{
	const char    *joined = PQgetvalue(r, i, 3);
	size_t         n      = *joined ? 1 : 0;
	hsi_sse_event *out    = NULL;
	for (const char *p = joined; *p; p++) {
		n += *p == ',';
	}
	char  *copy  = strdup(joined);
	char **areas = calloc(n + 1, sizeof(*areas));
	if (copy != NULL && areas != NULL) {
		char *save = NULL;
		n          = 0;
		for (char *a = strtok_r(copy, ",", &save); a != NULL;
		     a       = strtok_r(NULL, ",", &save)) {
			areas[n++] = a;
		}
		score_event(strtoull(PQgetvalue(r, i, 0), NULL, 10),
		    atoll(PQgetvalue(r, i, 1)), PQgetvalue(r, i, 2),
		    (const char *const *) areas, n,
		    strtoll(PQgetvalue(r, i, 4), NULL, 10), &out);
	}
	free(areas);
	free(copy);
	return out;
}

hsi_sse_event *
hsi_sse_event_alert_row(const PGresult *r, int i)
{
	hsi_sse_event *out = NULL;
	alert_fields   f   = { .seq = strtoull(PQgetvalue(r, i, 0), NULL, 10),
		    .fingerprint    = col(r, i, 1),
		    .rule           = col(r, i, 2),
		    .state          = col(r, i, 3),
		    .area           = col(r, i, 4),
		    .code           = col(r, i, 5),
		    .period         = col(r, i, 6),
		    .value          = col_number(r, i, 7),
		    .threshold      = col_number(r, i, 8),
		    .summary_en     = col(r, i, 9),
		    .summary_th     = col(r, i, 10),
		    .at_ms          = strtoll(PQgetvalue(r, i, 11), NULL, 10) };
	if (f.summary_en == NULL) {
		f.summary_en = "";
	}
	if (f.summary_th == NULL) {
		f.summary_th = "";
	}
	alert_event(&f, &out);
	return out;
}
