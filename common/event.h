/*
 * event.h: decoding the scorer's ScoreEvent messages for subscribers (the
 * alerter, the API). A ScoreEvent is a trigger that carries no data --
 * "period P of methodology M changed, as of sequence S" -- and subscribers
 * read the state from PostgreSQL.
 */
#ifndef HSI_EVENT_H
#define HSI_EVENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one wire message (topic "score" '\n' Envelope holding a
 * ScoreEvent) into its sequence and canonical period (HSI_PERIOD_MAX
 * bytes). Returns 0 or HSI_EPROTO. No HMAC is checked: the scorer does not
 * sign events yet (docs/protocol.md), and a forged one only costs a
 * re-read of the truth from PostgreSQL.
 */
int hsi_score_event_decode(
    const void *msg, size_t len, uint64_t *seq, char *period);

#endif
