/*
 * stack.h — struct us_stack, the one object that owns everything.
 *
 * Locks: each lock says at its declaration what it protects. The lock
 * order, and which thread takes which lock, are written in one place only:
 * doc/LOCKING.md. In short: the descriptor table's lock is held alone; an
 * interface's rx_lock is taken holding nothing and the input path runs
 * under it; a child connection's lock -> its listener's; a socket's lock
 * -> the UDP or TCP table lock, or the IP output path; the transmit path
 * ends in netif.tx_lock -> capture -> backend queue; pool, rng and wheel
 * locks are leaves (arming a timer under a protocol lock is allowed).
 */
#ifndef US_STACK_H
#define US_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "arp.h"
#include "buf.h"
#include "clock.h"
#include "icmp.h"
#include "ipv4.h"
#include "log.h"
#include "netif.h"
#include "rng.h"
#include "route.h"
#include "socket.h"
#include "tcp.h"
#include "timer.h"
#include "tslot.h"
#include "udp.h"
#include "ustack/ustack.h"

#define US_POOL_BUFS 4096          /* packet buffers per stack */

struct us_stack {
	/* Fixed after us_stack_new(): read without locks. */
	struct us_config cfg;
	unsigned flags;
	bool deterministic;
	enum us_log_level log_level;
	struct us_clock clock;
	int nifs;

	struct us_rng rng;              /* own lock */
	uint64_t rng_at_new[4];         /* rng.s when us_stack_new() returned (us_stack_reset) */
	struct us_buf_pool pool;        /* own lock */
	struct us_timer_wheel wheel;    /* own lock */
	struct us_netif ifs[US_MAX_IFACES + 1];  /* [0, nifs): config order; [US_LO_IFINDEX]: lo */
	struct us_route_table routes;   /* own rwlock */
	struct us_arp arp;              /* own lock */
	struct us_ipv4 ip;              /* reassembly lock; atomics for IDs */
	struct us_icmp icmp;            /* own lock */
	struct us_udp udp;              /* own lock */
	struct us_tcp tcp;              /* tables: own rwlock; each connection under its socket's lock */
	struct us_socktab socks;        /* descriptor table: own rwlock; each socket its own mutex */

	/*
	 * Counters, one shard per thread slot (core/tslot.h): shard k is
	 * written only by the thread owning slot k (relaxed load + store),
	 * shard US_TSLOT_SHARED by every thread without a slot (relaxed
	 * atomic add); readers (us_stack_stats) sum the US_TSLOTS + 1 shards.
	 * Allocated 128-byte aligned at us_stack_new(): no two threads'
	 * shards on one cache line (or one adjacent-line prefetch pair).
	 */
	struct us_stat_shard *stats;
	struct us_ifstat_shard *ifstats;  /* interface i's shard k: [i * (US_TSLOTS + 1) + k] */

	/* Lifecycle: changed only by the thread calling start/stop/free. */
	pthread_t timer_thread;
	bool timer_started;
	bool up;
	_Atomic bool stopping;          /* set by us_stack_stop: the API refuses calls (ESHUTDOWN) */
	_Atomic bool halt;              /* set once closed connections are drained: receive threads end */
};

struct us_stat_shard {
	_Atomic uint64_t v[US_STAT__COUNT];
} __attribute__((aligned(128)));

static inline void us_stat_add_(struct us_stat_shard *sh, unsigned id, uint64_t n)
{
	unsigned s = us_tslot();
	us_tslot_add(&sh[s].v[id], s, n);
}

static inline void us_ifstat_add_(struct us_ifstat_shard *sh, unsigned id, uint64_t n)
{
	unsigned s = us_tslot();
	us_tslot_add(&sh[s].v[id], s, n);
}

#define US_STAT_INC(st, id) us_stat_add_((st)->stats, US_STAT_##id, 1)
#define US_STAT_ADD(st, id, n) us_stat_add_((st)->stats, US_STAT_##id, (n))

#define US_IFSTAT_INC(nif, id) us_ifstat_add_((nif)->stats, US_IFSTAT_##id, 1)
#define US_IFSTAT_ADD(nif, id, n) us_ifstat_add_((nif)->stats, US_IFSTAT_##id, (n))

/* Sum of counter id over every shard (a snapshot: relaxed loads). */
uint64_t us_stat_sum(const struct us_stack *st, enum us_stat_id id);
/* Zero every counter of the stack and its interfaces (us_stack_reset). */
void us_stats_zero(struct us_stack *st);

static inline uint64_t us_now(const struct us_stack *st) { return us_clock_now(&st->clock); }

#endif
