/*
 * api.c: hsi-api's HTTP server over libmicrohttpd (see api.h).
 *
 * We bind the listening socket ourselves and hand it to MHD: when MHD
 * binds, a busy port only shows as MHD_start_daemon() returning NULL,
 * and "address in use" is the one start-up error operators need spelt
 * out. What happens to a request is dispatch.c's business.
 */
#include "api.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "routes.h"
#include "sender.h"

struct hsi_api {
	hsi_server         srv;
	struct MHD_Daemon *daemon;
	hsi_events        *events;
	char              *events_url;
	char              *scorer_url;
	char              *db_url;
	char              *alerts_url; /* NULL: no alert events */
	char               host[64];
	int                v6;
	int                fd; /* listening socket until MHD owns it */
	int                port;
	hsi_net_tls        tls; /* strings owned by the caller's options */
};

/* Splits "host:port" / "[v6]:port" into host and port text. */
static int
split_listen(
    const char *listen, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon = strrchr(listen, ':');
	if (colon == NULL) {
		return HSI_EINVAL;
	}
	const char *h  = listen;
	size_t      hl = (size_t) (colon - listen);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	const char *p  = colon + 1;
	size_t      pl = strlen(p);
	if (hl >= hsize || pl == 0 || pl >= psize || pl > 5
	    || strspn(p, "0123456789") != pl || atol(p) > 65535) {
		return HSI_EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
}

static int
bind_socket(hsi_api *a, const struct addrinfo *ai, const char *addr, char *err,
    size_t err_size)
{
	int one = 1;
	a->fd   = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		snprintf(err, err_size, "cannot open a socket for %s: %s",
		    addr, strerror(errno));
		return HSI_EIO;
	}
	setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->fd, ai->ai_addr, ai->ai_addrlen) != 0
	    || listen(a->fd, 128) != 0) {
		int e = errno;
		snprintf(err, err_size, "cannot listen on %s: %s%s", addr,
		    strerror(e),
		    e == EADDRINUSE
		        ? " (another process is using it: stop it, "
		          "or choose another listen address; port "
		          "0 picks a free one)"
		        : "");
		close(a->fd);
		a->fd = -1;
		return HSI_EIO;
	}
	struct sockaddr_storage ss;
	socklen_t               sl = sizeof(ss);
	if (getsockname(a->fd, (struct sockaddr *) &ss, &sl) == 0) {
		a->port = ntohs(ss.ss_family == AF_INET6
		        ? ((struct sockaddr_in6 *) &ss)->sin6_port
		        : ((struct sockaddr_in *) &ss)->sin_port);
	}
	a->v6 = ai->ai_family == AF_INET6;
	return 0;
}

static int
open_listener(hsi_api *a, const char *addr, char *err, size_t err_size)
{
	char            port[8];
	struct addrinfo hints, *res = NULL;
	if (addr == NULL
	    || split_listen(addr, a->host, sizeof(a->host), port, sizeof(port))
	        != 0) {
		snprintf(err, err_size,
		    "listen '%s' is not HOST:PORT (e.g. 127.0.0.1:8080, "
		    "[::1]:8080; port 0 picks a free one)",
		    addr ? addr : "");
		return HSI_EINVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family   = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags    = AI_PASSIVE | AI_NUMERICSERV;
	int g = getaddrinfo(a->host[0] ? a->host : NULL, port, &hints, &res);
	if (g != 0) {
		snprintf(
		    err, err_size, "listen '%s': %s", addr, gai_strerror(g));
		return HSI_EINVAL;
	}
	int rv = bind_socket(a, res, addr, err, err_size);
	freeaddrinfo(res);
	return rv;
}

/* Rate limiter, cursor key and route tables. */
static int
open_server(hsi_api *a, const hsi_api_opts *opts, char *err, size_t err_size)
{
	double rate   = opts->rate_limit;
	double burst  = opts->rate_burst > 0 ? opts->rate_burst : 2 * rate;
	a->srv.routes = hsi_route_tables;
	if (hsi_router_check(a->srv.routes, err, err_size) != 0) {
		return HSI_EINVAL;
	}
	if (opts->cursor_secret != NULL
	        ? hsi_cursor_key_hex(opts->cursor_secret, &a->srv.cursor_key)
	        : hsi_cursor_key_random(&a->srv.cursor_key)) {
		snprintf(err, err_size,
		    "cursor_secret is not 64 hex digits (or no random "
		    "bytes are available): make one with openssl rand -hex "
		    "32");
		return HSI_EINVAL;
	}
	if (rate < 0 || burst < 0
	    || (rate > 0
	        && hsi_ratelimit_alloc(
	               rate, burst, HSI_API_RATE_KEYS, &a->srv.limiter)
	            != 0)) {
		snprintf(err, err_size,
		    "rate_limit %g with rate_burst %g: give requests a second "
		    "(0 turns the limit off) and a burst of at least 1",
		    rate, burst);
		return HSI_EINVAL;
	}
	return 0;
}

int
hsi_api_open(
    const hsi_api_opts *opts, hsi_api **out, char *err, size_t err_size)
{
	hsi_api *a = calloc(1, sizeof(*a));
	int      rv;
	if (a == NULL) {
		return HSI_ENOMEM;
	}
	a->fd               = -1;
	a->srv.public_reads = opts->public_reads;
	a->tls              = opts->tls;
	if ((rv = open_server(a, opts, err, err_size)) != 0) {
		goto fail;
	}
	if (opts->db_url == NULL || *opts->db_url == '\0'
	    || opts->events_url == NULL) {
		snprintf(err, err_size,
		    "no %s: set %s in the config, %s or %s",
		    opts->events_url ? "database" : "events address",
		    opts->events_url ? "db_url" : "events_url",
		    opts->events_url ? "HSI_DB_URL" : "HSI_EVENTS_URL",
		    opts->events_url ? "--db-url" : "--events-url");
		rv = HSI_EINVAL;
		goto fail;
	}
	if ((rv = hsi_pool_alloc(opts->db_url, HSI_API_THREADS, &a->srv.pool))
	        != 0
	    || (rv = hsi_cache_alloc(&a->srv.cache)) != 0
	    || (rv = hsi_metrics_alloc(a->srv.routes, &a->srv.metrics)) != 0
	    || (a->events_url = strdup(opts->events_url)) == NULL
	    || (a->db_url = strdup(opts->db_url)) == NULL
	    || (a->scorer_url
	           = strdup(opts->scorer_url ? opts->scorer_url
	                                     : "tcp://127.0.0.1:7450"))
	        == NULL
	    || hsi_sse_hub_alloc(&a->srv.sse) != 0
	    || (opts->alerts_url != NULL
	        && (a->alerts_url = strdup(opts->alerts_url)) == NULL)) {
		snprintf(err, err_size, "out of memory");
		rv = HSI_ENOMEM;
		goto fail;
	}
	if ((opts->static_dir != NULL
	        && (rv = hsi_files_open(
	                opts->static_dir, &a->srv.files, err, err_size))
	            != 0)
	    || (rv = open_listener(a, opts->listen, err, err_size)) != 0) {
		goto fail;
	}
	*out = a;
	return 0;
fail:
	hsi_api_close(a);
	return rv;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	(void) cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	hsi_log_warn("libmicrohttpd", "{s:s}", "detail", buf);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	hsi_api *a = cls;
	(void) version;
	return hsi_dispatch(
	    &a->srv, c, url, method, upload_data, upload_data_size, con_cls);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void) cls;
	(void) c;
	hsi_dispatch_completed(con_cls, toe);
}

int
hsi_api_start(hsi_api *a, char *err, size_t err_size)
{
	int rv = hsi_events_start(a->events_url, a->alerts_url, &a->tls,
	    a->srv.cache, a->srv.sse, &a->events, err, err_size);
	if (rv != 0) {
		return rv;
	}
	a->srv.events      = a->events;
	hsi_sender_opts so = { .db_url = a->db_url,
		.scorer_url            = a->scorer_url,
		.events_url            = a->events_url,
		.tls                   = a->tls };
	if ((rv = hsi_sender_start(&so, &a->srv.sender, err, err_size)) != 0) {
		return rv;
	}
	if (hsi_sse_hub_start(a->srv.sse) != 0) {
		snprintf(err, err_size, "cannot start the heartbeat thread");
		return HSI_ENOMEM;
	}
	/* Event streams are suspended connections (sse.c). */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
	    | MHD_ALLOW_SUSPEND_RESUME;
	a->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, a->fd, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned) HSI_API_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned) HSI_API_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned) HSI_API_MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, a, MHD_OPTION_END);
	if (a->daemon == NULL) {
		snprintf(err, err_size,
		    "cannot start the HTTP server (libmicrohttpd; see its "
		    "message above)");
		return HSI_EIO;
	}
	a->fd = -1; /* MHD closes it when stopped */
	const union MHD_DaemonInfo *info
	    = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info != NULL && info->port != 0) {
		a->port = info->port;
	}
	char url[128];
	snprintf(url, sizeof(url), a->v6 ? "http://[%s]:%d" : "http://%s:%d",
	    a->host[0] ? a->host : (a->v6 ? "::" : "0.0.0.0"), a->port);
	hsi_log_info("listening", "{s:s}", "url", url);
	return 0;
}

int
hsi_api_port(const hsi_api *a)
{
	return a->port;
}

void
hsi_api_stop(hsi_api *a)
{
	/* Streams are suspended connections: MHD must not stop with any. */
	hsi_sse_hub_stop(a->srv.sse);
	if (a->daemon != NULL) {
		MHD_stop_daemon(a->daemon);
		a->daemon = NULL;
	}
	hsi_events_stop(a->events);
	a->events     = NULL;
	a->srv.events = NULL;
	/* After the daemon: no handler can wake it any more. */
	hsi_sender_stop(a->srv.sender);
	a->srv.sender = NULL;
}

void
hsi_api_close(hsi_api *a)
{
	if (a == NULL) {
		return;
	}
	hsi_api_stop(a);
	if (a->fd >= 0) {
		close(a->fd);
	}
	hsi_files_close(a->srv.files);
	hsi_cache_free(a->srv.cache);
	hsi_metrics_free(a->srv.metrics);
	hsi_sse_hub_free(a->srv.sse);
	hsi_pool_free(a->srv.pool);
	hsi_ratelimit_free(a->srv.limiter);
	free(a->events_url);
	free(a->scorer_url);
	free(a->db_url);
	free(a->alerts_url);
	free(a);
}
