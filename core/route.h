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
 * caches its route per connection, see ipv4.h us_dst_cache).
 *
 * Lookups take no lock: the table is an immutable snapshot behind one
 * atomic pointer. A change (add, delete) copies the current snapshot,
 * edits the copy, gives it the next generation number and publishes it;
 * a reader holding the old one finishes its walk on consistent data.
 * Old snapshots are kept until the table is destroyed (changes are rare:
 * setup, DHCP lease events; each keeps a few KiB), so no reader can ever
 * see freed memory without any per-lookup reference counting.
 */
#ifndef US_ROUTE_H
#define US_ROUTE_H

#include <pthread.h>
#include <stdatomic.h>
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

struct us_route_snap {
	uint32_t gen;                   /* 1, 2, ...: which version of the table */
	int n;
	struct us_route_snap *retired_next;   /* older snapshots (writers' lock) */
	struct us_route r[];
};

struct us_route_table {
	pthread_mutex_t wlock;          /* serializes writers; protects retired */
	_Atomic(struct us_route_snap *) cur;  /* read without a lock (acquire); NULL = empty */
	struct us_route_snap *retired;  /* replaced snapshots, freed by destroy */
};

/*
 * A sender's cached route and neighbour for one destination (TCP keeps one
 * in each connection, under its socket lock): the route (interface, next
 * hop, source) is good while the routing table's generation is route_gen;
 * the next hop's MAC while the ARP cache's generation is arp_gen and the
 * clock is before mac_until (a REACHABLE entry lapses by time). A miss on
 * either refills it from a real lookup; 0 generations mean empty.
 */
struct us_dst_cache {
	uint32_t dst;                   /* network order: what it was filled for */
	uint32_t route_gen, arp_gen;
	int ifindex;
	uint32_t nh, src;
	uint64_t mac_until;             /* 0: no MAC cached */
	uint8_t mac[6];
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
/* The same, also saying which generation of the table answered. */
int us_route_lookup_gen(struct us_route_table *t, uint32_t dst_be, struct us_route *out,
			uint32_t *gen);
/* The current generation (changes with every add or delete; never 0). */
uint32_t us_route_gen(struct us_route_table *t);

/* Fill the table from the stack's interfaces and config. */
int us_route_setup(struct us_stack *st, char *err, size_t errlen);

#endif
