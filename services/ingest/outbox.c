/*
 * outbox.c: the node's SQLite outbox (see outbox.h).
 *
 * WAL with synchronous=FULL: a commit is on disk before the call returns,
 * which is the promise the node makes when it moves a file out of its
 * inbox. Parts are stored unsigned (packed ObservationBatch) and sealed at
 * send time, so a key rotation does not strand parts signed with a key the
 * scorer has since retired.
 */
#include "outbox.h"

#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

struct hsi_outbox {
	sqlite3 *db;
	uint64_t epoch;
	uint64_t next_seq;
	uint64_t acked_seq;
};

static const char *const schema
    = "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v);"
      "CREATE TABLE IF NOT EXISTS file ("
      " id TEXT PRIMARY KEY, name TEXT NOT NULL, sha TEXT NOT NULL,"
      " rows INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
      " last_seq INTEGER NOT NULL, added_ms INTEGER NOT NULL,"
      " state TEXT NOT NULL DEFAULT 'sending', verdict BLOB,"
      " confirmed INTEGER NOT NULL DEFAULT 0);"
      "CREATE INDEX IF NOT EXISTS file_sha ON file(sha, name, state);"
      "CREATE TABLE IF NOT EXISTS part ("
      " seq INTEGER PRIMARY KEY, file_id TEXT NOT NULL,"
      " added_ms INTEGER NOT NULL, payload BLOB NOT NULL);";

static long long
wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
exec(hsi_outbox *ob, const char *sql)
{
	return sqlite3_exec(ob->db, sql, NULL, NULL, NULL) == SQLITE_OK
	    ? 0
	    : HSI_EIO;
}

static int
meta_get_text(hsi_outbox *ob, const char *k, char *out, size_t size)
{
	sqlite3_stmt *st;
	int           rv = HSI_ENOENT;
	if (sqlite3_prepare_v2(
	        ob->db, "SELECT v FROM meta WHERE k = ?", -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", v ? (const char *) v : "");
		rv = 0;
	}
	sqlite3_finalize(st);
	return rv;
}

static int
meta_set(hsi_outbox *ob, const char *k, const char *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
	        "INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO "
	        "UPDATE SET v = excluded.v",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	int rv = sqlite3_step(st) == SQLITE_DONE ? 0 : HSI_EIO;
	sqlite3_finalize(st);
	return rv;
}

static int
meta_set_u64(hsi_outbox *ob, const char *k, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
	return meta_set(ob, k, buf);
}

/* Reads or creates the identity: agency, node and the epoch. */
static int
identity(hsi_outbox *ob, const char *agency, const char *node_id, char *err,
    size_t err_size)
{
	char v[128];
	if (meta_get_text(ob, "agency", v, sizeof(v)) == HSI_ENOENT) {
		uint64_t e;
		if (RAND_bytes((unsigned char *) &e, sizeof(e)) != 1) {
			return HSI_EIO;
		}
		/* PostgreSQL stores it as bigint. */
		e &= 0x7fffffffffffffffULL;
		if (exec(ob, "BEGIN IMMEDIATE")
		    || meta_set(ob, "agency", agency)
		    || meta_set(ob, "node_id", node_id)
		    || meta_set_u64(ob, "epoch", e)
		    || meta_set_u64(ob, "next_seq", 1)
		    || meta_set_u64(ob, "acked_seq", 0)
		    || exec(ob, "COMMIT")) {
			exec(ob, "ROLLBACK");
			snprintf(
			    err, err_size, "cannot initialise the outbox");
			return HSI_EIO;
		}
		snprintf(v, sizeof(v), "%s", agency);
	}
	if (strcmp(v, agency) != 0) {
		snprintf(err, err_size,
		    "this outbox belongs to agency %s, not %s: use another "
		    "state_dir",
		    v, agency);
		return HSI_EINVAL;
	}
	if (meta_get_text(ob, "node_id", v, sizeof(v)) != 0
	    || strcmp(v, node_id) != 0) {
		snprintf(err, err_size,
		    "this outbox belongs to node %s, not %s: use another "
		    "state_dir or the same node_id",
		    v, node_id);
		return HSI_EINVAL;
	}
	meta_get_text(ob, "epoch", v, sizeof(v));
	ob->epoch = strtoull(v, NULL, 10);
	meta_get_text(ob, "next_seq", v, sizeof(v));
	ob->next_seq = strtoull(v, NULL, 10);
	meta_get_text(ob, "acked_seq", v, sizeof(v));
	ob->acked_seq = strtoull(v, NULL, 10);
	return 0;
}

int
hsi_outbox_open(const char *path, const char *agency, const char *node_id,
    hsi_outbox **out, char *err, size_t err_size)
{
	hsi_outbox *ob = calloc(1, sizeof(*ob));
	if (ob == NULL) {
		return HSI_ENOMEM;
	}
	int rv = HSI_EIO;
	if (sqlite3_open_v2(path, &ob->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
	    != SQLITE_OK) {
		snprintf(err, err_size, "%s: cannot open the outbox: %s", path,
		    ob->db ? sqlite3_errmsg(ob->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(ob->db, 10000);
	if (exec(ob, "PRAGMA journal_mode=WAL")
	    || exec(ob, "PRAGMA synchronous=FULL") || exec(ob, schema)) {
		snprintf(err, err_size, "%s: cannot set up the outbox: %s",
		    path, sqlite3_errmsg(ob->db));
		goto fail;
	}
	if ((rv = identity(ob, agency, node_id, err, err_size)) != 0) {
		goto fail;
	}
	*out = ob;
	return 0;
fail:
	sqlite3_close(ob->db);
	free(ob);
	return rv;
}

void
hsi_outbox_close(hsi_outbox *ob)
{
	if (ob != NULL) {
		sqlite3_close(ob->db);
		free(ob);
	}
}

uint64_t
hsi_outbox_epoch(const hsi_outbox *ob)
{
	return ob->epoch;
}

int
hsi_outbox_add_file(hsi_outbox *ob, const char *file_id, const char *name,
    const char *sha, long rows, const unsigned char *const *payloads,
    const size_t *lens, size_t n, uint64_t *first_seq)
{
	sqlite3_stmt *fs = NULL, *ps = NULL;
	long long     now = wall_ms();
	int           rv  = HSI_EIO;
	/* next_seq is re-read inside the write transaction: `submit` and
	 * the running node may share this outbox. */
	char v[32];
	if (exec(ob, "BEGIN IMMEDIATE")
	    || meta_get_text(ob, "next_seq", v, sizeof(v)) != 0) {
		goto out;
	}
	uint64_t first = strtoull(v, NULL, 10);
	if (sqlite3_prepare_v2(ob->db,
	        "INSERT INTO file(id, name, sha, rows, first_seq, last_seq, "
	        "added_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
	        -1, &fs, NULL)
	        != SQLITE_OK
	    || sqlite3_prepare_v2(ob->db,
	           "INSERT INTO part(seq, file_id, added_ms, payload) VALUES "
	           "(?, ?, ?, ?)",
	           -1, &ps, NULL)
	        != SQLITE_OK) {
		goto out;
	}
	sqlite3_bind_text(fs, 1, file_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(fs, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(fs, 3, sha, -1, SQLITE_STATIC);
	sqlite3_bind_int64(fs, 4, rows);
	sqlite3_bind_int64(fs, 5, (sqlite3_int64) first);
	sqlite3_bind_int64(fs, 6, (sqlite3_int64) (first + n - 1));
	sqlite3_bind_int64(fs, 7, now);
	if (sqlite3_step(fs) != SQLITE_DONE) {
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		sqlite3_reset(ps);
		sqlite3_bind_int64(ps, 1, (sqlite3_int64) (first + k));
		sqlite3_bind_text(ps, 2, file_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ps, 3, now);
		sqlite3_bind_blob(
		    ps, 4, payloads[k], (int) lens[k], SQLITE_STATIC);
		if (sqlite3_step(ps) != SQLITE_DONE) {
			goto out;
		}
	}
	if (meta_set_u64(ob, "next_seq", first + n) || exec(ob, "COMMIT")) {
		goto out;
	}
	ob->next_seq = first + n;
	*first_seq   = first;
	rv           = 0;
out:
	if (rv != 0) {
		exec(ob, "ROLLBACK");
	}
	sqlite3_finalize(fs);
	sqlite3_finalize(ps);
	return rv;
}

int
hsi_outbox_find_sending(hsi_outbox *ob, const char *sha, const char *name,
    char *file_id, size_t size, char *state, size_t state_size)
{
	sqlite3_stmt *st;
	/* The newest such file: an identical file sent again later is a new
	 * file of its own. */
	if (sqlite3_prepare_v2(ob->db,
	        "SELECT id, state FROM file WHERE sha = ? AND name = ? "
	        "ORDER BY rowid DESC LIMIT 1",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return -HSI_EIO;
	}
	sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int found = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(file_id, size, "%s", sqlite3_column_text(st, 0));
		snprintf(state, state_size, "%s", sqlite3_column_text(st, 1));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

int
hsi_outbox_pending(hsi_outbox *ob, size_t                              limit,
    void (*fn)(void *, uint64_t, const unsigned char *, size_t), void *arg)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
	        "SELECT seq, payload FROM part WHERE seq > ? ORDER BY seq "
	        "LIMIT ?",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64) ob->acked_seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64) limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		fn(arg, (uint64_t) sqlite3_column_int64(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t) sqlite3_column_bytes(st, 1));
	}
	sqlite3_finalize(st);
	return 0;
}

int
hsi_outbox_ack(hsi_outbox *ob, uint64_t seq)
{
	char v[32];
	/* Another process (submit) may have added parts: re-read. */
	if (meta_get_text(ob, "next_seq", v, sizeof(v)) == 0) {
		ob->next_seq = strtoull(v, NULL, 10);
	}
	if (seq <= ob->acked_seq || seq >= ob->next_seq) {
		return 0;
	}
	sqlite3_stmt *st;
	int           rv = -HSI_EIO;
	if (exec(ob, "BEGIN IMMEDIATE") != 0) {
		return rv;
	}
	if (meta_set_u64(ob, "acked_seq", seq) == 0
	    && sqlite3_prepare_v2(
	           ob->db, "DELETE FROM part WHERE seq <= ?", -1, &st, NULL)
	        == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64) seq);
		if (sqlite3_step(st) == SQLITE_DONE
		    && exec(ob, "COMMIT") == 0) {
			rv = 1;
		}
		sqlite3_finalize(st);
	}
	if (rv != 1) {
		exec(ob, "ROLLBACK");
		return rv;
	}
	ob->acked_seq = seq;
	return 1;
}

int
hsi_outbox_verdict(hsi_outbox *ob, const char *file_id, const char *state,
    const unsigned char *verdict, size_t len, char *name, size_t name_size)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
	        "UPDATE file SET state = ?, verdict = ? WHERE id = ? AND "
	        "state = 'sending' RETURNING name",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return -HSI_EIO;
	}
	sqlite3_bind_text(st, 1,
	    strcmp(state, "rejected") == 0 ? "rejected" : "delivered", -1,
	    SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, verdict, (int) len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, file_id, -1, SQLITE_STATIC);
	int found = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(name, name_size, "%s", sqlite3_column_text(st, 0));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

int
hsi_outbox_answered(hsi_outbox *ob, const char *name, char *state,
    size_t state_size, unsigned char **verdict, size_t *len)
{
	sqlite3_stmt *st;
	*verdict = NULL;
	*len     = 0;
	if (sqlite3_prepare_v2(ob->db,
	        "SELECT state, verdict FROM file WHERE name = ? "
	        "ORDER BY rowid DESC LIMIT 1",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return -HSI_EIO;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rv = 0;
	if (sqlite3_step(st) == SQLITE_ROW
	    && strcmp((const char *) sqlite3_column_text(st, 0), "sending")
	        != 0) {
		const void *b = sqlite3_column_blob(st, 1);
		int         n = sqlite3_column_bytes(st, 1);
		snprintf(state, state_size, "%s", sqlite3_column_text(st, 0));
		*verdict = malloc(n > 0 ? (size_t) n : 1);
		if (*verdict == NULL) {
			rv = -HSI_ENOMEM;
		} else {
			if (n > 0) {
				memcpy(*verdict, b, (size_t) n);
			}
			*len = (size_t) n;
			rv   = 1;
		}
	}
	sqlite3_finalize(st);
	return rv;
}

int
hsi_outbox_unconfirmed(hsi_outbox *ob, char ids[][80], size_t max, size_t *n)
{
	sqlite3_stmt *st;
	*n = 0;
	if (sqlite3_prepare_v2(ob->db,
	        "SELECT id FROM file WHERE state <> 'sending' AND confirmed = "
	        "0 "
	        "LIMIT ?",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64) max);
	while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(ids[(*n)++], 80, "%s", sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return 0;
}

int
hsi_outbox_confirmed(hsi_outbox *ob, const char *file_id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
	        "UPDATE file SET confirmed = 1 WHERE id = ?", -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	sqlite3_bind_text(st, 1, file_id, -1, SQLITE_STATIC);
	int rv = sqlite3_step(st) == SQLITE_DONE ? 0 : HSI_EIO;
	sqlite3_finalize(st);
	return rv;
}

int
hsi_outbox_save_catalog(
    hsi_outbox *ob, uint32_t version, const unsigned char *snap, size_t len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
	        "INSERT INTO meta(k, v) VALUES ('catalog', ?) ON CONFLICT(k) "
	        "DO UPDATE SET v = excluded.v",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	sqlite3_bind_blob(st, 1, snap, (int) len, SQLITE_STATIC);
	int rv = sqlite3_step(st) == SQLITE_DONE ? 0 : HSI_EIO;
	sqlite3_finalize(st);
	return rv == 0 ? meta_set_u64(ob, "catalog_version", version) : rv;
}

int
hsi_outbox_load_catalog(hsi_outbox *ob, unsigned char **snap, size_t *len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
	        "SELECT v FROM meta WHERE k = 'catalog'", -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	int rv = HSI_ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		size_t n = (size_t) sqlite3_column_bytes(st, 0);
		*snap    = malloc(n + 1);
		if (*snap == NULL) {
			rv = HSI_ENOMEM;
		} else {
			memcpy(*snap, sqlite3_column_blob(st, 0), n);
			*len = n;
			rv   = 0;
		}
	}
	sqlite3_finalize(st);
	return rv;
}

int
hsi_outbox_sending(hsi_outbox *ob,
    void (*fn)(void *, const char *, long, long, long), void *arg)
{
	sqlite3_stmt *st;
	char          v[32] = "0";
	meta_get_text(ob, "acked_seq", v, sizeof(v));
	long long acked = atoll(v);
	if (sqlite3_prepare_v2(ob->db,
	        "SELECT name, rows, first_seq, last_seq FROM file WHERE state "
	        "= 'sending' ORDER BY first_seq",
	        -1, &st, NULL)
	    != SQLITE_OK) {
		return HSI_EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long first = sqlite3_column_int64(st, 2);
		long long last  = sqlite3_column_int64(st, 3);
		long long done  = acked < first ? 0
		     : acked > last             ? last - first + 1
		                                : acked - first + 1;
		fn(arg, (const char *) sqlite3_column_text(st, 0),
		    (long) sqlite3_column_int64(st, 1), (long) done,
		    (long) (last - first + 1));
	}
	sqlite3_finalize(st);
	return 0;
}

void
hsi_outbox_heard(hsi_outbox *ob, long long now_ms)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%lld", now_ms);
	meta_set(ob, "last_heard_ms", buf);
}

static long long
scalar(hsi_outbox *ob, const char *sql)
{
	sqlite3_stmt *st;
	long long     v = 0;
	if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			v = sqlite3_column_int64(st, 0);
		}
		sqlite3_finalize(st);
	}
	return v;
}

int
hsi_outbox_status_get(hsi_outbox *ob, hsi_outbox_status *s)
{
	char v[32];
	memset(s, 0, sizeof(*s));
	s->epoch = ob->epoch;
	if (meta_get_text(ob, "next_seq", v, sizeof(v)) == 0) {
		s->next_seq = strtoull(v, NULL, 10);
	}
	if (meta_get_text(ob, "acked_seq", v, sizeof(v)) == 0) {
		s->acked_seq = strtoull(v, NULL, 10);
	}
	if (meta_get_text(ob, "last_heard_ms", v, sizeof(v)) == 0) {
		s->last_heard_ms = atoll(v);
	}
	if (meta_get_text(ob, "catalog_version", v, sizeof(v)) == 0) {
		s->catalog_version = (uint32_t) atol(v);
	}
	s->pending_files = (long) scalar(
	    ob, "SELECT count(*) FROM file WHERE state = 'sending'");
	s->pending_parts     = (long) scalar(ob, "SELECT count(*) FROM part");
	s->oldest_unacked_ms = scalar(ob, "SELECT min(added_ms) FROM part");
	return 0;
}
