/*
 * alerter.c: sockets, the receive thread and publishing for hsi-alerter
 * (see alerter.h). One mutex serialises everything that touches the
 * database connection: the receive thread and main()'s periodic resync.
 */
#include "alerter.h"

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
#include "log.h"
#include "net.h"
#include "notify.h"
#include "summary.h"

struct hsi_alerter {
	hsi_rules      *rules;
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
	uint64_t        last_seq; /* highest score event_seq handled */
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
	char en[512], th[768];
	hsi_summary_format(t, en, sizeof(en), th, sizeof(th));
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
	ev.summary_en      = en;
	ev.summary_th      = th;
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
	static const char *const topics[] = { "score\n", NULL };
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
	if ((a->db_url = strdup(opts->db_url)) == NULL) {
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
	int  rv = hsi_eval_latest(a->db, period, &a->last_seq);
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
	hsi_rules_free(a->rules);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
