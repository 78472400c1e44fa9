/*
 * receivers_test.c: the "receivers" of the rules file, validated as
 * strictly as the rules (each refusal names the file, the receiver and
 * the key), secret files with their size limit, and the signature that
 * receivers check (RFC 4231 test case 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "notify.h"
#include "rules.h"

#define RULE                                                                  \
	"{\"name\":\"a\",\"level\":\"index\",\"code\":\"hsi\",\"op\":\"<\","  \
	"\"threshold\":0.45,\"area_level\":\"province\"}"

static char secret_path[64];

static int
setup(void **state)
{
	(void) state;
	snprintf(secret_path, sizeof(secret_path), "/tmp/hsi-recv-XXXXXX");
	int fd = mkstemp(secret_path);
	if (fd < 0 || write(fd, "s3cret\n", 7) != 7) {
		return -1;
	}
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	unlink(secret_path);
	return 0;
}

static int
parse(const char *receivers, hsi_rules **rs, char *err, size_t err_size)
{
	char text[2048];
	snprintf(text, sizeof(text), "{\"rules\":[" RULE "],\"receivers\":%s}",
	    receivers);
	return hsi_rules_parse(
	    text, strlen(text), "r.json", rs, err, err_size);
}

static void
test_accepted(void **state)
{
	(void) state;
	char       recv[1024], err[300] = "";
	hsi_rules *rs = NULL;
	snprintf(recv, sizeof(recv),
	    "[{\"name\":\"ops\",\"type\":\"webhook\",\"url\":\"http://"
	    "10.0.0.5/hook\",\"secret_file\":\"%s\",\"timeout_ms\":2500},"
	    "{\"name\":\"am\",\"type\":\"alertmanager\",\"url\":"
	    "\"http://127.0.0.1:9093\"}]",
	    secret_path);
	assert_int_equal(parse(recv, &rs, err, sizeof(err)), 0);
	assert_int_equal(hsi_rules_receiver_count(rs), 2);
	const hsi_receiver *r = hsi_rules_receiver(rs, 0);
	assert_string_equal(r->name, "ops");
	assert_int_equal(r->type, HSI_RECEIVER_WEBHOOK);
	assert_int_equal(r->timeout_ms, 2500);
	assert_int_equal(r->secret_len, 6); /* newline not part of it */
	assert_memory_equal(r->secret, "s3cret", 6);
	r = hsi_rules_receiver(rs, 1);
	assert_int_equal(r->type, HSI_RECEIVER_ALERTMANAGER);
	assert_int_equal(r->timeout_ms, HSI_RECEIVER_TIMEOUT_MS);
	assert_int_equal(r->secret_len, 0);
	assert_null(hsi_rules_receiver(rs, 2));
	hsi_rules_free(rs);
	/* Without the key: no receivers, as before. */
	const char *plain = "{\"rules\":[" RULE "]}";
	assert_int_equal(hsi_rules_parse(plain, strlen(plain), "r.json", &rs,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(hsi_rules_receiver_count(rs), 0);
	hsi_rules_free(rs);
}

/* The receiver text may hold one "@" for the secret file's path. */
static void
expect_refused(
    const char *text, int code, const char *frag1, const char *frag2)
{
	char        recv[1024], err[300] = "";
	hsi_rules  *rs = NULL;
	const char *at = strchr(text, '@');
	if (at == NULL) {
		snprintf(recv, sizeof(recv), "%s", text);
	} else {
		snprintf(recv, sizeof(recv), "%.*s%s%s", (int) (at - text),
		    text, secret_path, at + 1);
	}
	int rv = parse(recv, &rs, err, sizeof(err));
	if (rv == 0) {
		hsi_rules_free(rs);
		fail_msg("accepted: %s", recv);
	}
	assert_int_equal(rv, code);
	if (strstr(err, "r.json") == NULL || strstr(err, frag1) == NULL
	    || (frag2 != NULL && strstr(err, frag2) == NULL)) {
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, frag1,
		    frag2 ? frag2 : "");
	}
}

static void
test_refused(void **state)
{
	(void) state;
	expect_refused("{}", HSI_EINVAL, "'receivers' must be an array", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"alertmanager\",\"url\":"
	               "\"http://h\",\"secret\":\"x\"}]",
	    HSI_EINVAL, "receiver 0", "unknown key 'secret'");
	expect_refused("[{\"type\":\"alertmanager\",\"url\":\"http://h\"}]",
	    HSI_EINVAL, "receiver 0", "'name' is required");
	expect_refused("[{\"name\":\"Ops!\",\"type\":\"alertmanager\","
	               "\"url\":\"http://h\"}]",
	    HSI_EINVAL, "key 'name'", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"email\",\"url\":"
	               "\"http://h\"}]",
	    HSI_EINVAL, "key 'type'", "email");
	expect_refused("[{\"name\":\"a\",\"type\":\"alertmanager\",\"url\":"
	               "\"ftp://h\"}]",
	    HSI_EINVAL, "key 'url'", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"alertmanager\",\"url\":"
	               "\"http://h/a b\"}]",
	    HSI_EINVAL, "key 'url'", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"webhook\",\"url\":"
	               "\"http://h\"}]",
	    HSI_EINVAL, "'secret_file' is required", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"alertmanager\",\"url\":"
	               "\"http://h\",\"secret_file\":\"@\"}]",
	    HSI_EINVAL, "'secret_file' is for webhooks", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"alertmanager\",\"url\":"
	               "\"http://h\",\"timeout_ms\":50}]",
	    HSI_EINVAL, "'timeout_ms'", NULL);
	expect_refused("[{\"name\":\"a\",\"type\":\"alertmanager\",\"url\":"
	               "\"http://h\"},{\"name\":\"a\",\"type\":"
	               "\"alertmanager\",\"url\":\"http://g\"}]",
	    HSI_EINVAL, "receiver 1", "already used by receiver 0");
	expect_refused("[{\"name\":\"a\",\"type\":\"webhook\",\"url\":"
	               "\"http://h\",\"secret_file\":\"/nonexistent/s\"}]",
	    HSI_EIO, "cannot open '/nonexistent/s'", NULL);
}

static void
test_secret_limits(void **state)
{
	(void) state;
	char  big[5000];
	FILE *f = fopen(secret_path, "wb");
	assert_non_null(f);
	memset(big, 'k', sizeof(big));
	assert_int_equal(fwrite(big, 1, 4097, f), 4097);
	fclose(f);
	expect_refused("[{\"name\":\"a\",\"type\":\"webhook\",\"url\":"
	               "\"http://h\",\"secret_file\":\"@\"}]",
	    HSI_ETOOBIG, "over 4096 bytes", NULL);
	f = fopen(secret_path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite("\n", 1, 1, f), 1);
	fclose(f);
	expect_refused("[{\"name\":\"a\",\"type\":\"webhook\",\"url\":"
	               "\"http://h\",\"secret_file\":\"@\"}]",
	    HSI_EINVAL, "is empty", NULL);
}

static void
test_signature(void **state)
{
	(void) state;
	char        sig[80];
	const char *body = "what do ya want for nothing?";
	hsi_notify_sign(
	    (const unsigned char *) "Jefe", 4, body, strlen(body), sig);
	assert_string_equal(sig,
	    "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
	    "64ec3843");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_secret_limits),
		cmocka_unit_test(test_signature),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
