/*
 * scorer.c: the scorer's lifecycle and main loop.
 *
 * Messages arrive through an hsi_rxq (a blocking receive thread); the
 * main thread owns the PostgreSQL connection and does everything else, so
 * no database state is shared between threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "rxq.h"
#include "scorer_int.h"

#define O(f) offsetof(hsi_scorer_config, f)
const hsi_cfg_opt hsi_scorer_opts[] = {
	{ "db_url", HSI_CFG_STR, O(db_url), NULL, "PostgreSQL URL (required)",
	    0, 0 },
	{ "ingest_listen", HSI_CFG_STR, O(ingest_listen),
	    "tcp://127.0.0.1:7450", "where agency nodes send batches", 0, 0 },
	{ "events_listen", HSI_CFG_STR, O(events_listen),
	    "tcp://127.0.0.1:7451", "where acks, catalog and scores go out", 0,
	    0 },
	{ "tls_cert", HSI_CFG_STR, O(tls_cert), NULL,
	    "PEM certificate+key for tls+tcp:// addresses", 0, 0 },
	{ "tls_ca", HSI_CFG_STR, O(tls_ca), NULL, "PEM CA for peers", 0, 0 },
	{ "compute_delay_ms", HSI_CFG_INT, O(compute_delay_ms), "50",
	    "quiet time before recomputing (coalesces bursts)", 0, 3600000 },
	{ "compute_max_delay_ms", HSI_CFG_INT, O(compute_max_delay_ms), "1000",
	    "longest wait before recomputing during a stream", 0, 3600000 },
	{ "catalog_interval_ms", HSI_CFG_INT, O(catalog_interval_ms), "2000",
	    "how often the catalog is re-published", 100, 3600000 },
	{ "heartbeat_ms", HSI_CFG_INT, O(heartbeat_ms), "1000",
	    "how often cumulative acks are re-published", 50, 60000 },
	{ "log_level", HSI_CFG_STR, O(log_level), "info",
	    "debug, info, warn or error", 0, 0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};
#undef O

long long
hsi_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
seed_catalog(hsi_scorer *s, char *err, size_t err_size)
{
	PGresult *r = hsi_db_query(s->db, "catalog present",
	    "SELECT 1 FROM catalog_version", 0, NULL);
	if (r == NULL) {
		snprintf(err, err_size, "cannot read catalog_version");
		return HSI_EDB;
	}
	int have = PQntuples(r) > 0;
	PQclear(r);
	if (have) {
		return 0;
	}
	hsi_catalog *c;
	int rv = hsi_catalog_from_refdata(NULL, 0, NULL, &c, err, err_size);
	if (rv == 0) {
		rv = hsi_catalog_store_db(s->db, c, err, err_size);
		hsi_catalog_free(c);
	}
	if (rv == 0) {
		hsi_log_info("reference catalog loaded", NULL);
	}
	return rv;
}

int
hsi_scorer_open(
    const hsi_scorer_config *cfg, hsi_scorer **out, char *err, size_t err_size)
{
	hsi_scorer *s = calloc(1, sizeof(*s));
	int         rv;
	if (s == NULL) {
		return HSI_ENOMEM;
	}
	s->cfg          = cfg;
	hsi_net_tls tls = { cfg->tls_cert, NULL, cfg->tls_ca };
	if ((rv = hsi_db_open(cfg->db_url, &s->db, err, err_size)) != 0
	    || (rv = hsi_db_migrate(s->db, err, err_size)) != 0
	    || (rv = seed_catalog(s, err, err_size)) != 0
	    || (rv = hsi_catalog_load_db(s->db, &s->cat, err, err_size))
	        != 0) {
		goto fail;
	}
	if ((rv = hsi_scorer_ensure_method(s)) != 0) {
		snprintf(err, err_size, "cannot set up the methodology: %s",
		    hsi_strerror(rv));
		goto fail;
	}
	if ((rv = hsi_scorer_load_keys(s)) != 0) {
		snprintf(err, err_size, "cannot load agency keys");
		goto fail;
	}
	if ((rv = hsi_net_pub_open(
	         &s->events, cfg->events_listen, 1, &tls, err, err_size))
	    != 0) {
		goto fail;
	}
	if ((rv = hsi_net_sub_open(&s->ingest, cfg->ingest_listen, 1,
	         (const char *const[]) { "obs.", NULL }, &tls, err, err_size))
	    != 0) {
		nng_close(s->events);
		goto fail;
	}
	if ((rv = hsi_rxq_start(s->ingest, 16384, &s->rxq)) != 0) {
		snprintf(err, err_size, "cannot start the receive thread");
		nng_close(s->ingest);
		nng_close(s->events);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	hsi_db_close(s->db);
	hsi_catalog_free(s->cat);
	hsi_method_free(s->method);
	hsi_areas_fini(&s->areas);
	free(s->keys);
	free(s);
	return rv;
}

/*
 * Publishes the catalog to every agency on catalog.<AGENCY>, once for each
 * of its valid keys (an agency may run several nodes, or be mid-rotation):
 * nodes accept only a snapshot signed with their own key, and no central
 * secret has to be given to 23 sites for it.
 */
static void
publish_catalog(hsi_scorer *s)
{
	uint8_t *snap;
	size_t   len;
	if (hsi_catalog_to_snapshot(s->cat, &snap, &len) != 0) {
		return;
	}
	for (size_t i = 0; i < s->n_keys; i++) {
		const hsi_key *key = &s->keys[i];
		const char    *ag  = key->agency;
		char           topic[HSI_TOPIC_MAX];
		snprintf(topic, sizeof(topic), "catalog.%s", ag);
		Hsi__Envelope env = HSI__ENVELOPE__INIT;
		env.agency        = (char *) ag;
		env.node_id       = "scorer";
		env.seq           = s->cat->version;
		env.sent_unix_ms  = hsi_now_ms();
		env.payload_type  = HSI__PAYLOAD_TYPE__CATALOG_SNAPSHOT;
		env.payload.data  = snap;
		env.payload.len   = len;
		hsi_envelope_publish(s->events, topic, &env, key);
	}
	free(snap);
}

/* Scores the dirty years once the stream has been quiet for
 * compute_delay_ms, or at the latest compute_max_delay_ms after the first
 * change, so a burst of files costs one computation, not one per file. */
static void
maybe_compute(hsi_scorer *s, int now_anyway)
{
	long long now = hsi_now_ms();
	if (s->n_dirty == 0
	    || (!now_anyway && now - s->last_msg_ms < s->cfg->compute_delay_ms
	        && now - s->dirty_since_ms < s->cfg->compute_max_delay_ms)) {
		return;
	}
	unsigned char years[YEAR_SPAN];
	memcpy(years, s->dirty, sizeof(years));
	memset(s->dirty, 0, sizeof(s->dirty));
	s->n_dirty = 0;
	if (hsi_scorer_compute(s, years) != 0) {
		for (int i = 0; i < YEAR_SPAN; i++) {
			if (years[i]) {
				hsi_scorer_mark_dirty(
				    s, YEAR_MIN + i); /* retry */
			}
		}
	}
}

/* How long to wait for a message: until the next computation is due
 * when years are dirty (so a quiet stream is scored on time, not on the
 * next poll), else 100 ms. */
static int
wait_ms(const hsi_scorer *s, long long now)
{
	if (s->n_dirty == 0) {
		return 100;
	}
	long long quiet = s->last_msg_ms + s->cfg->compute_delay_ms - now;
	long long cap = s->dirty_since_ms + s->cfg->compute_max_delay_ms - now;
	long long w   = quiet < cap ? quiet : cap;
	return w < 1 ? 1 : w > 100 ? 100 : (int) w;
}

/* Messages dropped (undecodable, or the receive queue full) and refused
 * (quarantined) are counted, never fatal. */
static void
log_stats(hsi_scorer *s)
{
	hsi_log_info("stats", "{s:I, s:I, s:I, s:I}", "received",
	    (json_int_t) s->stats_received, "undecodable",
	    (json_int_t) s->stats_dropped, "quarantined",
	    (json_int_t) s->stats_quarantined, "queue_dropped",
	    (json_int_t) hsi_rxq_dropped(s->rxq));
}

int
hsi_scorer_run(hsi_scorer *s, volatile sig_atomic_t *stop)
{
	long long next_catalog = 0, next_heartbeat = 0;
	long long next_stats = hsi_now_ms() + 60000;
	hsi_log_info("ready", "{s:s, s:s, s:i}", "ingest",
	    s->cfg->ingest_listen, "events", s->cfg->events_listen,
	    "catalog_version", (int) s->cat->version);
	while (!*stop) {
		long long now = hsi_now_ms();
		if (hsi_db_ensure(s->db) != 0) {
			/* PostgreSQL is away: take nothing in (nodes resend
			 * unacknowledged parts) and try again shortly. */
			if (now - s->db_down_logged_ms > 5000) {
				hsi_log_warn(
				    "PostgreSQL unreachable; waiting", NULL);
				s->db_down_logged_ms = now;
			}
			nng_msg *drop = hsi_rxq_get(s->rxq, 500);
			if (drop != NULL) {
				nng_msg_free(drop);
			}
			continue;
		}
		if (now >= next_catalog) {
			/* Keys made since the last round sign this one. */
			hsi_scorer_load_keys(s);
			hsi_scorer_check_method(s);
			publish_catalog(s);
			next_catalog = now + s->cfg->catalog_interval_ms;
		}
		if (now >= next_stats) {
			log_stats(s);
			next_stats = now + 60000;
		}
		if (now >= next_heartbeat) {
			hsi_scorer_heartbeat(s);
			next_heartbeat = now + s->cfg->heartbeat_ms;
		}
		nng_msg *m = hsi_rxq_get(s->rxq, wait_ms(s, now));
		if (m != NULL) {
			s->last_msg_ms = hsi_now_ms();
			hsi_scorer_handle(s, nng_msg_body(m), nng_msg_len(m));
			nng_msg_free(m);
			continue;
		}
		maybe_compute(s, 0);
	}
	/* What was applied is scored before stopping (and a restart after a
	 * crash finds stale years: hsi_scorer_ensure_method). */
	maybe_compute(s, 1);
	log_stats(s);
	hsi_log_info("stopping", NULL);
	return 0;
}

void
hsi_scorer_close(hsi_scorer *s)
{
	if (s == NULL) {
		return;
	}
	hsi_rxq_stop(s->rxq); /* closes the ingest socket */
	/* Bounded: nng 1.5.2's close can hang (net.h). */
	hsi_net_close_bounded(s->events, 3000);
	hsi_db_close(s->db);
	hsi_catalog_free(s->cat);
	hsi_method_free(s->method);
	hsi_areas_fini(&s->areas);
	free(s->keys);
	free(s);
}
