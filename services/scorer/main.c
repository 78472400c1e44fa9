/*
 * main.c: hsi-scorer -- arguments, signals, run loop. The work is in the
 * hsi_scorer library (scorer.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "scorer.h"

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
	hsi_scorer_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	int rv = hsi_config_main(hsi_scorer_opts, &cfg, "hsi-scorer",
	    "Central scorer of HSI Platform: receives agency data, keeps it "
	    "in PostgreSQL,\ncomputes the Human Security Index and publishes "
	    "acks, the catalog and scores.",
	    argc, argv);
	if (rv != 0) {
		hsi_config_fini(hsi_scorer_opts, &cfg);
		return rv > 0 ? 0 : 2;
	}
	enum hsi_log_level lvl = HSI_LOG_INFO;
	hsi_log_level_parse(cfg.log_level, &lvl);
	hsi_log_init("scorer", lvl);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char        err[1024];
	hsi_scorer *s;
	if (hsi_scorer_open(&cfg, &s, err, sizeof(err)) != 0) {
		hsi_log_error("cannot start", "{s:s}", "error", err);
		fprintf(stderr, "hsi-scorer: %s\n", err);
		hsi_config_fini(hsi_scorer_opts, &cfg);
		return 1;
	}
	hsi_scorer_run(s, &stop_flag);
	hsi_scorer_close(s);
	hsi_config_fini(hsi_scorer_opts, &cfg);
	return 0;
}
