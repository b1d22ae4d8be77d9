/*
 * tcp_info.c — TCP_INFO: one connection's state and statistics in the
 * layout of Linux's struct tcp_info (<linux/tcp.h>; glibc's
 * <netinet/tcp.h> has its first 104 bytes), for
 * us_getsockopt(fd, IPPROTO_TCP, TCP_INFO, ...) and for the second line
 * of each connection in the socket listing (sockdump.c, as `ss -ti`).
 *
 * Units and meanings follow Linux's tcp_get_info: times in microseconds
 * (rto, ato, rtt, rttvar, min_rtt) or milliseconds ago (last_*), windows
 * in segments of the send MSS (snd_cwnd, snd_ssthresh; an ssthresh not
 * yet set reads 0x7fffffff, Linux's TCP_INFINITE_SSTHRESH), states with
 * Linux's numbers (TCP_ESTABLISHED = 1 ...). Fields ustack has no
 * counterpart for stay 0 (pacing, delivery rate, busy/limited times,
 * rcv_rtt, rcv_space, fackets, ECN). A shorter optlen gets the first
 * optlen bytes, a longer one sizeof(struct tcp_info) (Linux).
 *
 * Everything runs with the socket lock held.
 */
#include <errno.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <string.h>

#include "stack.h"
#include "tcp.h"
#include "lockassert.h"

/* Linux's numbers for the states (include/net/tcp_states.h). */
static uint8_t linux_state(enum tcp_state s)
{
	static const uint8_t map[] = {
		[TCPS_CLOSED] = 7,       [TCPS_LISTEN] = 10,     [TCPS_SYN_SENT] = 2,
		[TCPS_SYN_RCVD] = 3,     [TCPS_ESTABLISHED] = 1, [TCPS_FIN_WAIT_1] = 4,
		[TCPS_FIN_WAIT_2] = 5,   [TCPS_CLOSE_WAIT] = 8,  [TCPS_CLOSING] = 11,
		[TCPS_LAST_ACK] = 9,     [TCPS_TIME_WAIT] = 6,
	};
	return (unsigned)s < sizeof map ? map[s] : 7;
}

static uint32_t ms_since(uint64_t now, uint64_t then)
{
	if (!then || then > now)
		return 0;
	uint64_t ms = (now - then) / US_NS_PER_MS;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static uint32_t segs_of(uint32_t bytes, uint32_t mss)
{
	return mss ? (bytes + mss - 1) / mss : 0;
}

/* The current RTO with its backoff, microseconds (Linux icsk_rto). */
static uint32_t rto_now(const struct us_tcb *t)
{
	uint64_t rto = t->rto_us << (t->backoff > 16 ? 16 : t->backoff);
	return rto > (uint64_t)US_TCP_RTO_MAX_MS * 1000 ? US_TCP_RTO_MAX_MS * 1000 : (uint32_t)rto;
}

static void fill(struct us_tcb *t, struct tcp_info *i)
{
	struct us_stack *st = t->sock->st;
	uint64_t now = us_now(st);
	memset(i, 0, sizeof *i);
	i->tcpi_state = linux_state(t->state);
	i->tcpi_rto = rto_now(t);
	i->tcpi_ato = st->cfg.tcp.delayed_ack_ms * 1000;
	if (t->state == TCPS_LISTEN) {
		/* Linux: the accept queue and the backlog. */
		i->tcpi_unacked = (uint32_t)t->acc_count;
		i->tcpi_sacked = (uint32_t)t->backlog;
		return;
	}
	uint32_t mss = t->mss;
	i->tcpi_ca_state = t->in_loss ? TCP_CA_Loss
			   : t->in_recovery ? TCP_CA_Recovery
			   : t->dupacks ? TCP_CA_Disorder : TCP_CA_Open;
	i->tcpi_retransmits = (uint8_t)(t->backoff > 255 ? 255 : t->backoff);
	i->tcpi_backoff = i->tcpi_retransmits;
	i->tcpi_probes = (uint8_t)(t->probes_out > 255 ? 255 : t->probes_out);
	if (t->ts_ok)
		i->tcpi_options |= TCPI_OPT_TIMESTAMPS;
	if (t->sack_ok)
		i->tcpi_options |= TCPI_OPT_SACK;
	if (t->ws_ok) {
		i->tcpi_options |= TCPI_OPT_WSCALE;
		i->tcpi_snd_wscale = t->snd_wscale & 15;
		i->tcpi_rcv_wscale = t->rcv_wscale & 15;
	}
	i->tcpi_snd_mss = mss;
	/* Linux tcp_initialize_rcv_mss: min(MSS, 536) until a larger segment comes. */
	uint32_t rcv_mss = mss && mss < 536 ? mss : 536;
	i->tcpi_rcv_mss = t->stats.rcv_mss > rcv_mss ? t->stats.rcv_mss : rcv_mss;
	uint32_t flight = t->snd_max - t->snd_una;
	i->tcpi_unacked = segs_of(flight, mss);
	/* Without a SACK scoreboard, as Linux marks them: after an RTO every
	 * segment below recover (tcp_enter_loss), in NewReno recovery the
	 * one at SND.UNA (tcp_newreno_mark_lost). */
	if (t->in_loss)
		i->tcpi_lost = segs_of(t->recover - t->snd_una, mss);
	else if (t->sack_recovery)
		i->tcpi_lost = segs_of(tcp_sb_lost_bytes(t), mss);     /* RFC 6675 IsLost */
	else if (t->in_recovery)
		i->tcpi_lost = flight ? 1 : 0;
	i->tcpi_sacked = segs_of(t->sb_sacked, mss);    /* the sender's scoreboard (tcp_recovery.c) */
	i->tcpi_last_data_sent = ms_since(now, t->last_send);
	i->tcpi_last_data_recv = ms_since(now, t->lrcvtime);
	i->tcpi_last_ack_recv = ms_since(now, t->stats.last_ack_recv);
	i->tcpi_pmtu = mss ? mss + IP4_HLEN + TCP_HLEN + (t->ts_ok ? 12 : 0) : 0;
	i->tcpi_rtt = (uint32_t)t->srtt_us;
	i->tcpi_rttvar = (uint32_t)t->rttvar_us;
	i->tcpi_snd_ssthresh = t->ssthresh >= 0x7fffffff ? 0x7fffffff : mss ? t->ssthresh / mss : 0;
	i->tcpi_snd_cwnd = mss ? t->cwnd / mss : 0;
	i->tcpi_advmss = mss;
	i->tcpi_reordering = t->reordering;
	i->tcpi_total_retrans = t->stats.total_retrans;
	i->tcpi_bytes_acked = t->stats.bytes_acked;
	i->tcpi_bytes_received = t->stats.bytes_received;
	i->tcpi_segs_out = t->stats.segs_out;
	i->tcpi_segs_in = t->stats.segs_in;
	uint32_t unsent = t->sndq.len > flight ? t->sndq.len - flight : 0;
	i->tcpi_notsent_bytes = unsent;
	i->tcpi_min_rtt = t->min_rtt_us ? t->min_rtt_us : UINT32_MAX;     /* Linux: ~0U unknown */
	i->tcpi_data_segs_in = t->stats.data_segs_in;
	i->tcpi_data_segs_out = t->stats.data_segs_out;
	i->tcpi_bytes_sent = t->stats.bytes_sent;
	i->tcpi_bytes_retrans = t->stats.bytes_retrans;
	i->tcpi_snd_wnd = t->snd_wnd;
}

int tcp_info_get(struct us_tcb *t, void *val, socklen_t *len)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct tcp_info i;
	fill(t, &i);
	/* Linux do_tcp_getsockopt: len = min(len, sizeof info), copy that much. */
	socklen_t n = *len < (socklen_t)sizeof i ? *len : (socklen_t)sizeof i;
	if (n && !val)
		return -EFAULT;
	memcpy(val, &i, n);
	*len = n;
	return 0;
}

void tcp_info_format(struct us_tcb *t, char *buf, size_t len)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct tcp_info i;
	size_t at = 0;
	fill(t, &i);
	if (len)
		buf[0] = 0;
	wire_bprintf(buf, len, &at, "\t %s", t->cc->name);
	if (i.tcpi_options & TCPI_OPT_WSCALE)
		wire_bprintf(buf, len, &at, " wscale:%u,%u", i.tcpi_snd_wscale, i.tcpi_rcv_wscale);
	wire_bprintf(buf, len, &at, " rto:%g rtt:%g/%g mss:%u rcvmss:%u cwnd:%u", i.tcpi_rto / 1000.0,
	    i.tcpi_rtt / 1000.0, i.tcpi_rttvar / 1000.0, i.tcpi_snd_mss, i.tcpi_rcv_mss,
	    i.tcpi_snd_cwnd);
	if (i.tcpi_snd_ssthresh < 0xffff)       /* as ss: not while unset */
		wire_bprintf(buf, len, &at, " ssthresh:%u", i.tcpi_snd_ssthresh);
	if (i.tcpi_backoff)
		wire_bprintf(buf, len, &at, " backoff:%u", i.tcpi_backoff);
	wire_bprintf(buf, len, &at,
	    " bytes_sent:%llu bytes_retrans:%llu bytes_acked:%llu bytes_received:%llu"
	    " segs_out:%u segs_in:%u retrans:%u/%u lost:%u sacked:%u reordering:%u",
	    (unsigned long long)i.tcpi_bytes_sent, (unsigned long long)i.tcpi_bytes_retrans,
	    (unsigned long long)i.tcpi_bytes_acked, (unsigned long long)i.tcpi_bytes_received,
	    i.tcpi_segs_out, i.tcpi_segs_in, i.tcpi_retrans, i.tcpi_total_retrans, i.tcpi_lost,
	    i.tcpi_sacked, i.tcpi_reordering);
}
