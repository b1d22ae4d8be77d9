/*
 * ustack.h — the header a user of ustack includes.
 *
 * A stack (us_stack) is made from a struct us_config (ustack/config.h),
 * then either started with its own threads (one receive thread per
 * interface, one timer thread) or driven by the caller in deterministic
 * mode: the caller advances a virtual clock and the stack polls its
 * backends, so that the same input gives byte-identical output.
 *
 * Functions return -1 and set errno on failure unless said otherwise.
 * Every call disables thread cancellation while it runs (doc/API.md,
 * "Threads and cancellation"): cancelling a thread inside one never leaves
 * a lock of the stack held.
 */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include "ustack/config.h"
#include "ustack/stats.h"
#include "ustack/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct us_stack us_stack;

/* Flags for us_stack_new(). */
#define US_STACK_DETERMINISTIC 0x1  /* no threads, virtual clock, seeded rng */
#define US_STACK_TRACE_FRAMES  0x2  /* log one line per frame in and out (-v) */

/*
 * Create a stack and open every interface's backend. Nothing runs yet.
 * On failure returns NULL and writes a message into err.
 */
us_stack *us_stack_new(const struct us_config *cfg, unsigned flags, char *err, size_t errlen);

/*
 * Threaded mode: start the receive and timer threads; send gratuitous ARP.
 * EALREADY if it runs already; ESHUTDOWN after us_stack_stop (a stack is
 * not restarted: make a new one).
 */
int us_stack_start(us_stack *st);

/*
 * Stop: wake every thread blocked in the stack's API (they return -1 with
 * errno ESHUTDOWN; from then on every call fails with ESHUTDOWN except
 * those that release things, us_close and us_ping_close), let the TCP
 * connections the application closed deliver their data and FIN for up to
 * cfg.drain_timeout_ms (reset those left), then stop the threads
 * (threaded mode). doc/API.md, "Stopping". Safe to call twice.
 */
void us_stack_stop(us_stack *st);

/* Stop if needed (closed connections are drained first), close backends,
 * free everything. */
void us_stack_free(us_stack *st);

/* Current time on the stack's clock, nanoseconds (monotonic or virtual). */
uint64_t us_stack_now(const us_stack *st);

/*
 * Deterministic mode. us_stack_up() does what us_stack_start() does without
 * threads (gratuitous ARP). us_stack_advance() moves the virtual clock
 * forward by ns, in steps that stop at every timer deadline and every
 * frame due from a backend, processing both in time order.
 * us_stack_poll() processes every frame the backends have ready now and
 * every timer due now; it returns how many events it handled.
 * us_stack_input() hands the stack one frame as if it arrived on the
 * interface with index ifindex (0-based, in config order).
 */
int us_stack_up(us_stack *st);
void us_stack_advance(us_stack *st, uint64_t ns);
int us_stack_poll(us_stack *st);
int us_stack_input(us_stack *st, int ifindex, const void *frame, size_t len);
/*
 * Deterministic mode: close every descriptor, end every connection, and
 * bring the stack back to the state us_stack_new() left it in (clock back to its start,
 * counters 0, same random draws, ARP cache of static entries only), keeping
 * its interfaces, routes and buffer pool. Call us_stack_up() again after.
 * -1 with EINVAL on a threaded stack.
 */
int us_stack_reset(us_stack *st);

/*
 * Interfaces, by 0-based index in config order. The built-in loopback
 * interface "lo" is not among them (us_stack_nifaces does not count it);
 * us_stack_iface_index(st, "lo") gives its index, unless the config named
 * an interface "lo", for us_stack_iface_stats and us_ping_bind.
 */
int us_stack_nifaces(const us_stack *st);
int us_stack_iface_mac(const us_stack *st, int ifindex, uint8_t mac[6]);
int us_stack_iface_index(const us_stack *st, const char *name);

/*
 * DHCP (an interface with dhcp4: true; doc/CONFIG.md "DHCP"). The lease
 * an interface holds now: state is the client's ("selecting",
 * "requesting", "probing", "bound", "renewing", "rebinding", "declined",
 * "stopped"); the rest is zero while it holds none. -1 with ENODEV for a
 * bad index, EINVAL for an interface without DHCP.
 */
struct us_dhcp_lease {
	char state[16];
	struct us_cidr addr;            /* address and prefix (option 1) */
	struct in_addr router;          /* option 3's first, 0 if none usable */
	struct in_addr server;          /* option 54 */
	struct in_addr dns[US_MAX_NAMESERVERS];  /* option 6 */
	int ndns;
	uint32_t lease_s, t1_s, t2_s;   /* options 51, 58, 59 (or their defaults) */
};
int us_stack_dhcp_lease(us_stack *st, int ifindex, struct us_dhcp_lease *out);
/*
 * Threaded mode: wait until every DHCP interface holds a lease, at most
 * timeout_ms. 0, or -1 with ETIMEDOUT (or ESHUTDOWN once stopping;
 * EINVAL in deterministic mode). No DHCP interface: 0 at once.
 */
int us_stack_dhcp_wait(us_stack *st, int timeout_ms);

/*
 * The timer thread's work (doc/API.md "Timer statistics"): timers armed in
 * the wheel now; since the stack was made, wheel operations (arm, cancel
 * and armed checks, one wheel lock acquisition each), timer callbacks run
 * and timer-thread wake-ups; and the timer thread's CPU time in ns (its
 * thread CPU clock; 0 when it does not run: deterministic mode, or not
 * started). 0, or -1 with EINVAL for a NULL argument.
 */
struct us_timer_stats {
	uint64_t armed, ops, fired, wakeups, cpu_ns;
};
int us_stack_timer_stats(us_stack *st, struct us_timer_stats *out);

/* Counters (ustack/stats.h): a consistent-enough snapshot, each read atomically. */
void us_stack_stats(const us_stack *st, uint64_t out[US_STAT__COUNT]);
uint64_t us_stack_stat(const us_stack *st, enum us_stat_id id);
/* One interface's counters; -1 EINVAL for a bad index. */
int us_stack_iface_stats(const us_stack *st, int ifindex, uint64_t out[US_IFSTAT__COUNT]);
/*
 * Frames received on each queue of the interface (a multiqueue TAP/TUN,
 * `queues: N`) into out[0..N-1]; returns N (1 for other interfaces), or
 * -1 EINVAL for a bad index.
 */
int us_stack_iface_queue_frames(const us_stack *st, int ifindex, uint64_t out[US_MAX_QUEUES]);
/*
 * Print every counter, grouped by layer, in the style of netstat -s, then
 * each interface's ("interface eth0:" blocks, as ip -s link; the built-in
 * "interface lo:" last; a multiqueue interface adds one "frames received
 * on queue K" line per queue).
 */
void us_stack_stats_print(const us_stack *st, FILE *out);
/*
 * Print every socket, as `ss -tuan` does: Netid, State, Recv-Q, Send-Q,
 * local and peer address:port; TCP connections the application closed
 * but the stack still finishes (FIN_WAIT, TIME_WAIT, ...) and embryonic
 * ones (SYN-RECV) included. For listeners Recv-Q is the accept queue and
 * Send-Q the backlog, as ss shows them. The last line is
 * "# end of socket listing (N rows)", N the rows above it (not counting
 * each connection's indented TCP_INFO line).
 */
void us_stack_sockets_print(us_stack *st, FILE *out);

/*
 * ICMP echo (ping). An echo endpoint is like a Linux ping socket: it owns an
 * ICMP identifier and receives the replies carrying it, plus errors about
 * its requests (destination unreachable, time exceeded, and EHOSTUNREACH
 * when ARP resolution of the next hop fails).
 */
struct us_echo_reply {
	struct in_addr from;    /* who answered (or reported the error) */
	uint16_t seq;
	uint8_t ttl;            /* TTL of the reply's IP header */
	uint8_t icmp_type;      /* 0 echo reply, 3 unreachable, 11 time exceeded */
	uint8_t icmp_code;
	int error;              /* 0 for a reply, else EHOSTUNREACH, ENETUNREACH, ... */
	size_t len;             /* ICMP payload length (excludes the 8-byte header) */
	uint64_t recv_ns;       /* stack clock when it arrived */
};

/* Open an endpoint; *id receives its ICMP identifier. Returns a handle >= 0. */
int us_ping_open(us_stack *st, uint16_t *id);
/* Send an echo request of len payload bytes (fragmented above the MTU). */
int us_ping_send(us_stack *st, int h, struct in_addr dst, uint16_t seq, uint8_t ttl,
		 const void *payload, size_t len);
/*
 * Like ping -I: send this endpoint's requests out of interface ifindex
 * (-1: wherever the route says) and/or from address src (0: the
 * interface's or the route's). ENODEV for a bad index, EADDRNOTAVAIL for
 * an address that is not the stack's.
 */
int us_ping_bind(us_stack *st, int h, int ifindex, struct in_addr src);
/*
 * The source address a request to dst would carry now (what ping learns
 * from its connect() probe); ENETUNREACH when no route leads there.
 */
int us_ping_source(us_stack *st, int h, struct in_addr dst, struct in_addr *src);
/* Wait up to timeout_ms (-1 forever) for a reply or error. ETIMEDOUT, ESHUTDOWN. */
int us_ping_recv(us_stack *st, int h, struct us_echo_reply *rep, void *payload, size_t cap,
		 int timeout_ms);
void us_ping_close(us_stack *st, int h);

#ifdef __cplusplus
}
#endif
#endif /* USTACK_USTACK_H */
