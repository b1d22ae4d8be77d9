/*
 * icmp.h — ICMP (RFC 792, RFC 1122 3.2.2): echo, errors, rate limiting,
 * and the echo endpoints behind us_ping_*().
 */
#ifndef US_ICMP_H
#define US_ICMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire/ipv4.h"

struct us_stack;
struct us_netif;
struct us_echo_reply;

#define US_PING_ENDPOINTS   16
#define US_PING_QUEUE       16      /* replies kept per endpoint */
#define US_PING_MAX_DATA    65507   /* largest echo payload */

/* Token bucket for ICMP errors, like Linux's icmp_msgs_per_sec/burst. */
#define US_ICMP_RATE_PER_SEC 1000
#define US_ICMP_RATE_BURST   50

struct us_ping_ep {
	/* All fields protected by us_icmp.lock. */
	bool in_use;
	uint16_t id;
	int ifindex;                /* us_ping_bind: -1 = from the route */
	uint32_t src;               /* us_ping_bind: network order, 0 = from the route */
	int head, count;            /* ring of US_PING_QUEUE */
	struct us_echo_reply *rep;  /* [US_PING_QUEUE] */
	uint8_t *data;              /* [US_PING_QUEUE][US_PING_MAX_DATA] */
	int waiters;
	pthread_cond_t cond;        /* signalled on arrival, close and stop */
};

struct us_icmp {
	pthread_mutex_t lock;       /* protects eps[], next_id, stopping, the token bucket */
	struct us_ping_ep eps[US_PING_ENDPOINTS];
	uint16_t next_id;
	bool stopping;
	double tokens;              /* ICMP error token bucket */
	uint64_t tokens_at;         /* clock time tokens were last refilled */
	struct us_stack *st;
};

int us_icmp_init(struct us_stack *st, struct us_icmp *ic);
void us_icmp_destroy(struct us_icmp *ic);
/* Wake every ping waiter with ESHUTDOWN. */
void us_icmp_stop(struct us_icmp *ic);

/* ip: the parsed header (for addresses, TTL); payload the ICMP message. */
void us_icmp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *payload,
		   size_t len);

/*
 * Send an ICMP error about the datagram whose header is ip and payload
 * starts at payload (len bytes available). Applies RFC 1122 3.2.2: never
 * about ICMP errors, broadcasts/multicasts, non-first fragments; rate limited.
 */
void us_icmp_send_error(struct us_stack *st, const struct wire_ip4 *ip, const uint8_t *payload,
			size_t len, uint8_t type, uint8_t code);

/*
 * The same for a datagram we were forwarding (ipv4.c): its destination is
 * not ours; the error goes out from the address of the interface on the
 * way back to the source (RFC 1812 4.3.2.4). rest is the message's second
 * 32-bit word: the next-hop MTU for "fragmentation needed" (RFC 1191),
 * the gateway for a redirect (RFC 792), else 0.
 */
void us_icmp_send_error_fwd(struct us_stack *st, const struct wire_ip4 *ip,
			    const uint8_t *payload, size_t len, uint8_t type, uint8_t code,
			    uint32_t rest);

/* An ICMP echo we queued failed locally (ARP): report err to its endpoint. */
void us_icmp_local_error(struct us_stack *st, const uint8_t *ippkt, size_t len, int err);

#endif
