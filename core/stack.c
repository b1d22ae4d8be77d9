/*
 * stack.c — stack lifecycle: create, start/stop threads, free; and the
 * deterministic driver (us_stack_advance / us_stack_poll / us_stack_input).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dhcp.h"
#include "stack.h"
#include "wire/eth.h"

#define POLL_BATCH     64          /* frames taken from one backend per round */
#define ADVANCE_STEPS  1000000     /* bound on steps in one us_stack_advance() */
#define DRAIN_POLL_MS  5           /* how often a stop looks at the connections it drains
				    * (after the first 20 ms, when it looks every 1 ms) */

/* The config's static ARP entries, each on the interface its route names. */
static int add_static_arp(struct us_stack *st)
{
	for (int i = 0; i < st->cfg.narp_static; i++) {
		const struct us_arp_static *s = &st->cfg.arp_static[i];
		int ifi = 0;
		uint32_t nh = 0, src = 0;
		if (us_ipv4_route(st, s->addr.s_addr, &ifi, &nh, &src) < 0)
			ifi = 0;
		if (us_arp_add_static(&st->arp, s->addr.s_addr, s->mac, ifi) < 0)
			return -1;
	}
	return 0;
}

static struct us_netif *lo_of(struct us_stack *st)
{
	return &st->ifs[US_LO_IFINDEX];
}

/* The counter shards (stack.h): 128-byte aligned, zero. */
static int stats_alloc(struct us_stack *st)
{
	size_t ns = (size_t)(US_TSLOTS + 1) * sizeof *st->stats;
	size_t ni = (size_t)(US_MAX_IFACES + 1) * (US_TSLOTS + 1) * sizeof *st->ifstats;
	st->stats = aligned_alloc(128, ns);
	st->ifstats = aligned_alloc(128, ni);
	if (!st->stats || !st->ifstats) {
		free(st->stats);
		free(st->ifstats);
		return -1;
	}
	memset(st->stats, 0, ns);
	memset(st->ifstats, 0, ni);
	return 0;
}

static void stats_free(struct us_stack *st)
{
	free(st->stats);
	free(st->ifstats);
}

us_stack *us_stack_new(const struct us_config *cfg, unsigned flags, char *err, size_t errlen)
{
	US_API_CALL();
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (!cfg) {
		snprintf(err, errlen, "no configuration (cfg is NULL)");
		errno = EFAULT;
		return NULL;
	}
	if (us_config_validate(cfg, err, errlen) < 0)
		return NULL;
	struct us_stack *st = calloc(1, sizeof *st);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->cfg = *cfg;
	st->flags = flags;
	st->deterministic = (flags & US_STACK_DETERMINISTIC) != 0;
	st->log_level = cfg->log_level;
	us_clock_init(&st->clock, st->deterministic);
	uint64_t seed = cfg->seed_set ? cfg->seed : st->deterministic ? 1 : us_rng_os_seed();
	us_rng_init(&st->rng, seed);
	atomic_init(&st->stopping, false);
	atomic_init(&st->halt, false);

	if (stats_alloc(st) < 0) {
		snprintf(err, errlen, "out of memory for the counters");
		us_rng_destroy(&st->rng);
		free(st);
		return NULL;
	}

	uint32_t mtu_max = US_DEFAULT_MTU;
	for (int i = 0; i < cfg->nifaces; i++)
		if (cfg->ifaces[i].mtu > mtu_max)
			mtu_max = cfg->ifaces[i].mtu;
	if (us_pool_init(&st->pool, US_POOL_BUFS, ETH_HLEN + mtu_max) < 0) {
		snprintf(err, errlen, "out of memory for the buffer pool");
		us_rng_destroy(&st->rng);
		stats_free(st);
		free(st);
		return NULL;
	}
	us_wheel_init(&st->wheel, &st->clock);
	us_route_init(&st->routes);
	us_arp_init(st, &st->arp);
	if (us_ipv4_init(st, &st->ip) < 0) {
		snprintf(err, errlen, "out of memory for reassembly");
		goto fail_ip;
	}
	us_icmp_init(st, &st->icmp);
	us_udp_init(st, &st->udp);
	if (us_tcp_init(st, &st->tcp) < 0) {
		snprintf(err, errlen, "out of memory for the TCP tables");
		goto fail;
	}
	if (us_socktab_init(&st->socks, (int)st->cfg.max_sockets) < 0) {
		snprintf(err, errlen, "out of memory for the descriptor table");
		goto fail;
	}

	for (int i = 0; i < cfg->nifaces; i++) {
		if (us_netif_open(st, &st->ifs[i], i, &cfg->ifaces[i], err, errlen) < 0)
			goto fail;
		st->nifs++;
		if (cfg->ifaces[i].dhcp4 && us_dhcp_create(&st->ifs[i]) < 0) {
			snprintf(err, errlen, "%s: out of memory for the DHCP client", cfg->ifaces[i].name);
			goto fail;
		}
	}
	/* lo carries what the pool's buffers hold, as the largest interface. */
	if (us_netif_open_loopback(st, lo_of(st), mtu_max, err, errlen) < 0)
		goto fail;
	if (us_route_setup(st, err, errlen) < 0)
		goto fail;
	if (add_static_arp(st) < 0) {
		snprintf(err, errlen, "too many static ARP entries");
		goto fail;
	}
	memcpy(st->rng_at_new, st->rng.s, sizeof st->rng_at_new);
	return st;

fail:
	for (int i = 0; i < st->nifs; i++) {
		us_dhcp_destroy(&st->ifs[i]);
		us_netif_close(&st->ifs[i]);
	}
	if (lo_of(st)->link.ops)
		us_netif_close(lo_of(st));
	if (st->socks.slot)
		us_socktab_destroy(st);
	us_tcp_destroy(&st->tcp);
	us_udp_destroy(&st->udp);
	us_icmp_destroy(&st->icmp);
	us_ipv4_destroy(&st->ip);
fail_ip:
	us_arp_destroy(&st->arp);
	us_route_destroy(&st->routes);
	us_wheel_destroy(&st->wheel);
	us_pool_destroy(&st->pool);
	us_rng_destroy(&st->rng);
	stats_free(st);
	free(st);
	return NULL;
}

static void *timer_main(void *arg)
{
	struct us_stack *st = arg;
	us_wheel_loop(&st->wheel);
	return NULL;
}

static void bring_up(struct us_stack *st)
{
	st->up = true;
	for (int i = 0; i < st->nifs; i++) {
		us_arp_announce(&st->ifs[i]);
		if (st->ifs[i].dhcp)
			us_dhcp_start(&st->ifs[i]);
	}
}

int us_stack_start(us_stack *st)
{
	US_API_CALL();
	US_API_LIVE(st, -1);    /* no restart after us_stack_stop (doc/API.md) */
	if (st->deterministic) {
		errno = EINVAL;
		return -1;
	}
	if (st->timer_started) {
		errno = EALREADY;
		return -1;
	}
	int rc = pthread_create(&st->timer_thread, NULL, timer_main, st);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	st->timer_started = true;
	pthread_setname_np(st->timer_thread, "us-timer");
	if (us_netif_start_rx(lo_of(st)) < 0) {
		int e = errno;
		us_stack_stop(st);
		errno = e;
		return -1;
	}
	for (int i = 0; i < st->nifs; i++)
		if (us_netif_start_rx(&st->ifs[i]) < 0) {
			int e = errno;
			us_stack_stop(st);
			errno = e;
			return -1;
		}
	bring_up(st);
	return 0;
}

int us_stack_up(us_stack *st)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	if (!st->deterministic) {
		errno = EINVAL;
		return -1;
	}
	bring_up(st);
	return 0;
}

/*
 * Let the TCP connections the application closed deliver their data and
 * FIN (doc/API.md, "Stopping"), for at most stack.drain_timeout_ms, while
 * the receive and timer threads still run; reset those left. Looked at
 * every DRAIN_POLL_MS: this runs once, at exit.
 */
static void drain_closed(struct us_stack *st)
{
	if (st->deterministic || !st->timer_started)
		return;         /* no threads: nothing would move them on */
	uint64_t ms = st->cfg.drain_timeout_ms;
	if (ms > US_MAX_DRAIN_TIMEOUT_MS)
		ms = US_MAX_DRAIN_TIMEOUT_MS;
	uint64_t end = us_monotonic_ns() + ms * US_NS_PER_MS;
	for (int i = 0; us_tcp_drain_pending(st, false) > 0 && us_monotonic_ns() < end; i++) {
		/* Every millisecond at first: a FIN is usually acknowledged
		 * within a round trip, and an exit should not wait longer. */
		struct timespec ts = { 0, (i < 20 ? 1 : DRAIN_POLL_MS) * 1000000L };
		nanosleep(&ts, NULL);
	}
	us_tcp_drain_pending(st, true);
}

void us_stack_stop(us_stack *st)
{
	US_API_CALL();
	if (!atomic_exchange(&st->stopping, true)) {
		/* From here the API refuses calls and blocked callers return
		 * ESHUTDOWN at once; closed connections then get their time. */
		us_icmp_stop(&st->icmp);
		us_socktab_wake_all(st);
		drain_closed(st);
		/* Leases are released while the threads still run (dhcp.c). */
		for (int i = 0; i < st->nifs; i++)
			if (st->ifs[i].dhcp)
				us_dhcp_stop(&st->ifs[i]);
	}
	atomic_store(&st->halt, true);
	for (int i = 0; i < st->nifs; i++)
		us_netif_stop_rx(&st->ifs[i]);
	us_netif_stop_rx(lo_of(st));
	if (st->timer_started) {
		us_wheel_stop(&st->wheel);
		pthread_join(st->timer_thread, NULL);
		st->timer_started = false;
	}
	us_icmp_stop(&st->icmp);
	us_socktab_wake_all(st);
}

void us_stack_free(us_stack *st)
{
	US_API_CALL();
	if (!st)
		return;
	us_stack_stop(st);
	us_socktab_destroy(st);
	us_tcp_destroy(&st->tcp);
	us_udp_destroy(&st->udp);
	us_icmp_destroy(&st->icmp);
	us_ipv4_destroy(&st->ip);
	us_arp_destroy(&st->arp);
	for (int i = 0; i < st->nifs; i++) {
		us_dhcp_destroy(&st->ifs[i]);
		us_netif_close(&st->ifs[i]);
	}
	us_netif_close(lo_of(st));
	us_route_destroy(&st->routes);
	us_wheel_destroy(&st->wheel);
	us_pool_destroy(&st->pool);
	us_rng_destroy(&st->rng);
	stats_free(st);
	free(st);
}

/*
 * Deterministic mode only. Ends what is left as us_stack_free() does
 * (descriptors closed, orphan connections ended), then builds the
 * per-connection and per-protocol state again in us_stack_new()'s order
 * from the same seed: clock back to its start, counters 0, the same random draws, ARP
 * cache back to the static entries, reassembly empty. What is kept: the
 * interfaces (backends stay open; frames already on a wire stay there),
 * the routes (made from the config) and the buffer pool (buffers still
 * held are freed by the teardown, as by us_stack_free()). Lets a fuzzer
 * or a test run many independent scenarios on one stack (building one
 * costs milliseconds, tens under AddressSanitizer).
 */
int us_stack_reset(us_stack *st)
{
	if (!st->deterministic) {
		errno = EINVAL;
		return -1;
	}
	/* End everything, as us_stack_free() does; the descriptor table and
	 * the reassembly memory stay (allocating them again costs the most). */
	us_socktab_close_all(st);
	us_tcp_destroy(&st->tcp);
	us_udp_destroy(&st->udp);
	us_icmp_destroy(&st->icmp);
	us_timer_cancel_sync(&st->wheel, &st->ip.reasm_timer);
	for (int i = 0; i < st->nifs; i++)
		if (st->ifs[i].dhcp) {
			us_timer_cancel_sync(&st->wheel, &st->ifs[i].dhcp->timer);
			us_dhcp_reset(&st->ifs[i]);
		}
	us_arp_destroy(&st->arp);
	us_wheel_destroy(&st->wheel);
	us_rng_destroy(&st->rng);
	/*
	 * Frames still on lo belong to the old run: discard them, all due once
	 * the clock is pushed to the far future (lo has no impairments, so
	 * nothing else of its queue differs from a new one). Reopening lo
	 * instead costs a 9 MB queue: a third of a reset under ASan.
	 */
	struct us_netif *lo = lo_of(st);
	uint8_t junk[US_MAX_MTU + 14];
	us_clock_set(&st->clock, UINT64_MAX / 2);
	while (lo->link.ops && lo->link.ops->recv(&lo->link, junk, sizeof junk, 0) > 0)
		;

	/* Build again, drawing from the generator in us_stack_new()'s order. */
	st->up = false;
	us_clock_init(&st->clock, true);
	us_rng_init(&st->rng, st->cfg.seed_set ? st->cfg.seed : 1);
	us_stats_zero(st);
	us_wheel_init(&st->wheel, &st->clock);
	us_arp_init(st, &st->arp);
	us_ipv4_reset(st, &st->ip);
	us_icmp_init(st, &st->icmp);
	us_udp_init(st, &st->udp);
	if (us_tcp_init(st, &st->tcp) < 0)
		abort();        /* 2 KiB: us_stack_new() had it a moment ago */
	if (add_static_arp(st) < 0)
		abort();        /* us_stack_new() added the same entries */
	/* us_stack_new() drew more for the interfaces: continue where it did. */
	memcpy(st->rng.s, st->rng_at_new, sizeof st->rng_at_new);
	return 0;
}

uint64_t us_stack_now(const us_stack *st)
{
	return us_clock_now(&st->clock);
}

int us_stack_timer_stats(us_stack *st, struct us_timer_stats *out)
{
	if (!st || !out) {
		errno = EINVAL;
		return -1;
	}
	memset(out, 0, sizeof *out);
	us_wheel_counts(&st->wheel, &out->armed, &out->ops, &out->fired, &out->wakeups);
	clockid_t cid;
	struct timespec ts;
	if (st->timer_started && pthread_getcpuclockid(st->timer_thread, &cid) == 0 &&
	    clock_gettime(cid, &ts) == 0)
		out->cpu_ns = (uint64_t)ts.tv_sec * US_NS_PER_SEC + (uint64_t)ts.tv_nsec;
	return 0;
}

int us_stack_poll(us_stack *st)
{
	US_API_CALL();
	int total = 0;
	for (int round = 0; round < 1000; round++) {
		int n = 0;
		for (int i = 0; i < st->nifs; i++)
			n += us_netif_poll(&st->ifs[i], POLL_BATCH);
		n += us_netif_poll(lo_of(st), POLL_BATCH);
		n += us_wheel_run(&st->wheel, us_now(st));
		total += n;
		if (n == 0)
			break;
	}
	return total;
}

/* Earliest time anything is due: a timer, or a frame from a backend. */
static uint64_t next_event(struct us_stack *st)
{
	uint64_t next = us_wheel_next(&st->wheel);
	for (int i = 0; i <= st->nifs; i++) {
		struct us_netif *nif = i < st->nifs ? &st->ifs[i] : lo_of(st);
		struct us_link *l = &nif->link;
		if (l->ops->next_ready && !nif->link_eof) {
			uint64_t t = l->ops->next_ready(l);
			if (t < next)
				next = t;
		}
	}
	return next;
}

void us_stack_advance(us_stack *st, uint64_t ns)
{
	US_API_CALL();
	uint64_t target = us_now(st) + ns;
	for (int step = 0; step < ADVANCE_STEPS; step++) {
		us_stack_poll(st);
		uint64_t next = next_event(st);
		if (next > target)
			break;
		if (next <= us_now(st)) {
			/* Due now yet nothing was processed: avoid spinning. */
			if (us_stack_poll(st) == 0)
				break;
			continue;
		}
		us_clock_set(&st->clock, next);
	}
	us_clock_set(&st->clock, target);
	us_stack_poll(st);
}

int us_stack_input(us_stack *st, int ifindex, const void *frame, size_t len)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	if (ifindex < 0 || ifindex >= st->nifs) {
		errno = ENODEV;
		return -1;
	}
	if (!frame && len) {
		errno = EFAULT;
		return -1;
	}
	struct us_netif *nif = &st->ifs[ifindex];
	pthread_mutex_lock(&nif->rx_lock);     /* the caller is the queue's consumer now */
	us_netif_input(nif, frame, len);
	pthread_mutex_unlock(&nif->rx_lock);
	return 0;
}

int us_stack_nifaces(const us_stack *st)
{
	return st->nifs;
}

int us_stack_iface_mac(const us_stack *st, int ifindex, uint8_t mac[6])
{
	if (ifindex < 0 || ifindex >= st->nifs) {
		errno = ENODEV;
		return -1;
	}
	if (!mac) {
		errno = EFAULT;
		return -1;
	}
	memcpy(mac, st->ifs[ifindex].mac, 6);
	return 0;
}

int us_stack_iface_index(const us_stack *st, const char *name)
{
	for (int i = 0; i < st->nifs; i++)
		if (strcmp(st->ifs[i].name, name) == 0)
			return i;
	/* During setup nifs may not count them all yet: fall back to config. */
	for (int i = 0; i < st->cfg.nifaces; i++)
		if (strcmp(st->cfg.ifaces[i].name, name) == 0)
			return i;
	if (strcmp(name, "lo") == 0)
		return US_LO_IFINDEX;   /* the built-in one, unless the config named one so */
	return -1;
}
