/*
 * buf.h — packet buffers and the pool they come from.
 *
 * Every buffer is carved at stack creation from one slab; getting and
 * putting one is a pointer swap, never a malloc: in the calling thread's
 * own cache of the pool (no lock, see below), or on the shared free list
 * under the pool's mutex.
 * A buffer holds one frame: data points into mem[] after a headroom large
 * enough for the Ethernet header plus an IP header with options, so layers
 * below can prepend their headers without copying.
 */
#ifndef US_BUF_H
#define US_BUF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iovec;

#define US_BUF_HEADROOM 128

struct us_buf {
	struct us_buf *next;    /* link in whatever queue owns the buffer */
	uint8_t *data;          /* first valid byte */
	size_t len;             /* valid bytes from data */
	size_t size;            /* bytes in mem[] */
	uint8_t *mem;           /* start of storage */
	/*
	 * Transmit offloads, as Linux's skb (set by IP output, used by
	 * us_netif_tx; us_buf_get clears them). csum_start != 0: the L4
	 * checksum is left to the device (CHECKSUM_PARTIAL): its header
	 * starts at mem + csum_start, the field at csum_offset from there,
	 * and the field holds the pseudo-header sum. gso_size != 0: a TCP
	 * frame the device cuts into gso_size payloads. frags: payload bytes
	 * that follow data+len, borrowed (a send ring) for the duration of
	 * the us_netif_tx call that sends them; such a buffer is never queued.
	 */
	uint16_t csum_start, csum_offset;
	uint16_t gso_size;
	uint8_t nfrags;
	const struct iovec *frags;
};

/*
 * Per-thread caches (magazines, as Bonwick's, FreeBSD's UMA buckets or
 * DPDK's mempool caches). The pool has one cache per thread slot
 * (core/tslot.h): cache k is touched only by the thread owning slot k, so
 * the common get and put are an array push or pop without a lock. An
 * empty cache is refilled, a full one half flushed, in one batch under the
 * pool lock. A thread without a slot (all US_TSLOTS taken) uses the shared
 * list under the lock for every buffer.
 *
 * The caches live in the pool, not in the thread: a pool destroyed and a
 * new one created (at the same address or not) starts with empty caches,
 * and a thread can use several pools (one per stack) at once. A thread
 * that ends leaves its cache to the next owner of its slot; until then a
 * get that finds the shared list empty borrows the ownerless slot and
 * takes its buffers back (us_tslot_borrow).
 *
 * Scarcity: cache_cap is at most US_BUF_CACHE_MAX and at most
 * total / (4 * US_TSLOTS), so every cache full together hold a quarter
 * of the pool at most (4096 buffers: 32 each; 256 buffers: 2 each). A get
 * that finds the shared list empty also sets `drain`: while it is set
 * every thread flushes its cache at its next get or put and works on the
 * shared list only, until the shared list is back to a quarter of the
 * pool. Buffers in the cache of a live thread that does not touch the
 * pool stay there meanwhile (the cap bounds them).
 */
#define US_BUF_CACHE_MAX 32

struct us_buf_cache {
	_Atomic unsigned n;             /* buffers in b[]: written by the slot's owner only,
					 * read (relaxed) by us_pool_available */
	struct us_buf *b[US_BUF_CACHE_MAX];  /* the slot's owner's (or borrower's) only */
} __attribute__((aligned(128)));

struct us_buf_pool {
	/* Fixed after us_pool_init: read without the lock. */
	size_t total;
	size_t buf_size;        /* bytes of storage per buffer, headroom included */
	struct us_buf *hdrs;    /* slab of headers */
	uint8_t *slab;          /* slab of storage */
	struct us_buf_cache *cache;     /* [US_TSLOTS], 128-byte aligned */
	unsigned cache_cap;     /* buffers a cache holds at most; 0: no caches */
	_Atomic bool drain;     /* scarce: flush caches, use the shared list (relaxed hint;
				 * set by any get, cleared under lock) */
	uint8_t pad_[64];       /* the fields above are read on every get and put: not
				 * on the lock's cache line */
	pthread_mutex_t lock;   /* protects free, nfree */
	struct us_buf *free;
	size_t nfree;
};

/* count buffers, each able to hold headroom + frame_max bytes. */
int us_pool_init(struct us_buf_pool *p, size_t count, size_t frame_max);
void us_pool_destroy(struct us_buf_pool *p);
/* A buffer with data at the headroom and len 0, or NULL when empty. */
struct us_buf *us_buf_get(struct us_buf_pool *p);
void us_buf_put(struct us_buf_pool *p, struct us_buf *b);
/* Free a whole ->next chain. */
void us_buf_put_chain(struct us_buf_pool *p, struct us_buf *b);
/* Free buffers: the shared list plus every cache. Exact when no thread is
 * getting or putting; while they are, a snapshot that may be off by the
 * buffers in transit between a cache and the list. */
size_t us_pool_available(struct us_buf_pool *p);

/* Room after data+len, and before data. */
static inline size_t us_buf_tailroom(const struct us_buf *b)
{
	return b->size - (size_t)(b->data - b->mem) - b->len;
}
static inline size_t us_buf_headroom(const struct us_buf *b)
{
	return (size_t)(b->data - b->mem);
}
/* Prepend n bytes (caller checked headroom); returns the new data. */
static inline uint8_t *us_buf_push(struct us_buf *b, size_t n)
{
	b->data -= n;
	b->len += n;
	return b->data;
}
/* Drop n bytes from the front. */
static inline uint8_t *us_buf_pull(struct us_buf *b, size_t n)
{
	b->data += n;
	b->len -= n;
	return b->data;
}

#endif
