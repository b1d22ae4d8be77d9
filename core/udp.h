/*
 * udp.h — UDP (RFC 768, RFC 1122 4.1): the port table, input demux to
 * sockets, and the socket operations (sockproto.h) for SOCK_DGRAM.
 */
#ifndef US_UDP_H
#define US_UDP_H

#include <pthread.h>
#include <stdint.h>

#include "wire/ipv4.h"

struct us_stack;
struct us_netif;
struct us_sock;

#define US_UDP_HASH 1024                /* port hash buckets (power of two) */
#define US_EPHEMERAL_LO 49152           /* RFC 6056 / IANA dynamic range */
#define US_EPHEMERAL_HI 65535

struct us_udp {
	pthread_rwlock_t lock;          /* protects hash[] chains and every socket's port_next */
	struct us_sock *hash[US_UDP_HASH];
	struct us_stack *st;
};

int us_udp_init(struct us_stack *st, struct us_udp *u);
void us_udp_destroy(struct us_udp *u);
void us_udp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *payload,
		  size_t len);
/*
 * An ICMP error (or a local ARP failure) about a datagram we sent from
 * src:sport to dst:dport (network order): a connected socket gets err.
 */
void us_udp_error(struct us_stack *st, uint32_t src, uint16_t sport, uint32_t dst,
		  uint16_t dport, int err);

#endif
