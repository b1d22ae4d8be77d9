/*
 * tcp_timer.c — the per-connection timers, FreeBSD style: one table of
 * small handlers, each re-checking under the socket lock that the
 * connection still needs it.
 *
 *   REXMIT   RFC 6298: retransmit from snd_una (go-back-N), back off, and
 *            give up with ETIMEDOUT after `retries` (syn_retries while
 *            opening) expirations.
 *   DELACK   RFC 1122 4.2.3.2 / RFC 9293 3.8.6.3: a delayed ACK is due.
 *   PERSIST  RFC 9293 3.8.6.1: zero-window probe with exponential backoff;
 *            never gives up while the peer answers (RFC 1122 4.2.2.17),
 *            `retries` unanswered probes end it (an orphan: 8), as Linux.
 *   KEEP     SO_KEEPALIVE: idle, then probes every keepintvl, keepcnt of
 *            them unanswered -> ETIMEDOUT.
 *   2MSL     TIME_WAIT's end, or an orphan's FIN_WAIT_2 timeout.
 *   RINGS    empty send/receive rings released after US_TCP_RING_IDLE_MS
 *            without traffic (tcb_rings_trim, tcp_table.c); armed lazily.
 *   LOSS     RACK's reordering timer or TLP's probe timeout (RFC 8985,
 *            tcp_rack.c tcp_loss_timer_fire).
 *
 * An armed timer holds a reference to the socket: arming an unarmed
 * timer takes one; cancelling an armed one or a handler finishing drops
 * it. The deadline kept in the TCB decides whether a firing is current.
 *
 * Lazy re-arming (BSD and Linux do the same for the retransmission
 * timer): deadline[k] is the truth and setting or clearing it is a store
 * under the socket lock. The wheel is touched only when the new deadline
 * is earlier than the firing already pending (wheel_at[k]), or when none
 * is. A firing re-checks deadline[k]: cleared, it just drops its
 * reference; moved later, it re-arms the wheel for the new deadline and
 * keeps the reference. So the ACK clock (each ACK pushes the RTO later,
 * the last one clears it, the next send sets it again) and the delayed ACK
 * (set by data, cleared by our reply) cost no wheel operation per segment,
 * only one per timer period. tcp_timers_clear_all (the connection ends or
 * enters TIME_WAIT) cancels in the wheel for real, so no stale firing
 * holds the socket.
 */
#include <errno.h>

#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "lockassert.h"

static void timer_fire(struct us_tcb *t, enum tcp_timer_kind k);

#define DEF_HANDLER(kind)                                    \
	static void fire_##kind(void *arg)                   \
	{                                                    \
		timer_fire(arg, kind);                       \
	}
DEF_HANDLER(TT_REXMIT)
DEF_HANDLER(TT_DELACK)
DEF_HANDLER(TT_PERSIST)
DEF_HANDLER(TT_KEEP)
DEF_HANDLER(TT_2MSL)
DEF_HANDLER(TT_RINGS)
DEF_HANDLER(TT_LOSS)

void tcp_timer_init(struct us_tcb *t)
{
	us_timer_init(&t->timer[TT_REXMIT], fire_TT_REXMIT, t);
	us_timer_init(&t->timer[TT_DELACK], fire_TT_DELACK, t);
	us_timer_init(&t->timer[TT_PERSIST], fire_TT_PERSIST, t);
	us_timer_init(&t->timer[TT_KEEP], fire_TT_KEEP, t);
	us_timer_init(&t->timer[TT_2MSL], fire_TT_2MSL, t);
	us_timer_init(&t->timer[TT_RINGS], fire_TT_RINGS, t);
	us_timer_init(&t->timer[TT_LOSS], fire_TT_LOSS, t);
}

void tcp_timer_set(struct us_tcb *t, enum tcp_timer_kind k, uint64_t when)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	if (!when)
		when = 1;
	t->deadline[k] = when;
	if (t->wheel_at[k] && t->wheel_at[k] <= when)
		return;         /* the pending firing comes first and re-checks */
	uint8_t bit = (uint8_t)(1u << k);
	if (!us_timer_arm(&st->wheel, &t->timer[k], when)) {
		us_sock_hold(t->sock);
		/* It was not armed although a firing is pending (wheel_at, or
		 * one clear_all could not cancel): that firing is under way,
		 * its callback waiting for this lock; it must know that this
		 * arming, with its own reference, is not its own. */
		if (t->wheel_at[k] || (t->wheel_busy & bit))
			t->wheel_again |= bit;
	}
	t->wheel_at[k] = when;
}

/* Lazy: a pending firing finds deadline 0 and drops its reference. */
void tcp_timer_clear(struct us_tcb *t, enum tcp_timer_kind k)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	t->deadline[k] = 0;
}

void tcp_timers_clear_all(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	for (int k = 0; k < TT__COUNT; k++) {
		uint8_t bit = (uint8_t)(1u << k);
		t->deadline[k] = 0;
		if (!t->wheel_at[k])
			continue;
		t->wheel_at[k] = 0;
		if (us_timer_cancel(&t->sock->st->wheel, &t->timer[k])) {
			atomic_fetch_sub_explicit(&t->sock->refs, 1, memory_order_acq_rel);
			/* A firing taken off before this arming is still under way. */
			if (t->wheel_again & bit)
				t->wheel_busy |= bit;
		} else {
			/* Its handler is about to run; it sees deadline 0 and drops
			 * the reference. */
			t->wheel_busy |= bit;
		}
		t->wheel_again &= (uint8_t)~bit;
	}
}

/* TCP_USER_TIMEOUT applies once the connection is synchronized (as Linux:
 * SYN retries stay a count). */
static bool user_timeout_on(const struct us_tcb *t)
{
	return t->user_timeout_ms && t->state != TCPS_SYN_SENT && t->state != TCPS_SYN_RCVD;
}

/* ns left of the user timeout counted from since, at least 1 ms. */
static uint64_t user_timeout_left(const struct us_tcb *t, uint64_t since, uint64_t now)
{
	uint64_t end = since + (uint64_t)t->user_timeout_ms * US_NS_PER_MS;
	return end > now + US_NS_PER_MS ? end - now : US_NS_PER_MS;
}

void tcp_rexmit_restart(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	uint64_t rto = t->rto_us << (t->backoff > 16 ? 16 : t->backoff);
	if (rto > (uint64_t)US_TCP_RTO_MAX_MS * 1000)
		rto = (uint64_t)US_TCP_RTO_MAX_MS * 1000;
	uint64_t now = us_now(t->sock->st), d = rto * 1000;
	/* Linux tcp_clamp_rto_to_user_timeout: fire no later than the user
	 * timeout, so that the abort comes on time. */
	if (user_timeout_on(t) && t->una_stamp) {
		uint64_t left = user_timeout_left(t, t->una_stamp, now);
		if (left < d)
			d = left;
	}
	tcp_timer_set(t, TT_REXMIT, now + d);
}

/* RFC 6298 2.2-2.4 with G = 1 ms; RTO floored at rto_min_ms, capped at 120 s. */
void tcp_rtt_sample(struct us_tcb *t, uint64_t r)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	const struct us_tcp_config *c = &t->sock->st->cfg.tcp;
	if (!t->min_rtt_us || r < t->min_rtt_us)
		t->min_rtt_us = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
	if (t->cc->rtt_sample)
		t->cc->rtt_sample(t, r);
	if (!t->have_rtt) {
		t->srtt_us = (int64_t)r;
		t->rttvar_us = (int64_t)r / 2;
		t->have_rtt = true;
	} else {
		int64_t d = t->srtt_us - (int64_t)r;
		if (d < 0)
			d = -d;
		t->rttvar_us = (3 * t->rttvar_us + d) / 4;
		t->srtt_us = (7 * t->srtt_us + (int64_t)r) / 8;
	}
	int64_t var = 4 * t->rttvar_us;
	if (var < 1000)
		var = 1000;
	uint64_t rto = (uint64_t)(t->srtt_us + var);
	uint64_t lo = (uint64_t)(c->rto_min_ms ? c->rto_min_ms : 200) * 1000;
	if (rto < lo)
		rto = lo;
	if (rto > (uint64_t)US_TCP_RTO_MAX_MS * 1000)
		rto = (uint64_t)US_TCP_RTO_MAX_MS * 1000;
	t->rto_us = rto;
}

/* A connection timing out reports the last soft ICMP error if there was
 * one, else ETIMEDOUT (Linux tcp_write_err). */
static int timeout_errno(struct us_tcb *t)
{
	int e = t->sock->so_error_soft ? t->sock->so_error_soft : ETIMEDOUT;
	t->sock->so_error_soft = 0;
	return e;
}

static void on_rexmit(struct us_tcb *t)
{
	struct us_stack *st = t->sock->st;
	const struct us_tcp_config *c = &st->cfg.tcp;
	bool opening = t->state == TCPS_SYN_SENT || t->state == TCPS_SYN_RCVD;
	uint32_t limit = opening ? c->syn_retries : c->retries;
	if (t->snd_una == t->snd_max && !opening)
		return;         /* everything was acknowledged meanwhile */
	/* TCP_USER_TIMEOUT (RFC 5482): with it set, time decides, not the
	 * retry count: abort once data stayed unacknowledged that long. */
	bool expired = user_timeout_on(t)
			       ? t->una_stamp && us_now(st) - t->una_stamp >=
							 (uint64_t)t->user_timeout_ms * US_NS_PER_MS
			       : (uint32_t)t->backoff >= limit;
	if (expired) {
		US_STAT_INC(st, TCP_TIMEOUTS);
		tcp_done(t, timeout_errno(t));
		return;
	}
	t->backoff++;
	US_STAT_INC(st, TCP_RTO_FIRED);
	/* RFC 5681 3.1 eq. 4 and RFC 6298 5.5-5.7. */
	if (!opening) {
		tcp_frto_rto(t, t->in_recovery || t->sack_recovery);   /* RFC 5682 step 1 */
		/* Linux tcp_enter_loss: ssthresh once per episode, not again at a
		 * second expiration in a row (cwnd is already 1 then). */
		if (!t->in_loss || t->backoff == 1)
			t->ssthresh = t->cc->ssthresh(t);
		t->in_loss = true;
		t->cwnd = t->mss;
		t->bytes_acked = 0;
		t->in_recovery = false;
		t->dupacks = 0;
		t->recover = t->snd_max;
		tcp_sb_clear(t);        /* RFC 2018 8, RFC 6675 5.1 (tcp_recovery.c) */
	}
	if (!opening && t->cc->event)
		t->cc->event(t, TCP_CC_RTO);
	t->rtt_timing = false;          /* Karn: no sample from a retransmission */
	if (opening) {
		t->snd_nxt = t->iss;
		US_STAT_INC(st, TCP_RETRANS_SEGS);
		tcp_send_syn(t);
		return;
	}
	t->snd_nxt = t->snd_una;
	tcp_rexmit_restart(t);
	tcp_output(t);
	/* Nothing fitted a window the peer closed or shrank: probing, which
	 * never gives up on a live peer, takes over (RFC 1122 4.2.2.16-17). */
	if (t->snd_nxt == t->snd_una && t->sndq.len > 0) {
		tcp_timer_clear(t, TT_REXMIT);
		tcp_output(t);          /* arms TT_PERSIST */
	}
}

static void on_persist(struct us_tcb *t)
{
	struct us_stack *st = t->sock->st;
	uint32_t off = t->snd_nxt - t->snd_una;
	if (t->sndq.len <= off) {
		tcp_output(t);
		return;
	}
	if (t->snd_wnd > off) {
		/* Open, but too small for sender SWS avoidance (tcp_output), and
		 * nothing in flight will bring a newer window: the override
		 * timeout (RFC 1122 4.2.3.4, RFC 9293 3.8.6.2.1) sends what fits. */
		uint32_t len = t->snd_wnd - off;
		if (len > t->mss)
			len = t->mss;
		if (len > t->sndq.len - off)
			len = t->sndq.len - off;
		if (seq_lt(t->snd_nxt, t->snd_max))
			US_STAT_INC(st, TCP_RETRANS_SEGS);
		if (t->snd_una == t->snd_max)
			t->una_stamp = us_now(st);      /* the oldest unacked data leaves now */
		tcp_send_segment(t, t->snd_nxt, len, TCP_ACK | TCP_PSH);
		t->snd_nxt += len;
		if (seq_gt(t->snd_nxt, t->snd_max))
			t->snd_max = t->snd_nxt;
		tcp_rexmit_restart(t);
		return;
	}
	/* TCP_USER_TIMEOUT also bounds zero-window probing (Linux
	 * tcp_probe_timer): counted from the first probe, answered or not. */
	uint64_t now = us_now(st);
	if (user_timeout_on(t)) {
		if (!t->persist_stamp) {
			t->persist_stamp = now;
		} else if (now - t->persist_stamp >= (uint64_t)t->user_timeout_ms * US_NS_PER_MS) {
			US_STAT_INC(st, TCP_TIMEOUTS);
			tcp_done(t, ETIMEDOUT);
			return;
		}
	}
	/*
	 * RFC 1122 4.2.2.17: keep probing as long as the receiver answers.
	 * A peer that stopped answering (any ACK resets probes_out) ends the
	 * connection after `retries` unanswered probes, an orphan after
	 * US_TCP_ORPHAN_PROBES, as Linux's tcp_probe_timer does: otherwise a
	 * peer that closes its window and goes away (or an attacker) holds a
	 * connection, and after close an orphan with its buffers, forever.
	 */
	uint32_t max_probes = t->orphan ? US_TCP_ORPHAN_PROBES : st->cfg.tcp.retries;
	if ((uint32_t)t->probes_out >= max_probes) {
		US_STAT_INC(st, TCP_TIMEOUTS);
		tcp_done(t, timeout_errno(t));
		return;
	}
	t->probes_out++;
	/* Probe with one byte of new data beyond the closed window. */
	US_STAT_INC(st, TCP_WINDOW_PROBES);
	tcp_send_segment(t, t->snd_nxt, 1, TCP_ACK);
	if (t->persist_backoff < 16)
		t->persist_backoff++;
	uint64_t d = t->rto_us << t->persist_backoff;
	if (d > (uint64_t)US_TCP_PERSIST_MAX_MS * 1000)
		d = (uint64_t)US_TCP_PERSIST_MAX_MS * 1000;
	d *= 1000;
	if (user_timeout_on(t)) {
		uint64_t left = user_timeout_left(t, t->persist_stamp, now);
		if (left < d)
			d = left;       /* Linux tcp_clamp_probe0_to_user_timeout */
	}
	tcp_timer_set(t, TT_PERSIST, now + d);
}

static void on_keep(struct us_tcb *t)
{
	struct us_stack *st = t->sock->st;
	if (!t->keepalive || (t->state != TCPS_ESTABLISHED && t->state != TCPS_CLOSE_WAIT))
		return;
	if ((uint32_t)t->keep_probes >= t->keepcnt) {
		tcp_done(t, timeout_errno(t));
		return;
	}
	/* A keepalive probe: an ACK carrying snd_una - 1, answered by an ACK. */
	t->keep_probes++;
	US_STAT_INC(st, TCP_KEEPALIVE_PROBES);
	tcp_send_segment(t, t->snd_una - 1, 0, TCP_ACK);
	tcp_timer_set(t, TT_KEEP, us_now(st) + (uint64_t)t->keepintvl_s * US_NS_PER_SEC);
}

static void timer_fire(struct us_tcb *t, enum tcp_timer_kind k)
{
	struct us_sock *s = t->sock;
	struct us_stack *st = s->st;
	pthread_mutex_lock(&s->lock);
	uint64_t now = us_now(st);
	/*
	 * Was the wheel armed again (an earlier deadline) after this firing
	 * was taken off it? Then wheel_at describes that arming, which holds
	 * its own reference; else this firing was the pending one. The TCB's
	 * bits say so (tcp_timer_set): no wheel operation, so a firing that
	 * follows a deadline moved later costs one (its re-arming), and one
	 * that finds its deadline cleared none. There is one timer thread,
	 * blocked in this callback until the lock is had, so at most one
	 * firing of a timer is under way.
	 */
	uint8_t bit = (uint8_t)(1u << k);
	bool rearmed = t->wheel_again & bit;
	t->wheel_again &= (uint8_t)~bit;
	t->wheel_busy &= (uint8_t)~bit;
	if (!rearmed)
		t->wheel_at[k] = 0;
	bool current = t->deadline[k] && t->deadline[k] <= now && s->tcb == t;
	if (t->deadline[k] && t->deadline[k] > now && s->tcb == t) {
		/* Moved later since the wheel was armed: follow it, keeping
		 * this firing's reference for the new arming. */
		if (!rearmed) {
			us_timer_arm(&st->wheel, &t->timer[k], t->deadline[k]);
			t->wheel_at[k] = t->deadline[k];
			pthread_mutex_unlock(&s->lock);
			return;
		}
		pthread_mutex_unlock(&s->lock);
		us_sock_put(s);
		return;
	}
	if (current) {
		t->deadline[k] = 0;
		switch (k) {
		case TT_REXMIT:
			on_rexmit(t);
			break;
		case TT_DELACK:
			if (t->state != TCPS_CLOSED && t->state != TCPS_LISTEN) {
				US_STAT_INC(st, TCP_DELAYED_ACKS);
				/* No reply carried the ACK: not interactive after all
				 * (Linux tcp_delack_timer_handler leaves pingpong). */
				t->pingpong = false;
				tcp_send_ack(t);
			}
			break;
		case TT_PERSIST:
			on_persist(t);
			break;
		case TT_KEEP:
			on_keep(t);
			break;
		case TT_2MSL:
			tcp_done(t, t->state == TCPS_TIME_WAIT ? 0 : ETIMEDOUT);
			break;
		case TT_RINGS:
			tcb_rings_trim(t);
			break;
		case TT_LOSS:
			tcp_loss_timer_fire(t);         /* RACK or TLP (tcp_rack.c) */
			break;
		default:
			break;
		}
		us_sock_wake(s);
	}
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);         /* the armed timer's reference */
}
