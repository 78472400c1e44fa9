/*
 * ingest.c: the agency node (see ingest.h and docs/protocol.md).
 *
 * One file is in flight at a time: it is validated, cut into parts that
 * each fit well inside the 1 MiB message cap, and the parts are sent
 * within a bounded window. The scorer's ack is cumulative, so anything
 * lost (a part before the pipe connected, an ack) is repaired by resending
 * from the acknowledged point (go-back-N).
 */
#include "ingest.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog.h"
#include "envelope.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "report.h"
#include "rxq.h"
#include "validate.h"

#define WINDOW_PARTS 128
#define PART_MAX_BYTES (512 * 1024)

#define O(f) offsetof(hsi_ingest_config, f)
const hsi_cfg_opt hsi_ingest_opts[] = {
	{ "agency", HSI_CFG_STR, O(agency), NULL, "agency code (required)", 0,
	    0 },
	{ "node_id", HSI_CFG_STR, O(node_id), NULL,
	    "this node's name (default AGENCY-node)", 0, 0 },
	{ "key_file", HSI_CFG_STR, O(key_file), NULL,
	    "key file from 'hsictl key rotate' (required)", 0, 0 },
	{ "scorer_url", HSI_CFG_STR, O(scorer_url), "tcp://127.0.0.1:7450",
	    "the scorer's ingest address", 0, 0 },
	{ "events_url", HSI_CFG_STR, O(events_url), "tcp://127.0.0.1:7451",
	    "the scorer's events address (acks, catalog)", 0, 0 },
	{ "inbox", HSI_CFG_STR, O(inbox), NULL,
	    "folder watched for files (required)", 0, 0 },
	{ "tls_cert", HSI_CFG_STR, O(tls_cert), NULL,
	    "PEM certificate+key for tls+tcp://", 0, 0 },
	{ "tls_ca", HSI_CFG_STR, O(tls_ca), NULL, "PEM CA for tls+tcp://", 0,
	    0 },
	{ "part_rows", HSI_CFG_INT, O(part_rows), "2000",
	    "rows per part at most", 1, 100000 },
	{ "resend_ms", HSI_CFG_INT, O(resend_ms), "1000",
	    "resend unacknowledged parts after this quiet time", 50, 600000 },
	{ "max_file_mb", HSI_CFG_INT, O(max_file_mb), "256",
	    "largest file accepted", 1, 4096 },
	{ "partial", HSI_CFG_BOOL, O(partial), "false",
	    "send the valid rows of a file that has invalid ones", 0, 0 },
	{ "once", HSI_CFG_BOOL, O(once), "false",
	    "exit when the inbox is empty and all is acknowledged", 0, 0 },
	{ "log_level", HSI_CFG_STR, O(log_level), "info",
	    "debug, info, warn or error", 0, 0 },
	{ NULL, HSI_CFG_STR, 0, NULL, NULL, 0, 0 },
};
#undef O

typedef struct {
	unsigned char *wire;
	size_t         len;
	uint64_t       seq;
} part;

struct hsi_ingest {
	const hsi_ingest_config *cfg;
	char                     node_id[64];
	hsi_key                  key;
	hsi_catalog             *cat;
	nng_socket               pub, sub;
	hsi_rxq                 *rxq;
	uint64_t                 epoch;
	uint64_t                 next_seq;
	uint64_t                 acked;
	char                     done_dir[4096], rejected_dir[4096];
	/* the file in flight */
	char              name[256];
	char              file_id[80];
	hsi_batch         batch;
	part             *parts;
	size_t            n_parts;
	Hsi__FileVerdict *verdict;
	long long         last_progress_ms;
	int               any_rejected;
};

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
make_dir(const char *path, char *err, size_t err_size)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		snprintf(err, err_size, "cannot create folder %s: %s", path,
		    strerror(errno));
		return HSI_EIO;
	}
	return 0;
}

int
hsi_ingest_open(
    const hsi_ingest_config *cfg, hsi_ingest **out, char *err, size_t err_size)
{
	if (cfg->agency == NULL || cfg->key_file == NULL
	    || cfg->inbox == NULL) {
		snprintf(err, err_size,
		    "agency, key_file and inbox are required (see --help)");
		return HSI_EINVAL;
	}
	hsi_ingest *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		return HSI_ENOMEM;
	}
	n->cfg = cfg;
	snprintf(n->node_id, sizeof(n->node_id), "%s",
	    cfg->node_id ? cfg->node_id : cfg->agency);
	hsi_batch_init(&n->batch);
	int rv = hsi_key_load(cfg->key_file, &n->key, err, err_size);
	if (rv == 0 && strcmp(n->key.agency, cfg->agency) != 0) {
		snprintf(err, err_size,
		    "%s: the key belongs to agency %s, not %s", cfg->key_file,
		    n->key.agency, cfg->agency);
		rv = HSI_EINVAL;
	}
	snprintf(n->done_dir, sizeof(n->done_dir), "%s/../done", cfg->inbox);
	snprintf(n->rejected_dir, sizeof(n->rejected_dir), "%s/../rejected",
	    cfg->inbox);
	if (rv == 0
	    && ((rv = make_dir(cfg->inbox, err, err_size))
	        || (rv = make_dir(n->done_dir, err, err_size))
	        || (rv = make_dir(n->rejected_dir, err, err_size)))) {
		goto fail;
	}
	if (rv != 0) {
		goto fail;
	}
	/* A new epoch per start: this node keeps no outbox yet, so its
	 * sequence restarts and must not look like a replay. */
	if (RAND_bytes((unsigned char *) &n->epoch, sizeof(n->epoch)) != 1) {
		rv = HSI_EIO;
		goto fail;
	}
	n->epoch &= 0x7fffffffffffffffULL; /* stored as bigint */
	n->next_seq = 1;
	char topic_ack[HSI_TOPIC_MAX];
	snprintf(topic_ack, sizeof(topic_ack), "ack.%s\n", cfg->agency);
	const char *topics[] = { "catalog\n", topic_ack, NULL };
	hsi_net_tls tls      = { cfg->tls_cert, NULL, cfg->tls_ca };
	if ((rv = hsi_net_pub_open(
	         &n->pub, cfg->scorer_url, 0, &tls, err, err_size))
	    != 0) {
		goto fail;
	}
	if ((rv = hsi_net_sub_open(
	         &n->sub, cfg->events_url, 0, topics, &tls, err, err_size))
	    != 0) {
		nng_close(n->pub);
		goto fail;
	}
	if ((rv = hsi_rxq_start(n->sub, 1024, &n->rxq)) != 0) {
		nng_close(n->sub);
		nng_close(n->pub);
		goto fail;
	}
	*out = n;
	return 0;
fail:
	free(n);
	return rv;
}

static void
drop_file(hsi_ingest *n)
{
	for (size_t i = 0; i < n->n_parts; i++) {
		free(n->parts[i].wire);
	}
	free(n->parts);
	n->parts   = NULL;
	n->n_parts = 0;
	n->name[0] = '\0';
	hsi_batch_fini(&n->batch);
	hsi_batch_init(&n->batch);
	hsi_pb_free((ProtobufCMessage *) n->verdict);
	n->verdict = NULL;
}

void
hsi_ingest_close(hsi_ingest *n)
{
	if (n == NULL) {
		return;
	}
	hsi_rxq_stop(n->rxq);
	nng_close(n->pub);
	drop_file(n);
	hsi_catalog_free(n->cat);
	free(n);
}

/* ---- incoming: catalog and acks ----------------------------------------- */

static void
on_catalog(hsi_ingest *n, const Hsi__Envelope *env)
{
	Hsi__CatalogSnapshot *snap = (Hsi__CatalogSnapshot *) hsi_pb_unpack(
	    &hsi__catalog_snapshot__descriptor, env->payload.data,
	    env->payload.len);
	hsi_catalog *c;
	if (snap == NULL) {
		return;
	}
	if ((n->cat == NULL || n->cat->version != snap->version)
	    && hsi_catalog_from_snapshot(snap, &c) == 0) {
		hsi_catalog_free(n->cat);
		n->cat = c;
		hsi_log_info("catalog received", "{s:i, s:i}", "version",
		    (int) c->version, "indicators", (int) c->n_ind);
	}
	hsi_pb_free((ProtobufCMessage *) snap);
}

static void
on_ack(hsi_ingest *n, const char *topic, const Hsi__Envelope *env)
{
	/* An ack not signed with our key is ignored: a forged ack could
	 * otherwise make us drop data the scorer never stored. */
	if (strcmp(env->key_id, n->key.id) != 0
	    || hsi_envelope_verify(topic, env, &n->key) != 0) {
		hsi_log_warn("ack with bad signature ignored", NULL);
		return;
	}
	Hsi__Ack *ack = (Hsi__Ack *) hsi_pb_unpack(
	    &hsi__ack__descriptor, env->payload.data, env->payload.len);
	if (ack == NULL) {
		return;
	}
	if (strcmp(ack->node_id, n->node_id) == 0 && ack->epoch == n->epoch) {
		if (ack->acked_seq > n->acked
		    && ack->acked_seq < n->next_seq) {
			n->acked            = ack->acked_seq;
			n->last_progress_ms = now_ms();
		}
		for (size_t i = 0; i < ack->n_verdicts; i++) {
			Hsi__FileVerdict *v = ack->verdicts[i];
			if (n->name[0] && strcmp(v->file_id, n->file_id) == 0
			    && n->verdict == NULL) {
				size_t len
				    = hsi__file_verdict__get_packed_size(v);
				uint8_t *b = malloc(len + 1);
				if (b != NULL) {
					hsi__file_verdict__pack(v, b);
					n->verdict = (Hsi__FileVerdict *)
					    hsi_pb_unpack(
					        &hsi__file_verdict__descriptor,
					        b, len);
					free(b);
				}
			}
		}
		if (ack->refusal[0]) {
			hsi_log_warn("scorer refused a message", "{s:s}",
			    "reason", ack->refusal);
		}
	}
	hsi_pb_free((ProtobufCMessage *) ack);
}

static void
on_message(hsi_ingest *n, nng_msg *m)
{
	char                 topic[HSI_TOPIC_MAX];
	const unsigned char *body;
	size_t               blen;
	Hsi__Envelope       *env;
	if (hsi_net_split(nng_msg_body(m), nng_msg_len(m), topic, &body, &blen)
	        != 0
	    || hsi_envelope_open(body, blen, &env) != 0) {
		return;
	}
	if (strcmp(topic, "catalog") == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__CATALOG_SNAPSHOT) {
		on_catalog(n, env);
	} else if (strncmp(topic, "ack.", 4) == 0
	    && env->payload_type == HSI__PAYLOAD_TYPE__ACK) {
		on_ack(n, topic, env);
	}
	hsi_envelope_free(env);
}

/* ---- outgoing: a file as parts ------------------------------------------ */

static int
seal_part(hsi_ingest *n, Hsi__ObservationBatch *b, part *p)
{
	size_t   len = hsi__observation_batch__get_packed_size(b);
	uint8_t *buf = malloc(len + 1);
	if (buf == NULL) {
		return HSI_ENOMEM;
	}
	hsi__observation_batch__pack(b, buf);
	char topic[HSI_TOPIC_MAX];
	snprintf(topic, sizeof(topic), "obs.%s", n->cfg->agency);
	Hsi__Envelope env = HSI__ENVELOPE__INIT;
	env.agency        = n->cfg->agency;
	env.node_id       = n->node_id;
	env.epoch         = n->epoch;
	env.seq           = n->next_seq;
	env.sent_unix_ms  = (int64_t) time(NULL) * 1000;
	env.payload_type  = HSI__PAYLOAD_TYPE__OBSERVATION_BATCH;
	env.payload.data  = buf;
	env.payload.len   = len;
	int rv = hsi_envelope_seal(topic, &env, &n->key, &p->wire, &p->len);
	free(buf);
	if (rv == 0) {
		p->seq = n->next_seq++;
	}
	return rv;
}

static size_t
row_bytes(const hsi_obs *o)
{
	return strlen(o->indicator) + strlen(o->area) + strlen(o->period)
	    + (o->note ? strlen(o->note) : 0) + 40;
}

/* Cuts the valid rows into parts of at most part_rows rows and
 * PART_MAX_BYTES, each sealed with the next seq. */
static int
build_parts(hsi_ingest *n)
{
	hsi_batch *b     = &n->batch;
	size_t     start = 0, cap = 0;
	size_t     nparts = 0;
	size_t    *ends   = NULL;
	/* First pass: where each part ends, to know parts (k of n). */
	while (start < b->n_obs || (b->n_obs == 0 && nparts == 0)) {
		size_t end = start, bytes = 0;
		while (end < b->n_obs
		    && end - start < (size_t) n->cfg->part_rows
		    && bytes + row_bytes(&b->obs[end]) < PART_MAX_BYTES) {
			bytes += row_bytes(&b->obs[end++]);
		}
		if (nparts == cap) {
			cap        = cap ? cap * 2 : 8;
			size_t *ne = realloc(ends, cap * sizeof(size_t));
			if (ne == NULL) {
				free(ends);
				return HSI_ENOMEM;
			}
			ends = ne;
		}
		ends[nparts++] = end;
		start          = end;
		if (b->n_obs == 0) {
			break;
		}
	}
	n->parts                    = calloc(nparts, sizeof(part));
	Hsi__Observation  *ob       = calloc(b->n_obs + 1, sizeof(*ob));
	Hsi__Observation **pob      = calloc(b->n_obs + 1, sizeof(*pob));
	int                rv       = (n->parts && ob && pob) ? 0 : HSI_ENOMEM;
	static char        st[4][2] = { "A", "E", "P", "M" };
	for (size_t i = 0; rv == 0 && i < b->n_obs; i++) {
		hsi_obs *o = &b->obs[i];
		hsi__observation__init(&ob[i]);
		ob[i].indicator = o->indicator;
		ob[i].area      = o->area;
		ob[i].period    = o->period;
		ob[i].value     = o->value;
		ob[i].has_value = o->has_value;
		ob[i].status    = st[o->status == 'E' ? 1
		           : o->status == 'P'         ? 2
		           : o->status == 'M'         ? 3
		                                      : 0];
		ob[i].note      = o->note ? o->note : (char *) "";
		ob[i].row       = o->row;
		pob[i]          = &ob[i];
	}
	start = 0;
	for (size_t k = 0; rv == 0 && k < nparts; k++) {
		Hsi__ObservationBatch batch = HSI__OBSERVATION_BATCH__INIT;
		batch.file_id               = n->file_id;
		batch.file_name             = n->name;
		batch.part                  = (uint32_t) k + 1;
		batch.parts                 = (uint32_t) nparts;
		batch.catalog_version       = n->cat->version;
		batch.rows_in_file          = (uint32_t) b->rows;
		batch.partial               = n->cfg->partial;
		batch.n_observations        = ends[k] - start;
		batch.observations          = pob + start;
		rv    = seal_part(n, &batch, &n->parts[k]);
		start = ends[k];
		if (rv == 0) {
			n->n_parts++;
		}
	}
	free(ends);
	free(ob);
	free(pob);
	return rv;
}

static void
send_window(hsi_ingest *n)
{
	for (size_t i = 0; i < n->n_parts; i++) {
		part *p = &n->parts[i];
		if (p->seq <= n->acked) {
			continue;
		}
		if (p->seq > n->acked + WINDOW_PARTS) {
			break;
		}
		hsi_net_send(n->pub, NULL, p->wire, p->len);
	}
	n->last_progress_ms = now_ms();
}

static int
move_to(const char *inbox, const char *name, const char *dir)
{
	char from[8448], to[8448];
	snprintf(from, sizeof(from), "%s/%s", inbox, name);
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	return rename(from, to) == 0 ? 0 : HSI_EIO;
}

static void
write_report(hsi_ingest *n, const char *dir, const char *state)
{
	char path[4352];
	snprintf(path, sizeof(path), "%s/%s.report.json", dir, n->name);
	hsi_report_write(path, n->name, state, &n->batch, n->verdict);
}

static int
read_file(const char *path, long max_bytes, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return HSI_EIO;
	}
	char  *b = malloc((size_t) max_bytes + 1);
	size_t n = b ? fread(b, 1, (size_t) max_bytes + 1, f) : 0;
	fclose(f);
	if (b == NULL) {
		return HSI_ENOMEM;
	}
	if (n > (size_t) max_bytes) {
		free(b);
		return HSI_ETOOBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* Validates the file; on success it becomes the file in flight. */
static void
start_file(hsi_ingest *n, const char *name)
{
	char path[4352];
	snprintf(path, sizeof(path), "%s/%s", n->cfg->inbox, name);
	snprintf(n->name, sizeof(n->name), "%s", name);
	char  *buf;
	size_t len;
	int    rv
	    = read_file(path, n->cfg->max_file_mb * 1024 * 1024, &buf, &len);
	if (rv == 0) {
		rv = hsi_validate_csv(
		    n->cat, n->cfg->agency, buf, len, &n->batch);
		unsigned char h[SHA256_DIGEST_LENGTH];
		SHA256((unsigned char *) buf, len, h);
		char hex[33];
		hsi_hex(h, 16, hex);
		snprintf(n->file_id, sizeof(n->file_id), "%s-%" PRIu64, hex,
		    n->next_seq);
		free(buf);
	}
	int reject = rv != 0 || n->batch.file_error
	    || (n->batch.n_issues > 0 && !n->cfg->partial)
	    || (n->batch.n_obs == 0 && n->batch.n_issues > 0);
	if (reject) {
		hsi_report_print(name, &n->batch);
		hsi_log_warn("file rejected", "{s:s, s:i, s:i, s:s}", "file",
		    name, "rows", (int) n->batch.rows, "issues",
		    (int) n->batch.n_issues, "error",
		    rv ? hsi_strerror(rv) : "invalid rows");
		write_report(n, n->rejected_dir, "rejected");
		move_to(n->cfg->inbox, name, n->rejected_dir);
		n->any_rejected = 1;
		drop_file(n);
		return;
	}
	if (build_parts(n) != 0) {
		hsi_log_error("cannot build parts", "{s:s}", "file", name);
		drop_file(n);
		return;
	}
	hsi_log_info("sending file", "{s:s, s:i, s:i}", "file", name, "rows",
	    (int) n->batch.n_obs, "parts", (int) n->n_parts);
	send_window(n);
}

static void
finish_file(hsi_ingest *n)
{
	write_report(n, n->done_dir, "applied");
	move_to(n->cfg->inbox, n->name, n->done_dir);
	hsi_log_info("file delivered", "{s:s, s:i, s:i, s:i, s:i}", "file",
	    n->name, "imported", n->verdict ? (int) n->verdict->imported : -1,
	    "updated", n->verdict ? (int) n->verdict->updated : -1, "ignored",
	    n->verdict ? (int) n->verdict->ignored : -1, "rejected",
	    n->verdict ? (int) n->verdict->rejected : -1);
	drop_file(n);
}

/* The first file of the inbox in name order; skips hidden and partial
 * names (".x", "*.tmp", "*.part") that a copy may still be writing. */
static int
next_inbox_file(hsi_ingest *n, char *name, size_t size)
{
	DIR *d = opendir(n->cfg->inbox);
	if (d == NULL) {
		return 0;
	}
	char          *best = NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.'
		    || (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0)
		    || (l > 5 && strcmp(e->d_name + l - 5, ".part") == 0)) {
			continue;
		}
		if (best == NULL || strcmp(e->d_name, best) < 0) {
			free(best);
			best = strdup(e->d_name);
		}
	}
	closedir(d);
	if (best == NULL) {
		return 0;
	}
	snprintf(name, size, "%s", best);
	free(best);
	return 1;
}

int
hsi_ingest_run(hsi_ingest *n, volatile sig_atomic_t *stop)
{
	long long waiting_log = 0;
	hsi_log_info("ready", "{s:s, s:s, s:s}", "agency", n->cfg->agency,
	    "node", n->node_id, "inbox", n->cfg->inbox);
	while (!*stop) {
		nng_msg *m = hsi_rxq_get(n->rxq, 50);
		if (m != NULL) {
			on_message(n, m);
			nng_msg_free(m);
		}
		if (n->cat == NULL) {
			if (now_ms() - waiting_log > 5000) {
				hsi_log_info(
				    "waiting for the catalog from the "
				    "scorer",
				    "{s:s}", "events_url", n->cfg->events_url);
				waiting_log = now_ms();
			}
			continue;
		}
		if (n->name[0] != '\0') {
			uint64_t last = n->parts[n->n_parts - 1].seq;
			if (n->acked >= last) {
				finish_file(n);
			} else if (now_ms() - n->last_progress_ms
			    >= n->cfg->resend_ms) {
				send_window(n);
			}
			continue;
		}
		char name[256];
		if (next_inbox_file(n, name, sizeof(name))) {
			start_file(n, name);
		} else if (n->cfg->once) {
			break;
		}
	}
	return n->any_rejected && n->cfg->once ? 1 : 0;
}
