/*
 * udp_err.c — path MTU discovery and extended errors for UDP sockets, as
 * Linux does them (ip_sockglue.c, ip_output.c, udp.c's __udp4_lib_err).
 *
 * IP_MTU_DISCOVER chooses, per socket, what a datagram larger than the
 * path MTU does (the path MTU is the interface's, or less when the IPv4
 * cache learnt less from "fragmentation needed", core/ipv4.c, shared with
 * TCP):
 *
 *   DONT       DF clear, fragmented to the path MTU.
 *   WANT       (the default, Linux's with ip_no_pmtu_disc 0) DF set when
 *              the datagram fits the path MTU, else fragmented to it
 *              with DF clear.
 *   DO         DF set; larger than the path MTU: EMSGSIZE.
 *   PROBE      DF set; only the interface's MTU counts (EMSGSIZE above it).
 *   INTERFACE  DF clear; EMSGSIZE above the interface's MTU.
 *   OMIT       DF clear, fragmented to the interface's MTU.
 *
 * INTERFACE and OMIT sockets do not teach the cache (Linux's
 * ip_sk_accept_pmtu); every other socket does, DONT included. IP_MTU
 * (getsockopt) is the path MTU to a connected socket's peer, ENOTCONN
 * when not connected.
 *
 * IP_RECVERR: ICMP errors about the socket's datagrams are queued, each
 * as a struct sock_extended_err (ee_origin SO_EE_ORIGIN_ICMP, the ICMP
 * type and code, ee_info the next-hop MTU for "fragmentation needed", 0
 * otherwise) followed by the offender's address (the ICMP's source), and
 * read with recvmsg(MSG_ERRQUEUE): the data is the quoted UDP payload,
 * msg_name the datagram's destination, the control message SOL_IP /
 * IP_RECVERR, msg_flags MSG_ERRQUEUE. Such an error is also the socket's
 * pending error (the next call fails with it, connected or not), and
 * reading the queue leaves the next queued ICMP error pending, or none
 * (Linux's sock_dequeue_err_skb). A local EMSGSIZE (DO, PROBE,
 * INTERFACE) is queued too, SO_EE_ORIGIN_LOCAL, ee_info the MTU,
 * without data, with no offender, and is not made pending. Turning
 * IP_RECVERR off empties the queue. Reading it never blocks.
 *
 * Without IP_RECVERR only connected sockets hear of errors (udp.c). The
 * queue holds at most US_ERRQ_LEN errors (Linux bounds it by SO_RCVBUF);
 * more are dropped and counted (udp_errq_full). It is allocated once, when
 * IP_RECVERR is first set, never per error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockproto.h"
#include "stack.h"
#include "lockassert.h"

#define US_ERRQ_LEN  8          /* errors queued per socket */
#define US_ERRQ_DATA 576        /* quoted payload bytes kept per error: all of what
				 * an RFC 1812 router quotes (576 bytes in all) */

struct us_udp_errent {
	struct sock_extended_err ee;
	struct sockaddr_in offender;    /* AF_UNSPEC for a local error */
	uint32_t addr;                  /* the datagram's destination, network order */
	uint16_t port;                  /* its port, network order */
	uint16_t dlen;                  /* bytes in data */
	uint8_t data[US_ERRQ_DATA];
};

struct us_udp_errq {
	int head, count;
	struct us_udp_errent e[US_ERRQ_LEN];
};

void us_udp_err_free(struct us_sock *s)
{
	free(s->errq);
	s->errq = NULL;
}

bool us_udp_err_pending(const struct us_sock *s)
{
	return s->errq && s->errq->count > 0;
}

void us_udp_err_queue(struct us_sock *s, uint8_t origin, uint8_t type, uint8_t code,
		      uint32_t info, int err, uint32_t offender, uint32_t addr, uint16_t port,
		      const uint8_t *data, size_t dlen)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_udp_errq *q = s->errq;
	if (!s->recverr || !q)
		return;
	if (q->count == US_ERRQ_LEN) {
		US_STAT_INC(s->st, UDP_ERRQ_FULL);
		return;
	}
	struct us_udp_errent *e = &q->e[(q->head + q->count) % US_ERRQ_LEN];
	memset(&e->ee, 0, sizeof e->ee);
	e->ee.ee_errno = (uint32_t)err;
	e->ee.ee_origin = origin;
	e->ee.ee_type = type;
	e->ee.ee_code = code;
	e->ee.ee_info = info;
	memset(&e->offender, 0, sizeof e->offender);
	if (origin == SO_EE_ORIGIN_ICMP) {
		e->offender.sin_family = AF_INET;
		e->offender.sin_addr.s_addr = offender;
	}
	e->addr = addr;
	e->port = port;
	e->dlen = (uint16_t)(dlen < US_ERRQ_DATA ? dlen : US_ERRQ_DATA);
	if (e->dlen)
		memcpy(e->data, data, e->dlen);
	q->count++;
	if (origin == SO_EE_ORIGIN_ICMP)
		s->so_error = err;
	us_sock_wake(s);
}

/* Scatter n bytes into the message's buffers; returns what fitted. */
static size_t to_iov(const struct msghdr *m, const uint8_t *p, size_t n)
{
	size_t done = 0;
	for (size_t i = 0; i < (size_t)m->msg_iovlen && done < n; i++) {
		size_t k = m->msg_iov[i].iov_len < n - done ? m->msg_iov[i].iov_len : n - done;
		if (k)
			memcpy(m->msg_iov[i].iov_base, p + done, k);
		done += k;
	}
	return done;
}

/* Put one control message (level, type, data) as Linux's put_cmsg: a short
 * buffer gets what fits and MSG_CTRUNC. */
static void put_cmsg(struct msghdr *m, int level, int type, const void *data, size_t len)
{
	uint8_t buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in))];
	size_t space = CMSG_SPACE(len);
	if (!m->msg_control || m->msg_controllen < sizeof(struct cmsghdr) || space > sizeof buf) {
		m->msg_flags |= MSG_CTRUNC;
		m->msg_controllen = 0;
		return;
	}
	memset(buf, 0, sizeof buf);
	struct cmsghdr c = { .cmsg_len = CMSG_LEN(len), .cmsg_level = level, .cmsg_type = type };
	memcpy(buf, &c, sizeof c);
	memcpy(buf + CMSG_LEN(0), data, len);
	size_t n = space;
	if (m->msg_controllen < CMSG_LEN(len)) {
		m->msg_flags |= MSG_CTRUNC;
		n = m->msg_controllen;
	} else if (m->msg_controllen < space) {
		n = m->msg_controllen;
	}
	memcpy(m->msg_control, buf, n);
	m->msg_controllen = n;
}

ssize_t us_udp_recverr(struct us_sock *s, struct msghdr *m)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_udp_errq *q = s->errq;
	if (!q || q->count == 0)
		return -EAGAIN;
	struct us_udp_errent *e = &q->e[q->head];
	size_t room = 0;
	for (size_t i = 0; i < (size_t)m->msg_iovlen; i++)
		room += m->msg_iov[i].iov_len;
	size_t n = to_iov(m, e->data, e->dlen);
	if (e->dlen > room)
		m->msg_flags |= MSG_TRUNC;
	if (m->msg_name) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = e->port };
		a.sin_addr.s_addr = e->addr;
		us_sockaddr_out(&a, m->msg_name, &m->msg_namelen);
		m->msg_namelen = sizeof a;
	}
	struct {
		struct sock_extended_err ee;
		struct sockaddr_in offender;
	} eh;
	memcpy(&eh.ee, &e->ee, sizeof eh.ee);
	eh.offender = e->offender;
	put_cmsg(m, SOL_IP, IP_RECVERR, &eh, sizeof eh);
	m->msg_flags |= MSG_ERRQUEUE;
	/* Dequeue; the next ICMP error, if any, becomes the pending one. */
	bool was_icmp = e->ee.ee_origin == SO_EE_ORIGIN_ICMP;
	q->head = (q->head + 1) % US_ERRQ_LEN;
	q->count--;
	if (q->count > 0 && q->e[q->head].ee.ee_origin == SO_EE_ORIGIN_ICMP)
		s->so_error = (int)q->e[q->head].ee.ee_errno;
	else if (was_icmp)
		s->so_error = 0;
	return (ssize_t)n;
}

/* The outgoing interface's MTU towards dst, or 0 with no route. */
static uint32_t if_mtu(struct us_stack *st, uint32_t dst)
{
	int ifi;
	uint32_t nh, src;
	if (dst == INADDR_BROADCAST)
		return st->nifs ? st->ifs[0].mtu : 0;
	if (us_ipv4_route(st, dst, &ifi, &nh, &src) < 0)
		return 0;
	return st->ifs[ifi].mtu;
}

int us_udp_tx_mtu(struct us_sock *s, uint32_t dst, size_t len, bool *df, uint16_t *frag_mtu)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_stack *st = s->st;
	size_t dlen = IP4_HLEN + UDP_HLEN + len;
	uint32_t ifmtu = if_mtu(st, dst);
	if (!ifmtu)
		return 0;       /* no route: the send itself reports it */
	uint32_t pmtu = ifmtu;
	/* The cache never holds less than US_PMTU_MIN: a smaller datagram
	 * needs no look (and no lock). */
	if (s->pmtudisc <= IP_PMTUDISC_DO && dlen > US_PMTU_MIN)
		pmtu = us_ipv4_path_mtu(st, dst, ifmtu);
	uint32_t limit = 0;     /* EMSGSIZE above it */
	*frag_mtu = 0;
	switch (s->pmtudisc) {
	case IP_PMTUDISC_DONT:
		*df = false;
		*frag_mtu = (uint16_t)pmtu;
		break;
	case IP_PMTUDISC_WANT:
	default:
		*df = dlen <= pmtu;
		*frag_mtu = (uint16_t)pmtu;
		break;
	case IP_PMTUDISC_DO:
		*df = true;
		limit = pmtu;
		break;
	case IP_PMTUDISC_PROBE:
		*df = true;
		limit = ifmtu;
		break;
	case IP_PMTUDISC_INTERFACE:
		*df = false;
		limit = ifmtu;
		break;
	case IP_PMTUDISC_OMIT:
		*df = false;
		break;
	}
	if (limit && dlen > limit) {
		/* Linux's ip_local_error: queued only with IP_RECVERR, with the
		 * connected peer's port (0 when not connected). */
		us_udp_err_queue(s, SO_EE_ORIGIN_LOCAL, 0, 0, limit, EMSGSIZE, 0, dst,
				 s->connected ? s->remote.sin_port : 0, NULL, 0);
		return -EMSGSIZE;
	}
	return 0;
}

int us_udp_setsockopt(struct us_sock *s, int level, int name, const void *val, socklen_t len)
{
	US_ASSERT_LOCKED(&s->lock);
	if (level != IPPROTO_IP || (name != IP_MTU_DISCOVER && name != IP_RECVERR))
		return -ENOPROTOOPT;
	int v, e = us_opt_get_int(val, len, &v);
	if (e)
		return -e;
	if (name == IP_MTU_DISCOVER) {
		if (v < IP_PMTUDISC_DONT || v > IP_PMTUDISC_OMIT)
			return -EINVAL;
		s->pmtudisc = (uint8_t)v;
		return 0;
	}
	if (v && !s->errq) {
		s->errq = calloc(1, sizeof *s->errq);
		if (!s->errq)
			return -ENOMEM;
	}
	s->recverr = v != 0;
	if (!v && s->errq)
		s->errq->count = 0;     /* Linux purges the queue */
	return 0;
}

int us_udp_getsockopt(struct us_sock *s, int level, int name, void *val, socklen_t *len)
{
	US_ASSERT_LOCKED(&s->lock);
	if (level != IPPROTO_IP)
		return -ENOPROTOOPT;
	int v;
	switch (name) {
	case IP_MTU_DISCOVER:
		v = s->pmtudisc;
		break;
	case IP_RECVERR:
		v = s->recverr;
		break;
	case IP_MTU: {
		uint32_t ifmtu = s->connected ? if_mtu(s->st, s->remote.sin_addr.s_addr) : 0;
		if (!ifmtu)
			return -ENOTCONN;
		v = (int)us_ipv4_path_mtu(s->st, s->remote.sin_addr.s_addr, ifmtu);
		break;
	}
	default:
		return -ENOPROTOOPT;
	}
	int e = us_opt_put_int(val, len, v);
	return e ? -e : 0;
}
