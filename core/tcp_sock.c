/*
 * tcp_sock.c — TCP's socket operations (sockproto.h) and the state
 * changes they share with input and timers.
 *
 * Blocking follows Linux: connect waits for the handshake (SO_SNDTIMEO
 * bounds it: EINPROGRESS when it lapses), send copies what fits and
 * waits for room (a partial count when some was copied), recv waits for
 * data or FIN. Errors: ECONNREFUSED (RST to our SYN), ETIMEDOUT (SYN or
 * data retries exhausted, keepalive), ECONNRESET (RST on a connection),
 * EHOSTUNREACH/ENETUNREACH (ICMP or ARP during the handshake), EPIPE
 * (send after shutdown or once the connection is gone; no SIGPIPE: we
 * raise no signals).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "iov.h"
#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "lockassert.h"

#define SOMAXCONN_US 4096

uint8_t tcp_wscale_for(uint32_t bufsize)
{
	uint8_t s = 0;
	while (s < 14 && (65535u << s) < bufsize)
		s++;
	return s;
}

void tcp_set_state(struct us_tcb *t, enum tcp_state s)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	if (s == TCPS_ESTABLISHED && t->state != TCPS_ESTABLISHED) {
		US_STAT_INC(st, TCP_ESTABLISHED);
		t->sock->connected = true;
		if (t->keepalive)
			tcp_timer_set(t, TT_KEEP, us_now(st) + (uint64_t)t->keepidle_s * US_NS_PER_SEC);
	}
	t->state = s;
}

void tcp_done(struct us_tcb *t, int err)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_sock *s = t->sock;
	enum tcp_state prev = t->state;
	tcp_timers_clear_all(t);
	t->state = TCPS_CLOSED;
	if (err)
		s->so_error = err;
	if (t->listener) {
		struct us_sock *ls = t->listener;
		t->listener = NULL;
		if (prev == TCPS_SYN_RCVD) {
			pthread_mutex_lock(&ls->lock);
			if (ls->tcb)
				ls->tcb->syn_count--;
			pthread_mutex_unlock(&ls->lock);
		}
		us_sock_put(ls);
	}
	/* Like Linux: a port the application bound explicitly stays bound to
	 * the open descriptor; one chosen automatically goes with the connection. */
	if (t->bind_explicit && !t->orphan) {
		tcp_unhash_conn(t);
	} else {
		tcp_unhash(t);
		if (!t->orphan && t->state == TCPS_CLOSED && prev != TCPS_LISTEN && !t->passive) {
			s->bound = false;
			s->local.sin_addr.s_addr = 0;
			s->local.sin_port = 0;
		}
	}
	tcb_reset(t, true);
	us_sock_wake(s);
}

/*
 * TIME_WAIT is a compact record (tcp_timewait.c), as Linux's tcp_time_wait:
 * the record answers for the 4-tuple for 2 MSL, and the socket itself is
 * done (CLOSED; what was received stays readable, then EOF). No memory
 * for a record: no TIME_WAIT (Linux does the same when its table is full).
 */
void tcp_enter_time_wait(struct us_tcb *t)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	struct us_stack *st = t->sock->st;
	/* The ACK of the peer's FIN goes now: the connection ends here. */
	if (t->ack_now || t->deadline[TT_DELACK])
		tcp_send_ack(t);
	if (st->cfg.tcp.time_wait_s)
		tcp_tw_enter(t);
	t->sndq.len = 0;                /* all acknowledged */
	tcp_done(t, 0);
}

struct us_sock *tcp_child_new(struct us_sock *ls)
{
	struct us_sock *c = us_sock_alloc(ls->st, SOCK_STREAM);
	if (!c)
		return NULL;
	struct us_tcb *t = c->tcb, *lt = ls->tcb;
	c->reuseaddr = ls->reuseaddr;
	c->rcvbuf = ls->rcvbuf;
	c->sndbuf = ls->sndbuf;
	c->ttl = ls->ttl;
	c->rcvtimeo_ns = ls->rcvtimeo_ns;
	c->sndtimeo_ns = ls->sndtimeo_ns;
	c->bound = true;
	t->sndq.cap = lt->sndq.cap;
	t->rcvq.cap = lt->rcvq.cap;
	t->nodelay = lt->nodelay;
	t->keepalive = lt->keepalive;
	t->keepidle_s = lt->keepidle_s;
	t->keepintvl_s = lt->keepintvl_s;
	t->keepcnt = lt->keepcnt;
	t->linger_on = lt->linger_on;
	t->linger_s = lt->linger_s;
	t->user_mss = lt->user_mss;
	t->user_timeout_ms = lt->user_timeout_ms;
	t->cc = lt->cc;
	t->passive = true;
	t->stats.segs_in = 1;   /* the SYN (Linux tcp_create_openreq_child) */
	/* No rings: a child needs only their sizes (for the window it
	 * offers); they get memory when data comes or goes (tcb_ring_write),
	 * so a SYN flood filling the queue costs sockets and control blocks,
	 * not buffers. */
	us_sock_hold(ls);
	t->listener = ls;
	return c;
}

/* ---- operations ---- */

static int tcp_bind_port(struct us_sock *s, const struct sockaddr_in *a)
{
	struct us_tcb *t = s->tcb;
	uint16_t port = a->sin_port;
	if (port == 0) {
		port = tcp_ephemeral(t, a->sin_addr.s_addr);
		if (!port)
			return -EADDRINUSE;
	}
	int rc = tcp_port_bind(t, a->sin_addr.s_addr, port, s->reuseaddr);
	if (rc < 0)
		return rc;
	s->local.sin_addr = a->sin_addr;
	s->local.sin_port = port;
	s->bound = true;
	return 0;
}

static int tcp_bind(struct us_sock *s, const struct sockaddr_in *a)
{
	US_ASSERT_LOCKED(&s->lock);
	int rc = tcp_bind_port(s, a);
	if (rc == 0)
		s->tcb->bind_explicit = true;
	return rc;
}

static void config_offers(struct us_tcb *t)
{
	const struct us_tcp_config *c = &t->sock->st->cfg.tcp;
	/* What our SYN offers; negotiate() keeps what the peer also sent. */
	t->ws_ok = c->window_scaling;
	t->rcv_wscale = t->ws_ok ? tcp_wscale_for(t->rcvq.cap) : 0;
	t->ts_ok = c->timestamps;
	t->sack_ok = c->sack;
}

static int tcp_connect(struct us_sock *s, const struct sockaddr_in *a)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_stack *st = s->st;
	struct us_tcb *t = s->tcb;
	if (!a) {
		/* AF_UNSPEC: abort whatever there is. */
		if (t->state != TCPS_CLOSED && t->state != TCPS_LISTEN) {
			if (t->state != TCPS_SYN_SENT)
				tcp_send_rst(t);
			tcp_done(t, 0);
		}
		s->connected = false;
		return 0;
	}
	switch (t->state) {
	case TCPS_CLOSED:
		if (s->so_error && s->remote.sin_port) {
			/* The result of an earlier non-blocking attempt. */
			int e = s->so_error;
			s->so_error = 0;
			s->remote.sin_port = 0;
			return -e;
		}
		break;
	case TCPS_LISTEN:
		return -EINVAL;
	case TCPS_SYN_SENT:
	case TCPS_SYN_RCVD:
		if (s->nonblock)
			return -EALREADY;
		goto wait;
	default:
		return -EISCONN;
	}
	if (a->sin_addr.s_addr == INADDR_ANY || a->sin_addr.s_addr == INADDR_BROADCAST ||
	    (ntohl(a->sin_addr.s_addr) & 0xf0000000u) == 0xe0000000u)
		return -ENETUNREACH;
	int ifi;
	uint32_t nh, src;
	int rc = us_ipv4_route(st, a->sin_addr.s_addr, &ifi, &nh, &src);
	if (rc < 0)
		return rc;
	/* A new connection on a socket that had one: nothing of the old one
	 * (unread bytes, shutdown flags) carries over (Linux tcp_disconnect). */
	tcb_reset(t, false);
	t->passive = false;
	s->shut_rd = s->shut_wr = false;
	s->connected = false;
	s->so_error_soft = 0;
	/* The peer first: the ephemeral port is chosen per destination. */
	t->raddr = a->sin_addr.s_addr;
	t->rport = a->sin_port;
	s->remote = *a;
	config_offers(t);
	t->backoff = 0;
	t->state = TCPS_SYN_SENT;
	if (!s->bound) {
		/* No port yet: one whose 4-tuple is free, shared with
		 * connections to other peers (tcp_table.c tcp_connect_hash). */
		rc = tcp_connect_hash(t, src);
		if (rc == 0) {
			s->local.sin_port = t->lport;
			s->bound = true;
		}
	} else {
		tcp_set_laddr(t, s->local.sin_addr.s_addr ? s->local.sin_addr.s_addr : src);
		t->iss = tcp_isn(st, t->laddr, t->lport, t->raddr, t->rport);
		t->snd_una = t->snd_nxt = t->snd_max = t->iss;
		t->recover = t->iss;            /* RFC 6582 3.2 step 1 */
		rc = tcp_conn_insert(t);        /* a TIME_WAIT takeover sets the ISS */
	}
	if (rc < 0) {
		t->state = TCPS_CLOSED;
		return -EADDRNOTAVAIL;
	}
	tcp_set_mss(t);
	s->local.sin_addr.s_addr = t->laddr;
	s->so_error = 0;
	t->rtt_start = us_now(st);
	US_STAT_INC(st, TCP_ACTIVE_OPENS);
	tcp_send_syn(t);
	if (s->nonblock)
		return -EINPROGRESS;
wait:;
	uint64_t deadline = us_sock_deadline(s, s->sndtimeo_ns);
	while (t->state == TCPS_SYN_SENT || t->state == TCPS_SYN_RCVD) {
		int e = us_sock_wait(s, deadline, false);
		if (e == EAGAIN)
			return -EINPROGRESS;    /* SO_SNDTIMEO lapsed (Linux), or deterministic mode */
		if (e)
			return -e;
	}
	if (t->state == TCPS_CLOSED) {
		int e = s->so_error ? s->so_error : ECONNREFUSED;
		s->so_error = 0;
		s->remote.sin_port = 0;
		return -e;
	}
	return 0;
}

static int tcp_listen(struct us_sock *s, int backlog)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	if (t->state != TCPS_CLOSED && t->state != TCPS_LISTEN)
		return -EINVAL;
	if (!s->bound) {
		struct sockaddr_in any = { .sin_family = AF_INET };
		int rc = tcp_bind_port(s, &any);
		if (rc < 0)
			return rc;
	}
	if (backlog < 1)
		backlog = 1;
	if (backlog > SOMAXCONN_US)
		backlog = SOMAXCONN_US;
	t->backlog = backlog;
	t->state = TCPS_LISTEN;
	tcp_table_mark(t, true, false);
	return 0;
}

/*
 * Take the first established child. The descriptor table's lock is never
 * taken under a socket lock (doc/LOCKING.md), so the child is dequeued
 * under the listener's lock, installed with no lock held, and only then
 * does its hold on the listener end (under the child's own lock). If no
 * descriptor is free the child goes back to the head of the queue (EMFILE,
 * the connection stays acceptable, as on Linux), or is reset if the
 * listener was closed meanwhile.
 */
static int tcp_accept(struct us_sock *s, struct sockaddr_in *peer, int *newfd)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	uint64_t deadline = us_sock_deadline(s, s->rcvtimeo_ns);
	for (;;) {
		/* Linux: a listener shut down for reading accepts no more (EINVAL). */
		if (t->state != TCPS_LISTEN || s->shut_rd)
			return -EINVAL;
		if (t->acc_head) {
			struct us_sock *c = t->acc_head;
			struct us_tcb *ct = c->tcb;
			t->acc_head = ct->acc_next;
			if (!t->acc_head)
				t->acc_tail = NULL;
			t->acc_count--;
			ct->acc_next = NULL;
			us_sock_hold(c);        /* ours, while another thread may close fd */
			pthread_mutex_unlock(&s->lock);
			int fd = us_socktab_install(s->st, c);  /* the queue's reference moves */
			if (fd < 0) {
				pthread_mutex_lock(&s->lock);
				if (t->state == TCPS_LISTEN) {
					ct->acc_next = t->acc_head;
					t->acc_head = c;
					if (!t->acc_tail)
						t->acc_tail = c;
					t->acc_count++;
					us_sock_put(c);
					return -EMFILE;
				}
				pthread_mutex_unlock(&s->lock);
				pthread_mutex_lock(&c->lock);
				if (ct->state != TCPS_CLOSED) {
					tcp_send_rst(ct);
					tcp_done(ct, ECONNRESET);
				}
				pthread_mutex_unlock(&c->lock);
				us_sock_put(c);         /* the queue's reference */
				us_sock_put(c);         /* ours */
				pthread_mutex_lock(&s->lock);
				return -EMFILE;
			}
			pthread_mutex_lock(&c->lock);
			struct us_sock *ls = ct->listener;
			ct->listener = NULL;
			*peer = c->remote;
			pthread_mutex_unlock(&c->lock);
			if (ls)
				us_sock_put(ls);
			us_sock_put(c);
			pthread_mutex_lock(&s->lock);
			*newfd = fd;
			return 0;
		}
		int e = us_sock_wait(s, deadline, false);
		if (e)
			return -e;
	}
}

static ssize_t tcp_sendto(struct us_sock *s, const void *buf, size_t len, int flags,
			  const struct sockaddr_in *to)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	uint64_t deadline = us_sock_deadline(s, s->sndtimeo_ns);
	size_t done = 0;
	for (;;) {
		if (s->so_error) {
			int e = s->so_error;
			s->so_error = 0;
			return done ? (ssize_t)done : -e;
		}
		if (s->shut_wr)
			return done ? (ssize_t)done : -EPIPE;
		switch (t->state) {
		case TCPS_ESTABLISHED:
		case TCPS_CLOSE_WAIT:
			break;
		case TCPS_SYN_SENT:
		case TCPS_SYN_RCVD:
			goto wait;
		case TCPS_CLOSED:
			return done ? (ssize_t)done : (s->connected ? -EPIPE : -ENOTCONN);
		case TCPS_LISTEN:
			return -ENOTCONN;
		default:
			return done ? (ssize_t)done : -EPIPE;
		}
		if (done == len)
			return (ssize_t)done;
		uint32_t room = ring_free(&t->sndq);
		if (room) {
			uint32_t n = len - done < room ? (uint32_t)(len - done) : room;
			/* The ring grows to what this write needs (doubling, up
			 * to SO_SNDBUF); no memory: what was taken, or ENOBUFS. */
			if (!tcb_ring_write(t, &t->sndq, t->sndq.len, (const uint8_t *)buf + done, n))
				return done ? (ssize_t)done : -ENOBUFS;
			t->sndq.len += n;
			done += n;
			tcp_output(t);
			if (done == len)
				return (ssize_t)done;
			continue;
		}
		if (done && (s->nonblock || (flags & MSG_DONTWAIT)))
			return (ssize_t)done;
wait:;
		int e = us_sock_wait(s, deadline, flags & MSG_DONTWAIT);
		if (e)
			return done ? (ssize_t)done : -e;
	}
}

/* After the application read: tell the peer if the window opened enough. */
static void window_update(struct us_tcb *t)
{
	if (t->state != TCPS_ESTABLISHED && t->state != TCPS_FIN_WAIT_1 && t->state != TCPS_FIN_WAIT_2)
		return;
	uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t now = tcp_rcv_window(t);
	/* Linux (__tcp_cleanup_rbuf): when the window can grow by 2 MSS, or a
	 * closed window opens at all. */
	if (now > cur && (now - cur >= 2u * t->mss || cur == 0 || now - cur >= t->rcvq.cap / 2))
		tcp_send_ack(t);
}

/* The first n bytes of ring r into the pieces at cursor c. */
static void ring_scatter(const struct tcp_ring *r, struct us_iov_cur *c, uint32_t n)
{
	if (!n)
		return;
	uint32_t first = r->size - r->head < n ? r->size - r->head : n;
	us_iov_put(c, r->buf + r->head, first);
	us_iov_put(c, r->buf, n - first);
}

static ssize_t tcp_recvv(struct us_sock *s, const struct iovec *iov, int iovcnt, size_t len,
			 int flags, struct sockaddr_in *from)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	uint64_t deadline = us_sock_deadline(s, s->rcvtimeo_ns);
	*from = s->remote;
	for (;;) {
		if (t->rcvq.len > 0 && !s->shut_rd) {
			uint32_t n = len < t->rcvq.len ? (uint32_t)len : t->rcvq.len;
			struct us_iov_cur c;
			us_iov_cur_init(&c, iov, iovcnt);
			ring_scatter(&t->rcvq, &c, n);
			if (!(flags & MSG_PEEK)) {
				ring_consume(&t->rcvq, n);
				if (!t->rcvq.len && !t->nooo)
					tcb_rings_idle(t);
				window_update(t);
			}
			return (ssize_t)n;
		}
		if (len == 0)
			return 0;
		if (s->so_error) {
			int e = s->so_error;
			s->so_error = 0;
			return -e;
		}
		if (t->fin_rcvd || s->shut_rd)
			return 0;
		if (t->state == TCPS_LISTEN)
			return -ENOTCONN;
		if (t->state == TCPS_CLOSED)
			return s->connected ? 0 : -ENOTCONN;
		s->rd_waiters++;        /* not woken by ACKs (us_sock_wake_room) */
		int e = us_sock_wait(s, deadline, flags & MSG_DONTWAIT);
		s->rd_waiters--;
		if (e)
			return -e;
	}
}

/* Shut our sending side: FIN after the queued data (RFC 9293 3.10.4). */
static void send_fin(struct us_sock *s, struct us_tcb *t)
{
	s->shut_wr = true;
	if (t->state == TCPS_ESTABLISHED || t->state == TCPS_SYN_RCVD) {
		t->fin_queued = true;
		tcp_set_state(t, TCPS_FIN_WAIT_1);
	} else if (t->state == TCPS_CLOSE_WAIT) {
		t->fin_queued = true;
		tcp_set_state(t, TCPS_LAST_ACK);
	}
	tcp_output(t);
}

static int tcp_shutdown(struct us_sock *s, int how)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	if (t->state == TCPS_CLOSED || t->state == TCPS_LISTEN || t->state == TCPS_SYN_SENT) {
		if (t->state == TCPS_LISTEN && how != SHUT_WR) {
			s->shut_rd = true;
			return 0;
		}
		return -ENOTCONN;
	}
	if (how == SHUT_RD || how == SHUT_RDWR) {
		s->shut_rd = true;
		ring_consume(&t->rcvq, t->rcvq.len);
		if (!t->nooo)
			tcb_rings_idle(t);
	}
	if ((how == SHUT_WR || how == SHUT_RDWR) && !s->shut_wr) {
		send_fin(s, t);
	}
	return 0;
}

/* Abort the children a closing listener still holds. Called with ls unlocked. */
static void abort_children(struct us_sock *head)
{
	while (head) {
		struct us_sock *c = head;
		pthread_mutex_lock(&c->lock);
		head = c->tcb->acc_next;
		c->tcb->acc_next = NULL;
		if (c->tcb->state != TCPS_CLOSED) {
			tcp_send_rst(c->tcb);
			tcp_done(c->tcb, ECONNRESET);
		}
		pthread_mutex_unlock(&c->lock);
		us_sock_put(c);         /* the accept queue's reference */
	}
}

static void tcp_close(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_stack *st = s->st;
	struct us_tcb *t = s->tcb;
	t->orphan = true;
	switch (t->state) {
	case TCPS_LISTEN: {
		tcp_syncache_drop_listener(s);  /* its SYN_RCVD entries go silently */
		struct us_sock *head = t->acc_head;
		t->acc_head = t->acc_tail = NULL;
		t->acc_count = 0;
		t->state = TCPS_CLOSED;
		tcp_unhash(t);
		pthread_mutex_unlock(&s->lock);
		abort_children(head);
		pthread_mutex_lock(&s->lock);
		return;
	}
	case TCPS_CLOSED:
		tcp_unhash(t);
		return;
	case TCPS_SYN_SENT:
		tcp_done(t, 0);
		return;
	default:
		break;
	}
	/* RFC 2525 2.17 and Linux: closing with unread data, or SO_LINGER
	 * with a zero timeout, aborts with RST instead of FIN. */
	if (t->rcvq.len > 0 || (t->linger_on && t->linger_s == 0)) {
		if (t->state != TCPS_TIME_WAIT) {
			tcp_send_rst(t);
			US_STAT_INC(st, TCP_RESETS_SENT);
		}
		tcp_done(t, 0);
		return;
	}
	if (!s->shut_wr) {
		send_fin(s, t);
	}
	if (t->state == TCPS_FIN_WAIT_2 && !t->deadline[TT_2MSL])
		tcp_timer_set(t, TT_2MSL, us_now(st) + US_TCP_FIN_TIMEOUT_S * US_NS_PER_SEC);
	if (t->linger_on && t->linger_s > 0 && !st->deterministic) {
		/* SO_LINGER: wait (bounded) until our data and FIN are acknowledged. */
		uint64_t deadline = us_monotonic_ns() + (uint64_t)t->linger_s * US_NS_PER_SEC;
		while (t->state != TCPS_CLOSED && t->state != TCPS_TIME_WAIT &&
		       t->state != TCPS_FIN_WAIT_2 && !atomic_load(&st->stopping)) {
			if (us_sock_sleep(s, deadline) == ETIMEDOUT)
				break;
		}
	}
}

static short tcp_poll(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	short r = 0;
	if (t->state == TCPS_LISTEN)
		return t->acc_count ? POLLIN : 0;
	if (s->so_error)
		r |= POLLERR;
	if (t->rcvq.len > 0 || t->fin_rcvd || s->shut_rd || s->so_error)
		r |= POLLIN;
	if (t->state == TCPS_CLOSED || (s->shut_wr && t->fin_rcvd))
		r |= POLLHUP;
	if (t->state == TCPS_CLOSED && s->connected)
		r |= POLLIN;
	bool writable_state = t->state == TCPS_ESTABLISHED || t->state == TCPS_CLOSE_WAIT;
	if ((writable_state && !s->shut_wr && ring_free(&t->sndq) >= t->sndq.cap / 3) ||
	    (t->state == TCPS_CLOSED && (s->so_error || !s->connected)) ||
	    (writable_state && s->shut_wr))
		r |= POLLOUT;
	return r;
}

static void tcp_destroy(struct us_sock *s)
{
	if (s->tcb) {
		tcb_free(s->tcb);
		s->tcb = NULL;
	}
}

/*
 * SO_RCVBUF on a connection that has its ring: a new ring of the size
 * asked for, but never smaller than what it holds (in-order and
 * out-of-order bytes) plus the window already offered, which may not
 * shrink (RFC 9293 3.8.6.2.2). The window scale was fixed by the SYN, so
 * growth past 65535 << scale is not offered (as Linux). A window that
 * opened is announced at once, as after a read.
 */
static void rcvbuf_resize(struct us_tcb *t, uint32_t want)
{
	uint32_t held = t->rcvq.len;
	if (t->nooo)
		held += t->ooo[t->nooo - 1].end - t->rcv_nxt;
	uint32_t offered = t->rcvq.len + (seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0);
	uint32_t cap = want;
	if (cap < held)
		cap = held;
	if (cap < offered)
		cap = offered;
	if (cap == t->rcvq.cap || ring_resize(&t->rcvq, cap) < 0)
		return;
	window_update(t);
}

/* SO_SNDBUF on a connection: never below the bytes queued (sent or not). */
static void sndbuf_resize(struct us_sock *s, struct us_tcb *t, uint32_t want)
{
	uint32_t cap = want > t->sndq.len ? want : t->sndq.len;
	if (cap == t->sndq.cap || ring_resize(&t->sndq, cap) < 0)
		return;
	us_sock_wake(s);        /* writers waiting for room */
}

static void tcp_bufs_changed(struct us_sock *s)
{
	struct us_tcb *t = s->tcb;
	/* SO_RCVBUF/SO_SNDBUF size the rings: the value asked for (what
	 * getsockopt reports is twice that). Before the connection has its
	 * rings that is all; afterwards they are resized, as Linux applies a
	 * new sk_rcvbuf/sk_sndbuf to a live connection. */
	uint32_t rcv = (uint32_t)s->rcvbuf / 2, snd = (uint32_t)s->sndbuf / 2;
	if (t->state == TCPS_CLOSED || t->state == TCPS_LISTEN) {
		/* No connection: only the limits (never below bytes an old
		 * connection left to read). */
		ring_resize(&t->rcvq, rcv > t->rcvq.len ? rcv : t->rcvq.len);
		ring_resize(&t->sndq, snd > t->sndq.len ? snd : t->sndq.len);
		return;
	}
	if (rcv != t->rcvq.cap)
		rcvbuf_resize(t, rcv);
	if (snd != t->sndq.cap)
		sndbuf_resize(s, t, snd);
}

static int opt_int(const void *val, socklen_t len, int *out)
{
	return -us_opt_get_int(val, len, out);
}

static int tcp_setsockopt(struct us_sock *s, int level, int name, const void *val, socklen_t len)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	struct us_stack *st = s->st;
	int v, rc;
	if (level == SOL_SOCKET && name == SO_KEEPALIVE) {
		if ((rc = opt_int(val, len, &v)) < 0)
			return rc;
		t->keepalive = v != 0;
		if (t->keepalive && (t->state == TCPS_ESTABLISHED || t->state == TCPS_CLOSE_WAIT))
			tcp_timer_set(t, TT_KEEP, us_now(st) + (uint64_t)t->keepidle_s * US_NS_PER_SEC);
		else if (!t->keepalive)
			tcp_timer_clear(t, TT_KEEP);
		return 0;
	}
	if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger l;
		if (len < (socklen_t)sizeof l)
			return -EINVAL;
		if (!val)
			return -EFAULT;
		memcpy(&l, val, sizeof l);
		t->linger_on = l.l_onoff != 0;
		t->linger_s = l.l_linger < 0 ? 0 : l.l_linger;
		return 0;
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	if (name == TCP_CONGESTION) {
		char n[16] = "";
		if (len == 0)
			return -EINVAL;
		if (!val)
			return -EFAULT;
		memcpy(n, val, len < sizeof n - 1 ? len : sizeof n - 1);
		const struct us_tcp_cc_ops *cc = us_tcp_cc_find(n);
		if (!cc)
			return -ENOENT;
		tcp_cc_set(t, cc);
		return 0;
	}
	if ((rc = opt_int(val, len, &v)) < 0)
		return rc;
	switch (name) {
	case TCP_NODELAY:
		t->nodelay = v != 0;
		if (t->nodelay)
			tcp_output(t);
		return 0;
	case TCP_MAXSEG:
		if (v < US_TCP_MIN_MSS || v > 32767)
			return -EINVAL;
		t->user_mss = (uint16_t)v;
		return 0;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		if (name == TCP_KEEPIDLE) {
			t->keepidle_s = (uint32_t)v;
			/* Like Linux: the new idle time applies to the running timer. */
			if (t->keepalive && t->keep_probes == 0 &&
			    (t->state == TCPS_ESTABLISHED || t->state == TCPS_CLOSE_WAIT))
				tcp_timer_set(t, TT_KEEP, us_now(st) + (uint64_t)v * US_NS_PER_SEC);
		} else {
			t->keepintvl_s = (uint32_t)v;
		}
		return 0;
	case TCP_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		t->keepcnt = (uint32_t)v;
		return 0;
	case TCP_USER_TIMEOUT:
		/* RFC 5482, Linux semantics: milliseconds, 0 = the retry count decides. */
		if (v < 0)
			return -EINVAL;
		t->user_timeout_ms = (uint32_t)v;
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static int put_int(void *val, socklen_t *len, int v)
{
	return -us_opt_put_int(val, len, v);
}

static int tcp_getsockopt(struct us_sock *s, int level, int name, void *val, socklen_t *len)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	if (level == SOL_SOCKET && name == SO_KEEPALIVE)
		return put_int(val, len, t->keepalive);
	if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger l = { .l_onoff = t->linger_on, .l_linger = t->linger_s };
		if (*len < (socklen_t)sizeof l)         /* the socket layer checked len */
			return -EINVAL;
		if (!val)
			return -EFAULT;
		memcpy(val, &l, sizeof l);
		*len = sizeof l;
		return 0;
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	switch (name) {
	case TCP_NODELAY:
		return put_int(val, len, t->nodelay);
	case TCP_MAXSEG:
		return put_int(val, len, t->state == TCPS_ESTABLISHED ? t->mss
				      : t->user_mss ? t->user_mss : 536);
	case TCP_KEEPIDLE:
		return put_int(val, len, (int)t->keepidle_s);
	case TCP_KEEPINTVL:
		return put_int(val, len, (int)t->keepintvl_s);
	case TCP_KEEPCNT:
		return put_int(val, len, (int)t->keepcnt);
	case TCP_USER_TIMEOUT:
		return put_int(val, len, (int)t->user_timeout_ms);
	case TCP_INFO:
		return tcp_info_get(t, val, len);
	case TCP_CONGESTION: {
		size_t n = strlen(t->cc->name) + 1;
		if (n > *len)
			n = *len;
		if (!val && n)
			return -EFAULT;
		memcpy(val, t->cc->name, n);
		*len = (socklen_t)n;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

/*
 * The end of a receive batch in which in-order data reached the
 * every-second-segment mark (text_input): one ACK for all of it, unless
 * one went out meanwhile (a reply, a window update, a FIN's ACK).
 */
static void tcp_batch_ack(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_tcb *t = s->tcb;
	if (!t || !t->segs_unacked)
		return;
	if (t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_1 ||
	    t->state == TCPS_FIN_WAIT_2 || t->state == TCPS_CLOSE_WAIT)
		tcp_send_ack(t);
}

const struct us_proto_ops us_tcp_ops = {
	.bind = tcp_bind,
	.connect = tcp_connect,
	.listen = tcp_listen,
	.accept = tcp_accept,
	.sendto = tcp_sendto,
	.recvv = tcp_recvv,
	.shutdown = tcp_shutdown,
	.close = tcp_close,
	.poll = tcp_poll,
	.destroy = tcp_destroy,
	.rcvbuf_changed = tcp_bufs_changed,
	.setsockopt = tcp_setsockopt,
	.getsockopt = tcp_getsockopt,
	.batch_ack = tcp_batch_ack,
};
