/*
 * outbox.h: the node's durable outbox (SQLite, WAL, synchronous=FULL).
 *
 * A file is committed here as numbered parts before it leaves the inbox,
 * so from then on nothing the agency handed over can be lost: after a crash
 * or a reboot the node resumes sending from the last acknowledged seq. The
 * epoch is drawn once, when the outbox is created; a reinstalled node (an
 * empty outbox) therefore starts a new epoch and is never mistaken for a
 * replay of the old one.
 */
#ifndef HSI_OUTBOX_H
#define HSI_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct hsi_outbox hsi_outbox;

typedef struct {
	uint64_t epoch;
	uint64_t next_seq;  /* the seq the next part will get */
	uint64_t acked_seq; /* cumulative ack received from the scorer */
	long     pending_files;
	long     pending_parts;
	long long
	    oldest_unacked_ms;   /* when the oldest unacked part was added */
	long long last_heard_ms; /* last authenticated ack or heartbeat */
	uint32_t  catalog_version;
} hsi_outbox_status;

/* Opens or creates path for agency/node_id. A path created for another
 * agency or node is refused (HSI_EINVAL with err). */
int  hsi_outbox_open(const char *path, const char *agency, const char *node_id,
     hsi_outbox **out, char *err, size_t err_size);
void hsi_outbox_close(hsi_outbox *ob);

/*
 * Adds a file in one transaction: the file row and its n parts
 * (payloads[k] are packed ObservationBatch messages, part k+1 of n),
 * numbered from next_seq. On success *first_seq is the first part's seq.
 */
int hsi_outbox_add_file(hsi_outbox *ob, const char *file_id, const char *name,
    const char *sha, long rows, const unsigned char *const *payloads,
    const size_t *lens, size_t n, uint64_t *first_seq);

/* The id and state ("sending", "delivered", "rejected") of the newest
 * file with this content and name, if any (the crash window between
 * commit and leaving the inbox). 1 found, 0 not, <0 error. */
int hsi_outbox_find_sending(hsi_outbox *ob, const char *sha, const char *name,
    char *file_id, size_t size, char *state, size_t state_size);

/*
 * Calls fn for up to limit unacknowledged parts in seq order. fn's payload
 * is valid only during the call. Returns 0 or an error.
 */
int hsi_outbox_pending(hsi_outbox *ob, size_t limit,
    void (*fn)(
        void *arg, uint64_t seq, const unsigned char *payload, size_t len),
    void *arg);

/* Records a cumulative ack: acked_seq becomes max(acked_seq, seq) (seqs
 * never issued are ignored) and acknowledged parts are dropped. Returns 1
 * if it advanced, 0 if not, <0 on error. */
int hsi_outbox_ack(hsi_outbox *ob, uint64_t seq);

/*
 * Records the scorer's verdict (packed FileVerdict) for file_id. Returns
 * 1 with *name filled if the file was waiting for it, 0 if it was already
 * recorded or is unknown, <0 on error.
 */
int hsi_outbox_verdict(hsi_outbox *ob, const char *file_id, const char *state,
    const unsigned char *verdict, size_t len, char *name, size_t name_size);

/*
 * The newest file named name, if its verdict is recorded: 1 with *state
 * ("delivered" or "rejected") and *verdict (packed FileVerdict, heap
 * memory the caller frees); 0 if there is none or it is still being sent;
 * <0 on error. For finishing files a crash left in sending/.
 */
int hsi_outbox_answered(hsi_outbox *ob, const char *name, char *state,
    size_t state_size, unsigned char **verdict, size_t *len);

/* Files whose verdict arrived: up to max ids, for confirmation. */
int hsi_outbox_unconfirmed(
    hsi_outbox *ob, char ids[][80], size_t max, size_t *n);
int hsi_outbox_confirmed(hsi_outbox *ob, const char *file_id);

/* Cached catalog snapshot (packed CatalogSnapshot) for offline checks. */
int hsi_outbox_save_catalog(
    hsi_outbox *ob, uint32_t version, const unsigned char *snap, size_t len);
/* *snap is heap memory the caller frees; HSI_ENOENT if none cached. */
int hsi_outbox_load_catalog(hsi_outbox *ob, unsigned char **snap, size_t *len);

/* Calls fn for every file still being sent, with its parts acknowledged
 * so far and its parts in all (progress of large files). */
int hsi_outbox_sending(hsi_outbox *ob,
    void (*fn)(
        void *arg, const char *name, long rows, long acked_parts, long parts),
    void *arg);

void     hsi_outbox_heard(hsi_outbox *ob, long long now_ms);
int      hsi_outbox_status_get(hsi_outbox *ob, hsi_outbox_status *st);
uint64_t hsi_outbox_epoch(const hsi_outbox *ob);

#endif
