/*
 * score.c: hsictl score -- the index computed by the scorer's own engine
 * from files (analysts) or from PostgreSQL (operators, vintages, the
 * benchmark). docs/methodology.md §7.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "csv.h"
#include "db.h"
#include "error.h"
#include "hsictl.h"
#include "scorecmd.h"
#include "scoredb.h"

double
hsictl_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
hsictl_load_catalog(const char *path, hsi_catalog **out)
{
	char   err[512];
	char  *buf = NULL;
	size_t len = 0;
	if (path != NULL
	    && hsi_blob_read_file(
	           path, 8 * 1024 * 1024, &buf, &len, err, sizeof(err))
	        != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	int rv = hsi_catalog_from_refdata(
	    buf, len, path ? path : "indicators.csv", out, err, sizeof(err));
	free(buf);
	if (rv != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	return 0;
}

/* D.csv: area,indicator,period,value[,status]. */
static int
load_data(const char *path, score_input *in)
{
	static const char *const want[]
	    = { "area", "indicator", "period", "value", "?status", NULL };
	char              err[512];
	char             *buf;
	size_t            len, cap = 1 << 16, n = 0;
	hsi_table         t;
	const hsi_method *m = in->m;
	if (hsi_blob_read_file(
	        path, HSICTL_DATA_MAX_BYTES, &buf, &len, err, sizeof(err))
	    != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	in->obs = malloc(cap * sizeof(hsi_pobs));
	if (in->obs == NULL) {
		free(buf);
		fprintf(stderr, "hsictl: out of memory\n");
		return 1;
	}
	int rv    = hsi_table_open(&t, path, buf, len, want, err, sizeof(err));
	in->first = INT32_MAX;
	in->last  = INT32_MIN;
	while (rv == 0 && (rv = hsi_table_next(&t)) == 1) {
		rv                  = 0;
		const char    *area = hsi_table_get(&t, 0);
		const char    *ind  = hsi_table_get(&t, 1);
		const char    *ps   = hsi_table_get(&t, 2);
		const char    *vs   = hsi_table_get(&t, 3);
		const char    *st   = hsi_table_get(&t, 4);
		int            col  = hsi_method_col(m, ind);
		int            a    = hsi_areas_find(&in->ar, area);
		hsi_period     pe;
		hsi_period_err pe_err;
		if (a < 0) {
			snprintf(err, sizeof(err),
			    "%s:%zu: area: '%s' is not one of the areas (give "
			    "--areas FILE listing it)",
			    path, t.row.line, area);
			rv = HSI_EINVAL;
			break;
		}
		if (hsi_period_parse(ps, strlen(ps), &pe, &pe_err) != 0) {
			snprintf(err, sizeof(err), "%s:%zu: period: %s", path,
			    t.row.line, pe_err.msg);
			rv = HSI_EINVAL;
			break;
		}
		if (col < 0 || vs[0] == '\0'
		    || (st != NULL && strcmp(st, "M") == 0)) {
			continue; /* not scored, or missing */
		}
		char  *end;
		double v;
		errno = 0;
		v     = strtod(vs, &end);
		if (errno != 0 || *end != '\0' || !isfinite(v)) {
			snprintf(err, sizeof(err),
			    "%s:%zu: value: '%s' is not a number; write it "
			    "with "
			    "a '.' decimal point, or leave it empty when "
			    "missing",
			    path, t.row.line, vs);
			rv = HSI_EINVAL;
			break;
		}
		if (n == cap) {
			cap *= 2;
			hsi_pobs *no = realloc(in->obs, cap * sizeof(*no));
			if (no == NULL) {
				snprintf(err, sizeof(err), "out of memory");
				rv = HSI_ENOMEM;
				break;
			}
			in->obs = no;
		}
		hsi_pobs *o = &in->obs[n++];
		o->area     = a;
		o->col      = col;
		o->year     = hsi_obs_year(m, &pe);
		o->order    = hsi_obs_order(&pe);
		o->value    = v;
		in->first   = o->year < in->first ? o->year : in->first;
		in->last    = o->year > in->last ? o->year : in->last;
	}
	hsi_table_close(&t);
	free(buf);
	in->n_obs = n;
	if (rv != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	if (n == 0) {
		fprintf(stderr,
		    "hsictl: %s: no values of the methodology's indicators\n",
		    path);
		return 1;
	}
	return 0;
}

static int
parse_period(const char *s, const hsi_method *m, int *year)
{
	hsi_period     pe;
	hsi_period_err e;
	if (hsi_period_parse(s, strlen(s), &pe, &e) != 0) {
		fprintf(stderr, "hsictl: --period: %s\n", e.msg);
		return 2;
	}
	*year = hsi_obs_year(m, &pe);
	return 0;
}

static int
load_db(const score_opts *o, score_input *in)
{
	char err[512];
	if (o->db_url == NULL) {
		fprintf(stderr,
		    "hsictl: give --data FILE (offline) or --db-url URL (or "
		    "HSI_DB_URL)\n");
		return 2;
	}
	if (hsi_db_open(o->db_url, &in->db, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	if (o->as_of != NULL) {
		const char *p[1] = { o->as_of };
		PGresult *r = PQexecParams(in->db, "SELECT $1::timestamptz", 1,
		    NULL, p, NULL, NULL, 0);
		int       ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		if (!ok) {
			fprintf(stderr,
			    "hsictl score: --as-of '%s' is not a time; give "
			    "e.g. '2025-03-31', '2025-03-31 17:00+07' or "
			    "'2025-03-31T10:00Z'\n",
			    o->as_of);
			return 2;
		}
	}
	if (hsi_catalog_load_db(in->db, &in->cat, err, sizeof(err)) != 0
	    || hsi_scoredb_method(in->db, o->version, o->as_of, in->cat,
	           &in->m, err, sizeof(err))
	        != 0
	    || hsi_scoredb_areas(
	           in->db, in->m->rank_level, &in->ar, err, sizeof(err))
	        != 0) {
		fprintf(stderr, "hsictl: %s\n", err);
		return 1;
	}
	const hsi_method *m = in->m;
	if (hsi_scoredb_years(in->db, m, &in->first, &in->last) != 0) {
		fprintf(stderr, "hsictl: the database has no observations\n");
		return 1;
	}
	in->span_first = in->first;
	in->span_last  = in->last;
	if (o->period != NULL) {
		int rv = parse_period(o->period, m, &in->only);
		if (rv != 0) {
			return rv;
		}
		if (!m->uses_panel) {
			int from  = in->only - 1 - m->max_carry;
			in->first = from > in->first ? from : in->first;
			in->last  = in->only;
		}
	}
	if (hsi_scoredb_load(in->db, m, &in->ar, in->first, in->last, o->as_of,
	        &in->obs, &in->n_obs)
	    != 0) {
		fprintf(stderr, "hsictl: cannot read observations\n");
		return 1;
	}
	return 0;
}

int
score_input_load(const score_opts *o, score_input *in)
{
	char   err[512];
	int    rv;
	double t0 = hsictl_now_s();
	memset(in, 0, sizeof(*in));
	if (o->data == NULL) {
		rv = load_db(o, in);
	} else if (o->methodology == NULL) {
		fprintf(stderr, "hsictl: --data needs --methodology FILE\n");
		return 2;
	} else if ((rv = hsictl_load_catalog(o->catalog, &in->cat)) == 0) {
		if (hsi_method_load_file(
		        o->methodology, in->cat, &in->m, err, sizeof(err))
		    != 0) {
			fprintf(stderr, "hsictl: %s\n", err);
			return 1;
		}
		rv = o->areas
		    ? hsi_areas_from_csv(
		        o->areas, in->m->rank_level, &in->ar, err, sizeof(err))
		    : hsi_areas_from_catalog(
		        in->cat, in->m->rank_level, &in->ar, err, sizeof(err));
		if (rv != 0) {
			fprintf(stderr, "hsictl: %s\n", err);
			return 1;
		}
		rv             = load_data(o->data, in);
		in->span_first = in->first;
		in->span_last  = in->last;
		if (rv == 0 && o->period != NULL) {
			rv = parse_period(o->period, in->m, &in->only);
		}
	}
	if (rv != 0) {
		return rv;
	}
	in->rules = malloc((in->m->n_leaves + 1) * sizeof(hsi_col_rule));
	if (in->rules == NULL) {
		return 1;
	}
	hsi_col_rules(in->m, in->cat, in->rules);
	in->load_s = hsictl_now_s() - t0;
	return 0;
}

void
score_input_free(score_input *in)
{
	hsi_catalog_free(in->cat);
	hsi_method_free(in->m);
	hsi_areas_fini(&in->ar);
	free(in->obs);
	free(in->rules);
	if (in->db) {
		hsi_db_close(in->db);
	}
	memset(in, 0, sizeof(*in));
}

int
score_compute(const score_input *in, const hsi_method *m, hsi_panel *p,
    hsi_result *r, int changes)
{
	int rv = hsi_panel_build(&in->ar, m->n_leaves, in->rules, in->obs,
	    in->n_obs, in->first, in->last, p);
	if (rv == 0 && (rv = hsi_result_init(r, m, p, changes)) == 0) {
		rv = hsi_engine_run(m, &in->ar, p, r);
	}
	return rv;
}

/* ---- output ---------------------------------------------------------------
 */

static void
num(FILE *f, double v)
{
	if (!isnan(v)) {
		fprintf(f, "%.17g", v == 0 ? 0.0 : v); /* never "-0" */
	}
}

static void
csv_text(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"') {
			fputc('"', f);
		}
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
write_csv(FILE *f, const score_input *in, const hsi_panel *p,
    const hsi_result *r, int composite_only)
{
	const hsi_method *m = in->m;
	size_t            A = p->n_areas, N = m->n_nodes, G = m->n_groups;
	fputs("period,area,level,node,kind,value,published,coverage,rank,band,"
	      "delta,rank_change,contribution,raw,imputed\n",
	    f);
	for (size_t y = 0; y < p->n_years; y++) {
		char period[HSI_PERIOD_MAX];
		int  year = p->first_year + (int) y;
		if (!p->year_present[y] || (in->only && year != in->only)) {
			continue;
		}
		hsi_year_label(m, year, period, sizeof(period));
		for (size_t a = 0; a < A; a++) {
			size_t ya = y * A + a;
			for (size_t i = composite_only ? N - 1 : 0; i < N;
			     i++) {
				const hsi_mnode *n = &m->nodes[i];
				double           v = r->score[ya * N + i];
				fprintf(f, "%s,", period);
				csv_text(f, in->ar.code[a]);
				fputc(',', f);
				csv_text(
				    f, in->ar.level_name[in->ar.level[a]]);
				fprintf(f, ",%s,%s,", n->code,
				    i + 1 == N        ? "index"
				        : n->is_group ? "group"
				                      : "indicator");
				num(f, v);
				fputc(',', f);
				num(f, hsi_round(v, m->decimals));
				fputc(',', f);
				num(f, hsi_result_coverage(r, m, ya, i));
				fputc(',', f);
				if (n->is_group) {
					size_t g
					    = ya * G + (size_t) n->group_ord;
					int rk = r->rank[g];
					if (rk > 0) {
						fprintf(f, "%d", rk);
					}
					fputc(',', f);
					const hsi_band *b = isnan(v)
					    ? NULL
					    : hsi_method_band(
					        m, hsi_round(v, m->decimals));
					fputs(b ? b->code : "", f);
					fputc(',', f);
					num(f, hsi_result_delta(r, y, a, i));
					fputc(',', f);
					if (r->rank_change
					    && r->rank_change[g]
					        != HSI_NO_RANK_CHANGE) {
						fprintf(f, "%d",
						    r->rank_change[g]);
					}
					fputc(',', f);
					num(f,
					    (r->contrib
					            ? r->contrib[ya * N + i]
					            : NAN));
					fputs(",,\n", f);
				} else {
					fputs(",,", f);
					num(f, hsi_result_delta(r, y, a, i));
					fputs(",,", f);
					num(f,
					    (r->contrib
					            ? r->contrib[ya * N + i]
					            : NAN));
					fputc(',', f);
					num(f,
					    hsi_result_raw(
					        r, p, ya, (size_t) n->col));
					fprintf(f, ",%d\n",
					    hsi_result_imputed(
					        r, ya, (size_t) n->col));
				}
			}
		}
	}
}

static json_t *
jnum(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static void
write_json(
    FILE *f, const score_input *in, const hsi_panel *p, const hsi_result *r)
{
	const hsi_method *m = in->m;
	size_t            A = p->n_areas, N = m->n_nodes, G = m->n_groups;
	json_t           *meth = hsi_method_to_json(m);
	if (m->version > 0) {
		json_object_set_new(meth, "version", json_integer(m->version));
	}
	json_t *res = json_array();
	for (size_t y = 0; y < p->n_years; y++) {
		char period[HSI_PERIOD_MAX];
		int  year = p->first_year + (int) y;
		if (!p->year_present[y] || (in->only && year != in->only)) {
			continue;
		}
		hsi_year_label(m, year, period, sizeof(period));
		for (size_t a = 0; a < A; a++) {
			size_t  ya    = y * A + a;
			json_t *nodes = json_object();
			json_t *top   = NULL;
			for (size_t i = 0; i < N; i++) {
				const hsi_mnode *n = &m->nodes[i];
				double           v = r->score[ya * N + i];
				json_t          *o = json_pack(
				             "{s:o, s:o, s:o, s:o, s:o}", "value",
				             jnum(v), "published",
				             jnum(hsi_round(v, m->decimals)),
				             "coverage",
				             jnum(hsi_result_coverage(r, m, ya, i)),
				             "delta",
				             jnum(hsi_result_delta(r, y, a, i)),
				             "contribution",
				             jnum((r->contrib ? r->contrib[ya * N + i]
				                              : NAN)));
				if (n->is_group) {
					size_t g
					    = ya * G + (size_t) n->group_ord;
					int             rk = r->rank[g];
					const hsi_band *b  = isnan(v)
					     ? NULL
					     : hsi_method_band(
					         m, hsi_round(v, m->decimals));
					json_object_set_new(o, "rank",
					    rk > 0 ? json_integer(rk)
					           : json_null());
					json_object_set_new(o, "rank_change",
					    r->rank_change[g]
					            != HSI_NO_RANK_CHANGE
					        ? json_integer(
					            r->rank_change[g])
					        : json_null());
					json_object_set_new(o, "band",
					    b ? json_pack("{s:s, s:s, s:s}",
					        "code", b->code, "th", b->th,
					        "en", b->en)
					      : json_null());
				} else {
					json_object_set_new(o, "raw",
					    jnum(hsi_result_raw(
					        r, p, ya, (size_t) n->col)));
					json_object_set_new(o, "imputed",
					    json_boolean(hsi_result_imputed(
					        r, ya, (size_t) n->col)));
				}
				if (i + 1 == N) {
					top = o;
				} else {
					json_object_set_new(nodes, n->code, o);
				}
			}
			json_t *row = json_pack("{s:s, s:s, s:s}", "period",
			    period, "area", in->ar.code[a], "level",
			    in->ar.level_name[in->ar.level[a]]);
			json_object_set(
			    row, "composite", json_object_get(top, "value"));
			json_object_set(row, "published",
			    json_object_get(top, "published"));
			json_object_set(
			    row, "rank", json_object_get(top, "rank"));
			json_object_set(
			    row, "band", json_object_get(top, "band"));
			json_object_set(
			    row, "delta", json_object_get(top, "delta"));
			json_object_set(row, "rank_change",
			    json_object_get(top, "rank_change"));
			json_object_set(
			    row, "coverage", json_object_get(top, "coverage"));
			json_object_set_new(row, "nodes", nodes);
			json_decref(top);
			json_array_append_new(res, row);
		}
	}
	json_t *doc
	    = json_pack("{s:o, s:o}", "methodology", meth, "results", res);
	json_dumpf(doc, f,
	    JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	fputc('\n', f);
	json_decref(doc);
}

static void
score_usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl score --methodology M.json --data D.csv "
	    "[--catalog C.csv] [--areas A.csv]\n"
	    "                    [--period P] [--format csv|json] [--out "
	    "FILE] "
	    "[--composite-only]\n"
	    "                    [--no-changes]\n"
	    "                    [--repeat N] [--timing]\n"
	    "       hsictl score [--db-url URL] [--methodology-version N] "
	    "[--as-of TIME] [--period P]\n"
	    "                    [--write] [--format csv|json] [--out FILE] "
	    "[--timing]\n\n"
	    "Computes the index with the scorer's engine (docs/methodology.md "
	    "§7).\n"
	    "Offline: from files. With no --data: from PostgreSQL "
	    "(--db-url, default $HSI_DB_URL),\n"
	    "the active methodology (or version N), the data as they are or "
	    "were at --as-of;\n"
	    "--write stores the scores like the scorer does.\n"
	    "--no-changes skips rank changes and contributions (scores and "
	    "ranks only).\n"
	    "--repeat N times the computation N times (best kept); --timing "
	    "prints a JSON line of\n"
	    "timings on stderr.\n");
}

void
score_opts_init(score_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->db_url = getenv("HSI_DB_URL");
	o->format = "csv";
}

int
score_opts_take(score_opts *o, int c, const char *arg)
{
	switch (c) {
	case SO_METH:
		o->methodology = arg;
		return 1;
	case SO_DATA:
		o->data = arg;
		return 1;
	case SO_CAT:
		o->catalog = arg;
		return 1;
	case SO_AREAS:
		o->areas = arg;
		return 1;
	case SO_PERIOD:
		o->period = arg;
		return 1;
	case SO_FORMAT:
		o->format = arg;
		return 1;
	case SO_OUT:
		o->out = arg;
		return 1;
	case SO_DB:
		o->db_url = arg;
		return 1;
	case SO_ASOF:
		o->as_of = arg;
		return 1;
	default:
		return 0;
	}
}

int
hsictl_long_arg(const char *cmd, const char *name, const char *s, long min,
    long max, long *out)
{
	char *end;
	errno  = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
		    "hsictl %s: --%s '%s': give a whole number from %ld to "
		    "%ld\n",
		    cmd, name, s, min, max);
		return 2;
	}
	*out = v;
	return 0;
}

int
hsictl_score(int argc, char **argv)
{
	enum {
		O_COMP = SO_OWN,
		O_REPEAT,
		O_TIMING,
		O_VERSION,
		O_WRITE,
		O_NOCHG
	};
	static const struct option opts[] = {
		SCORE_INPUT_OPTIONS,
		{ "no-changes", no_argument, NULL, O_NOCHG },
		{ "composite-only", no_argument, NULL, O_COMP },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "timing", no_argument, NULL, O_TIMING },
		{ "methodology-version", required_argument, NULL, O_VERSION },
		{ "write", no_argument, NULL, O_WRITE },
		{ NULL, 0, NULL, 0 },
	};
	score_opts o;
	long       repeat = 1, version = 0;
	int        comp = 0, timing = 0, write = 0, no_changes = 0, c;
	score_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (score_opts_take(&o, c, optarg)) {
			continue;
		}
		switch (c) {
		case O_COMP:
			comp = 1;
			break;
		case O_REPEAT:
			if (hsictl_long_arg(
			        "score", "repeat", optarg, 1, 100000, &repeat)
			    != 0) {
				return 2;
			}
			break;
		case O_TIMING:
			timing = 1;
			break;
		case O_VERSION:
			if (hsictl_long_arg("score", "methodology-version",
			        optarg, 1, INT32_MAX, &version)
			    != 0) {
				return 2;
			}
			o.version = (int) version;
			break;
		case O_WRITE:
			write = 1;
			break;
		case O_NOCHG:
			no_changes = 1;
			break;
		case SO_HELP:
			score_usage(stdout);
			return 0;
		default:
			score_usage(stderr);
			return 2;
		}
	}
	const char *format = o.format, *out = o.out;
	if (optind < argc
	    || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
	    || (write && o.data != NULL)) {
		fprintf(stderr, "hsictl score: %s\n",
		    optind < argc ? "unexpected argument"
		        : write   ? "--write works on the database, not files"
		                  : "--format is csv or json");
		score_usage(stderr);
		return 2;
	}
	score_input in;
	int         rv = score_input_load(&o, &in);
	if (rv != 0) {
		score_input_free(&in);
		return rv;
	}
	hsi_panel  p;
	hsi_result r;
	double     best = INFINITY;
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	for (long k = 0; rv == 0 && k < repeat; k++) {
		hsi_result_fini(&r);
		hsi_panel_fini(&p);
		double t0 = hsictl_now_s();
		rv        = score_compute(&in, in.m, &p, &r, !no_changes);
		double dt = hsictl_now_s() - t0;
		best      = dt < best ? dt : best;
	}
	if (rv == 0 && in.only
	    && (in.only < p.first_year
	        || in.only >= p.first_year + (int) p.n_years
	        || !p.year_present[in.only - p.first_year])) {
		char label[HSI_PERIOD_MAX];
		hsi_year_label(in.m, in.only, label, sizeof(label));
		fprintf(stderr,
		    "hsictl score: no data for %s (the data cover %d to %d)\n",
		    label, in.span_first, in.span_last);
		hsi_result_fini(&r);
		hsi_panel_fini(&p);
		score_input_free(&in);
		return 1;
	}
	double write_s = 0, t0 = hsictl_now_s();
	if (rv == 0 && write) {
		for (size_t y = 0; rv == 0 && y < p.n_years; y++) {
			long long seq;
			int       year = p.first_year + (int) y;
			if (!p.year_present[y]
			    || (in.only && year != in.only)) {
				continue;
			}
			rv = hsi_scoredb_write(
			    in.db, in.m, &in.ar, &p, &r, y, &seq);
		}
		if (rv != 0) {
			fprintf(stderr, "hsictl: cannot write scores\n");
		}
	}
	if (rv == 0 && (out != NULL || !write)) {
		FILE *f = out ? fopen(out, "w") : stdout;
		if (f == NULL) {
			fprintf(
			    stderr, "hsictl: %s: %s\n", out, strerror(errno));
			rv = HSI_EIO;
		} else {
			if (strcmp(format, "json") == 0) {
				write_json(f, &in, &p, &r);
			} else {
				write_csv(f, &in, &p, &r, comp);
			}
			if ((out ? fclose(f) : fflush(f)) != 0) {
				fprintf(
				    stderr, "hsictl: cannot write output\n");
				rv = HSI_EIO;
			}
		}
	}
	write_s = hsictl_now_s() - t0;
	if (timing) {
		fprintf(stderr,
		    "{\"rows\": %zu, \"areas\": %zu, \"periods\": %zu, "
		    "\"load_s\": %.6f, \"read_s\": %.6f, \"compute_s\": %.6f, "
		    "\"write_s\": %.6f, \"total_s\": %.6f}\n",
		    in.n_obs, in.ar.n, p.n_years, in.load_s, in.load_s, best,
		    write_s, in.load_s + best + write_s);
	}
	if (rv != 0 && rv != HSI_EIO) {
		fprintf(stderr, "hsictl: %s\n", hsi_strerror(rv));
	}
	hsi_result_fini(&r);
	hsi_panel_fini(&p);
	score_input_free(&in);
	return rv == 0 ? 0 : 1;
}
