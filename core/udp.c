/*
 * udp.c — UDP input (RFC 768, RFC 1122 4.1). Validates length and
 * checksum (a zero checksum means none was sent and is accepted); with no
 * socket bound to the port, answers ICMP port unreachable (RFC 1122
 * 4.1.3.1), subject to the ICMP error rules and rate limit. Sockets come
 * with the socket layer.
 */
#include <string.h>

#include "stack.h"

int us_udp_init(struct us_stack *st, struct us_udp *u)
{
	pthread_mutex_init(&u->lock, NULL);
	u->st = st;
	return 0;
}

void us_udp_destroy(struct us_udp *u)
{
	pthread_mutex_destroy(&u->lock);
}

void us_udp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p, size_t len)
{
	struct us_stack *st = nif->st;
	struct wire_udp u;
	US_STAT_INC(st, UDP_RX);
	int rc = wire_udp_parse(p, len, ip->src, ip->dst, &u);
	if (rc == -1) {
		US_STAT_INC(st, UDP_DROP_SHORT);
		return;
	}
	if (rc == -2) {
		US_STAT_INC(st, UDP_DROP_CHECKSUM);
		return;
	}
	US_STAT_INC(st, UDP_NO_PORT);
	us_icmp_send_error(st, ip, p, len, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT);
}
