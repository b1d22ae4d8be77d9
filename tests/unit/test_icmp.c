/*
 * test_icmp.c — ICMP (core/icmp.c): echo, errors and their rules, the
 * rate limit, and what the ping endpoints receive.
 *
 * Expected values come from RFC 792 (message layouts; an error quotes the
 * offending header and at least its first 64 bits of data), RFC 1122
 * 3.2.2 (never an error about an ICMP error, a broadcast or multicast, a
 * non-first fragment, or a datagram whose source is not one host), 3.2.2.1
 * and 4.1.3.1 (protocol and port unreachable), 3.2.2.6 (echo replies
 * carry the request's identifier, sequence number and data), RFC 1812
 * 4.3.2.3 (quote as much as fits in 576 bytes) and core/icmp.h (token
 * bucket: US_ICMP_RATE_BURST errors at once, US_ICMP_RATE_PER_SEC after).
 *
 * The stack has a static ARP entry for the peer, so answers go straight out.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

#define SEC US_NS_PER_SEC

static const struct tu_opts statik = { .static_peer = true };

/* The ICMP message in a frame the stack sent, with its IP header checked. */
static const uint8_t *icmp_of(const struct tu_frame *f, struct tu_ipv *ip)
{
	if (!tu_parse_ip(f->data, f->len, ip) || ip->proto != 1 || ip->plen < 8)
		return NULL;
	return ip->payload;
}

static int count_icmp(const struct tu_frames *l, uint8_t type, uint8_t code)
{
	int n = 0;
	struct tu_ipv ip;
	for (int i = 0; i < l->n; i++) {
		const uint8_t *m = icmp_of(&l->f[i], &ip);
		if (m && m[0] == type && m[1] == code)
			n++;
	}
	return n;
}

/* A UDP datagram from the peer to dst:port as a whole frame. */
static size_t udp_frame(uint8_t *f, uint32_t dst, uint16_t sport, uint16_t dport,
			const uint8_t *data, size_t len)
{
	static uint8_t u[9000];
	size_t n = tu_udp(u, TU_PEER_IP, dst, sport, dport, data, len);
	struct tu_iph h = tu_iph_peer(17);
	h.dst = dst;
	n = tu_ip_frame(f, &h, u, n);
	if (dst == TU_BCAST_IP || dst == 0xffffffffu)
		memcpy(f, tu_bcast_mac, 6);
	return n;
}

static void test_icmp_echo_reply_fields(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	static uint8_t f[2000], m[1600];
	static const size_t lens[] = { 56, 57, 0, 1 };
	for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
		uint8_t data[64];
		size_t len = lens[c];
		tu_pattern(data, len, (unsigned)c);
		uint16_t id = (uint16_t)(0x1234 + c), seq = (uint16_t)(0x0102 + c);
		size_t n = tu_icmp_echo(m, 8, id, seq, data, len);
		struct tu_iph h = tu_iph_peer(1);
		tu_frames_clear(&out);
		tu_inject(&t, f, tu_ip_frame(f, &h, m, n));
		tu_collect(&t, &out);
		CU_ASSERT_EQUAL_FATAL(out.n, 1);
		const struct tu_frame *r = &out.f[0];
		struct tu_ipv ip;
		const uint8_t *e = icmp_of(r, &ip);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT(memcmp(r->data, tu_peer_mac, 6) == 0);
		CU_ASSERT(memcmp(r->data + 6, tu_stack_mac, 6) == 0);
		CU_ASSERT_EQUAL(ip.ihl, 5);
		CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);     /* addresses swapped */
		CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
		CU_ASSERT_EQUAL(ip.ttl, US_IP_DEFAULT_TTL);
		CU_ASSERT_EQUAL(ip.frag_off, 0);
		CU_ASSERT_FALSE(ip.mf);
		CU_ASSERT_EQUAL(ip.total_len, 20 + 8 + len);
		CU_ASSERT_EQUAL(ip.plen, 8 + len);
		CU_ASSERT_EQUAL(e[0], 0);
		CU_ASSERT_EQUAL(e[1], 0);
		CU_ASSERT_EQUAL(tu_get16(e + 4), id);
		CU_ASSERT_EQUAL(tu_get16(e + 6), seq);
		CU_ASSERT(memcmp(e + 8, data, len) == 0);
		CU_ASSERT_EQUAL(tu_csum(e, ip.plen), 0);
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RX_ECHO_REQ), 4);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX_ECHO_REP), 4);
	tu_frames_free(&out);
	tu_close(&t);
}

/* Echo replies are not errors: no rate limit on them. */
static void test_icmp_echo_burst_not_limited(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	uint8_t f[128], m[64];
	for (int i = 0; i < 100; i++) {
		size_t n = tu_icmp_echo(m, 8, 7, (uint16_t)i, "ping", 4);
		struct tu_iph h = tu_iph_peer(1);
		tu_inject(&t, f, tu_ip_frame(f, &h, m, n));
	}
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_icmp(&out, 0, 0), 100);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RATELIMITED), 0);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_icmp_echo_broadcast_ignored(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	uint8_t f[128], m[64];
	for (int i = 0; i < 2; i++) {
		size_t n = tu_icmp_echo(m, 8, 9, (uint16_t)i, "bcast", 5);
		struct tu_iph h = tu_iph_peer(1);
		h.dst = i == 0 ? TU_BCAST_IP : 0xffffffffu;
		n = tu_ip_frame(f, &h, m, n);
		memcpy(f, tu_bcast_mac, 6);
		tu_inject(&t, f, n);
	}
	CU_ASSERT_EQUAL(tu_run(&t, SEC, NULL), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RX_ECHO_REQ), 2);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX_ECHO_REP), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX), 0);
	tu_close(&t);
}

static void test_icmp_malformed(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	uint8_t f[128], m[64];
	size_t n = tu_icmp_echo(m, 8, 1, 1, "abcdef", 6);
	m[9] ^= 0x40;                                /* data changed after the checksum */
	struct tu_iph h = tu_iph_peer(1);
	tu_inject(&t, f, tu_ip_frame(f, &h, m, n));
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_DROP_CHECKSUM), 1);
	tu_inject(&t, f, tu_ip_frame(f, &h, m, 7)); /* shorter than the ICMP header */
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_DROP_SHORT), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RX_ECHO_REQ), 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_close(&t);
}

/* Check an unreachable message about orig (IP header + payload, olen bytes). */
static void check_unreach(const struct tu_frame *r, uint8_t code, const uint8_t *orig,
			  size_t olen, bool whole)
{
	struct tu_ipv ip;
	const uint8_t *e = icmp_of(r, &ip);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(memcmp(r->data, tu_peer_mac, 6) == 0);
	CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
	CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
	CU_ASSERT(ip.total_len <= 576);
	CU_ASSERT_EQUAL(e[0], 3);
	CU_ASSERT_EQUAL(e[1], code);
	CU_ASSERT_EQUAL(e[4] | e[5] | e[6] | e[7], 0);     /* unused, zero */
	CU_ASSERT_EQUAL(tu_csum(e, ip.plen), 0);
	size_t qlen = ip.plen - 8;
	size_t ohl = (size_t)(orig[0] & 0x0f) * 4;
	CU_ASSERT(qlen >= ohl + 8);                         /* RFC 792: header + 64 bits */
	CU_ASSERT(qlen <= olen);
	if (whole) {
		CU_ASSERT_EQUAL(qlen, olen);
	} else {
		CU_ASSERT_EQUAL(ip.total_len, 576);        /* as much as fits */
	}
	CU_ASSERT(memcmp(e + 8, orig, qlen < olen ? qlen : olen) == 0);
}

static void test_icmp_port_unreachable(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	static uint8_t f[2000], data[1400];
	tu_pattern(data, sizeof data, 5);

	/* Small: quoted whole. */
	size_t n = udp_frame(f, TU_STACK_IP, 40000, 9, data, 10);
	tu_inject(&t, f, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_unreach(&out.f[0], 3, f + TU_ETH_HLEN, n - TU_ETH_HLEN, true);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_NO_PORT), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX_UNREACH), 1);

	/* Large: quoted up to a 576-byte datagram. */
	tu_frames_clear(&out);
	n = udp_frame(f, TU_STACK_IP, 40001, 7, data, sizeof data);
	tu_inject(&t, f, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_unreach(&out.f[0], 3, f + TU_ETH_HLEN, n - TU_ETH_HLEN, false);

	/* A zero UDP checksum means "none" (RFC 768): still a closed port. */
	tu_frames_clear(&out);
	n = udp_frame(f, TU_STACK_IP, 40002, 7, data, 20);
	f[TU_ETH_HLEN + 20 + 6] = f[TU_ETH_HLEN + 20 + 7] = 0;
	tu_inject(&t, f, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_icmp(&out, 3, 3), 1);

	/* A bad checksum is dropped silently. */
	n = udp_frame(f, TU_STACK_IP, 40003, 7, data, 20);
	f[TU_ETH_HLEN + 20 + 8] ^= 1;
	tu_inject(&t, f, n);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_DROP_CHECKSUM), 1);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	/* So is a UDP length beyond the datagram. */
	n = udp_frame(f, TU_STACK_IP, 40004, 7, data, 20);
	tu_put16(f + TU_ETH_HLEN + 20 + 4, 29 + 20);
	tu_inject(&t, f, n);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_DROP_SHORT), 1);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_NO_PORT), 3);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_icmp_protocol_unreachable(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	uint8_t f[256], data[50];
	tu_pattern(data, sizeof data, 6);
	struct tu_iph h = tu_iph_peer(253);       /* RFC 3692 experimental */
	size_t n = tu_ip_frame(f, &h, data, sizeof data);
	tu_inject(&t, f, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_DROP_PROTO), 1);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_unreach(&out.f[0], 2, f + TU_ETH_HLEN, n - TU_ETH_HLEN, true);
	/* Sent to the broadcast address: no error. */
	h.dst = TU_BCAST_IP;
	n = tu_ip_frame(f, &h, data, sizeof data);
	memcpy(f, tu_bcast_mac, 6);
	tu_inject(&t, f, n);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_DROP_PROTO), 2);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_frames_free(&out);
	tu_close(&t);
}

/* RFC 1122 3.2.2: no error about a broadcast, or about a source that is not one host. */
static void test_icmp_no_error_about_broadcast(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	uint8_t f[256];
	tu_inject(&t, f, udp_frame(f, TU_BCAST_IP, 1000, 9, (const uint8_t *)"x", 1));
	tu_inject(&t, f, udp_frame(f, 0xffffffffu, 1000, 9, (const uint8_t *)"x", 1));
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_NO_PORT), 2);
	/* Source 0.0.0.0 (RFC 1122 3.2.1.3: "this host", only while booting). */
	static uint8_t u[64];
	size_t ul = tu_udp(u, 0, TU_STACK_IP, 1000, 9, "x", 1);
	struct tu_iph h = tu_iph_peer(17);
	h.src = 0;
	tu_inject(&t, f, tu_ip_frame(f, &h, u, ul));
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_NO_PORT), 3);
	CU_ASSERT_EQUAL(tu_run(&t, SEC, NULL), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX), 0);
	tu_close(&t);
}

/* RFC 1122 3.2.2: nor about a datagram that came as a link-layer broadcast. */
static void test_icmp_no_error_about_link_broadcast(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	uint8_t f[256];
	size_t n = udp_frame(f, TU_STACK_IP, 1000, 9, (const uint8_t *)"x", 1);
	memcpy(f, tu_bcast_mac, 6);
	tu_inject(&t, f, n);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_NO_PORT), 1);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	uint8_t d[8] = { 0 };
	struct tu_iph h = tu_iph_peer(253);
	n = tu_ip_frame(f, &h, d, sizeof d);
	memcpy(f, tu_bcast_mac, 6);
	tu_inject(&t, f, n);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_DROP_PROTO), 1);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX), 0);
	/* Not an error: an echo request to our address is answered however it came. */
	uint8_t m[16];
	n = tu_icmp_echo(m, 8, 3, 3, "e", 1);
	h = tu_iph_peer(1);
	n = tu_ip_frame(f, &h, m, n);
	memcpy(f, tu_bcast_mac, 6);
	tu_inject(&t, f, n);
	struct tu_frames out = { 0 };
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_icmp(&out, 0, 0), 1);
	tu_frames_free(&out);
	tu_close(&t);
}

/* Ask for an error about the datagram at p directly (the internal entry point). */
static void send_error_about(struct tu *t, const uint8_t *p, size_t len)
{
	struct wire_ip4 ip = { 0 };
	CU_ASSERT_FATAL(wire_ip4_parse(p, len, &ip) == WIRE_IP4_OK);
	us_icmp_send_error(t->st, &ip, ip.payload, ip.payload_len, 3, 3);
}

static void test_icmp_no_error_about_icmp_error(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	uint8_t p[256], m[64];
	/* Each ICMP error type (RFC 792: 3, 4, 5, 11, 12) is exempt. */
	static const uint8_t types[] = { 3, 4, 5, 11, 12 };
	for (size_t i = 0; i < sizeof types; i++) {
		memset(m, 0, sizeof m);
		m[0] = types[i];
		tu_put16(m + 2, tu_csum(m, 36));
		struct tu_iph h = tu_iph_peer(1);
		size_t n = tu_ip4(p, &h, m, 36);
		send_error_about(&t, p, n);
		CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	}
	/* Control: about an echo request (not an error) one does go out. */
	size_t n = tu_icmp_echo(m, 8, 1, 1, "z", 1);
	struct tu_iph h = tu_iph_peer(1);
	n = tu_ip4(p, &h, m, n);
	send_error_about(&t, p, n);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 1);

	/*
	 * On the wire: fragment zero of an ICMP error whose reassembly times
	 * out gets no time exceeded message; of an echo request it does.
	 */
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t big[1000];
	memset(big, 0, sizeof big);
	big[0] = 3;
	big[1] = 1;
	tu_put16(big + 2, tu_csum(big, sizeof big));
	h = tu_iph_peer(1);
	h.id = 0x0e0e;
	tu_fragment(&frags, &h, big, sizeof big, 400);
	tu_inject(&t, frags.f[0].data, frags.f[0].len);
	tu_run(&t, 31 * SEC, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 1);
	CU_ASSERT_EQUAL(out.n, 0);
	tu_frames_free(&frags);
	big[0] = 8;
	big[1] = 0;
	big[2] = big[3] = 0;
	tu_put16(big + 2, tu_csum(big, sizeof big));
	tu_fragment(&frags, &h, big, sizeof big, 400);
	tu_inject(&t, frags.f[0].data, frags.f[0].len);
	tu_run(&t, 31 * SEC, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 2);
	CU_ASSERT_EQUAL(count_icmp(&out, 11, 1), 1);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_icmp_no_error_about_fragment(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	uint8_t p[256], u[64];
	size_t ul = tu_udp(u, TU_PEER_IP, TU_STACK_IP, 5, 9, "0123456789abcdef", 16);
	struct tu_iph h = tu_iph_peer(17);
	h.frag_off = 8;
	size_t n = tu_ip4(p, &h, u + 8, ul - 8);
	send_error_about(&t, p, n);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);

	/*
	 * A closed-port datagram that came in fragments gets one error, about
	 * fragment zero (quoting the UDP header), not one per fragment.
	 */
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1000], ud[1100];
	tu_pattern(data, sizeof data, 8);
	ul = tu_udp(ud, TU_PEER_IP, TU_STACK_IP, 5555, 9, data, sizeof data);
	h = tu_iph_peer(17);
	h.id = 0x0f0f;
	CU_ASSERT_EQUAL(tu_fragment(&frags, &h, ud, ul, 336), 3);
	static const int order[] = { 2, 1, 0 };
	tu_inject_all(&t, &frags, order, 3);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 1);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	struct tu_ipv ip;
	const uint8_t *e = icmp_of(&out.f[0], &ip);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e[0], 3);
	CU_ASSERT_EQUAL(e[1], 3);
	CU_ASSERT_FATAL(ip.plen >= 8 + 20 + 8);
	const uint8_t *q = e + 8;
	CU_ASSERT_EQUAL(q[9], 17);
	CU_ASSERT_EQUAL(tu_get16(q + 4), 0x0f0f);
	CU_ASSERT_EQUAL(tu_get16(q + 6) & 0x1fff, 0);             /* offset zero */
	CU_ASSERT(memcmp(q + 12, frags.f[0].data + TU_ETH_HLEN + 12, 8) == 0);
	CU_ASSERT(memcmp(q + 20, ud, 8) == 0);                     /* the UDP header */
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_icmp_rate_limit(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	uint8_t f[256];
	/* A burst of 100 at one instant: exactly the bucket's depth gets out. */
	for (int i = 0; i < 100; i++)
		tu_inject(&t, f, udp_frame(f, TU_STACK_IP, (uint16_t)(20000 + i), 9,
					   (const uint8_t *)"burst", 5));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_icmp(&out, 3, 3), US_ICMP_RATE_BURST);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RATELIMITED), 100 - US_ICMP_RATE_BURST);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_NO_PORT), 100);
	/* The first ones were answered, in order. */
	for (int i = 0; i < out.n && i < US_ICMP_RATE_BURST; i++) {
		struct tu_ipv ip;
		const uint8_t *e = icmp_of(&out.f[i], &ip);
		CU_ASSERT_FATAL(e && ip.plen >= 8 + 20 + 8);
		CU_ASSERT_EQUAL(tu_get16(e + 8 + 20), 20000 + i);
	}

	/* 1 ms later one token (1000/s) has come back. */
	tu_run(&t, US_NS_PER_MS, NULL);
	tu_frames_clear(&out);
	for (int i = 0; i < 5; i++)
		tu_inject(&t, f, udp_frame(f, TU_STACK_IP, 30000, 9, (const uint8_t *)"x", 1));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_icmp(&out, 3, 3), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RATELIMITED), 100 - US_ICMP_RATE_BURST + 4);

	/* After a second the bucket is full again, and no fuller. */
	tu_run(&t, SEC, NULL);
	tu_frames_clear(&out);
	for (int i = 0; i < 100; i++)
		tu_inject(&t, f, udp_frame(f, TU_STACK_IP, 30001, 9, (const uint8_t *)"x", 1));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_icmp(&out, 3, 3), US_ICMP_RATE_BURST);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RATELIMITED), 2 * (100 - US_ICMP_RATE_BURST) + 4);
	tu_frames_free(&out);
	tu_close(&t);
}

/* ---- what a ping endpoint receives ------------------------------------------------ */

/* The peer's view of our last echo request (IP header + ICMP) from out. */
static size_t last_request(const struct tu_frames *out, uint8_t *copy)
{
	int i = tu_find_icmp(out, out->n - 1, 8);
	if (i < 0)
		return 0;
	struct tu_ipv ip;
	tu_parse_ip(out->f[i].data, out->f[i].len, &ip);
	memcpy(copy, ip.hdr, ip.total_len);
	return ip.total_len;
}

static void test_icmp_ping_endpoint(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	uint8_t data[24], req[256], f[512], m[512], buf[64];
	tu_pattern(data, sizeof data, 9);
	struct us_echo_reply rep;

	/* A reply. */
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, data, sizeof data), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(last_request(&out, req), 20 + 8 + sizeof data);
	size_t n = tu_icmp_echo(m, 0, id, 1, data, sizeof data);
	struct tu_iph ih = tu_iph_peer(1);
	ih.ttl = 57;
	tu_run(&t, 3 * US_NS_PER_MS, NULL);
	uint64_t t_rx = us_stack_now(t.st);
	tu_inject(&t, f, tu_ip_frame(f, &ih, m, n));
	memset(&rep, 0, sizeof rep);
	memset(buf, 0, sizeof buf);
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, buf, sizeof buf, 0), 0);
	CU_ASSERT_EQUAL(rep.error, 0);
	CU_ASSERT_EQUAL(rep.icmp_type, 0);
	CU_ASSERT_EQUAL(rep.seq, 1);
	CU_ASSERT_EQUAL(rep.ttl, 57);
	CU_ASSERT_EQUAL(rep.from.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(rep.len, sizeof data);
	CU_ASSERT_EQUAL(rep.recv_ns, t_rx);
	CU_ASSERT(memcmp(buf, data, sizeof data) == 0);

	/* Errors about our request, each mapped as Linux maps them. */
	static const struct {
		uint8_t type, code;
		int err;
	} cases[] = {
		{ 3, 1, EHOSTUNREACH }, { 3, 0, ENETUNREACH }, { 3, 3, ECONNREFUSED },
		{ 11, 0, EHOSTUNREACH },
	};
	uint32_t router = tu_ip(10, 0, 0, 254);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint16_t seq = (uint16_t)(10 + c);
		tu_frames_clear(&out);
		CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, seq, 0, data, sizeof data), 0);
		tu_collect(&t, &out);
		size_t rl = last_request(&out, req);
		CU_ASSERT_FATAL(rl > 0);
		/* The error quotes the header and the first 8 bytes (RFC 792). */
		memset(m, 0, 8);
		m[0] = cases[c].type;
		m[1] = cases[c].code;
		memcpy(m + 8, req, 28);
		tu_put16(m + 2, tu_csum(m, 36));
		ih = tu_iph_peer(1);
		ih.src = router;
		tu_inject(&t, f, tu_ip_frame(f, &ih, m, 36));
		memset(&rep, 0, sizeof rep);
		CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, buf, sizeof buf, 0), 0);
		CU_ASSERT_EQUAL(rep.error, cases[c].err);
		CU_ASSERT_EQUAL(rep.icmp_type, cases[c].type);
		CU_ASSERT_EQUAL(rep.icmp_code, cases[c].code);
		CU_ASSERT_EQUAL(rep.seq, seq);
		CU_ASSERT_EQUAL(rep.from.s_addr, router);
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RX_UNREACH), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RX_TIMEEXC), 1);

	/* A reply for an identifier nobody holds is counted and dropped. */
	n = tu_icmp_echo(m, 0, (uint16_t)(id + 1), 1, data, sizeof data);
	ih = tu_iph_peer(1);
	tu_inject(&t, f, tu_ip_frame(f, &ih, m, n));
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_ECHO_NO_ENDPT), 1);
	errno = 0;
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, buf, sizeof buf, 0), -1);
	CU_ASSERT_EQUAL(errno, ETIMEDOUT);

	/* The endpoint's queue holds US_PING_QUEUE replies; more are counted. */
	for (int i = 0; i < US_PING_QUEUE + 3; i++) {
		n = tu_icmp_echo(m, 0, id, (uint16_t)(100 + i), data, 4);
		tu_inject(&t, f, tu_ip_frame(f, &ih, m, n));
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_ECHO_Q_FULL), 3);
	for (int i = 0; i < US_PING_QUEUE; i++) {
		CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, buf, sizeof buf, 0), 0);
		CU_ASSERT_EQUAL(rep.seq, 100 + i);
	}
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, buf, sizeof buf, 0), -1);
	us_ping_close(t.st, h);
	errno = 0;
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, data, 1), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	tu_frames_free(&out);
	tu_close(&t);
}

US_SUITE(icmp, NULL, NULL,
	 US_TEST(test_icmp_echo_reply_fields),
	 US_TEST(test_icmp_echo_burst_not_limited),
	 US_TEST(test_icmp_echo_broadcast_ignored),
	 US_TEST(test_icmp_malformed),
	 US_TEST(test_icmp_port_unreachable),
	 US_TEST(test_icmp_protocol_unreachable),
	 US_TEST(test_icmp_no_error_about_broadcast),
	 US_TEST(test_icmp_no_error_about_link_broadcast),
	 US_TEST(test_icmp_no_error_about_icmp_error),
	 US_TEST(test_icmp_no_error_about_fragment),
	 US_TEST(test_icmp_rate_limit),
	 US_TEST(test_icmp_ping_endpoint));
