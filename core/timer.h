/*
 * timer.h — a hashed timer wheel (Varghese and Lauck) on the stack clock.
 *
 * Arm and cancel are O(1): a timer sits in slot (expires / tick) % SLOTS.
 * us_wheel_run() fires every timer whose time has come, one at a time,
 * with the wheel lock released around each callback; a callback may arm or
 * cancel any timer, itself included. The timer thread (threaded mode) or
 * us_stack_advance() (deterministic mode) drives it.
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

#define US_WHEEL_SLOTS   1024
#define US_WHEEL_TICK_NS (1000000ULL)  /* 1 ms */

struct us_timer {
	struct us_timer *next, *prev;   /* slot list; protected by the wheel lock */
	uint64_t expires;               /* clock ns; protected by the wheel lock */
	bool armed;                     /* protected by the wheel lock */
	void (*fn)(void *arg);          /* set once by us_timer_init */
	void *arg;
};

struct us_timer_wheel {
	pthread_mutex_t lock;           /* protects slots, every timer's links, running, count */
	pthread_cond_t cond;            /* timer thread sleeps here; signalled on earlier arm/stop */
	pthread_cond_t done;            /* signalled when a callback returns */
	struct us_timer slots[US_WHEEL_SLOTS];  /* list heads (sentinels) */
	size_t count;                   /* armed timers */
	uint64_t sleep_until;           /* what the timer thread sleeps towards */
	uint64_t cursor;                /* last tick processed; no armed timer sits behind it */
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
/* Earliest expiry of an armed timer, UINT64_MAX if none. */
uint64_t us_wheel_next(struct us_timer_wheel *w);
/* Timer thread body: runs until us_wheel_stop(). */
void us_wheel_loop(struct us_timer_wheel *w);
void us_wheel_stop(struct us_timer_wheel *w);

#endif
