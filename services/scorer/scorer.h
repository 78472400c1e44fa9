/*
 * scorer.h: hsi-scorer, the central service. It receives agency batches on
 * its ingest SUB socket, verifies and stages them in PostgreSQL, applies
 * complete files atomically, acks, recomputes the index for what changed
 * and publishes acks, the catalog and ScoreEvents on its events PUB socket.
 */
#ifndef HSI_SCORER_H
#define HSI_SCORER_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

typedef struct {
	char *db_url;
	char *ingest_listen;
	char *events_listen;
	char *log_level;
	char *tls_cert, *tls_ca; /* tls_cert: certificate + key, PEM */
	long  compute_delay_ms;
	long  compute_max_delay_ms;
	long  catalog_interval_ms;
	long  heartbeat_ms;
} hsi_scorer_config;

extern const hsi_cfg_opt hsi_scorer_opts[];

typedef struct hsi_scorer hsi_scorer;

/*
 * Connects to PostgreSQL, applies migrations, seeds the reference catalog
 * when the database has none, and opens both sockets. Returns 0 or an
 * error with a message for people in err.
 */
int hsi_scorer_open(const hsi_scorer_config *cfg, hsi_scorer **out, char *err,
    size_t err_size);

/* Runs until *stop becomes non-zero (set from a signal handler). */
int hsi_scorer_run(hsi_scorer *s, volatile sig_atomic_t *stop);

void hsi_scorer_close(hsi_scorer *s);

#endif
