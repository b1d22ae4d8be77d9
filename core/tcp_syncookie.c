/*
 * tcp_syncookie.c — SYN cookies (RFC 4987 3.6), encoded as Linux's
 * net/ipv4/syncookies.c does, so that a listener whose SYN queue is full
 * answers a SYN without keeping anything and makes the connection when
 * the handshake's ACK returns the cookie.
 *
 * The ISN of the SYN-ACK (Linux secure_tcp_syn_cookie):
 *
 *   cookie = H(4-tuple, 0) + peer ISN + (count << 24)
 *          + ((H(4-tuple, count, 1) + mss index) mod 2^24)
 *
 * count is a clock that ticks every 60 s (Linux TCP_SYNCOOKIE_PERIOD);
 * a cookie is valid while count has moved by less than 2 (Linux
 * MAX_SYNCOOKIE_AGE): 60 to 120 s. The mss index points into Linux's
 * msstab {536, 1300, 1440, 1460}: the largest entry not above the
 * peer's MSS. H is SipHash-2-4 keyed with a secret derived from the
 * ISN secret (RFC 4987 3.6: a secret the attacker cannot guess).
 *
 * When the SYN carried timestamps (and we answer with them), what else
 * the SYN offered rides in the low 6 bits of our TSval, which the ACK
 * echoes in TSecr (Linux cookie_init_timestamp): bits 0-3 the peer's
 * window shift (15 = no window scaling), bit 4 SACK permitted, bit 5
 * ECN (never set: ustack does not negotiate ECN). The TSval is the
 * clock with those bits replaced, moved back 64 ms if that put it
 * ahead of the clock. Without timestamps the connection has no window
 * scaling and no SACK, as on Linux (the SYN-ACK then offers neither).
 */
#include <string.h>

#include "clock.h"
#include "stack.h"
#include "tcp.h"

#define COOKIEBITS 24
#define COOKIEMASK ((1u << COOKIEBITS) - 1)
#define SYNCOOKIE_PERIOD_NS (60ULL * US_NS_PER_SEC)
#define MAX_SYNCOOKIE_AGE 2
#define TSBITS 6
#define TSMASK ((1u << TSBITS) - 1)
#define TS_OPT_WSCALE_MASK 0xfu
#define TS_OPT_SACK 0x10u

static const uint16_t msstab[] = { 536, 1300, 1440, 1460 };

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                  \
	do {                                                                      \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);          \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                             \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                             \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);          \
	} while (0)

/* SipHash-2-4 of n 64-bit words (the message length is n * 8 bytes). */
static uint64_t siphash(const uint64_t k[2], const uint64_t *m, int n)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL, v1 = k[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL, v3 = k[1] ^ 0x7465646279746573ULL;
	for (int i = 0; i < n; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	uint64_t b = (uint64_t)(n * 8) << 56;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t cookie_hash(const struct us_stack *st, const struct tcp_cookie_tuple *c,
			    uint32_t count, uint32_t which)
{
	uint64_t m[3] = { (uint64_t)c->laddr << 32 | c->raddr,
			  (uint64_t)c->lport << 16 | c->rport,
			  (uint64_t)count << 32 | which };
	return (uint32_t)siphash(st->tcp.cookie_key, m, 3);
}

uint32_t tcp_cookie_time(struct us_stack *st)
{
	return (uint32_t)(us_now(st) / SYNCOOKIE_PERIOD_NS);
}

uint32_t tcp_syncookie_isn(struct us_stack *st, const struct tcp_cookie_tuple *c, uint32_t peer_isn,
			   uint16_t peer_mss, uint16_t *mss)
{
	int ind = (int)(sizeof msstab / sizeof msstab[0]) - 1;
	while (ind > 0 && peer_mss < msstab[ind])
		ind--;
	*mss = msstab[ind];
	uint32_t count = tcp_cookie_time(st);
	return cookie_hash(st, c, 0, 0) + peer_isn + (count << COOKIEBITS) +
	       ((cookie_hash(st, c, count, 1) + (uint32_t)ind) & COOKIEMASK);
}

uint32_t tcp_syncookie_tsval(uint32_t now, bool ws_ok, uint8_t snd_wscale, bool sack_ok)
{
	uint32_t opts = ws_ok ? snd_wscale : TS_OPT_WSCALE_MASK;
	if (sack_ok)
		opts |= TS_OPT_SACK;
	uint32_t ts = (now & ~TSMASK) | opts;
	if (ts > now)
		ts -= 1u << TSBITS;
	return ts;
}

bool tcp_syncookie_check(struct us_stack *st, const struct tcp_cookie_tuple *c,
			 const struct wire_tcp *g, struct tcp_cookie_opts *out)
{
	uint32_t cookie = g->ack - 1, peer_isn = g->seq - 1;
	cookie -= cookie_hash(st, c, 0, 0) + peer_isn;
	uint32_t count = tcp_cookie_time(st);
	uint32_t diff = (count - (cookie >> COOKIEBITS)) & (0xffffffffu >> COOKIEBITS);
	if (diff >= MAX_SYNCOOKIE_AGE)
		return false;
	uint32_t ind = (cookie - cookie_hash(st, c, count - diff, 1)) & COOKIEMASK;
	if (ind >= sizeof msstab / sizeof msstab[0])
		return false;
	memset(out, 0, sizeof *out);
	out->mss = msstab[ind];
	/* Linux cookie_timestamp_decode: no echo, no options beyond the MSS. */
	if (!g->opt.has_ts || !g->opt.tsecr)
		return true;
	out->ts_ok = true;
	out->sack_ok = g->opt.tsecr & TS_OPT_SACK;
	uint32_t ws = g->opt.tsecr & TS_OPT_WSCALE_MASK;
	if (ws == TS_OPT_WSCALE_MASK)
		return true;
	if (ws > 14)
		return false;   /* we never encode it: a forgery */
	out->ws_ok = true;
	out->snd_wscale = (uint8_t)ws;
	return true;
}
