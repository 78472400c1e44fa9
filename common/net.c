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

/*
 * TLS for a listener (server) or dialer (client): both present tls->cert_file
 * (certificate + private key in one PEM file) and require the peer's
 * certificate to chain to tls->ca_file (mutual TLS). nng 1.5.2's dialer sets
 * the expected server name to the URL's host, and mbedtls 2.28 compares it
 * as text with the certificate's DNS names (not its IP addresses), so the
 * scorer's certificate must list the host the nodes dial, an address as
 * DNS:ADDR too (scripts/mkcerts.sh does).
 */
typedef struct {
	int          listen;
	nng_listener l;
	nng_dialer   d;
} tls_ep;

static int
tls_ep_set_string(const tls_ep *e, const char *opt, const char *val)
{
	return e->listen ? nng_listener_set_string(e->l, opt, val)
	                 : nng_dialer_set_string(e->d, opt, val);
}

static int
tls_ep_set_int(const tls_ep *e, const char *opt, int val)
{
	return e->listen ? nng_listener_set_int(e->l, opt, val)
	                 : nng_dialer_set_int(e->d, opt, val);
}

/* Checks the configuration before any socket work: HSI_EINVAL with err. */
static int
tls_check(const char *url, const hsi_net_tls *tls, char *err, size_t err_size)
{
	const char *cert = tls != NULL ? tls->cert_file : NULL;
	const char *ca   = tls != NULL ? tls->ca_file : NULL;
	if (cert == NULL || *cert == '\0' || ca == NULL || *ca == '\0') {
		snprintf(err, err_size,
		    "%s: a tls+tcp:// address needs %s%s%s: tls_cert is a PEM "
		    "file holding this service's certificate and its private "
		    "key, tls_ca the PEM certificate of the CA that signed "
		    "the peers' (make them with scripts/mkcerts.sh, see "
		    "docs/tls.md)",
		    url, cert == NULL || *cert == '\0' ? "tls_cert" : "",
		    (cert == NULL || *cert == '\0')
		            && (ca == NULL || *ca == '\0')
		        ? " and "
		        : "",
		    ca == NULL || *ca == '\0' ? "tls_ca" : "");
		return HSI_EINVAL;
	}
	if (tls->key_file != NULL && *tls->key_file != '\0'
	    && strcmp(tls->key_file, cert) != 0) {
		snprintf(err, err_size,
		    "%s: a separate tls_key (%s) is not supported: put the "
		    "private key in the tls_cert file after the certificate "
		    "(cat cert.pem key.pem > %s), as scripts/mkcerts.sh makes "
		    "it, and unset tls_key",
		    url, tls->key_file, cert);
		return HSI_EINVAL;
	}
	const char *what[2] = { "tls_cert", "tls_ca" };
	const char *path[2] = { cert, ca };
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(path[i], "r");
		if (f == NULL) {
			snprintf(err, err_size,
			    "%s: cannot read %s %s: %s (give the path of a "
			    "PEM "
			    "file this service's user can read; "
			    "scripts/mkcerts.sh makes them)",
			    url, what[i], path[i], strerror(errno));
			return HSI_EINVAL;
		}
		fclose(f);
	}
	return 0;
}

static int
tls_apply(const tls_ep *e, const char *url, const hsi_net_tls *tls, char *err,
    size_t err_size)
{
	int rv;
	if ((rv = tls_ep_set_string(e, NNG_OPT_TLS_CA_FILE, tls->ca_file))
	    != 0) {
		snprintf(err, err_size,
		    "%s: tls_ca %s is not a usable PEM CA certificate (%s): "
		    "give the ca.pem of the CA that signed the peers' "
		    "certificates",
		    url, tls->ca_file, nng_strerror(rv));
		return HSI_EINVAL;
	}
	if ((rv = tls_ep_set_string(
	         e, NNG_OPT_TLS_CERT_KEY_FILE, tls->cert_file))
	    != 0) {
		snprintf(err, err_size,
		    "%s: tls_cert %s is not a usable certificate + private "
		    "key (%s): the file must hold the PEM certificate and its "
		    "unencrypted PEM private key, as scripts/mkcerts.sh makes "
		    "it",
		    url, tls->cert_file, nng_strerror(rv));
		return HSI_EINVAL;
	}
	if ((rv = tls_ep_set_int(
	         e, NNG_OPT_TLS_AUTH_MODE, NNG_TLS_AUTH_MODE_REQUIRED))
	    != 0) {
		snprintf(err, err_size,
		    "%s: cannot require the peer's certificate: %s (libnng "
		    "built without TLS?)",
		    url, nng_strerror(rv));
		return HSI_EINVAL;
	}
	return 0;
}

static int
endpoint(nng_socket s, const char *url, int listen, const hsi_net_tls *tls,
    char *err, size_t err_size)
{
	int rv;
	int is_tls = strncmp(url, "tls+", 4) == 0;
	if (is_tls && (rv = tls_check(url, tls, err, err_size)) != 0) {
		return rv;
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
			tls_ep e = { .listen = 1, .l = l };
			if ((rv = tls_apply(&e, url, tls, err, err_size))
			    != 0) {
				nng_listener_close(l);
				return rv;
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
		tls_ep e = { .listen = 0, .d = d };
		if ((rv = tls_apply(&e, url, tls, err, err_size)) != 0) {
			nng_dialer_close(d);
			return rv;
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

/*
 * nng runs REM_POST exactly for the pipes that ran ADD_PRE (a pipe closed
 * between ADD_PRE and ADD_POST still gets REM_POST), so those two keep
 * the count; on_up waits for ADD_POST, when the pipe can carry messages.
 */
static void
link_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	hsi_net_link *l = arg;
	(void) p;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		atomic_fetch_add(&l->pipes, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&l->pipes, 1);
	} else if (l->on_up != NULL) {
		l->on_up(l->arg);
	}
}

int
hsi_net_link_pipes(const hsi_net_link *link)
{
	int n = atomic_load(&((hsi_net_link *) link)->pipes);
	return n > 0 ? n : 0;
}

/* Before any endpoint exists: no pipe can come before the callbacks. */
static int
watch(nng_socket s, hsi_net_link *link, char *err, size_t err_size)
{
	int rv;
	if (link == NULL) {
		return 0;
	}
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, link_event, link))
	        != 0
	    || (rv = nng_pipe_notify(
	            s, NNG_PIPE_EV_ADD_POST, link_event, link))
	        != 0
	    || (rv = nng_pipe_notify(
	            s, NNG_PIPE_EV_REM_POST, link_event, link))
	        != 0) {
		snprintf(err, err_size, "cannot watch the socket's pipes: %s",
		    nng_strerror(rv));
		return HSI_EIO;
	}
	return 0;
}

int
hsi_net_pub_open_link(nng_socket *s, const char *url, int listen,
    const hsi_net_tls *tls, hsi_net_link *link, char *err, size_t err_size)
{
	int rv;
	if ((rv = nng_pub0_open(s)) != 0) {
		snprintf(err, err_size, "cannot open PUB socket: %s",
		    nng_strerror(rv));
		return HSI_EIO;
	}
	nng_socket_set_int(*s, NNG_OPT_SENDBUF, HSI_NET_BUF_MSGS);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, HSI_NET_MAX_MSG_BYTES);
	if ((rv = watch(*s, link, err, err_size)) != 0
	    || (rv = endpoint(*s, url, listen, tls, err, err_size)) != 0) {
		nng_close(*s);
		return rv;
	}
	return 0;
}

int
hsi_net_pub_open(nng_socket *s, const char *url, int listen,
    const hsi_net_tls *tls, char *err, size_t err_size)
{
	return hsi_net_pub_open_link(s, url, listen, tls, NULL, err, err_size);
}

int
hsi_net_sub_open_link(nng_socket *s, const char *url, int listen,
    const char *const *topics, const hsi_net_tls *tls, hsi_net_link *link,
    char *err, size_t err_size)
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
	if ((rv = watch(*s, link, err, err_size)) != 0
	    || (rv = endpoint(*s, url, listen, tls, err, err_size)) != 0) {
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
	return hsi_net_sub_open_link(
	    s, url, listen, topics, tls, NULL, err, err_size);
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
