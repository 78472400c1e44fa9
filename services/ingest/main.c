/*
 * main.c: hsi-ingest -- commands, arguments, signals over the hsi_ingest
 * library (ingest.h).
 *
 *   hsi-ingest [run] [--OPTION VALUE]...     the node (default)
 *   hsi-ingest submit FILE... [--OPTION VALUE]...
 *   hsi-ingest status [--json] [--OPTION VALUE]...
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "log.h"
#include "service.h"

static volatile sig_atomic_t stop_flag, reload_flag;

static void
on_hup(int sig)
{
	(void) sig;
	reload_flag = 1;
}

static int
run_node(const hsi_ingest_config *cfg)
{
	struct sigaction sa;
	hsi_service_flag_signals(&stop_flag);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	char        err[1024];
	hsi_ingest *n;
	if (hsi_ingest_open(cfg, &n, err, sizeof(err)) != 0) {
		hsi_log_error("cannot start", "{s:s}", "error", err);
		fprintf(stderr, "hsi-ingest: %s\n", err);
		return 1;
	}
	int rv = hsi_ingest_run(n, &stop_flag, &reload_flag);
	hsi_ingest_close(n);
	return rv;
}

int
main(int argc, char **argv)
{
	static const char *const required[] = { "agency", "inbox", NULL };
	static const char *const need_key[]
	    = { "agency", "inbox", "key_file", NULL };
	const char *cmd   = "run";
	int         first = 1, as_json = 0, nfiles = 0;
	if (argc > 1 && argv[1][0] != '-') {
		cmd   = argv[1];
		first = 2;
	}
	/* Options are "--key value" or "--key=value"; everything else after
	 * the command is a file (for submit). */
	char **opts  = calloc((size_t) argc + 1, sizeof(char *));
	char **files = calloc((size_t) argc + 1, sizeof(char *));
	int    nopts = 1;
	if (opts == NULL || files == NULL) {
		return 2;
	}
	opts[0] = argv[0];
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strncmp(argv[i], "--", 2) == 0) {
			opts[nopts++] = argv[i];
			if (strchr(argv[i], '=') == NULL && i + 1 < argc
			    && strcmp(argv[i], "--help") != 0) {
				opts[nopts++] = argv[++i];
			}
		} else {
			files[nfiles++] = argv[i];
		}
	}
	int               is_run = strcmp(cmd, "run") == 0;
	hsi_ingest_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	int rv = hsi_service_init(hsi_ingest_opts, &cfg, "hsi-ingest",
	    "ingest",
	    "An agency's ingest node. Commands: run (default; validates the "
	    "files dropped\nin the inbox and delivers them to the scorer "
	    "exactly once), submit FILE...\n(validate now, report, queue for "
	    "the node; --dry-run true only reports),\nstatus [--json] (the "
	    "outbox: pending files and parts, acked seq, link).",
	    is_run ? need_key : required, nopts, opts);
	if (rv < 0) {
		if (is_run && nfiles == 0) {
			rv = run_node(&cfg);
		} else if (strcmp(cmd, "submit") == 0) {
			rv = hsi_ingest_submit(&cfg, files, nfiles);
		} else if (strcmp(cmd, "status") == 0 && nfiles == 0) {
			rv = hsi_ingest_status(&cfg, as_json);
		} else if (strcmp(cmd, "run") != 0
		    && strcmp(cmd, "submit") != 0
		    && strcmp(cmd, "status") != 0) {
			fprintf(stderr,
			    "hsi-ingest: unknown command '%s' (commands: run, "
			    "submit FILE..., status; see --help)\n",
			    cmd);
			rv = 2;
		} else {
			fprintf(stderr,
			    "hsi-ingest %s takes no file argument ('%s'); "
			    "only submit does (see --help)\n",
			    cmd, files[0]);
			rv = 2;
		}
	}
	hsi_config_fini(hsi_ingest_opts, &cfg);
	free(opts);
	free(files);
	return rv;
}
