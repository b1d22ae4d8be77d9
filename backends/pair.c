/*
 * pair.c — the in-process pair wire (ustack/pair.h), the "pair" backend
 * that wraps it, and the "loopback" backend built on the same queue.
 *
 * A wire has two directions; each is a struct pq: a bounded, preallocated
 * pool of US_PAIR_QUEUE_SLOTS frame slots plus a binary min-heap of the
 * queued slots ordered by (deliver time, send sequence), so the receiver
 * takes frames in deliver-time order, FIFO among equal times, in O(log n)
 * and without allocating per frame. The sender applies its impairments as it
 * queues a frame (pq_send), drawing from its own seeded xoshiro256** PRNG,
 * so the outcome depends only on the seed and the sends.
 *
 * Impairments, in the order they are decided for each frame sent (a draw is
 * made only for an impairment that is configured, i.e. nonzero):
 *   loss       the frame is dropped (counted in lost);
 *   corrupt    one random bit of one random byte is flipped;
 *   duplicate  a second copy is queued right behind the frame;
 *   reorder    the frame is held back and released right behind the next
 *              frame sent in that direction, so that frame overtakes it; if
 *              none is sent within US_PAIR_REORDER_HOLD_NS of its deliver
 *              time it is released then (held, never lost; one at a time);
 *   jitter     uniform 0..jitter_ms extra delay (may itself reorder frames);
 *   rate_mbit  serialisation: the wire is busy len*8/rate after the previous
 *              frame finished; delay_ms and jitter are added after that:
 *              deliver = max(now, wire free) + len*8/rate + delay + jitter.
 *
 * The registry of wire names is process-wide, protected by one mutex
 * (pair_registry_mu) that only attach and detach take; it is the only
 * global lock of the backends. Lock order: pair_registry_mu, then a
 * direction's mutex.
 *
 * Backends' MTU (caps.mtu_max, IP MTU excluding the 14-byte Ethernet header):
 * both pair and loopback carry frames up to US_PAIR_FRAME_MAX bytes, so
 * mtu_max = US_MAX_MTU.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "link.h"
#include "rng.h"
#include "ustack/pair.h"
#include "lockassert.h"

#define NSLOTS US_PAIR_QUEUE_SLOTS
#define NO_SLOT UINT32_MAX

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

static int pq_init(struct pq *q)
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

static void pq_fini(struct pq *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->slot);
	free(q->data);
	free(q->heap);
	free(q->freel);
}

/* Set the sender's impairments and PRNG, and zero its counters. Locked. */
static void pq_set_sender(struct pq *q, const struct us_impair *imp, uint64_t seed)
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
static void pq_clear(struct pq *q)
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

/* Where the one corrupted bit goes: byte index and bit mask (mask 0: none). */
struct flip {
	size_t byte;
	uint8_t mask;
};

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
static int pq_send(struct pq *q, uint64_t now, const uint8_t *frame, size_t len)
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
static int pq_take(struct pq *q, uint64_t now, uint8_t *buf, size_t cap)
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
static uint64_t pq_next(const struct pq *q)
{
	US_ASSERT_LOCKED(&q->mu);
	uint64_t t = q->nheap ? q->slot[q->heap[0]].at : UINT64_MAX;
	if (q->held != NO_SLOT && q->held_until < t)
		t = q->held_until;
	return t;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * Wait (CLOCK_MONOTONIC) up to timeout_ms for a frame to be due, a wakeup,
 * or the timeout. Negative timeout_ms: no limit.
 */
static int pq_wait(struct pq *q, uint8_t *buf, size_t cap, int timeout_ms)
{
	uint64_t now = mono_ns();
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
		now = mono_ns();
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

/*
 * Wait (CLOCK_MONOTONIC) up to timeout_ms until a frame is due, without
 * taking it: 1 when one is, 0 on timeout or wakeup.
 */
static int pq_wait_ready(struct pq *q, int timeout_ms)
{
	uint64_t now = mono_ns();
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
		now = mono_ns();
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

static void pq_wakeup(struct pq *q)
{
	pthread_mutex_lock(&q->mu);
	q->wake = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static int check_impair(const char *what, const struct us_impair *imp, char *err, size_t errlen)
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

/* ---- the wire registry and the public API ------------------------------- */

struct us_pair_end {
	struct pair_wire *w;
	int idx;                /* 0 or 1 */
	bool attached;          /* protected by pair_registry_mu */
};

struct pair_wire {
	struct pair_wire *next;         /* protected by pair_registry_mu */
	char name[US_PATH_MAX];         /* fixed at creation */
	struct us_pair_end end[2];
	struct pq dir[2];               /* dir[i]: frames sent by end i (own mutex each) */
};

/* Protects pair_wires (the list of named wires) and every end's attached flag. */
static pthread_mutex_t pair_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pair_wire *pair_wires;

static struct pq *tx_of(struct us_pair_end *e)
{
	return &e->w->dir[e->idx];
}

static struct pq *rx_of(struct us_pair_end *e)
{
	return &e->w->dir[1 - e->idx];
}

struct us_pair_end *us_pair_attach(const char *name, const struct us_impair *imp, uint64_t seed,
				   char *err, size_t errlen)
{
	char what[US_PATH_MAX + 16];
	if (!name || !name[0]) {
		snprintf(err, errlen, "pair: empty wire name");
		errno = EINVAL;
		return NULL;
	}
	if (strlen(name) >= US_PATH_MAX) {
		snprintf(err, errlen, "pair: wire name longer than %d bytes", US_PATH_MAX - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	snprintf(what, sizeof(what), "pair wire '%s'", name);
	if (check_impair(what, imp, err, errlen) < 0)
		return NULL;

	pthread_mutex_lock(&pair_registry_mu);
	struct pair_wire *w;
	for (w = pair_wires; w; w = w->next)
		if (strcmp(w->name, name) == 0)
			break;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w || pq_init(&w->dir[0]) < 0) {
			free(w);
			goto nomem;
		}
		if (pq_init(&w->dir[1]) < 0) {
			pq_fini(&w->dir[0]);
			free(w);
			goto nomem;
		}
		snprintf(w->name, sizeof(w->name), "%s", name);
		for (int i = 0; i < 2; i++) {
			w->end[i].w = w;
			w->end[i].idx = i;
		}
		w->next = pair_wires;
		pair_wires = w;
	}
	int idx = !w->end[0].attached ? 0 : !w->end[1].attached ? 1 : -1;
	if (idx < 0) {
		pthread_mutex_unlock(&pair_registry_mu);
		snprintf(err, errlen, "%s: both ends already attached", what);
		errno = EBUSY;
		return NULL;
	}
	struct us_pair_end *e = &w->end[idx];
	e->attached = true;
	pthread_mutex_lock(&tx_of(e)->mu);
	pq_set_sender(tx_of(e), imp, seed);
	pthread_mutex_unlock(&tx_of(e)->mu);
	pthread_mutex_unlock(&pair_registry_mu);
	return e;

nomem:
	pthread_mutex_unlock(&pair_registry_mu);
	snprintf(err, errlen, "%s: out of memory for the queues", what);
	errno = ENOMEM;
	return NULL;
}

int us_pair_send(struct us_pair_end *e, uint64_t now_ns, const uint8_t *frame, size_t len)
{
	return pq_send(tx_of(e), now_ns, frame, len);
}

int us_pair_recv(struct us_pair_end *e, uint64_t now_ns, uint8_t *buf, size_t cap)
{
	struct pq *q = rx_of(e);
	pthread_mutex_lock(&q->mu);
	int n = pq_take(q, now_ns, buf, cap);
	pthread_mutex_unlock(&q->mu);
	return n;
}

int us_pair_recv_wait(struct us_pair_end *e, uint8_t *buf, size_t cap, int timeout_ms)
{
	return pq_wait(rx_of(e), buf, cap, timeout_ms);
}

uint64_t us_pair_next_ready(struct us_pair_end *e)
{
	struct pq *q = rx_of(e);
	pthread_mutex_lock(&q->mu);
	uint64_t t = pq_next(q);
	pthread_mutex_unlock(&q->mu);
	return t;
}

void us_pair_stats(struct us_pair_end *e, struct us_pair_stats *out)
{
	struct pq *q = tx_of(e);
	pthread_mutex_lock(&q->mu);
	*out = q->st;
	pthread_mutex_unlock(&q->mu);
}

void us_pair_wakeup(struct us_pair_end *e)
{
	pq_wakeup(rx_of(e));
}

void us_pair_detach(struct us_pair_end *e)
{
	if (!e)
		return;
	struct pair_wire *w = e->w;
	pthread_mutex_lock(&pair_registry_mu);
	e->attached = false;
	struct pq *rx = rx_of(e);
	pthread_mutex_lock(&rx->mu);
	pq_clear(rx);
	pthread_mutex_unlock(&rx->mu);
	if (!w->end[0].attached && !w->end[1].attached) {
		for (struct pair_wire **p = &pair_wires; *p; p = &(*p)->next) {
			if (*p == w) {
				*p = w->next;
				break;
			}
		}
		pq_fini(&w->dir[0]);
		pq_fini(&w->dir[1]);
		free(w);
	}
	pthread_mutex_unlock(&pair_registry_mu);
}

/* ---- backends ------------------------------------------------------------ */

static uint64_t link_now(const struct us_link *l)
{
	return l->clock ? us_clock_now(l->clock) : mono_ns();
}

static bool link_virtual(const struct us_link *l)
{
	return l->clock && l->clock->is_virtual;
}

/*
 * pair: device = wire name; cfg->impair applies to what this stack sends;
 * times are the stack's clock. A virtual clock never blocks in recv (the
 * deterministic driver asks next_ready instead); a real one waits on the
 * direction's condvar.
 */
static int pair_open(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen)
{
	struct us_pair_end *e = us_pair_attach(cfg->device, &cfg->impair, l->seed, err, errlen);
	if (!e)
		return -1;
	l->priv = e;
	l->caps.mtu_max = US_MAX_MTU;
	l->caps.has_mac = false;
	l->caps.can_block = !link_virtual(l);
	l->caps.busy_poll = !link_virtual(l);
	return 0;
}

static int pair_send(struct us_link *l, const uint8_t *frame, size_t len)
{
	return us_pair_send(l->priv, link_now(l), frame, len);
}

static int pair_recv(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	if (link_virtual(l) || timeout_ms == 0)
		return us_pair_recv(l->priv, link_now(l), buf, cap);
	return us_pair_recv_wait(l->priv, buf, cap, timeout_ms);
}

static int pair_wait(struct us_link *l, int timeout_ms)
{
	return pq_wait_ready(rx_of(l->priv), timeout_ms);
}

static uint64_t pair_next_ready(struct us_link *l)
{
	return us_pair_next_ready(l->priv);
}

static void pair_wakeup(struct us_link *l)
{
	us_pair_wakeup(l->priv);
}

static void pair_close(struct us_link *l)
{
	us_pair_detach(l->priv);
	l->priv = NULL;
}

const struct us_link_ops us_link_pair = {
	.name = "pair",
	.open = pair_open,
	.send = pair_send,
	.recv = pair_recv,
	.next_ready = pair_next_ready,
	.wait = pair_wait,
	.wakeup = pair_wakeup,
	.close = pair_close,
};

/*
 * loopback: one queue whose sender and receiver are the same link. Frames
 * are ready at the time they were sent (plus cfg->impair, if any is set).
 */
static int lo_open(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen)
{
	const char *name = cfg->name[0] ? cfg->name : "loopback";
	if (check_impair(name, &cfg->impair, err, errlen) < 0)
		return -1;
	struct pq *q = malloc(sizeof(*q));
	if (!q || pq_init(q) < 0) {
		free(q);
		snprintf(err, errlen, "%s: loopback: out of memory for the queue", name);
		errno = ENOMEM;
		return -1;
	}
	pq_set_sender(q, &cfg->impair, l->seed);
	l->priv = q;
	l->caps.mtu_max = US_MAX_MTU;
	l->caps.has_mac = false;
	l->caps.can_block = !link_virtual(l);
	return 0;
}

static int lo_send(struct us_link *l, const uint8_t *frame, size_t len)
{
	return pq_send(l->priv, link_now(l), frame, len);
}

static int lo_recv(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pq *q = l->priv;
	if (link_virtual(l) || timeout_ms == 0) {
		pthread_mutex_lock(&q->mu);
		int n = pq_take(q, link_now(l), buf, cap);
		pthread_mutex_unlock(&q->mu);
		return n;
	}
	return pq_wait(q, buf, cap, timeout_ms);
}

static uint64_t lo_next_ready(struct us_link *l)
{
	struct pq *q = l->priv;
	pthread_mutex_lock(&q->mu);
	uint64_t t = pq_next(q);
	pthread_mutex_unlock(&q->mu);
	return t;
}

static void lo_wakeup(struct us_link *l)
{
	pq_wakeup(l->priv);
}

static void lo_close(struct us_link *l)
{
	struct pq *q = l->priv;
	if (q) {
		pq_fini(q);
		free(q);
	}
	l->priv = NULL;
}

const struct us_link_ops us_link_loopback = {
	.name = "loopback",
	.open = lo_open,
	.send = lo_send,
	.recv = lo_recv,
	.next_ready = lo_next_ready,
	.wakeup = lo_wakeup,
	.close = lo_close,
};
