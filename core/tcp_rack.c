/*
 * tcp_rack.c — RACK-TLP (RFC 8985) for connections whose peer SACKs:
 * time-based loss detection (RACK) and the tail loss probe (TLP).
 *
 * RACK needs the time each unacknowledged byte was last sent. The
 * transmit log xl[] keeps it for the bytes neither cumulatively ACKed nor
 * SACKed: ranges in sequence order with their send time (microseconds, a
 * 32-bit clock compared by difference), whether they were a
 * retransmission, and whether RACK marked them lost. Segments sent in the
 * same millisecond one after the other share one entry; a SACK or ACK cuts
 * entries; when the log is full the two lowest entries are merged keeping
 * the later time (a byte then looks sent later than it was: RACK marks it
 * lost later, never sooner). So the log is bounded (US_TCP_XL_MAX
 * entries); its array is allocated when the first segment is logged and
 * freed once the connection is idle (tcb_array_get, tcp_table.c), never
 * per segment. Without memory for it RACK logs nothing, so it marks
 * nothing lost: SACK's RFC 6675 rules and TLP go on alone.
 *
 * RACK (RFC 8985 6.2): each delivered (ACKed or SACKed) piece updates
 * RACK.xmit_ts/end_seq/rtt (skipping a retransmission that may be the
 * original's ACK: TSecr older than it, or an RTT below min_RTT), detects
 * reordering (delivered below RACK.fack without retransmission), and the
 * reordering window is RFC 8985's: min(reo_wnd_mult * min_RTT / 4, SRTT),
 * 0 before any reordering was seen while in recovery or with DupThresh
 * segments SACKed, reo_wnd_mult grown by D-SACK rounds (persisting 16
 * recoveries). Every unSACKed byte sent before RACK.xmit_ts (or at the
 * same time and below RACK.end_seq) is lost once RACK.rtt + reo_wnd has
 * passed since it was sent; otherwise the reordering timer is armed for the
 * earliest such moment. Lost bytes join RFC 6675's IsLost (tcp_recovery.c)
 * and start a recovery.
 *
 * TLP (RFC 8985 7): with data in flight, not in recovery or after an RTO,
 * and no probe outstanding, the PTO is 2 * SRTT (plus the worst-case
 * delayed ACK, 200 ms, when one segment is in flight; 1 s without an RTT
 * sample), but never past the RTO. When it fires, one new segment goes if
 * the windows allow, else the last segment sent is sent again; then the
 * RTO is armed. An ACK at or beyond the probe's end ends the episode; if
 * the probe was a retransmission and no D-SACK says the original had
 * arrived, a loss was repaired by it and the window is reduced (cwnd =
 * ssthresh from the congestion control), as Linux's tcp_process_tlp_ack.
 *
 * A retransmission RACK finds lost (later data, sent after it, was
 * delivered RACK.rtt + reo_wnd after it left), or a hole RFC 6675 passed
 * over below HighRxt, is sent (again) before anything else and no longer
 * counts in pipe (tcp_recovery.c). Not done: RACK's sole use without DupThresh (both
 * mark losses).
 *
 * One timer, TT_LOSS, serves the reordering timer and the PTO (Linux's
 * icsk_pending does the same); loss_timer says which. All with the socket
 * lock held.
 */
#include "tcp.h"
#include "lockassert.h"
#include "sockproto.h"
#include "stack.h"

#define TLP_WCDELACK_US 200000u         /* RFC 8985 7.2 WCDelAckT */

/* RACK-TLP runs for connections that use SACK, unless tcp.rack is off. */
static bool rack_on(const struct us_tcb *t)
{
	return tcp_sack_sender(t) && t->sock->st->cfg.tcp.rack;
}

static uint32_t now_us(const struct us_tcb *t)
{
	return (uint32_t)(us_now(t->sock->st) / 1000);
}

static bool ts_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* RFC 8985 6.2 RACK_sent_after(t1, seq1, t2, seq2). */
static bool sent_after(uint32_t t1, uint32_t seq1, uint32_t t2, uint32_t seq2)
{
	return ts_after(t1, t2) || (t1 == t2 && seq_gt(seq1, seq2));
}

void tcp_rack_clear(struct us_tcb *t)
{
	t->nxl = 0;
	t->rack_valid = t->rack_reord_seen = t->rack_fack_on = false;
	t->rack_xmit_ts = t->rack_rtt_us = 0;
	t->rack_end_seq = t->rack_fack = t->snd_una;
	t->rack_reo_mult = 1;
	t->rack_reo_persist = 0;
	t->rack_dsack_round_on = false;
	t->tlp_on = t->tlp_retrans = false;
	t->loss_timer = 0;
	t->rack_deadline = 0;
}

/* Remove [s, e) from the log (it was delivered, or is being sent again). */
static void xl_cut(struct us_tcb *t, uint32_t s, uint32_t e)
{
	for (int i = 0; i < t->nxl; i++) {
		struct tcp_xseg *x = &t->xl[i];
		if (!seq_lt(x->start, e))
			break;
		if (!seq_lt(s, x->end))
			continue;
		if (seq_lt(x->start, s) && seq_gt(x->end, e)) {
			/* Split in two; if the log is full, keep the lower part
			 * (the upper one is forgotten: never marked lost by RACK). */
			if (t->nxl < US_TCP_XL_MAX) {
				for (int j = t->nxl; j > i + 1; j--)
					t->xl[j] = t->xl[j - 1];
				t->xl[i + 1] = *x;
				t->xl[i + 1].start = e;
				t->nxl++;
			}
			x->end = s;
			return;
		}
		if (seq_lt(x->start, s)) {
			x->end = s;
		} else if (seq_gt(x->end, e)) {
			x->start = e;
		} else {
			for (int j = i; j + 1 < t->nxl; j++)
				t->xl[j] = t->xl[j + 1];
			t->nxl--;
			i--;
		}
	}
}

void tcp_rack_sent(struct us_tcb *t, uint32_t seq, uint32_t len, bool rexmit)
{
	if (!rack_on(t) || !len)
		return;
	if (!tcb_array_get(t, TCB_ARR_XL))
		return;         /* no memory: not logged, so never marked lost by RACK */
	uint32_t e = seq + len, ts = now_us(t);
	xl_cut(t, seq, e);
	int i = 0;
	while (i < t->nxl && seq_le(t->xl[i].end, seq))
		i++;
	/* New data right after the last entry, within the same millisecond:
	 * the same entry (the later time). */
	if (i == t->nxl && i > 0 && t->xl[i - 1].end == seq && !rexmit && !t->xl[i - 1].rexmit &&
	    !t->xl[i - 1].lost && ts - t->xl[i - 1].ts_us < 1000) {
		t->xl[i - 1].end = e;
		t->xl[i - 1].ts_us = ts;
		return;
	}
	if (t->nxl == US_TCP_XL_MAX) {
		/* Full: merge the two lowest entries (the later time). */
		t->xl[0].end = t->xl[1].end;
		if (ts_after(t->xl[1].ts_us, t->xl[0].ts_us))
			t->xl[0].ts_us = t->xl[1].ts_us;
		t->xl[0].rexmit |= t->xl[1].rexmit;
		t->xl[0].lost &= t->xl[1].lost;
		for (int j = 1; j + 1 < t->nxl; j++)
			t->xl[j] = t->xl[j + 1];
		t->nxl--;
		if (i > 0)
			i--;
	}
	for (int j = t->nxl; j > i; j--)
		t->xl[j] = t->xl[j - 1];
	t->xl[i] = (struct tcp_xseg){ .start = seq, .end = e, .ts_us = ts, .rexmit = rexmit };
	t->nxl++;
}

/* RFC 8985 6.2 steps 1 and 3 for one delivered piece [s, e) sent at ts. */
static void rack_update(struct us_tcb *t, const struct wire_tcp *g, uint32_t s, uint32_t e,
			uint32_t ts, bool rexmit)
{
	uint32_t now = now_us(t), rtt = now - ts;
	bool use = true;
	if (rexmit) {
		/* Perhaps the original's ACK: no information about this send. */
		if (t->ts_ok && g->opt.has_ts && ts_after(ts / 1000, g->opt.tsecr))
			use = false;
		if (t->min_rtt_us && rtt < t->min_rtt_us)
			use = false;
	}
	if (use) {
		t->rack_rtt_us = rtt;
		if (!t->rack_valid || sent_after(ts, e, t->rack_xmit_ts, t->rack_end_seq)) {
			t->rack_xmit_ts = ts;
			t->rack_end_seq = e;
			t->rack_valid = true;
		}
	}
	/* Step 3: reordering. */
	if (!t->rack_fack_on) {
		t->rack_fack = e;
		t->rack_fack_on = true;
	} else if (seq_gt(e, t->rack_fack))
		t->rack_fack = e;
	else if (seq_lt(e, t->rack_fack) && !rexmit)
		t->rack_reord_seen = true;
	(void)s;
}

void tcp_rack_delivered(struct us_tcb *t, const struct wire_tcp *g, uint32_t s, uint32_t e)
{
	if (!rack_on(t))
		return;
	for (int i = 0; i < t->nxl; i++) {
		struct tcp_xseg *x = &t->xl[i];
		if (!seq_lt(x->start, e))
			break;
		if (!seq_lt(s, x->end))
			continue;
		uint32_t a = seq_gt(x->start, s) ? x->start : s;
		uint32_t b = seq_lt(x->end, e) ? x->end : e;
		rack_update(t, g, a, b, x->ts_us, x->rexmit);
	}
	xl_cut(t, s, e);
}

void tcp_rack_dsack(struct us_tcb *t)
{
	/* RFC 8985 6.2 step 4: one widening of the window per round trip. */
	if (t->rack_dsack_round_on && !seq_lt(t->snd_una, t->rack_dsack_round))
		t->rack_dsack_round_on = false;
	if (!t->rack_dsack_round_on) {
		t->rack_dsack_round_on = true;
		t->rack_dsack_round = t->snd_max;
		if (t->rack_reo_mult < 64)
			t->rack_reo_mult++;
		t->rack_reo_persist = 16;
	}
}

void tcp_rack_recovery_done(struct us_tcb *t)
{
	if (t->rack_reo_persist && --t->rack_reo_persist == 0)
		t->rack_reo_mult = 1;
}

/* RFC 8985 6.2 step 4 RACK_update_reo_wnd(). */
static uint32_t reo_wnd(const struct us_tcb *t)
{
	if (!t->rack_reord_seen) {
		if (t->in_recovery || t->in_loss)
			return 0;
		if (t->sb_sacked >= US_TCP_REORDERING * (uint32_t)t->mss)
			return 0;
	}
	uint64_t mult = t->rack_reo_mult ? t->rack_reo_mult : 1;   /* 0: a fresh TCB */
	uint64_t w = mult * t->min_rtt_us / 4;
	if (t->have_rtt && w > (uint64_t)t->srtt_us)
		w = (uint64_t)t->srtt_us;
	return (uint32_t)w;
}

bool tcp_rack_detect(struct us_tcb *t)
{
	if (!rack_on(t) || !t->rack_valid)
		return false;
	uint32_t now = now_us(t), wnd = reo_wnd(t), timeout = 0;
	bool lost = false;
	for (int i = 0; i < t->nxl; i++) {
		struct tcp_xseg *x = &t->xl[i];
		if (x->lost || !seq_lt(x->start, t->snd_max))
			continue;
		uint32_t end = seq_lt(x->end, t->snd_max) ? x->end : t->snd_max;
		if (!sent_after(t->rack_xmit_ts, t->rack_end_seq, x->ts_us, end))
			continue;
		int64_t remaining = (int64_t)(int32_t)(x->ts_us + t->rack_rtt_us + wnd - now);
		if (remaining <= 0) {
			x->lost = 1;
			lost = true;
			US_STAT_INC(t->sock->st, TCP_RACK_LOST);
		} else if ((uint32_t)remaining > timeout) {
			timeout = (uint32_t)remaining;
		}
	}
	t->rack_deadline = timeout ? us_now(t->sock->st) + (uint64_t)timeout * 1000 : 0;
	return lost;
}

bool tcp_rack_is_lost(const struct us_tcb *t, uint32_t seq)
{
	for (int i = 0; i < t->nxl; i++) {
		const struct tcp_xseg *x = &t->xl[i];
		if (seq_lt(seq, x->start))
			break;
		if (seq_lt(seq, x->end))
			return x->lost;
	}
	return false;
}

uint32_t tcp_rack_lost_in(const struct us_tcb *t, uint32_t a, uint32_t b)
{
	uint32_t n = 0;
	for (int i = 0; i < t->nxl; i++) {
		const struct tcp_xseg *x = &t->xl[i];
		if (!seq_lt(x->start, b))
			break;
		if (!x->lost || !seq_lt(a, x->end))
			continue;
		uint32_t s = seq_gt(x->start, a) ? x->start : a;
		uint32_t e = seq_lt(x->end, b) ? x->end : b;
		n += e - s;
	}
	return n;
}

/* The first range below limit (HighRxt) RACK found lost: a retransmission
 * that was lost, or a hole RFC 6675 passed over while it was not lost. */
bool tcp_rack_lost_rexmit(const struct us_tcb *t, uint32_t limit, uint32_t *seq, uint32_t *len)
{
	for (int i = 0; i < t->nxl; i++) {
		const struct tcp_xseg *x = &t->xl[i];
		if (!seq_lt(x->start, limit))
			break;
		if (!x->lost)
			continue;
		uint32_t e = seq_lt(x->end, limit) ? x->end : limit;
		*seq = x->start;
		*len = e - x->start < t->mss ? e - x->start : t->mss;
		return true;
	}
	return false;
}

/* ---- the loss timer: RACK's reordering timer or TLP's PTO ---------------------- */

void tcp_loss_timer_arm(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!rack_on(t))
		return;
	uint64_t now = us_now(t->sock->st);
	if (t->rack_deadline && t->snd_una != t->snd_max) {
		if (t->loss_timer != TCP_LOSS_TIMER_RACK || t->deadline[TT_LOSS] != t->rack_deadline) {
			t->loss_timer = TCP_LOSS_TIMER_RACK;
			tcp_timer_set(t, TT_LOSS, t->rack_deadline);
		}
		return;
	}
	/* RFC 8985 7.2: a PTO only with data in flight, outside recovery and
	 * RTO recovery, no probe outstanding, and SACK in use. */
	bool pto_ok = t->snd_una != t->snd_max && !t->in_recovery && !t->in_loss && !t->tlp_on &&
		      t->backoff == 0 && t->state != TCPS_SYN_SENT && t->state != TCPS_SYN_RCVD &&
		      !t->deadline[TT_PERSIST];
	if (!pto_ok) {
		if (t->deadline[TT_LOSS]) {
			t->loss_timer = 0;
			tcp_timer_clear(t, TT_LOSS);
		}
		return;
	}
	/* Restarted only when data went out or was acknowledged (RFC 8985
	 * 7.2), not by every call. */
	if (t->loss_timer == TCP_LOSS_TIMER_PTO && t->deadline[TT_LOSS] &&
	    t->loss_arm_una == t->snd_una && t->loss_arm_max == t->snd_max)
		return;
	t->loss_arm_una = t->snd_una;
	t->loss_arm_max = t->snd_max;
	uint64_t pto;
	if (t->have_rtt) {
		pto = 2 * (uint64_t)t->srtt_us;
		if (t->snd_max - t->snd_una <= t->mss)
			pto += TLP_WCDELACK_US;
	} else {
		pto = 1000000;
	}
	if (pto < 10000)
		pto = 10000;    /* Linux TCP_TIMEOUT_MIN for the probe (10 ms) */
	uint64_t when = now + pto * 1000;
	if (t->deadline[TT_REXMIT] && when >= t->deadline[TT_REXMIT]) {
		if (t->deadline[TT_LOSS]) {
			t->loss_timer = 0;
			tcp_timer_clear(t, TT_LOSS);
		}
		return;         /* the RTO comes first: no probe */
	}
	t->loss_timer = TCP_LOSS_TIMER_PTO;
	tcp_timer_set(t, TT_LOSS, when);
}

/* RFC 8985 7.3: the probe. */
static void send_probe(struct us_tcb *t)
{
	struct us_stack *st = t->sock->st;
	uint32_t n = tcp_send_new(t, t->mss);
	if (n) {
		t->tlp_retrans = false;
	} else {
		/* The last segment sent, again (not SACKed data, not past a hole). */
		uint32_t hi = t->snd_max, lo = t->snd_una;
		if (t->nsb && t->sb[t->nsb - 1].end == hi)
			hi = t->sb[t->nsb - 1].start;
		if (!seq_lt(lo, hi))
			return;
		uint32_t len = hi - lo < t->mss ? hi - lo : t->mss;
		uint32_t seq = hi - len;
		uint32_t data_end = t->snd_una + t->sndq.len;
		uint32_t dlen = seq_lt(seq, data_end) ? (data_end - seq < len ? data_end - seq : len) : 0;
		uint8_t flags = TCP_ACK;
		if (t->fin_sent && seq + dlen == t->fin_seq)
			flags |= TCP_FIN;
		if (!dlen && !(flags & TCP_FIN))
			return;
		tcp_send_segment(t, seq, dlen, flags);
		US_STAT_INC(st, TCP_RETRANS_SEGS);
		t->tlp_retrans = true;
	}
	US_STAT_INC(st, TCP_TLP_PROBES);
	t->tlp_on = true;
	t->tlp_end_seq = t->snd_max;
	tcp_rexmit_restart(t);
}

void tcp_loss_timer_fire(struct us_tcb *t)
{
	int what = t->loss_timer;
	t->loss_timer = 0;
	if (what == TCP_LOSS_TIMER_RACK)
		t->rack_deadline = 0;
	if (!rack_on(t) || t->snd_una == t->snd_max)
		return;
	if (what == TCP_LOSS_TIMER_RACK) {
		if (tcp_rack_detect(t))
			tcp_recovery_rack_lost(t);
		tcp_output(t);
		tcp_loss_timer_arm(t);
		return;
	}
	if (what == TCP_LOSS_TIMER_PTO)
		send_probe(t);
}

void tcp_tlp_ack(struct us_tcb *t, bool dsack, uint32_t acked)
{
	if (!t->tlp_on)
		return;
	if (t->tlp_retrans && dsack && !seq_gt(t->snd_una, t->tlp_end_seq)) {
		/* The original had arrived: no loss (RFC 8985 7.4.2). */
		t->tlp_on = false;
		return;
	}
	if (!seq_ge(t->snd_una, t->tlp_end_seq))
		return;
	t->tlp_on = false;
	if (t->tlp_retrans && !dsack && !t->in_recovery) {
		/* The probe repaired a loss: reduce the window once (Linux
		 * tcp_process_tlp_ack: enter and end a reduction). */
		US_STAT_INC(t->sock->st, TCP_TLP_RECOVERIES);
		/* The congestion control's ssthresh as at the loss: FlightSize
		 * before this ACK took its bytes away. */
		t->snd_una -= acked;
		t->ssthresh = t->cc->ssthresh(t);
		t->snd_una += acked;
		t->cwnd = t->ssthresh;
	}
}
