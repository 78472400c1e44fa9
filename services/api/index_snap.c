/*
 * index_snap.c: the snapshot of one period's results (see index.h). The
 * layout is a head, four arrays at 8-byte aligned offsets and a string
 * table, in one allocation: the cache copies it in and out with memcpy,
 * and a request reads it in place, with no parsing (the /v1/index body
 * of 77 provinces and 49 nodes is ~200 KB of cells).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "index.h"

static const char magic[8] = { 'H', 'S', 'I', 'S', 'N', 'A', 'P', '1' };

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t) 7;
}

const char *
hsi_isnap_str(const hsi_isnap *s, uint32_t off)
{
	if (off == HSI_ISNAP_NULL) {
		return NULL;
	}
	return (const char *) s + s->off_strings + off;
}

const hsi_isnap_area *
hsi_isnap_area_at(const hsi_isnap *s, size_t a)
{
	return (const hsi_isnap_area *) ((const char *) s + s->off_areas) + a;
}

const hsi_isnap_node *
hsi_isnap_node_at(const hsi_isnap *s, size_t i)
{
	return (const hsi_isnap_node *) ((const char *) s + s->off_nodes) + i;
}

const hsi_isnap_cell *
hsi_isnap_cell_at(const hsi_isnap *s, size_t a, size_t i)
{
	return (const hsi_isnap_cell *) ((const char *) s + s->off_cells)
	    + a * s->n_nodes + i;
}

const hsi_isnap_band *
hsi_isnap_band_at(const hsi_isnap *s, int b)
{
	if (b < 0 || (uint32_t) b >= s->n_bands) {
		return NULL;
	}
	return (const hsi_isnap_band *) ((const char *) s + s->off_bands) + b;
}

int
hsi_isnap_find_area(const hsi_isnap *s, const char *code)
{
	size_t lo = 0, hi = s->n_areas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int    cmp = strcmp(
		       hsi_isnap_str(s, hsi_isnap_area_at(s, mid)->code), code);
		if (cmp == 0) {
			return (int) mid;
		}
		if (cmp < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

int
hsi_isnap_find_node(const hsi_isnap *s, const char *code)
{
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		if (strcmp(
		        hsi_isnap_str(s, hsi_isnap_node_at(s, i)->code), code)
		    == 0) {
			return (int) i;
		}
	}
	return -1;
}

unsigned
hsi_ilevel_bit(const char *level)
{
	static const char *const names[] = { "nation", "region", "province",
		"district", "subdistrict", NULL };
	for (unsigned i = 0; names[i] != NULL; i++) {
		if (strcmp(level, names[i]) == 0) {
			return 1u << i;
		}
	}
	return 0;
}

/* Where each part starts, for counts: the one computation of the layout,
 * used to build and to check. */
typedef struct {
	uint64_t areas, nodes, bands, cells, strings;
} layout;

static int
plan(uint64_t n_areas, uint64_t n_nodes, uint64_t n_bands, layout *l)
{
	if (n_nodes == 0 || n_nodes > HSI_METHOD_MAX_NODES
	    || n_areas > HSI_ISNAP_MAX_CELLS
	    || n_areas * n_nodes > HSI_ISNAP_MAX_CELLS
	    || n_bands > HSI_METHOD_MAX_BANDS) {
		return HSI_ETOOBIG;
	}
	l->areas = align8(sizeof(hsi_isnap));
	l->nodes = align8(l->areas + n_areas * sizeof(hsi_isnap_area));
	l->bands = align8(l->nodes + n_nodes * sizeof(hsi_isnap_node));
	l->cells = align8(l->bands + n_bands * sizeof(hsi_isnap_band));
	l->strings
	    = align8(l->cells + n_areas * n_nodes * sizeof(hsi_isnap_cell));
	return 0;
}

/* Every string offset of s inside its string table, NUL-ended there. */
static int
str_ok(const hsi_isnap *s, uint32_t off, int nullable)
{
	if (off == HSI_ISNAP_NULL) {
		return nullable;
	}
	size_t n = s->size_bytes - s->off_strings;
	return off < n
	    && memchr((const char *) s + s->off_strings + off, '\0', n - off)
	    != NULL;
}

int
hsi_isnap_valid(const void *p, size_t len)
{
	const hsi_isnap *s = p;
	layout           l;
	if (len < sizeof(*s) || memcmp(s->magic, magic, sizeof(magic)) != 0
	    || s->size_bytes != len
	    || plan(s->n_areas, s->n_nodes, s->n_bands, &l) != 0
	    || s->off_areas != l.areas || s->off_nodes != l.nodes
	    || s->off_bands != l.bands || s->off_cells != l.cells
	    || s->off_strings != l.strings || l.strings > len) {
		return 0;
	}
	int ok = str_ok(s, s->name, 0) && str_ok(s, s->rank_level, 0)
	    && str_ok(s, s->period, 0) && str_ok(s, s->as_of, 1);
	for (uint32_t a = 0; ok && a < s->n_areas; a++) {
		const hsi_isnap_area *ar = hsi_isnap_area_at(s, a);
		ok = str_ok(s, ar->code, 0) && str_ok(s, ar->level, 0)
		    && str_ok(s, ar->parent, 1) && str_ok(s, ar->name_th, 0)
		    && str_ok(s, ar->name_en, 0);
	}
	/* Post-order: a node's group comes after it, the root last. */
	for (uint32_t i = 0; ok && i < s->n_nodes; i++) {
		const hsi_isnap_node *n    = hsi_isnap_node_at(s, i);
		int                   root = i + 1 == s->n_nodes;
		ok = str_ok(s, n->code, 0) && str_ok(s, n->name_th, 1)
		    && str_ok(s, n->name_en, 1) && n->kind >= HSI_INODE_INDEX
		    && n->kind <= HSI_INODE_INDICATOR
		    && (root ? n->parent == -1
		             : n->parent > (int32_t) i
		                && n->parent < (int32_t) s->n_nodes);
	}
	for (uint32_t b = 0; ok && b < s->n_bands; b++) {
		const hsi_isnap_band *bd = hsi_isnap_band_at(s, (int) b);
		ok = str_ok(s, bd->code, 0) && str_ok(s, bd->th, 0)
		    && str_ok(s, bd->en, 0);
	}
	return ok;
}

/* ---- building ------------------------------------------------------------
 */

/* Appends s (NULL: null) to the string table; its offset. */
static uint32_t
intern(hsi_isnap_builder *b, const char *s)
{
	if (s == NULL || b->failed) {
		return HSI_ISNAP_NULL;
	}
	size_t n = strlen(s) + 1;
	if (b->str_len + n > b->str_cap) {
		size_t cap = b->str_cap ? b->str_cap : 4096;
		while (cap < b->str_len + n) {
			cap *= 2;
		}
		char *p = cap < UINT32_MAX ? realloc(b->str, cap) : NULL;
		if (p == NULL) {
			b->failed = 1;
			return HSI_ISNAP_NULL;
		}
		b->str     = p;
		b->str_cap = cap;
	}
	memcpy(b->str + b->str_len, s, n);
	b->str_len += n;
	return (uint32_t) (b->str_len - n);
}

static hsi_isnap *
head(hsi_isnap_builder *b)
{
	return (hsi_isnap *) b->fixed;
}

static void
put_nodes(hsi_isnap_builder *b, const hsi_method *m)
{
	hsi_isnap *s = head(b);
	for (size_t i = 0; i < m->n_nodes; i++) {
		const hsi_mnode *mn = &m->nodes[i];
		hsi_isnap_node  *n
		    = (hsi_isnap_node *) (b->fixed + s->off_nodes) + i;
		n->weight  = mn->weight;
		n->parent  = mn->parent;
		n->kind    = i + 1 == m->n_nodes ? HSI_INODE_INDEX
		       : mn->is_group            ? HSI_INODE_GROUP
		                                 : HSI_INODE_INDICATOR;
		n->code    = intern(b, mn->code);
		n->name_th = intern(b, mn->is_group ? mn->name_th : NULL);
		n->name_en = intern(b, mn->is_group ? mn->name_en : NULL);
	}
	for (size_t i = 0; i < m->n_bands; i++) {
		const hsi_band *mb = &m->bands[i];
		hsi_isnap_band *d
		    = (hsi_isnap_band *) (b->fixed + s->off_bands) + i;
		d->from = mb->from;
		d->code = intern(b, mb->code);
		d->th   = intern(b, mb->th ? mb->th : mb->code);
		d->en   = intern(b, mb->en ? mb->en : mb->code);
	}
}

int
hsi_isnap_begin(hsi_isnap_builder *b, const hsi_method *m, size_t n_areas,
    const char *period, const char *as_of)
{
	layout l;
	memset(b, 0, sizeof(*b));
	int rv = plan(n_areas, m->n_nodes, m->n_bands, &l);
	if (rv != 0) {
		return rv;
	}
	b->fixed_bytes = l.strings;
	b->fixed       = calloc(1, b->fixed_bytes);
	if (b->fixed == NULL) {
		return HSI_ENOMEM;
	}
	hsi_isnap *s = head(b);
	memcpy(s->magic, magic, sizeof(magic));
	s->methodology = m->version;
	s->decimals    = m->decimals;
	s->n_areas     = (uint32_t) n_areas;
	s->n_nodes     = (uint32_t) m->n_nodes;
	s->n_bands     = (uint32_t) m->n_bands;
	s->off_areas   = l.areas;
	s->off_nodes   = l.nodes;
	s->off_bands   = l.bands;
	s->off_cells   = l.cells;
	s->off_strings = l.strings;
	s->name        = intern(b, m->name);
	s->rank_level  = intern(b, m->rank_level);
	s->period      = intern(b, period);
	s->as_of       = intern(b, as_of);
	put_nodes(b, m);
	hsi_isnap_cell *cell = (hsi_isnap_cell *) (b->fixed + l.cells);
	for (size_t k = 0; k < n_areas * m->n_nodes; k++) {
		cell[k].value = cell[k].raw = cell[k].coverage = NAN;
		cell[k].delta = cell[k].contribution = NAN;
		cell[k].rank_delta                   = HSI_ISNAP_NO_RANK_DELTA;
		cell[k].band                         = -1;
		cell[k].imputed                      = -1;
	}
	return b->failed ? HSI_ENOMEM : 0;
}

void
hsi_isnap_set_area(hsi_isnap_builder *b, size_t a, const char *code,
    const char *level, const char *parent, const char *name_th,
    const char *name_en)
{
	hsi_isnap_area *ar
	    = (hsi_isnap_area *) (b->fixed + head(b)->off_areas) + a;
	ar->code    = intern(b, code);
	ar->level   = intern(b, level);
	ar->parent  = intern(b, parent && parent[0] ? parent : NULL);
	ar->name_th = intern(b, name_th);
	ar->name_en = intern(b, name_en);
}

void
hsi_isnap_name_node(
    hsi_isnap_builder *b, size_t i, const char *name_th, const char *name_en)
{
	hsi_isnap_node *n
	    = (hsi_isnap_node *) (b->fixed + head(b)->off_nodes) + i;
	if (n->name_th == HSI_ISNAP_NULL) {
		n->name_th = intern(b, name_th);
	}
	if (n->name_en == HSI_ISNAP_NULL) {
		n->name_en = intern(b, name_en);
	}
}

hsi_isnap_cell *
hsi_isnap_cell_mut(hsi_isnap_builder *b, size_t a, size_t i)
{
	const hsi_isnap *s = head(b);
	return (hsi_isnap_cell *) (b->fixed + s->off_cells) + a * s->n_nodes
	    + i;
}

int
hsi_isnap_band_index(const hsi_isnap_builder *b, const char *code)
{
	const hsi_isnap *s = (const hsi_isnap *) b->fixed;
	for (uint32_t i = 0; code != NULL && i < s->n_bands; i++) {
		const hsi_isnap_band *d
		    = (const hsi_isnap_band *) (b->fixed + s->off_bands) + i;
		if (strcmp(b->str + d->code, code) == 0) {
			return (int) i;
		}
	}
	return -1;
}

int
hsi_isnap_finish(
    hsi_isnap_builder *b, uint64_t seq, hsi_isnap **out, size_t *len)
{
	size_t total = b->fixed_bytes + b->str_len;
	char  *p     = b->failed ? NULL : realloc(b->fixed, total ? total : 1);
	if (p == NULL) {
		hsi_isnap_abort(b);
		return HSI_ENOMEM;
	}
	memcpy(p + b->fixed_bytes, b->str, b->str_len);
	free(b->str);
	hsi_isnap *s  = (hsi_isnap *) p;
	s->seq        = seq;
	s->size_bytes = total;
	*out          = s;
	*len          = total;
	memset(b, 0, sizeof(*b));
	return 0;
}

void
hsi_isnap_abort(hsi_isnap_builder *b)
{
	free(b->fixed);
	free(b->str);
	memset(b, 0, sizeof(*b));
}
