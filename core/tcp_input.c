/*
 * tcp_input.c — segment arrival, in the order of RFC 9293 3.10.7:
 * CLOSED (no connection), LISTEN, SYN-SENT, and the synchronized states
 * step by step: (1) sequence acceptability with PAWS (RFC 7323 5.3)
 * first, (2) RST with RFC 5961 3.2's exact-match rule and challenge ACK,
 * (3) security: not implemented (no IPSO), (4) SYN: challenge ACK (RFC
 * 5961 4.2), (5) ACK with RFC 5961 5.2's range check, congestion control
 * and the state changes it causes, (6) URG: ignored (the urgent pointer
 * is never acted on; data is delivered inline), (7) segment text with
 * out-of-order queueing, (8) FIN.
 *
 * Runs on a receive thread (or the deterministic driver) with the
 * socket's lock held. The socket is found with a reference
 * (tcp_lookup) before its lock is taken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "lockassert.h"
#include "wire/checksum.h"


static uint32_t seg_len(const struct wire_tcp *g)
{
	return (uint32_t)g->payload_len + !!(g->flags & TCP_SYN) + !!(g->flags & TCP_FIN);
}

/*
 * A receive batch's in-order data is ACKed once, at the batch's end, as
 * Linux ACKs a GRO aggregate once; but, as GRO's aggregates, not for more
 * than 64 KB, nor for half of the window our last ACK offered: a batch of
 * 64 offloaded 64 KB frames would otherwise hold one ACK back for 4 MB and
 * let the sender's window run out while we read. Due: ACK now.
 */
static bool batch_ack_due(const struct us_tcb *t)
{
	uint32_t unacked = t->rcv_nxt - t->last_ack_sent;
	uint32_t offered = t->rcv_adv - t->last_ack_sent;
	return unacked >= US_TCP_BATCH_ACK_MAX || unacked >= offered / 2;
}

static bool ooo_add(struct us_tcb *t, uint32_t start, uint32_t end);
static bool sync_input(struct us_tcb *t, const struct wire_ip4 *ip, struct wire_tcp *g);
static void text_input(struct us_tcb *t, uint32_t seq, const uint8_t *data, uint32_t len, bool fin);

/*
 * An RTT sample from the segment's timestamp echo (RFC 7323 4.1, as
 * Linux's tcp_rtt_tsopt_us), in *us. False when the echo cannot be of a
 * TSval this connection sent: absent or zero, older than our first SYN's
 * TSval, or ahead of our clock. A forged or corrupt TSecr would otherwise
 * make a sample of up to 49 days (an RTO at its 120 s cap); the caller
 * falls back to Karn's timed segment instead.
 */
static bool ts_rtt_us(const struct us_tcb *t, const struct wire_tcp *g, uint64_t *us)
{
	if (!t->ts_ok || !g->opt.has_ts || !g->opt.tsecr)
		return false;
	uint32_t now = tcp_ts_now(t->sock->st);
	if ((int32_t)(g->opt.tsecr - t->ts_first) < 0 || (int32_t)(now - g->opt.tsecr) < 0)
		return false;
	/* Linux tcp_ack_update_rtt: an echo from this very tick counts as one
	 * tick (1 ms), not 0; else on a sub-millisecond path SRTT decays to 0
	 * (7/8 of a few us truncated) and TCP_INFO reports no RTT. */
	uint32_t ticks = now - g->opt.tsecr;
	*us = (uint64_t)(ticks ? ticks : 1) * 1000;
	return true;
}

/* RFC 9293 3.10.7.1: a segment for no connection. */
static void respond_closed(struct us_stack *st, const struct wire_ip4 *ip, const struct wire_tcp *g)
{
	if (g->flags & TCP_RST)
		return;
	uint16_t lport = htons(g->dport), rport = htons(g->sport);
	if (g->flags & TCP_ACK)
		tcp_send_rst_to(st, ip->dst, ip->src, lport, rport, g->ack, 0, TCP_RST);
	else
		tcp_send_rst_to(st, ip->dst, ip->src, lport, rport, 0, g->seq + seg_len(g),
				TCP_RST | TCP_ACK);
}

/* Options of a SYN we received, against what we offer (config). */
static void negotiate(struct us_tcb *t, const struct wire_tcp *g, bool we_sent_syn)
{
	const struct us_tcp_config *c = &t->sock->st->cfg.tcp;
	t->peer_mss = g->opt.has_mss ? g->opt.mss : 536;    /* RFC 9293 3.7.1 default */
	if (t->peer_mss < US_TCP_MIN_MSS)
		t->peer_mss = US_TCP_MIN_MSS;
	/* Window scaling and timestamps are on only if both sides sent them. */
	if (!(c->window_scaling && g->opt.has_wscale)) {
		t->ws_ok = false;
		t->snd_wscale = t->rcv_wscale = 0;
	} else {
		t->ws_ok = true;
		t->snd_wscale = g->opt.wscale > 14 ? 14 : g->opt.wscale;  /* RFC 7323 2.3 */
		if (!we_sent_syn)
			t->rcv_wscale = tcp_wscale_for(t->rcvq.cap);
	}
	t->ts_ok = c->timestamps && g->opt.has_ts;
	if (t->ts_ok) {
		t->ts_recent = g->opt.tsval;
		t->ts_recent_at = us_now(t->sock->st);
	}
	/* SACK likewise (RFC 2018 2): a SYN-ACK offers it only if the SYN did. */
	t->sack_ok = c->sack && g->opt.sack_ok;
	tcp_set_mss(t);
	tcp_cc_init(t);
}

/*
 * A SYN cookie is checked only within 2 minutes (two cookie periods) of
 * the last one this listener sent, as Linux's tcp_synq_no_recent_overflow:
 * otherwise a stray ACK costs no hashing and gets its RST as before.
 */
static bool cookie_recent(struct us_stack *st, const struct us_tcb *lt)
{
	return lt->synq_overflow_at && us_now(st) - lt->synq_overflow_at < 120 * US_NS_PER_SEC;
}

/*
 * The handshake's ACK came back (to a SYN cache entry's SYN-ACK or to a
 * cookie's): the child is made now from what the SYN negotiated, in
 * SYN_RCVD as if it had been kept, then run through the ACK processing of
 * SYN_RCVD (sync_input), which establishes it, queues it for accept and
 * takes any data the ACK carries. Called with the listener locked;
 * unlocks it.
 */
static void child_from_syn(struct us_sock *ls, const struct wire_ip4 *ip, struct wire_tcp *g,
			   const struct tcp_synparams *p, bool count_open)
{
	struct us_stack *st = ls->st;
	struct us_tcb *lt = ls->tcb;
	struct us_sock *cs = NULL;
	if (lt->acc_count >= lt->backlog || !(cs = tcp_child_new(ls))) {
		/* Linux: the accept queue is full, the ACK is dropped; the peer
		 * retransmits its data (or the server's reply never comes). */
		US_STAT_INC(st, TCP_LISTEN_OVERFLOW);
		pthread_mutex_unlock(&ls->lock);
		return;
	}
	lt->syn_count++;
	/* Counted before the listener's lock goes: a segment of this 4-tuple
	 * that another receive thread hands to the listener after us finds
	 * the count and looks again instead of answering RST (listen_input). */
	atomic_fetch_add_explicit(&st->tcp.handshakes_inflight, 1, memory_order_relaxed);
	pthread_mutex_unlock(&ls->lock);

	pthread_mutex_lock(&cs->lock);
	struct us_tcb *t = cs->tcb;
	t->laddr = p->laddr;
	t->raddr = p->raddr;
	t->lport = p->lport;
	t->rport = p->rport;
	cs->local.sin_addr.s_addr = t->laddr;
	cs->local.sin_port = t->lport;
	cs->remote.sin_addr.s_addr = t->raddr;
	cs->remote.sin_port = t->rport;
	t->irs = p->irs;
	t->rcv_nxt = p->irs + 1;
	t->iss = p->iss;
	t->snd_una = t->iss;
	t->snd_nxt = t->snd_max = p->iss + 1;
	t->recover = t->iss;
	t->rcv_adv = t->rcv_nxt + p->win;       /* what the SYN-ACK offered */
	t->last_ack_sent = t->rcv_nxt;
	t->peer_mss = p->peer_mss;
	t->ts_ok = p->ts_ok;
	t->ws_ok = p->ws_ok;
	t->sack_ok = p->sack_ok;
	t->snd_wscale = t->ws_ok ? p->snd_wscale : 0;
	t->rcv_wscale = t->ws_ok ? p->rcv_wscale : 0;
	if (t->ts_ok) {
		t->ts_recent = p->ts_recent;
		t->ts_recent_at = p->ts_recent_at;
		t->ts_first = p->ts_first;
	}
	/* TCP_INFO counts as if the child had been there from the SYN: it,
	 * the SYN-ACKs, and the ACK being processed (not through us_tcp_input). */
	t->stats.segs_out = p->segs_out ? p->segs_out : 1;
	t->stats.segs_in++;
	if (g->payload_len)
		t->stats.data_segs_in++;
	tcp_set_mss(t);
	tcp_cc_init(t);
	t->snd_wl1 = g->seq;
	t->snd_wl2 = t->iss;
	t->state = TCPS_SYN_RCVD;
	/* fail_inserts: a test's stand-in for the race below (tcp.h). */
	bool raced = atomic_load_explicit(&st->tcp.fail_inserts, memory_order_relaxed) > 0 &&
		     atomic_fetch_sub_explicit(&st->tcp.fail_inserts, 1, memory_order_relaxed) > 0;
	if (st->tcp.test_before_insert)
		st->tcp.test_before_insert(st, st->tcp.test_before_insert_arg);
	bool inserted = !raced && tcp_conn_insert(t) == 0;
	/* Release: whoever sees the count drop sees the child in the table. */
	atomic_fetch_sub_explicit(&st->tcp.handshakes_inflight, 1, memory_order_release);
	if (!inserted) {
		/* The same 4-tuple raced in through another interface. Still in
		 * SYN_RCVD, so tcp_done gives the listener its SYN slot back
		 * (syn_count) and drops the child's hold on it. */
		tcp_done(t, 0);
		pthread_mutex_unlock(&cs->lock);
		us_sock_put(cs);
		return;
	}
	if (count_open)
		US_STAT_INC(st, TCP_PASSIVE_OPENS);     /* a cache entry counted its SYN */
	sync_input(t, ip, g);
	if (t->state == TCPS_SYN_RCVD)
		tcp_done(t, 0);         /* not established: no timer would end it */
	if (t->state != TCPS_CLOSED)
		tcp_output(t);
	pthread_mutex_unlock(&cs->lock);
	us_sock_put(cs);        /* the table holds it now */
}

/* What cookie_ack_input made of an ACK to a listener. */
enum cookie_verdict {
	COOKIE_UNCHECKED,       /* cookies off or not in use, or SYN/RST set */
	COOKIE_FAILED,          /* checked: not one of our cookies */
	COOKIE_MADE,            /* a valid cookie: the child is made, ls unlocked */
};

/*
 * The ACK of a cookie SYN-ACK (tcp_syncookie.c): the child is made from
 * what the cookie gives back. Called with the listener locked; unlocks it
 * only for COOKIE_MADE.
 */
static enum cookie_verdict cookie_ack_input(struct us_sock *ls, const struct wire_ip4 *ip,
					    struct wire_tcp *g)
{
	struct us_stack *st = ls->st;
	struct us_tcb *lt = ls->tcb;
	const struct us_tcp_config *c = &st->cfg.tcp;
	if (!c->syncookies || (g->flags & (TCP_SYN | TCP_RST)) || !cookie_recent(st, lt))
		return COOKIE_UNCHECKED;
	struct tcp_cookie_tuple ct = { .laddr = ip->dst, .raddr = ip->src, .lport = htons(g->dport),
				       .rport = htons(g->sport) };
	struct tcp_cookie_opts co;
	if (!tcp_syncookie_check(st, &ct, g, &co))
		return COOKIE_FAILED;
	US_STAT_INC(st, TCP_SYNCOOKIES_RECV);
	struct tcp_synparams p = {
		.laddr = ct.laddr, .raddr = ct.raddr, .lport = ct.lport, .rport = ct.rport,
		.irs = g->seq - 1, .iss = g->ack - 1, .peer_mss = co.mss,
		/* The window of the cookie SYN-ACK (tcp_send_cookie_synack). */
		.win = (uint16_t)(lt->rcvq.cap > 65535 ? 65535 : lt->rcvq.cap),
		.ts_ok = c->timestamps && co.ts_ok, .ws_ok = c->window_scaling && co.ws_ok,
		.sack_ok = c->sack && co.sack_ok, .snd_wscale = co.snd_wscale,
		.rcv_wscale = tcp_wscale_for(lt->rcvq.cap),
		.ts_recent = g->opt.tsval, .ts_recent_at = us_now(st),
		/* The cookie's TSval was moved back by up to 64 ms to carry the
		 * options: not a time to measure the RTT from. */
		.ts_first = g->opt.tsecr + 1,
	};
	child_from_syn(ls, ip, g, &p, true);
	return COOKIE_MADE;
}

/* How often a segment handed to a listener while a handshake's child was
 * on its way into the connection table looks the 4-tuple up again. */
#define US_TCP_HANDSHAKE_RETRIES 100

/* A segment for a listener; tw_isn: the ISS a TIME_WAIT record that let a
 * new SYN through asks for (tcp_timewait.c), 0 none. Unlocks ls. True:
 * look the 4-tuple up again (its child may be entering the table). */
static bool listen_input(struct us_sock *ls, const struct wire_ip4 *ip, struct wire_tcp *g,
			 uint32_t tw_isn)
{
	US_ASSERT_LOCKED(&ls->lock);
	struct us_stack *st = ls->st;
	struct us_tcb *lt = ls->tcb;
	const struct us_tcp_config *c = &st->cfg.tcp;
	/* A 4-tuple in SYN_RCVD: its SYN cache entry answers (tcp_syncache.c). */
	struct tcp_synparams p;
	switch (tcp_syncache_input(ls, ip, g, &p)) {
	case SYN_ESTABLISH:
		child_from_syn(ls, ip, g, &p, false);   /* unlocks ls */
		return false;
	case SYN_DONE:
		goto drop;
	case SYN_NONE:
		break;
	}
	if (g->flags & TCP_RST)
		goto drop;
	if (g->flags & TCP_ACK) {
		enum cookie_verdict cv = cookie_ack_input(ls, ip, g);
		if (cv == COOKIE_MADE)
			return false;
		/* With two receive threads (multiqueue) the handshake's ACK and
		 * the next segment (curl's request) can be read at once: the
		 * first thread takes the SYN cache entry and makes the child
		 * after letting the listener go, and the second, which found no
		 * connection, finds no entry either. Not a stray ACK: look again
		 * once that child is in the table, or now if it got there since
		 * our look-up. (Linux replaces the request by the child in one
		 * step, inet_ehash_insert.) */
		bool busy = atomic_load_explicit(&st->tcp.handshakes_inflight,
						 memory_order_acquire) > 0;
		struct us_sock *o = busy ? NULL
					 : tcp_lookup(st, ip->dst, htons(g->dport), ip->src,
						      htons(g->sport));
		if (busy || (o && o != ls)) {
			pthread_mutex_unlock(&ls->lock);
			if (o)
				us_sock_put(o);         /* not under ls: it may be the last */
			return true;
		}
		if (o)
			us_sock_put(o);                 /* ls: the caller holds it too */
		if (cv == COOKIE_FAILED && (g->payload_len || (g->flags & TCP_FIN))) {
			/* Cookies are in use and this data or FIN cannot prove
			 * one: most likely a cookie connection whose handshake
			 * ACK and first segment were lost (a receive queue
			 * overflowing under the very flood that made us send
			 * cookies). Only its first segment (SEG.SEQ = ISN + 1)
			 * can prove the cookie, and the peer resends it when its
			 * RTO fires; Linux's RST here would end a connection the
			 * peer thinks established. A pure ACK still gets the RST
			 * (doc/TCP.md "A lost handshake ACK under a flood"). */
			US_STAT_INC(st, TCP_SYNCOOKIES_DATA_DROPPED);
			goto drop;
		}
		if (cv == COOKIE_FAILED)
			US_STAT_INC(st, TCP_SYNCOOKIES_FAILED);
		tcp_send_rst_to(st, ip->dst, ip->src, htons(g->dport), htons(g->sport), g->ack, 0,
				TCP_RST);
		goto drop;
	}
	if (!(g->flags & TCP_SYN))
		goto drop;
	if (lt->acc_count >= lt->backlog) {
		/* Like Linux with a full accept queue: drop the SYN, cookie or
		 * not; the peer retries. */
		US_STAT_INC(st, TCP_LISTEN_OVERFLOW);
		goto drop;
	}
	if (lt->syn_count + lt->acc_count >= lt->backlog) {
		if (c->syncookies) {
			/* RFC 4987 3.6, Linux tcp_syncookies = 1: the SYN queue is
			 * full, answer with a cookie and keep nothing. */
			uint64_t now = us_now(st);
			lt->synq_overflow_at = now ? now : 1;
			tcp_send_cookie_synack(ls, ip, g);
			goto drop;
		}
		/* Like Linux without syncookies: drop the SYN, the peer retries. */
		US_STAT_INC(st, TCP_LISTEN_OVERFLOW);
		goto drop;
	}
	/* A SYN cache entry (no socket until the handshake completes): what
	 * the SYN negotiates against our configuration (RFC 9293 3.7.1, RFC
	 * 7323, RFC 2018 2), as a child's negotiate() would. */
	uint32_t cap = lt->rcvq.cap;
	p = (struct tcp_synparams){ .laddr = ip->dst, .raddr = ip->src, .lport = htons(g->dport),
				    .rport = htons(g->sport), .irs = g->seq };
	/* Above the old incarnation's sequence space when it ends a TIME_WAIT
	 * (Linux tw_isn), else RFC 6528. */
	p.iss = tw_isn ? tw_isn : tcp_isn(st, p.laddr, p.lport, p.raddr, p.rport);
	p.peer_mss = g->opt.has_mss ? g->opt.mss : 536;
	if (p.peer_mss < US_TCP_MIN_MSS)
		p.peer_mss = US_TCP_MIN_MSS;
	p.ws_ok = c->window_scaling && g->opt.has_wscale;
	if (p.ws_ok) {
		p.snd_wscale = g->opt.wscale > 14 ? 14 : g->opt.wscale;
		p.rcv_wscale = tcp_wscale_for(cap);
	}
	p.ts_ok = c->timestamps && g->opt.has_ts;
	if (p.ts_ok) {
		p.ts_recent = g->opt.tsval;
		uint64_t now = us_now(st);
		p.ts_recent_at = now ? now : 1;
	}
	p.sack_ok = c->sack && g->opt.sack_ok;
	/* The window of an empty receive buffer, as tcp_rcv_window gives it
	 * in SYN_RCVD, never scaled in a SYN (RFC 7323 2.2). */
	uint32_t w = cap, maxwin = 65535u << p.rcv_wscale;
	if (w > maxwin)
		w = maxwin;
	w &= ~((1u << p.rcv_wscale) - 1);
	p.win = (uint16_t)(w > 65535 ? 65535 : w);
	if (tcp_syncache_add(ls, &p) < 0) {
		US_STAT_INC(st, TCP_LISTEN_OVERFLOW);
		goto drop;
	}
	US_STAT_INC(st, TCP_PASSIVE_OPENS);
drop:
	pthread_mutex_unlock(&ls->lock);
	return false;
}

static void syn_sent_input(struct us_tcb *t, const struct wire_tcp *g)
{
	struct us_stack *st = t->sock->st;
	bool ack_ok = false;
	if (g->flags & TCP_ACK) {
		if (seq_le(g->ack, t->iss) || seq_gt(g->ack, t->snd_max)) {
			if (!(g->flags & TCP_RST))
				tcp_send_rst_to(st, t->laddr, t->raddr, t->lport, t->rport, g->ack, 0,
						TCP_RST);
			return;
		}
		ack_ok = true;
	}
	if (g->flags & TCP_RST) {
		if (ack_ok)
			tcp_done(t, ECONNREFUSED);
		return;
	}
	if (!(g->flags & TCP_SYN))
		return;
	t->irs = g->seq;
	t->rcv_nxt = g->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	negotiate(t, g, true);
	if (ack_ok) {
		t->snd_una = g->ack;
		t->snd_wnd = g->win;
		t->max_sndwnd = t->snd_wnd;
		t->snd_wl1 = g->seq;
		t->snd_wl2 = g->ack;
		uint64_t rtt;
		if (ts_rtt_us(t, g, &rtt))
			tcp_rtt_sample(t, rtt);
		else if (t->backoff == 0)
			tcp_rtt_sample(t, (us_now(st) - t->rtt_start) / 1000);
		t->backoff = 0;
		tcp_timer_clear(t, TT_REXMIT);
		tcp_set_state(t, TCPS_ESTABLISHED);
		t->ack_now = true;
		/* RFC 9293 3.10.7.3: text on the SYN-ACK is processed as in
		 * ESTABLISHED (step 7) and acknowledged by the ACK below. Our
		 * SYN offered a window of the whole free ring; more is cut. */
		uint32_t len = (uint32_t)g->payload_len, room = ring_free(&t->rcvq);
		if (len)
			text_input(t, g->seq + 1, g->payload, len < room ? len : room, false);
		tcp_output(t);
		us_sock_wake(t->sock);
	} else {
		/* Simultaneous open (RFC 9293 figure 7). Text on the SYN waits in
		 * the ring until ESTABLISHED (deliver_queued). */
		tcp_set_state(t, TCPS_SYN_RCVD);
		uint32_t n = (uint32_t)g->payload_len, room = ring_free(&t->rcvq);
		if (n > room)
			n = room;
		if (n && tcb_ring_write(t, &t->rcvq, t->rcvq.len, g->payload, n))
			ooo_add(t, t->rcv_nxt, t->rcv_nxt + n);
		t->snd_nxt = t->iss;
		tcp_send_syn(t);
	}
}

/* RFC 9293 3.10.7.4 first check. */
static bool acceptable(struct us_tcb *t, const struct wire_tcp *g)
{
	uint32_t wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t len = seg_len(g);
	if (len == 0)
		return wnd == 0 ? g->seq == t->rcv_nxt
				: seq_le(t->rcv_nxt, g->seq) && seq_lt(g->seq, t->rcv_nxt + wnd);
	if (wnd == 0)
		return false;
	return (seq_le(t->rcv_nxt, g->seq) && seq_lt(g->seq, t->rcv_nxt + wnd)) ||
	       (seq_le(t->rcv_nxt, g->seq + len - 1) && seq_lt(g->seq + len - 1, t->rcv_nxt + wnd));
}

static void challenge_ack(struct us_tcb *t)
{
	US_STAT_INC(t->sock->st, TCP_CHALLENGE_ACKS);
	tcp_send_ack(t);
}

/*
 * Linux's rate limit on answers to invalid segments (__tcp_oow_rate_limited,
 * sysctl tcp_invalid_ratelimit): true if one was sent less than 500 ms
 * ago; otherwise the caller may answer, and that answer is now the last.
 */
static bool oow_rate_limited(struct us_tcb *t, uint64_t now)
{
	if (t->last_oow_ack && now - t->last_oow_ack < US_TCP_INVALID_RATELIMIT_MS * US_NS_PER_MS)
		return true;
	t->last_oow_ack = now ? now : 1;
	return false;
}

/* Move a passive connection that just became established to its listener's queue. */
static void to_accept_queue(struct us_tcb *t)
{
	struct us_sock *ls = t->listener;
	if (!ls)
		return;
	pthread_mutex_lock(&ls->lock);
	struct us_tcb *lt = ls->tcb;
	bool ok = !ls->closed && lt && lt->state == TCPS_LISTEN;
	if (lt)
		lt->syn_count--;
	if (ok) {
		us_sock_hold(t->sock);          /* the accept queue's reference */
		t->acc_next = NULL;
		if (lt->acc_tail)
			lt->acc_tail->tcb->acc_next = t->sock;
		else
			lt->acc_head = t->sock;
		lt->acc_tail = t->sock;
		lt->acc_count++;
		us_sock_wake(ls);
	}
	pthread_mutex_unlock(&ls->lock);
	if (!ok) {
		t->listener = NULL;
		us_sock_put(ls);
		tcp_send_rst(t);
		tcp_done(t, ECONNRESET);
	}
}

/* Insert [start, end) into the out-of-order list; false when it is full
 * (or there is no memory for it: counted in tcb_array_get). */
static bool ooo_add(struct us_tcb *t, uint32_t start, uint32_t end)
{
	if (!tcb_array_get(t, TCB_ARR_OOO))
		return false;
	int i = 0;
	while (i < t->nooo && seq_lt(t->ooo[i].end, start))
		i++;
	if (i < t->nooo && seq_le(t->ooo[i].start, end)) {
		/* Overlaps or touches range i: widen it, then swallow followers. */
		if (seq_lt(start, t->ooo[i].start))
			t->ooo[i].start = start;
		if (seq_gt(end, t->ooo[i].end))
			t->ooo[i].end = end;
		while (i + 1 < t->nooo && seq_le(t->ooo[i + 1].start, t->ooo[i].end)) {
			if (seq_gt(t->ooo[i + 1].end, t->ooo[i].end))
				t->ooo[i].end = t->ooo[i + 1].end;
			memmove(&t->ooo[i + 1], &t->ooo[i + 2], (size_t)(t->nooo - i - 2) * sizeof t->ooo[0]);
			t->nooo--;
		}
		return true;
	}
	if (t->nooo == US_TCP_OOO_MAX)
		return false;
	memmove(&t->ooo[i + 1], &t->ooo[i], (size_t)(t->nooo - i) * sizeof t->ooo[0]);
	t->ooo[i].start = start;
	t->ooo[i].end = end;
	t->nooo++;
	return true;
}

/*
 * D-SACK (RFC 2883) for out-of-order data [start, end) that overlaps what
 * is already held: the first overlap is the duplicate reported (Linux
 * tcp_data_queue_ofo).
 */
static void ooo_dup(struct us_tcb *t, uint32_t start, uint32_t end)
{
	for (int i = 0; i < t->nooo; i++) {
		if (seq_lt(start, t->ooo[i].end) && seq_lt(t->ooo[i].start, end)) {
			tcp_dsack_set(t, seq_gt(start, t->ooo[i].start) ? start : t->ooo[i].start,
				      seq_lt(end, t->ooo[i].end) ? end : t->ooo[i].end);
			return;
		}
	}
}

/*
 * D-SACK for a segment starting below RCV.NXT: the part of it already
 * received, its FIN included (Linux tcp_send_dupack, tcp_data_queue).
 */
static void dsack_old(struct us_tcb *t, const struct wire_tcp *g)
{
	uint32_t end = g->seq + seg_len(g);
	if ((g->flags & (TCP_SYN | TCP_RST)) || !seq_lt(g->seq, t->rcv_nxt) || g->seq == end)
		return;
	tcp_dsack_set(t, g->seq, seq_lt(end, t->rcv_nxt) ? end : t->rcv_nxt);
}

/* Out-of-order ranges that now start at or below rcv_nxt become readable data. */
static void ooo_merge(struct us_tcb *t)
{
	while (t->nooo && seq_le(t->ooo[0].start, t->rcv_nxt)) {
		if (seq_gt(t->ooo[0].end, t->rcv_nxt)) {
			uint32_t add = t->ooo[0].end - t->rcv_nxt;
			t->rcvq.len += add;
			t->rcv_nxt += add;
		}
		memmove(&t->ooo[0], &t->ooo[1], (size_t)(t->nooo - 1) * sizeof t->ooo[0]);
		t->nooo--;
	}
}

/*
 * RFC 9293 3.10.7.3: text on a simultaneous-open SYN is "queued for
 * processing after the ESTABLISHED state has been reached". It waits in
 * the receive ring as an out-of-order range at RCV.NXT (unacknowledged:
 * our SYN-ACK covers the SYN only), and becomes readable, and is
 * acknowledged, here, once the handshake is complete. Returns whether
 * RCV.NXT moved.
 */
static bool deliver_queued(struct us_tcb *t)
{
	uint32_t before = t->rcv_nxt;
	ooo_merge(t);
	if (t->rcv_nxt == before)
		return false;
	US_STAT_ADD(t->sock->st, TCP_RX_BYTES, t->rcv_nxt - before);
	t->ack_now = true;
	us_sock_wake(t->sock);
	return true;
}

static void process_fin(struct us_tcb *t)
{
	t->rcv_nxt++;
	t->fin_rcvd = true;
	t->ack_now = true;
	switch (t->state) {
	case TCPS_SYN_RCVD:
	case TCPS_ESTABLISHED:
		tcp_set_state(t, TCPS_CLOSE_WAIT);
		break;
	case TCPS_FIN_WAIT_1:
		if (t->fin_sent && seq_gt(t->snd_una, t->fin_seq))
			tcp_enter_time_wait(t);
		else
			tcp_set_state(t, TCPS_CLOSING);
		break;
	case TCPS_FIN_WAIT_2:
		tcp_enter_time_wait(t);
		break;
	default:
		break;
	}
	us_sock_wake(t->sock);
}

/*
 * Quick-ACK mode, as Linux (tcp_event_data_recv, tcp_incr_quickack,
 * __tcp_ack_snd_check). A sender whose window or Nagle holds data back
 * until its first segments are acknowledged (slow start at connection
 * start, a server writing headers and body separately) would wait out
 * our delayed ACK on every round trip. So the first in-order data of a
 * connection, and the first after an idle time longer than the RTO, turn
 * on quick-ACK mode: the next min(window / (2 MSS), 16) segments (at
 * least 2) are acknowledged at once; every ACK we send uses one up
 * (tcp_send_segment). In "pingpong" mode (we answered the peer's data
 * within the delayed-ACK time: an interactive exchange) ACKs are delayed
 * even then, so that they ride on our replies; a delayed ACK that had to
 * go alone ends pingpong (tcp_timer.c). Returns whether to ACK now.
 */
static void quickack_grant(struct us_tcb *t)
{
	uint32_t wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t q = wnd / (2u * t->mss);
	if (q == 0)
		q = 2;
	if (q > US_TCP_MAX_QUICKACKS)
		q = US_TCP_MAX_QUICKACKS;
	if (q > t->quick)
		t->quick = (uint8_t)q;
}

static bool quickack_on_data(struct us_tcb *t)
{
	uint64_t now = us_now(t->sock->st);
	if (!t->got_data) {
		t->got_data = true;
		quickack_grant(t);
	} else if (now - t->lrcvtime > t->rto_us * 1000) {
		quickack_grant(t);      /* idle: the sender restarts from a small window */
	}
	t->lrcvtime = now;
	return t->quick > 0 && !t->pingpong;
}

/* Step 7: segment text. */
static void text_input(struct us_tcb *t, uint32_t seq, const uint8_t *data, uint32_t len, bool fin)
{
	struct us_stack *st = t->sock->st;
	uint32_t free = ring_free(&t->rcvq);
	if (t->sock->shut_rd) {
		/* Read side shut: accept and discard, so the peer is not stalled. */
		if (seq == t->rcv_nxt) {
			t->rcv_nxt += len;
			t->ack_now = true;
		}
	} else if (seq == t->rcv_nxt) {
		uint32_t n = len < free ? len : free;
		/* Already in place when rx_place copied it (at this very
		 * sequence number: nothing moved RCV.NXT in between). */
		if (!t->rx_placed && !tcb_ring_write(t, &t->rcvq, t->rcvq.len, data, n)) {
			/* No memory to grow the ring: as if lost (counted). */
			t->ack_now = true;
			return;
		}
		t->rcvq.len += n;
		t->rcv_nxt += n;
		t->stats.bytes_received += n;
		/* Linux tcp_measure_rcv_mss: the largest segment seen, at most our MSS
		 * (a TAP's GRO aggregate is not one segment). */
		uint32_t seg = len < t->mss ? len : t->mss;
		if (seg > t->stats.rcv_mss)
			t->stats.rcv_mss = seg;
		bool had_holes = t->nooo > 0;
		ooo_merge(t);
		US_STAT_ADD(st, TCP_RX_BYTES, n);
		/* RFC 9293 3.8.6.3 / RFC 5681 4.2: ACK at least every second
		 * full-sized segment; ACK at once when a hole was filled, and
		 * in quick-ACK mode (quickack_on_data). */
		if (n >= t->mss)
			t->segs_unacked += n / t->mss;  /* a TAP's GRO aggregate counts as its segments */
		uint32_t delack = st->cfg.tcp.delayed_ack_ms;
		bool quick = quickack_on_data(t);
		if (had_holes || delack == 0 || fin || quick)
			t->ack_now = true;
		else if (t->segs_unacked >= 2 &&
			 (batch_ack_due(t) || !us_sock_batch_ack(t->sock)))
			t->ack_now = true;      /* (in a receive batch: one ACK at its end) */
		else if (t->segs_unacked < 2 && !t->deadline[TT_DELACK])
			tcp_timer_set(t, TT_DELACK, us_now(st) + (uint64_t)delack * US_NS_PER_MS);
		us_sock_wake(t->sock);
	} else {
		/* Out of order, within the window: keep it in place in the ring. */
		uint32_t off = seq - t->rcv_nxt;
		if (off < free) {
			uint32_t n = len < free - off ? len : free - off;
			ooo_dup(t, seq, seq + n);
			/* Written first (bytes past the ranges mean nothing),
			 * kept only if the range can be recorded. */
			if (!tcb_ring_write(t, &t->rcvq, t->rcvq.len + off, data, n)) {
				/* counted as TCP_RING_NOMEM */
			} else if (ooo_add(t, seq, seq + n)) {
				tcp_sack_note(t, seq, seq + n);
				US_STAT_INC(st, TCP_OOO_SEGS);
			} else {
				US_STAT_INC(st, TCP_OOO_DROPS);
			}
		}
		t->ack_now = true;      /* a duplicate ACK tells the sender (RFC 5681 4.2) */
	}
	if (t->ooo_fin && t->ooo_fin_seq == t->rcv_nxt) {
		t->ooo_fin = false;
		process_fin(t);
	}
}

/*
 * Bytes of the segment at snd_una that fast retransmit and NewReno resend:
 * one SMSS, but never past snd_max. Data beyond it was never sent, and an
 * ACK for it would be unacceptable (above snd_max) ever after.
 */
static uint32_t rexmit_len(const struct us_tcb *t)
{
	uint32_t n = t->sndq.len < t->mss ? t->sndq.len : t->mss;
	uint32_t sent = t->snd_max - t->snd_una;
	return n < sent ? n : sent;
}

/* Step 5 for the states past SYN_RCVD. Returns false if the segment is done with. */
static bool ack_input(struct us_tcb *t, const struct wire_tcp *g)
{
	struct us_stack *st = t->sock->st;
	uint32_t ack = g->ack;
	/* RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]. */
	if (seq_gt(ack, t->snd_max)) {
		/* The byte of a zero-window probe (tcp_timer.c on_persist) lies at
		 * snd_max without being counted as sent; a receiver whose window
		 * opened takes it and acknowledges it (RFC 9293 3.8.6.1). Count it
		 * as sent, or that ACK and the window it opens would be lost. */
		bool probe = t->deadline[TT_PERSIST] && ack == t->snd_max + 1 &&
			     t->snd_nxt == t->snd_max && t->sndq.len > t->snd_max - t->snd_una;
		if (!probe) {
			t->ack_now = true;
			return false;
		}
		t->snd_nxt = t->snd_max = ack;
	}
	if (seq_lt(ack, t->snd_una - t->max_sndwnd)) {
		challenge_ack(t);
		return false;
	}
	uint32_t new_wnd = (uint32_t)g->win << t->snd_wscale;
	bool fin_acked = false;
	t->stats.last_ack_recv = us_now(st);
	if (g->opt.nsack)
		tcp_sb_need(t);         /* the first SACK block brings the scoreboard */
	uint32_t prior_sacked = t->sb_sacked, acked_data = 0;   /* tcp_recovery_ack */
	uint32_t prior_una = t->snd_una;                        /* tcp_frto_ack */
	bool classic_dup = false;
	if (seq_gt(ack, t->snd_una)) {
		uint32_t acked = ack - t->snd_una;
		uint32_t data = acked;
		if (t->fin_sent && seq_gt(ack, t->fin_seq)) {
			fin_acked = true;
			data = acked - 1;
		}
		if (data > t->sndq.len)
			data = t->sndq.len;
		ring_consume(&t->sndq, data);
		if (data && !t->sndq.len)
			tcb_rings_idle(t);
		acked_data = data;
		t->lt_bytes = 0;        /* a new ACK: limited transmit's episode is over */
		t->snd_una = ack;
		t->stats.bytes_acked += data;
		if (t->in_loss && seq_ge(ack, t->recover))
			t->in_loss = false;     /* the RTO's recovery is over */
		t->una_stamp = us_now(st);      /* progress: TCP_USER_TIMEOUT restarts */
		if (seq_lt(t->snd_nxt, t->snd_una))
			t->snd_nxt = t->snd_una;
		/* RTT: a valid timestamp echo when there is one, else Karn's
		 * timed segment (timed with timestamps too, for this fallback). */
		bool sampled = true;
		uint64_t rtt;
		if (ts_rtt_us(t, g, &rtt)) {
			tcp_rtt_sample(t, rtt);
			if (t->rtt_timing && seq_ge(ack, t->rtt_seq))
				t->rtt_timing = false;
		} else if (t->rtt_timing && seq_ge(ack, t->rtt_seq)) {
			tcp_rtt_sample(t, (us_now(st) - t->rtt_start) / 1000);
			t->rtt_timing = false;
		} else {
			sampled = false;
		}
		/* Karn (RFC 6298 3 and the note after 5.7): without a new sample the
		 * backed-off RTO stays until one collapses it. Fold the backoff into
		 * rto_us so that the retry count (backoff) can restart. */
		if (!sampled && t->backoff > 0) {
			uint64_t rto = t->rto_us << (t->backoff > 16 ? 16 : t->backoff);
			t->rto_us = rto < (uint64_t)US_TCP_RTO_MAX_MS * 1000 ? rto
					: (uint64_t)US_TCP_RTO_MAX_MS * 1000;
		}
		t->backoff = 0;
		t->keep_probes = 0;
		t->sock->so_error_soft = 0;     /* something got through (Linux tcp_ack) */
		if (t->sack_recovery) {
			/* RFC 6675 and PRR: tcp_recovery_ack below. */
		} else if (t->in_recovery) {
			if (seq_ge(ack, t->recover)) {
				/* Full ACK (RFC 6582 3.2 step 3, option 1): deflate to
				 * min(ssthresh, max(FlightSize, SMSS) + SMSS). */
				uint32_t flight = t->snd_max - t->snd_una;
				if (flight < t->mss)
					flight = t->mss;
				t->cwnd = t->ssthresh < flight + t->mss ? t->ssthresh : flight + t->mss;
				t->in_recovery = false;
				t->dupacks = 0;
			} else {
				/* Partial ACK: retransmit the next hole, deflate by what was
				 * acked, add back one segment (RFC 6582 3.2 step 5). */
				uint32_t n = rexmit_len(t);
				if (n) {
					tcp_send_segment(t, t->snd_una, n, TCP_ACK);
					US_STAT_INC(st, TCP_RETRANS_SEGS);
				}
				t->cwnd = t->cwnd > data ? t->cwnd - data : 0;
				/* RFC 6582 3.2 step 5: add back one SMSS if at least that much was acked. */
				if (data >= t->mss)
					t->cwnd += t->mss;
				if (t->cwnd < t->mss)
					t->cwnd = t->mss;       /* never below one segment */
			}
		} else {
			t->dupacks = 0;
			t->cc->cong_avoid(t, data);
		}
		if (t->snd_una == t->snd_max)
			tcp_timer_clear(t, TT_REXMIT);
		else
			tcp_rexmit_restart(t);
		us_sock_wake_room(t->sock);     /* room for writers; readers sleep on */
	} else if (ack == t->snd_una && g->payload_len == 0 && !(g->flags & (TCP_SYN | TCP_FIN)) &&
		   new_wnd == t->snd_wnd && t->snd_max != t->snd_una) {
		/* A duplicate ACK (RFC 5681 2); with SACK, RFC 6675's rules
		 * count it (tcp_recovery_ack). */
		US_STAT_INC(st, TCP_DUP_ACKS);
		classic_dup = true;
		bool sack = tcp_sack_sender(t);
		if (!sack)
			t->dupacks++;
		if (sack) {
			/* tcp_recovery_ack below */
		} else if (t->in_recovery) {
			t->cwnd += t->mss;              /* inflate: a segment left the network */
		} else if (t->dupacks == 3 && seq_gt(ack, t->recover)) {
			/* Fast retransmit and NewReno fast recovery (RFC 6582 3.2 step 2:
			 * only when the cumulative ACK covers more than recover; dup ACKs
			 * at recover itself may come from the last recovery's or the
			 * last timeout's retransmissions). */
			US_STAT_INC(st, TCP_FAST_RETRANS);
			t->ssthresh = t->cc->ssthresh(t);
			t->recover = t->snd_max;
			uint32_t n = rexmit_len(t);
			if (n) {
				tcp_send_segment(t, t->snd_una, n, TCP_ACK);
				US_STAT_INC(st, TCP_RETRANS_SEGS);
			}
			t->rtt_timing = false;
			t->cwnd = t->ssthresh + 3u * t->mss;
			t->in_recovery = true;
			tcp_rexmit_restart(t);
		}
	}
	if (t->frto)
		tcp_frto_ack(t, prior_una, classic_dup);        /* RFC 5682 steps 2-3 */
	if (tcp_sack_sender(t))
		tcp_recovery_ack(t, g, acked_data, prior_sacked, classic_dup);
	t->probes_out = 0;      /* the peer answers: zero-window probing may go on (tcp_timer.c) */
	/* Window update (RFC 9293 3.10.7.4, SND.WL1/WL2). */
	if (seq_lt(t->snd_wl1, g->seq) || (t->snd_wl1 == g->seq && seq_le(t->snd_wl2, ack))) {
		t->snd_wnd = new_wnd;
		t->snd_wl1 = g->seq;
		t->snd_wl2 = ack;
		if (t->snd_wnd > t->max_sndwnd)
			t->max_sndwnd = t->snd_wnd;
		if (t->snd_wnd > 0)
			t->persist_stamp = 0;   /* zero-window episode over (TCP_USER_TIMEOUT) */
		if (t->snd_wnd > 0 && t->deadline[TT_PERSIST]) {
			tcp_timer_clear(t, TT_PERSIST);
			t->persist_backoff = 0;
			/* The probe byte may have been taken: resend from snd_una. */
			t->snd_nxt = t->snd_una;
		}
	}
	switch (t->state) {
	case TCPS_FIN_WAIT_1:
		if (fin_acked) {
			tcp_set_state(t, TCPS_FIN_WAIT_2);
			if (t->orphan)
				tcp_timer_set(t, TT_2MSL, us_now(st) + US_TCP_FIN_TIMEOUT_S * US_NS_PER_SEC);
		}
		break;
	case TCPS_CLOSING:
		if (fin_acked)
			tcp_enter_time_wait(t);
		break;
	case TCPS_LAST_ACK:
		if (fin_acked) {
			tcp_done(t, 0);
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* Cut what lies before RCV.NXT off the segment's text. */
static void trim_old(const struct us_tcb *t, uint32_t *seq, const uint8_t **data, uint32_t *len,
		     bool *fin)
{
	if (!seq_lt(*seq, t->rcv_nxt))
		return;
	uint32_t cut = t->rcv_nxt - *seq;
	if (cut > *len) {
		/* All of the data is old, and so is a FIN after it. */
		cut = *len;
		*fin = false;
	}
	*data += cut;
	*len -= cut;
	*seq += cut;
}

/* The synchronized states. Returns true if the segment should go to a listener instead. */
static bool sync_input(struct us_tcb *t, const struct wire_ip4 *ip, struct wire_tcp *g)
{
	struct us_stack *st = t->sock->st;
	uint64_t now = us_now(st);
	/* TIME_WAIT is a record of its own (tcp_timewait.c): no TCB here is in it. */
	/* Simultaneous open (RFC 9293 figure 7, line 6): in SYN_RCVD after our
	 * SYN crossed the peer's, the peer's SYN-ACK acknowledging our SYN
	 * completes the handshake. Its SYN is the one already received (it
	 * lies just below RCV.NXT and would fail the sequence check), so take
	 * it as a bare ACK at RCV.NXT, as Linux does (tcp_validate_incoming). */
	if (t->state == TCPS_SYN_RCVD && !t->passive &&
	    (g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) &&
	    g->seq == t->irs && seq_lt(t->snd_una, g->ack) && seq_le(g->ack, t->snd_max)) {
		g->flags &= (uint8_t)~TCP_SYN;
		g->seq++;
	}
	/* The peer retransmitted the SYN we answered: our SYN-ACK was probably
	 * lost, so send it again (Linux tcp_check_req). The bare ACK of RFC
	 * 9293 3.10.7.4's sequence check would be dropped by a peer in SYN-SENT
	 * (3.10.7.3), leaving the handshake to wait for our retransmission.
	 * At most one such SYN-ACK per 500 ms (Linux tcp_oow_rate_limited), so
	 * a burst of copies of the SYN is not answered copy for copy. */
	if (t->state == TCPS_SYN_RCVD && (g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    g->seq == t->irs) {
		if (oow_rate_limited(t, now)) {
			US_STAT_INC(st, TCP_ACK_RATELIMITED);
			return false;
		}
		t->snd_nxt = t->iss;
		tcp_send_syn(t);
		US_STAT_INC(st, TCP_RETRANS_SEGS);
		return false;
	}
	/* PAWS (RFC 7323 5.3). */
	if (t->ts_ok && g->opt.has_ts && !(g->flags & TCP_RST) &&
	    (int32_t)(g->opt.tsval - t->ts_recent) < 0 && now - t->ts_recent_at < US_TCP_PAWS_IDLE_NS) {
		US_STAT_INC(st, TCP_PAWS_DROPS);
		dsack_old(t, g);
		tcp_send_ack(t);
		return false;
	}
	/* (1) Sequence number. */
	if (!acceptable(t, g)) {
		if (!(g->flags & TCP_RST)) {
			US_STAT_INC(st, TCP_OUT_OF_WINDOW);
			dsack_old(t, g);
			tcp_send_ack(t);
		}
		return false;
	}
	/* RFC 1122 4.2.3.6: keep-alives go only after keepidle without a segment
	 * from the peer; any acceptable one (a probe's answer too) restarts it. */
	if (t->keepalive && (t->state == TCPS_ESTABLISHED || t->state == TCPS_CLOSE_WAIT)) {
		t->keep_probes = 0;
		tcp_timer_set(t, TT_KEEP, now + (uint64_t)t->keepidle_s * US_NS_PER_SEC);
	}
	/* RFC 7323 4.3 (2): TS.Recent takes the TSval of a segment that starts
	 * at or before Last.ACK.sent, the edge our last ACK acknowledged. A
	 * segment that arrives while an ACK is delayed lies beyond it, so the
	 * delayed ACK echoes the earliest unacknowledged segment's TSval and
	 * the peer's RTT sample includes the delay (Linux: rcv_wup). */
	if (t->ts_ok && g->opt.has_ts && seq_le(g->seq, t->last_ack_sent) &&
	    (int32_t)(g->opt.tsval - t->ts_recent) >= 0) {
		t->ts_recent = g->opt.tsval;
		t->ts_recent_at = now;
	}
	/* Trim what lies before rcv_nxt or beyond the window. */
	uint32_t seq = g->seq;
	const uint8_t *data = g->payload;
	uint32_t len = (uint32_t)g->payload_len;
	bool fin = g->flags & TCP_FIN;
	if (g->flags & TCP_SYN)
		seq++;          /* a SYN here is answered below; its data starts after it */
	if (len && seq_lt(seq, t->rcv_nxt) && !(g->flags & (TCP_RST | TCP_SYN)))
		tcp_dsack_set(t, seq, seq_lt(seq + len, t->rcv_nxt) ? seq + len : t->rcv_nxt);
	trim_old(t, &seq, &data, &len, &fin);
	uint32_t wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t room = ring_free(&t->rcvq);
	if (room > wnd)
		wnd = room;     /* accept what fits even beyond a stale edge */
	uint32_t lim = seq_ge(seq, t->rcv_nxt + wnd) ? 0 : t->rcv_nxt + wnd - seq;
	if (len > lim) {
		len = lim;
		fin = false;
	}
	/* (2) RST. */
	if (g->flags & TCP_RST) {
		if (g->seq != t->rcv_nxt) {
			challenge_ack(t);
			return false;
		}
		US_STAT_INC(st, TCP_RX_RST);
		switch (t->state) {
		case TCPS_SYN_RCVD:
			tcp_done(t, t->passive ? 0 : ECONNREFUSED);
			break;
		case TCPS_ESTABLISHED:
		case TCPS_FIN_WAIT_1:
		case TCPS_FIN_WAIT_2:
		case TCPS_CLOSE_WAIT:
		case TCPS_CLOSING:
		case TCPS_LAST_ACK:
			/* Linux (tcp_reset) and FreeBSD report the reset in CLOSING
			 * and LAST_ACK too: the application may still be waiting. */
			tcp_done(t, ECONNRESET);
			break;
		default:
			tcp_done(t, 0);
			break;
		}
		return false;
	}
	/* (4) SYN in a synchronized state (RFC 5961 4.2). */
	if (g->flags & TCP_SYN) {
		challenge_ack(t);
		return false;
	}
	/* (5) ACK. */
	if (!(g->flags & TCP_ACK))
		return false;
	if (t->state == TCPS_SYN_RCVD) {
		if (!(seq_lt(t->snd_una, g->ack) && seq_le(g->ack, t->snd_max))) {
			tcp_send_rst_to(st, t->laddr, t->raddr, t->lport, t->rport, g->ack, 0, TCP_RST);
			return false;
		}
		t->snd_una = g->ack;
		t->snd_wnd = (uint32_t)g->win << t->snd_wscale;
		t->max_sndwnd = t->snd_wnd;
		t->snd_wl1 = g->seq;
		t->snd_wl2 = g->ack;
		uint64_t rtt;
		if (ts_rtt_us(t, g, &rtt))
			tcp_rtt_sample(t, rtt);
		t->backoff = 0;
		tcp_timer_clear(t, TT_REXMIT);
		tcp_set_state(t, TCPS_ESTABLISHED);
		if (t->passive)
			to_accept_queue(t);
		if (t->state == TCPS_CLOSED)
			return false;
		if (deliver_queued(t))
			trim_old(t, &seq, &data, &len, &fin);
		us_sock_wake(t->sock);
	}
	if (!ack_input(t, g))
		return false;
	if (t->state == TCPS_CLOSED)
		return false;
	/* Data for a connection the application has closed: reset (RFC 2525 2.17, Linux). */
	if (len && t->orphan) {
		tcp_send_rst(t);
		tcp_done(t, 0);
		return false;
	}
	/* (6) URG: ignored. (7) Text. */
	if (len && (t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_1 ||
		    t->state == TCPS_FIN_WAIT_2))
		text_input(t, seq, data, len, fin);
	/* (8) FIN. */
	if (fin && t->state != TCPS_CLOSED) {
		if (seq + len == t->rcv_nxt)
			process_fin(t);
		else if (!t->ooo_fin) {
			t->ooo_fin = true;
			t->ooo_fin_seq = seq + len;
			t->ack_now = true;
		}
	}
	return false;
}

/* Verify the checksum of the segment at p (len bytes); count a failure. */
static bool csum_ok(struct us_stack *st, const struct wire_ip4 *ip, const uint8_t *p, size_t len)
{
	uint64_t sum = wire_csum_pseudo(ip->src, ip->dst, IP_PROTO_TCP, (uint16_t)len);
	if (wire_csum_fold(wire_csum_add(sum, p, len)) == 0)
		return true;
	US_STAT_INC(st, TCP_DROP_CHECKSUM);
	return false;
}

/*
 * One pass over the payload on receive (the send side's is in ipv4.c):
 * for in-order data on a synchronized connection, the common case of a
 * bulk transfer, the payload is copied into the receive ring at rcvq.len
 * (RCV.NXT) and summed in the same pass, instead of a checksum pass over
 * the frame and then the copy. Only if the sum is right does the segment
 * go on, and text_input then commits the bytes already in place
 * (t->rx_placed) by moving rcvq.len; a bad segment is dropped and counted
 * before anything of it is used, its bytes lying past rcvq.len where
 * nothing reads them (with no out-of-order data held there: then, and in
 * every other case, the checksum is verified first, as before).
 * Returns false for a bad checksum.
 */
static bool rx_place(struct us_tcb *t, const struct wire_ip4 *ip, const struct wire_tcp *g,
		     const uint8_t *p, size_t len)
{
	struct us_stack *st = t->sock->st;
	uint32_t n = (uint32_t)g->payload_len;
	bool fits = (t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_1 ||
		     t->state == TCPS_FIN_WAIT_2) &&
		    n && g->seq == t->rcv_nxt && !t->nooo && !t->sock->shut_rd && !t->orphan &&
		    !(g->flags & (TCP_SYN | TCP_RST)) && n <= ring_free(&t->rcvq);
	if (!fits)
		return csum_ok(st, ip, p, len);
	uint64_t sum = wire_csum_pseudo(ip->src, ip->dst, IP_PROTO_TCP, (uint16_t)len);
	sum = wire_csum_add(sum, p, g->hlen);
	if (!tcb_ring_write_csum(t, &t->rcvq, t->rcvq.len, g->payload, n, &sum, g->hlen))
		return csum_ok(st, ip, p, len);         /* no memory: text_input counts it */
	if (wire_csum_fold(sum) != 0) {
		US_STAT_INC(st, TCP_DROP_CHECKSUM);
		return false;
	}
	t->rx_placed = true;
	return true;
}

void us_tcp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p, size_t len)
{
	struct us_stack *st = nif->st;
	struct wire_tcp g;
	US_STAT_INC(st, TCP_RX_SEGS);
	/* The header's lengths first; the checksum, unless the device vouched
	 * for it (ip->l4_csum_ok), before anything else reads the segment,
	 * except for data that may go straight into a receive ring: that is
	 * summed as it is copied there (rx_place), under the connection's
	 * lock, before the segment is processed. */
	bool verify = !ip->l4_csum_ok;
	if (wire_tcp_parse_nocsum(p, len, &g) < 0) {
		US_STAT_INC(st, TCP_DROP_SHORT);
		return;
	}
	if (verify && (!g.payload_len || (g.flags & (TCP_SYN | TCP_RST)))) {
		if (!csum_ok(st, ip, p, len))
			return;
		verify = false;
	}
	if (!us_ipv4_is_local(st, ip->dst))
		return;         /* broadcast or multicast: TCP never answers */
	if ((g.flags & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN)) {
		/* No meaning in any state: it never opens a connection, nor
		 * reopens one in TIME_WAIT. Dropped, as Linux (LISTEN) and
		 * FreeBSD (net.inet.tcp.drop_synfin) do. */
		US_STAT_INC(st, TCP_DROP_SYNFIN);
		return;
	}
	/*
	 * Connections first; a 4-tuple without one may be in TIME_WAIT
	 * (tcp_timewait.c: checked only then, so established traffic never
	 * takes its lock), and only then does a listener see the segment.
	 */
	uint32_t tw_isn = 0;
	bool tw_checked = false;
	int handshaking = 0;
	for (int pass = 0; pass < 3; pass++) {
		struct us_sock *s = tcp_lookup(st, ip->dst, htons(g.dport), ip->src, htons(g.sport));
		if (!s) {
			if (verify && !csum_ok(st, ip, p, len))
				return;
			if (!tw_checked && tcp_tw_input(st, ip, &g, &tw_isn) == TW_DONE)
				return;
			US_STAT_INC(st, TCP_NO_SOCKET);
			respond_closed(st, ip, &g);
			return;
		}
		pthread_mutex_lock(&s->lock);
		struct us_tcb *t = s->tcb;
		bool again = false;
		/* Only a synchronized connection takes data in place (rx_place);
		 * for anything else the checksum is verified now. */
		bool sync = t && t->state != TCPS_CLOSED && t->state != TCPS_LISTEN &&
			    t->state != TCPS_SYN_SENT;
		if (verify && !(sync ? rx_place(t, ip, &g, p, len) : csum_ok(st, ip, p, len))) {
			pthread_mutex_unlock(&s->lock);
			us_sock_put(s);
			return;
		}
		verify = false;         /* a second pass (again) is the same segment */
		if (!t || t->state == TCPS_CLOSED) {
			/* Ended meanwhile, perhaps into TIME_WAIT: look again. */
			pthread_mutex_unlock(&s->lock);
			if (!tw_checked) {
				tw_checked = true;
				enum tcp_tw_verdict v = tcp_tw_input(st, ip, &g, &tw_isn);
				again = v == TW_SYN;
				if (v == TW_NONE)
					respond_closed(st, ip, &g);
			} else {
				respond_closed(st, ip, &g);
			}
		} else if (t->state == TCPS_LISTEN) {
			if (!tw_checked) {
				tw_checked = true;
				if (tcp_tw_input(st, ip, &g, &tw_isn) == TW_DONE) {
					pthread_mutex_unlock(&s->lock);
					us_sock_put(s);
					return;
				}
			}
			if (listen_input(s, ip, &g, tw_isn)) {  /* unlocks s */
				/* Its child is entering the table on another
				 * thread: look again (not a pass of its own),
				 * a bounded number of times; then drop it, the
				 * peer sends it again. */
				us_sock_put(s);
				if (++handshaking > US_TCP_HANDSHAKE_RETRIES) {
					US_STAT_INC(st, TCP_DROP_HANDSHAKING);
					return;
				}
				sched_yield();
				pass--;
				continue;
			}
		} else {
			t->stats.segs_in++;
			if (g.payload_len)
				t->stats.data_segs_in++;
			if (t->state == TCPS_SYN_SENT)
				syn_sent_input(t, &g);
			else
				again = sync_input(t, ip, &g);
			t->rx_placed = false;
			if (t->state != TCPS_CLOSED && !again)
				tcp_output(t);
			pthread_mutex_unlock(&s->lock);
		}
		us_sock_put(s);
		if (!again)
			return;
	}
}
