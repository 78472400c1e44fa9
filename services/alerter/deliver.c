/*
 * deliver.c: the delivery thread that empties notification_outbox over
 * HTTP with libcurl (see notify.h for the guarantees).
 *
 * The row stays locked in an open transaction while its request is in
 * flight, so a second alerter cannot send it too, and a crash (kill -9,
 * power) simply drops the lock: the row is still undelivered and goes out
 * again. That is the one place a receiver can see a repeat (it answered
 * 200 and we died before COMMIT), which is why every request carries the
 * notification id.
 */
#include "notify.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "error.h"
#include "log.h"

struct hsi_notify {
	const hsi_rules *rules;
	PGconn          *db;
	CURL            *curl;
	char            *names; /* "{ops,am}": the receivers as a text[] */
	pthread_t        thread;
	pthread_mutex_t  mu;
	pthread_cond_t   cv;
	int              woken;
	atomic_int       stopping;
	uint64_t         rng;
	int64_t repushed[HSI_RECEIVERS_MAX]; /* mono ms, per receiver */
};

/*
 * The oldest undelivered row of each configured receiver, if it is due.
 * Taking only a receiver's head keeps its notifications in order and
 * makes the head's backoff hold back the rest of its queue.
 */
static const char sql_next[]
    = "SELECT o.id, o.notification_id, o.receiver, o.payload::text,"
      " o.attempts FROM notification_outbox o "
      "WHERE o.delivered_at IS NULL AND o.receiver = ANY($1::text[])"
      " AND o.next_attempt <= now() AND NOT EXISTS ("
      "  SELECT 1 FROM notification_outbox p WHERE p.receiver = o.receiver"
      "  AND p.delivered_at IS NULL AND p.id < o.id) "
      "ORDER BY o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED";

static const char sql_done[]
    = "UPDATE notification_outbox SET delivered_at = now(),"
      " attempts = attempts + 1, last_error = NULL WHERE id = $1::bigint";

static const char sql_retry[]
    = "UPDATE notification_outbox SET attempts = attempts + 1,"
      " last_error = $2, next_attempt = now() + $3::bigint *"
      " interval '1 millisecond' WHERE id = $1::bigint";

void
hsi_notify_sign(const unsigned char *key, size_t key_len, const char *body,
    size_t len, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int  mac_len = 0;
	HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) body,
	    len, mac, &mac_len);
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < mac_len; i++) {
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
	}
	out[7 + 2 * mac_len] = '\0';
}

/* Backoff after the attempts-th failure: 1 s doubling, at most 5 min,
 * then +-20% so receivers that come back are not hit in lockstep. */
static int64_t
backoff_ms(hsi_notify *n, int attempts)
{
	int64_t ms = HSI_NOTIFY_BACKOFF_MIN_MS;
	for (int i = 1; i < attempts && ms < HSI_NOTIFY_BACKOFF_MAX_MS; i++) {
		ms *= 2;
	}
	if (ms > HSI_NOTIFY_BACKOFF_MAX_MS) {
		ms = HSI_NOTIFY_BACKOFF_MAX_MS;
	}
	n->rng ^= n->rng << 13;
	n->rng ^= n->rng >> 7;
	n->rng ^= n->rng << 17;
	double u = (double) (n->rng >> 11) / 9007199254740992.0; /* [0,1) */
	return (int64_t) ((double) ms * (0.8 + 0.4 * u));
}

static size_t
discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void) p;
	(void) arg;
	return size * nmemb;
}

/* Called by libcurl about once a second at least: abandons the request
 * when the alerter is stopping. */
static int
progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	hsi_notify *n = arg;
	(void) dt;
	(void) dn;
	(void) ut;
	(void) un;
	return atomic_load(&n->stopping) ? 1 : 0;
}

static const hsi_receiver *
find_receiver(const hsi_notify *n, const char *name)
{
	for (size_t i = 0; i < hsi_rules_receiver_count(n->rules); i++) {
		const hsi_receiver *r = hsi_rules_receiver(n->rules, i);
		if (strcmp(r->name, name) == 0) {
			return r;
		}
	}
	return NULL;
}

/*
 * POSTs body to r. Returns 0 on a 2xx answer, HSI_ECLOSED when abandoned
 * for a stop, else HSI_EIO with why (for last_error).
 */
static int
post(hsi_notify *n, const hsi_receiver *r, const char *id, const char *body,
    char *why, size_t why_size)
{
	char url[HSI_RECEIVER_URL_MAX + 32], hid[160], sig[128];
	snprintf(url, sizeof(url), "%s", r->url);
	if (r->type == HSI_RECEIVER_ALERTMANAGER) {
		size_t l = strlen(url);
		while (l > 0 && url[l - 1] == '/') {
			url[--l] = '\0';
		}
		snprintf(url + l, sizeof(url) - l, "/api/v2/alerts");
	}
	struct curl_slist *h
	    = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(hid, sizeof(hid), "X-HSI-Notification-Id: %s", id);
	h = h ? curl_slist_append(h, hid) : NULL;
	if (h != NULL && r->secret_len > 0) {
		char v[80];
		hsi_notify_sign(
		    r->secret, r->secret_len, body, strlen(body), v);
		snprintf(sig, sizeof(sig), "X-HSI-Signature: %s", v);
		h = curl_slist_append(h, sig);
	}
	if (h == NULL) {
		snprintf(why, why_size, "out of memory");
		return HSI_EIO;
	}
	CURL *c = n->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hsi-alerter");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(
	    c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, n);
	CURLcode cc     = curl_easy_perform(c);
	long     status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		return HSI_ECLOSED;
	}
	if (cc != CURLE_OK) {
		snprintf(why, why_size, "%s", curl_easy_strerror(cc));
		return HSI_EIO;
	}
	if (status < 200 || status > 299) {
		snprintf(why, why_size, "HTTP %ld", status);
		return HSI_EIO;
	}
	return 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records the outcome and commits; the row is still locked by us. */
static int
finish(hsi_notify *n, const char *rowid, const char *id, const hsi_receiver *r,
    int attempts, int rv, const char *why, int64_t ms)
{
	if (rv == 0) {
		const char *p[1] = { rowid };
		if (hsi_db_exec(n->db, "mark delivered", sql_done, 1, p)
		    != 0) {
			return HSI_EDB;
		}
		hsi_log_info("notification delivered", "{s:s, s:s, s:i, s:I}",
		    "id", id, "receiver", r->name, "attempts", attempts + 1,
		    "ms", (json_int_t) ms);
	} else {
		char        wait[24];
		int64_t     delay = backoff_ms(n, attempts + 1);
		const char *p[3]  = { rowid, why, wait };
		snprintf(wait, sizeof(wait), "%lld", (long long) delay);
		if (hsi_db_exec(n->db, "schedule retry", sql_retry, 3, p)
		    != 0) {
			return HSI_EDB;
		}
		hsi_log_warn("notification failed: will retry",
		    "{s:s, s:s, s:s, s:i, s:I}", "id", id, "receiver", r->name,
		    "error", why, "attempts", attempts + 1, "retry_in_ms",
		    (json_int_t) delay);
	}
	return hsi_db_exec(n->db, "commit", "COMMIT", 0, NULL);
}

/* Sends the next due row, if any. Returns 1 when one was handled, 0 when
 * nothing is due, or an error (the transaction rolled back). */
static int
deliver_one(hsi_notify *n)
{
	const char *p[1] = { n->names };
	char        why[256];
	int         rv;
	if ((rv = hsi_db_exec(n->db, "begin", "BEGIN", 0, NULL)) != 0) {
		return rv;
	}
	PGresult *r = hsi_db_query(n->db, "next notification", sql_next, 1, p);
	if (r == NULL || PQntuples(r) == 0) {
		rv = r ? hsi_db_exec(n->db, "commit", "COMMIT", 0, NULL)
		       : HSI_EDB;
		PQclear(r);
		return rv;
	}
	const hsi_receiver *rc       = find_receiver(n, PQgetvalue(r, 0, 2));
	const char         *id       = PQgetvalue(r, 0, 1);
	const char         *body     = PQgetvalue(r, 0, 3);
	int                 attempts = atoi(PQgetvalue(r, 0, 4));
	int64_t             t0       = mono_ms();
	why[0]                       = '\0';
	rv = rc ? post(n, rc, id, body, why, sizeof(why)) : HSI_EINVAL;
	if (rv != HSI_ECLOSED && rc != NULL) {
		rv = finish(n, PQgetvalue(r, 0, 0), id, rc, attempts, rv, why,
		    mono_ms() - t0);
	}
	PQclear(r);
	if (rv != 0) {
		PQclear(PQexec(n->db, "ROLLBACK"));
		return rv;
	}
	return 1;
}

static void
wait_ms(hsi_notify *n, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->mu);
	while (!n->woken && !atomic_load(&n->stopping)) {
		if (pthread_cond_timedwait(&n->cv, &n->mu, &ts) != 0) {
			break;
		}
	}
	n->woken = 0;
	pthread_mutex_unlock(&n->mu);
}

static int
ensure_db(hsi_notify *n)
{
	if (PQstatus(n->db) == CONNECTION_OK) {
		return 0;
	}
	PQreset(n->db);
	return PQstatus(n->db) == CONNECTION_OK ? 0 : HSI_EDB;
}

/* How long until the earliest pending row is due, at most
 * HSI_NOTIFY_POLL_MS, so a retry goes out on time rather than on the
 * next poll. */
static long
due_in_ms(hsi_notify *n)
{
	const char *p[1] = { n->names };
	PGresult   *r    = hsi_db_query(n->db, "next due",
	         "SELECT ceil(extract(epoch FROM min(next_attempt) - now())"
	              " * 1000)::bigint FROM notification_outbox "
	              "WHERE delivered_at IS NULL AND receiver = ANY($1::text[])",
	         1, p);
	long        ms   = HSI_NOTIFY_POLL_MS;
	if (r != NULL && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		long due = atol(PQgetvalue(r, 0, 0));
		ms       = due < 5 ? 5 : due < ms ? due : ms;
	}
	PQclear(r);
	return ms;
}

/* Posts one batch of firing alerts to Alertmanager receiver rc; returns
 * the number of alerts in it (0 at the end) or -1. */
static int
repush_batch(hsi_notify *n, const hsi_receiver *rc, int offset)
{
	char        lim[16], off[16], why[256] = "";
	const char *p[2] = { lim, off };
	snprintf(lim, sizeof(lim), "%d", HSI_NOTIFY_REPUSH_BATCH);
	snprintf(off, sizeof(off), "%d", offset);
	PGresult *r = hsi_db_query(
	    n->db, "firing alerts", hsi_notify_sql_firing, 2, p);
	if (r == NULL) {
		return -1;
	}
	int     rows = PQntuples(r);
	json_t *arr  = rows > 0 ? hsi_notify_am_alerts(r) : NULL;
	char   *body = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	int     rv   = rows;
	if (rows > 0
	    && (body == NULL
	        || post(n, rc, "repush", body, why, sizeof(why)) != 0)) {
		hsi_log_warn("alertmanager re-push failed: next in a minute",
		    "{s:s, s:s}", "receiver", rc->name, "error",
		    why[0] ? why : "out of memory");
		rv = -1;
	}
	free(body);
	json_decref(arr);
	PQclear(r);
	return rv;
}

/* Re-sends the firing alerts to every alertmanager receiver whose
 * repush_ms has passed since its last one (notify.h). */
static void
repush(hsi_notify *n)
{
	int64_t now = mono_ms();
	for (size_t i = 0;
	     i < hsi_rules_receiver_count(n->rules) && i < HSI_RECEIVERS_MAX;
	     i++) {
		const hsi_receiver *rc = hsi_rules_receiver(n->rules, i);
		int                 k, offset = 0;
		if (rc->type != HSI_RECEIVER_ALERTMANAGER
		    || now - n->repushed[i] < rc->repush_ms) {
			continue;
		}
		n->repushed[i] = now;
		while (!atomic_load(&n->stopping)
		    && (k = repush_batch(n, rc, offset))
		        == HSI_NOTIFY_REPUSH_BATCH) {
			offset += k;
		}
	}
}

static void *
deliver_main(void *arg)
{
	hsi_notify *n = arg;
	for (size_t i = 0; i < HSI_RECEIVERS_MAX; i++) {
		n->repushed[i]
		    = mono_ms(); /* the first push is the outbox's */
	}
	while (!atomic_load(&n->stopping)) {
		if (ensure_db(n) == 0) {
			repush(n);
		}
		int rv = ensure_db(n);
		if (rv == 0) {
			rv = deliver_one(n);
		}
		if (rv == 1) {
			continue; /* maybe more due: no wait */
		}
		if (rv != 0 && rv != HSI_ECLOSED) {
			hsi_log_warn("notification delivery paused", "{s:s}",
			    "error", hsi_strerror(rv));
		}
		wait_ms(n, rv == 0 ? due_in_ms(n) : HSI_NOTIFY_POLL_MS);
	}
	return NULL;
}

/* The receivers' names as a PostgreSQL array literal; names are plain
 * a-z 0-9 _ - (receivers.c), so no quoting is needed. */
static char *
names_array(const hsi_rules *rules)
{
	size_t cap
	    = 3 + hsi_rules_receiver_count(rules) * HSI_RECEIVER_NAME_MAX;
	char  *s   = malloc(cap);
	size_t len = 1;
	if (s == NULL) {
		return NULL;
	}
	s[0] = '{';
	for (size_t i = 0; i < hsi_rules_receiver_count(rules); i++) {
		len += (size_t) snprintf(s + len, cap - len, "%s%s",
		    i ? "," : "", hsi_rules_receiver(rules, i)->name);
	}
	snprintf(s + len, cap - len, "}");
	return s;
}

static void
free_notify(hsi_notify *n)
{
	curl_easy_cleanup(n->curl);
	hsi_db_close(n->db);
	free(n->names);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

int
hsi_notify_start(const char *db_url, const hsi_rules *rules, hsi_notify **out,
    char *err, size_t err_size)
{
	hsi_notify        *n = calloc(1, sizeof(*n));
	pthread_condattr_t ca;
	int                rv;
	if (n == NULL) {
		return HSI_ENOMEM;
	}
	n->rules = rules;
	n->rng   = (uint64_t) time(NULL) * 2654435761u ^ (uint64_t) getpid()
	    ^ (uint64_t) (uintptr_t) n;
	n->rng |= 1;
	atomic_init(&n->stopping, 0);
	pthread_mutex_init(&n->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Before any thread uses libcurl: global init is not thread-safe. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((rv = hsi_db_open(db_url, &n->db, err, err_size)) != 0) {
		goto fail;
	}
	n->curl  = curl_easy_init();
	n->names = names_array(rules);
	if (n->curl == NULL || n->names == NULL) {
		snprintf(err, err_size, "cannot set up libcurl");
		rv = HSI_ENOMEM;
		goto fail;
	}
	if (pthread_create(&n->thread, NULL, deliver_main, n) != 0) {
		snprintf(err, err_size, "cannot start the delivery thread");
		rv = HSI_ENOMEM;
		goto fail;
	}
	*out = n;
	return 0;
fail:
	free_notify(n);
	curl_global_cleanup();
	return rv;
}

void
hsi_notify_wake(hsi_notify *n)
{
	if (n == NULL) {
		return;
	}
	pthread_mutex_lock(&n->mu);
	n->woken = 1;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

void
hsi_notify_stop(hsi_notify *n)
{
	if (n == NULL) {
		return;
	}
	pthread_mutex_lock(&n->mu);
	atomic_store(&n->stopping, 1);
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	free_notify(n);
	curl_global_cleanup();
}
