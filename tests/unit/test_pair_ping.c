/*
 * test_pair_ping.c — two whole stacks in one process, joined by a pair
 * wire, ping each other on the virtual clock.
 *
 * Each side sends COUNT echo requests, one every 10 ms of virtual time,
 * while both stacks are advanced in lock-step (1 ms at a time). Addresses
 * are resolved by ARP over the same wire, so ARP itself runs under the
 * impairment. With loss p on each end, a request and its reply both
 * survive with probability (1 - p)^2 = 0.64 for p = 0.2: over 200 pings
 * the reply count is binomial with standard deviation sqrt(200 * 0.64 *
 * 0.36) = 6.8, so 0.5..0.78 is more than 4 standard deviations either
 * side. The seeds are fixed, so the outcome is too; the bound says the
 * seeds were not picked to make it pass. Every reply's payload must be the
 * request's, and no sequence number may be answered twice.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

#define COUNT   200
#define PLEN    48
#define STEP_NS US_NS_PER_MS

struct side {
	us_stack *st;
	int h;
	uint16_t id;
	uint32_t ip, peer_ip;
	int tag;                /* payload pattern family */
	int replies;            /* distinct sequence numbers answered */
	int bad;                /* replies with a wrong payload, length or sender */
	int dups;               /* sequence numbers answered twice */
	int errors;             /* errors reported (e.g. EHOSTUNREACH) */
	bool got[COUNT];
};

static void payload_for(uint8_t *p, int tag, uint16_t seq)
{
	tu_pattern(p, PLEN, (unsigned)(tag * 100000 + seq));
}

static void drain(struct side *s)
{
	struct us_echo_reply rep;
	uint8_t buf[256], want[PLEN];
	while (us_ping_recv(s->st, s->h, &rep, buf, sizeof buf, 0) == 0) {
		if (rep.error) {
			s->errors++;
			continue;
		}
		if (rep.seq >= COUNT || rep.len != PLEN || rep.from.s_addr != s->peer_ip) {
			s->bad++;
			continue;
		}
		payload_for(want, s->tag, rep.seq);
		if (memcmp(buf, want, PLEN) != 0) {
			s->bad++;
			continue;
		}
		if (s->got[rep.seq]) {
			s->dups++;
			continue;
		}
		s->got[rep.seq] = true;
		s->replies++;
	}
}

static void step_both(struct side *a, struct side *b, uint64_t ns)
{
	for (uint64_t done = 0; done < ns; done += STEP_NS) {
		us_stack_advance(a->st, STEP_NS);
		us_stack_advance(b->st, STEP_NS);
		drain(a);
		drain(b);
	}
}

static bool open_side(struct side *s, const char *wire, const uint8_t mac[6], uint32_t ip,
		      uint32_t peer_ip, uint64_t seed, double loss, int tag)
{
	struct us_config cfg;
	struct tu_opts o = { .seed = seed };
	char err[256] = "";
	memset(s, 0, sizeof *s);
	tu_config(&cfg, wire, &o);
	memcpy(cfg.ifaces[0].mac, mac, 6);
	cfg.ifaces[0].addrs[0].addr.s_addr = ip;
	cfg.ifaces[0].impair.loss = loss;
	s->st = us_stack_new(&cfg, US_STACK_DETERMINISTIC, err, sizeof err);
	if (!s->st) {
		fprintf(stderr, "pair_ping: %s\n", err);
		CU_FAIL("us_stack_new failed");
		return false;
	}
	s->ip = ip;
	s->peer_ip = peer_ip;
	s->tag = tag;
	s->h = us_ping_open(s->st, &s->id);
	CU_ASSERT(s->h >= 0);
	return s->h >= 0;
}

static void close_side(struct side *s)
{
	if (!s->st)
		return;
	us_ping_close(s->st, s->h);
	CU_ASSERT_EQUAL(us_pool_available(&s->st->pool), s->st->pool.total);
	us_stack_free(s->st);
	s->st = NULL;
}

/* What end of the wire a stack holds (the pair backend's private state). */
static void wire_stats(struct side *s, struct us_pair_stats *ps)
{
	us_pair_stats((struct us_pair_end *)s->st->ifs[0].link.priv, ps);
}

static void run(const char *tag, double loss, struct side *a, struct side *b)
{
	char wire[US_PATH_MAX];
	tu_wire_name(wire, sizeof wire, tag);
	if (!open_side(a, wire, tu_stack_mac, TU_STACK_IP, TU_PEER_IP, 0x5eed0001, loss, 1) ||
	    !open_side(b, wire, tu_peer_mac, TU_PEER_IP, TU_STACK_IP, 0x5eed0002, loss, 2)) {
		close_side(a);
		close_side(b);
		return;
	}
	CU_ASSERT_EQUAL(us_stack_up(a->st), 0);
	CU_ASSERT_EQUAL(us_stack_up(b->st), 0);
	uint8_t p[PLEN];
	for (int i = 0; i < COUNT; i++) {
		struct in_addr to_b = { b->ip }, to_a = { a->ip };
		payload_for(p, a->tag, (uint16_t)i);
		CU_ASSERT_EQUAL(us_ping_send(a->st, a->h, to_b, (uint16_t)i, 0, p, PLEN), 0);
		payload_for(p, b->tag, (uint16_t)i);
		CU_ASSERT_EQUAL(us_ping_send(b->st, b->h, to_a, (uint16_t)i, 0, p, PLEN), 0);
		step_both(a, b, 10 * STEP_NS);
	}
	/* Long enough for the last requests, and any ARP retries, to settle. */
	step_both(a, b, 4 * US_NS_PER_SEC);
	CU_ASSERT_EQUAL(us_stack_now(a->st), us_stack_now(b->st));
}

static void test_pair_ping_lossy(void)
{
	struct side a, b;
	run(__func__, 0.2, &a, &b);
	if (!a.st || !b.st)
		return;
	double ra = (double)a.replies / COUNT, rb = (double)b.replies / COUNT;
	double both = (double)(a.replies + b.replies) / (2 * COUNT);
	printf("\n    replies: a %d/%d (%.3f), b %d/%d (%.3f), errors a %d b %d ", a.replies,
	       COUNT, ra, b.replies, COUNT, rb, a.errors, b.errors);
	CU_ASSERT(a.replies >= 1);
	CU_ASSERT(b.replies >= 1);
	CU_ASSERT(ra >= 0.5 && ra <= 0.78);
	CU_ASSERT(rb >= 0.5 && rb <= 0.78);
	CU_ASSERT(both >= 0.5 && both <= 0.78);
	CU_ASSERT_EQUAL(a.bad, 0);
	CU_ASSERT_EQUAL(b.bad, 0);
	CU_ASSERT_EQUAL(a.dups, 0);
	CU_ASSERT_EQUAL(b.dups, 0);
	/* Each stack answered every request that reached it. */
	CU_ASSERT_EQUAL(us_stack_stat(a.st, US_STAT_ICMP_TX_ECHO_REP),
			us_stack_stat(a.st, US_STAT_ICMP_RX_ECHO_REQ));
	CU_ASSERT_EQUAL(us_stack_stat(b.st, US_STAT_ICMP_TX_ECHO_REP),
			us_stack_stat(b.st, US_STAT_ICMP_RX_ECHO_REQ));
	/*
	 * The wire really lost about a fifth of what each end sent (4 standard
	 * deviations of the binomial), and every frame is accounted for.
	 */
	struct us_pair_stats ps[2];
	wire_stats(&a, &ps[0]);
	wire_stats(&b, &ps[1]);
	for (int i = 0; i < 2; i++) {
		double n = (double)ps[i].sent;
		CU_ASSERT(n >= 2 * COUNT * 0.8);
		CU_ASSERT(fabs((double)ps[i].lost - 0.2 * n) <= 4 * sqrt(n * 0.2 * 0.8));
		CU_ASSERT_EQUAL(ps[i].sent, ps[i].delivered + ps[i].lost);
	}
	close_side(&a);
	close_side(&b);
}

static void test_pair_ping_lossless(void)
{
	struct side a, b;
	run(__func__, 0.0, &a, &b);
	if (!a.st || !b.st)
		return;
	CU_ASSERT_EQUAL(a.replies, COUNT);
	CU_ASSERT_EQUAL(b.replies, COUNT);
	CU_ASSERT_EQUAL(a.errors + b.errors + a.bad + b.bad + a.dups + b.dups, 0);
	/* One resolution each way at most: requests, not a storm. */
	CU_ASSERT(us_stack_stat(a.st, US_STAT_ARP_TX_REQUESTS) <= 1);
	CU_ASSERT(us_stack_stat(b.st, US_STAT_ARP_TX_REQUESTS) <= 1);
	struct us_pair_stats ps;
	wire_stats(&a, &ps);
	CU_ASSERT_EQUAL(ps.lost, 0);
	CU_ASSERT_EQUAL(ps.sent, ps.delivered);
	close_side(&a);
	close_side(&b);
}

US_SUITE(pair_ping, NULL, NULL,
	 US_TEST(test_pair_ping_lossy),
	 US_TEST(test_pair_ping_lossless));
