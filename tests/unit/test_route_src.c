/*
 * test_route_src.c — source address selection for senders not bound to
 * an address (core/ipv4.c us_ipv4_route), as Linux does it: a route's
 * src: (prefsrc) first; else the outgoing interface's address on the next
 * hop's subnet; else that interface's first address.
 *
 * One deterministic stack, eth0 with two addresses, 10.0.0.1/24 and
 * 10.0.5.1/24, and the peer 10.0.0.2 (static ARP) as the gateway:
 *   192.0.2.0/24    via 10.0.0.2 src 10.0.5.1
 *   198.51.100.0/24 via 10.0.0.2              (gateway's subnet: 10.0.0.1)
 *   203.0.113.0/24  via 10.0.5.2              (gateway's subnet: 10.0.5.1)
 *   10.0.7.0/24     interface eth0            (no subnet of ours: the first)
 * What is checked is what goes on the wire: the source of an unbound UDP
 * socket's datagram and of an unbound TCP socket's SYN, read by the test's
 * own parser.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

static bool rs_open(struct tu *t, const char *tag)
{
	struct us_config cfg;
	char wire[96];
	tu_wire_name(wire, sizeof wire, tag);
	struct tu_opts o = { .static_peer = true };
	tu_config(&cfg, wire, &o);
	struct us_iface_config *ifc = &cfg.ifaces[0];
	ifc->addrs[1].addr.s_addr = tu_ip(10, 0, 5, 1);
	ifc->addrs[1].prefix = 24;
	ifc->naddrs = 2;
	/* Every next hop answers at the peer's MAC: no ARP to wait for. */
	uint32_t hops[] = { tu_ip(10, 0, 5, 2), tu_ip(10, 0, 5, 9), tu_ip(10, 0, 0, 9),
			    tu_ip(10, 0, 7, 9) };
	for (int i = 0; i < 4; i++) {
		cfg.arp_static[1 + i].addr.s_addr = hops[i];
		memcpy(cfg.arp_static[1 + i].mac, tu_peer_mac, 6);
	}
	cfg.narp_static = 5;
	struct { uint32_t to, via; uint32_t src; bool iface; } r[] = {
		{ tu_ip(192, 0, 2, 0), TU_PEER_IP, tu_ip(10, 0, 5, 1), false },
		{ tu_ip(198, 51, 100, 0), TU_PEER_IP, 0, false },
		{ tu_ip(203, 0, 113, 0), tu_ip(10, 0, 5, 2), 0, false },
		{ tu_ip(10, 0, 7, 0), 0, 0, true },
	};
	for (int i = 0; i < 4; i++) {
		struct us_route_config *rc = &cfg.routes[i];
		rc->to.addr.s_addr = r[i].to;
		rc->to.prefix = 24;
		rc->via.s_addr = r[i].via;
		rc->src.s_addr = r[i].src;
		if (r[i].iface)
			snprintf(rc->iface, sizeof rc->iface, "eth0");
	}
	cfg.nroutes = 4;
	if (!tu_open_cfg(t, &cfg))
		return false;
	CU_ASSERT_EQUAL(us_stack_up(t->st), 0);
	tu_run(t, 1000, NULL);
	return true;
}

/* The source of the first IPv4 frame with proto in l, or 0. */
static uint32_t first_src(const struct tu_frames *l, uint8_t proto)
{
	for (int i = 0; i < l->n; i++) {
		struct tu_ipv ip;
		if (tu_parse_ip(l->f[i].data, l->f[i].len, &ip) && ip.proto == proto)
			return ip.src;
	}
	return 0;
}

static uint32_t udp_src_to(struct tu *t, uint32_t dst)
{
	struct tu_frames out = { 0 };
	int fd = us_socket(t->st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = dst };
	CU_ASSERT_EQUAL(us_sendto(t->st, fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to), 1);
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	CU_ASSERT_EQUAL(us_getsockname(t->st, fd, (struct sockaddr *)&me, &ml), 0);
	CU_ASSERT_EQUAL(me.sin_addr.s_addr, 0);        /* still unbound to an address */
	tu_run(t, 1000, &out);
	us_close(t->st, fd);
	uint32_t s = first_src(&out, 17);
	tu_frames_free(&out);
	return s;
}

static uint32_t tcp_src_to(struct tu *t, uint32_t dst)
{
	struct tu_frames out = { 0 };
	int fd = us_socket(t->st, AF_INET, SOCK_STREAM, 0);
	us_fcntl(t->st, fd, F_SETFL, O_NONBLOCK);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = dst };
	CU_ASSERT_EQUAL(us_connect(t->st, fd, (struct sockaddr *)&to, sizeof to), -1);
	tu_run(t, 1000, &out);
	us_close(t->st, fd);
	tu_run(t, 1000, NULL);
	uint32_t s = first_src(&out, 6);
	tu_frames_free(&out);
	return s;
}

static void test_route_src_udp(void)
{
	struct tu t;
	if (!rs_open(&t, __func__))
		return;
	CU_ASSERT_EQUAL(udp_src_to(&t, tu_ip(192, 0, 2, 9)), tu_ip(10, 0, 5, 1));    /* src: */
	CU_ASSERT_EQUAL(udp_src_to(&t, tu_ip(198, 51, 100, 9)), tu_ip(10, 0, 0, 1)); /* gw's subnet */
	CU_ASSERT_EQUAL(udp_src_to(&t, tu_ip(203, 0, 113, 9)), tu_ip(10, 0, 5, 1));  /* gw's subnet */
	CU_ASSERT_EQUAL(udp_src_to(&t, tu_ip(10, 0, 5, 9)), tu_ip(10, 0, 5, 1));     /* connected */
	CU_ASSERT_EQUAL(udp_src_to(&t, tu_ip(10, 0, 0, 9)), tu_ip(10, 0, 0, 1));
	CU_ASSERT_EQUAL(udp_src_to(&t, tu_ip(10, 0, 7, 9)), tu_ip(10, 0, 0, 1));     /* the first */
	tu_close(&t);
}

static void test_route_src_tcp(void)
{
	struct tu t;
	if (!rs_open(&t, __func__))
		return;
	CU_ASSERT_EQUAL(tcp_src_to(&t, tu_ip(192, 0, 2, 9)), tu_ip(10, 0, 5, 1));
	CU_ASSERT_EQUAL(tcp_src_to(&t, tu_ip(198, 51, 100, 9)), tu_ip(10, 0, 0, 1));
	CU_ASSERT_EQUAL(tcp_src_to(&t, tu_ip(203, 0, 113, 9)), tu_ip(10, 0, 5, 1));
	tu_close(&t);
}

static void test_route_src_config(void)
{
	static const char good[] = "interfaces:\n"
				   "  eth0: {backend: tap, device: tap0, addresses: [10.0.0.1/24, 10.0.5.1/24]}\n"
				   "routes:\n"
				   "  - {to: default, via: 10.0.0.2, src: 10.0.5.1}\n";
	static const char bad[] = "interfaces:\n"
				  "  eth0: {backend: tap, device: tap0, addresses: [10.0.0.1/24]}\n"
				  "routes:\n"
				  "  - {to: default, via: 10.0.0.2, src: 10.0.5.1}\n";
	struct us_config cfg;
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(us_config_load_string("t.yaml", good, strlen(good), &cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.routes[0].src.s_addr, tu_ip(10, 0, 5, 1));
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", bad, strlen(bad), &cfg, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:5: route to default: src 10.0.5.1 is not an address of any interface");
}

US_SUITE(route_src, NULL, NULL,
	 US_TEST(test_route_src_udp),
	 US_TEST(test_route_src_tcp),
	 US_TEST(test_route_src_config));
