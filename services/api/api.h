/*
 * api.h: hsi-api, the REST gateway. libmicrohttpd runs the HTTP side with
 * its own thread pool; every request goes through the pipeline of
 * dispatch.h to the endpoint modules listed in modules.def; a subscriber
 * thread keeps the response cache in step with the scorer's score
 * events. docs/api-internals.md explains how to add an endpoint.
 */
#ifndef HSI_API_H
#define HSI_API_H

#include <stddef.h>

/* HTTP worker threads, and connections across all of them. */
#define HSI_API_THREADS 2
#define HSI_API_MAX_CONNECTIONS 256
#define HSI_API_TIMEOUT_S 30

#include "net.h"

typedef struct hsi_api hsi_api;

#define HSI_API_RATE_KEYS 4096 /* callers the rate limiter tracks */

typedef struct {
	const char *db_url;        /* required */
	const char *listen;        /* "host:port"; port 0 = any free port */
	const char *events_url;    /* scorer events PUB (topics score and
	                            * ack.<AGENCY>) */
	const char *scorer_url;    /* scorer ingest SUB, where submissions go
	                            * (the gateway dials it as a node) */
	const char *alerts_url;    /* alerter PUB (topic alert) for event
	                            * streams; NULL: no alert events */
	const char *static_dir;    /* NULL: no static files */
	int         public_reads;  /* 0: /v1/ reads need a bearer token */
	hsi_net_tls tls;           /* for a tls+tcp:// events_url */
	double      rate_limit;    /* requests/s per token (per client address
	                            * without one); 0: no limit */
	double      rate_burst;    /* requests at once; 0: 2 x rate_limit */
	const char *cursor_secret; /* 64 hex digits shared by gateways;
	                            * NULL: a random key per process */
} hsi_api_opts;

/*
 * Checks the options and the route tables and binds the listening
 * socket. Nothing serves yet and PostgreSQL is not contacted (it may come
 * up later; /readyz tells). Returns 0 and *out, or with err: HSI_EINVAL
 * (bad listen address, static_dir, cursor_secret, rate or route table;
 * no db_url), HSI_EIO (address in use, cannot bind), HSI_ENOMEM.
 */
int hsi_api_open(
    const hsi_api_opts *opts, hsi_api **out, char *err, size_t err_size);

/*
 * Starts the HTTP daemon and the events thread, then logs
 * {"msg":"listening","url":"http://HOST:PORT"}. Returns 0, or HSI_EIO /
 * HSI_ENOMEM with err.
 */
int hsi_api_start(hsi_api *a, char *err, size_t err_size);

/* The bound TCP port (the real one when 0 was asked for). */
int hsi_api_port(const hsi_api *a);

/* Stops the daemon (in-flight requests finish) and the events thread. */
void hsi_api_stop(hsi_api *a);

/* Stops if needed and frees everything (NULL ok). */
void hsi_api_close(hsi_api *a);

#endif
