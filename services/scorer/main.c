/*
 * main.c: hsi-scorer -- arguments, signals, run loop. The work is in the
 * hsi_scorer library (scorer.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "service.h"
#include "scorer.h"

static volatile sig_atomic_t stop_flag;

int
main(int argc, char **argv)
{
	static const char *const required[] = { "db_url", NULL };
	hsi_scorer_config        cfg;
	memset(&cfg, 0, sizeof(cfg));
	int rv = hsi_service_init(hsi_scorer_opts, &cfg, "hsi-scorer",
	    "scorer",
	    "Central scorer of HSI Platform: receives agency data, keeps it "
	    "in PostgreSQL,\ncomputes the Human Security Index and publishes "
	    "acks, the catalog and scores.",
	    required, argc, argv);
	if (rv >= 0) {
		hsi_config_fini(hsi_scorer_opts, &cfg);
		return rv;
	}
	hsi_service_flag_signals(&stop_flag);

	char        err[1024];
	hsi_scorer *s;
	if (hsi_scorer_open(&cfg, &s, err, sizeof(err)) != 0) {
		hsi_log_error("cannot start", "{s:s}", "error", err);
		fprintf(stderr, "hsi-scorer: %s\n", err);
		hsi_config_fini(hsi_scorer_opts, &cfg);
		return 1;
	}
	rv = hsi_scorer_run(s, &stop_flag);
	hsi_scorer_close(s);
	hsi_config_fini(hsi_scorer_opts, &cfg);
	return rv;
}
