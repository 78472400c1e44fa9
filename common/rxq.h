/*
 * rxq.h: a receive thread and queue for a SUB socket.
 *
 * nng 1.5.2 can crash when a SUB receive has a timeout or a cancelled
 * context (nng #1523, #1682), so every service receives with a plain
 * blocking nng_recvmsg on a thread of its own and takes messages from
 * this queue with a deadline instead.
 */
#ifndef HSI_RXQ_H
#define HSI_RXQ_H

#include <nng/nng.h>

typedef struct hsi_rxq hsi_rxq;

/*
 * Starts receiving from s. The queue holds at most max_msgs messages; when
 * full the oldest is dropped and counted (the protocol recovers from
 * drops, memory must not grow without bound). Returns 0 or HSI_ENOMEM.
 */
int hsi_rxq_start(nng_socket s, size_t max_msgs, hsi_rxq **out);

/* Waits up to wait_ms for a message; the caller owns it (nng_msg_free).
 * Returns NULL on time-out. */
nng_msg *hsi_rxq_get(hsi_rxq *q, long wait_ms);

/* Messages dropped because the queue was full. */
unsigned long long hsi_rxq_dropped(hsi_rxq *q);

/* Closes the socket (waking the thread), joins it and frees the queue;
 * if nng's close hangs (net.h), gives up after 3 s and leaks them.
 * Returns 0, or HSI_ETIMEDOUT when it gave up (the socket may still call
 * back into whatever its pipe notifications point at: leak that too). */
int hsi_rxq_stop(hsi_rxq *q);

#endif
