/*
 * submit.c: POST /v1/observations (openapi.yaml, submitObservations): an
 * agency's file through the REST gateway, into the same pipeline as a
 * file dropped into an ingest node's inbox. GET /v1/submissions/{id} is
 * in submission.c; both are in this module's route table.
 *
 * The order of the steps is the contract's:
 *   1. who submits for which agency (403 forbidden, 400 for an admin
 *      without agency=), the body's format (415);
 *   2. the body read and validated by the node's code against the catalog
 *      in PostgreSQL (400 for a malformed JSON body);
 *   3. rows of another agency's indicators: 403 not-owner, always, with
 *      every such row (a check the token fails, not a mistake in a row);
 *   4. dry_run: the report (200), nothing stored;
 *   5. mode=atomic with an invalid row, or no valid row at all: 422
 *      invalid-rows with every row's problem;
 *   6. Idempotency-Key claimed; the valid rows packed into parts
 *      (common/parts.h) and committed to the gateway's outbox
 *      (gwoutbox.h) with the audit_log row and the kept answer, in ONE
 *      transaction: a crash leaves the submission and its idempotent
 *      answer both stored or neither, so a retry never sends a file twice;
 *   7. the sender woken (sender.h); 202 with Location.
 */
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "envelope.h"
#include "error.h"
#include "gwoutbox.h"
#include "idempotency.h"
#include "log.h"
#include "parts.h"
#include "pool.h"
#include "reply.h"
#include "routes.h"
#include "sender.h"
#include "submit_int.h"
#include "text.h"

static const char *const modes[] = { "atomic", "partial", NULL };

static const hsi_qparam submit_query[] = {
	{ .name = "dry_run", .type = HSI_QT_BOOL, .example = "true" },
	{ .name      = "mode",
	    .type    = HSI_QT_ENUM,
	    .choices = modes,
	    .example = "partial" },
	{ .name      = "file_name",
	    .type    = HSI_QT_STRING,
	    .max_len = 255,
	    .example = "MOE_2567.csv" },
	{ .name = "agency", .type = HSI_QT_AGENCY, .example = "CDD" },
	{ .name = NULL },
};

/* One submission on its way through the steps. */
typedef struct {
	char              agency[HSI_AGENCY_CODE_MAX + 1];
	hsi_submit_format format;
	int               partial, dry_run;
	hsi_catalog      *cat;
	hsi_batch         b;
} submit;

static int
refuse(hsi_call *c, unsigned status, const char *slug, const char *title,
    const char *param, const char *detail)
{
	hsi_problem p  = { .status = status,
		 .slug             = slug,
		 .title            = title,
		 .detail           = detail,
		 .parameter        = param };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

/* The agency submitted for: an agency token's own (agency= may repeat
 * it), or agency= for an admin. */
static int
which_agency(hsi_call *c, submit *s)
{
	const hsi_principal *who = hsi_call_principal(c);
	const char          *q   = hsi_call_text(c, "agency");
	char                 d[200];
	if (who->role == HSI_ROLE_ADMIN) {
		if (q == NULL) {
			return refuse(c, MHD_HTTP_BAD_REQUEST,
			    "missing-parameter", "Missing query parameter",
			    "agency",
			    "an admin submits on behalf of an agency: add "
			    "agency=CODE (e.g. agency=CDD)");
		}
		snprintf(s->agency, sizeof(s->agency), "%s", q);
		return 0;
	}
	if (q != NULL && strcmp(q, who->agency) != 0) {
		snprintf(d, sizeof(d),
		    "an agency:%s token submits for %s only, not %s: leave "
		    "agency out, or use that agency's token",
		    who->agency, who->agency, q);
		return refuse(c, MHD_HTTP_FORBIDDEN, "forbidden", "Forbidden",
		    "agency", d);
	}
	snprintf(s->agency, sizeof(s->agency), "%s", who->agency);
	return 0;
}

/* file_name: the contract's pattern forbids '/' and '\' too. */
static int
check_file_name(hsi_call *c)
{
	const char *n = hsi_call_text(c, "file_name");
	if (n == NULL || strpbrk(n, "/\\") == NULL) {
		return 0;
	}
	return refuse(c, MHD_HTTP_BAD_REQUEST, "invalid-parameter",
	    "Invalid parameter", "file_name",
	    "query parameter 'file_name' holds '/' or '\\': give the file's "
	    "name without a folder, e.g. MOE_2567.csv");
}

static int
load_catalog(PGconn *db, void *arg)
{
	submit *s = arg;
	char    err[512];
	hsi_catalog_free(s->cat);
	s->cat = NULL;
	int rv = hsi_catalog_load_db(db, &s->cat, err, sizeof(err));
	return rv == HSI_EDB ? HSI_EDB : rv != 0 ? HSI_ENOENT : 0;
}

/* The catalog the rows are checked against, as the scorer holds it, and
 * the agency known in it. */
static int
catalog(hsi_call *c, submit *s)
{
	char d[200];
	int  rv = hsi_call_run(c, load_catalog, s);
	if (rv == HSI_EDB) {
		return rv; /* 503 answered */
	}
	if (rv != 0) {
		static const char *const h[] = { "Retry-After", "30", NULL };
		hsi_problem              p   = { .status = 503,
			               .slug             = "unavailable",
			               .title            = "Service unavailable",
			               .detail = "the catalog is empty: nothing can be "
			                                        "checked until the operators load "
			                                        "it (hsictl catalog load); retry "
			                                        "later" };
		rv                           = hsi_reply_problem_ex(c, &p, h);
		return rv ? rv : HSI_ENOENT;
	}
	if (hsi_catalog_agency(s->cat, s->agency) != NULL) {
		return 0;
	}
	snprintf(d, sizeof(d),
	    "agency '%s' is not in the catalog: give one of the agencies of "
	    "GET /v1/agencies",
	    s->agency);
	return refuse(c, MHD_HTTP_BAD_REQUEST, "invalid-parameter",
	    "Invalid parameter", "agency", d);
}

/* 403 not-owner when any row is another agency's indicator, whether or
 * not the list of issues still had room for it. */
static int
not_owner(hsi_call *c, const submit *s)
{
	size_t n = s->b.not_owner_seen;
	char   d[480], listed[120] = "";
	if (n == 0) {
		return 0;
	}
	json_t *rows = hsi_submit_issues(&s->b, "E_NOT_OWNER");
	if (rows == NULL) {
		return HSI_ENOMEM;
	}
	if (json_array_size(rows) == 0) {
		snprintf(listed, sizeof(listed),
		    " (the first at row %zu; errors had no room left for "
		    "them)",
		    s->b.not_owner_first_row);
	} else if (json_array_size(rows) < n) {
		snprintf(listed, sizeof(listed),
		    " (the first at row %zu; errors lists %zu of them)",
		    s->b.not_owner_first_row, json_array_size(rows));
	}
	snprintf(d, sizeof(d),
	    "%zu %s that another agency owns, and only the owner may "
	    "submit an indicator: nothing was sent; remove %s%s",
	    n, n == 1 ? "row submits an indicator" : "rows submit indicators",
	    n == 1 ? "that row" : "those rows", listed);
	hsi_problem p  = { .status = MHD_HTTP_FORBIDDEN,
		 .slug             = "not-owner",
		 .title            = "Not the owner",
		 .detail           = d,
		 .row              = (long) s->b.not_owner_first_row,
		 .errors           = rows };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	json_decref(rows);
	return rv ? rv : HSI_EINVAL;
}

/* The dry run's report (SubmissionCheck), 200. */
static int
dry_run(hsi_call *c, const submit *s)
{
	json_t *issues = hsi_submit_issues(&s->b, NULL);
	json_t *j      = issues == NULL
	         ? NULL
	         : json_pack("{s:b, s:s, s:s, s:i, s:i, s:i, s:b, s:o}", "dry_run",
	             1, "mode", s->partial ? "partial" : "atomic", "format",
	             hsi_submit_format_name(s->format), "rows", (int) s->b.rows,
	             "valid_rows", (int) s->b.n_obs, "invalid_rows",
	             (int) s->b.bad_rows, "issues_truncated", s->b.truncated,
	             "issues", issues);
	return hsi_reply_json(c, MHD_HTTP_OK, j, NULL);
}

/* 422 when nothing may be sent: an invalid row and mode=atomic, a file
 * that cannot be read at all, or no valid row. 0 when it may. */
static int
unsendable(hsi_call *c, const submit *s)
{
	const hsi_batch *b = &s->b;
	char             d[400];
	if (b->n_obs > 0 && !b->file_error
	    && (s->partial || b->issues_seen == 0)) {
		return 0;
	}
	if (b->file_error || b->rows == 0) {
		snprintf(d, sizeof(d),
		    "%s; nothing was sent: fix it as errors says",
		    b->rows == 0 && !b->file_error
		        ? "the body has no rows"
		        : "the body cannot be read as a whole");
	} else if (b->n_obs == 0) {
		snprintf(d, sizeof(d),
		    "none of the %zu rows is valid, so nothing was sent: fix "
		    "them as errors says",
		    b->rows);
	} else {
		snprintf(d, sizeof(d),
		    "%zu of %zu rows %s invalid and mode is atomic, so "
		    "nothing was sent; fix %s, or send mode=partial to send "
		    "the valid rows",
		    b->bad_rows, b->rows, b->bad_rows == 1 ? "is" : "are",
		    b->bad_rows == 1 ? "it" : "them");
	}
	json_t *errors = hsi_submit_issues(b, NULL);
	if (errors != NULL && json_array_size(errors) == 0) {
		json_array_append_new(
		    errors, json_pack("{s:s}", "message", "no rows"));
	}
	hsi_problem p  = { .status = MHD_HTTP_UNPROCESSABLE_CONTENT,
		 .slug             = "invalid-rows",
		 .title            = "Invalid rows",
		 .detail           = d,
		 .row              = b->n_issues > 0 && b->issues[0].row > 0
		                  ? (long) b->issues[0].row
		                  : 0,
		 .errors           = errors };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	json_decref(errors);
	return rv ? rv : HSI_EINVAL;
}

/* ---- the commit ------------------------------------------------------------
 */

typedef struct {
	hsi_gw_submission sub;
	const hsi_idem   *idem;
	char              id[HSI_GW_ID_MAX], file_id[HSI_GW_FILE_ID_MAX];
	char              location[64];
	char             *json;   /* the answer, once committed */
	int               tried;  /* commit_tx ran before (a retry) */
	char             *issues; /* RowIssue array, JSON text */
	char             *detail; /* audit_log detail */
} commit_ctx;

static int
audit(PGconn *db, const commit_ctx *x)
{
	char tok[24];
	snprintf(tok, sizeof(tok), "%lld", x->sub.token_id);
	const char *p[3] = { tok, x->id, x->detail };
	return hsi_db_exec(db, "audit",
	    "INSERT INTO audit_log (actor, action, target, detail) SELECT "
	    "coalesce((SELECT label FROM api_token WHERE id = $1::bigint), "
	    "'token ' || $1), 'observations.submit', $2, $3::jsonb",
	    3, p);
}

/* The submission, its parts, the audit row and the kept answer, in one
 * transaction. Safe to repeat after a lost connection: a retry first
 * looks for the submission, since the connection may have been lost after
 * the COMMIT landed, and then only reads the answer back. */
static int
commit_tx(PGconn *db, void *arg)
{
	commit_ctx *x = arg;
	char        agency[HSI_AGENCY_CODE_MAX + 1];
	const char *location[3] = { "Location", x->location, NULL };
	free(x->json);
	x->json = NULL;
	if (x->tried) {
		int rv = hsi_gwoutbox_get(
		    db, x->id, &x->json, agency, sizeof(agency));
		if (rv != HSI_ENOENT) {
			return rv == HSI_EDB && PQstatus(db) == CONNECTION_OK
			    ? HSI_EINVAL
			    : rv; /* 0: it was stored */
		}
	}
	x->tried = 1;
	int rv   = hsi_db_exec(db, "begin", "BEGIN", 0, NULL);
	if (rv == 0 && (rv = hsi_gwoutbox_add(db, &x->sub)) == 0
	    && (rv = hsi_gwoutbox_get(
	            db, x->id, &x->json, agency, sizeof(agency)))
	        == 0
	    && (rv = audit(db, x)) == 0
	    && (rv = hsi_idem_keep_db(db, x->idem, MHD_HTTP_ACCEPTED,
	            HSI_SUBMIT_JSON_TYPE, x->json, location[1]))
	        == 0) {
		PGresult *r = PQexec(db, "COMMIT");
		/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
		rv = PQresultStatus(r) == PGRES_COMMAND_OK
		        && strcmp(PQcmdStatus(r), "COMMIT") == 0
		    ? 0
		    : HSI_EDB;
		PQclear(r);
	}
	if (rv != 0) {
		PQclear(PQexec(db, "ROLLBACK"));
		/* HSI_EDB only for a lost connection: a statement that
		 * failed on a live one would fail again. */
		return PQstatus(db) != CONNECTION_OK ? HSI_EDB
		    : rv == HSI_EDB                  ? HSI_EINVAL
		                                     : rv;
	}
	return 0;
}

/* Submission id (api-<16 hex>) and file id (the body's SHA-256 for
 * people, then the same random part, as a node names its files). */
static int
make_ids(hsi_call *c, commit_ctx *x)
{
	unsigned char rnd[8], md[SHA256_DIGEST_LENGTH];
	char          rhex[17], sha[2 * SHA256_DIGEST_LENGTH + 1];
	const char   *body;
	size_t        len;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return HSI_EIO;
	}
	hsi_call_body(c, &body, &len);
	SHA256((const unsigned char *) body, len, md);
	hsi_hex(rnd, sizeof(rnd), rhex);
	hsi_hex(md, sizeof(md), sha);
	snprintf(x->id, sizeof(x->id), HSI_GW_NODE_PREFIX "%s", rhex);
	snprintf(x->file_id, sizeof(x->file_id), "%.24s-%s", sha, rhex);
	snprintf(
	    x->location, sizeof(x->location), "/v1/submissions/%s", x->id);
	return 0;
}

static int
internal(hsi_call *c, const char *detail)
{
	int rv = hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
	    "internal", "Internal error", detail);
	return rv ? rv : HSI_EINVAL;
}

/* The rows packed into parts and the values of the submission's row and
 * of its audit_log row into x (freed by commit_fini). 0 or HSI_ENOMEM. */
static int
prepare_commit(hsi_call *c, const submit *s, commit_ctx *x, hsi_parts *parts)
{
	const char    *name   = hsi_call_text(c, "file_name");
	const char    *format = hsi_submit_format_name(s->format);
	const char    *mode   = s->partial ? "partial" : "atomic";
	long long      token  = hsi_call_principal(c)->token_id;
	hsi_parts_spec spec   = { .file_id = x->file_id,
		  .file_name               = name ? name : x->id,
		  .catalog_version         = s->cat->version,
		  .partial                 = s->partial };
	json_t        *issues = hsi_submit_issues(&s->b, NULL);
	json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I}",
	    "agency", s->agency, "file_name", spec.file_name, "format", format,
	    "mode", mode, "rows", (int) s->b.rows, "valid_rows",
	    (int) s->b.n_obs, "token_id", (json_int_t) token);
	x->issues      = issues ? json_dumps(issues, JSON_COMPACT) : NULL;
	x->detail      = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(issues);
	json_decref(detail);
	if (x->issues == NULL || x->detail == NULL
	    || hsi_parts_pack(&s->b, &spec, parts) != 0) {
		return HSI_ENOMEM;
	}
	x->sub = (hsi_gw_submission) { .id = x->id,
		.agency                    = s->agency,
		.file_id                   = x->file_id,
		.file_name                 = spec.file_name,
		.format                    = format,
		.mode                      = mode,
		.token_id                  = token,
		.rows                      = (long) s->b.rows,
		.valid_rows                = (long) s->b.n_obs,
		.invalid_rows              = (long) s->b.bad_rows,
		.issues_truncated          = s->b.truncated,
		.issues                    = x->issues,
		.parts                     = parts };
	return 0;
}

static void
commit_fini(commit_ctx *x)
{
	free(x->issues);
	free(x->detail);
	free(x->json);
}

/* commit_tx on the request's connection, retried once on a new one when
 * the connection is lost. Returns 0, or non-zero once answered: a 503
 * when the database cannot be reached (the submission may then have been
 * stored: the detail says how to find out), a 500 when it refused. */
static int
store(hsi_call *c, commit_ctx *x)
{
	PGconn *db;
	char    d[400];
	int     rv = hsi_call_db(c, &db);
	if (rv != 0) {
		return rv; /* 503, nothing was tried */
	}
	rv = commit_tx(db, x);
	if (rv == HSI_EDB && hsi_pool_recover(db)) {
		rv = commit_tx(db, x);
	}
	if (rv == HSI_EDB) {
		static const char *const h[]
		    = { MHD_HTTP_HEADER_RETRY_AFTER, "5", NULL };
		snprintf(d, sizeof(d),
		    "the connection to the database was lost while the "
		    "submission was being stored, so it may or may not have "
		    "been: GET %s says (404: it was not); send it again "
		    "with the same Idempotency-Key, which answers with the "
		    "first submission if it was stored",
		    x->location);
		hsi_problem p = { .status = MHD_HTTP_SERVICE_UNAVAILABLE,
			.slug             = "unavailable",
			.title            = "Service unavailable",
			.detail           = d };
		rv            = hsi_reply_problem_ex(c, &p, h);
		return rv ? rv : HSI_EDB;
	}
	if (rv == HSI_ESTATE) {
		return hsi_idem_lost(c);
	}
	if (rv != 0) {
		return internal(c,
		    "the submission could not be stored (logged); nothing "
		    "was sent: try again");
	}
	return 0;
}

/* Step 7: pack, commit, wake, answer 202 (the key is claimed). */
static int
accept_submission(hsi_call *c, const submit *s, const hsi_idem *k)
{
	hsi_parts  parts = { 0 };
	commit_ctx x;
	int        rv;
	memset(&x, 0, sizeof(x));
	x.idem = k;
	if ((rv = make_ids(c, &x)) != 0) {
		rv = internal(c, "no random bytes for an id; try again");
	} else if ((rv = prepare_commit(c, s, &x, &parts)) != 0) {
		rv = internal(c, "out of memory; send fewer rows at once");
	} else {
		rv = store(c, &x);
	}
	hsi_parts_fini(&parts);
	if (rv != 0) {
		commit_fini(&x);
		return rv; /* answered */
	}
	hsi_sender_wake(hsi_call_server(c)->sender);
	hsi_log_info("submission queued", "{s:s, s:s, s:s, s:i, s:i}", "id",
	    x.id, "agency", s->agency, "format", x.sub.format, "rows",
	    (int) s->b.rows, "valid_rows", (int) s->b.n_obs);
	const char *h[] = { MHD_HTTP_HEADER_LOCATION, x.location, NULL };
	rv              = hsi_submit_send(c, MHD_HTTP_ACCEPTED, x.json, h);
	commit_fini(&x);
	return rv;
}

/*
 * The key is claimed before the body is read: a retry of an accepted
 * submission gets its 202 again at once, without reading 32 MiB again,
 * and even if the catalog changed since (the rows would now be judged
 * otherwise). Any answer but the 202 releases the claim: a refused
 * request changed nothing, and its retry runs again. A dry run stores
 * nothing and claims nothing.
 */
static int
post_observations(hsi_call *c)
{
	submit   s;
	hsi_idem k;
	int      claimed = 0;
	memset(&s, 0, sizeof(s));
	hsi_batch_init(&s.b);
	s.partial = hsi_call_int(c, "mode", 0) == 1;
	s.dry_run = hsi_call_int(c, "dry_run", 0) != 0;
	int rv    = which_agency(c, &s);
	if (rv == 0 && (rv = check_file_name(c)) == 0
	    && (rv = hsi_submit_format_of(c, &s.format)) == 0 && !s.dry_run
	    && (rv = hsi_idem_claim(c, &k)) == 0) {
		claimed = 1;
	}
	if (rv == 0 && (rv = catalog(c, &s)) == 0
	    && (rv = hsi_submit_read(c, s.cat, s.agency, s.format, &s.b)) == 0
	    && (rv = not_owner(c, &s)) == 0) {
		rv = s.dry_run ? dry_run(c, &s)
		    : (rv = unsendable(c, &s)) != 0
		    ? rv
		    : accept_submission(c, &s, &k);
	}
	if (claimed && rv != 0) {
		hsi_idem_release(c, &k);
	}
	hsi_batch_fini(&s.b);
	hsi_catalog_free(s.cat);
	return rv;
}

const hsi_route hsi_routes_submit[] = {
	{ .method           = "POST",
	    .pattern        = "/v1/observations",
	    .handler        = post_observations,
	    .access         = HSI_ACCESS_AGENCY,
	    .query          = submit_query,
	    .body_max_bytes = HSI_SUBMIT_MAX_BYTES },
	{ .method    = "GET",
	    .pattern = "/v1/submissions/{id}",
	    .handler = hsi_submission_get,
	    .access  = HSI_ACCESS_AGENCY,
	    .path    = hsi_submission_path },
	HSI_ROUTE_END,
};
