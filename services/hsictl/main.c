/*
 * main.c: hsictl -- command dispatch. Commands live in hsictl.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsictl.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl COMMAND [ARGS] [--db-url URL]\n\n"
	    "Commands:\n"
	    "  migrate                     apply database migrations\n"
	    "  key rotate AGENCY --out F   new HMAC key for AGENCY's node, "
	    "written to F (0600)\n"
	    "  key retire KEY_ID           the scorer refuses KEY_ID from now "
	    "on\n"
	    "  catalog load FILE.csv       load an indicator catalog "
	    "(docs/catalog.md)\n"
	    "  score ...                   compute the index offline or from "
	    "the database\n"
	    "                              (hsictl score --help)\n"
	    "  sensitivity ...             Monte Carlo rank uncertainty "
	    "(hsictl sensitivity --help)\n"
	    "  methodology ...             check, store, activate and list "
	    "methodologies\n"
	    "                              (hsictl methodology --help)\n"
	    "  tap --events URL ...        print the scorer's or alerter's "
	    "events as JSON lines\n"
	    "                              (hsictl tap --help)\n"
	    "  quality ...                 who is late with their data: "
	    "completeness and\n"
	    "                              timeliness per agency (hsictl "
	    "quality --help)\n"
	    "  alerts ...                  list, show, acknowledge and "
	    "silence alerts\n"
	    "                              (hsictl alerts --help)\n"
	    "  token ...                   create, list and revoke the REST "
	    "gateway's API\n"
	    "                              tokens (hsictl token --help)\n\n"
	    "--db-url defaults to $HSI_DB_URL.\n");
}

/* Commands with their own options: hsictl NAME [OPTIONS]. */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} subcommands[] = {
	{ "score", hsictl_score },
	{ "sensitivity", hsictl_sensitivity },
	{ "methodology", hsictl_methodology },
	{ "tap", hsictl_tap },
	{ "quality", hsictl_quality },
	{ "alerts", hsictl_alerts },
	{ "token", hsictl_token },
};

int
main(int argc, char **argv)
{
	const char *db_url = getenv("HSI_DB_URL");
	const char *out    = NULL;
	const char *pos[4] = { 0 };
	int         npos   = 0;
	for (size_t k = 0;
	     argc > 1 && k < sizeof(subcommands) / sizeof(subcommands[0]);
	     k++) {
		if (strcmp(argv[1], subcommands[k].name) == 0) {
			return subcommands[k].run(argc - 1, argv + 1);
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0
		    || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--db-url") == 0 && i + 1 < argc) {
			db_url = argv[++i];
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (npos < 4 && argv[i][0] != '-') {
			pos[npos++] = argv[i];
		} else {
			fprintf(stderr, "hsictl: unknown argument '%s'\n",
			    argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (npos == 1 && strcmp(pos[0], "migrate") == 0) {
		return hsictl_migrate(db_url);
	}
	if (npos == 3 && strcmp(pos[0], "key") == 0
	    && strcmp(pos[1], "rotate") == 0 && out != NULL) {
		return hsictl_key_rotate(db_url, pos[2], out);
	}
	if (npos == 3 && strcmp(pos[0], "key") == 0
	    && strcmp(pos[1], "retire") == 0) {
		return hsictl_key_retire(db_url, pos[2]);
	}
	if (npos == 3 && strcmp(pos[0], "catalog") == 0
	    && strcmp(pos[1], "load") == 0) {
		return hsictl_catalog_load(db_url, pos[2]);
	}
	usage(stderr);
	return 2;
}
