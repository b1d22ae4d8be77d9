/*
 * clock.h — the stack's notion of time, in nanoseconds.
 *
 * Real mode reads CLOCK_MONOTONIC. Virtual mode (deterministic stacks and
 * tests) returns a counter that only the caller moves, through
 * us_clock_set(); protocol code never reads the system clock itself.
 */
#ifndef US_CLOCK_H
#define US_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define US_NS_PER_MS  1000000ULL
#define US_NS_PER_SEC 1000000000ULL

struct us_clock {
	bool is_virtual;            /* fixed at creation */
	_Atomic uint64_t vnow;      /* virtual time; written by the driving thread only */
};

void us_clock_init(struct us_clock *c, bool is_virtual);
uint64_t us_clock_now(const struct us_clock *c);
/* Virtual clocks only: move to t (never backwards). */
void us_clock_set(struct us_clock *c, uint64_t t);
/* Real monotonic time, for tools that time things themselves. */
uint64_t us_monotonic_ns(void);

#endif /* US_CLOCK_H */
