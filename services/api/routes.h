/*
 * routes.h: hsi-api's request handling: method and body checks, then
 * GET /healthz, /readyz, /v1/index and static files. The HTTP server
 * (api.c) owns the connections; this module only answers requests.
 */
#ifndef HSI_API_ROUTES_H
#define HSI_API_ROUTES_H

#include <microhttpd.h>
#include <stddef.h>

#include "cache.h"
#include "files.h"
#include "pool.h"
#include "reply.h"

/* What the handlers need; owned by the server, shared by its threads. */
typedef struct {
	hsi_pool  *pool;
	hsi_cache *cache;
	hsi_files *files; /* NULL: no static files */
	int        public_reads;
} hsi_routes;

/*
 * Answers request r (its second handler call: headers complete).
 * upload_size is MHD's *upload_data_size. Queues exactly one response,
 * or returns MHD_NO (out of memory: MHD closes the connection).
 */
enum MHD_Result hsi_routes_dispatch(const hsi_routes *rt, hsi_req *r,
    const char *url, const char *method, size_t upload_size);

/*
 * 1 if r announces a body (Content-Length other than 0, or any
 * Transfer-Encoding). MHD cannot queue a response once it reads a body,
 * so such a request, which is refused anyway, must be dispatched on the
 * handler's first call (MHD then closes the connection).
 */
int hsi_routes_has_body(const hsi_req *r);

/*
 * 1 if an If-None-Match header value (a list of entity tags, or "*")
 * matches etag; weak tags (W/"...") compare by their opaque part.
 */
int hsi_routes_etag_match(const char *if_none_match, const char *etag);

#endif
