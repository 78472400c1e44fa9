/*
 * main.c: hsi-api, the REST gateway and dashboard server. Configuration
 * and signals; the work is in the hsi_api library.
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when the server cannot start
 * (address in use), 2 for configuration errors.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "api.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "service.h"

typedef struct {
	char  *db_url;
	char  *listen;
	char  *events_url;
	char  *scorer_url;
	char  *alerts_url;
	char  *static_dir;
	char  *tls_cert;
	char  *tls_ca;
	int    public_reads;
	char  *log_level;
	double rate_limit;
	double rate_burst;
	char  *cursor_secret;
} api_cfg;

static const hsi_cfg_opt options[] = {
	{ "db_url", HSI_CFG_STR, offsetof(api_cfg, db_url), NULL,
	    "PostgreSQL URL (required), e.g. "
	    "postgresql:///hsi?host=/tmp/hsi-pg&port=5544",
	    0, 0 },
	{ "listen", HSI_CFG_STR, offsetof(api_cfg, listen), "127.0.0.1:8080",
	    "HTTP address HOST:PORT (port 0 picks a free one)", 0, 0 },
	{ "events_url", HSI_CFG_STR, offsetof(api_cfg, events_url),
	    "tcp://127.0.0.1:7451",
	    "scorer events PUB to dial (score events refresh the cache)", 0,
	    0 },
	{ "scorer_url", HSI_CFG_STR, offsetof(api_cfg, scorer_url),
	    "tcp://127.0.0.1:7450",
	    "scorer ingest address submissions are sent to (the gateway "
	    "is a node of each agency, node id api-<AGENCY>)",
	    0, 0 },
	{ "alerts_url", HSI_CFG_STR, offsetof(api_cfg, alerts_url),
	    "tcp://127.0.0.1:7452",
	    "alerter PUB to dial (alert events for GET /v1/events)", 0, 0 },
	{ "static_dir", HSI_CFG_STR, offsetof(api_cfg, static_dir), NULL,
	    "directory of dashboard files served under /", 0, 0 },
	{ "public_reads", HSI_CFG_BOOL, offsetof(api_cfg, public_reads),
	    "true", "serve /v1/ reads without a token", 0, 0 },
	{ "tls_cert", HSI_CFG_STR, offsetof(api_cfg, tls_cert), NULL,
	    "PEM certificate+key for a tls+tcp:// events_url", 0, 0 },
	{ "tls_ca", HSI_CFG_STR, offsetof(api_cfg, tls_ca), NULL,
	    "PEM CA for a tls+tcp:// events_url", 0, 0 },
	{ "log_level", HSI_CFG_STR, offsetof(api_cfg, log_level), "info",
	    "debug (one line per request), info, warn or error", 0, 0 },
	{ "rate_limit", HSI_CFG_DBL, offsetof(api_cfg, rate_limit), "50",
	    "requests a second per token (per client address without one); "
	    "0 turns the limit off",
	    0, 0 },
	{ "rate_burst", HSI_CFG_DBL, offsetof(api_cfg, rate_burst), "0",
	    "requests at once before rate_limit applies; 0 means twice "
	    "rate_limit",
	    0, 0 },
	{ "cursor_secret", HSI_CFG_STR, offsetof(api_cfg, cursor_secret), NULL,
	    "64 hex digits signing pagination cursors; set the same on "
	    "every gateway behind one address (default: random per process)",
	    0, 0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};

static int
run(const api_cfg *cfg, const sigset_t *set)
{
	char         err[600];
	hsi_api     *a;
	hsi_api_opts opts = { .db_url = cfg->db_url,
		.listen               = cfg->listen,
		.events_url           = cfg->events_url,
		.scorer_url           = cfg->scorer_url,
		.alerts_url           = cfg->alerts_url,
		.static_dir           = cfg->static_dir,
		.public_reads         = cfg->public_reads,
		.tls                  = { cfg->tls_cert, NULL, cfg->tls_ca },
		.rate_limit           = cfg->rate_limit,
		.rate_burst           = cfg->rate_burst,
		.cursor_secret        = cfg->cursor_secret };
	int          rv   = hsi_api_open(&opts, &a, err, sizeof(err));
	if (rv != 0) {
		hsi_log_error(err, NULL);
		return rv == HSI_EINVAL ? 2 : 1;
	}
	if ((rv = hsi_api_start(a, err, sizeof(err))) != 0) {
		hsi_log_error(err, NULL);
		hsi_api_close(a);
		return 1;
	}
	int sig = 0;
	sigwait(set, &sig);
	hsi_log_info("stopping", "{s:i}", "signal", sig);
	hsi_api_close(a);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *const required[] = { "db_url", NULL };
	api_cfg                  cfg        = { 0 };
	sigset_t                 set;
	/* Blocked before MHD and nng start threads, so they inherit the
	 * mask and only sigwait() in run() takes these signals. */
	hsi_service_block_signals(&set);
	int rv = hsi_service_init(options, &cfg, "hsi-api", "api",
	    "Serves the HSI REST API and the dashboard.", required, argc,
	    argv);
	if (rv < 0) {
		rv = run(&cfg, &set);
	}
	hsi_config_fini(options, &cfg);
	return rv;
}
