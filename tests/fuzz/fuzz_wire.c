/*
 * fuzz_wire.c — libFuzzer harness for the pure wire layer (core/wire).
 *
 * Every input is fed, as it stands, to each parser (wire_eth_parse,
 * wire_arp_parse, wire_ip4_parse, wire_icmp_parse, wire_udp_parse) and to
 * wire_describe; and, treated as an Ethernet frame, down the same path the
 * stack takes: Ethernet, then ARP or IPv4, then ICMP or UDP on the IPv4
 * payload. libFuzzer hands over a heap block of exactly the input's size,
 * so AddressSanitizer reports any read past the end.
 *
 * Beyond "no crash", what a parser accepts is checked against its
 * contract, and abort()s when broken:
 *   - every pointer and length it returns lies inside the input;
 *   - IPv4: hlen in 20..60 and <= total_len <= len; an accepted header
 *     without options rebuilds to the same bytes (bar the reserved flag
 *     bit and the checksum's two encodings of zero);
 *   - ARP: an accepted packet rebuilds to the same 28 bytes;
 *   - Ethernet: an accepted header rebuilds to the same 14 bytes;
 *   - ICMP/UDP: an accepted message rebuilds with an equivalent checksum;
 *   - RFC 1624: changing any word of an accepted IPv4 header, the
 *     incremental checksum verifies and matches recomputation;
 *   - wire_describe: output NUL-terminated inside cap for caps 0..300,
 *     never a byte past it, and a prefix of the full description.
 *
 * Built by tests/fuzz/build.sh; seeds in tests/fuzz/corpus_wire/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_wire: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* [p, p+n) lies within [base, base+len). */
static int inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

/* Two checksum fields are equivalent: equal, or 0x0000 and 0xffff (both
 * encode zero in one's complement). */
static int same_csum(const uint8_t *a, const uint8_t *b)
{
	if (a[0] == b[0] && a[1] == b[1])
		return 1;
	int az = a[0] == 0 && a[1] == 0, af = a[0] == 0xff && a[1] == 0xff;
	int bz = b[0] == 0 && b[1] == 0, bf = b[0] == 0xff && b[1] == 0xff;
	return (az && bf) || (af && bz);
}

static void check_arp(const uint8_t *p, size_t len)
{
	struct wire_arp a;
	if (wire_arp_parse(p, len, &a) != 0)
		return;
	CHECK(len >= ARP_LEN);
	CHECK(a.op == ARP_OP_REQUEST || a.op == ARP_OP_REPLY);
	uint8_t r[ARP_LEN];
	wire_arp_build(r, &a);
	CHECK(memcmp(r, p, ARP_LEN) == 0);
}

static void check_icmp(const uint8_t *p, size_t len)
{
	struct wire_icmp ic;
	if (wire_icmp_parse(p, len, &ic) != 0)
		return;
	CHECK(len >= ICMP_HLEN);
	CHECK(ic.data == p + ICMP_HLEN && ic.data_len == len - ICMP_HLEN);
	CHECK(ic.id == ic.rest >> 16 && ic.seq == (ic.rest & 0xffff));
	uint8_t *r = malloc(len);
	CHECK(r != NULL);
	memcpy(r, p, len);
	wire_icmp_build(r, ic.type, ic.code, ic.rest, ic.data_len);
	CHECK(memcmp(r, p, 2) == 0 && memcmp(r + 4, p + 4, len - 4) == 0);
	CHECK(same_csum(r + 2, p + 2));
	free(r);
}

static void check_udp(const uint8_t *p, size_t len, uint32_t src, uint32_t dst)
{
	struct wire_udp u;
	/* The offload variant takes any checksum; bounds as the full parse's. */
	if (wire_udp_parse_nocsum(p, len, &u) == 0)
		CHECK(u.len >= UDP_HLEN && u.len <= len && inside(p, len, u.payload, u.payload_len));
	if (wire_udp_parse(p, len, src, dst, &u) != 0)
		return;
	CHECK(u.len >= UDP_HLEN && u.len <= len);
	CHECK(u.payload == p + UDP_HLEN && u.payload_len == (size_t)u.len - UDP_HLEN);
	CHECK(inside(p, len, u.payload, u.payload_len));
	if (u.csum == 0)
		return;         /* no checksum: nothing to rebuild against */
	uint8_t *r = malloc(u.len);
	CHECK(r != NULL);
	memcpy(r, p, u.len);
	wire_udp_build(r, u.sport, u.dport, u.payload_len, src, dst);
	/* The pseudo-header holds protocol 17, so the sum is never all-zero
	 * data and the builder's value is the one valid non-zero encoding. */
	CHECK(memcmp(r, p, u.len) == 0);
	free(r);
}

/*
 * RFC 1624 eqn. 3 on a header that verifies: changing any one 16-bit word
 * (not the checksum) incrementally gives a checksum that verifies and is the
 * recomputed one, up to the two encodings of zero (a received 0xffff where
 * 0x0000 is canonical carries through the update).
 */
static void check_update16(const uint8_t *p, size_t hlen, uint16_t mix)
{
	uint8_t h[60];
	for (size_t w = 0; w < hlen / 2; w++) {
		if (w == 5)
			continue;
		memcpy(h, p, hlen);
		uint16_t oldw, neww, csum;
		memcpy(&oldw, h + 2 * w, 2);
		neww = (uint16_t)(oldw ^ (mix | 1) ^ (uint16_t)(w * 0x0101));
		memcpy(&csum, h + 10, 2);
		uint16_t inc = wire_csum_update16(csum, oldw, neww);
		memcpy(h + 2 * w, &neww, 2);
		h[10] = h[11] = 0;
		uint16_t full = wire_csum(h, hlen);
		CHECK(same_csum((const uint8_t *)&inc, (const uint8_t *)&full));
		memcpy(h + 10, &inc, 2);
		CHECK(wire_csum(h, hlen) == 0);
	}
}

static void check_ip4(const uint8_t *p, size_t len)
{
	struct wire_ip4 ip;
	if (wire_ip4_parse(p, len, &ip) != WIRE_IP4_OK)
		return;
	CHECK(ip.hdr == p);
	CHECK(ip.hlen >= IP4_HLEN && ip.hlen <= 60 && ip.hlen % 4 == 0);
	CHECK(ip.hlen <= ip.total_len && ip.total_len <= len);
	CHECK(ip.payload == p + ip.hlen && ip.payload_len == ip.total_len - ip.hlen);
	CHECK(inside(p, len, ip.payload, ip.payload_len));
	CHECK(ip.frag_off % 8 == 0);
	CHECK(wire_csum(p, ip.hlen) == 0);
	if (ip.hlen == IP4_HLEN) {
		struct wire_ip4_hdr h = {
			.tos = ip.tos, .total_len = ip.total_len, .id = ip.id, .df = ip.df,
			.mf = ip.mf, .frag_off = ip.frag_off, .ttl = ip.ttl, .proto = ip.proto,
			.src = ip.src, .dst = ip.dst,
		};
		uint8_t r[IP4_HLEN];
		wire_ip4_build(r, &h);
		CHECK(memcmp(r, p, 6) == 0);
		CHECK(r[6] == (p[6] & 0x7f) && r[7] == p[7]);   /* reserved bit dropped */
		CHECK(memcmp(r + 8, p + 8, 2) == 0 && memcmp(r + 12, p + 12, 8) == 0);
		if ((p[6] & 0x80) == 0)
			CHECK(same_csum(r + 10, p + 10));
	}
	check_update16(p, ip.hlen, ip.id);
	/* Down the stack's path: ICMP or UDP on the payload. */
	if (ip.proto == IP_PROTO_ICMP)
		check_icmp(ip.payload, ip.payload_len);
	else if (ip.proto == IP_PROTO_UDP)
		check_udp(ip.payload, ip.payload_len, ip.src, ip.dst);
}

static void check_describe(const uint8_t *p, size_t len)
{
	char full[512], out[4];
	memset(full, 0, sizeof full);
	wire_describe(p, len, full, sizeof full);
	size_t flen = strlen(full);
	CHECK(flen > 0 && flen < 300);
	memset(out, 0x7e, sizeof out);
	wire_describe(p, len, out, 0);
	CHECK((unsigned char)out[0] == 0x7e);
	/* Every cap would be slow per input: a spread of them, plus the
	 * boundaries around the full length. */
	size_t caps[] = { 1, 2, 3, 17, 18, 19, 39, 40, 41, 64, 100, 128, 300,
			  flen, flen + 1, flen + 2 };
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		size_t cap = caps[i];
		/* An exact-size heap block: ASan sees one byte too many. */
		char *h = malloc(cap);
		CHECK(h != NULL);
		wire_describe(p, len, h, cap);
		size_t want = flen < cap - 1 ? flen : cap - 1;
		CHECK(memchr(h, 0, cap) != NULL);
		CHECK(strlen(h) == want && memcmp(h, full, want) == 0);
		free(h);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_eth e;

	/* Each parser on the raw bytes. */
	if (wire_eth_parse(data, size, &e) == 0) {
		CHECK(size >= ETH_HLEN);
		CHECK(e.dst == data && e.src == data + 6);
		CHECK(e.payload == data + ETH_HLEN && e.payload_len == size - ETH_HLEN);
		uint8_t r[ETH_HLEN];
		wire_eth_build(r, e.dst, e.src, e.type);
		CHECK(memcmp(r, data, ETH_HLEN) == 0);
	} else {
		CHECK(size < ETH_HLEN);
	}
	check_arp(data, size);
	check_ip4(data, size);
	check_icmp(data, size);
	if (size >= 8) {
		uint32_t src, dst;      /* pseudo-header addresses from the input's end */
		memcpy(&src, data + size - 8, 4);
		memcpy(&dst, data + size - 4, 4);
		check_udp(data, size, src, dst);
	}
	check_describe(data, size);

	/* As a frame, along the stack's path. */
	if (wire_eth_parse(data, size, &e) == 0) {
		if (e.type == ETH_TYPE_ARP)
			check_arp(e.payload, e.payload_len);
		else if (e.type == ETH_TYPE_IPV4)
			check_ip4(e.payload, e.payload_len);
	}
	return 0;
}
