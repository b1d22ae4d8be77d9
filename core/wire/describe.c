/*
 * describe.c — one-line, tcpdump-style description of a frame, for -v
 * tracing. Pure: it only reads the frame, through the checked parsers.
 */
#include <stdio.h>
#include <string.h>

#include "wire/eth.h"
#include "wire/ipv4.h"

static void describe_ip(const uint8_t *p, size_t len, char *buf, size_t cap)
{
	struct wire_ip4 ip;
	char s[16], d[16];
	enum wire_ip4_err e = wire_ip4_parse(p, len, &ip);
	if (e != WIRE_IP4_OK) {
		snprintf(buf, cap, "IP malformed (error %d), length %zu", (int)e, len);
		return;
	}
	wire_ip4_str(ip.src, s);
	wire_ip4_str(ip.dst, d);
	char frag[64] = "";
	if (ip.mf || ip.frag_off)
		snprintf(frag, sizeof frag, " (frag id %u off %u%s)", ip.id, ip.frag_off,
			 ip.mf ? " +" : "");
	if (ip.frag_off) {
		snprintf(buf, cap, "IP %s > %s: proto %u, length %u%s", s, d, ip.proto,
			 ip.payload_len, frag);
		return;
	}
	if (ip.proto == IP_PROTO_ICMP && ip.payload_len >= ICMP_HLEN) {
		const uint8_t *ic = ip.payload;
		const char *t = ic[0] == ICMP_ECHO_REQUEST ? "echo request"
				: ic[0] == ICMP_ECHO_REPLY ? "echo reply"
				: ic[0] == ICMP_DEST_UNREACH ? "unreachable"
				: ic[0] == ICMP_TIME_EXCEEDED ? "time exceeded" : "type";
		snprintf(buf, cap, "IP %s > %s: ICMP %s %u/%u, id %u, seq %u, length %u%s", s, d, t,
			 ic[0], ic[1], (unsigned)(ic[4] << 8 | ic[5]), (unsigned)(ic[6] << 8 | ic[7]),
			 ip.payload_len, frag);
	} else if ((ip.proto == IP_PROTO_UDP || ip.proto == IP_PROTO_TCP) && ip.payload_len >= 4) {
		const uint8_t *l4 = ip.payload;
		snprintf(buf, cap, "IP %s.%u > %s.%u: %s, length %u%s", s,
			 (unsigned)(l4[0] << 8 | l4[1]), d, (unsigned)(l4[2] << 8 | l4[3]),
			 ip.proto == IP_PROTO_UDP ? "UDP" : "TCP", ip.payload_len, frag);
	} else {
		snprintf(buf, cap, "IP %s > %s: proto %u, length %u%s", s, d, ip.proto,
			 ip.payload_len, frag);
	}
}

void wire_describe(const uint8_t *frame, size_t len, char *buf, size_t cap)
{
	struct wire_eth eth;
	char ms[18], md[18];
	if (wire_eth_parse(frame, len, &eth) != 0) {
		snprintf(buf, cap, "truncated frame, length %zu", len);
		return;
	}
	int n = snprintf(buf, cap, "%s > %s, ", wire_mac_str(eth.src, ms), wire_mac_str(eth.dst, md));
	if (n < 0 || (size_t)n >= cap)
		return;
	buf += n;
	cap -= (size_t)n;
	if (eth.type == ETH_TYPE_ARP) {
		struct wire_arp a;
		char s[16], t[16];
		if (wire_arp_parse(eth.payload, eth.payload_len, &a) != 0)
			snprintf(buf, cap, "ARP malformed, length %zu", eth.payload_len);
		else if (a.op == ARP_OP_REQUEST)
			snprintf(buf, cap, "ARP, Request who-has %s tell %s", wire_ip4_str(a.tpa, t),
				 wire_ip4_str(a.spa, s));
		else
			snprintf(buf, cap, "ARP, Reply %s is-at %s", wire_ip4_str(a.spa, s),
				 wire_mac_str(a.sha, ms));
	} else if (eth.type == ETH_TYPE_IPV4) {
		describe_ip(eth.payload, eth.payload_len, buf, cap);
	} else {
		snprintf(buf, cap, "ethertype 0x%04x, length %zu", eth.type, len);
	}
}
