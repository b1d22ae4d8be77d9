/*
 * tcp_timewait.c — TIME_WAIT as a compact record (FreeBSD tcptw, Linux
 * inet_timewait_sock), not a socket and control block.
 *
 * When a connection enters TIME_WAIT (tcp_enter_time_wait) its 4-tuple,
 * SND.NXT, RCV.NXT, the window field of its ACKs, the timestamp state and
 * the 2 MSL deadline are copied into a struct tcp_tw (about 100 bytes), and
 * the socket is done with (CLOSED, as Linux's tcp_time_wait leaves it: an
 * application still holding the descriptor reads the rest and EOF). What
 * the record does, as Linux's tcp_timewait_state_process (RFC 9293
 * 3.10.7.4 TIME-WAIT, RFC 1337, RFC 6191, RFC 7323 5.3):
 *
 *   - a segment at RCV.NXT without data: an RST there ends TIME_WAIT
 *     (Linux tcp_rfc1337 = 0); a bare ACK restarts 2 MSL and is silent;
 *   - a SYN (no ACK, no RST) above RCV.NXT, or with a TSval newer than
 *     TS.Recent, not rejected by PAWS: the record goes and the SYN goes to
 *     the listener, whose SYN-ACK uses ISS = our old SND.NXT + 65537 (Linux
 *     tcp_timewait_state_process's tw_isn), above anything we sent before;
 *   - anything else that is not an RST (a retransmitted FIN, old data, an
 *     old SYN, a PAWS failure) is answered with an ACK of RCV.NXT at our
 *     SND.NXT (rate-limited to one per 500 ms as Linux, except the first)
 *     and, if it carries ACK or failed PAWS, restarts 2 MSL; RSTs elsewhere
 *     are ignored.
 *
 * The records also hold their local port (bind without SO_REUSEADDR gets
 * EADDRINUSE; ephemeral choice skips the port), and an active open to the
 * same 4-tuple takes the record over when timestamps were in use and it is
 * over a second old (Linux tcp_twsk_unique with tcp_tw_reuse = 1), with
 * ISS = SND.NXT + 65537; otherwise connect() fails (EADDRNOTAVAIL).
 *
 * Every 2 MSL is the same length, so the records sit in one list in
 * deadline order (a restart moves a record to the tail), and one stack
 * timer, armed for the head, ends them: no timer per record.
 *
 * Locking: us_tcp.tw_lock protects both hashes, the list, every record and
 * tw_count (written under it, read without it as a hint). It is a leaf
 * below the socket locks and us_tcp.lock (port_clash asks under the
 * latter); segments are sent holding it (IP output is below).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "lockassert.h"
#include "wire/checksum.h"

struct tcp_tw {
	struct tcp_tw *hnext;           /* 4-tuple hash chain */
	struct tcp_tw *pnext;           /* local-port hash chain */
	struct tcp_tw *prev, *next;     /* the list, in deadline order */
	uint32_t laddr, raddr;          /* network order */
	uint16_t lport, rport;          /* network order */
	uint32_t snd_nxt, rcv_nxt;
	uint32_t ts_recent;
	uint64_t ts_recent_at;          /* clock ns; 0: timestamps not in use */
	uint64_t deadline;              /* clock ns */
	uint64_t last_oow;              /* clock ns of the last rate-limited ACK, 0 none */
	uint16_t win;                   /* window field of our ACKs (scaled) */
	uint8_t ttl;
	bool ts_ok;
};

/* Keyed with the ISN secrets (tcp_tuple_hash), so a peer cannot aim its
 * 4-tuples at one chain. */
static unsigned tw_hash(const struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
		       uint16_t rport)
{
	return (unsigned)tcp_tuple_hash(tcp, laddr, lport, raddr, rport) & (US_TCP_HASH - 1);
}

static unsigned tw_port_hash(uint16_t port) { return ntohs(port) & (US_TCP_HASH - 1); }

static void tw_fire(void *arg);

void tcp_tw_init(struct us_tcp *tcp)
{
	pthread_mutex_init(&tcp->tw_lock, NULL);
	tcp->tw_hash = calloc(US_TCP_HASH, sizeof *tcp->tw_hash);
	tcp->tw_port = calloc(US_TCP_HASH, sizeof *tcp->tw_port);
	tcp->tw_head = tcp->tw_tail = NULL;
	atomic_init(&tcp->tw_count, 0);
	us_timer_init(&tcp->tw_timer, tw_fire, tcp);
}

size_t tcp_tw_tuples(struct us_tcp *tcp, struct tcp_tuple *v, size_t cap)
{
	size_t n = 0;
	pthread_mutex_lock(&tcp->tw_lock);
	for (struct tcp_tw *r = tcp->tw_head; r; r = r->next, n++)
		if (n < cap)
			v[n] = (struct tcp_tuple){ r->laddr, r->raddr, r->lport, r->rport };
	pthread_mutex_unlock(&tcp->tw_lock);
	return n;
}

/* With tw_lock held: take r out of everything (not freed). */
static void tw_unlink(struct us_tcp *tcp, struct tcp_tw *r)
{
	struct tcp_tw **pp = &tcp->tw_hash[tw_hash(tcp, r->laddr, r->lport, r->raddr, r->rport)];
	while (*pp != r)
		pp = &(*pp)->hnext;
	*pp = r->hnext;
	pp = &tcp->tw_port[tw_port_hash(r->lport)];
	while (*pp != r)
		pp = &(*pp)->pnext;
	*pp = r->pnext;
	if (r->prev)
		r->prev->next = r->next;
	else
		tcp->tw_head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		tcp->tw_tail = r->prev;
	atomic_store_explicit(&tcp->tw_count, atomic_load_explicit(&tcp->tw_count,
			      memory_order_relaxed) - 1, memory_order_relaxed);
}

/* With tw_lock held: r (not in the list) goes to the tail with deadline d. */
static void tw_append(struct us_tcp *tcp, struct tcp_tw *r, uint64_t d)
{
	r->deadline = d;
	r->next = NULL;
	r->prev = tcp->tw_tail;
	if (tcp->tw_tail)
		tcp->tw_tail->next = r;
	else
		tcp->tw_head = r;
	tcp->tw_tail = r;
	if (tcp->tw_head == r)
		us_timer_arm(&tcp->st->wheel, &tcp->tw_timer, d);
}

/* With tw_lock held: 2 MSL from now for r. */
static void tw_restart(struct us_tcp *tcp, struct tcp_tw *r, uint64_t now)
{
	uint64_t d = now + (uint64_t)tcp->st->cfg.tcp.time_wait_s * US_NS_PER_SEC;
	if (r->prev)
		r->prev->next = r->next;
	else
		tcp->tw_head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		tcp->tw_tail = r->prev;
	tw_append(tcp, r, d);
	/* The head may have changed: the timer follows it (a firing for an
	 * older head finds nothing due and re-arms). */
	if (tcp->tw_head && tcp->tw_head != r)
		us_timer_arm(&tcp->st->wheel, &tcp->tw_timer, tcp->tw_head->deadline);
}

static void tw_fire(void *arg)
{
	struct us_tcp *tcp = arg;
	uint64_t now = us_now(tcp->st);
	pthread_mutex_lock(&tcp->tw_lock);
	struct tcp_tw *r;
	while ((r = tcp->tw_head) && r->deadline <= now) {
		tw_unlink(tcp, r);
		free(r);
	}
	if (tcp->tw_head)
		us_timer_arm(&tcp->st->wheel, &tcp->tw_timer, tcp->tw_head->deadline);
	pthread_mutex_unlock(&tcp->tw_lock);
}

void tcp_tw_destroy(struct us_tcp *tcp)
{
	if (!tcp->tw_hash || !tcp->tw_port) {   /* never initialised, or no memory then */
		free(tcp->tw_hash);
		free(tcp->tw_port);
		tcp->tw_hash = tcp->tw_port = NULL;
		return;
	}
	us_timer_cancel_sync(&tcp->st->wheel, &tcp->tw_timer);
	pthread_mutex_lock(&tcp->tw_lock);
	struct tcp_tw *r;
	while ((r = tcp->tw_head)) {
		tw_unlink(tcp, r);
		free(r);
	}
	pthread_mutex_unlock(&tcp->tw_lock);
	free(tcp->tw_hash);
	free(tcp->tw_port);
	tcp->tw_hash = tcp->tw_port = NULL;
	pthread_mutex_destroy(&tcp->tw_lock);
}

/* With tw_lock held. */
static struct tcp_tw *tw_find(struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
			      uint16_t rport)
{
	for (struct tcp_tw *r = tcp->tw_hash[tw_hash(tcp, laddr, lport, raddr, rport)]; r; r = r->hnext)
		if (r->laddr == laddr && r->lport == lport && r->raddr == raddr && r->rport == rport)
			return r;
	return NULL;
}

int tcp_tw_enter(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	struct us_tcp *tcp = &st->tcp;
	struct tcp_tw *r = tcp->tw_hash && tcp->tw_port ? calloc(1, sizeof *r) : NULL;
	if (!r)
		return -ENOMEM;
	uint64_t now = us_now(st);
	r->laddr = t->laddr;
	r->raddr = t->raddr;
	r->lport = t->lport;
	r->rport = t->rport;
	r->snd_nxt = t->snd_max;
	r->rcv_nxt = t->rcv_nxt;
	r->ts_ok = t->ts_ok;
	r->ts_recent = t->ts_recent;
	r->ts_recent_at = t->ts_ok ? (t->ts_recent_at ? t->ts_recent_at : 1) : 0;
	r->ttl = t->sock->ttl;
	/* The window our ACKs offered; it stays as it was (nothing more is
	 * taken in TIME_WAIT). */
	uint32_t win = tcp_rcv_window(t) >> t->rcv_wscale;
	r->win = (uint16_t)(win > 65535 ? 65535 : win);
	pthread_mutex_lock(&tcp->tw_lock);
	if (tw_find(tcp, r->laddr, r->lport, r->raddr, r->rport)) {
		pthread_mutex_unlock(&tcp->tw_lock);
		free(r);
		return -EEXIST;
	}
	unsigned h = tw_hash(tcp, r->laddr, r->lport, r->raddr, r->rport);
	r->hnext = tcp->tw_hash[h];
	tcp->tw_hash[h] = r;
	h = tw_port_hash(r->lport);
	r->pnext = tcp->tw_port[h];
	tcp->tw_port[h] = r;
	atomic_store_explicit(&tcp->tw_count, atomic_load_explicit(&tcp->tw_count,
			      memory_order_relaxed) + 1, memory_order_relaxed);
	tw_append(tcp, r, now + (uint64_t)st->cfg.tcp.time_wait_s * US_NS_PER_SEC);
	pthread_mutex_unlock(&tcp->tw_lock);
	return 0;
}

/* With tw_lock held: our ACK of RCV.NXT at SND.NXT, as the connection sent
 * its ACKs (timestamps when in use, DF, its TTL; Linux tcp_v4_timewait_ack). */
static void tw_send_ack(struct us_stack *st, const struct tcp_tw *r)
{
	struct wire_tcp_opts o = { 0 };
	if (r->ts_ok) {
		o.has_ts = true;
		o.tsval = tcp_ts_now(st);
		o.tsecr = r->ts_recent;
	}
	uint8_t h[TCP_MAX_HLEN];
	size_t hl = wire_tcp_build(h, ntohs(r->lport), ntohs(r->rport), r->snd_nxt, r->rcv_nxt,
				   TCP_ACK, r->win, &o);
	uint64_t sum = wire_csum_pseudo(r->laddr, r->raddr, IP_PROTO_TCP, (uint16_t)hl);
	wire_tcp_set_csum(h, wire_csum_fold(wire_csum_add(sum, h, hl)));
	struct us_ip_tx tx = { .src = r->laddr, .dst = r->raddr, .proto = IP_PROTO_TCP,
			       .ttl = r->ttl, .df = true, .ifindex = -1 };
	if (us_ipv4_send(st, &tx, h, hl, NULL, 0) == 0)
		US_STAT_INC(st, TCP_TX_SEGS);
}

/* PAWS (RFC 7323 5.3) against the record, as the connection would. */
static bool tw_paws_reject(const struct tcp_tw *r, const struct wire_tcp *g, uint64_t now)
{
	return r->ts_ok && g->opt.has_ts && !(g->flags & TCP_RST) &&
	       (int32_t)(g->opt.tsval - r->ts_recent) < 0 && now - r->ts_recent_at < US_TCP_PAWS_IDLE_NS;
}

enum tcp_tw_verdict tcp_tw_input(struct us_stack *st, const struct wire_ip4 *ip,
				 const struct wire_tcp *g, uint32_t *isn)
{
	struct us_tcp *tcp = &st->tcp;
	if (!atomic_load_explicit(&tcp->tw_count, memory_order_relaxed))
		return TW_NONE;
	uint64_t now = us_now(st);
	pthread_mutex_lock(&tcp->tw_lock);
	struct tcp_tw *r = tw_find(tcp, ip->dst, htons(g->dport), ip->src, htons(g->sport));
	if (!r) {
		pthread_mutex_unlock(&tcp->tw_lock);
		return TW_NONE;
	}
	uint32_t seq = g->seq, end = g->seq + (uint32_t)g->payload_len +
				     !!(g->flags & TCP_SYN) + !!(g->flags & TCP_FIN);
	bool paws = tw_paws_reject(r, g, now);
	/* At RCV.NXT and empty: a bare ACK (silent, restarts 2 MSL) or an RST
	 * (ends TIME_WAIT: RFC 9293 3.10.7.4 second check, Linux tcp_rfc1337 = 0). */
	if (!paws && seq == r->rcv_nxt && (seq == end || (g->flags & TCP_RST))) {
		if (g->flags & TCP_RST) {
			US_STAT_INC(st, TCP_RX_RST);
			tw_unlink(tcp, r);
			free(r);
		} else {
			if (r->ts_ok && g->opt.has_ts) {
				r->ts_recent = g->opt.tsval;
				r->ts_recent_at = now ? now : 1;
			}
			tw_restart(tcp, r, now);
		}
		pthread_mutex_unlock(&tcp->tw_lock);
		return TW_DONE;
	}
	/* A new SYN (RFC 9293 3.10.7.4 note, RFC 6191). */
	if ((g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && !paws &&
	    (seq_gt(seq, r->rcv_nxt) ||
	     (r->ts_ok && g->opt.has_ts && (int32_t)(g->opt.tsval - r->ts_recent) > 0))) {
		uint32_t i = r->snd_nxt + 65535 + 2;
		*isn = i ? i : 1;
		tw_unlink(tcp, r);
		free(r);
		pthread_mutex_unlock(&tcp->tw_lock);
		return TW_SYN;
	}
	if (paws)
		US_STAT_INC(st, TCP_PAWS_DROPS);
	if (!(g->flags & TCP_RST)) {
		US_STAT_INC(st, TCP_OUT_OF_WINDOW);
		if (paws || (g->flags & TCP_ACK))
			tw_restart(tcp, r, now);
		/* Linux tcp_timewait_check_oow_rate_limit: one answer per 500 ms. */
		if (r->last_oow && now - r->last_oow < US_TCP_INVALID_RATELIMIT_MS * US_NS_PER_MS) {
			US_STAT_INC(st, TCP_ACK_RATELIMITED);
		} else {
			r->last_oow = now ? now : 1;
			tw_send_ack(st, r);
		}
	}
	pthread_mutex_unlock(&tcp->tw_lock);
	return TW_DONE;
}

bool tcp_tw_port_busy(struct us_tcp *tcp, uint32_t addr, uint16_t port)
{
	if (!atomic_load_explicit(&tcp->tw_count, memory_order_relaxed))
		return false;
	bool busy = false;
	pthread_mutex_lock(&tcp->tw_lock);
	for (struct tcp_tw *r = tcp->tw_port[tw_port_hash(port)]; r && !busy; r = r->pnext)
		busy = r->lport == port &&
		       (r->laddr == addr || addr == INADDR_ANY || r->laddr == INADDR_ANY);
	pthread_mutex_unlock(&tcp->tw_lock);
	return busy;
}

int tcp_tw_takeover(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, uint32_t *isn)
{
	struct us_tcp *tcp = &st->tcp;
	if (!atomic_load_explicit(&tcp->tw_count, memory_order_relaxed))
		return 0;
	uint64_t now = us_now(st);
	pthread_mutex_lock(&tcp->tw_lock);
	struct tcp_tw *r = tw_find(tcp, laddr, lport, raddr, rport);
	int rc = 0;
	if (r) {
		if (r->ts_ok && now - r->ts_recent_at >= US_NS_PER_SEC) {
			uint32_t i = r->snd_nxt + 65535 + 2;
			*isn = i ? i : 1;
			tw_unlink(tcp, r);
			free(r);
			rc = 1;
		} else {
			rc = -EADDRINUSE;
		}
	}
	pthread_mutex_unlock(&tcp->tw_lock);
	return rc;
}

int tcp_tw_count(struct us_stack *st)
{
	return (int)atomic_load_explicit(&st->tcp.tw_count, memory_order_relaxed);
}

bool tcp_tw_lookup(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		   uint16_t rport, struct tcp_tw_info *out)
{
	struct us_tcp *tcp = &st->tcp;
	pthread_mutex_lock(&tcp->tw_lock);
	struct tcp_tw *r = tw_find(tcp, laddr, lport, raddr, rport);
	if (r && out) {
		out->snd_nxt = r->snd_nxt;
		out->rcv_nxt = r->rcv_nxt;
		out->deadline = r->deadline;
	}
	pthread_mutex_unlock(&tcp->tw_lock);
	return r != NULL;
}

size_t tcp_tw_list(struct us_stack *st, struct tcp_tw_info *out, size_t max)
{
	struct us_tcp *tcp = &st->tcp;
	size_t n = 0;
	pthread_mutex_lock(&tcp->tw_lock);
	for (struct tcp_tw *r = tcp->tw_head; r && n < max; r = r->next, n++) {
		out[n].laddr = r->laddr;
		out[n].raddr = r->raddr;
		out[n].lport = r->lport;
		out[n].rport = r->rport;
		out[n].snd_nxt = r->snd_nxt;
		out[n].rcv_nxt = r->rcv_nxt;
		out[n].deadline = r->deadline;
	}
	pthread_mutex_unlock(&tcp->tw_lock);
	return n;
}
