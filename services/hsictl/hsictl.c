/*
 * hsictl.c: admin commands over PostgreSQL (see hsictl.h).
 */
#include "hsictl.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "db.h"
#include "envelope.h"
#include "error.h"
#include "scorecmd.h"
#include "validate.h"

static PGconn *
connect_db(const char *url)
{
	char    err[512];
	PGconn *c;
	if (hsi_db_open(url, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return NULL;
	}
	return c;
}

int
hsictl_migrate(const char *db_url)
{
	char    err[512];
	PGconn *c = connect_db(db_url);
	if (c == NULL) {
		return 1;
	}
	int rv = hsi_db_migrate(c, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
	}
	hsi_db_close(c);
	return rv ? 1 : 0;
}

int
hsictl_key_rotate(const char *db_url, const char *agency, const char *out_path)
{
	hsi_key k;
	char    err[512], hex[2 * HSI_KEY_BYTES + 1], rnd[9];
	memset(&k, 0, sizeof(k));
	if (strlen(agency) >= sizeof(k.agency)) {
		fprintf(stderr, "hsictl: agency code too long\n");
		return 2;
	}
	unsigned char tag[4];
	if (RAND_bytes(k.secret, HSI_KEY_BYTES) != 1
	    || RAND_bytes(tag, sizeof(tag)) != 1) {
		fprintf(stderr, "hsictl: no randomness available\n");
		return 1;
	}
	hsi_hex(tag, sizeof(tag), rnd);
	time_t    now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strcpy(k.agency, agency);
	snprintf(k.id, sizeof(k.id), "%s-%04d%02d%02d-%s", agency,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, rnd);
	PGconn *c = connect_db(db_url);
	if (c == NULL) {
		return 1;
	}
	hsi_hex(k.secret, HSI_KEY_BYTES, hex);
	const char *p[3] = { agency, k.id, hex };
	int         rv   = hsi_db_exec(c, "insert key",
	              "INSERT INTO agency_key(agency, key_id, secret) "
	                        "SELECT $1, $2, decode($3, 'hex') WHERE EXISTS "
	                        "(SELECT 1 FROM agency WHERE code = $1)",
	              3, p);
	OPENSSL_cleanse(hex, sizeof(hex));
	PGresult *r     = rv == 0
	        ? hsi_db_query(c, "check key",
	            "SELECT 1 FROM agency_key WHERE key_id = $1", 1, p + 1)
	        : NULL;
	int       found = r != NULL && PQntuples(r) == 1;
	PQclear(r);
	if (found) {
		const char *ap[2] = { "hsictl", agency };
		hsi_db_exec(c, "audit",
		    "INSERT INTO audit_log(actor, action, target) VALUES ($1, "
		    "'key.rotate', $2)",
		    2, ap);
	}
	hsi_db_close(c);
	if (!found) {
		fprintf(stderr,
		    "hsictl: agency '%s' is unknown; see the agency codes in "
		    "docs/catalog.md\n",
		    agency);
		return 1;
	}
	if (hsi_key_save(out_path, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	printf("key %s-... written to %s; the previous keys of %s stay valid "
	       "until retired\n",
	    agency, out_path, agency);
	return 0;
}

int
hsictl_key_retire(const char *db_url, const char *key_id)
{
	PGconn *c = connect_db(db_url);
	if (c == NULL) {
		return 1;
	}
	const char *p[1]  = { key_id };
	PGresult   *r     = hsi_db_query(c, "retire key",
	          "UPDATE agency_key SET retired_at = now() WHERE key_id = $1 AND "
	                "(retired_at IS NULL OR retired_at > now()) RETURNING agency",
	          1, p);
	int         found = r != NULL && PQntuples(r) == 1;
	if (found) {
		const char *ap[2] = { "hsictl", key_id };
		hsi_db_exec(c, "audit",
		    "INSERT INTO audit_log(actor, action, target) VALUES ($1, "
		    "'key.retire', $2)",
		    2, ap);
		printf("key %s of %s retired; its node must use a newer key\n",
		    key_id, PQgetvalue(r, 0, 0));
	} else if (r != NULL) {
		fprintf(stderr,
		    "hsictl: no valid key '%s' (see the key_id in the node's "
		    "key file)\n",
		    key_id);
	}
	PQclear(r);
	hsi_db_close(c);
	return found ? 0 : 1;
}

int
hsictl_catalog_load(const char *db_url, const char *csv_path)
{
	char         err[512];
	hsi_catalog *cat;
	int          rv;
	if (hsictl_load_catalog(csv_path, &cat) != 0) {
		return 1;
	}
	PGconn *c = connect_db(db_url);
	if (c == NULL) {
		hsi_catalog_free(cat);
		return 1;
	}
	if ((rv = hsi_db_migrate(c, err, sizeof(err))) == 0) {
		rv = hsi_catalog_store_db(c, cat, err, sizeof(err));
	}
	if (rv != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
	} else {
		printf("catalog loaded: %zu indicators; restart hsi-scorer to "
		       "publish it\n",
		    cat->n_ind);
	}
	hsi_catalog_free(cat);
	hsi_db_close(c);
	return rv ? 1 : 0;
}
