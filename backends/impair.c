/*
 * impair.c — impairments on any interface: a link that wraps another
 * (smoltcp's fault injector, stackable) and passes its frames through two
 * impaired delay queues (impq.c), one per direction:
 *
 *   out: send() queues the frame with the "out" impairments (loss,
 *        corruption, duplication, reordering, delay + jitter, rate); due
 *        frames go to the inner link's send.
 *   in:  frames the inner link receives are queued with the "in"
 *        impairments; recv() returns them when they are due.
 *
 * The same seed and the same frames give the same decisions (each
 * direction has its own xoshiro256** stream from the link's seed). Frames
 * larger than a queue slot (US_PAIR_FRAME_MAX, e.g. a 64 KB segment a
 * kernel peer hands a pcap veth with its offloads on) pass unimpaired and
 * are counted in `oversize`.
 *
 * Threads: on a real clock a release thread per wrapped link sends the
 * out-queue's frames when due (the inner send is serialised by out_mu, so
 * the application threads' send(), which also releases what is due at
 * once, and the release thread never send at the same time). On a virtual
 * clock (deterministic mode) there is no thread: recv() and send() release
 * what is due, and next_ready() reports the earliest due frame of either
 * queue and of the inner link.
 *
 * Locks: out_mu (protects calls into the inner link's send) is taken
 * before a queue's own mutex; the queues' mutexes are never held across a
 * call into the inner link.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "impq.h"
#include "link.h"

struct impair {
	struct us_link inner;           /* the wrapped link: recv on the receiving thread only */
	struct pq in, out;              /* own mutexes */
	bool in_on, out_on;             /* any impairment set for that direction */
	pthread_mutex_t out_mu;         /* serialises inner.ops->send */
	pthread_t rel;                  /* release thread (real clock, out_on) */
	bool rel_started;
	_Atomic bool closing;
	_Atomic uint64_t oversize;      /* frames passed unimpaired: larger than a slot */
	uint8_t frame[US_PAIR_FRAME_MAX];  /* out: one due frame at a time, under out_mu */
};

static bool impair_set(const struct us_impair *m)
{
	return m->loss > 0 || m->duplicate > 0 || m->reorder > 0 || m->corrupt > 0 ||
	       m->delay_ms || m->jitter_ms || m->rate_mbit;
}

static uint64_t now_of(const struct us_link *l)
{
	return l->clock ? us_clock_now(l->clock) : pq_mono_ns();
}

static bool is_virtual(const struct us_link *l)
{
	return l->clock && l->clock->is_virtual;
}

/* Send every out-frame due by now to the inner link. */
static void release_due(struct impair *im, uint64_t now)
{
	pthread_mutex_lock(&im->out_mu);
	for (;;) {
		pthread_mutex_lock(&im->out.mu);
		int n = pq_take(&im->out, now, im->frame, sizeof im->frame);
		pthread_mutex_unlock(&im->out.mu);
		if (n <= 0)
			break;
		/* A failed send is a lost frame, as on a wire. */
		(void)im->inner.ops->send(&im->inner, im->frame, (size_t)n);
	}
	pthread_mutex_unlock(&im->out_mu);
}

static void *release_main(void *arg)
{
	struct us_link *l = arg;
	struct impair *im = l->priv;
	while (!atomic_load(&im->closing)) {
		if (pq_wait_ready(&im->out, 200) > 0)
			release_due(im, now_of(l));
	}
	return NULL;
}

static int impair_send(struct us_link *l, const uint8_t *frame, size_t len)
{
	struct impair *im = l->priv;
	if (!im->out_on || len > US_PAIR_FRAME_MAX) {
		if (im->out_on)
			atomic_fetch_add(&im->oversize, 1);
		pthread_mutex_lock(&im->out_mu);
		int rc = im->inner.ops->send(&im->inner, frame, len);
		pthread_mutex_unlock(&im->out_mu);
		return rc;
	}
	uint64_t now = now_of(l);
	if (pq_send(&im->out, now, frame, len) < 0)
		return -1;
	release_due(im, now);   /* no delay configured: out at once, in order */
	return 0;
}

static int take_in(struct impair *im, uint64_t now, uint8_t *buf, size_t cap)
{
	pthread_mutex_lock(&im->in.mu);
	int n = pq_take(&im->in, now, buf, cap);
	pthread_mutex_unlock(&im->in.mu);
	return n;
}

static uint64_t in_next(struct impair *im)
{
	pthread_mutex_lock(&im->in.mu);
	uint64_t t = pq_next(&im->in);
	pthread_mutex_unlock(&im->in.mu);
	return t;
}

/*
 * Return a due in-frame; else read the inner link (for at most the time
 * left, and no later than the next in-frame is due), queue what it gives
 * with the in-impairments, and look again.
 */
static int impair_recv(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct impair *im = l->priv;
	bool virt = is_virtual(l);
	uint64_t start = now_of(l);
	if (virt && im->out_on)
		release_due(im, start);
	if (!im->in_on)
		return im->inner.ops->recv(&im->inner, buf, cap, timeout_ms);
	for (;;) {
		uint64_t now = now_of(l);
		int n = take_in(im, now, buf, cap);
		if (n > 0)
			return n;
		int wait = 0;
		if (!virt && timeout_ms != 0) {
			int64_t left = timeout_ms < 0 ? INT32_MAX
				       : (int64_t)timeout_ms - (int64_t)((now - start) / US_NS_PER_MS);
			uint64_t due = in_next(im);
			if (due != UINT64_MAX) {
				int64_t until = due > now ? (int64_t)((due - now) / US_NS_PER_MS) + 1 : 0;
				if (until < left)
					left = until;
			}
			wait = left < 0 ? 0 : (int)left;
		}
		n = im->inner.ops->recv(&im->inner, buf, cap, wait);
		if (n < 0)
			return n;
		if (n > 0) {
			if ((size_t)n > US_PAIR_FRAME_MAX) {
				atomic_fetch_add(&im->oversize, 1);
				return n;
			}
			if (pq_send(&im->in, now_of(l), buf, (size_t)n) < 0)
				continue;       /* queue full: the frame is lost, counted there */
			continue;
		}
		/* Nothing from the inner link: done unless an in-frame falls due
		 * within the time left. */
		if (virt || timeout_ms == 0)
			return take_in(im, now_of(l), buf, cap);
		uint64_t spent = (now_of(l) - start) / US_NS_PER_MS;
		if (timeout_ms > 0 && spent >= (uint64_t)timeout_ms)
			return take_in(im, now_of(l), buf, cap);
	}
}

static uint64_t impair_next_ready(struct us_link *l)
{
	struct impair *im = l->priv;
	uint64_t t = im->inner.ops->next_ready ? im->inner.ops->next_ready(&im->inner) : UINT64_MAX;
	uint64_t a = in_next(im);
	pthread_mutex_lock(&im->out.mu);
	uint64_t b = pq_next(&im->out);
	pthread_mutex_unlock(&im->out.mu);
	if (a < t)
		t = a;
	return b < t ? b : t;
}

static void impair_wakeup(struct us_link *l)
{
	struct impair *im = l->priv;
	if (im->inner.ops->wakeup)
		im->inner.ops->wakeup(&im->inner);
}

static void impair_close(struct us_link *l)
{
	struct impair *im = l->priv;
	if (!im)
		return;
	atomic_store(&im->closing, true);
	if (im->rel_started) {
		pq_wakeup(&im->out);
		pthread_join(im->rel, NULL);
	}
	im->inner.ops->close(&im->inner);
	pq_fini(&im->in);
	pq_fini(&im->out);
	pthread_mutex_destroy(&im->out_mu);
	free(im);
	l->priv = NULL;
}

static const struct us_link_ops impair_ops = {
	.name = "impair",
	.send = impair_send,
	.recv = impair_recv,
	.next_ready = impair_next_ready,
	.wakeup = impair_wakeup,
	.close = impair_close,
};

int us_link_impair_wrap(struct us_link *l, const struct us_impair *in, const struct us_impair *out,
			char *err, size_t errlen)
{
	if (pq_check_impair("impair.in", in, err, errlen) < 0 ||
	    pq_check_impair("impair.out", out, err, errlen) < 0)
		return -1;
	struct impair *im = calloc(1, sizeof *im);
	if (!im || pq_init(&im->in) < 0) {
		free(im);
		snprintf(err, errlen, "impair: out of memory for the queues");
		errno = ENOMEM;
		return -1;
	}
	if (pq_init(&im->out) < 0) {
		pq_fini(&im->in);
		free(im);
		snprintf(err, errlen, "impair: out of memory for the queues");
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_init(&im->out_mu, NULL);
	/* Two streams from the link's seed, one per direction. */
	pq_set_sender(&im->in, in, l->seed ^ 0x696e696e696e696eULL);
	pq_set_sender(&im->out, out, l->seed ^ 0x6f75746f75746f75ULL);
	im->in_on = impair_set(in);
	im->out_on = impair_set(out);
	im->inner = *l;
	l->ops = &impair_ops;
	l->priv = im;
	/* The wrapper reads the inner link itself: no busy polling through it. */
	l->caps.busy_poll = false;
	if (im->out_on && !is_virtual(l)) {
		if (pthread_create(&im->rel, NULL, release_main, l) != 0) {
			*l = im->inner;
			pq_fini(&im->in);
			pq_fini(&im->out);
			pthread_mutex_destroy(&im->out_mu);
			free(im);
			snprintf(err, errlen, "impair: cannot start the release thread");
			errno = EAGAIN;
			return -1;
		}
		im->rel_started = true;
	}
	return 0;
}

void us_link_impair_stats(struct us_link *l, struct us_pair_stats *in, struct us_pair_stats *out,
			  uint64_t *oversize)
{
	struct impair *im = l->ops == &impair_ops ? l->priv : NULL;
	if (!im) {
		memset(in, 0, sizeof *in);
		memset(out, 0, sizeof *out);
		*oversize = 0;
		return;
	}
	pthread_mutex_lock(&im->in.mu);
	*in = im->in.st;
	pthread_mutex_unlock(&im->in.mu);
	pthread_mutex_lock(&im->out.mu);
	*out = im->out.st;
	pthread_mutex_unlock(&im->out.mu);
	*oversize = atomic_load(&im->oversize);
}
