/*
 * test_tcp_recovery.c — SACK, the sender's side (suite tcp_recovery): the
 * scoreboard (RFC 6675 terms), RFC 6675 loss recovery (entry, NextSeg's
 * rules), limited transmit (RFC 3042 as RFC 6675 5 step 3 does it), PRR
 * (RFC 6937) and what clears the scoreboard.
 *
 * A scripted peer (tcputil.h) opens a connection to a deterministic stack
 * offering SACK (MSS 1460, no timestamps, so up to 4 blocks) and receives
 * what the application sends; it answers with ACKs carrying the SACK
 * blocks a test chooses. Segments are numbered S1, S2, ... from the
 * stack's first data byte, each 1460 bytes. Expected values come from the
 * RFCs: the hand-worked cases say their arithmetic in comments, and the
 * PRR test runs its own model of RFC 6675's SetPipe/IsLost (per segment,
 * written from the RFC text) and RFC 6937's sndcnt.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "socket.h"
#include "stack.h"
#include "tcp.h"
#include "tcputil.h"

#define STACK_PORT 80
#define PEER_PORT  40000
#define PEER_ISS   3000000u
#define MSS        1460u

struct rc {
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	uint32_t base;                  /* the stack's first data byte (S1's start) */
	struct tc_out o;
	uint8_t data[64 * MSS];
};

static void rc_close(struct rc *r)
{
	tc_out_free(&r->o);
	tu_close(&r->t);
}

/*
 * A connection from a peer whose SYN offers SACK (sack false: it does
 * not). RACK-TLP (tcp.rack) is off unless rack: the peer here answers in
 * no time, so RACK's reordering window (min_RTT / 4) would be 0 and RACK
 * would mark every hole lost at the first SACK; the RFC 6675 tests look
 * at RFC 6675 alone (the RACK tests give the path an RTT).
 */
static bool rc_open_cfg(struct rc *r, const char *tag, bool sack, bool rack)
{
	memset(r, 0, sizeof *r);
	struct us_config cfg;
	tc_config(&cfg, 0, tag);
	cfg.tcp.rack = rack;
	/* RFC 6675 4.2's ssthresh = FlightSize / 2 is NewReno's (CUBIC: 0.7). */
	snprintf(cfg.tcp.congestion, sizeof cfg.tcp.congestion, "newreno");
	tu_pattern(r->data, sizeof r->data, 5);
	struct tc_seg syn = { .has_mss = true, .mss = MSS, .sack_ok = sack };
	r->fd = tc_open_conn(&r->t, &cfg, &(struct tc_conn_spec){ .lport = STACK_PORT,
				.pport = PEER_PORT, .piss = PEER_ISS, .syn = &syn }, &r->p, &r->lfd);
	if (r->fd < 0)
		return false;
	r->base = r->p.stack_iss + 1;
	tc_collect(&r->t, &r->o);
	tc_out_clear(&r->o);
	return true;
}

static bool rc_open(struct rc *r, const char *tag, bool sack)
{
	return rc_open_cfg(r, tag, sack, false);
}

static struct us_tcb *tcb_of(struct rc *r)
{
	return tc_tcb(&r->t, r->fd);
}

static uint32_t S(const struct rc *r, int k)        /* start of segment k (1-based) */
{
	return r->base + (uint32_t)(k - 1) * MSS;
}

/* The application sends nseg segments' worth (TCP_NODELAY); collects what goes at once. */
static int rc_send(struct rc *r, int nseg)
{
	int one = 1;
	us_setsockopt(r->t.st, r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	ssize_t n = us_send(r->t.st, r->fd, r->data, (size_t)nseg * MSS, 0);
	CU_ASSERT_EQUAL(n, (ssize_t)nseg * MSS);
	tc_out_clear(&r->o);
	return tc_collect(&r->t, &r->o);
}

/*
 * The peer ACKs segment ack_k's start (everything before it received) with
 * up to 4 SACK blocks given as inclusive segment ranges {from, to}
 * ({0, 0} ends the list), window win; collects what the stack answers.
 */
static int rc_ack(struct rc *r, int ack_k, const int blocks[][2], uint16_t win)
{
	r->p.rcv_nxt = S(r, ack_k);
	r->p.win = win;
	struct tc_seg s = tc_peer_seg(&r->p, TC_ACK, NULL, 0);
	for (int i = 0; blocks && i < 4 && blocks[i][0]; i++) {
		s.sack[i][0] = S(r, blocks[i][0]);
		s.sack[i][1] = S(r, blocks[i][1] + 1);
		s.nsack = i + 1;
	}
	tc_out_clear(&r->o);
	tc_inject(&r->t, &s);
	return tc_collect(&r->t, &r->o);
}

/* The data segments of r->o as segment numbers (0 if not on a boundary), at most max. */
static int sent_segs(const struct rc *r, int *k, int max)
{
	int n = 0;
	for (int i = 0; i < r->o.n && n < max; i++) {
		const struct tc_parsed *s = &r->o.seg[i];
		if (!s->len)
			continue;
		uint32_t off = s->seq - r->base;
		k[n++] = off % MSS == 0 && s->len == MSS ? (int)(off / MSS) + 1 : 0;
	}
	return n;
}

#define W 65535

/* ---- the scoreboard ------------------------------------------------------------ */

/*
 * RFC 6675 4 Update(): the SACKed ranges are kept sorted and merged; a
 * cumulative ACK drops what it covers; SetPipe and IsLost follow.
 */
static void test_scoreboard_update_from_blocks(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	/* S4 and S7-S8 held by the peer, in that order of blocks. */
	rc_ack(&r, 1, (const int[][2]){ { 7, 8 }, { 4, 4 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL_FATAL(t->nsb, 2);
	CU_ASSERT_EQUAL(t->sb[0].start, S(&r, 4));
	CU_ASSERT_EQUAL(t->sb[0].end, S(&r, 5));
	CU_ASSERT_EQUAL(t->sb[1].start, S(&r, 7));
	CU_ASSERT_EQUAL(t->sb[1].end, S(&r, 9));
	CU_ASSERT_EQUAL(t->sb_sacked, 3 * MSS);
	/* S5-S6 join them into one range S4-S8. */
	rc_ack(&r, 1, (const int[][2]){ { 4, 8 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL_FATAL(t->nsb, 1);
	CU_ASSERT_EQUAL(t->sb[0].start, S(&r, 4));
	CU_ASSERT_EQUAL(t->sb[0].end, S(&r, 9));
	CU_ASSERT_EQUAL(t->sb_sacked, 5 * MSS);
	/* A cumulative ACK into the range (S1-S5 received) trims it. */
	rc_ack(&r, 6, (const int[][2]){ { 6, 8 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL_FATAL(t->nsb, 1);
	CU_ASSERT_EQUAL(t->sb[0].start, S(&r, 6));
	CU_ASSERT_EQUAL(t->sb_sacked, 3 * MSS);
	/* Past it: the scoreboard empties. */
	rc_ack(&r, 10, NULL, W);
	CU_ASSERT_EQUAL(t->nsb, 0);
	CU_ASSERT_EQUAL(t->sb_sacked, 0);
	rc_close(&r);
}

/*
 * Blocks outside SND.UNA..SND.NXT are ignored and counted; D-SACKs (RFC
 * 2883 4: a first block below the cumulative ACK, or inside the second
 * block) are counted and never mark anything SACKed.
 */
static void test_scoreboard_invalid_and_dsack_blocks(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	rc_ack(&r, 3, NULL, W);                 /* SND.UNA = S3 */
	uint64_t inv0 = us_stack_stat(r.t.st, US_STAT_TCP_SACK_INVALID);
	uint64_t ds0 = us_stack_stat(r.t.st, US_STAT_TCP_DSACK_RX);
	/* Beyond SND.NXT (S11 was never sent), straddling SND.UNA (second
	 * block, so not a D-SACK), and empty. */
	r.p.rcv_nxt = S(&r, 3);
	struct tc_seg s = tc_peer_seg(&r.p, TC_ACK, NULL, 0);
	s.nsack = 3;
	s.sack[0][0] = S(&r, 10);
	s.sack[0][1] = S(&r, 12);
	s.sack[1][0] = S(&r, 2);
	s.sack[1][1] = S(&r, 5);
	s.sack[2][0] = S(&r, 6);
	s.sack[2][1] = S(&r, 6);
	tc_inject(&r.t, &s);
	CU_ASSERT_EQUAL(t->nsb, 0);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_SACK_INVALID) - inv0, 3);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_DSACK_RX) - ds0, 0);
	/* D-SACK below the ACK (S1 received twice), then a real block S5. */
	rc_ack(&r, 3, (const int[][2]){ { 1, 1 }, { 5, 5 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_DSACK_RX) - ds0, 1);
	CU_ASSERT_EQUAL_FATAL(t->nsb, 1);
	CU_ASSERT_EQUAL(t->sb[0].start, S(&r, 5));
	CU_ASSERT_EQUAL(t->sb[0].end, S(&r, 6));
	/* D-SACK inside the second block (S5 again, held within S5-S6). */
	rc_ack(&r, 3, (const int[][2]){ { 5, 5 }, { 5, 6 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_DSACK_RX) - ds0, 2);
	CU_ASSERT_EQUAL(t->sb[0].end, S(&r, 7));
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_SACK_INVALID) - inv0, 3);
	rc_close(&r);
}

/*
 * SetPipe and IsLost (RFC 6675 4) against the RFC's per-octet definitions
 * evaluated here segment by segment: an unSACKed segment is lost when 3
 * discontiguous SACKed ranges, or more than 2 * SMSS SACKed bytes, lie
 * above it; pipe counts each unSACKed, not lost segment (nothing was
 * retransmitted outside recovery).
 */
static void test_scoreboard_pipe_and_islost(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	static const int cases[][4][2] = {
		{ { 3, 3 }, { 0, 0 } },
		{ { 3, 4 }, { 0, 0 } },
		{ { 3, 5 }, { 0, 0 } },
		{ { 3, 3 }, { 5, 5 }, { 7, 7 }, { 0, 0 } },
		{ { 2, 2 }, { 4, 4 }, { 9, 10 }, { 0, 0 } },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		/* A fresh scoreboard for each case (the cumulative ACK stays at
		 * S1 and the stack only ever grows it), and RecoveryPoint above
		 * SND.UNA as after an RTO, so that no recovery starts and the
		 * scoreboard alone is looked at. */
		tcp_sb_clear(t);
		t->dupacks = 0;
		t->recover = S(&r, 11);
		rc_ack(&r, 1, cases[c], W);
		CU_ASSERT(!t->in_recovery);
		bool sacked[11] = { false };
		for (int i = 0; i < 4 && cases[c][i][0]; i++)
			for (int k = cases[c][i][0]; k <= cases[c][i][1]; k++)
				sacked[k] = true;
		uint32_t pipe = 0;
		for (int k = 1; k <= 10; k++) {
			int runs = 0;
			uint32_t bytes = 0;
			for (int j = k + 1; j <= 10; j++) {
				if (sacked[j]) {
					bytes += MSS;
					if (!sacked[j - 1] || j == k + 1)
						runs++;
				}
			}
			bool lost = !sacked[k] && (runs >= 3 || bytes > 2 * MSS);
			CU_ASSERT_EQUAL(tcp_sb_is_lost(t, S(&r, k)), lost);
			if (!sacked[k] && !lost)
				pipe += MSS;
		}
		CU_ASSERT_EQUAL(tcp_sb_pipe(t), pipe);
	}
	rc_close(&r);
}

/* ---- recovery ------------------------------------------------------------------- */

/*
 * RFC 6675 5 step (2): one ACK that SACKs three segments above SND.UNA
 * makes IsLost(HighACK + 1) true: fast retransmit on that first duplicate
 * ACK (NewReno would wait for three). RecoveryPoint = HighData, ssthresh =
 * FlightSize / 2.
 */
static void test_recovery_entry_on_islost(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	int k[8];
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 1);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT(t->in_recovery);
	CU_ASSERT(t->sack_recovery);
	CU_ASSERT_EQUAL(t->recover, S(&r, 11));
	CU_ASSERT_EQUAL(t->ssthresh, 5 * MSS);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_FAST_RETRANS), 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_SACK_RECOVERIES), 1);
	/* The cumulative ACK of RecoveryPoint ends it; cwnd = ssthresh (RFC 6937). */
	rc_ack(&r, 11, NULL, W);
	CU_ASSERT(!t->in_recovery);
	CU_ASSERT_EQUAL(t->cwnd, 5 * MSS);
	rc_close(&r);
}

/*
 * Two holes found by one ACK: S1 and S5 lost, S2-S4 and S6-S10 SACKed
 * (8 segments delivered). Nothing else to send. ssthresh = 5 segments,
 * pipe = 0 (both holes are lost: S5 has 5 SACKed segments above it), so
 * PRR-SSRB allows min(ssthresh - pipe, max(prr_delivered - prr_out,
 * DeliveredData) + MSS) = min(5, 9) segments; NextSeg rule 1 gives S1 then
 * S5 (never SACKed data), then nothing (rule 3 has no candidate and rule 4
 * needs a partial ACK).
 */
static void test_nextseg_rule1_each_lost_hole(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	rc_ack(&r, 1, (const int[][2]){ { 6, 10 }, { 2, 4 }, { 0, 0 } }, W);
	int k[8];
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 2);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT_EQUAL(k[1], 5);
	CU_ASSERT_EQUAL(tcb_of(&r)->high_rxt, S(&r, 6));
	rc_close(&r);
}

/*
 * NextSeg rules 2 and 3. Six segments in flight (the peer's window is
 * 6 * MSS). ACK 1 SACKs S2-S4: S1 is lost (3 segments above), recovery
 * starts, ssthresh = 3 segments; pipe = S5 + S6 = 2 segments, so PRR-SSRB
 * gives min(3 - 2, ...) = 1 segment: S1. ACK 2 also SACKs S6: S5 is not
 * lost (one segment above it), pipe = S1 (retransmitted) + S5 = 2, again
 * one segment. With nothing new allowed, rule 3 resends S5 (unSACKed,
 * below the highest SACKed byte, above HighRxt). With the window opened in
 * that ACK, rule 2 sends new data (S7) first.
 */
static void nextseg_rule2_3_case(bool open_window, const char *tag)
{
	struct rc r;
	if (!rc_open(&r, tag, true))
		return;
	r.p.win = 6 * MSS;
	rc_ack(&r, 1, NULL, 6 * MSS);           /* the peer's window: 6 segments */
	CU_ASSERT_EQUAL(rc_send(&r, 12), 6);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, 6 * MSS);
	int k[8];
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 1);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT_EQUAL(tcb_of(&r)->ssthresh, 3 * MSS);
	rc_ack(&r, 1, (const int[][2]){ { 6, 6 }, { 2, 4 }, { 0, 0 } },
	       open_window ? 12 * MSS : 6 * MSS);
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 1);
	CU_ASSERT_EQUAL(k[0], open_window ? 7 : 5);
	rc_close(&r);
}

static void test_nextseg_rule3_unsacked_hole(void)
{
	nextseg_rule2_3_case(false, __func__);
}

static void test_nextseg_rule2_new_data_before_rule3(void)
{
	nextseg_rule2_3_case(true, __func__);
}

/*
 * Limited transmit with SACK (RFC 3042, RFC 6675 5 step 3): the first and
 * second duplicate ACKs (each SACKing one more segment) each send one new
 * segment (cwnd 10 - pipe 9 = 1 SMSS); the third starts recovery with
 * ssthresh from the FlightSize without those two (10 / 2 segments) and
 * retransmits S1.
 */
static void test_limited_transmit_sack(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 20), 10);
	int k[8];
	rc_ack(&r, 1, (const int[][2]){ { 2, 2 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 1);
	CU_ASSERT_EQUAL(k[0], 11);
	rc_ack(&r, 1, (const int[][2]){ { 2, 3 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 1);
	CU_ASSERT_EQUAL(k[0], 12);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT(!t->in_recovery);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	CU_ASSERT(t->in_recovery);
	CU_ASSERT_EQUAL(t->ssthresh, 5 * MSS);
	CU_ASSERT_EQUAL_FATAL(sent_segs(&r, k, 8), 1);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_LIMITED_TRANSMIT), 2);
	rc_close(&r);
}

/*
 * PRR (RFC 6937) over a whole recovery, against the RFC's formulas. S1 is
 * lost; the peer receives every other segment in the order sent and
 * answers each with an ACK SACKing all it holds (one block); the
 * retransmitted S1 is held back until 14 such ACKs passed, then delivered
 * (a full ACK). For each ACK the model computes DeliveredData, pipe
 * (SetPipe, per segment), and
 *   pipe > ssthresh: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
 *   else (SSRB):     sndcnt = MIN(ssthresh - pipe,
 *                                 MAX(prr_delivered - prr_out, DeliveredData) + MSS)
 * with ssthresh = 5 segments (FlightSize 10 without limited transmit's 2)
 * and RecoverFS = snd.nxt - snd.una = 12 segments at the start. A positive
 * sndcnt lets ceil(sndcnt / MSS) whole segments go (the stack's stated
 * rounding, Linux's), and the first ACK of recovery always lets the
 * retransmission go; what goes is S1 first, then new data.
 */
static void test_prr_sending_rate(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 40), 10);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	/* The model's state, in segments (all segments are MSS). */
	int sent = 10;                  /* highest segment sent */
	int fifo[64], head = 0, tail = 0;       /* segments in flight to the peer, in order */
	for (int i = 2; i <= 10; i++)
		fifo[tail++] = i;
	bool sacked[64] = { false };
	bool in_rec = false, rexmitted = false;
	int64_t ssthresh = 0, recover_fs = 0, prr_delivered = 0, prr_out = 0;
	int top = 1;                    /* highest segment the peer holds */
	for (int a = 0; a < 16 && head < tail; a++) {
		int got = fifo[head++];
		sacked[got] = true;
		if (got > top)
			top = got;
		int blk[2][2] = { { 2, top }, { 0, 0 } };
		rc_ack(&r, 1, blk, W);
		int k[16];
		int n = sent_segs(&r, k, 16);
		/* The model. */
		int64_t delivered = MSS;
		int want = 0;
		if (!in_rec) {
			int nsacked = top - 1;
			if (nsacked >= 3) {
				in_rec = true;
				ssthresh = (int64_t)(10 * MSS) / 2;
				recover_fs = (int64_t)sent * MSS;
				prr_delivered = 0;
				prr_out = 0;
			} else {
				want = 1;       /* limited transmit: cwnd 10 - pipe 9 */
			}
		}
		if (in_rec) {
			prr_delivered += delivered;
			/* SetPipe: S1 lost (>= 3 SACKed above), counted once if resent;
			 * every unSACKed segment above S1 up to `sent` is not lost
			 * (nothing SACKed above it). */
			int64_t pipe = rexmitted ? MSS : 0;
			for (int s = 2; s <= sent; s++)
				if (!sacked[s])
					pipe += MSS;
			int64_t sndcnt;
			if (pipe > ssthresh) {
				sndcnt = (prr_delivered * ssthresh + recover_fs - 1) / recover_fs - prr_out;
			} else {
				int64_t lim = prr_delivered - prr_out;
				if (lim < delivered)
					lim = delivered;
				sndcnt = ssthresh - pipe < lim + MSS ? ssthresh - pipe : lim + MSS;
			}
			if (sndcnt < 0)
				sndcnt = 0;
			if (sndcnt == 0 && prr_out == 0)
				sndcnt = 1;
			want = (int)((sndcnt + MSS - 1) / MSS);
		}
		CU_ASSERT_EQUAL(n, want);
		for (int i = 0; i < n && i < want; i++) {
			int expect = (in_rec && !rexmitted) ? 1 : sent + 1;
			CU_ASSERT_EQUAL(k[i], expect);
			if (expect == 1) {
				rexmitted = true;       /* held by the peer until the end */
			} else {
				sent++;
				fifo[tail++] = sent;
			}
			if (in_rec)
				prr_out += MSS;
		}
	}
	CU_ASSERT(in_rec && rexmitted);
	CU_ASSERT(t->in_recovery);
	/* The stack's PRR state is the model's, and pipe has come down to
	 * ssthresh without going below it (RFC 6937's aim: the window at the
	 * end of recovery is ssthresh, reached without a burst or a stall). */
	CU_ASSERT_EQUAL(t->prr_delivered, (uint32_t)prr_delivered);
	CU_ASSERT_EQUAL(t->prr_out, (uint32_t)prr_out);
	CU_ASSERT_EQUAL(tcp_sb_pipe(t), (uint32_t)ssthresh);
	/* S1 arrives: everything the peer holds is acknowledged. */
	rc_ack(&r, top + 1, NULL, W);
	CU_ASSERT(!t->in_recovery);
	CU_ASSERT_EQUAL(t->cwnd, 5 * MSS);
	rc_close(&r);
}

/* A peer without SACK still gets NewReno (RFC 6582): three dup ACKs, cwnd = ssthresh + 3. */
static void test_no_sack_peer_keeps_newreno(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, false))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	for (int d = 0; d < 3; d++)
		rc_ack(&r, 1, NULL, W);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT(t->in_recovery);
	CU_ASSERT(!t->sack_recovery);
	CU_ASSERT_EQUAL(t->cwnd, t->ssthresh + 3 * MSS);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_SACK_RECOVERIES), 0);
	rc_close(&r);
}

/*
 * An RTO clears the scoreboard and ends recovery (RFC 2018 8, RFC 6675
 * 5.1), and retransmits from SND.UNA; RecoveryPoint = HighData keeps a new
 * recovery from starting until that is acknowledged.
 */
static void test_rto_clears_scoreboard(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	struct us_tcb *t = tcb_of(&r);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	CU_ASSERT(t->in_recovery);
	CU_ASSERT(t->nsb > 0);
	tc_out_clear(&r.o);
	tc_run(&r.t, 3 * TC_SEC, &r.o);
	CU_ASSERT(us_stack_stat(r.t.st, US_STAT_TCP_RTO_FIRED) >= 1);
	CU_ASSERT_EQUAL(t->nsb, 0);
	CU_ASSERT_EQUAL(t->sb_sacked, 0);
	CU_ASSERT(!t->in_recovery);
	CU_ASSERT(!t->sack_recovery);
	CU_ASSERT_EQUAL(t->recover, S(&r, 11));
	int k[16];
	CU_ASSERT_FATAL(sent_segs(&r, k, 16) >= 1);
	CU_ASSERT_EQUAL(k[0], 1);
	/* SACKs after the RTO: no new recovery below RecoveryPoint. */
	rc_ack(&r, 1, (const int[][2]){ { 2, 6 }, { 0, 0 } }, W);
	CU_ASSERT(!t->in_recovery);
	rc_close(&r);
}

/* The connection's end (a RST) forgets the scoreboard (tcb_reset). */
static void test_connection_end_clears_scoreboard(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	struct us_tcb *t = tcb_of(&r);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	CU_ASSERT(t->nsb > 0 && t->in_recovery);
	r.p.rcv_nxt = S(&r, 1);
	struct tc_seg s = tc_peer_seg(&r.p, TC_RST, NULL, 0);
	tc_inject(&r.t, &s);
	CU_ASSERT_EQUAL(tc_state(&r.t, r.fd), TCPS_CLOSED);
	CU_ASSERT_EQUAL(t->nsb, 0);
	CU_ASSERT_EQUAL(t->sb_sacked, 0);
	CU_ASSERT(!t->in_recovery && !t->sack_recovery);
	rc_close(&r);
}


/* ---- RACK-TLP (RFC 8985) ---------------------------------------------------------- */

#define RTT (20 * TC_MS)

/*
 * A SACK connection with RACK-TLP on whose path has a 20 ms RTT: one
 * segment ACKed 20 ms after it left (Karn's sample: SRTT = min_RTT = 20
 * ms, RTO = 200 ms, the floor). Then the application sends nseg segments
 * at once; returns the time they left.
 */
static uint64_t rack_setup_cfg(struct rc *r, const char *tag, int nseg, bool rack)
{
	if (!rc_open_cfg(r, tag, true, rack))
		return 0;
	CU_ASSERT_EQUAL(rc_send(r, 1), 1);
	tc_run(&r->t, RTT, NULL);
	rc_ack(r, 2, NULL, W);
	struct us_tcb *t = tcb_of(r);
	CU_ASSERT_EQUAL(t->srtt_us, 20000);
	CU_ASSERT_EQUAL(t->min_rtt_us, 20000);
	r->base += MSS;                         /* S1 is now the next segment */
	uint64_t t0 = us_stack_now(r->t.st);
	ssize_t n = us_send(r->t.st, r->fd, r->data, (size_t)nseg * MSS, 0);
	CU_ASSERT_EQUAL(n, (ssize_t)nseg * MSS);
	tc_out_clear(&r->o);
	tc_collect(&r->t, &r->o);
	return t0;
}

static uint64_t rack_setup(struct rc *r, const char *tag, int nseg)
{
	return rack_setup_cfg(r, tag, nseg, true);
}

/* Advance 1 ms at a time up to `until` (stack time), collecting; the index of
 * the first data segment sent, or -1. */
static int run_until_data(struct rc *r, uint64_t until)
{
	tc_out_clear(&r->o);
	while (us_stack_now(r->t.st) < until) {
		tc_run(&r->t, TC_MS, &r->o);
		for (int i = 0; i < r->o.n; i++)
			if (r->o.seg[i].len)
				return i;
	}
	return -1;
}

/*
 * RACK (RFC 8985 6.2): 10 segments leave at t0; at t0 + 20 ms the peer
 * SACKs S2 only (one segment: DupThresh is not reached and RFC 6675's
 * IsLost(S1) is false). S1 was sent no later than S2 and is not
 * delivered: it is lost once RACK.rtt + reo_wnd has passed since it was
 * sent, reo_wnd = min_RTT / 4 = 5 ms (no reordering seen, fewer than
 * DupThresh segments SACKed): the reordering timer retransmits S1 at
 * t0 + 25 ms, not before (and not at the RTO, t0 + 200 ms). S3..S10 were
 * sent with S2 but above it: not lost.
 */
static void test_rack_marks_lost_after_reordering_window(void)
{
	struct rc r;
	uint64_t t0 = rack_setup(&r, __func__, 10);
	if (!t0)
		return;
	CU_ASSERT_EQUAL(r.o.n, 10);
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 1, (const int[][2]){ { 2, 2 }, { 0, 0 } }, W);
	CU_ASSERT_EQUAL(r.o.n, 0);              /* nothing at the SACK itself */
	int i = run_until_data(&r, t0 + 60 * TC_MS);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT_EQUAL(r.o.seg[i].seq, S(&r, 1));
	CU_ASSERT_EQUAL(r.o.seg[i].time, t0 + RTT + 5 * TC_MS);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_RACK_LOST), 1);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT(t->sack_recovery);
	int k[16];
	CU_ASSERT_EQUAL(sent_segs(&r, k, 16), 1);        /* only S1 */
	rc_close(&r);
}

/*
 * RACK finds a lost retransmission (RFC 8985 6.2 step 5; without RACK
 * only the RTO would resend it). 20 segments queued, 11 leave at t0
 * (cwnd 11). At t0 + 20 ms the peer SACKs S2-S4: S1 is lost (RFC 6675
 * IsLost and RACK), recovery resends S1 and PRR lets new data (S12) go
 * right after it. That retransmission of S1 is lost too. At t0 + 40 ms the
 * peer SACKs S2-S12: S12, sent after S1's retransmission, was delivered
 * 20 ms (RACK.rtt) after it left, and reo_wnd is 0 in recovery without
 * reordering seen: S1's retransmission is lost, and S1 goes a third time
 * at once, not at the RTO (t0 + 220 ms).
 */
static void test_rack_lost_retransmission_resent(void)
{
	struct rc r;
	uint64_t t0 = rack_setup(&r, __func__, 20);
	if (!t0)
		return;
	CU_ASSERT_EQUAL(r.o.n, 11);
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	int k[16];
	int n = sent_segs(&r, k, 16);
	CU_ASSERT_FATAL(n >= 2);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT_EQUAL(k[1], 12);
	int top = 11 + n - 1;                   /* the highest segment sent */
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 1, (const int[][2]){ { 2, top }, { 0, 0 } }, W);
	n = sent_segs(&r, k, 16);
	CU_ASSERT_FATAL(n >= 1);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_RTO_FIRED), 0);
	rc_close(&r);
}

/* With tcp.rack off the same loss waits for the RTO (the control). */
static void test_rack_off_waits_for_rto(void)
{
	struct rc r;
	uint64_t t0 = rack_setup_cfg(&r, __func__, 10, false);
	if (!t0)
		return;
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 1, (const int[][2]){ { 2, 2 }, { 0, 0 } }, W);
	int i = run_until_data(&r, t0 + 400 * TC_MS);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT(r.o.seg[i].time >= t0 + 200 * TC_MS);
	rc_close(&r);
}

/*
 * TLP (RFC 8985 7): 10 segments at t0, then silence. PTO = 2 * SRTT =
 * 40 ms (more than one segment in flight), before the RTO (200 ms): at
 * t0 + 40 ms the last segment, S10, goes again (no new data to send).
 * The peer then ACKs everything: the probe repaired a loss (no D-SACK),
 * so the window is reduced once: cwnd = ssthresh = FlightSize / 2 = 5
 * segments (NewReno, RFC 5681 eq. 4).
 */
static void test_tlp_fires_after_pto(void)
{
	struct rc r;
	uint64_t t0 = rack_setup(&r, __func__, 10);
	if (!t0)
		return;
	int i = run_until_data(&r, t0 + 100 * TC_MS);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT_EQUAL(r.o.seg[i].time, t0 + 2 * RTT);
	CU_ASSERT_EQUAL(r.o.seg[i].seq, S(&r, 10));
	CU_ASSERT_EQUAL(r.o.seg[i].len, MSS);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_TLP_PROBES), 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_RTO_FIRED), 0);
	rc_ack(&r, 11, NULL, W);
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_TLP_RECOVERIES), 1);
	CU_ASSERT_EQUAL(t->ssthresh, 5 * MSS);
	CU_ASSERT_EQUAL(t->cwnd, 5 * MSS);
	rc_close(&r);
}

/*
 * TLP with new data waiting (RFC 8985 7.3): cwnd (11 segments after the
 * first ACK's slow-start step) holds back S12..S20; at the PTO the probe
 * is new data, S12, within the peer's window.
 */
static void test_tlp_probe_sends_new_data(void)
{
	struct rc r;
	uint64_t t0 = rack_setup(&r, __func__, 20);
	if (!t0)
		return;
	CU_ASSERT_EQUAL(r.o.n, 11);
	int i = run_until_data(&r, t0 + 100 * TC_MS);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT_EQUAL(r.o.seg[i].time, t0 + 2 * RTT);
	CU_ASSERT_EQUAL(r.o.seg[i].seq, S(&r, 12));
	rc_close(&r);
}

/* One segment in flight: PTO = 2 * SRTT + WCDelAckT (240 ms) is past the
 * RTO (200 ms), so no probe: the RTO resends it (RFC 8985 7.2). */
static void test_tlp_not_past_rto(void)
{
	struct rc r;
	uint64_t t0 = rack_setup(&r, __func__, 1);
	if (!t0)
		return;
	int i = run_until_data(&r, t0 + 400 * TC_MS);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT(r.o.seg[i].time >= t0 + 200 * TC_MS);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_TLP_PROBES), 0);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_RTO_FIRED), 1);
	rc_close(&r);
}

/* ---- arrays allocated at first use (tcp.h, issue 10) ----------------------------- */

/* The three arrays loss and reordering need: held or not. */
static int arrays_held(const struct us_tcb *t)
{
	return (t->ooo != NULL) + (t->sb != NULL) + (t->xl != NULL);
}

/*
 * An idle established connection holds none of the out-of-order ranges,
 * the SACK scoreboard or RACK's transmit log (1 KiB together that used to
 * sit in every TCB): each comes with the first segment that needs it, and
 * goes once the connection has been idle US_TCP_RING_IDLE_MS (with the
 * rings). Loss recovery in between works as before: three SACKed
 * segments above S1 make S1 lost (RFC 6675 IsLost), it is resent at once.
 */
static void test_idle_conn_holds_no_arrays(void)
{
	struct rc r;
	if (!rc_open_cfg(&r, __func__, true, true))
		return;
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(arrays_held(t), 0);             /* just established */
	/* One segment out (RACK logs it), ACKed one RTT later. */
	CU_ASSERT_EQUAL(rc_send(&r, 1), 1);
	CU_ASSERT_PTR_NOT_NULL(t->xl);
	CU_ASSERT_PTR_NULL(t->sb);
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 2, NULL, W);
	/* Idle: the log goes with the send ring. */
	tc_run(&r.t, (US_TCP_RING_IDLE_MS + 50) * TC_MS, NULL);
	CU_ASSERT_EQUAL(arrays_held(t), 0);
	CU_ASSERT_PTR_NULL(t->sndq.buf);
	/* Loss recovery: 10 segments, S1 lost, S2-S4 SACKed. */
	r.base += MSS;
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	CU_ASSERT_PTR_NOT_NULL(t->sb);
	CU_ASSERT_EQUAL(t->nsb, 1);
	CU_ASSERT(t->sack_recovery);
	int k[8];
	CU_ASSERT_FATAL(sent_segs(&r, k, 8) >= 1);
	CU_ASSERT_EQUAL(k[0], 1);
	rc_ack(&r, 11, NULL, W);
	CU_ASSERT(!t->in_recovery);
	/* The receiving side: a segment past a hole needs the out-of-order ranges. */
	uint8_t d[100];
	memset(d, 'x', sizeof d);
	struct tc_seg s = tc_peer_seg(&r.p, TC_ACK, d, sizeof d);
	s.seq += sizeof d;
	tc_inject(&r.t, &s);
	CU_ASSERT_PTR_NOT_NULL(t->ooo);
	CU_ASSERT_EQUAL(t->nooo, 1);
	tc_peer_send(&r.p, TC_ACK, d, sizeof d);        /* the hole filled */
	CU_ASSERT_EQUAL(t->nooo, 0);
	uint8_t in[300];
	CU_ASSERT_EQUAL(us_recv(r.t.st, r.fd, in, sizeof in, 0), 2 * (ssize_t)sizeof d);
	r.p.snd_nxt += sizeof d;
	/* Idle again: nothing held. */
	tc_run(&r.t, (US_TCP_RING_IDLE_MS + 50) * TC_MS, NULL);
	CU_ASSERT_EQUAL(arrays_held(t), 0);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_ALLOCS), 4);  /* xl, xl, sb, ooo */
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_NOMEM), 0);
	rc_close(&r);
}

/*
 * No memory for the scoreboard (the stack's fail_arrays hook): the first
 * SACK block finds none, it is counted, and the connection goes on as a
 * NewReno sender (RFC 6582) instead of ignoring what it cannot record:
 * three duplicate ACKs (each SACKing one more segment) give the fast
 * retransmission of S1 and cwnd = ssthresh + 3 SMSS; the full ACK ends
 * recovery. With the SACK rules and no scoreboard no duplicate ACK would
 * count (RFC 6675 counts newly SACKed data) and only the RTO would resend.
 */
static void test_scoreboard_nomem_falls_back_to_newreno(void)
{
	struct rc r;
	if (!rc_open(&r, __func__, true))
		return;
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	atomic_store(&r.t.st->tcp.fail_arrays, 1);
	CU_ASSERT_EQUAL(rc_send(&r, 10), 10);
	rc_ack(&r, 1, (const int[][2]){ { 2, 2 }, { 0, 0 } }, W);
	CU_ASSERT_PTR_NULL(t->sb);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_NOMEM), 1);
	CU_ASSERT(!tcp_sack_sender(t));
	CU_ASSERT(!t->in_recovery);
	rc_ack(&r, 1, (const int[][2]){ { 2, 3 }, { 0, 0 } }, W);
	CU_ASSERT(!t->in_recovery);
	rc_ack(&r, 1, (const int[][2]){ { 2, 4 }, { 0, 0 } }, W);
	CU_ASSERT(t->in_recovery);
	CU_ASSERT(!t->sack_recovery);
	int k[8];
	CU_ASSERT_FATAL(sent_segs(&r, k, 8) >= 1);
	CU_ASSERT_EQUAL(k[0], 1);
	CU_ASSERT_EQUAL(t->cwnd, t->ssthresh + 3 * MSS);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_FAST_RETRANS), 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_SACK_RECOVERIES), 0);
	/* One attempt, not one per ACK. */
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_NOMEM), 1);
	rc_ack(&r, 11, NULL, W);
	CU_ASSERT(!t->in_recovery);
	CU_ASSERT_EQUAL(t->snd_una, S(&r, 11));
	rc_close(&r);
}

/*
 * No memory for RACK's log: segments go out unlogged (counted once, not
 * tried again while the connection is busy), the data is delivered; once
 * the connection was idle the next segment tries again and gets one.
 */
static void test_rack_log_nomem_then_retry(void)
{
	struct rc r;
	if (!rc_open_cfg(&r, __func__, true, true))
		return;
	struct us_tcb *t = tcb_of(&r);
	CU_ASSERT_FATAL(t != NULL);
	atomic_store(&r.t.st->tcp.fail_arrays, 1);
	CU_ASSERT_EQUAL(rc_send(&r, 2), 2);
	CU_ASSERT_PTR_NULL(t->xl);
	CU_ASSERT_EQUAL(t->nxl, 0);
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 3, NULL, W);
	r.base += 2 * MSS;
	CU_ASSERT_EQUAL(rc_send(&r, 2), 2);
	CU_ASSERT_PTR_NULL(t->xl);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_NOMEM), 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_ALLOCS), 0);
	tc_run(&r.t, RTT, NULL);
	rc_ack(&r, 3, NULL, W);
	CU_ASSERT_EQUAL(t->snd_una, t->snd_max);
	tc_run(&r.t, (US_TCP_RING_IDLE_MS + 50) * TC_MS, NULL);
	r.base += 2 * MSS;
	CU_ASSERT_EQUAL(rc_send(&r, 1), 1);
	CU_ASSERT_PTR_NOT_NULL(t->xl);
	CU_ASSERT_EQUAL(t->nxl, 1);
	CU_ASSERT_EQUAL(us_stack_stat(r.t.st, US_STAT_TCP_ARRAY_ALLOCS), 1);
	rc_close(&r);
}

US_SUITE(tcp_recovery, NULL, NULL,
	 US_TEST(test_scoreboard_update_from_blocks),
	 US_TEST(test_scoreboard_invalid_and_dsack_blocks),
	 US_TEST(test_scoreboard_pipe_and_islost),
	 US_TEST(test_recovery_entry_on_islost),
	 US_TEST(test_nextseg_rule1_each_lost_hole),
	 US_TEST(test_nextseg_rule3_unsacked_hole),
	 US_TEST(test_nextseg_rule2_new_data_before_rule3),
	 US_TEST(test_limited_transmit_sack),
	 US_TEST(test_prr_sending_rate),
	 US_TEST(test_no_sack_peer_keeps_newreno),
	 US_TEST(test_rto_clears_scoreboard),
	 US_TEST(test_connection_end_clears_scoreboard),
	 US_TEST(test_rack_marks_lost_after_reordering_window),
	 US_TEST(test_rack_off_waits_for_rto),
	 US_TEST(test_rack_lost_retransmission_resent),
	 US_TEST(test_tlp_fires_after_pto),
	 US_TEST(test_tlp_probe_sends_new_data),
	 US_TEST(test_tlp_not_past_rto),
	 US_TEST(test_idle_conn_holds_no_arrays),
	 US_TEST(test_scoreboard_nomem_falls_back_to_newreno),
	 US_TEST(test_rack_log_nomem_then_retry));
