/*
 * impq.c — the impaired delay queue shared by the pair wire, the loopback
 * backend and the impairment layer that any interface can have
 * (impair.c): a bounded, preallocated pool of frame slots plus a binary
 * min-heap ordered by (deliver time, send sequence), with the sender's
 * impairments applied as a frame is queued. See impq.h and pair.c's
 * header for the impairments and their order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "impq.h"
#include "lockassert.h"
#include "rng.h"

#define NSLOTS US_PAIR_QUEUE_SLOTS
#define NO_SLOT UINT32_MAX

/* Where the one corrupted bit goes: byte index and bit mask (mask 0: none). */
struct flip {
	size_t byte;
	uint8_t mask;
};

/* ---- the impairment PRNG: the stack's xoshiro256**, state per queue ------- */

static void prng_seed(uint64_t s[4], uint64_t seed)
{
	us_xoshiro_seed(s, seed);
}

static uint64_t prng_next(uint64_t s[4])
{
	return us_xoshiro_next(s);
}

/* Uniform in [0, 1) with 53 bits. */
static double prng_unit(uint64_t s[4])
{
	return (double)(prng_next(s) >> 11) * 0x1.0p-53;
}

/* True with probability p; draws nothing when p <= 0. */
static bool prng_chance(uint64_t s[4], double p)
{
	return p > 0 && prng_unit(s) < p;
}

/* Uniform in [0, n) for n > 0 (modulo bias below 2^-40 for our n). */
static uint64_t prng_below(uint64_t s[4], uint64_t n)
{
	return prng_next(s) % n;
}

int pq_init(struct pq *q)
{
	memset(q, 0, sizeof(*q));
	q->slot = calloc(NSLOTS, sizeof(*q->slot));
	q->data = malloc((size_t)NSLOTS * US_PAIR_FRAME_MAX);
	q->heap = calloc(NSLOTS, sizeof(*q->heap));
	q->freel = calloc(NSLOTS, sizeof(*q->freel));
	if (!q->slot || !q->data || !q->heap || !q->freel)
		goto fail;
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0)
		goto fail;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		goto fail;
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		pthread_cond_destroy(&q->cv);
		goto fail;
	}
	for (uint32_t i = 0; i < NSLOTS; i++)
		q->freel[i] = NSLOTS - 1 - i;
	q->nfree = NSLOTS;
	q->held = NO_SLOT;
	return 0;
fail:
	free(q->slot);
	free(q->data);
	free(q->heap);
	free(q->freel);
	errno = ENOMEM;
	return -1;
}

void pq_fini(struct pq *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->slot);
	free(q->data);
	free(q->heap);
	free(q->freel);
}

/* Set the sender's impairments and PRNG, and zero its counters. Locked. */
void pq_set_sender(struct pq *q, const struct us_impair *imp, uint64_t seed)
{
	if (imp)
		q->imp = *imp;
	else
		memset(&q->imp, 0, sizeof(q->imp));
	prng_seed(q->rng, seed);
	q->wire_free = 0;
	memset(&q->st, 0, sizeof(q->st));
}

/* Discard every queued and held frame. Locked. */
void pq_clear(struct pq *q)
{
	US_ASSERT_LOCKED(&q->mu);
	for (uint32_t i = 0; i < q->nheap; i++)
		q->freel[q->nfree++] = q->heap[i];
	q->nheap = 0;
	if (q->held != NO_SLOT) {
		q->freel[q->nfree++] = q->held;
		q->held = NO_SLOT;
	}
	q->wake = false;
}

static bool pq_before(const struct pq *q, uint32_t a, uint32_t b)
{
	const struct pq_slot *x = &q->slot[a], *y = &q->slot[b];
	return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

/* Queue slot i for delivery at time at. Locked. */
static void pq_push(struct pq *q, uint32_t i, uint64_t at)
{
	US_ASSERT_LOCKED(&q->mu);
	q->slot[i].at = at;
	q->slot[i].seq = q->seq++;
	uint32_t k = q->nheap++;
	while (k > 0) {
		uint32_t parent = (k - 1) / 2;
		if (!pq_before(q, i, q->heap[parent]))
			break;
		q->heap[k] = q->heap[parent];
		k = parent;
	}
	q->heap[k] = i;
}

/* Remove and return the earliest queued slot (nheap > 0). Locked. */
static uint32_t pq_pop(struct pq *q)
{
	US_ASSERT_LOCKED(&q->mu);
	uint32_t top = q->heap[0];
	uint32_t last = q->heap[--q->nheap];
	uint32_t k = 0, n = q->nheap;
	for (;;) {
		uint32_t c = 2 * k + 1;
		if (c >= n)
			break;
		if (c + 1 < n && pq_before(q, q->heap[c + 1], q->heap[c]))
			c++;
		if (!pq_before(q, q->heap[c], last))
			break;
		q->heap[k] = q->heap[c];
		k = c;
	}
	if (n > 0)
		q->heap[k] = last;
	return top;
}

/* Release the held frame if its hold expired by now. Locked. */
static void pq_expire_held(struct pq *q, uint64_t now)
{
	US_ASSERT_LOCKED(&q->mu);
	if (q->held != NO_SLOT && q->held_until <= now) {
		pq_push(q, q->held, q->held_until);
		q->held = NO_SLOT;
	}
}

/*
 * Copy one frame into a free slot and queue it for time at, or hold it back
 * (hold, if nothing is held yet). A frame queued normally releases the held
 * one right behind itself when release is set. Returns -1 when full. Locked.
 */
static int pq_enqueue(struct pq *q, const uint8_t *frame, size_t len, struct flip fl, uint64_t at,
		      bool hold, bool release)
{
	US_ASSERT_LOCKED(&q->mu);
	if (q->nfree == 0) {
		q->st.dropped_full++;
		return -1;
	}
	uint32_t i = q->freel[--q->nfree];
	uint8_t *d = q->data + (size_t)i * US_PAIR_FRAME_MAX;
	memcpy(d, frame, len);
	d[fl.byte] ^= fl.mask;
	q->slot[i].len = (uint32_t)len;
	if (hold && q->held == NO_SLOT) {
		q->slot[i].at = at;
		q->held = i;
		q->held_until = at + US_PAIR_REORDER_HOLD_NS;
		q->st.reordered++;
		return 0;
	}
	pq_push(q, i, at);
	if (release && q->held != NO_SLOT) {
		/* Behind this frame, unless that would be later than the hold allows. */
		uint32_t h = q->held;
		uint64_t hat = q->slot[h].at > at ? q->slot[h].at : at;
		pq_push(q, h, at > q->held_until ? q->held_until : hat);
		q->held = NO_SLOT;
	}
	return 0;
}

/* Apply the sender's impairments to one frame and queue it. See the top. */
int pq_send(struct pq *q, uint64_t now, const uint8_t *frame, size_t len)
{
	if (len == 0 || len > US_PAIR_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	pthread_mutex_lock(&q->mu);
	const struct us_impair *imp = &q->imp;
	pq_expire_held(q, now);
	q->st.sent++;
	if (prng_chance(q->rng, imp->loss)) {
		q->st.lost++;
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	struct flip fl = { 0, 0 };
	if (prng_chance(q->rng, imp->corrupt)) {
		uint64_t bit = prng_below(q->rng, (uint64_t)len * 8);
		fl.byte = (size_t)(bit / 8);
		fl.mask = (uint8_t)(1u << (bit % 8));
		q->st.corrupted++;
	}
	bool dup = prng_chance(q->rng, imp->duplicate);
	bool hold = prng_chance(q->rng, imp->reorder);
	uint64_t extra = (uint64_t)imp->delay_ms * US_NS_PER_MS;
	if (imp->jitter_ms > 0)
		extra += prng_below(q->rng, (uint64_t)imp->jitter_ms * US_NS_PER_MS + 1);
	/* Serialisation time, ns: len * 8 bits / (rate * 10^6 bit/s). */
	uint64_t ser = imp->rate_mbit ? (uint64_t)len * 8000 / imp->rate_mbit : 0;
	uint64_t start = now;
	if (imp->rate_mbit) {
		q->wire_free = (q->wire_free > now ? q->wire_free : now) + ser;
		start = q->wire_free;
	}
	int rc = pq_enqueue(q, frame, len, fl, start + extra, hold, true);
	if (dup) {
		q->st.duplicated++;
		if (imp->rate_mbit) {
			q->wire_free += ser;
			start = q->wire_free;
		}
		/* Never releases the original if it was just held. */
		pq_enqueue(q, frame, len, fl, start + extra, false, false);
	}
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (rc < 0) {
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}

/* Take the next frame due by now into buf. Locked. */
int pq_take(struct pq *q, uint64_t now, uint8_t *buf, size_t cap)
{
	US_ASSERT_LOCKED(&q->mu);
	pq_expire_held(q, now);
	if (q->nheap == 0 || q->slot[q->heap[0]].at > now)
		return 0;
	uint32_t i = pq_pop(q);
	size_t n = q->slot[i].len < cap ? q->slot[i].len : cap;
	memcpy(buf, q->data + (size_t)i * US_PAIR_FRAME_MAX, n);
	q->freel[q->nfree++] = i;
	q->st.delivered++;
	return (int)n;
}

/* Earliest time a frame will be due, UINT64_MAX if none. Locked. */
uint64_t pq_next(const struct pq *q)
{
	US_ASSERT_LOCKED(&q->mu);
	uint64_t t = q->nheap ? q->slot[q->heap[0]].at : UINT64_MAX;
	if (q->held != NO_SLOT && q->held_until < t)
		t = q->held_until;
	return t;
}

uint64_t pq_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * Wait (CLOCK_MONOTONIC) up to timeout_ms for a frame to be due, a wakeup,
 * or the timeout. Negative timeout_ms: no limit.
 */
int pq_wait(struct pq *q, uint8_t *buf, size_t cap, int timeout_ms)
{
	uint64_t now = pq_mono_ns();
	uint64_t end = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * US_NS_PER_MS;
	int n;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		n = pq_take(q, now, buf, cap);
		if (n > 0)
			break;
		if (q->wake) {
			q->wake = false;
			break;
		}
		if (now >= end)
			break;
		uint64_t t = pq_next(q);
		if (t > end)
			t = end;
		if (t == UINT64_MAX) {
			pthread_cond_wait(&q->cv, &q->mu);
		} else {
			struct timespec ts = { .tv_sec = (time_t)(t / US_NS_PER_SEC),
					       .tv_nsec = (long)(t % US_NS_PER_SEC) };
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		}
		now = pq_mono_ns();
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

/*
 * Wait (CLOCK_MONOTONIC) up to timeout_ms until a frame is due, without
 * taking it: 1 when one is, 0 on timeout or wakeup.
 */
int pq_wait_ready(struct pq *q, int timeout_ms)
{
	uint64_t now = pq_mono_ns();
	uint64_t end = now + (uint64_t)timeout_ms * US_NS_PER_MS;
	int r = 0;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		uint64_t t = pq_next(q);
		if (t <= now) {
			r = 1;
			break;
		}
		if (q->wake) {
			q->wake = false;
			break;
		}
		if (now >= end)
			break;
		if (t > end)
			t = end;
		struct timespec ts = { .tv_sec = (time_t)(t / US_NS_PER_SEC),
				       .tv_nsec = (long)(t % US_NS_PER_SEC) };
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		now = pq_mono_ns();
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

void pq_wakeup(struct pq *q)
{
	pthread_mutex_lock(&q->mu);
	q->wake = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int pq_check_impair(const char *what, const struct us_impair *imp, char *err, size_t errlen)
{
	if (!imp)
		return 0;
	const struct {
		const char *name;
		double p;
	} probs[] = {
		{ "loss", imp->loss },
		{ "duplicate", imp->duplicate },
		{ "reorder", imp->reorder },
		{ "corrupt", imp->corrupt },
	};
	for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++) {
		/* Written so that NaN fails too. */
		if (!(probs[i].p >= 0 && probs[i].p <= 1)) {
			snprintf(err, errlen, "%s: impair %s %g is not a probability in 0..1", what,
				 probs[i].name, probs[i].p);
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

