/*
 * timer.h — a hierarchical timer wheel (Varghese and Lauck, scheme 7; the
 * shape of Linux's pre-4.8 cascading wheel) on the stack clock.
 *
 * Arm, cancel and finding the next deadline are O(1):
 *  - level 0 has 256 slots of one tick (1 ms); levels 1..4 have 64 slots
 *    each, of 256 ms, 16.4 s, 17.5 min and 18.6 h. A timer goes into the
 *    lowest level whose span covers (expiry - cursor); one further away
 *    than the whole span (2^32 ticks, about 49.7 days) waits in an
 *    overflow list that is looked at each time a level-4 block begins
 *    (every 18.6 h of clock), so any deadline is honoured exactly.
 *  - when the cursor enters a new 256-tick block, the level-1 slot of that
 *    block is "cascaded" (its timers placed again, now into level 0), and
 *    likewise upwards at the start of each larger block: every timer moves
 *    down at most four times in its life.
 *  - a bitmap of occupied slots and each slot's earliest expiry (a lower
 *    bound: a cancel does not rescan the slot) give the next deadline from
 *    one bit scan per level.
 *
 * us_wheel_run() fires every timer whose expiry is <= now (exact to the
 * nanosecond, not rounded to ticks), one at a time, with the wheel lock
 * released around each callback; a callback may arm or cancel any timer,
 * itself included. Run skips empty stretches of time with the bitmaps, so
 * a long sleep costs one step per occupied slot, not one per tick. The
 * timer thread (threaded mode) or us_stack_advance() (deterministic mode)
 * drives it.
 *
 * us_wheel_next() may answer earlier than the earliest expiry (never
 * later) after the earliest timer of a slot was cancelled or moved: a run
 * at that time fires nothing and refreshes the slot, after which the
 * answer is again exact. It never answers a time <= the time of the last
 * run unless a timer is really due.
 *
 * Cancel racing a firing: us_timer_cancel() returns false when the timer
 * was not armed, which includes "its callback is about to run or running";
 * owners make callbacks check their own state under their own lock. Before
 * freeing memory that holds a timer, us_timer_cancel_sync() also waits for
 * a running callback of that timer to return.
 */
#ifndef US_TIMER_H
#define US_TIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

#define US_WHEEL_TICK_NS (1000000ULL)  /* 1 ms */
#define US_WHEEL_L0_BITS 8
#define US_WHEEL_LN_BITS 6
#define US_WHEEL_LEVELS  5             /* level 0 + four coarser ones */
#define US_WHEEL_SLOTS   (1 << US_WHEEL_L0_BITS)        /* level 0: one turn of 1 ms ticks */
#define US_WHEEL_NSLOTS  (US_WHEEL_SLOTS + (US_WHEEL_LEVELS - 1) * (1 << US_WHEEL_LN_BITS))
/* Ticks a timer may be ahead of the cursor before it is parked (2^32). */
#define US_WHEEL_SPAN    (1ULL << (US_WHEEL_L0_BITS + (US_WHEEL_LEVELS - 1) * US_WHEEL_LN_BITS))

struct us_timer {
	struct us_timer *next, *prev;   /* slot list; protected by the wheel lock */
	uint64_t expires;               /* clock ns; protected by the wheel lock */
	uint16_t slot;                  /* index into slots[] while armed; wheel lock */
	bool armed;                     /* protected by the wheel lock */
	void (*fn)(void *arg);          /* set once by us_timer_init */
	void *arg;
};

struct us_timer_wheel {
	pthread_mutex_t lock;           /* protects everything below but clock */
	pthread_cond_t cond;            /* timer thread sleeps here; signalled on earlier arm/stop */
	pthread_cond_t done;            /* signalled when a callback returns */
	/* List heads (sentinels), level 0 first, then the overflow list. */
	struct us_timer slots[US_WHEEL_NSLOTS + 1];
	uint64_t slot_min[US_WHEEL_NSLOTS + 1];    /* lower bound of each slot's expiries */
	uint64_t occupied[US_WHEEL_NSLOTS / 64];   /* bit per non-empty slot */
	size_t count;                   /* armed timers */
	uint64_t ops;                   /* arm/cancel/armed calls (one lock acquisition each) */
	uint64_t fired;                 /* callbacks run */
	uint64_t loops;                 /* timer-thread wake-ups (us_wheel_loop iterations) */
	uint64_t sleep_until;           /* what the timer thread sleeps towards */
	uint64_t cursor;                /* tick being processed; no armed timer sits behind it */
	struct us_timer *running;       /* the callback in progress, or NULL */
	bool stop;
	const struct us_clock *clock;
};

void us_wheel_init(struct us_timer_wheel *w, const struct us_clock *clock);
void us_wheel_destroy(struct us_timer_wheel *w);
void us_timer_init(struct us_timer *t, void (*fn)(void *), void *arg);
/* Arm (or re-arm) t to fire at clock time expires (ns); true if it was armed already. */
bool us_timer_arm(struct us_timer_wheel *w, struct us_timer *t, uint64_t expires);
/* Disarm; true if it was armed. */
bool us_timer_cancel(struct us_timer_wheel *w, struct us_timer *t);
/* Disarm and wait until a callback of t in progress has returned. */
void us_timer_cancel_sync(struct us_timer_wheel *w, struct us_timer *t);
bool us_timer_armed(struct us_timer_wheel *w, struct us_timer *t);
/* Fire everything due at now; returns how many fired. */
int us_wheel_run(struct us_timer_wheel *w, uint64_t now);
/* Earliest expiry of an armed timer (or a lower bound of it, see above),
 * UINT64_MAX if none. */
uint64_t us_wheel_next(struct us_timer_wheel *w);
/* arm/cancel/armed calls so far (tests count wheel work per segment). */
uint64_t us_wheel_ops(struct us_timer_wheel *w);
/* Armed timers now, and ops, fired and loops since the wheel was made. */
void us_wheel_counts(struct us_timer_wheel *w, uint64_t *armed, uint64_t *ops, uint64_t *fired,
		     uint64_t *loops);
/* Timer thread body: runs until us_wheel_stop(). */
void us_wheel_loop(struct us_timer_wheel *w);
void us_wheel_stop(struct us_timer_wheel *w);

#endif
