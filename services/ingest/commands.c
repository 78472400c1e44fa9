/*
 * commands.c: `hsi-ingest submit` and `hsi-ingest status`, which work on
 * the node's outbox and folders without the network, so an officer can
 * check a file and the node's state even while the link is down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "ingest_int.h"
#include "report.h"
#include "validate.h"

static int
cached_catalog(hsi_outbox *ob, hsi_catalog **cat)
{
	unsigned char *snap;
	size_t         len;
	if (hsi_outbox_load_catalog(ob, &snap, &len) != 0) {
		return HSI_ENOENT;
	}
	Hsi__CatalogSnapshot *s = (Hsi__CatalogSnapshot *) hsi_pb_unpack(
	    &hsi__catalog_snapshot__descriptor, snap, len);
	int rv = s ? hsi_catalog_from_snapshot(s, cat) : HSI_EPROTO;
	hsi_pb_free((ProtobufCMessage *) s);
	free(snap);
	return rv;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Copies src into the inbox under a hidden name, then renames: the node
 * never sees half a file. */
static int
copy_to_inbox(const char *inbox, const char *src, const char *buf, size_t len)
{
	char tmp[8448], dst[8448];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", inbox, base_name(src));
	snprintf(dst, sizeof(dst), "%s/%s", inbox, base_name(src));
	FILE *f = fopen(tmp, "wb");
	if (f == NULL) {
		return HSI_EIO;
	}
	int ok = fwrite(buf, 1, len, f) == len;
	ok &= fflush(f) == 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, dst) != 0) {
		remove(tmp);
		return HSI_EIO;
	}
	return 0;
}

static int
submit_one(
    const hsi_ingest_config *cfg, const hsi_catalog *cat, const char *path)
{
	char  *buf;
	size_t len;
	int    rv = hsi_ingest_read_file(
	       path, cfg->max_file_mb * 1024 * 1024, &buf, &len);
	if (rv != 0) {
		fprintf(stderr, "%s: cannot read: %s\n", path,
		    rv == HSI_ETOOBIG ? "over max_file_mb" : strerror(errno));
		return 1;
	}
	hsi_batch b;
	hsi_batch_init(&b);
	rv = hsi_ingest_validate(
	    cat, cfg->agency, base_name(path), buf, len, &b);
	int bad = rv != 0 || b.file_error || b.n_obs == 0
	    || (b.n_issues > 0 && !cfg->partial);
	hsi_report_print(path, &b);
	const char *state = cfg->dry_run ? "dry-run"
	    : bad                        ? "rejected"
	                                 : "queued";
	json_t     *rep   = hsi_report_local(base_name(path), state, &b);
	char        rpath[8448];
	snprintf(rpath, sizeof(rpath), "%s.report.json", path);
	if (rep == NULL || hsi_report_save(rep, rpath) != 0) {
		fprintf(stderr, "%s: cannot write the report\n", rpath);
	}
	json_decref(rep);
	printf("%s: %zu rows, %zu valid, %zu with problems: %s\n", path,
	    b.rows, b.n_obs, b.bad_rows,
	    bad ? "REJECTED (nothing sent; fix and submit again)"
	        : cfg->dry_run ? "ok (dry run: nothing sent)"
	                       : "accepted, queued for sending");
	if (!bad && !cfg->dry_run
	    && copy_to_inbox(cfg->inbox, path, buf, len) != 0) {
		fprintf(stderr, "%s: cannot copy into %s\n", path, cfg->inbox);
		bad = 1;
	}
	free(buf);
	hsi_batch_fini(&b);
	return bad;
}

int
hsi_ingest_submit(const hsi_ingest_config *cfg, char *const *files, int nfiles)
{
	char         err[512];
	hsi_outbox  *ob;
	hsi_catalog *cat = NULL;
	if (nfiles == 0) {
		fprintf(stderr, "hsi-ingest submit: name at least one file\n");
		return 2;
	}
	if (hsi_ingest_open_outbox(cfg,
	        cfg->node_id ? cfg->node_id : cfg->agency, &ob, err,
	        sizeof(err))
	    != 0) {
		fprintf(stderr, "hsi-ingest: %s\n", err);
		return 2;
	}
	if (cached_catalog(ob, &cat) != 0) {
		fprintf(stderr,
		    "hsi-ingest: no catalog cached yet: start the node "
		    "(hsi-ingest run) once while it can reach the scorer\n");
		hsi_outbox_close(ob);
		return 2;
	}
	int bad = 0;
	for (int i = 0; i < nfiles; i++) {
		bad |= submit_one(cfg, cat, files[i]);
	}
	hsi_catalog_free(cat);
	hsi_outbox_close(ob);
	return bad ? 1 : 0;
}

static void
print_sending(void *arg, const char *name, long rows, long acked, long parts)
{
	(void) arg;
	printf("sending          %s: %ld rows, %ld of %ld parts acknowledged "
	       "(%ld%%)\n",
	    name, rows, acked, parts, parts ? 100 * acked / parts : 0);
}

int
hsi_ingest_status(const hsi_ingest_config *cfg, int as_json)
{
	char              err[512];
	hsi_outbox       *ob;
	hsi_outbox_status st;
	if (hsi_ingest_open_outbox(cfg,
	        cfg->node_id ? cfg->node_id : cfg->agency, &ob, err,
	        sizeof(err))
	    != 0) {
		fprintf(stderr, "hsi-ingest: %s\n", err);
		return 2;
	}
	hsi_outbox_status_get(ob, &st);
	long long now = hsi_ingest_now_ms();
	long long heard
	    = st.last_heard_ms ? (now - st.last_heard_ms) / 1000 : -1;
	long long age
	    = st.oldest_unacked_ms ? (now - st.oldest_unacked_ms) / 1000 : 0;
	const char *link = heard < 0 ? "never connected"
	    : heard <= 10            ? "up"
	                             : "down";
	if (as_json) {
		printf("{\"agency\":\"%s\",\"epoch\":%llu,\"next_seq\":%llu,"
		       "\"acked_seq\":%llu,\"pending_files\":%ld,"
		       "\"pending_parts\":%ld,\"oldest_unacked_s\":%lld,"
		       "\"link\":\"%s\",\"last_heard_s\":%lld,"
		       "\"catalog_version\":%u}\n",
		    cfg->agency, (unsigned long long) st.epoch,
		    (unsigned long long) st.next_seq,
		    (unsigned long long) st.acked_seq, st.pending_files,
		    st.pending_parts, age, link, heard, st.catalog_version);
		hsi_outbox_close(ob);
		return 0;
	}
	printf("agency           %s\n", cfg->agency);
	printf("epoch            %llu\n", (unsigned long long) st.epoch);
	printf("last acked seq   %llu (next %llu)\n",
	    (unsigned long long) st.acked_seq,
	    (unsigned long long) st.next_seq);
	printf("pending          %ld files, %ld parts\n", st.pending_files,
	    st.pending_parts);
	printf("oldest unacked   %lld s\n", age);
	if (heard < 0) {
		printf("link             never connected\n");
	} else {
		printf("link             %s (last heard %lld s ago)\n", link,
		    heard);
	}
	printf("catalog version  %u\n", st.catalog_version);
	hsi_outbox_sending(ob, print_sending, NULL);
	hsi_outbox_close(ob);
	return 0;
}
