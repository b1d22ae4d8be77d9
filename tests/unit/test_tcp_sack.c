/*
 * test_tcp_sack.c — SACK, the receiver's side (suite tcp_sack): RFC 2018
 * negotiation and the blocks our ACKs carry, RFC 2883 D-SACK, and the
 * parse of the blocks a peer sends (for the sender's scoreboard).
 *
 * A scripted peer (tcputil.h, whose option code is the test's own) opens
 * a connection to a deterministic stack and sends data out of order; every
 * ACK the stack answers with is parsed and its blocks compared with what
 * RFC 2018 4 asks for: the block holding the segment that triggered the
 * ACK first, then the other blocks most recently reported, at most 4
 * (3 beside timestamps); RFC 2883 4: a duplicate is reported in the first
 * block of the next ACK, followed by the block holding it if any.
 * Sequence numbers below are offsets from the peer's first data byte.
 */
#include <errno.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "stack.h"
#include "tcputil.h"
#include "wire/tcp.h"

#define STACK_PORT 80
#define PEER_PORT  40000
#define PEER_ISS   7000000u
#define SEG        1000u

struct sk {
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	struct tc_parsed synack;
	struct tc_out o;
	uint8_t data[64 * SEG];
};

static void sk_close(struct sk *k)
{
	tc_out_free(&k->o);
	tu_close(&k->t);
}

/* Open cfg, the peer sends syn (ports, seq, flags filled in), completes
 * the handshake; the SYN-ACK is kept in k->synack. */
static bool sk_open(struct sk *k, const struct us_config *cfg, struct tc_seg syn)
{
	memset(k, 0, sizeof *k);
	k->lfd = k->fd = -1;
	tu_pattern(k->data, sizeof k->data, 3);
	if (!tu_open_cfg(&k->t, cfg))
		return false;
	k->lfd = tc_listen(&k->t, STACK_PORT, 8);
	tc_peer_init(&k->p, &k->t, PEER_PORT, STACK_PORT, PEER_ISS);
	syn.sport = PEER_PORT;
	syn.dport = STACK_PORT;
	syn.seq = PEER_ISS;
	syn.flags = TC_SYN;
	syn.win = k->p.win;
	if (syn.has_ts)
		k->p.tsval = syn.tsval;
	tc_inject(&k->t, &syn);
	k->p.snd_nxt = PEER_ISS + 1;
	tc_collect(&k->t, &k->o);
	if (k->o.n != 1 || k->o.seg[0].flags != (TC_SYN | TC_ACK)) {
		CU_FAIL("sk_open: no SYN-ACK");
		sk_close(k);
		return false;
	}
	k->synack = k->o.seg[0];
	k->synack.data = NULL;
	k->p.ts = syn.has_ts && k->synack.has_ts;
	tc_peer_saw(&k->p, &k->synack);
	tc_out_clear(&k->o);
	tc_peer_send(&k->p, TC_ACK, NULL, 0);
	k->fd = us_accept(k->t.st, k->lfd, NULL, NULL);
	CU_ASSERT(k->fd >= 0);
	tc_collect(&k->t, &k->o);
	tc_out_clear(&k->o);
	return true;
}

static const struct tc_seg SYN_SACK = { .has_mss = true, .mss = 1460, .sack_ok = true };
static const struct tc_seg SYN_SACK_TS = { .has_mss = true, .mss = 1460, .sack_ok = true,
					   .has_ts = true, .tsval = 100 };

/*
 * The peer sends bytes [from, to) (offsets) as one segment; returns the
 * one ACK the stack answers with at once, or NULL (assertion failed).
 */
static const struct tc_parsed *send_range(struct sk *k, uint32_t from, uint32_t to)
{
	tc_out_clear(&k->o);
	k->p.snd_nxt = PEER_ISS + 1 + from;
	struct tc_seg s = tc_peer_seg(&k->p, TC_ACK | TC_PSH, k->data + from, to - from);
	tc_inject(&k->t, &s);
	if (k->p.ts)
		k->p.tsval++;
	tc_collect(&k->t, &k->o);
	CU_ASSERT_EQUAL(k->o.n, 1);
	if (k->o.n != 1)
		return NULL;
	CU_ASSERT_EQUAL(k->o.seg[0].flags, TC_ACK);
	CU_ASSERT_EQUAL(k->o.seg[0].len, 0);
	CU_ASSERT(!k->o.seg[0].opt_bad);
	return &k->o.seg[0];
}

/* The ACK acknowledges offset ack and carries exactly the n blocks want (offsets). */
static void expect_blocks(const struct tc_parsed *a, uint32_t ack, int n, const uint32_t want[][2])
{
	if (!a)
		return;
	CU_ASSERT_EQUAL(a->ack, PEER_ISS + 1 + ack);
	CU_ASSERT_EQUAL(a->nsack, n);
	for (int i = 0; i < n && i < a->nsack; i++) {
		CU_ASSERT_EQUAL(a->sack[i][0], PEER_ISS + 1 + want[i][0]);
		CU_ASSERT_EQUAL(a->sack[i][1], PEER_ISS + 1 + want[i][1]);
	}
}

/* RFC 2018 2: SACK-permitted both ways; blocks only when both offered. */
static void test_sack_negotiated_on_passive_open(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct sk k;
	if (!sk_open(&k, &cfg, SYN_SACK))
		return;
	CU_ASSERT(k.synack.sack_ok);
	expect_blocks(send_range(&k, 1000, 2000), 0, 1, (const uint32_t[][2]){ { 1000, 2000 } });
	sk_close(&k);
}

static void test_no_sack_when_peer_syn_lacks_it(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct sk k;
	if (!sk_open(&k, &cfg, (struct tc_seg){ .has_mss = true, .mss = 1460 }))
		return;
	CU_ASSERT(!k.synack.sack_ok);
	expect_blocks(send_range(&k, 1000, 2000), 0, 0, NULL);
	expect_blocks(send_range(&k, 3000, 4000), 0, 0, NULL);
	expect_blocks(send_range(&k, 1500, 2500), 0, 0, NULL);     /* no D-SACK either */
	sk_close(&k);
}

static void test_no_sack_when_config_off(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	cfg.tcp.sack = false;
	struct sk k;
	if (!sk_open(&k, &cfg, SYN_SACK_TS))
		return;
	CU_ASSERT(!k.synack.sack_ok);
	CU_ASSERT(k.synack.has_ts);     /* the other options are unaffected */
	expect_blocks(send_range(&k, 1000, 2000), 0, 0, NULL);
	expect_blocks(send_range(&k, 1000, 2000), 0, 0, NULL);
	/* Our own SYN does not offer it either. */
	int fd = us_socket(k.t.st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5000),
				 .sin_addr.s_addr = TU_PEER_IP };
	tc_out_clear(&k.o);
	CU_ASSERT_EQUAL(us_connect(k.t.st, fd, (struct sockaddr *)&a, sizeof a), -1);
	tc_collect(&k.t, &k.o);
	int i = tc_find(&k.o, 0, TC_SYN);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT(!k.o.seg[i].sack_ok);
	us_close(k.t.st, fd);
	sk_close(&k);
}

/* Active open: our SYN offers it (tcp.sack defaults to true); the peer's SYN-ACK agrees. */
static void test_sack_negotiated_on_active_open(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	struct tc_peer p;
	tc_peer_init(&p, &t, 5000, 0, 9000000u);
	struct tc_seg sa = SYN_SACK;
	int fd = tc_open_active(&p, &sa);
	CU_ASSERT_FATAL(fd >= 0);
	static uint8_t d[SEG];
	p.snd_nxt = p.iss + 1 + SEG;
	tc_peer_send(&p, TC_ACK, d, SEG);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL_FATAL(o.n, 1);
	CU_ASSERT_EQUAL(o.seg[0].ack, p.iss + 1);
	CU_ASSERT_EQUAL(o.seg[0].nsack, 1);
	CU_ASSERT_EQUAL(o.seg[0].sack[0][0], p.iss + 1 + SEG);
	CU_ASSERT_EQUAL(o.seg[0].sack[0][1], p.iss + 1 + 2 * SEG);
	tc_out_free(&o);
	us_close(t.st, fd);
	tc_run(&t, 100 * TC_MS, NULL);
	tu_close(&t);
}

/*
 * RFC 2018 4, without timestamps (4 blocks fit): the newest block first,
 * merged ranges reported once, at most 4, and the blocks go with the hole.
 */
static void test_sack_block_order(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct sk k;
	if (!sk_open(&k, &cfg, SYN_SACK))
		return;
	CU_ASSERT(!k.synack.has_ts);
	expect_blocks(send_range(&k, 1000, 2000), 0, 1, (const uint32_t[][2]){ { 1000, 2000 } });
	expect_blocks(send_range(&k, 3000, 4000), 0, 2,
		      (const uint32_t[][2]){ { 3000, 4000 }, { 1000, 2000 } });
	expect_blocks(send_range(&k, 5000, 6000), 0, 3,
		      (const uint32_t[][2]){ { 5000, 6000 }, { 3000, 4000 }, { 1000, 2000 } });
	/* 2000-3000 joins the first two: one block, first. */
	expect_blocks(send_range(&k, 2000, 3000), 0, 2,
		      (const uint32_t[][2]){ { 1000, 4000 }, { 5000, 6000 } });
	/* An older range that grows moves to the front. */
	expect_blocks(send_range(&k, 7000, 8000), 0, 3,
		      (const uint32_t[][2]){ { 7000, 8000 }, { 1000, 4000 }, { 5000, 6000 } });
	expect_blocks(send_range(&k, 6000, 6500), 0, 3,
		      (const uint32_t[][2]){ { 5000, 6500 }, { 7000, 8000 }, { 1000, 4000 } });
	expect_blocks(send_range(&k, 9000, 10000), 0, 4,
		      (const uint32_t[][2]){ { 9000, 10000 }, { 5000, 6500 }, { 7000, 8000 },
					     { 1000, 4000 } });
	/* Five ranges: four blocks, the least recently reported one left out. */
	expect_blocks(send_range(&k, 11000, 12000), 0, 4,
		      (const uint32_t[][2]){ { 11000, 12000 }, { 9000, 10000 }, { 5000, 6500 },
					     { 7000, 8000 } });
	/* The first hole fills: 0-4000 acknowledged, its block gone. */
	expect_blocks(send_range(&k, 0, 1000), 4000, 4,
		      (const uint32_t[][2]){ { 11000, 12000 }, { 9000, 10000 }, { 5000, 6500 },
					     { 7000, 8000 } });
	/* Every hole fills: no SACK option at all once nothing is held out of order. */
	send_range(&k, 4000, 5000);
	send_range(&k, 6500, 7000);
	send_range(&k, 8000, 9000);
	expect_blocks(send_range(&k, 10000, 11000), 12000, 0, NULL);
	CU_ASSERT_EQUAL(k.o.seg[0].hlen, 20);
	uint8_t got[12000];
	CU_ASSERT_EQUAL(us_recv(k.t.st, k.fd, got, sizeof got, 0), 12000);
	CU_ASSERT(memcmp(got, k.data, 12000) == 0);
	sk_close(&k);
}

/* Beside the 10-byte timestamp option only 3 blocks fit in 40 bytes (RFC 2018 3). */
static void test_sack_three_blocks_with_timestamps(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct sk k;
	if (!sk_open(&k, &cfg, SYN_SACK_TS))
		return;
	CU_ASSERT(k.synack.has_ts && k.synack.sack_ok);
	send_range(&k, 1000, 2000);
	send_range(&k, 3000, 4000);
	send_range(&k, 5000, 6000);
	const struct tc_parsed *a = send_range(&k, 7000, 8000);
	expect_blocks(a, 0, 3,
		      (const uint32_t[][2]){ { 7000, 8000 }, { 5000, 6000 }, { 3000, 4000 } });
	if (a) {
		CU_ASSERT(a->has_ts);
		CU_ASSERT_EQUAL(a->hlen, 60);
	}
	sk_close(&k);
}

/* RFC 2883 4.1.1: a retransmitted segment wholly below the ACK is reported once. */
static void test_dsack_old_segment(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct sk k;
	if (!sk_open(&k, &cfg, SYN_SACK_TS))
		return;
	tc_out_clear(&k.o);
	k.p.snd_nxt = PEER_ISS + 1;
	tc_peer_send(&k.p, TC_ACK, k.data, SEG);     /* in order: quick-ACKed */
	tc_run(&k.t, 100 * TC_MS, &k.o);
	CU_ASSERT_EQUAL_FATAL(k.o.n, 1);
	CU_ASSERT_EQUAL(k.o.seg[0].ack, PEER_ISS + 1 + SEG);
	CU_ASSERT_EQUAL(k.o.seg[0].nsack, 0);
	/* The same segment again (its ACK was "lost"): D-SACK 0-1000. */
	expect_blocks(send_range(&k, 0, SEG), SEG, 1, (const uint32_t[][2]){ { 0, SEG } });
	/* Held out of order: 3000-4000. A duplicate of 0-1000 comes first, then it. */
	expect_blocks(send_range(&k, 3000, 4000), SEG, 1, (const uint32_t[][2]){ { 3000, 4000 } });
	expect_blocks(send_range(&k, 0, SEG), SEG, 2,
		      (const uint32_t[][2]){ { 0, SEG }, { 3000, 4000 } });
	/* Reported once: the next ACK has the SACK block alone. */
	expect_blocks(send_range(&k, 5000, 6000), SEG, 2,
		      (const uint32_t[][2]){ { 5000, 6000 }, { 3000, 4000 } });
	/* Partly old (500-1500 with 1000 acknowledged): the old part, 500-1000 (RFC 2883 4.1.1). */
	expect_blocks(send_range(&k, 500, 1500), 1500, 3,
		      (const uint32_t[][2]){ { 500, 1000 }, { 5000, 6000 }, { 3000, 4000 } });
	sk_close(&k);
}

/* RFC 2883 4.1.2: a duplicate of data held out of order; the block holding it follows. */
static void test_dsack_inside_ooo_range(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct sk k;
	if (!sk_open(&k, &cfg, SYN_SACK_TS))
		return;
	send_range(&k, 2000, 3000);
	send_range(&k, 3000, 4000);
	send_range(&k, 6000, 7000);
	expect_blocks(send_range(&k, 3000, 4000), 0, 3,
		      (const uint32_t[][2]){ { 3000, 4000 }, { 2000, 4000 }, { 6000, 7000 } });
	/* Overlapping partly: 3500-4500 duplicates 3500-4000 and extends the range. */
	expect_blocks(send_range(&k, 3500, 4500), 0, 3,
		      (const uint32_t[][2]){ { 3500, 4000 }, { 2000, 4500 }, { 6000, 7000 } });
	/* The hole fills: everything up to 4500 acknowledged, 6000-7000 still reported. */
	expect_blocks(send_range(&k, 0, 2000), 4500, 1, (const uint32_t[][2]){ { 6000, 7000 } });
	sk_close(&k);
}

/* The SACK option a peer sends (RFC 2018 3), parsed for the sender's scoreboard. */
static void test_parse_sack_option(void)
{
	/* NOP NOP TS(10) NOP NOP SACK with 2 blocks. */
	uint8_t p[40] = { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18,
			  0, 0, 0x10, 0, 0, 0, 0x14, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10 };
	struct wire_tcp_opts o;
	CU_ASSERT(wire_tcp_parse_opts(p, 32, &o));
	CU_ASSERT(o.has_ts);
	CU_ASSERT_EQUAL(o.nsack, 2);
	CU_ASSERT_EQUAL(o.sack[0].start, 0x1000);
	CU_ASSERT_EQUAL(o.sack[0].end, 0x1400);
	CU_ASSERT_EQUAL(o.sack[1].start, 0xfffffff0u);      /* wraps */
	CU_ASSERT_EQUAL(o.sack[1].end, 0x10);
	/* Four blocks, the most 40 bytes hold. */
	uint8_t q[36] = { 1, 1, 5, 34 };
	for (int i = 0; i < 8; i++)
		q[4 + 4 * i + 3] = (uint8_t)(i + 1);
	CU_ASSERT(wire_tcp_parse_opts(q, 36, &o));
	CU_ASSERT_EQUAL(o.nsack, 4);
	CU_ASSERT_EQUAL(o.sack[3].start, 7);
	CU_ASSERT_EQUAL(o.sack[3].end, 8);
	/* A length that is not 2 + 8n, or no block at all: ignored, the walk goes on. */
	uint8_t bad[16] = { 5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 2, 4, 0x05, 0xb4, 0 };
	CU_ASSERT(wire_tcp_parse_opts(bad, 16, &o));
	CU_ASSERT_EQUAL(o.nsack, 0);
	CU_ASSERT(o.has_mss);
	CU_ASSERT_EQUAL(o.mss, 1460);
	uint8_t empty[8] = { 5, 2, 2, 4, 0x05, 0xb4, 0, 0 };
	CU_ASSERT(wire_tcp_parse_opts(empty, 8, &o));
	CU_ASSERT_EQUAL(o.nsack, 0);
	CU_ASSERT(o.has_mss);
}

US_SUITE(tcp_sack, NULL, NULL,
	 US_TEST(test_sack_negotiated_on_passive_open),
	 US_TEST(test_no_sack_when_peer_syn_lacks_it),
	 US_TEST(test_no_sack_when_config_off),
	 US_TEST(test_sack_negotiated_on_active_open),
	 US_TEST(test_sack_block_order),
	 US_TEST(test_sack_three_blocks_with_timestamps),
	 US_TEST(test_dsack_old_segment),
	 US_TEST(test_dsack_inside_ooo_range),
	 US_TEST(test_parse_sack_option));
