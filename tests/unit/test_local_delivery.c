/*
 * test_local_delivery.c — a stack reaches its own addresses and 127/8
 * through its built-in loopback interface "lo" (core/netif.h), as Linux
 * does: ICMP echo, UDP and TCP, in deterministic mode (frames on lo are
 * delivered by the caller's us_stack_advance/poll) and threaded (lo's own
 * receive thread). Nothing of it may appear on the wire: no ARP request
 * for our own address, no frame at all. And 127/8 arriving from a wire is
 * a martian: dropped and counted.
 *
 * Before lo existed each of these failed: our own address resolved to the
 * connected subnet's interface, ARP asked the wire for it three times and
 * the send failed with EHOSTUNREACH after 3 s; 127/8 had no route at all.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "sockutil.h"
#include "stackutil.h"

#define LOOP_IP tu_ip(127, 0, 0, 1)

/* A deterministic test stack, up, its gratuitous ARP taken off the wire. */
static bool open_up(struct tu *t, bool static_peer, const char *tag)
{
	struct tu_opts o = { .static_peer = static_peer };
	if (!tu_open_tag(t, &o, tag))
		return false;
	CU_ASSERT_EQUAL(us_stack_up(t->st), 0);
	tu_collect(t, NULL);
	return true;
}

/* One counter of the built-in lo, found by its name. */
static uint64_t lo_stat(us_stack *st, enum us_ifstat_id id)
{
	int lo = us_stack_iface_index(st, "lo");
	CU_ASSERT(lo >= us_stack_nifaces(st));   /* not one of the configured */
	uint64_t v[US_IFSTAT__COUNT];
	CU_ASSERT_EQUAL_FATAL(us_stack_iface_stats(st, lo, v), 0);
	return v[id];
}

/* Ping dst from st (deterministic): the reply's sender, or 0 if none came. */
static uint32_t det_ping(struct tu *t, uint32_t dst, uint16_t seq)
{
	uint16_t id;
	int h = us_ping_open(t->st, &id);
	CU_ASSERT_FATAL(h >= 0);
	uint8_t data[40], back[64];
	tu_pattern(data, sizeof data, seq);
	struct in_addr d = { dst };
	CU_ASSERT_EQUAL(us_ping_send(t->st, h, d, seq, 0, data, sizeof data), 0);
	struct tu_frames wire = { 0 };
	tu_run(t, US_NS_PER_MS, &wire);
	CU_ASSERT_EQUAL(wire.n, 0);     /* nothing on the wire, not even ARP */
	tu_frames_free(&wire);
	struct us_echo_reply rep;
	uint32_t from = 0;
	if (us_ping_recv(t->st, h, &rep, back, sizeof back, 0) == 0) {
		CU_ASSERT_EQUAL(rep.error, 0);
		CU_ASSERT_EQUAL(rep.seq, seq);
		CU_ASSERT_EQUAL(rep.len, sizeof data);
		CU_ASSERT_EQUAL(memcmp(back, data, sizeof data), 0);
		from = rep.from.s_addr;
	}
	us_ping_close(t->st, h);
	return from;
}

static void test_lo_ping_own_address_deterministic(void)
{
	struct tu t;
	struct tu_opts o = { 0 };
	if (!tu_open(&t, &o))
		return;
	CU_ASSERT_EQUAL(us_stack_up(t.st), 0);
	tu_collect(&t, NULL);   /* the gratuitous ARP */
	CU_ASSERT_EQUAL(det_ping(&t, TU_STACK_IP, 1), TU_STACK_IP);
	CU_ASSERT_EQUAL(det_ping(&t, LOOP_IP, 2), LOOP_IP);
	/* Anything in 127/8 is ours (Linux's local route for lo is the /8). */
	CU_ASSERT_EQUAL(det_ping(&t, tu_ip(127, 1, 2, 3), 3), tu_ip(127, 1, 2, 3));
	CU_ASSERT_EQUAL(lo_stat(t.st, US_IFSTAT_TX_FRAMES), 6);    /* 3 requests, 3 replies */
	CU_ASSERT_EQUAL(lo_stat(t.st, US_IFSTAT_RX_FRAMES), 6);
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ETH_TX_FRAMES), 1); /* the gratuitous ARP only */
	tu_close(&t);
}

/* The source address the stack picks: our address to itself, 127.0.0.1 in 127/8. */
static void test_lo_udp_deterministic(void)
{
	struct tu t;
	if (!open_up(&t, false, __func__))
		return;
	int srv = su_udp(t.st, 0, 5000);
	int cli = su_udp(t.st, 0, 0);
	CU_ASSERT_FATAL(srv >= 0 && cli >= 0);
	uint16_t cport = su_port(t.st, cli);
	const uint32_t dsts[] = { TU_STACK_IP, LOOP_IP, tu_ip(127, 9, 9, 9) };
	const uint32_t srcs[] = { TU_STACK_IP, LOOP_IP, LOOP_IP };
	for (int i = 0; i < 3; i++) {
		char msg[32], buf[64];
		int n = snprintf(msg, sizeof msg, "datagram %d", i);
		CU_ASSERT_EQUAL(su_sendto(t.st, cli, msg, (size_t)n, dsts[i], 5000), n);
		struct tu_frames wire = { 0 };
		tu_run(&t, US_NS_PER_MS, &wire);
		CU_ASSERT_EQUAL(wire.n, 0);
		tu_frames_free(&wire);
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = us_recvfrom(t.st, srv, buf, sizeof buf, MSG_DONTWAIT, SU_SA(from), &fl);
		CU_ASSERT_EQUAL(r, n);
		CU_ASSERT(r == n && memcmp(buf, msg, (size_t)n) == 0);
		CU_ASSERT_EQUAL(from.sin_addr.s_addr, srcs[i]);
		CU_ASSERT_EQUAL(ntohs(from.sin_port), cport);
	}
	/* A closed port on our own address: port unreachable comes back over lo. */
	int c2 = su_udp(t.st, 0, 0);
	struct sockaddr_in closed = su_sin(TU_STACK_IP, 5999);
	CU_ASSERT_EQUAL(us_connect(t.st, c2, SU_SA(closed), sizeof closed), 0);
	CU_ASSERT_EQUAL(us_send(t.st, c2, "x", 1, 0), 1);
	tu_run(&t, US_NS_PER_MS, NULL);
	char b;
	SU_ERR(us_recv(t.st, c2, &b, 1, MSG_DONTWAIT), ECONNREFUSED);
	us_close(t.st, c2);
	us_close(t.st, cli);
	us_close(t.st, srv);
	tu_close(&t);
}

static void test_lo_tcp_deterministic(void)
{
	struct tu t;
	if (!open_up(&t, false, __func__))
		return;
	us_stack *st = t.st;
	int l = us_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in la = su_sin(0, 8080);
	SU_OK(us_bind(st, l, SU_SA(la), sizeof la));
	SU_OK(us_listen(st, l, 4));
	const uint32_t dsts[] = { TU_STACK_IP, LOOP_IP };
	for (int k = 0; k < 2; k++) {
		int c = us_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in ra = su_sin(dsts[k], 8080);
		SU_ERR(us_connect(st, c, SU_SA(ra), sizeof ra), EINPROGRESS);
		struct tu_frames wire = { 0 };
		tu_run(&t, 10 * US_NS_PER_MS, &wire);
		CU_ASSERT_EQUAL(wire.n, 0);
		tu_frames_free(&wire);
		struct sockaddr_in pa;
		socklen_t pl = sizeof pa;
		int a = us_accept(st, l, SU_SA(pa), &pl);
		CU_ASSERT_FATAL(a >= 0);
		CU_ASSERT_EQUAL(pa.sin_addr.s_addr, dsts[k]);   /* from itself */
		int soerr = -1;
		socklen_t el = sizeof soerr;
		SU_OK(us_getsockopt(st, c, SOL_SOCKET, SO_ERROR, &soerr, &el));
		CU_ASSERT_EQUAL(soerr, 0);
		SU_ERR(us_connect(st, c, SU_SA(ra), sizeof ra), EISCONN);  /* established */
		static uint8_t up[100000], down[50000], got[100000];
		tu_pattern(up, sizeof up, 7 + (unsigned)k);
		tu_pattern(down, sizeof down, 9 + (unsigned)k);
		size_t sent_up = 0, sent_down = 0, got_up = 0, got_down = 0;
		for (int round = 0; round < 2000 && (got_up < sizeof up || got_down < sizeof down);
		     round++) {
			ssize_t r;
			if (sent_up < sizeof up &&
			    (r = us_send(st, c, up + sent_up, sizeof up - sent_up, 0)) > 0)
				sent_up += (size_t)r;
			if (sent_down < sizeof down &&
			    (r = us_send(st, a, down + sent_down, sizeof down - sent_down, 0)) > 0)
				sent_down += (size_t)r;
			tu_run(&t, US_NS_PER_MS, NULL);
			while ((r = us_recv(st, a, got + got_up, sizeof got - got_up, 0)) > 0) {
				CU_ASSERT(memcmp(got + got_up, up + got_up, (size_t)r) == 0);
				got_up += (size_t)r;
			}
			while (got_down < sizeof down &&
			       (r = us_recv(st, c, got, sizeof down - got_down, 0)) > 0) {
				CU_ASSERT(memcmp(got, down + got_down, (size_t)r) == 0);
				got_down += (size_t)r;
			}
		}
		CU_ASSERT_EQUAL(got_up, sizeof up);
		CU_ASSERT_EQUAL(got_down, sizeof down);
		us_close(st, c);
		us_close(st, a);
		tu_run(&t, 200 * US_NS_PER_MS, NULL);
	}
	us_close(st, l);
	tu_run(&t, 120ULL * US_NS_PER_SEC, NULL);   /* TIME_WAIT ends */
	CU_ASSERT_EQUAL(TU_STAT(&t, ARP_TX_REQUESTS), 0);
	tu_close(&t);
}

/*
 * A socket bound to A:P connecting to A:P meets its own SYN: simultaneous
 * open (RFC 9293 3.5), established with itself, and what it sends it reads
 * back, as on Linux (the "TCP self-connect").
 */
static void test_lo_tcp_self_connect(void)
{
	struct tu t;
	if (!open_up(&t, false, __func__))
		return;
	int c = us_socket(t.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in me = su_sin(TU_STACK_IP, 5000);
	SU_OK(us_bind(t.st, c, SU_SA(me), sizeof me));
	SU_ERR(us_connect(t.st, c, SU_SA(me), sizeof me), EINPROGRESS);
	tu_run(&t, 100 * US_NS_PER_MS, NULL);
	int err = -1;
	socklen_t el = sizeof err;
	SU_OK(us_getsockopt(t.st, c, SOL_SOCKET, SO_ERROR, &err, &el));
	CU_ASSERT_EQUAL(err, 0);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	SU_OK(us_getpeername(t.st, c, SU_SA(peer), &pl));
	CU_ASSERT_EQUAL(peer.sin_addr.s_addr, TU_STACK_IP);
	CU_ASSERT_EQUAL(ntohs(peer.sin_port), 5000);
	CU_ASSERT_EQUAL(us_send(t.st, c, "to myself", 9, 0), 9);
	tu_run(&t, 100 * US_NS_PER_MS, NULL);
	char b[16];
	CU_ASSERT_EQUAL(us_recv(t.st, c, b, sizeof b, 0), 9);
	CU_ASSERT(memcmp(b, "to myself", 9) == 0);
	us_close(t.st, c);
	tu_run(&t, 200ULL * US_NS_PER_SEC, NULL);
	tu_close(&t);
}

/*
 * 127/8 from a wire is a martian (RFC 1122 3.2.1.3; Linux drops it too),
 * and so is our own address as a source (Linux: accept_local 0).
 */
static void test_lo_martians_from_wire_dropped(void)
{
	struct tu t;
	if (!open_up(&t, true, __func__))
		return;
	uint8_t icmp[64], f[128];
	size_t il = tu_icmp_echo(icmp, 8, 0x1234, 1, "hello", 5);
	struct tu_iph h = tu_iph_peer(1);
	h.dst = LOOP_IP;
	size_t fl = tu_ip_frame(f, &h, icmp, il);
	tu_inject(&t, f, fl);
	h = tu_iph_peer(1);
	h.src = LOOP_IP;
	fl = tu_ip_frame(f, &h, icmp, il);
	tu_inject(&t, f, fl);
	struct tu_frames out = { 0 };
	tu_run(&t, 10 * US_NS_PER_MS, &out);
	CU_ASSERT_EQUAL(out.n, 0);      /* no reply to either */
	tu_frames_free(&out);
	/* From our own address (spoofed) to our own UDP port: not delivered,
	 * so no echo service could answer itself for ever over lo. */
	int u = su_udp(t.st, 0, 7);
	uint8_t udp[64];
	size_t ul = tu_udp(udp, TU_STACK_IP, TU_STACK_IP, 7, 7, "loop", 4);
	h = tu_iph_peer(17);
	h.src = TU_STACK_IP;
	fl = tu_ip_frame(f, &h, udp, ul);
	tu_inject(&t, f, fl);
	tu_run(&t, 10 * US_NS_PER_MS, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	tu_frames_free(&out);
	char b[8];
	SU_ERR(us_recv(t.st, u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	us_close(t.st, u);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_DROP_MARTIAN), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_RX), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_RX), 0);
	/* The same echo to our real address is answered (the control). */
	h = tu_iph_peer(1);
	fl = tu_ip_frame(f, &h, icmp, il);
	tu_inject(&t, f, fl);
	tu_run(&t, 10 * US_NS_PER_MS, &out);
	CU_ASSERT_EQUAL(tu_find_icmp(&out, 0, 0) >= 0, true);
	tu_frames_free(&out);
	tu_close(&t);
}

/* RFC 6761 6.3: localhost names are 127.0.0.1 without asking DNS (none is configured). */
static void test_lo_localhost_resolves(void)
{
	struct tu t;
	if (!open_up(&t, false, __func__))
		return;
	static const char *const yes[] = { "localhost", "LocalHost.", "a.b.localhost" };
	static const char *const no[] = { "xlocalhost", "localhost.example", "localhos" };
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		struct addrinfo *res = NULL;
		CU_ASSERT_EQUAL(us_getaddrinfo(t.st, yes[i], "80", &hints, &res), 0);
		if (res) {
			struct sockaddr_in *sa = (struct sockaddr_in *)res->ai_addr;
			CU_ASSERT_EQUAL(sa->sin_addr.s_addr, LOOP_IP);
			CU_ASSERT_EQUAL(ntohs(sa->sin_port), 80);
			us_freeaddrinfo(res);
		}
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		struct addrinfo *res = NULL;
		CU_ASSERT_EQUAL(us_getaddrinfo(t.st, no[i], "80", &hints, &res), EAI_NONAME);
	}
	tu_close(&t);
}

/* ---- threaded: lo's receive thread delivers ------------------------------ */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct pump_arg {
	us_stack *st;
	int fd;
	const uint8_t *data;
	size_t len;
	size_t done;
};

static void *send_all(void *p)
{
	struct pump_arg *a = p;
	while (a->done < a->len) {
		ssize_t r = us_send(a->st, a->fd, a->data + a->done, a->len - a->done, 0);
		if (r <= 0)
			break;
		a->done += (size_t)r;
	}
	return NULL;
}

static void test_lo_threaded(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	us_stack *st = p.a;
	/* Ping our own address and 127.0.0.1. */
	uint16_t id;
	int h = us_ping_open(st, &id);
	CU_ASSERT_FATAL(h >= 0);
	const uint32_t pdst[] = { SU_A_IP, LOOP_IP };
	for (int i = 0; i < 2; i++) {
		struct in_addr d = { pdst[i] };
		uint64_t t0 = mono_ms();
		CU_ASSERT_EQUAL(us_ping_send(st, h, d, (uint16_t)i, 0, "abcdefgh", 8), 0);
		struct us_echo_reply rep;
		char buf[16];
		CU_ASSERT_EQUAL(us_ping_recv(st, h, &rep, buf, sizeof buf, 2000), 0);
		CU_ASSERT_EQUAL(rep.error, 0);
		CU_ASSERT_EQUAL(rep.from.s_addr, pdst[i]);
		CU_ASSERT(mono_ms() - t0 < 1000);
	}
	us_ping_close(st, h);

	/* TCP, blocking: connect to our own listener, 2 MB up while 1 MB comes down. */
	int l = us_socket(st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in la = su_sin(0, 7007);
	SU_OK(us_bind(st, l, SU_SA(la), sizeof la));
	SU_OK(us_listen(st, l, 4));
	int c = us_socket(st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ra = su_sin(SU_A_IP, 7007);
	uint64_t t0 = mono_ms();
	SU_OK(us_connect(st, c, SU_SA(ra), sizeof ra));
	CU_ASSERT(mono_ms() - t0 < 1000);
	int a = us_accept(st, l, NULL, NULL);
	CU_ASSERT_FATAL(a >= 0);
	static uint8_t up[2 << 20], down[1 << 20], got[2 << 20];
	tu_pattern(up, sizeof up, 21);
	tu_pattern(down, sizeof down, 22);
	struct pump_arg pu = { st, c, up, sizeof up, 0 }, pd = { st, a, down, sizeof down, 0 };
	pthread_t tu_th, td_th;
	CU_ASSERT_FATAL(pthread_create(&tu_th, NULL, send_all, &pu) == 0);
	CU_ASSERT_FATAL(pthread_create(&td_th, NULL, send_all, &pd) == 0);
	size_t n_up = 0, n_down = 0;
	struct timeval tv = { 10, 0 };
	us_setsockopt(st, a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	us_setsockopt(st, c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (n_down < sizeof down) {
		ssize_t r = us_recv(st, c, got, sizeof down - n_down, 0);
		if (r <= 0)
			break;
		CU_ASSERT(memcmp(got, down + n_down, (size_t)r) == 0);
		n_down += (size_t)r;
	}
	while (n_up < sizeof up) {
		ssize_t r = us_recv(st, a, got + n_up, sizeof up - n_up, 0);
		if (r <= 0)
			break;
		n_up += (size_t)r;
	}
	pthread_join(tu_th, NULL);
	pthread_join(td_th, NULL);
	CU_ASSERT_EQUAL(n_down, sizeof down);
	CU_ASSERT_EQUAL(n_up, sizeof up);
	CU_ASSERT(memcmp(got, up, sizeof up) == 0);
	us_close(st, c);
	us_close(st, a);
	us_close(st, l);
	CU_ASSERT(lo_stat(st, US_IFSTAT_TX_FRAMES) > 1000);
	su_close(&p);
}

US_SUITE(local_delivery, NULL, NULL,
	 US_TEST(test_lo_ping_own_address_deterministic),
	 US_TEST(test_lo_udp_deterministic),
	 US_TEST(test_lo_tcp_deterministic),
	 US_TEST(test_lo_tcp_self_connect),
	 US_TEST(test_lo_martians_from_wire_dropped),
	 US_TEST(test_lo_localhost_resolves),
	 US_TEST(test_lo_threaded));
