/*
 * token_verify.c: test helper for tests/token/token_test.py -- reads one
 * Authorization header value (or a token) from stdin, parses and verifies
 * it against the database as hsi-api does, and prints the verdict as one
 * JSON line: {"verdict": "active" | "unknown" | "revoked" | "expired" |
 * "malformed", and for a known token id, role_kind (the enum's name),
 * role, agency, label, created_at, expires_at, revoked_at (Unix
 * seconds)}. Exit 0 after printing, 1 on a
 * database error, 2 on usage.
 *
 * usage: token_verify DB_URL < header
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "db.h"
#include "error.h"
#include "token.h"

static const char *
kind(hsi_token_role r)
{
	switch (r) {
	case HSI_TOKEN_ROLE_VIEWER:
		return "viewer";
	case HSI_TOKEN_ROLE_AGENCY:
		return "agency";
	case HSI_TOKEN_ROLE_ADMIN:
		return "admin";
	}
	return "?";
}

int
main(int argc, char **argv)
{
	char            line[512], err[512];
	unsigned char   raw[HSI_TOKEN_BYTES];
	hsi_token_info  t;
	hsi_token_state st = HSI_TOKEN_UNKNOWN;
	PGconn         *db;
	json_t         *j;
	if (argc != 2 || fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "usage: token_verify DB_URL < header\n");
		return 2;
	}
	line[strcspn(line, "\n")] = '\0';
	int rv                    = hsi_token_parse(line, raw);
	OPENSSL_cleanse(line, sizeof(line));
	if (rv != 0) {
		/* Refused as hsi-api refuses it: 401. */
		printf("{\"verdict\": \"malformed\", \"eauth\": %s}\n",
		    rv == HSI_EAUTH ? "true" : "false");
		return 0;
	}
	if (hsi_db_open(argv[1], &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "token_verify: %s\n", err);
		return 1;
	}
	memset(&t, 0, sizeof(t));
	rv = hsi_token_verify(db, raw, &t, &st);
	OPENSSL_cleanse(raw, sizeof(raw));
	hsi_db_close(db);
	/* hsi-api answers 401 for exactly these, and only these. */
	if ((rv == 0) != (st == HSI_TOKEN_ACTIVE)
	    || (rv != 0 && rv != HSI_EAUTH)) {
		fprintf(stderr, "token_verify: %s (state %s)\n",
		    hsi_strerror(rv), hsi_token_state_name(st));
		return 1;
	}
	if (st == HSI_TOKEN_UNKNOWN) {
		j = json_pack("{s:s}", "verdict", hsi_token_state_name(st));
	} else {
		j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
		    "verdict", hsi_token_state_name(st), "id",
		    (json_int_t) t.id, "role_kind", kind(t.role), "role",
		    t.role_text, "agency", t.agency, "label", t.label,
		    "created_at", (json_int_t) t.created_at, "expires_at",
		    (json_int_t) t.expires_at, "revoked_at",
		    (json_int_t) t.revoked_at);
	}
	if (j == NULL) {
		return 1;
	}
	json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(j);
	return 0;
}
