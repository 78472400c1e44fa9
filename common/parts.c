/*
 * parts.c: a validated file as ObservationBatch parts (see parts.h).
 */
#include "parts.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hsi.pb-c.h"

/* What a row adds to a packed part, roughly: its strings and the fixed
 * fields with their tags. */
static size_t
row_bytes(const hsi_obs *o)
{
	return strlen(o->indicator) + strlen(o->area) + strlen(o->period)
	    + (o->note ? strlen(o->note) : 0) + 40;
}

/* Status letters as static strings, for the protobuf fields. */
static char *
status_text(char status)
{
	static char st[4][2] = { "A", "E", "P", "M" };
	return st[status == 'E' ? 1
	        : status == 'P' ? 2
	        : status == 'M' ? 3
	                        : 0];
}

/* Packs rows [from, to) of b as part k of parts into *out, *len. */
static int
pack_one(const hsi_batch *b, const hsi_parts_spec *spec, size_t from,
    size_t to, uint32_t k, uint32_t parts, unsigned char **out, size_t *len)
{
	size_t             cnt = to - from;
	Hsi__Observation  *ob  = calloc(cnt + 1, sizeof(*ob));
	Hsi__Observation **pob = calloc(cnt + 1, sizeof(*pob));
	int                rv  = HSI_ENOMEM;
	if (ob != NULL && pob != NULL) {
		for (size_t i = 0; i < cnt; i++) {
			const hsi_obs *o = &b->obs[from + i];
			hsi__observation__init(&ob[i]);
			ob[i].indicator = (char *) o->indicator;
			ob[i].area      = (char *) o->area;
			ob[i].period    = (char *) o->period;
			ob[i].value     = o->value;
			ob[i].has_value = o->has_value;
			ob[i].status    = status_text(o->status);
			ob[i].note      = o->note ? o->note : (char *) "";
			ob[i].row       = o->row;
			pob[i]          = &ob[i];
		}
		Hsi__ObservationBatch batch = HSI__OBSERVATION_BATCH__INIT;
		batch.file_id               = (char *) spec->file_id;
		batch.file_name             = (char *) spec->file_name;
		batch.part                  = k;
		batch.parts                 = parts;
		batch.catalog_version       = spec->catalog_version;
		batch.rows_in_file          = (uint32_t) b->rows;
		batch.partial               = spec->partial != 0;
		batch.n_observations        = cnt;
		batch.observations          = pob;
		*len = hsi__observation_batch__get_packed_size(&batch);
		if ((*out = malloc(*len + 1)) != NULL) {
			hsi__observation_batch__pack(&batch, *out);
			rv = 0;
		}
	}
	free(ob);
	free(pob);
	return rv;
}

/* Where each part ends (an index into b->obs): *ends, *n. */
static int
cut(const hsi_batch *b, size_t part_rows, size_t **ends, size_t *n)
{
	size_t  cap = 16, np = 0;
	size_t *e = malloc(cap * sizeof(*e));
	if (e == NULL) {
		return HSI_ENOMEM;
	}
	size_t start = 0;
	do {
		size_t end = start, bytes = 0;
		while (end < b->n_obs && end - start < part_rows
		    && bytes + row_bytes(&b->obs[end]) < HSI_PART_MAX_BYTES) {
			bytes += row_bytes(&b->obs[end++]);
		}
		if (end == start && end < b->n_obs) {
			end++; /* a row alone over the cap still goes */
		}
		if (np == cap) {
			size_t *ne = realloc(e, 2 * cap * sizeof(*e));
			if (ne == NULL) {
				free(e);
				return HSI_ENOMEM;
			}
			e = ne;
			cap *= 2;
		}
		e[np++] = end;
		start   = end;
	} while (start < b->n_obs);
	*ends = e;
	*n    = np;
	return 0;
}

int
hsi_parts_pack(const hsi_batch *b, const hsi_parts_spec *spec, hsi_parts *out)
{
	size_t *ends = NULL, np = 0;
	size_t  rows
	    = spec->part_rows ? spec->part_rows : HSI_PART_ROWS_DEFAULT;
	memset(out, 0, sizeof(*out));
	int rv = cut(b, rows, &ends, &np);
	if (rv != 0) {
		return rv;
	}
	out->data = calloc(np, sizeof(*out->data));
	out->len  = calloc(np, sizeof(*out->len));
	if (out->data == NULL || out->len == NULL) {
		rv = HSI_ENOMEM;
	}
	for (size_t k = 0, from = 0; rv == 0 && k < np; k++) {
		rv   = pack_one(b, spec, from, ends[k], (uint32_t) k + 1,
		      (uint32_t) np, &out->data[k], &out->len[k]);
		from = ends[k];
		out->n++;
	}
	free(ends);
	if (rv != 0) {
		hsi_parts_fini(out);
	}
	return rv;
}

void
hsi_parts_fini(hsi_parts *p)
{
	if (p == NULL) {
		return;
	}
	for (size_t k = 0; p->data != NULL && k < p->n; k++) {
		free(p->data[k]);
	}
	free(p->data);
	free(p->len);
	memset(p, 0, sizeof(*p));
}
