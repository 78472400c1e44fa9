/*
 * ingest_int.h: what the node's own files share (not for other code).
 */
#ifndef HSI_INGEST_INT_H
#define HSI_INGEST_INT_H

#include <nng/nng.h>

#include "catalog.h"
#include "envelope.h"
#include "ingest.h"
#include "outbox.h"
#include "rxq.h"
#include "validate.h"

#define WINDOW_PARTS 128
#define LINK_TIMEOUT_MS 5000

struct hsi_ingest {
	const hsi_ingest_config *cfg;
	char                     node_id[64];
	hsi_key      key, old_key; /* old: before the last reload */
	int          have_old_key;
	hsi_catalog *cat;
	hsi_outbox  *ob;
	nng_socket   pub, sub;
	hsi_rxq     *rxq;
	uint64_t     acked;   /* mirror of the outbox's */
	uint64_t     sent_hi; /* highest seq sent since resend */
	long long    last_progress_ms;
	long long    last_heard_ms;
	long long    last_heard_saved_ms;
	char         sending_dir[4096], done_dir[4096];
	char         rejected_dir[4096];
	int          any_rejected;
};

long long hsi_ingest_now_ms(void);

/* intake.c: takes the next inbox file into the outbox (or rejects it).
 * Returns 1 if a file was handled, 0 if the inbox is empty. */
int hsi_ingest_intake(hsi_ingest *n);
/* Files the scorer's verdict: report merged, file moved. */
void hsi_ingest_file_done(
    hsi_ingest *n, const char *name, const Hsi__FileVerdict *v);
/* At start: finishes files of sending/ whose verdict was recorded before
 * the node stopped (killed between recording and moving). */
void hsi_ingest_finish_answered(hsi_ingest *n);
/* Reads path (at most max_bytes) into a new buffer. */
int hsi_ingest_read_file(
    const char *path, long max_bytes, char **buf, size_t *len);
/* Validates a file by its format (CSV, JSON lines, SDMX-CSV). */
int hsi_ingest_validate(const hsi_catalog *cat, const char *agency,
    const char *name, const char *buf, size_t len, hsi_batch *b);

/* The outbox of cfg (state_dir, or INBOX/../state). */
int hsi_ingest_open_outbox(const hsi_ingest_config *cfg, const char *node_id,
    hsi_outbox **ob, char *err, size_t err_size);
int hsi_ingest_state_path(
    const hsi_ingest_config *cfg, char *path, size_t size);
void hsi_ingest_reload_key(hsi_ingest *n);

/* Directories beside the inbox. */
/* Removes *.report.json.tmp files (ours, half-written) from dir. */
void hsi_ingest_remove_tmp(const char *dir);

void hsi_ingest_dirs(
    const char *inbox, char *sending, char *done, char *rejected, size_t size);

#endif
