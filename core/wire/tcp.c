/*
 * tcp.c — TCP header and options, parse and build. Pure functions.
 */
#include <string.h>

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

bool wire_tcp_parse_opts(const uint8_t *p, size_t len, struct wire_tcp_opts *o)
{
	memset(o, 0, sizeof *o);
	size_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == TCPOPT_EOL)
			return true;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		uint8_t olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return false;
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case TCPOPT_MSS:
			if (olen == 4) {
				o->has_mss = true;
				o->mss = get16(v);
			}
			break;
		case TCPOPT_WSCALE:
			if (olen == 3) {
				o->has_wscale = true;
				o->wscale = v[0];
			}
			break;
		case TCPOPT_SACK_OK:
			if (olen == 2)
				o->sack_ok = true;
			break;
		case TCPOPT_SACK:
			/* A length that is not 2 + 8n is ignored, as Linux does
			 * (tcp_sack_option: "malformed"). */
			if (olen >= 10 && (olen - 2) % 8 == 0) {
				unsigned n = (olen - 2u) / 8u;
				if (n > TCP_SACK_MAX)
					n = TCP_SACK_MAX;
				for (unsigned k = 0; k < n; k++) {
					o->sack[k].start = get32(v + 8 * k);
					o->sack[k].end = get32(v + 8 * k + 4);
				}
				o->nsack = (uint8_t)n;
			}
			break;
		case TCPOPT_TIMESTAMP:
			if (olen == 10) {
				o->has_ts = true;
				o->tsval = get32(v);
				o->tsecr = get32(v + 4);
			}
			break;
		default:
			break;  /* unknown options are skipped by their length */
		}
		i += olen;
	}
	return true;
}

int wire_tcp_parse(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, struct wire_tcp *o)
{
	if (len < TCP_HLEN)
		return -1;
	uint8_t hlen = (uint8_t)((p[12] >> 4) * 4);
	if (hlen < TCP_HLEN || hlen > len)
		return -1;
	uint64_t s = wire_csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)len);
	if (wire_csum_fold(wire_csum_add(s, p, len)) != 0)
		return -2;
	return wire_tcp_parse_nocsum(p, len, o);
}

int wire_tcp_parse_nocsum(const uint8_t *p, size_t len, struct wire_tcp *o)
{
	if (len < TCP_HLEN)
		return -1;
	uint8_t hlen = (uint8_t)((p[12] >> 4) * 4);
	if (hlen < TCP_HLEN || hlen > len)
		return -1;
	o->sport = get16(p);
	o->dport = get16(p + 2);
	o->seq = get32(p + 4);
	o->ack = get32(p + 8);
	o->hlen = hlen;
	o->flags = p[13];
	o->win = get16(p + 14);
	o->urg = get16(p + 18);
	o->opt_bad = !wire_tcp_parse_opts(p + TCP_HLEN, hlen - TCP_HLEN, &o->opt);
	o->payload = p + hlen;
	o->payload_len = len - hlen;
	return 0;
}

size_t wire_tcp_build(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		      uint8_t flags, uint16_t win, const struct wire_tcp_opts *opt)
{
	uint8_t *o = p + TCP_HLEN;
	if (opt) {
		if (opt->has_mss) {
			o[0] = TCPOPT_MSS;
			o[1] = 4;
			put16(o + 2, opt->mss);
			o += 4;
		}
		if (opt->has_ts) {
			if (opt->sack_ok) {
				o[0] = TCPOPT_SACK_OK;
				o[1] = 2;
			} else {
				o[0] = o[1] = TCPOPT_NOP;
			}
			o[2] = TCPOPT_TIMESTAMP;
			o[3] = 10;
			put32(o + 4, opt->tsval);
			put32(o + 8, opt->tsecr);
			o += 12;
		} else if (opt->sack_ok) {
			o[0] = o[1] = TCPOPT_NOP;
			o[2] = TCPOPT_SACK_OK;
			o[3] = 2;
			o += 4;
		}
		if (opt->has_wscale) {
			o[0] = TCPOPT_NOP;
			o[1] = TCPOPT_WSCALE;
			o[2] = 3;
			o[3] = opt->wscale;
			o += 4;
		}
		if (opt->nsack) {
			unsigned n = opt->nsack > TCP_SACK_MAX ? TCP_SACK_MAX : opt->nsack;
			o[0] = o[1] = TCPOPT_NOP;
			o[2] = TCPOPT_SACK;
			o[3] = (uint8_t)(2 + 8 * n);
			for (unsigned k = 0; k < n; k++) {
				put32(o + 4 + 8 * k, opt->sack[k].start);
				put32(o + 8 + 8 * k, opt->sack[k].end);
			}
			o += 4 + 8 * n;
		}
	}
	size_t hlen = (size_t)(o - p);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	put32(p + 8, ack);
	p[12] = (uint8_t)((hlen / 4) << 4);
	p[13] = flags;
	put16(p + 14, win);
	p[16] = p[17] = 0;
	p[18] = p[19] = 0;
	return hlen;
}

uint32_t wire_tcp_gso_count(size_t payload_len, uint16_t gso_size)
{
	if (gso_size == 0 || payload_len == 0)
		return 1;
	return (uint32_t)((payload_len + gso_size - 1) / gso_size);
}

size_t wire_tcp_gso_hdr(uint8_t *out, const uint8_t *hdr, size_t hlen, size_t payload_len,
			uint16_t gso_size, uint32_t k)
{
	uint32_t n = wire_tcp_gso_count(payload_len, gso_size);
	memcpy(out, hdr, hlen);
	if (gso_size == 0)
		return payload_len;
	size_t off = (size_t)k * gso_size;
	size_t len = payload_len - off < gso_size ? payload_len - off : gso_size;
	put32(out + 4, get32(hdr + 4) + (uint32_t)off);
	if (k + 1 < n)
		out[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (k > 0)
		out[13] &= (uint8_t)~TCP_CWR;
	return len;
}

void wire_tcp_set_csum(uint8_t *hdr, uint16_t csum)
{
	memcpy(hdr + 16, &csum, 2);
}
