/*
 * test_route.c — the routing table (core/route.h): longest prefix first,
 * then the lowest metric, then the order added; connected routes from the
 * interface addresses; gateways as next hops, seen on the wire as the
 * address ARP asks for.
 *
 * The first tests use a bare table (no stack, so no buffers to leak); the
 * others build a stack and end with its leak check.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

static struct us_route_table tbl;

static void tbl_init(void)
{
	us_route_init(&tbl);
}

/* Look dst up; returns the ifindex found, or -1 (errno checked by callers). */
static int route_if(uint32_t dst)
{
	struct us_route r;
	memset(&r, 0xee, sizeof r);
	if (us_route_lookup(&tbl, dst, &r) < 0)
		return -1;
	return r.ifindex;
}

static void test_route_longest_prefix(void)
{
	tbl_init();
	/* Added in a scrambled order; ifindex tells which one matched. */
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 1, 0, 0), 16, 0, 0, 2), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 1, 2, 3), 32, 0, 0, 4), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 0, 0, 0), 8, 0, 0, 1), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 1, 2, 0), 24, 0, 0, 3), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 1, 2, 128), 25, 0, 0, 5), 0);

	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 3)), 4);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 4)), 3);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 127)), 3);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 128)), 5);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 255)), 5);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 3, 1)), 2);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 255, 255)), 2);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 2, 0, 1)), 1);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 255, 255, 255)), 1);
	errno = 0;
	CU_ASSERT_EQUAL(route_if(tu_ip(11, 0, 0, 1)), -1);
	CU_ASSERT_EQUAL(errno, ENETUNREACH);

	/* The entry returned is the route itself. */
	struct us_route r;
	CU_ASSERT_EQUAL(us_route_lookup(&tbl, tu_ip(10, 1, 2, 200), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 25);
	CU_ASSERT_EQUAL(r.dst, 0x0a010280u);    /* host order, masked */
	CU_ASSERT_EQUAL(r.gw, 0);
	us_route_destroy(&tbl);
}

static void test_route_metric(void)
{
	tbl_init();
	uint32_t gw_a = tu_ip(192, 168, 0, 1), gw_b = tu_ip(192, 168, 0, 2);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(172, 16, 0, 0), 12, gw_a, 20, 1), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(172, 16, 0, 0), 12, gw_b, 10, 2), 0);
	struct us_route r;
	CU_ASSERT_EQUAL(us_route_lookup(&tbl, tu_ip(172, 20, 1, 1), &r), 0);
	CU_ASSERT_EQUAL(r.ifindex, 2);
	CU_ASSERT_EQUAL(r.gw, gw_b);
	CU_ASSERT_EQUAL(r.metric, 10);

	/* A longer prefix beats a lower metric. */
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(172, 20, 0, 0), 16, gw_a, 500, 3), 0);
	CU_ASSERT_EQUAL(route_if(tu_ip(172, 20, 1, 1)), 3);
	CU_ASSERT_EQUAL(route_if(tu_ip(172, 21, 1, 1)), 2);

	/* Equal prefix and metric: the one added first. */
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 9, 0, 0), 16, gw_a, 7, 4), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 9, 0, 0), 16, gw_b, 7, 5), 0);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 9, 9, 9)), 4);
	us_route_destroy(&tbl);
}

static void test_route_default(void)
{
	tbl_init();
	uint32_t gw = tu_ip(10, 0, 0, 254);
	CU_ASSERT_EQUAL(us_route_add(&tbl, 0, 0, gw, 0, 1), 0);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 0, 0, 0), 24, 0, 0, 0), 0);
	struct us_route r;
	CU_ASSERT_EQUAL(us_route_lookup(&tbl, tu_ip(8, 8, 8, 8), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 0);
	CU_ASSERT_EQUAL(r.gw, gw);
	CU_ASSERT_EQUAL(route_if(tu_ip(255, 255, 255, 254)), 1);
	CU_ASSERT_EQUAL(route_if(tu_ip(0, 0, 0, 1)), 1);
	CU_ASSERT_EQUAL(us_route_lookup(&tbl, tu_ip(10, 0, 0, 9), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 24);
	CU_ASSERT_EQUAL(r.gw, 0);
	us_route_destroy(&tbl);
}

static void test_route_none(void)
{
	tbl_init();
	struct us_route r;
	errno = 0;
	CU_ASSERT_EQUAL(us_route_lookup(&tbl, tu_ip(10, 0, 0, 1), &r), -1);
	CU_ASSERT_EQUAL(errno, ENETUNREACH);
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 0, 0, 0), 8, 0, 0, 0), 0);
	errno = 0;
	CU_ASSERT_EQUAL(us_route_lookup(&tbl, tu_ip(192, 168, 1, 1), &r), -1);
	CU_ASSERT_EQUAL(errno, ENETUNREACH);
	us_route_destroy(&tbl);
}

static void test_route_host_bits_and_limits(void)
{
	tbl_init();
	/* Host bits in the destination are ignored (the route is masked). */
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 1, 2, 77), 24, 0, 0, 6), 0);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 5)), 6);
	errno = 0;
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(10, 0, 0, 0), 33, 0, 0, 0), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	/* One route so far: fill the table to its limit. */
	for (int i = 1; i < US_ROUTES_MAX; i++)
		CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(20, 0, (unsigned)i, 0), 24, 0, 0, 1), 0);
	errno = 0;
	CU_ASSERT_EQUAL(us_route_add(&tbl, tu_ip(30, 0, 0, 0), 8, 0, 0, 1), -1);
	CU_ASSERT_EQUAL(errno, ENOSPC);
	CU_ASSERT_EQUAL(route_if(tu_ip(10, 1, 2, 5)), 6);
	us_route_destroy(&tbl);
}

/* A stack with two subnets on eth0, a static route and a default route. */
static bool open_routed(struct tu *t, bool with_default)
{
	char wire[US_PATH_MAX];
	struct us_config cfg;
	tu_wire_name(wire, sizeof wire, "route");
	tu_config(&cfg, wire, NULL);
	cfg.ifaces[0].addrs[1].addr.s_addr = tu_ip(192, 168, 50, 1);
	cfg.ifaces[0].addrs[1].prefix = 16;
	cfg.ifaces[0].naddrs = 2;
	cfg.routes[0].to.addr.s_addr = tu_ip(172, 16, 0, 0);
	cfg.routes[0].to.prefix = 12;
	cfg.routes[0].via.s_addr = tu_ip(10, 0, 0, 254);
	cfg.routes[0].metric = 5;
	cfg.nroutes = 1;
	if (with_default) {
		cfg.routes[1].to.addr.s_addr = 0;
		cfg.routes[1].to.prefix = 0;
		cfg.routes[1].via.s_addr = tu_ip(192, 168, 0, 9);
		cfg.nroutes = 2;
	}
	return tu_open_cfg(t, &cfg);
}

static void test_route_connected(void)
{
	struct tu t;
	if (!open_routed(&t, true))
		return;
	struct us_route r;
	CU_ASSERT_EQUAL(us_route_lookup(&t.st->routes, tu_ip(10, 0, 0, 77), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 24);
	CU_ASSERT_EQUAL(r.gw, 0);
	CU_ASSERT_EQUAL(r.ifindex, 0);
	CU_ASSERT_EQUAL(us_route_lookup(&t.st->routes, tu_ip(192, 168, 7, 7), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 16);
	CU_ASSERT_EQUAL(r.gw, 0);
	CU_ASSERT_EQUAL(us_route_lookup(&t.st->routes, tu_ip(172, 20, 1, 1), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 12);
	CU_ASSERT_EQUAL(r.gw, tu_ip(10, 0, 0, 254));
	CU_ASSERT_EQUAL(us_route_lookup(&t.st->routes, tu_ip(8, 8, 8, 8), &r), 0);
	CU_ASSERT_EQUAL(r.prefix, 0);
	CU_ASSERT_EQUAL(r.gw, tu_ip(192, 168, 0, 9));

	/* Next hop and source address as upper layers get them. */
	int ifi = -1;
	uint32_t nh = 0, src = 0;
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, tu_ip(10, 0, 0, 77), &ifi, &nh, &src), 0);
	CU_ASSERT_EQUAL(ifi, 0);
	CU_ASSERT_EQUAL(nh, tu_ip(10, 0, 0, 77));
	CU_ASSERT_EQUAL(src, TU_STACK_IP);
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, tu_ip(192, 168, 7, 7), &ifi, &nh, &src), 0);
	CU_ASSERT_EQUAL(nh, tu_ip(192, 168, 7, 7));
	CU_ASSERT_EQUAL(src, tu_ip(192, 168, 50, 1));
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, tu_ip(172, 20, 1, 1), &ifi, &nh, &src), 0);
	CU_ASSERT_EQUAL(nh, tu_ip(10, 0, 0, 254));
	CU_ASSERT_EQUAL(src, TU_STACK_IP);
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, tu_ip(8, 8, 8, 8), &ifi, &nh, &src), 0);
	CU_ASSERT_EQUAL(nh, tu_ip(192, 168, 0, 9));
	CU_ASSERT_EQUAL(src, tu_ip(192, 168, 50, 1));
	tu_close(&t);
}

/* Reading an ARP request's target protocol address. */
static uint32_t arp_tpa(const struct tu_frame *f)
{
	uint32_t a;
	memcpy(&a, f->data + TU_ETH_HLEN + 24, 4);
	return a;
}

static void test_route_gateway_on_wire(void)
{
	struct tu t;
	if (!open_routed(&t, true))
		return;
	struct tu_frames out = { 0 };
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { tu_ip(172, 17, 3, 4) };
	uint8_t data[32];
	tu_pattern(data, sizeof data, 1);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, data, sizeof data), 0);
	tu_collect(&t, &out);
	/* ARP asks for the gateway, not for the destination. */
	CU_ASSERT_EQUAL(out.n, 1);
	CU_ASSERT(out.n >= 1 && tu_is_arp(&out.f[0], 1));
	CU_ASSERT(out.n >= 1 && arp_tpa(&out.f[0]) == tu_ip(10, 0, 0, 254));

	/* The gateway answers; the echo request goes to its MAC, still to dst. */
	static const uint8_t gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x0f, 0xe0 };
	uint8_t f[64];
	size_t n = tu_arp_frame(f, tu_stack_mac, 2, gw_mac, tu_ip(10, 0, 0, 254), tu_stack_mac,
				TU_STACK_IP);
	tu_frames_clear(&out);
	tu_inject(&t, f, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 1);
	struct tu_ipv ip;
	if (out.n >= 1 && tu_parse_ip(out.f[0].data, out.f[0].len, &ip)) {
		CU_ASSERT(memcmp(out.f[0].data, gw_mac, 6) == 0);
		CU_ASSERT_EQUAL(ip.dst, dst.s_addr);
		CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
		CU_ASSERT_EQUAL(ip.proto, 1);
	} else {
		CU_FAIL("no IPv4 frame after the gateway's ARP reply");
	}

	/* The default route's gateway sits on the second subnet. */
	tu_frames_clear(&out);
	dst.s_addr = tu_ip(8, 8, 4, 4);
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 2, 0, data, sizeof data), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 1);
	if (out.n >= 1) {
		CU_ASSERT(tu_is_arp(&out.f[0], 1));
		CU_ASSERT_EQUAL(arp_tpa(&out.f[0]), tu_ip(192, 168, 0, 9));
		uint32_t spa;
		memcpy(&spa, out.f[0].data + TU_ETH_HLEN + 14, 4);
		CU_ASSERT_EQUAL(spa, tu_ip(192, 168, 50, 1));
	}
	/* Let the unanswered resolution fail so its queue drains. */
	tu_run(&t, 4 * US_NS_PER_SEC, NULL);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_route_no_route(void)
{
	struct tu t;
	if (!open_routed(&t, false))
		return;
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { tu_ip(203, 0, 113, 5) };
	errno = 0;
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, ENETUNREACH);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_NO_ROUTE), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX_ECHO_REQ), 0);
	CU_ASSERT_EQUAL(tu_run(&t, US_NS_PER_SEC, NULL), 0);
	int ifi;
	uint32_t nh, src;
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, dst.s_addr, &ifi, &nh, &src), -ENETUNREACH);
	us_ping_close(t.st, h);
	tu_close(&t);
}

US_SUITE(route, NULL, NULL,
	 US_TEST(test_route_longest_prefix),
	 US_TEST(test_route_metric),
	 US_TEST(test_route_default),
	 US_TEST(test_route_none),
	 US_TEST(test_route_host_bits_and_limits),
	 US_TEST(test_route_connected),
	 US_TEST(test_route_gateway_on_wire),
	 US_TEST(test_route_no_route));
