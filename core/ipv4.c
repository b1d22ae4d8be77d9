/*
 * ipv4.c — IPv4 input and output (RFC 791, RFC 1122 3.2.1).
 *
 * Input validates the header (wire_ip4_parse: version, IHL, total length
 * against the frame, checksum), drops what is not for us (no forwarding:
 * we are a host), hands fragments to reassembly (ipv4_frag.c) and
 * delivers whole datagrams by protocol. Options are skipped by IHL.
 *
 * Output routes, picks a source address, builds the header (IP ID per
 * RFC 6864: a counter per hashed (src, dst, protocol)), fragments above
 * the interface MTU unless DF is set, and hands each packet to ARP.
 *
 * TTL on input: RFC 1122 3.2.1.7 says a host MUST NOT discard a datagram
 * just because its TTL is below 2, and Linux does not check TTL for local
 * delivery either; so TTL is not a reason to drop here.
 *
 * Forwarding (RFC 1812; off unless the arrival interface has forwarding
 * on): a datagram for another host, after the same validation as local
 * delivery, on the same receive thread, goes to ipv4_forward(): no
 * broadcast, multicast or martian is routed; TTL <= 1 is answered with
 * time exceeded; the route gives the next hop (none: net unreachable);
 * too big for the next hop's MTU is answered with "fragmentation needed"
 * and that MTU when DF is set (RFC 1191), else fragmented; a datagram that
 * leaves by the interface it came in on, from a source on the next hop's
 * subnet, draws a host redirect (RFC 1812 5.2.7.2; send_redirects). It is
 * copied into a pool buffer, its TTL lowered with the checksum patched
 * (RFC 1624), and handed to ARP on the way out. A next hop that does not
 * answer ARP gets its source a host unreachable (us_ipv4_local_error).
 * Fragments are forwarded as they come, never reassembled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/tcp.h"

int ipv4_reasm_init(struct us_stack *st, struct us_ipv4 *ip);
void ipv4_reasm_clear(struct us_stack *st, struct us_ipv4 *ip);
void ipv4_reasm_destroy(struct us_ipv4 *ip);
void ipv4_reasm_input(struct us_netif *nif, const struct wire_ip4 *ip);

/* The IP ID counters' key and starting points: random draws. */
static void ids_init(struct us_stack *st, struct us_ipv4 *ip)
{
	ip->id_key = us_rng_u32(&st->rng);
	for (int i = 0; i < US_IP_ID_BUCKETS; i++)
		atomic_init(&ip->ids[i], (uint16_t)us_rng_u32(&st->rng));
}

int us_ipv4_init(struct us_stack *st, struct us_ipv4 *ip)
{
	ip->st = st;
	ids_init(st, ip);
	pthread_mutex_init(&ip->pmtu_lock, NULL);
	memset(ip->pmtu, 0, sizeof ip->pmtu);
	return ipv4_reasm_init(st, ip);
}

void us_ipv4_reset(struct us_stack *st, struct us_ipv4 *ip)
{
	ids_init(st, ip);
	pthread_mutex_lock(&ip->pmtu_lock);
	memset(ip->pmtu, 0, sizeof ip->pmtu);
	pthread_mutex_unlock(&ip->pmtu_lock);
	ipv4_reasm_clear(st, ip);
}

void us_ipv4_destroy(struct us_ipv4 *ip)
{
	ipv4_reasm_destroy(ip);
	pthread_mutex_destroy(&ip->pmtu_lock);
}

/* ---- path MTU cache (RFC 1191) ---- */

uint32_t us_ipv4_path_mtu(struct us_stack *st, uint32_t dst, uint32_t ifmtu)
{
	struct us_ipv4 *ip = &st->ip;
	uint64_t now = us_now(st);
	uint32_t mtu = ifmtu;
	pthread_mutex_lock(&ip->pmtu_lock);
	for (int i = 0; i < US_PMTU_SLOTS; i++) {
		struct us_pmtu *e = &ip->pmtu[i];
		if (e->dst == dst && dst) {
			if (now >= e->expires)
				e->dst = 0;     /* forgotten: the interface's MTU again */
			else if (e->mtu < mtu)
				mtu = e->mtu;
			break;
		}
	}
	pthread_mutex_unlock(&ip->pmtu_lock);
	return mtu;
}

uint32_t us_ipv4_pmtu_lower(struct us_stack *st, uint32_t dst, uint32_t ifmtu, uint32_t mtu)
{
	struct us_ipv4 *ip = &st->ip;
	if (mtu < US_PMTU_MIN)
		mtu = US_PMTU_MIN;
	uint64_t now = us_now(st);
	uint32_t cur = us_ipv4_path_mtu(st, dst, ifmtu);
	if (mtu >= cur)
		return 0;
	pthread_mutex_lock(&ip->pmtu_lock);
	/* Its own slot, else a free or expired one, else the soonest to expire. */
	struct us_pmtu *slot = NULL, *victim = &ip->pmtu[0];
	for (int i = 0; i < US_PMTU_SLOTS; i++) {
		struct us_pmtu *e = &ip->pmtu[i];
		if (e->dst == dst) {
			slot = e;
			break;
		}
		if (!slot && (e->dst == 0 || now >= e->expires))
			slot = e;
		if (e->expires < victim->expires)
			victim = e;
	}
	if (!slot)
		slot = victim;
	slot->dst = dst;
	slot->mtu = mtu;
	slot->expires = now + US_PMTU_EXPIRE_NS;
	pthread_mutex_unlock(&ip->pmtu_lock);
	return mtu;
}

/* RFC 1191 table 7-1's plateaus. */
static uint32_t plateau_below(uint32_t len)
{
	static const uint32_t p[] = { 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68 };
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		if (p[i] < len)
			return p[i];
	return 68;
}

uint32_t us_ipv4_pmtu_learn(struct us_stack *st, uint32_t dst, uint32_t mtu, uint32_t quoted_len)
{
	if (mtu == 0)
		mtu = plateau_below(quoted_len);
	int ifi;
	uint32_t nh, a;
	if (us_ipv4_route(st, dst, &ifi, &nh, &a) < 0)
		return 0;
	return us_ipv4_pmtu_lower(st, dst, st->ifs[ifi].mtu, mtu);
}

static inline bool is_multicast(uint32_t a) { return (ntohl(a) & 0xf0000000u) == 0xe0000000u; }

static inline bool is_loopback_net(uint32_t a) { return (ntohl(a) >> 24) == 127; }

/* Local: an address of a configured interface, or anything in 127.0.0.0/8
 * (Linux's local route for lo covers the whole /8). */
bool us_ipv4_is_local(struct us_stack *st, uint32_t addr)
{
	if (is_loopback_net(addr))
		return true;
	for (int i = 0; i < st->nifs; i++)
		if (us_netif_has_addr(&st->ifs[i], addr))
			return true;
	return false;
}

/* Deliver a whole datagram to its protocol. Also called by reassembly. */
void ipv4_deliver(struct us_netif *nif, const struct wire_ip4 *ip)
{
	struct us_stack *st = nif->st;
	switch (ip->proto) {
	case IP_PROTO_ICMP:
		US_STAT_INC(st, IP_DELIVERED);
		us_icmp_input(nif, ip, ip->payload, ip->payload_len);
		break;
	case IP_PROTO_UDP:
		US_STAT_INC(st, IP_DELIVERED);
		us_udp_input(nif, ip, ip->payload, ip->payload_len);
		break;
	case IP_PROTO_TCP:
		US_STAT_INC(st, IP_DELIVERED);
		us_tcp_input(nif, ip, ip->payload, ip->payload_len);
		break;
	default:
		/* RFC 1122 3.2.2.1: protocol unreachable for a protocol we lack. */
		US_STAT_INC(st, IP_DROP_PROTO);
		us_icmp_send_error(st, ip, ip->payload, ip->payload_len, ICMP_DEST_UNREACH,
				   ICMP_UNREACH_PROTOCOL);
		break;
	}
}

/* ---- forwarding (RFC 1812) ---- */

static inline bool is_zeronet(uint32_t a) { return (ntohl(a) >> 24) == 0; }

static inline bool is_class_e(uint32_t a) { return (ntohl(a) & 0xf0000000u) == 0xf0000000u; }

/* The subnet broadcast of any of our interfaces: a directed broadcast,
 * which RFC 1812 5.3.5.2 lets a router refuse and Linux does by default
 * (bc_forwarding 0). */
static bool is_any_bcast(struct us_stack *st, uint32_t a)
{
	for (int i = 0; i < st->nifs; i++)
		if (us_netif_is_bcast(&st->ifs[i], a))
			return true;
	return false;
}

/* a and b both in one subnet of nif (RFC 1812 5.2.7.2's redirect test). */
static bool same_subnet(const struct us_netif *nif, uint32_t a, uint32_t b)
{
	struct us_cidr l;
	for (int i = 0; i <= nif->naddrs; i++) {
		const struct us_cidr *c = &nif->addrs[i];
		if (i == nif->naddrs) {
			if (!us_netif_lease(nif, &l))
				break;
			c = &l;
		}
		uint32_t m = us_prefix_mask(c->prefix);
		uint32_t net = ntohl(c->addr.s_addr) & m;
		if ((ntohl(a) & m) == net && (ntohl(b) & m) == net)
			return true;
	}
	return false;
}

/*
 * Walk the options of header h (hlen bytes): calls fn for each option
 * with a length byte (not end-of-list or no-operation) until fn returns
 * true or the list ends or is malformed. Returns what fn last returned.
 */
static bool opts_walk(uint8_t *h, size_t hlen, bool (*fn)(uint8_t *opt, size_t len))
{
	for (size_t i = IP4_HLEN; i < hlen;) {
		uint8_t t = h[i];
		if (t == 0)
			break;                  /* end of option list */
		if (t == 1) {
			i++;                    /* no-operation */
			continue;
		}
		if (i + 1 >= hlen || h[i + 1] < 2 || i + h[i + 1] > hlen)
			break;
		size_t l = h[i + 1];
		if (fn(h + i, l))
			return true;
		i += l;
	}
	return false;
}

static bool is_source_route(uint8_t *opt, size_t len)
{
	(void)len;
	return opt[0] == 131 || opt[0] == 137;  /* LSRR, SSRR */
}

/* RFC 791: options whose copied flag (0x80) is clear appear in the first
 * fragment only; later ones get no-operations in their place, keeping the
 * header length (as Linux's ip_options_fragment). */
static bool nop_if_not_copied(uint8_t *opt, size_t len)
{
	if (!(opt[0] & 0x80))
		memset(opt, 1, len);
	return false;
}

/* Count a datagram not forwarded: silently (dropped) or with an ICMP error. */
static void fwd_drop(struct us_netif *in, bool with_error)
{
	if (with_error)
		US_IFSTAT_INC(in, FWD_ERRORS);
	else
		US_IFSTAT_INC(in, FWD_DROPPED);
}

/* Hand b to the outgoing interface; false (counted) if it failed. */
static bool fwd_out(struct us_netif *in, struct us_netif *out, uint32_t nh, struct us_buf *b)
{
	if (us_netif_output_ip(out, nh, b) == 0)
		return true;
	US_STAT_INC(in->st, IP_FWD_NOBUF);
	fwd_drop(in, false);
	return false;
}

/* One more datagram forwarded from in. */
static void fwd_done(struct us_netif *in)
{
	US_STAT_INC(in->st, IP_FORWARDED);
	US_IFSTAT_INC(in, FORWARDED);
}

/*
 * RFC 791 fragmentation of a datagram being forwarded (DF clear): each
 * fragment carries the header (TTL already lowered in hdr), its offset
 * counted from the datagram's own (it may itself be a fragment) and MF
 * unless it is the last piece of a last fragment.
 */
static void fwd_fragment(struct us_netif *in, struct us_netif *out, uint32_t nh,
			 const struct wire_ip4 *ip, uint8_t *hdr)
{
	struct us_stack *st = in->st;
	size_t hl = ip->hlen;
	size_t chunk = (out->mtu - hl) & ~(size_t)7;
	size_t total = ip->payload_len;
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		struct us_buf *b = us_buf_get(&st->pool);
		if (!b) {
			US_STAT_INC(st, ETH_DROP_NOBUF);
			US_STAT_INC(st, IP_FWD_NOBUF);
			fwd_drop(in, false);
			return;
		}
		uint8_t *h = b->data;
		memcpy(h, hdr, hl);
		put16(h + 2, (uint16_t)(hl + n));
		uint16_t fo = (uint16_t)((ip->frag_off + off) / 8);
		if (off + n < total || ip->mf)
			fo |= IP4_FLAG_MF;
		put16(h + 6, fo);
		h[10] = h[11] = 0;
		uint16_t c = wire_csum(h, hl);
		memcpy(h + 10, &c, 2);
		memcpy(h + hl, ip->payload + off, n);
		b->len = hl + n;
		if (off == 0)
			opts_walk(hdr, hl, nop_if_not_copied);
		US_STAT_INC(st, IP_FWD_FRAGS);
		if (!fwd_out(in, out, nh, b))
			return;
	}
	fwd_done(in);
}

/* A datagram for another host came in on in, which forwards. */
static void ipv4_forward(struct us_netif *in, const struct wire_ip4 *ip)
{
	struct us_stack *st = in->st;
	/* RFC 1812 5.3.4 and 4.2.2.11: a link-layer broadcast, a limited or
	 * directed broadcast, a multicast is not routed (no multicast routing). */
	if (ip->link_bcast || ip->dst == 0xffffffffu || is_multicast(ip->dst) ||
	    is_any_bcast(st, ip->dst)) {
		US_STAT_INC(st, IP_FWD_BCAST);
		fwd_drop(in, false);
		return;
	}
	/* RFC 1812 5.3.7: martians (0/8 as "this network", 240/4 reserved;
	 * 127/8 and broadcast sources were dropped by input already). */
	if (is_zeronet(ip->src) || is_zeronet(ip->dst) || is_class_e(ip->src) ||
	    is_class_e(ip->dst)) {
		US_STAT_INC(st, IP_FWD_MARTIAN);
		fwd_drop(in, false);
		return;
	}
	/* RFC 1812 5.3.1: TTL 1 or 0 may not be forwarded: time exceeded. */
	if (ip->ttl <= 1) {
		US_STAT_INC(st, IP_FWD_TTL);
		fwd_drop(in, true);
		us_icmp_send_error_fwd(st, ip, ip->payload, ip->payload_len, ICMP_TIME_EXCEEDED,
				       0 /* TTL exceeded in transit */, 0);
		return;
	}
	struct us_route r;
	if (us_route_lookup(&st->routes, ip->dst, &r) < 0 || r.ifindex < 0 ||
	    r.ifindex >= st->nifs) {
		/* No route (lo's routes are to ourselves): RFC 1812 5.2.7.1,
		 * network unreachable, as Linux for a forwarded datagram. */
		US_STAT_INC(st, IP_FWD_NO_ROUTE);
		fwd_drop(in, true);
		us_icmp_send_error_fwd(st, ip, ip->payload, ip->payload_len, ICMP_DEST_UNREACH,
				       ICMP_UNREACH_NET, 0);
		return;
	}
	struct us_netif *out = &st->ifs[r.ifindex];
	uint32_t nh = r.gw ? r.gw : ip->dst;
	if (ip->total_len > out->mtu && ip->df) {
		/* RFC 1191 4 / RFC 1812 5.2.7.1: the next-hop MTU in the low
		 * 16 bits of the second word. */
		US_STAT_INC(st, IP_FWD_NEED_FRAG);
		fwd_drop(in, true);
		us_icmp_send_error_fwd(st, ip, ip->payload, ip->payload_len, ICMP_DEST_UNREACH,
				       ICMP_UNREACH_NEEDFRAG, out->mtu & 0xffff);
		return;
	}
	uint8_t hdr[60];
	memcpy(hdr, ip->hdr, ip->hlen);
	if (out == in && st->cfg.send_redirects && same_subnet(in, ip->src, nh) &&
	    !opts_walk(hdr, ip->hlen, is_source_route))
		us_icmp_send_error_fwd(st, ip, ip->payload, ip->payload_len, ICMP_REDIRECT,
				       ICMP_REDIRECT_HOST, ntohl(nh));

	/* RFC 1624: TTL and protocol share a 16-bit word of the checksum. */
	uint16_t old, new, c;
	memcpy(&old, hdr + 8, 2);
	hdr[8]--;
	memcpy(&new, hdr + 8, 2);
	memcpy(&c, hdr + 10, 2);
	c = wire_csum_update16(c, old, new);
	memcpy(hdr + 10, &c, 2);
	if (ip->total_len > out->mtu) {
		fwd_fragment(in, out, nh, ip, hdr);
		return;
	}
	struct us_buf *b = us_buf_get(&st->pool);
	if (!b) {
		US_STAT_INC(st, ETH_DROP_NOBUF);
		US_STAT_INC(st, IP_FWD_NOBUF);
		fwd_drop(in, false);
		return;
	}
	memcpy(b->data, hdr, ip->hlen);
	memcpy(b->data + ip->hlen, ip->payload, ip->payload_len);
	b->len = ip->total_len;
	if (fwd_out(in, out, nh, b))
		fwd_done(in);
}

void us_ipv4_input(struct us_netif *nif, const uint8_t *p, size_t len, bool link_bcast,
		   bool l4_csum_ok)
{
	struct us_stack *st = nif->st;
	struct wire_ip4 ip;
	US_STAT_INC(st, IP_RX);
	switch (wire_ip4_parse(p, len, &ip)) {
	case WIRE_IP4_OK:
		break;
	case WIRE_IP4_SHORT:
		US_STAT_INC(st, IP_DROP_SHORT);
		return;
	case WIRE_IP4_VERSION:
		US_STAT_INC(st, IP_DROP_VERSION);
		return;
	case WIRE_IP4_IHL:
		US_STAT_INC(st, IP_DROP_IHL);
		return;
	case WIRE_IP4_LENGTH:
		US_STAT_INC(st, IP_DROP_LENGTH);
		return;
	case WIRE_IP4_CHECKSUM:
		US_STAT_INC(st, IP_DROP_CHECKSUM);
		return;
	}
	ip.link_bcast = link_bcast;
	ip.l4_csum_ok = l4_csum_ok;
	/* RFC 1122 3.2.1.3: a source that is broadcast or multicast is bogus. */
	if (ip.src == 0xffffffffu || is_multicast(ip.src) || us_netif_is_bcast(nif, ip.src)) {
		US_STAT_INC(st, IP_DROP_SRC);
		return;
	}
	/*
	 * Martians: 127/8 never comes from a wire (RFC 1122 3.2.1.3 (g)), and
	 * neither does a packet from one of our own addresses: Linux drops
	 * both (fib_validate_source, accept_local 0). The second also keeps a
	 * spoofed datagram from our own echo port to our own echo port from
	 * bouncing on lo for ever (the old UDP echo/chargen loop).
	 */
	if (!nif->loopback && (us_ipv4_is_local(st, ip.src) || is_loopback_net(ip.dst))) {
		US_STAT_INC(st, IP_DROP_MARTIAN);
		return;
	}
	if (!us_ipv4_is_local(st, ip.dst) && ip.dst != 0xffffffffu && !us_netif_is_bcast(nif, ip.dst)) {
		if (nif->forwarding) {
			ipv4_forward(nif, &ip);
			return;
		}
		US_STAT_INC(st, IP_DROP_NOT_OURS);
		return;
	}
	if (ip.mf || ip.frag_off) {
		US_STAT_INC(st, IP_FRAG_RX);
		ipv4_reasm_input(nif, &ip);
		return;
	}
	ipv4_deliver(nif, &ip);
}

static int route_gen(struct us_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop,
		     uint32_t *src, uint32_t *gen)
{
	struct us_route r;
	if (us_route_lookup_gen(&st->routes, dst, &r, gen) < 0) {
		US_STAT_INC(st, IP_NO_ROUTE);
		return -ENETUNREACH;
	}
	*ifindex = r.ifindex;
	*nexthop = r.gw ? r.gw : dst;
	/* Source address selection for a sender not bound to one (Linux's
	 * fib_result_prefsrc / inet_select_addr): the route's src: when it
	 * has one; else, to one of our addresses, that address; else the
	 * outgoing interface's address on the next hop's subnet, else its
	 * first (doc/CONFIG.md "routes:"). */
	if (r.src)
		*src = r.src;
	else if (r.ifindex == US_LO_IFINDEX && !is_loopback_net(dst))
		*src = dst;
	else
		*src = us_netif_src_for(&st->ifs[r.ifindex], *nexthop);
	return 0;
}

int us_ipv4_route(struct us_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop,
		  uint32_t *src)
{
	uint32_t gen;
	return route_gen(st, dst, ifindex, nexthop, src, &gen);
}

/* The route for tx->dst from the sender's cache while the table has not
 * changed, else looked up (and the cache refilled). */
static int route_cached(struct us_stack *st, struct us_dst_cache *dc, uint32_t dst, int *ifindex,
			uint32_t *nh, uint32_t *src)
{
	if (dc->route_gen && dc->dst == dst && dc->route_gen == us_route_gen(&st->routes)) {
		*ifindex = dc->ifindex;
		*nh = dc->nh;
		*src = dc->src;
		return 0;
	}
	uint32_t gen;
	int rc = route_gen(st, dst, ifindex, nh, src, &gen);
	if (rc < 0) {
		dc->route_gen = 0;
		return rc;
	}
	dc->dst = dst;
	dc->route_gen = gen;
	dc->ifindex = *ifindex;
	dc->nh = *nh;
	dc->src = *src;
	dc->mac_until = 0;      /* the next hop may have changed */
	return 0;
}

/*
 * The next hop's MAC for a cached sender: from the cache while the ARP
 * cache has not changed and the entry has not lapsed, else from a lookup
 * (true and mac filled if resolved; false: go through us_arp_output,
 * which queues and resolves).
 */
static bool mac_cached(struct us_stack *st, struct us_dst_cache *dc, uint32_t nh, uint8_t mac[6])
{
	uint32_t g = atomic_load_explicit(&st->arp.gen, memory_order_acquire);
	uint64_t now = us_now(st);
	if (dc->mac_until && dc->arp_gen == g && dc->nh == nh && now < dc->mac_until) {
		memcpy(mac, dc->mac, 6);
		return true;
	}
	uint64_t until;
	enum us_arp_state as = us_arp_lookup_until(&st->arp, nh, mac, &until);
	if (as != ARP_REACHABLE && as != ARP_STATIC) {
		dc->mac_until = 0;
		return false;
	}
	/* g was read before the lookup: a change in between shows as a
	 * mismatch next time, never as a stale hit. */
	memcpy(dc->mac, mac, 6);
	dc->arp_gen = g;
	dc->mac_until = until;
	return true;
}

/* IP packet b out of nif to next hop nh, through the sender's cache when
 * it has one and the interface resolves neighbours. */
static int output_nh(struct us_stack *st, struct us_netif *nif, uint32_t nh, struct us_buf *b,
		     struct us_dst_cache *dc)
{
	uint8_t mac[6];
	if (dc && !nif->link.caps.l3 && !nif->loopback && !us_netif_is_bcast(nif, nh) &&
	    mac_cached(st, dc, nh, mac))
		return us_netif_tx_eth(nif, b, mac, ETH_TYPE_IPV4);
	return us_netif_output_ip(nif, nh, b);
}

/* The first of n consecutive IDs (a TSO frame's segments take one each). */
static uint16_t next_ids(struct us_stack *st, uint32_t src, uint32_t dst, uint8_t proto,
			 uint16_t n)
{
	uint32_t h = (src ^ st->ip.id_key) * 0x9e3779b1u;
	h = (h ^ dst) * 0x85ebca6bu;
	h = (h ^ proto) * 0xc2b2ae35u;
	return atomic_fetch_add_explicit(&st->ip.ids[(h >> 16) % US_IP_ID_BUCKETS], n,
					 memory_order_relaxed);
}

uint32_t us_ipv4_gso_max(struct us_stack *st, uint32_t dst)
{
	int ifi;
	uint32_t nh, src;
	if (us_ipv4_route(st, dst, &ifi, &nh, &src) < 0)
		return 0;
	const struct us_link *l = &st->ifs[ifi].link;
	return l->caps.tso && l->caps.tx_csum && l->ops->sendv ? IP4_MAX_LEN : 0;
}

/*
 * Fill the L4 checksum of the len bytes at b->data + l4 (field at off):
 * left to the device (the pseudo-header sum in the field, csum_start and
 * csum_offset set: CHECKSUM_PARTIAL), or computed here.
 */
static void l4_csum(struct us_buf *b, size_t l4, size_t len, const struct wire_ip4_hdr *h,
		    uint8_t off, bool hw)
{
	uint8_t *p = b->data + l4;
	uint64_t sum = wire_csum_pseudo(h->src, h->dst, h->proto, (uint16_t)len);
	p[off] = p[off + 1] = 0;
	uint16_t c;
	if (hw) {
		c = (uint16_t)~wire_csum_fold(sum);
		b->csum_start = (uint16_t)(p - b->mem);
		b->csum_offset = off;
	} else {
		c = wire_csum_fold(wire_csum_add(sum, p, len));
	}
	memcpy(p + off, &c, 2);
}

/* Copy bytes [off, off+n) of the concatenation of the pieces into out. */
void us_iov_copy(uint8_t *out, const struct iovec *iov, int iovcnt, size_t off, size_t n)
{
	for (int i = 0; i < iovcnt && n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off < n ? iov[i].iov_len - off : n;
		memcpy(out, (const uint8_t *)iov[i].iov_base + off, k);
		out += k;
		n -= k;
		off = 0;
	}
}

uint64_t us_iov_copy_csum(uint64_t sum, uint8_t *out, const struct iovec *iov, int iovcnt,
			  size_t off, size_t n, size_t at)
{
	for (int i = 0; i < iovcnt && n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off < n ? iov[i].iov_len - off : n;
		/* A piece after an odd-length one starts at an odd offset. */
		sum = wire_csum_copy_at(sum, out, (const uint8_t *)iov[i].iov_base + off, k, at);
		out += k;
		at += k;
		n -= k;
		off = 0;
	}
	return sum;
}

/*
 * The software checksum in the pass that copies the payload: the L4
 * header of hlen bytes is already at p, bytes [poff, poff+plen) of the
 * payload pieces are copied after it and summed as they go, and the field
 * at off is filled. (Copying first and summing the frame after read every
 * payload byte twice; wire_csum_copy reads it once.)
 */
static void l4_copy_csum(uint8_t *p, size_t hlen, const struct wire_ip4_hdr *h, uint8_t off,
			 const struct iovec *iov, int iovcnt, size_t poff, size_t plen)
{
	p[off] = p[off + 1] = 0;
	uint64_t sum = wire_csum_pseudo(h->src, h->dst, h->proto, (uint16_t)(hlen + plen));
	sum = wire_csum_add(sum, p, hlen);
	sum = us_iov_copy_csum(sum, p + hlen, iov, iovcnt, poff, plen, hlen);
	uint16_t c = wire_csum_fold(sum);
	memcpy(p + off, &c, 2);
}

int us_ipv4_send(struct us_stack *st, const struct us_ip_tx *tx, const void *hdr, size_t hlen,
		 const void *data, size_t dlen)
{
	struct iovec iov[2] = { { (void *)hdr, hlen }, { (void *)data, dlen } };
	return us_ipv4_sendv(st, tx, iov, 2);
}

/*
 * A TCP segment above the MTU (tx->gso_size): one frame for the device
 * to cut, its payload borrowed from the caller's pieces (written by
 * sendv straight from the send ring: no copy here, no checksum pass), when
 * the device segments and the next hop's MAC is known now; else cut here
 * as the device would (wire_tcp_gso_hdr), each piece a frame that may wait
 * for ARP like any other.
 */
static int send_gso(struct us_stack *st, struct us_netif *nif, const struct us_ip_tx *tx,
		    struct wire_ip4_hdr *h, uint32_t nh, const struct iovec *iov, int iovcnt,
		    size_t total, bool hw_csum)
{
	size_t thl = iov[0].iov_len;
	size_t plen = total - thl;
	uint32_t n = wire_tcp_gso_count(plen, tx->gso_size);
	uint16_t id = next_ids(st, h->src, h->dst, h->proto, (uint16_t)n);
	uint8_t mac[6];
	enum us_arp_state as;
	if (hw_csum && nif->link.caps.tso && iovcnt - 1 <= US_IP_MAX_IOV &&
	    thl <= TCP_MAX_HLEN && IP4_HLEN + thl + tx->gso_size <= nif->mtu &&
	    (tx->dc ? mac_cached(st, tx->dc, nh, mac)
		    : ((as = us_arp_lookup(&st->arp, nh, mac)) == ARP_REACHABLE || as == ARP_STATIC))) {
		struct us_buf *b = us_buf_get(&st->pool);
		if (!b) {
			US_STAT_INC(st, ETH_DROP_NOBUF);
			return -ENOBUFS;
		}
		h->id = id;
		h->total_len = (uint16_t)(IP4_HLEN + total);
		wire_ip4_build(b->data, h);
		memcpy(b->data + IP4_HLEN, iov[0].iov_base, thl);
		b->len = IP4_HLEN + thl;
		l4_csum(b, IP4_HLEN, total, h, tx->csum_off, true);    /* pseudo-header only */
		b->gso_size = tx->gso_size;
		b->frags = iov + 1;
		b->nfrags = (uint8_t)(iovcnt - 1);
		US_STAT_INC(st, IP_TX);
		US_STAT_INC(st, IP_TX_TSO);
		return us_netif_tx_eth(nif, b, mac, ETH_TYPE_IPV4);
	}
	for (uint32_t k = 0; k < n; k++) {
		struct us_buf *b = us_buf_get(&st->pool);
		if (!b) {
			US_STAT_INC(st, ETH_DROP_NOBUF);
			return -ENOBUFS;
		}
		size_t piece = wire_tcp_gso_hdr(b->data + IP4_HLEN, iov[0].iov_base, thl, plen,
						tx->gso_size, k);
		h->id = (uint16_t)(id + k);
		h->total_len = (uint16_t)(IP4_HLEN + thl + piece);
		wire_ip4_build(b->data, h);
		b->len = IP4_HLEN + thl + piece;
		if (hw_csum) {
			us_iov_copy(b->data + IP4_HLEN + thl, iov + 1, iovcnt - 1,
				    (size_t)k * tx->gso_size, piece);
			l4_csum(b, IP4_HLEN, thl + piece, h, tx->csum_off, true);
		} else {
			l4_copy_csum(b->data + IP4_HLEN, thl, h, tx->csum_off, iov + 1, iovcnt - 1,
				     (size_t)k * tx->gso_size, piece);
		}
		US_STAT_INC(st, IP_TX);
		US_STAT_INC(st, IP_TX_GSO_SW);
		int rc = output_nh(st, nif, nh, b, tx->dc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int us_ipv4_sendv(struct us_stack *st, const struct us_ip_tx *tx, const struct iovec *iov,
		  int iovcnt)
{
	int ifindex;
	uint32_t nh, src;
	if (tx->dst == 0xffffffffu) {
		/* Limited broadcast: the interface asked for, else the first. */
		ifindex = tx->ifindex >= 0 ? tx->ifindex : 0;
		if (ifindex >= st->nifs)
			return -ENETUNREACH;
		nh = tx->dst;
		src = us_netif_first_addr(&st->ifs[ifindex]);
	} else {
		int rc = tx->dc && tx->ifindex < 0
				 ? route_cached(st, tx->dc, tx->dst, &ifindex, &nh, &src)
				 : us_ipv4_route(st, tx->dst, &ifindex, &nh, &src);
		if (rc < 0 && tx->ifindex < 0)
			return rc;
		/* A forced interface (ping -I, a broadcast) takes the destination
		 * as on-link there when the route leads elsewhere or nowhere. */
		if (tx->ifindex >= 0 && (rc < 0 || tx->ifindex != ifindex)) {
			ifindex = tx->ifindex;
			nh = tx->dst;
			src = us_netif_src_for(&st->ifs[ifindex], nh);
		}
	}
	if (tx->src)
		src = tx->src;
	struct us_netif *nif = &st->ifs[ifindex];
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (IP4_HLEN + total > IP4_MAX_LEN)
		return -EMSGSIZE;

	struct wire_ip4_hdr h = {
		.tos = tx->tos,
		.ttl = tx->ttl ? tx->ttl : US_IP_DEFAULT_TTL,
		.proto = tx->proto,
		.src = src,
		.dst = tx->dst,
		.df = tx->df,
	};
	bool hw_csum = tx->csum_off && nif->link.caps.tx_csum && nif->link.ops->sendv;
	/* Where a datagram without DF is cut: the path MTU the caller knows
	 * (UDP), never above the interface's. */
	size_t mtu = tx->frag_mtu && tx->frag_mtu < nif->mtu ? tx->frag_mtu : nif->mtu;
	if (IP4_HLEN + total > nif->mtu && tx->gso_size && tx->csum_off && iovcnt >= 1)
		return send_gso(st, nif, tx, &h, nh, iov, iovcnt, total, hw_csum);
	h.id = next_ids(st, src, tx->dst, tx->proto, 1);

	if (IP4_HLEN + total <= mtu) {
		struct us_buf *b = us_buf_get(&st->pool);
		if (!b) {
			US_STAT_INC(st, ETH_DROP_NOBUF);
			return -ENOBUFS;
		}
		h.total_len = (uint16_t)(IP4_HLEN + total);
		wire_ip4_build(b->data, &h);
		b->len = IP4_HLEN + total;
		if (tx->csum_off && !hw_csum && iovcnt >= 1 && iov[0].iov_len >= tx->csum_off + 2u) {
			/* The L4 header is the first piece (TCP's); the payload
			 * is copied and summed in one pass. */
			size_t hl = iov[0].iov_len;
			memcpy(b->data + IP4_HLEN, iov[0].iov_base, hl);
			l4_copy_csum(b->data + IP4_HLEN, hl, &h, tx->csum_off, iov + 1, iovcnt - 1, 0,
				     total - hl);
		} else {
			us_iov_copy(b->data + IP4_HLEN, iov, iovcnt, 0, total);
			if (tx->csum_off)
				l4_csum(b, IP4_HLEN, total, &h, tx->csum_off, hw_csum);
		}
		US_STAT_INC(st, IP_TX);
		return output_nh(st, nif, nh, b, tx->dc);
	}
	if (tx->df || tx->csum_off) {       /* csum_off callers (TCP) always set DF */
		US_STAT_INC(st, IP_FRAG_DF);
		return -EMSGSIZE;
	}
	/* RFC 791 fragmentation: every fragment but the last carries a
	 * multiple of 8 payload bytes; each has its own copy of the header. */
	size_t chunk = (mtu - IP4_HLEN) & ~(size_t)7;
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		struct us_buf *b = us_buf_get(&st->pool);
		if (!b) {
			US_STAT_INC(st, ETH_DROP_NOBUF);
			return -ENOBUFS;
		}
		h.total_len = (uint16_t)(IP4_HLEN + n);
		h.frag_off = (uint16_t)off;
		h.mf = off + n < total;
		wire_ip4_build(b->data, &h);
		us_iov_copy(b->data + IP4_HLEN, iov, iovcnt, off, n);
		b->len = IP4_HLEN + n;
		US_STAT_INC(st, IP_TX);
		US_STAT_INC(st, IP_FRAG_CREATED);
		int rc = us_netif_output_ip(nif, nh, b);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void us_ipv4_local_error(struct us_stack *st, const uint8_t *pkt, size_t len, int err)
{
	if (len < IP4_HLEN || (pkt[0] >> 4) != 4)
		return;
	uint32_t from;
	memcpy(&from, pkt + 12, 4);
	if (!us_ipv4_is_local(st, from)) {
		/* One we were forwarding: its next hop did not answer ARP. RFC
		 * 1812 5.2.7.1 and Linux (ipv4_link_failure): host unreachable. */
		struct wire_ip4 ip;
		if (wire_ip4_parse(pkt, len, &ip) == WIRE_IP4_OK)
			us_icmp_send_error_fwd(st, &ip, ip.payload, ip.payload_len,
					       ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 0);
		return;
	}
	size_t hl = (size_t)(pkt[0] & 0x0f) * 4;
	if (pkt[9] == IP_PROTO_ICMP) {
		us_icmp_local_error(st, pkt, len, err);
	} else if (pkt[9] == IP_PROTO_UDP) {
		/* Linux (ipv4_link_failure): host unreachable, from ourselves. */
		us_udp_icmp_error(st, from, ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 0, pkt, len, err);
	} else if (pkt[9] == IP_PROTO_TCP && hl >= IP4_HLEN && len >= hl + 8 &&
		   (get16(pkt + 6) & IP4_OFF_MASK) == 0) {
		uint32_t src, dst;
		memcpy(&src, pkt + 12, 4);
		memcpy(&dst, pkt + 16, 4);
		uint32_t seq = (uint32_t)get16(pkt + hl + 4) << 16 | get16(pkt + hl + 6);
		us_tcp_error(st, src, htons(get16(pkt + hl)), dst, htons(get16(pkt + hl + 2)), seq, 0, 0,
			     err);
	}
}
