/*
 * tcp_cc.c — the congestion-control interface and NewReno.
 *
 * The core (tcp_input.c) owns loss detection and recovery: three
 * duplicate ACKs start fast retransmit and NewReno fast recovery (RFC
 * 6582: partial ACKs retransmit the next hole, a full ACK ends recovery
 * with cwnd = ssthresh), an RTO collapses cwnd to one segment. An
 * algorithm (struct us_tcp_cc_ops) says how cwnd grows and what ssthresh
 * becomes on loss, and may follow RTT samples, RTOs, restarts after idle
 * and undo a spurious reduction (optional hooks); its own state lives in
 * the TCB's cc_priv. Adding one means a new table (tcp_cubic.c is one)
 * and its entry in algorithms[] below and in config.c's
 * cfg_congestion_names, nothing else.
 *
 * NewReno (RFC 5681): slow start adds min(acked, SMSS) per ACK (appropriate
 * byte counting with L = 1 SMSS, RFC 3465); congestion avoidance adds
 * SMSS once per cwnd of bytes acked; ssthresh on loss is
 * max(FlightSize / 2, 2 * SMSS) (eq. 4). Initial window: 10 segments
 * (RFC 6928).
 */
#include <string.h>

#include "tcp.h"

static void newreno_init(struct us_tcb *t)
{
	uint32_t iw = 10 * (uint32_t)t->mss;    /* RFC 6928: min(10*MSS, max(2*MSS, 14600)) */
	uint32_t cap = 2 * (uint32_t)t->mss > 14600 ? 2 * (uint32_t)t->mss : 14600;
	t->cwnd = iw < cap ? iw : cap;
	t->ssthresh = 0x7fffffff;
	t->bytes_acked = 0;
}

static void newreno_cong_avoid(struct us_tcb *t, uint32_t acked)
{
	if (t->cwnd < t->ssthresh) {
		t->cwnd += acked < t->mss ? acked : t->mss;
		return;
	}
	t->bytes_acked += acked;
	if (t->bytes_acked >= t->cwnd) {
		t->bytes_acked -= t->cwnd;
		t->cwnd += t->mss;
	}
}

static uint32_t newreno_ssthresh(struct us_tcb *t)
{
	uint32_t flight = tcp_flight_size(t);
	uint32_t half = flight / 2;
	return half > 2u * t->mss ? half : 2u * t->mss;
}

const struct us_tcp_cc_ops us_tcp_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.cong_avoid = newreno_cong_avoid,
	.ssthresh = newreno_ssthresh,
};

/* The first is the default (tcp.congestion's default too, config.c). */
static const struct us_tcp_cc_ops *const algorithms[] = { &us_tcp_cubic, &us_tcp_newreno };

void tcp_cc_init(struct us_tcb *t)
{
	memset(t->cc_priv, 0, sizeof t->cc_priv);
	t->cc->init(t);
}

void tcp_cc_set(struct us_tcb *t, const struct us_tcp_cc_ops *cc)
{
	if (cc == t->cc)
		return;
	uint32_t cwnd = t->cwnd, ssthresh = t->ssthresh;
	t->cc = cc;
	tcp_cc_init(t);
	if (cwnd) {             /* a live connection keeps its window (Linux) */
		t->cwnd = cwnd;
		t->ssthresh = ssthresh;
	}
}

/*
 * Linux names NewReno "reno" (net/ipv4/tcp_cong.c, iperf3 -C reno): the
 * name is accepted and means us_tcp_newreno, whose name getsockopt returns.
 */
const struct us_tcp_cc_ops *us_tcp_cc_find(const char *name)
{
	if (!name || !name[0])
		return algorithms[0];
	if (strcmp(name, "reno") == 0)
		return &us_tcp_newreno;
	for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
		if (strcmp(algorithms[i]->name, name) == 0)
			return algorithms[i];
	return NULL;
}
