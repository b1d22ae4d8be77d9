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

	_Atomic uint64_t stats[US_STAT__COUNT];  /* relaxed atomic counters */

	/* Lifecycle: changed only by the thread calling start/stop/free. */
	pthread_t timer_thread;
	bool timer_started;
	bool up;
	_Atomic bool stopping;          /* set by us_stack_stop: the API refuses calls (ESHUTDOWN) */
	_Atomic bool halt;              /* set once closed connections are drained: receive threads end */
};

#define US_STAT_INC(st, id) \
	atomic_fetch_add_explicit(&(st)->stats[US_STAT_##id], 1, memory_order_relaxed)
#define US_STAT_ADD(st, id, n) \
	atomic_fetch_add_explicit(&(st)->stats[US_STAT_##id], (n), memory_order_relaxed)

#define US_IFSTAT_INC(nif, id) \
	atomic_fetch_add_explicit(&(nif)->stats[US_IFSTAT_##id], 1, memory_order_relaxed)
#define US_IFSTAT_ADD(nif, id, n) \
	atomic_fetch_add_explicit(&(nif)->stats[US_IFSTAT_##id], (n), memory_order_relaxed)

static inline uint64_t us_now(const struct us_stack *st) { return us_clock_now(&st->clock); }

#endif
