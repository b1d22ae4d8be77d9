/*
 * stackutil.h — helpers for unit tests that drive a whole stack in
 * deterministic mode (US_STACK_DETERMINISTIC: virtual clock, no threads).
 *
 * A test stack has one interface "eth0" on a pair wire of its own (a name
 * unique to the test), address TU_STACK_IP/24 and MAC tu_stack_mac. The
 * test holds the other end of the wire (the "peer", TU_PEER_IP with MAC
 * tu_peer_mac): it injects frames there and reads back what the stack sent.
 *
 * Frames are crafted byte by byte here, with this file's own RFC 1071
 * checksum, never with the library's wire_*_build(), so that a test does
 * not share a bug with the code it checks. Readers of what the stack sent
 * (tu_parse_ip() and friends) are written the same way.
 *
 * Time: tu_run() advances the stack's virtual clock, stopping at every
 * timer deadline, and collects every frame the stack sent, stamped with
 * the stack clock at which it was collected (= the time it was sent).
 *
 * Leaks: tu_close() asserts that every packet buffer is back in the pool.
 */
#ifndef US_TEST_STACKUTIL_H
#define US_TEST_STACKUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack.h"
#include "ustack/pair.h"

#define TU_ETH_HLEN 14

extern const uint8_t tu_stack_mac[6];   /* 02:00:00:00:00:01 */
extern const uint8_t tu_peer_mac[6];    /* 02:00:00:00:00:02 */
extern const uint8_t tu_bcast_mac[6];   /* ff:ff:ff:ff:ff:ff */
extern const uint8_t tu_zero_mac[6];

/* a.b.c.d in network byte order. */
uint32_t tu_ip(unsigned a, unsigned b, unsigned c, unsigned d);
#define TU_STACK_IP tu_ip(10, 0, 0, 1)
#define TU_PEER_IP  tu_ip(10, 0, 0, 2)
#define TU_BCAST_IP tu_ip(10, 0, 0, 255)

/* Big-endian loads and stores (the test's own). */
uint16_t tu_get16(const uint8_t *p);
void tu_put16(uint8_t *p, uint16_t v);

/* RFC 1071 checksum over len bytes (odd length padded with zero), host order. */
uint16_t tu_csum(const void *p, size_t len);
/* The same, starting from a partial 32-bit sum (e.g. a pseudo-header). */
uint16_t tu_csum_from(uint32_t sum, const void *p, size_t len);

/* ---- stacks -------------------------------------------------------------- */

struct tu_opts {
	uint32_t mtu;              /* 0: US_DEFAULT_MTU */
	uint32_t arp_timeout_s;    /* 0: the default */
	bool static_peer;          /* static ARP entry TU_PEER_IP -> tu_peer_mac */
	uint64_t seed;             /* 0: 1 */
};

struct tu {
	us_stack *st;
	struct us_pair_end *peer;  /* the test's end of the wire */
	char wire[US_PATH_MAX];
};

/* A unique wire name for a test (tag: e.g. __func__). */
void tu_wire_name(char *buf, size_t len, const char *tag);
/* A one-interface config on wire (see the top of this file). */
void tu_config(struct us_config *cfg, const char *wire, const struct tu_opts *o);
/*
 * Create the stack from cfg (its ifaces[0].device names the wire) and
 * attach the peer end. Asserts on failure and returns false.
 */
bool tu_open_cfg(struct tu *t, const struct us_config *cfg);
/* tu_config() + tu_open_cfg() on a fresh wire named after tag. */
bool tu_open_tag(struct tu *t, const struct tu_opts *o, const char *tag);
#define tu_open(t, o) tu_open_tag((t), (o), __func__)
/* Every buffer back in the pool? */
bool tu_no_leak(const struct tu *t);
/* Assert no leak, free the stack, detach the peer. */
void tu_close(struct tu *t);

/* ---- frames -------------------------------------------------------------- */

struct tu_frame {
	uint64_t ts;               /* stack clock when collected */
	size_t len;
	uint8_t data[US_PAIR_FRAME_MAX];
};

struct tu_frames {
	int n, cap;
	struct tu_frame *f;
};

void tu_frames_free(struct tu_frames *l);
void tu_frames_clear(struct tu_frames *l);
/* Append a copy of frame (ts 0). */
void tu_frames_add(struct tu_frames *l, const void *frame, size_t len);

/* Hand the stack one frame from the peer, now, and let it process it. */
void tu_inject(struct tu *t, const void *frame, size_t len);
/* Inject l's frames in the order given (order NULL: as listed). */
void tu_inject_all(struct tu *t, const struct tu_frames *l, const int *order, int n);
/* Take every frame the stack has sent by now (out NULL: discard). Returns how many. */
int tu_collect(struct tu *t, struct tu_frames *out);
/*
 * Advance the stack clock by ns, stopping at every timer deadline and every
 * frame due to the stack, and collect what it sends (out may be NULL).
 * Returns how many frames were collected.
 */
int tu_run(struct tu *t, uint64_t ns, struct tu_frames *out);

/* ---- crafting ------------------------------------------------------------ */

/* 14-byte Ethernet II header at f; returns 14. */
size_t tu_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
/* Whole ARP frame (RFC 826, Ethernet/IPv4), 42 bytes. */
size_t tu_arp_frame(uint8_t *f, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
		    uint32_t spa, const uint8_t tha[6], uint32_t tpa);

/* An IPv4 header to write; every field as it goes on the wire. */
struct tu_iph {
	uint8_t version;           /* 0 means 4 */
	uint8_t ihl;               /* 0 means 5 + optlen / 4 */
	uint8_t tos;
	uint16_t total_len;        /* 0 means header + payload */
	uint16_t id;
	bool df, mf;
	uint16_t frag_off;         /* bytes (written / 8) */
	uint8_t ttl;
	uint8_t proto;
	uint32_t src, dst;         /* network order */
	const uint8_t *opts;       /* optlen bytes of options, optlen a multiple of 4 */
	size_t optlen;
	bool bad_csum;             /* write a wrong header checksum */
};

/* Header from the peer to the stack: TTL 64, id 0x4242. */
struct tu_iph tu_iph_peer(uint8_t proto);
/* IP header + payload at p; returns the bytes written. */
size_t tu_ip4(uint8_t *p, const struct tu_iph *h, const void *payload, size_t plen);
/* Ethernet (peer -> stack MAC) + tu_ip4(); returns the frame length. */
size_t tu_ip_frame(uint8_t *f, const struct tu_iph *h, const void *payload, size_t plen);
/* ICMP echo (type 8 request / 0 reply) message with checksum; returns 8 + len. */
size_t tu_icmp_echo(uint8_t *p, uint8_t type, uint16_t id, uint16_t seq, const void *data,
		    size_t len);
/* UDP datagram with checksum over the pseudo-header; returns 8 + len. */
size_t tu_udp(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
	      const void *data, size_t len);
/*
 * Split payload into fragments of at most frag_bytes (a multiple of 8) of
 * IP payload each, every one a whole frame appended to out, in offset order.
 * h gives the header fields (its frag_off/mf are set per fragment). Returns
 * how many.
 */
int tu_fragment(struct tu_frames *out, const struct tu_iph *h, const uint8_t *payload,
		size_t plen, size_t frag_bytes);

/* A deterministic test pattern. */
void tu_pattern(uint8_t *p, size_t len, unsigned seed);

/* ---- reading what the stack sent ----------------------------------------- */

struct tu_ipv {
	uint8_t ihl, tos, ttl, proto;
	uint16_t total_len, id, frag_off;  /* frag_off in bytes */
	bool df, mf;
	uint32_t src, dst;                 /* network order */
	const uint8_t *hdr, *payload;
	size_t hlen, plen;
};

/*
 * An IPv4 frame: EtherType 0x0800, version 4, IHL >= 5, total length within
 * the frame, header checksum right. False otherwise.
 */
bool tu_parse_ip(const uint8_t *frame, size_t len, struct tu_ipv *o);
/* Is frame an ARP packet with opcode op? */
bool tu_is_arp(const struct tu_frame *f, uint16_t op);
/* How many frames of l are ARP with op; IPv4 with proto (0: any). */
int tu_count_arp(const struct tu_frames *l, uint16_t op);
int tu_count_ip(const struct tu_frames *l, uint8_t proto);
/* Index of the first ICMP frame of type in l from index from, or -1. */
int tu_find_icmp(const struct tu_frames *l, int from, uint8_t type);

/* Counter shorthand. */
#define TU_STAT(t, id) us_stack_stat((t)->st, US_STAT_##id)

#endif
