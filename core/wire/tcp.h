/*
 * tcp.h — the TCP header and options (RFC 9293 3.1; MSS RFC 9293 3.7.1,
 * window scale and timestamps RFC 7323, SACK-permitted and SACK RFC 2018). Pure
 * functions; sequence numbers and fields in host order.
 */
#ifndef US_WIRE_TCP_H
#define US_WIRE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_HLEN        20
#define TCP_MAX_HLEN    60
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCPOPT_EOL       0
#define TCPOPT_NOP       1
#define TCPOPT_MSS       2
#define TCPOPT_WSCALE    3
#define TCPOPT_SACK_OK   4
#define TCPOPT_SACK      5
#define TCP_SACK_MAX     4       /* blocks in one option: 40 bytes of options hold 4 */
#define TCPOPT_TIMESTAMP 8

struct wire_tcp_opts {
	bool has_mss;
	uint16_t mss;
	bool has_wscale;
	uint8_t wscale;         /* as sent; the receiver clamps to 14 (RFC 7323 2.3) */
	bool sack_ok;
	bool has_ts;
	uint32_t tsval, tsecr;
	/* SACK blocks (RFC 2018 3): [start, end) each, in the option's order
	 * (a D-SACK, RFC 2883, comes first). Parse: the first TCP_SACK_MAX of
	 * a well-formed option (length 2 + 8n, n >= 1); build: nsack of them. */
	uint8_t nsack;
	struct { uint32_t start, end; } sack[TCP_SACK_MAX];
};

struct wire_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t hlen;           /* header bytes, options included */
	uint8_t flags;
	uint16_t win;           /* as on the wire (unscaled) */
	uint16_t urg;
	struct wire_tcp_opts opt;
	bool opt_bad;           /* an option's length was impossible: the rest were ignored */
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * Parse a segment of len bytes (the IP payload). src/dst (network order)
 * for the checksum. 0 ok; -1 shorter than 20 bytes or a data offset below
 * 5 or beyond len; -2 bad checksum. Malformed options never fail the
 * parse: parsing stops at the first impossible length (opt_bad set), as
 * Linux does.
 */
int wire_tcp_parse(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, struct wire_tcp *out);
/*
 * The same without the checksum, for a segment whose checksum the device
 * vouched for (offload: enum us_csum_state UNNECESSARY or PARTIAL).
 * 0 or -1 as above.
 */
int wire_tcp_parse_nocsum(const uint8_t *p, size_t len, struct wire_tcp *out);

/* Parse just the options area (tests and parse share it). */
bool wire_tcp_parse_opts(const uint8_t *p, size_t len, struct wire_tcp_opts *o);

/*
 * Write a header with the given options at p (at least TCP_MAX_HLEN
 * bytes). Options are laid out as Linux does (MSS; SACK-permitted with
 * timestamps or NOPs; timestamps; NOP + window scale; NOP NOP + SACK
 * blocks). The checksum field
 * is left zero: the caller sums the pseudo-header, header and payload and
 * stores it with wire_tcp_set_csum. Returns the header length.
 */
size_t wire_tcp_build(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		      uint8_t flags, uint16_t win, const struct wire_tcp_opts *opt);
void wire_tcp_set_csum(uint8_t *hdr, uint16_t csum);

/*
 * TCP segmentation as a device does it for a TSO frame (the segments the
 * kernel makes of a virtio-net GSO_TCPV4 frame, Linux tcp_gso_segment):
 * the payload is cut into gso_size pieces, nseg = wire_tcp_gso_count().
 * wire_tcp_gso_hdr writes segment k's TCP header (hlen bytes, from the
 * frame's hdr) at out: sequence number advanced by k * gso_size, FIN and
 * PSH kept only on the last segment, CWR only on the first; the checksum
 * field is left as in hdr for the caller to fill. Returns the payload
 * bytes of segment k (its offset in the payload is k * gso_size).
 */
uint32_t wire_tcp_gso_count(size_t payload_len, uint16_t gso_size);
size_t wire_tcp_gso_hdr(uint8_t *out, const uint8_t *hdr, size_t hlen, size_t payload_len,
			uint16_t gso_size, uint32_t k);

/* Sequence arithmetic modulo 2^32 (RFC 9293 3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#endif
