/*
 * files.h: static files (the dashboard) served from static_dir. Only
 * regular files that really lie below the directory are served: no "..",
 * no hidden files, and symbolic links are resolved before the check, so
 * a link cannot lead out of it. Only known content types are served.
 */
#ifndef HSI_API_FILES_H
#define HSI_API_FILES_H

#include <stddef.h>
#include <stdint.h>

typedef struct hsi_files hsi_files;

/*
 * Opens dir (resolved to its real path once). Returns 0 and *out, or
 * HSI_EINVAL with err when dir is not a readable directory, or
 * HSI_ENOMEM.
 */
int hsi_files_open(
    const char *dir, hsi_files **out, char *err, size_t err_size);
void hsi_files_close(hsi_files *f);

/*
 * Resolves a decoded URL path ("/", "/map.js") to a file below the
 * directory ("/" and paths ending in "/" mean index.html). Returns 0 with
 * an open descriptor in *fd (caller owns it), its size and a static
 * content type, or HSI_ENOENT (not there, not allowed: answer 404).
 */
int hsi_files_lookup(const hsi_files *f, const char *path, int *fd,
    uint64_t *size, const char **content_type);

#endif
