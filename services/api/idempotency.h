/*
 * idempotency.h: the Idempotency-Key header of hsi-api's writes
 * (openapi.yaml, "Writes"). A retry with the same key and the same
 * request (method, path, query and body) gets the first answer again,
 * with Idempotent-Replayed: true; the same key with another request is
 * 422 idempotency-key-reused; while the first request still runs, 409
 * idempotency-in-flight. A key belongs to the token that sent it, and
 * table api_idempotency (migration 007) keeps it 24 hours.
 *
 * Only successful answers are kept: a refused write changed nothing, so
 * its retry simply runs again. A write therefore goes
 *
 *	hsi_idem k;
 *	int rv = hsi_idem_claim(c, &k);   // answered: replay, 409, 422
 *	if (rv != 0)
 *		return rv;
 *	... the write ...
 *	ok ? hsi_idem_keep(c, &k, 201, type, body, location)
 *	   : hsi_idem_release(c, &k);
 *
 * Needs the request's database connection (hsi_call_sql); nothing here
 * knows an endpoint.
 */
#ifndef HSI_API_IDEMPOTENCY_H
#define HSI_API_IDEMPOTENCY_H

#include "call.h"

#define HSI_IDEM_KEY_MAX 255 /* bytes of a key: printable ASCII */

/* What hsi_idem_claim found for the request's key. */
typedef enum {
	HSI_IDEM_NONE,      /* no Idempotency-Key header: nothing to do */
	HSI_IDEM_NEW,       /* claimed for this request (or taken over from
	                     * one that died): run the write */
	HSI_IDEM_REPLAYED,  /* the same request succeeded before: its answer
	                     * has been sent again */
	HSI_IDEM_IN_FLIGHT, /* the same key is still being processed: 409 */
	HSI_IDEM_MISMATCH,  /* the key was used for another request: 422 */
	HSI_IDEM_REFUSED,   /* a malformed key (400) or no database (503) */
} hsi_idem_state;

/* One request's claim on its key (caller storage; read only state). */
typedef struct {
	hsi_idem_state state;
	char           token[24];
	char           key[HSI_IDEM_KEY_MAX + 1];
} hsi_idem;

/* Sets k to "no key", for writes that take none (keep and release then
 * do nothing). */
void hsi_idem_init(hsi_idem *k);

/*
 * Before a write: reads the Idempotency-Key header and claims the key
 * for (token, method, path, SHA-256 of the body). Returns 0 to go on
 * (k->state HSI_IDEM_NONE or HSI_IDEM_NEW), or non-zero once answered,
 * k->state saying how: the earlier answer replayed, 409, 422, 400 for a
 * malformed key, 503 (HSI_EDB) without a database, 500 out of memory.
 * Call it after the body has been checked, so that a malformed body is
 * refused without taking the key.
 */
int hsi_idem_claim(hsi_call *c, hsi_idem *k);

/*
 * After a write that succeeded, before or after answering it: stores its
 * answer (status, content type, body, and the Location header or NULL)
 * for retries. A failure is logged, not answered: the write is done, and
 * a retry waits for the claim to go stale (5 minutes), then runs again.
 */
void hsi_idem_keep(hsi_call *c, const hsi_idem *k, unsigned status,
    const char *type, const char *body, const char *location);

/*
 * hsi_idem_keep within the caller's transaction on db (the request's
 * connection, hsi_call_db): the answer is then kept exactly when the write
 * commits, so a crash between the two cannot let a retry run the write a
 * second time. Returns 0 (also with no key: nothing to do), HSI_EDB
 * (logged; the transaction is aborted), HSI_ESTATE (another request
 * holding the same key answered first: roll back, answer 409) or
 * HSI_ENOMEM.
 */
int hsi_idem_keep_db(PGconn *db, const hsi_idem *k, unsigned status,
    const char *type, const char *body, const char *location);

/* Answers 409 after hsi_idem_keep_db's HSI_ESTATE (the caller has rolled
 * back). Returns non-zero (answered). */
int hsi_idem_lost(hsi_call *c);

/* After a write that was refused: frees the key, since nothing changed
 * and a retry should run again. */
void hsi_idem_release(hsi_call *c, const hsi_idem *k);

#endif
