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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

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
	return ipv4_reasm_init(st, ip);
}

void us_ipv4_reset(struct us_stack *st, struct us_ipv4 *ip)
{
	ids_init(st, ip);
	ipv4_reasm_clear(st, ip);
}

void us_ipv4_destroy(struct us_ipv4 *ip)
{
	ipv4_reasm_destroy(ip);
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
	/* 127/8 never comes from a wire (RFC 1122 3.2.1.3 (g); Linux's martians). */
	if (!nif->loopback && (is_loopback_net(ip.src) || is_loopback_net(ip.dst))) {
		US_STAT_INC(st, IP_DROP_MARTIAN);
		return;
	}
	if (!us_ipv4_is_local(st, ip.dst) && ip.dst != 0xffffffffu && !us_netif_is_bcast(nif, ip.dst)) {
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

int us_ipv4_route(struct us_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop,
		  uint32_t *src)
{
	struct us_route r;
	if (us_route_lookup(&st->routes, dst, &r) < 0) {
		US_STAT_INC(st, IP_NO_ROUTE);
		return -ENETUNREACH;
	}
	*ifindex = r.ifindex;
	*nexthop = r.gw ? r.gw : dst;
	if (r.ifindex == US_LO_IFINDEX && !is_loopback_net(dst))
		*src = dst;     /* to one of our addresses: from it, as Linux */
	else
		*src = us_netif_src_for(&st->ifs[r.ifindex], *nexthop);
	return 0;
}

static uint16_t next_id(struct us_stack *st, uint32_t src, uint32_t dst, uint8_t proto)
{
	uint32_t h = (src ^ st->ip.id_key) * 0x9e3779b1u;
	h = (h ^ dst) * 0x85ebca6bu;
	h = (h ^ proto) * 0xc2b2ae35u;
	return atomic_fetch_add_explicit(&st->ip.ids[(h >> 16) % US_IP_ID_BUCKETS], 1,
					 memory_order_relaxed);
}

/* Copy bytes [off, off+n) of the concatenation of the pieces into out. */
static void copy_span(uint8_t *out, const struct iovec *iov, int iovcnt, size_t off, size_t n)
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

int us_ipv4_send(struct us_stack *st, const struct us_ip_tx *tx, const void *hdr, size_t hlen,
		 const void *data, size_t dlen)
{
	struct iovec iov[2] = { { (void *)hdr, hlen }, { (void *)data, dlen } };
	return us_ipv4_sendv(st, tx, iov, 2);
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
		src = st->ifs[ifindex].naddrs ? st->ifs[ifindex].addrs[0].addr.s_addr : 0;
	} else {
		int rc = us_ipv4_route(st, tx->dst, &ifindex, &nh, &src);
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
	h.id = next_id(st, src, tx->dst, tx->proto);

	if (IP4_HLEN + total <= nif->mtu) {
		struct us_buf *b = us_buf_get(&st->pool);
		if (!b) {
			US_STAT_INC(st, ETH_DROP_NOBUF);
			return -ENOBUFS;
		}
		h.total_len = (uint16_t)(IP4_HLEN + total);
		wire_ip4_build(b->data, &h);
		copy_span(b->data + IP4_HLEN, iov, iovcnt, 0, total);
		b->len = IP4_HLEN + total;
		US_STAT_INC(st, IP_TX);
		return us_netif_output_ip(nif, nh, b);
	}
	if (tx->df) {
		US_STAT_INC(st, IP_FRAG_DF);
		return -EMSGSIZE;
	}
	/* RFC 791 fragmentation: every fragment but the last carries a
	 * multiple of 8 payload bytes; each has its own copy of the header. */
	size_t chunk = (nif->mtu - IP4_HLEN) & ~(size_t)7;
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
		copy_span(b->data + IP4_HLEN, iov, iovcnt, off, n);
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
	size_t hl = (size_t)(pkt[0] & 0x0f) * 4;
	if (pkt[9] == IP_PROTO_ICMP) {
		us_icmp_local_error(st, pkt, len, err);
	} else if (pkt[9] == IP_PROTO_UDP && hl >= IP4_HLEN && len >= hl + UDP_HLEN &&
		   (get16(pkt + 6) & IP4_OFF_MASK) == 0) {
		uint32_t src, dst;
		memcpy(&src, pkt + 12, 4);
		memcpy(&dst, pkt + 16, 4);
		us_udp_error(st, src, htons(get16(pkt + hl)), dst, htons(get16(pkt + hl + 2)), err);
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
