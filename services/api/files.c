/*
 * files.c: static file lookup for hsi-api (see files.h).
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define URL_PATH_MAX 1024

struct hsi_files {
	char  *root; /* real path, no trailing '/' */
	size_t root_len;
};

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json; charset=utf-8" },
	{ ".geojson", "application/geo+json; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ NULL, NULL },
};

int
hsi_files_open(const char *dir, hsi_files **out, char *err, size_t err_size)
{
	char       *root = realpath(dir, NULL);
	struct stat st;
	if (root == NULL || stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, err_size,
		    "static_dir %s: %s (give an existing directory, or leave "
		    "static_dir unset)",
		    dir, root ? "not a directory" : strerror(errno));
		free(root);
		return HSI_EINVAL;
	}
	hsi_files *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		free(root);
		return HSI_ENOMEM;
	}
	f->root     = root;
	f->root_len = strlen(root);
	*out        = f;
	return 0;
}

void
hsi_files_close(hsi_files *f)
{
	if (f != NULL) {
		free(f->root);
		free(f);
	}
}

static const char *
content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	for (int i = 0; dot != NULL && types[i].ext != NULL; i++) {
		if (strcmp(dot, types[i].ext) == 0) {
			return types[i].type;
		}
	}
	return NULL;
}

/* No segment may be empty-dot, ".." or hidden: every segment starting
 * with '.' is refused, which covers all three. */
static int
safe_path(const char *path)
{
	if (path[0] != '/' || strlen(path) >= URL_PATH_MAX
	    || strchr(path, '\\') != NULL) {
		return 0;
	}
	for (const char *p = path; (p = strchr(p, '/')) != NULL; p++) {
		if (p[1] == '.') {
			return 0;
		}
	}
	return 1;
}

int
hsi_files_lookup(const hsi_files *f, const char *path, int *fd, uint64_t *size,
    const char **ctype)
{
	char want[PATH_MAX];
	if (!safe_path(path)) {
		return HSI_ENOENT;
	}
	size_t n = strlen(path);
	int    w = snprintf(want, sizeof(want), "%s%s%s", f->root, path,
            path[n - 1] == '/' ? "index.html" : "");
	if (w < 0 || (size_t) w >= sizeof(want)) {
		return HSI_ENOENT;
	}
	char *real = realpath(want, NULL);
	if (real == NULL || strncmp(real, f->root, f->root_len) != 0
	    || real[f->root_len] != '/'
	    || (*ctype = content_type(real)) == NULL) {
		free(real);
		return HSI_ENOENT;
	}
	int         d = open(real, O_RDONLY | O_CLOEXEC);
	struct stat st;
	free(real);
	if (d < 0) {
		return HSI_ENOENT;
	}
	if (fstat(d, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(d);
		return HSI_ENOENT;
	}
	*fd   = d;
	*size = (uint64_t) st.st_size;
	return 0;
}
