/*
 * test_tcp_reconnect.c — a socket whose connection ended (reset by the
 * peer, or timed out) and that connects again (suite "tcp_reconnect").
 *
 * Nothing of the old connection may reach the new one (issue 8 item 1):
 * not its unacknowledged bytes or queued FIN (the new connection would
 * send them), not the bytes received but unread or the out-of-order
 * ranges (the application would read them as the new peer's), not its
 * shutdown flags (send would fail with EPIPE), not its RTT estimate (RFC
 * 6298 2.1: a new connection starts with the initial RTO). Linux purges
 * the queues in tcp_reset/tcp_done and resets the rest in tcp_disconnect.
 *
 * A deterministic stack (10.0.0.1) faces the test's peer (10.0.0.2) on a
 * pair wire (tcputil.h); defaults: initial RTO 1 s, rto_min 200 ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "sockutil.h"
#include "tcp.h"
#include "tcputil.h"

#define PORT1 5001              /* the first connection's peer port */
#define PORT2 5002              /* the second one's */
#define PISS  1000u             /* both peers' ISS: the second reuses the first's sequence space */

static uint8_t old_tx[3000], old_rx[100], old_ooo[100], new_rx[450];

static void patterns(void)
{
	tu_pattern(old_tx, sizeof old_tx, 11);
	tu_pattern(old_rx, sizeof old_rx, 12);
	tu_pattern(old_ooo, sizeof old_ooo, 13);
	tu_pattern(new_rx, sizeof new_rx, 14);
}

/* Connect fd (again) to the peer p: returns the SYN the stack sent. */
static bool connect_syn(struct tc_peer *p, int fd, struct tc_parsed *syn, struct tc_out *o)
{
	struct tu *t = p->t;
	struct sockaddr_in a = su_sin(TU_PEER_IP, p->port);
	errno = 0;
	int rc = us_connect(t->st, fd, SU_SA(a), sizeof a);
	CU_ASSERT(rc == -1 && errno == EINPROGRESS);
	tc_out_clear(o);
	tc_collect(t, o);
	if (o->n != 1 || o->seg[0].flags != TC_SYN) {
		CU_FAIL("connect_syn: no SYN");
		return false;
	}
	*syn = o->seg[0];
	syn->data = NULL;
	p->stack_port = syn->sport;
	tc_peer_saw(p, syn);
	return true;
}

/* The peer answers the SYN (no options but MSS 1460); the stack's ACK is collected. */
static void answer_synack(struct tc_peer *p, struct tc_out *o)
{
	struct tc_seg s = { .has_mss = true, .mss = 1460 };
	s.sport = p->port;
	s.dport = p->stack_port;
	s.seq = p->iss;
	s.ack = p->rcv_nxt;
	s.flags = TC_SYN | TC_ACK;
	s.win = p->win;
	tc_inject(p->t, &s);
	p->snd_nxt = p->iss + 1;
	tc_out_clear(o);
	tc_collect(p->t, o);
	int k = tc_find(o, 0, TC_ACK);
	CU_ASSERT(k >= 0);
	if (k >= 0)
		tc_peer_saw(p, &o->seg[k]);
}

/*
 * The new connection, up: nothing of the old one is sent (no data, no
 * FIN) or read; the new peer's bytes are read exactly; send works.
 */
static void check_fresh(struct tu *t, struct tc_peer *p2, int fd, struct tc_out *o)
{
	CU_ASSERT_EQUAL(tc_state(t, fd), TCPS_ESTABLISHED);
	tc_out_clear(o);
	tc_run(t, 5 * TC_SEC, o);
	for (int i = 0; i < o->n; i++) {
		CU_ASSERT_EQUAL(o->seg[i].len, 0);
		CU_ASSERT(!(o->seg[i].flags & (TC_FIN | TC_RST)));
	}
	uint8_t b[1024];
	errno = 0;
	CU_ASSERT_EQUAL(us_recv(t->st, fd, b, sizeof b, MSG_DONTWAIT), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	/* The new peer's first bytes land exactly where an old out-of-order
	 * range (1401-1500) would have joined them. */
	tc_peer_send(p2, TC_ACK | TC_PSH, new_rx, sizeof new_rx);
	tc_out_clear(o);
	tc_run(t, 100 * TC_MS, o);
	ssize_t n = us_recv(t->st, fd, b, sizeof b, MSG_DONTWAIT);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof new_rx);
	CU_ASSERT(n > 0 && memcmp(b, new_rx, sizeof new_rx) == 0);
	/* Send works (the old shutdown is gone) and sends only the new bytes. */
	CU_ASSERT_EQUAL(us_send(t->st, fd, "fresh", 5, 0), 5);
	tc_out_clear(o);
	tc_collect(t, o);
	int k = -1;
	for (int i = 0; i < o->n; i++)
		if (o->seg[i].len)
			k = k < 0 ? i : k;
	CU_ASSERT_FATAL(k >= 0);
	CU_ASSERT_EQUAL(o->seg[k].seq, p2->stack_iss + 1);
	CU_ASSERT_EQUAL(o->seg[k].len, 5);
	CU_ASSERT(memcmp(o->seg[k].data, "fresh", 5) == 0);
}

/*
 * The first connection: an RTT sample of 700 ms from the handshake (RTO 2.1 s), 100 bytes
 * received and not read, 100 out of order after a hole, 3000 bytes sent
 * and never acknowledged, and a FIN queued behind them (shutdown).
 */
static int dirty_connection(struct tu *t, struct tc_peer *p1, struct tc_out *o)
{
	tc_peer_init(p1, t, PORT1, 0, PISS);
	int fd = us_socket(t->st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct tc_parsed syn;
	if (!connect_syn(p1, fd, &syn, o))
		return -1;
	/* The SYN-ACK comes 700 ms later (before the 1 s RTO): the first sample. */
	tc_out_clear(o);
	tc_run(t, 700 * TC_MS, o);
	CU_ASSERT_EQUAL(o->n, 0);
	answer_synack(p1, o);
	CU_ASSERT_EQUAL(tc_state(t, fd), TCPS_ESTABLISHED);
	struct us_sock *s = us_sock_get(t->st, fd);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(s->tcb->rto_us, 2100000);       /* SRTT 700, RTTVAR 350 */
	us_sock_put(s);
	tc_peer_send(p1, TC_ACK | TC_PSH, old_rx, sizeof old_rx);
	struct tc_seg ooo = tc_peer_seg(p1, TC_ACK, old_ooo, sizeof old_ooo);
	ooo.seq += 300;                                 /* 1401-1500, after a hole */
	tc_inject(t, &ooo);
	CU_ASSERT_EQUAL(us_send(t->st, fd, old_tx, sizeof old_tx, 0), (ssize_t)sizeof old_tx);
	CU_ASSERT_EQUAL(us_shutdown(t->st, fd, SHUT_WR), 0);
	tc_out_clear(o);
	tc_collect(t, o);
	CU_ASSERT(o->n >= 2);
	return fd;
}

/*
 * The dirty connection ends by a RST from the peer (by_timeout false) or
 * by running out of retries (ETIMEDOUT); the same descriptor connects to
 * another peer port and must get a fresh connection.
 */
static void reconnect_case(bool by_timeout, const char *tag)
{
	patterns();
	struct us_config cfg;
	tc_config(&cfg, 0, tag);
	cfg.tcp.retries = 2;
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	tu_run(&t, TC_SEC, NULL);
	struct tc_out o = { 0 };
	struct tc_peer p1, p2;
	int fd = dirty_connection(&t, &p1, &o);
	CU_ASSERT_FATAL(fd >= 0);
	if (by_timeout)
		tc_run(&t, 60 * TC_SEC, NULL);
	else
		tc_peer_send(&p1, TC_RST, NULL, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	int e = 0;
	socklen_t el = sizeof e;
	CU_ASSERT_EQUAL(us_getsockopt(t.st, fd, SOL_SOCKET, SO_ERROR, &e, &el), 0);
	CU_ASSERT_EQUAL(e, by_timeout ? ETIMEDOUT : ECONNRESET);
	/* Connect the same descriptor elsewhere. */
	tc_peer_init(&p2, &t, PORT2, 0, PISS);
	struct tc_parsed syn;
	CU_ASSERT_FATAL(connect_syn(&p2, fd, &syn, &o));
	/* RFC 6298 2.1: the new connection starts from the initial RTO (1 s),
	 * not the old connection's 2.1 s (or its backed-off value). */
	tc_out_clear(&o);
	tc_run(&t, 3 * TC_SEC, &o);
	int k = tc_find(&o, 0, TC_SYN);
	CU_ASSERT_FATAL(k >= 0);
	CU_ASSERT_EQUAL(o.seg[k].seq, syn.seq);
	CU_ASSERT_EQUAL(o.seg[k].time - syn.time, (uint64_t)cfg.tcp.rto_initial_ms * TC_MS);
	answer_synack(&p2, &o);
	check_fresh(&t, &p2, fd, &o);
	CU_ASSERT_EQUAL(us_close(t.st, fd), 0);
	tc_out_free(&o);
	tu_run(&t, 30ULL * 60 * TC_SEC, NULL);
	tu_close(&t);
}

static void test_reconnect_after_rst_starts_fresh(void)
{
	reconnect_case(false, __func__);
}

static void test_reconnect_after_timeout_starts_fresh(void)
{
	reconnect_case(true, __func__);
}

/*
 * The ACK policy starts over too: the old connection turned interactive
 * (pingpong: the application answered within the delayed-ACK time), but
 * the new one's first data is ACKed at once (quick-ACK mode).
 */
static void test_reconnect_starts_in_quickack_mode(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	tu_run(&t, TC_SEC, NULL);
	struct tc_out o = { 0 };
	struct tc_peer p1, p2;
	struct tc_parsed syn;
	tc_peer_init(&p1, &t, PORT1, 0, PISS);
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(connect_syn(&p1, fd, &syn, &o));
	answer_synack(&p1, &o);
	tc_peer_send(&p1, TC_ACK | TC_PSH, "q", 1);
	char b[8];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, b, sizeof b, MSG_DONTWAIT), 1);
	CU_ASSERT_EQUAL(us_send(t.st, fd, "a", 1, 0), 1);       /* an answer at once: pingpong */
	tc_peer_send(&p1, TC_RST, NULL, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	tc_collect(&t, NULL);
	int e = 0;
	socklen_t el = sizeof e;
	CU_ASSERT_EQUAL(us_getsockopt(t.st, fd, SOL_SOCKET, SO_ERROR, &e, &el), 0);
	CU_ASSERT_EQUAL(e, ECONNRESET);
	tc_peer_init(&p2, &t, PORT2, 0, PISS);
	CU_ASSERT_FATAL(connect_syn(&p2, fd, &syn, &o));
	answer_synack(&p2, &o);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	tc_out_clear(&o);
	tc_peer_send(&p2, TC_ACK | TC_PSH, "x", 1);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 1);
	if (o.n == 1) {
		CU_ASSERT_EQUAL(o.seg[0].flags, TC_ACK);
		CU_ASSERT_EQUAL(o.seg[0].ack, PISS + 2);
	}
	CU_ASSERT_EQUAL(us_close(t.st, fd), 0);
	tc_out_free(&o);
	tu_run(&t, 30ULL * 60 * TC_SEC, NULL);
	tu_close(&t);
}

US_SUITE(tcp_reconnect, NULL, NULL,
	 US_TEST(test_reconnect_after_rst_starts_fresh),
	 US_TEST(test_reconnect_after_timeout_starts_fresh),
	 US_TEST(test_reconnect_starts_in_quickack_mode));
