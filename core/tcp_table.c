/*
 * tcp_table.c — TCP connection tables, port binding, ISNs, control block
 * lifetime and the byte rings.
 *
 * Hash tables under one rwlock: conn[] by 4-tuple (every connection from
 * SYN_SENT/SYN_RCVD through TIME_WAIT), port[] by local port (every TCB
 * that owns its port: bound, listening, or connected from a bound port)
 * and eph[] by local port (connections on a port connect() chose, which
 * other connections to other peers may share: tcp_connect_hash). A TCB
 * in any holds one reference to its socket, dropped when it leaves all.
 *
 * conn[] is keyed with the ISN secret (as Linux keys its established hash
 * with a random secret): without the key a peer cannot choose 4-tuples
 * that fall into one chain. It starts at US_TCP_CONN_MIN buckets and
 * doubles, under the write lock the insert holds anyway, whenever it holds
 * more connections than buckets, so chains stay about one long at any
 * scale (100,000 connections: 131,072 buckets, 1 MiB). It does not
 * shrink.
 *
 * ISN (RFC 6528): ISN = M + F(4-tuple, secret), M a 4 µs clock, F a keyed
 * mixing function of the 4-tuple (the secret comes from the stack's
 * generator, seeded in deterministic mode).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockproto.h"
#include "stack.h"
#include "wire/checksum.h"
#include "tcp.h"
#include "lockassert.h"

static const char *const state_names[] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

static uint64_t mix(uint64_t x);

int us_tcp_init(struct us_stack *st, struct us_tcp *t)
{
	pthread_rwlock_init(&t->lock, NULL);
	t->conn = calloc(US_TCP_CONN_MIN, sizeof *t->conn);
	t->conn_buckets = t->conn ? US_TCP_CONN_MIN : 0;        /* us_tcp_destroy copes with 0 */
	t->conn_count = 0;
	t->conn_resizes = 0;
	memset(t->port, 0, sizeof t->port);
	t->isn_key[0] = us_rng_u64(&st->rng);
	t->isn_key[1] = us_rng_u64(&st->rng);
	/* Derived, not drawn: the random sequence after this stays as it was. */
	t->cookie_key[0] = mix(t->isn_key[0] ^ 0x73796e636f6f6b31ULL);
	t->cookie_key[1] = mix(t->isn_key[1] ^ 0x73796e636f6f6b32ULL);
	atomic_init(&t->eph_next, us_rng_u32(&st->rng));
	atomic_init(&t->fail_inserts, 0);
	atomic_init(&t->fail_arrays, 0);
	t->st = st;
	tcp_tw_init(t);
	tcp_syncache_init(t);
	return t->conn ? 0 : -ENOMEM;
}

/* Any control block still in a table, or NULL. */
static struct us_tcb *any_tcb(struct us_tcp *t)
{
	struct us_tcb *found = NULL;
	pthread_rwlock_rdlock(&t->lock);
	for (unsigned h = 0; h < t->conn_buckets && !found; h++)
		found = t->conn[h];
	for (int h = 0; h < US_TCP_HASH && !found; h++)
		found = t->port[h];
	pthread_rwlock_unlock(&t->lock);
	return found;
}

/*
 * From us_stack_free(), after every thread stopped and every descriptor
 * was closed (the timer wheel still exists). What the tables still hold
 * are connections the application already closed: orphans in FIN_WAIT,
 * CLOSING, LAST_ACK or TIME_WAIT and embryos in SYN_RCVD. Each is kept
 * alive by the tables' reference and its armed timers' references, so
 * end it like any other connection (tcp_done drops both, and a child's
 * hold on its listener) and the last reference frees it.
 */
void us_tcp_destroy(struct us_tcp *t)
{
	struct us_tcb *tcb;
	while ((tcb = any_tcb(t)) != NULL) {
		struct us_sock *s = tcb->sock;
		us_sock_hold(s);
		pthread_mutex_lock(&s->lock);
		if (s->tcb == tcb)
			tcp_done(tcb, 0);
		pthread_mutex_unlock(&s->lock);
		us_sock_put(s);
	}
	tcp_tw_destroy(t);
	tcp_syncache_destroy(t);
	pthread_rwlock_destroy(&t->lock);
	free(t->conn);
	t->conn = NULL;
}

/* ---- rings ---- */

/*
 * Rings are allocated lazily and grown on demand (tcp.h): size bytes of
 * memory, never more than cap, positions modulo size. Growing copies the
 * ring into a buffer twice as large (or as large as one write needs), so
 * a connection that moves B bytes at most pays O(log(cap)) allocations
 * and copies of O(cap) bytes in all, not one per segment; after
 * US_TCP_RING_IDLE_MS with an empty ring the memory goes back.
 */

uint32_t ring_free(const struct tcp_ring *r)
{
	return r->cap - r->len;
}

void ring_write(struct tcp_ring *r, uint32_t off, const void *src, uint32_t n)
{
	if (!n)
		return;
	uint32_t pos = (r->head + off) % r->size;
	uint32_t first = r->size - pos < n ? r->size - pos : n;
	memcpy(r->buf + pos, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, n - first);
}

void ring_read(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t n)
{
	if (!n)
		return;
	uint32_t pos = (r->head + off) % r->size;
	uint32_t first = r->size - pos < n ? r->size - pos : n;
	memcpy(dst, r->buf + pos, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

void ring_consume(struct tcp_ring *r, uint32_t n)
{
	if (!n)
		return;
	r->head = (r->head + n) % r->size;
	r->len -= n;
}

/* Move r into a new buffer of size bytes, its first min(old, new size)
 * bytes from the head kept in place (out-of-order bytes past len too). */
static int ring_realloc(struct tcp_ring *r, uint32_t size)
{
	uint8_t *nb = malloc(size);
	if (!nb)
		return -ENOMEM;
	if (r->buf)
		ring_read(r, 0, nb, r->size < size ? r->size : size);
	free(r->buf);
	r->buf = nb;
	r->size = size;
	r->head = 0;
	return 0;
}

int ring_resize(struct tcp_ring *r, uint32_t cap)
{
	/* The caller keeps cap at or above every byte held (in-order and
	 * out-of-order), so a buffer shrunk to cap bytes keeps them all. */
	if (r->size > cap && ring_realloc(r, cap) < 0)
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

void ring_release(struct tcp_ring *r)
{
	if (r->len)
		return;
	free(r->buf);
	r->buf = NULL;
	r->size = r->head = 0;
}

/* Room for need bytes from the head: 0, 1 if it grew, -ENOMEM. */
static int ring_reserve(struct tcp_ring *r, uint32_t need)
{
	if (need <= r->size)
		return 0;
	uint64_t size = r->size ? (uint64_t)r->size * 2 : US_TCP_RING_MIN;
	while (size < need)
		size *= 2;
	if (size > r->cap)
		size = r->cap > need ? r->cap : need;
	return ring_realloc(r, (uint32_t)size) < 0 ? -ENOMEM : 1;
}

/* Room for need bytes from the ring's head, grown if it must be (counted). */
static bool tcb_ring_reserve(struct us_tcb *t, struct tcp_ring *r, uint32_t need)
{
	int rc = ring_reserve(r, need);
	if (rc < 0) {
		US_STAT_INC(t->sock->st, TCP_RING_NOMEM);
		return false;
	}
	if (rc > 0)
		US_STAT_INC(t->sock->st, TCP_RING_GROWS);
	return true;
}

bool tcb_ring_write(struct us_tcb *t, struct tcp_ring *r, uint32_t off, const void *src,
		    uint32_t n)
{
	if (!n)
		return true;
	if (!tcb_ring_reserve(t, r, off + n))
		return false;
	ring_write(r, off, src, n);
	return true;
}

bool tcb_ring_write_csum(struct us_tcb *t, struct tcp_ring *r, uint32_t off, const void *src,
			 uint32_t n, uint64_t *sum, size_t at)
{
	if (!n)
		return true;
	if (!tcb_ring_reserve(t, r, off + n))
		return false;
	uint32_t pos = (r->head + off) % r->size;
	uint32_t first = r->size - pos < n ? r->size - pos : n;
	*sum = wire_csum_copy_at(*sum, r->buf + pos, src, first, at);
	*sum = wire_csum_copy_at(*sum, r->buf, (const uint8_t *)src + first, n - first, at + first);
	return true;
}

void tcb_rings_idle(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (t->state == TCPS_CLOSED || t->state == TCPS_LISTEN) {
		/* No connection, so no timer (tcp_done cleared them): nothing
		 * more will come, the empty rings go now. */
		ring_release(&t->sndq);
		if (!t->nooo)
			ring_release(&t->rcvq);
		return;
	}
	uint64_t now = us_now(t->sock->st);
	t->rings_idle_at = now;
	/* Lazy: one timer per idle period, however often the rings empty. */
	if (!t->deadline[TT_RINGS])
		tcp_timer_set(t, TT_RINGS, now + (uint64_t)US_TCP_RING_IDLE_MS * US_NS_PER_MS);
}

/* Does t hold an array (tcb_array_get) it does not need now: out-of-order
 * ranges and none held, a scoreboard or RACK log and nothing in flight? */
static bool arrays_idle(const struct us_tcb *t)
{
	return (t->ooo && !t->nooo) || ((t->sb || t->xl) && t->snd_una == t->snd_max);
}

void tcb_rings_trim(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	uint64_t now = us_now(t->sock->st), idle = (uint64_t)US_TCP_RING_IDLE_MS * US_NS_PER_MS;
	bool snd = t->sndq.buf && !t->sndq.len;
	bool rcv = t->rcvq.buf && !t->rcvq.len && !t->nooo;
	if (!snd && !rcv && !arrays_idle(t))
		return;         /* in use again: the next time one empties re-arms */
	if (now - t->rings_idle_at < idle) {
		tcp_timer_set(t, TT_RINGS, t->rings_idle_at + idle);
		return;
	}
	/* The arrays only loss and reordering need go with the rings. */
	tcb_arrays_release(t, false);
	if (snd) {
		ring_release(&t->sndq);
		US_STAT_INC(t->sock->st, TCP_RING_RELEASES);
	}
	if (rcv) {
		ring_release(&t->rcvq);
		US_STAT_INC(t->sock->st, TCP_RING_RELEASES);
	}
}

/* ---- arrays allocated at first use (tcp.h) ---- */

bool tcb_array_get(struct us_tcb *t, enum tcb_array a)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	void **slot;
	size_t size;
	switch (a) {
	case TCB_ARR_OOO:
		slot = (void **)&t->ooo;
		size = US_TCP_OOO_MAX * sizeof *t->ooo;
		break;
	case TCB_ARR_SB:
		slot = (void **)&t->sb;
		size = US_TCP_SB_MAX * sizeof *t->sb;
		break;
	default:
		slot = (void **)&t->xl;
		size = US_TCP_XL_MAX * sizeof *t->xl;
		break;
	}
	if (*slot)
		return true;
	if (t->arr_nomem & a)
		return false;
	/* fail_arrays: a test's stand-in for malloc failing (tcp.h). */
	bool fail = atomic_load_explicit(&st->tcp.fail_arrays, memory_order_relaxed) > 0 &&
		    atomic_fetch_sub_explicit(&st->tcp.fail_arrays, 1, memory_order_relaxed) > 0;
	*slot = fail ? NULL : malloc(size);
	if (!*slot) {
		t->arr_nomem |= (uint8_t)a;
		US_STAT_INC(st, TCP_ARRAY_NOMEM);
		return false;
	}
	US_STAT_INC(st, TCP_ARRAY_ALLOCS);
	return true;
}

/* A released array's failure bit goes too: memory may be there again,
 * the next need tries. The sender's two go only with nothing in flight,
 * so no recovery changes its kind (NewReno or SACK) midway. */
void tcb_arrays_release(struct us_tcb *t, bool all)
{
	if (all || !t->nooo) {
		free(t->ooo);
		t->ooo = NULL;
		t->nooo = 0;
		t->arr_nomem &= (uint8_t)~TCB_ARR_OOO;
	}
	if (all || t->snd_una == t->snd_max) {
		free(t->sb);
		t->sb = NULL;
		t->nsb = 0;
		t->sb_sacked = 0;
		free(t->xl);
		t->xl = NULL;
		t->nxl = 0;
		t->arr_nomem &= (uint8_t)~(TCB_ARR_SB | TCB_ARR_XL);
	}
}

/* ---- control blocks ---- */

struct us_tcb *tcb_new(struct us_sock *s)
{
	struct us_stack *st = s->st;
	struct us_tcb *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	const struct us_tcp_config *c = &st->cfg.tcp;
	t->sock = s;
	t->state = TCPS_CLOSED;
	t->nodelay = c->nodelay;
	t->cc = us_tcp_cc_find(c->congestion);
	if (!t->cc)
		t->cc = &us_tcp_newreno;
	t->reordering = US_TCP_REORDERING;
	t->keepidle_s = US_TCP_KEEPIDLE_S;
	t->keepintvl_s = US_TCP_KEEPINTVL_S;
	t->keepcnt = US_TCP_KEEPCNT;
	t->rto_us = (uint64_t)(c->rto_initial_ms ? c->rto_initial_ms : 1000) * 1000;
	t->sndq.cap = c->sndbuf ? c->sndbuf : 262144;
	t->rcvq.cap = c->rcvbuf ? c->rcvbuf : 262144;
	tcp_timer_init(t);
	return t;
}

/*
 * Forget one connection: everything of it but the socket options, the
 * rings' memory and sizes, the table links and the timers (tcp_done
 * leaves the tables and cancels the timers), as Linux purges its queues
 * in tcp_reset/tcp_done and resets the rest in tcp_disconnect before a
 * socket connects again. A new connection on the same socket so starts
 * from nothing: no queued bytes or FIN of the old one go out, no old
 * out-of-order range or RTT, congestion or timestamp state applies.
 * keep_readable (the connection just ended): the received bytes not yet
 * read and the peer's FIN stay for the application, which Linux also
 * delivers after a reset; the next connect or listen drops them.
 */
void tcb_reset(struct us_tcb *t, bool keep_readable)
{
	const struct us_tcp_config *c = &t->sock->st->cfg.tcp;
	memset(&t->dst, 0, sizeof t->dst);      /* route and neighbour: look up afresh */
	/* Send side. */
	t->iss = t->snd_una = t->snd_nxt = t->snd_max = t->snd_wl1 = t->snd_wl2 = 0;
	t->snd_wnd = t->max_sndwnd = 0;
	t->sndq.head = t->sndq.len = 0;
	ring_release(&t->sndq);
	t->fin_queued = t->fin_sent = false;
	t->fin_seq = 0;
	/* Receive side. */
	t->irs = t->rcv_nxt = t->rcv_adv = 0;
	if (!keep_readable) {
		t->rcvq.head = t->rcvq.len = 0;
		ring_release(&t->rcvq);
		t->fin_rcvd = false;
	}
	t->nooo = 0;
	t->ooo_fin = false;
	t->ooo_fin_seq = 0;
	/* Negotiated options. */
	t->mss = t->peer_mss = 0;
	t->snd_wscale = t->rcv_wscale = 0;
	t->ws_ok = t->ts_ok = t->sack_ok = false;
	t->nsack_recent = 0;
	t->dsack = false;
	t->dsack_start = t->dsack_end = 0;
	t->ts_recent = t->last_ack_sent = t->ts_first = 0;
	t->ts_recent_at = 0;
	/* RTT and RTO (RFC 6298 2.1: back to the initial RTO). */
	t->srtt_us = t->rttvar_us = 0;
	t->have_rtt = false;
	t->rto_us = (uint64_t)(c->rto_initial_ms ? c->rto_initial_ms : 1000) * 1000;
	t->backoff = 0;
	t->rtt_timing = false;
	t->rtt_seq = 0;
	t->rtt_start = 0;
	t->min_rtt_us = 0;
	/* Congestion control (cc->init sets cwnd and ssthresh at the handshake). */
	t->cwnd = t->ssthresh = t->bytes_acked = 0;
	t->dupacks = 0;
	t->in_recovery = t->in_loss = false;
	t->frto = 0;
	t->recover = 0;
	t->reordering = US_TCP_REORDERING;
	memset(&t->stats, 0, sizeof t->stats);
	tcp_sb_clear(t);        /* after snd_una = 0: its marks start there */
	tcp_rack_clear(t);
	tcb_arrays_release(t, true);
	t->last_send = 0;
	/* ACK scheduling and timer state. */
	t->segs_unacked = 0;
	t->ack_now = false;
	t->last_oow_ack = 0;
	t->quick = 0;
	t->pingpong = t->got_data = false;
	t->lrcvtime = 0;
	t->persist_backoff = 0;
	t->probes_out = 0;
	t->keep_probes = 0;
	t->una_stamp = t->persist_stamp = 0;
}

void tcb_free(struct us_tcb *t)
{
	free(t->sndq.buf);
	free(t->rcvq.buf);
	tcb_arrays_release(t, true);
	free(t);
}

/* ---- tables ---- */

uint64_t tcp_tuple_hash(const struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
			uint16_t rport)
{
	uint64_t h = mix(((uint64_t)laddr << 32 | raddr) ^ tcp->isn_key[0]);
	return mix(h ^ ((uint64_t)lport << 16 | rport) ^ tcp->isn_key[1]);
}

unsigned tcp_conn_bucket(const struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport)
{
	return (unsigned)tcp_tuple_hash(tcp, laddr, lport, raddr, rport) & (tcp->conn_buckets - 1);
}

/* With tcp->lock held for writing: double conn[] when it holds more
 * connections than buckets. Out of memory: keep the old one (longer
 * chains, still correct). */
static void conn_maybe_grow(struct us_tcp *tcp)
{
	US_ASSERT_WLOCKED(&tcp->lock);
	if (tcp->conn_count <= tcp->conn_buckets || tcp->conn_buckets >= US_TCP_CONN_MAX)
		return;
	unsigned nb = tcp->conn_buckets * 2;
	struct us_tcb **nc = calloc(nb, sizeof *nc);
	if (!nc)
		return;
	struct us_tcb **old = tcp->conn;
	unsigned ob = tcp->conn_buckets;
	tcp->conn = nc;
	tcp->conn_buckets = nb;
	for (unsigned b = 0; b < ob; b++) {
		for (struct us_tcb *t = old[b], *n; t; t = n) {
			n = t->conn_next;
			unsigned h = tcp_conn_bucket(tcp, t->laddr, t->lport, t->raddr, t->rport);
			t->conn_next = nc[h];
			nc[h] = t;
		}
	}
	free(old);
	tcp->conn_resizes++;
}

static unsigned port_hash(uint16_t port) { return ntohs(port) & (US_TCP_HASH - 1); }

/* With tcp->lock held: does o, which has a port, stop t binding addr:port? */
static bool owner_clashes(const struct us_tcb *o, const struct us_tcb *t, uint32_t addr,
			  uint16_t port, bool reuse)
{
	if (o == t || o->lport != port)
		return false;
	if (o->laddr != INADDR_ANY && addr != INADDR_ANY && o->laddr != addr)
		return false;
	/* SO_REUSEADDR (Linux): allowed unless the other one listens, and
	 * always past a connection in TIME_WAIT. */
	return !(reuse && (o->tbl_timewait || (o->tbl_reuse && !o->tbl_listen)));
}

/* With tcp->lock held: does binding t to addr:port clash with another TCB
 * (one that owns the port, or a connection on a port connect() chose)? */
static bool port_clash(struct us_tcp *tcp, const struct us_tcb *t, uint32_t addr, uint16_t port,
		       bool reuse)
{
	unsigned h = port_hash(port);
	for (struct us_tcb *o = tcp->port[h]; o; o = o->port_next)
		if (owner_clashes(o, t, addr, port, reuse))
			return true;
	for (struct us_tcb *o = tcp->eph[h]; o; o = o->port_next)
		if (owner_clashes(o, t, addr, port, reuse))
			return true;
	/* TIME_WAIT records hold their port too, except against SO_REUSEADDR (Linux). */
	return !reuse && tcp_tw_port_busy(tcp, addr, port);
}

static void hold_for_tables(struct us_tcb *t)
{
	if (!t->in_conn && !t->in_port)
		us_sock_hold(t->sock);
}

int tcp_port_bind(struct us_tcb *t, uint32_t addr, uint16_t port, bool reuse)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_tcp *tcp = &t->sock->st->tcp;
	pthread_rwlock_wrlock(&tcp->lock);
	if (port_clash(tcp, t, addr, port, reuse)) {
		pthread_rwlock_unlock(&tcp->lock);
		return -EADDRINUSE;
	}
	hold_for_tables(t);
	t->laddr = addr;
	t->lport = port;
	t->tbl_reuse = reuse;
	unsigned h = port_hash(port);
	t->port_next = tcp->port[h];
	tcp->port[h] = t;
	t->in_port = true;
	pthread_rwlock_unlock(&tcp->lock);
	return 0;
}

void tcp_set_laddr(struct us_tcb *t, uint32_t addr)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_tcp *tcp = &t->sock->st->tcp;
	pthread_rwlock_wrlock(&tcp->lock);     /* port_clash reads it under this alone */
	t->laddr = addr;
	pthread_rwlock_unlock(&tcp->lock);
}

/* With tcp->lock held. */
static struct us_tcb *conn_find_locked(struct us_tcp *tcp, uint32_t laddr, uint16_t lport,
				       uint32_t raddr, uint16_t rport)
{
	for (struct us_tcb *o = tcp->conn[tcp_conn_bucket(tcp, laddr, lport, raddr, rport)]; o; o = o->conn_next)
		if (o->laddr == laddr && o->lport == lport && o->raddr == raddr && o->rport == rport)
			return o;
	return NULL;
}

static void set_iss(struct us_tcb *t, uint32_t isn)
{
	t->iss = t->snd_una = t->snd_nxt = t->snd_max = t->recover = isn;
}

/* With tcp->lock held for writing: t enters conn[]. */
static void conn_link(struct us_tcp *tcp, struct us_tcb *t)
{
	unsigned h = tcp_conn_bucket(tcp, t->laddr, t->lport, t->raddr, t->rport);
	t->conn_next = tcp->conn[h];
	tcp->conn[h] = t;
	t->in_conn = true;
	tcp->conn_count++;
	conn_maybe_grow(tcp);
}

int tcp_conn_insert(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_tcp *tcp = &t->sock->st->tcp;
	pthread_rwlock_wrlock(&tcp->lock);
	if (conn_find_locked(tcp, t->laddr, t->lport, t->raddr, t->rport)) {
		pthread_rwlock_unlock(&tcp->lock);
		return -EADDRINUSE;
	}
	/* The 4-tuple in TIME_WAIT: an active open may take the record over
	 * (tcp_timewait.c), starting above its sequence space; else in use. */
	uint32_t isn;
	int tw = t->state == TCPS_SYN_SENT
			 ? tcp_tw_takeover(t->sock->st, t->laddr, t->lport, t->raddr, t->rport, &isn)
			 : tcp_tw_lookup(t->sock->st, t->laddr, t->lport, t->raddr, t->rport, NULL)
				   ? -EADDRINUSE : 0;
	if (tw < 0) {
		pthread_rwlock_unlock(&tcp->lock);
		return -EADDRINUSE;
	}
	if (tw > 0)
		set_iss(t, isn);
	hold_for_tables(t);
	conn_link(tcp, t);
	pthread_rwlock_unlock(&tcp->lock);
	return 0;
}

/* With tcp->lock held: does a bound or listening socket (port[]) own port
 * on laddr? connect() never shares such a port (Linux skips a bind bucket
 * with fastreuse >= 0): a listener's port is never an ephemeral choice. */
static bool port_owned(struct us_tcp *tcp, uint32_t laddr, uint16_t port)
{
	for (struct us_tcb *o = tcp->port[port_hash(port)]; o; o = o->port_next)
		if (o->lport == port && (o->laddr == INADDR_ANY || o->laddr == laddr))
			return true;
	return false;
}

/*
 * connect()'s port (Linux __inet_hash_connect, RFC 6056 algorithm 4): the
 * search starts at F(laddr, raddr, rport, secret) + table[G(same)], walks
 * the range, and takes the first port that no bound or listening socket
 * owns whose 4-tuple is neither a connection nor a TIME_WAIT record (or a
 * record tcp_tw_takeover may reuse). So a port is shared by connections to
 * different peers: the limit is a range's worth of connections per
 * destination (address and port), not per local address. The counter
 * then moves past the port taken, so successive connections to one peer
 * walk the range, and a port is not reused towards it while the peer may
 * still hold the old connection in TIME_WAIT. Each try is three hash
 * lookups (port[] holds only sockets that own their port, conn[] and the
 * TIME_WAIT hash are keyed by 4-tuple); the port is chosen and the
 * connection enters both tables under one write lock, so two connects
 * cannot take the same 4-tuple.
 */
int tcp_connect_hash(struct us_tcb *t, uint32_t laddr)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	struct us_tcp *tcp = &st->tcp;
	uint32_t lo, n;
	us_port_range(&st->cfg, &lo, &n);
	uint64_t f = tcp_tuple_hash(tcp, laddr, 0, t->raddr, t->rport);
	uint32_t *perturb = &tcp->eph_perturb[(f >> 40) & (US_TCP_EPH_PERTURB - 1)];
	pthread_rwlock_wrlock(&tcp->lock);
	uint32_t base = (uint32_t)(((uint64_t)(uint32_t)f + *perturb) % n);
	for (uint32_t i = 0; i < n; i++) {
		uint16_t port = htons((uint16_t)(lo + (base + i) % n));
		if (port_owned(tcp, laddr, port) ||
		    conn_find_locked(tcp, laddr, port, t->raddr, t->rport))
			continue;
		uint32_t isn;
		int tw = tcp_tw_takeover(st, laddr, port, t->raddr, t->rport, &isn);
		if (tw < 0)
			continue;
		*perturb += i + 1;
		hold_for_tables(t);
		t->laddr = laddr;
		t->lport = port;
		set_iss(t, tw ? isn : tcp_isn(st, laddr, port, t->raddr, t->rport));
		t->tbl_reuse = t->sock->reuseaddr;
		t->tbl_shared = true;
		unsigned h = port_hash(port);
		t->port_next = tcp->eph[h];
		tcp->eph[h] = t;
		t->in_port = true;
		conn_link(tcp, t);
		pthread_rwlock_unlock(&tcp->lock);
		return 0;
	}
	pthread_rwlock_unlock(&tcp->lock);
	return -EADDRNOTAVAIL;
}

static void unhash(struct us_tcb *t, bool keep_port)
{
	struct us_tcp *tcp = &t->sock->st->tcp;
	bool had = t->in_conn || t->in_port;
	pthread_rwlock_wrlock(&tcp->lock);
	if (t->in_conn) {
		struct us_tcb **pp = &tcp->conn[tcp_conn_bucket(tcp, t->laddr, t->lport, t->raddr, t->rport)];
		while (*pp && *pp != t)
			pp = &(*pp)->conn_next;
		if (*pp) {
			*pp = t->conn_next;
			tcp->conn_count--;
		}
		t->in_conn = false;
	}
	if (t->in_port && !keep_port) {
		struct us_tcb **pp = &(t->tbl_shared ? tcp->eph : tcp->port)[port_hash(t->lport)];
		while (*pp && *pp != t)
			pp = &(*pp)->port_next;
		if (*pp)
			*pp = t->port_next;
		t->in_port = false;
		t->tbl_shared = false;
	}
	bool has = t->in_conn || t->in_port;
	if (!keep_port)
		t->tbl_listen = t->tbl_timewait = false;
	pthread_rwlock_unlock(&tcp->lock);
	/* The caller holds its own reference, so this never frees here. */
	if (had && !has)
		atomic_fetch_sub_explicit(&t->sock->refs, 1, memory_order_acq_rel);
}

void tcp_table_mark(struct us_tcb *t, bool listen, bool timewait)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_tcp *tcp = &t->sock->st->tcp;
	pthread_rwlock_wrlock(&tcp->lock);
	t->tbl_listen = listen;
	t->tbl_timewait = timewait;
	pthread_rwlock_unlock(&tcp->lock);
}

void tcp_unhash(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	unhash(t, false);
}

void tcp_unhash_conn(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	unhash(t, true);
}

/*
 * Find the socket for a segment: the connection with this 4-tuple, else
 * a listener on the port (bound to dst, or to any address). Returns it
 * with a reference, or NULL.
 */
struct us_sock *tcp_lookup(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
			   uint16_t rport)
{
	struct us_tcp *tcp = &st->tcp;
	struct us_sock *s = NULL;
	pthread_rwlock_rdlock(&tcp->lock);
	struct us_tcb *t = conn_find_locked(tcp, laddr, lport, raddr, rport);
	if (!t) {
		struct us_tcb *any = NULL;
		for (struct us_tcb *o = tcp->port[port_hash(lport)]; o; o = o->port_next) {
			if (o->lport != lport || !o->tbl_listen)
				continue;
			if (o->laddr == laddr) {
				t = o;
				break;
			}
			if (o->laddr == INADDR_ANY)
				any = o;
		}
		if (!t)
			t = any;
	}
	if (t) {
		s = t->sock;
		us_sock_hold(s);
	}
	pthread_rwlock_unlock(&tcp->lock);
	return s;
}


/*
 * bind() to port 0, and listen() without bind: a port of the range that
 * nobody has (not a bound or listening socket, not a connection, not a
 * TIME_WAIT record), reserved for this socket alone as Linux's
 * inet_csk_get_port does. RFC 6056 algorithm 3: port = min + (F(laddr,
 * raddr, rport, secret) + next) mod n, next counting up per attempt.
 * connect() on a socket with no port does not come here: it shares ports
 * by 4-tuple (tcp_connect_hash).
 */
uint16_t tcp_ephemeral(struct us_tcb *t, uint32_t laddr)
{
	struct us_stack *st = t->sock->st;
	struct us_tcp *tcp = &st->tcp;
	uint32_t lo, n;
	us_port_range(&st->cfg, &lo, &n);
	uint32_t offset = (uint32_t)mix(((uint64_t)t->raddr << 16 | t->rport) ^ tcp->isn_key[1] ^
					 ((uint64_t)laddr << 32));
	uint32_t next = atomic_fetch_add_explicit(&tcp->eph_next, 1, memory_order_relaxed);
	pthread_rwlock_rdlock(&tcp->lock);
	for (uint32_t i = 0; i < n; i++) {
		uint16_t cand = htons((uint16_t)(lo + ((uint64_t)offset + next + i) % n));
		if (!port_clash(tcp, t, laddr, cand, false)) {
			pthread_rwlock_unlock(&tcp->lock);
			if (i)
				atomic_fetch_add_explicit(&tcp->eph_next, i, memory_order_relaxed);
			return cand;
		}
	}
	pthread_rwlock_unlock(&tcp->lock);
	return 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint32_t tcp_isn(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		 uint16_t rport)
{
	const uint64_t *k = st->tcp.isn_key;
	uint64_t f = mix(((uint64_t)laddr << 32 | raddr) ^ k[0]);
	f = mix(f ^ ((uint64_t)lport << 16 | rport) ^ k[1]);
	/* RFC 6528's M: a clock that must tick at least every 4 µs. Like Linux
	 * it ticks every 64 ns, so a new connection's ISN is beyond the last one's
	 * data even a few µs later (the peer's TIME_WAIT accepts the SYN). */
	uint32_t m = (uint32_t)(us_now(st) >> 6);
	return m + (uint32_t)f;
}

/*
 * Destination-unreachable codes that are hard errors: Linux's
 * icmp_err_convert[].fatal (RFC 1122 4.2.3.9 names protocol and port
 * unreachable; Linux adds the unknown, isolated and prohibited ones).
 */
static bool icmp_hard(uint8_t type, uint8_t code)
{
	if (type != ICMP_DEST_UNREACH)
		return false;
	switch (code) {
	case ICMP_UNREACH_PROTOCOL:
	case ICMP_UNREACH_PORT:
	case 6: case 7: case 8: case 9: case 10: case 13: case 14: case 15:
		return true;
	default:
		return false;
	}
}

/*
 * An ICMP error (or a local one: no ARP answer) about a segment we sent,
 * as Linux's tcp_v4_err:
 * - RFC 5927 4.1: only if the quoted sequence number is in flight,
 *   SND.UNA <= SEG.SEQ < SND.NXT (snd_max: our SND.NXT, which an RTO does
 *   not rewind). An off-path attacker who knows only the 4-tuple must
 *   also guess that; a miss is counted and ignored.
 * - Fragmentation needed: ignored (no path MTU discovery).
 * - SYN_SENT (and a simultaneous open's SYN_RCVD): any error aborts the
 *   attempt with its errno. A passive SYN_RCVD connection is dropped
 *   only on a hard error (Linux tcp_req_err).
 * - Synchronized states: a soft error (RFC 1122 4.2.3.9, RFC 5461):
 *   retransmission goes on; the error is kept for SO_ERROR and replaces
 *   ETIMEDOUT if the connection times out (Linux sk_err_soft); an ACK
 *   of new data clears it.
 */
void us_tcp_error(struct us_stack *st, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		  uint32_t seq, uint8_t icmp_type, uint8_t icmp_code, int err)
{
	struct us_sock *s = tcp_lookup(st, src, sport, dst, dport);
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	struct us_tcb *t = s->tcb;
	if (t && t->state == TCPS_LISTEN) {
		/* About a SYN cache entry's SYN-ACK: only a hard error drops it
		 * (Linux tcp_req_err). */
		if (!(icmp_type == ICMP_DEST_UNREACH && icmp_code == ICMP_UNREACH_NEEDFRAG))
			tcp_syncache_error(s, src, sport, dst, dport, seq, icmp_hard(icmp_type, icmp_code));
		goto out;
	}
	if (!t || t->state == TCPS_CLOSED || t->laddr != src || t->raddr != dst)
		goto out;
	if (icmp_type == ICMP_DEST_UNREACH && icmp_code == ICMP_UNREACH_NEEDFRAG)
		goto out;
	if (seq_lt(seq, t->snd_una) || seq_ge(seq, t->snd_max)) {
		US_STAT_INC(st, TCP_ICMP_OUT_OF_WINDOW);
		goto out;
	}
	switch (t->state) {
	case TCPS_SYN_SENT:
		tcp_done(t, err);
		break;
	case TCPS_SYN_RCVD:
		if (!t->passive || icmp_hard(icmp_type, icmp_code))
			tcp_done(t, err);
		break;
	default:
		s->so_error_soft = err;
		break;
	}
out:
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
}
