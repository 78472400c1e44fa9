/*
 * api_test.c: hsi-api without PostgreSQL: the response cache
 * (invalidation, the generation guard, the size cap), score-event
 * decoding, static-file confinement, and a real server on port 0 whose
 * database is unreachable: health, readiness, problem answers, 405,
 * HEAD, 401 when reads need a token, and keep-alive are all checked over
 * a TCP socket. The parsers, the router and the request pipeline have
 * their own tests under tests/api/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api.h"
#include "cache.h"
#include "envelope.h"
#include "error.h"
#include "event.h"
#include "events.h"
#include "files.h"

static void
test_cache(void **state)
{
	hsi_cache *c;
	char      *body;
	size_t     len;
	char       etag[HSI_ETAG_MAX];
	(void) state;
	assert_int_equal(hsi_cache_alloc(&c), 0);
	uint64_t g = hsi_cache_generation(c);
	assert_int_equal(hsi_cache_put(c, g, "2024", 1, "{}", 2, "\"e\""), 0);
	assert_int_equal(hsi_cache_put(c, g, "2023", 1, "[]", 2, "\"f\""), 0);
	assert_int_equal(hsi_cache_get(c, "2024", 1, &body, &len, etag), 0);
	assert_int_equal(len, 2);
	assert_string_equal(body, "{}");
	assert_string_equal(etag, "\"e\"");
	free(body);
	assert_int_equal(
	    hsi_cache_get(c, "2024", 2, &body, &len, etag), HSI_ENOENT);

	/* A score event for 2024 drops 2024 only. */
	hsi_cache_invalidate(c, "2024");
	assert_int_equal(
	    hsi_cache_get(c, "2024", 1, &body, &len, etag), HSI_ENOENT);
	assert_int_equal(hsi_cache_get(c, "2023", 1, &body, &len, etag), 0);
	free(body);

	/* A body read before an invalidation must not be stored after. */
	assert_int_equal(
	    hsi_cache_put(c, g, "2024", 1, "{}", 2, "\"e\""), HSI_ESTATE);
	hsi_cache_invalidate(c, NULL);
	assert_int_equal(
	    hsi_cache_get(c, "2023", 1, &body, &len, etag), HSI_ENOENT);

	/* Capped: more periods than entries evict, never grow. */
	g = hsi_cache_generation(c);
	for (int i = 0; i < HSI_CACHE_ENTRIES + 5; i++) {
		char p[16];
		snprintf(p, sizeof(p), "%d", 1950 + i);
		assert_int_equal(
		    hsi_cache_put(c, g, p, 1, "{}", 2, "\"e\""), 0);
	}
	assert_int_equal(
	    hsi_cache_get(c, "1950", 1, &body, &len, etag), HSI_ENOENT);
	assert_int_equal(hsi_cache_get(c, "2018", 1, &body, &len, etag), 0);
	free(body);
	hsi_cache_free(c);
}

/* topic '\n' Envelope{ScoreEvent{seq, period}} into buf; returns length. */
static size_t
score_msg(uint8_t *buf, const char *topic, uint64_t seq, const char *period)
{
	uint8_t         pb[128];
	Hsi__ScoreEvent ev   = HSI__SCORE_EVENT__INIT;
	ev.seq               = seq;
	ev.period            = (char *) period;
	size_t        n      = hsi__score_event__pack(&ev, pb);
	Hsi__Envelope env    = HSI__ENVELOPE__INIT;
	env.protocol_version = HSI_PROTOCOL_VERSION;
	env.payload_type     = HSI__PAYLOAD_TYPE__SCORE_EVENT;
	env.payload.data     = pb;
	env.payload.len      = n;
	size_t t             = strlen(topic);
	memcpy(buf, topic, t);
	buf[t] = '\n';
	return t + 1 + hsi__envelope__pack(&env, buf + t + 1);
}

static void
test_events_decode(void **state)
{
	uint8_t  buf[512];
	uint64_t seq = 0;
	char     period[HSI_PERIOD_MAX];
	(void) state;
	size_t n = score_msg(buf, "score", 42, "๒๕๖๗");
	assert_int_equal(hsi_score_event_decode(buf, n, &seq, period), 0);
	assert_int_equal(seq, 42);
	assert_string_equal(period, "2024");
	n = score_msg(buf, "scorex", 1, "2024");
	assert_int_equal(
	    hsi_score_event_decode(buf, n, &seq, period), HSI_EPROTO);
	n = score_msg(buf, "score", 1, "not a period");
	assert_int_equal(
	    hsi_score_event_decode(buf, n, &seq, period), HSI_EPROTO);
	memcpy(buf, "score\n\xff\xff\xff", 9);
	assert_int_equal(
	    hsi_score_event_decode(buf, 9, &seq, period), HSI_EPROTO);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_files(void **state)
{
	char        dir[] = "/tmp/hsi-api-test-XXXXXX", p[128];
	hsi_files  *f;
	int         fd;
	uint64_t    size;
	const char *type;
	char        err[300];
	(void) state;
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/index.html", dir);
	write_file(p, "<h1>x</h1>");
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	write_file(p, "x");
	snprintf(p, sizeof(p), "%s/.env.json", dir);
	write_file(p, "{}");
	snprintf(p, sizeof(p), "%s/out.html", dir);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(hsi_files_open(dir, &f, err, sizeof(err)), 0);

	assert_int_equal(hsi_files_lookup(f, "/", &fd, &size, &type), 0);
	assert_int_equal(size, 10);
	assert_string_equal(type, "text/html; charset=utf-8");
	close(fd);
	const char *refused[] = { "/notes.txt", "/.env.json", "/out.html",
		"/../etc/passwd", "/a/../index.html", "/missing.js", NULL };
	for (int i = 0; refused[i] != NULL; i++) {
		if (hsi_files_lookup(f, refused[i], &fd, &size, &type)
		    != HSI_ENOENT) {
			fail_msg("served %s", refused[i]);
		}
	}
	hsi_files_close(f);
	assert_int_equal(
	    hsi_files_open("/nonexistent-hsi", &f, err, sizeof(err)),
	    HSI_EINVAL);
	assert_non_null(strstr(err, "/nonexistent-hsi"));
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

/* Sends req to 127.0.0.1:port and reads until the peer closes (or 2 s). */
static void
http(int port, const char *req, char *out, size_t size)
{
	struct sockaddr_in sa;
	struct timeval     tv = { 2, 0 };
	int                s  = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *) &sa, sizeof(sa)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(s, req, strlen(req), 0), (ssize_t) strlen(req));
	size_t  n = 0;
	ssize_t r;
	while (n + 1 < size && (r = recv(s, out + n, size - n - 1, 0)) > 0) {
		n += (size_t) r;
	}
	out[n] = '\0';
	close(s);
}

static void
expect_has(const char *text, const char *frag)
{
	if (strstr(text, frag) == NULL) {
		fail_msg("no \"%s\" in:\n%s", frag, text);
	}
}

static void
test_server_without_db(void **state)
{
	hsi_api     *a;
	char         err[600], out[8192];
	hsi_api_opts o = { .db_url = "postgresql:///x?host=/nonexistent-hsi"
		                     "&port=1",
		.listen            = "127.0.0.1:0",
		.events_url        = "inproc://api-test-events",
		.public_reads      = 1 };
	(void) state;
	assert_int_equal(hsi_api_open(&o, &a, err, sizeof(err)), 0);
	assert_int_equal(hsi_api_start(a, err, sizeof(err)), 0);
	int port = hsi_api_port(a);
	assert_true(port > 0);

	/* Two requests on one connection: keep-alive must survive. */
	http(port,
	    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 200 OK");
	expect_has(out, "{\"status\":\"ok\"}");
	expect_has(out, "HTTP/1.1 503");

	http(port,
	    "GET /v1/index HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 400");
	expect_has(out, "application/problem+json");
	expect_has(out, "\"parameter\":\"period\"");

	http(port,
	    "GET /v1/index?period=2024&x=1 HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "\"parameter\":\"x\"");

	http(port, "DELETE /v1/index HTTP/1.1\r\nHost: t\r\n\r\n", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 405");
	expect_has(out, "Allow: GET, HEAD");

	http(port,
	    "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 413");

	http(port,
	    "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out,
	    sizeof(out));
	expect_has(out, "HTTP/1.1 404");

	http(port,
	    "GET /v1/nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 404");
	expect_has(out, "problems/no-route");

	/* HEAD answers wherever GET does, without a body. */
	http(port,
	    "HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 200");
	assert_null(strstr(out, "\"status\""));
	hsi_api_close(a);
}

static void
test_reads_need_token(void **state)
{
	hsi_api     *a;
	char         err[600], out[8192];
	hsi_api_opts o = { .db_url = "postgresql:///x?host=/nonexistent-hsi"
		                     "&port=1",
		.listen            = "127.0.0.1:0",
		.events_url        = "inproc://api-test-events3",
		.public_reads      = 0,
		.rate_limit        = 100 };
	(void) state;
	assert_int_equal(hsi_api_open(&o, &a, err, sizeof(err)), 0);
	assert_int_equal(hsi_api_start(a, err, sizeof(err)), 0);
	http(hsi_api_port(a),
	    "GET /v1/index?period=2024 HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 401");
	expect_has(out, "WWW-Authenticate: Bearer");
	expect_has(out, "problems/unauthorized");
	/* Probes stay open. */
	http(hsi_api_port(a),
	    "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	expect_has(out, "HTTP/1.1 200");
	hsi_api_close(a);

	/* Options that cannot work are refused with a reason. */
	o.cursor_secret = "abc";
	assert_int_equal(hsi_api_open(&o, &a, err, sizeof(err)), HSI_EINVAL);
	assert_non_null(strstr(err, "cursor_secret"));
	o.cursor_secret = NULL;
	o.rate_limit    = -1;
	assert_int_equal(hsi_api_open(&o, &a, err, sizeof(err)), HSI_EINVAL);
	assert_non_null(strstr(err, "rate_limit"));
}

static void
test_address_in_use(void **state)
{
	hsi_api     *a, *b;
	char         err[600], listen[32];
	hsi_api_opts o = { .db_url = "postgresql:///x?host=/nonexistent-hsi"
		                     "&port=1",
		.listen            = "127.0.0.1:0",
		.events_url        = "inproc://api-test-events2",
		.public_reads      = 1 };
	(void) state;
	assert_int_equal(hsi_api_open(&o, &a, err, sizeof(err)), 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", hsi_api_port(a));
	o.listen = listen;
	assert_int_equal(hsi_api_open(&o, &b, err, sizeof(err)), HSI_EIO);
	assert_non_null(strstr(err, "in use"));
	o.listen = "no-port";
	assert_int_equal(hsi_api_open(&o, &b, err, sizeof(err)), HSI_EINVAL);
	hsi_api_close(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_events_decode),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_server_without_db),
		cmocka_unit_test(test_reads_need_token),
		cmocka_unit_test(test_address_in_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
