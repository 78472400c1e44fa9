/*
 * main.c: hsi-ingest -- arguments, signals, run loop over the hsi_ingest
 * library (ingest.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ingest.h"
#include "log.h"
#include "service.h"

static volatile sig_atomic_t stop_flag;

int
main(int argc, char **argv)
{
	static const char *const required[]
	    = { "agency", "key_file", "inbox", NULL };
	hsi_ingest_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	int rv
	    = hsi_service_init(hsi_ingest_opts, &cfg, "hsi-ingest", "ingest",
	        "An agency's ingest node: validates the files dropped in its "
	        "inbox against\nthe catalog and delivers them to the central "
	        "scorer exactly once.",
	        required, argc, argv);
	if (rv >= 0) {
		hsi_config_fini(hsi_ingest_opts, &cfg);
		return rv;
	}
	hsi_service_flag_signals(&stop_flag);

	char        err[1024];
	hsi_ingest *s;
	if (hsi_ingest_open(&cfg, &s, err, sizeof(err)) != 0) {
		hsi_log_error("cannot start", "{s:s}", "error", err);
		fprintf(stderr, "hsi-ingest: %s\n", err);
		hsi_config_fini(hsi_ingest_opts, &cfg);
		return 1;
	}
	rv = hsi_ingest_run(s, &stop_flag);
	hsi_ingest_close(s);
	hsi_config_fini(hsi_ingest_opts, &cfg);
	return rv;
}
