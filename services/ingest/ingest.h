/*
 * ingest.h: hsi-ingest, an agency's node. It watches an inbox folder,
 * validates each file against the catalog cached from the scorer, sends
 * valid files as signed numbered parts, resends until the scorer's
 * cumulative ack covers them, and files them under done/ or rejected/
 * with a report beside them.
 */
#ifndef HSI_INGEST_H
#define HSI_INGEST_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

typedef struct {
	char *agency;
	char *node_id;
	char *key_file;
	char *scorer_url;
	char *events_url;
	char *inbox;
	char *state_dir;
	char *log_level;
	char *tls_cert, *tls_ca;
	long  part_rows;
	long  resend_ms;
	long  max_file_mb;
	int   partial;
	int   dry_run;
	int   once;
} hsi_ingest_config;

extern const hsi_cfg_opt hsi_ingest_opts[];

typedef struct hsi_ingest hsi_ingest;

/* Loads the key, opens the sockets, makes inbox/../{done,rejected}. */
int hsi_ingest_open(const hsi_ingest_config *cfg, hsi_ingest **out, char *err,
    size_t err_size);

/*
 * Runs until *stop, or with cfg->once until the inbox is empty and every
 * file is acknowledged. *reload (may be NULL) set by SIGHUP makes the node
 * reload its key file. Returns 0, or 1 if a file was rejected in once mode.
 */
int hsi_ingest_run(
    hsi_ingest *n, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

/*
 * `hsi-ingest submit FILE...`: validates each file offline against the
 * catalog cached in the outbox, prints every problem and writes
 * FILE.report.json beside it; unless dry_run, copies each acceptable file
 * into the inbox for the running node. Returns the exit code: 0 all
 * accepted, 1 some rejected, 2 cannot run (no cached catalog, bad config).
 */
int hsi_ingest_submit(
    const hsi_ingest_config *cfg, char *const *files, int nfiles);

/* `hsi-ingest status`: prints the outbox state; returns the exit code. */
int hsi_ingest_status(const hsi_ingest_config *cfg, int as_json);

void hsi_ingest_close(hsi_ingest *n);

#endif
