/*
 * parts_test.c: a validated file as ObservationBatch parts
 * (common/parts.h), the form in which nodes and the gateway send files.
 * Every part unpacks, carries the file's id, name, catalog version,
 * partial flag and rows_in_file, is numbered k of n, and the rows arrive
 * once each in order with every field; the row and byte caps cut parts;
 * an empty file is one empty part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "parts.h"
#include "validate.h"

/* A batch of n rows: row i is t_x / area (10 + i % 80) / year. */
static void
make_batch(hsi_batch *b, size_t n, size_t note_bytes)
{
	hsi_batch_init(b);
	b->obs     = calloc(n + 1, sizeof(*b->obs));
	b->cap_obs = n + 1;
	assert_non_null(b->obs);
	for (size_t i = 0; i < n; i++) {
		hsi_obs *o = &b->obs[i];
		snprintf(o->indicator, sizeof(o->indicator), "t_x");
		snprintf(o->area, sizeof(o->area), "%d", 10 + (int) (i % 80));
		snprintf(
		    o->period, sizeof(o->period), "%d", 1900 + (int) (i / 80));
		o->value     = (double) i + 0.5;
		o->has_value = i % 7 != 0;
		o->status    = o->has_value ? "AEP"[i % 3] : 'M';
		o->row       = (uint32_t) i + 2;
		if (note_bytes > 0) {
			o->note = malloc(note_bytes + 1);
			assert_non_null(o->note);
			memset(o->note, 'n', note_bytes);
			o->note[note_bytes] = '\0';
		}
	}
	b->n_obs = n;
	b->rows  = n + 3; /* three rows left out (partial) */
}

/* Unpacks every part and checks it against b and spec; returns the rows
 * seen. */
static size_t
check_parts(const hsi_parts *p, const hsi_batch *b, const hsi_parts_spec *s)
{
	size_t seen = 0;
	for (size_t k = 0; k < p->n; k++) {
		Hsi__ObservationBatch *m
		    = (Hsi__ObservationBatch *) hsi_pb_unpack(
		        &hsi__observation_batch__descriptor, p->data[k],
		        p->len[k]);
		assert_non_null(m);
		assert_true(p->len[k] < 1024 * 1024);
		assert_string_equal(m->file_id, s->file_id);
		assert_string_equal(m->file_name, s->file_name);
		assert_int_equal(m->part, k + 1);
		assert_int_equal(m->parts, p->n);
		assert_int_equal(m->catalog_version, s->catalog_version);
		assert_int_equal(m->partial, s->partial != 0);
		assert_int_equal(m->rows_in_file, b->rows);
		for (size_t i = 0; i < m->n_observations; i++, seen++) {
			const Hsi__Observation *o     = m->observations[i];
			const hsi_obs          *w     = &b->obs[seen];
			char                    st[2] = { w->status, 0 };
			assert_string_equal(o->indicator, w->indicator);
			assert_string_equal(o->area, w->area);
			assert_string_equal(o->period, w->period);
			assert_int_equal(o->has_value, w->has_value);
			assert_true(o->value == w->value);
			assert_string_equal(o->status, st);
			assert_string_equal(o->note, w->note ? w->note : "");
			assert_int_equal(o->row, w->row);
		}
		hsi_pb_free((ProtobufCMessage *) m);
	}
	return seen;
}

static void
test_rows_cap(void **state)
{
	(void) state;
	hsi_batch      b;
	hsi_parts      p;
	hsi_parts_spec s = { .file_id = "abc-0123",
		.file_name            = "ไฟล์.csv",
		.catalog_version      = 7,
		.partial              = 1 };
	make_batch(&b, 4500, 0);
	assert_int_equal(hsi_parts_pack(&b, &s, &p), 0);
	assert_int_equal(p.n, 3); /* 2000 + 2000 + 500 */
	assert_int_equal(check_parts(&p, &b, &s), 4500);
	hsi_parts_fini(&p);
	s.part_rows = 1000;
	assert_int_equal(hsi_parts_pack(&b, &s, &p), 0);
	assert_int_equal(p.n, 5);
	assert_int_equal(check_parts(&p, &b, &s), 4500);
	hsi_parts_fini(&p);
	hsi_parts_fini(&p); /* twice is harmless */
	hsi_batch_fini(&b);
}

static void
test_bytes_cap(void **state)
{
	(void) state;
	hsi_batch      b;
	hsi_parts      p;
	hsi_parts_spec s = { .file_id = "f", .file_name = "n" };
	/* 1000 rows with 1000-byte notes: about 1 MB, so at least two parts
	 * though the row cap would allow one. */
	make_batch(&b, 1000, 1000);
	assert_int_equal(hsi_parts_pack(&b, &s, &p), 0);
	assert_true(p.n >= 2);
	for (size_t k = 0; k < p.n; k++) {
		assert_true(p.len[k] <= HSI_PART_MAX_BYTES);
	}
	assert_int_equal(check_parts(&p, &b, &s), 1000);
	hsi_parts_fini(&p);
	hsi_batch_fini(&b);
}

static void
test_empty(void **state)
{
	(void) state;
	hsi_batch      b;
	hsi_parts      p;
	hsi_parts_spec s = { .file_id = "e", .file_name = "empty.csv" };
	make_batch(&b, 0, 0);
	assert_int_equal(hsi_parts_pack(&b, &s, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(check_parts(&p, &b, &s), 0);
	hsi_parts_fini(&p);
	hsi_batch_fini(&b);
	hsi_parts_fini(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_cap),
		cmocka_unit_test(test_bytes_cap),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
