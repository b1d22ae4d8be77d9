/*
 * test_tcp_timer_lazy.c — the lazily re-armed TCP timers (core/tcp_timer.c)
 * on the pair wire, deterministic mode.
 *
 * The retransmission and delayed-ACK deadlines live in the TCB; the wheel
 * is armed only when a deadline moves earlier than the firing already
 * pending, and a firing re-checks the deadline (as BSD's and Linux's
 * retransmission timers). These tests count wheel operations per
 * exchanged segment (the old code armed or cancelled on every send and
 * every ACK), and check that the timers still fire exactly when RFC 6298
 * says, and that a connection that ends leaves nothing armed behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcputil.h"
#include "../../core/stack.h"

/* One request/response round: the stack sends len bytes (at most 4000),
 * the peer answers with 100 of its own (carrying the ACK of all), the
 * stack reads them. */
static bool rr_round_len(struct tu *t, struct tc_peer *p, int fd, uint64_t rtt, size_t len)
{
	static char buf[4000];
	memset(buf, 'q', sizeof buf);
	if (us_send(t->st, fd, buf, len, 0) != (ssize_t)len)
		return false;
	struct tc_out o = { 0 };
	tc_run(t, rtt, &o);
	size_t sent = 0;
	for (int i = 0; i < o.n; i++)
		sent += o.seg[i].len;
	bool ok = sent == len;
	for (int i = 0; i < o.n; i++)
		tc_peer_saw(p, &o.seg[i]);
	tc_out_free(&o);
	tc_peer_send(p, TC_ACK | TC_PSH, buf, 100);
	char in[200];
	if (us_recv(t->st, fd, in, sizeof in, 0) != 100)
		ok = false;
	return ok;
}

static bool rr_round(struct tu *t, struct tc_peer *p, int fd, uint64_t rtt)
{
	return rr_round_len(t, p, fd, rtt, 100);
}

/* A stack (nodelay; rto: 0 = default, else initial and minimum RTO in ms)
 * with one connection accepted from the peer's port; false if no stack. */
static bool lazy_open_sack(struct tu *t, const char *tag, uint32_t rto_ms, uint16_t port,
			   struct tc_peer *p, int *lfd, int *fd, bool sack)
{
	struct us_config cfg;
	tc_config(&cfg, 0, tag);
	cfg.tcp.nodelay = true;
	if (rto_ms)
		cfg.tcp.rto_initial_ms = cfg.tcp.rto_min_ms = rto_ms;
	struct tc_seg syn = { .has_mss = true, .mss = 1460, .sack_ok = sack };
	*fd = tc_open_conn(t, &cfg, &(struct tc_conn_spec){ .lport = 80, .pport = port,
							    .piss = 5000u + port, .backlog = 4,
							    .syn = &syn },
			   p, lfd);
	return *fd >= 0;
}

static bool lazy_open(struct tu *t, const char *tag, uint32_t rto_ms, uint16_t port,
		      struct tc_peer *p, int *lfd, int *fd)
{
	return lazy_open_sack(t, tag, rto_ms, port, p, lfd, fd, false);
}

static void lazy_close(struct tu *t, int lfd, int fd)
{
	us_close(t->st, fd);
	us_close(t->st, lfd);
	tc_run(t, 100 * TC_MS, NULL);
	tu_close(t);
}

/*
 * Request/response, 500 rounds of 1 ms: every round arms the
 * retransmission timer (send), clears it (the ACK), sets the delayed ACK
 * (the reply's data) and clears it (our next send carries the ACK). With
 * eager arming that is at least two wheel operations per round (1,000 in
 * all); lazily, the wheel is touched about once per timer period (the RTO
 * of 200 ms and the delayed ACK of 40 ms fire, find their deadline moved
 * or cleared, and follow it), a few dozen times over the 500 ms.
 */
static void test_lazy_wheel_ops_per_ack(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!lazy_open(&t, __func__, 0, 40001, &p, &lfd, &fd))
		return;
	/* Warm up: the first RTT sample, quick-ACK mode over. */
	for (int i = 0; i < 20; i++)
		CU_ASSERT_TRUE(rr_round(&t, &p, fd, TC_MS));
	enum { ROUNDS = 500 };
	uint64_t before = us_wheel_ops(&t.st->wheel);
	int ok = 0;
	for (int i = 0; i < ROUNDS; i++)
		ok += rr_round(&t, &p, fd, TC_MS);
	uint64_t ops = us_wheel_ops(&t.st->wheel) - before;
	CU_ASSERT_EQUAL(ok, ROUNDS);
	/* At most one wheel operation per 10 rounds (the eager code: >= 2 per round). */
	CU_ASSERT(ops * 10 <= ROUNDS);
	if (ops * 10 > ROUNDS || getenv("LAZY_DEBUG"))
		fprintf(stderr, "\n  %llu wheel operations in %d request/response rounds\n",
			(unsigned long long)ops, ROUNDS);
	lazy_close(&t, lfd, fd);
}

/*
 * RFC 6298 5.3: an ACK of new data restarts the timer. Armed at the send
 * for t0 + 200 ms, pushed to t0 + 50 + 200 ms by a partial ACK at t0 + 50
 * (no wheel operation), the timer fires first at t0 + 200, finds its
 * deadline later and follows it: the retransmission goes out at exactly
 * t0 + 250 ms, not at 200 and not later; the next one (doubled RTO, 5.5)
 * 400 ms after that.
 */
static void test_lazy_rexmit_follows_deadline(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!lazy_open(&t, __func__, 200, 40002, &p, &lfd, &fd))
		return;
	/* Three segments (1460 + 1460 + 80) leave at t0. */
	static char data[3000];
	memset(data, 'd', sizeof data);
	uint64_t t0 = us_stack_now(t.st);
	CU_ASSERT_EQUAL(us_send(t.st, fd, data, sizeof data, 0), (ssize_t)sizeof data);
	struct tc_out o = { 0 };
	tc_run(&t, 50 * TC_MS, &o);
	CU_ASSERT_EQUAL_FATAL(o.n, 3);
	uint32_t first = o.seg[0].seq;
	/* Partial ACK at t0 + 50 ms: the first segment only (RTT 50 ms, RTO
	 * max(200, 50 + 4 * 25) = 200 ms). */
	struct tc_seg a = tc_peer_seg(&p, TC_ACK, NULL, 0);
	a.ack = first + 1460;
	tc_inject(&t, &a);
	tc_out_clear(&o);
	tc_run(&t, 1000 * TC_MS, &o);
	int r1 = -1, r2 = -1;
	for (int i = 0; i < o.n; i++) {
		if (o.seg[i].seq == first + 1460 && o.seg[i].len > 0) {
			if (r1 < 0)
				r1 = i;
			else if (r2 < 0)
				r2 = i;
		}
	}
	CU_ASSERT_FATAL(r1 >= 0 && r2 >= 0);
	CU_ASSERT_EQUAL(o.seg[r1].time, t0 + 250 * TC_MS);
	CU_ASSERT_EQUAL(o.seg[r2].time, t0 + 250 * TC_MS + 400 * TC_MS);
	tc_out_free(&o);
	lazy_close(&t, lfd, fd);
}

/*
 * Clearing is lazy, but a connection that ends cancels its timers in the
 * wheel for real: after the peer's RST (data in flight, a delayed ACK
 * cleared lazily before), no timer is left armed holding the socket.
 */
/* How many of fd's connection timers are armed in the wheel. */
static int conn_timers_armed(struct tu *t, int fd)
{
	struct us_sock *s = us_sock_get(t->st, fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	int n = 0;
	pthread_mutex_lock(&s->lock);
	for (int k = 0; s->tcb && k < TT__COUNT; k++)
		n += us_timer_armed(&t->st->wheel, &s->tcb->timer[k]);
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return n;
}

static void test_lazy_end_cancels(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!lazy_open(&t, __func__, 0, 40003, &p, &lfd, &fd))
		return;
	for (int i = 0; i < 5; i++)
		CU_ASSERT_TRUE(rr_round(&t, &p, fd, TC_MS));
	char buf[10] = "unacked";
	CU_ASSERT_EQUAL(us_send(t.st, fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
	struct tc_out o = { 0 };
	tc_run(&t, TC_MS, &o);
	for (int i = 0; i < o.n; i++)
		tc_peer_saw(&p, &o.seg[i]);
	tc_out_free(&o);
	CU_ASSERT(conn_timers_armed(&t, fd) > 0);
	tc_peer_send(&p, TC_RST | TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(conn_timers_armed(&t, fd), 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tu_close(&t);
}

/*
 * The loss timer (TT_LOSS: TLP's probe timeout, RFC 8985 7.2) with a peer
 * that SACKs: each round sends 3,000 bytes (3 segments: PTO = max(2 SRTT,
 * 10 ms) = 10 ms, before the RTO, so the PTO is armed at every send and
 * pushed later by every ACK) and the reply ACKs them 1 ms later. The PTO
 * never expires, but its wheel firing comes every PTO period (about 10
 * rounds), finds the deadline moved later and follows it. That firing
 * must cost one wheel operation (its re-arming), not two (a check of the
 * wheel whether it was armed again meanwhile, then the re-arming): 500
 * rounds, about 57 firings of TT_LOSS, ~12 of the delayed ACK, a few of
 * the others, at most one operation per 5 rounds in all (the code that
 * asked the wheel at each firing: 142; re-arming at every ACK: >= 1,000).
 */
static void test_lazy_tlp_wheel_ops(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!lazy_open_sack(&t, __func__, 0, 40004, &p, &lfd, &fd, true))
		return;
	for (int i = 0; i < 20; i++)
		CU_ASSERT_TRUE(rr_round_len(&t, &p, fd, TC_MS, 3000));
	uint64_t probes = TU_STAT(&t, TCP_TLP_PROBES);
	enum { ROUNDS = 500 };
	uint64_t before = us_wheel_ops(&t.st->wheel);
	int ok = 0;
	for (int i = 0; i < ROUNDS; i++)
		ok += rr_round_len(&t, &p, fd, TC_MS, 3000);
	uint64_t ops = us_wheel_ops(&t.st->wheel) - before;
	CU_ASSERT_EQUAL(ok, ROUNDS);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_TLP_PROBES), probes);  /* never needed */
	CU_ASSERT(ops * 5 <= ROUNDS);
	if (ops * 5 > ROUNDS || getenv("LAZY_DEBUG"))
		fprintf(stderr, "\n  %llu wheel operations in %d request/response rounds (SACK, TLP)\n",
			(unsigned long long)ops, ROUNDS);
	lazy_close(&t, lfd, fd);
}

US_SUITE(tcp_timer_lazy, NULL, NULL,
	 US_TEST(test_lazy_wheel_ops_per_ack),
	 US_TEST(test_lazy_rexmit_follows_deadline),
	 US_TEST(test_lazy_end_cancels),
	 US_TEST(test_lazy_tlp_wheel_ops));
