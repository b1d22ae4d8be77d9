/*
 * route.c — the routing table (see route.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stack.h"

void us_route_init(struct us_route_table *t)
{
	pthread_rwlock_init(&t->lock, NULL);
	t->n = 0;
}

void us_route_destroy(struct us_route_table *t)
{
	pthread_rwlock_destroy(&t->lock);
}

/* Sort key: longer prefix first, then lower metric; stable for equal keys. */
static int before(const struct us_route *a, const struct us_route *b)
{
	if (a->prefix != b->prefix)
		return a->prefix > b->prefix;
	return a->metric < b->metric;
}

int us_route_add(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		 uint32_t metric, int ifindex)
{
	return us_route_add_src(t, dst_be, prefix, gw_be, metric, ifindex, 0);
}

int us_route_add_src(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		     uint32_t metric, int ifindex, uint32_t src_be)
{
	if (prefix > 32) {
		errno = EINVAL;
		return -1;
	}
	struct us_route r = {
		.dst = ntohl(dst_be) & us_prefix_mask(prefix),
		.prefix = prefix,
		.gw = gw_be,
		.metric = metric,
		.ifindex = ifindex,
		.src = src_be,
	};
	pthread_rwlock_wrlock(&t->lock);
	if (t->n == US_ROUTES_MAX) {
		pthread_rwlock_unlock(&t->lock);
		errno = ENOSPC;
		return -1;
	}
	int i = t->n;
	while (i > 0 && before(&r, &t->r[i - 1])) {
		t->r[i] = t->r[i - 1];
		i--;
	}
	t->r[i] = r;
	t->n++;
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

int us_route_del(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		 int ifindex)
{
	uint32_t d = prefix > 32 ? 0 : ntohl(dst_be) & us_prefix_mask(prefix);
	int rc = -1;
	pthread_rwlock_wrlock(&t->lock);
	for (int i = 0; i < t->n; i++) {
		const struct us_route *r = &t->r[i];
		if (r->dst == d && r->prefix == prefix && r->gw == gw_be && r->ifindex == ifindex) {
			memmove(&t->r[i], &t->r[i + 1], (size_t)(t->n - i - 1) * sizeof t->r[0]);
			t->n--;
			rc = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc < 0)
		errno = ESRCH;
	return rc;
}

int us_route_lookup(struct us_route_table *t, uint32_t dst_be, struct us_route *out)
{
	uint32_t d = ntohl(dst_be);
	int found = -1;
	pthread_rwlock_rdlock(&t->lock);
	for (int i = 0; i < t->n; i++) {
		if ((d & us_prefix_mask(t->r[i].prefix)) == t->r[i].dst) {
			*out = t->r[i];
			found = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (found < 0)
		errno = ENETUNREACH;
	return found;
}

/* The interface whose connected subnet holds gw (network order), or -1. */
static int iface_for_gateway(struct us_stack *st, uint32_t gw)
{
	for (int i = 0; i < st->nifs; i++)
		for (int a = 0; a < st->ifs[i].naddrs; a++) {
			const struct us_cidr *c = &st->ifs[i].addrs[a];
			uint32_t m = us_prefix_mask(c->prefix);
			if ((ntohl(gw) & m) == (ntohl(c->addr.s_addr) & m))
				return i;
		}
	return -1;
}

int us_route_setup(struct us_stack *st, char *err, size_t errlen)
{
	/* Local routes first (see route.h). */
	if (us_route_add(&st->routes, htonl(0x7f000000), 8, 0, 0, US_LO_IFINDEX) < 0) {
		snprintf(err, errlen, "routing table full");
		return -1;
	}
	for (int i = 0; i < st->nifs; i++)
		for (int a = 0; a < st->ifs[i].naddrs; a++)
			if (us_route_add(&st->routes, st->ifs[i].addrs[a].addr.s_addr, 32, 0, 0,
					 US_LO_IFINDEX) < 0) {
				snprintf(err, errlen, "routing table full");
				return -1;
			}
	for (int i = 0; i < st->nifs; i++)
		for (int a = 0; a < st->ifs[i].naddrs; a++) {
			const struct us_cidr *c = &st->ifs[i].addrs[a];
			if (us_route_add(&st->routes, c->addr.s_addr, c->prefix, 0, 0, i) < 0) {
				snprintf(err, errlen, "routing table full");
				return -1;
			}
		}
	for (int r = 0; r < st->cfg.nroutes; r++) {
		const struct us_route_config *rc = &st->cfg.routes[r];
		int ifi = -1;
		if (rc->iface[0])
			ifi = us_stack_iface_index(st, rc->iface);
		else if (rc->via.s_addr)
			ifi = iface_for_gateway(st, rc->via.s_addr);
		if (ifi < 0) {
			char a[16];
			snprintf(err, errlen, "route %d: gateway %s is on no interface's subnet", r + 1,
				 inet_ntop(AF_INET, &rc->via, a, sizeof a));
			return -1;
		}
		if (us_route_add_src(&st->routes, rc->to.addr.s_addr, rc->to.prefix, rc->via.s_addr,
				     rc->metric, ifi, rc->src.s_addr) < 0) {
			snprintf(err, errlen, "routing table full");
			return -1;
		}
	}
	return 0;
}
