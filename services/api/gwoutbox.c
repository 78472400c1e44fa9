/*
 * gwoutbox.c: the REST gateway's outbox in PostgreSQL (see gwoutbox.h).
 *
 * The ack is one statement (advance the node, delete what it covers), so
 * a crash can leave either both done or neither, and a seq the gateway
 * never issued (a forged or confused ack) cannot move acked_seq: the
 * scorer would otherwise be told nothing and the parts would be lost.
 */
#include "gwoutbox.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "log.h"

#define UTC_TEXT(col)                                                         \
	"to_char(" col " AT TIME ZONE 'UTC', "                                \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* clang-format off */
/* The contract's Submission, built by PostgreSQL (json columns keep
 * their members' order). */
#define SUBMISSION_SQL                                                        \
	"SELECT agency, json_build_object('id', id, 'agency', agency, "       \
	"'node_id', node_id, 'file_name', file_name, 'format', format, "      \
	"'mode', mode, 'state', state, "                                      \
	"'received_at', " UTC_TEXT("received_at") ", "                        \
	"'rows', rows, 'valid_rows', valid_rows, "                            \
	"'invalid_rows', invalid_rows, 'issues_truncated', issues_truncated, "\
	"'issues', issues, 'verdict', verdict)::text "                        \
	"FROM api_submission WHERE id = $1"

/* When the scorer applied a file: its ingest_file row's applied_at. */
#define APPLIED_AT_SQL                                                        \
	"SELECT " UTC_TEXT("coalesce(max(applied_at), now())") " "            \
	"FROM ingest_file WHERE agency = $1 AND node_id = $2 AND "            \
	"epoch = $3::bigint AND file_id = $4"
/* clang-format on */

/* The agency's node row, made with a new epoch when missing. */
static int
ensure_node(PGconn *db, const char *agency)
{
	uint64_t e;
	char     es[24];
	if (RAND_bytes((unsigned char *) &e, sizeof(e)) != 1) {
		return HSI_EIO;
	}
	/* node_progress.epoch is a bigint: 63 bits. */
	snprintf(es, sizeof(es), "%" PRIu64,
	    (uint64_t) (e & 0x7fffffffffffffffULL));
	const char *p[2] = { agency, es };
	return hsi_db_exec(db, "gateway node",
	    "INSERT INTO api_node (agency, node_id, epoch) "
	    "VALUES ($1, '" HSI_GW_NODE_PREFIX "' || $1, $2::bigint) "
	    "ON CONFLICT (agency) DO NOTHING",
	    2, p);
}

/* Takes n seqs of the agency's node: node id, epoch and the first. */
static int
take_seqs(PGconn *db, const char *agency, size_t n, char *node_id, char *epoch,
    uint64_t *first)
{
	char ns[24];
	snprintf(ns, sizeof(ns), "%zu", n);
	const char *p[2] = { agency, ns };
	PGresult   *r    = hsi_db_query(db, "take seqs",
	         "UPDATE api_node SET next_seq = next_seq + $2::bigint "
	              "WHERE agency = $1 RETURNING node_id, epoch, "
	              "next_seq - $2::bigint",
	         2, p);
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return HSI_EDB;
	}
	snprintf(node_id, HSI_GW_NODE_ID_MAX, "%s", PQgetvalue(r, 0, 0));
	snprintf(epoch, 24, "%s", PQgetvalue(r, 0, 1));
	*first = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	return 0;
}

static int
insert_submission(PGconn *db, const hsi_gw_submission *s, const char *node_id,
    const char *epoch, uint64_t first)
{
	char tok[24], rows[3][24], seqs[2][24];
	snprintf(tok, sizeof(tok), "%lld", s->token_id);
	snprintf(rows[0], 24, "%ld", s->rows);
	snprintf(rows[1], 24, "%ld", s->valid_rows);
	snprintf(rows[2], 24, "%ld", s->invalid_rows);
	snprintf(seqs[0], 24, "%" PRIu64, first);
	snprintf(seqs[1], 24, "%" PRIu64, first + s->parts->n - 1);
	const char *p[16] = { s->id, s->agency, node_id, epoch, s->file_id,
		s->file_name, s->format, s->mode, s->token_id > 0 ? tok : NULL,
		rows[0], rows[1], rows[2],
		s->issues_truncated ? "true" : "false", s->issues, seqs[0],
		seqs[1] };
	return hsi_db_exec(db, "store submission",
	    "INSERT INTO api_submission (id, agency, node_id, epoch, file_id,"
	    " file_name, format, mode, token_id, rows, valid_rows,"
	    " invalid_rows, issues_truncated, issues, first_seq, last_seq) "
	    "VALUES ($1, $2, $3, $4::bigint, $5, $6, $7, $8, $9::bigint,"
	    " $10::int, $11::int, $12::int, $13::boolean, $14::json,"
	    " $15::bigint, $16::bigint)",
	    16, p);
}

static int
insert_parts(PGconn *db, const hsi_gw_submission *s, uint64_t first)
{
	for (size_t k = 0; k < s->parts->n; k++) {
		char seq[24];
		snprintf(seq, sizeof(seq), "%" PRIu64, first + k);
		const char *p[4]    = { s->agency, seq, s->id,
			   (const char *) s->parts->data[k] };
		const int   lens[4] = { 0, 0, 0, (int) s->parts->len[k] };
		const int   fmts[4] = { 0, 0, 0, 1 };
		PGresult   *r       = PQexecParams(db,
		            "INSERT INTO api_outbox_part (agency, seq, submission_id,"
		                    " payload) VALUES ($1, $2::bigint, $3, $4)",
		            4, NULL, p, lens, fmts, 0);
		int         ok      = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok) {
			hsi_log_error("database error", "{s:s, s:s}", "what",
			    "store part", "error",
			    r ? PQresultErrorMessage(r) : PQerrorMessage(db));
		}
		PQclear(r);
		if (!ok) {
			return HSI_EDB;
		}
	}
	return 0;
}

int
hsi_gwoutbox_add(PGconn *db, const hsi_gw_submission *s)
{
	char     node_id[HSI_GW_NODE_ID_MAX], epoch[24];
	uint64_t first;
	int      rv = ensure_node(db, s->agency);
	if (rv == 0) {
		rv = take_seqs(
		    db, s->agency, s->parts->n, node_id, epoch, &first);
	}
	if (rv == 0) {
		rv = insert_submission(db, s, node_id, epoch, first);
	}
	return rv == 0 ? insert_parts(db, s, first) : rv;
}

int
hsi_gwoutbox_get(
    PGconn *db, const char *id, char **json, char *agency, size_t agency_size)
{
	const char *p[1] = { id };
	PGresult   *r = hsi_db_query(db, "submission", SUBMISSION_SQL, 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	int rv = HSI_ENOENT;
	if (PQntuples(r) == 1) {
		/* Compact, as every other answer of the API. */
		json_t *j = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
		snprintf(agency, agency_size, "%s", PQgetvalue(r, 0, 0));
		*json = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)
		          : NULL;
		json_decref(j);
		rv = *json ? 0 : HSI_ENOMEM;
	}
	PQclear(r);
	return rv;
}

int
hsi_gwoutbox_nodes(PGconn *db, hsi_gw_node **out, size_t *n)
{
	PGresult *r = hsi_db_query(db, "gateway nodes",
	    "SELECT agency, node_id, epoch, next_seq, acked_seq "
	    "FROM api_node ORDER BY agency",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	size_t       cnt = (size_t) PQntuples(r);
	hsi_gw_node *v   = calloc(cnt + 1, sizeof(*v));
	if (v == NULL) {
		PQclear(r);
		return HSI_ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		int row = (int) i;
		snprintf(v[i].agency, sizeof(v[i].agency), "%s",
		    PQgetvalue(r, row, 0));
		snprintf(v[i].node_id, sizeof(v[i].node_id), "%s",
		    PQgetvalue(r, row, 1));
		v[i].epoch     = strtoull(PQgetvalue(r, row, 2), NULL, 10);
		v[i].next_seq  = strtoull(PQgetvalue(r, row, 3), NULL, 10);
		v[i].acked_seq = strtoull(PQgetvalue(r, row, 4), NULL, 10);
	}
	PQclear(r);
	*out = v;
	*n   = cnt;
	return 0;
}

int
hsi_gwoutbox_pending(PGconn *db, const char *agency, uint64_t after,
    size_t limit, void (*fn)(void *, uint64_t, const unsigned char *, size_t),
    void  *arg)
{
	char a[24], l[24];
	snprintf(a, sizeof(a), "%" PRIu64, after);
	snprintf(l, sizeof(l), "%zu", limit);
	const char *p[3] = { agency, a, l };
	/* Binary results: the payload as bytes, not escaped text. */
	PGresult *r = PQexecParams(db,
	    "SELECT seq, payload FROM api_outbox_part WHERE agency = $1 AND "
	    "seq > $2::bigint ORDER BY seq LIMIT $3::int",
	    3, NULL, p, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		hsi_log_error("database error", "{s:s, s:s}", "what",
		    "pending parts", "error",
		    r ? PQresultErrorMessage(r) : PQerrorMessage(db));
		PQclear(r);
		return HSI_EDB;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const unsigned char *s
		    = (const unsigned char *) PQgetvalue(r, i, 0);
		uint64_t seq = 0;
		for (int k = 0; k < 8 && PQgetlength(r, i, 0) == 8; k++) {
			seq = seq << 8 | s[k]; /* int8 in network order */
		}
		fn(arg, seq, (const unsigned char *) PQgetvalue(r, i, 1),
		    (size_t) PQgetlength(r, i, 1));
	}
	PQclear(r);
	return 0;
}

int
hsi_gwoutbox_ack(PGconn *db, const hsi_gw_node *node, uint64_t seq)
{
	char s[24], e[24];
	snprintf(s, sizeof(s), "%" PRIu64, seq);
	snprintf(e, sizeof(e), "%" PRIu64, node->epoch);
	const char *p[3] = { node->agency, s, e };
	PGresult   *r    = hsi_db_query(db, "record ack",
	         "WITH up AS (UPDATE api_node SET acked_seq = $2::bigint "
	              "WHERE agency = $1 AND epoch = $3::bigint AND acked_seq < "
	              "$2::bigint AND next_seq > $2::bigint RETURNING agency), "
	              "gone AS (DELETE FROM api_outbox_part p USING up "
	              "WHERE p.agency = up.agency AND p.seq <= $2::bigint) "
	              "SELECT count(*) FROM up",
	         3, p);
	if (r == NULL) {
		return -HSI_EDB;
	}
	int advanced = atoi(PQgetvalue(r, 0, 0)) > 0;
	PQclear(r);
	return advanced;
}

/* When the scorer applied node's file (its ingest_file row), as UTC
 * text; now when that row cannot be read. */
static void
applied_at(PGconn *db, const hsi_gw_node *node, const char *file_id, char *out,
    size_t size)
{
	char e[24];
	snprintf(e, sizeof(e), "%" PRIu64, node->epoch);
	const char *p[4] = { node->agency, node->node_id, e, file_id };
	PGresult   *r = hsi_db_query(db, "applied_at", APPLIED_AT_SQL, 4, p);
	snprintf(out, size, "%s",
	    r != NULL && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
}

/* The verdict as the contract's Verdict, members in its order. NULL when
 * out of memory. */
static char *
verdict_json(const Hsi__FileVerdict *v, const char *state, const char *at)
{
	json_t *rej = json_array();
	for (size_t i = 0; rej != NULL && i < v->n_rejections; i++) {
		const Hsi__RowRejection *r = v->rejections[i];
		/* json_pack refuses text that is not UTF-8: such a row is
		 * left out of the list, and still counted in rejected. */
		json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "row",
		    (json_int_t) r->row, "code", r->code, "field", r->field,
		    "message", r->message);
		if (o != NULL) {
			json_array_append_new(rej, o);
		}
	}
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:s}", "state",
	    state, "imported", (json_int_t) v->imported, "updated",
	    (json_int_t) v->updated, "ignored", (json_int_t) v->ignored,
	    "rejected", (json_int_t) v->rejected, "rejections", rej,
	    "applied_at", at);
	char   *text
	    = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return text;
}

int
hsi_gwoutbox_verdict(
    PGconn *db, const hsi_gw_node *node, const Hsi__FileVerdict *v)
{
	const char *state
	    = strcmp(v->state, "rejected") == 0 ? "rejected" : "applied";
	char at[48];
	applied_at(db, node, v->file_id, at, sizeof(at));
	char *j = at[0] ? verdict_json(v, state, at) : NULL;
	if (j == NULL) {
		return at[0] ? -HSI_ENOMEM : -HSI_EDB;
	}
	const char *p[4] = { node->agency, v->file_id, state, j };
	PGresult   *r    = hsi_db_query(db, "record verdict",
	         "UPDATE api_submission SET state = $3, verdict = $4::json "
	              "WHERE agency = $1 AND file_id = $2 AND state = 'queued' "
	              "RETURNING id",
	         4, p);
	free(j);
	if (r == NULL) {
		return -HSI_EDB;
	}
	int n = PQntuples(r);
	if (n == 1) {
		hsi_log_info("verdict recorded",
		    "{s:s, s:s, s:s, s:i, s:i, s:i, s:i}", "submission",
		    PQgetvalue(r, 0, 0), "agency", node->agency, "state",
		    state, "imported", (int) v->imported, "updated",
		    (int) v->updated, "ignored", (int) v->ignored, "rejected",
		    (int) v->rejected);
	}
	PQclear(r);
	return n == 1;
}
