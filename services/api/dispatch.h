/*
 * dispatch.h: hsi-api's request pipeline, between libmicrohttpd's access
 * handler (api.c) and the endpoint handlers. In order: framing (two
 * Content-Lengths, or Content-Length with Transfer-Encoding: 400), the
 * path's length (414), the route (404 under /v1, 405 with Allow,
 * otherwise static files), the body (413 when the route takes none or
 * more than it takes), the token (401, 503), the rate limit (429 with
 * Retry-After), the route's access (401, 403), Accept (406), the path and
 * query values (400, 414), and then the handler, on the last call, with
 * the body complete.
 */
#ifndef HSI_API_DISPATCH_H
#define HSI_API_DISPATCH_H

#include <microhttpd.h>
#include <stddef.h>

#include "server.h"

/*
 * MHD's access handler body: call it with MHD's arguments and srv.
 * Answers on the second call (keep-alive needs that), or on the first
 * when a body is announced that will be refused (MHD cannot answer once
 * it reads a body), or after the last upload call for a body route.
 */
enum MHD_Result hsi_dispatch(const hsi_server *srv,
    struct MHD_Connection *conn, const char *url, const char *method,
    const char *upload_data, size_t *upload_data_size, void **con_cls);

/* MHD's completion callback body: logs the request and frees its call. */
void hsi_dispatch_completed(
    void **con_cls, enum MHD_RequestTerminationCode toe);

/* A monotonic clock in milliseconds (the rate limiter's time). */
long long hsi_dispatch_now_ms(void);

#endif
