/*
 * main.c: hsi-alerter, the threshold alerting service. Configuration,
 * signals and the resync timer; the work is in the hsi_alerter library.
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when PostgreSQL or a socket is
 * unusable, 2 for configuration and rules-file errors.
 */
#include <signal.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "alerter.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "service.h"

typedef struct {
	char *db_url;
	char *events_url;
	char *alerts_listen;
	char *rules_file;
	char *tls_cert;
	char *tls_ca;
	char *log_level;
} alerter_cfg;

static const hsi_cfg_opt options[] = {
	{ "db_url", HSI_CFG_STR, offsetof(alerter_cfg, db_url), NULL,
	    "PostgreSQL URL (required), e.g. "
	    "postgresql:///hsi?host=/tmp/hsi-pg&port=5544",
	    0, 0 },
	{ "events_url", HSI_CFG_STR, offsetof(alerter_cfg, events_url),
	    "tcp://127.0.0.1:7451", "scorer events PUB to dial (topic score)",
	    0, 0 },
	{ "alerts_listen", HSI_CFG_STR, offsetof(alerter_cfg, alerts_listen),
	    "tcp://127.0.0.1:7452", "address our alert PUB listens on", 0, 0 },
	{ "rules_file", HSI_CFG_STR, offsetof(alerter_cfg, rules_file), NULL,
	    "JSON rules file; default: composite index below 0.45 in a "
	    "province",
	    0, 0 },
	{ "tls_cert", HSI_CFG_STR, offsetof(alerter_cfg, tls_cert), NULL,
	    "PEM certificate+key for a tls+tcp:// events_url", 0, 0 },
	{ "tls_ca", HSI_CFG_STR, offsetof(alerter_cfg, tls_ca), NULL,
	    "PEM CA for a tls+tcp:// events_url", 0, 0 },
	{ "log_level", HSI_CFG_STR, offsetof(alerter_cfg, log_level), "info",
	    "debug, info, warn or error", 0, 0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};

/* The rules file's modification time, to reload on change; 0 if none. */
static long long
rules_mtime(const char *path)
{
	struct stat st;
	if (path == NULL || stat(path, &st) != 0) {
		return 0;
	}
	return (long long) st.st_mtim.tv_sec * 1000000000LL
	    + st.st_mtim.tv_nsec;
}

/* Reads the rules file again; a file that does not load leaves the
 * rules in force as they are (and says why). */
static void
reload(hsi_alerter *a, const char *path, const char *why)
{
	char       err[600];
	hsi_rules *rules;
	if (path == NULL) {
		hsi_log_info(
		    "no rules file to reload: built-in rules stay", NULL);
		return;
	}
	if (hsi_rules_load(path, &rules, err, sizeof(err)) != 0) {
		hsi_log_error(
		    "rules file not reloaded: the rules in force stay",
		    "{s:s, s:s}", "trigger", why, "error", err);
		return;
	}
	hsi_log_info(
	    "reloading rules", "{s:s, s:s}", "file", path, "trigger", why);
	if (hsi_alerter_reload(a, rules, err, sizeof(err)) != 0) {
		hsi_log_error(err, NULL);
	}
}

/* Waits for SIGTERM/SIGINT; SIGHUP or a changed rules file reloads the
 * rules; every HSI_ALERTER_TICK_MS the lifecycle sweep runs, and every
 * HSI_ALERTER_RESYNC_MS a resync and the clock rules. */
static void
wait_for_signal(hsi_alerter *a, const sigset_t *set, const char *path)
{
	struct timespec ts    = { HSI_ALERTER_TICK_MS / 1000,
		   (HSI_ALERTER_TICK_MS % 1000) * 1000000L };
	long long       mtime = rules_mtime(path);
	int             ticks = 0;
	for (;;) {
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			hsi_log_info("stopping", "{s:i}", "signal", sig);
			return;
		}
		if (sig == SIGHUP) {
			mtime = rules_mtime(path);
			reload(a, path, "SIGHUP");
			continue;
		}
		if (sig >= 0) {
			continue;
		}
		long long m = rules_mtime(path);
		if (m != 0 && m != mtime) {
			mtime = m;
			reload(a, path, "file changed");
		}
		ticks = (ticks + 1)
		    % (HSI_ALERTER_RESYNC_MS / HSI_ALERTER_TICK_MS);
		hsi_alerter_tick(a, ticks == 0);
	}
}

static int
run(const alerter_cfg *cfg, const sigset_t *set)
{
	char       err[600];
	hsi_rules *rules;
	int rv = hsi_rules_load(cfg->rules_file, &rules, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "hsi-alerter: %s\n", err);
		return 2;
	}
	hsi_alerter_opts opts
	    = { cfg->db_url, cfg->events_url, cfg->alerts_listen,
		      cfg->rules_file, { cfg->tls_cert, NULL, cfg->tls_ca } };
	hsi_alerter *a;
	if ((rv = hsi_alerter_open(&opts, rules, &a, err, sizeof(err))) != 0) {
		hsi_rules_free(rules);
		hsi_log_error(err, NULL);
		return rv == HSI_EINVAL ? 2 : 1;
	}
	if ((rv = hsi_alerter_start(a, err, sizeof(err))) != 0) {
		hsi_log_error(err, NULL);
		hsi_alerter_close(a);
		return 1;
	}
	hsi_log_info("started", "{s:s, s:s}", "events_url", cfg->events_url,
	    "alerts_listen", cfg->alerts_listen);
	wait_for_signal(a, set, cfg->rules_file);
	hsi_alerter_close(a);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *const required[] = { "db_url", NULL };
	alerter_cfg              cfg        = { 0 };
	sigset_t                 set;
	/* Blocked before any thread exists, so every thread inherits the
	 * mask and only sigtimedwait() in wait_for_signal sees them. */
	hsi_service_block_signals(&set);
	int rv = hsi_service_init(options, &cfg, "hsi-alerter", "alerter",
	    "Evaluates alert rules on score changes and publishes alerts.",
	    required, argc, argv);
	if (rv < 0) {
		rv = run(&cfg, &set);
	}
	hsi_config_fini(options, &cfg);
	return rv;
}
