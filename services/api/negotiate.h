/*
 * negotiate.h: the HTTP header logic of hsi-api that needs no connection:
 * choosing JSON or CSV from Accept, matching If-None-Match against an
 * entity tag, and making strong entity tags from content. Pure: tested
 * and fuzzed without a server.
 */
#ifndef HSI_API_NEGOTIATE_H
#define HSI_API_NEGOTIATE_H

#include <stddef.h>

/* Longest entity tag with quotes and NUL ("\"m12-s123456-csv\""). */
#define HSI_ETAG_MAX 48

typedef enum {
	HSI_FMT_JSON = 0,
	HSI_FMT_CSV  = 1,
} hsi_format;

/*
 * Chooses the answer's format from an Accept header (NULL or empty: JSON)
 * by RFC 9110 rules: the most specific matching range gives a format its
 * q; the highest q wins, JSON on a tie. text/csv counts only when csv_ok
 * (the endpoint can answer a table). Returns 0 and *out, or HSI_ENOENT
 * when nothing acceptable is on offer (answer 406).
 */
int hsi_negotiate_format(const char *accept, int csv_ok, hsi_format *out);

/*
 * 1 when Accept (absent or empty: anything) lets the media type through:
 * its most specific matching range has a q above 0 (RFC 9110 12.5.1).
 */
int hsi_negotiate_accepts(const char *accept, const char *type);

/*
 * 1 if an If-None-Match value (a list of entity tags, or "*") matches
 * etag (weak comparison, as RFC 9110 requires for If-None-Match: W/"x"
 * matches "x"); 0 otherwise or when if_none_match is NULL.
 */
int hsi_etag_match(const char *if_none_match, const char *etag);

/* A strong entity tag from content: "\"h" + 32 hex digits of its
 * SHA-256 + "\"" into out (HSI_ETAG_MAX bytes). */
void hsi_etag_of(const void *data, size_t len, char *out);

/*
 * The entity tag of another representation of the same resource: etag
 * with suffix inside the quotes ("\"m1-s5\"" + "csv" -> "\"m1-s5-csv\"")
 * into out (HSI_ETAG_MAX bytes). A strong tag must differ between
 * representations. Returns 0 or HSI_ETOOBIG.
 */
int hsi_etag_variant(const char *etag, const char *suffix, char *out);

#endif
