/*
 * tcp_cc.c — the congestion-control interface and NewReno.
 *
 * The core (tcp_input.c) owns loss detection and recovery: three
 * duplicate ACKs start fast retransmit and NewReno fast recovery (RFC
 * 6582: partial ACKs retransmit the next hole, a full ACK ends recovery
 * with cwnd = ssthresh), an RTO collapses cwnd to one segment. An
 * algorithm (struct us_tcp_cc_ops) says how cwnd grows and what ssthresh
 * becomes on loss; adding one means a new table here and its name in
 * us_tcp_cc_find, nothing else.
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

static const struct us_tcp_cc_ops *const algorithms[] = { &us_tcp_newreno };

const struct us_tcp_cc_ops *us_tcp_cc_find(const char *name)
{
	if (!name || !name[0])
		return &us_tcp_newreno;
	for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
		if (strcmp(algorithms[i]->name, name) == 0)
			return algorithms[i];
	return NULL;
}
