/*
 * fuzz_method.c: libFuzzer target for hsi_method_parse (methodology
 * documents, docs/methodology.md §1) against the built-in catalog. A parse
 * must fail with a message, or give a tree whose links are consistent and
 * whose document parses back to the same document; the engine then runs
 * on a small panel without reading out of bounds.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "engine.h"
#include "error.h"
#include "method.h"
#include "panel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hsi_catalog *cat;

static void
check_tree(const hsi_method *m)
{
	if (m->n_nodes == 0 || m->nodes[m->n_nodes - 1].parent != -1) {
		abort();
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const hsi_mnode *n = &m->nodes[i];
		if (i + 1 < m->n_nodes
		    && (n->parent <= (int) i
		        || (size_t) n->parent >= m->n_nodes)) {
			abort();
		}
		if (!n->is_group && m->leaf_node[n->col] != (int) i) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	if (cat == NULL
	    && hsi_catalog_from_refdata(NULL, 0, NULL, &cat, err, sizeof(err))
	        != 0) {
		abort();
	}
	hsi_method *m = NULL;
	if (hsi_method_parse(
	        (const char *) data, size, cat, &m, err, sizeof(err))
	    != 0) {
		if (m != NULL || err[0] == '\0') {
			abort();
		}
		return 0;
	}
	check_tree(m);
	json_t     *j = hsi_method_to_json(m);
	hsi_method *k = NULL;
	if (hsi_method_from_json(j, cat, &k, err, sizeof(err)) != 0
	    || k->n_nodes != m->n_nodes) {
		abort();
	}
	json_decref(j);
	hsi_method_free(k);
	/* Two years, three areas under one parent, a few missing values. */
	hsi_areas ar;
	memset(&ar, 0, sizeof(ar));
	hsi_areas_add(&ar, "R", NULL, "region", NAN);
	hsi_areas_add(&ar, "P1", "R", m->rank_level, 10);
	hsi_areas_add(&ar, "P2", "R", m->rank_level, NAN);
	if (hsi_areas_link(&ar, m->rank_level, err, sizeof(err)) != 0) {
		abort();
	}
	size_t        cells      = 2 * 3 * m->n_leaves;
	double       *v          = malloc((cells + 1) * sizeof(double));
	unsigned char present[2] = { 1, 1 };
	for (size_t c = 0; c < cells; c++) {
		v[c] = c % 7 == 3 ? NAN : (double) (c % 11) - 2.5;
	}
	hsi_panel  p = { 2023, 2, 3, m->n_leaves, v, present };
	hsi_result r;
	if (hsi_result_init(&r, m, &p, 1) == 0) {
		if (hsi_engine_run(m, &ar, &p, &r) != 0) {
			abort();
		}
		for (size_t k2 = 0; k2 < 2 * 3 * m->n_nodes; k2++) {
			double s = r.score[k2];
			if (!isnan(s) && !(s >= 0 && s <= 1)) {
				abort();
			}
		}
		hsi_result_fini(&r);
	}
	free(v);
	hsi_areas_fini(&ar);
	hsi_method_free(m);
	return 0;
}
