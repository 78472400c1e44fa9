/*
 * ops.c: the operations endpoints of hsi-api: GET /healthz (the process
 * answers: liveness; never touches PostgreSQL) and GET /readyz
 * (PostgreSQL answers too: readiness). Both ignore their query string
 * and are open to everyone, unlimited, as probes expect.
 */
#include <libpq-fe.h>

#include "call.h"
#include "error.h"
#include "reply.h"
#include "routes.h"

static int
get_healthz(hsi_call *c)
{
	static const char body[] = "{\"status\":\"ok\"}";
	return hsi_reply_json_text(
	    c, MHD_HTTP_OK, body, sizeof(body) - 1, NULL);
}

static int
select_one(PGconn *db, void *arg)
{
	(void) arg;
	PGresult *res = PQexec(db, "SELECT 1");
	int       ok  = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok ? 0 : HSI_EDB;
}

static int
get_readyz(hsi_call *c)
{
	static const char body[] = "{\"status\":\"ready\"}";
	int               rv     = hsi_call_run(c, select_one, NULL);
	if (rv != 0) {
		return rv; /* 503 queued */
	}
	return hsi_reply_json_text(
	    c, MHD_HTTP_OK, body, sizeof(body) - 1, NULL);
}

const hsi_route hsi_routes_ops[] = {
	{ .method    = "GET",
	    .pattern = "/healthz",
	    .handler = get_healthz,
	    .access  = HSI_ACCESS_OPEN,
	    .flags   = HSI_ROUTE_ANY_QUERY | HSI_ROUTE_NO_LIMIT },
	{ .method    = "GET",
	    .pattern = "/readyz",
	    .handler = get_readyz,
	    .access  = HSI_ACCESS_OPEN,
	    .flags   = HSI_ROUTE_ANY_QUERY | HSI_ROUTE_NO_LIMIT },
	HSI_ROUTE_END,
};
