/*
 * reply.c: HTTP responses for hsi-api (see reply.h).
 */
#include "reply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JSON_TYPE "application/json; charset=utf-8"

enum MHD_Result
hsi_reply_queue(hsi_req *r, unsigned status, struct MHD_Response *resp)
{
	if (resp == NULL) {
		return MHD_NO;
	}
	r->status          = status;
	enum MHD_Result rv = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return rv;
}

struct MHD_Response *
hsi_reply_problem_new(unsigned status, const char *slug, const char *title,
    const char *detail, const char *param)
{
	char type[128];
	snprintf(type, sizeof(type), "%s%s", HSI_PROBLEM_BASE, slug);
	json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
	    title, "status", (int) status, "detail", detail);
	if (j == NULL) {
		/* Only invalid UTF-8 in detail can fail here: answer
		 * without it rather than drop the connection. */
		j = json_pack("{s:s, s:s, s:i}", "type", type, "title", title,
		    "status", (int) status);
		param = NULL;
	}
	if (j != NULL && param != NULL) {
		json_object_set_new(j, "parameter", json_string(param));
	}
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL) {
		return NULL;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/problem+json; charset=utf-8");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return resp;
}

enum MHD_Result
hsi_reply_problem(hsi_req *r, unsigned status, const char *slug,
    const char *title, const char *detail, const char *param)
{
	return hsi_reply_queue(r, status,
	    hsi_reply_problem_new(status, slug, title, detail, param));
}

static void
add_etag(struct MHD_Response *resp, const char *etag)
{
	if (etag != NULL) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	}
}

enum MHD_Result
hsi_reply_json(hsi_req *r, unsigned status, const char *body, size_t len,
    const char *etag)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
	add_etag(resp, etag);
	return hsi_reply_queue(r, status, resp);
}

enum MHD_Result
hsi_reply_not_modified(hsi_req *r, const char *etag)
{
	struct MHD_Response *resp
	    = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		return MHD_NO;
	}
	add_etag(resp, etag);
	return hsi_reply_queue(r, MHD_HTTP_NOT_MODIFIED, resp);
}

enum MHD_Result
hsi_reply_file(hsi_req *r, int fd, uint64_t size, const char *content_type)
{
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
	if (resp == NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return hsi_reply_queue(r, MHD_HTTP_OK, resp);
}
