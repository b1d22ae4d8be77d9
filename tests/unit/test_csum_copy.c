/*
 * test_csum_copy.c — the one-pass copy and checksum (wire_csum_copy,
 * wire_csum_copy_at in core/wire/checksum.c) against a plain reference.
 *
 * The reference below is written for these tests only: it walks the
 * bytes one at a time, an even position (counted from the start of the
 * whole summed data) being the high byte of a big-endian 16-bit word and
 * an odd one the low byte (RFC 1071 section 1), and folds with the
 * end-around carry at the end. It knows nothing of words in memory order,
 * vectors or byte swaps, which is where the code under test could go
 * wrong. Every case also checks the copy: the bytes arrived, and the bytes
 * around the destination were left alone.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/checksum.h"

/* The 16-bit one's complement sum (not complemented), host order, of the
 * len bytes at p taken as positions start, start+1, ... of the data. */
static uint32_t ref_sum_from(const uint8_t *p, size_t len, size_t start)
{
	uint64_t hi = 0, lo = 0;
	for (size_t i = 0; i < len; i++) {
		if ((start + i) % 2 == 0)
			hi += p[i];
		else
			lo += p[i];
	}
	uint64_t s = hi * 256 + lo;
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* The checksum field the reference gives, as the two bytes on the wire. */
static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t seed_sum)
{
	uint32_t s = ref_sum_from(p, len, 0) + seed_sum;
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The checksum the code under test gives, read as the wire's two bytes. */
static uint16_t wire16(uint16_t mem)
{
	uint8_t b[2];
	memcpy(b, &mem, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint64_t rs = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 11);
}

#define MAXLEN 9000
#define GUARD 64

static uint8_t src[MAXLEN + 2 * GUARD], dst[MAXLEN + 2 * GUARD];

static void fill(uint8_t *p, size_t n, int pattern)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern == 1 ? 0xff : pattern == 2 ? (uint8_t)(rnd() | 0xf0) : (uint8_t)rnd();
}

/*
 * One case: len bytes from src + sa to dst + da, cut into pieces at random
 * points (so most pieces after the first start at an odd or even offset
 * chosen by chance), each piece copied and summed with wire_csum_copy_at
 * at its offset, into a sum that starts at seed (a pseudo-header's sum,
 * say). Returns false (after saying why) when anything differs.
 */
static bool one_case(size_t len, size_t sa, size_t da, int pieces, int pattern, uint32_t seed)
{
	fill(src, sizeof src, pattern);
	memset(dst, 0xa5, sizeof dst);
	uint8_t *s = src + GUARD + sa, *d = dst + GUARD + da;
	uint64_t sum = htons((uint16_t)seed);  /* the same word, in memory order */
	size_t off = 0;
	for (int k = 0; k < pieces && off < len; k++) {
		size_t n = k == pieces - 1 ? len - off : rnd() % (len - off + 1);
		sum = wire_csum_copy_at(sum, d + off, s + off, n, off);
		off += n;
	}
	if (off < len)
		sum = wire_csum_copy_at(sum, d + off, s + off, len - off, off);
	if (wire16(wire_csum_fold(sum)) != ref_csum(s, len, seed)) {
		CU_FAIL("one-pass checksum differs from the reference");
		return false;
	}
	if (memcmp(d, s, len) != 0) {
		CU_FAIL("copied bytes differ from the source");
		return false;
	}
	for (size_t i = 0; i < sizeof dst; i++) {
		if ((dst + i < d || dst + i >= d + len) && dst[i] != 0xa5) {
			CU_FAIL("a byte outside the destination was written");
			return false;
		}
	}
	return true;
}

/* Every length 0..300 (the tails and the first vector rounds), every
 * source and destination alignment 0..7, in one piece. */
static void test_csum_copy_short_all_alignments(void)
{
	for (size_t len = 0; len <= 300; len++)
		for (size_t sa = 0; sa < 8; sa++)
			for (size_t da = 0; da < 8; da += 3)
				if (!one_case(len, sa, da, 1, 0, 0))
					return;
}

/* 24,000 random lengths 0..9000 (a jumbo frame's payload), every source
 * and destination alignment, in 1 to 6 pieces at random offsets (odd ones
 * among them), random, all-ones and high-byte-heavy data (carries), with
 * and without a starting sum. */
static void test_csum_copy_random_pieces(void)
{
	for (int c = 0; c < 24000; c++) {
		size_t len = rnd() % (MAXLEN + 1);
		size_t sa = (size_t)c % 8, da = (size_t)(c / 8) % 8;
		int pieces = 1 + (int)(rnd() % 6);
		int pattern = c % 3;
		uint32_t seed = c % 2 ? rnd() & 0xffff : 0;
		if (!one_case(len, sa, da, pieces, pattern, seed))
			return;
	}
}

/* A piece at an odd offset, worked by hand: the data 01 02 03 04 05 is
 * words 0x0102 0x0304 0x0500, sum 0x0906, checksum 0xf6f9, however cut. */
static void test_csum_copy_odd_offset_by_hand(void)
{
	const uint8_t v[5] = { 1, 2, 3, 4, 5 };
	uint8_t out[5];
	for (size_t cut = 0; cut <= 5; cut++) {
		uint64_t sum = wire_csum_copy_at(0, out, v, cut, 0);
		sum = wire_csum_copy_at(sum, out + cut, v + cut, 5 - cut, cut);
		CU_ASSERT_EQUAL(wire16(wire_csum_fold(sum)), 0xf6f9);
		CU_ASSERT_EQUAL(memcmp(out, v, 5), 0);
	}
	/* The same as the existing two-pass functions give. */
	CU_ASSERT_EQUAL(wire_csum_fold(wire_csum_copy(0, out, v, 5)), wire_csum(v, 5));
}

/* Past the lanes' widening block (2 MiB of vectors): a 5 MiB buffer of
 * 0xff bytes and one of random bytes, in one call. */
static void test_csum_copy_large(void)
{
	size_t n = 5u << 20;
	uint8_t *a = malloc(n + 1), *b = malloc(n + 1);
	CU_ASSERT_FATAL(a && b);
	for (int pattern = 0; pattern < 2; pattern++) {
		for (size_t i = 0; i <= n; i++)
			a[i] = pattern ? (uint8_t)rnd() : 0xff;
		for (size_t len = n - 1; len <= n; len++) {
			uint64_t sum = wire_csum_copy(0, b, a + 1, len);
			CU_ASSERT_EQUAL(wire16(wire_csum_fold(sum)), ref_csum(a + 1, len, 0));
			CU_ASSERT_EQUAL(memcmp(a + 1, b, len), 0);
		}
	}
	free(a);
	free(b);
}

US_SUITE(csum_copy, NULL, NULL,
	 US_TEST(test_csum_copy_short_all_alignments),
	 US_TEST(test_csum_copy_random_pieces),
	 US_TEST(test_csum_copy_odd_offset_by_hand),
	 US_TEST(test_csum_copy_large));
