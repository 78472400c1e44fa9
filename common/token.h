/*
 * token.h: API tokens for the REST gateway (issue 6; docs/tokens.md).
 *
 * A token is 32 bytes from the OS's CSPRNG, given out once as text:
 *
 *     hsi_<64 lowercase hex digits>
 *
 * The "hsi_" prefix makes a leaked token easy to find in logs and for
 * secret scanners (the pattern hsi_[0-9a-f]{64}); it carries nothing
 * secret. The database keeps only the SHA-256 of the 32 raw bytes
 * (api_token.sha256), so a copy of the database gives no usable token,
 * and a lookup by hash needs no constant-time comparison.
 *
 * Each token has one role: admin, viewer, or agency:<CODE> (an agency of
 * table agency: submits its own indicators, reads everything), a label
 * saying whose it is, an expiry (at most five years ahead) and, once
 * revoked, the time of revocation. Creation and revocation are recorded
 * in audit_log. hsictl token is a shell over this module, and hsi-api
 * checks each request's Authorization header with hsi_token_parse and
 * hsi_token_verify.
 *
 * Nothing here logs or stores a token's text or raw bytes.
 */
#ifndef HSI_TOKEN_H
#define HSI_TOKEN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define HSI_TOKEN_BYTES 32                  /* random bytes of a token */
#define HSI_TOKEN_PREFIX "hsi_"             /* of the text form */
#define HSI_TOKEN_TEXT_SIZE (4 + 64 + 1)    /* "hsi_", 64 hex, NUL */
#define HSI_TOKEN_LABEL_MAX 128             /* characters of a label */
#define HSI_TOKEN_AGENCY_MAX 16             /* bytes of an agency code */
#define HSI_TOKEN_ROLE_SIZE (7 + 16 + 1)    /* "agency:" CODE NUL */
#define HSI_TOKEN_EXPIRY_DEFAULT_S 31536000 /* 365 days */
#define HSI_TOKEN_EXPIRY_MAX_S 157680000    /* 1825 days, five years */
#define HSI_TOKEN_LIST_MAX 10000            /* rows of one listing */
#define HSI_TOKEN_TIME_SIZE 32              /* hsi_token_utc's text */

/*
 * What hsi_token_verify found, for logs only: a client is told 401
 * whichever refusal it is, so it cannot probe which tokens exist.
 */
typedef enum {
	HSI_TOKEN_ACTIVE = 0, /* may be used */
	HSI_TOKEN_UNKNOWN,    /* no token has this hash */
	HSI_TOKEN_REVOKED,    /* revoked_at is set (counts before expiry) */
	HSI_TOKEN_EXPIRED,    /* expires_at has passed */
} hsi_token_state;

/* A token's role, in order of what it may do. */
typedef enum {
	HSI_TOKEN_ROLE_VIEWER = 1, /* reads only */
	HSI_TOKEN_ROLE_AGENCY,     /* reads; submits its agency's indicators */
	HSI_TOKEN_ROLE_ADMIN,      /* everything */
} hsi_token_role;

/*
 * What a token may do and whose it is; no secret in it. Times are Unix
 * seconds; expires_at is 0 for no expiry (only in rows made by hand),
 * revoked_at 0 while not revoked.
 */
typedef struct {
	int64_t        id;
	hsi_token_role role;
	char           agency[HSI_TOKEN_AGENCY_MAX + 1]; /* "" unless agency */
	char           role_text[HSI_TOKEN_ROLE_SIZE];   /* "agency:CDD" */
	char           label[4 * HSI_TOKEN_LABEL_MAX + 1];
	int64_t        created_at;
	int64_t        expires_at;
	int64_t        revoked_at;
} hsi_token_info;

/*
 * Reads a token from an Authorization header value or from the token's
 * text alone, into raw (written only on success). Accepted, and nothing
 * else (no spaces before or after, no other scheme):
 *
 *     Bearer hsi_<64 hex>   the form hsictl token create gives out
 *     Bearer <64 hex>       older clients' form
 *     hsi_<64 hex>          the token alone (from a file, stdin)
 *
 * "Bearer" is matched without regard to case (RFC 7235), followed by one
 * or more spaces. After "hsi_" the hex digits must be lowercase, as they
 * are made (so scanners' patterns find every valid token); the older form
 * takes either case, as hsi-api always has. Reading stops at the first
 * byte that does not fit. Returns 0, or HSI_EAUTH for anything else (a
 * NULL s too), the code hsi-api answers 401 for.
 */
int hsi_token_parse(
    const char *header_or_token, unsigned char raw[HSI_TOKEN_BYTES]);

/* The text form of raw, "hsi_" and 64 lowercase hex digits, into out. */
void hsi_token_format(
    const unsigned char raw[HSI_TOKEN_BYTES], char out[HSI_TOKEN_TEXT_SIZE]);

/*
 * Checks a role: exactly "admin", "viewer" or "agency:CODE" with CODE
 * matching ^[A-Z][A-Z0-9]{1,15}$ (whether the agency exists is for
 * hsi_token_create). On success sets *role and, when agency is not NULL,
 * the code in agency ("" unless an agency role). Returns 0 or HSI_EINVAL
 * with err (prefixed by what, e.g. "--role") saying what is accepted.
 */
int hsi_token_role_parse(const char *what, const char *s, hsi_token_role *role,
    char agency[HSI_TOKEN_AGENCY_MAX + 1], char *err, size_t err_size);

/*
 * Checks a label or a person's name: 1..HSI_TOKEN_LABEL_MAX characters of
 * printable UTF-8 (no control characters, C1 controls, line separators or
 * bidirectional controls, which could disguise a log line), not only
 * spaces. 0, or HSI_EINVAL / HSI_EENCODING / HSI_ETOOBIG with err
 * (prefixed by what) saying what is wrong and where.
 */
int hsi_token_label_check(
    const char *what, const char *s, char *err, size_t err_size);

/*
 * Reads an expiry: a duration (90d, 12w, 1d12h; hsi_duration_parse) from
 * creation, or an RFC 3339 time (hsi_rfc3339_check), which must be ahead
 * of now; either at most HSI_TOKEN_EXPIRY_MAX_S ahead. NULL means
 * HSI_TOKEN_EXPIRY_DEFAULT_S. On success *at is s when it is a time (its
 * range is checked by hsi_token_create against the server's clock), else
 * NULL with *secs set. 0, or HSI_EINVAL / HSI_ERANGE with err (prefixed by
 * what).
 */
int hsi_token_expiry_parse(const char *what, const char *s, const char **at,
    int64_t *secs, char *err, size_t err_size);

typedef struct {
	const char *role;  /* admin, viewer or agency:CODE */
	const char *label; /* whose token, what for (hsi_token_label_check) */
	const char *expires; /* hsi_token_expiry_parse; NULL: 365 days */
	const char *actor;   /* who creates it, for audit_log (as a label) */
} hsi_token_spec;

/*
 * Unix seconds t as RFC 3339 UTC to the second (2026-03-31T10:00:00Z), as
 * listings show times, into buf; "never" for 0 (no expiry). Returns buf.
 */
const char *hsi_token_utc(int64_t t, char buf[HSI_TOKEN_TIME_SIZE]);

/*
 * Makes a token: checks spec (messages name the fields role, label,
 * expires and actor), draws 32 random bytes, stores their SHA-256 with
 * role, label and expiry, and adds an audit_log row (action
 * "token.create", target the id, detail {role, label, expires_at}; no
 * secret), both in one statement. On success writes the token's text to
 * token (the only copy there will ever be: the caller shows it once and
 * then wipes it with OPENSSL_cleanse) and the stored row to *out.
 *
 * Errors: HSI_EINVAL / HSI_ERANGE / HSI_ETOOBIG / HSI_EENCODING for a bad
 * field (including an expiry time in the past or too far ahead);
 * HSI_ENOENT when the role names an agency not in table agency; HSI_EIO
 * when no randomness is available; HSI_EDB. err says which and what to do.
 */
int hsi_token_create(PGconn *db, const hsi_token_spec *spec,
    char token[HSI_TOKEN_TEXT_SIZE], hsi_token_info *out, char *err,
    size_t err_size);

/*
 * Looks up the token of raw (from hsi_token_parse) by its SHA-256.
 * Returns 0 when it may be used: known, not revoked and not expired (by
 * the server's clock), with *out filled; HSI_EAUTH when it may not; or
 * HSI_EDB (answer 503, not 401: the token may be fine). When state is
 * not NULL it is set for 0 and HSI_EAUTH, saying which refusal it was.
 * For HSI_TOKEN_REVOKED and HSI_TOKEN_EXPIRED *out is filled too, so a
 * log can name the token's id and label; the token is still refused.
 */
int hsi_token_verify(PGconn *db, const unsigned char raw[HSI_TOKEN_BYTES],
    hsi_token_info *out, hsi_token_state *state);

/* "active", "unknown", "revoked" or "expired" (for logs). */
const char *hsi_token_state_name(hsi_token_state state);

/*
 * The tokens that may be used now (all: revoked and expired ones too),
 * newest first, at most HSI_TOKEN_LIST_MAX, as a new JSON array of {id,
 * role, label, status ("active" | "expired" | "revoked"), created_at,
 * expires_at, revoked_at}; times are RFC 3339 UTC or null. No hash and
 * no secret. 0, or HSI_EDB / HSI_ENOMEM with err.
 */
int hsi_token_list(
    PGconn *db, int all, json_t **out, char *err, size_t err_size);

/*
 * Revokes token id now and adds an audit_log row (action "token.revoke",
 * actor by, target the id), in one statement; *out (if not NULL) is the
 * token as revoked. Revoking is not idempotent on purpose, so a mistyped
 * id is noticed: HSI_ESTATE when id was already revoked (err says when
 * and by whom), HSI_ENOENT for no such id, HSI_EINVAL for a bad by or id
 * < 1, HSI_EDB.
 */
int hsi_token_revoke(PGconn *db, int64_t id, const char *by,
    hsi_token_info *out, char *err, size_t err_size);

#endif
