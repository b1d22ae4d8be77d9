/*
 * test_tcp_cubic.c — CUBIC (RFC 9438) and HyStart++ (RFC 9406) on the
 * virtual clock (suite tcp_cubic).
 *
 * A scripted receiver (tcputil.h) takes a deterministic stack's bulk
 * transfer round by round: every data segment the stack sent arrives one
 * RTT later and is acknowledged on its own, cumulatively, as a receiver
 * without delayed ACKs does (a lost segment draws duplicate ACKs until
 * its retransmission arrives). The stack's cwnd is read after each round
 * and compared with what the RFCs say, computed here from their formulas:
 *
 *   W_cubic(t) = C (t - K)^3 + W_max, K = cbrt(W_max (1 - beta) / C),
 *   C = 0.4, beta = 0.7 (RFC 9438 4.2, eq. 1-2) — the window is near
 *   W_max at t = K, and between W_cubic(t) and W_cubic(t + RTT) in the
 *   cubic region; ssthresh = beta * FlightSize on loss (4.6);
 *   W_est = W_max beta + 3 (1 - beta) / (1 + beta) t / RTT in the
 *   Reno-friendly region (4.3); W_max = cwnd (1 + beta) / 2 for a loss
 *   below the previous W_max (4.7, fast convergence);
 *   HyStart++: a round whose minimum RTT exceeds the last one's by
 *   max(4 ms, min(lastRoundMinRTT / 8, 16 ms)) after 8 samples leaves slow
 *   start for CSS, which grows by a quarter (RFC 9406 4.2-4.3).
 *
 * F-RTO (RFC 5682 2.1) is here too: it undoes CUBIC's reduction after a
 * spurious timeout (RFC 9438 4.9). A window whose ACKs are only delayed
 * past the RTO must leave cwnd and ssthresh as they were; a window really
 * lost must go on as a conventional RTO recovery.
 *
 * (cbrt and pow are libm's: the stack has its own cube root.)
 */
#include <errno.h>
#include <math.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
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
#define MAXSEGS    200000

#define C_CUBIC 0.4
#define BETA    0.7

static uint8_t zeros[1 << 18];

/* One bulk connection, stack -> scripted receiver. */
struct flow {
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	struct tc_out o;
	uint32_t base;                  /* the stack's first data sequence number */
	uint32_t mss;
	uint64_t rtt_ns;                /* from a segment's sending to its ACK */
	uint8_t *got;                   /* per segment index: arrived */
	uint32_t drop[8];               /* segment indices whose first transmission is lost */
	int ndrop;
	uint8_t *sent;                  /* per segment index: sent once already */
	/* Called before and after each ACK the receiver sends. */
	void (*hook)(struct flow *f, bool after, void *arg);
	void *arg;
};

static struct us_tcb *tcb_of(struct flow *f)
{
	return tc_tcb(&f->t, f->fd);
}

static double cwnd_segs(struct flow *f)
{
	struct us_tcb *t = tcb_of(f);
	return t ? (double)t->cwnd / f->mss : 0;
}

static void flow_close(struct flow *f)
{
	tc_out_free(&f->o);
	free(f->got);
	free(f->sent);
	tu_close(&f->t);
}

/* Keep the send buffer full. */
static void top_up(struct flow *f)
{
	for (int i = 0; i < 64; i++) {
		ssize_t n = us_send(f->t.st, f->fd, zeros, sizeof zeros, MSG_DONTWAIT);
		if (n <= 0)
			break;
	}
}

static bool flow_open(struct flow *f, const char *tag, const char *cc, bool ts, uint64_t rtt_ns)
{
	struct us_config cfg;
	memset(f, 0, sizeof *f);
	f->lfd = f->fd = -1;
	tc_config(&cfg, 0, tag);
	cfg.tcp.sndbuf = 4 << 20;
	snprintf(cfg.tcp.congestion, sizeof cfg.tcp.congestion, "%s", cc);
	if (!tu_open_cfg(&f->t, &cfg))
		return false;
	f->got = calloc(MAXSEGS, 1);
	f->sent = calloc(MAXSEGS, 1);
	f->lfd = tc_listen(&f->t, STACK_PORT, 8);
	tc_peer_init(&f->p, &f->t, PEER_PORT, STACK_PORT, PEER_ISS);
	struct tc_seg syn = { .has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 7,
			      .has_ts = ts, .tsval = 1 };
	f->rtt_ns = rtt_ns;
	f->fd = tc_open_passive_rtt(&f->p, f->lfd, &syn, rtt_ns);
	if (f->fd < 0 || !f->got || !f->sent) {
		flow_close(f);
		return false;
	}
	f->base = f->p.rcv_nxt;
	f->mss = ts ? 1448 : 1460;
	top_up(f);
	tc_collect(&f->t, &f->o);
	return true;
}

static bool dropped(struct flow *f, uint32_t idx)
{
	if (f->sent[idx])
		return false;           /* only first transmissions are lost */
	f->sent[idx] = 1;
	for (int i = 0; i < f->ndrop; i++)
		if (f->drop[i] == idx)
			return true;
	return false;
}

/*
 * One round: what the stack sent so far reaches the receiver rtt_ns later,
 * in order; each segment that arrives is acknowledged at once (cumulative
 * ACK, echoing its TSval). What the stack sends in answer is the next round.
 */
static void flow_round(struct flow *f)
{
	int n = f->o.n;
	struct tc_parsed *segs = malloc(sizeof *segs * (size_t)(n ? n : 1));
	CU_ASSERT_FATAL(segs != NULL);
	memcpy(segs, f->o.seg, sizeof *segs * (size_t)n);
	/* The segments' data pointers are not used past this point. */
	f->o.n = 0;
	tc_run(&f->t, f->rtt_ns, &f->o);
	int extra = f->o.n;             /* sent while waiting: belongs to the next round */
	CU_ASSERT_EQUAL(extra, 0);
	for (int i = 0; i < n; i++) {
		const struct tc_parsed *s = &segs[i];
		if (!s->len)
			continue;
		CU_ASSERT_EQUAL(s->len, f->mss);
		uint32_t idx = (s->seq - f->base) / f->mss;
		CU_ASSERT_FATAL(idx < MAXSEGS);
		if (dropped(f, idx))
			continue;
		f->got[idx] = 1;
		uint32_t ack = f->p.rcv_nxt;
		while (f->got[(ack - f->base) / f->mss])
			ack += f->mss;
		if (f->hook)
			f->hook(f, false, f->arg);
		f->p.rcv_nxt = ack;
		f->p.ts_recent = s->tsval;
		tc_peer_send(&f->p, TC_ACK, NULL, 0);
		if (f->hook)
			f->hook(f, true, f->arg);
		top_up(f);
		tc_collect(&f->t, &f->o);
	}
	free(segs);
}

/* ---- CUBIC's formulas (RFC 9438) ------------------------------------------------ */

static double w_cubic(double t, double k, double w_max)
{
	return C_CUBIC * pow(t - k, 3) + w_max;
}

/* What the test watches: losses, the start of congestion avoidance, per-ACK times. */
struct watch {
	double w_max;           /* cwnd just before the last loss (segments) */
	double flight;          /* FlightSize before the ACK being processed (segments) */
	double loss_flight;     /* FlightSize at the last loss (segments) */
	int losses;
	bool was_in_recovery;
	double cwnd_before;
	uint64_t epoch;         /* clock ns congestion avoidance began after the last loss */
	double cwnd_epoch;
};

static void watch_hook(struct flow *f, bool after, void *arg)
{
	struct watch *w = arg;
	struct us_tcb *t = tcb_of(f);
	if (!after) {
		w->cwnd_before = (double)t->cwnd / f->mss;
		w->flight = (double)(t->snd_max - t->snd_una) / f->mss;
		w->was_in_recovery = t->in_recovery;
		/* RFC 9438 4.2: the stage begins with the first ACK that finds
		 * cwnd >= ssthresh outside recovery after a loss. */
		if (w->losses && !w->epoch && !t->in_recovery && t->cwnd >= t->ssthresh) {
			w->epoch = us_stack_now(f->t.st);
			w->cwnd_epoch = w->cwnd_before;
		}
		return;
	}
	if (t->in_recovery && !w->was_in_recovery) {
		w->losses++;
		w->w_max = w->cwnd_before;
		w->loss_flight = w->flight;
		w->epoch = 0;
		/* RFC 9438 4.6: ssthresh = beta * FlightSize. */
		double want = BETA * w->flight * f->mss;
		CU_ASSERT(fabs((double)t->ssthresh - want) <= 1.0);
		if (fabs((double)t->ssthresh - want) > 1.0)
			fprintf(stderr, "\nssthresh %u, want %.0f (flight %.1f)\n", t->ssthresh, want,
				w->flight);
	}
}

/* Rounds until the window has reached `segs` in slow start (one round may overshoot). */
static void slow_start_to(struct flow *f, double segs)
{
	for (int r = 0; r < 20 && cwnd_segs(f) < segs; r++)
		flow_round(f);
}

/*
 * Lose the next segment the stack sends for the first time; run rounds
 * until the loss was repaired and congestion avoidance began.
 */
static void lose_one(struct flow *f, struct watch *w)
{
	uint32_t next = 0;
	for (int i = f->o.n - 1; i >= 0; i--)
		if (f->o.seg[i].len) {
			next = (f->o.seg[i].seq - f->base) / f->mss + 1;
			break;
		}
	/* The first segment of the next round: the middle of this one. */
	int nd = 0;
	for (int i = 0; i < f->o.n; i++)
		nd += f->o.seg[i].len > 0;
	f->drop[f->ndrop++] = next - (uint32_t)nd / 2;
	int losses = w->losses;
	for (int r = 0; r < 30 && !(w->losses > losses && w->epoch); r++)
		flow_round(f);
	CU_ASSERT_EQUAL(w->losses, losses + 1);
	CU_ASSERT(w->epoch != 0);
}

/* A CUBIC flow (no timestamps, RTT rtt_ns) through slow start to about
 * `segs` and one loss, up to the start of congestion avoidance. */
static bool cubic_after_loss(struct flow *f, struct watch *w, const char *tag, uint64_t rtt_ns,
			     double segs)
{
	if (!flow_open(f, tag, "cubic", false, rtt_ns))
		return false;
	memset(w, 0, sizeof *w);
	f->hook = watch_hook;
	f->arg = w;
	slow_start_to(f, segs);
	lose_one(f, w);
	return true;
}

/*
 * RFC 9438 4.3 (Figure 4, and alpha = 1 once W_est reaches cwnd_prior):
 * the Reno-friendly estimate after t seconds of the stage, in segments.
 */
static double w_est(double t, double rtt, double cwnd_epoch, double cwnd_prior)
{
	double alpha = 3 * (1 - BETA) / (1 + BETA);
	double rounds = t / rtt;
	double to_prior = cwnd_prior > cwnd_epoch ? (cwnd_prior - cwnd_epoch) / alpha : 0;
	return rounds <= to_prior ? cwnd_epoch + alpha * rounds : cwnd_epoch + alpha * to_prior +
								   (rounds - to_prior);
}

/*
 * Run congestion avoidance for `secs` of virtual time after the epoch and
 * check every round's window against max(W_cubic, W_est) (RFC 9438 4.2,
 * 4.3): at least that at t and at most that at t + RTT (the window aims
 * at W_cubic(t + RTT) each ACK), within `slack` segments. *near_k: the
 * window at the round closest to t = K. Returns the window at the end.
 */
static double cubic_region(struct flow *f, struct watch *w, double k, double w_max, double secs,
			   double slack, double *near_k)
{
	double rtt = (double)f->rtt_ns / 1e9;
	double cw = 0;
	*near_k = 0;
	int bad = 0;
	while (1) {
		double t = (double)(us_stack_now(f->t.st) - w->epoch) / 1e9;
		if (t > secs)
			break;
		flow_round(f);
		cw = cwnd_segs(f);
		/* The ACKs of this round came at time t (after the wait). */
		t = (double)(us_stack_now(f->t.st) - w->epoch) / 1e9;
		double est = w_est(t, rtt, w->cwnd_epoch, w->w_max);
		double lo = fmax(w_cubic(t, k, w_max), est) - slack;
		double hi = fmax(w_cubic(t + rtt, k, w_max), est) + slack;
		if (cw < lo || cw > hi) {
			if (bad++ < 5)
				fprintf(stderr, "\nt=%.3f cwnd %.2f outside [%.2f, %.2f] (K %.3f W_max %.2f)\n",
					t, cw, lo + slack, hi - slack, k, w_max);
		}
		if (fabs(t - k) < 0.5 * rtt + 1e-9)
			*near_k = cw;
	}
	CU_ASSERT_EQUAL(bad, 0);
	return cw;
}

/* The window follows W_cubic(t) with K = cbrt(W_max (1 - beta) / C) (RFC 9438 4.2). */
static void test_cubic_window_follows_w_cubic(void)
{
	struct flow f;
	struct watch w;
	if (!cubic_after_loss(&f, &w, __func__, 100 * TC_MS, 50))
		return;
	CU_ASSERT(w.w_max >= 50 && w.w_max < 200);
	/* RFC 9438 eq. 2 with cwnd_epoch = beta W_max: K = cbrt(W_max (1 - beta) / C). */
	double k = cbrt((w.w_max - w.cwnd_epoch) / C_CUBIC);
	double k_simple = cbrt(w.w_max * (1 - BETA) / C_CUBIC);
	CU_ASSERT(fabs(w.cwnd_epoch - BETA * w.loss_flight) < 1.5);
	CU_ASSERT(fabs(k - k_simple) < 0.1);
	double near_k = 0;
	double end = cubic_region(&f, &w, k, w.w_max, k + 1.5, 1.0, &near_k);
	/* At t = K the window is W_max (the plateau), then grows convex. */
	CU_ASSERT(fabs(near_k - w.w_max) < 1.0);
	if (fabs(near_k - w.w_max) >= 1.0)
		fprintf(stderr, "\nat t=K %.3f cwnd %.2f, W_max %.2f\n", k, near_k, w.w_max);
	CU_ASSERT(end > w.w_max + 1);
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	CU_ASSERT_EQUAL(us_getsockopt(f.t.st, f.fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	CU_ASSERT_EQUAL(ti.tcpi_snd_ssthresh, (uint32_t)(BETA * w.loss_flight));
	flow_close(&f);
}

/* Fast convergence (RFC 9438 4.7): a loss below the last W_max sets W_max = cwnd (1 + beta) / 2. */
static void test_cubic_fast_convergence(void)
{
	struct flow f;
	struct watch w;
	if (!cubic_after_loss(&f, &w, __func__, 100 * TC_MS, 50))
		return;
	double w_max1 = w.w_max;
	double k1 = cbrt((w.w_max - w.cwnd_epoch) / C_CUBIC), near_k;
	cubic_region(&f, &w, k1, w_max1, 1.0, 1.0, &near_k);
	/* A second loss while still below W_max. */
	lose_one(&f, &w);
	double w2 = w.w_max;            /* cwnd at the second loss */
	CU_ASSERT(w2 < w_max1);
	double w_max2 = w2 * (1 + BETA) / 2;
	double k2 = cbrt((w_max2 - w.cwnd_epoch) / C_CUBIC);
	cubic_region(&f, &w, k2, w_max2, k2 + 0.5, 1.0, &near_k);
	/* The plateau is at the released W_max (or the Reno-friendly W_est,
	 * if that is above by then), not at the cwnd of the loss. */
	double plateau = fmax(w_max2, w_est(k2, (double)f.rtt_ns / 1e9, w.cwnd_epoch, w2));
	CU_ASSERT(fabs(near_k - plateau) < 1.0);
	CU_ASSERT(near_k < w2 - 3);
	if (fabs(near_k - plateau) >= 1.0)
		fprintf(stderr, "\nat K2 %.3f cwnd %.2f, want %.2f (W_max %.2f, loss at %.2f)\n", k2,
			near_k, plateau, w_max2, w2);
	flow_close(&f);
}

/*
 * The Reno-friendly region (RFC 9438 4.3): small window, short RTT. W_cubic
 * stays below W_est = cwnd_epoch + alpha t / RTT, alpha = 3 (1 - beta) / (1 + beta)
 * until W_est reaches cwnd_prior (the cwnd at the loss), then 1 per RTT; the
 * window follows W_est.
 */
static void test_cubic_reno_friendly_region(void)
{
	struct flow f;
	struct watch w;
	if (!cubic_after_loss(&f, &w, __func__, 10 * TC_MS, 20))
		return;
	double k = cbrt((w.w_max - w.cwnd_epoch) / C_CUBIC);
	int bad = 0;
	for (int r = 0; r < 40; r++) {
		flow_round(&f);
		double t = (double)(us_stack_now(f.t.st) - w.epoch) / 1e9;
		/* W_est after the rounds so far: each round acknowledges one cwnd. */
		double est = w_est(t, (double)f.rtt_ns / 1e9, w.cwnd_epoch, w.w_max);
		double cw = cwnd_segs(&f);
		CU_ASSERT(w_cubic(t, k, w.w_max) < est);       /* the region is Reno-friendly */
		if (fabs(cw - est) > 1.0 && bad++ < 5)
			fprintf(stderr, "\nt %.3f: cwnd %.2f, W_est %.2f (W_cubic %.2f)\n", t, cw, est,
				w_cubic(t, k, w.w_max));
	}
	CU_ASSERT_EQUAL(bad, 0);
	flow_close(&f);
}

/* ---- HyStart++ (RFC 9406) ------------------------------------------------------- */

/*
 * Slow start with timestamps (an RTT sample per ACK): rounds 1 and 2 at
 * 20 ms, then rtt2 from round 3 on. Returns the window (segments) after
 * round 3 and after round 4; *exit_ack: the ACK of round 3 after which
 * the growth per ACK fell (0: none); *ssthresh_after: the round after
 * which ssthresh was set (-1: none by round 10).
 */
static void hystart_case(const char *tag, uint64_t rtt2, double *after3, double *after4,
			 int *exit_ack, double *ssthresh_after)
{
	struct flow f;
	*exit_ack = 0;
	if (!flow_open(&f, tag, "cubic", true, 20 * TC_MS))
		return;
	flow_round(&f);                 /* round 1: the IW, 10 ACKs */
	CU_ASSERT(fabs(cwnd_segs(&f) - 20) < 0.01);
	flow_round(&f);                 /* round 2: 20 ACKs */
	CU_ASSERT(fabs(cwnd_segs(&f) - 40) < 0.01);
	f.rtt_ns = rtt2;
	/* Round 3, ACK by ACK: the growth of each. */
	int n = f.o.n;
	double prev = cwnd_segs(&f);
	struct tc_parsed *segs = malloc(sizeof *segs * (size_t)n);
	memcpy(segs, f.o.seg, sizeof *segs * (size_t)n);
	f.o.n = 0;
	tc_run(&f.t, f.rtt_ns, &f.o);
	for (int i = 0; i < n; i++) {
		f.p.rcv_nxt = segs[i].seq + (uint32_t)segs[i].len;
		f.p.ts_recent = segs[i].tsval;
		tc_peer_send(&f.p, TC_ACK, NULL, 0);
		top_up(&f);
		tc_collect(&f.t, &f.o);
		double cw = cwnd_segs(&f);
		if (cw - prev < 0.99 && !*exit_ack)
			*exit_ack = i;          /* this ACK grew by less than one segment */
		prev = cw;
	}
	free(segs);
	*after3 = cwnd_segs(&f);
	for (uint32_t i = 0; i < MAXSEGS; i++)
		f.got[i] = 0;
	f.p.rcv_nxt = f.o.seg[0].seq;           /* all before round 4 arrived */
	for (uint32_t a = f.base; a != f.p.rcv_nxt; a += f.mss)
		f.got[(a - f.base) / f.mss] = 1;
	flow_round(&f);
	*after4 = cwnd_segs(&f);
	/* CSS's rounds, if it began: the round after which ssthresh is set,
	 * and whether it is the window the round before left. */
	*ssthresh_after = -1;
	double before = *after4;
	for (int r = 5; r <= 10 && *exit_ack; r++) {
		flow_round(&f);
		struct us_tcb *t = tcb_of(&f);
		if (t->ssthresh < 0x7fffffff) {
			*ssthresh_after = r;
			CU_ASSERT(fabs((double)t->ssthresh / f.mss - before) < 0.001);
			break;
		}
		before = cwnd_segs(&f);
	}
	flow_close(&f);
}

static void test_hystart_leaves_slow_start_on_rtt_increase(void)
{
	double a3, a4, ss;
	int exit_ack;
	/* +6 ms > RttThresh = max(4 ms, min(20 / 8, 16) ms) = 4 ms: CSS after the
	 * 8th sample of round 3 (N_RTT_SAMPLE), the ACK that took it still at
	 * full growth. 8 ACKs at 1 segment, 32 at a quarter. */
	hystart_case("hystart_up", 26 * TC_MS, &a3, &a4, &exit_ack, &ss);
	CU_ASSERT_EQUAL(exit_ack, 8);
	CU_ASSERT(fabs(a3 - (40 + 8 + 32 / 4.0)) < 0.01);
	if (fabs(a3 - 56) >= 0.01)
		fprintf(stderr, "\nafter round 3: cwnd %.2f, want 56\n", a3);
	/* Round 4 in CSS (no RTT below the baseline): a quarter segment per
	 * ACK, one ACK per segment round 3 let out, i.e. per segment of its
	 * window. */
	CU_ASSERT(fabs(a4 - (a3 + a3 / 4)) < 0.01);
	/* CSS_ROUNDS (5) rounds of CSS, round 3 (where CSS began) the first:
	 * the first ACK of round 8 sets ssthresh = cwnd (congestion avoidance). */
	CU_ASSERT_EQUAL(ss, 8);

	/* +3 ms is below the threshold: slow start goes on (40 -> 80). */
	hystart_case("hystart_flat", 23 * TC_MS, &a3, &a4, &exit_ack, &ss);
	CU_ASSERT_EQUAL(exit_ack, 0);
	CU_ASSERT(fabs(a3 - 80) < 0.01);
}

/* ---- F-RTO (RFC 5682 2.1) ------------------------------------------------------- */

static int data_count(const struct tc_out *o)
{
	int n = 0;
	for (int i = 0; i < o->n; i++)
		n += o->seg[i].len > 0;
	return n;
}

/*
 * A CUBIC flow at cwnd 40 (slow start, RTT 50 ms, RTO 200 ms) sends a
 * window whose ACKs are held past the RTO: the RTO retransmits the first
 * segment. Returns the window's segments (caller frees) and their count.
 */
static struct tc_parsed *window_past_rto(struct flow *f, const char *tag, int *n)
{
	*n = 0;
	if (!flow_open(f, tag, "cubic", false, 50 * TC_MS))
		return NULL;
	flow_round(f);
	flow_round(f);
	CU_ASSERT(fabs(cwnd_segs(f) - 40) < 0.01);
	*n = f->o.n;
	CU_ASSERT_EQUAL(data_count(&f->o), 40);
	struct tc_parsed *segs = malloc(sizeof *segs * (size_t)*n);
	memcpy(segs, f->o.seg, sizeof *segs * (size_t)*n);
	f->o.n = 0;
	struct us_tcb *t = tcb_of(f);
	CU_ASSERT_EQUAL(t->rto_us, 200000);
	tc_run(&f->t, 300 * TC_MS, &f->o);
	/* RFC 6298 5.4: the RTO retransmits the earliest segment, alone (cwnd 1). */
	CU_ASSERT_EQUAL(data_count(&f->o), 1);
	CU_ASSERT_EQUAL(f->o.seg[0].seq, segs[0].seq);
	CU_ASSERT_EQUAL(us_stack_stat(f->t.st, US_STAT_TCP_RTO_FIRED), 1);
	return segs;
}

/* The peer acknowledges up to the end of segs[i]. */
static void ack_through(struct flow *f, const struct tc_parsed *segs, int i)
{
	f->p.rcv_nxt = segs[i].seq + (uint32_t)segs[i].len;
	tc_peer_send(&f->p, TC_ACK, NULL, 0);
	top_up(f);
	tc_collect(&f->t, &f->o);
}

/* The segments were only delayed: their ACKs after the RTO show it spurious. */
static void test_frto_spurious_rto_restores_cwnd(void)
{
	struct flow f;
	int n;
	struct tc_parsed *segs = window_past_rto(&f, __func__, &n);
	if (!segs)
		return;
	uint32_t top = segs[n - 1].seq + (uint32_t)segs[n - 1].len;
	tc_out_clear(&f.o);
	/* First ACK (for the original first segment): new data below recover,
	 * so two new segments (step 2b), not a go-back-N retransmission. */
	ack_through(&f, segs, 0);
	CU_ASSERT_EQUAL(data_count(&f.o), 2);
	for (int i = 0; i < f.o.n; i++)
		CU_ASSERT(!seq_lt(f.o.seg[i].seq, top));
	/* Second ACK acknowledges data that was never retransmitted (3b). */
	ack_through(&f, segs, 1);
	CU_ASSERT_EQUAL(us_stack_stat(f.t.st, US_STAT_TCP_SPURIOUS_RTO), 1);
	CU_ASSERT(fabs(cwnd_segs(&f) - 40) < 0.01);             /* as before the RTO */
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	CU_ASSERT_EQUAL(us_getsockopt(f.t.st, f.fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	CU_ASSERT_EQUAL(ti.tcpi_ca_state, TCP_CA_Open);
	CU_ASSERT(ti.tcpi_snd_ssthresh >= 0xffff);              /* still unset */
	for (int i = 2; i < n; i++)
		ack_through(&f, segs, i);
	/* Slow start went on from 40: nothing of the window was sent again. */
	CU_ASSERT(cwnd_segs(&f) >= 40 + 38 - 0.01);
	int again = 0;
	for (int i = 0; i < f.o.n; i++)
		again += f.o.seg[i].len && seq_lt(f.o.seg[i].seq, top);
	CU_ASSERT_EQUAL(again, 0);
	CU_ASSERT_EQUAL(ti.tcpi_total_retrans, 1);
	free(segs);
	flow_close(&f);
}

/* The window was really lost: the new segments F-RTO sends draw duplicate ACKs (3a). */
static void test_frto_real_rto_goes_back_n(void)
{
	struct flow f;
	int n;
	struct tc_parsed *segs = window_past_rto(&f, __func__, &n);
	if (!segs)
		return;
	uint32_t top = segs[n - 1].seq + (uint32_t)segs[n - 1].len;
	tc_out_clear(&f.o);
	ack_through(&f, segs, 0);               /* the retransmission arrived */
	CU_ASSERT_EQUAL(data_count(&f.o), 2);   /* 2b: two new segments */
	CU_ASSERT(!seq_lt(f.o.seg[0].seq, top));
	tc_out_clear(&f.o);
	ack_through(&f, segs, 0);               /* they arrived above the hole: duplicate ACK */
	CU_ASSERT_EQUAL(us_stack_stat(f.t.st, US_STAT_TCP_SPURIOUS_RTO), 0);
	struct us_tcb *t = tcb_of(&f);
	CU_ASSERT(t->cwnd <= 3 * f.mss);        /* RFC 5682 3a: at most 3 SMSS */
	CU_ASSERT_EQUAL(t->ssthresh, (uint32_t)(BETA * 40 * f.mss));
	/* Go-back-N from SND.UNA: the second segment is sent again. */
	CU_ASSERT(data_count(&f.o) >= 1);
	CU_ASSERT(f.o.n > 0 && f.o.seg[0].seq == segs[1].seq);
	free(segs);
	flow_close(&f);
}

US_SUITE(tcp_cubic, NULL, NULL,
	 US_TEST(test_frto_spurious_rto_restores_cwnd),
	 US_TEST(test_frto_real_rto_goes_back_n),
	 US_TEST(test_cubic_window_follows_w_cubic),
	 US_TEST(test_cubic_fast_convergence),
	 US_TEST(test_cubic_reno_friendly_region),
	 US_TEST(test_hystart_leaves_slow_start_on_rtt_increase));
