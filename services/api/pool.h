/*
 * pool.h: a small pool of PostgreSQL connections for the HTTP threads.
 * One connection per pool thread is enough (a request holds one for its
 * whole life); connections open lazily, so the API starts and answers
 * /healthz while PostgreSQL is down, and reconnect after a failure.
 */
#ifndef HSI_API_POOL_H
#define HSI_API_POOL_H

#include <libpq-fe.h>

typedef struct hsi_pool hsi_pool;

/* Most connections in one pool. */
#define HSI_POOL_MAX 64

/*
 * Allocates a pool of size (1..HSI_POOL_MAX) connections to url (copied).
 * Returns 0 and *out, HSI_EINVAL or HSI_ENOMEM. Nothing connects yet.
 */
int  hsi_pool_alloc(const char *url, int size, hsi_pool **out);
void hsi_pool_free(hsi_pool *p);

/*
 * Takes a connection, waiting while all are in use, and (re)connects it
 * when needed. Returns the connection and its slot (give it back with
 * hsi_pool_release(p, slot)), or NULL when PostgreSQL cannot be reached
 * (logged; the slot is already given back).
 */
PGconn *hsi_pool_acquire(hsi_pool *p, int *slot);
void    hsi_pool_release(hsi_pool *p, int slot);

/* Connections held by requests now, and the pool's size (for
 * /metrics); both 0 when p is NULL. */
void hsi_pool_usage(hsi_pool *p, int *in_use, int *size);

/*
 * After a failed query: if c has lost its server, reconnects it and
 * returns 1 (worth retrying once), else 0.
 */
int hsi_pool_recover(PGconn *c);

#endif
