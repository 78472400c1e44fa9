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

/*
 * Reads a whole file of at most max bytes into a NUL-terminated buffer
 * (free it). Returns HSI_EIO (cannot open or read), HSI_ETOOBIG (over max)
 * or HSI_ENOMEM, with err naming the file and what to do.
 */
int hsi_blob_read_file(const char *path, size_t max, char **out, size_t *len,
    char *err, size_t err_size);

#endif
