/*
 * text.c: quoting and percent-encoding for hsi-api (see text.h).
 */
#include "text.h"

#include <string.h>

#include "error.h"

/* Length of the valid UTF-8 sequence at u (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *u, size_t n)
{
	size_t len = u[0] < 0x80                    ? 1
	    : (u[0] & 0xE0) == 0xC0 && u[0] >= 0xC2 ? 2
	    : (u[0] & 0xF0) == 0xE0                 ? 3
	    : (u[0] & 0xF8) == 0xF0 && u[0] <= 0xF4 ? 4
	                                            : 0;
	if (len == 0 || len > n) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			return 0;
		}
	}
	/* Overlong 3- and 4-byte forms and surrogates: not text. */
	if ((len == 3 && u[0] == 0xE0 && u[1] < 0xA0)
	    || (len == 3 && u[0] == 0xED && u[1] >= 0xA0)
	    || (len == 4 && u[0] == 0xF0 && u[1] < 0x90)
	    || (len == 4 && u[0] == 0xF4 && u[1] >= 0x90)) {
		return 0;
	}
	return len;
}

void
hsi_text_shown(char *dst, size_t size, const char *s, size_t len)
{
	const unsigned char *u   = (const unsigned char *) s;
	size_t               out = 0;
	size_t cap = size - 4 < HSI_SHOWN_MAX ? size - 4 : HSI_SHOWN_MAX;
	for (size_t i = 0; i < len;) {
		size_t l = utf8_len(u + i, len - i);
		if (out + (l ? l : 1) > cap) {
			memcpy(dst + out, "...", 3);
			out += 3;
			break;
		}
		if (l > 1 || (l == 1 && u[i] >= 0x20 && u[i] < 0x7F)) {
			memcpy(dst + out, s + i, l);
			out += l;
		} else {
			dst[out++] = '?';
		}
		i += l ? l : 1;
	}
	dst[out] = '\0';
}

void
hsi_text_trim(char *s)
{
	size_t n = strlen(s);
	for (size_t back = 1; back <= 4 && back <= n; back++) {
		unsigned char u = (unsigned char) s[n - back];
		if ((u & 0xC0) != 0x80) {
			size_t len = u < 0x80    ? 1
			    : (u & 0xE0) == 0xC0 ? 2
			    : (u & 0xF0) == 0xE0 ? 3
			                         : 4;
			if (len > back) {
				s[n - back] = '\0';
			}
			return;
		}
	}
}

int
hsi_text_printable(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	for (size_t i = 0; i < len;) {
		size_t l = utf8_len(u + i, len - i);
		if (l == 0 || (l == 1 && (u[i] < 0x20 || u[i] == 0x7F))) {
			return 0;
		}
		i += l;
	}
	return 1;
}

static int
unreserved(unsigned char ch, int keep_slash)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
	    || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'
	    || ch == '~' || (keep_slash && ch == '/');
}

int
hsi_text_urlencode(char *dst, size_t size, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t            n     = strlen(dst);
	for (const unsigned char *u = (const unsigned char *) s; *u; u++) {
		size_t need = unreserved(*u, keep_slash) ? 1 : 3;
		if (n + need >= size) {
			return HSI_ETOOBIG;
		}
		if (need == 1) {
			dst[n++] = (char) *u;
		} else {
			dst[n++] = '%';
			dst[n++] = hex[*u >> 4];
			dst[n++] = hex[*u & 15];
		}
		dst[n] = '\0';
	}
	return 0;
}

int
hsi_text_all_in(const char *s, size_t len, const char *set)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0' || strchr(set, s[i]) == NULL) {
			return 0;
		}
	}
	return 1;
}
