/*
 * alerts.c: hsictl alerts list|show|ack|unack and hsictl alerts silence
 * add|list|expire (docs/alerting.md). A thin shell over common/alertops.h,
 * which checks every input, holds the SQL and draws the tables, so the
 * REST gateway accepts and refuses exactly what this command does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertops.h"
#include "db.h"
#include "error.h"
#include "hsictl.h"
#include "scorecmd.h"

static void
alerts_usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl alerts list [--state S] [--rule R] [--match M]... "
	    "[--limit N]\n"
	    "                          [--format table|json]\n"
	    "       hsictl alerts show FINGERPRINT [--format table|json]\n"
	    "       hsictl alerts ack FINGERPRINT --by NAME --comment TEXT "
	    "[--expires D|TIME]\n"
	    "       hsictl alerts unack FINGERPRINT --by NAME\n"
	    "       hsictl alerts silence add --match M [--match M]... --by "
	    "NAME --comment TEXT\n"
	    "                          (--duration D | --ends TIME) "
	    "[--starts TIME]\n"
	    "       hsictl alerts silence list [--all] [--format "
	    "table|json]\n"
	    "       hsictl alerts silence expire ID --by NAME\n\n"
	    "Every command takes --db-url URL (default $HSI_DB_URL).\n"
	    "S: active (firing and pending; the default), firing, pending, "
	    "resolved or all.\n"
	    "M: a label matcher, name=value, name!=value, name=~regex or "
	    "name!~regex\n"
	    "   (POSIX extended, anchored: area=~5 does not match 55); an "
	    "absent label is \"\".\n"
	    "FINGERPRINT: the 64 hex digits, or a unique prefix of at least "
	    "8.\n"
	    "D: a duration, 90m, 2h, 3d, 1w (acknowledgements: default 24h, "
	    "at most 30d;\n"
	    "   silences: at most 365d). TIME: RFC 3339, "
	    "2025-03-31T17:00:00+07:00.\n"
	    "silence list shows active and pending silences; --all adds "
	    "expired ones.\n"
	    "Exit status: 0 done, 1 failed (unknown alert, wrong state, "
	    "database), 2 usage.\n");
}

enum {
	O_STATE = 1,
	O_RULE,
	O_MATCH,
	O_LIMIT,
	O_FORMAT,
	O_DB,
	O_BY,
	O_COMMENT,
	O_EXPIRES,
	O_DURATION,
	O_ENDS,
	O_STARTS,
	O_ALL,
	O_HELP
};

#define BIT(o) (1u << (o))

static const struct option long_opts[] = {
	{ "state", required_argument, NULL, O_STATE },
	{ "rule", required_argument, NULL, O_RULE },
	{ "match", required_argument, NULL, O_MATCH },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "db-url", required_argument, NULL, O_DB },
	{ "by", required_argument, NULL, O_BY },
	{ "comment", required_argument, NULL, O_COMMENT },
	{ "expires", required_argument, NULL, O_EXPIRES },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "ends", required_argument, NULL, O_ENDS },
	{ "starts", required_argument, NULL, O_STARTS },
	{ "all", no_argument, NULL, O_ALL },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

typedef struct {
	const char   *val[O_HELP]; /* by option code */
	unsigned      given;
	hsi_matchers *match;
	int           json;
	long          limit;
} alerts_opts;

static void
print_json(const json_t *j)
{
	json_dumpf(j, stdout,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
}

typedef int (*verb_fn)(PGconn *db, const alerts_opts *o, const char *arg,
    char *err, size_t err_size);

static int
run_list(PGconn *db, const alerts_opts *o, const char *arg, char *err,
    size_t err_size)
{
	hsi_alert_filter f = { .state = o->val[O_STATE],
		.rule                 = o->val[O_RULE],
		.matchers             = o->match,
		.limit                = (int) o->limit };
	json_t          *a;
	int              rv = hsi_alert_list(db, &f, &a, err, err_size);
	(void) arg;
	if (rv == 0) {
		if (o->json) {
			print_json(a);
		} else {
			rv = hsi_alert_table_print(stdout, a);
		}
		json_decref(a);
	}
	return rv;
}

static int
run_show(PGconn *db, const alerts_opts *o, const char *arg, char *err,
    size_t err_size)
{
	json_t *a;
	int     rv = hsi_alert_show(db, arg, &a, err, err_size);
	if (rv == 0) {
		if (o->json) {
			print_json(a);
		} else {
			rv = hsi_alert_show_print(stdout, a);
		}
		json_decref(a);
	}
	return rv;
}

/* After ack or unack: the fingerprint on stdout, what changed on stderr. */
static void
print_acked(json_t *a)
{
	const json_t *ack = json_object_get(a, "acked");
	printf("%s\n", json_string_value(json_object_get(a, "fingerprint")));
	if (json_is_object(ack)) {
		fprintf(stderr, "acknowledged until %s\n",
		    json_string_value(json_object_get(ack, "expires")));
	} else {
		fprintf(stderr, "acknowledgement removed\n");
	}
	json_decref(a);
}

static int
run_ack(PGconn *db, const alerts_opts *o, const char *arg, char *err,
    size_t err_size)
{
	json_t *a;
	int     rv = hsi_alert_ack(db, arg, o->val[O_BY], o->val[O_COMMENT],
	        o->val[O_EXPIRES], &a, err, err_size);
	if (rv == 0) {
		print_acked(a);
	}
	return rv;
}

static int
run_unack(PGconn *db, const alerts_opts *o, const char *arg, char *err,
    size_t err_size)
{
	json_t *a;
	int     rv = hsi_alert_unack(db, arg, o->val[O_BY], &a, err, err_size);
	if (rv == 0) {
		print_acked(a);
	}
	return rv;
}

static int
run_silence_add(PGconn *db, const alerts_opts *o, const char *arg, char *err,
    size_t err_size)
{
	hsi_silence_spec s = { .matchers = o->match,
		.created_by              = o->val[O_BY],
		.comment                 = o->val[O_COMMENT],
		.starts                  = o->val[O_STARTS],
		.ends                    = o->val[O_ENDS],
		.duration                = o->val[O_DURATION] };
	int64_t          id;
	int              rv = hsi_silence_add(db, &s, &id, err, err_size);
	(void) arg;
	if (rv == 0) {
		printf("%lld\n", (long long) id);
		fprintf(stderr,
		    "silence %lld stored (hsictl alerts silence list)\n",
		    (long long) id);
	}
	return rv;
}

static int
run_silence_list(PGconn *db, const alerts_opts *o, const char *arg, char *err,
    size_t err_size)
{
	json_t *a;
	int     rv = hsi_silence_list(
	        db, (o->given & BIT(O_ALL)) != 0, &a, err, err_size);
	(void) arg;
	if (rv == 0) {
		if (o->json) {
			print_json(a);
		} else {
			rv = hsi_silence_table_print(stdout, a);
		}
		json_decref(a);
	}
	return rv;
}

static int
run_silence_expire(PGconn *db, const alerts_opts *o, const char *arg,
    char *err, size_t err_size)
{
	char     *end;
	long long id;
	errno = 0;
	id    = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || id < 1) {
		snprintf(err, err_size,
		    "ID: '%s' is not a silence id; give the number from "
		    "hsictl alerts silence list",
		    arg);
		return HSI_EINVAL;
	}
	int rv = hsi_silence_expire(db, id, o->val[O_BY], err, err_size);
	if (rv == 0) {
		fprintf(stderr, "silence %lld expired\n", id);
	}
	return rv;
}

static const struct verb {
	const char *name;
	const char *arg;      /* "FINGERPRINT", "ID" or NULL: none */
	unsigned    allowed;  /* options besides --db-url and --help */
	unsigned    required; /* options that must be given */
	verb_fn     run;
} verbs[] = {
	{ "list", NULL,
	    BIT(O_STATE) | BIT(O_RULE) | BIT(O_MATCH) | BIT(O_LIMIT)
	        | BIT(O_FORMAT),
	    0, run_list },
	{ "show", "FINGERPRINT", BIT(O_FORMAT), 0, run_show },
	{ "ack", "FINGERPRINT", BIT(O_BY) | BIT(O_COMMENT) | BIT(O_EXPIRES),
	    BIT(O_BY) | BIT(O_COMMENT), run_ack },
	{ "unack", "FINGERPRINT", BIT(O_BY), BIT(O_BY), run_unack },
	{ "silence add", NULL,
	    BIT(O_MATCH) | BIT(O_BY) | BIT(O_COMMENT) | BIT(O_DURATION)
	        | BIT(O_ENDS) | BIT(O_STARTS),
	    BIT(O_MATCH) | BIT(O_BY) | BIT(O_COMMENT), run_silence_add },
	{ "silence list", NULL, BIT(O_ALL) | BIT(O_FORMAT), 0,
	    run_silence_list },
	{ "silence expire", "ID", BIT(O_BY), BIT(O_BY), run_silence_expire },
};

/* Reads the options into o; 0, -1 for --help (printed), or 2 after
 * saying what was wrong. */
static int
parse_opts(int argc, char **argv, alerts_opts *o)
{
	char err[512];
	int  c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c < O_STATE || c > O_HELP) {
			alerts_usage(stderr);
			return 2;
		}
		if (c == O_HELP) {
			alerts_usage(stdout);
			return -1;
		}
		if (c != O_MATCH && (o->given & BIT(c)) != 0) {
			fprintf(stderr, "hsictl alerts: --%s given twice\n",
			    long_opts[c - 1].name);
			return 2;
		}
		o->given |= BIT(c);
		o->val[c] = optarg;
		if (c == O_MATCH
		    && hsi_matchers_add_text(
		           o->match, optarg, err, sizeof(err))
		        != 0) {
			fprintf(stderr, "hsictl alerts: --match: %s\n", err);
			return 2;
		}
	}
	return 0;
}

/* Checks the options against verb v; 0 or 2. */
static int
check_opts(const struct verb *v, alerts_opts *o)
{
	unsigned extra = o->given & ~(v->allowed | BIT(O_DB));
	unsigned miss  = v->required & ~o->given;
	for (int c = O_STATE; c < O_HELP; c++) {
		if ((extra | miss) & BIT(c)) {
			fprintf(stderr,
			    "hsictl alerts %s: --%s %s (hsictl alerts "
			    "--help)\n",
			    v->name, long_opts[c - 1].name,
			    (extra & BIT(c)) ? "does not apply here"
			                     : "is required");
			return 2;
		}
	}
	const char *fmt = o->val[O_FORMAT] ? o->val[O_FORMAT] : "table";
	if (strcmp(fmt, "table") != 0 && strcmp(fmt, "json") != 0) {
		fprintf(stderr,
		    "hsictl alerts %s: --format '%s': give table or json\n",
		    v->name, fmt);
		return 2;
	}
	o->json = strcmp(fmt, "json") == 0;
	if (o->val[O_LIMIT] != NULL) {
		return hsictl_long_arg("alerts list", "limit", o->val[O_LIMIT],
		    1, HSI_ALERT_LIST_MAX, &o->limit);
	}
	return 0;
}

/* The verb named by the positional arguments, or NULL after saying
 * what was wrong. */
static const struct verb *
find_verb(int npos, char **pos, const char **arg)
{
	char name[64] = "";
	int  words    = npos > 0 && strcmp(pos[0], "silence") == 0 ? 2 : 1;
	if (npos < words) {
		fprintf(stderr, "hsictl alerts: which command?\n");
		alerts_usage(stderr);
		return NULL;
	}
	snprintf(name, sizeof(name), "%s%s%s", pos[0], words == 2 ? " " : "",
	    words == 2 ? pos[1] : "");
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		const struct verb *v = &verbs[k];
		if (strcmp(name, v->name) != 0) {
			continue;
		}
		int want = words + (v->arg != NULL);
		if (npos < want) {
			fprintf(stderr,
			    "hsictl alerts %s: give the %s (hsictl alerts "
			    "--help)\n",
			    v->name, v->arg);
			return NULL;
		}
		if (npos > want) {
			fprintf(stderr,
			    "hsictl alerts %s: unexpected argument '%s'\n",
			    v->name, pos[want]);
			return NULL;
		}
		*arg = v->arg ? pos[words] : NULL;
		return v;
	}
	fprintf(stderr, "hsictl alerts: unknown command '%s'\n", name);
	alerts_usage(stderr);
	return NULL;
}

int
hsictl_alerts(int argc, char **argv)
{
	alerts_opts o = { .given = 0 };
	char        err[1024];
	const char *arg = NULL;
	PGconn     *db  = NULL;
	int         rv  = 2;
	if (hsi_matchers_alloc(&o.match) != 0) {
		fprintf(stderr, "hsictl alerts: out of memory\n");
		return 1;
	}
	if ((rv = parse_opts(argc, argv, &o)) != 0) {
		rv = rv < 0 ? 0 : rv;
		goto out;
	}
	rv                   = 2;
	const struct verb *v = find_verb(argc - optind, argv + optind, &arg);
	if (v == NULL) {
		goto out;
	}
	if (check_opts(v, &o) != 0) {
		goto out;
	}
	const char *url = o.val[O_DB] ? o.val[O_DB] : getenv("HSI_DB_URL");
	if (url == NULL || url[0] == '\0') {
		fprintf(stderr,
		    "hsictl alerts: give --db-url URL or set HSI_DB_URL\n");
		goto out;
	}
	if (hsi_db_open(url, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl alerts: %s\n", err);
		rv = 1;
		goto out;
	}
	snprintf(err, sizeof(err), "cannot write to standard output");
	rv = v->run(db, &o, arg, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "hsictl alerts %s: %s\n", v->name, err);
		/* Input wrong on its face is a usage error; the rest (no such
		 * alert, wrong state, database) a failure. */
		rv = rv == HSI_EINVAL || rv == HSI_ERANGE || rv == HSI_ETOOBIG
		        || rv == HSI_EENCODING
		    ? 2
		    : 1;
	}
out:
	hsi_db_close(db);
	hsi_matchers_free(o.match);
	return rv;
}
