/*
 * gwkey.c: the REST gateway's signing keys (see gwkey.h).
 */
#include "gwkey.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "error.h"
#include "log.h"

/* Reads the valid gateway keys of agency into keys[] (newest first). */
static int
read_keys(PGconn *db, const char *agency, hsi_key *keys, size_t max, size_t *n)
{
	const char *p[1] = { agency };
	PGresult   *r    = hsi_db_query(db, "gateway keys",
	         "SELECT key_id, encode(secret, 'hex') FROM agency_key "
	              "WHERE agency = $1 AND starts_with(key_id, $1 || '-api-') "
	              "AND (retired_at IS NULL OR retired_at > now()) "
	              "ORDER BY created_at DESC, key_id DESC",
	         1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	*n = 0;
	for (int i = 0; i < PQntuples(r) && *n < max; i++) {
		hsi_key *k = &keys[*n];
		memset(k, 0, sizeof(*k));
		snprintf(k->agency, sizeof(k->agency), "%s", agency);
		snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(r, i, 0));
		if (hsi_unhex(PQgetvalue(r, i, 1), k->secret, HSI_KEY_BYTES)
		    == 0) {
			(*n)++;
		}
	}
	PQclear(r);
	return 0;
}

/* Makes a new gateway key for agency (as hsictl key rotate does). */
static int
make_key(PGconn *db, const char *agency)
{
	unsigned char secret[HSI_KEY_BYTES], tag[4];
	char hex[2 * HSI_KEY_BYTES + 1], rnd[9], id[HSI_KEY_ID_MAX + 1];
	if (RAND_bytes(secret, sizeof(secret)) != 1
	    || RAND_bytes(tag, sizeof(tag)) != 1) {
		return HSI_EIO;
	}
	hsi_hex(tag, sizeof(tag), rnd);
	hsi_hex(secret, sizeof(secret), hex);
	OPENSSL_cleanse(secret, sizeof(secret));
	time_t    now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(id, sizeof(id), "%s-api-%04d%02d%02d-%s", agency,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, rnd);
	const char *p[3] = { agency, id, hex };
	PGresult   *r    = hsi_db_query(db, "make gateway key",
	         "WITH k AS (INSERT INTO agency_key (agency, key_id, secret) "
	              "SELECT $1, $2, decode($3, 'hex') WHERE EXISTS (SELECT 1 "
	              "FROM agency WHERE code = $1) RETURNING agency), "
	              "a AS (INSERT INTO audit_log (actor, action, target, detail) "
	              "SELECT 'hsi-api', 'key.rotate', $1, json_build_object('key_id',"
	              " $2::text, 'for', 'gateway') FROM k) "
	              "SELECT count(*) FROM k",
	         3, p);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (r == NULL) {
		return HSI_EDB;
	}
	int made = atoi(PQgetvalue(r, 0, 0)) == 1;
	PQclear(r);
	if (!made) {
		return HSI_EINVAL;
	}
	hsi_log_info(
	    "gateway key made", "{s:s, s:s}", "agency", agency, "key_id", id);
	return 0;
}

int
hsi_gwkey_load(
    PGconn *db, const char *agency, hsi_key *keys, size_t max, size_t *n)
{
	int rv = read_keys(db, agency, keys, max, n);
	if (rv == 0 && *n == 0 && (rv = make_key(db, agency)) == 0) {
		rv = read_keys(db, agency, keys, max, n);
	}
	return rv == 0 && *n == 0 ? HSI_EDB : rv;
}

void
hsi_gwkey_wipe(hsi_key *keys, size_t n)
{
	if (keys != NULL && n > 0) {
		OPENSSL_cleanse(keys, n * sizeof(*keys));
	}
}
