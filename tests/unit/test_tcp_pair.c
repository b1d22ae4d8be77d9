/*
 * test_tcp_pair.c — bulk TCP between two whole stacks (suite tcp_pair).
 *
 * Two deterministic stacks, A (10.0.0.1) and B (10.0.0.2), share one pair
 * wire and are driven in lock-step on their virtual clocks, 1 ms at a
 * time. One connection carries a 20 MB stream in each direction at once
 * (non-blocking sockets; us_send and us_recv in a loop), each stream a
 * counter-based pseudo-random pattern. Each side hashes what it sends and
 * what it receives with SHA-256 (FIPS 180-4, implemented here and checked
 * against the standard vectors first); the hashes of each direction must
 * match and the receiver also checks every byte against the pattern, so a
 * failure says where the stream first went wrong.
 *
 * Runs: a clean wire (20 MB each way; nothing may be retransmitted), a
 * wire with loss 5%, reordering 2%, duplication 1% and corruption 0.1% on
 * both ends (20 MB each way), the same with 8 KiB buffers and slow readers
 * (windows close and reopen; 1 MB each way, four seeds), and eight runs
 * with impairments, delays, buffer sizes and options drawn from the run
 * number (US_TCP_PAIR_RUNS / US_TCP_PAIR_FIRST make that a soak). Seeds
 * are fixed, so every run is the same run. Each must finish within 600
 * virtual seconds, end with an orderly shutdown and close on both sides
 * (no reset), leave no connection in the tables once TIME_WAIT is over,
 * and leak no packet buffer. The virtual time, the real time and the TCP
 * and wire counters are printed; a stuck run prints both control blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "stackutil.h"

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------------- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;           /* bytes hashed */
	uint8_t buf[64];
	size_t nbuf;
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

/* FIPS 180-4 6.2.2: one 512-bit block. */
static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = h + S1 + ch + sha_k[i] + w[i];
		uint32_t S0 = ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
	s->h[5] += f;
	s->h[6] += g;
	s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, h0, sizeof h0);
	s->len = 0;
	s->nbuf = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	s->len += n;
	if (s->nbuf) {
		size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
		memcpy(s->buf + s->nbuf, p, k);
		s->nbuf += k;
		p += k;
		n -= k;
		if (s->nbuf < 64)
			return;
		sha256_block(s, s->buf);
		s->nbuf = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(s, p);
	memcpy(s->buf, p, n);
	s->nbuf = n;
}

/* FIPS 180-4 5.1.1 padding: 0x80, zeros, the 64-bit length in bits. */
static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

static void hex32(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
	struct sha256 s;
	uint8_t d[32];
	sha256_init(&s);
	sha256_update(&s, data, n);
	sha256_final(&s, d);
	hex32(d, out);
}

/* The FIPS 180-2 appendix B / NIST CSRC example vectors. */
static void test_sha256_vectors(void)
{
	char hex[65];
	sha256_hex("abc", 3, hex);
	CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, hex);
	CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), hex);
	CU_ASSERT_STRING_EQUAL(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a', fed in uneven pieces to exercise the buffering. */
	static uint8_t a[1024];
	memset(a, 'a', sizeof a);
	struct sha256 s;
	uint8_t d[32];
	sha256_init(&s);
	size_t left = 1000000, piece = 1;
	while (left) {
		size_t k = piece < left ? piece : left;
		sha256_update(&s, a, k);
		left -= k;
		piece = piece % 997 + 13;
	}
	sha256_final(&s, d);
	hex32(d, hex);
	CU_ASSERT_STRING_EQUAL(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- the data: byte i of stream `seed` is a byte of splitmix64(seed, i / 8) ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void stream_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t pos = off + i;
		uint64_t w = mix64(seed * 0x9e3779b97f4a7c15ULL + (pos >> 3));
		p[i] = (uint8_t)(w >> (8 * (pos & 7)));
	}
}

/* ---- two stacks on an impaired wire ------------------------------------------ */

#define STEP_NS      (1000ULL * 1000)            /* lock-step: 1 ms */
#define PORT         5001
#define CHUNK        (64 * 1024)
#define LIMIT_S      600                         /* virtual seconds for the transfer */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One run's settings. */
struct run_opts {
	const struct us_impair *imp;    /* both ends; NULL: a clean wire */
	uint64_t total;                 /* bytes each way */
	uint32_t bufsize;               /* tcp sndbuf and rcvbuf; 0: the default */
	bool plain;                     /* no timestamps, no window scaling */
	unsigned read_every;            /* ms between reads (0 or 1: every step) */
	size_t read_max;                /* bytes per read round (0: all there is) */
	uint64_t seed;                  /* varies both stacks' seeds (0: the usual ones) */
	uint64_t pause_every;           /* senders stop after every this many bytes ... */
	unsigned pause_ms;              /* ... for this long (0: never) */
};

static us_stack *open_stack(const char *wire, bool is_b, const struct run_opts *o)
{
	struct us_config cfg;
	char err[256] = "";
	tu_config(&cfg, wire, NULL);
	if (is_b) {
		memcpy(cfg.ifaces[0].mac, tu_peer_mac, 6);
		cfg.ifaces[0].addrs[0].addr.s_addr = TU_PEER_IP;
	}
	cfg.seed = (is_b ? 0xb0b : 0xa11ce) + o->seed * 0x10001;  /* ISNs, impairment draws */
	if (o->imp)
		cfg.ifaces[0].impair = *o->imp;
	if (o->bufsize)
		cfg.tcp.sndbuf = cfg.tcp.rcvbuf = o->bufsize;
	if (o->plain)
		cfg.tcp.timestamps = cfg.tcp.window_scaling = false;
	us_stack *st = us_stack_new(&cfg, US_STACK_DETERMINISTIC, err, sizeof err);
	if (!st)
		fprintf(stderr, "tcp_pair: us_stack_new: %s\n", err);
	return st;
}

/* One end of the connection: what it sends and what it has received. */
struct side {
	const char *name;
	us_stack *st;
	int fd;
	uint64_t tx_seed, rx_seed;  /* our stream, the peer's stream */
	uint64_t total;
	/* Sending: bytes [pend_off, pend_off + pend_len) are in pend, not yet taken. */
	uint8_t pend[CHUNK];
	uint64_t pend_off;
	size_t pend_len, pend_pos;
	uint64_t sent;
	bool shut;
	struct sha256 tx_hash;
	/* Receiving. */
	uint8_t rbuf[CHUNK], want[CHUNK];
	uint64_t rcvd;
	bool eof;
	int64_t first_bad;          /* offset of the first wrong byte received, -1 none */
	unsigned read_every;        /* read on every read_every-th call of pump() */
	size_t read_max;            /* at most this much per such call (0: no limit) */
	unsigned calls;
	uint64_t pause_every;       /* stop sending after every this many bytes ... */
	uint64_t pause_ns;          /* ... for this long */
	uint64_t next_pause, pause_until;
	int err;                    /* an unexpected errno from send/recv */
	struct sha256 rx_hash;
};

static void side_init(struct side *s, const char *name, us_stack *st, uint64_t tx_seed,
		      uint64_t rx_seed, uint64_t total)
{
	memset(s, 0, sizeof *s);
	s->name = name;
	s->st = st;
	s->fd = -1;
	s->tx_seed = tx_seed;
	s->rx_seed = rx_seed;
	s->total = total;
	s->first_bad = -1;
	sha256_init(&s->tx_hash);
	sha256_init(&s->rx_hash);
}

/* Send and receive all that the socket takes and gives now. */
static void pump(struct side *s)
{
	uint64_t now = us_stack_now(s->st);
	if (s->pause_every && s->sent >= s->next_pause && s->sent < s->total) {
		s->next_pause += s->pause_every;
		s->pause_until = now + s->pause_ns;
	}
	while (!s->shut && !s->err && now >= s->pause_until) {
		if (s->pend_pos == s->pend_len) {
			uint64_t left = s->total - s->sent;
			if (left == 0) {
				if (us_shutdown(s->st, s->fd, SHUT_WR) < 0)
					s->err = errno;
				s->shut = true;
				break;
			}
			s->pend_off = s->sent;
			s->pend_len = left < CHUNK ? (size_t)left : CHUNK;
			s->pend_pos = 0;
			stream_fill(s->tx_seed, s->pend_off, s->pend, s->pend_len);
		}
		ssize_t n = us_send(s->st, s->fd, s->pend + s->pend_pos, s->pend_len - s->pend_pos, 0);
		if (n < 0) {
			if (errno != EAGAIN)
				s->err = errno;
			break;
		}
		sha256_update(&s->tx_hash, s->pend + s->pend_pos, (size_t)n);
		s->pend_pos += (size_t)n;
		s->sent += (uint64_t)n;
	}
	size_t budget = s->read_max ? s->read_max : SIZE_MAX;
	if (s->read_every > 1 && s->calls++ % s->read_every != 0)
		budget = 0;
	while (!s->eof && !s->err && budget > 0) {
		size_t want = budget < sizeof s->rbuf ? budget : sizeof s->rbuf;
		ssize_t n = us_recv(s->st, s->fd, s->rbuf, want, 0);
		if (n < 0) {
			if (errno != EAGAIN)
				s->err = errno;
			break;
		}
		if (n == 0) {
			s->eof = true;
			break;
		}
		if (s->first_bad < 0) {
			stream_fill(s->rx_seed, s->rcvd, s->want, (size_t)n);
			for (ssize_t i = 0; i < n; i++)
				if (s->rbuf[i] != s->want[i]) {
					s->first_bad = (int64_t)(s->rcvd + (uint64_t)i);
					break;
				}
		}
		sha256_update(&s->rx_hash, s->rbuf, (size_t)n);
		s->rcvd += (uint64_t)n;
		budget -= (size_t)n;
	}
}

/* The control block's state, for the message when a run gets stuck. */
static void dump_tcb(const char *name, us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	struct us_tcb *t = s->tcb;
	uint64_t now = us_stack_now(st);
	fprintf(stderr, "  %s: %s una %u nxt %u max %u wnd %u cwnd %u ssthresh %u sndq %u "
		"rcv_nxt %u rcv_adv-rcv_nxt %d rcvq %u/%u ooo %d backoff %d rto %llu us "
		"recovery %d timers(ms from now):",
		name, tcp_state_name(t->state), t->snd_una - t->iss, t->snd_nxt - t->iss,
		t->snd_max - t->iss, t->snd_wnd, t->cwnd, t->ssthresh, t->sndq.len,
		t->rcv_nxt - t->irs, (int)(t->rcv_adv - t->rcv_nxt), t->rcvq.len, t->rcvq.cap,
		t->nooo, t->backoff, (unsigned long long)t->rto_us, t->in_recovery);
	for (int k = 0; k < TT__COUNT; k++)
		fprintf(stderr, " %lld", t->deadline[k] ? (long long)(t->deadline[k] - now) / 1000000 : -1LL);
	fprintf(stderr, "\n");
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
}

/*
 * Is the side's sender window-limited with nothing in flight (data waiting,
 * window below one segment)? Only a timer can get it going again then.
 */
static bool window_stalled(us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	struct us_tcb *t = s->tcb;
	bool r = t && t->snd_una == t->snd_max && t->sndq.len > 0 && t->snd_wnd < t->mss;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return r;
}

static void step(us_stack *a, us_stack *b)
{
	us_stack_advance(a, STEP_NS);
	us_stack_advance(b, STEP_NS);
}

static int conns_in_table(us_stack *st)
{
	int n = 0;
	pthread_rwlock_rdlock(&st->tcp.lock);
	for (unsigned i = 0; i < st->tcp.conn_buckets; i++)
		for (struct us_tcb *t = st->tcp.conn[i]; t; t = t->conn_next)
			n++;
	pthread_rwlock_unlock(&st->tcp.lock);
	return n;
}

static void print_counters(const char *name, us_stack *st)
{
	struct us_pair_stats ps;
	us_pair_stats(st->ifs[0].link.priv, &ps);
	printf("      %s: segs out %llu in %llu, retransmitted %llu, fast retransmits %llu, "
	       "RTOs %llu, dup ACKs %llu, out-of-order %llu, bad checksum %llu\n"
	       "         wire from %s: sent %llu lost %llu reordered %llu duplicated %llu "
	       "corrupted %llu full %llu\n",
	       name, (unsigned long long)us_stack_stat(st, US_STAT_TCP_TX_SEGS),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_RX_SEGS),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_RETRANS_SEGS),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_FAST_RETRANS),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_RTO_FIRED),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_DUP_ACKS),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_OOO_SEGS),
	       (unsigned long long)us_stack_stat(st, US_STAT_TCP_DROP_CHECKSUM), name,
	       (unsigned long long)ps.sent, (unsigned long long)ps.lost,
	       (unsigned long long)ps.reordered, (unsigned long long)ps.duplicated,
	       (unsigned long long)ps.corrupted, (unsigned long long)ps.dropped_full);
}

struct run_result {
	bool done;
	uint64_t rto, retrans, probes, stalls;
	uint64_t grows[2], releases[2];         /* ring counters of A and B */
	uint64_t segs[2];                       /* segments sent by A and B */
	uint64_t csum_drops[2];                 /* TCP segments A and B dropped: bad checksum */
	uint64_t corrupted[2];                  /* frames the wire corrupted from A and from B */
};

/*
 * Connect A to B, move `total` bytes each way at once, shut down, close,
 * and wait out TIME_WAIT. Asserts everything a user would check.
 */
static struct run_result bidir_transfer(const char *tag, const struct run_opts *o)
{
	uint64_t total = o->total;
	struct run_result res = { 0 };
	char wire[96];
	tu_wire_name(wire, sizeof wire, tag);
	us_stack *a = open_stack(wire, false, o);
	us_stack *b = a ? open_stack(wire, true, o) : NULL;
	if (!a || !b) {
		CU_FAIL("us_stack_new failed");
		us_stack_free(a);
		return res;
	}
	CU_ASSERT_EQUAL(us_stack_up(a), 0);
	CU_ASSERT_EQUAL(us_stack_up(b), 0);
	uint64_t t0 = us_stack_now(a), real0 = mono_ns();
	uint64_t limit = t0 + (uint64_t)LIMIT_S * US_NS_PER_SEC;

	static struct side sa, sb;
	side_init(&sa, "A", a, 0xA, 0xB, total);
	side_init(&sb, "B", b, 0xB, 0xA, total);
	sa.read_every = sb.read_every = o->read_every;
	sa.read_max = sb.read_max = o->read_max;
	sa.pause_every = sb.pause_every = o->pause_every;
	sa.next_pause = sb.next_pause = o->pause_every;
	sa.pause_ns = sb.pause_ns = (uint64_t)o->pause_ms * US_NS_PER_MS;

	/* B listens; A connects; both non-blocking. */
	int lfd = us_socket(b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	CU_ASSERT_EQUAL_FATAL(us_bind(b, lfd, (struct sockaddr *)&la, sizeof la), 0);
	CU_ASSERT_EQUAL_FATAL(us_listen(b, lfd, 4), 0);
	sa.fd = us_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(sa.fd >= 0);
	struct sockaddr_in ra = { .sin_family = AF_INET, .sin_port = htons(PORT),
				  .sin_addr.s_addr = TU_PEER_IP };
	errno = 0;
	CU_ASSERT_EQUAL(us_connect(a, sa.fd, (struct sockaddr *)&ra, sizeof ra), -1);
	CU_ASSERT_EQUAL(errno, EINPROGRESS);
	bool a_up = false;
	while ((sb.fd < 0 || !a_up) && us_stack_now(a) < limit) {
		step(a, b);
		if (sb.fd < 0)
			sb.fd = us_accept(b, lfd, NULL, NULL);
		struct pollfd p = { .fd = sa.fd, .events = POLLOUT };
		if (!a_up && us_poll(a, &p, 1, 0) == 1 && (p.revents & POLLOUT))
			a_up = true;
	}
	CU_ASSERT_FATAL(sb.fd >= 0 && a_up);
	int soerr = -1;
	socklen_t sl = sizeof soerr;
	CU_ASSERT_EQUAL(us_getsockopt(a, sa.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
	CU_ASSERT_EQUAL(soerr, 0);
	CU_ASSERT_EQUAL(us_close(b, lfd), 0);
	CU_ASSERT_EQUAL(us_fcntl(b, sb.fd, F_SETFL, O_NONBLOCK), 0);

	/* Both directions at once until both streams reached EOF. */
	uint64_t stalls = 0;
	while (!(sa.eof && sb.eof) && !sa.err && !sb.err && us_stack_now(a) < limit) {
		pump(&sa);
		pump(&sb);
		step(a, b);
		if (o->read_every > 1)
			stalls += window_stalled(a, sa.fd) + window_stalled(b, sb.fd);
	}
	uint64_t vt = us_stack_now(a) - t0, rt = mono_ns() - real0;
	res.done = sa.eof && sb.eof;
	if (sa.err || sb.err)
		fprintf(stderr, "\ntcp_pair %s: A error %s, B error %s\n", tag,
			sa.err ? strerror(sa.err) : "none", sb.err ? strerror(sb.err) : "none");
	if (!res.done)
		fprintf(stderr, "\ntcp_pair %s: stuck after %d virtual s: A sent %llu rcvd %llu, "
			"B sent %llu rcvd %llu\n", tag, LIMIT_S, (unsigned long long)sa.sent,
			(unsigned long long)sa.rcvd, (unsigned long long)sb.sent,
			(unsigned long long)sb.rcvd);
	if (!res.done) {
		dump_tcb("A", a, sa.fd);
		dump_tcb("B", b, sb.fd);
	}
	CU_ASSERT_EQUAL(sa.err, 0);
	CU_ASSERT_EQUAL(sb.err, 0);
	CU_ASSERT(res.done);
	CU_ASSERT_EQUAL(sa.sent, total);
	CU_ASSERT_EQUAL(sb.sent, total);
	CU_ASSERT_EQUAL(sa.rcvd, total);
	CU_ASSERT_EQUAL(sb.rcvd, total);
	if (sa.first_bad >= 0 || sb.first_bad >= 0)
		fprintf(stderr, "\ntcp_pair %s: first wrong byte: A at %lld, B at %lld\n", tag,
			(long long)sa.first_bad, (long long)sb.first_bad);
	CU_ASSERT_EQUAL(sa.first_bad, -1);
	CU_ASSERT_EQUAL(sb.first_bad, -1);

	/* The hashes: A's sent stream against B's received one, and back. */
	uint8_t ha_tx[32], ha_rx[32], hb_tx[32], hb_rx[32];
	char x1[65], x2[65], x3[65], x4[65];
	sha256_final(&sa.tx_hash, ha_tx);
	sha256_final(&sa.rx_hash, ha_rx);
	sha256_final(&sb.tx_hash, hb_tx);
	sha256_final(&sb.rx_hash, hb_rx);
	hex32(ha_tx, x1);
	hex32(hb_rx, x2);
	hex32(hb_tx, x3);
	hex32(ha_rx, x4);
	CU_ASSERT_STRING_EQUAL(x1, x2);
	CU_ASSERT_STRING_EQUAL(x3, x4);
	CU_ASSERT_STRING_NOT_EQUAL(x1, x3);     /* the two streams differ */

	printf("\n      %s: %llu bytes each way in %.3f virtual s (%.2f real s)\n"
	       "      A->B sha256 %.16s... B->A sha256 %.16s...\n",
	       tag, (unsigned long long)total, (double)vt / 1e9, (double)rt / 1e9, x1, x3);
	res.probes = us_stack_stat(a, US_STAT_TCP_WINDOW_PROBES) +
		     us_stack_stat(b, US_STAT_TCP_WINDOW_PROBES);
	res.stalls = stalls;
	if (o->read_every > 1)
		printf("      window-limited with nothing in flight: %llu ms; zero-window probes %llu\n",
		       (unsigned long long)stalls, (unsigned long long)res.probes);
	res.rto = us_stack_stat(a, US_STAT_TCP_RTO_FIRED) + us_stack_stat(b, US_STAT_TCP_RTO_FIRED);
	res.retrans = us_stack_stat(a, US_STAT_TCP_RETRANS_SEGS) +
		      us_stack_stat(b, US_STAT_TCP_RETRANS_SEGS);
	us_stack *ab[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		res.grows[i] = us_stack_stat(ab[i], US_STAT_TCP_RING_GROWS);
		res.releases[i] = us_stack_stat(ab[i], US_STAT_TCP_RING_RELEASES);
		res.segs[i] = us_stack_stat(ab[i], US_STAT_TCP_TX_SEGS);
		res.csum_drops[i] = us_stack_stat(ab[i], US_STAT_TCP_DROP_CHECKSUM);
		struct us_pair_stats ps;
		us_pair_stats(ab[i]->ifs[0].link.priv, &ps);
		res.corrupted[i] = ps.corrupted;
	}
	if (o->pause_ms)
		printf("      rings: A grew %llu and released %llu times, B %llu and %llu\n",
		       (unsigned long long)res.grows[0], (unsigned long long)res.releases[0],
		       (unsigned long long)res.grows[1], (unsigned long long)res.releases[1]);

	/* Orderly close: nothing unread, so both send FIN (not RST). */
	soerr = -1;
	sl = sizeof soerr;
	CU_ASSERT_EQUAL(us_getsockopt(a, sa.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
	CU_ASSERT_EQUAL(soerr, 0);
	soerr = -1;
	CU_ASSERT_EQUAL(us_getsockopt(b, sb.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
	CU_ASSERT_EQUAL(soerr, 0);
	uint64_t rst_a = us_stack_stat(a, US_STAT_TCP_RESETS_SENT);
	uint64_t rst_b = us_stack_stat(b, US_STAT_TCP_RESETS_SENT);
	CU_ASSERT_EQUAL(us_close(a, sa.fd), 0);
	CU_ASSERT_EQUAL(us_close(b, sb.fd), 0);
	CU_ASSERT_EQUAL(us_stack_stat(a, US_STAT_TCP_RESETS_SENT), rst_a);
	CU_ASSERT_EQUAL(us_stack_stat(b, US_STAT_TCP_RESETS_SENT), rst_b);
	/* TIME_WAIT is 60 s: every connection must be gone well within 200 s. */
	uint64_t end = us_stack_now(a) + 200ULL * US_NS_PER_SEC;
	while ((conns_in_table(a) || conns_in_table(b)) && us_stack_now(a) < end) {
		us_stack_advance(a, 10 * STEP_NS);     /* coarser: only FINs and ACKs move now */
		us_stack_advance(b, 10 * STEP_NS);
	}
	CU_ASSERT_EQUAL(conns_in_table(a), 0);
	CU_ASSERT_EQUAL(conns_in_table(b), 0);
	print_counters("A", a);
	print_counters("B", b);

	/* Let stragglers on the wire drain, then count the buffers. */
	for (int i = 0; i < 100; i++)
		step(a, b);
	CU_ASSERT_EQUAL(us_pool_available(&a->pool), a->pool.total);
	CU_ASSERT_EQUAL(us_pool_available(&b->pool), b->pool.total);
	us_stack_free(a);
	us_stack_free(b);
	return res;
}

#define MB (1024ULL * 1024)

/* Allocations a ring of cap bytes needs to grow from nothing to cap:
 * US_TCP_RING_MIN, doubling, the last one clamped. */
static uint64_t grow_steps(uint32_t cap)
{
	uint64_t n = 1;
	for (uint64_t sz = US_TCP_RING_MIN; sz < cap; sz *= 2)
		n++;
	return n;
}

static void test_bidir_20mb_clean(void)
{
	struct run_opts o = { .total = 20 * MB };
	struct run_result r = bidir_transfer("clean", &o);
	/* Nothing was lost, so nothing may have been sent twice. */
	CU_ASSERT_EQUAL(r.rto, 0);
	CU_ASSERT_EQUAL(r.retrans, 0);
	/* No per-packet allocation: each side's two rings grew at most from
	 * nothing to their size once (thousands of segments each way). */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT(r.grows[i] <= 2 * grow_steps(262144));  /* doc/CONFIG.md: tcp.sndbuf, tcp.rcvbuf */
		CU_ASSERT(r.segs[i] > 10000);
	}
}

/*
 * Rings released and grown again, many times, in the middle of both
 * streams: both senders stop for 3 x US_TCP_RING_IDLE_MS after every
 * 256 KiB, so their send rings empty and the receivers drain theirs;
 * the data must come through intact (the run's hashes and byte checks),
 * with the impairments of the impaired run. And still no per-packet
 * allocation: at most a full regrowth per release.
 */
static void test_bidir_rings_released_and_regrown(void)
{
	struct us_impair imp = { .loss = 0.02, .reorder = 0.02, .duplicate = 0.01 };
	struct run_opts o = { .imp = &imp, .total = 2 * MB, .bufsize = 65536,
			      .pause_every = 256 * 1024, .pause_ms = 3 * US_TCP_RING_IDLE_MS };
	struct run_result r = bidir_transfer("rings-regrown", &o);
	CU_ASSERT(r.done);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT(r.releases[i] >= 8);  /* 7 pauses, 2 rings each side: most seen empty */
		CU_ASSERT(r.grows[i] <= (r.releases[i] + 2) * grow_steps(65536));
	}
}

static void test_bidir_20mb_impaired(void)
{
	struct us_impair imp = { .loss = 0.05, .reorder = 0.02, .duplicate = 0.01, .corrupt = 0.001 };
	struct run_opts o = { .imp = &imp, .total = 20 * MB };
	struct run_result r = bidir_transfer("impaired", &o);
	CU_ASSERT(r.retrans > 0);       /* the impairments did bite */
}

/*
 * Corruption alone, 2% of frames each way (one bit flipped): every
 * segment hit in its TCP header or payload fails its checksum and is
 * dropped and counted, in particular in-order data, whose payload is
 * summed as it is copied into the receive ring (tcp_input.c rx_place) and
 * must never become readable when the sum is wrong; the streams still
 * arrive byte for byte (bidir_transfer checks every byte and both
 * SHA-256 hashes).
 */
static void test_bidir_corrupt_dropped_and_counted(void)
{
	struct us_impair imp = { .corrupt = 0.02 };
	struct run_opts o = { .imp = &imp, .total = 4 * MB };
	struct run_result r = bidir_transfer("corrupt", &o);
	CU_ASSERT(r.done);
	for (int i = 0; i < 2; i++) {
		/* A frame corrupted on its way from one end is dropped by the
		 * other: TCP's share of them (the rest hit Ethernet or IP). */
		uint64_t drops = r.csum_drops[i], hit = r.corrupted[1 - i];
		printf("      %c: %llu of the %llu frames corrupted towards it dropped as bad TCP checksums\n",
		       'A' + i, (unsigned long long)drops, (unsigned long long)hit);
		CU_ASSERT(hit > 50);
		CU_ASSERT(drops > hit / 2);
		CU_ASSERT(drops <= hit);
	}
	CU_ASSERT(r.retrans > 0);
}

/*
 * The same impairments with 8 KiB buffers, no timestamps (Karn's RTT
 * sampling) and no window scaling, and applications that read at most
 * 1 KiB every 20 ms: windows close and reopen all the time, so window
 * updates get lost and zero-window probing has to recover them.
 */
static void test_bidir_small_windows_impaired(void)
{
	struct us_impair imp = { .loss = 0.05, .reorder = 0.02, .duplicate = 0.01, .corrupt = 0.001 };
	for (uint64_t seed = 0; seed < 4; seed++) {
		struct run_opts o = { .imp = &imp, .total = 1 * MB, .bufsize = 8192, .plain = true,
				      .read_every = 20, .read_max = 1024, .seed = seed };
		char tag[32];
		snprintf(tag, sizeof tag, "small-windows-%llu", (unsigned long long)seed);
		struct run_result r = bidir_transfer(tag, &o);
		CU_ASSERT(r.retrans > 0);
		CU_ASSERT(r.stalls > 0);        /* the windows did close */
	}
}

/*
 * Varied runs: loss 0-15%, reordering, duplication, corruption, delay and
 * jitter, buffers from 4 KiB up, with and without timestamps and window
 * scaling, fast and slow readers, each drawn from its run number. Eight
 * runs by default; US_TCP_PAIR_RUNS=N (and US_TCP_PAIR_FIRST=K) for a
 * longer soak.
 */
static void test_bidir_varied(void)
{
	const char *e = getenv("US_TCP_PAIR_RUNS"), *f = getenv("US_TCP_PAIR_FIRST");
	int n = e ? atoi(e) : 8, first = f ? atoi(f) : 0;
	for (int i = first; i < first + n; i++) {
		uint64_t h = mix64((uint64_t)i + 77);
		struct us_impair imp = {
			.loss = 0.01 * (double)(h % 16),
			.reorder = 0.01 * (double)((h >> 4) % 10),
			.duplicate = 0.01 * (double)((h >> 8) % 5),
			.corrupt = 0.001 * (double)((h >> 12) % 5),
			.delay_ms = (uint32_t)((h >> 16) % 4) * 5,
			.jitter_ms = (uint32_t)((h >> 20) % 5),
		};
		static const uint32_t bufs[] = { 4096, 8192, 20000, 65536, 0 };
		struct run_opts o = {
			.imp = &imp,
			.total = ((h >> 24) % 3 + 1) * MB / 2,
			.bufsize = bufs[(h >> 28) % 5],
			.plain = (h >> 32) & 1,
			.read_every = (uint32_t)((h >> 33) % 4) * 7,
			.read_max = ((h >> 35) % 3) * 1024,
			.seed = 100 + (uint64_t)i,
		};
		char tag[96];
		snprintf(tag, sizeof tag, "varied-%d (loss %.2f, delay %u+%u ms, buffers %u, %s)", i,
			 imp.loss, imp.delay_ms, imp.jitter_ms, o.bufsize,
			 o.plain ? "no timestamps/scaling" : "timestamps, scaling");
		bidir_transfer(tag, &o);
	}
}

US_SUITE(tcp_pair, NULL, NULL,
	 US_TEST(test_sha256_vectors),
	 US_TEST(test_bidir_20mb_clean),
	 US_TEST(test_bidir_rings_released_and_regrown),
	 US_TEST(test_bidir_20mb_impaired),
	 US_TEST(test_bidir_corrupt_dropped_and_counted),
	 US_TEST(test_bidir_small_windows_impaired),
	 US_TEST(test_bidir_varied));
