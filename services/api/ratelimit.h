/*
 * ratelimit.h: a token bucket per caller for hsi-api, in memory: each
 * key (a token's id, or the client address of anonymous callers) may
 * make `burst` requests at once and `rate_per_s` a second on average.
 * The table has a fixed number of slots; when it is full the least
 * recently seen key gives way (a bucket that refilled is the same as no
 * bucket, so only a burst of over max_keys busy callers loses state).
 * Time is passed in, so tests need no clock. Thread-safe.
 */
#ifndef HSI_API_RATELIMIT_H
#define HSI_API_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define HSI_RATELIMIT_KEY_MAX 64

typedef struct hsi_ratelimit hsi_ratelimit;

/*
 * A limiter of max_keys slots (rounded up to a power of two). rate_per_s
 * must be > 0 and burst >= 1. Returns 0 and *out, HSI_EINVAL or
 * HSI_ENOMEM.
 */
int hsi_ratelimit_alloc(
    double rate_per_s, double burst, size_t max_keys, hsi_ratelimit **out);
void hsi_ratelimit_free(hsi_ratelimit *rl);

/*
 * Spends one request of key (cut to HSI_RATELIMIT_KEY_MAX bytes) at
 * now_ms (any monotonic clock in milliseconds). Returns 0 when allowed,
 * or HSI_ERANGE with *retry_after_s (whole seconds, at least 1) until a
 * request will be allowed again. A NULL rl allows everything.
 */
int hsi_ratelimit_take(
    hsi_ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s);

#endif
