/*
 * netif.h — one network interface: its addresses, its backend, its
 * receive thread, and the transmit path every layer ends in.
 *
 * Addresses, MAC and MTU are fixed when the stack is created and read
 * without locks afterwards; the one exception is the address a DHCP
 * client leases (core/dhcp.c), held in one atomic word (lease) that
 * readers load once, so it can come and go while packets flow.
 */
#ifndef US_NETIF_H
#define US_NETIF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "link.h"
#include "ustack/stats.h"
#include "ustack/config.h"

struct us_stack;
struct us_netif;

/*
 * Queues 1..N-1 of a multiqueue TAP/TUN interface (`queues: N`); queue 0
 * is the interface's own link, tx_lock, rx_lock and rx_thread. Each
 * queue follows the same rules as queue 0: one consumer at a time under
 * its rx_lock (its receive thread or a busy poller), sends under its
 * tx_lock.
 */
struct us_netq {
	struct us_link link;            /* recv: under rx_lock; send: under tx_lock */
	pthread_mutex_t tx_lock;        /* protects link.ops->send of this queue */
	pthread_mutex_t rx_lock;        /* this queue's consumer */
	pthread_t rx_thread;
	bool rx_started;
};

/* What a queue's receive thread is given, and its frame counter. Each is
 * written by one queue's consumer: 64 bytes apart, never on one cache
 * line (padded, not aligned: the stack is malloc'd). */
struct us_netq_rx {
	struct us_netif *nif;
	int qi;
	/* Receive thread only (rx_turn): frames have been arriving one per
	 * wake-up, so a wake-up reads one and does not look for a second
	 * (an empty read is a system call); probe counts down to the
	 * wake-up that looks again. */
	bool single;
	uint8_t probe;
	_Atomic uint64_t frames;        /* frames received on this queue (relaxed) */
	uint8_t pad[64 - sizeof(void *) - 2 * sizeof(uint64_t)];
};
_Static_assert(sizeof(struct us_netq_rx) == 64, "one queue counter per 64 bytes");

/*
 * The built-in loopback interface "lo" (see us_netif_open_loopback) lives
 * at this index of us_stack.ifs[], after the configured ones and outside
 * us_stack.nifs, so loops over the configured interfaces never meet it
 * while routes and us_ip_tx.ifindex name it like any other.
 */
#define US_LO_IFINDEX US_MAX_IFACES

/* One thread slot's counters of one interface (core/tslot.h). */
struct us_ifstat_shard {
	_Atomic uint64_t v[US_IFSTAT__COUNT];
} __attribute__((aligned(128)));

struct us_netif {
	struct us_stack *st;
	int index;                      /* 0-based, config order */
	char name[US_IFNAME_MAX];
	uint8_t mac[6];
	uint32_t mtu;                   /* IP MTU: excludes the Ethernet header */
	struct us_cidr addrs[US_MAX_ADDRS];
	int naddrs;
	bool loopback;                  /* the built-in lo: no ARP, counted as "lo" */
	/*
	 * The DHCP lease's address (dhcp4: true): 0 = none, else the address
	 * (network order) in the low 32 bits and the prefix length above.
	 * Written by the DHCP client only (under its lock), read anywhere
	 * with us_netif_lease(): one atomic load gives a consistent pair.
	 */
	_Atomic uint64_t lease;
	struct us_dhcp *dhcp;           /* the DHCP client of this interface, or NULL */
	bool forwarding;                /* IPv4 arriving here for another host is forwarded
					 * (RFC 1812; ipv4.c); interface's forwarding:, else
					 * the stack's */

	struct us_link link;            /* recv: under rx_lock (receive thread, or a busy
					 * poller, or the deterministic driver); send: under tx_lock */
	pthread_mutex_t tx_lock;        /* protects link.ops->send and the capture's order of tx frames */
	/*
	 * The receive queue has one consumer at a time: rx_lock is held by
	 * whoever takes frames from link.recv and runs the input path for
	 * them, from the read until the input is done, so the frames of one
	 * flow are processed in the order they arrived. A busy poller takes
	 * it with a trylock (like Linux's busy poller owning the NAPI
	 * instance); the receive thread waits for a frame (link.wait) without
	 * it, then parks on it while a busy poller owns the queue. Outermost
	 * lock of the input path: taken holding no other lock.
	 */
	pthread_mutex_t rx_lock;
	struct us_capture *capture;     /* NULL if none; has its own lock */

	struct us_ifstat_shard *stats;  /* this interface's counters, one shard per thread
					 * slot (part of us_stack.ifstats; see us_stack.stats) */

	pthread_t rx_thread;
	bool rx_started;
	int nqueues;                    /* 1, or the multiqueue TAP's `queues:`; fixed */
	struct us_netq *xq;             /* queues 1..nqueues-1 (NULL if one queue); fixed */
	struct us_netq_rx rxq[US_MAX_QUEUES];
	bool link_eof;                  /* pcap-file input exhausted: deterministic driver only */
};

/* Open the backend and capture; fill mac, mtu, addrs. */
int us_netif_open(struct us_stack *st, struct us_netif *nif, int index,
		  const struct us_iface_config *cfg, char *err, size_t errlen);
void us_netif_close(struct us_netif *nif);
/*
 * Open the built-in loopback interface at ifs[US_LO_IFINDEX]: name "lo",
 * 127.0.0.1/8, MAC 00:00:00:00:00:00 (as Linux's lo), IP MTU mtu, on the
 * in-process loopback backend (backends/pair.c). Draws nothing from the
 * stack's generator, so deterministic runs are unchanged by it.
 */
int us_netif_open_loopback(struct us_stack *st, struct us_netif *nif, uint32_t mtu, char *err,
			   size_t errlen);

/* Send a complete Ethernet frame in b and free b. 0 or -errno. */
int us_netif_tx(struct us_netif *nif, struct us_buf *b);
/*
 * Offloaded frames (netif_offload.c): b carries csum_start, gso_size or
 * frags (buf.h). Under the tx_lock of l, the interface's link or one of
 * its queues': send through the backend's sendv (or
 * complete the checksum and send), and show capture/trace the segments
 * the device will make, checksums complete (emit is called per segment).
 */
int us_netif_send_offloaded(struct us_netif *nif, struct us_link *l, struct us_buf *b);
void us_netif_observe_offloaded(struct us_netif *nif, const struct us_buf *b,
				void (*emit)(struct us_netif *, const uint8_t *, size_t));
/* Bytes of the frame in b, borrowed payload included. */
size_t us_netif_frame_len(const struct us_buf *b);
/* Build an Ethernet header in front of b's payload, then us_netif_tx. */
int us_netif_tx_eth(struct us_netif *nif, struct us_buf *b, const uint8_t dst[6], uint16_t type);

/*
 * Send IP packet b (data at the IP header) to next hop nh on nif: through
 * ARP on a wire interface; on lo straight into its queue, from which its
 * receive thread (or us_stack_poll in deterministic mode) delivers it, as
 * Linux's loopback_xmit -> netif_rx backlog does: never synchronously,
 * so a sender holding a socket lock never re-enters the input path.
 * Takes ownership of b. 0 or -errno.
 */
int us_netif_output_ip(struct us_netif *nif, uint32_t nh, struct us_buf *b);

/* Process one received frame (copied into a pool buffer). Any thread. */
void us_netif_input(struct us_netif *nif, const uint8_t *frame, size_t len);
/* The same for a frame whose L4 checksum state (enum us_csum_state) the
 * backend reported: UNNECESSARY and PARTIAL skip TCP/UDP verification. */
void us_netif_input_csum(struct us_netif *nif, const uint8_t *frame, size_t len, uint8_t csum);
/* Read up to max frames ready now from the backend; returns how many. */
int us_netif_poll(struct us_netif *nif, int max);
/*
 * Busy polling from an application thread, holding no lock: read the
 * interfaces whose backend allows it and whose queue no one else is
 * consuming right now (their owner processes those frames).
 */
int us_netif_busy_poll(struct us_stack *st);

/* The leased address into *c; false if the interface has none now. */
static inline bool us_netif_lease(const struct us_netif *nif, struct us_cidr *c)
{
	uint64_t v = atomic_load_explicit(&nif->lease, memory_order_acquire);
	if (!v)
		return false;
	c->addr.s_addr = (uint32_t)v;
	c->prefix = (uint8_t)(v >> 32);
	return true;
}

/* Address predicates; addr in network order. Each looks at the configured
 * addresses and the leased one. */
bool us_netif_has_addr(const struct us_netif *nif, uint32_t addr);
/* addr is the subnet broadcast of one of nif's addresses. */
bool us_netif_is_bcast(const struct us_netif *nif, uint32_t addr);
/* The address of nif in the same subnet as peer, else its first, else 0. */
uint32_t us_netif_src_for(const struct us_netif *nif, uint32_t peer);
/* The interface's first address (configured, else leased), or 0. */
uint32_t us_netif_first_addr(const struct us_netif *nif);
/* Is peer (network order) inside a subnet of nif's addresses? */
bool us_netif_on_link(const struct us_netif *nif, uint32_t peer);

/* Frames received per queue into out[0..nqueues-1]; returns nqueues. */
int us_netif_queue_frames(struct us_netif *nif, uint64_t out[US_MAX_QUEUES]);

/* One receive thread per queue. */
int us_netif_start_rx(struct us_netif *nif);
void us_netif_stop_rx(struct us_netif *nif);

static inline uint32_t us_prefix_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);   /* host order */
}

#endif
