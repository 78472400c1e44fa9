/*
 * text.h: small text helpers shared by hsi-api's parsers and replies:
 * quoting client input safely inside a message, and percent-encoding a
 * value for a URL we hand back (Link headers). Pure: no libmicrohttpd.
 */
#ifndef HSI_API_TEXT_H
#define HSI_API_TEXT_H

#include <stddef.h>

/* Most bytes of client input quoted in a message (then "..."). */
#define HSI_SHOWN_MAX 60

/*
 * Copies len bytes of s into dst (size bytes, at least 8) for a message
 * that ends up in JSON: valid printable UTF-8 as is, control characters,
 * NUL and invalid bytes as '?', at most HSI_SHOWN_MAX bytes then "...".
 */
void hsi_text_shown(char *dst, size_t size, const char *s, size_t len);

/*
 * Appends s percent-encoded (RFC 3986: everything but unreserved bytes,
 * and '/' too when keep_slash) to dst, which holds a NUL-terminated string
 * in size bytes. Returns 0, or HSI_ETOOBIG (dst left NUL-terminated but
 * cut: the caller must not use it).
 */
int hsi_text_urlencode(char *dst, size_t size, const char *s, int keep_slash);

/*
 * Cuts s (NUL-terminated) before a UTF-8 sequence that a bounded copy
 * (snprintf) left incomplete at its end, so the text stays valid for
 * JSON. Text that was valid before the cut is valid after it.
 */
void hsi_text_trim(char *s);

/* 1 if the len bytes of s are valid UTF-8 without control characters. */
int hsi_text_printable(const char *s, size_t len);

/* 1 if the len bytes of s are all in set (a NUL-terminated byte list). */
int hsi_text_all_in(const char *s, size_t len, const char *set);

#endif
