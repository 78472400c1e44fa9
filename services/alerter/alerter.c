/*
 * alerter.c: sockets, the receive thread and publishing for hsi-alerter
 * (see alerter.h). One mutex serialises everything that touches the
 * database connection: the receive thread and main()'s periodic resync.
 */
#include "alerter.h"

#include <openssl/sha.h>

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "envelope.h"
#include "error.h"
#include "event.h"
#include "eval.h"
#include "lifecycle.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "summary.h"

struct hsi_alerter {
	hsi_rules      *rules;
	char           *rules_path; /* NULL for the built-in rules */
	PGconn         *db;
	char           *db_url;
	hsi_notify     *notify; /* NULL without receivers */
	nng_socket      pub;
	nng_socket      sub;
	int             sub_open;
	pthread_t       thread;
	int             running;
	int             abandoned; /* receive thread left behind on exit */
	pthread_mutex_t mu;
	uint64_t        last_seq;  /* highest score event_seq handled */
	hsi_eval_mark   data_mark; /* hsi_eval_data */
	struct timespec late_at;   /* last late_data evaluation (monotonic) */
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The envelope is not sealed: there is no central key yet, so it carries
 * no key_id and no HMAC (subscribers must not treat it as authenticated).
 * seq is the alert_event seq, which PostgreSQL never reuses, so a single
 * epoch (0) is right even across restarts.
 */
static int
send_event(hsi_alerter *a, const Hsi__AlertEvent *ev)
{
	size_t   plen = hsi__alert_event__get_packed_size(ev);
	uint8_t *pb   = malloc(plen ? plen : 1);
	if (pb == NULL) {
		return HSI_ENOMEM;
	}
	hsi__alert_event__pack(ev, pb);
	Hsi__Envelope env    = HSI__ENVELOPE__INIT;
	env.protocol_version = HSI_PROTOCOL_VERSION;
	env.agency           = "central";
	env.node_id          = "alerter";
	env.seq              = ev->seq;
	env.sent_unix_ms     = now_ms();
	env.payload_type     = HSI__PAYLOAD_TYPE__ALERT_EVENT;
	env.payload.data     = pb;
	env.payload.len      = plen;
	size_t   elen        = hsi__envelope__get_packed_size(&env);
	uint8_t *eb          = malloc(elen);
	int      rv          = HSI_ENOMEM;
	if (eb != NULL) {
		hsi__envelope__pack(&env, eb);
		rv = hsi_net_send(a->pub, "alert", eb, elen);
	}
	free(eb);
	free(pb);
	return rv;
}

static void
publish(hsi_alerter *a, const hsi_transition *t)
{
	const char     *en = t->summary_en, *th = t->summary_th;
	Hsi__AlertEvent ev = HSI__ALERT_EVENT__INIT;
	ev.seq             = t->seq;
	ev.fingerprint     = (char *) t->fingerprint;
	ev.rule            = (char *) t->rule;
	ev.state           = (char *) t->state;
	ev.area            = (char *) t->area;
	ev.code            = (char *) t->code;
	ev.period          = (char *) t->period;
	ev.value           = t->value;
	ev.threshold       = t->threshold;
	ev.summary_en      = (char *) en;
	ev.summary_th      = (char *) th;
	ev.at_unix_ms      = t->at_unix_ms;
	hsi_log_info(strcmp(t->state, "firing") == 0 ? "alert firing"
	                                             : "alert resolved",
	    "{s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:f, s:i, s:s}", "seq",
	    (json_int_t) t->seq, "fingerprint", t->fingerprint, "rule",
	    t->rule, "area", t->area, "code", t->code, "period", t->period,
	    "value", t->value, "op", hsi_rule_op_name(t->op), "threshold",
	    t->threshold, "methodology", t->methodology, "summary", en);
	if (send_event(a, &ev) != 0) {
		hsi_log_error("cannot publish alert event", "{s:I}", "seq",
		    (json_int_t) t->seq);
	}
}

/* libpq does not reconnect by itself; a restarted server would otherwise
 * leave the alerter failing until it is restarted too. */
static int
ensure_db(hsi_alerter *a)
{
	if (PQstatus(a->db) != CONNECTION_OK) {
		PQreset(a->db);
		if (PQstatus(a->db) != CONNECTION_OK) {
			char msg[400];
			snprintf(
			    msg, sizeof(msg), "%s", PQerrorMessage(a->db));
			msg[strcspn(msg, "\n")] = '\0';
			hsi_log_error(
			    "database unavailable", "{s:s}", "error", msg);
			return HSI_EDB;
		}
		hsi_log_info("database reconnected", NULL);
	}
	return 0;
}

/* Evaluates period and publishes what changed; with a->mu held. */
static int
run_period(void *arg, const char *period)
{
	hsi_alerter    *a = arg;
	hsi_transition *t = NULL;
	size_t          n = 0;
	int             rv;
	if ((rv = ensure_db(a)) != 0) {
		return rv;
	}
	rv = hsi_eval_period(a->db, a->rules, period, &t, &n);
	if (rv == HSI_EDB && PQstatus(a->db) != CONNECTION_OK
	    && ensure_db(a) == 0) {
		rv = hsi_eval_period(a->db, a->rules, period, &t, &n);
	}
	if (rv == HSI_ENOENT) {
		hsi_log_warn("no active methodology: nothing evaluated",
		    "{s:s}", "period", period);
		return 0;
	}
	if (rv != 0) {
		hsi_log_error("evaluation failed", "{s:s, s:s}", "period",
		    period, "error", hsi_strerror(rv));
		return rv;
	}
	for (size_t i = 0; i < n; i++) {
		publish(a, &t[i]);
	}
	if (n > 0) {
		hsi_notify_wake(a->notify);
	}
	hsi_log_debug(
	    "evaluated", "{s:s, s:i}", "period", period, "changes", (int) n);
	free(t);
	return 0;
}

static int resync_locked(hsi_alerter *a);

/* late_data reads every revision of the window (common/quality.c), so
 * a burst of files does not run it for each: at most this often on data,
 * and on every clock tick. */
#define LATE_MIN_INTERVAL_MS 10000

/* Evaluates the data rules (suspicious and spike for the years changed
 * since the last time, late_data when force or it is due) and publishes;
 * with a->mu held. */
static int
run_data(hsi_alerter *a, int force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t since = (int64_t) (now.tv_sec - a->late_at.tv_sec) * 1000
	    + (now.tv_nsec - a->late_at.tv_nsec) / 1000000;
	int late
	    = force || a->late_at.tv_sec == 0 || since >= LATE_MIN_INTERVAL_MS;
	hsi_transition *t = NULL;
	size_t          n = 0;
	int             rv;
	if ((rv = ensure_db(a)) != 0) {
		return rv;
	}
	if ((rv = hsi_eval_data(a->db, a->rules, &a->data_mark, late, &t, &n))
	    != 0) {
		hsi_log_error("evaluation failed", "{s:s, s:s}", "period",
		    "(data rules)", "error", hsi_strerror(rv));
		return rv;
	}
	if (late) {
		a->late_at = now;
	}
	for (size_t i = 0; i < n; i++) {
		publish(a, &t[i]);
	}
	if (n > 0) {
		hsi_notify_wake(a->notify);
	}
	free(t);
	return 0;
}

/* Records the rules document in alert_rules and tells the evaluator its
 * version; with a->mu held. */
static int
record_rules(hsi_alerter *a)
{
	size_t        len;
	const char   *text = hsi_rules_text(a->rules, &len);
	unsigned char md[32];
	char          hex[65];
	SHA256((const unsigned char *) text, len, md);
	for (int i = 0; i < 32; i++) {
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
	const char *p[3]
	    = { hex, text, a->rules_path ? a->rules_path : "built-in rules" };
	PGresult *r = hsi_db_query(a->db, "record rules",
	    "INSERT INTO alert_rules (sha256, doc, source) VALUES"
	    " ($1, $2::jsonb, $3) ON CONFLICT (sha256) DO UPDATE SET"
	    " loaded_at = now(), source = EXCLUDED.source RETURNING version",
	    3, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	hsi_eval_set_rules_version(version);
	hsi_log_info("rules in force", "{s:i, s:s, s:i, s:i}", "version",
	    version, "sha256", hex, "rules", (int) hsi_rules_count(a->rules),
	    "receivers", (int) hsi_rules_receiver_count(a->rules));
	return 0;
}

int
hsi_alerter_tick(hsi_alerter *a, int clock)
{
	size_t queued = 0;
	pthread_mutex_lock(&a->mu);
	int rv = ensure_db(a);
	if (rv == 0 && clock) {
		rv = resync_locked(a);
		if (rv == 0) {
			rv = run_data(a, 1);
		}
	}
	if (rv == 0) {
		rv = hsi_lifecycle_sweep(a->db, a->rules, &queued);
	}
	if (queued > 0) {
		hsi_notify_wake(a->notify);
	}
	pthread_mutex_unlock(&a->mu);
	return rv;
}

int
hsi_alerter_reload(
    hsi_alerter *a, hsi_rules *rules, char *err, size_t err_size)
{
	pthread_mutex_lock(&a->mu);
	hsi_rules *old = a->rules;
	/* The delivery thread reads the receivers: it restarts with them. */
	hsi_notify_stop(a->notify);
	a->notify = NULL;
	a->rules  = rules;
	int rv    = 0;
	if (hsi_rules_receiver_count(rules) > 0) {
		rv = hsi_notify_start(
		    a->db_url, rules, &a->notify, err, err_size);
	}
	if (rv == 0 && ensure_db(a) == 0) {
		record_rules(a);
		/* What the new rules say about the data now. */
		uint64_t seq = 0;
		char     period[HSI_PERIOD_MAX];
		if (hsi_eval_latest(a->db, period, &seq) == 0) {
			run_period(a, period);
		}
		run_data(a, 1);
	}
	pthread_mutex_unlock(&a->mu);
	hsi_rules_free(old);
	return rv;
}

static int
resync_locked(hsi_alerter *a)
{
	uint64_t seq = a->last_seq;
	int      rv  = ensure_db(a);
	if (rv == 0) {
		rv = hsi_eval_changed(a->db, a->last_seq, &seq, run_period, a);
	}
	if (rv == HSI_ENOENT) {
		rv = 0; /* no active methodology yet */
	}
	if (rv == 0) {
		a->last_seq = seq;
	}
	return rv;
}

int
hsi_alerter_resync(hsi_alerter *a)
{
	pthread_mutex_lock(&a->mu);
	int rv = resync_locked(a);
	pthread_mutex_unlock(&a->mu);
	return rv;
}

int
hsi_alerter_handle(hsi_alerter *a, const void *msg, size_t len)
{
	uint64_t seq;
	char     period[HSI_PERIOD_MAX];
	/* An ack means the scorer applied (or refused) a node's file: data
	 * may have changed, whether or not a score follows. Its content does
	 * not matter -- the observations' updated_at say what changed -- so
	 * it needs no decoding, and a forged one costs one query. */
	if (len > 4 && memcmp(msg, "ack.", 4) == 0) {
		pthread_mutex_lock(&a->mu);
		int rv = run_data(a, 0);
		pthread_mutex_unlock(&a->mu);
		return rv;
	}
	if (hsi_score_event_decode(msg, len, &seq, period) != 0) {
		hsi_log_warn("dropped a malformed score event", "{s:i}",
		    "bytes", (int) len);
		return HSI_EPROTO;
	}
	pthread_mutex_lock(&a->mu);
	int rv = run_period(a, period);
	/* A gap means events were lost: their periods are found from the
	 * scores' event_seq, not from the events. */
	if (rv == 0 && seq > a->last_seq + 1) {
		hsi_log_info("score event gap: resyncing", "{s:I, s:I}",
		    "last_seq", (json_int_t) a->last_seq, "seq",
		    (json_int_t) seq);
		rv = resync_locked(a);
	}
	if (rv == 0 && seq > a->last_seq) {
		a->last_seq = seq;
	}
	pthread_mutex_unlock(&a->mu);
	return rv;
}

static void *
recv_main(void *arg)
{
	hsi_alerter *a = arg;
	for (;;) {
		nng_msg *m;
		int      rv = nng_recvmsg(a->sub, &m, 0);
		if (rv == NNG_ECLOSED) {
			break;
		}
		if (rv != 0) {
			hsi_log_warn("receive failed", "{s:s}", "error",
			    nng_strerror(rv));
			continue;
		}
		hsi_alerter_handle(a, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
	}
	return NULL;
}

int
hsi_alerter_open(const hsi_alerter_opts *opts, hsi_rules *rules,
    hsi_alerter **out, char *err, size_t err_size)
{
	static const char *const topics[] = { "score\n", "ack.", NULL };
	hsi_alerter             *a        = calloc(1, sizeof(*a));
	int                      rv;
	if (a == NULL) {
		return HSI_ENOMEM;
	}
	pthread_mutex_init(&a->mu, NULL);
	if ((rv = hsi_db_open(opts->db_url, &a->db, err, err_size)) != 0
	    || (rv = hsi_net_pub_open(
	            &a->pub, opts->alerts_listen, 1, NULL, err, err_size))
	        != 0) {
		goto fail;
	}
	if ((rv = hsi_net_sub_open(&a->sub, opts->events_url, 0, topics,
	         &opts->tls, err, err_size))
	    != 0) {
		nng_close(a->pub);
		goto fail;
	}
	if ((a->db_url = strdup(opts->db_url)) == NULL
	    || (opts->rules_path != NULL
	        && (a->rules_path = strdup(opts->rules_path)) == NULL)) {
		free(a->db_url);
		rv = HSI_ENOMEM;
		nng_close(a->pub);
		nng_close(a->sub);
		goto fail;
	}
	a->sub_open = 1;
	a->rules    = rules;
	*out        = a;
	return 0;
fail:
	hsi_db_close(a->db);
	pthread_mutex_destroy(&a->mu);
	free(a);
	return rv;
}

int
hsi_alerter_start(hsi_alerter *a, char *err, size_t err_size)
{
	char period[HSI_PERIOD_MAX];
	int  rv = record_rules(a);
	if (rv != 0) {
		snprintf(err, err_size,
		    "cannot record the rules in alert_rules (has hsi-scorer "
		    "applied the migrations? see the database error above)");
		return rv;
	}
	if ((rv = run_data(a, 1)) != 0) {
		snprintf(err, err_size,
		    "cannot evaluate the data rules against PostgreSQL (see "
		    "the database error above)");
		return rv;
	}
	rv = hsi_eval_latest(a->db, period, &a->last_seq);
	if (rv == 0) {
		hsi_log_info("catching up", "{s:s, s:I}", "period", period,
		    "last_seq", (json_int_t) a->last_seq);
		rv = run_period(a, period);
	} else if (rv == HSI_ENOENT) {
		hsi_log_info("no scores yet: waiting for score events", NULL);
		rv = 0;
	}
	if (rv != 0) {
		snprintf(err, err_size,
		    "cannot evaluate the alert rules against PostgreSQL "
		    "(has hsi-scorer applied the migrations? see the "
		    "database error above)");
		return rv;
	}
	/* Started after the catch-up so that the first pass sees its rows
	 * too; rows left by an earlier run go out now as well. */
	if (hsi_rules_receiver_count(a->rules) > 0
	    && (rv = hsi_notify_start(
	            a->db_url, a->rules, &a->notify, err, err_size))
	        != 0) {
		return rv;
	}
	if (pthread_create(&a->thread, NULL, recv_main, a) != 0) {
		snprintf(err, err_size, "cannot start the receive thread");
		return HSI_ENOMEM;
	}
	a->running = 1;
	return 0;
}

void
hsi_alerter_stop(hsi_alerter *a)
{
	if (a->sub_open) {
		/* Closing is the only way to wake a blocked nng_recvmsg
		 * (no receive timeout: nng 1.5.2 bugs), and the close itself
		 * can hang in 1.5.2: bounded, and the thread abandoned if
		 * it does (the process is exiting). */
		a->sub_open = 0;
		if (hsi_net_close_bounded(a->sub, 3000) != 0) {
			a->running   = 0;
			a->abandoned = 1;
		}
	}
	if (a->running) {
		pthread_join(a->thread, NULL);
		a->running = 0;
	}
	hsi_notify_stop(a->notify);
	a->notify = NULL;
}

void
hsi_alerter_close(hsi_alerter *a)
{
	if (a == NULL) {
		return;
	}
	hsi_alerter_stop(a);
	if (a->abandoned) {
		return; /* its thread may still run: leak, do not free */
	}
	hsi_net_close_bounded(a->pub, 3000);
	hsi_db_close(a->db);
	free(a->db_url);
	free(a->rules_path);
	hsi_rules_free(a->rules);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
