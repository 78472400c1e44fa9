/*
 * intake.c: from the inbox into the outbox.
 *
 * Order is what makes the node safe to kill at any moment: the file's parts
 * are committed to the outbox (synchronous) before the file leaves inbox/;
 * if the node dies between the two, the file is found again in inbox/ and
 * recognised by its content hash as already committed, so it is moved on,
 * not committed twice.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "ingest_int.h"
#include "log.h"
#include "parts.h"
#include "report.h"
#include "format.h"
#include "validate.h"

void
hsi_ingest_dirs(
    const char *inbox, char *sending, char *done, char *rejected, size_t size)
{
	snprintf(sending, size, "%s/../sending", inbox);
	snprintf(done, size, "%s/../done", inbox);
	snprintf(rejected, size, "%s/../rejected", inbox);
}

int
hsi_ingest_read_file(const char *path, long max_bytes, char **buf, size_t *len)
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

int
hsi_ingest_validate(const hsi_catalog *cat, const char *agency,
    const char *name, const char *buf, size_t len, hsi_batch *b)
{
	return hsi_validate_file(cat, agency, name, buf, len, b);
}

static int
move_file(const char *from_dir, const char *name, const char *to_dir)
{
	char from[8448], to[8448];
	snprintf(from, sizeof(from), "%s/%s", from_dir, name);
	snprintf(to, sizeof(to), "%s/%s", to_dir, name);
	return rename(from, to) == 0 ? 0 : HSI_EIO;
}

static void
save_report(json_t *rep, const char *dir, const char *name)
{
	char path[8448];
	snprintf(path, sizeof(path), "%s/%s.report.json", dir, name);
	if (rep == NULL || hsi_report_save(rep, path) != 0) {
		hsi_log_warn("cannot write report", "{s:s}", "path", path);
	}
}

void
hsi_ingest_remove_tmp(const char *dir)
{
	static const char suffix[] = ".report.json.tmp";
	DIR              *d        = opendir(dir);
	struct dirent    *e;
	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), k = sizeof(suffix) - 1;
		if (l > k && strcmp(e->d_name + l - k, suffix) == 0) {
			char path[8448];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			remove(path);
		}
	}
	closedir(d);
}

/*
 * Whether an answered file reached done/ or rejected/. If not, a crash
 * came between committing it and moving it out of the inbox; if so, the
 * same file in the inbox again is a new submission.
 */
static int
moved_on(const hsi_ingest *n, const char *name, const char *state)
{
	char path[8448];
	snprintf(path, sizeof(path), "%s/%s",
	    strcmp(state, "rejected") == 0 ? n->rejected_dir : n->done_dir,
	    name);
	return access(path, F_OK) == 0;
}

/* The first file of the inbox in name order; skips hidden and partial
 * names (".x", "*.tmp", "*.part") that a copy may still be writing. */
static int
next_inbox_file(const char *inbox, char *name, size_t size)
{
	DIR *d = opendir(inbox);
	if (d == NULL) {
		return 0;
	}
	char          *best = NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l >= size
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

/* Packs the valid rows as parts (common/parts.h) and commits them to the
 * outbox in one transaction. */
static int
commit_file(
    hsi_ingest *n, const hsi_batch *b, const char *name, const char *sha)
{
	unsigned char rnd[8];
	char          file_id[80], rhex[17];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return HSI_EIO;
	}
	hsi_hex(rnd, sizeof(rnd), rhex);
	/* Content hash for people, random part so that the same file sent
	 * twice is two files. */
	snprintf(file_id, sizeof(file_id), "%.24s-%s", sha, rhex);
	hsi_parts_spec spec = { .file_id = file_id,
		.file_name               = name,
		.catalog_version         = n->cat->version,
		.partial                 = n->cfg->partial,
		.part_rows               = (size_t) n->cfg->part_rows };
	hsi_parts      parts;
	uint64_t       first = 0;
	int            rv    = hsi_parts_pack(b, &spec, &parts);
	if (rv != 0) {
		return rv;
	}
	rv = hsi_outbox_add_file(n->ob, file_id, name, sha, (long) b->n_obs,
	    (const unsigned char *const *) parts.data, parts.len, parts.n,
	    &first);
	if (rv == 0) {
		hsi_log_info("file committed", "{s:s, s:s, s:i, s:i, s:I}",
		    "file", name, "file_id", file_id, "rows", (int) b->n_obs,
		    "parts", (int) parts.n, "first_seq", (json_int_t) first);
	}
	hsi_parts_fini(&parts);
	return rv;
}

static void
reject(hsi_ingest *n, const char *name, const hsi_batch *b, int err)
{
	hsi_report_print(name, b);
	hsi_log_warn("file rejected", "{s:s, s:i, s:i, s:s}", "file", name,
	    "rows", (int) b->rows, "issues", (int) b->n_issues, "error",
	    err ? hsi_strerror(err) : "invalid rows (see the report)");
	json_t *rep = hsi_report_local(name, "rejected", b);
	save_report(rep, n->rejected_dir, name);
	json_decref(rep);
	move_file(n->cfg->inbox, name, n->rejected_dir);
	n->any_rejected = 1;
}

int
hsi_ingest_intake(hsi_ingest *n)
{
	char name[256], path[8448];
	if (!next_inbox_file(n->cfg->inbox, name, sizeof(name))) {
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", n->cfg->inbox, name);
	char  *buf = NULL;
	size_t len = 0;
	int    rv  = hsi_ingest_read_file(
	        path, n->cfg->max_file_mb * 1024 * 1024, &buf, &len);
	hsi_batch b;
	hsi_batch_init(&b);
	if (rv != 0) {
		reject(n, name, &b, rv);
		return 1;
	}
	unsigned char h[SHA256_DIGEST_LENGTH];
	char          sha[2 * SHA256_DIGEST_LENGTH + 1], id[80];
	SHA256((unsigned char *) buf, len, h);
	hsi_hex(h, sizeof(h), sha);
	char state[16];
	if (hsi_outbox_find_sending(
	        n->ob, sha, name, id, sizeof(id), state, sizeof(state))
	        == 1
	    && (strcmp(state, "sending") == 0 || !moved_on(n, name, state))) {
		/*
		 * Committed before a crash and not yet moved on: still being
		 * sent, or already answered (the verdict can come back
		 * before the restarted node looks at its inbox again; its
		 * report is in done/ or rejected/ already).
		 */
		move_file(n->cfg->inbox, name,
		    strcmp(state, "sending") == 0        ? n->sending_dir
		        : strcmp(state, "rejected") == 0 ? n->rejected_dir
		                                         : n->done_dir);
		free(buf);
		return 1;
	}
	rv = hsi_ingest_validate(n->cat, n->cfg->agency, name, buf, len, &b);
	free(buf);
	int bad = rv != 0 || b.file_error
	    || (b.n_issues > 0 && !n->cfg->partial) || b.n_obs == 0;
	if (bad) {
		if (rv == 0 && b.n_issues == 0) {
			hsi_log_warn(
			    "file has no rows", "{s:s}", "file", name);
		}
		reject(n, name, &b, rv);
	} else if ((rv = commit_file(n, &b, name, sha)) != 0) {
		hsi_log_error("cannot commit to the outbox; will retry",
		    "{s:s, s:s}", "file", name, "error", hsi_strerror(rv));
		hsi_batch_fini(&b);
		return 0;
	} else {
		json_t *rep = hsi_report_local(name, "sending", &b);
		save_report(rep, n->sending_dir, name);
		json_decref(rep);
		move_file(n->cfg->inbox, name, n->sending_dir);
	}
	hsi_batch_fini(&b);
	return 1;
}

/*
 * Moves an answered file from sending/ to done/ or rejected/ with its
 * final report. The order makes every crash point recoverable by
 * hsi_ingest_finish_answered(): the final report is written (atomically)
 * first, then the file moves, then the local report goes. A file still in
 * sending/ without its local report has its final report written already.
 */
void
hsi_ingest_file_done(
    hsi_ingest *n, const char *name, const Hsi__FileVerdict *v)
{
	char path[8448];
	snprintf(
	    path, sizeof(path), "%s/%s.report.json", n->sending_dir, name);
	const char *dir = strcmp(v->state, "rejected") == 0 ? n->rejected_dir
	                                                    : n->done_dir;
	char        final[8448];
	snprintf(final, sizeof(final), "%s/%s.report.json", dir, name);
	json_t *rep = json_load_file(path, 0, NULL);
	/* No local report and a final one: written before a crash. */
	int written = rep == NULL && access(path, F_OK) != 0
	    && access(final, F_OK) == 0;
	if (!written) {
		if (rep == NULL) { /* lost or unreadable: the verdict alone */
			rep = json_pack("{s:s}", "file", name);
		}
		hsi_report_central(rep, v);
		save_report(rep, dir, name);
	}
	json_decref(rep);
	move_file(n->sending_dir, name, dir);
	remove(path);
	hsi_log_info("file delivered", "{s:s, s:s, s:i, s:i, s:i, s:i}",
	    "file", name, "state", v->state, "imported", (int) v->imported,
	    "updated", (int) v->updated, "ignored", (int) v->ignored,
	    "rejected", (int) v->rejected);
}

/* Finishes one entry of sending/ if the outbox holds its verdict. */
static void
finish_one(hsi_ingest *n, const char *entry)
{
	static const char suffix[] = ".report.json";
	char              name[256], state[16], path[8448];
	size_t            l = strlen(entry), k = sizeof(suffix) - 1;
	int               report = l > k && strcmp(entry + l - k, suffix) == 0;
	if (l >= sizeof(name)) {
		return;
	}
	snprintf(
	    name, sizeof(name), "%.*s", (int) (report ? l - k : l), entry);
	snprintf(path, sizeof(path), "%s/%s", n->sending_dir, name);
	if (report && access(path, F_OK) == 0) {
		return; /* handled with its file */
	}
	unsigned char *vb = NULL;
	size_t         vlen;
	if (hsi_outbox_answered(n->ob, name, state, sizeof(state), &vb, &vlen)
	    != 1) {
		return;
	}
	if (report) {
		/* The file moved on; only its local report was left. */
		snprintf(path, sizeof(path), "%s/%s", n->sending_dir, entry);
		remove(path);
	} else {
		Hsi__FileVerdict *v
		    = hsi__file_verdict__unpack(NULL, vlen, vb);
		if (v != NULL) {
			hsi_log_info(
			    "finishing a file answered before a restart",
			    "{s:s, s:s}", "file", name, "state", state);
			hsi_ingest_file_done(n, name, v);
			hsi__file_verdict__free_unpacked(v, NULL);
		} else {
			hsi_log_warn("stored verdict unreadable; file left in "
			             "sending/",
			    "{s:s}", "file", name);
		}
	}
	free(vb);
}

void
hsi_ingest_finish_answered(hsi_ingest *n)
{
	DIR *d = opendir(n->sending_dir);
	if (d == NULL) {
		return;
	}
	/* Names first: finishing renames entries of the directory read. */
	char         **names = NULL;
	size_t         cnt = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		if (cnt == cap) {
			size_t nc = cap ? 2 * cap : 16;
			char **t  = realloc(names, nc * sizeof(*t));
			if (t == NULL) {
				break;
			}
			names = t;
			cap   = nc;
		}
		if ((names[cnt] = strdup(e->d_name)) != NULL) {
			cnt++;
		}
	}
	closedir(d);
	for (size_t i = 0; i < cnt; i++) {
		finish_one(n, names[i]);
		free(names[i]);
	}
	free(names);
}
