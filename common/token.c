/*
 * token.c: API tokens (see token.h): their text form, the checks of what
 * an operator gives (role, label, expiry), and the api_token rows.
 *
 * Every input is checked here before it reaches PostgreSQL, so a typo
 * gets a message naming the field and what is accepted; the table's
 * CHECKs are the last line of defence. Times that depend on "now" are
 * the server's, the clock hsi-api's verification also uses, so a token
 * does not expire earlier or later depending on which host made it.
 */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alertops.h"
#include "catalog.h"
#include "csv.h"
#include "db.h"
#include "envelope.h"
#include "log.h"

#define HEX_LEN (2 * HSI_TOKEN_BYTES)
#define PREFIX_LEN (sizeof(HSI_TOKEN_PREFIX) - 1)

/* ---- text form ---------------------------------------------------------- */

/* The value of hex digit c, or -1; uppercase only when upper_ok. */
static int
hex_digit(char c, int upper_ok)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (upper_ok && c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Exactly HEX_LEN hex digits and the end of s, into raw. */
static int
unhex_exact(const char *s, int upper_ok, unsigned char raw[HSI_TOKEN_BYTES])
{
	unsigned char buf[HSI_TOKEN_BYTES];
	int           rv = 0;
	/* Stops at the first byte that is not a digit, NUL included, so
	 * nothing past the end of a short s is read. */
	for (size_t i = 0; i < HSI_TOKEN_BYTES; i++) {
		int hi = hex_digit(s[2 * i], upper_ok);
		int lo = hi < 0 ? -1 : hex_digit(s[2 * i + 1], upper_ok);
		if (lo < 0) {
			rv = HSI_EAUTH;
			break;
		}
		buf[i] = (unsigned char) (hi << 4 | lo);
	}
	if (rv == 0 && s[HEX_LEN] != '\0') {
		rv = HSI_EAUTH;
	}
	if (rv == 0) {
		memcpy(raw, buf, sizeof(buf));
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rv;
}

int
hsi_token_parse(const char *s, unsigned char raw[HSI_TOKEN_BYTES])
{
	if (s == NULL) {
		return HSI_EAUTH;
	}
	if (strncasecmp(s, "Bearer ", 7) == 0) {
		for (s += 7; *s == ' '; s++) { }
		/* Without the prefix: the 64 hex digits hsi-api took before
		 * tokens had one, in either case as it took them. */
		if (strncmp(s, HSI_TOKEN_PREFIX, PREFIX_LEN) != 0) {
			return unhex_exact(s, 1, raw);
		}
	} else if (strncmp(s, HSI_TOKEN_PREFIX, PREFIX_LEN) != 0) {
		return HSI_EAUTH;
	}
	return unhex_exact(s + PREFIX_LEN, 0, raw);
}

void
hsi_token_format(
    const unsigned char raw[HSI_TOKEN_BYTES], char out[HSI_TOKEN_TEXT_SIZE])
{
	memcpy(out, HSI_TOKEN_PREFIX, PREFIX_LEN);
	hsi_hex(raw, HSI_TOKEN_BYTES, out + PREFIX_LEN);
}

/* ---- checks of the fields ----------------------------------------------- */

/* At most 40 bytes of s for a message, every byte outside printable ASCII
 * made '?', so a message never carries a control sequence. */
static void
quote(const char *s, char *out, size_t size)
{
	size_t n = 0;
	for (; s[n] != '\0' && n < 40 && n + 4 < size; n++) {
		unsigned char c = (unsigned char) s[n];
		out[n]          = c >= 0x20 && c < 0x7f ? (char) c : '?';
	}
	if (s[n] != '\0' && n + 4 <= size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

int
hsi_token_role_parse(const char *what, const char *s, hsi_token_role *role,
    char agency[HSI_TOKEN_AGENCY_MAX + 1], char *err, size_t err_size)
{
	char           q[48];
	hsi_token_role r;
	if (s == NULL || s[0] == '\0') {
		snprintf(err, err_size,
		    "%s: empty; give admin, viewer or agency:CODE", what);
		return HSI_EINVAL;
	}
	if (strcmp(s, "admin") == 0) {
		r = HSI_TOKEN_ROLE_ADMIN;
	} else if (strcmp(s, "viewer") == 0) {
		r = HSI_TOKEN_ROLE_VIEWER;
	} else if (strncmp(s, "agency:", 7) == 0
	    && hsi_agency_code_valid(s + 7)) {
		r = HSI_TOKEN_ROLE_AGENCY;
	} else {
		quote(s, q, sizeof(q));
		snprintf(err, err_size,
		    "%s: '%s' is not a role; give admin, viewer or "
		    "agency:CODE, CODE being the agency's code (2 to 16 "
		    "capital letters and digits, first a letter: "
		    "agency:CDD)",
		    what, q);
		return HSI_EINVAL;
	}
	*role = r;
	if (agency != NULL) {
		snprintf(agency, HSI_TOKEN_AGENCY_MAX + 1, "%s",
		    r == HSI_TOKEN_ROLE_AGENCY ? s + 7 : "");
	}
	return 0;
}

/*
 * The code point at *p (valid UTF-8, as hsi_utf8_check said), p moved
 * past it.
 */
static unsigned
next_code_point(const unsigned char **p)
{
	const unsigned char *s = *p;
	if (s[0] < 0x80) {
		*p += 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*p += 2;
		return (unsigned) (s[0] & 0x1F) << 6 | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0) {
		*p += 3;
		return (unsigned) (s[0] & 0x0F) << 12
		    | (unsigned) (s[1] & 0x3F) << 6 | (s[2] & 0x3F);
	}
	*p += 4;
	return (unsigned) (s[0] & 0x07) << 18 | (unsigned) (s[1] & 0x3F) << 12
	    | (unsigned) (s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

/*
 * Characters that do not print, or that change how the rest of a line is
 * shown: controls (C0, DEL, C1), line and paragraph separators, and the
 * bidirectional marks, embeddings, overrides and isolates ("Trojan
 * Source"), with which a label could make a log line or a listing say
 * something else than it holds.
 */
static int
hidden(unsigned c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C
	    || c == 0x200E || c == 0x200F || c == 0x2028 || c == 0x2029
	    || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

int
hsi_token_label_check(
    const char *what, const char *s, char *err, size_t err_size)
{
	size_t len = s ? strlen(s) : 0, chars = 0, bad;
	int    blank = 1;
	if (len == 0) {
		snprintf(err, err_size, "%s: empty; give 1 to %d characters",
		    what, HSI_TOKEN_LABEL_MAX);
		return HSI_EINVAL;
	}
	if (len > 4 * HSI_TOKEN_LABEL_MAX) {
		snprintf(err, err_size,
		    "%s: %zu bytes; give at most %d characters", what, len,
		    HSI_TOKEN_LABEL_MAX);
		return HSI_ETOOBIG;
	}
	if ((bad = hsi_utf8_check(s, len)) != 0) {
		snprintf(err, err_size, "%s: not valid UTF-8 at byte %zu",
		    what, bad);
		return HSI_EENCODING;
	}
	for (const unsigned char *p = (const unsigned char *) s; *p;) {
		unsigned c = next_code_point(&p);
		chars++;
		if (hidden(c)) {
			snprintf(err, err_size,
			    "%s: character %zu is U+%04X, which does not "
			    "print; write the text on one line, without "
			    "control or direction characters",
			    what, chars, c);
			return HSI_EINVAL;
		}
		blank &= c == ' ';
	}
	if (chars > HSI_TOKEN_LABEL_MAX) {
		snprintf(err, err_size, "%s: %zu characters; at most %d", what,
		    chars, HSI_TOKEN_LABEL_MAX);
		return HSI_ETOOBIG;
	}
	if (blank) {
		snprintf(
		    err, err_size, "%s: only spaces; give some text", what);
		return HSI_EINVAL;
	}
	return 0;
}

int
hsi_token_expiry_parse(const char *what, const char *s, const char **at,
    int64_t *secs, char *err, size_t err_size)
{
	int64_t d = HSI_TOKEN_EXPIRY_DEFAULT_S;
	int     rv;
	char    q[48];
	if (s == NULL) {
		*at   = NULL;
		*secs = d;
		return 0;
	}
	/* A year and a dash: a time; anything else a duration. */
	if (strlen(s) > 4 && s[4] == '-') {
		if ((rv = hsi_rfc3339_check(what, s, err, err_size)) != 0) {
			return rv;
		}
		*at = s;
		return 0;
	}
	rv = hsi_duration_parse(
	    what, s, HSI_TOKEN_EXPIRY_MAX_S, &d, err, err_size);
	if (rv == HSI_EINVAL) {
		quote(s, q, sizeof(q));
		snprintf(err, err_size,
		    "%s: '%s' is neither a duration (90d, 12w, 1d12h; units "
		    "s, m, h, d, w) nor an RFC 3339 time "
		    "(2026-03-31T17:00:00+07:00)",
		    what, q);
	}
	if (rv != 0) {
		return rv;
	}
	*at   = NULL;
	*secs = d;
	return 0;
}

/* ---- rows --------------------------------------------------------------- */

const char *
hsi_token_utc(int64_t t, char buf[HSI_TOKEN_TIME_SIZE])
{
	time_t    tt = (time_t) t;
	struct tm tm;
	if (t == 0 || gmtime_r(&tt, &tm) == NULL
	    || strftime(buf, HSI_TOKEN_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm)
	        == 0) {
		snprintf(buf, HSI_TOKEN_TIME_SIZE, "never");
	}
	return buf;
}

static int
db_fail(const char *doing, char *err, size_t err_size)
{
	snprintf(err, err_size,
	    "database error while trying to %s (see the log line above)",
	    doing);
	return HSI_EDB;
}

/* A token's row as row_info reads it; also a RETURNING list. */
#define TOKEN_COLS                                                            \
	"id, role, label,"                                                    \
	" floor(extract(epoch FROM created_at))::bigint AS created_s,"        \
	" floor(extract(epoch FROM expires_at))::bigint AS expires_s,"        \
	" floor(extract(epoch FROM revoked_at))::bigint AS revoked_s,"        \
	" revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired"

static int64_t
int_col(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? 0
	                            : strtoll(PQgetvalue(r, i, c), NULL, 10);
}

/* Column c of row i, Unix seconds, as RFC 3339 UTC to the second in buf
 * (HSI_TOKEN_TIME_SIZE bytes): times leave PostgreSQL as numbers, whatever
 * the session's time zone. */
static const char *
utc_col(const PGresult *r, int i, int c, char *buf)
{
	hsi_token_utc(int_col(r, i, c), buf);
	return buf;
}

/* Row i of a TOKEN_COLS result into *out; HSI_EDB (logged) when the
 * stored role is not one (a row made by hand past the CHECK). */
static int
row_info(const PGresult *r, int i, hsi_token_info *out)
{
	hsi_token_info t;
	char           err[256];
	memset(&t, 0, sizeof(t));
	t.id = int_col(r, i, 0);
	if (hsi_token_role_parse("role", PQgetvalue(r, i, 1), &t.role,
	        t.agency, err, sizeof(err))
	    != 0) {
		hsi_log_error("api_token row has no valid role", "{s:I, s:s}",
		    "id", (json_int_t) t.id, "error", err);
		return HSI_EDB;
	}
	snprintf(t.role_text, sizeof(t.role_text), "%s", PQgetvalue(r, i, 1));
	hsi_utf8_clip(PQgetvalue(r, i, 2), t.label, sizeof(t.label));
	t.created_at = int_col(r, i, 3);
	t.expires_at = int_col(r, i, 4);
	t.revoked_at = int_col(r, i, 5);
	*out         = t;
	return 0;
}

/* What row i of a TOKEN_COLS result says of its token. */
static hsi_token_state
row_state(const PGresult *r, int i)
{
	if (PQgetvalue(r, i, 6)[0] == 't') {
		return HSI_TOKEN_REVOKED;
	}
	if (!PQgetisnull(r, i, 7) && PQgetvalue(r, i, 7)[0] == 't') {
		return HSI_TOKEN_EXPIRED;
	}
	return HSI_TOKEN_ACTIVE;
}

/*
 * The row only goes in when the expiry is in range and the agency (if
 * any) exists; the first columns say which failed. The audit row is
 * written by the same statement, so there is no token without its
 * record.
 */
static const char sql_create[]
    = "WITH x AS (SELECT COALESCE($4::timestamptz,"
      "   now() + $5::float8 * interval '1 second') AS e),"
      " ok AS (SELECT e FROM x WHERE e > now()"
      "   AND e <= now() + $6::float8 * interval '1 second'"
      "   AND ($7::text IS NULL"
      "     OR EXISTS (SELECT 1 FROM agency WHERE code = $7))),"
      " t AS (INSERT INTO api_token (sha256, role, label, expires_at)"
      "   SELECT decode($1, 'hex'), $2, $3, e FROM ok"
      "   RETURNING " TOKEN_COLS "),"
      " l AS (INSERT INTO audit_log (actor, action, target, detail)"
      "   SELECT $8, 'token.create', t.id::text, jsonb_build_object("
      "     'role', t.role, 'label', t.label, 'expires_at', to_char(x.e"
      "     AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
      "   FROM t, x)"
      " SELECT t.*,"
      "  $7::text IS NULL OR EXISTS (SELECT 1 FROM agency WHERE code = $7),"
      "  x.e > now(), x.e <= now() + $6::float8 * interval '1 second',"
      "  floor(extract(epoch FROM x.e))::bigint"
      " FROM x LEFT JOIN t ON true";

/* Why sql_create's result r stored nothing: 0 when it did. */
static int
create_refusal(
    const PGresult *r, const char *agency, char *err, size_t err_size)
{
	char maxs[32], when[HSI_TOKEN_TIME_SIZE];
	if (!PQgetisnull(r, 0, 0)) {
		return 0;
	}
	if (PQgetvalue(r, 0, 8)[0] != 't') {
		snprintf(err, err_size,
		    "role: agency '%s' does not exist; see the agency codes "
		    "in docs/catalog.md (hsictl catalog load stores them)",
		    agency);
		return HSI_ENOENT;
	}
	snprintf(maxs, sizeof(maxs), "%dd", HSI_TOKEN_EXPIRY_MAX_S / 86400);
	snprintf(err, err_size,
	    "expires: %s is %s; give a time or duration up to %s (five "
	    "years) ahead",
	    utc_col(r, 0, 11, when),
	    PQgetvalue(r, 0, 9)[0] == 't' ? "too far ahead"
	                                  : "not in the future",
	    maxs);
	return HSI_ERANGE;
}

/* The fields of spec, checked; on success *at, *secs, *role, agency. */
static int
spec_check(const hsi_token_spec *spec, const char **at, int64_t *secs,
    hsi_token_role *role, char *agency, char *err, size_t err_size)
{
	int rv;
	if ((rv = hsi_token_role_parse(
	         "role", spec->role, role, agency, err, err_size))
	    || (rv
	        = hsi_token_label_check("label", spec->label, err, err_size))
	    || (rv = hsi_token_expiry_parse(
	            "expires", spec->expires, at, secs, err, err_size))
	    || (rv = hsi_token_label_check(
	            "actor", spec->actor, err, err_size))) {
		return rv;
	}
	return 0;
}

int
hsi_token_create(PGconn *db, const hsi_token_spec *spec,
    char token[HSI_TOKEN_TEXT_SIZE], hsi_token_info *out, char *err,
    size_t err_size)
{
	const char    *at;
	int64_t        secs;
	hsi_token_role role;
	char           agency[HSI_TOKEN_AGENCY_MAX + 1], secs_s[24], max_s[24];
	unsigned char  raw[HSI_TOKEN_BYTES], digest[SHA256_DIGEST_LENGTH];
	char           hash_hex[2 * SHA256_DIGEST_LENGTH + 1];
	int            rv;
	if ((rv = spec_check(spec, &at, &secs, &role, agency, err, err_size))
	    != 0) {
		return rv;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		snprintf(err, err_size,
		    "no randomness available from the operating system; "
		    "try again");
		return HSI_EIO;
	}
	SHA256(raw, sizeof(raw), digest);
	hsi_hex(digest, sizeof(digest), hash_hex);
	snprintf(secs_s, sizeof(secs_s), "%lld", (long long) secs);
	snprintf(max_s, sizeof(max_s), "%d", HSI_TOKEN_EXPIRY_MAX_S);
	const char *p[8] = { hash_hex, spec->role, spec->label, at, secs_s,
		max_s, role == HSI_TOKEN_ROLE_AGENCY ? agency : NULL,
		spec->actor };
	PGresult   *r    = hsi_db_query(db, "create token", sql_create, 8, p);
	if (r == NULL || PQntuples(r) != 1) {
		rv = db_fail("store the token", err, err_size);
	} else if ((rv = create_refusal(r, agency, err, err_size)) == 0) {
		rv = row_info(r, 0, out);
		if (rv == 0) {
			hsi_token_format(raw, token);
		} else {
			db_fail("read the stored token", err, err_size);
		}
	}
	PQclear(r);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rv;
}

int
hsi_token_verify(PGconn *db, const unsigned char raw[HSI_TOKEN_BYTES],
    hsi_token_info *out, hsi_token_state *state)
{
	unsigned char   digest[SHA256_DIGEST_LENGTH];
	char            hash_hex[2 * SHA256_DIGEST_LENGTH + 1];
	hsi_token_state st = HSI_TOKEN_UNKNOWN;
	int             rv = 0;
	SHA256(raw, HSI_TOKEN_BYTES, digest);
	hsi_hex(digest, sizeof(digest), hash_hex);
	const char *p[1] = { hash_hex };
	PGresult   *r    = hsi_db_query(db, "verify token",
	         "SELECT " TOKEN_COLS " FROM api_token"
	              " WHERE sha256 = decode($1, 'hex')",
	         1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) == 1 && (rv = row_info(r, 0, out)) == 0) {
		st = row_state(r, 0);
	}
	PQclear(r);
	if (rv != 0) {
		return rv;
	}
	if (state != NULL) {
		*state = st;
	}
	return st == HSI_TOKEN_ACTIVE ? 0 : HSI_EAUTH;
}

const char *
hsi_token_state_name(hsi_token_state state)
{
	switch (state) {
	case HSI_TOKEN_ACTIVE:
		return "active";
	case HSI_TOKEN_UNKNOWN:
		return "unknown";
	case HSI_TOKEN_REVOKED:
		return "revoked";
	case HSI_TOKEN_EXPIRED:
		return "expired";
	}
	return "?";
}

/* ---- listing and revocation --------------------------------------------- */

static const char sql_list[]
    = "SELECT id, role, label,"
      " CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
      "  WHEN expires_at <= now() THEN 'expired' ELSE 'active' END,"
      " floor(extract(epoch FROM created_at))::bigint,"
      " floor(extract(epoch FROM expires_at))::bigint,"
      " floor(extract(epoch FROM revoked_at))::bigint"
      " FROM api_token"
      " WHERE $1::boolean OR (revoked_at IS NULL"
      "  AND (expires_at IS NULL OR expires_at > now()))"
      " ORDER BY created_at DESC, id DESC LIMIT $2::int";

/* Column c of row i as a JSON string; null when SQL NULL or not UTF-8
 * (a label made by hand; hsi_token_create stores none such). */
static json_t *
str_or_null(const PGresult *r, int i, int c)
{
	json_t *s
	    = PQgetisnull(r, i, c) ? NULL : json_string(PQgetvalue(r, i, c));
	return s ? s : json_null();
}

/* Column c of row i, Unix seconds, as a JSON RFC 3339 string or null. */
static json_t *
time_or_null(const PGresult *r, int i, int c)
{
	char buf[HSI_TOKEN_TIME_SIZE];
	return PQgetisnull(r, i, c) ? json_null()
	                            : json_string(utc_col(r, i, c, buf));
}

int
hsi_token_list(PGconn *db, int all, json_t **out, char *err, size_t err_size)
{
	char        limit[16];
	const char *p[2] = { all ? "true" : "false", limit };
	snprintf(limit, sizeof(limit), "%d", HSI_TOKEN_LIST_MAX);
	PGresult *r = hsi_db_query(db, "list tokens", sql_list, 2, p);
	if (r == NULL) {
		return db_fail("list the tokens", err, err_size);
	}
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < PQntuples(r); i++) {
		json_t *t = json_pack("{s:I, s:s, s:o, s:s, s:o, s:o, s:o}",
		    "id", (json_int_t) int_col(r, i, 0), "role",
		    PQgetvalue(r, i, 1), "label", str_or_null(r, i, 2),
		    "status", PQgetvalue(r, i, 3), "created_at",
		    time_or_null(r, i, 4), "expires_at", time_or_null(r, i, 5),
		    "revoked_at", time_or_null(r, i, 6));
		if (t == NULL || json_array_append_new(a, t) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	PQclear(r);
	if (a == NULL) {
		snprintf(err, err_size, "out of memory listing the tokens");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}

static const char sql_revoke[]
    = "WITH t AS (UPDATE api_token SET revoked_at = now()"
      "   WHERE id = $1::bigint AND revoked_at IS NULL"
      "   RETURNING " TOKEN_COLS "),"
      " l AS (INSERT INTO audit_log (actor, action, target, detail)"
      "   SELECT $2, 'token.revoke', t.id::text,"
      "   jsonb_build_object('role', t.role, 'label', t.label) FROM t)"
      " SELECT * FROM t";

/* When id was revoked and by whom (from audit_log: a row revoked by hand
 * has no by). */
static const char sql_revoked[]
    = "SELECT floor(extract(epoch FROM revoked_at))::bigint,"
      " (SELECT actor FROM audit_log a WHERE a.action = 'token.revoke'"
      "   AND a.target = t.id::text ORDER BY a.id DESC LIMIT 1)"
      " FROM api_token t WHERE id = $1::bigint";

/* Why sql_revoke changed nothing for id; p as for sql_revoke. */
static int
revoke_refusal(
    PGconn *db, int64_t id, const char *const *p, char *err, size_t err_size)
{
	PGresult *r = hsi_db_query(db, "revoked token", sql_revoked, 1, p);
	char      when[HSI_TOKEN_TIME_SIZE];
	int       rv;
	if (r == NULL) {
		return db_fail("read the token", err, err_size);
	}
	if (PQntuples(r) != 1) {
		snprintf(err, err_size,
		    "no token %lld; see the ids in hsictl token list --all",
		    (long long) id);
		rv = HSI_ENOENT;
	} else {
		snprintf(err, err_size,
		    "token %lld was already revoked at %s%s%s; nothing to do",
		    (long long) id, utc_col(r, 0, 0, when),
		    PQgetisnull(r, 0, 1) ? "" : " by ",
		    PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1));
		rv = HSI_ESTATE;
	}
	PQclear(r);
	return rv;
}

int
hsi_token_revoke(PGconn *db, int64_t id, const char *by, hsi_token_info *out,
    char *err, size_t err_size)
{
	char           id_s[24];
	hsi_token_info t;
	int            rv;
	if (id < 1) {
		snprintf(err, err_size,
		    "id: %lld is not a token id; give the number from "
		    "hsictl token list",
		    (long long) id);
		return HSI_EINVAL;
	}
	if ((rv = hsi_token_label_check("by", by, err, err_size)) != 0) {
		return rv;
	}
	snprintf(id_s, sizeof(id_s), "%lld", (long long) id);
	const char *p[2] = { id_s, by };
	PGresult   *r    = hsi_db_query(db, "revoke token", sql_revoke, 2, p);
	if (r == NULL) {
		return db_fail("revoke the token", err, err_size);
	}
	if (PQntuples(r) != 1) {
		rv = revoke_refusal(db, id, p, err, err_size);
	} else if ((rv = row_info(r, 0, &t)) != 0) {
		db_fail("read the revoked token", err, err_size);
	} else if (out != NULL) {
		*out = t;
	}
	PQclear(r);
	return rv;
}
