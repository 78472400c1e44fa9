/* report.c: file verdicts for people (see report.h). */
#include "report.h"

#include <stdio.h>

#include "error.h"

json_t *
hsi_report_local(const char *file, const char *state, const hsi_batch *b)
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
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:o}", "file", file,
	    "state", state, "rows", (int) b->rows, "valid_rows",
	    (int) b->n_obs, "invalid_rows", (int) b->bad_rows,
	    "issues_truncated", b->truncated, "issues", issues);
}

void
hsi_report_central(json_t *report, const Hsi__FileVerdict *v)
{
	json_t *rej = json_array();
	for (size_t i = 0; i < v->n_rejections; i++) {
		const Hsi__RowRejection *r = v->rejections[i];
		json_array_append_new(rej,
		    json_pack("{s:i, s:s, s:s, s:s}", "line", (int) r->row,
		        "code", r->code, "field", r->field, "message",
		        r->message));
	}
	json_object_set_new(report, "state", json_string(v->state));
	json_object_set_new(report, "central",
	    json_pack("{s:s, s:i, s:i, s:i, s:i, s:o}", "state", v->state,
	        "imported", (int) v->imported, "updated", (int) v->updated,
	        "ignored", (int) v->ignored, "rejected", (int) v->rejected,
	        "rejections", rej));
}

int
hsi_report_save(const json_t *report, const char *path)
{
	char tmp[8448];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(report, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
	    != 0) {
		return HSI_EIO;
	}
	return rename(tmp, path) == 0 ? 0 : HSI_EIO;
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
