/*
 * net.h: nng pub/sub sockets configured the way the protocol needs them
 * (docs/protocol.md): large send/receive buffers so a bounded window can
 * never overflow a queue, NNG_OPT_RECVMAXSZ on every socket that faces the
 * network, non-blocking dials that retry, and the wire framing
 *   topic '\n' payload
 * Subscribers receive on a dedicated blocking thread without
 * NNG_OPT_RECVTIMEO (nng 1.5.2 bugs #1523, #1682).
 */
#ifndef HSI_NET_H
#define HSI_NET_H

#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>

#define HSI_NET_BUF_MSGS 8192
#define HSI_NET_MAX_MSG_BYTES (1024 * 1024)
#define HSI_TOPIC_MAX 64

typedef struct {
	const char *cert_file; /* PEM; NULL for plain tcp:// */
	const char *key_file;
	const char *ca_file;
} hsi_net_tls;

/*
 * Opens a PUB socket that listens (listen != 0) on or dials url. Returns 0,
 * HSI_EIO with err saying which address failed and why (in use, bad URL),
 * or HSI_EINVAL for a TLS set-up that cannot work (which file, and why).
 * tls may be NULL for tcp://.
 */
int hsi_net_pub_open(nng_socket *s, const char *url, int listen,
    const hsi_net_tls *tls, char *err, size_t err_size);

/*
 * Opens a SUB socket that listens on or dials url and subscribes to each
 * prefix in topics (NULL-terminated; an empty list subscribes to all).
 */
int hsi_net_sub_open(nng_socket *s, const char *url, int listen,
    const char *const *topics, const hsi_net_tls *tls, char *err,
    size_t err_size);

/*
 * A socket's connection state, for readiness and metrics: its connected
 * pipes, counted from nng's pipe events. The events are set up before the
 * socket dials or listens, so no pipe is missed. on_up (may be NULL) runs
 * on an nng thread after each new pipe, with arg: keep it short, and
 * never close the socket from it. Zero-initialise, set on_up and arg,
 * then pass it to an _open_link function; it must outlive the socket.
 */
typedef struct {
	atomic_int pipes;
	void (*on_up)(void *arg);
	void *arg;
} hsi_net_link;

/* hsi_net_pub_open / hsi_net_sub_open that also keep link up to date. */
int hsi_net_pub_open_link(nng_socket *s, const char *url, int listen,
    const hsi_net_tls *tls, hsi_net_link *link, char *err, size_t err_size);
int hsi_net_sub_open_link(nng_socket *s, const char *url, int listen,
    const char *const *topics, const hsi_net_tls *tls, hsi_net_link *link,
    char *err, size_t err_size);

/* The number of connected pipes now (0: not connected). */
int hsi_net_link_pipes(const hsi_net_link *link);

/*
 * Sends topic '\n' data over a PUB socket (topic NULL: data is already
 * framed, as hsi_envelope_seal makes it). The message is copied. Returns
 * 0 or HSI_EIO. (PUB never blocks and drops when no peer or a full queue:
 * reliability is the protocol's job.)
 */
int hsi_net_send(
    nng_socket s, const char *topic, const void *data, size_t len);

/*
 * Closes s, waiting at most timeout_ms. nng 1.5.2's nng_close can deadlock
 * (nng #1543, fixed after 1.5.2) -- seen here when a node exits while its
 * SUB socket is receiving -- so the close runs on a detached thread and a
 * caller that is shutting down is never held hostage by it. Returns 0 when
 * the socket closed in time, HSI_ETIMEDOUT otherwise (then anything still
 * using the socket must be abandoned, not freed).
 */
int hsi_net_close_bounded(nng_socket s, long timeout_ms);

/*
 * Splits a received message into its topic (copied into topic, at most
 * HSI_TOPIC_MAX bytes with NUL) and body. Returns 0 or HSI_EPROTO when
 * there is no '\n' within HSI_TOPIC_MAX bytes.
 */
int hsi_net_split(const void *msg, size_t len, char *topic,
    const unsigned char **body, size_t *body_len);

#endif
