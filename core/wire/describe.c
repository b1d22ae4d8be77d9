/*
 * describe.c — one-line, tcpdump-style description of a frame, for -v
 * tracing. Pure: it only reads the frame, through the checked parsers.
 *
 * After the MAC addresses, the text is what `tcpdump -n -S` prints for the
 * same packet (absolute sequence numbers): TCP flags in tcpdump's order
 * and spelling ([S.], [P.], [F.], [R], [.]), "seq A:B" when the segment
 * occupies sequence space, ack, the unscaled window, the options in wire
 * order (mss, nop, eol, wscale, sackOK, sack {l:r}, TS val/ecr), and the
 * payload length; UDP's length is the payload's; ICMP echo as tcpdump
 * words it. tests/net/t_trace.sh compares the lines with tcpdump's reading
 * of a capture of the same frames.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

/* Append to buf at *at (bounded): like snprintf, never past cap. */
void wire_bprintf(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
	if (*at >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at = *at + (size_t)n < cap ? *at + (size_t)n : cap;
}

/* The options area, in wire order, as tcpdump prints it. */
static void describe_tcp_opts(const uint8_t *p, size_t len, char *buf, size_t cap, size_t *at)
{
	size_t i = 0;
	wire_bprintf(buf, cap, at, ", options [");
	for (bool first = true; i < len; first = false) {
		uint8_t kind = p[i];
		const char *sep = first ? "" : ",";
		if (kind == TCPOPT_EOL) {
			wire_bprintf(buf, cap, at, "%seol", sep);
			break;
		}
		if (kind == TCPOPT_NOP) {
			wire_bprintf(buf, cap, at, "%snop", sep);
			i++;
			continue;
		}
		if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len) {
			wire_bprintf(buf, cap, at, "%sbad opt", sep);
			break;
		}
		uint8_t olen = p[i + 1];
		const uint8_t *v = p + i + 2;
		if (kind == TCPOPT_MSS && olen == 4)
			wire_bprintf(buf, cap, at, "%smss %u", sep, get16(v));
		else if (kind == TCPOPT_WSCALE && olen == 3)
			wire_bprintf(buf, cap, at, "%swscale %u", sep, v[0]);
		else if (kind == TCPOPT_SACK_OK && olen == 2)
			wire_bprintf(buf, cap, at, "%ssackOK", sep);
		else if (kind == 5 && olen >= 2 && (olen - 2) % 8 == 0) {
			wire_bprintf(buf, cap, at, "%ssack %u ", sep, (unsigned)(olen - 2) / 8);
			for (size_t k = 0; k + 8 <= (size_t)olen - 2; k += 8)
				wire_bprintf(buf, cap, at, "{%u:%u}", get32(v + k), get32(v + k + 4));
		} else if (kind == TCPOPT_TIMESTAMP && olen == 10)
			wire_bprintf(buf, cap, at, "%sTS val %u ecr %u", sep, get32(v), get32(v + 4));
		else
			wire_bprintf(buf, cap, at, "%sunknown-%u", sep, kind);
		i += olen;
	}
	wire_bprintf(buf, cap, at, "]");
}

static void describe_tcp(const uint8_t *l4, size_t len, char *buf, size_t cap, size_t *at)
{
	if (len < TCP_HLEN) {
		wire_bprintf(buf, cap, at, "TCP truncated, length %zu", len);
		return;
	}
	size_t hlen = (size_t)(l4[12] >> 4) * 4;
	if (hlen < TCP_HLEN || hlen > len) {
		wire_bprintf(buf, cap, at, "TCP bad header length %zu, length %zu", hlen, len);
		return;
	}
	static const struct { uint8_t bit; char c; } fl[] = {
		{ TCP_FIN, 'F' }, { TCP_SYN, 'S' }, { TCP_RST, 'R' }, { TCP_PSH, 'P' },
		{ TCP_ACK, '.' }, { TCP_URG, 'U' }, { TCP_ECE, 'E' }, { TCP_CWR, 'W' },
	};
	uint8_t flags = l4[13];
	char f[12];
	size_t nf = 0;
	for (size_t k = 0; k < sizeof fl / sizeof fl[0]; k++)
		if (flags & fl[k].bit)
			f[nf++] = fl[k].c;
	f[nf] = '\0';
	size_t plen = len - hlen;
	uint32_t seq = get32(l4 + 4);
	wire_bprintf(buf, cap, at, "Flags [%s]", nf ? f : "none");
	if (plen > 0 || (flags & (TCP_SYN | TCP_FIN | TCP_RST))) {
		wire_bprintf(buf, cap, at, ", seq %u", seq);
		if (plen > 0)
			wire_bprintf(buf, cap, at, ":%u", (uint32_t)(seq + plen));
	}
	if (flags & TCP_ACK)
		wire_bprintf(buf, cap, at, ", ack %u", get32(l4 + 8));
	wire_bprintf(buf, cap, at, ", win %u", get16(l4 + 14));
	if (flags & TCP_URG)
		wire_bprintf(buf, cap, at, ", urg %u", get16(l4 + 18));
	if (hlen > TCP_HLEN)
		describe_tcp_opts(l4 + TCP_HLEN, hlen - TCP_HLEN, buf, cap, at);
	wire_bprintf(buf, cap, at, ", length %zu", plen);
}

void wire_describe_ip(const uint8_t *p, size_t len, char *buf, size_t cap)
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
		if (ic[0] == ICMP_ECHO_REQUEST || ic[0] == ICMP_ECHO_REPLY)
			snprintf(buf, cap, "IP %s > %s: ICMP echo %s, id %u, seq %u, length %u%s", s,
				 d, ic[0] == ICMP_ECHO_REQUEST ? "request" : "reply",
				 (unsigned)(ic[4] << 8 | ic[5]), (unsigned)(ic[6] << 8 | ic[7]),
				 ip.payload_len, frag);
		else
			snprintf(buf, cap, "IP %s > %s: ICMP %s %u/%u, length %u%s", s, d,
				 ic[0] == ICMP_DEST_UNREACH ? "unreachable"
				 : ic[0] == ICMP_TIME_EXCEEDED ? "time exceeded" : "type",
				 ic[0], ic[1], ip.payload_len, frag);
	} else if (ip.proto == IP_PROTO_UDP && ip.payload_len >= 8) {
		const uint8_t *l4 = ip.payload;
		uint16_t ulen = get16(l4 + 4);
		snprintf(buf, cap, "IP %s.%u > %s.%u: UDP, length %u%s", s, get16(l4), d,
			 get16(l4 + 2), ulen >= 8 ? ulen - 8u : 0u, frag);
	} else if (ip.proto == IP_PROTO_TCP && ip.payload_len >= 4) {
		const uint8_t *l4 = ip.payload;
		size_t at = 0;
		wire_bprintf(buf, cap, &at, "IP %s.%u > %s.%u: ", s, get16(l4), d, get16(l4 + 2));
		if (ip.mf)      /* the rest of the segment is in later fragments */
			wire_bprintf(buf, cap, &at, "TCP, length %u", ip.payload_len);
		else
			describe_tcp(l4, ip.payload_len, buf, cap, &at);
		wire_bprintf(buf, cap, &at, "%s", frag);
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
		wire_describe_ip(eth.payload, eth.payload_len, buf, cap);
	} else {
		snprintf(buf, cap, "ethertype 0x%04x, length %zu", eth.type, len);
	}
}
