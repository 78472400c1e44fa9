/* blob.c: look-up in the embedded file arrays; whole-file reads. */
#include "blob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

const struct hsi_blob *
hsi_blob_find(const struct hsi_blob *arr, const char *name)
{
	for (; arr->name != NULL; arr++) {
		if (strcmp(arr->name, name) == 0) {
			return arr;
		}
	}
	return NULL;
}

int
hsi_blob_read_file(const char *path, size_t max, char **out, size_t *len,
    char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_size, "%s: cannot open: %s", path,
		    strerror(errno));
		return HSI_EIO;
	}
	size_t cap = 64 * 1024, n = 0;
	char  *buf = malloc(cap + 1);
	int    rv  = 0;
	while (buf != NULL && rv == 0) {
		if (n == cap) {
			if (cap > max) {
				break;
			}
			cap      = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			rv = ferror(f) ? HSI_EIO : 1;
		}
	}
	fclose(f);
	if (buf == NULL) {
		snprintf(err, err_size, "%s: out of memory", path);
		return HSI_ENOMEM;
	}
	if (rv == HSI_EIO) {
		snprintf(err, err_size, "%s: read error", path);
		free(buf);
		return HSI_EIO;
	}
	if (n > max) {
		snprintf(err, err_size,
		    "%s: over the limit of %zu bytes; split the file or check "
		    "that it is the right one",
		    path, max);
		free(buf);
		return HSI_ETOOBIG;
	}
	buf[n] = '\0';
	*out   = buf;
	*len   = n;
	return 0;
}
