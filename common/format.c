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
int
hsi_format_is_sdmx(const char *buf, size_t len)
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
		return hsi_format_is_sdmx(buf, len)
		    ? hsi_validate_sdmx(cat, agency, buf, len, b)
		    : hsi_validate_csv(cat, agency, buf, len, b);
	}
	char shown[24];
	hsi_utf8_clip(ext[0] ? ext : "(none)", shown, sizeof(shown));
	b->file_error = 1;
	return hsi_batch_issue(b, 0, 0, "E_FORMAT", "file", ext,
	    "unknown file type: use .csv (agency CSV or SDMX-CSV) or .jsonl "
	    "(JSON lines), not %s; save Excel workbooks as \"CSV UTF-8\"",
	    shown);
}
