/*
 * pipeline_test.c: hsi-api's request pipeline (dispatch.c, call.c,
 * reply.c) over real HTTP, with test routes on a libmicrohttpd daemon on
 * port 0 and a database that cannot be reached: path values, 405 with
 * Allow, HEAD, paginated lists (next_cursor, Link, a cursor refused on
 * another listing or when altered), CSV by Accept and 406, ETag and 304,
 * request bodies (413 announced or streamed, 415, JSON errors with line
 * and column, unknown fields), 401 with WWW-Authenticate, 503 when a
 * token cannot be checked, 429 with Retry-After, and a handler that
 * forgets to answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "call.h"
#include "dispatch.h"
#include "error.h"
#include "reply.h"
#include "server.h"

#define N_ITEMS 5

static const char *const kinds[] = { "all", "odd", NULL };

static const hsi_qparam items_query[] = {
	{ .name = "kind", .type = HSI_QT_ENUM, .choices = kinds },
	HSI_QPARAM_LIMIT,
	HSI_QPARAM_CURSOR,
	{ .name = NULL },
};

/* Items 1..N_ITEMS, one page at a time; the cursor holds the last id. */
static int
get_items(hsi_call *c)
{
	static const char *const cols[] = { "id", "name", NULL };
	hsi_cursor               cur, next;
	int                      rv = hsi_call_cursor(c, &cur);
	if (rv != 0) {
		return rv;
	}
	long long from = cur.n ? cur.part[0].i + 1 : 1, last = 0;
	int       limit = hsi_call_limit(c);
	json_t   *items = json_array();
	for (long long i = from; i <= N_ITEMS && i < from + limit; i++) {
		json_array_append_new(items,
		    json_pack("{s:I, s:s}", "id", (json_int_t) i, "name",
		        i % 2 ? "odd" : "ev,en"));
		last = i;
	}
	hsi_cursor_init(&next);
	if (last > 0 && last < N_ITEMS) {
		hsi_cursor_push_int(&next, last);
	}
	return hsi_reply_page(c, items, &next, cols, HSI_ETAG_AUTO);
}

static const hsi_qparam area_path[] = {
	{ .name = "area", .type = HSI_QT_AREA },
	{ .name = NULL },
};

static int
get_area(hsi_call *c)
{
	return hsi_reply_json(c, MHD_HTTP_OK,
	    json_pack("{s:s, s:s}", "area", hsi_call_text(c, "area"), "method",
	        hsi_call_method(c)),
	    "\"a1\"");
}

static const hsi_jfield thing_fields[] = {
	{ .name = "name", .type = HSI_JT_STRING, .flags = HSI_JF_REQUIRED },
	{ .name = "n", .type = HSI_JT_INTEGER },
	{ .name = NULL },
};

static int
post_thing(hsi_call *c)
{
	json_t *root;
	int     rv = hsi_call_body_json(c, thing_fields, &root);
	if (rv != 0) {
		return rv;
	}
	return hsi_reply_json(c, MHD_HTTP_CREATED, root, NULL);
}

static int
forgetful(hsi_call *c)
{
	(void) c;
	return 0;
}

static const hsi_route test_routes[] = {
	{ .method    = "GET",
	    .pattern = "/v1/items",
	    .handler = get_items,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = items_query,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/areas/{area}",
	    .handler = get_area,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .path    = area_path },
	{ .method           = "POST",
	    .pattern        = "/v1/things",
	    .handler        = post_thing,
	    .access         = HSI_ACCESS_OPEN,
	    .body_max_bytes = 64 },
	{ .method    = "GET",
	    .pattern = "/v1/secret",
	    .handler = forgetful,
	    .access  = HSI_ACCESS_TOKEN },
	{ .method    = "GET",
	    .pattern = "/v1/forgetful",
	    .handler = forgetful,
	    .access  = HSI_ACCESS_OPEN },
	HSI_ROUTE_END,
};
static const hsi_route *const test_tables[] = { test_routes, NULL };

typedef struct {
	hsi_server         srv;
	struct MHD_Daemon *d;
	int                port;
} server;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	(void) version;
	return hsi_dispatch(cls, c, url, method, upload, upload_size, con_cls);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void) cls;
	(void) c;
	hsi_dispatch_completed(con_cls, toe);
}

static void
start(server *s, double rate, double burst)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(hsi_pool_alloc("postgresql:///x?host=/nonexistent-hsi"
	                                "&port=1",
	                     2, &s->srv.pool),
	    0);
	assert_int_equal(hsi_cursor_key_random(&s->srv.cursor_key), 0);
	if (rate > 0) {
		assert_int_equal(
		    hsi_ratelimit_alloc(rate, burst, 64, &s->srv.limiter), 0);
	}
	s->srv.routes       = test_tables;
	s->srv.public_reads = 1;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
	    on_request, &s->srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    NULL, MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_END);
	assert_non_null(s->d);
	s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void
stop(server *s)
{
	MHD_stop_daemon(s->d);
	hsi_ratelimit_free(s->srv.limiter);
	hsi_pool_free(s->srv.pool);
}

/* Sends len bytes of req to 127.0.0.1:port, reads until close (or 3 s). */
static void
http_n(int port, const char *req, size_t len, char *out, size_t size)
{
	struct sockaddr_in sa;
	struct timeval     tv = { 3, 0 };
	int                s  = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *) &sa, sizeof(sa)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t off = 0; off < len;) {
		ssize_t w = send(s, req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0) {
			break; /* the server may close early: read its answer
			        */
		}
		off += (size_t) w;
	}
	size_t  n = 0;
	ssize_t r;
	while (n + 1 < size && (r = recv(s, out + n, size - n - 1, 0)) > 0) {
		n += (size_t) r;
	}
	out[n] = '\0';
	close(s);
}

static void
http(int port, const char *req, char *out, size_t size)
{
	http_n(port, req, strlen(req), out, size);
}

/* GET path with extra header lines (each ending in \r\n). */
static void
get(int port, const char *method, const char *path, const char *headers,
    char *out, size_t size)
{
	char req[4096];
	snprintf(req, sizeof(req),
	    "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n", method,
	    path, headers ? headers : "");
	http(port, req, out, size);
}

static void
expect_has(const char *text, const char *frag)
{
	if (strstr(text, frag) == NULL) {
		fail_msg("no \"%s\" in:\n%s", frag, text);
	}
}

static json_t *
body_json(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	assert_non_null(b);
	json_t *j = json_loads(b + 4, 0, NULL);
	if (j == NULL) {
		fail_msg("not JSON:\n%s", resp);
	}
	return j;
}

/* The value of header name (up to CRLF) into out. */
static void
header(const char *resp, const char *name, char *out, size_t size)
{
	char key[64];
	snprintf(key, sizeof(key), "\r\n%s: ", name);
	const char *h = strstr(resp, key);
	if (h == NULL) {
		fail_msg("no %s in:\n%s", name, resp);
	}
	h += strlen(key);
	snprintf(out, size, "%.*s", (int) strcspn(h, "\r"), h);
}

static void
test_routes_and_values(void **state)
{
	server s;
	char   out[8192];
	(void) state;
	start(&s, 0, 0);
	get(s.port, "GET", "/v1/areas/TH-50", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 200");
	expect_has(out, "{\"area\":\"50\",\"method\":\"GET\"}");
	get(s.port, "HEAD", "/v1/areas/50", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 200");
	expect_has(out, "ETag: \"a1\"");
	assert_null(strstr(out, "\"area\""));
	get(s.port, "GET", "/v1/areas/50", "If-None-Match: W/\"a1\"\r\n", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 304");
	expect_has(out, "ETag: \"a1\"");
	expect_has(out, "Cache-Control: no-cache");

	get(s.port, "GET", "/v1/areas/fifty", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 400");
	expect_has(out, "\"parameter\":\"area\"");
	expect_has(out, "problems/invalid-parameter");
	get(s.port, "DELETE", "/v1/areas/50", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 405");
	expect_has(out, "Allow: GET, HEAD\r\n");
	get(s.port, "GET", "/v1/things", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 405");
	expect_has(out, "Allow: POST\r\n");
	get(s.port, "GET", "/v1/nothing", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 404");
	expect_has(out, "problems/no-route");
	get(s.port, "GET", "/v1/areas/50?x=1", NULL, out, sizeof(out));
	expect_has(out, "problems/unknown-parameter");
	expect_has(out, "takes no query parameters");

	/* A handler that forgets to answer gets the client a 500. */
	get(s.port, "GET", "/v1/forgetful", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 500");
	expect_has(out, "problems/internal");
	stop(&s);
}

static void
test_pages(void **state)
{
	server s;
	char   out[8192], path[1024], link[1024], etag[64], hdr[128];
	(void) state;
	start(&s, 0, 0);
	get(s.port, "GET", "/v1/items?limit=2&kind=all", NULL, out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 200");
	json_t     *j = body_json(out);
	const char *cursor
	    = json_string_value(json_object_get(j, "next_cursor"));
	assert_non_null(cursor);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
	header(out, "Link", link, sizeof(link));
	snprintf(path, sizeof(path),
	    "</v1/items?kind=all&limit=2&cursor=%s>; rel=\"next\"", cursor);
	assert_string_equal(link, path);

	/* The next page; the page size may change, the filters may not. */
	snprintf(path, sizeof(path), "/v1/items?kind=all&limit=2&cursor=%s",
	    cursor);
	get(s.port, "GET", path, NULL, out, sizeof(out));
	expect_has(out, "{\"items\":[{\"id\":3,\"name\":\"odd\"},{\"id\":4,");
	snprintf(path, sizeof(path), "/v1/items?kind=all&limit=9&cursor=%s",
	    cursor);
	get(s.port, "GET", path, NULL, out, sizeof(out));
	expect_has(out, "\"next_cursor\":null");
	assert_null(strstr(out, "\r\nLink:"));
	snprintf(path, sizeof(path), "/v1/items?kind=odd&cursor=%s", cursor);
	get(s.port, "GET", path, NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 400");
	expect_has(out, "problems/invalid-cursor");
	expect_has(out, "\"parameter\":\"cursor\"");
	snprintf(path, sizeof(path), "/v1/items?kind=all&cursor=%sA", cursor);
	get(s.port, "GET", path, NULL, out, sizeof(out));
	expect_has(out, "problems/invalid-cursor");
	json_decref(j);

	/* CSV by Accept, with its own ETag; JSON's tag does not match it. */
	get(s.port, "GET", "/v1/items", "Accept: text/csv\r\n", out,
	    sizeof(out));
	expect_has(out, "Content-Type: text/csv; charset=utf-8");
	expect_has(out, "Vary: Accept");
	expect_has(out, "\r\n\r\nid,name\r\n1,odd\r\n2,\"ev,en\"\r\n");
	header(out, "ETag", etag, sizeof(etag));
	snprintf(hdr, sizeof(hdr), "Accept: text/csv\r\nIf-None-Match: %s\r\n",
	    etag);
	get(s.port, "GET", "/v1/items", hdr, out, sizeof(out));
	expect_has(out, "HTTP/1.1 304");
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
	get(s.port, "GET", "/v1/items", hdr, out, sizeof(out));
	expect_has(out, "HTTP/1.1 200");
	get(s.port, "GET", "/v1/items", "Accept: image/png\r\n", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 406");
	expect_has(out, "problems/not-acceptable");
	get(s.port, "GET", "/v1/areas/50", "Accept: text/csv\r\n", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 406");
	stop(&s);
}

static void
post(int port, const char *type, const char *body, char *out, size_t size)
{
	char req[4096];
	int  n = snprintf(req, sizeof(req),
	     "POST /v1/things HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
	      "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
	     type, strlen(body), body);
	http_n(port, req, (size_t) n, out, size);
}

static void
test_bodies(void **state)
{
	server s;
	char   out[8192], req[8192];
	(void) state;
	start(&s, 0, 0);
	post(s.port, "application/json", "{\"name\":\"x\",\"n\":2}", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 201");
	expect_has(out, "{\"name\":\"x\",\"n\":2}");
	post(s.port, "application/json; charset=utf-8", "{\"name\":\n 7}", out,
	    sizeof(out));
	expect_has(out, "problems/wrong-type");
	expect_has(out, "\"field\":\"/name\"");
	post(s.port, "application/json", "{\"name\":\"x\",\n\"n\":2,}", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 400");
	expect_has(out, "problems/invalid-json");
	expect_has(out, "\"line\":2,\"column\":7");
	post(s.port, "application/json", "{\"name\":\"x\",\"nn\":1}", out,
	    sizeof(out));
	expect_has(out, "problems/unknown-field");
	expect_has(out, "\"field\":\"/nn\"");
	post(s.port, "text/plain", "{\"name\":\"x\"}", out, sizeof(out));
	expect_has(out, "HTTP/1.1 415");

	/* Announced too large: refused before the body is read. */
	char big[200];
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	post(s.port, "application/json", big, out, sizeof(out));
	expect_has(out, "HTTP/1.1 413");
	expect_has(out, "problems/payload-too-large");

	/* Streamed too large (chunked): refused after the last chunk. */
	int n = snprintf(req, sizeof(req),
	    "POST /v1/things HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 4; i++) {
		n += snprintf(
		    req + n, sizeof(req) - (size_t) n, "20\r\n%032d\r\n", i);
	}
	n += snprintf(req + n, sizeof(req) - (size_t) n, "0\r\n\r\n");
	http_n(s.port, req, (size_t) n, out, sizeof(out));
	expect_has(out, "HTTP/1.1 413");
	expect_has(out, "over 64 bytes");

	/* Smuggling-shaped framing, and bodies where none belong. */
	http(s.port,
	    "POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
	    "Content-Length: 2\r\n\r\n{}",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 400");
	http(s.port,
	    "GET /v1/areas/50 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
	    "\r\n{}",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 413");
	expect_has(out, "problems/body-not-allowed");
	stop(&s);
}

static void
test_tokens_and_limits(void **state)
{
	server s;
	char   out[8192], retry[16];
	(void) state;
	start(&s, 0, 0);
	get(s.port, "GET", "/v1/secret", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 401");
	expect_has(out, "WWW-Authenticate: Bearer");
	expect_has(out, "problems/unauthorized");
	/* A token that cannot be checked is not refused: 503. */
	get(s.port, "GET", "/v1/secret",
	    "Authorization: Bearer hsi_"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 503");
	expect_has(out, "Retry-After: 5");
	stop(&s);

	/* Bursts of 2, then one every 2 s: the third request waits. */
	start(&s, 0.5, 2);
	for (int i = 0; i < 2; i++) {
		get(s.port, "GET", "/v1/areas/50", NULL, out, sizeof(out));
		expect_has(out, "HTTP/1.1 200");
	}
	get(s.port, "GET", "/v1/areas/50", NULL, out, sizeof(out));
	expect_has(out, "HTTP/1.1 429");
	expect_has(out, "problems/rate-limited");
	header(out, "Retry-After", retry, sizeof(retry));
	assert_true(atoi(retry) >= 1 && atoi(retry) <= 2);
	/* Open routes are not limited. */
	http(s.port,
	    "POST /v1/things HTTP/1.1\r\nHost: t\r\nConnection: "
	    "close\r\nContent-Type: application/json\r\n"
	    "Content-Length: 12\r\n\r\n{\"name\":\"x\"}",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 201");
	stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_values),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_tokens_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
