/*
 * udp.h — UDP input and output (RFC 768). This layer validates and
 * delivers; with no socket on the port it answers ICMP port unreachable.
 */
#ifndef US_UDP_H
#define US_UDP_H

#include <pthread.h>
#include <stdint.h>

#include "wire/ipv4.h"

struct us_stack;
struct us_netif;

struct us_udp {
	pthread_mutex_t lock;   /* protects the port table (sockets: a later issue) */
	struct us_stack *st;
};

int us_udp_init(struct us_stack *st, struct us_udp *u);
void us_udp_destroy(struct us_udp *u);
void us_udp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *payload,
		  size_t len);

#endif
