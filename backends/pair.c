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
#include "impq.h"
#include "rng.h"
#include "ustack/pair.h"

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
	if (pq_check_impair(what, imp, err, errlen) < 0)
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
	return l->clock ? us_clock_now(l->clock) : pq_mono_ns();
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
	if (pq_check_impair(name, &cfg->impair, err, errlen) < 0)
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
