/*
 * impq.h — the impaired delay queue (impq.c): one direction of a pair
 * wire, the loopback backend's queue, and each direction of an
 * interface's impairment layer (impair.c).
 *
 * Every pq_* function that says "Locked" expects q->mu held; the others
 * take it themselves. Times are nanoseconds of whatever clock the caller
 * passes (the link's); pq_wait and pq_wait_ready sleep on CLOCK_MONOTONIC.
 */
#ifndef US_IMPQ_H
#define US_IMPQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/config.h"
#include "ustack/pair.h"

/* ---- one direction: the bounded delivery queue -------------------------- */

struct pq_slot {
	uint64_t at;    /* deliver time, ns */
	uint64_t seq;   /* queue order among equal times */
	uint32_t len;
};

struct pq {
	pthread_mutex_t mu;     /* protects every field below */
	pthread_cond_t cv;      /* CLOCK_MONOTONIC; signalled on queue and wakeup */
	struct pq_slot *slot;   /* [NSLOTS] */
	uint8_t *data;          /* [NSLOTS * US_PAIR_FRAME_MAX] frame bytes */
	uint32_t *heap;         /* queued slot indices, min-heap on (at, seq) */
	uint32_t nheap;
	uint32_t *freel;        /* stack of free slot indices */
	uint32_t nfree;
	uint64_t seq;           /* next sequence number */
	uint32_t held;          /* slot held back for reordering, or NO_SLOT */
	uint64_t held_until;    /* when the held slot is released at the latest */
	bool wake;              /* us_pair_wakeup() pending */
	/* Sender's side. */
	struct us_impair imp;
	uint64_t rng[4];
	uint64_t wire_free;     /* rate limit: when the last frame finished serialising */
	struct us_pair_stats st;
};

int pq_init(struct pq *q);
void pq_fini(struct pq *q);
/* Set the sender's impairments and PRNG, and zero its counters. Locked. */
void pq_set_sender(struct pq *q, const struct us_impair *imp, uint64_t seed);
/* Discard every queued and held frame. Locked. */
void pq_clear(struct pq *q);
/* Apply the sender's impairments to one frame and queue it (takes q->mu). */
int pq_send(struct pq *q, uint64_t now, const uint8_t *frame, size_t len);
/* Take the next frame due by now into buf: its length, 0 if none. Locked. */
int pq_take(struct pq *q, uint64_t now, uint8_t *buf, size_t cap);
/* Earliest time a frame will be due, UINT64_MAX if none. Locked. */
uint64_t pq_next(const struct pq *q);
uint64_t pq_mono_ns(void);
/* Real clock: wait up to timeout_ms (negative: forever) for a due frame and take it. */
int pq_wait(struct pq *q, uint8_t *buf, size_t cap, int timeout_ms);
/* Real clock: wait up to timeout_ms until a frame is due, taking nothing: 1, or 0. */
int pq_wait_ready(struct pq *q, int timeout_ms);
/* Cut a pq_wait/pq_wait_ready short. */
void pq_wakeup(struct pq *q);
/* Check an impairment record's probabilities; err names what. 0, or -1 EINVAL. */
int pq_check_impair(const char *what, const struct us_impair *imp, char *err, size_t errlen);

#endif
