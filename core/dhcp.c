/*
 * dhcp.c — the DHCP client (RFC 2131; see dhcp.h for the shape and the
 * locking). The states and transitions are those of RFC 2131 4.4
 * (figure 5), without INIT-REBOOT: a client always starts from INIT.
 *
 * Messages are built here whole (IP, UDP, DHCP) and leave through the
 * interface they belong to, not through the routing table: broadcasts
 * from 0.0.0.0 while no address is held (RFC 2131 4.1), unicast to the
 * server (or via the lease's router when the server is off-link) to
 * renew and release. They come back through UDP input, which hands this
 * file every datagram from port 67 to port 68 on a DHCP interface.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dhcp.h"
#include "stack.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

#define NS (1000000000ULL)

const char *us_dhcp_state_name(enum us_dhcp_state s)
{
	switch (s) {
	case US_DHCP_INIT: return "init";
	case US_DHCP_SELECTING: return "selecting";
	case US_DHCP_REQUESTING: return "requesting";
	case US_DHCP_PROBING: return "probing";
	case US_DHCP_BOUND: return "bound";
	case US_DHCP_RENEWING: return "renewing";
	case US_DHCP_REBINDING: return "rebinding";
	case US_DHCP_DECLINED: return "declined";
	case US_DHCP_STOPPED: return "stopped";
	}
	return "?";
}

static void dhcp_timer(void *arg);

int us_dhcp_create(struct us_netif *nif)
{
	struct us_dhcp *d = calloc(1, sizeof *d);
	if (!d) {
		errno = ENOMEM;
		return -1;
	}
	d->nif = nif;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->changed, &ca);
	pthread_condattr_destroy(&ca);
	us_timer_init(&d->timer, dhcp_timer, d);
	d->state = US_DHCP_INIT;
	nif->dhcp = d;
	return 0;
}

void us_dhcp_destroy(struct us_netif *nif)
{
	struct us_dhcp *d = nif->dhcp;
	if (!d)
		return;
	us_timer_cancel_sync(&nif->st->wheel, &d->timer);
	pthread_cond_destroy(&d->changed);
	pthread_mutex_destroy(&d->lock);
	nif->dhcp = NULL;
	free(d);
}

/* ---- sending ------------------------------------------------------------ */

/* Seconds since the exchange began, for the secs field (RFC 2131 2). */
static uint16_t secs_since(const struct us_dhcp *d)
{
	uint64_t s = (us_now(d->nif->st) - d->began) / NS;
	return s > 0xffff ? 0xffff : (uint16_t)s;
}

/*
 * Build and send one client message. src/dst in network order; dst
 * 255.255.255.255 goes out as an Ethernet broadcast, anything else to
 * nh (resolved by ARP). Under d->lock.
 */
static void send_msg(struct us_dhcp *d, uint8_t type, uint32_t ciaddr, uint32_t requested,
		     uint32_t server, uint32_t src, uint32_t dst, uint32_t nh)
{
	struct us_netif *nif = d->nif;
	struct us_stack *st = nif->st;
	struct us_buf *b = us_buf_get(&st->pool);
	if (!b) {
		US_STAT_INC(st, ETH_DROP_NOBUF);
		return;
	}
	struct wire_dhcp_req r = {
		.type = type,
		.xid = d->xid,
		.secs = type == DHCP_DISCOVER || type == DHCP_REQUEST ? secs_since(d) : 0,
		/* Replies broadcast while we cannot take unicast to an address
		 * not yet ours (RFC 2131 4.1): the client has none then. */
		.flags = ciaddr || type == DHCP_DECLINE || type == DHCP_RELEASE ? 0
								    : DHCP_FLAG_BROADCAST,
		.ciaddr = ciaddr,
		.requested_ip = requested,
		.server_id = server,
		.param_list = type == DHCP_DISCOVER || type == DHCP_REQUEST,
	};
	memcpy(r.chaddr, nif->mac, 6);
	uint8_t *ip = b->data, *udp = ip + IP4_HLEN, *msg = udp + UDP_HLEN;
	size_t n = wire_dhcp_build(msg, us_buf_tailroom(b) - IP4_HLEN - UDP_HLEN, &r);
	if (n == 0) {
		us_buf_put(&st->pool, b);
		return;
	}
	wire_udp_build(udp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, n, src, dst);
	struct wire_ip4_hdr h = {
		.total_len = (uint16_t)(IP4_HLEN + UDP_HLEN + n),
		.ttl = US_IP_DEFAULT_TTL,
		.proto = IP_PROTO_UDP,
		.src = src,
		.dst = dst,
	};
	wire_ip4_build(ip, &h);
	b->len = IP4_HLEN + UDP_HLEN + n;
	US_STAT_INC(st, IP_TX);
	if (dst == INADDR_BROADCAST)
		us_netif_tx_eth(nif, b, wire_eth_broadcast, ETH_TYPE_IPV4);
	else
		us_netif_output_ip(nif, nh, b);
}

/* The next hop for a unicast to the server: itself on-link, else the router. */
static uint32_t server_hop(const struct us_dhcp *d)
{
	if (us_netif_on_link(d->nif, d->lease.server) || !d->lease.router)
		return d->lease.server;
	return d->lease.router;
}

static void send_discover(struct us_dhcp *d)
{
	US_STAT_INC(d->nif->st, DHCP_TX_DISCOVER);
	send_msg(d, DHCP_DISCOVER, 0, 0, 0, 0, INADDR_BROADCAST, 0);
}

static void send_request_selecting(struct us_dhcp *d)
{
	US_STAT_INC(d->nif->st, DHCP_TX_REQUEST);
	/* RFC 2131 4.3.2 "SELECTING state": server id and requested IP, ciaddr 0. */
	send_msg(d, DHCP_REQUEST, 0, d->offer.addr, d->offer.server, 0, INADDR_BROADCAST, 0);
}

/* RENEWING: unicast to the server; REBINDING: broadcast. ciaddr set, no
 * server id or requested IP (RFC 2131 4.3.2). */
static void send_request_bound(struct us_dhcp *d, bool rebind)
{
	struct us_stack *st = d->nif->st;
	if (rebind) {
		US_STAT_INC(st, DHCP_TX_REBIND);
		send_msg(d, DHCP_REQUEST, d->lease.addr, 0, 0, d->lease.addr, INADDR_BROADCAST, 0);
	} else {
		US_STAT_INC(st, DHCP_TX_RENEW);
		send_msg(d, DHCP_REQUEST, d->lease.addr, 0, 0, d->lease.addr, d->lease.server,
			 server_hop(d));
	}
}

/* ---- timing ------------------------------------------------------------- */

static void arm_at(struct us_dhcp *d, uint64_t at)
{
	us_timer_arm(&d->nif->st->wheel, &d->timer, at);
}

/* RFC 2131 4.1: the current backoff randomised by -1..+1 s, then doubled
 * (at most 64 s) for the next time. */
static void arm_backoff(struct us_dhcp *d)
{
	struct us_stack *st = d->nif->st;
	uint64_t jitter = us_rng_u64(&st->rng) % (2 * NS + 1);
	uint64_t delay = d->backoff + jitter - NS;
	d->backoff = d->backoff * 2 > US_DHCP_BACKOFF_MAX_NS ? US_DHCP_BACKOFF_MAX_NS
							     : d->backoff * 2;
	arm_at(d, us_now(st) + delay);
}

/* RFC 2131 4.4.5: wait half the time left until deadline, at least 60 s,
 * but never past the deadline itself. */
static void arm_half_way(struct us_dhcp *d, uint64_t deadline)
{
	uint64_t now = us_now(d->nif->st);
	uint64_t left = deadline > now ? deadline - now : 0;
	uint64_t wait = left / 2 < US_DHCP_RENEW_MIN_NS ? US_DHCP_RENEW_MIN_NS : left / 2;
	arm_at(d, wait > left ? deadline : now + wait);
}

/* Begin (again) from INIT: a new transaction, a DISCOVER now. */
static void start_selecting(struct us_dhcp *d)
{
	struct us_stack *st = d->nif->st;
	d->state = US_DHCP_SELECTING;
	d->xid = us_rng_u32(&st->rng);
	d->began = us_now(st);
	d->backoff = US_DHCP_BACKOFF_FIRST_NS;
	d->tries = 0;
	memset(&d->offer, 0, sizeof d->offer);
	send_discover(d);
	arm_backoff(d);
}

/* ---- applying a lease --------------------------------------------------- */

static void unapply(struct us_dhcp *d)
{
	struct us_netif *nif = d->nif;
	struct us_stack *st = nif->st;
	if (!d->applied)
		return;
	const struct us_dhcp_params *l = &d->lease;
	if (d->has_default)
		us_route_del(&st->routes, 0, 0, l->router, nif->index);
	us_route_del(&st->routes, l->addr, l->prefix, 0, nif->index);
	us_route_del(&st->routes, l->addr, 32, 0, US_LO_IFINDEX);
	atomic_store_explicit(&nif->lease, 0, memory_order_release);
	d->applied = false;
	d->has_default = false;
	pthread_cond_broadcast(&d->changed);
}

/*
 * Put lease l on the interface: the address, the local /32 and the
 * subnet (as us_route_setup does for configured addresses), and a
 * default route via the router with metric 100 (what networkd and
 * NetworkManager give DHCP routes), so a static default (metric 0)
 * still wins over it.
 */
#define DHCP_ROUTE_METRIC 100

static void apply(struct us_dhcp *d, const struct us_dhcp_params *l)
{
	struct us_netif *nif = d->nif;
	struct us_stack *st = nif->st;
	char a[16], r[16];
	bool same = d->applied && d->lease.addr == l->addr && d->lease.prefix == l->prefix &&
		    d->lease.router == l->router;
	if (!same) {
		unapply(d);
		d->lease = *l;
		atomic_store_explicit(&nif->lease, (uint64_t)l->prefix << 32 | l->addr,
				      memory_order_release);
		us_route_add(&st->routes, l->addr, 32, 0, 0, US_LO_IFINDEX);
		us_route_add(&st->routes, l->addr, l->prefix, 0, 0, nif->index);
		if (l->router && us_route_add(&st->routes, 0, 0, l->router, DHCP_ROUTE_METRIC,
					      nif->index) == 0)
			d->has_default = true;
		d->applied = true;
		US_STAT_INC(st, DHCP_BOUND);
		US_INFO(st, "%s: DHCP lease %s/%u router %s for %u s", nif->name,
			wire_ip4_str(l->addr, a), (unsigned)l->prefix,
			l->router ? wire_ip4_str(l->router, r) : "none", (unsigned)l->lease_s);
		us_arp_announce_addr(nif, l->addr);
		pthread_cond_broadcast(&d->changed);
	} else {
		d->lease = *l;
	}
	/* RFC 2131 4.4.1: the times count from when the REQUEST was sent. */
	if (l->lease_s == DHCP_INFINITE) {
		d->t1_at = d->t2_at = d->expire_at = UINT64_MAX;
	} else {
		d->t1_at = d->req_sent + (uint64_t)l->t1_s * NS;
		d->t2_at = d->req_sent + (uint64_t)l->t2_s * NS;
		d->expire_at = d->req_sent + (uint64_t)l->lease_s * NS;
	}
	d->state = US_DHCP_BOUND;
	if (d->t1_at != UINT64_MAX)
		arm_at(d, d->t1_at);
	else
		us_timer_cancel(&st->wheel, &d->timer);
}

/* ---- receiving ---------------------------------------------------------- */

static bool bad_host(uint32_t a)
{
	uint32_t h = ntohl(a);
	return h == 0 || h == 0xffffffffu || (h >> 24) == 0 || (h >> 24) == 127 ||
	       (h & 0xe0000000u) == 0xe0000000u;        /* multicast, class E */
}

/* Natural mask when option 1 is missing (RFC 1122 3.3.1.1's classes). */
static uint8_t classful(uint32_t a)
{
	uint32_t h = ntohl(a);
	return h < 0x80000000u ? 8 : h < 0xc0000000u ? 16 : 24;
}

/*
 * The parameters of an OFFER or ACK into *p; false (counted as
 * malformed) when something a lease needs is missing or impossible.
 * RFC 2131 4.4.5 / 4.4.1: T1 and T2 default to 0.5 and 0.875 of the
 * lease, and are taken as given only if T1 < T2 < lease.
 */
static bool take_params(const struct wire_dhcp *m, struct us_dhcp_params *p, bool need_lease)
{
	memset(p, 0, sizeof *p);
	p->addr = m->yiaddr;
	p->prefix = m->has_mask ? m->prefix : classful(m->yiaddr);
	p->server = m->server_id;
	if (bad_host(p->addr) || !p->server || (need_lease && !m->has_lease) ||
	    (m->has_lease && m->lease == 0) || p->prefix == 0)
		return false;
	uint32_t mask = us_prefix_mask(p->prefix), h = ntohl(p->addr);
	if (p->prefix < 31 && ((h & ~mask) == 0 || (h & ~mask) == ~mask))
		return false;   /* the subnet's own or its broadcast address */
	/* A router outside the subnet cannot be a next hop: left out. */
	if (m->router && !bad_host(m->router) && m->router != m->yiaddr &&
	    (ntohl(m->router) & mask) == (h & mask))
		p->router = m->router;
	for (int i = 0; i < m->ndns; i++)
		if (!bad_host(m->dns[i]))
			p->dns[p->ndns++] = m->dns[i];
	p->lease_s = m->has_lease ? m->lease : 0;
	if (p->lease_s == DHCP_INFINITE) {
		p->t1_s = p->t2_s = DHCP_INFINITE;
	} else {
		p->t1_s = p->lease_s / 2;
		p->t2_s = (uint32_t)((uint64_t)p->lease_s * 7 / 8);
		uint32_t t1 = m->has_t1 ? m->t1 : p->t1_s, t2 = m->has_t2 ? m->t2 : p->t2_s;
		if (t1 < t2 && t2 < p->lease_s) {
			p->t1_s = t1;
			p->t2_s = t2;
		}
	}
	return true;
}

static void on_offer(struct us_dhcp *d, const struct wire_dhcp *m)
{
	struct us_stack *st = d->nif->st;
	if (d->state != US_DHCP_SELECTING) {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);   /* a later offer: the first is taken */
		return;
	}
	struct us_dhcp_params p;
	if (!take_params(m, &p, false)) {
		US_STAT_INC(st, DHCP_DROP_MALFORMED);
		return;
	}
	US_STAT_INC(st, DHCP_RX_OFFER);
	d->offer = p;
	d->state = US_DHCP_REQUESTING;
	d->tries = 1;
	d->req_sent = us_now(st);
	d->backoff = US_DHCP_BACKOFF_FIRST_NS;
	send_request_selecting(d);
	arm_backoff(d);
}

static void on_ack(struct us_dhcp *d, const struct wire_dhcp *m)
{
	struct us_netif *nif = d->nif;
	struct us_stack *st = nif->st;
	struct us_dhcp_params p;
	bool selecting = d->state == US_DHCP_REQUESTING;
	if (!selecting && d->state != US_DHCP_RENEWING && d->state != US_DHCP_REBINDING) {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);
		return;
	}
	if (!take_params(m, &p, true)) {
		US_STAT_INC(st, DHCP_DROP_MALFORMED);
		return;
	}
	/* In REQUESTING the ACK must come from the server chosen, for the
	 * address offered (RFC 2131 4.3.1 (server id), 4.4.1). */
	if (selecting && (p.server != d->offer.server || p.addr != d->offer.addr)) {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);
		return;
	}
	US_STAT_INC(st, DHCP_RX_ACK);
	if (!selecting) {
		US_STAT_INC(st, DHCP_RENEWED);
		apply(d, &p);
		return;
	}
	/* RFC 2131 4.4.1: the client SHOULD check the address is unused (ARP). */
	d->offer = p;
	d->state = US_DHCP_PROBING;
	us_arp_probe(nif, p.addr);
	arm_at(d, us_now(st) + US_DHCP_PROBE_WAIT_NS);
}

static void on_nak(struct us_dhcp *d, const struct wire_dhcp *m)
{
	struct us_stack *st = d->nif->st;
	uint32_t from = d->state == US_DHCP_REQUESTING ? d->offer.server
		      : d->state == US_DHCP_RENEWING   ? d->lease.server : 0;
	if (d->state != US_DHCP_REQUESTING && d->state != US_DHCP_RENEWING &&
	    d->state != US_DHCP_REBINDING) {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);
		return;
	}
	/* Only the server asked may refuse (any server while rebinding). */
	if (!m->server_id || (from && m->server_id != from)) {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);
		return;
	}
	US_STAT_INC(st, DHCP_RX_NAK);
	US_INFO(st, "%s: DHCPNAK: starting over", d->nif->name);
	/* RFC 2131 3.1.4 / 4.4: drop the address, restart from INIT. */
	unapply(d);
	start_selecting(d);
}

void us_dhcp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p,
		   size_t len)
{
	struct us_stack *st = nif->st;
	struct us_dhcp *d = nif->dhcp;
	(void)ip;
	struct wire_dhcp m;
	if (wire_dhcp_parse(p, len, &m) != WIRE_DHCP_OK || m.op != 2) {
		US_STAT_INC(st, DHCP_DROP_MALFORMED);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (m.xid != d->xid || memcmp(m.chaddr, nif->mac, 6) != 0) {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);
	} else if (m.type == DHCP_OFFER) {
		on_offer(d, &m);
	} else if (m.type == DHCP_ACK) {
		on_ack(d, &m);
	} else if (m.type == DHCP_NAK) {
		on_nak(d, &m);
	} else {
		US_STAT_INC(st, DHCP_DROP_NOT_OURS);   /* a client's message, or INFORM's */
	}
	pthread_mutex_unlock(&d->lock);
}

void us_dhcp_arp_seen(struct us_netif *nif, uint32_t spa, uint32_t tpa)
{
	struct us_dhcp *d = nif->dhcp;
	struct us_stack *st = nif->st;
	pthread_mutex_lock(&d->lock);
	/* RFC 5227 2.1.1: a packet from the address, or another host's probe
	 * for it, while we probe: someone has it. */
	if (d->state == US_DHCP_PROBING &&
	    (spa == d->offer.addr || (spa == 0 && tpa == d->offer.addr))) {
		char a[16];
		US_WARN(st, "%s: DHCP offered %s, which is in use: declined", nif->name,
			wire_ip4_str(d->offer.addr, a));
		US_STAT_INC(st, DHCP_TX_DECLINE);
		/* RFC 2131 4.4.1: DECLINE, then INIT after at least 10 s. */
		send_msg(d, DHCP_DECLINE, 0, d->offer.addr, d->offer.server, 0, INADDR_BROADCAST, 0);
		d->state = US_DHCP_DECLINED;
		arm_at(d, us_now(st) + US_DHCP_DECLINE_WAIT_NS);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- the timer ---------------------------------------------------------- */

static void dhcp_timer(void *arg)
{
	struct us_dhcp *d = arg;
	struct us_stack *st = d->nif->st;
	pthread_mutex_lock(&d->lock);
	uint64_t now = us_now(st);
	switch (d->state) {
	case US_DHCP_SELECTING:
		send_discover(d);
		arm_backoff(d);
		break;
	case US_DHCP_REQUESTING:
		if (d->tries >= US_DHCP_REQUEST_TRIES) {
			start_selecting(d);     /* no answer: from INIT again */
			break;
		}
		d->tries++;
		send_request_selecting(d);
		arm_backoff(d);
		break;
	case US_DHCP_PROBING:
		apply(d, &d->offer);    /* nobody answered the probe */
		break;
	case US_DHCP_DECLINED:
		start_selecting(d);
		break;
	case US_DHCP_BOUND:
	case US_DHCP_RENEWING:
	case US_DHCP_REBINDING:
		if (now >= d->expire_at) {
			/* RFC 2131 4.4.5: lease over, no ACK: stop using the address. */
			US_STAT_INC(st, DHCP_EXPIRED);
			US_WARN(st, "%s: DHCP lease expired", d->nif->name);
			unapply(d);
			start_selecting(d);
		} else if (now >= d->t2_at) {
			if (d->state != US_DHCP_REBINDING) {
				d->state = US_DHCP_REBINDING;
				d->xid = us_rng_u32(&st->rng);
				d->began = now;
			}
			d->req_sent = now;
			send_request_bound(d, true);
			arm_half_way(d, d->expire_at);
		} else if (now >= d->t1_at) {
			if (d->state != US_DHCP_RENEWING) {
				d->state = US_DHCP_RENEWING;
				d->xid = us_rng_u32(&st->rng);
				d->began = now;
			}
			d->req_sent = now;
			send_request_bound(d, false);
			arm_half_way(d, d->t2_at);
		} else {
			arm_at(d, d->t1_at);    /* early (a re-arm raced): wait on */
		}
		break;
	case US_DHCP_INIT:
	case US_DHCP_STOPPED:
		break;
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- lifecycle ---------------------------------------------------------- */

void us_dhcp_start(struct us_netif *nif)
{
	struct us_dhcp *d = nif->dhcp;
	pthread_mutex_lock(&d->lock);
	if (d->state == US_DHCP_INIT)
		start_selecting(d);
	pthread_mutex_unlock(&d->lock);
}

void us_dhcp_stop(struct us_netif *nif)
{
	struct us_dhcp *d = nif->dhcp;
	struct us_stack *st = nif->st;
	uint32_t hop = 0;
	pthread_mutex_lock(&d->lock);
	if (d->applied) {
		/* RFC 2131 4.4.6: DHCPRELEASE to the server, unicast; ciaddr
		 * and server id set; a new xid (3.1.7 has the client choose). */
		d->xid = us_rng_u32(&st->rng);
		hop = server_hop(d);
		US_STAT_INC(st, DHCP_TX_RELEASE);
		send_msg(d, DHCP_RELEASE, d->lease.addr, 0, d->lease.server, d->lease.addr,
			 d->lease.server, hop);
		unapply(d);
	}
	d->state = US_DHCP_STOPPED;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	us_timer_cancel_sync(&st->wheel, &d->timer);
	/* The RELEASE may wait in ARP for the server's address: give the
	 * resolution (a round trip on the LAN) up to 200 ms while the
	 * receive threads still run. */
	if (hop && !st->deterministic)
		for (int i = 0; i < 40 && us_arp_lookup(&st->arp, hop, NULL) == ARP_INCOMPLETE; i++) {
			struct timespec ts = { 0, 5 * 1000000L };
			nanosleep(&ts, NULL);
		}
}

void us_dhcp_reset(struct us_netif *nif)
{
	struct us_dhcp *d = nif->dhcp;
	pthread_mutex_lock(&d->lock);
	unapply(d);
	d->state = US_DHCP_INIT;
	memset(&d->offer, 0, sizeof d->offer);
	memset(&d->lease, 0, sizeof d->lease);
	pthread_mutex_unlock(&d->lock);
}

int us_dhcp_nameservers(struct us_stack *st, struct in_addr *out, int max)
{
	int n = 0;
	for (int i = 0; i < st->cfg.nnameservers && n < max; i++)
		out[n++] = st->cfg.nameservers[i];
	for (int i = 0; i < st->nifs && n < max; i++) {
		struct us_dhcp *d = st->ifs[i].dhcp;
		if (!d)
			continue;
		pthread_mutex_lock(&d->lock);
		for (int k = 0; d->applied && k < d->lease.ndns && n < max; k++) {
			bool seen = false;
			for (int j = 0; j < n; j++)
				seen |= out[j].s_addr == d->lease.dns[k];
			if (!seen)
				out[n++].s_addr = d->lease.dns[k];
		}
		pthread_mutex_unlock(&d->lock);
	}
	return n;
}

/* ---- public queries ----------------------------------------------------- */

int us_stack_dhcp_lease(us_stack *st, int ifindex, struct us_dhcp_lease *out)
{
	if (ifindex < 0 || ifindex >= st->nifs) {
		errno = ENODEV;
		return -1;
	}
	struct us_dhcp *d = st->ifs[ifindex].dhcp;
	if (!d) {
		errno = EINVAL;
		return -1;
	}
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&d->lock);
	snprintf(out->state, sizeof out->state, "%s", us_dhcp_state_name(d->state));
	if (d->applied) {
		const struct us_dhcp_params *l = &d->lease;
		out->addr.addr.s_addr = l->addr;
		out->addr.prefix = l->prefix;
		out->router.s_addr = l->router;
		out->server.s_addr = l->server;
		for (int i = 0; i < l->ndns && i < US_MAX_NAMESERVERS; i++)
			out->dns[out->ndns++].s_addr = l->dns[i];
		out->lease_s = l->lease_s;
		out->t1_s = l->t1_s;
		out->t2_s = l->t2_s;
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int us_stack_dhcp_wait(us_stack *st, int timeout_ms)
{
	if (st->deterministic) {
		errno = EINVAL;
		return -1;
	}
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (int i = 0; i < st->nifs; i++) {
		struct us_dhcp *d = st->ifs[i].dhcp;
		if (!d)
			continue;
		pthread_mutex_lock(&d->lock);
		int rc = 0;
		while (!d->applied && rc == 0 && !atomic_load(&st->stopping))
			rc = pthread_cond_timedwait(&d->changed, &d->lock, &end);
		bool ok = d->applied;
		pthread_mutex_unlock(&d->lock);
		if (!ok) {
			errno = atomic_load(&st->stopping) ? ESHUTDOWN : ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}
