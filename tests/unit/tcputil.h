/*
 * tcputil.h — TCP segments for unit tests, on top of stackutil.h: build
 * them byte by byte, inject them into a deterministic test stack from the
 * peer end of its pair wire, and parse what the stack sends back.
 *
 * Independence: nothing here calls core/wire/tcp.c (no wire_tcp_build, no
 * wire_tcp_parse) or the library's checksum code. Headers and options are
 * laid out here from RFC 9293 3.1 (header), RFC 9293 3.7.1 (MSS), RFC 7323
 * (window scale, timestamps) and RFC 2018 (SACK-permitted, SACK), and the
 * checksum (RFC 9293 3.1: one's complement sum over the pseudo-header,
 * header and data) is computed with stackutil's own RFC 1071 code, so a
 * test cannot share a bug with the code it checks.
 *
 * Conventions: ports, sequence numbers, windows and option values are in
 * host order; IP addresses are in network order (as TU_STACK_IP).
 *
 * Typical use:
 *
 *   struct us_config cfg;
 *   struct tu t;
 *   tc_config(&cfg, 0, __func__);      // static ARP for the peer
 *   cfg.tcp.time_wait_s = 2;           // tune TCP before opening
 *   if (!tu_open_cfg(&t, &cfg)) return;
 *   int lfd = tc_listen(&t, 80, 8);
 *   struct tc_peer p;
 *   tc_peer_init(&p, &t, 40000, 80, 1000);
 *   int fd = tc_open_passive(&p, lfd, NULL);   // SYN, SYN-ACK, ACK, accept
 *   tc_peer_send(&p, TC_ACK | TC_PSH, "hi", 2);
 *   struct tc_out o = { 0 };
 *   tc_run(&t, 100 * TC_MS, &o);       // collect what the stack sends
 *   ... o.seg[i].flags, .seq, .ack, .data ...
 *   tc_out_free(&o);
 *   tu_close(&t);                      // asserts every buffer is back
 *
 * Every TCP segment collected through tc_collect()/tc_run() is checked
 * with CU_ASSERT: TCP checksum right, options well formed, source
 * TU_STACK_IP (frames that are not IPv4 with a right header checksum are
 * only counted, in tc_out.other). So every test also checks that what the
 * stack sent was well formed.
 *
 * Not thread-safe: deterministic stacks only, driven from the test thread.
 */
#ifndef US_TEST_TCPUTIL_H
#define US_TEST_TCPUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stackutil.h"

#define TC_MS  US_NS_PER_MS
#define TC_SEC US_NS_PER_SEC

/* Header flags (RFC 9293 3.1; CWR and ECE from RFC 3168). */
#define TC_FIN 0x01
#define TC_SYN 0x02
#define TC_RST 0x04
#define TC_PSH 0x08
#define TC_ACK 0x10
#define TC_URG 0x20
#define TC_ECE 0x40
#define TC_CWR 0x80

/* ---- building ------------------------------------------------------------ */

/*
 * A segment to build. Zero-initialise, then set what matters: src/dst 0
 * mean TU_PEER_IP -> TU_STACK_IP. Options are written in the order Linux
 * uses in a SYN: MSS; SACK-permitted + timestamps (or NOP NOP + either
 * alone); NOP + window scale. raw_opts, when set, replaces them all
 * (raw_optlen must be a multiple of 4, at most 40) for malformed-option
 * tests.
 */
struct tc_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;                   /* the field as sent (unscaled) */
	uint16_t urg;
	bool has_mss;
	uint16_t mss;
	bool has_wscale;
	uint8_t wscale;
	bool sack_ok;
	bool has_ts;
	uint32_t tsval, tsecr;
	int nsack;                      /* SACK blocks (RFC 2018 3), after the others: NOP NOP 5 len */
	uint32_t sack[4][2];            /* [i][0] left edge, [i][1] right edge */
	const uint8_t *raw_opts;
	size_t raw_optlen;
	const void *data;
	size_t len;
	bool bad_csum;                  /* write a wrong checksum */
};

/* The usual SYN from the peer (TU_PEER_IP:sport -> dport, ISS seq): window
 * 65535, MSS 1460, no other option. Adjust the fields before injecting. */
struct tc_seg tc_syn(uint16_t sport, uint16_t dport, uint32_t seq);

/* The TCP segment (header, options, data, checksum) at p; returns its length. */
size_t tc_build(uint8_t *p, const struct tc_seg *s);
/* Ethernet + IPv4 (peer MAC -> stack MAC, TTL 64, DF) + tc_build(); returns the frame length. */
size_t tc_frame(uint8_t *f, const struct tc_seg *s);
/* Build the frame and hand it to the stack now (tu_inject: it is processed at once). */
void tc_inject(struct tu *t, const struct tc_seg *s);

/* ---- reading what the stack sent ----------------------------------------- */

/* One TCP segment the stack sent, parsed by the test's own code. */
struct tc_parsed {
	uint64_t time;                  /* stack clock when it was collected */
	uint32_t src, dst;              /* IP addresses, network order */
	uint8_t ttl;
	bool df;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t hlen;                   /* header bytes, options included */
	uint8_t flags;
	uint16_t win;                   /* as on the wire (unscaled) */
	uint16_t urg;
	bool csum_ok;
	bool has_mss;
	uint16_t mss;
	bool has_wscale;
	uint8_t wscale;
	bool sack_ok;
	bool has_ts;
	uint32_t tsval, tsecr;
	int nsack;                      /* SACK blocks (RFC 2018 3), in the option's order */
	uint32_t sack[4][2];            /* [i][0] left edge, [i][1] right edge */
	bool opt_bad;                   /* an option length was impossible */
	const uint8_t *data;            /* points into the frame it came from */
	size_t len;
};

/*
 * Parse frame f: true if it is a well-formed IPv4 (tu_parse_ip) TCP
 * segment with a data offset within the packet. The checksum is checked
 * and reported in csum_ok, not required.
 */
bool tc_parse(const struct tu_frame *f, struct tc_parsed *o);

/*
 * What the stack sent: every frame (TCP or not) in frames, and the TCP
 * segments among them parsed in seg[0..n-1] (their data pointers point
 * into frames and stay valid until the next collect, clear or free).
 * Zero-initialise before first use.
 */
struct tc_out {
	struct tu_frames frames;
	int n;
	struct tc_parsed *seg;
	int cap;
	int other;                      /* frames that were not TCP (ARP, ICMP, ...) */
};

/*
 * Append what the stack has sent by now; returns how many TCP segments
 * were added. o NULL: discard what was sent (returns 0).
 */
int tc_collect(struct tu *t, struct tc_out *o);
/* tu_run(t, ns) collecting into o (NULL: discard); returns how many TCP segments were added. */
int tc_run(struct tu *t, uint64_t ns, struct tc_out *o);
/* Forget everything collected (keeps the memory). */
void tc_out_clear(struct tc_out *o);
void tc_out_free(struct tc_out *o);
/* How many of o's segments have exactly these flags (all of them, nothing else). */
int tc_count_flags(const struct tc_out *o, uint8_t flags);
/* Index of the first segment from index `from` with all the bits of `flags` set, or -1. */
int tc_find(const struct tc_out *o, int from, uint8_t flags);
/* Flags as text, "SYN|ACK" style (a static buffer: for messages). */
const char *tc_flags_str(uint8_t flags);

/* ---- the stack ----------------------------------------------------------- */

/*
 * A one-interface config on a fresh wire named after tag (tu_config) with
 * a static ARP entry for the peer, so that the stack's first answer is a
 * TCP segment rather than an ARP request. mtu 0: US_DEFAULT_MTU. Adjust
 * cfg->tcp, then open with tu_open_cfg().
 */
void tc_config(struct us_config *cfg, uint32_t mtu, const char *tag);

/* A TCP socket listening on port (host order) with backlog; asserts, -1 on failure. */
int tc_listen(struct tu *t, uint16_t port, int backlog);

/*
 * The state (enum tcp_state, tcp.h) of the socket behind fd, or -1 if
 * fd is not a TCP socket. Looks inside the socket under its lock.
 */
int tc_state(struct tu *t, int fd);
/*
 * The state of the connection stack_port <-> TU_PEER_IP:peer_port in the
 * stack's connection table (also orphans, which have no descriptor), or
 * TCPS_TIME_WAIT if a TIME_WAIT record holds the 4-tuple, TCPS_SYN_RCVD if
 * a SYN cache entry does, or -1 if there is none.
 */
int tc_conn_state(struct tu *t, uint16_t stack_port, uint16_t peer_port);
/* The control block of the TCP socket behind fd (NULL if none); the
 * descriptor keeps it alive, so it stays valid until fd is closed. */
struct us_tcb *tc_tcb(struct tu *t, int fd);
/* How many control blocks the stack's TCP tables hold (connections and bound ports). */
int tc_tcbs(struct tu *t);

/* ---- the socket listing (us_stack_sockets_print, ustackd's SIGUSR2) ----- */

/* The listing as text (malloc'd, NUL-terminated; the caller frees it). It
 * only takes the stack's locks, so another thread may call it. */
char *tc_listing(us_stack *st);
/* How many rows of listing read "tcp STATE 0 0 LOCAL PEER" (empty queues). */
int tc_listing_rows(const char *listing, const char *state, const char *local,
		    const char *peer);
/* tc_listing_rows() of a fresh listing of st. */
int tc_listed(us_stack *st, const char *state, const char *local, const char *peer);

/* ---- a scripted peer ----------------------------------------------------- */

/*
 * The far end of one connection, played by the test. snd_nxt is the next
 * sequence number the peer sends, rcv_nxt what it acknowledges. When ts is
 * set every segment carries a timestamp option: tsval (moved on by the
 * caller if wanted) and tsecr = ts_recent, the stack's last TSval seen.
 */
struct tc_peer {
	struct tu *t;
	uint16_t port;                  /* the peer's port */
	uint16_t stack_port;            /* the stack's port */
	uint32_t iss;                   /* the peer's initial sequence number */
	uint32_t snd_nxt, rcv_nxt;
	uint16_t win;                   /* window field sent (default 65535) */
	bool ts;
	uint32_t tsval, ts_recent;
	/* What the stack's SYN or SYN-ACK said, once tc_peer_saw() has seen it. */
	uint32_t stack_iss;
	uint16_t stack_mss;             /* 0: no MSS option */
	bool stack_has_ws;
	uint8_t stack_wscale;
};

/* Set up p (no segment sent): the peer's port, the stack's port, the peer's ISS. */
void tc_peer_init(struct tc_peer *p, struct tu *t, uint16_t port, uint16_t stack_port,
		  uint32_t iss);
/* A segment from p's state: ports, seq = snd_nxt, ack = rcv_nxt (if TC_ACK), win, timestamps. */
struct tc_seg tc_peer_seg(const struct tc_peer *p, uint8_t flags, const void *data, size_t len);
/* Inject tc_peer_seg(...) and advance snd_nxt by len (+1 for SYN, +1 for FIN). */
void tc_peer_send(struct tc_peer *p, uint8_t flags, const void *data, size_t len);
/*
 * Take in a segment the stack sent: rcv_nxt moves to the end of what it
 * carries (data, SYN, FIN) if that is beyond it (always for a SYN, whose
 * ISS, MSS and window scale are also noted in stack_*); ts_recent takes
 * its TSval. An RST changes nothing.
 */
void tc_peer_saw(struct tc_peer *p, const struct tc_parsed *s);

/*
 * Passive open on the stack: the peer sends syn (NULL: MSS 1460 and no
 * other option; its ports/seq/flags are filled from p), expects exactly
 * one SYN-ACK acknowledging it, answers with the ACK, and us_accept()s
 * on lfd. Timestamps are used afterwards if both SYNs carried them.
 * Returns the accepted descriptor, or -1 after a failed assertion.
 */
int tc_open_passive(struct tc_peer *p, int lfd, const struct tc_seg *syn);
/* The same with the handshake's ACK sent rtt_ns after the SYN-ACK (the
 * stack's first RTT sample), which must not be retransmitted meanwhile. */
int tc_open_passive_rtt(struct tc_peer *p, int lfd, const struct tc_seg *syn, uint64_t rtt_ns);

/*
 * The set-up most TCP suites start from: open cfg's stack (tc_config'd and
 * adjusted by the caller) into t, listen on s->lport (backlog s->backlog,
 * 0: 8; the descriptor in *lfd) and accept a connection from p, a peer at
 * s->pport with ISS s->piss, whose SYN has s->syn's options (NULL: MSS
 * 1460) and whose ACK comes s->rtt_ns after the SYN-ACK. Returns the
 * connection's descriptor, ESTABLISHED; -1 if the stack did not open
 * (nothing to close). A failed handshake fails the test (CU_ASSERT_FATAL).
 */
struct tc_conn_spec {
	uint16_t lport, pport;
	uint32_t piss;
	int backlog;
	const struct tc_seg *syn;
	uint64_t rtt_ns;
};
int tc_open_conn(struct tu *t, struct us_config *cfg, const struct tc_conn_spec *s,
		 struct tc_peer *p, int *lfd);
/*
 * Active open from the stack: a new socket us_connect()s to
 * TU_PEER_IP:p->port (EINPROGRESS in deterministic mode); the peer takes
 * the SYN (p->stack_port becomes its source port), answers a SYN-ACK
 * carrying synack's options (NULL: MSS 1460 only) and collects the ACK.
 * Returns the descriptor, ESTABLISHED, or -1 after a failed assertion.
 */
int tc_open_active(struct tc_peer *p, const struct tc_seg *synack);

#endif
