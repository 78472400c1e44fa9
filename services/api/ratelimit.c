/*
 * ratelimit.c: token buckets per key (see ratelimit.h).
 *
 * Open addressing over a power-of-two table, probing at most PROBE slots:
 * a lookup is bounded whatever the table holds, which matters because an
 * attacker chooses the keys (one per source address). Buckets store what
 * they held at their last visit and refill lazily from the elapsed time.
 */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define PROBE 8

typedef struct {
	char    key[HSI_RATELIMIT_KEY_MAX + 1];
	double  tokens;
	int64_t last_ms;
	int     used;
} bucket;

struct hsi_ratelimit {
	pthread_mutex_t mu;
	double          rate_per_ms;
	double          burst;
	size_t          mask;
	bucket         *slots;
};

int
hsi_ratelimit_alloc(
    double rate_per_s, double burst, size_t max_keys, hsi_ratelimit **out)
{
	size_t n = PROBE;
	if (!(rate_per_s > 0) || !(burst >= 1) || max_keys == 0
	    || max_keys > ((size_t) 1 << 24)) {
		return HSI_EINVAL;
	}
	while (n < max_keys) {
		n *= 2;
	}
	hsi_ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL || (rl->slots = calloc(n, sizeof(bucket))) == NULL) {
		free(rl);
		return HSI_ENOMEM;
	}
	rl->rate_per_ms = rate_per_s / 1000.0;
	rl->burst       = burst;
	rl->mask        = n - 1;
	pthread_mutex_init(&rl->mu, NULL);
	*out = rl;
	return 0;
}

void
hsi_ratelimit_free(hsi_ratelimit *rl)
{
	if (rl != NULL) {
		pthread_mutex_destroy(&rl->mu);
		free(rl->slots);
		free(rl);
	}
}

/* FNV-1a: keys come from clients, but a slot is found within PROBE
 * steps whatever collides, so a weak hash costs state, never time. */
static size_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++) {
		h = (h ^ (unsigned char) *s) * 1099511628211u;
	}
	return (size_t) h;
}

/* The bucket of key: found, else a new one in the first free slot, a
 * slot whose bucket has refilled, or the least recently seen. Slots are
 * never emptied, so no key lies past a free slot. */
static bucket *
find(hsi_ratelimit *rl, const char *key, int64_t now_ms)
{
	size_t  h     = hash(key);
	bucket *spare = NULL, *oldest = NULL;
	for (size_t i = 0; i < PROBE; i++) {
		bucket *b = &rl->slots[(h + i) & rl->mask];
		if (!b->used) {
			spare = b;
			break;
		}
		if (strcmp(b->key, key) == 0) {
			return b;
		}
		double refilled = b->tokens
		    + (double) (now_ms - b->last_ms) * rl->rate_per_ms;
		if (spare == NULL && refilled >= rl->burst) {
			spare = b;
		}
		if (oldest == NULL || b->last_ms < oldest->last_ms) {
			oldest = b;
		}
	}
	bucket *b = spare ? spare : oldest;
	snprintf(b->key, sizeof(b->key), "%s", key);
	b->tokens  = rl->burst;
	b->last_ms = now_ms;
	b->used    = 1;
	return b;
}

int
hsi_ratelimit_take(
    hsi_ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s)
{
	char k[HSI_RATELIMIT_KEY_MAX + 1];
	int  rv = 0;
	if (rl == NULL) {
		return 0;
	}
	snprintf(k, sizeof(k), "%s", key);
	pthread_mutex_lock(&rl->mu);
	bucket *b = find(rl, k, now_ms);
	if (now_ms > b->last_ms) {
		b->tokens += (double) (now_ms - b->last_ms) * rl->rate_per_ms;
		b->tokens  = b->tokens > rl->burst ? rl->burst : b->tokens;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
	} else {
		double wait_ms = (1.0 - b->tokens) / rl->rate_per_ms;
		*retry_after_s = (int) ceil(wait_ms / 1000.0);
		if (*retry_after_s < 1) {
			*retry_after_s = 1;
		}
		rv = HSI_ERANGE;
	}
	pthread_mutex_unlock(&rl->mu);
	return rv;
}
