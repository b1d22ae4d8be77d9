/*
 * test_arp.c — ARP (RFC 826) and the neighbour cache (core/arp.h) as seen
 * from the wire: replies to requests for our address, resolution with a
 * bounded queue, three requests one second apart before giving up
 * (EHOSTUNREACH to the ping endpoint), expiry after arp timeout_s, static
 * entries, gratuitous announcements on us_stack_up(), malformed packets.
 *
 * Expected values come from RFC 826 (field layout, the merge rule: update
 * a known sender whatever the opcode, add it only when the packet targets
 * us), RFC 5227 section 2.3 (an announcement is a request with sender and
 * target protocol address both ours, target hardware address zero) and
 * the design in core/arp.h.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

#define SEC US_NS_PER_SEC

/* Check every field of an ARP frame the stack sent. */
static void check_arp(const struct tu_frame *f, const uint8_t eth_dst[6], uint16_t op,
		      const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	const uint8_t *d = f->data, *a = f->data + TU_ETH_HLEN;
	CU_ASSERT_FATAL(f->len >= TU_ETH_HLEN + 28);
	CU_ASSERT(memcmp(d, eth_dst, 6) == 0);
	CU_ASSERT(memcmp(d + 6, tu_stack_mac, 6) == 0);
	CU_ASSERT_EQUAL(tu_get16(d + 12), 0x0806);
	CU_ASSERT_EQUAL(tu_get16(a), 1);
	CU_ASSERT_EQUAL(tu_get16(a + 2), 0x0800);
	CU_ASSERT_EQUAL(a[4], 6);
	CU_ASSERT_EQUAL(a[5], 4);
	CU_ASSERT_EQUAL(tu_get16(a + 6), op);
	CU_ASSERT(memcmp(a + 8, sha, 6) == 0);
	CU_ASSERT(memcmp(a + 14, &spa, 4) == 0);
	CU_ASSERT(memcmp(a + 18, tha, 6) == 0);
	CU_ASSERT(memcmp(a + 24, &tpa, 4) == 0);
}

static void check_request_for(const struct tu_frame *f, uint32_t tpa)
{
	check_arp(f, tu_bcast_mac, 1, tu_stack_mac, TU_STACK_IP, tu_zero_mac, tpa);
}

/* The peer asks who has TU_STACK_IP. */
static size_t peer_request(uint8_t *f, uint32_t tpa)
{
	return tu_arp_frame(f, tu_bcast_mac, 1, tu_peer_mac, TU_PEER_IP, tu_zero_mac, tpa);
}

/* The peer answers the stack's request with mac. */
static size_t peer_reply(uint8_t *f, const uint8_t mac[6])
{
	size_t n = tu_arp_frame(f, tu_stack_mac, 2, mac, TU_PEER_IP, tu_stack_mac, TU_STACK_IP);
	memcpy(f + 6, mac, 6);
	return n;
}

/* Check that f is our echo request (id, seq, data) to the peer's mac. */
static void check_echo_to(const struct tu_frame *f, const uint8_t mac[6], uint16_t id,
			  uint16_t seq, const uint8_t *data, size_t len)
{
	struct tu_ipv ip;
	if (!tu_parse_ip(f->data, f->len, &ip)) {
		CU_FAIL("not a valid IPv4 frame");
		return;
	}
	CU_ASSERT(memcmp(f->data, mac, 6) == 0);
	CU_ASSERT(memcmp(f->data + 6, tu_stack_mac, 6) == 0);
	CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
	CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(ip.proto, 1);
	CU_ASSERT_FATAL(ip.plen == 8 + len);
	CU_ASSERT_EQUAL(ip.payload[0], 8);
	CU_ASSERT_EQUAL(tu_get16(ip.payload + 4), id);
	CU_ASSERT_EQUAL(tu_get16(ip.payload + 6), seq);
	CU_ASSERT(memcmp(ip.payload + 8, data, len) == 0);
	CU_ASSERT_EQUAL(tu_csum(ip.payload, ip.plen), 0);
}

static void test_arp_reply_to_request(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	struct tu_frames out = { 0 };
	uint8_t f[64];
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);   /* nothing before us_stack_up() */
	tu_inject(&t, f, peer_request(f, TU_STACK_IP));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_arp(&out.f[0], tu_peer_mac, 2, tu_stack_mac, TU_STACK_IP, tu_peer_mac, TU_PEER_IP);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX_REQUESTS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REPLIES), 1);
	/* RFC 826: the request targeted us, so its sender is now in the cache. */
	uint8_t mac[6] = { 0 };
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, mac), ARP_REACHABLE);
	CU_ASSERT(memcmp(mac, tu_peer_mac, 6) == 0);

	/* The same request padded to the 60-byte Ethernet minimum. */
	memset(f, 0, sizeof f);
	peer_request(f, TU_STACK_IP);
	tu_frames_clear(&out);
	tu_inject(&t, f, 60);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_arp(&out.f[0], tu_peer_mac, 2, tu_stack_mac, TU_STACK_IP, tu_peer_mac, TU_PEER_IP);

	/* A unicast request (RFC 1122 2.3.2.1 revalidation) is answered too. */
	size_t n = peer_request(f, TU_STACK_IP);
	memcpy(f, tu_stack_mac, 6);
	tu_frames_clear(&out);
	tu_inject(&t, f, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_arp(&out.f[0], tu_peer_mac, 2, tu_stack_mac, TU_STACK_IP, tu_peer_mac, TU_PEER_IP);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REPLIES), 3);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_arp_ignore_other_target(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	uint8_t f[64];
	tu_inject(&t, f, peer_request(f, tu_ip(10, 0, 0, 99)));
	CU_ASSERT_EQUAL(tu_run(&t, SEC, NULL), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX_REQUESTS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_DROP_NOT_OURS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REPLIES), 0);
	/* Not for us and not known: RFC 826 does not add the sender. */
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_FREE);
	/* Sent to some other station's MAC: dropped at Ethernet. */
	size_t n = peer_request(f, TU_STACK_IP);
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x77 };
	memcpy(f, other, 6);
	tu_inject(&t, f, n);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ETH_DROP_NOT_OURS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX), 1);
	tu_close(&t);
}

static void test_arp_resolve_releases_queue(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	uint8_t d1[100], d2[37];
	tu_pattern(d1, sizeof d1, 1);
	tu_pattern(d2, sizeof d2, 2);

	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, d1, sizeof d1), 0);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 2, 0, d2, sizeof d2), 0);
	tu_collect(&t, &out);
	/* One broadcast request; nothing else until the answer. */
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_request_for(&out.f[0], TU_PEER_IP);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_CACHE_MISSES), 2);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_INCOMPLETE);
	CU_ASSERT(us_pool_available(&t.st->pool) < t.st->pool.total);   /* queued */

	/* 300 ms later the reply comes: both packets go, in order, to its MAC. */
	tu_run(&t, 300 * US_NS_PER_MS, NULL);
	uint8_t f[64];
	tu_frames_clear(&out);
	tu_inject(&t, f, peer_reply(f, tu_peer_mac));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 2);
	check_echo_to(&out.f[0], tu_peer_mac, id, 1, d1, sizeof d1);
	check_echo_to(&out.f[1], tu_peer_mac, id, 2, d2, sizeof d2);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX_REPLIES), 1);
	uint8_t mac[6];
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, mac), ARP_REACHABLE);
	CU_ASSERT(memcmp(mac, tu_peer_mac, 6) == 0);
	CU_ASSERT_TRUE(tu_no_leak(&t));

	/* Resolved: the next one goes at once, from the cache. */
	tu_frames_clear(&out);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 3, 0, d2, sizeof d2), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_echo_to(&out.f[0], tu_peer_mac, id, 3, d2, sizeof d2);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_CACHE_HITS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 1);

	/* No retry goes out after the answer. */
	tu_frames_clear(&out);
	tu_run(&t, 5 * SEC, &out);
	CU_ASSERT_EQUAL(tu_count_arp(&out, 1), 0);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_arp_retries_then_fail(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	uint64_t t0 = us_stack_now(t.st);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, "abc", 3), 0);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 2, 0, "defg", 4), 0);

	/* Requests at t0, t0+1s, t0+2s; nothing has failed just before t0+3s. */
	tu_run(&t, 3 * SEC - 1, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 3);
	for (int i = 0; i < 3; i++) {
		check_request_for(&out.f[i], TU_PEER_IP);
		CU_ASSERT_EQUAL(out.f[i].ts, t0 + (uint64_t)i * SEC);
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RESOLVE_FAILED), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_QUEUE_DROPS), 0);
	struct us_echo_reply rep;
	errno = 0;
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, NULL, 0, 0), -1);
	CU_ASSERT_EQUAL(errno, ETIMEDOUT);

	/* At t0+3s the queue fails: both packets, each reported to the endpoint. */
	tu_frames_clear(&out);
	tu_run(&t, 1, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RESOLVE_FAILED), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_QUEUE_DROPS), 2);
	for (uint16_t seq = 1; seq <= 2; seq++) {
		memset(&rep, 0, sizeof rep);
		CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, NULL, 0, 0), 0);
		CU_ASSERT_EQUAL(rep.error, EHOSTUNREACH);
		CU_ASSERT_EQUAL(rep.seq, seq);
		CU_ASSERT_EQUAL(rep.recv_ns, t0 + 3 * SEC);
	}
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, NULL, 0, 0), -1);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_FREE);
	CU_ASSERT_TRUE(tu_no_leak(&t));

	/* Given up: no more requests. */
	tu_frames_clear(&out);
	tu_run(&t, 10 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);

	/*
	 * A fragmented datagram (3 fragments at MTU 1500) fails as one: three
	 * buffers dropped, one error for the endpoint (about the first fragment).
	 */
	static uint8_t big[4000];
	tu_pattern(big, sizeof big, 3);
	t0 = us_stack_now(t.st);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 9, 0, big, sizeof big), 0);
	tu_frames_clear(&out);
	tu_run(&t, 3 * SEC, &out);
	CU_ASSERT_EQUAL(tu_count_arp(&out, 1), 3);
	CU_ASSERT_EQUAL(tu_count_ip(&out, 0), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RESOLVE_FAILED), 2);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_QUEUE_DROPS), 5);
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL(rep.error, EHOSTUNREACH);
	CU_ASSERT_EQUAL(rep.seq, 9);
	CU_ASSERT_EQUAL(us_ping_recv(t.st, h, &rep, NULL, 0, 0), -1);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

/* At most US_ARP_QUEUE_MAX packets wait; the oldest make room. */
static void test_arp_queue_limit(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	int extra = 6;
	for (int i = 0; i < US_ARP_QUEUE_MAX + extra; i++)
		CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, (uint16_t)i, 0, "q", 1), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_QUEUE_DROPS), (uint64_t)extra);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 1);
	uint8_t f[64];
	tu_inject(&t, f, peer_reply(f, tu_peer_mac));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(tu_count_arp(&out, 1), 1);
	CU_ASSERT_EQUAL(tu_count_ip(&out, 1), US_ARP_QUEUE_MAX);
	int k = extra;
	for (int i = 0; i < out.n; i++) {
		if (tu_is_arp(&out.f[i], 1))
			continue;
		check_echo_to(&out.f[i], tu_peer_mac, id, (uint16_t)k, (const uint8_t *)"q", 1);
		k++;
	}
	CU_ASSERT_EQUAL(k, US_ARP_QUEUE_MAX + extra);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

/* The cache is bounded (US_ARP_ENTRIES): one more refuses the packet, and frees it. */
static void test_arp_cache_full(void)
{
	char wire[US_PATH_MAX];
	struct us_config cfg;
	tu_wire_name(wire, sizeof wire, __func__);
	tu_config(&cfg, wire, NULL);
	cfg.ifaces[0].addrs[0].prefix = 16;
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	for (int i = 0; i < US_ARP_ENTRIES; i++) {
		struct in_addr dst = { tu_ip(10, 0, 1 + (unsigned)i / 200, 1 + (unsigned)i % 200) };
		CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, (uint16_t)i, 0, "c", 1), 0);
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), US_ARP_ENTRIES);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_CACHE_FULL), 0);
	struct in_addr more = { tu_ip(10, 0, 9, 9) };
	errno = 0;
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, more, 999, 0, "c", 1), -1);
	CU_ASSERT_EQUAL(errno, ENOBUFS);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_CACHE_FULL), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_QUEUE_DROPS), 1);
	CU_ASSERT_EQUAL(us_pool_available(&t.st->pool), t.st->pool.total - US_ARP_ENTRIES);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), US_ARP_ENTRIES);
	/* All fail after their three requests; the cache is empty again. */
	tu_run(&t, 3 * SEC, NULL);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RESOLVE_FAILED), US_ARP_ENTRIES);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 3 * US_ARP_ENTRIES);
	CU_ASSERT_TRUE(tu_no_leak(&t));
	struct tu_frames out = { 0 };
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, more, 1000, 0, "c", 1), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_request_for(&out.f[0], more.s_addr);
	tu_run(&t, 3 * SEC, NULL);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_arp_entry_expiry(void)
{
	struct tu_opts o = { .arp_timeout_s = 5 };
	struct tu t;
	if (!tu_open(&t, &o))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	uint8_t f[64];

	/* Learn the peer from its request at t_l. */
	uint64_t t_l = us_stack_now(t.st);
	tu_inject(&t, f, peer_request(f, TU_STACK_IP));
	tu_collect(&t, NULL);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_REACHABLE);

	/* Just before expiry: straight from the cache, no request. */
	tu_run(&t, 5 * SEC - US_NS_PER_MS, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, "a", 1), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_echo_to(&out.f[0], tu_peer_mac, id, 1, (const uint8_t *)"a", 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 0);

	/* At t_l + 5 s it has lapsed (a cache hit does not refresh it). */
	tu_frames_clear(&out);
	tu_run(&t, t_l + 5 * SEC - us_stack_now(t.st), &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(us_stack_now(t.st), t_l + 5 * SEC);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_FREE);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 2, 0, "b", 1), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_request_for(&out.f[0], TU_PEER_IP);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 1);

	/* Answered: the queued packet goes, and the new entry lasts 5 s again. */
	tu_frames_clear(&out);
	uint64_t t_r = us_stack_now(t.st);
	tu_inject(&t, f, peer_reply(f, tu_peer_mac));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_echo_to(&out.f[0], tu_peer_mac, id, 2, (const uint8_t *)"b", 1);
	tu_run(&t, 5 * SEC - 1, NULL);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_REACHABLE);
	tu_run(&t, 1, NULL);
	CU_ASSERT_EQUAL(us_stack_now(t.st), t_r + 5 * SEC);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_FREE);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_arp_static_entry(void)
{
	struct tu_opts o = { .arp_timeout_s = 5, .static_peer = true };
	struct tu t;
	if (!tu_open(&t, &o))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	uint8_t mac[6];
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, mac), ARP_STATIC);
	CU_ASSERT(memcmp(mac, tu_peer_mac, 6) == 0);

	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, "s", 1), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_echo_to(&out.f[0], tu_peer_mac, id, 1, (const uint8_t *)"s", 1);

	/* Far beyond the timeout: still there, still no request. */
	tu_frames_clear(&out);
	tu_run(&t, 60 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_STATIC);

	/* Another MAC claiming the address does not replace a static entry. */
	static const uint8_t spoof[6] = { 0x02, 0xba, 0xd0, 0, 0, 1 };
	uint8_t f[64];
	tu_inject(&t, f, peer_reply(f, spoof));
	tu_inject(&t, f, tu_arp_frame(f, tu_bcast_mac, 1, spoof, TU_PEER_IP, tu_zero_mac,
				      TU_STACK_IP));
	tu_frames_clear(&out);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, mac), ARP_STATIC);
	CU_ASSERT(memcmp(mac, tu_peer_mac, 6) == 0);

	tu_frames_clear(&out);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 2, 0, "t", 1), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_echo_to(&out.f[0], tu_peer_mac, id, 2, (const uint8_t *)"t", 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_CACHE_MISSES), 0);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

/* RFC 826 merge: a known sender is updated by any packet, an unknown one not added. */
static void test_arp_merge(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	uint8_t f[64];
	tu_inject(&t, f, peer_request(f, TU_STACK_IP));
	tu_collect(&t, NULL);
	/* The peer moves to a new MAC and announces it (gratuitous, not for us). */
	static const uint8_t moved[6] = { 0x02, 0, 0, 0, 0x22, 0x22 };
	tu_inject(&t, f, tu_arp_frame(f, tu_bcast_mac, 1, moved, TU_PEER_IP, tu_zero_mac,
				      TU_PEER_IP));
	uint8_t mac[6];
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, mac), ARP_REACHABLE);
	CU_ASSERT(memcmp(mac, moved, 6) == 0);
	/* A stranger's announcement is not cached. */
	static const uint8_t stranger[6] = { 0x02, 0, 0, 0, 0x33, 0x33 };
	uint32_t sip = tu_ip(10, 0, 0, 3);
	tu_inject(&t, f, tu_arp_frame(f, tu_bcast_mac, 1, stranger, sip, tu_zero_mac, sip));
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, sip, NULL), ARP_FREE);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	/* A stranger's reply aimed at us is (the packet targets us). */
	tu_inject(&t, f, tu_arp_frame(f, tu_stack_mac, 2, stranger, sip, tu_stack_mac,
				      TU_STACK_IP));
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, sip, mac), ARP_REACHABLE);
	CU_ASSERT(memcmp(mac, stranger, 6) == 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_close(&t);
}

static void test_arp_gratuitous_on_up(void)
{
	char wire[US_PATH_MAX];
	struct us_config cfg;
	tu_wire_name(wire, sizeof wire, __func__);
	tu_config(&cfg, wire, NULL);
	uint32_t second = tu_ip(192, 168, 9, 9);
	cfg.ifaces[0].addrs[1].addr.s_addr = second;
	cfg.ifaces[0].addrs[1].prefix = 24;
	cfg.ifaces[0].naddrs = 2;
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	struct tu_frames out = { 0 };
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	CU_ASSERT_EQUAL(us_stack_up(t.st), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 2);
	check_arp(&out.f[0], tu_bcast_mac, 1, tu_stack_mac, TU_STACK_IP, tu_zero_mac, TU_STACK_IP);
	check_arp(&out.f[1], tu_bcast_mac, 1, tu_stack_mac, second, tu_zero_mac, second);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_GRATUITOUS), 2);
	/* Announcements are not resolutions: nothing follows. */
	tu_frames_clear(&out);
	tu_run(&t, 5 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_arp_malformed(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	uint8_t f[64];
	uint64_t expect = 0;
	for (int c = 0; c < 8; c++) {
		size_t n = peer_request(f, TU_STACK_IP);
		uint8_t *a = f + TU_ETH_HLEN;
		switch (c) {
		case 0: n = TU_ETH_HLEN + 27; break;                 /* truncated */
		case 1: tu_put16(a, 6); break;                       /* htype IEEE 802 */
		case 2: tu_put16(a + 2, 0x86dd); break;              /* ptype IPv6 */
		case 3: a[4] = 8; break;                             /* hlen */
		case 4: a[5] = 16; break;                            /* plen */
		case 5: tu_put16(a + 6, 3); break;                   /* RARP request */
		case 6: memset(a + 8, 0xff, 6); break;               /* sha broadcast */
		case 7: memset(a + 14, 0xff, 4); break;              /* spa broadcast */
		}
		tu_inject(&t, f, n);
		expect++;
		CU_ASSERT_EQUAL(TU_STAT(&t, ARP_DROP_MALFORMED), expect);
		CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX), expect);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REPLIES), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_RX_REQUESTS), 0);
	CU_ASSERT_EQUAL(us_arp_lookup(&t.st->arp, TU_PEER_IP, NULL), ARP_FREE);
	/* Shorter than an Ethernet header. */
	tu_inject(&t, f, 10);
	CU_ASSERT_EQUAL(TU_STAT(&t, ETH_DROP_SHORT), 1);
	/* And a well-formed request still works afterwards. */
	tu_inject(&t, f, peer_request(f, TU_STACK_IP));
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REPLIES), 1);
	tu_close(&t);
}

US_SUITE(arp, NULL, NULL,
	 US_TEST(test_arp_reply_to_request),
	 US_TEST(test_arp_ignore_other_target),
	 US_TEST(test_arp_resolve_releases_queue),
	 US_TEST(test_arp_retries_then_fail),
	 US_TEST(test_arp_queue_limit),
	 US_TEST(test_arp_cache_full),
	 US_TEST(test_arp_entry_expiry),
	 US_TEST(test_arp_static_entry),
	 US_TEST(test_arp_merge),
	 US_TEST(test_arp_gratuitous_on_up),
	 US_TEST(test_arp_malformed));
