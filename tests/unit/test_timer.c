/*
 * test_timer.c — the hierarchical timer wheel (core/timer.h) on a virtual clock.
 *
 * Most tests drive a wheel of their own the way the deterministic stack
 * does: move the clock to the next deadline (us_wheel_next) and run the
 * wheel there. Each callback records the clock time at which it ran, so a
 * test can check that a timer fires at its expiry and never before. The
 * last test drives a timer through a whole stack's us_stack_advance().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "stackutil.h"

static struct us_clock clk;
static struct us_timer_wheel wheel;

#define MS US_NS_PER_MS
#define T0 US_NS_PER_SEC        /* a virtual clock starts at one second */

/* A probe timer: records when it fired; may re-arm itself. */
struct probe {
	struct us_timer t;
	int id;
	int fired;
	uint64_t at;            /* clock time of the last firing */
	uint64_t period;        /* re-arm this much after each firing (0: never) */
	int limit;              /* stop re-arming after this many firings */
	struct probe *cancel;   /* cancel this other probe when firing */
	struct probe *arm;      /* arm this other probe when firing... */
	uint64_t arm_at;        /* ...for this time */
};

static int order[256];
static uint64_t order_at[256];
static int norder;

static void probe_fn(void *arg)
{
	struct probe *p = arg;
	uint64_t now = us_clock_now(&clk);
	p->fired++;
	p->at = now;
	if (norder < (int)(sizeof order / sizeof order[0])) {
		order[norder] = p->id;
		order_at[norder] = now;
		norder++;
	}
	if (p->cancel)
		us_timer_cancel(&wheel, &p->cancel->t);
	if (p->arm)
		us_timer_arm(&wheel, &p->arm->t, p->arm_at);
	if (p->period && p->fired < p->limit)
		us_timer_arm(&wheel, &p->t, p->t.expires + p->period);
}

static void probe_init(struct probe *p, int id)
{
	memset(p, 0, sizeof *p);
	p->id = id;
	us_timer_init(&p->t, probe_fn, p);
}

static void setup(void)
{
	us_clock_init(&clk, true);
	us_wheel_init(&wheel, &clk);
	norder = 0;
}

static void teardown(void)
{
	us_wheel_destroy(&wheel);
}

/* Like us_stack_advance(): step from deadline to deadline up to until. */
static int drive(uint64_t until)
{
	int fired = 0;
	for (int guard = 0; guard < 100000; guard++) {
		uint64_t next = us_wheel_next(&wheel);
		if (next > until)
			break;
		if (next > us_clock_now(&clk))
			us_clock_set(&clk, next);
		fired += us_wheel_run(&wheel, us_clock_now(&clk));
	}
	us_clock_set(&clk, until);
	fired += us_wheel_run(&wheel, until);
	return fired;
}

/* Run the wheel at time t (moving the clock there). */
static int run_at(uint64_t t)
{
	us_clock_set(&clk, t);
	return us_wheel_run(&wheel, t);
}

static void test_timer_fires_at_expiry(void)
{
	setup();
	struct probe a, b;
	probe_init(&a, 1);
	probe_init(&b, 2);
	uint64_t ea = T0 + 5 * MS + 300;        /* inside a tick */
	uint64_t eb = T0 + 7 * MS;              /* on a tick boundary */
	us_timer_arm(&wheel, &a.t, ea);
	us_timer_arm(&wheel, &b.t, eb);
	CU_ASSERT_TRUE(us_timer_armed(&wheel, &a.t));

	CU_ASSERT_EQUAL(run_at(T0 + 5 * MS), 0);      /* same tick, 300 ns early */
	CU_ASSERT_EQUAL(run_at(ea - 1), 0);
	CU_ASSERT_EQUAL(a.fired, 0);
	CU_ASSERT_TRUE(us_timer_armed(&wheel, &a.t));
	CU_ASSERT_EQUAL(run_at(ea), 1);
	CU_ASSERT_EQUAL(a.fired, 1);
	CU_ASSERT_EQUAL(a.at, ea);
	CU_ASSERT_FALSE(us_timer_armed(&wheel, &a.t));

	CU_ASSERT_EQUAL(run_at(eb - 1), 0);
	CU_ASSERT_EQUAL(b.fired, 0);
	CU_ASSERT_EQUAL(run_at(eb), 1);
	CU_ASSERT_EQUAL(b.at, eb);

	/* Once only. */
	CU_ASSERT_EQUAL(run_at(T0 + 5000 * MS), 0);
	CU_ASSERT_EQUAL(a.fired, 1);
	CU_ASSERT_EQUAL(b.fired, 1);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);

	/* Driven from deadline to deadline, a timer fires exactly at its expiry. */
	struct probe c;
	probe_init(&c, 3);
	uint64_t ec = us_clock_now(&clk) + 1234567891ULL;
	us_timer_arm(&wheel, &c.t, ec);
	CU_ASSERT_EQUAL(drive(ec + 10 * US_NS_PER_SEC), 1);
	CU_ASSERT_EQUAL(c.at, ec);

	/* A late run still fires it, once. */
	struct probe d;
	probe_init(&d, 4);
	uint64_t ed = us_clock_now(&clk) + 3 * MS;
	us_timer_arm(&wheel, &d.t, ed);
	CU_ASSERT_EQUAL(run_at(ed + 777 * MS), 1);
	CU_ASSERT_EQUAL(d.fired, 1);
	teardown();
}

static void test_timer_cancel(void)
{
	setup();
	struct probe a, b;
	probe_init(&a, 1);
	probe_init(&b, 2);
	us_timer_arm(&wheel, &a.t, T0 + 10 * MS);
	us_timer_arm(&wheel, &b.t, T0 + 10 * MS);
	CU_ASSERT_TRUE(us_timer_cancel(&wheel, &a.t));
	CU_ASSERT_FALSE(us_timer_armed(&wheel, &a.t));
	CU_ASSERT_FALSE(us_timer_cancel(&wheel, &a.t));    /* not armed any more */
	CU_ASSERT_EQUAL(drive(T0 + 100 * MS), 1);
	CU_ASSERT_EQUAL(a.fired, 0);
	CU_ASSERT_EQUAL(b.fired, 1);
	CU_ASSERT_FALSE(us_timer_cancel(&wheel, &b.t));    /* already fired */
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);

	/* A never-armed timer cancels as "was not armed". */
	struct probe c;
	probe_init(&c, 3);
	CU_ASSERT_FALSE(us_timer_cancel(&wheel, &c.t));
	us_timer_cancel_sync(&wheel, &c.t);

	/* A callback may cancel another timer due at the same instant. */
	struct probe x, y;
	probe_init(&x, 4);
	probe_init(&y, 5);
	x.cancel = &y;
	uint64_t e = us_clock_now(&clk) + 20 * MS;
	us_timer_arm(&wheel, &x.t, e);
	us_timer_arm(&wheel, &y.t, e);
	CU_ASSERT_EQUAL(drive(e + MS), 1);
	CU_ASSERT_EQUAL(x.fired, 1);
	CU_ASSERT_EQUAL(y.fired, 0);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);
	teardown();
}

static void test_timer_rearm(void)
{
	setup();
	struct probe a;
	probe_init(&a, 1);
	/* Later. */
	us_timer_arm(&wheel, &a.t, T0 + 10 * MS);
	us_timer_arm(&wheel, &a.t, T0 + 20 * MS);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 20 * MS);
	CU_ASSERT_EQUAL(run_at(T0 + 15 * MS), 0);
	CU_ASSERT_EQUAL(run_at(T0 + 20 * MS), 1);
	CU_ASSERT_EQUAL(a.at, T0 + 20 * MS);
	/* Earlier: fires at the new time and not again at the old one. */
	us_timer_arm(&wheel, &a.t, T0 + 50 * MS);
	us_timer_arm(&wheel, &a.t, T0 + 30 * MS);
	CU_ASSERT_EQUAL(drive(T0 + 100 * MS), 1);
	CU_ASSERT_EQUAL(a.fired, 2);
	CU_ASSERT_EQUAL(a.at, T0 + 30 * MS);
	/* Re-armed into a different wheel turn of the same slot. */
	us_timer_arm(&wheel, &a.t, T0 + 200 * MS);
	us_timer_arm(&wheel, &a.t, T0 + 200 * MS + US_WHEEL_SLOTS * MS);
	CU_ASSERT_EQUAL(drive(T0 + 200 * MS + US_WHEEL_SLOTS * MS - 1), 0);
	CU_ASSERT_EQUAL(drive(T0 + 200 * MS + US_WHEEL_SLOTS * MS), 1);
	CU_ASSERT_EQUAL(a.fired, 3);
	/* Re-arming after firing works like a fresh arm. */
	us_timer_arm(&wheel, &a.t, us_clock_now(&clk) + 5 * MS);
	CU_ASSERT_EQUAL(drive(us_clock_now(&clk) + 10 * MS), 1);
	CU_ASSERT_EQUAL(a.fired, 4);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);
	teardown();
}

/*
 * Timers whose expiries are whole wheel turns apart share one slot; each
 * must fire at its own time, in time order, whatever order they were armed in.
 */
static void test_timer_same_slot_turns(void)
{
	setup();
	enum { N = 12 };
	struct probe p[N];
	uint64_t base = T0 + 37 * MS;
	uint64_t turn = (uint64_t)US_WHEEL_SLOTS * US_WHEEL_TICK_NS;
	/* id k expires at base + (k/2) turns + (k odd ? 250 us : 0). */
	static const int arm_order[N] = { 7, 2, 11, 0, 5, 9, 1, 10, 4, 8, 3, 6 };
	uint64_t exp[N];
	for (int k = 0; k < N; k++) {
		probe_init(&p[k], k);
		exp[k] = base + (uint64_t)(k / 2) * turn + (k & 1 ? 250000 : 0);
		CU_ASSERT_EQUAL((exp[k] / US_WHEEL_TICK_NS) % US_WHEEL_SLOTS,
				(base / US_WHEEL_TICK_NS) % US_WHEEL_SLOTS);
	}
	for (int i = 0; i < N; i++)
		us_timer_arm(&wheel, &p[arm_order[i]].t, exp[arm_order[i]]);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), exp[0]);

	/*
	 * Run the wheel at every tick for three turns: the slot is visited
	 * three times while later turns' timers sit in it. Ids 0..5 fire, each
	 * at the first tick at or after its expiry, in time order.
	 */
	for (uint64_t t = T0; t < base + 3 * turn; t += US_WHEEL_TICK_NS)
		run_at(t);
	CU_ASSERT_EQUAL(norder, 6);
	for (int i = 0; i < norder && i < 6; i++) {
		CU_ASSERT_EQUAL(order[i], i);
		CU_ASSERT_EQUAL(order_at[i], i & 1 ? exp[i] - 250000 + US_WHEEL_TICK_NS : exp[i]);
	}
	CU_ASSERT_EQUAL(p[6].fired, 0);

	/* Then deadline to deadline: each at exactly its expiry. */
	CU_ASSERT_EQUAL(drive(base + 10 * turn), N - 6);
	CU_ASSERT_EQUAL(norder, N);
	for (int i = 6; i < norder && i < N; i++) {
		CU_ASSERT_EQUAL(order[i], i);
		CU_ASSERT_EQUAL(order_at[i], exp[i]);
	}
	for (int k = 0; k < N; k++)
		CU_ASSERT_EQUAL(p[k].fired, 1);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);

	/*
	 * One long jump (the timer thread delayed by many turns): every timer
	 * due fires exactly once in that run, none that is not yet due.
	 */
	uint64_t now = us_clock_now(&clk);
	for (int k = 0; k < N; k++) {
		probe_init(&p[k], k);
		exp[k] = now + 5 * MS + (uint64_t)k * turn;
		us_timer_arm(&wheel, &p[k].t, exp[k]);
	}
	CU_ASSERT_EQUAL(run_at(exp[N - 2]), N - 1);
	CU_ASSERT_EQUAL(p[N - 1].fired, 0);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), exp[N - 1]);
	CU_ASSERT_EQUAL(run_at(exp[N - 1]), 1);
	for (int k = 0; k < N; k++)
		CU_ASSERT_EQUAL(p[k].fired, 1);
	teardown();
}

static void test_timer_self_rearm(void)
{
	setup();
	/* Every 100 ms, ten times. */
	struct probe a;
	probe_init(&a, 1);
	a.period = 100 * MS;
	a.limit = 10;
	us_timer_arm(&wheel, &a.t, T0 + 100 * MS);
	CU_ASSERT_EQUAL(drive(T0 + 5 * US_NS_PER_SEC), 10);
	CU_ASSERT_EQUAL(a.fired, 10);
	CU_ASSERT_EQUAL(norder, 10);
	for (int i = 0; i < norder; i++)
		CU_ASSERT_EQUAL(order_at[i], T0 + (uint64_t)(i + 1) * 100 * MS);
	CU_ASSERT_FALSE(us_timer_armed(&wheel, &a.t));

	/*
	 * A period of exactly one wheel turn re-arms into the very slot being
	 * run: it must not fire again in the same run.
	 */
	norder = 0;
	struct probe b;
	probe_init(&b, 2);
	uint64_t turn = (uint64_t)US_WHEEL_SLOTS * US_WHEEL_TICK_NS;
	uint64_t start = us_clock_now(&clk) + 3 * MS;
	b.period = turn;
	b.limit = 4;
	us_timer_arm(&wheel, &b.t, start);
	CU_ASSERT_EQUAL(run_at(start), 1);
	CU_ASSERT_EQUAL(b.fired, 1);
	CU_ASSERT_TRUE(us_timer_armed(&wheel, &b.t));
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), start + turn);
	CU_ASSERT_EQUAL(drive(start + 10 * turn), 3);
	CU_ASSERT_EQUAL(b.fired, 4);
	for (int i = 0; i < norder; i++)
		CU_ASSERT_EQUAL(order_at[i], start + (uint64_t)i * turn);
	teardown();
}

static void test_timer_next(void)
{
	setup();
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);
	struct probe a, b, c;
	probe_init(&a, 1);
	probe_init(&b, 2);
	probe_init(&c, 3);
	us_timer_arm(&wheel, &a.t, T0 + 3000 * MS);     /* a later turn */
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 3000 * MS);
	us_timer_arm(&wheel, &b.t, T0 + 40 * MS + 5);
	us_timer_arm(&wheel, &c.t, T0 + 900 * MS);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 40 * MS + 5);
	us_timer_cancel(&wheel, &b.t);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 900 * MS);
	CU_ASSERT_EQUAL(run_at(T0 + 900 * MS), 1);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 3000 * MS);
	us_timer_arm(&wheel, &a.t, T0 + 950 * MS);       /* moved earlier */
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 950 * MS);
	CU_ASSERT_EQUAL(run_at(T0 + 950 * MS), 1);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);
	teardown();
}

/* A timer armed for a time already past fires at the next run. */
static void test_timer_past_expiry(void)
{
	setup();
	CU_ASSERT_EQUAL(run_at(T0 + 500 * MS), 0);
	struct probe a;
	probe_init(&a, 1);
	us_timer_arm(&wheel, &a.t, T0 + 100 * MS);       /* behind the wheel's cursor */
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), T0 + 100 * MS);
	CU_ASSERT_EQUAL(us_wheel_run(&wheel, T0 + 500 * MS), 1);
	CU_ASSERT_EQUAL(a.fired, 1);
	/* And one armed at exactly now. */
	us_timer_arm(&wheel, &a.t, T0 + 500 * MS);
	CU_ASSERT_EQUAL(us_wheel_run(&wheel, T0 + 500 * MS), 1);
	CU_ASSERT_EQUAL(a.fired, 2);
	teardown();
}

/*
 * A callback that arms another timer for a time already past (here: one
 * tick the same run has walked over already) must not strand it: it fires
 * in that run, or at the latest the next, not a wheel turn later.
 */
static void test_timer_arm_past_from_callback(void)
{
	setup();
	struct probe a, b;
	probe_init(&a, 1);
	probe_init(&b, 2);
	a.arm = &b;
	a.arm_at = T0 + 2 * MS;
	us_timer_arm(&wheel, &a.t, T0 + 5 * MS);
	CU_ASSERT_EQUAL(run_at(T0 + 10 * MS), 2);      /* one run across ticks 0..10 */
	CU_ASSERT_EQUAL(a.fired, 1);
	CU_ASSERT_EQUAL(b.fired, 1);
	if (b.fired == 0) {
		/* It must at least be due at the very next run. */
		CU_ASSERT_EQUAL(run_at(T0 + 11 * MS), 1);
		CU_ASSERT_EQUAL(b.fired, 1);
	}
	/* us_wheel_next never reports a deadline the next run will not honour. */
	CU_ASSERT(us_wheel_next(&wheel) > us_clock_now(&clk));

	/* The same across a jump longer than a wheel turn. */
	struct probe c, d;
	probe_init(&c, 3);
	probe_init(&d, 4);
	uint64_t now = us_clock_now(&clk);
	c.arm = &d;
	c.arm_at = now + 100 * MS;
	us_timer_arm(&wheel, &c.t, now + 600 * MS);
	CU_ASSERT_EQUAL(run_at(now + 3000 * MS), 2);
	CU_ASSERT_EQUAL(d.fired, 1);
	CU_ASSERT(us_wheel_next(&wheel) > us_clock_now(&clk));
	teardown();
}


/* ---- the hierarchical wheel: far deadlines, many timers, a model ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: the same sequence every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

#define DAY (86400ULL * US_NS_PER_SEC)

/*
 * Deadlines beyond what the wheel spans (2^32 ticks, about 49.7 days) are
 * parked and placed again as time goes by: each still fires exactly at
 * its expiry, not early at the end of the span and not never.
 */
static void test_timer_far_deadlines(void)
{
	setup();
	enum { N = 6 };
	struct probe p[N];
	uint64_t now = us_clock_now(&clk);
	uint64_t exp[N] = {
		now + 49 * DAY,                                  /* inside the span */
		now + US_WHEEL_SPAN * US_WHEEL_TICK_NS - 1,      /* its last ns */
		now + US_WHEEL_SPAN * US_WHEEL_TICK_NS + 5,      /* just beyond */
		now + 180 * DAY + 123,
		now + 3 * 365 * DAY + 7 * MS,
		now + 2 * MS,                                    /* a near one too */
	};
	for (int k = 0; k < N; k++) {
		probe_init(&p[k], k);
		us_timer_arm(&wheel, &p[k].t, exp[k]);
	}
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), exp[5]);
	CU_ASSERT_EQUAL(drive(exp[5]), 1);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), exp[0]);
	for (int k = 0; k < 5; k++) {
		CU_ASSERT_EQUAL(drive(exp[k] - 1), 0);
		CU_ASSERT_EQUAL(p[k].fired, 0);
		CU_ASSERT_EQUAL(drive(exp[k]), 1);
		CU_ASSERT_EQUAL(p[k].fired, 1);
		CU_ASSERT_EQUAL(p[k].at, exp[k]);
	}
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);

	/* One jump over all of them: all fire in that one run. */
	now = us_clock_now(&clk);
	for (int k = 0; k < N; k++) {
		probe_init(&p[k], k);
		us_timer_arm(&wheel, &p[k].t, now + (uint64_t)(k + 1) * 40 * DAY);
	}
	CU_ASSERT_EQUAL(run_at(now + 40 * DAY * N - 1), N - 1);
	CU_ASSERT_EQUAL(p[N - 1].fired, 0);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), now + 40 * DAY * N);
	CU_ASSERT_EQUAL(run_at(now + 40 * DAY * N), 1);

	/* The largest expiry there is never fires and never hangs a run. */
	struct probe m;
	probe_init(&m, 9);
	us_timer_arm(&wheel, &m.t, UINT64_MAX);
	CU_ASSERT_EQUAL(us_wheel_next(&wheel), UINT64_MAX);
	CU_ASSERT_EQUAL(run_at(us_clock_now(&clk) + 1000 * DAY), 0);
	CU_ASSERT_TRUE(us_timer_cancel(&wheel, &m.t));
	teardown();
}

/*
 * 100,000 timers with random expiries over ten minutes, a third of them
 * cancelled and a third moved: driven deadline to deadline, every live one
 * fires once, exactly at its expiry, in expiry order.
 */
struct many_probe {
	struct us_timer t;
	uint64_t exp;           /* 0: not armed */
	int fired;
};

static uint64_t many_last;
static int many_fired, many_bad;

static void many_fn(void *arg)
{
	struct many_probe *p = arg;
	uint64_t now = us_clock_now(&clk);
	if (now != p->exp || now < many_last || p->fired) {
		if (getenv("TIMER_DEBUG"))
			fprintf(stderr, "bad fire: now %llu exp %llu last %llu fired %d\n",
				(unsigned long long)now, (unsigned long long)p->exp,
				(unsigned long long)many_last, p->fired);
		many_bad++;
	}
	many_last = now;
	p->fired++;
	p->exp = 0;
	many_fired++;
}

static void test_timer_many(void)
{
	setup();
	enum { N = 100000 };
	struct many_probe *p = calloc(N, sizeof *p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	uint64_t now = us_clock_now(&clk);
	for (int i = 0; i < N; i++) {
		us_timer_init(&p[i].t, many_fn, &p[i]);
		p[i].exp = now + 1 + rnd() % (600 * US_NS_PER_SEC);
		us_timer_arm(&wheel, &p[i].t, p[i].exp);
	}
	int live = N;
	for (int i = 0; i < N; i += 3) {
		CU_ASSERT_TRUE(us_timer_cancel(&wheel, &p[i].t));
		p[i].exp = 0;
		live--;
	}
	for (int i = 1; i < N; i += 3) {
		p[i].exp = now + 1 + rnd() % (600 * US_NS_PER_SEC);
		CU_ASSERT_TRUE(us_timer_arm(&wheel, &p[i].t, p[i].exp));
	}
	many_last = 0;
	many_fired = many_bad = 0;
	int steps = 0;
	for (; steps < 4 * N; steps++) {
		uint64_t next = us_wheel_next(&wheel);
		if (next == UINT64_MAX)
			break;
		if (next > us_clock_now(&clk))
			us_clock_set(&clk, next);
		us_wheel_run(&wheel, us_clock_now(&clk));
	}
	CU_ASSERT_EQUAL(many_fired, live);
	CU_ASSERT_EQUAL(many_bad, 0);
	CU_ASSERT(steps <= 2 * live);   /* a stale bound costs a step, not a loop */
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(p[i].fired, i % 3 == 0 ? 0 : 1);
	free(p);
	teardown();
}

/*
 * A model: random arms (near, far, beyond the span, in the past), cancels
 * and clock moves, checked against a plain array after every step: no
 * timer fires early or twice or not at all, us_wheel_next() is never later
 * than the earliest expiry, and after a run it is not in the past.
 */
enum { MODEL_N = 300 };
static struct many_probe model[MODEL_N];

static void test_timer_model(void)
{
	setup();
	for (int i = 0; i < MODEL_N; i++) {
		memset(&model[i], 0, sizeof model[i]);
		us_timer_init(&model[i].t, many_fn, &model[i]);
	}
	many_last = 0;
	many_bad = many_fired = 0;
	int expected_fires = 0, bad_next = 0, missed = 0;
	static const uint64_t ranges[] = { 5 * MS, 300 * MS, 20 * US_NS_PER_SEC, 2 * 3600 * US_NS_PER_SEC,
					   30 * DAY, 120 * DAY };
	for (int step = 0; step < 40000; step++) {
		uint64_t now = us_clock_now(&clk);
		uint64_t r = rnd();
		struct many_probe *p = &model[r % MODEL_N];
		switch ((r >> 20) % 4) {
		case 0:
		case 1: {
			uint64_t span = ranges[(r >> 24) % 6];
			uint64_t e = now + rnd() % span;
			if ((r >> 30) % 16 == 0 && now > 50 * MS)
				e = now - rnd() % (50 * MS);    /* already past */
			if (!p->exp)
				expected_fires++;
			p->fired = 0;
			p->exp = e < 1 ? 1 : e;
			us_timer_arm(&wheel, &p->t, p->exp);
			break;
		}
		case 2:
			if (p->exp) {
				expected_fires--;
				p->exp = 0;
			}
			us_timer_cancel(&wheel, &p->t);
			break;
		default: {
			/* Move the clock: deadline to deadline up to a random horizon. */
			uint64_t until = now + rnd() % ranges[(r >> 24) % 6];
			many_last = 0;          /* past-due ones fire late: skip the order check */
			for (int guard = 0; guard < 100000; guard++) {
				uint64_t next = us_wheel_next(&wheel);
				uint64_t min = UINT64_MAX;
				for (int i = 0; i < MODEL_N; i++)
					if (model[i].exp && model[i].exp < min)
						min = model[i].exp;
				if (next > min) {
					if (getenv("TIMER_DEBUG"))
						fprintf(stderr, "next %llu > min %llu now %llu cursor %llu\n",
							(unsigned long long)next, (unsigned long long)min,
							(unsigned long long)us_clock_now(&clk),
							(unsigned long long)wheel.cursor);
					for (int i = 0; i < MODEL_N; i++)
						if (model[i].exp == min && getenv("TIMER_DEBUG"))
							fprintf(stderr, "  min timer slot %u armed %d expires %llu\n",
								model[i].t.slot, model[i].t.armed,
								(unsigned long long)model[i].t.expires);
					for (int i = 0; i < 8 && getenv("TIMER_DEBUG"); i++)
						fprintf(stderr, "  occ[%d] %016llx\n", i, (unsigned long long)wheel.occupied[i]);
					bad_next++;
				}
				if (next > until)
					break;
				if (next > us_clock_now(&clk))
					us_clock_set(&clk, next);
				/* Past-due arms fire at the next run, not at their expiry. */
				for (int i = 0; i < MODEL_N; i++)
					if (model[i].exp && model[i].exp < us_clock_now(&clk))
						model[i].exp = us_clock_now(&clk);
				us_wheel_run(&wheel, us_clock_now(&clk));
				if (us_wheel_next(&wheel) <= us_clock_now(&clk))
					bad_next++;
			}
			us_clock_set(&clk, until > us_clock_now(&clk) ? until : us_clock_now(&clk));
			for (int i = 0; i < MODEL_N; i++)
				if (model[i].exp && model[i].exp < us_clock_now(&clk))
					model[i].exp = us_clock_now(&clk);
			us_wheel_run(&wheel, us_clock_now(&clk));
			for (int i = 0; i < MODEL_N; i++)
				if (model[i].exp && model[i].exp <= us_clock_now(&clk))
					missed++;
			break;
		}
		}
	}
	CU_ASSERT_EQUAL(bad_next, 0);
	CU_ASSERT_EQUAL(missed, 0);
	CU_ASSERT_EQUAL(many_bad, 0);
	int armed = 0;
	for (int i = 0; i < MODEL_N; i++)
		if (model[i].exp)
			armed++;
	CU_ASSERT_EQUAL(many_fired, expected_fires - armed);
	for (int i = 0; i < MODEL_N; i++)
		us_timer_cancel(&wheel, &model[i].t);
	teardown();
}

/* Through a deterministic stack: us_stack_advance() stops at the deadline. */
static struct {
	us_stack *st;
	uint64_t at;
	int fired;
} sprobe;

static void stack_probe_fn(void *arg)
{
	(void)arg;
	sprobe.at = us_stack_now(sprobe.st);
	sprobe.fired++;
}

static void test_timer_stack_advance(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	memset(&sprobe, 0, sizeof sprobe);
	sprobe.st = t.st;
	struct us_timer tm;
	us_timer_init(&tm, stack_probe_fn, NULL);
	uint64_t e = us_stack_now(t.st) + 1234567891ULL;
	us_timer_arm(&t.st->wheel, &tm, e);
	us_stack_advance(t.st, 1234567890ULL);
	CU_ASSERT_EQUAL(sprobe.fired, 0);
	us_stack_advance(t.st, 5 * US_NS_PER_SEC);
	CU_ASSERT_EQUAL(sprobe.fired, 1);
	CU_ASSERT_EQUAL(sprobe.at, e);

	/* Two deadlines inside one advance: each callback sees its own time. */
	sprobe.fired = 0;
	e = us_stack_now(t.st) + 2500 * MS;
	us_timer_arm(&t.st->wheel, &tm, e);
	us_stack_advance(t.st, 10 * US_NS_PER_SEC);
	CU_ASSERT_EQUAL(sprobe.fired, 1);
	CU_ASSERT_EQUAL(sprobe.at, e);
	us_timer_cancel_sync(&t.st->wheel, &tm);
	tu_collect(&t, NULL);
	tu_close(&t);
}

/*
 * The timer thread with nothing due soon (idle connections hold no timer):
 * it sleeps until the next deadline instead of waking every second (issue
 * 10, "timers cost nothing while idle"), and an earlier arming still wakes
 * it. Real monotonic clock, us_wheel_loop in a thread of its own: 1.5 s
 * with only a timer 60 s away make one loop iteration (the old loop: two,
 * one a second); a timer then armed 50 ms ahead fires within a second.
 */
static _Atomic int idle_fired;

static void idle_fn(void *arg)
{
	(void)arg;
	atomic_store(&idle_fired, 1);
}

static void *idle_loop(void *arg)
{
	us_wheel_loop(arg);
	return NULL;
}

static void test_timer_thread_sleeps_when_idle(void)
{
	struct us_clock mono;
	struct us_timer_wheel w;
	struct us_timer far, near;
	us_clock_init(&mono, false);
	us_wheel_init(&w, &mono);
	us_timer_init(&far, idle_fn, NULL);
	us_timer_init(&near, idle_fn, NULL);
	atomic_store(&idle_fired, 0);
	us_timer_arm(&w, &far, us_clock_now(&mono) + 60 * US_NS_PER_SEC);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, idle_loop, &w) == 0);
	struct timespec nap = { 1, 500000000 };
	nanosleep(&nap, NULL);
	uint64_t armed, ops, fired, loops;
	us_wheel_counts(&w, &armed, &ops, &fired, &loops);
	CU_ASSERT_EQUAL(loops, 1);
	CU_ASSERT_EQUAL(fired, 0);
	us_timer_arm(&w, &near, us_clock_now(&mono) + 50 * MS);
	for (int i = 0; i < 100 && !atomic_load(&idle_fired); i++) {
		struct timespec ts = { 0, 10 * MS };
		nanosleep(&ts, NULL);
	}
	CU_ASSERT_EQUAL(atomic_load(&idle_fired), 1);
	us_wheel_stop(&w);
	pthread_join(th, NULL);
	us_timer_cancel(&w, &far);
	us_wheel_destroy(&w);
}

US_SUITE(timer, NULL, NULL,
	 US_TEST(test_timer_fires_at_expiry),
	 US_TEST(test_timer_cancel),
	 US_TEST(test_timer_rearm),
	 US_TEST(test_timer_same_slot_turns),
	 US_TEST(test_timer_self_rearm),
	 US_TEST(test_timer_next),
	 US_TEST(test_timer_past_expiry),
	 US_TEST(test_timer_arm_past_from_callback),
	 US_TEST(test_timer_far_deadlines),
	 US_TEST(test_timer_many),
	 US_TEST(test_timer_model),
	 US_TEST(test_timer_stack_advance),
	 US_TEST(test_timer_thread_sleeps_when_idle));
