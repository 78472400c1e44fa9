/*
 * tap.c: hsictl tap -- a subscriber that prints what a PUB socket sends
 * (the scorer's score events, the alerter's alert events, acks, catalog
 * snapshots), one JSON object per message on stdout, so scripts and
 * people can watch the live system and time it (scripts/bench/score
 * measures submission -> ScoreEvent with it).
 *
 * The receive thread blocks in nng_recvmsg without NNG_OPT_RECVTIMEO (a
 * receive timeout on a SUB socket crashes nng 1.5.2: net.h); the main
 * thread keeps the deadline and the count, and closing the socket is what
 * ends the receive thread. Lines are stamped and flushed as each message
 * arrives, never batched, or the stamps would measure the tap.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "hsictl.h"
#include "net.h"
#include "period.h"
#include "service.h"

#define TAP_MAX_TOPICS 16

typedef struct {
	nng_socket      sock;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	long            count; /* stop after this many; 0: no limit */
	long            seen;
	int             done; /* receive thread has ended */
	const char     *url;
} tap;

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A JSON string, or null for text that is not UTF-8 (protobuf-c does not
 * check it, and jansson refuses it). */
static json_t *
text(const char *s)
{
	json_t *j = s != NULL ? json_string(s) : NULL;
	return j != NULL ? j : json_null();
}

/* The canonical period, or null when the sender's is not one. */
static json_t *
period_json(const char *s)
{
	hsi_period p;
	char       buf[HSI_PERIOD_MAX];
	if (s == NULL || hsi_period_parse(s, strlen(s), &p, NULL) != 0) {
		return json_null();
	}
	hsi_period_format(&p, buf, sizeof(buf));
	return json_string(buf);
}

static void
add_score(json_t *o, const Hsi__Envelope *env)
{
	Hsi__ScoreEvent *ev
	    = (Hsi__ScoreEvent *) hsi_pb_unpack(&hsi__score_event__descriptor,
	        env->payload.data, env->payload.len);
	if (ev == NULL) {
		json_object_set_new(o, "error", json_string("malformed"));
		return;
	}
	json_object_set_new(o, "seq", json_integer((json_int_t) ev->seq));
	json_object_set_new(o, "period", period_json(ev->period));
	json_object_set_new(
	    o, "methodology", json_integer(ev->methodology_version));
	json_object_set_new(
	    o, "computed_unix_ms", json_integer(ev->computed_unix_ms));
	json_object_set_new(
	    o, "areas", json_integer((json_int_t) ev->n_changed_areas));
	hsi_pb_free(&ev->base);
}

static void
add_alert(json_t *o, const Hsi__Envelope *env)
{
	Hsi__AlertEvent *ev
	    = (Hsi__AlertEvent *) hsi_pb_unpack(&hsi__alert_event__descriptor,
	        env->payload.data, env->payload.len);
	if (ev == NULL) {
		json_object_set_new(o, "error", json_string("malformed"));
		return;
	}
	json_object_set_new(o, "seq", json_integer((json_int_t) ev->seq));
	json_object_set_new(o, "period", period_json(ev->period));
	json_object_set_new(o, "rule", text(ev->rule));
	json_object_set_new(o, "state", text(ev->state));
	json_object_set_new(o, "area", text(ev->area));
	json_object_set_new(o, "code", text(ev->code));
	json_object_set_new(o, "value", json_real(ev->value));
	json_object_set_new(o, "at_unix_ms", json_integer(ev->at_unix_ms));
	hsi_pb_free(&ev->base);
}

/* One message as a JSON object: what the envelope says it carries. */
static json_t *
describe(const void *msg, size_t len, long long received_ms)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env = NULL;
	json_t              *o   = json_object();
	if (o == NULL) {
		return NULL;
	}
	if (hsi_net_split(msg, len, topic, &body, &blen) != 0) {
		json_object_set_new(o, "topic", json_null());
		json_object_set_new(o, "error", json_string("no topic"));
		goto out;
	}
	json_object_set_new(o, "topic", text(topic));
	if (hsi_envelope_open(body, blen, &env) != 0) {
		json_object_set_new(o, "error", json_string("malformed"));
	} else if (env->payload_type == HSI__PAYLOAD_TYPE__SCORE_EVENT) {
		add_score(o, env);
	} else if (env->payload_type == HSI__PAYLOAD_TYPE__ALERT_EVENT) {
		add_alert(o, env);
	} else {
		json_object_set_new(
		    o, "seq", json_integer((json_int_t) env->seq));
		json_object_set_new(o, "agency", text(env->agency));
		json_object_set_new(
		    o, "payload_type", json_integer(env->payload_type));
	}
	hsi_envelope_free(env);
out:
	json_object_set_new(o, "bytes", json_integer((json_int_t) len));
	json_object_set_new(o, "received_unix_ms", json_integer(received_ms));
	return o;
}

static void
print_line(json_t *o)
{
	char *s = o != NULL
	    ? json_dumps(o,
	        JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
	    : NULL;
	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(s);
	json_decref(o);
}

static void *
recv_main(void *arg)
{
	tap *t = arg;
	for (;;) {
		nng_msg *m;
		int      rv = nng_recvmsg(t->sock, &m, 0);
		if (rv == NNG_ECLOSED) {
			break;
		}
		if (rv != 0) {
			fprintf(stderr, "hsictl tap: receive failed: %s\n",
			    nng_strerror(rv));
			continue;
		}
		long long at = now_ms();
		print_line(describe(nng_msg_body(m), nng_msg_len(m), at));
		nng_msg_free(m);
		pthread_mutex_lock(&t->mtx);
		t->seen++;
		int enough = t->count > 0 && t->seen >= t->count;
		pthread_mutex_unlock(&t->mtx);
		if (enough) {
			break;
		}
	}
	pthread_mutex_lock(&t->mtx);
	t->done = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mtx);
	return NULL;
}

/* Says on stderr when the link is up, so a script can wait for it before
 * it makes the events it wants to see (PUB drops what no peer gets). */
static void
on_pipe(nng_pipe p, nng_pipe_ev what, void *arg)
{
	const tap *t = arg;
	(void) p;
	fprintf(stderr, "hsictl tap: %s %s\n",
	    what == NNG_PIPE_EV_ADD_POST ? "connected to"
	                                 : "disconnected from",
	    t->url);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl tap --events URL [--topic PREFIX]... [--count N]\n"
	    "                  [--timeout-ms T] [--tls-cert PEM --tls-ca "
	    "PEM]\n\n"
	    "Subscribes to a PUB socket (the scorer's --events-listen, the "
	    "alerter's\n--alerts-listen) and prints one JSON object per "
	    "message on stdout:\ntopic, seq, period, methodology, "
	    "computed_unix_ms (score events), rule,\nstate, area, code, "
	    "value, at_unix_ms (alert events), bytes and\n"
	    "received_unix_ms.\n\n"
	    "  --topic PREFIX   topics that start with PREFIX; repeatable; "
	    "default score;\n"
	    "                   '' for every topic (acks, catalogs too)\n"
	    "  --count N        exit 0 after N messages (default: no limit)\n"
	    "  --timeout-ms T   stop after T ms; exit 1 if --count was not "
	    "reached\n"
	    "Connection changes are reported on stderr. SIGINT or SIGTERM "
	    "stops it.\n");
}

/* Parses a non-negative number into *out: 0 or -1. */
static int
parse_long(const char *s, long *out)
{
	char *end;
	errno  = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0) {
		return -1;
	}
	*out = v;
	return 0;
}

/* Waits until the receive thread ends, the deadline passes or a signal
 * comes; returns 1 when the thread ended. Wakes every 100 ms for the
 * signal flag; that costs nothing in the stamps (the receive thread does
 * the printing). */
static int
wait_end(tap *t, long timeout_ms, volatile sig_atomic_t *stop)
{
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	int       done;
	pthread_mutex_lock(&t->mtx);
	while (!(done = t->done) && !*stop
	    && (deadline == 0 || now_ms() < deadline)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cv, &t->mtx, &ts);
	}
	pthread_mutex_unlock(&t->mtx);
	return done;
}

int
hsictl_tap(int argc, char **argv)
{
	static volatile sig_atomic_t stop;
	const char                  *topics[TAP_MAX_TOPICS + 1] = { 0 };
	int                          ntopics                    = 0;
	long                         count = 0, timeout_ms = 0;
	hsi_net_tls                  tls = { NULL, NULL, NULL };
	tap                          t;
	memset(&t, 0, sizeof(t));
	/* Every option but --help takes a value: step two at a time. */
	for (int i = 1; i < argc; i += 2) {
		const char *a   = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (val == NULL) {
			fprintf(stderr, "hsictl tap: '%s' needs a value\n", a);
			return 2;
		} else if (strcmp(a, "--events") == 0) {
			t.url = val;
		} else if (strcmp(a, "--topic") == 0) {
			/* An empty prefix subscribes to everything; nng
			 * matches topics as byte prefixes. */
			if (ntopics == TAP_MAX_TOPICS
			    || strlen(val) >= HSI_TOPIC_MAX) {
				fprintf(stderr,
				    "hsictl tap: at most %d topics of at "
				    "most %d bytes\n",
				    TAP_MAX_TOPICS, HSI_TOPIC_MAX - 1);
				return 2;
			}
			topics[ntopics++] = val;
		} else if (strcmp(a, "--count") == 0) {
			if (parse_long(val, &count) != 0) {
				fprintf(stderr,
				    "hsictl tap: --count '%s': give a whole "
				    "number >= 0\n",
				    val);
				return 2;
			}
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (parse_long(val, &timeout_ms) != 0) {
				fprintf(stderr,
				    "hsictl tap: --timeout-ms '%s': give a "
				    "whole number of milliseconds >= 0\n",
				    val);
				return 2;
			}
		} else if (strcmp(a, "--tls-cert") == 0) {
			tls.cert_file = val;
		} else if (strcmp(a, "--tls-ca") == 0) {
			tls.ca_file = val;
		} else {
			fprintf(
			    stderr, "hsictl tap: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (t.url == NULL) {
		fprintf(stderr, "hsictl tap: --events URL is required\n");
		usage(stderr);
		return 2;
	}
	if (ntopics == 0) {
		topics[ntopics++] = "score\n";
	}
	for (int k = 0; k < ntopics; k++) {
		if (topics[k][0] == '\0') {
			topics[0] = NULL; /* everything */
			break;
		}
	}
	char err[512];
	hsi_service_flag_signals(&stop);
	if (hsi_net_sub_open(&t.sock, t.url, 0, topics,
	        tls.cert_file != NULL ? &tls : NULL, err, sizeof(err))
	    != 0) {
		fprintf(stderr, "hsictl tap: %s\n", err);
		return 1;
	}
	t.count = count;
	pthread_mutex_init(&t.mtx, NULL);
	pthread_cond_init(&t.cv, NULL);
	nng_pipe_notify(t.sock, NNG_PIPE_EV_ADD_POST, on_pipe, &t);
	nng_pipe_notify(t.sock, NNG_PIPE_EV_REM_POST, on_pipe, &t);
	pthread_t th;
	if (pthread_create(&th, NULL, recv_main, &t) != 0) {
		fprintf(stderr, "hsictl tap: cannot start a thread\n");
		hsi_net_close_bounded(t.sock, 3000);
		return 1;
	}
	int reached = wait_end(&t, timeout_ms, &stop);
	/* Closing ends the receive thread. A close that hangs (nng #1543)
	 * leaves it behind: the process is exiting anyway. */
	if (hsi_net_close_bounded(t.sock, 3000) == 0) {
		pthread_join(th, NULL);
		pthread_mutex_destroy(&t.mtx);
		pthread_cond_destroy(&t.cv);
	}
	return count > 0 && !reached ? 1 : 0;
}
