/*
 * alertops.h: what operators do to alerts -- list and show them,
 * acknowledge them, and silence their notifications -- over the tables
 * hsi-alerter keeps (alert, alert_event, silence; migrations 001 and 006).
 * hsictl alerts is a thin shell over it, hsi-alerter asks it whether a
 * notification is silenced, and the REST gateway's alert endpoints reuse
 * it, so all three accept and refuse the same inputs with the same words.
 *
 * Matchers follow Alertmanager's: name=value, name!=value, name=~regex,
 * name!~regex; an absent label is the empty string; regular expressions
 * are POSIX extended and anchored at both ends. Every time given out is
 * RFC 3339 in UTC (2025-03-31T10:00:00Z).
 */
#ifndef HSI_ALERTOPS_H
#define HSI_ALERTOPS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HSI_MATCHERS_MAX 32        /* matchers in one set */
#define HSI_MATCHER_NAME_MAX 64    /* bytes of a label name */
#define HSI_MATCHER_VALUE_MAX 256  /* bytes of a value or regex */
#define HSI_SILENCE_MAX_S 31536000 /* a silence lasts at most 365 days */
#define HSI_ACK_MAX_S 2592000      /* an acknowledgement at most 30 days */
#define HSI_ACK_DEFAULT_S 86400    /* and 24 hours when not told */
#define HSI_ALERT_LIST_MAX 10000   /* rows of one listing */

/* A set of 0..HSI_MATCHERS_MAX matchers, regular expressions compiled. */
typedef struct hsi_matchers hsi_matchers;

/* An empty set (it matches every alert); 0 or HSI_ENOMEM. */
int    hsi_matchers_alloc(hsi_matchers **out);
void   hsi_matchers_free(hsi_matchers *m);
size_t hsi_matchers_count(const hsi_matchers *m);

/*
 * Parses one matcher from its text form (name=value, name!=value,
 * name=~regex, name!~regex; the longest operator wins, so area=~5 is a
 * regex) and appends it to m. Returns 0, or HSI_EINVAL / HSI_ETOOBIG /
 * HSI_EENCODING with err naming the matcher by its index in m, the part
 * (name, operator, value, regex) and what is accepted; m is unchanged.
 */
int hsi_matchers_add_text(
    hsi_matchers *m, const char *text, char *err, size_t err_size);

/*
 * Parses the JSON form, an array of 1..HSI_MATCHERS_MAX objects
 * {"name": .., "op": "=" | "!=" | "=~" | "!~", "value": ..} with no other
 * keys (the silence.matchers column, the REST bodies). The caller keeps
 * its reference to arr. Returns 0 with *out set, or an error as above.
 */
int hsi_matchers_from_json(
    const json_t *arr, hsi_matchers **out, char *err, size_t err_size);

/* The JSON form of m (a new reference), or NULL when out of memory. */
json_t *hsi_matchers_to_json(const hsi_matchers *m);

/*
 * Writes m as text, matchers separated by ", " (area=55, rule=~c.*),
 * cut between UTF-8 characters to fit size bytes.
 */
void hsi_matchers_format(const hsi_matchers *m, char *buf, size_t size);

/*
 * 1 when every matcher of m matches labels (a JSON object the caller
 * keeps), else 0. An absent or null label is "", an integer its decimal
 * text, a real its %.17g text, true/false their names; an array or object
 * label counts as "". An empty set matches everything. Regexes compare
 * bytes (the C locale): "." is one byte, not one Thai character.
 */
int hsi_matchers_match(const hsi_matchers *m, const json_t *labels);

/*
 * A duration: whole numbers with a unit s, m, h, d or w, one after the
 * other (90m, 2h, 1d12h), from 1 second to max_s. 0 with *out_s set, or
 * HSI_EINVAL / HSI_ERANGE with err saying what (prefixed by what).
 */
int hsi_duration_parse(const char *what, const char *s, int64_t max_s,
    int64_t *out_s, char *err, size_t err_size);

/*
 * Checks that s is an RFC 3339 time (2025-03-31T17:00:00+07:00,
 * 2025-03-31T10:00:00.5Z; 't', 'z' and a space for 'T' are accepted), the
 * form passed on to PostgreSQL. 0 or HSI_EINVAL with err (prefixed by
 * what) naming the part that is wrong.
 */
int hsi_rfc3339_check(
    const char *what, const char *s, char *err, size_t err_size);

/*
 * Silences: while now() is in [starts_at, ends_at) no notification of an
 * alert whose labels match is sent.
 */
typedef struct {
	const hsi_matchers *matchers;   /* 1..HSI_MATCHERS_MAX */
	const char         *created_by; /* 1..128 characters */
	const char         *comment;    /* 1..1024 characters */
	const char         *starts;     /* RFC 3339, or NULL for now */
	const char         *ends;       /* RFC 3339; or NULL, and */
	const char         *duration;   /* 90m, 2h, 3d, 1w from starts */
} hsi_silence_spec;

/*
 * Stores a silence; exactly one of ends and duration is given, and it
 * ends after it starts and lasts at most 365 days (checked against the
 * server's clock). Returns 0 with *id set, HSI_EINVAL / HSI_ERANGE /
 * HSI_ETOOBIG / HSI_EENCODING with err saying which field and what is
 * accepted, or HSI_EDB / HSI_ENOMEM.
 */
int hsi_silence_add(PGconn *db, const hsi_silence_spec *spec, int64_t *id,
    char *err, size_t err_size);

/*
 * The silences that have not ended (active and pending; all, expired too,
 * when all is set), newest first and at most 10000, as a new JSON array
 * of {id, status ("active" | "pending" | "expired"), matchers,
 * created_by, comment, starts_at, ends_at, created_at, expired_by}.
 * 0 or HSI_EDB / HSI_ENOMEM with err.
 */
int hsi_silence_list(
    PGconn *db, int all, json_t **out, char *err, size_t err_size);

/*
 * Ends silence id now (ends_at = now(), expired_by = by; a pending one
 * also gets starts_at just before, as the table wants ends > starts).
 * 0; HSI_ENOENT for no such id; HSI_ESTATE when it has already ended (err
 * says when and by whom); HSI_EINVAL for a bad by; HSI_EDB.
 */
int hsi_silence_expire(
    PGconn *db, int64_t id, const char *by, char *err, size_t err_size);

/* The silences in force at one moment, for hsi-alerter. */
typedef struct hsi_silences hsi_silences;

/*
 * Loads every silence active at the server's now(). A stored silence whose
 * matchers do not parse is skipped with a warning in the log (naming its
 * id and why), never applied to everything. 0 or HSI_EDB / HSI_ENOMEM.
 */
int hsi_silence_active_load(
    PGconn *db, hsi_silences **out, char *err, size_t err_size);
void   hsi_silences_free(hsi_silences *s);
size_t hsi_silences_count(const hsi_silences *s);

/* The id of the oldest silence that matches labels, or 0 for none. */
int64_t hsi_silences_match(const hsi_silences *s, const json_t *labels);

/*
 * Acknowledgement of alert fp (its 64 hex digits, or a unique prefix of
 * at least 8), by someone (1..128 characters) with a comment (1..1024),
 * until expires: a duration (default 24h) or an RFC 3339 time, at most 30
 * days ahead. Only a firing or pending alert can be acknowledged; doing
 * it again replaces the acknowledgement. In one transaction it sets
 * acked_by, acked_at, ack_comment, ack_expires and adds an alert_event
 * 'acknowledged' with the alert's value and detail {by, comment,
 * expires}. On success *out (if not NULL) is the alert as in
 * hsi_alert_list, a new reference.
 *
 * Errors: HSI_EINVAL (a bad argument, or a prefix matching several
 * alerts: err says how many), HSI_ERANGE, HSI_ENOENT (no such alert),
 * HSI_ESTATE (err names the alert's state), HSI_EDB.
 */
int hsi_alert_ack(PGconn *db, const char *fp, const char *by,
    const char *comment, const char *expires, json_t **out, char *err,
    size_t err_size);

/*
 * Removes the acknowledgement of fp (as above) and adds an alert_event
 * 'unacknowledged' with detail {by}. HSI_ESTATE when it has none.
 */
int hsi_alert_unack(PGconn *db, const char *fp, const char *by, json_t **out,
    char *err, size_t err_size);

/* state: firing, pending, resolved, active (firing and pending; also
 * when NULL) or all. */
typedef struct {
	const char         *state;
	const char         *rule;     /* NULL for every rule */
	const hsi_matchers *matchers; /* NULL or empty for every alert */
	int                 limit;    /* 1..HSI_ALERT_LIST_MAX; 0 = 100 */
} hsi_alert_filter;

/*
 * The alerts that pass f, most recently updated first, as a new JSON
 * array of {fingerprint, rule, kind, state, labels, annotations, value,
 * threshold, starts_at, ends_at, updated_at, acked}; acked is {by, at,
 * comment, expires} while an acknowledgement is in force, else null.
 * 0, HSI_EINVAL (a bad state) or HSI_ERANGE (a bad limit) with err
 * saying what is accepted, HSI_EDB or HSI_ENOMEM.
 */
int hsi_alert_list(PGconn *db, const hsi_alert_filter *f, json_t **out,
    char *err, size_t err_size);

/*
 * Alert fp (as for hsi_alert_ack) as in hsi_alert_list plus "events": its
 * alert_event rows {seq, state, value, at, detail} oldest first (the last
 * 1000; "events_total" counts them all). A new reference in *out.
 */
int hsi_alert_show(
    PGconn *db, const char *fp, json_t **out, char *err, size_t err_size);

/*
 * Tables for people, one line per alert or silence, summaries in Thai
 * (annotations.summary_th, else summary), columns padded by display
 * width so Thai and other UTF-8 text lines up. 0, HSI_ENOMEM or HSI_EIO.
 */
int hsi_alert_table_print(FILE *f, const json_t *alerts);
int hsi_alert_show_print(FILE *f, const json_t *alert);
int hsi_silence_table_print(FILE *f, const json_t *silences);

#endif
