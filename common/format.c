/*
 * format.c: which reader a submitted file goes to, and what the readers
 * share (issues, the size guard). The extension decides, as agencies'
 * tools name files by what they export; only ".csv" is ambiguous, and the
 * SDMX-CSV header is unmistakable (its first column is STRUCTURE, which
 * no agency CSV has).
 */
#include "format.h"

#include "csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

int
hsi_format_issue(hsi_batch *b, size_t line, size_t col, const char *code,
    const char *field, const char *value, const char *fmt, ...)
{
	if (b->n_issues >= HSI_MAX_ISSUES) {
		b->truncated = 1;
		return 0;
	}
	if (b->n_issues == b->cap_issues) {
		size_t     nc = b->cap_issues ? b->cap_issues * 2 : 16;
		hsi_issue *p  = realloc(b->issues, nc * sizeof(*p));
		if (p == NULL) {
			return HSI_ENOMEM;
		}
		b->issues     = p;
		b->cap_issues = nc;
	}
	hsi_issue *is = &b->issues[b->n_issues++];
	memset(is, 0, sizeof(*is));
	is->row = (uint32_t) line;
	is->col = (uint32_t) col;
	snprintf(is->code, sizeof(is->code), "%s", code);
	snprintf(is->field, sizeof(is->field), "%s", field ? field : "");
	hsi_utf8_clip(value ? value : "", is->value, sizeof(is->value));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(is->msg, sizeof(is->msg), fmt, ap);
	va_end(ap);
	return 0;
}

int
hsi_format_too_big(hsi_batch *b, size_t len, int *rv)
{
	if (len <= (size_t) HSI_FILE_MAX_BYTES) {
		return 0;
	}
	b->file_error = 1;
	*rv           = hsi_format_issue(b, 0, 0, "E_FILE_TOO_BIG", "file", "",
	              "the file is over %ld MiB; split it by year",
	              HSI_FILE_MAX_BYTES >> 20);
	return 1;
}

/* The extension of name (after the last '/'), or "" if none. */
static const char *
extension(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base  = slash ? slash + 1 : name;
	const char *dot   = strrchr(base, '.');
	return dot && dot != base ? dot : "";
}

/* SDMX-CSV starts with a STRUCTURE column (quoted by some tools, or
 * "STRUCTURE[;]" or "STRUCTURE;" in the variants we refuse), SDMX-CSV 1.0
 * with DATAFLOW: the SDMX reader explains what to change. */
static int
is_sdmx(const char *buf, size_t len)
{
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	if (len > 0 && buf[0] == '"') {
		buf++;
		len--;
	}
	return (len >= 9 && memcmp(buf, "STRUCTURE", 9) == 0)
	    || (len >= 8 && memcmp(buf, "DATAFLOW", 8) == 0);
}

int
hsi_validate_file(const hsi_catalog *cat, const char *agency, const char *name,
    const char *buf, size_t len, hsi_batch *b)
{
	const char *ext = name ? extension(name) : "";
	if (strcasecmp(ext, ".jsonl") == 0
	    || strcasecmp(ext, ".ndjson") == 0) {
		return hsi_validate_jsonl(cat, agency, buf, len, b);
	}
	if (strcasecmp(ext, ".csv") == 0) {
		return is_sdmx(buf, len)
		    ? hsi_validate_sdmx(cat, agency, buf, len, b)
		    : hsi_validate_csv(cat, agency, buf, len, b);
	}
	char shown[24];
	hsi_utf8_clip(ext[0] ? ext : "(none)", shown, sizeof(shown));
	b->file_error = 1;
	return hsi_format_issue(b, 0, 0, "E_FORMAT", "file", ext,
	    "unknown file type: use .csv (agency CSV or SDMX-CSV) or .jsonl "
	    "(JSON lines), not %s; save Excel workbooks as \"CSV UTF-8\"",
	    shown);
}
