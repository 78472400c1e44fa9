/*
 * auth.h: who is calling hsi-api, and what each route lets them do.
 * Tokens themselves (their text form, hashing, expiry and revocation)
 * are common/token.h's: this module turns a request's Authorization
 * header into a principal (role, agency, token id) and checks a route's
 * access level against it. Roles: admin, viewer, agency:<CODE> (submits
 * that agency's indicators, reads everything).
 */
#ifndef HSI_API_AUTH_H
#define HSI_API_AUTH_H

#include <libpq-fe.h>

#define HSI_AGENCY_CODE_MAX 16

typedef enum {
	HSI_ROLE_ANON = 0, /* no token */
	HSI_ROLE_VIEWER,
	HSI_ROLE_AGENCY,
	HSI_ROLE_ADMIN,
} hsi_role;

/* Who is calling: resolved once per request. */
typedef struct {
	hsi_role  role;
	char      agency[HSI_AGENCY_CODE_MAX + 1]; /* HSI_ROLE_AGENCY only */
	long long token_id;                        /* api_token.id; 0: anon */
} hsi_principal;

/* Who may call a route. */
typedef enum {
	HSI_ACCESS_OPEN,        /* anyone, always (health probes) */
	HSI_ACCESS_PUBLIC_READ, /* anyone when public_reads, else a token */
	HSI_ACCESS_TOKEN,       /* any valid token */
	HSI_ACCESS_AGENCY,      /* an agency:<CODE> or admin token */
	HSI_ACCESS_ADMIN,       /* an admin token */
} hsi_access;

/* What a client is told for every refused token: which refusal it was
 * (malformed, unknown, expired, revoked) goes to the log only, so
 * nobody can probe which tokens exist. */
#define HSI_AUTH_REFUSED                                                      \
	"no valid token: send Authorization: Bearer hsi_<64 hex digits> "     \
	"with a token that has neither expired nor been revoked (hsictl "     \
	"token create)"

/*
 * Resolves an Authorization header value (hsi_token_parse's forms)
 * against api_token (hsi_token_verify). Returns 0 with *out, HSI_EAUTH
 * (malformed, unknown, expired or revoked: logged with the token's id
 * when known, never the token), or HSI_EDB (answer 503: the token may be
 * fine).
 */
int hsi_auth_lookup(PGconn *db, const char *authorization, hsi_principal *out);

/*
 * Whether p may call a route with access a: 0 (yes), 401 (a token is
 * needed) or 403 (this token's role is not enough).
 */
unsigned hsi_auth_allows(
    const hsi_principal *p, hsi_access a, int public_reads);

/* "admin", "viewer", "agency" or "anonymous". */
const char *hsi_auth_role_name(hsi_role r);

#endif
