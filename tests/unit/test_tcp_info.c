/*
 * test_tcp_info.c — getsockopt(IPPROTO_TCP, TCP_INFO) (suite tcp_info).
 *
 * A scripted peer (tcputil.h) drives one connection to a deterministic
 * stack on the virtual clock, into situations whose TCP_INFO values the
 * RFCs fix; the values are read through the public call into the
 * system's own struct tcp_info (<netinet/tcp.h>), so the layout is
 * checked as an application sees it:
 *
 *   - the state numbers are Linux's (TCP_ESTABLISHED, TCP_LISTEN, ...);
 *   - options, window shifts and MSS are what the SYNs on the wire said;
 *   - rtt/rttvar/rto follow RFC 6298 2.2-2.4 from two known samples;
 *   - snd_cwnd after N ACKs in slow start is IW + N (RFC 6928, RFC 5681 3.1);
 *   - after an RTO: retransmits/backoff count the expirations, cwnd is
 *     1, ssthresh max(FlightSize/2, 2), the RTO doubled (RFC 5681 eq. 4,
 *     RFC 6298 5.5), total_retrans equals the retransmissions seen on
 *     the wire;
 *   - a short optlen gets a truncated copy, as Linux.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "stack.h"
#include "tcputil.h"
#include "wire/tcp.h"

#define STACK_PORT 80
#define PEER_PORT  40000
#define PEER_ISS   5000000u

/*
 * glibc's struct tcp_info stops at tcpi_total_retrans; Linux's goes on
 * (<linux/tcp.h>, which cannot be included beside <netinet/tcp.h>). The
 * rest of Linux's layout, written out here from linux/tcp.h.
 */
struct tcp_info_ext {
	struct tcp_info b;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
	uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
	uint32_t delivered, delivered_ce;
	uint64_t bytes_sent, bytes_retrans;
	uint32_t dsack_dups, reord_seen, rcv_ooopack, snd_wnd;
};
_Static_assert(sizeof(struct tcp_info) == 104, "glibc's struct tcp_info");

struct ti {
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	struct tc_out o;
	uint8_t data[200 * 1460];
};

static void ti_close(struct ti *k)
{
	tc_out_free(&k->o);
	tu_close(&k->t);
}

/* Open a stack; the peer connects with syn, acknowledging the SYN-ACK rtt_ms later. */
static bool ti_open(struct ti *k, const char *tag, struct tc_seg syn, uint64_t rtt_ms)
{
	struct us_config cfg;
	memset(k, 0, sizeof *k);
	k->lfd = k->fd = -1;
	tu_pattern(k->data, sizeof k->data, 5);
	tc_config(&cfg, 0, tag);
	k->fd = tc_open_conn(&k->t, &cfg, &(struct tc_conn_spec){ .lport = STACK_PORT,
				.pport = PEER_PORT, .piss = PEER_ISS, .syn = &syn,
				.rtt_ns = rtt_ms * TC_MS }, &k->p, &k->lfd);
	return k->fd >= 0;
}

static struct tcp_info_ext info_of(struct ti *k, int fd)
{
	struct tcp_info_ext i;
	memset(&i, 0xAA, sizeof i);
	socklen_t len = sizeof i;
	CU_ASSERT_EQUAL(us_getsockopt(k->t.st, fd, IPPROTO_TCP, TCP_INFO, &i, &len), 0);
	CU_ASSERT_EQUAL(len, sizeof i);
	return i;
}

/* The peer acknowledges everything up to ack (host order, absolute). */
static void peer_ack(struct ti *k, uint32_t ack)
{
	k->p.rcv_nxt = ack;
	tc_peer_send(&k->p, TC_ACK, NULL, 0);
}

/* Options, shifts, MSS, RTT per RFC 6298 from two known samples, byte counts. */
static void test_info_established_options_rtt(void)
{
	struct ti k;
	struct tc_seg syn = { .has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 4,
			      .sack_ok = true, .has_ts = true, .tsval = 100 };
	if (!ti_open(&k, __func__, syn, 50))    /* first RTT sample: 50 ms */
		return;
	struct tcp_info_ext i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_state, TCP_ESTABLISHED);
	CU_ASSERT_EQUAL(i.b.tcpi_ca_state, TCP_CA_Open);
	CU_ASSERT_EQUAL(i.b.tcpi_options, TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
	CU_ASSERT_EQUAL(i.b.tcpi_snd_wscale, 4);                  /* the peer's SYN */
	CU_ASSERT(k.p.stack_has_ws);
	CU_ASSERT_EQUAL(i.b.tcpi_rcv_wscale, k.p.stack_wscale);   /* our SYN-ACK */
	CU_ASSERT_EQUAL(i.b.tcpi_snd_mss, 1460 - 12);             /* timestamps on every segment */
	CU_ASSERT_EQUAL(i.b.tcpi_rcv_mss, 536);                   /* nothing received yet (Linux) */
	CU_ASSERT_EQUAL(i.b.tcpi_snd_cwnd, 10);                   /* RFC 6928 */
	CU_ASSERT(i.b.tcpi_snd_ssthresh >= 0xffff);               /* not set yet */
	CU_ASSERT_EQUAL(i.b.tcpi_reordering, 3);                  /* RFC 5681 DupThresh */
	CU_ASSERT_EQUAL(i.b.tcpi_rtt, 50000);                     /* RFC 6298 2.2: SRTT = R */
	CU_ASSERT_EQUAL(i.b.tcpi_rttvar, 25000);                  /* RTTVAR = R/2 */
	CU_ASSERT_EQUAL(i.b.tcpi_total_retrans, 0);
	CU_ASSERT_EQUAL(i.b.tcpi_retransmits, 0);

	/* One segment out, acknowledged 100 ms later: the second sample. */
	CU_ASSERT_EQUAL(us_send(k.t.st, k.fd, k.data, 1000, 0), 1000);
	tc_collect(&k.t, &k.o);
	CU_ASSERT_EQUAL_FATAL(k.o.n, 1);
	tc_peer_saw(&k.p, &k.o.seg[0]);
	i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_unacked, 1);
	tc_run(&k.t, 100 * TC_MS, &k.o);
	k.p.tsval += 150;
	/* The peer's data rides on the ACK: a full-sized segment. */
	tc_peer_send(&k.p, TC_ACK | TC_PSH, k.data, 1448);
	i = info_of(&k, k.fd);
	/* RFC 6298 2.3: RTTVAR = 3/4 25 + 1/4 |50 - 100| = 31.25 ms,
	 * SRTT = 7/8 50 + 1/8 100 = 56.25 ms; RTO = SRTT + 4 RTTVAR = 181.25 ms,
	 * below the 200 ms floor (2.4, Linux's TCP_RTO_MIN). */
	CU_ASSERT_EQUAL(i.b.tcpi_rtt, 56250);
	CU_ASSERT_EQUAL(i.b.tcpi_rttvar, 31250);
	CU_ASSERT_EQUAL(i.b.tcpi_rto, 200000);
	CU_ASSERT_EQUAL(i.min_rtt, 50000);
	CU_ASSERT_EQUAL(i.b.tcpi_unacked, 0);
	CU_ASSERT_EQUAL(i.bytes_acked, 1000);
	CU_ASSERT_EQUAL(i.bytes_received, 1448);
	CU_ASSERT_EQUAL(i.b.tcpi_rcv_mss, 1448);
	CU_ASSERT_EQUAL(i.data_segs_in, 1);
	CU_ASSERT_EQUAL(i.data_segs_out, 1);
	CU_ASSERT_EQUAL(i.bytes_sent, 1000);
	CU_ASSERT_EQUAL(i.snd_wnd, 65535u << 4);
	ti_close(&k);
}

/* Slow start (RFC 5681 3.1, ABC L = 1 SMSS): each ACK of one SMSS adds one SMSS. */
static void test_info_cwnd_slow_start(void)
{
	struct ti k;
	struct tc_seg syn = { .has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 4 };
	if (!ti_open(&k, __func__, syn, 10))
		return;
	CU_ASSERT_EQUAL(us_send(k.t.st, k.fd, k.data, 40 * 1460, 0), 40 * 1460);
	tc_collect(&k.t, &k.o);
	CU_ASSERT_EQUAL(k.o.n, 10);     /* the initial window */
	struct tcp_info_ext i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_snd_cwnd, 10);
	CU_ASSERT_EQUAL(i.b.tcpi_unacked, 10);
	CU_ASSERT_EQUAL(i.notsent_bytes, 30 * 1460);
	uint32_t una = k.p.rcv_nxt;
	for (int n = 1; n <= 10; n++) {
		una += 1460;
		peer_ack(&k, una);
		i = info_of(&k, k.fd);
		CU_ASSERT_EQUAL(i.b.tcpi_snd_cwnd, 10u + (uint32_t)n);
	}
	/* 10 acked, each ACK let two more out: 20 in flight, 10 not sent. */
	CU_ASSERT_EQUAL(i.b.tcpi_unacked, 20);
	CU_ASSERT_EQUAL(i.notsent_bytes, 10 * 1460);
	CU_ASSERT_EQUAL(i.b.tcpi_ca_state, TCP_CA_Open);
	CU_ASSERT_EQUAL(i.b.tcpi_total_retrans, 0);
	ti_close(&k);
}

/* How many data segments of o lie (at least partly) below seq `below`. */
static int rexmits_below(const struct tc_out *o, uint32_t below)
{
	int n = 0;
	for (int i = 0; i < o->n; i++)
		n += o->seg[i].len > 0 && seq_lt(o->seg[i].seq, below);
	return n;
}

/* A forced loss: nothing is acknowledged until two RTOs have fired. */
static void test_info_rto_counts(void)
{
	struct ti k;
	struct tc_seg syn = { .has_mss = true, .mss = 1460 };
	if (!ti_open(&k, __func__, syn, 10))
		return;
	/* NewReno's ssthresh (RFC 5681 eq. 4) is what is checked below. */
	CU_ASSERT_EQUAL(us_setsockopt(k.t.st, k.fd, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7), 0);
	uint32_t una = k.p.rcv_nxt;
	CU_ASSERT_EQUAL(us_send(k.t.st, k.fd, k.data, 10 * 1460, 0), 10 * 1460);
	tc_collect(&k.t, &k.o);
	CU_ASSERT_EQUAL_FATAL(k.o.n, 10);
	uint32_t top = una + 10 * 1460;
	struct tcp_info_ext i = info_of(&k, k.fd);
	uint32_t rto0 = i.b.tcpi_rto;
	CU_ASSERT(rto0 >= 200000);
	tc_out_clear(&k.o);

	/* First expiration: one segment again, at SND.UNA, after rto0. */
	tc_run(&k.t, rto0 * (uint64_t)1000 - TC_MS, &k.o);
	CU_ASSERT_EQUAL(k.o.n, 0);
	tc_run(&k.t, TC_MS, &k.o);
	CU_ASSERT_EQUAL(rexmits_below(&k.o, top), 1);
	i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_retransmits, 1);
	CU_ASSERT_EQUAL(i.b.tcpi_backoff, 1);
	CU_ASSERT_EQUAL(i.b.tcpi_total_retrans, 1);
	CU_ASSERT_EQUAL(i.b.tcpi_ca_state, TCP_CA_Loss);
	CU_ASSERT_EQUAL(i.b.tcpi_lost, 10);               /* all of the flight (Linux tcp_enter_loss) */
	CU_ASSERT_EQUAL(i.b.tcpi_snd_cwnd, 1);            /* RFC 5681 3.1: LW = 1 SMSS */
	CU_ASSERT_EQUAL(i.b.tcpi_snd_ssthresh, 5);        /* max(FlightSize / 2, 2 SMSS) */
	CU_ASSERT_EQUAL(i.b.tcpi_rto, 2 * rto0);          /* RFC 6298 5.5 */

	/* Second expiration. */
	tc_run(&k.t, 2 * (uint64_t)rto0 * 1000, &k.o);
	CU_ASSERT_EQUAL(rexmits_below(&k.o, top), 2);
	i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_retransmits, 2);
	CU_ASSERT_EQUAL(i.b.tcpi_total_retrans, 2);
	CU_ASSERT_EQUAL(i.b.tcpi_rto, 4 * rto0);
	CU_ASSERT_EQUAL(i.b.tcpi_snd_ssthresh, 5);        /* unchanged by the second (flight unchanged) */

	/* The first segment is acknowledged: the expirations are over, the
	 * losses go on being repaired in slow start (cwnd 2, go-back-N). */
	peer_ack(&k, una + 1460);
	tc_collect(&k.t, &k.o);
	i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_retransmits, 0);
	CU_ASSERT_EQUAL(i.b.tcpi_snd_cwnd, 2);
	CU_ASSERT_EQUAL(i.b.tcpi_ca_state, TCP_CA_Loss);
	CU_ASSERT_EQUAL(i.b.tcpi_lost, 9);
	CU_ASSERT_EQUAL(i.b.tcpi_total_retrans, (uint32_t)rexmits_below(&k.o, top));
	CU_ASSERT_EQUAL(i.b.tcpi_total_retrans, 4);
	CU_ASSERT_EQUAL(i.bytes_retrans, 4 * 1460);

	/* Everything acknowledged: recovery over. */
	peer_ack(&k, top);
	i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_ca_state, TCP_CA_Open);
	CU_ASSERT_EQUAL(i.b.tcpi_lost, 0);
	CU_ASSERT_EQUAL(i.b.tcpi_unacked, 0);
	ti_close(&k);
}

/* Linux's state numbers for a listener, SYN-SENT and CLOSE-WAIT. */
static void test_info_states(void)
{
	struct ti k;
	struct tc_seg syn = { .has_mss = true, .mss = 1460 };
	if (!ti_open(&k, __func__, syn, 1))
		return;
	/* A second connection waits in the accept queue. */
	struct tc_peer p2;
	tc_peer_init(&p2, &k.t, PEER_PORT + 1, STACK_PORT, 9000);
	struct tc_seg s = tc_syn(PEER_PORT + 1, STACK_PORT, 9000);
	tc_inject(&k.t, &s);
	tc_collect(&k.t, &k.o);
	CU_ASSERT_EQUAL_FATAL(k.o.n, 1);
	p2.snd_nxt = 9001;
	tc_peer_saw(&p2, &k.o.seg[0]);
	tc_peer_send(&p2, TC_ACK, NULL, 0);
	struct tcp_info_ext i = info_of(&k, k.lfd);
	CU_ASSERT_EQUAL(i.b.tcpi_state, TCP_LISTEN);
	CU_ASSERT_EQUAL(i.b.tcpi_unacked, 1);     /* Linux: the accept queue */
	CU_ASSERT_EQUAL(i.b.tcpi_sacked, 8);      /* and the backlog */

	/* The peer closes: CLOSE-WAIT. */
	tc_peer_send(&k.p, TC_ACK | TC_FIN, NULL, 0);
	i = info_of(&k, k.fd);
	CU_ASSERT_EQUAL(i.b.tcpi_state, TCP_CLOSE_WAIT);

	/* An active open not yet answered: SYN-SENT. */
	int fd = us_socket(k.t.st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7),
				 .sin_addr.s_addr = TU_PEER_IP };
	CU_ASSERT_EQUAL(us_connect(k.t.st, fd, (struct sockaddr *)&a, sizeof a), -1);
	i = info_of(&k, fd);
	CU_ASSERT_EQUAL(i.b.tcpi_state, TCP_SYN_SENT);
	us_close(k.t.st, fd);
	ti_close(&k);
}

/* A short optlen gets the start of the structure (Linux copies min(len, size)). */
static void test_info_truncated_copy(void)
{
	struct ti k;
	struct tc_seg syn = { .has_mss = true, .mss = 1460 };
	if (!ti_open(&k, __func__, syn, 1))
		return;
	struct tcp_info_ext full = info_of(&k, k.fd);
	uint8_t buf[1024];
	memset(buf, 0xAA, sizeof buf);
	socklen_t len = 8;
	CU_ASSERT_EQUAL(us_getsockopt(k.t.st, k.fd, IPPROTO_TCP, TCP_INFO, buf, &len), 0);
	CU_ASSERT_EQUAL(len, 8);
	CU_ASSERT(memcmp(buf, &full, 8) == 0);
	CU_ASSERT_EQUAL(buf[8], 0xAA);
	CU_ASSERT_EQUAL(buf[0], TCP_ESTABLISHED);

	/* Longer than anything: Linux's whole structure, nothing past it. */
	memset(buf, 0xAA, sizeof buf);
	len = sizeof buf;
	CU_ASSERT_EQUAL(us_getsockopt(k.t.st, k.fd, IPPROTO_TCP, TCP_INFO, buf, &len), 0);
	CU_ASSERT(len >= sizeof full && len < sizeof buf);
	CU_ASSERT_EQUAL(buf[len], 0xAA);
	CU_ASSERT(memcmp(buf, &full, offsetof(struct tcp_info, tcpi_last_data_sent)) == 0);

	len = 0;
	CU_ASSERT_EQUAL(us_getsockopt(k.t.st, k.fd, IPPROTO_TCP, TCP_INFO, NULL, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	ti_close(&k);
}

US_SUITE(tcp_info, NULL, NULL,
	 US_TEST(test_info_established_options_rtt),
	 US_TEST(test_info_cwnd_slow_start),
	 US_TEST(test_info_rto_counts),
	 US_TEST(test_info_states),
	 US_TEST(test_info_truncated_copy));
