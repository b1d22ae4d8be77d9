/*
 * test_forward.c — IPv4 forwarding (core/ipv4.c ipv4_forward): a
 * deterministic stack with two pair-wire interfaces acting as a router.
 *
 *   peer A 10.0.0.2 --- eth0 10.0.0.1/24 [stack] eth1 10.0.1.1/24 --- peer B 10.0.1.2
 *
 * Both peers have static ARP entries, so forwarded datagrams go out at
 * once. Expected values come from RFC 1812 (5.3.1 TTL: decrement, time
 * exceeded at TTL <= 1; 5.2.7.1 destination unreachable: net when there
 * is no route, fragmentation needed with the next-hop MTU of RFC 1191 4;
 * 5.3.4 / 5.3.5 no forwarding of link-layer, limited or directed
 * broadcasts; 5.3.7 martians; 5.2.7.2 redirects), RFC 791 (fragments:
 * offsets in 8-byte units, MF on all but the last) and RFC 1071 (every
 * header's checksum is recomputed here from scratch by the test's own
 * tu_csum, so an incremental update that goes wrong shows).
 */
#include <arpa/inet.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

static const uint8_t eth1_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
static const uint8_t peerb_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x02 };
static const uint8_t gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 };
#define ETH1_IP  tu_ip(10, 0, 1, 1)
#define PEERB_IP tu_ip(10, 0, 1, 2)
#define GW_A_IP  tu_ip(10, 0, 0, 3)     /* a second router on A's side */

struct fw {
	struct tu t;                    /* eth0's wire: peer A */
	struct us_pair_end *b;          /* eth1's wire: peer B */
	char wire_b[96];
};

struct fw_opts {
	uint32_t mtu_b;                 /* 0: 1500 */
	bool stack_fwd;                 /* stack: forwarding */
	int eth0_fwd;                   /* -1: unset; 0/1: interface forwarding: */
	bool redirects;
};

static bool fw_open(struct fw *w, const struct fw_opts *o, const char *tag)
{
	struct us_config cfg;
	char wire[96];
	memset(w, 0, sizeof *w);
	tu_wire_name(wire, sizeof wire, tag);
	struct tu_opts to = { .static_peer = true };
	tu_config(&cfg, wire, &to);
	cfg.forwarding = o->stack_fwd;
	cfg.send_redirects = o->redirects;
	if (o->eth0_fwd >= 0) {
		cfg.ifaces[0].forwarding_set = true;
		cfg.ifaces[0].forwarding = o->eth0_fwd == 1;
	}
	tu_wire_name(w->wire_b, sizeof w->wire_b, tag);
	struct us_iface_config *ifc = &cfg.ifaces[1];
	snprintf(ifc->name, sizeof ifc->name, "eth1");
	ifc->backend = US_BACKEND_PAIR;
	snprintf(ifc->device, sizeof ifc->device, "%s", w->wire_b);
	memcpy(ifc->mac, eth1_mac, 6);
	ifc->mac_set = true;
	ifc->mtu = o->mtu_b ? o->mtu_b : 1500;
	ifc->addrs[0].addr.s_addr = ETH1_IP;
	ifc->addrs[0].prefix = 24;
	ifc->naddrs = 1;
	cfg.nifaces = 2;
	cfg.arp_static[1].addr.s_addr = PEERB_IP;
	memcpy(cfg.arp_static[1].mac, peerb_mac, 6);
	cfg.arp_static[2].addr.s_addr = GW_A_IP;
	memcpy(cfg.arp_static[2].mac, gw_mac, 6);
	cfg.narp_static = 3;
	/* 10.9.0.0/16 lies behind the other router on A's side. */
	cfg.routes[0].to.addr.s_addr = tu_ip(10, 9, 0, 0);
	cfg.routes[0].to.prefix = 16;
	cfg.routes[0].via.s_addr = GW_A_IP;
	cfg.nroutes = 1;
	if (!tu_open_cfg(&w->t, &cfg))
		return false;
	char err[256];
	w->b = us_pair_attach(w->wire_b, NULL, 98, err, sizeof err);
	CU_ASSERT_PTR_NOT_NULL(w->b);
	if (!w->b) {
		tu_close(&w->t);
		return false;
	}
	return true;
}

static void fw_close(struct fw *w)
{
	tu_close(&w->t);
	us_pair_detach(w->b);
}

/* Every frame the stack sent on wire B by now. */
static int collect_b(struct fw *w, struct tu_frames *out)
{
	static uint8_t buf[US_PAIR_FRAME_MAX];
	int got = 0;
	for (;;) {
		int n = us_pair_recv(w->b, us_stack_now(w->t.st), buf, sizeof buf);
		if (n <= 0)
			break;
		tu_frames_add(out, buf, (size_t)n);
		got++;
	}
	return got;
}

/* A UDP datagram from peer A to dst, TTL ttl, as a frame on wire A. */
static size_t udp_from_a(uint8_t *f, uint32_t dst, uint8_t ttl, bool df, const uint8_t *data,
			 size_t len, uint16_t id)
{
	static uint8_t u[9000];
	size_t n = tu_udp(u, TU_PEER_IP, dst, 40000, 9, data, len);
	struct tu_iph h = tu_iph_peer(17);
	h.dst = dst;
	h.ttl = ttl;
	h.df = df;
	h.id = id;
	return tu_ip_frame(f, &h, u, n);
}

/* The ICMP message of frame f (IP header checked), or NULL. */
static const uint8_t *icmp_in(const struct tu_frame *f, struct tu_ipv *ip)
{
	if (!tu_parse_ip(f->data, f->len, ip) || ip->proto != 1 || ip->plen < 8)
		return NULL;
	if (tu_csum(ip->payload, ip->plen) != 0)
		return NULL;
	return ip->payload;
}

static uint64_t ifstat(struct fw *w, int ifindex, enum us_ifstat_id id)
{
	uint64_t v[US_IFSTAT__COUNT];
	CU_ASSERT_EQUAL_FATAL(us_stack_iface_stats(w->t.st, ifindex, v), 0);
	return v[id];
}

static const struct fw_opts router = { .stack_fwd = true, .eth0_fwd = -1 };

/* TTL lowered by one, checksum right, everything else as sent, for every
 * TTL from 255 to 2 and varied IDs (different checksums, carries). */
static void test_forward_ttl_and_checksum(void)
{
	struct fw w;
	if (!fw_open(&w, &router, __func__))
		return;
	static uint8_t f[2000];
	uint8_t data[100];
	tu_pattern(data, sizeof data, 7);
	struct tu_frames out = { 0 }, back = { 0 };
	int sent = 0;
	for (unsigned ttl = 255; ttl >= 2; ttl--) {
		uint16_t id = (uint16_t)(ttl * 257u + 0x8000u);
		size_t n = udp_from_a(f, PEERB_IP, (uint8_t)ttl, ttl & 1, data, sizeof data, id);
		tu_frames_clear(&out);
		tu_inject(&w.t, f, n);
		sent++;
		CU_ASSERT_EQUAL_FATAL(collect_b(&w, &out), 1);
		const struct tu_frame *r = &out.f[0];
		struct tu_ipv ip;
		CU_ASSERT_FATAL(tu_parse_ip(r->data, r->len, &ip));  /* checksum checked there */
		CU_ASSERT_EQUAL(memcmp(r->data, peerb_mac, 6), 0);
		CU_ASSERT_EQUAL(memcmp(r->data + 6, eth1_mac, 6), 0);
		CU_ASSERT_EQUAL(ip.ttl, ttl - 1);
		CU_ASSERT_EQUAL(r->len, n);
		/* Every other byte unchanged: header but TTL and checksum, payload. */
		CU_ASSERT_EQUAL(memcmp(r->data + 14, f + 14, 8), 0);
		CU_ASSERT_EQUAL(r->data[14 + 9], f[14 + 9]);
		CU_ASSERT_EQUAL(memcmp(r->data + 14 + 12, f + 14 + 12, n - 14 - 12), 0);
	}
	CU_ASSERT_EQUAL(tu_collect(&w.t, &back), 0);     /* nothing back to A */
	CU_ASSERT_EQUAL(ifstat(&w, 0, US_IFSTAT_FORWARDED), (uint64_t)sent);
	CU_ASSERT_EQUAL(ifstat(&w, 1, US_IFSTAT_FORWARDED), 0);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FORWARDED), (uint64_t)sent);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_DELIVERED), 0);
	tu_frames_free(&out);
	tu_frames_free(&back);
	fw_close(&w);
}

/* TTL 1 and 0: not forwarded; time exceeded (11/0) from eth0's address to
 * the source, quoting the header as received and the next 8 bytes. */
static void test_forward_ttl_exceeded(void)
{
	struct fw w;
	if (!fw_open(&w, &router, __func__))
		return;
	static uint8_t f[2000];
	uint8_t data[32];
	tu_pattern(data, sizeof data, 3);
	struct tu_frames out = { 0 }, bf = { 0 };
	for (int ttl = 1; ttl >= 0; ttl--) {
		tu_frames_clear(&out);
		size_t n = udp_from_a(f, PEERB_IP, (uint8_t)ttl, false, data, sizeof data, 0x1111);
		tu_inject(&w.t, f, n);
		CU_ASSERT_EQUAL(collect_b(&w, &bf), 0);
		CU_ASSERT_EQUAL_FATAL(tu_collect(&w.t, &out), 1);
		struct tu_ipv ip;
		const uint8_t *m = icmp_in(&out.f[0], &ip);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT_EQUAL(m[0], 11);
		CU_ASSERT_EQUAL(m[1], 0);
		CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
		CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
		CU_ASSERT_FATAL(ip.plen >= 8 + 20 + 8);
		CU_ASSERT_EQUAL(memcmp(m + 8, f + 14, 28), 0);
	}
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FWD_TTL), 2);
	CU_ASSERT_EQUAL(ifstat(&w, 0, US_IFSTAT_FWD_ERRORS), 2);
	CU_ASSERT_EQUAL(ifstat(&w, 0, US_IFSTAT_FORWARDED), 0);
	tu_frames_free(&out);
	tu_frames_free(&bf);
	fw_close(&w);
}

/* No route: network unreachable (3/0) back to the source. */
static void test_forward_no_route(void)
{
	struct fw w;
	if (!fw_open(&w, &router, __func__))
		return;
	static uint8_t f[2000];
	uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct tu_frames out = { 0 }, bf = { 0 };
	tu_inject(&w.t, f, udp_from_a(f, tu_ip(10, 200, 0, 1), 64, false, data, 8, 5));
	CU_ASSERT_EQUAL(collect_b(&w, &bf), 0);
	CU_ASSERT_EQUAL_FATAL(tu_collect(&w.t, &out), 1);
	struct tu_ipv ip;
	const uint8_t *m = icmp_in(&out.f[0], &ip);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m[0], 3);
	CU_ASSERT_EQUAL(m[1], 0);
	CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FWD_NO_ROUTE), 1);
	tu_frames_free(&out);
	tu_frames_free(&bf);
	fw_close(&w);
}

/* The next hop never answers ARP (3 requests, 1 s apart): the queued
 * datagram's source gets host unreachable (3/1) from the router, as from
 * Linux (ipv4_link_failure), and the datagram is not sent. */
static void test_forward_arp_failure_host_unreachable(void)
{
	struct fw w;
	if (!fw_open(&w, &router, __func__))
		return;
	static uint8_t f[2000];
	uint8_t data[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	struct tu_frames out = { 0 }, bf = { 0 };
	size_t n = udp_from_a(f, tu_ip(10, 0, 1, 7), 64, false, data, 8, 9);
	tu_inject(&w.t, f, n);
	CU_ASSERT_EQUAL(tu_collect(&w.t, &out), 0);      /* nothing yet: resolving */
	tu_run(&w.t, 5 * US_NS_PER_SEC, &out);
	collect_b(&w, &bf);
	CU_ASSERT_EQUAL(tu_count_arp(&bf, 1), 3);         /* the requests on B's wire */
	CU_ASSERT_EQUAL(tu_count_ip(&bf, 0), 0);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	struct tu_ipv ip;
	const uint8_t *m = icmp_in(&out.f[0], &ip);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m[0], 3);
	CU_ASSERT_EQUAL(m[1], 1);
	CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
	CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
	/* The quote is the datagram as it was queued: TTL already 63. */
	CU_ASSERT_EQUAL(m[8 + 8], 63);
	CU_ASSERT_EQUAL(memcmp(m + 8 + 12, f + 14 + 12, 8), 0);
	tu_frames_free(&out);
	tu_frames_free(&bf);
	fw_close(&w);
}

/* Too big for eth1 (MTU 1000) with DF: 3/4 carrying 1000 in the low 16
 * bits of the second word (RFC 1191 4); nothing goes to B. */
static void test_forward_need_frag(void)
{
	struct fw w;
	struct fw_opts o = router;
	o.mtu_b = 1000;
	if (!fw_open(&w, &o, __func__))
		return;
	static uint8_t f[2000], data[1400];
	tu_pattern(data, sizeof data, 9);
	struct tu_frames out = { 0 }, bf = { 0 };
	tu_inject(&w.t, f, udp_from_a(f, PEERB_IP, 64, true, data, sizeof data, 6));
	CU_ASSERT_EQUAL(collect_b(&w, &bf), 0);
	CU_ASSERT_EQUAL_FATAL(tu_collect(&w.t, &out), 1);
	struct tu_ipv ip;
	const uint8_t *m = icmp_in(&out.f[0], &ip);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m[0], 3);
	CU_ASSERT_EQUAL(m[1], 4);
	CU_ASSERT_EQUAL(tu_get16(m + 4), 0);
	CU_ASSERT_EQUAL(tu_get16(m + 6), 1000);
	CU_ASSERT_EQUAL(memcmp(m + 8, f + 14, 28), 0);
	/* Exactly the MTU still goes through whole. */
	tu_frames_clear(&bf);
	tu_inject(&w.t, f, udp_from_a(f, PEERB_IP, 64, true, data, 1000 - 28, 7));
	CU_ASSERT_EQUAL_FATAL(collect_b(&w, &bf), 1);
	CU_ASSERT_EQUAL(bf.f[0].len, 14 + 1000);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FWD_NEED_FRAG), 1);
	tu_frames_free(&out);
	tu_frames_free(&bf);
	fw_close(&w);
}

/* Reassemble what went out on B; checks each fragment's fields. */
static size_t reassemble(const struct tu_frames *l, uint8_t *buf, size_t cap, uint16_t id,
			 bool last_mf, uint16_t base)
{
	size_t end = 0;
	for (int i = 0; i < l->n; i++) {
		struct tu_ipv ip;
		CU_ASSERT_FATAL(tu_parse_ip(l->f[i].data, l->f[i].len, &ip));
		CU_ASSERT(ip.total_len <= 1000);
		CU_ASSERT_EQUAL(ip.id, id);
		CU_ASSERT_EQUAL(ip.ttl, 63);
		CU_ASSERT_FALSE(ip.df);
		CU_ASSERT_EQUAL(ip.frag_off % 8, 0);
		CU_ASSERT_EQUAL(ip.mf, i < l->n - 1 ? true : last_mf);
		if (i < l->n - 1)
			CU_ASSERT_EQUAL(ip.plen % 8, 0);
		CU_ASSERT_EQUAL(ip.frag_off - base, end);     /* in order, no gap */
		CU_ASSERT_FATAL(ip.frag_off - base + ip.plen <= cap);
		memcpy(buf + ip.frag_off - base, ip.payload, ip.plen);
		end = ip.frag_off - base + ip.plen;
	}
	return end;
}

/* DF clear: fragments of at most 1000 bytes that put back together give
 * the datagram; a fragment that is itself not the last keeps MF and its
 * offset base. */
static void test_forward_fragments(void)
{
	struct fw w;
	struct fw_opts o = router;
	o.mtu_b = 1000;
	if (!fw_open(&w, &o, __func__))
		return;
	static uint8_t f[3000], u[3000], data[2500], got[3000];
	tu_pattern(data, sizeof data, 11);
	struct tu_frames bf = { 0 };
	size_t n = udp_from_a(f, PEERB_IP, 64, false, data, sizeof data, 0x4321);
	tu_inject(&w.t, f, n);
	CU_ASSERT_EQUAL_FATAL(collect_b(&w, &bf), 3);     /* 2508 bytes in 976-byte pieces */
	size_t len = reassemble(&bf, got, sizeof got, 0x4321, false, 0);
	CU_ASSERT_EQUAL(len, n - 14 - 20);
	CU_ASSERT_EQUAL(memcmp(got, f + 14 + 20, n - 34), 0);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FWD_FRAGS), 3);

	/* A first fragment (MF, offset 0) of 1600 bytes: both pieces keep MF. */
	tu_frames_clear(&bf);
	tu_pattern(u, 1600, 12);
	struct tu_iph h = tu_iph_peer(17);
	h.dst = PEERB_IP;
	h.id = 0x5555;
	h.mf = true;
	h.frag_off = 0;
	tu_inject(&w.t, f, tu_ip_frame(f, &h, u, 1600));
	CU_ASSERT_EQUAL_FATAL(collect_b(&w, &bf), 2);
	CU_ASSERT_EQUAL(reassemble(&bf, got, sizeof got, 0x5555, true, 0), 1600);
	CU_ASSERT_EQUAL(memcmp(got, u, 1600), 0);
	/* A middle fragment at offset 1600: offsets count from there. */
	tu_frames_clear(&bf);
	h.frag_off = 1600;
	tu_inject(&w.t, f, tu_ip_frame(f, &h, u, 1600));
	CU_ASSERT_EQUAL_FATAL(collect_b(&w, &bf), 2);
	CU_ASSERT_EQUAL(reassemble(&bf, got, sizeof got, 0x5555, true, 1600), 1600);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_REASM_OK), 0);  /* routed, not reassembled */
	tu_frames_free(&bf);
	fw_close(&w);
}

/* Options on fragmentation (RFC 791 3.1, the "copied" flag): the first
 * fragment keeps them all; later ones keep the copied option (130,
 * security: 0x82) and carry no-operations where record route (7, not
 * copied) was, the header length unchanged. */
static void test_forward_fragment_options(void)
{
	struct fw w;
	struct fw_opts o = router;
	o.mtu_b = 1000;
	if (!fw_open(&w, &o, __func__))
		return;
	static const uint8_t opts[8] = { 0x82, 4, 0xaa, 0xbb, 7, 3, 4, 0 };
	static uint8_t f[3000], u[1600], got[1600];
	tu_pattern(u, sizeof u, 13);
	struct tu_iph h = tu_iph_peer(17);
	h.dst = PEERB_IP;
	h.id = 0x6666;
	h.opts = opts;
	h.optlen = sizeof opts;
	struct tu_frames bf = { 0 };
	tu_inject(&w.t, f, tu_ip_frame(f, &h, u, sizeof u));
	CU_ASSERT_EQUAL_FATAL(collect_b(&w, &bf), 2);
	static const uint8_t later[8] = { 0x82, 4, 0xaa, 0xbb, 1, 1, 1, 0 };
	for (int i = 0; i < 2; i++) {
		struct tu_ipv ip;
		CU_ASSERT_FATAL(tu_parse_ip(bf.f[i].data, bf.f[i].len, &ip));
		CU_ASSERT_EQUAL_FATAL(ip.hlen, 28);
		CU_ASSERT_EQUAL(memcmp(ip.hdr + 20, i == 0 ? opts : later, 8), 0);
	}
	CU_ASSERT_EQUAL(reassemble(&bf, got, sizeof got, 0x6666, false, 0), sizeof u);
	CU_ASSERT_EQUAL(memcmp(got, u, sizeof u), 0);
	tu_frames_free(&bf);
	fw_close(&w);
}

/* Broadcasts and martians are not forwarded, silently. */
static void test_forward_no_broadcast_no_martian(void)
{
	struct fw w;
	if (!fw_open(&w, &router, __func__))
		return;
	static uint8_t f[2000];
	uint8_t data[16] = { 0 };
	struct tu_frames out = { 0 }, bf = { 0 };
	/* B's directed broadcast. */
	tu_inject(&w.t, f, udp_from_a(f, tu_ip(10, 0, 1, 255), 64, false, data, 16, 1));
	/* A unicast to B sent to the link broadcast address. */
	size_t n = udp_from_a(f, PEERB_IP, 64, false, data, 16, 2);
	memcpy(f, tu_bcast_mac, 6);
	tu_inject(&w.t, f, n);
	/* Multicast destination. */
	tu_inject(&w.t, f, udp_from_a(f, tu_ip(239, 1, 1, 1), 64, false, data, 16, 3));
	/* Martians: 0/8 source, 240/4 destination. */
	struct tu_iph h = tu_iph_peer(17);
	uint8_t u[64];
	h.src = tu_ip(0, 1, 2, 3);
	h.dst = PEERB_IP;
	tu_inject(&w.t, f, tu_ip_frame(f, &h, u, tu_udp(u, h.src, h.dst, 1, 9, data, 16)));
	h.src = TU_PEER_IP;
	h.dst = tu_ip(240, 0, 0, 1);
	tu_inject(&w.t, f, tu_ip_frame(f, &h, u, tu_udp(u, h.src, h.dst, 1, 9, data, 16)));
	CU_ASSERT_EQUAL(collect_b(&w, &bf), 0);
	CU_ASSERT_EQUAL(tu_collect(&w.t, &out), 0);    /* no ICMP error about any */
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FORWARDED), 0);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FWD_MARTIAN), 2);
	CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_FWD_BCAST), 3);
	CU_ASSERT_EQUAL(ifstat(&w, 0, US_IFSTAT_FWD_DROPPED), 5);
	/* The same unicast sent properly goes through: the drops were the rule. */
	tu_inject(&w.t, f, udp_from_a(f, PEERB_IP, 64, false, data, 16, 4));
	CU_ASSERT_EQUAL(collect_b(&w, &bf), 1);
	tu_frames_free(&out);
	tu_frames_free(&bf);
	fw_close(&w);
}

/* Forwarding off (the default) or off on the arrival interface: a host. */
static void test_forward_off(void)
{
	static const struct fw_opts host = { .stack_fwd = false, .eth0_fwd = -1 };
	static const struct fw_opts if_off = { .stack_fwd = true, .eth0_fwd = 0 };
	static const struct fw_opts if_on = { .stack_fwd = false, .eth0_fwd = 1 };
	const struct fw_opts *cases[] = { &host, &if_off, &if_on };
	for (int c = 0; c < 3; c++) {
		struct fw w;
		if (!fw_open(&w, cases[c], __func__))
			return;
		static uint8_t f[2000];
		uint8_t data[16] = { 0 };
		struct tu_frames out = { 0 }, bf = { 0 };
		tu_inject(&w.t, f, udp_from_a(f, PEERB_IP, 64, false, data, 16, 1));
		tu_inject(&w.t, f, udp_from_a(f, PEERB_IP, 1, false, data, 16, 2));
		bool fwd = cases[c] == &if_on;
		CU_ASSERT_EQUAL(collect_b(&w, &bf), fwd ? 1 : 0);
		CU_ASSERT_EQUAL(tu_collect(&w.t, &out), fwd ? 1 : 0);  /* time exceeded only if routing */
		CU_ASSERT_EQUAL(TU_STAT(&w.t, IP_DROP_NOT_OURS), fwd ? 0 : 2);
		tu_frames_free(&out);
		tu_frames_free(&bf);
		fw_close(&w);
	}
}

/* Out by the interface it came in on, towards a gateway on the source's
 * subnet: forwarded, and a host redirect (5/1) naming that gateway. */
static void test_forward_redirect(void)
{
	for (int on = 0; on <= 1; on++) {
		struct fw w;
		struct fw_opts o = router;
		o.redirects = on;
		if (!fw_open(&w, &o, __func__))
			return;
		static uint8_t f[2000];
		uint8_t data[16] = { 0 };
		struct tu_frames out = { 0 };
		tu_inject(&w.t, f, udp_from_a(f, tu_ip(10, 9, 1, 1), 64, false, data, 16, 1));
		tu_collect(&w.t, &out);
		int redirects = 0, forwarded = 0;
		for (int i = 0; i < out.n; i++) {
			struct tu_ipv ip;
			CU_ASSERT_FATAL(tu_parse_ip(out.f[i].data, out.f[i].len, &ip));
			if (ip.proto == 17) {
				forwarded++;
				CU_ASSERT_EQUAL(memcmp(out.f[i].data, gw_mac, 6), 0);
				CU_ASSERT_EQUAL(ip.ttl, 63);
			}
			const uint8_t *m = icmp_in(&out.f[i], &ip);
			if (m && m[0] == 5) {
				redirects++;
				CU_ASSERT_EQUAL(m[1], 1);
				uint32_t gw;
				memcpy(&gw, m + 4, 4);
				CU_ASSERT_EQUAL(gw, GW_A_IP);
				CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
			}
		}
		CU_ASSERT_EQUAL(forwarded, 1);
		CU_ASSERT_EQUAL(redirects, on);
		tu_frames_free(&out);
		fw_close(&w);
	}
}

/* The YAML keys: stack forwarding, per-interface override, redirects. */
static void test_forward_config(void)
{
	static const char y[] = "stack: {forwarding: true, send_redirects: false}\n"
				"interfaces:\n"
				"  a: {backend: pair, device: x, forwarding: false}\n"
				"  b: {backend: pair, device: y}\n";
	struct us_config cfg;
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(us_config_load_string("t.yaml", y, strlen(y), &cfg, err, sizeof err), 0);
	CU_ASSERT_TRUE(cfg.forwarding);
	CU_ASSERT_FALSE(cfg.send_redirects);
	CU_ASSERT_TRUE(cfg.ifaces[0].forwarding_set);
	CU_ASSERT_FALSE(cfg.ifaces[0].forwarding);
	CU_ASSERT_FALSE(cfg.ifaces[1].forwarding_set);
	us_config_init(&cfg);
	CU_ASSERT_FALSE(cfg.forwarding);          /* a host by default */
	CU_ASSERT_TRUE(cfg.send_redirects);       /* Linux's send_redirects default */
}

US_SUITE(forward, NULL, NULL,
	 US_TEST(test_forward_ttl_and_checksum),
	 US_TEST(test_forward_ttl_exceeded),
	 US_TEST(test_forward_no_route),
	 US_TEST(test_forward_arp_failure_host_unreachable),
	 US_TEST(test_forward_need_frag),
	 US_TEST(test_forward_fragments),
	 US_TEST(test_forward_fragment_options),
	 US_TEST(test_forward_no_broadcast_no_martian),
	 US_TEST(test_forward_off),
	 US_TEST(test_forward_redirect),
	 US_TEST(test_forward_config));
