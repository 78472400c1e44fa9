/* report.c: file verdicts for people (see report.h). */
#include "report.h"

#include <jansson.h>
#include <stdio.h>

#include "error.h"

int
hsi_report_write(const char *path, const char *file, const char *state,
    const hsi_batch *b, const Hsi__FileVerdict *v)
{
	json_t *issues = json_array();
	for (size_t i = 0; i < b->n_issues; i++) {
		const hsi_issue *is = &b->issues[i];
		json_array_append_new(issues,
		    json_pack("{s:i, s:i, s:s, s:s, s:s, s:s}", "line",
		        (int) is->row, "column", (int) is->col, "code",
		        is->code, "field", is->field, "value", is->value,
		        "message", is->msg));
	}
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:o}", "file",
	    file, "state", state, "rows", (int) b->rows, "valid_rows",
	    (int) b->n_obs, "invalid_rows", (int) b->bad_rows,
	    "issues_truncated", b->truncated, "issues", issues);
	if (o == NULL) {
		return HSI_ENOMEM;
	}
	if (v != NULL) {
		json_t *rej = json_array();
		for (size_t i = 0; i < v->n_rejections; i++) {
			const Hsi__RowRejection *r = v->rejections[i];
			json_array_append_new(rej,
			    json_pack("{s:i, s:s, s:s, s:s}", "line",
			        (int) r->row, "code", r->code, "field",
			        r->field, "message", r->message));
		}
		json_object_set_new(o, "central",
		    json_pack("{s:s, s:i, s:i, s:i, s:i, s:o}", "state",
		        v->state, "imported", (int) v->imported, "updated",
		        (int) v->updated, "ignored", (int) v->ignored,
		        "rejected", (int) v->rejected, "rejections", rej));
	}
	int rv
	    = json_dump_file(o, path,
	          JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII * 0)
	    ? HSI_EIO
	    : 0;
	json_decref(o);
	return rv;
}

void
hsi_report_print(const char *file, const hsi_batch *b)
{
	for (size_t i = 0; i < b->n_issues; i++) {
		const hsi_issue *is = &b->issues[i];
		fprintf(stderr, "%s:%u:%u: %s %s '%s': %s\n", file, is->row,
		    is->col, is->code, is->field, is->value, is->msg);
	}
	if (b->truncated) {
		fprintf(stderr, "%s: more problems not shown (limit %d)\n",
		    file, HSI_MAX_ISSUES);
	}
}
