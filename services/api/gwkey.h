/*
 * gwkey.h: the REST gateway's signing keys, one set per agency.
 *
 * The gateway signs what it sends for an agency with a key of its own
 * (key id <AGENCY>-api-YYYYMMDD-xxxxxxxx), kept in agency_key beside the
 * agency's node keys, where the scorer finds it like any other. It makes
 * the key itself the first time it sends for an agency, and again when an
 * operator has retired the last one (docs/api.md, "Submitting"). A key of
 * its own rather than the agency's node key: the node key is a file at the
 * agency's site, and retiring it (a lost laptop, a compromised site) must
 * not strand the gateway's queued parts, nor must the gateway need a node
 * key for an agency that delivers through the API alone; and the scorer's
 * records (node_progress.key_id) then tell the two paths apart. Secrets
 * stay in PostgreSQL and this process's memory: never in a file, a log or
 * an answer.
 */
#ifndef HSI_API_GWKEY_H
#define HSI_API_GWKEY_H

#include <libpq-fe.h>
#include <stddef.h>

#include "envelope.h"

#define HSI_GWKEY_MAX 4 /* valid keys of one agency kept for verifying */

/*
 * The gateway's valid (not retired) keys of agency, newest first, at most
 * max into keys[]; when there are none, makes one (audit_log action
 * key.rotate, actor hsi-api). Returns 0 with *n >= 1, HSI_EDB, HSI_EIO (no
 * randomness) or HSI_EINVAL (no such agency).
 */
int hsi_gwkey_load(
    PGconn *db, const char *agency, hsi_key *keys, size_t max, size_t *n);

/* Wipes n keys (their secrets) from memory. */
void hsi_gwkey_wipe(hsi_key *keys, size_t n);

#endif
