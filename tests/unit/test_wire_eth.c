/*
 * test_wire_eth.c — Ethernet II header and ARP (RFC 826) parse and build
 * (core/wire/eth.c).
 *
 * Byte vectors are written out by hand from the formats: Ethernet II is
 * dst(6) src(6) type(2); an ARP packet for IPv4 over Ethernet is
 * htype 0001, ptype 0800, hlen 06, plen 04, op, sha(6), spa(4), tha(6),
 * tpa(4). Truncated inputs are copied into heap blocks of exactly that
 * length, so a sanitizer build catches any read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/eth.h"

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

/* An ARP request from 10.0.0.1 (02:00:00:00:00:01) for 10.0.0.2, broadcast,
 * padded to the 60-byte Ethernet minimum. */
static const uint8_t arp_frame[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff,     /* dst */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01,     /* src */
	0x08, 0x06,                             /* ARP */
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04,     /* Ethernet, IPv4, 6, 4 */
	0x00, 0x01,                             /* request */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01,     /* sha */
	0x0a, 0x00, 0x00, 0x01,                 /* spa 10.0.0.1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     /* tha */
	0x0a, 0x00, 0x00, 0x02,                 /* tpa 10.0.0.2 */
	/* 18 bytes of padding, zero */
};

/* Copy len bytes into a heap block of exactly len bytes. */
static uint8_t *exact(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);
	if (q && len)
		memcpy(q, p, len);
	return q;
}

static void test_eth_parse_vector(void)
{
	struct wire_eth e;
	CU_ASSERT_EQUAL_FATAL(wire_eth_parse(arp_frame, sizeof arp_frame, &e), 0);
	CU_ASSERT_PTR_EQUAL(e.dst, arp_frame);
	CU_ASSERT_PTR_EQUAL(e.src, arp_frame + 6);
	CU_ASSERT_EQUAL(memcmp(e.dst, wire_eth_broadcast, 6), 0);
	CU_ASSERT_EQUAL(memcmp(e.src, mac_a, 6), 0);
	CU_ASSERT_EQUAL(e.type, ETH_TYPE_ARP);
	CU_ASSERT_PTR_EQUAL(e.payload, arp_frame + 14);
	CU_ASSERT_EQUAL(e.payload_len, 46);
}

static void test_eth_build_roundtrip(void)
{
	uint8_t f[64];
	memset(f, 0xa5, sizeof f);
	wire_eth_build(f, mac_b, mac_a, ETH_TYPE_IPV4);
	const uint8_t want[14] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00 };
	CU_ASSERT_EQUAL(memcmp(f, want, 14), 0);
	CU_ASSERT_EQUAL(f[14], 0xa5);           /* writes exactly 14 bytes */
	struct wire_eth e;
	CU_ASSERT_EQUAL_FATAL(wire_eth_parse(f, 60, &e), 0);
	CU_ASSERT_EQUAL(memcmp(e.dst, mac_b, 6), 0);
	CU_ASSERT_EQUAL(memcmp(e.src, mac_a, 6), 0);
	CU_ASSERT_EQUAL(e.type, ETH_TYPE_IPV4);
	CU_ASSERT_EQUAL(e.payload_len, 46);
	/* Every ethertype survives, byte order included. */
	const uint16_t types[] = { 0, 0x0806, 0x86dd, 0x8100, 0x88b5, 0xffff, 0x0008 };
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		wire_eth_build(f, wire_eth_broadcast, mac_a, types[i]);
		CU_ASSERT_EQUAL(f[12], types[i] >> 8);
		CU_ASSERT_EQUAL(f[13], types[i] & 0xff);
		CU_ASSERT_EQUAL_FATAL(wire_eth_parse(f, 14, &e), 0);
		CU_ASSERT_EQUAL(e.type, types[i]);
		CU_ASSERT_EQUAL(e.payload_len, 0);
	}
}

static void test_eth_parse_truncated(void)
{
	struct wire_eth e;
	for (size_t len = 0; len < ETH_HLEN; len++) {
		uint8_t *p = exact(arp_frame, len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_EQUAL(wire_eth_parse(p, len, &e), -1);
		free(p);
	}
	uint8_t *p = exact(arp_frame, ETH_HLEN);
	CU_ASSERT_EQUAL(wire_eth_parse(p, ETH_HLEN, &e), 0);
	CU_ASSERT_EQUAL(e.payload_len, 0);
	free(p);
}

static void test_eth_multicast(void)
{
	CU_ASSERT_TRUE(wire_eth_is_multicast(wire_eth_broadcast));
	CU_ASSERT_TRUE(wire_eth_is_multicast((const uint8_t[]){ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }));
	CU_ASSERT_TRUE(wire_eth_is_multicast((const uint8_t[]){ 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 }));
	CU_ASSERT_FALSE(wire_eth_is_multicast(mac_a));
	CU_ASSERT_FALSE(wire_eth_is_multicast((const uint8_t[]){ 0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e }));
	CU_ASSERT_FALSE(wire_eth_is_multicast((const uint8_t[]){ 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff }));
}

static void test_eth_mac_str(void)
{
	char buf[24];
	memset(buf, 'X', sizeof buf);
	CU_ASSERT_PTR_EQUAL(wire_mac_str(mac_a, buf), buf);
	CU_ASSERT_STRING_EQUAL(buf, "02:00:00:00:00:01");
	CU_ASSERT_EQUAL(buf[18], 'X');          /* 17 characters and the NUL */
	CU_ASSERT_STRING_EQUAL(wire_mac_str(wire_eth_broadcast, buf), "ff:ff:ff:ff:ff:ff");
	CU_ASSERT_STRING_EQUAL(wire_mac_str((const uint8_t[]){ 0x00, 0x1b, 0x21, 0xa0, 0x0f, 0xf0 },
					    buf), "00:1b:21:a0:0f:f0");
}

static void test_arp_parse_vector(void)
{
	struct wire_arp a;
	CU_ASSERT_EQUAL_FATAL(wire_arp_parse(arp_frame + 14, 46, &a), 0);
	CU_ASSERT_EQUAL(a.op, ARP_OP_REQUEST);
	CU_ASSERT_EQUAL(memcmp(a.sha, mac_a, 6), 0);
	CU_ASSERT_EQUAL(memcmp(&a.spa, (const uint8_t[]){ 10, 0, 0, 1 }, 4), 0);
	CU_ASSERT_EQUAL(memcmp(a.tha, (const uint8_t[]){ 0, 0, 0, 0, 0, 0 }, 6), 0);
	CU_ASSERT_EQUAL(memcmp(&a.tpa, (const uint8_t[]){ 10, 0, 0, 2 }, 4), 0);
	/* Exactly 28 bytes is enough. */
	uint8_t *p = exact(arp_frame + 14, ARP_LEN);
	CU_ASSERT_EQUAL(wire_arp_parse(p, ARP_LEN, &a), 0);
	free(p);
}

static void test_arp_build_roundtrip(void)
{
	struct wire_arp a, b;
	memset(&a, 0, sizeof a);
	a.op = ARP_OP_REQUEST;
	memcpy(a.sha, mac_a, 6);
	memcpy(&a.spa, (const uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(&a.tpa, (const uint8_t[]){ 10, 0, 0, 2 }, 4);
	uint8_t p[32];
	memset(p, 0xa5, sizeof p);
	wire_arp_build(p, &a);
	CU_ASSERT_EQUAL(memcmp(p, arp_frame + 14, ARP_LEN), 0);
	CU_ASSERT_EQUAL(p[ARP_LEN], 0xa5);      /* writes exactly 28 bytes */

	/* A reply, with every address byte distinct. */
	a.op = ARP_OP_REPLY;
	for (int i = 0; i < 6; i++) {
		a.sha[i] = (uint8_t)(0x10 + i);
		a.tha[i] = (uint8_t)(0x20 + i);
	}
	memcpy(&a.spa, (const uint8_t[]){ 192, 168, 1, 254 }, 4);
	memcpy(&a.tpa, (const uint8_t[]){ 172, 16, 0, 9 }, 4);
	wire_arp_build(p, &a);
	const uint8_t want[28] = {
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 192, 168, 1, 254,
		0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 172, 16, 0, 9,
	};
	CU_ASSERT_EQUAL(memcmp(p, want, sizeof want), 0);
	memset(&b, 0x5a, sizeof b);
	CU_ASSERT_EQUAL_FATAL(wire_arp_parse(p, ARP_LEN, &b), 0);
	CU_ASSERT_EQUAL(b.op, a.op);
	CU_ASSERT_EQUAL(memcmp(b.sha, a.sha, 6), 0);
	CU_ASSERT_EQUAL(b.spa, a.spa);
	CU_ASSERT_EQUAL(memcmp(b.tha, a.tha, 6), 0);
	CU_ASSERT_EQUAL(b.tpa, a.tpa);
}

static void test_arp_parse_truncated(void)
{
	struct wire_arp a;
	for (size_t len = 0; len < ARP_LEN; len++) {
		uint8_t *p = exact(arp_frame + 14, len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_EQUAL(wire_arp_parse(p, len, &a), -1);
		free(p);
	}
}

/* Set byte off (and off+1 when wide) of a copy of the ARP packet, parse. */
static int arp_with(size_t off, int wide, unsigned v)
{
	uint8_t p[ARP_LEN];
	struct wire_arp a;
	memcpy(p, arp_frame + 14, ARP_LEN);
	if (wide) {
		p[off] = (uint8_t)(v >> 8);
		p[off + 1] = (uint8_t)v;
	} else {
		p[off] = (uint8_t)v;
	}
	return wire_arp_parse(p, ARP_LEN, &a);
}

static void test_arp_parse_wrong_fields(void)
{
	/* The unmodified packet parses (so the failures below are the field's). */
	CU_ASSERT_EQUAL(arp_with(0, 1, 1), 0);
	/* htype: 6 is IEEE 802, 0x0100 is 1 byte-swapped. */
	const unsigned htypes[] = { 0, 6, 0x0100, 0xffff };
	for (size_t i = 0; i < sizeof htypes / sizeof htypes[0]; i++)
		CU_ASSERT_EQUAL(arp_with(0, 1, htypes[i]), -1);
	/* ptype: IPv6, ARP, 0x0800 byte-swapped, zero. */
	const unsigned ptypes[] = { 0x86dd, 0x0806, 0x0008, 0 };
	for (size_t i = 0; i < sizeof ptypes / sizeof ptypes[0]; i++)
		CU_ASSERT_EQUAL(arp_with(2, 1, ptypes[i]), -1);
	/* hlen and plen: every wrong value. */
	for (unsigned v = 0; v < 256; v++) {
		if (v != 6)
			CU_ASSERT_EQUAL(arp_with(4, 0, v), -1);
		if (v != 4)
			CU_ASSERT_EQUAL(arp_with(5, 0, v), -1);
	}
	/* op: only 1 and 2; 3/4 are RARP, 0x0100 is 1 byte-swapped. */
	CU_ASSERT_EQUAL(arp_with(6, 1, 1), 0);
	CU_ASSERT_EQUAL(arp_with(6, 1, 2), 0);
	const unsigned ops[] = { 0, 3, 4, 8, 9, 0x0100, 0x0200, 0xffff };
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		CU_ASSERT_EQUAL(arp_with(6, 1, ops[i]), -1);
}

US_SUITE(wire_eth, NULL, NULL,
	 US_TEST(test_eth_parse_vector),
	 US_TEST(test_eth_build_roundtrip),
	 US_TEST(test_eth_parse_truncated),
	 US_TEST(test_eth_multicast),
	 US_TEST(test_eth_mac_str),
	 US_TEST(test_arp_parse_vector),
	 US_TEST(test_arp_build_roundtrip),
	 US_TEST(test_arp_parse_truncated),
	 US_TEST(test_arp_parse_wrong_fields));
