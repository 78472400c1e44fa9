/*
 * call_int.h: the inside of an hsi_call, for the request pipeline
 * (dispatch.c), call.c and reply.c only. Handlers use call.h.
 */
#ifndef HSI_API_CALL_INT_H
#define HSI_API_CALL_INT_H

#include <time.h>

#include "call.h"

#define HSI_CALL_PATH_MAX 1024 /* longest decoded path: else 414 */
#define HSI_CALL_ADDR_MAX 64

struct hsi_call {
	const hsi_server      *srv;
	struct MHD_Connection *conn;
	hsi_match              match;
	const hsi_route       *route; /* NULL: static file or refusal */
	hsi_principal          who;
	hsi_format             format;
	PGconn                *db; /* NULL until hsi_call_db */
	int                    db_slot;
	hsi_body               body;
	int             prepared; /* the checks before the handler ran */
	unsigned        status;   /* of the queued response; 0: none */
	int             queue_failed;
	struct timespec start;
	char            method[16];
	char            path[HSI_CALL_PATH_MAX];
	int             path_too_long;
	char            addr[HSI_CALL_ADDR_MAX]; /* client, for limits */
	hsi_query       q;
};

/* A call for a request's first handler invocation (the path is copied;
 * the client address read). Returns NULL when out of memory. */
hsi_call *hsi_call_alloc(const hsi_server *srv, struct MHD_Connection *conn,
    const char *method, const char *url);

/* Gives back the database connection, if any (the handler is done). */
void hsi_call_release_db(hsi_call *c);

/* Releases and frees everything (NULL ok). */
void hsi_call_free(hsi_call *c);

/*
 * Resolves the Authorization header once into c->who. Returns 0 (also
 * when no header was sent: anonymous), HSI_EAUTH (refused token), or
 * HSI_EDB after queueing 503.
 */
int hsi_call_authenticate(hsi_call *c);

/*
 * The next_cursor text for next, tagged for this call's listing (the
 * same scope hsi_call_cursor checks). Returns 0 or HSI_ETOOBIG.
 */
int hsi_call_cursor_text(
    hsi_call *c, const hsi_cursor *next, char *out, size_t size);

#endif
