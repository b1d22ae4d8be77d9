/*
 * tcp_output.c — what TCP sends: segmentation to the MSS, Nagle (RFC 896,
 * RFC 1122 4.2.3.4), sender and receiver silly-window avoidance (RFC 9293
 * 3.8.6.2), the window we advertise, FIN, SYN/SYN-ACK with options, ACKs
 * and RSTs. Every function runs with the socket lock held; segments go
 * straight to us_ipv4_sendv, which copies the header and the data (from
 * the send ring, in at most two pieces) into one pool buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "wire/checksum.h"
#include "lockassert.h"

uint32_t tcp_ts_now(struct us_stack *st)
{
	return (uint32_t)(us_now(st) / US_NS_PER_MS);   /* a 1 ms timestamp clock, like Linux */
}

/* The largest segment payload the route to raddr carries (MTU - 40). */
static uint32_t route_mss_to(struct us_stack *st, uint32_t raddr)
{
	int ifi;
	uint32_t nh, src, mtu = US_DEFAULT_MTU;
	if (us_ipv4_route(st, raddr, &ifi, &nh, &src) == 0)
		mtu = st->ifs[ifi].mtu;
	return mtu - IP4_HLEN - TCP_HLEN;
}

/* The send MSS's bound: the path MTU learnt by RFC 1191 (ipv4.c's cache)
 * where it is lower than the route's; what we announce keeps the route's. */
static uint32_t route_mss(struct us_tcb *t)
{
	struct us_stack *st = t->sock->st;
	int ifi;
	uint32_t nh, src;
	if (us_ipv4_route(st, t->raddr, &ifi, &nh, &src) < 0)
		return route_mss_to(st, t->raddr);
	return us_ipv4_path_mtu(st, t->raddr, st->ifs[ifi].mtu) - IP4_HLEN - TCP_HLEN;
}

void tcp_set_mss(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	uint32_t m = route_mss(t);
	if (t->peer_mss && t->peer_mss < m)
		m = t->peer_mss;
	if (t->user_mss && t->user_mss < m)
		m = t->user_mss;
	if (t->ts_ok)
		m -= 12;        /* every segment carries the timestamp option */
	if (m < US_TCP_MIN_MSS - 12)
		m = US_TCP_MIN_MSS - 12;
	t->mss = (uint16_t)m;
	t->gso_max = us_ipv4_gso_max(t->sock->st, t->raddr);
}

/*
 * TSO autosizing (Linux tcp_tso_autosize): on an interface that segments
 * (t->gso_max), one segment may carry several MSS: about 1 ms of data at
 * the current rate (cwnd per smoothed RTT), at least 2 MSS, at most what
 * one IP packet holds; a whole number of MSS. Elsewhere: one MSS.
 */
static uint32_t tso_goal(const struct us_tcb *t, size_t hl)
{
	if (!t->gso_max)
		return t->mss;
	uint32_t cap = t->gso_max - IP4_HLEN - (uint32_t)hl;
	uint64_t bytes = t->srtt_us > 1000 ? (uint64_t)t->cwnd * 1000 / (uint64_t)t->srtt_us
					   : t->cwnd;
	if (bytes > cap)
		bytes = cap;
	uint32_t segs = (uint32_t)(bytes / t->mss);
	if (segs < 2)
		segs = 2;
	if (segs > cap / t->mss)
		segs = cap / t->mss;
	return segs * t->mss;
}

/* The MSS we announce: what the route's MTU allows (RFC 9293 3.7.1). */
static uint16_t adv_mss_to(struct us_stack *st, uint32_t raddr, uint16_t user_mss)
{
	uint32_t m = route_mss_to(st, raddr);
	if (st->cfg.tcp.mss && st->cfg.tcp.mss < m)
		m = st->cfg.tcp.mss;
	if (user_mss && user_mss < m)
		m = user_mss;
	return (uint16_t)m;
}

static uint16_t adv_mss(struct us_tcb *t)
{
	return adv_mss_to(t->sock->st, t->raddr, t->user_mss);
}

/*
 * The SYN-ACK of a listener whose SYN queue is full: its ISN is a SYN
 * cookie and nothing is kept (tcp_syncookie.c). It offers what a child
 * of this listener would (MSS, and window scaling and SACK-permitted only
 * with timestamps, which carry the peer's shift and SACK back), the window of an empty receive
 * buffer, and leaves like the child's SYN-ACK would (DF, the listener's TTL).
 */
void tcp_send_cookie_synack(struct us_sock *ls, const struct wire_ip4 *ip, const struct wire_tcp *g)
{
	US_ASSERT_LOCKED(&ls->lock);
	struct us_stack *st = ls->st;
	const struct us_tcp_config *c = &st->cfg.tcp;
	struct us_tcb *lt = ls->tcb;
	struct tcp_cookie_tuple ct = { .laddr = ip->dst, .raddr = ip->src, .lport = htons(g->dport),
				       .rport = htons(g->sport) };
	uint16_t peer_mss = g->opt.has_mss ? g->opt.mss : 536;
	if (lt->user_mss && lt->user_mss < peer_mss)
		peer_mss = lt->user_mss;        /* Linux tcp_mss_clamp */
	uint16_t mss;
	uint32_t iss = tcp_syncookie_isn(st, &ct, g->seq, peer_mss, &mss);
	struct wire_tcp_opts o = { .has_mss = true, .mss = adv_mss_to(st, ip->src, lt->user_mss) };
	if (c->timestamps && g->opt.has_ts) {
		bool ws = c->window_scaling && g->opt.has_wscale;
		/* SACK too rides on the timestamp (Linux clears every option
		 * of a cookie SYN-ACK when the SYN had no timestamps). */
		o.sack_ok = c->sack && g->opt.sack_ok;
		o.has_ts = true;
		o.tsval = tcp_syncookie_tsval(tcp_ts_now(st), ws,
					      g->opt.wscale > 14 ? 14 : g->opt.wscale, o.sack_ok);
		o.tsecr = g->opt.tsval;
		if (ws) {
			o.has_wscale = true;
			o.wscale = tcp_wscale_for(lt->rcvq.cap);
		}
	}
	uint16_t win = lt->rcvq.cap > 65535 ? 65535 : (uint16_t)lt->rcvq.cap;
	uint8_t h[TCP_MAX_HLEN];
	size_t hl = wire_tcp_build(h, g->dport, g->sport, iss, g->seq + 1, TCP_SYN | TCP_ACK, win, &o);
	uint64_t sum = wire_csum_pseudo(ip->dst, ip->src, IP_PROTO_TCP, (uint16_t)hl);
	wire_tcp_set_csum(h, wire_csum_fold(wire_csum_add(sum, h, hl)));
	struct us_ip_tx tx = { .src = ip->dst, .dst = ip->src, .proto = IP_PROTO_TCP, .ttl = ls->ttl,
			       .df = true, .ifindex = -1 };
	if (us_ipv4_send(st, &tx, h, hl, NULL, 0) == 0) {
		US_STAT_INC(st, TCP_TX_SEGS);
		US_STAT_INC(st, TCP_SYNCOOKIES_SENT);
	}
}

/*
 * A SYN-ACK from a SYN cache entry (tcp_syncache.c): the options a child's
 * SYN-ACK would carry (MSS for the route, SACK-permitted, window scale,
 * timestamps as negotiated), DF and the listener's TTL; with flags ACK
 * only, the bare ACK of a challenge (timestamps only).
 */
void tcp_send_synack_to(struct us_stack *st, const struct tcp_synack *a)
{
	bool syn = a->flags & TCP_SYN;
	struct wire_tcp_opts o = { 0 };
	if (syn) {
		o.has_mss = true;
		o.mss = adv_mss_to(st, a->raddr, a->user_mss);
		o.sack_ok = a->sack_ok;
		if (a->ws_ok) {
			o.has_wscale = true;
			o.wscale = a->wscale;
		}
	}
	if (a->ts_ok) {
		o.has_ts = true;
		o.tsval = tcp_ts_now(st);
		o.tsecr = a->tsecr;
	}
	uint8_t h[TCP_MAX_HLEN];
	size_t hl = wire_tcp_build(h, ntohs(a->lport), ntohs(a->rport), a->seq, a->ack, a->flags,
				   syn || !a->ws_ok ? a->win : (uint16_t)(a->win >> a->wscale), &o);
	uint64_t sum = wire_csum_pseudo(a->laddr, a->raddr, IP_PROTO_TCP, (uint16_t)hl);
	wire_tcp_set_csum(h, wire_csum_fold(wire_csum_add(sum, h, hl)));
	struct us_ip_tx tx = { .src = a->laddr, .dst = a->raddr, .proto = IP_PROTO_TCP,
			       .ttl = a->ttl, .df = true, .ifindex = -1 };
	if (us_ipv4_send(st, &tx, h, hl, NULL, 0) == 0)
		US_STAT_INC(st, TCP_TX_SEGS);
}

/*
 * Receive window, in bytes from rcv_nxt. Free space in the receive ring;
 * not opened by less than min(buffer/2, MSS) at a time (receiver SWS
 * avoidance), and never shrunk below what was already advertised.
 */
uint32_t tcp_rcv_window(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	uint32_t free = ring_free(&t->rcvq);
	uint32_t maxwin = 65535u << t->rcv_wscale;
	uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t step = t->rcvq.cap / 2 < t->mss ? t->rcvq.cap / 2 : t->mss;
	/* RFC 9293 3.8.6.2.2 measures the opening against the buffer's free
	 * space (RCV.BUFF - RCV.USER - RCV.WND), before the field's limit caps
	 * the window: a buffer larger than maxwin always reopens it fully. */
	if (free < cur + step && free > cur)
		free = cur;     /* too small an opening: keep the old edge */
	if (free > maxwin)
		free = maxwin;
	if (free < cur)
		free = cur;     /* never shrink (RFC 9293 3.8.6.2.2) */
	/* Round down to what the scaled field can say exactly, unless that
	 * would pull the right edge back (RFC 7323 appendix F): then round up,
	 * as Linux does (tcp_select_window). The window may then pass the ring
	 * by under 2^wscale bytes; input never writes past it (the peer
	 * resends what was cut). */
	uint32_t unit = (1u << t->rcv_wscale) - 1;
	uint32_t win = free & ~unit;
	if (win < cur)
		win = (cur + unit) & ~unit;
	return win;
}

void tcp_send_rst_to(struct us_stack *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
		     uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t h[TCP_HLEN];
	size_t hl = wire_tcp_build(h, ntohs(lport), ntohs(rport), seq, ack, flags, 0, NULL);
	uint64_t sum = wire_csum_pseudo(laddr, raddr, IP_PROTO_TCP, (uint16_t)hl);
	wire_tcp_set_csum(h, wire_csum_fold(wire_csum_add(sum, h, hl)));
	struct us_ip_tx tx = { .src = laddr, .dst = raddr, .proto = IP_PROTO_TCP, .ifindex = -1 };
	if (us_ipv4_send(st, &tx, h, hl, NULL, 0) == 0) {
		US_STAT_INC(st, TCP_TX_SEGS);
		US_STAT_INC(st, TCP_TX_RST);
	}
}

void tcp_send_rst(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	/* snd_max, not snd_nxt: after an RTO snd_nxt is rewound, and the peer
	 * only accepts an RST at the sequence it expects next (RFC 5961 3.2).
	 * It leaves like the connection's other segments (Linux
	 * tcp_send_active_reset): with the timestamp option when timestamps
	 * are in use (RFC 7323 3.2), DF and the socket's TTL. */
	tcp_send_segment(t, t->snd_max, 0, TCP_RST | TCP_ACK);
}

/*
 * Send one segment: seq, len bytes of queued data from seq on, flags.
 * SYN segments carry MSS, window scale and timestamps as negotiated;
 * others carry the timestamp when in use. Returns 0 or -errno.
 */
int tcp_send_segment(struct us_tcb *t, uint32_t seq, uint32_t len, uint8_t flags)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_sock *s = t->sock;
	struct us_stack *st = s->st;
	struct wire_tcp_opts o = { 0 };
	uint8_t h[TCP_MAX_HLEN];
	bool syn = flags & TCP_SYN;
	if (syn) {
		o.has_mss = true;
		o.mss = adv_mss(t);
		o.sack_ok = t->sack_ok;
		if (t->ws_ok) {
			o.has_wscale = true;
			o.wscale = t->rcv_wscale;
		}
	}
	if (t->ts_ok) {
		o.has_ts = true;
		o.tsval = tcp_ts_now(st);
		o.tsecr = (flags & TCP_ACK) ? t->ts_recent : 0;
	}
	if (!syn && (flags & (TCP_ACK | TCP_RST)) == TCP_ACK && t->sack_ok) {
		/* SACK blocks (tcp_sack.c): 3 fit beside timestamps, 4 without
		 * (RFC 2018 3). A data segment carries only what fits in the
		 * MSS beside its payload: it never grows past the route's MTU. */
		unsigned max = t->ts_ok ? 3 : 4;
		if (len) {
			uint32_t room = t->mss > len ? t->mss - len : 0;
			uint32_t fit = room >= 12 ? (room - 4) / 8 : 0;
			if (fit < max)
				max = fit;
		}
		if (max)
			tcp_sack_fill(t, &o, max);
	}
	uint32_t win = 0;
	if (!(flags & TCP_RST)) {
		win = tcp_rcv_window(t);
		if (syn)
			win = win > 65535 ? 65535 : win;   /* never scaled in a SYN (RFC 7323 2.2) */
	}
	uint16_t wfield = (uint16_t)(syn ? win : (win >> t->rcv_wscale) > 65535 ? 65535
							: win >> t->rcv_wscale);
	uint32_t ack = (flags & TCP_ACK) ? t->rcv_nxt : 0;
	size_t hl = wire_tcp_build(h, ntohs(t->lport), ntohs(t->rport), seq, ack, flags, wfield, &o);

	struct iovec iov[3] = { { h, hl } };
	int n = 1;
	if (len) {
		uint32_t off = seq - t->snd_una;
		uint32_t pos = (t->sndq.head + off) % t->sndq.size;
		uint32_t first = t->sndq.size - pos < len ? t->sndq.size - pos : len;
		iov[n++] = (struct iovec){ t->sndq.buf + pos, first };
		if (len > first)
			iov[n++] = (struct iovec){ t->sndq.buf, len - first };
	}
	/* The checksum is IP output's (left to the device where it can, else
	 * computed as the segment is copied); a segment above the MSS (only
	 * built for an interface that segments, tso_goal) is cut into MSS
	 * pieces by the device, or in software if it cannot now. */
	struct us_ip_tx tx = { .src = t->laddr, .dst = t->raddr, .proto = IP_PROTO_TCP,
			       .ttl = s->ttl, .df = true, .ifindex = -1, .dc = &t->dst, .csum_off = 16,
			       .gso_size = len > t->mss ? t->mss : 0 };
	int rc = us_ipv4_sendv(st, &tx, iov, n);
	if (!syn && !(flags & TCP_RST) && (len || (flags & TCP_FIN)))
		tcp_rack_sent(t, seq, len + !!(flags & TCP_FIN), seq_lt(seq, t->snd_max));
	if (flags & TCP_ACK) {
		/* Whatever happened to the frame, the ACK state is now current. */
		t->last_ack_sent = ack;
		t->rcv_adv = t->rcv_nxt + win;
		t->segs_unacked = 0;
		t->ack_now = false;
		tcp_timer_clear(t, TT_DELACK);
		if (t->quick)
			t->quick--;     /* Linux tcp_dec_quickack_mode */
		/* Data sent soon after data received: an interactive exchange,
		 * where delayed ACKs ride on the replies (Linux
		 * tcp_event_data_sent entering pingpong mode). */
		if (len && t->got_data &&
		    us_now(st) - t->lrcvtime < (uint64_t)st->cfg.tcp.delayed_ack_ms * US_NS_PER_MS)
			t->pingpong = true;
	}
	if (rc == 0) {
		US_STAT_INC(st, TCP_TX_SEGS);
		t->stats.segs_out++;
		if (len) {
			t->stats.data_segs_out++;
			t->stats.bytes_sent += len;
		}
		/* Below snd_max: sent before (a SYN or FIN counts too). */
		if ((len || (flags & (TCP_SYN | TCP_FIN))) && seq_lt(seq, t->snd_max)) {
			t->stats.total_retrans += len > t->mss ? (len + t->mss - 1) / t->mss : 1;
			t->stats.bytes_retrans += len;
		}
		if (flags & TCP_RST)
			US_STAT_INC(st, TCP_TX_RST);
		if (len)
			t->last_send = us_now(st);
	}
	return rc;
}

/*
 * A bare ACK carries snd_max, not snd_nxt (4.4BSD tcp_output; Linux never
 * moves snd_nxt back): after an RTO snd_nxt goes back to snd_una, and a
 * peer that already holds that data finds the old sequence number
 * unacceptable (RFC 9293 3.10.7.4) and drops the segment, ACK and all.
 * When both sides retransmit at once, neither would ever see the other's
 * ACKs again.
 */
void tcp_send_ack(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	tcp_send_segment(t, t->snd_max, 0, TCP_ACK);
}

void tcp_send_syn(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	uint8_t flags = TCP_SYN | (t->state == TCPS_SYN_RCVD ? TCP_ACK : 0);
	if (t->snd_max == t->iss)       /* the first SYN: no echo can be older */
		t->ts_first = tcp_ts_now(t->sock->st);
	tcp_send_segment(t, t->iss, 0, flags);
	t->snd_nxt = t->iss + 1;
	if (seq_gt(t->snd_nxt, t->snd_max))
		t->snd_max = t->snd_nxt;
	if (!t->deadline[TT_REXMIT])
		tcp_rexmit_restart(t);
}

static bool can_send_data(enum tcp_state s)
{
	return s == TCPS_ESTABLISHED || s == TCPS_CLOSE_WAIT || s == TCPS_FIN_WAIT_1 ||
	       s == TCPS_CLOSING || s == TCPS_LAST_ACK;
}

/*
 * Send len bytes (and the FIN if fin) at snd_nxt and move snd_nxt and
 * snd_max on: what tcp_output's loop and tcp_send_new share.
 */
static void xmit_next(struct us_tcb *t, uint32_t len, bool fin, uint64_t now)
{
	struct us_stack *st = t->sock->st;
	uint32_t off = t->snd_nxt - t->snd_una;
	uint8_t flags = TCP_ACK;
	if (len && off + len == t->sndq.len)
		flags |= TCP_PSH;
	if (fin)
		flags |= TCP_FIN;
	bool rexmit = seq_lt(t->snd_nxt, t->snd_max);
	if (!rexmit && t->snd_una == t->snd_max)
		t->una_stamp = now;     /* TCP_USER_TIMEOUT counts from here */
	tcp_send_segment(t, t->snd_nxt, len, flags);
	if (rexmit)
		US_STAT_INC(st, TCP_RETRANS_SEGS);
	if (!t->rtt_timing && len && !rexmit) {
		t->rtt_timing = true;
		t->rtt_seq = t->snd_nxt + len;
		t->rtt_start = now;
	}
	t->snd_nxt += len;
	if (fin) {
		t->fin_sent = true;
		t->fin_seq = t->snd_nxt;
		t->snd_nxt++;
	}
	if (seq_gt(t->snd_nxt, t->snd_max))
		t->snd_max = t->snd_nxt;
	if (!t->deadline[TT_REXMIT])
		tcp_rexmit_restart(t);
}

/* Limited transmit took the flight from before to after (bytes): count
 * what lies beyond cwnd (tcp_flight_size). */
static void lt_note(struct us_tcb *t, uint32_t before, uint32_t after)
{
	uint32_t b = before > t->cwnd ? before - t->cwnd : 0;
	uint32_t a = after > t->cwnd ? after - t->cwnd : 0;
	t->lt_bytes += a - b;
	US_STAT_INC(t->sock->st, TCP_LIMITED_TRANSMIT);
}

uint32_t tcp_send_new(struct us_tcb *t, uint32_t max)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!can_send_data(t->state) || t->snd_nxt != t->snd_max ||
	    (t->fin_sent && seq_gt(t->snd_nxt, t->fin_seq)))
		return 0;
	uint32_t off = t->snd_nxt - t->snd_una;
	uint32_t avail = t->sndq.len > off ? t->sndq.len - off : 0;
	uint32_t room = t->snd_wnd > off ? t->snd_wnd - off : 0;
	uint32_t len = avail < t->mss ? avail : t->mss;
	if (len > max)
		len = max;
	if (len > room)
		len = room;
	/* A short segment only as the last of the data with TCP_NODELAY or
	 * a FIN queued: something is always in flight here (Nagle). */
	if (len < t->mss && !(len == avail && (t->nodelay || t->fin_queued)))
		len = 0;
	bool fin = t->fin_queued && len == avail;
	if (len == 0 && !fin)
		return 0;
	xmit_next(t, len, fin, us_now(t->sock->st));
	if (!t->in_recovery && t->dupacks > 0 && off + len + fin > t->cwnd)
		lt_note(t, off, off + len + fin);       /* RFC 6675 5 step 3 */
	return len + fin;
}

void tcp_output(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	if (t->state == TCPS_SYN_SENT || t->state == TCPS_SYN_RCVD) {
		if (t->snd_nxt == t->iss)
			tcp_send_syn(t);
		return;
	}
	if (!can_send_data(t->state)) {
		if (t->ack_now)
			tcp_send_ack(t);
		return;
	}
	uint64_t now = us_now(st);
	/* RFC 5681 4.1: restart from the initial window after an idle RTO. */
	if (t->snd_una == t->snd_max && t->last_send &&
	    now - t->last_send > t->rto_us * 1000) {
		uint32_t iw = 10 * (uint32_t)t->mss;
		if (t->cwnd > iw)
			t->cwnd = iw;
		if (t->cc->event)
			t->cc->event(t, TCP_CC_IDLE_RESTART);
	}
	/* SACK scoreboard in use (RFC 6675): pipe and NextSeg decide. */
	if (tcp_recovery_output(t))
		goto out;
	uint32_t data_end = t->snd_una + t->sndq.len;
	uint32_t goal = tso_goal(t, TCP_HLEN + (t->ts_ok ? 12 : 0));
	for (;;) {
		uint32_t off = t->snd_nxt - t->snd_una;
		if (t->fin_sent && seq_gt(t->snd_nxt, t->fin_seq))
			break;  /* everything, FIN included, is out */
		uint32_t avail = t->sndq.len > off ? t->sndq.len - off : 0;
		/* Limited transmit (RFC 3042) without SACK: the first and second
		 * duplicate ACK each let one more segment beyond cwnd go. */
		uint32_t cwnd = t->cwnd;
		if (!t->in_recovery && t->dupacks > 0 && t->dupacks < US_TCP_REORDERING)
			cwnd += (uint32_t)t->dupacks * t->mss;
		uint32_t wnd = t->snd_wnd < cwnd ? t->snd_wnd : cwnd;
		uint32_t inflight = t->snd_nxt - t->snd_una;
		uint32_t usable = wnd > inflight ? wnd - inflight : 0;
		uint32_t len = avail;
		if (len > goal)
			len = goal;
		if (len > usable)
			len = usable;
		if (len > t->mss && len % t->mss) {
			/* A large segment ends on a whole MSS unless its short tail
			 * could go alone now (Nagle as below; Linux
			 * tcp_mss_split_point). */
			bool tail_ok = len == avail && (t->nodelay || inflight == 0 || t->fin_queued);
			if (!tail_ok)
				len -= len % t->mss;
		}
		if (len && len < t->mss) {
			/* Nagle and sender SWS: a short segment goes only if it is
			 * all we have and nothing is unacknowledged (or TCP_NODELAY),
			 * or it fills half the largest window the peer offered. */
			bool all = len == avail;
			bool ok = (all && (t->nodelay || inflight == 0 || t->fin_queued)) ||
				  len >= t->max_sndwnd / 2;
			if (!ok)
				len = 0;
		}
		bool fin = t->fin_queued && t->snd_nxt + len == data_end &&
			   (len > 0 || avail == 0);
		if (len == 0 && !fin)
			break;
		xmit_next(t, len, fin, now);
		if (cwnd != t->cwnd && inflight + len > t->cwnd)   /* limited transmit */
			lt_note(t, inflight, inflight + len + fin);
		if (fin)
			break;
	}
out:
	if (t->ack_now)
		tcp_send_ack(t);
	/* Data waiting, nothing in flight to bring an ACK: the window is closed,
	 * or too small for SWS avoidance. The persist timer probes it, or sends
	 * what fits (tcp_timer.c on_persist); a lost window update cannot
	 * stall the connection then. */
	uint32_t off = t->snd_nxt - t->snd_una;
	if (t->sndq.len > off && t->snd_nxt == t->snd_una &&
	    !t->deadline[TT_REXMIT] && !t->deadline[TT_PERSIST]) {
		t->persist_backoff = 0;
		tcp_timer_set(t, TT_PERSIST, now + t->rto_us * 1000);
	}
	tcp_loss_timer_arm(t);          /* RACK's reordering timer or TLP's PTO (tcp_rack.c) */
}
