/*
 * auth.c: from an Authorization header to a principal, and route access
 * (see auth.h). The token's bytes are wiped as soon as they are hashed.
 */
#include "auth.h"

#include <openssl/crypto.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "token.h"

static hsi_role
role_of(hsi_token_role r)
{
	switch (r) {
	case HSI_TOKEN_ROLE_ADMIN:
		return HSI_ROLE_ADMIN;
	case HSI_TOKEN_ROLE_AGENCY:
		return HSI_ROLE_AGENCY;
	case HSI_TOKEN_ROLE_VIEWER:
		return HSI_ROLE_VIEWER;
	}
	return HSI_ROLE_ANON;
}

int
hsi_auth_lookup(PGconn *db, const char *authorization, hsi_principal *out)
{
	unsigned char   raw[HSI_TOKEN_BYTES];
	hsi_token_info  info;
	hsi_token_state st = HSI_TOKEN_UNKNOWN;
	if (hsi_token_parse(authorization, raw) != 0) {
		hsi_log_info("token refused", "{s:s}", "state", "malformed");
		return HSI_EAUTH;
	}
	memset(&info, 0, sizeof(info));
	int rv = hsi_token_verify(db, raw, &info, &st);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rv == HSI_EDB) {
		return rv;
	}
	if (rv != 0 || role_of(info.role) == HSI_ROLE_ANON) {
		hsi_log_info("token refused", "{s:s, s:I}", "state",
		    hsi_token_state_name(st), "token", (json_int_t) info.id);
		return HSI_EAUTH;
	}
	memset(out, 0, sizeof(*out));
	out->role     = role_of(info.role);
	out->token_id = (long long) info.id;
	if (out->role == HSI_ROLE_AGENCY) {
		memcpy(out->agency, info.agency, sizeof(out->agency));
	}
	return 0;
}

unsigned
hsi_auth_allows(const hsi_principal *p, hsi_access a, int public_reads)
{
	int anon = p->role == HSI_ROLE_ANON;
	switch (a) {
	case HSI_ACCESS_OPEN:
		return 0;
	case HSI_ACCESS_PUBLIC_READ:
		return public_reads || !anon ? 0 : 401;
	case HSI_ACCESS_TOKEN:
		return anon ? 401 : 0;
	case HSI_ACCESS_AGENCY:
		return anon ? 401
		    : p->role == HSI_ROLE_AGENCY || p->role == HSI_ROLE_ADMIN
		    ? 0
		    : 403;
	case HSI_ACCESS_ADMIN:
		return anon ? 401 : p->role == HSI_ROLE_ADMIN ? 0 : 403;
	}
	return 403;
}

const char *
hsi_auth_role_name(hsi_role r)
{
	switch (r) {
	case HSI_ROLE_VIEWER:
		return "viewer";
	case HSI_ROLE_AGENCY:
		return "agency";
	case HSI_ROLE_ADMIN:
		return "admin";
	case HSI_ROLE_ANON:
		break;
	}
	return "anonymous";
}
