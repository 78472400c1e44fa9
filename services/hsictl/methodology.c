/*
 * methodology.c: hsictl methodology check|add|activate|list|show
 * (docs/methodology.md §1, §6). Activation is audited; the scorer notices
 * it within its catalog interval and rescores every year under it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "db.h"
#include "error.h"
#include "hsictl.h"
#include "method.h"
#include "scorecmd.h"
#include "scoredb.h"

static void
meth_usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl methodology check M.json [--catalog C.csv]\n"
	    "       hsictl methodology add M.json [--activate] [--db-url "
	    "URL]\n"
	    "       hsictl methodology activate VERSION [--db-url URL]\n"
	    "       hsictl methodology list [--db-url URL]\n"
	    "       hsictl methodology show VERSION [--db-url URL]\n\n"
	    "check reads and checks a file against the catalog (the built-in "
	    "one, or C.csv)\nand prints the filled document that would be "
	    "stored. add stores it as a new\nversion (with the database's "
	    "catalog); --activate makes it the one in force.\n");
}

static void
print_doc(const hsi_method *m)
{
	json_t *j = hsi_method_to_json(m);
	json_dumpf(j, stdout,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	fputc('\n', stdout);
	json_decref(j);
}

static const char *
actor(void)
{
	const char *u = getenv("USER");
	return u && u[0] ? u : "hsictl";
}

int
hsictl_methodology(int argc, char **argv)
{
	enum { O_CAT = 1, O_ACT, O_DB, O_HELP };
	static const struct option opts[] = {
		{ "catalog", required_argument, NULL, O_CAT },
		{ "activate", no_argument, NULL, O_ACT },
		{ "db-url", required_argument, NULL, O_DB },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *catalog = NULL, *db_url = getenv("HSI_DB_URL");
	int         activate = 0, c;
	optind               = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_CAT:
			catalog = optarg;
			break;
		case O_ACT:
			activate = 1;
			break;
		case O_DB:
			db_url = optarg;
			break;
		case O_HELP:
			meth_usage(stdout);
			return 0;
		default:
			meth_usage(stderr);
			return 2;
		}
	}
	int         npos = argc - optind;
	const char *verb = npos > 0 ? argv[optind] : "";
	const char *arg  = npos > 1 ? argv[optind + 1] : NULL;
	char        err[512];
	hsi_method *m  = NULL;
	int         rv = 0;
	if (strcmp(verb, "check") == 0 && npos == 2) {
		hsi_catalog *cat;
		if (hsictl_load_catalog(catalog, &cat) != 0) {
			return 1;
		}
		rv = hsi_method_load_file(arg, cat, &m, err, sizeof(err));
		hsi_catalog_free(cat);
		if (rv != 0) {
			fprintf(stderr, "hsictl: %s\n", err);
			return 1;
		}
		print_doc(m);
		fprintf(stderr, "%s: ok (%zu indicators, %zu groups)\n", arg,
		    m->n_leaves, m->n_groups);
		hsi_method_free(m);
		return 0;
	}
	int known = (strcmp(verb, "add") == 0 && npos == 2)
	    || (strcmp(verb, "activate") == 0 && npos == 2)
	    || (strcmp(verb, "show") == 0 && npos == 2)
	    || (strcmp(verb, "list") == 0 && npos == 1);
	if (!known) {
		meth_usage(stderr);
		return 2;
	}
	PGconn *db;
	if (db_url == NULL) {
		fprintf(
		    stderr, "hsictl: give --db-url URL or set HSI_DB_URL\n");
		return 2;
	}
	if (hsi_db_open(db_url, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	if (strcmp(verb, "add") == 0) {
		hsi_catalog *cat = NULL;
		int          version;
		if (hsi_catalog_load_db(db, &cat, err, sizeof(err)) != 0
		    || hsi_method_load_file(arg, cat, &m, err, sizeof(err))
		        != 0) {
			fprintf(stderr, "hsictl: %s\n", err);
			rv = 1;
		} else if (hsi_scoredb_method_add(db, m, actor(), &version)
		        != 0
		    || (activate
		        && hsi_scoredb_method_activate(db, version, actor())
		            != 0)) {
			fprintf(
			    stderr, "hsictl: cannot store the methodology\n");
			rv = 1;
		} else {
			printf("%d\n", version);
			fprintf(stderr, "methodology version %d stored%s\n",
			    version,
			    activate ? " and activated; the scorer rescores "
			               "every year under it"
			             : "");
		}
		hsi_catalog_free(cat);
	} else if (strcmp(verb, "activate") == 0) {
		int version = atoi(arg);
		rv = hsi_scoredb_method_activate(db, version, actor());
		if (rv == HSI_ENOENT) {
			fprintf(stderr,
			    "hsictl: methodology version %s does not exist "
			    "(hsictl methodology list)\n",
			    arg);
		} else if (rv == 0) {
			fprintf(stderr, "methodology version %d activated\n",
			    version);
		}
		rv = rv ? 1 : 0;
	} else if (strcmp(verb, "show") == 0) {
		const char *p[1] = { arg };
		PGresult   *r    = hsi_db_query(db, "show methodology",
		         "SELECT jsonb_pretty(doc) FROM methodology WHERE version "
		              "= "
		              "$1::int",
		         1, p);
		if (r != NULL && PQntuples(r) == 1) {
			printf("%s\n", PQgetvalue(r, 0, 0));
		} else {
			fprintf(stderr, "hsictl: no methodology version %s\n",
			    arg);
			rv = 1;
		}
		PQclear(r);
	} else {
		PGresult *r = hsi_db_query(db, "list methodologies",
		    "SELECT m.version, m.name, m.created_at, m.created_by, "
		    "(SELECT max(activated_at) FROM methodology_activation a "
		    " WHERE a.version = m.version), "
		    "m.version = (SELECT version FROM methodology_activation "
		    "ORDER "
		    " BY activated_at DESC, id DESC LIMIT 1) "
		    "FROM methodology m ORDER BY version",
		    0, NULL);
		if (r == NULL) {
			rv = 1;
		} else {
			printf("version\tactive\tname\tcreated\tby\tlast "
			       "activated\n");
			for (int i = 0; i < PQntuples(r); i++) {
				printf("%s\t%s\t%s\t%s\t%s\t%s\n",
				    PQgetvalue(r, i, 0),
				    PQgetvalue(r, i, 5)[0] == 't' ? "*" : "",
				    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
				    PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
			}
			PQclear(r);
		}
	}
	hsi_method_free(m);
	hsi_db_close(db);
	return rv;
}
