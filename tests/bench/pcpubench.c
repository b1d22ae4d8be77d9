/*
 * pcpubench.c — what a counter increment and a buffer get+put cost, from 1
 * and from 2 threads at once, with the per-thread schemes (core/tslot.h,
 * core/buf.h) and with the ones they replaced, measured side by side in
 * one run:
 *   count  US_STAT_INC: the thread's own shard (relaxed load + store)
 *          against one atomic_fetch_add on an array every thread shares;
 *   buf    us_buf_get + us_buf_put (the thread's cache) against a get and
 *          a put under one pool mutex each (the previous buf.c, copied
 *          below as the baseline).
 * Figures only (ns per operation, wall clock over all threads' operations
 * divided by the per-thread count), no assertion: machines are shared.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "stack.h"

#define ITERS 5000000

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The replaced schemes. */
static _Atomic uint64_t old_stats[US_STAT__COUNT];
struct old_pool {
	pthread_mutex_t lock;
	struct us_buf *free;
	size_t nfree;
};
static struct old_pool oldp;

static struct us_buf *old_get(struct old_pool *p)
{
	pthread_mutex_lock(&p->lock);
	struct us_buf *b = p->free;
	if (b) {
		p->free = b->next;
		p->nfree--;
	}
	pthread_mutex_unlock(&p->lock);
	if (b) {
		b->next = NULL;
		b->data = b->mem + US_BUF_HEADROOM;
		b->len = 0;
	}
	return b;
}

static void old_put(struct old_pool *p, struct us_buf *b)
{
	pthread_mutex_lock(&p->lock);
	b->next = p->free;
	p->free = b;
	p->nfree++;
	pthread_mutex_unlock(&p->lock);
}

static struct us_stat_shard *shards;
static struct us_buf_pool pool;
static pthread_barrier_t go;

enum what { NEW_COUNT, OLD_COUNT, NEW_BUF, OLD_BUF };

static void *run(void *v)
{
	enum what w = (enum what)(uintptr_t)v;
	pthread_barrier_wait(&go);
	for (int i = 0; i < ITERS; i++) {
		switch (w) {
		case NEW_COUNT:
			us_stat_add_(shards, US_STAT_IP_RX, 1);
			break;
		case OLD_COUNT:
			atomic_fetch_add_explicit(&old_stats[US_STAT_IP_RX], 1, memory_order_relaxed);
			break;
		case NEW_BUF:
			us_buf_put(&pool, us_buf_get(&pool));
			break;
		case OLD_BUF:
			old_put(&oldp, old_get(&oldp));
			break;
		}
	}
	return NULL;
}

static double measure(enum what w, int threads)
{
	pthread_t th[2];
	pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, run, (void *)(uintptr_t)w);
	uint64_t t0 = wall_ns();
	pthread_barrier_wait(&go);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	uint64_t t1 = wall_ns();
	pthread_barrier_destroy(&go);
	return (double)(t1 - t0) / ITERS;
}

int main(void)
{
	shards = aligned_alloc(128, (US_TSLOTS + 1) * sizeof *shards);
	if (!shards || us_pool_init(&pool, 4096, 1514) < 0)
		return 1;
	/* The old pool: the new one's headers, threaded on one list. */
	pthread_mutex_init(&oldp.lock, NULL);
	static struct us_buf hdr[4096];
	static uint8_t mem[4096][256];
	for (int i = 0; i < 4096; i++) {
		hdr[i].mem = mem[i];
		hdr[i].next = oldp.free;
		oldp.free = &hdr[i];
	}
	const char *names[] = { "count new", "count old", "buf new", "buf old" };
	for (int threads = 1; threads <= 2; threads++)
		for (int w = 0; w < 4; w++) {
			double best = 1e9;
			for (int r = 0; r < 3; r++) {
				double ns = measure((enum what)w, threads);
				if (ns < best)
					best = ns;
			}
			printf("RESULT pcpubench %-9s threads=%d ns_per_op=%.2f\n", names[w], threads, best);
		}
	us_pool_destroy(&pool);
	free(shards);
	return 0;
}
