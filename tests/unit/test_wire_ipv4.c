/*
 * test_wire_ipv4.c — IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768) parse and
 * build, and the one-line frame description (core/wire/ipv4.c, describe.c).
 *
 * Byte vectors: the classic IPv4 header whose checksum field is 0xb861, and
 * UDP/ICMP packets whose checksums were computed by scapy 2.5 (an
 * independent implementation), not by this code. Headers the tests modify
 * get their checksum from ref_sum(), a plain RFC 1071 loop written here.
 * Truncated inputs are copied into heap blocks of exactly that length, so a
 * sanitizer build catches any read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

/* RFC 1071 reference sum (folded, not complemented) over big-endian words. */
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

/* Recompute an IPv4 header's checksum with the reference. */
static void fix_ip_csum(uint8_t *h)
{
	size_t hlen = (size_t)(h[0] & 0x0f) * 4;
	h[10] = h[11] = 0;
	uint16_t c = (uint16_t)~ref_sum(h, hlen);
	h[10] = (uint8_t)(c >> 8);
	h[11] = (uint8_t)c;
}

static uint32_t rng = 0x9e3779b9;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static uint32_t addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint32_t v;
	memcpy(&v, (const uint8_t[]){ a, b, c, d }, 4);
	return v;
}

static uint8_t *exact(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);
	if (q && len)
		memcpy(q, p, len);
	return q;
}

/* The classic header: 192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64,
 * total length 0x73, checksum 0xb861. */
static const uint8_t ip_hdr[20] = {
	0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
};

/* scapy: IP(src="10.0.0.1", dst="10.0.0.2", id=0x1c46, ttl=64, flags="DF")
 *        / UDP(sport=5000, dport=53) / b"hello"  (IP 0x0a84, UDP 0x9442) */
static const uint8_t udp_pkt[33] = {
	0x45, 0x00, 0x00, 0x21, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0x0a, 0x84,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	0x13, 0x88, 0x00, 0x35, 0x00, 0x0d, 0x94, 0x42,
	'h', 'e', 'l', 'l', 'o',
};

/* scapy: IP(src="10.0.0.1", dst="10.0.0.2", id=1, ttl=64)
 *        / ICMP(type=8, id=0x1234, seq=1) / b"abcdefghijklmnopqrstuvwabcdefghi"
 *        (IP 0x66be, ICMP 0x3b27) */
static const uint8_t icmp_pkt[60] = {
	0x45, 0x00, 0x00, 0x3c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x66, 0xbe,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x3b, 0x27, 0x12, 0x34, 0x00, 0x01,
	'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p',
	'q', 'r', 's', 't', 'u', 'v', 'w', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
};

/* scapy: ICMP(type=8, id=0x0102, seq=0x0304) / b"xyz"  (checksum 0x0180) */
static const uint8_t icmp_odd[11] = {
	0x08, 0x00, 0x01, 0x80, 0x01, 0x02, 0x03, 0x04, 'x', 'y', 'z',
};

/* ---- IPv4 ------------------------------------------------------------ */

static void test_ip4_parse_vector(void)
{
	uint8_t p[0x73];
	memset(p, 0, sizeof p);
	memcpy(p, ip_hdr, 20);
	struct wire_ip4 ip;
	CU_ASSERT_EQUAL_FATAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
	CU_ASSERT_PTR_EQUAL(ip.hdr, p);
	CU_ASSERT_EQUAL(ip.hlen, 20);
	CU_ASSERT_EQUAL(ip.tos, 0);
	CU_ASSERT_EQUAL(ip.total_len, 115);
	CU_ASSERT_EQUAL(ip.id, 0);
	CU_ASSERT_TRUE(ip.df);
	CU_ASSERT_FALSE(ip.mf);
	CU_ASSERT_EQUAL(ip.frag_off, 0);
	CU_ASSERT_EQUAL(ip.ttl, 64);
	CU_ASSERT_EQUAL(ip.proto, IP_PROTO_UDP);
	CU_ASSERT_EQUAL(ip.src, addr(192, 168, 0, 1));
	CU_ASSERT_EQUAL(ip.dst, addr(192, 168, 0, 199));
	CU_ASSERT_PTR_EQUAL(ip.payload, p + 20);
	CU_ASSERT_EQUAL(ip.payload_len, 95);

	CU_ASSERT_EQUAL_FATAL(wire_ip4_parse(udp_pkt, sizeof udp_pkt, &ip), WIRE_IP4_OK);
	CU_ASSERT_EQUAL(ip.id, 0x1c46);
	CU_ASSERT_EQUAL(ip.total_len, 33);
	CU_ASSERT_EQUAL(ip.payload_len, 13);
	CU_ASSERT_EQUAL(ip.src, addr(10, 0, 0, 1));
	CU_ASSERT_EQUAL(ip.dst, addr(10, 0, 0, 2));
}

/* The builder reproduces the independent vectors byte for byte. */
static void test_ip4_build_vector(void)
{
	struct wire_ip4_hdr h = {
		.tos = 0, .total_len = 0x73, .id = 0, .df = true, .mf = false,
		.frag_off = 0, .ttl = 64, .proto = IP_PROTO_UDP,
		.src = addr(192, 168, 0, 1), .dst = addr(192, 168, 0, 199),
	};
	uint8_t p[24];
	memset(p, 0xa5, sizeof p);
	wire_ip4_build(p, &h);
	CU_ASSERT_EQUAL(memcmp(p, ip_hdr, 20), 0);
	CU_ASSERT_EQUAL(p[20], 0xa5);           /* writes exactly 20 bytes */

	h = (struct wire_ip4_hdr){
		.total_len = 33, .id = 0x1c46, .df = true, .ttl = 64, .proto = IP_PROTO_UDP,
		.src = addr(10, 0, 0, 1), .dst = addr(10, 0, 0, 2),
	};
	wire_ip4_build(p, &h);
	CU_ASSERT_EQUAL(memcmp(p, udp_pkt, 20), 0);
	h = (struct wire_ip4_hdr){
		.total_len = 60, .id = 1, .ttl = 64, .proto = IP_PROTO_ICMP,
		.src = addr(10, 0, 0, 1), .dst = addr(10, 0, 0, 2),
	};
	wire_ip4_build(p, &h);
	CU_ASSERT_EQUAL(memcmp(p, icmp_pkt, 20), 0);
}

static void test_ip4_roundtrip(void)
{
	static uint8_t p[1600];
	for (int i = 0; i < 5000; i++) {
		struct wire_ip4_hdr h = {
			.tos = (uint8_t)rnd(),
			.total_len = (uint16_t)(20 + rnd() % 1480),
			.id = (uint16_t)rnd(),
			.df = rnd() & 1,
			.mf = rnd() & 1,
			.frag_off = (uint16_t)((rnd() & IP4_OFF_MASK) * 8),
			.ttl = (uint8_t)rnd(),
			.proto = (uint8_t)rnd(),
			.src = rnd(),
			.dst = rnd(),
		};
		if (i == 0)
			h.frag_off = 0x1fff * 8;        /* largest offset: 65528 */
		wire_ip4_build(p, &h);
		if (ref_sum(p, 20) != 0xffff) {
			CU_FAIL("built header does not verify with the reference sum");
			return;
		}
		size_t pad = rnd() % 3 == 0 ? rnd() % 100 : 0;  /* link padding */
		struct wire_ip4 ip;
		if (wire_ip4_parse(p, h.total_len + pad, &ip) != WIRE_IP4_OK) {
			CU_FAIL("built header does not parse");
			return;
		}
		int same = ip.hlen == 20 && ip.tos == h.tos && ip.total_len == h.total_len &&
			   ip.id == h.id && ip.df == h.df && ip.mf == h.mf &&
			   ip.frag_off == h.frag_off && ip.ttl == h.ttl && ip.proto == h.proto &&
			   ip.src == h.src && ip.dst == h.dst && ip.payload == p + 20 &&
			   ip.payload_len == h.total_len - 20;
		if (!same) {
			CU_FAIL("round trip changed a field");
			return;
		}
	}
}

/* Ethernet pads short packets: the payload ends at total length. */
static void test_ip4_link_padding(void)
{
	uint8_t p[46];
	memset(p, 0xee, sizeof p);
	memcpy(p, udp_pkt, sizeof udp_pkt);
	struct wire_ip4 ip;
	CU_ASSERT_EQUAL_FATAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
	CU_ASSERT_EQUAL(ip.total_len, 33);
	CU_ASSERT_EQUAL(ip.payload_len, 13);
}

static void test_ip4_parse_truncated(void)
{
	struct wire_ip4 ip;
	for (size_t len = 0; len < IP4_HLEN; len++) {
		uint8_t *p = exact(udp_pkt, len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_EQUAL(wire_ip4_parse(p, len, &ip), WIRE_IP4_SHORT);
		free(p);
	}
	/* Cut inside the payload: the total length now exceeds the data. */
	for (size_t len = IP4_HLEN; len < sizeof udp_pkt; len++) {
		uint8_t *p = exact(udp_pkt, len);
		CU_ASSERT_EQUAL(wire_ip4_parse(p, len, &ip), WIRE_IP4_LENGTH);
		free(p);
	}
	uint8_t *p = exact(udp_pkt, sizeof udp_pkt);
	CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof udp_pkt, &ip), WIRE_IP4_OK);
	free(p);
}

static void test_ip4_wrong_version(void)
{
	uint8_t p[sizeof udp_pkt];
	struct wire_ip4 ip;
	for (unsigned v = 0; v < 16; v++) {
		if (v == 4)
			continue;
		memcpy(p, udp_pkt, sizeof p);
		p[0] = (uint8_t)(v << 4 | 5);
		fix_ip_csum(p);         /* only the version is wrong */
		CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_VERSION);
	}
	/* An IPv6 header is not IPv4. */
	uint8_t v6[40] = { 0x60 };
	CU_ASSERT_EQUAL(wire_ip4_parse(v6, sizeof v6, &ip), WIRE_IP4_VERSION);
}

/* A 60-byte header (IHL 15) with options, inside a 100-byte packet. */
static void make_long_header(uint8_t *p, unsigned ihl, uint16_t total)
{
	memset(p, 0, 100);
	memcpy(p, udp_pkt, 20);
	p[0] = (uint8_t)(0x40 | ihl);
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	for (unsigned i = 20; i < ihl * 4 && i < 100; i++)
		p[i] = 1;               /* NOP options */
	if (ihl >= 5)
		fix_ip_csum(p);
}

static void test_ip4_bad_ihl(void)
{
	uint8_t p[100];
	struct wire_ip4 ip;
	/* IHL below 5. */
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		make_long_header(p, ihl, 100);
		CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_IHL);
	}
	/* Header longer than the data: every such length. */
	for (unsigned ihl = 6; ihl <= 15; ihl++) {
		for (size_t len = IP4_HLEN; len < ihl * 4; len++) {
			make_long_header(p, ihl, (uint16_t)len);
			uint8_t *q = exact(p, len);
			CU_ASSERT_EQUAL(wire_ip4_parse(q, len, &ip), WIRE_IP4_IHL);
			free(q);
		}
	}
}

static void test_ip4_bad_total_length(void)
{
	uint8_t p[100];
	struct wire_ip4 ip;
	/* Total length shorter than the header. */
	for (unsigned ihl = 5; ihl <= 15; ihl++) {
		for (unsigned total = 0; total < ihl * 4; total++) {
			make_long_header(p, ihl, (uint16_t)total);
			CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_LENGTH);
		}
		/* Exactly the header is fine. */
		make_long_header(p, ihl, (uint16_t)(ihl * 4));
		CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
		CU_ASSERT_EQUAL(ip.payload_len, 0);
	}
	/* Total length beyond what the link delivered. */
	const unsigned totals[] = { 101, 102, 1500, 65535 };
	for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
		make_long_header(p, 5, (uint16_t)totals[i]);
		CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_LENGTH);
	}
	make_long_header(p, 5, 100);
	CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
	CU_ASSERT_EQUAL(wire_ip4_parse(p, 99, &ip), WIRE_IP4_LENGTH);
}

static void test_ip4_bad_checksum(void)
{
	uint8_t p[sizeof udp_pkt];
	struct wire_ip4 ip;
	/* A single-bit error anywhere in the header is caught; outside the
	 * version, IHL and total length fields it is caught by the checksum. */
	for (int bit = 0; bit < 160; bit++) {
		memcpy(p, udp_pkt, sizeof p);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum wire_ip4_err e = wire_ip4_parse(p, sizeof p, &ip);
		CU_ASSERT_NOT_EQUAL(e, WIRE_IP4_OK);
		int byte = bit / 8;
		if (byte == 1 || byte >= 4)
			CU_ASSERT_EQUAL(e, WIRE_IP4_CHECKSUM);
	}
	/* The payload is not covered by the header checksum. */
	memcpy(p, udp_pkt, sizeof p);
	p[30] ^= 0xff;
	CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
}

/* Options are covered by the checksum and skipped to find the payload. */
static void test_ip4_options(void)
{
	uint8_t p[28] = {
		0x46, 0x00, 0x00, 0x1c, 0x00, 0x07, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
		10, 0, 0, 1, 10, 0, 0, 2,
		0x01, 0x01, 0x01, 0x00,                 /* NOP NOP NOP EOL */
		0xde, 0xad, 0xbe, 0xef,
	};
	fix_ip_csum(p);
	struct wire_ip4 ip;
	CU_ASSERT_EQUAL_FATAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
	CU_ASSERT_EQUAL(ip.hlen, 24);
	CU_ASSERT_PTR_EQUAL(ip.payload, p + 24);
	CU_ASSERT_EQUAL(ip.payload_len, 4);
	/* Checksum right for the first 20 bytes only: wrong. */
	p[22] = 0x07;
	CU_ASSERT_EQUAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_CHECKSUM);
}

static void test_ip4_fragment_fields(void)
{
	uint8_t p[60];
	struct wire_ip4 ip;
	memset(p, 0, sizeof p);
	memcpy(p, udp_pkt, 20);
	p[2] = 0;
	p[3] = 60;
	/* MF, offset 185 units = 1480 bytes: flags/offset word 0x20b9. */
	p[6] = 0x20;
	p[7] = 0xb9;
	fix_ip_csum(p);
	CU_ASSERT_EQUAL_FATAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
	CU_ASSERT_TRUE(ip.mf);
	CU_ASSERT_FALSE(ip.df);
	CU_ASSERT_EQUAL(ip.frag_off, 1480);
	/* DF with the largest offset, 0x1fff units = 65528 bytes. */
	p[6] = 0x5f;
	p[7] = 0xff;
	fix_ip_csum(p);
	CU_ASSERT_EQUAL_FATAL(wire_ip4_parse(p, sizeof p, &ip), WIRE_IP4_OK);
	CU_ASSERT_TRUE(ip.df);
	CU_ASSERT_FALSE(ip.mf);
	CU_ASSERT_EQUAL(ip.frag_off, 65528);
	/* The builder writes the same word. */
	struct wire_ip4_hdr h = { .total_len = 60, .mf = true, .frag_off = 1480, .ttl = 1 };
	wire_ip4_build(p, &h);
	CU_ASSERT_EQUAL(p[6], 0x20);
	CU_ASSERT_EQUAL(p[7], 0xb9);
}

static void test_ip4_str(void)
{
	char buf[20];
	memset(buf, 'X', sizeof buf);
	CU_ASSERT_STRING_EQUAL(wire_ip4_str(addr(192, 168, 0, 199), buf), "192.168.0.199");
	CU_ASSERT_STRING_EQUAL(wire_ip4_str(addr(0, 0, 0, 0), buf), "0.0.0.0");
	memset(buf, 'X', sizeof buf);
	CU_ASSERT_STRING_EQUAL(wire_ip4_str(addr(255, 255, 255, 255), buf), "255.255.255.255");
	CU_ASSERT_EQUAL(buf[16], 'X');          /* fits in 16 bytes */
}

/* ---- ICMP ------------------------------------------------------------ */

static void test_icmp_parse_vector(void)
{
	struct wire_icmp ic;
	const uint8_t *m = icmp_pkt + 20;
	CU_ASSERT_EQUAL_FATAL(wire_icmp_parse(m, 40, &ic), 0);
	CU_ASSERT_EQUAL(ic.type, ICMP_ECHO_REQUEST);
	CU_ASSERT_EQUAL(ic.code, 0);
	CU_ASSERT_EQUAL(ic.id, 0x1234);
	CU_ASSERT_EQUAL(ic.seq, 1);
	CU_ASSERT_EQUAL(ic.rest, 0x12340001u);
	CU_ASSERT_PTR_EQUAL(ic.data, m + 8);
	CU_ASSERT_EQUAL(ic.data_len, 32);

	CU_ASSERT_EQUAL_FATAL(wire_icmp_parse(icmp_odd, sizeof icmp_odd, &ic), 0);
	CU_ASSERT_EQUAL(ic.id, 0x0102);
	CU_ASSERT_EQUAL(ic.seq, 0x0304);
	CU_ASSERT_EQUAL(ic.data_len, 3);
}

static void test_icmp_build_vector(void)
{
	uint8_t p[48];
	memset(p, 0xa5, sizeof p);
	memcpy(p + 8, icmp_pkt + 28, 32);
	wire_icmp_build(p, ICMP_ECHO_REQUEST, 0, 0x12340001u, 32);
	CU_ASSERT_EQUAL(memcmp(p, icmp_pkt + 20, 40), 0);
	CU_ASSERT_EQUAL(p[40], 0xa5);

	memset(p, 0xa5, sizeof p);
	memcpy(p + 8, "xyz", 3);
	wire_icmp_build(p, ICMP_ECHO_REQUEST, 0, 0x01020304u, 3);
	CU_ASSERT_EQUAL(memcmp(p, icmp_odd, sizeof icmp_odd), 0);
	CU_ASSERT_EQUAL(p[11], 0xa5);           /* the odd byte's pad is not written */
}

static void test_icmp_roundtrip(void)
{
	static uint8_t p[8 + 200];
	for (int i = 0; i < 2000; i++) {
		uint8_t type = (uint8_t)rnd(), code = (uint8_t)rnd();
		uint32_t rest = rnd();
		size_t n = rnd() % 200;
		for (size_t k = 0; k < n; k++)
			p[8 + k] = (uint8_t)rnd();
		wire_icmp_build(p, type, code, rest, n);
		if (ref_sum(p, 8 + n) != 0xffff) {
			CU_FAIL("built ICMP does not verify with the reference sum");
			return;
		}
		struct wire_icmp ic;
		if (wire_icmp_parse(p, 8 + n, &ic) != 0 || ic.type != type || ic.code != code ||
		    ic.rest != rest || ic.id != rest >> 16 || ic.seq != (rest & 0xffff) ||
		    ic.data != p + 8 || ic.data_len != n) {
			CU_FAIL("ICMP round trip changed a field");
			return;
		}
	}
}

static void test_icmp_truncated_and_bad_checksum(void)
{
	struct wire_icmp ic;
	for (size_t len = 0; len < ICMP_HLEN; len++) {
		uint8_t *p = exact(icmp_pkt + 20, len);
		CU_ASSERT_EQUAL(wire_icmp_parse(p, len, &ic), -1);
		free(p);
	}
	uint8_t p[40];
	for (int bit = 0; bit < 40 * 8; bit++) {
		memcpy(p, icmp_pkt + 20, sizeof p);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CU_ASSERT_EQUAL(wire_icmp_parse(p, sizeof p, &ic), -2);
	}
	/* The checksum covers the whole message: one byte less fails. */
	CU_ASSERT_EQUAL(wire_icmp_parse(icmp_pkt + 20, 39, &ic), -2);
}

/* ---- UDP ------------------------------------------------------------- */

static const uint8_t *udp_msg = udp_pkt + 20;
#define UDP_MSG_LEN 13

static void test_udp_parse_vector(void)
{
	struct wire_udp u;
	CU_ASSERT_EQUAL_FATAL(wire_udp_parse(udp_msg, UDP_MSG_LEN, addr(10, 0, 0, 1),
					     addr(10, 0, 0, 2), &u), 0);
	CU_ASSERT_EQUAL(u.sport, 5000);
	CU_ASSERT_EQUAL(u.dport, 53);
	CU_ASSERT_EQUAL(u.len, 13);
	CU_ASSERT_EQUAL(u.csum, 0x9442);
	CU_ASSERT_PTR_EQUAL(u.payload, udp_msg + 8);
	CU_ASSERT_EQUAL(u.payload_len, 5);
	/* The pseudo-header matters: another address fails. */
	CU_ASSERT_EQUAL(wire_udp_parse(udp_msg, UDP_MSG_LEN, addr(10, 0, 0, 3), addr(10, 0, 0, 2),
				       &u), -2);
}

static void test_udp_build_vector(void)
{
	uint8_t p[16];
	memset(p, 0xa5, sizeof p);
	memcpy(p + 8, "hello", 5);
	wire_udp_build(p, 5000, 53, 5, addr(10, 0, 0, 1), addr(10, 0, 0, 2));
	CU_ASSERT_EQUAL(memcmp(p, udp_msg, UDP_MSG_LEN), 0);
	CU_ASSERT_EQUAL(p[13], 0xa5);
}

/* RFC 768: an all-zero checksum field means "none" and is accepted. */
static void test_udp_zero_checksum_accepted(void)
{
	uint8_t p[UDP_MSG_LEN];
	struct wire_udp u;
	memcpy(p, udp_msg, sizeof p);
	p[6] = p[7] = 0;
	CU_ASSERT_EQUAL(wire_udp_parse(p, sizeof p, addr(10, 0, 0, 1), addr(10, 0, 0, 2), &u), 0);
	CU_ASSERT_EQUAL(u.csum, 0);
	CU_ASSERT_EQUAL(u.payload_len, 5);
	/* Nothing is verified then, whatever the payload or addresses. */
	p[9] ^= 0xff;
	CU_ASSERT_EQUAL(wire_udp_parse(p, sizeof p, addr(1, 2, 3, 4), addr(5, 6, 7, 8), &u), 0);
}

/*
 * RFC 768: a computed checksum of zero is sent as all ones. 10.0.0.1:1 ->
 * 10.0.0.2:2 with the 2-byte payload eb d4, by hand: pseudo-header
 * 0a00+0001+0a00+0002+0011+000a = 0x141e, header 0001+0002+000a = 0x000d,
 * so 0x142b + 0xebd4 = 0xffff and the complement is 0 (scapy agrees: 0xffff).
 */
static void test_udp_computed_zero_sent_as_ffff(void)
{
	uint8_t p[10] = { [8] = 0xeb, [9] = 0xd4 };
	wire_udp_build(p, 1, 2, 2, addr(10, 0, 0, 1), addr(10, 0, 0, 2));
	CU_ASSERT_EQUAL(p[6], 0xff);
	CU_ASSERT_EQUAL(p[7], 0xff);
	struct wire_udp u;
	CU_ASSERT_EQUAL(wire_udp_parse(p, sizeof p, addr(10, 0, 0, 1), addr(10, 0, 0, 2), &u), 0);
	CU_ASSERT_EQUAL(u.csum, 0xffff);
}

static void test_udp_truncated(void)
{
	struct wire_udp u;
	for (size_t len = 0; len < UDP_HLEN; len++) {
		uint8_t *p = exact(udp_msg, len);
		CU_ASSERT_EQUAL(wire_udp_parse(p, len, addr(10, 0, 0, 1), addr(10, 0, 0, 2), &u), -1);
		free(p);
	}
	/* Cut inside the payload: the length field exceeds the data. */
	for (size_t len = UDP_HLEN; len < UDP_MSG_LEN; len++) {
		uint8_t *p = exact(udp_msg, len);
		CU_ASSERT_EQUAL(wire_udp_parse(p, len, addr(10, 0, 0, 1), addr(10, 0, 0, 2), &u), -1);
		free(p);
	}
}

static void test_udp_bad_length(void)
{
	uint8_t p[32];
	struct wire_udp u;
	uint32_t s = addr(10, 0, 0, 1), d = addr(10, 0, 0, 2);
	/* Length field below the header size (checksum off, so only length counts). */
	for (unsigned l = 0; l < UDP_HLEN; l++) {
		memcpy(p, udp_msg, UDP_MSG_LEN);
		p[4] = 0;
		p[5] = (uint8_t)l;
		p[6] = p[7] = 0;
		CU_ASSERT_EQUAL(wire_udp_parse(p, UDP_MSG_LEN, s, d, &u), -1);
	}
	/* Length field beyond the data. */
	const unsigned lens[] = { 14, 15, 32, 1500, 65535 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		memcpy(p, udp_msg, UDP_MSG_LEN);
		p[4] = (uint8_t)(lens[i] >> 8);
		p[5] = (uint8_t)lens[i];
		p[6] = p[7] = 0;
		CU_ASSERT_EQUAL(wire_udp_parse(p, UDP_MSG_LEN, s, d, &u), -1);
	}
	/* Data beyond the length field (IP padding): ignored, checksum included. */
	memset(p, 0x77, sizeof p);
	memcpy(p, udp_msg, UDP_MSG_LEN);
	CU_ASSERT_EQUAL(wire_udp_parse(p, sizeof p, s, d, &u), 0);
	CU_ASSERT_EQUAL(u.len, 13);
	CU_ASSERT_EQUAL(u.payload_len, 5);
	/* Exactly the header: an empty datagram. */
	uint8_t e[8];
	wire_udp_build(e, 7, 9, 0, s, d);
	CU_ASSERT_EQUAL(wire_udp_parse(e, sizeof e, s, d, &u), 0);
	CU_ASSERT_EQUAL(u.payload_len, 0);
}

static void test_udp_bad_checksum(void)
{
	uint8_t p[UDP_MSG_LEN];
	struct wire_udp u;
	uint32_t s = addr(10, 0, 0, 1), d = addr(10, 0, 0, 2);
	for (int bit = 0; bit < UDP_MSG_LEN * 8; bit++) {
		memcpy(p, udp_msg, sizeof p);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int r = wire_udp_parse(p, sizeof p, s, d, &u);
		if (bit / 8 == 4 || bit / 8 == 5) {
			CU_ASSERT_NOT_EQUAL(r, 0);      /* length field: -1 or -2 */
		} else {
			CU_ASSERT_EQUAL(r, -2);
		}
	}
}

static void test_udp_roundtrip(void)
{
	static uint8_t p[8 + 300];
	for (int i = 0; i < 2000; i++) {
		uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
		uint32_t s = rnd(), d = rnd();
		size_t n = rnd() % 300;
		for (size_t k = 0; k < n; k++)
			p[8 + k] = (uint8_t)rnd();
		wire_udp_build(p, sp, dp, n, s, d);
		/* Independent check: pseudo-header + datagram sums to all ones. */
		uint8_t ph[12];
		memcpy(ph, &s, 4);
		memcpy(ph + 4, &d, 4);
		ph[8] = 0;
		ph[9] = IP_PROTO_UDP;
		ph[10] = (uint8_t)((8 + n) >> 8);
		ph[11] = (uint8_t)(8 + n);
		uint32_t sum = (uint32_t)ref_sum(ph, 12) + ref_sum(p, 8 + n);
		sum = (sum & 0xffff) + (sum >> 16);
		struct wire_udp u;
		if (sum != 0xffff || (p[6] == 0 && p[7] == 0)) {
			CU_FAIL("built UDP checksum wrong");
			return;
		}
		if (wire_udp_parse(p, 8 + n, s, d, &u) != 0 || u.sport != sp || u.dport != dp ||
		    u.len != 8 + n || u.payload != p + 8 || u.payload_len != n) {
			CU_FAIL("UDP round trip changed a field");
			return;
		}
	}
}

/* ---- describe -------------------------------------------------------- */

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

/* Ethernet header + the given packet, padded to 60 bytes; returns length. */
static size_t frame(uint8_t *f, const uint8_t *dst, uint16_t type, const uint8_t *pkt,
		    size_t n)
{
	memset(f, 0, 60);
	wire_eth_build(f, dst, mac_a, type);
	memcpy(f + 14, pkt, n);
	return 14 + n < 60 ? 60 : 14 + n;
}

static size_t arp_frame(uint8_t *f, uint16_t op)
{
	struct wire_arp a = { .op = op };
	memcpy(a.sha, op == ARP_OP_REQUEST ? mac_a : mac_b, 6);
	if (op == ARP_OP_REPLY)
		memcpy(a.tha, mac_a, 6);
	a.spa = op == ARP_OP_REQUEST ? addr(10, 0, 0, 1) : addr(10, 0, 0, 2);
	a.tpa = op == ARP_OP_REQUEST ? addr(10, 0, 0, 2) : addr(10, 0, 0, 1);
	uint8_t p[ARP_LEN];
	wire_arp_build(p, &a);
	return frame(f, op == ARP_OP_REQUEST ? wire_eth_broadcast : mac_b, ETH_TYPE_ARP, p,
		     sizeof p);
}

static void describe(const uint8_t *f, size_t len, char *out)
{
	wire_describe(f, len, out, 512);
}

static void test_describe_arp(void)
{
	uint8_t f[64];
	char s[512];
	size_t n = arp_frame(f, ARP_OP_REQUEST);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, "
				  "ARP, Request who-has 10.0.0.2 tell 10.0.0.1");
	n = arp_frame(f, ARP_OP_REPLY);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02");
	/* An ARP frame cut short. */
	describe(f, 14 + 10, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, ARP malformed, length 10");
}

static void test_describe_icmp_echo(void)
{
	uint8_t f[80];
	char s[512];
	size_t n = frame(f, mac_b, ETH_TYPE_IPV4, icmp_pkt, sizeof icmp_pkt);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, "
				  "length 40");
	/* First fragment (MF, offset 0) of the same echo. */
	f[14 + 6] = 0x20;
	fix_ip_csum(f + 14);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, "
				  "length 40 (frag id 1 off 0 +)");
	/* A later fragment (offset 1480): no ICMP header to show. */
	f[14 + 6] = 0x00;
	f[14 + 7] = 0xb9;
	fix_ip_csum(f + 14);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1 > 10.0.0.2: proto 1, length 40 (frag id 1 off 1480)");
}

/* An IPv4 packet around the given TCP header + payload, in an Ethernet frame. */
static size_t tcp_frame(uint8_t *f, const uint8_t *seg, size_t n)
{
	uint8_t p[200];
	struct wire_ip4_hdr h = { .total_len = (uint16_t)(20 + n), .id = 7, .ttl = 64,
				  .proto = IP_PROTO_TCP, .src = addr(10, 0, 0, 1),
				  .dst = addr(10, 0, 0, 2) };
	wire_ip4_build(p, &h);
	memcpy(p + 20, seg, n);
	return frame(f, mac_b, ETH_TYPE_IPV4, p, 20 + n);
}

/* TCP as `tcpdump -n -S` prints it (print-tcp.c's words and order). */
static void test_describe_tcp(void)
{
	uint8_t f[200];
	char s[512];
	/* SYN from port 40000 to 80, seq 1000, win 64240, options as Linux lays
	 * them out: mss 1460, sackOK, TS val 5 ecr 0, nop, wscale 7. */
	static const uint8_t syn[40] = {
		0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0, 0, 0, 0,
		0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
		2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 1, 3, 3, 7,
	};
	size_t n = tcp_frame(f, syn, sizeof syn);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, "
				  "options [mss 1460,sackOK,TS val 5 ecr 0,nop,wscale 7], length 0");
	/* PSH+ACK with 5 bytes: seq A:B, ack, nop,nop,TS; then FIN+ACK; a bare
	 * ACK shows no seq; RST alone shows its seq and no ack. */
	uint8_t seg[37] = {
		0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x03, 0xe9,
		0x80, 0x18, 0x01, 0xf6, 0, 0, 0, 0,
		1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o',
	};
	n = tcp_frame(f, seg, sizeof seg);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [P.], seq 100:105, ack 1001, "
				  "win 502, options [nop,nop,TS val 9 ecr 5], length 5");
	seg[13] = 0x11;
	n = tcp_frame(f, seg, 32);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [F.], seq 100, ack 1001, "
				  "win 502, options [nop,nop,TS val 9 ecr 5], length 0");
	seg[13] = 0x10;
	n = tcp_frame(f, seg, 32);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [.], ack 1001, win 502, "
				  "options [nop,nop,TS val 9 ecr 5], length 0");
	seg[12] = 0x50;
	seg[13] = 0x04;
	seg[14] = seg[15] = 0;
	n = tcp_frame(f, seg, 20);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [R], seq 100, win 0, "
				  "length 0");
	/* A SACK block list, and an option whose length runs past the header. */
	uint8_t sk[32] = {
		0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x03, 0xe9,
		0x80, 0x10, 0x01, 0xf6, 0, 0, 0, 0,
		1, 1, 5, 10, 0, 0, 0x07, 0xd0, 0, 0, 0x0b, 0xb8,
	};
	n = tcp_frame(f, sk, sizeof sk);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [.], ack 1001, win 502, "
				  "options [nop,nop,sack 1 {2000:3000}], length 0");
	sk[23] = 40;
	n = tcp_frame(f, sk, sizeof sk);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [.], ack 1001, win 502, "
				  "options [nop,nop,bad opt], length 0");
}

static void test_describe_other(void)
{
	uint8_t f[80];
	char s[512];
	size_t n = frame(f, mac_b, ETH_TYPE_IPV4, udp_pkt, sizeof udp_pkt);
	describe(f, n, s);
	/* The length shown is the UDP payload's (the UDP length field less 8). */
	char udp[160];
	snprintf(udp, sizeof udp, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
		 "IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length %d",
		 (udp_pkt[24] << 8 | udp_pkt[25]) - 8);
	CU_ASSERT_STRING_EQUAL(s, udp);
	/* Header checksum broken: error 5 (WIRE_IP4_CHECKSUM), IP length 46. */
	f[14 + 8] ^= 1;
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "IP malformed (error 5), length 46");
	/* Not ARP or IPv4. */
	n = frame(f, mac_b, 0x86dd, udp_pkt, sizeof udp_pkt);
	describe(f, n, s);
	CU_ASSERT_STRING_EQUAL(s, "02:00:00:00:00:01 > 02:00:00:00:00:02, "
				  "ethertype 0x86dd, length 60");
	describe(f, 13, s);
	CU_ASSERT_STRING_EQUAL(s, "truncated frame, length 13");
	describe(f, 0, s);
	CU_ASSERT_STRING_EQUAL(s, "truncated frame, length 0");
}

/* The frames the overflow test describes, each also cut at every length. */
static size_t describe_frames(uint8_t f[][200], size_t *len)
{
	size_t k = 0;
	len[k] = arp_frame(f[k], ARP_OP_REQUEST), k++;
	len[k] = arp_frame(f[k], ARP_OP_REPLY), k++;
	len[k] = frame(f[k], mac_b, ETH_TYPE_IPV4, icmp_pkt, sizeof icmp_pkt), k++;
	len[k] = frame(f[k], mac_b, ETH_TYPE_IPV4, udp_pkt, sizeof udp_pkt), k++;
	len[k] = frame(f[k], mac_b, 0x88b5, udp_pkt, sizeof udp_pkt), k++;
	/* Widest fields: 255.255.255.255, ports 65535, fragment id/offset at
	 * their largest, for ICMP (each type), UDP, TCP and another protocol. */
	const uint8_t protos[] = { IP_PROTO_ICMP, IP_PROTO_ICMP, IP_PROTO_ICMP, IP_PROTO_ICMP,
				   IP_PROTO_ICMP, IP_PROTO_UDP, IP_PROTO_TCP, 47 };
	const uint8_t icmp_types[] = { 0, 3, 11, 255, 8 };
	for (size_t i = 0; i < sizeof protos; i++) {
		uint8_t p[120];
		memset(p, 0xff, sizeof p);
		struct wire_ip4_hdr h = {
			.total_len = sizeof p, .id = 0xffff, .mf = true, .ttl = 255,
			.proto = protos[i], .src = 0xffffffffu, .dst = 0xffffffffu,
		};
		wire_ip4_build(p, &h);
		if (i < 5)
			p[20] = icmp_types[i];
		len[k] = frame(f[k], wire_eth_broadcast, ETH_TYPE_IPV4, p, sizeof p);
		k++;
		h.frag_off = 0x1fff * 8;
		wire_ip4_build(p, &h);
		len[k] = frame(f[k], wire_eth_broadcast, ETH_TYPE_IPV4, p, sizeof p);
		k++;
	}
	return k;
}

/* wire_describe never writes past cap, always terminates, and a short
 * buffer holds a prefix of the full description. */
static void test_describe_never_overflows(void)
{
	static uint8_t f[32][200];
	size_t len[32];
	size_t nf = describe_frames(f, len);
	CU_ASSERT_FATAL(nf <= 32);
	char full[512], out[400];
	for (size_t i = 0; i < nf; i++) {
		for (size_t l = 0; l <= len[i]; l++) {
			uint8_t *p = exact(f[i], l);
			memset(full, 0, sizeof full);
			wire_describe(p, l, full, sizeof full);
			size_t flen = strlen(full);
			if (flen == 0 || flen >= 300) {
				CU_FAIL("unexpected full description length");
				free(p);
				return;
			}
			/* cap 0: nothing written. */
			memset(out, 0x7e, sizeof out);
			wire_describe(p, l, out, 0);
			if (out[0] != 0x7e) {
				CU_FAIL("wrote into a zero-sized buffer");
				free(p);
				return;
			}
			for (size_t cap = 1; cap <= 300; cap++) {
				memset(out, 0x7e, sizeof out);
				wire_describe(p, l, out, cap);
				size_t want = flen < cap - 1 ? flen : cap - 1;
				int ok = memchr(out, 0, cap) != NULL && strlen(out) == want &&
					 memcmp(out, full, want) == 0;
				for (size_t k = cap; k < sizeof out && ok; k++)
					ok = out[k] == 0x7e;
				if (!ok) {
					fprintf(stderr, "\n  frame %zu len %zu cap %zu: \"%s\"\n", i, l,
						cap, full);
					CU_FAIL("describe overflowed or truncated wrongly");
					free(p);
					return;
				}
			}
			/* An exact-size heap buffer, for sanitizer builds. */
			char *h = malloc(flen);
			if (flen > 1) {
				wire_describe(p, l, h, flen);
				CU_ASSERT_EQUAL(strlen(h), flen - 1);
			}
			free(h);
			free(p);
		}
	}
}

US_SUITE(wire_ipv4, NULL, NULL,
	 US_TEST(test_ip4_parse_vector),
	 US_TEST(test_ip4_build_vector),
	 US_TEST(test_ip4_roundtrip),
	 US_TEST(test_ip4_link_padding),
	 US_TEST(test_ip4_parse_truncated),
	 US_TEST(test_ip4_wrong_version),
	 US_TEST(test_ip4_bad_ihl),
	 US_TEST(test_ip4_bad_total_length),
	 US_TEST(test_ip4_bad_checksum),
	 US_TEST(test_ip4_options),
	 US_TEST(test_ip4_fragment_fields),
	 US_TEST(test_ip4_str),
	 US_TEST(test_icmp_parse_vector),
	 US_TEST(test_icmp_build_vector),
	 US_TEST(test_icmp_roundtrip),
	 US_TEST(test_icmp_truncated_and_bad_checksum),
	 US_TEST(test_udp_parse_vector),
	 US_TEST(test_udp_build_vector),
	 US_TEST(test_udp_zero_checksum_accepted),
	 US_TEST(test_udp_computed_zero_sent_as_ffff),
	 US_TEST(test_udp_truncated),
	 US_TEST(test_udp_bad_length),
	 US_TEST(test_udp_bad_checksum),
	 US_TEST(test_udp_roundtrip),
	 US_TEST(test_describe_arp),
	 US_TEST(test_describe_icmp_echo),
	 US_TEST(test_describe_tcp),
	 US_TEST(test_describe_other),
	 US_TEST(test_describe_never_overflows));
