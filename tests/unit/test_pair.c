/*
 * test_pair.c — the pair wire (ustack/pair.h) and the pair and loopback
 * backends (backends/pair.c).
 *
 * Frames carry a 32-bit sequence number after the Ethernet header so the
 * tests can tell which frame arrived and in what order. Probabilistic
 * impairments are checked against the configured probability within 4
 * standard deviations of the binomial count (a false failure about once in
 * 16000 runs for any seed; the seeds are fixed, so the outcome is too).
 * Each test uses its own wire name and detaches both ends.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "clock.h"
#include "link.h"
#include "ustack/pair.h"

#define T0 (5 * US_NS_PER_SEC)     /* an arbitrary start time */
#define FLEN 64

static char err[256];

static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memset(f, 0, len);
	memset(f, 0xff, 6);                     /* dst: broadcast */
	f[6] = 0x02;                            /* src: locally administered */
	f[12] = 0x88;                           /* EtherType: local experimental */
	f[13] = 0xb5;
	f[14] = (uint8_t)(seq >> 24);
	f[15] = (uint8_t)(seq >> 16);
	f[16] = (uint8_t)(seq >> 8);
	f[17] = (uint8_t)seq;
	for (size_t i = 18; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i);
}

static uint32_t frame_seq(const uint8_t *f)
{
	return (uint32_t)f[14] << 24 | (uint32_t)f[15] << 16 | (uint32_t)f[16] << 8 | f[17];
}

static bool within_4_sigma(uint64_t count, uint64_t n, double p)
{
	double mean = (double)n * p, sd = sqrt((double)n * p * (1 - p));
	return fabs((double)count - mean) <= 4 * sd;
}

static void attach2(const char *name, const struct us_impair *imp, uint64_t seed,
		    struct us_pair_end **a, struct us_pair_end **b)
{
	*a = us_pair_attach(name, imp, seed, err, sizeof(err));
	*b = us_pair_attach(name, NULL, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(*a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*b);
}

static void detach2(struct us_pair_end *a, struct us_pair_end *b)
{
	us_pair_detach(a);
	us_pair_detach(b);
}

static void test_pair_in_order(void)
{
	struct us_pair_end *a, *b;
	attach2("t-order", NULL, 1, &a, &b);
	uint8_t f[1600], g[1600];
	for (uint32_t i = 0; i < 100; i++) {
		make_frame(f, 60 + i * 10, i);
		CU_ASSERT_EQUAL(us_pair_send(a, T0, f, 60 + i * 10), 0);
	}
	CU_ASSERT_EQUAL(us_pair_next_ready(b), T0);
	CU_ASSERT_EQUAL(us_pair_next_ready(a), UINT64_MAX); /* nothing towards a */
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 - 1, g, sizeof(g)), 0);
	for (uint32_t i = 0; i < 100; i++) {
		make_frame(f, 60 + i * 10, i);
		int n = us_pair_recv(b, T0, g, sizeof(g));
		CU_ASSERT_EQUAL(n, (int)(60 + i * 10));
		CU_ASSERT(n > 0 && memcmp(f, g, (size_t)n) == 0);
	}
	CU_ASSERT_EQUAL(us_pair_recv(b, T0, g, sizeof(g)), 0);
	CU_ASSERT_EQUAL(us_pair_next_ready(b), UINT64_MAX);

	/* The other direction, and truncation to the caller's buffer. */
	make_frame(f, 200, 7);
	CU_ASSERT_EQUAL(us_pair_send(b, T0, f, 200), 0);
	CU_ASSERT_EQUAL(us_pair_recv(a, T0, g, 100), 100);
	CU_ASSERT(memcmp(f, g, 100) == 0);

	/* Sizes the wire refuses. */
	errno = 0;
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, 0), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	static uint8_t big[US_PAIR_FRAME_MAX + 1];
	errno = 0;
	CU_ASSERT_EQUAL(us_pair_send(a, T0, big, sizeof(big)), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, big, US_PAIR_FRAME_MAX), 0);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0, big, sizeof(big)), US_PAIR_FRAME_MAX);

	struct us_pair_stats st;
	us_pair_stats(a, &st);
	CU_ASSERT_EQUAL(st.sent, 101);
	CU_ASSERT_EQUAL(st.delivered, 101);
	CU_ASSERT_EQUAL(st.lost + st.duplicated + st.reordered + st.corrupted + st.dropped_full, 0);
	us_pair_stats(b, &st);
	CU_ASSERT_EQUAL(st.sent, 1);
	CU_ASSERT_EQUAL(st.delivered, 1);
	detach2(a, b);
}

static void test_pair_loss(void)
{
	struct us_impair imp = { .loss = 0.2 };
	struct us_pair_end *a, *b;
	attach2("t-loss", &imp, 11, &a, &b);
	uint8_t f[FLEN], g[FLEN];
	uint32_t got = 0;
	int64_t last = -1;
	bool order_ok = true;
	for (uint32_t i = 0; i < 10000; i++) {
		make_frame(f, FLEN, i);
		CU_ASSERT_EQUAL(us_pair_send(a, T0 + i, f, FLEN), 0);
		int n;
		while ((n = us_pair_recv(b, T0 + i, g, sizeof(g))) > 0) {
			if ((int64_t)frame_seq(g) <= last)
				order_ok = false;
			last = frame_seq(g);
			got++;
		}
	}
	struct us_pair_stats st;
	us_pair_stats(a, &st);
	CU_ASSERT_EQUAL(st.sent, 10000);
	CU_ASSERT(within_4_sigma(st.lost, 10000, 0.2));
	CU_ASSERT_EQUAL(got, 10000 - st.lost);
	CU_ASSERT_EQUAL(st.delivered, got);
	CU_ASSERT(order_ok);
	detach2(a, b);
}

static void test_pair_duplicate(void)
{
	struct us_impair imp = { .duplicate = 0.3 };
	struct us_pair_end *a, *b;
	attach2("t-dup", &imp, 12, &a, &b);
	uint8_t f[FLEN], g[FLEN], prev[FLEN];
	uint32_t got = 0, twins = 0, expect = 0;
	bool ok = true;
	for (uint32_t i = 0; i < 10000; i++) {
		make_frame(f, FLEN, i);
		CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
		int n;
		while ((n = us_pair_recv(b, T0, g, sizeof(g))) > 0) {
			if (got > 0 && memcmp(g, prev, FLEN) == 0) {
				twins++; /* a duplicate right behind its original */
			} else {
				if (frame_seq(g) != expect)
					ok = false;
				expect++;
			}
			memcpy(prev, g, FLEN);
			got++;
		}
	}
	struct us_pair_stats st;
	us_pair_stats(a, &st);
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(expect, 10000);
	CU_ASSERT_EQUAL(twins, st.duplicated);
	CU_ASSERT_EQUAL(got, 10000 + st.duplicated);
	CU_ASSERT(within_4_sigma(st.duplicated, 10000, 0.3));
	detach2(a, b);
}

static int bits_differing(const uint8_t *x, const uint8_t *y, size_t n)
{
	int bits = 0;
	for (size_t i = 0; i < n; i++)
		bits += __builtin_popcount((unsigned)(x[i] ^ y[i]));
	return bits;
}

static void test_pair_corrupt(void)
{
	/* Always: every frame differs in exactly one bit. */
	struct us_impair imp = { .corrupt = 1.0 };
	struct us_pair_end *a, *b;
	attach2("t-corrupt1", &imp, 13, &a, &b);
	uint8_t f[1500], g[1500];
	bool one_bit = true;
	bool positions[1500 * 8] = { false };
	for (uint32_t i = 0; i < 1000; i++) {
		make_frame(f, sizeof(f), i);
		CU_ASSERT_EQUAL(us_pair_send(a, T0, f, sizeof(f)), 0);
		CU_ASSERT_EQUAL_FATAL(us_pair_recv(b, T0, g, sizeof(g)), (int)sizeof(f));
		if (bits_differing(f, g, sizeof(f)) != 1)
			one_bit = false;
		for (size_t k = 0; k < sizeof(f); k++)
			for (int bit = 0; bit < 8; bit++)
				if ((f[k] ^ g[k]) & (1 << bit))
					positions[k * 8 + bit] = true;
	}
	CU_ASSERT(one_bit);
	int distinct = 0;
	for (size_t k = 0; k < sizeof(positions); k++)
		distinct += positions[k];
	CU_ASSERT(distinct > 900); /* 1000 draws over 12000 bits: ~960 distinct */
	detach2(a, b);

	/* Sometimes: the corrupted count matches what arrived, near p. */
	imp.corrupt = 0.3;
	attach2("t-corrupt2", &imp, 14, &a, &b);
	uint32_t seen = 0;
	one_bit = true;
	for (uint32_t i = 0; i < 10000; i++) {
		make_frame(f, FLEN, i);
		CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
		CU_ASSERT_EQUAL_FATAL(us_pair_recv(b, T0, g, sizeof(g)), FLEN);
		int d = bits_differing(f, g, FLEN);
		if (d > 1)
			one_bit = false;
		seen += d;
	}
	struct us_pair_stats st;
	us_pair_stats(a, &st);
	CU_ASSERT(one_bit);
	CU_ASSERT_EQUAL(seen, st.corrupted);
	CU_ASSERT(within_4_sigma(st.corrupted, 10000, 0.3));
	detach2(a, b);
}

static void test_pair_reorder(void)
{
	struct us_impair imp = { .reorder = 0.2 };
	struct us_pair_end *a, *b;
	attach2("t-reorder", &imp, 15, &a, &b);
	uint8_t f[FLEN], g[FLEN];
	static bool seen[1000];
	memset(seen, 0, sizeof(seen));
	uint32_t got = 0, inversions = 0, dups = 0;
	int64_t maxseq = -1;
	uint64_t now = T0;
	for (uint32_t i = 0; i < 1000; i++) {
		make_frame(f, FLEN, i);
		CU_ASSERT_EQUAL(us_pair_send(a, now, f, FLEN), 0);
		if (i % 100 == 99) {
			int n;
			while ((n = us_pair_recv(b, now, g, sizeof(g))) > 0) {
				uint32_t s = frame_seq(g);
				if ((int64_t)s < maxseq)
					inversions++;
				else
					maxseq = s;
				dups += seen[s];
				seen[s] = true;
				got++;
			}
			now += US_NS_PER_MS; /* less than the hold: a held frame waits */
		}
	}
	/* A frame still held is released at the latest US_PAIR_REORDER_HOLD_NS on. */
	int n;
	while ((n = us_pair_recv(b, now + US_PAIR_REORDER_HOLD_NS, g, sizeof(g))) > 0) {
		uint32_t s = frame_seq(g);
		if ((int64_t)s < maxseq)
			inversions++;
		dups += seen[s];
		seen[s] = true;
		got++;
	}
	struct us_pair_stats st;
	us_pair_stats(a, &st);
	CU_ASSERT_EQUAL(got, 1000);
	CU_ASSERT_EQUAL(dups, 0);
	CU_ASSERT_EQUAL(st.delivered, 1000);
	CU_ASSERT(st.reordered > 50);
	/* Each held frame is overtaken, except a last one with no frame after it. */
	CU_ASSERT(inversions == st.reordered || inversions + 1 == st.reordered);
	detach2(a, b);

	/* A held frame with nothing after it is late, not lost. */
	imp.reorder = 1.0;
	attach2("t-reorder1", &imp, 16, &a, &b);
	make_frame(f, FLEN, 1);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
	CU_ASSERT_EQUAL(us_pair_next_ready(b), T0 + US_PAIR_REORDER_HOLD_NS);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 + US_PAIR_REORDER_HOLD_NS - 1, g, sizeof(g)), 0);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 + US_PAIR_REORDER_HOLD_NS, g, sizeof(g)), FLEN);
	CU_ASSERT(memcmp(f, g, FLEN) == 0);
	detach2(a, b);
}

static void test_pair_delay(void)
{
	struct us_impair imp = { .delay_ms = 50 };
	struct us_pair_end *a, *b;
	attach2("t-delay", &imp, 17, &a, &b);
	uint8_t f[FLEN], g[FLEN];
	make_frame(f, FLEN, 1);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
	CU_ASSERT_EQUAL(us_pair_next_ready(b), T0 + 50 * US_NS_PER_MS);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 + 50 * US_NS_PER_MS - 1, g, sizeof(g)), 0);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 + 50 * US_NS_PER_MS, g, sizeof(g)), FLEN);
	detach2(a, b);

	/* Jitter: each frame due within [delay, delay + jitter], spread over it. */
	imp.jitter_ms = 20;
	attach2("t-jitter", &imp, 18, &a, &b);
	uint64_t lo = UINT64_MAX, hi = 0;
	bool in_range = true;
	for (uint32_t i = 0; i < 200; i++) {
		uint64_t now = T0 + i * US_NS_PER_SEC;
		make_frame(f, FLEN, i);
		CU_ASSERT_EQUAL(us_pair_send(a, now, f, FLEN), 0);
		uint64_t t = us_pair_next_ready(b);
		uint64_t d = t - now;
		if (d < 50 * US_NS_PER_MS || d > 70 * US_NS_PER_MS)
			in_range = false;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		CU_ASSERT_EQUAL(us_pair_recv(b, t - 1, g, sizeof(g)), 0);
		CU_ASSERT_EQUAL(us_pair_recv(b, t, g, sizeof(g)), FLEN);
	}
	CU_ASSERT(in_range);
	CU_ASSERT(lo < 55 * US_NS_PER_MS);
	CU_ASSERT(hi > 65 * US_NS_PER_MS);
	detach2(a, b);
}

static void test_pair_rate(void)
{
	/* 8 Mbit/s: a 1000-byte frame takes exactly 1 ms on the wire. */
	struct us_impair imp = { .rate_mbit = 8 };
	struct us_pair_end *a, *b;
	attach2("t-rate", &imp, 19, &a, &b);
	uint8_t f[1000], g[1000];
	for (uint32_t i = 0; i < 5; i++) {
		make_frame(f, sizeof(f), i);
		CU_ASSERT_EQUAL(us_pair_send(a, T0, f, sizeof(f)), 0);
	}
	for (uint32_t i = 0; i < 5; i++) {
		uint64_t due = T0 + (i + 1) * US_NS_PER_MS;
		CU_ASSERT_EQUAL(us_pair_next_ready(b), due);
		CU_ASSERT_EQUAL(us_pair_recv(b, due - 1, g, sizeof(g)), 0);
		CU_ASSERT_EQUAL(us_pair_recv(b, due, g, sizeof(g)), (int)sizeof(g));
		CU_ASSERT_EQUAL(frame_seq(g), i);
		CU_ASSERT_EQUAL(us_pair_recv(b, due, g, sizeof(g)), 0); /* the next is 1 ms on */
	}
	/* An idle wire starts serialising at once; with a delay on top. */
	CU_ASSERT_EQUAL(us_pair_send(a, T0 + US_NS_PER_SEC, f, 500), 0);
	CU_ASSERT_EQUAL(us_pair_next_ready(b), T0 + US_NS_PER_SEC + US_NS_PER_MS / 2);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 + US_NS_PER_SEC + US_NS_PER_MS / 2, g, sizeof(g)), 500);
	detach2(a, b);

	imp.delay_ms = 10;
	attach2("t-rate-delay", &imp, 19, &a, &b);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, sizeof(f)), 0);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, sizeof(f)), 0);
	CU_ASSERT_EQUAL(us_pair_next_ready(b), T0 + 11 * US_NS_PER_MS);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0 + 11 * US_NS_PER_MS, g, sizeof(g)), (int)sizeof(g));
	CU_ASSERT_EQUAL(us_pair_next_ready(b), T0 + 12 * US_NS_PER_MS);
	detach2(a, b);
}

/* FNV-1a over everything that arrived and when, for one seed. */
static uint64_t run_trace(const char *name, uint64_t seed)
{
	struct us_impair imp = { .loss = 0.1, .duplicate = 0.1, .reorder = 0.1, .corrupt = 0.1,
				 .delay_ms = 5, .jitter_ms = 5, .rate_mbit = 100 };
	struct us_pair_end *a, *b;
	attach2(name, &imp, seed, &a, &b);
	uint64_t h = 0xcbf29ce484222325ULL;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 0x100000001b3ULL)
	uint8_t f[600], g[600];
	uint64_t now = T0;
	for (uint32_t i = 0; i < 2000; i++) {
		make_frame(f, 60 + i % 500, i);
		us_pair_send(a, now, f, 60 + i % 500);
		now += 100 * 1000; /* 100 us apart */
		int n;
		while ((n = us_pair_recv(b, now, g, sizeof(g))) > 0) {
			MIX(now);
			for (int k = 0; k < n; k++)
				MIX(g[k]);
		}
	}
	int n;
	while ((n = us_pair_recv(b, now + US_NS_PER_SEC, g, sizeof(g))) > 0)
		for (int k = 0; k < n; k++)
			MIX(g[k]);
#undef MIX
	detach2(a, b);
	return h;
}

static void test_pair_determinism(void)
{
	uint64_t h1 = run_trace("t-det1", 42);
	uint64_t h2 = run_trace("t-det2", 42);
	uint64_t h3 = run_trace("t-det3", 43);
	CU_ASSERT_EQUAL(h1, h2);
	CU_ASSERT_NOT_EQUAL(h1, h3);
}

static void test_pair_queue_full(void)
{
	struct us_pair_end *a, *b;
	attach2("t-full", NULL, 0, &a, &b);
	uint8_t f[FLEN], g[FLEN];
	int refused = 0;
	for (uint32_t i = 0; i < US_PAIR_QUEUE_SLOTS + 10; i++) {
		make_frame(f, FLEN, i);
		errno = 0;
		int rc = us_pair_send(a, T0, f, FLEN);
		if (i < US_PAIR_QUEUE_SLOTS) {
			CU_ASSERT_EQUAL(rc, 0);
		} else {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_EQUAL(errno, ENOBUFS);
			refused++;
		}
	}
	CU_ASSERT_EQUAL(refused, 10);
	struct us_pair_stats st;
	us_pair_stats(a, &st);
	CU_ASSERT_EQUAL(st.dropped_full, 10);
	CU_ASSERT_EQUAL(st.sent, US_PAIR_QUEUE_SLOTS + 10);
	bool order_ok = true;
	for (uint32_t i = 0; i < US_PAIR_QUEUE_SLOTS; i++) {
		if (us_pair_recv(b, T0, g, sizeof(g)) != FLEN || frame_seq(g) != i)
			order_ok = false;
	}
	CU_ASSERT(order_ok);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0, g, sizeof(g)), 0);
	/* Room again. */
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
	detach2(a, b);
}

static void test_pair_attach_rules(void)
{
	struct us_pair_end *a, *b;
	attach2("t-attach", NULL, 0, &a, &b);
	errno = 0;
	err[0] = 0;
	CU_ASSERT_PTR_NULL(us_pair_attach("t-attach", NULL, 0, err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t-attach"));

	/* A freed end can be taken again; frames sent to the old owner are gone. */
	uint8_t f[FLEN], g[FLEN];
	make_frame(f, FLEN, 1);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
	us_pair_detach(b);
	b = us_pair_attach("t-attach", NULL, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0, g, sizeof(g)), 0);
	CU_ASSERT_EQUAL(us_pair_send(a, T0, f, FLEN), 0);
	CU_ASSERT_EQUAL(us_pair_recv(b, T0, g, sizeof(g)), FLEN);
	detach2(a, b);

	/* Bad arguments. */
	struct us_impair bad = { .loss = 1.5 };
	errno = 0;
	CU_ASSERT_PTR_NULL(us_pair_attach("t-bad", &bad, 0, err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "loss"));
	CU_ASSERT_PTR_NULL(us_pair_attach("", NULL, 0, err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* ---- threaded: us_pair_recv_wait ---------------------------------------- */

struct waiter {
	struct us_pair_end *e;
	int timeout_ms;
	int rc;
	uint64_t elapsed;
	uint8_t buf[FLEN];
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	uint64_t t = us_monotonic_ns();
	w->rc = us_pair_recv_wait(w->e, w->buf, sizeof(w->buf), w->timeout_ms);
	w->elapsed = us_monotonic_ns() - t;
	return NULL;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_pair_wait_wakes_on_send(void)
{
	struct us_pair_end *a, *b;
	attach2("t-wait-send", NULL, 0, &a, &b);
	struct waiter w = { .e = b, .timeout_ms = 5000 };
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, wait_thread, &w), 0);
	pause_ms(50); /* likely blocked by now; the test holds either way */
	uint8_t f[FLEN];
	make_frame(f, FLEN, 3);
	CU_ASSERT_EQUAL(us_pair_send(a, us_monotonic_ns(), f, FLEN), 0);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(w.rc, FLEN);
	CU_ASSERT(memcmp(w.buf, f, FLEN) == 0);
	CU_ASSERT(w.elapsed < 2500 * US_NS_PER_MS);
	detach2(a, b);
}

static void test_pair_wait_wakeup(void)
{
	struct us_pair_end *a, *b;
	attach2("t-wait-wake", NULL, 0, &a, &b);
	struct waiter w = { .e = b, .timeout_ms = 5000 };
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, wait_thread, &w), 0);
	pause_ms(50);
	us_pair_wakeup(b);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(w.rc, 0);
	CU_ASSERT(w.elapsed < 2500 * US_NS_PER_MS);
	detach2(a, b);
}

static void test_pair_wait_timeout(void)
{
	struct us_impair imp = { .delay_ms = 150 };
	struct us_pair_end *a, *b;
	attach2("t-wait-timeout", &imp, 0, &a, &b);
	uint8_t f[FLEN], g[FLEN];
	uint64_t t = us_monotonic_ns();
	CU_ASSERT_EQUAL(us_pair_recv_wait(b, g, sizeof(g), 100), 0);
	uint64_t el = us_monotonic_ns() - t;
	CU_ASSERT(el >= 100 * US_NS_PER_MS);
	CU_ASSERT(el < 2000 * US_NS_PER_MS);

	/* A delayed frame: not before its time, then without waiting out the timeout. */
	make_frame(f, FLEN, 9);
	t = us_monotonic_ns();
	CU_ASSERT_EQUAL(us_pair_send(a, t, f, FLEN), 0);
	CU_ASSERT_EQUAL(us_pair_recv_wait(b, g, sizeof(g), 10000), FLEN);
	el = us_monotonic_ns() - t;
	CU_ASSERT(el >= 150 * US_NS_PER_MS);
	CU_ASSERT(el < 5000 * US_NS_PER_MS);
	/* A wakeup with nobody waiting makes the next wait return at once. */
	us_pair_wakeup(b);
	t = us_monotonic_ns();
	CU_ASSERT_EQUAL(us_pair_recv_wait(b, g, sizeof(g), 5000), 0);
	CU_ASSERT(us_monotonic_ns() - t < 2500 * US_NS_PER_MS);
	detach2(a, b);
}

/* ---- the backends through struct us_link_ops ---------------------------- */

static void iface_cfg(struct us_iface_config *c, enum us_backend_kind kind, const char *dev)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "eth0");
	c->backend = kind;
	snprintf(c->device, sizeof(c->device), "%s", dev);
	c->mtu = 1500;
}

static void test_pair_link_backend(void)
{
	struct us_clock clk;
	us_clock_init(&clk, true);
	us_clock_set(&clk, T0);
	const struct us_link_ops *ops = us_link_ops_for(US_BACKEND_PAIR);
	CU_ASSERT_PTR_EQUAL_FATAL(ops, &us_link_pair);
	CU_ASSERT_STRING_EQUAL(ops->name, "pair");

	struct us_iface_config ca, cb;
	iface_cfg(&ca, US_BACKEND_PAIR, "t-link");
	iface_cfg(&cb, US_BACKEND_PAIR, "t-link");
	ca.impair.delay_ms = 2;
	struct us_link la = { .ops = ops, .clock = &clk, .seed = 1 };
	struct us_link lb = { .ops = ops, .clock = &clk, .seed = 2 };
	CU_ASSERT_EQUAL_FATAL(ops->open(&la, &ca, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(ops->open(&lb, &cb, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(la.caps.mtu_max, US_MAX_MTU);
	CU_ASSERT_FALSE(la.caps.has_mac);
	CU_ASSERT_FALSE(la.caps.can_block); /* virtual clock */

	uint8_t f[FLEN], g[FLEN];
	make_frame(f, FLEN, 5);
	CU_ASSERT_EQUAL(ops->send(&la, f, FLEN), 0);
	CU_ASSERT_EQUAL(ops->next_ready(&lb), T0 + 2 * US_NS_PER_MS);
	CU_ASSERT_EQUAL(ops->recv(&lb, g, sizeof(g), 1000), 0); /* virtual: never waits */
	us_clock_set(&clk, T0 + 2 * US_NS_PER_MS);
	CU_ASSERT_EQUAL(ops->recv(&lb, g, sizeof(g), 0), FLEN);
	CU_ASSERT(memcmp(f, g, FLEN) == 0);
	/* cb has no impairment: b -> a is immediate. */
	CU_ASSERT_EQUAL(ops->send(&lb, f, FLEN), 0);
	CU_ASSERT_EQUAL(ops->recv(&la, g, sizeof(g), 0), FLEN);

	/* A third stack on the same wire is refused with a reason. */
	struct us_link lc = { .ops = ops, .clock = &clk };
	err[0] = 0;
	CU_ASSERT_EQUAL(ops->open(&lc, &cb, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t-link"));
	ops->close(&la);
	ops->close(&lb);

	/* Real clock: recv blocks until woken. */
	struct us_clock real;
	us_clock_init(&real, false);
	struct us_link lr = { .ops = ops, .clock = &real };
	CU_ASSERT_EQUAL_FATAL(ops->open(&lr, &cb, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(lr.caps.can_block);
	ops->wakeup(&lr);
	uint64_t t = us_monotonic_ns();
	CU_ASSERT_EQUAL(ops->recv(&lr, g, sizeof(g), 5000), 0);
	CU_ASSERT(us_monotonic_ns() - t < 2500 * US_NS_PER_MS);
	ops->close(&lr);
}

static void test_loopback(void)
{
	struct us_clock clk;
	us_clock_init(&clk, true);
	us_clock_set(&clk, T0);
	const struct us_link_ops *ops = us_link_ops_for(US_BACKEND_LOOPBACK);
	CU_ASSERT_PTR_EQUAL_FATAL(ops, &us_link_loopback);
	struct us_iface_config c;
	iface_cfg(&c, US_BACKEND_LOOPBACK, "");
	struct us_link l = { .ops = ops, .clock = &clk };
	CU_ASSERT_EQUAL_FATAL(ops->open(&l, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(l.caps.mtu_max, US_MAX_MTU);
	CU_ASSERT_FALSE(l.caps.can_block);
	uint8_t f[FLEN], g[FLEN];
	CU_ASSERT_EQUAL(ops->next_ready(&l), UINT64_MAX);
	for (uint32_t i = 0; i < 3; i++) {
		make_frame(f, FLEN, i);
		CU_ASSERT_EQUAL(ops->send(&l, f, FLEN), 0);
	}
	CU_ASSERT_EQUAL(ops->next_ready(&l), T0);
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 0), FLEN);
		CU_ASSERT_EQUAL(frame_seq(g), i);
	}
	CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 0), 0);
	/* Bounded: a full ring refuses with ENOBUFS. */
	int refused = 0;
	for (uint32_t i = 0; i < US_PAIR_QUEUE_SLOTS + 1; i++)
		if (ops->send(&l, f, FLEN) < 0 && errno == ENOBUFS)
			refused++;
	CU_ASSERT_EQUAL(refused, 1);
	ops->close(&l);

	/* Real clock: a receiver blocks, wakes on a frame and on wakeup. */
	struct us_clock real;
	us_clock_init(&real, false);
	struct us_link lr = { .ops = ops, .clock = &real };
	CU_ASSERT_EQUAL_FATAL(ops->open(&lr, &c, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(lr.caps.can_block);
	uint64_t t = us_monotonic_ns();
	CU_ASSERT_EQUAL(ops->recv(&lr, g, sizeof(g), 100), 0);
	CU_ASSERT(us_monotonic_ns() - t >= 100 * US_NS_PER_MS);
	CU_ASSERT_EQUAL(ops->send(&lr, f, FLEN), 0);
	CU_ASSERT_EQUAL(ops->recv(&lr, g, sizeof(g), 5000), FLEN);
	ops->wakeup(&lr);
	t = us_monotonic_ns();
	CU_ASSERT_EQUAL(ops->recv(&lr, g, sizeof(g), 5000), 0);
	CU_ASSERT(us_monotonic_ns() - t < 2500 * US_NS_PER_MS);
	ops->close(&lr);
}

US_SUITE(pair, NULL, NULL,
	 US_TEST(test_pair_in_order),
	 US_TEST(test_pair_loss),
	 US_TEST(test_pair_duplicate),
	 US_TEST(test_pair_corrupt),
	 US_TEST(test_pair_reorder),
	 US_TEST(test_pair_delay),
	 US_TEST(test_pair_rate),
	 US_TEST(test_pair_determinism),
	 US_TEST(test_pair_queue_full),
	 US_TEST(test_pair_attach_rules),
	 US_TEST(test_pair_wait_wakes_on_send),
	 US_TEST(test_pair_wait_wakeup),
	 US_TEST(test_pair_wait_timeout),
	 US_TEST(test_pair_link_backend),
	 US_TEST(test_loopback));
