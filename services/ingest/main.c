/*
 * main.c: hsi-ingest -- arguments, signals, run loop over the hsi_ingest
 * library (ingest.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ingest.h"
#include "log.h"

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void) sig;
	stop_flag = 1;
}

int
main(int argc, char **argv)
{
	hsi_ingest_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	int rv = hsi_config_main(hsi_ingest_opts, &cfg, "hsi-ingest",
	    "An agency's ingest node: validates the files dropped in its "
	    "inbox against\nthe catalog and delivers them to the central "
	    "scorer exactly once.",
	    argc, argv);
	if (rv != 0) {
		hsi_config_fini(hsi_ingest_opts, &cfg);
		return rv > 0 ? 0 : 2;
	}
	enum hsi_log_level lvl = HSI_LOG_INFO;
	hsi_log_level_parse(cfg.log_level, &lvl);
	hsi_log_init("ingest", lvl);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	char        err[1024];
	hsi_ingest *n;
	if (hsi_ingest_open(&cfg, &n, err, sizeof(err)) != 0) {
		hsi_log_error("cannot start", "{s:s}", "error", err);
		fprintf(stderr, "hsi-ingest: %s\n", err);
		hsi_config_fini(hsi_ingest_opts, &cfg);
		return 2;
	}
	rv = hsi_ingest_run(n, &stop_flag);
	hsi_ingest_close(n);
	hsi_config_fini(hsi_ingest_opts, &cfg);
	return rv;
}
