/*
 * route.h — the IPv4 routing table: connected routes from interface
 * addresses plus static routes from config; longest prefix wins, then the
 * lowest metric, then the order configured.
 *
 * Local delivery: every address of the stack has a /32 route to the
 * built-in loopback interface (netif.h US_LO_IFINDEX) and 127.0.0.0/8
 * goes there too. They are added first, so a connected /32 or a static
 * route with the same prefix and metric sorts after them: like Linux's
 * local table, consulted before the main one.
 *
 * The table is kept sorted by (prefix length desc, metric asc), so a
 * lookup is the first match of a short array walk (tens of entries; TCP
 * caches its route per connection).
 */
#ifndef US_ROUTE_H
#define US_ROUTE_H

#include <pthread.h>
#include <stdint.h>

#include "ustack/config.h"

/* Static + connected + a local /32 per address + 127.0.0.0/8 + a DHCP
 * lease's three (local /32, its subnet, its default) per interface. */
#define US_ROUTES_MAX (US_MAX_ROUTES + 2 * US_MAX_IFACES * US_MAX_ADDRS + 1 + 3 * US_MAX_IFACES)

struct us_route {
	uint32_t dst;           /* host order, masked */
	uint8_t prefix;
	uint32_t gw;            /* network order; 0 = on-link */
	uint32_t metric;
	int ifindex;
	uint32_t src;           /* network order; 0 = chosen from the interface */
};

struct us_route_table {
	pthread_rwlock_t lock;  /* protects r[] and n */
	struct us_route r[US_ROUTES_MAX];
	int n;
};

struct us_stack;

void us_route_init(struct us_route_table *t);
void us_route_destroy(struct us_route_table *t);
/* Add (kept sorted). -1 with ENOSPC when full. gw network order, dst any order of host bits. */
int us_route_add(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		 uint32_t metric, int ifindex);
/* The same with a preferred source address src (network order; 0 = none). */
int us_route_add_src(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		     uint32_t metric, int ifindex, uint32_t src_be);
/* Remove the first route equal in dst/prefix, gw and ifindex (a DHCP
 * lease's routes when it ends). 0, or -1 with ESRCH if there is none. */
int us_route_del(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		 int ifindex);
/* Find the route for dst (network order). 0 and *out filled, or -1 (ENETUNREACH). */
int us_route_lookup(struct us_route_table *t, uint32_t dst_be, struct us_route *out);

/* Fill the table from the stack's interfaces and config. */
int us_route_setup(struct us_stack *st, char *err, size_t errlen);

#endif
