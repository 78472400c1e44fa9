/*
 * auth.h: bearer tokens for hsi-api. A token is 32 random bytes written
 * as 64 hex digits; the database keeps only its SHA-256 (api_token), so a
 * leaked database does not leak usable tokens.
 */
#ifndef HSI_API_AUTH_H
#define HSI_API_AUTH_H

#include <libpq-fe.h>

/*
 * Checks an Authorization header value ("Bearer <64 hex>"; may be NULL)
 * against api_token: known, not revoked, not expired. Any role may read.
 * Returns 0, HSI_EAUTH or HSI_EDB.
 */
int hsi_auth_check(PGconn *db, const char *authorization);

#endif
