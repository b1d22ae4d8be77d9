/*
 * rng.h — the stack's random numbers: xoshiro256** seeded by splitmix64.
 *
 * Seeded from config (deterministic mode and tests) or from getrandom().
 * Used for ARP/IP jitter-free choices, IP ID starts, MAC addresses and
 * (later) ISNs and ephemeral ports. Not a CSPRNG: keyed hashes that must
 * resist prediction (RFC 6528) take their key from it once, at creation.
 */
#ifndef US_RNG_H
#define US_RNG_H

#include <pthread.h>
#include <stdint.h>

struct us_rng {
	pthread_mutex_t lock;   /* protects s[] */
	uint64_t s[4];
};

/* The bare generator, for owners that keep the state under their own lock. */
void us_xoshiro_seed(uint64_t s[4], uint64_t seed);
uint64_t us_xoshiro_next(uint64_t s[4]);

void us_rng_init(struct us_rng *r, uint64_t seed);
void us_rng_destroy(struct us_rng *r);
uint64_t us_rng_u64(struct us_rng *r);
uint32_t us_rng_u32(struct us_rng *r);
/* A seed from the OS (getrandom), for stacks without a configured seed. */
uint64_t us_rng_os_seed(void);

#endif
