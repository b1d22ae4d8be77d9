/*
 * tcp_frto.c — F-RTO (RFC 5682 2.1, the basic algorithm): telling a
 * spurious retransmission timeout (the segments were delayed, not lost)
 * from a real one by the two ACKs after it, so that a spurious one does
 * not collapse the window. As Linux (net.ipv4.tcp_frto = 2, the default)
 * it is always on, and a timeout found spurious is undone in full
 * (Linux tcp_try_undo_loss): cwnd and ssthresh as before the timeout and
 * the congestion control's own state (RFC 9438 4.9 for CUBIC) put back.
 *
 *   1. The RTO retransmits the first unacknowledged segment (tcp_timer.c,
 *      unchanged); F-RTO remembers cwnd, ssthresh and SND.MAX (recover).
 *   2. The first ACK after it: if it acknowledges new data below
 *      recover and there is new data to send, up to two previously unsent
 *      segments go (step 2b); otherwise (a duplicate ACK, everything
 *      acknowledged, nothing new to send) the conventional go-back-N
 *      recovery goes on (2a).
 *   3. The second ACK: if it acknowledges new data, that data was not
 *      retransmitted: the timeout was spurious (3b), undo. A duplicate ACK
 *      means the RTO was real (3a): cwnd at most 3 SMSS, go-back-N from
 *      SND.UNA in slow start.
 *
 * F-RTO starts only at the first expiration of a series and not when the
 * RTO interrupted a fast recovery (RFC 5682 2.1 note; Linux likewise).
 * The SACK-enhanced variant (RFC 5682 3) is not done: on SACK connections
 * the decisions above look at the cumulative ACK only, as on others.
 *
 * Everything runs with the socket lock held.
 */
#include "stack.h"
#include "tcp.h"

void tcp_frto_rto(struct us_tcb *t, bool was_recovering)
{
	if (t->frto) {
		t->frto = 0;            /* another expiration during F-RTO: conventional */
		return;
	}
	if (t->backoff != 1 || was_recovering)
		return;
	t->frto = 1;
	t->frto_cwnd = t->cwnd;
	t->frto_ssthresh = t->ssthresh;
}

/*
 * An acceptable ACK arrived while F-RTO runs (after ack_input's own
 * processing): prior_una is SND.UNA before it, dup whether it was a
 * duplicate ACK.
 */
void tcp_frto_ack(struct us_tcb *t, uint32_t prior_una, bool dup)
{
	struct us_stack *st = t->sock->st;
	bool new_data = seq_gt(t->snd_una, prior_una);
	if (!new_data && !dup)
		return;                 /* a window update: not one of F-RTO's ACKs */
	if (t->frto == 1) {
		uint32_t unsent = t->sndq.len > t->snd_max - t->snd_una ? t->sndq.len -
									(t->snd_max - t->snd_una) : 0;
		uint32_t wnd_room = t->snd_wnd > t->snd_max - t->snd_una
					    ? t->snd_wnd - (t->snd_max - t->snd_una) : 0;
		if (!new_data || !t->in_loss || !unsent || !wnd_room) {
			t->frto = 0;    /* 2a: conventional recovery goes on */
			return;
		}
		/* 2b: up to two new segments; the go-back-N point moves past
		 * what was sent before the timeout. */
		t->snd_nxt = t->snd_max;
		t->cwnd = (t->snd_max - t->snd_una) + 2u * t->mss;
		t->frto = 2;
		return;
	}
	/* Step 3. */
	t->frto = 0;
	if (new_data) {
		/* 3b: data never retransmitted was acknowledged: spurious. */
		US_STAT_INC(st, TCP_SPURIOUS_RTO);
		t->cwnd = t->frto_cwnd;
		t->ssthresh = t->frto_ssthresh;
		t->in_loss = false;
		t->recover = t->snd_una;
		if (t->cc->undo)
			t->cc->undo(t);
		return;
	}
	/* 3a: the RTO was real. */
	if (t->cwnd > 3u * t->mss)
		t->cwnd = 3u * t->mss;
	t->snd_nxt = t->snd_una;
}
