/*
 * gwoutbox.h: the REST gateway's outbox in PostgreSQL (migration 009).
 *
 * hsi-api delivers submissions exactly as an ingest node delivers files
 * (docs/protocol.md), as a node of its own for each agency, node id
 * api-<AGENCY>. This module is the node's outbox, kept in PostgreSQL
 * instead of SQLite: a submission is committed here as numbered parts
 * before the client gets 202; the sender (sender.h) publishes the parts
 * and records the scorer's acks and verdicts here. The epoch, drawn when
 * an agency's node row is made, and the sequence survive restarts, so the
 * scorer's check of (agency, node, epoch, seq) keeps every part applied
 * exactly once.
 *
 * Every function runs on the connection it is given and reports a
 * database failure as HSI_EDB (logged with what failed); none answers
 * HTTP. Pure PostgreSQL: no nng, no libmicrohttpd.
 */
#ifndef HSI_API_GWOUTBOX_H
#define HSI_API_GWOUTBOX_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hsi.pb-c.h"
#include "parts.h"

#define HSI_GW_NODE_PREFIX "api-"
#define HSI_GW_NODE_ID_MAX 24 /* "api-" and an agency code, NUL */
#define HSI_GW_ID_MAX 24      /* "api-" and 16 hex digits, NUL */
#define HSI_GW_FILE_ID_MAX 48 /* 24 + '-' + 16 hex digits, NUL */

/* One agency's gateway node, as stored. */
typedef struct {
	char     agency[17];
	char     node_id[HSI_GW_NODE_ID_MAX];
	uint64_t epoch;
	uint64_t next_seq;  /* the seq the next part gets */
	uint64_t acked_seq; /* the scorer's cumulative ack */
} hsi_gw_node;

/* A validated submission, ready to commit. */
typedef struct {
	const char      *id; /* api-<16 hex> */
	const char      *agency;
	const char      *file_id; /* [0-9a-f-] */
	const char      *file_name;
	const char      *format;   /* agency_csv, sdmx_csv, jsonl, json */
	const char      *mode;     /* atomic, partial */
	long long        token_id; /* 0: none */
	long             rows, valid_rows, invalid_rows;
	int              issues_truncated;
	const char      *issues; /* RowIssue array as JSON text */
	const hsi_parts *parts;
} hsi_gw_submission;

/*
 * Within the caller's transaction: makes the agency's node row if it has
 * none (a fresh random epoch), takes one seq per part (the row stays
 * locked to the end of the transaction), and inserts the submission and
 * its parts. Returns 0, HSI_EDB or HSI_EIO (no randomness).
 */
int hsi_gwoutbox_add(PGconn *db, const hsi_gw_submission *s);

/*
 * The submission id as the contract's Submission object (JSON text, to
 * send as it is). Returns 0 with *json (caller frees) and *agency
 * (agency_size bytes) filled, HSI_ENOENT (no such submission), HSI_EDB or
 * HSI_ENOMEM.
 */
int hsi_gwoutbox_get(
    PGconn *db, const char *id, char **json, char *agency, size_t agency_size);

/* Every agency's gateway node: *out (caller frees) of *n. 0 or HSI_EDB. */
int hsi_gwoutbox_nodes(PGconn *db, hsi_gw_node **out, size_t *n);

/*
 * Calls fn for up to limit parts of agency's node with a seq above after,
 * in seq order; payload is valid during the call only. 0 or HSI_EDB.
 */
int hsi_gwoutbox_pending(PGconn *db, const char *agency, uint64_t after,
    size_t limit,
    void (*fn)(
        void *arg, uint64_t seq, const unsigned char *payload, size_t len),
    void *arg);

/*
 * Records a cumulative ack for node: acked_seq becomes seq if it is above
 * it and below next_seq (a seq never issued is ignored), and the parts up
 * to it are deleted, in one transaction. Returns 1 if it advanced, 0 if
 * not, HSI_EDB (negative) on failure.
 */
int hsi_gwoutbox_ack(PGconn *db, const hsi_gw_node *node, uint64_t seq);

/*
 * Records the scorer's verdict on one of node's files, with applied_at
 * from the scorer's own record of it. Returns 1 if a queued submission
 * took it, 0 if none was waiting for it (already recorded, or not ours),
 * or -HSI_EDB.
 */
int hsi_gwoutbox_verdict(
    PGconn *db, const hsi_gw_node *node, const Hsi__FileVerdict *v);

#endif
