/*
 * ipv4.h — IPv4 (RFC 791), ICMP (RFC 792) and UDP (RFC 768) wire formats.
 *
 * Pure functions. Addresses stay in network byte order (as in struct
 * in_addr); every other field is converted to host order.
 */
#ifndef US_WIRE_IPV4_H
#define US_WIRE_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IP4_HLEN        20      /* without options */
#define IP4_MAX_LEN     65535
#define IP_PROTO_ICMP   1
#define IP_PROTO_TCP    6
#define IP_PROTO_UDP    17
#define IP4_FLAG_DF     0x4000
#define IP4_FLAG_MF     0x2000
#define IP4_OFF_MASK    0x1fff

/* Why a header was rejected; each maps to one counter. */
enum wire_ip4_err {
	WIRE_IP4_OK = 0,
	WIRE_IP4_SHORT,         /* fewer than 20 bytes */
	WIRE_IP4_VERSION,       /* version != 4 */
	WIRE_IP4_IHL,           /* IHL < 5, or header longer than the data */
	WIRE_IP4_LENGTH,        /* total length < IHL*4, or beyond the data */
	WIRE_IP4_CHECKSUM,      /* header checksum wrong */
};

struct wire_ip4 {
	const uint8_t *hdr;     /* start of the header */
	uint16_t hlen;          /* header length in bytes, options included */
	uint8_t tos;
	uint16_t total_len;
	uint16_t id;
	bool df, mf;
	uint16_t frag_off;      /* in bytes */
	uint8_t ttl;
	uint8_t proto;
	uint32_t src, dst;      /* network order */
	const uint8_t *payload;
	uint16_t payload_len;   /* total_len - hlen: link padding excluded */
	bool link_bcast;        /* not from the header: the frame came as a link-layer
				 * broadcast/multicast (set by IP input; parse sets false) */
	bool l4_csum_ok;        /* not from the header: the device vouched for the TCP/UDP
				 * checksum (offload; set by IP input; parse sets false) */
};

/* Validate and parse; len is what the link delivered (may include padding). */
enum wire_ip4_err wire_ip4_parse(const uint8_t *p, size_t len, struct wire_ip4 *out);

/* What the builder writes: a 20-byte header without options. */
struct wire_ip4_hdr {
	uint8_t tos;
	uint16_t total_len;
	uint16_t id;
	bool df, mf;
	uint16_t frag_off;      /* bytes, multiple of 8 */
	uint8_t ttl;
	uint8_t proto;
	uint32_t src, dst;      /* network order */
};
/* Write 20 bytes at p, checksum included. */
void wire_ip4_build(uint8_t *p, const struct wire_ip4_hdr *h);

/* "10.0.0.1" into buf (>= 16 bytes); addr in network order. */
char *wire_ip4_str(uint32_t addr, char *buf);

/* ICMP. */
#define ICMP_HLEN               8
#define ICMP_ECHO_REPLY         0
#define ICMP_DEST_UNREACH       3
#define ICMP_REDIRECT           5
#define ICMP_ECHO_REQUEST       8
#define ICMP_TIME_EXCEEDED      11
#define ICMP_PARAM_PROBLEM      12
#define ICMP_UNREACH_NET        0
#define ICMP_UNREACH_HOST       1
#define ICMP_UNREACH_PROTOCOL   2
#define ICMP_UNREACH_PORT       3
#define ICMP_UNREACH_NEEDFRAG   4
#define ICMP_REDIRECT_HOST      1       /* redirect code: for the host */

struct wire_icmp {
	uint8_t type, code;
	uint16_t id, seq;       /* echo request/reply only */
	uint32_t rest;          /* bytes 4..7 as a host-order word */
	const uint8_t *data;    /* after the 8-byte header */
	size_t data_len;
};
/* 0 ok; -1 shorter than 8 bytes; -2 bad checksum. */
int wire_icmp_parse(const uint8_t *p, size_t len, struct wire_icmp *out);
/*
 * Write the 8-byte header at p, followed by data_len bytes already at p+8,
 * and the checksum over all of it. For echo, rest = id << 16 | seq.
 */
void wire_icmp_build(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, size_t data_len);

/* UDP. */
#define UDP_HLEN 8
struct wire_udp {
	uint16_t sport, dport;
	uint16_t len;           /* from the header: 8 + payload */
	uint16_t csum;          /* as received (0: none) */
	const uint8_t *payload;
	size_t payload_len;
};
/* 0 ok; -1 truncated or length field inconsistent; -2 bad checksum. src/dst for the pseudo-header. */
int wire_udp_parse(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, struct wire_udp *out);
/* The same without the checksum (the device vouched for it): 0 or -1. */
int wire_udp_parse_nocsum(const uint8_t *p, size_t len, struct wire_udp *out);
/* Write the header at p (payload already at p+8) with its checksum (0 becomes 0xffff). */
void wire_udp_build(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload_len,
		    uint32_t src, uint32_t dst);

/* One line tcpdump-style description of an Ethernet frame, into buf. */
void wire_describe(const uint8_t *frame, size_t len, char *buf, size_t cap);
/* The same for a bare IPv4 packet (a TUN interface): the text after "MAC > MAC, ". */
void wire_describe_ip(const uint8_t *p, size_t len, char *buf, size_t cap);
/* Append printf-style text to buf at *at, never past cap (always terminated
 * once anything was written); *at moves on by what was written. */
void wire_bprintf(char *buf, size_t cap, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
