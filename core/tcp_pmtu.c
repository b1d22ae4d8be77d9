/*
 * tcp_pmtu.c — path MTU discovery for TCP (RFC 1191; Linux tcp_v4_err ->
 * tcp_v4_mtu_reduced).
 *
 * Every segment we send has DF set. A router that cannot forward one
 * answers "fragmentation needed" with its next hop's MTU. When the
 * segment it quotes is ours and in flight (the same RFC 5927 4.1 check
 * as for other ICMP errors: SND.UNA <= SEG.SEQ < SND.MAX, else counted in
 * tcp_icmp_out_of_window and ignored), the destination's path MTU is
 * lowered in the IPv4 cache (ipv4.c, 10 minutes), the connection's MSS is
 * recomputed from it (tcp_set_mss: the send MSS takes the path MTU, the
 * MSS we announce keeps the interface's, as Linux), and everything
 * unacknowledged is sent again at once in segments of the new size: the
 * segments in flight were all too big, so this is go-back-N from SND.UNA
 * without an RTO and without touching the congestion window (Linux's
 * tcp_simple_retransmit does not either). A report that is not a decrease
 * changes nothing (RFC 1191 6.1). A router that leaves the MTU field 0
 * (RFC 1191 5, pre-RFC 1191 routers) gets the plateau below the quoted
 * datagram's length (RFC 1191 7, table 7-1).
 *
 * Not done: raising the MSS of an existing connection when the cached
 * value expires (new connections get the interface MTU again), and
 * RFC 4821 / 8899 probing.
 */
#include <arpa/inet.h>

#include "stack.h"
#include "tcp.h"
#include "lockassert.h"

void us_tcp_pmtu(struct us_stack *st, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 uint32_t seq, uint32_t mtu, uint32_t quoted_len)
{
	struct us_sock *s = tcp_lookup(st, src, sport, dst, dport);
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	struct us_tcb *t = s->tcb;
	if (!t || t->state == TCPS_LISTEN || t->state == TCPS_CLOSED || t->laddr != src ||
	    t->raddr != dst)
		goto out;
	if (seq_lt(seq, t->snd_una) || seq_ge(seq, t->snd_max)) {
		US_STAT_INC(st, TCP_ICMP_OUT_OF_WINDOW);
		goto out;
	}
	if (us_ipv4_pmtu_learn(st, dst, mtu, quoted_len) == 0)
		goto out;       /* not lower than what we use already */
	US_STAT_INC(st, TCP_PMTU_REDUCED);
	uint16_t old = t->mss;
	tcp_set_mss(t);
	if (t->mss >= old)
		goto out;
	if (t->state == TCPS_SYN_SENT || t->state == TCPS_SYN_RCVD)
		goto out;       /* the SYN was small: the MSS applies from now on */
	/* Resegment and retransmit what is in flight, now (Karn: no RTT
	 * sample from it). */
	if (seq_lt(t->snd_una, t->snd_nxt) || seq_lt(t->snd_una, t->snd_max)) {
		t->snd_nxt = t->snd_una;
		t->rtt_timing = false;
		tcp_output(t);
	}
out:
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
}
