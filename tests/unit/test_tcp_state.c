/*
 * test_tcp_state.c — the TCP state machine (suite "tcp_state"), one test
 * per behaviour, named after the state the connection is in when the
 * behaviour happens (lwIP / smoltcp style).
 *
 * A deterministic stack (10.0.0.1) faces the test's end of a pair wire;
 * the test plays the peer (10.0.0.2) with segments it builds byte by byte
 * (tcputil.h) and checks the segments the stack answers with, field by
 * field, on the virtual clock. Expected values come from RFC 9293
 * (segment arrival, 3.10.7; the handshake figures of 3.5; closing, 3.6),
 * RFC 5961 (challenge ACKs: 3.2 RST, 4.2 SYN, 5.2 ACK), RFC 7323 (window
 * scale 2, PAWS 5), RFC 6298 (initial RTO 1 s and backoff), RFC 2525
 * 2.17 (close with unread data resets) and, where the RFCs leave a
 * choice, Linux (syn_retries, backlog overflow drops the SYN, SO_LINGER
 * {1, 0} resets, tcp_fin_timeout 60 s).
 *
 * Every test ends in finish(): it lets the clock run far past every
 * timeout, then checks that no control block is left in the TCP tables
 * and that every packet buffer is back in the pool. Config: TIME_WAIT
 * lasts TW_S seconds; everything else is the default (initial RTO 1 s,
 * syn_retries 6, delayed ACK 40 ms, window scaling and timestamps on).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "sockutil.h"
#include "tcputil.h"

#define TW_S 2                  /* time_wait_s in every test's config */
#define LPORT 80                /* the stack's listening port */
#define PPORT 40000             /* the peer's port */
#define PISS 1000u              /* the peer's ISS */

static struct us_config cfg;

/* A fresh config for tag: static ARP for the peer, TIME_WAIT of TW_S. */
static void cfg_new(const char *tag, uint32_t mtu)
{
	tc_config(&cfg, mtu, tag);
	cfg.tcp.time_wait_s = TW_S;
}

/* Open a stack on cfg and let 1 s pass (timestamps then start above 0). */
static bool open_cfg(struct tu *t)
{
	if (!tu_open_cfg(t, &cfg))
		return false;
	tu_run(t, TC_SEC, NULL);
	return true;
}

#define OPEN(t) (cfg_new(__func__, 0), open_cfg(t))

/*
 * End of every test: the caller has closed its descriptors. Let every
 * timer run out (orphans retransmit their FIN up to `retries` times:
 * about 18 minutes at most), then nothing may be left.
 */
static void finish(struct tu *t)
{
	tu_run(t, 40ULL * 60 * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tc_tcbs(t), 0);
	tu_close(t);
}

/* The one segment in o, which must have exactly these flags. */
static const struct tc_parsed *only_(const struct tc_out *o, uint8_t flags, int line)
{
	static struct tc_parsed none;
	if (o->n == 1 && o->seg[0].flags == flags)
		return &o->seg[0];
	fprintf(stderr, "\n%s:%d: expected one %s segment, got %d:", __FILE__, line,
		tc_flags_str(flags), o->n);
	for (int i = 0; i < o->n; i++)
		fprintf(stderr, " [%s seq %u ack %u len %zu]", tc_flags_str(o->seg[i].flags),
			o->seg[i].seq, o->seg[i].ack, o->seg[i].len);
	fprintf(stderr, "\n");
	CU_assertImplementation(CU_FALSE, (unsigned)line, "exactly one segment with the flags",
				__FILE__, "", CU_FALSE);
	memset(&none, 0, sizeof none);
	return &none;
}
#define ONLY(o, flags) only_((o), (flags), __LINE__)

/* Clear o, then collect what the stack has sent by now. */
static void take(struct tu *t, struct tc_out *o)
{
	tc_out_clear(o);
	tc_collect(t, o);
}

/* Clear o, then run the clock ns and collect. */
static void run(struct tu *t, uint64_t ns, struct tc_out *o)
{
	tc_out_clear(o);
	tc_run(t, ns, o);
}

static void saw_all(struct tc_peer *p, const struct tc_out *o)
{
	for (int i = 0; i < o->n; i++)
		tc_peer_saw(p, &o->seg[i]);
}

/* A connection accepted from the peer. full: the SYN offers WS 7, SACK and TS too. */
static int passive(struct tu *t, struct tc_peer *p, int *lfd, bool full)
{
	*lfd = tc_listen(t, LPORT, 8);
	tc_peer_init(p, t, PPORT, LPORT, PISS);
	struct tc_seg syn = { .has_mss = true, .mss = 1460 };
	if (full) {
		syn.has_wscale = true;
		syn.wscale = 7;
		syn.sack_ok = true;
		syn.has_ts = true;
		syn.tsval = p->tsval;
	}
	return tc_open_passive(p, *lfd, &syn);
}

static int sock_error(struct tu *t, int fd)
{
	int e = -1;
	socklen_t l = sizeof e;
	CU_ASSERT_EQUAL(us_getsockopt(t->st, fd, SOL_SOCKET, SO_ERROR, &e, &l), 0);
	return e;
}

static int connect_peer(struct tu *t, int fd, uint16_t port)
{
	struct sockaddr_in a = su_sin(TU_PEER_IP, port);
	return us_connect(t->st, fd, SU_SA(a), sizeof a);
}

/* ==== LISTEN and SYN_RCVD (passive open) ===================================== */

static void test_listen_syn_gets_synack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = { .sport = PPORT, .dport = LPORT, .seq = PISS, .flags = TC_SYN,
			      .win = 64240, .has_mss = true, .mss = 1460, .sack_ok = true,
			      .has_ts = true, .tsval = 12345, .has_wscale = true, .wscale = 7 };
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(s->dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(s->sport, LPORT);
	CU_ASSERT_EQUAL(s->dport, PPORT);
	CU_ASSERT_EQUAL(s->ack, PISS + 1);
	CU_ASSERT_EQUAL(s->len, 0);
	CU_ASSERT(s->win > 0);
	/* MSS: the route's MTU 1500 - 40. */
	CU_ASSERT(s->has_mss);
	CU_ASSERT_EQUAL(s->mss, 1460);
	/* RFC 7323 2.2/2.3: offered because the SYN did; a shift that covers the buffer. */
	CU_ASSERT(s->has_wscale);
	CU_ASSERT(s->wscale <= 14);
	CU_ASSERT((65535ULL << s->wscale) >= cfg.tcp.rcvbuf);
	/* RFC 7323 3.2: TSecr echoes the SYN's TSval. */
	CU_ASSERT(s->has_ts);
	CU_ASSERT_EQUAL(s->tsecr, 12345);
	/* RFC 2018 2: SACK-permitted in a SYN-ACK only when the SYN had it, as here. */
	CU_ASSERT(s->sack_ok);
	CU_ASSERT(s->df);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_SYN_RCVD);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PASSIVE_OPENS), 1);
	/* Nothing to accept until the handshake completes. */
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	SU_ERR(us_accept(t.st, lfd, SU_SA(peer), &pl), EAGAIN);

	/* Leave: the peer resets the embryo (exact sequence number). */
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .flags = TC_RST };
	tc_inject(&t, &rst);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_listen_syn_without_options_gets_plain_synack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = { .sport = PPORT, .dport = LPORT, .seq = PISS, .flags = TC_SYN,
			      .win = 8192 };
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(s->ack, PISS + 1);
	CU_ASSERT(s->has_mss);          /* our MSS is always announced */
	CU_ASSERT_EQUAL(s->mss, 1460);
	CU_ASSERT(!s->has_wscale);      /* RFC 7323 2.2: only in answer to one */
	CU_ASSERT(!s->has_ts);          /* RFC 7323 3.2: only in answer to one */
	CU_ASSERT(!s->sack_ok);
	CU_ASSERT_EQUAL(s->hlen, 24);   /* the MSS option alone */
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .flags = TC_RST };
	tc_inject(&t, &rst);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_listen_synack_mss_clamped_to_route_mtu(void)
{
	struct tu t;
	cfg_new(__func__, 1000);
	if (!open_cfg(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT(s->has_mss);
	CU_ASSERT_EQUAL(s->mss, 1000 - 40);
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .flags = TC_RST };
	tc_inject(&t, &rst);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_ack_completes_accept_gives_peer(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT, LPORT, PISS);
	struct tc_seg syn = tc_peer_seg(&p, TC_SYN, NULL, 0);
	syn.has_mss = true;
	syn.mss = 1460;
	tc_inject(&t, &syn);
	p.snd_nxt++;
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed sa = *ONLY(&o, TC_SYN | TC_ACK);
	tc_peer_saw(&p, &sa);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_ESTABLISHED), 1);

	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	memset(&peer, 0, sizeof peer);
	int fd = us_accept(t.st, lfd, SU_SA(peer), &pl);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(pl, sizeof peer);
	CU_ASSERT_EQUAL(peer.sin_family, AF_INET);
	CU_ASSERT_EQUAL(peer.sin_addr.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(ntohs(peer.sin_port), PPORT);
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	CU_ASSERT_EQUAL(us_getsockname(t.st, fd, SU_SA(me), &ml), 0);
	CU_ASSERT_EQUAL(me.sin_addr.s_addr, TU_STACK_IP);
	CU_ASSERT_EQUAL(ntohs(me.sin_port), LPORT);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	pl = sizeof peer;
	SU_ERR(us_accept(t.st, lfd, SU_SA(peer), &pl), EAGAIN);     /* only one */

	/* The new connection carries data from the SYN-ACK's ISS + 1. */
	CU_ASSERT_EQUAL(us_send(t.st, fd, "hello", 5, 0), 5);
	take(&t, &o);
	const struct tc_parsed *d = ONLY(&o, TC_ACK | TC_PSH);
	CU_ASSERT_EQUAL(d->seq, sa.seq + 1);
	CU_ASSERT_EQUAL(d->ack, PISS + 1);
	CU_ASSERT(d->len == 5 && memcmp(d->data, "hello", 5) == 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_retransmits_synack_after_initial_rto(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed first = *ONLY(&o, TC_SYN | TC_ACK);
	/* RFC 6298 2.1: the initial RTO is 1 s. */
	run(&t, 999 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	run(&t, 2 * TC_MS, &o);
	const struct tc_parsed *again = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(again->seq, first.seq);
	CU_ASSERT_EQUAL(again->ack, PISS + 1);
	CU_ASSERT(again->has_mss);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RETRANS_SEGS), 1);
	/* The ACK still completes it. */
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1,
			      .ack = first.seq + 1, .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_bad_ack_gets_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	uint32_t iss = ONLY(&o, TC_SYN | TC_ACK)->seq;
	/* RFC 9293 3.10.7.4 SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>. */
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss + 1000,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST);
	CU_ASSERT_EQUAL(r->seq, iss + 1000);
	CU_ASSERT_EQUAL(r->sport, LPORT);
	CU_ASSERT_EQUAL(r->dport, PPORT);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_SYN_RCVD);
	/* The right ACK still completes the handshake. */
	ack.ack = iss + 1;
	tc_inject(&t, &ack);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_rst_frees_backlog_slot(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 1);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	ONLY(&o, TC_SYN | TC_ACK);
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .flags = TC_RST };
	tc_inject(&t, &rst);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	/* The reset embryo no longer counts against the backlog of 1. */
	syn.sport = PPORT + 1;
	tc_inject(&t, &syn);
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(s->dport, PPORT + 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 0);
	rst.sport = PPORT + 1;
	tc_inject(&t, &rst);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_duplicate_syn_gets_synack_again(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed first = *ONLY(&o, TC_SYN | TC_ACK);
	/* Our SYN-ACK was lost and the peer retries its SYN: Linux (tcp_check_req)
	 * answers with the SYN-ACK again; a bare ACK would be dropped by the peer
	 * in SYN-SENT (RFC 9293 3.10.7.3) and the handshake would wait for our RTO. */
	run(&t, 300 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	tc_inject(&t, &syn);
	take(&t, &o);
	const struct tc_parsed *again = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(again->seq, first.seq);
	CU_ASSERT_EQUAL(again->ack, PISS + 1);
	CU_ASSERT(again->has_mss);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_SYN_RCVD);
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1,
			      .ack = first.seq + 1, .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * A burst of 30 copies of the SYN while in SYN_RCVD: Linux (tcp_check_req,
 * tcp_oow_rate_limited with tcp_invalid_ratelimit 500 ms) answers the
 * first copy with a SYN-ACK and the rest within 500 ms with nothing, so
 * 30 copies cost 2 SYN-ACKs in all. After 500 ms a copy is answered again.
 */
static void test_syn_rcvd_duplicate_syn_burst_rate_limited(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed first = *ONLY(&o, TC_SYN | TC_ACK);
	tc_out_clear(&o);
	for (int i = 0; i < 30; i++) {
		tc_inject(&t, &syn);
		tc_collect(&t, &o);
	}
	CU_ASSERT_EQUAL(o.n, 1);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN | TC_ACK), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_ACK_RATELIMITED), 29);
	/* 499 ms later: still inside the 500 ms. */
	run(&t, 499 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	tc_inject(&t, &syn);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	/* 500 ms after the last answer: answered again. */
	run(&t, 1 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	tc_inject(&t, &syn);
	take(&t, &o);
	const struct tc_parsed *again = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(again->seq, first.seq);
	CU_ASSERT_EQUAL(again->ack, PISS + 1);
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1,
			      .ack = first.seq + 1, .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_ack_with_data_delivers_it(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT, LPORT, PISS);
	struct tc_seg syn = tc_peer_seg(&p, TC_SYN, NULL, 0);
	tc_inject(&t, &syn);
	p.snd_nxt++;
	struct tc_out o = { 0 };
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_SYN | TC_ACK));
	/* The third segment of the handshake carries data. */
	tc_peer_send(&p, TC_ACK | TC_PSH, "GET /", 5);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	char buf[16];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 5);
	CU_ASSERT(memcmp(buf, "GET /", 5) == 0);
	run(&t, 200 * TC_MS, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 6);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_listener_closed_ack_gets_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	uint32_t iss = ONLY(&o, TC_SYN | TC_ACK)->seq;
	us_close(t.st, lfd);
	/* Nobody will accept it: the handshake's ACK is refused with a reset. */
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss + 1,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	take(&t, &o);
	int k = tc_find(&o, 0, TC_RST);
	CU_ASSERT(k >= 0);
	if (k >= 0)
		CU_ASSERT_EQUAL(o.seg[k].seq, iss + 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	tc_out_free(&o);
	finish(&t);
}

static void test_listen_close_resets_unaccepted_children(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT, LPORT, PISS);
	struct tc_seg syn = tc_peer_seg(&p, TC_SYN, NULL, 0);
	tc_inject(&t, &syn);
	p.snd_nxt++;
	struct tc_out o = { 0 };
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_SYN | TC_ACK));
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	/* Linux (inet_csk_listen_stop): children never accepted are reset. */
	us_close(t.st, lfd);
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST | TC_ACK);
	CU_ASSERT_EQUAL(r->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(r->ack, PISS + 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	tc_out_free(&o);
	finish(&t);
}

static void test_listen_ack_gets_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	/* RFC 9293 3.10.7.2: any ACK in LISTEN gets <SEQ=SEG.ACK><CTL=RST>. */
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = 5000, .ack = 777,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST);
	CU_ASSERT_EQUAL(r->seq, 777);
	CU_ASSERT_EQUAL(r->sport, LPORT);
	CU_ASSERT_EQUAL(r->dport, PPORT);
	CU_ASSERT_EQUAL(r->len, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(tc_state(&t, lfd), TCPS_LISTEN);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_listen_rst_ignored(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = 5000, .flags = TC_RST };
	tc_inject(&t, &rst);
	rst.flags = TC_RST | TC_ACK;
	rst.ack = 99;
	tc_inject(&t, &rst);
	struct tc_out o = { 0 };
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);        /* RFC 9293 3.10.7.2: an RST is ignored */
	CU_ASSERT_EQUAL(tc_state(&t, lfd), TCPS_LISTEN);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* With tcp.syncookies off (Linux tcp_syncookies = 0); on, see test_syncookie.c. */
static void test_listen_backlog_overflow_drops_syn(void)
{
	struct tu t;
	cfg_new(__func__, 0);
	cfg.tcp.syncookies = false;
	if (!open_cfg(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 2);
	struct tc_out o = { 0 };
	uint32_t iss[3] = { 0 };
	for (int i = 0; i < 3; i++) {
		struct tc_seg syn = tc_syn((uint16_t)(PPORT + i), LPORT, PISS + 1000u * (unsigned)i);
		tc_inject(&t, &syn);
		take(&t, &o);
		if (i < 2) {
			const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
			CU_ASSERT_EQUAL(s->dport, PPORT + i);
			iss[i] = s->seq;
		} else {
			CU_ASSERT_EQUAL(o.n, 0);        /* dropped: no SYN-ACK, no RST */
		}
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 2), -1);

	/* The first completes and is accepted: its slot is free for the retried SYN. */
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss[0] + 1,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	struct tc_seg syn = tc_syn(PPORT + 2, LPORT, PISS + 2000);
	tc_inject(&t, &syn);
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(s->dport, PPORT + 2);
	CU_ASSERT_EQUAL(s->ack, PISS + 2001);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 1);
	/* Reset the two embryos left. */
	for (int i = 1; i < 3; i++) {
		struct tc_seg rst = { .sport = (uint16_t)(PPORT + i), .dport = LPORT,
				      .seq = PISS + 1000u * (unsigned)i + 1, .flags = TC_RST };
		tc_inject(&t, &rst);
	}
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * A child whose insertion into the connection table fails (the same
 * 4-tuple raced in on another interface; the stack's fail_inserts hook
 * stands in for that race) must give its SYN slot back: otherwise, after
 * `backlog` such failures, every later SYN is dropped as an overflow.
 */
static void test_listen_child_insert_failure_frees_backlog_slot(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 2);
	struct tc_out o = { 0 };
	atomic_store(&t.st->tcp.fail_inserts, 3);
	for (int i = 0; i < 3; i++) {
		struct tc_seg syn = tc_syn((uint16_t)(PPORT + i), LPORT, PISS);
		tc_inject(&t, &syn);
		take(&t, &o);
		/* SYN_RCVD is a SYN cache entry: the child is made (and its
		 * insertion fails) only when the handshake's ACK comes. */
		const struct tc_parsed *sa = ONLY(&o, TC_SYN | TC_ACK);
		struct tc_seg ack = { .sport = (uint16_t)(PPORT + i), .dport = LPORT,
				      .seq = PISS + 1, .ack = sa->seq + 1, .flags = TC_ACK,
				      .win = 65535 };
		tc_inject(&t, &ack);
		take(&t, &o);
		CU_ASSERT_EQUAL(o.n, 0);        /* the child is gone, silently */
		CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, (uint16_t)(PPORT + i)), -1);
	}
	CU_ASSERT_EQUAL(us_accept(t.st, lfd, NULL, NULL), -1);
	/* Two more SYNs fill the backlog of 2 and each gets its SYN-ACK. */
	for (int i = 3; i < 5; i++) {
		struct tc_seg syn = tc_syn((uint16_t)(PPORT + i), LPORT, PISS);
		tc_inject(&t, &syn);
		take(&t, &o);
		const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
		CU_ASSERT_EQUAL(s->dport, PPORT + i);
		CU_ASSERT_EQUAL(s->ack, PISS + 1);
	}
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_LISTEN_OVERFLOW), 0);
	for (int i = 3; i < 5; i++) {
		struct tc_seg rst = { .sport = (uint16_t)(PPORT + i), .dport = LPORT,
				      .seq = PISS + 1, .flags = TC_RST };
		tc_inject(&t, &rst);
	}
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * Two receive threads (multiqueue TAP) read the handshake's ACK and the
 * request after it at once. The first takes the SYN cache entry and makes
 * the child after letting the listener go; the request, read by the other
 * thread in that window, finds no connection and no SYN cache entry. It
 * must not be answered with RST as a stray ACK (t_multiqueue_tap: curl
 * exit 56, "Connection reset by peer", about one run in ten). The stack's
 * test_before_insert hook runs the request's input in that window, as the
 * other thread would; it is then dropped (counted), never reset, and its
 * retransmission is delivered.
 */
struct mid_handshake {
	uint8_t frame[US_PAIR_FRAME_MAX];
	size_t len;
	int calls;
};

static void request_mid_handshake(struct us_stack *st, void *arg)
{
	struct mid_handshake *m = arg;
	m->calls++;
	us_netif_input(&st->ifs[0], m->frame, m->len);
}

static void test_listen_segment_while_child_enters_table(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_out o = { 0 };
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	take(&t, &o);
	uint32_t iss = ONLY(&o, TC_SYN | TC_ACK)->seq;
	struct tc_seg req = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss + 1,
			      .flags = TC_ACK | TC_PSH, .win = 65535, .data = "GET /", .len = 5 };
	static struct mid_handshake m;
	memset(&m, 0, sizeof m);
	m.len = tc_frame(m.frame, &req);
	t.st->tcp.test_before_insert = request_mid_handshake;
	t.st->tcp.test_before_insert_arg = &m;
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss + 1,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	t.st->tcp.test_before_insert = NULL;
	take(&t, &o);
	CU_ASSERT_EQUAL(m.calls, 1);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST), 0);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST | TC_ACK), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_DROP_HANDSHAKING), 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	/* The peer sends the request again: the connection takes it. */
	tc_inject(&t, &req);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	char buf[16];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 5);
	CU_ASSERT(memcmp(buf, "GET /", 5) == 0);
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = PISS + 6, .flags = TC_RST };
	tc_inject(&t, &rst);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* A SYN with FIN set never opens a connection (Linux drops it in LISTEN). */
static void test_listen_syn_fin_dropped(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = { .sport = PPORT, .dport = LPORT, .seq = PISS,
			      .flags = TC_SYN | TC_FIN, .win = 65535, .has_mss = true, .mss = 1460 };
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	run(&t, 5 * TC_SEC, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_DROP_SYNFIN), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PASSIVE_OPENS), 0);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== CLOSED: no socket for the segment ====================================== */

static void test_closed_port_syn_gets_rst_ack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	/* RFC 9293 3.10.7.1: no ACK bit -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
	struct tc_seg syn = tc_syn(PPORT, 81, 0xfffffff0u);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST | TC_ACK);
	CU_ASSERT_EQUAL(r->seq, 0);
	CU_ASSERT_EQUAL(r->ack, 0xfffffff1u);
	CU_ASSERT_EQUAL(r->sport, 81);
	CU_ASSERT_EQUAL(r->dport, PPORT);
	CU_ASSERT_EQUAL(r->dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(r->len, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_NO_SOCKET), 1);
	tc_out_free(&o);
	finish(&t);
}

static void test_closed_port_fin_with_data_gets_rst_ack_covering_it(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	/* SEG.LEN counts the data and the FIN: 10 + 1. */
	struct tc_seg seg = { .sport = PPORT, .dport = 81, .seq = 2000, .flags = TC_FIN | TC_PSH,
			      .win = 65535, .data = "0123456789", .len = 10 };
	tc_inject(&t, &seg);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST | TC_ACK);
	CU_ASSERT_EQUAL(r->seq, 0);
	CU_ASSERT_EQUAL(r->ack, 2011);
	tc_out_free(&o);
	finish(&t);
}

static void test_closed_port_ack_gets_rst_at_seg_ack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	/* RFC 9293 3.10.7.1: ACK bit on -> <SEQ=SEG.ACK><CTL=RST>. */
	struct tc_seg seg = { .sport = PPORT, .dport = 81, .seq = 3000, .ack = 4000,
			      .flags = TC_ACK | TC_PSH, .win = 65535, .data = "abc", .len = 3 };
	tc_inject(&t, &seg);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST);
	CU_ASSERT_EQUAL(r->seq, 4000);
	CU_ASSERT_EQUAL(r->len, 0);
	tc_out_free(&o);
	finish(&t);
}

static void test_closed_port_rst_gets_nothing(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_seg seg = { .sport = PPORT, .dport = 81, .seq = 3000, .flags = TC_RST };
	tc_inject(&t, &seg);
	seg.flags = TC_RST | TC_ACK;
	seg.ack = 55;
	tc_inject(&t, &seg);
	struct tc_out o = { 0 };
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);        /* never a reset for a reset */
	tc_out_free(&o);
	finish(&t);
}

/* ==== SYN_SENT (active open) ================================================= */

static void test_syn_sent_sends_syn_with_options(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN);
	CU_ASSERT_EQUAL(s->dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(s->dport, 5000);
	CU_ASSERT(s->sport != 0);
	CU_ASSERT_EQUAL(s->ack, 0);
	CU_ASSERT_EQUAL(s->len, 0);
	CU_ASSERT(s->win > 0);
	CU_ASSERT(s->has_mss);
	CU_ASSERT_EQUAL(s->mss, 1460);
	CU_ASSERT(s->has_wscale);
	CU_ASSERT(s->wscale <= 14);
	CU_ASSERT(s->has_ts);
	CU_ASSERT_EQUAL(s->tsecr, 0);   /* RFC 7323 3.2: nothing to echo yet */
	CU_ASSERT(s->sack_ok);          /* tcp.sack defaults to true (RFC 2018 2) */
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_ACTIVE_OPENS), 1);
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	CU_ASSERT_EQUAL(us_getsockname(t.st, fd, SU_SA(me), &ml), 0);
	CU_ASSERT_EQUAL(ntohs(me.sin_port), s->sport);
	CU_ASSERT_EQUAL(me.sin_addr.s_addr, TU_STACK_IP);
	us_close(t.st, fd);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);        /* closing in SYN_SENT sends nothing */
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_mss_clamped_to_route_mtu(void)
{
	struct tu t;
	cfg_new(__func__, 1000);
	if (!open_cfg(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN);
	CU_ASSERT(s->has_mss);
	CU_ASSERT_EQUAL(s->mss, 960);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_synack_establishes(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	struct tc_seg sa = { .sport = 5000, .dport = syn.sport, .seq = 7000, .ack = syn.seq + 1,
			     .flags = TC_SYN | TC_ACK, .win = 29200, .has_mss = true, .mss = 1400,
			     .sack_ok = true, .has_ts = true, .tsval = 555, .tsecr = syn.tsval,
			     .has_wscale = true, .wscale = 7 };
	tc_inject(&t, &sa);
	take(&t, &o);
	/* RFC 9293 3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, syn.seq + 1);
	CU_ASSERT_EQUAL(a->ack, 7001);
	CU_ASSERT_EQUAL(a->len, 0);
	CU_ASSERT(a->has_ts);
	CU_ASSERT_EQUAL(a->tsecr, 555);
	CU_ASSERT(!a->has_mss && !a->has_wscale);       /* SYN-only options */
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(sock_error(&t, fd), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_ESTABLISHED), 1);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	CU_ASSERT_EQUAL(us_getpeername(t.st, fd, SU_SA(peer), &pl), 0);
	CU_ASSERT_EQUAL(peer.sin_addr.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(ntohs(peer.sin_port), 5000);
	/* Data goes from ISS + 1, within the peer's MSS less the timestamp option. */
	static uint8_t big[3000];
	tu_pattern(big, sizeof big, 1);
	CU_ASSERT_EQUAL(us_send(t.st, fd, big, sizeof big, 0), (ssize_t)sizeof big);
	take(&t, &o);
	CU_ASSERT(o.n >= 2);
	if (o.n >= 1) {
		CU_ASSERT_EQUAL(o.seg[0].seq, syn.seq + 1);
		CU_ASSERT_EQUAL(o.seg[0].len, 1400 - 12);
		CU_ASSERT(memcmp(o.seg[0].data, big, o.seg[0].len) == 0);
		CU_ASSERT(o.seg[0].has_ts);
	}
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * RFC 9293 3.10.7.3: text on the SYN-ACK is processed as in ESTABLISHED
 * and acknowledged at once, not thrown away (which would make the peer
 * retransmit it after its RTO).
 */
static void test_syn_sent_synack_with_data_delivers_and_acks_it(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	struct tc_seg sa = { .sport = 5000, .dport = syn.sport, .seq = 7000, .ack = syn.seq + 1,
			     .flags = TC_SYN | TC_ACK, .win = 29200, .has_mss = true, .mss = 1460,
			     .data = "hello", .len = 5 };
	tc_inject(&t, &sa);
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, syn.seq + 1);
	CU_ASSERT_EQUAL(a->ack, 7001 + 5);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	char buf[16] = "";
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 5);
	CU_ASSERT(memcmp(buf, "hello", 5) == 0);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

/* SYN+FIN crossing our SYN: dropped, no simultaneous open. */
static void test_syn_sent_syn_fin_dropped(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	struct tc_seg s = { .sport = 5000, .dport = syn.sport, .seq = 7000,
			    .flags = TC_SYN | TC_FIN, .win = 65535, .has_mss = true, .mss = 1460 };
	tc_inject(&t, &s);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_DROP_SYNFIN), 1);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_synack_without_options_turns_ws_ts_off(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	tc_peer_init(&p, &t, 5000, 0, 7000);
	struct tc_seg sa = { .has_mss = true, .mss = 1460 };      /* no WS, no TS */
	int fd = tc_open_active(&p, &sa);
	CU_ASSERT(!p.ts);
	/* Data and ACKs carry no timestamp; our window is not scaled (RFC 7323 2.2). */
	tc_peer_send(&p, TC_ACK | TC_PSH, "data", 4);
	struct tc_out o = { 0 };
	run(&t, 200 * TC_MS, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, 7005);
	CU_ASSERT(!a->has_ts);
	CU_ASSERT_EQUAL(a->hlen, 20);
	/* Unscaled, the field says at most 65535. The buffer (256 KiB) less the
	 * 4 bytes held is far more than that, so RFC 9293 3.8.6.2.2's test
	 * (RCV.BUFF - RCV.USER - RCV.WND >= min(RCV.BUFF / 2, MSS)) lets the
	 * window open fully again: 65535, not 65535 - 4. */
	CU_ASSERT_EQUAL(a->win, 65535);
	CU_ASSERT_EQUAL(us_send(t.st, fd, "x", 1, 0), 1);
	take(&t, &o);
	const struct tc_parsed *d = ONLY(&o, TC_ACK | TC_PSH);
	CU_ASSERT(!d->has_ts);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_rst_refused(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	/* What Linux answers for a port without listener. */
	struct tc_seg rst = { .sport = 5000, .dport = syn.sport, .seq = 0, .ack = syn.seq + 1,
			      .flags = TC_RST | TC_ACK };
	tc_inject(&t, &rst);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(sock_error(&t, fd), ECONNREFUSED);
	CU_ASSERT_EQUAL(sock_error(&t, fd), 0);         /* SO_ERROR clears it */
	/* Nothing is retransmitted afterwards. */
	run(&t, 10 * TC_SEC, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_rst_refused_second_connect_reports(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	struct tc_seg rst = { .sport = 5000, .dport = syn.sport, .seq = 0, .ack = syn.seq + 1,
			      .flags = TC_RST | TC_ACK };
	tc_inject(&t, &rst);
	SU_ERR(connect_peer(&t, fd, 5000), ECONNREFUSED);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

/* Linux keeps a port bound with bind() for the descriptor's lifetime, even
 * after its connection failed; a port chosen by connect() goes with it. */
static void test_closed_explicit_port_stays_bound(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7777) };
	SU_OK(us_bind(t.st, fd, (struct sockaddr *)&a, sizeof a));
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	CU_ASSERT_EQUAL(syn.sport, 7777);
	struct tc_seg rst = { .sport = 5000, .dport = syn.sport, .seq = 0, .ack = syn.seq + 1,
			      .flags = TC_RST | TC_ACK };
	tc_inject(&t, &rst);
	CU_ASSERT_EQUAL(sock_error(&t, fd), ECONNREFUSED);
	int other = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(us_bind(t.st, other, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	us_close(t.st, fd);
	SU_OK(us_bind(t.st, other, (struct sockaddr *)&a, sizeof a));
	us_close(t.st, other);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_rst_without_ack_ignored(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	/* RFC 9293 3.10.7.3: with the ACK bit off, an RST is dropped. */
	struct tc_seg rst = { .sport = 5000, .dport = syn.sport, .seq = 0, .flags = TC_RST };
	tc_inject(&t, &rst);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	CU_ASSERT_EQUAL(sock_error(&t, fd), 0);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_rst_with_bad_ack_ignored(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	/* RFC 9293 3.10.7.3: an unacceptable ACK with RST: drop, no reset for a reset. */
	struct tc_seg rst = { .sport = 5000, .dport = syn.sport, .seq = 0, .ack = syn.seq + 7,
			      .flags = TC_RST | TC_ACK };
	tc_inject(&t, &rst);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_bad_ack_gets_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	/* RFC 9293 3.10.7.3: SEG.ACK =< ISS or > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>. */
	struct tc_seg sa = { .sport = 5000, .dport = syn.sport, .seq = 7000, .ack = syn.seq,
			     .flags = TC_SYN | TC_ACK, .win = 65535, .has_mss = true, .mss = 1460 };
	tc_inject(&t, &sa);
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST);
	CU_ASSERT_EQUAL(r->seq, syn.seq);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	struct tc_seg ack = { .sport = 5000, .dport = syn.sport, .seq = 7000, .ack = syn.seq + 100,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	take(&t, &o);
	r = ONLY(&o, TC_RST);
	CU_ASSERT_EQUAL(r->seq, syn.seq + 100);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	/* The right SYN-ACK still completes it. */
	sa.ack = syn.seq + 1;
	tc_inject(&t, &sa);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_retries_with_exponential_backoff(void)
{
	struct tu t;
	cfg_new(__func__, 0);
	cfg.tcp.rto_initial_ms = 250;
	cfg.tcp.syn_retries = 4;
	if (!open_cfg(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	uint64_t t0 = us_stack_now(t.st);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	tc_run(&t, 7 * TC_SEC, &o);
	/* RFC 6298 5.5: 250 ms, then doubling: SYNs at 0, .25, .75, 1.75, 3.75 s. */
	static const uint64_t at_ms[] = { 0, 250, 750, 1750, 3750 };
	CU_ASSERT_EQUAL(o.n, 5);
	for (int i = 0; i < o.n && i < 5; i++) {
		CU_ASSERT_EQUAL(o.seg[i].flags, TC_SYN);
		CU_ASSERT_EQUAL(o.seg[i].seq, o.seg[0].seq);
		CU_ASSERT(o.seg[i].has_mss);
		CU_ASSERT_EQUAL(o.seg[i].time - t0, at_ms[i] * TC_MS);
	}
	/* Given up after the 4th retry's 4 s: at 7.75 s. */
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	run(&t, 800 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RETRANS_SEGS), 4);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_syn_retries_exhausted_etimedout(void)
{
	struct tu t;
	cfg_new(__func__, 0);
	cfg.tcp.syn_retries = 3;
	if (!open_cfg(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	uint64_t t0 = us_stack_now(t.st);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	/* Linux with tcp_syn_retries 3: SYNs at 0, 1, 3, 7 s; ETIMEDOUT at 15 s. */
	tc_run(&t, 14900 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 4);
	static const uint64_t at_s[] = { 0, 1, 3, 7 };
	for (int i = 0; i < o.n && i < 4; i++)
		CU_ASSERT_EQUAL(o.seg[i].time - t0, at_s[i] * TC_SEC);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	run(&t, 200 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_TIMEOUTS), 1);
	SU_ERR(connect_peer(&t, fd, 5000), ETIMEDOUT);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_sent_closed_port_between_stacks_refused(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int fd = us_socket(p.a, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in b = su_sin(SU_B_IP, 9);
	SU_ERR(us_connect(p.a, fd, SU_SA(b), sizeof b), EINPROGRESS);
	su_run(&p, 50 * TC_MS);         /* ARP, SYN, RST */
	SU_ERR(us_connect(p.a, fd, SU_SA(b), sizeof b), ECONNREFUSED);
	CU_ASSERT_EQUAL(us_stack_stat(p.b, US_STAT_TCP_NO_SOCKET), 1);
	us_close(p.a, fd);
	su_close(&p);
}

/* ==== simultaneous open (RFC 9293 figure 7) ================================= */

/* Connect, then the peer's own SYN crosses ours. Returns fd; *syn gets our SYN. */
static int crossing_syns(struct tu *t, struct tc_out *o, struct tc_parsed *syn)
{
	int fd = us_socket(t->st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(t, fd, 5000), EINPROGRESS);
	take(t, o);
	*syn = *ONLY(o, TC_SYN);
	struct tc_seg s = tc_syn(5000, syn->sport, 7000);
	tc_inject(t, &s);
	CU_ASSERT_EQUAL(tc_state(t, fd), TCPS_SYN_RCVD);
	/* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>: the same ISS again. */
	take(t, o);
	const struct tc_parsed *sa = ONLY(o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(sa->seq, syn->seq);
	CU_ASSERT_EQUAL(sa->ack, 7001);
	CU_ASSERT(sa->has_mss);
	return fd;
}

static void test_syn_sent_syn_simultaneous_open_synack_establishes(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_out o = { 0 };
	struct tc_parsed syn;
	int fd = crossing_syns(&t, &o, &syn);
	/* RFC 9293 figure 7 line 6: the peer's SYN-ACK moves us to ESTABLISHED. */
	struct tc_seg sa = { .sport = 5000, .dport = syn.sport, .seq = 7000, .ack = syn.seq + 1,
			     .flags = TC_SYN | TC_ACK, .win = 65535, .has_mss = true, .mss = 1460 };
	tc_inject(&t, &sa);
	take(&t, &o);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(sock_error(&t, fd), 0);
	CU_ASSERT_EQUAL(us_send(t.st, fd, "sim", 3, 0), 3);
	take(&t, &o);
	const struct tc_parsed *d = ONLY(&o, TC_ACK | TC_PSH);
	CU_ASSERT_EQUAL(d->seq, syn.seq + 1);
	CU_ASSERT_EQUAL(d->ack, 7001);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_simultaneous_open_ack_establishes(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_out o = { 0 };
	struct tc_parsed syn;
	int fd = crossing_syns(&t, &o, &syn);
	/* A peer that answers our SYN-ACK with a bare ACK. */
	struct tc_seg a = { .sport = 5000, .dport = syn.sport, .seq = 7001, .ack = syn.seq + 1,
			    .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &a);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

/*
 * RFC 9293 3.10.7.3: text on a simultaneous-open SYN is queued until
 * ESTABLISHED. Our SYN-ACK acknowledges the SYN only; the application
 * sees nothing before the handshake completes; then the text is readable
 * and acknowledged without the peer having to send it again.
 */
static void test_syn_rcvd_simultaneous_open_syn_text_queued_until_established(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd, 5000), EINPROGRESS);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed syn = *ONLY(&o, TC_SYN);
	struct tc_seg s = { .sport = 5000, .dport = syn.sport, .seq = 7000, .flags = TC_SYN,
			    .win = 65535, .has_mss = true, .mss = 1460, .data = "early", .len = 5 };
	tc_inject(&t, &s);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_RCVD);
	take(&t, &o);
	const struct tc_parsed *sa = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(sa->seq, syn.seq);
	CU_ASSERT_EQUAL(sa->ack, 7001);
	char buf[16] = "";
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* The peer's SYN-ACK (figure 7 line 6) completes the handshake. */
	struct tc_seg psa = { .sport = 5000, .dport = syn.sport, .seq = 7000, .ack = syn.seq + 1,
			      .flags = TC_SYN | TC_ACK, .win = 65535, .has_mss = true, .mss = 1460 };
	tc_inject(&t, &psa);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, syn.seq + 1);
	CU_ASSERT_EQUAL(a->ack, 7001 + 5);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 5);
	CU_ASSERT(memcmp(buf, "early", 5) == 0);
	/* Data after it follows in order. */
	struct tc_seg d = { .sport = 5000, .dport = syn.sport, .seq = 7006, .ack = syn.seq + 1,
			    .flags = TC_ACK | TC_PSH, .win = 65535, .data = "later", .len = 5 };
	tc_inject(&t, &d);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), 5);
	CU_ASSERT(memcmp(buf, "later", 5) == 0);
	us_close(t.st, fd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== closing (RFC 9293 3.6) ================================================= */

static void test_established_close_fin_wait_1_2_time_wait_closed(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *f = ONLY(&o, TC_FIN | TC_ACK);
	CU_ASSERT_EQUAL(f->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(f->ack, PISS + 1);
	tc_peer_saw(&p, f);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_FIN_WAIT_1);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_FIN_WAIT_2);
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 2);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	/* 2MSL is time_wait_s here. */
	run(&t, TW_S * TC_SEC - 10 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	run(&t, 20 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 1);        /* the listener alone */
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_fin_wait_1_fin_retransmitted_until_acked(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed fin = *ONLY(&o, TC_FIN | TC_ACK);
	/* No RTT sample yet: RTO 1 s (RFC 6298 2.1), then doubled (5.5). */
	run(&t, 990 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	run(&t, 20 * TC_MS, &o);
	const struct tc_parsed *f = ONLY(&o, TC_FIN | TC_ACK);
	CU_ASSERT_EQUAL(f->seq, fin.seq);
	CU_ASSERT_EQUAL(f->ack, PISS + 1);
	run(&t, 1980 * TC_MS, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	run(&t, 20 * TC_MS, &o);
	ONLY(&o, TC_FIN | TC_ACK);
	tc_peer_saw(&p, &fin);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_FIN_WAIT_2);
	run(&t, 10 * TC_SEC, &o);
	CU_ASSERT_EQUAL(o.n, 0);        /* acknowledged: no more retransmissions */
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_fin_wait_2_orphan_data_gets_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_FIN | TC_ACK));
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_FIN_WAIT_2);
	/* Nobody can read it any more: RFC 9293 3.10.7.4 (text in a closed
	 * connection) and Linux (TCPAbortOnData) reset. */
	tc_peer_send(&p, TC_ACK | TC_PSH, "late", 4);
	take(&t, &o);
	int k = tc_find(&o, 0, TC_RST);
	CU_ASSERT(k >= 0);
	if (k >= 0)
		CU_ASSERT_EQUAL(o.seg[k].seq, p.stack_iss + 2);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_fin_wait_1_fin_ack_goes_time_wait(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_FIN | TC_ACK));
	/* RFC 9293 3.10.7.4: FIN-WAIT-1 and our FIN acknowledged -> TIME-WAIT. */
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_fin_wait_1_simultaneous_close_closing_time_wait(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	struct tc_parsed fin = *ONLY(&o, TC_FIN | TC_ACK);
	/* RFC 9293 figure 13: the peer's FIN crosses ours (it does not ACK ours). */
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, fin.seq + 1);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_CLOSING);
	tc_peer_saw(&p, &fin);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	run(&t, TW_S * TC_SEC + 10 * TC_MS, &o);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_fin_wait_2_orphan_times_out(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_FIN | TC_ACK));
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_FIN_WAIT_2);
	/* Linux tcp_fin_timeout: an orphan waits 60 s for the peer's FIN, then goes quietly. */
	run(&t, 59 * TC_SEC, &o);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_FIN_WAIT_2);
	run(&t, 2 * TC_SEC, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_close_wait_last_ack_closed(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	struct tc_out o = { 0 };
	take(&t, &o);
	/* The FIN is acknowledged at once. */
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSE_WAIT);
	char buf[16];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 0);
	/* We can still send in CLOSE_WAIT. */
	CU_ASSERT_EQUAL(us_send(t.st, fd, "bye", 3, 0), 3);
	take(&t, &o);
	const struct tc_parsed *d = ONLY(&o, TC_ACK | TC_PSH);
	CU_ASSERT_EQUAL(d->len, 3);
	saw_all(&p, &o);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	us_close(t.st, fd);
	take(&t, &o);
	const struct tc_parsed *f = ONLY(&o, TC_FIN | TC_ACK);
	CU_ASSERT_EQUAL(f->seq, p.stack_iss + 4);
	CU_ASSERT_EQUAL(f->ack, PISS + 2);
	tc_peer_saw(&p, f);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_LAST_ACK);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	/* No TIME_WAIT for the side that closed second. */
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* A reset in LAST_ACK is reported as ECONNRESET (Linux tcp_reset, FreeBSD). */
static void test_last_ack_rst_reports_econnreset(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	struct tc_out o = { 0 };
	take(&t, &o);
	ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(us_shutdown(t.st, fd, SHUT_WR), 0);
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_FIN | TC_ACK));
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_LAST_ACK);
	tc_peer_send(&p, TC_RST, NULL, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(sock_error(&t, fd), ECONNRESET);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_fin_wait_2_half_close_still_receives(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	CU_ASSERT_EQUAL(us_shutdown(t.st, fd, SHUT_WR), 0);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *f = ONLY(&o, TC_FIN | TC_ACK);
	CU_ASSERT_EQUAL(f->seq, p.stack_iss + 1);
	tc_peer_saw(&p, f);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_FIN_WAIT_1);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_FIN_WAIT_2);
	SU_ERR(us_send(t.st, fd, "no", 2, 0), EPIPE);
	/* The peer's half is still open. */
	tc_peer_send(&p, TC_ACK | TC_PSH, "more data", 9);
	char buf[32];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 9);
	CU_ASSERT(memcmp(buf, "more data", 9) == 0);
	run(&t, 100 * TC_MS, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 10);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 2);
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, 0), EAGAIN);
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	take(&t, &o);
	a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 11);
	/* As Linux: a record holds TIME_WAIT; the socket is done (CLOSED). */
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 0);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_recv_returns_zero_at_fin(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, true);
	tc_peer_send(&p, TC_ACK | TC_PSH | TC_FIN, "last", 4);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 6);      /* 4 bytes and the FIN */
	char buf[16];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 4);
	CU_ASSERT(memcmp(buf, "last", 4) == 0);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 0);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSE_WAIT);
	us_close(t.st, fd);
	take(&t, &o);
	tc_peer_saw(&p, ONLY(&o, TC_FIN | TC_ACK));
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== TIME_WAIT ============================================================== */

/* An accepted connection the stack closed first, now in TIME_WAIT. */
static void to_time_wait(struct tu *t, struct tc_peer *p, int *lfd, bool ts)
{
	int fd = passive(t, p, lfd, ts);
	us_close(t->st, fd);
	struct tc_out o = { 0 };
	take(t, &o);
	tc_peer_saw(p, ONLY(&o, TC_FIN | TC_ACK));
	p->tsval += 10;
	tc_peer_send(p, TC_FIN | TC_ACK, NULL, 0);
	take(t, &o);
	ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(tc_conn_state(t, LPORT, PPORT), TCPS_TIME_WAIT);
	tc_out_free(&o);
}

static void test_time_wait_retransmitted_fin_reacked_restarts_2msl(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	to_time_wait(&t, &p, &lfd, false);
	struct tc_out o = { 0 };
	run(&t, 1500 * TC_MS, &o);
	/* Our ACK was lost: the peer sends its FIN again. */
	p.snd_nxt--;
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 2);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	/* RFC 9293 3.10.7.4 TIME-WAIT: acknowledge it and restart the 2 MSL timeout. */
	run(&t, 1000 * TC_MS, &o);        /* 2.5 s after entering TIME_WAIT */
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	run(&t, 1010 * TC_MS, &o);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_time_wait_late_segment_acked(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	to_time_wait(&t, &p, &lfd, false);
	/* A duplicate of old data. */
	struct tc_seg old = tc_peer_seg(&p, TC_ACK | TC_PSH, "old", 3);
	old.seq = PISS + 1 - 3;
	tc_inject(&t, &old);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 2);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_time_wait_new_syn_higher_seq_opens_new_connection(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	to_time_wait(&t, &p, &lfd, false);
	/* RFC 9293 3.10.7.4 / RFC 6191: a SYN above RCV.NXT may start a new incarnation. */
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS + 100000);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(s->ack, PISS + 100001);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_SYN_RCVD);
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 100001,
			      .ack = s->seq + 1, .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	int fd = us_accept(t.st, lfd, NULL, NULL);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_time_wait_new_syn_newer_timestamp_opens_new_connection(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	to_time_wait(&t, &p, &lfd, true);
	/* RFC 6191: with timestamps, a newer TSval is enough, even below RCV.NXT. */
	struct tc_seg syn = { .sport = PPORT, .dport = LPORT, .seq = PISS - 5000, .flags = TC_SYN,
			      .win = 65535, .has_mss = true, .mss = 1460, .has_ts = true,
			      .tsval = p.tsval + 1000 };
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *s = ONLY(&o, TC_SYN | TC_ACK);
	CU_ASSERT_EQUAL(s->ack, PISS - 4999);
	CU_ASSERT(s->has_ts);
	CU_ASSERT_EQUAL(s->tsecr, p.tsval + 1000);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_SYN_RCVD);
	struct tc_seg rst = { .sport = PPORT, .dport = LPORT, .seq = PISS - 4999, .flags = TC_RST };
	tc_inject(&t, &rst);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* A SYN+FIN above RCV.NXT does not end TIME_WAIT (Linux, FreeBSD drop SYN+FIN). */
static void test_time_wait_syn_fin_does_not_reopen(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	to_time_wait(&t, &p, &lfd, false);
	struct tc_seg syn = { .sport = PPORT, .dport = LPORT, .seq = PISS + 100000,
			      .flags = TC_SYN | TC_FIN, .win = 65535, .has_mss = true, .mss = 1460 };
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN | TC_ACK), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PASSIVE_OPENS), 1);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_time_wait_old_syn_gets_ack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	to_time_wait(&t, &p, &lfd, false);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS - 50);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	take(&t, &o);
	/* Not a new incarnation: the old connection answers with its ACK. */
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 2);
	CU_ASSERT_EQUAL(a->ack, PISS + 2);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== resets (RFC 5961 3) ==================================================== */

static void test_established_rst_exact_resets(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, true);
	tc_peer_send(&p, TC_RST, NULL, 0);      /* SEG.SEQ == RCV.NXT */
	struct tc_out o = { 0 };
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RX_RST), 1);
	char buf[8];
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, 0), ECONNRESET);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 0);      /* then EOF, as Linux */
	SU_ERR(us_send(t.st, fd, "x", 1, 0), EPIPE);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 1);
	us_close(t.st, fd);
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_rst_send_gets_econnreset_then_epipe(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	tc_peer_send(&p, TC_RST | TC_ACK, NULL, 0);
	SU_ERR(us_send(t.st, fd, "x", 1, 0), ECONNRESET);
	SU_ERR(us_send(t.st, fd, "x", 1, 0), EPIPE);
	struct tc_out o = { 0 };
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_rst_in_window_gets_challenge_ack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	struct tc_seg rst = tc_peer_seg(&p, TC_RST, NULL, 0);
	rst.seq += 100;
	tc_inject(&t, &rst);
	struct tc_out o = { 0 };
	take(&t, &o);
	/* RFC 5961 3.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and the connection stays. */
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(a->ack, PISS + 1);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_CHALLENGE_ACKS), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RX_RST), 0);
	CU_ASSERT_EQUAL(sock_error(&t, fd), 0);
	tc_peer_send(&p, TC_ACK | TC_PSH, "ok", 2);
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 2);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_rst_out_of_window_ignored(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	struct tc_seg rst = tc_peer_seg(&p, TC_RST, NULL, 0);
	rst.seq = PISS + 1 + 1000000;           /* far beyond the window */
	tc_inject(&t, &rst);
	rst.seq = PISS + 1 - 10;                /* before RCV.NXT */
	tc_inject(&t, &rst);
	struct tc_out o = { 0 };
	take(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);                /* RFC 5961 3.2: silently dropped */
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RX_RST), 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_syn_gets_challenge_ack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	struct tc_out o = { 0 };
	/* RFC 5961 4.2: a SYN in a synchronized state, whatever its sequence number. */
	static const int32_t off[] = { 0, 10, -500 };
	for (int i = 0; i < 3; i++) {
		struct tc_seg syn = tc_syn(PPORT, LPORT, PISS + 1 + (uint32_t)off[i]);
		tc_inject(&t, &syn);
		take(&t, &o);
		const struct tc_parsed *a = ONLY(&o, TC_ACK);
		CU_ASSERT_EQUAL(a->seq, p.stack_iss + 1);
		CU_ASSERT_EQUAL(a->ack, PISS + 1);
		CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	}
	CU_ASSERT(TU_STAT(&t, TCP_CHALLENGE_ACKS) >= 2);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_ack_beyond_snd_nxt_acked_and_dropped(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	/* RFC 5961 5.2 (RFC 9293 3.10.7.4): SEG.ACK > SND.NXT: send an ACK, drop the segment. */
	struct tc_seg s = tc_peer_seg(&p, TC_ACK | TC_PSH, "xyz", 3);
	s.ack = p.stack_iss + 1 + 1000;
	tc_inject(&t, &s);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(a->ack, PISS + 1);      /* the data was not taken */
	char buf[8];
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, 0), EAGAIN);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	/* The same data with a right ACK is taken. */
	tc_peer_send(&p, TC_ACK | TC_PSH, "xyz", 3);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 3);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_ack_too_old_gets_challenge_ack(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	/* RFC 5961 5.2: SEG.ACK < SND.UNA - MAX.SND.WND (65535 here): discard, send an ACK. */
	struct tc_seg s = tc_peer_seg(&p, TC_ACK | TC_PSH, "old", 3);
	s.ack = p.stack_iss + 1 - 70000;
	tc_inject(&t, &s);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(a->ack, PISS + 1);
	char buf[8];
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, 0), EAGAIN);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_close_with_unread_data_sends_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	tc_peer_send(&p, TC_ACK | TC_PSH, "unread", 6);
	struct tc_out o = { 0 };
	take(&t, &o);
	ONLY(&o, TC_ACK);       /* the first data: ACKed at once (quick-ACK mode) */
	us_close(t.st, fd);
	take(&t, &o);
	/* RFC 2525 2.17 and Linux: RST (with ACK) at SND.NXT instead of a FIN. */
	const struct tc_parsed *r = ONLY(&o, TC_RST | TC_ACK);
	CU_ASSERT_EQUAL(r->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(r->ack, PISS + 7);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RESETS_SENT), 1);
	run(&t, 5 * TC_SEC, &o);
	CU_ASSERT_EQUAL(o.n, 0);                /* and no FIN afterwards */
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_linger_zero_close_sends_rst(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, false);
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	take(&t, &o);
	const struct tc_parsed *r = ONLY(&o, TC_RST | TC_ACK);
	CU_ASSERT_EQUAL(r->seq, p.stack_iss + 1);
	CU_ASSERT_EQUAL(r->ack, PISS + 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);   /* no TIME_WAIT either */
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== PAWS (RFC 7323 5) ====================================================== */

static void test_established_paws_old_timestamp_dropped(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, true);
	CU_ASSERT(p.ts);
	p.tsval += 100;
	tc_peer_send(&p, TC_ACK | TC_PSH, "new", 3);
	struct tc_out o = { 0 };
	take(&t, &o);
	ONLY(&o, TC_ACK);       /* the first data: ACKed at once (quick-ACK mode) */
	/* The next segment carries a TSval older than the last one. */
	struct tc_seg s = tc_peer_seg(&p, TC_ACK | TC_PSH, "OLD", 3);
	s.tsval = p.tsval - 50;
	tc_inject(&t, &s);
	take(&t, &o);
	/* RFC 7323 5.3 R1: drop it and send an ACK (which acknowledges "new" only). */
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 4);
	CU_ASSERT(a->has_ts);
	CU_ASSERT_EQUAL(a->tsecr, p.tsval);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PAWS_DROPS), 1);
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 3);
	CU_ASSERT(memcmp(buf, "new", 3) == 0);
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, 0), EAGAIN);
	/* Sent again with a current TSval, it is taken. */
	p.tsval += 1;
	tc_peer_send(&p, TC_ACK | TC_PSH, "OLD", 3);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PAWS_DROPS), 1);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== MSS in use ============================================================= */

static void test_established_sends_at_most_peer_mss(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT, LPORT, PISS);
	struct tc_seg syn = { .has_mss = true, .mss = 536 };
	int fd = tc_open_passive(&p, lfd, &syn);
	static uint8_t big[2000];
	tu_pattern(big, sizeof big, 7);
	CU_ASSERT_EQUAL(us_send(t.st, fd, big, sizeof big, 0), (ssize_t)sizeof big);
	struct tc_out o = { 0 };
	take(&t, &o);
	/* Three full segments; Nagle holds the 392-byte tail until they are acknowledged. */
	CU_ASSERT_EQUAL(o.n, 3);
	for (int i = 0; i < o.n; i++) {
		CU_ASSERT_EQUAL(o.seg[i].len, 536);
		CU_ASSERT_EQUAL(o.seg[i].seq, p.stack_iss + 1 + 536u * (unsigned)i);
	}
	saw_all(&p, &o);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	take(&t, &o);
	const struct tc_parsed *d = ONLY(&o, TC_ACK | TC_PSH);
	CU_ASSERT_EQUAL(d->len, 2000 - 3 * 536);
	CU_ASSERT(memcmp(d->data, big + 3 * 536, d->len) == 0);
	saw_all(&p, &o);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_syn_rcvd_no_mss_option_assumes_536(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT, LPORT, PISS);
	struct tc_seg syn = { 0 };              /* no option at all */
	int fd = tc_open_passive(&p, lfd, &syn);
	int one = 1;
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
	static uint8_t big[600];
	tu_pattern(big, sizeof big, 3);
	CU_ASSERT_EQUAL(us_send(t.st, fd, big, sizeof big, 0), (ssize_t)sizeof big);
	struct tc_out o = { 0 };
	take(&t, &o);
	/* RFC 9293 3.7.1: without an MSS option the send MSS is 536. */
	CU_ASSERT_EQUAL(o.n, 2);
	if (o.n == 2) {
		CU_ASSERT_EQUAL(o.seg[0].len, 536);
		CU_ASSERT_EQUAL(o.seg[1].len, 64);
	}
	saw_all(&p, &o);
	tc_peer_send(&p, TC_ACK, NULL, 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

static void test_established_window_scaled_by_announced_shift(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	struct tc_peer p;
	int lfd;
	int fd = passive(&t, &p, &lfd, true);
	tc_peer_send(&p, TC_ACK | TC_PSH, "hello", 5);
	struct tc_out o = { 0 };
	run(&t, 200 * TC_MS, &o);
	const struct tc_parsed *a = ONLY(&o, TC_ACK);
	CU_ASSERT_EQUAL(a->ack, PISS + 6);
	/* Scaled by the shift of our SYN-ACK (RFC 7323 2.3), the field says more
	 * than an unscaled one could (the buffer is 256 KiB) and no more than
	 * the buffer. */
	CU_ASSERT(p.stack_has_ws);
	uint64_t wnd = (uint64_t)a->win << p.stack_wscale;
	CU_ASSERT(wnd > 65535);
	CU_ASSERT(wnd <= cfg.tcp.rcvbuf);
	char buf[16];
	CU_ASSERT_EQUAL(us_recv(t.st, fd, buf, sizeof buf, 0), 5);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	finish(&t);
}

/* ==== leaks ================================================================== */

static void test_closed_all_no_tcb_or_buffer_left(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p[4];
	int fd[4];
	struct tc_out o = { 0 };
	for (int i = 0; i < 4; i++) {
		if (i < 2) {
			tc_peer_init(&p[i], &t, (uint16_t)(PPORT + i), LPORT, PISS + 100000u * (unsigned)i);
			fd[i] = tc_open_passive(&p[i], lfd, NULL);
		} else {
			tc_peer_init(&p[i], &t, (uint16_t)(6000 + i), 0, 9000);
			fd[i] = tc_open_active(&p[i], NULL);
		}
	}
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(us_send(t.st, fd[i], "data", 4, 0), 4);
		tc_peer_send(&p[i], TC_ACK | TC_PSH, "back", 4);
	}
	tc_run(&t, 100 * TC_MS, &o);
	char buf[8];
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(us_recv(t.st, fd[i], buf, sizeof buf, 0), 4);
		tc_out_clear(&o);
		if (i % 2 == 0) {
			/* We close first: FIN, the peer ACKs and FINs; TIME_WAIT runs out. */
			us_close(t.st, fd[i]);
			tc_collect(&t, &o);
			p[i].rcv_nxt = p[i].stack_iss + 5;
			tc_peer_saw(&p[i], ONLY(&o, TC_FIN | TC_ACK));
			tc_peer_send(&p[i], TC_FIN | TC_ACK, NULL, 0);
		} else {
			/* The peer closes first; we close in CLOSE_WAIT. */
			p[i].rcv_nxt = p[i].stack_iss + 5;
			tc_peer_send(&p[i], TC_FIN | TC_ACK, NULL, 0);
			us_close(t.st, fd[i]);
			tc_collect(&t, &o);
			int k = tc_find(&o, 0, TC_FIN);
			CU_ASSERT(k >= 0);
			if (k >= 0)
				tc_peer_saw(&p[i], &o.seg[k]);
			tc_peer_send(&p[i], TC_ACK, NULL, 0);
		}
	}
	us_close(t.st, lfd);
	tc_run(&t, (TW_S + 1) * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 0);
	int left = 0;
	for (int i = 0; i < 64; i++) {
		struct us_sock *s = us_sock_get(t.st, i);
		if (s) {
			left++;
			us_sock_put(s);
		}
	}
	CU_ASSERT_EQUAL(left, 0);
	CU_ASSERT(tu_no_leak(&t));
	tc_out_free(&o);
	finish(&t);
}

/*
 * us_stack_free() with connections in every state still alive: whatever
 * they hold (sockets, buffers, timers) must be released. Only a leak
 * checker sees the difference: run the suite under valgrind
 * --leak-check=full or build with SANITIZE=address.
 */
static void test_stack_free_with_live_connections(void)
{
	struct tu t;
	if (!OPEN(&t))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_peer p[5];
	struct tc_out o = { 0 };
	int fd[3];
	for (int i = 0; i < 3; i++) {
		tc_peer_init(&p[i], &t, (uint16_t)(PPORT + i), LPORT, PISS);
		fd[i] = tc_open_passive(&p[i], lfd, NULL);
	}
	/* 0: ESTABLISHED with data both ways unread / unacknowledged. */
	CU_ASSERT_EQUAL(us_send(t.st, fd[0], "pending", 7, 0), 7);
	tc_peer_send(&p[0], TC_ACK | TC_PSH, "unread", 6);
	/* 1: an orphan in FIN_WAIT_1 (its FIN never acknowledged). */
	us_close(t.st, fd[1]);
	/* 2: an orphan in TIME_WAIT. */
	us_close(t.st, fd[2]);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	for (int i = 0; i < o.n; i++)
		if (o.seg[i].dport == PPORT + 2)
			tc_peer_saw(&p[2], &o.seg[i]);
	tc_peer_send(&p[2], TC_FIN | TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 2), TCPS_TIME_WAIT);
	/* An embryo in SYN_RCVD and a child waiting in the accept queue. */
	struct tc_seg syn = tc_syn(PPORT + 3, LPORT, PISS);
	tc_inject(&t, &syn);
	tc_peer_init(&p[4], &t, PPORT + 4, LPORT, PISS);
	struct tc_seg syn4 = tc_peer_seg(&p[4], TC_SYN, NULL, 0);
	tc_inject(&t, &syn4);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	for (int i = 0; i < o.n; i++)
		if (o.seg[i].dport == PPORT + 4) {
			struct tc_seg ack = { .sport = PPORT + 4, .dport = LPORT, .seq = PISS + 1,
					      .ack = o.seg[i].seq + 1, .flags = TC_ACK, .win = 65535 };
			tc_inject(&t, &ack);
		}
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 3), TCPS_SYN_RCVD);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 4), TCPS_ESTABLISHED);
	/* And a connect still in SYN_SENT. */
	int fd5 = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	SU_ERR(connect_peer(&t, fd5, 5000), EINPROGRESS);
	CU_ASSERT(tc_tcbs(&t) >= 5);    /* the TIME_WAIT record and SYN_RCVD entry are not TCBs */
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 1);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 1);
	tc_out_free(&o);
	tu_close(&t);           /* no finish(): the point is to free with all of it alive */
}

US_SUITE(tcp_state, NULL, NULL,
	 US_TEST(test_listen_syn_gets_synack),
	 US_TEST(test_listen_syn_without_options_gets_plain_synack),
	 US_TEST(test_listen_synack_mss_clamped_to_route_mtu),
	 US_TEST(test_syn_rcvd_ack_completes_accept_gives_peer),
	 US_TEST(test_syn_rcvd_retransmits_synack_after_initial_rto),
	 US_TEST(test_syn_rcvd_bad_ack_gets_rst),
	 US_TEST(test_syn_rcvd_rst_frees_backlog_slot),
	 US_TEST(test_syn_rcvd_duplicate_syn_gets_synack_again),
	 US_TEST(test_syn_rcvd_duplicate_syn_burst_rate_limited),
	 US_TEST(test_syn_rcvd_ack_with_data_delivers_it),
	 US_TEST(test_syn_rcvd_listener_closed_ack_gets_rst),
	 US_TEST(test_listen_close_resets_unaccepted_children),
	 US_TEST(test_listen_ack_gets_rst),
	 US_TEST(test_listen_rst_ignored),
	 US_TEST(test_listen_backlog_overflow_drops_syn),
	 US_TEST(test_listen_child_insert_failure_frees_backlog_slot),
	 US_TEST(test_listen_segment_while_child_enters_table),
	 US_TEST(test_listen_syn_fin_dropped),
	 US_TEST(test_closed_port_syn_gets_rst_ack),
	 US_TEST(test_closed_port_fin_with_data_gets_rst_ack_covering_it),
	 US_TEST(test_closed_port_ack_gets_rst_at_seg_ack),
	 US_TEST(test_closed_port_rst_gets_nothing),
	 US_TEST(test_syn_sent_sends_syn_with_options),
	 US_TEST(test_syn_sent_mss_clamped_to_route_mtu),
	 US_TEST(test_syn_sent_synack_establishes),
	 US_TEST(test_syn_sent_synack_with_data_delivers_and_acks_it),
	 US_TEST(test_syn_sent_syn_fin_dropped),
	 US_TEST(test_syn_sent_synack_without_options_turns_ws_ts_off),
	 US_TEST(test_syn_sent_rst_refused),
	 US_TEST(test_syn_sent_rst_refused_second_connect_reports),
	 US_TEST(test_closed_explicit_port_stays_bound),
	 US_TEST(test_syn_sent_rst_without_ack_ignored),
	 US_TEST(test_syn_sent_rst_with_bad_ack_ignored),
	 US_TEST(test_syn_sent_bad_ack_gets_rst),
	 US_TEST(test_syn_sent_retries_with_exponential_backoff),
	 US_TEST(test_syn_sent_syn_retries_exhausted_etimedout),
	 US_TEST(test_syn_sent_closed_port_between_stacks_refused),
	 US_TEST(test_syn_sent_syn_simultaneous_open_synack_establishes),
	 US_TEST(test_syn_rcvd_simultaneous_open_ack_establishes),
	 US_TEST(test_syn_rcvd_simultaneous_open_syn_text_queued_until_established),
	 US_TEST(test_established_close_fin_wait_1_2_time_wait_closed),
	 US_TEST(test_fin_wait_1_fin_retransmitted_until_acked),
	 US_TEST(test_fin_wait_2_orphan_data_gets_rst),
	 US_TEST(test_fin_wait_1_fin_ack_goes_time_wait),
	 US_TEST(test_fin_wait_1_simultaneous_close_closing_time_wait),
	 US_TEST(test_fin_wait_2_orphan_times_out),
	 US_TEST(test_close_wait_last_ack_closed),
	 US_TEST(test_last_ack_rst_reports_econnreset),
	 US_TEST(test_fin_wait_2_half_close_still_receives),
	 US_TEST(test_established_recv_returns_zero_at_fin),
	 US_TEST(test_time_wait_retransmitted_fin_reacked_restarts_2msl),
	 US_TEST(test_time_wait_late_segment_acked),
	 US_TEST(test_time_wait_new_syn_higher_seq_opens_new_connection),
	 US_TEST(test_time_wait_new_syn_newer_timestamp_opens_new_connection),
	 US_TEST(test_time_wait_syn_fin_does_not_reopen),
	 US_TEST(test_time_wait_old_syn_gets_ack),
	 US_TEST(test_established_rst_exact_resets),
	 US_TEST(test_established_rst_send_gets_econnreset_then_epipe),
	 US_TEST(test_established_rst_in_window_gets_challenge_ack),
	 US_TEST(test_established_rst_out_of_window_ignored),
	 US_TEST(test_established_syn_gets_challenge_ack),
	 US_TEST(test_established_ack_beyond_snd_nxt_acked_and_dropped),
	 US_TEST(test_established_ack_too_old_gets_challenge_ack),
	 US_TEST(test_established_close_with_unread_data_sends_rst),
	 US_TEST(test_established_linger_zero_close_sends_rst),
	 US_TEST(test_established_paws_old_timestamp_dropped),
	 US_TEST(test_established_sends_at_most_peer_mss),
	 US_TEST(test_syn_rcvd_no_mss_option_assumes_536),
	 US_TEST(test_established_window_scaled_by_announced_shift),
	 US_TEST(test_closed_all_no_tcb_or_buffer_left),
	 US_TEST(test_stack_free_with_live_connections));
