/*
 * negotiate.c: Accept, If-None-Match and entity tags (see negotiate.h).
 */
#include "negotiate.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "error.h"

/* Specificity of range r (len bytes) for type "a/b": 3 exact, 2 "a/ *",
 * 1 "* / *", 0 no match. */
static int
specificity(const char *r, size_t len, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t      major = (size_t) (slash - type);
	if (len == strlen(type) && strncasecmp(r, type, len) == 0) {
		return 3;
	}
	if (len == major + 2 && strncasecmp(r, type, major + 1) == 0
	    && r[major + 1] == '*') {
		return 2;
	}
	return len == 3 && strncmp(r, "*/*", 3) == 0 ? 1 : 0;
}

/* The q of a range's parameters (";q=0.5;level=1"); 1 when absent,
 * -1 when malformed. Thousandths, to stay in whole numbers. */
static int
qvalue(const char *p, const char *end)
{
	while (p < end) {
		p += strspn(p, " \t;");
		if (p + 2 <= end && (p[0] == 'q' || p[0] == 'Q')
		    && p[1] == '=') {
			char   buf[8] = "";
			char  *e;
			size_t n = strcspn(p + 2, ";, \t");
			if (n == 0 || n >= sizeof(buf)) {
				return -1;
			}
			memcpy(buf, p + 2, n);
			double q = strtod(buf, &e);
			return *e != '\0' || q < 0 || q > 1
			    ? -1
			    : (int) (q * 1000 + 0.5);
		}
		p += strcspn(p, ";");
	}
	return 1000;
}

/* The q the Accept list gives type: from its most specific range. */
static int
q_for(const char *accept, const char *type)
{
	int best_spec = 0, q = 0;
	for (const char *p = accept; *p;) {
		p += strspn(p, " \t,");
		size_t      n   = strcspn(p, ",");
		const char *end = p + n;
		size_t      rl  = strcspn(p, ";, \t");
		int         s   = specificity(p, rl, type);
		if (s > best_spec) {
			int qv = qvalue(p + rl, end);
			if (qv >= 0) {
				best_spec = s;
				q         = qv;
			}
		}
		p = end;
	}
	return q;
}

int
hsi_negotiate_accepts(const char *accept, const char *type)
{
	if (accept == NULL || accept[strspn(accept, " \t")] == '\0') {
		return 1;
	}
	return q_for(accept, type) > 0;
}

int
hsi_negotiate_format(const char *accept, int csv_ok, hsi_format *out)
{
	if (accept == NULL || accept[strspn(accept, " \t")] == '\0') {
		*out = HSI_FMT_JSON;
		return 0;
	}
	int qj = q_for(accept, "application/json");
	int qc = csv_ok ? q_for(accept, "text/csv") : 0;
	if (qj == 0 && qc == 0) {
		return HSI_ENOENT;
	}
	*out = qc > qj ? HSI_FMT_CSV : HSI_FMT_JSON;
	return 0;
}

int
hsi_etag_match(const char *inm, const char *etag)
{
	if (inm == NULL || etag == NULL) {
		return 0;
	}
	if (strncmp(etag, "W/", 2) == 0) {
		etag += 2;
	}
	size_t elen = strlen(etag);
	for (const char *p = inm; *p != '\0';) {
		p += strspn(p, " \t,");
		if (*p == '*') {
			return 1;
		}
		if (strncmp(p, "W/", 2) == 0) {
			p += 2;
		}
		size_t n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
			n--;
		}
		if (n == elen && strncmp(p, etag, n) == 0) {
			return 1;
		}
		p += strcspn(p, ",");
	}
	return 0;
}

void
hsi_etag_of(const void *data, size_t len, char *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char          hex[33];
	SHA256(data, len, md);
	hsi_hex(md, 16, hex);
	snprintf(out, HSI_ETAG_MAX, "\"h%.32s\"", hex);
}

int
hsi_etag_variant(const char *etag, const char *suffix, char *out)
{
	size_t n = strlen(etag);
	if (n < 2 || etag[n - 1] != '"'
	    || n + strlen(suffix) + 2 > HSI_ETAG_MAX) {
		return HSI_ETOOBIG;
	}
	/* Lengths checked above: three copies, no format to truncate. */
	size_t k = strlen(suffix);
	memcpy(out, etag, n - 1);
	out[n - 1] = '-';
	memcpy(out + n, suffix, k);
	out[n + k]     = '"';
	out[n + k + 1] = '\0';
	return 0;
}
