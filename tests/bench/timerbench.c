/*
 * timerbench.c — what the timer wheel (core/timer.h) costs at scale, as the
 * timer thread sees it: 100,000 armed timers (idle connections' keepalive
 * or retransmission deadlines spread over two hours, plus a busy few
 * hundred due within a second), then
 *   loop   one timer-thread iteration: run the wheel at now, then ask for
 *          the next deadline, with the clock moving 10 ms per iteration
 *          (the thread's step while deadlines are near);
 *   arm    re-arming one armed timer for a later time;
 *   cancel+arm  taking one off and putting it back.
 * Figures only (ns), no assertion: machines are shared. The same clock as
 * the stack (virtual mode), so the work is the wheel's alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "timer.h"

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct us_clock clk;
static struct us_timer_wheel wheel;
static unsigned long fired;

static void on_fire(void *arg)
{
	struct us_timer *t = arg;
	fired++;
	/* A connection's timer comes back: re-arm a while later. */
	us_timer_arm(&wheel, t, us_clock_now(&clk) + 200 * US_NS_PER_MS + rnd() % US_NS_PER_SEC);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	if (n < 1000)
		n = 1000;
	struct us_timer *t = calloc((size_t)n, sizeof *t);
	if (!t)
		return 1;
	us_clock_init(&clk, true);
	us_wheel_init(&wheel, &clk);
	uint64_t now = us_clock_now(&clk);
	for (int i = 0; i < n; i++) {
		us_timer_init(&t[i], on_fire, &t[i]);
		uint64_t span = i < 500 ? US_NS_PER_SEC : 7200 * US_NS_PER_SEC;
		us_timer_arm(&wheel, &t[i], now + 1 + rnd() % span);
	}
	/* The timer thread's loop, 1,000 iterations of 10 ms. */
	enum { ITERS = 1000 };
	uint64_t w0 = wall_ns(), sink = 0;
	for (int i = 0; i < ITERS; i++) {
		now += 10 * US_NS_PER_MS;
		us_clock_set(&clk, now);
		us_wheel_run(&wheel, now);
		sink += us_wheel_next(&wheel);
	}
	uint64_t loop_ns = (wall_ns() - w0) / ITERS;
	/* Re-arm later (an ACK pushing an eager RTO). */
	enum { OPS = 200000 };
	w0 = wall_ns();
	for (int i = 0; i < OPS; i++) {
		struct us_timer *x = &t[rnd() % (uint64_t)n];
		us_timer_arm(&wheel, x, now + 200 * US_NS_PER_MS + (uint64_t)i);
	}
	uint64_t arm_ns = (wall_ns() - w0) / OPS;
	w0 = wall_ns();
	for (int i = 0; i < OPS; i++) {
		struct us_timer *x = &t[rnd() % (uint64_t)n];
		us_timer_cancel(&wheel, x);
		us_timer_arm(&wheel, x, now + 1 + rnd() % (7200 * US_NS_PER_SEC));
	}
	uint64_t ca_ns = (wall_ns() - w0) / OPS;
	printf("RESULT timers=%d loop_ns=%llu arm_ns=%llu cancel_arm_ns=%llu fired=%lu (%llu)\n", n,
	       (unsigned long long)loop_ns, (unsigned long long)arm_ns, (unsigned long long)ca_ns,
	       fired, (unsigned long long)(sink & 1));
	for (int i = 0; i < n; i++)
		us_timer_cancel(&wheel, &t[i]);
	us_wheel_destroy(&wheel);
	free(t);
	return 0;
}
