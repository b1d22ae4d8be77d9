/*
 * icmp.c — ICMP (RFC 792; RFC 1122 3.2.2) and the ping endpoints.
 *
 * Echo requests to one of our unicast addresses are answered with the
 * same identifier, sequence and data; requests to a broadcast address are
 * ignored, as Linux does by default (icmp_echo_ignore_broadcasts).
 * Errors we send follow RFC 1122 3.2.2: never about an ICMP error, a
 * datagram to or from a broadcast or multicast address, or a fragment
 * other than the first; they quote as much of the datagram as fits in 576
 * bytes (RFC 1812 4.3.2.3, as Linux does) and are rate limited by a token
 * bucket (1000/s, burst 50: Linux's icmp_msgs_per_sec and _burst).
 * Errors we receive about our echo requests reach the ping endpoint that
 * sent them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "lockassert.h"

int us_icmp_init(struct us_stack *st, struct us_icmp *ic)
{
	pthread_mutex_init(&ic->lock, NULL);
	ic->st = st;
	ic->next_id = (uint16_t)us_rng_u32(&st->rng);
	ic->stopping = false;
	ic->tokens = US_ICMP_RATE_BURST;
	ic->tokens_at = us_now(st);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int i = 0; i < US_PING_ENDPOINTS; i++) {
		memset(&ic->eps[i], 0, sizeof ic->eps[i]);
		pthread_cond_init(&ic->eps[i].cond, &ca);
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

void us_icmp_destroy(struct us_icmp *ic)
{
	for (int i = 0; i < US_PING_ENDPOINTS; i++) {
		free(ic->eps[i].rep);
		free(ic->eps[i].data);
		pthread_cond_destroy(&ic->eps[i].cond);
	}
	pthread_mutex_destroy(&ic->lock);
}

void us_icmp_stop(struct us_icmp *ic)
{
	pthread_mutex_lock(&ic->lock);
	ic->stopping = true;
	for (int i = 0; i < US_PING_ENDPOINTS; i++)
		pthread_cond_broadcast(&ic->eps[i].cond);
	pthread_mutex_unlock(&ic->lock);
}

static inline bool is_bcast_or_mcast(struct us_stack *st, uint32_t a)
{
	if (a == 0xffffffffu || a == 0 || (ntohl(a) & 0xf0000000u) == 0xe0000000u)
		return true;
	for (int i = 0; i < st->nifs; i++)
		if (us_netif_is_bcast(&st->ifs[i], a))
			return true;
	return false;
}

/* With ic->lock held. */
static struct us_ping_ep *ep_by_id(struct us_icmp *ic, uint16_t id)
{
	US_ASSERT_LOCKED(&ic->lock);
	for (int i = 0; i < US_PING_ENDPOINTS; i++)
		if (ic->eps[i].in_use && ic->eps[i].id == id)
			return &ic->eps[i];
	return NULL;
}

/* Queue a reply or error on the endpoint owning id. */
static void ep_post(struct us_stack *st, uint16_t id, const struct us_echo_reply *rep,
		    const uint8_t *data, size_t len)
{
	struct us_icmp *ic = &st->icmp;
	pthread_mutex_lock(&ic->lock);
	struct us_ping_ep *ep = ep_by_id(ic, id);
	if (!ep) {
		pthread_mutex_unlock(&ic->lock);
		US_STAT_INC(st, ICMP_ECHO_NO_ENDPT);
		return;
	}
	if (ep->count == US_PING_QUEUE) {
		pthread_mutex_unlock(&ic->lock);
		US_STAT_INC(st, ICMP_ECHO_Q_FULL);
		return;
	}
	int slot = (ep->head + ep->count) % US_PING_QUEUE;
	if (len > US_PING_MAX_DATA)
		len = US_PING_MAX_DATA;
	ep->rep[slot] = *rep;
	ep->rep[slot].len = len;
	if (len)        /* errors post data NULL: memcpy(NULL) is undefined even for 0 */
		memcpy(ep->data + (size_t)slot * US_PING_MAX_DATA, data, len);
	ep->count++;
	pthread_cond_broadcast(&ep->cond);
	pthread_mutex_unlock(&ic->lock);
}

static int unreach_errno(uint8_t type, uint8_t code)
{
	if (type == ICMP_TIME_EXCEEDED)
		return EHOSTUNREACH;
	switch (code) {
	case ICMP_UNREACH_NET:
		return ENETUNREACH;
	case ICMP_UNREACH_PROTOCOL:
		return ENOPROTOOPT;
	case ICMP_UNREACH_PORT:
		return ECONNREFUSED;
	case ICMP_UNREACH_NEEDFRAG:
		return EMSGSIZE;
	default:
		return EHOSTUNREACH;
	}
}

/* An error message about one of our datagrams: find who sent it. */
static void icmp_error_input(struct us_stack *st, const struct wire_ip4 *ip,
			     const struct wire_icmp *m)
{
	const uint8_t *q = m->data;
	size_t qlen = m->data_len;
	if (qlen < IP4_HLEN || (q[0] >> 4) != 4)
		return;
	size_t qh = (size_t)(q[0] & 0x0f) * 4;
	if (qh < IP4_HLEN || qlen < qh + 8)
		return;
	uint16_t frag = get16(q + 6);
	if ((frag & IP4_OFF_MASK) != 0)
		return;         /* quotes a non-first fragment: no transport header */
	const uint8_t *l4 = q + qh;
	if (q[9] == IP_PROTO_ICMP && l4[0] == ICMP_ECHO_REQUEST) {
		struct us_echo_reply rep = {
			.from.s_addr = ip->src,
			.seq = get16(l4 + 6),
			.ttl = ip->ttl,
			.icmp_type = m->type,
			.icmp_code = m->code,
			.error = unreach_errno(m->type, m->code),
			.recv_ns = us_now(st),
		};
		ep_post(st, get16(l4 + 4), &rep, NULL, 0);
	}
	if (q[9] == IP_PROTO_UDP) {
		/* RFC 1191 4: the next-hop MTU is the low 16 bits of the second word. */
		bool nf = m->type == ICMP_DEST_UNREACH && m->code == ICMP_UNREACH_NEEDFRAG;
		us_udp_icmp_error(st, ip->src, m->type, m->code, nf ? m->rest & 0xffff : 0, q, qlen,
				  unreach_errno(m->type, m->code));
	}
	if (q[9] == IP_PROTO_TCP) {
		uint32_t src, dst;
		memcpy(&src, q + 12, 4);
		memcpy(&dst, q + 16, 4);
		uint32_t seq = (uint32_t)get16(l4 + 4) << 16 | get16(l4 + 6);
		if (m->type == ICMP_DEST_UNREACH && m->code == ICMP_UNREACH_NEEDFRAG) {
			/* RFC 1191: the next-hop MTU is the low 16 bits of the second word. */
			us_tcp_pmtu(st, src, htons(get16(l4)), dst, htons(get16(l4 + 2)), seq,
				    m->rest & 0xffff, get16(q + 2));
			return;
		}
		us_tcp_error(st, src, htons(get16(l4)), dst, htons(get16(l4 + 2)), seq, m->type,
			     m->code, unreach_errno(m->type, m->code));
	}
}

void us_icmp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p, size_t len)
{
	struct us_stack *st = nif->st;
	struct wire_icmp m;
	US_STAT_INC(st, ICMP_RX);
	int rc = wire_icmp_parse(p, len, &m);
	if (rc == -1) {
		US_STAT_INC(st, ICMP_DROP_SHORT);
		return;
	}
	if (rc == -2) {
		US_STAT_INC(st, ICMP_DROP_CHECKSUM);
		return;
	}
	switch (m.type) {
	case ICMP_ECHO_REQUEST: {
		US_STAT_INC(st, ICMP_RX_ECHO_REQ);
		if (!us_ipv4_is_local(st, ip->dst))
			return;         /* broadcast echo: ignored, like Linux */
		uint8_t h[ICMP_HLEN] = { ICMP_ECHO_REPLY, 0, 0, 0 };
		put32(h + 4, m.rest);
		uint16_t c = wire_csum_fold(wire_csum_add(wire_csum_add(0, h, sizeof h), m.data,
							  m.data_len));
		memcpy(h + 2, &c, 2);
		struct us_ip_tx tx = {
			.src = ip->dst, .dst = ip->src, .proto = IP_PROTO_ICMP, .ifindex = -1,
			.tos = ip->tos,
		};
		if (us_ipv4_send(st, &tx, h, sizeof h, m.data, m.data_len) == 0) {
			US_STAT_INC(st, ICMP_TX);
			US_STAT_INC(st, ICMP_TX_ECHO_REP);
		}
		return;
	}
	case ICMP_ECHO_REPLY: {
		US_STAT_INC(st, ICMP_RX_ECHO_REP);
		struct us_echo_reply rep = {
			.from.s_addr = ip->src,
			.seq = m.seq,
			.ttl = ip->ttl,
			.icmp_type = ICMP_ECHO_REPLY,
			.recv_ns = us_now(st),
		};
		ep_post(st, m.id, &rep, m.data, m.data_len);
		return;
	}
	case ICMP_DEST_UNREACH:
		US_STAT_INC(st, ICMP_RX_UNREACH);
		icmp_error_input(st, ip, &m);
		return;
	case ICMP_TIME_EXCEEDED:
		US_STAT_INC(st, ICMP_RX_TIMEEXC);
		icmp_error_input(st, ip, &m);
		return;
	default:
		US_STAT_INC(st, ICMP_RX_OTHER);
		return;
	}
}

static bool is_error_type(uint8_t t)
{
	return t == ICMP_DEST_UNREACH || t == 4 /* source quench */ || t == 5 /* redirect */ ||
	       t == ICMP_TIME_EXCEEDED || t == ICMP_PARAM_PROBLEM;
}

/* Token bucket; true if a message may go now. */
static bool rate_ok(struct us_stack *st)
{
	struct us_icmp *ic = &st->icmp;
	uint64_t now = us_now(st);
	pthread_mutex_lock(&ic->lock);
	if (now > ic->tokens_at) {
		ic->tokens += (double)(now - ic->tokens_at) * US_ICMP_RATE_PER_SEC / US_NS_PER_SEC;
		if (ic->tokens > US_ICMP_RATE_BURST)
			ic->tokens = US_ICMP_RATE_BURST;
		ic->tokens_at = now;
	}
	bool ok = ic->tokens >= 1.0;
	if (ok)
		ic->tokens -= 1.0;
	pthread_mutex_unlock(&ic->lock);
	return ok;
}

/* Build and send an error quoting ip; the RFC 1122 3.2.2 checks were done. */
static void send_error(struct us_stack *st, const struct wire_ip4 *ip, const uint8_t *payload,
		       size_t len, uint8_t type, uint8_t code, uint32_t rest, uint32_t src)
{
	if (ip->proto == IP_PROTO_ICMP && (len < 1 || is_error_type(payload[0])))
		return;
	if (!rate_ok(st)) {
		US_STAT_INC(st, ICMP_RATELIMITED);
		return;
	}
	/* Quote the header and as much data as fits in a 576-byte datagram. */
	uint8_t quote[576 - IP4_HLEN - ICMP_HLEN];
	size_t qlen = ip->hlen;
	memcpy(quote, ip->hdr, ip->hlen);
	size_t room = sizeof quote - qlen;
	size_t n = len < room ? len : room;
	memcpy(quote + qlen, payload, n);
	qlen += n;
	uint8_t h[ICMP_HLEN] = { type, code, 0, 0 };
	put32(h + 4, rest);
	uint16_t c = wire_csum_fold(wire_csum_add(wire_csum_add(0, h, sizeof h), quote, qlen));
	memcpy(h + 2, &c, 2);
	struct us_ip_tx tx = {
		.src = src, .dst = ip->src, .proto = IP_PROTO_ICMP, .ifindex = -1,
	};
	if (us_ipv4_send(st, &tx, h, sizeof h, quote, qlen) == 0) {
		US_STAT_INC(st, ICMP_TX);
		if (type == ICMP_DEST_UNREACH)
			US_STAT_INC(st, ICMP_TX_UNREACH);
		else if (type == ICMP_TIME_EXCEEDED)
			US_STAT_INC(st, ICMP_TX_TIMEEXC);
		else if (type == ICMP_REDIRECT)
			US_STAT_INC(st, ICMP_TX_REDIRECT);
	}
}

void us_icmp_send_error(struct us_stack *st, const struct wire_ip4 *ip, const uint8_t *payload,
			size_t len, uint8_t type, uint8_t code)
{
	/* RFC 1122 3.2.2: nothing about a non-first fragment or a link-layer broadcast. */
	if (ip->frag_off != 0 || ip->link_bcast)
		return;
	if (!us_ipv4_is_local(st, ip->dst) || is_bcast_or_mcast(st, ip->src))
		return;
	send_error(st, ip, payload, len, type, code, 0, ip->dst);
}

void us_icmp_send_error_fwd(struct us_stack *st, const struct wire_ip4 *ip,
			    const uint8_t *payload, size_t len, uint8_t type, uint8_t code,
			    uint32_t rest)
{
	/* RFC 1812 4.3.2.7: the same rules as a host's (RFC 1122 3.2.2). */
	if (ip->frag_off != 0 || ip->link_bcast)
		return;
	if (is_bcast_or_mcast(st, ip->dst) || is_bcast_or_mcast(st, ip->src))
		return;
	/* RFC 1812 4.3.2.4: from the address of the interface the error goes
	 * out of (the route back to the source picks it), as Linux does. */
	send_error(st, ip, payload, len, type, code, rest, 0);
}

void us_icmp_local_error(struct us_stack *st, const uint8_t *pkt, size_t len, int err)
{
	size_t hl = (size_t)(pkt[0] & 0x0f) * 4;
	if (hl < IP4_HLEN || len < hl + ICMP_HLEN || (get16(pkt + 6) & IP4_OFF_MASK) != 0)
		return;
	const uint8_t *l4 = pkt + hl;
	if (l4[0] != ICMP_ECHO_REQUEST)
		return;
	struct us_echo_reply rep = { .seq = get16(l4 + 6), .error = err, .recv_ns = us_now(st) };
	memcpy(&rep.from.s_addr, pkt + 12, 4);   /* reported by ourselves, like Linux */
	rep.icmp_type = ICMP_DEST_UNREACH;
	rep.icmp_code = ICMP_UNREACH_HOST;
	ep_post(st, get16(l4 + 4), &rep, NULL, 0);
}

/* ---- public ping endpoint API ---- */

int us_ping_open(us_stack *st, uint16_t *id)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	struct us_icmp *ic = &st->icmp;
	struct us_echo_reply *rep = calloc(US_PING_QUEUE, sizeof *rep);
	uint8_t *data = malloc((size_t)US_PING_QUEUE * US_PING_MAX_DATA);
	if (!rep || !data) {
		free(rep);
		free(data);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&ic->lock);
	int h = -1;
	for (int i = 0; i < US_PING_ENDPOINTS; i++)
		if (!ic->eps[i].in_use) {
			h = i;
			break;
		}
	if (h < 0) {
		pthread_mutex_unlock(&ic->lock);
		free(rep);
		free(data);
		errno = EMFILE;
		return -1;
	}
	struct us_ping_ep *ep = &ic->eps[h];
	uint16_t nid;
	do
		nid = ic->next_id++;
	while (ep_by_id(ic, nid));
	free(ep->rep);
	free(ep->data);
	ep->rep = rep;
	ep->data = data;
	ep->in_use = true;
	ep->id = nid;
	ep->ifindex = -1;
	ep->src = 0;
	ep->head = ep->count = 0;
	pthread_mutex_unlock(&ic->lock);
	if (id)
		*id = nid;
	return h;
}

static struct us_ping_ep *ep_get(struct us_icmp *ic, int h)
{
	if (h < 0 || h >= US_PING_ENDPOINTS || !ic->eps[h].in_use)
		return NULL;
	return &ic->eps[h];
}

int us_ping_send(us_stack *st, int h, struct in_addr dst, uint16_t seq, uint8_t ttl,
		 const void *payload, size_t len)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	struct us_icmp *ic = &st->icmp;
	pthread_mutex_lock(&ic->lock);
	struct us_ping_ep *ep = ep_get(ic, h);
	uint16_t id = ep ? ep->id : 0;
	int ifindex = ep ? ep->ifindex : -1;
	uint32_t src = ep ? ep->src : 0;
	pthread_mutex_unlock(&ic->lock);
	if (!ep) {
		errno = EBADF;
		return -1;
	}
	if (len > US_PING_MAX_DATA) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!payload && len) {
		errno = EFAULT;         /* as a ping socket's sendto */
		return -1;
	}
	if (!payload)
		payload = "";           /* len 0: nothing is read from it */
	uint8_t hdr[ICMP_HLEN] = { ICMP_ECHO_REQUEST, 0, 0, 0 };
	put16(hdr + 4, id);
	put16(hdr + 6, seq);
	uint16_t c = wire_csum_fold(wire_csum_add(wire_csum_add(0, hdr, sizeof hdr), payload, len));
	memcpy(hdr + 2, &c, 2);
	struct us_ip_tx tx = {
		.src = src, .dst = dst.s_addr, .proto = IP_PROTO_ICMP, .ttl = ttl, .ifindex = ifindex,
	};
	int rc = us_ipv4_send(st, &tx, hdr, sizeof hdr, payload, len);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	US_STAT_INC(st, ICMP_TX);
	US_STAT_INC(st, ICMP_TX_ECHO_REQ);
	return 0;
}

int us_ping_bind(us_stack *st, int h, int ifindex, struct in_addr src)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	if (ifindex < -1 || (ifindex >= st->nifs && ifindex != US_LO_IFINDEX)) {
		errno = ENODEV;
		return -1;
	}
	if (src.s_addr && !us_ipv4_is_local(st, src.s_addr)) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	struct us_icmp *ic = &st->icmp;
	pthread_mutex_lock(&ic->lock);
	struct us_ping_ep *ep = ep_get(ic, h);
	if (ep) {
		ep->ifindex = ifindex;
		ep->src = src.s_addr;
	}
	pthread_mutex_unlock(&ic->lock);
	if (!ep) {
		errno = EBADF;
		return -1;
	}
	return 0;
}

int us_ping_source(us_stack *st, int h, struct in_addr dst, struct in_addr *src)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	if (!src) {
		errno = EFAULT;
		return -1;
	}
	struct us_icmp *ic = &st->icmp;
	pthread_mutex_lock(&ic->lock);
	struct us_ping_ep *ep = ep_get(ic, h);
	int bound_if = ep ? ep->ifindex : -1;
	uint32_t bound_src = ep ? ep->src : 0;
	pthread_mutex_unlock(&ic->lock);
	if (!ep) {
		errno = EBADF;
		return -1;
	}
	int ifindex;
	uint32_t nh, a;
	int rc = us_ipv4_route(st, dst.s_addr, &ifindex, &nh, &a);
	if (bound_if >= 0 && (rc < 0 || ifindex != bound_if)) {
		/* Bound to a device: the destination is taken as on-link there,
		 * as us_ipv4_sendv does with a forced interface. */
		a = us_netif_src_for(&st->ifs[bound_if], dst.s_addr);
		rc = 0;
	}
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	src->s_addr = bound_src ? bound_src : a;
	return 0;
}

int us_ping_recv(us_stack *st, int h, struct us_echo_reply *rep, void *payload, size_t cap,
		 int timeout_ms)
{
	US_API_POINT();
	US_API_LIVE(st, -1);
	struct us_icmp *ic = &st->icmp;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms > 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&ic->lock);
	struct us_ping_ep *ep = ep_get(ic, h);
	if (!ep || !rep) {
		pthread_mutex_unlock(&ic->lock);
		errno = ep ? EFAULT : EBADF;
		return -1;
	}
	while (ep->count == 0) {
		int err = 0;
		if (ic->stopping)
			err = ESHUTDOWN;
		else if (!ep->in_use)
			err = EBADF;
		else if (timeout_ms == 0 || st->deterministic)
			err = ETIMEDOUT;
		if (!err) {
			ep->waiters++;
			int rc = timeout_ms < 0 ? pthread_cond_wait(&ep->cond, &ic->lock)
						: pthread_cond_timedwait(&ep->cond, &ic->lock, &deadline);
			ep->waiters--;
			if (rc == ETIMEDOUT && ep->count == 0)
				err = ETIMEDOUT;
		}
		if (err) {
			pthread_cond_broadcast(&ep->cond);
			pthread_mutex_unlock(&ic->lock);
			errno = err;
			return -1;
		}
	}
	int slot = ep->head;
	*rep = ep->rep[slot];
	size_t n = rep->len < cap ? rep->len : cap;
	if (payload && n)
		memcpy(payload, ep->data + (size_t)slot * US_PING_MAX_DATA, n);
	ep->head = (ep->head + 1) % US_PING_QUEUE;
	ep->count--;
	pthread_mutex_unlock(&ic->lock);
	return 0;
}

void us_ping_close(us_stack *st, int h)
{
	US_API_CALL();
	struct us_icmp *ic = &st->icmp;
	pthread_mutex_lock(&ic->lock);
	struct us_ping_ep *ep = ep_get(ic, h);
	if (ep) {
		ep->in_use = false;
		ep->count = 0;
		pthread_cond_broadcast(&ep->cond);
		/* Wait for blocked receivers to leave before the slot is reused. */
		while (ep->waiters > 0)
			pthread_cond_wait(&ep->cond, &ic->lock);
	}
	pthread_mutex_unlock(&ic->lock);
}
