/*
 * token.c: hsictl token create|list|revoke (docs/tokens.md), a thin shell
 * over common/token.h, which checks every field and holds the SQL. The
 * options are checked before the database is opened, so a typo is a
 * usage error (2) that names the option.
 *
 * A token's text is printed once, on stdout, and wiped from memory after;
 * it is never written anywhere else.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "hsictl.h"
#include "token.h"

static void
token_usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl token create --role ROLE --label TEXT "
	    "[--expires D|TIME]\n"
	    "                           [--format text|json]\n"
	    "       hsictl token list [--all] [--format table|json]\n"
	    "       hsictl token revoke ID [--by NAME]\n\n"
	    "Every command takes --db-url URL (default $HSI_DB_URL).\n"
	    "ROLE: admin, viewer or agency:CODE (CODE an agency in the "
	    "database, e.g. agency:CDD).\n"
	    "TEXT: whose token it is and what for, 1 to 128 characters.\n"
	    "D: a duration from now, 90d, 12w, 1d12h (default 365d, at most "
	    "1825d);\n"
	    "TIME: RFC 3339, 2026-03-31T17:00:00+07:00 (at most five years "
	    "ahead).\n"
	    "create prints the token on stdout once: it cannot be shown "
	    "again.\n"
	    "list shows tokens in use; --all adds expired and revoked "
	    "ones. No secret is shown.\n"
	    "revoke ends token ID now; NAME (default $USER) goes to the "
	    "audit log.\n"
	    "Exit status: 0 done, 1 failed (unknown agency or token, "
	    "already revoked,\ndatabase), 2 usage.\n");
}

enum { O_ROLE = 1, O_LABEL, O_EXPIRES, O_FORMAT, O_ALL, O_BY, O_DB, O_HELP };

#define BIT(o) (1u << (o))

static const struct option long_opts[] = {
	{ "role", required_argument, NULL, O_ROLE },
	{ "label", required_argument, NULL, O_LABEL },
	{ "expires", required_argument, NULL, O_EXPIRES },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "all", no_argument, NULL, O_ALL },
	{ "by", required_argument, NULL, O_BY },
	{ "db-url", required_argument, NULL, O_DB },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

typedef struct {
	const char *val[O_HELP]; /* by option code */
	unsigned    given;
	int         json;
	int64_t     id; /* revoke's */
} token_opts;

typedef int (*verb_fn)(
    PGconn *db, const token_opts *o, char *err, size_t err_size);

static const char *
actor(const token_opts *o)
{
	const char *u = getenv("USER");
	if (o->val[O_BY] != NULL) {
		return o->val[O_BY];
	}
	return u && u[0] ? u : "hsictl";
}

static int
print_json(json_t *j)
{
	char *s
	    = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int rv = s != NULL && printf("%s\n", s) >= 0 ? 0 : HSI_EIO;
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
	}
	free(s);
	return rv;
}

static int
run_create(PGconn *db, const token_opts *o, char *err, size_t err_size)
{
	hsi_token_spec s = { .role = o->val[O_ROLE],
		.label             = o->val[O_LABEL],
		.expires           = o->val[O_EXPIRES],
		.actor             = actor(o) };
	hsi_token_info t;
	char           tok[HSI_TOKEN_TEXT_SIZE];
	char           exp[HSI_TOKEN_TIME_SIZE], made[HSI_TOKEN_TIME_SIZE];
	int            rv = hsi_token_create(db, &s, tok, &t, err, err_size);
	if (rv != 0) {
		return rv;
	}
	hsi_token_utc(t.expires_at, exp);
	hsi_token_utc(t.created_at, made);
	if (o->json) {
		json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}",
		    "token", tok, "id", (json_int_t) t.id, "role", t.role_text,
		    "label", t.label, "created_at", made, "expires_at", exp);
		rv        = print_json(j);
		json_decref(j);
	} else {
		rv = printf("%s\n", tok) >= 0 ? 0 : HSI_EIO;
	}
	rv = fflush(stdout) == 0 ? rv : HSI_EIO;
	OPENSSL_cleanse(tok, sizeof(tok));
	if (rv != 0) {
		/* Stored, but nobody saw it: of no use, and not to leave. */
		snprintf(err, err_size,
		    "token %lld stored but could not be written to standard "
		    "output; revoke it (hsictl token revoke %lld)",
		    (long long) t.id, (long long) t.id);
		return rv;
	}
	fprintf(stderr,
	    "token %lld (%s) created, expires %s.\n"
	    "It is shown only this once and cannot be shown again: hand it "
	    "over\nthrough a secure channel now (docs/tokens.md).\n",
	    (long long) t.id, t.role_text, exp);
	return 0;
}

/* s for a terminal: bytes below 0x20 and DEL made '?' (a label stored
 * by hand could hold escape sequences). */
static void
put_safe(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;
		putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
}

static const char *
str(const json_t *t, const char *key)
{
	const char *s = json_string_value(json_object_get(t, key));
	return s ? s : "-";
}

/* One line per token; the label, the only free text, last, so the
 * columns line up whatever its script. */
static int
print_table(const json_t *a)
{
	size_t        i;
	const json_t *t;
	printf("%-6s %-8s %-23s %-20s %-20s %-20s %s\n", "ID", "STATUS",
	    "ROLE", "CREATED", "EXPIRES", "REVOKED", "LABEL");
	json_array_foreach(a, i, t)
	{
		printf("%-6lld %-8s %-23s %-20s %-20s %-20s ",
		    (long long) json_integer_value(json_object_get(t, "id")),
		    str(t, "status"), str(t, "role"), str(t, "created_at"),
		    json_is_null(json_object_get(t, "expires_at"))
		        ? "never"
		        : str(t, "expires_at"),
		    str(t, "revoked_at"));
		put_safe(str(t, "label"));
		putchar('\n');
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : HSI_EIO;
}

static int
run_list(PGconn *db, const token_opts *o, char *err, size_t err_size)
{
	json_t *a;
	int     rv = hsi_token_list(
	        db, (o->given & BIT(O_ALL)) != 0, &a, err, err_size);
	if (rv != 0) {
		return rv;
	}
	rv = o->json ? print_json(a) : print_table(a);
	json_decref(a);
	return rv;
}

static int
run_revoke(PGconn *db, const token_opts *o, char *err, size_t err_size)
{
	hsi_token_info t;
	char           when[HSI_TOKEN_TIME_SIZE];
	int rv = hsi_token_revoke(db, o->id, actor(o), &t, err, err_size);
	if (rv == 0) {
		fprintf(stderr,
		    "token %lld (%s) revoked at %s; hsi-api refuses it from "
		    "now on\n",
		    (long long) t.id, t.role_text,
		    hsi_token_utc(t.revoked_at, when));
	}
	return rv;
}

static const struct verb {
	const char *name;
	int         takes_id;
	unsigned    allowed;  /* options besides --db-url and --help */
	unsigned    required; /* options that must be given */
	const char *formats[2];
	verb_fn     run;
} verbs[] = {
	{ "create", 0,
	    BIT(O_ROLE) | BIT(O_LABEL) | BIT(O_EXPIRES) | BIT(O_FORMAT),
	    BIT(O_ROLE) | BIT(O_LABEL), { "text", "json" }, run_create },
	{ "list", 0, BIT(O_ALL) | BIT(O_FORMAT), 0, { "table", "json" },
	    run_list },
	{ "revoke", 1, BIT(O_BY), 0, { NULL, NULL }, run_revoke },
};

/* Reads the options into o; 0, -1 for --help (printed), or 2 after
 * saying what was wrong. */
static int
parse_opts(int argc, char **argv, token_opts *o)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c < O_ROLE || c > O_HELP) {
			token_usage(stderr);
			return 2;
		}
		if (c == O_HELP) {
			token_usage(stdout);
			return -1;
		}
		if ((o->given & BIT(c)) != 0) {
			fprintf(stderr, "hsictl token: --%s given twice\n",
			    long_opts[c - 1].name);
			return 2;
		}
		o->given |= BIT(c);
		o->val[c] = optarg;
	}
	return 0;
}

/* The verb named by pos[0], with revoke's ID read into o; NULL after
 * saying what was wrong. */
static const struct verb *
find_verb(int npos, char **pos, token_opts *o)
{
	const struct verb *v = NULL;
	for (size_t k = 0; npos > 0 && k < sizeof(verbs) / sizeof(verbs[0]);
	     k++) {
		v = strcmp(pos[0], verbs[k].name) == 0 ? &verbs[k] : v;
	}
	if (v == NULL) {
		fprintf(stderr, "hsictl token: %s\n",
		    npos > 0 ? "unknown command" : "which command?");
		token_usage(stderr);
		return NULL;
	}
	if (npos != 1 + v->takes_id) {
		fprintf(stderr, "hsictl token %s: %s (hsictl token --help)\n",
		    v->name,
		    npos < 1 + v->takes_id ? "give the token's ID"
		                           : "unexpected argument");
		return NULL;
	}
	if (v->takes_id) {
		char     *end;
		long long id;
		errno = 0;
		id    = strtoll(pos[1], &end, 10);
		if (errno != 0 || end == pos[1] || *end != '\0' || id < 1) {
			fprintf(stderr,
			    "hsictl token revoke: ID '%.40s' is not a token "
			    "id; give the number from hsictl token list\n",
			    pos[1]);
			return NULL;
		}
		o->id = id;
	}
	return v;
}

/* The options' values that need no database, checked as the library
 * will, but named as the user typed them. */
static int
check_values(const struct verb *v, token_opts *o)
{
	char           err[512];
	const char    *at;
	int64_t        secs;
	hsi_token_role role;
	int            rv = 0;
	if (v->run == run_create) {
		rv = hsi_token_role_parse("--role", o->val[O_ROLE], &role,
		         NULL, err, sizeof(err))
		    || hsi_token_label_check(
		        "--label", o->val[O_LABEL], err, sizeof(err))
		    || hsi_token_expiry_parse("--expires", o->val[O_EXPIRES],
		        &at, &secs, err, sizeof(err));
	} else if (o->val[O_BY] != NULL) {
		rv = hsi_token_label_check(
		    "--by", o->val[O_BY], err, sizeof(err));
	}
	if (rv != 0) {
		fprintf(stderr, "hsictl token %s: %s\n", v->name, err);
		return 2;
	}
	return 0;
}

/* Checks the options against verb v; 0 or 2. */
static int
check_opts(const struct verb *v, token_opts *o)
{
	unsigned extra = o->given & ~(v->allowed | BIT(O_DB));
	unsigned miss  = v->required & ~o->given;
	for (int c = O_ROLE; c < O_HELP; c++) {
		if ((extra | miss) & BIT(c)) {
			fprintf(stderr,
			    "hsictl token %s: --%s %s (hsictl token --help)\n",
			    v->name, long_opts[c - 1].name,
			    (extra & BIT(c)) ? "does not apply here"
			                     : "is required");
			return 2;
		}
	}
	const char *fmt = o->val[O_FORMAT];
	if (fmt != NULL && strcmp(fmt, v->formats[0]) != 0
	    && strcmp(fmt, "json") != 0) {
		fprintf(stderr,
		    "hsictl token %s: --format '%.40s': give %s or json\n",
		    v->name, fmt, v->formats[0]);
		return 2;
	}
	o->json = fmt != NULL && strcmp(fmt, "json") == 0;
	return check_values(v, o);
}

int
hsictl_token(int argc, char **argv)
{
	token_opts o = { .given = 0 };
	char       err[1024];
	PGconn    *db = NULL;
	int        rv;
	if ((rv = parse_opts(argc, argv, &o)) != 0) {
		return rv < 0 ? 0 : rv;
	}
	const struct verb *v = find_verb(argc - optind, argv + optind, &o);
	if (v == NULL || check_opts(v, &o) != 0) {
		return 2;
	}
	const char *url = o.val[O_DB] ? o.val[O_DB] : getenv("HSI_DB_URL");
	if (url == NULL || url[0] == '\0') {
		fprintf(stderr,
		    "hsictl token: give --db-url URL or set HSI_DB_URL\n");
		return 2;
	}
	if (hsi_db_open(url, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl token: %s\n", err);
		return 1;
	}
	snprintf(err, sizeof(err), "cannot write to standard output");
	rv = v->run(db, &o, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "hsictl token %s: %s\n", v->name, err);
		/* Input wrong on its face is a usage error; the rest (no such
		 * agency or token, already revoked, database) a failure. */
		rv = rv == HSI_EINVAL || rv == HSI_ERANGE || rv == HSI_ETOOBIG
		        || rv == HSI_EENCODING
		    ? 2
		    : 1;
	}
	hsi_db_close(db);
	return rv;
}
