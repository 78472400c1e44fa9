/*
 * db.h: PostgreSQL helpers over libpq. Every query is parameterised; these
 * wrappers only add error reporting (with the SQLSTATE and the server's
 * message) and the migration runner.
 */
#ifndef HSI_DB_H
#define HSI_DB_H

#include <libpq-fe.h>
#include <stddef.h>

/*
 * Connects to url (a libpq connection string or URI). On failure returns
 * HSI_EDB with a message in err that says which server was tried and what
 * to do (is it running? is HSI_DB_URL right?).
 */
int  hsi_db_open(const char *url, PGconn **out, char *err, size_t err_size);
void hsi_db_close(PGconn *conn);

/*
 * Runs sql with n text parameters (NULL entries are SQL NULL). Returns the
 * result on success (PGRES_COMMAND_OK or PGRES_TUPLES_OK; the caller owns
 * it and PQclear()s it) or NULL after logging the error with what.
 */
PGresult *hsi_db_query(PGconn *conn, const char *what, const char *sql, int n,
    const char *const *params);

/* hsi_db_query for statements without rows: 0 or HSI_EDB. */
int hsi_db_exec(PGconn *conn, const char *what, const char *sql, int n,
    const char *const *params);

/*
 * Applies every embedded migration (hsi_migrations, in name order) not yet
 * recorded in schema_migrations, each in its own transaction, under an
 * advisory lock so two processes starting at once do not race. Idempotent.
 * Returns 0 or HSI_EDB (err says which migration failed and why).
 */
int hsi_db_migrate(PGconn *conn, char *err, size_t err_size);

/*
 * Checks that conn is usable and, if the server went away (restart,
 * network), tries once to reconnect and redo the session settings.
 * Returns 0 when usable, HSI_EDB when not (the caller retries later).
 */
int hsi_db_ensure(PGconn *conn);

/*
 * The version of the active methodology (the one activated last), the one
 * every current score cites. Returns 0, HSI_ENOENT if none is active yet,
 * or HSI_EDB.
 */
int hsi_db_active_methodology(PGconn *conn, int *version);

/* Returns the SQLSTATE of the last error result or "" . */
const char *hsi_db_sqlstate(const PGresult *res);

#endif
