/*
 * test_tcp_icmp.c — ICMP errors about TCP segments (suite "tcp_icmp").
 *
 * RFC 5927 4.1: act on an ICMP error only if the TCP sequence number it
 * quotes is in flight, SND.UNA <= SEG.SEQ < SND.NXT; otherwise an
 * off-path attacker who knows the 4-tuple could abort connections. What
 * an accepted error does follows Linux (tcp_v4_err): it aborts an attempt
 * in SYN_SENT; a passive connection in SYN_RCVD only on a hard error
 * (protocol or port unreachable); on a synchronized connection it is soft
 * (RFC 1122 4.2.3.9): kept for SO_ERROR and reported instead of ETIMEDOUT
 * when the connection times out; an ACK of new data clears it.
 *
 * The ICMP messages come from the peer (10.0.0.2) and quote an IPv4
 * header and the first 8 bytes of a TCP header, built here.
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

#define PPORT 5001
#define PISS  1000u

/* Destination unreachable codes and time exceeded (RFC 792). */
#define UNREACH    3
#define C_HOST     1
#define C_PORT     3
#define TIME_EXC   11

/* The peer sends ICMP type/code quoting a TCP segment stack sport -> peer dport with seq. */
static void icmp_about(struct tu *t, uint8_t type, uint8_t code, uint16_t sport, uint16_t dport,
		       uint32_t seq)
{
	uint8_t tcp8[8];
	tu_put16(tcp8, sport);
	tu_put16(tcp8 + 2, dport);
	tu_put16(tcp8 + 4, (uint16_t)(seq >> 16));
	tu_put16(tcp8 + 6, (uint16_t)seq);
	struct tu_iph q = tu_iph_peer(6);
	q.src = TU_STACK_IP;
	q.dst = TU_PEER_IP;
	q.total_len = 40;               /* the quoted segment was a bare header */
	uint8_t icmp[8 + 28] = { type, code };
	size_t ql = tu_ip4(icmp + 8, &q, tcp8, sizeof tcp8);
	CU_ASSERT_FATAL(ql == 28);
	tu_put16(icmp + 2, tu_csum(icmp, 8 + ql));
	uint8_t f[128];
	struct tu_iph h = tu_iph_peer(1);
	tu_inject(t, f, tu_ip_frame(f, &h, icmp, 8 + ql));
}

static int so_error(struct tu *t, int fd)
{
	int e = -1;
	socklen_t l = sizeof e;
	CU_ASSERT_EQUAL(us_getsockopt(t->st, fd, SOL_SOCKET, SO_ERROR, &e, &l), 0);
	return e;
}

static uint64_t oow(struct tu *t)
{
	return TU_STAT(t, TCP_ICMP_OUT_OF_WINDOW);
}

static bool open_stack(struct tu *t, const char *tag, uint32_t retries)
{
	struct us_config cfg;
	tc_config(&cfg, 0, tag);
	if (retries)
		cfg.tcp.retries = retries;
	if (!tu_open_cfg(t, &cfg))
		return false;
	tu_run(t, TC_SEC, NULL);
	return true;
}

/* SYN_SENT: a port unreachable quoting another sequence number is ignored;
 * one quoting our SYN aborts the attempt with ECONNREFUSED. */
static void test_syn_sent_icmp_checks_quoted_seq(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, 0))
		return;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = su_sin(TU_PEER_IP, PPORT);
	errno = 0;
	CU_ASSERT(us_connect(t.st, fd, SU_SA(a), sizeof a) == -1 && errno == EINPROGRESS);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL_FATAL(o.n, 1);
	struct tc_parsed syn = o.seg[0];
	/* Off-path guesses: the 4-tuple right, the sequence number not. */
	icmp_about(&t, UNREACH, C_PORT, syn.sport, PPORT, syn.seq + 1);
	icmp_about(&t, UNREACH, C_PORT, syn.sport, PPORT, syn.seq - 1);
	icmp_about(&t, UNREACH, C_PORT, syn.sport, PPORT, syn.seq + 0x40000000u);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_SYN_SENT);
	CU_ASSERT_EQUAL(oow(&t), 3);
	icmp_about(&t, UNREACH, C_PORT, syn.sport, PPORT, syn.seq);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(so_error(&t, fd), ECONNREFUSED);
	tc_out_free(&o);
	us_close(t.st, fd);
	tu_close(&t);
}

/* A stack (retries 2) with one connection to the peer, `data` queued and sent; returns fd. */
static int established(struct tu *t, struct tc_peer *p, const char *data, const char *tag)
{
	if (!open_stack(t, tag, 2))
		return -1;
	tc_peer_init(p, t, PPORT, 0, PISS);
	int fd = tc_open_active(p, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	size_t n = strlen(data);
	CU_ASSERT_EQUAL(us_send(t->st, fd, data, n, 0), (ssize_t)n);
	tc_collect(t, NULL);
	return fd;
}

/* The retries run out: the connection is closed, and recv reports err. */
static void times_out_with(struct tu *t, int fd, int err)
{
	tc_run(t, 60 * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tc_state(t, fd), TCPS_CLOSED);
	char b[8];
	errno = 0;
	CU_ASSERT_EQUAL(us_recv(t->st, fd, b, sizeof b, 0), -1);
	CU_ASSERT_EQUAL(errno, err);
	us_close(t->st, fd);
	tu_close(t);
}

/*
 * ESTABLISHED: a port unreachable is soft (the connection lives, SO_ERROR
 * shows it once); an ACK of new data clears a soft error; when the
 * retries run out the last soft error is reported instead of ETIMEDOUT.
 * An error quoting a sequence number not in flight changes nothing.
 */
static void test_established_icmp_is_soft_and_reported_at_timeout(void)
{
	struct tu t;
	struct tc_peer p;
	int fd = established(&t, &p, "0123456789", __func__);
	if (fd < 0)
		return;
	uint32_t una = p.stack_iss + 1;
	/* Hard code, but the connection is synchronized: soft. */
	icmp_about(&t, UNREACH, C_PORT, p.stack_port, PPORT, una + 5);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	CU_ASSERT_EQUAL(oow(&t), 0);
	CU_ASSERT_EQUAL(so_error(&t, fd), ECONNREFUSED);
	CU_ASSERT_EQUAL(so_error(&t, fd), 0);           /* read once */
	/* Not in flight: at SND.NXT, and below SND.UNA. */
	icmp_about(&t, UNREACH, C_HOST, p.stack_port, PPORT, una + 10);
	icmp_about(&t, UNREACH, C_HOST, p.stack_port, PPORT, una - 1);
	CU_ASSERT_EQUAL(oow(&t), 2);
	CU_ASSERT_EQUAL(so_error(&t, fd), 0);
	/* A soft error, then the data is acknowledged: forgotten. */
	icmp_about(&t, TIME_EXC, 0, p.stack_port, PPORT, una);
	p.rcv_nxt = una + 10;
	tc_peer_send(&p, TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(so_error(&t, fd), 0);
	/* New data, never acknowledged, and a host unreachable about it. */
	una += 10;
	CU_ASSERT_EQUAL(us_send(t.st, fd, "abc", 3, 0), 3);
	icmp_about(&t, UNREACH, C_HOST, p.stack_port, PPORT, una);
	times_out_with(&t, fd, EHOSTUNREACH);
}

/* Without a soft error the timeout is ETIMEDOUT (control for the test above). */
static void test_established_timeout_without_icmp_is_etimedout(void)
{
	struct tu t;
	struct tc_peer p;
	int fd = established(&t, &p, "abc", __func__);
	if (fd < 0)
		return;
	/* Off-path: not in flight, so not recorded. */
	icmp_about(&t, UNREACH, C_HOST, p.stack_port, PPORT, p.stack_iss + 1 + 3);
	times_out_with(&t, fd, ETIMEDOUT);
}

/* SYN_RCVD (passive): a soft error leaves the embryo alone (its SYN-ACK is
 * retransmitted); a port unreachable quoting the SYN-ACK drops it. */
static void test_syn_rcvd_only_hard_icmp_drops(void)
{
	struct tu t;
	if (!open_stack(&t, __func__, 0))
		return;
	int lfd = tc_listen(&t, 80, 8);
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT, 80, PISS);
	struct tc_seg syn = { .has_mss = true, .mss = 1460 };
	syn.sport = PPORT;
	syn.dport = 80;
	syn.seq = PISS;
	syn.flags = TC_SYN;
	syn.win = 65535;
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL_FATAL(o.n, 1);
	uint32_t iss = o.seg[0].seq;
	icmp_about(&t, UNREACH, C_HOST, 80, PPORT, iss);
	icmp_about(&t, UNREACH, C_PORT, 80, PPORT, iss + 1);   /* not in flight */
	CU_ASSERT_EQUAL(tc_conn_state(&t, 80, PPORT), TCPS_SYN_RCVD);
	CU_ASSERT_EQUAL(oow(&t), 1);
	tc_out_clear(&o);
	tc_run(&t, 1100 * TC_MS, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN | TC_ACK), 1);
	icmp_about(&t, UNREACH, C_PORT, 80, PPORT, iss);
	CU_ASSERT_EQUAL(tc_conn_state(&t, 80, PPORT), -1);
	tc_out_clear(&o);
	tc_run(&t, 5 * TC_SEC, &o);
	CU_ASSERT_EQUAL(o.n, 0);                        /* no more SYN-ACKs */
	tc_out_free(&o);
	us_close(t.st, lfd);
	tu_close(&t);
}

US_SUITE(tcp_icmp, NULL, NULL,
	 US_TEST(test_syn_sent_icmp_checks_quoted_seq),
	 US_TEST(test_established_icmp_is_soft_and_reported_at_timeout),
	 US_TEST(test_established_timeout_without_icmp_is_etimedout),
	 US_TEST(test_syn_rcvd_only_hard_icmp_drops));
