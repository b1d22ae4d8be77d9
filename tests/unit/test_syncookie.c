/*
 * test_syncookie.c — SYN cookies (suite "syncookie"): a listener whose
 * SYN queue is full answers with a cookie SYN-ACK and keeps nothing;
 * the ACK that returns a valid cookie makes the connection.
 *
 * A deterministic stack (10.0.0.1) faces the test's end of a pair wire;
 * the test plays peers (10.0.0.2) with segments built byte by byte.
 * Expected values come from RFC 4987 3.6 and, for what it leaves open,
 * Linux (net/ipv4/syncookies.c): the peer's MSS rounded down to msstab
 * {536, 1300, 1440, 1460}; with timestamps, the peer's window shift in
 * the low 4 bits of our TSval (15: none) and SACK-permitted in bit 4,
 * the TSval never ahead of the clock; without timestamps no window
 * scaling; a cookie valid for two 60 s periods; cookies checked only
 * within 2 minutes of the last one sent; tcp_syncookies = 1 (on, used
 * only when the queue is full).
 */
#include <arpa/inet.h>
#include <string.h>

#include "harness.h"
#include "sockutil.h"
#include "tcputil.h"

#define LPORT 80
#define PPORT 40000
#define PISS 1000u

static struct us_config cfg;

static bool open_stack(struct tu *t, const char *tag, bool cookies)
{
	tc_config(&cfg, 0, tag);
	cfg.tcp.time_wait_s = 2;
	cfg.tcp.syncookies = cookies;
	if (!tu_open_cfg(t, &cfg))
		return false;
	tu_run(t, TC_SEC, NULL);        /* timestamps start above 0 */
	return true;
}

/* Let every timer run out; then nothing may be left. */
static void finish(struct tu *t)
{
	tu_run(t, 40ULL * 60 * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tc_tcbs(t), 0);
	tu_close(t);
}

static struct tc_seg syn_from(uint16_t port, uint32_t iss)
{
	struct tc_seg s = { .sport = port, .dport = LPORT, .seq = iss, .flags = TC_SYN,
			    .win = 64240, .has_mss = true, .mss = 1400, .sack_ok = true,
			    .has_ts = true, .tsval = 5000, .has_wscale = true, .wscale = 7 };
	return s;
}

/* Fill a backlog of 1 with one SYN_RCVD child from port PPORT - 1. */
static int listen_full(struct tu *t, struct tc_out *o)
{
	int lfd = tc_listen(t, LPORT, 1);
	struct tc_seg s = syn_from(PPORT - 1, 7);
	tc_inject(t, &s);
	tc_out_clear(o);
	tc_collect(t, o);
	CU_ASSERT_EQUAL(o->n, 1);
	CU_ASSERT_EQUAL(tc_conn_state(t, LPORT, PPORT - 1), TCPS_SYN_RCVD);
	return lfd;
}

/* Send s, expect exactly one SYN-ACK, return it in *out. */
static bool cookie_synack(struct tu *t, const struct tc_seg *s, struct tc_out *o,
			  struct tc_parsed *out)
{
	tc_inject(t, s);
	tc_out_clear(o);
	tc_collect(t, o);
	CU_ASSERT_EQUAL_FATAL(o->n, 1);
	CU_ASSERT_EQUAL(o->seg[0].flags, TC_SYN | TC_ACK);
	*out = o->seg[0];
	return o->n == 1;
}

/* The ACK of the handshake for a SYN-ACK sa, from port, with optional data. */
static struct tc_seg ack_for(const struct tc_parsed *sa, uint16_t port, uint32_t iss,
			     const char *data)
{
	struct tc_seg a = { .sport = port, .dport = LPORT, .seq = iss + 1, .ack = sa->seq + 1,
			    .flags = TC_ACK, .win = 1000, .has_ts = sa->has_ts, .tsval = 5001,
			    .tsecr = sa->tsval };
	if (data) {
		a.flags |= TC_PSH;
		a.data = data;
		a.len = strlen(data);
	}
	return a;
}

/* The TCB of the connection from port, for inspection (NULL: none). */
static bool conn_tcb(struct tu *t, uint16_t port, struct us_tcb *copy)
{
	struct us_sock *s = tcp_lookup(t->st, TU_STACK_IP, htons(LPORT), TU_PEER_IP, htons(port));
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	bool ok = s->tcb && s->tcb->rport == htons(port) && s->tcb->state != TCPS_LISTEN;
	if (ok)
		*copy = *s->tcb;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return ok;
}

static void reset_from(struct tu *t, uint16_t port, uint32_t seq)
{
	struct tc_seg r = { .sport = port, .dport = LPORT, .seq = seq, .flags = TC_RST };
	tc_inject(t, &r);
}

static void test_cookie_sent_when_syn_queue_full_and_nothing_kept(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	int tcbs = tc_tcbs(&t);
	struct tc_seg s = syn_from(PPORT, PISS);
	struct tc_parsed sa;
	if (!cookie_synack(&t, &s, &o, &sa))
		goto out;
	CU_ASSERT_EQUAL(sa.ack, PISS + 1);
	CU_ASSERT_EQUAL(sa.dport, PPORT);
	CU_ASSERT(sa.df);
	/* Our own MSS (route MTU 1500 - 40), as any SYN-ACK. */
	CU_ASSERT(sa.has_mss);
	CU_ASSERT_EQUAL(sa.mss, 1460);
	CU_ASSERT(sa.has_wscale);
	CU_ASSERT((65535ULL << sa.wscale) >= cfg.tcp.rcvbuf);
	CU_ASSERT(sa.sack_ok);                  /* the SYN offered it, tcp.sack is on (RFC 2018 2) */
	/* Linux cookie_init_timestamp: shift 7 | SACK (bit 4), TSval <= clock. */
	CU_ASSERT(sa.has_ts);
	CU_ASSERT_EQUAL(sa.tsecr, 5000);
	CU_ASSERT_EQUAL(sa.tsval & 0x3f, 7 | 0x10);
	uint32_t now_ms = (uint32_t)(us_now(t.st) / TC_MS);
	CU_ASSERT(sa.tsval <= now_ms && now_ms - sa.tsval < 64);
	/* Nothing kept. */
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(tc_tcbs(&t), tcbs);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_SENT), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 0);
	/* Nor is anything retransmitted. */
	tc_out_clear(&o);
	tc_run(&t, 500 * TC_MS, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN | TC_ACK), 0);
out:
	reset_from(&t, PPORT - 1, 8);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_cookie_ack_establishes_with_options_recovered(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	struct tc_seg s = syn_from(PPORT, PISS);
	struct tc_parsed sa;
	if (!cookie_synack(&t, &s, &o, &sa))
		goto out;
	tu_run(&t, 30 * TC_MS, NULL);
	/* The ACK carries the first request bytes (as when the bare ACK is lost). */
	struct tc_seg a = ack_for(&sa, PPORT, PISS, "GET");
	tc_inject(&t, &a);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_RECV), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_FAILED), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	struct us_tcb c;
	CU_ASSERT_FATAL(conn_tcb(&t, PPORT, &c));
	CU_ASSERT_EQUAL(c.iss, sa.seq);
	CU_ASSERT_EQUAL(c.snd_una, sa.seq + 1);
	CU_ASSERT_EQUAL(c.irs, PISS);
	CU_ASSERT_EQUAL(c.rcv_nxt, PISS + 1 + 3);
	CU_ASSERT_EQUAL(c.peer_mss, 1300);      /* 1400 rounded down to msstab */
	CU_ASSERT(c.ws_ok);
	CU_ASSERT_EQUAL(c.snd_wscale, 7);
	CU_ASSERT_EQUAL(c.rcv_wscale, sa.wscale);
	CU_ASSERT_EQUAL(c.snd_wnd, 1000u << 7);
	CU_ASSERT(c.ts_ok);
	CU_ASSERT_EQUAL(c.ts_recent, 5001);
	CU_ASSERT(c.passive);
	/* Accepted, and the data is there. */
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 3);
	CU_ASSERT_EQUAL(memcmp(buf, "GET", 3), 0);
	/* Replies go at most 1300 - 12 (timestamps) per segment. */
	static char big[4000];
	CU_ASSERT_EQUAL(us_send(t.st, fd, big, sizeof big, MSG_DONTWAIT), (ssize_t)sizeof big);
	tc_out_clear(&o);
	tc_run(&t, 10 * TC_MS, &o);
	CU_ASSERT(o.n >= 3);
	for (int i = 0; i < o.n; i++)
		CU_ASSERT(o.seg[i].len <= 1288);
	CU_ASSERT_EQUAL(o.seg[0].len, 1288);
	struct tc_seg r = { .sport = PPORT, .dport = LPORT, .seq = PISS + 4, .flags = TC_RST };
	tc_inject(&t, &r);
	us_close(t.st, fd);
out:
	reset_from(&t, PPORT - 1, 8);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_cookie_without_timestamps_has_no_window_scaling(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	struct tc_seg s = syn_from(PPORT, PISS);
	s.has_ts = false;
	s.mss = 536;
	struct tc_parsed sa;
	if (!cookie_synack(&t, &s, &o, &sa))
		goto out;
	CU_ASSERT(!sa.has_ts);
	CU_ASSERT(!sa.has_wscale);              /* nothing could carry the peer's shift back */
	struct tc_seg a = ack_for(&sa, PPORT, PISS, NULL);
	tc_inject(&t, &a);
	tc_collect(&t, NULL);
	struct us_tcb c;
	CU_ASSERT_FATAL(conn_tcb(&t, PPORT, &c));
	CU_ASSERT_EQUAL(c.state, TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(c.peer_mss, 536);
	CU_ASSERT(!c.ws_ok);
	CU_ASSERT(!c.ts_ok);
	CU_ASSERT_EQUAL(c.snd_wnd, 1000);
	reset_from(&t, PPORT, PISS + 1);
out:
	reset_from(&t, PPORT - 1, 8);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_cookie_valid_for_two_periods_then_stale(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	struct tc_seg s1 = syn_from(PPORT, PISS), s2 = syn_from(PPORT + 1, PISS);
	struct tc_parsed sa1, sa2;
	if (!cookie_synack(&t, &s1, &o, &sa1) || !cookie_synack(&t, &s2, &o, &sa2))
		goto out;
	/* 99 s later: count moved by 1 (60 s periods), still valid. */
	tu_run(&t, 99 * TC_SEC, NULL);
	struct tc_seg a1 = ack_for(&sa1, PPORT, PISS, NULL);
	tc_inject(&t, &a1);
	tc_collect(&t, NULL);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_RECV), 1);
	/* 125 s after it was made, the second is stale (moved by 2). A new
	 * cookie keeps cookie checking on (sent within 2 minutes). */
	tu_run(&t, 25 * TC_SEC, NULL);
	int fd = us_accept(t.st, lfd, NULL, NULL);  /* the accept queue must have room */
	CU_ASSERT(fd >= 0);
	/* The first child may have given up by now: two SYNs, so that the
	 * second at least finds the queue full. */
	uint64_t sent = TU_STAT(&t, TCP_SYNCOOKIES_SENT);
	for (uint16_t i = 2; i < 4; i++) {
		struct tc_seg s3 = syn_from((uint16_t)(PPORT + i), PISS);
		tc_inject(&t, &s3);
		tc_collect(&t, NULL);
	}
	CU_ASSERT(TU_STAT(&t, TCP_SYNCOOKIES_SENT) > sent);
	struct tc_seg a2 = ack_for(&sa2, PPORT + 1, PISS, NULL);
	tc_inject(&t, &a2);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 1), -1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_FAILED), 1);
	CU_ASSERT_EQUAL(o.n, 1);                /* RFC 9293 3.10.7.2: RST at the ACK */
	if (o.n == 1) {
		CU_ASSERT_EQUAL(o.seg[0].flags, TC_RST);
		CU_ASSERT_EQUAL(o.seg[0].seq, sa2.seq + 1);
	}
	if (fd >= 0)
		us_close(t.st, fd);
	reset_from(&t, PPORT, PISS + 1);
out:
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_cookie_forged_or_unsolicited_ack_gets_rst(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = tc_listen(&t, LPORT, 1);
	/* No cookie sent yet: an ACK is not even checked (Linux
	 * tcp_synq_no_recent_overflow), just reset. */
	struct tc_seg stray = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = 12345,
				.flags = TC_ACK, .win = 1000 };
	tc_inject(&t, &stray);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_FAILED), 0);
	struct tc_seg f = syn_from(PPORT - 1, 7);
	tc_inject(&t, &f);
	tc_collect(&t, NULL);
	struct tc_seg s = syn_from(PPORT, PISS);
	struct tc_parsed sa;
	if (!cookie_synack(&t, &s, &o, &sa))
		goto out;
	/* A bit of the hashed part flipped, another port, another peer ISN:
	 * each fails. (A cookie off by one or two is not a forgery: the MSS
	 * index is added in the low bits, so it decodes to a neighbouring
	 * MSS, as on Linux; only who saw the SYN-ACK can make it.) */
	struct tc_seg bad[3] = { ack_for(&sa, PPORT, PISS, NULL), ack_for(&sa, PPORT + 1, PISS, NULL),
				 ack_for(&sa, PPORT, PISS + 0x10000, NULL) };
	bad[0].ack ^= 0x00800000;
	for (int i = 0; i < 3; i++) {
		tc_inject(&t, &bad[i]);
		tc_out_clear(&o);
		tc_collect(&t, &o);
		CU_ASSERT_EQUAL(o.n, 1);
		if (o.n == 1) {
			CU_ASSERT_EQUAL(o.seg[0].flags, TC_RST);
			CU_ASSERT_EQUAL(o.seg[0].seq, bad[i].ack);
		}
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_FAILED), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_RECV), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 1), -1);
	/* The genuine one still works afterwards. */
	struct tc_seg a = ack_for(&sa, PPORT, PISS, NULL);
	tc_inject(&t, &a);
	tc_collect(&t, NULL);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	reset_from(&t, PPORT, PISS + 1);
out:
	reset_from(&t, PPORT - 1, 8);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * The handshake's ACK and the first data segment were both lost (a
 * receive queue that overflowed under the flood, t_synflood.sh); a later
 * segment, or the peer's tail loss probe of its last one, arrives first.
 * Its sequence number is not the peer's ISN + 1, so it cannot prove the
 * cookie. Linux answers it with an RST, which kills a connection the peer
 * thinks established; ustack drops it (counted) while cookies are in use
 * and the segment carries data or FIN, so that the peer's retransmission
 * of its first segment, which does prove the cookie, makes the connection
 * and nothing is lost. A pure ACK that fails still gets its RST, and so
 * does data once no cookie was sent for 2 minutes (doc/TCP.md).
 */
static void test_cookie_data_after_lost_ack_waits_for_first_segment(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	struct tc_seg s = syn_from(PPORT, PISS);
	struct tc_parsed sa;
	if (!cookie_synack(&t, &s, &o, &sa))
		goto out;
	tu_run(&t, 30 * TC_MS, NULL);
	/* "hello" (with the lost ACK) lost; " world" and the FIN arrive. */
	struct tc_seg first = ack_for(&sa, PPORT, PISS, "hello");
	struct tc_seg later = ack_for(&sa, PPORT, PISS + 5, " world");
	struct tc_seg fin = ack_for(&sa, PPORT, PISS + 11, NULL);
	fin.flags |= TC_FIN;
	tc_inject(&t, &later);
	tc_inject(&t, &fin);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);                /* no RST */
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_DATA_DROPPED), 2);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_FAILED), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_TX_RST), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	/* The peer's RTO resends its first segment: the cookie holds. */
	tu_run(&t, 300 * TC_MS, NULL);
	tc_inject(&t, &first);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_RECV), 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST), 0);
	/* Then the rest, and every byte reaches the application in order. */
	tc_inject(&t, &later);
	tc_inject(&t, &fin);
	tc_collect(&t, NULL);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	char buf[32];
	ssize_t n = us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT);
	CU_ASSERT_EQUAL(n, 11);
	CU_ASSERT(n == 11 && memcmp(buf, "hello world", 11) == 0);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 0);    /* the FIN */
	/* A pure ACK that is no cookie is still reset (RFC 9293 3.10.7.2). */
	struct tc_seg s2 = syn_from(PPORT + 1, PISS);
	struct tc_parsed sa2;
	if (cookie_synack(&t, &s2, &o, &sa2)) {
		struct tc_seg bare = ack_for(&sa2, PPORT + 1, PISS + 5, NULL);
		tc_inject(&t, &bare);
		tc_out_clear(&o);
		tc_collect(&t, &o);
		CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST), 1);
		CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_FAILED), 1);
	}
	/* Two minutes after the last cookie, data that is no cookie is reset too. */
	tu_run(&t, 121 * TC_SEC, NULL);
	struct tc_seg stale = ack_for(&sa2, PPORT + 1, PISS + 5, " world");
	tc_inject(&t, &stale);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_DATA_DROPPED), 2);
	us_close(t.st, fd);
out:
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_cookie_ack_dropped_when_accept_queue_full(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	/* It completes, not accepted: the accept queue (1) is full. */
	struct tc_parsed sa0 = o.seg[0];
	struct tc_seg a0 = ack_for(&sa0, PPORT - 1, 7, NULL);
	tc_inject(&t, &a0);
	tc_collect(&t, NULL);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT - 1), TCPS_ESTABLISHED);
	/* Linux: with the accept queue full even a cookie SYN is dropped. */
	struct tc_seg s = syn_from(PPORT, PISS);
	tc_inject(&t, &s);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_SENT), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_cookie_off_drops_syn(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, false))
		return;
	struct tc_out o = { 0 };
	int lfd = listen_full(&t, &o);
	struct tc_seg s = syn_from(PPORT, PISS);
	tc_inject(&t, &s);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_SENT), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 1);
	reset_from(&t, PPORT - 1, 8);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * Before a connection exists, keep almost nothing (doc/ARCHITECTURE.md):
 * SYN_RCVD is a SYN cache entry, no socket and no TCB; the socket appears
 * when the handshake completes, with ring memory only for the data that
 * came (the 5 bytes here: a small receive ring, still no send ring),
 * within the listener's sizes.
 */
static void test_syn_rcvd_child_has_rings_only_once_established(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, true))
		return;
	struct tc_out o = { 0 };
	int tcbs = tc_tcbs(&t);
	int lfd = listen_full(&t, &o);
	struct tc_parsed sa = o.seg[0];
	struct us_tcb c;
	CU_ASSERT_FALSE(conn_tcb(&t, PPORT - 1, &c));           /* no control block */
	CU_ASSERT_EQUAL(tc_tcbs(&t), tcbs + 1);                 /* the listener's alone */
	CU_ASSERT(tcp_syncache_count(t.st) > 0);
	struct tcp_synparams sp;
	CU_ASSERT_FATAL(tcp_syncache_lookup(t.st, TU_STACK_IP, htons(LPORT), TU_PEER_IP,
					    htons(PPORT - 1), &sp));
	CU_ASSERT_EQUAL(sp.win, cfg.tcp.rcvbuf > 65535 ? 65535 : cfg.tcp.rcvbuf);
	struct tc_seg a = ack_for(&sa, PPORT - 1, 7, "hello");
	tc_inject(&t, &a);
	tc_collect(&t, NULL);
	CU_ASSERT_FATAL(conn_tcb(&t, PPORT - 1, &c));
	CU_ASSERT_EQUAL(c.state, TCPS_ESTABLISHED);
	CU_ASSERT_PTR_NOT_NULL(c.rcvq.buf);
	CU_ASSERT(c.rcvq.size >= 5 && c.rcvq.size < c.rcvq.cap);
	CU_ASSERT_PTR_NULL(c.sndq.buf);
	CU_ASSERT_EQUAL(c.rcvq.len, 5);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
	reset_from(&t, PPORT - 1, 8 + 5);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

US_SUITE(syncookie, NULL, NULL,
	 US_TEST(test_syn_rcvd_child_has_rings_only_once_established),
	 US_TEST(test_cookie_sent_when_syn_queue_full_and_nothing_kept),
	 US_TEST(test_cookie_ack_establishes_with_options_recovered),
	 US_TEST(test_cookie_without_timestamps_has_no_window_scaling),
	 US_TEST(test_cookie_valid_for_two_periods_then_stale),
	 US_TEST(test_cookie_forged_or_unsolicited_ack_gets_rst),
	 US_TEST(test_cookie_data_after_lost_ack_waits_for_first_segment),
	 US_TEST(test_cookie_ack_dropped_when_accept_queue_full),
	 US_TEST(test_cookie_off_drops_syn));
