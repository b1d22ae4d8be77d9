/*
 * timer.c — the hashed timer wheel (see timer.h for the contract).
 *
 * A timer sits in the slot of its expiry tick, or, if that tick has
 * already been processed, in the slot of the current cursor, so no armed
 * timer is ever behind the cursor. Run walks the ticks from the cursor to
 * now; a slot holds timers of many wheel turns, so each is compared with
 * now before it fires (no round counters needed).
 */
#include <time.h>

#include "timer.h"
#include "lockassert.h"

static void list_init(struct us_timer *h) { h->next = h->prev = h; }

static void unlink_timer(struct us_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

void us_wheel_init(struct us_timer_wheel *w, const struct us_clock *clock)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_cond_init(&w->done, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < US_WHEEL_SLOTS; i++)
		list_init(&w->slots[i]);
	w->count = 0;
	w->running = NULL;
	w->stop = false;
	w->clock = clock;
	w->sleep_until = UINT64_MAX;
	w->cursor = us_clock_now(clock) / US_WHEEL_TICK_NS;
}

void us_wheel_destroy(struct us_timer_wheel *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
}

void us_timer_init(struct us_timer *t, void (*fn)(void *), void *arg)
{
	t->next = t->prev = NULL;
	t->expires = 0;
	t->armed = false;
	t->fn = fn;
	t->arg = arg;
}

bool us_timer_arm(struct us_timer_wheel *w, struct us_timer *t, uint64_t expires)
{
	pthread_mutex_lock(&w->lock);
	bool was = t->armed;
	if (t->armed)
		unlink_timer(t);
	else
		w->count++;
	t->expires = expires;
	t->armed = true;
	uint64_t tick = expires / US_WHEEL_TICK_NS;
	if (tick < w->cursor)
		tick = w->cursor;
	struct us_timer *h = &w->slots[tick % US_WHEEL_SLOTS];
	/* Append: timers due in the same tick fire in the order armed. */
	t->prev = h->prev;
	t->next = h;
	h->prev->next = t;
	h->prev = t;
	if (expires < w->sleep_until)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return was;
}

bool us_timer_cancel(struct us_timer_wheel *w, struct us_timer *t)
{
	pthread_mutex_lock(&w->lock);
	bool was = t->armed;
	if (was) {
		unlink_timer(t);
		t->armed = false;
		w->count--;
	}
	pthread_mutex_unlock(&w->lock);
	return was;
}

void us_timer_cancel_sync(struct us_timer_wheel *w, struct us_timer *t)
{
	pthread_mutex_lock(&w->lock);
	if (t->armed) {
		unlink_timer(t);
		t->armed = false;
		w->count--;
	}
	while (w->running == t)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

bool us_timer_armed(struct us_timer_wheel *w, struct us_timer *t)
{
	pthread_mutex_lock(&w->lock);
	bool a = t->armed;
	pthread_mutex_unlock(&w->lock);
	return a;
}

/* Called with the lock held; returns with it held. */
static int run_locked(struct us_timer_wheel *w, uint64_t now)
{
	US_ASSERT_LOCKED(&w->lock);
	uint64_t end = now / US_WHEEL_TICK_NS;
	uint64_t start = w->cursor;
	int fired = 0;
	if (end < start)
		end = start;
	if (end - start >= US_WHEEL_SLOTS)
		start = end - US_WHEEL_SLOTS + 1;
	for (uint64_t tick = start; tick <= end; tick++) {
		struct us_timer *h = &w->slots[tick % US_WHEEL_SLOTS];
		/*
		 * Move the cursor with the walk: a timer armed while a callback
		 * runs (lock released) for a tick already walked is then put in
		 * this slot, which is rescanned below, not stranded a turn away.
		 */
		w->cursor = tick;
again:
		for (struct us_timer *t = h->next; t != h; t = t->next) {
			if (t->expires > now)
				continue;
			unlink_timer(t);
			t->armed = false;
			w->count--;
			w->running = t;
			pthread_mutex_unlock(&w->lock);
			t->fn(t->arg);
			pthread_mutex_lock(&w->lock);
			w->running = NULL;
			pthread_cond_broadcast(&w->done);
			fired++;
			/* The callback may have changed this list: rescan it. */
			goto again;
		}
	}
	w->cursor = end;
	return fired;
}

int us_wheel_run(struct us_timer_wheel *w, uint64_t now)
{
	pthread_mutex_lock(&w->lock);
	int n = run_locked(w, now);
	pthread_mutex_unlock(&w->lock);
	return n;
}

static uint64_t next_locked(struct us_timer_wheel *w)
{
	uint64_t best = UINT64_MAX;
	if (w->count == 0)
		return best;
	for (int i = 0; i < US_WHEEL_SLOTS; i++)
		for (struct us_timer *t = w->slots[i].next; t != &w->slots[i]; t = t->next)
			if (t->expires < best)
				best = t->expires;
	return best;
}

uint64_t us_wheel_next(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t n = next_locked(w);
	pthread_mutex_unlock(&w->lock);
	return n;
}

void us_wheel_loop(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		uint64_t now = us_clock_now(w->clock);
		run_locked(w, now);
		if (w->stop)
			break;
		uint64_t next = next_locked(w);
		now = us_clock_now(w->clock);
		if (next <= now)
			continue;
		/*
		 * Sleep until the next deadline, but while deadlines are near (a
		 * busy connection: delayed ACK, RTO), in steps of at most 10 ms:
		 * then arming a timer later than the step (40 ms delayed ACK,
		 * 200 ms RTO) needs no wake-up of this thread, which would
		 * otherwise cost a context switch per segment.
		 */
		uint64_t step = next - now < US_NS_PER_SEC ? 10 * US_NS_PER_MS : US_NS_PER_SEC;
		uint64_t deadline = now + step;
		if (next < deadline)
			deadline = next;
		w->sleep_until = deadline;
		struct timespec ts = {
			.tv_sec = (time_t)(deadline / US_NS_PER_SEC),
			.tv_nsec = (long)(deadline % US_NS_PER_SEC),
		};
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		w->sleep_until = UINT64_MAX;
	}
	pthread_mutex_unlock(&w->lock);
}

void us_wheel_stop(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}
