/*
 * submission.c: GET /v1/submissions/{id} (openapi.yaml, getSubmission):
 * what the gateway accepted and, once the scorer's ack has brought it,
 * the verdict. Listed in submit.c's route table.
 *
 * Only the submitting agency and admins may read a submission: its
 * issues quote the agency's rows. Another agency's token gets 403, not
 * 404, as the contract says; ids are random, so this tells nobody
 * anything they could not guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gwoutbox.h"
#include "reply.h"
#include "submit_int.h"

const hsi_qparam hsi_submission_path[] = {
	{ .name      = "id",
	    .type    = HSI_QT_STRING,
	    .max_len = 64,
	    .charset = "abcdefghijklmnopqrstuvwxyz"
	               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
	    .example = "api-0123456789abcdef" },
	{ .name = NULL },
};

typedef struct {
	const char *id;
	char       *json;
	char        agency[HSI_AGENCY_CODE_MAX + 1];
	int         found;
} lookup;

static int
find(PGconn *db, void *arg)
{
	lookup *l = arg;
	free(l->json);
	l->json = NULL;
	int rv  = hsi_gwoutbox_get(
	     db, l->id, &l->json, l->agency, sizeof(l->agency));
	l->found = rv == 0;
	return rv == HSI_ENOENT ? 0 : rv;
}

int
hsi_submission_get(hsi_call *c)
{
	lookup               l   = { .id = hsi_call_text(c, "id") };
	const hsi_principal *who = hsi_call_principal(c);
	int                  rv  = hsi_call_run(c, find, &l);
	if (rv != 0) {
		free(l.json);
		return rv == HSI_EDB
		    ? rv
		    : hsi_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		        "internal", "Internal error",
		        "the submission could not be read "
		        "(logged); try again");
	}
	if (!l.found) {
		return hsi_reply_problem(c, MHD_HTTP_NOT_FOUND, "not-found",
		    "Not found",
		    "no submission has this id: use the Location that POST "
		    "/v1/observations answered");
	}
	if (who->role != HSI_ROLE_ADMIN
	    && strcmp(who->agency, l.agency) != 0) {
		free(l.json);
		/* Which agency it is stays unsaid: it is not the caller's. */
		return hsi_reply_problem(c, MHD_HTTP_FORBIDDEN, "forbidden",
		    "Forbidden",
		    "this submission belongs to another agency: only that "
		    "agency's tokens, or an admin, may read it");
	}
	/* Queued: tell pollers when to look again. */
	json_t     *j      = json_loads(l.json, 0, NULL);
	const char *state  = json_string_value(json_object_get(j, "state"));
	int         queued = state != NULL && strcmp(state, "queued") == 0;
	json_decref(j);
	const char *h[] = { MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL };
	rv = hsi_submit_send(c, MHD_HTTP_OK, l.json, queued ? h : NULL);
	free(l.json);
	return rv;
}
