/*
 * route.c — the routing table (see route.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockassert.h"

#include "stack.h"

static struct us_route_snap *snap_new(int cap)
{
	struct us_route_snap *n = malloc(sizeof *n + (size_t)cap * sizeof n->r[0]);
	if (n) {
		n->gen = 1;
		n->n = 0;
		n->retired_next = NULL;
	}
	return n;
}

void us_route_init(struct us_route_table *t)
{
	pthread_mutex_init(&t->wlock, NULL);
	atomic_init(&t->cur, snap_new(0));
	t->retired = NULL;
}

void us_route_destroy(struct us_route_table *t)
{
	free(atomic_load_explicit(&t->cur, memory_order_relaxed));
	atomic_store_explicit(&t->cur, NULL, memory_order_relaxed);
	while (t->retired) {
		struct us_route_snap *o = t->retired;
		t->retired = o->retired_next;
		free(o);
	}
	pthread_mutex_destroy(&t->wlock);
}

/* With wlock: make next (a copy of the current, edited) the table. */
static void publish(struct us_route_table *t, struct us_route_snap *next)
{
	US_ASSERT_LOCKED(&t->wlock);
	struct us_route_snap *old = atomic_load_explicit(&t->cur, memory_order_relaxed);
	next->gen = old ? old->gen + 1 : 1;
	if (next->gen == 0)
		next->gen = 1;
	atomic_store_explicit(&t->cur, next, memory_order_release);
	if (old) {
		old->retired_next = t->retired;
		t->retired = old;
	}
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
	pthread_mutex_lock(&t->wlock);
	const struct us_route_snap *old = atomic_load_explicit(&t->cur, memory_order_relaxed);
	int n = old ? old->n : 0;
	if (n == US_ROUTES_MAX) {
		pthread_mutex_unlock(&t->wlock);
		errno = ENOSPC;
		return -1;
	}
	struct us_route_snap *next = snap_new(n + 1);
	if (!next) {
		pthread_mutex_unlock(&t->wlock);
		errno = ENOMEM;
		return -1;
	}
	int i = n;
	while (i > 0 && before(&r, &old->r[i - 1])) {
		next->r[i] = old->r[i - 1];
		i--;
	}
	next->r[i] = r;
	if (i > 0)
		memcpy(next->r, old->r, (size_t)i * sizeof r);
	next->n = n + 1;
	publish(t, next);
	pthread_mutex_unlock(&t->wlock);
	return 0;
}

int us_route_del(struct us_route_table *t, uint32_t dst_be, uint8_t prefix, uint32_t gw_be,
		 int ifindex)
{
	uint32_t d = prefix > 32 ? 0 : ntohl(dst_be) & us_prefix_mask(prefix);
	int rc = -1;
	pthread_mutex_lock(&t->wlock);
	const struct us_route_snap *old = atomic_load_explicit(&t->cur, memory_order_relaxed);
	for (int i = 0; old && i < old->n; i++) {
		const struct us_route *r = &old->r[i];
		if (r->dst == d && r->prefix == prefix && r->gw == gw_be && r->ifindex == ifindex) {
			struct us_route_snap *next = snap_new(old->n - 1);
			if (!next) {
				pthread_mutex_unlock(&t->wlock);
				errno = ENOMEM;
				return -1;
			}
			memcpy(next->r, old->r, (size_t)i * sizeof *r);
			memcpy(next->r + i, old->r + i + 1, (size_t)(old->n - i - 1) * sizeof *r);
			next->n = old->n - 1;
			publish(t, next);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&t->wlock);
	if (rc < 0)
		errno = ESRCH;
	return rc;
}

uint32_t us_route_gen(struct us_route_table *t)
{
	const struct us_route_snap *s = atomic_load_explicit(&t->cur, memory_order_acquire);
	return s ? s->gen : 1;
}

int us_route_lookup_gen(struct us_route_table *t, uint32_t dst_be, struct us_route *out,
			uint32_t *gen)
{
	uint32_t d = ntohl(dst_be);
	const struct us_route_snap *s = atomic_load_explicit(&t->cur, memory_order_acquire);
	*gen = s ? s->gen : 1;
	for (int i = 0; s && i < s->n; i++) {
		if ((d & us_prefix_mask(s->r[i].prefix)) == s->r[i].dst) {
			*out = s->r[i];
			return 0;
		}
	}
	errno = ENETUNREACH;
	return -1;
}

int us_route_lookup(struct us_route_table *t, uint32_t dst_be, struct us_route *out)
{
	uint32_t gen;
	return us_route_lookup_gen(t, dst_be, out, &gen);
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
