/*
 * db.c: libpq wrappers and the migration runner (see db.h).
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "error.h"
#include "log.h"

/* Due dates, fiscal years and reports are in Bangkok time. */
static void
session_setup(PGconn *c)
{
	PQclear(PQexec(c,
	    "SET TIME ZONE 'Asia/Bangkok'; "
	    "SET client_min_messages = warning"));
}

int
hsi_db_open(const char *url, PGconn **out, char *err, size_t err_size)
{
	if (url == NULL || *url == '\0') {
		snprintf(err, err_size,
		    "no database given: set db_url in the config, "
		    "HSI_DB_URL, or --db-url (e.g. "
		    "postgresql:///hsi?host=/tmp/hsi-pg&port=5544)");
		return HSI_EINVAL;
	}
	PGconn *c = PQconnectdb(url);
	if (c == NULL) {
		snprintf(err, err_size, "out of memory connecting to %s", url);
		return HSI_ENOMEM;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[400];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		snprintf(err, err_size,
		    "cannot connect to PostgreSQL at %s: %s (is the server "
		    "running and the URL right?)",
		    url, msg);
		PQfinish(c);
		return HSI_EDB;
	}
	session_setup(c);
	*out = c;
	return 0;
}

int
hsi_db_ensure(PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_OK) {
		return 0;
	}
	PQreset(conn);
	if (PQstatus(conn) != CONNECTION_OK) {
		return HSI_EDB;
	}
	session_setup(conn);
	hsi_log_info("reconnected to PostgreSQL", NULL);
	return 0;
}

void
hsi_db_close(PGconn *conn)
{
	if (conn != NULL) {
		PQfinish(conn);
	}
}

const char *
hsi_db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

PGresult *
hsi_db_query(PGconn *conn, const char *what, const char *sql, int n,
    const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		return r;
	}
	const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
	char        m[400];
	snprintf(m, sizeof(m), "%s", msg);
	m[strcspn(m, "\n")] = '\0';
	hsi_log_error("database error", "{s:s, s:s, s:s}", "what", what,
	    "sqlstate", hsi_db_sqlstate(r), "error", m);
	PQclear(r);
	return NULL;
}

int
hsi_db_exec(PGconn *conn, const char *what, const char *sql, int n,
    const char *const *params)
{
	PGresult *r = hsi_db_query(conn, what, sql, n, params);
	if (r == NULL) {
		return HSI_EDB;
	}
	PQclear(r);
	return 0;
}

static int
exec_simple(
    PGconn *c, const char *sql, char *err, size_t err_size, const char *name)
{
	PGresult *r  = PQexec(c, sql);
	int       ok = PQresultStatus(r) == PGRES_COMMAND_OK
	    || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok) {
		snprintf(err, err_size, "migration %s failed: %s", name,
		    PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(r);
	return ok ? 0 : HSI_EDB;
}

static int
applied(PGconn *c, const char *name, int *yes)
{
	const char *p[1] = { name };
	PGresult   *r    = hsi_db_query(c, "migration check",
	         "SELECT 1 FROM schema_migrations WHERE name = $1", 1, p);
	if (r == NULL) {
		return HSI_EDB;
	}
	*yes = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

int
hsi_db_migrate(PGconn *c, char *err, size_t err_size)
{
	/* The lock makes concurrent start-ups (scorer and hsictl) wait for
	 * each other instead of applying the same migration twice. */
	if (exec_simple(c,
	        "SELECT pg_advisory_lock(7450001);"
	        "CREATE TABLE IF NOT EXISTS schema_migrations ("
	        " name text PRIMARY KEY,"
	        " applied_at timestamptz NOT NULL DEFAULT now())",
	        err, err_size, "bootstrap")
	    != 0) {
		return HSI_EDB;
	}
	int rv = 0;
	for (const struct hsi_blob *m = hsi_migrations; m->name != NULL; m++) {
		int yes = 0;
		if ((rv = applied(c, m->name, &yes)) != 0) {
			snprintf(
			    err, err_size, "cannot read schema_migrations");
			break;
		}
		if (yes) {
			continue;
		}
		if ((rv = exec_simple(c, "BEGIN", err, err_size, m->name))
		    || (rv
		        = exec_simple(c, m->data, err, err_size, m->name))) {
			PQclear(PQexec(c, "ROLLBACK"));
			break;
		}
		const char *p[1] = { m->name };
		if ((rv = hsi_db_exec(c, "record migration",
		         "INSERT INTO schema_migrations(name) VALUES ($1)", 1,
		         p))
		        != 0
		    || (rv
		        = exec_simple(c, "COMMIT", err, err_size, m->name))) {
			PQclear(PQexec(c, "ROLLBACK"));
			snprintf(err, err_size, "cannot record migration %s",
			    m->name);
			break;
		}
		hsi_log_info("migration applied", "{s:s}", "name", m->name);
	}
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(7450001)"));
	return rv;
}

int
hsi_db_active_methodology(PGconn *conn, int *version)
{
	PGresult *r = hsi_db_query(conn, "active methodology",
	    "SELECT version FROM methodology_activation "
	    "ORDER BY activated_at DESC, id DESC LIMIT 1",
	    0, NULL);
	if (r == NULL) {
		return HSI_EDB;
	}
	int rv = PQntuples(r) == 1 ? 0 : HSI_ENOENT;
	if (rv == 0) {
		*version = atoi(PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return rv;
}
