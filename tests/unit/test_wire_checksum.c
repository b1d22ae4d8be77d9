/*
 * test_wire_checksum.c — the Internet checksum (core/wire/checksum.c).
 *
 * Expected values come from RFC 1071 section 3, RFC 1624 section 4, the
 * well-known IPv4 header whose checksum field is 0xb861, sums worked by hand
 * (shown next to them), or from ref_sum() below: a plain RFC 1071 loop over
 * big-endian 16-bit words, written independently of the code under test.
 *
 * wire_csum() and wire_csum_fold() return the checksum in memory order: the
 * value to memcpy into the header. The tests therefore compare bytes, or
 * ntohs() of the result against the RFC's numbers.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/checksum.h"

/* RFC 1071 reference: 16-bit big-endian words, odd byte padded with zero,
 * end-around carry. Returns the folded sum (not complemented), host order. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The checksum the reference gives: the complemented sum, host order. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	return (uint16_t)~ref_sum(p, len);
}

static uint32_t rng = 0x2545f491;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* A checksum as the two bytes it puts on the wire, read as a number. */
static uint16_t wire16(uint16_t mem)
{
	uint8_t b[2];
	memcpy(b, &mem, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2. */
static void test_csum_rfc1071_example(void)
{
	const uint8_t v[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	CU_ASSERT_EQUAL(ref_sum(v, sizeof v), 0xddf2);          /* the oracle agrees */
	uint16_t c = wire_csum(v, sizeof v);
	CU_ASSERT_EQUAL(wire16(c), (uint16_t)~0xddf2);          /* 0x220d */
	CU_ASSERT_EQUAL(ntohs(c), 0x220d);
	/* The un-complemented sum, as the RFC writes it. */
	CU_ASSERT_EQUAL(wire16((uint16_t)~wire_csum_fold(wire_csum_add(0, v, sizeof v))), 0xddf2);
	/* Receiver's check: data plus its checksum sums to all ones. */
	uint8_t w[10];
	memcpy(w, v, 8);
	memcpy(w + 8, &c, 2);
	CU_ASSERT_EQUAL(w[8], 0x22);
	CU_ASSERT_EQUAL(w[9], 0x0d);
	CU_ASSERT_EQUAL(wire_csum(w, sizeof w), 0);
}

/* The classic IPv4 header; its checksum field holds 0xb861. */
static const uint8_t ip_hdr[20] = {
	0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
};

static void test_csum_ipv4_header_vector(void)
{
	uint8_t h[20];
	memcpy(h, ip_hdr, sizeof h);
	CU_ASSERT_EQUAL(wire_csum(h, sizeof h), 0);     /* verifies as received */
	h[10] = h[11] = 0;
	uint16_t c = wire_csum(h, sizeof h);
	memcpy(h + 10, &c, 2);
	CU_ASSERT_EQUAL(h[10], 0xb8);
	CU_ASSERT_EQUAL(h[11], 0x61);
	CU_ASSERT_EQUAL(memcmp(h, ip_hdr, sizeof h), 0);
}

/* Every length 0..300 at every alignment 0..7, random contents, against the
 * reference; plus one hand-worked odd vector. */
static void test_csum_odd_lengths_and_alignment(void)
{
	uint8_t buf[320];
	for (size_t len = 0; len <= 300; len++) {
		for (size_t off = 0; off < 8; off++) {
			for (size_t i = 0; i < sizeof buf; i++)
				buf[i] = (uint8_t)rnd();
			uint16_t want = ref_csum(buf + off, len);
			uint16_t got = wire16(wire_csum(buf + off, len));
			if (got != want) {
				CU_FAIL("checksum differs from RFC 1071 reference");
				return;
			}
		}
	}
	/* One byte 0xab is the word 0xab00: checksum 0x54ff. */
	const uint8_t one = 0xab;
	CU_ASSERT_EQUAL(wire16(wire_csum(&one, 1)), 0x54ff);
	/* 01 02 03: words 0x0102 + 0x0300 = 0x0402, checksum 0xfbfd. */
	const uint8_t three[3] = { 1, 2, 3 };
	CU_ASSERT_EQUAL(wire16(wire_csum(three, 3)), 0xfbfd);
	/* An empty buffer sums to 0: checksum 0xffff. */
	CU_ASSERT_EQUAL(wire_csum(buf, 0), 0xffff);
	/* The trailing pad byte is zero whatever follows the buffer. */
	uint8_t a[4] = { 0x12, 0x34, 0x56, 0x00 }, b[4] = { 0x12, 0x34, 0x56, 0xff };
	CU_ASSERT_EQUAL(wire_csum(a, 3), wire_csum(b, 3));
}

/* Many carries: long runs of 0xff bytes, and buffers past 64 KiB. */
static void test_csum_carries(void)
{
	size_t n = 200000;
	uint8_t *p = malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 0xff, n);
	/* Any number of 0xffff words sums to 0xffff (negative zero): checksum 0. */
	CU_ASSERT_EQUAL(wire_csum(p, n), 0);
	CU_ASSERT_EQUAL(wire_csum(p, 65536), 0);
	/* An odd count adds 0xff00: 0xffff + 0xff00 -> 0xff00, checksum 0x00ff. */
	CU_ASSERT_EQUAL(wire16(wire_csum(p, 65535)), 0x00ff);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
	for (size_t len = 65530; len < 65545; len++)
		CU_ASSERT_EQUAL(wire16(wire_csum(p + 1, len)), ref_csum(p + 1, len));
	CU_ASSERT_EQUAL(wire16(wire_csum(p, n)), ref_csum(p, n));
	free(p);
}

/* Summing in pieces (at even boundaries) gives the same as in one go. */
static void test_csum_add_chains(void)
{
	uint8_t buf[256];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rnd();
	uint16_t whole = wire_csum(buf, 255);
	for (size_t cut = 0; cut <= 254; cut += 2) {
		uint64_t s = wire_csum_add(0, buf, cut);
		s = wire_csum_add(s, buf + cut, 255 - cut);
		CU_ASSERT_EQUAL(wire_csum_fold(s), whole);
	}
	/* Three pieces, unaligned starts. */
	uint64_t s = wire_csum_add(0, buf, 6);
	s = wire_csum_add(s, buf + 6, 2);
	s = wire_csum_add(s, buf + 8, 247);
	CU_ASSERT_EQUAL(wire_csum_fold(s), whole);
}

static void test_csum_fold(void)
{
	/* Numbers congruent mod 0xffff; a zero sum complements to 0xffff and
	 * a sum of 0xffff (negative zero) to 0. Independent of byte order. */
	CU_ASSERT_EQUAL(wire_csum_fold(0), 0xffff);
	CU_ASSERT_EQUAL(wire_csum_fold(0xffff), 0);
	CU_ASSERT_EQUAL(wire_csum_fold(0x1fffe), 0);           /* 0xfffe + 1 */
	CU_ASSERT_EQUAL(wire_csum_fold(0x10000), 0xfffe);      /* 1 */
	CU_ASSERT_EQUAL(wire_csum_fold(1ull << 32), 0xfffe);   /* 2^32 = 1 mod 0xffff */
	CU_ASSERT_EQUAL(wire_csum_fold(1ull << 48), 0xfffe);
	CU_ASSERT_EQUAL(wire_csum_fold(UINT64_MAX), 0);        /* 0xffff divides 2^64-1 */
	CU_ASSERT_EQUAL(wire_csum_fold(0x123456789abcdef0ull),
			/* 0x1234 + 0x5678 + 0x9abc + 0xdef0 = 0x1e258 -> 0xe259 */
			(uint16_t)~0xe259);
}

/*
 * Pseudo-header 192.168.0.1 -> 192.168.0.199, UDP, length 20, by hand:
 * c0a8 + 0001 + c0a8 + 00c7 + 0011 + 0014 = 0x1823d -> 0x823e.
 */
static void test_csum_pseudo(void)
{
	uint32_t src, dst;
	memcpy(&src, (const uint8_t[]){ 192, 168, 0, 1 }, 4);
	memcpy(&dst, (const uint8_t[]){ 192, 168, 0, 199 }, 4);
	uint64_t s = wire_csum_pseudo(src, dst, 17, 20);
	CU_ASSERT_EQUAL(wire16(wire_csum_fold(s)), (uint16_t)~0x823e);
	/* Random pseudo-headers against the 12-byte layout of RFC 768. */
	for (int i = 0; i < 1000; i++) {
		uint8_t ph[12];
		for (int k = 0; k < 8; k++)
			ph[k] = (uint8_t)rnd();
		uint8_t proto = (uint8_t)rnd();
		uint16_t len = (uint16_t)rnd();
		ph[8] = 0;
		ph[9] = proto;
		ph[10] = (uint8_t)(len >> 8);
		ph[11] = (uint8_t)len;
		memcpy(&src, ph, 4);
		memcpy(&dst, ph + 4, 4);
		uint16_t got = wire16(wire_csum_fold(wire_csum_pseudo(src, dst, proto, len)));
		if (got != ref_csum(ph, 12)) {
			CU_FAIL("pseudo-header sum differs from reference");
			return;
		}
	}
}

/* RFC 1624 section 4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives 0x0000
 * with eqn. 3 (eqn. 2 would wrongly give 0xffff). */
static void test_csum_update16_rfc1624_example(void)
{
	uint16_t c = wire_csum_update16(htons(0xdd2f), htons(0x5555), htons(0x3285));
	CU_ASSERT_EQUAL(ntohs(c), 0x0000);
	/* And back again. */
	c = wire_csum_update16(htons(0x0000), htons(0x3285), htons(0x5555));
	CU_ASSERT_EQUAL(ntohs(c), 0xdd2f);
}

/* Changing any 16-bit word of a real header: incremental == recomputed. */
static void test_csum_update16_matches_recompute(void)
{
	uint8_t h[20];
	for (int round = 0; round < 2000; round++) {
		memcpy(h, ip_hdr, sizeof h);
		/* Start from a random (but valid) header now and then. */
		if (round & 1) {
			for (int k = 12; k < 20; k++)
				h[k] = (uint8_t)rnd();
			h[10] = h[11] = 0;
			uint16_t c0 = wire_csum(h, 20);
			memcpy(h + 10, &c0, 2);
		}
		int word = (int)(rnd() % 10);
		if (word == 5)
			word = 4;       /* not the checksum field itself */
		uint16_t oldw, neww, csum;
		if (round % 7 == 0)
			word = 4;       /* TTL and protocol */
		memcpy(&oldw, h + 2 * word, 2);
		neww = (uint16_t)rnd();
		if (round % 7 == 0)
			neww = (uint16_t)(oldw - htons(0x0100));        /* TTL decrement */
		memcpy(&csum, h + 10, 2);
		uint16_t inc = wire_csum_update16(csum, oldw, neww);
		memcpy(h + 2 * word, &neww, 2);
		h[10] = h[11] = 0;
		uint16_t full = wire_csum(h, 20);
		if (inc != full) {
			CU_FAIL("RFC 1624 update differs from recomputation");
			return;
		}
		memcpy(h + 10, &inc, 2);
		CU_ASSERT_EQUAL_FATAL(wire_csum(h, 20), 0);
	}
}

US_SUITE(wire_checksum, NULL, NULL,
	 US_TEST(test_csum_rfc1071_example),
	 US_TEST(test_csum_ipv4_header_vector),
	 US_TEST(test_csum_odd_lengths_and_alignment),
	 US_TEST(test_csum_carries),
	 US_TEST(test_csum_add_chains),
	 US_TEST(test_csum_fold),
	 US_TEST(test_csum_pseudo),
	 US_TEST(test_csum_update16_rfc1624_example),
	 US_TEST(test_csum_update16_matches_recompute));
