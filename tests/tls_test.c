/*
 * tls_test.c: mutual TLS over nng (common/net.c) with certificates made at
 * test time by scripts/mkcerts.sh: a node with a certificate from our CA
 * gets the scorer's messages over tls+tcp://127.0.0.1 and
 * tls+tcp://localhost; a node whose certificate another CA signed, a node
 * without a certificate, a node facing a server of another CA and a node
 * dialling an address the server's certificate does not name get nothing; a
 * tls+tcp:// address without certificates, with a missing file or with a file
 * that is not certificate + key is refused with a message naming what to fix.
 * The plain tcp:// path is checked too.
 *
 * The script is found through $HSI_SOURCE_DIR, else the HSI_SOURCE_DIR
 * compile definition.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "net.h"

#ifndef HSI_SOURCE_DIR
#define HSI_SOURCE_DIR "."
#endif

static char base[200];  /* the mkdtemp directory */
static char dir[256];   /* our CA: scorer.pem, DOH.pem, ca.pem */
static char rogue[256]; /* another CA with the same names */

static char *
path(char *buf, size_t n, const char *d, const char *file)
{
	snprintf(buf, n, "%s/%s", d, file);
	return buf;
}

static int
mkcerts(const char *out)
{
	const char *src = getenv("HSI_SOURCE_DIR");
	char        cmd[1024];
	if (src == NULL || *src == '\0') {
		src = HSI_SOURCE_DIR;
	}
	snprintf(cmd, sizeof cmd,
	    "bash '%s/scripts/mkcerts.sh' '%s' DOH >/dev/null", src, out);
	int rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "tls_test: '%s' failed (%d)\n", cmd, rc);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	(void) state;
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 150) {
		tmp = "/tmp";
	}
	snprintf(base, sizeof base, "%s/hsi-tls-XXXXXX", tmp);
	if (mkdtemp(base) == NULL) {
		return -1;
	}
	snprintf(dir, sizeof dir, "%s/ours", base);
	snprintf(rogue, sizeof rogue, "%s/rogue", base);
	if (mkcerts(dir) != 0 || mkcerts(rogue) != 0) {
		teardown(state);
		return -1;
	}
	return 0;
}

static int
free_port(void)
{
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a  = { .sin_family = AF_INET };
	socklen_t          n  = sizeof a;
	a.sin_addr.s_addr     = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &n), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/*
 * A SUB socket with its receive thread (blocking receive, no
 * NNG_OPT_RECVTIMEO: nng 1.5.2 #1523); closing the socket ends the thread.
 */
typedef struct {
	nng_socket      sock;
	pthread_t       thr;
	pthread_mutex_t mtx;
	int             got;
	char            last[64];
} sub;

static void *
sub_main(void *arg)
{
	sub *s = arg;
	for (;;) {
		nng_msg *m;
		if (nng_recvmsg(s->sock, &m, 0) != 0) {
			return NULL;
		}
		pthread_mutex_lock(&s->mtx);
		size_t n = nng_msg_len(m) < sizeof s->last - 1
		    ? nng_msg_len(m)
		    : sizeof s->last - 1;
		memcpy(s->last, nng_msg_body(m), n);
		s->last[n] = '\0';
		s->got++;
		pthread_mutex_unlock(&s->mtx);
		nng_msg_free(m);
	}
}

static void
sub_start(sub *s)
{
	pthread_mutex_init(&s->mtx, NULL);
	s->got = 0;
	assert_int_equal(pthread_create(&s->thr, NULL, sub_main, s), 0);
}

static int
sub_got(sub *s)
{
	pthread_mutex_lock(&s->mtx);
	int n = s->got;
	pthread_mutex_unlock(&s->mtx);
	return n;
}

static void
sub_stop(sub *s)
{
	assert_int_equal(hsi_net_close_bounded(s->sock, 5000), 0);
	pthread_join(s->thr, NULL);
	pthread_mutex_destroy(&s->mtx);
}

static void
sub_dial(sub *s, const char *url, const hsi_net_tls *tls)
{
	char err[512] = "";
	int  rv
	    = hsi_net_sub_open(&s->sock, url, 0, NULL, tls, err, sizeof err);
	if (rv != 0) {
		fail_msg("sub dial %s: %d %s", url, rv, err);
	}
	sub_start(s);
}

/*
 * Publishes "score\nN" every 50 ms until want receives or deadline_ms
 * passes; then keeps publishing for linger_ms. Returns want's count.
 */
static int
publish_until(nng_socket pub, sub *want, long deadline_ms, long linger_ms)
{
	long end = now_ms() + deadline_ms;
	int  i   = 0;
	while (now_ms() < end && (want == NULL || sub_got(want) == 0)) {
		char body[32];
		snprintf(body, sizeof body, "%d", i++);
		assert_int_equal(
		    hsi_net_send(pub, "score", body, strlen(body)), 0);
		sleep_ms(50);
	}
	end = now_ms() + linger_ms;
	while (now_ms() < end) {
		assert_int_equal(hsi_net_send(pub, "score", "x", 1), 0);
		sleep_ms(50);
	}
	return want != NULL ? sub_got(want) : 0;
}

static void
pub_listen_on(nng_socket *pub, char *url, size_t n, const char *certdir,
    const char *host)
{
	char        cert[300], ca[300], err[512] = "";
	hsi_net_tls tls = { path(cert, sizeof cert, certdir, "scorer.pem"),
		NULL, path(ca, sizeof ca, certdir, "ca.pem") };
	for (int attempt = 0;; attempt++) {
		snprintf(url, n, "tls+tcp://%s:%d", host, free_port());
		int rv = hsi_net_pub_open(pub, url, 1, &tls, err, sizeof err);
		if (rv == 0) {
			return;
		}
		if (rv != HSI_EIO || attempt == 5) {
			fail_msg("pub listen %s: %d %s", url, rv, err);
		}
	}
}

static void
pub_listen(nng_socket *pub, char *url, size_t n, const char *certdir)
{
	pub_listen_on(pub, url, n, certdir, "127.0.0.1");
}

static void
test_mutual_tls_delivers(void **state)
{
	(void) state;
	nng_socket  pub;
	char        url[64], cert[300], ca[300];
	hsi_net_tls tls = { path(cert, sizeof cert, dir, "DOH.pem"), NULL,
		path(ca, sizeof ca, dir, "ca.pem") };
	pub_listen(&pub, url, sizeof url, dir);
	sub s = { 0 };
	sub_dial(&s, url, &tls);
	assert_true(publish_until(pub, &s, 15000, 0) > 0);
	pthread_mutex_lock(&s.mtx);
	assert_memory_equal(s.last, "score\n", 6);
	pthread_mutex_unlock(&s.mtx);

	/* The name check: "localhost" is in the scorer's SAN too. */
	char local[64];
	snprintf(local, sizeof local, "tls+tcp4://localhost:%s",
	    strrchr(url, ':') + 1);
	sub l = { 0 };
	sub_dial(&l, local, &tls);
	assert_true(publish_until(pub, &l, 15000, 0) > 0);
	sub_stop(&l);
	sub_stop(&s);
	assert_int_equal(hsi_net_close_bounded(pub, 5000), 0);
}

static void
test_untrusted_peers_get_nothing(void **state)
{
	(void) state;
	nng_socket  pub;
	char        url[64], cert[300], ca[300], rcert[300];
	hsi_net_tls good = { path(cert, sizeof cert, dir, "DOH.pem"), NULL,
		path(ca, sizeof ca, dir, "ca.pem") };
	/* Signed by another CA; trusts our CA so only the server refuses. */
	hsi_net_tls bad = { path(rcert, sizeof rcert, rogue, "DOH.pem"), NULL,
		good.ca_file };
	pub_listen(&pub, url, sizeof url, dir);
	sub g = { 0 }, b = { 0 }, none = { 0 };
	sub_dial(&b, url, &bad);

	/* No client certificate at all: raw nng, the CA only. */
	assert_int_equal(nng_sub0_open(&none.sock), 0);
	assert_int_equal(
	    nng_socket_set(none.sock, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	nng_dialer d;
	assert_int_equal(nng_dialer_create(&d, none.sock, url), 0);
	assert_int_equal(
	    nng_dialer_set_string(d, NNG_OPT_TLS_CA_FILE, good.ca_file), 0);
	assert_int_equal(nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 100), 0);
	assert_int_equal(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
	sub_start(&none);

	sub_dial(&g, url, &good);
	/* The good node proves the listener works while the others try. */
	assert_true(publish_until(pub, &g, 15000, 1500) > 0);
	assert_int_equal(sub_got(&b), 0);
	assert_int_equal(sub_got(&none), 0);
	sub_stop(&g);
	sub_stop(&b);
	sub_stop(&none);
	assert_int_equal(hsi_net_close_bounded(pub, 5000), 0);
}

static void
test_server_of_another_ca_is_refused(void **state)
{
	(void) state;
	nng_socket pub, pub2;
	char       url[64], url2[64], cert[300], ca[300];
	/* Our node dials a scorer whose certificate another CA signed. */
	pub_listen(&pub, url, sizeof url, rogue);
	pub_listen(&pub2, url2, sizeof url2, dir);
	hsi_net_tls tls = { path(cert, sizeof cert, dir, "DOH.pem"), NULL,
		path(ca, sizeof ca, dir, "ca.pem") };
	sub         s = { 0 }, ok = { 0 };
	sub_dial(&s, url, &tls);
	sub_dial(&ok, url2, &tls);
	assert_true(publish_until(pub2, &ok, 15000, 0) > 0);
	publish_until(pub, NULL, 0, 1500);
	assert_int_equal(sub_got(&s), 0);
	sub_stop(&s);
	sub_stop(&ok);
	assert_int_equal(hsi_net_close_bounded(pub, 5000), 0);
	assert_int_equal(hsi_net_close_bounded(pub2, 5000), 0);
}

static void
test_server_name_is_checked(void **state)
{
	(void) state;
	nng_socket pub, pub2;
	char       url[64], url2[64], cert[300], ca[300];
	/*
	 * The scorer's certificate names 127.0.0.1, localhost and scorer, not
	 * 127.0.0.2 (loopback too on Linux): a node dialling that address
	 * must refuse it although our CA signed it.
	 */
	pub_listen_on(&pub, url, sizeof url, dir, "127.0.0.2");
	pub_listen(&pub2, url2, sizeof url2, dir);
	hsi_net_tls tls = { path(cert, sizeof cert, dir, "DOH.pem"), NULL,
		path(ca, sizeof ca, dir, "ca.pem") };
	sub         s = { 0 }, ok = { 0 };
	sub_dial(&s, url, &tls);
	sub_dial(&ok, url2, &tls);
	assert_true(publish_until(pub2, &ok, 15000, 0) > 0);
	publish_until(pub, NULL, 0, 1500);
	assert_int_equal(sub_got(&s), 0);
	sub_stop(&s);
	sub_stop(&ok);
	assert_int_equal(hsi_net_close_bounded(pub, 5000), 0);
	assert_int_equal(hsi_net_close_bounded(pub2, 5000), 0);
}

static void
expect_einval(
    const char *url, int listen, const hsi_net_tls *tls, const char *needle)
{
	nng_socket s;
	char       err[512] = "";
	int rv = hsi_net_pub_open(&s, url, listen, tls, err, sizeof err);
	if (rv == 0) {
		hsi_net_close_bounded(s, 5000);
	}
	assert_int_equal(rv, HSI_EINVAL);
	if (strstr(err, needle) == NULL) {
		fail_msg("message for %s lacks \"%s\": %s", url, needle, err);
	}
}

static void
test_bad_configuration_is_refused(void **state)
{
	(void) state;
	char        url[64], cert[300], ca[300];
	hsi_net_tls empty = { NULL, NULL, NULL };
	path(cert, sizeof cert, dir, "DOH.pem");
	path(ca, sizeof ca, dir, "ca.pem");
	snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", free_port());
	for (int listen = 0; listen < 2; listen++) {
		expect_einval(url, listen, NULL, "tls_cert");
		expect_einval(url, listen, &empty, "tls_cert and tls_ca");
		expect_einval(url, listen, &(hsi_net_tls) { cert, NULL, NULL },
		    "needs tls_ca");
		expect_einval(url, listen,
		    &(hsi_net_tls) { "/nonexistent/x.pem", NULL, ca },
		    "/nonexistent/x.pem");
		expect_einval(url, listen,
		    &(hsi_net_tls) { cert, NULL, "/nonexistent/ca.pem" },
		    "cannot read tls_ca /nonexistent/ca.pem");
		/* ca.pem holds no private key. */
		expect_einval(url, listen, &(hsi_net_tls) { ca, NULL, ca },
		    "is not a usable certificate + private key");
		/* ca.key holds no certificate. */
		char key[300];
		expect_einval(url, listen,
		    &(hsi_net_tls) {
		        cert, NULL, path(key, sizeof key, dir, "ca.key") },
		    "is not a usable PEM CA certificate");
		expect_einval(url, listen,
		    &(hsi_net_tls) { cert, "/elsewhere/key.pem", ca },
		    "separate tls_key");
	}
}

static void
test_plain_tcp_unchanged(void **state)
{
	(void) state;
	nng_socket pub;
	char       url[64], err[512] = "";
	/* TLS settings are ignored for tcp://. */
	hsi_net_tls junk = { "/nonexistent", NULL, NULL };
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", free_port());
	assert_int_equal(
	    hsi_net_pub_open(&pub, url, 1, &junk, err, sizeof err), 0);
	sub s = { 0 };
	sub_dial(&s, url, NULL);
	assert_true(publish_until(pub, &s, 15000, 0) > 0);
	sub_stop(&s);
	assert_int_equal(hsi_net_close_bounded(pub, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual_tls_delivers),
		cmocka_unit_test(test_untrusted_peers_get_nothing),
		cmocka_unit_test(test_server_of_another_ca_is_refused),
		cmocka_unit_test(test_server_name_is_checked),
		cmocka_unit_test(test_bad_configuration_is_refused),
		cmocka_unit_test(test_plain_tcp_unchanged),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
