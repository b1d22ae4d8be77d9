/*
 * tcputil.c — building, injecting and parsing TCP segments for the unit
 * tests (see tcputil.h). The header layout follows RFC 9293 3.1, options
 * RFC 9293 3.7.1, RFC 7323 2.2 / 3.2 and RFC 2018 2; the checksum is the
 * RFC 1071 sum of stackutil.c over the pseudo-header and the segment.
 * Nothing here calls the library's TCP wire code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "socket.h"
#include "stack.h"
#include "tcp.h"
#include "tcputil.h"

/* Option kinds (RFC 9293 3.1, RFC 2018, RFC 7323). */
enum { OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WS = 3, OPT_SACK_OK = 4, OPT_SACK = 5, OPT_TS = 8 };

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The TCP checksum of the segment seg (len bytes, its checksum field
 * included as it is): RFC 9293 3.1 pseudo-header (source, destination,
 * zero, protocol 6, TCP length) followed by the segment. A result of 0
 * over a segment with its checksum filled in means the checksum is right.
 */
static uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
	static uint8_t buf[12 + US_PAIR_FRAME_MAX];
	memcpy(buf, &src, 4);
	memcpy(buf + 4, &dst, 4);
	buf[8] = 0;
	buf[9] = 6;
	tu_put16(buf + 10, (uint16_t)len);
	memcpy(buf + 12, seg, len);
	return tu_csum(buf, 12 + len);
}

/* ---- building ---------------------------------------------------------------- */

/* Options of s at p; returns their length (a multiple of 4). */
static size_t put_opts(uint8_t *p, const struct tc_seg *s)
{
	if (s->raw_opts) {
		memcpy(p, s->raw_opts, s->raw_optlen);
		return s->raw_optlen;
	}
	size_t n = 0;
	if (s->has_mss) {
		p[n++] = OPT_MSS;
		p[n++] = 4;
		tu_put16(p + n, s->mss);
		n += 2;
	}
	if (s->sack_ok && s->has_ts) {
		p[n++] = OPT_SACK_OK;
		p[n++] = 2;
	} else if (s->sack_ok) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_NOP;
		p[n++] = OPT_SACK_OK;
		p[n++] = 2;
	} else if (s->has_ts) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_NOP;
	}
	if (s->has_ts) {
		p[n++] = OPT_TS;
		p[n++] = 10;
		put32(p + n, s->tsval);
		put32(p + n + 4, s->tsecr);
		n += 8;
	}
	if (s->has_wscale) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_WS;
		p[n++] = 3;
		p[n++] = s->wscale;
	}
	if (s->nsack) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_NOP;
		p[n++] = OPT_SACK;
		p[n++] = (uint8_t)(2 + 8 * s->nsack);
		for (int i = 0; i < s->nsack; i++) {
			put32(p + n, s->sack[i][0]);
			put32(p + n + 4, s->sack[i][1]);
			n += 8;
		}
	}
	return n;
}

size_t tc_build(uint8_t *p, const struct tc_seg *s)
{
	uint32_t src = s->src ? s->src : TU_PEER_IP;
	uint32_t dst = s->dst ? s->dst : TU_STACK_IP;
	size_t olen = put_opts(p + 20, s);
	size_t hlen = 20 + olen;
	tu_put16(p, s->sport);
	tu_put16(p + 2, s->dport);
	put32(p + 4, s->seq);
	put32(p + 8, s->ack);
	p[12] = (uint8_t)(hlen / 4) << 4;       /* data offset in 32-bit words; reserved bits 0 */
	p[13] = s->flags;
	tu_put16(p + 14, s->win);
	p[16] = p[17] = 0;
	tu_put16(p + 18, s->urg);
	if (s->len)
		memcpy(p + hlen, s->data, s->len);
	uint16_t c = tcp_csum(src, dst, p, hlen + s->len);
	if (s->bad_csum)
		c ^= 0x0101;
	tu_put16(p + 16, c);
	return hlen + s->len;
}

size_t tc_frame(uint8_t *f, const struct tc_seg *s)
{
	static uint8_t seg[US_PAIR_FRAME_MAX];
	size_t n = tc_build(seg, s);
	struct tu_iph h = tu_iph_peer(6);
	h.df = true;
	if (s->src)
		h.src = s->src;
	if (s->dst)
		h.dst = s->dst;
	return tu_ip_frame(f, &h, seg, n);
}

void tc_inject(struct tu *t, const struct tc_seg *s)
{
	static uint8_t f[US_PAIR_FRAME_MAX];
	tu_inject(t, f, tc_frame(f, s));
}

struct tc_seg tc_syn(uint16_t sport, uint16_t dport, uint32_t seq)
{
	return (struct tc_seg){ .sport = sport, .dport = dport, .seq = seq, .flags = TC_SYN,
				.win = 65535, .has_mss = true, .mss = 1460 };
}

/* ---- parsing ------------------------------------------------------------------- */

/* RFC 9293 3.1 / 3.2: options until EOL or the end; an impossible length stops the walk. */
static void parse_opts(const uint8_t *p, size_t len, struct tc_parsed *o)
{
	size_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == OPT_EOL)
			return;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len) {
			o->opt_bad = true;
			return;
		}
		uint8_t olen = p[i + 1];
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				o->opt_bad = true;
			else {
				o->has_mss = true;
				o->mss = tu_get16(v);
			}
			break;
		case OPT_WS:
			if (olen != 3)
				o->opt_bad = true;
			else {
				o->has_wscale = true;
				o->wscale = v[0];
			}
			break;
		case OPT_SACK_OK:
			if (olen != 2)
				o->opt_bad = true;
			else
				o->sack_ok = true;
			break;
		case OPT_SACK:
			/* RFC 2018 3: 2 + 8n bytes, n >= 1; at most 4 fit. */
			if (olen < 10 || (olen - 2) % 8 || olen > 34)
				o->opt_bad = true;
			else {
				o->nsack = (olen - 2) / 8;
				for (int k = 0; k < o->nsack; k++) {
					o->sack[k][0] = get32(v + 8 * k);
					o->sack[k][1] = get32(v + 8 * k + 4);
				}
			}
			break;
		case OPT_TS:
			if (olen != 10)
				o->opt_bad = true;
			else {
				o->has_ts = true;
				o->tsval = get32(v);
				o->tsecr = get32(v + 4);
			}
			break;
		default:
			break;
		}
		i += olen;
	}
}

bool tc_parse(const struct tu_frame *f, struct tc_parsed *o)
{
	struct tu_ipv ip;
	memset(o, 0, sizeof *o);
	if (!tu_parse_ip(f->data, f->len, &ip) || ip.proto != 6 || ip.frag_off || ip.mf ||
	    ip.plen < 20)
		return false;
	const uint8_t *p = ip.payload;
	size_t hlen = (size_t)(p[12] >> 4) * 4;
	if (hlen < 20 || hlen > ip.plen)
		return false;
	o->time = f->ts;
	o->src = ip.src;
	o->dst = ip.dst;
	o->ttl = ip.ttl;
	o->df = ip.df;
	o->sport = tu_get16(p);
	o->dport = tu_get16(p + 2);
	o->seq = get32(p + 4);
	o->ack = get32(p + 8);
	o->hlen = (uint8_t)hlen;
	o->flags = p[13];
	o->win = tu_get16(p + 14);
	o->urg = tu_get16(p + 18);
	o->csum_ok = tcp_csum(ip.src, ip.dst, p, ip.plen) == 0;
	parse_opts(p + 20, hlen - 20, o);
	o->data = p + hlen;
	o->len = ip.plen - hlen;
	return true;
}

/* ---- collecting ---------------------------------------------------------------- */

/* Parse frames[from..] into o->seg; returns the TCP segments added. */
static int parse_new(struct tc_out *o, int from)
{
	int added = 0;
	for (int i = from; i < o->frames.n; i++) {
		struct tc_parsed s;
		if (!tc_parse(&o->frames.f[i], &s)) {
			o->other++;
			continue;
		}
		if (o->n == o->cap) {
			int cap = o->cap ? o->cap * 2 : 16;
			struct tc_parsed *n = realloc(o->seg, (size_t)cap * sizeof *n);
			if (!n) {
				fprintf(stderr, "tcputil: out of memory\n");
				abort();
			}
			o->seg = n;
			o->cap = cap;
		}
		/* Every segment the stack sends must be well formed. */
		CU_ASSERT(s.csum_ok);
		CU_ASSERT(!s.opt_bad);
		CU_ASSERT_EQUAL(s.src, TU_STACK_IP);
		o->seg[o->n++] = s;
		added++;
	}
	return added;
}

/* The frames array may have moved: point every parsed segment's data at it again. */
static void repoint(struct tc_out *o)
{
	int k = 0;
	for (int i = 0; i < o->frames.n && k < o->n; i++) {
		struct tc_parsed s;
		if (tc_parse(&o->frames.f[i], &s))
			o->seg[k++].data = s.data;
	}
}

int tc_collect(struct tu *t, struct tc_out *o)
{
	if (!o) {
		tu_collect(t, NULL);
		return 0;
	}
	int from = o->frames.n;
	tu_collect(t, &o->frames);
	repoint(o);
	return parse_new(o, from);
}

int tc_run(struct tu *t, uint64_t ns, struct tc_out *o)
{
	if (!o) {
		tu_run(t, ns, NULL);
		return 0;
	}
	int from = o->frames.n;
	tu_run(t, ns, &o->frames);
	repoint(o);
	return parse_new(o, from);
}

void tc_out_clear(struct tc_out *o)
{
	tu_frames_clear(&o->frames);
	o->n = 0;
	o->other = 0;
}

void tc_out_free(struct tc_out *o)
{
	tu_frames_free(&o->frames);
	free(o->seg);
	memset(o, 0, sizeof *o);
}

int tc_count_flags(const struct tc_out *o, uint8_t flags)
{
	int n = 0;
	for (int i = 0; i < o->n; i++)
		n += o->seg[i].flags == flags;
	return n;
}

int tc_find(const struct tc_out *o, int from, uint8_t flags)
{
	for (int i = from < 0 ? 0 : from; i < o->n; i++)
		if ((o->seg[i].flags & flags) == flags)
			return i;
	return -1;
}

const char *tc_flags_str(uint8_t flags)
{
	static char buf[64];
	static const char *const names[8] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };
	buf[0] = 0;
	for (int i = 0; i < 8; i++) {
		if (!(flags & (1u << i)))
			continue;
		if (buf[0])
			strcat(buf, "|");
		strcat(buf, names[i]);
	}
	if (!buf[0])
		strcpy(buf, "none");
	return buf;
}

/* ---- the stack --------------------------------------------------------------- */

void tc_config(struct us_config *cfg, uint32_t mtu, const char *tag)
{
	char wire[96];
	struct tu_opts o = { .mtu = mtu, .static_peer = true };
	tu_wire_name(wire, sizeof wire, tag);
	tu_config(cfg, wire, &o);
}

int tc_listen(struct tu *t, uint16_t port, int backlog)
{
	int fd = us_socket(t->st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int rc = us_bind(t->st, fd, (struct sockaddr *)&a, sizeof a);
	CU_ASSERT_EQUAL(rc, 0);
	rc = rc == 0 ? us_listen(t->st, fd, backlog) : rc;
	CU_ASSERT_EQUAL(rc, 0);
	if (rc < 0) {
		us_close(t->st, fd);
		return -1;
	}
	return fd;
}

int tc_state(struct tu *t, int fd)
{
	struct us_sock *s = us_sock_get(t->st, fd);
	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	int st = s->tcb ? (int)s->tcb->state : -1;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return st;
}

int tc_conn_state(struct tu *t, uint16_t stack_port, uint16_t peer_port)
{
	/* TIME_WAIT is a record, not a control block (tcp_timewait.c). */
	if (tcp_tw_lookup(t->st, TU_STACK_IP, htons(stack_port), TU_PEER_IP, htons(peer_port), NULL))
		return TCPS_TIME_WAIT;
	/* Nor is SYN_RCVD of a passive open (a SYN cache entry, tcp_syncache.c). */
	if (tcp_syncache_lookup(t->st, TU_STACK_IP, htons(stack_port), TU_PEER_IP, htons(peer_port),
				NULL))
		return TCPS_SYN_RCVD;
	struct us_sock *s = tcp_lookup(t->st, TU_STACK_IP, htons(stack_port), TU_PEER_IP,
				       htons(peer_port));
	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	struct us_tcb *tcb = s->tcb;
	int st = -1;
	/* tcp_lookup falls back to a listener: only an exact 4-tuple counts. */
	if (tcb && tcb->raddr == TU_PEER_IP && tcb->rport == htons(peer_port) &&
	    tcb->state != TCPS_LISTEN)
		st = (int)tcb->state;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return st;
}

int tc_tcbs(struct tu *t)
{
	struct us_tcp *tcp = &t->st->tcp;
	int n = 0;
	pthread_rwlock_rdlock(&tcp->lock);
	for (unsigned h = 0; h < tcp->conn_buckets; h++)
		for (struct us_tcb *c = tcp->conn[h]; c; c = c->conn_next)
			n++;
	for (int h = 0; h < US_TCP_HASH; h++) {
		for (struct us_tcb *c = tcp->port[h]; c; c = c->port_next)
			if (!c->in_conn)
				n++;
	}
	pthread_rwlock_unlock(&tcp->lock);
	return n;
}

struct us_tcb *tc_tcb(struct tu *t, int fd)
{
	struct us_sock *s = us_sock_get(t->st, fd);
	if (!s)
		return NULL;
	struct us_tcb *c = s->tcb;
	us_sock_put(s);         /* the descriptor keeps it alive */
	return c;
}

/* ---- the socket listing -------------------------------------------------------- */

char *tc_listing(us_stack *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	us_stack_sockets_print(st, f);
	fclose(f);
	return buf;
}

int tc_listing_rows(const char *listing, const char *state, const char *local,
		    const char *peer)
{
	int n = 0;
	for (const char *line = listing; line && *line;) {
		char netid[8], stt[16], l[32], p[32];
		unsigned long long rq, sq;
		if (sscanf(line, "%7s %15s %llu %llu %31s %31s", netid, stt, &rq, &sq, l, p) == 6 &&
		    strcmp(netid, "tcp") == 0 && strcmp(stt, state) == 0 && strcmp(l, local) == 0 &&
		    strcmp(p, peer) == 0 && rq == 0 && sq == 0)
			n++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return n;
}

int tc_listed(us_stack *st, const char *state, const char *local, const char *peer)
{
	char *buf = tc_listing(st);
	CU_ASSERT_FATAL(buf != NULL);
	int n = tc_listing_rows(buf, state, local, peer);
	free(buf);
	return n;
}

/* ---- the scripted peer ------------------------------------------------------- */

/* Remember what the stack's SYN or SYN-ACK announced. */
static void saw_syn(struct tc_peer *p, const struct tc_parsed *s)
{
	p->stack_iss = s->seq;
	p->stack_mss = s->has_mss ? s->mss : 0;
	p->stack_has_ws = s->has_wscale;
	p->stack_wscale = s->wscale;
}

void tc_peer_init(struct tc_peer *p, struct tu *t, uint16_t port, uint16_t stack_port,
		  uint32_t iss)
{
	memset(p, 0, sizeof *p);
	p->t = t;
	p->port = port;
	p->stack_port = stack_port;
	p->iss = iss;
	p->snd_nxt = iss;
	p->win = 65535;
	p->tsval = 100000;
}

struct tc_seg tc_peer_seg(const struct tc_peer *p, uint8_t flags, const void *data, size_t len)
{
	struct tc_seg s = {
		.sport = p->port,
		.dport = p->stack_port,
		.seq = p->snd_nxt,
		.ack = (flags & TC_ACK) ? p->rcv_nxt : 0,
		.flags = flags,
		.win = p->win,
		.has_ts = p->ts,
		.tsval = p->tsval,
		.tsecr = (flags & TC_ACK) ? p->ts_recent : 0,
		.data = data,
		.len = len,
	};
	return s;
}

void tc_peer_send(struct tc_peer *p, uint8_t flags, const void *data, size_t len)
{
	struct tc_seg s = tc_peer_seg(p, flags, data, len);
	tc_inject(p->t, &s);
	p->snd_nxt += (uint32_t)len + !!(flags & TC_SYN) + !!(flags & TC_FIN);
}

void tc_peer_saw(struct tc_peer *p, const struct tc_parsed *s)
{
	uint32_t end = s->seq + (uint32_t)s->len + !!(s->flags & TC_SYN) + !!(s->flags & TC_FIN);
	if (s->flags & TC_RST)
		return;
	if (s->flags & TC_SYN)
		saw_syn(p, s);
	if ((int32_t)(end - p->rcv_nxt) > 0 || (s->flags & TC_SYN))
		p->rcv_nxt = end;
	if (s->has_ts)
		p->ts_recent = s->tsval;
}

int tc_open_passive(struct tc_peer *p, int lfd, const struct tc_seg *syn)
{
	return tc_open_passive_rtt(p, lfd, syn, 0);
}

int tc_open_passive_rtt(struct tc_peer *p, int lfd, const struct tc_seg *syn, uint64_t rtt_ns)
{
	struct tu *t = p->t;
	struct tc_seg s = syn ? *syn : (struct tc_seg){ .has_mss = true, .mss = 1460 };
	s.sport = p->port;
	s.dport = p->stack_port;
	s.seq = p->iss;
	s.ack = 0;
	s.flags = TC_SYN;
	s.data = NULL;
	s.len = 0;
	if (!s.win)
		s.win = p->win;
	if (s.has_ts)
		p->tsval = s.tsval;
	struct tc_out o = { 0 };
	tc_inject(t, &s);
	p->snd_nxt = p->iss + 1;
	tc_collect(t, &o);
	CU_ASSERT_EQUAL(o.n, 1);
	if (o.n != 1 || o.seg[0].flags != (TC_SYN | TC_ACK) || o.seg[0].ack != p->iss + 1) {
		CU_FAIL("tc_open_passive: no SYN-ACK for the SYN");
		tc_out_free(&o);
		return -1;
	}
	p->ts = s.has_ts && o.seg[0].has_ts;
	tc_peer_saw(p, &o.seg[0]);
	tc_out_clear(&o);
	tc_run(t, rtt_ns, &o);
	CU_ASSERT_EQUAL(o.n, 0);        /* no SYN-ACK retransmission within rtt_ns */
	tc_peer_send(p, TC_ACK, NULL, 0);
	tc_collect(t, &o);
	CU_ASSERT_EQUAL(o.n, 0);        /* nothing answers the handshake's ACK */
	tc_out_free(&o);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	int fd = us_accept(t->st, lfd, (struct sockaddr *)&peer, &pl);
	CU_ASSERT(fd >= 0);
	if (fd >= 0) {
		CU_ASSERT_EQUAL(peer.sin_addr.s_addr, TU_PEER_IP);
		CU_ASSERT_EQUAL(ntohs(peer.sin_port), p->port);
	}
	return fd;
}

int tc_open_conn(struct tu *t, struct us_config *cfg, const struct tc_conn_spec *s,
		 struct tc_peer *p, int *lfd)
{
	*lfd = -1;
	if (!tu_open_cfg(t, cfg))
		return -1;
	*lfd = tc_listen(t, s->lport, s->backlog ? s->backlog : 8);
	tc_peer_init(p, t, s->pport, s->lport, s->piss);
	int fd = tc_open_passive_rtt(p, *lfd, s->syn, s->rtt_ns);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

int tc_open_active(struct tc_peer *p, const struct tc_seg *synack)
{
	struct tu *t = p->t;
	int fd = us_socket(t->st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p->port),
				 .sin_addr.s_addr = TU_PEER_IP };
	errno = 0;
	int rc = us_connect(t->st, fd, (struct sockaddr *)&a, sizeof a);
	CU_ASSERT(rc == -1 && errno == EINPROGRESS);
	struct tc_out o = { 0 };
	tc_collect(t, &o);
	CU_ASSERT_EQUAL(o.n, 1);
	if (o.n != 1 || o.seg[0].flags != TC_SYN) {
		CU_FAIL("tc_open_active: no SYN");
		tc_out_free(&o);
		us_close(t->st, fd);
		return -1;
	}
	struct tc_parsed syn = o.seg[0];
	p->stack_port = syn.sport;
	tc_peer_saw(p, &syn);
	struct tc_seg s = synack ? *synack : (struct tc_seg){ .has_mss = true, .mss = 1460 };
	s.sport = p->port;
	s.dport = p->stack_port;
	s.seq = p->iss;
	s.ack = p->rcv_nxt;
	s.flags = TC_SYN | TC_ACK;
	s.data = NULL;
	s.len = 0;
	if (!s.win)
		s.win = p->win;
	if (s.has_ts) {
		p->tsval = s.tsval;
		s.tsecr = syn.has_ts ? syn.tsval : 0;
	}
	p->ts = s.has_ts && syn.has_ts;
	tc_out_clear(&o);
	tc_inject(t, &s);
	p->snd_nxt = p->iss + 1;
	tc_collect(t, &o);
	int k = tc_find(&o, 0, TC_ACK);
	CU_ASSERT(k >= 0);
	if (k >= 0) {
		CU_ASSERT_EQUAL(o.seg[k].ack, p->iss + 1);
		CU_ASSERT_EQUAL(o.seg[k].seq, p->stack_iss + 1);
		tc_peer_saw(p, &o.seg[k]);
	}
	tc_out_free(&o);
	CU_ASSERT_EQUAL(tc_state(t, fd), TCPS_ESTABLISHED);
	return fd;
}
