/*
 * index_area.c: one area's results. GET /v1/index/areas/{area}
 * (getAreaResult) is every node of the tree for one period, rendered
 * from the period's snapshot like /v1/index (so the provinces, regions
 * and nation of the current period come from memory); an area below the
 * provinces has a snapshot of its own, read for the request.
 * GET /v1/index/areas/{area}/history (getAreaHistory) is a few nodes
 * across every period, read from score_area: one row per period, so
 * even twenty years are a small read, and its ETag follows the highest
 * score event sequence among them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "error.h"
#include "index.h"
#include "reply.h"

static const char *const kinds[] = { "index", "group", "indicator" };

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* ---- getAreaResult --------------------------------------------------------
 */

/* Node i of area a: the ResultNode, or with csv its row. */
static json_t *
node_json(const hsi_isnap *s, size_t a, size_t i, int csv)
{
	const hsi_isnap_node *n    = hsi_isnap_node_at(s, i);
	const hsi_isnap_cell *cell = hsi_isnap_cell_at(s, a, i);
	const hsi_isnap_area *ar   = hsi_isnap_area_at(s, a);
	json_t               *o    = json_object();
	if (o == NULL) {
		return NULL;
	}
	if (csv) {
		json_object_set_new(
		    o, "period", json_string(hsi_isnap_str(s, s->period)));
		json_object_set_new(
		    o, "area", json_string(hsi_isnap_str(s, ar->code)));
		json_object_set_new(
		    o, "area_level", json_string(hsi_isnap_str(s, ar->level)));
	}
	json_object_set_new(o, "code", json_string(hsi_isnap_str(s, n->code)));
	json_object_set_new(o, "level", json_string(kinds[n->kind]));
	json_object_set_new(o, "parent",
	    n->parent < 0
	        ? json_null()
	        : json_string(hsi_isnap_str(
	            s, hsi_isnap_node_at(s, (size_t) n->parent)->code)));
	if (!csv) {
		json_object_set_new(
		    o, "name_th", str_or_null(hsi_isnap_str(s, n->name_th)));
		json_object_set_new(
		    o, "name_en", str_or_null(hsi_isnap_str(s, n->name_en)));
		json_object_set_new(o, "weight", json_real(n->weight));
	}
	json_object_set_new(o, "value", hsi_index_num(cell->value));
	json_object_set_new(
	    o, "published", hsi_index_published(s, cell->value));
	json_object_set_new(o, "coverage", hsi_index_num(cell->coverage));
	json_object_set_new(o, "rank", hsi_index_rank(cell->rank));
	if (csv) {
		const hsi_isnap_band *b = hsi_isnap_band_at(s, cell->band);
		json_object_set_new(o, "band",
		    b ? json_string(hsi_isnap_str(s, b->code)) : json_null());
	} else {
		json_object_set_new(o, "band", hsi_index_band(s, cell));
	}
	json_object_set_new(o, "delta", hsi_index_num(cell->delta));
	json_object_set_new(
	    o, "rank_delta", hsi_index_rank_delta(cell->rank_delta));
	json_object_set_new(
	    o, "contribution", hsi_index_num(cell->contribution));
	json_object_set_new(o, "raw", hsi_index_num(cell->raw));
	json_object_set_new(o, "imputed",
	    cell->imputed < 0 ? json_null() : json_boolean(cell->imputed));
	return o;
}

/* The AreaResult of area a, or with csv the rows of its table. */
static json_t *
area_doc(const hsi_isnap *s, size_t a, int csv)
{
	const hsi_isnap_area *ar    = hsi_isnap_area_at(s, a);
	const hsi_isnap_cell *top   = hsi_isnap_cell_at(s, a, s->n_nodes - 1);
	json_t               *nodes = json_array();
	json_t               *doc   = csv ? nodes : hsi_index_head(s, 0);
	if (nodes == NULL || doc == NULL) {
		json_decref(nodes);
		json_decref(doc);
		return NULL;
	}
	for (size_t i = 0; i < s->n_nodes; i++) {
		json_array_append_new(nodes, node_json(s, a, i, csv));
	}
	if (csv) {
		return doc;
	}
	json_object_set_new(doc, "area",
	    json_pack("{s:s, s:s, s:o, s:s, s:s}", "code",
	        hsi_isnap_str(s, ar->code), "level",
	        hsi_isnap_str(s, ar->level), "parent",
	        str_or_null(hsi_isnap_str(s, ar->parent)), "name_th",
	        hsi_isnap_str(s, ar->name_th), "name_en",
	        hsi_isnap_str(s, ar->name_en)));
	json_object_set_new(doc, "composite", hsi_index_num(top->value));
	json_object_set_new(
	    doc, "published", hsi_index_published(s, top->value));
	json_object_set_new(doc, "coverage", hsi_index_num(top->coverage));
	json_object_set_new(doc, "rank", hsi_index_rank(top->rank));
	json_object_set_new(doc, "band", hsi_index_band(s, top));
	json_object_set_new(doc, "change", hsi_index_change(top));
	json_object_set_new(doc, "nodes", nodes);
	return doc;
}

static const char *const area_columns[]
    = { "period", "area", "area_level", "code", "level", "parent", "value",
	      "published", "coverage", "rank", "band", "delta", "rank_delta",
	      "contribution", "raw", "imputed", NULL };

int
hsi_index_get_area(hsi_call *c)
{
	const char   *code = hsi_call_text(c, "area");
	hsi_iload_req req  = { .period = hsi_call_text(c, "period"),
		 .version = (int) hsi_call_int(c, "methodology", 0),
		 .as_of   = hsi_call_text(c, "as_of"),
		 .levels  = HSI_ILEVEL_INDEX };
	hsi_iload     l;
	char          detail[300];
	int           year, a, rv;
	if ((rv = hsi_index_year_param(c, "period", &year)) != 0) {
		return rv;
	}
	/* Computed as of a date: one computation, with the area in it.
	 * Current: the cached snapshot, unless the area is below it. */
	req.area = req.as_of ? code : NULL;
	if ((rv = hsi_iload_get(c, &req, &l)) != 0) {
		return hsi_index_load_failed(c, rv, &l);
	}
	a = hsi_isnap_find_area(l.snap, code);
	if (a < 0 && req.as_of == NULL) {
		free(l.snap);
		req.levels = 0;
		req.area   = code;
		rv         = hsi_iload_get(c, &req, &l);
		if (rv != 0 && rv != HSI_ENOENT) {
			return hsi_index_load_failed(c, rv, &l);
		}
		a = rv == 0 ? hsi_isnap_find_area(l.snap, code) : -1;
	}
	if (a < 0) {
		free(l.snap);
		snprintf(detail, sizeof(detail),
		    "area %s has no results for period %s; check the code "
		    "(list /v1/areas)",
		    code, req.period);
		return hsi_index_not_found(c, detail);
	}
	if (!hsi_index_not_modified(c, l.etag, &rv)) {
		rv = hsi_index_reply(c,
		    area_doc(
		        l.snap, (size_t) a, hsi_call_format(c) == HSI_FMT_CSV),
		    area_columns, l.etag);
	}
	free(l.snap);
	return rv;
}

/* ---- getAreaHistory -------------------------------------------------------
 */

typedef struct {
	int         version; /* asked; 0: the active one */
	const char *area;
	hsi_method *m;
	PGresult   *area_row;
	PGresult   *rows;
	char        detail[300];
} history;

enum { H_PERIOD, H_SEQ, H_LEN, H_ORD, H_V, H_COV, H_RANK, H_BAND, H_D, H_RD };

static void
history_clear(history *h)
{
	hsi_method_free(h->m);
	PQclear(h->area_row);
	PQclear(h->rows);
	h->m        = NULL;
	h->area_row = h->rows = NULL;
}

static int
history_load(PGconn *db, void *arg)
{
	history *h = arg;
	char     mv[16];
	int      rv;
	history_clear(h);
	if ((rv = hsi_iload_method(
	         db, h->version, NULL, &h->m, h->detail, sizeof(h->detail)))
	    != 0) {
		return rv;
	}
	const char *pa[1] = { h->area };
	if ((rv = hsi_iload_query(db, "history area",
	         "SELECT code, level, parent, name_th, name_en FROM area "
	         "WHERE code = $1",
	         1, pa, &h->area_row))
	    != 0) {
		return rv;
	}
	if (PQntuples(h->area_row) == 0) {
		snprintf(h->detail, sizeof(h->detail),
		    "there is no area %s; list /v1/areas", h->area);
		return HSI_ENOENT;
	}
	snprintf(mv, sizeof(mv), "%d", h->m->version);
	const char *p[2] = { mv, h->area };
	rv               = hsi_iload_query(db, "history rows",
	                  "SELECT s.period, s.event_seq, array_length(s.value, 1), u.o, "
	                                "u.v, "
	                                "u.c, u.k, u.b, u.d, u.kd FROM score_area s, unnest(s.value, "
	                                "s.coverage, s.rank, s.band, s.delta, s.rank_delta) WITH "
	                                "ORDINALITY AS u(v, c, k, b, d, kd, o) "
	                                "WHERE s.methodology = $1::int AND s.area = $2 "
	                                "ORDER BY s.period COLLATE \"C\", u.o",
	                  2, p, &h->rows);
	if (rv == 0 && PQntuples(h->rows) == 0) {
		snprintf(h->detail, sizeof(h->detail),
		    "area %s has no results under methodology %d", h->area,
		    h->m->version);
		rv = HSI_ENOENT;
	}
	return rv;
}

/* The nodes asked for (code), or the root and its groups (the composite
 * and the dimensions), as flags in want. 400 queued for an unknown
 * code. */
static int
history_nodes(hsi_call *c, const hsi_method *m, unsigned char *want)
{
	const hsi_qvalue *v    = hsi_call_value(c, "code");
	size_t            root = m->n_nodes - 1;
	if (v == NULL) {
		const hsi_mnode *r = &m->nodes[root];
		want[root]         = 1;
		for (int k = 0; k < r->n_children; k++) {
			int ch   = m->children[r->first_child + k];
			want[ch] = (unsigned char) m->nodes[ch].is_group;
		}
		return 0;
	}
	for (int k = 0; k < v->n_items; k++) {
		size_t i = 0;
		while (i < m->n_nodes
		    && strcmp(m->nodes[i].code, v->items[k]) != 0) {
			i++;
		}
		if (i == m->n_nodes) {
			char detail[300];
			snprintf(detail, sizeof(detail),
			    "item %d of query parameter 'code' is '%s', which "
			    "is not a node of methodology %d; send node "
			    "codes such as %s,%s",
			    k + 1, v->items[k], m->version,
			    m->nodes[root].code, m->nodes[0].code);
			return hsi_index_bad_param(c, "code", detail);
		}
		want[i] = 1;
	}
	return 0;
}

/* The index year of a stored period label ("2024", "FY2024"). */
static int
label_year(const char *label)
{
	hsi_period pe;
	return hsi_period_parse(label, strlen(label), &pe, NULL) == 0 ? pe.year
	                                                              : 0;
}

static json_t *
history_band(const hsi_method *m, PGresult *r, int k, int csv)
{
	if (PQgetisnull(r, k, H_BAND)) {
		return json_null();
	}
	const char *code = PQgetvalue(r, k, H_BAND);
	for (size_t b = 0; !csv && b < m->n_bands; b++) {
		if (strcmp(m->bands[b].code, code) == 0) {
			return json_pack("{s:s, s:s, s:s}", "code", code, "th",
			    m->bands[b].th, "en", m->bands[b].en);
		}
	}
	return json_string(code);
}

static json_t *
history_row(const hsi_method *m, PGresult *r, int k, size_t i, int csv)
{
	const hsi_mnode *n = &m->nodes[i];
	double           v = hsi_iload_num(r, k, H_V);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "period", PQgetvalue(r, k, H_PERIOD), "code", n->code, "level",
	    kinds[i + 1 == m->n_nodes ? 0
	            : n->is_group     ? 1
	                              : 2],
	    "value", hsi_index_num(v), "published",
	    hsi_index_num(hsi_round(v, m->decimals)), "coverage",
	    hsi_index_num(hsi_iload_num(r, k, H_COV)), "rank",
	    hsi_index_rank(PQgetisnull(r, k, H_RANK)
	            ? 0
	            : atoi(PQgetvalue(r, k, H_RANK))),
	    "band", history_band(m, r, k, csv), "delta",
	    hsi_index_num(hsi_iload_num(r, k, H_D)), "rank_delta",
	    hsi_index_rank_delta(PQgetisnull(r, k, H_RD)
	            ? HSI_ISNAP_NO_RANK_DELTA
	            : atoi(PQgetvalue(r, k, H_RD))));
}

/* The AreaHistory, or with csv its rows, of the wanted nodes and the
 * periods from..to (0: open). */
static json_t *
history_doc(const history *h, const unsigned char *want, int from, int to,
    uint64_t seq, int csv)
{
	PGresult *r     = h->rows;
	json_t   *items = json_array();
	for (int k = 0; items != NULL && k < PQntuples(r); k++) {
		long ord  = atol(PQgetvalue(r, k, H_ORD));
		int  year = label_year(PQgetvalue(r, k, H_PERIOD));
		if (ord < 1 || ord > (long) h->m->n_nodes || !want[ord - 1]
		    || (from && year < from) || (to && year > to)) {
			continue;
		}
		json_array_append_new(
		    items, history_row(h->m, r, k, (size_t) ord - 1, csv));
	}
	if (csv || items == NULL) {
		return items;
	}
	PGresult *a = h->area_row;
	return json_pack("{s:{s:s, s:s, s:o, s:s, s:s}, s:i, s:I, s:o}",
	    "area", "code", PQgetvalue(a, 0, 0), "level", PQgetvalue(a, 0, 1),
	    "parent",
	    PQgetisnull(a, 0, 2) ? json_null()
	                         : json_string(PQgetvalue(a, 0, 2)),
	    "name_th", PQgetvalue(a, 0, 3), "name_en", PQgetvalue(a, 0, 4),
	    "methodology", h->m->version, "event_seq", (json_int_t) seq,
	    "items", items);
}

static const char *const history_columns[]
    = { "period", "code", "level", "value", "published", "coverage", "rank",
	      "band", "delta", "rank_delta", NULL };

/* from and to as index years (0: not given); 400 queued when to is
 * before from. */
static int
history_range(hsi_call *c, int *from, int *to)
{
	int rv;
	*from = *to = 0;
	if ((rv = hsi_index_year_param(c, "from", from)) != 0
	    || (rv = hsi_index_year_param(c, "to", to)) != 0) {
		return rv;
	}
	if (*from == 0 || *to == 0 || *from <= *to) {
		return 0;
	}
	char detail[200];
	snprintf(detail, sizeof(detail),
	    "query parameter 'to' is '%s', before from=%s; send a last year "
	    "on or after the first",
	    hsi_call_text(c, "to"), hsi_call_text(c, "from"));
	return hsi_index_bad_param(c, "to", detail);
}

/* The highest score event sequence of the area's rows: a new one
 * whenever any period is recomputed. */
static uint64_t
history_seq(const history *h)
{
	uint64_t seq = 0;
	for (int k = 0; k < PQntuples(h->rows); k++) {
		uint64_t s = strtoull(PQgetvalue(h->rows, k, H_SEQ), NULL, 10);
		seq        = s > seq ? s : seq;
	}
	return seq;
}

int
hsi_index_get_history(hsi_call *c)
{
	history        h;
	unsigned char *want = NULL;
	char           etag[HSI_ETAG_MAX];
	int            from, to, rv;
	if ((rv = history_range(c, &from, &to)) != 0) {
		return rv;
	}
	memset(&h, 0, sizeof(h));
	h.version = (int) hsi_call_int(c, "methodology", 0);
	h.area    = hsi_call_text(c, "area");
	rv        = hsi_call_run(c, history_load, &h);
	if (rv == HSI_ENOENT) {
		rv = hsi_index_not_found(c, h.detail);
	} else if (rv != 0 && rv != HSI_EDB) {
		hsi_iload l;
		memset(&l, 0, sizeof(l));
		rv = hsi_index_load_failed(c, rv, &l);
	}
	if (rv != 0) {
		history_clear(&h);
		return rv;
	}
	want = calloc(h.m->n_nodes, 1);
	if (want == NULL) {
		rv = hsi_reply_queue(c, MHD_HTTP_OK, NULL);
	} else if ((rv = history_nodes(c, h.m, want)) == 0) {
		uint64_t seq = history_seq(&h);
		snprintf(etag, sizeof(etag), "\"m%d-s%llu\"", h.m->version,
		    (unsigned long long) seq);
		if (!hsi_index_not_modified(c, etag, &rv)) {
			rv = hsi_index_reply(c,
			    history_doc(&h, want, from, to, seq,
			        hsi_call_format(c) == HSI_FMT_CSV),
			    history_columns, etag);
		}
	}
	free(want);
	history_clear(&h);
	return rv;
}
