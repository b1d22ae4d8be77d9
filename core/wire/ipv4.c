/*
 * ipv4.c — IPv4, ICMP and UDP header parse/build. Pure functions.
 */
#include <stdio.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

enum wire_ip4_err wire_ip4_parse(const uint8_t *p, size_t len, struct wire_ip4 *o)
{
	if (len < IP4_HLEN)
		return WIRE_IP4_SHORT;
	if ((p[0] >> 4) != 4)
		return WIRE_IP4_VERSION;
	uint16_t hlen = (uint16_t)((p[0] & 0x0f) * 4);
	if (hlen < IP4_HLEN || hlen > len)
		return WIRE_IP4_IHL;
	uint16_t total = get16(p + 2);
	if (total < hlen || total > len)
		return WIRE_IP4_LENGTH;
	if (wire_csum(p, hlen) != 0)
		return WIRE_IP4_CHECKSUM;
	uint16_t frag = get16(p + 6);
	o->hdr = p;
	o->hlen = hlen;
	o->tos = p[1];
	o->total_len = total;
	o->id = get16(p + 4);
	o->df = (frag & IP4_FLAG_DF) != 0;
	o->mf = (frag & IP4_FLAG_MF) != 0;
	o->frag_off = (uint16_t)((frag & IP4_OFF_MASK) * 8);
	o->ttl = p[8];
	o->proto = p[9];
	memcpy(&o->src, p + 12, 4);
	memcpy(&o->dst, p + 16, 4);
	o->payload = p + hlen;
	o->payload_len = (uint16_t)(total - hlen);
	o->link_bcast = false;
	o->l4_csum_ok = false;
	return WIRE_IP4_OK;
}

void wire_ip4_build(uint8_t *p, const struct wire_ip4_hdr *h)
{
	p[0] = 0x45;
	p[1] = h->tos;
	put16(p + 2, h->total_len);
	put16(p + 4, h->id);
	uint16_t frag = (uint16_t)(h->frag_off / 8);
	if (h->df)
		frag |= IP4_FLAG_DF;
	if (h->mf)
		frag |= IP4_FLAG_MF;
	put16(p + 6, frag);
	p[8] = h->ttl;
	p[9] = h->proto;
	p[10] = p[11] = 0;
	memcpy(p + 12, &h->src, 4);
	memcpy(p + 16, &h->dst, 4);
	uint16_t c = wire_csum(p, IP4_HLEN);
	memcpy(p + 10, &c, 2);
}

char *wire_ip4_str(uint32_t a, char *buf)
{
	const uint8_t *b = (const uint8_t *)&a;
	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

int wire_icmp_parse(const uint8_t *p, size_t len, struct wire_icmp *o)
{
	if (len < ICMP_HLEN)
		return -1;
	if (wire_csum(p, len) != 0)
		return -2;
	o->type = p[0];
	o->code = p[1];
	o->rest = get32(p + 4);
	o->id = get16(p + 4);
	o->seq = get16(p + 6);
	o->data = p + ICMP_HLEN;
	o->data_len = len - ICMP_HLEN;
	return 0;
}

void wire_icmp_build(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, size_t data_len)
{
	p[0] = type;
	p[1] = code;
	p[2] = p[3] = 0;
	put32(p + 4, rest);
	uint16_t c = wire_csum(p, ICMP_HLEN + data_len);
	memcpy(p + 2, &c, 2);
}

int wire_udp_parse(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, struct wire_udp *o)
{
	if (wire_udp_parse_nocsum(p, len, o) < 0)
		return -1;
	/* RFC 768: an all-zero checksum means the sender computed none. */
	if (o->csum != 0) {
		uint64_t s = wire_csum_pseudo(src, dst, IP_PROTO_UDP, o->len);
		if (wire_csum_fold(wire_csum_add(s, p, o->len)) != 0)
			return -2;
	}
	return 0;
}

int wire_udp_parse_nocsum(const uint8_t *p, size_t len, struct wire_udp *o)
{
	if (len < UDP_HLEN)
		return -1;
	uint16_t ulen = get16(p + 4);
	if (ulen < UDP_HLEN || ulen > len)
		return -1;
	o->sport = get16(p);
	o->dport = get16(p + 2);
	o->len = ulen;
	o->csum = get16(p + 6);
	o->payload = p + UDP_HLEN;
	o->payload_len = ulen - UDP_HLEN;
	return 0;
}

void wire_udp_build(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload_len,
		    uint32_t src, uint32_t dst)
{
	uint16_t ulen = (uint16_t)(UDP_HLEN + payload_len);
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, ulen);
	p[6] = p[7] = 0;
	uint64_t s = wire_csum_pseudo(src, dst, IP_PROTO_UDP, ulen);
	uint16_t c = wire_csum_fold(wire_csum_add(s, p, ulen));
	if (c == 0)
		c = 0xffff;     /* RFC 768: a computed zero is sent as all ones */
	memcpy(p + 6, &c, 2);
}
