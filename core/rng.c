/*
 * rng.c — xoshiro256** (Blackman and Vigna), seeded through splitmix64.
 */
#include <sys/random.h>
#include <time.h>

#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void us_xoshiro_seed(uint64_t s[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		s[i] = splitmix64(&seed);
}

void us_rng_init(struct us_rng *r, uint64_t seed)
{
	pthread_mutex_init(&r->lock, NULL);
	us_xoshiro_seed(r->s, seed);
}

void us_rng_destroy(struct us_rng *r)
{
	pthread_mutex_destroy(&r->lock);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t us_xoshiro_next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t us_rng_u64(struct us_rng *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t result = us_xoshiro_next(r->s);
	pthread_mutex_unlock(&r->lock);
	return result;
}

uint32_t us_rng_u32(struct us_rng *r)
{
	return (uint32_t)(us_rng_u64(r) >> 32);
}

uint64_t us_rng_os_seed(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v)
		return v;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
}
