/*
 * clock.c — monotonic and virtual clocks (see clock.h).
 */
#include <time.h>

#include "clock.h"

uint64_t us_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void us_clock_init(struct us_clock *c, bool is_virtual)
{
	c->is_virtual = is_virtual;
	/* Virtual time starts at one second so that "0" never means "now". */
	atomic_init(&c->vnow, is_virtual ? US_NS_PER_SEC : 0);
}

uint64_t us_clock_now(const struct us_clock *c)
{
	if (c->is_virtual)
		return atomic_load_explicit(&c->vnow, memory_order_acquire);
	return us_monotonic_ns();
}

void us_clock_set(struct us_clock *c, uint64_t t)
{
	if (t > atomic_load_explicit(&c->vnow, memory_order_relaxed))
		atomic_store_explicit(&c->vnow, t, memory_order_release);
}
