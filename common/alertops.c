/*
 * alertops.c: operators' actions on alerts (see alertops.h) that go to
 * the database: silences stored, listed, expired and loaded for
 * hsi-alerter; acknowledgements; listings of alerts and their events.
 * Matchers, durations and times are parsed in alertmatch.c, and the
 * tables for people printed in alerttable.c.
 *
 * Every input is checked here before it reaches PostgreSQL, so a typo
 * gets a message naming the field and what is accepted rather than a
 * SQLSTATE; the tables' CHECKs are the last line of defence, not the
 * first. Times that depend on "now" are computed by the server, whose
 * clock hsi-alerter also uses to decide what is in force.
 */
#include "alertops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertops_int.h"
#include "db.h"
#include "error.h"
#include "log.h"

#define TEXT_BY_MAX 128
#define TEXT_COMMENT_MAX 1024
#define EVENTS_MAX "1000"

/* ---- rows --------------------------------------------------------------- */

/* Column c of row i, NULL when SQL NULL. */
static const char *
col(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static json_t *
num_col(const PGresult *r, int i, int c)
{
	const char *s = col(r, i, c);
	double      v = s ? strtod(s, NULL) : 0;
	/* NaN and infinities have no JSON form. */
	return s && v == v && v - v == 0 ? json_real(v) : json_null();
}

static json_t *
json_col(const PGresult *r, int i, int c)
{
	const char *s = col(r, i, c);
	json_t     *j = s ? json_loads(s, 0, NULL) : NULL;
	return j ? j : json_null();
}

static int
bool_col(const PGresult *r, int i, int c)
{
	const char *s = col(r, i, c);
	return s != NULL && s[0] == 't';
}

/* Room for "YYYY-MM-DDTHH:MM:SSZ" (and a five-digit year). */
#define TIME_MAX 32

/*
 * Column c of row i, epoch seconds (extract(epoch FROM t): times leave
 * PostgreSQL so, whatever the session's time zone) as RFC 3339 UTC to the
 * second in buf (TIME_MAX bytes); NULL when SQL NULL.
 */
static const char *
time_col(const PGresult *r, int i, int c, char *buf)
{
	const char *s = col(r, i, c);
	char       *end;
	struct tm   tm;
	if (s == NULL) {
		return NULL;
	}
	/* The whole seconds, exactly: a double would round .9999995 up. */
	time_t t = (time_t) strtoll(s, &end, 10);
	t -= s[0] == '-' && *end == '.'
	    && strspn(end + 1, "0") < strlen(end + 1);
	if (gmtime_r(&t, &tm) == NULL
	    || strftime(buf, TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		return "?";
	}
	return buf;
}

#define ALERT_COLS                                                            \
	"fingerprint, rule, kind, state, labels::text, annotations::text,"    \
	" value, threshold, extract(epoch FROM starts_at),"                   \
	" extract(epoch FROM ends_at), extract(epoch FROM updated_at),"       \
	" acked_by IS NOT NULL AND (ack_expires IS NULL OR"                   \
	" ack_expires > now()), acked_by, extract(epoch FROM acked_at),"      \
	" ack_comment, extract(epoch FROM ack_expires)"

static json_t *
alert_row(const PGresult *r, int i)
{
	char    t[5][TIME_MAX];
	json_t *acked = bool_col(r, i, 11)
	    ? json_pack("{s:s?, s:s?, s:s?, s:s?}", "by", col(r, i, 12), "at",
	        time_col(r, i, 13, t[3]), "comment", col(r, i, 14), "expires",
	        time_col(r, i, 15, t[4]))
	    : json_null();
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:o}",
	    "fingerprint", col(r, i, 0), "rule", col(r, i, 1), "kind",
	    col(r, i, 2), "state", col(r, i, 3), "labels", json_col(r, i, 4),
	    "annotations", json_col(r, i, 5), "value", num_col(r, i, 6),
	    "threshold", num_col(r, i, 7), "starts_at",
	    time_col(r, i, 8, t[0]), "ends_at", time_col(r, i, 9, t[1]),
	    "updated_at", time_col(r, i, 10, t[2]), "acked", acked);
}

static int
db_fail(const char *what, char *err, size_t err_size)
{
	snprintf(err, err_size,
	    "cannot %s: database error (the log line above says which)", what);
	return HSI_EDB;
}

/* ---- silences ----------------------------------------------------------- */

static const char sql_silence_times[]
    = "SELECT s::text, e::text, extract(epoch FROM s),"
      " extract(epoch FROM e), e > s,"
      " e <= s + $4::float8 * interval '1 second', e > now() "
      "FROM (SELECT s, COALESCE($2::timestamptz,"
      " s + $3::float8 * interval '1 second') AS e"
      " FROM (SELECT COALESCE($1::timestamptz, now()) AS s) a) b";

static int
silence_spec_check(
    const hsi_silence_spec *sp, int64_t *dur, char *err, size_t err_size)
{
	int rv;
	if (hsi_matchers_count(sp->matchers) == 0) {
		snprintf(err, err_size,
		    "matchers: a silence needs 1 to %d matchers (e.g. "
		    "area=55); none would silence every alert",
		    HSI_MATCHERS_MAX);
		return HSI_EINVAL;
	}
	if ((rv = hsi_alertops_check_text(
	         "created_by", sp->created_by, TEXT_BY_MAX, err, err_size))
	    || (rv = hsi_alertops_check_text(
	            "comment", sp->comment, TEXT_COMMENT_MAX, err, err_size))
	    || (sp->starts
	        && (rv = hsi_rfc3339_check(
	                "starts", sp->starts, err, err_size)))) {
		return rv;
	}
	if ((sp->ends == NULL) == (sp->duration == NULL)) {
		snprintf(err, err_size,
		    "silence: give either an end time or a duration%s",
		    sp->ends ? ", not both" : " (e.g. 2h)");
		return HSI_EINVAL;
	}
	*dur = 0;
	return sp->ends ? hsi_rfc3339_check("ends", sp->ends, err, err_size)
	                : hsi_duration_parse("duration", sp->duration,
	                    HSI_SILENCE_MAX_S, dur, err, err_size);
}

int
hsi_silence_add(PGconn *db, const hsi_silence_spec *sp, int64_t *id, char *err,
    size_t err_size)
{
	int64_t dur;
	int     rv = silence_spec_check(sp, &dur, err, err_size);
	if (rv != 0) {
		return rv;
	}
	char dur_s[24], max_s[24], ts[TIME_MAX], te[TIME_MAX];
	snprintf(dur_s, sizeof(dur_s), "%lld", (long long) dur);
	snprintf(max_s, sizeof(max_s), "%d", HSI_SILENCE_MAX_S);
	const char *tp[4] = { sp->starts, sp->ends, dur_s, max_s };
	PGresult   *t
	    = hsi_db_query(db, "silence times", sql_silence_times, 4, tp);
	if (t == NULL) {
		return db_fail("compute the silence's times", err, err_size);
	}
	if (!bool_col(t, 0, 4) || !bool_col(t, 0, 6)) {
		snprintf(err, err_size,
		    "ends: %s is not after %s; give an end in the future, "
		    "after the start",
		    time_col(t, 0, 3, te),
		    bool_col(t, 0, 4) ? "now" : time_col(t, 0, 2, ts));
		rv = HSI_ERANGE;
	} else if (!bool_col(t, 0, 5)) {
		snprintf(err, err_size,
		    "ends: %s is more than 365 days after the start %s",
		    time_col(t, 0, 3, te), time_col(t, 0, 2, ts));
		rv = HSI_ERANGE;
	}
	json_t *mj = rv ? NULL : hsi_matchers_to_json(sp->matchers);
	char   *ms = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
	if (rv == 0 && ms == NULL) {
		snprintf(err, err_size, "out of memory");
		rv = HSI_ENOMEM;
	}
	if (rv == 0) {
		const char *p[5] = { ms, sp->created_by, sp->comment,
			PQgetvalue(t, 0, 0), PQgetvalue(t, 0, 1) };
		PGresult   *r    = hsi_db_query(db, "silence add",
		         "INSERT INTO silence (matchers, created_by, comment,"
		              " starts_at, ends_at) VALUES ($1::jsonb, $2, $3,"
		              " $4::timestamptz, $5::timestamptz) RETURNING id",
		         5, p);
		if (r == NULL) {
			rv = db_fail("store the silence", err, err_size);
		} else {
			*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		}
		PQclear(r);
	}
	free(ms);
	json_decref(mj);
	PQclear(t);
	return rv;
}

/* The matchers of a silence in the order name, op, value (jsonb keeps
 * its keys in its own order), or as stored if they do not parse. */
static json_t *
matchers_col(const PGresult *r, int i, int c)
{
	json_t       *j = json_col(r, i, c), *n = NULL;
	hsi_matchers *m;
	char          why[256];
	if (hsi_matchers_from_json(j, &m, why, sizeof(why)) == 0) {
		n = hsi_matchers_to_json(m);
		hsi_matchers_free(m);
	}
	if (n == NULL) {
		return j;
	}
	json_decref(j);
	return n;
}

static const char sql_silence_list[]
    = "SELECT id, CASE WHEN ends_at <= now() THEN 'expired'"
      " WHEN starts_at > now() THEN 'pending' ELSE 'active' END,"
      " matchers::text, created_by, comment, extract(epoch FROM starts_at),"
      " extract(epoch FROM ends_at), extract(epoch FROM created_at),"
      " expired_by FROM silence WHERE $1::bool OR ends_at > now() "
      "ORDER BY id DESC LIMIT 10000";

int
hsi_silence_list(PGconn *db, int all, json_t **out, char *err, size_t err_size)
{
	const char *p[1] = { all ? "t" : "f" };
	PGresult *r = hsi_db_query(db, "silence list", sql_silence_list, 1, p);
	if (r == NULL) {
		return db_fail("list silences", err, err_size);
	}
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < PQntuples(r); i++) {
		char    t[3][TIME_MAX];
		json_t *row = json_pack(
		    "{s:I, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s?}", "id",
		    (json_int_t) strtoll(PQgetvalue(r, i, 0), NULL, 10),
		    "status", col(r, i, 1), "matchers", matchers_col(r, i, 2),
		    "created_by", col(r, i, 3), "comment", col(r, i, 4),
		    "starts_at", time_col(r, i, 5, t[0]), "ends_at",
		    time_col(r, i, 6, t[1]), "created_at",
		    time_col(r, i, 7, t[2]), "expired_by", col(r, i, 8));
		if (json_array_append_new(a, row) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	PQclear(r);
	if (a == NULL) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}

int
hsi_silence_expire(
    PGconn *db, int64_t id, const char *by, char *err, size_t err_size)
{
	char ids[24], ended[TIME_MAX];
	int rv = hsi_alertops_check_text("by", by, TEXT_BY_MAX, err, err_size);
	if (rv != 0) {
		return rv;
	}
	snprintf(ids, sizeof(ids), "%lld", (long long) id);
	const char *p[2] = { ids, by };
	/* The table wants ends_at > starts_at: a silence that has not
	 * started yet ends a microsecond after it "started", now. */
	PGresult *r = hsi_db_query(db, "silence expire",
	    "UPDATE silence SET ends_at = now(), expired_by = $2,"
	    " starts_at = LEAST(starts_at, now() - interval '1 microsecond') "
	    "WHERE id = $1::bigint AND ends_at > now() RETURNING id",
	    2, p);
	if (r == NULL) {
		return db_fail("expire the silence", err, err_size);
	}
	int n = PQntuples(r);
	PQclear(r);
	if (n == 1) {
		return 0;
	}
	r = hsi_db_query(db, "silence ended",
	    "SELECT extract(epoch FROM ends_at), expired_by FROM silence"
	    " WHERE id = $1::bigint",
	    1, p);
	if (r == NULL) {
		return db_fail("read the silence", err, err_size);
	}
	if (PQntuples(r) == 0) {
		snprintf(err, err_size,
		    "silence %s: no such silence (see hsictl alerts silence "
		    "list --all)",
		    ids);
		rv = HSI_ENOENT;
	} else {
		snprintf(err, err_size,
		    "silence %s: already ended at %s%s%s; nothing to expire",
		    ids, time_col(r, 0, 0, ended),
		    col(r, 0, 1) ? ", expired by " : "",
		    col(r, 0, 1) ? col(r, 0, 1) : "");
		rv = HSI_ESTATE;
	}
	PQclear(r);
	return rv;
}

int
hsi_silence_active_load(
    PGconn *db, hsi_silences **out, char *err, size_t err_size)
{
	PGresult *r = hsi_db_query(db, "active silences",
	    "SELECT id, matchers::text FROM silence "
	    "WHERE starts_at <= now() AND ends_at > now() ORDER BY id",
	    0, NULL);
	if (r == NULL) {
		return db_fail("read the active silences", err, err_size);
	}
	size_t        n = (size_t) PQntuples(r);
	hsi_silences *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->id = calloc(n + 1, sizeof(*s->id))) == NULL
	    || (s->m = calloc(n + 1, sizeof(*s->m))) == NULL) {
		hsi_silences_free(s);
		PQclear(r);
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	for (int i = 0; i < (int) n; i++) {
		char          why[256];
		json_t       *j  = json_loads(PQgetvalue(r, i, 1), 0, NULL);
		long long     id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		hsi_matchers *m;
		if (hsi_matchers_from_json(j, &m, why, sizeof(why)) != 0) {
			hsi_log_warn("silence not applied: its matchers do "
			             "not parse",
			    "{s:I, s:s}", "silence", (json_int_t) id, "error",
			    why);
		} else {
			s->id[s->n]  = id;
			s->m[s->n++] = m;
		}
		json_decref(j);
	}
	PQclear(r);
	*out = s;
	return 0;
}

/* ---- acknowledgements --------------------------------------------------- */

/* fp (8..64 hex digits, either case) in lower case into low. */
static int
fp_prefix(const char *fp, char low[65], char *err, size_t err_size)
{
	size_t      len = fp ? strlen(fp) : 0;
	const char *why = len < 8 ? "is shorter than 8 digits"
	    : len > 64            ? "is longer than 64 digits"
	                          : NULL;
	for (size_t i = 0; why == NULL && i < len; i++) {
		char c = fp[i];
		low[i] = c >= 'A' && c <= 'F' ? (char) (c - 'A' + 'a') : c;
		if (!((low[i] >= '0' && low[i] <= '9')
		        || (low[i] >= 'a' && low[i] <= 'f'))) {
			why = "is not hexadecimal";
		}
	}
	if (why != NULL) {
		char q[80];
		hsi_alertops_quote(fp ? fp : "", len, q, sizeof(q));
		snprintf(err, err_size,
		    "fingerprint: '%s' %s; give the alert's 64 hex digits or "
		    "a unique prefix of at least 8 (hsictl alerts list)",
		    q, why);
		return HSI_EINVAL;
	}
	low[len] = '\0';
	return 0;
}

/*
 * The one alert whose fingerprint starts with low (from fp_prefix) into
 * full. Errors as for hsi_alert_ack.
 */
static int
resolve_fp(
    PGconn *db, const char *low, char full[65], char *err, size_t err_size)
{
	size_t      len  = strlen(low);
	const char *p[1] = { low };
	PGresult   *r    = hsi_db_query(db, "alert by prefix",
	         "SELECT fingerprint, count(*) OVER () FROM alert"
	              " WHERE starts_with(fingerprint, $1) ORDER BY fingerprint "
	              "LIMIT 1",
	         1, p);
	if (r == NULL) {
		return db_fail("find the alert", err, err_size);
	}
	int rv = 0;
	if (PQntuples(r) == 0) {
		snprintf(err, err_size,
		    "fingerprint: no alert is %s%s (hsictl alerts list "
		    "--state all)",
		    low, len < 64 ? "..." : "");
		rv = HSI_ENOENT;
	} else if (strcmp(PQgetvalue(r, 0, 1), "1") != 0) {
		snprintf(err, err_size,
		    "fingerprint: %s... is ambiguous: %s alerts start with "
		    "it; give more digits",
		    low, PQgetvalue(r, 0, 1));
		rv = HSI_EINVAL;
	} else {
		snprintf(full, 65, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return rv;
}

static int
fetch_alert(
    PGconn *db, const char *full, json_t **out, char *err, size_t err_size)
{
	const char *p[1] = { full };
	PGresult   *r    = hsi_db_query(db, "alert",
	         "SELECT " ALERT_COLS " FROM alert WHERE fingerprint = $1", 1, p);
	if (r == NULL) {
		return db_fail("read the alert", err, err_size);
	}
	json_t *j = PQntuples(r) == 1 ? alert_row(r, 0) : NULL;
	PQclear(r);
	if (j == NULL) {
		snprintf(
		    err, err_size, "alert %s vanished or out of memory", full);
		return HSI_ENOENT;
	}
	*out = j;
	return 0;
}

static const char sql_ack_lock[]
    = "SELECT state, e::text, extract(epoch FROM e), e > now(),"
      " e <= now() + $4::float8 * interval '1 second', acked_by "
      "FROM alert, (SELECT COALESCE($2::timestamptz,"
      " now() + $3::float8 * interval '1 second') AS e) x "
      "WHERE fingerprint = $1 FOR UPDATE OF alert";

static const char sql_ack_set[]
    = "UPDATE alert SET acked_by = $2, acked_at = now(), ack_comment = $3,"
      " ack_expires = $4::timestamptz WHERE fingerprint = $1";

static const char sql_unack_set[]
    = "UPDATE alert SET acked_by = NULL, acked_at = NULL,"
      " ack_comment = NULL, ack_expires = NULL WHERE fingerprint = $1";

/* The event of an (un)acknowledgement, with the alert's value. */
static const char sql_ack_event[]
    = "INSERT INTO alert_event (fingerprint, state, value, detail) "
      "SELECT fingerprint, $2, value, $3::jsonb FROM alert "
      "WHERE fingerprint = $1";

/*
 * The state and expiry checks of an acknowledgement (lk: the locked
 * alert, sql_ack_lock's row) and its writes.
 */
static int
ack_write(PGconn *db, const char *full, const PGresult *lk, const char *by,
    const char *comment, char *err, size_t err_size)
{
	const char *state = PQgetvalue(lk, 0, 0);
	char        expires[TIME_MAX];
	time_col(lk, 0, 2, expires);
	if (strcmp(state, "firing") != 0 && strcmp(state, "pending") != 0) {
		snprintf(err, err_size,
		    "alert %.12s is %s; only a firing or pending alert can be "
		    "acknowledged",
		    full, state);
		return HSI_ESTATE;
	}
	if (!bool_col(lk, 0, 3) || !bool_col(lk, 0, 4)) {
		char maxs[16];
		hsi_alertops_format_duration(
		    HSI_ACK_MAX_S, maxs, sizeof(maxs));
		snprintf(err, err_size,
		    "expires: %s is %s; give a time or duration up to %s "
		    "ahead",
		    expires,
		    bool_col(lk, 0, 3) ? "too far ahead" : "not in the future",
		    maxs);
		return HSI_ERANGE;
	}
	json_t *d = json_pack("{s:s, s:s, s:s}", "by", by, "comment", comment,
	    "expires", expires);
	char   *ds
	    = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	if (ds == NULL) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	const char *ps[4] = { full, by, comment, PQgetvalue(lk, 0, 1) };
	const char *pe[3] = { full, "acknowledged", ds };
	int         rv    = hsi_db_exec(db, "ack", sql_ack_set, 4, ps)
	    || hsi_db_exec(db, "ack event", sql_ack_event, 3, pe);
	free(ds);
	return rv ? db_fail("record the acknowledgement", err, err_size) : 0;
}

/* Runs an (un)acknowledgement of alert low (a prefix from fp_prefix) in
 * one transaction; comment NULL means unacknowledge. */
static int
ack_tx(PGconn *db, const char *low, const char *by, const char *comment,
    const char *at, int64_t secs, json_t **out, char *err, size_t err_size)
{
	char        full[65], secs_s[24], max_s[24];
	PGresult   *lk = NULL;
	json_t     *a  = NULL;
	int         rv;
	const char *p[4] = { full, at, secs_s, max_s };
	snprintf(secs_s, sizeof(secs_s), "%lld", (long long) secs);
	snprintf(max_s, sizeof(max_s), "%d", HSI_ACK_MAX_S);
	if (hsi_db_exec(db, "begin", "BEGIN", 0, NULL) != 0) {
		return db_fail("begin a transaction", err, err_size);
	}
	if ((rv = resolve_fp(db, low, full, err, err_size)) != 0) {
		goto out;
	}
	if ((lk = hsi_db_query(db, "lock alert", sql_ack_lock, 4, p)) == NULL
	    || PQntuples(lk) != 1) {
		rv = db_fail("lock the alert", err, err_size);
		goto out;
	}
	if (comment != NULL) {
		rv = ack_write(db, full, lk, by, comment, err, err_size);
	} else if (col(lk, 0, 5) == NULL) {
		snprintf(err, err_size,
		    "alert %.12s is not acknowledged; nothing to undo", full);
		rv = HSI_ESTATE;
	} else {
		json_t     *d     = json_pack("{s:s}", "by", by);
		char       *ds    = d ? json_dumps(d, JSON_COMPACT) : NULL;
		const char *pe[3] = { full, "unacknowledged", ds };
		json_decref(d);
		if (ds == NULL) {
			snprintf(err, err_size, "out of memory");
			rv = HSI_ENOMEM;
		} else if (hsi_db_exec(db, "unack", sql_unack_set, 1, p)
		    || hsi_db_exec(db, "unack event", sql_ack_event, 3, pe)) {
			rv = db_fail(
			    "remove the acknowledgement", err, err_size);
		}
		free(ds);
	}
	if (rv == 0 && out != NULL) {
		rv = fetch_alert(db, full, &a, err, err_size);
	}
out:
	PQclear(lk);
	if (rv == 0 && hsi_db_exec(db, "commit", "COMMIT", 0, NULL) != 0) {
		rv = db_fail("commit", err, err_size);
	}
	if (rv != 0) {
		PQclear(PQexec(db, "ROLLBACK"));
		json_decref(a);
		return rv;
	}
	if (out != NULL) {
		*out = a;
	}
	return 0;
}

int
hsi_alert_ack(PGconn *db, const char *fp, const char *by, const char *comment,
    const char *expires, json_t **out, char *err, size_t err_size)
{
	const char *at;
	char        low[65];
	int64_t     secs;
	int         rv;
	if ((rv = fp_prefix(fp, low, err, err_size))
	    || (rv = hsi_alertops_check_text(
	            "by", by, TEXT_BY_MAX, err, err_size))
	    || (rv = hsi_alertops_check_text(
	            "comment", comment, TEXT_COMMENT_MAX, err, err_size))
	    || (rv = hsi_alertops_parse_when("expires", expires,
	            HSI_ACK_DEFAULT_S, HSI_ACK_MAX_S, &at, &secs, err,
	            err_size))) {
		return rv;
	}
	return ack_tx(db, low, by, comment, at, secs, out, err, err_size);
}

int
hsi_alert_unack(PGconn *db, const char *fp, const char *by, json_t **out,
    char *err, size_t err_size)
{
	char low[65];
	int  rv = fp_prefix(fp, low, err, err_size);
	if (rv != 0
	    || (rv = hsi_alertops_check_text(
	            "by", by, TEXT_BY_MAX, err, err_size))
	        != 0) {
		return rv;
	}
	return ack_tx(db, low, by, NULL, NULL, 0, out, err, err_size);
}

/* ---- listings ----------------------------------------------------------- */

static const char sql_list[]
    = "SELECT " ALERT_COLS " FROM alert "
      "WHERE ($1::text[] IS NULL OR state = ANY($1::text[]))"
      " AND ($2::text IS NULL OR rule = $2) "
      "ORDER BY updated_at DESC, fingerprint LIMIT $3::int";

int
hsi_alert_list(PGconn *db, const hsi_alert_filter *f, json_t **out, char *err,
    size_t err_size)
{
	static const struct {
		const char *name, *states;
	} states[]        = { { "active", "{firing,pending}" },
		       { "firing", "{firing}" }, { "pending", "{pending}" },
		       { "resolved", "{resolved}" }, { "all", NULL } };
	const char *state = f->state ? f->state : "active", *set = NULL;
	size_t      k;
	int         limit = f->limit ? f->limit : 100;
	for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
		if (strcmp(state, states[k].name) == 0) {
			set = states[k].states;
			break;
		}
	}
	if (k == sizeof(states) / sizeof(states[0])) {
		char q[80];
		hsi_alertops_quote(state, strlen(state), q, sizeof(q));
		snprintf(err, err_size,
		    "state: '%s' is not a state; give firing, pending, "
		    "resolved, "
		    "active (firing and pending) or all",
		    q);
		return HSI_EINVAL;
	}
	if (limit < 1 || limit > HSI_ALERT_LIST_MAX) {
		snprintf(err, err_size, "limit: %d; give 1 to %d", limit,
		    HSI_ALERT_LIST_MAX);
		return HSI_ERANGE;
	}
	/* Matchers are POSIX regexes evaluated here, so with any the limit
	 * applies after them, not in SQL. */
	int  filter = hsi_matchers_count(f->matchers) > 0;
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *p[3] = { set, f->rule, filter ? NULL : lim };
	PGresult   *r    = hsi_db_query(db, "alert list", sql_list, 3, p);
	if (r == NULL) {
		return db_fail("list alerts", err, err_size);
	}
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < PQntuples(r)
	     && json_array_size(a) < (size_t) limit;
	     i++) {
		json_t *row = alert_row(r, i);
		if (row != NULL && filter
		    && !hsi_matchers_match(
		        f->matchers, json_object_get(row, "labels"))) {
			json_decref(row);
			continue;
		}
		if (json_array_append_new(a, row) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	PQclear(r);
	if (a == NULL) {
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}

/* The last EVENTS_MAX events of an alert, oldest first, and how many it
 * has in all. */
static const char sql_events[]
    = "SELECT seq, state, value, extract(epoch FROM at), detail::text, n "
      "FROM (SELECT *, count(*) OVER () AS n FROM alert_event"
      " WHERE fingerprint = $1 ORDER BY seq DESC LIMIT " EVENTS_MAX ") x "
      "ORDER BY seq";

int
hsi_alert_show(
    PGconn *db, const char *fp, json_t **out, char *err, size_t err_size)
{
	char    low[65], full[65];
	json_t *a;
	int     rv = fp_prefix(fp, low, err, err_size);
	if (rv != 0 || (rv = resolve_fp(db, low, full, err, err_size)) != 0
	    || (rv = fetch_alert(db, full, &a, err, err_size)) != 0) {
		return rv;
	}
	const char *p[1] = { full };
	PGresult   *r    = hsi_db_query(db, "alert events", sql_events, 1, p);
	if (r == NULL) {
		json_decref(a);
		return db_fail("read the alert's events", err, err_size);
	}
	json_t *ev = json_array();
	for (int i = 0; ev != NULL && i < PQntuples(r); i++) {
		char    at[TIME_MAX];
		json_t *row = json_pack("{s:I, s:s, s:o, s:s, s:o}", "seq",
		    (json_int_t) strtoll(PQgetvalue(r, i, 0), NULL, 10),
		    "state", col(r, i, 1), "value", num_col(r, i, 2), "at",
		    time_col(r, i, 3, at), "detail", json_col(r, i, 4));
		if (json_array_append_new(ev, row) != 0) {
			json_decref(ev);
			ev = NULL;
		}
	}
	json_int_t total
	    = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 5), NULL, 10) : 0;
	PQclear(r);
	if (ev == NULL || json_object_set_new(a, "events", ev) != 0
	    || json_object_set_new(a, "events_total", json_integer(total))
	        != 0) {
		json_decref(a);
		snprintf(err, err_size, "out of memory");
		return HSI_ENOMEM;
	}
	*out = a;
	return 0;
}
