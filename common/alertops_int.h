/*
 * alertops_int.h: what alertmatch.c, alertops.c and alerttable.c share
 * (not for other code; the API is alertops.h).
 */
#ifndef HSI_ALERTOPS_INT_H
#define HSI_ALERTOPS_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alertops.h"

/* Filled by hsi_silence_active_load (alertops.c), read by
 * hsi_silences_match (alertmatch.c): n ids and their matchers, owned. */
struct hsi_silences {
	size_t         n;
	int64_t       *id;
	hsi_matchers **m;
};

/*
 * The first len bytes of s, for a message, into out (size bytes): cut to
 * fit between UTF-8 characters, and with every byte of 0x80 and above
 * made '?' when s is not valid UTF-8, so the message always is.
 */
void hsi_alertops_quote(const char *s, size_t len, char *out, size_t size);

/*
 * The text a matcher compares for label name of labels (see
 * hsi_matchers_match): a string of labels, or buf (size bytes) holding a
 * number's text, or a static "true", "false" or "".
 */
const char *hsi_alertops_label_text(
    const json_t *labels, const char *name, char *buf, size_t size);

/* s seconds (> 0) in the largest unit that divides it exactly (2w, 36h,
 * 90m) into buf (size bytes), the form hsi_duration_parse reads. */
void hsi_alertops_format_duration(int64_t s, char *buf, size_t size);

/*
 * A duration or an RFC 3339 time for what: *at is s when it is a time,
 * else NULL with *secs the duration (def_s when s is NULL). 0 or
 * HSI_EINVAL / HSI_ERANGE with err.
 */
int hsi_alertops_parse_when(const char *what, const char *s, int64_t def_s,
    int64_t max_s, const char **at, int64_t *secs, char *err, size_t err_size);

/*
 * Checks a person's name or a comment: 1..max characters of UTF-8 on one
 * line, not only spaces. 0 or HSI_EINVAL / HSI_EENCODING / HSI_ETOOBIG
 * with err naming what.
 */
int hsi_alertops_check_text(
    const char *what, const char *s, size_t max, char *err, size_t err_size);

#endif
