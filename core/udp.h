/*
 * udp.h — UDP (RFC 768, RFC 1122 4.1): the port table, input demux to
 * sockets, and the socket operations (sockproto.h) for SOCK_DGRAM.
 */
#ifndef US_UDP_H
#define US_UDP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ustack/config.h"
#include "wire/ipv4.h"

struct us_stack;
struct us_netif;
struct us_sock;

#define US_UDP_HASH 1024                /* port hash buckets (power of two) */

/* The ephemeral port range (stack.ip_local_port_range, TCP and UDP alike,
 * as Linux's net.ipv4.ip_local_port_range): *lo the first port, *n how
 * many (host order). */
static inline void us_port_range(const struct us_config *c, uint32_t *lo, uint32_t *n)
{
	uint32_t l = c->port_lo ? c->port_lo : US_DEFAULT_PORT_LO;
	uint32_t h = c->port_lo ? c->port_hi : US_DEFAULT_PORT_HI;
	*lo = l;
	*n = h >= l ? h - l + 1 : 1;
}

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
 * An ICMP error about a datagram we sent (icmp.c), or a local failure to
 * send one (ipv4.c: ARP gave up, reported as host unreachable from our
 * own source address, as Linux's ipv4_link_failure does). q/qlen: the
 * quoted IP datagram (header, then at least the UDP header); from: the
 * ICMP's source; info: the next-hop MTU for "fragmentation needed", else
 * 0; err: the errno it maps to. The most specific socket bound to the
 * datagram's source gets it: connected sockets as their pending error,
 * IP_RECVERR sockets also in their error queue (udp_err.c); "fragmentation
 * needed" lowers the path MTU first.
 */
void us_udp_icmp_error(struct us_stack *st, uint32_t from, uint8_t type, uint8_t code,
		       uint32_t info, const uint8_t *q, size_t qlen, int err);

/* ---- udp_err.c: IP_MTU_DISCOVER, IP_MTU, IP_RECVERR; all with s->lock held ---- */
int us_udp_setsockopt(struct us_sock *s, int level, int name, const void *val, socklen_t len);
int us_udp_getsockopt(struct us_sock *s, int level, int name, void *val, socklen_t *len);
struct msghdr;
ssize_t us_udp_recverr(struct us_sock *s, struct msghdr *m);
/*
 * Before sending len payload bytes to dst: DF and the fragment size from
 * the socket's IP_MTU_DISCOVER mode and the path MTU; -EMSGSIZE (queued
 * as a local error with IP_RECVERR) when the mode forbids the size.
 */
int us_udp_tx_mtu(struct us_sock *s, uint32_t dst, size_t len, bool *df, uint16_t *frag_mtu);
/* Queue an extended error (no-op without IP_RECVERR); an ICMP one also
 * becomes the pending error. */
void us_udp_err_queue(struct us_sock *s, uint8_t origin, uint8_t type, uint8_t code,
		      uint32_t info, int err, uint32_t offender, uint32_t addr, uint16_t port,
		      const uint8_t *data, size_t dlen);
bool us_udp_err_pending(const struct us_sock *s);
void us_udp_err_free(struct us_sock *s);

#endif
