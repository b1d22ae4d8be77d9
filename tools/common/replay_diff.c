/*
 * replay_diff.c — frame decoding for usreplay's comparisons and -v lines
 * (see replay_diff.h).
 *
 * A frame is decoded into an ordered list of entries: named header fields
 * with their values as text ("TCP ack" = "1001"), and byte blobs (payload,
 * Ethernet padding). Two frames are compared entry by entry; since every
 * field that decides the structure (EtherType, IHL, protocol, data offset,
 * option kind and length) comes before what it decides, the first entry
 * that differs is the most useful thing to say. Reads are bounds-checked
 * everywhere: what does not fit a header is a blob.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tools/common/replay_diff.h"

#define MAX_ENTRIES 192

struct entry {
	char name[128];
	char val[128];          /* field value as text; "" for a blob */
	const uint8_t *data;    /* blob bytes (NULL for a field) */
	size_t len;             /* blob length */
	bool derived;           /* a length or checksum: follows from other fields */
};

struct decoded {
	struct entry e[MAX_ENTRIES];
	int n;
};

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void field(struct decoded *d, const char *prefix, const char *name, const char *fmt, ...)
{
	if (d->n >= MAX_ENTRIES)
		return;
	struct entry *e = &d->e[d->n++];
	snprintf(e->name, sizeof e->name, "%s %s", prefix, name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->val, sizeof e->val, fmt, ap);
	va_end(ap);
	e->data = NULL;
	e->len = 0;
	e->derived = strcmp(name, "checksum") == 0 || strcmp(name, "total length") == 0 ||
		     strcmp(name, "length") == 0 || strcmp(name, "header length") == 0;
}

static void blob(struct decoded *d, const char *prefix, const char *name, const uint8_t *p,
		 size_t len)
{
	if (len == 0 || d->n >= MAX_ENTRIES)
		return;
	struct entry *e = &d->e[d->n++];
	snprintf(e->name, sizeof e->name, "%s%s%s", prefix, prefix[0] ? " " : "", name);
	e->val[0] = '\0';
	e->data = p;
	e->len = len;
	e->derived = false;
}

static void fmt_mac(char *b, size_t cap, const uint8_t *m)
{
	snprintf(b, cap, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void fmt_ip(char *b, size_t cap, const uint8_t *p)
{
	snprintf(b, cap, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
}

static void fmt_hex(char *b, size_t cap, const uint8_t *p, size_t len)
{
	size_t o = 0;
	b[0] = '\0';
	for (size_t i = 0; i < len && o + 3 < cap; i++)
		o += (size_t)snprintf(b + o, cap - o, "%02x", p[i]);
}

static void tcp_flags_text(char *b, size_t cap, uint8_t fl)
{
	static const char *names[8] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };
	static const int order[8] = { 1, 0, 2, 3, 4, 5, 6, 7 };  /* SYN first, like tcpdump */
	size_t o = 0;
	b[0] = '\0';
	for (int k = 0; k < 8; k++) {
		int i = order[k];
		if (fl & (1u << i))
			o += (size_t)snprintf(b + o, cap - o, "%s%s", o ? "," : "", names[i]);
		if (o >= cap)
			break;
	}
	if (!fl)
		snprintf(b, cap, "none");
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	default: return "other";
	}
}

static const char *icmp_type_name(uint8_t t)
{
	switch (t) {
	case 0: return "echo reply";
	case 3: return "destination unreachable";
	case 4: return "source quench";
	case 5: return "redirect";
	case 8: return "echo request";
	case 11: return "time exceeded";
	case 12: return "parameter problem";
	default: return "other";
	}
}

static const char *tcp_opt_name(uint8_t k)
{
	switch (k) {
	case 0: return "EOL";
	case 1: return "NOP";
	case 2: return "MSS";
	case 3: return "WS";
	case 4: return "SACK_PERM";
	case 5: return "SACK";
	case 8: return "TS";
	default: return "unknown";
	}
}

/* ---- layers ---------------------------------------------------------------- */

static void dec_tcp(struct decoded *d, const uint8_t *p, size_t len)
{
	if (len < 20) {
		blob(d, "TCP", "truncated header", p, len);
		return;
	}
	char fl[64];
	field(d, "TCP", "source port", "%u", g16(p));
	field(d, "TCP", "destination port", "%u", g16(p + 2));
	field(d, "TCP", "seq", "%u", g32(p + 4));
	field(d, "TCP", "ack", "%u", g32(p + 8));
	size_t hl = (size_t)(p[12] >> 4) * 4;
	field(d, "TCP", "header length", "%zu", hl);
	field(d, "TCP", "reserved bits", "0x%x", p[12] & 0x0f);
	tcp_flags_text(fl, sizeof fl, p[13]);
	field(d, "TCP", "flags", "%s", fl);
	field(d, "TCP", "window", "%u", g16(p + 14));
	field(d, "TCP", "checksum", "0x%04x", g16(p + 16));
	field(d, "TCP", "urgent pointer", "%u", g16(p + 18));
	if (hl < 20 || hl > len) {
		blob(d, "TCP", "bytes after a bad header length", p + 20, len - 20);
		return;
	}
	const uint8_t *o = p + 20;
	size_t olen = hl - 20, i = 0;
	for (int k = 1; i < olen; k++) {
		char nm[48];
		uint8_t kind = o[i];
		snprintf(nm, sizeof nm, "option %d kind", k);
		field(d, "TCP", nm, "%s (%u)", tcp_opt_name(kind), kind);
		if (kind == 0) {
			blob(d, "TCP", "options after EOL", o + i + 1, olen - i - 1);
			break;
		}
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= olen || o[i + 1] < 2 || i + o[i + 1] > olen) {
			snprintf(nm, sizeof nm, "option %d (malformed)", k);
			blob(d, "TCP", nm, o + i, olen - i);
			break;
		}
		uint8_t ol = o[i + 1];
		const uint8_t *v = o + i + 2;
		snprintf(nm, sizeof nm, "option %d length", k);
		field(d, "TCP", nm, "%u", ol);
		char vn[48];
		if (kind == 2 && ol == 4) {
			snprintf(vn, sizeof vn, "option %d MSS", k);
			field(d, "TCP", vn, "%u", g16(v));
		} else if (kind == 3 && ol == 3) {
			snprintf(vn, sizeof vn, "option %d WS shift", k);
			field(d, "TCP", vn, "%u", v[0]);
		} else if (kind == 8 && ol == 10) {
			snprintf(vn, sizeof vn, "option %d TS val", k);
			field(d, "TCP", vn, "%u", g32(v));
			snprintf(vn, sizeof vn, "option %d TS ecr", k);
			field(d, "TCP", vn, "%u", g32(v + 4));
		} else if (kind == 5 && (ol - 2) % 8 == 0) {
			for (int b = 0; b < (ol - 2) / 8; b++) {
				snprintf(vn, sizeof vn, "option %d SACK block %d left", k, b + 1);
				field(d, "TCP", vn, "%u", g32(v + 8 * b));
				snprintf(vn, sizeof vn, "option %d SACK block %d right", k, b + 1);
				field(d, "TCP", vn, "%u", g32(v + 8 * b + 4));
			}
		} else if (ol > 2) {
			char hx[128];
			snprintf(vn, sizeof vn, "option %d value", k);
			fmt_hex(hx, sizeof hx, v, (size_t)ol - 2);
			field(d, "TCP", vn, "%s", hx);
		}
		i += ol;
	}
	blob(d, "TCP", "payload", p + hl, len - hl);
}

static void dec_udp(struct decoded *d, const uint8_t *p, size_t len)
{
	if (len < 8) {
		blob(d, "UDP", "truncated header", p, len);
		return;
	}
	field(d, "UDP", "source port", "%u", g16(p));
	field(d, "UDP", "destination port", "%u", g16(p + 2));
	field(d, "UDP", "length", "%u", g16(p + 4));
	field(d, "UDP", "checksum", "0x%04x", g16(p + 6));
	blob(d, "UDP", "payload", p + 8, len - 8);
}

static void dec_ipv4(struct decoded *d, const char *pre, const uint8_t *p, size_t len,
		     bool quoted);

static void dec_icmp(struct decoded *d, const uint8_t *p, size_t len)
{
	if (len < 8) {
		blob(d, "ICMP", "truncated header", p, len);
		return;
	}
	field(d, "ICMP", "type", "%u (%s)", p[0], icmp_type_name(p[0]));
	field(d, "ICMP", "code", "%u", p[1]);
	field(d, "ICMP", "checksum", "0x%04x", g16(p + 2));
	if (p[0] == 0 || p[0] == 8) {
		field(d, "ICMP", "id", "%u", g16(p + 4));
		field(d, "ICMP", "seq", "%u", g16(p + 6));
		blob(d, "ICMP", "payload", p + 8, len - 8);
	} else if (p[0] == 3 || p[0] == 11 || p[0] == 12 || p[0] == 4 || p[0] == 5) {
		field(d, "ICMP", "rest of header", "0x%08x", g32(p + 4));
		dec_ipv4(d, "ICMP quoted IPv4", p + 8, len - 8, true);
	} else {
		field(d, "ICMP", "rest of header", "0x%08x", g32(p + 4));
		blob(d, "ICMP", "payload", p + 8, len - 8);
	}
}

/*
 * IPv4 header and what it carries. quoted: the header inside an ICMP
 * error (its total length describes the original datagram, not the bytes
 * here; the quoted transport header is shown as ports only).
 */
static void dec_ipv4(struct decoded *d, const char *pre, const uint8_t *p, size_t len,
		     bool quoted)
{
	if (len < 20) {
		blob(d, pre, "truncated header", p, len);
		return;
	}
	char a[32];
	field(d, pre, "version", "%u", p[0] >> 4);
	size_t hl = (size_t)(p[0] & 0x0f) * 4;
	field(d, pre, "header length", "%zu", hl);
	field(d, pre, "TOS", "0x%02x", p[1]);
	uint16_t tot = g16(p + 2);
	field(d, pre, "total length", "%u", tot);
	field(d, pre, "id", "0x%04x", g16(p + 4));
	uint16_t fr = g16(p + 6);
	char fl[16] = "";
	if (fr & 0x8000)
		strcat(fl, "RF");
	if (fr & 0x4000)
		strcat(fl, fl[0] ? ",DF" : "DF");
	if (fr & 0x2000)
		strcat(fl, fl[0] ? ",MF" : "MF");
	field(d, pre, "flags", "%s", fl[0] ? fl : "none");
	uint32_t off = (uint32_t)(fr & 0x1fff) * 8;
	field(d, pre, "fragment offset", "%u", off);
	field(d, pre, "TTL", "%u", p[8]);
	field(d, pre, "protocol", "%u (%s)", p[9], proto_name(p[9]));
	field(d, pre, "checksum", "0x%04x", g16(p + 10));
	fmt_ip(a, sizeof a, p + 12);
	field(d, pre, "source", "%s", a);
	fmt_ip(a, sizeof a, p + 16);
	field(d, pre, "destination", "%s", a);
	if (hl < 20 || hl > len) {
		blob(d, pre, "bytes after a bad header length", p + 20, len - 20);
		return;
	}
	if (hl > 20) {
		char hx[128];
		fmt_hex(hx, sizeof hx, p + 20, hl - 20);
		field(d, pre, "options", "%s", hx);
	}
	const uint8_t *pl = p + hl;
	size_t plen = len - hl;
	if (quoted) {
		if ((p[9] == 6 || p[9] == 17) && off == 0 && plen >= 4) {
			char pp[48];
			snprintf(pp, sizeof pp, "ICMP quoted %s", proto_name(p[9]));
			field(d, pp, "source port", "%u", g16(pl));
			field(d, pp, "destination port", "%u", g16(pl + 2));
			blob(d, "ICMP quoted", "data", pl + 4, plen - 4);
		} else {
			blob(d, "ICMP quoted", "data", pl, plen);
		}
		return;
	}
	/* The datagram ends at total length; bytes after it are link padding. */
	const uint8_t *trail = NULL;
	size_t tlen = 0;
	if (tot >= hl && tot <= len) {
		trail = p + tot;
		tlen = len - tot;
		plen = tot - hl;
	}
	if (off != 0)
		blob(d, pre, "fragment payload", pl, plen);
	else if (p[9] == 6)
		dec_tcp(d, pl, plen);
	else if (p[9] == 17)
		dec_udp(d, pl, plen);
	else if (p[9] == 1)
		dec_icmp(d, pl, plen);
	else
		blob(d, pre, "payload", pl, plen);
	if (tlen)
		blob(d, "Ethernet", "padding", trail, tlen);
}

static void dec_arp(struct decoded *d, const uint8_t *p, size_t len)
{
	if (len < 28) {
		blob(d, "ARP", "truncated packet", p, len);
		return;
	}
	char a[32];
	field(d, "ARP", "hardware type", "%u", g16(p));
	field(d, "ARP", "protocol type", "0x%04x", g16(p + 2));
	field(d, "ARP", "hardware size", "%u", p[4]);
	field(d, "ARP", "protocol size", "%u", p[5]);
	uint16_t op = g16(p + 6);
	field(d, "ARP", "opcode", "%u (%s)", op, op == 1 ? "request" : op == 2 ? "reply" : "other");
	fmt_mac(a, sizeof a, p + 8);
	field(d, "ARP", "sender MAC", "%s", a);
	fmt_ip(a, sizeof a, p + 14);
	field(d, "ARP", "sender IP", "%s", a);
	fmt_mac(a, sizeof a, p + 18);
	field(d, "ARP", "target MAC", "%s", a);
	fmt_ip(a, sizeof a, p + 24);
	field(d, "ARP", "target IP", "%s", a);
	blob(d, "Ethernet", "padding", p + 28, len - 28);
}

static void decode(struct decoded *d, const uint8_t *f, size_t len)
{
	d->n = 0;
	if (len < 14) {
		blob(d, "Ethernet", "truncated header", f, len);
		return;
	}
	char a[32];
	fmt_mac(a, sizeof a, f);
	field(d, "Ethernet", "destination", "%s", a);
	fmt_mac(a, sizeof a, f + 6);
	field(d, "Ethernet", "source", "%s", a);
	uint16_t type = g16(f + 12);
	field(d, "Ethernet", "type", "0x%04x", type);
	if (type == 0x0806)
		dec_arp(d, f + 14, len - 14);
	else if (type == 0x0800)
		dec_ipv4(d, "IPv4", f + 14, len - 14, false);
	else
		blob(d, "Ethernet", "payload", f + 14, len - 14);
}

/* ---- comparison ----------------------------------------------------------- */

static struct decoded dec_a, dec_b;   /* large: kept out of the stack; one caller at a time */

bool rp_frame_diff(const uint8_t *exp, size_t elen, const uint8_t *act, size_t alen, char *buf,
		   size_t cap)
{
	buf[0] = '\0';
	if (elen == alen && memcmp(exp, act, elen) == 0)
		return false;
	struct decoded *a = &dec_a, *b = &dec_b;
	decode(a, exp, elen);
	decode(b, act, alen);
	int n = a->n < b->n ? a->n : b->n;
	/*
	 * Lengths and checksums follow from the other fields, so a difference
	 * in them is reported last: first a differing field, then where the
	 * decodes part ways (a field or option only one frame has), then a
	 * length or checksum.
	 */
	int same = n;           /* entries [0, same) have the same names and kinds */
	for (int i = 0; i < n; i++) {
		const struct entry *x = &a->e[i], *y = &b->e[i];
		if (strcmp(x->name, y->name) != 0 || (x->data == NULL) != (y->data == NULL)) {
			same = i;
			break;
		}
		if (x->derived)
			continue;
		if (!x->data) {
			if (strcmp(x->val, y->val) != 0) {
				snprintf(buf, cap, "%s: expected %s, actual %s", x->name, x->val,
					 y->val);
				return true;
			}
			continue;
		}
		size_t m = x->len < y->len ? x->len : y->len;
		for (size_t k = 0; k < m; k++)
			if (x->data[k] != y->data[k]) {
				snprintf(buf, cap, "%s byte %zu: expected 0x%02x, actual 0x%02x",
					 x->name, k, x->data[k], y->data[k]);
				return true;
			}
		if (x->len != y->len) {
			snprintf(buf, cap, "%s length: expected %zu, actual %zu", x->name, x->len,
				 y->len);
			return true;
		}
	}
	if (same < n) {
		snprintf(buf, cap, "decoded differently: expected \"%s\", actual \"%s\"",
			 a->e[same].name, b->e[same].name);
		return true;
	}
	if (a->n != b->n) {
		const struct entry *x = a->n > b->n ? &a->e[n] : &b->e[n];
		char v[160];
		if (x->data)
			snprintf(v, sizeof v, "%zu bytes", x->len);
		else
			snprintf(v, sizeof v, "%s", x->val);
		if (a->n > b->n)
			snprintf(buf, cap, "%s: expected %s, actual absent", x->name, v);
		else
			snprintf(buf, cap, "%s: expected absent, actual %s", x->name, v);
		return true;
	}
	for (int i = 0; i < same; i++) {
		const struct entry *x = &a->e[i], *y = &b->e[i];
		if (x->derived && strcmp(x->val, y->val) != 0) {
			snprintf(buf, cap, "%s: expected %s, actual %s", x->name, x->val, y->val);
			return true;
		}
	}
	/* Decoded alike yet different bytes: say where. */
	size_t m = elen < alen ? elen : alen;
	for (size_t k = 0; k < m; k++)
		if (exp[k] != act[k]) {
			snprintf(buf, cap, "frame byte %zu: expected 0x%02x, actual 0x%02x", k, exp[k],
				 act[k]);
			return true;
		}
	snprintf(buf, cap, "frame length: expected %zu, actual %zu", elen, alen);
	return true;
}

/* ---- one-line description ------------------------------------------------- */

static void describe_tcp(char *b, size_t cap, const uint8_t *ip, size_t hl, const uint8_t *p,
			 size_t len)
{
	char s[16], dd[16];
	fmt_ip(s, sizeof s, ip + 12);
	fmt_ip(dd, sizeof dd, ip + 16);
	if (len < 20) {
		snprintf(b, cap, "TCP %s > %s truncated (%zu bytes)", s, dd, len);
		return;
	}
	static const char fc[8] = { 'F', 'S', 'R', 'P', '.', 'U', 'E', 'W' };
	char fl[10];
	int k = 0;
	for (int i = 0; i < 8; i++)
		if (p[13] & (1u << i))
			fl[k++] = fc[i];
	fl[k] = '\0';
	size_t thl = (size_t)(p[12] >> 4) * 4;
	size_t dlen = thl <= len ? len - thl : 0;
	size_t o = (size_t)snprintf(b, cap, "TCP %s:%u > %s:%u [%s] seq %u", s, g16(p), dd,
				    g16(p + 2), fl, g32(p + 4));
	if (o < cap && (p[13] & 0x10))
		o += (size_t)snprintf(b + o, cap - o, " ack %u", g32(p + 8));
	if (o < cap)
		o += (size_t)snprintf(b + o, cap - o, " win %u len %zu", g16(p + 14), dlen);
	/* Options, tcpdump style. */
	if (thl > 20 && thl <= len && o < cap) {
		const uint8_t *op = p + 20;
		size_t ol = thl - 20, i = 0;
		o += (size_t)snprintf(b + o, cap - o, " <");
		bool first = true;
		while (i < ol && o < cap) {
			uint8_t kind = op[i];
			const char *sep = first ? "" : ",";
			first = false;
			if (kind == 0) {
				o += (size_t)snprintf(b + o, cap - o, "%seol", sep);
				break;
			}
			if (kind == 1) {
				o += (size_t)snprintf(b + o, cap - o, "%snop", sep);
				i++;
				continue;
			}
			if (i + 1 >= ol || op[i + 1] < 2 || i + op[i + 1] > ol) {
				o += (size_t)snprintf(b + o, cap - o, "%sbad", sep);
				break;
			}
			const uint8_t *v = op + i + 2;
			if (kind == 2 && op[i + 1] == 4)
				o += (size_t)snprintf(b + o, cap - o, "%smss %u", sep, g16(v));
			else if (kind == 3 && op[i + 1] == 3)
				o += (size_t)snprintf(b + o, cap - o, "%swscale %u", sep, v[0]);
			else if (kind == 4)
				o += (size_t)snprintf(b + o, cap - o, "%ssackOK", sep);
			else if (kind == 8 && op[i + 1] == 10)
				o += (size_t)snprintf(b + o, cap - o, "%sTS val %u ecr %u", sep,
						      g32(v), g32(v + 4));
			else
				o += (size_t)snprintf(b + o, cap - o, "%sopt-%u", sep, kind);
			i += op[i + 1];
		}
		if (o < cap)
			snprintf(b + o, cap - o, ">");
	}
	(void)hl;
}

void rp_describe(const uint8_t *f, size_t len, char *b, size_t cap)
{
	char s[32], d[32];
	if (len < 14) {
		snprintf(b, cap, "runt frame (%zu bytes)", len);
		return;
	}
	uint16_t type = g16(f + 12);
	const uint8_t *p = f + 14;
	size_t pl = len - 14;
	if (type == 0x0806) {
		if (pl < 28) {
			snprintf(b, cap, "ARP truncated (%zu bytes)", pl);
			return;
		}
		uint16_t op = g16(p + 6);
		fmt_ip(s, sizeof s, p + 14);
		fmt_ip(d, sizeof d, p + 24);
		if (op == 1 && memcmp(p + 14, p + 24, 4) == 0)
			snprintf(b, cap, "ARP announce %s", s);
		else if (op == 1)
			snprintf(b, cap, "ARP who-has %s tell %s", d, s);
		else if (op == 2) {
			char m[24];
			fmt_mac(m, sizeof m, p + 8);
			snprintf(b, cap, "ARP %s is-at %s", s, m);
		} else
			snprintf(b, cap, "ARP opcode %u", op);
		return;
	}
	if (type != 0x0800) {
		snprintf(b, cap, "EtherType 0x%04x, %zu bytes", type, len);
		return;
	}
	if (pl < 20 || (p[0] >> 4) != 4 || (size_t)(p[0] & 0x0f) * 4 < 20 ||
	    (size_t)(p[0] & 0x0f) * 4 > pl) {
		snprintf(b, cap, "IPv4 malformed header (%zu bytes)", pl);
		return;
	}
	size_t hl = (size_t)(p[0] & 0x0f) * 4;
	size_t tot = g16(p + 2);
	if (tot < hl || tot > pl)
		tot = pl;
	fmt_ip(s, sizeof s, p + 12);
	fmt_ip(d, sizeof d, p + 16);
	uint16_t fr = g16(p + 6);
	uint32_t off = (uint32_t)(fr & 0x1fff) * 8;
	const uint8_t *l4 = p + hl;
	size_t l4len = tot - hl;
	if (off != 0 || (fr & 0x2000)) {
		size_t o = (size_t)snprintf(b, cap, "IPv4 %s > %s %s fragment id 0x%04x off %u%s len %zu",
					    s, d, proto_name(p[9]), g16(p + 4), off,
					    (fr & 0x2000) ? " MF" : "", l4len);
		(void)o;
		return;
	}
	if (p[9] == 6) {
		describe_tcp(b, cap, p, hl, l4, l4len);
	} else if (p[9] == 17 && l4len >= 8) {
		snprintf(b, cap, "UDP %s:%u > %s:%u len %zu", s, g16(l4), d, g16(l4 + 2), l4len - 8);
	} else if (p[9] == 1 && l4len >= 8) {
		if (l4[0] == 0 || l4[0] == 8)
			snprintf(b, cap, "ICMP %s > %s %s id %u seq %u len %zu", s, d,
				 icmp_type_name(l4[0]), g16(l4 + 4), g16(l4 + 6), l4len - 8);
		else
			snprintf(b, cap, "ICMP %s > %s %s code %u", s, d, icmp_type_name(l4[0]),
				 l4[1]);
	} else {
		snprintf(b, cap, "IPv4 %s > %s proto %u len %zu", s, d, p[9], l4len);
	}
}

/* ---- traces --------------------------------------------------------------- */

static void fmt_time(char *b, size_t cap, uint64_t ns)
{
	snprintf(b, cap, "%llu.%06llu", (unsigned long long)(ns / 1000000000ull),
		 (unsigned long long)(ns % 1000000000ull / 1000));
}

static void show(FILE *out, const char *who, const struct rp_frame *f)
{
	char t[32], desc[512];
	fmt_time(t, sizeof t, f->ts_ns);
	rp_describe(f->data, f->len, desc, sizeof desc);
	fprintf(out, "  %-8s t=%s  %s\n", who, t, desc);
}

int rp_trace_compare(const struct rp_trace *exp, const struct rp_trace *act, bool check_times,
		     FILE *out)
{
	size_t n = exp->n < act->n ? exp->n : act->n;
	size_t ndiff = 0, first = (size_t)-1;
	char why[512] = "";
	for (size_t i = 0; i < n; i++) {
		const struct rp_frame *e = &exp->f[i], *a = &act->f[i];
		char w[512];
		bool d = rp_frame_diff(e->data, e->len, a->data, a->len, w, sizeof w);
		if (!d && check_times && e->ts_ns / 1000 != a->ts_ns / 1000) {
			char te[32], ta[32];
			fmt_time(te, sizeof te, e->ts_ns);
			fmt_time(ta, sizeof ta, a->ts_ns);
			snprintf(w, sizeof w, "time: expected %s, actual %s", te, ta);
			d = true;
		}
		if (!d)
			continue;
		if (ndiff++ == 0) {
			first = i;
			snprintf(why, sizeof why, "%s", w);
		}
	}
	if (ndiff == 0 && exp->n == act->n)
		return 0;
	if (ndiff) {
		fprintf(out, "frame %zu: %s\n", first + 1, why);
		show(out, "expected", &exp->f[first]);
		show(out, "actual", &act->f[first]);
	} else if (exp->n > act->n) {
		fprintf(out, "frame %zu: missing from the output (%zu expected frame%s missing)\n",
			n + 1, exp->n - n, exp->n - n == 1 ? "" : "s");
		show(out, "expected", &exp->f[n]);
	} else {
		fprintf(out, "frame %zu: extra frame in the output (%zu extra frame%s)\n", n + 1,
			act->n - n, act->n - n == 1 ? "" : "s");
		show(out, "actual", &act->f[n]);
	}
	fprintf(out, "%zu of %zu compared frames differ; expected %zu frames, actual %zu\n", ndiff,
		n, exp->n, act->n);
	return 1;
}
