/*
 * ustack/pair.h — hold one end of an in-process "pair" wire directly.
 *
 * A pair wire joins two ends in one process, named by a string (the
 * `device` of a pair interface in the config). The pair backend
 * (backends/pair.c) is a thin wrapper over this API; tests and tools use it
 * to hold the other end of a stack's wire, inject frames into the stack and
 * read what it sends.
 *
 * Each direction of a wire is a bounded queue of US_PAIR_QUEUE_SLOTS frames
 * of at most US_PAIR_FRAME_MAX bytes each, preallocated at attach (no
 * allocation per frame). Impairments (struct us_impair, ustack/config.h) are
 * applied on send, to the frames the end that attached with them sends,
 * using a small PRNG seeded from the attach seed: the same seed and the same
 * sequence of sends (frames and now_ns values) give the same outcome.
 *
 * Times are nanoseconds on a clock both ends share: the caller passes now_ns
 * to send and recv (a virtual clock in deterministic tests, CLOCK_MONOTONIC
 * otherwise); us_pair_recv_wait() always uses CLOCK_MONOTONIC, so an end
 * that uses it must be fed CLOCK_MONOTONIC times by its sender too.
 *
 * Threads: any function may be called from any thread. One mutex per
 * direction protects that direction's queue, PRNG and counters; a
 * process-wide registry mutex protects the table of names (and is only taken
 * by attach and detach). One thread at a time may receive on an end, and
 * an end must not be used after us_pair_detach().
 *
 * Errors: functions returning int return -1 and set errno.
 */
#ifndef USTACK_PAIR_H
#define USTACK_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "ustack/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Frames queued per direction; a send into a full queue drops the frame. */
#define US_PAIR_QUEUE_SLOTS 1024
/* Largest frame a wire carries: the largest IP MTU plus the Ethernet header. */
#define US_PAIR_FRAME_MAX   (US_MAX_MTU + 14)
/*
 * A frame held back for reordering is released right behind the next frame
 * sent in the same direction, or at its own delivery time plus this much if
 * no other frame is sent by then (it is never lost for being held).
 */
#define US_PAIR_REORDER_HOLD_NS (10ULL * 1000 * 1000)

struct us_pair_end;

/*
 * Attach to the wire called name, creating it if it does not exist. The
 * first end attached is end 0, the second end 1; a third attach fails
 * (EBUSY). An end freed by us_pair_detach() may be attached again. imp (may
 * be NULL: no impairment) applies to frames this end sends; it is copied.
 * On failure returns NULL, sets errno and writes a one-line reason into err.
 */
struct us_pair_end *us_pair_attach(const char *name, const struct us_impair *imp, uint64_t seed,
				   char *err, size_t errlen);

/*
 * Send one frame to the other end at time now_ns. Returns 0 when the frame
 * went on the wire, including when an impairment then lost it. Returns -1
 * with EMSGSIZE (len 0 or above US_PAIR_FRAME_MAX) or ENOBUFS (the queue
 * towards the peer is full; counted in dropped_full).
 */
int us_pair_send(struct us_pair_end *e, uint64_t now_ns, const uint8_t *frame, size_t len);

/*
 * Take the next frame due at now_ns (deliver time <= now_ns; earliest deliver
 * time first, in send order among equal times). Returns its length, or 0 if
 * nothing is due. A frame longer than cap is truncated to cap and cap is
 * returned.
 */
int us_pair_recv(struct us_pair_end *e, uint64_t now_ns, uint8_t *buf, size_t cap);

/*
 * Like us_pair_recv() on CLOCK_MONOTONIC, but waits up to timeout_ms for a
 * frame to become due (0: don't wait; negative: no limit). Returns 0 on
 * timeout and when woken by us_pair_wakeup().
 */
int us_pair_recv_wait(struct us_pair_end *e, uint8_t *buf, size_t cap, int timeout_ms);

/* Deliver time of the next frame queued towards e, UINT64_MAX if none. */
uint64_t us_pair_next_ready(struct us_pair_end *e);

/*
 * Counters of the frames SENT by one end (their fate on the way to the
 * other end). sent counts every frame accepted by us_pair_send() (not the
 * EMSGSIZE ones); delivered counts copies taken by the peer, duplicates
 * included. Once the queue is drained:
 *   sent + duplicated == delivered + lost + dropped_full.
 * reordered counts frames held back; corrupted counts frames with a bit
 * flipped (a duplicate of a corrupted frame carries the same flip).
 */
struct us_pair_stats {
	uint64_t sent, delivered, lost, duplicated, reordered, corrupted, dropped_full;
};
void us_pair_stats(struct us_pair_end *e, struct us_pair_stats *out);

/*
 * Make one us_pair_recv_wait() on e return 0 now, or the next one return 0
 * at once if none is waiting.
 */
void us_pair_wakeup(struct us_pair_end *e);

/*
 * Release e. Frames still queued towards e are discarded; frames e sent
 * stay queued for the peer. The wire is freed when both ends are detached.
 */
void us_pair_detach(struct us_pair_end *e);

#ifdef __cplusplus
}
#endif

#endif /* USTACK_PAIR_H */
