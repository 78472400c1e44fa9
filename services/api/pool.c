/*
 * pool.c: PostgreSQL connection pool for hsi-api (see pool.h). Slots are
 * claimed under the mutex, but connecting happens outside it, so a slow
 * or absent server never blocks a thread that has a live connection; a
 * claimed slot's connection is touched only by its claimant.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"

struct hsi_pool {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	char           *url;
	int             size;
	PGconn         *conn[HSI_POOL_MAX];
	int             busy[HSI_POOL_MAX];
};

int
hsi_pool_alloc(const char *url, int size, hsi_pool **out)
{
	if (url == NULL || size < 1 || size > HSI_POOL_MAX) {
		return HSI_EINVAL;
	}
	hsi_pool *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->url = strdup(url)) == NULL) {
		free(p);
		return HSI_ENOMEM;
	}
	p->size = size;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

void
hsi_pool_free(hsi_pool *p)
{
	if (p == NULL) {
		return;
	}
	for (int i = 0; i < p->size; i++) {
		hsi_db_close(p->conn[i]);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->url);
	free(p);
}

static int
claim(hsi_pool *p)
{
	pthread_mutex_lock(&p->mu);
	for (;;) {
		for (int i = 0; i < p->size; i++) {
			if (!p->busy[i]) {
				p->busy[i] = 1;
				pthread_mutex_unlock(&p->mu);
				return i;
			}
		}
		pthread_cond_wait(&p->cv, &p->mu);
	}
}

static void
unclaim(hsi_pool *p, int i)
{
	pthread_mutex_lock(&p->mu);
	p->busy[i] = 0;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

PGconn *
hsi_pool_acquire(hsi_pool *p, int *slot)
{
	int i = claim(p);
	if (p->conn[i] != NULL && PQstatus(p->conn[i]) != CONNECTION_OK) {
		hsi_db_close(p->conn[i]);
		p->conn[i] = NULL;
	}
	if (p->conn[i] == NULL) {
		char err[600];
		if (hsi_db_open(p->url, &p->conn[i], err, sizeof(err)) != 0) {
			hsi_log_error(
			    "database unavailable", "{s:s}", "error", err);
			unclaim(p, i);
			return NULL;
		}
	}
	*slot = i;
	return p->conn[i];
}

void
hsi_pool_release(hsi_pool *p, int slot)
{
	if (slot >= 0 && slot < p->size) {
		unclaim(p, slot);
	}
}

void
hsi_pool_usage(hsi_pool *p, int *in_use, int *size)
{
	*in_use = *size = 0;
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->size; i++) {
		*in_use += p->busy[i];
	}
	*size = p->size;
	pthread_mutex_unlock(&p->mu);
}

int
hsi_pool_recover(PGconn *c)
{
	if (PQstatus(c) == CONNECTION_OK) {
		return 0; /* the query was wrong, not the connection */
	}
	PQreset(c);
	if (PQstatus(c) != CONNECTION_OK) {
		return 0;
	}
	/* PQreset reconnects but does not replay our session settings. */
	PQclear(PQexec(c, "SET TIME ZONE 'Asia/Bangkok'"));
	return 1;
}
