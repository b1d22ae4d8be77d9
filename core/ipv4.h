/*
 * ipv4.h — IPv4 input (validate, reassemble, deliver) and output (route,
 * fragment, hand to ARP).
 */
#ifndef US_IPV4_H
#define US_IPV4_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "timer.h"
#include "wire/ipv4.h"

struct us_stack;
struct us_netif;

#define US_IP_DEFAULT_TTL   64
#define US_IP_ID_BUCKETS    2048            /* RFC 6864 per-path ID counters */
#define US_REASM_SLOTS      16              /* datagrams being reassembled at once */
#define US_REASM_FRAGS      64              /* fragments remembered per datagram */
/*
 * One source's share of the slots: a source holding this many datagrams
 * that starts another gives up its own least recently used one, so a
 * single host (or a flood of fragments from one address) can never hold
 * more than a quarter of the reassembly memory.
 */
#define US_REASM_SRC_SLOTS  (US_REASM_SLOTS / 4)
#define US_REASM_TIMEOUT_NS (30ULL * 1000 * 1000 * 1000)

/* One datagram under reassembly; its 64 KiB of storage is preallocated. */
struct us_reasm {
	/* Every field protected by us_ipv4.reasm_lock. */
	enum { REASM_FREE, REASM_ACTIVE, REASM_DELIVERING } state;
	uint32_t src, dst;      /* network order */
	uint16_t id;
	uint8_t proto;
	uint8_t hdr[60];        /* IP header of the first fragment (offset 0) */
	uint16_t hlen;          /* 0 until the first fragment came */
	uint32_t total;         /* payload length once the last fragment came, else 0 */
	int nfrags;
	struct { uint16_t off, end; } frags[US_REASM_FRAGS];  /* sorted, disjoint */
	uint64_t expires;
	uint64_t used;          /* us_ipv4.reasm_tick when a fragment last came: LRU order */
	uint8_t *data;          /* 65535 bytes */
};

/*
 * Path MTU cache (RFC 1191): what "fragmentation needed" taught about a
 * destination, forgotten after 10 minutes as Linux's mtu_expires.
 */
#define US_PMTU_SLOTS       64
#define US_PMTU_EXPIRE_NS   (600ULL * 1000 * 1000 * 1000)
#define US_PMTU_MIN         552     /* Linux's min_pmtu: lower reports are raised to it */

struct us_pmtu {
	uint32_t dst;           /* network order; 0 = free */
	uint32_t mtu;
	uint64_t expires;
};

struct us_ipv4 {
	_Atomic uint16_t ids[US_IP_ID_BUCKETS];   /* next IP ID per bucket */
	uint32_t id_key;                          /* hashes (src,dst,proto) to a bucket */

	pthread_mutex_t reasm_lock;               /* protects reasm[], reasm_tick */
	struct us_reasm reasm[US_REASM_SLOTS];
	uint64_t reasm_tick;                      /* counts fragments taken in (LRU stamps) */
	uint8_t *reasm_mem;
	struct us_timer reasm_timer;              /* sweeps timed-out datagrams */
	pthread_mutex_t pmtu_lock;                /* protects pmtu[]; a leaf */
	struct us_pmtu pmtu[US_PMTU_SLOTS];
	struct us_stack *st;
};

int us_ipv4_init(struct us_stack *st, struct us_ipv4 *ip);
void us_ipv4_destroy(struct us_ipv4 *ip);
/*
 * us_stack_reset(): as us_ipv4_init() leaves it (the same random draws),
 * keeping the reassembly memory. The reassembly timer must have been
 * cancelled before the wheel was rebuilt.
 */
void us_ipv4_reset(struct us_stack *st, struct us_ipv4 *ip);

/*
 * Input: p/len is the Ethernet payload; link_bcast: the frame was sent to a
 * link-layer broadcast or multicast address (no ICMP errors about it);
 * l4_csum_ok: the device vouched for the TCP/UDP checksum (enum
 * us_csum_state), so TCP and UDP input skip verifying it (reassembly
 * drops a fragment's flag).
 */
void us_ipv4_input(struct us_netif *nif, const uint8_t *p, size_t len, bool link_bcast,
		   bool l4_csum_ok);

/* What an upper layer asks ipv4_send for. */
struct us_ip_tx {
	uint32_t src;           /* network order; 0 = choose from the route */
	uint32_t dst;
	uint8_t proto;
	uint8_t ttl;            /* 0 = default 64 */
	uint8_t tos;
	bool df;
	int ifindex;            /* -1 = from the route; else force this interface (broadcast) */
	struct us_dst_cache *dc;        /* NULL, or the sender's cache (used and refilled here) */
	/*
	 * Checksum and segmentation left to IP output (Linux's CHECKSUM_PARTIAL
	 * and GSO, resolved by the device or in software at the interface):
	 * csum_off != 0: the L4 header is the first piece and its checksum
	 * field, at this offset, is filled here: left to the device when it
	 * offloads checksums (caps.tx_csum), else computed.
	 * gso_size != 0 (TCP, with csum_off): a segment whose payload (after
	 * the first piece) may exceed the MTU, to be cut into gso_size
	 * payloads: by the device when it segments (caps.tso) and the next
	 * hop's MAC is known now, else here, each piece a frame of its own.
	 */
	uint8_t csum_off;
	uint16_t gso_size;
	/*
	 * frag_mtu != 0: a datagram without DF that is larger is cut into
	 * fragments that fit it (UDP's path MTU, when the cache knows one
	 * below the interface's); 0 or larger than the interface's MTU: the
	 * interface's.
	 */
	uint16_t frag_mtu;
};

/*
 * Send one datagram whose payload is hdr (hlen bytes) then data (dlen);
 * the caller has already filled its own checksum. Fragments above the
 * MTU unless df (EMSGSIZE then). Returns 0 or -errno (ENETUNREACH,
 * EMSGSIZE, ENOBUFS, EHOSTUNREACH).
 */
int us_ipv4_send(struct us_stack *st, const struct us_ip_tx *tx, const void *hdr, size_t hlen,
		 const void *data, size_t dlen);

/* Copy bytes [off, off+n) of the concatenation of the pieces into out. */
struct iovec;
void us_iov_copy(uint8_t *out, const struct iovec *iov, int iovcnt, size_t off, size_t n);
/*
 * The same, adding the bytes to the Internet checksum sum as they are
 * copied (one pass, wire_csum_copy): at is the offset of out in the data
 * the sum covers, so pieces at odd offsets are summed right. Returns the
 * new sum.
 */
uint64_t us_iov_copy_csum(uint64_t sum, uint8_t *out, const struct iovec *iov, int iovcnt,
			  size_t off, size_t n, size_t at);

/* The same with the payload in iovcnt pieces (at most US_IP_MAX_IOV). */
#define US_IP_MAX_IOV 4
struct iovec;
int us_ipv4_sendv(struct us_stack *st, const struct us_ip_tx *tx, const struct iovec *iov,
		  int iovcnt);

/*
 * The largest TCP segment (IP header included) the interface to dst
 * takes whole for the device to cut (TSO: 65535), or 0 when it does not
 * segment: TCP builds MSS-sized segments then.
 */
uint32_t us_ipv4_gso_max(struct us_stack *st, uint32_t dst);

/*
 * Resolve the route for dst: interface, next hop, source address.
 * Used by upper layers to choose source addresses and check MTU.
 */
int us_ipv4_route(struct us_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop,
		  uint32_t *src);

/*
 * The path MTU towards dst: ifmtu (the outgoing interface's), or less if
 * the cache learnt less and has not forgotten it yet.
 */
uint32_t us_ipv4_path_mtu(struct us_stack *st, uint32_t dst, uint32_t ifmtu);
/*
 * A validated "fragmentation needed" said the path to dst carries mtu
 * (raised to US_PMTU_MIN). Returns the path MTU now in force if that is
 * lower than before (cached for US_PMTU_EXPIRE_NS), else 0 (RFC 1191 6.1:
 * a report of an increase is ignored).
 */
uint32_t us_ipv4_pmtu_lower(struct us_stack *st, uint32_t dst, uint32_t ifmtu, uint32_t mtu);
/*
 * The same for a transport's validated report, TCP's and UDP's alike:
 * mtu as the ICMP carried it (0 from a pre-RFC 1191 router: the RFC 1191
 * 7 plateau below quoted_len, the quoted datagram's total length), the
 * interface from the route to dst. Returns the new path MTU, or 0 when
 * nothing changed (no route, or not a decrease).
 */
uint32_t us_ipv4_pmtu_learn(struct us_stack *st, uint32_t dst, uint32_t mtu, uint32_t quoted_len);

/* A packet we queued could not be sent (ARP failure): tell its owner. */
void us_ipv4_local_error(struct us_stack *st, const uint8_t *ippkt, size_t len, int err);

/* Is addr one of ours on any interface (network order)? */
bool us_ipv4_is_local(struct us_stack *st, uint32_t addr);

/* Reassembly sweep; also called by tests. */
void us_ipv4_reasm_expire(struct us_stack *st, uint64_t now);
/* Datagrams currently under reassembly (tests, stats). */
int us_ipv4_reasm_active(struct us_stack *st);

#endif
