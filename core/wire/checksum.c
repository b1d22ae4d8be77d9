/*
 * checksum.c — Internet checksum in wide words (RFC 1071, RFC 1624).
 */
#include <string.h>

#include "wire/checksum.h"

#ifdef US_DEBUG_LOCKS
_Thread_local uint64_t wire_csum_counted;
#define COUNTED(n) (wire_csum_counted += (n))
#else
#define COUNTED(n) ((void)0)
#endif

uint64_t wire_csum_add(uint64_t sum, const void *buf, size_t len)
{
	COUNTED(len);
	const uint8_t *p = buf;
	/* 32-bit loads into a 64-bit accumulator cannot overflow for any
	 * buffer below 2^32 words; memcpy keeps unaligned loads legal. */
	while (len >= 16) {
		uint32_t w[4];
		memcpy(w, p, 16);
		sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the high-order byte of a 16-bit word in network
		 * order; in memory order that is the first byte of the word. */
		uint8_t last[2] = { p[0], 0 };
		uint16_t h;
		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

/* The sum of a piece at an odd offset, folded to 16 bits and byte-swapped. */
static uint16_t swapped(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	uint16_t h = (uint16_t)s;
	return (uint16_t)(h << 8 | h >> 8);
}

uint64_t wire_csum_add_at(uint64_t sum, const void *p, size_t len, size_t off)
{
	if (!(off & 1))
		return wire_csum_add(sum, p, len);
	return sum + swapped(wire_csum_add(0, p, len));
}

/*
 * wire_csum_copy: the bulk moves in 32-byte vectors (GCC/Clang vector
 * extensions), each loaded once, stored once, and its 16-bit words added
 * to 32-bit lanes (low and high halves of each lane apart, so a lane
 * gains at most 0xffff per vector: 32768 rounds of two vectors cannot
 * overflow it); the lanes are widened into the 64-bit sum every block.
 * On x86-64 the function is built twice, for AVX2 and for the baseline
 * (SSE2), and the loader picks one for the CPU (target_clones): the AVX2
 * copy sums a 1448-byte segment in about 2/5 of the time memcpy plus
 * wire_csum_add take (doc/ARCHITECTURE.md). What is left after the
 * vectors (under 64 bytes) goes in 64-bit words. The words summed are
 * the same native 16-bit words wire_csum_add sums, so the two fold to
 * the same checksum (RFC 1071 2(B)).
 */
/* Not under ThreadSanitizer: the clones' resolver runs while the dynamic
 * loader relocates the program, before TSan's runtime is set up, and its
 * instrumented prologue crashes there (every SANITIZE=thread binary died
 * at start-up). Those builds use the baseline copy. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__has_attribute) && \
	!defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones)
#define CSUM_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef CSUM_CLONES
#define CSUM_CLONES
#endif

#ifdef __GNUC__
#define VB 32
typedef uint32_t csum_vec __attribute__((vector_size(VB)));
#define VROUNDS 32768   /* two vectors a round: lanes stay below 2^32 */

CSUM_CLONES
static uint64_t copy_vec(uint8_t **dp, const uint8_t **sp, size_t *lenp)
{
	uint8_t *d = *dp;
	const uint8_t *s = *sp;
	size_t len = *lenp;
	uint64_t sum = 0;
	while (len >= 2 * VB) {
		size_t rounds = len / (2 * VB) < VROUNDS ? len / (2 * VB) : VROUNDS;
		len -= rounds * 2 * VB;
		csum_vec lo0 = { 0 }, hi0 = { 0 }, lo1 = { 0 }, hi1 = { 0 };
		for (size_t i = 0; i < rounds; i++) {
			csum_vec a, b;
			memcpy(&a, s, VB);
			memcpy(&b, s + VB, VB);
			memcpy(d, &a, VB);
			memcpy(d + VB, &b, VB);
			lo0 += a & 0xffff;
			hi0 += a >> 16;
			lo1 += b & 0xffff;
			hi1 += b >> 16;
			s += 2 * VB;
			d += 2 * VB;
		}
		for (int k = 0; k < VB / 4; k++)
			sum += (uint64_t)lo0[k] + hi0[k] + lo1[k] + hi1[k];
	}
	*dp = d;
	*sp = s;
	*lenp = len;
	return sum;
}
#else
static uint64_t copy_vec(uint8_t **dp, const uint8_t **sp, size_t *lenp)
{
	return 0;       /* everything in 64-bit words below */
}
#endif

uint64_t wire_csum_copy(uint64_t sum, void *dstv, const void *srcv, size_t len)
{
	uint8_t *d = dstv;
	const uint8_t *s = srcv;
	COUNTED(len);
	if (len >= 128)         /* below that the call costs more than it saves */
		sum += copy_vec(&d, &s, &len);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		memcpy(d, &w, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
		s += 8;
		d += 8;
		len -= 8;
	}
	/* The tail (0-7 bytes) as wire_csum_add pads it: zeros after it. */
	uint8_t tail[8] = { 0 };
	memcpy(tail, s, len);
	memcpy(d, tail, len);
	uint64_t w;
	memcpy(&w, tail, 8);
	return sum + (w & 0xffffffffu) + (w >> 32);
}

uint64_t wire_csum_copy_at(uint64_t sum, void *dst, const void *src, size_t len, size_t off)
{
	if (!(off & 1))
		return wire_csum_copy(sum, dst, src, len);
	return sum + swapped(wire_csum_copy(0, dst, src, len));
}

uint16_t wire_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t wire_csum(const void *p, size_t len)
{
	return wire_csum_fold(wire_csum_add(0, p, len));
}

uint64_t wire_csum_pseudo(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];
	memcpy(ph, &src_be, 4);
	memcpy(ph + 4, &dst_be, 4);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return wire_csum_add(0, ph, sizeof ph);
}

uint16_t wire_csum_update16(uint16_t csum, uint16_t old_be, uint16_t new_be)
{
	/* HC' = ~(~HC + ~m + m') */
	uint32_t sum = (uint16_t)~csum;
	sum += (uint16_t)~old_be;
	sum += new_be;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
