/*
 * buf.c — the buffer pool: one slab, one shared free list under the pool
 * lock, and in front of it one cache per thread slot (buf.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tslot.h"

int us_pool_init(struct us_buf_pool *p, size_t count, size_t frame_max)
{
	p->buf_size = (US_BUF_HEADROOM + frame_max + 63) & ~(size_t)63;
	p->hdrs = calloc(count, sizeof *p->hdrs);
	p->slab = malloc(count * p->buf_size);
	p->cache = aligned_alloc(128, US_TSLOTS * sizeof *p->cache);
	if (!p->hdrs || !p->slab || !p->cache) {
		free(p->hdrs);
		free(p->slab);
		free(p->cache);
		errno = ENOMEM;
		return -1;
	}
	memset(p->cache, 0, US_TSLOTS * sizeof *p->cache);
	size_t cap = count / (4 * US_TSLOTS);
	p->cache_cap = cap < 2 ? 0 : cap > US_BUF_CACHE_MAX ? US_BUF_CACHE_MAX : (unsigned)cap;
	atomic_init(&p->drain, false);
	pthread_mutex_init(&p->lock, NULL);
	p->free = NULL;
	for (size_t i = count; i-- > 0;) {
		struct us_buf *b = &p->hdrs[i];
		b->mem = p->slab + i * p->buf_size;
		b->size = p->buf_size;
		b->next = p->free;
		p->free = b;
	}
	p->nfree = p->total = count;
	return 0;
}

void us_pool_destroy(struct us_buf_pool *p)
{
	pthread_mutex_destroy(&p->lock);
	free(p->hdrs);
	free(p->slab);
	free(p->cache);
	p->hdrs = NULL;
	p->slab = NULL;
	p->cache = NULL;
}

/* Under the lock: the shared list is full enough again for caching. */
static void drain_check(struct us_buf_pool *p)
{
	if (atomic_load_explicit(&p->drain, memory_order_relaxed) && p->nfree >= p->total / 4)
		atomic_store_explicit(&p->drain, false, memory_order_relaxed);
}

/* n buffers from b[] onto the shared list, one lock. */
static void list_put(struct us_buf_pool *p, struct us_buf **b, unsigned n)
{
	if (n == 0)
		return;
	for (unsigned i = 0; i + 1 < n; i++)
		b[i]->next = b[i + 1];
	pthread_mutex_lock(&p->lock);
	b[n - 1]->next = p->free;
	p->free = b[0];
	p->nfree += n;
	drain_check(p);
	pthread_mutex_unlock(&p->lock);
}

/* Up to n buffers from the shared list into b[], one lock; how many. */
static unsigned list_get(struct us_buf_pool *p, struct us_buf **b, unsigned n)
{
	unsigned got = 0;
	pthread_mutex_lock(&p->lock);
	while (got < n && p->free) {
		b[got++] = p->free;
		p->free = p->free->next;
	}
	p->nfree -= got;
	pthread_mutex_unlock(&p->lock);
	return got;
}

/* Everything in cache c to the shared list (c's owner or borrower). */
static void cache_flush(struct us_buf_pool *p, struct us_buf_cache *c)
{
	unsigned n = atomic_load_explicit(&c->n, memory_order_relaxed);
	atomic_store_explicit(&c->n, 0, memory_order_relaxed);
	list_put(p, c->b, n);
}

/*
 * The shared list was empty. Ask every thread to flush (drain), take back
 * what ended threads left in their caches, and try the list again.
 */
static struct us_buf *get_scarce(struct us_buf_pool *p)
{
	struct us_buf *b = NULL;
	if (!p->cache_cap)
		return NULL;
	atomic_store_explicit(&p->drain, true, memory_order_relaxed);
	for (unsigned k = 0; k < US_TSLOTS; k++) {
		struct us_buf_cache *c = &p->cache[k];
		if (atomic_load_explicit(&c->n, memory_order_relaxed) == 0 || !us_tslot_borrow(k))
			continue;
		cache_flush(p, c);
		us_tslot_unborrow(k);
	}
	list_get(p, &b, 1);
	return b;
}

/* This thread's cache of p, or NULL: no slot of its own, no caches, or
 * the pool is draining (then the cache was just flushed). */
static struct us_buf_cache *own_cache(struct us_buf_pool *p)
{
	unsigned s = us_tslot();
	if (s >= US_TSLOTS || !p->cache_cap)
		return NULL;
	struct us_buf_cache *c = &p->cache[s];
	if (atomic_load_explicit(&p->drain, memory_order_relaxed)) {
		if (atomic_load_explicit(&c->n, memory_order_relaxed))
			cache_flush(p, c);
		return NULL;
	}
	return c;
}

struct us_buf *us_buf_get(struct us_buf_pool *p)
{
	struct us_buf *b = NULL;
	struct us_buf_cache *c = own_cache(p);
	if (c) {
		unsigned n = atomic_load_explicit(&c->n, memory_order_relaxed);
		if (n == 0)
			n = list_get(p, c->b, p->cache_cap / 2);
		if (n) {
			b = c->b[--n];
			atomic_store_explicit(&c->n, n, memory_order_relaxed);
		}
	} else {
		list_get(p, &b, 1);
	}
	if (!b && !(b = get_scarce(p)))
		return NULL;
	b->next = NULL;
	b->data = b->mem + US_BUF_HEADROOM;
	b->len = 0;
	b->csum_start = b->csum_offset = b->gso_size = 0;
	b->nfrags = 0;
	b->frags = NULL;
	return b;
}

void us_buf_put(struct us_buf_pool *p, struct us_buf *b)
{
	if (!b)
		return;
	struct us_buf_cache *c = own_cache(p);
	if (!c) {
		list_put(p, &b, 1);
		return;
	}
	unsigned n = atomic_load_explicit(&c->n, memory_order_relaxed);
	if (n == p->cache_cap) {
		/* Full: the older half (least recently touched) goes. */
		unsigned h = n / 2;
		list_put(p, c->b, h);
		memmove(c->b, c->b + h, (n - h) * sizeof c->b[0]);
		n -= h;
	}
	c->b[n++] = b;
	atomic_store_explicit(&c->n, n, memory_order_relaxed);
}

void us_buf_put_chain(struct us_buf_pool *p, struct us_buf *b)
{
	while (b) {
		struct us_buf *n = b->next;
		us_buf_put(p, b);
		b = n;
	}
}

size_t us_pool_available(struct us_buf_pool *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->nfree;
	pthread_mutex_unlock(&p->lock);
	for (unsigned k = 0; p->cache_cap && k < US_TSLOTS; k++)
		n += atomic_load_explicit(&p->cache[k].n, memory_order_relaxed);
	return n;
}
