/*
 * test_rx_batch.c — readers are woken once per receive batch, not once
 * per segment (suite "rx_batch").
 *
 * Whoever consumes a receive queue (receive thread, busy poller, the
 * deterministic driver us_stack_poll) reads a run of frames and processes
 * them; a socket that receives several of them is woken (us_sock_wake:
 * its wake_seq counts every wake-up) once, at the end of the run. Before,
 * every segment woke a sleeping reader again: one futex wake-up and one
 * context switch per segment in bulk receive.
 *
 * TCP also acknowledges a batch's in-order data once, at its end.
 *
 * One deterministic stack; the test queues frames on its end of the pair
 * wire without letting the stack run, then lets it run once, so that the
 * stack reads them all in one batch (us_netif_poll).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "tcputil.h"
#include "socket.h"

enum { MSS = 1460 };

/* How many wake-ups the socket behind fd has had (us_sock_wake calls that woke). */
static uint32_t wakes(struct tu *t, int fd)
{
	struct us_sock *s = us_sock_get(t->st, fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	uint32_t v = atomic_load(&s->wake_seq);
	us_sock_put(s);
	return v;
}

/* Put a frame on the wire towards the stack without letting it run. */
static void queue_frame(struct tu *t, const void *f, size_t len)
{
	CU_ASSERT_EQUAL(us_pair_send(t->peer, us_stack_now(t->st), f, len), 0);
}

static void queue_udp(struct tu *t, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	uint8_t udp[256], f[512];
	size_t ul = tu_udp(udp, TU_PEER_IP, TU_STACK_IP, sport, dport, data, len);
	struct tu_iph h = tu_iph_peer(17);
	queue_frame(t, f, tu_ip_frame(f, &h, udp, ul));
}

static int udp_bound(struct tu *t, uint16_t port)
{
	int fd = us_socket(t->st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	CU_ASSERT_EQUAL_FATAL(us_bind(t->st, fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/*
 * A passive connection whose quick-ACK start (Linux's: the first 16 or
 * so segments ACKed at once) is over: 40 full-sized segments, one per
 * poll, read by the application as they come. Returns the descriptor.
 */
static int bulk_conn(struct tu *t, struct tc_peer *p, int *lfd)
{
	*lfd = tc_listen(t, 80, 8);
	tc_peer_init(p, t, 40000, 80, 1000);
	int fd = tc_open_passive(p, *lfd, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	static uint8_t seg[MSS], sink[MSS];
	memset(seg, 'q', sizeof seg);
	for (int i = 0; i < 40; i++) {
		tc_peer_send(p, TC_ACK, seg, MSS);
		CU_ASSERT_EQUAL(us_recv(t->st, fd, sink, sizeof sink, MSG_DONTWAIT), MSS);
	}
	tc_collect(t, NULL);
	return fd;
}

/* Queue one full-sized segment at seq (not moving the peer's snd_nxt). */
static void queue_seg(struct tu *t, const struct tc_peer *p, uint32_t seq)
{
	static uint8_t data[MSS], f[2048];
	memset(data, 'b', sizeof data);
	struct tc_seg s = tc_peer_seg(p, TC_ACK, data, MSS);
	s.seq = seq;
	queue_frame(t, f, tc_frame(f, &s));
}

/* Pure ACKs (no data, no SYN/FIN/RST) among o's segments. */
static int pure_acks(const struct tc_out *o)
{
	int n = 0;
	for (int i = 0; i < o->n; i++)
		n += o->seg[i].flags == TC_ACK && o->seg[i].len == 0;
	return n;
}

/*
 * n in-order full-sized segments queued and read in one batch by a bulk
 * connection; *o gets what the stack sent for them, *start the first
 * segment's sequence number. Returns with the connection still open:
 * batch_close ends it.
 */
struct batch {
	struct us_config cfg;
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	uint32_t start;
	struct tc_out o;
};

static bool batch_run(struct batch *b, int n, const char *tag)
{
	memset(b, 0, sizeof *b);
	tc_config(&b->cfg, 0, tag);
	if (!tu_open_cfg(&b->t, &b->cfg))
		return false;
	b->fd = bulk_conn(&b->t, &b->p, &b->lfd);
	b->start = b->p.snd_nxt;
	for (int i = 0; i < n; i++)
		queue_seg(&b->t, &b->p, b->start + (uint32_t)i * MSS);
	b->p.snd_nxt += (uint32_t)n * MSS;
	us_stack_poll(b->t.st);
	tc_collect(&b->t, &b->o);
	return true;
}

static void batch_close(struct batch *b)
{
	tc_out_free(&b->o);
	us_close(b->t.st, b->fd);
	us_close(b->t.st, b->lfd);
	tu_run(&b->t, 5 * TC_SEC, NULL);
	tu_close(&b->t);
}

/*
 * Eight in-order full-sized segments in one batch: one ACK, for all of
 * them, at the batch's end (as Linux ACKs a GRO aggregate once), where
 * an ACK per second segment went before (4).
 */
static void test_tcp_one_ack_per_batch(void)
{
	struct batch b;
	if (!batch_run(&b, 8, __func__))
		return;
	CU_ASSERT_EQUAL(pure_acks(&b.o), 1);
	CU_ASSERT_EQUAL(b.o.n, 1);
	if (b.o.n == 1)
		CU_ASSERT_EQUAL(b.o.seg[0].ack, b.p.snd_nxt);
	batch_close(&b);
}

/*
 * A batch of in-order full-sized segments filling the window (44 of them,
 * 64,240 bytes: the peer scales no window, so the stack offers at most
 * 65,535) is not ACKed only at its end: as GRO's 64 KB aggregates, at most
 * 64 KB or half the offered window goes unACKed, so here more than one
 * ACK, none more than half the window plus a segment past the one before,
 * the last for everything. Fails with one ACK per batch whatever its size
 * (the sender would wait for the batch's end with its window used up).
 */
static void test_tcp_batch_ack_capped(void)
{
	struct batch b;
	if (!batch_run(&b, 44, __func__))
		return;
	int acks = pure_acks(&b.o);
	CU_ASSERT(acks >= 2 && acks <= 4);
	uint32_t prev = b.start;
	for (int i = 0; i < b.o.n; i++) {
		CU_ASSERT(b.o.seg[i].ack - prev <= 65535 / 2 + MSS);
		prev = b.o.seg[i].ack;
	}
	CU_ASSERT_EQUAL(prev, b.p.snd_nxt);
	batch_close(&b);
}

/*
 * A hole in a batch is not waited for: each segment beyond it is
 * acknowledged at once (duplicate ACKs with SACK, RFC 5681 4.2), and the
 * batch's end adds nothing.
 */
static void test_tcp_dupacks_not_deferred(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	struct tc_peer p;
	int lfd, fd = bulk_conn(&t, &p, &lfd);
	uint32_t s0 = p.snd_nxt;
	queue_seg(&t, &p, s0);
	queue_seg(&t, &p, s0 + MSS);
	queue_seg(&t, &p, s0 + 3 * MSS);        /* s0 + 2 MSS is missing */
	queue_seg(&t, &p, s0 + 4 * MSS);
	us_stack_poll(t.st);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 2);
	for (int i = 0; i < o.n; i++)
		CU_ASSERT_EQUAL(o.seg[i].ack, s0 + 2 * MSS);
	tc_out_free(&o);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tu_run(&t, 5 * TC_SEC, NULL);
	tu_close(&t);
}

/* Eight data segments read in one batch: the connection's reader is woken
 * once, and every byte is there. */
static void test_tcp_segments_one_wake_per_batch(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	struct tc_peer p;
	int lfd, fd = tc_open_conn(&t, &cfg, &(struct tc_conn_spec){ .lport = 80, .pport = 40000,
								     .piss = 1000 }, &p, &lfd);
	if (fd < 0)
		return;
	tc_collect(&t, NULL);
	uint32_t w0 = wakes(&t, fd);

	enum { SEGS = 8, LEN = 1000 };
	static uint8_t data[SEGS * LEN];
	tu_pattern(data, sizeof data, 7);
	for (int i = 0; i < SEGS; i++) {
		uint8_t f[2048];
		struct tc_seg s = tc_peer_seg(&p, TC_ACK | TC_PSH, data + i * LEN, LEN);
		queue_frame(&t, f, tc_frame(f, &s));
		p.snd_nxt += LEN;
	}
	us_stack_poll(t.st);
	CU_ASSERT_EQUAL(wakes(&t, fd) - w0, 1);

	static uint8_t got[SEGS * LEN + 1];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, got, sizeof got, MSG_DONTWAIT), SEGS * LEN);
	CU_ASSERT(memcmp(got, data, sizeof data) == 0);
	tc_collect(&t, NULL);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tu_run(&t, 5 * TC_SEC, NULL);
	tu_close(&t);
}

/* Datagrams for two sockets, interleaved in one batch: one wake-up each. */
static void test_udp_interleaved_one_wake_each(void)
{
	struct tu_opts o = { .static_peer = true };
	struct tu t;
	if (!tu_open(&t, &o))
		return;
	int a = udp_bound(&t, 7001), b = udp_bound(&t, 7002);
	uint32_t wa = wakes(&t, a), wb = wakes(&t, b);
	for (int i = 0; i < 4; i++) {
		queue_udp(&t, 5000, 7001, "aaaa", 4);
		queue_udp(&t, 5000, 7002, "bbbb", 4);
	}
	us_stack_poll(t.st);
	CU_ASSERT_EQUAL(wakes(&t, a) - wa, 1);
	CU_ASSERT_EQUAL(wakes(&t, b) - wb, 1);
	char buf[16];
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(us_recv(t.st, a, buf, sizeof buf, MSG_DONTWAIT), 4);
		CU_ASSERT_EQUAL(us_recv(t.st, b, buf, sizeof buf, MSG_DONTWAIT), 4);
	}
	CU_ASSERT_EQUAL(us_recv(t.st, a, buf, sizeof buf, MSG_DONTWAIT), -1);
	us_close(t.st, a);
	us_close(t.st, b);
	tu_close(&t);
}

/*
 * More sockets in one batch than a batch notes (US_WAKE_BATCH): the rest
 * are woken at once; none is left without its wake-up. A batch has at
 * most as many frames as a batch notes sockets, so this takes broadcasts:
 * each datagram to 10.0.0.255 goes to every socket bound to its port (up
 * to 32, udp.c), here 3 ports of 24 sockets each.
 */
static void test_batch_overflow_wakes_every_socket(void)
{
	struct tu_opts o = { .static_peer = true };
	struct tu t;
	if (!tu_open(&t, &o))
		return;
	enum { PORTS = 3, PER = 24, N = PORTS * PER };
	CU_ASSERT_FATAL(N > US_WAKE_BATCH);
	int fd[N];
	uint32_t w[N];
	for (int i = 0; i < N; i++) {
		fd[i] = us_socket(t.st, AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_FATAL(fd[i] >= 0);
		int one = 1;
		CU_ASSERT_EQUAL(us_setsockopt(t.st, fd[i], SOL_SOCKET, SO_REUSEADDR, &one,
					      sizeof one), 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)(7100 + i % PORTS)) };
		CU_ASSERT_EQUAL_FATAL(us_bind(t.st, fd[i], (struct sockaddr *)&a, sizeof a), 0);
		w[i] = wakes(&t, fd[i]);
	}
	for (int k = 0; k < PORTS; k++) {
		uint8_t udp[64], f[128];
		size_t ul = tu_udp(udp, TU_PEER_IP, TU_BCAST_IP, 5000, (uint16_t)(7100 + k), "x", 1);
		struct tu_iph h = tu_iph_peer(17);
		h.dst = TU_BCAST_IP;
		queue_frame(&t, f, tu_ip_frame(f, &h, udp, ul));
	}
	us_stack_poll(t.st);
	int woken = 0;
	for (int i = 0; i < N; i++)
		woken += wakes(&t, fd[i]) - w[i] == 1;
	CU_ASSERT_EQUAL(woken, N);
	char buf[4];
	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(us_recv(t.st, fd[i], buf, sizeof buf, MSG_DONTWAIT), 1);
		us_close(t.st, fd[i]);
	}
	tu_close(&t);
}

US_SUITE(rx_batch, NULL, NULL,
	 US_TEST(test_tcp_segments_one_wake_per_batch),
	 US_TEST(test_udp_interleaved_one_wake_each),
	 US_TEST(test_batch_overflow_wakes_every_socket),
	 US_TEST(test_tcp_one_ack_per_batch),
	 US_TEST(test_tcp_batch_ack_capped),
	 US_TEST(test_tcp_dupacks_not_deferred));
