/*
 * scorer_int.h: what the scorer's own files share (not for other code).
 */
#ifndef HSI_SCORER_INT_H
#define HSI_SCORER_INT_H

#include <libpq-fe.h>
#include <nng/nng.h>

#include "catalog.h"
#include "engine.h"
#include "panel.h"
#include "method.h"
#include "envelope.h"
#include "scorer.h"

/* Index years are bounded by the period parser (1900..2399 CE), so the
 * set of years to rescore is a bitmap that cannot overflow. */
#define YEAR_MIN 1900
#define YEAR_SPAN 500

struct hsi_scorer {
	const hsi_scorer_config *cfg;
	PGconn                  *db;
	hsi_catalog             *cat;
	hsi_method              *method;
	hsi_areas                areas; /* for method->rank_level */
	nng_socket               ingest, events;
	struct hsi_rxq          *rxq;
	hsi_key                 *keys;
	size_t                   n_keys;
	unsigned char            dirty[YEAR_SPAN]; /* years to rescore */
	size_t                   n_dirty;
	long long                dirty_since_ms;
	long long                last_msg_ms;
	long long                db_down_logged_ms;
	long long                stats_received, stats_dropped;
	long long                stats_quarantined;
};

long long hsi_now_ms(void);

/* apply.c: one message from the ingest socket. */
void hsi_scorer_handle(hsi_scorer *s, const unsigned char *msg, size_t len);
int  hsi_scorer_load_keys(hsi_scorer *s);
/* A valid key of agency named id (the newest, if id is NULL); reload:
 * look in PostgreSQL once if it is not loaded yet. */
const hsi_key *hsi_scorer_find_key(
    hsi_scorer *s, const char *agency, const char *id, int reload);

/* ack.c: acks with unconfirmed verdicts, heartbeats, confirmations. */
void hsi_scorer_publish_ack(hsi_scorer *s, const hsi_key *key,
    const char *agency, const char *node, uint64_t epoch, uint64_t acked,
    const char *refusal);
void hsi_scorer_heartbeat(hsi_scorer *s);
void hsi_scorer_node_status(
    hsi_scorer *s, const Hsi__Envelope *env, const Hsi__NodeStatus *st);

/* compute.c: rescore the dirty years (bitmap from YEAR_MIN) and those
 * depending on them; publish a ScoreEvent per year. */
int  hsi_scorer_compute(hsi_scorer *s, const unsigned char *dirty);
void hsi_scorer_mark_dirty(hsi_scorer *s, int year);
int  hsi_scorer_ensure_method(hsi_scorer *s);
int  hsi_scorer_check_method(hsi_scorer *s);

#endif
