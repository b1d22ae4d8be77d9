/*
 * eth.h — Ethernet II header and ARP (RFC 826) packet: parse and build.
 *
 * Pure functions: no state, no locks, no allocation. Parsers check the
 * length once, up front, and fill a host-order view; builders write into a
 * caller's buffer of at least the stated size.
 */
#ifndef US_WIRE_ETH_H
#define US_WIRE_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_ALEN        6
#define ETH_HLEN        14
#define ETH_MIN_FRAME   60      /* without FCS: shorter frames are padded */
#define ETH_TYPE_IPV4   0x0800
#define ETH_TYPE_ARP    0x0806

struct wire_eth {
	const uint8_t *dst;     /* points into the frame */
	const uint8_t *src;
	uint16_t type;
	const uint8_t *payload;
	size_t payload_len;
};

extern const uint8_t wire_eth_broadcast[ETH_ALEN];

/* 0 on success, -1 if len < ETH_HLEN. */
int wire_eth_parse(const uint8_t *frame, size_t len, struct wire_eth *out);
/* Write a 14-byte header at p. */
void wire_eth_build(uint8_t *p, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
		    uint16_t type);
static inline bool wire_eth_is_multicast(const uint8_t *mac) { return mac[0] & 1; }
/* "02:00:00:00:00:01" into buf (>= 18 bytes). */
char *wire_mac_str(const uint8_t *mac, char *buf);

/* ARP for IPv4 over Ethernet. Addresses kept in network byte order. */
#define ARP_LEN         28
#define ARP_OP_REQUEST  1
#define ARP_OP_REPLY    2

struct wire_arp {
	uint16_t op;
	uint8_t sha[ETH_ALEN];
	uint32_t spa;           /* network order */
	uint8_t tha[ETH_ALEN];
	uint32_t tpa;           /* network order */
};

/*
 * 0 on success; -1 if shorter than 28 bytes, or not Ethernet/IPv4
 * (htype 1, ptype 0x0800, hlen 6, plen 4), or op not request/reply.
 */
int wire_arp_parse(const uint8_t *p, size_t len, struct wire_arp *out);
/* Write the 28-byte packet at p. */
void wire_arp_build(uint8_t *p, const struct wire_arp *a);

#endif
