/*
 * fuzz_stack.c — libFuzzer harness for the whole stack, driven through the
 * deterministic API (issue 8 item 19).
 *
 * One deterministic stack (10.0.0.1 on a pair wire, static ARP entry for
 * the peer 10.0.0.2) is built once. Every input then runs on it from the
 * same starting point:
 *
 *   1. setup: a TCP listener on port 80; an established connection on it
 *      from the peer's port 40000 (MSS 1460, window scale 7, SACK and
 *      timestamps), accepted; a UDP socket bound to port 5353;
 *   2. the input's records, one after the other (format below), each fed
 *      to the stack at once, with everything the stack sends read back
 *      from the wire after each record;
 *   3. teardown: every descriptor is closed and the clock runs on 30
 *      minutes (then 60 more if a TCP control block or a datagram under
 *      reassembly is still left); then every packet buffer must be back in
 *      the pool, no control block and no datagram under reassembly may
 *      remain, or the harness abort()s with what is left;
 *   4. us_stack_reset(): the stack is as new for the next input (a reset
 *      costs microseconds; building a stack costs ~70 ms under ASan).
 *
 * The peer is played from the stack's own answers: for every connection
 * ("flow") the harness notes what the stack last acknowledged and how far
 * it has sent, so TCP records give sequence and acknowledgment numbers
 * relative to those, and hit the window unless the input says otherwise.
 *
 * Record format (multi-byte fields big-endian; reading past the end of the
 * input gives zeros). Each record starts with one byte:
 *   bits 0-3  op (taken modulo OP_COUNT)
 *   bits 4-6  arg (a flow, a selector: per op)
 *   bit 7     RAW: raw frames go as given (otherwise their IPv4 header and
 *             TCP/UDP/ICMP checksums are fixed up); built records get a
 *             wrong checksum (otherwise a right one)
 *
 *   0 FRAME  len:u16 bytes[len]           an Ethernet frame (len <= 1514)
 *   1 SEG    flags:u8 dseq:i16 dack:i16 win:u16 OPTS [urg:u16 if URG]
 *            dlen:u16 data                a TCP segment on flow arg:
 *            seq = what the stack expects + dseq, ack = the stack's next
 *            sequence number + dack
 *   2 SYN    seq:u32 win:u16 OPTS         a SYN from flow arg (1..7) to
 *            its port (flows 1-5: the listener; 6-7: active opens); on
 *            flow 0, seq is relative like SEG's
 *   3 UDP    sport:u16 dlen:u16 data      to port 5353 (arg 0), 9 (closed,
 *            arg 1) or 5353 without checksum (arg >= 2)
 *   4 FRAGS  id:u16 dlen:u16 n:u8 sizes:u8[n-1] order:u8[n] dup:u8
 *            one datagram (arg: 0 UDP to 5353, 1 ICMP echo, 2 TCP data on
 *            flow 0, 3 UDP to a closed port) of dlen bytes of a pattern,
 *            in n fragments of the sizes given (x8; then 1480 bytes each),
 *            the first 8 sent in the order given, fragment dup-1 twice
 *   5 FRAG1  id:u8 off:u16 proto:u8 dlen:u16 data    one fragment from
 *            source arg (0 the peer, k: 10.0.0.(99+k)); off bit 15 = MF,
 *            bits 0-12 the offset in 8-byte units
 *   6 ICMP   type:u8 code:u8 word:u16 dseq:i16   an ICMP error quoting a
 *            segment the stack sent on flow arg (arg 7: a UDP datagram
 *            from port 5353); quoted seq = the stack's next seq + dseq
 *   7 ARP    op:u8 who:u8 mac:6           an ARP request (op odd) or reply
 *            from who (0 the peer, 1 the stack's own address, 2 0.0.0.0,
 *            else 10.0.0.(100+who%8)) with that MAC
 *   8 APP    call:u8 ...                  an API call (see app_call())
 *   9 ADV    t:u16                        advance the clock by (t & 0x3fff)
 *            x {1 us, 1 ms, 100 ms, 10 s}[t >> 14], at most 10 minutes
 *   OPTS = mask:u8 then, by bit: 0 MSS u16, 1 WS u8, 2 SACK-permitted,
 *          3 timestamps (dtsval:i16 dtsecr:i16), 4 SACK blocks (n:u8, n
 *          of (dstart:i16 len:u16)), 5 raw options (len:u8, bytes) instead
 *
 * With FUZZ_STACK_STATS set in the environment, every input's counters
 * are printed (us_stack_stats_print) before the teardown: to check what
 * a seed or a reproducer does.
 *
 * Seeds: tests/fuzz/corpus_stack/ (gen_corpus_stack.py). Built and run by
 * tests/fuzz/build.sh; see tests/fuzz/README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stack.h"
#include "ustack/pair.h"
#include "ustack/ustack.h"

#define STACK_IP   0x0a000001u         /* host order */
#define PEER_IP    0x0a000002u
#define LPORT      80
#define UPORT      5353
#define PPORT0     40000
#define NFLOWS     8
#define MAX_FDS    32
#define MS         US_NS_PER_MS
#define SEC        US_NS_PER_SEC
#define FRAME_MAX  1514

static const uint8_t stack_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t peer_mac[6] = { 2, 0, 0, 0, 0, 2 };

#define DIE(...)                                                               \
	do {                                                                   \
		fprintf(stderr, "fuzz_stack: " __VA_ARGS__);                   \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

/* ---- input cursor ---------------------------------------------------------- */

struct cur {
	const uint8_t *p;
	size_t n;
};

static uint8_t g8(struct cur *c)
{
	if (!c->n)
		return 0;
	c->n--;
	return *c->p++;
}
static uint16_t g16(struct cur *c) { uint16_t h = g8(c); return (uint16_t)(h << 8 | g8(c)); }
static uint32_t g32(struct cur *c) { uint32_t h = g16(c); return h << 16 | g16(c); }

/* n bytes into dst: from the input while it lasts, then a pattern. */
static void gbytes(struct cur *c, uint8_t *dst, size_t n)
{
	size_t k = n < c->n ? n : c->n;
	memcpy(dst, c->p, k);
	c->p += k;
	c->n -= k;
	for (size_t i = k; i < n; i++)
		dst[i] = (uint8_t)(i * 7 + 1);
}

/* ---- checksums and frames (the harness's own, RFC 1071) -------------------- */

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}
static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* Transport checksum over pseudo-header + seg (its checksum field zeroed first). */
static void l4_csum(uint8_t *seg, size_t len, uint8_t proto, const uint8_t *src,
		    const uint8_t *dst, bool bad)
{
	size_t at = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	if (len < at + 2)
		return;
	put16(seg + at, 0);
	uint32_t s = 0;
	if (proto != 1) {
		s = sum16(s, src, 4);
		s = sum16(s, dst, 4);
		s += proto;
		s += (uint32_t)len;
	}
	uint16_t c = fold(sum16(s, seg, len));
	if (proto == 17 && c == 0)
		c = 0xffff;
	if (bad)
		c ^= 0x5a5a;
	put16(seg + at, c);
}

/* Ethernet + IPv4 header at f (20 bytes, no options); returns 34. */
static size_t ip_hdr(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t plen,
		     uint16_t id, uint16_t frag)
{
	memcpy(f, stack_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + plen));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, fold(sum16(0, ip, 20)));
	return 34;
}

/* Fix an arbitrary frame's IPv4 header checksum and, if unfragmented, its TCP/UDP/ICMP checksum. */
static void fix_frame(uint8_t *f, size_t len)
{
	if (len < 34 || get16(f + 12) != 0x0800)
		return;
	uint8_t *ip = f + 14;
	size_t hl = (size_t)(ip[0] & 15) * 4;
	if (hl < 20 || 14 + hl > len)
		return;
	put16(ip + 10, 0);
	put16(ip + 10, fold(sum16(0, ip, hl)));
	size_t tot = get16(ip + 2);
	if (tot < hl || 14 + tot > len || (get16(ip + 6) & 0x3fff))
		return;
	l4_csum(ip + hl, tot - hl, ip[9], ip + 12, ip + 16, false);
}

/* ---- the stack, the wire, the peer's view of each connection -------------- */

struct flow {
	uint16_t pport, sport;  /* the peer's and the stack's ports; sport 0: not known yet */
	uint32_t peer_nxt;      /* where the peer's next segment starts, until the stack says */
	bool acked;             /* the stack has acknowledged something: stack_ack is valid */
	uint32_t stack_ack;     /* what the stack expects next */
	bool seen;              /* the stack has sent on this flow: stack_nxt is valid */
	uint32_t stack_nxt;     /* the end of what the stack sent */
	uint32_t stack_tsval;
};

enum fd_kind { FD_LISTEN, FD_TCP, FD_UDP };
struct fdent {
	int fd;
	enum fd_kind kind;
};

static us_stack *st;
static struct us_pair_end *peer;
static struct flow flows[NFLOWS];
static struct fdent fds[MAX_FDS];
static int nfds;
static int ping_h = -1;
static bool print_stats;        /* FUZZ_STACK_STATS set: counters of each input to stderr */
static uint8_t frame[FRAME_MAX + 64];
static uint8_t big[70000];


/* A segment the stack sent: note it in its flow. */
static void saw_tcp(const uint8_t *ip, size_t hl, size_t tot)
{
	const uint8_t *t = ip + hl;
	size_t tl = tot - hl;
	if (tl < 20)
		return;
	uint16_t sport = get16(t), dport = get16(t + 2);
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > tl)
		return;
	uint8_t fl = t[13];
	struct flow *fw = NULL;
	for (int i = 0; i < NFLOWS; i++)
		if (flows[i].pport == dport && (flows[i].sport == sport || !flows[i].sport)) {
			fw = &flows[i];
			break;
		}
	if (!fw)
		return;
	if (!fw->sport)
		fw->sport = sport;      /* an active open's SYN names the stack's port */
	uint32_t seq = get32(t + 4);
	uint32_t end = seq + (uint32_t)(tl - doff) + !!(fl & 0x02) + !!(fl & 0x01);
	if (fl & 0x04)
		return;
	if ((fl & 0x02) || !fw->seen || seq_gt(end, fw->stack_nxt))
		fw->stack_nxt = end;
	fw->seen = true;
	if (fl & 0x10) {
		fw->stack_ack = get32(t + 8);
		fw->acked = true;
	}
	for (size_t o = 20; o < doff;) {
		uint8_t k = t[o];
		if (k == 0)
			break;
		if (k == 1) {
			o++;
			continue;
		}
		if (o + 1 >= doff || t[o + 1] < 2 || o + t[o + 1] > doff)
			break;
		if (k == 8 && t[o + 1] == 10)
			fw->stack_tsval = get32(t + o + 2);
		o += t[o + 1];
	}
}

/* Read everything the stack has sent by now, noting TCP segments. */
static void drain(void)
{
	static uint8_t buf[US_PAIR_FRAME_MAX];
	int n;
	while ((n = us_pair_recv(peer, us_stack_now(st), buf, sizeof buf)) > 0) {
		if (n < 34 || get16(buf + 12) != 0x0800)
			continue;
		const uint8_t *ip = buf + 14;
		size_t hl = (size_t)(ip[0] & 15) * 4, tot = get16(ip + 2);
		if (hl < 20 || tot < hl || 14 + tot > (size_t)n || ip[9] != 6 ||
		    (get16(ip + 6) & 0x3fff))
			continue;
		saw_tcp(ip, hl, tot);
	}
}

static void inject(const uint8_t *f, size_t len)
{
	us_stack_input(st, 0, f, len);
	drain();
}

static void advance(uint64_t ns)
{
	us_stack_advance(st, ns);
	drain();
}

static void add_fd(int fd, enum fd_kind kind)
{
	if (fd < 0)
		return;
	if (nfds == MAX_FDS) {
		us_close(st, fd);
		return;
	}
	fds[nfds].fd = fd;
	fds[nfds].kind = kind;
	nfds++;
}

/* The descriptor that sel picks among those of kind (any kind if kind < 0), or -1. */
static int pick_fd(uint8_t sel, int kind, int *index)
{
	int cand[MAX_FDS], n = 0;
	for (int i = 0; i < nfds; i++)
		if (kind < 0 || fds[i].kind == (enum fd_kind)kind)
			cand[n++] = i;
	if (!n)
		return -1;
	int i = cand[sel % n];
	if (index)
		*index = i;
	return fds[i].fd;
}

/* ---- TCP segments ---------------------------------------------------------- */

struct seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, urg;
	uint8_t opt[40];
	size_t optlen;
	const uint8_t *data;
	size_t dlen;
	bool bad;
};

/* OPTS from the input into s, relative to flow f. */
static void read_opts(struct cur *c, struct seg *s, const struct flow *f)
{
	uint8_t m = g8(c);
	uint8_t *o = s->opt;
	size_t n = 0;
	if (m & 0x20) {
		size_t k = g8(c) % 41;
		gbytes(c, o, k);
		while (k % 4)
			o[k++] = 0;
		s->optlen = k;
		return;
	}
	if (m & 1) {
		uint16_t mss = g16(c);
		o[n++] = 2, o[n++] = 4, put16(o + n, mss), n += 2;
	}
	if (m & 2) {
		uint8_t ws = g8(c);
		o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = ws;
	}
	if (m & 4)
		o[n++] = 1, o[n++] = 1, o[n++] = 4, o[n++] = 2;
	if (m & 8) {
		int16_t dv = (int16_t)g16(c), de = (int16_t)g16(c);
		uint32_t tsval = 100 + (uint32_t)(us_stack_now(st) / MS) + (uint32_t)dv;
		o[n++] = 1, o[n++] = 1, o[n++] = 8, o[n++] = 10;
		put32(o + n, tsval), put32(o + n + 4, f->stack_tsval + (uint32_t)de), n += 8;
	}
	if (m & 16) {
		int k = g8(c) % 5;
		if (k > (int)(40 - n - 4) / 8)
			k = (int)(40 - n - 4) / 8;
		if (k > 0) {
			o[n++] = 1, o[n++] = 1, o[n++] = 5, o[n++] = (uint8_t)(2 + 8 * k);
			for (int i = 0; i < k; i++) {
				uint32_t a = f->stack_ack + (uint32_t)(int16_t)g16(c);
				uint32_t len = g16(c);
				put32(o + n, a), put32(o + n + 4, a + len), n += 8;
			}
		}
	}
	while (n % 4)
		o[n++] = 0;
	s->optlen = n;
}

static void send_seg(const struct seg *s)
{
	size_t tl = 20 + s->optlen + s->dlen;
	size_t off = ip_hdr(frame, PEER_IP, STACK_IP, 6, tl, 0, 0x4000);
	uint8_t *t = frame + off;
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(((20 + s->optlen) / 4) << 4);
	t[13] = s->flags;
	put16(t + 14, s->win);
	put16(t + 18, s->urg);
	memcpy(t + 20, s->opt, s->optlen);
	if (s->dlen)
		memcpy(t + 20 + s->optlen, s->data, s->dlen);
	l4_csum(t, tl, 6, frame + 26, frame + 30, s->bad);
	inject(frame, off + tl);
}

static void tcp_record(struct cur *c, int fi, bool raw, bool syn)
{
	struct flow *f = &flows[fi];
	struct seg s = { 0 };
	s.sport = f->pport;
	s.dport = f->sport ? f->sport : LPORT;
	s.bad = raw;
	uint32_t expect = f->acked ? f->stack_ack : f->peer_nxt;
	if (syn) {
		uint32_t v = g32(c);
		s.flags = 0x02;
		s.win = g16(c);
		if (fi == 0) {
			s.seq = expect + v;
		} else {
			s.seq = v;
			f->acked = f->seen = false;
			if (fi < 6)
				f->sport = LPORT;
		}
		read_opts(c, &s, f);
	} else {
		s.flags = g8(c);
		s.seq = expect + (uint32_t)(int16_t)g16(c);
		s.ack = f->stack_nxt + (uint32_t)(int16_t)g16(c);
		s.win = g16(c);
		read_opts(c, &s, f);
		if (s.flags & 0x20)
			s.urg = g16(c);
		s.dlen = g16(c) % (1461 - s.optlen);
		gbytes(c, big, s.dlen);
		s.data = big;
	}
	f->peer_nxt = s.seq + (uint32_t)s.dlen + !!(s.flags & 0x02) + !!(s.flags & 0x01);
	send_seg(&s);
}

/* ---- other records --------------------------------------------------------- */

static void udp_record(struct cur *c, uint8_t arg, bool raw)
{
	uint16_t sport = g16(c);
	size_t dlen = g16(c) % 1473;
	size_t off = ip_hdr(frame, PEER_IP, STACK_IP, 17, 8 + dlen, 0x100, 0);
	uint8_t *u = frame + off;
	put16(u, sport);
	put16(u + 2, arg == 1 ? 9 : UPORT);
	put16(u + 4, (uint16_t)(8 + dlen));
	gbytes(c, u + 8, dlen);
	if (arg >= 2)
		put16(u + 6, 0);
	else
		l4_csum(u, 8 + dlen, 17, frame + 26, frame + 30, raw);
	inject(frame, off + 8 + dlen);
}

/* dlen bytes of a pattern (FRAGS data: what it says does not matter, its size does). */
static void fill(uint8_t *p, size_t dlen, uint16_t seed)
{
	for (size_t i = 0; i < dlen; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* A whole datagram's payload for FRAGS: returns its length and protocol. */
static size_t frag_payload(uint16_t id, uint8_t arg, uint8_t *p, size_t dlen, uint8_t *proto,
			   bool raw)
{
	uint8_t src[4], dst[4];
	put32(src, PEER_IP);
	put32(dst, STACK_IP);
	switch (arg & 3) {
	case 0:
	case 3:
		*proto = 17;
		put16(p, 7777);
		put16(p + 2, (arg & 3) == 0 ? UPORT : 9);
		put16(p + 4, (uint16_t)(8 + dlen));
		fill(p + 8, dlen, id);
		l4_csum(p, 8 + dlen, 17, src, dst, raw);
		return 8 + dlen;
	case 1:
		*proto = 1;
		p[0] = 8, p[1] = 0;
		put16(p + 4, 0x77), put16(p + 6, 1);
		fill(p + 8, dlen, id);
		l4_csum(p, 8 + dlen, 1, src, dst, raw);
		return 8 + dlen;
	default: {
		struct flow *f = &flows[0];
		*proto = 6;
		put16(p, f->pport);
		put16(p + 2, f->sport);
		put32(p + 4, f->acked ? f->stack_ack : f->peer_nxt);
		put32(p + 8, f->stack_nxt);
		p[12] = 0x50;
		p[13] = 0x18;
		put16(p + 14, 0xffff);
		put16(p + 18, 0);
		fill(p + 20, dlen, id);
		l4_csum(p, 20 + dlen, 6, src, dst, raw);
		return 20 + dlen;
	}
	}
}

static void frags_record(struct cur *c, uint8_t arg, bool raw)
{
	static uint8_t dg[70000];
	uint16_t id = g16(c);
	size_t dlen = g16(c) % 9000;
	int n = g8(c) % 8 + 1;
	size_t size[8];
	for (int i = 0; i < n - 1; i++)
		size[i] = (size_t)(g8(c) % 185 + 1) * 8;
	uint8_t perm[8];
	for (int i = 0; i < 8; i++)
		perm[i] = i < n ? g8(c) : 0;
	int dup = g8(c) % (n + 1) - 1;
	uint8_t proto;
	size_t total = frag_payload(id, arg, dg, dlen, &proto, raw);
	/* Cut: the sizes given, then 1480 bytes a fragment (what fits a frame). */
	size_t off[32];
	int m = 0;
	off[0] = 0;
	while (off[m] < total && m < 30) {
		size_t sz = m < n - 1 ? size[m] : 1480;
		off[m + 1] = off[m] + sz < total ? off[m] + sz : total;
		m++;
	}
	/* Send order: the first (up to 8) fragments shuffled as the input says, the rest in order. */
	int order[32], k8 = m < 8 ? m : 8;
	for (int i = 0; i < m; i++)
		order[i] = i;
	for (int i = 0; i < k8; i++) {
		int j = perm[i] % k8, t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k <= m; k++) {
		int i = k < m ? order[k] : dup;
		if (i < 0 || i >= m)
			continue;
		size_t len = off[i + 1] - off[i];
		uint16_t fr = (uint16_t)(off[i] / 8) | (i < m - 1 ? 0x2000 : 0);
		size_t h = ip_hdr(frame, PEER_IP, STACK_IP, proto, len, id, fr);
		memcpy(frame + h, dg + off[i], len);
		inject(frame, h + len);
	}
}

static void frag1_record(struct cur *c, uint8_t arg)
{
	uint8_t id = g8(c);
	uint16_t off = g16(c);
	static const uint8_t protos[4] = { 1, 6, 17, 99 };
	uint8_t proto = protos[g8(c) % 4];
	size_t dlen = g16(c) % 1481;
	uint32_t src = arg ? 0x0a000063u + arg : PEER_IP;
	size_t h = ip_hdr(frame, src, STACK_IP, proto, dlen, id,
			  (uint16_t)((off & 0x1fff) | (off & 0x8000 ? 0x2000 : 0)));
	gbytes(c, frame + h, dlen);
	inject(frame, h + dlen);
}

static void icmp_record(struct cur *c, uint8_t arg, bool raw)
{
	uint8_t type = g8(c), code = g8(c);
	uint16_t word = g16(c);
	int16_t dseq = (int16_t)g16(c);
	uint8_t m[8 + 28];
	memset(m, 0, sizeof m);
	m[0] = type;
	m[1] = code;
	put16(m + 6, word);
	uint8_t *q = m + 8;     /* the quoted datagram: our header + 8 bytes */
	q[0] = 0x45;
	put16(q + 2, 60);
	q[8] = 64;
	put32(q + 12, STACK_IP);
	put32(q + 16, PEER_IP);
	if (arg == 7) {
		q[9] = 17;
		put16(q + 20, UPORT);
		put16(q + 22, 7777);
		put16(q + 24, 40);
	} else {
		const struct flow *f = &flows[arg];
		q[9] = 6;
		put16(q + 20, f->sport ? f->sport : LPORT);
		put16(q + 22, f->pport);
		put32(q + 24, f->stack_nxt + (uint32_t)dseq);
	}
	put16(q + 10, fold(sum16(0, q, 20)));
	uint8_t src[4], dst[4];
	put32(src, PEER_IP);
	put32(dst, STACK_IP);
	l4_csum(m, sizeof m, 1, src, dst, raw);
	size_t h = ip_hdr(frame, PEER_IP, STACK_IP, 1, sizeof m, 0x200, 0);
	memcpy(frame + h, m, sizeof m);
	inject(frame, h + sizeof m);
}

static void arp_record(struct cur *c)
{
	uint8_t op = g8(c), who = g8(c);
	uint8_t mac[6];
	gbytes(c, mac, 6);
	uint32_t ip = who == 0 ? PEER_IP : who == 1 ? STACK_IP : who == 2 ? 0
		    : 0x0a000064u + who % 8;
	uint8_t *f = frame;
	memcpy(f, op & 1 ? (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } : stack_mac, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op & 1 ? 1 : 2);
	memcpy(f + 22, mac, 6);
	put32(f + 28, ip);
	memcpy(f + 32, op & 1 ? (const uint8_t[6]){ 0 } : stack_mac, 6);
	put32(f + 38, STACK_IP);
	inject(f, 42);
}

/*
 * APP: call:u8 (modulo 16), then per call (sel:u8 picks a descriptor of
 * the kind the call wants):
 *   0 send sel len:u16 flags:u8     1 recv sel len:u16 flags:u8
 *   2 shutdown sel how:u8           3 close sel (any kind)
 *   4 accept sel                    5 connect to peer port 8080 + (sel & 1)
 *   6 sendto sel len:u16 port:u16   7 recvfrom sel len:u16
 *   8 setsockopt sel opt:u8 val:u32 (TCP_USER_TIMEOUT: at most 1 h)
 *   9 getsockopt sel opt:u8
 *   10 poll events:u8              11 listen on 80 + (sel & 3), backlog:u8
 *   12 UDP socket bound to port:u16 13 ping len:u16
 *   14 recv everything on every TCP socket
 *   15 getsockname/getpeername sel
 */
static const struct { int level, name; } opts[] = {
	{ SOL_SOCKET, SO_RCVBUF }, { SOL_SOCKET, SO_SNDBUF }, { SOL_SOCKET, SO_REUSEADDR },
	{ SOL_SOCKET, SO_KEEPALIVE }, { SOL_SOCKET, SO_LINGER }, { SOL_SOCKET, SO_ERROR },
	{ SOL_SOCKET, SO_BROADCAST }, { IPPROTO_TCP, TCP_NODELAY }, { IPPROTO_TCP, TCP_MAXSEG },
	{ IPPROTO_TCP, TCP_KEEPIDLE }, { IPPROTO_TCP, TCP_KEEPINTVL }, { IPPROTO_TCP, TCP_KEEPCNT },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT }, { IPPROTO_TCP, TCP_CONGESTION },
	{ SOL_SOCKET, SO_RCVTIMEO }, { SOL_SOCKET, SO_SNDTIMEO },
};

static void app_call(struct cur *c)
{
	static uint8_t rbuf[70000];
	uint8_t call = g8(c) % 16, sel = g8(c);
	int i, fd;
	switch (call) {
	case 0: {
		size_t len = g16(c);
		uint8_t fl = g8(c);
		fd = pick_fd(sel, FD_TCP, NULL);
		int flags = (fl & 1 ? MSG_DONTWAIT : 0) | (fl & 2 ? MSG_MORE : 0) |
			    (fl & 4 ? MSG_NOSIGNAL : 0) | (fl & 8 ? MSG_OOB : 0);
		if (fd >= 0 && us_send(st, fd, big, len, flags) > (ssize_t)len)
			DIE("us_send returned more than asked");
		break;
	}
	case 1: {
		size_t len = g16(c);
		uint8_t fl = g8(c);
		fd = pick_fd(sel, FD_TCP, NULL);
		int flags = (fl & 1 ? MSG_PEEK : 0) | (fl & 2 ? MSG_WAITALL : 0) |
			    (fl & 4 ? MSG_DONTWAIT : 0) | (fl & 8 ? MSG_TRUNC : 0);
		if (fd >= 0 && us_recv(st, fd, rbuf, len, flags) > (ssize_t)len)
			DIE("us_recv returned more than asked");
		break;
	}
	case 2:
		fd = pick_fd(sel, -1, NULL);
		if (fd >= 0)
			us_shutdown(st, fd, g8(c) % 3);
		break;
	case 3:
		fd = pick_fd(sel, -1, &i);
		if (fd >= 0) {
			us_close(st, fd);
			fds[i] = fds[--nfds];
		}
		break;
	case 4:
		fd = pick_fd(sel, FD_LISTEN, NULL);
		if (fd >= 0)
			add_fd(us_accept(st, fd, NULL, NULL), FD_TCP);
		break;
	case 5: {
		struct flow *f = &flows[6 + (sel & 1)];
		fd = us_socket(st, AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(f->pport),
					 .sin_addr.s_addr = htonl(PEER_IP) };
		f->sport = 0;
		f->acked = f->seen = false;
		if (fd >= 0)
			us_connect(st, fd, (struct sockaddr *)&a, sizeof a);
		add_fd(fd, FD_TCP);
		break;
	}
	case 6: {
		size_t len = g16(c);
		uint16_t port = g16(c);
		fd = pick_fd(sel, FD_UDP, NULL);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(PEER_IP) };
		if (fd >= 0)
			us_sendto(st, fd, big, len, 0, (struct sockaddr *)&a, sizeof a);
		break;
	}
	case 7: {
		size_t len = g16(c);
		fd = pick_fd(sel, FD_UDP, NULL);
		struct sockaddr_in a;
		socklen_t al = sizeof a;
		if (fd >= 0 && us_recvfrom(st, fd, rbuf, len, 0, (struct sockaddr *)&a, &al) >
				       (ssize_t)len)
			DIE("us_recvfrom returned more than asked");
		break;
	}
	case 8: {
		int o = g8(c) % (int)(sizeof opts / sizeof opts[0]);
		uint32_t v = g32(c);
		fd = pick_fd(sel, -1, NULL);
		if (fd < 0)
			break;
		if (opts[o].name == SO_LINGER) {
			struct linger l = { (int)(v & 1), (int)(v >> 1 & 0xff) };
			us_setsockopt(st, fd, opts[o].level, opts[o].name, &l, sizeof l);
		} else if (opts[o].name == SO_RCVTIMEO || opts[o].name == SO_SNDTIMEO) {
			struct timeval tv = { (time_t)(v & 0xff), (suseconds_t)(v >> 8) % 1000000 };
			us_setsockopt(st, fd, opts[o].level, opts[o].name, &tv, sizeof tv);
		} else if (opts[o].name == TCP_USER_TIMEOUT) {
			/* At most an hour: a connection may rightly live as long as
			 * its user timeout (Linux too), and the teardown waits 90 min. */
			int iv = (int)(v % 3600001);
			us_setsockopt(st, fd, opts[o].level, opts[o].name, &iv, sizeof iv);
		} else if (opts[o].name == TCP_CONGESTION) {
			us_setsockopt(st, fd, opts[o].level, opts[o].name, v & 1 ? "reno" : "cubic", 5);
		} else {
			int iv = (int)v;
			us_setsockopt(st, fd, opts[o].level, opts[o].name, &iv, sizeof iv);
		}
		break;
	}
	case 9: {
		int o = g8(c) % (int)(sizeof opts / sizeof opts[0]);
		uint8_t v[64];
		socklen_t vl = sizeof v;
		fd = pick_fd(sel, -1, NULL);
		if (fd >= 0 && us_getsockopt(st, fd, opts[o].level, opts[o].name, v, &vl) == 0 &&
		    vl > sizeof v)
			DIE("getsockopt wrote a length beyond the buffer");
		break;
	}
	case 10: {
		struct pollfd p[MAX_FDS];
		for (i = 0; i < nfds; i++) {
			p[i].fd = fds[i].fd;
			p[i].events = (short)(sel & (POLLIN | POLLOUT | POLLPRI));
			p[i].revents = 0;
		}
		us_poll(st, p, (nfds_t)nfds, 0);
		break;
	}
	case 11: {
		uint8_t backlog = g8(c);
		fd = us_socket(st, AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(LPORT + (sel & 3)) };
		if (fd >= 0 && (us_bind(st, fd, (struct sockaddr *)&a, sizeof a) < 0 ||
				us_listen(st, fd, backlog) < 0)) {
			us_close(st, fd);
			break;
		}
		add_fd(fd, FD_LISTEN);
		break;
	}
	case 12: {
		uint16_t port = g16(c);
		fd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		if (fd >= 0 && (sel & 1))
			us_bind(st, fd, (struct sockaddr *)&a, sizeof a);
		add_fd(fd, FD_UDP);
		break;
	}
	case 13: {
		size_t len = g16(c) % 4000;
		if (ping_h < 0) {
			uint16_t id;
			ping_h = us_ping_open(st, &id);
		}
		struct in_addr dst = { htonl(PEER_IP) };
		if (ping_h >= 0)
			us_ping_send(st, ping_h, dst, sel, 0, big, len);
		break;
	}
	case 14:
		for (i = 0; i < nfds; i++)
			if (fds[i].kind != FD_LISTEN)
				while (us_recv(st, fds[i].fd, rbuf, sizeof rbuf, MSG_DONTWAIT) > 0)
					;
		break;
	case 15: {
		struct sockaddr_in a;
		socklen_t al = sizeof a;
		fd = pick_fd(sel, -1, NULL);
		if (fd >= 0) {
			us_getsockname(st, fd, (struct sockaddr *)&a, &al);
			al = sizeof a;
			us_getpeername(st, fd, (struct sockaddr *)&a, &al);
		}
		break;
	}
	}
	drain();
}

/* ---- setup, teardown ------------------------------------------------------- */

/* Print what a control block left behind is waiting for (the diagnosis of a failed teardown). */
static void dump_tcb(const struct us_tcb *c)
{
	static const char *const tname[TT__COUNT] = { "rexmit", "delack", "persist", "keep", "2msl" };
	uint64_t now = us_stack_now(st);
	fprintf(stderr, "fuzz_stack: left: %s una %u nxt %u max %u (from iss) wnd %u sndq %u "
		"backoff %d persist_backoff %d; clock %.3f s\n", tcp_state_name(c->state),
		c->snd_una - c->iss, c->snd_nxt - c->iss, c->snd_max - c->iss, c->snd_wnd,
		c->sndq.len, c->backoff, c->persist_backoff, (double)now / SEC);
	for (int k = 0; k < TT__COUNT; k++)
		if (c->deadline[k])
			fprintf(stderr, "fuzz_stack:   timer %s due at %.3f s, wheel: %s at %.3f s\n",
				tname[k], (double)c->deadline[k] / SEC,
				c->timer[k].armed ? "armed" : "not armed",
				(double)c->timer[k].expires / SEC);
}

/* Control blocks in the TCP tables; *state is one's state; dump: print each. */
static int count_tcbs(int *state, bool dump)
{
	struct us_tcp *tcp = &st->tcp;
	int n = 0;
	pthread_rwlock_rdlock(&tcp->lock);
	for (unsigned h = 0; h < tcp->conn_buckets; h++) {
		for (struct us_tcb *c = tcp->conn[h]; c; c = c->conn_next, n++) {
			*state = c->state;
			if (dump)
				dump_tcb(c);
		}
	}
	for (int h = 0; h < US_TCP_HASH; h++) {
		for (struct us_tcb *c = tcp->port[h]; c; c = c->port_next)
			if (!c->in_conn) {
				*state = c->state;
				n++;
				if (dump)
					dump_tcb(c);
			}
	}
	pthread_rwlock_unlock(&tcp->lock);
	return n;
}

static void setup(void)
{
	memset(flows, 0, sizeof flows);
	for (int i = 0; i < NFLOWS; i++)
		flows[i].pport = (uint16_t)(i < 6 ? PPORT0 + i : 8080 + (i - 6));
	for (int i = 0; i < 6; i++)
		flows[i].sport = LPORT;
	nfds = 0;
	ping_h = -1;
	if (us_stack_up(st) < 0)
		DIE("us_stack_up: %s", strerror(errno));
	drain();
	int lfd = us_socket(st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(LPORT) };
	if (lfd < 0 || us_bind(st, lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    us_listen(st, lfd, 8) < 0)
		DIE("listener: %s", strerror(errno));
	add_fd(lfd, FD_LISTEN);
	int ufd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(UPORT);
	int rb = 32768;         /* doubled, as Linux does: 64 KiB (see above) */
	if (ufd < 0 || us_setsockopt(st, ufd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb) < 0 ||
	    us_bind(st, ufd, (struct sockaddr *)&a, sizeof a) < 0)
		DIE("UDP socket: %s", strerror(errno));
	/* The handshake: SYN with MSS, window scale, SACK, timestamps; ACK. */
	struct flow *f = &flows[0];
	static const uint8_t synopt[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2,
					  1, 1, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0 };
	struct seg s = { .sport = f->pport, .dport = LPORT, .seq = 1000, .flags = 0x02,
			 .win = 65535, .optlen = sizeof synopt };
	memcpy(s.opt, synopt, sizeof synopt);
	send_seg(&s);
	if (!f->seen || !f->acked || f->stack_ack != 1001)
		DIE("setup: no SYN-ACK");
	static const uint8_t ackopt[] = { 1, 1, 8, 10, 0, 0, 0, 101, 0, 0, 0, 0 };
	s = (struct seg){ .sport = f->pport, .dport = LPORT, .seq = 1001, .ack = f->stack_nxt,
			  .flags = 0x10, .win = 512, .optlen = sizeof ackopt };
	memcpy(s.opt, ackopt, sizeof ackopt);
	put32(s.opt + 8, f->stack_tsval);
	send_seg(&s);
	f->peer_nxt = 1001;
	int cfd = us_accept(st, lfd, NULL, NULL);
	if (cfd < 0)
		DIE("setup: accept: %s", strerror(errno));
	add_fd(cfd, FD_TCP);
	add_fd(ufd, FD_UDP);
}

static void teardown(void)
{
	for (int i = 0; i < nfds; i++)
		us_close(st, fds[i].fd);
	nfds = 0;
	if (ping_h >= 0)
		us_ping_close(st, ping_h);
	ping_h = -1;
	/* 30 minutes cover every timeout; a second look 60 minutes later. */
	int state = -1, n = 0;
	for (int m = 0; m < 2; m++) {
		advance((m ? 60 : 30) * 60 * SEC);
		if ((n = count_tcbs(&state, false)) == 0 && us_ipv4_reasm_active(st) == 0)
			break;
	}
	if (n && count_tcbs(&state, true))
		DIE("%d TCP control block(s) left 90 minutes after every descriptor was closed "
		    "(one in state %s)", n, tcp_state_name((enum tcp_state)state));
	if (us_ipv4_reasm_active(st))
		DIE("reassembly still holds %d datagram(s) after 90 minutes",
		    us_ipv4_reasm_active(st));
	size_t avail = us_pool_available(&st->pool);
	if (avail != st->pool.total)
		DIE("%zu packet buffer(s) not back in the pool", st->pool.total - avail);
	if (us_stack_reset(st) < 0)
		DIE("us_stack_reset: %s", strerror(errno));
	drain();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct us_config cfg;
	us_config_init(&cfg);
	cfg.log_level = US_LOG_ERROR;
	cfg.seed_set = true;
	cfg.seed = 1;
	cfg.nifaces = 1;
	struct us_iface_config *ifc = &cfg.ifaces[0];
	snprintf(ifc->name, sizeof ifc->name, "eth0");
	ifc->backend = US_BACKEND_PAIR;
	snprintf(ifc->device, sizeof ifc->device, "fuzz-stack-%d", (int)getpid());
	memcpy(ifc->mac, stack_mac, 6);
	ifc->mac_set = true;
	ifc->mtu = US_DEFAULT_MTU;
	ifc->addrs[0].addr.s_addr = htonl(STACK_IP);
	ifc->addrs[0].prefix = 24;
	ifc->naddrs = 1;
	cfg.arp_static[0].addr.s_addr = htonl(PEER_IP);
	memcpy(cfg.arp_static[0].mac, peer_mac, 6);
	cfg.narp_static = 1;
	/*
	 * 64 KiB socket buffers (the default is 256 KiB): full buffers and
	 * closed windows come sooner, and AddressSanitizer serves blocks up
	 * to 128 KiB from its size classes instead of a fresh mmap each time.
	 */
	cfg.tcp.sndbuf = cfg.tcp.rcvbuf = 65536;
	char err[256];
	st = us_stack_new(&cfg, US_STACK_DETERMINISTIC, err, sizeof err);
	if (!st)
		DIE("us_stack_new: %s", err);
	peer = us_pair_attach(ifc->device, NULL, 1, err, sizeof err);
	if (!peer)
		DIE("us_pair_attach: %s", err);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 13 + 5);
	print_stats = getenv("FUZZ_STACK_STATS") != NULL;
	(void)argc;
	(void)argv;
	return 0;
}

enum { OP_FRAME, OP_SEG, OP_SYN, OP_UDP, OP_FRAGS, OP_FRAG1, OP_ICMP, OP_ARP, OP_APP, OP_ADV,
       OP_COUNT };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cur c = { data, size };
	setup();
	while (c.n) {
		uint8_t b = g8(&c);
		uint8_t op = (uint8_t)((b & 15) % OP_COUNT), arg = (b >> 4) & 7;
		bool raw = b & 0x80;
		switch (op) {
		case OP_FRAME: {
			size_t len = g16(&c) % (FRAME_MAX + 1);
			gbytes(&c, frame, len);
			if (!raw)
				fix_frame(frame, len);
			inject(frame, len);
			break;
		}
		case OP_SEG:
			tcp_record(&c, arg, raw, false);
			break;
		case OP_SYN:
			tcp_record(&c, arg, raw, true);
			break;
		case OP_UDP:
			udp_record(&c, arg, raw);
			break;
		case OP_FRAGS:
			frags_record(&c, arg, raw);
			break;
		case OP_FRAG1:
			frag1_record(&c, arg);
			break;
		case OP_ICMP:
			icmp_record(&c, arg, raw);
			break;
		case OP_ARP:
			arp_record(&c);
			break;
		case OP_APP:
			app_call(&c);
			break;
		case OP_ADV: {
			uint16_t t = g16(&c);
			static const uint64_t unit[4] = { 1000, MS, 100 * MS, 10 * SEC };
			uint64_t ns = (uint64_t)(t & 0x3fff) * unit[t >> 14];
			advance(ns < 600 * SEC ? ns : 600 * SEC);
			break;
		}
		}
	}
	if (print_stats)
		us_stack_stats_print(st, stderr);
	teardown();
	return 0;
}
