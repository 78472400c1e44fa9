/*
 * cache.c: response cache for /v1/index (see cache.h). A fixed table: the
 * number of (period, methodology) pairs anyone asks for is small, and a
 * fixed cap means a client walking every period cannot grow memory.
 */
#include "cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "period.h"

typedef struct {
	char     period[HSI_PERIOD_MAX];
	int      methodology;
	char    *body; /* NULL = free slot */
	size_t   len;
	char     etag[HSI_ETAG_MAX];
	uint64_t used; /* tick of last use, for LRU */
} entry;

struct hsi_cache {
	pthread_mutex_t mu;
	uint64_t        gen;
	uint64_t        tick;
	uint64_t        hits, misses;
	entry           e[HSI_CACHE_ENTRIES];
};

int
hsi_cache_alloc(hsi_cache **out)
{
	hsi_cache *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return HSI_ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void
hsi_cache_free(hsi_cache *c)
{
	if (c == NULL) {
		return;
	}
	for (int i = 0; i < HSI_CACHE_ENTRIES; i++) {
		free(c->e[i].body);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

uint64_t
hsi_cache_generation(hsi_cache *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t g = c->gen;
	pthread_mutex_unlock(&c->mu);
	return g;
}

static entry *
find(hsi_cache *c, const char *period, int methodology)
{
	for (int i = 0; i < HSI_CACHE_ENTRIES; i++) {
		entry *e = &c->e[i];
		if (e->body != NULL && e->methodology == methodology
		    && strcmp(e->period, period) == 0) {
			return e;
		}
	}
	return NULL;
}

int
hsi_cache_get(hsi_cache *c, const char *period, int methodology, char **body,
    size_t *len, char *etag)
{
	int rv = HSI_ENOENT;
	pthread_mutex_lock(&c->mu);
	entry *e = find(c, period, methodology);
	c->hits += e != NULL;
	c->misses += e == NULL;
	if (e != NULL) {
		char *b = malloc(e->len + 1);
		rv      = HSI_ENOMEM;
		if (b != NULL) {
			memcpy(b, e->body, e->len);
			b[e->len] = '\0';
			*body     = b;
			*len      = e->len;
			snprintf(etag, HSI_ETAG_MAX, "%s", e->etag);
			e->used = ++c->tick;
			rv      = 0;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}

void
hsi_cache_counts(
    hsi_cache *c, unsigned long long *hits, unsigned long long *misses)
{
	*hits = *misses = 0;
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->mu);
	*hits   = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->mu);
}

static entry *
victim(hsi_cache *c)
{
	entry *v = &c->e[0];
	for (int i = 0; i < HSI_CACHE_ENTRIES; i++) {
		if (c->e[i].body == NULL) {
			return &c->e[i];
		}
		if (c->e[i].used < v->used) {
			v = &c->e[i];
		}
	}
	return v;
}

int
hsi_cache_put(hsi_cache *c, uint64_t gen, const char *period, int methodology,
    const char *body, size_t len, const char *etag)
{
	if (len > HSI_CACHE_MAX_BODY_BYTES
	    || strlen(period) >= HSI_PERIOD_MAX) {
		return HSI_ESTATE;
	}
	char *b = malloc(len ? len : 1);
	if (b == NULL) {
		return HSI_ENOMEM;
	}
	memcpy(b, body, len);
	pthread_mutex_lock(&c->mu);
	if (gen != c->gen) {
		pthread_mutex_unlock(&c->mu);
		free(b);
		return HSI_ESTATE;
	}
	entry *e = find(c, period, methodology);
	if (e == NULL) {
		e = victim(c);
	}
	free(e->body);
	snprintf(e->period, sizeof(e->period), "%s", period);
	snprintf(e->etag, sizeof(e->etag), "%s", etag);
	e->methodology = methodology;
	e->body        = b;
	e->len         = len;
	e->used        = ++c->tick;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void
hsi_cache_invalidate(hsi_cache *c, const char *period)
{
	pthread_mutex_lock(&c->mu);
	c->gen++;
	for (int i = 0; i < HSI_CACHE_ENTRIES; i++) {
		entry *e = &c->e[i];
		if (e->body != NULL
		    && (period == NULL || strcmp(e->period, period) == 0)) {
			free(e->body);
			e->body = NULL;
		}
	}
	pthread_mutex_unlock(&c->mu);
}
