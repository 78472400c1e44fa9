/*
 * cursor.c: cursor encoding (see cursor.h).
 *
 * Bytes: version, part count, then per part 'i' + 8 bytes big-endian or
 * 's' + length + bytes, then the first HSI_CURSOR_TAG_BYTES of
 * HMAC-SHA256(key, SHA-256(scope) bytes). The tag is checked before any part
 * is read, so only cursors this server wrote are ever parsed; parsing is
 * still bounds-checked, since a leaked key should not become an overflow.
 */
#include "cursor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "error.h"

#define RAW_MAX 288 /* > 2 + 4 * (2 + 64) + 16 */

static const char b64[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
hsi_cursor_key_random(hsi_cursor_key *k)
{
	return RAND_bytes(k->secret, sizeof(k->secret)) == 1 ? 0 : HSI_EIO;
}

int
hsi_cursor_key_hex(const char *hex, hsi_cursor_key *k)
{
	if (hex == NULL || strlen(hex) != 2 * HSI_CURSOR_KEY_BYTES) {
		return HSI_EINVAL;
	}
	return hsi_unhex(hex, k->secret, HSI_CURSOR_KEY_BYTES) == 0
	    ? 0
	    : HSI_EINVAL;
}

void
hsi_cursor_init(hsi_cursor *c)
{
	memset(c, 0, sizeof(*c));
}

int
hsi_cursor_push_int(hsi_cursor *c, long long v)
{
	if (c->n >= HSI_CURSOR_PARTS) {
		return HSI_ETOOBIG;
	}
	c->part[c->n].is_str = 0;
	c->part[c->n].i      = v;
	c->n++;
	return 0;
}

int
hsi_cursor_push_str(hsi_cursor *c, const char *s)
{
	size_t len = strlen(s);
	if (c->n >= HSI_CURSOR_PARTS || len > HSI_CURSOR_STR_MAX) {
		return HSI_ETOOBIG;
	}
	c->part[c->n].is_str = 1;
	memcpy(c->part[c->n].s, s, len + 1);
	c->n++;
	return 0;
}

/* The scope enters as its SHA-256, so any length of scope counts whole. */
static void
tag(const hsi_cursor_key *k, const char *scope, const unsigned char *raw,
    size_t n, unsigned char *out)
{
	unsigned char msg[SHA256_DIGEST_LENGTH + RAW_MAX], md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0;
	SHA256((const unsigned char *) scope, strlen(scope), msg);
	memcpy(msg + SHA256_DIGEST_LENGTH, raw, n);
	HMAC(EVP_sha256(), k->secret, (int) sizeof(k->secret), msg,
	    SHA256_DIGEST_LENGTH + n, md, &mdlen);
	memcpy(out, md, HSI_CURSOR_TAG_BYTES);
}

static size_t
pack(const hsi_cursor *c, unsigned char *raw)
{
	size_t n = 0;
	raw[n++] = HSI_CURSOR_VERSION;
	raw[n++] = (unsigned char) c->n;
	for (int p = 0; p < c->n && p < HSI_CURSOR_PARTS; p++) {
		const hsi_cursor_part *pt = &c->part[p];
		if (pt->is_str) {
			size_t len = strnlen(pt->s, HSI_CURSOR_STR_MAX);
			raw[n++]   = 's';
			raw[n++]   = (unsigned char) len;
			memcpy(raw + n, pt->s, len);
			n += len;
		} else {
			uint64_t u = (uint64_t) pt->i;
			raw[n++]   = 'i';
			for (int b = 7; b >= 0; b--) {
				raw[n++] = (unsigned char) (u >> (8 * b));
			}
		}
	}
	return n;
}

int
hsi_cursor_encode(const hsi_cursor_key *k, const char *scope,
    const hsi_cursor *c, char *out, size_t size)
{
	unsigned char raw[RAW_MAX];
	size_t        n = pack(c, raw), o = 0;
	tag(k, scope, raw, n, raw + n);
	n += HSI_CURSOR_TAG_BYTES;
	if (size < (n * 4 + 2) / 3 + 1) {
		return HSI_ETOOBIG;
	}
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t) raw[i] << 16;
		v |= i + 1 < n ? (uint32_t) raw[i + 1] << 8 : 0;
		v |= i + 2 < n ? raw[i + 2] : 0;
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < n) {
			out[o++] = b64[(v >> 6) & 63];
		}
		if (i + 2 < n) {
			out[o++] = b64[v & 63];
		}
	}
	out[o] = '\0';
	return 0;
}

/* base64url without padding into raw; returns the length or 0. */
static size_t
unbase64(const char *text, unsigned char *raw, size_t cap)
{
	size_t   len = strlen(text), n = 0, bits = 0;
	uint32_t acc = 0;
	if (len % 4 == 1) {
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		const char *p = text[i] ? strchr(b64, text[i]) : NULL;
		if (p == NULL) {
			return 0;
		}
		acc = (acc << 6) | (uint32_t) (p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap) {
				return 0;
			}
			raw[n++] = (unsigned char) (acc >> bits);
		}
	}
	/* Canonical form only: the bits left over must be zero, or two
	 * texts would decode alike and an edited last character could
	 * pass the tag check. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
		return 0;
	}
	return n;
}

static int
unpack(const unsigned char *raw, size_t n, hsi_cursor *out)
{
	size_t at = 2;
	hsi_cursor_init(out);
	if (raw[1] > HSI_CURSOR_PARTS) {
		return HSI_EINVAL;
	}
	for (int p = 0; p < raw[1]; p++) {
		hsi_cursor_part *pt = &out->part[p];
		if (at + 2 > n || (raw[at] != 's' && raw[at] != 'i')) {
			return HSI_EINVAL;
		}
		pt->is_str = raw[at++] == 's';
		if (pt->is_str) {
			size_t len = raw[at++];
			if (len > HSI_CURSOR_STR_MAX || at + len > n
			    || memchr(raw + at, 0, len) != NULL) {
				return HSI_EINVAL;
			}
			memcpy(pt->s, raw + at, len);
			pt->s[len] = '\0';
			at += len;
		} else {
			uint64_t u = 0;
			if (at + 8 > n) {
				return HSI_EINVAL;
			}
			for (int b = 0; b < 8; b++) {
				u = (u << 8) | raw[at++];
			}
			pt->i = (long long) u;
		}
	}
	out->n = raw[1];
	return at == n ? 0 : HSI_EINVAL;
}

int
hsi_cursor_decode(const hsi_cursor_key *k, const char *scope, const char *text,
    hsi_cursor *out, char *detail, size_t detail_size)
{
	unsigned char raw[RAW_MAX], want[HSI_CURSOR_TAG_BYTES];
	size_t        n = strlen(text) < HSI_CURSOR_TEXT_MAX
	           ? unbase64(text, raw, sizeof(raw))
	           : 0;
	if (n < 2 + HSI_CURSOR_TAG_BYTES || raw[0] != HSI_CURSOR_VERSION) {
		snprintf(detail, detail_size,
		    "the cursor is not one this server wrote (it is damaged "
		    "or from another version): send back next_cursor "
		    "unchanged, or start again without cursor");
		return HSI_EINVAL;
	}
	n -= HSI_CURSOR_TAG_BYTES;
	tag(k, scope, raw, n, want);
	if (CRYPTO_memcmp(want, raw + n, sizeof(want)) != 0
	    || unpack(raw, n, out) != 0) {
		snprintf(detail, detail_size,
		    "the cursor does not belong to this listing: it was "
		    "altered, comes from a query with other filters, or the "
		    "server's key changed; start again without cursor, with "
		    "the same filters on every page");
		return HSI_EINVAL;
	}
	return 0;
}
