/*
 * test_tcp_pmtu.c — path MTU discovery for TCP (core/tcp_pmtu.c, RFC 1191).
 *
 * The stack (MTU 1500, static ARP for the peer) has a connection to the
 * peer with 4000 bytes in flight in 1460-byte segments (the peer's SYN-ACK
 * announced MSS 1460, no timestamps). A router on the path then answers
 * "fragmentation needed" (3/4) with a next-hop MTU in the low 16 bits of
 * the second word (RFC 1191 4). Expected: the ICMP is acted on only if the
 * quoted sequence number is in flight (RFC 5927 4.1, as for every ICMP
 * error); then, at once (no clock advance), everything from SND.UNA is
 * sent again in segments that fit the new MTU (payload <= MTU - 40, DF
 * still set); a report of a larger MTU changes nothing (RFC 1191 6.1);
 * the next connection to that destination starts with the smaller MSS
 * while announcing the interface's (Linux), and after 10 minutes
 * (Linux's mtu_expires) the interface's MTU is used again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "sockutil.h"
#include "tcp.h"
#include "tcputil.h"

#define PPORT 5002
#define PISS  7000u

/* The peer (as a router would) sends 3/4 with next-hop MTU mtu, quoting a
 * 1500-byte DF segment stack sport -> dport with seq. */
static void needfrag(struct tu *t, uint16_t mtu, uint16_t sport, uint16_t dport, uint32_t seq)
{
	uint8_t tcp8[8];
	tu_put16(tcp8, sport);
	tu_put16(tcp8 + 2, dport);
	tu_put16(tcp8 + 4, (uint16_t)(seq >> 16));
	tu_put16(tcp8 + 6, (uint16_t)seq);
	struct tu_iph q = tu_iph_peer(6);
	q.src = TU_STACK_IP;
	q.dst = TU_PEER_IP;
	q.df = true;
	q.total_len = 1500;
	uint8_t icmp[8 + 28] = { 3, 4 };
	tu_put16(icmp + 6, mtu);
	size_t ql = tu_ip4(icmp + 8, &q, tcp8, sizeof tcp8);
	CU_ASSERT_FATAL(ql == 28);
	tu_put16(icmp + 2, tu_csum(icmp, 8 + ql));
	uint8_t f[128];
	struct tu_iph h = tu_iph_peer(1);
	tu_inject(t, f, tu_ip_frame(f, &h, icmp, 8 + ql));
}

static char data[4000];

/* A connection with 4000 bytes sent, none acknowledged. */
static int loaded(struct tu *t, struct tc_peer *p, const char *tag)
{
	struct us_config cfg;
	tc_config(&cfg, 0, tag);
	cfg.tcp.nodelay = true;         /* the short last segment goes too (no Nagle) */
	if (!tu_open_cfg(t, &cfg))
		return -1;
	tu_run(t, TC_SEC, NULL);
	tc_peer_init(p, t, PPORT, 0, PISS);
	int fd = tc_open_active(p, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)('a' + i % 26);
	CU_ASSERT_EQUAL(us_send(t->st, fd, data, sizeof data, 0), (ssize_t)sizeof data);
	struct tc_out o = { 0 };
	tc_collect(t, &o);
	CU_ASSERT_EQUAL(o.n, 3);        /* 1460 + 1460 + 1080 */
	for (int i = 0; i < o.n; i++)
		CU_ASSERT(o.seg[i].len <= 1460 && o.seg[i].df);
	tc_out_free(&o);
	return fd;
}

/* The segments in o cover [from, from + len) in order, each at most max. */
static void covers(const struct tc_out *o, uint32_t from, size_t len, size_t max)
{
	uint32_t at = from;
	for (int i = 0; i < o->n; i++) {
		const struct tc_parsed *s = &o->seg[i];
		CU_ASSERT(s->df);
		CU_ASSERT(s->len <= max);
		CU_ASSERT(s->len > 0);
		CU_ASSERT_EQUAL(s->seq, at);
		CU_ASSERT_EQUAL(memcmp(s->data, data + (s->seq - from), s->len), 0);
		at += (uint32_t)s->len;
	}
	CU_ASSERT_EQUAL(at - from, len);
}

static void test_pmtu_resegments_at_once(void)
{
	struct tu t;
	struct tc_peer p;
	int fd = loaded(&t, &p, __func__);
	if (fd < 0)
		return;
	uint32_t una = p.stack_iss + 1;
	struct tc_out o = { 0 };
	/* Not in flight (at SND.NXT, below SND.UNA): ignored, nothing resent. */
	needfrag(&t, 1000, p.stack_port, PPORT, una + 4000);
	needfrag(&t, 1000, p.stack_port, PPORT, una - 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_ICMP_OUT_OF_WINDOW), 2);
	CU_ASSERT_EQUAL(tc_collect(&t, &o), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PMTU_REDUCED), 0);
	/* Quoting the second segment: all 4000 bytes again, <= 960 each, now. */
	needfrag(&t, 1000, p.stack_port, PPORT, una + 1460);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 5);                 /* ceil(4000 / 960) */
	covers(&o, una, sizeof data, 1000 - 40);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_PMTU_REDUCED), 1);
	/* A larger MTU reported later: nothing changes. */
	tc_out_clear(&o);
	needfrag(&t, 1400, p.stack_port, PPORT, una);
	CU_ASSERT_EQUAL(tc_collect(&t, &o), 0);
	/* The peer acknowledges 2000 bytes; new data goes in 960-byte pieces. */
	p.rcv_nxt = una + 2000;
	tc_peer_send(&p, TC_ACK, NULL, 0);
	tc_out_clear(&o);
	tc_run(&t, TC_SEC / 10, &o);
	for (int i = 0; i < o.n; i++)
		CU_ASSERT(o.seg[i].len <= 960);
	tc_out_free(&o);
	us_close(t.st, fd);
	tc_run(&t, TC_SEC, NULL);
	tu_close(&t);
}

/* The cache: a new connection starts with the learnt MSS, announcing the
 * interface's; after 10 minutes the interface's MTU is used again. */
static void test_pmtu_cache_and_expiry(void)
{
	struct tu t;
	struct tc_peer p;
	int fd = loaded(&t, &p, __func__);
	if (fd < 0)
		return;
	needfrag(&t, 1200, p.stack_port, PPORT, p.stack_iss + 1);
	/* Everything acknowledged: the first connection goes quiet. */
	p.rcv_nxt = p.stack_iss + 1 + sizeof data;
	tc_peer_send(&p, TC_ACK, NULL, 0);
	tc_collect(&t, NULL);
	struct tc_out o = { 0 };
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			tu_run(&t, 601 * TC_SEC, NULL);
		struct tc_peer q;
		tc_peer_init(&q, &t, (uint16_t)(PPORT + 1 + round), 0, PISS);
		int fd2 = tc_open_active(&q, NULL);
		CU_ASSERT_FATAL(fd2 >= 0);
		CU_ASSERT_EQUAL(q.stack_mss, 1460);      /* announced: the interface's */
		CU_ASSERT_EQUAL(us_send(t.st, fd2, data, 3000, 0), 3000);
		tc_out_clear(&o);
		tc_collect(&t, &o);
		CU_ASSERT_FATAL(o.n >= 3);
		CU_ASSERT_EQUAL(o.seg[0].len, round == 0 ? 1200 - 40 : 1460);
		q.rcv_nxt = q.stack_iss + 1 + 3000;
		tc_peer_send(&q, TC_ACK, NULL, 0);
		tc_collect(&t, NULL);
		us_close(t.st, fd2);
	}
	us_close(t.st, fd);
	tc_out_free(&o);
	tc_run(&t, TC_SEC, NULL);
	tu_close(&t);
}

/* No MTU in the message (an RFC 792 router): RFC 1191 7's plateau below
 * the quoted datagram's 1500 bytes, 1492. */
static void test_pmtu_plateau_without_mtu(void)
{
	struct tu t;
	struct tc_peer p;
	int fd = loaded(&t, &p, __func__);
	if (fd < 0)
		return;
	struct tc_out o = { 0 };
	needfrag(&t, 0, p.stack_port, PPORT, p.stack_iss + 1);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL_FATAL(o.n, 3);
	covers(&o, p.stack_iss + 1, sizeof data, 1492 - 40);
	CU_ASSERT_EQUAL(o.seg[0].len, 1452);
	tc_out_free(&o);
	us_close(t.st, fd);
	tc_run(&t, TC_SEC, NULL);
	tu_close(&t);
}

US_SUITE(tcp_pmtu, NULL, NULL,
	 US_TEST(test_pmtu_resegments_at_once),
	 US_TEST(test_pmtu_cache_and_expiry),
	 US_TEST(test_pmtu_plateau_without_mtu));
