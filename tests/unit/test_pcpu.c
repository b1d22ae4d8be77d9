/*
 * test_pcpu.c — per-thread counters and per-thread buffer caches (suite
 * "pcpu"; core/tslot.h, core/stack.h, core/buf.h).
 *
 * Counters: many threads adding at once, more of them than there are
 * thread slots (so some share US_TSLOT_SHARED), sum exactly; two stacks in
 * one process do not mix; what an ended thread counted stays counted.
 * Buffers: heavy get/put churn from many threads (buffers also handed to
 * other threads to put) never hands one buffer to two holders, and every
 * buffer is back at the end; buffers in the caches of ended threads are
 * taken back by a get that finds the list empty; buffers in live idle
 * threads' caches are bounded and come back once those threads touch the
 * pool again; a pool destroyed and made again hands out only its own
 * buffers. Threaded: run under ThreadSanitizer in CI (.ci/run).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "stack.h"
#include "stackutil.h"

/* ---------------------------------------------------------------- counters */

#define CT_THREADS (US_TSLOTS + 8)      /* at least 8 threads share a slot */
#define CT_ADDS 20000

struct ct_arg {
	struct us_stack *a, *b;
	pthread_barrier_t *go;
	unsigned slot;
};

static void *ct_main(void *v)
{
	struct ct_arg *c = v;
	c->slot = us_tslot();
	/* Everyone holds a slot (or the shared one) before anyone counts:
	 * CT_THREADS threads are alive at once. */
	pthread_barrier_wait(c->go);
	for (int i = 0; i < CT_ADDS; i++) {
		US_STAT_INC(c->a, UDP_RX);
		US_STAT_ADD(c->b, TCP_ACTIVE_OPENS, 3);
		US_IFSTAT_INC(&c->a->ifs[0], TX_ERRORS);
	}
	return NULL;
}

static uint64_t ifstat(us_stack *st, enum us_ifstat_id id)
{
	uint64_t v[US_IFSTAT__COUNT];
	CU_ASSERT_EQUAL_FATAL(us_stack_iface_stats(st, 0, v), 0);
	return v[id];
}

static void test_counters_threads_sum_exactly(void)
{
	struct tu ta, tb;
	if (!tu_open_tag(&ta, NULL, "pcpu-ca"))
		return;
	if (!tu_open_tag(&tb, NULL, "pcpu-cb")) {
		tu_close(&ta);
		return;
	}
	struct us_stack *a = ta.st, *b = tb.st;
	uint64_t a_udp = us_stack_stat(a, US_STAT_UDP_RX);
	uint64_t a_tcp = us_stack_stat(a, US_STAT_TCP_ACTIVE_OPENS);
	uint64_t b_udp = us_stack_stat(b, US_STAT_UDP_RX);
	uint64_t b_tcp = us_stack_stat(b, US_STAT_TCP_ACTIVE_OPENS);
	uint64_t a_err = ifstat(a, US_IFSTAT_TX_ERRORS), b_err = ifstat(b, US_IFSTAT_TX_ERRORS);

	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, CT_THREADS);
	struct ct_arg arg[CT_THREADS];
	pthread_t th[CT_THREADS];
	for (int i = 0; i < CT_THREADS; i++) {
		arg[i] = (struct ct_arg){ .a = a, .b = b, .go = &go };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, ct_main, &arg[i]) == 0);
	}
	int shared = 0;
	for (int i = 0; i < CT_THREADS; i++) {
		pthread_join(th[i], NULL);
		shared += arg[i].slot == US_TSLOT_SHARED;
	}
	pthread_barrier_destroy(&go);
	CU_ASSERT(shared >= CT_THREADS - US_TSLOTS);    /* the shared slot was contended */

	uint64_t n = (uint64_t)CT_THREADS * CT_ADDS;
	CU_ASSERT_EQUAL(us_stack_stat(a, US_STAT_UDP_RX) - a_udp, n);
	CU_ASSERT_EQUAL(us_stack_stat(b, US_STAT_TCP_ACTIVE_OPENS) - b_tcp, 3 * n);
	CU_ASSERT_EQUAL(ifstat(a, US_IFSTAT_TX_ERRORS) - a_err, n);
	/* Nothing of it landed in the other stack. */
	CU_ASSERT_EQUAL(us_stack_stat(a, US_STAT_TCP_ACTIVE_OPENS), a_tcp);
	CU_ASSERT_EQUAL(us_stack_stat(b, US_STAT_UDP_RX), b_udp);
	CU_ASSERT_EQUAL(ifstat(b, US_IFSTAT_TX_ERRORS), b_err);
	/* The whole-array reader sums the same shards. */
	uint64_t all[US_STAT__COUNT];
	us_stack_stats(a, all);
	CU_ASSERT_EQUAL(all[US_STAT_UDP_RX] - a_udp, n);
	tu_close(&tb);
	tu_close(&ta);
}

struct one_arg {
	struct us_stack *st;
	int adds;
	unsigned slot;
};

static void *one_main(void *v)
{
	struct one_arg *o = v;
	o->slot = us_tslot();
	for (int i = 0; i < o->adds; i++)
		US_STAT_INC(o->st, ICMP_TX);
	return NULL;
}

/* A thread ends, another takes its slot: both threads' counts remain. */
static void test_counters_survive_thread_exit(void)
{
	struct tu t;
	if (!tu_open_tag(&t, NULL, "pcpu-exit"))
		return;
	uint64_t base = us_stack_stat(t.st, US_STAT_ICMP_TX);
	struct one_arg o1 = { t.st, 1000, 0 }, o2 = { t.st, 234, 0 };
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, one_main, &o1) == 0);
	pthread_join(th, NULL);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, one_main, &o2) == 0);
	pthread_join(th, NULL);
	/* The lowest free slot is taken: the second thread reused the first's. */
	if (o1.slot != US_TSLOT_SHARED)
		CU_ASSERT_EQUAL(o2.slot, o1.slot);
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_ICMP_TX) - base, 1234);
	tu_close(&t);
}

/* ----------------------------------------------------------------- buffers */

#define POOL_BUFS 4096
#define CHURN_ROUNDS 3000
#define CHURN_HOLD 48

struct churn {
	struct us_buf_pool *p;
	_Atomic int *holder;            /* [total]: 0 free, else the holding thread + 1 */
	_Atomic int dup;                /* a buffer handed to two holders */
	_Atomic int overwritten;        /* a held buffer written by another thread */
	pthread_mutex_t mu;             /* protects box[], nbox */
	struct us_buf *box[256];        /* buffers passed to another thread to put */
	int nbox;
};

struct churn_arg {
	struct churn *c;
	int id;
	unsigned seed;
	int nulls;
};

static size_t buf_index(const struct us_buf_pool *p, const struct us_buf *b)
{
	return (size_t)(b - p->hdrs);
}

static void mark_got(struct churn *c, struct us_buf *b, int who)
{
	int was = atomic_exchange(&c->holder[buf_index(c->p, b)], who + 1);
	if (was != 0)
		atomic_fetch_add(&c->dup, 1);
}

static void mark_put(struct churn *c, struct us_buf *b)
{
	atomic_store(&c->holder[buf_index(c->p, b)], 0);
}

static void *churn_main(void *v)
{
	struct churn_arg *a = v;
	struct churn *c = a->c;
	struct us_buf *held[CHURN_HOLD];
	for (int r = 0; r < CHURN_ROUNDS; r++) {
		int n = 1 + (int)(rand_r(&a->seed) % CHURN_HOLD), got = 0;
		for (int i = 0; i < n; i++) {
			struct us_buf *b = us_buf_get(c->p);
			if (!b) {
				a->nulls++;
				break;
			}
			mark_got(c, b, a->id);
			/* Write through the buffer: TSan sees two holders. */
			memset(b->data, a->id, 16);
			held[got++] = b;
		}
		/* Some go to the box for another thread to put back. */
		pthread_mutex_lock(&c->mu);
		while (got > 0 && c->nbox < 256 && rand_r(&a->seed) % 4 == 0)
			c->box[c->nbox++] = held[--got];
		struct us_buf *other = c->nbox && rand_r(&a->seed) % 2 ? c->box[--c->nbox] : NULL;
		pthread_mutex_unlock(&c->mu);
		for (int i = 0; i < got; i++) {
			if (held[i]->data[15] != (uint8_t)a->id)
				atomic_fetch_add(&c->overwritten, 1);
			mark_put(c, held[i]);
			us_buf_put(c->p, held[i]);
		}
		if (other) {
			mark_put(c, other);
			us_buf_put(c->p, other);
		}
	}
	return NULL;
}

/* Every buffer of the pool, got by this thread: count them, each once,
 * each inside the slab; then put them all back. */
static size_t get_all(struct us_buf_pool *p)
{
	struct us_buf **all = calloc(p->total + 1, sizeof *all);
	unsigned char *seen = calloc(p->total, 1);
	size_t n = 0;
	CU_ASSERT_FATAL(all && seen);
	while (n <= p->total && (all[n] = us_buf_get(p))) {
		struct us_buf *b = all[n++];
		CU_ASSERT_FATAL(b >= p->hdrs && b < p->hdrs + p->total);
		CU_ASSERT(b->mem >= p->slab && b->mem < p->slab + p->total * p->buf_size);
		CU_ASSERT_EQUAL(seen[buf_index(p, b)], 0);
		seen[buf_index(p, b)] = 1;
	}
	for (size_t i = 0; i < n; i++)
		us_buf_put(p, all[i]);
	free(all);
	free(seen);
	return n;
}

static void churn_run(size_t bufs, int threads)
{
	struct us_buf_pool p;
	CU_ASSERT_FATAL(us_pool_init(&p, bufs, 1514) == 0);
	struct churn c = { .p = &p };
	c.holder = calloc(bufs, sizeof *c.holder);
	CU_ASSERT_FATAL(c.holder != NULL);
	pthread_mutex_init(&c.mu, NULL);
	struct churn_arg *arg = calloc((size_t)threads, sizeof *arg);
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	CU_ASSERT_FATAL(arg && th);
	for (int i = 0; i < threads; i++) {
		arg[i] = (struct churn_arg){ .c = &c, .id = i + 1, .seed = 77u + (unsigned)i };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, churn_main, &arg[i]) == 0);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < c.nbox; i++) {
		mark_put(&c, c.box[i]);
		us_buf_put(&p, c.box[i]);
	}
	CU_ASSERT_EQUAL(atomic_load(&c.dup), 0);
	CU_ASSERT_EQUAL(atomic_load(&c.overwritten), 0);
	/* Every buffer is back, most in the ended threads' caches. */
	CU_ASSERT_EQUAL(us_pool_available(&p), bufs);
	/* And they can all be had again: the ended threads' caches are
	 * taken back when the list runs dry. */
	CU_ASSERT_EQUAL(get_all(&p), bufs);
	CU_ASSERT_EQUAL(us_pool_available(&p), bufs);
	pthread_mutex_destroy(&c.mu);
	free(c.holder);
	free(arg);
	free(th);
	us_pool_destroy(&p);
}

/* 8 threads, plenty of buffers: the cached path. */
static void test_pool_churn_threads(void)
{
	churn_run(POOL_BUFS, 8);
}

/* 8 threads x up to 48 held on 256 buffers: scarce, gets fail and the
 * pool drains caches; more threads than slots: the shared slot too. */
static void test_pool_churn_scarce(void)
{
	churn_run(256, 8);
	churn_run(POOL_BUFS, US_TSLOTS + 4);
}

struct idle {
	struct us_buf_pool *p;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int phase;              /* 1: cached, 2: touch the pool again, 3: done */
	int ready;
};

static void idle_wait(struct idle *d, int phase)
{
	pthread_mutex_lock(&d->mu);
	while (d->phase < phase)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
}

static void idle_ready(struct idle *d)
{
	pthread_mutex_lock(&d->mu);
	d->ready++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Wait for `ready` reports, then start the phase (0: none). */
static void idle_phase(struct idle *d, int phase, int ready)
{
	pthread_mutex_lock(&d->mu);
	while (d->ready < ready)
		pthread_cond_wait(&d->cv, &d->mu);
	if (phase)
		d->phase = phase;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static void *idle_main(void *v)
{
	struct idle *d = v;
	us_buf_put(d->p, us_buf_get(d->p));     /* the cache now holds a batch */
	idle_ready(d);
	idle_wait(d, 2);
	us_buf_put(d->p, us_buf_get(d->p));     /* sees the drain request */
	idle_ready(d);
	idle_wait(d, 3);
	return NULL;
}

/*
 * Live threads that stop touching the pool keep their caches: a quarter
 * of the pool at most. Once they get or put again after a get found the
 * list empty, they give everything back.
 */
static void test_pool_scarce_live_caches(void)
{
	enum { T = 8 };
	struct us_buf_pool p;
	CU_ASSERT_FATAL(us_pool_init(&p, POOL_BUFS, 1514) == 0);
	CU_ASSERT(p.cache_cap > 0 && p.cache_cap * US_TSLOTS <= POOL_BUFS / 4);
	struct idle d = { .p = &p };
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	pthread_t th[T];
	for (int i = 0; i < T; i++)
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, idle_main, &d) == 0);
	idle_phase(&d, 1, T);
	/* Counted as available although they sit in caches. */
	CU_ASSERT_EQUAL(us_pool_available(&p), POOL_BUFS);
	size_t cached = 0;
	for (unsigned k = 0; k < US_TSLOTS; k++)
		cached += atomic_load(&p.cache[k].n);
	CU_ASSERT(cached >= T && cached <= (size_t)T * p.cache_cap);

	/* This thread gets everything not in a live cache, no more. */
	struct us_buf **mine = calloc(POOL_BUFS, sizeof *mine);
	CU_ASSERT_FATAL(mine != NULL);
	size_t n = 0;
	while (n < POOL_BUFS && (mine[n] = us_buf_get(&p)))
		n++;
	CU_ASSERT(n >= POOL_BUFS - (size_t)T * p.cache_cap);
	CU_ASSERT(n < POOL_BUFS);
	CU_ASSERT(atomic_load(&p.drain));

	/* The idle threads touch the pool: they flush, the rest is ours. */
	idle_phase(&d, 2, T);
	idle_phase(&d, 0, 2 * T);
	while (n < POOL_BUFS && (mine[n] = us_buf_get(&p)))
		n++;
	CU_ASSERT_EQUAL(n, POOL_BUFS);
	CU_ASSERT_PTR_NULL(us_buf_get(&p));
	for (size_t i = 0; i < n; i++)
		us_buf_put(&p, mine[i]);
	CU_ASSERT(!atomic_load(&p.drain));      /* plenty again */
	idle_phase(&d, 3, 2 * T);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(get_all(&p), POOL_BUFS);
	free(mine);
	pthread_cond_destroy(&d.cv);
	pthread_mutex_destroy(&d.mu);
	us_pool_destroy(&p);
}

/* A new pool, even at the same address, hands out none of the old one's
 * buffers the thread had cached. */
static void test_pool_recreated_no_stale(void)
{
	struct us_buf_pool p;
	for (int round = 0; round < 3; round++) {
		CU_ASSERT_FATAL(us_pool_init(&p, POOL_BUFS, 1514) == 0);
		struct us_buf *b[10];
		for (int i = 0; i < 10; i++)
			b[i] = us_buf_get(&p);
		for (int i = 0; i < 10; i++)
			us_buf_put(&p, b[i]);
		unsigned s = us_tslot();
		if (s < US_TSLOTS)
			CU_ASSERT(atomic_load(&p.cache[s].n) > 0);   /* cached here */
		CU_ASSERT_EQUAL(get_all(&p), POOL_BUFS);         /* all within this slab */
		us_pool_destroy(&p);
	}
}

US_SUITE(pcpu, NULL, NULL,
	 US_TEST(test_counters_threads_sum_exactly),
	 US_TEST(test_counters_survive_thread_exit),
	 US_TEST(test_pool_churn_threads),
	 US_TEST(test_pool_churn_scarce),
	 US_TEST(test_pool_scarce_live_caches),
	 US_TEST(test_pool_recreated_no_stale));
