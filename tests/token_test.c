/*
 * token_test.c: the parts of common/token.h that need no database: the
 * Authorization header forms hsi_token_parse takes and every near miss
 * it refuses with HSI_EAUTH, hsi-api's 401 (other scheme, prefix,
 * length, case, spaces), the text form
 * round trip, and the checks of roles, labels and expiries with the
 * words of their messages. The database side (create, verify, list,
 * revoke) is in tests/token/token_test.py over a private PostgreSQL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "token.h"

/* 64 hex digits of bytes 0x00, 0x11, ... and the same in uppercase. */
static const char HEX[]
    = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";
static const char HEX_UP[]
    = "00112233445566778899AABBCCDDEEFF0123456789ABCDEFFEDCBA9876543210";

static void
expected_raw(unsigned char raw[HSI_TOKEN_BYTES])
{
	static const unsigned char b[HSI_TOKEN_BYTES] = { 0x00, 0x11, 0x22,
		0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
		0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
		0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };
	memcpy(raw, b, sizeof(b));
}

/* a, b and c one after the other, in one of four static buffers. */
static const char *
join(const char *a, const char *b, const char *c)
{
	static char buf[4][256];
	static int  k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s%s%s", a, b, c);
	return buf[k];
}

static void
accepted(const char *in)
{
	unsigned char raw[HSI_TOKEN_BYTES], want[HSI_TOKEN_BYTES];
	expected_raw(want);
	if (hsi_token_parse(in, raw) != 0) {
		fail_msg("refused \"%s\"", in);
	}
	assert_memory_equal(raw, want, sizeof(want));
}

static void
refused(const char *in)
{
	unsigned char raw[HSI_TOKEN_BYTES], before[HSI_TOKEN_BYTES];
	memset(raw, 0xA5, sizeof(raw));
	memcpy(before, raw, sizeof(raw));
	if (hsi_token_parse(in, raw) != HSI_EAUTH) {
		fail_msg("accepted \"%s\"", in ? in : "(null)");
	}
	/* Nothing written on failure, not even the bytes read so far. */
	assert_memory_equal(raw, before, sizeof(raw));
}

static void
test_parse_forms(void **state)
{
	(void) state;
	accepted(join("Bearer hsi_", HEX, ""));
	accepted(join("hsi_", HEX, ""));
	accepted(join("Bearer ", HEX, ""));
	/* The scheme is case-insensitive (RFC 7235), spaces 1 or more. */
	accepted(join("bearer hsi_", HEX, ""));
	accepted(join("BEARER   hsi_", HEX, ""));
	/* The older form took either case; it still does. */
	accepted(join("Bearer ", HEX_UP, ""));
}

static void
test_parse_refusals(void **state)
{
	char long_hex[80], short_hex[80], bad_hex[80];
	(void) state;
	snprintf(long_hex, sizeof(long_hex), "%s0", HEX);
	snprintf(short_hex, sizeof(short_hex), "%.63s", HEX);
	snprintf(bad_hex, sizeof(bad_hex), "%s", HEX);
	bad_hex[10] = 'g';
	refused(NULL);
	refused("");
	refused("Bearer");
	refused("Bearer ");
	refused("Bearer hsi_");
	/* Wrong scheme or prefix. */
	refused(join("Basic hsi_", HEX, ""));
	refused(join("Token hsi_", HEX, ""));
	refused(join("Bearerhsi_", HEX, ""));
	refused(join("Bearer\thsi_", HEX, ""));
	refused(join("Bearer HSI_", HEX, ""));
	refused(join("Bearer hsi-", HEX, ""));
	refused(join("Bearer hsi_hsi_", HEX, ""));
	refused(join("Bearer abc_", HEX, ""));
	/* The bare 64 digits only ever came after "Bearer ". */
	refused(HEX);
	/* Wrong length. */
	refused(join("Bearer hsi_", long_hex, ""));
	refused(join("Bearer hsi_", short_hex, ""));
	refused(join("Bearer ", long_hex, ""));
	refused(join("Bearer ", short_hex, ""));
	refused(join("hsi_", short_hex, ""));
	/* Not hex. */
	refused(join("Bearer hsi_", bad_hex, ""));
	refused(join("Bearer ", bad_hex, ""));
	/* Uppercase after the prefix: not a token we made. */
	refused(join("Bearer hsi_", HEX_UP, ""));
	refused(join("hsi_", HEX_UP, ""));
	/* Spaces around: a header value reaches us trimmed. */
	refused(join("Bearer hsi_", HEX, " "));
	refused(join("Bearer ", HEX, " "));
	refused(join(" Bearer hsi_", HEX, ""));
	refused(join("hsi_", HEX, "\n"));
	refused(join(" hsi_", HEX, ""));
}

static void
test_format_round_trip(void **state)
{
	unsigned char raw[HSI_TOKEN_BYTES], back[HSI_TOKEN_BYTES];
	char          text[HSI_TOKEN_TEXT_SIZE];
	(void) state;
	expected_raw(raw);
	memset(text, 'x', sizeof(text));
	hsi_token_format(raw, text);
	assert_string_equal(text, join("hsi_", HEX, ""));
	assert_int_equal(strlen(text), HSI_TOKEN_TEXT_SIZE - 1);
	assert_int_equal(hsi_token_parse(text, back), 0);
	assert_memory_equal(raw, back, sizeof(raw));
	assert_int_equal(hsi_token_parse(join("Bearer ", text, ""), back), 0);
	assert_memory_equal(raw, back, sizeof(raw));
}

static void
role_ok(const char *s, hsi_token_role want, const char *agency)
{
	hsi_token_role r;
	char           a[HSI_TOKEN_AGENCY_MAX + 1] = "junk", err[512] = "";
	if (hsi_token_role_parse("--role", s, &r, a, err, sizeof(err)) != 0) {
		fail_msg("refused role \"%s\": %s", s, err);
	}
	assert_int_equal(r, want);
	assert_string_equal(a, agency);
	assert_int_equal(
	    hsi_token_role_parse("--role", s, &r, NULL, err, sizeof(err)), 0);
}

static void
role_refused(const char *s)
{
	hsi_token_role r                           = HSI_TOKEN_ROLE_VIEWER;
	char           a[HSI_TOKEN_AGENCY_MAX + 1] = "kept", err[512] = "";
	assert_int_equal(
	    hsi_token_role_parse("--role", s, &r, a, err, sizeof(err)),
	    HSI_EINVAL);
	if (strstr(err, "--role") == NULL
	    || strstr(err, "admin, viewer or agency:CODE") == NULL) {
		fail_msg(
		    "message for \"%s\" is \"%s\"", s ? s : "(null)", err);
	}
	assert_int_equal(r, HSI_TOKEN_ROLE_VIEWER);
	assert_string_equal(a, "kept");
}

static void
test_roles(void **state)
{
	(void) state;
	role_ok("admin", HSI_TOKEN_ROLE_ADMIN, "");
	role_ok("viewer", HSI_TOKEN_ROLE_VIEWER, "");
	role_ok("agency:CDD", HSI_TOKEN_ROLE_AGENCY, "CDD");
	role_ok("agency:A1", HSI_TOKEN_ROLE_AGENCY, "A1");
	role_ok("agency:ABCDEFGHIJKLMNOP", HSI_TOKEN_ROLE_AGENCY,
	    "ABCDEFGHIJKLMNOP");
	role_refused(NULL);
	role_refused("");
	role_refused("Admin");
	role_refused("ADMIN");
	role_refused("admin ");
	role_refused("viewers");
	role_refused("root");
	role_refused("agency");
	role_refused("agency:");
	role_refused("agency:cdd");
	role_refused("agency:C");
	role_refused("agency:1AB");
	role_refused("agency:ABCDEFGHIJKLMNOPQ"); /* 17 */
	role_refused("agency: CDD");
	role_refused("agency:CDD ");
	role_refused("agency:CDD:x");
	role_refused("Agency:CDD");
	role_refused("agency:C-D");
}

static void
label_is(const char *s, int rv, const char *fragment)
{
	char err[512] = "";
	assert_int_equal(
	    hsi_token_label_check("--label", s, err, sizeof(err)), rv);
	if (rv != 0
	    && (strstr(err, "--label") == NULL
	        || strstr(err, fragment) == NULL)) {
		fail_msg("message \"%s\" lacks \"%s\"", err, fragment);
	}
}

static void
test_labels(void **state)
{
	char thai128[4 * 130], ascii129[140];
	(void) state;
	/* "ก" is 3 bytes: 128 of them are 128 characters, 384 bytes. */
	thai128[0] = '\0';
	for (int i = 0; i < 128; i++) {
		strcat(thai128, "\xe0\xb8\x81");
	}
	memset(ascii129, 'a', 129);
	ascii129[129] = '\0';
	label_is("CDD upload node, ops team", 0, NULL);
	label_is("ระบบรายงาน กรมอนามัย", 0, NULL);
	label_is(thai128, 0, NULL);
	label_is(ascii129, HSI_ETOOBIG, "at most 128");
	label_is(NULL, HSI_EINVAL, "empty");
	label_is("", HSI_EINVAL, "empty");
	label_is("   ", HSI_EINVAL, "only spaces");
	label_is("a\nb", HSI_EINVAL, "U+000A");
	label_is("a\tb", HSI_EINVAL, "U+0009");
	label_is("red \x1b[31m", HSI_EINVAL, "U+001B");
	label_is("a\x7f", HSI_EINVAL, "U+007F");
	label_is("a\xc2\x85", HSI_EINVAL, "U+0085"); /* NEL */
	label_is("admin\xe2\x80\xae"
	         "resu",
	    HSI_EINVAL, "U+202E"); /* RLO */
	label_is("a\xe2\x81\xa6"
	         "b",
	    HSI_EINVAL, "U+2066"); /* LRI */
	label_is("a\xe2\x80\xa8"
	         "b",
	    HSI_EINVAL, "U+2028");
	label_is("a\xff", HSI_EENCODING, "UTF-8 at byte 2");
	label_is("\xc0\xaf", HSI_EENCODING, "UTF-8 at byte 1"); /* overlong */
}

static void
expiry_is(const char *s, int rv, int64_t secs, const char *fragment)
{
	const char *at       = "unset";
	int64_t     d        = -1;
	char        err[512] = "";
	assert_int_equal(
	    hsi_token_expiry_parse("--expires", s, &at, &d, err, sizeof(err)),
	    rv);
	if (rv != 0) {
		if (strstr(err, "--expires") == NULL
		    || strstr(err, fragment) == NULL) {
			fail_msg("message \"%s\" lacks \"%s\"", err, fragment);
		}
		assert_string_equal(at, "unset");
		assert_int_equal(d, -1);
	} else if (secs == 0) {
		assert_ptr_equal(at, s); /* a time */
	} else {
		assert_null(at);
		assert_int_equal(d, secs);
	}
}

static void
test_expiries(void **state)
{
	(void) state;
	expiry_is(NULL, 0, HSI_TOKEN_EXPIRY_DEFAULT_S, NULL);
	assert_int_equal(HSI_TOKEN_EXPIRY_DEFAULT_S, 365 * 86400);
	expiry_is("90d", 0, 90 * 86400, NULL);
	expiry_is("12w", 0, 12 * 7 * 86400, NULL);
	expiry_is("1d12h", 0, 36 * 3600, NULL);
	expiry_is("1825d", 0, 1825LL * 86400, NULL);
	expiry_is("2026-03-31T17:00:00+07:00", 0, 0, NULL);
	expiry_is("2030-01-01T00:00:00Z", 0, 0, NULL);
	expiry_is("1826d", HSI_ERANGE, 0, "1825d");
	expiry_is("10y", HSI_EINVAL, 0, "neither a duration");
	expiry_is("0d", HSI_ERANGE, 0, "zero");
	expiry_is("90", HSI_EINVAL, 0, "neither a duration");
	expiry_is("soon", HSI_EINVAL, 0, "'soon'");
	expiry_is("-5d", HSI_EINVAL, 0, "neither a duration");
	expiry_is("", HSI_EINVAL, 0, "neither a duration");
	expiry_is("2026-13-01T00:00:00Z", HSI_EINVAL, 0, "RFC 3339");
	expiry_is("2026-03-31", HSI_EINVAL, 0, "RFC 3339");
}

static void
test_state_names(void **state)
{
	(void) state;
	assert_string_equal(hsi_token_state_name(HSI_TOKEN_ACTIVE), "active");
	assert_string_equal(
	    hsi_token_state_name(HSI_TOKEN_UNKNOWN), "unknown");
	assert_string_equal(
	    hsi_token_state_name(HSI_TOKEN_REVOKED), "revoked");
	assert_string_equal(
	    hsi_token_state_name(HSI_TOKEN_EXPIRED), "expired");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_expiries),
		cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
