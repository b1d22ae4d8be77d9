/*
 * test_impair.c — the impairment layer any interface can have
 * (backends/impair.c): a loopback link on a virtual clock, wrapped, so
 * every frame sent comes back through the "out" queue and then the "in"
 * queue. Checks delay (the frame is held until due and next_ready says
 * when), loss, duplication, corruption, the in direction on its own, the
 * counters, and that the same seed gives the same decisions.
 */
#include <string.h>

#include "harness.h"
#include "clock.h"
#include "link.h"
#include "ustack/pair.h"

#define MS (1000ULL * 1000ULL)

struct rig {
	struct us_clock clock;
	struct us_link link;
};

static void rig_open(struct rig *r, const struct us_impair *in, const struct us_impair *out,
		     uint64_t seed)
{
	struct us_iface_config cfg;
	char err[256];
	memset(r, 0, sizeof *r);
	memset(&cfg, 0, sizeof cfg);
	strcpy(cfg.name, "lo0");
	cfg.backend = US_BACKEND_LOOPBACK;
	cfg.mtu = 1500;
	us_clock_init(&r->clock, true);
	us_clock_set(&r->clock, 1000 * MS);
	r->link.ops = &us_link_loopback;
	r->link.clock = &r->clock;
	r->link.seed = seed;
	CU_ASSERT_EQUAL_FATAL(r->link.ops->open(&r->link, &cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL_FATAL(us_link_impair_wrap(&r->link, in, out, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(r->link.ops->name, "impair");
}

static int rig_recv(struct rig *r, uint8_t *buf)
{
	return r->link.ops->recv(&r->link, buf, 2048, 0);
}

static void test_impair_delay_holds_until_due(void)
{
	struct us_impair none = { 0 }, out = { .delay_ms = 100 };
	struct rig r;
	uint8_t f[64], b[2048];
	memset(f, 0xab, sizeof f);
	rig_open(&r, &none, &out, 1);
	uint64_t t0 = us_clock_now(&r.clock);
	CU_ASSERT_EQUAL(r.link.ops->send(&r.link, f, sizeof f), 0);
	CU_ASSERT_EQUAL(rig_recv(&r, b), 0);
	CU_ASSERT_EQUAL(r.link.ops->next_ready(&r.link), t0 + 100 * MS);
	us_clock_set(&r.clock, t0 + 99 * MS);
	CU_ASSERT_EQUAL(rig_recv(&r, b), 0);
	us_clock_set(&r.clock, t0 + 100 * MS);
	CU_ASSERT_EQUAL(rig_recv(&r, b), (int)sizeof f);
	CU_ASSERT_EQUAL(memcmp(b, f, sizeof f), 0);
	CU_ASSERT_EQUAL(rig_recv(&r, b), 0);
	CU_ASSERT_EQUAL(r.link.ops->next_ready(&r.link), UINT64_MAX);
	r.link.ops->close(&r.link);
}

static void test_impair_loss_dup_corrupt(void)
{
	struct us_impair none = { 0 }, lose = { .loss = 1.0 }, dup = { .duplicate = 1.0 },
			 cor = { .corrupt = 1.0 };
	struct rig r;
	uint8_t f[64], b[2048];
	memset(f, 0x5a, sizeof f);

	rig_open(&r, &none, &lose, 1);
	r.link.ops->send(&r.link, f, sizeof f);
	CU_ASSERT_EQUAL(rig_recv(&r, b), 0);
	struct us_pair_stats in, out;
	uint64_t over;
	us_link_impair_stats(&r.link, &in, &out, &over);
	CU_ASSERT_EQUAL(out.sent, 1);
	CU_ASSERT_EQUAL(out.lost, 1);
	r.link.ops->close(&r.link);

	/* Duplication on the way in: two copies of one frame. */
	rig_open(&r, &dup, &none, 1);
	r.link.ops->send(&r.link, f, sizeof f);
	CU_ASSERT_EQUAL(rig_recv(&r, b), (int)sizeof f);
	CU_ASSERT_EQUAL(rig_recv(&r, b), (int)sizeof f);
	CU_ASSERT_EQUAL(rig_recv(&r, b), 0);
	us_link_impair_stats(&r.link, &in, &out, &over);
	CU_ASSERT_EQUAL(in.duplicated, 1);
	CU_ASSERT_EQUAL(out.sent, 0);   /* nothing configured out: passed straight */
	r.link.ops->close(&r.link);

	/* Corruption: exactly one bit differs. */
	rig_open(&r, &none, &cor, 1);
	r.link.ops->send(&r.link, f, sizeof f);
	CU_ASSERT_EQUAL_FATAL(rig_recv(&r, b), (int)sizeof f);
	int bits = 0;
	for (size_t i = 0; i < sizeof f; i++)
		bits += __builtin_popcount((unsigned)(b[i] ^ f[i]));
	CU_ASSERT_EQUAL(bits, 1);
	r.link.ops->close(&r.link);
}

/* 30% loss both ways over 400 frames: the same seed gives the same frames
 * through, another seed others, and the count is plausible (0.7^2 = 49%). */
static void test_impair_seeded(void)
{
	struct us_impair l30 = { .loss = 0.3 };
	char got[3][400];
	for (int k = 0; k < 3; k++) {
		struct rig r;
		uint8_t f[64], b[2048];
		rig_open(&r, &l30, &l30, k == 2 ? 99 : 7);
		for (int i = 0; i < 400; i++) {
			memset(f, 0, sizeof f);
			memcpy(f, &i, sizeof i);
			r.link.ops->send(&r.link, f, sizeof f);
			int n = rig_recv(&r, b);
			got[k][i] = n == (int)sizeof f && memcmp(b, &i, sizeof i) == 0;
			CU_ASSERT_EQUAL(rig_recv(&r, b), 0);
		}
		r.link.ops->close(&r.link);
	}
	CU_ASSERT_EQUAL(memcmp(got[0], got[1], 400), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(got[0], got[2], 400), 0);
	int through = 0;
	for (int i = 0; i < 400; i++)
		through += got[0][i];
	/* Binomial(400, 0.49): mean 196, sd 10; 6 sd either side. */
	CU_ASSERT(through > 136 && through < 256);
}

static void test_impair_bad_probability(void)
{
	struct us_impair bad = { .loss = 1.5 }, none = { 0 };
	struct rig r;
	struct us_iface_config cfg;
	char err[256] = "";
	memset(&r, 0, sizeof r);
	memset(&cfg, 0, sizeof cfg);
	strcpy(cfg.name, "lo0");
	cfg.backend = US_BACKEND_LOOPBACK;
	cfg.mtu = 1500;
	us_clock_init(&r.clock, true);
	r.link.ops = &us_link_loopback;
	r.link.clock = &r.clock;
	CU_ASSERT_EQUAL_FATAL(r.link.ops->open(&r.link, &cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(us_link_impair_wrap(&r.link, &none, &bad, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "loss"));
	CU_ASSERT_STRING_EQUAL(r.link.ops->name, "loopback");   /* left as it was */
	r.link.ops->close(&r.link);
}

US_SUITE(impair, NULL, NULL,
	 US_TEST(test_impair_delay_holds_until_due),
	 US_TEST(test_impair_loss_dup_corrupt),
	 US_TEST(test_impair_seeded),
	 US_TEST(test_impair_bad_probability));
