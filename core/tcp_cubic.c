/*
 * tcp_cubic.c — CUBIC (RFC 9438) with HyStart++ (RFC 9406), the default
 * congestion control (tcp.congestion: cubic), behind the interface of
 * tcp_cc.c. Loss detection and recovery stay in the core; this file
 * says how cwnd grows and what ssthresh becomes.
 *
 * Windows are kept here in segments of the send MSS as doubles (the
 * core's cwnd is bytes; `cwnd` below mirrors it with the fraction the
 * per-ACK increments need, and follows the core whenever the core set
 * cwnd itself: recovery, RTO, restart after idle).
 *
 * CUBIC (RFC 9438 4):
 *   W_cubic(t) = C (t - K)^3 + W_max, C = 0.4, t the time since the
 *   congestion avoidance stage began, K = cbrt((W_max - cwnd_epoch) / C)
 *   (eq. 2; 0 when cwnd_epoch >= W_max). Each ACK in congestion
 *   avoidance: target = W_cubic(t + SRTT) clamped to [cwnd, 1.5 cwnd]
 *   (4.2); the Reno-friendly estimate W_est += alpha * acked / cwnd with
 *   alpha = 3 (1 - beta) / (1 + beta), 1 once W_est >= cwnd_prior (4.3);
 *   if W_cubic(t) < W_est then cwnd = W_est (Reno-friendly region), else
 *   cwnd += (target - cwnd) / cwnd per segment acked (concave/convex).
 *   On loss (4.6, 4.7): beta = 0.7, ssthresh = max(beta * FlightSize, 2)
 *   (the RFC's formula; Linux uses cwnd), W_max = cwnd, or with fast
 *   convergence cwnd (1 + beta) / 2 when cwnd < the previous W_max.
 *   After an RTO (4.8) and after HyStart++ leaves slow start without a
 *   loss (4.10) W_max is undefined: the next stage starts with K = 0 and
 *   W_max = its cwnd_epoch.
 *
 * HyStart++ (RFC 9406 4.2-4.3), in the first slow start only (ssthresh
 * still unset): a round ends with the ACK of the SND.MAX it began with;
 * each RTT sample counts into the round's minimum. With at
 * least N_RTT_SAMPLE (8) samples in this round and a previous round's
 * minimum, an increase by RttThresh = clamp(lastRoundMinRTT / 8, 4 ms,
 * 16 ms) leaves slow start for Conservative Slow Start: growth divided
 * by CSS_GROWTH_DIVISOR (4); a round whose minimum falls below the
 * baseline goes back to slow start; CSS_ROUNDS (5) rounds of CSS end
 * slow start (ssthresh = cwnd). Not paced: each ACK adds at most L = 8
 * SMSS. RTT samples come from the core (tcp_rtt_sample): one per ACK
 * with timestamps, one per round trip (Karn) without, where 8 samples
 * per round rarely come together and HyStart++ seldom acts.
 *
 * Spurious loss (RFC 9438 4.9, F-RTO in tcp_timer.c/tcp_input.c): the
 * state before the last reduction is kept and put back by undo.
 *
 * Everything runs with the socket lock held.
 */
#include <string.h>

#include "stack.h"
#include "tcp.h"

#define CUBIC_C    0.4
#define CUBIC_BETA 0.7
#define HS_MIN_RTT_THRESH_US  4000
#define HS_MAX_RTT_THRESH_US  16000
#define HS_MIN_RTT_DIVISOR    8
#define HS_N_RTT_SAMPLE       8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS         5
#define HS_L                  8       /* segments per ACK, not paced */

/* What a loss changes, kept for undo (RFC 9438 4.9). */
struct cubic_loss_state {
	double w_max, k, cwnd_epoch, w_est, cwnd_prior;
	uint64_t epoch;
};

struct cubic {
	double cwnd;            /* segments: the core's cwnd with its fraction */
	uint32_t cwnd_bytes;    /* the core's cwnd when `cwnd` was last set */
	/* RFC 9438 state; w_max 0: undefined (4.8, 4.10). */
	double w_max, k, cwnd_epoch, w_est, cwnd_prior;
	uint64_t epoch;         /* clock ns the congestion avoidance stage began, 0 = not yet */
	struct cubic_loss_state saved;
	bool have_saved;
	/* HyStart++ (RFC 9406), while ssthresh is unset (the first slow start). */
	bool css;               /* in Conservative Slow Start */
	int css_rounds;
	uint32_t window_end;    /* the round ends when SND.UNA passes it */
	bool round_started;
	uint32_t cur_min_rtt, last_min_rtt, css_baseline; /* us, UINT32_MAX = none */
	int samples;
};
_Static_assert(sizeof(struct cubic) <= sizeof(((struct us_tcb *)0)->cc_priv),
	       "struct cubic must fit the TCB's cc_priv");

static struct cubic *ca(struct us_tcb *t)
{
	return (struct cubic *)(void *)t->cc_priv;
}

/* Cube root by Newton's method (no libm in the library). */
static double cube_root(double x)
{
	if (x <= 0)
		return 0;
	double r = x > 1 ? x / 3 : 1;
	for (int i = 0; i < 100; i++) {
		double n = r - (r * r * r - x) / (3 * r * r);
		if (n == r || (n > r ? n - r : r - n) < 1e-12 * r)
			return n;
		r = n;
	}
	return r;
}

/* The window in segments, following the core when it moved cwnd itself. */
static double cwnd_segs(struct us_tcb *t)
{
	struct cubic *c = ca(t);
	if (c->cwnd_bytes != t->cwnd)
		c->cwnd = (double)t->cwnd / t->mss;
	return c->cwnd;
}

static void set_cwnd(struct us_tcb *t, double segs)
{
	struct cubic *c = ca(t);
	c->cwnd = segs;
	double b = segs * t->mss;
	t->cwnd = b > 0x7fffffff ? 0x7fffffff : (uint32_t)b;
	c->cwnd_bytes = t->cwnd;
}

/*
 * RFC 9406 4.2: a round ends with the ACK of the SND.MAX it began with
 * (windowEnd); the first ACK beyond starts the next one (as Linux's
 * HyStart: after(snd_una, end_seq)), whose lastRoundMinRTT is this one's.
 * CSS_ROUNDS rounds of CSS end slow start: ssthresh = cwnd (4.3).
 */
static void hs_round(struct us_tcb *t)
{
	struct cubic *c = ca(t);
	if (c->round_started && !seq_gt(t->snd_una, c->window_end))
		return;
	if (c->round_started && c->css && ++c->css_rounds >= HS_CSS_ROUNDS) {
		c->css = false;
		t->ssthresh = t->cwnd;
		return;
	}
	c->window_end = t->snd_max;
	c->round_started = true;
	c->last_min_rtt = c->cur_min_rtt;
	c->cur_min_rtt = UINT32_MAX;
	c->samples = 0;
}

static void cubic_init(struct us_tcb *t)
{
	us_tcp_newreno.init(t);         /* IW (RFC 6928) and ssthresh unset: shared */
	struct cubic *c = ca(t);
	c->cur_min_rtt = c->last_min_rtt = c->css_baseline = UINT32_MAX;
}

/* HyStart++ runs in the first slow start only: while ssthresh is unset. */
static bool hs_active(struct us_tcb *t)
{
	return t->ssthresh >= 0x7fffffff;
}

static void cubic_rtt_sample(struct us_tcb *t, uint64_t rtt_us)
{
	struct cubic *c = ca(t);
	if (!hs_active(t))
		return;
	hs_round(t);            /* the first ACK past a round: its sample is the next one's */
	uint32_t r = rtt_us > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)rtt_us;
	if (r < c->cur_min_rtt)
		c->cur_min_rtt = r;
	c->samples++;
}

/* RFC 9406 4.3: slow start and CSS; the bytes to add for this ACK. */
static double hystart_grow(struct us_tcb *t, uint32_t acked)
{
	struct cubic *c = ca(t);
	if (!hs_active(t))
		return acked < t->mss ? acked : t->mss;  /* later slow starts: RFC 5681 */
	hs_round(t);
	if (!hs_active(t))
		return 0;                               /* CSS over: ssthresh = cwnd */
	double n = acked < HS_L * (uint32_t)t->mss ? acked : HS_L * (uint32_t)t->mss;
	double add = c->css ? n / HS_CSS_GROWTH_DIVISOR : n;
	bool full = c->samples >= HS_N_RTT_SAMPLE && c->cur_min_rtt != UINT32_MAX;
	if (!c->css && full && c->last_min_rtt != UINT32_MAX) {
		uint32_t th = c->last_min_rtt / HS_MIN_RTT_DIVISOR;
		if (th < HS_MIN_RTT_THRESH_US)
			th = HS_MIN_RTT_THRESH_US;
		if (th > HS_MAX_RTT_THRESH_US)
			th = HS_MAX_RTT_THRESH_US;
		if (c->cur_min_rtt >= c->last_min_rtt + th) {
			c->css_baseline = c->cur_min_rtt;       /* on to CSS */
			c->css = true;
			c->css_rounds = 0;
		}
	} else if (c->css && full && c->cur_min_rtt < c->css_baseline) {
		c->css_baseline = UINT32_MAX;   /* the increase was spurious: slow start again */
		c->css = false;
	}
	return add;
}

static double w_cubic(const struct cubic *c, double t)
{
	double d = t - c->k;
	return CUBIC_C * d * d * d + c->w_max;
}

static void cubic_cong_avoid(struct us_tcb *t, uint32_t acked)
{
	struct cubic *c = ca(t);
	double cw = cwnd_segs(t);
	if (t->cwnd < t->ssthresh) {
		double add = hystart_grow(t, acked);
		set_cwnd(t, cw + add / t->mss);
		return;
	}
	c->css = false;
	struct us_stack *st = t->sock->st;
	uint64_t now = us_now(st);
	double segs = (double)acked / t->mss;
	if (!c->epoch) {
		/* A congestion avoidance stage begins (RFC 9438 4.2, eq. 2). */
		c->epoch = now ? now : 1;
		c->cwnd_epoch = cw;
		c->w_est = cw;
		if (c->w_max <= cw) {
			c->w_max = cw;  /* undefined (after an RTO or HyStart++) or below us */
			c->k = 0;
		} else {
			c->k = cube_root((c->w_max - cw) / CUBIC_C);
		}
		if (c->cwnd_prior <= 0)
			c->cwnd_prior = cw;
	}
	double tt = (double)(now - c->epoch) / 1e9;
	double rtt = (double)t->srtt_us / 1e6;
	/* Reno-friendly estimate (4.3). */
	double alpha = c->w_est >= c->cwnd_prior ? 1.0
						 : 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
	c->w_est += alpha * segs / cw;
	if (w_cubic(c, tt) < c->w_est) {
		if (c->w_est > cw)
			set_cwnd(t, c->w_est);
		return;
	}
	double target = w_cubic(c, tt + rtt);
	if (target < cw)
		target = cw;
	if (target > 1.5 * cw)
		target = 1.5 * cw;
	set_cwnd(t, cw + (target - cw) / cw * segs);
}

static uint32_t cubic_ssthresh(struct us_tcb *t)
{
	struct cubic *c = ca(t);
	double cw = cwnd_segs(t);
	c->saved = (struct cubic_loss_state){ c->w_max, c->k, c->cwnd_epoch, c->w_est,
					      c->cwnd_prior, c->epoch };
	c->have_saved = true;
	c->css = false;         /* a loss ends HyStart++ (RFC 9406 4.3): ssthresh is set */
	/* 4.7 fast convergence: a flow that lost below its last W_max releases some. */
	c->w_max = cw < c->w_max ? cw * (1 + CUBIC_BETA) / 2 : cw;
	c->cwnd_prior = cw;
	c->epoch = 0;
	double flight = (double)(t->snd_max - t->snd_una) / t->mss;
	double ss = flight * CUBIC_BETA;
	if (ss < 2)
		ss = 2;
	return (uint32_t)(ss * t->mss);
}

static void cubic_event(struct us_tcb *t, enum tcp_cc_event ev)
{
	struct cubic *c = ca(t);
	switch (ev) {
	case TCP_CC_RTO:
		/* 4.8: the next stage starts with K = 0 and W_max = its cwnd. */
		c->w_max = 0;
		c->epoch = 0;
		break;
	case TCP_CC_IDLE_RESTART:
		c->epoch = 0;   /* time spent idle is no time on the curve */
		break;
	}
}

static void cubic_undo(struct us_tcb *t)
{
	struct cubic *c = ca(t);
	if (!c->have_saved)
		return;
	c->w_max = c->saved.w_max;
	c->k = c->saved.k;
	c->cwnd_epoch = c->saved.cwnd_epoch;
	c->w_est = c->saved.w_est;
	c->cwnd_prior = c->saved.cwnd_prior;
	c->epoch = c->saved.epoch;
	c->have_saved = false;
}

const struct us_tcp_cc_ops us_tcp_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.cong_avoid = cubic_cong_avoid,
	.ssthresh = cubic_ssthresh,
	.rtt_sample = cubic_rtt_sample,
	.event = cubic_event,
	.undo = cubic_undo,
};
