/*
 * parts.h: a validated file cut into the parts that travel to the scorer
 * (packed ObservationBatch messages, part k of n), for every sender of
 * files: the ingest node and the REST gateway. One packer means a file
 * submitted either way reaches the scorer in the same form.
 *
 * A part holds at most part_rows rows and about HSI_PART_MAX_BYTES, well
 * under the 1 MiB that every socket accepts (NNG_OPT_RECVMAXSZ). Parts are
 * packed unsigned: the sender seals each one in an Envelope when it sends
 * it (common/envelope.h).
 */
#ifndef HSI_PARTS_H
#define HSI_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define HSI_PART_MAX_BYTES (512 * 1024)
#define HSI_PART_ROWS_DEFAULT 2000

/* A file's parts: data[k] (len[k] bytes) is part k+1 of n. */
typedef struct {
	unsigned char **data;
	size_t         *len;
	size_t          n;
} hsi_parts;

/* What every part of one file carries besides its rows. */
typedef struct {
	const char *file_id;   /* [0-9a-f-], at most 79 bytes */
	const char *file_name; /* UTF-8, at most 255 bytes */
	uint32_t    catalog_version;
	int         partial;   /* invalid rows were left out */
	size_t      part_rows; /* 0: HSI_PART_ROWS_DEFAULT */
} hsi_parts_spec;

/*
 * Cuts the valid rows of b (b->obs) into parts and packs each as an
 * ObservationBatch with rows_in_file = b->rows. A file without rows is one
 * empty part. Returns 0 and fills *out (release with hsi_parts_fini), or
 * HSI_ENOMEM (*out then holds nothing).
 */
int hsi_parts_pack(
    const hsi_batch *b, const hsi_parts_spec *spec, hsi_parts *out);

/* Frees the parts (NULL or an empty set ok). */
void hsi_parts_fini(hsi_parts *p);

#endif
