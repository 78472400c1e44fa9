/*
 * index.c: the index operations' routes and parameters, GET /v1/index
 * (getIndex) and GET /v1/rankings (getRankings); see index.h for how the
 * module is split. Both render a snapshot of one period (index_load.c):
 * the current one from memory, refreshed by ScoreEvents, tagged with the
 * methodology and score event sequence ("m1-s42"), so a client polling
 * with If-None-Match gets 304 until the period is recomputed; or, with
 * as_of, one computed for the occasion and tagged from its bytes.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "error.h"
#include "index.h"
#include "reply.h"
#include "routes.h"

/* The seven dimensions of the revised 2023 framework, in display order;
 * every area shows all of them (null when missing or not in the
 * methodology), so clients never have to guess whether a key is absent
 * or unknown. */
static const char *const dimensions[] = { "health", "living", "education",
	"economy", "services", "personal", "political", NULL };
#define N_DIMS 7

/* ---- shared by the handlers ----------------------------------------------
 */

int
hsi_index_year_param(hsi_call *c, const char *name, int *year)
{
	const hsi_qvalue *v = hsi_call_value(c, name);
	if (v == NULL) {
		return 0;
	}
	if (v->period.freq == HSI_FREQ_ANNUAL
	    || v->period.freq == HSI_FREQ_FISCAL) {
		*year = v->period.year;
		return 0;
	}
	char detail[300];
	snprintf(detail, sizeof(detail),
	    "query parameter '%s' is '%s': results are by index year; send "
	    "a year, e.g. %s=%d (or FY%d under fiscal index years)",
	    name, v->text, name, v->period.year, v->period.year);
	return hsi_index_bad_param(c, name, detail);
}

int
hsi_index_bad_param(hsi_call *c, const char *name, const char *detail)
{
	hsi_problem p  = { .status = MHD_HTTP_BAD_REQUEST,
		 .slug             = "invalid-parameter",
		 .title            = "Invalid query parameter",
		 .detail           = detail,
		 .parameter        = name };
	int         rv = hsi_reply_problem_ex(c, &p, NULL);
	return rv ? rv : HSI_EINVAL;
}

int
hsi_index_not_found(hsi_call *c, const char *detail)
{
	int rv = hsi_reply_problem(
	    c, MHD_HTTP_NOT_FOUND, "not-found", "Not found", detail);
	return rv ? rv : HSI_ENOENT;
}

int
hsi_index_load_failed(hsi_call *c, int rv, const hsi_iload *l)
{
	if (rv == HSI_ENOENT) {
		return hsi_index_not_found(c, l->detail);
	}
	if (rv == HSI_EDB) {
		return rv; /* 503 queued */
	}
	rv = hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
	    "Internal error",
	    "the server failed to read the results (logged); try again, "
	    "and tell the operators if it persists");
	return rv ? rv : HSI_EIO;
}

int
hsi_index_not_modified(hsi_call *c, const char *etag, int *rv)
{
	char tag[HSI_ETAG_MAX];
	if (etag[0] == '\0') {
		return 0; /* made from the bytes: known once they are */
	}
	if (hsi_call_format(c) != HSI_FMT_CSV) {
		snprintf(tag, sizeof(tag), "%s", etag);
	} else if (hsi_etag_variant(etag, "csv", tag) != 0) {
		return 0;
	}
	if (!hsi_etag_match(
	        hsi_call_header(c, MHD_HTTP_HEADER_IF_NONE_MATCH), tag)) {
		return 0;
	}
	*rv = hsi_reply_not_modified(c, tag);
	return 1;
}

json_t *
hsi_index_num(double v)
{
	return isnan(v) ? json_null() : json_real(v == 0 ? 0.0 : v);
}

json_t *
hsi_index_published(const hsi_isnap *s, double value)
{
	return hsi_index_num(hsi_round(value, s->decimals));
}

json_t *
hsi_index_band(const hsi_isnap *s, const hsi_isnap_cell *cell)
{
	const hsi_isnap_band *b = hsi_isnap_band_at(s, cell->band);
	if (b == NULL) {
		return json_null();
	}
	return json_pack("{s:s, s:s, s:s}", "code", hsi_isnap_str(s, b->code),
	    "th", hsi_isnap_str(s, b->th), "en", hsi_isnap_str(s, b->en));
}

json_t *
hsi_index_rank(int32_t rank)
{
	return rank > 0 ? json_integer(rank) : json_null();
}

json_t *
hsi_index_rank_delta(int32_t rank_delta)
{
	return rank_delta != HSI_ISNAP_NO_RANK_DELTA ? json_integer(rank_delta)
	                                             : json_null();
}

json_t *
hsi_index_change(const hsi_isnap_cell *cell)
{
	if (isnan(cell->delta)
	    && cell->rank_delta == HSI_ISNAP_NO_RANK_DELTA) {
		return json_null();
	}
	return json_pack("{s:o, s:o}", "delta", hsi_index_num(cell->delta),
	    "rank_delta", hsi_index_rank_delta(cell->rank_delta));
}

int
hsi_index_reply(
    hsi_call *c, json_t *doc, const char *const *columns, const char *etag)
{
	if (doc == NULL) {
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL); /* no memory */
	}
	if (hsi_call_format(c) == HSI_FMT_CSV) {
		return hsi_reply_page(c, doc, NULL, columns, etag);
	}
	return hsi_reply_json(c, MHD_HTTP_OK, doc, etag);
}

json_t *
hsi_index_head(const hsi_isnap *s, int with_name)
{
	const char *as_of = hsi_isnap_str(s, s->as_of);
	json_t     *o     = json_pack("{s:s, s:i}", "period",
	            hsi_isnap_str(s, s->period), "methodology", (int) s->methodology);
	if (o == NULL) {
		return NULL;
	}
	if (with_name) {
		json_object_set_new(o, "methodology_name",
		    json_string(hsi_isnap_str(s, s->name)));
	}
	json_object_set_new(
	    o, "as_of", as_of ? json_string(as_of) : json_null());
	json_object_set_new(o, "event_seq", json_integer((json_int_t) s->seq));
	return o;
}

/* ---- the order of areas ---------------------------------------------------
 */

typedef struct {
	int         area;
	int         level; /* 0 nation, 1 region, 2 province, 3 other */
	int32_t     rank;  /* 0: none */
	double      value;
	const char *code;
} order_key;

/* Level, then rank (unranked last), then value (highest first, missing
 * last), then code: provinces in rank order, and ties by code. */
static int
order_cmp(const void *pa, const void *pb)
{
	const order_key *a = pa, *b = pb;
	if (a->level != b->level) {
		return a->level < b->level ? -1 : 1;
	}
	if ((a->rank > 0) != (b->rank > 0)) {
		return a->rank > 0 ? -1 : 1;
	}
	if (a->rank != b->rank) {
		return a->rank < b->rank ? -1 : 1;
	}
	if (isnan(a->value) != isnan(b->value)) {
		return isnan(a->value) ? 1 : -1;
	}
	if (!isnan(a->value) && a->value != b->value) {
		return a->value > b->value ? -1 : 1;
	}
	return strcmp(a->code, b->code);
}

/* The areas of s that keep() accepts, sorted by order_cmp on node's
 * cells; by_value: also order unranked areas by their value. Returns a
 * heap array (caller frees) of *n, or NULL when out of memory. */
static order_key *
ordered(const hsi_isnap *s, size_t node, int by_value,
    int (*keep)(const hsi_isnap *s, size_t a, const void *arg),
    const void *arg, size_t *n)
{
	order_key *k = malloc((s->n_areas + 1) * sizeof(*k));
	*n           = 0;
	for (size_t a = 0; k != NULL && a < s->n_areas; a++) {
		if (!keep(s, a, arg)) {
			continue;
		}
		const hsi_isnap_area *ar   = hsi_isnap_area_at(s, a);
		const hsi_isnap_cell *cell = hsi_isnap_cell_at(s, a, node);
		unsigned   bit = hsi_ilevel_bit(hsi_isnap_str(s, ar->level));
		order_key *o   = &k[(*n)++];
		o->area        = (int) a;
		o->level       = bit == HSI_ILEVEL_NATION ? 0
		          : bit == HSI_ILEVEL_REGION      ? 1
		          : bit == HSI_ILEVEL_PROVINCE    ? 2
		                                          : 3;
		o->rank        = cell->rank;
		o->value
		    = by_value ? hsi_round(cell->value, s->decimals) : NAN;
		o->code = hsi_isnap_str(s, ar->code);
	}
	if (k != NULL) {
		qsort(k, *n, sizeof(*k), order_cmp);
	}
	return k;
}

/* ---- getIndex -------------------------------------------------------------
 */

typedef struct {
	unsigned          levels; /* HSI_ILEVEL_* */
	const char       *parent; /* or NULL */
	const hsi_qvalue *areas;  /* or NULL */
} index_filter;

static int
index_keep(const hsi_isnap *s, size_t a, const void *arg)
{
	const index_filter   *f      = arg;
	const hsi_isnap_area *ar     = hsi_isnap_area_at(s, a);
	const char           *parent = hsi_isnap_str(s, ar->parent);
	if (!(hsi_ilevel_bit(hsi_isnap_str(s, ar->level)) & f->levels)) {
		return 0;
	}
	if (f->parent != NULL
	    && (parent == NULL || strcmp(parent, f->parent) != 0)) {
		return 0;
	}
	if (f->areas == NULL) {
		return 1;
	}
	for (int i = 0; i < f->areas->n_items; i++) {
		if (strcmp(f->areas->items[i], hsi_isnap_str(s, ar->code))
		    == 0) {
			return 1;
		}
	}
	return 0;
}

/* The filters of the request; 404 queued for an area the index does not
 * have. */
static int
index_filters(hsi_call *c, const hsi_isnap *s, index_filter *f)
{
	const char *level = hsi_call_text(c, "level");
	char        detail[300];
	f->levels       = level ? hsi_ilevel_bit(level) : HSI_ILEVEL_INDEX;
	f->parent       = hsi_call_text(c, "parent");
	f->areas        = hsi_call_value(c, "area");
	const char *bad = NULL;
	if (f->parent != NULL && hsi_isnap_find_area(s, f->parent) < 0) {
		bad = f->parent;
	}
	for (int i = 0; bad == NULL && f->areas && i < f->areas->n_items;
	     i++) {
		if (hsi_isnap_find_area(s, f->areas->items[i]) < 0) {
			bad = f->areas->items[i];
		}
	}
	if (bad == NULL) {
		return 0;
	}
	snprintf(detail, sizeof(detail),
	    "area %s is not the nation, a region or a province, which are "
	    "what /v1/index lists; see /v1/areas, or "
	    "/v1/index/areas/%s?period=%s for an area below a province",
	    bad, bad, hsi_isnap_str(s, s->period));
	return hsi_index_not_found(c, detail);
}

/* One area's members; flat: the CSV row (band as its code, change and
 * dimensions as columns), else the IndexArea object. */
static json_t *
index_area(const hsi_isnap *s, size_t a, const int *dims, int flat)
{
	const hsi_isnap_area *ar   = hsi_isnap_area_at(s, a);
	const char           *lv   = hsi_isnap_str(s, ar->level);
	const hsi_isnap_cell *top  = hsi_isnap_cell_at(s, a, s->n_nodes - 1);
	json_t               *o    = json_object();
	json_t               *dobj = flat ? o : json_object();
	if (flat) {
		json_object_set_new(
		    o, "period", json_string(hsi_isnap_str(s, s->period)));
		json_object_set_new(
		    o, "methodology", json_integer(s->methodology));
	}
	json_object_set_new(
	    o, "area", json_string(hsi_isnap_str(s, ar->code)));
	json_object_set_new(o, "level", json_string(lv));
	json_object_set_new(
	    o, "name_th", json_string(hsi_isnap_str(s, ar->name_th)));
	json_object_set_new(
	    o, "name_en", json_string(hsi_isnap_str(s, ar->name_en)));
	json_object_set_new(o, "composite", hsi_index_num(top->value));
	json_object_set_new(
	    o, "published", hsi_index_published(s, top->value));
	json_object_set_new(o, "coverage", hsi_index_num(top->coverage));
	if (flat || strcmp(lv, "province") == 0) {
		json_object_set_new(o, "rank", hsi_index_rank(top->rank));
	}
	if (flat) {
		const hsi_isnap_band *b = hsi_isnap_band_at(s, top->band);
		json_object_set_new(o, "band",
		    b ? json_string(hsi_isnap_str(s, b->code)) : json_null());
		json_object_set_new(o, "delta", hsi_index_num(top->delta));
		json_object_set_new(
		    o, "rank_delta", hsi_index_rank_delta(top->rank_delta));
	} else {
		json_object_set_new(o, "band", hsi_index_band(s, top));
		json_object_set_new(o, "change", hsi_index_change(top));
	}
	for (int d = 0; d < N_DIMS; d++) {
		json_object_set_new(dobj, dimensions[d],
		    dims[d] < 0
		        ? json_null()
		        : hsi_index_num(
		            hsi_isnap_cell_at(s, a, (size_t) dims[d])->value));
	}
	if (!flat) {
		json_object_set_new(o, "dimensions", dobj);
	}
	return o;
}

/* The node of each dimension in s (a group of that code), or -1. */
static void
find_dims(const hsi_isnap *s, int *dims)
{
	for (int d = 0; d < N_DIMS; d++) {
		dims[d] = hsi_isnap_find_node(s, dimensions[d]);
		if (dims[d] >= 0
		    && hsi_isnap_node_at(s, (size_t) dims[d])->kind
		        != HSI_INODE_GROUP) {
			dims[d] = -1;
		}
	}
}

/* The IndexResponse, or with csv the rows of its table. */
static json_t *
index_doc(const hsi_isnap *s, const index_filter *f, int csv)
{
	int        dims[N_DIMS];
	size_t     n;
	order_key *k       = ordered(s, s->n_nodes - 1, 0, index_keep, f, &n);
	json_t    *regions = json_array(), *provinces = json_array();
	json_t    *doc = csv ? json_array() : hsi_index_head(s, 1);
	if (k == NULL || regions == NULL || provinces == NULL || doc == NULL) {
		free(k);
		json_decref(regions);
		json_decref(provinces);
		json_decref(doc);
		return NULL;
	}
	find_dims(s, dims);
	if (!csv) {
		json_object_set_new(doc, "nation", json_null());
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = index_area(s, (size_t) k[i].area, dims, csv);
		if (csv) {
			json_array_append_new(doc, o);
		} else if (k[i].level == 0) {
			json_object_set_new(doc, "nation", o);
		} else {
			json_array_append_new(
			    k[i].level == 1 ? regions : provinces, o);
		}
	}
	if (csv) {
		json_decref(regions);
		json_decref(provinces);
	} else {
		json_object_set_new(doc, "regions", regions);
		json_object_set_new(doc, "provinces", provinces);
	}
	free(k);
	return doc;
}

static const char *const index_columns[] = { "period", "methodology", "area",
	"level", "name_th", "name_en", "composite", "published", "coverage",
	"rank", "band", "delta", "rank_delta", "health", "living", "education",
	"economy", "services", "personal", "political", NULL };

/* The whole current index as JSON: the common request, rendered once
 * per result version and kept next to the snapshot. */
static int
reply_plain(
    hsi_call *c, const hsi_iload *l, const index_filter *f, int version)
{
	json_t *doc  = index_doc(l->snap, f, 0);
	char   *body = doc
	      ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17))
	      : NULL;
	json_decref(doc);
	if (body == NULL) {
		return hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	}
	size_t len = strlen(body);
	hsi_iload_body_put(c, l->gen, hsi_isnap_str(l->snap, l->snap->period),
	    version, body, len, l->etag);
	int rv = hsi_reply_json_text(c, MHD_HTTP_OK, body, len, l->etag);
	free(body);
	return rv;
}

static int
get_index(hsi_call *c)
{
	hsi_iload_req req = { .period = hsi_call_text(c, "period"),
		.version = (int) hsi_call_int(c, "methodology", 0),
		.as_of   = hsi_call_text(c, "as_of"),
		.levels  = HSI_ILEVEL_INDEX };
	hsi_iload     l;
	index_filter  f;
	int           year, rv;
	int           plain = req.as_of == NULL && !hsi_call_value(c, "level")
	    && !hsi_call_value(c, "parent") && !hsi_call_value(c, "area")
	    && hsi_call_format(c) == HSI_FMT_JSON;
	if ((rv = hsi_index_year_param(c, "period", &year)) != 0) {
		return rv;
	}
	if (plain) {
		char  *body, etag[HSI_ETAG_MAX];
		size_t len;
		if (hsi_iload_body_get(
		        c, req.period, req.version, &body, &len, etag)
		    == 0) {
			rv = hsi_reply_json_text(
			    c, MHD_HTTP_OK, body, len, etag);
			free(body);
			return rv;
		}
	}
	if ((rv = hsi_iload_get(c, &req, &l)) != 0) {
		return hsi_index_load_failed(c, rv, &l);
	}
	if ((rv = index_filters(c, l.snap, &f)) == 0
	    && !hsi_index_not_modified(c, l.etag, &rv)) {
		int csv = hsi_call_format(c) == HSI_FMT_CSV;
		rv      = plain ? reply_plain(c, &l, &f, req.version)
		                : hsi_index_reply(c, index_doc(l.snap, &f, csv),
		                    index_columns, l.etag);
	}
	free(l.snap);
	return rv;
}

/* ---- getRankings ----------------------------------------------------------
 */

static int
level_keep(const hsi_isnap *s, size_t a, const void *arg)
{
	const unsigned *bit = arg;
	return (hsi_ilevel_bit(
	            hsi_isnap_str(s, hsi_isnap_area_at(s, a)->level))
	           & *bit)
	    != 0;
}

static json_t *
ranking_row(const hsi_isnap *s, size_t a, size_t node, int csv)
{
	const hsi_isnap_area *ar   = hsi_isnap_area_at(s, a);
	const hsi_isnap_cell *cell = hsi_isnap_cell_at(s, a, node);
	json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:o, s:o}", "rank",
	    hsi_index_rank(cell->rank), "area", hsi_isnap_str(s, ar->code),
	    "name_th", hsi_isnap_str(s, ar->name_th), "name_en",
	    hsi_isnap_str(s, ar->name_en), "value", hsi_index_num(cell->value),
	    "published", hsi_index_published(s, cell->value));
	if (o == NULL) {
		return NULL;
	}
	if (csv) {
		const hsi_isnap_band *b = hsi_isnap_band_at(s, cell->band);
		json_object_set_new(o, "band",
		    b ? json_string(hsi_isnap_str(s, b->code)) : json_null());
		json_object_set_new(o, "delta", hsi_index_num(cell->delta));
		json_object_set_new(
		    o, "rank_delta", hsi_index_rank_delta(cell->rank_delta));
	} else {
		json_object_set_new(o, "band", hsi_index_band(s, cell));
		json_object_set_new(o, "change", hsi_index_change(cell));
	}
	return o;
}

static json_t *
ranking_doc(const hsi_isnap *s, size_t node, const char *level, int csv)
{
	unsigned   bit = hsi_ilevel_bit(level);
	size_t     n;
	order_key *k     = ordered(s, node, 1, level_keep, &bit, &n);
	json_t    *items = json_array();
	json_t    *doc   = csv ? items : hsi_index_head(s, 0);
	if (k == NULL || items == NULL || doc == NULL) {
		free(k);
		json_decref(items);
		if (doc != items) {
			json_decref(doc);
		}
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(
		    items, ranking_row(s, (size_t) k[i].area, node, csv));
	}
	free(k);
	if (!csv) {
		json_object_set_new(doc, "code",
		    json_string(
		        hsi_isnap_str(s, hsi_isnap_node_at(s, node)->code)));
		json_object_set_new(doc, "level", json_string(level));
		json_object_set_new(doc, "items", items);
	}
	return doc;
}

static const char *const ranking_columns[] = { "rank", "area", "name_th",
	"name_en", "value", "published", "band", "delta", "rank_delta", NULL };

/* The node code asks for: a group of the tree (the root by default). */
static int
ranking_node(hsi_call *c, const hsi_isnap *s, size_t *node)
{
	const char *code = hsi_call_text(c, "code");
	char        detail[300];
	int i = code ? hsi_isnap_find_node(s, code) : (int) s->n_nodes - 1;
	if (i >= 0
	    && hsi_isnap_node_at(s, (size_t) i)->kind != HSI_INODE_INDICATOR) {
		*node = (size_t) i;
		return 0;
	}
	snprintf(detail, sizeof(detail),
	    "query parameter 'code' is '%s': %s of methodology %d; send %s "
	    "(the composite) or one of its groups, e.g. a dimension such as "
	    "economy",
	    code, i < 0 ? "not a node" : "an indicator, not a group",
	    (int) s->methodology,
	    hsi_isnap_str(s, hsi_isnap_node_at(s, s->n_nodes - 1)->code));
	return hsi_index_bad_param(c, "code", detail);
}

static int
get_rankings(hsi_call *c)
{
	hsi_iload_req req = { .period = hsi_call_text(c, "period"),
		.version = (int) hsi_call_int(c, "methodology", 0),
		.as_of   = hsi_call_text(c, "as_of"),
		.levels  = HSI_ILEVEL_INDEX };
	hsi_iload     l;
	size_t        node;
	char          level[32];
	int           year, rv;
	if ((rv = hsi_index_year_param(c, "period", &year)) != 0) {
		return rv;
	}
	if ((rv = hsi_iload_get(c, &req, &l)) != 0) {
		return hsi_index_load_failed(c, rv, &l);
	}
	const char *lv = hsi_call_text(c, "level");
	snprintf(level, sizeof(level), "%s",
	    lv ? lv : hsi_isnap_str(l.snap, l.snap->rank_level));
	req.levels = hsi_ilevel_bit(level);
	if ((req.levels & HSI_ILEVEL_INDEX) == 0) {
		/* Below provinces: not in the cached snapshot. */
		free(l.snap);
		if ((rv = hsi_iload_get(c, &req, &l)) != 0) {
			return hsi_index_load_failed(c, rv, &l);
		}
	}
	if ((rv = ranking_node(c, l.snap, &node)) == 0
	    && !hsi_index_not_modified(c, l.etag, &rv)) {
		rv = hsi_index_reply(c,
		    ranking_doc(l.snap, node, level,
		        hsi_call_format(c) == HSI_FMT_CSV),
		    ranking_columns, l.etag);
	}
	free(l.snap);
	return rv;
}

/* ---- routes ---------------------------------------------------------------
 */

static const char *const index_levels[]
    = { "nation", "region", "province", NULL };
static const char *const all_levels[]
    = { "nation", "region", "province", "district", "subdistrict", NULL };
#define NODE_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

#define Q_PERIOD                                                              \
	{                                                                     \
		.name = "period", .type = HSI_QT_PERIOD,                      \
		.flags = HSI_QP_REQUIRED, .example = "2024"                   \
	}
#define Q_METHODOLOGY                                                         \
	{                                                                     \
		.name = "methodology", .type = HSI_QT_INT, .min = 1,          \
		.max = INT_MAX, .example = "1"                                \
	}
#define Q_AS_OF                                                               \
	{                                                                     \
		.name = "as_of", .type = HSI_QT_TIME,                         \
		.flags = HSI_QP_DATE_END, .example = "2025-03-31"             \
	}

static const hsi_qparam index_query[] = {
	Q_PERIOD,
	Q_METHODOLOGY,
	Q_AS_OF,
	{ .name = "level", .type = HSI_QT_ENUM, .choices = index_levels },
	{ .name = "parent", .type = HSI_QT_AREA, .example = "RN" },
	{ .name        = "area",
	    .type      = HSI_QT_LIST,
	    .item      = HSI_QT_AREA,
	    .max_items = 100,
	    .example   = "10,50" },
	{ .name = NULL },
};

static const hsi_qparam area_path[] = {
	{ .name = "area", .type = HSI_QT_AREA, .example = "50" },
	{ .name = NULL },
};

static const hsi_qparam area_query[] = {
	Q_PERIOD,
	Q_METHODOLOGY,
	Q_AS_OF,
	{ .name = NULL },
};

static const hsi_qparam history_query[] = {
	{ .name        = "code",
	    .type      = HSI_QT_LIST,
	    .item      = HSI_QT_STRING,
	    .max_len   = 32,
	    .charset   = NODE_CHARS,
	    .max_items = 32,
	    .example   = "hsi,health" },
	{ .name = "from", .type = HSI_QT_PERIOD, .example = "2020" },
	{ .name = "to", .type = HSI_QT_PERIOD, .example = "2024" },
	Q_METHODOLOGY,
	{ .name = NULL },
};

static const hsi_qparam rankings_query[] = {
	Q_PERIOD,
	{ .name      = "code",
	    .type    = HSI_QT_STRING,
	    .max_len = 32,
	    .charset = NODE_CHARS,
	    .example = "economy" },
	{ .name = "level", .type = HSI_QT_ENUM, .choices = all_levels },
	Q_METHODOLOGY,
	Q_AS_OF,
	{ .name = NULL },
};

const hsi_route hsi_routes_index[] = {
	{ .method    = "GET",
	    .pattern = "/v1/index",
	    .handler = get_index,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = index_query,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/index/areas/{area}",
	    .handler = hsi_index_get_area,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = area_query,
	    .path    = area_path,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/index/areas/{area}/history",
	    .handler = hsi_index_get_history,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = history_query,
	    .path    = area_path,
	    .flags   = HSI_ROUTE_CSV },
	{ .method    = "GET",
	    .pattern = "/v1/rankings",
	    .handler = get_rankings,
	    .access  = HSI_ACCESS_PUBLIC_READ,
	    .query   = rankings_query,
	    .flags   = HSI_ROUTE_CSV },
	HSI_ROUTE_END,
};
