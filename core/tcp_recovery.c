/*
 * tcp_recovery.c — SACK, the sender's side: the scoreboard, loss recovery
 * by RFC 6675 with Proportional Rate Reduction (RFC 6937, PRR-SSRB) and
 * limited transmit (RFC 3042, in RFC 6675 5 step 3's form). Connections
 * whose peer does not SACK keep NewReno (tcp_input.c, RFC 6582).
 *
 * The scoreboard is the list of SACKed ranges above SND.UNA (sb[]); the
 * send ring holds every byte from SND.UNA, so nothing else is needed: a
 * hole is the gap before a SACKed range (or after the last one, up to
 * HighData = snd_max), and every octet of one hole has the same SACKed
 * data above it, so RFC 6675's IsLost and SetPipe work hole by hole.
 * Terms are RFC 6675's: HighACK = snd_una, HighData = snd_max, HighRxt =
 * high_rxt (exclusive here: the octets below it were retransmitted in this
 * recovery), RescueRxt, DupThresh = 3, RecoveryPoint = recover.
 *
 * Choices (doc/TCP.md "SACK, the sender's side"):
 * - Blocks are validated as Linux's tcp_is_sackblock_valid: each must lie
 *   within [SND.UNA, SND.NXT] after the cumulative ACK, else it is counted
 *   (tcp_sack_invalid) and ignored. A first block at or below the
 *   cumulative ACK, or inside the second block, is a D-SACK (RFC 2883 4):
 *   counted (tcp_dsack_rx), never put on the scoreboard.
 * - A duplicate ACK (RFC 6675 2, the SACK alternative) is an ACK at
 *   SND.UNA that SACKs data not SACKed before, or one of RFC 5681's that
 *   carries no SACK block at all (a peer that negotiated SACK and sends
 *   none). One carrying only a D-SACK is not counted: a retransmission we
 *   made needlessly caused it (Linux counts SACKed segments, likewise).
 * - RFC 6675 leaves partial ACKs to the scoreboard; without SACK blocks it
 *   would then wait for the RTO. As NewReno (RFC 6582 3.2 step 5) and
 *   Linux's tcp_mark_head_lost, the segment at SND.UNA is taken as lost
 *   at the start of recovery and after each partial ACK (lost_mark).
 * - After an RTO the scoreboard is cleared (RFC 2018 8: the receiver may
 *   have reneged) and recovery ends (RFC 6675 5.1); recover = HighData
 *   then keeps a new recovery from starting before that is acknowledged.
 * - PRR works in bytes; a positive sndcnt lets whole segments go (cwnd =
 *   pipe + sndcnt rounded up to an MSS), as Linux's packet-counting PRR,
 *   and the first ACK of a recovery always lets the fast retransmission
 *   go (Linux: sndcnt >= 1 while prr_out is 0). RecoverFS is the
 *   FlightSize at the start (RFC 6937 3). When recovery ends cwnd =
 *   ssthresh.
 *
 * All with the socket lock held.
 */
#include "tcp.h"
#include "lockassert.h"
#include "sockproto.h"
#include "stack.h"

void tcp_sb_clear(struct us_tcb *t)
{
	t->nsb = 0;
	t->sb_sacked = 0;
	if (t->sack_recovery)
		t->in_recovery = false;
	t->sack_recovery = false;
	t->high_rxt = t->rescue_rxt = t->lost_mark = t->snd_una;
	t->prr_delivered = t->prr_out = t->recover_fs = 0;
	t->lt_bytes = 0;
}

void tcp_sb_need(struct us_tcb *t)
{
	if (!tcp_sack_sender(t) || t->sb || tcb_array_get(t, TCB_ARR_SB))
		return;         /* no SACK, already NewReno, or the scoreboard is there */
	/* No memory for it: NewReno from now on (tcp_sack_sender); a
	 * recovery the scoreboard steered ends here, as after an RTO. */
	tcp_sb_clear(t);
	t->dupacks = 0;
}

/* Drop what the cumulative ACK covered. */
static void sb_trim(struct us_tcb *t)
{
	int k = 0;
	while (k < t->nsb && seq_le(t->sb[k].end, t->snd_una))
		t->sb_sacked -= t->sb[k].end - t->sb[k].start, k++;
	if (k) {
		for (int i = k; i < t->nsb; i++)
			t->sb[i - k] = t->sb[i];
		t->nsb -= k;
	}
	if (t->nsb && seq_lt(t->sb[0].start, t->snd_una)) {
		t->sb_sacked -= t->snd_una - t->sb[0].start;
		t->sb[0].start = t->snd_una;
	}
}

/* Add [s, e) (within SND.UNA..SND.NXT); returns the bytes newly SACKed. */
static uint32_t sb_add(struct us_tcb *t, uint32_t s, uint32_t e)
{
	int i = 0;
	while (i < t->nsb && seq_lt(t->sb[i].end, s))
		i++;
	uint32_t before = t->sb_sacked;
	if (!t->sb)
		return 0;       /* none (tcp_sb_need): nothing is recorded */
	if (i < t->nsb && seq_le(t->sb[i].start, e)) {
		/* Overlaps or touches range i: widen it, then swallow followers. */
		if (seq_lt(s, t->sb[i].start)) {
			t->sb_sacked += t->sb[i].start - s;
			t->sb[i].start = s;
		}
		if (seq_gt(e, t->sb[i].end)) {
			t->sb_sacked += e - t->sb[i].end;
			t->sb[i].end = e;
		}
		while (i + 1 < t->nsb && seq_le(t->sb[i + 1].start, t->sb[i].end)) {
			uint32_t ns = t->sb[i + 1].start, ne = t->sb[i + 1].end;
			/* The follower's bytes were counted; only its part past
			 * the widened range stays SACKed twice: take out the overlap. */
			uint32_t ov = (seq_lt(ne, t->sb[i].end) ? ne : t->sb[i].end) - ns;
			t->sb_sacked -= ov;
			if (seq_gt(ne, t->sb[i].end))
				t->sb[i].end = ne;
			for (int j = i + 1; j + 1 < t->nsb; j++)
				t->sb[j] = t->sb[j + 1];
			t->nsb--;
		}
		return t->sb_sacked - before;
	}
	if (t->nsb == US_TCP_SB_MAX) {
		/* Full: keep the lowest ranges, which decide what is lost and
		 * resent first; forgetting a range only makes us send less. */
		if (i == t->nsb)
			return 0;
		t->nsb--;
		t->sb_sacked -= t->sb[t->nsb].end - t->sb[t->nsb].start;
	}
	for (int j = t->nsb; j > i; j--)
		t->sb[j] = t->sb[j - 1];
	t->sb[i].start = s;
	t->sb[i].end = e;
	t->nsb++;
	t->sb_sacked += e - s;
	return t->sb_sacked - before;
}

/*
 * RFC 6675 4 Update() with the blocks of g, after the cumulative ACK:
 * returns the bytes newly SACKed; *dsack set if the first block was a D-SACK.
 */
static uint32_t sb_update(struct us_tcb *t, const struct wire_tcp *g, bool *dsack)
{
	struct us_stack *st = t->sock->st;
	uint32_t added = 0;
	*dsack = false;
	sb_trim(t);
	for (int i = 0; i < g->opt.nsack; i++) {
		uint32_t s = g->opt.sack[i].start, e = g->opt.sack[i].end;
		if (i == 0 && (seq_le(e, g->ack) ||
			       (g->opt.nsack > 1 && seq_le(g->opt.sack[1].start, s) &&
				seq_le(e, g->opt.sack[1].end) && seq_lt(s, e)))) {
			/* RFC 2883 4: below the cumulative ACK, or within the
			 * second block: a duplicate the peer received. */
			US_STAT_INC(st, TCP_DSACK_RX);
			*dsack = true;
			tcp_rack_dsack(t);
			continue;
		}
		if (!seq_lt(s, e) || seq_lt(s, t->snd_una) || seq_gt(e, t->snd_max)) {
			US_STAT_INC(st, TCP_SACK_INVALID);
			continue;
		}
		tcp_rack_delivered(t, g, s, e);
		added += sb_add(t, s, e);
	}
	return added;
}

/*
 * RFC 6675 IsLost() for every octet of the hole ending at sb[i].start
 * (i == nsb: the hole after the last SACKed range): DupThresh
 * discontiguous SACKed ranges above it, or more than (DupThresh - 1) *
 * SMSS bytes SACKed above it.
 */
static bool hole_lost(const struct us_tcb *t, int i)
{
	uint32_t above = 0;
	for (int j = i; j < t->nsb; j++)
		above += t->sb[j].end - t->sb[j].start;
	return t->nsb - i >= US_TCP_REORDERING || above > (US_TCP_REORDERING - 1) * (uint32_t)t->mss;
}

bool tcp_sb_is_lost(const struct us_tcb *t, uint32_t seq)
{
	if (t->sack_recovery && seq_lt(seq, t->lost_mark))
		return true;
	if (tcp_rack_is_lost(t, seq))
		return true;    /* RACK (tcp_rack.c) */
	int i = 0;
	while (i < t->nsb && seq_le(t->sb[i].end, seq))
		i++;
	if (i < t->nsb && seq_le(t->sb[i].start, seq))
		return false;   /* SACKed */
	return hole_lost(t, i);
}

/* Bytes of [a, b) below x. */
static uint32_t below(uint32_t a, uint32_t b, uint32_t x)
{
	if (!seq_lt(a, x))
		return 0;
	return (seq_lt(b, x) ? b : x) - a;
}

/* The lost bytes of the hole [a, b) whose SACKed data above does not make
 * all of it lost: below lm (lost_mark), and what RACK marked. */
static uint32_t hole_lost_part(const struct us_tcb *t, uint32_t a, uint32_t b, uint32_t lm)
{
	uint32_t n = below(a, b, lm);
	uint32_t from = seq_gt(lm, a) ? lm : a;
	if (seq_lt(from, b))
		n += tcp_rack_lost_in(t, from, b);
	return n;
}

/*
 * RFC 6675 4 SetPipe(): every unSACKed octet from HighACK to HighData
 * counts once if not lost, and once more if retransmitted (below
 * HighRxt). Hole by hole: IsLost is the same for all octets of a hole,
 * except that lost_mark may cut the first one.
 */
uint32_t tcp_sb_pipe(const struct us_tcb *t)
{
	uint32_t pipe = 0, a = t->snd_una;
	/* Outside recovery nothing was retransmitted (HighRxt = HighACK, RFC
	 * 6675 5 step 3.1) and nothing is marked lost. */
	uint32_t rxt = t->sack_recovery ? t->high_rxt : t->snd_una;
	uint32_t lm = t->sack_recovery ? t->lost_mark : t->snd_una;
	for (int i = 0; i <= t->nsb; i++) {
		uint32_t b = i < t->nsb ? t->sb[i].start : t->snd_max;
		if (seq_lt(a, b)) {
			uint32_t lost = hole_lost(t, i) ? b - a : hole_lost_part(t, a, b, lm);
			uint32_t re = below(a, b, rxt);
			if (re)         /* what RACK found lost below HighRxt is not in flight */
				re -= tcp_rack_lost_in(t, a, a + re);
			pipe += (b - a) - lost + re;
		}
		if (i < t->nsb)
			a = t->sb[i].end;
	}
	return pipe;
}

uint32_t tcp_sb_lost_bytes(const struct us_tcb *t)
{
	uint32_t n = 0, a = t->snd_una;
	uint32_t lm = t->sack_recovery ? t->lost_mark : t->snd_una;
	for (int i = 0; i <= t->nsb; i++) {
		uint32_t b = i < t->nsb ? t->sb[i].start : t->snd_max;
		if (seq_lt(a, b))
			n += hole_lost(t, i) ? b - a : hole_lost_part(t, a, b, lm);
		if (i < t->nsb)
			a = t->sb[i].end;
	}
	return n;
}

enum nextseg { NS_NONE, NS_LOST, NS_NEW, NS_UNSACKED, NS_RESCUE };

/*
 * RFC 6675 4 NextSeg() rules 1, 3 and 4 (rule 2, new data, is the
 * caller's): a retransmission [*seq, *seq + *len), at most one SMSS,
 * never into SACKed data.
 */
static enum nextseg next_rexmit(const struct us_tcb *t, uint32_t *seq, uint32_t *len,
				uint32_t *s3, uint32_t *l3)
{
	uint32_t high_sacked = t->nsb ? t->sb[t->nsb - 1].end : t->snd_una;
	uint32_t a = t->snd_una;
	*l3 = 0;
	/* RACK (RFC 8985): a lost retransmission goes again first. */
	if (tcp_rack_lost_rexmit(t, t->high_rxt, seq, len))
		return NS_LOST;
	for (int i = 0; i <= t->nsb; i++) {
		uint32_t b = i < t->nsb ? t->sb[i].start : t->snd_max;
		uint32_t s = seq_gt(t->high_rxt, a) ? t->high_rxt : a;   /* (1.a) */
		if (seq_lt(s, b)) {
			uint32_t n = b - s < t->mss ? b - s : t->mss;
			bool lost = seq_lt(s, t->lost_mark) || tcp_rack_is_lost(t, s) ||
				    (seq_lt(s, high_sacked) && hole_lost(t, i));   /* (1.b), (1.c) */
			if (lost) {
				*seq = s;
				*len = n;
				return NS_LOST;
			}
			if (!*l3 && seq_lt(s, high_sacked)) {
				*s3 = s;        /* rule 3's candidate: (1.a) and (1.b) */
				*l3 = n;
			}
		}
		if (i < t->nsb)
			a = t->sb[i].end;
	}
	return NS_NONE;
}

/* Rule 4: one segment holding the highest unSACKed octet (the rescue retransmission). */
static bool rescue_seg(const struct us_tcb *t, uint32_t *seq, uint32_t *len)
{
	if (seq_lt(t->snd_una, t->rescue_rxt))
		return false;   /* HighACK not past RescueRxt (exclusive here) */
	uint32_t b = t->snd_max, a = t->nsb ? t->sb[t->nsb - 1].end : t->snd_una;
	for (int i = t->nsb - 1; i >= 0 && !seq_lt(a, b); i--) {
		b = t->sb[i].start;
		a = i ? t->sb[i - 1].end : t->snd_una;
	}
	if (!seq_lt(a, b))
		return false;
	*len = b - a < t->mss ? b - a : t->mss;
	*seq = b - *len;
	return true;
}

/*
 * Retransmit [seq, seq + len) (RFC 6675 C.1): the FIN goes again if the
 * range reaches it. Returns the sequence space sent.
 */
static uint32_t rexmit(struct us_tcb *t, uint32_t seq, uint32_t len)
{
	struct us_stack *st = t->sock->st;
	uint32_t data_end = t->snd_una + t->sndq.len;
	uint32_t dlen = seq_lt(seq, data_end) ? (data_end - seq < len ? data_end - seq : len) : 0;
	uint8_t flags = TCP_ACK;
	if (t->fin_sent && seq + dlen == t->fin_seq && seq_gt(seq + len, t->fin_seq))
		flags |= TCP_FIN;
	if (!dlen && !(flags & TCP_FIN))
		return 0;
	tcp_send_segment(t, seq, dlen, flags);
	US_STAT_INC(st, TCP_RETRANS_SEGS);
	if (seq == t->snd_una)
		tcp_rexmit_restart(t);  /* Linux: the RTO restarts when the head goes again */
	return dlen + !!(flags & TCP_FIN);
}

bool tcp_recovery_output(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!tcp_sack_sender(t) || t->snd_nxt != t->snd_max || (!t->sack_recovery && !t->nsb))
		return false;
	uint32_t pipe = tcp_sb_pipe(t);
	if (!t->sack_recovery) {
		/* SACKed data but no recovery yet: limited transmit by RFC 6675
		 * 5 step 3 (HighRxt = HighACK, new data while cwnd - pipe >=
		 * 1 SMSS and the peer's window allows). */
		while (t->cwnd >= pipe + t->mss) {
			uint32_t n = tcp_send_new(t, t->mss);
			if (!n)
				break;
			pipe += n;
		}
		return true;
	}
	/* RFC 6675 5 step (C). */
	while (t->cwnd >= pipe + t->mss) {
		uint32_t seq = 0, len = 0, s3 = 0, l3 = 0, n;
		enum nextseg r = next_rexmit(t, &seq, &len, &s3, &l3);
		if (r == NS_NONE && (n = tcp_send_new(t, t->mss)) > 0) {
			r = NS_NEW;                     /* rule 2 */
		} else if (r == NS_NONE && l3) {
			r = NS_UNSACKED;                /* rule 3 */
			seq = s3;
			len = l3;
		} else if (r == NS_NONE && rescue_seg(t, &seq, &len)) {
			r = NS_RESCUE;                  /* rule 4 */
		}
		if (r == NS_NONE)
			break;
		if (r != NS_NEW) {
			n = rexmit(t, seq, len);
			if (!n)
				break;
			if (r == NS_RESCUE)
				t->rescue_rxt = t->recover;     /* (C.2): HighRxt unchanged */
			else if (seq_gt(seq + n, t->high_rxt))
				t->high_rxt = seq + n;          /* (C.2) */
		}
		t->prr_out += n;                        /* RFC 6937 */
		pipe += n;                              /* (C.4) */
	}
	return true;
}

/* RFC 6937 3: the bytes this ACK lets go (sndcnt), PRR-SSRB. */
static int64_t prr_sndcnt(const struct us_tcb *t, uint32_t pipe, uint32_t delivered)
{
	int64_t sndcnt;
	if (pipe > t->ssthresh) {
		/* Proportional rate reduction. */
		uint64_t fs = t->recover_fs ? t->recover_fs : 1;
		uint64_t target = ((uint64_t)t->prr_delivered * t->ssthresh + fs - 1) / fs;
		sndcnt = (int64_t)target - (int64_t)t->prr_out;
	} else {
		/* Slow start reduction bound. */
		int64_t limit = (int64_t)t->prr_delivered - (int64_t)t->prr_out;
		if (limit < (int64_t)delivered)
			limit = delivered;
		limit += t->mss;
		sndcnt = (int64_t)t->ssthresh - (int64_t)pipe;
		if (sndcnt > limit)
			sndcnt = limit;
	}
	if (sndcnt < 0)
		sndcnt = 0;
	if (sndcnt == 0 && t->prr_out == 0)
		sndcnt = 1;     /* the fast retransmission always goes (Linux) */
	return sndcnt;
}

/* RFC 6937: cwnd for what this ACK lets go; tcp_output then sends it. */
static void prr_ack(struct us_tcb *t, uint32_t delivered)
{
	t->prr_delivered += delivered;
	uint32_t pipe = tcp_sb_pipe(t);
	int64_t sndcnt = prr_sndcnt(t, pipe, delivered);
	uint64_t segs = ((uint64_t)sndcnt + t->mss - 1) / t->mss;
	t->cwnd = pipe + (uint32_t)(segs * t->mss);
}

/* A recovery may start: the RTO's RecoveryPoint acknowledged (RFC 6675
 * 5.1), nothing being resent by go-back-N, data outstanding. */
static bool may_recover(const struct us_tcb *t)
{
	return seq_ge(t->snd_una, t->recover) && t->snd_nxt == t->snd_max &&
	       t->snd_una != t->snd_max && !t->in_recovery;
}

/* RFC 6675 5 step (4): fast retransmit and loss recovery. */
static void enter_recovery(struct us_tcb *t, uint32_t delivered)
{
	struct us_stack *st = t->sock->st;
	US_STAT_INC(st, TCP_FAST_RETRANS);
	US_STAT_INC(st, TCP_SACK_RECOVERIES);
	t->ssthresh = t->cc->ssthresh(t);               /* (4.2) */
	t->recover = t->snd_max;                        /* (4.1) RecoveryPoint */
	t->in_recovery = t->sack_recovery = true;
	t->high_rxt = t->rescue_rxt = t->snd_una;       /* raised by the retransmission (4.3) */
	uint32_t head = t->nsb ? t->sb[0].start - t->snd_una : t->snd_max - t->snd_una;
	t->lost_mark = t->snd_una + (head < t->mss ? head : t->mss);
	t->recover_fs = t->snd_max - t->snd_una;        /* RFC 6937 RecoverFS */
	t->prr_delivered = t->prr_out = 0;
	t->rtt_timing = false;
	prr_ack(t, delivered);
	t->rescue_rxt = t->lost_mark;   /* (4.3): no rescue before a partial ACK past it */
}

void tcp_recovery_ack(struct us_tcb *t, const struct wire_tcp *g, uint32_t acked,
		      uint32_t prior_sacked, bool classic_dup)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!tcp_sack_sender(t))
		return;
	bool dsack;     /* counted in sb_update; no undo (RFC 3708) is done */
	if (t->nxl && seq_lt(t->xl[0].start, t->snd_una))
		tcp_rack_delivered(t, g, t->xl[0].start, t->snd_una);   /* the cumulative part */
	uint32_t added = sb_update(t, g, &dsack);
	bool rack_lost = tcp_rack_detect(t);
	tcp_tlp_ack(t, dsack, acked);
	/* RFC 6937 DeliveredData: the change in SND.UNA plus the change in SACKed bytes. */
	int64_t d = (int64_t)acked + (int64_t)t->sb_sacked - (int64_t)prior_sacked;
	uint32_t delivered = d > 0 ? (uint32_t)d : 0;
	if (t->sack_recovery) {
		if (seq_ge(t->snd_una, t->recover)) {
			/* (A) RecoveryPoint acknowledged: the end (RFC 6937: cwnd = ssthresh). */
			t->cwnd = t->ssthresh;
			t->in_recovery = t->sack_recovery = false;
			t->dupacks = 0;
			t->lost_mark = t->high_rxt = t->snd_una;
			tcp_rack_recovery_done(t);
			return;
		}
		if (acked && seq_lt(t->lost_mark, t->snd_una + t->mss)) {
			/* A partial ACK: the next segment is lost too (see above). */
			uint32_t head = t->nsb ? t->sb[0].start - t->snd_una : t->snd_max - t->snd_una;
			t->lost_mark = t->snd_una + (head < t->mss ? head : t->mss);
		}
		prr_ack(t, delivered);                  /* (B), then (C) in tcp_output */
		return;
	}
	t->lost_mark = t->snd_una;
	if (acked)
		t->dupacks = 0;                         /* RFC 6675 5 */
	bool dup = g->ack == t->snd_una && t->snd_max != t->snd_una &&
		   (added > 0 || (classic_dup && !g->opt.nsack));
	if (dup) {
		if (!classic_dup)
			US_STAT_INC(t->sock->st, TCP_DUP_ACKS);
		t->dupacks++;
	}
	/* (1), (2): DupThresh duplicates, or the segment at HighACK is lost;
	 * or RACK found a loss (RFC 8985 6.2 step 5); not before an RTO's
	 * RecoveryPoint is acknowledged (5.1). */
	if (((dup && (t->dupacks >= US_TCP_REORDERING || tcp_sb_is_lost(t, t->snd_una))) ||
	     rack_lost) && may_recover(t))
		enter_recovery(t, delivered);
}

void tcp_recovery_rack_lost(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!t->sack_recovery && may_recover(t))
		enter_recovery(t, 0);
}
