/*
 * auth.c: bearer-token check for reads when public_reads is off (see
 * auth.h). Roles matter only for writes, which come in a later issue.
 */
#include "auth.h"

#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "envelope.h"
#include "error.h"

#define TOKEN_BYTES 32

int
hsi_auth_check(PGconn *db, const char *authorization)
{
	unsigned char tok[TOKEN_BYTES], digest[SHA256_DIGEST_LENGTH];
	char          hex[2 * SHA256_DIGEST_LENGTH + 1];
	if (authorization == NULL
	    || strncasecmp(authorization, "Bearer ", 7) != 0) {
		return HSI_EAUTH;
	}
	const char *t = authorization + 7;
	if (strlen(t) != 2 * TOKEN_BYTES
	    || hsi_unhex(t, tok, TOKEN_BYTES) != 0) {
		return HSI_EAUTH;
	}
	SHA256(tok, sizeof(tok), digest);
	hsi_hex(digest, sizeof(digest), hex);
	const char *p[1] = { hex };
	PGresult   *r    = hsi_db_query(db, "token check",
	         "SELECT 1 FROM api_token WHERE sha256 = decode($1, 'hex') "
	              "AND revoked_at IS NULL "
	              "AND (expires_at IS NULL OR expires_at > now())",
	         1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int rv = PQntuples(r) == 1 ? 0 : HSI_EAUTH;
	PQclear(r);
	return rv;
}
