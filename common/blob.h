/*
 * blob.h: files embedded in the binaries at build time (cmake/embed.cmake),
 * so a service carries its migrations and reference data with it.
 */
#ifndef HSI_BLOB_H
#define HSI_BLOB_H

#include <stddef.h>

struct hsi_blob {
	const char *name; /* base file name, NULL ends an array */
	const char *data; /* NUL-terminated */
	size_t      len;
};

/* Reference data (common/data) and SQL migrations (services/scorer). */
extern const struct hsi_blob hsi_refdata[];
extern const struct hsi_blob hsi_migrations[];

/* Returns the blob named name in arr, or NULL. */
const struct hsi_blob *hsi_blob_find(
    const struct hsi_blob *arr, const char *name);

#endif
