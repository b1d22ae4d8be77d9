/*
 * test_ipv4.c — IPv4 input validation, reassembly and output fragmentation
 * (core/ipv4.c, core/ipv4_frag.c), driven through ICMP echo: a datagram
 * that gets through is answered, one that does not is only counted.
 *
 * Expected values come from RFC 791 (header layout, fragmentation: every
 * fragment but the last carries a multiple of 8 bytes, offsets in 8-byte
 * units, MF on all but the last), RFC 1122 3.2.1.3 (a broadcast or
 * multicast source is dropped), RFC 1122 3.3.2 (reassembly timeout, time
 * exceeded code 1 only if fragment zero arrived), RFC 792 (the time
 * exceeded quote: the header plus the first 64 bits of data) and the
 * design in core/ipv4.h and ipv4_frag.c (30 s timeout, US_REASM_SLOTS
 * datagrams at once, the least recently used evicted for a new one, at
 * most US_REASM_SRC_SLOTS per source, any overlap other than an exact duplicate drops the
 * whole datagram, nothing beyond 65535 bytes).
 *
 * The stack has a static ARP entry for the peer, so answers go straight out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

#define SEC US_NS_PER_SEC
#define ECHO_ID 0x3c3c

static const struct tu_opts statik = { .static_peer = true };

/* An echo request frame from the peer with header h; returns its length. */
static size_t echo_frame(uint8_t *f, const struct tu_iph *h, uint16_t seq, const uint8_t *data,
			 size_t len)
{
	static uint8_t ebuf[70000];
	size_t n = tu_icmp_echo(ebuf, 8, ECHO_ID, seq, data, len);
	return tu_ip_frame(f, h, ebuf, n);
}

/*
 * Reassemble the IPv4 datagram with protocol proto that the stack sent in
 * out (one or many fragments, any order) into buf; returns the payload
 * length, or -1 if the fragments do not make one whole datagram. Checks
 * each fragment's shape on the way.
 */
static int reassemble(const struct tu_frames *out, uint8_t proto, uint32_t mtu, uint8_t *buf,
		      size_t cap, int *nfrags)
{
	static uint8_t have[65536];
	memset(have, 0, sizeof have);
	size_t total = 0;
	bool seen_last = false;
	int n = 0, id = -1;
	for (int i = 0; i < out->n; i++) {
		struct tu_ipv ip;
		if (!tu_parse_ip(out->f[i].data, out->f[i].len, &ip) || ip.proto != proto)
			continue;
		n++;
		CU_ASSERT(ip.total_len <= mtu);
		CU_ASSERT(out->f[i].len <= mtu + TU_ETH_HLEN);
		CU_ASSERT_EQUAL(ip.frag_off % 8, 0);
		CU_ASSERT_FALSE(ip.df);
		if (ip.mf)
			CU_ASSERT_EQUAL(ip.plen % 8, 0);
		if (id < 0)
			id = ip.id;
		CU_ASSERT_EQUAL(ip.id, id);
		if (ip.frag_off + ip.plen > cap)
			return -1;
		for (size_t k = ip.frag_off; k < ip.frag_off + ip.plen; k++) {
			CU_ASSERT(!have[k]);
			have[k] = 1;
		}
		memcpy(buf + ip.frag_off, ip.payload, ip.plen);
		if (!ip.mf) {
			CU_ASSERT_FALSE(seen_last);
			seen_last = true;
			total = ip.frag_off + ip.plen;
		}
	}
	if (nfrags)
		*nfrags = n;
	if (!seen_last)
		return -1;
	for (size_t k = 0; k < total; k++)
		if (!have[k])
			return -1;
	for (size_t k = total; k < sizeof have; k++)
		if (have[k])
			return -1;
	return (int)total;
}

/* Check that out holds exactly one echo reply (possibly fragmented) for seq/data. */
static void expect_reply(const struct tu_frames *out, uint16_t seq, const uint8_t *data,
			 size_t len, uint32_t mtu, int want_frags)
{
	static uint8_t buf[65536];
	int nf = 0;
	int n = reassemble(out, 1, mtu, buf, sizeof buf, &nf);
	CU_ASSERT_EQUAL(n, (int)(8 + len));
	if (n != (int)(8 + len))
		return;
	if (want_frags)
		CU_ASSERT_EQUAL(nf, want_frags);
	CU_ASSERT_EQUAL(buf[0], 0);
	CU_ASSERT_EQUAL(buf[1], 0);
	CU_ASSERT_EQUAL(tu_get16(buf + 4), ECHO_ID);
	CU_ASSERT_EQUAL(tu_get16(buf + 6), seq);
	CU_ASSERT(len == 0 || memcmp(buf + 8, data, len) == 0);
	CU_ASSERT_EQUAL(tu_csum(buf, (size_t)n), 0);
	for (int i = 0; i < out->n; i++) {
		struct tu_ipv ip;
		if (!tu_parse_ip(out->f[i].data, out->f[i].len, &ip))
			continue;
		CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
		CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
		CU_ASSERT(memcmp(out->f[i].data, tu_peer_mac, 6) == 0);
	}
}

/* ---- validation ------------------------------------------------------------ */

/* Inject a bad frame: exactly counter id moves, nothing is delivered or sent. */
static void expect_drop(struct tu *t, const uint8_t *f, size_t len, enum us_stat_id id)
{
	uint64_t before = us_stack_stat(t->st, id);
	uint64_t rx = TU_STAT(t, IP_RX), deliv = TU_STAT(t, IP_DELIVERED);
	uint64_t icmp = TU_STAT(t, ICMP_RX);
	tu_inject(t, f, len);
	CU_ASSERT_EQUAL(us_stack_stat(t->st, id), before + 1);
	CU_ASSERT_EQUAL(TU_STAT(t, IP_RX), rx + 1);
	CU_ASSERT_EQUAL(TU_STAT(t, IP_DELIVERED), deliv);
	CU_ASSERT_EQUAL(TU_STAT(t, ICMP_RX), icmp);
	CU_ASSERT_EQUAL(tu_collect(t, NULL), 0);
}

static void test_ipv4_header_validation(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	static uint8_t f[256];
	uint8_t data[16];
	tu_pattern(data, sizeof data, 7);
	struct tu_iph h;
	size_t n;

	h = tu_iph_peer(1);
	h.version = 6;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_VERSION);

	h = tu_iph_peer(1);
	h.ihl = 4;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_IHL);

	h = tu_iph_peer(1);
	h.ihl = 0x10;   /* written as IHL 0 (the field is 4 bits) */
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_IHL);

	/* IHL 15 (60 bytes) but only 44 bytes of IP in the frame. */
	h = tu_iph_peer(1);
	h.ihl = 15;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_IHL);

	/* Total length beyond the frame. */
	h = tu_iph_peer(1);
	h.total_len = 20 + 8 + sizeof data + 100;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_LENGTH);

	/* Total length below the header length. */
	h = tu_iph_peer(1);
	h.total_len = 19;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_LENGTH);

	/* Header (IHL 15) longer than the total length, though inside the frame. */
	h = tu_iph_peer(1);
	h.ihl = 15;
	h.total_len = 44;
	memset(f, 0, sizeof f);
	n = echo_frame(f, &h, 1, data, sizeof data);
	expect_drop(&t, f, n + 40, US_STAT_IP_DROP_LENGTH);

	/* Cut in the middle of the payload. */
	h = tu_iph_peer(1);
	n = echo_frame(f, &h, 1, data, sizeof data);
	expect_drop(&t, f, n - 5, US_STAT_IP_DROP_LENGTH);

	h = tu_iph_peer(1);
	h.bad_csum = true;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_CHECKSUM);

	/* Truncated below 20 bytes, and no IP bytes at all. */
	h = tu_iph_peer(1);
	echo_frame(f, &h, 1, data, sizeof data);
	expect_drop(&t, f, TU_ETH_HLEN + 19, US_STAT_IP_DROP_SHORT);
	expect_drop(&t, f, TU_ETH_HLEN, US_STAT_IP_DROP_SHORT);

	/* Not ours (we do not forward). */
	h = tu_iph_peer(1);
	h.dst = tu_ip(10, 0, 0, 77);
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_NOT_OURS);
	h.dst = tu_ip(192, 0, 2, 1);
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_NOT_OURS);

	/* RFC 1122 3.2.1.3: broadcast or multicast source. */
	h = tu_iph_peer(1);
	h.src = 0xffffffffu;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_SRC);
	h.src = TU_BCAST_IP;
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_SRC);
	h.src = tu_ip(224, 0, 0, 1);
	expect_drop(&t, f, echo_frame(f, &h, 1, data, sizeof data), US_STAT_IP_DROP_SRC);

	/* Control: the same request, well formed, is answered. */
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX_ECHO_REP), 0);
	struct tu_frames out = { 0 };
	h = tu_iph_peer(1);
	tu_inject(&t, f, echo_frame(f, &h, 1, data, sizeof data));
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 1);
	expect_reply(&out, 1, data, sizeof data, 1500, 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_DELIVERED), 1);
	tu_frames_free(&out);
	tu_close(&t);
}

/* TTL 0 or 1 is no reason for a host to drop (RFC 1122 3.2.1.7); padding is ignored. */
static void test_ipv4_ttl_and_padding(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	static uint8_t f[256];
	struct tu_iph h = tu_iph_peer(1);
	h.ttl = 1;
	tu_inject(&t, f, echo_frame(f, &h, 5, NULL, 0));
	tu_collect(&t, &out);
	expect_reply(&out, 5, NULL, 0, 1500, 1);

	/* A 28-byte datagram in a 60-byte frame: the reply carries no padding. */
	tu_frames_clear(&out);
	memset(f, 0xa5, sizeof f);
	h = tu_iph_peer(1);
	echo_frame(f, &h, 6, NULL, 0);
	tu_inject(&t, f, 60);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 1);
	expect_reply(&out, 6, NULL, 0, 1500, 1);
	tu_frames_free(&out);
	tu_close(&t);
}

/* Options (IHL > 5) are skipped; the datagram is still delivered. */
static void test_ipv4_options(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames out = { 0 };
	static uint8_t f[256];
	uint8_t data[40];
	tu_pattern(data, sizeof data, 11);

	static const uint8_t nop_eol[4] = { 1, 1, 1, 0 };  /* NOP NOP NOP EOL */
	struct tu_iph h = tu_iph_peer(1);
	h.opts = nop_eol;
	h.optlen = sizeof nop_eol;
	tu_inject(&t, f, echo_frame(f, &h, 1, data, sizeof data));
	tu_collect(&t, &out);
	expect_reply(&out, 1, data, sizeof data, 1500, 1);

	/* The largest header: 40 bytes of options (IHL 15). */
	uint8_t forty[40];
	memset(forty, 1, sizeof forty);
	forty[39] = 0;
	h.opts = forty;
	h.optlen = sizeof forty;
	tu_frames_clear(&out);
	tu_inject(&t, f, echo_frame(f, &h, 2, data, sizeof data));
	tu_collect(&t, &out);
	expect_reply(&out, 2, data, sizeof data, 1500, 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_DELIVERED), 2);
	tu_frames_free(&out);
	tu_close(&t);
}

/* ---- reassembly ------------------------------------------------------------- */

static uint8_t msg[70000];

/* Fragments of an echo request (seq, len data bytes of pattern pat). */
static int echo_fragments(struct tu_frames *l, uint16_t ipid, uint16_t seq, uint8_t *data,
			  size_t len, unsigned pat, size_t frag_bytes)
{
	tu_pattern(data, len, pat);
	size_t n = tu_icmp_echo(msg, 8, ECHO_ID, seq, data, len);
	struct tu_iph h = tu_iph_peer(1);
	h.id = ipid;
	return tu_fragment(l, &h, msg, n, frag_bytes);
}

static void reasm_in_order(const int *order, int n)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1200];
	/* 1208 bytes of ICMP in fragments of 400: 400, 400, 400, 8. */
	CU_ASSERT_EQUAL_FATAL(echo_fragments(&frags, 0x1111, 3, data, sizeof data, 21, 400), 4);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);     /* nothing before the end */
		tu_inject(&t, frags.f[order[i]].data, frags.f[order[i]].len);
	}
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 1);
	expect_reply(&out, 3, data, sizeof data, 1500, 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_RX), (uint64_t)n);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 1);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	/* Nothing is left to time out. */
	tu_frames_clear(&out);
	tu_run(&t, 40 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 0);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_ipv4_reasm_in_order(void)
{
	static const int o[] = { 0, 1, 2, 3 };
	reasm_in_order(o, 4);
}

static void test_ipv4_reasm_out_of_order(void)
{
	static const int o[] = { 2, 0, 3, 1 };
	reasm_in_order(o, 4);
	static const int o2[] = { 1, 3, 0, 2 };
	reasm_in_order(o2, 4);
}

static void test_ipv4_reasm_reverse(void)
{
	static const int o[] = { 3, 2, 1, 0 };
	reasm_in_order(o, 4);
}

static void test_ipv4_reasm_duplicate(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1200];
	echo_fragments(&frags, 0x2222, 4, data, sizeof data, 22, 400);
	static const int order[] = { 1, 0, 1, 3, 0 };
	tu_inject_all(&t, &frags, order, 5);
	/*
	 * A fragment wholly inside what is held ([0, 800) by now), with the
	 * same bytes, is a duplicate too even though it matches no single
	 * fragment received.
	 */
	static uint8_t f[1600];
	struct tu_iph h = tu_iph_peer(1);
	h.id = 0x2222;
	h.frag_off = 200;
	h.mf = true;
	tu_inject(&t, f, tu_ip_frame(f, &h, msg + 200, 400));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_DUP), 3);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_inject(&t, frags.f[2].data, frags.f[2].len);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 1);
	expect_reply(&out, 4, data, sizeof data, 1500, 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_DUP), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OVERLAP), 0);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

/*
 * An overlapping fragment whose bytes differ drops the whole datagram: no
 * reply, ever, even when the rest arrives (it starts a new datagram that
 * lacks its first part and times out silently).
 */
static void overlap_case(size_t ov_off, size_t ov_len, bool same_bytes)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1200];
	echo_fragments(&frags, 0x3333, 5, data, sizeof data, 23, 400);
	tu_inject(&t, frags.f[0].data, frags.f[0].len);
	tu_inject(&t, frags.f[1].data, frags.f[1].len);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 1);

	/* [ov_off, ov_off + ov_len) of the ICMP message, MF set. */
	static uint8_t bytes[1208], f[1600];
	memcpy(bytes, msg + ov_off, ov_len);
	if (!same_bytes)
		bytes[ov_len / 2] ^= 0x5a;
	struct tu_iph h = tu_iph_peer(1);
	h.id = 0x3333;
	h.frag_off = (uint16_t)ov_off;
	h.mf = true;
	tu_inject(&t, f, tu_ip_frame(f, &h, bytes, ov_len));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OVERLAP), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_DUP), 0);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);

	tu_inject(&t, frags.f[2].data, frags.f[2].len);
	tu_inject(&t, frags.f[3].data, frags.f[3].len);
	tu_run(&t, 31 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, ICMP_TX), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 1);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_ipv4_reasm_overlap(void)
{
	overlap_case(200, 400, false);   /* straddles fragments 0 and 1 */
	overlap_case(400, 400, false);   /* same range as fragment 1, other bytes */
	overlap_case(408, 160, false);   /* inside fragment 1, other bytes */
	overlap_case(600, 400, false);   /* from inside fragment 1 into the hole beyond */
	overlap_case(600, 400, true);    /* the same, with bytes that agree where they overlap */
}

/* The largest datagram (65535 bytes) completes and is echoed, fragmented. */
static void test_ipv4_reasm_max_size(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[US_PING_MAX_DATA];
	int n = echo_fragments(&frags, 0x4444, 6, data, sizeof data, 24, 1480);
	CU_ASSERT_EQUAL(n, 45);
	/* Shuffled deterministically: odd ones first, then even. */
	static int order[64];
	int k = 0;
	for (int i = 1; i < n; i += 2)
		order[k++] = i;
	for (int i = 0; i < n; i += 2)
		order[k++] = i;
	tu_inject_all(&t, &frags, order, n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TOO_BIG), 0);
	expect_reply(&out, 6, data, sizeof data, 1500, 45);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_ipv4_reasm_too_big(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	static uint8_t f[1600], data[1480];
	tu_pattern(data, sizeof data, 25);
	struct tu_iph h = tu_iph_peer(1);
	h.id = 0x5555;

	/* First fragment, then a last one ending at 65516: 20 + 65516 > 65535. */
	h.mf = true;
	tu_inject(&t, f, tu_ip_frame(f, &h, data, 1480));
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 1);
	h.mf = false;
	h.frag_off = 65512;
	tu_inject(&t, f, tu_ip_frame(f, &h, data, 4));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TOO_BIG), 1);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);

	/* Alone, with the largest offset and 100 bytes. */
	h.id = 0x5556;
	tu_inject(&t, f, tu_ip_frame(f, &h, data, 100));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TOO_BIG), 2);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);

	/* Ending at exactly 65515 (a 65535-byte datagram) is allowed. */
	h.id = 0x5557;
	tu_inject(&t, f, tu_ip_frame(f, &h, data, 3));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TOO_BIG), 2);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 1);

	/* No first fragment: the timeout sends nothing. */
	struct tu_frames out = { 0 };
	tu_run(&t, 30 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 1);

	/*
	 * 65512 bytes of payload fit behind a 20-byte header, but this
	 * datagram's header carries 4 bytes of options: 24 + 65512 > 65535,
	 * found when it completes.
	 */
	struct tu_frames frags = { 0 };
	static uint8_t big[65512];
	tu_pattern(big, sizeof big, 29);
	static const uint8_t nops[4] = { 1, 1, 1, 0 };
	struct tu_iph oh = tu_iph_peer(1);
	oh.id = 0x5558;
	oh.opts = nops;
	oh.optlen = sizeof nops;
	CU_ASSERT_EQUAL(tu_fragment(&frags, &oh, big, sizeof big, 8000), 9);
	tu_inject_all(&t, &frags, NULL, frags.n);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TOO_BIG), 3);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 0);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_frames_free(&frags);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_ipv4_reasm_timeout(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1200];
	echo_fragments(&frags, 0x6666, 7, data, sizeof data, 26, 400);
	uint64_t t0 = us_stack_now(t.st);
	tu_inject(&t, frags.f[0].data, frags.f[0].len);
	tu_inject(&t, frags.f[2].data, frags.f[2].len);

	tu_run(&t, 30 * SEC - 1, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 0);

	tu_run(&t, 1, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 1);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	CU_ASSERT_EQUAL(out.f[0].ts, t0 + 30 * SEC);
	struct tu_ipv ip;
	CU_ASSERT_FATAL(tu_parse_ip(out.f[0].data, out.f[0].len, &ip));
	CU_ASSERT(memcmp(out.f[0].data, tu_peer_mac, 6) == 0);
	CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
	CU_ASSERT_EQUAL(ip.dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(ip.proto, 1);
	/* Time exceeded, code 1: fragment reassembly time exceeded. */
	const uint8_t *m = ip.payload;
	CU_ASSERT_FATAL(ip.plen == 8 + 20 + 8);
	CU_ASSERT_EQUAL(m[0], 11);
	CU_ASSERT_EQUAL(m[1], 1);
	CU_ASSERT_EQUAL(tu_csum(m, ip.plen), 0);
	CU_ASSERT_EQUAL(m[4] | m[5] | m[6] | m[7], 0);
	/* The quote: fragment zero's header as received, then its first 8 bytes. */
	CU_ASSERT(memcmp(m + 8, frags.f[0].data + TU_ETH_HLEN, 20 + 8) == 0);

	/* Again with only a later fragment: counted, but no message. */
	tu_frames_clear(&out);
	tu_inject(&t, frags.f[1].data, frags.f[1].len);
	tu_run(&t, 31 * SEC, &out);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), 2);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

/*
 * A first fragment (400 of 1208 bytes, MF set) of an echo request from src
 * that nothing will ever complete.
 */
static void inject_bogus_first(struct tu *t, uint32_t src, uint16_t ipid)
{
	static uint8_t data[1200];
	tu_pattern(data, sizeof data, ipid);
	size_t n = tu_icmp_echo(msg, 8, ECHO_ID, ipid, data, sizeof data);
	struct tu_iph h = tu_iph_peer(1);
	h.src = src;
	h.id = ipid;
	struct tu_frames l = { 0 };
	CU_ASSERT_EQUAL_FATAL(tu_fragment(&l, &h, msg, n, 400), 4);
	tu_inject(t, l.f[0].data, l.f[0].len);
	tu_frames_free(&l);
}

/* A host on the stack's subnet other than the peer: 10.0.0.(100 + i). */
static uint32_t other_host(int i)
{
	return tu_ip(10, 0, 0, (unsigned)(100 + i));
}

/* The peer's fragmented ping (1200 bytes in 4 fragments) is answered now. */
static void expect_fragmented_ping_answered(struct tu *t, uint16_t ipid, uint16_t seq)
{
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1200];
	CU_ASSERT_EQUAL_FATAL(echo_fragments(&frags, ipid, seq, data, sizeof data, seq, 400), 4);
	tu_inject_all(t, &frags, NULL, frags.n);
	tu_collect(t, &out);
	expect_reply(&out, seq, data, sizeof data, 1500, 1);
	tu_frames_free(&frags);
	tu_frames_free(&out);
}

/*
 * Issue 8 item 11: US_REASM_SLOTS never-completing first fragments, each
 * from its own (spoofed) source, take every slot; a fragmented ping that
 * comes next is still answered at once: the least recently used incomplete
 * datagram is evicted for it (before, it was refused for 30 s).
 */
static void test_ipv4_reasm_hostage_sources(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	for (int i = 0; i < US_REASM_SLOTS; i++)
		inject_bogus_first(&t, other_host(i), (uint16_t)(0x7000 + i));
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), US_REASM_SLOTS);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_EVICTED), 0);
	expect_fragmented_ping_answered(&t, 0x1234, 7);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_EVICTED), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_SRC_EVICTED), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_LIMIT), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_OK), 1);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), US_REASM_SLOTS - 1);
	/* The rest still time out, each with its time exceeded message. */
	tu_run(&t, 31 * SEC, NULL);
	tu_run(&t, 10 * SEC, NULL);  /* ARP for the other hosts gives up: its queue empties */
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), US_REASM_SLOTS - 1);
	tu_close(&t);
}

/*
 * The same flood from the ping's own source: that source only ever holds
 * its share of the slots (US_REASM_SRC_SLOTS), each new datagram evicting
 * its own oldest, so other sources keep the rest; and its own ping is
 * still answered.
 */
static void test_ipv4_reasm_hostage_one_source(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	/* Another host's datagram in progress first: the flood must not touch it. */
	inject_bogus_first(&t, other_host(0), 0x6000);
	for (int i = 0; i < US_REASM_SLOTS; i++)
		inject_bogus_first(&t, TU_PEER_IP, (uint16_t)(0x7000 + i));
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 1 + US_REASM_SRC_SLOTS);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_SRC_EVICTED),
			(uint64_t)(US_REASM_SLOTS - US_REASM_SRC_SLOTS));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_EVICTED), 0);
	expect_fragmented_ping_answered(&t, 0x1234, 9);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_SRC_EVICTED),
			(uint64_t)(US_REASM_SLOTS - US_REASM_SRC_SLOTS + 1));
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), US_REASM_SRC_SLOTS);
	/* The other host's datagram survived: its timeout is the one left. */
	uint64_t to = TU_STAT(&t, IP_REASM_TIMEOUT);
	tu_run(&t, 31 * SEC, NULL);
	tu_run(&t, 10 * SEC, NULL);  /* ARP for the other hosts gives up: its queue empties */
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_TIMEOUT), to + US_REASM_SRC_SLOTS);
	tu_close(&t);
}

/*
 * Eviction takes the least recently used datagram (the one whose last
 * fragment is oldest), not the first created: a datagram still receiving
 * fragments survives a full table and completes.
 */
static void test_ipv4_reasm_evicts_lru(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[1200];
	CU_ASSERT_EQUAL_FATAL(echo_fragments(&frags, 0x5555, 4, data, sizeof data, 44, 400), 4);
	/* The peer's datagram is the first created... */
	tu_inject(&t, frags.f[0].data, frags.f[0].len);
	for (int i = 0; i < US_REASM_SLOTS - 1; i++)
		inject_bogus_first(&t, other_host(i), (uint16_t)(0x7000 + i));
	/* ...but used last; the next newcomer evicts other_host(0)'s. */
	tu_inject(&t, frags.f[1].data, frags.f[1].len);
	inject_bogus_first(&t, other_host(20), 0x7100);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_EVICTED), 1);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), US_REASM_SLOTS);
	tu_inject(&t, frags.f[2].data, frags.f[2].len);
	tu_inject(&t, frags.f[3].data, frags.f[3].len);
	tu_collect(&t, &out);
	expect_reply(&out, 4, data, sizeof data, 1500, 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_EVICTED), 1);
	/* other_host(0)'s was the one evicted: its second fragment now needs a slot of its own. */
	static uint8_t d0[1200];
	tu_pattern(d0, sizeof d0, 0x7000);
	size_t n = tu_icmp_echo(msg, 8, ECHO_ID, 0x7000, d0, sizeof d0);
	struct tu_iph h = tu_iph_peer(1);
	h.src = other_host(0);
	h.id = 0x7000;
	struct tu_frames l = { 0 };
	tu_fragment(&l, &h, msg, n, 400);
	int active = us_ipv4_reasm_active(t.st);
	tu_inject(&t, l.f[1].data, l.f[1].len);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), active + 1);
	/* other_host(1)'s is still there: its second fragment joins it. */
	tu_pattern(d0, sizeof d0, 0x7001);
	n = tu_icmp_echo(msg, 8, ECHO_ID, 0x7001, d0, sizeof d0);
	h.src = other_host(1);
	h.id = 0x7001;
	tu_frames_free(&l);
	tu_fragment(&l, &h, msg, n, 400);
	tu_inject(&t, l.f[1].data, l.f[1].len);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), active + 1);
	tu_frames_free(&l);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

/* Fragments that cannot be: empty, or not a multiple of 8 with MF set. */
static void test_ipv4_reasm_bad_fragments(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	static uint8_t f[1600], data[100];
	struct tu_iph h = tu_iph_peer(1);
	h.id = 0x8888;
	h.mf = true;
	tu_inject(&t, f, tu_ip_frame(f, &h, data, 0));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_BAD), 1);
	tu_inject(&t, f, tu_ip_frame(f, &h, data, 13));
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_REASM_BAD), 2);
	CU_ASSERT_EQUAL(us_ipv4_reasm_active(t.st), 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	tu_close(&t);
}

/* ---- fragmentation on output -------------------------------------------------- */

static void frag_reply_case(uint32_t mtu, size_t len, size_t in_frag, int want_frags)
{
	struct tu_opts o = { .static_peer = true, .mtu = mtu };
	struct tu t;
	if (!tu_open(&t, &o))
		return;
	struct tu_frames frags = { 0 }, out = { 0 };
	static uint8_t data[8000];
	echo_fragments(&frags, 0x9999, 8, data, len, 27, in_frag);
	tu_inject_all(&t, &frags, NULL, frags.n);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, want_frags);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_CREATED), (uint64_t)(want_frags > 1 ? want_frags : 0));
	expect_reply(&out, 8, data, len, mtu, want_frags);
	tu_frames_free(&frags);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_ipv4_fragment_output(void)
{
	/* 4008 bytes of ICMP at MTU 1500: 1480 + 1480 + 1048. */
	frag_reply_case(1500, 4000, 1480, 3);
	/* MTU 576: (576 - 20) rounded down to 8 is 552 per fragment; 2008 -> 4. */
	frag_reply_case(576, 2000, 552, 4);
	/* MTU 1000 (980 is not a multiple of 8: 976 per fragment); 2960 -> 4. */
	frag_reply_case(1000, 2952, 976, 4);
	/* Exactly the MTU: no fragmentation. */
	frag_reply_case(1500, 1472, 1480, 1);
}

static void test_ipv4_df_too_big(void)
{
	struct tu t;
	if (!tu_open(&t, &statik))
		return;
	static uint8_t data[2000];
	tu_pattern(data, sizeof data, 28);
	uint8_t hdr[8] = { 0 };
	struct us_ip_tx tx = {
		.dst = TU_PEER_IP, .proto = 253, .df = true, .ifindex = -1,
	};
	CU_ASSERT_EQUAL(us_ipv4_send(t.st, &tx, hdr, sizeof hdr, data, 1500), -EMSGSIZE);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_DF), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, IP_FRAG_CREATED), 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);

	/* Fits: sent whole with DF set. */
	struct tu_frames out = { 0 };
	CU_ASSERT_EQUAL(us_ipv4_send(t.st, &tx, hdr, sizeof hdr, data, 1472), 0);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	struct tu_ipv ip;
	CU_ASSERT_FATAL(tu_parse_ip(out.f[0].data, out.f[0].len, &ip));
	CU_ASSERT_TRUE(ip.df);
	CU_ASSERT_FALSE(ip.mf);
	CU_ASSERT_EQUAL(ip.total_len, 1500);

	/* Echo payloads beyond what one datagram holds are refused. */
	uint16_t id;
	int h = us_ping_open(t.st, &id);
	CU_ASSERT_FATAL(h >= 0);
	static uint8_t big[US_PING_MAX_DATA + 1];
	struct in_addr dst = { TU_PEER_IP };
	errno = 0;
	CU_ASSERT_EQUAL(us_ping_send(t.st, h, dst, 1, 0, big, sizeof big), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	us_ping_close(t.st, h);
	tu_frames_free(&out);
	tu_close(&t);
}

US_SUITE(ipv4, NULL, NULL,
	 US_TEST(test_ipv4_header_validation),
	 US_TEST(test_ipv4_ttl_and_padding),
	 US_TEST(test_ipv4_options),
	 US_TEST(test_ipv4_reasm_in_order),
	 US_TEST(test_ipv4_reasm_out_of_order),
	 US_TEST(test_ipv4_reasm_reverse),
	 US_TEST(test_ipv4_reasm_duplicate),
	 US_TEST(test_ipv4_reasm_overlap),
	 US_TEST(test_ipv4_reasm_max_size),
	 US_TEST(test_ipv4_reasm_too_big),
	 US_TEST(test_ipv4_reasm_timeout),
	 US_TEST(test_ipv4_reasm_hostage_sources),
	 US_TEST(test_ipv4_reasm_hostage_one_source),
	 US_TEST(test_ipv4_reasm_evicts_lru),
	 US_TEST(test_ipv4_reasm_bad_fragments),
	 US_TEST(test_ipv4_fragment_output),
	 US_TEST(test_ipv4_df_too_big));
