/*
 * ingest_recover_test.c: a node killed between recording a file's verdict
 * and moving the file on finishes the move when it starts again.
 *
 * Each case builds the on-disk state a kill -9 can leave (the outbox says
 * the file was answered; sending/ still holds the file, its local report,
 * or only the report), opens the node as hsi-ingest does at start, and
 * checks where everything ended up and what the final report says.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsi.pb-c.h"
#include "ingest.h"
#include "ingest_int.h"
#include "outbox.h"

typedef struct {
	char              root[64];
	char              inbox[128], sending[160], done[160], rejected[160];
	char              key[128];
	hsi_ingest_config cfg;
} fixture;

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
exists(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/hsi-recover-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->inbox, sizeof(f->inbox), "%s/inbox", f->root);
	snprintf(f->sending, sizeof(f->sending), "%s/../sending", f->inbox);
	snprintf(f->done, sizeof(f->done), "%s/../done", f->inbox);
	snprintf(f->rejected, sizeof(f->rejected), "%s/../rejected", f->inbox);
	snprintf(f->key, sizeof(f->key), "%s/DOH.key", f->root);
	write_text(f->key,
	    "{\"agency\":\"DOH\",\"key_id\":\"DOH-20261124-ab12\","
	    "\"secret\":\"00112233445566778899aabbccddeeff00112233445566778899"
	    "aabbccddeeff\"}");
	assert_int_equal(mkdir(f->inbox, 0755), 0);
	assert_int_equal(mkdir(f->sending, 0755), 0);
	assert_int_equal(mkdir(f->done, 0755), 0);
	assert_int_equal(mkdir(f->rejected, 0755), 0);
	f->cfg.agency     = "DOH";
	f->cfg.node_id    = "DOH-n1";
	f->cfg.key_file   = f->key;
	f->cfg.inbox      = f->inbox;
	f->cfg.scorer_url = "tcp://127.0.0.1:1"; /* never connects */
	f->cfg.events_url = "tcp://127.0.0.1:1";
	*state            = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	char     cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Commits file name (one part) and, unless state is NULL, records its
 * verdict, as the running node does. */
static void
outbox_file(fixture *f, const char *id, const char *name, const char *state,
    int imported)
{
	hsi_outbox *ob;
	char        err[256];
	assert_int_equal(
	    hsi_ingest_open_outbox(&f->cfg, "DOH-n1", &ob, err, sizeof(err)),
	    0);
	const unsigned char  payload[] = { 1, 2, 3 };
	const unsigned char *p[]       = { payload };
	size_t               len[]     = { sizeof(payload) };
	uint64_t             first;
	assert_int_equal(hsi_outbox_add_file(ob, id, name, "sha-of-file", 3, p,
	                     len, 1, &first),
	    0);
	assert_int_equal(hsi_outbox_ack(ob, first), 1);
	if (state != NULL) {
		Hsi__FileVerdict v = HSI__FILE_VERDICT__INIT;
		v.file_id          = (char *) id;
		v.state            = (char *) state;
		v.imported         = (uint32_t) imported;
		size_t         n   = hsi__file_verdict__get_packed_size(&v);
		unsigned char *b   = malloc(n + 1);
		hsi__file_verdict__pack(&v, b);
		char got[256];
		assert_int_equal(
		    hsi_outbox_verdict(ob, id, state, b, n, got, sizeof(got)),
		    1);
		assert_string_equal(got, name);
		free(b);
	}
	hsi_outbox_close(ob);
}

static void
start_node(fixture *f)
{
	hsi_ingest *n;
	char        err[256] = "";
	int         rv       = hsi_ingest_open(&f->cfg, &n, err, sizeof(err));
	if (rv != 0) {
		fail_msg("hsi_ingest_open: %s", err);
	}
	hsi_ingest_close(n);
}

static json_t *
report(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.report.json", dir, name);
	return json_load_file(path, 0, NULL);
}

/* Killed after the verdict was recorded, before anything moved. */
static void
test_answered_file_moves_on(void **state)
{
	fixture *f = *state;
	char     path[512];
	outbox_file(f, "id-a", "a.csv", "applied", 3);
	snprintf(path, sizeof(path), "%s/a.csv", f->sending);
	write_text(path, "indicator,area,period,value\n");
	snprintf(path, sizeof(path), "%s/a.csv.report.json", f->sending);
	write_text(path, "{\"file\":\"a.csv\",\"rows\":3,\"local\":\"kept\"}");
	start_node(f);
	assert_false(exists(f->sending, "a.csv"));
	assert_false(exists(f->sending, "a.csv.report.json"));
	assert_true(exists(f->done, "a.csv"));
	json_t *r = report(f->done, "a.csv");
	assert_non_null(r);
	/* The local report merged with the stored verdict. */
	assert_string_equal(
	    json_string_value(json_object_get(r, "local")), "kept");
	json_t *c = json_object_get(r, "central");
	assert_non_null(c);
	assert_int_equal(
	    json_integer_value(json_object_get(c, "imported")), 3);
	json_decref(r);
}

/* A rejected verdict goes to rejected/. */
static void
test_rejected_goes_to_rejected(void **state)
{
	fixture *f = *state;
	char     path[512];
	outbox_file(f, "id-r", "r.csv", "rejected", 0);
	snprintf(path, sizeof(path), "%s/r.csv", f->sending);
	write_text(path, "x\n");
	snprintf(path, sizeof(path), "%s/r.csv.report.json", f->sending);
	write_text(path, "{\"file\":\"r.csv\"}");
	start_node(f);
	assert_false(exists(f->sending, "r.csv"));
	assert_true(exists(f->rejected, "r.csv"));
	assert_true(exists(f->rejected, "r.csv.report.json"));
	assert_false(exists(f->done, "r.csv"));
}

/* Killed after the final report was written, before the file moved: the
 * final report is kept as written, not replaced by a poorer one. */
static void
test_final_report_kept(void **state)
{
	fixture *f = *state;
	char     path[512];
	outbox_file(f, "id-b", "b.csv", "applied", 5);
	snprintf(path, sizeof(path), "%s/b.csv", f->sending);
	write_text(path, "x\n");
	snprintf(path, sizeof(path), "%s/b.csv.report.json", f->done);
	write_text(path, "{\"file\":\"b.csv\",\"final\":true}");
	start_node(f);
	assert_false(exists(f->sending, "b.csv"));
	assert_true(exists(f->done, "b.csv"));
	json_t *r = report(f->done, "b.csv");
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "final")));
	json_decref(r);
}

/* Killed after the file moved, before its local report was removed. */
static void
test_orphan_report_removed(void **state)
{
	fixture *f = *state;
	char     path[512];
	outbox_file(f, "id-c", "c.csv", "applied", 1);
	snprintf(path, sizeof(path), "%s/c.csv", f->done);
	write_text(path, "x\n");
	snprintf(path, sizeof(path), "%s/c.csv.report.json", f->done);
	write_text(path, "{\"file\":\"c.csv\",\"final\":true}");
	snprintf(path, sizeof(path), "%s/c.csv.report.json", f->sending);
	write_text(path, "{\"file\":\"c.csv\"}");
	start_node(f);
	assert_false(exists(f->sending, "c.csv.report.json"));
	json_t *r = report(f->done, "c.csv");
	assert_true(json_is_true(json_object_get(r, "final")));
	json_decref(r);
}

/* A file still waiting for its verdict stays where it is, and so does the
 * newer copy of a name whose older file was answered. */
static void
test_unanswered_stays(void **state)
{
	fixture *f = *state;
	char     path[512];
	outbox_file(f, "id-d", "d.csv", NULL, 0);
	outbox_file(f, "id-e1", "e.csv", "applied", 2);
	outbox_file(f, "id-e2", "e.csv", NULL, 0);
	for (const char *const *nm
	     = (const char *const[]) { "d.csv", "e.csv", NULL };
	     *nm != NULL; nm++) {
		snprintf(path, sizeof(path), "%s/%s", f->sending, *nm);
		write_text(path, "x\n");
		snprintf(
		    path, sizeof(path), "%s/%s.report.json", f->sending, *nm);
		write_text(path, "{}");
	}
	start_node(f);
	assert_true(exists(f->sending, "d.csv"));
	assert_true(exists(f->sending, "d.csv.report.json"));
	assert_true(exists(f->sending, "e.csv"));
	assert_true(exists(f->sending, "e.csv.report.json"));
	assert_false(exists(f->done, "e.csv"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_answered_file_moves_on, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rejected_goes_to_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_final_report_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_orphan_report_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unanswered_stays, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
