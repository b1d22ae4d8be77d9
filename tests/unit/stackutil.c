/*
 * stackutil.c — test stacks on a pair wire, frame crafting and reading
 * (see stackutil.h). Nothing here calls the library's wire builders.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "stackutil.h"

const uint8_t tu_stack_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t tu_peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
const uint8_t tu_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t tu_zero_mac[6] = { 0 };

uint32_t tu_ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d);
}

uint16_t tu_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void tu_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 1071: one's complement sum of big-endian 16-bit words. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1) {
		sum += (uint32_t)p[len - 1] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

uint16_t tu_csum_from(uint32_t sum, const void *p, size_t len)
{
	sum = sum16(sum, p, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t tu_csum(const void *p, size_t len)
{
	return tu_csum_from(0, p, len);
}

/* ---- stacks ---------------------------------------------------------------- */

void tu_wire_name(char *buf, size_t len, const char *tag)
{
	static unsigned counter;
	snprintf(buf, len, "ut-%d-%u-%.60s", (int)getpid(), counter++, tag);
}

void tu_config(struct us_config *cfg, const char *wire, const struct tu_opts *o)
{
	static const struct tu_opts none;
	if (!o)
		o = &none;
	us_config_init(cfg);
	cfg->log_level = US_LOG_ERROR;
	cfg->seed_set = true;
	cfg->seed = o->seed ? o->seed : 1;
	cfg->nifaces = 1;
	struct us_iface_config *ifc = &cfg->ifaces[0];
	snprintf(ifc->name, sizeof ifc->name, "eth0");
	ifc->backend = US_BACKEND_PAIR;
	snprintf(ifc->device, sizeof ifc->device, "%s", wire);
	memcpy(ifc->mac, tu_stack_mac, 6);
	ifc->mac_set = true;
	ifc->mtu = o->mtu ? o->mtu : US_DEFAULT_MTU;
	ifc->addrs[0].addr.s_addr = TU_STACK_IP;
	ifc->addrs[0].prefix = 24;
	ifc->naddrs = 1;
	if (o->arp_timeout_s)
		cfg->arp_timeout_s = o->arp_timeout_s;
	if (o->static_peer) {
		cfg->arp_static[0].addr.s_addr = TU_PEER_IP;
		memcpy(cfg->arp_static[0].mac, tu_peer_mac, 6);
		cfg->narp_static = 1;
	}
}

bool tu_open_cfg(struct tu *t, const struct us_config *cfg)
{
	char err[256] = "";
	memset(t, 0, sizeof *t);
	snprintf(t->wire, sizeof t->wire, "%s", cfg->ifaces[0].device);
	t->st = us_stack_new(cfg, US_STACK_DETERMINISTIC, err, sizeof err);
	if (!t->st) {
		fprintf(stderr, "tu_open: %s\n", err);
		CU_FAIL("us_stack_new failed");
		return false;
	}
	t->peer = us_pair_attach(t->wire, NULL, 99, err, sizeof err);
	if (!t->peer) {
		fprintf(stderr, "tu_open: %s\n", err);
		CU_FAIL("us_pair_attach failed");
		us_stack_free(t->st);
		t->st = NULL;
		return false;
	}
	return true;
}

bool tu_open_tag(struct tu *t, const struct tu_opts *o, const char *tag)
{
	char wire[96];
	struct us_config cfg;
	tu_wire_name(wire, sizeof wire, tag);
	tu_config(&cfg, wire, o);
	return tu_open_cfg(t, &cfg);
}

bool tu_no_leak(const struct tu *t)
{
	struct us_stack *st = t->st;
	return us_pool_available(&st->pool) == st->pool.total;
}

void tu_close(struct tu *t)
{
	if (!t->st)
		return;
	CU_ASSERT_EQUAL(us_pool_available(&t->st->pool), t->st->pool.total);
	us_stack_free(t->st);
	us_pair_detach(t->peer);
	t->st = NULL;
	t->peer = NULL;
}

/* ---- frame lists -------------------------------------------------------------- */

void tu_frames_free(struct tu_frames *l)
{
	free(l->f);
	memset(l, 0, sizeof *l);
}

void tu_frames_clear(struct tu_frames *l)
{
	l->n = 0;
}

static struct tu_frame *frames_push(struct tu_frames *l)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		struct tu_frame *f = realloc(l->f, (size_t)cap * sizeof *f);
		if (!f) {
			fprintf(stderr, "stackutil: out of memory\n");
			abort();
		}
		l->f = f;
		l->cap = cap;
	}
	return &l->f[l->n++];
}

void tu_frames_add(struct tu_frames *l, const void *frame, size_t len)
{
	struct tu_frame *f = frames_push(l);
	f->ts = 0;
	f->len = len < sizeof f->data ? len : sizeof f->data;
	memcpy(f->data, frame, f->len);
}

/* ---- driving ------------------------------------------------------------------ */

void tu_inject(struct tu *t, const void *frame, size_t len)
{
	int rc = us_pair_send(t->peer, us_stack_now(t->st), frame, len);
	CU_ASSERT_EQUAL(rc, 0);
	us_stack_poll(t->st);
}

void tu_inject_all(struct tu *t, const struct tu_frames *l, const int *order, int n)
{
	for (int i = 0; i < n; i++) {
		int k = order ? order[i] : i;
		tu_inject(t, l->f[k].data, l->f[k].len);
	}
}

int tu_collect(struct tu *t, struct tu_frames *out)
{
	static uint8_t buf[US_PAIR_FRAME_MAX];
	uint64_t now = us_stack_now(t->st);
	int got = 0;
	for (;;) {
		int n = us_pair_recv(t->peer, now, buf, sizeof buf);
		if (n <= 0)
			break;
		got++;
		if (out) {
			tu_frames_add(out, buf, (size_t)n);
			out->f[out->n - 1].ts = now;
		}
	}
	return got;
}

/* Earliest time something is due in the stack: a timer or a frame to it. */
static uint64_t next_due(struct tu *t)
{
	struct us_stack *st = t->st;
	uint64_t next = us_wheel_next(&st->wheel);
	for (int i = 0; i < st->nifs; i++) {
		struct us_link *l = &st->ifs[i].link;
		if (l->ops->next_ready) {
			uint64_t r = l->ops->next_ready(l);
			if (r < next)
				next = r;
		}
	}
	return next;
}

int tu_run(struct tu *t, uint64_t ns, struct tu_frames *out)
{
	uint64_t target = us_stack_now(t->st) + ns;
	int got = tu_collect(t, out);
	for (int guard = 0; guard < 10000000; guard++) {
		uint64_t now = us_stack_now(t->st);
		uint64_t next = next_due(t);
		if (next <= now) {
			us_stack_poll(t->st);
			got += tu_collect(t, out);
			next = now + 1;     /* due now yet still pending: step on */
		}
		if (next > target)
			break;
		us_stack_advance(t->st, next - now);
		got += tu_collect(t, out);
	}
	us_stack_advance(t->st, target - us_stack_now(t->st));
	got += tu_collect(t, out);
	return got;
}

/* ---- crafting ------------------------------------------------------------------ */

size_t tu_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	tu_put16(f + 12, type);
	return TU_ETH_HLEN;
}

size_t tu_arp_frame(uint8_t *f, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
		    uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	uint8_t *a = f + tu_eth(f, eth_dst, sha, 0x0806);
	tu_put16(a, 1);          /* htype: Ethernet */
	tu_put16(a + 2, 0x0800); /* ptype: IPv4 */
	a[4] = 6;                /* hlen */
	a[5] = 4;                /* plen */
	tu_put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &tpa, 4);
	return TU_ETH_HLEN + 28;
}

struct tu_iph tu_iph_peer(uint8_t proto)
{
	struct tu_iph h = {
		.ttl = 64,
		.id = 0x4242,
		.proto = proto,
		.src = TU_PEER_IP,
		.dst = TU_STACK_IP,
	};
	return h;
}

size_t tu_ip4(uint8_t *p, const struct tu_iph *h, const void *payload, size_t plen)
{
	size_t hlen = 20 + h->optlen;
	uint8_t ihl = h->ihl ? h->ihl : (uint8_t)(hlen / 4);
	p[0] = (uint8_t)((h->version ? h->version : 4) << 4 | (ihl & 0x0f));
	p[1] = h->tos;
	tu_put16(p + 2, h->total_len ? h->total_len : (uint16_t)(hlen + plen));
	tu_put16(p + 4, h->id);
	uint16_t frag = (uint16_t)((h->frag_off / 8) & 0x1fff);
	if (h->df)
		frag |= 0x4000;
	if (h->mf)
		frag |= 0x2000;
	tu_put16(p + 6, frag);
	p[8] = h->ttl;
	p[9] = h->proto;
	p[10] = p[11] = 0;
	memcpy(p + 12, &h->src, 4);
	memcpy(p + 16, &h->dst, 4);
	if (h->optlen)
		memcpy(p + 20, h->opts, h->optlen);
	uint16_t c = tu_csum(p, hlen);
	if (h->bad_csum)
		c ^= 0x0101;
	tu_put16(p + 10, c);
	if (plen)
		memcpy(p + hlen, payload, plen);
	return hlen + plen;
}

size_t tu_ip_frame(uint8_t *f, const struct tu_iph *h, const void *payload, size_t plen)
{
	size_t n = tu_eth(f, tu_stack_mac, tu_peer_mac, 0x0800);
	return n + tu_ip4(f + n, h, payload, plen);
}

size_t tu_icmp_echo(uint8_t *p, uint8_t type, uint16_t id, uint16_t seq, const void *data,
		    size_t len)
{
	p[0] = type;
	p[1] = 0;
	p[2] = p[3] = 0;
	tu_put16(p + 4, id);
	tu_put16(p + 6, seq);
	if (len)
		memcpy(p + 8, data, len);
	tu_put16(p + 2, tu_csum(p, 8 + len));
	return 8 + len;
}

size_t tu_udp(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
	      const void *data, size_t len)
{
	uint16_t ulen = (uint16_t)(8 + len);
	tu_put16(p, sport);
	tu_put16(p + 2, dport);
	tu_put16(p + 4, ulen);
	p[6] = p[7] = 0;
	if (len)
		memcpy(p + 8, data, len);
	/* RFC 768 pseudo-header: source, destination, zero, protocol, UDP length. */
	uint8_t ph[12];
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = 17;
	tu_put16(ph + 10, ulen);
	uint32_t s = sum16(0, ph, sizeof ph);
	uint16_t c = tu_csum_from(s, p, ulen);
	tu_put16(p + 6, c ? c : 0xffff);
	return ulen;
}

int tu_fragment(struct tu_frames *out, const struct tu_iph *h, const uint8_t *payload,
		size_t plen, size_t frag_bytes)
{
	static uint8_t f[US_PAIR_FRAME_MAX];
	int n = 0;
	for (size_t off = 0; off < plen; off += frag_bytes) {
		size_t k = plen - off < frag_bytes ? plen - off : frag_bytes;
		struct tu_iph fh = *h;
		fh.frag_off = (uint16_t)off;
		fh.mf = off + k < plen;
		size_t len = tu_ip_frame(f, &fh, payload + off, k);
		tu_frames_add(out, f, len);
		n++;
	}
	return n;
}

void tu_pattern(uint8_t *p, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345;
		p[i] = (uint8_t)(x >> 16);
	}
}

/* ---- reading ------------------------------------------------------------------- */

bool tu_parse_ip(const uint8_t *frame, size_t len, struct tu_ipv *o)
{
	if (len < TU_ETH_HLEN + 20 || tu_get16(frame + 12) != 0x0800)
		return false;
	const uint8_t *p = frame + TU_ETH_HLEN;
	size_t avail = len - TU_ETH_HLEN;
	if ((p[0] >> 4) != 4)
		return false;
	o->ihl = p[0] & 0x0f;
	o->hlen = (size_t)o->ihl * 4;
	if (o->ihl < 5 || o->hlen > avail)
		return false;
	o->total_len = tu_get16(p + 2);
	if (o->total_len < o->hlen || o->total_len > avail)
		return false;
	if (tu_csum(p, o->hlen) != 0)
		return false;
	o->tos = p[1];
	o->id = tu_get16(p + 4);
	uint16_t frag = tu_get16(p + 6);
	o->df = (frag & 0x4000) != 0;
	o->mf = (frag & 0x2000) != 0;
	o->frag_off = (uint16_t)((frag & 0x1fff) * 8);
	o->ttl = p[8];
	o->proto = p[9];
	memcpy(&o->src, p + 12, 4);
	memcpy(&o->dst, p + 16, 4);
	o->hdr = p;
	o->payload = p + o->hlen;
	o->plen = o->total_len - o->hlen;
	return true;
}

bool tu_is_arp(const struct tu_frame *f, uint16_t op)
{
	return f->len >= TU_ETH_HLEN + 28 && tu_get16(f->data + 12) == 0x0806 &&
	       tu_get16(f->data + TU_ETH_HLEN + 6) == op;
}

int tu_count_arp(const struct tu_frames *l, uint16_t op)
{
	int n = 0;
	for (int i = 0; i < l->n; i++)
		n += tu_is_arp(&l->f[i], op);
	return n;
}

int tu_count_ip(const struct tu_frames *l, uint8_t proto)
{
	int n = 0;
	struct tu_ipv ip;
	for (int i = 0; i < l->n; i++)
		if (tu_parse_ip(l->f[i].data, l->f[i].len, &ip) && (proto == 0 || ip.proto == proto))
			n++;
	return n;
}

int tu_find_icmp(const struct tu_frames *l, int from, uint8_t type)
{
	struct tu_ipv ip;
	for (int i = from < 0 ? 0 : from; i < l->n; i++)
		if (tu_parse_ip(l->f[i].data, l->f[i].len, &ip) && ip.proto == 1 && ip.plen >= 8 &&
		    ip.frag_off == 0 && ip.payload[0] == type)
			return i;
	return -1;
}
