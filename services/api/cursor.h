/*
 * cursor.h: opaque cursors for hsi-api's paginated lists. A cursor holds
 * the sort key of the last item sent (a few whole numbers and short
 * strings), a version byte and an HMAC-SHA256 tag over the bytes and the
 * listing's scope (path and canonical filters), all in base64url. So a
 * cursor cannot be altered, forged, or replayed on another listing: each
 * of those is a 400 for the client, never a SQL error.
 *
 * The key is random per process unless configured (cursor_secret), so
 * behind several gateways they must share one. Pure: no libmicrohttpd.
 */
#ifndef HSI_API_CURSOR_H
#define HSI_API_CURSOR_H

#include <stddef.h>

#define HSI_CURSOR_VERSION 1
#define HSI_CURSOR_PARTS 4    /* sort-key parts */
#define HSI_CURSOR_STR_MAX 64 /* bytes of a string part */
#define HSI_CURSOR_TAG_BYTES 16
#define HSI_CURSOR_KEY_BYTES 32
/* Encoded text plus NUL: 4 parts of 1+1+64 bytes, header, tag. */
#define HSI_CURSOR_TEXT_MAX 384

typedef struct {
	unsigned char secret[HSI_CURSOR_KEY_BYTES];
} hsi_cursor_key;

typedef struct {
	int       is_str;
	long long i;
	char      s[HSI_CURSOR_STR_MAX + 1];
} hsi_cursor_part;

/* A decoded cursor: n parts, in the order they were pushed. */
typedef struct {
	int             n;
	hsi_cursor_part part[HSI_CURSOR_PARTS];
} hsi_cursor;

/* A random key (OpenSSL RAND_bytes): 0 or HSI_EIO. */
int hsi_cursor_key_random(hsi_cursor_key *k);

/* A key from 64 hex digits (the cursor_secret option): 0 or HSI_EINVAL. */
int hsi_cursor_key_hex(const char *hex, hsi_cursor_key *k);

/* Empties c. */
void hsi_cursor_init(hsi_cursor *c);

/* Appends a part: 0, or HSI_ETOOBIG (HSI_CURSOR_PARTS reached, or s over
 * HSI_CURSOR_STR_MAX bytes or holding NUL). */
int hsi_cursor_push_int(hsi_cursor *c, long long v);
int hsi_cursor_push_str(hsi_cursor *c, const char *s);

/*
 * Writes c as text (at most HSI_CURSOR_TEXT_MAX bytes with the NUL) tagged
 * for scope (any string; the same one must be given to decode). Returns 0
 * or HSI_ETOOBIG (size too small).
 */
int hsi_cursor_encode(const hsi_cursor_key *k, const char *scope,
    const hsi_cursor *c, char *out, size_t size);

/*
 * Reads text back. Returns 0 and *out, or HSI_EINVAL with a detail for
 * the client (not base64url, wrong length or version, tag mismatch: the
 * cursor was altered, belongs to another listing or to an older key).
 */
int hsi_cursor_decode(const hsi_cursor_key *k, const char *scope,
    const char *text, hsi_cursor *out, char *detail, size_t detail_size);

#endif
