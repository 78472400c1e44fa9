/*
 * net.c: nng sockets set up for the protocol (see net.h). The options here
 * are the measured answers to nng 1.5.2's behaviour on these machines
 * (docs/protocol.md): 8192-message buffers, a 1 MiB receive cap, and
 * non-blocking dials with bounded reconnect back-off.
 */
#include "net.h"

#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/tls/tls.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "error.h"

static int
endpoint(nng_socket s, const char *url, int listen, const hsi_net_tls *tls,
    char *err, size_t err_size)
{
	int rv;
	int is_tls = strncmp(url, "tls+", 4) == 0;
	if (is_tls && (tls == NULL || tls->cert_file == NULL)) {
		snprintf(err, err_size,
		    "%s: a tls+tcp:// address needs tls_cert, tls_key and "
		    "tls_ca in the configuration",
		    url);
		return HSI_EINVAL;
	}
	if (!is_tls) {
		tls = NULL;
	}
	if (listen) {
		nng_listener l;
		if ((rv = nng_listener_create(&l, s, url)) != 0) {
			snprintf(err, err_size, "cannot listen on %s: %s", url,
			    nng_strerror(rv));
			return HSI_EIO;
		}
		nng_listener_set_size(
		    l, NNG_OPT_RECVMAXSZ, HSI_NET_MAX_MSG_BYTES);
		if (tls != NULL) {
			if ((rv = nng_listener_set_string(
			         l, NNG_OPT_TLS_CERT_KEY_FILE, tls->cert_file))
			        != 0
			    || (rv = nng_listener_set_string(
			            l, NNG_OPT_TLS_CA_FILE, tls->ca_file))
			        != 0
			    || (rv = nng_listener_set_int(l,
			            NNG_OPT_TLS_AUTH_MODE,
			            NNG_TLS_AUTH_MODE_REQUIRED))
			        != 0) {
				snprintf(err, err_size,
				    "%s: TLS setup failed (cert %s, ca %s): "
				    "%s",
				    url, tls->cert_file, tls->ca_file,
				    nng_strerror(rv));
				nng_listener_close(l);
				return HSI_EINVAL;
			}
		}
		if ((rv = nng_listener_start(l, 0)) != 0) {
			snprintf(err, err_size,
			    "cannot listen on %s: %s (is another process "
			    "using it? choose another address)",
			    url, nng_strerror(rv));
			nng_listener_close(l);
			return HSI_EIO;
		}
		return 0;
	}
	nng_dialer d;
	if ((rv = nng_dialer_create(&d, s, url)) != 0) {
		snprintf(err, err_size, "cannot dial %s: %s", url,
		    nng_strerror(rv));
		return HSI_EIO;
	}
	nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, HSI_NET_MAX_MSG_BYTES);
	nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 100);
	nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 2000);
	if (tls != NULL) {
		if ((rv = nng_dialer_set_string(
		         d, NNG_OPT_TLS_CERT_KEY_FILE, tls->cert_file))
		        != 0
		    || (rv = nng_dialer_set_string(
		            d, NNG_OPT_TLS_CA_FILE, tls->ca_file))
		        != 0
		    || (rv = nng_dialer_set_int(d, NNG_OPT_TLS_AUTH_MODE,
		            NNG_TLS_AUTH_MODE_REQUIRED))
		        != 0) {
			snprintf(err, err_size,
			    "%s: TLS setup failed (cert %s, ca %s): %s", url,
			    tls->cert_file, tls->ca_file, nng_strerror(rv));
			nng_dialer_close(d);
			return HSI_EINVAL;
		}
	}
	/* Non-blocking: a blocking first dial that fails never retries. */
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, err_size, "cannot dial %s: %s", url,
		    nng_strerror(rv));
		nng_dialer_close(d);
		return HSI_EIO;
	}
	return 0;
}

int
hsi_net_pub_open(nng_socket *s, const char *url, int listen,
    const hsi_net_tls *tls, char *err, size_t err_size)
{
	int rv;
	if ((rv = nng_pub0_open(s)) != 0) {
		snprintf(err, err_size, "cannot open PUB socket: %s",
		    nng_strerror(rv));
		return HSI_EIO;
	}
	nng_socket_set_int(*s, NNG_OPT_SENDBUF, HSI_NET_BUF_MSGS);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, HSI_NET_MAX_MSG_BYTES);
	if ((rv = endpoint(*s, url, listen, tls, err, err_size)) != 0) {
		nng_close(*s);
		return rv;
	}
	return 0;
}

int
hsi_net_sub_open(nng_socket *s, const char *url, int listen,
    const char *const *topics, const hsi_net_tls *tls, char *err,
    size_t err_size)
{
	int rv;
	if ((rv = nng_sub0_open(s)) != 0) {
		snprintf(err, err_size, "cannot open SUB socket: %s",
		    nng_strerror(rv));
		return HSI_EIO;
	}
	nng_socket_set_int(*s, NNG_OPT_RECVBUF, HSI_NET_BUF_MSGS);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, HSI_NET_MAX_MSG_BYTES);
	if (topics == NULL || topics[0] == NULL) {
		nng_socket_set(*s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	} else {
		for (const char *const *t = topics; *t != NULL; t++) {
			nng_socket_set(
			    *s, NNG_OPT_SUB_SUBSCRIBE, *t, strlen(*t));
		}
	}
	if ((rv = endpoint(*s, url, listen, tls, err, err_size)) != 0) {
		nng_close(*s);
		return rv;
	}
	return 0;
}

int
hsi_net_send(nng_socket s, const char *topic, const void *data, size_t len)
{
	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0) {
		return HSI_ENOMEM;
	}
	if ((topic != NULL
	        && (nng_msg_append(m, topic, strlen(topic)) != 0
	            || nng_msg_append(m, "\n", 1) != 0))
	    || nng_msg_append(m, data, len) != 0) {
		nng_msg_free(m);
		return HSI_ENOMEM;
	}
	/* On success nng owns m; on failure we still do. */
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		return HSI_EIO;
	}
	return 0;
}

int
hsi_net_split(const void *msg, size_t len, char *topic,
    const unsigned char **body, size_t *body_len)
{
	const unsigned char *p   = msg;
	size_t               lim = len < HSI_TOPIC_MAX ? len : HSI_TOPIC_MAX;
	const unsigned char *nl  = memchr(p, '\n', lim);
	if (nl == NULL) {
		return HSI_EPROTO;
	}
	size_t tlen = (size_t) (nl - p);
	memcpy(topic, p, tlen);
	topic[tlen] = '\0';
	*body       = nl + 1;
	*body_len   = len - tlen - 1;
	return 0;
}

typedef struct {
	nng_socket      sock;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             done;
	int             abandoned; /* the waiter gave up: closer frees */
} closer;

static void *
closer_main(void *arg)
{
	closer *c = arg;
	nng_close(c->sock);
	pthread_mutex_lock(&c->mtx);
	c->done       = 1;
	int abandoned = c->abandoned;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mtx);
	if (abandoned) {
		pthread_mutex_destroy(&c->mtx);
		pthread_cond_destroy(&c->cv);
		free(c);
	}
	return NULL;
}

int
hsi_net_close_bounded(nng_socket s, long timeout_ms)
{
	closer   *c = calloc(1, sizeof(*c));
	pthread_t t;
	if (c == NULL) {
		nng_close(s);
		return 0;
	}
	c->sock = s;
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&t, NULL, closer_main, c) != 0) {
		nng_close(s);
		pthread_mutex_destroy(&c->mtx);
		pthread_cond_destroy(&c->cv);
		free(c);
		return 0;
	}
	pthread_detach(t);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mtx);
	while (!c->done) {
		if (pthread_cond_timedwait(&c->cv, &c->mtx, &ts)
		    == ETIMEDOUT) {
			break;
		}
	}
	int done     = c->done;
	c->abandoned = !done;
	pthread_mutex_unlock(&c->mtx);
	if (done) {
		pthread_mutex_destroy(&c->mtx);
		pthread_cond_destroy(&c->cv);
		free(c);
		return 0;
	}
	return HSI_ETIMEDOUT;
}
