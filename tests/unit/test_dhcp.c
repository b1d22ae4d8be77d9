/*
 * test_dhcp.c — the DHCP client (core/dhcp.c, core/wire/dhcp.c) on the
 * pair wire in deterministic mode; the test plays the server.
 *
 * The stack's eth0 has no address and dhcp4: true; the server is the
 * peer, 10.0.0.2 (static ARP entry), and leases 10.0.0.7/24 with router
 * 10.0.0.2 and DNS 10.0.0.53, 10.0.0.54. Server messages are crafted
 * here byte by byte (RFC 2131 figure 1, RFC 2132 options), never with
 * the library's builder, and the client's messages are read with this
 * file's own option walker. Expected values come from RFC 2131: 4.1
 * (retransmission 4 s doubled to 64 s, +-1 s; broadcast flag; xid),
 * 4.3.2 (REQUEST fields per state), 4.4.1 (ARP check, DECLINE, times
 * counted from the REQUEST), 4.4.5 (T1 renew unicast, T2 rebind
 * broadcast, retransmission at half the time left but not under 60 s,
 * expiry), 4.4.6 (RELEASE), 3.1.4 / 4.4 (NAK: back to INIT).
 */
#include <arpa/inet.h>
#include <string.h>

#include "dhcp.h"
#include "harness.h"
#include "stackutil.h"

#define SEC 1000000000ULL
#define SRV_IP   TU_PEER_IP
#define LEASE_IP tu_ip(10, 0, 0, 7)
#define DNS1     tu_ip(10, 0, 0, 53)
#define DNS2     tu_ip(10, 0, 0, 54)

static bool dh_open(struct tu *t, const char *tag)
{
	struct us_config cfg;
	char wire[96];
	tu_wire_name(wire, sizeof wire, tag);
	struct tu_opts o = { .static_peer = true };
	tu_config(&cfg, wire, &o);
	cfg.ifaces[0].naddrs = 0;
	cfg.ifaces[0].dhcp4 = true;
	if (!tu_open_cfg(t, &cfg))
		return false;
	CU_ASSERT_EQUAL(us_stack_up(t->st), 0);
	return true;
}

/* ---- reading the client's messages ---------------------------------------- */

struct msg {
	int idx;
	uint64_t ts;
	struct tu_ipv ip;
	const uint8_t *eth_dst;
	const uint8_t *d;          /* the DHCP message */
	size_t len;
	uint32_t xid, ciaddr;
	uint16_t flags;
	uint8_t type;
};

/* The value of option code in m (RFC 2132 2: code, length, value), len in *n. */
static const uint8_t *opt(const struct msg *m, uint8_t code, size_t *n)
{
	for (size_t i = 240; i < m->len;) {
		uint8_t c = m->d[i];
		if (c == 255)
			break;
		if (c == 0) {
			i++;
			continue;
		}
		if (i + 2 > m->len || i + 2 + m->d[i + 1] > m->len)
			break;
		if (c == code) {
			*n = m->d[i + 1];
			return m->d + i + 2;
		}
		i += 2 + (size_t)m->d[i + 1];
	}
	return NULL;
}

static uint32_t opt_addr(const struct msg *m, uint8_t code)
{
	size_t n = 0;
	const uint8_t *v = opt(m, code, &n);
	uint32_t a = 0;
	if (v && n == 4)
		memcpy(&a, v, 4);
	return a;
}

/* The first client message of type (0: any) in l from index from. */
static bool find_msg(const struct tu_frames *l, int from, uint8_t type, struct msg *m)
{
	for (int i = from; i < l->n; i++) {
		const struct tu_frame *f = &l->f[i];
		memset(m, 0, sizeof *m);
		if (!tu_parse_ip(f->data, f->len, &m->ip) || m->ip.proto != 17 || m->ip.plen < 8 + 240)
			continue;
		const uint8_t *u = m->ip.payload;
		if (tu_get16(u) != 68 || tu_get16(u + 2) != 67)
			continue;
		m->idx = i;
		m->ts = f->ts;
		m->eth_dst = f->data;
		m->d = u + 8;
		m->len = m->ip.plen - 8;
		m->xid = (uint32_t)tu_get16(m->d + 4) << 16 | tu_get16(m->d + 6);
		m->flags = tu_get16(m->d + 10);
		memcpy(&m->ciaddr, m->d + 12, 4);
		size_t n = 0;
		const uint8_t *t = opt(m, 53, &n);
		m->type = t && n == 1 ? t[0] : 0;
		if (m->d[0] == 1 && (type == 0 || m->type == type))
			return true;
	}
	return false;
}

static int count_msgs(const struct tu_frames *l, uint8_t type)
{
	struct msg m;
	int n = 0;
	for (int i = 0; find_msg(l, i, type, &m); i = m.idx + 1)
		n++;
	return n;
}

/* ---- crafting the server's messages --------------------------------------- */

static uint8_t *o_addr(uint8_t *o, uint8_t code, uint32_t a)
{
	o[0] = code;
	o[1] = 4;
	memcpy(o + 2, &a, 4);
	return o + 6;
}

static uint8_t *o_u32(uint8_t *o, uint8_t code, uint32_t v)
{
	o[0] = code;
	o[1] = 4;
	o[2] = (uint8_t)(v >> 24);
	o[3] = (uint8_t)(v >> 16);
	o[4] = (uint8_t)(v >> 8);
	o[5] = (uint8_t)v;
	return o + 6;
}

struct lease_opts {
	uint8_t type;
	uint32_t server;           /* 0: SRV_IP */
	uint32_t lease, t1, t2;    /* 0: option left out */
	bool no_server_id;
};

/* The options of an OFFER/ACK/NAK: 53, 54, 1 /24, 3, 6 (two), 51, 58, 59, end. */
static size_t std_opts(uint8_t *o0, const struct lease_opts *lo)
{
	uint8_t *o = o0;
	*o++ = 53;
	*o++ = 1;
	*o++ = lo->type;
	if (!lo->no_server_id)
		o = o_addr(o, 54, lo->server ? lo->server : SRV_IP);
	if (lo->type != 6) {
		o = o_addr(o, 1, tu_ip(255, 255, 255, 0));
		o = o_addr(o, 3, SRV_IP);
		*o++ = 6;
		*o++ = 8;
		memcpy(o, &(uint32_t){ DNS1 }, 4);
		memcpy(o + 4, &(uint32_t){ DNS2 }, 4);
		o += 8;
		if (lo->lease)
			o = o_u32(o, 51, lo->lease);
		if (lo->t1)
			o = o_u32(o, 58, lo->t1);
		if (lo->t2)
			o = o_u32(o, 59, lo->t2);
	}
	*o++ = 255;
	return (size_t)(o - o0);
}

/*
 * A BOOTREPLY from the server (10.0.0.2:67) to dst:68, Ethernet
 * broadcast, with xid, yiaddr and the options given; padded to 300.
 */
static size_t reply_frame(uint8_t *f, uint32_t xid, uint32_t yiaddr, const uint8_t *opts,
			  size_t optlen, uint32_t dst)
{
	uint8_t d[600], u[620];
	memset(d, 0, sizeof d);
	d[0] = 2;                  /* BOOTREPLY */
	d[1] = 1;
	d[2] = 6;
	tu_put16(d + 4, (uint16_t)(xid >> 16));
	tu_put16(d + 6, (uint16_t)xid);
	memcpy(d + 16, &yiaddr, 4);
	memcpy(d + 28, tu_stack_mac, 6);
	d[236] = 0x63;
	d[237] = 0x82;
	d[238] = 0x53;
	d[239] = 0x63;
	memcpy(d + 240, opts, optlen);
	size_t dl = 240 + optlen < 300 ? 300 : 240 + optlen;
	size_t ul = tu_udp(u, SRV_IP, dst, 67, 68, d, dl);
	struct tu_iph h = tu_iph_peer(17);
	h.dst = dst;
	size_t n = tu_eth(f, tu_bcast_mac, tu_peer_mac, 0x0800);
	return n + tu_ip4(f + n, &h, u, ul);
}

static void inject_reply(struct tu *t, uint32_t xid, uint32_t yiaddr, const struct lease_opts *lo)
{
	uint8_t o[128], f[1600];
	size_t ol = std_opts(o, lo);
	tu_inject(t, f, reply_frame(f, xid, yiaddr, o, ol, 0xffffffffu));
}

/* Is the leased address answering pings (the stack uses it)? */
static bool answers_ping(struct tu *t, uint32_t addr)
{
	uint8_t icmp[16], f[128];
	size_t il = tu_icmp_echo(icmp, 8, 0x77, 1, "ping", 4);
	struct tu_iph h = tu_iph_peer(1);
	h.dst = addr;
	struct tu_frames out = { 0 };
	tu_inject(t, f, tu_ip_frame(f, &h, icmp, il));
	tu_run(t, 1000000, &out);
	int i = tu_find_icmp(&out, 0, 0);
	bool ok = false;
	if (i >= 0) {
		struct tu_ipv ip;
		ok = tu_parse_ip(out.f[i].data, out.f[i].len, &ip) && ip.src == addr;
	}
	tu_frames_free(&out);
	return ok;
}

/* The xid of the DISCOVER sent when the stack came up (0 and a failure if none). */
static uint32_t discover_xid(struct tu *t)
{
	struct tu_frames out = { 0 };
	struct msg m;
	tu_run(t, 1000, &out);
	bool ok = find_msg(&out, 0, 1, &m);
	CU_ASSERT_TRUE(ok);
	tu_frames_free(&out);
	return ok ? m.xid : 0;
}

/*
 * Answer the DISCOVER with transaction id xid up to a bound lease of
 * LEASE_IP: OFFER, REQUEST, ACK (lease/t1/t2 as given), ARP probe, 1 s of
 * silence. *t0: when the REQUEST went (RFC 2131 4.4.1: the lease counts
 * from it).
 */
static bool bind_lease_xid(struct tu *t, uint32_t xid, uint32_t lease, uint32_t t1, uint32_t t2,
			   uint64_t *t0)
{
	struct tu_frames out = { 0 };
	struct msg m;
	inject_reply(t, xid, LEASE_IP, &(struct lease_opts){ .type = 2, .lease = lease, .t1 = t1, .t2 = t2 });
	tu_frames_clear(&out);
	tu_collect(t, &out);
	bool ok = find_msg(&out, 0, 3, &m) && m.xid == xid;
	CU_ASSERT_TRUE(ok);
	*t0 = us_stack_now(t->st);
	inject_reply(t, xid, LEASE_IP, &(struct lease_opts){ .type = 5, .lease = lease, .t1 = t1, .t2 = t2 });
	tu_run(t, US_DHCP_PROBE_WAIT_NS + 1000, &out);
	tu_frames_free(&out);
	struct us_dhcp_lease l;
	CU_ASSERT_EQUAL(us_stack_dhcp_lease(t->st, 0, &l), 0);
	CU_ASSERT_STRING_EQUAL(l.state, "bound");
	return ok && l.addr.addr.s_addr == LEASE_IP;
}

/* The whole exchange from the first DISCOVER (bind_lease_xid). */
static bool bind_lease(struct tu *t, uint32_t lease, uint32_t t1, uint32_t t2, uint64_t *t0)
{
	return bind_lease_xid(t, discover_xid(t), lease, t1, t2, t0);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_dhcp_discover_fields(void)
{
	struct tu t;
	if (!dh_open(&t, __func__))
		return;
	struct tu_frames out = { 0 };
	struct msg m;
	tu_run(&t, 1000, &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 1, &m));
	CU_ASSERT_EQUAL(m.ts, US_NS_PER_SEC);              /* at once when up (virtual 1 s) */
	CU_ASSERT_EQUAL(memcmp(m.eth_dst, tu_bcast_mac, 6), 0);
	CU_ASSERT_EQUAL(m.ip.src, 0);                      /* RFC 2131 4.1: from 0.0.0.0 */
	CU_ASSERT_EQUAL(m.ip.dst, 0xffffffffu);
	CU_ASSERT_EQUAL(m.d[1], 1);                        /* htype Ethernet */
	CU_ASSERT_EQUAL(m.d[2], 6);
	CU_ASSERT_EQUAL(memcmp(m.d + 28, tu_stack_mac, 6), 0);   /* chaddr */
	CU_ASSERT_EQUAL(m.flags, 0x8000);                  /* broadcast: no address yet */
	CU_ASSERT_EQUAL(m.ciaddr, 0);
	CU_ASSERT_EQUAL(m.len >= 300, true);               /* RFC 1542: at least 300 */
	size_t n = 0;
	const uint8_t *prl = opt(&m, 55, &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(prl);
	int want[] = { 1, 3, 6, 51, 58, 59 }, have = 0;
	for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
		have += memchr(prl, want[k], n) != NULL;
	CU_ASSERT_EQUAL(have, 6);
	CU_ASSERT_PTR_NULL(opt(&m, 50, &n));               /* nothing to ask for yet */
	tu_frames_free(&out);
	tu_close(&t);
}

/* RFC 2131 4.1: 4 s, 8, 16, 32, 64, 64 ..., each +-1 s. */
static void test_dhcp_discover_backoff(void)
{
	struct tu t;
	if (!dh_open(&t, __func__))
		return;
	struct tu_frames out = { 0 };
	tu_run(&t, 200 * SEC, &out);
	struct msg m;
	uint64_t prev = 0, want[] = { 4, 8, 16, 32, 64, 64 };
	int i = 0, k = 0;
	uint32_t xid = 0;
	for (; find_msg(&out, i, 1, &m); i = m.idx + 1, k++) {
		if (k == 0) {
			xid = m.xid;
		} else if (k <= 6) {
			uint64_t gap = m.ts - prev;
			CU_ASSERT_TRUE(gap >= (want[k - 1] - 1) * SEC && gap <= (want[k - 1] + 1) * SEC);
		}
		CU_ASSERT_EQUAL(m.xid, xid);               /* one transaction */
		prev = m.ts;
	}
	/* 0, ~4, ~12, ~28, ~60, ~124, ~188: seven in 200 s. */
	CU_ASSERT_EQUAL(k, 7);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_TX_DISCOVER), 7);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_dhcp_offer_request_ack_bound(void)
{
	struct tu t;
	if (!dh_open(&t, __func__))
		return;
	struct tu_frames out = { 0 };
	struct msg m;
	uint32_t xid = discover_xid(&t);
	CU_ASSERT_FALSE(answers_ping(&t, LEASE_IP));
	inject_reply(&t, xid, LEASE_IP, &(struct lease_opts){ .type = 2, .lease = 3600 });
	tu_frames_clear(&out);
	tu_collect(&t, &out);
	/* RFC 2131 4.3.2 SELECTING: broadcast, ciaddr 0, options 50 and 54. */
	CU_ASSERT_FATAL(find_msg(&out, 0, 3, &m));
	CU_ASSERT_EQUAL(m.xid, xid);
	CU_ASSERT_EQUAL(m.ip.src, 0);
	CU_ASSERT_EQUAL(m.ip.dst, 0xffffffffu);
	CU_ASSERT_EQUAL(m.ciaddr, 0);
	CU_ASSERT_EQUAL(opt_addr(&m, 50), LEASE_IP);
	CU_ASSERT_EQUAL(opt_addr(&m, 54), SRV_IP);
	/* An ACK for another transaction is not ours. */
	inject_reply(&t, xid ^ 1, LEASE_IP, &(struct lease_opts){ .type = 5, .lease = 3600 });
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_DROP_NOT_OURS), 1);
	inject_reply(&t, xid, LEASE_IP, &(struct lease_opts){ .type = 5, .lease = 3600 });
	tu_frames_clear(&out);
	tu_collect(&t, &out);
	/* RFC 2131 4.4.1 / RFC 5227: an ARP probe, sender 0, target the address. */
	CU_ASSERT_EQUAL_FATAL(tu_count_arp(&out, 1), 1);
	const uint8_t *a = out.f[0].data + 14;
	CU_ASSERT_EQUAL(memcmp(a + 14, "\0\0\0\0", 4), 0);
	CU_ASSERT_EQUAL(memcmp(a + 24, &(uint32_t){ LEASE_IP }, 4), 0);
	struct us_dhcp_lease l;
	CU_ASSERT_EQUAL(us_stack_dhcp_lease(t.st, 0, &l), 0);
	CU_ASSERT_STRING_EQUAL(l.state, "probing");
	CU_ASSERT_EQUAL(l.addr.addr.s_addr, 0);            /* not used before the check */
	tu_run(&t, US_DHCP_PROBE_WAIT_NS, NULL);
	CU_ASSERT_EQUAL(us_stack_dhcp_lease(t.st, 0, &l), 0);
	CU_ASSERT_STRING_EQUAL(l.state, "bound");
	CU_ASSERT_EQUAL(l.addr.addr.s_addr, LEASE_IP);
	CU_ASSERT_EQUAL(l.addr.prefix, 24);
	CU_ASSERT_EQUAL(l.router.s_addr, SRV_IP);
	CU_ASSERT_EQUAL(l.ndns, 2);
	CU_ASSERT_EQUAL(l.dns[0].s_addr, DNS1);
	CU_ASSERT_EQUAL(l.lease_s, 3600);
	CU_ASSERT_EQUAL(l.t1_s, 1800);                     /* RFC 2131 4.4.5 defaults */
	CU_ASSERT_EQUAL(l.t2_s, 3150);
	CU_ASSERT_TRUE(answers_ping(&t, LEASE_IP));
	/* Routes: the subnet on eth0, anything else via the router. */
	int ifi;
	uint32_t nh, src;
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, tu_ip(192, 0, 2, 1), &ifi, &nh, &src), 0);
	CU_ASSERT_EQUAL(nh, SRV_IP);
	CU_ASSERT_EQUAL(src, LEASE_IP);
	CU_ASSERT_EQUAL(us_ipv4_route(t.st, tu_ip(10, 0, 0, 9), &ifi, &nh, &src), 0);
	CU_ASSERT_EQUAL(nh, tu_ip(10, 0, 0, 9));
	/* The resolver's servers. */
	struct in_addr ns[3];
	CU_ASSERT_EQUAL(us_dhcp_nameservers(t.st, ns, 3), 2);
	CU_ASSERT_EQUAL(ns[1].s_addr, DNS2);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_BOUND), 1);
	tu_frames_free(&out);
	tu_close(&t);
}

/* RFC 2131 4.4.5 with T1 20 s, T2 40 s, lease 100 s and a silent server. */
static void test_dhcp_renew_rebind_expire(void)
{
	struct tu t;
	uint64_t t0;
	if (!dh_open(&t, __func__) || !bind_lease(&t, 100, 20, 40, &t0)) {
		tu_close(&t);
		return;
	}
	struct tu_frames out = { 0 };
	struct msg m;
	tu_run(&t, t0 + 20 * SEC - 1000 - us_stack_now(t.st), &out);
	CU_ASSERT_EQUAL(count_msgs(&out, 3), 0);           /* nothing before T1 */
	tu_run(&t, 2000, &out);
	/* T1: RENEWING, unicast to the server from the address, ciaddr set,
	 * no requested address or server id, no broadcast flag. */
	CU_ASSERT_FATAL(find_msg(&out, 0, 3, &m));
	CU_ASSERT_EQUAL(m.ts, t0 + 20 * SEC);
	CU_ASSERT_EQUAL(memcmp(m.eth_dst, tu_peer_mac, 6), 0);
	CU_ASSERT_EQUAL(m.ip.src, LEASE_IP);
	CU_ASSERT_EQUAL(m.ip.dst, SRV_IP);
	CU_ASSERT_EQUAL(m.ciaddr, LEASE_IP);
	CU_ASSERT_EQUAL(m.flags, 0);
	CU_ASSERT_EQUAL(opt_addr(&m, 50), 0);
	CU_ASSERT_EQUAL(opt_addr(&m, 54), 0);
	/* Half of the 20 s to T2 is under 60 s: the next try is at T2,
	 * broadcast (REBINDING). */
	tu_frames_clear(&out);
	tu_run(&t, t0 + 40 * SEC + 1000 - us_stack_now(t.st), &out);
	CU_ASSERT_EQUAL_FATAL(count_msgs(&out, 3), 1);
	CU_ASSERT_FATAL(find_msg(&out, 0, 3, &m));
	CU_ASSERT_EQUAL(m.ts, t0 + 40 * SEC);
	CU_ASSERT_EQUAL(m.ip.dst, 0xffffffffu);
	CU_ASSERT_EQUAL(memcmp(m.eth_dst, tu_bcast_mac, 6), 0);
	CU_ASSERT_EQUAL(m.ip.src, LEASE_IP);
	CU_ASSERT_EQUAL(m.ciaddr, LEASE_IP);
	CU_ASSERT_TRUE(answers_ping(&t, LEASE_IP));        /* still ours */
	/* 60 s left, half is 30 < 60: the next event is the expiry at 100 s. */
	tu_frames_clear(&out);
	tu_run(&t, t0 + 100 * SEC - 1000 - us_stack_now(t.st), &out);
	CU_ASSERT_EQUAL(count_msgs(&out, 0), 0);
	tu_run(&t, 2000, &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 1, &m));         /* expired: DISCOVER */
	CU_ASSERT_EQUAL(m.ts, t0 + 100 * SEC);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_EXPIRED), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_TX_RENEW), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_TX_REBIND), 1);
	CU_ASSERT_FALSE(answers_ping(&t, LEASE_IP));
	int ifi;
	uint32_t nh, src;
	CU_ASSERT_NOT_EQUAL(us_ipv4_route(t.st, tu_ip(192, 0, 2, 1), &ifi, &nh, &src), 0);
	struct in_addr ns[3];
	CU_ASSERT_EQUAL(us_dhcp_nameservers(t.st, ns, 3), 0);
	tu_frames_free(&out);
	tu_close(&t);
}

/* An ACK to the renewal extends the lease from the renewal's REQUEST. */
static void test_dhcp_renew_ack_extends(void)
{
	struct tu t;
	uint64_t t0;
	if (!dh_open(&t, __func__) || !bind_lease(&t, 100, 20, 40, &t0)) {
		tu_close(&t);
		return;
	}
	struct tu_frames out = { 0 };
	struct msg m;
	tu_run(&t, t0 + 20 * SEC + 1000 - us_stack_now(t.st), &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 3, &m));
	uint64_t t1 = m.ts;
	/* The server answers 5 s late. */
	tu_run(&t, 5 * SEC, NULL);
	inject_reply(&t, m.xid, LEASE_IP, &(struct lease_opts){ .type = 5, .lease = 100, .t1 = 20, .t2 = 40 });
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_RENEWED), 1);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_BOUND), 1);       /* the same address: not re-applied */
	tu_frames_clear(&out);
	/* Next T1 is 20 s after the renewing REQUEST, not after the ACK. */
	tu_run(&t, t1 + 40 * SEC + 1000 - us_stack_now(t.st), &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 3, &m));
	CU_ASSERT_EQUAL(m.ts, t1 + 20 * SEC);
	CU_ASSERT_EQUAL(m.ip.dst, SRV_IP);
	CU_ASSERT_TRUE(answers_ping(&t, LEASE_IP));
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_dhcp_nak_requesting_and_renewing(void)
{
	struct tu t;
	if (!dh_open(&t, __func__))
		return;
	struct tu_frames out = { 0 };
	struct msg m;
	uint32_t xid = discover_xid(&t);
	inject_reply(&t, xid, LEASE_IP, &(struct lease_opts){ .type = 2, .lease = 100 });
	/* A NAK without a server id, or from another server: ignored. */
	inject_reply(&t, xid, 0, &(struct lease_opts){ .type = 6, .no_server_id = true });
	inject_reply(&t, xid, 0, &(struct lease_opts){ .type = 6, .server = tu_ip(10, 0, 0, 3) });
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_RX_NAK), 0);
	tu_frames_clear(&out);
	inject_reply(&t, xid, 0, &(struct lease_opts){ .type = 6 });
	tu_collect(&t, &out);
	/* RFC 2131 4.4: back to INIT: a new DISCOVER at once, a new xid. */
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_RX_NAK), 1);
	CU_ASSERT_FATAL(find_msg(&out, 0, 1, &m));
	CU_ASSERT_NOT_EQUAL(m.xid, xid);
	/* Bind, then NAK the renewal: the address goes at once. */
	uint64_t t0;
	CU_ASSERT_TRUE(bind_lease_xid(&t, m.xid, 100, 20, 40, &t0));
	CU_ASSERT_TRUE(answers_ping(&t, LEASE_IP));
	tu_frames_clear(&out);
	tu_run(&t, 21 * SEC, &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 3, &m));
	tu_frames_clear(&out);
	inject_reply(&t, m.xid, 0, &(struct lease_opts){ .type = 6 });
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_RX_NAK), 2);
	CU_ASSERT_TRUE(find_msg(&out, 0, 1, &m));
	CU_ASSERT_FALSE(answers_ping(&t, LEASE_IP));
	tu_frames_free(&out);
	tu_close(&t);
}

/* RFC 2131 4.4.1: the offered address answers ARP: DECLINE, 10 s, DISCOVER. */
static void test_dhcp_arp_conflict_declines(void)
{
	struct tu t;
	if (!dh_open(&t, __func__))
		return;
	struct tu_frames out = { 0 };
	struct msg m;
	uint32_t xid = discover_xid(&t);
	inject_reply(&t, xid, LEASE_IP, &(struct lease_opts){ .type = 2, .lease = 100 });
	inject_reply(&t, xid, LEASE_IP, &(struct lease_opts){ .type = 5, .lease = 100 });
	uint8_t f[64];
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	tu_frames_clear(&out);
	tu_inject(&t, f, tu_arp_frame(f, tu_stack_mac, 2, other, LEASE_IP, tu_stack_mac, 0));
	uint64_t now = us_stack_now(t.st);
	tu_run(&t, 11 * SEC, &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 4, &m));
	CU_ASSERT_EQUAL(opt_addr(&m, 50), LEASE_IP);
	CU_ASSERT_EQUAL(opt_addr(&m, 54), SRV_IP);
	CU_ASSERT_EQUAL(m.ciaddr, 0);
	CU_ASSERT_FATAL(find_msg(&out, m.idx, 1, &m));
	CU_ASSERT_EQUAL(m.ts, now + 10 * SEC);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_BOUND), 0);
	CU_ASSERT_FALSE(answers_ping(&t, LEASE_IP));
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_dhcp_release_on_stop(void)
{
	struct tu t;
	uint64_t t0;
	if (!dh_open(&t, __func__) || !bind_lease(&t, 100, 0, 0, &t0)) {
		tu_close(&t);
		return;
	}
	struct tu_frames out = { 0 };
	struct msg m;
	tu_collect(&t, NULL);
	us_stack_stop(t.st);
	tu_collect(&t, &out);
	CU_ASSERT_FATAL(find_msg(&out, 0, 7, &m));        /* RFC 2131 4.4.6 */
	CU_ASSERT_EQUAL(m.ip.dst, SRV_IP);
	CU_ASSERT_EQUAL(memcmp(m.eth_dst, tu_peer_mac, 6), 0);
	CU_ASSERT_EQUAL(m.ciaddr, LEASE_IP);
	CU_ASSERT_EQUAL(opt_addr(&m, 54), SRV_IP);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_TX_RELEASE), 1);
	CU_ASSERT_FALSE(us_ipv4_is_local(t.st, LEASE_IP));
	tu_frames_free(&out);
	tu_close(&t);
}

/* Malformed messages (and OFFERs a lease cannot come from) are counted
 * drops and change nothing; a good OFFER after them still works. */
static void test_dhcp_malformed_counted(void)
{
	struct tu t;
	if (!dh_open(&t, __func__))
		return;
	struct tu_frames out = { 0 };
	struct msg m;
	uint32_t x = discover_xid(&t);
	uint8_t f[1600], o[64];
	uint32_t bc = 0xffffffffu;
	struct { const uint8_t *opts; size_t len; uint32_t yi; } bad[] = {
		/* option 53 with length 2 */
		{ (const uint8_t[]){ 53, 2, 2, 0, 255 }, 5, LEASE_IP },
		/* option 54 running past the end of the options field */
		{ (const uint8_t[]){ 53, 1, 2, 54, 200, 10, 0 }, 7, LEASE_IP },
		/* subnet mask 255.0.255.0 (not contiguous) */
		{ (const uint8_t[]){ 53, 1, 2, 54, 4, 10, 0, 0, 2, 1, 4, 255, 0, 255, 0, 255 }, 16, LEASE_IP },
		/* router option of 5 bytes */
		{ (const uint8_t[]){ 53, 1, 2, 54, 4, 10, 0, 0, 2, 3, 5, 10, 0, 0, 2, 9, 255 }, 17, LEASE_IP },
		/* no message type (BOOTP) */
		{ (const uint8_t[]){ 54, 4, 10, 0, 0, 2, 255 }, 7, LEASE_IP },
		/* an OFFER without a server identifier */
		{ (const uint8_t[]){ 53, 1, 2, 255 }, 4, LEASE_IP },
		/* an OFFER of 0.0.0.0, of a broadcast address, of 127.0.0.1 */
		{ (const uint8_t[]){ 53, 1, 2, 54, 4, 10, 0, 0, 2, 255 }, 10, 0 },
		{ (const uint8_t[]){ 53, 1, 2, 54, 4, 10, 0, 0, 2, 1, 4, 255, 255, 255, 0, 255 }, 16,
		  tu_ip(10, 0, 0, 255) },
		{ (const uint8_t[]){ 53, 1, 2, 54, 4, 10, 0, 0, 2, 255 }, 10, tu_ip(127, 0, 0, 1) },
	};
	int nbad = (int)(sizeof bad / sizeof bad[0]);
	for (int i = 0; i < nbad; i++)
		tu_inject(&t, f, reply_frame(f, x, bad[i].yi, bad[i].opts, bad[i].len, bc));
	/* Shorter than 240 bytes, and a bad magic cookie. */
	uint8_t d[300] = { 2, 1, 6 }, u[400];
	struct tu_iph h = tu_iph_peer(17);
	h.dst = bc;
	size_t n = tu_eth(f, tu_bcast_mac, tu_peer_mac, 0x0800);
	tu_inject(&t, f, n + tu_ip4(f + n, &h, u, tu_udp(u, SRV_IP, bc, 67, 68, d, 200)));
	tu_inject(&t, f, n + tu_ip4(f + n, &h, u, tu_udp(u, SRV_IP, bc, 67, 68, d, 300)));
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_DROP_MALFORMED), (uint64_t)nbad + 2);
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_RX_OFFER), 0);
	tu_frames_clear(&out);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(count_msgs(&out, 3), 0);           /* no REQUEST for any */
	/* A good OFFER whose options continue in the file field (option 52). */
	uint8_t *p = o;
	*p++ = 53; *p++ = 1; *p++ = 2;
	*p++ = 52; *p++ = 1; *p++ = 1;
	*p++ = 255;
	uint8_t d2[300];
	memset(d2, 0, sizeof d2);
	d2[0] = 2; d2[1] = 1; d2[2] = 6;
	tu_put16(d2 + 4, (uint16_t)(x >> 16));
	tu_put16(d2 + 6, (uint16_t)x);
	memcpy(d2 + 16, &(uint32_t){ LEASE_IP }, 4);
	memcpy(d2 + 28, tu_stack_mac, 6);
	o_addr(d2 + 108, 54, SRV_IP);                      /* in file */
	d2[114] = 255;
	d2[236] = 0x63; d2[237] = 0x82; d2[238] = 0x53; d2[239] = 0x63;
	memcpy(d2 + 240, o, (size_t)(p - o));
	tu_inject(&t, f, n + tu_ip4(f + n, &h, u, tu_udp(u, SRV_IP, bc, 67, 68, d2, 300)));
	CU_ASSERT_EQUAL(TU_STAT(&t, DHCP_RX_OFFER), 1);
	tu_frames_clear(&out);
	tu_collect(&t, &out);
	CU_ASSERT_TRUE(find_msg(&out, 0, 3, &m) && opt_addr(&m, 54) == SRV_IP);
	tu_frames_free(&out);
	tu_close(&t);
}

/* The wire parser alone: every option a client uses, and each rejection. */
static void test_dhcp_wire_parse(void)
{
	uint8_t d[400];
	memset(d, 0, sizeof d);
	d[0] = 2; d[1] = 1; d[2] = 6;
	CU_ASSERT_FATAL(240 + 69 <= sizeof d);
	d[236] = 0x63; d[237] = 0x82; d[238] = 0x53; d[239] = 0x63;
	static const uint8_t opts[] = {
		53, 1, 5, 0, 0,                         /* type ACK, two pads */
		1, 4, 255, 255, 240, 0,                 /* /20 */
		3, 8, 10, 0, 0, 1, 10, 0, 0, 9,         /* two routers: the first */
		6, 16, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,  /* four DNS: three kept */
		51, 4, 0, 0, 0x0e, 0x10,                /* 3600 */
		58, 4, 0, 0, 0, 60, 59, 4, 0, 0, 0, 90,
		54, 4, 10, 0, 0, 2, 99, 3, 1, 2, 3,     /* and an unknown option */
		255,
	};
	memcpy(d + 240, opts, sizeof opts);
	struct wire_dhcp m;
	CU_ASSERT_EQUAL_FATAL(wire_dhcp_parse(d, 240 + sizeof opts, &m), WIRE_DHCP_OK);
	CU_ASSERT_EQUAL(m.type, 5);
	CU_ASSERT_TRUE(m.has_mask);
	CU_ASSERT_EQUAL(m.prefix, 20);
	CU_ASSERT_EQUAL(m.router, tu_ip(10, 0, 0, 1));
	CU_ASSERT_EQUAL(m.ndns, 3);
	CU_ASSERT_EQUAL(m.dns[2], tu_ip(3, 3, 3, 3));
	CU_ASSERT_EQUAL(m.lease, 3600);
	CU_ASSERT_EQUAL(m.t1, 60);
	CU_ASSERT_EQUAL(m.t2, 90);
	CU_ASSERT_EQUAL(m.server_id, SRV_IP);
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 239, &m), WIRE_DHCP_SHORT);
	/* The options end where the data ends: the last one cut short. */
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 240 + 8, &m), WIRE_DHCP_TRUNCATED);
	d[239] = 0x64;
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 240 + sizeof opts, &m), WIRE_DHCP_MAGIC);
	d[239] = 0x63;
	d[2] = 8;
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 240 + sizeof opts, &m), WIRE_DHCP_HW);
	d[2] = 6;
	d[240 + 5 + 4] = 0x0f;                          /* mask 255.255.15.0 */
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 240 + sizeof opts, &m), WIRE_DHCP_MASK);
	d[240 + 5 + 4] = 240;
	d[240 + 5 + 1] = 3;                              /* mask of length 3 */
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 240 + sizeof opts, &m), WIRE_DHCP_OPTLEN);
	d[240 + 5 + 1] = 4;
	d[240] = 50;                                     /* no type: option 50 in its place */
	CU_ASSERT_EQUAL(wire_dhcp_parse(d, 240 + sizeof opts, &m), WIRE_DHCP_NO_TYPE);
}

static void test_dhcp_config(void)
{
	static const char good[] = "interfaces:\n"
				   "  eth0: {backend: tap, device: tap0, dhcp4: true}\n"
				   "  eth1: {backend: tap, device: tap1, addresses: [10.1.0.2/24]}\n"
				   ;
	static const char bad[] = "interfaces:\n"
				  "  t0: {backend: tun, device: tun0, dhcp4: true}\n";
	struct us_config cfg;
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(us_config_load_string("t.yaml", good, strlen(good), &cfg, err, sizeof err), 0);
	CU_ASSERT_TRUE(cfg.ifaces[0].dhcp4);
	CU_ASSERT_EQUAL(cfg.ifaces[0].naddrs, 0);
	CU_ASSERT_FALSE(cfg.ifaces[1].dhcp4);
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", bad, strlen(bad), &cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:2:3: interface \"t0\": dhcp4 needs an Ethernet backend"));
}

US_SUITE(dhcp, NULL, NULL,
	 US_TEST(test_dhcp_wire_parse),
	 US_TEST(test_dhcp_config),
	 US_TEST(test_dhcp_discover_fields),
	 US_TEST(test_dhcp_discover_backoff),
	 US_TEST(test_dhcp_offer_request_ack_bound),
	 US_TEST(test_dhcp_renew_rebind_expire),
	 US_TEST(test_dhcp_renew_ack_extends),
	 US_TEST(test_dhcp_nak_requesting_and_renewing),
	 US_TEST(test_dhcp_arp_conflict_declines),
	 US_TEST(test_dhcp_release_on_stop),
	 US_TEST(test_dhcp_malformed_counted));
