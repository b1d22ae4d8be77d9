/*
 * checksum.c — Internet checksum in wide words (RFC 1071, RFC 1624).
 */
#include <string.h>

#include "wire/checksum.h"

uint64_t wire_csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	/* 32-bit loads into a 64-bit accumulator cannot overflow for any
	 * buffer below 2^32 words; memcpy keeps unaligned loads legal. */
	while (len >= 16) {
		uint32_t w[4];
		memcpy(w, p, 16);
		sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the high-order byte of a 16-bit word in network
		 * order; in memory order that is the first byte of the word. */
		uint8_t last[2] = { p[0], 0 };
		uint16_t h;
		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

uint64_t wire_csum_add_at(uint64_t sum, const void *p, size_t len, size_t off)
{
	if (!(off & 1))
		return wire_csum_add(sum, p, len);
	uint64_t s = wire_csum_add(0, p, len);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	uint16_t h = (uint16_t)s;
	return sum + (uint16_t)(h << 8 | h >> 8);
}

uint16_t wire_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t wire_csum(const void *p, size_t len)
{
	return wire_csum_fold(wire_csum_add(0, p, len));
}

uint64_t wire_csum_pseudo(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];
	memcpy(ph, &src_be, 4);
	memcpy(ph + 4, &dst_be, 4);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return wire_csum_add(0, ph, sizeof ph);
}

uint16_t wire_csum_update16(uint16_t csum, uint16_t old_be, uint16_t new_be)
{
	/* HC' = ~(~HC + ~m + m') */
	uint32_t sum = (uint16_t)~csum;
	sum += (uint16_t)~old_be;
	sum += new_be;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
