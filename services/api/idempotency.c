/*
 * idempotency.c: Idempotency-Key for hsi-api's writes (see
 * idempotency.h). The claim is one INSERT ... ON CONFLICT DO NOTHING on
 * (token_id, key), so two requests racing with one key cannot both run:
 * the loser finds the winner's row, unfinished (409) or finished (its
 * answer again). A claim left unfinished by a request that died (a crash
 * between claim and keep) is taken over after IDEM_STALE.
 */
#include "idempotency.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"
#include "reply.h"
#include "text.h"

/* An unfinished claim this old is taken over: its request died. */
#define IDEM_STALE "5 minutes"

void
hsi_idem_init(hsi_idem *k)
{
	memset(k, 0, sizeof(*k));
	k->state = HSI_IDEM_NONE;
}

/* Queues a problem; returns non-zero ("answered, stop"). */
static int
problem(hsi_call *c, const hsi_problem *p, const char *const *headers)
{
	int rv = hsi_reply_problem_ex(c, p, headers);
	return rv ? rv : HSI_EINVAL;
}

static int
internal(hsi_call *c)
{
	hsi_problem p = { .status = MHD_HTTP_INTERNAL_SERVER_ERROR,
		.slug             = "internal",
		.title            = "Internal error",
		.detail           = "out of memory" };
	return problem(c, &p, NULL);
}

/*
 * SHA-256 of the method, the path (with '?' and the canonical query when
 * there is one) and the body, in hex: "the same request". The query counts:
 * POST /v1/observations?mode=partial is not the request POST
 * /v1/observations was, though the body is the same. Without a query the
 * hash is that of method, path and body, as migration 007 describes.
 */
static int
request_hash(hsi_call *c, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	const char *body, *method = hsi_call_method(c),
	                  *path = hsi_call_path(c);
	size_t        len;
	unsigned char md[SHA256_DIGEST_LENGTH];
	char          query[4 * HSI_QUERY_MAX_BYTES + 1024];
	if (hsi_query_canon(hsi_call_query(c), 0, query, sizeof(query)) != 0) {
		return HSI_ENOMEM;
	}
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	hsi_call_body(c, &body, &len);
	int ok = x != NULL && EVP_DigestInit_ex(x, EVP_sha256(), NULL)
	    && EVP_DigestUpdate(x, method, strlen(method) + 1)
	    && EVP_DigestUpdate(x, path, strlen(path))
	    && (query[0] == '\0' || EVP_DigestUpdate(x, "?", 1))
	    && EVP_DigestUpdate(x, query, strlen(query) + 1)
	    && EVP_DigestUpdate(x, body, len)
	    && EVP_DigestFinal_ex(x, md, NULL);
	EVP_MD_CTX_free(x);
	for (int i = 0; ok && i < SHA256_DIGEST_LENGTH; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	return ok ? 0 : HSI_ENOMEM;
}

/* 409 idempotency-in-flight with detail. */
static int
conflict(hsi_call *c, const char *detail)
{
	static const char *const h[] = { "Retry-After", "1", NULL };
	hsi_problem              p   = { .status = MHD_HTTP_CONFLICT,
		               .slug             = "idempotency-in-flight",
		               .title            = "Request in flight",
		               .detail           = detail,
		               .parameter        = "Idempotency-Key" };
	return problem(c, &p, h);
}

static int
in_flight(hsi_call *c, hsi_idem *k)
{
	k->state = HSI_IDEM_IN_FLIGHT;
	return conflict(c,
	    "a request with this Idempotency-Key is still being processed; "
	    "retry with the same key in a second");
}

int
hsi_idem_lost(hsi_call *c)
{
	return conflict(c,
	    "another request with this Idempotency-Key was answered first, "
	    "and this one stored nothing; send it again with the same key "
	    "to get that answer");
}

static int
mismatch(hsi_call *c, hsi_idem *k)
{
	char d[400], shown[80];
	hsi_text_shown(shown, sizeof(shown), k->key, strlen(k->key));
	snprintf(d, sizeof(d),
	    "Idempotency-Key '%s' was used in the last 24 hours for "
	    "another request (another path or body); use a new key "
	    "for a new request",
	    shown);
	hsi_problem p = { .status = MHD_HTTP_UNPROCESSABLE_CONTENT,
		.slug             = "idempotency-key-reused",
		.title            = "Idempotency key reused",
		.detail           = d,
		.parameter        = "Idempotency-Key" };
	k->state      = HSI_IDEM_MISMATCH;
	return problem(c, &p, NULL);
}

/* Sends the kept answer of row 0 of r (earlier()'s columns) again, with
 * Cache-Control: no-store as the first answer had, and its Location. */
static int
replay(hsi_call *c, hsi_idem *k, const PGresult *r)
{
	const char          *name;
	json_t              *hj = json_loads(PQgetvalue(r, 0, 4), 0, NULL), *v;
	struct MHD_Response *resp
	    = MHD_create_response_from_buffer((size_t) PQgetlength(r, 0, 3),
	        PQgetvalue(r, 0, 3), MHD_RESPMEM_MUST_COPY);
	if (resp != NULL) {
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, PQgetvalue(r, 0, 2));
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		json_object_foreach(hj, name, v)
		{
			if (json_is_string(v)) {
				MHD_add_response_header(
				    resp, name, json_string_value(v));
			}
		}
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
	}
	json_decref(hj);
	k->state = HSI_IDEM_REPLAYED;
	int rv
	    = hsi_reply_queue(c, (unsigned) atoi(PQgetvalue(r, 0, 1)), resp);
	return rv ? rv : HSI_EINVAL; /* answered: the write is not run */
}

/* Takes over a claim whose request died (IDEM_STALE): 1 if this request
 * now holds it, 0 if another one was quicker, HSI_EDB (answered). */
static int
take_over(hsi_call *c, const char *const *p)
{
	PGresult *r = hsi_call_sql(c, "idempotency take over",
	    "UPDATE api_idempotency SET created_at = now() "
	    "WHERE token_id = $1::bigint AND key = $2 AND status IS NULL"
	    " AND created_at < now() - interval '" IDEM_STALE "' RETURNING id",
	    2, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int n = PQntuples(r);
	PQclear(r);
	return n;
}

/* The key is taken already: by this same request (its answer again), by
 * another one (422), or by one still running (409). */
static int
earlier(hsi_call *c, hsi_idem *k, const char *const *p)
{
	PGresult *r  = hsi_call_sql(c, "idempotency lookup",
	     "SELECT method = $3 AND path = $4 AND request_hash = $5, status,"
	      " response_type, response_body, response_headers::text,"
	      " created_at < now() - interval '" IDEM_STALE "' "
	      "FROM api_idempotency WHERE token_id = $1::bigint AND key = $2",
	     5, p);
	int       rv = 0;
	if (r == NULL) {
		return HSI_EDB;
	}
	if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] != 't') {
		rv = mismatch(c, k);
	} else if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1)) {
		rv = replay(c, k, r);
	} else if (PQntuples(r) == 1 && PQgetvalue(r, 0, 5)[0] == 't'
	    && (rv = take_over(c, p)) == 1) {
		k->state = HSI_IDEM_NEW;
		rv       = 0;
	} else if (rv == 0) {
		rv = in_flight(c, k);
	}
	PQclear(r);
	return rv;
}

/* The header's key into k->key: 0, or 400 answered. */
static int
read_key(hsi_call *c, hsi_idem *k, const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; i < len && len <= HSI_IDEM_KEY_MAX; i++) {
		len = key[i] < '!' || key[i] > '~' ? 0 : len;
	}
	if (len == 0 || len > HSI_IDEM_KEY_MAX) {
		hsi_problem p = { .status = MHD_HTTP_BAD_REQUEST,
			.slug             = "invalid-parameter",
			.title            = "Invalid parameter",
			.detail    = "header Idempotency-Key: give 1 to 255 "
			             "printable ASCII characters without spaces, "
			             "e.g. a UUID",
			.parameter = "Idempotency-Key" };
		return problem(c, &p, NULL);
	}
	memcpy(k->key, key, len + 1);
	return 0;
}

int
hsi_idem_claim(hsi_call *c, hsi_idem *k)
{
	const char *key = hsi_call_header(c, "Idempotency-Key");
	char        hash[2 * SHA256_DIGEST_LENGTH + 1];
	hsi_idem_init(k);
	if (key == NULL) {
		return 0;
	}
	k->state = HSI_IDEM_REFUSED;
	int rv   = read_key(c, k, key);
	if (rv != 0) {
		return rv;
	}
	if (request_hash(c, hash) != 0) {
		return internal(c);
	}
	snprintf(k->token, sizeof(k->token), "%lld",
	    hsi_call_principal(c)->token_id);
	const char *p[5]
	    = { k->token, k->key, hsi_call_method(c), hsi_call_path(c), hash };
	PGresult *r = hsi_call_sql(c, "idempotency expiry",
	    "DELETE FROM api_idempotency "
	    "WHERE created_at < now() - interval '24 hours'",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	PQclear(r);
	r = hsi_call_sql(c, "idempotency claim",
	    "INSERT INTO api_idempotency (token_id, key, method, path,"
	    " request_hash) VALUES ($1::bigint, $2, $3, $4, $5) "
	    "ON CONFLICT (token_id, key) DO NOTHING RETURNING id",
	    5, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int claimed = PQntuples(r) == 1;
	PQclear(r);
	if (claimed) {
		k->state = HSI_IDEM_NEW;
		return 0;
	}
	return earlier(c, k, p);
}

int
hsi_idem_keep_db(PGconn *db, const hsi_idem *k, unsigned status,
    const char *type, const char *body, const char *location)
{
	char st[8], *hs;
	if (k->state != HSI_IDEM_NEW) {
		return 0;
	}
	snprintf(st, sizeof(st), "%u", status);
	json_t *h = location ? json_pack("{s:s}", "Location", location)
	                     : json_object();
	hs        = h ? json_dumps(h, JSON_COMPACT) : NULL;
	json_decref(h);
	const char *p[6] = { k->token, k->key, st, type, body, hs };
	int         rv   = HSI_ENOMEM;
	if (hs != NULL) {
		/* Only while the claim is still open: a request that took
		 * over a stale claim (IDEM_STALE) and answered first has
		 * closed it, and this write must then not commit. */
		PGresult *r = hsi_db_query(db, "idempotency keep",
		    "UPDATE api_idempotency SET status = $3::int,"
		    " response_type = $4, response_body = $5,"
		    " response_headers = $6::jsonb, completed_at = now()"
		    " WHERE token_id = $1::bigint AND key = $2"
		    " AND status IS NULL RETURNING id",
		    6, p);
		rv = r == NULL ? HSI_EDB : PQntuples(r) == 1 ? 0 : HSI_ESTATE;
		PQclear(r);
	}
	free(hs);
	return rv;
}

void
hsi_idem_keep(hsi_call *c, const hsi_idem *k, unsigned status,
    const char *type, const char *body, const char *location)
{
	PGconn *db;
	if (k->state != HSI_IDEM_NEW) {
		return;
	}
	if (hsi_call_db(c, &db) != 0
	    || hsi_idem_keep_db(db, k, status, type, body, location) != 0) {
		hsi_log_error(
		    "idempotent answer not kept", "{s:s}", "token", k->token);
	}
}

void
hsi_idem_release(hsi_call *c, const hsi_idem *k)
{
	PGconn     *db;
	const char *p[2] = { k->token, k->key };
	if (k->state == HSI_IDEM_NEW && hsi_call_db(c, &db) == 0) {
		hsi_db_exec(db, "idempotency drop",
		    "DELETE FROM api_idempotency WHERE token_id = $1::bigint"
		    " AND key = $2 AND status IS NULL",
		    2, p);
	}
}
