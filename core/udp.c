/*
 * udp.c — UDP (RFC 768; RFC 1122 4.1) and its sockets.
 *
 * Input validates length and checksum (a zero checksum means none was
 * sent and is accepted, RFC 768), then finds the socket: the most specific
 * match wins (connected to this peer > bound to this address > wildcard),
 * as Linux scores them; a broadcast goes to every matching socket. With no
 * socket the sender gets ICMP port unreachable (RFC 1122 4.1.3.1), within
 * the ICMP rules and rate limit. Each socket queues datagrams in a byte
 * ring sized by SO_RCVBUF, allocated when it is bound; a datagram that does
 * not fit is dropped and counted.
 *
 * Ephemeral ports (RFC 6056 algorithm 1): a random start in 49152-65535,
 * then the next free port.
 *
 * Errors reported to sockets (ICMP unreachable, ARP failure) reach
 * connected sockets without IP_RECVERR: the next call on the socket fails
 * with the error (ECONNREFUSED for port unreachable). With IP_RECVERR any
 * socket bound to the datagram's source hears it, and the details wait in
 * its error queue (udp_err.c, with IP_MTU_DISCOVER and IP_MTU).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "iov.h"
#include "sockproto.h"
#include "dhcp.h"
#include "stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "lockassert.h"

#define UDP_MAX_PAYLOAD (IP4_MAX_LEN - IP4_HLEN - UDP_HLEN)   /* 65507 */

/* Record header in a socket's receive ring. */
struct rq_hdr {
	uint32_t len;           /* datagram bytes that follow */
	uint32_t addr;          /* source, network order */
	uint16_t port;          /* source port, network order */
	uint16_t pad;
};

int us_udp_init(struct us_stack *st, struct us_udp *u)
{
	pthread_rwlock_init(&u->lock, NULL);
	memset(u->hash, 0, sizeof u->hash);
	u->st = st;
	return 0;
}

void us_udp_destroy(struct us_udp *u)
{
	pthread_rwlock_destroy(&u->lock);
}

static unsigned port_hash(uint16_t port_be) { return ntohs(port_be) & (US_UDP_HASH - 1); }

/* ---- the receive ring ---- */

static void ring_put(struct us_udp_rq *q, size_t off, const void *src, size_t n)
{
	off %= q->cap;
	size_t first = q->cap - off < n ? q->cap - off : n;
	memcpy(q->buf + off, src, first);
	memcpy(q->buf, (const uint8_t *)src + first, n - first);
}

static void ring_get(const struct us_udp_rq *q, size_t off, void *dst, size_t n)
{
	off %= q->cap;
	size_t first = q->cap - off < n ? q->cap - off : n;
	memcpy(dst, q->buf + off, first);
	memcpy((uint8_t *)dst + first, q->buf, n - first);
}

/* With s->lock held. Allocate the ring at the socket's SO_RCVBUF size. */
static int rq_alloc(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	if (s->rq.buf)
		return 0;
	s->rq.buf = malloc((size_t)s->rcvbuf);
	if (!s->rq.buf)
		return -ENOMEM;
	s->rq.cap = (size_t)s->rcvbuf;
	s->rq.head = s->rq.used = 0;
	s->rq.count = 0;
	return 0;
}

static void udp_rcvbuf_changed(struct us_sock *s)
{
	/* Resize only an empty ring; a full one keeps its size until drained. */
	if (s->rq.buf && s->rq.count == 0 && s->rq.cap != (size_t)s->rcvbuf) {
		uint8_t *nb = malloc((size_t)s->rcvbuf);
		if (nb) {
			free(s->rq.buf);
			s->rq.buf = nb;
			s->rq.cap = (size_t)s->rcvbuf;
			s->rq.head = s->rq.used = 0;
		}
	}
}

/* Queue one datagram; false when it does not fit. With s->lock held. */
static bool rq_push(struct us_sock *s, uint32_t addr, uint16_t port, const uint8_t *p, size_t n)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_udp_rq *q = &s->rq;
	size_t need = sizeof(struct rq_hdr) + ((n + 3) & ~(size_t)3);
	if (!q->buf || q->used + need > q->cap)
		return false;
	struct rq_hdr h = { .len = (uint32_t)n, .addr = addr, .port = port };
	size_t tail = q->head + q->used;
	ring_put(q, tail, &h, sizeof h);
	ring_put(q, tail + sizeof h, p, n);
	q->used += need;
	q->count++;
	return true;
}

/* ---- the port table ---- */

/* With u->lock held: would binding addr:port clash with a socket other than s? */
static bool port_in_use(struct us_udp *u, const struct us_sock *s, uint32_t addr, uint16_t port)
{
	US_ASSERT_WLOCKED(&u->lock);
	for (struct us_sock *o = u->hash[port_hash(port)]; o; o = o->port_next) {
		if (o == s || o->local.sin_port != port)
			continue;
		uint32_t oa = o->local.sin_addr.s_addr;
		if (oa != INADDR_ANY && addr != INADDR_ANY && oa != addr)
			continue;
		if (s->reuseaddr && o->reuseaddr)
			continue;
		return true;
	}
	return false;
}

/* With s->lock held: bind to a (port 0: an ephemeral port). */
static int udp_bind_locked(struct us_sock *s, const struct sockaddr_in *a)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_stack *st = s->st;
	struct us_udp *u = &st->udp;
	int rc = rq_alloc(s);
	if (rc < 0)
		return rc;
	uint32_t addr = a->sin_addr.s_addr;
	uint16_t port = a->sin_port;
	pthread_rwlock_wrlock(&u->lock);
	if (port == 0) {
		uint32_t lo, n;
		us_port_range(&st->cfg, &lo, &n);
		uint32_t start = us_rng_u32(&st->rng) % n;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t cand = htons((uint16_t)(lo + (start + i) % n));
			if (!port_in_use(u, s, addr, cand)) {
				port = cand;
				break;
			}
		}
		if (port == 0) {
			pthread_rwlock_unlock(&u->lock);
			return -EADDRINUSE;
		}
	} else if (port_in_use(u, s, addr, port)) {
		pthread_rwlock_unlock(&u->lock);
		return -EADDRINUSE;
	}
	s->local.sin_addr.s_addr = addr;
	s->local.sin_port = port;
	s->bound = true;
	unsigned h = port_hash(port);
	s->port_next = u->hash[h];
	u->hash[h] = s;
	us_sock_hold(s);        /* the port table's reference */
	pthread_rwlock_unlock(&u->lock);
	return 0;
}

static int udp_bind(struct us_sock *s, const struct sockaddr_in *a)
{
	return udp_bind_locked(s, a);
}

static int autobind(struct us_sock *s)
{
	if (s->bound)
		return 0;
	struct sockaddr_in any = { .sin_family = AF_INET };
	return udp_bind_locked(s, &any);
}

static int udp_connect(struct us_sock *s, const struct sockaddr_in *a)
{
	US_ASSERT_LOCKED(&s->lock);
	/*
	 * connected and remote are read by input demux (score) and
	 * us_udp_error under u->lock alone: write them under it too.
	 */
	struct us_udp *u = &s->st->udp;
	if (!a) {               /* AF_UNSPEC: dissolve the association */
		pthread_rwlock_wrlock(&u->lock);
		s->connected = false;
		memset(&s->remote.sin_addr, 0, sizeof s->remote.sin_addr);
		s->remote.sin_port = 0;
		pthread_rwlock_unlock(&u->lock);
		return 0;
	}
	if (a->sin_port == 0)
		return -ECONNREFUSED;   /* Linux: connect to port 0 is refused */
	int ifi;
	uint32_t nh, src;
	if (a->sin_addr.s_addr != INADDR_BROADCAST) {
		int rc = us_ipv4_route(s->st, a->sin_addr.s_addr, &ifi, &nh, &src);
		if (rc < 0)
			return rc;
	} else if (!s->broadcast) {
		return -EACCES;
	}
	int rc = autobind(s);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&u->lock);
	s->remote = *a;
	s->connected = true;
	pthread_rwlock_unlock(&u->lock);
	s->so_error = 0;
	return 0;
}

static void udp_close(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_udp *u = &s->st->udp;
	if (!s->bound)
		return;
	pthread_rwlock_wrlock(&u->lock);
	struct us_sock **pp = &u->hash[port_hash(s->local.sin_port)];
	while (*pp && *pp != s)
		pp = &(*pp)->port_next;
	if (*pp)
		*pp = s->port_next;
	pthread_rwlock_unlock(&u->lock);
	s->bound = false;
	/* The table's reference: the caller still holds one, so this never frees. */
	atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel);
}

static void udp_destroy(struct us_sock *s)
{
	free(s->rq.buf);
	s->rq.buf = NULL;
	us_udp_err_free(s);
}

static bool is_broadcast(struct us_stack *st, uint32_t a)
{
	if (a == INADDR_BROADCAST)
		return true;
	for (int i = 0; i < st->nifs; i++)
		if (us_netif_is_bcast(&st->ifs[i], a))
			return true;
	return false;
}

static ssize_t udp_sendto(struct us_sock *s, const void *buf, size_t len, int flags,
			  const struct sockaddr_in *to)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_stack *st = s->st;
	if (s->so_error) {
		int e = s->so_error;
		s->so_error = 0;
		return -e;
	}
	if (s->shut_wr)
		return -EPIPE;
	if (!to) {
		if (!s->connected)
			return -EDESTADDRREQ;
		to = &s->remote;
	}
	/* Everything the send needs is copied here, under the socket lock: a
	 * connect from another thread once it is dropped must not mix the old
	 * peer's address with the new one's port (doc/LOCKING.md). */
	const struct sockaddr_in dst = *to;
	to = &dst;
	if (to->sin_port == 0)
		return -EINVAL;
	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	bool bcast = is_broadcast(st, to->sin_addr.s_addr);
	if (bcast && !s->broadcast)
		return -EACCES;
	int rc = autobind(s);
	if (rc < 0)
		return rc;
	struct us_ip_tx tx = {
		.src = s->local.sin_addr.s_addr,
		.dst = to->sin_addr.s_addr,
		.proto = IP_PROTO_UDP,
		.ttl = s->ttl,
		.ifindex = -1,
	};
	if ((rc = us_udp_tx_mtu(s, tx.dst, len, &tx.df, &tx.frag_mtu)) < 0)
		return rc;
	if (!tx.src) {
		int ifi;
		uint32_t nh;
		if (to->sin_addr.s_addr == INADDR_BROADCAST)
			tx.src = us_netif_first_addr(&st->ifs[0]);
		else if ((rc = us_ipv4_route(st, tx.dst, &ifi, &nh, &tx.src)) < 0)
			return rc;
	}
	uint16_t sport = s->local.sin_port;
	/* The send itself happens without the socket lock. */
	pthread_mutex_unlock(&s->lock);
	uint8_t h[UDP_HLEN];
	put16(h, ntohs(sport));
	put16(h + 2, ntohs(to->sin_port));
	put16(h + 4, (uint16_t)(UDP_HLEN + len));
	h[6] = h[7] = 0;
	uint64_t sum = wire_csum_pseudo(tx.src, tx.dst, IP_PROTO_UDP, (uint16_t)(UDP_HLEN + len));
	sum = wire_csum_add(wire_csum_add(sum, h, sizeof h), buf, len);
	uint16_t c = wire_csum_fold(sum);
	if (c == 0)
		c = 0xffff;     /* RFC 768: a computed zero is sent as all ones */
	memcpy(h + 6, &c, 2);
	rc = us_ipv4_send(st, &tx, h, sizeof h, buf, len);
	pthread_mutex_lock(&s->lock);
	if (rc < 0)
		return rc;
	US_STAT_INC(st, UDP_TX);
	return (ssize_t)len;
}

/* n bytes from off in q into the pieces at cursor c. */
static void ring_scatter(const struct us_udp_rq *q, size_t off, struct us_iov_cur *c, size_t n)
{
	off %= q->cap;
	size_t first = q->cap - off < n ? q->cap - off : n;
	us_iov_put(c, q->buf + off, first);
	us_iov_put(c, q->buf, n - first);
}

static ssize_t udp_recvv(struct us_sock *s, const struct iovec *iov, int iovcnt, size_t len,
			 int flags, struct sockaddr_in *from)
{
	US_ASSERT_LOCKED(&s->lock);
	uint64_t deadline = us_sock_deadline(s, s->rcvtimeo_ns);
	for (;;) {
		if (s->so_error) {
			int e = s->so_error;
			s->so_error = 0;
			return -e;
		}
		if (s->rq.count > 0) {
			struct us_udp_rq *q = &s->rq;
			struct rq_hdr h;
			ring_get(q, q->head, &h, sizeof h);
			size_t n = h.len < len ? h.len : len;
			struct us_iov_cur c;
			us_iov_cur_init(&c, iov, iovcnt);
			ring_scatter(q, q->head + sizeof h, &c, n);
			from->sin_family = AF_INET;
			from->sin_addr.s_addr = h.addr;
			from->sin_port = h.port;
			if (!(flags & MSG_PEEK)) {
				size_t rec = sizeof h + ((h.len + 3) & ~(size_t)3);
				q->head = (q->head + rec) % q->cap;
				q->used -= rec;
				q->count--;
				if (q->count == 0)
					udp_rcvbuf_changed(s);  /* a deferred SO_RCVBUF */
			}
			return (flags & MSG_TRUNC) ? (ssize_t)h.len : (ssize_t)n;
		}
		if (s->shut_rd)
			return 0;
		int e = us_sock_wait(s, deadline, flags & MSG_DONTWAIT);
		if (e)
			return -e;
	}
}

static int udp_shutdown(struct us_sock *s, int how)
{
	US_ASSERT_LOCKED(&s->lock);
	if (how == SHUT_RD || how == SHUT_RDWR)
		s->shut_rd = true;
	if (how == SHUT_WR || how == SHUT_RDWR)
		s->shut_wr = true;
	/* Linux applies the shutdown and still reports an unconnected socket. */
	return s->connected ? 0 : -ENOTCONN;
}

static short udp_poll(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	short r = 0;
	if (s->rq.count > 0 || s->shut_rd)
		r |= POLLIN;
	if (!s->shut_wr)
		r |= POLLOUT;
	if (s->so_error || us_udp_err_pending(s))
		r |= POLLERR;
	if (s->shut_rd && s->shut_wr)
		r |= POLLHUP;
	return r;
}

const struct us_proto_ops us_udp_ops = {
	.bind = udp_bind,
	.connect = udp_connect,
	.sendto = udp_sendto,
	.recvv = udp_recvv,
	.shutdown = udp_shutdown,
	.close = udp_close,
	.poll = udp_poll,
	.destroy = udp_destroy,
	.rcvbuf_changed = udp_rcvbuf_changed,
	.setsockopt = us_udp_setsockopt,
	.getsockopt = us_udp_getsockopt,
	.recverr = us_udp_recverr,
};

/* ---- input ---- */

/* Match quality of socket o for a datagram src:sport -> dst:dport; -1 none. */
static int score(const struct us_sock *o, uint32_t src, uint16_t sport, uint32_t dst,
		 uint16_t dport)
{
	if (o->local.sin_port != dport)
		return -1;
	int sc = 0;
	if (o->local.sin_addr.s_addr != INADDR_ANY) {
		if (o->local.sin_addr.s_addr != dst)
			return -1;
		sc += 2;
	}
	if (o->connected) {
		if (o->remote.sin_addr.s_addr != src || o->remote.sin_port != sport)
			return -1;
		sc += 4;
	}
	return sc;
}

static void deliver(struct us_stack *st, struct us_sock *s, uint32_t src, uint16_t sport,
		    const uint8_t *p, size_t n)
{
	pthread_mutex_lock(&s->lock);
	if (s->closed || s->shut_rd || !rq_push(s, src, sport, p, n)) {
		US_STAT_INC(st, UDP_RCVBUF_FULL);
	} else {
		us_sock_wake(s);
	}
	pthread_mutex_unlock(&s->lock);
}

#define BCAST_MAX 32    /* sockets one broadcast datagram is copied to */

void us_udp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p, size_t len)
{
	struct us_stack *st = nif->st;
	struct us_udp *u = &st->udp;
	struct wire_udp d;
	US_STAT_INC(st, UDP_RX);
	/* Offload: the device vouched for the checksum (ip->l4_csum_ok). */
	int rc = ip->l4_csum_ok ? wire_udp_parse_nocsum(p, len, &d)
				: wire_udp_parse(p, len, ip->src, ip->dst, &d);
	if (rc == -1) {
		US_STAT_INC(st, UDP_DROP_SHORT);
		return;
	}
	if (rc == -2) {
		US_STAT_INC(st, UDP_DROP_CHECKSUM);
		return;
	}
	uint16_t sport = htons(d.sport), dport = htons(d.dport);
	/* A DHCP interface's client takes server -> client datagrams itself,
	 * before any socket (as Linux's DHCP clients with a packet socket). */
	if (nif->dhcp && d.dport == DHCP_CLIENT_PORT && d.sport == DHCP_SERVER_PORT) {
		us_dhcp_input(nif, ip, d.payload, d.payload_len);
		return;
	}
	bool bcast = ip->dst == INADDR_BROADCAST || us_netif_is_bcast(nif, ip->dst);
	struct us_sock *targets[BCAST_MAX];
	int nt = 0;

	pthread_rwlock_rdlock(&u->lock);
	if (bcast) {
		for (struct us_sock *o = u->hash[port_hash(dport)]; o && nt < BCAST_MAX; o = o->port_next)
			if (o->local.sin_port == dport &&
			    (o->local.sin_addr.s_addr == INADDR_ANY || o->local.sin_addr.s_addr == ip->dst) &&
			    (!o->connected || (o->remote.sin_addr.s_addr == ip->src &&
					       o->remote.sin_port == sport)))
				targets[nt++] = o;      /* connected: only from its peer */
	} else {
		int best = -1;
		for (struct us_sock *o = u->hash[port_hash(dport)]; o; o = o->port_next) {
			int sc = score(o, ip->src, sport, ip->dst, dport);
			if (sc > best) {
				best = sc;
				targets[0] = o;
			}
		}
		nt = best >= 0;
	}
	for (int i = 0; i < nt; i++)
		us_sock_hold(targets[i]);
	pthread_rwlock_unlock(&u->lock);

	if (nt == 0) {
		US_STAT_INC(st, UDP_NO_PORT);
		if (!bcast)
			us_icmp_send_error(st, ip, p, len, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT);
		return;
	}
	for (int i = 0; i < nt; i++) {
		deliver(st, targets[i], ip->src, sport, d.payload, d.payload_len);
		us_sock_put(targets[i]);
	}
}

void us_udp_icmp_error(struct us_stack *st, uint32_t from, uint8_t type, uint8_t code,
		       uint32_t info, const uint8_t *q, size_t qlen, int err)
{
	if (qlen < IP4_HLEN || (q[0] >> 4) != 4)
		return;
	size_t qh = (size_t)(q[0] & 0x0f) * 4;
	if (qh < IP4_HLEN || qlen < qh + UDP_HLEN || (get16(q + 6) & IP4_OFF_MASK) != 0)
		return;         /* no UDP header quoted (or a later fragment's) */
	uint32_t src, dst;
	memcpy(&src, q + 12, 4);
	memcpy(&dst, q + 16, 4);
	const uint8_t *uh = q + qh;
	uint16_t sport = htons(get16(uh)), dport = htons(get16(uh + 2));
	struct us_udp *u = &st->udp;
	struct us_sock *hit = NULL;
	int best = -1;
	/* As input demux with the datagram's direction reversed (Linux's
	 * __udp4_lib_err looks the socket up the same way). */
	pthread_rwlock_rdlock(&u->lock);
	for (struct us_sock *o = u->hash[port_hash(sport)]; o; o = o->port_next) {
		int sc = score(o, dst, dport, src, sport);
		if (sc > best) {
			best = sc;
			hit = o;
		}
	}
	if (hit)
		us_sock_hold(hit);
	pthread_rwlock_unlock(&u->lock);
	if (!hit)
		return;
	pthread_mutex_lock(&hit->lock);
	bool needfrag = type == ICMP_DEST_UNREACH && code == ICMP_UNREACH_NEEDFRAG;
	if (needfrag && hit->pmtudisc != IP_PMTUDISC_INTERFACE &&
	    hit->pmtudisc != IP_PMTUDISC_OMIT)
		us_ipv4_pmtu_learn(st, dst, info, get16(q + 2));
	if (needfrag && hit->pmtudisc == IP_PMTUDISC_DONT)
		goto out;       /* Linux: it fragments from now on, no error */
	if (hit->connected) {
		hit->so_error = err;
		us_sock_wake(hit);
	}
	us_udp_err_queue(hit, SO_EE_ORIGIN_ICMP, type, code, info, err, from, dst, dport,
			 uh + UDP_HLEN, qlen - qh - UDP_HLEN);
out:
	pthread_mutex_unlock(&hit->lock);
	us_sock_put(hit);
}
