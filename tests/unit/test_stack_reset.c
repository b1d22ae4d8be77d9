/*
 * test_stack_reset.c — us_stack_reset() (suite "stack_reset"): a
 * deterministic stack that lived through anything, once reset, behaves
 * byte for byte as a stack just made by us_stack_new() from the same
 * config. The whole-stack fuzzer (tests/fuzz/fuzz_stack.c) relies on it
 * to run each input on a stack in a known state without rebuilding one.
 *
 * The reference is not the code's own output copied in: it is what a new
 * stack sends for the same scenario in the same test run, compared with
 * what the reset one sends (every frame, every byte, every timestamp).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tcputil.h"

/*
 * The scenario: a passive open with timestamps and window scale, data
 * both ways, an active open (ephemeral port, ISN), a UDP datagram to a
 * closed port (ICMP error: IP ID), a ping, a UDP datagram from an
 * ephemeral port (a random draw), then 2 s of timers. Everything
 * the stack sends goes to out.
 */
static void scenario(struct tu *t, struct tc_out *out)
{
	CU_ASSERT_EQUAL(us_stack_up(t->st), 0);
	tc_run(t, 1500 * TC_MS, out);
	int lfd = tc_listen(t, 80, 4);
	CU_ASSERT_EQUAL(lfd, 0);            /* descriptors are numbered from 0 again */
	struct tc_peer p;
	tc_peer_init(&p, t, 40000, 80, 1000);
	struct tc_seg syn = { .has_mss = true, .mss = 1400, .has_wscale = true, .wscale = 7,
			      .sack_ok = true, .has_ts = true, .tsval = 555 };
	int fd = tc_open_passive(&p, lfd, &syn);
	tc_peer_send(&p, TC_ACK | TC_PSH, "hello", 5);
	tc_run(t, 100 * TC_MS, out);
	char buf[16];
	CU_ASSERT_EQUAL(us_recv(t->st, fd, buf, sizeof buf, 0), 5);
	CU_ASSERT_EQUAL(us_send(t->st, fd, "world", 5, 0), 5);
	tc_collect(t, out);

	struct tc_peer a;
	tc_peer_init(&a, t, 8080, 0, 77777);
	int afd = tc_open_active(&a, NULL);

	uint8_t f[128], u[32];
	size_t ul = tu_udp(u, TU_PEER_IP, TU_STACK_IP, 5000, 9999, "x", 1);
	struct tu_iph h = tu_iph_peer(17);
	tu_inject(t, f, tu_ip_frame(f, &h, u, ul));
	uint16_t id;
	int ph = us_ping_open(t->st, &id);
	struct in_addr dst = { TU_PEER_IP };
	CU_ASSERT_EQUAL(us_ping_send(t->st, ph, dst, 1, 0, "ping", 4), 0);
	/* A UDP socket's ephemeral port is a random draw made now. */
	int ufd = us_socket(t->st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(53),
				  .sin_addr.s_addr = TU_PEER_IP };
	CU_ASSERT_EQUAL(us_sendto(t->st, ufd, "q", 1, 0, (struct sockaddr *)&to, sizeof to), 1);
	tc_run(t, 2 * TC_SEC, out);
	us_ping_close(t->st, ph);
	us_close(t->st, ufd);
	(void)afd;
}

static bool same_frames(const struct tu_frames *a, const struct tu_frames *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->f[i].ts != b->f[i].ts || a->f[i].len != b->f[i].len ||
		    memcmp(a->f[i].data, b->f[i].data, a->f[i].len) != 0)
			return false;
	return true;
}

static void test_stack_reset_as_new(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	struct tc_out ref = { 0 }, got = { 0 };
	scenario(&t, &ref);
	CU_ASSERT(ref.frames.n >= 8);       /* SYN-ACK, ACKs, data, SYN, ICMP, ping, ... */
	static uint64_t ref_stats[US_STAT__COUNT], got_stats[US_STAT__COUNT];
	us_stack_stats(t.st, ref_stats);

	/*
	 * A different history: sockets left open with data queued and
	 * unacknowledged, a listener with an embryo, a fragment pending, an
	 * ARP entry learned, counters and clock moved on.
	 */
	int lfd = tc_listen(&t, 81, 4);
	struct tc_peer p;
	tc_peer_init(&p, &t, 41000, 81, 5);
	int fd = tc_open_passive(&p, lfd, NULL);
	static char big[20000];
	CU_ASSERT(us_send(t.st, fd, big, sizeof big, 0) > 0);
	struct tc_seg s2 = tc_peer_seg(&p, TC_SYN, NULL, 0);
	s2.sport = 41001;
	s2.seq = 9;
	tc_inject(&t, &s2);
	uint8_t f[1600], frag[600];
	memset(frag, 0xab, sizeof frag);
	struct tu_iph h = tu_iph_peer(17);
	h.mf = true;
	tu_inject(&t, f, tu_ip_frame(f, &h, frag, 512));
	uint8_t other_mac[6] = { 2, 0, 0, 0, 0, 9 };
	tu_inject(&t, f, tu_arp_frame(f, tu_stack_mac, 2, other_mac, tu_ip(10, 0, 0, 9),
				      tu_stack_mac, TU_STACK_IP));
	int ufd = us_socket(t.st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT(ufd >= 0);
	tu_run(&t, 3 * TC_SEC, NULL);
	CU_ASSERT(us_stack_now(t.st) > 0);

	CU_ASSERT_EQUAL(us_stack_reset(t.st), 0);
	tu_collect(&t, NULL);               /* what the teardown sent (RSTs) */
	CU_ASSERT_EQUAL(us_stack_now(t.st), US_NS_PER_SEC);   /* where a new virtual clock starts */
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_RX), 0);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 0);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	CU_ASSERT(tu_no_leak(&t));

	scenario(&t, &got);
	CU_ASSERT_EQUAL(got.frames.n, ref.frames.n);
	CU_ASSERT(same_frames(&ref.frames, &got.frames));
	/* Every counter too. */
	us_stack_stats(t.st, got_stats);
	for (int i = 0; i < US_STAT__COUNT; i++)
		if (got_stats[i] != ref_stats[i]) {
			fprintf(stderr, "counter %d: %llu after reset, %llu new\n", i,
				(unsigned long long)got_stats[i], (unsigned long long)ref_stats[i]);
			CU_FAIL("a counter differs after reset");
		}
	tc_out_free(&ref);
	tc_out_free(&got);
	tu_close(&t);
}

/* A datagram still queued on lo when the stack is reset never arrives. */
static void test_stack_reset_empties_lo(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	tu_run(&t, 5 * TC_SEC, NULL);
	int ufd = us_socket(t.st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(9999),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	/* Queued on lo, delivered only by the next poll (or step of the clock). */
	CU_ASSERT_EQUAL(us_sendto(t.st, ufd, "x", 1, 0, (struct sockaddr *)&lo, sizeof lo), 1);
	CU_ASSERT_EQUAL(us_stack_reset(t.st), 0);
	tu_run(&t, 60 * TC_SEC, NULL);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_RX), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX), 0);       /* no port unreachable for it */
	tu_close(&t);
}

static void test_stack_reset_threaded_refused(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	char err[128];
	us_stack *st = us_stack_new(&cfg, 0, err, sizeof err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	errno = 0;
	CU_ASSERT_EQUAL(us_stack_reset(st), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	us_stack_free(st);
}

US_SUITE(stack_reset, NULL, NULL,
	 US_TEST(test_stack_reset_as_new),
	 US_TEST(test_stack_reset_empties_lo),
	 US_TEST(test_stack_reset_threaded_refused));
