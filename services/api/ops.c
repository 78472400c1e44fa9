/*
 * ops.c: the operations endpoints of hsi-api.
 *
 * GET /healthz is liveness: the process answers; it touches nothing else.
 * GET /readyz is readiness: 200 only when the gateway can do its work --
 * PostgreSQL answers, and the nng links to the scorer are connected: the
 * score events (without them cached results would go stale unseen), the
 * ingest socket submissions are sent on, and the events socket their
 * acks come back on. Otherwise 503 with every check, so a load balancer
 * stops sending traffic and an operator sees which link is down. The
 * alerter's link is reported but does not gate readiness: it feeds only
 * the alert events of /v1/events, and reads and submissions work without
 * it. Both ignore their query string and are open to everyone,
 * unlimited, as probes expect.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "error.h"
#include "events.h"
#include "reply.h"
#include "routes.h"
#include "sender.h"
#include "server.h"

static int
get_healthz(hsi_call *c)
{
	static const char body[] = "{\"status\":\"ok\"}";
	return hsi_reply_json_text(
	    c, MHD_HTTP_OK, body, sizeof(body) - 1, NULL);
}

/* Whether PostgreSQL answers now, on a pooled connection. */
static int
postgres_ok(const hsi_server *srv)
{
	int     slot;
	PGconn *db = hsi_pool_acquire(srv->pool, &slot);
	if (db == NULL) {
		return 0;
	}
	PGresult *res = PQexec(db, "SELECT 1");
	int       ok  = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	if (!ok && hsi_pool_recover(db)) {
		res = PQexec(db, "SELECT 1");
		ok  = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
	}
	hsi_pool_release(srv->pool, slot);
	return ok;
}

static const char *
state(int up)
{
	return up ? "ok" : "down";
}

static int
get_readyz(hsi_call *c)
{
	const hsi_server *srv = hsi_call_server(c);
	int               events, alerts, ingest, acks;
	hsi_events_links(srv->events, &events, &alerts);
	hsi_sender_links(srv->sender, &ingest, &acks);
	int pg = postgres_ok(srv);
	/* Each one a gate, in the order an operator should look. */
	const struct {
		const char *name;
		int         up;
		const char *what;
	} gate[] = {
		{ "postgres", pg, "PostgreSQL does not answer" },
		{ "scorer_events", events > 0,
		    "the scorer's events socket is not connected (score "
		    "events, for fresh results)" },
		{ "scorer_ingest", ingest > 0,
		    "the scorer's ingest socket is not connected "
		    "(submissions)" },
		{ "scorer_acks", acks > 0,
		    "the scorer's events socket is not connected for "
		    "acknowledgements (submissions)" },
	};
	json_t *checks = json_object();
	char    detail[1024];
	size_t  used = 0;
	detail[0]    = '\0';
	for (size_t i = 0; i < sizeof(gate) / sizeof(gate[0]); i++) {
		json_object_set_new(
		    checks, gate[i].name, json_string(state(gate[i].up)));
		if (!gate[i].up && used < sizeof(detail)) {
			used += (size_t) snprintf(detail + used,
			    sizeof(detail) - used, "%s%s", used ? "; " : "",
			    gate[i].what);
		}
	}
	json_object_set_new(checks, "alerter_events",
	    json_string(alerts < 0 ? "off" : state(alerts > 0)));
	int rv;
	if (used == 0) {
		json_t *j = json_pack(
		    "{s:s, s:O}", "status", "ready", "checks", checks);
		char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		rv         = body ? hsi_reply_json_text(
		                 c, MHD_HTTP_OK, body, strlen(body), NULL)
		                  : hsi_reply_queue(c, MHD_HTTP_OK, NULL);
		free(body);
		json_decref(j);
	} else {
		static const char *const h[]
		    = { MHD_HTTP_HEADER_RETRY_AFTER, "5", NULL };
		char full[1200];
		snprintf(full, sizeof(full),
		    "not ready: %s. The gateway keeps retrying on its own; "
		    "check that the process named is running and reachable "
		    "from this host (docs/operations.md)",
		    detail);
		hsi_problem p = { .status = MHD_HTTP_SERVICE_UNAVAILABLE,
			.slug             = "unavailable",
			.title            = "Service unavailable",
			.detail           = full,
			.checks           = checks };
		rv            = hsi_reply_problem_ex(c, &p, h);
	}
	json_decref(checks);
	return rv;
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
