/*
 * tcp_syncache.c — SYN_RCVD as a compact entry (FreeBSD's syncache, Linux's
 * request sock), not a socket and control block.
 *
 * A SYN to a listener with room in its SYN queue (syn_count + acc_count
 * below the backlog) makes a struct tcp_syn: the 4-tuple, both initial
 * sequence numbers, what the SYN negotiated (MSS, window scale, SACK,
 * timestamps), the SYN-ACK's window, a retransmission count and one timer
 * (about 200 bytes, against a socket, TCB and their timers). The SYN-ACK
 * goes out from it and is retransmitted from it (initial RTO, doubling,
 * `syn_retries` times, then the entry is dropped silently, as a SYN_RCVD
 * child's REXMIT did). The ACK that completes the handshake (ACK = ISS + 1)
 * makes the socket then (tcp_input.c, the same path as a SYN cookie's ACK),
 * which establishes it, queues it for accept and takes its data. A queue
 * that is full still answers with cookies (or drops), as before.
 *
 * What an entry answers, as the SYN_RCVD child did: the same SYN again
 * gets the SYN-ACK again (at most one per 500 ms); an RST at IRS + 1 drops
 * the entry (and frees its backlog slot), another RST in the window gets
 * a challenge ACK; an ACK of anything but ISS + 1 gets an RST; a hard ICMP
 * error about the SYN-ACK drops it. Closing the listener drops its entries.
 *
 * Locking: us_tcp.syn_lock protects the hash, every entry and syn_total;
 * it is taken under the listener's socket lock (never the other way), and
 * segments are sent holding it. An entry holds a reference to its listener.
 * Its timer callback takes syn_lock; to count an entry out of the
 * listener's syn_count it first unlinks it, drops syn_lock and then locks
 * the listener. An entry taken out while its callback is already due is
 * marked dead and freed by that callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "lockassert.h"

struct tcp_syn {
	struct tcp_syn *next;           /* hash chain */
	struct us_tcp *tcp;
	struct us_sock *ls;             /* the listener (a reference) */
	struct tcp_synparams p;
	uint16_t user_mss;              /* the listener's TCP_MAXSEG */
	uint8_t ttl;
	uint32_t retries;               /* SYN-ACKs resent by the timer */
	uint64_t rto_ns;                /* the initial RTO */
	uint64_t last_dup;              /* clock ns of the last SYN-ACK for a duplicate SYN */
	bool dead;                      /* unlinked while its timer callback was due */
	struct us_timer timer;
};

/* Keyed with the ISN secrets (tcp_tuple_hash), so a peer cannot aim its
 * 4-tuples at one chain. */
static unsigned syn_hash(const struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
		        uint16_t rport)
{
	return (unsigned)tcp_tuple_hash(tcp, laddr, lport, raddr, rport) & (US_TCP_HASH - 1);
}

void tcp_syncache_init(struct us_tcp *tcp)
{
	pthread_mutex_init(&tcp->syn_lock, NULL);
	tcp->syn_hash = calloc(US_TCP_HASH, sizeof *tcp->syn_hash);
	atomic_init(&tcp->syn_total, 0);
}

size_t tcp_syncache_tuples(struct us_tcp *tcp, struct tcp_tuple *v, size_t cap)
{
	size_t n = 0;
	pthread_mutex_lock(&tcp->syn_lock);
	for (int h = 0; h < US_TCP_HASH; h++)
		for (struct tcp_syn *e = tcp->syn_hash[h]; e; e = e->next, n++)
			if (n < cap)
				v[n] = (struct tcp_tuple){ e->p.laddr, e->p.raddr, e->p.lport,
							   e->p.rport };
	pthread_mutex_unlock(&tcp->syn_lock);
	return n;
}

/* With syn_lock held. */
static struct tcp_syn **syn_slot(struct us_tcp *tcp, uint32_t laddr, uint16_t lport,
				 uint32_t raddr, uint16_t rport)
{
	struct tcp_syn **pp = &tcp->syn_hash[syn_hash(tcp, laddr, lport, raddr, rport)];
	while (*pp && !((*pp)->p.laddr == laddr && (*pp)->p.lport == lport &&
			(*pp)->p.raddr == raddr && (*pp)->p.rport == rport))
		pp = &(*pp)->next;
	return pp;
}

static void total_add(struct us_tcp *tcp, int d)
{
	atomic_store_explicit(&tcp->syn_total,
			      atomic_load_explicit(&tcp->syn_total, memory_order_relaxed) + (size_t)d,
			      memory_order_relaxed);
}

/*
 * With syn_lock held: e leaves the hash. Returns whether the caller frees
 * it (its timer was cancelled), else its callback will.
 */
static bool syn_unlink(struct us_tcp *tcp, struct tcp_syn **pp)
{
	struct tcp_syn *e = *pp;
	*pp = e->next;
	total_add(tcp, -1);
	/* An entry in the hash always has its timer armed or its callback
	 * due (the callback re-arms or unlinks under syn_lock). */
	if (us_timer_cancel(&tcp->st->wheel, &e->timer))
		return true;
	e->dead = true;
	return false;
}

static void syn_free(struct tcp_syn *e)
{
	us_sock_put(e->ls);
	free(e);
}

/* The SYN-ACK (or with flags ACK only, a challenge ACK) of entry e. */
static void syn_send(struct us_stack *st, struct tcp_syn *e, uint8_t flags)
{
	e->p.segs_out++;
	struct tcp_synack a = {
		.laddr = e->p.laddr, .raddr = e->p.raddr, .lport = e->p.lport, .rport = e->p.rport,
		.seq = flags & TCP_SYN ? e->p.iss : e->p.iss + 1, .ack = e->p.irs + 1,
		.flags = flags, .win = e->p.win, .user_mss = e->user_mss, .ttl = e->ttl,
		.ws_ok = e->p.ws_ok, .wscale = e->p.rcv_wscale, .sack_ok = e->p.sack_ok,
		.ts_ok = e->p.ts_ok, .tsecr = e->p.ts_recent,
	};
	tcp_send_synack_to(st, &a);
}

static void syn_fire(void *arg)
{
	struct tcp_syn *e = arg;
	struct us_tcp *tcp = e->tcp;
	struct us_stack *st = tcp->st;
	const struct us_tcp_config *c = &st->cfg.tcp;
	pthread_mutex_lock(&tcp->syn_lock);
	if (e->dead) {
		pthread_mutex_unlock(&tcp->syn_lock);
		syn_free(e);
		return;
	}
	uint64_t now = us_now(st);
	if (e->retries >= c->syn_retries) {
		/* Given up (RFC 6298 5.5 backoff, `syn_retries` as Linux's
		 * tcp_synack_retries): the entry goes, silently. */
		US_STAT_INC(st, TCP_TIMEOUTS);
		*syn_slot(tcp, e->p.laddr, e->p.lport, e->p.raddr, e->p.rport) = e->next;
		total_add(tcp, -1);
		pthread_mutex_unlock(&tcp->syn_lock);
		pthread_mutex_lock(&e->ls->lock);
		if (e->ls->tcb)
			e->ls->tcb->syn_count--;
		pthread_mutex_unlock(&e->ls->lock);
		syn_free(e);
		return;
	}
	e->retries++;
	US_STAT_INC(st, TCP_RTO_FIRED);
	US_STAT_INC(st, TCP_RETRANS_SEGS);
	syn_send(st, e, TCP_SYN | TCP_ACK);
	uint64_t rto = e->rto_ns << (e->retries > 16 ? 16 : e->retries);
	if (rto > (uint64_t)US_TCP_RTO_MAX_MS * US_NS_PER_MS)
		rto = (uint64_t)US_TCP_RTO_MAX_MS * US_NS_PER_MS;
	us_timer_arm(&st->wheel, &e->timer, now + rto);
	pthread_mutex_unlock(&tcp->syn_lock);
}

int tcp_syncache_add(struct us_sock *ls, const struct tcp_synparams *p)
{
	US_ASSERT_LOCKED(&ls->lock);
	struct us_stack *st = ls->st;
	struct us_tcp *tcp = &st->tcp;
	const struct us_tcp_config *c = &st->cfg.tcp;
	struct tcp_syn *e = tcp->syn_hash ? calloc(1, sizeof *e) : NULL;
	if (!e)
		return -ENOMEM;
	e->tcp = tcp;
	e->ls = ls;
	e->p = *p;
	e->user_mss = ls->tcb->user_mss;
	e->ttl = ls->ttl;
	e->rto_ns = (uint64_t)(c->rto_initial_ms ? c->rto_initial_ms : 1000) * US_NS_PER_MS;
	us_timer_init(&e->timer, syn_fire, e);
	pthread_mutex_lock(&tcp->syn_lock);
	struct tcp_syn **pp = syn_slot(tcp, p->laddr, p->lport, p->raddr, p->rport);
	if (*pp) {
		pthread_mutex_unlock(&tcp->syn_lock);
		free(e);
		return -EEXIST;
	}
	us_sock_hold(ls);
	*pp = e;
	total_add(tcp, 1);
	ls->tcb->syn_count++;
	/* RFC 7323 Last.ACK.sent and the first TSval: as a child's SYN-ACK. */
	e->p.ts_first = tcp_ts_now(st);
	syn_send(st, e, TCP_SYN | TCP_ACK);
	us_timer_arm(&st->wheel, &e->timer, us_now(st) + e->rto_ns);
	pthread_mutex_unlock(&tcp->syn_lock);
	return 0;
}

enum tcp_syn_verdict tcp_syncache_input(struct us_sock *ls, const struct wire_ip4 *ip,
					const struct wire_tcp *g, struct tcp_synparams *out)
{
	US_ASSERT_LOCKED(&ls->lock);
	struct us_stack *st = ls->st;
	struct us_tcp *tcp = &st->tcp;
	if (!atomic_load_explicit(&tcp->syn_total, memory_order_relaxed))
		return SYN_NONE;
	uint64_t now = us_now(st);
	pthread_mutex_lock(&tcp->syn_lock);
	struct tcp_syn **pp = syn_slot(tcp, ip->dst, htons(g->dport), ip->src, htons(g->sport));
	struct tcp_syn *e = *pp;
	if (!e || e->ls != ls) {
		pthread_mutex_unlock(&tcp->syn_lock);
		return SYN_NONE;
	}
	enum tcp_syn_verdict v = SYN_DONE;
	uint8_t f = g->flags & (TCP_SYN | TCP_ACK | TCP_RST);
	if (f == TCP_SYN && g->seq == e->p.irs) {
		/* The SYN again: our SYN-ACK was probably lost (Linux tcp_check_req),
		 * answered at most once per 500 ms (tcp_invalid_ratelimit). */
		if (e->last_dup && now - e->last_dup < US_TCP_INVALID_RATELIMIT_MS * US_NS_PER_MS) {
			US_STAT_INC(st, TCP_ACK_RATELIMITED);
		} else {
			e->last_dup = now ? now : 1;
			US_STAT_INC(st, TCP_RETRANS_SEGS);
			syn_send(st, e, TCP_SYN | TCP_ACK);
		}
	} else if (g->flags & TCP_RST) {
		uint32_t rcv_nxt = e->p.irs + 1;
		if (g->seq == rcv_nxt) {
			US_STAT_INC(st, TCP_RX_RST);
			ls->tcb->syn_count--;
			bool mine = syn_unlink(tcp, pp);
			pthread_mutex_unlock(&tcp->syn_lock);
			if (mine)
				syn_free(e);
			return SYN_DONE;
		}
		if (seq_gt(g->seq, rcv_nxt) && seq_lt(g->seq, rcv_nxt + e->p.win)) {
			US_STAT_INC(st, TCP_CHALLENGE_ACKS);        /* RFC 5961 3.2 */
			syn_send(st, e, TCP_ACK);
		}
	} else if (f & TCP_SYN) {
		/* Another SYN on this 4-tuple (RFC 5961 4.2): a challenge ACK. */
		US_STAT_INC(st, TCP_CHALLENGE_ACKS);
		syn_send(st, e, TCP_ACK);
	} else if (f == TCP_ACK) {
		if (g->ack != e->p.iss + 1) {
			tcp_send_rst_to(st, ip->dst, ip->src, htons(g->dport), htons(g->sport), g->ack, 0,
					TCP_RST);
		} else {
			/* The handshake completes: the caller makes the socket. */
			*out = e->p;
			ls->tcb->syn_count--;
			bool mine = syn_unlink(tcp, pp);
			pthread_mutex_unlock(&tcp->syn_lock);
			if (mine)
				syn_free(e);
			return SYN_ESTABLISH;
		}
	}
	pthread_mutex_unlock(&tcp->syn_lock);
	return v;
}

void tcp_syncache_drop_listener(struct us_sock *ls)
{
	US_ASSERT_LOCKED(&ls->lock);
	struct us_tcp *tcp = &ls->st->tcp;
	if (!atomic_load_explicit(&tcp->syn_total, memory_order_relaxed) || !tcp->syn_hash)
		return;
	struct tcp_syn *gone = NULL;
	pthread_mutex_lock(&tcp->syn_lock);
	for (int h = 0; h < US_TCP_HASH; h++) {
		struct tcp_syn **pp = &tcp->syn_hash[h];
		while (*pp) {
			struct tcp_syn *e = *pp;
			if (e->ls != ls) {
				pp = &e->next;
				continue;
			}
			if (ls->tcb)
				ls->tcb->syn_count--;
			if (syn_unlink(tcp, pp)) {
				e->next = gone;
				gone = e;
			}
		}
	}
	pthread_mutex_unlock(&tcp->syn_lock);
	while (gone) {
		struct tcp_syn *e = gone;
		gone = e->next;
		syn_free(e);    /* the caller's reference keeps ls alive */
	}
}

bool tcp_syncache_error(struct us_sock *ls, uint32_t laddr, uint16_t lport, uint32_t raddr,
			uint16_t rport, uint32_t seq, bool hard)
{
	US_ASSERT_LOCKED(&ls->lock);
	struct us_tcp *tcp = &ls->st->tcp;
	if (!atomic_load_explicit(&tcp->syn_total, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&tcp->syn_lock);
	struct tcp_syn **pp = syn_slot(tcp, laddr, lport, raddr, rport);
	struct tcp_syn *e = *pp;
	if (!e || e->ls != ls || seq != e->p.iss) {
		if (e && e->ls == ls)
			US_STAT_INC(ls->st, TCP_ICMP_OUT_OF_WINDOW);
		pthread_mutex_unlock(&tcp->syn_lock);
		return e != NULL;
	}
	bool mine = false;
	if (hard) {
		ls->tcb->syn_count--;
		mine = syn_unlink(tcp, pp);
	}
	pthread_mutex_unlock(&tcp->syn_lock);
	if (mine)
		syn_free(e);
	return true;
}

bool tcp_syncache_lookup(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport, struct tcp_synparams *out)
{
	struct us_tcp *tcp = &st->tcp;
	if (!tcp->syn_hash)
		return false;
	pthread_mutex_lock(&tcp->syn_lock);
	struct tcp_syn *e = *syn_slot(tcp, laddr, lport, raddr, rport);
	if (e && out)
		*out = e->p;
	pthread_mutex_unlock(&tcp->syn_lock);
	return e != NULL;
}

int tcp_syncache_count(struct us_stack *st)
{
	return (int)atomic_load_explicit(&st->tcp.syn_total, memory_order_relaxed);
}

void tcp_syncache_destroy(struct us_tcp *tcp)
{
	if (!tcp->syn_hash)
		return;
	/* Listeners dropped their entries when they closed; anything left
	 * (a listener never closed) goes here. */
	for (int h = 0; h < US_TCP_HASH; h++) {
		struct tcp_syn *e;
		while ((e = tcp->syn_hash[h])) {
			tcp->syn_hash[h] = e->next;
			us_timer_cancel_sync(&tcp->st->wheel, &e->timer);
			syn_free(e);
		}
	}
	atomic_store(&tcp->syn_total, 0);
	free(tcp->syn_hash);
	tcp->syn_hash = NULL;
	pthread_mutex_destroy(&tcp->syn_lock);
}
