/* rxq.c: receive thread + bounded queue (see rxq.h). */
#include "rxq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "net.h"

typedef struct item {
	nng_msg     *msg;
	struct item *next;
} item;

struct hsi_rxq {
	nng_socket         sock;
	pthread_t          thread;
	pthread_mutex_t    mtx;
	pthread_cond_t     cv;
	item              *head, *tail;
	size_t             len, max;
	unsigned long long dropped;
};

static void *
rx_main(void *arg)
{
	hsi_rxq *q = arg;
	for (;;) {
		nng_msg *m;
		int      rv = nng_recvmsg(q->sock, &m, 0);
		if (rv == NNG_ECLOSED) {
			break;
		}
		if (rv != 0) {
			continue;
		}
		item *it = malloc(sizeof(*it));
		if (it == NULL) {
			nng_msg_free(m);
			continue;
		}
		it->msg  = m;
		it->next = NULL;
		pthread_mutex_lock(&q->mtx);
		if (q->len >= q->max) {
			item *old = q->head;
			q->head   = old->next;
			if (q->head == NULL) {
				q->tail = NULL;
			}
			nng_msg_free(old->msg);
			free(old);
			q->len--;
			q->dropped++;
		}
		if (q->tail) {
			q->tail->next = it;
		} else {
			q->head = it;
		}
		q->tail = it;
		q->len++;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mtx);
	}
	return NULL;
}

int
hsi_rxq_start(nng_socket s, size_t max_msgs, hsi_rxq **out)
{
	hsi_rxq *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		return HSI_ENOMEM;
	}
	q->sock = s;
	q->max  = max_msgs ? max_msgs : 1;
	pthread_mutex_init(&q->mtx, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pthread_create(&q->thread, NULL, rx_main, q) != 0) {
		pthread_mutex_destroy(&q->mtx);
		pthread_cond_destroy(&q->cv);
		free(q);
		return HSI_ENOMEM;
	}
	*out = q;
	return 0;
}

nng_msg *
hsi_rxq_get(hsi_rxq *q, long wait_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->mtx);
	while (q->head == NULL) {
		if (pthread_cond_timedwait(&q->cv, &q->mtx, &ts)
		    == ETIMEDOUT) {
			break;
		}
	}
	item    *it = q->head;
	nng_msg *m  = NULL;
	if (it != NULL) {
		q->head = it->next;
		if (q->head == NULL) {
			q->tail = NULL;
		}
		q->len--;
		m = it->msg;
		free(it);
	}
	pthread_mutex_unlock(&q->mtx);
	return m;
}

unsigned long long
hsi_rxq_dropped(hsi_rxq *q)
{
	pthread_mutex_lock(&q->mtx);
	unsigned long long d = q->dropped;
	pthread_mutex_unlock(&q->mtx);
	return d;
}

int
hsi_rxq_stop(hsi_rxq *q)
{
	if (q == NULL) {
		return 0;
	}
	if (hsi_net_close_bounded(q->sock, 3000) != 0) {
		/* nng's close is stuck (see net.h): the receive thread may
		 * be too. Abandon both rather than hang the shutdown; the
		 * process is about to exit. */
		hsi_log_warn("socket close timed out (nng 1.5.2 bug); "
		             "exiting without it",
		    NULL);
		return HSI_ETIMEDOUT;
	}
	pthread_join(q->thread, NULL);
	while (q->head) {
		item *it = q->head;
		q->head  = it->next;
		nng_msg_free(it->msg);
		free(it);
	}
	pthread_mutex_destroy(&q->mtx);
	pthread_cond_destroy(&q->cv);
	free(q);
	return 0;
}
