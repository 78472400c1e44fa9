/*
 * sensitivity.c: hsictl sensitivity -- how much do the ranks depend on
 * the weights (and the normalisation)? Monte Carlo over the methodology
 * (docs/methodology.md §9): per reference area the nominal rank, the
 * median and the 5-95 % interval of its rank over the runs; overall the
 * mean absolute rank shift.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hsictl.h"
#include "scorecmd.h"

/* xorshift64*: small, fast, reproducible from --seed. */
static double
uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double) ((*s * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *) a, y = *(const int *) b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static int
pct(const int *v, size_t n, double q)
{
	size_t k = (size_t) ceil(q * (double) n);
	return v[k > 0 ? k - 1 : 0];
}

static void
sens_usage(FILE *f)
{
	fprintf(f,
	    "usage: hsictl sensitivity --methodology M.json --data D.csv "
	    "[--catalog C.csv] [--areas A.csv]\n"
	    "                          [--period P] [--runs 1000] "
	    "[--weight-spread 0.25] [--normalisations]\n"
	    "                          [--seed S] [--format csv|json] "
	    "[--out FILE]\n"
	    "       (or, instead of files, --db-url URL [--as-of TIME])\n\n"
	    "Each run multiplies every weight by a factor drawn uniformly "
	    "from "
	    "[1-spread, 1+spread]\n"
	    "and, with --normalisations, draws each indicator's "
	    "normalisation from goalpost\n"
	    "(where it has goalposts), minmax and zscore. Reports each "
	    "area's nominal rank,\n"
	    "median rank and 5-95%% rank interval, and the mean absolute rank "
	    "shift.\n");
}

/* The root's ranks of year index yi into out[area] (0 = none). */
static void
root_ranks(const hsi_method *m, const hsi_result *r, size_t yi, int *out)
{
	size_t G = m->n_groups, A = r->n_areas;
	size_t g = (size_t) m->nodes[m->n_nodes - 1].group_ord;
	for (size_t a = 0; a < A; a++) {
		out[a] = r->rank[(yi * A + a) * G + g];
	}
}

int
hsictl_sensitivity(int argc, char **argv)
{
	enum { O_RUNS = SO_OWN, O_SPREAD, O_NORMS, O_SEED };
	static const struct option opts[] = {
		SCORE_INPUT_OPTIONS,
		{ "runs", required_argument, NULL, O_RUNS },
		{ "weight-spread", required_argument, NULL, O_SPREAD },
		{ "normalisations", no_argument, NULL, O_NORMS },
		{ "seed", required_argument, NULL, O_SEED },
		{ NULL, 0, NULL, 0 },
	};
	score_opts o;
	long       runs = 1000, seed_arg = 1;
	int        norms  = 0, c;
	double     spread = 0.25;
	char      *end;
	score_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (score_opts_take(&o, c, optarg)) {
			continue;
		}
		switch (c) {
		case O_RUNS:
			if (hsictl_long_arg("sensitivity", "runs", optarg, 1,
			        1000000, &runs)
			    != 0) {
				return 2;
			}
			break;
		case O_SPREAD:
			spread = strtod(optarg, &end);
			if (end == optarg || *end != '\0') {
				spread = -1; /* refused below */
			}
			break;
		case O_NORMS:
			norms = 1;
			break;
		case O_SEED:
			if (hsictl_long_arg("sensitivity", "seed", optarg, 0,
			        LONG_MAX, &seed_arg)
			    != 0) {
				return 2;
			}
			break;
		case SO_HELP:
			sens_usage(stdout);
			return 0;
		default:
			sens_usage(stderr);
			return 2;
		}
	}
	const char *format = o.format, *out = o.out;
	uint64_t    seed = (uint64_t) seed_arg;
	if (optind < argc || !(spread >= 0) || spread >= 1
	    || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
		fprintf(stderr, "hsictl sensitivity: %s\n",
		    optind < argc ? "unexpected argument"
		                  : "--weight-spread is a number in [0, 1), "
		                    "--format csv or json");
		sens_usage(stderr);
		return 2;
	}
	seed              = seed ? seed : 0x9E3779B97F4A7C15ull;
	uint64_t    seed0 = seed;
	score_input in;
	int         rv = score_input_load(&o, &in);
	if (rv != 0) {
		score_input_free(&in);
		return rv;
	}
	size_t     A = in.ar.n, R = (size_t) runs;
	int       *nominal = calloc(A + 1, sizeof(int));
	int       *ranks   = calloc(R * A + 1, sizeof(int));
	int       *tmp     = calloc(R + 1, sizeof(int));
	json_t    *doc     = hsi_method_to_json(in.m);
	hsi_panel  p;
	hsi_result r;
	size_t     yi    = 0;
	double     shift = 0;
	char       period[HSI_PERIOD_MAX];
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	if (!nominal || !ranks || !tmp || !doc) {
		rv = HSI_ENOMEM;
	}
	if (rv == 0 && (rv = score_compute(&in, in.m, &p, &r, 0)) == 0) {
		/* The year: --period, else the last one with data. */
		int year
		    = in.only ? in.only : p.first_year + (int) p.n_years - 1;
		yi = (size_t) (year - p.first_year);
		hsi_year_label(in.m, year, period, sizeof(period));
		if (year < p.first_year || !p.year_present[yi]) {
			fprintf(stderr, "hsictl: no data for %s\n", period);
			rv = HSI_ENOENT;
		} else {
			root_ranks(in.m, &r, yi, nominal);
		}
	}
	hsi_result_fini(&r);
	hsi_panel_fini(&p);
	for (size_t k = 0; rv == 0 && k < R; k++) {
		hsi_method *m;
		char        err[256];
		if ((rv = hsi_method_from_json(
		         doc, in.cat, &m, err, sizeof(err)))
		    != 0) {
			break;
		}
		m->version = in.m->version;
		for (size_t i = 0; i < m->n_nodes; i++) {
			hsi_mnode *n = &m->nodes[i];
			n->weight *= 1 - spread + 2 * spread * uniform(&seed);
			if (norms && !n->is_group) {
				int choices = n->has_goalposts ? 3 : 2;
				int pick    = (int) (uniform(&seed) * choices);
				static const hsi_norm opts3[]
				    = { HSI_NORM_MINMAX, HSI_NORM_ZSCORE,
					      HSI_NORM_GOALPOST };
				n->norm = opts3[pick];
			}
		}
		rv = score_compute(&in, m, &p, &r, 0);
		if (rv == 0) {
			root_ranks(m, &r, yi, &ranks[k * A]);
			double sum = 0;
			int    n   = 0;
			for (size_t a = 0; a < A; a++) {
				if (nominal[a] > 0 && ranks[k * A + a] > 0) {
					sum += abs(
					    ranks[k * A + a] - nominal[a]);
					n++;
				}
			}
			shift += n ? sum / n : 0;
		}
		hsi_result_fini(&r);
		hsi_panel_fini(&p);
		hsi_method_free(m);
	}
	FILE *f = NULL;
	if (rv == 0) {
		f = out ? fopen(out, "w") : stdout;
		if (f == NULL) {
			perror(out);
			rv = HSI_EIO;
		}
	}
	if (rv == 0) {
		json_t *areas = json_array();
		int     csv   = strcmp(format, "csv") == 0;
		if (csv) {
			fprintf(f,
			    "period,area,nominal_rank,median_rank,"
			    "rank_p05,rank_p95,runs\n");
		}
		for (size_t a = 0; a < A; a++) {
			size_t n = 0;
			for (size_t k = 0; k < R; k++) {
				if (ranks[k * A + a] > 0) {
					tmp[n++] = ranks[k * A + a];
				}
			}
			if (!in.ar.ref[a] || n == 0) {
				continue;
			}
			qsort(tmp, n, sizeof(int), cmp_int);
			double med = n % 2
			    ? tmp[n / 2]
			    : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
			if (csv) {
				fprintf(f, "%s,%s,%d,%g,%d,%d,%zu\n", period,
				    in.ar.code[a], nominal[a], med,
				    pct(tmp, n, 0.05), pct(tmp, n, 0.95), n);
			} else {
				json_array_append_new(areas,
				    json_pack("{s:s, s:i, s:f, s:i, s:i, s:I}",
				        "area", in.ar.code[a], "nominal_rank",
				        nominal[a], "median_rank", med,
				        "rank_p05", pct(tmp, n, 0.05),
				        "rank_p95", pct(tmp, n, 0.95), "runs",
				        (json_int_t) n));
			}
		}
		if (!csv) {
			json_t *j = json_pack(
			    "{s:s, s:i, s:f, s:b, s:I, s:f, s:o}", "period",
			    period, "runs", (int) runs, "weight_spread",
			    spread, "normalisations", norms, "seed",
			    (json_int_t) seed0, "mean_abs_rank_shift",
			    shift / (double) R, "areas", areas);
			json_dumpf(j, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
			fputc('\n', f);
			json_decref(j);
		} else {
			json_decref(areas);
		}
		fprintf(stderr,
		    "%s: %d runs, weight spread %g%s: mean absolute rank "
		    "shift "
		    "%.4f\n",
		    period, (int) runs, spread,
		    norms ? ", normalisations drawn" : "", shift / (double) R);
		if (out) {
			fclose(f);
		}
	}
	if (rv != 0 && rv != HSI_EIO && rv != HSI_ENOENT) {
		fprintf(stderr, "hsictl: %s\n", hsi_strerror(rv));
	}
	json_decref(doc);
	free(nominal);
	free(ranks);
	free(tmp);
	score_input_free(&in);
	return rv == 0 ? 0 : 1;
}
