/*
 * reply.h: building and queueing HTTP responses for hsi-api, including
 * RFC 9457 problem details (application/problem+json), so every error a
 * client sees has the same shape: type, title, status, detail and, for a
 * bad query parameter, which one.
 */
#ifndef HSI_API_REPLY_H
#define HSI_API_REPLY_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Base of the problem type URIs. */
#define HSI_PROBLEM_BASE "https://hsi.example/problems/"

/* One request, from the handler's first call to its completion. */
typedef struct {
	struct MHD_Connection *conn;
	struct timespec        start;
	unsigned               status; /* of the queued response, for logs */
	char                   method[16];
	char                   path[256];
} hsi_req;

/*
 * Queues resp with status on r's connection and destroys it (MHD keeps
 * its own reference). resp may be NULL (out of memory): then nothing is
 * queued and MHD_NO closes the connection.
 */
enum MHD_Result hsi_reply_queue(
    hsi_req *r, unsigned status, struct MHD_Response *resp);

/*
 * A problem response: type HSI_PROBLEM_BASE slug, title, status, detail,
 * and "parameter" when param is not NULL. The caller owns the result
 * (add headers, then hsi_reply_queue). NULL when out of memory.
 */
struct MHD_Response *hsi_reply_problem_new(unsigned status, const char *slug,
    const char *title, const char *detail, const char *param);

/* hsi_reply_problem_new + hsi_reply_queue. */
enum MHD_Result hsi_reply_problem(hsi_req *r, unsigned status,
    const char *slug, const char *title, const char *detail,
    const char *param);

/*
 * Queues a JSON body (copied) with Content-Type application/json;
 * charset=utf-8; with etag (may be NULL) it also sets ETag and
 * Cache-Control: no-cache, so clients revalidate every time.
 */
enum MHD_Result hsi_reply_json(hsi_req *r, unsigned status, const char *body,
    size_t len, const char *etag);

/* Queues 304 Not Modified with the ETag and Cache-Control. */
enum MHD_Result hsi_reply_not_modified(hsi_req *r, const char *etag);

/* Queues a file: on return MHD owns fd, success or not. */
enum MHD_Result hsi_reply_file(
    hsi_req *r, int fd, uint64_t size, const char *content_type);

#endif
