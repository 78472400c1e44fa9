/*
 * cache.h: the last JSON body per (period, methodology), invalidated when
 * a ScoreEvent for that period arrives. A generation counter closes the
 * race between a request that read the database before an invalidation
 * and stores its (now stale) body after it: the store is refused.
 */
#ifndef HSI_API_CACHE_H
#define HSI_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "negotiate.h" /* HSI_ETAG_MAX */

#define HSI_CACHE_ENTRIES 64
#define HSI_CACHE_MAX_BODY_BYTES (4 * 1024 * 1024)

typedef struct hsi_cache hsi_cache;

int  hsi_cache_alloc(hsi_cache **out);
void hsi_cache_free(hsi_cache *c);

/* Current generation; read it before querying the database. */
uint64_t hsi_cache_generation(hsi_cache *c);

/*
 * Looks up (period, methodology). On a hit returns 0 with a heap copy of
 * the body in *body (caller frees), *len and etag (HSI_ETAG_MAX bytes);
 * else HSI_ENOENT (or HSI_ENOMEM).
 */
int hsi_cache_get(hsi_cache *c, const char *period, int methodology,
    char **body, size_t *len, char *etag);

/*
 * Stores a copy of body unless an invalidation happened since gen was
 * read, or body is over HSI_CACHE_MAX_BODY_BYTES. The least recently used
 * entry makes room. Returns 0, HSI_ESTATE (refused) or HSI_ENOMEM.
 */
int hsi_cache_put(hsi_cache *c, uint64_t gen, const char *period,
    int methodology, const char *body, size_t len, const char *etag);

/* Lookups answered from the cache and not, since it was allocated (for
 * /metrics); both 0 when c is NULL. */
void hsi_cache_counts(
    hsi_cache *c, unsigned long long *hits, unsigned long long *misses);

/* Drops every entry of period (canonical form), or all when NULL. */
void hsi_cache_invalidate(hsi_cache *c, const char *period);

#endif
