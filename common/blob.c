/* blob.c: look-up in the embedded file arrays. */
#include "blob.h"

#include <string.h>

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
