/*
 * eth.c — Ethernet II and ARP wire formats.
 */
#include <stdio.h>
#include <string.h>

#include "wire/eth.h"
#include "wire/bytes.h"

const uint8_t wire_eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int wire_eth_parse(const uint8_t *frame, size_t len, struct wire_eth *out)
{
	if (len < ETH_HLEN)
		return -1;
	out->dst = frame;
	out->src = frame + 6;
	out->type = get16(frame + 12);
	out->payload = frame + ETH_HLEN;
	out->payload_len = len - ETH_HLEN;
	return 0;
}

void wire_eth_build(uint8_t *p, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
		    uint16_t type)
{
	memcpy(p, dst, ETH_ALEN);
	memcpy(p + 6, src, ETH_ALEN);
	put16(p + 12, type);
}

char *wire_mac_str(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

int wire_arp_parse(const uint8_t *p, size_t len, struct wire_arp *out)
{
	if (len < ARP_LEN)
		return -1;
	if (get16(p) != 1 || get16(p + 2) != ETH_TYPE_IPV4 || p[4] != 6 || p[5] != 4)
		return -1;
	out->op = get16(p + 6);
	if (out->op != ARP_OP_REQUEST && out->op != ARP_OP_REPLY)
		return -1;
	memcpy(out->sha, p + 8, 6);
	memcpy(&out->spa, p + 14, 4);
	memcpy(out->tha, p + 18, 6);
	memcpy(&out->tpa, p + 24, 4);
	return 0;
}

void wire_arp_build(uint8_t *p, const struct wire_arp *a)
{
	put16(p, 1);
	put16(p + 2, ETH_TYPE_IPV4);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, a->op);
	memcpy(p + 8, a->sha, 6);
	memcpy(p + 14, &a->spa, 4);
	memcpy(p + 18, a->tha, 6);
	memcpy(p + 24, &a->tpa, 4);
}
